/*
 * Per-thread seccomp filters (libseccomp). Once the VM is built, each thread
 * confines itself before it runs guest-driven work, with an allow-list of
 * what that thread does from then on; anything else traps (SIGSYS), and the
 * handler says which thread made which system call and ends the process
 * with SECCOMP_EXIT_STATUS. The lists, thread by thread, are in seccomp.c
 * and the README.
 *
 * Threads: seccomp_prepare on the main thread before any other thread
 * exists; each seccomp_confine_* on the thread it confines (a filter is the
 * calling thread's, and threads it creates later inherit it).
 */
#ifndef KESTREL_SECCOMP_H
#define KESTREL_SECCOMP_H

/* Firecracker's exit status for a system call its filters refused (BadSyscall). */
#define SECCOMP_EXIT_STATUS 148

/*
 * Installs the SIGSYS handler (process-wide) and reads the test-only hook
 * KESTREL_TEST_SECCOMP_TRIP=vcpu|loop|main: that thread makes a system call
 * outside its list right after confining itself. 0 or -errno.
 */
int seccomp_prepare(void);

/* vCPU: KVM_RUN (and the register dump of a failure) on its own fd, MSIs on the VM's. */
int seccomp_confine_vcpu(const char *name, int vcpu_fd, int vm_fd);

/* The event loop: io_uring_enter on its ring, MSIs, closing and half-closing sockets. */
int seccomp_confine_loop(int ring_fd);

/* Main thread, after the vCPU threads exist: opening drive images (PATCH /drives), exit work. */
int seccomp_confine_main(void);

#endif

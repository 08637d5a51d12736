#include "vmm/seccomp.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/kvm.h>
#include <seccomp.h>
#include <signal.h>
#include <stdint.h>
#include <ucontext.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define KESTREL_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define KESTREL_SANITIZED 1
#endif
#endif
#ifndef KESTREL_SANITIZED
#define KESTREL_SANITIZED 0
#endif

/* The name the SIGSYS handler prints: set when a thread confines itself. */
static __thread char thread_name[24] = "unconfined";
static char trip[8]; /* KESTREL_TEST_SECCOMP_TRIP, read once by seccomp_prepare */

/* Async-signal-safe: the trapped call may have been made inside malloc or stdio. */
static void put_strn(char *buf, size_t *n, size_t cap, const char *s, size_t max)
{
	for (size_t k = 0; k < max && s[k] && *n < cap; k++)
		buf[(*n)++] = s[k];
}

static void put_str(char *buf, size_t *n, size_t cap, const char *s)
{
	put_strn(buf, n, cap, s, cap);
}

static void put_uint(char *buf, size_t *n, size_t cap, unsigned long long v, unsigned base)
{
	char digits[24];
	int k = 0;
	do {
		digits[k++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v);
	while (k && *n < cap)
		buf[(*n)++] = digits[--k];
}

static void on_sigsys(int sig, siginfo_t *si, void *ucv)
{
	(void)sig;
	char msg[512];
	size_t n = 0;
	const ucontext_t *uc = ucv;
	const greg_t *r = uc->uc_mcontext.gregs;
	/* The call's first three arguments, as the kernel got them. */
	unsigned long long a[3] = {(unsigned long long)r[REG_RDI], (unsigned long long)r[REG_RSI],
				   (unsigned long long)r[REG_RDX]};
	put_str(msg, &n, sizeof(msg), "kestrel: seccomp: the ");
	put_str(msg, &n, sizeof(msg), thread_name);
	put_str(msg, &n, sizeof(msg), " thread made system call ");
	put_uint(msg, &n, sizeof(msg), (unsigned)si->si_syscall, 10);
	put_str(msg, &n, sizeof(msg), " (");
	for (int i = 0; i < 3; i++) {
		put_str(msg, &n, sizeof(msg), i ? ", 0x" : "0x");
		put_uint(msg, &n, sizeof(msg), a[i], 16);
	}
	put_str(msg, &n, sizeof(msg), ")");
	if (si->si_syscall == SYS_openat && a[1]) {
		/* The path is this process's own memory: say which file it wanted. */
		put_str(msg, &n, sizeof(msg), " on '");
		put_strn(msg, &n, sizeof(msg), (const char *)(uintptr_t)a[1], 127);
		put_str(msg, &n, sizeof(msg), "'");
	}
	put_str(msg, &n, sizeof(msg), ", which its filter does not allow; exiting with status ");
	put_uint(msg, &n, sizeof(msg), SECCOMP_EXIT_STATUS, 10);
	put_str(msg, &n, sizeof(msg), "\n");
	if (write(STDERR_FILENO, msg, n) < 0) {
		/* Nothing more to do: the status says it. */
	}
	/* Not _exit: a sanitizer's interceptor of it may make calls of its own. */
	syscall(SYS_exit_group, SECCOMP_EXIT_STATUS);
}

int seccomp_prepare(void)
{
	const char *t = getenv("KESTREL_TEST_SECCOMP_TRIP");
	if (t) {
		strncpy(trip, t, sizeof(trip) - 1);
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sigsys;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	return sigaction(SIGSYS, &sa, NULL) < 0 ? -errno : 0;
}

/* A comparison with every field set (libseccomp's SCMP_A* macros leave some to the compiler). */
static struct scmp_arg_cmp arg(unsigned int n, enum scmp_compare op, scmp_datum_t a, scmp_datum_t b)
{
	struct scmp_arg_cmp c = {.arg = n, .op = op, .datum_a = a, .datum_b = b};
	return c;
}

static int allow(scmp_filter_ctx ctx, int nr)
{
	return seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
}

/* Allows every call in nrs[0..count), whatever its arguments. */
static int allow_list(scmp_filter_ctx ctx, const int *nrs, size_t count)
{
	int ret = 0;
	for (size_t i = 0; i < count && !ret; i++)
		ret = allow(ctx, nrs[i]);
	return ret;
}

/*
 * What every thread does once confined: locks (futex), memory (never
 * executable: mmap and mprotect without PROT_EXEC), messages on stderr and
 * the log file (write), eventfd kicks (write), clocks and sleeps, signalling
 * its own process's threads (pthread_kill, abort), thread exit.
 */
static int allow_common(scmp_filter_ctx ctx)
{
	static const int nrs[] = {
		SCMP_SYS(futex), SCMP_SYS(write), SCMP_SYS(writev), SCMP_SYS(exit),
		SCMP_SYS(exit_group), SCMP_SYS(rt_sigreturn), SCMP_SYS(rt_sigprocmask),
		SCMP_SYS(restart_syscall), SCMP_SYS(madvise), SCMP_SYS(munmap), SCMP_SYS(mremap),
		SCMP_SYS(brk), SCMP_SYS(clock_gettime), SCMP_SYS(clock_nanosleep),
		SCMP_SYS(nanosleep), SCMP_SYS(gettid), SCMP_SYS(getpid), SCMP_SYS(sched_yield),
	};
	int ret = allow_list(ctx, nrs, sizeof(nrs) / sizeof(nrs[0]));
#if KESTREL_SANITIZED
	/* The sanitizer runtimes (tests only) take down each thread's alternate signal stack. */
	if (!ret)
		ret = allow(ctx, SCMP_SYS(sigaltstack));
#endif
	if (!ret)
		ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mmap), 1,
				       arg(2, SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
	if (!ret)
		ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mprotect), 1,
				       arg(2, SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
	if (!ret)
		ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(tgkill), 1,
				       arg(0, SCMP_CMP_EQ, (scmp_datum_t)getpid(), 0));
	return ret;
}

/*
 * vCPU and loop threads open nothing, but glibc does on their behalf now
 * and then: malloc reads /proc/sys/vm/overcommit_memory the first time it
 * shrinks a thread's arena (the crash tests' write log got the loop there),
 * and copes when it cannot. So openat fails with EACCES on those threads
 * instead of ending kestrel; nothing is opened either way.
 */
static int refuse_open(scmp_filter_ctx ctx)
{
	return seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EACCES), SCMP_SYS(openat), 0);
}

static int allow_ioctl(scmp_filter_ctx ctx, int fd, unsigned long req)
{
	if (fd < 0)
		return seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
					arg(1, SCMP_CMP_EQ, (scmp_datum_t)req, 0));
	return seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 2,
				arg(0, SCMP_CMP_EQ, (scmp_datum_t)fd, 0),
				arg(1, SCMP_CMP_EQ, (scmp_datum_t)req, 0));
}

/* Loads ctx on this thread (and releases it); then the test hook, if it names this thread. */
static int load(scmp_filter_ctx ctx, int ret, const char *kind, const char *name)
{
	if (!ret)
		ret = seccomp_load(ctx);
	seccomp_release(ctx);
	if (ret)
		return ret;
	strncpy(thread_name, name, sizeof(thread_name) - 1);
	if (trip[0] && !strcmp(trip, kind))
		syscall(SYS_getppid); /* on no thread's list */
	return 0;
}

int seccomp_confine_vcpu(const char *name, int vcpu_fd, int vm_fd)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_TRAP);
	if (!ctx)
		return -ENOMEM;
	int ret = allow_common(ctx);
	static const unsigned long vcpu_reqs[] = {KVM_RUN, KVM_GET_REGS, KVM_GET_SREGS};
	for (unsigned i = 0; i < sizeof(vcpu_reqs) / sizeof(vcpu_reqs[0]) && !ret; i++)
		ret = allow_ioctl(ctx, vcpu_fd, vcpu_reqs[i]);
	if (!ret) /* AHCI register writes raise its MSI */
		ret = allow_ioctl(ctx, vm_fd, KVM_SIGNAL_MSI);
	if (!ret)
		ret = refuse_open(ctx);
	return load(ctx, ret, "vcpu", name);
}

int seccomp_confine_loop(int ring_fd)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_TRAP);
	if (!ctx)
		return -ENOMEM;
	int ret = allow_common(ctx);
	if (!ret)
		ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(io_uring_enter), 1,
				       arg(0, SCMP_CMP_EQ, (scmp_datum_t)ring_fd, 0));
	if (!ret) /* AHCI completions; the VM's fd is not known yet when the API starts the loop */
		ret = allow_ioctl(ctx, -1, KVM_SIGNAL_MSI);
	if (!ret) /* API connections */
		ret = allow(ctx, SCMP_SYS(close));
	if (!ret)
		ret = allow(ctx, SCMP_SYS(shutdown));
	/*
	 * vsock: a guest's connection to the host is an AF_UNIX stream socket
	 * of exactly this kind, connected without waiting, then made blocking
	 * for the ring's recv and send.
	 */
	if (!ret)
		ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 3,
				       arg(0, SCMP_CMP_EQ, AF_UNIX, 0),
				       arg(1, SCMP_CMP_EQ, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0),
				       arg(2, SCMP_CMP_EQ, 0, 0));
	if (!ret)
		ret = allow(ctx, SCMP_SYS(connect));
	if (!ret)
		ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(fcntl), 1,
				       arg(1, SCMP_CMP_EQ, F_SETFL, 0));
	if (!ret)
		ret = refuse_open(ctx);
	return load(ctx, ret, "loop", "event loop");
}

int seccomp_confine_main(void)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_TRAP);
	if (!ctx)
		return -ENOMEM;
	int ret = allow_common(ctx);
	/*
	 * PATCH /drives opens an image that exists (never O_CREAT), checks and
	 * locks it, probes its O_DIRECT block; exit flushes disks and the write
	 * log, prints --stats (getrusage, mincore), restores the
	 * terminal and removes the API socket.
	 */
	static const int nrs[] = {
		SCMP_SYS(close), SCMP_SYS(read), SCMP_SYS(pread64), SCMP_SYS(pwrite64),
		SCMP_SYS(lseek), SCMP_SYS(fstat), SCMP_SYS(newfstatat), SCMP_SYS(statx),
		SCMP_SYS(flock), SCMP_SYS(fdatasync), SCMP_SYS(fsync), SCMP_SYS(mincore),
		SCMP_SYS(unlink), SCMP_SYS(unlinkat), SCMP_SYS(getrusage),
	};
	if (!ret)
		ret = allow_list(ctx, nrs, sizeof(nrs) / sizeof(nrs[0]));
	if (!ret)
		ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(openat), 1,
				       arg(2, SCMP_CMP_MASKED_EQ, O_CREAT | __O_TMPFILE, 0));
	static const int fcntls[] = {F_GETFD, F_SETFD, F_GETFL, F_SETFL, F_OFD_SETLK, F_OFD_GETLK};
	for (unsigned i = 0; i < sizeof(fcntls) / sizeof(fcntls[0]) && !ret; i++)
		ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(fcntl), 1,
				       arg(1, SCMP_CMP_EQ, (scmp_datum_t)fcntls[i], 0));
	static const unsigned long reqs[] = {BLKGETSIZE64, TCGETS, TCSETS, TCSETSW, TCSETSF};
	for (unsigned i = 0; i < sizeof(reqs) / sizeof(reqs[0]) && !ret; i++)
		ret = allow_ioctl(ctx, -1, reqs[i]);
	return load(ctx, ret, "main", "main");
}

/*
 * The per-thread seccomp filters and the ring's restrictions, on this host
 * (no KVM needed): each check runs in a child process that confines itself
 * as one of kestrel's threads and then makes a call; an allowed call must
 * work, a refused one must end the child with status 148 and a message
 * naming the thread and the system call.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vmm/loop.h"
#include "tests/unit/child.h"
#include "vmm/seccomp.h"

/* The child first installs the SIGSYS handler, as kestrel does before any filter. */
struct body {
	int (*fn)(void);
};

static int prepared(void *arg)
{
	if (seccomp_prepare())
		return 99;
	return ((const struct body *)arg)->fn();
}

static struct outcome run_child(int (*fn)(void))
{
	struct body b = {fn};
	return child_run(prepared, &b);
}

static void expect_trap(struct outcome o, const char *thread, long nr)
{
	char want[128];
	snprintf(want, sizeof(want), "the %s thread made system call %ld (", thread, nr);
	cr_expect_eq(o.status, SECCOMP_EXIT_STATUS, "exit status %d (stderr: %s)", o.status, o.msg);
	cr_expect(strstr(o.msg, want), "stderr names the thread and the call: %s", o.msg);
}

static int fd_for_loop = -1;

/* Loop: allowed calls work; the child exits 0 only if they all did. */
static int loop_allowed(void)
{
	int p[2];
	if (pipe(p))
		return 10;
	if (seccomp_confine_loop(fd_for_loop))
		return 11;
	void *m = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return 12;
	memset(m, 1, 1 << 20);
	munmap(m, 1 << 20);
	free(malloc(1 << 16));
	if (write(p[1], "x", 1) != 1)
		return 13;
	close(p[1]);
	if (shutdown(p[0], SHUT_RDWR) == 0 || errno != ENOTSOCK)
		return 14;
	/* vsock: the guest's connection to <uds_path>_<port>, to a listener that is not there. */
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s < 0)
		return 15;
	struct sockaddr_un addr = {.sun_family = AF_UNIX, .sun_path = "/nonexistent/v.sock_52"};
	if (connect(s, (struct sockaddr *)&addr, sizeof(addr)) == 0 || errno != ENOENT)
		return 16;
	if (fcntl(s, F_SETFL, O_RDWR) < 0)
		return 17;
	close(s);
	return 0;
}

Test(seccomp, the_loop_filter_lets_the_loop_do_its_work)
{
	struct outcome o = run_child(loop_allowed);
	cr_expect_eq(o.status, 0, "status %d: %s", o.status, o.msg);
}

/* A confined loop thread whose frees shrink the heap (glibc once opened a /proc file then). */
static void *churn(void *arg)
{
	(void)arg;
	if (seccomp_confine_loop(fd_for_loop))
		return (void *)1;
	for (int round = 0; round < 4; round++) {
		static void *p[256];
		for (int i = 0; i < 256; i++)
			memset(p[i] = malloc(100 << 10), 1, 100 << 10); /* under the mmap threshold */
		for (int i = 0; i < 256; i++)
			free(p[i]);
	}
	return NULL;
}

static int loop_thread_frees(void)
{
	pthread_t t;
	void *res = (void *)2;
	if (pthread_create(&t, NULL, churn, NULL) || pthread_join(t, &res))
		return 10;
	return res ? 11 : 0;
}

Test(seccomp, a_confined_thread_may_free_what_it_allocated)
{
	struct outcome o = run_child(loop_thread_frees);
	cr_expect_eq(o.status, 0, "status %d: %s", o.status, o.msg);
}

/* An open fails (glibc's own lazy opens cope with that) and opens nothing. */
static int loop_opens(void)
{
	if (seccomp_confine_loop(fd_for_loop))
		return 11;
	return open("/etc/hostname", O_RDONLY) < 0 && errno == EACCES ? 0 : 12;
}

static int vcpu_opens(void)
{
	if (seccomp_confine_vcpu("fc_vcpu 3", 1000, -1))
		return 11;
	return open("/etc/hostname", O_RDONLY) < 0 && errno == EACCES ? 0 : 12;
}

Test(seccomp, an_open_on_the_loop_or_a_vcpu_fails_with_eacces)
{
	struct outcome o = run_child(loop_opens);
	cr_expect_eq(o.status, 0, "loop: status %d: %s", o.status, o.msg);
	o = run_child(vcpu_opens);
	cr_expect_eq(o.status, 0, "vCPU: status %d: %s", o.status, o.msg);
}

static int loop_socket(void)
{
	if (seccomp_confine_loop(fd_for_loop))
		return 11;
	socket(AF_INET, SOCK_STREAM, 0);
	return 0;
}

/* The AF_UNIX socket vsock makes, but blocking: not the one its filter allows. */
static int loop_blocking_unix_socket(void)
{
	if (seccomp_confine_loop(fd_for_loop))
		return 11;
	socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	return 0;
}

static int loop_maps_exec(void)
{
	if (seccomp_confine_loop(fd_for_loop))
		return 11;
	mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return 0;
}

static int loop_enters_another_ring(void)
{
	if (seccomp_confine_loop(fd_for_loop))
		return 11;
	syscall(__NR_io_uring_enter, fd_for_loop + 1, 0, 0, 0, NULL, 0);
	return 0;
}

Test(seccomp, the_loop_cannot_make_sockets_map_code_or_use_another_ring)
{
	fd_for_loop = 1000;
	expect_trap(run_child(loop_socket), "event loop", SYS_socket);
	expect_trap(run_child(loop_blocking_unix_socket), "event loop", SYS_socket);
	expect_trap(run_child(loop_maps_exec), "event loop", SYS_mmap);
	expect_trap(run_child(loop_enters_another_ring), "event loop", SYS_io_uring_enter);
}

static int own_fd = -1, other_fd = -1;

static int vcpu_runs_own(void)
{
	if (seccomp_confine_vcpu("fc_vcpu 3", own_fd, -1))
		return 11;
	/* Not a vCPU fd, so the kernel refuses it; the point is that seccomp let it through. */
	if (ioctl(own_fd, KVM_RUN, 0) == 0 || errno != ENOTTY)
		return 12;
	return 0;
}

static int vcpu_runs_other(void)
{
	if (seccomp_confine_vcpu("fc_vcpu 3", own_fd, -1))
		return 11;
	ioctl(other_fd, KVM_RUN, 0);
	return 0;
}

static int vcpu_other_ioctl(void)
{
	if (seccomp_confine_vcpu("fc_vcpu 3", own_fd, -1))
		return 11;
	ioctl(own_fd, KVM_SET_REGS, NULL);
	return 0;
}

Test(seccomp, a_vcpu_runs_only_its_own_fd_with_its_own_ioctls)
{
	int p[2];
	cr_assert_eq(pipe(p), 0);
	own_fd = p[0];
	other_fd = p[1];
	struct outcome o = run_child(vcpu_runs_own);
	cr_expect_eq(o.status, 0, "status %d: %s", o.status, o.msg);
	expect_trap(run_child(vcpu_runs_other), "fc_vcpu 3", SYS_ioctl);
	expect_trap(run_child(vcpu_other_ioctl), "fc_vcpu 3", SYS_ioctl);
	close(p[0]);
	close(p[1]);
}

static char tmp_path[64];

static int main_opens_existing(void)
{
	if (seccomp_confine_main())
		return 11;
	int fd = open(tmp_path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return 12;
	struct flock fl = {.l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1};
	if (fcntl(fd, F_OFD_SETLK, &fl) < 0)
		return 13;
	char b[4];
	if (pread(fd, b, sizeof(b), 0) < 0 || fdatasync(fd) < 0)
		return 14;
	close(fd);
	FILE *f = fopen("/proc/self/status", "r"); /* --stats */
	if (!f)
		return 15;
	fclose(f);
	return 0;
}

static int main_creates(void)
{
	if (seccomp_confine_main())
		return 11;
	open("/tmp/kestrel-seccomp-should-not-exist", O_WRONLY | O_CREAT, 0600);
	return 0;
}

static int main_execs(void)
{
	if (seccomp_confine_main())
		return 11;
	execl("/bin/true", "true", (char *)NULL);
	return 0;
}

static int main_clones(void)
{
	if (seccomp_confine_main())
		return 11;
	fork();
	return 0;
}

Test(seccomp, main_opens_images_that_exist_but_creates_execs_and_forks_nothing)
{
	strcpy(tmp_path, "/tmp/kestrel-seccomp-XXXXXX");
	int fd = mkstemp(tmp_path);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, "data", 4), 4);
	close(fd);
	struct outcome o = run_child(main_opens_existing);
	cr_expect_eq(o.status, 0, "status %d: %s", o.status, o.msg);
	struct outcome created = run_child(main_creates);
	expect_trap(created, "main", SYS_openat);
	cr_expect(strstr(created.msg, "on '/tmp/kestrel-seccomp-should-not-exist'"),
		  "an openat names its path: %s", created.msg);
	cr_expect_neq(access("/tmp/kestrel-seccomp-should-not-exist", F_OK), 0);
	expect_trap(run_child(main_execs), "main", SYS_execve);
	struct outcome c = run_child(main_clones);
	cr_expect_eq(c.status, SECCOMP_EXIT_STATUS, "fork: status %d (%s)", c.status, c.msg);
	unlink(tmp_path);
}

static int tripped(void)
{
	if (seccomp_confine_main())
		return 11;
	return 0; /* the hook trips inside seccomp_confine_main */
}

Test(seccomp, the_test_hook_trips_the_named_thread_only)
{
	setenv("KESTREL_TEST_SECCOMP_TRIP", "main", 1);
	expect_trap(run_child(tripped), "main", SYS_getppid);
	setenv("KESTREL_TEST_SECCOMP_TRIP", "loop", 1);
	struct outcome o = run_child(tripped);
	cr_expect_eq(o.status, 0, "a hook naming another thread leaves main alone: %d", o.status);
	unsetenv("KESTREL_TEST_SECCOMP_TRIP");
}

/* The ring: kestrel's own operations go through, anything else is refused. */
Test(seccomp, the_restricted_ring_refuses_operations_kestrel_does_not_use)
{
	struct loop l;
	cr_assert_eq(loop_init(&l, 8), 0);
	cr_assert(l.enable_on_start, "the ring is created disabled");
	cr_assert_eq(loop_restrict(&l), 0);
	cr_assert_geq(syscall(__NR_io_uring_register, l.ring.ring_fd, IORING_REGISTER_ENABLE_RINGS,
			      NULL, 0), 0);
	int p[2];
	cr_assert_eq(pipe(p), 0);
	cr_assert_eq(write(p[1], "ab", 2), 2);
	char buf[2];
	/*
	 * One at a time: the kernel stops a submission at the first SQE it
	 * refuses (and completes that one with -EACCES).
	 */
	int res[4] = {0};
	for (int i = 1; i <= 3; i++) {
		struct io_uring_sqe *sqe = io_uring_get_sqe(&l.ring);
		if (i == 2)
			io_uring_prep_openat(sqe, AT_FDCWD, "/etc/hostname", O_RDONLY, 0);
		else
			io_uring_prep_read(sqe, p[0], buf, 1, 0);
		if (i == 3)
			sqe->flags |= IOSQE_ASYNC; /* kestrel sets no SQE flags */
		io_uring_submit(&l.ring);
		struct io_uring_cqe *cqe;
		cr_assert_eq(io_uring_wait_cqe(&l.ring, &cqe), 0);
		res[i] = cqe->res;
		io_uring_cqe_seen(&l.ring, cqe);
	}
	cr_expect_eq(res[1], 1, "a read goes through (%d)", res[1]);
	cr_expect_eq(res[2], -EACCES, "an openat is refused (%d)", res[2]);
	cr_expect_eq(res[3], -EACCES, "an SQE flag is refused (%d)", res[3]);
	/* And no more registrations once enabled. */
	cr_expect_lt(syscall(__NR_io_uring_register, l.ring.ring_fd, IORING_REGISTER_PROBE, NULL, 0), 0);
	close(p[0]);
	close(p[1]);
	loop_destroy(&l);
}

/*
 * The jail's steps on this host (no KVM needed), each in a child process:
 * after jail_enter the child checks from the inside what a guest that broke
 * into kestrel would find — its root, its credentials, every capability
 * set, no_new_privs, the environment and the rlimits — and reports the
 * first check that failed. Needs root, as the jail does: as another user
 * the tests are reported skipped, with the reason.
 */
#include <criterion/criterion.h>
#include <grp.h>
#include <cap-ng.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/unit/child.h"
#include "vmm/jail.h"

#define UID 4242
#define GID 4243

static void need_root(void)
{
	if (geteuid() != 0)
		cr_skip_test("the jail needs root; run the unit tests as root to check it");
}

/* A fresh directory holding a marker file, writable by the jail's uid. */
static char *make_jail_dir(void)
{
	static char dir[] = "/tmp/kestrel-jail-XXXXXX";
	strcpy(dir + strlen(dir) - 6, "XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	char marker[128];
	snprintf(marker, sizeof(marker), "%s/marker", dir);
	int fd = open(marker, O_WRONLY | O_CREAT, 0644);
	cr_assert_geq(fd, 0);
	close(fd);
	cr_assert_eq(chown(dir, UID, GID), 0);
	return dir;
}

static void remove_jail_dir(const char *dir)
{
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	cr_assert_eq(system(cmd), 0);
}

/* In a fresh jail directory (as root), body's report: "ok", or the check that failed. */
static struct outcome run_in_new_dir(int (*body)(void *dir), char **dir)
{
	need_root();
	*dir = make_jail_dir();
	return child_run(body, *dir);
}

/* The child passed every check. */
static void expect_ok(const struct outcome *r)
{
	cr_expect_eq(r->status, 0, "%s", r->msg);
	cr_expect_str_eq(r->msg, "ok");
}

#define CHECK(cond, ...)                                                                           \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			dprintf(STDERR_FILENO, __VA_ARGS__);                                                 \
			return 1;                                                                  \
		}                                                                                  \
	} while (0)

static int jailed_checks(void *arg)
{
	const char *dir = arg;
	setenv("KESTREL_JAIL_TEST_SECRET", "host", 1);
	gid_t groups[] = {27, 100}; /* as a launcher's user in sudo and users would have */
	CHECK(setgroups(2, groups) == 0, "setgroups: %s", strerror(errno));
	struct jail_config j = {.dir = dir, .uid = UID, .gid = GID, .nofile = 100, .fsize = 1 << 20};
	char err[512];
	CHECK(jail_enter(&j, err, sizeof(err)) == 0, "jail_enter: %s", err);

	/* The root is the directory, and nothing of the host's is left in sight. */
	CHECK(access("/marker", F_OK) == 0, "/marker is not there: the root is not %s", dir);
	CHECK(access(dir, F_OK) != 0, "the host path %s is still reachable", dir);
	CHECK(access("/etc/passwd", F_OK) != 0 && access("/proc/self", F_OK) != 0,
	      "the host's /etc or /proc is still reachable");
	CHECK(chdir("..") == 0 && access("marker", F_OK) == 0, "'..' of the root leads out");

	uid_t ru, eu, su;
	gid_t rg, eg, sg;
	CHECK(getresuid(&ru, &eu, &su) == 0 && ru == UID && eu == UID && su == UID,
	      "uids %u %u %u, want %u", ru, eu, su, UID);
	CHECK(getresgid(&rg, &eg, &sg) == 0 && rg == GID && eg == GID && sg == GID,
	      "gids %u %u %u, want %u", rg, eg, sg, GID);
	CHECK(getgroups(0, NULL) == 0, "%d supplementary groups are left", getgroups(0, NULL));

	/* Every capability set empty: effective, permitted, inheritable, bounding, ambient. */
	capng_get_caps_process();
	CHECK(capng_have_capabilities(CAPNG_SELECT_CAPS) == CAPNG_NONE, "capabilities are left");
	for (int cap = 0; cap <= CAP_LAST_CAP; cap++) {
		CHECK(prctl(PR_CAPBSET_READ, cap, 0, 0, 0) != 1, "capability %d is in the bounding set",
		      cap);
		CHECK(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, cap, 0, 0) != 1,
		      "capability %d is ambient", cap);
	}
	CHECK(prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1, "no_new_privs is not set");
	CHECK(getenv("KESTREL_JAIL_TEST_SECRET") == NULL, "the environment was kept");

	struct rlimit rl;
	CHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur == 100 && rl.rlim_max == 100,
	      "RLIMIT_NOFILE is %llu/%llu, want 100", (unsigned long long)rl.rlim_cur,
	      (unsigned long long)rl.rlim_max);
	/* fsize: a write past the limit fails (EFBIG) instead of killing the process. */
	int fd = open("/big", O_WRONLY | O_CREAT, 0600);
	CHECK(fd >= 0, "cannot create a file in the jail as uid %u: %s", UID, strerror(errno));
	char byte = 1;
	CHECK(pwrite(fd, &byte, 1, (1 << 20) - 1) == 1, "a write below fsize failed");
	errno = 0;
	CHECK(pwrite(fd, &byte, 1, 1 << 20) < 0 && errno == EFBIG,
	      "a write past fsize did not fail with EFBIG (%s)", strerror(errno));
	close(fd);
	dprintf(STDERR_FILENO, "ok");
	return 0;
}

Test(jail, inside_the_jail_there_is_only_the_directory_and_no_privilege)
{
	char *dir;
	struct outcome r = run_in_new_dir(jailed_checks, &dir);
	expect_ok(&r);
	/* What the jailed process made is in the directory, as the host sees it. */
	char big[128];
	struct stat st;
	snprintf(big, sizeof(big), "%s/big", dir);
	cr_expect(stat(big, &st) == 0 && st.st_uid == UID && st.st_size == 1 << 20,
		  "the jail's file is not %s, owned by %u, 1 MiB", big, UID);
	remove_jail_dir(dir);
}

/* The child keeps every capability but CAP_SYS_ADMIN: jail_check must refuse, naming it. */
static int check_without_sys_admin(void *arg)
{
	capng_get_caps_process();
	capng_update(CAPNG_DROP, CAPNG_EFFECTIVE | CAPNG_PERMITTED, CAP_SYS_ADMIN);
	if (capng_apply(CAPNG_SELECT_CAPS))
		return 2;
	struct jail_config j = {.dir = arg, .uid = UID, .gid = GID, .nofile = 100};
	char err[512];
	CHECK(jail_check(&j, err, sizeof(err)) != 0, "jail_check accepted a process without CAP_SYS_ADMIN");
	dprintf(STDERR_FILENO, "%s", err);
	return 0;
}

Test(jail, without_root_the_jail_is_refused_naming_what_is_missing)
{
	char *dir;
	struct outcome r = run_in_new_dir(check_without_sys_admin, &dir);
	cr_expect_eq(r.status, 0, "%s", r.msg);
	cr_expect(strstr(r.msg, "needs root") && strstr(r.msg, "CAP_SYS_ADMIN"), "%s", r.msg);
	remove_jail_dir(dir);
}

/* jail_check closes what a launcher leaked. */
static int check_closes_inherited(void *arg)
{
	int leaked = open("/dev/null", O_RDONLY); /* no O_CLOEXEC: as a careless launcher's */
	struct jail_config j = {.dir = arg, .uid = UID, .gid = GID, .nofile = 100};
	char err[512];
	CHECK(leaked > 2, "no descriptor to leak");
	CHECK(jail_check(&j, err, sizeof(err)) == 0, "jail_check: %s", err);
	CHECK(fcntl(leaked, F_GETFD) < 0 && errno == EBADF, "descriptor %d is still open", leaked);
	dprintf(STDERR_FILENO, "ok");
	return 0;
}

Test(jail, inherited_descriptors_are_closed)
{
	need_root();
	struct outcome r = child_run(check_closes_inherited, "/tmp"); /* any directory will do */
	expect_ok(&r);
}

/*
 * --new-pid-ns: the child is PID 1 of its namespace, a SIGTERM sent to the
 * parent reaches it (PID 1 would drop it without a handler), and the
 * parent returns the child's exit status.
 */
static int pid_ns_child(int out)
{
	int status;
	char err[512];
	int ret = jail_new_pid_ns(&status, err, sizeof(err));
	if (ret < 0) {
		dprintf(out, "jail_new_pid_ns: %s", err);
		return 1;
	}
	if (ret == 0) {
		if (getpid() != 1)
			_exit(3);
		sigset_t set;
		sigemptyset(&set);
		sigaddset(&set, SIGTERM);
		sigprocmask(SIG_BLOCK, &set, NULL); /* as vm_prepare does, for its signalfd */
		dprintf(out, "ready");
		int sig = 0;
		sigwait(&set, &sig);
		_exit(sig == SIGTERM ? 42 : 4);
	}
	dprintf(out, " status=%d", status);
	return status == 42 ? 0 : 1;
}

static int pid_ns_parent(void *arg)
{
	(void)arg;
	int p[2];
	if (pipe(p))
		return 5;
	pid_t pid = fork();
	if (pid == 0) {
		close(p[0]);
		_exit(pid_ns_child(p[1]));
	}
	close(p[1]);
	char buf[256] = {0};
	ssize_t n = read(p[0], buf, 5); /* "ready": the PID-1 child waits for its signal */
	if (n != 5 || strncmp(buf, "ready", 5)) {
		dprintf(STDERR_FILENO, "the child said '%.*s'", (int)(n > 0 ? n : 0), buf);
		kill(pid, SIGKILL);
		return 1;
	}
	kill(pid, SIGTERM); /* to the parent, outside the namespace, as a user would */
	n = read(p[0], buf, sizeof(buf) - 1);
	int ws;
	waitpid(pid, &ws, 0);
	dprintf(STDERR_FILENO, "%s exit=%d", n > 0 ? buf : "", WIFEXITED(ws) ? WEXITSTATUS(ws) : -1);
	return WIFEXITED(ws) && WEXITSTATUS(ws) == 0 ? 0 : 1;
}

Test(jail, a_new_pid_namespace_gets_the_signals_and_gives_back_the_exit_status, .timeout = 30)
{
	need_root();
	struct outcome r = child_run(pid_ns_parent, NULL);
	cr_expect_eq(r.status, 0, "%s", r.msg);
	cr_expect(strstr(r.msg, "status=42"), "%s", r.msg);
}

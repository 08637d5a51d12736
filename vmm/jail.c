#include "vmm/jail.h"

#include <cap-ng.h>
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

__attribute__((format(printf, 3, 4)))
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	int e = errno;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	if (n >= 0 && (size_t)n < errlen)
		snprintf(err + n, errlen - (size_t)n, ": %s", strerror(e));
	return -1;
}

/* Descriptors a launcher leaked to us would otherwise follow kestrel into the jail. */
static void close_inherited(void)
{
	if (close_range(3, ~0u, 0) == 0)
		return;
	struct rlimit rl;
	long max = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY
		? (long)rl.rlim_cur : 65536;
	for (long fd = 3; fd < max; fd++)
		close((int)fd);
}

int jail_check(const struct jail_config *j, char *err, size_t errlen)
{
	close_inherited();
	/* The mount namespace, pivot_root, setresuid/gid and the bounding set. */
	static const struct {
		unsigned int cap;
		const char *name;
	} needed[] = {{CAP_SYS_ADMIN, "CAP_SYS_ADMIN"}, {CAP_SETUID, "CAP_SETUID"},
		      {CAP_SETGID, "CAP_SETGID"}, {CAP_SETPCAP, "CAP_SETPCAP"}};
	capng_get_caps_process();
	for (unsigned i = 0; i < sizeof(needed) / sizeof(needed[0]); i++)
		if (!capng_have_capability(CAPNG_EFFECTIVE, needed[i].cap)) {
			snprintf(err, errlen, "--chroot: the jail needs root (%s, to enter a mount "
				 "namespace, pivot into the directory and drop to --uid/--gid)",
				 needed[i].name);
			return -1;
		}
	struct stat st, root;
	if (stat(j->dir, &st))
		return fail(err, errlen, "--chroot '%s'", j->dir);
	if (!S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "--chroot '%s': not a directory", j->dir);
		return -1;
	}
	if (stat("/", &root) == 0 && root.st_dev == st.st_dev && root.st_ino == st.st_ino) {
		snprintf(err, errlen, "--chroot '%s' is the host's root: that jail would hide nothing",
			 j->dir);
		return -1;
	}
	return 0;
}

static volatile pid_t jailed_child;

static void forward_signal(int sig)
{
	if (jailed_child > 0)
		kill(jailed_child, sig);
}

/* PID 1 of a namespace drops every signal it has no handler for, even one from outside. */
static void signal_noted(int sig)
{
	(void)sig;
}

static const int forwarded[] = {SIGINT, SIGTERM, SIGHUP, SIGUSR1};

static void set_handlers(void (*fn)(int))
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = fn;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	for (unsigned i = 0; i < sizeof(forwarded) / sizeof(forwarded[0]); i++)
		sigaction(forwarded[i], &sa, NULL);
}

int jail_new_pid_ns(int *exit_status, char *err, size_t errlen)
{
	if (unshare(CLONE_NEWPID))
		return fail(err, errlen, "--new-pid-ns: unshare(CLONE_NEWPID)");
	/* Held from before the fork until the parent knows whom to forward them to. */
	sigset_t set, old;
	sigemptyset(&set);
	for (unsigned i = 0; i < sizeof(forwarded) / sizeof(forwarded[0]); i++)
		sigaddset(&set, forwarded[i]);
	sigprocmask(SIG_BLOCK, &set, &old);
	set_handlers(forward_signal);
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		sigprocmask(SIG_SETMASK, &old, NULL);
		errno = e;
		return fail(err, errlen, "--new-pid-ns: fork");
	}
	if (pid == 0) {
		set_handlers(signal_noted); /* vm_prepare blocks them and reads them from a signalfd */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		sigprocmask(SIG_SETMASK, &old, NULL);
		return 0;
	}
	jailed_child = pid;
	sigprocmask(SIG_SETMASK, &old, NULL);
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return fail(err, errlen, "--new-pid-ns: waiting for kestrel");
	*exit_status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	return 1;
}

/* DIR becomes "/" in a mount namespace of our own, and the host's root is gone from it. */
static int pivot_into(const char *dir, char *err, size_t errlen)
{
	if (unshare(CLONE_NEWNS))
		return fail(err, errlen, "jail: unshare(CLONE_NEWNS)");
	/* Nothing we mount or unmount from here on reaches the host's namespace. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL))
		return fail(err, errlen, "jail: making the mounts private");
	/* pivot_root wants a mount point. */
	if (mount(dir, dir, NULL, MS_BIND | MS_REC, NULL))
		return fail(err, errlen, "jail: bind-mounting '%s'", dir);
	if (chdir(dir))
		return fail(err, errlen, "jail: chdir '%s'", dir);
	/* The old root is stacked on the new one, then detached (pivot_root(2)'s idiom). */
	if (syscall(SYS_pivot_root, ".", "."))
		return fail(err, errlen, "jail: pivot_root into '%s'", dir);
	if (umount2(".", MNT_DETACH))
		return fail(err, errlen, "jail: detaching the old root");
	if (chdir("/"))
		return fail(err, errlen, "jail: chdir /");
	return 0;
}

static int set_limit(int resource, uint64_t v, const char *name, char *err, size_t errlen)
{
	struct rlimit rl = {.rlim_cur = (rlim_t)v, .rlim_max = (rlim_t)v};
	if (setrlimit(resource, &rl))
		return fail(err, errlen, "jail: setrlimit %s=%llu", name, (unsigned long long)v);
	return 0;
}

static int drop_privileges(const struct jail_config *j, char *err, size_t errlen)
{
	capng_clear(CAPNG_SELECT_ALL);
	int ret = capng_change_id((int)j->uid, (int)j->gid,
				  CAPNG_DROP_SUPP_GRP | CAPNG_CLEAR_BOUNDING | CAPNG_CLEAR_AMBIENT);
	if (ret) {
		fail(err, errlen, "jail: dropping to uid %u gid %u with no capabilities (libcap-ng "
		     "step %d)", j->uid, j->gid, ret);
		return -1;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return fail(err, errlen, "jail: no_new_privs");
	/* Checked, not assumed: each of these would otherwise be a silent hole. */
	uid_t ru, eu, su;
	gid_t rg, eg, sg;
	if (getresuid(&ru, &eu, &su) || getresgid(&rg, &eg, &sg) || ru != j->uid || eu != j->uid ||
	    su != j->uid || rg != j->gid || eg != j->gid || sg != j->gid || getgroups(0, NULL) != 0) {
		snprintf(err, errlen, "jail: still not uid %u gid %u without groups after dropping",
			 j->uid, j->gid);
		return -1;
	}
	capng_get_caps_process();
	if (capng_have_capabilities(CAPNG_SELECT_CAPS) != CAPNG_NONE ||
	    prctl(PR_CAPBSET_READ, CAP_SYS_ADMIN, 0, 0, 0) != 0) {
		snprintf(err, errlen, "jail: capabilities are left after dropping them");
		return -1;
	}
	return 0;
}

int jail_enter(const struct jail_config *j, char *err, size_t errlen)
{
	if (pivot_into(j->dir, err, errlen))
		return -1;
	if (clearenv()) {
		snprintf(err, errlen, "jail: clearing the environment");
		return -1;
	}
	if (set_limit(RLIMIT_NOFILE, j->nofile, "no-file", err, errlen))
		return -1;
	if (j->fsize) {
		/* A write past the limit is then an I/O error for that request, not a core dump. */
		signal(SIGXFSZ, SIG_IGN);
		if (set_limit(RLIMIT_FSIZE, j->fsize, "fsize", err, errlen))
			return -1;
	}
	return drop_privileges(j, err, errlen);
}

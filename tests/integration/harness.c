#include "tests/integration/harness.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *kestrel_bin(void)
{
	const char *b = getenv("KESTREL_BIN");
	return b ? b : "build/kestrel";
}

const char *guest_file(const char *name)
{
	static char path[4][1024];
	static unsigned slot;
	char *p = path[slot++ % 4];
	const char *dir = getenv("KESTREL_GUEST_DIR");
	if (dir) {
		snprintf(p, 1024, "%s/%s", dir, name);
	} else {
		const char *cache = getenv("KESTREL_CACHE");
		if (cache)
			snprintf(p, 1024, "%s/guest/%s", cache, name);
		else
			snprintf(p, 1024, "%s/.cache/kestrel/guest/%s", getenv("HOME"), name);
	}
	return p;
}

const char *tool_path(const char *name)
{
	static char path[4][1024];
	static unsigned slot;
	char *p = path[slot++ % 4];
	char bin[900];
	snprintf(bin, sizeof(bin), "%s", kestrel_bin());
	char *slash = strrchr(bin, '/');
	if (slash)
		*slash = '\0';
	snprintf(p, 1024, "%s/%s", slash ? bin : ".", name);
	return p;
}

const char *scratch_path(const char *name)
{
	static char paths[4][1024];
	static unsigned slot;
	char *path = paths[slot++ % 4];
	const char *tmp = getenv("TMPDIR");
	snprintf(path, 1024, "%s/kestrel-test-%d-%s", tmp ? tmp : "/tmp", getpid(), name);
	return path;
}

/*
 * Appends each thread's state and kernel wait channel to the captured
 * output, so a timed-out run says where kestrel was stuck.
 */
static void describe_threads(pid_t pid, const char *outpath)
{
	char cmd[1400];
	snprintf(cmd, sizeof(cmd),
		 "for t in /proc/%d/task/*; do printf 'harness: thread %%s state %%s wchan %%s\\n' "
		 "\"$(cat $t/comm)\" \"$(cut -d' ' -f3 $t/stat)\" \"$(cat $t/wchan)\"; done >>'%s' 2>/dev/null",
		 (int)pid, outpath);
	if (system(cmd) != 0)
		fprintf(stderr, "harness: could not describe the threads of %d\n", (int)pid);
}

/* What kestrel printed so far: the whole output file, NUL-terminated (caller frees). */
static char *read_output(int fd)
{
	struct stat st;
	fstat(fd, &st);
	char *out = calloc(1, (size_t)st.st_size + 1);
	if (pread(fd, out, (size_t)st.st_size, 0) < 0)
		out[0] = 0;
	return out;
}

static struct run run_once(const char *const *args, unsigned int timeout_s, run_watch_fn watch,
			   void *arg)
{
	struct run r = {.status = -1};
	char outpath[1100];
	snprintf(outpath, sizeof(outpath), "%s", scratch_path("output"));
	int fd = open(outpath, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0) {
		fprintf(stderr, "harness: %s: %s\n", outpath, strerror(errno));
		abort();
	}
	const char *argv[64];
	unsigned n = 0;
	argv[n++] = kestrel_bin();
	for (; *args && n < 63; args++)
		argv[n++] = *args;
	argv[n] = NULL;

	pid_t pid = fork();
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDONLY);
		dup2(devnull, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		execv(argv[0], (char *const *)argv);
		fprintf(stderr, "harness: exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	struct timespec start, now;
	clock_gettime(CLOCK_MONOTONIC, &start);
	int wstatus;
	for (;;) {
		pid_t w = waitpid(pid, &wstatus, WNOHANG);
		if (w == pid)
			break;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - start.tv_sec >= (time_t)timeout_s) {
			describe_threads(pid, outpath);
			kill(pid, SIGKILL);
			/* Bounded: a process stuck in the kernel may not die at once. */
			for (int i = 0; i < 300 && waitpid(pid, &wstatus, WNOHANG) != pid; i++)
				usleep(100 * 1000);
			r.timed_out = true;
			break;
		}
		if (watch) {
			char *so_far = read_output(fd);
			watch((int)pid, so_far, arg);
			free(so_far);
		}
		usleep(50 * 1000);
	}
	if (!r.timed_out)
		r.status = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);

	r.out = read_output(fd);
	close(fd);
	unlink(outpath);
	return r;
}

/*
 * A run that ended in a runtime failure (exit 1) before the guest wrote a
 * single byte to its console (--stats says so).
 */
static bool failed_before_guest_output(const struct run *r)
{
	return !r->timed_out && r->status == 1 && strstr(r->out, "console bytes from guest 0\n");
}

struct run run_kestrel(const char *const *args, unsigned int timeout_s)
{
	struct run r = run_once(args, timeout_s, NULL, NULL);
	if (!failed_before_guest_output(&r))
		return r;
	/*
	 * The nested KVM the test rig provides has, rarely, failed a guest
	 * before its first output line (an application processor started at
	 * the reset vector without a SIPI). Such a run is repeated once, loudly;
	 * a failure that repeats is the test's result.
	 */
	const char *why = strstr(r.out, "kestrel: ");
	fprintf(stderr, "harness: RETRY: kestrel failed before any guest output; running it again once. "
		"First run: %.*s\n", why ? (int)strcspn(why, "\n") : 0, why ? why : "");
	run_free(&r);
	return run_once(args, timeout_s, NULL, NULL);
}

struct run run_kestrel_watched(const char *const *args, unsigned int timeout_s, run_watch_fn watch,
			       void *arg)
{
	return run_once(args, timeout_s, watch, arg);
}

void run_free(struct run *r)
{
	free(r->out);
	r->out = NULL;
}

const char *guest_value(const struct run *r, const char *key, char *buf, size_t len)
{
	size_t klen = strlen(key);
	for (const char *p = r->out; (p = strstr(p, key)); p += klen) {
		if ((p != r->out && p[-1] != '\n') || p[klen] != '=')
			continue;
		const char *v = p + klen + 1;
		size_t n = strcspn(v, "\r\n");
		if (n >= len)
			n = len - 1;
		memcpy(buf, v, n);
		buf[n] = 0;
		return buf;
	}
	return NULL;
}

#include "tests/integration/harness.h"

#include <dirent.h>
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

/* Nanoseconds each of pid's threads has spent on a CPU, by name, into names/ns (at most n). */
static unsigned thread_cpu_ns(pid_t pid, char names[][32], unsigned long long *ns, unsigned n)
{
	char path[128];
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	DIR *d = opendir(path);
	unsigned count = 0;
	for (struct dirent *e; d && count < n && (e = readdir(d));) {
		if (e->d_name[0] == '.')
			continue;
		char file[400];
		snprintf(file, sizeof(file), "%s/%s/comm", path, e->d_name);
		FILE *f = fopen(file, "r");
		if (!f || !fgets(names[count], 32, f))
			names[count][0] = 0;
		if (f)
			fclose(f);
		names[count][strcspn(names[count], "\n")] = 0;
		snprintf(file, sizeof(file), "%s/%s/schedstat", path, e->d_name);
		f = fopen(file, "r");
		if (!f || fscanf(f, "%llu", &ns[count]) != 1)
			ns[count] = 0;
		if (f)
			fclose(f);
		count++;
	}
	if (d)
		closedir(d);
	return count;
}

/*
 * Appends each thread's state, kernel wait channel and share of the last
 * second on a CPU to the captured output, so a timed-out run says where
 * kestrel was stuck: a vCPU near 1000 ms is a guest spinning, one near 0
 * a guest halted with nothing to wake it.
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
	enum { MAX_THREADS = 64 };
	char names[MAX_THREADS][32], later[MAX_THREADS][32];
	unsigned long long before[MAX_THREADS], after[MAX_THREADS];
	unsigned n = thread_cpu_ns(pid, names, before, MAX_THREADS);
	sleep(1);
	unsigned m = thread_cpu_ns(pid, later, after, MAX_THREADS);
	FILE *out = fopen(outpath, "a");
	for (unsigned i = 0; out && i < n && i < m; i++)
		if (!strcmp(names[i], later[i]))
			fprintf(out, "harness: thread %s ran %llu ms of the last 1000\n", names[i],
				(after[i] - before[i]) / 1000000);
	if (out)
		fclose(out);
}

/*
 * A stuck run is asked to stop as a user would (SIGTERM: kestrel flushes
 * and prints its --stats, the device counters of the hang), then killed.
 */
static void stop_stuck(pid_t pid, int *wstatus)
{
	kill(pid, SIGTERM);
	for (int i = 0; i < 100; i++) {
		if (waitpid(pid, wstatus, WNOHANG) == pid)
			return;
		usleep(100 * 1000);
	}
	kill(pid, SIGKILL);
	/* Bounded: a process stuck in the kernel may not die at once. */
	for (int i = 0; i < 300 && waitpid(pid, wstatus, WNOHANG) != pid; i++)
		usleep(100 * 1000);
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
	/*
	 * The tests boot the bzImage as they ask, the same on every host: the
	 * kernel cache (on by default) only where a test names one, or sets
	 * KESTREL_HARNESS_DEFAULT_CACHE to try the default.
	 */
	bool names_cache = getenv("KESTREL_HARNESS_DEFAULT_CACHE") != NULL;
	for (const char *const *a = args; *a; a++)
		names_cache |= !strcmp(*a, "--kernel-cache");
	if (!names_cache) {
		argv[n++] = "--kernel-cache";
		argv[n++] = "none";
	}
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
			stop_stuck(pid, &wstatus);
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

/*
 * A vCPU that triple-faulted at the reset vector, in real mode with the
 * registers of an INIT (F000:FFF0, CR0 0x10): the rig's nested KVM has
 * done this to a running guest too (a CI run of the SCSI tests, after the
 * guest had printed its checksums). kestrel never sends an INIT, and its
 * reset-vector stub would reboot, not fault.
 */
static bool triple_fault_at_reset_vector(const struct run *r)
{
	return !r->timed_out && r->status == 1 && strstr(r->out, "triple fault (KVM_EXIT_SHUTDOWN)") &&
	       strstr(r->out, "rip 000000000000fff0") && strstr(r->out, "cr0 0000000000000010") &&
	       strstr(r->out, "cs f000 ");
}

/* The last `lines` lines of out. */
static const char *tail_of(const char *out, int lines)
{
	const char *p = out + strlen(out);
	while (p > out && lines >= 0)
		if (*--p == '\n')
			lines--;
	return p == out ? p : p + 1;
}

/*
 * The nested KVM the test rig provides has, rarely, failed a guest before
 * its first output line (an application processor started at the reset
 * vector without a SIPI), and wedged a guest mid-run (its vCPU on the CPU
 * without progress, no kernel message for minutes). Whether r is such a
 * run, said loudly with its end on stderr: it is repeated once, and a
 * failure that repeats is the test's result.
 */
static bool rig_fault(const struct run *r, unsigned int timeout_s)
{
	if (failed_before_guest_output(r)) {
		const char *why = strstr(r->out, "kestrel: ");
		fprintf(stderr, "harness: RETRY: kestrel failed before any guest output; running it again once. "
			"First run: %.*s\n", why ? (int)strcspn(why, "\n") : 0, why ? why : "");
	} else if (triple_fault_at_reset_vector(r)) {
		fprintf(stderr, "harness: RETRY: a vCPU triple-faulted at the reset vector with INIT's "
			"registers (the rig's nested KVM); running it again once. First run's end:\n%s\n",
			tail_of(r->out, 40));
	} else if (r->timed_out) {
		fprintf(stderr, "harness: RETRY: kestrel did not exit in %u s; running it again once. "
			"First run's end:\n%s\n", timeout_s, tail_of(r->out, 40));
	} else {
		return false;
	}
	return true;
}

struct run run_kestrel(const char *const *args, unsigned int timeout_s)
{
	struct run r = run_once(args, timeout_s, NULL, NULL);
	if (!rig_fault(&r, timeout_s))
		return r;
	run_free(&r);
	return run_once(args, timeout_s, NULL, NULL);
}

struct run run_kestrel_watched(const char *const *args, unsigned int timeout_s, run_watch_fn watch,
			       void *arg)
{
	return run_once(args, timeout_s, watch, arg);
}

struct run run_kestrel_watched_again(const char *const *args, unsigned int timeout_s,
				     run_watch_fn watch, void *arg, void (*reset)(void *arg))
{
	struct run r = run_once(args, timeout_s, watch, arg);
	if (!rig_fault(&r, timeout_s))
		return r;
	run_free(&r);
	reset(arg);
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

const char *slurp(const char *path)
{
	static char buf[8192];
	FILE *f = fopen(path, "r");
	size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
	if (f)
		fclose(f);
	buf[n] = '\0';
	return buf;
}

/* One request with curl; the status, and the body in resp (when given). */
int api_request(const char *sock, const char *method, const char *path, const char *body,
		char *resp, size_t resplen)
{
	char cmd[2048], out[512];
	snprintf(out, sizeof(out), "%s", scratch_path("api-body"));
	snprintf(cmd, sizeof(cmd), "curl -s -o '%s' -w '%%{http_code}' --unix-socket '%s' -X %s "
		 "http://localhost%s %s%s%s >%s", out, sock, method, path, body ? "-d '" : "",
		 body ? body : "", body ? "'" : "", scratch_path("api-code"));
	if (system(cmd) != 0)
		return -1;
	if (resp)
		snprintf(resp, resplen, "%s", slurp(out));
	return atoi(slurp(scratch_path("api-code")));
}


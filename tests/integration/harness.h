/*
 * Runs the kestrel binary as a user would and captures what it prints.
 * Integration tests only: needs a /dev/kvm that boots a stock guest
 * (directly, or inside tools/rig).
 */
#ifndef KESTREL_TEST_HARNESS_H
#define KESTREL_TEST_HARNESS_H

#include <stdbool.h>
#include <stddef.h>

struct run {
	int status;     /* exit status, or -1 if killed by the timeout */
	bool timed_out;
	char *out;      /* stdout and stderr, interleaved, NUL-terminated */
};

/*
 * Runs kestrel with args (NULL-terminated), stdin from /dev/null. A run with
 * --stats that fails (exit 1) before the guest printed anything, or that
 * does not exit within timeout_s, is repeated once, with a "harness: RETRY"
 * line on stderr (see harness.c): a test's own time limit must allow
 * RUN_ATTEMPTS runs.
 */
#define RUN_ATTEMPTS 2
struct run run_kestrel(const char *const *args, unsigned int timeout_s);

/*
 * The same, calling watch(pid, output so far, arg) about every 50 ms while
 * kestrel runs, so a test can act on what it printed (free host space and
 * send a signal, say). No retry (the watcher may have acted on the first;
 * run_kestrel_watched_again below resets it and retries).
 */
typedef void (*run_watch_fn)(int pid, const char *out, void *arg);
struct run run_kestrel_watched(const char *const *args, unsigned int timeout_s, run_watch_fn watch,
			       void *arg);
/*
 * The same, repeated once after a rig fault as run_kestrel is: reset(arg)
 * first puts the watcher's state and files back as they were before the
 * first run.
 */
struct run run_kestrel_watched_again(const char *const *args, unsigned int timeout_s,
				     run_watch_fn watch, void *arg, void (*reset)(void *arg));
void run_free(struct run *r);

/* The test guest's files. */
const char *guest_file(const char *name);
/* A program built beside kestrel (e.g. "kestrel-crashcheck"). */
const char *tool_path(const char *name);
/* A scratch path under $TMPDIR. */
const char *scratch_path(const char *name);

/* The first 8 KiB of a file, NUL-terminated (in a buffer the next call reuses; "" if unreadable). */
const char *slurp(const char *path);

/* One request to an API socket with curl: the HTTP status (-1 if curl failed), the body in resp if given. */
int api_request(const char *sock, const char *method, const char *path, const char *body,
		char *resp, size_t resplen);

/* Value of "KEY=value" printed by the guest, or NULL. */
const char *guest_value(const struct run *r, const char *key, char *buf, size_t len);

#endif

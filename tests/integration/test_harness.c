/*
 * The harness's retry rule, against a stand-in for kestrel (a shell
 * script): only a runtime failure before any guest output, or a run that
 * does not exit in time, is run again, once. No guest boots here.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/integration/harness.h"

/* A fake kestrel that counts its runs in `count`, prints `out`, waits `sleep_s` and exits with `status`. */
static void fake_kestrel(const char *count, const char *out, int sleep_s, int status)
{
	const char *script = scratch_path("fake-kestrel");
	FILE *f = fopen(script, "w");
	cr_assert_not_null(f);
	fprintf(f, "#!/bin/sh\necho x >>'%s'\nprintf '%s'\nsleep %d\nexit %d\n", count, out, sleep_s,
		status);
	fclose(f);
	cr_assert_eq(chmod(script, 0755), 0);
	cr_assert_eq(setenv("KESTREL_BIN", script, 1), 0);
}

static int runs(const char *count)
{
	FILE *f = fopen(count, "r");
	int n = 0, c;
	while (f && (c = fgetc(f)) != EOF)
		n += c == '\n';
	if (f)
		fclose(f);
	return n;
}

/* KESTREL_BIN as it was before a test put its fake there, and the run counter's path. */
struct saved_bin {
	bool had;
	char path[1100];
	char count[1100];
};

static void save_bin(struct saved_bin *s)
{
	const char *bin = getenv("KESTREL_BIN");
	s->had = bin != NULL;
	snprintf(s->path, sizeof(s->path), "%s", bin ? bin : "");
	snprintf(s->count, sizeof(s->count), "%s", scratch_path("fake-count"));
	unlink(s->count);
}

static void restore_bin(const struct saved_bin *s)
{
	if (s->had)
		setenv("KESTREL_BIN", s->path, 1);
	else
		unsetenv("KESTREL_BIN");
	unlink(s->count);
	unlink(scratch_path("fake-kestrel"));
}

static void expect_runs_timed(const char *out, int sleep_s, int status, unsigned timeout_s, int want)
{
	struct saved_bin saved;
	save_bin(&saved);
	const char *count = saved.count;
	fake_kestrel(count, out, sleep_s, status);
	const char *args[] = {"--stats", NULL};
	struct run r = run_kestrel(args, timeout_s);
	if (!r.timed_out)
		cr_assert_eq(r.status, status);
	cr_assert_eq(runs(count), want, "'%s' exit %d: %d runs, want %d", out, status, runs(count), want);
	run_free(&r);
	restore_bin(&saved);
}

static void expect_runs(const char *out, int status, int want)
{
	expect_runs_timed(out, 0, status, 30, want);
}

Test(harness, only_a_failure_before_any_guest_output_is_run_again_once)
{
	expect_runs("kestrel: stats: console bytes from guest 0\\n", 1, 2);
	expect_runs("kestrel: stats: console bytes from guest 12\\n", 1, 1);
	expect_runs("kestrel: stats: console bytes from guest 0\\n", 0, 1);
	expect_runs("kestrel: stats: console bytes from guest 0\\n", 2, 1);
	expect_runs("kestrel: no stats\\n", 1, 1);
}

Test(harness, a_run_that_does_not_exit_in_time_is_run_again_once, .timeout = 60)
{
	expect_runs_timed("kestrel: stats: console bytes from guest 12\\n", 30, 0, 2, 2);
	expect_runs_timed("kestrel: stats: console bytes from guest 12\\n", 0, 0, 2, 1);
}

Test(harness, a_triple_fault_at_the_reset_vector_is_run_again_once)
{
	const char *reset = "GUEST OUTPUT\\nkestrel: vCPU 0: triple fault (KVM_EXIT_SHUTDOWN)\\n"
			    "  rip 000000000000fff0 rflags 0000000000000002\\n"
			    "  cr0 0000000000000010 cr2 0\\n  cs f000 ss 0000\\n"
			    "kestrel: stats: console bytes from guest 353\\n";
	expect_runs(reset, 1, 2);
	/* A triple fault anywhere else is the guest's or kestrel's: no second run. */
	expect_runs("GUEST OUTPUT\\nkestrel: vCPU 0: triple fault (KVM_EXIT_SHUTDOWN)\\n"
		    "  rip ffffffff81000000 rflags 0000000000000002\\n  cr0 0000000080050033\\n"
		    "  cs 0010 ss 0018\\nkestrel: stats: console bytes from guest 353\\n", 1, 1);
}

/* A watched run is repeated after a rig fault too, with its watcher put back first. */
static int watch_calls, resets;
static void count_watch(int pid, const char *out, void *arg)
{
	(void)pid;
	(void)out;
	(void)arg;
	watch_calls++;
}
static void count_reset(void *arg)
{
	(void)arg;
	resets++;
}

Test(harness, a_watched_run_is_reset_and_run_again_once_after_a_rig_fault)
{
	struct saved_bin saved;
	save_bin(&saved);
	const char *count = saved.count;
	const char *args[] = {"--stats", NULL};
	/* Fails before any guest output: reset, then a second run. */
	fake_kestrel(count, "kestrel: stats: console bytes from guest 0\\n", 0, 1);
	struct run r = run_kestrel_watched_again(args, 30, count_watch, NULL, count_reset);
	cr_assert_eq(runs(count), 2);
	cr_assert_eq(resets, 1);
	cr_assert_gt(watch_calls, 0);
	run_free(&r);
	/* A guest's own failure: one run, no reset. */
	unlink(count);
	fake_kestrel(count, "kestrel: stats: console bytes from guest 12\\n", 0, 1);
	r = run_kestrel_watched_again(args, 30, count_watch, NULL, count_reset);
	cr_assert_eq(runs(count), 1);
	cr_assert_eq(resets, 1);
	run_free(&r);
	restore_bin(&saved);
}

/*
 * The harness's one retry rule, against a stand-in for kestrel (a shell
 * script): only a runtime failure before any guest output is run again,
 * once. No guest boots here.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/integration/harness.h"

/* A fake kestrel that counts its runs in `count` and prints `out`, exiting with `status`. */
static void fake_kestrel(const char *count, const char *out, int status)
{
	const char *script = scratch_path("fake-kestrel");
	FILE *f = fopen(script, "w");
	cr_assert_not_null(f);
	fprintf(f, "#!/bin/sh\necho x >>'%s'\nprintf '%s'\nexit %d\n", count, out, status);
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

static void expect_runs(const char *out, int status, int want)
{
	char count[1100];
	snprintf(count, sizeof(count), "%s", scratch_path("fake-count"));
	unlink(count);
	const char *saved = getenv("KESTREL_BIN");
	char restore[1100];
	snprintf(restore, sizeof(restore), "%s", saved ? saved : "");
	fake_kestrel(count, out, status);
	const char *args[] = {"--stats", NULL};
	struct run r = run_kestrel(args, 30);
	cr_assert_eq(r.status, status);
	cr_assert_eq(runs(count), want, "'%s' exit %d: %d runs, want %d", out, status, runs(count), want);
	run_free(&r);
	if (saved)
		setenv("KESTREL_BIN", restore, 1);
	else
		unsetenv("KESTREL_BIN");
	unlink(count);
	unlink(scratch_path("fake-kestrel"));
}

Test(harness, only_a_failure_before_any_guest_output_is_run_again_once)
{
	expect_runs("kestrel: stats: console bytes from guest 0\\n", 1, 2);
	expect_runs("kestrel: stats: console bytes from guest 12\\n", 1, 1);
	expect_runs("kestrel: stats: console bytes from guest 0\\n", 0, 1);
	expect_runs("kestrel: stats: console bytes from guest 0\\n", 2, 1);
	expect_runs("kestrel: no stats\\n", 1, 1);
}

/*
 * The seccomp filters with a real guest: every other integration test runs
 * with them on (kestrel's default), which proves that what real guests
 * make kestrel do fits them. Here each thread makes a call outside its list
 * through the test-only hook KESTREL_TEST_SECCOMP_TRIP (an environment
 * variable, never reachable from a guest or the API), and kestrel must end
 * with status 148 and say which thread and which call; with --no-seccomp
 * the same hook does nothing and the guest boots.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>

#include "tests/integration/harness.h"

#define TIMEOUT 240

static struct run run_tripped(const char *thread, bool no_seccomp)
{
	setenv("KESTREL_TEST_SECCOMP_TRIP", thread, 1);
	const char *args[] = {"--kernel", guest_file("vmlinuz"), "--initrd", guest_file("initrd.img"),
			      "--cpus", "2", "--cmdline", "console=ttyS0 panic=-1 quiet -- true",
			      no_seccomp ? "--no-seccomp" : NULL, NULL};
	struct run r = run_kestrel(args, TIMEOUT);
	unsetenv("KESTREL_TEST_SECCOMP_TRIP");
	return r;
}

static void expect_trapped(const char *hook, const char *thread)
{
	struct run r = run_tripped(hook, false);
	char who[64], what[64];
	snprintf(who, sizeof(who), "seccomp: the %s", thread); /* any vCPU may be first */
	snprintf(what, sizeof(what), " thread made system call %d (", SYS_getppid);
	cr_assert_not(r.timed_out, "%s", r.out);
	cr_expect_eq(r.status, 148, "%s: exit %d, want 148:\n%s", hook, r.status, r.out);
	const char *line = strstr(r.out, who);
	cr_expect(line && strstr(line, what), "no '%s...%s':\n%s", who, what, r.out);
	cr_expect_null(strstr(r.out, "KESTREL-GUEST-INIT"), "the guest ran on:\n%s", r.out);
	run_free(&r);
}

Test(seccomp, each_thread_outside_its_filter_ends_kestrel_with_148,
     .timeout = 3 * RUN_ATTEMPTS * TIMEOUT + 30)
{
	expect_trapped("vcpu", "fc_vcpu ");
	expect_trapped("loop", "event loop");
	expect_trapped("main", "main");
}

Test(seccomp, without_seccomp_the_hook_does_nothing, .timeout = RUN_ATTEMPTS * TIMEOUT + 30)
{
	struct run r = run_tripped("vcpu", true);
	cr_assert_not(r.timed_out, "%s", r.out);
	cr_expect_eq(r.status, 0, "exit %d:\n%s", r.status, r.out);
	cr_expect(strstr(r.out, "KESTREL-GUEST-INIT"), "%s", r.out);
	run_free(&r);
}

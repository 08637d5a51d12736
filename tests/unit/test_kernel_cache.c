/*
 * The kernel cache's housekeeping: its default place, and pruning to the
 * most recently used entries. (Decompressing and booting an entry, and a
 * damaged entry made again, run against a real kernel in
 * tests/integration/test_boot.c.)
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmm/kernel_cache.h"

static char dir[128];

static void make_dir(void)
{
	snprintf(dir, sizeof(dir), "/tmp/kestrel-unit-kcache-%d", getpid());
	char cmd[400];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s' && mkdir -p '%s'", dir, dir);
	cr_assert_eq(system(cmd), 0);
}

static void remove_dir(void)
{
	char cmd[400];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	cr_assert_eq(system(cmd), 0);
}

static bool exists(const char *name)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	return access(p, F_OK) == 0;
}

Test(kernel_cache, pruning_keeps_the_most_recently_used_entries)
{
	make_dir();
	/* Six entries, entry i last used at time 1000 + i; a temporary and a stranger. */
	for (int i = 0; i < 6; i++) {
		char p[512];
		snprintf(p, sizeof(p), "%s/" KERNEL_CACHE_PREFIX "%d", dir, i);
		int fd = open(p, O_WRONLY | O_CREAT, 0644);
		cr_assert(fd >= 0);
		struct timespec t[2] = {{1000 + i, 0}, {1000 + i, 0}};
		cr_assert_eq(futimens(fd, t), 0);
		close(fd);
	}
	char p[512];
	snprintf(p, sizeof(p), "%s/" KERNEL_CACHE_PREFIX "9.tmp.123", dir);
	close(open(p, O_WRONLY | O_CREAT, 0644));
	snprintf(p, sizeof(p), "%s/notes.txt", dir);
	close(open(p, O_WRONLY | O_CREAT, 0644));
	kernel_cache_prune(dir);
	for (int i = 0; i < 6; i++) {
		char name[64];
		snprintf(name, sizeof(name), KERNEL_CACHE_PREFIX "%d", i);
		cr_assert_eq(exists(name), i >= 6 - KERNEL_CACHE_KEEP, "entry %d", i);
	}
	cr_assert(exists(KERNEL_CACHE_PREFIX "9.tmp.123"), "another kestrel's file being written");
	cr_assert(exists("notes.txt"), "not an entry");
	remove_dir();
}

Test(kernel_cache, the_default_directory_is_under_xdg_cache_home_or_home)
{
	make_dir();
	char got[512], err[256], want[512];
	setenv("XDG_CACHE_HOME", dir, 1);
	cr_assert_eq(kernel_cache_default_dir(got, sizeof(got), err, sizeof(err)), 0, "%s", err);
	snprintf(want, sizeof(want), "%s/kestrel/kernels", dir);
	cr_assert_str_eq(got, want);
	struct stat st;
	cr_assert(stat(want, &st) == 0 && S_ISDIR(st.st_mode), "made with its parents");
	setenv("XDG_CACHE_HOME", "relative/not/allowed", 1);
	setenv("HOME", dir, 1);
	cr_assert_eq(kernel_cache_default_dir(got, sizeof(got), err, sizeof(err)), 0, "%s", err);
	snprintf(want, sizeof(want), "%s/.cache/kestrel/kernels", dir);
	cr_assert_str_eq(got, want);
	setenv("HOME", "/proc/no-such-home", 1);
	cr_assert_neq(kernel_cache_default_dir(got, sizeof(got), err, sizeof(err)), 0);
	cr_assert(strstr(err, "/proc/no-such-home"), "%s", err);
	unsetenv("XDG_CACHE_HOME");
	remove_dir();
}

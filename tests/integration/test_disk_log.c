/*
 * The disk write log in a real guest: one boot with seven logged disks,
 * each running the same workload (cached writes and a flush, then O_DSYNC
 * direct writes, FUA where the disk offers it). kestrel-crashcheck must find
 * every promise kept on honest disks, on every interface, and must catch
 * `unsafe` and each test-only lie (x-lie=): a checker that passes a lying
 * disk is broken. Then crash states: an ext4 workload (fsync'd appends and
 * rename-over with directory fsync) on an honest disk and on one that
 * drops flushes; every state of the honest one must recover (e2fsck after
 * journal recovery) with the records in order and the last one all there,
 * and the liar must fail that.
 */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "tests/integration/disk_helpers.h"

struct logged_disk {
	const char *iface, *cache, *lie;
	bool honest;
};

static const struct logged_disk disks[] = {
	{"virtio-blk", "writeback", "none", true},
	{"ahci", "none", "none", true},
	{"virtio-scsi", "writethrough", "none", true},
	{"virtio-blk", "unsafe", "none", false},
	{"virtio-blk", "writeback", "no-flush", false},
	{"ahci", "writeback", "hide-cache", false},
	{"virtio-scsi", "writeback", "no-fua", false},
};
#define NDISKS (sizeof(disks) / sizeof(disks[0]))

/* kestrel-crashcheck LOG [ARGS]: its exit status, its output in out. */
static int crashcheck(const char *log, const char *args, char *out, size_t len)
{
	static char cmd[10240];
	snprintf(cmd, sizeof(cmd), "'%s' '%s' %s 2>&1", tool_path("kestrel-crashcheck"), log, args);
	FILE *p = popen(cmd, "r");
	cr_assert(p, "%s", cmd);
	size_t n = fread(out, 1, len - 1, p);
	out[n] = '\0';
	int st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

Test(disk_log, promises_are_kept_and_every_lying_disk_is_caught, .timeout = DISK_TIMEOUT)
{
	static char specs[NDISKS][8192], logs[NDISKS][1100];
	const char *spec_ptrs[NDISKS];
	char cmd[512] = "disk-test log-workload";
	for (unsigned i = 0; i < NDISKS; i++) {
		/* Each its own size, so the guest finds it whatever the probe order. */
		long long size = (64ll + i) << 20;
		char name[32];
		snprintf(name, sizeof(name), "log%u.img", i);
		const char *img = make_image(name, size);
		snprintf(logs[i], sizeof(logs[i]), "%s.log", img);
		snprintf(specs[i], sizeof(specs[i]), "path=%s,if=%s,cache=%s,x-lie=%s,log=%s", img,
			 disks[i].iface, disks[i].cache, disks[i].lie, logs[i]);
		spec_ptrs[i] = specs[i];
		snprintf(cmd + strlen(cmd), sizeof(cmd) - strlen(cmd), " %lld", size / 512);
	}
	struct run r = boot_with_disks(spec_ptrs, NDISKS, "1", cmd);
	for (unsigned i = 0; i < NDISKS; i++) {
		char key[40], val[32];
		snprintf(key, sizeof(key), "LOG_WORKLOAD_%lld", ((64ll + i) << 20) / 512);
		cr_assert(guest_value(&r, key, val, sizeof(val)) && !strcmp(val, "ok"),
			  "disk %u: the workload did not run:\n%s", i, r.out);
		static char out[8192];
		int status = crashcheck(logs[i], "", out, sizeof(out));
		const struct logged_disk *d = &disks[i];
		if (d->honest) {
			cr_assert_eq(status, 0, "%s cache=%s: promises broken:\n%s", d->iface, d->cache, out);
			cr_assert(strstr(out, "promises kept") && !strstr(out, " 0 promises"),
				  "%s cache=%s: no promise was checked:\n%s", d->iface, d->cache, out);
		} else {
			cr_assert_eq(status, 1, "%s cache=%s x-lie=%s passed the check:\n%s", d->iface,
				     d->cache, d->lie, out);
			cr_assert(strstr(out, "promises broken"), "%s", out);
		}
		cr_log_info("%s cache=%s x-lie=%s: %s", d->iface, d->cache, d->lie, out);
	}
	run_free(&r);
}

#define RECORDS 8

static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sh(const char *fmt, ...)
{
	static char cmd[12000];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	cr_assert_eq(system(cmd), 0, "failed: %s", cmd);
}

/*
 * The check of one crash state: journal recovery (undone afterwards),
 * e2fsck -fn, then the workload's own view: log.txt holds records 1..k in
 * order, state holds k-1 or k, and at the last point with nothing
 * uncertain every record is there. Each state's findings go to RESULTS.
 */
static const char check_script[] =
	"#!/bin/sh\n"
	"img=$1; res=$2; want=$3\n"
	"u=$(mktemp -u /tmp/kestrel-crash-undo.XXXXXX)\n"
	"e2fsck -E journal_only -y -z \"$u\" \"$img\" >/dev/null 2>&1\n"
	"e2fsck -fn \"$img\" >/dev/null 2>&1; fsck=$?\n"
	"debugfs -R 'cat /log.txt' \"$img\" 2>/dev/null >\"$u.log\"\n"
	"k=$(grep -c '^record ' \"$u.log\")\n"
	"seq 1 \"$k\" | sed 's/^/record /' | cmp -s - \"$u.log\" && prefix=1 || prefix=0\n"
	"j=$(debugfs -R 'cat /state' \"$img\" 2>/dev/null | sed -n 's/^state //p')\n"
	"j=${j:-0}\n"
	"if [ -e \"$u\" ]; then e2undo \"$u\" \"$img\" >/dev/null 2>&1 ||\n"
	"  e2undo -f \"$u\" \"$img\" >/dev/null 2>&1 || { rm -f \"$u\" \"$u.log\"; exit 99; }; fi\n"
	"rm -f \"$u\" \"$u.log\"\n"
	"echo \"$KESTREL_CRASH_POINT $KESTREL_CRASH_VARIANT fsck=$fsck records=$k state=$j prefix=$prefix\" >>\"$res\"\n"
	"[ \"$fsck\" = 0 ] && [ \"$prefix\" = 1 ] && [ \"$j\" -le \"$k\" ] && [ \"$j\" -ge $((k - 1)) ] || exit 1\n"
	"if [ \"$KESTREL_CRASH_VARIANT\" = none ] && [ \"$KESTREL_CRASH_POINT\" = $((KESTREL_CRASH_POINTS - 1)) ]; then\n"
	"  [ \"$k\" = \"$want\" ] || exit 1\n"
	"fi\n";

Test(disk_log, crash_states_of_an_ext4_workload_recover_and_a_liar_fails, .timeout = DISK_TIMEOUT)
{
	static const char *const lies[] = {"none", "no-flush"};
	static char imgs[2][1100], bases[2][1100], logs2[2][1100], specs2[2][8192], results[2][1100];
	const char *spec_ptrs[2];
	for (unsigned i = 0; i < 2; i++) {
		char name[32];
		snprintf(name, sizeof(name), "crash%u.img", i);
		snprintf(imgs[i], sizeof(imgs[i]), "%s", make_image(name, 64ll << 20));
		snprintf(bases[i], sizeof(bases[i]), "%s.base", imgs[i]);
		snprintf(logs2[i], sizeof(logs2[i]), "%s.log", imgs[i]);
		snprintf(results[i], sizeof(results[i]), "%s.results", imgs[i]);
		/* The file system is made on the host: the log starts from it (the base). */
		sh("mkfs.ext4 -q -F '%s' && cp --sparse=always '%s' '%s' && rm -f '%s'", imgs[i],
		   imgs[i], bases[i], results[i]);
		snprintf(specs2[i], sizeof(specs2[i]), "path=%s,if=virtio-blk,cache=writeback,x-lie=%s,log=%s",
			 imgs[i], lies[i], logs2[i]);
		spec_ptrs[i] = specs2[i];
	}
	char script[1100];
	snprintf(script, sizeof(script), "%s", scratch_path("crash-check.sh"));
	FILE *f = fopen(script, "w");
	cr_assert(f);
	fputs(check_script, f);
	fclose(f);
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "disk-test ext4-workload /dev/vda %d && disk-test ext4-workload /dev/vdb %d",
		 RECORDS, RECORDS);
	struct run r = boot_with_disks(spec_ptrs, 2, "1", cmd);
	char val[16];
	cr_assert(guest_value(&r, "EXT4_WORKLOAD_vda", val, sizeof(val)) && !strcmp(val, "ok"), "%s", r.out);
	cr_assert(guest_value(&r, "EXT4_WORKLOAD_vdb", val, sizeof(val)) && !strcmp(val, "ok"), "%s", r.out);
	for (unsigned i = 0; i < 2; i++) {
		static char args[12000], out[16384];
		snprintf(args, sizeof(args), "--base '%s' --states 16 --check 'sh %s \"$1\" %s %d'",
			 bases[i], script, results[i], RECORDS);
		int status = crashcheck(logs2[i], args, out, sizeof(out));
		cr_log_info("x-lie=%s: %s", lies[i], out);
		if (i == 0) {
			cr_assert_eq(status, 0, "an honest disk's crash states failed:\n%s", out);
			cr_assert(strstr(out, "checked") && strstr(out, "all good"), "%s", out);
		} else {
			cr_assert_eq(status, 1, "a disk that drops flushes passed:\n%s", out);
			cr_assert(strstr(out, "SOME FAILED") && strstr(out, "the check failed (exit 1)"),
				  "the crash states did not catch it:\n%s", out);
		}
	}
	run_free(&r);
}

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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

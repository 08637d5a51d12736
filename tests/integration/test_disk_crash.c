/*
 * Crash states on every frontend and cache mode: each disk runs the guest's
 * crash-workload (fsync'd appends, rename-over with a directory fsync, and
 * sqlite3 transactions with synchronous=FULL in WAL mode, on ext4 or XFS
 * made on the host),
 * printing what it was told is durable; kestrel records those lines in
 * the disk's write log (--log-marks). kestrel-crashcheck must then find
 * every promise kept, and every crash state it builds must recover with
 * nothing the guest was told missing (tests/integration/crash-check).
 * Writeback disks switch their write cache off halfway. The controls, an
 * `unsafe` disk and one that drops flushes, must fail the crash states: a
 * check that passes them is broken.
 *
 * Three boots (at most eight disks each): virtio-blk and virtio-scsi;
 * AHCI and the controls; AHCI with libata.fua=1 (journal commits as FUA
 * writes) and the same workload on XFS on each frontend, with `unsafe`. Sizes and state counts keep the suite within its time budget;
 * tools/bench-crash runs the long sweep.
 */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/integration/disk_helpers.h"

#define MAX_CRASH_DISKS 8

/* Workload rounds and crash states per disk: small here, larger for tools/bench-crash. */
static int sized(const char *env, int dflt)
{
	const char *v = getenv(env);
	return v && atoi(v) > 0 ? atoi(v) : dflt;
}
#define ROUNDS sized("KESTREL_CRASH_ROUNDS", 6)
/*
 * Criterion's limit: the sweep's long runs fit; in CI the harness bounds
 * each boot (DISK_RUN_TIMEOUT, or KESTREL_DISK_RUN_TIMEOUT) and the rig the rest.
 */
#define CRASH_TIMEOUT 7200
#define STATES sized("KESTREL_CRASH_STATES", 4)

struct crash_disk {
	const char *iface, *cache, *lie;
	bool honest, switch_off;
	bool xfs; /* XFS (at least 300 MB, as mkfs.xfs wants), not ext4 */
};

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

/* Disk i's size: its own, so the guest finds it whatever the probe order. */
static long long disk_size(const struct crash_disk *d, unsigned i)
{
	return ((d->xfs ? 320ll : 64ll) + i) << 20;
}

/* One boot with disks[0..n), kargs on the kernel command line; then each disk's verdicts. */
static void crash_matrix(const struct crash_disk *disks, unsigned n, const char *kargs)
{
	static char imgs[MAX_CRASH_DISKS][1100], specs[MAX_CRASH_DISKS][18000];
	const char *spec_ptrs[MAX_CRASH_DISKS];
	char cmd[1500];
	snprintf(cmd, sizeof(cmd), "disk-test crash-workloads %d", ROUNDS);
	cr_assert_leq(n, MAX_CRASH_DISKS);
	for (unsigned i = 0; i < n; i++) {
		long long size = disk_size(&disks[i], i);
		char name[32];
		snprintf(name, sizeof(name), "crash%u.img", i);
		snprintf(imgs[i], sizeof(imgs[i]), "%s", make_image(name, size));
		/* The file system is made on the host: the log starts from it (the base). */
		sh("%s '%s' && cp --sparse=always '%s' '%s.base' && rm -f '%s.results'",
		   disks[i].xfs ? "mkfs.xfs -q -f" : "mkfs.ext4 -q -F", imgs[i], imgs[i], imgs[i],
		   imgs[i]);
		snprintf(specs[i], sizeof(specs[i]), "path=%s,if=%s,cache=%s,x-lie=%s,log=%s.log",
			 imgs[i], disks[i].iface, disks[i].cache, disks[i].lie, imgs[i]);
		spec_ptrs[i] = specs[i];
		snprintf(cmd + strlen(cmd), sizeof(cmd) - strlen(cmd), " %lld%s", size / 512,
			 disks[i].switch_off ? ":switch" : "");
	}
	const char *opts[] = {"--log-marks", "DURABLE ", NULL};
	struct run r = boot_with_disks_opts(spec_ptrs, n, "1", kargs, opts, cmd);
	char val[64];
	for (unsigned i = 0; i < n; i++) {
		const struct crash_disk *d = &disks[i];
		long long sectors = disk_size(d, i) / 512;
		char key[48];
		snprintf(key, sizeof(key), "CRASH_WORKLOAD_%lld", sectors);
		cr_assert(guest_value(&r, key, val, sizeof(val)) && !strcmp(val, "ok"),
			  "%s cache=%s: the workload did not finish:\n%s", d->iface, d->cache, r.out);
		if (d->switch_off) {
			snprintf(key, sizeof(key), "SWITCHED_%lld", sectors);
			cr_assert(guest_value(&r, key, val, sizeof(val)) && !strcmp(val, "write_through"),
				  "%s: the guest could not switch the cache off:\n%s", d->iface, r.out);
		}
		static char args[24000], out[32768], log[9000];
		snprintf(log, sizeof(log), "%s.log", imgs[i]);
		snprintf(args, sizeof(args), "--base '%s.base' --states %d --check 'sh %s \"$1\" %lld %s.results'",
			 imgs[i], STATES, KESTREL_TEST_SCRIPTS "/crash-check", sectors, imgs[i]);
		int status = crashcheck(log, args, out, sizeof(out));
		cr_log_info("%s cache=%s x-lie=%s%s on %s: %s", d->iface, d->cache, d->lie,
			    d->switch_off ? " (cache off halfway)" : "", d->xfs ? "xfs" : "ext4", out);
		/* Every workload round printed both marks, and they reached the log. */
		char marks[64];
		snprintf(marks, sizeof(marks), ", %d marks", 2 * ROUNDS * (int)n);
		cr_assert(strstr(out, marks), "%s cache=%s: the log lacks the guest's marks:\n%s",
			  d->iface, d->cache, out);
		if (d->honest) {
			cr_assert_eq(status, 0, "%s cache=%s%s: crash states failed:\n%s", d->iface, d->cache,
				     d->switch_off ? " (cache off halfway)" : "", out);
			cr_assert(strstr(out, "all good") && strstr(out, "promises kept"), "%s", out);
		} else {
			cr_assert_eq(status, 1, "%s cache=%s x-lie=%s passed:\n%s", d->iface, d->cache,
				     d->lie, out);
			cr_assert(strstr(out, "SOME FAILED"), "the crash states did not catch it:\n%s", out);
		}
	}
	run_free(&r);
}

Test(crash, virtio_blk_and_virtio_scsi_in_every_cache_mode, .timeout = CRASH_TIMEOUT)
{
	static const struct crash_disk disks[] = {
		{"virtio-blk", "writeback", "none", true, true, false},
		{"virtio-blk", "none", "none", true, false, false},
		{"virtio-blk", "writethrough", "none", true, false, false},
		{"virtio-blk", "directsync", "none", true, false, false},
		{"virtio-scsi", "writeback", "none", true, true, false},
		{"virtio-scsi", "none", "none", true, false, false},
		{"virtio-scsi", "writethrough", "none", true, false, false},
		{"virtio-scsi", "directsync", "none", true, false, false},
	};
	crash_matrix(disks, 8, "");
}

Test(crash, ahci_in_every_cache_mode_and_the_controls_fail, .timeout = CRASH_TIMEOUT)
{
	static const struct crash_disk disks[] = {
		{"ahci", "writeback", "none", true, true, false},
		{"ahci", "none", "none", true, false, false},
		{"ahci", "writethrough", "none", true, false, false},
		{"ahci", "directsync", "none", true, false, false},
		{"virtio-blk", "unsafe", "none", false, false, false},
		{"virtio-blk", "writeback", "no-flush", false, false, false},
	};
	crash_matrix(disks, 6, "");
}

Test(crash, ahci_with_fua_in_every_cache_mode_and_xfs_on_each_frontend, .timeout = CRASH_TIMEOUT)
{
	static const struct crash_disk disks[] = {
		{"ahci", "writeback", "none", true, true, false},
		{"ahci", "none", "none", true, false, false},
		{"ahci", "writethrough", "none", true, false, false},
		{"ahci", "directsync", "none", true, false, false},
		{"virtio-blk", "writeback", "none", true, true, true},
		{"virtio-scsi", "none", "none", true, false, true},
		{"ahci", "writeback", "none", true, false, true},
		{"virtio-blk", "unsafe", "none", false, false, true},
	};
	crash_matrix(disks, 8, "libata.fua=1");
}

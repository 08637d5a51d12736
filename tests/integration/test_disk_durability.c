/*
 * What the guest was told is durable survives the host's failures, in a real
 * guest: a host file system that runs out of space under a sparse image
 * (werror=report and werror=stop), the guest switching its cache off and on
 * under write load on every interface, and kestrel ended by a signal with
 * cached writes no flush has covered.
 *
 * The full host file system is a small ext4 on a loop device (root inside
 * the test rig); each block the guest wrote and flushed is checked on it.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/integration/disk_helpers.h"

#define FULL_FS_MB 64
#define FILLER_MB 40 /* leaves about 18 MiB for the image */
#define FILL_BLOCKS 28

struct full_fs {
	char dir[1024];   /* mount point */
	char fsimg[1100]; /* the small file system's own image */
	char image[1100]; /* the guest's sparse disk image on it */
	char filler[1100];
};

static void sh(const char *what, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sh(const char *what, const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	cr_assert_eq(system(cmd), 0, "%s failed: %s", what, cmd);
}

/* A FULL_FS_MB ext4, loop-mounted, with a FILLER_MB file and a 128 MiB sparse image. */
static void full_fs_make(struct full_fs *f)
{
	snprintf(f->dir, sizeof(f->dir), "%s", scratch_path("fullfs"));
	snprintf(f->fsimg, sizeof(f->fsimg), "%s.img", f->dir);
	snprintf(f->image, sizeof(f->image), "%s/disk.img", f->dir);
	snprintf(f->filler, sizeof(f->filler), "%s/filler", f->dir);
	sh("making the small host file system",
	   "mkdir -p '%s' && truncate -s %dM '%s' && mkfs.ext4 -q -F '%s' && mount -o loop '%s' '%s'",
	   f->dir, FULL_FS_MB, f->fsimg, f->fsimg, f->fsimg, f->dir);
	sh("filling it", "fallocate -l %dM '%s' && truncate -s 128M '%s'", FILLER_MB, f->filler,
	   f->image);
}

static void full_fs_remove(struct full_fs *f)
{
	sh("unmounting the small host file system", "umount '%s' && rm -rf '%s' '%s'", f->dir,
	   f->dir, f->fsimg);
}

/*
 * Every block the guest reported as written and flushed (FILL_SUM_i) reads
 * back from the image, on the host, with the same contents. Returns how many.
 */
static unsigned check_filled_blocks(const struct run *r, const char *image)
{
	unsigned n = 0;
	for (unsigned i = 0; i < FILL_BLOCKS; i++) {
		char key[32], want[80], got[80], cmd[1400];
		snprintf(key, sizeof(key), "FILL_SUM_%u", i);
		if (!guest_value(r, key, want, sizeof(want)))
			break;
		snprintf(cmd, sizeof(cmd), "dd if='%s' bs=1M skip=%u count=1 status=none | sha256sum",
			 image, i);
		FILE *p = popen(cmd, "r");
		cr_assert_not_null(p);
		cr_assert_not_null(fgets(got, sizeof(got), p));
		pclose(p);
		got[strcspn(got, " \n")] = 0;
		cr_assert_str_eq(got, want, "block %u, which the guest was told is durable, differs", i);
		n++;
	}
	return n;
}

static const char *fill_cmd(void)
{
	static char cmd[128];
	snprintf(cmd, sizeof(cmd), "disk-test fill /dev/vda %d; sync", FILL_BLOCKS);
	return cmd;
}

Test(disk_durability, a_full_host_disk_is_an_io_error_and_loses_nothing_acknowledged,
     .timeout = DISK_TIMEOUT)
{
	struct full_fs f;
	full_fs_make(&f);
	char spec[1400];
	snprintf(spec, sizeof(spec), "path=%s,if=virtio-blk,cache=writeback,werror=report", f.image);
	const char *disks[] = {spec};
	struct run r = boot_with_disks(disks, 1, "1", fill_cmd());
	char at[16];
	cr_assert_not_null(guest_value(&r, "FILL_FAILED_AT", at, sizeof(at)),
			   "the guest never saw the host run out of space:\n%s", r.out);
	cr_assert_gt(atoi(at), 0, "%s", r.out);
	cr_assert_lt(atoi(at), FILL_BLOCKS);
	cr_assert_gt(counter(&r, 0, "errors"), 0);
	cr_assert_eq(counter(&r, 0, "held"), 0);
	unsigned ok = check_filled_blocks(&r, f.image);
	cr_assert_eq(ok, (unsigned)atoi(at), "blocks reported durable: %u, failed at %s", ok, at);
	run_free(&r);
	full_fs_remove(&f);
}

struct stop_watch {
	struct full_fs *fs;
	bool resumed;
};

/* When kestrel says the host is full: free the space, then SIGUSR1. */
static void free_space_when_paused(int pid, const char *out, void *arg)
{
	struct stop_watch *w = arg;
	if (w->resumed || !strstr(out, "the host file system is full"))
		return;
	sh("freeing host space", "rm -f '%s'", w->fs->filler);
	cr_assert_eq(kill(pid, SIGUSR1), 0);
	w->resumed = true;
}

Test(disk_durability, werror_stop_pauses_the_guest_until_space_is_freed_and_loses_nothing,
     .timeout = DISK_TIMEOUT)
{
	struct full_fs f;
	full_fs_make(&f);
	char spec[1400];
	snprintf(spec, sizeof(spec), "path=%s,if=virtio-blk,cache=writeback,werror=stop", f.image);
	const char *disks[] = {spec};
	struct stop_watch w = {.fs = &f};
	struct run r = boot_watched(disks, 1, fill_cmd(), free_space_when_paused, &w);
	cr_assert(w.resumed, "kestrel never held a write for lack of space:\n%s", r.out);
	cr_assert_eq(r.status, 0, "exit %d:\n%s", r.status, r.out);
	cr_assert(strstr(r.out, "KESTREL-GUEST-EXIT 0"), "%s", r.out);
	char v[16];
	cr_assert_null(guest_value(&r, "FILL_FAILED_AT", v, sizeof(v)),
		       "the guest saw an error despite werror=stop:\n%s", r.out);
	expect_value(&r, "FILL_DONE", "28");
	cr_assert_gt(counter(&r, 0, "held"), 0);
	cr_assert_eq(counter(&r, 0, "errors"), 0);
	cr_assert_eq(check_filled_blocks(&r, f.image), FILL_BLOCKS);
	run_free(&r);
	full_fs_remove(&f);
}

/* fio at depth 32 while the guest switches the cache off and on six times. */
static void cache_toggle_test(const char *iface, const char *dev)
{
	const char *img = make_image("toggle.img", 64 << 20);
	char spec[1200], cmd[128];
	snprintf(spec, sizeof(spec), "path=%s,if=%s,cache=writeback", img, iface);
	snprintf(cmd, sizeof(cmd), "disk-test cache-toggle /dev/%s 6", dev);
	const char *disks[] = {spec};
	struct run r = boot_with_disks(disks, 1, "1", cmd);
	expect_value(&r, "TOGGLE_OFFS", "6");
	expect_value(&r, "TOGGLE_FIO", "ok");
	expect_value(&r, "TOGGLE_FINAL", "write_back");
	unsigned long long writes = counter(&r, 0, "writes"), dsync = counter(&r, 0, "dsync writes");
	/* Both kinds happened: cached writes while on, durable ones while off... */
	cr_assert_gt(dsync, 0, "%s: no write while the cache was off:\n%s", iface, r.out);
	cr_assert_gt(writes - dsync, 0, "%s: no cached write", iface);
	/* ...and each switch off flushed what was cached before it. */
	cr_assert_gt(counter(&r, 0, "host flushes"), 0, "%s", r.out);
	cr_assert_eq(counter(&r, 0, "errors"), 0, "%s", r.out);
	unlink(img);
	run_free(&r);
}

Test(disk_durability, cache_switching_under_load_virtio_blk, .timeout = DISK_TIMEOUT)
{
	cache_toggle_test("virtio-blk", "vda");
}

Test(disk_durability, cache_switching_under_load_ahci, .timeout = DISK_TIMEOUT)
{
	cache_toggle_test("ahci", "sda");
}

Test(disk_durability, cache_switching_under_load_virtio_scsi, .timeout = DISK_TIMEOUT)
{
	cache_toggle_test("virtio-scsi", "sda");
}

static void terminate_after_writes(int pid, const char *out, void *arg)
{
	bool *sent = arg;
	if (*sent || !strstr(out, "UNFLUSHED_WRITES=ok"))
		return;
	cr_assert_eq(kill(pid, SIGTERM), 0);
	*sent = true;
}

Test(disk_durability, a_signal_flushes_cached_writes_before_exit, .timeout = DISK_TIMEOUT)
{
	const char *img = make_image("exit.img", 16 << 20);
	char spec[1200];
	snprintf(spec, sizeof(spec), "path=%s,if=virtio-blk,cache=writeback", img);
	const char *disks[] = {spec};
	bool sent = false;
	struct run r = boot_watched(disks, 1, "disk-test write-and-wait /dev/vda",
				    terminate_after_writes, &sent);
	cr_assert(sent, "%s", r.out);
	cr_assert_eq(r.status, 1, "exit %d:\n%s", r.status, r.out);
	cr_assert(strstr(r.out, "terminated by signal"), "%s", r.out);
	cr_assert_eq(counter(&r, 0, "flushes"), 0, "the guest flushed:\n%s", r.out);
	cr_assert_eq(counter(&r, 0, "host flushes"), 1,
		     "the cached writes were not flushed at exit:\n%s", r.out);
	unlink(img);
	run_free(&r);
}

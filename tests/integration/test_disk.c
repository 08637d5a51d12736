/*
 * Disks in a real Debian guest on real KVM: for every cache policy, what the
 * guest's block layer sees, a file system written in the guest and checked
 * on the host, fio with verification, and the backend's counters showing
 * which guest flushes reached the host. Plus the guest's write-cache switch,
 * read-only disks, and two disks at once.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/integration/harness.h"

#define DISK_TIMEOUT 420
#define DISK_SIZE (256ll << 20)

static const char *make_image(const char *name, long long size)
{
	const char *path = scratch_path(name);
	int fd = open(path, O_CREAT | O_TRUNC | O_RDWR, 0644);
	cr_assert_geq(fd, 0, "%s", path);
	cr_assert_eq(ftruncate(fd, size), 0);
	close(fd);
	return path;
}

/* Boots the tools guest with the given --disk specs and kernel arguments, and runs cmd in it. */
static struct run boot_with_disks_args(const char *const *disks, unsigned ndisks, const char *cpus,
				       const char *kargs, const char *cmd)
{
	char cmdline[1024];
	snprintf(cmdline, sizeof(cmdline), "console=ttyS0 panic=-1 quiet %s -- %s", kargs, cmd);
	const char *args[32] = {"--kernel", guest_file("vmlinux"), "--initrd",
				guest_file("initrd-tools.img"), "--mem", "512M", "--cpus", cpus,
				"--stats", "--cmdline", cmdline};
	unsigned n = 11;
	for (unsigned i = 0; i < ndisks; i++) {
		args[n++] = "--disk";
		args[n++] = disks[i];
	}
	args[n] = NULL;
	struct run r = run_kestrel(args, DISK_TIMEOUT - 20);
	cr_assert_not(r.timed_out, "guest did not power off:\n%s", r.out);
	cr_assert_eq(r.status, 0, "exit %d:\n%s", r.status, r.out);
	cr_assert(strstr(r.out, "KESTREL-GUEST-EXIT 0"), "guest command failed:\n%s", r.out);
	return r;
}

static struct run boot_with_disks(const char *const *disks, unsigned ndisks, const char *cpus,
				  const char *cmd)
{
	return boot_with_disks_args(disks, ndisks, cpus, "", cmd);
}

static void expect_value(const struct run *r, const char *key, const char *want)
{
	char v[128];
	cr_assert_not_null(guest_value(r, key, v, sizeof(v)), "guest did not report %s:\n%s", key, r->out);
	cr_assert_str_eq(v, want, "%s is '%s', want '%s':\n%s", key, v, want, r->out);
}

/* A counter from the "--stats" line of disk `disk`, e.g. "host flushes". */
static unsigned long long counter(const struct run *r, unsigned disk, const char *name)
{
	char tag[32];
	snprintf(tag, sizeof(tag), "stats: disk%u ", disk);
	const char *line = strstr(r->out, tag);
	cr_assert_not_null(line, "no stats for disk %u:\n%s", disk, r->out);
	const char *end = strchr(line, '\n');
	char key[64];
	for (const char *sep = ", "; ; sep = "): ") {
		snprintf(key, sizeof(key), "%s%s ", sep, name);
		const char *p = strstr(line, key);
		if (p && (!end || p < end))
			return strtoull(p + strlen(key), NULL, 10);
		if (!strcmp(sep, "): "))
			break;
	}
	cr_assert_fail("no counter '%s' for disk %u:\n%s", name, disk, r->out);
	return 0;
}

static void host_sha256(const char *image, const char *file, char *out, size_t len)
{
	char cmd[2048];
	snprintf(cmd, sizeof(cmd), "debugfs -R 'cat /%s' '%s' 2>/dev/null | sha256sum", file, image);
	FILE *p = popen(cmd, "r");
	cr_assert_not_null(p);
	cr_assert_not_null(fgets(out, (int)len, p));
	pclose(p);
	out[strcspn(out, " \n")] = 0;
}

/* The image is a clean ext4 and holds what the guest wrote, after power-off. */
static void host_checks_fs(const struct run *r, const char *image)
{
	char cmd[2048];
	snprintf(cmd, sizeof(cmd), "e2fsck -fn '%s' >/dev/null 2>&1", image);
	cr_assert_eq(system(cmd), 0, "e2fsck -fn found errors on %s", image);
	static const char *const files[] = {"random.bin", "numbers.txt"};
	for (unsigned i = 0; i < 2; i++) {
		char key[64], want[128], got[128];
		snprintf(key, sizeof(key), "SUM_%s", files[i]);
		cr_assert_not_null(guest_value(r, key, want, sizeof(want)), "%s", r->out);
		host_sha256(image, files[i], got, sizeof(got));
		cr_assert_str_eq(got, want, "%s differs on the host", files[i]);
	}
}

/*
 * One policy on one interface: what the guest sees, a file system written
 * in the guest and checked on the host, fio verify, and which flushes
 * reached the host. dev is the guest's name for the disk (vda, sda).
 */
static void policy_test(const char *iface, const char *dev, const char *cache, bool volatile_cache,
			bool host_flushes_expected)
{
	const char *img = make_image("disk.img", DISK_SIZE);
	char spec[1200], cmd[256], key[64];
	snprintf(spec, sizeof(spec), "path=%s,if=%s,cache=%s,serial=kestrel-%s", img, iface, cache, cache);
	const char *disks[] = {spec};
	bool ata = !strcmp(iface, "ahci");
	snprintf(cmd, sizeof(cmd), "disk-test report; %sdisk-test fs /dev/%s",
		 ata ? "disk-test ata-cache-state /dev/sda; " : "", dev);
	struct run r = boot_with_disks(disks, 1, "1", cmd);
	snprintf(key, sizeof(key), "WRITE_CACHE_%s", dev);
	expect_value(&r, key, volatile_cache ? "write_back" : "write_through");
	snprintf(key, sizeof(key), "SIZE_%s", dev);
	expect_value(&r, key, "524288");
	if (ata) {
		expect_value(&r, "DRIVER_sda", "ahci");
		expect_value(&r, "HDPARM_WCACHE_SUPPORTED", "yes");
		expect_value(&r, "HDPARM_WCACHE_ENABLED", volatile_cache ? "yes" : "no");
		expect_value(&r, "HDPARM_FLUSH_EXT", "yes");
		char v[16];
		cr_assert_not_null(guest_value(&r, "QUEUE_DEPTH_sda", v, sizeof(v)), "%s", r.out);
		cr_assert_gt(atoi(v), 1, "NCQ is not in use: queue depth %s", v);
	} else {
		char serial[64];
		snprintf(serial, sizeof(serial), "kestrel-%s", cache);
		expect_value(&r, "SERIAL_vda", serial);
	}
	expect_value(&r, "FIO_VERIFY", "ok");
	expect_value(&r, "UMOUNT", "ok");
	host_checks_fs(&r, img);

	unsigned long long flushes = counter(&r, 0, "flushes"), host = counter(&r, 0, "host flushes");
	unsigned long long writes = counter(&r, 0, "writes"), dsync = counter(&r, 0, "dsync writes");
	cr_assert_gt(writes, 0);
	cr_assert_eq(counter(&r, 0, "errors"), 0, "%s", r.out);
	if (!ata) {
		/* mkfs.ext4 discards the whole disk and zeroes its tables: both reached fallocate. */
		cr_assert_gt(counter(&r, 0, "discards"), 0, "%s", r.out);
		cr_assert_gt(counter(&r, 0, "write zeroes"), 0, "%s", r.out);
	}
	if (volatile_cache) {
		/* The guest flushes (journal commits, sync, unmount)... */
		cr_assert_gt(flushes, 0, "%s cache=%s: the guest never flushed:\n%s", iface, cache, r.out);
		cr_assert_eq(dsync, 0, "%s cache=%s: cached writes went out durable", iface, cache);
		/* ...and they reach the host, except for unsafe. */
		if (host_flushes_expected)
			cr_assert_gt(host, 0, "%s cache=%s: no guest flush reached the host", iface, cache);
		else
			cr_assert_eq(host, 0, "%s cache=%s: %llu host flushes", iface, cache, host);
	} else {
		/* No cache advertised: no flushes from the guest, and every write durable. */
		cr_assert_eq(flushes, 0, "%s cache=%s: the guest flushed %llu times", iface, cache, flushes);
		cr_assert_eq(dsync, writes, "%s cache=%s: %llu of %llu writes durable", iface, cache, dsync, writes);
	}
	unlink(img);
	run_free(&r);
}

Test(disk, cache_writeback, .timeout = DISK_TIMEOUT) { policy_test("virtio-blk", "vda", "writeback", true, true); }
Test(disk, cache_none, .timeout = DISK_TIMEOUT) { policy_test("virtio-blk", "vda", "none", true, true); }
Test(disk, cache_writethrough, .timeout = DISK_TIMEOUT) { policy_test("virtio-blk", "vda", "writethrough", false, false); }
Test(disk, cache_directsync, .timeout = DISK_TIMEOUT) { policy_test("virtio-blk", "vda", "directsync", false, false); }
Test(disk, cache_unsafe, .timeout = DISK_TIMEOUT) { policy_test("virtio-blk", "vda", "unsafe", true, false); }

Test(ahci, cache_writeback, .timeout = DISK_TIMEOUT) { policy_test("ahci", "sda", "writeback", true, true); }
Test(ahci, cache_none, .timeout = DISK_TIMEOUT) { policy_test("ahci", "sda", "none", true, true); }
Test(ahci, cache_writethrough, .timeout = DISK_TIMEOUT) { policy_test("ahci", "sda", "writethrough", false, false); }
Test(ahci, cache_directsync, .timeout = DISK_TIMEOUT) { policy_test("ahci", "sda", "directsync", false, false); }
Test(ahci, cache_unsafe, .timeout = DISK_TIMEOUT) { policy_test("ahci", "sda", "unsafe", true, false); }

Test(ahci, hdparm_switches_the_write_cache_and_writes_follow, .timeout = DISK_TIMEOUT)
{
	const char *img = make_image("disk.img", 64 << 20);
	char spec[1200];
	snprintf(spec, sizeof(spec), "path=%s,if=ahci,cache=writeback", img);
	const char *disks[] = {spec};
	struct run r = boot_with_disks(disks, 1, "1", "disk-test ata-cache /dev/sda 64");
	expect_value(&r, "HDPARM_WCACHE_ENABLED", "yes");
	expect_value(&r, "HDPARM_WCACHE_ENABLED_W0", "no");
	expect_value(&r, "WRITE_CACHE_W0", "write_through");
	expect_value(&r, "W0_WRITES", "ok");
	expect_value(&r, "HDPARM_WCACHE_ENABLED_W1", "yes");
	expect_value(&r, "WRITE_CACHE_W1", "write_back");
	unsigned long long dsync = counter(&r, 0, "dsync writes");
	cr_assert_geq(dsync, 64, "only %llu durable writes with the cache off", dsync);
	unlink(img);
	run_free(&r);
}

Test(ahci, fua_writes_reach_the_backend_as_durable_writes, .timeout = DISK_TIMEOUT)
{
	const char *img = make_image("disk.img", 64 << 20);
	char spec[1200];
	snprintf(spec, sizeof(spec), "path=%s,if=ahci,cache=writeback", img);
	const char *disks[] = {spec};
	struct run r = boot_with_disks_args(disks, 1, "1", "libata.fua=1",
					    "disk-test report; disk-test fua /dev/sda 32");
	expect_value(&r, "FUA_sda", "1");
	expect_value(&r, "FUA_WRITES", "ok");
	unsigned long long fua = counter(&r, 0, "fua writes");
	cr_assert_geq(fua, 32, "only %llu FUA writes reached the backend", fua);
	cr_assert_geq(counter(&r, 0, "dsync writes"), fua);
	unlink(img);
	run_free(&r);
}

Test(ahci, next_to_a_virtio_disk, .timeout = DISK_TIMEOUT)
{
	const char *a = make_image("a.img", 64 << 20), *b = make_image("b.img", 32 << 20);
	char sa[1200], sb[1200];
	snprintf(sa, sizeof(sa), "path=%s,if=ahci,cache=writethrough", a);
	snprintf(sb, sizeof(sb), "path=%s,if=virtio-blk,cache=writeback", b);
	const char *disks[] = {sa, sb};
	struct run r = boot_with_disks(disks, 2, "2",
				       "disk-test report; "
				       "dd if=/dev/urandom of=/dev/sda bs=64k count=8 oflag=direct 2>/dev/null; "
				       "dd if=/dev/urandom of=/dev/vda bs=64k count=8 oflag=direct 2>/dev/null");
	expect_value(&r, "DRIVER_sda", "ahci");
	expect_value(&r, "WRITE_CACHE_sda", "write_through");
	expect_value(&r, "WRITE_CACHE_vda", "write_back");
	expect_value(&r, "SIZE_sda", "131072");
	expect_value(&r, "SIZE_vda", "65536");
	cr_assert_eq(counter(&r, 0, "dsync writes"), counter(&r, 0, "writes"));
	cr_assert_eq(counter(&r, 1, "dsync writes"), 0);
	unlink(a);
	unlink(b);
	run_free(&r);
}

Test(disk, guest_turning_the_cache_off_makes_writes_durable, .timeout = DISK_TIMEOUT)
{
	const char *img = make_image("disk.img", 64 << 20);
	char spec[1200];
	snprintf(spec, sizeof(spec), "path=%s,if=virtio-blk,cache=writeback", img);
	const char *disks[] = {spec};
	struct run r = boot_with_disks(disks, 1, "1", "disk-test report; disk-test cache-off /dev/vda 64");
	expect_value(&r, "WRITE_CACHE_vda", "write_back");
	expect_value(&r, "AFTER_SWITCH", "write_through");
	expect_value(&r, "CACHE_OFF_WRITES", "ok");
	/* 64 direct 4 KiB writes after the switch, each one durable. */
	unsigned long long dsync = counter(&r, 0, "dsync writes");
	cr_assert_geq(dsync, 64, "only %llu durable writes after the guest turned the cache off", dsync);
	cr_assert_eq(counter(&r, 0, "writes"), dsync, "a write after the switch was cached");
	unlink(img);
	run_free(&r);
}

Test(disk, readonly_refuses_writes_and_leaves_the_image_alone, .timeout = DISK_TIMEOUT)
{
	const char *img = make_image("ro.img", 16 << 20);
	char cmd[2048];
	snprintf(cmd, sizeof(cmd), "head -c 1048576 /dev/urandom | dd of='%s' conv=notrunc status=none", img);
	cr_assert_eq(system(cmd), 0);
	char before[128], after[128];
	snprintf(cmd, sizeof(cmd), "sha256sum '%s'", img);
	FILE *p = popen(cmd, "r");
	cr_assert(fgets(before, sizeof(before), p));
	pclose(p);

	char spec[1200];
	snprintf(spec, sizeof(spec), "path=%s,if=virtio-blk,readonly=on", img);
	const char *disks[] = {spec};
	struct run r = boot_with_disks(disks, 1, "1", "disk-test report; disk-test readonly /dev/vda");
	expect_value(&r, "RO_vda", "1");
	expect_value(&r, "RO_READ", "ok");
	char v[16];
	cr_assert_not_null(guest_value(&r, "RO_OPEN_WRITE", v, sizeof(v)));
	cr_assert_str_neq(v, "0", "a write to a read-only disk succeeded");
	cr_assert_not_null(guest_value(&r, "RO_FORCED_WRITE", v, sizeof(v)));
	cr_assert_str_neq(v, "0", "a write after blockdev --setrw succeeded");
	cr_assert_gt(counter(&r, 0, "reads"), 0);
	cr_assert_eq(counter(&r, 0, "writes"), 0, "a write reached the backend's host path");

	p = popen(cmd, "r");
	cr_assert(fgets(after, sizeof(after), p));
	pclose(p);
	cr_assert_str_eq(before, after, "the read-only image changed");
	unlink(img);
	run_free(&r);
}

Test(disk, two_disks_with_different_policies_and_queues, .timeout = DISK_TIMEOUT)
{
	const char *a = make_image("a.img", 64 << 20), *b = make_image("b.img", 32 << 20);
	char sa[1200], sb[1200];
	snprintf(sa, sizeof(sa), "path=%s,if=virtio-blk,cache=writeback,serial=first", a);
	snprintf(sb, sizeof(sb), "path=%s,if=virtio-blk,cache=directsync,serial=second,queues=1", b);
	const char *disks[] = {sa, sb};
	struct run r = boot_with_disks(disks, 2, "2",
				       "disk-test report; "
				       "dd if=/dev/urandom of=/dev/vda bs=64k count=16 oflag=direct 2>/dev/null; "
				       "dd if=/dev/urandom of=/dev/vdb bs=64k count=16 oflag=direct 2>/dev/null; sync");
	expect_value(&r, "WRITE_CACHE_vda", "write_back");
	expect_value(&r, "WRITE_CACHE_vdb", "write_through");
	expect_value(&r, "SERIAL_vda", "first");
	expect_value(&r, "SERIAL_vdb", "second");
	expect_value(&r, "QUEUES_vda", "2");
	expect_value(&r, "QUEUES_vdb", "1");
	expect_value(&r, "SIZE_vdb", "65536");
	cr_assert_gt(counter(&r, 0, "writes"), 0);
	cr_assert_eq(counter(&r, 0, "dsync writes"), 0);
	cr_assert_gt(counter(&r, 1, "writes"), 0);
	cr_assert_eq(counter(&r, 1, "dsync writes"), counter(&r, 1, "writes"));
	cr_assert_eq(counter(&r, 1, "flushes"), 0);
	unlink(a);
	unlink(b);
	run_free(&r);
}

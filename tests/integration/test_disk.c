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

#include "tests/integration/disk_helpers.h"

Test(disk, cache_writeback, .timeout = DISK_TIMEOUT) { policy_test("virtio-blk", "vda", "writeback", true, true); }
Test(disk, cache_none, .timeout = DISK_TIMEOUT) { policy_test("virtio-blk", "vda", "none", true, true); }
Test(disk, cache_writethrough, .timeout = DISK_TIMEOUT) { policy_test("virtio-blk", "vda", "writethrough", false, false); }
Test(disk, cache_directsync, .timeout = DISK_TIMEOUT) { policy_test("virtio-blk", "vda", "directsync", false, false); }
Test(disk, cache_unsafe, .timeout = DISK_TIMEOUT) { policy_test("virtio-blk", "vda", "unsafe", true, false); }

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

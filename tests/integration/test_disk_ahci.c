/*
 * AHCI (SATA) disks in a real Debian guest on real KVM: every cache policy,
 * hdparm's view of the ATA write cache and its switch, FUA through NCQ, and
 * an AHCI disk next to a virtio one.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <unistd.h>

#include "tests/integration/disk_helpers.h"

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


/*
 * virtio-scsi disks in a real Debian guest on real KVM: every cache policy
 * through virtio_scsi and sd, the caching mode page as sg_modes and sysfs
 * read it, sdparm's and the kernel's MODE SELECT as the write-cache switch,
 * FUA and SYNCHRONIZE CACHE reaching the backend, sg_inq / sg_vpd, and all
 * three disk interfaces in one guest.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/integration/disk_helpers.h"

Test(scsi, cache_writeback, .timeout = DISK_TIMEOUT) { policy_test("virtio-scsi", "sda", "writeback", true, true); }
Test(scsi, cache_none, .timeout = DISK_TIMEOUT) { policy_test("virtio-scsi", "sda", "none", true, true); }
Test(scsi, cache_writethrough, .timeout = DISK_TIMEOUT) { policy_test("virtio-scsi", "sda", "writethrough", false, false); }
Test(scsi, cache_directsync, .timeout = DISK_TIMEOUT) { policy_test("virtio-scsi", "sda", "directsync", false, false); }
Test(scsi, cache_unsafe, .timeout = DISK_TIMEOUT) { policy_test("virtio-scsi", "sda", "unsafe", true, false); }

Test(scsi, mode_select_switches_the_write_cache_and_sg_sync_flushes, .timeout = DISK_TIMEOUT)
{
	const char *img = make_image("disk.img", 64 << 20);
	char spec[1200];
	snprintf(spec, sizeof(spec), "path=%s,if=virtio-scsi,cache=writeback", img);
	const char *disks[] = {spec};
	struct run r = boot_with_disks(disks, 1, "1", "disk-test scsi-cache /dev/sda 64");
	expect_value(&r, "SG_MODES_PAGE", "8");
	expect_value(&r, "SG_MODES_WCE", "1");
	/* sdparm's MODE SELECT turns it off: the page, sd and the block layer agree. */
	expect_value(&r, "SDPARM_W0", "ok");
	expect_value(&r, "SG_MODES_WCE_W0", "0");
	expect_value(&r, "CACHE_TYPE_W0", "write_through");
	expect_value(&r, "WRITE_CACHE_W0", "write_through");
	expect_value(&r, "W0_WRITES", "ok");
	/* ...and on again. */
	expect_value(&r, "SDPARM_W1", "ok");
	expect_value(&r, "SG_MODES_WCE_W1", "1");
	expect_value(&r, "CACHE_TYPE_W1", "write_back");
	expect_value(&r, "WRITE_CACHE_W1", "write_back");
	expect_value(&r, "SG_SYNC_OK", "5");
	/* The kernel's own switch (sd sends MODE SELECT, then reads the page back). */
	expect_value(&r, "KERNEL_SWITCH", "ok");
	expect_value(&r, "CACHE_TYPE_K", "write_through");
	expect_value(&r, "SG_MODES_WCE_K", "0");

	/* 64 direct writes with the cache off, each durable; 8 cached ones after it. */
	unsigned long long dsync = counter(&r, 0, "dsync writes");
	cr_assert_eq(dsync, 64, "%llu durable writes, want the 64 made with the cache off", dsync);
	cr_assert_eq(counter(&r, 0, "writes"), 64 + 8);
	/* Five sg_sync: SYNCHRONIZE CACHE reaches the backend, and the cached writes the host. */
	unsigned long long flushes = counter(&r, 0, "flushes");
	cr_assert_geq(flushes, 5, "only %llu of 5 SYNCHRONIZE CACHE reached the backend", flushes);
	cr_assert_geq(counter(&r, 0, "host flushes"), 1, "the cached writes were never flushed");
	cr_assert_eq(counter(&r, 0, "errors"), 0, "%s", r.out);
	unlink(img);
	run_free(&r);
}

Test(scsi, fua_writes_and_identity_pages, .timeout = DISK_TIMEOUT)
{
	const char *img = make_image("disk.img", 64 << 20);
	char spec[1200];
	snprintf(spec, sizeof(spec), "path=%s,if=virtio-scsi,cache=none,serial=scsi-serial-9", img);
	const char *disks[] = {spec};
	struct run r = boot_with_disks(disks, 1, "1",
				       "disk-test report; disk-test fua /dev/sda 32; disk-test scsi-inq /dev/sda");
	/* No kernel argument needed: sd turns FUA on from DPOFUA in the mode header. */
	expect_value(&r, "FUA_sda", "1");
	expect_value(&r, "FUA_WRITES", "ok");
	unsigned long long fua = counter(&r, 0, "fua writes");
	cr_assert_geq(fua, 32, "only %llu FUA writes reached the backend", fua);
	cr_assert_geq(counter(&r, 0, "dsync writes"), fua, "a FUA write was not durable");

	expect_value(&r, "SG_INQ", "ok");
	expect_value(&r, "INQ_VENDOR", "KESTREL");
	expect_value(&r, "INQ_VERSION", "0x05");
	expect_value(&r, "INQ_CMDQUE", "1");
	expect_value(&r, "VPD_SN", "ok");
	expect_value(&r, "VPD_SERIAL", "scsi-serial-9");
	expect_value(&r, "VPD_DI", "ok");
	expect_value(&r, "VPD_DI_VENDOR", "ok");
	expect_value(&r, "VPD_BL", "ok");
	expect_value(&r, "VPD_MAX_UNMAP", "2097152");
	expect_value(&r, "VPD_LBPV", "ok");
	expect_value(&r, "VPD_LBPU", "1");
	expect_value(&r, "VPD_BDC", "ok");
	expect_value(&r, "VPD_NONROTATING", "ok");
	unlink(img);
	run_free(&r);
}

/* The guest's name for the disk behind `driver`, and its size in sectors. */
static void expect_sd_disk(const struct run *r, const char *driver, const char *size)
{
	char key[64], name[16];
	snprintf(key, sizeof(key), "DISK_%s", driver);
	cr_assert_not_null(guest_value(r, key, name, sizeof(name)), "no disk on %s:\n%s", driver, r->out);
	snprintf(key, sizeof(key), "SIZE_%s", name);
	expect_value(r, key, size);
}

Test(scsi, virtio_blk_ahci_and_virtio_scsi_in_one_guest, .timeout = DISK_TIMEOUT)
{
	const char *a = make_image("a.img", 64 << 20), *b = make_image("b.img", 32 << 20);
	const char *c = make_image("c.img", 48 << 20), *d = make_image("d.img", 16 << 20);
	char sa[1200], sb[1200], sc[1200], sd[1200];
	snprintf(sa, sizeof(sa), "path=%s,if=virtio-scsi,cache=writeback", a);
	snprintf(sb, sizeof(sb), "path=%s,if=ahci,cache=writethrough", b);
	snprintf(sc, sizeof(sc), "path=%s,if=virtio-blk,cache=directsync", c);
	snprintf(sd, sizeof(sd), "path=%s,if=virtio-scsi,cache=directsync", d);
	const char *disks[] = {sa, sb, sc, sd};
	struct run r = boot_with_disks(disks, 4, "2",
				       "disk-test report; for x in /dev/sd? /dev/vda; do "
				       "dd if=/dev/urandom of=$x bs=64k count=8 oflag=direct 2>/dev/null; done");
	expect_sd_disk(&r, "ahci", "65536");
	expect_value(&r, "SIZE_vda", "98304");
	/* Two virtio-scsi disks on one controller: targets 0 and 1. */
	unsigned scsi_disks = 0;
	for (const char *p = r.out; (p = strstr(p, "DRIVER_sd")); p++)
		scsi_disks += !strncmp(strchr(p, '=') + 1, "virtio_scsi", 11);
	cr_assert_eq(scsi_disks, 2, "%s", r.out);
	for (unsigned i = 0; i < 4; i++) {
		cr_assert_geq(counter(&r, i, "writes"), 8, "disk %u got no writes:\n%s", i, r.out);
		cr_assert_eq(counter(&r, i, "errors"), 0);
	}
	cr_assert_eq(counter(&r, 0, "dsync writes"), 0, "the writeback disk wrote through");
	for (unsigned i = 1; i < 4; i++)
		cr_assert_eq(counter(&r, i, "dsync writes"), counter(&r, i, "writes"),
			     "disk %u has no cache and wrote through only some writes", i);
	unlink(a);
	unlink(b);
	unlink(c);
	unlink(d);
	run_free(&r);
}

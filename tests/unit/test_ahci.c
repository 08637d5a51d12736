/*
 * The AHCI controller and ATA disk with a fake driver in guarded fake guest
 * memory (touching anything outside it crashes the test) and a recording
 * block engine. No KVM.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "devices/ahci.h"
#include "tests/unit/fake_ahci.h"
#include "tests/unit/fake_guest.h"
#include "tests/unit/rec_engine.h"

#define RAM (1u << 20)
#define CLB 0x1000ull
#define FB 0x2000ull
#define TABLE 0x3000ull /* command tables, 0x100 apart */
#define BUF 0x10000ull

static uint8_t *mem;
static struct guest_mem gm;
static struct loop loop;
static struct blk blk;
static struct rec_engine rec;
static struct pci_bus pci;
static struct ahci h;

static void w32(unsigned off, uint32_t v)
{
	fake_ahci_w32(&h, off, v);
}

static uint32_t r32(unsigned off)
{
	return fake_ahci_r32(&h, off);
}

#define P(reg) (0x100 + (reg))

static void run(void)
{
	/* What the loop thread does after a kick. */
	ahci_process(&h);
}

static void setup_mode(enum blk_cache mode)
{
	mem = fake_guest_map(&gm, RAM);
	cr_assert_eq(loop_init(&loop, 8), 0);
	rec_engine_init(&rec);
	blk_init_fake(&blk, -1, 64 << 20, mode, false);
	snprintf(blk.serial, sizeof(blk.serial), "SN-AHCI");
	blk_attach(&blk, &loop, &rec.e);
	struct blk *disks[] = {&blk};
	pci_bus_init(&pci);
	ahci_init(&h, disks, 1, 0xC0000000, -1, NULL, &gm);
	cr_assert_eq(pci_plug(&pci, 1, &h.pci), 0);
	pci_config_write(&pci, 1, 0x04, 2, 0x6); /* memory decode, bus master */

	/* What Linux's ahci does before issuing commands. */
	w32(P(0x00), CLB);
	w32(P(0x08), FB);
	w32(P(0x14), 0xFDC000FF);
	w32(0x04, 0x80000002); /* AE, IE */
	w32(P(0x18), 0x10);    /* FRE */
	w32(P(0x18), 0x11);    /* ST */
	cr_assert(r32(P(0x18)) & (1u << 15), "CR follows ST");
	cr_assert(r32(P(0x18)) & (1u << 14), "FR follows FRE");
}

static void teardown(void)
{
	ahci_destroy(&h);
	pci_bus_destroy(&pci);
	loop_destroy(&loop);
	fake_guest_unmap(mem, RAM);
}

TestSuite(ahci, .fini = teardown);

/* Slot `slot`: an H2D FIS with cmd/lba/count/features/device and PRD entries. */
static void command(unsigned slot, uint8_t cmd, uint64_t lba, uint16_t count, uint16_t features,
		    uint8_t device, const uint64_t *prd_addr, const uint32_t *prd_len, unsigned nprd)
{
	struct fake_ata_cmd c = {cmd, lba, count, features, device, prd_addr, prd_len, nprd};
	fake_ahci_command(mem, CLB, TABLE + 0x1000ull * slot, slot, &c);
}

static void issue(unsigned slot)
{
	w32(P(0x38), 1u << slot);
	run();
}

static uint16_t identify_word(unsigned w)
{
	uint64_t a[] = {BUF};
	uint32_t l[] = {512};
	command(0, ATA_CMD_IDENTIFY, 0, 0, 0, 0, a, l, 1);
	issue(0);
	cr_assert_eq(r32(P(0x38)), 0, "IDENTIFY still in PxCI");
	cr_assert_eq(mem[FB + 0x20], 0x5F, "PIO Setup FIS");
	cr_assert_eq(mem[FB + 0x20 + 15], ATA_STATUS_OK, "E_Status");
	uint16_t v;
	memcpy(&v, mem + BUF + 2 * w, 2);
	return v;
}

Test(ahci, identify_is_honest_about_the_write_cache_for_every_policy)
{
	static const enum blk_cache modes[] = {BLK_CACHE_WRITEBACK, BLK_CACHE_NONE, BLK_CACHE_UNSAFE,
					       BLK_CACHE_WRITETHROUGH, BLK_CACHE_DIRECTSYNC};
	for (unsigned i = 0; i < 5; i++) {
		setup_mode(modes[i]);
		bool vol = i < 3;
		cr_assert_eq(!!(identify_word(82) & (1 << 5)), vol, "mode %u: supported", i);
		cr_assert_eq(!!(identify_word(85) & (1 << 5)), vol, "mode %u: enabled", i);
		cr_assert_eq(identify_word(87) >> 14, 1, "word 87 valid");
		cr_assert_eq(identify_word(83) & 0xF400 & ~0x8000, 0x4000 | 1 << 13 | 1 << 12 | 1 << 10);
		cr_assert(identify_word(84) & (1 << 6), "FUA");
		cr_assert_eq(identify_word(75) & 0x1F, 31, "queue depth 32");
		cr_assert(identify_word(76) & (1 << 8), "NCQ");
		uint64_t cap = 0;
		for (unsigned w = 0; w < 4; w++)
			cap |= (uint64_t)identify_word(100 + w) << (16 * w);
		cr_assert_eq(cap, (64 << 20) / 512);
		/* Serial "SN-AHCI" with the first character in the high byte. */
		cr_assert_eq(identify_word(10), 'S' << 8 | 'N');
		uint8_t sum = 0;
		for (unsigned b = 0; b < 512; b++)
			sum = (uint8_t)(sum + mem[BUF + b]);
		cr_assert_eq(sum, 0, "checksum");
		cr_assert_eq(mem[BUF + 510], 0xA5);
		teardown();
	}
	setup_mode(BLK_CACHE_WRITEBACK);
}

Test(ahci, set_features_switches_the_cache_and_identify_follows)
{
	setup_mode(BLK_CACHE_WRITEBACK);
	command(0, ATA_CMD_SET_FEATURES, 0, 0, 0x82, 0, NULL, NULL, 0);
	issue(0);
	cr_assert_eq(r32(P(0x20)) & 0xFF, ATA_STATUS_OK);
	cr_assert_not(blk_write_cache_enabled(&blk));
	cr_assert_not(identify_word(85) & (1 << 5));
	command(0, ATA_CMD_SET_FEATURES, 0, 0, 0x02, 0, NULL, NULL, 0);
	issue(0);
	cr_assert(identify_word(85) & (1 << 5));
	teardown();

	/* One rule with SCSI: asking a disk with no cache for one is refused. */
	setup_mode(BLK_CACHE_WRITETHROUGH);
	command(0, ATA_CMD_SET_FEATURES, 0, 0, 0x02, 0, NULL, NULL, 0);
	issue(0);
	cr_assert_eq(r32(P(0x20)) & 0xFFFF, ATA_ABRT << 8 | ATA_STATUS_ERR, "aborted");
	cr_assert_not(blk_write_cache_enabled(&blk), "no cache to turn on under writethrough");
}

Test(ahci, cache_off_completes_only_once_the_cached_writes_are_durable)
{
	setup_mode(BLK_CACHE_WRITEBACK);
	uint64_t a[] = {BUF};
	uint32_t l[] = {0x1000};
	command(3, ATA_CMD_WRITE_DMA_EXT, 100, 8, 0, 0x40, a, l, 1);
	issue(3);
	rec_engine_complete(&rec, 0, 4096);
	cr_assert_eq(r32(P(0x38)), 0);
	command(0, ATA_CMD_SET_FEATURES, 0, 0, 0x82, 0, NULL, NULL, 0);
	issue(0);
	cr_assert_eq(rec.n, 2);
	cr_assert_eq(rec.io[1].kind, BLK_IO_FDATASYNC);
	cr_assert_eq(r32(P(0x38)), 1, "SET FEATURES 0x82 done before the cached write was durable");
	rec_engine_complete(&rec, 1, 0);
	cr_assert_eq(r32(P(0x38)), 0);
	cr_assert_eq(r32(P(0x20)) & 0xFF, ATA_STATUS_OK);
	cr_assert_eq(blk.stats.flushes, 0, "the switch's flush is not counted as a guest FLUSH");
	teardown();

	/* If that flush fails, the command fails: the guest learns of it. */
	setup_mode(BLK_CACHE_WRITEBACK);
	command(3, ATA_CMD_WRITE_DMA_EXT, 100, 8, 0, 0x40, a, l, 1);
	issue(3);
	rec_engine_complete(&rec, 0, 4096);
	command(0, ATA_CMD_SET_FEATURES, 0, 0, 0x82, 0, NULL, NULL, 0);
	issue(0);
	rec_engine_complete(&rec, 1, -EIO);
	cr_assert_eq(r32(P(0x20)) & 0xFF, ATA_STATUS_ERR);
}

Test(ahci, dma_write_and_flush_go_through_the_backend)
{
	setup_mode(BLK_CACHE_WRITEBACK);
	uint64_t a[] = {BUF, BUF + 0x4000};
	uint32_t l[] = {0x1000, 0x1000};
	command(3, ATA_CMD_WRITE_DMA_EXT, 100, 16, 0, 0x40, a, l, 2);
	issue(3);
	cr_assert_eq(rec.n, 1);
	cr_assert_eq(rec.io[0].kind, BLK_IO_WRITEV);
	cr_assert_eq(rec.io[0].offset, 100 * 512);
	cr_assert_eq(rec.io[0].niov, 2);
	cr_assert_eq(rec.io[0].iov[1].iov_base, mem + BUF + 0x4000);
	cr_assert_not(rec.io[0].rw_flags & RWF_DSYNC);
	cr_assert_eq(r32(P(0x38)), 1u << 3, "not done before the host write");
	rec_engine_complete(&rec, 0, 8192);
	cr_assert_eq(r32(P(0x38)), 0);
	cr_assert(r32(P(0x10)) & 1, "D2H register FIS interrupt");
	cr_assert_eq(mem[FB + 0x40], 0x34);
	uint32_t prdbc;
	memcpy(&prdbc, mem + CLB + 32 * 3 + 4, 4);
	cr_assert_eq(prdbc, 8192);
	cr_assert(r32(0x08) & 1, "HBA IS has the port");

	command(0, ATA_CMD_WRITE_DMA_FUA_EXT, 0, 1, 0, 0x40, a, l, 1);
	issue(0);
	cr_assert(rec.io[1].rw_flags & RWF_DSYNC, "FUA: durable before completion");
	rec_engine_complete(&rec, 1, 512);
	cr_assert_eq(blk.stats.fua_writes, 1);

	command(0, ATA_CMD_FLUSH_EXT, 0, 0, 0, 0, NULL, NULL, 0);
	issue(0);
	cr_assert_eq(rec.io[2].kind, BLK_IO_FDATASYNC, "the cached write is flushed");
	cr_assert_eq(r32(P(0x38)), 1);
	rec_engine_complete(&rec, 2, 0);
	cr_assert_eq(r32(P(0x38)), 0);
	cr_assert_eq(blk.stats.flushes, 1);
}

Test(ahci, ncq_completes_out_of_order_with_set_device_bits)
{
	setup_mode(BLK_CACHE_WRITEBACK);
	uint64_t a[] = {BUF};
	uint32_t l[] = {4096};
	for (unsigned t = 0; t < 3; t++) {
		/* READ FPDMA QUEUED: count in features, tag in count[7:3]. */
		command(t, ATA_CMD_READ_FPDMA, 8 * t, (uint16_t)(t << 3), 8, 0x40, a, l, 1);
		w32(P(0x34), 1u << t);
	}
	w32(P(0x38), 0x7);
	run();
	cr_assert_eq(rec.n, 3);
	cr_assert_eq(r32(P(0x38)), 0, "queued commands leave PxCI at once");
	cr_assert_eq(r32(P(0x34)), 0x7);
	rec_engine_complete(&rec, 2, 4096);
	cr_assert_eq(r32(P(0x34)), 0x3);
	uint32_t sactive;
	memcpy(&sactive, mem + FB + 0x58 + 4, 4);
	cr_assert_eq(mem[FB + 0x58], 0xA1);
	cr_assert_eq(sactive, 1u << 2);
	cr_assert(r32(P(0x10)) & 0x8, "SDB interrupt");
	rec_engine_complete(&rec, 0, 4096);
	rec_engine_complete(&rec, 1, 4096);
	cr_assert_eq(r32(P(0x34)), 0);
}

Test(ahci, ncq_fua_bit_is_honoured)
{
	setup_mode(BLK_CACHE_WRITEBACK);
	uint64_t a[] = {BUF};
	uint32_t l[] = {512};
	command(0, ATA_CMD_WRITE_FPDMA, 0, 0, 1, 0x40 | 0x80, a, l, 1);
	w32(P(0x34), 1);
	issue(0);
	cr_assert(rec.io[0].rw_flags & RWF_DSYNC);
	command(1, ATA_CMD_WRITE_FPDMA, 0, 1 << 3, 1, 0x40, a, l, 1);
	w32(P(0x34), 2);
	issue(1);
	cr_assert_not(rec.io[1].rw_flags & RWF_DSYNC);
}

static void expect_error(uint8_t error)
{
	uint32_t tfd = r32(P(0x20));
	cr_assert_eq(tfd & 0xFF, ATA_STATUS_ERR, "status %#x", tfd);
	cr_assert_eq(tfd >> 8, error, "error %#x", tfd >> 8);
	cr_assert(r32(P(0x10)) & (1u << 30), "TFES");
}

/* After an error the port halts until the driver restarts the engine. */
static void restart_engine(void)
{
	w32(P(0x18), 0x10);
	run();
	cr_assert_not(r32(P(0x18)) & (1u << 15), "CR clears once stopped");
	cr_assert_eq(r32(P(0x38)), 0);
	w32(P(0x10), 0xFFFFFFFF);
	w32(P(0x18), 0x11);
}

Test(ahci, bad_commands_get_the_right_error_and_touch_nothing)
{
	setup_mode(BLK_CACHE_WRITEBACK);
	uint64_t a[] = {BUF};
	uint32_t l[] = {512};
	/* Unknown command: ABRT. */
	command(0, 0x77, 0, 0, 0, 0, NULL, NULL, 0);
	issue(0);
	expect_error(ATA_ABRT);
	restart_engine();
	/* Beyond the disk: IDNF. */
	command(0, ATA_CMD_READ_DMA_EXT, (64 << 20) / 512, 1, 0, 0x40, a, l, 1);
	issue(0);
	expect_error(ATA_IDNF);
	restart_engine();
	/* A PRDT shorter than the sector count. */
	command(0, ATA_CMD_READ_DMA_EXT, 0, 2, 0, 0x40, a, l, 1);
	issue(0);
	expect_error(ATA_ABRT);
	restart_engine();
	/* An odd byte count. */
	uint32_t odd[] = {511};
	command(0, ATA_CMD_READ_DMA_EXT, 0, 1, 0, 0x40, a, odd, 1);
	issue(0);
	expect_error(ATA_ABRT);
	restart_engine();
	/* A buffer running off the end of guest memory, and one far outside it. */
	uint64_t edge[] = {RAM - 256}, far[] = {0x100000000ull};
	command(0, ATA_CMD_READ_DMA_EXT, 0, 1, 0, 0x40, edge, l, 1);
	issue(0);
	expect_error(ATA_ABRT);
	restart_engine();
	command(0, ATA_CMD_READ_DMA_EXT, 0, 1, 0, 0x40, far, l, 1);
	issue(0);
	expect_error(ATA_ABRT);
	restart_engine();
	/* More PRD entries than we take. */
	command(0, ATA_CMD_READ_DMA_EXT, 0, 1, 0, 0x40, a, l, 1);
	uint32_t hdr0 = 5 | (uint32_t)(AHCI_MAX_PRDT + 1) << 16;
	memcpy(mem + CLB, &hdr0, 4);
	issue(0);
	expect_error(ATA_ABRT);
	restart_engine();
	/* A command table outside guest memory. */
	command(0, ATA_CMD_READ_DMA_EXT, 0, 1, 0, 0x40, a, l, 1);
	uint32_t ctba = RAM + 0x1000;
	memcpy(mem + CLB + 8, &ctba, 4);
	issue(0);
	expect_error(ATA_ABRT);
	cr_assert_eq(rec.n, 0, "no I/O for any of them");
	cr_assert_geq(h.bad_commands, 6);
}

Test(ahci, an_ncq_error_is_reported_through_log_10h)
{
	setup_mode(BLK_CACHE_WRITEBACK);
	uint64_t a[] = {BUF};
	uint32_t l[] = {512};
	command(5, ATA_CMD_READ_FPDMA, 0, 5 << 3, 1, 0x40, a, l, 1);
	w32(P(0x34), 1u << 5);
	issue(5);
	rec_engine_complete(&rec, 0, -EIO);
	expect_error(ATA_UNC);
	cr_assert_eq(r32(P(0x34)), 1u << 5, "the failed tag stays in PxSACT");
	restart_engine();
	command(0, ATA_CMD_READ_LOG_EXT, 0x10, 1, 0, 0, a, (uint32_t[]){512}, 1);
	issue(0);
	cr_assert_eq(mem[BUF] & 0x9F, 5, "failed tag, NQ clear");
	cr_assert_eq(mem[BUF + 3], ATA_UNC);
	uint8_t sum = 0;
	for (unsigned i = 0; i < 512; i++)
		sum = (uint8_t)(sum + mem[BUF + i]);
	cr_assert_eq(sum, 0);
}

Test(ahci, engine_stop_waits_for_requests_in_flight)
{
	setup_mode(BLK_CACHE_WRITEBACK);
	uint64_t a[] = {BUF};
	uint32_t l[] = {512};
	command(0, ATA_CMD_READ_DMA_EXT, 0, 1, 0, 0x40, a, l, 1);
	issue(0);
	w32(P(0x18), 0x10); /* stop while the read is in flight */
	run();
	cr_assert(r32(P(0x18)) & (1u << 15), "CR stays set while a request is in flight");
	rec_engine_complete(&rec, 0, 512);
	run();
	cr_assert_not(r32(P(0x18)) & (1u << 15));
	cr_assert_eq(r32(P(0x38)), 0);
}

Test(ahci, comreset_and_hba_reset)
{
	setup_mode(BLK_CACHE_WRITEBACK);
	w32(P(0x2C), 1);
	cr_assert_eq(r32(P(0x28)) & 0xF, 0, "link down during COMRESET");
	w32(P(0x2C), 0);
	run();
	cr_assert_eq(r32(P(0x28)) & 0xF, 3, "device present again");
	cr_assert_eq(r32(P(0x24)), 0x101, "ATA signature");
	cr_assert_eq(mem[FB + 0x40], 0x34, "signature FIS");
	w32(0x04, 1);
	cr_assert(r32(0x04) & 1, "HR reads 1 until done");
	run();
	cr_assert_not(r32(0x04) & 1);
	cr_assert_eq(r32(P(0x00)), 0, "port registers back to power-on values");
	cr_assert_eq(r32(0x00) & (1u << 30), 1u << 30, "NCQ in CAP");
}

Test(ahci, abar_is_dead_without_memory_decoding)
{
	setup_mode(BLK_CACHE_WRITEBACK);
	pci_config_write(&pci, 1, 0x04, 2, 0x0);
	cr_assert_eq(r32(0x10), 0xFFFFFFFF);
	pci_config_write(&pci, 1, 0x04, 2, 0x6);
	cr_assert_eq(r32(0x10), 0x00010300);
}

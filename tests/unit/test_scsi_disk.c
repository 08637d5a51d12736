/*
 * The emulated SCSI disk from raw CDB bytes to plan, response bytes and
 * sense, for each cache policy and after MODE SELECT, plus hostile CDBs.
 * No transport and no I/O: the backend is a fake (scsi_plan only reads its
 * size, policy and write-cache switch).
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "devices/scsi_disk.h"

#define BLOCKS 131072u /* 64 MiB of 512-byte blocks */
#define BIG (1u << 20) /* an initiator buffer large enough for anything */

static struct blk blk;
static struct scsi_disk d;
static struct scsi_plan p;

static void setup_disk(enum blk_cache mode, bool readonly)
{
	blk_init_fake(&blk, -1, (uint64_t)BLOCKS * 512, mode, readonly);
	snprintf(blk.serial, sizeof(blk.serial), "SN-SCSI-7");
	scsi_disk_init(&d, &blk, 0);
}

/* Plans cdb (padded to 16 bytes) with the given buffers and parameter bytes. */
static void run_full(const uint8_t *cdb, size_t len, uint64_t in_len, uint64_t out_len,
		     const uint8_t *param, uint32_t param_len)
{
	uint8_t c[SCSI_CDB_MIN] = {0};
	memcpy(c, cdb, len);
	scsi_plan(&d, c, in_len, out_len, param, param_len, &p);
}

#define RUN(...)                                                                   \
	do {                                                                       \
		const uint8_t cdb_[] = {__VA_ARGS__};                              \
		run_full(cdb_, sizeof(cdb_), BIG, 0, NULL, 0);                     \
	} while (0)

static void expect_good(void)
{
	cr_assert_not(p.overrun);
	cr_assert_eq(p.status, SCSI_GOOD, "status %#x sense key %#x asc %#x", p.status,
		     p.sense[2], p.sense[12]);
	cr_assert_eq(p.sense_len, 0);
}

static void expect_sense(uint8_t key, uint16_t asc)
{
	cr_assert_not(p.overrun);
	cr_assert_eq(p.action, SCSI_ANSWER);
	cr_assert_eq(p.status, SCSI_CHECK_CONDITION);
	cr_assert_eq(p.sense_len, 18);
	cr_assert_eq(p.sense[0], 0x70, "fixed format, current");
	cr_assert_eq(p.sense[7], 10, "additional sense length");
	cr_assert_eq(p.sense[2], key, "sense key %#x, want %#x", p.sense[2], key);
	cr_assert_eq(p.sense[12] << 8 | p.sense[13], asc, "asc %#x, want %#x",
		     p.sense[12] << 8 | p.sense[13], asc);
	cr_assert_eq(p.data_len, 0);
}

static uint32_t be32(const uint8_t *b) { return (uint32_t)b[0] << 24 | b[1] << 16 | b[2] << 8 | b[3]; }
static uint16_t be16(const uint8_t *b) { return (uint16_t)(b[0] << 8 | b[1]); }

/* ---- INQUIRY ---- */

Test(scsi_disk, standard_inquiry_is_a_tagged_spc3_disk)
{
	setup_disk(BLK_CACHE_WRITEBACK, false);
	RUN(SCSI_INQUIRY, 0, 0, 0, 96, 0);
	expect_good();
	cr_assert_eq(p.data_len, 36, "36 bytes even though 96 were allowed");
	cr_assert_eq(p.data[0], 0x00, "connected direct-access device");
	cr_assert_eq(p.data[2], 5, "SPC-3");
	cr_assert_eq(p.data[3] & 0x0F, 2, "response data format 2");
	cr_assert_eq(p.data[4], 31, "additional length = 36 - 5");
	cr_assert(p.data[7] & 0x02, "CMDQUE: Linux queues commands only with it");
	cr_assert_eq(memcmp(p.data + 8, "KESTREL ", 8), 0);

	RUN(SCSI_INQUIRY, 0, 0, 0, 5, 0);
	expect_good();
	cr_assert_eq(p.data_len, 5, "the allocation length is honoured exactly");
}

Test(scsi_disk, vpd_pages_are_listed_and_each_is_well_formed)
{
	setup_disk(BLK_CACHE_NONE, false);
	RUN(SCSI_INQUIRY, 1, 0x00, 0, 255, 0);
	expect_good();
	const uint8_t want[] = {0x00, 0x80, 0x83, 0xB0, 0xB1, 0xB2};
	cr_assert_eq(p.data[1], 0x00);
	cr_assert_eq(be16(p.data + 2), sizeof(want));
	cr_assert_eq(memcmp(p.data + 4, want, sizeof(want)), 0, "ascending, as sd reads them");

	RUN(SCSI_INQUIRY, 1, 0x80, 0, 255, 0);
	expect_good();
	cr_assert_eq(be16(p.data + 2), 9);
	cr_assert_eq(memcmp(p.data + 4, "SN-SCSI-7", 9), 0, "the configured serial");

	RUN(SCSI_INQUIRY, 1, 0x83, 0, 255, 0);
	expect_good();
	cr_assert_eq(p.data[4], 0x02, "ASCII designator");
	cr_assert_eq(p.data[5] & 0x0F, 1, "T10 vendor ID");
	cr_assert_eq(p.data[7], 8 + 9);
	cr_assert_eq(memcmp(p.data + 8, "KESTREL SN-SCSI-7", 17), 0);
	cr_assert_eq(be16(p.data + 2), 4 + 17);

	RUN(SCSI_INQUIRY, 1, 0xB0, 0, 255, 0);
	expect_good();
	cr_assert_eq(be16(p.data + 2), 0x3C);
	cr_assert_eq(be32(p.data + 20), SCSI_MAX_RANGE_BLOCKS, "maximum unmap LBA count");
	cr_assert_eq(be32(p.data + 24), 1, "one unmap descriptor per command");

	RUN(SCSI_INQUIRY, 1, 0xB1, 0, 255, 0);
	expect_good();
	cr_assert_eq(be16(p.data + 4), 1, "non-rotating");

	RUN(SCSI_INQUIRY, 1, 0xB2, 0, 255, 0);
	expect_good();
	cr_assert(p.data[5] & 0x80, "LBPU: UNMAP");
	cr_assert(p.data[5] & 0x40, "LBPWS: WRITE SAME(16) with UNMAP");

	RUN(SCSI_INQUIRY, 1, 0x89, 0, 255, 0);
	expect_sense(SCSI_KEY_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD_IN_CDB);
	RUN(SCSI_INQUIRY, 0, 0x80, 0, 255, 0);
	expect_sense(SCSI_KEY_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD_IN_CDB);
}

/* ---- capacity ---- */

Test(scsi_disk, read_capacity_10_and_16)
{
	setup_disk(BLK_CACHE_WRITEBACK, false);
	RUN(SCSI_READ_CAPACITY_10, 0, 0, 0, 0, 0, 0, 0, 0, 0);
	expect_good();
	cr_assert_eq(p.data_len, 8);
	cr_assert_eq(be32(p.data), BLOCKS - 1, "the last LBA, not the count");
	cr_assert_eq(be32(p.data + 4), 512);

	RUN(SCSI_SERVICE_ACTION_IN_16, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0);
	expect_good();
	cr_assert_eq(p.data_len, 32);
	cr_assert_eq(be32(p.data), 0);
	cr_assert_eq(be32(p.data + 4), BLOCKS - 1);
	cr_assert_eq(be32(p.data + 8), 512);
	cr_assert(p.data[14] & 0x80, "LBPME: sd reads VPD B2 and uses UNMAP");
	cr_assert_not(p.data[14] & 0x40, "LBPRZ: a hint discard may leave data behind");

	RUN(SCSI_SERVICE_ACTION_IN_16, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 12, 0, 0);
	cr_assert_eq(p.data_len, 12, "allocation length honoured");
	RUN(SCSI_SERVICE_ACTION_IN_16, 0x11, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0);
	expect_sense(SCSI_KEY_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD_IN_CDB);
}

/* ---- MODE SENSE for every policy ---- */

struct policy_case {
	enum blk_cache mode;
	bool wce;
};

ParameterizedTestParameters(scsi_disk, caching_page_wce_follows_the_policy)
{
	static struct policy_case cases[] = {
		{BLK_CACHE_WRITEBACK, true}, {BLK_CACHE_NONE, true}, {BLK_CACHE_UNSAFE, true},
		{BLK_CACHE_WRITETHROUGH, false}, {BLK_CACHE_DIRECTSYNC, false},
	};
	return cr_make_param_array(struct policy_case, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct policy_case *c, scsi_disk, caching_page_wce_follows_the_policy)
{
	setup_disk(c->mode, false);
	/* MODE SENSE(6), caching page, block descriptor included (what sd asks). */
	RUN(SCSI_MODE_SENSE_6, 0, 0x08, 0, 255, 0);
	expect_good();
	cr_assert_eq(p.data_len, 4 + 8 + 20);
	cr_assert_eq(p.data[0], 4 + 8 + 20 - 1, "mode data length excludes itself");
	cr_assert(p.data[2] & 0x10, "DPOFUA: sd turns FUA on from it");
	cr_assert_not(p.data[2] & 0x80, "not write protected");
	cr_assert_eq(p.data[3], 8);
	cr_assert_eq(be32(p.data + 4), BLOCKS);
	cr_assert_eq(be32(p.data + 8) & 0xFFFFFF, 512);
	const uint8_t *pg = p.data + 12;
	cr_assert_eq(pg[0], 0x08);
	cr_assert_eq(pg[1], 0x12);
	cr_assert_eq((pg[2] & 0x04) != 0, c->wce, "WCE exactly when the policy caches");
	cr_assert_eq(pg[2] & 0x01, 0, "RCD: reads are cached");

	/* MODE SENSE(10), no block descriptors: same page. */
	RUN(SCSI_MODE_SENSE_10, 0x08, 0x08, 0, 0, 0, 0, 0, 255, 0);
	expect_good();
	cr_assert_eq(p.data_len, 8 + 20);
	cr_assert_eq(be16(p.data), 8 + 20 - 2);
	cr_assert(p.data[3] & 0x10, "DPOFUA");
	cr_assert_eq(be16(p.data + 6), 0);
	cr_assert_eq((p.data[8 + 2] & 0x04) != 0, c->wce);

	/* Changeable values: WCE can be switched exactly when there is a cache. */
	RUN(SCSI_MODE_SENSE_6, 0x08, 0x48, 0, 255, 0);
	expect_good();
	cr_assert_eq((p.data[4 + 2] & 0x04) != 0, c->wce);
	/* Defaults equal the policy. */
	RUN(SCSI_MODE_SENSE_6, 0x08, 0x88, 0, 255, 0);
	cr_assert_eq((p.data[4 + 2] & 0x04) != 0, c->wce);
}

/* PATCH /drives: a new image is reported once, as SPC-3 reports a change the initiator did not make. */
Test(scsi_disk, a_capacity_change_is_a_unit_attention_once)
{
	setup_disk(BLK_CACHE_WRITEBACK, false);
	scsi_disk_capacity_changed(&d);
	RUN(SCSI_INQUIRY, 0, 0, 0, 96, 0);
	expect_good(); /* INQUIRY and REPORT LUNS pass a unit attention by */
	RUN(SCSI_REPORT_LUNS, 0, 0, 0, 0, 0, 0, 0, 0, 16, 0, 0);
	expect_good();
	blk.size = (uint64_t)BLOCKS * 2 * 512;
	RUN(SCSI_READ_CAPACITY_10, 0, 0, 0, 0, 0, 0, 0, 0, 0);
	expect_sense(SCSI_KEY_UNIT_ATTENTION, SCSI_ASC_CAPACITY_CHANGED);
	RUN(SCSI_READ_CAPACITY_10, 0, 0, 0, 0, 0, 0, 0, 0, 0);
	expect_good();
	cr_assert_eq(be32(p.data), BLOCKS * 2 - 1, "the new size");
	/* REQUEST SENSE returns it as its data, and clears it too. */
	scsi_disk_capacity_changed(&d);
	RUN(SCSI_REQUEST_SENSE, 0, 0, 0, 18, 0);
	expect_good();
	cr_assert_eq(p.data_len, 18);
	cr_assert_eq(p.data[2], SCSI_KEY_UNIT_ATTENTION);
	cr_assert_eq(p.data[12] << 8 | p.data[13], SCSI_ASC_CAPACITY_CHANGED);
	RUN(SCSI_TEST_UNIT_READY, 0, 0, 0, 0, 0);
	expect_good();
}

Test(scsi_disk, mode_sense_all_pages_and_allocation_lengths)
{
	setup_disk(BLK_CACHE_WRITEBACK, true);
	RUN(SCSI_MODE_SENSE_6, 0x08, 0x3F, 0, 255, 0);
	expect_good();
	cr_assert_eq(p.data_len, 4 + 20 + 12, "caching and control pages");
	cr_assert(p.data[2] & 0x80, "readonly disk: WP");
	cr_assert_eq(p.data[4], 0x08);
	cr_assert_eq(p.data[24], 0x0A);
	cr_assert_eq(p.data[25], 10);

	/* sd's first look: 4 bytes, with the full length in the header. */
	RUN(SCSI_MODE_SENSE_6, 0, 0x08, 0, 4, 0);
	expect_good();
	cr_assert_eq(p.data_len, 4);
	cr_assert_eq(p.data[0], 4 + 8 + 20 - 1);

	for (unsigned alloc = 0; alloc <= 40; alloc++) {
		const uint8_t cdb[] = {SCSI_MODE_SENSE_10, 0, 0x3F, 0, 0, 0, 0, 0, (uint8_t)alloc, 0};
		run_full(cdb, sizeof(cdb), BIG, 0, NULL, 0);
		cr_assert_eq(p.data_len, alloc < 8 + 8 + 32 ? alloc : 8 + 8 + 32, "alloc %u", alloc);
	}
	/* Long LBA block descriptor in MODE SENSE(10). */
	RUN(SCSI_MODE_SENSE_10, 0x10, 0x08, 0, 0, 0, 0, 0, 255, 0);
	expect_good();
	cr_assert_eq(be16(p.data + 6), 16);
	cr_assert_eq(p.data[4] & 1, 1, "LONGLBA");
	cr_assert_eq(be32(p.data + 8 + 4), BLOCKS);

	RUN(SCSI_MODE_SENSE_6, 0, 0xC8, 0, 255, 0);
	expect_sense(SCSI_KEY_ILLEGAL_REQUEST, SCSI_ASC_SAVING_NOT_SUPPORTED);
	RUN(SCSI_MODE_SENSE_6, 0, 0x1C, 0, 255, 0);
	expect_sense(SCSI_KEY_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD_IN_CDB);
	RUN(SCSI_MODE_SENSE_6, 0, 0x08, 0x01, 255, 0);
	expect_sense(SCSI_KEY_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD_IN_CDB);
}

/* ---- MODE SELECT: the guest's write-cache switch ---- */

/* What sd writes to cache_type: MODE SELECT(6), PF, header + caching page. */
static void select_wce(bool wce)
{
	uint8_t list[4 + 20] = {0};
	list[4] = 0x08;
	list[5] = 0x12;
	list[6] = wce ? 0x04 : 0x00;
	const uint8_t cdb[] = {SCSI_MODE_SELECT_6, 0x10, 0, 0, sizeof(list), 0};
	cr_assert_eq(scsi_param_len(&d, (uint8_t[16]){SCSI_MODE_SELECT_6, 0x10, 0, 0, sizeof(list)}),
		     sizeof(list));
	run_full(cdb, sizeof(cdb), 0, sizeof(list), list, sizeof(list));
}

static bool sensed_wce(void)
{
	RUN(SCSI_MODE_SENSE_6, 0x08, 0x08, 0, 255, 0);
	expect_good();
	return p.data[4 + 2] & 0x04;
}

Test(scsi_disk, mode_select_switches_the_backend_write_cache)
{
	setup_disk(BLK_CACHE_WRITEBACK, false);
	cr_assert(blk_write_cache_enabled(&blk));
	select_wce(false);
	/* GOOD only after the flush of what was cached: the command is a backend flush. */
	cr_assert_eq(p.action, SCSI_IO, "WCE=0 answered before the cached writes were durable");
	cr_assert_eq(p.op, BLK_OP_FLUSH);
	cr_assert(p.internal, "not the guest's SYNCHRONIZE CACHE");
	scsi_io_done(&p, 0);
	cr_assert_eq(p.status, SCSI_GOOD);
	cr_assert_not(blk_write_cache_enabled(&blk), "later writes are durable");
	cr_assert_not(sensed_wce(), "MODE SENSE shows what the backend does");
	select_wce(true);
	expect_good();
	cr_assert(blk_write_cache_enabled(&blk));
	cr_assert(sensed_wce());
}

Test(scsi_disk, mode_select_cannot_add_a_cache_or_change_other_fields)
{
	setup_disk(BLK_CACHE_WRITETHROUGH, false);
	select_wce(true);
	expect_sense(SCSI_KEY_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD_IN_PARAM);
	cr_assert_not(blk_write_cache_enabled(&blk));
	select_wce(false);
	expect_good();

	setup_disk(BLK_CACHE_WRITEBACK, false);
	uint8_t list[4 + 20] = {0};
	list[4] = 0x08;
	list[5] = 0x12;
	list[6] = 0x01; /* RCD: not changeable */
	const uint8_t cdb[] = {SCSI_MODE_SELECT_6, 0x10, 0, 0, sizeof(list), 0};
	run_full(cdb, sizeof(cdb), 0, sizeof(list), list, sizeof(list));
	expect_sense(SCSI_KEY_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD_IN_PARAM);
	cr_assert(blk_write_cache_enabled(&blk), "a refused list changes nothing");

	list[6] = 0;
	list[5] = 0x10; /* wrong page length */
	run_full(cdb, sizeof(cdb), 0, sizeof(list), list, sizeof(list));
	expect_sense(SCSI_KEY_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD_IN_PARAM);

	list[5] = 0x12;
	const uint8_t save[] = {SCSI_MODE_SELECT_6, 0x11, 0, 0, sizeof(list), 0};
	run_full(save, sizeof(save), 0, sizeof(list), list, sizeof(list));
	expect_sense(SCSI_KEY_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD_IN_CDB);

	/* A list longer than the data-out buffer: overrun, nothing applied. */
	list[6] = 0;
	run_full(cdb, sizeof(cdb), 0, 10, list, 10);
	cr_assert(p.overrun);
	cr_assert(blk_write_cache_enabled(&blk));

	/* MODE SELECT(10) with an 8-byte block descriptor of the right size works. */
	uint8_t list10[8 + 8 + 20] = {0};
	list10[7] = 8;
	list10[8 + 6] = 0x02; /* block length 512 */
	list10[16] = 0x08;
	list10[17] = 0x12;
	const uint8_t cdb10[] = {SCSI_MODE_SELECT_10, 0x10, 0, 0, 0, 0, 0, 0, sizeof(list10), 0};
	run_full(cdb10, sizeof(cdb10), 0, sizeof(list10), list10, sizeof(list10));
	expect_good();
	cr_assert_not(blk_write_cache_enabled(&blk));
}

/* ---- reads and writes ---- */

Test(scsi_disk, read_and_write_in_every_cdb_size_with_fua)
{
	setup_disk(BLK_CACHE_WRITEBACK, false);
	RUN(SCSI_READ_6, 0x01, 0x02, 0x03, 0, 0);
	expect_good();
	cr_assert_eq(p.action, SCSI_IO);
	cr_assert_eq(p.op, BLK_OP_READ);
	cr_assert_eq(p.offset, 0x10203ull * 512);
	cr_assert_eq(p.len, 256 * 512, "READ(6) with 0 blocks means 256");
	cr_assert(p.data_in);

	const uint8_t w10[] = {SCSI_WRITE_10, 0x08, 0, 0, 0x10, 0, 0, 0, 8, 0};
	run_full(w10, sizeof(w10), 0, 4096, NULL, 0);
	expect_good();
	cr_assert_eq(p.op, BLK_OP_WRITE);
	cr_assert_eq(p.offset, 0x1000ull * 512);
	cr_assert_eq(p.len, 4096);
	cr_assert(p.fua, "the FUA bit reaches the backend");
	cr_assert(p.data_out);

	const uint8_t w12[] = {SCSI_WRITE_12, 0, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0};
	run_full(w12, sizeof(w12), 0, 1024, NULL, 0);
	expect_good();
	cr_assert_not(p.fua);
	cr_assert_eq(p.offset, 512);

	const uint8_t r16[] = {SCSI_READ_16, 0x08, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 1, 0, 0};
	run_full(r16, sizeof(r16), 512, 0, NULL, 0);
	expect_good();
	cr_assert_eq(p.op, BLK_OP_READ);
	cr_assert_eq(p.offset, 7 * 512);
	cr_assert_not(p.fua, "FUA on a read changes nothing");

	RUN(SCSI_READ_10, 0, 0, 0, 0, 0, 0, 0, 0, 0);
	expect_good();
	cr_assert_eq(p.action, SCSI_ANSWER, "zero blocks: nothing to do");
}

Test(scsi_disk, bad_reads_and_writes_are_refused_before_any_io)
{
	setup_disk(BLK_CACHE_WRITEBACK, false);
	/* Past the end, and wrapping around 2^64. */
	RUN(SCSI_READ_10, 0, 0, 0x02, 0, 0, 0, 0, 1, 0);
	expect_sense(SCSI_KEY_ILLEGAL_REQUEST, SCSI_ASC_LBA_OUT_OF_RANGE);
	RUN(SCSI_READ_16, 0, 0, 0, 0, 0, 0, 1, 0xFF, 0xFF, 0, 0, 0, 2, 0, 0);
	expect_sense(SCSI_KEY_ILLEGAL_REQUEST, SCSI_ASC_LBA_OUT_OF_RANGE);
	RUN(SCSI_READ_16, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 2, 0, 0);
	expect_sense(SCSI_KEY_ILLEGAL_REQUEST, SCSI_ASC_LBA_OUT_OF_RANGE);
	/* Protection information asked of a disk without it. */
	RUN(SCSI_READ_10, 0x20, 0, 0, 0, 0, 0, 0, 1, 0);
	expect_sense(SCSI_KEY_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD_IN_CDB);
	/* An absurd transfer length against a small buffer: overrun, no I/O. */
	const uint8_t r12[] = {SCSI_READ_12, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0};
	run_full(r12, sizeof(r12), 4096, 0, NULL, 0);
	cr_assert(p.overrun);
	cr_assert_eq(p.action, SCSI_ANSWER);
	/* A write whose data-out is shorter than the CDB says. */
	const uint8_t w10[] = {SCSI_WRITE_10, 0, 0, 0, 0, 0, 0, 0, 8, 0};
	run_full(w10, sizeof(w10), BIG, 512, NULL, 0);
	cr_assert(p.overrun, "data-in room does not make up for missing data-out");
	/* More than the advertised maximum transfer, with buffers that hold it: refused. */
	const uint8_t big[] = {SCSI_READ_16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0, 0, 0, 0, 0};
	run_full(big, sizeof(big), 1ull << 34, 0, NULL, 0);
	expect_sense(SCSI_KEY_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD_IN_CDB);
	RUN(SCSI_INQUIRY, 0x01, 0xB0, 0, 0x40, 0);
	expect_good();
	cr_assert_eq(be32(p.data + 8), SCSI_MAX_TRANSFER_BYTES / 512, "VPD 0xB0 maximum transfer length");

	setup_disk(BLK_CACHE_WRITEBACK, true);
	run_full(w10, sizeof(w10), 0, 4096, NULL, 0);
	expect_sense(SCSI_KEY_DATA_PROTECT, SCSI_ASC_WRITE_PROTECTED);
	RUN(SCSI_READ_10, 0, 0, 0, 0, 0, 0, 0, 8, 0);
	expect_good();
	cr_assert_eq(p.action, SCSI_IO, "reads still work read-only");
}

Test(scsi_disk, synchronize_cache_is_a_backend_flush)
{
	setup_disk(BLK_CACHE_NONE, false);
	RUN(SCSI_SYNCHRONIZE_CACHE_10, 0, 0, 0, 0, 0, 0, 0, 0, 0);
	expect_good();
	cr_assert_eq(p.action, SCSI_IO);
	cr_assert_eq(p.op, BLK_OP_FLUSH);
	RUN(SCSI_SYNCHRONIZE_CACHE_16, 0, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 8, 0, 0);
	expect_good();
	cr_assert_eq(p.op, BLK_OP_FLUSH);
	RUN(SCSI_SYNCHRONIZE_CACHE_10, 0, 0, 0x02, 0, 1, 0, 0, 0, 0);
	expect_sense(SCSI_KEY_ILLEGAL_REQUEST, SCSI_ASC_LBA_OUT_OF_RANGE);
}

/* ---- UNMAP and WRITE SAME ---- */

static void unmap_list(uint8_t *list, uint64_t lba, uint32_t n)
{
	memset(list, 0, 24);
	list[1] = 22;
	list[3] = 16;
	for (int i = 0; i < 8; i++)
		list[8 + i] = (uint8_t)(lba >> (56 - 8 * i));
	for (int i = 0; i < 4; i++)
		list[16 + i] = (uint8_t)(n >> (24 - 8 * i));
}

Test(scsi_disk, unmap_is_a_discard)
{
	setup_disk(BLK_CACHE_WRITEBACK, false);
	uint8_t list[40];
	unmap_list(list, 64, 128);
	const uint8_t cdb[] = {SCSI_UNMAP, 0, 0, 0, 0, 0, 0, 0, 24, 0};
	run_full(cdb, sizeof(cdb), 0, 24, list, 24);
	expect_good();
	cr_assert_eq(p.action, SCSI_IO);
	cr_assert_eq(p.op, BLK_OP_DISCARD);
	cr_assert_eq(p.offset, 64 * 512);
	cr_assert_eq(p.len, 128 * 512);

	unmap_list(list, BLOCKS - 1, 2);
	run_full(cdb, sizeof(cdb), 0, 24, list, 24);
	expect_sense(SCSI_KEY_ILLEGAL_REQUEST, SCSI_ASC_LBA_OUT_OF_RANGE);

	/* Two descriptors, more than VPD B0 allows. */
	unmap_list(list, 0, 1);
	list[1] = 38;
	list[3] = 32;
	const uint8_t cdb2[] = {SCSI_UNMAP, 0, 0, 0, 0, 0, 0, 0, 40, 0};
	run_full(cdb2, sizeof(cdb2), 0, 40, list, 40);
	expect_sense(SCSI_KEY_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD_IN_PARAM);

	const uint8_t short_list[] = {SCSI_UNMAP, 0, 0, 0, 0, 0, 0, 0, 4, 0};
	run_full(short_list, sizeof(short_list), 0, 4, list, 4);
	expect_sense(SCSI_KEY_ILLEGAL_REQUEST, SCSI_ASC_PARAM_LIST_LENGTH);

	setup_disk(BLK_CACHE_WRITEBACK, true);
	unmap_list(list, 0, 8);
	run_full(cdb, sizeof(cdb), 0, 24, list, 24);
	expect_sense(SCSI_KEY_DATA_PROTECT, SCSI_ASC_WRITE_PROTECTED);
}

Test(scsi_disk, write_same_of_zeros_becomes_write_zeroes)
{
	setup_disk(BLK_CACHE_WRITEBACK, false);
	uint8_t block[512] = {0};
	const uint8_t ws16[] = {SCSI_WRITE_SAME_16, 0x08, 0, 0, 0, 0, 0, 0, 0, 16, 0, 0, 1, 0, 0, 0};
	cr_assert_eq(scsi_param_len(&d, (uint8_t[16]){SCSI_WRITE_SAME_16}), 512);
	run_full(ws16, sizeof(ws16), 0, 512, block, 512);
	expect_good();
	cr_assert_eq(p.action, SCSI_IO);
	cr_assert_eq(p.op, BLK_OP_WRITE_ZEROES);
	cr_assert_eq(p.offset, 16 * 512);
	cr_assert_eq(p.len, 256 * 512);

	const uint8_t ws10[] = {SCSI_WRITE_SAME_10, 0, 0, 0, 0, 8, 0, 0, 4, 0};
	run_full(ws10, sizeof(ws10), 0, 512, block, 512);
	expect_good();
	cr_assert_eq(p.op, BLK_OP_WRITE_ZEROES);

	block[100] = 0xAB;
	run_full(ws16, sizeof(ws16), 0, 512, block, 512);
	expect_sense(SCSI_KEY_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD_IN_CDB);

	const uint8_t ndob[] = {SCSI_WRITE_SAME_16, 0x09, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0};
	run_full(ndob, sizeof(ndob), 0, 0, NULL, 0);
	expect_good();
	cr_assert_eq(p.op, BLK_OP_WRITE_ZEROES, "NDOB: zeros without a data-out buffer");

	const uint8_t zero_len[] = {SCSI_WRITE_SAME_16, 0x09, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
	run_full(zero_len, sizeof(zero_len), 0, 0, NULL, 0);
	expect_sense(SCSI_KEY_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD_IN_CDB);
}

/* ---- the rest ---- */

Test(scsi_disk, small_commands)
{
	setup_disk(BLK_CACHE_WRITEBACK, false);
	RUN(SCSI_TEST_UNIT_READY, 0, 0, 0, 0, 0);
	expect_good();
	RUN(SCSI_START_STOP_UNIT, 0, 0, 0, 1, 0);
	expect_good();
	RUN(SCSI_REQUEST_SENSE, 0, 0, 0, 252, 0);
	expect_good();
	cr_assert_eq(p.data_len, 18);
	cr_assert_eq(p.data[0], 0x70);
	cr_assert_eq(p.data[2], SCSI_KEY_NO_SENSE);

	RUN(SCSI_REPORT_LUNS, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0);
	expect_good();
	cr_assert_eq(p.data_len, 16);
	cr_assert_eq(be32(p.data), 8, "one LUN");
	for (int i = 8; i < 16; i++)
		cr_assert_eq(p.data[i], 0, "LUN 0");
	RUN(SCSI_REPORT_LUNS, 0, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0);
	expect_sense(SCSI_KEY_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD_IN_CDB);

	RUN(0xC5, 0, 0, 0, 0, 0);
	expect_sense(SCSI_KEY_ILLEGAL_REQUEST, SCSI_ASC_INVALID_OPCODE);
	RUN(0x2F, 0, 0, 0, 0, 0, 0, 0, 0, 0); /* VERIFY(10): not implemented */
	expect_sense(SCSI_KEY_ILLEGAL_REQUEST, SCSI_ASC_INVALID_OPCODE);
}

Test(scsi_disk, report_supported_opcodes_one_command)
{
	setup_disk(BLK_CACHE_WRITEBACK, false);
	RUN(SCSI_MAINTENANCE_IN, 0x0C, 0x01, SCSI_WRITE_SAME_16, 0, 0, 0, 0, 0, 64, 0, 0);
	expect_good();
	cr_assert_eq(p.data[1] & 0x07, 3, "supported");
	cr_assert_eq(be16(p.data + 2), 16);
	cr_assert_eq(p.data[4], SCSI_WRITE_SAME_16);
	cr_assert_eq(p.data_len, 20);
	RUN(SCSI_MAINTENANCE_IN, 0x0C, 0x01, 0x2F, 0, 0, 0, 0, 0, 64, 0, 0);
	expect_good();
	cr_assert_eq(p.data[1] & 0x07, 1, "VERIFY is not");
	RUN(SCSI_MAINTENANCE_IN, 0x0C, 0x02, SCSI_SERVICE_ACTION_IN_16, 0, 0x10, 0, 0, 0, 64, 0, 0);
	expect_good();
	cr_assert_eq(p.data[1] & 0x07, 3, "READ CAPACITY(16)");
	RUN(SCSI_MAINTENANCE_IN, 0x0C, 0x00, 0, 0, 0, 0, 0, 0, 64, 0, 0);
	expect_sense(SCSI_KEY_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD_IN_CDB);
}

Test(scsi_disk, allocation_length_beyond_the_buffer_is_an_overrun)
{
	setup_disk(BLK_CACHE_WRITEBACK, false);
	const uint8_t inq[] = {SCSI_INQUIRY, 0, 0, 0xFF, 0xFF, 0};
	run_full(inq, sizeof(inq), 36, 0, NULL, 0);
	cr_assert(p.overrun);
	cr_assert_eq(p.data_len, 0);
	run_full(inq, sizeof(inq), 0xFFFF, 0, NULL, 0);
	expect_good();
	cr_assert_eq(p.data_len, 36);
}

Test(scsi_disk, a_missing_lun_answers_inquiry_and_refuses_the_rest)
{
	uint8_t inq[SCSI_CDB_MIN] = {SCSI_INQUIRY, 0, 0, 0, 36, 0};
	scsi_plan_no_lun(inq, 36, &p);
	expect_good();
	cr_assert_eq(p.data[0], 0x7F, "qualifier 3, type 1Fh: no unit here");
	uint8_t tur[SCSI_CDB_MIN] = {SCSI_TEST_UNIT_READY};
	scsi_plan_no_lun(tur, 0, &p);
	expect_sense(SCSI_KEY_ILLEGAL_REQUEST, SCSI_ASC_LUN_NOT_SUPPORTED);
	uint8_t rd[SCSI_CDB_MIN] = {SCSI_READ_10, 0, 0, 0, 0, 0, 0, 0, 1};
	scsi_plan_no_lun(rd, 512, &p);
	expect_sense(SCSI_KEY_ILLEGAL_REQUEST, SCSI_ASC_LUN_NOT_SUPPORTED);
}

Test(scsi_disk, host_errors_become_medium_errors)
{
	setup_disk(BLK_CACHE_WRITEBACK, false);
	RUN(SCSI_READ_10, 0, 0, 0, 0, 0, 0, 0, 1, 0);
	scsi_io_done(&p, -EIO);
	expect_sense(SCSI_KEY_MEDIUM_ERROR, SCSI_ASC_UNRECOVERED_READ);
	const uint8_t w[] = {SCSI_WRITE_10, 0, 0, 0, 0, 0, 0, 0, 1, 0};
	run_full(w, sizeof(w), 0, 512, NULL, 0);
	scsi_io_done(&p, -EIO);
	expect_sense(SCSI_KEY_MEDIUM_ERROR, SCSI_ASC_WRITE_ERROR);
	RUN(SCSI_SYNCHRONIZE_CACHE_10, 0, 0, 0, 0, 0, 0, 0, 0, 0);
	scsi_io_done(&p, -EIO);
	expect_sense(SCSI_KEY_MEDIUM_ERROR, SCSI_ASC_WRITE_ERROR);
	run_full(w, sizeof(w), 0, 512, NULL, 0);
	scsi_io_done(&p, 0);
	expect_good();
}

#include "devices/scsi_disk.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "devices/scsi_internal.h"

/* CDB byte 1 of READ/WRITE(10/12/16) and WRITE SAME (SBC-3, FACTS §6.4). */
#define CDB_FUA 0x08
#define CDB_PROTECT 0xE0
#define CDB_WS_ANCHOR 0x10
#define CDB_WS16_NDOB 0x01

void scsi_disk_init(struct scsi_disk *d, struct blk *blk, unsigned int index)
{
	memset(d, 0, sizeof(*d));
	d->blk = blk;
	if (blk->serial[0])
		snprintf(d->serial, sizeof(d->serial), "%s", blk->serial);
	else
		snprintf(d->serial, sizeof(d->serial), "KESTREL-SCSI-%u", index);
}

void scsi_disk_capacity_changed(struct scsi_disk *d)
{
	d->unit_attention = SCSI_ASC_CAPACITY_CHANGED;
}

uint64_t scsi_blocks(const struct scsi_disk *d)
{
	return d->blk->size / d->blk->block_size;
}

/* ---- status and sense ---- */

void scsi_fixed_sense(uint8_t sense[SCSI_SENSE_LEN], uint8_t key, uint16_t asc)
{
	memset(sense, 0, SCSI_SENSE_LEN);
	sense[0] = 0x70; /* current error, fixed format */
	sense[2] = key;
	sense[7] = SCSI_SENSE_LEN - 8;
	sense[12] = (uint8_t)(asc >> 8);
	sense[13] = (uint8_t)asc;
}

void plan_check(struct scsi_plan *p, uint8_t key, uint16_t asc)
{
	p->action = SCSI_ANSWER;
	p->status = SCSI_CHECK_CONDITION;
	scsi_fixed_sense(p->sense, key, asc);
	p->sense_len = SCSI_SENSE_LEN;
	p->data_len = 0;
}

void plan_illegal(struct scsi_plan *p, uint16_t asc)
{
	plan_check(p, SCSI_KEY_ILLEGAL_REQUEST, asc);
}

void plan_good(struct scsi_plan *p)
{
	p->action = SCSI_ANSWER;
	p->status = SCSI_GOOD;
	p->sense_len = 0;
}

/* The command would move more than the initiator's buffer holds: nothing is done. */
void plan_overrun(struct scsi_plan *p)
{
	plan_good(p);
	p->overrun = true;
	p->data_len = 0;
}

/*
 * A command with a parameter list of `list` bytes: false, with the plan
 * finished, when the list does not fit the data-out buffer or is empty
 * (which asks for nothing).
 */
bool plan_param_list(uint32_t list, uint64_t out_len, struct scsi_plan *p)
{
	if (list > out_len) {
		plan_overrun(p);
		return false;
	}
	if (list == 0) {
		plan_good(p);
		return false;
	}
	return true;
}

/*
 * A command returning `len` bytes of p->data, of which the initiator
 * accepts `alloc`. Its buffer must hold the allocation length (what the
 * CDB may move), or the command is an overrun.
 */
void plan_answer(struct scsi_plan *p, uint32_t len, uint64_t alloc, uint64_t in_len)
{
	if (alloc > in_len) {
		plan_overrun(p);
		return;
	}
	plan_good(p);
	p->data_len = len < alloc ? len : (uint32_t)alloc;
}

/* ---- I/O commands ---- */

/* Checks [lba, lba+n) against the disk; sets the sense if it does not fit. */
static bool in_range(const struct scsi_disk *d, uint64_t lba, uint64_t n, struct scsi_plan *p)
{
	uint64_t blocks = scsi_blocks(d);
	if (lba > blocks || n > blocks - lba) {
		plan_illegal(p, SCSI_ASC_LBA_OUT_OF_RANGE);
		return false;
	}
	return true;
}

static void read_write(const struct scsi_disk *d, const uint8_t *cdb, uint64_t in_len,
		       uint64_t out_len, struct scsi_plan *p)
{
	uint64_t lba, n;
	bool write, fua = false;
	switch (cdb[0]) {
	case SCSI_READ_6:
	case SCSI_WRITE_6:
		lba = ((uint64_t)(cdb[1] & 0x1F) << 16) | get16(cdb + 2);
		n = cdb[4] ? cdb[4] : 256; /* 0 means 256 blocks in the 6-byte form */
		write = cdb[0] == SCSI_WRITE_6;
		break;
	case SCSI_READ_10:
	case SCSI_WRITE_10:
		lba = get32(cdb + 2);
		n = get16(cdb + 7);
		write = cdb[0] == SCSI_WRITE_10;
		break;
	case SCSI_READ_12:
	case SCSI_WRITE_12:
		lba = get32(cdb + 2);
		n = get32(cdb + 6);
		write = cdb[0] == SCSI_WRITE_12;
		break;
	default: /* READ(16), WRITE(16) */
		lba = get64(cdb + 2);
		n = get32(cdb + 10);
		write = cdb[0] == SCSI_WRITE_16;
		break;
	}
	bool six = cdb[0] == SCSI_READ_6 || cdb[0] == SCSI_WRITE_6;
	if (!six) {
		if (cdb[1] & CDB_PROTECT) { /* no protection information on this disk */
			plan_illegal(p, SCSI_ASC_INVALID_FIELD_IN_CDB);
			return;
		}
		fua = cdb[1] & CDB_FUA;
	}
	uint64_t bytes = n * d->blk->block_size; /* n < 2^32: no overflow */
	if (bytes > (write ? out_len : in_len)) {
		plan_overrun(p);
		return;
	}
	/* The most one command may move (VPD 0xB0; virtio-scsi's max_sectors says the same). */
	if (bytes > SCSI_MAX_TRANSFER_BYTES) {
		plan_illegal(p, SCSI_ASC_INVALID_FIELD_IN_CDB);
		return;
	}
	if (!in_range(d, lba, n, p))
		return;
	if (write && d->blk->readonly) {
		plan_check(p, SCSI_KEY_DATA_PROTECT, SCSI_ASC_WRITE_PROTECTED);
		return;
	}
	if (n == 0) { /* nothing to move: not an error (SBC-3) */
		plan_good(p);
		return;
	}
	p->action = SCSI_IO;
	p->op = write ? BLK_OP_WRITE : BLK_OP_READ;
	p->offset = lba * d->blk->block_size;
	p->len = bytes;
	/* FUA on a read asks for the medium, which a read from the host already is. */
	p->fua = write && fua;
	p->data_in = !write;
	p->data_out = write;
}

static void synchronize_cache(const struct scsi_disk *d, const uint8_t *cdb, struct scsi_plan *p)
{
	bool sixteen = cdb[0] == SCSI_SYNCHRONIZE_CACHE_16;
	uint64_t lba = sixteen ? get64(cdb + 2) : get32(cdb + 2);
	uint64_t n = sixteen ? get32(cdb + 10) : get16(cdb + 7);
	if (n == 0) /* 0: to the end of the medium */
		n = lba <= scsi_blocks(d) ? scsi_blocks(d) - lba : 1;
	if (!in_range(d, lba, n, p))
		return;
	/* The whole cache is flushed: a range is only ever a lower bound. */
	p->action = SCSI_IO;
	p->op = BLK_OP_FLUSH;
}

static bool all_zero(const uint8_t *b, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

/*
 * WRITE SAME writes one block over a range. Linux sends it for
 * REQ_OP_WRITE_ZEROES (a zero block), with UNMAP when the blocks may be
 * deallocated too: both become the backend's write-zeroes, which punches a
 * hole where the host can and reads back as zeros either way. Any other
 * pattern is refused rather than written block by block.
 */
static void write_same(const struct scsi_disk *d, const uint8_t *cdb, uint64_t out_len,
		       const uint8_t *param, uint32_t param_len, struct scsi_plan *p)
{
	bool sixteen = cdb[0] == SCSI_WRITE_SAME_16;
	uint64_t lba = sixteen ? get64(cdb + 2) : get32(cdb + 2);
	uint64_t n = sixteen ? get32(cdb + 10) : get16(cdb + 7);
	bool ndob = sixteen && (cdb[1] & CDB_WS16_NDOB);
	uint32_t bs = d->blk->block_size;
	if ((cdb[1] & CDB_PROTECT) || (cdb[1] & CDB_WS_ANCHOR) || n == 0 ||
	    n > SCSI_MAX_RANGE_BLOCKS) {
		plan_illegal(p, SCSI_ASC_INVALID_FIELD_IN_CDB);
		return;
	}
	if (!ndob && out_len < bs) {
		plan_overrun(p);
		return;
	}
	if (!in_range(d, lba, n, p))
		return;
	if (d->blk->readonly) {
		plan_check(p, SCSI_KEY_DATA_PROTECT, SCSI_ASC_WRITE_PROTECTED);
		return;
	}
	if (!ndob && (param_len < bs || !all_zero(param, bs))) {
		plan_illegal(p, SCSI_ASC_INVALID_FIELD_IN_CDB);
		return;
	}
	p->action = SCSI_IO;
	p->op = BLK_OP_WRITE_ZEROES;
	p->offset = lba * bs;
	p->len = n * bs;
}

/* UNMAP with at most one block descriptor (VPD B0 says so): a discard. */
static void unmap(const struct scsi_disk *d, const uint8_t *cdb, uint64_t out_len,
		  const uint8_t *param, uint32_t param_len, struct scsi_plan *p)
{
	uint32_t list = get16(cdb + 7);
	if (cdb[1] & 0x01) { /* ANCHOR */
		plan_illegal(p, SCSI_ASC_INVALID_FIELD_IN_CDB);
		return;
	}
	if (!plan_param_list(list, out_len, p))
		return;
	if (list < 8 || list > param_len) {
		plan_illegal(p, SCSI_ASC_PARAM_LIST_LENGTH);
		return;
	}
	uint32_t desc_bytes = get16(param + 2);
	if (desc_bytes % 16 || desc_bytes > list - 8 || get16(param) + 2u > list + 0u) {
		plan_illegal(p, SCSI_ASC_INVALID_FIELD_IN_PARAM);
		return;
	}
	if (desc_bytes == 0) {
		plan_good(p);
		return;
	}
	if (desc_bytes > 16) {
		plan_illegal(p, SCSI_ASC_INVALID_FIELD_IN_PARAM);
		return;
	}
	uint64_t lba = get64(param + 8);
	uint64_t n = get32(param + 16);
	if (n > SCSI_MAX_RANGE_BLOCKS) {
		plan_illegal(p, SCSI_ASC_INVALID_FIELD_IN_PARAM);
		return;
	}
	if (!in_range(d, lba, n, p))
		return;
	if (d->blk->readonly) {
		plan_check(p, SCSI_KEY_DATA_PROTECT, SCSI_ASC_WRITE_PROTECTED);
		return;
	}
	if (n == 0) {
		plan_good(p);
		return;
	}
	p->action = SCSI_IO;
	p->op = BLK_OP_DISCARD;
	p->offset = lba * d->blk->block_size;
	p->len = n * d->blk->block_size;
}

/* REQUEST SENSE: every error was reported with its command, so nothing is pending. */
static void request_sense(const uint8_t *cdb, uint64_t in_len, uint8_t key, uint16_t asc,
			  struct scsi_plan *p)
{
	if (cdb[1] & 0x01) { /* descriptor format: not supported */
		plan_illegal(p, SCSI_ASC_INVALID_FIELD_IN_CDB);
		return;
	}
	scsi_fixed_sense(p->data, key, asc);
	plan_answer(p, SCSI_SENSE_LEN, cdb[4], in_len);
}

/* ---- dispatch ---- */

uint32_t scsi_param_len(const struct scsi_disk *d, const uint8_t *cdb)
{
	uint32_t n;
	switch (cdb[0]) {
	case SCSI_MODE_SELECT_6: n = cdb[4]; break;
	case SCSI_MODE_SELECT_10:
	case SCSI_UNMAP: n = get16(cdb + 7); break;
	case SCSI_WRITE_SAME_10:
	case SCSI_WRITE_SAME_16: n = d->blk->block_size; break;
	default: n = 0; break;
	}
	return n < SCSI_PARAM_MAX ? n : SCSI_PARAM_MAX;
}

void scsi_plan(struct scsi_disk *d, const uint8_t *cdb, uint64_t in_len, uint64_t out_len,
	       const uint8_t *param, uint32_t param_len, struct scsi_plan *p)
{
	memset(p, 0, SCSI_PLAN_HEAD);
	/* A pending unit attention comes first, once (SPC-3 5.9.7); INQUIRY and REPORT LUNS pass. */
	if (d->unit_attention && cdb[0] != SCSI_INQUIRY && cdb[0] != SCSI_REPORT_LUNS) {
		uint16_t asc = d->unit_attention;
		d->unit_attention = 0;
		if (cdb[0] == SCSI_REQUEST_SENSE)
			request_sense(cdb, in_len, SCSI_KEY_UNIT_ATTENTION, asc, p);
		else
			plan_check(p, SCSI_KEY_UNIT_ATTENTION, asc);
		return;
	}
	switch (cdb[0]) {
	case SCSI_TEST_UNIT_READY:
	case SCSI_START_STOP_UNIT: /* a disk that is always spinning */
	case SCSI_PREVENT_ALLOW:   /* nothing to lock: the medium is not removable */
		plan_good(p);
		return;
	case SCSI_REQUEST_SENSE:
		request_sense(cdb, in_len, SCSI_KEY_NO_SENSE, SCSI_ASC_NONE, p);
		return;
	case SCSI_INQUIRY:
		scsi_inquiry(d, cdb, in_len, p);
		return;
	case SCSI_READ_CAPACITY_10:
		scsi_read_capacity_10(d, cdb, in_len, p);
		return;
	case SCSI_SERVICE_ACTION_IN_16:
		if ((cdb[1] & 0x1F) == SCSI_SA_READ_CAPACITY_16)
			scsi_read_capacity_16(d, cdb, in_len, p);
		else
			plan_illegal(p, SCSI_ASC_INVALID_FIELD_IN_CDB);
		return;
	case SCSI_MAINTENANCE_IN:
		if ((cdb[1] & 0x1F) == SCSI_SA_REPORT_OPCODES)
			scsi_report_opcodes(cdb, in_len, p);
		else
			plan_illegal(p, SCSI_ASC_INVALID_FIELD_IN_CDB);
		return;
	case SCSI_REPORT_LUNS:
		scsi_report_luns(cdb, in_len, p);
		return;
	case SCSI_MODE_SENSE_6:
	case SCSI_MODE_SENSE_10:
		scsi_mode_sense(d, cdb, in_len, p);
		return;
	case SCSI_MODE_SELECT_6:
	case SCSI_MODE_SELECT_10:
		scsi_mode_select(d, cdb, out_len, param, param_len, p);
		return;
	case SCSI_READ_6: case SCSI_READ_10: case SCSI_READ_12: case SCSI_READ_16:
	case SCSI_WRITE_6: case SCSI_WRITE_10: case SCSI_WRITE_12: case SCSI_WRITE_16:
		read_write(d, cdb, in_len, out_len, p);
		return;
	case SCSI_SYNCHRONIZE_CACHE_10:
	case SCSI_SYNCHRONIZE_CACHE_16:
		synchronize_cache(d, cdb, p);
		return;
	case SCSI_WRITE_SAME_10:
	case SCSI_WRITE_SAME_16:
		write_same(d, cdb, out_len, param, param_len, p);
		return;
	case SCSI_UNMAP:
		unmap(d, cdb, out_len, param, param_len, p);
		return;
	default:
		plan_illegal(p, SCSI_ASC_INVALID_OPCODE);
		return;
	}
}

void scsi_plan_no_lun(const uint8_t *cdb, uint64_t in_len, struct scsi_plan *p)
{
	memset(p, 0, SCSI_PLAN_HEAD);
	switch (cdb[0]) {
	case SCSI_INQUIRY:
		if (cdb[1] & 0x01) {
			plan_illegal(p, SCSI_ASC_LUN_NOT_SUPPORTED);
			return;
		}
		/* Peripheral qualifier 3, type 1Fh: no logical unit here. */
		plan_answer(p, scsi_standard_inquiry(p->data, 0x7F), get16(cdb + 3), in_len);
		return;
	case SCSI_REPORT_LUNS:
		scsi_report_luns(cdb, in_len, p);
		return;
	case SCSI_REQUEST_SENSE:
		request_sense(cdb, in_len, SCSI_KEY_ILLEGAL_REQUEST, SCSI_ASC_LUN_NOT_SUPPORTED, p);
		return;
	default:
		plan_illegal(p, SCSI_ASC_LUN_NOT_SUPPORTED);
		return;
	}
}

void scsi_io_done(struct scsi_plan *p, int res)
{
	if (res == 0) {
		p->status = SCSI_GOOD;
		p->sense_len = 0;
		return;
	}
	switch (res) {
	case -EROFS:
		plan_check(p, SCSI_KEY_DATA_PROTECT, SCSI_ASC_WRITE_PROTECTED);
		break;
	case -EINVAL:
		plan_illegal(p, SCSI_ASC_LBA_OUT_OF_RANGE);
		break;
	case -EOPNOTSUPP:
		plan_illegal(p, SCSI_ASC_INVALID_OPCODE);
		break;
	default:
		/* The host failed: a medium error, of reading or of writing. */
		plan_check(p, SCSI_KEY_MEDIUM_ERROR,
		      p->op == BLK_OP_READ ? SCSI_ASC_UNRECOVERED_READ : SCSI_ASC_WRITE_ERROR);
		break;
	}
}

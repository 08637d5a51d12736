#include "devices/scsi_disk.h"

#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

/* The pages and fields below follow SPC-3/SBC-3 as FACTS §6.4 lays them out. */

#define VPD_SUPPORTED 0x00
#define VPD_SERIAL 0x80
#define VPD_DEVICE_ID 0x83
#define VPD_BLOCK_LIMITS 0xB0
#define VPD_CHARACTERISTICS 0xB1
#define VPD_PROVISIONING 0xB2

#define MODE_PAGE_CACHING 0x08
#define MODE_PAGE_CONTROL 0x0A
#define MODE_PAGE_ALL 0x3F
#define CACHING_PAGE_LEN 20
#define CONTROL_PAGE_LEN 12
#define CACHING_WCE 0x04
#define MODE_DEV_WP 0x80
#define MODE_DEV_DPOFUA 0x10

/* CDB byte 1 of READ/WRITE(10/12/16) and WRITE SAME. */
#define CDB_FUA 0x08
#define CDB_PROTECT 0xE0
#define CDB_WS_UNMAP 0x08
#define CDB_WS_ANCHOR 0x10
#define CDB_WS16_NDOB 0x01

static uint16_t get16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return be16toh(v); }
static uint32_t get32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return be32toh(v); }
static uint64_t get64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return be64toh(v); }
static void put16(uint8_t *p, uint16_t v) { v = htobe16(v); memcpy(p, &v, 2); }
static void put32(uint8_t *p, uint32_t v) { v = htobe32(v); memcpy(p, &v, 4); }
static void put64(uint8_t *p, uint64_t v) { v = htobe64(v); memcpy(p, &v, 8); }

/* ASCII, space padded, no terminator. */
static void put_ascii(uint8_t *dst, const char *s, size_t width)
{
	size_t n = strnlen(s, width);
	memset(dst, ' ', width);
	memcpy(dst, s, n);
}

void scsi_disk_init(struct scsi_disk *d, struct blk *blk, unsigned int index)
{
	memset(d, 0, sizeof(*d));
	d->blk = blk;
	if (blk->serial[0])
		snprintf(d->serial, sizeof(d->serial), "%s", blk->serial);
	else
		snprintf(d->serial, sizeof(d->serial), "KESTREL-SCSI-%u", index);
}

uint64_t scsi_blocks(const struct scsi_disk *d)
{
	return d->blk->size / d->blk->block_size;
}

/* ---- status and sense ---- */

static void fixed_sense(uint8_t sense[SCSI_SENSE_LEN], uint8_t key, uint16_t asc)
{
	memset(sense, 0, SCSI_SENSE_LEN);
	sense[0] = 0x70; /* current error, fixed format */
	sense[2] = key;
	sense[7] = SCSI_SENSE_LEN - 8;
	sense[12] = (uint8_t)(asc >> 8);
	sense[13] = (uint8_t)asc;
}

static void check(struct scsi_plan *p, uint8_t key, uint16_t asc)
{
	p->action = SCSI_ANSWER;
	p->status = SCSI_CHECK_CONDITION;
	fixed_sense(p->sense, key, asc);
	p->sense_len = SCSI_SENSE_LEN;
	p->data_len = 0;
}

static void illegal(struct scsi_plan *p, uint16_t asc)
{
	check(p, SCSI_KEY_ILLEGAL_REQUEST, asc);
}

static void good(struct scsi_plan *p)
{
	p->action = SCSI_ANSWER;
	p->status = SCSI_GOOD;
	p->sense_len = 0;
}

/* The command would move more than the initiator's buffer holds: nothing is done. */
static void overrun(struct scsi_plan *p)
{
	good(p);
	p->overrun = true;
	p->data_len = 0;
}

/*
 * A command with a parameter list of `list` bytes: false, with the plan
 * finished, when the list does not fit the data-out buffer or is empty
 * (which asks for nothing).
 */
static bool param_list_present(uint32_t list, uint64_t out_len, struct scsi_plan *p)
{
	if (list > out_len) {
		overrun(p);
		return false;
	}
	if (list == 0) {
		good(p);
		return false;
	}
	return true;
}

/*
 * A command returning `len` bytes of p->data, of which the initiator
 * accepts `alloc`. Its buffer must hold the allocation length (what the
 * CDB may move), or the command is an overrun.
 */
static void answer(struct scsi_plan *p, uint32_t len, uint64_t alloc, uint64_t in_len)
{
	if (alloc > in_len) {
		overrun(p);
		return;
	}
	good(p);
	p->data_len = len < alloc ? len : (uint32_t)alloc;
}

/* ---- INQUIRY ---- */

static uint32_t standard_inquiry(uint8_t *b, uint8_t peripheral)
{
	memset(b, 0, 36);
	b[0] = peripheral;
	b[2] = 5;    /* SPC-3 */
	b[3] = 0x12; /* HISUP, response data format 2 */
	b[4] = 36 - 5;
	b[7] = 0x02; /* CMDQUE: tagged queueing */
	put_ascii(b + 8, "KESTREL", 8);
	put_ascii(b + 16, "SCSI disk", 16);
	put_ascii(b + 32, KESTREL_VERSION, 4);
	return 36;
}

static const uint8_t vpd_pages[] = {VPD_SUPPORTED, VPD_SERIAL, VPD_DEVICE_ID,
				    VPD_BLOCK_LIMITS, VPD_CHARACTERISTICS, VPD_PROVISIONING};

/* Builds VPD page `page` into b; returns its length, or 0 if there is no such page. */
static uint32_t vpd_page(const struct scsi_disk *d, uint8_t page, uint8_t *b)
{
	const struct blk *blk = d->blk;
	memset(b, 0, SCSI_DATA_MAX);
	b[1] = page;
	uint32_t n; /* payload bytes after the 4-byte header */
	switch (page) {
	case VPD_SUPPORTED:
		n = sizeof(vpd_pages);
		memcpy(b + 4, vpd_pages, n);
		break;
	case VPD_SERIAL:
		n = (uint32_t)strlen(d->serial);
		memcpy(b + 4, d->serial, n);
		break;
	case VPD_DEVICE_ID: {
		/* One T10 vendor ID designator: vendor, then the serial (ASCII). */
		uint32_t idlen = 8 + (uint32_t)strlen(d->serial);
		b[4] = 0x02; /* code set ASCII */
		b[5] = 0x01; /* associated with the LUN, T10 vendor ID */
		b[7] = (uint8_t)idlen;
		put_ascii(b + 8, "KESTREL", 8);
		memcpy(b + 16, d->serial, strlen(d->serial));
		n = 4 + idlen;
		break;
	}
	case VPD_BLOCK_LIMITS:
		n = 0x3C;
		b[4] = 0x01; /* WSNZ: WRITE SAME with 0 blocks is not "to the end" */
		put16(b + 6, 1);                       /* optimal transfer granularity */
		put32(b + 20, SCSI_MAX_RANGE_BLOCKS);  /* maximum unmap LBA count */
		put32(b + 24, 1);                      /* maximum unmap block descriptors */
		put32(b + 28, 1);                      /* optimal unmap granularity */
		put64(b + 36, SCSI_MAX_RANGE_BLOCKS);  /* maximum WRITE SAME length */
		break;
	case VPD_CHARACTERISTICS:
		n = 0x3C;
		put16(b + 4, 1); /* non-rotating medium */
		break;
	case VPD_PROVISIONING:
		n = 4;
		/* UNMAP, WRITE SAME(16) and (10) with UNMAP; thin provisioned (holes). */
		b[5] = 0xE0;
		b[6] = 0x02;
		break;
	default:
		return 0;
	}
	(void)blk;
	put16(b + 2, (uint16_t)n);
	return 4 + n;
}

static void inquiry(const struct scsi_disk *d, const uint8_t *cdb, uint64_t in_len,
		    struct scsi_plan *p)
{
	bool evpd = cdb[1] & 0x01;
	uint16_t alloc = get16(cdb + 3);
	if ((cdb[1] & 0xFE) || (!evpd && cdb[2])) {
		illegal(p, SCSI_ASC_INVALID_FIELD_IN_CDB);
		return;
	}
	uint32_t len = evpd ? vpd_page(d, cdb[2], p->data) : standard_inquiry(p->data, 0x00);
	if (!len) {
		illegal(p, SCSI_ASC_INVALID_FIELD_IN_CDB);
		return;
	}
	answer(p, len, alloc, in_len);
}

/* ---- READ CAPACITY, REPORT LUNS, REPORT SUPPORTED OPERATION CODES ---- */

static void read_capacity_10(const struct scsi_disk *d, const uint8_t *cdb, uint64_t in_len,
			     struct scsi_plan *p)
{
	/* PMI clear with a non-zero LBA is invalid (SBC-3). */
	if (!(cdb[8] & 0x01) && get32(cdb + 2)) {
		illegal(p, SCSI_ASC_INVALID_FIELD_IN_CDB);
		return;
	}
	uint64_t last = scsi_blocks(d) - 1;
	memset(p->data, 0, 8);
	put32(p->data, last > 0xFFFFFFFEull ? 0xFFFFFFFFu : (uint32_t)last);
	put32(p->data + 4, d->blk->block_size);
	answer(p, 8, 8, in_len);
}

static void read_capacity_16(const struct scsi_disk *d, const uint8_t *cdb, uint64_t in_len,
			     struct scsi_plan *p)
{
	memset(p->data, 0, 32);
	put64(p->data, scsi_blocks(d) - 1);
	put32(p->data + 8, d->blk->block_size);
	p->data[14] = 0x80; /* LBPME: UNMAP works; unmapped blocks need not read as zero */
	answer(p, 32, get32(cdb + 10), in_len);
}

static void report_luns(const uint8_t *cdb, uint64_t in_len, struct scsi_plan *p)
{
	uint32_t alloc = get32(cdb + 6);
	uint8_t select = cdb[2];
	if (alloc < 16 || (select != 0x00 && select != 0x01 && select != 0x02)) {
		illegal(p, SCSI_ASC_INVALID_FIELD_IN_CDB);
		return;
	}
	/* LUN 0 only: one disk per target. Select 1 asks for well-known LUNs: none. */
	uint32_t nluns = select == 0x01 ? 0 : 1;
	memset(p->data, 0, 16);
	put32(p->data, 8 * nluns);
	answer(p, 8 + 8 * nluns, alloc, in_len);
}

/* The commands scsi_plan implements, with their CDB lengths (for the opcodes report). */
static const struct {
	uint8_t opcode;
	int16_t service_action; /* -1: the opcode has none */
	uint8_t cdb_len;
} supported[] = {
	{SCSI_TEST_UNIT_READY, -1, 6}, {SCSI_REQUEST_SENSE, -1, 6}, {SCSI_READ_6, -1, 6},
	{SCSI_WRITE_6, -1, 6}, {SCSI_INQUIRY, -1, 6}, {SCSI_MODE_SELECT_6, -1, 6},
	{SCSI_MODE_SENSE_6, -1, 6}, {SCSI_START_STOP_UNIT, -1, 6}, {SCSI_PREVENT_ALLOW, -1, 6},
	{SCSI_READ_CAPACITY_10, -1, 10}, {SCSI_READ_10, -1, 10}, {SCSI_WRITE_10, -1, 10},
	{SCSI_SYNCHRONIZE_CACHE_10, -1, 10}, {SCSI_WRITE_SAME_10, -1, 10}, {SCSI_UNMAP, -1, 10},
	{SCSI_MODE_SELECT_10, -1, 10}, {SCSI_MODE_SENSE_10, -1, 10}, {SCSI_READ_16, -1, 16},
	{SCSI_WRITE_16, -1, 16}, {SCSI_SYNCHRONIZE_CACHE_16, -1, 16}, {SCSI_WRITE_SAME_16, -1, 16},
	{SCSI_SERVICE_ACTION_IN_16, SCSI_SA_READ_CAPACITY_16, 16}, {SCSI_REPORT_LUNS, -1, 12},
	{SCSI_MAINTENANCE_IN, SCSI_SA_REPORT_OPCODES, 12}, {SCSI_READ_12, -1, 12},
	{SCSI_WRITE_12, -1, 12},
};

static bool has_service_actions(uint8_t opcode)
{
	return opcode == SCSI_SERVICE_ACTION_IN_16 || opcode == SCSI_MAINTENANCE_IN;
}

/*
 * REPORT SUPPORTED OPERATION CODES for one command (reporting options 1 and
 * 2), which is what Linux asks before it uses WRITE SAME. The usage map
 * marks every CDB bit but the control byte as possibly used.
 */
static void report_opcodes(const uint8_t *cdb, uint64_t in_len, struct scsi_plan *p)
{
	uint8_t options = cdb[2] & 0x07;
	uint8_t opcode = cdb[3];
	uint16_t sa = get16(cdb + 4);
	uint32_t alloc = get32(cdb + 6);
	if ((options != 1 && options != 2) || (options == 1 && has_service_actions(opcode)) ||
	    (options == 2 && !has_service_actions(opcode))) {
		illegal(p, SCSI_ASC_INVALID_FIELD_IN_CDB);
		return;
	}
	uint8_t cdb_len = 0;
	for (size_t i = 0; i < sizeof(supported) / sizeof(supported[0]); i++)
		if (supported[i].opcode == opcode &&
		    (options == 1 || supported[i].service_action == sa))
			cdb_len = supported[i].cdb_len;
	memset(p->data, 0, 4 + 16);
	if (!cdb_len) {
		p->data[1] = 0x01; /* not supported */
		answer(p, 4, alloc, in_len);
		return;
	}
	p->data[1] = 0x03; /* supported, as the standard says */
	put16(p->data + 2, cdb_len);
	memset(p->data + 4, 0xFF, cdb_len - 1u);
	p->data[4] = opcode;
	answer(p, 4u + cdb_len, alloc, in_len);
}

/* ---- mode pages ---- */

static bool cache_on(const struct scsi_disk *d)
{
	return blk_write_cache_enabled(d->blk);
}

/* page control: 0 current, 1 changeable, 2 default. */
static uint32_t caching_page(const struct scsi_disk *d, unsigned pc, uint8_t *b)
{
	memset(b, 0, CACHING_PAGE_LEN);
	b[0] = MODE_PAGE_CACHING;
	b[1] = CACHING_PAGE_LEN - 2;
	bool wce;
	if (pc == 1)
		wce = blk_has_volatile_cache(d->blk); /* the guest can switch a cache it has */
	else if (pc == 2)
		wce = blk_has_volatile_cache(d->blk);
	else
		wce = cache_on(d);
	if (wce)
		b[2] |= CACHING_WCE;
	return CACHING_PAGE_LEN;
}

static uint32_t control_page(unsigned pc, uint8_t *b)
{
	memset(b, 0, CONTROL_PAGE_LEN);
	b[0] = MODE_PAGE_CONTROL;
	b[1] = CONTROL_PAGE_LEN - 2;
	if (pc != 1) {
		b[2] = 0x00; /* TST 0, no descriptor-format sense */
		b[3] = 0x10; /* queue algorithm modifier 1: unrestricted reordering */
		put16(b + 10, 0xFFFF); /* busy timeout period: unlimited */
	}
	return CONTROL_PAGE_LEN;
}

static void mode_sense(const struct scsi_disk *d, const uint8_t *cdb, uint64_t in_len,
		       struct scsi_plan *p)
{
	bool ten = cdb[0] == SCSI_MODE_SENSE_10;
	bool dbd = cdb[1] & 0x08;
	bool llbaa = ten && (cdb[1] & 0x10);
	unsigned pc = cdb[2] >> 6;
	uint8_t page = cdb[2] & 0x3F, subpage = cdb[3];
	uint32_t alloc = ten ? get16(cdb + 7) : cdb[4];
	if (pc == 3) {
		illegal(p, SCSI_ASC_SAVING_NOT_SUPPORTED);
		return;
	}
	if (subpage && !(page == MODE_PAGE_ALL && subpage == 0xFF)) {
		illegal(p, SCSI_ASC_INVALID_FIELD_IN_CDB);
		return;
	}
	if (page != MODE_PAGE_CACHING && page != MODE_PAGE_CONTROL && page != MODE_PAGE_ALL) {
		illegal(p, SCSI_ASC_INVALID_FIELD_IN_CDB);
		return;
	}
	uint8_t *b = p->data;
	uint32_t hdr = ten ? 8 : 4;
	uint32_t bdlen = dbd ? 0 : llbaa ? 16 : 8;
	memset(b, 0, hdr + bdlen);
	uint8_t dev = MODE_DEV_DPOFUA; /* FUA and DPO are honoured */
	if (d->blk->readonly)
		dev |= MODE_DEV_WP;
	uint64_t blocks = scsi_blocks(d);
	uint8_t *bd = b + hdr;
	if (bdlen == 8) {
		put32(bd, blocks > 0xFFFFFFFFull ? 0xFFFFFFFFu : (uint32_t)blocks);
		put32(bd + 4, d->blk->block_size & 0xFFFFFF);
	} else if (bdlen == 16) {
		put64(bd, blocks);
		put32(bd + 12, d->blk->block_size);
	}
	uint32_t len = hdr + bdlen;
	if (page == MODE_PAGE_CACHING || page == MODE_PAGE_ALL)
		len += caching_page(d, pc, b + len);
	if (page == MODE_PAGE_CONTROL || page == MODE_PAGE_ALL)
		len += control_page(pc, b + len);
	if (ten) {
		put16(b, (uint16_t)(len - 2));
		b[3] = dev;
		b[4] = llbaa ? 0x01 : 0x00;
		put16(b + 6, (uint16_t)bdlen);
	} else {
		b[0] = (uint8_t)(len - 1);
		b[2] = dev;
		b[3] = (uint8_t)bdlen;
	}
	answer(p, len, alloc, in_len);
}

/*
 * MODE SELECT: the caching page's WCE bit is the guest's write-cache switch;
 * every other field must be what MODE SENSE reports, since none is
 * changeable (SPC-3: INVALID FIELD IN PARAMETER LIST otherwise).
 */
static void mode_select(struct scsi_disk *d, const uint8_t *cdb, uint64_t out_len,
			const uint8_t *param, uint32_t param_len, struct scsi_plan *p)
{
	bool ten = cdb[0] == SCSI_MODE_SELECT_10;
	uint32_t list = ten ? get16(cdb + 7) : cdb[4];
	if (!(cdb[1] & 0x10) || (cdb[1] & 0x01)) {
		/* Pages must be in the standard format (PF), and nothing can be saved (SP). */
		illegal(p, SCSI_ASC_INVALID_FIELD_IN_CDB);
		return;
	}
	if (!param_list_present(list, out_len, p))
		return;
	uint32_t hdr = ten ? 8 : 4;
	if (list > param_len || list < hdr) {
		illegal(p, SCSI_ASC_PARAM_LIST_LENGTH);
		return;
	}
	uint32_t bdlen = ten ? get16(param + 6) : param[3];
	if ((bdlen != 0 && bdlen != 8) || hdr + bdlen > list) {
		illegal(p, SCSI_ASC_INVALID_FIELD_IN_PARAM);
		return;
	}
	if (bdlen == 8 && get32(param + hdr + 4) != d->blk->block_size) {
		illegal(p, SCSI_ASC_INVALID_FIELD_IN_PARAM); /* the block size cannot change */
		return;
	}
	/* Check every page first, then apply: a rejected list changes nothing. */
	int wce = -1;
	for (uint32_t off = hdr + bdlen; off < list;) {
		const uint8_t *pg = param + off;
		if (list - off < 2 || (pg[0] & 0x40) || list - off < 2u + pg[1]) {
			illegal(p, SCSI_ASC_INVALID_FIELD_IN_PARAM);
			return;
		}
		uint8_t code = pg[0] & 0x3F;
		uint32_t plen = 2u + pg[1];
		uint8_t want[CACHING_PAGE_LEN];
		uint32_t wlen;
		if (code == MODE_PAGE_CACHING)
			wlen = caching_page(d, 0, want);
		else if (code == MODE_PAGE_CONTROL)
			wlen = control_page(0, want);
		else
			wlen = 0;
		if (!wlen || plen != wlen) {
			illegal(p, SCSI_ASC_INVALID_FIELD_IN_PARAM);
			return;
		}
		/* Everything but PS (reserved here) and, for caching, WCE must match. */
		uint8_t got0 = pg[0] & 0x7F;
		bool same = got0 == want[0];
		for (uint32_t i = 1; i < plen && same; i++) {
			uint8_t mask = (code == MODE_PAGE_CACHING && i == 2) ? (uint8_t)~CACHING_WCE : 0xFF;
			same = (pg[i] & mask) == (want[i] & mask);
		}
		if (!same) {
			illegal(p, SCSI_ASC_INVALID_FIELD_IN_PARAM);
			return;
		}
		if (code == MODE_PAGE_CACHING) {
			wce = (pg[2] & CACHING_WCE) != 0;
			/* A policy without a volatile cache cannot grow one. */
			if (wce && !blk_has_volatile_cache(d->blk)) {
				illegal(p, SCSI_ASC_INVALID_FIELD_IN_PARAM);
				return;
			}
		}
		off += plen;
	}
	if (wce >= 0)
		blk_set_write_cache(d->blk, wce);
	good(p);
}

/* ---- I/O commands ---- */

/* Checks [lba, lba+n) against the disk; sets the sense if it does not fit. */
static bool in_range(const struct scsi_disk *d, uint64_t lba, uint64_t n, struct scsi_plan *p)
{
	uint64_t blocks = scsi_blocks(d);
	if (lba > blocks || n > blocks - lba) {
		illegal(p, SCSI_ASC_LBA_OUT_OF_RANGE);
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
			illegal(p, SCSI_ASC_INVALID_FIELD_IN_CDB);
			return;
		}
		fua = cdb[1] & CDB_FUA;
	}
	uint64_t bytes = n * d->blk->block_size; /* n < 2^32: no overflow */
	if (bytes > (write ? out_len : in_len)) {
		overrun(p);
		return;
	}
	if (!in_range(d, lba, n, p))
		return;
	if (write && d->blk->readonly) {
		check(p, SCSI_KEY_DATA_PROTECT, SCSI_ASC_WRITE_PROTECTED);
		return;
	}
	if (n == 0) { /* nothing to move: not an error (SBC-3) */
		good(p);
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
		illegal(p, SCSI_ASC_INVALID_FIELD_IN_CDB);
		return;
	}
	if (!ndob && out_len < bs) {
		overrun(p);
		return;
	}
	if (!in_range(d, lba, n, p))
		return;
	if (d->blk->readonly) {
		check(p, SCSI_KEY_DATA_PROTECT, SCSI_ASC_WRITE_PROTECTED);
		return;
	}
	if (!ndob && (param_len < bs || !all_zero(param, bs))) {
		illegal(p, SCSI_ASC_INVALID_FIELD_IN_CDB);
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
		illegal(p, SCSI_ASC_INVALID_FIELD_IN_CDB);
		return;
	}
	if (!param_list_present(list, out_len, p))
		return;
	if (list < 8 || list > param_len) {
		illegal(p, SCSI_ASC_PARAM_LIST_LENGTH);
		return;
	}
	uint32_t desc_bytes = get16(param + 2);
	if (desc_bytes % 16 || desc_bytes > list - 8 || get16(param) + 2u > list + 0u) {
		illegal(p, SCSI_ASC_INVALID_FIELD_IN_PARAM);
		return;
	}
	if (desc_bytes == 0) {
		good(p);
		return;
	}
	if (desc_bytes > 16) {
		illegal(p, SCSI_ASC_INVALID_FIELD_IN_PARAM);
		return;
	}
	uint64_t lba = get64(param + 8);
	uint64_t n = get32(param + 16);
	if (n > SCSI_MAX_RANGE_BLOCKS) {
		illegal(p, SCSI_ASC_INVALID_FIELD_IN_PARAM);
		return;
	}
	if (!in_range(d, lba, n, p))
		return;
	if (d->blk->readonly) {
		check(p, SCSI_KEY_DATA_PROTECT, SCSI_ASC_WRITE_PROTECTED);
		return;
	}
	if (n == 0) {
		good(p);
		return;
	}
	p->action = SCSI_IO;
	p->op = BLK_OP_DISCARD;
	p->offset = lba * d->blk->block_size;
	p->len = n * d->blk->block_size;
}

/* REQUEST SENSE: every error was reported with its command, so nothing is pending. */
static void request_sense(const uint8_t *cdb, uint64_t in_len, uint16_t asc, struct scsi_plan *p)
{
	if (cdb[1] & 0x01) { /* descriptor format: not supported */
		illegal(p, SCSI_ASC_INVALID_FIELD_IN_CDB);
		return;
	}
	fixed_sense(p->data, asc ? SCSI_KEY_ILLEGAL_REQUEST : SCSI_KEY_NO_SENSE, asc);
	answer(p, SCSI_SENSE_LEN, cdb[4], in_len);
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
	switch (cdb[0]) {
	case SCSI_TEST_UNIT_READY:
	case SCSI_START_STOP_UNIT: /* a disk that is always spinning */
	case SCSI_PREVENT_ALLOW:   /* nothing to lock: the medium is not removable */
		good(p);
		return;
	case SCSI_REQUEST_SENSE:
		request_sense(cdb, in_len, SCSI_ASC_NONE, p);
		return;
	case SCSI_INQUIRY:
		inquiry(d, cdb, in_len, p);
		return;
	case SCSI_READ_CAPACITY_10:
		read_capacity_10(d, cdb, in_len, p);
		return;
	case SCSI_SERVICE_ACTION_IN_16:
		if ((cdb[1] & 0x1F) == SCSI_SA_READ_CAPACITY_16)
			read_capacity_16(d, cdb, in_len, p);
		else
			illegal(p, SCSI_ASC_INVALID_FIELD_IN_CDB);
		return;
	case SCSI_MAINTENANCE_IN:
		if ((cdb[1] & 0x1F) == SCSI_SA_REPORT_OPCODES)
			report_opcodes(cdb, in_len, p);
		else
			illegal(p, SCSI_ASC_INVALID_FIELD_IN_CDB);
		return;
	case SCSI_REPORT_LUNS:
		report_luns(cdb, in_len, p);
		return;
	case SCSI_MODE_SENSE_6:
	case SCSI_MODE_SENSE_10:
		mode_sense(d, cdb, in_len, p);
		return;
	case SCSI_MODE_SELECT_6:
	case SCSI_MODE_SELECT_10:
		mode_select(d, cdb, out_len, param, param_len, p);
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
		illegal(p, SCSI_ASC_INVALID_OPCODE);
		return;
	}
}

void scsi_plan_no_lun(const uint8_t *cdb, uint64_t in_len, struct scsi_plan *p)
{
	memset(p, 0, SCSI_PLAN_HEAD);
	switch (cdb[0]) {
	case SCSI_INQUIRY:
		if (cdb[1] & 0x01) {
			illegal(p, SCSI_ASC_LUN_NOT_SUPPORTED);
			return;
		}
		/* Peripheral qualifier 3, type 1Fh: no logical unit here. */
		answer(p, standard_inquiry(p->data, 0x7F), get16(cdb + 3), in_len);
		return;
	case SCSI_REPORT_LUNS:
		report_luns(cdb, in_len, p);
		return;
	case SCSI_REQUEST_SENSE:
		request_sense(cdb, in_len, SCSI_ASC_LUN_NOT_SUPPORTED, p);
		return;
	default:
		illegal(p, SCSI_ASC_LUN_NOT_SUPPORTED);
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
		check(p, SCSI_KEY_DATA_PROTECT, SCSI_ASC_WRITE_PROTECTED);
		break;
	case -EINVAL:
		illegal(p, SCSI_ASC_LBA_OUT_OF_RANGE);
		break;
	case -EOPNOTSUPP:
		illegal(p, SCSI_ASC_INVALID_OPCODE);
		break;
	default:
		/* The host failed: a medium error, of reading or of writing. */
		check(p, SCSI_KEY_MEDIUM_ERROR,
		      p->op == BLK_OP_READ ? SCSI_ASC_UNRECOVERED_READ : SCSI_ASC_WRITE_ERROR);
		break;
	}
}

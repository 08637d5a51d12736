/*
 * The SCSI disk's identity and geometry: standard INQUIRY and the VPD pages,
 * READ CAPACITY, REPORT LUNS, REPORT SUPPORTED OPERATION CODES (FACTS §6.4).
 */
#include <stdio.h>
#include <string.h>

#include "devices/scsi_internal.h"

#define VPD_SUPPORTED 0x00
#define VPD_SERIAL 0x80
#define VPD_DEVICE_ID 0x83
#define VPD_BLOCK_LIMITS 0xB0
#define VPD_CHARACTERISTICS 0xB1
#define VPD_PROVISIONING 0xB2

/* ASCII, space padded, no terminator. */
static void put_ascii(uint8_t *dst, const char *s, size_t width)
{
	size_t n = strnlen(s, width);
	memset(dst, ' ', width);
	memcpy(dst, s, n);
}

/* ---- INQUIRY ---- */

uint32_t scsi_standard_inquiry(uint8_t *b, uint8_t peripheral)
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
		put32(b + 8, SCSI_MAX_TRANSFER_BYTES / d->blk->block_size); /* maximum transfer length */
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
	put16(b + 2, (uint16_t)n);
	return 4 + n;
}

void scsi_inquiry(const struct scsi_disk *d, const uint8_t *cdb, uint64_t in_len,
		    struct scsi_plan *p)
{
	bool evpd = cdb[1] & 0x01;
	uint16_t alloc = get16(cdb + 3);
	if ((cdb[1] & 0xFE) || (!evpd && cdb[2])) {
		plan_illegal(p, SCSI_ASC_INVALID_FIELD_IN_CDB);
		return;
	}
	uint32_t len = evpd ? vpd_page(d, cdb[2], p->data) : scsi_standard_inquiry(p->data, 0x00);
	if (!len) {
		plan_illegal(p, SCSI_ASC_INVALID_FIELD_IN_CDB);
		return;
	}
	plan_answer(p, len, alloc, in_len);
}

/* ---- READ CAPACITY, REPORT LUNS, REPORT SUPPORTED OPERATION CODES ---- */

void scsi_read_capacity_10(const struct scsi_disk *d, const uint8_t *cdb, uint64_t in_len,
			     struct scsi_plan *p)
{
	/* PMI clear with a non-zero LBA is invalid (SBC-3). */
	if (!(cdb[8] & 0x01) && get32(cdb + 2)) {
		plan_illegal(p, SCSI_ASC_INVALID_FIELD_IN_CDB);
		return;
	}
	uint64_t last = scsi_blocks(d) - 1;
	memset(p->data, 0, 8);
	put32(p->data, last > 0xFFFFFFFEull ? 0xFFFFFFFFu : (uint32_t)last);
	put32(p->data + 4, d->blk->block_size);
	plan_answer(p, 8, 8, in_len);
}

void scsi_read_capacity_16(const struct scsi_disk *d, const uint8_t *cdb, uint64_t in_len,
			     struct scsi_plan *p)
{
	memset(p->data, 0, 32);
	put64(p->data, scsi_blocks(d) - 1);
	put32(p->data + 8, d->blk->block_size);
	p->data[14] = 0x80; /* LBPME: UNMAP works; unmapped blocks need not read as zero */
	plan_answer(p, 32, get32(cdb + 10), in_len);
}

void scsi_report_luns(const uint8_t *cdb, uint64_t in_len, struct scsi_plan *p)
{
	uint32_t alloc = get32(cdb + 6);
	uint8_t select = cdb[2];
	if (alloc < 16 || (select != 0x00 && select != 0x01 && select != 0x02)) {
		plan_illegal(p, SCSI_ASC_INVALID_FIELD_IN_CDB);
		return;
	}
	/* LUN 0 only: one disk per target. Select 1 asks for well-known LUNs: none. */
	uint32_t nluns = select == 0x01 ? 0 : 1;
	memset(p->data, 0, 16);
	put32(p->data, 8 * nluns);
	plan_answer(p, 8 + 8 * nluns, alloc, in_len);
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
void scsi_report_opcodes(const uint8_t *cdb, uint64_t in_len, struct scsi_plan *p)
{
	uint8_t options = cdb[2] & 0x07;
	uint8_t opcode = cdb[3];
	uint16_t sa = get16(cdb + 4);
	uint32_t alloc = get32(cdb + 6);
	if ((options != 1 && options != 2) || (options == 1 && has_service_actions(opcode)) ||
	    (options == 2 && !has_service_actions(opcode))) {
		plan_illegal(p, SCSI_ASC_INVALID_FIELD_IN_CDB);
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
		plan_answer(p, 4, alloc, in_len);
		return;
	}
	p->data[1] = 0x03; /* supported, as the standard says */
	put16(p->data + 2, cdb_len);
	memset(p->data + 4, 0xFF, cdb_len - 1u);
	p->data[4] = opcode;
	plan_answer(p, 4u + cdb_len, alloc, in_len);
}

/*
 * The SCSI disk's mode pages: MODE SENSE of the caching and control pages,
 * and MODE SELECT of the caching page's WCE bit, the guest's write-cache
 * switch (FACTS §6.4).
 */
#include <string.h>

#include "devices/scsi_internal.h"

#define MODE_PAGE_CACHING 0x08
#define MODE_PAGE_CONTROL 0x0A
#define MODE_PAGE_ALL 0x3F
#define CACHING_PAGE_LEN 20
#define CONTROL_PAGE_LEN 12
#define CACHING_WCE 0x04
#define MODE_DEV_WP 0x80
#define MODE_DEV_DPOFUA 0x10

/* ---- mode pages ---- */

/* page control: 0 current, 1 changeable, 2 default. */
static uint32_t caching_page(const struct scsi_disk *d, unsigned pc, uint8_t *b)
{
	memset(b, 0, CACHING_PAGE_LEN);
	b[0] = MODE_PAGE_CACHING;
	b[1] = CACHING_PAGE_LEN - 2;
	/*
	 * Current: what the backend does now. Changeable and default: whether
	 * the policy has a cache, which is the one the guest can switch and the
	 * one a disk starts with.
	 */
	bool wce = pc == 0 ? blk_write_cache_enabled(d->blk) : blk_has_volatile_cache(d->blk);
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

void scsi_mode_sense(const struct scsi_disk *d, const uint8_t *cdb, uint64_t in_len,
		       struct scsi_plan *p)
{
	bool ten = cdb[0] == SCSI_MODE_SENSE_10;
	bool dbd = cdb[1] & 0x08;
	bool llbaa = ten && (cdb[1] & 0x10);
	unsigned pc = cdb[2] >> 6;
	uint8_t page = cdb[2] & 0x3F, subpage = cdb[3];
	uint32_t alloc = ten ? get16(cdb + 7) : cdb[4];
	if (pc == 3) {
		plan_illegal(p, SCSI_ASC_SAVING_NOT_SUPPORTED);
		return;
	}
	if (subpage && !(page == MODE_PAGE_ALL && subpage == 0xFF)) {
		plan_illegal(p, SCSI_ASC_INVALID_FIELD_IN_CDB);
		return;
	}
	if (page != MODE_PAGE_CACHING && page != MODE_PAGE_CONTROL && page != MODE_PAGE_ALL) {
		plan_illegal(p, SCSI_ASC_INVALID_FIELD_IN_CDB);
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
	plan_answer(p, len, alloc, in_len);
}

/*
 * MODE SELECT: the caching page's WCE bit is the guest's write-cache switch;
 * every other field must be what MODE SENSE reports, since none is
 * changeable (SPC-3: INVALID FIELD IN PARAMETER LIST otherwise).
 */
void scsi_mode_select(struct scsi_disk *d, const uint8_t *cdb, uint64_t out_len,
			const uint8_t *param, uint32_t param_len, struct scsi_plan *p)
{
	bool ten = cdb[0] == SCSI_MODE_SELECT_10;
	uint32_t list = ten ? get16(cdb + 7) : cdb[4];
	if (!(cdb[1] & 0x10) || (cdb[1] & 0x01)) {
		/* Pages must be in the standard format (PF), and nothing can be saved (SP). */
		plan_illegal(p, SCSI_ASC_INVALID_FIELD_IN_CDB);
		return;
	}
	if (!plan_param_list(list, out_len, p))
		return;
	uint32_t hdr = ten ? 8 : 4;
	if (list > param_len || list < hdr) {
		plan_illegal(p, SCSI_ASC_PARAM_LIST_LENGTH);
		return;
	}
	uint32_t bdlen = ten ? get16(param + 6) : param[3];
	if ((bdlen != 0 && bdlen != 8) || hdr + bdlen > list) {
		plan_illegal(p, SCSI_ASC_INVALID_FIELD_IN_PARAM);
		return;
	}
	if (bdlen == 8 && get32(param + hdr + 4) != d->blk->block_size) {
		plan_illegal(p, SCSI_ASC_INVALID_FIELD_IN_PARAM); /* the block size cannot change */
		return;
	}
	/* Check every page first, then apply: a rejected list changes nothing. */
	int wce = -1;
	for (uint32_t off = hdr + bdlen; off < list;) {
		const uint8_t *pg = param + off;
		if (list - off < 2 || (pg[0] & 0x40) || list - off < 2u + pg[1]) {
			plan_illegal(p, SCSI_ASC_INVALID_FIELD_IN_PARAM);
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
			plan_illegal(p, SCSI_ASC_INVALID_FIELD_IN_PARAM);
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
			plan_illegal(p, SCSI_ASC_INVALID_FIELD_IN_PARAM);
			return;
		}
		if (code == MODE_PAGE_CACHING) {
			wce = (pg[2] & CACHING_WCE) != 0;
			/* A policy without a volatile cache cannot grow one. */
			if (wce && !blk_has_volatile_cache(d->blk)) {
				plan_illegal(p, SCSI_ASC_INVALID_FIELD_IN_PARAM);
				return;
			}
		}
		off += plen;
	}
	if (wce >= 0)
		blk_set_write_cache(d->blk, wce);
	plan_good(p);
	if (wce == 0) {
		/* GOOD only once what was cached is durable; a failed flush fails the command. */
		p->action = SCSI_IO;
		p->op = BLK_OP_FLUSH;
		p->internal = true;
	}
}

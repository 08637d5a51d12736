#include "devices/ata.h"

#include <stdio.h>
#include <string.h>

#define LBA28_MAX 0x0FFFFFFFull

uint64_t ata_sectors(const struct ata_disk *d)
{
	return d->blk->size / d->blk->block_size;
}

void ata_disk_init(struct ata_disk *d, struct blk *blk, unsigned int index)
{
	memset(d, 0, sizeof(*d));
	d->blk = blk;
	if (blk->serial[0])
		snprintf(d->serial, sizeof(d->serial), "%s", blk->serial);
	else
		snprintf(d->serial, sizeof(d->serial), "KESTREL-SATA-%u", index);
	snprintf(d->model, sizeof(d->model), "kestrel SATA disk");
	snprintf(d->firmware, sizeof(d->firmware), "%s", KESTREL_VERSION);
}

/* ATA strings: space-padded, two characters per word, the first in the high byte. */
static void put_string(uint16_t *w, const char *s, unsigned chars)
{
	size_t n = strlen(s);
	for (unsigned i = 0; i < chars; i += 2) {
		uint8_t hi = i < n ? (uint8_t)s[i] : ' ';
		uint8_t lo = i + 1 < n ? (uint8_t)s[i + 1] : ' ';
		w[i / 2] = (uint16_t)(hi << 8 | lo);
	}
}

void ata_identify(const struct ata_disk *d, uint16_t id[256])
{
	memset(id, 0, 512);
	uint64_t sectors = ata_sectors(d);
	uint32_t logical = d->blk->block_size;
	bool wce = blk_write_cache_enabled(d->blk);

	id[0] = 0x0040; /* fixed, non-removable ATA device */
	uint64_t cyl = sectors / (16 * 63);
	id[1] = (uint16_t)(cyl > 16383 ? 16383 : cyl);
	id[3] = 16;
	id[6] = 63;
	put_string(&id[10], d->serial, 20);
	put_string(&id[23], d->firmware, 8);
	put_string(&id[27], d->model, 40);
	id[47] = 0x8000; /* READ/WRITE MULTIPLE: not supported */
	id[49] = 0x0B00; /* DMA, LBA, IORDY */
	id[50] = 0x4000;
	id[53] = 0x0006; /* words 64-70 and 88 are valid */
	uint64_t lba28 = sectors > LBA28_MAX ? LBA28_MAX : sectors;
	id[60] = (uint16_t)lba28;
	id[61] = (uint16_t)(lba28 >> 16);
	id[63] = 0x0007;
	id[64] = 0x0003;
	id[65] = id[66] = id[67] = id[68] = 120;
	id[75] = 31;     /* NCQ queue depth 32 */
	id[76] = 0x010E; /* NCQ; SATA Gen1, Gen2, Gen3 */
	id[80] = 0x01F0; /* ATA/ATAPI-4 to ATA8-ACS */
	id[81] = 0x0028;
	/* Supported: NOP (14), write cache (5) when the policy has one. */
	id[82] = 1u << 14 | (blk_has_volatile_cache(d->blk) ? 1u << 5 : 0);
	/* Valid (14); FLUSH CACHE EXT (13), FLUSH CACHE (12), LBA48 (10). */
	id[83] = 1u << 14 | 1u << 13 | 1u << 12 | 1u << 10;
	/* Valid (14); WRITE DMA FUA EXT (6). */
	id[84] = 1u << 14 | 1u << 6;
	/* Enabled: the write cache exactly when writes are cached right now. */
	id[85] = 1u << 14 | (wce ? 1u << 5 : 0);
	id[86] = 1u << 13 | 1u << 12 | 1u << 10;
	id[87] = 1u << 14 | 1u << 6;
	id[88] = 0x203F; /* UDMA 0-5 supported, 5 selected */
	id[93] = 0;
	for (unsigned i = 0; i < 4; i++)
		id[100 + i] = (uint16_t)(sectors >> (16 * i));
	id[106] = 1u << 14;
	if (logical > 512) {
		id[106] |= 1u << 12;
		id[117] = (uint16_t)(logical / 2);
		id[118] = (uint16_t)(logical / 2 >> 16);
	}
	id[217] = 1; /* non-rotating */
	/* Integrity word: signature 0xA5, and a checksum making all 512 bytes sum to 0. */
	id[255] = 0x00A5;
	uint8_t sum = 0;
	const uint8_t *b = (const uint8_t *)id;
	for (unsigned i = 0; i < 511; i++)
		sum = (uint8_t)(sum + b[i]);
	id[255] |= (uint16_t)((uint8_t)-sum << 8);
}

void ata_tf_from_fis(const uint8_t f[20], struct ata_tf *tf)
{
	tf->command = f[2];
	tf->features = (uint16_t)(f[3] | f[11] << 8);
	tf->lba = (uint64_t)f[4] | (uint64_t)f[5] << 8 | (uint64_t)f[6] << 16 |
		  (uint64_t)f[8] << 24 | (uint64_t)f[9] << 32 | (uint64_t)f[10] << 40;
	tf->device = f[7];
	tf->count = (uint16_t)(f[12] | f[13] << 8);
}

static void answer(struct ata_plan *p, uint8_t error)
{
	p->action = ATA_ANSWER;
	p->status = error ? ATA_STATUS_ERR : ATA_STATUS_OK;
	p->error = error;
}

/* A read or write of `count` sectors at lba, checked against the disk. */
static void plan_io(struct ata_disk *d, struct ata_plan *p, bool write, uint64_t lba,
		    uint32_t count, bool fua, bool ncq)
{
	uint64_t sectors = ata_sectors(d);
	if (lba > sectors || count > sectors - lba) {
		answer(p, ATA_IDNF);
		return;
	}
	p->action = ATA_IO;
	p->status = ATA_STATUS_OK;
	p->error = 0;
	p->op = write ? BLK_OP_WRITE : BLK_OP_READ;
	p->offset = lba * d->blk->block_size;
	p->len = (uint64_t)count * d->blk->block_size;
	p->fua = fua;
	p->ncq = ncq;
}

static void plan_set_features(struct ata_disk *d, const struct ata_tf *tf, struct ata_plan *p)
{
	switch (tf->features & 0xFF) {
	case 0x02: /* enable the volatile write cache */
		/* A policy without one cannot grow one (IDENTIFY says none is supported). */
		if (!blk_has_volatile_cache(d->blk)) {
			answer(p, ATA_ABRT);
			return;
		}
		blk_set_write_cache(d->blk, true);
		answer(p, 0);
		return;
	case 0x82: /* disable it: later writes durable, cached ones flushed */
		blk_set_write_cache(d->blk, false);
		/* Done only once what was cached is durable (as QEMU's IDE does). */
		answer(p, 0);
		p->action = ATA_IO;
		p->op = BLK_OP_FLUSH;
		p->offset = p->len = 0;
		p->fua = p->ncq = false;
		p->internal = true;
		return;
	case 0x03: /* transfer mode: there is no wire */
	case 0x10: case 0x90: /* SATA feature enable/disable: nothing to change */
	case 0x66: case 0xCC: /* keep/revert to defaults on reset */
	case 0xAA: case 0x55: /* read look-ahead */
		answer(p, 0);
		return;
	default:
		answer(p, ATA_ABRT);
		return;
	}
}

static void plan_read_log(struct ata_disk *d, const struct ata_tf *tf, struct ata_plan *p)
{
	uint8_t log = (uint8_t)tf->lba;
	uint16_t page = (uint16_t)(tf->lba >> 8);
	if (tf->count != 1 || page != 0) {
		answer(p, ATA_ABRT);
		return;
	}
	memset(p->data, 0, sizeof(p->data));
	switch (log) {
	case ATA_LOG_DIRECTORY:
		p->data[0] = 0x01; /* version */
		p->data[2 * ATA_LOG_NCQ_ERROR] = 1; /* one page */
		break;
	case ATA_LOG_NCQ_ERROR:
		if (d->ncq_error) {
			p->data[0] = d->ncq_error_tag & 0x1F;
			p->data[2] = d->ncq_error_status;
			p->data[3] = d->ncq_error_error;
			for (unsigned i = 0; i < 3; i++) {
				p->data[4 + i] = (uint8_t)(d->ncq_error_lba >> (8 * i));
				p->data[8 + i] = (uint8_t)(d->ncq_error_lba >> (24 + 8 * i));
			}
			d->ncq_error = false; /* reading the log clears the error */
		} else {
			p->data[0] = 0x80; /* NQ: no queued command failed */
		}
		break;
	default:
		answer(p, ATA_ABRT);
		return;
	}
	uint8_t sum = 0;
	for (unsigned i = 0; i < 511; i++)
		sum = (uint8_t)(sum + p->data[i]);
	if (log == ATA_LOG_NCQ_ERROR)
		p->data[511] = (uint8_t)-sum;
	p->action = ATA_DATA_IN;
	p->data_len = 512;
	p->status = ATA_STATUS_OK;
	p->error = 0;
}

void ata_plan(struct ata_disk *d, const struct ata_tf *tf, struct ata_plan *p)
{
	p->data_len = 0;
	p->fua = p->ncq = p->internal = false;
	uint32_t count16 = tf->count ? tf->count : 65536;
	uint32_t fcount = tf->features ? tf->features : 65536;
	switch (tf->command) {
	case ATA_CMD_IDENTIFY: {
		uint16_t id[256];
		ata_identify(d, id);
		memcpy(p->data, id, sizeof(id));
		p->action = ATA_DATA_IN;
		p->data_len = 512;
		p->status = ATA_STATUS_OK;
		p->error = 0;
		return;
	}
	case ATA_CMD_READ_DMA:
	case ATA_CMD_WRITE_DMA: {
		uint32_t count = (tf->count & 0xFF) ? (tf->count & 0xFF) : 256;
		uint64_t lba = (tf->lba & 0xFFFFFF) | (uint64_t)(tf->device & 0x0F) << 24;
		plan_io(d, p, tf->command == ATA_CMD_WRITE_DMA, lba, count, false, false);
		return;
	}
	case ATA_CMD_READ_DMA_EXT:
	case ATA_CMD_WRITE_DMA_EXT:
	case ATA_CMD_WRITE_DMA_FUA_EXT:
		plan_io(d, p, tf->command != ATA_CMD_READ_DMA_EXT, tf->lba, count16,
			tf->command == ATA_CMD_WRITE_DMA_FUA_EXT, false);
		return;
	case ATA_CMD_READ_FPDMA:
	case ATA_CMD_WRITE_FPDMA:
		/* Sector count in the features field; FUA is device bit 7. */
		plan_io(d, p, tf->command == ATA_CMD_WRITE_FPDMA, tf->lba, fcount,
			tf->command == ATA_CMD_WRITE_FPDMA && (tf->device & 0x80), true);
		return;
	case ATA_CMD_FLUSH:
	case ATA_CMD_FLUSH_EXT:
		p->action = ATA_IO;
		p->op = BLK_OP_FLUSH;
		p->offset = p->len = 0;
		p->status = ATA_STATUS_OK;
		p->error = 0;
		return;
	case ATA_CMD_SET_FEATURES:
		plan_set_features(d, tf, p);
		return;
	case ATA_CMD_READ_LOG_EXT:
		plan_read_log(d, tf, p);
		return;
	case ATA_CMD_STANDBY_NOW:
	case ATA_CMD_IDLE_NOW:
	case ATA_CMD_INIT_DEV_PARAMS:
		answer(p, 0);
		return;
	case ATA_CMD_CHECK_POWER:
		answer(p, 0); /* the HBA reports count 0xFF: active */
		return;
	default:
		answer(p, ATA_ABRT);
		return;
	}
}

/*
 * The ATA command set of an emulated SATA disk, independent of the HBA:
 * IDENTIFY DEVICE words, command decoding into a plan (answer now, return
 * data, or do I/O through the block backend), and status/error codes.
 * FACTS §7.7–7.8. Loop thread (pure functions plus the disk's state).
 */
#ifndef KESTREL_ATA_H
#define KESTREL_ATA_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/blk.h"

/* Status bits. */
#define ATA_DRDY 0x40
#define ATA_DSC 0x10 /* seek complete (legacy, always set) */
#define ATA_ERR 0x01
#define ATA_STATUS_OK (ATA_DRDY | ATA_DSC)
#define ATA_STATUS_ERR (ATA_DRDY | ATA_DSC | ATA_ERR)
/* Error bits. */
#define ATA_ABRT 0x04
#define ATA_IDNF 0x10
#define ATA_UNC 0x40

/* Commands. */
#define ATA_CMD_READ_DMA 0xC8
#define ATA_CMD_WRITE_DMA 0xCA
#define ATA_CMD_READ_DMA_EXT 0x25
#define ATA_CMD_WRITE_DMA_EXT 0x35
#define ATA_CMD_WRITE_DMA_FUA_EXT 0x3D
#define ATA_CMD_READ_FPDMA 0x60
#define ATA_CMD_WRITE_FPDMA 0x61
#define ATA_CMD_READ_LOG_EXT 0x2F
#define ATA_CMD_FLUSH 0xE7
#define ATA_CMD_FLUSH_EXT 0xEA
#define ATA_CMD_IDENTIFY 0xEC
#define ATA_CMD_SET_FEATURES 0xEF
#define ATA_CMD_STANDBY_NOW 0xE0
#define ATA_CMD_IDLE_NOW 0xE1
#define ATA_CMD_CHECK_POWER 0xE5
#define ATA_CMD_INIT_DEV_PARAMS 0x91

#define ATA_LOG_DIRECTORY 0x00
#define ATA_LOG_NCQ_ERROR 0x10

/* The register fields of a host-to-device FIS. */
struct ata_tf {
	uint8_t command;
	uint16_t features; /* 15:8 from the "exp" byte */
	uint16_t count;
	uint64_t lba;      /* 48 bits */
	uint8_t device;
};

struct ata_disk {
	struct blk *blk;
	char serial[21];
	char model[41];
	char firmware[9];
	/* Last NCQ error, for READ LOG EXT page 0x10. */
	bool ncq_error;
	uint8_t ncq_error_tag;
	uint8_t ncq_error_status, ncq_error_error;
	uint64_t ncq_error_lba;
};

enum ata_action {
	ATA_ANSWER,  /* done now: status/error */
	ATA_DATA_IN, /* done now, with data[0..data_len) for the host (PIO in) */
	ATA_IO,      /* submit op/offset/len/fua to the backend; data through the PRDT */
};

struct ata_plan {
	enum ata_action action;
	uint8_t status, error;
	/* ATA_DATA_IN */
	uint8_t data[512];
	uint32_t data_len;
	/* ATA_IO */
	enum blk_op op;
	uint64_t offset, len;
	bool fua;
	bool ncq;
	bool internal; /* the flush of a cache switch, not a guest FLUSH: BLK_REQ_INTERNAL */
};

void ata_disk_init(struct ata_disk *d, struct blk *blk, unsigned int index);

/* The 256 IDENTIFY DEVICE words, checksummed, as they are right now. */
void ata_identify(const struct ata_disk *d, uint16_t id[256]);

/* Decides what a command does. Never fails: a bad command becomes an error answer. */
void ata_plan(struct ata_disk *d, const struct ata_tf *tf, struct ata_plan *p);

/* Decodes the register fields of a 20-byte H2D register FIS. */
void ata_tf_from_fis(const uint8_t fis[20], struct ata_tf *tf);

/* Logical sectors of the disk (the backend's block size). */
uint64_t ata_sectors(const struct ata_disk *d);

#endif

/*
 * An emulated SCSI direct-access disk (SPC-3 / SBC-3) on the shared block
 * backend, independent of the transport that carries it: a CDB (and the few
 * data-out bytes a command's parameters live in) goes in, a plan comes out —
 * answer now with status, sense and data-in, or do I/O through the backend
 * and turn its result into status and sense. FACTS §6.4.
 *
 * The write cache shown in the caching mode page is the backend's own state
 * (blk_write_cache_enabled), and MODE SELECT of that page is the guest's
 * switch (blk_set_write_cache), so it can never disagree with what the
 * backend does with a write.
 *
 * Loop thread (pure functions plus the disk's backend).
 */
#ifndef KESTREL_SCSI_DISK_H
#define KESTREL_SCSI_DISK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/blk.h"

/* SCSI status. */
#define SCSI_GOOD 0x00
#define SCSI_CHECK_CONDITION 0x02

/* Sense keys. */
#define SCSI_KEY_NO_SENSE 0x0
#define SCSI_KEY_MEDIUM_ERROR 0x3
#define SCSI_KEY_HARDWARE_ERROR 0x4
#define SCSI_KEY_ILLEGAL_REQUEST 0x5
#define SCSI_KEY_UNIT_ATTENTION 0x6
#define SCSI_KEY_DATA_PROTECT 0x7

/* Additional sense codes (ASC << 8 | ASCQ). */
#define SCSI_ASC_NONE 0x0000
#define SCSI_ASC_WRITE_ERROR 0x0C00
#define SCSI_ASC_UNRECOVERED_READ 0x1100
#define SCSI_ASC_PARAM_LIST_LENGTH 0x1A00
#define SCSI_ASC_INVALID_OPCODE 0x2000
#define SCSI_ASC_LBA_OUT_OF_RANGE 0x2100
#define SCSI_ASC_INVALID_FIELD_IN_CDB 0x2400
#define SCSI_ASC_LUN_NOT_SUPPORTED 0x2500
#define SCSI_ASC_INVALID_FIELD_IN_PARAM 0x2600
#define SCSI_ASC_WRITE_PROTECTED 0x2700
#define SCSI_ASC_CAPACITY_CHANGED 0x2A09
#define SCSI_ASC_SAVING_NOT_SUPPORTED 0x3900
#define SCSI_ASC_INTERNAL_FAILURE 0x4400

/* Opcodes. */
#define SCSI_TEST_UNIT_READY 0x00
#define SCSI_REQUEST_SENSE 0x03
#define SCSI_READ_6 0x08
#define SCSI_WRITE_6 0x0A
#define SCSI_INQUIRY 0x12
#define SCSI_MODE_SELECT_6 0x15
#define SCSI_MODE_SENSE_6 0x1A
#define SCSI_START_STOP_UNIT 0x1B
#define SCSI_PREVENT_ALLOW 0x1E
#define SCSI_READ_CAPACITY_10 0x25
#define SCSI_READ_10 0x28
#define SCSI_WRITE_10 0x2A
#define SCSI_SYNCHRONIZE_CACHE_10 0x35
#define SCSI_WRITE_SAME_10 0x41
#define SCSI_UNMAP 0x42
#define SCSI_MODE_SELECT_10 0x55
#define SCSI_MODE_SENSE_10 0x5A
#define SCSI_READ_16 0x88
#define SCSI_WRITE_16 0x8A
#define SCSI_SYNCHRONIZE_CACHE_16 0x91
#define SCSI_WRITE_SAME_16 0x93
#define SCSI_SERVICE_ACTION_IN_16 0x9E
#define SCSI_REPORT_LUNS 0xA0
#define SCSI_MAINTENANCE_IN 0xA3
#define SCSI_READ_12 0xA8
#define SCSI_WRITE_12 0xAA

#define SCSI_SA_READ_CAPACITY_16 0x10
#define SCSI_SA_REPORT_OPCODES 0x0C

#define SCSI_SENSE_LEN 18    /* fixed-format sense */
#define SCSI_DATA_MAX 256    /* the longest answer the disk builds itself */
#define SCSI_PARAM_MAX 4096  /* the most data-out bytes a plan looks at (one WRITE SAME block) */
#define SCSI_CDB_MIN 16      /* a transport must hand over at least this many CDB bytes */

/* Blocks one UNMAP / WRITE SAME may cover: 1 GiB of 512-byte blocks. */
#define SCSI_MAX_RANGE_BLOCKS (1u << 21)
/* The most one READ or WRITE moves: virtio-scsi's max_sectors (0xFFFF sectors), enforced. */
#define SCSI_MAX_TRANSFER_BYTES (0xFFFFull * 512)

struct scsi_disk {
	struct blk *blk;
	char serial[21];
	uint16_t unit_attention; /* ASC/ASCQ the next command reports first, or 0 */
};

enum scsi_action {
	SCSI_ANSWER, /* done now: status, sense, data[0..data_len) for the initiator */
	SCSI_IO,     /* submit op/offset/len/fua to the backend, data through the buffers */
};

struct scsi_plan {
	enum scsi_action action;
	/*
	 * The CDB moves more bytes than the initiator's buffers hold in that
	 * direction: the transport reports it (virtio-scsi: OVERRUN) and
	 * nothing was done.
	 */
	bool overrun;
	uint8_t status;
	uint8_t sense[SCSI_SENSE_LEN];
	uint32_t sense_len; /* 0 unless CHECK CONDITION */
	/* SCSI_IO. */
	enum blk_op op;
	uint64_t offset, len;
	bool fua;
	bool internal; /* the flush of a cache switch, not SYNCHRONIZE CACHE: BLK_REQ_INTERNAL */
	bool data_in;  /* READ: the data goes to the initiator */
	bool data_out; /* WRITE: the data comes from the initiator */
	/* SCSI_ANSWER: data-in. Last, so a plan is cleared without it (SCSI_PLAN_HEAD). */
	uint32_t data_len;
	uint8_t data[SCSI_DATA_MAX];
};

/* The bytes of a plan before its data buffer: what starting a new plan clears. */
#define SCSI_PLAN_HEAD offsetof(struct scsi_plan, data)

/* `index` names the disk when the user gave no serial. */
void scsi_disk_init(struct scsi_disk *d, struct blk *blk, unsigned int index);

/*
 * How many data-out bytes (from the start of the data-out buffer) scsi_plan
 * needs to see for this CDB: a parameter list or a WRITE SAME block; at most
 * SCSI_PARAM_MAX. 0 for commands whose data-out goes to the disk untouched.
 */
uint32_t scsi_param_len(const struct scsi_disk *d, const uint8_t *cdb);

/*
 * Decides what a command does. cdb has at least SCSI_CDB_MIN bytes; in_len
 * and out_len are the initiator's data-in and data-out buffer sizes;
 * param[0..param_len) the first data-out bytes (see scsi_param_len). Never
 * fails: a bad command becomes CHECK CONDITION with sense.
 */
void scsi_plan(struct scsi_disk *d, const uint8_t *cdb, uint64_t in_len, uint64_t out_len,
	       const uint8_t *param, uint32_t param_len, struct scsi_plan *p);

/* The same, for a LUN with no disk behind it on an existing target. */
void scsi_plan_no_lun(const uint8_t *cdb, uint64_t in_len, struct scsi_plan *p);

/* A SCSI_IO plan finished in the backend with res (0 or -errno): status and sense. */
void scsi_io_done(struct scsi_plan *p, int res);

/*
 * The disk's image was swapped (PATCH /drives): the next command but
 * INQUIRY and REPORT LUNS gets CHECK CONDITION, UNIT ATTENTION, CAPACITY
 * DATA HAS CHANGED (REQUEST SENSE returns it as its data), as SPC-3 says
 * a target reports a change the initiator did not ask for.
 */
void scsi_disk_capacity_changed(struct scsi_disk *d);

/* Logical blocks of the disk. */
uint64_t scsi_blocks(const struct scsi_disk *d);

#endif

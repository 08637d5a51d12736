/*
 * What the parts of the SCSI disk share (scsi_disk.c: dispatch and I/O
 * commands; scsi_inquiry.c: identity, capacity, LUNs and opcodes;
 * scsi_mode.c: mode pages and the write-cache switch). Not for frontends:
 * they use scsi_disk.h.
 */
#ifndef KESTREL_SCSI_INTERNAL_H
#define KESTREL_SCSI_INTERNAL_H

#include <endian.h>
#include <string.h>

#include "devices/scsi_disk.h"

/* SCSI fields are big-endian and unaligned. */
static inline uint16_t get16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return be16toh(v); }
static inline uint32_t get32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return be32toh(v); }
static inline uint64_t get64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return be64toh(v); }
static inline void put16(uint8_t *p, uint16_t v) { v = htobe16(v); memcpy(p, &v, 2); }
static inline void put32(uint8_t *p, uint32_t v) { v = htobe32(v); memcpy(p, &v, 4); }
static inline void put64(uint8_t *p, uint64_t v) { v = htobe64(v); memcpy(p, &v, 8); }

/* Fixed-format sense data with a key and ASC/ASCQ. */
void scsi_fixed_sense(uint8_t sense[SCSI_SENSE_LEN], uint8_t key, uint16_t asc);

/* Finishing a plan now. */
void plan_check(struct scsi_plan *p, uint8_t key, uint16_t asc); /* CHECK CONDITION */
void plan_illegal(struct scsi_plan *p, uint16_t asc);            /* ... ILLEGAL REQUEST */
void plan_good(struct scsi_plan *p);
/* The command would move more than the initiator's buffer holds: nothing is done. */
void plan_overrun(struct scsi_plan *p);
/*
 * len bytes of p->data, of which the initiator accepts alloc; its data-in
 * buffer (in_len) must hold alloc, or the command is an overrun.
 */
void plan_answer(struct scsi_plan *p, uint32_t len, uint64_t alloc, uint64_t in_len);
/*
 * A parameter list of `list` bytes: false, with the plan finished, when it
 * does not fit the data-out buffer or is empty (which asks for nothing).
 */
bool plan_param_list(uint32_t list, uint64_t out_len, struct scsi_plan *p);

/* scsi_inquiry.c */
uint32_t scsi_standard_inquiry(uint8_t *b, uint8_t peripheral);
void scsi_inquiry(const struct scsi_disk *d, const uint8_t *cdb, uint64_t in_len, struct scsi_plan *p);
void scsi_read_capacity_10(const struct scsi_disk *d, const uint8_t *cdb, uint64_t in_len,
			   struct scsi_plan *p);
void scsi_read_capacity_16(const struct scsi_disk *d, const uint8_t *cdb, uint64_t in_len,
			   struct scsi_plan *p);
void scsi_report_luns(const uint8_t *cdb, uint64_t in_len, struct scsi_plan *p);
void scsi_report_opcodes(const uint8_t *cdb, uint64_t in_len, struct scsi_plan *p);

/* scsi_mode.c */
void scsi_mode_sense(const struct scsi_disk *d, const uint8_t *cdb, uint64_t in_len,
		     struct scsi_plan *p);
void scsi_mode_select(struct scsi_disk *d, const uint8_t *cdb, uint64_t out_len,
		      const uint8_t *param, uint32_t param_len, struct scsi_plan *p);

#endif

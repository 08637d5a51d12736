/*
 * The disk write log (`--disk ...,log=FILE`): what the guest was told had
 * completed, what it was promised durable, and what the host made durable,
 * in the order it happened on the event loop. Written by devices/blk_log.c,
 * read by blklog/reader.c; the README's "Write log" section is the same
 * description for users. All fields little-endian (the only hosts kestrel
 * runs on), CRC-32 (zlib's, ISO-HDLC) for integrity.
 *
 * The file: one struct blklog_header, then entries back to back, each a
 * struct blklog_entry followed by data_len bytes of data (writes only).
 *
 * Entry types and what they mean:
 *  WRITE, ZERO, DISCARD: a change finished on the host (a host write of
 *      [offset, offset+len) with its data; a write-zeroes; a discard). Not
 *      yet told to the guest: that is later, by its request's completion.
 *      Flag DURABLE: the host made it durable itself (an RWF_DSYNC write).
 *      One request may have several (a transfer split in chunks); `req`
 *      ties them together.
 *  SYNC: a host fdatasync finished; it covers every change entry with
 *      seq <= covers (those that had finished before it was issued).
 *  PROMISE: the guest was told something is durable. With flag ALL, every
 *      change entry with seq <= covers (a completed flush, the cache turned
 *      off, a write completed while the cache was off); without it, the
 *      change entries of request `req` (a FUA write). The promise check
 *      (blklog/promise.c) proves each was durable on the host before it.
 *  MARK: a line the guest printed on its console that starts with the
 *      prefix given to --log-marks (data: the line, without its newline),
 *      recorded after everything that had happened on the loop by then.
 *      An application prints what it was told is durable; at a crash
 *      point, the marks before it are what the application had been told.
 */
#ifndef KESTREL_BLKLOG_FORMAT_H
#define KESTREL_BLKLOG_FORMAT_H

#include <stdint.h>

#define BLKLOG_MAGIC "KESTRLOG"
#define BLKLOG_VERSION 1
#define BLKLOG_ENTRY_MAGIC 0x4B4C4531u /* "1ELK" in the file: each entry starts so */
#define BLKLOG_MAX_DATA (1u << 20)      /* a longer host write is logged in several entries */
#define BLKLOG_MAX_MARK 200u            /* a longer marked line is cut to this */

struct blklog_header {
	char magic[8];        /* BLKLOG_MAGIC, no terminator */
	uint32_t version;     /* BLKLOG_VERSION */
	uint32_t header_size; /* sizeof(struct blklog_header) */
	uint64_t image_size;  /* bytes */
	uint32_t block_size;  /* the guest's logical block */
	uint32_t cache_mode;  /* enum blk_cache the disk ran with */
	uint32_t reserved[7];
	uint32_t crc;         /* CRC-32 of the bytes before it */
};

enum blklog_type {
	BLKLOG_WRITE = 1,
	BLKLOG_ZERO = 2,
	BLKLOG_DISCARD = 3,
	BLKLOG_SYNC = 4,
	BLKLOG_PROMISE = 5,
	BLKLOG_MARK = 6,
};

/* Entry flags. */
#define BLKLOG_F_DURABLE 0x1u /* a change the host made durable on completion */
#define BLKLOG_F_ALL 0x2u     /* a promise for every change with seq <= covers */

/* Why a promise was made (PROMISE entries' `reason`). */
enum blklog_reason {
	BLKLOG_WHY_FLUSH = 1,     /* a guest flush completed */
	BLKLOG_WHY_FUA = 2,       /* a FUA write completed */
	BLKLOG_WHY_CACHE_OFF = 3, /* a write completed with the cache off, or the switch itself */
};

struct blklog_entry {
	uint32_t magic;    /* BLKLOG_ENTRY_MAGIC */
	uint16_t type;     /* enum blklog_type */
	uint16_t flags;    /* BLKLOG_F_* */
	uint64_t seq;      /* 0, 1, 2, ... in file order */
	uint64_t req;      /* the backend's request number */
	uint64_t offset;   /* bytes, for changes */
	uint64_t len;      /* bytes, for changes */
	uint64_t covers;   /* SYNC and PROMISE with ALL: the last change seq covered, + 1 (0: none) */
	uint32_t reason;   /* PROMISE: enum blklog_reason */
	uint32_t data_len; /* bytes of data after the entry (WRITE: len; MARK: the text) */
	uint32_t data_crc; /* CRC-32 of that data */
	uint32_t crc;      /* CRC-32 of the entry's bytes before it */
};

#endif

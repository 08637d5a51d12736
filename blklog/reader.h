/*
 * Reading a disk write log (blklog/format.h) back: the header, then one
 * entry at a time with its data, every checksum and the sequence checked.
 * A torn or corrupt entry is reported, never misread. Any thread; one
 * reader per thread.
 *
 *     struct blklog_reader r;
 *     if (blklog_open(&r, path, err, sizeof(err))) ...;
 *     struct blklog_entry e;
 *     const uint8_t *data;
 *     int ret;
 *     while ((ret = blklog_next(&r, &e, &data, err, sizeof(err))) > 0)
 *             ...;  // data: e.data_len bytes, valid until the next call
 *     // ret 0: the log ended cleanly; < 0: err says where and what
 *     blklog_close(&r);
 */
#ifndef KESTREL_BLKLOG_READER_H
#define KESTREL_BLKLOG_READER_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "blklog/format.h"

struct blklog_reader {
	FILE *f;
	struct blklog_header header;
	uint64_t offset;   /* of the next entry in the file */
	uint64_t next_seq; /* the seq the next entry must have */
	uint8_t *data;
	size_t data_cap;
};

/* -errno (no such file), -EBADMSG (not a log, a bad header, another version); err says which. */
int blklog_open(struct blklog_reader *r, const char *path, char *err, size_t errlen);
/*
 * 1: *e (and *data) is the next entry; 0: the end, on an entry boundary;
 * -ENODATA: the log ends inside an entry (a torn write: the log was cut);
 * -EBADMSG: an entry is corrupt or out of order; -errno: reading failed.
 */
int blklog_next(struct blklog_reader *r, struct blklog_entry *e, const uint8_t **data, char *err,
		size_t errlen);
void blklog_close(struct blklog_reader *r);

const char *blklog_type_name(unsigned int type);
const char *blklog_reason_name(unsigned int reason);

#endif

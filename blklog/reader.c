#include "blklog/reader.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

static uint32_t crc(const void *p, size_t n)
{
	return (uint32_t)crc32(0, p, (uInt)n);
}

int blklog_open(struct blklog_reader *r, const char *path, char *err, size_t errlen)
{
	memset(r, 0, sizeof(*r));
	r->f = fopen(path, "rb");
	if (!r->f) {
		int ret = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return ret;
	}
	struct blklog_header *h = &r->header;
	size_t n = fread(h, 1, sizeof(*h), r->f);
	const char *why = NULL;
	if (n != sizeof(*h) || memcmp(h->magic, BLKLOG_MAGIC, sizeof(h->magic)))
		why = "not a kestrel disk log";
	else if (h->crc != crc(h, offsetof(struct blklog_header, crc)))
		why = "its header is corrupt";
	else if (h->version != BLKLOG_VERSION || h->header_size != sizeof(*h))
		why = "a log format version this reader does not know";
	if (why) {
		snprintf(err, errlen, "%s: %s", path, why);
		blklog_close(r);
		return -EBADMSG;
	}
	r->offset = sizeof(*h);
	return 0;
}

int blklog_next(struct blklog_reader *r, struct blklog_entry *e, const uint8_t **data, char *err,
		size_t errlen)
{
	size_t n = fread(e, 1, sizeof(*e), r->f);
	if (n == 0 && feof(r->f))
		return 0;
	if (n != sizeof(*e)) {
		if (ferror(r->f)) {
			snprintf(err, errlen, "reading the entry at byte %llu: %s",
				 (unsigned long long)r->offset, strerror(errno));
			return -EIO;
		}
		snprintf(err, errlen, "the log ends inside the entry at byte %llu (%zu of %zu bytes): "
			 "it was cut short", (unsigned long long)r->offset, n, sizeof(*e));
		return -ENODATA;
	}
	if (e->magic != BLKLOG_ENTRY_MAGIC || e->crc != crc(e, offsetof(struct blklog_entry, crc))) {
		snprintf(err, errlen, "the entry at byte %llu is corrupt (bad %s)",
			 (unsigned long long)r->offset,
			 e->magic != BLKLOG_ENTRY_MAGIC ? "magic" : "checksum");
		return -EBADMSG;
	}
	if (e->seq != r->next_seq) {
		snprintf(err, errlen, "the entry at byte %llu has seq %llu where %llu was due",
			 (unsigned long long)r->offset, (unsigned long long)e->seq,
			 (unsigned long long)r->next_seq);
		return -EBADMSG;
	}
	bool data_ok = e->type == BLKLOG_WRITE  ? e->data_len == e->len
		       : e->type == BLKLOG_MARK ? e->data_len <= BLKLOG_MAX_MARK
						: e->data_len == 0;
	if (e->type < BLKLOG_WRITE || e->type > BLKLOG_MARK || e->data_len > BLKLOG_MAX_DATA || !data_ok) {
		snprintf(err, errlen, "entry %llu (byte %llu) is malformed (type %u, %u data bytes)",
			 (unsigned long long)e->seq, (unsigned long long)r->offset, e->type,
			 e->data_len);
		return -EBADMSG;
	}
	if (e->data_len > r->data_cap) {
		uint8_t *p = realloc(r->data, e->data_len);
		if (!p) {
			snprintf(err, errlen, "no memory for entry %llu's %u data bytes",
				 (unsigned long long)e->seq, e->data_len);
			return -ENOMEM;
		}
		r->data = p;
		r->data_cap = e->data_len;
	}
	n = e->data_len ? fread(r->data, 1, e->data_len, r->f) : 0;
	if (n != e->data_len) {
		snprintf(err, errlen, "the log ends inside entry %llu's data (byte %llu): it was cut short",
			 (unsigned long long)e->seq, (unsigned long long)r->offset);
		return -ENODATA;
	}
	if (crc(r->data, e->data_len) != e->data_crc) {
		snprintf(err, errlen, "entry %llu's data (byte %llu) is corrupt (bad checksum)",
			 (unsigned long long)e->seq, (unsigned long long)r->offset);
		return -EBADMSG;
	}
	*data = r->data;
	r->offset += sizeof(*e) + e->data_len;
	r->next_seq++;
	return 1;
}

void blklog_close(struct blklog_reader *r)
{
	if (r->f)
		fclose(r->f);
	r->f = NULL;
	free(r->data);
	r->data = NULL;
	r->data_cap = 0;
}

const char *blklog_type_name(unsigned int type)
{
	static const char *const names[] = {"?",    "write",   "write-zeroes", "discard",
					    "sync", "promise", "mark"};
	return type <= BLKLOG_MARK ? names[type] : "?";
}

const char *blklog_reason_name(unsigned int reason)
{
	static const char *const names[] = {"?", "flush", "FUA write", "cache off"};
	return reason <= BLKLOG_WHY_CACHE_OFF ? names[reason] : "?";
}

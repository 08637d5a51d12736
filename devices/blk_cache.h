/*
 * Host cache policies for a disk, with QEMU's names and meanings, and what
 * each one promises. Pure data; any thread.
 */
#ifndef KESTREL_BLK_CACHE_H
#define KESTREL_BLK_CACHE_H

#include <stdbool.h>

enum blk_cache {
	BLK_CACHE_WRITEBACK,    /* host page cache; guest sees a volatile cache it must flush */
	BLK_CACHE_WRITETHROUGH, /* every write durable before it completes */
	BLK_CACHE_NONE,         /* O_DIRECT; still a volatile cache (the host disk's) */
	BLK_CACHE_DIRECTSYNC,   /* O_DIRECT and every write durable before it completes */
	BLK_CACHE_UNSAFE,       /* volatile cache, flushes dropped: may lose acknowledged data */
	BLK_CACHE_COUNT,
};

struct blk_cache_policy {
	const char *name;
	bool direct;         /* open with O_DIRECT */
	bool volatile_cache; /* the guest is told there is a write cache it must flush */
	bool no_flush;       /* guest flushes are acknowledged without reaching the host */
};

const struct blk_cache_policy *blk_cache_policy(enum blk_cache mode);

/* "writeback" → BLK_CACHE_WRITEBACK; -EINVAL for an unknown name. */
int blk_cache_parse(const char *name, enum blk_cache *out);

#endif

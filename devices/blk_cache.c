#include "devices/blk_cache.h"

#include <errno.h>
#include <string.h>

/* FACTS §8.4: QEMU's cache.writeback / cache.direct / cache.no-flush per mode. */
static const struct blk_cache_policy policies[BLK_CACHE_COUNT] = {
	[BLK_CACHE_WRITEBACK] = {"writeback", false, true, false},
	[BLK_CACHE_WRITETHROUGH] = {"writethrough", false, false, false},
	[BLK_CACHE_NONE] = {"none", true, true, false},
	[BLK_CACHE_DIRECTSYNC] = {"directsync", true, false, false},
	[BLK_CACHE_UNSAFE] = {"unsafe", false, true, true},
};

const struct blk_cache_policy *blk_cache_policy(enum blk_cache mode)
{
	return &policies[mode < BLK_CACHE_COUNT ? mode : BLK_CACHE_WRITETHROUGH];
}

int blk_cache_parse(const char *name, enum blk_cache *out)
{
	for (unsigned i = 0; i < BLK_CACHE_COUNT; i++) {
		if (!strcmp(name, policies[i].name)) {
			*out = (enum blk_cache)i;
			return 0;
		}
	}
	return -EINVAL;
}

/*
 * kestrel-crashcheck: the verdict on a disk write log (`--disk ...,log=FILE`).
 * Today it runs the promise check (blklog/promise.h): every write the guest
 * was told is durable had been made durable on the host by then.
 *
 * Usage: kestrel-crashcheck LOG
 * Exit: 0 every promise was kept; 1 a promise was broken (each listed);
 * 2 bad usage, or a log that cannot be read (not a log, corrupt).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "blklog/promise.h"
#include "blklog/reader.h"
#include "devices/blk_cache.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: kestrel-crashcheck LOG\n"
		   "  checks that every write the guest was promised durable was durable on\n"
		   "  the host by then; exit 0 kept, 1 broken, 2 unreadable log\n");
}

int main(int argc, char **argv)
{
	if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		usage(stdout);
		return 0;
	}
	if (argc != 2 || argv[1][0] == '-') {
		usage(stderr);
		return 2;
	}
	const char *path = argv[1];
	char err[512];
	struct blklog_reader r;
	if (blklog_open(&r, path, err, sizeof(err))) {
		fprintf(stderr, "kestrel-crashcheck: %s\n", err);
		return 2;
	}
	const struct blklog_header *h = &r.header;
	const char *mode = h->cache_mode < BLK_CACHE_COUNT ?
				   blk_cache_policy((enum blk_cache)h->cache_mode)->name : "?";
	struct blklog_promise_check c;
	blklog_promise_init(&c);
	struct blklog_entry e;
	const uint8_t *data;
	int ret;
	while ((ret = blklog_next(&r, &e, &data, err, sizeof(err))) > 0)
		blklog_promise_feed(&c, &e);
	blklog_close(&r);
	int status = 0;
	if (ret == -ENODATA) {
		/* A log cut by a crash: what it holds up to the cut is still checked. */
		fprintf(stderr, "kestrel-crashcheck: warning: %s\n", err);
	} else if (ret < 0) {
		fprintf(stderr, "kestrel-crashcheck: %s: %s\n", path, err);
		status = 2;
	}
	if (c.error) {
		fprintf(stderr, "kestrel-crashcheck: out of memory\n");
		blklog_promise_free(&c);
		return 2;
	}
	printf("%s: %llu entries: %llu changes, %llu host syncs, %llu promises (image %llu bytes, "
	       "%u-byte blocks, cache=%s)\n",
	       path, (unsigned long long)c.entries, (unsigned long long)c.changes,
	       (unsigned long long)c.syncs, (unsigned long long)c.promises,
	       (unsigned long long)h->image_size, h->block_size, mode);
	if (!c.violations) {
		printf("promise check: all %llu promises kept\n", (unsigned long long)c.promises);
	} else {
		printf("promise check: %llu of %llu promises broken, %llu changes not durable when "
		       "promised:\n", (unsigned long long)c.broken_promises,
		       (unsigned long long)c.promises, (unsigned long long)c.violations);
		for (unsigned i = 0; i < c.nreported; i++) {
			const struct blklog_violation *v = &c.reported[i];
			printf("  entry %llu (%s): %s entry %llu at byte %llu, %llu bytes (request %llu) "
			       "was not durable on the host\n",
			       (unsigned long long)v->promise_seq, blklog_reason_name(v->reason),
			       blklog_type_name(v->change_type), (unsigned long long)v->change_seq,
			       (unsigned long long)v->offset, (unsigned long long)v->len,
			       (unsigned long long)v->req);
		}
		if (c.violations > c.nreported)
			printf("  ... and %llu more\n", (unsigned long long)(c.violations - c.nreported));
		if (!status)
			status = 1;
	}
	blklog_promise_free(&c);
	return status;
}

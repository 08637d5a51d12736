/*
 * The promise check: from a write log alone, whether everything the guest
 * was told is durable had been made durable on the host by then. A change
 * (write, write-zeroes, discard) is durable on the host once the host said
 * so for it (an RWF_DSYNC write) or an fdatasync that covers it finished.
 * A promise (a completed flush, a FUA write, a change completed with the
 * cache off) names the changes it covers; each of them still not durable
 * at that point is a violation: a kestrel bug, or a lying disk. Feed the
 * entries in log order. Any thread; one checker per thread.
 */
#ifndef KESTREL_BLKLOG_PROMISE_H
#define KESTREL_BLKLOG_PROMISE_H

#include <stddef.h>
#include <stdint.h>

#include "blklog/format.h"

#define BLKLOG_REPORTED 16 /* violations kept for the report */

struct blklog_violation {
	uint64_t promise_seq;
	uint32_t reason;      /* enum blklog_reason */
	uint64_t change_seq;  /* the change that was not durable */
	uint16_t change_type;
	uint64_t offset, len, req;
};

struct blklog_change_ref {
	uint64_t seq, req, offset, len;
	uint16_t type;
};

struct blklog_promise_check {
	/* Changes not yet durable on the host, in seq order: [head, n). */
	struct blklog_change_ref *pending;
	size_t head, n, cap;
	uint64_t entries, changes, syncs, promises, marks;
	uint64_t broken_promises, violations; /* promises with a loss; (promise, change) pairs */
	struct blklog_violation reported[BLKLOG_REPORTED];
	unsigned int nreported;
	int error; /* -ENOMEM */
};

void blklog_promise_init(struct blklog_promise_check *c);
void blklog_promise_feed(struct blklog_promise_check *c, const struct blklog_entry *e);
void blklog_promise_free(struct blklog_promise_check *c);

#endif

/*
 * Firecracker-style metrics: one JSON object per line, appended to the
 * metrics path (a file or a FIFO) every 60 s and on FlushMetrics, with
 * counters as deltas since the line before. Per drive, Firecracker's
 * `block_<drive_id>` object (and the `block` sum over drives) with its
 * read/write/flush counts and bytes, plus kestrel's durability counters:
 * host flushes (fdatasync), FUA writes from the guest, durable writes
 * (RWF_DSYNC), discards and write-zeroes. Firecracker's read_agg and
 * write_agg latency aggregates (min_us and max_us over the line's window,
 * sum_us) time each successful read and write from submission to
 * completion; invalid_reqs_count counts requests the backend refused at
 * once, update_count and update_fails PATCH /drives. The API's request
 * counts go in get/put/patch_api_requests.
 *
 * Threads: metrics_start on the main thread once the VM is built (before
 * the loop reads anything, through the loop_call that starts it); the
 * rest on the loop thread, which owns the disks' counters.
 */
#ifndef KESTREL_API_METRICS_H
#define KESTREL_API_METRICS_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/blk.h"
#include "vmm/config.h"
#include "vmm/loop.h"

#define METRICS_PERIOD_S 60
#define METRICS_LINE_MAX 16384

struct metrics_api_counts {
	unsigned long long get, put, patch, bad;
};

struct metrics {
	struct loop *loop;
	int fd; /* -1: no metrics */
	unsigned int ndisks;
	struct blk *disks[CONFIG_MAX_DISKS];
	char ids[CONFIG_MAX_DISKS][72];
	struct blk_stats last[CONFIG_MAX_DISKS];
	const unsigned long long *api_counts[4]; /* get, put, patch, bad; NULL: none */
	unsigned long long api_last[4];
	struct loop_op timer_op, write_op;
	struct __kernel_timespec period;
	struct loop_task start_task;
	char line[METRICS_LINE_MAX];
	bool writing, again; /* a line is being written; another was asked for meanwhile */
	unsigned long long lines, dropped;
};

/*
 * Main thread: metrics to fd for these disks (ids[i] names disks[i]: the
 * drive id, or "diskN"); starts the 60-second timer on the loop.
 */
void metrics_start(struct metrics *m, struct loop *loop, int fd, struct blk *const *disks,
		   const char *const *ids, unsigned int n);

/* Loop thread: writes a line now (FlushMetrics). False when there are no metrics. */
bool metrics_flush(struct metrics *m);

#endif

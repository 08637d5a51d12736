/*
 * --log-marks PREFIX: console lines the guest prints that start with PREFIX
 * become MARK entries in every disk's write log (blklog/format.h), so the
 * crash-state check knows what the guest's application had been told was
 * durable at each point (kestrel-crashcheck passes the last mark before a
 * state to the check as KESTREL_CRASH_MARK).
 *
 * A line is queued by the vCPU that printed it and written to the logs by
 * the loop, after everything that had happened on the loop by then: a mark
 * printed once an fsync returned comes after that fsync's promise. The
 * queue is bounded; a mark that finds it full is dropped, and one that finds
 * a log at its backlog limit is left out of that log; either counts as
 * dropped (a guest cannot grow host memory with marks).
 *
 * Threads: log_marks_init on the main thread before the guest starts;
 * log_marks_line on vCPU threads (the UART's line hook); the rest on the loop.
 */
#ifndef KESTREL_LOG_MARKS_H
#define KESTREL_LOG_MARKS_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "blklog/format.h"
#include "vmm/loop.h"

#define LOG_MARKS_QUEUE 64

struct blk_log;

struct log_marks {
	const char *prefix;
	size_t prefix_len;
	struct loop *loop;
	struct blk_log *const *logs;
	unsigned int nlogs;

	pthread_mutex_t lock; /* guards the queue and the counters */
	char text[LOG_MARKS_QUEUE][BLKLOG_MAX_MARK];
	uint16_t len[LOG_MARKS_QUEUE];
	unsigned int head, count;
	bool task_queued;
	struct loop_task task;
	uint64_t recorded, dropped;
};

/* logs[0..nlogs) stay valid while the loop runs. */
void log_marks_init(struct log_marks *m, const char *prefix, struct loop *loop,
		    struct blk_log *const *logs, unsigned int nlogs);
/* vCPU thread (struct uart's line_out): queues line if it starts with the prefix. */
void log_marks_line(void *ctx, const char *line, size_t len);
void log_marks_destroy(struct log_marks *m);

#endif

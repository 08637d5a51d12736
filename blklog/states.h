/*
 * Crash states from a write log: the images a power cut could leave at a
 * persistence point, built on one working copy of the base image and
 * undone afterwards, so a state costs about the data it changes.
 *
 * The model. At a persistence point (just after a promise entry), every
 * change that was durable on the host by then is on the disk; every other
 * change that had finished on the host may or may not be (a page cache or
 * a disk cache may have written any of it back, in any order, any 512-byte
 * sector of it). A sector's value is therefore its newest durable version,
 * or any later version not yet durable; applying the chosen changes in log
 * order gives exactly that. A discard applied reads back as zeros.
 *
 * Use, one thread:
 *     blklog_states_open(&s, log, work, ...);   // work: a copy of the base image
 *     for (p = 0; p < s.npoints; p++) {
 *             blklog_states_goto(&s, p);        // points in increasing order
 *             blklog_states_apply(&s, BLKLOG_STATE_RANDOM, seed);  // or NONE / ALL
 *             ... check the working image ...
 *             blklog_states_undo(&s);
 *     }
 */
#ifndef KESTREL_BLKLOG_STATES_H
#define KESTREL_BLKLOG_STATES_H

#include <stddef.h>
#include <stdint.h>

#include "blklog/format.h"

/* One change of the log, and when it became durable. */
struct blklog_change {
	uint64_t seq;
	uint64_t durable_seq; /* its own seq (DURABLE), the covering sync's, or UINT64_MAX */
	uint64_t offset, len;
	uint64_t data_off;    /* its data in the log file (writes), else 0 */
	uint16_t type;
};

/* A MARK entry: a line the guest printed (--log-marks). */
struct blklog_mark {
	uint64_t seq;
	char text[BLKLOG_MAX_MARK + 1];
};

/* A sector as it was before a state changed it. */
struct blklog_undo {
	uint64_t sector;
	uint64_t version;
	uint8_t data[512];
};

enum blklog_variant {
	BLKLOG_STATE_NONE,   /* none of the changes that were not yet durable */
	BLKLOG_STATE_ALL,    /* all of them */
	BLKLOG_STATE_RANDOM, /* each one, or some of its sectors, or not: from the seed */
};

struct blklog_states {
	int log_fd, work_fd;
	uint64_t image_size;
	struct blklog_change *changes;
	size_t nchanges;
	uint64_t *points; /* seq of each promise entry */
	size_t npoints;
	struct blklog_mark *marks; /* in log order */
	size_t nmarks;
	uint64_t *version; /* per sector: seq + 1 of the change the working image holds (0: base) */
	size_t applied;    /* changes[0..applied) that are durable by the current point are applied */
	uint64_t at;       /* the current point's seq */
	struct blklog_undo *undo;
	size_t nundo, undo_cap;
	uint64_t state_changes, state_bytes; /* what the last apply changed */
	uint8_t *buf;
};

/* Reads log's index and opens work (a copy of the base image) read-write. err says what failed. */
int blklog_states_open(struct blklog_states *s, const char *log, const char *work, char *err,
		       size_t errlen);
/* Brings the working image to point p's durable state (p not before the current one). */
int blklog_states_goto(struct blklog_states *s, size_t p);
/* Adds the not-yet-durable changes `v` chooses, remembering what they overwrote. */
int blklog_states_apply(struct blklog_states *s, enum blklog_variant v, uint64_t seed);
/* Puts back what the last apply overwrote. */
int blklog_states_undo(struct blklog_states *s);
/* Copies the image file src over the file open as out, holes kept as holes; -errno on failure. */
int blklog_copy_image(const char *src, int out);
/*
 * The working image was changed behind our back (a check that could not
 * undo its own changes): starts over from a fresh copy of base, at no point.
 */
int blklog_states_rebuild(struct blklog_states *s, const char *base);
/* How many marks come before point p: marks[0..that) are what the guest had been told by then. */
size_t blklog_states_marks_before(const struct blklog_states *s, size_t p);
/* How many changes at point p (or the current one) were finished but not yet durable. */
size_t blklog_states_pending_at(const struct blklog_states *s, size_t p);
size_t blklog_states_pending(const struct blklog_states *s);
void blklog_states_close(struct blklog_states *s);

#endif

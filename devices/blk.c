#include "devices/blk.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "devices/blk_internal.h"
#include "devices/blk_log.h"
#include "devices/virtqueue.h" /* the iovec copy helpers */
#include "vmm/container_of.h"
#include "vmm/log.h"

/* What a discard's or write-zeroes' fallocate does now (write-zeroes falls back to a hole). */
enum { STAGE_ZERO_RANGE = 1, STAGE_PUNCH_HOLE };

static void uring_submit(struct blk_engine *e, const struct blk_io *io)
{
	struct blk *b = container_of(e, struct blk, uring);
	struct io_uring_sqe *sqe = loop_sqe(b->loop, io->op);
	switch (io->kind) {
	case BLK_IO_READV:
		io_uring_prep_readv(sqe, io->fd, io->iov, io->niov, io->offset);
		break;
	case BLK_IO_WRITEV:
		io_uring_prep_writev(sqe, io->fd, io->iov, io->niov, io->offset);
		sqe->rw_flags = io->rw_flags;
		break;
	case BLK_IO_FDATASYNC:
		io_uring_prep_fsync(sqe, io->fd, IORING_FSYNC_DATASYNC);
		break;
	case BLK_IO_FALLOCATE:
		io_uring_prep_fallocate(sqe, io->fd, io->mode, io->offset, io->len);
		break;
	}
}

void blk_init_fake(struct blk *b, int fd, uint64_t size, enum blk_cache mode, bool readonly)
{
	memset(b, 0, sizeof(*b));
	b->fd = fd;
	b->size = size;
	b->mode = mode;
	b->policy = blk_cache_policy(mode);
	b->readonly = readonly;
	b->block_size = 512;
	b->mem_align = 1;
	b->guest_wce = true;
	snprintf(b->name, sizeof(b->name), "fake");
	blk_stats_reset_latency(&b->stats);
}


static void wce_flush_task(struct loop_task *t)
{
	struct blk *b = container_of(t, struct blk, wce_flush_task);
	/* Cleared first: a switch from now on queues the task again (off, on, off). */
	__atomic_store_n(&b->wce_flush_queued, false, __ATOMIC_RELEASE);
	/*
	 * Everything completed so far, whatever the switch says now: the guest
	 * took the moment of "off" as the moment its old writes became durable.
	 */
	blk_flush_kick(b);
}

void blk_attach(struct blk *b, struct loop *loop, struct blk_engine *engine)
{
	b->loop = loop;
	b->uring.submit = uring_submit;
	b->engine = engine ? engine : &b->uring;
	b->wce_flush_task.fn = wce_flush_task;
}

bool blk_has_volatile_cache(const struct blk *b)
{
	return b->policy->volatile_cache && b->lie != BLK_LIE_HIDE_CACHE;
}

bool blk_write_cache_enabled(const struct blk *b)
{
	return blk_has_volatile_cache(b) && __atomic_load_n(&b->guest_wce, __ATOMIC_ACQUIRE);
}

/* Whether a change completing now must be on stable storage before it completes. */
static bool durable_at_completion(const struct blk *b)
{
	return !b->policy->no_flush && !blk_write_cache_enabled(b) && b->lie != BLK_LIE_HIDE_CACHE;
}

void blk_set_write_cache(struct blk *b, bool enabled)
{
	bool was = __atomic_exchange_n(&b->guest_wce, enabled, __ATOMIC_ACQ_REL);
	/*
	 * Writes cached while it was on must become durable too, without the
	 * guest asking: a guest that turned its cache off will not flush again.
	 * Until that flush is done, no change completes (durable_at_completion).
	 */
	if (was && !enabled && b->policy->volatile_cache && !b->policy->no_flush && b->loop &&
	    !__atomic_exchange_n(&b->wce_flush_queued, true, __ATOMIC_ACQ_REL))
		loop_call(b->loop, &b->wce_flush_task);
}

unsigned int blk_inflight(const struct blk *b)
{
	return b->inflight;
}

unsigned int blk_held(const struct blk *b)
{
	unsigned int n = 0;
	for (const struct blk_req *r = b->held; r; r = r->next)
		n++;
	return n;
}

void blk_reset(struct blk *b)
{
	__atomic_store_n(&b->guest_wce, true, __ATOMIC_RELEASE);
}

static void bounce_release(struct blk_req *r);

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void blk_stats_reset_latency(struct blk_stats *s)
{
	s->read_us_min = s->write_us_min = BLK_LATENCY_NONE;
	s->read_us_max = s->write_us_max = 0;
}

static void count_latency(struct blk_stats *s, const struct blk_req *r)
{
	uint64_t us = (now_ns() - r->t_submit_ns) / 1000;
	bool read = r->op == BLK_OP_READ;
	uint64_t *sum = read ? &s->read_us_sum : &s->write_us_sum;
	uint64_t *min = read ? &s->read_us_min : &s->write_us_min;
	uint64_t *max = read ? &s->read_us_max : &s->write_us_max;
	*sum += us;
	if (us < *min)
		*min = us;
	if (us > *max)
		*max = us;
}

static void finish_now(struct blk_req *r, int res)
{
	struct blk *b = r->blk;
	bounce_release(r);
	if (res)
		b->stats.errors++;
	else if (r->op == BLK_OP_READ || r->op == BLK_OP_WRITE)
		count_latency(&b->stats, r);
	b->inflight--;
	r->done(r, res);
	if (b->swap)
		blk_swap_step(b); /* the disk may be idle now */
}

/* ---- the write log (log=FILE) ---- */

/*
 * Whether r must wait for room in the log before fn(r, res) records its
 * event: the log's backlog is full, or others wait already (order is kept).
 */
static bool log_wait(struct blk *b, struct blk_req *r, void (*fn)(struct blk_req *, int), int res)
{
	if (!b->log || (!b->log_wait && !blk_log_full(b->log)))
		return false;
	r->log_resume = fn;
	r->log_res = res;
	blk_req_append(&b->log_wait, &b->log_wait_tail, r);
	return true;
}

/* The log has room again: the waiting requests go on, oldest first. */
static void log_room(void *ctx)
{
	struct blk *b = ctx;
	while (b->log_wait && !blk_log_full(b->log)) {
		struct blk_req *r = b->log_wait;
		b->log_wait = r->next;
		if (!b->log_wait)
			b->log_wait_tail = NULL;
		r->next = NULL;
		r->log_resume(r, r->log_res);
	}
}

void blk_attach_log(struct blk *b, struct blk_engine *log_engine, struct vm_ctl *ctl)
{
	blk_log_attach(b->log, b->loop, log_engine ? log_engine : &b->uring, ctl, log_room, b);
}

/* What completing r tells the guest is durable, if anything. */
static uint32_t promise_reason(const struct blk_req *r)
{
	if (r->op == BLK_OP_FLUSH)
		return (r->flags & BLK_REQ_INTERNAL) ? BLKLOG_WHY_CACHE_OFF : BLKLOG_WHY_FLUSH;
	if (r->op == BLK_OP_READ)
		return 0;
	if (r->promise_all)
		return BLKLOG_WHY_CACHE_OFF;
	if (r->op == BLK_OP_WRITE && (r->flags & BLK_REQ_FUA))
		return BLKLOG_WHY_FUA;
	return 0;
}

static void finish_logged(struct blk_req *r, int res)
{
	uint32_t why = promise_reason(r);
	bool all = r->op == BLK_OP_FLUSH || r->promise_all;
	blk_log_promise(r->blk->log, why, all, r->log_mark, r->req_no);
	finish_now(r, res);
}

/* The guest is told r is done; a promise it makes is recorded first. */
static void finish(struct blk_req *r, int res)
{
	struct blk *b = r->blk;
	if (!b->log || res || !promise_reason(r)) {
		finish_now(r, res);
		return;
	}
	if (!log_wait(b, r, finish_logged, res))
		finish_logged(r, res);
}

static void submit_io(struct blk_req *r, enum blk_io_kind kind, const struct iovec *iov,
		      unsigned niov, uint64_t offset, uint64_t len, int mode)
{
	struct blk *b = r->blk;
	struct blk_io io = {
		.kind = kind, .fd = b->fd, .iov = iov, .niov = niov, .offset = offset, .len = len,
		.rw_flags = r->rw_flags, .mode = mode, .op = &r->io_op,
	};
	b->engine->submit(b->engine, &io);
}

static bool no_space(int res)
{
	return res == -ENOSPC || res == -EDQUOT;
}

/*
 * A host operation that asked for durability (fdatasync, an RWF_DSYNC write)
 * or changed the file's allocation (fallocate) failed. Its error may be the
 * writeback error of earlier cached writes, which the kernel reports once per
 * open file and then forgets (fsyncgate): those pages may be gone, so no
 * flush may succeed again while the image is open (QEMU's
 * page_cache_inconsistent). Running out of space is only this request's own
 * allocation failing when it cannot be a writeback error: for fallocate
 * (which reports none), and for a write when nothing of ours is in the page
 * cache (O_DIRECT) or nothing cached awaits writeback.
 */
enum durable_op { DURABLE_FDATASYNC, DURABLE_WRITE, DURABLE_FALLOCATE };

static void durable_failed(struct blk *b, int res, enum durable_op what)
{
	if (no_space(res) && (what == DURABLE_FALLOCATE ||
			      (what == DURABLE_WRITE &&
			       (b->policy->direct || b->dirty_gen == b->flushed_gen))))
		return;
	if (b->flush_error)
		return;
	b->flush_error = res;
	log_err("disk %s: a host flush failed (%s): data the guest wrote may be lost; every "
		"later flush, FUA write and write with the cache off fails until kestrel exits",
		b->name, strerror(-res));
}

/*
 * werror=stop: keep r, to be issued again by r->reissue once the operator
 * has freed space; the first held request pauses the guest.
 */
static bool hold_for_space(struct blk *b, struct blk_req *r, int res,
			   void (*reissue)(struct blk_req *r))
{
	if (!no_space(res) || b->werror != DISK_WERROR_STOP || !b->ctl || b->flush_error)
		return false;
	r->reissue = reissue;
	bool first = !b->held;
	/* Oldest first: appended at the tail. */
	r->next = NULL;
	struct blk_req **tail = &b->held;
	while (*tail)
		tail = &(*tail)->next;
	*tail = r;
	b->stats.held++;
	if (first) {
		log_err("disk %s: the host file system is full (%s); the guest is paused: free space "
			"and send SIGUSR1 to kestrel (pid %d) to go on, or end it",
			b->name, strerror(-res), (int)getpid());
		b->ctl->pause(b->ctl, true);
	}
	return true;
}

void blk_retry_held(struct blk *b)
{
	struct blk_req *list = b->held;
	if (!list)
		return;
	b->held = NULL;
	log_info("disk %s: trying the held requests again", b->name);
	b->ctl->pause(b->ctl, false);
	/* Oldest first; one that fails again holds (and pauses) again. */
	while (list) {
		struct blk_req *next = list->next;
		list->next = NULL;
		list->reissue(list);
		list = next;
	}
}

/* ---- flushes ---- */

static void flush_start(struct blk *b);

static void complete_list(struct blk_req *list, int res)
{
	while (list) {
		struct blk_req *next = list->next;
		list->next = NULL;
		finish(list, res);
		list = next;
	}
}

static void submit_fdatasync(struct blk *b)
{
	struct blk_io io = {.kind = BLK_IO_FDATASYNC, .fd = b->fd, .op = &b->flush_op};
	b->engine->submit(b->engine, &io);
}

static void flush_done(struct loop_op *op, int res)
{
	struct blk *b = container_of(op, struct blk, flush_op);
	if (res == -EINTR || res == -EAGAIN) {
		submit_fdatasync(b); /* not run: the same waiters, again */
		return;
	}
	b->flush_in_flight = false;
	struct blk_req *waiting = b->flush_waiting;
	b->flush_waiting = NULL;
	if (res < 0) {
		durable_failed(b, res, DURABLE_FDATASYNC);
		complete_list(waiting, -EIO);
		complete_list(b->flush_next, -EIO);
		b->flush_next = NULL;
		if (b->swap)
			blk_swap_step(b);
		return;
	}
	if (b->flight_gen > b->flushed_gen)
		b->flushed_gen = b->flight_gen;
	if (b->log)
		blk_log_sync(b->log, b->log_flight_mark);
	complete_list(waiting, 0);
	if (b->flush_next || (b->want_gen > b->flushed_gen && !b->flush_error))
		flush_start(b);
	else if (b->swap)
		blk_swap_step(b);
}

static void flush_start(struct blk *b)
{
	b->flush_in_flight = true;
	b->flight_gen = b->dirty_gen;
	if (b->log)
		b->log_flight_mark = blk_log_next_seq(b->log);
	b->flush_waiting = b->flush_next;
	b->flush_next = NULL;
	b->stats.host_flushes++;
	b->flush_op.cb = flush_done;
	submit_fdatasync(b);
}

/*
 * Makes r wait until everything completed so far is on stable storage.
 * Returns 1 if that is so already, -EIO if it never will be, 0 if r now
 * waits (it finishes through the flush machinery).
 */
static int flush_wait(struct blk *b, struct blk_req *r)
{
	if (b->flush_error)
		return -EIO;
	uint64_t target = b->dirty_gen;
	if (b->flushed_gen >= target)
		return 1;
	if (b->flush_in_flight && b->flight_gen >= target) {
		r->next = b->flush_waiting;
		b->flush_waiting = r;
		return 0;
	}
	r->next = b->flush_next;
	b->flush_next = r;
	if (!b->flush_in_flight)
		flush_start(b);
	return 0;
}

/* A host flush of everything completed so far, with no request waiting for it. */
void blk_flush_kick(struct blk *b)
{
	if (b->flush_error || b->policy->no_flush || b->flushed_gen >= b->dirty_gen)
		return;
	if (b->dirty_gen > b->want_gen)
		b->want_gen = b->dirty_gen;
	if (!b->flush_in_flight)
		flush_start(b);
}

static int flush_submit(struct blk *b, struct blk_req *r)
{
	if (!(r->flags & BLK_REQ_INTERNAL))
		b->stats.flushes++;
	if (b->log)
		r->log_mark = blk_log_next_seq(b->log); /* it covers every change logged before */
	if (b->policy->no_flush || b->lie == BLK_LIE_NO_FLUSH)
		return 1; /* unsafe: acknowledged, never reaches the disk */
	return flush_wait(b, r);
}

/*
 * A change (write, write-zeroes, discard) is done on the host. If it may sit
 * in a volatile cache it joins the flush generation; and if the cache is off
 * now, it completes only once it, and everything before it, is durable.
 */
static void change_done(struct blk *b, struct blk_req *r, bool cached)
{
	if (cached)
		b->dirty_gen++;
	/* The guest's view: with its cache off, completing this promises everything before it. */
	r->promise_all = !blk_write_cache_enabled(b);
	if (b->log)
		r->log_mark = blk_log_next_seq(b->log);
	int ret = durable_at_completion(b) ? flush_wait(b, r) : 1;
	if (ret)
		finish(r, ret > 0 ? 0 : ret);
}

/* ---- reads and writes ---- */

static bool iov_aligned(const struct iovec *iov, unsigned n, uint32_t align)
{
	for (unsigned i = 0; i < n; i++)
		if (((uintptr_t)iov[i].iov_base | iov[i].iov_len) & (align - 1))
			return false;
	return true;
}

/* Drops `done` bytes from the front of the iovec array (a short transfer). */
static void iov_advance(struct iovec **iov, unsigned *n, uint64_t done)
{
	while (*n && done >= (*iov)->iov_len) {
		done -= (*iov)->iov_len;
		(*iov)++;
		(*n)--;
	}
	if (*n && done) {
		(*iov)->iov_base = (uint8_t *)(*iov)->iov_base + done;
		(*iov)->iov_len -= done;
	}
}

static void rw_issue(struct blk_req *r)
{
	uint64_t done = r->len - r->remaining;
	enum blk_io_kind kind = r->op == BLK_OP_READ ? BLK_IO_READV : BLK_IO_WRITEV;
	if (r->bounce) {
		/* The next chunk; a write copies it out of the guest's buffers first. */
		uint64_t chunk = r->remaining < r->bounce_len ? r->remaining : r->bounce_len;
		if (r->op == BLK_OP_WRITE)
			vq_iov_to_buf(r->iov, r->niov, done, r->bounce, chunk);
		r->bounce_iov.iov_base = r->bounce;
		r->bounce_iov.iov_len = chunk;
		submit_io(r, kind, &r->bounce_iov, 1, r->offset + done, chunk, 0);
	} else {
		submit_io(r, kind, r->iov, r->niov, r->offset + done, r->remaining, 0);
	}
}

/* The bounce buffer r needs: one chunk, or less for a smaller request. */
static uint32_t bounce_want(const struct blk_req *r)
{
	return r->len < BLK_BOUNCE_CHUNK ? (uint32_t)r->len : BLK_BOUNCE_CHUNK;
}

/* Starts requests that waited for bounce memory, oldest first, while the budget allows. */
static void bounce_start_waiting(struct blk *b)
{
	while (b->bounce_wait) {
		struct blk_req *r = b->bounce_wait;
		uint32_t want = bounce_want(r);
		if (b->bounce_bytes + want > BLK_BOUNCE_BUDGET)
			return;
		b->bounce_wait = r->next;
		if (!b->bounce_wait)
			b->bounce_wait_tail = NULL;
		r->next = NULL;
		if (posix_memalign(&r->bounce, b->mem_align, want)) {
			r->bounce = NULL;
			finish(r, -ENOMEM);
			continue;
		}
		r->bounce_len = want;
		b->bounce_bytes += want;
		if (b->bounce_bytes > b->stats.bounce_peak)
			b->stats.bounce_peak = b->bounce_bytes;
		rw_issue(r);
	}
}

/* Queues r for a bounce buffer; it starts at once when the disk's budget allows. */
static void bounce_acquire(struct blk *b, struct blk_req *r)
{
	b->stats.bounced++;
	if (b->bounce_wait || b->bounce_bytes + bounce_want(r) > BLK_BOUNCE_BUDGET)
		b->stats.bounce_waits++;
	blk_req_append(&b->bounce_wait, &b->bounce_wait_tail, r);
	bounce_start_waiting(b);
}

static void bounce_release(struct blk_req *r)
{
	if (!r->bounce)
		return;
	struct blk *b = r->blk;
	free(r->bounce);
	r->bounce = NULL;
	b->bounce_bytes -= r->bounce_len;
	r->bounce_len = 0;
	bounce_start_waiting(b);
}

static void rw_advance(struct blk_req *r, int res);

/* A host write finished: its data goes in the log, then the request goes on. */
static void rw_logged(struct blk_req *r, int res)
{
	struct blk *b = r->blk;
	uint64_t done = r->len - r->remaining;
	/* The data just written: the bounce chunk, or the front of the guest's buffers. */
	const struct iovec *iov = r->bounce ? &r->bounce_iov : r->iov;
	unsigned niov = r->bounce ? 1 : r->niov;
	blk_log_change(b->log, BLKLOG_WRITE, r->rw_flags & RWF_DSYNC, r->req_no, r->offset + done,
		       (uint64_t)res, iov, niov, 0);
	rw_advance(r, res);
}

static void rw_done(struct loop_op *op, int res)
{
	struct blk_req *r = container_of(op, struct blk_req, io_op);
	struct blk *b = r->blk;
	if (res == -EAGAIN || res == -EINTR) {
		rw_issue(r);
		return;
	}
	if (res < 0) {
		log_debug("disk %s: %s at %llu: %s", b->name, r->op == BLK_OP_READ ? "read" : "write",
			  (unsigned long long)r->offset, strerror(-res));
		if (r->op == BLK_OP_WRITE && (r->rw_flags & RWF_DSYNC))
			durable_failed(b, res, DURABLE_WRITE);
		if (r->op == BLK_OP_WRITE && hold_for_space(b, r, res, rw_issue))
			return;
		finish(r, -EIO);
		return;
	}
	if (res == 0) {
		/* The file ended early (it shrank under us): never loop on it. */
		finish(r, -EIO);
		return;
	}
	if (r->op == BLK_OP_WRITE && b->log) {
		if (!log_wait(b, r, rw_logged, res))
			rw_logged(r, res);
		return;
	}
	rw_advance(r, res);
}

/* res bytes of r moved on the host. */
static void rw_advance(struct blk_req *r, int res)
{
	struct blk *b = r->blk;
	if (r->bounce && r->op == BLK_OP_READ)
		vq_buf_to_iov(r->iov, r->niov, r->len - r->remaining, r->bounce, (uint64_t)res);
	if ((uint64_t)res < r->remaining) {
		/*
		 * O_DIRECT can only go on from a block boundary: the kernel stops
		 * a transfer short only there, but a host that stopped elsewhere
		 * must not make us issue I/O at an offset it would refuse (or
		 * from a guest buffer O_DIRECT cannot take). Found by fuzz-virtio-blk.
		 */
		if (b->mem_align > 1 && ((uint64_t)res & (b->block_size - 1))) {
			log_debug("disk %s: O_DIRECT %s at %llu stopped off a block boundary (%d bytes)",
				  b->name, r->op == BLK_OP_READ ? "read" : "write",
				  (unsigned long long)r->offset, res);
			finish(r, -EIO);
			return;
		}
		/* A short transfer, or the next chunk of a bounced one. */
		r->remaining -= (uint64_t)res;
		if (!r->bounce)
			iov_advance(&r->iov, &r->niov, (uint64_t)res);
		rw_issue(r);
		return;
	}
	if (r->op == BLK_OP_READ) {
		finish(r, 0);
		return;
	}
	bounce_release(r); /* before it may wait for a flush */
	change_done(b, r, !(r->rw_flags & RWF_DSYNC));
}

static int rw_start(struct blk *b, struct blk_req *r)
{
	uint64_t len = 0;
	for (unsigned i = 0; i < r->niov; i++)
		len += r->iov[i].iov_len;
	r->len = len;
	if (r->op == BLK_OP_WRITE && b->readonly)
		return -EROFS;
	if (len == 0 || r->offset > b->size || len > b->size - r->offset ||
	    ((r->offset | len) & (b->block_size - 1)))
		return -EINVAL;
	r->remaining = len;
	r->rw_flags = 0;
	if (r->op == BLK_OP_READ) {
		b->stats.reads++;
		b->stats.read_bytes += len;
	} else {
		b->stats.writes++;
		b->stats.write_bytes += len;
		if (r->flags & BLK_REQ_FUA)
			b->stats.fua_writes++;
		/* unsafe promises nothing, not even for FUA or with the cache off (cache.no-flush). */
		bool fua = (r->flags & BLK_REQ_FUA) && b->lie != BLK_LIE_NO_FUA;
		bool cache_off = !blk_write_cache_enabled(b) && b->lie != BLK_LIE_HIDE_CACHE;
		bool durable = !b->policy->no_flush && (cache_off || fua);
		if (durable) {
			/* After a lost writeback nothing is promised durable again. */
			if (b->flush_error)
				return -EIO;
			r->rw_flags = RWF_DSYNC;
			b->stats.dsync_writes++;
		}
	}
	r->io_op.cb = rw_done;
	/* O_DIRECT refuses unaligned buffers; guests rarely send them, so copy then. */
	if (b->mem_align > 1 && !iov_aligned(r->iov, r->niov, b->mem_align))
		bounce_acquire(b, r);
	else
		rw_issue(r);
	return 0;
}

/* ---- discard and write-zeroes ---- */

static void range_issue(struct blk_req *r)
{
	int mode = r->stage == STAGE_ZERO_RANGE ? FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE
						: FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
	submit_io(r, BLK_IO_FALLOCATE, NULL, 0, r->offset, r->len, mode);
}

static void range_logged(struct blk_req *r, int res)
{
	struct blk *b = r->blk;
	blk_log_change(b->log, r->op == BLK_OP_DISCARD ? BLKLOG_DISCARD : BLKLOG_ZERO, false,
		       r->req_no, r->offset, r->len, NULL, 0, 0);
	change_done(b, r, true);
}

static void range_done(struct loop_op *op, int res)
{
	struct blk_req *r = container_of(op, struct blk_req, io_op);
	struct blk *b = r->blk;
	if (res == -EINTR || res == -EAGAIN) {
		range_issue(r);
		return;
	}
	if (res == -EOPNOTSUPP) {
		if (r->op == BLK_OP_WRITE_ZEROES && r->stage == STAGE_ZERO_RANGE) {
			r->stage = STAGE_PUNCH_HOLE; /* a hole reads back as zeroes too */
			range_issue(r);
			return;
		}
		/* Discard is a hint: a file system that cannot punch holes loses nothing. */
		finish(r, r->op == BLK_OP_DISCARD ? 0 : -EOPNOTSUPP);
		return;
	}
	if (res < 0) {
		durable_failed(b, res, DURABLE_FALLOCATE);
		if (hold_for_space(b, r, res, range_issue))
			return;
		finish(r, -EIO);
		return;
	}
	if (b->log) {
		if (!log_wait(b, r, range_logged, res))
			range_logged(r, res);
		return;
	}
	change_done(b, r, true);
}

static int range_start(struct blk *b, struct blk_req *r)
{
	if (b->readonly)
		return -EROFS;
	if (r->len == 0 || r->offset > b->size || r->len > b->size - r->offset ||
	    ((r->offset | r->len) & 511))
		return -EINVAL;
	if (durable_at_completion(b) && b->flush_error)
		return -EIO;
	r->io_op.cb = range_done;
	if (r->op == BLK_OP_DISCARD) {
		b->stats.discards++;
		r->stage = STAGE_PUNCH_HOLE;
	} else {
		b->stats.write_zeroes++;
		r->stage = STAGE_ZERO_RANGE;
	}
	range_issue(r);
	return 0;
}

void blk_submit(struct blk *b, struct blk_req *r)
{
	r->blk = b;
	r->next = NULL;
	r->bounce = NULL;
	r->bounce_len = 0;
	r->stage = 0;
	r->promise_all = false;
	r->req_no = b->next_req++;
	r->t_submit_ns = now_ns();
	b->inflight++;
	if (b->swap)
		blk_swap_wait(b, r);
	else
		blk_submit_now(b, r);
}

void blk_submit_now(struct blk *b, struct blk_req *r)
{
	int ret;
	switch (r->op) {
	case BLK_OP_READ:
	case BLK_OP_WRITE:
		ret = rw_start(b, r);
		break;
	case BLK_OP_FLUSH:
		ret = flush_submit(b, r);
		break;
	case BLK_OP_DISCARD:
	case BLK_OP_WRITE_ZEROES:
		ret = range_start(b, r);
		break;
	default:
		ret = -EOPNOTSUPP;
		break;
	}
	if (ret == -EINVAL || ret == -EOPNOTSUPP)
		b->stats.invalid++;
	if (ret)
		finish(r, ret > 0 ? 0 : ret);
}

int blk_final_flush(struct blk *b)
{
	if (b->fd < 0 || b->readonly || !b->policy->volatile_cache || b->policy->no_flush)
		return 0;
	if (b->flush_error) {
		log_err("disk %s: not flushed at exit: a host flush failed earlier (%s)", b->name,
			strerror(-b->flush_error));
		return b->flush_error;
	}
	if (b->flushed_gen >= b->dirty_gen)
		return 0;
	b->stats.host_flushes++;
	while (fdatasync(b->fd) < 0) {
		if (errno == EINTR)
			continue;
		int ret = -errno;
		log_err("disk %s: flushing at exit failed: %s", b->name, strerror(errno));
		b->flush_error = ret;
		return ret;
	}
	b->flushed_gen = b->dirty_gen;
	if (b->log)
		blk_log_sync(b->log, blk_log_next_seq(b->log));
	return 0;
}

void blk_print_stats(const struct blk *b, const char *label)
{
	const struct blk_stats *s = &b->stats;
	fprintf(stderr,
		"kestrel: stats: %s (%s, cache=%s): reads %llu (%llu bytes), writes %llu (%llu bytes), "
		"flushes %llu, host flushes %llu, fua writes %llu, dsync writes %llu, discards %llu, "
		"write zeroes %llu, errors %llu, held %llu, bounced %llu (waited %llu, peak %llu bytes)%s%s\n",
		label, b->name, b->policy->name, (unsigned long long)s->reads,
		(unsigned long long)s->read_bytes, (unsigned long long)s->writes,
		(unsigned long long)s->write_bytes, (unsigned long long)s->flushes,
		(unsigned long long)s->host_flushes, (unsigned long long)s->fua_writes,
		(unsigned long long)s->dsync_writes, (unsigned long long)s->discards,
		(unsigned long long)s->write_zeroes, (unsigned long long)s->errors,
		(unsigned long long)s->held, (unsigned long long)s->bounced,
		(unsigned long long)s->bounce_waits, (unsigned long long)s->bounce_peak,
		b->flush_error ? ", FLUSH FAILED (sticky): " : "",
		b->flush_error ? strerror(-b->flush_error) : "");
}

/*
 * The block backend's promises under the orderings that used to lose data:
 * a host writeback error reported once (fsyncgate), the guest switching its
 * cache off with writes in flight or while the switch's flush runs, a reset
 * after a failed flush, discards, EINTR on fallocate, `unsafe` with the
 * cache off, werror=stop, and the flush at exit. Each test is a scenario
 * that completed a request too early, or reported success, before the fix.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "devices/blk.h"
#include "tests/unit/rec_engine.h"
#include "vmm/container_of.h"

static struct {
	int calls;
	int res;
} dones[16];

static void on_done(struct blk_req *req, int res)
{
	unsigned i = req->flags >> 16 & 15;
	dones[i].calls++;
	dones[i].res = res;
}

static struct blk b;
static struct rec_engine rec;
static struct loop loop;
static bool have_loop;
static char buf[16][4096];
static struct iovec iov[16];
static struct blk_req reqs[16];

/* A vm_ctl that counts pauses, for werror=stop. */
static int paused;
static void fake_pause(struct vm_ctl *ctl, bool pause)
{
	paused += pause ? 1 : -1;
}
static struct vm_ctl ctl = {.pause = fake_pause};

static void setup(enum blk_cache mode)
{
	memset(dones, 0, sizeof(dones));
	rec_engine_init(&rec);
	blk_init_fake(&b, 99, 1 << 20, mode, false);
	if (!have_loop) {
		cr_assert_eq(loop_init(&loop, 8), 0);
		have_loop = true;
	}
	/* Tasks handed to the loop are run by hand with run_switch_task(). */
	blk_attach(&b, &loop, &rec.e);
	paused = 0;
}

static struct blk_req *req(unsigned i, enum blk_op op, uint64_t off, unsigned flags)
{
	struct blk_req *r = &reqs[i];
	memset(r, 0, sizeof(*r));
	r->op = op;
	r->offset = off;
	r->flags = flags | (i << 16);
	r->done = on_done;
	if (op == BLK_OP_READ || op == BLK_OP_WRITE) {
		iov[i] = (struct iovec){buf[i], 4096};
		r->iov = &iov[i];
		r->niov = 1;
	} else if (op != BLK_OP_FLUSH) {
		r->len = 4096;
	}
	return r;
}

static void submit(unsigned i, enum blk_op op, uint64_t off, unsigned flags)
{
	blk_submit(&b, req(i, op, off, flags));
}

static void complete(unsigned k, int res)
{
	rec_engine_complete(&rec, k, res);
}

/* What the loop thread runs after the guest turned the cache off. */
static void run_switch_task(void)
{
	/* Take it off the (never started) loop's queue and run it here. */
	pthread_mutex_lock(&loop.lock);
	struct loop_task *queued = loop.tasks;
	loop.tasks = NULL;
	pthread_mutex_unlock(&loop.lock);
	cr_assert_eq(queued, &b.wce_flush_task, "turning the cache off queued no flush");
	b.wce_flush_task.fn(&b.wce_flush_task);
}

/* ---- hole 1: a failed durable write eats the host's writeback error ---- */

Test(blk_durability, a_failed_fua_write_makes_later_flushes_fail)
{
	setup(BLK_CACHE_WRITEBACK);
	submit(0, BLK_OP_WRITE, 0, 0); /* A, cached */
	complete(0, 4096);
	submit(1, BLK_OP_WRITE, 8192, BLK_REQ_FUA);
	cr_assert(rec.io[1].rw_flags & RWF_DSYNC);
	/* Writeback of A failed; the kernel reports it here, once. */
	complete(1, -EIO);
	cr_assert_eq(dones[1].res, -EIO);
	submit(2, BLK_OP_FLUSH, 0, 0);
	cr_assert_eq(dones[2].calls, 1);
	cr_assert_eq(dones[2].res, -EIO, "the guest would be told A is durable");
	cr_assert_neq(b.flush_error, 0);
}

Test(blk_durability, a_failed_write_with_the_cache_off_and_a_failed_fallocate_are_sticky_too)
{
	setup(BLK_CACHE_WRITEBACK);
	submit(0, BLK_OP_WRITE, 0, 0);
	complete(0, 4096);
	blk_set_write_cache(&b, false);
	submit(1, BLK_OP_WRITE, 4096, 0);
	cr_assert(rec.io[1].rw_flags & RWF_DSYNC);
	complete(1, -EIO);
	cr_assert_eq(dones[1].res, -EIO);
	blk_set_write_cache(&b, true);
	submit(2, BLK_OP_FLUSH, 0, 0);
	cr_assert_eq(dones[2].res, -EIO);

	setup(BLK_CACHE_WRITEBACK);
	submit(0, BLK_OP_WRITE, 0, 0);
	complete(0, 4096);
	submit(1, BLK_OP_WRITE_ZEROES, 8192, 0);
	complete(1, -EIO);
	cr_assert_eq(dones[1].res, -EIO);
	submit(2, BLK_OP_FLUSH, 0, 0);
	cr_assert_eq(dones[2].res, -EIO);
}

Test(blk_durability, out_of_space_on_a_durable_write_is_sticky_only_when_it_can_hide_a_writeback_error)
{
	/* Nothing cached awaits writeback: only this write's allocation failed. */
	setup(BLK_CACHE_WRITEBACK);
	submit(0, BLK_OP_WRITE, 0, BLK_REQ_FUA);
	complete(0, -ENOSPC);
	cr_assert_eq(dones[0].res, -EIO);
	cr_assert_eq(b.flush_error, 0);
	submit(1, BLK_OP_WRITE, 0, 0);
	complete(1, 4096);
	submit(2, BLK_OP_FLUSH, 0, 0);
	cr_assert_eq(rec.io[2].kind, BLK_IO_FDATASYNC);
	complete(2, 0);
	cr_assert_eq(dones[2].res, 0);

	/* With a cached write waiting, ENOSPC may be its writeback failing. */
	setup(BLK_CACHE_WRITEBACK);
	submit(0, BLK_OP_WRITE, 0, 0);
	complete(0, 4096);
	submit(1, BLK_OP_WRITE, 4096, BLK_REQ_FUA);
	complete(1, -ENOSPC);
	submit(2, BLK_OP_FLUSH, 0, 0);
	cr_assert_eq(dones[2].res, -EIO);
}

/* ---- hole 2: a write in flight when the cache goes off ---- */

Test(blk_durability, a_cached_write_completing_after_the_cache_went_off_is_made_durable_first)
{
	setup(BLK_CACHE_WRITEBACK);
	submit(0, BLK_OP_WRITE, 0, 0); /* W, submitted cached */
	cr_assert_not(rec.io[0].rw_flags & RWF_DSYNC);
	blk_set_write_cache(&b, false);
	run_switch_task(); /* nothing completed yet: nothing to flush */
	cr_assert_eq(rec.n, 1);
	complete(0, 4096);
	cr_assert_eq(dones[0].calls, 0, "W completed cached while the guest believes write-through");
	cr_assert_eq(rec.n, 2);
	cr_assert_eq(rec.io[1].kind, BLK_IO_FDATASYNC);
	complete(1, 0);
	cr_assert_eq(dones[0].calls, 1);
	cr_assert_eq(dones[0].res, 0);
}

/* ---- hole 3: off, on, off again while the first switch's flush runs ---- */

Test(blk_durability, a_second_switch_off_during_the_first_ones_flush_flushes_again)
{
	setup(BLK_CACHE_WRITEBACK);
	submit(0, BLK_OP_WRITE, 0, 0);
	complete(0, 4096);
	blk_set_write_cache(&b, false);
	run_switch_task();
	cr_assert_eq(rec.io[1].kind, BLK_IO_FDATASYNC, "the switch's flush");
	blk_set_write_cache(&b, true);
	submit(1, BLK_OP_WRITE, 4096, 0); /* cached while it was on */
	complete(2, 4096);
	blk_set_write_cache(&b, false);
	run_switch_task();
	complete(1, 0); /* the first flush, which began before write 1 completed */
	cr_assert_eq(rec.n, 4, "write 1 was never flushed");
	cr_assert_eq(rec.io[3].kind, BLK_IO_FDATASYNC);
	complete(3, 0);
	cr_assert_eq(b.flushed_gen, b.dirty_gen);
}

/* ---- hole 4: the switch completes before the old writes are durable ---- */

Test(blk_durability, no_write_completes_after_the_switch_before_its_flush_is_done)
{
	setup(BLK_CACHE_WRITEBACK);
	submit(0, BLK_OP_WRITE, 0, 0);
	complete(0, 4096); /* A: cached */
	/* virtio-blk's config write: no completion; the loop has not run the task yet. */
	blk_set_write_cache(&b, false);
	submit(1, BLK_OP_WRITE, 4096, 0);
	cr_assert(rec.io[1].rw_flags & RWF_DSYNC);
	complete(1, 4096); /* B is durable itself, A is not yet */
	cr_assert_eq(dones[1].calls, 0, "B completed while A could still be lost");
	cr_assert_eq(rec.io[2].kind, BLK_IO_FDATASYNC);
	complete(2, 0);
	cr_assert_eq(dones[1].calls, 1);
	cr_assert_eq(dones[1].res, 0);
	/* Now nothing is pending: the next write completes as soon as it is done. */
	submit(2, BLK_OP_WRITE, 8192, 0);
	complete(3, 4096);
	cr_assert_eq(dones[2].calls, 1);
	cr_assert_eq(rec.n, 4);
}

/* ---- hole 5: a reset forgets a failed flush (test_blk.c covers the flush) ---- */

Test(blk_durability, a_failed_flush_shows_in_the_stats)
{
	setup(BLK_CACHE_WRITEBACK);
	submit(0, BLK_OP_WRITE, 0, 0);
	complete(0, 4096);
	submit(1, BLK_OP_FLUSH, 0, 0);
	complete(1, -EIO);
	blk_reset(&b);
	cr_assert_eq(b.flush_error, -EIO);
	int saved = dup(2);
	fflush(stderr);
	int pipefd[2];
	cr_assert_eq(pipe(pipefd), 0);
	dup2(pipefd[1], 2);
	blk_print_stats(&b, "disk0");
	fflush(stderr);
	dup2(saved, 2);
	close(pipefd[1]);
	char out[1024] = {0};
	cr_assert_gt(read(pipefd[0], out, sizeof(out) - 1), 0);
	close(pipefd[0]);
	close(saved);
	cr_assert(strstr(out, "FLUSH FAILED (sticky)"), "%s", out);
}

/* ---- hole 6: discards ---- */

Test(blk_durability, a_discard_is_flushed_like_a_write)
{
	setup(BLK_CACHE_WRITEBACK);
	submit(0, BLK_OP_DISCARD, 0, 0);
	complete(0, 0);
	cr_assert_eq(dones[0].res, 0);
	submit(1, BLK_OP_FLUSH, 0, 0);
	cr_assert_eq(rec.n, 2, "a flush after only a discard was skipped");
	cr_assert_eq(rec.io[1].kind, BLK_IO_FDATASYNC);
	complete(1, 0);
	cr_assert_eq(dones[1].calls, 1);
}

Test(blk_durability, without_a_cache_a_discard_is_durable_when_it_completes)
{
	static const enum blk_cache modes[] = {BLK_CACHE_WRITETHROUGH, BLK_CACHE_DIRECTSYNC,
					       BLK_CACHE_WRITEBACK};
	for (unsigned i = 0; i < 3; i++) {
		setup(modes[i]);
		if (modes[i] == BLK_CACHE_WRITEBACK)
			blk_set_write_cache(&b, false); /* the guest's switch */
		submit(0, BLK_OP_DISCARD, 0, 0);
		complete(0, 0);
		cr_assert_eq(dones[0].calls, 0, "%s: discard done before it was durable",
			     b.policy->name);
		cr_assert_eq(rec.io[1].kind, BLK_IO_FDATASYNC);
		complete(1, 0);
		cr_assert_eq(dones[0].calls, 1);
	}
}

/* ---- hole 8: EINTR and EAGAIN on fallocate and on the sync after it ---- */

Test(blk_durability, fallocate_and_its_sync_are_retried_on_eintr_and_eagain)
{
	setup(BLK_CACHE_WRITETHROUGH);
	submit(0, BLK_OP_WRITE_ZEROES, 0, 0);
	complete(0, -EINTR);
	cr_assert_eq(rec.n, 2);
	cr_assert_eq(rec.io[1].kind, BLK_IO_FALLOCATE);
	cr_assert_eq(rec.io[1].mode, rec.io[0].mode, "the same fallocate again");
	complete(1, 0);
	cr_assert_eq(rec.io[2].kind, BLK_IO_FDATASYNC);
	complete(2, -EAGAIN);
	cr_assert_eq(rec.io[3].kind, BLK_IO_FDATASYNC);
	complete(3, 0);
	cr_assert_eq(dones[0].calls, 1);
	cr_assert_eq(dones[0].res, 0);
	submit(1, BLK_OP_DISCARD, 0, 0);
	complete(4, -EAGAIN);
	cr_assert_eq(rec.io[5].kind, BLK_IO_FALLOCATE);
}

/* ---- hole 9: unsafe with the guest's cache off ---- */

Test(blk_durability, unsafe_never_asks_the_host_for_durability_even_with_the_cache_off)
{
	setup(BLK_CACHE_UNSAFE);
	submit(0, BLK_OP_WRITE, 0, 0);
	complete(0, 4096);
	blk_set_write_cache(&b, false);
	cr_assert_not(b.wce_flush_queued);
	submit(1, BLK_OP_WRITE, 4096, BLK_REQ_FUA);
	cr_assert_not(rec.io[1].rw_flags & RWF_DSYNC);
	complete(1, 4096);
	cr_assert_eq(dones[1].calls, 1);
	cr_assert_eq(b.stats.host_flushes, 0);
	cr_assert_eq(b.stats.dsync_writes, 0);
}

/* ---- werror=stop ---- */

Test(blk_durability, werror_stop_holds_a_write_that_found_no_space_and_pauses_the_guest)
{
	setup(BLK_CACHE_WRITEBACK);
	b.werror = DISK_WERROR_STOP;
	b.ctl = &ctl;
	submit(0, BLK_OP_WRITE, 0, 0);
	submit(1, BLK_OP_WRITE_ZEROES, 8192, 0);
	complete(0, -ENOSPC);
	complete(1, -ENOSPC);
	cr_assert_eq(dones[0].calls + dones[1].calls, 0, "held, not failed");
	cr_assert_eq(paused, 1, "the guest is paused once");
	cr_assert_eq(blk_held(&b), 2);
	cr_assert_eq(blk_inflight(&b), 2);
	/* The operator freed space. */
	blk_retry_held(&b);
	cr_assert_eq(paused, 0);
	cr_assert_eq(rec.n, 4);
	cr_assert_eq(rec.io[2].kind, BLK_IO_WRITEV, "oldest first");
	cr_assert_eq(rec.io[2].offset, 0);
	cr_assert_eq(rec.io[3].kind, BLK_IO_FALLOCATE);
	complete(2, 4096);
	complete(3, 0);
	cr_assert_eq(dones[0].res, 0);
	cr_assert_eq(dones[1].res, 0);
	cr_assert_eq(b.stats.held, 2);
	/* Still full: held again, paused again. */
	submit(2, BLK_OP_WRITE, 0, 0);
	complete(4, -ENOSPC);
	cr_assert_eq(paused, 1);
	blk_retry_held(&b);
	complete(5, -EDQUOT);
	cr_assert_eq(paused, 1);
	cr_assert_eq(dones[2].calls, 0);
}

Test(blk_durability, werror_report_fails_the_write_and_other_errors_are_never_held)
{
	setup(BLK_CACHE_WRITEBACK);
	b.ctl = &ctl;
	submit(0, BLK_OP_WRITE, 0, 0);
	complete(0, -ENOSPC);
	cr_assert_eq(dones[0].res, -EIO);
	b.werror = DISK_WERROR_STOP;
	submit(1, BLK_OP_WRITE, 0, 0);
	complete(1, -EIO);
	cr_assert_eq(dones[1].res, -EIO);
	cr_assert_eq(paused, 0);
}

/* ---- hole 7: the flush at exit ---- */

Test(blk_durability, exit_flushes_what_was_cached_unless_unsafe)
{
	char path[] = "/tmp/kestrel-final-XXXXXX";
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	unlink(path);
	static const enum blk_cache modes[] = {BLK_CACHE_WRITEBACK, BLK_CACHE_UNSAFE,
					       BLK_CACHE_WRITETHROUGH};
	static const unsigned want[] = {1, 0, 0};
	for (unsigned i = 0; i < 3; i++) {
		setup(modes[i]);
		b.fd = fd;
		submit(0, BLK_OP_WRITE, 0, 0);
		complete(0, 4096);
		uint64_t before = b.stats.host_flushes;
		cr_assert_eq(blk_final_flush(&b), 0);
		cr_assert_eq(b.stats.host_flushes - before, want[i], "%s", b.policy->name);
		/* Nothing written since: no second fdatasync. */
		cr_assert_eq(blk_final_flush(&b), 0);
		cr_assert_eq(b.stats.host_flushes - before, want[i]);
	}
	/* After a lost writeback the exit says so instead of claiming a clean image. */
	setup(BLK_CACHE_WRITEBACK);
	b.fd = fd;
	b.flush_error = -EIO;
	cr_assert_eq(blk_final_flush(&b), -EIO);
	close(fd);
}

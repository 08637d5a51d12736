/*
 * Swapping a running disk's image (PATCH /drives) with a recording engine:
 * requests that arrive meanwhile wait and go to the new file, requests in
 * flight finish on the old one, and the old file is flushed before kestrel
 * lets go of it. A swap that skipped the flush, or let a waiting request
 * reach the old file, fails these tests.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "devices/blk.h"
#include "tests/unit/rec_engine.h"

#define OLD_FD 99
#define NEW_FD 77

static struct blk b, fresh;
static struct rec_engine rec;
static struct blk_swap sw;
static int swap_calls, swap_res;
static int req_calls[4], req_res[4];
static struct blk_req reqs[4];
static char buf[4][4096];
static struct iovec iov[4];

static void on_swap(struct blk_swap *s, int res)
{
	(void)s;
	swap_calls++;
	swap_res = res;
}

static void on_req(struct blk_req *r, int res)
{
	unsigned i = (unsigned)(r - reqs);
	req_calls[i]++;
	req_res[i] = res;
}

static void setup(enum blk_cache mode)
{
	rec_engine_init(&rec);
	blk_init_fake(&b, OLD_FD, 1 << 20, mode, false);
	blk_attach(&b, NULL, &rec.e);
	blk_init_fake(&fresh, NEW_FD, 2 << 20, mode, false);
	memset(&sw, 0, sizeof(sw));
	sw.fresh = &fresh;
	sw.done = on_swap;
	swap_calls = swap_res = 0;
	memset(req_calls, 0, sizeof(req_calls));
}

static struct blk_req *submit(unsigned i, enum blk_op op)
{
	struct blk_req *r = &reqs[i];
	memset(r, 0, sizeof(*r));
	r->op = op;
	r->done = on_req;
	if (op == BLK_OP_READ || op == BLK_OP_WRITE) {
		iov[i] = (struct iovec){buf[i], sizeof(buf[i])};
		r->iov = &iov[i];
		r->niov = 1;
	}
	blk_submit(&b, r);
	return r;
}

Test(blk_swap, an_idle_clean_disk_swaps_at_once)
{
	setup(BLK_CACHE_WRITEBACK);
	blk_swap_start(&b, &sw);
	cr_assert_eq(swap_calls, 1);
	cr_assert_eq(swap_res, 0);
	cr_assert_eq(rec.n, 0, "nothing written: no flush");
	cr_assert_eq(b.fd, NEW_FD);
	cr_assert_eq(fresh.fd, OLD_FD, "the old file comes back, to be closed off the loop");
	cr_assert_eq(blk_size(&b), 2 << 20);
	cr_assert_eq(fresh.size, 1 << 20);
	cr_assert_null(b.swap);
}

Test(blk_swap, requests_in_flight_finish_on_the_old_image_and_it_is_flushed_before_the_swap)
{
	setup(BLK_CACHE_WRITEBACK);
	submit(0, BLK_OP_WRITE);
	cr_assert_eq(rec.n, 1);
	cr_assert_eq(rec.io[0].fd, OLD_FD);
	blk_swap_start(&b, &sw);
	submit(1, BLK_OP_READ);
	cr_assert_eq(rec.n, 1, "a request arriving during the swap waits");
	cr_assert_eq(blk_inflight(&b), 2, "and counts as in flight (a frontend reset waits for it)");
	rec_engine_complete(&rec, 0, 4096);
	cr_assert_eq(req_calls[0], 1);
	cr_assert_eq(req_res[0], 0);
	cr_assert_eq(swap_calls, 0);
	cr_assert_eq(rec.n, 2, "the cached write is flushed before the old file is let go");
	cr_assert_eq(rec.io[1].kind, BLK_IO_FDATASYNC);
	cr_assert_eq(rec.io[1].fd, OLD_FD);
	rec_engine_complete(&rec, 1, 0);
	cr_assert_eq(swap_calls, 1);
	cr_assert_eq(swap_res, 0);
	cr_assert_eq(rec.n, 3, "the waiting read goes on");
	cr_assert_eq(rec.io[2].kind, BLK_IO_READV);
	cr_assert_eq(rec.io[2].fd, NEW_FD, "to the new image");
	rec_engine_complete(&rec, 2, 4096);
	cr_assert_eq(req_calls[1], 1);
	/* A flush now has nothing of the new file's to cover. */
	submit(2, BLK_OP_FLUSH);
	cr_assert_eq(req_calls[2], 1);
	cr_assert_eq(rec.n, 3);
}

Test(blk_swap, a_failed_flush_of_the_old_image_keeps_it_and_the_guest_hears_of_it)
{
	setup(BLK_CACHE_WRITEBACK);
	submit(0, BLK_OP_WRITE);
	rec_engine_complete(&rec, 0, 4096);
	blk_swap_start(&b, &sw);
	cr_assert_eq(rec.n, 2);
	submit(1, BLK_OP_WRITE);
	rec_engine_complete(&rec, 1, -EIO);
	cr_assert_eq(swap_calls, 1);
	cr_assert_eq(swap_res, -EIO);
	cr_assert(strstr(sw.msg, "flush"), "%s", sw.msg);
	cr_assert_eq(b.fd, OLD_FD);
	cr_assert_eq(fresh.fd, NEW_FD, "the refused new file is the caller's to close");
	cr_assert_eq(rec.n, 3);
	cr_assert_eq(rec.io[2].fd, OLD_FD, "the waiting write goes to the old image");
	rec_engine_complete(&rec, 2, 4096);
	submit(2, BLK_OP_FLUSH);
	cr_assert_eq(req_res[2], -EIO, "the lost writeback is still reported");
}

Test(blk_swap, unsafe_swaps_without_a_flush)
{
	setup(BLK_CACHE_UNSAFE);
	submit(0, BLK_OP_WRITE);
	blk_swap_start(&b, &sw);
	rec_engine_complete(&rec, 0, 4096);
	cr_assert_eq(swap_calls, 1);
	cr_assert_eq(swap_res, 0);
	cr_assert_eq(rec.n, 1, "unsafe never asks the host for durability");
}

Test(blk_swap, a_second_swap_and_a_logged_disk_are_refused)
{
	setup(BLK_CACHE_WRITEBACK);
	submit(0, BLK_OP_READ);
	blk_swap_start(&b, &sw);
	struct blk other;
	blk_init_fake(&other, 55, 1 << 20, BLK_CACHE_WRITEBACK, false);
	struct blk_swap sw2 = {.fresh = &other, .done = on_swap};
	blk_swap_start(&b, &sw2);
	cr_assert_eq(swap_calls, 1);
	cr_assert_eq(swap_res, -EBUSY);
	cr_assert_eq(b.swap, &sw, "the first one goes on");
	rec_engine_complete(&rec, 0, 4096);
	cr_assert_eq(swap_calls, 2);
	cr_assert_eq(swap_res, 0);

	setup(BLK_CACHE_WRITEBACK);
	b.log = (struct blk_log *)&other; /* only its presence matters: refused before any use */
	blk_swap_start(&b, &sw);
	cr_assert_eq(swap_res, -EINVAL);
	cr_assert(strstr(sw.msg, "write log"), "%s", sw.msg);
	cr_assert_null(b.swap);
	b.log = NULL;
}

Test(blk_swap, the_new_image_must_fit_the_guests_block_size)
{
	char err[256];
	setup(BLK_CACHE_NONE);
	b.block_size = 512;
	fresh.block_size = 4096;
	cr_assert_neq(blk_swap_check(&b, &fresh, err, sizeof(err)), 0);
	cr_assert(strstr(err, "4096-byte blocks"), "%s", err);
	b.block_size = 4096;
	fresh.block_size = 512;
	fresh.size = 4096 * 3 + 512;
	cr_assert_neq(blk_swap_check(&b, &fresh, err, sizeof(err)), 0);
	cr_assert(strstr(err, "not a multiple"), "%s", err);
	fresh.size = 4096 * 3;
	cr_assert_eq(blk_swap_check(&b, &fresh, err, sizeof(err)), 0, "%s", err);
}

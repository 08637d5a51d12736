/*
 * O_DIRECT bounce buffers: a guest's unaligned buffers are copied chunk by
 * chunk, and a disk never holds more than BLK_BOUNCE_BUDGET of them, however
 * large or many the requests (the CVE-2016-7422 class: 126 descriptors of
 * 32 MiB over one guest page once asked for a 4 GiB buffer per request).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "devices/blk.h"
#include "tests/unit/rec_engine.h"

#define NREQ 32
#define SEGS 126

static struct blk b;
static struct rec_engine rec;
static struct blk_req reqs[NREQ];
static struct iovec iovs[NREQ][SEGS];
static int done_calls, done_errors;
/* Only the chunks a test lets run are copied: 1 MiB covers them. */
static uint8_t page[1 << 20] __attribute__((aligned(4096)));

static void on_done(struct blk_req *req, int res)
{
	done_calls++;
	if (res)
		done_errors++;
}

static void setup(void)
{
	rec_engine_init(&rec);
	blk_init_fake(&b, 99, 256ull << 30, BLK_CACHE_NONE, false);
	b.mem_align = 512; /* as blk_open finds for O_DIRECT */
	blk_attach(&b, NULL, &rec.e);
	done_calls = done_errors = 0;
}

/* Request i: n segments of seg bytes, all over the same unaligned guest bytes. */
static struct blk_req *unaligned_req(unsigned i, enum blk_op op, unsigned n, uint64_t seg)
{
	for (unsigned s = 0; s < n; s++)
		iovs[i][s] = (struct iovec){page + 1, seg};
	reqs[i] = (struct blk_req){.op = op, .offset = (uint64_t)i << 32, .iov = iovs[i],
				   .niov = n, .done = on_done};
	return &reqs[i];
}

Test(blk_bounce, huge_unaligned_requests_never_exceed_the_disks_bounce_budget)
{
	setup();
	for (unsigned i = 0; i < NREQ; i++)
		blk_submit(&b, unaligned_req(i, BLK_OP_WRITE, SEGS, 32ull << 20));
	/* Each request is ~4 GiB; together ~128 GiB. What the disk holds: */
	cr_assert_leq(b.bounce_bytes, BLK_BOUNCE_BUDGET);
	cr_assert_eq(b.stats.bounce_peak, BLK_BOUNCE_BUDGET);
	unsigned started = BLK_BOUNCE_BUDGET / BLK_BOUNCE_CHUNK;
	cr_assert_eq(rec.n, started, "only as many requests as the budget holds start");
	for (unsigned k = 0; k < rec.n; k++) {
		cr_assert_eq(rec.io[k].niov, 1);
		cr_assert_eq(rec.io[k].len, BLK_BOUNCE_CHUNK, "one chunk at a time");
		cr_assert_eq(((uintptr_t)rec.io[k].iov[0].iov_base) % 512, 0);
	}
	cr_assert_eq(b.stats.bounce_waits, NREQ - started);
	/* A chunk done: the same request goes on with its next chunk, memory stays put. */
	rec_engine_complete(&rec, 0, BLK_BOUNCE_CHUNK);
	cr_assert_eq(rec.n, started + 1);
	cr_assert_eq(rec.io[started].offset, BLK_BOUNCE_CHUNK);
	cr_assert_leq(b.bounce_bytes, BLK_BOUNCE_BUDGET);
	/* Failing the started ones frees their memory for the ones that waited. */
	for (unsigned k = 1; k <= started; k++)
		rec_engine_complete(&rec, k, -EIO);
	cr_assert_eq(done_errors, (int)started);
	cr_assert_eq(rec.n, 2 * started + 1, "the waiting requests started, in order");
	cr_assert_eq(rec.io[started + 1].offset, (uint64_t)started << 32);
	for (unsigned k = started + 1; k < rec.n; k++)
		rec_engine_complete(&rec, k, -EIO);
	cr_assert_eq(done_calls, NREQ, "every request finished");
	cr_assert_eq(b.bounce_bytes, 0);
	cr_assert_eq(blk_inflight(&b), 0);
}

Test(blk_bounce, a_bounced_read_and_write_move_the_right_bytes_chunk_by_chunk)
{
	setup();
	/* 3 segments of 200 KiB at odd addresses: 600 KiB, three chunks of 256/256/88 KiB. */
	static uint8_t src[3][200 << 10], dst[3][200 << 10];
	struct iovec wiov[3], riov[3];
	for (unsigned s = 0; s < 3; s++) {
		for (unsigned i = 0; i < sizeof(src[s]) - 8; i++)
			src[s][i + 8] = (uint8_t)(i * 7 + s);
		wiov[s] = (struct iovec){src[s] + 8, (200 << 10) - 8 * 64};
		riov[s] = (struct iovec){dst[s] + 8, (200 << 10) - 8 * 64};
	}
	uint64_t total = 3 * ((200 << 10) - 8 * 64);
	static uint8_t disk[1 << 20];
	struct blk_req w = {.op = BLK_OP_WRITE, .offset = 0, .iov = wiov, .niov = 3, .done = on_done};
	blk_submit(&b, &w);
	uint64_t pos = 0;
	while (pos < total) {
		const struct blk_io *io = &rec.io[rec.n - 1];
		cr_assert_leq(io->len, BLK_BOUNCE_CHUNK);
		memcpy(disk + io->offset, io->iov[0].iov_base, io->len);
		pos += io->len;
		rec_engine_complete(&rec, rec.n - 1, (int)io->len);
	}
	cr_assert_eq(done_calls, 1);
	struct blk_req r = {.op = BLK_OP_READ, .offset = 0, .iov = riov, .niov = 3, .done = on_done};
	blk_submit(&b, &r);
	pos = 0;
	while (pos < total) {
		const struct blk_io *io = &rec.io[rec.n - 1];
		/* A short read on the way: the rest of the chunk is asked for again. */
		uint64_t n = io->len > 4096 ? io->len - 4096 : io->len;
		memcpy(io->iov[0].iov_base, disk + io->offset, n);
		pos += n;
		rec_engine_complete(&rec, rec.n - 1, (int)n);
	}
	cr_assert_eq(done_calls, 2);
	cr_assert_eq(done_errors, 0);
	for (unsigned s = 0; s < 3; s++)
		cr_assert_eq(memcmp(src[s] + 8, dst[s] + 8, riov[s].iov_len), 0, "segment %u", s);
	cr_assert_eq(b.bounce_bytes, 0);
}

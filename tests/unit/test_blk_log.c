/*
 * The write log: the backend's events recorded in order (blk.c + blk_log.c),
 * read back (blklog/reader.c) and checked (blklog/promise.c). The disk's
 * host I/O goes to a recording engine; the log's own writes go to a real
 * scratch file when the test pumps them.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "blklog/promise.h"
#include "blklog/reader.h"
#include "devices/blk.h"
#include "devices/blk_log.h"
#include "devices/log_marks.h"
#include "tests/unit/rec_engine.h"

static struct blk b;
static struct blk_log log_;
static struct rec_engine rec;
static char path[] = "/tmp/kestrel-test-log-XXXXXX";

/* The log's engine: keeps its writes until pump() does them on the file. */
static struct blk_io log_io[8];
static unsigned log_nio;
static void log_submit(struct blk_engine *e, const struct blk_io *io)
{
	cr_assert_lt(log_nio, 8);
	log_io[log_nio++] = *io;
}
static struct blk_engine log_engine = {.submit = log_submit};

static int fail_with; /* pump() completes with this instead of writing, if set */
static void pump(void)
{
	while (log_nio) {
		struct blk_io io = log_io[0];
		memmove(log_io, log_io + 1, --log_nio * sizeof(*log_io));
		int res = fail_with ? fail_with
				    : (int)pwritev(io.fd, io.iov, (int)io.niov, (off_t)io.offset);
		io.op->cb(io.op, res);
	}
}

static enum vm_stop stopped;
static void on_stop(struct vm_ctl *c, enum vm_stop why, const char *msg) { stopped = why; }
static struct vm_ctl ctl = {.stop = on_stop};

static int dones[64], results[64];
static void on_done(struct blk_req *r, int res)
{
	unsigned i = r->flags >> 16;
	dones[i]++;
	results[i] = res;
}

static struct blk_req reqs[64];
static struct iovec iovs[64];
static uint8_t data[64][4096];

static void setup_log(enum blk_cache mode, enum blk_lie lie)
{
	memset(dones, 0, sizeof(dones));
	log_nio = 0;
	fail_with = 0;
	stopped = VM_RUNNING;
	rec_engine_init(&rec);
	blk_init_fake(&b, 99, 1 << 20, mode, false);
	b.lie = lie;
	blk_attach(&b, NULL, &rec.e);
	strcpy(path, "/tmp/kestrel-test-log-XXXXXX");
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	close(fd);
	char err[256];
	cr_assert_eq(blk_log_open(&log_, path, b.size, 512, mode, err, sizeof(err)), 0, "%s", err);
	b.log = &log_;
	blk_attach_log(&b, &log_engine, &ctl);
}

static void teardown_log(void)
{
	unlink(path);
}

TestSuite(blk_log, .fini = teardown_log);

static struct blk_req *req(unsigned i, enum blk_op op, uint64_t off, unsigned flags)
{
	struct blk_req *r = &reqs[i];
	memset(r, 0, sizeof(*r));
	r->op = op;
	r->offset = off;
	r->flags = flags | i << 16;
	r->done = on_done;
	if (op == BLK_OP_WRITE) {
		memset(data[i], 'A' + (int)i, sizeof(data[i]));
		iovs[i] = (struct iovec){data[i], sizeof(data[i])};
		r->iov = &iovs[i];
		r->niov = 1;
	}
	if (op == BLK_OP_DISCARD)
		r->len = 4096;
	return r;
}

/* Submits and lets the host finish every operation it asks for, in order. */
static void run(struct blk_req *r)
{
	unsigned from = rec.n;
	blk_submit(&b, r);
	for (unsigned k = from; k < rec.n; k++)
		rec_engine_complete(&rec, k, rec.io[k].kind == BLK_IO_WRITEV ? (int)rec.io[k].len : 0);
}

/* Closes the log and runs the promise check over it. */
static struct blklog_promise_check check;
static void check_log(void)
{
	pump();
	cr_assert_eq(blk_log_close(&log_), 0);
	struct blklog_reader rd;
	char err[256];
	cr_assert_eq(blklog_open(&rd, path, err, sizeof(err)), 0, "%s", err);
	blklog_promise_init(&check);
	struct blklog_entry e;
	const uint8_t *d;
	int ret;
	while ((ret = blklog_next(&rd, &e, &d, err, sizeof(err))) > 0)
		blklog_promise_feed(&check, &e);
	cr_assert_eq(ret, 0, "%s", err);
	blklog_close(&rd);
}

Test(blk_log, events_are_recorded_in_order_and_read_back_with_their_data)
{
	setup_log(BLK_CACHE_WRITEBACK, BLK_LIE_NONE);
	run(req(0, BLK_OP_WRITE, 0, 0));
	run(req(1, BLK_OP_WRITE, 4096, BLK_REQ_FUA));
	run(req(2, BLK_OP_DISCARD, 8192, 0));
	run(req(3, BLK_OP_FLUSH, 0, 0));
	pump();
	cr_assert_eq(blk_log_close(&log_), 0);

	struct blklog_reader rd;
	char err[256];
	cr_assert_eq(blklog_open(&rd, path, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(rd.header.image_size, 1 << 20);
	struct { uint16_t type, flags; uint64_t offset; } want[] = {
		{BLKLOG_WRITE, 0, 0},
		{BLKLOG_WRITE, BLKLOG_F_DURABLE, 4096},
		{BLKLOG_PROMISE, 0, 0},           /* the FUA write */
		{BLKLOG_DISCARD, 0, 8192},
		{BLKLOG_SYNC, 0, 0},              /* the flush's fdatasync */
		{BLKLOG_PROMISE, BLKLOG_F_ALL, 0}, /* the flush */
	};
	struct blklog_entry e;
	const uint8_t *d;
	for (unsigned i = 0; i < 6; i++) {
		cr_assert_eq(blklog_next(&rd, &e, &d, err, sizeof(err)), 1, "entry %u: %s", i, err);
		cr_assert_eq(e.type, want[i].type, "entry %u", i);
		cr_assert_eq(e.flags, want[i].flags, "entry %u", i);
		cr_assert_eq(e.offset, want[i].offset, "entry %u", i);
		if (e.type == BLKLOG_WRITE) {
			cr_assert_eq(e.data_len, 4096);
			cr_assert_eq(d[0], e.offset ? 'B' : 'A', "the data the guest wrote");
		}
	}
	cr_assert_eq(e.covers, 4, "the flush covers the three changes before it (seq 0, 1, 3)");
	cr_assert_eq(blklog_next(&rd, &e, &d, err, sizeof(err)), 0);
	blklog_close(&rd);
}

Test(blk_log, every_policy_keeps_its_promises)
{
	static const enum blk_cache modes[] = {BLK_CACHE_WRITEBACK, BLK_CACHE_NONE,
					       BLK_CACHE_WRITETHROUGH, BLK_CACHE_DIRECTSYNC};
	for (unsigned m = 0; m < 4; m++) {
		setup_log(modes[m], BLK_LIE_NONE);
		run(req(0, BLK_OP_WRITE, 0, 0));
		run(req(1, BLK_OP_WRITE, 4096, BLK_REQ_FUA));
		run(req(2, BLK_OP_FLUSH, 0, 0));
		run(req(3, BLK_OP_WRITE, 8192, 0));
		blk_set_write_cache(&b, false); /* the guest turns the cache off */
		run(req(4, BLK_OP_WRITE, 12288, 0));
		run(req(5, BLK_OP_DISCARD, 0, 0));
		check_log();
		cr_assert_gt(check.promises, 2, "mode %u", m);
		cr_assert_eq(check.violations, 0, "mode %u: %llu lost", m,
			     (unsigned long long)check.violations);
		blklog_promise_free(&check);
		unlink(path);
	}
}

Test(blk_log, unsafe_and_every_lying_disk_are_caught)
{
	static const struct { enum blk_cache mode; enum blk_lie lie; unsigned flags; } k[] = {
		{BLK_CACHE_UNSAFE, BLK_LIE_NONE, 0},
		{BLK_CACHE_WRITEBACK, BLK_LIE_NO_FLUSH, 0},
		{BLK_CACHE_WRITEBACK, BLK_LIE_NO_FUA, BLK_REQ_FUA},
		{BLK_CACHE_WRITEBACK, BLK_LIE_HIDE_CACHE, 0},
	};
	for (unsigned i = 0; i < 4; i++) {
		setup_log(k[i].mode, k[i].lie);
		run(req(0, BLK_OP_WRITE, 0, k[i].flags));
		run(req(1, BLK_OP_FLUSH, 0, 0));
		check_log();
		cr_assert_gt(check.violations, 0, "case %u: a lying disk passed the check", i);
		cr_assert_eq(check.reported[0].change_seq, 0, "case %u: the write is the one lost", i);
		blklog_promise_free(&check);
		unlink(path);
	}
}

Test(blk_log, a_torn_or_corrupt_log_is_reported_never_misread)
{
	setup_log(BLK_CACHE_WRITEBACK, BLK_LIE_NONE);
	run(req(0, BLK_OP_WRITE, 0, 0));
	run(req(1, BLK_OP_FLUSH, 0, 0));
	pump();
	cr_assert_eq(blk_log_close(&log_), 0);
	FILE *f = fopen(path, "r+b");
	cr_assert(f);
	fseek(f, 0, SEEK_END);
	long size = ftell(f);
	/* Cut inside the last entry: the entries before it still read. */
	cr_assert_eq(ftruncate(fileno(f), size - 10), 0);
	fclose(f);
	struct blklog_reader rd;
	char err[256];
	struct blklog_entry e;
	const uint8_t *d;
	cr_assert_eq(blklog_open(&rd, path, err, sizeof(err)), 0);
	int ret, n = 0;
	while ((ret = blklog_next(&rd, &e, &d, err, sizeof(err))) > 0)
		n++;
	cr_assert_eq(ret, -ENODATA, "%s", err);
	cr_assert_eq(n, 2, "write and sync read, the torn promise not");
	cr_assert(strstr(err, "cut short"), "%s", err);
	blklog_close(&rd);
	/* One flipped bit in the data of the write: a bad checksum, not other data. */
	f = fopen(path, "r+b");
	fseek(f, (long)(sizeof(struct blklog_header) + sizeof(struct blklog_entry) + 100), SEEK_SET);
	fputc('Z', f);
	fclose(f);
	cr_assert_eq(blklog_open(&rd, path, err, sizeof(err)), 0);
	cr_assert_eq(blklog_next(&rd, &e, &d, err, sizeof(err)), -EBADMSG);
	cr_assert(strstr(err, "corrupt"), "%s", err);
	blklog_close(&rd);
	/* Not a log at all. */
	f = fopen(path, "wb");
	fputs("hello", f);
	fclose(f);
	cr_assert_eq(blklog_open(&rd, path, err, sizeof(err)), -EBADMSG);
	cr_assert(strstr(err, "not a kestrel disk log"), "%s", err);
}

Test(blk_log, a_slow_log_holds_completions_and_keeps_their_order)
{
	setup_log(BLK_CACHE_WRITEBACK, BLK_LIE_NONE);
	/* 1 MiB writes while the log's writes do not finish: its backlog fills. */
	static uint8_t big[1 << 20];
	static struct iovec big_iov[20];
	unsigned n = BLK_LOG_BACKLOG / sizeof(big) + 3;
	cr_assert_leq(n, 20);
	b.size = 64 << 20;
	for (unsigned i = 0; i < n; i++) {
		struct blk_req *r = req(i, BLK_OP_WRITE, (uint64_t)i << 20, 0);
		big_iov[i] = (struct iovec){big, sizeof(big)};
		r->iov = &big_iov[i];
		run(r);
	}
	unsigned done = 0;
	for (unsigned i = 0; i < n; i++)
		done += (unsigned)dones[i];
	cr_assert_lt(done, n, "completions went on past a full log");
	cr_assert_leq(log_.backlog, BLK_LOG_BACKLOG + sizeof(big) + 4096, "the backlog is bounded");
	pump();
	for (unsigned i = 0; i < n; i++)
		cr_assert_eq(dones[i], 1, "write %u completed once the log caught up", i);
	check_log();
	cr_assert_eq(check.changes, n * (sizeof(big) / BLKLOG_MAX_DATA));
	blklog_promise_free(&check);
}

Test(blk_log, a_log_that_cannot_be_written_stops_the_vm)
{
	setup_log(BLK_CACHE_WRITEBACK, BLK_LIE_NONE);
	run(req(0, BLK_OP_WRITE, 0, 0));
	fail_with = -ENOSPC;
	pump();
	cr_assert_eq(stopped, VM_FAILURE);
	/* Requests are not held for a log that will never have room. */
	run(req(1, BLK_OP_FLUSH, 0, 0));
	cr_assert_eq(dones[1], 1);
	cr_assert_eq(blk_log_close(&log_), -ENOSPC);
}

Test(blk_log, marked_console_lines_are_logged_in_loop_order_and_bounded)
{
	setup_log(BLK_CACHE_WRITEBACK, BLK_LIE_NONE);
	struct loop lp;
	cr_assert_eq(loop_init(&lp, 8), 0);
	struct blk_log *logs[] = {&log_};
	static struct log_marks m;
	log_marks_init(&m, "DURABLE ", &lp, logs, 1);
	run(req(0, BLK_OP_FLUSH, 0, 0));
	log_marks_line(&m, "DURABLE 1", 9);
	log_marks_line(&m, "DURABLE", 7);        /* shorter than the prefix */
	log_marks_line(&m, "something else", 14);
	cr_assert(loop_run_pending(&lp, 4));
	run(req(1, BLK_OP_WRITE, 0, 0));
	/* More marks than the queue holds before the loop runs: the rest are dropped. */
	for (unsigned i = 0; i < LOG_MARKS_QUEUE + 5; i++)
		log_marks_line(&m, "DURABLE 2", 9);
	cr_assert(loop_run_pending(&lp, 4));
	cr_assert_eq(m.recorded, 1 + LOG_MARKS_QUEUE);
	cr_assert_eq(m.dropped, 5);
	check_log();
	cr_assert_eq(check.marks, 1 + LOG_MARKS_QUEUE);
	blklog_promise_free(&check);

	struct blklog_reader rd;
	char err[256];
	cr_assert_eq(blklog_open(&rd, path, err, sizeof(err)), 0, "%s", err);
	struct blklog_entry e;
	const uint8_t *d;
	uint16_t types[4];
	for (unsigned i = 0; i < 4; i++) {
		cr_assert_eq(blklog_next(&rd, &e, &d, err, sizeof(err)), 1, "%s", err);
		types[i] = e.type;
		if (i == 1)
			cr_assert(e.data_len == 9 && !memcmp(d, "DURABLE 1", 9), "the line's text");
	}
	/* The flush's promise, then its mark, then the write, then the next marks. */
	cr_assert_eq(types[0], BLKLOG_PROMISE);
	cr_assert_eq(types[1], BLKLOG_MARK);
	cr_assert_eq(types[2], BLKLOG_WRITE);
	cr_assert_eq(types[3], BLKLOG_MARK);
	blklog_close(&rd);
	log_marks_destroy(&m);
	loop_destroy(&lp);
}

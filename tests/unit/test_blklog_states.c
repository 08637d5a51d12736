/*
 * Crash states (blklog/states.c) from small synthetic logs with known
 * answers: which version of each sector a power cut may leave, newest
 * durable versions winning, torn writes, and undo back to the durable state.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "blklog/states.h"
#include "devices/blk.h"
#include "devices/blk_log.h"

#define SECTORS 8
static char log_path[] = "/tmp/kestrel-test-states-XXXXXX";
static char work_path[64];
static struct blk_log lg;

/* The log's engine: writes at once. */
static void sync_submit(struct blk_engine *e, const struct blk_io *io)
{
	int res = (int)pwritev(io->fd, io->iov, (int)io->niov, (off_t)io->offset);
	io->op->cb(io->op, res);
}
static struct blk_engine sync_engine = {.submit = sync_submit};

static void start(void)
{
	strcpy(log_path, "/tmp/kestrel-test-states-XXXXXX");
	close(mkstemp(log_path));
	snprintf(work_path, sizeof(work_path), "%s.work", log_path);
	char err[256];
	cr_assert_eq(blk_log_open(&lg, log_path, SECTORS * 512, 512, 0, err, sizeof(err)), 0, "%s", err);
	blk_log_attach(&lg, NULL, &sync_engine, NULL, NULL, NULL);
	/* The base image: zeros. */
	int fd = open(work_path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	cr_assert_eq(ftruncate(fd, SECTORS * 512), 0);
	close(fd);
}

static void finish_log(void)
{
	cr_assert_eq(blk_log_close(&lg), 0);
}

static void cleanup(void)
{
	unlink(log_path);
	unlink(work_path);
}

TestSuite(blklog_states, .fini = cleanup);

static void write_(unsigned sector, unsigned n, char fill, bool durable)
{
	static uint8_t buf[SECTORS * 512];
	memset(buf, fill, n * 512);
	struct iovec v = {buf, n * 512};
	blk_log_change(&lg, BLKLOG_WRITE, durable, 0, sector * 512, n * 512, &v, 1, 0);
}

/* The first byte of each sector of the working image, as a string ("AA C0000"). */
static const char *image(void)
{
	static char s[SECTORS + 1];
	int fd = open(work_path, O_RDONLY);
	for (unsigned i = 0; i < SECTORS; i++) {
		uint8_t b;
		cr_assert_eq(pread(fd, &b, 1, i * 512), 1);
		s[i] = b ? (char)b : '0';
	}
	close(fd);
	s[SECTORS] = '\0';
	return s;
}

static struct blklog_states st;
static void open_states(void)
{
	char err[256];
	cr_assert_eq(blklog_states_open(&st, log_path, work_path, err, sizeof(err)), 0, "%s", err);
}

Test(blklog_states, each_point_leaves_the_durable_versions_and_any_pending_ones)
{
	start();
	write_(0, 2, 'A', false);               /* seq 0 */
	blk_log_sync(&lg, 1);                   /* seq 1: A is durable */
	write_(1, 1, 'B', false);               /* seq 2: cached */
	write_(2, 1, 'C', true);                /* seq 3: RWF_DSYNC */
	blk_log_promise(&lg, 1, true, 4, 0);    /* seq 4: point 0 */
	write_(0, 1, 'D', false);               /* seq 5 */
	blk_log_promise(&lg, 2, false, 0, 9);   /* seq 6: point 1 */
	finish_log();
	open_states();
	cr_assert_eq(st.npoints, 2);

	cr_assert_eq(blklog_states_goto(&st, 0), 0);
	cr_assert_eq(blklog_states_pending(&st), 1);
	cr_assert_eq(blklog_states_apply(&st, BLKLOG_STATE_NONE, 0), 0);
	cr_assert_str_eq(image(), "AAC00000");
	cr_assert_eq(blklog_states_apply(&st, BLKLOG_STATE_ALL, 0), 0);
	cr_assert_str_eq(image(), "ABC00000");
	cr_assert_eq(blklog_states_undo(&st), 0);
	cr_assert_str_eq(image(), "AAC00000", "undo leaves the durable state");

	cr_assert_eq(blklog_states_goto(&st, 1), 0);
	cr_assert_eq(blklog_states_pending(&st), 2);
	cr_assert_eq(blklog_states_apply(&st, BLKLOG_STATE_ALL, 0), 0);
	cr_assert_str_eq(image(), "DBC00000");
	cr_assert_eq(st.state_changes, 2);
	cr_assert_eq(st.state_bytes, 1024, "a state costs the data it changes");
	cr_assert_eq(blklog_states_undo(&st), 0);
	cr_assert_str_eq(image(), "AAC00000");
	cr_assert_eq(blklog_states_goto(&st, 0), -EINVAL, "points only go forward");
	blklog_states_close(&st);
}

Test(blklog_states, a_newer_durable_version_is_never_replaced_by_an_older_one)
{
	start();
	write_(0, 1, 'A', false);             /* seq 0: cached */
	write_(0, 1, 'B', true);              /* seq 1: durable, newer */
	blk_log_promise(&lg, 2, false, 0, 1); /* seq 2 */
	blk_log_sync(&lg, 3);                 /* seq 3: now A is durable too */
	blk_log_promise(&lg, 1, true, 3, 0);  /* seq 4 */
	finish_log();
	open_states();
	cr_assert_eq(blklog_states_goto(&st, 0), 0);
	cr_assert_eq(blklog_states_apply(&st, BLKLOG_STATE_ALL, 0), 0);
	cr_assert_str_eq(image(), "B0000000", "the cached older write cannot land over it");
	cr_assert_eq(blklog_states_undo(&st), 0);
	cr_assert_eq(blklog_states_goto(&st, 1), 0);
	cr_assert_str_eq(image(), "B0000000", "nor when it becomes durable later");
	blklog_states_close(&st);
}

Test(blklog_states, random_states_tear_writes_by_sector_and_repeat_by_seed)
{
	start();
	write_(0, 8, 'T', false);
	blk_log_promise(&lg, 1, true, 1, 0);
	finish_log();
	open_states();
	cr_assert_eq(blklog_states_goto(&st, 0), 0);
	bool torn = false, none = false, all = false;
	char first[SECTORS + 1] = "";
	for (uint64_t seed = 0; seed < 40; seed++) {
		cr_assert_eq(blklog_states_apply(&st, BLKLOG_STATE_RANDOM, seed), 0);
		const char *img = image();
		for (unsigned i = 0; i < SECTORS; i++)
			cr_assert(img[i] == 'T' || img[i] == '0', "%s", img);
		if (!strcmp(img, "00000000"))
			none = true;
		else if (!strcmp(img, "TTTTTTTT"))
			all = true;
		else
			torn = true;
		if (seed == 0)
			strcpy(first, img);
		cr_assert_eq(blklog_states_undo(&st), 0);
	}
	cr_assert(torn && none && all, "every kind of state comes up");
	cr_assert_eq(blklog_states_apply(&st, BLKLOG_STATE_RANDOM, 0), 0);
	cr_assert_str_eq(image(), first, "the same seed, the same state");
	blklog_states_close(&st);
}

Test(blklog_states, each_point_knows_the_last_mark_before_it)
{
	start();
	blk_log_promise(&lg, 1, true, 0, 0); /* seq 0: point 0, no mark yet */
	cr_assert(blk_log_mark(&lg, "DURABLE 1", 9)); /* seq 1 */
	blk_log_promise(&lg, 1, true, 0, 0); /* seq 2: point 1 */
	cr_assert(blk_log_mark(&lg, "DURABLE 2", 9));
	cr_assert(blk_log_mark(&lg, "DURABLE 3", 9));
	blk_log_promise(&lg, 1, true, 0, 0); /* seq 5: point 2 */
	finish_log();
	open_states();
	cr_assert_eq(st.npoints, 3);
	cr_assert_eq(blklog_states_marks_before(&st, 0), 0);
	cr_assert_eq(blklog_states_marks_before(&st, 1), 1);
	cr_assert_eq(blklog_states_marks_before(&st, 2), 3);
	cr_assert_str_eq(st.marks[0].text, "DURABLE 1");
	cr_assert_str_eq(st.marks[2].text, "DURABLE 3");
	blklog_states_close(&st);
}

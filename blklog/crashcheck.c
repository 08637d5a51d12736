/*
 * kestrel-crashcheck: the verdict on a disk write log (`--disk ...,log=FILE`).
 *
 *   kestrel-crashcheck LOG
 *       the promise check (blklog/promise.h): every write the guest was
 *       promised durable had been made durable on the host by then.
 *   kestrel-crashcheck LOG --base IMAGE [--check CMD] [--states N] [--seed S]
 *                      [--work FILE] [--only P:none|all|random] [--keep]
 *       also builds crash states (blklog/states.h) from IMAGE, the disk as it
 *       was before the logged run, and runs CMD on each ("sh -c CMD sh
 *       WORKIMAGE"; exit 0 = the state is good; it must leave the image as
 *       it found it, or exit 99 if it could not, and the working copy is
 *       rebuilt; KESTREL_CRASH_POINT, _POINTS and _VARIANT say which state
 *       it is; KESTREL_CRASH_MARKS names a file with the guest's
 *       --log-marks lines before it, one a line, and KESTREL_CRASH_MARK is
 *       the last: what the application had been told was durable).
 *       Without --check, an ext4 image gets journal recovery and e2fsck
 *       -fn, undone with e2undo.
 *
 * Exit: 0 every promise kept and every state good; 1 a promise broken or a
 * state failed (each listed, with its recipe); 2 bad usage, an unreadable
 * log, or a state that could not be built or undone.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "blklog/promise.h"
#include "blklog/reader.h"
#include "blklog/states.h"
#include "devices/blk_cache.h"

/* Journal recovery on the state (recorded by e2fsck -z), a read-only full check, undone. */
static const char ext4_check[] =
	"u=$(mktemp -u /tmp/kestrel-crashcheck-undo.XXXXXX); "
	"e2fsck -E journal_only -y -z \"$u\" \"$1\" >/dev/null 2>&1; "
	"e2fsck -fn \"$1\"; st=$?; "
	"if [ -e \"$u\" ]; then e2undo \"$u\" \"$1\" >/dev/null 2>&1 || "
	"e2undo -f \"$u\" \"$1\" >/dev/null 2>&1 || st=99; rm -f \"$u\"; fi; "
	"exit $st";

struct options {
	const char *log, *base, *check, *work, *only;
	unsigned long states;
	unsigned long long seed;
	bool keep;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: kestrel-crashcheck LOG [--base IMAGE [--check CMD] [--states N] [--seed S]\n"
		"                              [--work FILE] [--only P:none|all|random] [--keep]]\n"
		"  LOG alone: the promise check (every write promised durable was durable on\n"
		"  the host by then). With --base (the disk before the logged run): also the\n"
		"  crash states at every promise, each checked with CMD (sh -c CMD sh IMAGE;\n"
		"  default for ext4: journal recovery and e2fsck -fn, undone). --states caps\n"
		"  how many (default 1000, spread over the points), --seed picks the random\n"
		"  ones, --only builds one state (as a failure's recipe says) and --keep\n"
		"  leaves it in the work file (default LOG.work).\n"
		"  exit 0 all good, 1 a promise broken or a state failed, 2 cannot check\n");
}

static int parse(int argc, char **argv, struct options *o)
{
	static const struct option opts[] = {
		{"base", required_argument, NULL, 'b'}, {"check", required_argument, NULL, 'c'},
		{"states", required_argument, NULL, 'n'}, {"seed", required_argument, NULL, 's'},
		{"work", required_argument, NULL, 'w'}, {"only", required_argument, NULL, 'o'},
		{"keep", no_argument, NULL, 'k'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0},
	};
	memset(o, 0, sizeof(*o));
	o->states = 1000;
	int c;
	char *end;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'b': o->base = optarg; break;
		case 'c': o->check = optarg; break;
		case 'w': o->work = optarg; break;
		case 'o': o->only = optarg; break;
		case 'k': o->keep = true; break;
		case 'n':
			o->states = strtoul(optarg, &end, 10);
			if (*end || !o->states) {
				fprintf(stderr, "kestrel-crashcheck: --states '%s' is not a positive number\n", optarg);
				return 2;
			}
			break;
		case 's':
			o->seed = strtoull(optarg, &end, 10);
			if (*end) {
				fprintf(stderr, "kestrel-crashcheck: --seed '%s' is not a number\n", optarg);
				return 2;
			}
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		return 2;
	}
	o->log = argv[optind];
	if (!o->base && (o->check || o->only || o->keep || o->work)) {
		fprintf(stderr, "kestrel-crashcheck: crash states need --base IMAGE\n");
		return 2;
	}
	return -1;
}

/* ---- the promise check ---- */

static int promise_check(const char *path)
{
	char err[512];
	struct blklog_reader r;
	if (blklog_open(&r, path, err, sizeof(err))) {
		fprintf(stderr, "kestrel-crashcheck: %s\n", err);
		return 2;
	}
	const struct blklog_header h = r.header;
	struct blklog_promise_check c;
	blklog_promise_init(&c);
	struct blklog_entry e;
	const uint8_t *data;
	int ret;
	while ((ret = blklog_next(&r, &e, &data, err, sizeof(err))) > 0)
		blklog_promise_feed(&c, &e);
	blklog_close(&r);
	int status = 0;
	if (ret == -ENODATA) {
		/* A log cut by a crash: what it holds up to the cut is still checked. */
		fprintf(stderr, "kestrel-crashcheck: warning: %s\n", err);
	} else if (ret < 0) {
		fprintf(stderr, "kestrel-crashcheck: %s: %s\n", path, err);
		status = 2;
	}
	if (c.error) {
		fprintf(stderr, "kestrel-crashcheck: out of memory\n");
		blklog_promise_free(&c);
		return 2;
	}
	const char *mode = h.cache_mode < BLK_CACHE_COUNT ?
				   blk_cache_policy((enum blk_cache)h.cache_mode)->name : "?";
	printf("%s: %llu entries: %llu changes, %llu host syncs, %llu promises, %llu marks (image "
	       "%llu bytes, %u-byte blocks, cache=%s)\n",
	       path, (unsigned long long)c.entries, (unsigned long long)c.changes,
	       (unsigned long long)c.syncs, (unsigned long long)c.promises,
	       (unsigned long long)c.marks,
	       (unsigned long long)h.image_size, h.block_size, mode);
	if (!c.violations) {
		printf("promise check: all %llu promises kept\n", (unsigned long long)c.promises);
	} else {
		printf("promise check: %llu of %llu promises broken, %llu changes not durable when "
		       "promised:\n", (unsigned long long)c.broken_promises,
		       (unsigned long long)c.promises, (unsigned long long)c.violations);
		for (unsigned i = 0; i < c.nreported; i++) {
			const struct blklog_violation *v = &c.reported[i];
			printf("  entry %llu (%s): %s entry %llu at byte %llu, %llu bytes (request %llu) "
			       "was not durable on the host\n",
			       (unsigned long long)v->promise_seq, blklog_reason_name(v->reason),
			       blklog_type_name(v->change_type), (unsigned long long)v->change_seq,
			       (unsigned long long)v->offset, (unsigned long long)v->len,
			       (unsigned long long)v->req);
		}
		if (c.violations > c.nreported)
			printf("  ... and %llu more\n", (unsigned long long)(c.violations - c.nreported));
		if (!status)
			status = 1;
	}
	blklog_promise_free(&c);
	return status;
}

/* ---- crash states ---- */

/* Copies src to dst (created or truncated), holes kept as holes. */
static int copy_image(const char *src, const char *dst)
{
	int out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (out < 0)
		return -errno;
	int ret = blklog_copy_image(src, out);
	close(out);
	return ret;
}

static bool is_ext4(const char *image)
{
	int fd = open(image, O_RDONLY | O_CLOEXEC);
	uint8_t m[2] = {0};
	bool yes = fd >= 0 && pread(fd, m, 2, 1024 + 56) == 2 && m[0] == 0x53 && m[1] == 0xEF;
	if (fd >= 0)
		close(fd);
	return yes;
}

static const char *const variant_names[] = {"none", "all", "random"};

/*
 * sh -c cmd sh image, its output in out (a file); its exit status, or -1.
 * The check learns which state it looks at from KESTREL_CRASH_POINT (0..),
 * KESTREL_CRASH_POINTS (how many) and KESTREL_CRASH_VARIANT, and what the
 * guest had been told from the file KESTREL_CRASH_MARKS (the marks before
 * the point) and KESTREL_CRASH_MARK (the last of them; unset if none).
 */
static int run_check(const char *cmd, const char *image, const char *out, size_t point,
		     size_t points, enum blklog_variant v, const char *marks, const char *mark)
{
	pid_t pid = fork();
	if (pid == 0) {
		char n[32];
		snprintf(n, sizeof(n), "%zu", point);
		setenv("KESTREL_CRASH_POINT", n, 1);
		snprintf(n, sizeof(n), "%zu", points);
		setenv("KESTREL_CRASH_POINTS", n, 1);
		setenv("KESTREL_CRASH_VARIANT", variant_names[v], 1);
		setenv("KESTREL_CRASH_MARKS", marks, 1);
		if (mark)
			setenv("KESTREL_CRASH_MARK", mark, 1);
		else
			unsetenv("KESTREL_CRASH_MARK");
		int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd >= 0) {
			dup2(fd, STDOUT_FILENO);
			dup2(fd, STDERR_FILENO);
		}
		execl("/bin/sh", "sh", "-c", cmd, "sh", image, (char *)NULL);
		_exit(127);
	}
	int st;
	if (pid < 0 || waitpid(pid, &st, 0) < 0)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

struct state {
	size_t point;
	enum blklog_variant v;
};

/* The first n marks of the log into path, one a line. */
static int write_marks(const char *path, const struct blklog_states *s, size_t n)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return -1;
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%s\n", s->marks[i].text);
	return fclose(f);
}

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + t.tv_nsec / 1e9;
}

/* Every state worth checking: none, all and one random at each point with pending changes. */
static struct state *plan(const struct blklog_states *s, size_t *n)
{
	struct state *all = malloc((3 * s->npoints + 1) * sizeof(*all));
	if (!all)
		return NULL;
	*n = 0;
	for (size_t p = 0; p < s->npoints; p++) {
		/* "none" last: the last state of all is then the end with nothing uncertain. */
		if (blklog_states_pending_at(s, p)) {
			all[(*n)++] = (struct state){p, BLKLOG_STATE_ALL};
			all[(*n)++] = (struct state){p, BLKLOG_STATE_RANDOM};
		}
		all[(*n)++] = (struct state){p, BLKLOG_STATE_NONE};
	}
	return all;
}

static int crash_states(const struct options *o)
{
	char work[4200], out[4300], marks_path[4300], err[512];
	snprintf(work, sizeof(work), "%s", o->work ? o->work : o->log);
	if (!o->work)
		strncat(work, ".work", sizeof(work) - strlen(work) - 1);
	snprintf(out, sizeof(out), "%s.check-output", work);
	snprintf(marks_path, sizeof(marks_path), "%s.marks", work);
	size_t marks_written = SIZE_MAX; /* how many marks the file holds */
	const char *cmd = o->check;
	if (!cmd) {
		if (!is_ext4(o->base)) {
			fprintf(stderr, "kestrel-crashcheck: %s is not ext4: say how to check a state "
				"with --check CMD\n", o->base);
			return 2;
		}
		cmd = ext4_check;
	}
	int ret = copy_image(o->base, work);
	if (ret) {
		fprintf(stderr, "kestrel-crashcheck: copying %s to %s: %s\n", o->base, work, strerror(-ret));
		return 2;
	}
	struct blklog_states s;
	if (blklog_states_open(&s, o->log, work, err, sizeof(err))) {
		fprintf(stderr, "kestrel-crashcheck: %s\n", err);
		return 2;
	}
	size_t nall = 0, points = s.npoints;
	struct state *all = plan(&s, &nall);
	if (!all) {
		fprintf(stderr, "kestrel-crashcheck: out of memory\n");
		blklog_states_close(&s);
		return 2;
	}
	/* --only P:VARIANT: that one state; otherwise at most --states, spread evenly. */
	size_t want = nall < o->states ? nall : o->states;
	size_t only_point = 0;
	int only_v = -1;
	if (o->only) {
		char vname[16] = "";
		if (sscanf(o->only, "%zu:%15s", &only_point, vname) != 2 || only_point >= points) {
			fprintf(stderr, "kestrel-crashcheck: --only '%s' is not POINT:none|all|random with "
				"POINT below %zu\n", o->only, points);
			free(all);
			blklog_states_close(&s);
			return 2;
		}
		for (int v = 0; v < 3; v++)
			if (!strcmp(vname, variant_names[v]))
				only_v = v;
		if (only_v < 0) {
			fprintf(stderr, "kestrel-crashcheck: --only: '%s' is not none, all or random\n", vname);
			free(all);
			blklog_states_close(&s);
			return 2;
		}
		all[0] = (struct state){only_point, (enum blklog_variant)only_v};
		nall = want = 1;
	}
	bool tty = isatty(STDERR_FILENO);
	double start = now_s();
	size_t checked = 0, failed = 0;
	uint64_t bytes = 0;
	int status = 0;
	for (size_t i = 0; i < want; i++) {
		/* Spread evenly, the first and the last state always among them. */
		size_t k = want == nall || want == 1 ? i : i * (nall - 1) / (want - 1);
		const struct state *st = &all[k];
		uint64_t seed = o->seed + st->point;
		if (blklog_states_goto(&s, st->point) || blklog_states_apply(&s, st->v, seed)) {
			fprintf(stderr, "kestrel-crashcheck: building state %zu:%s failed\n", st->point,
				variant_names[st->v]);
			status = 2;
			break;
		}
		bytes += s.state_bytes;
		size_t nmarks = blklog_states_marks_before(&s, st->point);
		const char *mark = nmarks ? s.marks[nmarks - 1].text : NULL;
		/* States come in point order: the file changes only when a point passes a mark. */
		if (nmarks != marks_written && write_marks(marks_path, &s, nmarks)) {
			fprintf(stderr, "kestrel-crashcheck: %s: %s\n", marks_path, strerror(errno));
			status = 2;
			break;
		}
		marks_written = nmarks;
		int rc = run_check(cmd, work, out, st->point, points, st->v, marks_path, mark);
		checked++;
		if (rc != 0) {
			failed++;
			printf("state %zu:%s (after entry %llu, %zu changes not yet durable, %llu of them "
			       "applied, seed %llu): the check failed (exit %d); rebuild it with --only "
			       "%zu:%s --seed %llu --keep\n",
			       st->point, variant_names[st->v], (unsigned long long)s.points[st->point],
			       blklog_states_pending(&s), (unsigned long long)s.state_changes,
			       (unsigned long long)o->seed, rc, st->point, variant_names[st->v],
			       (unsigned long long)o->seed);
			if (mark)
				printf("    the guest's last mark before it: %s\n", mark);
			char line[512];
			FILE *f = fopen(out, "r");
			for (unsigned l = 0; f && l < 20 && fgets(line, sizeof(line), f); l++)
				printf("    %s", line);
			if (f)
				fclose(f);
		}
		if (o->keep && o->only)
			break; /* leave it built */
		if (rc == 99) {
			/* The check says it could not put the image back: start from the base again. */
			printf("state %zu:%s: the check could not restore the image; rebuilding it from %s\n",
			       st->point, variant_names[st->v], o->base);
			if (blklog_states_rebuild(&s, o->base)) {
				fprintf(stderr, "kestrel-crashcheck: rebuilding %s failed\n", work);
				status = 2;
				break;
			}
			continue;
		}
		if (blklog_states_undo(&s)) {
			fprintf(stderr, "kestrel-crashcheck: undoing state %zu failed\n", st->point);
			status = 2;
			break;
		}
		if (tty)
			fprintf(stderr, "\rcrash states: %zu/%zu (%.1f/s)", checked, want,
				checked / (now_s() - start));
	}
	double secs = now_s() - start;
	if (tty)
		fprintf(stderr, "\n");
	printf("crash states: %zu checked of %zu at %zu points in %.1f s (%.1f states/s, %.1f KiB "
	       "changed per state): %s\n",
	       checked, nall, points, secs, secs > 0 ? checked / secs : 0.0,
	       checked ? bytes / 1024.0 / checked : 0.0,
	       failed ? "SOME FAILED" : "all good");
	if (failed && !status)
		status = 1;
	unlink(out);
	unlink(marks_path);
	if (!(o->keep && o->only))
		unlink(work);
	else
		printf("state %s kept in %s\n", o->only, work);
	blklog_states_close(&s);
	free(all);
	return status;
}

int main(int argc, char **argv)
{
	struct options o;
	int ret = parse(argc, argv, &o);
	if (ret >= 0)
		return ret;
	int status = promise_check(o.log);
	if (status == 2 || !o.base)
		return status;
	fflush(stdout);
	int states = crash_states(&o);
	return states > status ? states : status;
}

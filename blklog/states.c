#include "blklog/states.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blklog/reader.h"

#define SECTOR 512u
#define RUN 256u /* sectors moved with one read and one write */

static int grow(void **p, size_t *cap, size_t n, size_t size)
{
	if (n < *cap)
		return 0;
	size_t c = *cap ? 2 * *cap : 256;
	void *q = realloc(*p, c * size);
	if (!q)
		return -ENOMEM;
	*p = q;
	*cap = c;
	return 0;
}

int blklog_states_open(struct blklog_states *s, const char *log, const char *work, char *err,
		       size_t errlen)
{
	memset(s, 0, sizeof(*s));
	s->log_fd = s->work_fd = -1;
	struct blklog_reader r;
	int ret = blklog_open(&r, log, err, errlen);
	if (ret)
		return ret;
	s->image_size = r.header.image_size;
	size_t ccap = 0, pcap = 0, mcap = 0, sync_scan = 0;
	struct blklog_entry e;
	const uint8_t *data;
	while ((ret = blklog_next(&r, &e, &data, err, errlen)) > 0) {
		switch (e.type) {
		case BLKLOG_WRITE:
		case BLKLOG_ZERO:
		case BLKLOG_DISCARD:
			if (grow((void **)&s->changes, &ccap, s->nchanges, sizeof(*s->changes)))
				goto nomem;
			s->changes[s->nchanges++] = (struct blklog_change){
				.seq = e.seq, .durable_seq = (e.flags & BLKLOG_F_DURABLE) ? e.seq : UINT64_MAX,
				.offset = e.offset, .len = e.len,
				.data_off = e.data_len ? r.offset - e.data_len : 0, .type = e.type};
			break;
		case BLKLOG_SYNC:
			/* Syncs cover ever more: one scan forward marks what each makes durable. */
			while (sync_scan < s->nchanges && s->changes[sync_scan].seq < e.covers) {
				if (s->changes[sync_scan].durable_seq == UINT64_MAX)
					s->changes[sync_scan].durable_seq = e.seq;
				sync_scan++;
			}
			break;
		case BLKLOG_PROMISE:
			if (grow((void **)&s->points, &pcap, s->npoints, sizeof(*s->points)))
				goto nomem;
			s->points[s->npoints++] = e.seq;
			break;
		case BLKLOG_MARK: {
			if (grow((void **)&s->marks, &mcap, s->nmarks, sizeof(*s->marks)))
				goto nomem;
			struct blklog_mark *m = &s->marks[s->nmarks++];
			m->seq = e.seq;
			memcpy(m->text, data, e.data_len);
			m->text[e.data_len] = '\0';
			break;
		}
		default:
			break;
		}
	}
	blklog_close(&r);
	/* A torn end (the monitor was killed) leaves the entries before it: use them. */
	if (ret < 0 && ret != -ENODATA)
		goto fail;
	for (size_t i = 0; i < s->nchanges; i++) {
		const struct blklog_change *c = &s->changes[i];
		if ((c->offset | c->len) % SECTOR || c->offset > s->image_size ||
		    c->len > s->image_size - c->offset) {
			snprintf(err, errlen, "%s: change %llu lies outside the %llu-byte image", log,
				 (unsigned long long)c->seq, (unsigned long long)s->image_size);
			ret = -EBADMSG;
			goto fail;
		}
	}
	s->log_fd = open(log, O_RDONLY | O_CLOEXEC);
	s->work_fd = open(work, O_RDWR | O_CLOEXEC);
	if (s->log_fd < 0 || s->work_fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "%s: %s", s->log_fd < 0 ? log : work, strerror(errno));
		goto fail;
	}
	/* One version per sector, touched only where changes land (lazily allocated pages). */
	size_t vsize = (size_t)(s->image_size / SECTOR) * sizeof(uint64_t);
	s->version = mmap(NULL, vsize ? vsize : 1, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	s->buf = malloc(2 * RUN * SECTOR);
	if (s->version == MAP_FAILED || !s->buf) {
		s->version = NULL;
		goto nomem;
	}
	return 0;
nomem:
	snprintf(err, errlen, "%s: out of memory", log);
	ret = -ENOMEM;
fail:
	blklog_states_close(s);
	return ret;
}

/* Reads n sectors of change c's new contents, from `sector` on, into buf. */
static int change_data(struct blklog_states *s, const struct blklog_change *c, uint64_t sector,
		       unsigned n, uint8_t *buf)
{
	if (c->type != BLKLOG_WRITE) {
		memset(buf, 0, (size_t)n * SECTOR);
		return 0;
	}
	off_t off = (off_t)(c->data_off + (sector * SECTOR - c->offset));
	ssize_t got = pread(s->log_fd, buf, (size_t)n * SECTOR, off);
	return got == (ssize_t)n * SECTOR ? 0 : -EIO;
}

/*
 * Puts change c's sectors [first, first+n) on the working image where the
 * image holds an older version; records what it overwrote when undoing.
 */
static int put_run(struct blklog_states *s, const struct blklog_change *c, uint64_t first,
		   unsigned n, bool undoing)
{
	uint8_t *old = s->buf, *new = s->buf + RUN * SECTOR;
	if (change_data(s, c, first, n, new))
		return -EIO;
	if (undoing && pread(s->work_fd, old, (size_t)n * SECTOR, (off_t)(first * SECTOR)) !=
			       (ssize_t)n * SECTOR)
		return -EIO;
	/* Sectors a newer change holds already keep it (versions are seq + 1; 0 is the base). */
	uint64_t ver = c->seq + 1;
	unsigned i = 0;
	while (i < n) {
		if (s->version[first + i] >= ver) {
			i++;
			continue;
		}
		unsigned j = i;
		while (j < n && s->version[first + j] < ver)
			j++;
		for (unsigned k = i; k < j; k++) {
			if (undoing) {
				if (grow((void **)&s->undo, &s->undo_cap, s->nundo, sizeof(*s->undo)))
					return -ENOMEM;
				struct blklog_undo *u = &s->undo[s->nundo++];
				u->sector = first + k;
				u->version = s->version[first + k];
				memcpy(u->data, old + (size_t)k * SECTOR, SECTOR);
			}
			s->version[first + k] = ver;
		}
		if (pwrite(s->work_fd, new + (size_t)i * SECTOR, (size_t)(j - i) * SECTOR,
			   (off_t)((first + i) * SECTOR)) != (ssize_t)(j - i) * SECTOR)
			return -EIO;
		s->state_bytes += (uint64_t)(j - i) * SECTOR;
		i = j;
	}
	return 0;
}

static int put_change(struct blklog_states *s, const struct blklog_change *c, bool undoing,
		      uint64_t *rng)
{
	uint64_t first = c->offset / SECTOR, n = c->len / SECTOR;
	for (uint64_t done = 0; done < n;) {
		unsigned k = n - done < RUN ? (unsigned)(n - done) : RUN;
		if (rng) {
			/* Torn: each sector of it made it out, or did not. */
			for (unsigned i = 0; i < k; i++) {
				*rng ^= *rng << 13, *rng ^= *rng >> 7, *rng ^= *rng << 17;
				if (*rng & 1) {
					int ret = put_run(s, c, first + done + i, 1, undoing);
					if (ret)
						return ret;
				}
			}
		} else {
			int ret = put_run(s, c, first + done, k, undoing);
			if (ret)
				return ret;
		}
		done += k;
	}
	return 0;
}

int blklog_states_goto(struct blklog_states *s, size_t p)
{
	uint64_t target = s->points[p];
	if (target < s->at)
		return -EINVAL;
	/* Changes that became durable between the current point and this one. */
	for (size_t i = 0; i < s->nchanges && s->changes[i].seq < target; i++) {
		const struct blklog_change *c = &s->changes[i];
		if (c->durable_seq >= s->at && c->durable_seq < target) {
			int ret = put_change(s, c, false, NULL);
			if (ret)
				return ret;
		}
	}
	s->at = target;
	return 0;
}

static bool pending_before(const struct blklog_change *c, uint64_t at)
{
	return c->seq < at && c->durable_seq >= at;
}

static bool pending(const struct blklog_states *s, const struct blklog_change *c)
{
	return pending_before(c, s->at);
}

static size_t count_pending(const struct blklog_states *s, uint64_t at)
{
	size_t n = 0;
	for (size_t i = 0; i < s->nchanges && s->changes[i].seq < at; i++)
		n += pending_before(&s->changes[i], at);
	return n;
}

size_t blklog_states_pending_at(const struct blklog_states *s, size_t p)
{
	return count_pending(s, s->points[p]);
}

size_t blklog_states_pending(const struct blklog_states *s)
{
	return count_pending(s, s->at);
}

size_t blklog_states_marks_before(const struct blklog_states *s, size_t p)
{
	/* The first mark at or after the point, by halves. */
	size_t lo = 0, hi = s->nmarks;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (s->marks[mid].seq < s->points[p])
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int blklog_states_apply(struct blklog_states *s, enum blklog_variant v, uint64_t seed)
{
	s->nundo = 0;
	s->state_changes = s->state_bytes = 0;
	if (v == BLKLOG_STATE_NONE)
		return 0;
	uint64_t rng = seed * 0x9E3779B97F4A7C15ull + s->at + 1;
	for (size_t i = 0; i < s->nchanges && s->changes[i].seq < s->at; i++) {
		const struct blklog_change *c = &s->changes[i];
		if (!pending(s, c))
			continue;
		bool torn = false;
		if (v == BLKLOG_STATE_RANDOM) {
			/* Out, not out, or some of its sectors: a third each. */
			rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
			unsigned pick = (unsigned)(rng % 3);
			if (pick == 0)
				continue;
			torn = pick == 2;
		}
		s->state_changes++;
		int ret = put_change(s, c, true, torn ? &rng : NULL);
		if (ret)
			return ret;
	}
	return 0;
}

int blklog_states_undo(struct blklog_states *s)
{
	while (s->nundo) {
		const struct blklog_undo *u = &s->undo[--s->nundo];
		if (pwrite(s->work_fd, u->data, SECTOR, (off_t)(u->sector * SECTOR)) != SECTOR)
			return -EIO;
		s->version[u->sector] = u->version;
	}
	return 0;
}

int blklog_copy_image(const char *src, int out)
{
	int in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return -errno;
	struct stat st;
	int ret = 0;
	if (fstat(in, &st) < 0 || ftruncate(out, 0) < 0 || ftruncate(out, st.st_size) < 0)
		ret = -errno;
	/* Only the data; holes stay holes. */
	for (off_t pos = 0; !ret && pos < st.st_size;) {
		off_t data = lseek(in, pos, SEEK_DATA);
		if (data < 0)
			break; /* the rest is a hole */
		off_t hole = lseek(in, data, SEEK_HOLE);
		for (off_t o = data; o < hole && !ret;) {
			loff_t a = o, b = o;
			ssize_t n = copy_file_range(in, &a, out, &b, (size_t)(hole - o), 0);
			if (n <= 0)
				ret = n < 0 ? -errno : -EIO;
			else
				o += n;
		}
		pos = hole;
	}
	close(in);
	return ret;
}

int blklog_states_rebuild(struct blklog_states *s, const char *base)
{
	int ret = blklog_copy_image(base, s->work_fd);
	memset(s->version, 0, (size_t)(s->image_size / SECTOR) * sizeof(uint64_t));
	s->at = 0;
	s->nundo = 0;
	return ret;
}

void blklog_states_close(struct blklog_states *s)
{
	if (s->log_fd >= 0)
		close(s->log_fd);
	if (s->work_fd >= 0)
		close(s->work_fd);
	if (s->version) {
		size_t vsize = (size_t)(s->image_size / SECTOR) * sizeof(uint64_t);
		munmap(s->version, vsize ? vsize : 1);
	}
	free(s->changes);
	free(s->points);
	free(s->marks);
	free(s->undo);
	free(s->buf);
	memset(s, 0, sizeof(*s));
	s->log_fd = s->work_fd = -1;
}

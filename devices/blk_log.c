#include "devices/blk_log.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "devices/blk.h"
#include "vmm/container_of.h"
#include "vmm/log.h"

struct blk_log_chunk {
	struct blk_log_chunk *next;
	uint32_t used;
	uint8_t data[BLK_LOG_CHUNK];
};

static uint32_t crc(uint32_t c, const void *p, size_t n)
{
	return (uint32_t)crc32(c, p, (uInt)n);
}

int blk_log_open(struct blk_log *l, const char *path, uint64_t image_size, uint32_t block_size,
		 uint32_t cache_mode, char *err, size_t errlen)
{
	memset(l, 0, sizeof(*l));
	snprintf(l->path, sizeof(l->path), "%s", path);
	l->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (l->fd < 0) {
		snprintf(err, errlen, "log file %s: %s", path, strerror(errno));
		return -errno;
	}
	struct blklog_header h = {.version = BLKLOG_VERSION, .header_size = sizeof(h),
				  .image_size = image_size, .block_size = block_size,
				  .cache_mode = cache_mode};
	memcpy(h.magic, BLKLOG_MAGIC, sizeof(h.magic));
	h.crc = crc(0, &h, offsetof(struct blklog_header, crc));
	if (pwrite(l->fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h)) {
		int ret = errno ? -errno : -EIO;
		snprintf(err, errlen, "log file %s: writing its header: %s", path, strerror(-ret));
		close(l->fd);
		l->fd = -1;
		return ret;
	}
	l->file_off = sizeof(h);
	return 0;
}

void blk_log_attach(struct blk_log *l, struct loop *loop, struct blk_engine *engine,
		    struct vm_ctl *ctl, void (*room)(void *ctx), void *ctx)
{
	l->loop = loop;
	l->engine = engine;
	l->ctl = ctl;
	l->room = room;
	l->room_ctx = ctx;
}

uint64_t blk_log_next_seq(const struct blk_log *l)
{
	return l->next_seq;
}

bool blk_log_full(const struct blk_log *l)
{
	return !l->error && l->backlog >= BLK_LOG_BACKLOG;
}

static void write_more(struct blk_log *l);

static void fail(struct blk_log *l, int res)
{
	l->error = res;
	char msg[4200];
	snprintf(msg, sizeof(msg), "writing the disk log %s failed: %s", l->path, strerror(-res));
	log_err("%s; stopping the VM (entries after that are not recorded)", msg);
	if (l->ctl)
		l->ctl->stop(l->ctl, VM_FAILURE, msg);
	/* Nothing waits for the log any more: the VM is going down. */
	if (l->room)
		l->room(l->room_ctx);
}

static void write_done(struct loop_op *op, int res)
{
	struct blk_log *l = container_of(op, struct blk_log, op);
	if (res == -EINTR || res == -EAGAIN) {
		write_more(l);
		return;
	}
	if (res <= 0) {
		l->writing = false;
		fail(l, res < 0 ? res : -EIO);
		return;
	}
	l->wr_done += (uint64_t)res;
	if (l->wr_done < l->wr_len) {
		write_more(l); /* a short write: the rest */
		return;
	}
	/* The chunks went out: free them. */
	bool was_full = blk_log_full(l);
	for (unsigned i = 0; i < l->wr_chunks; i++) {
		struct blk_log_chunk *c = l->head;
		l->head = c->next;
		if (!l->head)
			l->tail = NULL;
		free(c);
	}
	l->file_off += l->wr_len;
	l->backlog -= l->wr_len;
	l->writing = false;
	l->wr_chunks = 0;
	if (l->head)
		write_more(l);
	if (was_full && !blk_log_full(l) && l->room)
		l->room(l->room_ctx);
}

/* (Re)submits the write of the first wr_chunks chunks from wr_done on; starts one if idle. */
static void write_more(struct blk_log *l)
{
	if (l->error)
		return;
	if (!l->writing) {
		if (!l->head)
			return;
		/* Seal what there is: later entries go to a new chunk. */
		l->wr_chunks = 0;
		l->wr_len = 0;
		l->wr_done = 0;
		for (struct blk_log_chunk *c = l->head; c && l->wr_chunks < BLK_LOG_MAX_IOV; c = c->next) {
			l->wr_chunks++;
			l->wr_len += c->used;
		}
		struct blk_log_chunk *last = l->head;
		for (unsigned i = 1; i < l->wr_chunks; i++)
			last = last->next;
		if (last == l->tail)
			l->tail = NULL; /* the open chunk is sealed: appends start a new one */
		l->writing = true;
	}
	/* The iovecs of what is left to write. */
	unsigned n = 0;
	uint64_t skip = l->wr_done;
	struct blk_log_chunk *c = l->head;
	for (unsigned i = 0; i < l->wr_chunks; i++, c = c->next) {
		if (skip >= c->used) {
			skip -= c->used;
			continue;
		}
		l->iov[n].iov_base = c->data + skip;
		l->iov[n].iov_len = c->used - skip;
		skip = 0;
		n++;
	}
	l->op.cb = write_done;
	struct blk_io io = {.kind = BLK_IO_WRITEV, .fd = l->fd, .iov = l->iov, .niov = n,
			    .offset = l->file_off + l->wr_done, .len = l->wr_len - l->wr_done,
			    .op = &l->op};
	l->engine->submit(l->engine, &io);
}

/* Copies n bytes into the open chunk, opening new ones as needed. */
static void put(struct blk_log *l, const void *p, size_t n)
{
	const uint8_t *b = p;
	while (n) {
		if (!l->tail || l->tail->used == BLK_LOG_CHUNK) {
			struct blk_log_chunk *c = malloc(sizeof(*c));
			if (!c) {
				fail(l, -ENOMEM);
				return;
			}
			c->next = NULL;
			c->used = 0;
			/* A sealed tail is still linked from the chunk before it. */
			struct blk_log_chunk **link = &l->head;
			while (*link)
				link = &(*link)->next;
			*link = c;
			l->tail = c;
		}
		size_t room = BLK_LOG_CHUNK - l->tail->used;
		size_t k = n < room ? n : room;
		memcpy(l->tail->data + l->tail->used, b, k);
		l->tail->used += (uint32_t)k;
		b += k;
		n -= k;
	}
}

/* Calls fn on each piece of iov[0..niov) from `skip` on, len bytes in all. */
static void each_piece(const struct iovec *iov, unsigned niov, uint64_t skip, uint64_t len,
		       void (*fn)(void *ctx, const void *p, size_t n), void *ctx)
{
	for (unsigned i = 0; i < niov && len; i++) {
		if (skip >= iov[i].iov_len) {
			skip -= iov[i].iov_len;
			continue;
		}
		size_t k = iov[i].iov_len - skip;
		if (k > len)
			k = len;
		fn(ctx, (const uint8_t *)iov[i].iov_base + skip, k);
		len -= k;
		skip = 0;
	}
}

static void crc_piece(void *ctx, const void *p, size_t n)
{
	uint32_t *c = ctx;
	*c = crc(*c, p, n);
}

static void put_piece(void *ctx, const void *p, size_t n)
{
	put(ctx, p, n);
}

uint64_t blk_log_append(struct blk_log *l, struct blklog_entry *e, const struct iovec *iov,
			unsigned int niov, uint64_t skip, uint32_t data_len)
{
	uint64_t seq = l->next_seq++;
	if (l->error)
		return seq;
	e->magic = BLKLOG_ENTRY_MAGIC;
	e->seq = seq;
	e->data_len = data_len;
	uint32_t dc = 0;
	each_piece(iov, niov, skip, data_len, crc_piece, &dc);
	e->data_crc = dc;
	e->crc = crc(0, e, offsetof(struct blklog_entry, crc));
	put(l, e, sizeof(*e));
	each_piece(iov, niov, skip, data_len, put_piece, l);
	l->backlog += sizeof(*e) + data_len;
	l->entries++;
	l->bytes += sizeof(*e) + data_len;
	if (!l->writing && !l->quiesced)
		write_more(l);
	return seq;
}

void blk_log_quiesce(struct blk_log *l)
{
	l->quiesced = true;
}

void blk_log_change(struct blk_log *l, uint16_t type, bool durable, uint64_t req, uint64_t offset,
		    uint64_t len, const struct iovec *iov, unsigned int niov, uint64_t skip)
{
	/* A write's data goes in pieces, so no single entry needs a huge buffer to read back. */
	uint64_t done = 0;
	do {
		uint64_t piece = len - done;
		if (type == BLKLOG_WRITE && piece > BLKLOG_MAX_DATA)
			piece = BLKLOG_MAX_DATA;
		struct blklog_entry e = {.type = type, .flags = durable ? BLKLOG_F_DURABLE : 0,
					 .req = req, .offset = offset + done, .len = piece};
		blk_log_append(l, &e, iov, niov, skip + done,
			       type == BLKLOG_WRITE ? (uint32_t)piece : 0);
		done += piece;
	} while (done < len);
}

void blk_log_sync(struct blk_log *l, uint64_t covers)
{
	struct blklog_entry e = {.type = BLKLOG_SYNC, .covers = covers};
	blk_log_append(l, &e, NULL, 0, 0, 0);
}

void blk_log_promise(struct blk_log *l, uint32_t reason, bool all, uint64_t covers, uint64_t req)
{
	struct blklog_entry e = {.type = BLKLOG_PROMISE, .flags = all ? BLKLOG_F_ALL : 0,
				 .reason = reason, .covers = all ? covers : 0, .req = req};
	blk_log_append(l, &e, NULL, 0, 0, 0);
}

bool blk_log_mark(struct blk_log *l, const char *text, size_t len)
{
	if (l->quiesced || blk_log_full(l))
		return false;
	struct iovec iov = {.iov_base = (void *)text,
			    .iov_len = len < BLKLOG_MAX_MARK ? len : BLKLOG_MAX_MARK};
	struct blklog_entry e = {.type = BLKLOG_MARK};
	blk_log_append(l, &e, &iov, 1, 0, (uint32_t)iov.iov_len);
	return true;
}

int blk_log_close(struct blk_log *l)
{
	if (l->fd < 0)
		return 0;
	int ret = l->error;
	/* What is left, the write in flight included (rewriting it is harmless). */
	uint64_t off = l->file_off;
	for (struct blk_log_chunk *c = l->head; c && !ret;) {
		uint32_t done = 0;
		while (done < c->used) {
			ssize_t n = pwrite(l->fd, c->data + done, c->used - done, (off_t)(off + done));
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				ret = n < 0 ? -errno : -EIO;
				break;
			}
			done += (uint32_t)n;
		}
		off += c->used;
		c = c->next;
	}
	if (!ret && fdatasync(l->fd) < 0)
		ret = -errno;
	if (ret && !l->error)
		log_err("disk log %s: finishing it failed: %s", l->path, strerror(-ret));
	while (l->head) {
		struct blk_log_chunk *c = l->head;
		l->head = c->next;
		free(c);
	}
	l->tail = NULL;
	close(l->fd);
	l->fd = -1;
	return ret;
}

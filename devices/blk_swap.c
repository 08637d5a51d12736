/*
 * Swapping a running disk's image (blk.h, struct blk_swap): the guest's
 * new requests wait, the ones in flight finish, the old image is flushed,
 * and then the file descriptors change places in one step on the loop.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "devices/blk_internal.h"
#include "vmm/log.h"

uint64_t blk_size(const struct blk *b)
{
	return __atomic_load_n(&b->size, __ATOMIC_ACQUIRE);
}

int blk_swap_check(const struct blk *b, const struct blk *fresh, char *err, size_t errlen)
{
	if (b->block_size % fresh->block_size) {
		snprintf(err, errlen, "the new image needs %u-byte blocks for O_DIRECT, but the guest "
			 "was given %u-byte blocks", fresh->block_size, b->block_size);
		return -EINVAL;
	}
	if (fresh->size % b->block_size) {
		snprintf(err, errlen, "the new image's size, %llu bytes, is not a multiple of the "
			 "disk's %u-byte blocks", (unsigned long long)fresh->size, b->block_size);
		return -EINVAL;
	}
	return 0;
}

void blk_swap_wait(struct blk *b, struct blk_req *r)
{
	struct blk_swap *s = b->swap;
	blk_req_append(&s->waiting, &s->waiting_tail, r);
	s->nwaiting++;
}

/* The swap is over (res 0: done): the waiting requests go on, to whichever image b has now. */
static void finish(struct blk *b, struct blk_swap *s, int res)
{
	b->swap = NULL;
	struct blk_req *list = s->waiting;
	s->waiting = s->waiting_tail = NULL;
	s->nwaiting = 0;
	if (res)
		log_err("disk %s: the new image was not swapped in: %s", b->name, s->msg);
	if (res)
		b->stats.swap_fails++;
	else
		b->stats.swaps++;
	/* Told first, so that a request finishing below sees the new state. */
	s->done(s, res);
	while (list) {
		struct blk_req *next = list->next;
		list->next = NULL;
		blk_submit_now(b, list);
		list = next;
	}
}

static int refuse(struct blk *b, struct blk_swap *s, int res, const char *why)
{
	snprintf(s->msg, sizeof(s->msg), "%s", why);
	finish(b, s, res);
	return res;
}

/* The old image is idle and flushed: the file descriptors change places. */
static void swap_now(struct blk *b, struct blk_swap *s)
{
	struct blk *f = s->fresh;
	int fd = b->fd;
	b->fd = f->fd;
	f->fd = fd;
	char name[sizeof(b->name)];
	memcpy(name, b->name, sizeof(name));
	memcpy(b->name, f->name, sizeof(name));
	memcpy(f->name, name, sizeof(name));
	uint64_t size = b->size;
	__atomic_store_n(&b->size, f->size, __ATOMIC_RELEASE);
	f->size = size;
	b->mem_align = f->mem_align; /* the new file's own: its block divides the guest's */
	/* A new file: nothing of it is cached, nothing has failed. */
	b->dirty_gen = b->flushed_gen = b->flight_gen = b->want_gen = 0;
	b->flush_error = 0;
	log_info("disk %s: now on %s (%llu bytes)", f->name, b->name, (unsigned long long)b->size);
	s->msg[0] = '\0';
	finish(b, s, 0);
}

void blk_swap_step(struct blk *b)
{
	struct blk_swap *s = b->swap;
	/* Not again from inside itself (a flush that completes at once). */
	if (!s || s->stepping)
		return;
	if (b->held) {
		refuse(b, s, -EBUSY, "the disk has writes held for lack of host space (werror=stop); "
		       "free space and send SIGUSR1 first");
		return;
	}
	if (b->inflight > s->nwaiting || b->flush_in_flight)
		return; /* a later completion steps again */
	if (b->flush_error) {
		refuse(b, s, -EIO, "a host flush of the old image failed earlier: what the guest "
		       "wrote to it may be lost, and the guest must still hear so from its flushes");
		return;
	}
	if (!b->policy->no_flush && b->flushed_gen < b->dirty_gen) {
		s->stepping = true;
		blk_flush_kick(b); /* its completion steps again */
		s->stepping = false;
		if (b->flush_in_flight)
			return;
		blk_swap_step(b);
		return;
	}
	swap_now(b, s);
}

void blk_swap_start(struct blk *b, struct blk_swap *s)
{
	s->b = b;
	s->waiting = s->waiting_tail = NULL;
	s->nwaiting = 0;
	s->stepping = false;
	s->msg[0] = '\0';
	if (b->swap) {
		snprintf(s->msg, sizeof(s->msg), "another image is being swapped in");
		b->stats.swap_fails++;
		s->done(s, -EBUSY);
		return;
	}
	b->swap = s;
	if (b->log) {
		refuse(b, s, -EINVAL, "the disk has a write log (log=), which records one image");
		return;
	}
	blk_swap_step(b);
}

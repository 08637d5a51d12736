#include "blklog/promise.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

void blklog_promise_init(struct blklog_promise_check *c)
{
	memset(c, 0, sizeof(*c));
}

void blklog_promise_free(struct blklog_promise_check *c)
{
	free(c->pending);
	c->pending = NULL;
}

static void push(struct blklog_promise_check *c, const struct blklog_entry *e)
{
	if (c->head > 0 && c->head == c->n)
		c->head = c->n = 0; /* empty again: start over at the front */
	if (c->n == c->cap) {
		/* Slide what is left to the front before growing. */
		if (c->head > c->cap / 2) {
			memmove(c->pending, c->pending + c->head, (c->n - c->head) * sizeof(*c->pending));
			c->n -= c->head;
			c->head = 0;
		} else {
			size_t cap = c->cap ? 2 * c->cap : 1024;
			struct blklog_change_ref *p = realloc(c->pending, cap * sizeof(*p));
			if (!p) {
				c->error = -ENOMEM;
				return;
			}
			c->pending = p;
			c->cap = cap;
		}
	}
	c->pending[c->n++] = (struct blklog_change_ref){e->seq, e->req, e->offset, e->len, e->type};
}

static void violation(struct blklog_promise_check *c, const struct blklog_entry *p,
		      const struct blklog_change_ref *ch)
{
	c->violations++;
	if (c->nreported < BLKLOG_REPORTED)
		c->reported[c->nreported++] = (struct blklog_violation){
			p->seq, p->reason, ch->seq, ch->type, ch->offset, ch->len, ch->req};
}

void blklog_promise_feed(struct blklog_promise_check *c, const struct blklog_entry *e)
{
	c->entries++;
	switch (e->type) {
	case BLKLOG_WRITE:
	case BLKLOG_ZERO:
	case BLKLOG_DISCARD:
		c->changes++;
		if (!(e->flags & BLKLOG_F_DURABLE))
			push(c, e);
		break;
	case BLKLOG_SYNC:
		/* Everything before `covers` is on stable storage now. */
		c->syncs++;
		while (c->head < c->n && c->pending[c->head].seq < e->covers)
			c->head++;
		break;
	case BLKLOG_PROMISE: {
		c->promises++;
		uint64_t before = c->violations;
		if (e->flags & BLKLOG_F_ALL) {
			/* Each covered change still pending is lost; report it once. */
			while (c->head < c->n && c->pending[c->head].seq < e->covers)
				violation(c, e, &c->pending[c->head++]);
		} else {
			/* One request's changes (a FUA write): wherever they are in the queue. */
			size_t keep = c->head;
			for (size_t i = c->head; i < c->n; i++) {
				if (c->pending[i].req == e->req)
					violation(c, e, &c->pending[i]);
				else
					c->pending[keep++] = c->pending[i];
			}
			c->n = keep;
		}
		if (c->violations > before)
			c->broken_promises++;
		break;
	}
	case BLKLOG_MARK:
		c->marks++;
		break;
	default:
		break;
	}
}

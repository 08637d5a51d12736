/*
 * What blk.c shares with blk_swap.c and nothing else: the backend's own
 * steps, loop thread only.
 */
#ifndef KESTREL_BLK_INTERNAL_H
#define KESTREL_BLK_INTERNAL_H

#include "devices/blk.h"

/* Appends r to the singly linked queue head..tail (oldest first). */
static inline void blk_req_append(struct blk_req **head, struct blk_req **tail, struct blk_req *r)
{
	r->next = NULL;
	if (*tail)
		(*tail)->next = r;
	else
		*head = r;
	*tail = r;
}

/* Issues r now (blk_submit has counted it in flight). */
void blk_submit_now(struct blk *b, struct blk_req *r);
/* A host flush of everything completed so far, with no request waiting for it. */
void blk_flush_kick(struct blk *b);

/* A swap is under way: r waits for it. */
void blk_swap_wait(struct blk *b, struct blk_req *r);
/* A request finished or a host flush ended during a swap: the swap may go on. */
void blk_swap_step(struct blk *b);

#endif

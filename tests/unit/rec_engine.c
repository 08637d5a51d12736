#include "tests/unit/rec_engine.h"

#include <criterion/criterion.h>
#include <string.h>

#include "vmm/container_of.h"

static void rec_submit(struct blk_engine *e, const struct blk_io *io)
{
	struct rec_engine *r = container_of(e, struct rec_engine, e);
	cr_assert_lt(r->n, REC_MAX);
	r->io[r->n++] = *io;
}

void rec_engine_init(struct rec_engine *r)
{
	memset(r, 0, sizeof(*r));
	r->e.submit = rec_submit;
}

void rec_engine_complete(struct rec_engine *r, unsigned k, int res)
{
	cr_assert_lt(k, r->n);
	r->io[k].op->cb(r->io[k].op, res);
}

/*
 * A block engine for unit tests: it records every host operation the
 * backend asks for, and the test completes each one with any result.
 */
#ifndef KESTREL_TEST_REC_ENGINE_H
#define KESTREL_TEST_REC_ENGINE_H

#include "devices/blk.h"

#define REC_MAX 64

struct rec_engine {
	struct blk_engine e;
	struct blk_io io[REC_MAX];
	unsigned n;
};

void rec_engine_init(struct rec_engine *r);
/* Completes the k-th recorded operation with res (as io_uring would). */
void rec_engine_complete(struct rec_engine *r, unsigned k, int res);

#endif

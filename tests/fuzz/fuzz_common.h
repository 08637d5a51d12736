/*
 * Shared fakes for the fuzz targets (no Criterion: a failed check aborts,
 * which libFuzzer reports as a crash with the input that caused it):
 *
 *  - guarded guest RAM: inaccessible pages on both sides, so a device that
 *    strays outside guest memory faults at once;
 *  - a block engine that checks every host I/O the backend asks for
 *    (buffers inside guest RAM or one aligned bounce chunk, lengths adding
 *    up, inside the disk, O_DIRECT alignment) and completes them in any
 *    order with any result (full, short, EAGAIN, EINTR, EIO, ENOSPC);
 *  - an input reader that turns the fuzzer's bytes into choices.
 *
 * One thread: the fuzz target plays both the guest and the loop.
 */
#ifndef KESTREL_FUZZ_COMMON_H
#define KESTREL_FUZZ_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/blk.h"
#include "vmm/guest_mem.h"
#include "vmm/loop.h"

#define FUZZ_CHECK(cond)                                                                   \
	do {                                                                                \
		if (!(cond))                                                                \
			fuzz_fail(__FILE__, __LINE__, #cond);                               \
	} while (0)
__attribute__((noreturn)) void fuzz_fail(const char *file, int line, const char *what);

/* The fuzzer's bytes, consumed front to back; past the end every read is 0. */
struct fuzz_input {
	const uint8_t *p;
	size_t left;
};
uint8_t fuzz_u8(struct fuzz_input *in);
uint16_t fuzz_u16(struct fuzz_input *in);
uint32_t fuzz_u32(struct fuzz_input *in);
uint64_t fuzz_u64(struct fuzz_input *in);
bool fuzz_done(const struct fuzz_input *in);

/*
 * What every device target shares across inputs, made once: a loop that is
 * never started (fuzz_loop_run plays it), an interrupt eventfd, and guest
 * RAM of FUZZ_RAM bytes between guard regions, cleared for every input.
 */
#define FUZZ_RAM (128u << 10)
struct fuzz_env {
	struct loop loop;
	int irq_fd;
	struct guest_mem gm;
	uint8_t *mem;
	/* The host gives disk (arg) a new image, as PATCH /drives does; NULL: not this target. */
	void (*swap_image)(uint8_t arg);
};
struct fuzz_env *fuzz_env(void);

/* A swap of a disk's image (devices/blk.h); done clears busy. */
struct fuzz_swap {
	struct blk fresh;
	struct blk_swap bs;
	bool busy;
};
/* Starts one unless one runs: a new image of a size from arg. */
void fuzz_swap_start(struct fuzz_swap *s, struct blk *b, uint8_t arg,
		     void (*done)(struct blk_swap *bs, int res));

/* Guest RAM of `size` bytes at guest physical 0 between guard regions. */
uint8_t *fuzz_guest_map(struct guest_mem *gm, size_t size);
void fuzz_guest_unmap(uint8_t *ram, size_t size);

#define FUZZ_MAX_PENDING 1024
#define FUZZ_MAX_DISKS 4
#define FUZZ_FIRST_FD 1000 /* the disks' (fake) file descriptors: FUZZ_FIRST_FD + i */

struct fuzz_engine {
	struct blk_engine e;
	const struct guest_mem *gm;
	const struct blk *blk; /* for the disk size and the O_DIRECT alignment */
	const struct blk *disks[FUZZ_MAX_DISKS]; /* each disk, found by its fd */
	unsigned int ndisks;
	struct blk_io pending[FUZZ_MAX_PENDING];
	unsigned npending;
	uint64_t ios;
};

void fuzz_engine_init(struct fuzz_engine *f, const struct guest_mem *gm, const struct blk *b);
/* Completes pending operation (choice % npending) with a result picked by `how`. */
void fuzz_engine_complete_one(struct fuzz_engine *f, unsigned choice, uint8_t how);
/* Completes everything, successfully, until nothing is pending (bounded). */
void fuzz_engine_drain(struct fuzz_engine *f);

/* A vm_ctl whose stopping() is always true: a device never waits for the loop. */
extern struct vm_ctl fuzz_ctl;

/*
 * n alike disks of 8 MiB on env's loop, all served by one checking engine
 * (alike, so it knows every disk's limits), from a setup byte: the cache
 * policy is setup % BLK_CACHE_COUNT, bit 3 read-only, bit 4 O_DIRECT with
 * (bit 5) 4096- or 512-byte blocks; bits 6-7 are the caller's.
 */
void fuzz_disks_init(struct fuzz_env *env, struct blk *blk, unsigned int n, uint8_t setup,
		     struct fuzz_engine *eng);

/* Runs what was handed to the loop (loop_call) and deferred; aborts on a livelock. */
void fuzz_loop_run(struct loop *l);

/* The backend after an input: nothing in flight, no bounce memory, the budget kept. */
void fuzz_check_blk_idle(const struct blk *b);

#endif

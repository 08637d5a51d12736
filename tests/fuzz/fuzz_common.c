#include "tests/fuzz/fuzz_common.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>

#include "vmm/container_of.h"

#define GUARD 65536

void fuzz_fail(const char *file, int line, const char *what)
{
	fprintf(stderr, "fuzz: %s:%d: check failed: %s\n", file, line, what);
	abort();
}

uint8_t fuzz_u8(struct fuzz_input *in)
{
	if (!in->left)
		return 0;
	in->left--;
	return *in->p++;
}

uint16_t fuzz_u16(struct fuzz_input *in)
{
	return (uint16_t)(fuzz_u8(in) | fuzz_u8(in) << 8);
}

uint32_t fuzz_u32(struct fuzz_input *in)
{
	return (uint32_t)fuzz_u16(in) | (uint32_t)fuzz_u16(in) << 16;
}

uint64_t fuzz_u64(struct fuzz_input *in)
{
	return (uint64_t)fuzz_u32(in) | (uint64_t)fuzz_u32(in) << 32;
}

bool fuzz_done(const struct fuzz_input *in)
{
	return in->left == 0;
}

uint8_t *fuzz_guest_map(struct guest_mem *gm, size_t size)
{
	uint8_t *m = mmap(NULL, size + 2 * GUARD, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	FUZZ_CHECK(m != MAP_FAILED);
	uint8_t *ram = m + GUARD;
	FUZZ_CHECK(mprotect(ram, size, PROT_READ | PROT_WRITE) == 0);
	memset(gm, 0, sizeof(*gm));
	FUZZ_CHECK(gm_add_region(gm, 0, size, ram) == 0);
	return ram;
}

void fuzz_guest_unmap(uint8_t *ram, size_t size)
{
	munmap(ram - GUARD, size + 2 * GUARD);
}

struct fuzz_env *fuzz_env(void)
{
	static struct fuzz_env env;
	static bool ready;
	if (!ready) {
		FUZZ_CHECK(loop_init(&env.loop, 8) == 0);
		env.loop.poll_ns = 0;
		env.irq_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		FUZZ_CHECK(env.irq_fd >= 0);
		/* Mapped once and cleared for every input: mapping is slow. */
		env.mem = fuzz_guest_map(&env.gm, FUZZ_RAM);
		ready = true;
	}
	memset(env.mem, 0, FUZZ_RAM);
	return &env;
}

static bool always_stopping(struct vm_ctl *c)
{
	(void)c;
	return true;
}
struct vm_ctl fuzz_ctl = {.stopping = always_stopping};

void fuzz_disks_init(struct fuzz_env *env, struct blk *blk, unsigned int n, uint8_t setup,
		     struct fuzz_engine *eng)
{
	for (unsigned i = 0; i < n; i++) {
		blk_init_fake(&blk[i], FUZZ_FIRST_FD + (int)i, 8ull << 20,
			      (enum blk_cache)(setup % BLK_CACHE_COUNT), setup & 0x08);
		if (setup & 0x10)
			blk[i].mem_align = blk[i].block_size = (setup & 0x20) ? 4096 : 512;
	}
	fuzz_engine_init(eng, &env->gm, &blk[0]);
	for (unsigned i = 0; i < n && i < FUZZ_MAX_DISKS; i++) {
		blk_attach(&blk[i], &env->loop, &eng->e);
		eng->disks[eng->ndisks++] = &blk[i];
	}
}

/* Whether [p, p+len) lies inside one region of guest RAM. */
static bool in_guest(const struct guest_mem *gm, const void *p, size_t len)
{
	const uint8_t *b = p;
	for (unsigned i = 0; i < gm->nregions; i++) {
		const uint8_t *host = gm->regions[i].host;
		if (b >= host && len <= gm->regions[i].size && (size_t)(b - host) <= gm->regions[i].size - len)
			return true;
	}
	return false;
}

static void check_io(const struct fuzz_engine *f, const struct blk_io *io)
{
	/* The disk the operation is for (its fd: disks' sizes differ once one is swapped). */
	const struct blk *b = f->blk;
	for (unsigned i = 0; i < f->ndisks; i++)
		if (f->disks[i]->fd == io->fd)
			b = f->disks[i];
	FUZZ_CHECK(io->op && io->op->cb);
	switch (io->kind) {
	case BLK_IO_READV:
	case BLK_IO_WRITEV: {
		FUZZ_CHECK(io->niov > 0);
		uint64_t total = 0;
		for (unsigned i = 0; i < io->niov; i++) {
			const struct iovec *v = &io->iov[i];
			FUZZ_CHECK(v->iov_len > 0);
			/* The guest's own buffers, or one bounce chunk of the backend's. */
			bool bounce = io->niov == 1 && v->iov_len <= BLK_BOUNCE_CHUNK &&
				      !in_guest(f->gm, v->iov_base, v->iov_len);
			FUZZ_CHECK(bounce || in_guest(f->gm, v->iov_base, v->iov_len));
			if (b->mem_align > 1)
				FUZZ_CHECK((((uintptr_t)v->iov_base | v->iov_len) & (b->mem_align - 1)) == 0);
			total += v->iov_len;
		}
		FUZZ_CHECK(total == io->len);
		FUZZ_CHECK(io->offset <= b->size && io->len <= b->size - io->offset);
		FUZZ_CHECK(((io->offset | io->len) & (b->block_size - 1)) == 0);
		FUZZ_CHECK(io->kind == BLK_IO_WRITEV || !(io->rw_flags & RWF_DSYNC));
		FUZZ_CHECK(!b->readonly || io->kind == BLK_IO_READV);
		break;
	}
	case BLK_IO_FALLOCATE:
		FUZZ_CHECK(!b->readonly);
		FUZZ_CHECK(io->len > 0 && io->offset <= b->size && io->len <= b->size - io->offset);
		break;
	case BLK_IO_FDATASYNC:
		FUZZ_CHECK(!b->policy->no_flush);
		break;
	}
	/* The bound the README states: a disk never holds more bounce memory than this. */
	FUZZ_CHECK(b->bounce_bytes <= BLK_BOUNCE_BUDGET);
}

static void fuzz_submit(struct blk_engine *e, const struct blk_io *io)
{
	struct fuzz_engine *f = container_of(e, struct fuzz_engine, e);
	check_io(f, io);
	/* The backend has at most one host operation per request, plus its flush. */
	FUZZ_CHECK(f->npending < FUZZ_MAX_PENDING);
	f->pending[f->npending++] = *io;
	f->ios++;
}

void fuzz_engine_init(struct fuzz_engine *f, const struct guest_mem *gm, const struct blk *b)
{
	memset(f, 0, sizeof(*f));
	f->e.submit = fuzz_submit;
	f->gm = gm;
	f->blk = b;
}

static int result_for(const struct blk_io *io, uint8_t how)
{
	bool rw = io->kind == BLK_IO_READV || io->kind == BLK_IO_WRITEV;
	switch (how % 8) {
	case 0: case 1: case 2:
		return rw ? (int)io->len : 0;
	case 3: /* short, by whole blocks as the kernel does on regular files */
		return rw ? (int)(io->len > 512 ? io->len / 2 / 512 * 512 : io->len) : 0;
	case 4: return -EAGAIN;
	case 5: return -EINTR;
	case 6: return -EIO;
	default: return -ENOSPC;
	}
}

void fuzz_engine_complete_one(struct fuzz_engine *f, unsigned choice, uint8_t how)
{
	if (!f->npending)
		return;
	unsigned k = choice % f->npending;
	struct blk_io io = f->pending[k];
	f->pending[k] = f->pending[--f->npending];
	int res = result_for(&io, how);
	if (res > 0 && (io.kind == BLK_IO_READV)) {
		/* A read fills the buffers, as the host would. */
		for (unsigned i = 0; i < io.niov; i++)
			memset(io.iov[i].iov_base, 0xA5, io.iov[i].iov_len);
	}
	io.op->cb(io.op, res);
}

void fuzz_engine_drain(struct fuzz_engine *f)
{
	/* Every completion may start more work (the rest of a short transfer, a flush). */
	for (unsigned rounds = 0; f->npending; rounds++) {
		FUZZ_CHECK(rounds < 1000000);
		fuzz_engine_complete_one(f, 0, 0);
	}
}

void fuzz_loop_run(struct loop *l)
{
	/* Work that never runs out is a task that keeps queueing itself: a livelock. */
	FUZZ_CHECK(loop_run_pending(l, 100000));
}

void fuzz_check_blk_idle(const struct blk *b)
{
	FUZZ_CHECK(blk_inflight(b) == 0);
	FUZZ_CHECK(b->bounce_bytes == 0);
	FUZZ_CHECK(b->stats.bounce_peak <= BLK_BOUNCE_BUDGET);
	FUZZ_CHECK(!b->flush_in_flight);
	FUZZ_CHECK(!b->swap);
}

void fuzz_swap_start(struct fuzz_swap *s, struct blk *b, uint8_t arg, void (*done)(struct blk_swap *, int))
{
	if (s->busy)
		return;
	/* 1..16 MiB in the disk's own blocks, or empty (a virtio-blk placeholder's size). */
	uint64_t size = (arg & 0x80) ? 0 : ((uint64_t)(arg % 16) + 1) << 20;
	/* The same fd number: after the swap the engine still knows whose I/O it is. */
	blk_init_fake(&s->fresh, b->fd, size, b->mode, b->readonly);
	s->fresh.block_size = s->fresh.mem_align = b->block_size;
	memset(&s->bs, 0, sizeof(s->bs));
	s->bs.fresh = &s->fresh;
	s->bs.done = done;
	s->busy = true;
	blk_swap_start(b, &s->bs);
}

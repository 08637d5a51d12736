/*
 * virtio-mmio + virtio-scsi (control, event and request queues) + the SCSI
 * disk + the block backend, driven by a hostile guest
 * (tests/fuzz/fuzz_virtio.h): any request header, LUN, CDB and data
 * buffers, task management functions (LUN reset, abort) with commands in
 * flight, resets, and host I/O completing in any order with any result.
 * At the end every command and TMF has finished and every slot is back.
 */
#include "devices/virtio_scsi.h"
#include "tests/fuzz/fuzz_virtio.h"

#define DISKS 2

static bool stop_always(struct vm_ctl *c) { return true; }
static struct vm_ctl ctl = {.stopping = stop_always};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_input in = {data, size};
	struct fuzz_env *env = fuzz_env();

	/* Setup byte: cache policy, read-only, O_DIRECT (512 or 4096), request queues. */
	uint8_t setup = fuzz_u8(&in);
	static struct blk blk[DISKS];
	struct blk *disks[DISKS];
	for (unsigned i = 0; i < DISKS; i++) {
		/* Alike, so one checking engine knows both disks' limits. */
		blk_init_fake(&blk[i], -1, 8ull << 20, (enum blk_cache)(setup % BLK_CACHE_COUNT),
			      setup & 0x08);
		if (setup & 0x10)
			blk[i].mem_align = blk[i].block_size = (setup & 0x20) ? 4096 : 512;
		disks[i] = &blk[i];
	}
	static struct fuzz_engine eng;
	fuzz_engine_init(&eng, &env->gm, &blk[0]);
	for (unsigned i = 0; i < DISKS; i++)
		blk_attach(&blk[i], &env->loop, &eng.e);
	unsigned nreq = 1 + (setup >> 6) % 2;
	unsigned nqueues = VSCSI_FIRST_REQUEST_QUEUE + nreq;
	static struct vscsi vs;
	FUZZ_CHECK(vscsi_init(&vs, disks, DISKS, -1, 0, nreq, env->irq_fd, &env->loop, &env->gm,
			      &ctl) == 0);
	if (!(fuzz_u8(&in) & 0x80))
		fuzz_virtio_bring_up(&vs.mmio, nqueues);

	fuzz_virtio_play(env, &vs.mmio, nqueues, &eng, &in);
	for (unsigned i = 0; i < DISKS; i++) {
		fuzz_check_blk_idle(&blk[i]);
		FUZZ_CHECK(vs.targets[i].inflight == 0);
	}
	FUZZ_CHECK(!vs.tmf.active);
	FUZZ_CHECK(vs.queues[0].nfree == VQ_MAX_SIZE);
	for (unsigned q = VSCSI_FIRST_REQUEST_QUEUE; q < nqueues; q++)
		FUZZ_CHECK(vs.queues[q].nfree == VQ_MAX_SIZE);
	vscsi_destroy(&vs);
	return 0;
}

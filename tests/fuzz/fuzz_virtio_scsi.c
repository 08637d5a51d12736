/*
 * virtio-mmio + virtio-scsi (control, event and request queues) + the SCSI
 * disk + the block backend, driven by a hostile guest
 * (tests/fuzz/fuzz_virtio.h): any request header, LUN, CDB and data
 * buffers, task management functions (LUN reset, abort) with commands in
 * flight, resets, host I/O completing in any order with any result, and
 * a disk's image swapped (PATCH /drives: unit attention and an event).
 * At the end every command and TMF has finished and every slot is back.
 */
#include "devices/virtio_scsi.h"
#include "tests/fuzz/fuzz_virtio.h"

#define DISKS 2

static struct blk blk[DISKS];
static struct vscsi vs;
static struct fuzz_swap swap;
static unsigned swap_target;

static void swapped(struct blk_swap *bs, int res)
{
	(void)bs;
	swap.busy = false;
	if (res == 0)
		vscsi_capacity_changed(&vs, swap_target);
}

static void swap_image(uint8_t arg)
{
	if (swap.busy)
		return;
	swap_target = arg & 1;
	fuzz_swap_start(&swap, &blk[swap_target], (uint8_t)(arg & 0x7F), swapped); /* SCSI: never empty */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_input in = {data, size};
	struct fuzz_env *env = fuzz_env();

	/* Setup byte: cache policy, read-only, O_DIRECT (512 or 4096), request queues. */
	uint8_t setup = fuzz_u8(&in);
	static struct fuzz_engine eng;
	fuzz_disks_init(env, blk, DISKS, setup, &eng);
	struct blk *disks[DISKS] = {&blk[0], &blk[1]};
	unsigned nreq = 1 + (setup >> 6) % 2;
	unsigned nqueues = VSCSI_FIRST_REQUEST_QUEUE + nreq;
	env->swap_image = swap_image;
	swap.busy = false;
	FUZZ_CHECK(vscsi_init(&vs, disks, DISKS, -1, 0, nreq, env->irq_fd, &env->loop, &env->gm,
			      &fuzz_ctl) == 0);
	if (!(fuzz_u8(&in) & 0x80))
		fuzz_virtio_bring_up(&vs.mmio, nqueues);

	fuzz_virtio_play(env, &vs.mmio, nqueues, &eng, &in);
	for (unsigned i = 0; i < DISKS; i++) {
		fuzz_check_blk_idle(&blk[i]);
		FUZZ_CHECK(vs.targets[i].inflight == 0);
	}
	FUZZ_CHECK(!vs.tmf.active);
	FUZZ_CHECK(!swap.busy);
	FUZZ_CHECK(vs.queues[0].nfree == VQ_MAX_SIZE);
	for (unsigned q = VSCSI_FIRST_REQUEST_QUEUE; q < nqueues; q++)
		FUZZ_CHECK(vs.queues[q].nfree == VQ_MAX_SIZE);
	vscsi_destroy(&vs);
	return 0;
}

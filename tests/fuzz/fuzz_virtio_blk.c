/*
 * virtio-mmio + virtqueue + virtio-blk + the block backend, driven by a
 * hostile guest (tests/fuzz/fuzz_virtio.h): descriptors, rings, headers,
 * registers (including resets and the config's writeback byte),
 * notifications, host I/O completing in any order with any result, and
 * the image swapped (PATCH /drives) with requests in flight. At the end every request must have finished and every slot come back.
 */
#include "devices/virtio_blk.h"
#include "tests/fuzz/fuzz_virtio.h"

static struct blk blk;
static struct vblk vb;
static struct fuzz_swap swap;

static void swapped(struct blk_swap *bs, int res)
{
	(void)bs;
	swap.busy = false;
	if (res == 0)
		vmmio_config_changed(&vb.mmio);
}

static void swap_image(uint8_t arg)
{
	fuzz_swap_start(&swap, &blk, arg, swapped);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_input in = {data, size};
	struct fuzz_env *env = fuzz_env();

	/* Setup byte: cache policy, read-only, O_DIRECT (512 or 4096), queues. */
	uint8_t setup = fuzz_u8(&in);
	static struct fuzz_engine eng;
	fuzz_disks_init(env, &blk, 1, setup, &eng);
	unsigned nqueues = 1 + (setup >> 6) % 2;
	env->swap_image = swap_image;
	swap.busy = false;
	FUZZ_CHECK(vblk_init(&vb, &blk, -1, 0, nqueues, env->irq_fd, &env->loop, &env->gm, &fuzz_ctl) == 0);
	if (!(fuzz_u8(&in) & 0x80))
		fuzz_virtio_bring_up(&vb.mmio, nqueues);

	fuzz_virtio_play(env, &vb.mmio, nqueues, &eng, &in);
	fuzz_check_blk_idle(&blk);
	FUZZ_CHECK(!swap.busy);
	for (unsigned q = 0; q < nqueues; q++)
		FUZZ_CHECK(vb.queues[q].nfree == VQ_MAX_SIZE);
	vblk_destroy(&vb);
	return 0;
}

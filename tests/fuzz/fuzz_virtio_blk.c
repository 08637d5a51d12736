/*
 * virtio-mmio + virtqueue + virtio-blk + the block backend, driven by a
 * hostile guest: the input writes guest memory (descriptors, rings,
 * headers), registers (including resets and the config's writeback byte),
 * notifies queues, and completes host I/O in any order with any result.
 * At the end every request must have finished and every slot come back.
 */
#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>

#include "devices/virtio_blk.h"
#include "tests/fuzz/fuzz_common.h"

#define RAM (128u << 10)
#define QSIZE 16u
#define DESC 0x1000u
#define AVAIL 0x2000u
#define USED 0x3000u

static struct loop loop;
static bool loop_ready;
static int irq_fd = -1;
static bool stop_always(struct vm_ctl *c) { return true; }
static struct vm_ctl ctl = {.stopping = stop_always};

static void reg_write(struct vmmio *m, uint64_t off, uint32_t v)
{
	uint8_t b[4];
	memcpy(b, &v, 4);
	vmmio_bus_ops.write(m, off, b, 4);
}

static void bring_up(struct vmmio *m, unsigned nqueues)
{
	reg_write(m, VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	reg_write(m, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	reg_write(m, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)m->device_features);
	reg_write(m, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	reg_write(m, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(m->device_features >> 32) | 1u);
	reg_write(m, VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
						 VIRTIO_CONFIG_S_FEATURES_OK);
	for (unsigned q = 0; q < nqueues; q++) {
		uint32_t base = q * 0x4000u;
		reg_write(m, VIRTIO_MMIO_QUEUE_SEL, q);
		reg_write(m, VIRTIO_MMIO_QUEUE_NUM, QSIZE);
		reg_write(m, VIRTIO_MMIO_QUEUE_DESC_LOW, base + DESC);
		reg_write(m, VIRTIO_MMIO_QUEUE_AVAIL_LOW, base + AVAIL);
		reg_write(m, VIRTIO_MMIO_QUEUE_USED_LOW, base + USED);
		reg_write(m, VIRTIO_MMIO_QUEUE_READY, 1);
	}
	reg_write(m, VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
						 VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_input in = {data, size};
	if (!loop_ready) {
		FUZZ_CHECK(loop_init(&loop, 8) == 0);
		loop.poll_ns = 0;
		irq_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		FUZZ_CHECK(irq_fd >= 0);
		loop_ready = true;
	}
	/* Guest RAM is mapped once and cleared for every input (mapping it is slow). */
	static struct guest_mem gm;
	static uint8_t *mem;
	if (!mem)
		mem = fuzz_guest_map(&gm, RAM);
	memset(mem, 0, RAM);

	uint8_t setup = fuzz_u8(&in);
	static struct blk blk;
	blk_init_fake(&blk, -1, 8ull << 20, (enum blk_cache)(setup % BLK_CACHE_COUNT), setup & 0x08);
	if (setup & 0x10)
		blk.mem_align = blk.block_size = (setup & 0x20) ? 4096 : 512; /* O_DIRECT */
	static struct fuzz_engine eng;
	fuzz_engine_init(&eng, &gm, &blk);
	blk_attach(&blk, &loop, &eng.e);
	unsigned nqueues = 1 + (setup >> 6) % 2;
	static struct vblk vb;
	FUZZ_CHECK(vblk_init(&vb, &blk, -1, 0, nqueues, irq_fd, &loop, &gm, &ctl) == 0);
	if (!(fuzz_u8(&in) & 0x80))
		bring_up(&vb.mmio, nqueues);

	for (unsigned steps = 0; !fuzz_done(&in) && steps < 4096; steps++) {
		switch (fuzz_u8(&in) % 7) {
		case 0: { /* the guest writes its memory: rings, descriptors, headers, data */
			uint32_t off = fuzz_u16(&in) % 0x8000u;
			unsigned n = fuzz_u8(&in) % 64;
			for (unsigned i = 0; i < n; i++)
				mem[off + i] = fuzz_u8(&in);
			break;
		}
		case 1: /* a notification */
			vb.mmio.ops->queue_notify(&vb, fuzz_u8(&in) % nqueues);
			break;
		case 2: /* the host finishes an operation */
			fuzz_engine_complete_one(&eng, fuzz_u8(&in), fuzz_u8(&in));
			break;
		case 3: { /* a register or config write (status, resets, queue setup, wce) */
			uint8_t sel = fuzz_u8(&in);
			bool config = sel == 0xFF;
			uint32_t off = config ? 0x100u + fuzz_u8(&in) % 64 : sel & 0xFCu;
			uint32_t v = fuzz_u32(&in);
			unsigned len = config ? 1u << (fuzz_u8(&in) % 3) : 4;
			uint8_t b[4];
			memcpy(b, &v, 4);
			vmmio_bus_ops.write(&vb.mmio, off, b, len);
			break;
		}
		case 4: { /* a register read */
			uint8_t b[4];
			vmmio_bus_ops.read(&vb.mmio, fuzz_u8(&in) & 0xFC, b, 4);
			break;
		}
		case 5: /* the loop runs what was handed to it */
			fuzz_loop_run(&loop);
			break;
		default: /* the loop polls */
			if (vb.mmio.poller.poll)
				vb.mmio.poller.poll(&vb.mmio.poller);
			break;
		}
	}
	/* Let everything finish: every request completes and hands its slot back. */
	for (unsigned round = 0; round < 64 && (eng.npending || loop.tasks || loop.deferred); round++) {
		fuzz_engine_drain(&eng);
		fuzz_loop_run(&loop);
	}
	FUZZ_CHECK(eng.npending == 0);
	fuzz_check_blk_idle(&blk);
	FUZZ_CHECK(vb.mmio.inflight == 0);
	for (unsigned q = 0; q < nqueues; q++)
		FUZZ_CHECK(vb.queues[q].nfree == VQ_MAX_SIZE);
	vblk_destroy(&vb);
	return 0;
}

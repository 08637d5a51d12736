#include "tests/fuzz/fuzz_virtio.h"

#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include <string.h>

static void reg_write(struct vmmio *m, uint64_t off, uint32_t v)
{
	uint8_t b[4];
	memcpy(b, &v, 4);
	vmmio_bus_ops.write(m, off, b, 4);
}

void fuzz_virtio_bring_up(struct vmmio *m, unsigned int nqueues)
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
		reg_write(m, VIRTIO_MMIO_QUEUE_NUM, FUZZ_VIRTIO_QSIZE);
		reg_write(m, VIRTIO_MMIO_QUEUE_DESC_LOW, base + 0x1000);
		reg_write(m, VIRTIO_MMIO_QUEUE_AVAIL_LOW, base + 0x2000);
		reg_write(m, VIRTIO_MMIO_QUEUE_USED_LOW, base + 0x3000);
		reg_write(m, VIRTIO_MMIO_QUEUE_READY, 1);
	}
	reg_write(m, VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
						 VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK);
}

void fuzz_virtio_play(struct fuzz_env *env, struct vmmio *m, unsigned int nqueues,
		      struct fuzz_engine *eng, struct fuzz_input *in)
{
	struct loop *loop = &env->loop;
	for (unsigned steps = 0; !fuzz_done(in) && steps < 4096; steps++) {
		switch (fuzz_u8(in) % 8) {
		case 0: { /* the guest writes its memory: rings, descriptors, headers, data */
			uint32_t off = fuzz_u16(in) % (FUZZ_RAM - 64);
			unsigned n = fuzz_u8(in) % 64;
			for (unsigned i = 0; i < n; i++)
				env->mem[off + i] = fuzz_u8(in);
			break;
		}
		case 1: /* a notification */
			m->ops->queue_notify(m->dev, fuzz_u8(in) % nqueues);
			break;
		case 2: /* the host finishes an operation */
			fuzz_engine_complete_one(eng, fuzz_u8(in), fuzz_u8(in));
			break;
		case 3: { /* a register or config write (status, resets, queue setup, config) */
			uint8_t sel = fuzz_u8(in);
			bool config = sel == 0xFF;
			uint32_t off = config ? 0x100u + fuzz_u8(in) % 64 : sel & 0xFCu;
			uint32_t v = fuzz_u32(in);
			unsigned len = config ? 1u << (fuzz_u8(in) % 3) : 4;
			uint8_t b[4];
			memcpy(b, &v, 4);
			vmmio_bus_ops.write(m, off, b, len);
			break;
		}
		case 4: { /* a register read */
			uint8_t b[4];
			vmmio_bus_ops.read(m, fuzz_u8(in) & 0xFC, b, 4);
			break;
		}
		case 5: /* the loop runs what was handed to it */
			fuzz_loop_run(loop);
			break;
		case 6: /* the loop polls */
			if (m->poller.poll)
				m->poller.poll(&m->poller);
			break;
		default: { /* the host gives a disk a new image (PATCH /drives) */
			uint8_t arg = fuzz_u8(in);
			if (env->swap_image)
				env->swap_image(arg);
			break;
		}
		}
	}
	/* Let everything finish: every request completes and hands its slot back. */
	for (unsigned round = 0; round < 64 && (eng->npending || loop->tasks || loop->deferred); round++) {
		fuzz_engine_drain(eng);
		fuzz_loop_run(loop);
	}
	FUZZ_CHECK(eng->npending == 0);
	FUZZ_CHECK(m->inflight == 0);
}

#include "tests/stress/virtio_driver.h"

#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>

void vdrv_w32(struct vmmio *m, uint64_t off, uint32_t v)
{
	uint8_t b[4];
	memcpy(b, &v, 4);
	vmmio_bus_ops.write(m, off, b, 4);
}

uint32_t vdrv_r32(struct vmmio *m, uint64_t off)
{
	uint8_t b[4];
	vmmio_bus_ops.read(m, off, b, 4);
	uint32_t v;
	memcpy(&v, b, 4);
	return v;
}

void vdrv_w8(struct vmmio *m, uint64_t off, uint8_t v)
{
	vmmio_bus_ops.write(m, off, &v, 1);
}

void stress_virtio_start(struct vmmio *const *m, unsigned int n, struct loop *loop)
{
	for (unsigned d = 0; d < n; d++) {
		for (unsigned q = 0; q < m[d]->nqueues; q++)
			m[d]->notify[q].fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		vmmio_start(m[d]);
	}
	if (loop_start(loop)) {
		fprintf(stderr, "stress: loop_start failed\n");
		exit(1);
	}
}

void vdrv_negotiate(struct vmmio *m, uint64_t extra)
{
	uint64_t f = extra | 1ull << VIRTIO_F_VERSION_1;
	vdrv_w32(m, VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	vdrv_w32(m, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	vdrv_w32(m, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)f);
	vdrv_w32(m, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	vdrv_w32(m, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(f >> 32));
	vdrv_w32(m, VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
					   VIRTIO_CONFIG_S_FEATURES_OK);
}

void vdrv_queue(struct vmmio *m, unsigned int q)
{
	vdrv_w32(m, VIRTIO_MMIO_QUEUE_SEL, q);
	vdrv_w32(m, VIRTIO_MMIO_QUEUE_NUM, VDRV_QSIZE);
	vdrv_w32(m, VIRTIO_MMIO_QUEUE_DESC_LOW, VDRV_QBASE(q) + 0x1000);
	vdrv_w32(m, VIRTIO_MMIO_QUEUE_AVAIL_LOW, VDRV_QBASE(q) + 0x2000);
	vdrv_w32(m, VIRTIO_MMIO_QUEUE_USED_LOW, VDRV_QBASE(q) + 0x3000);
	vdrv_w32(m, VIRTIO_MMIO_QUEUE_READY, 1);
}

void vdrv_driver_ok(struct vmmio *m)
{
	vdrv_w32(m, VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
					   VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK);
}

void vdrv_post(uint8_t *ram, unsigned int q, uint16_t avail_idx, const struct vdrv_buf *b,
	       unsigned int n)
{
	uint8_t *base = ram + VDRV_QBASE(q);
	uint16_t slot = avail_idx % VDRV_QSIZE;
	uint16_t head = (uint16_t)((avail_idx % 2) * 8); /* two chains of up to 8 at a time */
	for (unsigned i = 0; i < n; i++) {
		struct {
			uint64_t addr;
			uint32_t len;
			uint16_t flags, next;
		} d = {b[i].addr, b[i].len,
		       (uint16_t)((i + 1 < n ? 1 : 0) | (b[i].writable ? 2 : 0)),
		       (uint16_t)(head + i + 1)};
		memcpy(base + 0x1000 + 16u * (head + i), &d, sizeof(d));
	}
	memcpy(base + 0x2000 + 4 + 2u * slot, &head, 2);
	__atomic_store_n((uint16_t *)(base + 0x2000 + 2), (uint16_t)(avail_idx + 1), __ATOMIC_RELEASE);
}

uint16_t vdrv_used_idx(const uint8_t *ram, unsigned int q)
{
	return __atomic_load_n((const uint16_t *)(ram + VDRV_QBASE(q) + 0x3002), __ATOMIC_ACQUIRE);
}

uint8_t vdrv_blk_write(struct vmmio *m, uint8_t *ram, uint16_t idx, uint64_t sector, uint8_t fill)
{
	struct virtio_blk_outhdr h = {.type = VIRTIO_BLK_T_OUT, .sector = sector};
	memcpy(ram + 0x5000, &h, sizeof(h));
	memset(ram + 0x8000, fill, 4096);
	ram[0x7000] = 0xEE;
	const struct vdrv_buf b[] = {{0x5000, sizeof(h), 0}, {0x8000, 4096, 0}, {0x7000, 1, 1}};
	vdrv_post(ram, 0, idx, b, 3);
	vdrv_w32(m, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	struct timespec pause = {0, 20 * 1000};
	for (unsigned i = 0; i < 250000 && vdrv_used_idx(ram, 0) != (uint16_t)(idx + 1); i++)
		nanosleep(&pause, NULL);
	if (vdrv_used_idx(ram, 0) != (uint16_t)(idx + 1))
		return 0xFF;
	return __atomic_load_n(ram + 0x7000, __ATOMIC_ACQUIRE);
}

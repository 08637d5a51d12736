/*
 * A minimal virtio-mmio driver for the stress tests, writing the device's
 * registers as a vCPU would (through its bus handlers) and building split
 * rings in guest RAM at fixed places: queue q's descriptors at QBASE(q) +
 * 0x1000, avail ring + 0x2000, used ring + 0x3000, 16 entries. Each function
 * is called on one "vCPU" thread at a time per queue.
 */
#ifndef KESTREL_STRESS_VIRTIO_DRIVER_H
#define KESTREL_STRESS_VIRTIO_DRIVER_H

#include <stdint.h>

#include "devices/virtio_mmio.h"

#define VDRV_QBASE(q) (0x10000u * (q))
#define VDRV_QSIZE 16u

void vdrv_w32(struct vmmio *m, uint64_t off, uint32_t v);
uint32_t vdrv_r32(struct vmmio *m, uint64_t off);
void vdrv_w8(struct vmmio *m, uint64_t off, uint8_t v);

/*
 * Main thread: for each of the n devices, notifications as KVM's
 * ioeventfds would deliver them (one eventfd per queue) and its poller;
 * then the loop started.
 */
void stress_virtio_start(struct vmmio *const *m, unsigned int n, struct loop *loop);

/* ACKNOWLEDGE, DRIVER, features (VERSION_1 plus `extra`), FEATURES_OK. */
void vdrv_negotiate(struct vmmio *m, uint64_t extra);
/* Sets up queue q and writes QueueReady. */
void vdrv_queue(struct vmmio *m, unsigned int q);
void vdrv_driver_ok(struct vmmio *m);

/*
 * Puts a chain of n <= 8 descriptors at avail slot `avail_idx` % size and
 * publishes avail->idx = avail_idx + 1. Chains alternate between two
 * groups of 8 descriptors: at most two requests in flight per queue.
 */
struct vdrv_buf {
	uint64_t addr;
	uint32_t len;
	int writable;
};
void vdrv_post(uint8_t *ram, unsigned int q, uint16_t avail_idx, const struct vdrv_buf *b,
	       unsigned int n);
/* used->idx of queue q, read with acquire. */
uint16_t vdrv_used_idx(const uint8_t *ram, unsigned int q);

/*
 * virtio-blk: a 4 KiB write of `fill` at `sector` as avail entry idx of
 * queue 0 (header at 0x5000, data at 0x8000, status at 0x7000), notified;
 * waits up to 5 s for it. Returns its status byte, or 0xFF on a timeout.
 */
uint8_t vdrv_blk_write(struct vmmio *m, uint8_t *ram, uint16_t idx, uint64_t sector, uint8_t fill);

#endif

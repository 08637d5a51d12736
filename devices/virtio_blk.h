/*
 * virtio-blk (device ID 2) on the shared block backend: request parsing,
 * config space, and the guest's write-cache switch (CONFIG_WCE). FACTS §5.
 *
 * Threads: config space on vCPU threads (under the transport's lock);
 * requests on the loop thread.
 */
#ifndef KESTREL_VIRTIO_BLK_H
#define KESTREL_VIRTIO_BLK_H

#include <stdint.h>

#include "devices/blk.h"
#include "devices/virtio_mmio.h"

struct vblk_req;

struct vblk_queue {
	struct vblk_req *reqs;    /* VQ_MAX_SIZE of them: at most that many in flight */
	uint16_t free[VQ_MAX_SIZE];
	unsigned int nfree;
};

struct vblk {
	struct vmmio mmio;
	struct blk *blk;
	unsigned int nqueues;
	struct vblk_queue queues[VMMIO_MAX_QUEUES];
	uint8_t writeback; /* config byte 32; under the transport's lock */
	bool config_wce;   /* CONFIG_WCE negotiated */
};

/*
 * A virtio-blk device for `blk` at guest physical `base`, interrupting
 * through irq_fd. Main thread.
 */
__attribute__((warn_unused_result)) int vblk_init(struct vblk *vb, struct blk *blk, int vm_fd,
						  uint64_t base, unsigned int nqueues, int irq_fd,
						  struct loop *loop, const struct guest_mem *gm,
						  struct vm_ctl *ctl);
void vblk_destroy(struct vblk *vb);

/* The features offered for a backend (for tests and logs). */
uint64_t vblk_features(const struct blk *blk, unsigned int nqueues);

#endif

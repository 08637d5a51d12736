/*
 * Split virtqueues (virtio 1.x, FACTS §4.3–4.5), device side. The guest is
 * untrusted: ring addresses are checked once when the queue is enabled,
 * every descriptor is copied out of guest memory once and checked over its
 * whole range, and chain walks are bounded in length and nesting.
 *
 * Loop thread, except vq_enable() (the transport, under its lock).
 */
#ifndef KESTREL_VIRTQUEUE_H
#define KESTREL_VIRTQUEUE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "vmm/guest_mem.h"

#define VQ_MAX_SIZE 256  /* QueueNumMax we offer */
#define VQ_MAX_CHAIN 128 /* descriptors in one chain, indirect entries included */

struct vq {
	/* Set by the driver through the transport. */
	uint16_t size;
	uint64_t desc_gpa, avail_gpa, used_gpa;
	bool indirect;  /* VIRTIO_RING_F_INDIRECT_DESC negotiated */
	bool event_idx; /* VIRTIO_RING_F_EVENT_IDX negotiated */

	/*
	 * Host views of the rings, valid once vq_enable() succeeded. A driver may
	 * enable a queue (on its vCPU thread) while the loop already polls the
	 * device: `enabled` is stored with release after everything else is set,
	 * and the loop reads it with acquire (vq_enabled) before touching the
	 * rest. The fields above do not change while it is set.
	 */
	bool enabled;
	const struct guest_mem *gm;
	uint8_t *desc;
	uint8_t *avail;
	uint8_t *used;

	uint16_t last_avail;   /* next avail entry to take */
	uint16_t used_idx;     /* our copy of used->idx */
	uint16_t signalled;    /* used_idx at the last interrupt decision */
	bool broken;           /* the driver corrupted the ring: device needs reset */
};

/* One chain taken from the ring: device-readable buffers first, then writable ones. */
struct vq_elem {
	uint16_t head;
	unsigned int nout, nin;
	struct iovec iov[VQ_MAX_CHAIN]; /* iov[0..nout) readable, iov[nout..nout+nin) writable */
	uint64_t out_len, in_len;
	/* A buffer outside guest RAM: its iov_base is NULL; the request must fail. */
	bool bad_addr;
};

enum vq_pop_result {
	VQ_EMPTY = 0,
	VQ_GOT = 1,
	VQ_BROKEN = -1, /* structural corruption: q->broken is set; stop using the queue */
};

/*
 * Checks the size (power of two, 1..VQ_MAX_SIZE) and that all three rings
 * lie in guest RAM, aligned; -EINVAL otherwise. Resets the indices.
 */
__attribute__((warn_unused_result)) int vq_enable(struct vq *q, const struct guest_mem *gm);
void vq_disable(struct vq *q);
/* Any thread: whether the queue is enabled; if so, its fields may be read. */
bool vq_enabled(const struct vq *q);

/* Takes the next available chain into *e. */
__attribute__((warn_unused_result)) enum vq_pop_result vq_pop(struct vq *q, struct vq_elem *e);

/* Returns a chain to the driver; `written` bytes went into its writable buffers. */
void vq_push(struct vq *q, uint16_t head, uint32_t written);

/* After a batch of vq_push(): whether the driver wants an interrupt for it. */
bool vq_need_interrupt(struct vq *q);

/* While the device polls the ring: asks the driver not to kick. */
void vq_suppress_kicks(struct vq *q);

/* Whether the driver made new buffers available. */
bool vq_has_new(const struct vq *q);

/*
 * Before sleeping: tells the driver (EVENT_IDX) to kick for the next buffer,
 * then returns whether more arrived meanwhile, in which case keep popping.
 */
bool vq_arm_and_check(struct vq *q);

/*
 * Copies up to len bytes from/to a run of iovecs; returns bytes copied. It
 * stops at a buffer outside guest RAM (NULL base), so a short count is how
 * a caller learns of one.
 */
uint64_t vq_iov_to_buf(const struct iovec *iov, unsigned n, uint64_t skip, void *buf, uint64_t len);
uint64_t vq_buf_to_iov(const struct iovec *iov, unsigned n, uint64_t skip, const void *buf, uint64_t len);

/* The iovecs covering bytes [skip, skip+len) of iov[0..n), into out; returns how many. */
unsigned vq_iov_slice(const struct iovec *iov, unsigned n, uint64_t skip, uint64_t len,
		      struct iovec *out);

#endif

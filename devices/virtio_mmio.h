/*
 * The virtio-mmio (version 2) transport, FACTS §4.1: registers, feature
 * negotiation, device status, queue setup, and the two fast paths, queue
 * notifications through ioeventfd and interrupts through irqfd.
 *
 * Threads: register accesses arrive on vCPU threads and only record state
 * under `lock`. Queues are served on the loop thread, which alone touches an
 * enabled queue; a device reset is handed to the loop, which waits for every
 * request in flight before clearing the device, while the resetting vCPU
 * waits for it (so the guest never reuses memory a request still writes).
 */
#ifndef KESTREL_VIRTIO_MMIO_H
#define KESTREL_VIRTIO_MMIO_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "devices/virtqueue.h"
#include "vmm/bus.h"
#include "vmm/loop.h"
#include "vmm/vm_ctl.h"

#define VMMIO_SIZE 0x200
#define VMMIO_MAX_QUEUES 32
/* Requests one queue yields after when the guest keeps it full (256-entry rings: four rounds). */
#define VMMIO_POP_BUDGET 64

/* What a device type (virtio-blk, virtio-scsi) plugs into the transport. */
struct vmmio_device_ops {
	uint32_t device_id;
	/* vCPU thread, under the transport's lock: device-specific config at 0x100+. */
	void (*config_read)(void *dev, uint64_t off, uint8_t *data, uint32_t len);
	void (*config_write)(void *dev, uint64_t off, const uint8_t *data, uint32_t len);
	/* vCPU thread, under the lock: the driver accepted these features (FEATURES_OK). */
	void (*features_ok)(void *dev, uint64_t features);
	/* Loop thread: the driver kicked queue q (or the loop polls it again). */
	void (*queue_notify)(void *dev, unsigned int q);
	/* Loop thread, nothing in flight: back to the state after power-on. */
	void (*reset)(void *dev);
};

struct vmmio;

struct vmmio_notify {
	struct loop_watch watch;
	uint64_t buf;
	int fd;
	struct vmmio *m;
	unsigned int q;
};

struct vmmio {
	const struct vmmio_device_ops *ops;
	void *dev;
	uint64_t device_features; /* the device's own; the transport adds its ring features */
	struct loop *loop;
	const struct guest_mem *gm;
	struct vm_ctl *ctl;
	int irq_fd;
	unsigned int nqueues;

	pthread_mutex_t lock; /* registers below, and enabling a queue */
	pthread_cond_t cond;
	uint32_t status;
	uint64_t driver_features;
	uint32_t device_features_sel, driver_features_sel, queue_sel;
	uint32_t config_generation;
	uint32_t interrupt_status; /* atomic */
	uint64_t reset_count;      /* resets finished; a resetting vCPU waits for it to move */
	bool reset_queued;

	/* Loop thread only. */
	struct vq queues[VMMIO_MAX_QUEUES];
	struct vmmio_notify notify[VMMIO_MAX_QUEUES];
	unsigned int inflight;
	bool resetting;
	bool irq_deferred;
	struct loop_task reset_task;
	struct loop_task irq_task;
	struct loop_task resume_task; /* serves the queues that used up their budget */
	bool resume_queued;
	uint32_t over_budget;         /* queues waiting for resume_task */
	unsigned int popped[VMMIO_MAX_QUEUES]; /* requests taken since the queue was last empty */
	struct loop_poller poller;
	bool live; /* atomic: DRIVER_OK and not broken; the poller serves queues only then */
	uint32_t held; /* queues the device takes no buffers from now (vmmio_hold_queue) */
	uint64_t bad_requests; /* stats: chains refused */
	uint64_t kicks;        /* stats: queue notifications served */
	uint64_t interrupts;   /* stats: used-buffer interrupts raised */
	uint64_t budget_yields; /* stats: services cut short so other devices could run */
};

/*
 * Sets up the transport at guest physical `base` with its own ioeventfds
 * (one per queue, on QueueNotify; none when vm_fd is -1, for unit tests) and
 * interrupt (irq_fd, an irqfd). Main thread.
 */
__attribute__((warn_unused_result)) int vmmio_init(struct vmmio *m, int vm_fd, uint64_t base,
						   unsigned int nqueues, int irq_fd,
						   const struct vmmio_device_ops *ops, void *dev,
						   uint64_t device_features, struct loop *loop,
						   const struct guest_mem *gm, struct vm_ctl *ctl);
/* Main thread, after the loop started: starts reading the notification eventfds. */
void vmmio_start(struct vmmio *m);
void vmmio_destroy(struct vmmio *m);

extern const struct bus_ops vmmio_bus_ops;

/* Loop thread: the device takes the next chain of queue q. */
__attribute__((warn_unused_result)) enum vq_pop_result vmmio_pop(struct vmmio *m, unsigned int q,
								 struct vq_elem *e);
/* Loop thread: the device finished a chain; the interrupt follows after the batch. */
void vmmio_complete(struct vmmio *m, unsigned int q, uint16_t head, uint32_t written);
/* Loop thread: before the device stops popping queue q; true if more arrived. */
bool vmmio_queue_idle(struct vmmio *m, unsigned int q);

/*
 * Loop thread: the device stops (held) or resumes taking buffers from queue
 * q. A held queue is neither polled nor armed for kicks, so buffers the
 * driver leaves there (virtio-scsi's event queue, or its control queue while
 * a task management function waits) do not keep the loop awake. On resume
 * the device serves the queue itself.
 */
void vmmio_hold_queue(struct vmmio *m, unsigned int q, bool held);

/*
 * Loop thread: the device's config space changed (a disk's new size): the
 * generation moves and, once the driver is running, a config interrupt.
 */
void vmmio_config_changed(struct vmmio *m);

/* Negotiated feature test, for devices (under the lock or on the loop after DRIVER_OK). */
bool vmmio_has_feature(const struct vmmio *m, unsigned int bit);

#endif

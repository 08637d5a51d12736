/*
 * virtio-scsi (device ID 8): one controller for every virtio-scsi disk, each
 * its own target with LUN 0, as Linux's sd expects. FACTS §6.1–6.3.
 *
 * The transport only carries CDBs and their data: what a command means is
 * devices/scsi_disk.c's business. Queue 0 is the control queue (task
 * management), queue 1 the event queue (used only to say a disk's
 * capacity changed, VIRTIO_SCSI_F_CHANGE: disks do not come and go),
 * queues 2.. carry commands.
 *
 * Task management drains: a LUN reset or an abort answers only once the
 * commands it covers have finished in the backend (host I/O already issued
 * cannot be called back), so the guest never gets a completion for a command
 * it was told was gone. One task management function runs at a time; the
 * control queue is held meanwhile.
 *
 * Threads: config space on vCPU threads (under the transport's lock);
 * queues on the loop thread.
 */
#ifndef KESTREL_VIRTIO_SCSI_H
#define KESTREL_VIRTIO_SCSI_H

#include <stdint.h>

#include "devices/scsi_disk.h"
#include "devices/virtio_mmio.h"

#define VSCSI_MAX_TARGETS 8
#define VSCSI_FIRST_REQUEST_QUEUE 2
#define VSCSI_MAX_REQUEST_QUEUES (VMMIO_MAX_QUEUES - VSCSI_FIRST_REQUEST_QUEUE)

struct vscsi_req;

struct vscsi_queue {
	struct vscsi_req *reqs; /* VQ_MAX_SIZE of them: at most that many in flight */
	uint16_t free[VQ_MAX_SIZE];
	unsigned int nfree;
};

struct vscsi_target {
	struct scsi_disk disk;
	unsigned int inflight; /* commands in the backend */
};

/* The task management function being carried out (one at a time). */
struct vscsi_tmf {
	bool active;
	struct vscsi_req *req; /* the control queue request that asked for it */
	unsigned int waiting;  /* commands it waits for */
};

struct vscsi {
	struct vmmio mmio;
	unsigned int ntargets;
	struct vscsi_target targets[VSCSI_MAX_TARGETS];
	unsigned int nrequest_queues;
	struct vscsi_queue queues[VMMIO_MAX_QUEUES]; /* control and request queues */
	/* Driver-writable config (under the transport's lock; read on the loop after DRIVER_OK). */
	uint32_t sense_size, cdb_size;
	struct vscsi_tmf tmf;
	struct loop_task ctrl_task; /* serves the control queue again after a TMF */
	bool ctrl_deferred;         /* ctrl_task is on the loop's deferred list */
	uint64_t tmfs;              /* stats: task management functions */
	struct vq_elem event;       /* the event queue's buffer being filled */
	bool events_missed;         /* an event found no buffer: the next one says so */
};

/*
 * A virtio-scsi controller at guest physical `base` with one target per
 * disk in disks[0..ndisks), interrupting through irq_fd. Main thread.
 */
__attribute__((warn_unused_result)) int vscsi_init(struct vscsi *vs, struct blk *const *disks,
						   unsigned int ndisks, int vm_fd, uint64_t base,
						   unsigned int nrequest_queues, int irq_fd,
						   struct loop *loop, const struct guest_mem *gm,
						   struct vm_ctl *ctl);
void vscsi_destroy(struct vscsi *vs);

/*
 * Loop thread: target t's disk has a new image (PATCH /drives). Its next
 * command reports CAPACITY DATA HAS CHANGED, and a driver that negotiated
 * VIRTIO_SCSI_F_CHANGE also gets a parameter-change event, on which Linux
 * rescans the disk at once (as QEMU signals a resize).
 */
void vscsi_capacity_changed(struct vscsi *vs, unsigned int t);

#endif

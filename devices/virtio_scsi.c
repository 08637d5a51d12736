#include "devices/virtio_scsi.h"

#include <errno.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_scsi.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/container_of.h"
#include "vmm/log.h"

#define CTRL_QUEUE 0
#define EVENT_QUEUE 1

/* Request and response headers before the CDB / sense, FACTS §6.2. */
#define CMD_REQ_FIXED offsetof(struct virtio_scsi_cmd_req, cdb)    /* 19 */
#define CMD_RESP_FIXED offsetof(struct virtio_scsi_cmd_resp, sense) /* 12 */
#define SIZE_FIELD_MAX 255u /* the most a driver may set sense_size or cdb_size to */

#define VSCSI_SEG_MAX (VQ_MAX_CHAIN - 2) /* request and response headers around the data */
#define VSCSI_MAX_SECTORS (SCSI_MAX_TRANSFER_BYTES / 512)
#define VSCSI_CMD_PER_LUN 128

struct vscsi_req {
	struct vscsi *vs;
	unsigned int q;
	uint16_t index;
	/* While the command is in the backend. */
	bool busy;
	bool awaited; /* the running task management function waits for it */
	unsigned int target;
	uint64_t tag;
	uint64_t buf_len; /* the data buffer in the command's direction */
	uint32_t sense_size; /* as configured when the command arrived */
	uint8_t resp[CMD_RESP_FIXED + SIZE_FIELD_MAX];
	struct scsi_plan plan;
	struct blk_req br;
	struct iovec data[VQ_MAX_CHAIN];
	struct vq_elem e;
};

/* ---- config space (vCPU threads, under the transport's lock) ---- */

static void build_config(const struct vscsi *vs, struct virtio_scsi_config *c)
{
	memset(c, 0, sizeof(*c));
	c->num_queues = vs->nrequest_queues;
	c->seg_max = VSCSI_SEG_MAX;
	c->max_sectors = VSCSI_MAX_SECTORS;
	c->cmd_per_lun = VSCSI_CMD_PER_LUN;
	c->event_info_size = sizeof(struct virtio_scsi_event);
	c->sense_size = vs->sense_size;
	c->cdb_size = vs->cdb_size;
	c->max_channel = 0;
	c->max_target = (uint16_t)(vs->ntargets - 1);
	c->max_lun = 0; /* one LUN per target */
}

static void config_read(void *dev, uint64_t off, uint8_t *data, uint32_t len)
{
	struct vscsi *vs = dev;
	struct virtio_scsi_config c;
	build_config(vs, &c);
	if (off < sizeof(c) && len <= sizeof(c) - off)
		memcpy(data, (uint8_t *)&c + off, len);
}

static void config_write(void *dev, uint64_t off, const uint8_t *data, uint32_t len)
{
	struct vscsi *vs = dev;
	/* Only sense_size and cdb_size are the driver's to write (Linux sets 96 and 32). */
	uint32_t v;
	if (len != sizeof(v))
		return;
	memcpy(&v, data, sizeof(v));
	if (off == offsetof(struct virtio_scsi_config, sense_size) && v <= SIZE_FIELD_MAX)
		__atomic_store_n(&vs->sense_size, v, __ATOMIC_RELAXED);
	else if (off == offsetof(struct virtio_scsi_config, cdb_size) && v >= 1 && v <= SIZE_FIELD_MAX)
		__atomic_store_n(&vs->cdb_size, v, __ATOMIC_RELAXED);
}

static void features_ok(void *dev, uint64_t f)
{
	(void)dev;
	(void)f;
}

/* ---- requests (loop thread) ---- */

static void release(struct vscsi_req *r, uint32_t written)
{
	struct vscsi *vs = r->vs;
	vmmio_complete(&vs->mmio, r->q, r->e.head, written);
	struct vscsi_queue *vq = &vs->queues[r->q];
	vq->free[vq->nfree++] = r->index;
}

/* Writes the response header and hands the chain back; data_in bytes went to the guest. */
static void respond(struct vscsi_req *r, uint8_t response, uint64_t data_in)
{
	const struct scsi_plan *p = &r->plan;
	uint32_t resp_size = CMD_RESP_FIXED + r->sense_size;
	uint8_t *h = r->resp;
	memset(h, 0, resp_size);
	uint32_t sense_len = response == VIRTIO_SCSI_S_OK ? p->sense_len : 0;
	if (sense_len > r->sense_size)
		sense_len = r->sense_size;
	uint32_t moved = response == VIRTIO_SCSI_S_OK && p->status == SCSI_GOOD
				 ? (uint32_t)(p->action == SCSI_IO ? p->len : p->data_len)
				 : 0;
	uint32_t resid = r->buf_len > moved ? (uint32_t)(r->buf_len - moved) : 0;
	memcpy(h + offsetof(struct virtio_scsi_cmd_resp, sense_len), &sense_len, 4);
	memcpy(h + offsetof(struct virtio_scsi_cmd_resp, resid), &resid, 4);
	h[offsetof(struct virtio_scsi_cmd_resp, status)] = response == VIRTIO_SCSI_S_OK ? p->status : 0;
	h[offsetof(struct virtio_scsi_cmd_resp, response)] = response;
	memcpy(h + CMD_RESP_FIXED, p->sense, sense_len);
	struct vq_elem *e = &r->e;
	uint64_t w = vq_buf_to_iov(e->iov + e->nout, e->nin, 0, h, resp_size);
	release(r, (uint32_t)(w + data_in));
}

static void finish_tmf(struct vscsi *vs);

static void blk_done(struct blk_req *br, int res)
{
	struct vscsi_req *r = container_of(br, struct vscsi_req, br);
	struct vscsi *vs = r->vs;
	bool awaited = r->awaited;
	r->busy = false;
	r->awaited = false;
	vs->targets[r->target].inflight--;
	scsi_io_done(&r->plan, res);
	respond(r, VIRTIO_SCSI_S_OK, r->plan.data_in && res == 0 ? r->plan.len : 0);
	if (awaited && --vs->tmf.waiting == 0)
		finish_tmf(vs);
}

/* A virtio-scsi LUN: 1, target, 0x40|LUN>>8, LUN&0xff, then zeros (FACTS §6.2). */
static bool decode_lun(const uint8_t lun[8], unsigned *target, unsigned *unit)
{
	if (lun[0] != 1)
		return false;
	*target = lun[1];
	bool flat = (lun[2] & 0xC0) == 0x40 || (lun[2] == 0 && lun[3] == 0);
	bool rest_zero = !(lun[4] | lun[5] | lun[6] | lun[7]);
	*unit = flat && rest_zero ? (unsigned)((lun[2] & 0x3F) << 8 | lun[3]) : UINT16_MAX;
	return true;
}

static void handle_cmd(struct vscsi_req *r)
{
	struct vscsi *vs = r->vs;
	struct vq_elem *e = &r->e;
	/* Read once: the driver could change them while the command is in flight. */
	r->sense_size = __atomic_load_n(&vs->sense_size, __ATOMIC_RELAXED);
	uint32_t cdb_size = __atomic_load_n(&vs->cdb_size, __ATOMIC_RELAXED);
	uint32_t resp_size = CMD_RESP_FIXED + r->sense_size;
	uint32_t req_size = (uint32_t)CMD_REQ_FIXED + cdb_size;
	memset(&r->plan, 0, SCSI_PLAN_HEAD);
	r->buf_len = 0;
	if (e->in_len < resp_size) {
		/* Nowhere to report: hand the chain back untouched. */
		vs->mmio.bad_requests++;
		release(r, 0);
		return;
	}
	uint8_t hdr[CMD_REQ_FIXED + SIZE_FIELD_MAX];
	if (e->bad_addr || e->out_len < req_size ||
	    vq_iov_to_buf(e->iov, e->nout, 0, hdr, req_size) != req_size) {
		vs->mmio.bad_requests++;
		respond(r, VIRTIO_SCSI_S_FAILURE, 0);
		return;
	}
	unsigned target, unit;
	if (!decode_lun(hdr, &target, &unit) || target >= vs->ntargets) {
		respond(r, VIRTIO_SCSI_S_BAD_TARGET, 0);
		return;
	}
	memcpy(&r->tag, hdr + offsetof(struct virtio_scsi_cmd_req, tag), sizeof(r->tag));
	uint8_t cdb[SIZE_FIELD_MAX > SCSI_CDB_MIN ? SIZE_FIELD_MAX : SCSI_CDB_MIN] = {0};
	memcpy(cdb, hdr + CMD_REQ_FIXED, cdb_size);

	const struct iovec *out = e->iov, *in = e->iov + e->nout;
	uint64_t out_data = e->out_len - req_size, in_data = e->in_len - resp_size;
	struct scsi_plan *p = &r->plan;
	struct scsi_disk *d = &vs->targets[target].disk;
	if (unit != 0) {
		scsi_plan_no_lun(cdb, in_data, p);
	} else {
		uint8_t param[SCSI_PARAM_MAX];
		uint32_t want = scsi_param_len(d, cdb);
		uint32_t got = (uint32_t)vq_iov_to_buf(out, e->nout, req_size, param, want);
		scsi_plan(d, cdb, in_data, out_data, param, got, p);
	}
	if (p->overrun) {
		respond(r, VIRTIO_SCSI_S_OVERRUN, 0);
		return;
	}
	if (p->action == SCSI_ANSWER) {
		r->buf_len = in_data;
		uint64_t n = vq_buf_to_iov(in, e->nin, resp_size, p->data, p->data_len);
		respond(r, VIRTIO_SCSI_S_OK, n);
		return;
	}
	/* Backend I/O: the data goes straight between guest memory and the host file. */
	unsigned niov = 0;
	if (p->data_in) {
		r->buf_len = in_data;
		niov = vq_iov_slice(in, e->nin, resp_size, p->len, r->data);
	} else if (p->data_out) {
		r->buf_len = out_data;
		niov = vq_iov_slice(out, e->nout, req_size, p->len, r->data);
	}
	r->br = (struct blk_req){.op = p->op,
				 .flags = (p->fua ? BLK_REQ_FUA : 0) | (p->internal ? BLK_REQ_INTERNAL : 0),
				 .offset = p->offset, .len = p->len, .iov = r->data, .niov = niov,
				 .done = blk_done};
	r->busy = true;
	r->target = target;
	vs->targets[target].inflight++;
	blk_submit(d->blk, &r->br);
}

/* ---- control queue: task management ---- */

static void tmf_respond(struct vscsi_req *r, uint8_t response)
{
	struct vq_elem *e = &r->e;
	uint64_t w = vq_buf_to_iov(e->iov + e->nout, e->nin, 0, &response, 1);
	release(r, (uint32_t)w);
}

static void finish_tmf(struct vscsi *vs)
{
	struct vscsi_tmf *t = &vs->tmf;
	t->active = false;
	tmf_respond(t->req, VIRTIO_SCSI_S_OK); /* function complete: its commands are done */
	/* Serve what queued up behind it, after the completions at hand. */
	vmmio_hold_queue(&vs->mmio, CTRL_QUEUE, false);
	if (!vs->ctrl_deferred) { /* a task is on the deferred list at most once */
		vs->ctrl_deferred = true;
		loop_defer(vs->mmio.loop, &vs->ctrl_task);
	}
}

/*
 * The commands in the backend that a task management function covers: all
 * of the target's, or (one) the one with `tag`. Returns how many; with
 * `await` set, marks them so their completion counts down the function.
 */
static unsigned covered_commands(struct vscsi *vs, unsigned target, bool one, uint64_t tag,
				 bool await)
{
	unsigned n = 0;
	for (unsigned q = VSCSI_FIRST_REQUEST_QUEUE; q < VSCSI_FIRST_REQUEST_QUEUE + vs->nrequest_queues; q++) {
		struct vscsi_req *reqs = vs->queues[q].reqs;
		for (unsigned i = 0; i < VQ_MAX_SIZE && vs->targets[target].inflight; i++) {
			struct vscsi_req *c = &reqs[i];
			if (c->busy && c->target == target && (!one || c->tag == tag)) {
				c->awaited |= await;
				n++;
			}
		}
	}
	return n;
}

static void handle_tmf(struct vscsi_req *r, const struct virtio_scsi_ctrl_tmf_req *tmf)
{
	struct vscsi *vs = r->vs;
	vs->tmfs++;
	unsigned target, unit;
	if (!decode_lun(tmf->lun, &target, &unit) || target >= vs->ntargets) {
		tmf_respond(r, VIRTIO_SCSI_S_BAD_TARGET);
		return;
	}
	if (unit != 0) {
		tmf_respond(r, VIRTIO_SCSI_S_INCORRECT_LUN);
		return;
	}
	bool one;
	switch (tmf->subtype) {
	case VIRTIO_SCSI_T_TMF_ABORT_TASK:
		one = true;
		break;
	case VIRTIO_SCSI_T_TMF_ABORT_TASK_SET:
	case VIRTIO_SCSI_T_TMF_CLEAR_TASK_SET:
	case VIRTIO_SCSI_T_TMF_I_T_NEXUS_RESET:
	case VIRTIO_SCSI_T_TMF_LOGICAL_UNIT_RESET:
		one = false;
		break;
	case VIRTIO_SCSI_T_TMF_QUERY_TASK:
	case VIRTIO_SCSI_T_TMF_QUERY_TASK_SET: {
		/* Answered at once: is any such command still in the backend? */
		bool by_tag = tmf->subtype == VIRTIO_SCSI_T_TMF_QUERY_TASK;
		bool found = covered_commands(vs, target, by_tag, tmf->tag, false) > 0;
		tmf_respond(r, found ? VIRTIO_SCSI_S_FUNCTION_SUCCEEDED : VIRTIO_SCSI_S_OK);
		return;
	}
	default: /* CLEAR ACA (no ACA here) and anything unknown */
		tmf_respond(r, VIRTIO_SCSI_S_FUNCTION_REJECTED);
		return;
	}
	unsigned n = covered_commands(vs, target, one, tmf->tag, true);
	if (n == 0) {
		tmf_respond(r, VIRTIO_SCSI_S_OK);
		return;
	}
	/* Answer once they are done; take no other control request meanwhile. */
	vs->tmf = (struct vscsi_tmf){.active = true, .req = r, .waiting = n};
	vmmio_hold_queue(&vs->mmio, CTRL_QUEUE, true);
}

static void handle_ctrl(struct vscsi_req *r)
{
	struct vq_elem *e = &r->e;
	uint32_t type;
	if (e->bad_addr || vq_iov_to_buf(e->iov, e->nout, 0, &type, sizeof(type)) != sizeof(type)) {
		r->vs->mmio.bad_requests++;
		release(r, 0);
		return;
	}
	if (type == VIRTIO_SCSI_T_TMF) {
		struct virtio_scsi_ctrl_tmf_req tmf;
		if (e->in_len < sizeof(struct virtio_scsi_ctrl_tmf_resp) ||
		    vq_iov_to_buf(e->iov, e->nout, 0, &tmf, sizeof(tmf)) != sizeof(tmf)) {
			r->vs->mmio.bad_requests++;
			release(r, 0);
			return;
		}
		handle_tmf(r, &tmf);
		return;
	}
	if (type == VIRTIO_SCSI_T_AN_QUERY || type == VIRTIO_SCSI_T_AN_SUBSCRIBE) {
		/* No asynchronous events to offer: event_actual 0, response OK. */
		struct virtio_scsi_ctrl_an_resp an = {.event_actual = 0, .response = VIRTIO_SCSI_S_OK};
		if (e->out_len < sizeof(struct virtio_scsi_ctrl_an_req) || e->in_len < sizeof(an)) {
			r->vs->mmio.bad_requests++;
			release(r, 0);
			return;
		}
		release(r, (uint32_t)vq_buf_to_iov(e->iov + e->nout, e->nin, 0, &an, sizeof(an)));
		return;
	}
	r->vs->mmio.bad_requests++;
	release(r, 0);
}

static void serve(struct vscsi *vs, unsigned q)
{
	struct vscsi_queue *vq = &vs->queues[q];
	do {
		while (vq->nfree) {
			if (q == CTRL_QUEUE && vs->tmf.active)
				return; /* the queue is held until the function is done */
			uint16_t index = vq->free[vq->nfree - 1];
			struct vscsi_req *r = &vq->reqs[index];
			if (vmmio_pop(&vs->mmio, q, &r->e) != VQ_GOT)
				break;
			vq->nfree--;
			/* Filled in here, not at init: a slot's pages are touched only once used. */
			r->vs = vs;
			r->q = q;
			r->index = index;
			if (q == CTRL_QUEUE)
				handle_ctrl(r);
			else
				handle_cmd(r);
		}
		if (q == CTRL_QUEUE && vs->tmf.active)
			return;
	} while (vq->nfree && vmmio_queue_idle(&vs->mmio, q));
}

static void queue_notify(void *dev, unsigned int q)
{
	struct vscsi *vs = dev;
	/* The event queue's buffers wait for events that never come (no hotplug). */
	if (q == EVENT_QUEUE)
		return;
	serve(vs, q);
}

static void ctrl_task_fn(struct loop_task *t)
{
	struct vscsi *vs = container_of(t, struct vscsi, ctrl_task);
	vs->ctrl_deferred = false;
	if (!vs->tmf.active && __atomic_load_n(&vs->mmio.live, __ATOMIC_ACQUIRE))
		serve(vs, CTRL_QUEUE);
}

static void reset(void *dev)
{
	struct vscsi *vs = dev;
	/* Nothing is in flight: the transport waited for it. */
	vs->tmf.active = false;
	vmmio_hold_queue(&vs->mmio, CTRL_QUEUE, false);
	vmmio_hold_queue(&vs->mmio, EVENT_QUEUE, true);
	vs->sense_size = VIRTIO_SCSI_SENSE_DEFAULT_SIZE;
	vs->cdb_size = VIRTIO_SCSI_CDB_DEFAULT_SIZE;
	vs->events_missed = false;
	for (unsigned t = 0; t < vs->ntargets; t++)
		blk_reset(vs->targets[t].disk.blk);
}

void vscsi_capacity_changed(struct vscsi *vs, unsigned int t)
{
	if (t >= vs->ntargets)
		return;
	scsi_disk_capacity_changed(&vs->targets[t].disk);
	if (!__atomic_load_n(&vs->mmio.live, __ATOMIC_ACQUIRE) ||
	    !vmmio_has_feature(&vs->mmio, VIRTIO_SCSI_F_CHANGE))
		return;
	struct vq_elem *e = &vs->event;
	if (vmmio_pop(&vs->mmio, EVENT_QUEUE, e) != VQ_GOT) {
		vs->events_missed = true; /* the unit attention still tells the guest */
		return;
	}
	struct virtio_scsi_event ev = {
		.event = VIRTIO_SCSI_T_PARAM_CHANGE | (vs->events_missed ? VIRTIO_SCSI_T_EVENTS_MISSED : 0),
		.lun = {1, (uint8_t)t, 0, 0},
		.reason = SCSI_ASC_CAPACITY_CHANGED >> 8 | (SCSI_ASC_CAPACITY_CHANGED & 0xFF) << 8,
	};
	uint32_t written = 0;
	if (!e->bad_addr && e->in_len >= sizeof(ev)) {
		written = (uint32_t)vq_buf_to_iov(e->iov + e->nout, e->nin, 0, &ev, sizeof(ev));
		vs->events_missed = false;
	} else {
		vs->mmio.bad_requests++;
		vs->events_missed = true;
	}
	vmmio_complete(&vs->mmio, EVENT_QUEUE, e->head, written);
}

static const struct vmmio_device_ops vscsi_ops = {
	.device_id = VIRTIO_ID_SCSI,
	.config_read = config_read,
	.config_write = config_write,
	.features_ok = features_ok,
	.queue_notify = queue_notify,
	.reset = reset,
};

int vscsi_init(struct vscsi *vs, struct blk *const *disks, unsigned int ndisks, int vm_fd,
	       uint64_t base, unsigned int nrequest_queues, int irq_fd, struct loop *loop,
	       const struct guest_mem *gm, struct vm_ctl *ctl)
{
	memset(vs, 0, sizeof(*vs));
	if (ndisks == 0 || ndisks > VSCSI_MAX_TARGETS || nrequest_queues == 0 ||
	    nrequest_queues > VSCSI_MAX_REQUEST_QUEUES)
		return -EINVAL;
	vs->ntargets = ndisks;
	for (unsigned t = 0; t < ndisks; t++)
		scsi_disk_init(&vs->targets[t].disk, disks[t], t);
	vs->nrequest_queues = nrequest_queues;
	vs->sense_size = VIRTIO_SCSI_SENSE_DEFAULT_SIZE;
	vs->cdb_size = VIRTIO_SCSI_CDB_DEFAULT_SIZE;
	vs->ctrl_task.fn = ctrl_task_fn;
	unsigned nqueues = VSCSI_FIRST_REQUEST_QUEUE + nrequest_queues;
	for (unsigned q = 0; q < nqueues; q++) {
		if (q == EVENT_QUEUE)
			continue;
		struct vscsi_queue *vq = &vs->queues[q];
		/* Untouched pages of this cost nothing until requests use them. */
		vq->reqs = calloc(VQ_MAX_SIZE, sizeof(*vq->reqs));
		if (!vq->reqs)
			return -ENOMEM;
		for (unsigned i = 0; i < VQ_MAX_SIZE; i++)
			vq->free[i] = (uint16_t)(VQ_MAX_SIZE - 1 - i);
		vq->nfree = VQ_MAX_SIZE;
	}
	/*
	 * CHANGE: capacity events. HOTPLUG too, though disks never come and go:
	 * Linux posts event buffers only when it is offered, and without them
	 * no event reaches it (QEMU offers both).
	 */
	uint64_t features = 1ull << VIRTIO_SCSI_F_CHANGE | 1ull << VIRTIO_SCSI_F_HOTPLUG;
	int ret = vmmio_init(&vs->mmio, vm_fd, base, nqueues, irq_fd, &vscsi_ops, vs, features, loop,
			     gm, ctl);
	vmmio_hold_queue(&vs->mmio, EVENT_QUEUE, true);
	return ret;
}

void vscsi_destroy(struct vscsi *vs)
{
	vmmio_destroy(&vs->mmio);
	for (unsigned q = 0; q < VMMIO_MAX_QUEUES; q++)
		free(vs->queues[q].reqs);
}

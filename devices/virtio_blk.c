#include "devices/virtio_blk.h"

#include <errno.h>
#include <linux/virtio_blk.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/container_of.h"
#include "vmm/log.h"

#define VBLK_SEG_MAX (VQ_MAX_CHAIN - 2) /* a header and a status descriptor around the data */
#define VBLK_SIZE_MAX (1u << 20)
#define VBLK_MAX_RANGE_SECTORS (1u << 22) /* per discard / write-zeroes segment: 2 GiB */
#define SECTOR 512ull

struct vblk_req {
	struct vblk *vb;
	unsigned int q;
	uint16_t index;
	uint32_t type;
	uint8_t *status;  /* the status byte, in guest memory */
	uint32_t written; /* bytes written to the driver's buffers, status included */
	struct blk_req br;
	struct iovec data[VQ_MAX_CHAIN];
	struct vq_elem e;
};

uint64_t vblk_features(const struct blk *blk, unsigned int nqueues)
{
	uint64_t f = (1ull << VIRTIO_BLK_F_SIZE_MAX) | (1ull << VIRTIO_BLK_F_SEG_MAX) |
		     (1ull << VIRTIO_BLK_F_BLK_SIZE) | (1ull << VIRTIO_BLK_F_FLUSH) |
		     (1ull << VIRTIO_BLK_F_TOPOLOGY) | (1ull << VIRTIO_BLK_F_CONFIG_WCE) |
		     (1ull << VIRTIO_BLK_F_DISCARD) | (1ull << VIRTIO_BLK_F_WRITE_ZEROES);
	if (blk->readonly)
		f |= 1ull << VIRTIO_BLK_F_RO;
	if (nqueues > 1)
		f |= 1ull << VIRTIO_BLK_F_MQ;
	return f;
}

/* ---- config space (vCPU threads, under the transport's lock) ---- */

static void build_config(const struct vblk *vb, struct virtio_blk_config *c)
{
	const struct blk *b = vb->blk;
	memset(c, 0, sizeof(*c));
	c->capacity = blk_size(b) / SECTOR; /* PATCH /drives changes it on the loop */
	c->size_max = VBLK_SIZE_MAX;
	c->seg_max = VBLK_SEG_MAX;
	c->blk_size = b->block_size;
	c->physical_block_exp = 0;
	c->alignment_offset = 0;
	c->min_io_size = 1;
	c->opt_io_size = 0;
	c->wce = vb->writeback;
	c->num_queues = (uint16_t)vb->nqueues;
	c->max_discard_sectors = VBLK_MAX_RANGE_SECTORS;
	c->max_discard_seg = 1;
	c->discard_sector_alignment = b->block_size / SECTOR;
	c->max_write_zeroes_sectors = VBLK_MAX_RANGE_SECTORS;
	c->max_write_zeroes_seg = 1;
	c->write_zeroes_may_unmap = 0;
}

static void config_read(void *dev, uint64_t off, uint8_t *data, uint32_t len)
{
	struct vblk *vb = dev;
	struct virtio_blk_config c;
	build_config(vb, &c);
	if (off < sizeof(c) && len <= sizeof(c) - off)
		memcpy(data, (uint8_t *)&c + off, len);
}

static void config_write(void *dev, uint64_t off, const uint8_t *data, uint32_t len)
{
	struct vblk *vb = dev;
	/* Only the writeback byte is the driver's to write, and only with CONFIG_WCE. */
	if (off != offsetof(struct virtio_blk_config, wce) || len != 1 || !vb->config_wce)
		return;
	/* A disk without a volatile cache stays write-through whatever the guest asks. */
	bool on = data[0] && blk_has_volatile_cache(vb->blk);
	vb->writeback = on;
	blk_set_write_cache(vb->blk, on);
}

static void features_ok(void *dev, uint64_t f)
{
	struct vblk *vb = dev;
	vb->config_wce = f & (1ull << VIRTIO_BLK_F_CONFIG_WCE);
	bool flush = f & (1ull << VIRTIO_BLK_F_FLUSH);
	/*
	 * FACTS §5.4: a driver that negotiated neither FLUSH nor CONFIG_WCE can
	 * never flush, so every write must be durable; with CONFIG_WCE the
	 * writeback byte decides, with FLUSH alone the cache is on.
	 */
	bool on;
	if (vb->config_wce)
		on = vb->writeback;
	else
		on = flush && blk_has_volatile_cache(vb->blk);
	blk_set_write_cache(vb->blk, on);
}

/* ---- requests (loop thread) ---- */

static void complete(struct vblk_req *r, uint8_t status)
{
	struct vblk *vb = r->vb;
	if (r->status)
		*r->status = status;
	vmmio_complete(&vb->mmio, r->q, r->e.head, r->written);
	struct vblk_queue *vq = &vb->queues[r->q];
	vq->free[vq->nfree++] = r->index;
}

static void blk_done(struct blk_req *br, int res)
{
	struct vblk_req *r = container_of(br, struct vblk_req, br);
	if (res == 0) {
		if (r->type == VIRTIO_BLK_T_IN)
			r->written += (uint32_t)br->len;
		complete(r, VIRTIO_BLK_S_OK);
	} else {
		complete(r, res == -EOPNOTSUPP ? VIRTIO_BLK_S_UNSUPP : VIRTIO_BLK_S_IOERR);
	}
}

static void submit_range(struct vblk_req *r, enum blk_op op, const struct iovec *out,
			 unsigned nout, uint64_t data_len)
{
	/* One 16-byte segment (we advertise max_*_seg = 1). */
	struct virtio_blk_discard_write_zeroes seg;
	if (data_len != sizeof(seg) ||
	    vq_iov_to_buf(out, nout, sizeof(struct virtio_blk_outhdr), &seg, sizeof(seg)) != sizeof(seg)) {
		complete(r, VIRTIO_BLK_S_UNSUPP);
		return;
	}
	uint32_t allowed = op == BLK_OP_WRITE_ZEROES ? VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP : 0;
	if ((seg.flags & ~allowed) || seg.num_sectors > VBLK_MAX_RANGE_SECTORS) {
		complete(r, VIRTIO_BLK_S_UNSUPP);
		return;
	}
	if (seg.sector > UINT64_MAX / SECTOR) {
		complete(r, VIRTIO_BLK_S_IOERR);
		return;
	}
	r->br = (struct blk_req){.op = op, .offset = seg.sector * SECTOR,
				 .len = (uint64_t)seg.num_sectors * SECTOR, .done = blk_done};
	blk_submit(r->vb->blk, &r->br);
}

static void handle(struct vblk_req *r)
{
	struct vq_elem *e = &r->e;
	r->status = NULL;
	r->written = 0;
	/* The status byte is the last byte of the last writable buffer. */
	struct iovec *last = e->nin ? &e->iov[e->nout + e->nin - 1] : NULL;
	if (!last || !last->iov_base || last->iov_len == 0) {
		/* Nowhere to report: hand the chain back untouched. */
		r->vb->mmio.bad_requests++;
		complete(r, 0);
		return;
	}
	r->status = (uint8_t *)last->iov_base + last->iov_len - 1;
	r->written = 1;
	struct virtio_blk_outhdr hdr;
	if (e->bad_addr || e->out_len < sizeof(hdr)) {
		r->vb->mmio.bad_requests++;
		complete(r, VIRTIO_BLK_S_IOERR);
		return;
	}
	if (vq_iov_to_buf(e->iov, e->nout, 0, &hdr, sizeof(hdr)) != sizeof(hdr)) {
		complete(r, VIRTIO_BLK_S_IOERR);
		return;
	}
	r->type = hdr.type;
	const struct iovec *out = e->iov, *in = e->iov + e->nout;
	uint64_t out_data = e->out_len - sizeof(hdr), in_data = e->in_len - 1;
	struct blk *b = r->vb->blk;
	switch (hdr.type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT: {
		bool is_in = hdr.type == VIRTIO_BLK_T_IN;
		uint64_t len = is_in ? in_data : out_data;
		if (len == 0 || len % SECTOR || hdr.sector > UINT64_MAX / SECTOR) {
			complete(r, VIRTIO_BLK_S_IOERR);
			return;
		}
		unsigned n = is_in ? vq_iov_slice(in, e->nin, 0, len, r->data)
				   : vq_iov_slice(out, e->nout, sizeof(hdr), len, r->data);
		/* What we advertise is what we take: no data segment above size_max. */
		for (unsigned i = 0; i < n; i++) {
			if (r->data[i].iov_len > VBLK_SIZE_MAX) {
				r->vb->mmio.bad_requests++;
				complete(r, VIRTIO_BLK_S_IOERR);
				return;
			}
		}
		r->br = (struct blk_req){.op = is_in ? BLK_OP_READ : BLK_OP_WRITE,
					 .offset = hdr.sector * SECTOR, .iov = r->data, .niov = n,
					 .done = blk_done};
		blk_submit(b, &r->br);
		return;
	}
	case VIRTIO_BLK_T_FLUSH:
		r->br = (struct blk_req){.op = BLK_OP_FLUSH, .done = blk_done};
		blk_submit(b, &r->br);
		return;
	case VIRTIO_BLK_T_GET_ID: {
		char id[VIRTIO_BLK_ID_BYTES] = {0};
		memcpy(id, b->serial, strnlen(b->serial, sizeof(id)));
		uint64_t n = in_data < sizeof(id) ? in_data : sizeof(id);
		r->written += (uint32_t)vq_buf_to_iov(in, e->nin, 0, id, n);
		complete(r, VIRTIO_BLK_S_OK);
		return;
	}
	case VIRTIO_BLK_T_DISCARD:
		submit_range(r, BLK_OP_DISCARD, out, e->nout, out_data);
		return;
	case VIRTIO_BLK_T_WRITE_ZEROES:
		submit_range(r, BLK_OP_WRITE_ZEROES, out, e->nout, out_data);
		return;
	default:
		complete(r, VIRTIO_BLK_S_UNSUPP);
		return;
	}
}

static void queue_notify(void *dev, unsigned int q)
{
	struct vblk *vb = dev;
	struct vblk_queue *vq = &vb->queues[q];
	do {
		while (vq->nfree) {
			uint16_t index = vq->free[vq->nfree - 1];
			struct vblk_req *r = &vq->reqs[index];
			if (vmmio_pop(&vb->mmio, q, &r->e) != VQ_GOT)
				break;
			vq->nfree--;
			/* Filled in here, not at init: a slot's pages are touched only once used. */
			r->vb = vb;
			r->q = q;
			r->index = index;
			handle(r);
		}
	} while (vq->nfree && vmmio_queue_idle(&vb->mmio, q));
}

static void reset(void *dev)
{
	struct vblk *vb = dev;
	blk_reset(vb->blk);
	vb->writeback = blk_has_volatile_cache(vb->blk);
	vb->config_wce = false;
}

static const struct vmmio_device_ops vblk_ops = {
	.device_id = VIRTIO_ID_BLOCK,
	.config_read = config_read,
	.config_write = config_write,
	.features_ok = features_ok,
	.queue_notify = queue_notify,
	.reset = reset,
};

int vblk_init(struct vblk *vb, struct blk *blk, int vm_fd, uint64_t base, unsigned int nqueues,
	      int irq_fd, struct loop *loop, const struct guest_mem *gm, struct vm_ctl *ctl)
{
	memset(vb, 0, sizeof(*vb));
	vb->blk = blk;
	vb->nqueues = nqueues;
	vb->writeback = blk_has_volatile_cache(blk);
	for (unsigned q = 0; q < nqueues; q++) {
		struct vblk_queue *vq = &vb->queues[q];
		/* Untouched pages of this cost nothing until requests use them. */
		vq->reqs = calloc(VQ_MAX_SIZE, sizeof(*vq->reqs));
		if (!vq->reqs)
			return -ENOMEM;
		for (unsigned i = 0; i < VQ_MAX_SIZE; i++)
			vq->free[i] = (uint16_t)(VQ_MAX_SIZE - 1 - i);
		vq->nfree = VQ_MAX_SIZE;
	}
	return vmmio_init(&vb->mmio, vm_fd, base, nqueues, irq_fd, &vblk_ops, vb,
			  vblk_features(blk, nqueues), loop, gm, ctl);
}

void vblk_destroy(struct vblk *vb)
{
	vmmio_destroy(&vb->mmio);
	for (unsigned q = 0; q < vb->nqueues; q++)
		free(vb->queues[q].reqs);
}

/*
 * virtio-vsock's device side (devices/virtio_vsock.h): config space, the
 * guest's packets on the TX queue, and what the device owes the guest —
 * resets, connection requests and responses, data, shutdowns, credit
 * updates — delivered on the RX queue, one connection after another.
 */
#include "devices/virtio_vsock.h"

#include <errno.h>
#include <linux/virtio_ids.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "vmm/container_of.h"
#include "vmm/log.h"

/* ---- config space (vCPU threads, under the transport's lock) ---- */

static void config_read(void *dev, uint64_t off, uint8_t *data, uint32_t len)
{
	struct vsock *v = dev;
	uint64_t cid = v->guest_cid; /* le64 guest_cid, the whole config space */
	if (off < sizeof(cid) && len <= sizeof(cid) - off)
		memcpy(data, (uint8_t *)&cid + off, len);
}

static void config_write(void *dev, uint64_t off, const uint8_t *data, uint32_t len)
{
	(void)dev, (void)off, (void)data, (void)len; /* read-only */
}

static void features_ok(void *dev, uint64_t features)
{
	(void)dev, (void)features;
}

/* ---- what the device owes the guest (loop thread) ---- */

void vsock_owe_reset(struct vsock *v, uint32_t host_port, uint32_t guest_port)
{
	if (v->reset_len == VSOCK_MAX_RESETS) {
		/* The guest is flooding: the oldest reset is dropped (its connect times out instead). */
		v->reset_head = (v->reset_head + 1) % VSOCK_MAX_RESETS;
		v->reset_len--;
	}
	v->resets[(v->reset_head + v->reset_len) % VSOCK_MAX_RESETS] =
		(struct vsock_reset){host_port, guest_port};
	v->reset_len++;
	vsock_wake_rx(v);
}

void vsock_wake_rx(struct vsock *v)
{
	if (v->rx_queued)
		return;
	v->rx_queued = true;
	loop_defer(v->loop, &v->rx_task);
}

static bool has_data(const struct vsock_conn *c)
{
	return c->state == VSC_ESTABLISHED && c->rx_off < c->rx_len && !c->guest_shut_rcv &&
	       vsock_conn_credit(c);
}

static bool owes_guest(const struct vsock_conn *c)
{
	if (c->state == VSC_FREE || c->state == VSC_CLOSING || c->state == VSC_HANDSHAKE)
		return false;
	return c->owed || has_data(c);
}

/* The next connection with something for the guest, round-robin from v->rr; NULL if none. */
static struct vsock_conn *next_owing(struct vsock *v)
{
	for (unsigned i = 0; i < VSOCK_MAX_CONNS; i++) {
		unsigned k = (v->rr + i) % VSOCK_MAX_CONNS;
		if (owes_guest(&v->conns[k]))
			return &v->conns[k];
	}
	return NULL;
}

static struct virtio_vsock_hdr packet(const struct vsock *v, uint32_t host_port,
				      uint32_t guest_port, uint16_t op)
{
	return (struct virtio_vsock_hdr){
		.src_cid = VSOCK_HOST_CID, .dst_cid = v->guest_cid, .src_port = host_port,
		.dst_port = guest_port, .type = VIRTIO_VSOCK_TYPE_STREAM, .op = op,
		.buf_alloc = VSOCK_CONN_BUF,
	};
}

/*
 * One packet of c's into the chain's writable buffers (room bytes of payload
 * fit after the header): its header in h, its payload (if any) written.
 * Order within a connection: the request or response first, then data, then
 * the shutdown (after the data it ends); a credit update rides on any.
 */
static void conn_packet(struct vsock *v, struct vsock_conn *c, const struct vq_elem *e,
			uint64_t room, struct virtio_vsock_hdr *h)
{
	if (c->owed & VSC_OWE_REQUEST) {
		c->owed &= ~(unsigned)VSC_OWE_REQUEST;
		*h = packet(v, c->host_port, c->guest_port, VIRTIO_VSOCK_OP_REQUEST);
	} else if (c->owed & VSC_OWE_RESPONSE) {
		c->owed &= ~(unsigned)VSC_OWE_RESPONSE;
		*h = packet(v, c->host_port, c->guest_port, VIRTIO_VSOCK_OP_RESPONSE);
	} else if (has_data(c) && room) {
		uint32_t n = c->rx_len - c->rx_off, credit = vsock_conn_credit(c);
		if (n > credit)
			n = credit;
		if (n > room)
			n = (uint32_t)room;
		*h = packet(v, c->host_port, c->guest_port, VIRTIO_VSOCK_OP_RW);
		h->len = n;
		const struct iovec *in = e->iov + e->nout;
		if (vq_buf_to_iov(in, e->nin, VSOCK_HDR_SIZE, c->rx + c->rx_off, n) != n) {
			/* A buffer outside guest RAM: the stream would have a hole. */
			v->bad_packets++;
			vsock_conn_close(c, true);
			h->op = VIRTIO_VSOCK_OP_RST;
			h->len = 0;
			return;
		}
		c->rx_off += n;
		c->rx_cnt += n;
		vsock_conn_delivered(c);
	} else if (c->owed & VSC_OWE_SHUTDOWN) {
		c->owed &= ~(unsigned)VSC_OWE_SHUTDOWN;
		*h = packet(v, c->host_port, c->guest_port, VIRTIO_VSOCK_OP_SHUTDOWN);
		h->flags = c->shutdown_flags;
	} else {
		*h = packet(v, c->host_port, c->guest_port, VIRTIO_VSOCK_OP_CREDIT_UPDATE);
	}
	c->owed &= ~(unsigned)VSC_OWE_CREDIT; /* every packet tells fwd_cnt */
	h->fwd_cnt = c->fwd_cnt;
	c->fwd_cnt_told = c->fwd_cnt;
}

/*
 * Fills one RX chain with an owed reset, or else with c's next packet (c is
 * then served last in the next round); returns the bytes written into it.
 */
static uint32_t fill_rx(struct vsock *v, struct vsock_conn *c, const struct vq_elem *e)
{
	if (e->bad_addr || e->in_len < VSOCK_HDR_SIZE) {
		v->bad_packets++;
		v->mmio.bad_requests++;
		return 0;
	}
	struct virtio_vsock_hdr h;
	if (v->reset_len) {
		struct vsock_reset r = v->resets[v->reset_head];
		v->reset_head = (v->reset_head + 1) % VSOCK_MAX_RESETS;
		v->reset_len--;
		h = packet(v, r.host_port, r.guest_port, VIRTIO_VSOCK_OP_RST);
		v->resets_sent++;
	} else {
		v->rr = (unsigned)(c - v->conns + 1) % VSOCK_MAX_CONNS;
		conn_packet(v, c, e, e->in_len - VSOCK_HDR_SIZE, &h);
	}
	const struct iovec *in = e->iov + e->nout;
	vq_buf_to_iov(in, e->nin, 0, &h, VSOCK_HDR_SIZE);
	return (uint32_t)(VSOCK_HDR_SIZE + h.len);
}

/*
 * Delivers what is owed while the guest has RX buffers. With nothing owed
 * the queue is held: the guest keeps it full, and polling it would keep the
 * loop awake for nothing.
 */
static void rx_serve(struct vsock *v)
{
	for (;;) {
		struct vsock_conn *c = v->reset_len ? NULL : next_owing(v);
		if (!v->reset_len && !c) {
			vmmio_hold_queue(&v->mmio, VSOCK_RX, true);
			return;
		}
		vmmio_hold_queue(&v->mmio, VSOCK_RX, false);
		if (vmmio_pop(&v->mmio, VSOCK_RX, &v->elem) != VQ_GOT) {
			if (vmmio_queue_idle(&v->mmio, VSOCK_RX))
				continue;
			return; /* the guest's next RX kick brings us back */
		}
		vmmio_complete(&v->mmio, VSOCK_RX, v->elem.head, fill_rx(v, c, &v->elem));
	}
}

static void rx_task(struct loop_task *t)
{
	struct vsock *v = container_of(t, struct vsock, rx_task);
	v->rx_queued = false;
	rx_serve(v);
}

/* ---- the guest's packets (loop thread) ---- */

/* A packet for a pair the device has no (or no fitting) connection for. */
static void refuse(struct vsock *v, struct vsock_conn *c, const struct virtio_vsock_hdr *h)
{
	if (c)
		vsock_conn_close(c, true);
	else
		vsock_owe_reset(v, h->dst_port, h->src_port);
}

static void guest_request(struct vsock *v, struct vsock_conn *c, const struct virtio_vsock_hdr *h)
{
	if (c) {
		refuse(v, c, h); /* a second request for a pair that is connected */
		return;
	}
	c = vsock_conn_new(v);
	if (!c) {
		v->conns_refused++;
		refuse(v, NULL, h);
		return;
	}
	c->host_port = h->dst_port;
	c->guest_port = h->src_port;
	c->peer_buf_alloc = h->buf_alloc;
	c->peer_fwd_cnt = h->fwd_cnt;
	vsock_conn_connect(c);
}

static void guest_rw(struct vsock *v, struct vsock_conn *c, const struct virtio_vsock_hdr *h,
		     const struct vq_elem *e)
{
	if (!c || c->state != VSC_ESTABLISHED || c->guest_shut_send) {
		refuse(v, c, h);
		return;
	}
	if (h->len > vsock_conn_tx_free(c)) {
		/* More than the credit we gave: the guest broke flow control, this connection ends. */
		v->credit_violations++;
		vsock_conn_close(c, true);
		return;
	}
	if (h->len)
		vsock_conn_queue_tx(c, e->iov, e->nout, VSOCK_HDR_SIZE, h->len);
}

static void guest_packet(struct vsock *v, const struct vq_elem *e)
{
	struct virtio_vsock_hdr h;
	if (e->bad_addr || e->out_len < VSOCK_HDR_SIZE ||
	    vq_iov_to_buf(e->iov, e->nout, 0, &h, VSOCK_HDR_SIZE) != VSOCK_HDR_SIZE) {
		v->bad_packets++;
		v->mmio.bad_requests++;
		return;
	}
	struct vsock_conn *c = vsock_conn_find(v, h.dst_port, h.src_port);
	switch (vsock_check_packet(&h, v->guest_cid, e->out_len - VSOCK_HDR_SIZE)) {
	case VSOCK_PKT_OK: break;
	case VSOCK_PKT_DROP: v->bad_packets++; return;
	case VSOCK_PKT_RST: v->bad_packets++; refuse(v, c, &h); return;
	}
	if (c) {
		/* Every packet carries the guest's credit. */
		c->peer_buf_alloc = h.buf_alloc;
		c->peer_fwd_cnt = h.fwd_cnt;
	}
	switch (h.op) {
	case VIRTIO_VSOCK_OP_REQUEST: guest_request(v, c, &h); return;
	case VIRTIO_VSOCK_OP_RESPONSE:
		if (c && c->state == VSC_REQUESTED && !(c->owed & VSC_OWE_REQUEST))
			vsock_conn_accepted(c);
		else
			refuse(v, c, &h);
		return;
	case VIRTIO_VSOCK_OP_RST:
		if (c)
			vsock_conn_close(c, false);
		return;
	case VIRTIO_VSOCK_OP_SHUTDOWN:
		if (c)
			vsock_conn_guest_shutdown(c, h.flags);
		else
			refuse(v, NULL, &h);
		return;
	case VIRTIO_VSOCK_OP_RW: guest_rw(v, c, &h, e); break;
	case VIRTIO_VSOCK_OP_CREDIT_UPDATE: break;
	case VIRTIO_VSOCK_OP_CREDIT_REQUEST:
		if (c) {
			c->owed |= VSC_OWE_CREDIT;
			vsock_wake_rx(v);
		}
		return;
	}
	/* The credit in RW and CREDIT_UPDATE may let more flow host → guest (unless RW ended c). */
	if (c && c->state == VSC_ESTABLISHED)
		vsock_conn_credit_changed(c);
}

static void tx_serve(struct vsock *v)
{
	do {
		while (vmmio_pop(&v->mmio, VSOCK_TX, &v->elem) == VQ_GOT) {
			guest_packet(v, &v->elem);
			vmmio_complete(&v->mmio, VSOCK_TX, v->elem.head, 0);
		}
	} while (vmmio_queue_idle(&v->mmio, VSOCK_TX));
}

static void queue_notify(void *dev, unsigned int q)
{
	struct vsock *v = dev;
	if (q == VSOCK_TX)
		tx_serve(v);
	else if (q == VSOCK_RX)
		rx_serve(v);
	else
		vmmio_hold_queue(&v->mmio, VSOCK_EVENT, true); /* kestrel sends no events */
}

static void reset(void *dev)
{
	struct vsock *v = dev;
	vsock_conn_reset_all(v);
	vmmio_hold_queue(&v->mmio, VSOCK_EVENT, true);
	vmmio_hold_queue(&v->mmio, VSOCK_RX, true);
}

static const struct vmmio_device_ops vsock_ops = {
	.device_id = VIRTIO_ID_VSOCK,
	.config_read = config_read,
	.config_write = config_write,
	.features_ok = features_ok,
	.queue_notify = queue_notify,
	.reset = reset,
};

int vsock_init(struct vsock *v, uint64_t guest_cid, const char *uds_path, int vm_fd,
	       uint64_t base, int irq_fd, struct loop *loop, const struct guest_mem *gm,
	       struct vm_ctl *ctl)
{
	memset(v, 0, sizeof(*v));
	v->loop = loop;
	v->guest_cid = guest_cid;
	v->listen_fd = -1;
	v->next_host_port = VSOCK_FIRST_HOST_PORT;
	v->rx_task.fn = rx_task;
	snprintf(v->uds_path, sizeof(v->uds_path), "%s", uds_path);
	for (unsigned i = 0; i < VSOCK_MAX_CONNS; i++)
		v->conns[i].fd = -1;
	int ret = vmmio_init(&v->mmio, vm_fd, base, VSOCK_NQUEUES, irq_fd, &vsock_ops, v, 0, loop,
			     gm, ctl);
	if (ret)
		return ret;
	vmmio_hold_queue(&v->mmio, VSOCK_EVENT, true);
	vmmio_hold_queue(&v->mmio, VSOCK_RX, true);
	return 0;
}

int vsock_listen(struct vsock *v, char *err, size_t errlen)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", v->uds_path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(fd, 64) < 0) {
		int e = errno;
		snprintf(err, errlen, "vsock uds_path '%s': %s%s", v->uds_path, strerror(e),
			 e == EADDRINUSE ? " (a file is there already: remove it first)" : "");
		if (fd >= 0)
			close(fd);
		return -e;
	}
	v->listen_fd = fd;
	return 0;
}

static void start_task(struct loop_task *t)
{
	vsock_accept_next(container_of(t, struct vsock, start_task));
}

void vsock_start(struct vsock *v)
{
	vmmio_start(&v->mmio);
	/* The first accept is submitted on the loop thread, as every ring operation is. */
	v->start_task.fn = start_task;
	loop_call(v->loop, &v->start_task);
}

void vsock_destroy(struct vsock *v)
{
	for (unsigned i = 0; i < VSOCK_MAX_CONNS; i++) {
		struct vsock_conn *c = &v->conns[i];
		if (c->state == VSC_FREE)
			continue;
		if (c->fd >= 0)
			close(c->fd);
		free(c->tx);
		free(c->rx);
		c->state = VSC_FREE;
	}
	if (v->listen_fd >= 0) {
		close(v->listen_fd);
		unlink(v->uds_path);
	}
	v->listen_fd = -1;
	vmmio_destroy(&v->mmio);
}

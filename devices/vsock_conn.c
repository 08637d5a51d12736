/*
 * The host side of virtio-vsock connections (devices/virtio_vsock.h): the
 * listening socket, host clients' CONNECT lines, connects to
 * <uds_path>_<port>, and the two pumps between each connection's buffers
 * and its AF_UNIX socket. Loop thread.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "devices/virtio_vsock.h"
#include "vmm/container_of.h"
#include "vmm/log.h"

static void maybe_free(struct vsock_conn *c)
{
	if (c->state != VSC_CLOSING || c->send_busy || c->recv_busy)
		return;
	if (c->fd >= 0)
		close(c->fd);
	free(c->tx);
	free(c->rx);
	struct vsock *v = c->dev;
	memset(c, 0, sizeof(*c));
	c->state = VSC_FREE;
	c->fd = -1;
	if (v->accept_paused) {
		v->accept_paused = false;
		vsock_accept_next(v);
	}
}

void vsock_conn_close(struct vsock_conn *c, bool reset)
{
	if (c->state == VSC_FREE || c->state == VSC_CLOSING)
		return;
	/* A client still on its CONNECT line is unknown to the guest. */
	if (reset && c->state != VSC_HANDSHAKE)
		vsock_owe_reset(c->dev, c->host_port, c->guest_port);
	c->state = VSC_CLOSING;
	c->owed = 0;
	/* Wakes the ring's recv and send on it with EOF or an error; then the slot is freed. */
	if (c->fd >= 0)
		shutdown(c->fd, SHUT_RDWR);
	maybe_free(c);
}

struct vsock_conn *vsock_conn_find(struct vsock *v, uint32_t host_port, uint32_t guest_port)
{
	for (unsigned i = 0; i < VSOCK_MAX_CONNS; i++) {
		struct vsock_conn *c = &v->conns[i];
		if (c->state != VSC_FREE && c->state != VSC_CLOSING && c->state != VSC_HANDSHAKE &&
		    c->host_port == host_port && c->guest_port == guest_port)
			return c;
	}
	return NULL;
}

static void send_done(struct loop_op *op, int res);
static void recv_done(struct loop_op *op, int res);

struct vsock_conn *vsock_conn_new(struct vsock *v)
{
	for (unsigned i = 0; i < VSOCK_MAX_CONNS; i++) {
		struct vsock_conn *c = &v->conns[i];
		if (c->state != VSC_FREE)
			continue;
		/* Allocated per connection: an idle device holds no buffers. */
		uint8_t *tx = malloc(VSOCK_CONN_BUF), *rx = malloc(VSOCK_CONN_BUF);
		if (!tx || !rx) {
			free(tx);
			free(rx);
			return NULL;
		}
		memset(c, 0, sizeof(*c));
		c->dev = v;
		c->fd = -1;
		c->tx = tx;
		c->rx = rx;
		c->send_op.cb = send_done;
		c->recv_op.cb = recv_done;
		return c;
	}
	return NULL;
}

uint32_t vsock_conn_credit(const struct vsock_conn *c)
{
	uint32_t in_flight = c->rx_cnt - c->peer_fwd_cnt; /* delivered, not yet read by the guest */
	return in_flight >= c->peer_buf_alloc ? 0 : c->peer_buf_alloc - in_flight;
}

/* Reads from the host what the guest has room for, once the last read was delivered. */
static void start_recv(struct vsock_conn *c)
{
	if (c->recv_busy || c->state != VSC_ESTABLISHED || c->host_eof || c->guest_shut_rcv ||
	    c->rx_len)
		return;
	uint32_t n = vsock_conn_credit(c);
	if (n > VSOCK_CONN_BUF)
		n = VSOCK_CONN_BUF;
	if (!n)
		return; /* the guest's next packet (a credit update) brings more */
	c->recv_busy = true;
	io_uring_prep_recv(loop_sqe(c->dev->loop, &c->recv_op), c->fd, c->rx, n, 0);
}

/* The host client's CONNECT line, read into rx (at most VSOCK_CONNECT_LINE_MAX bytes). */
static void recv_line(struct vsock_conn *c)
{
	c->recv_busy = true;
	io_uring_prep_recv(loop_sqe(c->dev->loop, &c->recv_op), c->fd, c->rx + c->rx_len,
			   VSOCK_CONNECT_LINE_MAX - c->rx_len, 0);
}

static uint32_t new_host_port(struct vsock *v)
{
	for (;;) {
		uint32_t p = v->next_host_port++;
		if (v->next_host_port < VSOCK_FIRST_HOST_PORT)
			v->next_host_port = VSOCK_FIRST_HOST_PORT;
		bool used = false;
		for (unsigned i = 0; i < VSOCK_MAX_CONNS && !used; i++)
			used = v->conns[i].state != VSC_FREE && v->conns[i].host_port == p;
		if (!used)
			return p;
	}
}

static void line_read(struct vsock_conn *c, int res)
{
	if (res <= 0) {
		vsock_conn_close(c, false);
		return;
	}
	c->rx_len += (uint32_t)res;
	uint32_t port;
	size_t taken;
	int got = vsock_parse_connect((const char *)c->rx, c->rx_len, &port, &taken);
	if (got == 0) {
		recv_line(c);
		return;
	}
	if (got < 0) {
		log_debug("vsock: a host client's first line is not 'CONNECT <port>': closed");
		vsock_conn_close(c, false);
		return;
	}
	/* Bytes after the line are the client's first data, for the guest once it accepts. */
	c->rx_len -= (uint32_t)taken;
	memmove(c->rx, c->rx + taken, c->rx_len);
	c->rx_off = 0;
	c->guest_port = port;
	c->host_port = new_host_port(c->dev);
	c->state = VSC_REQUESTED;
	c->owed |= VSC_OWE_REQUEST;
	vsock_wake_rx(c->dev);
}

static void recv_done(struct loop_op *op, int res)
{
	struct vsock_conn *c = container_of(op, struct vsock_conn, recv_op);
	c->recv_busy = false;
	if (c->state == VSC_CLOSING) {
		maybe_free(c);
		return;
	}
	if (c->state == VSC_HANDSHAKE) {
		line_read(c, res);
		return;
	}
	if (res < 0) {
		vsock_conn_close(c, true);
		return;
	}
	if (res == 0) {
		/* The client will send no more: the guest reads EOF after what it has. */
		c->host_eof = true;
		c->owed |= VSC_OWE_SHUTDOWN;
		c->shutdown_flags |= VIRTIO_VSOCK_SHUTDOWN_SEND;
	} else {
		c->rx_off = 0;
		c->rx_len = (uint32_t)res;
	}
	vsock_wake_rx(c->dev);
}

void vsock_conn_delivered(struct vsock_conn *c)
{
	if (c->rx_off < c->rx_len)
		return;
	c->rx_off = c->rx_len = 0;
	start_recv(c);
}

/* Writes what the guest sent (after a host client's OK line) to the socket, in order. */
static void send_pump(struct vsock_conn *c)
{
	if (c->send_busy || c->state != VSC_ESTABLISHED)
		return;
	struct io_uring_sqe *sqe;
	if (c->ok_sent < c->ok_len) {
		sqe = loop_sqe(c->dev->loop, &c->send_op);
		io_uring_prep_send(sqe, c->fd, c->ok_line + c->ok_sent, c->ok_len - c->ok_sent,
				   MSG_NOSIGNAL);
		c->send_busy = true;
		return;
	}
	if (c->tx_len) {
		uint32_t n = VSOCK_CONN_BUF - c->tx_head;
		if (n > c->tx_len)
			n = c->tx_len;
		sqe = loop_sqe(c->dev->loop, &c->send_op);
		io_uring_prep_send(sqe, c->fd, c->tx + c->tx_head, n, MSG_NOSIGNAL);
		c->send_busy = true;
		return;
	}
	/* Everything the guest sent is written. */
	if (c->closing_after_drain) {
		vsock_conn_close(c, true); /* the reset the guest waits for after its SHUTDOWN */
		return;
	}
	if (c->guest_shut_send && !c->host_shut_wr) {
		c->host_shut_wr = true;
		shutdown(c->fd, SHUT_WR);
	}
}

static void send_done(struct loop_op *op, int res)
{
	struct vsock_conn *c = container_of(op, struct vsock_conn, send_op);
	c->send_busy = false;
	if (c->state == VSC_CLOSING) {
		maybe_free(c);
		return;
	}
	if (res <= 0) {
		vsock_conn_close(c, true); /* the client went away: the guest's writes fail */
		return;
	}
	uint32_t n = (uint32_t)res;
	if (c->ok_sent < c->ok_len) {
		c->ok_sent += n;
	} else {
		c->tx_head = (c->tx_head + n) % VSOCK_CONN_BUF;
		c->tx_len -= n;
		c->fwd_cnt += n;
		/* Tell the guest its room grew once half the buffer is free again. */
		if (c->fwd_cnt - c->fwd_cnt_told >= VSOCK_CONN_BUF / 2) {
			c->owed |= VSC_OWE_CREDIT;
			vsock_wake_rx(c->dev);
		}
	}
	send_pump(c);
}

uint32_t vsock_conn_tx_free(const struct vsock_conn *c)
{
	return VSOCK_CONN_BUF - c->tx_len;
}

void vsock_conn_queue_tx(struct vsock_conn *c, const struct iovec *iov, unsigned n, uint64_t skip,
			 uint32_t len)
{
	uint32_t tail = (c->tx_head + c->tx_len) % VSOCK_CONN_BUF;
	uint32_t first = VSOCK_CONN_BUF - tail < len ? VSOCK_CONN_BUF - tail : len;
	uint64_t got = vq_iov_to_buf(iov, n, skip, c->tx + tail, first);
	if (got == first && len > first)
		got += vq_iov_to_buf(iov, n, skip + first, c->tx, len - first);
	if (got != len) {
		/* Part of the payload is outside guest RAM: the stream has a hole, so it ends. */
		vsock_conn_close(c, true);
		return;
	}
	c->tx_len += len;
	send_pump(c);
}

void vsock_conn_guest_shutdown(struct vsock_conn *c, uint32_t flags)
{
	if (flags & VIRTIO_VSOCK_SHUTDOWN_SEND)
		c->guest_shut_send = true;
	if (flags & VIRTIO_VSOCK_SHUTDOWN_RCV)
		c->guest_shut_rcv = true;
	if (c->state != VSC_ESTABLISHED) {
		vsock_conn_close(c, true);
		return;
	}
	if (c->guest_shut_send && c->guest_shut_rcv)
		c->closing_after_drain = true;
	send_pump(c);
}

void vsock_conn_credit_changed(struct vsock_conn *c)
{
	start_recv(c);
	if (c->rx_off < c->rx_len && vsock_conn_credit(c))
		vsock_wake_rx(c->dev);
}

void vsock_conn_accepted(struct vsock_conn *c)
{
	c->state = VSC_ESTABLISHED;
	c->dev->conns_opened++;
	c->ok_len = (uint32_t)snprintf(c->ok_line, sizeof(c->ok_line), "OK %u\n", c->host_port);
	send_pump(c);
	if (c->rx_len)
		vsock_wake_rx(c->dev); /* what the client sent after its CONNECT line */
	else
		start_recv(c);
}

void vsock_conn_connect(struct vsock_conn *c)
{
	struct vsock *v = c->dev;
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s_%u", v->uds_path, c->host_port);
	/* Non-blocking for the connect only: a full backlog is a refusal, not a wait. */
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
	    fcntl(c->fd, F_SETFL, O_RDWR) < 0) {
		log_debug("vsock: the guest's connection to port %u: %s: %s", c->host_port,
			  addr.sun_path, strerror(errno));
		v->conns_refused++;
		c->state = VSC_REQUESTED; /* the guest knows the pair: it gets its reset */
		vsock_conn_close(c, true);
		return;
	}
	c->state = VSC_ESTABLISHED;
	v->conns_opened++;
	c->owed |= VSC_OWE_RESPONSE;
	vsock_wake_rx(v);
	start_recv(c);
}

static void accept_done(struct loop_op *op, int res)
{
	struct vsock *v = container_of(op, struct vsock, accept_op);
	v->accepting = false;
	if (res >= 0) {
		struct vsock_conn *c = vsock_conn_new(v);
		if (!c) {
			/* Every slot is taken: this client is closed, the others go on. */
			v->conns_refused++;
			close(res);
		} else {
			c->fd = res;
			c->state = VSC_HANDSHAKE;
			recv_line(c);
		}
	} else if (res == -EMFILE || res == -ENFILE || res == -ENOBUFS || res == -ENOMEM) {
		/* Accepting again at once would spin: wait until a connection ends. */
		v->accept_paused = true;
		return;
	} else if (res == -EBADF || res == -EINVAL) {
		return; /* the listener is gone (exit) */
	}
	vsock_accept_next(v);
}

void vsock_accept_next(struct vsock *v)
{
	if (v->accepting || v->listen_fd < 0)
		return;
	v->accepting = true;
	v->accept_op.cb = accept_done;
	io_uring_prep_accept(loop_sqe(v->loop, &v->accept_op), v->listen_fd, NULL, NULL,
			     SOCK_CLOEXEC);
}

void vsock_conn_reset_all(struct vsock *v)
{
	for (unsigned i = 0; i < VSOCK_MAX_CONNS; i++)
		vsock_conn_close(&v->conns[i], false);
	v->reset_head = v->reset_len = 0;
}

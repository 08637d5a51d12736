/*
 * virtio-vsock (device ID 19) in Firecracker's "hybrid" design: the guest's
 * stream sockets to CID 2 become AF_UNIX connections on the host, all of it
 * on the io_uring loop: accept, recv and send are ring operations, and a
 * connect to an AF_UNIX socket never waits; no thread per connection.
 *
 *   host → guest: a client connects to uds_path and sends "CONNECT <port>\n";
 *                 the device asks the guest (REQUEST) and answers
 *                 "OK <hostport>\n" once the guest accepted (RESPONSE), or
 *                 closes the client if it refused (RST).
 *   guest → host: a guest connection to CID 2 port P is connected to the
 *                 AF_UNIX socket "<uds_path>_<P>"; if nobody listens, RST.
 *
 * Bounded by construction: at most VSOCK_MAX_CONNS connections, each with a
 * VSOCK_CONN_BUF buffer per direction, and credit-based flow control both
 * ways (the guest may not send more than our buffer takes — a guest that
 * does gets RST; we recv from the host only what the guest has room for),
 * so neither a flooding guest nor a host client that stops reading grows
 * kestrel's memory. A bad packet or a bad client ends only its connection.
 *
 * Threads: config space on vCPU threads (under the transport's lock); all
 * else on the loop thread. vsock_init and vsock_listen on the main thread.
 */
#ifndef KESTREL_VIRTIO_VSOCK_H
#define KESTREL_VIRTIO_VSOCK_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/virtio_mmio.h"
#include "devices/vsock_proto.h"
#include "vmm/config.h"

#define VSOCK_MAX_CONNS 64
#define VSOCK_CONN_BUF (64u << 10)   /* per direction per connection: our buf_alloc */
#define VSOCK_MAX_RESETS 64          /* resets owed to the guest for ports with no connection */


enum vsock_queue { VSOCK_RX, VSOCK_TX, VSOCK_EVENT, VSOCK_NQUEUES };

enum vsock_conn_state {
	VSC_FREE,
	VSC_HANDSHAKE,   /* host client accepted; reading its CONNECT line */
	VSC_REQUESTED,   /* REQUEST owed to or sent to the guest; waiting for RESPONSE */
	VSC_ESTABLISHED,
	VSC_CLOSING,     /* socket shut down; freed once its ring operations are back */
};

/* Control packets a connection owes the guest (bits). */
enum {
	VSC_OWE_REQUEST = 1,
	VSC_OWE_RESPONSE = 2,
	VSC_OWE_CREDIT = 4,
	VSC_OWE_SHUTDOWN = 8,
};

struct vsock;

struct vsock_conn {
	struct vsock *dev;
	enum vsock_conn_state state;
	int fd;
	uint32_t host_port;  /* our side's port */
	uint32_t guest_port;
	unsigned int owed;   /* VSC_OWE_* */
	uint32_t shutdown_flags; /* of the SHUTDOWN owed */

	/* guest → host: a ring of bytes the guest sent, not yet written to the socket */
	uint8_t *tx;
	uint32_t tx_head, tx_len;
	uint32_t fwd_cnt;        /* bytes written to the socket (what the guest's credit counts) */
	uint32_t fwd_cnt_told;   /* fwd_cnt in the last packet we sent */
	char ok_line[24];        /* host-initiated: "OK <port>\n", written before any data */
	uint32_t ok_len, ok_sent;
	bool guest_shut_send, guest_shut_rcv, host_shut_wr;

	/* host → guest: bytes read from the socket, not yet delivered */
	uint8_t *rx;
	uint32_t rx_off, rx_len;
	uint32_t rx_cnt;         /* bytes delivered to the guest */
	uint32_t peer_buf_alloc, peer_fwd_cnt; /* the guest's credit, from its last packet */
	bool host_eof;

	bool closing_after_drain; /* the guest shut both ways: RST once its bytes are written */

	bool send_busy, recv_busy;
	struct loop_op send_op, recv_op;
};

struct vsock_reset {
	uint32_t host_port, guest_port;
};

struct vsock {
	/* vsock_init fills every field; the loop thread owns them once the device runs. */
	struct vmmio mmio;
	struct loop *loop;
	uint64_t guest_cid;
	char uds_path[CONFIG_VSOCK_UDS_MAX + 1];
	int listen_fd;
	struct loop_op accept_op;
	bool accepting;
	bool accept_paused;      /* the host is out of descriptors: accept again once a slot frees */
	struct vsock_conn conns[VSOCK_MAX_CONNS];
	unsigned int rr;         /* where the next RX round starts */
	uint32_t next_host_port;
	struct vsock_reset resets[VSOCK_MAX_RESETS];
	unsigned int reset_head, reset_len;
	struct vq_elem elem;     /* the chain being handled (one at a time) */
	struct loop_task rx_task, start_task;
	bool rx_queued;

	/* stats */
	uint64_t conns_opened, conns_refused, bad_packets, resets_sent, credit_violations;
};

/*
 * The device for guest_cid at guest physical `base`. Main thread.
 * -errno on failure.
 */
__attribute__((warn_unused_result)) int vsock_init(struct vsock *v, uint64_t guest_cid,
						   const char *uds_path, int vm_fd, uint64_t base,
						   int irq_fd, struct loop *loop,
						   const struct guest_mem *gm, struct vm_ctl *ctl);
/*
 * Main thread, before the loop serves the device: binds and listens at
 * uds_path (which must not exist). -errno with a message.
 */
int vsock_listen(struct vsock *v, char *err, size_t errlen);
/* Main thread, loop started: accepting begins. */
void vsock_start(struct vsock *v);
/* Main thread, loop stopped: closes every socket and removes uds_path. */
void vsock_destroy(struct vsock *v);

/* Loop thread (vsock_conn.c ↔ virtio_vsock.c): the connection has something for the guest. */
void vsock_wake_rx(struct vsock *v);
/* Loop thread: a reset owed to the guest for a port pair without a connection. */
void vsock_owe_reset(struct vsock *v, uint32_t host_port, uint32_t guest_port);

/* vsock_conn.c: the host side of connections, on the loop thread. */
struct vsock_conn *vsock_conn_find(struct vsock *v, uint32_t host_port, uint32_t guest_port);
struct vsock_conn *vsock_conn_new(struct vsock *v);
/*
 * The guest asked for the host's port: connects c to <uds_path>_<port> at
 * once (AF_UNIX connects do not wait: refused or accepted into the
 * listener's backlog). On failure c is closed with a reset owed.
 */
void vsock_conn_connect(struct vsock_conn *c);
/* The guest accepted a host client's request. */
void vsock_conn_accepted(struct vsock_conn *c);
/* Room for the guest's payload on c; vsock_conn_queue_tx takes len ≤ that (the caller checks). */
uint32_t vsock_conn_tx_free(const struct vsock_conn *c);
void vsock_conn_queue_tx(struct vsock_conn *c, const struct iovec *iov, unsigned n, uint64_t skip,
			 uint32_t len);
/* The guest's SHUTDOWN flags, or its credit moved: the pumps may go on. */
void vsock_conn_guest_shutdown(struct vsock_conn *c, uint32_t flags);
void vsock_conn_credit_changed(struct vsock_conn *c);
/* Bytes read from the host were delivered: once all were, more may be read. */
void vsock_conn_delivered(struct vsock_conn *c);
/* What the guest's credit lets us deliver now. */
uint32_t vsock_conn_credit(const struct vsock_conn *c);
/* Ends c: its socket is shut, a reset is owed to the guest if `reset`, the slot freed when idle. */
void vsock_conn_close(struct vsock_conn *c, bool reset);
/* Loop thread: accepts host clients on the listening socket. */
void vsock_accept_next(struct vsock *v);
/* The device was reset by the guest: every connection ends, without packets. */
void vsock_conn_reset_all(struct vsock *v);

#endif

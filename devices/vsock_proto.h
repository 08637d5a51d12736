/*
 * virtio-vsock's wire rules, without a device: which guest packets are
 * acceptable (FACTS §4 and the virtio spec's vsock section), and the host
 * side's handshake line, Firecracker's "CONNECT <port>\n" (docs/vsock.md).
 * Pure functions: unit tests and the fuzz target call them directly.
 */
#ifndef KESTREL_VSOCK_PROTO_H
#define KESTREL_VSOCK_PROTO_H

#include <linux/virtio_vsock.h>
#include <stddef.h>
#include <stdint.h>

#define VSOCK_HOST_CID 2
#define VSOCK_MIN_GUEST_CID 3
#define VSOCK_HDR_SIZE sizeof(struct virtio_vsock_hdr) /* 44 */
/* The most payload one guest packet may carry: Linux sends at most 64 KiB. */
#define VSOCK_MAX_PAYLOAD (64u << 10)
/* The longest CONNECT line a host client may send, newline included. */
#define VSOCK_CONNECT_LINE_MAX 32
/* Host-side ports kestrel gives the connections host clients open, upward (Firecracker's). */
#define VSOCK_FIRST_HOST_PORT (1u << 30)

enum vsock_verdict {
	VSOCK_PKT_OK,
	VSOCK_PKT_DROP, /* nothing to answer: not addressed from this guest, or unreadable */
	VSOCK_PKT_RST,  /* answer with a reset: a connection the device cannot or will not have */
};

/*
 * A packet the guest put on the TX queue: its header h and `avail` bytes of
 * payload after it in the chain. OK means: from guest_cid, to the host, a
 * stream packet with a known op, whose len fits the chain and the limit.
 */
enum vsock_verdict vsock_check_packet(const struct virtio_vsock_hdr *h, uint64_t guest_cid,
				      uint64_t avail);

/*
 * The host client's first line, in buf[0..len): 1 with the port and the
 * bytes the line took (newline included; what follows is data), 0 if no
 * newline came yet and more may, -1 if it is not "CONNECT <port>\n"
 * (keyword in any case, a decimal port below 2^32) within
 * VSOCK_CONNECT_LINE_MAX bytes.
 */
int vsock_parse_connect(const char *buf, size_t len, uint32_t *port, size_t *taken);

#endif

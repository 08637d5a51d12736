/*
 * virtio-vsock's wire rules (devices/vsock_proto.c): which guest packets the
 * device takes, drops or answers with a reset, and the host client's
 * CONNECT line.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "devices/vsock_proto.h"

#define CID 7

static struct virtio_vsock_hdr pkt(uint16_t op, uint32_t len)
{
	return (struct virtio_vsock_hdr){.src_cid = CID, .dst_cid = VSOCK_HOST_CID, .src_port = 1234,
					 .dst_port = 52, .len = len, .type = VIRTIO_VSOCK_TYPE_STREAM,
					 .op = op};
}

Test(vsock_proto, the_header_is_the_virtio_specs_44_bytes)
{
	cr_assert_eq(VSOCK_HDR_SIZE, 44);
}

Test(vsock_proto, every_stream_op_from_the_guest_to_the_host_is_taken)
{
	for (uint16_t op = VIRTIO_VSOCK_OP_REQUEST; op <= VIRTIO_VSOCK_OP_CREDIT_REQUEST; op++) {
		struct virtio_vsock_hdr h = pkt(op, 0);
		cr_assert_eq(vsock_check_packet(&h, CID, 0), VSOCK_PKT_OK, "op %u", op);
	}
	struct virtio_vsock_hdr rw = pkt(VIRTIO_VSOCK_OP_RW, VSOCK_MAX_PAYLOAD);
	cr_assert_eq(vsock_check_packet(&rw, CID, VSOCK_MAX_PAYLOAD), VSOCK_PKT_OK);
}

Test(vsock_proto, bad_packets_are_dropped_or_reset_never_taken)
{
	struct virtio_vsock_hdr h = pkt(VIRTIO_VSOCK_OP_RW, 10);
	h.src_cid = CID + 1; /* another guest's: unanswerable */
	cr_assert_eq(vsock_check_packet(&h, CID, 10), VSOCK_PKT_DROP);
	h = pkt(VIRTIO_VSOCK_OP_REQUEST, 0);
	h.dst_cid = 1; /* not the host */
	cr_assert_eq(vsock_check_packet(&h, CID, 0), VSOCK_PKT_RST);
	h = pkt(VIRTIO_VSOCK_OP_REQUEST, 0);
	h.type = VIRTIO_VSOCK_TYPE_SEQPACKET; /* not offered */
	cr_assert_eq(vsock_check_packet(&h, CID, 0), VSOCK_PKT_RST);
	h = pkt(0, 0);
	cr_assert_eq(vsock_check_packet(&h, CID, 0), VSOCK_PKT_RST, "op 0");
	h = pkt(8, 0);
	cr_assert_eq(vsock_check_packet(&h, CID, 0), VSOCK_PKT_RST, "op 8");
	h = pkt(VIRTIO_VSOCK_OP_RW, 100); /* more than the chain holds */
	cr_assert_eq(vsock_check_packet(&h, CID, 99), VSOCK_PKT_RST);
	h = pkt(VIRTIO_VSOCK_OP_RW, VSOCK_MAX_PAYLOAD + 1);
	cr_assert_eq(vsock_check_packet(&h, CID, 1u << 20), VSOCK_PKT_RST);
	h = pkt(VIRTIO_VSOCK_OP_CREDIT_UPDATE, 4); /* payload on a control packet */
	cr_assert_eq(vsock_check_packet(&h, CID, 4), VSOCK_PKT_RST);
	/* A bad reset is never answered with a reset: two devices could ping-pong forever. */
	h = pkt(VIRTIO_VSOCK_OP_RST, 4);
	cr_assert_eq(vsock_check_packet(&h, CID, 4), VSOCK_PKT_DROP);
	h = pkt(VIRTIO_VSOCK_OP_RST, 0);
	h.dst_cid = 9;
	cr_assert_eq(vsock_check_packet(&h, CID, 0), VSOCK_PKT_DROP);
}

static int parse(const char *s, uint32_t *port, size_t *taken)
{
	return vsock_parse_connect(s, strlen(s), port, taken);
}

Test(vsock_proto, connect_lines_as_firecracker_takes_them)
{
	uint32_t port = 0;
	size_t taken = 0;
	cr_assert_eq(parse("CONNECT 52\n", &port, &taken), 1);
	cr_assert(port == 52 && taken == 11);
	cr_assert_eq(parse("connect 4294967295\nhello", &port, &taken), 1, "the keyword in any case");
	cr_assert(port == 4294967295u && taken == 19, "data after the line is not part of it");
	cr_assert_eq(parse("CoNnEcT 0\n", &port, &taken), 1);
	cr_assert_eq(port, 0);
}

Test(vsock_proto, incomplete_and_bad_connect_lines)
{
	uint32_t port;
	size_t taken;
	cr_assert_eq(parse("", &port, &taken), 0);
	cr_assert_eq(parse("CONNECT 5", &port, &taken), 0, "no newline yet: more may come");
	static const char *const bad[] = {
		"CONNECT\n", "CONNECT \n", "CONNECT x\n", "CONNECT 5 \n", "CONNECT -5\n",
		"CONNECT 4294967296\n", "CONNECT  5\n", "LISTEN 5\n", "CONNECT 5\r\n", "\n",
		"CONNECT 00000000000000000000000005\n", /* 35 bytes: past the 32-byte line */
		"CONNECT 0000000000000000000000005", /* 32 bytes and no newline: never a line */
	};
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(parse(bad[i], &port, &taken), -1, "'%s' was taken", bad[i]);
}

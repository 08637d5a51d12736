#include "devices/vsock_proto.h"

#include <string.h>
#include <strings.h>

enum vsock_verdict vsock_check_packet(const struct virtio_vsock_hdr *h, uint64_t guest_cid,
				      uint64_t avail)
{
	/* A packet that does not come from this guest cannot be answered to it. */
	if (h->src_cid != guest_cid)
		return VSOCK_PKT_DROP;
	if (h->dst_cid != VSOCK_HOST_CID || h->type != VIRTIO_VSOCK_TYPE_STREAM)
		return h->op == VIRTIO_VSOCK_OP_RST ? VSOCK_PKT_DROP : VSOCK_PKT_RST;
	if (h->op < VIRTIO_VSOCK_OP_REQUEST || h->op > VIRTIO_VSOCK_OP_CREDIT_REQUEST)
		return VSOCK_PKT_RST;
	/* Only RW carries payload; a len beyond the chain or the limit is a broken connection. */
	if (h->len > avail || h->len > VSOCK_MAX_PAYLOAD || (h->len && h->op != VIRTIO_VSOCK_OP_RW))
		return h->op == VIRTIO_VSOCK_OP_RST ? VSOCK_PKT_DROP : VSOCK_PKT_RST;
	return VSOCK_PKT_OK;
}

int vsock_parse_connect(const char *buf, size_t len, uint32_t *port, size_t *taken)
{
	const char *nl = memchr(buf, '\n', len < VSOCK_CONNECT_LINE_MAX ? len : VSOCK_CONNECT_LINE_MAX);
	if (!nl)
		return len < VSOCK_CONNECT_LINE_MAX ? 0 : -1;
	size_t n = (size_t)(nl - buf);
	static const char keyword[] = "CONNECT ";
	if (n <= sizeof(keyword) - 1 || strncasecmp(buf, keyword, sizeof(keyword) - 1))
		return -1;
	uint64_t v = 0;
	for (size_t i = sizeof(keyword) - 1; i < n; i++) {
		if (buf[i] < '0' || buf[i] > '9')
			return -1;
		v = v * 10 + (uint64_t)(buf[i] - '0');
		if (v > UINT32_MAX)
			return -1;
	}
	*port = (uint32_t)v;
	*taken = n + 1;
	return 1;
}

#include "boot/decompress.h"

#include <errno.h>
#include <lzma.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "boot/bytes.h"
#include "boot/bzimage.h"

static const uint8_t xz_magic[6] = {0xFD, '7', 'z', 'X', 'Z', 0x00};

int bzimage_decompress(const uint8_t *buf, size_t len, uint8_t **out, size_t *out_len,
		       char *err, size_t errlen)
{
	struct bzimage bz;
	const char *why;
	if (bzimage_parse(buf, len, &bz, &why)) {
		snprintf(err, errlen, "kernel: %s", why);
		return -ENOEXEC;
	}
	uint64_t off = (uint64_t)bz.kernel_offset + get_le32(buf + BZ_PAYLOAD_OFFSET);
	uint64_t plen = get_le32(buf + BZ_PAYLOAD_LENGTH);
	if (off > len || plen > len - off || plen < sizeof(xz_magic)) {
		snprintf(err, errlen, "kernel: payload lies outside the file");
		return -ENOEXEC;
	}
	if (memcmp(buf + off, xz_magic, sizeof(xz_magic))) {
		snprintf(err, errlen, "kernel: payload is not xz-compressed; "
				      "only xz kernels can be decompressed by kestrel");
		return -ENOTSUP;
	}

	lzma_stream strm = LZMA_STREAM_INIT;
	if (lzma_stream_decoder(&strm, UINT64_MAX, 0) != LZMA_OK) {
		snprintf(err, errlen, "kernel: cannot start the xz decoder");
		return -ENOMEM;
	}
	size_t cap = 64u << 20;
	uint8_t *dst = malloc(cap);
	int ret = dst ? 0 : -ENOMEM;
	strm.next_in = buf + off;
	strm.avail_in = plen;
	while (!ret) {
		if (strm.total_out == cap) {
			if (cap >= DECOMPRESS_MAX) {
				ret = -EFBIG;
				break;
			}
			uint8_t *bigger = realloc(dst, cap * 2);
			if (!bigger) {
				ret = -ENOMEM;
				break;
			}
			dst = bigger;
			cap *= 2;
		}
		strm.next_out = dst + strm.total_out;
		strm.avail_out = cap - strm.total_out;
		/*
		 * The payload ends with the kernel's 4-byte size trailer, which is
		 * not part of the xz stream: stop at the end of the stream.
		 */
		lzma_ret r = lzma_code(&strm, LZMA_FINISH);
		if (r == LZMA_STREAM_END)
			break;
		if (r != LZMA_OK && r != LZMA_BUF_ERROR)
			ret = -EINVAL;
		else if (r == LZMA_BUF_ERROR && strm.avail_out != 0)
			ret = -EINVAL; /* input ended inside the stream */
	}
	size_t total = strm.total_out;
	lzma_end(&strm);
	if (ret) {
		free(dst);
		snprintf(err, errlen, "kernel: decompressing the payload failed (%s)",
			 ret == -EFBIG ? "larger than 512 MiB" : ret == -ENOMEM ? "out of memory"
										: "corrupt xz data");
		return ret;
	}
	*out = dst;
	*out_len = total;
	return 0;
}

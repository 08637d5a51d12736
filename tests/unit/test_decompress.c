#include <criterion/criterion.h>
#include <errno.h>
#include <lzma.h>
#include <stdlib.h>
#include <string.h>

#include "boot/bytes.h"
#include "boot/bzimage.h"
#include "boot/decompress.h"
#include "tests/unit/fake_kernel.h"

/* A bzImage whose payload is `inner` compressed with xz, plus the size trailer. */
static uint8_t *bzimage_with_xz_payload(const uint8_t *inner, size_t inner_len, size_t *len)
{
	size_t cap = inner_len + 4096;
	uint8_t *xz = malloc(cap);
	size_t xz_len = 0;
	cr_assert_eq(lzma_easy_buffer_encode(6, LZMA_CHECK_CRC32, NULL, inner, inner_len, xz,
					     &xz_len, cap), LZMA_OK);
	size_t payload = xz_len + 4;
	uint8_t *b = fake_bzimage(64 << 20, payload + 64, len);
	const size_t at = 40 * 512 + 64; /* payload_offset 64 into the protected-mode part */
	memcpy(b + at, xz, xz_len);
	put_le32(b + at + xz_len, (uint32_t)inner_len);
	put_le32(b + BZ_PAYLOAD_OFFSET, 64);
	put_le32(b + BZ_PAYLOAD_LENGTH, (uint32_t)payload);
	free(xz);
	return b;
}

Test(decompress, xz_payload_round_trips)
{
	size_t vlen;
	uint8_t *vmlinux = fake_vmlinux(0x01000850, &vlen);
	size_t len;
	uint8_t *bz = bzimage_with_xz_payload(vmlinux, vlen, &len);
	uint8_t *out;
	size_t out_len;
	char err[256] = "";
	cr_assert_eq(bzimage_decompress(bz, len, &out, &out_len, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(out_len, vlen);
	cr_assert_eq(memcmp(out, vmlinux, vlen), 0);
	free(out);
	free(bz);
	free(vmlinux);
}

Test(decompress, non_xz_payload_is_refused_with_a_message)
{
	size_t len;
	uint8_t *bz = fake_bzimage(64 << 20, 4096, &len);
	put_le32(bz + BZ_PAYLOAD_OFFSET, 0);
	put_le32(bz + BZ_PAYLOAD_LENGTH, 1024);
	bz[40 * 512] = 0x1F; /* gzip magic */
	bz[40 * 512 + 1] = 0x8B;
	uint8_t *out;
	size_t out_len;
	char err[256] = "";
	cr_assert_eq(bzimage_decompress(bz, len, &out, &out_len, err, sizeof(err)), -ENOTSUP);
	cr_assert(strstr(err, "not xz"), "%s", err);
	free(bz);
}

Test(decompress, corrupt_or_out_of_file_payload_fails_cleanly)
{
	size_t vlen;
	uint8_t *vmlinux = fake_vmlinux(0, &vlen);
	size_t len;
	uint8_t *bz = bzimage_with_xz_payload(vmlinux, vlen, &len);
	uint8_t *out;
	size_t out_len;
	char err[256] = "";
	/* Flip bytes in the middle of the compressed stream. */
	for (size_t i = 40 * 512 + 64 + 40; i < 40 * 512 + 64 + 60; i++)
		bz[i] ^= 0x5A;
	cr_assert_lt(bzimage_decompress(bz, len, &out, &out_len, err, sizeof(err)), 0);
	cr_assert(strstr(err, "failed"), "%s", err);
	/* A payload that claims to run past the end of the file. */
	put_le32(bz + BZ_PAYLOAD_LENGTH, (uint32_t)len);
	cr_assert_eq(bzimage_decompress(bz, len, &out, &out_len, err, sizeof(err)), -ENOEXEC);
	cr_assert(strstr(err, "outside"), "%s", err);
	free(bz);
	free(vmlinux);
}

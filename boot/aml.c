#include "boot/aml.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "boot/bytes.h"

void aml_init(struct aml *a)
{
	memset(a, 0, sizeof(*a));
}

void aml_free(struct aml *a)
{
	free(a->buf);
	memset(a, 0, sizeof(*a));
}

void aml_bytes(struct aml *a, const void *p, size_t n)
{
	if (a->err)
		return;
	if (a->len + n > a->cap) {
		size_t cap = a->cap ? a->cap : 64;
		while (cap < a->len + n)
			cap *= 2;
		uint8_t *b = realloc(a->buf, cap);
		if (!b) {
			a->err = -ENOMEM;
			return;
		}
		a->buf = b;
		a->cap = cap;
	}
	memcpy(a->buf + a->len, p, n);
	a->len += n;
}

void aml_byte(struct aml *a, uint8_t b)
{
	aml_bytes(a, &b, 1);
}

void aml_pkglen(struct aml *a, size_t content)
{
	if (content + 1 <= 63) {
		aml_byte(a, (uint8_t)(content + 1));
		return;
	}
	/* Lead byte: bits 7:6 = count of following bytes, bits 3:0 = low nibble. */
	for (unsigned extra = 1; extra <= 3; extra++) {
		size_t total = content + 1 + extra;
		if (total < (1ull << (4 + 8 * extra))) {
			aml_byte(a, (uint8_t)((extra << 6) | (total & 0xF)));
			for (unsigned i = 0; i < extra; i++)
				aml_byte(a, (uint8_t)(total >> (4 + 8 * i)));
			return;
		}
	}
	a->err = -E2BIG;
}

void aml_nameseg(struct aml *a, const char *name)
{
	char seg[4] = {'_', '_', '_', '_'};
	for (unsigned i = 0; i < 4 && name[i]; i++)
		seg[i] = name[i];
	aml_bytes(a, seg, 4);
}

void aml_integer(struct aml *a, uint64_t v)
{
	uint8_t b[9];
	if (v == 0) {
		aml_byte(a, 0x00);
	} else if (v == 1) {
		aml_byte(a, 0x01);
	} else if (v <= 0xFF) {
		b[0] = 0x0A;
		b[1] = (uint8_t)v;
		aml_bytes(a, b, 2);
	} else if (v <= 0xFFFF) {
		b[0] = 0x0B;
		put_le16(b + 1, (uint16_t)v);
		aml_bytes(a, b, 3);
	} else if (v <= 0xFFFFFFFF) {
		b[0] = 0x0C;
		put_le32(b + 1, (uint32_t)v);
		aml_bytes(a, b, 5);
	} else {
		b[0] = 0x0E;
		put_le64(b + 1, v);
		aml_bytes(a, b, 9);
	}
}

void aml_string(struct aml *a, const char *s)
{
	aml_byte(a, 0x0D);
	aml_bytes(a, s, strlen(s) + 1);
}

void aml_eisaid(struct aml *a, const char *id)
{
	/* Three letters as 5-bit values, then four hex digits, big-endian. */
	uint16_t vendor = (uint16_t)(((id[0] - 0x40) & 0x1F) << 10 | ((id[1] - 0x40) & 0x1F) << 5 |
				     ((id[2] - 0x40) & 0x1F));
	uint16_t product = (uint16_t)strtoul(id + 3, NULL, 16);
	uint8_t b[5] = {0x0C, (uint8_t)(vendor >> 8), (uint8_t)vendor, (uint8_t)(product >> 8),
			(uint8_t)product};
	aml_bytes(a, b, 5);
}

void aml_name(struct aml *a, const char *name, const struct aml *value)
{
	aml_byte(a, 0x08);
	aml_nameseg(a, name);
	aml_bytes(a, value->buf, value->len);
	if (value->err)
		a->err = value->err;
}

static void named_container(struct aml *a, const uint8_t *op, size_t oplen, const char *name,
			    const struct aml *body)
{
	aml_bytes(a, op, oplen);
	aml_pkglen(a, 4 + body->len);
	aml_nameseg(a, name);
	aml_bytes(a, body->buf, body->len);
	if (body->err)
		a->err = body->err;
}

void aml_scope(struct aml *a, const char *name, const struct aml *body)
{
	static const uint8_t op[] = {0x10};
	named_container(a, op, sizeof(op), name, body);
}

void aml_device(struct aml *a, const char *name, const struct aml *body)
{
	static const uint8_t op[] = {0x5B, 0x82};
	named_container(a, op, sizeof(op), name, body);
}

void aml_package(struct aml *a, unsigned int count, const struct aml *elements)
{
	aml_byte(a, 0x12);
	aml_pkglen(a, 1 + elements->len);
	aml_byte(a, (uint8_t)count);
	aml_bytes(a, elements->buf, elements->len);
	if (elements->err)
		a->err = elements->err;
}

void aml_buffer(struct aml *a, const struct aml *bytes)
{
	struct aml size;
	aml_init(&size);
	aml_integer(&size, bytes->len);
	aml_byte(a, 0x11);
	aml_pkglen(a, size.len + bytes->len);
	aml_bytes(a, size.buf, size.len);
	aml_bytes(a, bytes->buf, bytes->len);
	if (size.err || bytes->err)
		a->err = size.err ? size.err : bytes->err;
	aml_free(&size);
}

void aml_res_io(struct aml *r, uint16_t base, uint8_t len)
{
	uint8_t b[8] = {0x47, 0x01, 0, 0, 0, 0, 0x00, len}; /* Decode16, min = max = base */
	put_le16(b + 2, base);
	put_le16(b + 4, base);
	aml_bytes(r, b, sizeof(b));
}

void aml_res_mem32(struct aml *r, uint32_t base, uint32_t len)
{
	uint8_t b[12] = {0x86, 0x09, 0x00, 0x01}; /* Memory32Fixed, ReadWrite */
	put_le32(b + 4, base);
	put_le32(b + 8, len);
	aml_bytes(r, b, sizeof(b));
}

void aml_res_irq(struct aml *r, uint32_t gsi, bool edge, bool active_low)
{
	/* Extended Interrupt, ResourceConsumer, Exclusive, one interrupt. */
	uint8_t flags = 0x01 | (edge ? 0x02 : 0) | (active_low ? 0x04 : 0);
	uint8_t b[9] = {0x89, 0x06, 0x00, flags, 0x01};
	put_le32(b + 5, gsi);
	aml_bytes(r, b, sizeof(b));
}

/*
 * Word (0x88) and DWord (0x87) Address Space Descriptors, ACPI 6.x 6.4.3.5:
 * producer, fixed minimum and maximum, positive decode (general flags 0x0C).
 */
static void res_word(struct aml *r, uint8_t type, uint8_t type_flags, uint16_t min, uint16_t len)
{
	uint8_t b[16] = {0x88, 0x0D, 0x00, type, 0x0C, type_flags};
	put_le16(b + 8, min);
	put_le16(b + 10, (uint16_t)(min + len - 1));
	put_le16(b + 14, len);
	aml_bytes(r, b, sizeof(b));
}

void aml_res_bus_numbers(struct aml *r, uint16_t first, uint16_t count)
{
	res_word(r, 2, 0x00, first, count);
}

void aml_res_io_window(struct aml *r, uint16_t base, uint16_t len)
{
	res_word(r, 1, 0x03, base, len); /* ISA and non-ISA ranges */
}

void aml_res_mem_window(struct aml *r, uint32_t base, uint32_t len)
{
	uint8_t b[26] = {0x87, 0x17, 0x00, 0, 0x0C, 0x01}; /* memory, read-write, non-cacheable */
	put_le32(b + 10, base);
	put_le32(b + 14, base + len - 1);
	put_le32(b + 22, len);
	aml_bytes(r, b, sizeof(b));
}

void aml_res_end(struct aml *r)
{
	static const uint8_t end[] = {0x79, 0x00};
	aml_bytes(r, end, sizeof(end));
}

#include <criterion/criterion.h>
#include <string.h>

#include "boot/aml.h"

static void expect(const struct aml *a, const uint8_t *want, size_t len)
{
	cr_assert_eq(a->err, 0);
	cr_assert_eq(a->len, len, "length %zu, want %zu", a->len, len);
	for (size_t i = 0; i < len; i++)
		cr_assert_eq(a->buf[i], want[i], "byte %zu: %02x, want %02x", i, a->buf[i], want[i]);
}

struct pkglen_case {
	size_t content;
	uint8_t bytes[4];
	size_t n;
};

Test(aml, pkglen_encodings)
{
	/* content + own length = total; one byte up to 63, then 2, 3, 4 bytes. */
	const struct pkglen_case cases[] = {
		{0, {0x01}, 1},
		{62, {0x3F}, 1},
		{63, {0x41, 0x04}, 2},          /* total 65 = 0x41 */
		{0x115, {0x47, 0x11}, 2},       /* total 0x117, as iasl writes it */
		{0x62, {0x44, 0x06}, 2},        /* total 0x64 */
		{0xFFD, {0x4F, 0xFF}, 2},       /* total 0xFFF: the largest 2-byte form */
		{0xFFE, {0x81, 0x00, 0x01}, 3}, /* total 0x1001 needs 3 bytes */
	};
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct aml a;
		aml_init(&a);
		aml_pkglen(&a, cases[i].content);
		expect(&a, cases[i].bytes, cases[i].n);
		aml_free(&a);
	}
}

Test(aml, integers_use_the_shortest_form)
{
	struct aml a;
	aml_init(&a);
	aml_integer(&a, 0);
	aml_integer(&a, 1);
	aml_integer(&a, 5);
	aml_integer(&a, 0x3F8);
	aml_integer(&a, 0xD0000000);
	aml_integer(&a, 0x100000000ull);
	const uint8_t want[] = {0x00, 0x01, 0x0A, 0x05, 0x0B, 0xF8, 0x03, 0x0C, 0x00, 0x00, 0x00, 0xD0,
				0x0E, 0, 0, 0, 0, 1, 0, 0, 0};
	expect(&a, want, sizeof(want));
	aml_free(&a);
}

Test(aml, eisa_ids)
{
	struct aml a;
	aml_init(&a);
	aml_eisaid(&a, "PNP0A03");
	aml_eisaid(&a, "PNP0501");
	const uint8_t want[] = {0x0C, 0x41, 0xD0, 0x0A, 0x03, 0x0C, 0x41, 0xD0, 0x05, 0x01};
	expect(&a, want, sizeof(want));
	aml_free(&a);
}

/* The virtio-mmio device example that was checked byte for byte against iasl. */
Test(aml, device_with_resources_matches_iasl)
{
	struct aml body, v, res, buf, out;
	aml_init(&body);
	aml_init(&v);
	aml_string(&v, "LNRO0005");
	aml_name(&body, "_HID", &v);
	aml_free(&v);
	aml_init(&v);
	aml_integer(&v, 0);
	aml_name(&body, "_UID", &v);
	aml_free(&v);
	aml_init(&res);
	aml_res_mem32(&res, 0xD0000000, 0x200);
	aml_res_irq(&res, 5, true, false);
	aml_res_end(&res);
	aml_init(&buf);
	aml_buffer(&buf, &res);
	aml_name(&body, "_CRS", &buf);
	aml_init(&out);
	aml_device(&out, "VR00", &body);
	const uint8_t want[] = {
		0x5B, 0x82, 0x3A, 0x56, 0x52, 0x30, 0x30,
		0x08, 0x5F, 0x48, 0x49, 0x44, 0x0D, 0x4C, 0x4E, 0x52, 0x4F, 0x30, 0x30, 0x30, 0x35, 0x00,
		0x08, 0x5F, 0x55, 0x49, 0x44, 0x00,
		0x08, 0x5F, 0x43, 0x52, 0x53, 0x11, 0x1A, 0x0A, 0x17,
		0x86, 0x09, 0x00, 0x01, 0x00, 0x00, 0x00, 0xD0, 0x00, 0x02, 0x00, 0x00,
		0x89, 0x06, 0x00, 0x03, 0x01, 0x05, 0x00, 0x00, 0x00,
		0x79, 0x00,
	};
	expect(&out, want, sizeof(want));
	aml_free(&out);
	aml_free(&buf);
	aml_free(&res);
	aml_free(&body);
}

Test(aml, s5_package)
{
	struct aml v, pkg, out;
	aml_init(&v);
	aml_integer(&v, 5);
	aml_integer(&v, 0);
	aml_integer(&v, 0);
	aml_integer(&v, 0);
	aml_init(&pkg);
	aml_package(&pkg, 4, &v);
	aml_init(&out);
	aml_name(&out, "_S5", &pkg);
	const uint8_t want[] = {0x08, 0x5F, 0x53, 0x35, 0x5F, 0x12, 0x07, 0x04, 0x0A, 0x05, 0x00, 0x00, 0x00};
	expect(&out, want, sizeof(want));
	aml_free(&out);
	aml_free(&pkg);
	aml_free(&v);
}

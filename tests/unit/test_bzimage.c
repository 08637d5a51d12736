#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>

#include "boot/bytes.h"
#include "boot/bzimage.h"
#include "tests/unit/fake_kernel.h"

Test(bzimage, parses_a_debian_shaped_header)
{
	size_t len;
	uint8_t *b = fake_bzimage(0x03F98000, 4096, &len);
	struct bzimage bz;
	const char *why = NULL;
	cr_assert_eq(bzimage_parse(b, len, &bz, &why), 0, "%s", why);
	cr_assert_eq(bz.version, 0x020F);
	cr_assert_eq(bz.kernel_offset, 40 * 512);
	cr_assert_eq(bz.kernel_size, 4096);
	cr_assert_eq(bz.pref_address, 0x1000000);
	cr_assert_eq(bz.init_size, 0x03F98000);
	cr_assert_eq(bz.cmdline_size, 2047);
	cr_assert_eq(bz.header_end, 0x26C);
	free(b);
}

Test(bzimage, rejects_truncated_file)
{
	size_t len;
	uint8_t *b = fake_bzimage(0x100000, 4096, &len);
	struct bzimage bz;
	const char *why = NULL;
	/* Cut inside the setup header. */
	cr_assert_eq(bzimage_parse(b, 0x200, &bz, &why), -ENOEXEC);
	cr_assert(strstr(why, "short"), "%s", why);
	/* Cut after the setup sectors but before syssize says the kernel ends. */
	cr_assert_eq(bzimage_parse(b, len - 100, &bz, &why), -ENOEXEC);
	cr_assert(strstr(why, "truncated"), "%s", why);
	/* No protected-mode part at all. */
	cr_assert_eq(bzimage_parse(b, 40 * 512, &bz, &why), -ENOEXEC);
	free(b);
}

Test(bzimage, rejects_wrong_magic)
{
	size_t len;
	uint8_t *b = fake_bzimage(0x100000, 4096, &len);
	struct bzimage bz;
	const char *why = NULL;
	b[BZ_HEADER] = 'X';
	cr_assert_not(bzimage_probe(b, len));
	cr_assert_eq(bzimage_parse(b, len, &bz, &why), -ENOEXEC);
	cr_assert(strstr(why, "not a bzImage"), "%s", why);
	b[BZ_HEADER] = 'H';
	put_le16(b + BZ_BOOT_FLAG, 0x1234);
	cr_assert_eq(bzimage_parse(b, len, &bz, &why), -ENOEXEC);
	free(b);
}

Test(bzimage, rejects_too_old_protocol_and_no_64bit_entry)
{
	size_t len;
	uint8_t *b = fake_bzimage(0x100000, 4096, &len);
	struct bzimage bz;
	const char *why = NULL;
	put_le16(b + BZ_VERSION, 0x020B);
	cr_assert_eq(bzimage_parse(b, len, &bz, &why), -ENOEXEC);
	cr_assert(strstr(why, "2.12"), "%s", why);
	put_le16(b + BZ_VERSION, 0x020F);
	put_le16(b + BZ_XLOADFLAGS, 0);
	cr_assert_eq(bzimage_parse(b, len, &bz, &why), -ENOEXEC);
	cr_assert(strstr(why, "64-bit"), "%s", why);
	put_le16(b + BZ_XLOADFLAGS, 1);
	b[BZ_LOADFLAGS] = 0;
	cr_assert_eq(bzimage_parse(b, len, &bz, &why), -ENOEXEC);
	free(b);
}

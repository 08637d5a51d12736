#include <criterion/criterion.h>
#include <elf.h>
#include <errno.h>
#include <stdlib.h>

#include "boot/bytes.h"
#include "boot/elf.h"
#include "tests/unit/fake_kernel.h"

Test(elf, finds_segments_and_pvh_note)
{
	size_t len;
	uint8_t *b = fake_vmlinux(0x01000850, &len);
	struct elf_kernel k;
	const char *why = NULL;
	cr_assert_eq(elf_parse(b, len, &k, &why), 0, "%s", why);
	cr_assert(k.has_pvh);
	cr_assert_eq(k.pvh_entry, 0x01000850);
	cr_assert_eq(k.entry, 0x1000000);
	cr_assert_eq(k.nsegs, 1);
	cr_assert_eq(k.segs[0].memsz, 8192);
	cr_assert_eq(k.load_end, 0x1000000 + 8192);
	free(b);
}

Test(elf, no_note_means_no_pvh)
{
	size_t len;
	uint8_t *b = fake_vmlinux(0, &len);
	struct elf_kernel k;
	const char *why = NULL;
	cr_assert_eq(elf_parse(b, len, &k, &why), 0, "%s", why);
	cr_assert_not(k.has_pvh);
	free(b);
}

Test(elf, rejects_note_whose_name_runs_past_the_segment)
{
	size_t len;
	uint8_t *b = fake_vmlinux(0x01000850, &len);
	put_le32(b + 0x200, 0xFFFFFFF0); /* namesz: huge, would wrap a 32-bit sum */
	struct elf_kernel k;
	const char *why = NULL;
	cr_assert_eq(elf_parse(b, len, &k, &why), -ENOEXEC);
	cr_assert(strstr(why, "note"), "%s", why);
	free(b);
}

Test(elf, rejects_note_whose_desc_runs_past_the_segment)
{
	size_t len;
	uint8_t *b = fake_vmlinux(0x01000850, &len);
	put_le32(b + 0x204, 64); /* descsz beyond the 20-byte note segment */
	struct elf_kernel k;
	const char *why = NULL;
	cr_assert_eq(elf_parse(b, len, &k, &why), -ENOEXEC);
	free(b);
}

Test(elf, rejects_short_pvh_desc)
{
	size_t len;
	uint8_t *b = fake_vmlinux(0x01000850, &len);
	put_le32(b + 0x204, 2);
	struct elf_kernel k;
	const char *why = NULL;
	cr_assert_eq(elf_parse(b, len, &k, &why), -ENOEXEC);
	free(b);
}

Test(elf, rejects_segments_outside_the_file)
{
	size_t len;
	uint8_t *b = fake_vmlinux(0, &len);
	Elf64_Phdr ph;
	memcpy(&ph, b + sizeof(Elf64_Ehdr), sizeof(ph));
	ph.p_offset = len - 10; /* filesz 4096 runs off the end */
	memcpy(b + sizeof(Elf64_Ehdr), &ph, sizeof(ph));
	struct elf_kernel k;
	const char *why = NULL;
	cr_assert_eq(elf_parse(b, len, &k, &why), -ENOEXEC);
	free(b);
}

Test(elf, rejects_program_headers_outside_the_file_and_non_elf)
{
	size_t len;
	uint8_t *b = fake_vmlinux(0, &len);
	struct elf_kernel k;
	const char *why = NULL;
	cr_assert_eq(elf_parse(b, 100, &k, &why), -ENOEXEC);
	b[0] = 0;
	cr_assert_eq(elf_parse(b, len, &k, &why), -ENOEXEC);
	free(b);
}

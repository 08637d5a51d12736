#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "boot/bytes.h"
#include "boot/bzimage.h"
#include "boot/layout.h"
#include "boot/linux.h"
#include "tests/unit/fake_kernel.h"

#define MiB (1024ull * 1024)

static struct guest_mem gm;
static uint8_t *ram;

static void make_ram(uint64_t size)
{
	memset(&gm, 0, sizeof(gm));
	ram = calloc(1, size);
	cr_assert_not_null(ram);
	cr_assert_eq(gm_add_region(&gm, 0, size, ram), 0);
}

static void free_ram(void)
{
	free(ram);
}

TestSuite(boot_linux, .fini = free_ram);

Test(boot_linux, e820_has_low_ram_reserved_bios_area_and_high_ram)
{
	make_ram(256 * MiB);
	struct e820_entry e[E820_MAX];
	unsigned n = linux_e820(&gm, e, E820_MAX);
	cr_assert_eq(n, 4);
	cr_assert_eq(e[0].addr, 0);
	cr_assert_eq(e[0].size, LAYOUT_LOW_RAM_END);
	cr_assert_eq(e[0].type, E820_RAM);
	cr_assert_eq(e[2].addr, LAYOUT_ACPI);
	cr_assert_eq(e[2].type, E820_RESERVED);
	cr_assert_eq(e[3].addr, LAYOUT_HIMEM);
	cr_assert_eq(e[3].addr + e[3].size, 256 * MiB);
	cr_assert_eq(e[3].type, E820_RAM);
}

Test(boot_linux, bzimage_boot_params_cmdline_initrd_and_entry)
{
	make_ram(256 * MiB);
	size_t klen;
	uint8_t *k = fake_bzimage(64 * MiB, 8192, &klen);
	uint8_t initrd[10000];
	memset(initrd, 0x5A, sizeof(initrd));
	struct linux_image img = {.kernel = k, .kernel_len = klen, .kernel_fd = -1, .initrd = initrd, .initrd_len = sizeof(initrd), .initrd_fd = -1, .cmdline = "console=ttyS0 quiet", .entry = BOOT_ENTRY_AUTO};
	struct linux_entry entry;
	char err[256] = "";
	cr_assert_eq(linux_load(&gm, &img, LAYOUT_ACPI, &entry, err, sizeof(err)), 0, "%s", err);

	cr_assert_eq(entry.mode, LINUX_ENTRY_64);
	cr_assert_eq(entry.rip, 0x1000000 + 0x200);
	cr_assert_eq(entry.arg, LAYOUT_BOOT_PARAMS);
	/* The protected-mode kernel is at its preferred address. */
	cr_assert_eq(memcmp(ram + 0x1000000, k + 40 * 512, 8192), 0);

	const uint8_t *bp = ram + LAYOUT_BOOT_PARAMS;
	cr_assert_eq(get_le32(bp + BZ_HEADER), BZ_MAGIC, "setup header copied");
	cr_assert_eq(bp[BZ_TYPE_OF_LOADER], 0xFF);
	cr_assert_eq(get_le64(bp + 0x070), LAYOUT_ACPI, "acpi_rsdp_addr");
	cr_assert_eq(get_le32(bp + BZ_CMD_LINE_PTR), LAYOUT_CMDLINE);
	cr_assert_str_eq((const char *)ram + LAYOUT_CMDLINE, "console=ttyS0 quiet");
	cr_assert_eq(bp[0x1EF], 0, "sentinel stays zero");

	uint32_t rd = get_le32(bp + BZ_RAMDISK_IMAGE);
	cr_assert_eq(get_le32(bp + BZ_RAMDISK_SIZE), sizeof(initrd));
	cr_assert_eq(rd % 4096, 0, "initrd page-aligned");
	cr_assert_geq(rd, 0x1000000 + 64 * MiB, "initrd above the kernel's unpack area");
	cr_assert_leq(rd + sizeof(initrd), 256 * MiB);
	cr_assert_eq(memcmp(ram + rd, initrd, sizeof(initrd)), 0);

	unsigned n = bp[0x1E8];
	cr_assert_eq(n, 4);
	struct e820_entry last;
	memcpy(&last, bp + 0x2D0 + (n - 1) * 20, sizeof(last));
	cr_assert_eq(last.addr + last.size, 256 * MiB);
	free(k);
}

Test(boot_linux, mem_smaller_than_init_size_is_refused)
{
	make_ram(64 * MiB);
	size_t klen;
	uint8_t *k = fake_bzimage(0x03F98000, 4096, &klen);
	struct linux_image img = {.kernel = k, .kernel_len = klen, .kernel_fd = -1, .initrd = NULL, .initrd_len = 0, .initrd_fd = -1, .cmdline = "x", .entry = BOOT_ENTRY_AUTO};
	struct linux_entry entry;
	char err[256] = "";
	cr_assert_lt(linux_load(&gm, &img, LAYOUT_ACPI, &entry, err, sizeof(err)), 0);
	cr_assert(strstr(err, "--mem is too small"), "%s", err);
	cr_assert(strstr(err, "80 MiB"), "names what it needs: %s", err);
	free(k);
}

Test(boot_linux, initrd_that_does_not_fit_is_refused)
{
	make_ram(96 * MiB);
	size_t klen;
	uint8_t *k = fake_bzimage(64 * MiB, 4096, &klen);
	size_t ilen = 20 * MiB; /* only 16 MiB remain above 16 + 64 MiB */
	uint8_t *initrd = calloc(1, ilen);
	struct linux_image img = {.kernel = k, .kernel_len = klen, .kernel_fd = -1, .initrd = initrd, .initrd_len = ilen, .initrd_fd = -1, .cmdline = "x", .entry = BOOT_ENTRY_AUTO};
	struct linux_entry entry;
	char err[256] = "";
	cr_assert_lt(linux_load(&gm, &img, LAYOUT_ACPI, &entry, err, sizeof(err)), 0);
	cr_assert(strstr(err, "initrd"), "%s", err);
	cr_assert(strstr(err, "does not fit"), "%s", err);
	free(initrd);
	free(k);
}

Test(boot_linux, cmdline_longer_than_the_kernel_takes_is_refused)
{
	make_ram(256 * MiB);
	size_t klen;
	uint8_t *k = fake_bzimage(64 * MiB, 4096, &klen);
	char *cmd = malloc(3000);
	memset(cmd, 'a', 2999);
	cmd[2999] = 0;
	struct linux_image img = {.kernel = k, .kernel_len = klen, .kernel_fd = -1, .initrd = NULL, .initrd_len = 0, .initrd_fd = -1, .cmdline = cmd, .entry = BOOT_ENTRY_AUTO};
	struct linux_entry entry;
	char err[256] = "";
	cr_assert_lt(linux_load(&gm, &img, LAYOUT_ACPI, &entry, err, sizeof(err)), 0);
	cr_assert(strstr(err, "2047"), "%s", err);
	free(cmd);
	free(k);
}

Test(boot_linux, not_a_kernel_is_refused)
{
	make_ram(256 * MiB);
	uint8_t junk[4096];
	memset(junk, 0x42, sizeof(junk));
	struct linux_image img = {.kernel = junk, .kernel_len = sizeof(junk), .kernel_fd = -1, .initrd = NULL, .initrd_len = 0, .initrd_fd = -1, .cmdline = "x", .entry = BOOT_ENTRY_AUTO};
	struct linux_entry entry;
	char err[256] = "";
	cr_assert_lt(linux_load(&gm, &img, LAYOUT_ACPI, &entry, err, sizeof(err)), 0);
	cr_assert(strstr(err, "neither a bzImage nor an ELF"), "%s", err);
}

/* What main() checks before it opens /dev/kvm: no guest memory, the same verdicts. */
Test(boot_linux, the_kernel_is_checked_without_guest_memory)
{
	uint8_t junk[4096];
	memset(junk, 0x42, sizeof(junk));
	struct linux_image img = {.kernel = junk, .kernel_len = sizeof(junk), .entry = BOOT_ENTRY_AUTO};
	char err[256] = "";
	cr_assert_lt(linux_check(&img, 256 * MiB, err, sizeof(err)), 0);
	cr_assert(strstr(err, "neither a bzImage nor an ELF"), "%s", err);
	size_t klen;
	uint8_t *k = fake_bzimage(0x03F98000, 4096, &klen);
	img = (struct linux_image){.kernel = k, .kernel_len = klen, .entry = BOOT_ENTRY_AUTO};
	cr_assert_lt(linux_check(&img, 64 * MiB, err, sizeof(err)), 0);
	cr_assert(strstr(err, "--mem is too small"), "%s", err);
	cr_assert_eq(linux_check(&img, 128 * MiB, err, sizeof(err)), 0, "%s", err);
	img.kernel_len = 600; /* truncated inside the setup sectors */
	cr_assert_lt(linux_check(&img, 128 * MiB, err, sizeof(err)), 0);
	cr_assert(strstr(err, "kernel: "), "%s", err);
	img.kernel_len = klen;
	img.entry = BOOT_ENTRY_PVH;
	cr_assert_lt(linux_check(&img, 128 * MiB, err, sizeof(err)), 0);
	cr_assert(strstr(err, "--boot-entry applies to an ELF"), "%s", err);
	free(k);
}

Test(boot_linux, pvh_start_info_and_entry)
{
	make_ram(256 * MiB);
	size_t klen;
	uint8_t *k = fake_vmlinux(0x01000850, &klen);
	uint8_t initrd[5000] = {1, 2, 3};
	struct linux_image img = {.kernel = k, .kernel_len = klen, .kernel_fd = -1, .initrd = initrd, .initrd_len = sizeof(initrd), .initrd_fd = -1, .cmdline = "console=ttyS0", .entry = BOOT_ENTRY_AUTO};
	struct linux_entry entry;
	char err[256] = "";
	cr_assert_eq(linux_load(&gm, &img, LAYOUT_ACPI, &entry, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(entry.mode, LINUX_ENTRY_PVH);
	cr_assert_eq(entry.rip, 0x01000850);
	cr_assert_eq(entry.arg, LAYOUT_START_INFO);
	const uint8_t *si = ram + LAYOUT_START_INFO;
	cr_assert_eq(get_le32(si), 0x336EC578);
	cr_assert_eq(get_le32(si + 12), 1, "one module: the initrd");
	cr_assert_eq(get_le64(si + 24), LAYOUT_CMDLINE);
	cr_assert_eq(get_le64(si + 32), LAYOUT_ACPI);
	uint64_t mod = get_le64(si + 16);
	uint64_t rd = get_le64(ram + mod);
	cr_assert_eq(get_le64(ram + mod + 8), sizeof(initrd));
	cr_assert_eq(memcmp(ram + rd, initrd, sizeof(initrd)), 0);
	cr_assert_eq(get_le32(si + 48), 4, "memory map entries");
	/* Segment loaded, bss zeroed. */
	cr_assert_eq(ram[0x1000000], 0xCC);
	cr_assert_eq(ram[0x1000000 + 4096], 0);
	free(k);
}

Test(boot_linux, elf_without_pvh_uses_the_64bit_entry_and_forced_pvh_is_refused)
{
	make_ram(256 * MiB);
	size_t klen;
	uint8_t *k = fake_vmlinux(0, &klen);
	struct linux_image img = {.kernel = k, .kernel_len = klen, .kernel_fd = -1, .initrd = NULL, .initrd_len = 0, .initrd_fd = -1, .cmdline = "console=ttyS0", .entry = BOOT_ENTRY_AUTO};
	struct linux_entry entry;
	char err[256] = "";
	cr_assert_eq(linux_load(&gm, &img, LAYOUT_ACPI, &entry, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(entry.mode, LINUX_ENTRY_64);
	cr_assert_eq(entry.rip, 0x1000000);
	cr_assert_eq(get_le32(ram + LAYOUT_BOOT_PARAMS + BZ_HEADER), BZ_MAGIC);
	img.entry = BOOT_ENTRY_PVH;
	cr_assert_lt(linux_load(&gm, &img, LAYOUT_ACPI, &entry, err, sizeof(err)), 0);
	cr_assert(strstr(err, "no PVH"), "%s", err);
	free(k);
}

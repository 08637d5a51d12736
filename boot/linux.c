#include "boot/linux.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "boot/bytes.h"
#include "boot/bzimage.h"
#include "boot/elf.h"
#include "boot/layout.h"
#include "vmm/errmsg.h"

/* boot_params fields (arch/x86/include/uapi/asm/bootparam.h). */
#define BP_ACPI_RSDP_ADDR 0x070
#define BP_E820_ENTRIES 0x1E8
#define BP_VID_MODE 0x1FA
#define BP_E820_TABLE 0x2D0

/* hvm_start_info (include/xen/interface/hvm/start_info.h). */
#define PVH_MAGIC 0x336EC578
#define PVH_MODLIST (LAYOUT_START_INFO + 0x40)
#define PVH_MEMMAP (LAYOUT_START_INFO + 0x80)

#define MiB (1024 * 1024)

#define fail(err, errlen, ...) errmsg(err, errlen, -EINVAL, __VA_ARGS__)

/*
 * Copies len bytes at file offset off into guest memory at gpa. Reads go
 * through a small bounce buffer rather than straight into guest memory:
 * some file systems (9p, FUSE) pin the destination pages of a large read
 * for zero-copy, and pinning huge pages that back a KVM memory slot was seen
 * to livelock a nested host. The bounce buffer costs one memcpy and keeps
 * file pages out of the monitor's resident memory all the same.
 */
static int copy_in(const struct guest_mem *gm, uint64_t gpa, const uint8_t *buf, int fd,
		   uint64_t off, size_t len)
{
	uint8_t *dst = gm_ptr(gm, gpa, len);
	if (!dst)
		return -EFAULT;
	if (fd < 0) {
		memcpy(dst, buf + off, len);
		return 0;
	}
	enum { BOUNCE = 1 << 20 };
	uint8_t *bounce = malloc(BOUNCE);
	if (!bounce)
		return -ENOMEM;
	int ret = 0;
	while (len) {
		ssize_t n = pread(fd, bounce, len < BOUNCE ? len : BOUNCE, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			ret = n < 0 ? -errno : -EIO;
			break;
		}
		memcpy(dst, bounce, (size_t)n);
		dst += n;
		off += (uint64_t)n;
		len -= (size_t)n;
	}
	free(bounce);
	return ret;
}

unsigned int linux_e820(const struct guest_mem *gm, struct e820_entry *e, unsigned int max)
{
	unsigned n = 0;
#define ADD(a, s, t)                                                 \
	do {                                                         \
		if (n < max)                                         \
			e[n++] = (struct e820_entry){(a), (s), (t)}; \
	} while (0)
	ADD(0, LAYOUT_LOW_RAM_END, E820_RAM);
	ADD(LAYOUT_LOW_RAM_END, 0xA0000 - LAYOUT_LOW_RAM_END, E820_RESERVED);
	ADD(LAYOUT_ACPI, LAYOUT_HIMEM - LAYOUT_ACPI, E820_RESERVED);
	for (unsigned i = 0; i < gm->nregions; i++) {
		const struct gm_region *r = &gm->regions[i];
		uint64_t start = r->gpa < LAYOUT_HIMEM ? LAYOUT_HIMEM : r->gpa;
		if (r->gpa + r->size > start)
			ADD(start, r->gpa + r->size - start, E820_RAM);
	}
#undef ADD
	return n;
}

static int put_cmdline(const struct guest_mem *gm, const char *cmdline, uint64_t max,
		       char *err, size_t errlen)
{
	size_t len = strlen(cmdline);
	if (len > max || len >= LAYOUT_CMDLINE_MAX)
		return fail(err, errlen, "--cmdline is %zu bytes; this kernel takes at most %llu",
			    len, (unsigned long long)(max < LAYOUT_CMDLINE_MAX ? max : LAYOUT_CMDLINE_MAX - 1));
	if (gm_write(gm, LAYOUT_CMDLINE, cmdline, len + 1))
		return -EFAULT;
	return 0;
}

/*
 * The initrd goes as high as it can below both the end of low RAM and the
 * kernel's limit, page-aligned, and above everything the kernel occupies
 * while it unpacks itself (kernel_end).
 */
static int put_initrd(const struct guest_mem *gm, const struct linux_image *img,
		      uint64_t addr_max, uint64_t kernel_end, uint64_t *addr,
		      char *err, size_t errlen)
{
	*addr = 0;
	if (!img->initrd_len)
		return 0;
	uint64_t top = gm_low_end(gm);
	if (addr_max + 1 < top)
		top = addr_max + 1;
	if (img->initrd_len > top || ((top - img->initrd_len) & ~0xFFFull) < kernel_end)
		return fail(err, errlen,
			    "initrd (%zu MiB) does not fit in guest memory above the kernel "
			    "(%llu MiB usable below %llu MiB); raise --mem",
			    img->initrd_len / MiB,
			    (unsigned long long)(top > kernel_end ? (top - kernel_end) / MiB : 0),
			    (unsigned long long)(top / MiB));
	*addr = (top - img->initrd_len) & ~0xFFFull;
	int ret = copy_in(gm, *addr, img->initrd, img->initrd_fd, 0, img->initrd_len);
	if (ret)
		return fail(err, errlen, "initrd: reading it failed: %s", strerror(-ret));
	return 0;
}

/* The command line (at most cmdline_max bytes), then the initrd above kernel_end. */
static int put_cmdline_and_initrd(const struct guest_mem *gm, const struct linux_image *img,
				  uint64_t cmdline_max, uint64_t initrd_addr_max,
				  uint64_t kernel_end, uint64_t *initrd, char *err, size_t errlen)
{
	int ret = put_cmdline(gm, img->cmdline, cmdline_max, err, errlen);
	if (ret)
		return ret;
	return put_initrd(gm, img, initrd_addr_max, kernel_end, initrd, err, errlen);
}

static void fill_boot_params(uint8_t *bp, const struct guest_mem *gm, uint64_t rsdp,
			     uint64_t initrd, size_t initrd_len)
{
	put_le16(bp + BP_VID_MODE, 0xFFFF);
	bp[BZ_TYPE_OF_LOADER] = 0xFF;
	put_le32(bp + BZ_CMD_LINE_PTR, (uint32_t)LAYOUT_CMDLINE);
	put_le32(bp + BZ_RAMDISK_IMAGE, (uint32_t)initrd);
	put_le32(bp + BZ_RAMDISK_SIZE, (uint32_t)initrd_len);
	put_le64(bp + BP_ACPI_RSDP_ADDR, rsdp);
	struct e820_entry e820[E820_MAX];
	unsigned n = linux_e820(gm, e820, E820_MAX);
	bp[BP_E820_ENTRIES] = (uint8_t)n;
	memcpy(bp + BP_E820_TABLE, e820, n * sizeof(e820[0]));
}

static int load_bzimage(const struct guest_mem *gm, const struct linux_image *img, uint64_t rsdp,
			struct linux_entry *out, char *err, size_t errlen)
{
	struct bzimage bz;
	const char *why;
	if (bzimage_parse(img->kernel, img->kernel_len, &bz, &why))
		return fail(err, errlen, "kernel: %s", why);

	/* The decompressor runs in [pref_address, pref_address + init_size); linux_check saw it fits. */
	uint64_t load = bz.pref_address;
	uint64_t need = load + bz.init_size;
	int ret = copy_in(gm, load, img->kernel, img->kernel_fd, bz.kernel_offset, bz.kernel_size);
	if (ret)
		return fail(err, errlen, "kernel: reading it failed: %s", strerror(-ret));

	uint64_t initrd;
	ret = put_cmdline_and_initrd(gm, img, bz.cmdline_size, bz.initrd_addr_max, need, &initrd,
				     err, errlen);
	if (ret)
		return ret;

	uint8_t bp[4096] = {0};
	memcpy(bp + BZ_SETUP_SECTS, img->kernel + BZ_SETUP_SECTS, bz.header_end - BZ_SETUP_SECTS);
	fill_boot_params(bp, gm, rsdp, initrd, img->initrd_len);
	if (gm_write(gm, LAYOUT_BOOT_PARAMS, bp, sizeof(bp)))
		return -EFAULT;

	*out = (struct linux_entry){LINUX_ENTRY_64, load + 0x200, LAYOUT_BOOT_PARAMS, "bzImage"};
	return 0;
}

static int load_elf_segments(const struct guest_mem *gm, const struct linux_image *img,
			     const struct elf_kernel *k, char *err, size_t errlen)
{
	for (unsigned i = 0; i < k->nsegs; i++) {
		const struct elf_segment *s = &k->segs[i];
		uint8_t *dst = gm_ptr(gm, s->paddr, s->memsz);
		if (!dst || s->paddr < LAYOUT_HIMEM)
			return fail(err, errlen,
				    "--mem is too small for this kernel: a segment needs guest memory "
				    "up to %llu MiB",
				    (unsigned long long)((s->paddr + s->memsz + MiB - 1) / MiB));
		int ret = copy_in(gm, s->paddr, img->kernel, img->kernel_fd, s->offset, s->filesz);
		if (ret)
			return fail(err, errlen, "kernel: reading it failed: %s", strerror(-ret));
		/* Fresh guest memory is already zero: bss needs no memset (and no RSS). */
	}
	return 0;
}

static int load_pvh(const struct guest_mem *gm, const struct linux_image *img,
		    const struct elf_kernel *k, uint64_t rsdp, struct linux_entry *out,
		    char *err, size_t errlen)
{
	uint64_t initrd;
	int ret = put_cmdline_and_initrd(gm, img, LAYOUT_CMDLINE_MAX - 1, 0xFFFFFFFFull, k->load_end,
					 &initrd, err, errlen);
	if (ret)
		return ret;

	struct e820_entry e820[E820_MAX];
	unsigned n = linux_e820(gm, e820, E820_MAX);
	uint8_t page[4096] = {0};
	uint8_t *si = page, *mod = page + (PVH_MODLIST - LAYOUT_START_INFO);
	uint8_t *map = page + (PVH_MEMMAP - LAYOUT_START_INFO);
	if (n * 24 > sizeof(page) - (PVH_MEMMAP - LAYOUT_START_INFO))
		n = (sizeof(page) - (PVH_MEMMAP - LAYOUT_START_INFO)) / 24;
	put_le32(si + 0, PVH_MAGIC);
	put_le32(si + 4, 1); /* version 1: has the memory map */
	put_le32(si + 12, img->initrd_len ? 1 : 0);
	put_le64(si + 16, PVH_MODLIST);
	put_le64(si + 24, LAYOUT_CMDLINE);
	put_le64(si + 32, rsdp);
	put_le64(si + 40, PVH_MEMMAP);
	put_le32(si + 48, n);
	put_le64(mod + 0, initrd);
	put_le64(mod + 8, img->initrd_len);
	for (unsigned i = 0; i < n; i++) {
		put_le64(map + i * 24, e820[i].addr);
		put_le64(map + i * 24 + 8, e820[i].size);
		put_le32(map + i * 24 + 16, e820[i].type);
	}
	if (gm_write(gm, LAYOUT_START_INFO, page, sizeof(page)))
		return -EFAULT;
	*out = (struct linux_entry){LINUX_ENTRY_PVH, k->pvh_entry, LAYOUT_START_INFO,
				    "ELF vmlinux (PVH entry)"};
	return 0;
}

static int load_elf64(const struct guest_mem *gm, const struct linux_image *img,
		      const struct elf_kernel *k, uint64_t rsdp, struct linux_entry *out,
		      char *err, size_t errlen)
{
	uint64_t initrd;
	int ret = put_cmdline_and_initrd(gm, img, LAYOUT_CMDLINE_MAX - 1, 0x7FFFFFFFull, k->load_end,
					 &initrd, err, errlen);
	if (ret)
		return ret;

	/* No setup header came with the ELF: write the fields the kernel reads. */
	uint8_t bp[4096] = {0};
	put_le16(bp + BZ_BOOT_FLAG, 0xAA55);
	put_le32(bp + BZ_HEADER, BZ_MAGIC);
	put_le16(bp + BZ_VERSION, 0x020F);
	bp[BZ_LOADFLAGS] = BZ_LOADED_HIGH;
	put_le32(bp + BZ_KERNEL_ALIGNMENT, 0x200000);
	put_le32(bp + BZ_CMDLINE_SIZE, LAYOUT_CMDLINE_MAX - 1);
	put_le32(bp + BZ_INITRD_ADDR_MAX, 0x7FFFFFFF);
	fill_boot_params(bp, gm, rsdp, initrd, img->initrd_len);
	if (gm_write(gm, LAYOUT_BOOT_PARAMS, bp, sizeof(bp)))
		return -EFAULT;
	/* x86 vmlinux links its ELF entry at the physical address of startup_64. */
	*out = (struct linux_entry){LINUX_ENTRY_64, k->entry, LAYOUT_BOOT_PARAMS,
				    "ELF vmlinux (64-bit entry)"};
	return 0;
}

int linux_check(const struct linux_image *img, uint64_t ram_size, char *err, size_t errlen)
{
	uint64_t low_end = ram_size < GM_LOW_RAM_END ? ram_size : GM_LOW_RAM_END;
	const char *why;
	if (bzimage_probe(img->kernel, img->kernel_len)) {
		if (img->entry != BOOT_ENTRY_AUTO)
			return fail(err, errlen, "--boot-entry applies to an ELF vmlinux, not a bzImage");
		struct bzimage bz;
		if (bzimage_parse(img->kernel, img->kernel_len, &bz, &why))
			return fail(err, errlen, "kernel: %s", why);
		uint64_t need = bz.pref_address + bz.init_size;
		if (need > low_end)
			return fail(err, errlen,
				    "--mem is too small for this kernel: it needs %llu MiB to unpack itself "
				    "(load address %llu MiB + init_size %u MiB)",
				    (unsigned long long)((need + MiB - 1) / MiB),
				    (unsigned long long)(bz.pref_address / MiB), bz.init_size / MiB);
		return 0;
	}
	if (!elf_probe(img->kernel, img->kernel_len))
		return fail(err, errlen, "kernel: neither a bzImage nor an ELF vmlinux");
	struct elf_kernel k;
	if (elf_parse(img->kernel, img->kernel_len, &k, &why))
		return fail(err, errlen, "kernel: %s", why);
	if (img->entry == BOOT_ENTRY_PVH && !k.has_pvh)
		return fail(err, errlen, "kernel: --boot-entry pvh, but the ELF has no PVH entry note");
	return 0;
}

int linux_load(const struct guest_mem *gm, const struct linux_image *img, uint64_t rsdp,
	       struct linux_entry *out, char *err, size_t errlen)
{
	int ret = linux_check(img, gm->ram_size, err, errlen);
	if (ret)
		return ret;
	if (bzimage_probe(img->kernel, img->kernel_len))
		return load_bzimage(gm, img, rsdp, out, err, errlen);
	struct elf_kernel k;
	const char *why;
	if (elf_parse(img->kernel, img->kernel_len, &k, &why))
		return fail(err, errlen, "kernel: %s", why);
	ret = load_elf_segments(gm, img, &k, err, errlen);
	if (ret)
		return ret;
	if (k.has_pvh && img->entry != BOOT_ENTRY_LINUX64)
		return load_pvh(gm, img, &k, rsdp, out, err, errlen);
	return load_elf64(gm, img, &k, rsdp, out, err, errlen);
}

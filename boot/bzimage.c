#include "boot/bzimage.h"

#include <errno.h>

#include "boot/bytes.h"

int bzimage_probe(const uint8_t *buf, size_t len)
{
	return len >= BZ_MIN_LEN && get_le16(buf + BZ_BOOT_FLAG) == 0xAA55 &&
	       get_le32(buf + BZ_HEADER) == BZ_MAGIC;
}

int bzimage_parse(const uint8_t *buf, size_t len, struct bzimage *bz, const char **why)
{
	if (len < BZ_MIN_LEN) {
		*why = "file too short to hold a Linux setup header";
		return -ENOEXEC;
	}
	if (get_le16(buf + BZ_BOOT_FLAG) != 0xAA55 || get_le32(buf + BZ_HEADER) != BZ_MAGIC) {
		*why = "no Linux boot signature (not a bzImage)";
		return -ENOEXEC;
	}
	bz->version = get_le16(buf + BZ_VERSION);
	if (bz->version < BZ_MIN_VERSION) {
		*why = "boot protocol older than 2.12 (no 64-bit entry)";
		return -ENOEXEC;
	}
	bz->loadflags = buf[BZ_LOADFLAGS];
	bz->xloadflags = get_le16(buf + BZ_XLOADFLAGS);
	if (!(bz->loadflags & BZ_LOADED_HIGH)) {
		*why = "zImage (not loaded high) is not supported";
		return -ENOEXEC;
	}
	if (!(bz->xloadflags & BZ_XLF_KERNEL_64)) {
		*why = "kernel has no 64-bit entry point";
		return -ENOEXEC;
	}
	unsigned setup_sects = buf[BZ_SETUP_SECTS] ? buf[BZ_SETUP_SECTS] : 4;
	bz->kernel_offset = (size_t)(setup_sects + 1) * 512;
	bz->header_end = BZ_JUMP + 2 + buf[BZ_JUMP + 1];
	if (bz->header_end < BZ_INIT_SIZE + 4 || bz->header_end > 0x290) {
		*why = "setup header length is implausible";
		return -ENOEXEC;
	}
	if (bz->kernel_offset >= len) {
		*why = "file is truncated (no protected-mode kernel after the setup sectors)";
		return -ENOEXEC;
	}
	bz->kernel_size = len - bz->kernel_offset;
	uint32_t syssize = get_le32(buf + 0x1F4);
	if ((uint64_t)syssize * 16 > bz->kernel_size) {
		*why = "file is truncated (shorter than its header's syssize)";
		return -ENOEXEC;
	}
	bz->initrd_addr_max = get_le32(buf + BZ_INITRD_ADDR_MAX);
	bz->kernel_alignment = get_le32(buf + BZ_KERNEL_ALIGNMENT);
	bz->relocatable = buf[BZ_RELOCATABLE];
	bz->cmdline_size = get_le32(buf + BZ_CMDLINE_SIZE);
	bz->pref_address = get_le64(buf + BZ_PREF_ADDRESS);
	bz->init_size = get_le32(buf + BZ_INIT_SIZE);
	if (bz->pref_address < 0x100000 || bz->pref_address > 0xFFFFFFFFull || bz->init_size == 0) {
		*why = "preferred load address or init_size is implausible";
		return -ENOEXEC;
	}
	if (bz->header_end > BZ_HEADER_MAX_END)
		bz->header_end = BZ_HEADER_MAX_END;
	return 0;
}

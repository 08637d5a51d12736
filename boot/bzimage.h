/*
 * The bzImage setup header (Documentation/arch/x86/boot.rst). Pure parsing of
 * bytes already in memory; any thread.
 */
#ifndef KESTREL_BZIMAGE_H
#define KESTREL_BZIMAGE_H

#include <stddef.h>
#include <stdint.h>

#define BZ_SETUP_SECTS 0x1F1
#define BZ_BOOT_FLAG 0x1FE
#define BZ_JUMP 0x200
#define BZ_HEADER 0x202
#define BZ_VERSION 0x206
#define BZ_TYPE_OF_LOADER 0x210
#define BZ_LOADFLAGS 0x211
#define BZ_RAMDISK_IMAGE 0x218
#define BZ_RAMDISK_SIZE 0x21C
#define BZ_CMD_LINE_PTR 0x228
#define BZ_INITRD_ADDR_MAX 0x22C
#define BZ_KERNEL_ALIGNMENT 0x230
#define BZ_RELOCATABLE 0x234
#define BZ_XLOADFLAGS 0x236
#define BZ_CMDLINE_SIZE 0x238
#define BZ_PAYLOAD_OFFSET 0x248
#define BZ_PAYLOAD_LENGTH 0x24C
#define BZ_PREF_ADDRESS 0x258
#define BZ_INIT_SIZE 0x260
#define BZ_MIN_LEN 0x270 /* the whole 2.15 header */
#define BZ_HEADER_MAX_END 0x26C /* end of struct setup_header inside boot_params */

#define BZ_MAGIC 0x53726448 /* "HdrS" */
#define BZ_MIN_VERSION 0x020C /* XLF_KERNEL_64 and the 64-bit entry */
#define BZ_LOADED_HIGH 0x01
#define BZ_XLF_KERNEL_64 0x01

struct bzimage {
	uint16_t version;
	uint8_t loadflags;
	uint16_t xloadflags;
	uint32_t initrd_addr_max;
	uint32_t kernel_alignment;
	uint8_t relocatable;
	uint32_t cmdline_size;
	uint64_t pref_address;
	uint32_t init_size;
	size_t header_end;    /* setup header bytes [0x1F1, header_end) go into boot_params */
	size_t kernel_offset; /* the protected-mode kernel: file [kernel_offset, len) */
	size_t kernel_size;
};

/* True if the bytes look like a bzImage at all (boot flag and "HdrS"). */
int bzimage_probe(const uint8_t *buf, size_t len);

/*
 * Parses and validates. Returns 0, or -ENOEXEC with *why naming the problem
 * (truncated, wrong magic, protocol too old, no 64-bit entry).
 */
int bzimage_parse(const uint8_t *buf, size_t len, struct bzimage *bz, const char **why);

#endif

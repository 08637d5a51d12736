/*
 * Puts a Linux kernel, its initrd and command line into guest memory and
 * says how to enter it. Three formats, detected from the bytes: a bzImage
 * (64-bit boot protocol entry), and an ELF vmlinux entered through its PVH
 * note or through its plain 64-bit entry. Main thread, before the vCPUs run.
 */
#ifndef KESTREL_LINUX_H
#define KESTREL_LINUX_H

#include <stddef.h>
#include <stdint.h>

#include "vmm/config.h"
#include "vmm/guest_mem.h"

enum linux_mode {
	LINUX_ENTRY_64,  /* long mode, paging on, RSI = boot_params */
	LINUX_ENTRY_PVH, /* 32-bit protected mode, paging off, EBX = hvm_start_info */
};

struct linux_entry {
	enum linux_mode mode;
	uint64_t rip;
	uint64_t arg;
	const char *format; /* "bzImage", "ELF vmlinux (PVH)", "ELF vmlinux (64-bit)" */
};

/*
 * The kernel is parsed from memory (a mapping of its file: only the header
 * pages are ever touched); bulk data is read from the file descriptors
 * straight into guest memory, so file pages never count in the monitor's
 * resident memory. A descriptor of -1 means "copy from the buffer" (tests).
 */
struct linux_image {
	const uint8_t *kernel;
	size_t kernel_len;
	int kernel_fd;
	const uint8_t *initrd; /* may be NULL when initrd_fd is used */
	size_t initrd_len;     /* 0: no initrd */
	int initrd_fd;
	const char *cmdline;
	enum boot_entry entry;
};

struct __attribute__((packed)) e820_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
};

#define E820_RAM 1
#define E820_RESERVED 2
#define E820_MAX 128

/* The guest's memory map; returns the number of entries written (≤ max). */
unsigned int linux_e820(const struct guest_mem *gm, struct e820_entry *e, unsigned int max);

/*
 * The checks of linux_load that need no guest memory: the format, the
 * headers, --boot-entry, and whether a bzImage can unpack itself in
 * ram_size bytes. Main thread, before /dev/kvm is opened (a bad kernel is
 * the user's error, exit 2, on any host). -errno with a message in err.
 */
__attribute__((warn_unused_result)) int linux_check(const struct linux_image *img,
						    uint64_t ram_size, char *err, size_t errlen);

/*
 * Loads everything. On failure returns -errno with a message naming the
 * problem in err (not a kernel, --mem too small, initrd does not fit, ...).
 */
__attribute__((warn_unused_result)) int linux_load(const struct guest_mem *gm,
						   const struct linux_image *img, uint64_t rsdp,
						   struct linux_entry *out, char *err, size_t errlen);

#endif

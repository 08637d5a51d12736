/*
 * An uncompressed ELF64 vmlinux: its loadable segments, its entry point, and
 * the Xen PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY) if it has one. Pure
 * parsing; every offset and size is checked against the file.
 */
#ifndef KESTREL_ELF_H
#define KESTREL_ELF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ELF_MAX_SEGMENTS 16
#define XEN_ELFNOTE_PHYS32_ENTRY 18

struct elf_segment {
	uint64_t paddr;
	uint64_t offset;
	uint64_t filesz;
	uint64_t memsz;
};

struct elf_kernel {
	uint64_t entry;       /* e_entry: for x86 vmlinux, the physical 64-bit entry */
	bool has_pvh;
	uint32_t pvh_entry;   /* 32-bit physical PVH entry */
	struct elf_segment segs[ELF_MAX_SEGMENTS];
	unsigned int nsegs;
	uint64_t load_end;    /* highest paddr + memsz over all segments */
};

int elf_probe(const uint8_t *buf, size_t len);

/* 0, or -ENOEXEC with *why naming the problem. */
int elf_parse(const uint8_t *buf, size_t len, struct elf_kernel *k, const char **why);

#endif

/*
 * Guest physical memory: the ONLY place a guest physical address becomes a
 * host pointer. Every accessor checks the whole range [gpa, gpa+len) against
 * one RAM region, overflow-safe, so a range that straddles a hole or wraps
 * around is refused. Any thread.
 */
#ifndef KESTREL_GUEST_MEM_H
#define KESTREL_GUEST_MEM_H

#include <stddef.h>
#include <stdint.h>

#define GM_MAX_REGIONS 2

struct gm_region {
	uint64_t gpa;
	uint64_t size;
	uint8_t *host;
};

struct guest_mem {
	struct gm_region regions[GM_MAX_REGIONS];
	unsigned int nregions;
	uint64_t ram_size;
};

/* Where RAM stops below 4 GiB; the rest goes above 4 GiB. */
#define GM_LOW_RAM_END 0xC0000000ull
#define GM_HIGH_RAM_START 0x100000000ull

/* Maps anonymous memory for `size` bytes of guest RAM, split around the MMIO hole. */
__attribute__((warn_unused_result)) int gm_init(struct guest_mem *gm, uint64_t size);
void gm_destroy(struct guest_mem *gm);

/*
 * Adds a region backed by caller-owned memory (unit tests build fake guest
 * memory this way). Regions must not overlap.
 */
__attribute__((warn_unused_result)) int gm_add_region(struct guest_mem *gm, uint64_t gpa,
						      uint64_t size, void *host);

/* Host pointer for [gpa, gpa+len), or NULL if any byte of it is not RAM. */
__attribute__((warn_unused_result)) void *gm_ptr(const struct guest_mem *gm, uint64_t gpa,
						 uint64_t len);

/* Copies; 0 or -EFAULT. */
__attribute__((warn_unused_result)) int gm_read(const struct guest_mem *gm, void *dst,
						uint64_t gpa, uint64_t len);
__attribute__((warn_unused_result)) int gm_write(const struct guest_mem *gm, uint64_t gpa,
						 const void *src, uint64_t len);

/* End of RAM below 4 GiB (the highest address + 1 of the low region). */
uint64_t gm_low_end(const struct guest_mem *gm);

#endif

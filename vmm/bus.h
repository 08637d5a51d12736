/*
 * Address decoding for port I/O and MMIO exits: sorted, non-overlapping
 * ranges, each with a device and its handlers, which get the offset into
 * their range. Ranges are mapped during setup (main thread) and only looked
 * up afterwards (vCPU threads), so lookups take no lock.
 */
#ifndef KESTREL_BUS_H
#define KESTREL_BUS_H

#include <stdbool.h>
#include <stdint.h>

struct bus_ops {
	const char *name;
	/* Called on a vCPU thread. len is 1, 2, 4 or 8; data is little-endian. */
	void (*read)(void *dev, uint64_t offset, uint8_t *data, uint32_t len);
	void (*write)(void *dev, uint64_t offset, const uint8_t *data, uint32_t len);
};

struct bus_range {
	uint64_t base;
	uint64_t len;
	const struct bus_ops *ops;
	void *dev;
};

#define BUS_MAX_RANGES 64

struct bus {
	struct bus_range ranges[BUS_MAX_RANGES];
	unsigned int n;
};

/* -EEXIST if the range overlaps one already mapped, -EINVAL if empty or wrapping. */
__attribute__((warn_unused_result)) int bus_map(struct bus *bus, uint64_t base, uint64_t len,
						const struct bus_ops *ops, void *dev);

/*
 * Dispatches one access. Unmapped reads return all-ones and unmapped writes
 * are dropped; returns whether a device took it. An access that runs past the
 * end of its range is treated as unmapped.
 */
bool bus_access(const struct bus *bus, uint64_t addr, uint8_t *data, uint32_t len, bool is_write);

#endif

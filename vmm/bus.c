#include "vmm/bus.h"

#include <errno.h>
#include <string.h>

#include "vmm/log.h"

int bus_map(struct bus *bus, uint64_t base, uint64_t len, const struct bus_ops *ops, void *dev)
{
	if (len == 0 || base + len < base)
		return -EINVAL;
	if (bus->n >= BUS_MAX_RANGES)
		return -ENOSPC;
	unsigned pos = 0;
	while (pos < bus->n && bus->ranges[pos].base < base)
		pos++;
	if (pos > 0) {
		const struct bus_range *prev = &bus->ranges[pos - 1];
		if (prev->base + prev->len > base)
			return -EEXIST;
	}
	if (pos < bus->n && base + len > bus->ranges[pos].base)
		return -EEXIST;
	memmove(&bus->ranges[pos + 1], &bus->ranges[pos], (bus->n - pos) * sizeof(bus->ranges[0]));
	bus->ranges[pos] = (struct bus_range){base, len, ops, dev};
	bus->n++;
	return 0;
}

static const struct bus_range *bus_find(const struct bus *bus, uint64_t addr)
{
	unsigned lo = 0, hi = bus->n;
	while (lo < hi) {
		unsigned mid = (lo + hi) / 2;
		const struct bus_range *r = &bus->ranges[mid];
		if (addr < r->base)
			hi = mid;
		else if (addr - r->base >= r->len)
			lo = mid + 1;
		else
			return r;
	}
	return NULL;
}

bool bus_access(const struct bus *bus, uint64_t addr, uint8_t *data, uint32_t len, bool is_write)
{
	const struct bus_range *r = bus_find(bus, addr);
	if (!r || len > r->len - (addr - r->base)) {
		log_debug("unmapped %s of %u bytes at 0x%llx", is_write ? "write" : "read", len,
			  (unsigned long long)addr);
		if (!is_write)
			memset(data, 0xff, len);
		return false;
	}
	if (is_write) {
		if (r->ops->write)
			r->ops->write(r->dev, addr - r->base, data, len);
	} else if (r->ops->read) {
		r->ops->read(r->dev, addr - r->base, data, len);
	} else {
		memset(data, 0xff, len);
	}
	return true;
}

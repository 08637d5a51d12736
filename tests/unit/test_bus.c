#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "vmm/bus.h"

struct rec {
	uint64_t off;
	uint32_t len;
	uint8_t last;
	int writes;
};

static void rd(void *dev, uint64_t off, uint8_t *data, uint32_t len)
{
	struct rec *r = dev;
	r->off = off;
	r->len = len;
	memset(data, 0x11, len);
}

static void wr(void *dev, uint64_t off, const uint8_t *data, uint32_t len)
{
	struct rec *r = dev;
	r->off = off;
	r->len = len;
	r->last = data[0];
	r->writes++;
}

static const struct bus_ops ops = {"rec", rd, wr};

Test(bus, overlaps_are_refused)
{
	struct bus b = {0};
	struct rec r;
	cr_assert_eq(bus_map(&b, 0x100, 0x10, &ops, &r), 0);
	cr_assert_eq(bus_map(&b, 0x10F, 1, &ops, &r), -EEXIST);
	cr_assert_eq(bus_map(&b, 0xF8, 0x10, &ops, &r), -EEXIST);
	cr_assert_eq(bus_map(&b, 0x80, 0x200, &ops, &r), -EEXIST);
	cr_assert_eq(bus_map(&b, 0x110, 0x10, &ops, &r), 0, "adjacent is fine");
	cr_assert_eq(bus_map(&b, 0xF0, 0x10, &ops, &r), 0);
	cr_assert_eq(bus_map(&b, UINT64_MAX, 2, &ops, &r), -EINVAL);
	cr_assert_eq(bus_map(&b, 0x500, 0, &ops, &r), -EINVAL);
}

Test(bus, dispatch_gives_offsets_and_unmapped_reads_all_ones)
{
	struct bus b = {0};
	struct rec r1 = {0}, r2 = {0};
	cr_assert_eq(bus_map(&b, 0x3F8, 8, &ops, &r1), 0);
	cr_assert_eq(bus_map(&b, 0x600, 3, &ops, &r2), 0);
	uint8_t d[8] = {0x42};
	cr_assert(bus_access(&b, 0x3FD, d, 1, false));
	cr_assert_eq(r1.off, 5);
	cr_assert_eq(d[0], 0x11);
	d[0] = 0x34;
	cr_assert(bus_access(&b, 0x600, d, 1, true));
	cr_assert_eq(r2.last, 0x34);
	cr_assert_not(bus_access(&b, 0x70, d, 4, false));
	cr_assert_eq(d[0] & d[1] & d[2] & d[3], 0xFF);
	/* An access running off the end of a range is not the device's. */
	cr_assert_not(bus_access(&b, 0x3FF, d, 2, true));
	cr_assert_eq(r1.writes, 0);
}

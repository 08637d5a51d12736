#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>

#include "vmm/guest_mem.h"

static uint8_t low[4096], high[4096];
static struct guest_mem gm;

static void setup(void)
{
	memset(&gm, 0, sizeof(gm));
	cr_assert_eq(gm_add_region(&gm, 0, sizeof(low), low), 0);
	cr_assert_eq(gm_add_region(&gm, 0x100000000ull, sizeof(high), high), 0);
}

TestSuite(guest_mem, .init = setup);

Test(guest_mem, whole_range_must_be_inside_one_region)
{
	cr_assert_eq(gm_ptr(&gm, 0, 4096), low);
	cr_assert_eq(gm_ptr(&gm, 4095, 1), low + 4095);
	cr_assert_null(gm_ptr(&gm, 4095, 2), "runs past the end");
	cr_assert_null(gm_ptr(&gm, 4096, 1), "hole");
	cr_assert_eq(gm_ptr(&gm, 0x100000000ull + 16, 16), high + 16);
	cr_assert_null(gm_ptr(&gm, 0x100000000ull - 1, 2), "straddles a hole");
}

Test(guest_mem, wrapping_ranges_are_refused)
{
	cr_assert_null(gm_ptr(&gm, UINT64_MAX, 2));
	cr_assert_null(gm_ptr(&gm, 16, UINT64_MAX));
	cr_assert_null(gm_ptr(&gm, 0x100000000ull + 16, UINT64_MAX - 8));
}

Test(guest_mem, copies_check_too)
{
	uint8_t buf[8] = {1, 2, 3, 4, 5, 6, 7, 8};
	cr_assert_eq(gm_write(&gm, 100, buf, 8), 0);
	cr_assert_eq(low[100], 1);
	cr_assert_eq(gm_write(&gm, 4090, buf, 8), -EFAULT);
	cr_assert_eq(low[4090], 0, "nothing written on failure");
	uint8_t out[8];
	cr_assert_eq(gm_read(&gm, out, 100, 8), 0);
	cr_assert_eq(out[7], 8);
	cr_assert_eq(gm_read(&gm, out, 5000, 8), -EFAULT);
}

Test(guest_mem, overlapping_regions_are_refused)
{
	uint8_t x[64];
	cr_assert_eq(gm_add_region(&gm, 100, 64, x), -EINVAL, "table full");
	struct guest_mem g2 = {0};
	cr_assert_eq(gm_add_region(&g2, 0, 4096, low), 0);
	cr_assert_eq(gm_add_region(&g2, 4000, 64, x), -EEXIST);
}

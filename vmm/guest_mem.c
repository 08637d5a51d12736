#include "vmm/guest_mem.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

int gm_add_region(struct guest_mem *gm, uint64_t gpa, uint64_t size, void *host)
{
	if (gm->nregions >= GM_MAX_REGIONS || size == 0 || gpa + size < gpa)
		return -EINVAL;
	for (unsigned i = 0; i < gm->nregions; i++) {
		const struct gm_region *r = &gm->regions[i];
		if (gpa < r->gpa + r->size && r->gpa < gpa + size)
			return -EEXIST;
	}
	gm->regions[gm->nregions++] = (struct gm_region){gpa, size, host};
	gm->ram_size += size;
	return 0;
}

int gm_init(struct guest_mem *gm, uint64_t size)
{
	memset(gm, 0, sizeof(*gm));
	uint64_t low = size < GM_LOW_RAM_END ? size : GM_LOW_RAM_END;
	uint64_t high = size - low;
	/*
	 * MAP_NORESERVE: the guest touches what it uses, and the monitor's
	 * footprint stays what the guest touched.
	 */
	void *p = mmap(NULL, low, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return -errno;
	madvise(p, low, MADV_HUGEPAGE);
	int ret = gm_add_region(gm, 0, low, p);
	if (ret)
		goto err_low;
	if (high) {
		void *q = mmap(NULL, high, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (q == MAP_FAILED) {
			ret = -errno;
			goto err_low;
		}
		madvise(q, high, MADV_HUGEPAGE);
		ret = gm_add_region(gm, GM_HIGH_RAM_START, high, q);
		if (ret) {
			munmap(q, high);
			goto err_low;
		}
	}
	return 0;
err_low:
	munmap(p, low);
	memset(gm, 0, sizeof(*gm));
	return ret;
}

void gm_destroy(struct guest_mem *gm)
{
	for (unsigned i = 0; i < gm->nregions; i++)
		munmap(gm->regions[i].host, gm->regions[i].size);
	memset(gm, 0, sizeof(*gm));
}

void *gm_ptr(const struct guest_mem *gm, uint64_t gpa, uint64_t len)
{
	for (unsigned i = 0; i < gm->nregions; i++) {
		const struct gm_region *r = &gm->regions[i];
		if (gpa < r->gpa)
			continue;
		uint64_t off = gpa - r->gpa;
		/* Written so that no sum can overflow. */
		if (off >= r->size || len > r->size - off)
			continue;
		return r->host + off;
	}
	return NULL;
}

int gm_read(const struct guest_mem *gm, void *dst, uint64_t gpa, uint64_t len)
{
	const void *p = gm_ptr(gm, gpa, len);
	if (!p)
		return -EFAULT;
	memcpy(dst, p, len);
	return 0;
}

int gm_write(const struct guest_mem *gm, uint64_t gpa, const void *src, uint64_t len)
{
	void *p = gm_ptr(gm, gpa, len);
	if (!p)
		return -EFAULT;
	memcpy(p, src, len);
	return 0;
}

uint64_t gm_low_end(const struct guest_mem *gm)
{
	for (unsigned i = 0; i < gm->nregions; i++)
		if (gm->regions[i].gpa == 0)
			return gm->regions[i].size;
	return 0;
}

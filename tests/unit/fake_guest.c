#include "tests/unit/fake_guest.h"

#include <criterion/criterion.h>
#include <string.h>
#include <sys/mman.h>

#define GUARD 65536

uint8_t *fake_guest_map(struct guest_mem *gm, size_t size)
{
	uint8_t *m = mmap(NULL, size + 2 * GUARD, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(m, MAP_FAILED);
	uint8_t *ram = m + GUARD;
	cr_assert_eq(mprotect(ram, size, PROT_READ | PROT_WRITE), 0);
	memset(gm, 0, sizeof(*gm));
	cr_assert_eq(gm_add_region(gm, 0, size, ram), 0);
	return ram;
}

void fake_guest_unmap(uint8_t *ram, size_t size)
{
	munmap(ram - GUARD, size + 2 * GUARD);
}

void fake_loop_run_deferred(struct loop *l)
{
	while (l->deferred) {
		struct loop_task *t = l->deferred;
		l->deferred = t->next;
		t->next = NULL;
		t->fn(t);
	}
}

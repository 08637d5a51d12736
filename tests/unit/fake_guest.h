/*
 * Fake guest RAM for device unit tests: `size` bytes at guest physical 0,
 * with inaccessible guard regions on both sides, so a device that touches
 * anything outside guest memory crashes the test instead of passing it.
 */
#ifndef KESTREL_TEST_FAKE_GUEST_H
#define KESTREL_TEST_FAKE_GUEST_H

#include <stddef.h>
#include <stdint.h>

#include "vmm/guest_mem.h"
#include "vmm/loop.h"

/* Maps the RAM and its guards and describes it in *gm; returns the RAM. */
uint8_t *fake_guest_map(struct guest_mem *gm, size_t size);
void fake_guest_unmap(uint8_t *ram, size_t size);

/* Runs the tasks a device deferred to the end of the loop's batch, as the loop would. */
void fake_loop_run_deferred(struct loop *l);

#endif

/*
 * Shared pieces of the stress tests: programs that drive one device from
 * "vCPU" threads while the real event loop thread runs, so ThreadSanitizer
 * (tools/test builds them with clang -fsanitize=thread) sees every handoff
 * between the two. They also run in the plain build, where they check the
 * device's state after each round. No Criterion: its arena does not start
 * under TSan. Each program prints "N passed, N failed" and exits non-zero on
 * a failure.
 */
#ifndef KESTREL_STRESS_COMMON_H
#define KESTREL_STRESS_COMMON_H

#include <stdbool.h>
#include <stdint.h>

#include "vmm/guest_mem.h"
#include "vmm/loop.h"
#include "vmm/vm_ctl.h"

/* A failed check: says which round and what, and counts it. */
#define STRESS_CHECK(round, cond, ...)                                                     \
	do {                                                                                \
		if (!(cond)) {                                                              \
			stress_fail(__FILE__, __LINE__, round, #cond);                      \
			__VA_ARGS__;                                                        \
		}                                                                           \
	} while (0)
void stress_fail(const char *file, int line, unsigned round, const char *what);

/* Guest RAM of `size` bytes at guest physical 0 (no guards: speed matters here). */
uint8_t *stress_guest_map(struct guest_mem *gm, size_t size);

/* A loop (not started) and a vm_ctl that never stops; exits on failure. */
void stress_loop_init(struct loop *l);
extern struct vm_ctl stress_ctl;

/* A scratch file of `size` bytes in $TMPDIR (or /tmp), already unlinked; exits on failure. */
int stress_scratch_file(uint64_t size);

/* Waits up to `ms` for *p to reach `want` (another thread moves it); false on timeout. */
bool stress_wait_u16(const uint16_t *p, uint16_t want, unsigned ms);

/* Runs one named scenario and records its result; returns whether it passed. */
bool stress_run(const char *name, void (*fn)(void));
/* Prints the tally; the process's exit status. */
int stress_report(void);

#endif

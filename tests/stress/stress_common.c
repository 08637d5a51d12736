#include "tests/stress/stress_common.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static atomic_int failures_now;
static unsigned passed, failed;

void stress_fail(const char *file, int line, unsigned round, const char *what)
{
	fprintf(stderr, "stress: %s:%d: round %u: check failed: %s\n", file, line, round, what);
	atomic_fetch_add(&failures_now, 1);
}

uint8_t *stress_guest_map(struct guest_mem *gm, size_t size)
{
	uint8_t *ram = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	memset(gm, 0, sizeof(*gm));
	if (ram == MAP_FAILED || gm_add_region(gm, 0, size, ram)) {
		fprintf(stderr, "stress: guest RAM failed\n");
		exit(1);
	}
	return ram;
}

void stress_loop_init(struct loop *l)
{
	if (loop_init(l, 64)) {
		fprintf(stderr, "stress: loop_init failed\n");
		exit(1);
	}
}

int stress_scratch_file(uint64_t size)
{
	const char *dir = getenv("TMPDIR");
	char path[4096];
	snprintf(path, sizeof(path), "%s/kestrel-stress-XXXXXX", dir && *dir ? dir : "/tmp");
	int fd = mkstemp(path);
	if (fd < 0 || ftruncate(fd, (off_t)size)) {
		perror("stress: scratch file");
		exit(1);
	}
	unlink(path);
	return fd;
}

static bool never_stopping(struct vm_ctl *c)
{
	(void)c;
	return false;
}
struct vm_ctl stress_ctl = {.stopping = never_stopping};

bool stress_wait_u16(const uint16_t *p, uint16_t want, unsigned ms)
{
	struct timespec pause = {0, 100 * 1000};
	for (unsigned i = 0; i < ms * 10; i++) {
		if (__atomic_load_n(p, __ATOMIC_ACQUIRE) == want)
			return true;
		nanosleep(&pause, NULL);
	}
	return __atomic_load_n(p, __ATOMIC_ACQUIRE) == want;
}

bool stress_run(const char *name, void (*fn)(void))
{
	atomic_store(&failures_now, 0);
	fn();
	bool ok = atomic_load(&failures_now) == 0;
	printf("stress: %s: %s\n", name, ok ? "ok" : "FAILED");
	fflush(stdout);
	if (ok)
		passed++;
	else
		failed++;
	return ok;
}

int stress_report(void)
{
	printf("%u passed, %u failed\n", passed, failed);
	return failed ? 1 : 0;
}

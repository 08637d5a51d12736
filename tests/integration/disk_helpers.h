/*
 * Helpers shared by the disk integration tests (virtio-blk, AHCI,
 * virtio-scsi): scratch images, booting the tools guest with disks, reading
 * what the guest reported and the backend's --stats counters, and the
 * per-policy test every interface runs.
 */
#ifndef KESTREL_TEST_DISK_HELPERS_H
#define KESTREL_TEST_DISK_HELPERS_H

#include <stdbool.h>
#include <stddef.h>

#include "tests/integration/harness.h"

#define DISK_RUN_TIMEOUT 360 /* one kestrel run; a hang is described, then run once more */
#define DISK_TIMEOUT (RUN_ATTEMPTS * DISK_RUN_TIMEOUT + 60) /* Criterion's limit */
#define DISK_SIZE (256ll << 20)

/* A sparse scratch image of `size` bytes; returns its path. */
const char *make_image(const char *name, long long size);

/* Boots the tools guest with --disk specs and kernel arguments, runs cmd in it, expects success. */
struct run boot_with_disks_args(const char *const *disks, unsigned ndisks, const char *cpus,
				const char *kargs, const char *cmd);
struct run boot_with_disks(const char *const *disks, unsigned ndisks, const char *cpus,
			   const char *cmd);
/* The same with more kestrel options (opts, NULL-terminated, or NULL). */
struct run boot_with_disks_opts(const char *const *disks, unsigned ndisks, const char *cpus,
				const char *kargs, const char *const *opts, const char *cmd);
/* One vCPU, watched while it runs (see run_kestrel_watched); the exit status is the caller's to check. */
struct run boot_watched(const char *const *disks, unsigned ndisks, const char *cmd,
			run_watch_fn watch, void *arg);

/* kestrel-crashcheck LOG ARGS (ARGS as a shell would split them): its exit status, its output in out. */
int crashcheck(const char *log, const char *args, char *out, size_t len);

/* The guest printed KEY=want. */
void expect_value(const struct run *r, const char *key, const char *want);

/* A counter from the "--stats" line of disk `disk`, e.g. "host flushes". */
unsigned long long counter(const struct run *r, unsigned disk, const char *name);

/* The image is a clean ext4 and holds what the guest's "disk-test fs" wrote. */
void host_checks_fs(const struct run *r, const char *image);

/*
 * One cache policy on one interface: what the guest sees, a file system
 * written in the guest and checked on the host, fio verify, and which
 * flushes reached the host. dev is the guest's name for the disk.
 */
void policy_test(const char *iface, const char *dev, const char *cache, bool volatile_cache,
		 bool host_flushes_expected);

#endif

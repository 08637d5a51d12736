/*
 * One --disk value ("path=FILE,if=virtio-blk,cache=none,...") → struct
 * disk_config. Pure: the file is opened later (devices/blk.c), so every rule
 * here is unit-testable.
 */
#ifndef KESTREL_DISK_SPEC_H
#define KESTREL_DISK_SPEC_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include "devices/blk_cache.h"

#define DISK_SERIAL_MAX 20 /* virtio-blk GET_ID and the ATA serial field both hold 20 bytes */
#define DISK_MAX_QUEUES 32

enum disk_iface {
	DISK_IF_VIRTIO_BLK,
	DISK_IF_AHCI,
	DISK_IF_VIRTIO_SCSI,
};

/* What a host write error does (QEMU's werror=). */
enum disk_werror {
	DISK_WERROR_REPORT, /* the guest gets an I/O error */
	DISK_WERROR_STOP,   /* out of host space: hold the request, pause the guest */
};

struct disk_config {
	char path[PATH_MAX];
	enum disk_iface iface;
	enum blk_cache cache;
	bool readonly;
	char serial[DISK_SERIAL_MAX + 1];
	unsigned int queues; /* 0: one per vCPU, filled in by config_parse */
	enum disk_werror werror;
	char log[PATH_MAX];  /* log=FILE: the write log (blklog/format.h), or "" */
	/*
	 * x-lie=: a test-only broken disk (enum blk_lie: 0 none, hide-cache,
	 * no-flush, no-fua), to prove the write log's checker catches it.
	 */
	unsigned int lie;
};

/*
 * Parses comma-separated key=value pairs; ",," inside a value stands for a
 * comma (as in QEMU). On error returns -EINVAL with a message in err that
 * names the key or value.
 */
int disk_spec_parse(const char *spec, struct disk_config *d, char *err, size_t errlen);

/*
 * One key=value of a spec, by the same rules (the API's drive extension
 * uses it too); `who` begins the message ("--disk", "drive rootfs").
 */
int disk_spec_set(struct disk_config *d, const char *who, const char *key, const char *value,
		  char *err, size_t errlen);

const char *disk_iface_name(enum disk_iface iface);

#endif

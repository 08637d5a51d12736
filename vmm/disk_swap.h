/*
 * PATCH /drives/{id} on a running VM: disk i gets the image at a new path.
 * Three hops, so that nothing blocking runs on the loop:
 *  1. main thread: blk_open checks the new file as at boot (the disk's
 *     cache mode and read-only flag, its size, O_DIRECT, image locks),
 *     then blk_swap_check, and for AHCI the same size (below);
 *  2. loop thread: blk_swap_start swaps it in once the old image is idle
 *     and flushed, and the guest is told:
 *       virtio-blk  a config-change interrupt; Linux reads the new capacity;
 *       virtio-scsi a CAPACITY DATA HAS CHANGED unit attention, and a
 *                   parameter-change event on which Linux rescans;
 *       AHCI        nothing: ATA cannot tell a host its fixed disk changed
 *                   size (libata drops a disk whose size changes on
 *                   revalidation), so only an image of the same size is
 *                   taken; the guest sees its new contents at its next read;
 *  3. main thread: the old file is closed; then done() on the loop.
 *
 * Threads: disk_swap_start and done on the loop thread.
 */
#ifndef KESTREL_DISK_SWAP_H
#define KESTREL_DISK_SWAP_H

#include <limits.h>
#include <stdbool.h>

#include "devices/blk.h"
#include "vmm/loop.h"
#include "vmm/main_job.h"

struct vm;

/* Loop thread: 0, or -errno with the reason (the disk keeps its old image). */
typedef void disk_swap_done_fn(void *ctx, unsigned int index, int res, const char *msg);

struct disk_swap {
	struct vm *vm;
	unsigned int index;
	bool busy; /* loop thread: from disk_swap_start until done */
	char path[PATH_MAX];
	struct blk fresh; /* the new image; after the swap, the old one until it is closed */
	struct blk_swap bs;
	struct vm_main_job open_job, close_job;
	struct loop_task swap_task, done_task;
	int res;
	char msg[512];
	disk_swap_done_fn *done;
	void *ctx;
};

/* Main thread, before any swap: nothing to close yet. */
void disk_swap_init(struct disk_swap *s, struct vm *vm, unsigned int index);

/*
 * Loop thread: starts giving disk s->index the image at path; done follows.
 * -EBUSY (with a message) when this disk is being swapped already.
 */
int disk_swap_start(struct disk_swap *s, const char *path, disk_swap_done_fn *done, void *ctx,
		    char *err, size_t errlen);

/* Main thread, the loop stopped: closes what a swap cut short left open. */
void disk_swap_release(struct disk_swap *s);

#endif

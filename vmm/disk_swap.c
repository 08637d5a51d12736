#include "vmm/disk_swap.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "vmm/container_of.h"
#include "vmm/log.h"
#include "vmm/vm.h"

void disk_swap_init(struct disk_swap *s, struct vm *vm, unsigned int index)
{
	memset(s, 0, sizeof(*s));
	s->vm = vm;
	s->index = index;
	s->fresh.fd = -1;
}

/* Hop 3, the end: on the loop, where the API waits. */
static void done_fn(struct loop_task *t)
{
	struct disk_swap *s = container_of(t, struct disk_swap, done_task);
	s->busy = false;
	s->done(s->ctx, s->index, s->res, s->msg);
}

/* Hop 3: the main thread closes the file no longer used (old, or the refused new one). */
static void close_fn(struct vm_main_job *j)
{
	struct disk_swap *s = container_of(j, struct disk_swap, close_job);
	blk_close(&s->fresh);
	loop_call(&s->vm->loop, &s->done_task);
}

/* Hop 2 ended: the guest hears of the change, and the leftover file goes to be closed. */
static void swapped(struct blk_swap *bs, int res)
{
	struct disk_swap *s = container_of(bs, struct disk_swap, bs);
	s->res = res;
	if (res)
		snprintf(s->msg, sizeof(s->msg), "%s", bs->msg);
	else
		vm_disk_changed(s->vm, s->index);
	vm_run_on_main(s->vm, &s->close_job);
}

static void swap_fn(struct loop_task *t)
{
	struct disk_swap *s = container_of(t, struct disk_swap, swap_task);
	s->bs.fresh = &s->fresh;
	s->bs.done = swapped;
	blk_swap_start(s->vm->disks[s->index], &s->bs);
}

/* Hop 1: the main thread opens and checks the new image; blocking is fine here. */
static void open_fn(struct vm_main_job *j)
{
	struct disk_swap *s = container_of(j, struct disk_swap, open_job);
	const struct blk *b = s->vm->disks[s->index];
	struct disk_config d = s->vm->cfg->disks[s->index];
	snprintf(d.path, sizeof(d.path), "%s", s->path);
	char err[400];
	s->res = blk_open(&s->fresh, &d, err, sizeof(err));
	if (!s->res)
		s->res = blk_swap_check(b, &s->fresh, err, sizeof(err));
	if (!s->res && d.iface == DISK_IF_AHCI && s->fresh.size != blk_size(b)) {
		snprintf(err, sizeof(err), "an AHCI disk keeps its size (%llu bytes; the new image "
			 "has %llu): ATA cannot tell the guest its disk changed size",
			 (unsigned long long)blk_size(b), (unsigned long long)s->fresh.size);
		s->res = -EINVAL;
	}
	if (s->res) {
		snprintf(s->msg, sizeof(s->msg), "%s", err);
		close_fn(&s->close_job);
		return;
	}
	loop_call(&s->vm->loop, &s->swap_task);
}

int disk_swap_start(struct disk_swap *s, const char *path, disk_swap_done_fn *done, void *ctx,
		    char *err, size_t errlen)
{
	if (s->busy) {
		snprintf(err, errlen, "drive %u is being given a new image already", s->index);
		return -EBUSY;
	}
	s->busy = true;
	snprintf(s->path, sizeof(s->path), "%s", path);
	s->done = done;
	s->ctx = ctx;
	s->res = 0;
	s->msg[0] = '\0';
	s->open_job.fn = open_fn;
	s->close_job.fn = close_fn;
	s->swap_task.fn = swap_fn;
	s->done_task.fn = done_fn;
	vm_run_on_main(s->vm, &s->open_job);
	return 0;
}

void disk_swap_release(struct disk_swap *s)
{
	if (s->fresh.fd >= 0)
		blk_close(&s->fresh);
}

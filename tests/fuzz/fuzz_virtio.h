/*
 * The hostile virtio driver shared by the virtio fuzz targets: brings a
 * virtio-mmio device up (or not), then plays the input as a sequence of
 * guest actions (memory writes, register and config accesses, resets,
 * notifications) interleaved with the loop's (running tasks, polling) and
 * the host's (completing any pending I/O with any result). Queue q's rings
 * sit at q * 0x4000 + 0x1000 (descriptors), + 0x2000 (avail), + 0x3000
 * (used), FUZZ_VIRTIO_QSIZE entries. One thread plays all three.
 */
#ifndef KESTREL_FUZZ_VIRTIO_H
#define KESTREL_FUZZ_VIRTIO_H

#include "devices/virtio_mmio.h"
#include "tests/fuzz/fuzz_common.h"

#define FUZZ_VIRTIO_QSIZE 16u

/* Every feature the device offers, all queues set up, DRIVER_OK. */
void fuzz_virtio_bring_up(struct vmmio *m, unsigned int nqueues);

/*
 * Plays the rest of the input against the device (its transport m, whose
 * queues 0..nqueues), then lets everything finish: every pending host I/O
 * completes and the loop runs until idle. The caller checks its device.
 */
void fuzz_virtio_play(struct fuzz_env *env, struct vmmio *m, unsigned int nqueues,
		      struct fuzz_engine *eng, struct fuzz_input *in);

#endif

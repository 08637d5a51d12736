/*
 * Stress test of a vCPU ↔ loop handoff, for the ThreadSanitizer build (it
 * also runs in the plain one): two "vCPU" threads drive one virtio-mmio
 * device while the real event loop thread finishes its resets. One resets
 * the device and sets it up again, over and over; the other keeps writing
 * the queue's registers and QueueReady. A reset must leave the queue
 * disabled and cleared, never half done. No Criterion: its arena does not
 * start under TSan. Prints "N passed, N failed".
 */
#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>

#include "devices/virtio_blk.h"

#define RAM (1u << 20)
#define ROUNDS 3000

static struct vblk vb;
static atomic_bool done;
static int failures;

static bool never_stopping(struct vm_ctl *c) { return false; }
static struct vm_ctl ctl = {.stopping = never_stopping};

static void w32(uint64_t off, uint32_t v)
{
	uint8_t b[4];
	memcpy(b, &v, 4);
	vmmio_bus_ops.write(&vb.mmio, off, b, 4);
}

static uint32_t r32(uint64_t off)
{
	uint8_t b[4];
	vmmio_bus_ops.read(&vb.mmio, off, b, 4);
	uint32_t v;
	memcpy(&v, b, 4);
	return v;
}

static void queue_regs(void)
{
	w32(VIRTIO_MMIO_QUEUE_NUM, 16);
	w32(VIRTIO_MMIO_QUEUE_DESC_LOW, 0x1000);
	w32(VIRTIO_MMIO_QUEUE_AVAIL_LOW, 0x2000);
	w32(VIRTIO_MMIO_QUEUE_USED_LOW, 0x3000);
	w32(VIRTIO_MMIO_QUEUE_READY, 1);
}

static void *resetter(void *arg)
{
	for (unsigned i = 0; i < ROUNDS; i++) {
		w32(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
		w32(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
		w32(VIRTIO_MMIO_DRIVER_FEATURES, 1); /* VIRTIO_F_VERSION_1 */
		w32(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
						VIRTIO_CONFIG_S_FEATURES_OK);
		queue_regs();
		w32(VIRTIO_MMIO_STATUS, 0); /* returns once the loop has finished the reset */
		/* Nothing may survive a reset: no FEATURES_OK, so no queue can be ready. */
		if (r32(VIRTIO_MMIO_STATUS) != 0 || r32(VIRTIO_MMIO_QUEUE_READY) != 0 ||
		    r32(VIRTIO_MMIO_QUEUE_NUM) != 0) {
			fprintf(stderr, "stress: round %u: the queue outlived the reset (ready %u, num %u)\n",
				i, r32(VIRTIO_MMIO_QUEUE_READY), r32(VIRTIO_MMIO_QUEUE_NUM));
			failures++;
			break;
		}
	}
	atomic_store(&done, true);
	return NULL;
}

static void *queue_writer(void *arg)
{
	while (!atomic_load(&done))
		queue_regs();
	return NULL;
}

int main(void)
{
	uint8_t *ram = mmap(NULL, RAM, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct guest_mem gm;
	memset(&gm, 0, sizeof(gm));
	static struct loop loop;
	static struct blk blk;
	int irq = eventfd(0, EFD_NONBLOCK);
	if (ram == MAP_FAILED || gm_add_region(&gm, 0, RAM, ram) || loop_init(&loop, 8) || irq < 0) {
		fprintf(stderr, "stress: setup failed\n");
		return 1;
	}
	blk_init_fake(&blk, -1, 1 << 20, BLK_CACHE_WRITEBACK, false);
	blk_attach(&blk, &loop, NULL);
	if (vblk_init(&vb, &blk, -1, 0, 1, irq, &loop, &gm, &ctl) || loop_start(&loop)) {
		fprintf(stderr, "stress: device or loop failed\n");
		return 1;
	}
	pthread_t a, b;
	pthread_create(&a, NULL, resetter, NULL);
	pthread_create(&b, NULL, queue_writer, NULL);
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	loop_stop(&loop);
	vblk_destroy(&vb);
	loop_destroy(&loop);
	printf("stress: virtio reset against queue setup, %d rounds\n", ROUNDS);
	printf("%d passed, %d failed\n", failures ? 0 : 1, failures ? 1 : 0);
	return failures ? 1 : 0;
}

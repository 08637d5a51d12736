/*
 * One device cannot starve another on the loop: a "vCPU" floods virtio-blk
 * disk A with requests that finish at once (GET_ID), refilling its queue
 * as fast as the device empties it, while another writes to disk B (real
 * host I/O) one request at a time. Each of B's writes must complete, and
 * its worst latency is printed. Without a working per-queue budget
 * (VMMIO_POP_BUDGET) A's service never ends and B waits for good: this
 * test found that the budget's yield was undone by the service loop
 * itself (vmmio_queue_idle answered "more arrived" for a queue over it).
 */
#include <linux/virtio_blk.h>
#include <linux/virtio_mmio.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>

#include "devices/virtio_blk.h"
#include "tests/stress/stress_common.h"
#include "tests/stress/virtio_driver.h"

#define RAM (1u << 20)
#define DISK (8u << 20)
#define WRITES 300

static uint8_t *ram_a, *ram_b;
static struct guest_mem gm_a, gm_b;
static struct loop loop;
static struct blk blk_a, blk_b;
static struct vblk vb_a, vb_b;
static atomic_bool done;
static atomic_ulong flooded;

static void up(struct vmmio *m)
{
	vdrv_negotiate(m, 0);
	vdrv_queue(m, 0);
	vdrv_driver_ok(m);
}

/* Keeps disk A's queue full of GET_IDs, all on one chain, as fast as it drains. */
static void *flooder(void *arg)
{
	(void)arg;
	struct virtio_blk_outhdr h = {.type = VIRTIO_BLK_T_GET_ID};
	memcpy(ram_a + 0x5000, &h, sizeof(h));
	const struct vdrv_buf b[] = {{0x5000, sizeof(h), 0}, {0x6000, VIRTIO_BLK_ID_BYTES, 1},
				     {0x7000, 1, 1}};
	vdrv_post(ram_a, 0, 0, b, 3); /* the chain at head 0, avail entry 0 */
	uint16_t avail = 1;
	vdrv_w32(&vb_a.mmio, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	uint16_t *ring = (uint16_t *)(ram_a + VDRV_QBASE(0) + 0x2000);
	while (!atomic_load(&done)) {
		uint16_t used = vdrv_used_idx(ram_a, 0);
		if ((uint16_t)(avail - used) >= VDRV_QSIZE)
			continue;
		ring[2 + avail % VDRV_QSIZE] = 0;
		avail++;
		__atomic_store_n(&ring[1], avail, __ATOMIC_RELEASE);
		atomic_fetch_add(&flooded, 1);
	}
	return NULL;
}

static double now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static void flood_does_not_starve(void)
{
	up(&vb_a.mmio);
	up(&vb_b.mmio);
	pthread_t t;
	pthread_create(&t, NULL, flooder, NULL);
	double worst = 0;
	for (unsigned i = 0; i < WRITES; i++) {
		double t0 = now_ms();
		uint8_t st = vdrv_blk_write(&vb_b.mmio, ram_b, (uint16_t)i, (i * 8u) % (DISK / 512 - 8),
					    (uint8_t)i);
		double ms = now_ms() - t0;
		worst = ms > worst ? ms : worst;
		if (st != VIRTIO_BLK_S_OK)
			fprintf(stderr, "stress: fairness: write %u: status %#x (0xff: no answer in 5 s)\n",
				i, st);
		STRESS_CHECK(i, st == VIRTIO_BLK_S_OK, break);
	}
	atomic_store(&done, true);
	pthread_join(t, NULL);
	printf("stress: fairness: %d writes on disk B while disk A took %lu flooded requests; "
	       "worst write latency %.1f ms\n", WRITES, atomic_load(&flooded), worst);
}

int main(void)
{
	ram_a = stress_guest_map(&gm_a, RAM);
	ram_b = stress_guest_map(&gm_b, RAM);
	stress_loop_init(&loop);
	int irq_a = eventfd(0, EFD_NONBLOCK), irq_b = eventfd(0, EFD_NONBLOCK);
	blk_init_fake(&blk_a, -1, DISK, BLK_CACHE_WRITEBACK, false);
	blk_attach(&blk_a, &loop, NULL);
	blk_init_fake(&blk_b, stress_scratch_file(DISK), DISK, BLK_CACHE_WRITEBACK, false);
	blk_attach(&blk_b, &loop, NULL);
	if (irq_a < 0 || irq_b < 0 || vblk_init(&vb_a, &blk_a, -1, 0, 1, irq_a, &loop, &gm_a, &stress_ctl) ||
	    vblk_init(&vb_b, &blk_b, -1, 0x1000, 1, irq_b, &loop, &gm_b, &stress_ctl)) {
		fprintf(stderr, "stress: device setup failed\n");
		return 1;
	}
	stress_virtio_start((struct vmmio *[]){&vb_a.mmio, &vb_b.mmio}, 2, &loop);
	stress_run("a flooded disk does not starve another", flood_does_not_starve);
	loop_stop(&loop);
	vblk_destroy(&vb_a);
	vblk_destroy(&vb_b);
	loop_destroy(&loop);
	return stress_report();
}

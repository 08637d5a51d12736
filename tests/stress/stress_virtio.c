/*
 * virtio-mmio's vCPU ↔ loop handoffs, with a virtio-blk device on the real
 * event loop thread:
 *  - reset against queue setup: one vCPU resets the device and sets it up
 *    again, over and over, while another keeps writing the queue's registers
 *    and QueueReady. A reset must leave the queue disabled and cleared.
 *  - a queue enabled after DRIVER_OK while the loop is polling the device:
 *    the poller must see the whole queue or none of it, and serve the
 *    request waiting on it without a notification.
 */
#include <linux/virtio_blk.h>
#include <linux/virtio_mmio.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>

#include "devices/virtio_blk.h"
#include "tests/stress/stress_common.h"
#include "tests/stress/virtio_driver.h"

#define RAM (1u << 20)
#define RESET_ROUNDS 3000
#define ENABLE_ROUNDS 300

static uint8_t *ram;
static struct guest_mem gm;
static struct loop loop;
static struct blk blk;
static struct vblk vb;
static atomic_bool done;

static void *resetter(void *arg)
{
	(void)arg;
	struct vmmio *m = &vb.mmio;
	for (unsigned i = 0; i < RESET_ROUNDS; i++) {
		vdrv_negotiate(m, 0);
		vdrv_queue(m, 0);
		vdrv_w32(m, VIRTIO_MMIO_STATUS, 0); /* returns once the loop has finished the reset */
		/* Nothing may survive a reset: no FEATURES_OK, so no queue can be ready. */
		STRESS_CHECK(i, vdrv_r32(m, VIRTIO_MMIO_STATUS) == 0 &&
					vdrv_r32(m, VIRTIO_MMIO_QUEUE_READY) == 0 &&
					vdrv_r32(m, VIRTIO_MMIO_QUEUE_NUM) == 0, break);
	}
	atomic_store(&done, true);
	return NULL;
}

static void *queue_writer(void *arg)
{
	(void)arg;
	while (!atomic_load(&done))
		vdrv_queue(&vb.mmio, 0);
	return NULL;
}

static void reset_vs_queue_setup(void)
{
	atomic_store(&done, false);
	pthread_t a, b;
	pthread_create(&a, NULL, resetter, NULL);
	pthread_create(&b, NULL, queue_writer, NULL);
	pthread_join(a, NULL);
	pthread_join(b, NULL);
}

/* A GET_ID request (no host I/O) on queue q, published by the avail index only. */
static void get_id_request(unsigned q)
{
	uint64_t base = VDRV_QBASE(q);
	struct virtio_blk_outhdr h = {.type = VIRTIO_BLK_T_GET_ID};
	memcpy(ram + base + 0x5000, &h, sizeof(h));
	const struct vdrv_buf b[] = {
		{base + 0x5000, sizeof(h), 0},
		{base + 0x6000, VIRTIO_BLK_ID_BYTES, 1},
		{base + 0x7000, 1, 1},
	};
	vdrv_post(ram, q, 0, b, 3);
}

static void late_queue_enable(void)
{
	struct vmmio *m = &vb.mmio;
	for (unsigned i = 0; i < ENABLE_ROUNDS; i++) {
		memset(ram, 0, RAM);
		vdrv_negotiate(m, 0);
		vdrv_queue(m, 0);
		vdrv_driver_ok(m);
		/* A request on queue 0 wakes the loop, which then keeps polling the device. */
		get_id_request(0);
		vdrv_w32(m, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
		STRESS_CHECK(i, stress_wait_u16((uint16_t *)(ram + VDRV_QBASE(0) + 0x3002), 1, 5000), break);
		/* Queue 1 goes live under the poller's feet; its request has no notification. */
		get_id_request(1);
		vdrv_queue(m, 1);
		STRESS_CHECK(i, stress_wait_u16((uint16_t *)(ram + VDRV_QBASE(1) + 0x3002), 1, 5000), break);
		STRESS_CHECK(i, memcmp(ram + VDRV_QBASE(1) + 0x6000, "SN-STRESS", 9) == 0, break);
		vdrv_w32(m, VIRTIO_MMIO_STATUS, 0);
	}
}

int main(void)
{
	ram = stress_guest_map(&gm, RAM);
	stress_loop_init(&loop);
	int irq = eventfd(0, EFD_NONBLOCK);
	blk_init_fake(&blk, -1, 1 << 20, BLK_CACHE_WRITEBACK, false);
	memcpy(blk.serial, "SN-STRESS", 10);
	blk_attach(&blk, &loop, NULL);
	if (irq < 0 || vblk_init(&vb, &blk, -1, 0, 2, irq, &loop, &gm, &stress_ctl)) {
		fprintf(stderr, "stress: device setup failed\n");
		return 1;
	}
	loop.poll_ns = 2000000000ull; /* the poller runs whenever the loop is awake */
	stress_virtio_start((struct vmmio *[]){&vb.mmio}, 1, &loop);
	stress_run("virtio reset against queue setup", reset_vs_queue_setup);
	stress_run("virtio queue enabled while the loop polls", late_queue_enable);
	loop_stop(&loop);
	vblk_destroy(&vb);
	loop_destroy(&loop);
	return stress_report();
}

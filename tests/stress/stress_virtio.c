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
#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>

#include "devices/virtio_blk.h"
#include "tests/stress/stress_common.h"

#define RAM (1u << 20)
#define RESET_ROUNDS 3000
#define ENABLE_ROUNDS 300
#define QBASE(q) (0x10000u * (q))

static uint8_t *ram;
static struct guest_mem gm;
static struct loop loop;
static struct blk blk;
static struct vblk vb;
static atomic_bool done;

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

static void negotiate(void)
{
	w32(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	w32(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	w32(VIRTIO_MMIO_DRIVER_FEATURES, 1); /* VIRTIO_F_VERSION_1 */
	w32(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
					VIRTIO_CONFIG_S_FEATURES_OK);
}

static void queue_regs(unsigned q)
{
	w32(VIRTIO_MMIO_QUEUE_SEL, q);
	w32(VIRTIO_MMIO_QUEUE_NUM, 16);
	w32(VIRTIO_MMIO_QUEUE_DESC_LOW, QBASE(q) + 0x1000);
	w32(VIRTIO_MMIO_QUEUE_AVAIL_LOW, QBASE(q) + 0x2000);
	w32(VIRTIO_MMIO_QUEUE_USED_LOW, QBASE(q) + 0x3000);
	w32(VIRTIO_MMIO_QUEUE_READY, 1);
}

static void *resetter(void *arg)
{
	(void)arg;
	for (unsigned i = 0; i < RESET_ROUNDS; i++) {
		negotiate();
		queue_regs(0);
		w32(VIRTIO_MMIO_STATUS, 0); /* returns once the loop has finished the reset */
		/* Nothing may survive a reset: no FEATURES_OK, so no queue can be ready. */
		STRESS_CHECK(i, r32(VIRTIO_MMIO_STATUS) == 0 && r32(VIRTIO_MMIO_QUEUE_READY) == 0 &&
					r32(VIRTIO_MMIO_QUEUE_NUM) == 0, break);
	}
	atomic_store(&done, true);
	return NULL;
}

static void *queue_writer(void *arg)
{
	(void)arg;
	while (!atomic_load(&done))
		queue_regs(0);
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

/* A GET_ID request on queue q's ring, published by the avail index only. */
static void get_id_request(unsigned q)
{
	uint8_t *base = ram + QBASE(q);
	struct virtio_blk_outhdr h = {.type = VIRTIO_BLK_T_GET_ID};
	memcpy(base + 0x5000, &h, sizeof(h));
	struct vring_desc_raw {
		uint64_t addr;
		uint32_t len;
		uint16_t flags, next;
	} d[3] = {
		{QBASE(q) + 0x5000, sizeof(h), 1, 1},
		{QBASE(q) + 0x6000, VIRTIO_BLK_ID_BYTES, 3, 2},
		{QBASE(q) + 0x7000, 1, 2, 0},
	};
	memcpy(base + 0x1000, d, sizeof(d));
	uint16_t ring0 = 0, one = 1;
	memcpy(base + 0x2000 + 4, &ring0, 2);
	__atomic_store_n((uint16_t *)(base + 0x2000 + 2), one, __ATOMIC_RELEASE);
}

static void late_queue_enable(void)
{
	for (unsigned i = 0; i < ENABLE_ROUNDS; i++) {
		memset(ram, 0, RAM);
		negotiate();
		queue_regs(0);
		w32(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
						VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK);
		/* A request on queue 0 wakes the loop, which then keeps polling the device. */
		get_id_request(0);
		w32(VIRTIO_MMIO_QUEUE_NOTIFY, 0);
		STRESS_CHECK(i, stress_wait_u16((uint16_t *)(ram + QBASE(0) + 0x3002), 1, 5000), break);
		/* Queue 1 goes live under the poller's feet; its request has no notification. */
		get_id_request(1);
		queue_regs(1);
		STRESS_CHECK(i, stress_wait_u16((uint16_t *)(ram + QBASE(1) + 0x3002), 1, 5000), break);
		STRESS_CHECK(i, memcmp(ram + QBASE(1) + 0x6000, "SN-STRESS", 9) == 0, break);
		w32(VIRTIO_MMIO_STATUS, 0);
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
	/* Notifications as KVM's ioeventfds would deliver them, and the poller. */
	for (unsigned q = 0; q < 2; q++)
		vb.mmio.notify[q].fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	vmmio_start(&vb.mmio);
	loop.poll_ns = 2000000000ull; /* the poller runs whenever the loop is awake */
	if (loop_start(&loop)) {
		fprintf(stderr, "stress: loop_start failed\n");
		return 1;
	}
	stress_run("virtio reset against queue setup", reset_vs_queue_setup);
	stress_run("virtio queue enabled while the loop polls", late_queue_enable);
	loop_stop(&loop);
	vblk_destroy(&vb);
	loop_destroy(&loop);
	return stress_report();
}

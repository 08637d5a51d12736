/*
 * The guest's write-cache switch against writes in flight: one "vCPU"
 * keeps writing through a virtio-blk queue (real host I/O on a scratch
 * file) while another flips the config's writeback byte, which hands the
 * switch's flush to the loop thread. Every write completes, and once the
 * cache is off and the last write has completed, everything written is on
 * stable storage (the backend's flushed generation has caught up).
 */
#include <linux/virtio_blk.h>
#include <linux/virtio_mmio.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "devices/virtio_blk.h"
#include "tests/stress/stress_common.h"
#include "tests/stress/virtio_driver.h"

#define RAM (1u << 20)
#define DISK (8u << 20)
#define WRITES 3000
#define WCE_OFFSET (0x100 + offsetof(struct virtio_blk_config, wce))

static uint8_t *ram;
static struct guest_mem gm;
static struct loop loop;
static struct blk blk;
static struct vblk vb;
static atomic_bool done;
static atomic_uint flips;

static uint8_t write_once(uint16_t idx, uint64_t sector, unsigned round)
{
	return vdrv_blk_write(&vb.mmio, ram, idx, sector, (uint8_t)round);
}

static void *switcher(void *arg)
{
	(void)arg;
	struct timespec pause = {0, 50 * 1000};
	for (uint8_t on = 0; !atomic_load(&done); on ^= 1) {
		vdrv_w8(&vb.mmio, WCE_OFFSET, on);
		atomic_fetch_add(&flips, 1);
		nanosleep(&pause, NULL);
	}
	vdrv_w8(&vb.mmio, WCE_OFFSET, 0); /* it ends with the cache off */
	return NULL;
}

static void switch_under_writes(void)
{
	struct vmmio *m = &vb.mmio;
	vdrv_negotiate(m, 1ull << VIRTIO_BLK_F_CONFIG_WCE | 1ull << VIRTIO_BLK_F_FLUSH);
	vdrv_queue(m, 0);
	vdrv_driver_ok(m);
	pthread_t t;
	pthread_create(&t, NULL, switcher, NULL);
	uint16_t idx = 0;
	for (unsigned i = 0; i < WRITES; i++, idx++)
		STRESS_CHECK(i, write_once(idx, (i * 8u) % (DISK / 512 - 8), i) == VIRTIO_BLK_S_OK,
			     break);
	atomic_store(&done, true);
	pthread_join(t, NULL);
	/* The switch is off now: the last write completes only once everything is durable. */
	STRESS_CHECK(WRITES, write_once(idx, 0, WRITES) == VIRTIO_BLK_S_OK);
	loop_stop(&loop); /* joins the loop thread: its state is ours to read now */
	STRESS_CHECK(WRITES, blk.flushed_gen == blk.dirty_gen && blk.stats.host_flushes > 0);
}

int main(void)
{
	ram = stress_guest_map(&gm, RAM);
	stress_loop_init(&loop);
	int irq = eventfd(0, EFD_NONBLOCK);
	blk_init_fake(&blk, stress_scratch_file(DISK), DISK, BLK_CACHE_WRITEBACK, false);
	blk_attach(&blk, &loop, NULL);
	if (irq < 0 || vblk_init(&vb, &blk, -1, 0, 1, irq, &loop, &gm, &stress_ctl)) {
		fprintf(stderr, "stress: device setup failed\n");
		return 1;
	}
	stress_virtio_start((struct vmmio *[]){&vb.mmio}, 1, &loop);
	stress_run("write-cache switch under writes", switch_under_writes);
	printf("stress: wce: %u writes, %u switches, %llu host flushes, %llu writes with RWF_DSYNC\n",
	       WRITES + 1, atomic_load(&flips), (unsigned long long)blk.stats.host_flushes,
	       (unsigned long long)blk.stats.dsync_writes);
	vblk_destroy(&vb);
	loop_destroy(&loop);
	return stress_report();
}

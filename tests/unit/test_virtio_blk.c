/*
 * virtio-blk over virtio-mmio with a fake driver: rings built by hand in fake
 * guest memory that has inaccessible guard pages on both sides, so touching
 * anything outside guest RAM crashes the test. Host I/O goes to a recording
 * engine. No KVM.
 */
#include <criterion/criterion.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include <linux/virtio_ring.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "devices/virtio_blk.h"
#include "tests/unit/fake_guest.h"
#include "tests/unit/rec_engine.h"

#define RAM (4u << 20) /* room for a data buffer above size_max */
#define QSIZE 16u
#define DESC 0x1000ull
#define AVAIL 0x2000ull
#define USED 0x3000ull
#define TABLE 0x4000ull /* indirect tables */
#define BUF 0x10000ull


static uint8_t *mem;       /* guest RAM, between two guard regions */
static struct guest_mem gm;
static struct loop loop;
static struct blk blk;
static struct rec_engine rec;
static struct vblk vb;
static int irq_fd;
static uint16_t avail_idx;

static bool ctl_stopping(struct vm_ctl *c) { return true; }
static struct vm_ctl ctl = {.stopping = ctl_stopping};

static void w32(uint64_t off, uint32_t v)
{
	vmmio_bus_ops.write(&vb.mmio, off, (uint8_t *)&v, 4);
}

static uint32_t r32(uint64_t off)
{
	uint32_t v;
	vmmio_bus_ops.read(&vb.mmio, off, (uint8_t *)&v, 4);
	return v;
}

static void run_deferred(void)
{
	fake_loop_run_deferred(&loop);
}

static uint64_t irq_count(void)
{
	uint64_t v = 0;
	if (read(irq_fd, &v, sizeof(v)) != sizeof(v))
		return 0;
	return v;
}

/* Brings the device up the way Linux's virtio_mmio does, with these features. */
static void setup_features(enum blk_cache mode, bool readonly, uint64_t drop)
{
	mem = fake_guest_map(&gm, RAM);
	cr_assert_eq(loop_init(&loop, 8), 0);
	rec_engine_init(&rec);
	blk_init_fake(&blk, -1, 64 << 20, mode, readonly);
	snprintf(blk.serial, sizeof(blk.serial), "SERIAL-42");
	blk_attach(&blk, &loop, &rec.e);
	irq_fd = eventfd(0, EFD_NONBLOCK);
	cr_assert_eq(vblk_init(&vb, &blk, -1, 0, 1, irq_fd, &loop, &gm, &ctl), 0);
	avail_idx = 0;

	cr_assert_eq(r32(VIRTIO_MMIO_MAGIC_VALUE), 0x74726976);
	cr_assert_eq(r32(VIRTIO_MMIO_VERSION), 2);
	cr_assert_eq(r32(VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_BLOCK);
	w32(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	w32(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	uint64_t f = (uint64_t)r32(VIRTIO_MMIO_DEVICE_FEATURES) << 32;
	w32(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	f |= r32(VIRTIO_MMIO_DEVICE_FEATURES);
	f &= ~drop;
	w32(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	w32(VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)f);
	w32(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	w32(VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(f >> 32));
	w32(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
				    VIRTIO_CONFIG_S_FEATURES_OK);
	if (!(r32(VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_FEATURES_OK))
		return;
	w32(VIRTIO_MMIO_QUEUE_SEL, 0);
	cr_assert_eq(r32(VIRTIO_MMIO_QUEUE_READY), 0);
	cr_assert_geq(r32(VIRTIO_MMIO_QUEUE_NUM_MAX), QSIZE);
	w32(VIRTIO_MMIO_QUEUE_NUM, QSIZE);
	w32(VIRTIO_MMIO_QUEUE_DESC_LOW, DESC);
	w32(VIRTIO_MMIO_QUEUE_AVAIL_LOW, AVAIL);
	w32(VIRTIO_MMIO_QUEUE_USED_LOW, USED);
	w32(VIRTIO_MMIO_QUEUE_READY, 1);
	cr_assert_eq(r32(VIRTIO_MMIO_QUEUE_READY), 1);
	w32(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
				    VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK);
}

static void setup(enum blk_cache mode, bool readonly)
{
	setup_features(mode, readonly, 0);
}

static void teardown(void)
{
	vblk_destroy(&vb);
	loop_destroy(&loop);
	close(irq_fd);
	fake_guest_unmap(mem, RAM);
}

static void desc(uint64_t table, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags,
		 uint16_t next)
{
	struct vring_desc d = {.addr = addr, .len = len, .flags = flags, .next = next};
	memcpy(mem + table + 16u * i, &d, sizeof(d));
}

/* Offers head to the device and lets it process the queue. */
static void kick(uint16_t head)
{
	uint16_t *ring = (uint16_t *)(mem + AVAIL + 4);
	ring[avail_idx % QSIZE] = head;
	avail_idx++;
	memcpy(mem + AVAIL + 2, &avail_idx, 2);
	vb.mmio.ops->queue_notify(&vb, 0);
	run_deferred();
}

static uint16_t used_idx(void)
{
	uint16_t v;
	memcpy(&v, mem + USED + 2, 2);
	return v;
}

static struct vring_used_elem used_elem(uint16_t i)
{
	struct vring_used_elem e;
	memcpy(&e, mem + USED + 4 + 8u * (i % QSIZE), sizeof(e));
	return e;
}

static void header(uint64_t gpa, uint32_t type, uint64_t sector)
{
	struct virtio_blk_outhdr h = {.type = type, .sector = sector};
	memcpy(mem + gpa, &h, sizeof(h));
}

/* A standard three-descriptor request at descriptors 0..2. */
static void request(uint32_t type, uint64_t sector, uint32_t data_len, bool data_writable)
{
	header(BUF, type, sector);
	desc(DESC, 0, BUF, 16, VRING_DESC_F_NEXT, 1);
	desc(DESC, 1, BUF + 0x1000, data_len, VRING_DESC_F_NEXT | (data_writable ? VRING_DESC_F_WRITE : 0), 2);
	mem[BUF + 0x100] = 0xee;
	desc(DESC, 2, BUF + 0x100, 1, VRING_DESC_F_WRITE, 0);
}

static uint8_t status_byte(void)
{
	return mem[BUF + 0x100];
}

static void complete_io(unsigned k, int res)
{
	rec_engine_complete(&rec, k, res);
	run_deferred();
}

TestSuite(virtio_blk, .fini = teardown);

Test(virtio_blk, read_goes_to_the_backend_and_completes_with_status_and_interrupt)
{
	setup(BLK_CACHE_WRITEBACK, false);
	request(VIRTIO_BLK_T_IN, 8, 4096, true);
	kick(0);
	cr_assert_eq(rec.n, 1);
	cr_assert_eq(rec.io[0].kind, BLK_IO_READV);
	cr_assert_eq(rec.io[0].offset, 8 * 512);
	cr_assert_eq(rec.io[0].iov[0].iov_base, mem + BUF + 0x1000, "zero-copy into guest memory");
	cr_assert_eq(used_idx(), 0, "completed before the host read");
	complete_io(0, 4096);
	cr_assert_eq(used_idx(), 1);
	cr_assert_eq(used_elem(0).id, 0);
	cr_assert_eq(used_elem(0).len, 4097, "data plus the status byte");
	cr_assert_eq(status_byte(), VIRTIO_BLK_S_OK);
	cr_assert_eq(irq_count(), 1);
	cr_assert_eq(r32(VIRTIO_MMIO_INTERRUPT_STATUS) & 1, 1);
	w32(VIRTIO_MMIO_INTERRUPT_ACK, 1);
	cr_assert_eq(r32(VIRTIO_MMIO_INTERRUPT_STATUS), 0);
}

Test(virtio_blk, get_id_returns_the_serial_and_flush_reaches_the_backend)
{
	setup(BLK_CACHE_WRITEBACK, false);
	request(VIRTIO_BLK_T_GET_ID, 0, 20, true);
	kick(0);
	cr_assert_eq(status_byte(), VIRTIO_BLK_S_OK);
	cr_assert_eq(memcmp(mem + BUF + 0x1000, "SERIAL-42\0", 10), 0);
	cr_assert_eq(used_elem(0).len, 21);

	request(VIRTIO_BLK_T_OUT, 0, 512, false);
	kick(0);
	complete_io(0, 512);
	header(BUF, VIRTIO_BLK_T_FLUSH, 0);
	desc(DESC, 0, BUF, 16, VRING_DESC_F_NEXT, 2);
	kick(0);
	cr_assert_eq(rec.io[1].kind, BLK_IO_FDATASYNC);
	cr_assert_eq(used_idx(), 2, "flush done before fdatasync");
	complete_io(1, 0);
	cr_assert_eq(used_idx(), 3);
	cr_assert_eq(status_byte(), VIRTIO_BLK_S_OK);
	cr_assert_eq(blk.stats.flushes, 1);
}

Test(virtio_blk, bad_requests_fail_with_a_status_and_no_io)
{
	setup(BLK_CACHE_WRITEBACK, true);
	struct { uint32_t type; uint64_t sector; uint32_t len; bool w; uint8_t want; } cases[] = {
		{VIRTIO_BLK_T_OUT, 0, 512, false, VIRTIO_BLK_S_IOERR},         /* read-only disk */
		{VIRTIO_BLK_T_IN, (64 << 20) / 512, 512, true, VIRTIO_BLK_S_IOERR}, /* past the end */
		{VIRTIO_BLK_T_IN, UINT64_MAX / 256, 512, true, VIRTIO_BLK_S_IOERR}, /* offset overflows */
		{VIRTIO_BLK_T_IN, 0, 100, true, VIRTIO_BLK_S_IOERR},           /* not whole sectors */
		{77, 0, 512, true, VIRTIO_BLK_S_UNSUPP},                        /* unknown type */
	};
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		request(cases[i].type, cases[i].sector, cases[i].len, cases[i].w);
		kick(0);
		cr_assert_eq(used_idx(), i + 1, "case %u", i);
		cr_assert_eq(status_byte(), cases[i].want, "case %u: status %u", i, status_byte());
	}
	cr_assert_eq(rec.n, 0);
}

Test(virtio_blk, buffers_outside_guest_memory_fail_the_request)
{
	setup(BLK_CACHE_WRITEBACK, false);
	static const uint64_t addrs[] = {RAM - 100, UINT64_MAX - 10, 0x40000000ull};
	for (unsigned i = 0; i < 3; i++) {
		request(VIRTIO_BLK_T_IN, 0, 512, true);
		desc(DESC, 1, addrs[i], 512, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 2);
		kick(0);
		cr_assert_eq(status_byte(), VIRTIO_BLK_S_IOERR, "addr %#llx", (unsigned long long)addrs[i]);
	}
	/* Zero-length data. */
	request(VIRTIO_BLK_T_IN, 0, 0, true);
	kick(0);
	cr_assert_eq(status_byte(), VIRTIO_BLK_S_IOERR);
	cr_assert_eq(used_idx(), 4);
	cr_assert_eq(rec.n, 0);
}

Test(virtio_blk, a_status_byte_that_does_not_fit_is_never_written)
{
	setup(BLK_CACHE_WRITEBACK, false);
	/* The last descriptor is device-readable: no place for a status. */
	request(VIRTIO_BLK_T_IN, 0, 512, true);
	desc(DESC, 2, BUF + 0x100, 1, 0, 0);
	desc(DESC, 1, BUF + 0x1000, 512, VRING_DESC_F_NEXT, 2);
	kick(0);
	cr_assert_eq(used_idx(), 1);
	cr_assert_eq(used_elem(0).len, 0);
	cr_assert_eq(status_byte(), 0xee, "untouched");
	/* The status descriptor points outside RAM. */
	request(VIRTIO_BLK_T_IN, 0, 512, true);
	desc(DESC, 2, RAM, 1, VRING_DESC_F_WRITE, 0);
	kick(0);
	cr_assert_eq(used_idx(), 2);
	cr_assert_eq(used_elem(1).len, 0);
	cr_assert_eq(rec.n, 0);
}

/* The device stopped the queue, asked for a reset, and did no I/O for it. */
static void expect_broken_after(unsigned ios, uint16_t used)
{
	cr_assert(r32(VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET);
	cr_assert(r32(VIRTIO_MMIO_INTERRUPT_STATUS) & VIRTIO_MMIO_INT_CONFIG);
	cr_assert_eq(rec.n, ios);
	cr_assert_eq(used_idx(), used);
	/* And the queue stays stopped. */
	kick(0);
	cr_assert_eq(used_idx(), used);
}

static void expect_needs_reset(void)
{
	expect_broken_after(0, 0);
}

Test(virtio_blk, descriptor_loop_marks_the_device_broken)
{
	setup(BLK_CACHE_WRITEBACK, false);
	request(VIRTIO_BLK_T_IN, 0, 512, true);
	desc(DESC, 2, BUF + 0x100, 1, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 0);
	kick(0);
	expect_needs_reset();
}

Test(virtio_blk, readable_after_writable_marks_the_device_broken)
{
	setup(BLK_CACHE_WRITEBACK, false);
	request(VIRTIO_BLK_T_OUT, 0, 512, false);
	desc(DESC, 0, BUF, 16, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 1);
	kick(0);
	expect_needs_reset();
}

Test(virtio_blk, next_index_beyond_the_table_marks_the_device_broken)
{
	setup(BLK_CACHE_WRITEBACK, false);
	request(VIRTIO_BLK_T_IN, 0, 512, true);
	desc(DESC, 1, BUF + 0x1000, 512, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, QSIZE);
	kick(0);
	expect_needs_reset();
}

Test(virtio_blk, head_and_avail_index_out_of_range_mark_the_device_broken)
{
	setup(BLK_CACHE_WRITEBACK, false);
	kick(QSIZE + 3);
	expect_needs_reset();
	teardown();
	setup(BLK_CACHE_WRITEBACK, false);
	request(VIRTIO_BLK_T_IN, 0, 512, true);
	avail_idx = QSIZE + 5; /* more new entries than the ring has */
	kick(0);
	expect_needs_reset();
}

Test(virtio_blk, indirect_tables_are_walked_and_bounded)
{
	setup(BLK_CACHE_WRITEBACK, false);
	/* A good indirect request. */
	header(BUF, VIRTIO_BLK_T_IN, 0);
	desc(TABLE, 0, BUF, 16, VRING_DESC_F_NEXT, 1);
	desc(TABLE, 1, BUF + 0x1000, 512, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 2);
	desc(TABLE, 2, BUF + 0x100, 1, VRING_DESC_F_WRITE, 0);
	desc(DESC, 0, TABLE, 48, VRING_DESC_F_INDIRECT, 0);
	kick(0);
	cr_assert_eq(rec.n, 1);
	complete_io(0, 512);
	cr_assert_eq(status_byte(), VIRTIO_BLK_S_OK);

	/* An indirect table inside an indirect table. */
	desc(TABLE, 1, TABLE + 0x100, 32, VRING_DESC_F_INDIRECT, 0);
	desc(TABLE, 0, BUF, 16, VRING_DESC_F_NEXT, 1);
	kick(0);
	expect_broken_after(1, 1);
}

Test(virtio_blk, oversized_and_looping_indirect_tables_mark_the_device_broken)
{
	setup(BLK_CACHE_WRITEBACK, false);
	/* More entries than any chain may have. */
	desc(DESC, 0, TABLE, 16 * (VQ_MAX_CHAIN + 1), VRING_DESC_F_INDIRECT, 0);
	kick(0);
	expect_needs_reset();
	teardown();

	setup(BLK_CACHE_WRITEBACK, false);
	/* A loop inside the table. */
	desc(TABLE, 0, BUF, 16, VRING_DESC_F_NEXT, 1);
	desc(TABLE, 1, BUF + 0x1000, 512, VRING_DESC_F_NEXT, 0);
	desc(DESC, 0, TABLE, 32, VRING_DESC_F_INDIRECT, 0);
	kick(0);
	expect_needs_reset();
	teardown();

	setup(BLK_CACHE_WRITEBACK, false);
	/* A table that runs off the end of guest memory. */
	desc(DESC, 0, RAM - 32, 64, VRING_DESC_F_INDIRECT, 0);
	kick(0);
	expect_needs_reset();
}

Test(virtio_blk, write_cache_switch_follows_the_policy)
{
	setup(BLK_CACHE_WRITEBACK, false);
	uint8_t wce;
	vmmio_bus_ops.read(&vb.mmio, 0x100 + 32, &wce, 1);
	cr_assert_eq(wce, 1);
	uint8_t zero = 0, one = 1;
	vmmio_bus_ops.write(&vb.mmio, 0x100 + 32, &zero, 1);
	vmmio_bus_ops.read(&vb.mmio, 0x100 + 32, &wce, 1);
	cr_assert_eq(wce, 0);
	cr_assert_not(blk_write_cache_enabled(&blk));
	request(VIRTIO_BLK_T_OUT, 0, 512, false);
	kick(0);
	cr_assert(rec.io[0].rw_flags & RWF_DSYNC, "cache off: writes are durable");
	vmmio_bus_ops.write(&vb.mmio, 0x100 + 32, &one, 1);
	cr_assert(blk_write_cache_enabled(&blk));
	teardown();

	setup(BLK_CACHE_WRITETHROUGH, false);
	vmmio_bus_ops.read(&vb.mmio, 0x100 + 32, &wce, 1);
	cr_assert_eq(wce, 0, "writethrough has no volatile cache to advertise");
	vmmio_bus_ops.write(&vb.mmio, 0x100 + 32, &one, 1);
	vmmio_bus_ops.read(&vb.mmio, 0x100 + 32, &wce, 1);
	cr_assert_eq(wce, 0, "and the guest cannot turn one on");
	uint64_t cap;
	vmmio_bus_ops.read(&vb.mmio, 0x100, (uint8_t *)&cap, 4);
	cr_assert_eq(cap, (64 << 20) / 512);
}

Test(virtio_blk, a_driver_that_cannot_flush_gets_write_through)
{
	setup_features(BLK_CACHE_WRITEBACK, false,
		       (1ull << VIRTIO_BLK_F_FLUSH) | (1ull << VIRTIO_BLK_F_CONFIG_WCE));
	cr_assert_not(blk_write_cache_enabled(&blk));
}

Test(virtio_blk, features_without_version_1_are_refused)
{
	setup_features(BLK_CACHE_WRITEBACK, false, 1ull << VIRTIO_F_VERSION_1);
	cr_assert_not(r32(VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_FEATURES_OK);
}

Test(virtio_blk, event_index_suppresses_interrupts_the_driver_did_not_ask_for)
{
	setup(BLK_CACHE_WRITEBACK, false);
	cr_assert(vmmio_has_feature(&vb.mmio, VIRTIO_RING_F_EVENT_IDX));
	/* used_event = 5: the driver wants an interrupt only once used->idx passes 5. */
	uint16_t ue = 5;
	memcpy(mem + AVAIL + 4 + 2 * QSIZE, &ue, 2);
	request(VIRTIO_BLK_T_GET_ID, 0, 20, true);
	kick(0);
	cr_assert_eq(used_idx(), 1);
	cr_assert_eq(irq_count(), 0);
	/* The device asked for the next kick at the next avail index. */
	uint16_t ae;
	memcpy(&ae, mem + USED + 4 + 8 * QSIZE, 2);
	cr_assert_eq(ae, 1);
}

Test(virtio_blk, no_second_interrupt_while_the_guest_has_not_acknowledged_the_first)
{
	setup(BLK_CACHE_WRITEBACK, false);
	request(VIRTIO_BLK_T_GET_ID, 0, 20, true);
	kick(0);
	cr_assert_eq(irq_count(), 1);
	/* The driver asks for an interrupt for every used entry (used_event = used idx). */
	uint16_t ue = used_idx();
	memcpy(mem + AVAIL + 4 + 2 * QSIZE, &ue, 2);
	kick(0); /* the same chain again: the guest's handler has not run yet */
	cr_assert_eq(used_idx(), 2);
	cr_assert_eq(irq_count(), 0, "the pending interrupt covers it");
	w32(VIRTIO_MMIO_INTERRUPT_ACK, r32(VIRTIO_MMIO_INTERRUPT_STATUS));
	ue = used_idx();
	memcpy(mem + AVAIL + 4 + 2 * QSIZE, &ue, 2);
	kick(0);
	cr_assert_eq(irq_count(), 1, "after the acknowledgement a new one is due");
}

Test(virtio_blk, a_data_segment_above_size_max_is_refused_without_io)
{
	setup(BLK_CACHE_WRITEBACK, false);
	/* 1 MiB + 4 KiB in one descriptor: more than the size_max we advertise. */
	request(VIRTIO_BLK_T_OUT, 0, (1u << 20) + 4096, false);
	kick(0);
	cr_assert_eq(rec.n, 0, "the backend was asked to move it");
	cr_assert_eq(used_idx(), 1);
	cr_assert_eq(status_byte(), VIRTIO_BLK_S_IOERR);
	cr_assert_eq(vb.mmio.bad_requests, 1);
	/* Exactly size_max is fine. */
	request(VIRTIO_BLK_T_OUT, 0, 1u << 20, false);
	kick(0);
	cr_assert_eq(rec.n, 1);
}

/* Puts head on the available ring without notifying (a guest that keeps the queue full). */
static void offer(uint16_t head)
{
	uint16_t *ring = (uint16_t *)(mem + AVAIL + 4);
	ring[avail_idx % QSIZE] = head;
	avail_idx++;
	memcpy(mem + AVAIL + 2, &avail_idx, 2);
}

Test(virtio_blk, a_queue_the_guest_keeps_full_yields_the_loop_after_its_budget)
{
	setup(BLK_CACHE_WRITEBACK, false);
	request(VIRTIO_BLK_T_GET_ID, 0, 20, true);
	struct vq_elem e;
	/* The guest adds a request each time the device takes one: the queue never runs dry. */
	for (unsigned i = 0; i < VMMIO_POP_BUDGET; i++) {
		offer(0);
		cr_assert_eq(vmmio_pop(&vb.mmio, 0, &e), VQ_GOT, "pop %u", i);
		vmmio_complete(&vb.mmio, 0, e.head, 0);
	}
	offer(0);
	cr_assert_eq(vmmio_pop(&vb.mmio, 0, &e), VQ_EMPTY, "no end to one device's turn");
	cr_assert_not(vmmio_queue_idle(&vb.mmio, 0), "the service loop must stop here");
	pthread_mutex_lock(&loop.lock);
	struct loop_task *t = loop.tasks;
	loop.tasks = NULL;
	pthread_mutex_unlock(&loop.lock);
	cr_assert_eq(t, &vb.mmio.resume_task, "nothing comes back for the rest");
	cr_assert_eq(vb.mmio.budget_yields, 1);
	/* The loop, after serving the others, runs the task: the waiting request is served. */
	uint16_t before = used_idx();
	t->fn(t);
	run_deferred();
	cr_assert_eq(used_idx(), (uint16_t)(before + 1));
	cr_assert_eq(status_byte(), VIRTIO_BLK_S_OK);
}

/*
 * virtio-scsi over virtio-mmio with a fake driver in guarded fake guest
 * memory and a recording block engine: command and response framing,
 * addressing, hostile buffers, and task management that drains. No KVM.
 */
#include <criterion/criterion.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_mmio.h>
#include <linux/virtio_ring.h>
#include <linux/virtio_scsi.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "devices/virtio_scsi.h"
#include "tests/unit/fake_guest.h"
#include "tests/unit/rec_engine.h"

#define RAM (1u << 20)
#define QSIZE 32u
#define NQ 3 /* control, event, one request queue */
#define CTRL 0
#define EVENT 1
#define REQ 2
#define QBASE(q) (0x10000ull * ((q) + 1)) /* descriptors; avail +0x1000, used +0x2000 */
#define BUF(k) (0x80000ull + 0x4000ull * (k)) /* request k: header, response +0x100, data +0x1000 */
#define RESP_OFF 0x100
#define DATA_OFF 0x1000
#define RESP_SIZE 108u
#define REQ_SIZE 51u

static uint8_t *mem;
static struct guest_mem gm;
static struct loop loop;
static struct blk blk[2];
static struct rec_engine rec;
static struct vscsi vs;
static int irq_fd;
static uint16_t avail_idx[NQ];

static bool ctl_stopping(struct vm_ctl *c) { return true; }
static struct vm_ctl ctl = {.stopping = ctl_stopping};

static void w32(uint64_t off, uint32_t v) { vmmio_bus_ops.write(&vs.mmio, off, (uint8_t *)&v, 4); }
static uint32_t r32(uint64_t off)
{
	uint32_t v;
	vmmio_bus_ops.read(&vs.mmio, off, (uint8_t *)&v, 4);
	return v;
}

static void setup(enum blk_cache mode)
{
	mem = fake_guest_map(&gm, RAM);
	cr_assert_eq(loop_init(&loop, 8), 0);
	rec_engine_init(&rec);
	struct blk *disks[2] = {&blk[0], &blk[1]};
	for (int i = 0; i < 2; i++) {
		blk_init_fake(&blk[i], -1, 64 << 20, mode, false);
		blk_attach(&blk[i], &loop, &rec.e);
	}
	irq_fd = eventfd(0, EFD_NONBLOCK);
	cr_assert_eq(vscsi_init(&vs, disks, 2, -1, 0, 1, irq_fd, &loop, &gm, &ctl), 0);
	vmmio_start(&vs.mmio);
	memset(avail_idx, 0, sizeof(avail_idx));

	cr_assert_eq(r32(VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_SCSI);
	w32(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	w32(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	uint32_t lo = r32(VIRTIO_MMIO_DEVICE_FEATURES);
	cr_assert_eq(lo & (1u << VIRTIO_SCSI_F_T10_PI), 0, "no protection information offered");
	w32(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	uint32_t hi = r32(VIRTIO_MMIO_DEVICE_FEATURES);
	w32(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	w32(VIRTIO_MMIO_DRIVER_FEATURES, lo);
	w32(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	w32(VIRTIO_MMIO_DRIVER_FEATURES, hi);
	w32(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
				    VIRTIO_CONFIG_S_FEATURES_OK);
	cr_assert(r32(VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_FEATURES_OK);
	/* Linux writes the sizes it uses, the defaults. */
	w32(0x100 + offsetof(struct virtio_scsi_config, sense_size), 96);
	w32(0x100 + offsetof(struct virtio_scsi_config, cdb_size), 32);
	for (unsigned q = 0; q < NQ; q++) {
		w32(VIRTIO_MMIO_QUEUE_SEL, q);
		w32(VIRTIO_MMIO_QUEUE_NUM, QSIZE);
		w32(VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)QBASE(q));
		w32(VIRTIO_MMIO_QUEUE_AVAIL_LOW, (uint32_t)QBASE(q) + 0x1000);
		w32(VIRTIO_MMIO_QUEUE_USED_LOW, (uint32_t)QBASE(q) + 0x2000);
		w32(VIRTIO_MMIO_QUEUE_READY, 1);
	}
	w32(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
				    VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK);
}

static void teardown(void)
{
	vscsi_destroy(&vs);
	loop_destroy(&loop);
	close(irq_fd);
	fake_guest_unmap(mem, RAM);
}

TestSuite(virtio_scsi, .fini = teardown);

static void desc(unsigned q, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	struct vring_desc d = {.addr = addr, .len = len, .flags = flags, .next = next};
	memcpy(mem + QBASE(q) + 16u * i, &d, sizeof(d));
}

static void offer(unsigned q, uint16_t head)
{
	uint16_t *ring = (uint16_t *)(mem + QBASE(q) + 0x1000 + 4);
	ring[avail_idx[q] % QSIZE] = head;
	avail_idx[q]++;
	memcpy(mem + QBASE(q) + 0x1000 + 2, &avail_idx[q], 2);
}

static void kick(unsigned q)
{
	vs.mmio.ops->queue_notify(&vs, q);
	fake_loop_run_deferred(&loop);
}

static uint16_t used_idx(unsigned q)
{
	uint16_t v;
	memcpy(&v, mem + QBASE(q) + 0x2000 + 2, 2);
	return v;
}

static struct vring_used_elem used_elem(unsigned q, uint16_t i)
{
	struct vring_used_elem e;
	memcpy(&e, mem + QBASE(q) + 0x2000 + 4 + 8u * (i % QSIZE), sizeof(e));
	return e;
}

/*
 * Command k on the request queue, at descriptors 4k..: header, data-out,
 * response, data-in, as Linux's virtio_scsi lays them out.
 */
static void command(unsigned k, uint8_t target, uint16_t lun, uint64_t tag, const uint8_t *cdb,
		    size_t cdb_len, uint32_t out_len, uint32_t in_len)
{
	uint8_t *h = mem + BUF(k);
	memset(h, 0, REQ_SIZE);
	h[0] = 1;
	h[1] = target;
	h[2] = (uint8_t)(0x40 | lun >> 8);
	h[3] = (uint8_t)lun;
	memcpy(h + 8, &tag, 8);
	memcpy(h + 19, cdb, cdb_len);
	memset(mem + BUF(k) + RESP_OFF, 0xEE, RESP_SIZE);
	uint16_t d = (uint16_t)(4 * k);
	desc(REQ, d, BUF(k), REQ_SIZE, VRING_DESC_F_NEXT, d + 1);
	uint16_t next = d + 1;
	if (out_len) {
		desc(REQ, next, BUF(k) + DATA_OFF, out_len, VRING_DESC_F_NEXT, next + 1);
		next++;
	}
	desc(REQ, next, BUF(k) + RESP_OFF, RESP_SIZE,
	     VRING_DESC_F_WRITE | (in_len ? VRING_DESC_F_NEXT : 0), next + 1);
	if (in_len)
		desc(REQ, next + 1, BUF(k) + DATA_OFF, in_len, VRING_DESC_F_WRITE, 0);
	offer(REQ, d);
}

struct resp {
	uint32_t sense_len, resid;
	uint8_t status, response;
	const uint8_t *sense;
};

static struct resp resp(unsigned k)
{
	const uint8_t *r = mem + BUF(k) + RESP_OFF;
	struct resp x;
	memcpy(&x.sense_len, r, 4);
	memcpy(&x.resid, r + 4, 4);
	x.status = r[10];
	x.response = r[11];
	x.sense = r + 12;
	return x;
}

static const uint8_t inquiry_cdb[] = {0x12, 0, 0, 0, 36, 0};

Test(virtio_scsi, config_space_describes_one_target_per_disk)
{
	setup(BLK_CACHE_WRITEBACK);
	struct virtio_scsi_config c;
	for (unsigned i = 0; i < sizeof(c); i += 4) {
		uint32_t v = r32(0x100 + i);
		memcpy((uint8_t *)&c + i, &v, 4);
	}
	cr_assert_eq(c.num_queues, 1);
	cr_assert_eq(c.seg_max, VQ_MAX_CHAIN - 2);
	cr_assert_eq(c.max_target, 1, "two disks: targets 0 and 1");
	cr_assert_eq(c.max_lun, 0);
	cr_assert_eq(c.sense_size, 96);
	cr_assert_eq(c.cdb_size, 32);
	cr_assert_eq(c.event_info_size, 16);
	cr_assert_geq(c.cmd_per_lun, 1);

	/* The driver may shrink the sense area; absurd sizes are ignored. */
	w32(0x100 + offsetof(struct virtio_scsi_config, sense_size), 1000);
	cr_assert_eq(r32(0x100 + offsetof(struct virtio_scsi_config, sense_size)), 96);
	w32(0x100 + offsetof(struct virtio_scsi_config, sense_size), 8);
	cr_assert_eq(r32(0x100 + offsetof(struct virtio_scsi_config, sense_size)), 8);
	const uint8_t tur[] = {0, 0, 0, 0, 0, 0};
	command(0, 0, 5, 1, tur, sizeof(tur), 0, 0); /* LUN 5: CHECK CONDITION */
	desc(REQ, 1, BUF(0) + RESP_OFF, 12 + 8, VRING_DESC_F_WRITE, 0);
	kick(REQ);
	cr_assert_eq(used_elem(REQ, 0).len, 12 + 8, "the header follows sense_size");
	cr_assert_eq(resp(0).status, 0x02);
	cr_assert_eq(resp(0).sense_len, 8, "sense cut to the area the driver set");
	cr_assert_eq(mem[BUF(0) + RESP_OFF + 12 + 8], 0xEE, "nothing written past it");
}

Test(virtio_scsi, inquiry_answers_with_data_resid_and_an_interrupt)
{
	setup(BLK_CACHE_WRITEBACK);
	command(0, 1, 0, 7, inquiry_cdb, sizeof(inquiry_cdb), 0, 96);
	kick(REQ);
	cr_assert_eq(used_idx(REQ), 1);
	struct resp r = resp(0);
	cr_assert_eq(r.response, VIRTIO_SCSI_S_OK);
	cr_assert_eq(r.status, 0);
	cr_assert_eq(r.sense_len, 0);
	cr_assert_eq(r.resid, 96 - 36, "the data buffer held 96, the answer 36");
	cr_assert_eq(mem[BUF(0) + DATA_OFF + 2], 5);
	cr_assert_eq(used_elem(REQ, 0).len, RESP_SIZE + 36);
	uint64_t n = 0;
	cr_assert_eq(read(irq_fd, &n, sizeof(n)), (ssize_t)sizeof(n));
	cr_assert_eq(rec.n, 0);
}

Test(virtio_scsi, fua_write_is_durable_and_sync_cache_flushes_only_after_it)
{
	setup(BLK_CACHE_WRITEBACK);
	const uint8_t write10[] = {0x2A, 0x08, 0, 0, 0, 16, 0, 0, 8, 0};
	command(0, 0, 0, 1, write10, sizeof(write10), 4096, 0);
	kick(REQ);
	cr_assert_eq(rec.n, 1);
	cr_assert_eq(rec.io[0].kind, BLK_IO_WRITEV);
	cr_assert_eq(rec.io[0].offset, 16 * 512);
	cr_assert_eq(rec.io[0].iov[0].iov_base, mem + BUF(0) + DATA_OFF, "zero-copy from guest memory");
	cr_assert(rec.io[0].rw_flags & RWF_DSYNC, "FUA: durable before it completes");
	cr_assert_eq(used_idx(REQ), 0, "not answered before the host write");
	rec_engine_complete(&rec, 0, 4096);
	fake_loop_run_deferred(&loop);
	cr_assert_eq(used_idx(REQ), 1);
	cr_assert_eq(resp(0).status, 0);
	cr_assert_eq(resp(0).resid, 0);
	cr_assert_eq(blk[0].stats.fua_writes, 1);

	const uint8_t write_cached[] = {0x2A, 0, 0, 0, 0, 0, 0, 0, 1, 0};
	command(1, 0, 0, 2, write_cached, sizeof(write_cached), 512, 0);
	kick(REQ);
	cr_assert_not(rec.io[1].rw_flags & RWF_DSYNC);
	rec_engine_complete(&rec, 1, 512);
	const uint8_t sync10[] = {0x35, 0, 0, 0, 0, 0, 0, 0, 0, 0};
	command(2, 0, 0, 3, sync10, sizeof(sync10), 0, 0);
	kick(REQ);
	cr_assert_eq(rec.io[2].kind, BLK_IO_FDATASYNC, "SYNCHRONIZE CACHE is a host flush");
	cr_assert_eq(used_idx(REQ), 2, "answered only after the fdatasync");
	rec_engine_complete(&rec, 2, 0);
	fake_loop_run_deferred(&loop);
	cr_assert_eq(used_idx(REQ), 3);
	cr_assert_eq(resp(2).status, 0);
	cr_assert_eq(blk[0].stats.flushes, 1);
}

Test(virtio_scsi, host_read_error_is_a_medium_error_in_the_sense)
{
	setup(BLK_CACHE_NONE);
	const uint8_t read10[] = {0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0};
	command(0, 0, 0, 1, read10, sizeof(read10), 0, 512);
	kick(REQ);
	rec_engine_complete(&rec, 0, -EIO);
	fake_loop_run_deferred(&loop);
	struct resp r = resp(0);
	cr_assert_eq(r.response, VIRTIO_SCSI_S_OK);
	cr_assert_eq(r.status, 0x02, "CHECK CONDITION");
	cr_assert_eq(r.sense_len, 18);
	cr_assert_eq(r.sense[2], 0x03, "MEDIUM ERROR");
	cr_assert_eq(r.sense[12], 0x11);
	cr_assert_eq(r.resid, 512, "nothing was transferred");

	/* The next command reuses the request slot: nothing of the read may stick. */
	const uint8_t sync10[] = {0x35, 0, 0, 0, 0, 0, 0, 0, 0, 0};
	command(1, 0, 0, 2, sync10, sizeof(sync10), 0, 0);
	kick(REQ);
	cr_assert_eq(rec.n, 1, "nothing was written: no host flush needed");
	cr_assert_eq(used_idx(REQ), 2);
	cr_assert_eq(resp(1).status, 0);
	cr_assert_eq(resp(1).sense_len, 0);
	cr_assert_eq(used_elem(REQ, 1).len, RESP_SIZE, "a flush returns no data");
}

Test(virtio_scsi, missing_targets_and_luns)
{
	setup(BLK_CACHE_WRITEBACK);
	command(0, 2, 0, 1, inquiry_cdb, sizeof(inquiry_cdb), 0, 36);
	kick(REQ);
	cr_assert_eq(resp(0).response, VIRTIO_SCSI_S_BAD_TARGET, "only targets 0 and 1 exist");

	command(1, 0, 3, 2, inquiry_cdb, sizeof(inquiry_cdb), 0, 36);
	kick(REQ);
	cr_assert_eq(resp(1).response, VIRTIO_SCSI_S_OK);
	cr_assert_eq(mem[BUF(1) + DATA_OFF], 0x7F, "no unit at LUN 3");

	const uint8_t tur[] = {0, 0, 0, 0, 0, 0};
	command(2, 0, 3, 3, tur, sizeof(tur), 0, 0);
	kick(REQ);
	cr_assert_eq(resp(2).status, 0x02);
	cr_assert_eq(resp(2).sense[12], 0x25, "LOGICAL UNIT NOT SUPPORTED");
	cr_assert_eq(rec.n, 0);
}

Test(virtio_scsi, hostile_buffers_get_an_answer_and_no_io)
{
	setup(BLK_CACHE_WRITEBACK);
	/* A read of 8 blocks into a 512-byte buffer: overrun, nothing read. */
	const uint8_t read10[] = {0x28, 0, 0, 0, 0, 0, 0, 0, 8, 0};
	command(0, 0, 0, 1, read10, sizeof(read10), 0, 512);
	kick(REQ);
	cr_assert_eq(resp(0).response, VIRTIO_SCSI_S_OVERRUN);
	/* A write with no data-out at all. */
	const uint8_t write10[] = {0x2A, 0, 0, 0, 0, 0, 0, 0, 1, 0};
	command(1, 0, 0, 2, write10, sizeof(write10), 0, 512);
	kick(REQ);
	cr_assert_eq(resp(1).response, VIRTIO_SCSI_S_OVERRUN);
	/* The data-in buffer lies outside guest memory. */
	command(2, 0, 0, 3, read10, sizeof(read10), 0, 4096);
	desc(REQ, 4 * 2 + 2, RAM - 512, 4096, VRING_DESC_F_WRITE, 0);
	kick(REQ);
	cr_assert_eq(resp(2).response, VIRTIO_SCSI_S_FAILURE);
	/* A response buffer too small for the header: handed back untouched. */
	command(3, 0, 0, 4, inquiry_cdb, sizeof(inquiry_cdb), 0, 0);
	desc(REQ, 4 * 3 + 1, BUF(3) + RESP_OFF, RESP_SIZE - 1, VRING_DESC_F_WRITE, 0);
	kick(REQ);
	cr_assert_eq(used_idx(REQ), 4);
	cr_assert_eq(used_elem(REQ, 3).len, 0);
	cr_assert_eq(mem[BUF(3) + RESP_OFF], 0xEE, "nothing written");
	/* A request header cut short. */
	command(4, 0, 0, 5, inquiry_cdb, sizeof(inquiry_cdb), 0, 36);
	desc(REQ, 4 * 4, BUF(4), 20, VRING_DESC_F_NEXT, 4 * 4 + 1);
	kick(REQ);
	cr_assert_eq(resp(4).response, VIRTIO_SCSI_S_FAILURE);
	cr_assert_eq(rec.n, 0);
	cr_assert_eq(vs.mmio.bad_requests, 3);
}

/* A TMF at control descriptors 2k.., response byte at BUF(8 + k). */
static void tmf(unsigned k, uint32_t subtype, uint8_t target, uint64_t tag)
{
	struct virtio_scsi_ctrl_tmf_req t = {.type = VIRTIO_SCSI_T_TMF, .subtype = subtype, .tag = tag};
	t.lun[0] = 1;
	t.lun[1] = target;
	t.lun[2] = 0x40;
	memcpy(mem + BUF(8 + k), &t, sizeof(t));
	mem[BUF(8 + k) + RESP_OFF] = 0xEE;
	desc(CTRL, (uint16_t)(2 * k), BUF(8 + k), sizeof(t), VRING_DESC_F_NEXT, (uint16_t)(2 * k + 1));
	desc(CTRL, (uint16_t)(2 * k + 1), BUF(8 + k) + RESP_OFF, 1, VRING_DESC_F_WRITE, 0);
	offer(CTRL, (uint16_t)(2 * k));
}

static uint8_t tmf_response(unsigned k)
{
	return mem[BUF(8 + k) + RESP_OFF];
}

Test(virtio_scsi, lun_reset_answers_only_after_the_commands_in_flight)
{
	setup(BLK_CACHE_WRITEBACK);
	const uint8_t read10[] = {0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0};
	command(0, 0, 0, 100, read10, sizeof(read10), 0, 512);
	command(1, 1, 0, 101, read10, sizeof(read10), 0, 512);
	kick(REQ);
	cr_assert_eq(rec.n, 2);

	tmf(0, VIRTIO_SCSI_T_TMF_LOGICAL_UNIT_RESET, 0, 0);
	tmf(1, VIRTIO_SCSI_T_TMF_ABORT_TASK, 1, 999); /* a tag not in flight */
	kick(CTRL);
	cr_assert_eq(used_idx(CTRL), 0, "the reset waits for target 0's read");
	cr_assert_eq(tmf_response(0), 0xEE);
	cr_assert_eq(tmf_response(1), 0xEE, "the control queue is held behind it");
	/* The poller must not spin on the held control queue or the event queue. */
	desc(EVENT, 0, BUF(12), 16, VRING_DESC_F_WRITE, 0);
	offer(EVENT, 0);
	cr_assert_not(vs.mmio.poller.poll(&vs.mmio.poller));
	cr_assert_not(vs.mmio.poller.arm(&vs.mmio.poller));

	rec_engine_complete(&rec, 1, 512); /* target 1: not covered */
	fake_loop_run_deferred(&loop);
	cr_assert_eq(used_idx(CTRL), 0);
	rec_engine_complete(&rec, 0, 512);
	fake_loop_run_deferred(&loop);
	cr_assert_eq(used_idx(REQ), 2);
	cr_assert_eq(resp(0).status, 0, "the read itself finished normally");
	cr_assert_eq(used_idx(CTRL), 2, "then the reset, then the abort queued behind it");
	cr_assert_eq(tmf_response(0), VIRTIO_SCSI_S_OK);
	cr_assert_eq(tmf_response(1), VIRTIO_SCSI_S_OK, "nothing to abort: function complete");
	cr_assert_eq(used_idx(EVENT), 0, "event buffers wait for events");
	cr_assert_eq(vs.tmfs, 2);
}

Test(virtio_scsi, abort_task_waits_for_its_command_only)
{
	setup(BLK_CACHE_WRITEBACK);
	const uint8_t read10[] = {0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0};
	command(0, 0, 0, 100, read10, sizeof(read10), 0, 512);
	command(1, 0, 0, 101, read10, sizeof(read10), 0, 512);
	kick(REQ);
	tmf(0, VIRTIO_SCSI_T_TMF_ABORT_TASK, 0, 101);
	kick(CTRL);
	rec_engine_complete(&rec, 0, 512);
	fake_loop_run_deferred(&loop);
	cr_assert_eq(used_idx(CTRL), 0, "tag 101 is still in flight");
	rec_engine_complete(&rec, 1, 512);
	fake_loop_run_deferred(&loop);
	cr_assert_eq(used_idx(CTRL), 1);
	cr_assert_eq(tmf_response(0), VIRTIO_SCSI_S_OK);

	tmf(1, VIRTIO_SCSI_T_TMF_LOGICAL_UNIT_RESET, 5, 0);
	kick(CTRL);
	cr_assert_eq(tmf_response(1), VIRTIO_SCSI_S_BAD_TARGET);
	tmf(2, VIRTIO_SCSI_T_TMF_CLEAR_ACA, 0, 0);
	kick(CTRL);
	cr_assert_eq(tmf_response(2), VIRTIO_SCSI_S_FUNCTION_REJECTED);
}

Test(virtio_scsi, device_reset_with_a_tmf_waiting_finishes_cleanly)
{
	setup(BLK_CACHE_WRITEBACK);
	const uint8_t read10[] = {0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0};
	command(0, 0, 0, 100, read10, sizeof(read10), 0, 512);
	kick(REQ);
	tmf(0, VIRTIO_SCSI_T_TMF_LOGICAL_UNIT_RESET, 0, 0);
	kick(CTRL);
	/* The driver resets the device: the loop finishes it once the read is done. */
	vs.mmio.reset_task.fn(&vs.mmio.reset_task);
	cr_assert(vs.mmio.resetting);
	rec_engine_complete(&rec, 0, 512);
	fake_loop_run_deferred(&loop);
	cr_assert_not(vs.mmio.resetting, "reset done once nothing is in flight");
	cr_assert_not(vs.tmf.active);
	cr_assert_eq(vs.mmio.inflight, 0);
	cr_assert_eq(r32(VIRTIO_MMIO_STATUS), 0);
}

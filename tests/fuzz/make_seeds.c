/*
 * Writes the seed corpora of the fuzz targets (tests/fuzz/corpus/TARGET/):
 * inputs that reach each target's main paths, in each target's own input
 * format, so a short fuzzing run starts deep instead of from nothing.
 * Usage: fuzz-make-seeds DIR  (tools/fuzz --seeds runs it).
 */
#include <linux/virtio_blk.h>
#include <linux/virtio_scsi.h>
#include <linux/virtio_vsock.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "devices/ata.h"
#include "tests/unit/fake_ahci.h"
#include "tests/unit/fake_kernel.h"

struct seed {
	uint8_t b[65536];
	size_t n;
};

static void put(struct seed *s, const void *p, size_t n)
{
	if (s->n + n > sizeof(s->b))
		abort();
	if (n)
		memcpy(s->b + s->n, p, n);
	s->n += n;
}
static void u8(struct seed *s, uint8_t v) { put(s, &v, 1); }
static void u16(struct seed *s, uint16_t v) { put(s, &v, 2); }
static void u32(struct seed *s, uint32_t v) { put(s, &v, 4); }

static void save(const char *dir, const char *target, const char *name, const struct seed *s)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/%s", dir, target);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/%s/%s", dir, target, name);
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(s->b, 1, s->n, f) != s->n) {
		perror(path);
		exit(1);
	}
	fclose(f);
}

/* ---- virtio-blk: the op codes of fuzz_virtio_blk.c ---- */

static void guest_write(struct seed *s, uint16_t off, const void *p, uint8_t n)
{
	u8(s, 0);
	u16(s, off);
	u8(s, n);
	put(s, p, n);
}

/* Descriptor i of queue q (fuzz_virtio.h's layout: queue q's rings at q * 0x4000). */
static void qdesc(struct seed *s, unsigned q, unsigned i, uint64_t addr, uint32_t len,
		  uint16_t flags, uint16_t next)
{
	struct { uint64_t addr; uint32_t len; uint16_t flags, next; } d = {addr, len, flags, next};
	guest_write(s, (uint16_t)(q * 0x4000 + 0x1000 + 16 * i), &d, 16);
}

static void desc(struct seed *s, unsigned i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	qdesc(s, 0, i, addr, len, flags, next);
}

/* Publishes head 0 as avail entry avail_idx - 1 of queue q, notifies, and lets it run. */
static void publish(struct seed *s, unsigned q, uint16_t avail_idx)
{
	uint16_t ring[2] = {0, avail_idx};
	guest_write(s, (uint16_t)(q * 0x4000 + 0x2000), ring, sizeof(ring));
	uint16_t head = 0;
	guest_write(s, (uint16_t)(q * 0x4000 + 0x2000 + 4 + 2 * ((avail_idx - 1) % 16)), &head, 2);
	u8(s, 1), u8(s, (uint8_t)q);  /* notify */
	u8(s, 5);                     /* the loop runs */
}

static void complete_all(struct seed *s, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		u8(s, 2), u8(s, 0), u8(s, 0); /* the host completes an operation */
		u8(s, 5);
	}
}

/* One request: header at 0x5000, data at `data`, status at 0x5100; kicked and completed. */
static void vblk_request(struct seed *s, uint32_t type, uint64_t sector, uint64_t data,
			 uint32_t len, bool writable, uint16_t avail_idx)
{
	struct virtio_blk_outhdr h = {.type = type, .sector = sector};
	guest_write(s, 0x5000, &h, sizeof(h));
	desc(s, 0, 0x5000, 16, 1, 1);
	desc(s, 1, data, len, (uint16_t)(1 | (writable ? 2 : 0)), 2);
	desc(s, 2, 0x5100, 1, 2, 0);
	uint16_t ring[3] = {0, avail_idx, 0};
	guest_write(s, 0x2000, ring, sizeof(ring));
	u8(s, 1), u8(s, 0);          /* notify queue 0 */
	u8(s, 2), u8(s, 0), u8(s, 0); /* complete it */
	u8(s, 5);                    /* the loop runs */
	u8(s, 2), u8(s, 0), u8(s, 0); /* a flush behind it, if any */
	u8(s, 5);
}

static void virtio_blk_seeds(const char *dir)
{
	static const struct { const char *name; uint8_t setup; uint32_t type; uint64_t data; uint32_t len; bool w; } k[] = {
		{"read", 0x00, VIRTIO_BLK_T_IN, 0x6000, 4096, true},
		{"write", 0x00, VIRTIO_BLK_T_OUT, 0x6000, 4096, false},
		{"flush", 0x00, VIRTIO_BLK_T_FLUSH, 0x6000, 0, false},
		{"get-id", 0x00, VIRTIO_BLK_T_GET_ID, 0x6000, 20, true},
		{"write-writethrough", 0x01, VIRTIO_BLK_T_OUT, 0x6000, 8192, false},
		{"read-direct-unaligned", 0x12, VIRTIO_BLK_T_IN, 0x6001, 4096, true},
		{"write-direct-unaligned", 0x12, VIRTIO_BLK_T_OUT, 0x6003, 8192, false},
		{"write-readonly", 0x08, VIRTIO_BLK_T_OUT, 0x6000, 512, false},
	};
	for (unsigned i = 0; i < sizeof(k) / sizeof(k[0]); i++) {
		static struct seed s;
	s.n = 0;
		u8(&s, k[i].setup);
		u8(&s, 0); /* bring the device up */
		vblk_request(&s, k[i].type, 8, k[i].data, k[i].len ? k[i].len : 1, k[i].w, 1);
		save(dir, "virtio-blk", k[i].name, &s);
	}
	/* Discard and write-zeroes carry a 16-byte segment as their data. */
	static const uint32_t range_types[] = {VIRTIO_BLK_T_DISCARD, VIRTIO_BLK_T_WRITE_ZEROES};
	for (unsigned i = 0; i < 2; i++) {
		static struct seed s;
	s.n = 0;
		u8(&s, 0);
		u8(&s, 0);
		struct virtio_blk_discard_write_zeroes seg = {.sector = 16, .num_sectors = 64};
		guest_write(&s, 0x6000, &seg, sizeof(seg));
		vblk_request(&s, range_types[i], 0, 0x6000, 16, false, 1);
		save(dir, "virtio-blk", i ? "write-zeroes" : "discard", &s);
	}
	/* The guest turns the cache off (config byte 32) with a write in flight, then resets. */
	static struct seed s;
	s.n = 0;
	u8(&s, 0);
	u8(&s, 0);
	vblk_request(&s, VIRTIO_BLK_T_OUT, 0, 0x6000, 4096, false, 1);
	u8(&s, 3), u8(&s, 0xFF), u8(&s, 32), u32(&s, 0), u8(&s, 0); /* config byte 32 = 0 */
	u8(&s, 5);
	u8(&s, 3), u8(&s, 0x70), u32(&s, 0); /* status 0: reset */
	u8(&s, 5);
	save(dir, "virtio-blk", "cache-off-and-reset", &s);

	/* PATCH /drives with a write in flight: the swap waits for it and flushes first. */
	s.n = 0;
	u8(&s, 0);
	u8(&s, 0);
	struct virtio_blk_outhdr h = {.type = VIRTIO_BLK_T_OUT, .sector = 8};
	guest_write(&s, 0x5000, &h, sizeof(h));
	desc(&s, 0, 0x5000, 16, 1, 1);
	desc(&s, 1, 0x6000, 4096, 1, 2);
	desc(&s, 2, 0x5100, 1, 2, 0);
	publish(&s, 0, 1);
	u8(&s, 7), u8(&s, 3); /* a 4 MiB image */
	complete_all(&s, 3);
	save(dir, "virtio-blk", "swap-with-write-in-flight", &s);
}

/* ---- virtio-scsi: the same op codes (fuzz_virtio.c); request queue 2, buffers above the rings ---- */

#define VS_HDR 0xC000u
#define VS_RESP 0xC100u
#define VS_DATA 0xD000u

/* One command to target `target` on queue 2, with data-out or data-in of len bytes. */
static void vscsi_command(struct seed *s, uint8_t target, const uint8_t *cdb, size_t n,
			  uint32_t len, bool data_in, uint16_t avail_idx, uint64_t tag)
{
	struct virtio_scsi_cmd_req r = {.lun = {1, target, 0x40, 0}, .tag = tag};
	memcpy(r.cdb, cdb, n);
	guest_write(s, VS_HDR, &r, sizeof(r));
	unsigned q = 2, i = 0;
	qdesc(s, q, i, VS_HDR, sizeof(r), 1, (uint16_t)(i + 1)), i++;
	if (len && !data_in)
		qdesc(s, q, i, VS_DATA, len, 1, (uint16_t)(i + 1)), i++;
	qdesc(s, q, i, VS_RESP, sizeof(struct virtio_scsi_cmd_resp), (uint16_t)(2 | (len && data_in)),
	      (uint16_t)(i + 1)), i++;
	if (len && data_in)
		qdesc(s, q, i, VS_DATA, len, 2, 0);
	publish(s, q, avail_idx);
}

/* A task management function on the control queue. */
static void vscsi_tmf(struct seed *s, uint32_t subtype, uint8_t target, uint64_t tag, uint16_t avail_idx)
{
	struct virtio_scsi_ctrl_tmf_req t = {.type = VIRTIO_SCSI_T_TMF, .subtype = subtype,
					     .lun = {1, target, 0x40, 0}, .tag = tag};
	guest_write(s, 0xF000, &t, sizeof(t));
	qdesc(s, 0, 0, 0xF000, sizeof(t), 1, 1);
	qdesc(s, 0, 1, 0xF100, sizeof(struct virtio_scsi_ctrl_tmf_resp), 2, 0);
	publish(s, 0, avail_idx);
}

static void virtio_scsi_seeds(const char *dir)
{
	static const struct { const char *name; uint8_t setup; uint8_t target; uint8_t cdb[16]; uint32_t len; bool in; } k[] = {
		{"inquiry", 0x00, 0, {0x12, 0, 0, 0, 96, 0}, 96, true},
		{"read-capacity-16", 0x00, 1, {0x9E, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0}, 32, true},
		{"read-10", 0x00, 0, {0x28, 0, 0, 0, 0, 8, 0, 0, 8, 0}, 4096, true},
		{"write-10-fua", 0x00, 0, {0x2A, 0x08, 0, 0, 0, 8, 0, 0, 8, 0}, 4096, false},
		{"write-16-writethrough", 0x01, 1, {0x8A, 0, 0, 0, 0, 0, 0, 0, 0, 16, 0, 0, 0, 8, 0, 0}, 4096, false},
		{"read-direct-unaligned", 0x12, 0, {0x28, 0, 0, 0, 0, 8, 0, 0, 8, 0}, 4096, true},
		{"synchronize-cache", 0x00, 0, {0x35, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 0, false},
		{"mode-sense-all", 0x00, 0, {0x1A, 0, 0x3F, 0, 255, 0}, 255, true},
		{"bad-target", 0x00, 7, {0x00, 0, 0, 0, 0, 0}, 0, false},
		{"write-readonly", 0x08, 0, {0x2A, 0, 0, 0, 0, 8, 0, 0, 1, 0}, 512, false},
	};
	for (unsigned i = 0; i < sizeof(k) / sizeof(k[0]); i++) {
		static struct seed s;
		s.n = 0;
		u8(&s, k[i].setup);
		u8(&s, 0); /* bring the controller up */
		vscsi_command(&s, k[i].target, k[i].cdb, 16, k[i].len, k[i].in, 1, 100 + i);
		complete_all(&s, 2);
		save(dir, "virtio-scsi", k[i].name, &s);
	}
	/* A LUN reset and an abort with a write in flight: both wait for it. */
	static const uint32_t tmfs[] = {VIRTIO_SCSI_T_TMF_LOGICAL_UNIT_RESET, VIRTIO_SCSI_T_TMF_ABORT_TASK};
	for (unsigned i = 0; i < 2; i++) {
		static struct seed s;
		s.n = 0;
		u8(&s, 0);
		u8(&s, 0);
		const uint8_t w[10] = {0x2A, 0, 0, 0, 0, 16, 0, 0, 8, 0};
		vscsi_command(&s, 0, w, 10, 4096, false, 1, 7);
		vscsi_tmf(&s, tmfs[i], 0, 7, 1);
		complete_all(&s, 2);
		save(dir, "virtio-scsi", i ? "abort-task-in-flight" : "lun-reset-in-flight", &s);
	}
	/* MODE SELECT turning the cache off, with a write cached before it. */
	static struct seed s;
	s.n = 0;
	u8(&s, 0);
	u8(&s, 0);
	const uint8_t w[10] = {0x2A, 0, 0, 0, 0, 0, 0, 0, 8, 0};
	vscsi_command(&s, 0, w, 10, 4096, false, 1, 1);
	complete_all(&s, 1);
	uint8_t list[24] = {0, 0, 0, 0, 0x08, 0x12};
	guest_write(&s, VS_DATA, list, sizeof(list));
	const uint8_t ms[6] = {0x15, 0x10, 0, 0, sizeof(list), 0};
	struct virtio_scsi_cmd_req r = {.lun = {1, 0, 0x40, 0}, .tag = 2};
	memcpy(r.cdb, ms, sizeof(ms));
	guest_write(&s, VS_HDR, &r, sizeof(r));
	qdesc(&s, 2, 0, VS_HDR, sizeof(r), 1, 1);
	qdesc(&s, 2, 1, VS_DATA, sizeof(list), 1, 2);
	qdesc(&s, 2, 2, VS_RESP, sizeof(struct virtio_scsi_cmd_resp), 2, 0);
	publish(&s, 2, 2);
	complete_all(&s, 2);
	save(dir, "virtio-scsi", "mode-select-cache-off", &s);

	/* An event buffer posted, then PATCH /drives of target 0: an event, then a unit attention. */
	s.n = 0;
	u8(&s, 0);
	u8(&s, 0);
	qdesc(&s, 1, 0, 0xE000, sizeof(struct virtio_scsi_event), 2, 0);
	publish(&s, 1, 1);
	u8(&s, 7), u8(&s, 0); /* target 0 gets a 1 MiB image */
	u8(&s, 5);
	const uint8_t rc[16] = {0x9E, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0};
	vscsi_command(&s, 0, rc, 16, 32, true, 1, 3);
	complete_all(&s, 1);
	save(dir, "virtio-scsi", "capacity-change-event", &s);
}

/* ---- AHCI: fuzz_ahci.c's op codes; port 0's command list at 0x1000 ---- */

static uint8_t ahci_ram[0x10000];

/* Builds slot `slot`'s command with the shared fake driver and writes it into the guest. */
static void ahci_command(struct seed *s, unsigned slot, uint8_t cmd, uint64_t lba, uint16_t count,
			 uint16_t features, uint32_t len)
{
	uint64_t table = 0x3000 + 0x100 * slot, buf = 0x8000 + 0x1000 * slot;
	struct fake_ata_cmd c = {cmd, lba, count, features, 0x40, &buf, &len, len ? 1 : 0};
	fake_ahci_command(ahci_ram, 0x1000, table, slot, &c);
	guest_write(s, (uint16_t)(0x1000 + 32 * slot), ahci_ram + 0x1000 + 32 * slot, 32);
	guest_write(s, (uint16_t)table, ahci_ram + table, 20);
	guest_write(s, (uint16_t)(table + 0x80), ahci_ram + table + 0x80, 16);
}

static void ahci_issue(struct seed *s, uint32_t mask)
{
	u8(s, 6), u8(s, 0), u32(s, mask); /* PxCI on port 0 */
	u8(s, 5);                          /* the loop runs */
}

static void ahci_port_reg(struct seed *s, uint8_t reg, uint32_t v)
{
	u8(s, 1), u8(s, reg), u32(s, v);
	u8(s, 5);
}

static void ahci_seeds(const char *dir)
{
	static const struct { const char *name; uint8_t setup; uint8_t cmd; uint16_t count, features; uint32_t len; } k[] = {
		{"identify", 0x00, ATA_CMD_IDENTIFY, 0, 0, 512},
		{"read-dma-ext", 0x00, ATA_CMD_READ_DMA_EXT, 8, 0, 4096},
		{"write-dma-ext", 0x00, ATA_CMD_WRITE_DMA_EXT, 8, 0, 4096},
		{"write-dma-fua-ext", 0x00, ATA_CMD_WRITE_DMA_FUA_EXT, 8, 0, 4096},
		{"write-writethrough", 0x01, ATA_CMD_WRITE_DMA_EXT, 8, 0, 4096},
		{"read-direct", 0x12, ATA_CMD_READ_DMA_EXT, 8, 0, 4096},
		{"flush-ext", 0x00, ATA_CMD_FLUSH_EXT, 0, 0, 0},
		{"cache-off", 0x00, ATA_CMD_SET_FEATURES, 0, 0x82, 0},
		{"cache-on-writethrough", 0x01, ATA_CMD_SET_FEATURES, 0, 0x02, 0},
		{"read-log-ext", 0x00, ATA_CMD_READ_LOG_EXT, 1, 0, 512},
		{"write-readonly", 0x08, ATA_CMD_WRITE_DMA_EXT, 1, 0, 512},
		{"zero-length-prd", 0x00, ATA_CMD_READ_DMA_EXT, 1, 0, 0},
	};
	for (unsigned i = 0; i < sizeof(k) / sizeof(k[0]); i++) {
		static struct seed s;
		s.n = 0;
		u8(&s, k[i].setup);
		u8(&s, 0); /* the driver's bring-up */
		ahci_command(&s, 0, k[i].cmd, 64, k[i].count, k[i].features, k[i].len);
		ahci_issue(&s, 1);
		complete_all(&s, 2);
		save(dir, "ahci", k[i].name, &s);
	}
	/* NCQ: PxSACT then PxCI, two queued writes and a queued read (tags in count). */
	static struct seed s;
	s.n = 0;
	u8(&s, 0);
	u8(&s, 0);
	for (unsigned t = 0; t < 3; t++)
		ahci_command(&s, t, t == 2 ? ATA_CMD_READ_FPDMA : ATA_CMD_WRITE_FPDMA, 8 * t,
			     (uint16_t)(t << 3), 8, 4096);
	ahci_port_reg(&s, 0x34, 7); /* PxSACT */
	ahci_issue(&s, 7);
	complete_all(&s, 3);
	save(dir, "ahci", "ncq", &s);
	/* Engine stop, COMRESET and HBA reset, each with a write in flight. */
	static const char *const names[] = {"stop-in-flight", "comreset-in-flight", "hba-reset-in-flight"};
	for (unsigned r = 0; r < 3; r++) {
		s.n = 0;
		u8(&s, 0);
		u8(&s, 0);
		ahci_command(&s, 0, ATA_CMD_WRITE_DMA_EXT, 0, 8, 0, 4096);
		ahci_issue(&s, 1);
		if (r == 0) {
			ahci_port_reg(&s, 0x18, 0x10); /* ST off */
		} else if (r == 1) {
			ahci_port_reg(&s, 0x2C, 1);
			ahci_port_reg(&s, 0x2C, 0);
		} else {
			u8(&s, 3), u16(&s, 0x04), u8(&s, 2), u32(&s, 1), u32(&s, 0); /* GHC.HR */
			u8(&s, 5);
		}
		complete_all(&s, 1);
		ahci_port_reg(&s, 0x18, 0x11); /* and back */
		save(dir, "ahci", names[r], &s);
	}
}

/* ---- the buses: fuzz_bus.c's ops ---- */

enum { COM1 = 0, ACPI = 1, I8042 = 2, CONF1 = 3 };

static void pio(struct seed *s, bool write, unsigned width_log2, uint8_t target, uint8_t off, uint32_t v)
{
	u8(s, (uint8_t)(0 | width_log2 << 2 | (write ? 0x40 : 0)));
	u8(s, (uint8_t)(target | off << 3));
	u32(s, v), u32(s, 0);
}

static void conf1(struct seed *s, unsigned slot, unsigned reg, bool write, uint32_t v)
{
	pio(s, true, 2, CONF1, 0, 0x80000000u | slot << 11 | reg);
	pio(s, write, 2, CONF1, 4, v);
}

static void bus_seeds(const char *dir)
{
	static struct seed s;
	/* Linux's 8250 probe and setup: scratch, loopback, divisor, 8N1, FIFO, IER; then input. */
	s.n = 0;
	pio(&s, true, 0, COM1, 7, 0x55), pio(&s, false, 0, COM1, 7, 0);
	pio(&s, true, 0, COM1, 4, 0x1F), pio(&s, false, 0, COM1, 6, 0);
	pio(&s, true, 0, COM1, 4, 0x0B);
	pio(&s, true, 0, COM1, 3, 0x80), pio(&s, true, 0, COM1, 0, 1), pio(&s, true, 0, COM1, 1, 0);
	pio(&s, true, 0, COM1, 3, 0x03), pio(&s, true, 0, COM1, 2, 0x07), pio(&s, true, 0, COM1, 1, 0x0F);
	const char input[] = "root\r\001\001ls\r";
	u8(&s, 2), u8(&s, sizeof(input) - 1), put(&s, input, sizeof(input) - 1);
	for (unsigned i = 0; i < 4; i++)
		pio(&s, false, 0, COM1, 5, 0), pio(&s, false, 0, COM1, 0, 0), pio(&s, false, 0, COM1, 2, 0);
	pio(&s, true, 0, COM1, 0, 'k'), pio(&s, true, 0, COM1, 0, '\n');
	save(dir, "bus", "uart", &s);
	/* PCI enumeration: IDs, BAR sizing, MSI enable, memory decode. */
	s.n = 0;
	for (unsigned slot = 0; slot < 3; slot++)
		conf1(&s, slot, 0, false, 0);
	conf1(&s, 1, 0x24, true, 0xFFFFFFFF), conf1(&s, 1, 0x24, false, 0);
	conf1(&s, 1, 0x24, true, 0xC0001000);
	conf1(&s, 1, 0x34, false, 0);
	for (unsigned r = 0x40; r < 0x60; r += 4)
		conf1(&s, 1, r, false, 0);
	conf1(&s, 1, 0x54, true, 0xFEE00000); /* MSI (capability at 0x50): address */
	conf1(&s, 1, 0x5C, true, 0x4041);     /* data */
	conf1(&s, 1, 0x50, true, 0x00810005); /* enable */
	conf1(&s, 1, 0x04, true, 0x6);
	u8(&s, 3);
	save(dir, "bus", "pci", &s);
	/* Power off (S5), reset, the i8042 pulse, pvpanic. */
	static const struct { const char *name; uint8_t target, off; uint32_t v; bool mmio; } k[] = {
		{"poweroff", ACPI, 0, 0x34, false},
		{"acpi-reset", ACPI, 2, 0x01, false},
		{"i8042-reset", I8042, 0, 0xFE, false},
		{"pvpanic", 0, 0, 1, true},
	};
	for (unsigned i = 0; i < 4; i++) {
		s.n = 0;
		if (k[i].mmio) {
			u8(&s, 1 | 0x40), u8(&s, 0), u32(&s, k[i].v), u32(&s, 0);
		} else {
			pio(&s, false, 0, k[i].target, k[i].off, 0);
			pio(&s, true, 0, k[i].target, k[i].off, k[i].v);
		}
		save(dir, "bus", k[i].name, &s);
	}
}

/* ---- SCSI planner: fuzz_scsi_plan.c's records ---- */

static void cdb_record(struct seed *s, const uint8_t *cdb, size_t n, uint32_t in_len,
		       uint32_t out_len, const uint8_t *param, uint16_t plen)
{
	uint8_t c[16] = {0};
	memcpy(c, cdb, n);
	put(s, c, 16);
	u32(s, in_len);
	u32(s, out_len);
	u16(s, plen);
	put(s, param, plen);
	u8(s, 0); /* the backend's result, when the plan is I/O */
}

static void scsi_seeds(const char *dir)
{
	static struct seed s;
	s.n = 0;
	u8(&s, 0);
	u32(&s, 1 << 16); /* blocks */
	static const uint8_t cdbs[][16] = {
		{0x12, 0, 0, 0, 96, 0},          /* INQUIRY */
		{0x12, 1, 0x00, 0, 255, 0},      /* VPD pages */
		{0x12, 1, 0x80, 0, 255, 0},
		{0x12, 1, 0x83, 0, 255, 0},
		{0x12, 1, 0xB0, 0, 255, 0},
		{0x12, 1, 0xB1, 0, 255, 0},
		{0x12, 1, 0xB2, 0, 255, 0},
		{0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0}, /* READ CAPACITY (10) */
		{0x9E, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0},
		{0x1A, 0, 0x3F, 0, 255, 0},      /* MODE SENSE (6), all pages */
		{0x5A, 0, 0x08, 0, 0, 0, 0, 1, 0, 0},
		{0x28, 0, 0, 0, 0, 8, 0, 0, 8, 0}, /* READ (10) */
		{0x8A, 0x08, 0, 0, 0, 0, 0, 0, 0, 16, 0, 0, 0, 8, 0, 0}, /* WRITE (16) FUA */
		{0x35, 0, 0, 0, 0, 0, 0, 0, 0, 0}, /* SYNCHRONIZE CACHE */
		{0xA0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0}, /* REPORT LUNS */
		{0xA3, 0x0C, 0x01, 0x28, 0, 0, 0, 0, 1, 0, 0, 0}, /* REPORT SUPPORTED OPCODES */
		{0x00, 0, 0, 0, 0, 0},           /* TEST UNIT READY */
		{0x03, 0, 0, 0, 18, 0},          /* REQUEST SENSE */
	};
	for (unsigned i = 0; i < sizeof(cdbs) / sizeof(cdbs[0]); i++)
		cdb_record(&s, cdbs[i], 16, 1 << 20, 0, NULL, 0);
	/* MODE SELECT (6) of the caching page with WCE off, then on. */
	uint8_t list[24] = {0};
	list[4] = 0x08;
	list[5] = 0x12;
	for (unsigned wce = 0; wce < 2; wce++) {
		list[6] = wce ? 0x04 : 0;
		const uint8_t ms[6] = {0x15, 0x10, 0, 0, sizeof(list), 0};
		cdb_record(&s, ms, 6, 0, sizeof(list), list, sizeof(list));
	}
	/* UNMAP with one descriptor; WRITE SAME (16) of a zero block. */
	uint8_t unmap[24] = {0, 22, 0, 16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 64, 0, 0, 0, 8};
	const uint8_t um[10] = {0x42, 0, 0, 0, 0, 0, 0, 0, 24, 0};
	cdb_record(&s, um, 10, 0, sizeof(unmap), unmap, sizeof(unmap));
	static uint8_t zero[512];
	const uint8_t ws[16] = {0x93, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0, 0, 8, 0, 0};
	cdb_record(&s, ws, 16, 0, sizeof(zero), zero, sizeof(zero));
	save(dir, "scsi-plan", "commands", &s);
}

/* ---- parsers: a selector byte, then the file or the spec ---- */

static void parser_seeds(const char *dir)
{
	size_t len;
	uint8_t *bz = fake_bzimage(16 << 20, 1024, &len);
	static struct seed s;
	s.n = 0;
	u8(&s, 0);
	put(&s, bz, len);
	save(dir, "parsers", "bzimage", &s);
	free(bz);
	uint8_t *elf = fake_vmlinux(0x1000040, &len);
	s.n = 0;
	u8(&s, 1);
	put(&s, elf, len);
	save(dir, "parsers", "vmlinux-pvh", &s);
	free(elf);
	static const char *const specs[] = {
		"path=disk.img,if=virtio-blk",
		"path=a,,b.img,if=ahci,cache=none,readonly=on,serial=SN-1,queues=4,werror=stop",
		"path=x,if=virtio-scsi,cache=unsafe,werror=report",
	};
	for (unsigned i = 0; i < 3; i++) {
		s.n = 0;
		u8(&s, 2);
		put(&s, specs[i], strlen(specs[i]));
		char name[16];
		snprintf(name, sizeof(name), "disk-spec-%u", i);
		save(dir, "parsers", name, &s);
	}
}

/* ---- api: a read-size byte, then what a client sends; or 0xFF and a config file ---- */

static void http_req(struct seed *s, const char *method, const char *path, const char *body)
{
	char head[256];
	int n = body ? snprintf(head, sizeof(head), "%s %s HTTP/1.1\r\nContent-Length: %zu\r\n\r\n",
				method, path, strlen(body))
		     : snprintf(head, sizeof(head), "%s %s HTTP/1.1\r\n\r\n", method, path);
	put(s, head, (size_t)n);
	if (body)
		put(s, body, strlen(body));
}

static void api_seeds(const char *dir)
{
	static struct seed s;
	/* The getting-started sequence, pipelined, then InstanceStart, a pause and the GETs. */
	s.n = 0;
	u8(&s, 0x00);
	http_req(&s, "PUT", "/logger", "{\"log_path\": \"l\", \"level\": \"Debug\"}");
	http_req(&s, "PUT", "/boot-source", "{\"kernel_image_path\": \"k\", \"boot_args\": \"console=ttyS0 -- x\"}");
	http_req(&s, "PUT", "/drives/rootfs", "{\"drive_id\": \"rootfs\", \"path_on_host\": \"r\", "
		 "\"is_root_device\": true, \"partuuid\": null, \"rate_limiter\": null}");
	http_req(&s, "PUT", "/machine-config", "{\"vcpu_count\": 2, \"mem_size_mib\": 256}");
	http_req(&s, "PUT", "/actions", "{\"action_type\": \"InstanceStart\"}");
	http_req(&s, "PATCH", "/vm", "{\"state\": \"Paused\"}");
	http_req(&s, "GET", "/vm/config", NULL);
	http_req(&s, "GET", "/", NULL);
	save(dir, "api", "getting-started", &s);
	/* kestrel's drive object, Expect, a PATCH, an unsupported route, a failing start. */
	s.n = 0;
	u8(&s, 0x83);
	static const char expect[] = "PUT /drives/d HTTP/1.1\r\nExpect: 100-continue\r\n"
				     "Transfer-Encoding: chunked\r\n\r\n";
	put(&s, expect, strlen(expect));
	static const char body[] = "{\"drive_id\": \"d\", \"path_on_host\": \"p\", \"is_root_device\": false, "
				   "\"kestrel\": {\"interface\": \"ahci\", \"cache\": \"none\", \"queues\": 2}}";
	char chunk[32];
	int n = snprintf(chunk, sizeof(chunk), "%zx\r\n", strlen(body));
	put(&s, chunk, (size_t)n);
	put(&s, body, strlen(body));
	put(&s, "\r\n0\r\n\r\n", 7);
	http_req(&s, "PATCH", "/machine-config", "{\"smt\": true}");
	http_req(&s, "PUT", "/network-interfaces/eth0", "{\"iface_id\": \"eth0\"}");
	http_req(&s, "PUT", "/boot-source", "{\"kernel_image_path\": \"k\"}");
	http_req(&s, "PUT", "/actions", "{\"action_type\": \"InstanceStart\"}");
	save(dir, "api", "extensions", &s);
	static const char file[] =
		"{\"boot-source\": {\"kernel_image_path\": \"k\", \"initrd_path\": null}, \"drives\": "
		"[{\"drive_id\": \"r\", \"path_on_host\": \"r\", \"is_root_device\": true, \"cache_type\": "
		"\"Unsafe\"}], \"machine-config\": {\"vcpu_count\": 1, \"mem_size_mib\": 128}, \"vsock\": null, "
		"\"network-interfaces\": []}";
	s.n = 0;
	u8(&s, 0xFF);
	put(&s, file, strlen(file));
	save(dir, "api", "config-file", &s);
}

/* ---- virtio-vsock: RX is queue 0, TX queue 1 (fuzz_vsock.c) ---- */

static void vsock_packet_seed(const char *dir, const char *name, struct virtio_vsock_hdr h,
			      uint32_t payload)
{
	static struct seed s;
	s.n = 0;
	u8(&s, 0); /* bring the device up */
	qdesc(&s, 0, 0, 0x9000, 4096, 2, 0); /* one RX buffer, for the answer */
	publish(&s, 0, 1);
	h.len = payload;
	guest_write(&s, 0xA000, &h, sizeof(h));
	qdesc(&s, 1, 0, 0xA000, (uint32_t)sizeof(h) + payload, 0, 0);
	publish(&s, 1, 1);
	save(dir, "vsock", name, &s);
}

static void vsock_seeds(const char *dir)
{
	struct virtio_vsock_hdr h = {.src_cid = 3, .dst_cid = 2, .src_port = 1000, .dst_port = 52,
				     .type = VIRTIO_VSOCK_TYPE_STREAM, .buf_alloc = 262144};
	h.op = VIRTIO_VSOCK_OP_REQUEST;
	vsock_packet_seed(dir, "request-refused", h, 0);
	h.op = VIRTIO_VSOCK_OP_RW;
	vsock_packet_seed(dir, "rw-without-connection", h, 100);
	h.op = VIRTIO_VSOCK_OP_SHUTDOWN;
	h.flags = 3;
	vsock_packet_seed(dir, "shutdown-without-connection", h, 0);
	h.flags = 0;
	h.op = VIRTIO_VSOCK_OP_CREDIT_REQUEST;
	vsock_packet_seed(dir, "credit-request", h, 0);
	h.op = VIRTIO_VSOCK_OP_REQUEST;
	h.src_cid = 9;
	vsock_packet_seed(dir, "another-guests-cid", h, 0);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	mkdir(argv[1], 0755);
	virtio_blk_seeds(argv[1]);
	virtio_scsi_seeds(argv[1]);
	vsock_seeds(argv[1]);
	ahci_seeds(argv[1]);
	bus_seeds(argv[1]);
	scsi_seeds(argv[1]);
	parser_seeds(argv[1]);
	api_seeds(argv[1]);
	return 0;
}

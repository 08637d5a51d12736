/*
 * Writes the seed corpora of the fuzz targets (tests/fuzz/corpus/TARGET/):
 * inputs that reach each target's main paths, in each target's own input
 * format, so a short fuzzing run starts deep instead of from nothing.
 * Usage: fuzz-make-seeds DIR  (tools/fuzz --seeds runs it).
 */
#include <linux/virtio_blk.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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

static void desc(struct seed *s, unsigned i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	struct { uint64_t addr; uint32_t len; uint16_t flags, next; } d = {addr, len, flags, next};
	guest_write(s, (uint16_t)(0x1000 + 16 * i), &d, 16);
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

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	mkdir(argv[1], 0755);
	virtio_blk_seeds(argv[1]);
	scsi_seeds(argv[1]);
	parser_seeds(argv[1]);
	return 0;
}

/*
 * AHCI's vCPU ↔ loop handoffs, on the real event loop thread with real host
 * I/O (io_uring on a scratch file): one "vCPU" keeps issuing READ and WRITE
 * DMA commands into every free slot, while another stops the port's engine,
 * COMRESETs the link and resets the whole HBA, each in the middle of that
 * traffic, waiting for the device as a driver does (PxCMD.CR, PxSSTS.DET,
 * GHC.HR). Each must finish, with the port's commands forgotten; and at the
 * end every command issued since the last restart has completed.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "devices/ahci.h"
#include "tests/stress/stress_common.h"
#include "tests/unit/fake_ahci.h"

#define RAM (1u << 20)
#define CLB 0x1000ull
#define FB 0x2000ull
#define TABLE(s) (0x10000ull + 0x1000ull * (s))
#define BUF(s) (0x40000ull + 0x1000ull * (s))
#define DISK (16u << 20)
#define ROUNDS 600
#define P(reg) (0x100 + (reg))
#define PX_CMD_ST 0x01u
#define PX_CMD_FRE 0x10u
#define PX_CMD_CR (1u << 15)

static uint8_t *ram;
static struct guest_mem gm;
static struct loop loop;
static struct blk blk;
static struct ahci h;
static struct pci_bus pci;
static atomic_bool done;
static atomic_bool quiet; /* the resetter wants the issuer to hold off */
static atomic_uint issued;

static void w32(unsigned off, uint32_t v)
{
	fake_ahci_w32(&h, off, v);
}

static uint32_t r32(unsigned off)
{
	return fake_ahci_r32(&h, off);
}

/* Polls a register as a driver does: true once (reg & mask) == want, false after 5 s. */
static bool wait_reg(unsigned off, uint32_t mask, uint32_t want)
{
	struct timespec pause = {0, 20 * 1000};
	for (unsigned i = 0; i < 250000; i++) {
		if ((r32(off) & mask) == want)
			return true;
		nanosleep(&pause, NULL);
	}
	return false;
}

static void port_start(void)
{
	w32(P(0x00), (uint32_t)CLB);
	w32(P(0x08), (uint32_t)FB);
	w32(P(0x30), 0xFFFFFFFF); /* PxSERR */
	w32(P(0x10), 0xFFFFFFFF); /* PxIS */
	w32(P(0x14), 0xFDC000FF);
	w32(P(0x18), PX_CMD_FRE);
	w32(P(0x18), PX_CMD_FRE | PX_CMD_ST);
}

static void *issuer(void *arg)
{
	(void)arg;
	unsigned seq = 0;
	while (!atomic_load(&done)) {
		if (atomic_load(&quiet)) {
			sched_yield();
			continue;
		}
		uint32_t busy = r32(P(0x38));
		uint32_t mask = 0;
		for (unsigned s = 0; s < AHCI_SLOTS; s++) {
			if (busy & (1u << s))
				continue;
			uint64_t addr = BUF(s);
			uint32_t len = 4096;
			struct fake_ata_cmd c = {
				.command = (seq & 1) ? ATA_CMD_WRITE_DMA_EXT : ATA_CMD_READ_DMA_EXT,
				.lba = (seq * 8u) % (DISK / 512 - 8), .count = 8, .device = 0x40,
				.prd_addr = &addr, .prd_len = &len, .nprd = 1,
			};
			seq++;
			fake_ahci_command(ram, CLB, TABLE(s), s, &c);
			mask |= 1u << s;
		}
		if (mask && (r32(P(0x18)) & PX_CMD_ST)) {
			w32(P(0x38), mask);
			atomic_fetch_add(&issued, (unsigned)__builtin_popcount(mask));
		}
		sched_yield();
	}
	return NULL;
}

static void engine_stop(unsigned round)
{
	w32(P(0x18), PX_CMD_FRE);
	STRESS_CHECK(round, wait_reg(P(0x18), PX_CMD_CR, 0), return);
	STRESS_CHECK(round, r32(P(0x38)) == 0 && r32(P(0x34)) == 0); /* PxCI, PxSACT forgotten */
}

static void comreset(unsigned round)
{
	engine_stop(round);
	w32(P(0x2C), 1); /* DET = 1: COMRESET */
	w32(P(0x2C), 0);
	STRESS_CHECK(round, wait_reg(P(0x28), 0xF, 3), return); /* link up again */
	STRESS_CHECK(round, r32(P(0x24)) == 0x101);             /* the disk's signature */
}

static void hba_reset(unsigned round)
{
	w32(0x04, 1); /* GHC.HR */
	STRESS_CHECK(round, wait_reg(0x04, 1, 0), return);
	STRESS_CHECK(round, (r32(P(0x18)) & (PX_CMD_ST | PX_CMD_CR)) == 0 && r32(P(0x38)) == 0);
	w32(0x04, 0x80000002); /* AE, IE */
}

static void resets_under_traffic(void)
{
	atomic_store(&done, false);
	pthread_t t;
	pthread_create(&t, NULL, issuer, NULL);
	struct timespec traffic = {0, 300 * 1000};
	for (unsigned i = 0; i < ROUNDS; i++) {
		nanosleep(&traffic, NULL);
		/* The disruption comes while the issuer may be writing PxCI. */
		switch (i % 3) {
		case 0: engine_stop(i); break;
		case 1: comreset(i); break;
		default: hba_reset(i); break;
		}
		port_start();
	}
	/* Every command issued after the last restart completes. */
	atomic_store(&quiet, true);
	atomic_store(&done, true);
	pthread_join(t, NULL);
	STRESS_CHECK(ROUNDS, wait_reg(P(0x38), 0xFFFFFFFF, 0));
	/* Stopping the loop (it joins the thread) makes the backend's state ours to read. */
	loop_stop(&loop);
	STRESS_CHECK(ROUNDS, blk_inflight(&blk) == 0);
	/* The traffic really reached the host, between and across the resets. */
	STRESS_CHECK(ROUNDS, blk.stats.reads > ROUNDS && blk.stats.writes > ROUNDS);
	printf("stress: ahci: %u commands issued, %llu host reads and %llu writes, %u resets\n",
	       atomic_load(&issued), (unsigned long long)blk.stats.reads,
	       (unsigned long long)blk.stats.writes, ROUNDS);
}

int main(void)
{
	ram = stress_guest_map(&gm, RAM);
	stress_loop_init(&loop);
	int fd = stress_scratch_file(DISK);
	blk_init_fake(&blk, fd, DISK, BLK_CACHE_WRITEBACK, false);
	blk_attach(&blk, &loop, NULL);
	struct blk *disks[] = {&blk};
	pci_bus_init(&pci);
	ahci_init(&h, disks, 1, 0xC0000000, -1, &loop, &gm);
	if (pci_plug(&pci, 1, &h.pci) || loop_start(&loop)) {
		fprintf(stderr, "stress: setup failed\n");
		return 1;
	}
	pci_config_write(&pci, 1, 0x04, 2, 0x6); /* memory decode, bus master */
	w32(0x04, 0x80000002);
	port_start();
	stress_run("ahci engine stop, COMRESET and HBA reset under traffic", resets_under_traffic);
	ahci_destroy(&h);
	pci_bus_destroy(&pci);
	loop_destroy(&loop);
	close(fd);
	return stress_report();
}

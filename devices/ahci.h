/*
 * An AHCI 1.3 SATA controller on PCI (class 01/06/01, ABAR = BAR5, one MSI
 * vector), one port per disk, each an ATA disk (devices/ata.c) on the shared
 * block backend. FACTS §7.
 *
 * Threads: register accesses on vCPU threads only record state, under
 * `lock`, and kick the loop. The loop thread fetches commands (command
 * headers, FIS, PRDT copied out of guest memory once and checked), runs
 * them through the backend, and writes results back. Stopping a port's
 * engine, COMRESET and HBA reset finish on the loop once the port's
 * requests in flight are done; the guest polls for that (PxCMD.CR,
 * PxSSTS, GHC.HR) as on real hardware.
 */
#ifndef KESTREL_AHCI_H
#define KESTREL_AHCI_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "devices/ata.h"
#include "devices/blk.h"
#include "devices/pci.h"
#include "vmm/bus.h"
#include "vmm/guest_mem.h"
#include "vmm/loop.h"

#define AHCI_MAX_PORTS 8
#define AHCI_SLOTS 32
/* Commands one port may start in one pass of the loop before it yields to other devices. */
#define AHCI_PASS_BUDGET (2 * AHCI_SLOTS)
#define AHCI_MAX_PRDT 256 /* Linux uses at most 168 */
#define AHCI_ABAR_SIZE 0x1000

struct ahci_port;

struct ahci_slot {
	struct ahci_port *port;
	unsigned int index;
	bool ncq;
	uint8_t command;
	uint64_t lba;
	uint32_t prdbc;
	struct blk_req br;
	struct iovec iov[AHCI_MAX_PRDT];
};

struct ahci_port {
	struct ahci *hba;
	unsigned int index;
	struct ata_disk disk;

	/* Registers, under hba->lock. */
	uint32_t clb, clbu, fb, fbu, is, ie, cmd, tfd, sig, ssts, sctl, serr, sact, ci;
	bool stop_pending;  /* ST went to 0: CR stays 1 until the loop drained */
	bool reset_pending; /* COMRESET released: the loop resets the port */

	/* Loop thread. */
	uint32_t fetched;   /* slots taken from PxCI and not yet finished */
	unsigned int inflight;
	bool halted;        /* after a command error: nothing new until the engine restarts */
	struct ahci_slot slots[AHCI_SLOTS];
};

struct ahci {
	struct pci_dev pci;
	pthread_mutex_t lock;
	uint32_t ghc, is;
	bool hba_reset_pending;
	unsigned int nports;
	struct ahci_port ports[AHCI_MAX_PORTS];

	struct loop *loop;
	const struct guest_mem *gm;
	int vm_fd;
	struct loop_task task;
	bool task_queued; /* atomic */
	uint64_t msis;    /* stats */
	uint64_t bad_commands;
	uint64_t budget_yields; /* stats: passes cut short so other devices could run */
};

/*
 * A controller with one port per backend, its ABAR at `abar` (inside the
 * PCI window). vm_fd -1: no interrupts (unit tests). Main thread.
 */
void ahci_init(struct ahci *h, struct blk *const *disks, unsigned int ndisks, uint32_t abar,
	       int vm_fd, struct loop *loop, const struct guest_mem *gm);
void ahci_destroy(struct ahci *h);

/* The ABAR registers (map AHCI_ABAR_SIZE bytes at abar). */
extern const struct bus_ops ahci_bus_ops;

/* Loop thread: does whatever the registers asked for (unit tests call it directly). */
void ahci_process(struct ahci *h);

#endif

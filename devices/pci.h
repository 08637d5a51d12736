/*
 * A minimal PCI host bridge: configuration mechanism #1 on ports
 * 0xCF8/0xCFC, bus 0, function 0 of each slot, 32-bit memory BARs at fixed
 * addresses kestrel chooses, and one-vector MSI. The host bridge itself
 * (class 06/00/00) sits at 00:00.0; Linux needs it to trust conf1
 * (FACTS §3.6), and finds the bus through the DSDT's PNP0A03 device.
 *
 * Threads: config accesses on vCPU threads under the bus lock; devices read
 * their MSI and command state from any thread through the helpers.
 */
#ifndef KESTREL_PCI_H
#define KESTREL_PCI_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "vmm/bus.h"

#define PCI_SLOTS 32
#define PCI_CONFIG_PORT 0xCF8 /* address at 0xCF8, data at 0xCFC..0xCFF */

/* The host bridge's windows, as the DSDT describes them. */
#define PCI_MMIO_WINDOW 0xC0000000u
#define PCI_MMIO_WINDOW_SIZE 0x10000000u
#define PCI_IO_WINDOW 0x1000u
#define PCI_IO_WINDOW_SIZE 0xF000u

struct pci_dev {
	uint8_t cfg[256];
	uint8_t wmask[256]; /* bits the guest may change */
	uint8_t w1c[256];   /* bits a guest write of 1 clears (status register) */
	uint32_t bar_addr[6];
	uint32_t bar_size[6]; /* memory BARs: a power of two >= 16; 0 = none */
	uint8_t msi;          /* offset of the MSI capability, 0 = none */
	struct pci_bus *bus;
};

struct pci_bus {
	pthread_mutex_t lock;
	uint32_t address; /* the 0xCF8 latch */
	struct pci_dev host_bridge;
	struct pci_dev *slot[PCI_SLOTS];
};

void pci_bus_init(struct pci_bus *b);
void pci_bus_destroy(struct pci_bus *b);

/* A device header: IDs, class code (class << 16 | subclass << 8 | prog-if), revision. */
void pci_dev_init(struct pci_dev *d, uint16_t vendor, uint16_t device, uint32_t class_code,
		  uint8_t revision);
/* A 32-bit non-prefetchable memory BAR at addr (size-aligned). */
void pci_dev_set_bar(struct pci_dev *d, unsigned int bar, uint32_t addr, uint32_t size);
/* A one-vector, 64-bit MSI capability. */
void pci_dev_add_msi(struct pci_dev *d);
/* Main thread, during setup: -EBUSY if the slot is taken, -EINVAL if out of range. */
__attribute__((warn_unused_result)) int pci_plug(struct pci_bus *b, unsigned int slot,
						 struct pci_dev *d);

/* Any thread. Whether the guest enabled memory decoding and left BAR bar where we put it. */
bool pci_bar_live(struct pci_dev *d, unsigned int bar);
/* Any thread. Whether MSI is enabled, and its message. */
bool pci_msi_message(struct pci_dev *d, uint64_t *addr, uint32_t *data);

/* Config space of bus 0 for tests: the value conf1 would return / store. */
uint32_t pci_config_read(struct pci_bus *b, unsigned int slot, unsigned int off, unsigned int len);
void pci_config_write(struct pci_bus *b, unsigned int slot, unsigned int off, unsigned int len,
		      uint32_t v);

/* Ports 0xCF8..0xCFF. */
extern const struct bus_ops pci_conf1_bus_ops;

#endif

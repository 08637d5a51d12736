/*
 * A fake AHCI driver's command builder, shared by the unit tests, the stress
 * test and the fuzz seeds: writes command header `slot` (at clb + 32 * slot),
 * its command table at `table` (an H2D register FIS), and nprd PRD entries
 * into guest memory `mem` (guest physical 0). Any thread that owns the slot.
 */
#ifndef KESTREL_FAKE_AHCI_H
#define KESTREL_FAKE_AHCI_H

#include <stdint.h>

struct fake_ata_cmd {
	uint8_t command;
	uint64_t lba;
	uint16_t count;
	uint16_t features;
	uint8_t device;
	const uint64_t *prd_addr; /* nprd buffers and their byte lengths */
	const uint32_t *prd_len;
	unsigned int nprd;
};

void fake_ahci_command(uint8_t *mem, uint64_t clb, uint64_t table, unsigned int slot,
		       const struct fake_ata_cmd *c);

struct ahci;
/* ABAR register accesses as a vCPU makes them (4 bytes). */
void fake_ahci_w32(struct ahci *h, unsigned int off, uint32_t v);
uint32_t fake_ahci_r32(struct ahci *h, unsigned int off);

#endif

#include "tests/unit/fake_ahci.h"

#include <string.h>

#include "devices/ahci.h"

void fake_ahci_w32(struct ahci *h, unsigned int off, uint32_t v)
{
	ahci_bus_ops.write(h, off, (uint8_t *)&v, 4);
}

uint32_t fake_ahci_r32(struct ahci *h, unsigned int off)
{
	uint32_t v;
	ahci_bus_ops.read(h, off, (uint8_t *)&v, 4);
	return v;
}

void fake_ahci_command(uint8_t *mem, uint64_t clb, uint64_t table, unsigned int slot,
		       const struct fake_ata_cmd *c)
{
	/* DW0: CFL 5 dwords and the PRDT length; DW2-3: the table's address. */
	uint32_t hdr[8] = {5 | (uint32_t)c->nprd << 16, 0, (uint32_t)table, (uint32_t)(table >> 32)};
	memcpy(mem + clb + 32 * slot, hdr, sizeof(hdr));
	uint8_t *f = mem + table;
	memset(f, 0, 0x80);
	f[0] = 0x27; /* H2D register FIS */
	f[1] = 0x80; /* C: a command, not device control */
	f[2] = c->command;
	f[3] = (uint8_t)c->features;
	f[4] = (uint8_t)c->lba;
	f[5] = (uint8_t)(c->lba >> 8);
	f[6] = (uint8_t)(c->lba >> 16);
	f[7] = c->device;
	f[8] = (uint8_t)(c->lba >> 24);
	f[9] = (uint8_t)(c->lba >> 32);
	f[10] = (uint8_t)(c->lba >> 40);
	f[11] = (uint8_t)(c->features >> 8);
	f[12] = (uint8_t)c->count;
	f[13] = (uint8_t)(c->count >> 8);
	for (unsigned i = 0; i < c->nprd; i++) {
		uint32_t e[4] = {(uint32_t)c->prd_addr[i], (uint32_t)(c->prd_addr[i] >> 32), 0,
				 c->prd_len[i] - 1};
		memcpy(mem + table + 0x80 + 16 * i, e, 16);
	}
}

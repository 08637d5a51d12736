/*
 * The AHCI controller + ATA disk + the block backend on PCI, driven by a
 * hostile guest: ABAR registers (engine start and stop, COMRESET, HBA
 * reset, PxCI and PxSACT, interrupts), the command list, FISes and PRDTs
 * in guest memory, PCI config writes (BAR moves, memory decode and bus
 * master off), and host I/O completing in any order with any result. At
 * the end no command is left in flight on any port.
 *
 * Input: a setup byte (cache policy, read-only, O_DIRECT, ports), a byte
 * whose top bit skips the driver's usual bring-up, then steps (op codes 0,
 * 2 and 5 mean what they mean for the virtio targets: memory, host, loop).
 */
#include <string.h>

#include "devices/ahci.h"
#include "tests/fuzz/fuzz_common.h"

#define DISKS 2
#define ABAR 0xC0000000u
#define PORT_REG(p, r) (0x100u + 0x80u * (p) + (r))

static void abar_write(struct ahci *h, unsigned off, uint32_t v)
{
	ahci_bus_ops.write(h, off, (uint8_t *)&v, 4);
}

/* What Linux's ahci does before it issues commands: port p's lists at 0x1000 + 0x800 * p. */
static void bring_up(struct ahci *h, unsigned nports)
{
	abar_write(h, 0x04, 0x80000002); /* AE, IE */
	for (unsigned p = 0; p < nports; p++) {
		abar_write(h, PORT_REG(p, 0x00), 0x1000 + 0x800 * p); /* PxCLB */
		abar_write(h, PORT_REG(p, 0x08), 0x1400 + 0x800 * p); /* PxFB */
		abar_write(h, PORT_REG(p, 0x14), 0xFDC000FF);         /* PxIE */
		abar_write(h, PORT_REG(p, 0x18), 0x10);               /* FRE */
		abar_write(h, PORT_REG(p, 0x18), 0x11);               /* ST */
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_input in = {data, size};
	struct fuzz_env *env = fuzz_env();

	uint8_t setup = fuzz_u8(&in);
	unsigned nports = 1 + (setup >> 6) % DISKS;
	static struct blk blk[DISKS];
	static struct fuzz_engine eng;
	fuzz_disks_init(env, blk, DISKS, setup, &eng);
	struct blk *disks[DISKS] = {&blk[0], &blk[1]};
	static struct pci_bus pci;
	static struct ahci h;
	pci_bus_init(&pci);
	ahci_init(&h, disks, nports, ABAR, -1, &env->loop, &env->gm);
	FUZZ_CHECK(pci_plug(&pci, 1, &h.pci) == 0);
	pci_config_write(&pci, 1, 0x04, 2, 0x6); /* memory decode, bus master */
	if (!(fuzz_u8(&in) & 0x80))
		bring_up(&h, nports);

	for (unsigned steps = 0; !fuzz_done(&in) && steps < 4096; steps++) {
		switch (fuzz_u8(&in) % 7) {
		case 0: { /* the guest writes its memory: command headers, FISes, PRDTs */
			uint32_t off = fuzz_u16(&in) % (FUZZ_RAM - 64);
			unsigned n = fuzz_u8(&in) % 64;
			for (unsigned i = 0; i < n; i++)
				env->mem[off + i] = fuzz_u8(&in);
			break;
		}
		case 1: { /* a port register write: mostly port 0 and 1, any register */
			uint8_t sel = fuzz_u8(&in);
			abar_write(&h, PORT_REG(sel >> 7, sel & 0x7C), fuzz_u32(&in));
			break;
		}
		case 2: /* the host finishes an operation */
			fuzz_engine_complete_one(&eng, fuzz_u8(&in), fuzz_u8(&in));
			break;
		case 3: { /* any ABAR access, any width */
			uint32_t off = fuzz_u16(&in) % AHCI_ABAR_SIZE;
			unsigned len = 1u << (fuzz_u8(&in) % 4);
			uint8_t b[8];
			uint64_t v = fuzz_u64(&in);
			memcpy(b, &v, 8);
			if (v & 1)
				ahci_bus_ops.write(&h, off, b, len);
			else
				ahci_bus_ops.read(&h, off, b, len);
			break;
		}
		case 4: { /* PCI config space: command register, BAR5, MSI */
			unsigned off = fuzz_u8(&in);
			unsigned len = 1u << (fuzz_u8(&in) % 3);
			pci_config_write(&pci, 1, off & ~(len - 1), len, fuzz_u32(&in));
			break;
		}
		case 5: /* the loop runs what was handed to it */
			fuzz_loop_run(&env->loop);
			break;
		default: /* the driver issues commands (PxCI) on a port */
			abar_write(&h, PORT_REG(fuzz_u8(&in) % nports, 0x38), fuzz_u32(&in));
			break;
		}
	}
	/* Let everything finish. */
	for (unsigned round = 0; round < 64 && (eng.npending || env->loop.tasks || env->loop.deferred);
	     round++) {
		fuzz_engine_drain(&eng);
		fuzz_loop_run(&env->loop);
	}
	FUZZ_CHECK(eng.npending == 0);
	for (unsigned i = 0; i < DISKS; i++)
		fuzz_check_blk_idle(&blk[i]);
	for (unsigned p = 0; p < nports; p++)
		FUZZ_CHECK(h.ports[p].inflight == 0);
	ahci_destroy(&h);
	pci_bus_destroy(&pci);
	return 0;
}

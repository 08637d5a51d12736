#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "devices/pci.h"

static struct pci_bus bus;
static struct pci_dev dev;

static void outl(uint16_t port, uint32_t v)
{
	pci_conf1_bus_ops.write(&bus, port - PCI_CONFIG_PORT, (uint8_t *)&v, 4);
}

static void outb(uint16_t port, uint8_t v)
{
	pci_conf1_bus_ops.write(&bus, port - PCI_CONFIG_PORT, &v, 1);
}

static uint32_t inl(uint16_t port)
{
	uint32_t v;
	pci_conf1_bus_ops.read(&bus, port - PCI_CONFIG_PORT, (uint8_t *)&v, 4);
	return v;
}

static uint32_t cfg_read(unsigned slot, unsigned reg)
{
	outl(0xCF8, 0x80000000u | slot << 11 | reg);
	return inl(0xCFC);
}

static void cfg_write(unsigned slot, unsigned reg, uint32_t v)
{
	outl(0xCF8, 0x80000000u | slot << 11 | reg);
	outl(0xCFC, v);
}

static void setup(void)
{
	pci_bus_init(&bus);
	pci_dev_init(&dev, 0x8086, 0x2922, 0x010601, 2);
	pci_dev_set_bar(&dev, 5, 0xC0000000, 0x1000);
	pci_dev_add_msi(&dev);
	cr_assert_eq(pci_plug(&bus, 3, &dev), 0);
}

TestSuite(pci, .init = setup);

Test(pci, linux_conf1_probe_and_the_host_bridge)
{
	/* arch/x86/pci/direct.c: a byte write to 0xCFB, then 0x80000000 must read back. */
	outb(0xCFB, 1);
	outl(0xCF8, 0x80000000);
	cr_assert_eq(inl(0xCF8), 0x80000000);
	cr_assert_eq(cfg_read(0, 0x08) >> 8, 0x060000, "00:00.0 must be a host bridge");
	cr_assert_eq(cfg_read(7, 0x00), 0xFFFFFFFF, "an empty slot reads all-ones");
	/* Other buses and functions are absent. */
	outl(0xCF8, 0x80000000u | 1 << 16);
	cr_assert_eq(inl(0xCFC), 0xFFFFFFFF);
	outl(0xCF8, 0x80000000u | 3 << 11 | 1 << 8);
	cr_assert_eq(inl(0xCFC), 0xFFFFFFFF);
	cr_assert_eq(pci_plug(&bus, 3, &dev), -EBUSY);
	cr_assert_eq(pci_plug(&bus, 32, &dev), -EINVAL);
}

Test(pci, ids_are_read_only_and_bars_size_the_way_linux_expects)
{
	cr_assert_eq(cfg_read(3, 0x00), 0x29228086);
	cfg_write(3, 0x00, 0x12345678);
	cr_assert_eq(cfg_read(3, 0x00), 0x29228086);
	cr_assert_eq(cfg_read(3, 0x08), 0x01060102);
	cr_assert_eq(cfg_read(3, 0x24), 0xC0000000);
	cfg_write(3, 0x24, 0xFFFFFFFF);
	cr_assert_eq(cfg_read(3, 0x24), 0xFFFFF000, "4 KiB, 32-bit memory BAR");
	cr_assert_not(pci_bar_live(&dev, 5));
	cfg_write(3, 0x24, 0xC0000000);
	cfg_write(3, 0x04, 0x6); /* memory + bus master */
	cr_assert(pci_bar_live(&dev, 5));
	cfg_write(3, 0x24, 0xC0010000);
	cr_assert_not(pci_bar_live(&dev, 5), "moved away from where the device decodes");
	cr_assert_eq(cfg_read(3, 0x10), 0, "BAR0 is not implemented");
}

Test(pci, msi_capability)
{
	cr_assert(cfg_read(3, 0x04) & (0x10 << 16), "capability list bit");
	uint8_t cap = (uint8_t)cfg_read(3, 0x34);
	uint32_t hdr = cfg_read(3, cap);
	cr_assert_eq(hdr & 0xFF, 0x05);
	cr_assert(hdr & (0x80 << 16), "64-bit");
	uint64_t addr;
	uint32_t data;
	cr_assert_not(pci_msi_message(&dev, &addr, &data));
	cfg_write(3, cap + 4, 0xFEE01000);
	cfg_write(3, cap + 8, 0);
	cfg_write(3, cap + 12, 0x4041);
	cfg_write(3, cap, hdr | 1u << 16);
	cr_assert(pci_msi_message(&dev, &addr, &data));
	cr_assert_eq(addr, 0xFEE01000);
	cr_assert_eq(data, 0x4041);
}

/* Found by fuzz-bus: an 8-byte access copied 8 bytes to or from a 4-byte value. */
Test(pci, an_eight_byte_access_reads_all_ones_and_writes_nothing)
{
	outl(0xCF8, 0x80000000u | 3 << 11 | 0x04);
	uint8_t buf[8];
	memset(buf, 0x00, sizeof(buf));
	pci_conf1_bus_ops.read(&bus, 0, buf, 8);
	for (unsigned i = 0; i < 8; i++)
		cr_assert_eq(buf[i], 0xFF, "byte %u", i);
	memset(buf, 0xAB, sizeof(buf));
	pci_conf1_bus_ops.write(&bus, 4, buf, 8);
	pci_conf1_bus_ops.write(&bus, 0, buf, 8);
	cr_assert_eq(inl(0xCF8), 0x80000000u | 3 << 11 | 0x04, "the address latch kept");
	cr_assert_eq(cfg_read(3, 0x04) & 0xFFFF, 0, "the command register untouched");
}

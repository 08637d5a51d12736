#include "devices/pci.h"

#include <errno.h>
#include <string.h>

#define PCI_COMMAND 0x04
#define PCI_COMMAND_MEMORY 0x2
#define PCI_STATUS 0x06
#define PCI_STATUS_CAP_LIST 0x10
#define PCI_BAR0 0x10
#define PCI_CAP_PTR 0x34
#define PCI_CAP_ID_MSI 0x05
#define MSI_CAP_OFFSET 0x50
#define MSI_FLAGS_ENABLE 0x0001
#define MSI_FLAGS_64BIT 0x0080

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)v);
	put16(p + 2, (uint16_t)(v >> 16));
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

void pci_dev_init(struct pci_dev *d, uint16_t vendor, uint16_t device, uint32_t class_code,
		  uint8_t revision)
{
	memset(d, 0, sizeof(*d));
	put16(d->cfg + 0x00, vendor);
	put16(d->cfg + 0x02, device);
	d->cfg[0x08] = revision;
	d->cfg[0x09] = (uint8_t)class_code;
	d->cfg[0x0A] = (uint8_t)(class_code >> 8);
	d->cfg[0x0B] = (uint8_t)(class_code >> 16);
	/* Command: I/O, memory, bus master, INTx disable; interrupt line. */
	d->wmask[PCI_COMMAND] = 0x07;
	d->wmask[PCI_COMMAND + 1] = 0x04;
	d->wmask[0x3C] = 0xFF;
	/* Status: the error bits are write-one-to-clear (never set here). */
	d->w1c[PCI_STATUS + 1] = 0xF9;
}

void pci_dev_set_bar(struct pci_dev *d, unsigned int bar, uint32_t addr, uint32_t size)
{
	d->bar_addr[bar] = addr;
	d->bar_size[bar] = size;
	put32(d->cfg + PCI_BAR0 + 4 * bar, addr);
	/* Address bits above the size are writable: sizing reads back ~(size-1). */
	put32(d->wmask + PCI_BAR0 + 4 * bar, ~(size - 1) & ~0xFu);
}

void pci_dev_add_msi(struct pci_dev *d)
{
	uint8_t *c = d->cfg + MSI_CAP_OFFSET;
	d->msi = MSI_CAP_OFFSET;
	d->cfg[PCI_STATUS] |= PCI_STATUS_CAP_LIST;
	d->cfg[PCI_CAP_PTR] = MSI_CAP_OFFSET;
	c[0] = PCI_CAP_ID_MSI;
	c[1] = 0; /* last capability */
	put16(c + 2, MSI_FLAGS_64BIT);
	uint8_t *w = d->wmask + MSI_CAP_OFFSET;
	w[2] = 0x71; /* enable, and multiple-message enable (we honour one vector) */
	put32(w + 4, 0xFFFFFFFC);
	put32(w + 8, 0xFFFFFFFF);
	put16(w + 12, 0xFFFF);
}

void pci_bus_init(struct pci_bus *b)
{
	memset(b, 0, sizeof(*b));
	pthread_mutex_init(&b->lock, NULL);
	/* A host bridge, class 06/00/00 (Red Hat's QEMU PCIe host bridge ID). */
	pci_dev_init(&b->host_bridge, 0x1B36, 0x0008, 0x060000, 0);
	b->host_bridge.bus = b;
	b->slot[0] = &b->host_bridge;
}

void pci_bus_destroy(struct pci_bus *b)
{
	pthread_mutex_destroy(&b->lock);
}

int pci_plug(struct pci_bus *b, unsigned int slot, struct pci_dev *d)
{
	if (slot >= PCI_SLOTS)
		return -EINVAL;
	if (b->slot[slot])
		return -EBUSY;
	d->bus = b;
	b->slot[slot] = d;
	return 0;
}

static uint32_t read_locked(const struct pci_dev *d, unsigned off, unsigned len)
{
	uint32_t v = 0;
	for (unsigned i = 0; i < len; i++)
		v |= (uint32_t)d->cfg[off + i] << (8 * i);
	return v;
}

static void write_locked(struct pci_dev *d, unsigned off, unsigned len, uint32_t v)
{
	for (unsigned i = 0; i < len; i++) {
		uint8_t b = (uint8_t)(v >> (8 * i)), m = d->wmask[off + i];
		d->cfg[off + i] = (uint8_t)((d->cfg[off + i] & ~m) | (b & m));
		d->cfg[off + i] &= (uint8_t)~(b & d->w1c[off + i]);
	}
}

uint32_t pci_config_read(struct pci_bus *b, unsigned int slot, unsigned int off, unsigned int len)
{
	if (slot >= PCI_SLOTS || off + len > 256)
		return 0xFFFFFFFF;
	pthread_mutex_lock(&b->lock);
	const struct pci_dev *d = b->slot[slot];
	uint32_t v = d ? read_locked(d, off, len) : 0xFFFFFFFFu;
	pthread_mutex_unlock(&b->lock);
	return len == 4 ? v : v & ((1u << (8 * len)) - 1);
}

void pci_config_write(struct pci_bus *b, unsigned int slot, unsigned int off, unsigned int len,
		      uint32_t v)
{
	if (slot >= PCI_SLOTS || off + len > 256)
		return;
	pthread_mutex_lock(&b->lock);
	if (b->slot[slot])
		write_locked(b->slot[slot], off, len, v);
	pthread_mutex_unlock(&b->lock);
}

bool pci_bar_live(struct pci_dev *d, unsigned int bar)
{
	pthread_mutex_lock(&d->bus->lock);
	bool live = (d->cfg[PCI_COMMAND] & PCI_COMMAND_MEMORY) &&
		    get32(d->cfg + PCI_BAR0 + 4 * bar) == d->bar_addr[bar];
	pthread_mutex_unlock(&d->bus->lock);
	return live;
}

bool pci_msi_message(struct pci_dev *d, uint64_t *addr, uint32_t *data)
{
	if (!d->msi)
		return false;
	pthread_mutex_lock(&d->bus->lock);
	const uint8_t *c = d->cfg + d->msi;
	bool on = c[2] & MSI_FLAGS_ENABLE;
	*addr = get32(c + 4) | (uint64_t)get32(c + 8) << 32;
	*data = (uint32_t)c[12] | (uint32_t)c[13] << 8;
	pthread_mutex_unlock(&d->bus->lock);
	return on;
}

/*
 * conf1: 0xCF8 holds enable (bit 31), bus, device, function and register;
 * 0xCFC + (reg & 3) moves the data. Only bus 0, function 0 exist.
 */
static bool decode(uint32_t a, unsigned *slot, unsigned *reg)
{
	if (!(a & 0x80000000u) || ((a >> 16) & 0xFF) != 0 || ((a >> 8) & 7) != 0)
		return false;
	*slot = (a >> 11) & 31;
	*reg = a & 0xFC;
	return true;
}

/* The slot and register the 0xCF8 latch selects for a data-port access at off. */
static bool latched_target(struct pci_bus *b, uint64_t off, uint32_t len, unsigned *slot,
			   unsigned *reg)
{
	if (off < 4 || off - 4 + len > 4)
		return false;
	pthread_mutex_lock(&b->lock);
	uint32_t a = b->address;
	pthread_mutex_unlock(&b->lock);
	if (!decode(a, slot, reg))
		return false;
	*reg += (unsigned)(off - 4);
	return true;
}

static void conf1_read(void *dev, uint64_t off, uint8_t *data, uint32_t len)
{
	struct pci_bus *b = dev;
	uint32_t v = 0xFFFFFFFF;
	if (len > 4) {
		/* No such access on conf1 (port I/O is at most 4 bytes): all ones. */
		memset(data, 0xFF, len);
		return;
	}
	if (off == 0 && len == 4) {
		pthread_mutex_lock(&b->lock);
		v = b->address;
		pthread_mutex_unlock(&b->lock);
	} else {
		unsigned slot, reg;
		if (latched_target(b, off, len, &slot, &reg))
			v = pci_config_read(b, slot, reg, len);
	}
	memcpy(data, &v, len);
}

static void conf1_write(void *dev, uint64_t off, const uint8_t *data, uint32_t len)
{
	struct pci_bus *b = dev;
	uint32_t v = 0;
	if (len > 4)
		return; /* no such access on conf1: dropped */
	memcpy(&v, data, len);
	if (off == 0 && len == 4) {
		pthread_mutex_lock(&b->lock);
		b->address = v & 0x80FFFFFCu;
		pthread_mutex_unlock(&b->lock);
	} else {
		unsigned slot, reg;
		if (latched_target(b, off, len, &slot, &reg))
			pci_config_write(b, slot, reg, len, v);
	}
}

const struct bus_ops pci_conf1_bus_ops = {
	.name = "pci-conf1",
	.read = conf1_read,
	.write = conf1_write,
};

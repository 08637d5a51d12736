/*
 * The port and MMIO buses as a vCPU's exits reach them, with what kestrel
 * maps there: the UART (and the console's input path into it and its
 * escape filter), ACPI power control and the i8042 reset, pvpanic, and PCI
 * configuration mechanism #1 with the host bridge and a device that has a
 * BAR and MSI. Any address, width and value; the UART's state stays inside
 * its buffers, a stop request names a known reason, and the PCI device's
 * BAR and MSI read back only what the guest may set.
 */
#include <string.h>

#include "boot/layout.h"
#include "devices/console.h"
#include "devices/i8042.h"
#include "devices/pci.h"
#include "devices/power.h"
#include "devices/pvpanic.h"
#include "devices/uart.h"
#include "tests/fuzz/fuzz_common.h"
#include "vmm/bus.h"

#define DEV_BAR 0xC0001000u
#define DEV_BAR_SIZE 0x1000u

static enum vm_stop stopped;
static void record_stop(struct vm_ctl *c, enum vm_stop reason, const char *msg)
{
	if (stopped == VM_RUNNING)
		stopped = reason;
}
static bool is_stopping(struct vm_ctl *c) { return stopped != VM_RUNNING; }
static struct vm_ctl ctl = {.stop = record_stop, .stopping = is_stopping};

/* Addresses worth aiming at; an access lands at one of them plus a small offset. */
static const uint64_t pio_targets[] = {PORT_COM1, PORT_ACPI_SLEEP_CTL, PORT_I8042_CMD,
				       PCI_CONFIG_PORT, PORT_I8042_DATA, 0xFFFF};
static const uint64_t mmio_targets[] = {LAYOUT_PVPANIC, DEV_BAR, 0xFEC00000, 0};

/* The line hook gets whole lines only: no newline inside, within the bound. */
static void check_line(void *ctx, const char *line, size_t len)
{
	(void)ctx;
	FUZZ_CHECK(len <= UART_LINE_MAX);
	FUZZ_CHECK(memchr(line, '\n', len) == NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_input in = {data, size};
	static struct bus pio, mmio;
	static struct uart uart;
	static struct power power;
	static struct pvpanic pvpanic;
	static struct i8042 kbd;
	static struct pci_bus pci;
	static struct pci_dev dev;
	memset(&pio, 0, sizeof(pio));
	memset(&mmio, 0, sizeof(mmio));
	stopped = VM_RUNNING;
	uart_init(&uart, -1, -1);
	uart.line_out = check_line; /* as --log-marks hooks it */
	power.ctl = &ctl;
	i8042_init(&kbd, &ctl, -1);
	pvpanic.ctl = &ctl;
	pci_bus_init(&pci);
	pci_dev_init(&dev, 0x8086, 0x2922, 0x010601, 2);
	pci_dev_set_bar(&dev, 5, DEV_BAR, DEV_BAR_SIZE);
	pci_dev_add_msi(&dev);
	FUZZ_CHECK(pci_plug(&pci, 1, &dev) == 0);
	FUZZ_CHECK(bus_map(&pio, PORT_COM1, 8, &uart_bus_ops, &uart) == 0);
	FUZZ_CHECK(bus_map(&pio, PORT_ACPI_SLEEP_CTL, 3, &power_acpi_bus_ops, &power) == 0);
	FUZZ_CHECK(bus_map(&pio, PORT_I8042_DATA, 1, &i8042_data_bus_ops, &kbd) == 0);
	FUZZ_CHECK(bus_map(&pio, PORT_I8042_CMD, 1, &i8042_cmd_bus_ops, &kbd) == 0);
	FUZZ_CHECK(bus_map(&pio, PCI_CONFIG_PORT, 8, &pci_conf1_bus_ops, &pci) == 0);
	FUZZ_CHECK(bus_map(&mmio, LAYOUT_PVPANIC, LAYOUT_PVPANIC_SIZE, &pvpanic_bus_ops, &pvpanic) == 0);
	bool after_escape = false;

	for (unsigned steps = 0; !fuzz_done(&in) && steps < 4096; steps++) {
		uint8_t op = fuzz_u8(&in);
		switch (op % 4) {
		case 0:
		case 1: { /* a port (op 0) or MMIO (op 1) access, aimed or anywhere;
			   width 1 << bits 2-3 of op, a write when bit 6 is set */
			bool is_pio = op % 4 == 0;
			uint8_t aim = fuzz_u8(&in);
			uint64_t addr;
			/* aim: bit 7 = anywhere; else target (bits 0-2) + offset (bits 3-6). */
			if (aim & 0x80)
				addr = is_pio ? fuzz_u16(&in) : fuzz_u64(&in);
			else if (is_pio)
				addr = pio_targets[(aim & 7) % 6] + (aim >> 3);
			else
				addr = mmio_targets[(aim & 7) % 4] + (aim >> 3);
			uint32_t len = 1u << ((op >> 2) % 4);
			uint8_t buf[8];
			uint64_t v = fuzz_u64(&in);
			memcpy(buf, &v, 8);
			bus_access(is_pio ? &pio : &mmio, addr, buf, len, op & 0x40);
			break;
		}
		case 2: { /* host input reaches the UART, through the console's filter */
			uint8_t bytes[64];
			size_t n = fuzz_u8(&in) % sizeof(bytes);
			for (size_t i = 0; i < n; i++)
				bytes[i] = fuzz_u8(&in);
			bool quit = false;
			n = console_filter(&after_escape, bytes, n, &quit);
			FUZZ_CHECK(n <= sizeof(bytes));
			size_t took = uart_rx_push(&uart, bytes, n);
			FUZZ_CHECK(took <= n);
			if (n && bytes[0] == 0x7F) /* now and then, the API presses Ctrl-Alt-Del */
				i8042_ctrl_alt_del(&kbd);
			break;
		}
		default: /* what the device helpers report from config space */
		{
			uint64_t addr;
			uint32_t msg;
			if (pci_msi_message(&dev, &addr, &msg))
				FUZZ_CHECK(dev.msi != 0);
			/* Live only where kestrel put it: a moved BAR is dead, not remapped. */
			if (pci_bar_live(&dev, 5))
				FUZZ_CHECK((pci_config_read(&pci, 1, 0x10 + 4 * 5, 4) & ~0xFu) == DEV_BAR);
			break;
		}
		}
		FUZZ_CHECK(uart.rx_count <= UART_RX_SIZE && uart.rx_head < UART_RX_SIZE);
		FUZZ_CHECK(uart.out_len <= UART_OUT_BUF);
		FUZZ_CHECK(kbd.count <= I8042_OUT_MAX && kbd.head < I8042_OUT_MAX);
		FUZZ_CHECK(stopped <= VM_SIGNAL);
		/* A BAR reads back size-aligned: the guest cannot move it to a misaligned address. */
		uint32_t bar = pci_config_read(&pci, 1, 0x10 + 4 * 5, 4);
		FUZZ_CHECK((bar & ~0xFu & (DEV_BAR_SIZE - 1)) == 0);
	}
	uart_destroy(&uart);
	i8042_destroy(&kbd);
	pci_bus_destroy(&pci);
	return 0;
}

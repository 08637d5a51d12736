#include "devices/power.h"

#include <string.h>

#include "boot/layout.h"

#define SLP_EN 0x20

static void acpi_read(void *dev, uint64_t off, uint8_t *data, uint32_t len)
{
	memset(data, 0, len);
}

static void acpi_write(void *dev, uint64_t off, const uint8_t *data, uint32_t len)
{
	struct power *p = dev;
	uint8_t v = data[0];
	switch (PORT_ACPI_SLEEP_CTL + off) {
	case PORT_ACPI_SLEEP_CTL:
		if ((v & SLP_EN) && ((v >> 2) & 7) == ACPI_S5_SLP_TYP)
			p->ctl->stop(p->ctl, VM_POWEROFF, NULL);
		break;
	case PORT_ACPI_RESET:
		if (v == ACPI_RESET_VALUE)
			p->ctl->stop(p->ctl, VM_REBOOT, NULL);
		break;
	default:
		break; /* sleep status: write-1-to-clear of WAK_STS, nothing to keep */
	}
}

const struct bus_ops power_acpi_bus_ops = {
	.name = "acpi-power",
	.read = acpi_read,
	.write = acpi_write,
};

/*
 * Power control as the hardware-reduced FADT describes it: the sleep control
 * register (S5 = power off), the sleep status register, and the reset
 * register (the i8042's "pulse reset line" is in devices/i8042.c). vCPU threads.
 */
#ifndef KESTREL_POWER_H
#define KESTREL_POWER_H

#include "vmm/bus.h"
#include "vmm/vm_ctl.h"

struct power {
	struct vm_ctl *ctl;
};

/* Mapped at PORT_ACPI_SLEEP_CTL, 3 ports: sleep control, sleep status, reset. */
extern const struct bus_ops power_acpi_bus_ops;

#endif

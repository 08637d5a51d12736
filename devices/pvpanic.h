/*
 * The pvpanic device (QEMU0001 in the DSDT, bound by Linux's pvpanic-mmio):
 * one byte that the guest writes when it panics. vCPU threads.
 */
#ifndef KESTREL_PVPANIC_H
#define KESTREL_PVPANIC_H

#include "vmm/bus.h"
#include "vmm/vm_ctl.h"

#define PVPANIC_PANICKED 0x01
#define PVPANIC_CRASH_LOADED 0x02

struct pvpanic {
	struct vm_ctl *ctl;
};

extern const struct bus_ops pvpanic_bus_ops;

#endif

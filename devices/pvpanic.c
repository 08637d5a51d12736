#include "devices/pvpanic.h"

#include <string.h>

static void pvpanic_read(void *dev, uint64_t off, uint8_t *data, uint32_t len)
{
	memset(data, 0, len);
	/* The events this device understands; the driver masks what it sends with it. */
	if (off == 0)
		data[0] = PVPANIC_PANICKED | PVPANIC_CRASH_LOADED;
}

static void pvpanic_write(void *dev, uint64_t off, const uint8_t *data, uint32_t len)
{
	struct pvpanic *p = dev;
	if (off == 0 && (data[0] & PVPANIC_PANICKED))
		p->ctl->stop(p->ctl, VM_PANIC, "guest panicked");
	/* CRASH_LOADED means a kdump kernel takes over: nothing to do. */
}

const struct bus_ops pvpanic_bus_ops = {
	.name = "pvpanic",
	.read = pvpanic_read,
	.write = pvpanic_write,
};

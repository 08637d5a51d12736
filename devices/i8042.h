/*
 * An i8042 keyboard controller with a keyboard behind it, just enough for
 * Linux's i8042 and atkbd drivers to bind (DSDT PNP0303) and for the host
 * to press Ctrl-Alt-Del (the API's SendCtrlAltDel), as Firecracker's does;
 * no mouse (no PNP0F13, so Linux leaves the AUX port alone). Command 0xFE
 * pulses the reset line: the VM stops with a reboot.
 *
 * The output buffer holds at most I8042_OUT_MAX bytes; more are dropped,
 * so neither the guest nor the host can grow it.
 *
 * Threads: i8042_init on the main thread; the bus handlers on vCPU
 * threads; i8042_ctrl_alt_del on any thread (the loop's, for the API).
 */
#ifndef KESTREL_I8042_H
#define KESTREL_I8042_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "vmm/bus.h"
#include "vmm/vm_ctl.h"

#define I8042_OUT_MAX 16

struct i8042 {
	pthread_mutex_t lock;
	struct vm_ctl *ctl;
	int irq_fd;       /* GSI 1's irqfd, or -1 (unit tests) */
	uint8_t ctr;      /* the controller configuration byte */
	uint8_t pending;  /* a controller command waiting for its data byte, or 0 */
	uint8_t kbd_pending; /* a keyboard command waiting for its parameter, or 0 */
	bool last_was_cmd;   /* status bit 3: the last write went to the command port */
	uint8_t out[I8042_OUT_MAX];
	unsigned int head, count;
	uint8_t last_read;
	unsigned long long irqs, dropped, ctrl_alt_dels;
};

void i8042_init(struct i8042 *k, struct vm_ctl *ctl, int irq_fd);
void i8042_destroy(struct i8042 *k);

/* Presses and releases Ctrl-Alt-Del on the keyboard. */
void i8042_ctrl_alt_del(struct i8042 *k);

/* Mapped at PORT_I8042_DATA (1 port) and PORT_I8042_CMD (1 port). */
extern const struct bus_ops i8042_data_bus_ops;
extern const struct bus_ops i8042_cmd_bus_ops;

#endif

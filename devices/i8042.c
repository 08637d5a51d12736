#include "devices/i8042.h"

#include <string.h>
#include <unistd.h>

/* Status register (port 0x64, read). */
#define STS_OBF 0x01     /* a byte waits in the output buffer */
#define STS_SYS 0x04     /* the self test passed */
#define STS_CMD 0x08     /* the last write was a command */
/* Controller configuration byte. */
#define CTR_KBDINT 0x01
#define CTR_SYS 0x04
#define CTR_KBDDIS 0x10
#define CTR_AUXDIS 0x20
#define CTR_XLATE 0x40

static void irq_locked(struct i8042 *k)
{
	if (k->irq_fd < 0 || !(k->ctr & CTR_KBDINT) || !k->count)
		return;
	uint64_t one = 1;
	if (write(k->irq_fd, &one, sizeof(one)) == sizeof(one))
		k->irqs++;
}

/* A byte for the guest to read; an interrupt when it is the first in line. */
static void push_locked(struct i8042 *k, uint8_t b)
{
	if (k->count == I8042_OUT_MAX) {
		k->dropped++;
		return;
	}
	k->out[(k->head + k->count) % I8042_OUT_MAX] = b;
	if (k->count++ == 0)
		irq_locked(k);
}

void i8042_init(struct i8042 *k, struct vm_ctl *ctl, int irq_fd)
{
	memset(k, 0, sizeof(*k));
	pthread_mutex_init(&k->lock, NULL);
	k->ctl = ctl;
	k->irq_fd = irq_fd;
	/* What a PC BIOS leaves: keyboard interrupt on, translation to set 1, no mouse. */
	k->ctr = CTR_KBDINT | CTR_SYS | CTR_AUXDIS | CTR_XLATE;
}

void i8042_destroy(struct i8042 *k)
{
	pthread_mutex_destroy(&k->lock);
}

void i8042_ctrl_alt_del(struct i8042 *k)
{
	/* Make Ctrl, Alt, Delete, then break them: scan code set 1 when translating, else set 2. */
	static const uint8_t set1[] = {0x1D, 0x38, 0xE0, 0x53, 0xE0, 0xD3, 0xB8, 0x9D};
	static const uint8_t set2[] = {0x14, 0x11, 0xE0, 0x71, 0xE0, 0xF0, 0x71, 0xF0, 0x11, 0xF0, 0x14};
	pthread_mutex_lock(&k->lock);
	bool xlate = k->ctr & CTR_XLATE;
	const uint8_t *seq = xlate ? set1 : set2;
	unsigned n = xlate ? sizeof(set1) : sizeof(set2);
	for (unsigned i = 0; i < n; i++)
		push_locked(k, seq[i]);
	k->ctrl_alt_dels++;
	pthread_mutex_unlock(&k->lock);
}

/* A byte the guest sent to the keyboard: every command is acknowledged (0xFA). */
static void kbd_write_locked(struct i8042 *k, uint8_t b)
{
	if (k->kbd_pending) { /* the parameter of LEDs, typematic rate or scan code set */
		uint8_t cmd = k->kbd_pending;
		k->kbd_pending = 0;
		push_locked(k, 0xFA);
		if (cmd == 0xF0 && b == 0)
			push_locked(k, 0x02); /* "which set": set 2 */
		return;
	}
	switch (b) {
	case 0xED: case 0xF3: case 0xF0:
		k->kbd_pending = b;
		push_locked(k, 0xFA);
		break;
	case 0xEE: push_locked(k, 0xEE); break; /* echo */
	case 0xF2: /* identify: an MF2 keyboard (0x41 once translated) */
		push_locked(k, 0xFA);
		push_locked(k, 0xAB);
		push_locked(k, (k->ctr & CTR_XLATE) ? 0x41 : 0x83);
		break;
	case 0xFF: /* reset: acknowledged, then the self test passed */
		push_locked(k, 0xFA);
		push_locked(k, 0xAA);
		break;
	default: push_locked(k, 0xFA); break;
	}
}

static void data_read(void *dev, uint64_t off, uint8_t *data, uint32_t len)
{
	struct i8042 *k = dev;
	memset(data, 0, len);
	pthread_mutex_lock(&k->lock);
	if (k->count) {
		k->last_read = k->out[k->head];
		k->head = (k->head + 1) % I8042_OUT_MAX;
		k->count--;
		irq_locked(k); /* the next byte, if any */
	}
	data[0] = k->last_read;
	pthread_mutex_unlock(&k->lock);
}

static void data_write(void *dev, uint64_t off, const uint8_t *data, uint32_t len)
{
	struct i8042 *k = dev;
	pthread_mutex_lock(&k->lock);
	k->last_was_cmd = false;
	uint8_t cmd = k->pending;
	k->pending = 0;
	switch (cmd) {
	case 0x60: k->ctr = data[0]; break;        /* write the configuration byte */
	case 0xD1: break;                           /* output port: nothing to drive */
	case 0xD2: push_locked(k, data[0]); break;  /* as if the keyboard sent it */
	default: kbd_write_locked(k, data[0]); break;
	}
	pthread_mutex_unlock(&k->lock);
}

static void cmd_read(void *dev, uint64_t off, uint8_t *data, uint32_t len)
{
	struct i8042 *k = dev;
	memset(data, 0, len);
	pthread_mutex_lock(&k->lock);
	data[0] = (k->count ? STS_OBF : 0) | STS_SYS | (k->last_was_cmd ? STS_CMD : 0);
	pthread_mutex_unlock(&k->lock);
}

static void cmd_write(void *dev, uint64_t off, const uint8_t *data, uint32_t len)
{
	struct i8042 *k = dev;
	bool reset = false;
	pthread_mutex_lock(&k->lock);
	k->last_was_cmd = true;
	switch (data[0]) {
	case 0x20: push_locked(k, k->ctr); break;   /* read the configuration byte */
	case 0x60: case 0xD1: case 0xD2: k->pending = data[0]; break;
	case 0xAA: push_locked(k, 0x55); break;     /* controller self test: passed */
	case 0xAB: push_locked(k, 0x00); break;     /* keyboard interface test: passed */
	case 0xAD: k->ctr |= CTR_KBDDIS; break;
	case 0xAE: k->ctr &= (uint8_t)~CTR_KBDDIS; break;
	case 0xFE: reset = true; break;             /* pulse the reset line */
	default: break;                             /* no mouse: AUX commands do nothing */
	}
	pthread_mutex_unlock(&k->lock);
	if (reset)
		k->ctl->stop(k->ctl, VM_REBOOT, NULL);
}

const struct bus_ops i8042_data_bus_ops = {.name = "i8042-data", .read = data_read, .write = data_write};
const struct bus_ops i8042_cmd_bus_ops = {.name = "i8042", .read = cmd_read, .write = cmd_write};

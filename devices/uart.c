#include "devices/uart.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

/* Register offsets (DLAB=0 unless noted). */
#define REG_RBR_THR 0 /* DLAB=1: DLL */
#define REG_IER 1     /* DLAB=1: DLM */
#define REG_IIR_FCR 2
#define REG_LCR 3
#define REG_MCR 4
#define REG_LSR 5
#define REG_MSR 6
#define REG_SCR 7

#define IER_RDI 0x01
#define IER_THRI 0x02
#define IIR_NONE 0x01
#define IIR_THRI 0x02
#define IIR_RDI 0x04
#define IIR_FIFO 0xC0
#define FCR_ENABLE 0x01
#define FCR_CLEAR_RX 0x02
#define LCR_DLAB 0x80
#define MCR_LOOP 0x10
#define LSR_DR 0x01
#define LSR_THRE 0x20
#define LSR_TEMT 0x40

void uart_init(struct uart *u, int irq_fd, int out_fd)
{
	memset(u, 0, sizeof(*u));
	pthread_mutex_init(&u->lock, NULL);
	u->lsr = LSR_THRE | LSR_TEMT;
	u->msr = 0xB0; /* DCD, DSR, CTS: a terminal is connected */
	u->mcr = 0x08; /* OUT2 */
	u->irq_fd = irq_fd;
	u->out_fd = out_fd;
}

void uart_destroy(struct uart *u)
{
	uart_flush(u);
	pthread_mutex_destroy(&u->lock);
}

static void write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return; /* a closed or full console must not stop the guest */
		}
		p += w;
		n -= (size_t)w;
	}
}

static void flush_locked(struct uart *u)
{
	if (u->out_len && u->out_fd >= 0)
		write_all(u->out_fd, u->out, u->out_len);
	u->out_len = 0;
}

void uart_flush(struct uart *u)
{
	pthread_mutex_lock(&u->lock);
	flush_locked(u);
	pthread_mutex_unlock(&u->lock);
}

static uint8_t iir_locked(const struct uart *u)
{
	uint8_t fifo = u->fifo_enabled ? IIR_FIFO : 0;
	if ((u->ier & IER_RDI) && u->rx_count)
		return IIR_RDI | fifo;
	if ((u->ier & IER_THRI) && u->thre_pending)
		return IIR_THRI | fifo;
	return IIR_NONE | fifo;
}

/* Pulses the (edge-triggered) line when an interrupt becomes pending. */
static void update_irq_locked(struct uart *u)
{
	bool pending = !(iir_locked(u) & IIR_NONE);
	if (pending && !u->irq_high && u->irq_fd >= 0) {
		uint64_t one = 1;
		if (write(u->irq_fd, &one, sizeof(one)) < 0) {
			/* irqfd eventfd writes cannot fail short of a bug */
		}
	}
	u->irq_high = pending;
}

static void rx_put_locked(struct uart *u, uint8_t b)
{
	if (u->rx_count == UART_RX_SIZE)
		return;
	u->rx[(u->rx_head + u->rx_count) % UART_RX_SIZE] = b;
	u->rx_count++;
	u->lsr |= LSR_DR;
}

size_t uart_rx_push(struct uart *u, const uint8_t *data, size_t len)
{
	pthread_mutex_lock(&u->lock);
	size_t n = 0;
	/* In loopback mode the line is disconnected from the outside. */
	if (!(u->mcr & MCR_LOOP)) {
		for (; n < len && u->rx_count < UART_RX_SIZE; n++)
			rx_put_locked(u, data[n]);
		update_irq_locked(u);
	}
	pthread_mutex_unlock(&u->lock);
	return n;
}

/*
 * Collects the output line for the line hook; true when b ended one whose
 * text, u->line[0..line_len), is whole (a line longer than the buffer is
 * not passed on). It stays there until the next byte.
 */
static bool line_locked(struct uart *u, uint8_t b)
{
	if (u->line_ended) {
		u->line_len = 0;
		u->line_cut = u->line_ended = false;
	}
	if (b == '\n') {
		u->line_ended = true;
		return !u->line_cut;
	}
	if (b == '\r')
		return false;
	if (u->line_len < UART_LINE_MAX)
		u->line[u->line_len++] = (char)b;
	else
		u->line_cut = true;
	return false;
}

/* Returns whether b ended a whole line for the line hook (u->line holds it). */
static bool tx_locked(struct uart *u, uint8_t b)
{
	bool whole = false;
	if (u->mcr & MCR_LOOP) {
		rx_put_locked(u, b);
	} else {
		whole = u->line_out && line_locked(u, b);
		u->tx_bytes++;
		u->out[u->out_len++] = (char)b;
		if (b == '\n' || u->out_len == UART_OUT_BUF)
			flush_locked(u);
	}
	/* Transmission is instantaneous: THR is empty again at once. */
	u->thre_pending = true;
	return whole;
}

static uint8_t msr_locked(const struct uart *u)
{
	if (!(u->mcr & MCR_LOOP))
		return u->msr;
	/* Loopback: modem outputs feed modem inputs (Linux's UART probe checks this). */
	uint8_t m = u->mcr;
	return (uint8_t)(((m & 0x02) << 3) | ((m & 0x01) << 5) | ((m & 0x04) << 4) | ((m & 0x08) << 4));
}

static void uart_read(void *dev, uint64_t off, uint8_t *data, uint32_t len)
{
	struct uart *u = dev;
	bool drained = false;
	memset(data, 0, len);
	pthread_mutex_lock(&u->lock);
	switch (off) {
	case REG_RBR_THR:
		if (u->lcr & LCR_DLAB) {
			data[0] = u->dll;
		} else if (u->rx_count) {
			data[0] = u->rx[u->rx_head];
			u->rx_head = (u->rx_head + 1) % UART_RX_SIZE;
			if (--u->rx_count == 0) {
				u->lsr &= (uint8_t)~LSR_DR;
				drained = true;
			}
		}
		break;
	case REG_IER:
		data[0] = (u->lcr & LCR_DLAB) ? u->dlm : u->ier;
		break;
	case REG_IIR_FCR:
		data[0] = iir_locked(u);
		/* Reading IIR acknowledges a THR-empty interrupt. */
		if ((data[0] & 0x0F) == IIR_THRI)
			u->thre_pending = false;
		break;
	case REG_LCR: data[0] = u->lcr; break;
	case REG_MCR: data[0] = u->mcr; break;
	case REG_LSR: data[0] = u->lsr; break;
	case REG_MSR: data[0] = msr_locked(u); break;
	case REG_SCR: data[0] = u->scr; break;
	}
	update_irq_locked(u);
	void (*cb)(void *) = u->rx_drained;
	void *ctx = u->rx_drained_ctx;
	pthread_mutex_unlock(&u->lock);
	if (drained && cb)
		cb(ctx);
}

static void uart_write(void *dev, uint64_t off, const uint8_t *data, uint32_t len)
{
	struct uart *u = dev;
	uint8_t v = data[0];
	/* Room for input appeared: a console waiting for it must hear (as after a read). */
	bool room = false;
	char line[UART_LINE_MAX];
	size_t line_len = SIZE_MAX; /* a whole line for the hook, when set */
	pthread_mutex_lock(&u->lock);
	switch (off) {
	case REG_RBR_THR:
		if (u->lcr & LCR_DLAB) {
			u->dll = v;
		} else {
			if (tx_locked(u, v)) {
				line_len = u->line_len;
				memcpy(line, u->line, line_len);
			}
		}
		break;
	case REG_IER:
		if (u->lcr & LCR_DLAB) {
			u->dlm = v;
		} else {
			/* Enabling THRI while THR is empty raises the interrupt. */
			if ((v & IER_THRI) && !(u->ier & IER_THRI))
				u->thre_pending = true;
			u->ier = v & 0x0F;
			flush_locked(u);
		}
		break;
	case REG_IIR_FCR:
		u->fifo_enabled = v & FCR_ENABLE;
		if (v & FCR_CLEAR_RX) {
			u->rx_count = 0;
			u->lsr &= (uint8_t)~LSR_DR;
			room = true;
		}
		break;
	case REG_LCR: u->lcr = v; break;
	case REG_MCR:
		/* Leaving loopback reconnects the line to the host's input. */
		room = (u->mcr & MCR_LOOP) && !(v & MCR_LOOP);
		u->mcr = v & 0x1F;
		break;
	case REG_SCR: u->scr = v; break;
	default: break; /* LSR and MSR are read-only */
	}
	update_irq_locked(u);
	void (*cb)(void *) = u->rx_drained;
	void *ctx = u->rx_drained_ctx;
	pthread_mutex_unlock(&u->lock);
	if (room && cb)
		cb(ctx);
	if (line_len != SIZE_MAX)
		u->line_out(u->line_out_ctx, line, line_len);
}

const struct bus_ops uart_bus_ops = {
	.name = "uart",
	.read = uart_read,
	.write = uart_write,
};

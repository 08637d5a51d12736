/*
 * A 16550A UART (the guest's ttyS0). Registers are accessed on vCPU threads
 * through the bus; received bytes arrive from the loop thread through
 * uart_rx_push(). A mutex guards the register state. Output goes straight to
 * a file descriptor, buffered per line (and flushed whenever the guest's
 * driver rewrites IER, which it does at the end of every console write and
 * when its transmit queue drains, so prompts without a newline appear).
 */
#ifndef KESTREL_UART_H
#define KESTREL_UART_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm/bus.h"

#define UART_RX_SIZE 1024
#define UART_OUT_BUF 1024
#define UART_LINE_MAX 256

struct uart {
	pthread_mutex_t lock;
	uint8_t ier, lcr, mcr, lsr, msr, scr, dll, dlm;
	bool fifo_enabled;
	bool thre_pending; /* THR-empty interrupt not yet acknowledged */
	bool irq_high;     /* an interrupt is pending (we pulse on the rising edge) */
	uint8_t rx[UART_RX_SIZE];
	unsigned int rx_head, rx_count;
	int irq_fd; /* irqfd eventfd: one write = one edge */
	int out_fd; /* -1: output discarded */
	char out[UART_OUT_BUF];
	size_t out_len;
	/* Called (vCPU thread, lock not held) when the guest empties the RX buffer. */
	void (*rx_drained)(void *ctx);
	void *rx_drained_ctx;
	uint64_t tx_bytes;
	/*
	 * Set before the guest starts, or NULL: called (vCPU thread, lock not
	 * held) with each output line of at most UART_LINE_MAX bytes, without
	 * its newline (--log-marks).
	 */
	void (*line_out)(void *ctx, const char *line, size_t len);
	void *line_out_ctx;
	char line[UART_LINE_MAX];
	size_t line_len;
	bool line_cut, line_ended;
};

void uart_init(struct uart *u, int irq_fd, int out_fd);
void uart_destroy(struct uart *u);

extern const struct bus_ops uart_bus_ops;

/* Any thread: queues received bytes; returns how many fitted. */
size_t uart_rx_push(struct uart *u, const uint8_t *data, size_t len);

/* Any thread: writes out buffered guest output. */
void uart_flush(struct uart *u);

#endif

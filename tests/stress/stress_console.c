/*
 * Console input against the guest's UART driver: the host side (a pipe
 * read by the console on the real loop thread) pours bytes in faster than
 * a "vCPU" reads them, so the console keeps waiting for room; meanwhile the
 * vCPU clears the receive FIFO and goes in and out of loopback mode, as
 * Linux's 8250 driver does at probe and open. Bytes may be lost to a clear,
 * but input must never stop: after the disruptions end, every byte written
 * next arrives, in order.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "devices/console.h"
#include "devices/uart.h"
#include "tests/stress/stress_common.h"

#define PHASE1 (256u << 10) /* bytes poured in under disruption */
#define PHASE2 8192u        /* bytes that must all arrive */
#define REG_RBR 0
#define REG_FCR 2
#define REG_MCR 4
#define REG_LSR 5

static struct loop loop;
static struct uart uart;
static struct console con;
static int pipe_w;
static atomic_bool phase1_done, quiet, give_up;

static uint8_t reg_read(unsigned off)
{
	uint8_t v;
	uart_bus_ops.read(&uart, off, &v, 1);
	return v;
}

static void reg_write(unsigned off, uint8_t v)
{
	uart_bus_ops.write(&uart, off, &v, 1);
}

/* Writes all of buf to the (non-blocking) pipe, unless the test gave up. */
static void pour(const uint8_t *buf, size_t len)
{
	struct timespec pause = {0, 20 * 1000};
	while (len && !atomic_load(&give_up)) {
		ssize_t n = write(pipe_w, buf, len);
		if (n > 0) {
			buf += n;
			len -= (size_t)n;
		} else {
			nanosleep(&pause, NULL);
		}
	}
}

static void *writer(void *arg)
{
	(void)arg;
	uint8_t buf[4096];
	for (unsigned i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(2 + i % 0x7E); /* 0x02..0x7F: never Ctrl-A, never phase 2 */
	for (unsigned sent = 0; sent < PHASE1; sent += sizeof(buf))
		pour(buf, sizeof(buf));
	atomic_store(&phase1_done, true);
	while (!atomic_load(&quiet) && !atomic_load(&give_up))
		sched_yield();
	for (unsigned i = 0; i < PHASE2; i++)
		buf[i % sizeof(buf)] = (uint8_t)(0x80 + i % 0x80);
	for (unsigned sent = 0; sent < PHASE2; sent += sizeof(buf))
		pour(buf, sizeof(buf));
	return NULL;
}

static void input_never_stops(void)
{
	pthread_t t;
	pthread_create(&t, NULL, writer, NULL);
	struct timespec pause = {0, 20 * 1000};
	unsigned disruptions = 0, got2 = 0, round = 0;
	struct timespec start, now;
	clock_gettime(CLOCK_MONOTONIC, &start);
	/* Phase 1: a slow reader that keeps disrupting. */
	for (; !atomic_load(&phase1_done); round++) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		STRESS_CHECK(round, now.tv_sec - start.tv_sec < 20, goto out); /* input stalled */
		for (unsigned k = 0; k < 16 && (reg_read(REG_LSR) & 1); k++)
			(void)reg_read(REG_RBR);
		if (round % 40 == 0) {
			if (disruptions++ % 2) {
				reg_write(REG_FCR, 0x07); /* enable, clear RX and TX */
			} else {
				reg_write(REG_MCR, 0x10); /* loopback on, then off */
				reg_write(REG_MCR, 0x0B);
			}
		}
		nanosleep(&pause, NULL);
	}
	atomic_store(&quiet, true);
	/* Phase 2: every byte arrives, in order, after what is left of phase 1. */
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		while (reg_read(REG_LSR) & 1) {
			uint8_t b = reg_read(REG_RBR);
			if (b < 0x80) {
				STRESS_CHECK(got2, got2 == 0, goto out); /* phase 1 after phase 2 */
				continue;
			}
			STRESS_CHECK(got2, b == 0x80 + got2 % 0x80, goto out);
			got2++;
		}
		if (got2 == PHASE2)
			break;
		clock_gettime(CLOCK_MONOTONIC, &now);
		STRESS_CHECK(got2, now.tv_sec - start.tv_sec < 20, break); /* input stalled */
		nanosleep(&pause, NULL);
	}
out:
	atomic_store(&give_up, true);
	pthread_join(t, NULL);
	printf("stress: console: %u KiB under %u disruptions, then %u of %u bytes in order\n",
	       PHASE1 >> 10, disruptions, got2, PHASE2);
}

int main(void)
{
	stress_loop_init(&loop);
	int fds[2];
	int irq = eventfd(0, EFD_NONBLOCK);
	if (pipe(fds) || irq < 0) {
		perror("stress: pipe");
		return 1;
	}
	pipe_w = fds[1];
	fcntl(pipe_w, F_SETFL, O_NONBLOCK);
	uart_init(&uart, irq, -1);
	reg_write(REG_FCR, 0x01);
	reg_write(REG_MCR, 0x0B);
	console_init(&con, &loop, &uart, &stress_ctl, fds[0]);
	console_start(&con);
	if (loop_start(&loop)) {
		fprintf(stderr, "stress: loop_start failed\n");
		return 1;
	}
	stress_run("console input under FIFO clears and loopback", input_never_stops);
	loop_stop(&loop);
	close(fds[1]);
	close(fds[0]);
	uart_destroy(&uart);
	loop_destroy(&loop);
	return stress_report();
}

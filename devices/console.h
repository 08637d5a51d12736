/*
 * The host side of the serial console: reads the host's stdin on the loop
 * thread and feeds the UART, puts a terminal into raw mode (and back), and
 * turns Ctrl-A x into a request to quit.
 */
#ifndef KESTREL_CONSOLE_H
#define KESTREL_CONSOLE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <termios.h>

#include "devices/uart.h"
#include "vmm/loop.h"
#include "vmm/vm_ctl.h"

#define CONSOLE_ESCAPE 0x01 /* Ctrl-A */

struct console {
	struct loop *loop;
	struct uart *uart;
	struct vm_ctl *ctl;
	int in_fd;
	bool is_tty;
	bool raw;
	struct termios saved;
	struct loop_op read_op;
	struct loop_task resume;
	atomic_bool waiting_for_room;
	uint8_t buf[256];
	size_t pending_off, pending_len;
	bool after_escape;
};

/* Main thread: puts a terminal stdin into raw mode; restored by console_restore. */
void console_init(struct console *c, struct loop *loop, struct uart *uart, struct vm_ctl *ctl,
		  int in_fd);
/* Main thread: starts reading (the loop picks it up when it runs). */
void console_start(struct console *c);
/* Any thread, idempotent: gives the terminal back its saved mode. */
void console_restore(struct console *c);

/*
 * Escape handling, exposed for unit tests: rewrites buf[0..len) in place,
 * dropping escape sequences; returns the new length and sets *quit on Ctrl-A x.
 */
size_t console_filter(bool *after_escape, uint8_t *buf, size_t len, bool *quit);

#endif

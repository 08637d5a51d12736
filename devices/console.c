#include "devices/console.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>

#include "vmm/container_of.h"
#include "vmm/log.h"

size_t console_filter(bool *after_escape, uint8_t *buf, size_t len, bool *quit)
{
	size_t out = 0;
	for (size_t i = 0; i < len; i++) {
		uint8_t b = buf[i];
		if (*after_escape) {
			*after_escape = false;
			if (b == 'x' || b == 'X') {
				*quit = true;
				return out;
			}
			if (b == CONSOLE_ESCAPE)
				buf[out++] = b; /* Ctrl-A Ctrl-A sends one Ctrl-A */
			/* any other key after Ctrl-A is dropped */
		} else if (b == CONSOLE_ESCAPE) {
			*after_escape = true;
		} else {
			buf[out++] = b;
		}
	}
	return out;
}

static void submit_read(struct console *c)
{
	io_uring_prep_read(loop_sqe(c->loop, &c->read_op), c->in_fd, c->buf, sizeof(c->buf), -1);
}

/* Pushes what is pending into the UART; true when all of it went. */
static bool push_pending(struct console *c)
{
	size_t n = uart_rx_push(c->uart, c->buf + c->pending_off, c->pending_len);
	c->pending_off += n;
	c->pending_len -= n;
	return c->pending_len == 0;
}

static void wait_for_room(struct console *c)
{
	atomic_store(&c->waiting_for_room, true);
	/* The guest may have drained the UART between the push and the flag. */
	if (push_pending(c) && atomic_exchange(&c->waiting_for_room, false))
		submit_read(c);
}

static void read_done(struct loop_op *op, int res)
{
	struct console *c = container_of(op, struct console, read_op);
	if (res == 0)
		return; /* end of input: the guest keeps running without it */
	if (res < 0) {
		if (res == -EINTR || res == -EAGAIN) {
			submit_read(c);
			return;
		}
		log_err("console: reading input failed: %s", strerror(-res));
		return;
	}
	size_t len = (size_t)res;
	if (c->is_tty) {
		bool quit = false;
		len = console_filter(&c->after_escape, c->buf, len, &quit);
		if (quit) {
			c->ctl->stop(c->ctl, VM_QUIT, NULL);
			return;
		}
	}
	c->pending_off = 0;
	c->pending_len = len;
	if (push_pending(c))
		submit_read(c);
	else
		wait_for_room(c);
}

static void resume_fn(struct loop_task *t)
{
	struct console *c = container_of(t, struct console, resume);
	if (push_pending(c))
		submit_read(c);
	else
		wait_for_room(c);
}

/* vCPU thread: the guest emptied the UART's receive buffer. */
static void uart_drained(void *ctx)
{
	struct console *c = ctx;
	if (atomic_exchange(&c->waiting_for_room, false))
		loop_call(c->loop, &c->resume);
}

static void start_fn(struct loop_task *t)
{
	struct console *c = container_of(t, struct console, resume);
	c->resume.fn = resume_fn; /* the task is reused to resume after a full UART */
	submit_read(c);
}

void console_init(struct console *c, struct loop *loop, struct uart *uart, struct vm_ctl *ctl,
		  int in_fd)
{
	memset(c, 0, sizeof(*c));
	c->loop = loop;
	c->uart = uart;
	c->ctl = ctl;
	c->in_fd = in_fd;
	c->read_op.cb = read_done;
	atomic_init(&c->waiting_for_room, false);
	c->is_tty = isatty(in_fd);
	if (c->is_tty && tcgetattr(in_fd, &c->saved) == 0) {
		struct termios raw = c->saved;
		cfmakeraw(&raw);
		if (tcsetattr(in_fd, TCSANOW, &raw) == 0)
			c->raw = true;
	}
}

void console_start(struct console *c)
{
	c->uart->rx_drained = uart_drained;
	c->uart->rx_drained_ctx = c;
	c->resume.fn = start_fn;
	loop_call(c->loop, &c->resume);
}

void console_restore(struct console *c)
{
	if (c->raw) {
		tcsetattr(c->in_fd, TCSANOW, &c->saved);
		c->raw = false;
	}
}

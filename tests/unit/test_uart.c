#include <criterion/criterion.h>
#include <fcntl.h>
#include <sys/eventfd.h>
#include <string.h>
#include <unistd.h>

#include "devices/console.h"
#include "devices/uart.h"

static struct uart u;
static int irq, out[2];

static void setup(void)
{
	irq = eventfd(0, EFD_NONBLOCK);
	cr_assert_eq(pipe2(out, O_NONBLOCK), 0);
	uart_init(&u, irq, out[1]);
}

static void teardown(void)
{
	uart_destroy(&u);
	close(irq);
	close(out[0]);
	close(out[1]);
}

TestSuite(uart, .init = setup, .fini = teardown);

static uint8_t rd(unsigned reg)
{
	uint8_t v;
	uart_bus_ops.read(&u, reg, &v, 1);
	return v;
}

static void wr(unsigned reg, uint8_t v)
{
	uart_bus_ops.write(&u, reg, &v, 1);
}

static uint64_t irqs(void)
{
	uint64_t n = 0;
	if (read(irq, &n, sizeof(n)) != sizeof(n))
		return 0;
	return n;
}

Test(uart, ier_reads_back_and_scratch_works)
{
	wr(1, 0x00);
	cr_assert_eq(rd(1), 0x00);
	wr(1, 0x0F);
	cr_assert_eq(rd(1), 0x0F);
	wr(7, 0xA5);
	cr_assert_eq(rd(7), 0xA5);
}

Test(uart, loopback_mirrors_modem_lines_and_data)
{
	/* What Linux's 8250 probe checks: MCR loop|RTS|OUT2 reads MSR 0x90. */
	wr(4, 0x1A);
	cr_assert_eq(rd(6) & 0xF0, 0x90);
	wr(0, 'Z');
	cr_assert(rd(5) & 0x01, "looped byte is received");
	cr_assert_eq(rd(0), 'Z');
	char buf[4];
	cr_assert_lt(read(out[0], buf, sizeof(buf)), 1, "nothing left the UART");
}

Test(uart, divisor_latch)
{
	wr(3, 0x80);
	wr(0, 0x01);
	wr(1, 0x00);
	cr_assert_eq(rd(0), 0x01);
	wr(3, 0x03);
	cr_assert_eq(rd(1), 0x00, "IER, not DLM");
}

Test(uart, output_is_flushed_on_newline)
{
	wr(0, 'h');
	wr(0, 'i');
	char buf[8] = {0};
	cr_assert_lt(read(out[0], buf, sizeof(buf)), 1, "buffered until a line ends");
	wr(0, '\n');
	cr_assert_eq(read(out[0], buf, sizeof(buf)), 3);
	cr_assert_str_eq(buf, "hi\n");
}

Test(uart, rx_interrupt_and_iir)
{
	cr_assert_eq(rd(2) & 0x0F, 0x01, "no interrupt");
	wr(1, 0x01); /* RX interrupt */
	irqs();
	const uint8_t in[] = "ab";
	cr_assert_eq(uart_rx_push(&u, in, 2), 2);
	cr_assert_eq(irqs(), 1, "one edge for new data");
	cr_assert_eq(rd(2) & 0x0F, 0x04);
	cr_assert_eq(rd(0), 'a');
	cr_assert_eq(rd(0), 'b');
	cr_assert_eq(rd(5) & 0x01, 0, "data ready clears");
	cr_assert_eq(rd(2) & 0x0F, 0x01);
}

Test(uart, thre_interrupt_on_enable_and_ack_on_iir_read)
{
	irqs();
	wr(1, 0x02);
	cr_assert_eq(irqs(), 1);
	cr_assert_eq(rd(2) & 0x0F, 0x02);
	cr_assert_eq(rd(2) & 0x0F, 0x01, "reading IIR acknowledged THRE");
}

Test(uart, rx_buffer_bounds)
{
	static uint8_t big[UART_RX_SIZE + 100];
	cr_assert_eq(uart_rx_push(&u, big, sizeof(big)), UART_RX_SIZE);
	cr_assert_eq(uart_rx_push(&u, big, 1), 0);
}

static int drained_calls;
static void on_drained(void *ctx) { drained_calls++; }

Test(uart, clearing_the_fifo_or_leaving_loopback_tells_the_waiting_console)
{
	/* Linux's 8250 driver does both at probe and open; input must not stall for good. */
	drained_calls = 0;
	u.rx_drained = on_drained;
	uint8_t buf[2048];
	memset(buf, 'x', sizeof(buf));
	cr_assert_lt(uart_rx_push(&u, buf, sizeof(buf)), sizeof(buf), "the FIFO filled up");
	wr(2, 0x07); /* FCR: enable, clear RX and TX */
	cr_assert_eq(drained_calls, 1, "a FIFO clear left the console waiting");
	cr_assert_eq(rd(5) & 1, 0, "no data ready after the clear");
	wr(4, 0x10); /* loopback on: host input is not taken */
	cr_assert_eq(uart_rx_push(&u, buf, 4), 0);
	wr(4, 0x0B); /* loopback off */
	cr_assert_eq(drained_calls, 2, "leaving loopback left the console waiting");
	cr_assert_eq(uart_rx_push(&u, buf, 4), 4);
	wr(4, 0x0B); /* no change: no call */
	cr_assert_eq(drained_calls, 2);
}

Test(console, escape_sequences)
{
	bool esc = false, quit = false;
	uint8_t a[] = {'l', 's', 0x01, 0x01, '\r'};
	cr_assert_eq(console_filter(&esc, a, sizeof(a), &quit), 4);
	cr_assert_eq(a[2], 0x01, "Ctrl-A Ctrl-A sends one Ctrl-A");
	cr_assert_not(quit);
	uint8_t b[] = {'x', 0x01};
	cr_assert_eq(console_filter(&esc, b, sizeof(b), &quit), 1);
	cr_assert(esc, "escape pending across reads");
	uint8_t c[] = {'x', 'y'};
	cr_assert_eq(console_filter(&esc, c, sizeof(c), &quit), 0);
	cr_assert(quit);
}

static char lines[4][UART_LINE_MAX + 1];
static unsigned nlines;
static void on_line(void *ctx, const char *line, size_t len)
{
	cr_assert_lt(nlines, 4);
	memcpy(lines[nlines], line, len);
	lines[nlines++][len] = '\0';
}

static void say(const char *s)
{
	while (*s)
		wr(0, (uint8_t)*s++);
}

Test(uart, whole_output_lines_reach_the_line_hook)
{
	u.line_out = on_line;
	nlines = 0;
	say("DUR");
	wr(1, 0x02); /* the driver rewrites IER mid-line: output is flushed, the line goes on */
	say("ABLE 1\r\n");
	cr_assert_eq(nlines, 1);
	cr_assert_str_eq(lines[0], "DURABLE 1", "one line, without CR and LF");
	wr(4, 0x10); /* loopback: what is sent goes back in, not out */
	say("looped\n");
	wr(4, 0x00);
	cr_assert_eq(nlines, 1);
	for (unsigned i = 0; i < UART_LINE_MAX + 10; i++)
		wr(0, 'x');
	say("\nok\n");
	cr_assert_eq(nlines, 2, "a line longer than the buffer is not passed on");
	cr_assert_str_eq(lines[1], "ok", "and the next one is whole");
	char buf[1024];
	while (read(out[0], buf, sizeof(buf)) > 0) {
	}
}

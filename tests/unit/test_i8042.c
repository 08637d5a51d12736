/*
 * The keyboard controller as Linux's i8042 and atkbd drivers probe it, and
 * Ctrl-Alt-Del as the API presses it.
 */
#include <criterion/criterion.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "devices/i8042.h"

static enum vm_stop stopped;
static void rec_stop(struct vm_ctl *c, enum vm_stop why, const char *msg) { (void)c; (void)msg; stopped = why; }
static struct vm_ctl ctl = {.stop = rec_stop};
static struct i8042 k;

static void cmd(uint8_t b) { i8042_cmd_bus_ops.write(&k, 0, &b, 1); }
static void data(uint8_t b) { i8042_data_bus_ops.write(&k, 0, &b, 1); }
static uint8_t status(void) { uint8_t b; i8042_cmd_bus_ops.read(&k, 0, &b, 1); return b; }
static uint8_t rd(void) { uint8_t b; i8042_data_bus_ops.read(&k, 0, &b, 1); return b; }

Test(i8042, linux_probe_sequence)
{
	i8042_init(&k, &ctl, -1);
	cr_assert_eq(status() & 1, 0, "nothing to read at first");
	cmd(0x20);
	cr_assert_eq(status() & 1, 1);
	uint8_t ctr = rd();
	cr_assert_eq(ctr & 0x41, 0x41, "keyboard interrupt and translation on: %#x", ctr);
	cmd(0x60);
	data(ctr & ~0x01);
	cmd(0x20);
	cr_assert_eq(rd(), ctr & ~0x01, "the configuration byte is written back");
	cmd(0xAA);
	cr_assert_eq(rd(), 0x55, "self test");
	cmd(0xAB);
	cr_assert_eq(rd(), 0x00, "keyboard interface test");
	data(0xF2);
	cr_assert_eq(rd(), 0xFA);
	cr_assert_eq(rd(), 0xAB);
	cr_assert_eq(rd(), 0x41, "an MF2 keyboard, translated");
	data(0xED);
	cr_assert_eq(rd(), 0xFA);
	data(0x07);
	cr_assert_eq(rd(), 0xFA, "the LEDs' parameter is acknowledged too");
	data(0xFF);
	cr_assert_eq(rd(), 0xFA);
	cr_assert_eq(rd(), 0xAA, "reset: self test passed");
	cr_assert_eq(status() & 1, 0);
	i8042_destroy(&k);
}

Test(i8042, ctrl_alt_del_and_its_interrupts)
{
	int fd = eventfd(0, EFD_NONBLOCK);
	i8042_init(&k, &ctl, fd);
	i8042_ctrl_alt_del(&k);
	static const uint8_t want[] = {0x1D, 0x38, 0xE0, 0x53, 0xE0, 0xD3, 0xB8, 0x9D};
	for (unsigned i = 0; i < sizeof(want); i++) {
		uint64_t n = 0;
		cr_assert_eq(read(fd, &n, sizeof(n)), (ssize_t)sizeof(n), "an interrupt for byte %u", i);
		cr_assert_eq(status() & 1, 1);
		cr_assert_eq(rd(), want[i], "byte %u", i);
	}
	uint64_t n;
	cr_assert_lt(read(fd, &n, sizeof(n)), 0, "no interrupt with nothing to read");
	/* Without translation, scan code set 2. */
	cmd(0x60);
	data(0x05);
	i8042_ctrl_alt_del(&k);
	cr_assert_eq(rd(), 0x14);
	/* Bounded: a guest that never reads cannot grow it. */
	for (int i = 0; i < 100; i++)
		i8042_ctrl_alt_del(&k);
	cr_assert_eq(k.count, I8042_OUT_MAX);
	cr_assert_gt(k.dropped, 0);
	close(fd);
	i8042_destroy(&k);
}

Test(i8042, fe_pulses_the_reset_line)
{
	i8042_init(&k, &ctl, -1);
	stopped = VM_RUNNING;
	cmd(0xD1);
	data(0xFE); /* an output-port byte, not the reset command */
	cr_assert_eq(stopped, VM_RUNNING);
	cmd(0xFE);
	cr_assert_eq(stopped, VM_REBOOT);
	i8042_destroy(&k);
}

/*
 * Boots Debian's stock kernel in kestrel on real KVM: each kernel format,
 * one and two vCPUs, power-off, reboot and panic.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "tests/integration/harness.h"

#define BOOT_TIMEOUT 240
#define MARKER "KESTREL-GUEST-INIT"

/*
 * What the guest reports. No quotes: the kernel command line does not keep
 * them. The patterns match the kernel's "ACPI Error", "ACPI BIOS Error" and
 * "ACPI Warning" lines, and the brackets keep them from matching their own
 * text, which the kernel logs too (as init's arguments).
 */
#define REPORT                                                                              \
	"echo CPUS=$(grep -c ^processor /proc/cpuinfo); "                                   \
	"echo ACPI_ERRORS=$(dmesg | grep -c -e ACPI.[E]rror -e ACPI.BIOS.[E]rror -e ACPI.[W]arning); " \
	"echo PVPANIC=$(ls /sys/bus/platform/drivers/pvpanic-mmio | grep -c QEMU0001); "     \
	"echo TTYS0_IRQ=$(grep -c ttyS0 /proc/interrupts)"

static void boot_and_check(const char *kernel, const char *cpus, const char *entry,
			   const char *expect_format)
{
	char cmdline[1024];
	snprintf(cmdline, sizeof(cmdline), "console=ttyS0 panic=-1 quiet -- %s", REPORT);
	const char *args[16] = {"--kernel", guest_file(kernel), "--initrd", guest_file("initrd.img"),
				"--cpus", cpus, "--cmdline", cmdline, "--stats"};
	unsigned n = 9;
	if (entry) {
		args[n++] = "--boot-entry";
		args[n++] = entry;
	}
	args[n] = NULL;
	struct run r = run_kestrel(args, BOOT_TIMEOUT);
	cr_assert_not(r.timed_out, "guest did not power off in %ds:\n%s", BOOT_TIMEOUT, r.out);
	cr_assert(strstr(r.out, MARKER), "no init marker:\n%s", r.out);
	cr_assert_eq(r.status, 0, "exit %d:\n%s", r.status, r.out);
	cr_assert(strstr(r.out, "kestrel: guest powered off"), "%s", r.out);
	cr_assert(strstr(r.out, expect_format), "boot format '%s' not used:\n%s", expect_format, r.out);

	char v[32];
	cr_assert_not_null(guest_value(&r, "CPUS", v, sizeof(v)), "%s", r.out);
	cr_assert_str_eq(v, cpus, "guest sees %s CPUs, want %s", v, cpus);
	cr_assert_not_null(guest_value(&r, "ACPI_ERRORS", v, sizeof(v)), "%s", r.out);
	cr_assert_str_eq(v, "0", "ACPI errors or warnings in the guest log:\n%s", r.out);
	cr_assert_not_null(guest_value(&r, "PVPANIC", v, sizeof(v)), "%s", r.out);
	cr_assert_str_eq(v, "1", "pvpanic-mmio did not bind QEMU0001:\n%s", r.out);
	cr_assert_not_null(guest_value(&r, "TTYS0_IRQ", v, sizeof(v)), "%s", r.out);
	cr_assert_str_eq(v, "1", "ttyS0 has no interrupt line:\n%s", r.out);
	run_free(&r);
}

Test(boot, bzimage_1cpu, .timeout = RUN_ATTEMPTS * BOOT_TIMEOUT + 30)
{
	boot_and_check("vmlinuz", "1", NULL, "boot format bzImage");
}

Test(boot, bzimage_2cpus, .timeout = RUN_ATTEMPTS * BOOT_TIMEOUT + 30)
{
	boot_and_check("vmlinuz", "2", NULL, "boot format bzImage");
}

Test(boot, vmlinux_pvh_1cpu, .timeout = RUN_ATTEMPTS * BOOT_TIMEOUT + 30)
{
	boot_and_check("vmlinux", "1", NULL, "PVH entry");
}

Test(boot, vmlinux_pvh_2cpus, .timeout = RUN_ATTEMPTS * BOOT_TIMEOUT + 30)
{
	boot_and_check("vmlinux", "2", NULL, "PVH entry");
}

Test(boot, vmlinux_64bit_entry_1cpu, .timeout = RUN_ATTEMPTS * BOOT_TIMEOUT + 30)
{
	boot_and_check("vmlinux", "1", "linux64", "64-bit entry");
}

Test(boot, vmlinux_64bit_entry_2cpus, .timeout = RUN_ATTEMPTS * BOOT_TIMEOUT + 30)
{
	boot_and_check("vmlinux", "2", "linux64", "64-bit entry");
}

static struct run boot_cmd(const char *cmd)
{
	char cmdline[512];
	snprintf(cmdline, sizeof(cmdline), "console=ttyS0 panic=-1 quiet -- %s", cmd);
	const char *args[] = {"--kernel", guest_file("vmlinuz"), "--initrd", guest_file("initrd.img"),
			      "--cmdline", cmdline, NULL};
	return run_kestrel(args, BOOT_TIMEOUT);
}

Test(boot, reboot_exits_zero_with_a_message, .timeout = RUN_ATTEMPTS * BOOT_TIMEOUT + 30)
{
	struct run r = boot_cmd("reboot -f");
	cr_assert_not(r.timed_out, "reboot hung:\n%s", r.out);
	cr_assert(strstr(r.out, MARKER), "%s", r.out);
	cr_assert_eq(r.status, 0, "exit %d:\n%s", r.status, r.out);
	cr_assert(strstr(r.out, "guest requested a reboot"), "%s", r.out);
	run_free(&r);
}

Test(boot, panic_exits_nonzero_with_a_message, .timeout = RUN_ATTEMPTS * BOOT_TIMEOUT + 30)
{
	/* panic=-1 would reboot at once; pvpanic must win that race. */
	struct run r = boot_cmd("echo c > /proc/sysrq-trigger");
	cr_assert_not(r.timed_out, "panic hung:\n%s", r.out);
	cr_assert(strstr(r.out, MARKER), "%s", r.out);
	cr_assert_eq(r.status, 1, "exit %d:\n%s", r.status, r.out);
	cr_assert(strstr(r.out, "guest panicked"), "%s", r.out);
	cr_assert_null(strstr(r.out, "guest requested a reboot"), "%s", r.out);
	run_free(&r);
}

Test(boot, console_output_goes_to_a_file, .timeout = RUN_ATTEMPTS * BOOT_TIMEOUT + 30)
{
	const char *path = scratch_path("console.log");
	char console[1100];
	snprintf(console, sizeof(console), "%s", path);
	const char *args[] = {"--kernel", guest_file("vmlinuz"), "--initrd", guest_file("initrd.img"),
			      "--console", console, "--cmdline",
			      "console=ttyS0 panic=-1 quiet -- echo FILE_CONSOLE_OK", NULL};
	struct run r = run_kestrel(args, BOOT_TIMEOUT);
	cr_assert_eq(r.status, 0, "%s", r.out);
	cr_assert_null(strstr(r.out, MARKER), "guest output leaked to stdout");
	FILE *f = fopen(path, "r");
	cr_assert_not_null(f);
	static char buf[65536];
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = 0;
	fclose(f);
	remove(path);
	cr_assert(strstr(buf, MARKER), "%s", buf);
	cr_assert(strstr(buf, "FILE_CONSOLE_OK"), "%s", buf);
	run_free(&r);
}

/* Counts the regular files in dir whose names start with prefix. */
static int count_files(const char *dir, const char *prefix)
{
	char cmd[1200];
	snprintf(cmd, sizeof(cmd), "ls -1 '%s' 2>/dev/null | grep -c '^%s' ", dir, prefix);
	FILE *p = popen(cmd, "r");
	int n = -1;
	if (p) {
		if (fscanf(p, "%d", &n) != 1)
			n = -1;
		pclose(p);
	}
	return n;
}

#define PVH "boot format ELF vmlinux (PVH entry)"

/* Boots args to its power-off; kestrel said `said` (if given), booted `format`, and init printed `marker`. */
static void cached_boot(const char *const *args, const char *said, const char *format, const char *marker)
{
	struct run r = run_kestrel(args, BOOT_TIMEOUT);
	cr_assert_eq(r.status, 0, "%s", r.out);
	if (said)
		cr_assert(strstr(r.out, said), "no '%s':\n%s", said, r.out);
	cr_assert(strstr(r.out, format), "not '%s':\n%s", format, r.out);
	cr_assert(strstr(r.out, marker), "%s", r.out);
	run_free(&r);
}

Test(boot, kernel_cache_decompresses_once_then_boots_the_cached_vmlinux,
     .timeout = 2 * RUN_ATTEMPTS * BOOT_TIMEOUT + 60)
{
	char dir[1100];
	snprintf(dir, sizeof(dir), "%s", scratch_path("kernel-cache"));
	const char *args[] = {"--kernel", guest_file("vmlinuz"), "--initrd", guest_file("initrd.img"),
			      "--kernel-cache", dir, "--stats", "--cmdline",
			      "console=ttyS0 panic=-1 quiet -- echo CACHED_BOOT_OK", NULL};
	cached_boot(args, "decompressed the kernel once", PVH, "CACHED_BOOT_OK");
	cr_assert_eq(count_files(dir, "vmlinux-"), 1, "one cache entry");

	/* The cached file is exactly the vmlinux the builder cut from the same bzImage. */
	char cmd[3400];
	snprintf(cmd, sizeof(cmd), "cmp -s %s/vmlinux-* '%s'", dir, guest_file("vmlinux"));
	cr_assert_eq(system(cmd), 0, "cached vmlinux differs from the extracted one");

	struct run r = run_kestrel(args, BOOT_TIMEOUT);
	cr_assert_eq(r.status, 0, "%s", r.out);
	cr_assert_null(strstr(r.out, "decompressed the kernel once"), "decompressed again:\n%s", r.out);
	cr_assert(strstr(r.out, PVH), "%s", r.out);
	cr_assert(strstr(r.out, "CACHED_BOOT_OK"), "%s", r.out);
	cr_assert_eq(count_files(dir, "vmlinux-"), 1, "still one entry, no temporaries left");
	run_free(&r);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	cr_assert_eq(system(cmd), 0);
}

/*
 * The cache is on by default, under $XDG_CACHE_HOME: the first boot makes
 * an entry and boots it; a damaged entry is made again; and a default
 * place that cannot be made only costs speed (the bzImage boots as it is).
 */
Test(boot, the_kernel_cache_is_on_by_default_and_mends_a_damaged_entry,
     .timeout = 3 * RUN_ATTEMPTS * BOOT_TIMEOUT + 60)
{
	char xdg[1100], entries[1200], cmd[3400];
	snprintf(xdg, sizeof(xdg), "%s", scratch_path("xdg-cache"));
	snprintf(entries, sizeof(entries), "%s/kestrel/kernels", xdg);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", xdg);
	cr_assert_eq(system(cmd), 0);
	setenv("XDG_CACHE_HOME", xdg, 1);
	setenv("KESTREL_HARNESS_DEFAULT_CACHE", "1", 1);
	const char *args[] = {"--kernel", guest_file("vmlinuz"), "--initrd", guest_file("initrd.img"),
			      "--stats", "--cmdline", "console=ttyS0 panic=-1 quiet -- echo DEFAULT_CACHE_OK",
			      NULL};
	cached_boot(args, "decompressed the kernel once", PVH, "DEFAULT_CACHE_OK");
	cr_assert_eq(count_files(entries, "vmlinux-"), 1, "one entry in %s", entries);

	/* Cut the entry in half, as a full disk or a crash while copying might. */
	snprintf(cmd, sizeof(cmd), "f=$(ls '%s'/vmlinux-*) && truncate -s $(($(stat -c %%s \"$f\") / 2)) \"$f\"",
		 entries);
	cr_assert_eq(system(cmd), 0);
	cached_boot(args, "is not a whole vmlinux; making it again", PVH, "DEFAULT_CACHE_OK");
	snprintf(cmd, sizeof(cmd), "cmp -s '%s'/vmlinux-* '%s'", entries, guest_file("vmlinux"));
	cr_assert_eq(system(cmd), 0, "the entry made again differs from the vmlinux");

	/* A default place that cannot be made: a warning, and the bzImage boots. */
	setenv("XDG_CACHE_HOME", "/proc/kestrel-no-cache-here", 1);
	cached_boot(args, "booting the bzImage without the cache", "boot format bzImage", "DEFAULT_CACHE_OK");
	unsetenv("XDG_CACHE_HOME");
	unsetenv("KESTREL_HARNESS_DEFAULT_CACHE");
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", xdg);
	cr_assert_eq(system(cmd), 0);
}

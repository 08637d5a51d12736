/*
 * kestrel: command line → config → VM → exit status. The only place that exits.
 */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "boot/bzimage.h"
#include "boot/linux.h"
#include "devices/blk.h"
#include "vmm/config.h"
#include "vmm/host.h"
#include "vmm/kernel_cache.h"
#include "vmm/log.h"
#include "vmm/vcpu.h"
#include "vmm/vm.h"

#define EXIT_RUNTIME 1
#define EXIT_USAGE 2

struct input_file {
	int fd;
	size_t len;
	const uint8_t *map; /* only for the kernel, whose headers are parsed */
};

/*
 * Opens a non-empty regular file (and maps it when map is set); a message
 * names the file and the problem on failure.
 */
static int open_input(const char *what, const char *path, bool map, struct input_file *f)
{
	f->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (f->fd < 0) {
		log_err("%s '%s': %s", what, path, strerror(errno));
		return -1;
	}
	struct stat st;
	if (fstat(f->fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		log_err("%s '%s': not a regular file", what, path);
		return -1;
	}
	if (st.st_size == 0) {
		log_err("%s '%s': file is empty", what, path);
		return -1;
	}
	f->len = (size_t)st.st_size;
	if (map) {
		void *p = mmap(NULL, f->len, PROT_READ, MAP_PRIVATE, f->fd, 0);
		if (p == MAP_FAILED) {
			log_err("%s '%s': %s", what, path, strerror(errno));
			return -1;
		}
		f->map = p;
	}
	return 0;
}

static void close_input(struct input_file *f)
{
	if (f->map)
		munmap((void *)f->map, f->len);
	if (f->fd >= 0)
		close(f->fd);
	f->map = NULL;
	f->fd = -1;
}

int main(int argc, char **argv)
{
	static struct vm vm; /* large; static keeps it off the stack */
	struct timespec t_main;
	clock_gettime(CLOCK_MONOTONIC, &t_main);

	struct vm_config cfg;
	char err[512];
	switch (config_parse(argc, argv, &cfg, err, sizeof(err))) {
	case CONFIG_EXIT_OK: return 0;
	case CONFIG_ERROR: log_err("%s", err); return EXIT_USAGE;
	case CONFIG_OK: break;
	}

	/* Disks first: a bad image, lock or cache mode stops us before anything else. */
	static struct blk disks[CONFIG_MAX_DISKS];
	for (unsigned i = 0; i < cfg.ndisks; i++) {
		if (blk_open(&disks[i], &cfg.disks[i], err, sizeof(err))) {
			log_err("%s", err);
			return EXIT_USAGE;
		}
	}

	struct input_file kernel = {.fd = -1}, initrd = {.fd = -1};
	if (open_input("kernel", cfg.kernel, true, &kernel))
		return EXIT_USAGE;
	if (cfg.initrd && open_input("initrd", cfg.initrd, false, &initrd))
		return EXIT_USAGE;
	if (cfg.kernel_cache && bzimage_probe(kernel.map, kernel.len)) {
		char cached[4096];
		if (kernel_cache_get(cfg.kernel_cache, kernel.fd, kernel.map, kernel.len, cached,
				     sizeof(cached), err, sizeof(err))) {
			log_err("%s", err);
			return EXIT_USAGE;
		}
		close_input(&kernel);
		if (open_input("cached kernel", cached, true, &kernel))
			return EXIT_USAGE;
	}

	struct vm_files files = {
		.kernel = kernel.map, .kernel_len = kernel.len, .kernel_fd = kernel.fd,
		.initrd_fd = initrd.fd, .initrd_len = initrd.len,
		.console_out = -1, .console_in = -1,
	};
	for (unsigned i = 0; i < cfg.ndisks; i++)
		files.disks[i] = &disks[i];
	switch (cfg.console) {
	case CONSOLE_STDIO: files.console_out = STDOUT_FILENO; files.console_in = STDIN_FILENO; break;
	case CONSOLE_NONE: break;
	case CONSOLE_FILE:
		files.console_out = open(cfg.console_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (files.console_out < 0) {
			log_err("--console '%s': %s", cfg.console_path, strerror(errno));
			return EXIT_USAGE;
		}
		break;
	}

	/* The whole configuration is checked before /dev/kvm: bad input is exit 2 on any host. */
	struct linux_image probe = {.kernel = kernel.map, .kernel_len = kernel.len,
				    .entry = cfg.boot_entry};
	if (linux_check(&probe, cfg.mem_size, err, sizeof(err))) {
		log_err("%s", err);
		return EXIT_USAGE;
	}

	if (host_check_kvm(err, sizeof(err))) {
		log_err("%s", err);
		return EXIT_RUNTIME;
	}

	/*
	 * Every thread inherits this mask: SIGINT/SIGTERM/SIGHUP are read from
	 * a signalfd on the loop, and only vCPU threads take the kick signal.
	 */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, VCPU_KICK_SIGNAL);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	if (vcpu_init_signals()) {
		log_err("cannot install the vCPU kick signal handler");
		return EXIT_RUNTIME;
	}

	enum vm_error_kind kind;
	int ret = vm_create(&vm, &cfg, &files, err, sizeof(err), &kind);
	vm.t_main = t_main; /* after vm_create, which zeroes vm */
	if (ret) {
		log_err("%s", err);
		vm_destroy(&vm);
		return kind == VM_ERR_CONFIG ? EXIT_USAGE : EXIT_RUNTIME;
	}
	/* The guest image is in guest memory now; the files are no longer needed. */
	close_input(&kernel);
	close_input(&initrd);

	enum vm_stop why = vm_run(&vm);
	if (vm.has_console_in)
		console_restore(&vm.console);
	if (cfg.stats)
		vm_print_stats(&vm);

	int status;
	switch (why) {
	case VM_POWEROFF: log_info("guest powered off"); status = 0; break;
	case VM_REBOOT: log_info("guest requested a reboot; exiting"); status = 0; break;
	case VM_QUIT: log_info("quit from the console (Ctrl-A x)"); status = 0; break;
	case VM_PANIC: log_err("%s", vm.stop_msg[0] ? vm.stop_msg : "guest panicked"); status = EXIT_RUNTIME; break;
	case VM_SIGNAL: log_err("%s", vm.stop_msg); status = EXIT_RUNTIME; break;
	default: log_err("runtime failure: %s", vm.stop_msg); status = EXIT_RUNTIME; break;
	}
	if (vm.final_flush_failed && status == 0) {
		log_err("a disk could not be flushed at exit: what the guest wrote may not be durable");
		status = EXIT_RUNTIME;
	}
	vm_destroy(&vm);
	for (unsigned i = 0; i < cfg.ndisks; i++)
		blk_close(&disks[i]);
	if (files.console_out > STDERR_FILENO)
		close(files.console_out);
	return status;
}

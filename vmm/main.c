/*
 * kestrel: command line → config → VM → exit status. The only place that exits.
 */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <jansson.h>
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
#include "vmm/jail.h"
#include "vmm/kernel_cache.h"
#include "vmm/log.h"
#include "vmm/vcpu.h"
#include "vmm/vm.h"
#include "api/api.h"
#include "api/fc_config.h"

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
static int open_input(const char *what, const char *path, bool map, struct input_file *f,
		      char *err, size_t errlen)
{
	f->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (f->fd < 0) {
		snprintf(err, errlen, "%s '%s': %s", what, path, strerror(errno));
		return -1;
	}
	struct stat st;
	if (fstat(f->fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s '%s': not a regular file", what, path);
		return -1;
	}
	if (st.st_size == 0) {
		snprintf(err, errlen, "%s '%s': file is empty", what, path);
		return -1;
	}
	f->len = (size_t)st.st_size;
	if (map) {
		void *p = mmap(NULL, f->len, PROT_READ, MAP_PRIVATE, f->fd, 0);
		if (p == MAP_FAILED) {
			snprintf(err, errlen, "%s '%s': %s", what, path, strerror(errno));
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

/*
 * Log and metrics files the command line names, opened before a jail (they
 * are host paths, as everything on the command line is); prepare_boot's
 * opens of the same path use these.
 */
static struct {
	const char *path;
	int fd;
} preopened[2] = {{NULL, -1}, {NULL, -1}};

static int open_output(const char *path)
{
	for (unsigned i = 0; i < 2; i++)
		if (preopened[i].path && !strcmp(preopened[i].path, path))
			return fcntl(preopened[i].fd, F_DUPFD_CLOEXEC, 0);
	/* A FIFO must have its reader already (ENXIO otherwise), as Kata's does. */
	return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NONBLOCK, 0644);
}

/* What a configuration needs opened before the VM is built. */
struct boot {
	struct blk disks[CONFIG_MAX_DISKS];
	unsigned int ndisks; /* opened */
	struct input_file kernel, initrd;
	struct vm_files files;
	int log_fd;
	int metrics_fd; /* --metrics-path or PUT /metrics, or -1 */
};

static void release_boot(struct boot *b)
{
	for (unsigned i = 0; i < b->ndisks; i++)
		blk_close(&b->disks[i]);
	b->ndisks = 0;
	close_input(&b->kernel);
	close_input(&b->initrd);
	if (b->files.console_out > STDERR_FILENO)
		close(b->files.console_out);
	b->files.console_out = -1;
	if (b->log_fd >= 0) {
		log_set_fd(-1);
		close(b->log_fd);
	}
	b->log_fd = -1;
	if (b->metrics_fd >= 0)
		close(b->metrics_fd);
	b->metrics_fd = -1;
}

/*
 * firectl and Kata put pci=off on the command line, for Firecracker's
 * virtio-mmio devices. kestrel's virtio disks are virtio-mmio too, but AHCI
 * sits on PCI: the guest will not see it, and that must not be a surprise.
 */
static void warn_pci_off(const struct vm_config *cfg)
{
	const char *c = cfg->cmdline;
	const char *p = c ? strstr(c, "pci=off") : NULL;
	while (p && !((p == c || p[-1] == ' ') && (p[7] == '\0' || p[7] == ' ')))
		p = strstr(p + 1, "pci=off");
	/* Only the kernel's own parameters count, not init's after " -- ". */
	if (!p || (size_t)(p - c) >= config_kernel_params_len(c))
		return;
	for (unsigned i = 0; i < cfg->ndisks; i++)
		if (cfg->disks[i].iface == DISK_IF_AHCI)
			log_err("disk %u (%s) is AHCI, on PCI, and the kernel command line has pci=off: "
				"the guest will not see it (virtio-blk and virtio-scsi disks are on "
				"virtio-mmio and are not affected)", i, cfg->disks[i].path);
}

/*
 * Opens and checks everything the configuration names (disks, kernel,
 * initrd, console file, log file), however it was built, before /dev/kvm
 * is touched: bad input is the user's fault on any host. 0, or -1 with a
 * message (and nothing left open).
 */
static int prepare_boot(const struct vm_config *cfg, const char *log_path, const char *log_level,
			const char *metrics_path, struct boot *b, char *err, size_t errlen)
{
	memset(b, 0, sizeof(*b));
	b->kernel.fd = b->initrd.fd = b->log_fd = b->metrics_fd = -1;
	b->files.console_out = b->files.console_in = -1;
	warn_pci_off(cfg);
	if (log_path && *log_path) {
		b->log_fd = open_output(log_path);
		if (b->log_fd < 0) {
			snprintf(err, errlen, "log file '%.300s': %s", log_path, strerror(errno));
			return -1;
		}
		if (log_level && *log_level)
			log_set_level((enum log_level)log_level_parse(log_level)); /* checked already */
		log_set_fd(b->log_fd);
	}
	if (metrics_path && *metrics_path) {
		b->metrics_fd = open_output(metrics_path);
		if (b->metrics_fd < 0) {
			snprintf(err, errlen, "metrics file '%.300s': %s", metrics_path, strerror(errno));
			goto fail;
		}
	}
	/* Disks first: a bad image, lock or cache mode stops us before anything else. */
	for (unsigned i = 0; i < cfg->ndisks; i++) {
		if (blk_open(&b->disks[i], &cfg->disks[i], err, errlen))
			goto fail;
		b->ndisks = i + 1;
	}
	if (open_input("kernel", cfg->kernel, true, &b->kernel, err, errlen))
		goto fail;
	if (cfg->initrd && open_input("initrd", cfg->initrd, false, &b->initrd, err, errlen))
		goto fail;
	if (!cfg->kernel_cache_off && bzimage_probe(b->kernel.map, b->kernel.len)) {
		/*
		 * An explicit --kernel-cache that fails is the user's to fix
		 * (exit 2); the default one only costs speed (a read-only home,
		 * a jail): say so and boot the bzImage as it is.
		 */
		char dir[4096], cached[4200], why[512];
		int ret = 0;
		if (cfg->kernel_cache)
			snprintf(dir, sizeof(dir), "%s", cfg->kernel_cache);
		else
			ret = kernel_cache_default_dir(dir, sizeof(dir), why, sizeof(why));
		if (!ret)
			ret = kernel_cache_get(cfg->kernel_cache ? "--kernel-cache" : "the kernel cache", dir,
					       b->kernel.fd, b->kernel.map, b->kernel.len, cached,
					       sizeof(cached), why, sizeof(why));
		if (ret && cfg->kernel_cache) {
			snprintf(err, errlen, "%s", why);
			goto fail;
		}
		if (ret) {
			log_info("%s; booting the bzImage without the cache (--kernel-cache DIR picks "
				 "another place, none turns it off)", why);
		} else {
			close_input(&b->kernel);
			if (open_input("cached kernel", cached, true, &b->kernel, err, errlen))
				goto fail;
		}
	}
	b->files = (struct vm_files){
		.kernel = b->kernel.map, .kernel_len = b->kernel.len, .kernel_fd = b->kernel.fd,
		.initrd_fd = b->initrd.fd, .initrd_len = b->initrd.len,
		.console_out = -1, .console_in = -1,
	};
	for (unsigned i = 0; i < cfg->ndisks; i++)
		b->files.disks[i] = &b->disks[i];
	switch (cfg->console) {
	case CONSOLE_STDIO:
		b->files.console_out = STDOUT_FILENO;
		b->files.console_in = STDIN_FILENO;
		break;
	case CONSOLE_NONE: break;
	case CONSOLE_FILE:
		b->files.console_out = open(cfg->console_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (b->files.console_out < 0) {
			snprintf(err, errlen, "--console '%s': %s", cfg->console_path, strerror(errno));
			goto fail;
		}
		break;
	}
	struct linux_image probe = {.kernel = b->kernel.map, .kernel_len = b->kernel.len,
				    .entry = cfg->boot_entry};
	if (linux_check(&probe, cfg->mem_size, err, errlen))
		goto fail;
	return 0;
fail:
	release_boot(b);
	return -1;
}

/* --config-file: Firecracker's JSON, read whole (it is small) and applied. */
static int load_config_file(const char *path, struct fc_config *fc, char *err, size_t errlen)
{
	char msg[512];
	FILE *f = fopen(path, "re");
	if (!f) {
		snprintf(err, errlen, "--config-file '%s': %s", path, strerror(errno));
		return -1;
	}
	static char text[1 << 20];
	size_t n = fread(text, 1, sizeof(text), f);
	bool too_big = n == sizeof(text);
	fclose(f);
	if (too_big) {
		snprintf(err, errlen, "--config-file '%s': larger than %zu bytes", path, sizeof(text) - 1);
		return -1;
	}
	json_t *root = fc_parse_json(text, n, msg, sizeof(msg));
	int ret = root ? fc_load_file(fc, root, msg, sizeof(msg)) : -1;
	json_decref(root);
	if (!ret)
		ret = fc_finish(fc, msg, sizeof(msg));
	if (ret)
		snprintf(err, errlen, "--config-file '%.100s': %.380s", path, msg);
	return ret;
}

/*
 * The API's way in: InstanceStart (on the loop thread) hands its
 * configuration to the main thread, which waits for it or for a stop.
 */
static struct vm vm; /* large; static keeps it off the stack */
static struct fc_config *start_request;

static void api_start(void *ctx, struct fc_config *fc)
{
	struct vm *v = ctx;
	pthread_mutex_lock(&v->stop_lock);
	start_request = fc;
	pthread_cond_broadcast(&v->stop_cond);
	pthread_mutex_unlock(&v->stop_lock);
}

static void api_pause(void *ctx, bool pause)
{
	struct vm *v = ctx;
	v->ctl.pause(&v->ctl, pause);
}

static void api_ctrl_alt_del(void *ctx)
{
	struct vm *v = ctx;
	i8042_ctrl_alt_del(&v->i8042);
}

static struct api api;

static void drive_updated(void *ctx, unsigned int index, int res, const char *msg)
{
	api_drive_done(ctx, index, res, msg);
}

static int api_update_drive(void *ctx, unsigned int index, const char *path, char *err,
			    size_t errlen)
{
	struct vm *v = ctx;
	return disk_swap_start(&v->swaps[index], path, drive_updated, &api, err, errlen);
}

static const struct api_vm_ops api_ops = {
	.start = api_start, .pause = api_pause, .ctrl_alt_del = api_ctrl_alt_del,
	.update_drive = api_update_drive,
};

/* Main thread: the next InstanceStart's configuration, or NULL once a signal stops us. */
static struct fc_config *wait_for_start(void)
{
	pthread_mutex_lock(&vm.stop_lock);
	while (!start_request && vm.stop == VM_RUNNING)
		pthread_cond_wait(&vm.stop_cond, &vm.stop_lock);
	struct fc_config *fc = vm.stop == VM_RUNNING ? start_request : NULL;
	start_request = NULL;
	pthread_mutex_unlock(&vm.stop_lock);
	return fc;
}

/*
 * The jail, once everything the command line names is open (and the API
 * socket bound), before any thread starts: /dev/kvm and, when the API will
 * start the VM, the command line's log and metrics files are opened first,
 * as the host sees them.
 */
static int enter_jail(const struct vm_config *cli, bool has_api, bool boot_now, char *err,
		      size_t errlen)
{
	if (host_check_kvm(err, errlen) || vm_open_kvm(&vm, err, errlen))
		return -1;
	/* Booting now, prepare_boot opened them already; the API's InstanceStart opens them later. */
	const char *paths[2] = {cli->log_path, cli->metrics_path};
	for (unsigned i = 0; i < 2 && !boot_now; i++) {
		if (!paths[i])
			continue;
		preopened[i].fd = open_output(paths[i]);
		if (preopened[i].fd < 0) {
			snprintf(err, errlen, "%s '%.300s': %s", i ? "metrics file" : "log file",
				 paths[i], strerror(errno));
			return -1;
		}
		preopened[i].path = paths[i];
	}
	if (has_api)
		api_server_forget_path(&api.server);
	if (jail_enter(&cli->jail, err, errlen))
		return -1;
	log_info("jailed in '%s' as uid %u gid %u", cli->jail.dir, cli->jail.uid, cli->jail.gid);
	return 0;
}

int main(int argc, char **argv)
{
	struct timespec t_main;
	clock_gettime(CLOCK_MONOTONIC, &t_main);

	/*
	 * jansson seeds its hash function from /dev/urandom when it makes its
	 * first object: here, before any thread exists (as jansson asks), not
	 * later on the confined loop (API answers, metrics lines).
	 */
	json_object_seed(0);

	struct vm_config cli;
	char err[512];
	switch (config_parse(argc, argv, &cli, err, sizeof(err))) {
	case CONFIG_EXIT_OK: return 0;
	case CONFIG_ERROR: log_err("%s", err); return EXIT_USAGE;
	case CONFIG_OK: break;
	}
	if (cli.jail.dir) {
		if (jail_check(&cli.jail, err, sizeof(err))) {
			log_err("%s", err);
			return EXIT_USAGE;
		}
		int exit_status;
		int forked = cli.jail.new_pid_ns ? jail_new_pid_ns(&exit_status, err, sizeof(err)) : 0;
		if (forked < 0) {
			log_err("%s", err);
			return EXIT_RUNTIME;
		}
		if (forked)
			return exit_status; /* the parent, outside: kestrel ran in the new namespace */
	}

	/* The configuration: the command line's, or Firecracker's from a file or the API. */
	static struct fc_config fc;
	if (cli.kernel)
		fc_from_command_line(&fc, &cli); /* what GET /vm/config and PATCH /drives see */
	else
		fc_config_init(&fc, &cli);
	const struct vm_config *cfg = cli.kernel ? &cli : &fc.cfg;
	bool boot_now = cli.kernel || cli.config_file;
	if (cli.config_file && load_config_file(cli.config_file, &fc, err, sizeof(err))) {
		log_err("%s", err);
		return EXIT_USAGE;
	}

	/* Signals are blocked in every thread from here on (vm_prepare). */
	if (vm_prepare(&vm, err, sizeof(err))) {
		log_err("%s", err);
		return EXIT_RUNTIME;
	}
	if (vcpu_init_signals()) {
		log_err("cannot install the vCPU kick signal handler");
		return EXIT_RUNTIME;
	}
	vm.t_main = t_main;
	if (!cli.no_seccomp && vm_enable_seccomp(&vm, err, sizeof(err))) {
		log_err("%s", err);
		return EXIT_RUNTIME;
	}

	static struct boot boot;
	static struct metrics metrics;
	const struct fc_config *from = &fc; /* drive ids, logger, metrics */
	const char *log_path = cli.log_path ? cli.log_path : fc.log_path;
	const char *log_level = cli.log_level ? cli.log_level : fc.log_level;
	const char *metrics_path = cli.metrics_path ? cli.metrics_path : fc.metrics_path;
	int status = EXIT_RUNTIME;
	bool has_api = cli.api_sock != NULL, api_open = false;
	bool jailed = cli.jail.dir != NULL;

	/* What the command line or the file boots is opened now: before a jail, as the host sees it. */
	if (boot_now && prepare_boot(cfg, log_path, log_level, metrics_path, &boot, err, sizeof(err))) {
		log_err("%s", err);
		status = EXIT_USAGE;
		goto out;
	}
	if (has_api) {
		if (api_init(&api, &vm.loop, cli.api_sock, &fc, boot_now, cli.id, &api_ops, &vm, err,
			     sizeof(err))) {
			log_err("%s", err);
			status = EXIT_USAGE;
			goto out;
		}
		api_open = true;
	}
	if (jailed && enter_jail(&cli, has_api, boot_now, err, sizeof(err))) {
		log_err("%s", err);
		goto out;
	}
	/* The API runs on the VM's loop, started now so that it answers before the VM exists. */
	if (has_api) {
		if (loop_start(&vm.loop)) {
			log_err("cannot start the event loop thread");
			goto out;
		}
		api_server_start(&api.server);
	}

	/* The API's InstanceStart: its paths are opened now (inside the jail, if there is one). */
	while (!boot_now) {
		const struct fc_config *req = wait_for_start();
		if (!req) {
			log_info("%s before the VM started", vm.stop_msg);
			goto out;
		}
		cfg = &req->cfg;
		from = req;
		log_path = cli.log_path ? cli.log_path : req->log_path;
		log_level = cli.log_level ? cli.log_level : req->log_level;
		metrics_path = cli.metrics_path ? cli.metrics_path : req->metrics_path;
		if (prepare_boot(cfg, log_path, log_level, metrics_path, &boot, err, sizeof(err)) == 0)
			break;
		/* A bad InstanceStart is the client's to fix: say why and wait for the next. */
		log_err("InstanceStart: %s", err);
		api_start_done(&api, false, err);
	}

	if (!jailed && host_check_kvm(err, sizeof(err))) { /* the jail checked it already */
		log_err("%s", err);
		if (has_api && !boot_now)
			api_start_done(&api, false, err);
		status = EXIT_RUNTIME;
		goto out;
	}

	enum vm_error_kind kind;
	int ret = vm_create(&vm, cfg, &boot.files, err, sizeof(err), &kind);
	if (ret) {
		log_err("%s", err);
		if (has_api && !boot_now)
			api_start_done(&api, false, err);
		status = kind == VM_ERR_CONFIG ? EXIT_USAGE : EXIT_RUNTIME;
		goto out;
	}
	/* The guest image is in guest memory now; the files are no longer needed. */
	close_input(&boot.kernel);
	close_input(&boot.initrd);
	const char *ids[CONFIG_MAX_DISKS];
	for (unsigned i = 0; i < cfg->ndisks; i++)
		ids[i] = from->drives[i].id;
	if (has_api) {
		metrics.api_counts[0] = &api.get_requests;
		metrics.api_counts[1] = &api.put_requests;
		metrics.api_counts[2] = &api.patch_requests;
		metrics.api_counts[3] = &api.bad_requests;
	}
	metrics_start(&metrics, &vm.loop, boot.metrics_fd, vm.disks, ids, vm.ndisks);
	if (has_api) {
		api.metrics = &metrics;
		api_start_done(&api, true, NULL); /* its loop_call hands the writes above over */
	}

	enum vm_stop why = vm_run(&vm);
	if (vm.has_console_in)
		console_restore(&vm.console);
	if (cfg->stats)
		vm_print_stats(&vm);

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
out:
	loop_stop(&vm.loop);
	if (api_open)
		api_server_close(&api.server);
	vm_destroy(&vm);
	release_boot(&boot);
	return status;
}

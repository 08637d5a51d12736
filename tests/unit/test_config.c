#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "vmm/config.h"

static enum config_result parse(struct vm_config *cfg, char *err, const char *const *args)
{
	char *argv[32];
	int argc = 0;
	argv[argc++] = "kestrel";
	for (; *args; args++)
		argv[argc++] = (char *)*args;
	argv[argc] = NULL;
	/* --help/--version print to stdout; keep test output clean. */
	FILE *saved = stdout;
	stdout = fopen("/dev/null", "w");
	enum config_result r = config_parse(argc, argv, cfg, err, 256);
	fclose(stdout);
	stdout = saved;
	return r;
}

#define EXPECT_ERROR(substr, ...)                                                      \
	do {                                                                           \
		const char *const a[] = {__VA_ARGS__, NULL};                           \
		struct vm_config cfg;                                                  \
		char err[256];                                                         \
		cr_assert_eq(parse(&cfg, err, a), CONFIG_ERROR);                       \
		cr_assert(strstr(err, substr), "message '%s' lacks '%s'", err, substr); \
	} while (0)

Test(config, defaults)
{
	const char *const a[] = {"--kernel", "vmlinuz", NULL};
	struct vm_config cfg;
	char err[256];
	cr_assert_eq(parse(&cfg, err, a), CONFIG_OK);
	cr_assert_eq(cfg.mem_size, 512ull << 20);
	cr_assert_eq(cfg.cpus, 1);
	cr_assert_eq(cfg.console, CONSOLE_STDIO);
	cr_assert_str_eq(cfg.kernel, "vmlinuz");
	cr_assert_null(cfg.initrd);
}

Test(config, all_options)
{
	const char *const a[] = {"--kernel", "k", "--initrd", "i", "--cmdline", "a b", "--mem", "2G",
				 "--cpus", "4", "--console", "/tmp/out", "--stats", NULL};
	struct vm_config cfg;
	char err[256];
	cr_assert_eq(parse(&cfg, err, a), CONFIG_OK, "%s", err);
	cr_assert_eq(cfg.mem_size, 2ull << 30);
	cr_assert_eq(cfg.cpus, 4);
	cr_assert_eq(cfg.console, CONSOLE_FILE);
	cr_assert_str_eq(cfg.console_path, "/tmp/out");
	cr_assert_str_eq(cfg.cmdline, "a b");
	cr_assert(cfg.stats);
}

Test(config, sizes)
{
	uint64_t v;
	cr_assert_eq(config_parse_size("128M", &v), 0);
	cr_assert_eq(v, 128ull << 20);
	cr_assert_eq(config_parse_size("65536K", &v), 0);
	cr_assert_eq(v, 64ull << 20);
	cr_assert_eq(config_parse_size("1g", &v), 0);
	cr_assert_eq(v, 1ull << 30);
	cr_assert_eq(config_parse_size("4096", &v), 0);
	cr_assert_eq(v, 4096);
	cr_assert_neq(config_parse_size("", &v), 0);
	cr_assert_neq(config_parse_size("12X", &v), 0);
	cr_assert_neq(config_parse_size("-1M", &v), 0);
	cr_assert_neq(config_parse_size("1MB", &v), 0);
	cr_assert_neq(config_parse_size("99999999999999999999G", &v), 0);
}

Test(config, errors_name_the_problem)
{
	EXPECT_ERROR("--kernel, --config-file or --api-sock is required", "--mem", "1G");
	EXPECT_ERROR("unknown option '--frobnicate'", "--kernel", "k", "--frobnicate");
	EXPECT_ERROR("--cpus: 0 is outside 1..32", "--kernel", "k", "--cpus", "0");
	EXPECT_ERROR("--cpus: 33 is outside", "--kernel", "k", "--cpus", "33");
	EXPECT_ERROR("--cpus: 'two' is not a number", "--kernel", "k", "--cpus", "two");
	EXPECT_ERROR("--mem: 'lots' is not a size", "--kernel", "k", "--mem", "lots");
	EXPECT_ERROR("--mem: 1M is outside", "--kernel", "k", "--mem", "1M");
	EXPECT_ERROR("needs a value", "--kernel");
	EXPECT_ERROR("unexpected argument 'extra'", "--kernel", "k", "extra");
	EXPECT_ERROR("--boot-entry: 'bios'", "--kernel", "k", "--boot-entry", "bios");
	EXPECT_ERROR("--console: empty", "--kernel", "k", "--console", "");
}

Test(config, help_and_version_exit_zero)
{
	const char *const h[] = {"--help", NULL};
	const char *const v[] = {"--version", NULL};
	struct vm_config cfg;
	char err[256];
	cr_assert_eq(parse(&cfg, err, h), CONFIG_EXIT_OK);
	cr_assert_eq(parse(&cfg, err, v), CONFIG_EXIT_OK);
}

Test(config, disk_defaults_and_every_key)
{
	const char *const a[] = {"--kernel", "k", "--cpus", "3",
				 "--disk", "path=/img/a.raw,if=virtio-blk",
				 "--disk", "if=virtio-blk,path=b,,c.img,cache=none,readonly=on,serial=SN-1,queues=2",
				 NULL};
	struct vm_config cfg;
	char err[256];
	cr_assert_eq(parse(&cfg, err, a), CONFIG_OK, "%s", err);
	cr_assert_eq(cfg.ndisks, 2);
	const struct disk_config *d = &cfg.disks[0];
	cr_assert_str_eq(d->path, "/img/a.raw");
	cr_assert_eq(d->iface, DISK_IF_VIRTIO_BLK);
	cr_assert_eq(d->cache, BLK_CACHE_WRITEBACK);
	cr_assert_not(d->readonly);
	cr_assert_str_eq(d->serial, "");
	cr_assert_eq(d->queues, 3, "queues default to one per vCPU, also when --cpus comes first");
	d = &cfg.disks[1];
	cr_assert_str_eq(d->path, "b,c.img", "',,' is a literal comma");
	cr_assert_eq(d->cache, BLK_CACHE_NONE);
	cr_assert(d->readonly);
	cr_assert_str_eq(d->serial, "SN-1");
	cr_assert_eq(d->queues, 2);
}

Test(config, every_disk_interface_is_accepted)
{
	const char *const a[] = {"--kernel", "k", "--disk", "path=a,if=virtio-blk",
				 "--disk", "path=b,if=virtio-scsi,cache=directsync",
				 "--disk", "path=c,if=ahci", NULL};
	struct vm_config cfg;
	char err[256];
	cr_assert_eq(parse(&cfg, err, a), CONFIG_OK, "%s", err);
	cr_assert_eq(cfg.ndisks, 3);
	cr_assert_eq(cfg.disks[0].iface, DISK_IF_VIRTIO_BLK);
	cr_assert_eq(cfg.disks[1].iface, DISK_IF_VIRTIO_SCSI);
	cr_assert_eq(cfg.disks[1].cache, BLK_CACHE_DIRECTSYNC);
	cr_assert_eq(cfg.disks[2].iface, DISK_IF_AHCI);
}

Test(config, disk_queues_default_follows_a_later_cpus)
{
	const char *const a[] = {"--kernel", "k", "--disk", "path=x,if=virtio-blk", "--cpus", "4", NULL};
	struct vm_config cfg;
	char err[256];
	cr_assert_eq(parse(&cfg, err, a), CONFIG_OK, "%s", err);
	cr_assert_eq(cfg.disks[0].queues, 4);
}

Test(config, every_cache_mode_parses)
{
	static const char *const modes[] = {"writeback", "writethrough", "none", "directsync", "unsafe"};
	static const enum blk_cache want[] = {BLK_CACHE_WRITEBACK, BLK_CACHE_WRITETHROUGH, BLK_CACHE_NONE,
					      BLK_CACHE_DIRECTSYNC, BLK_CACHE_UNSAFE};
	for (unsigned i = 0; i < 5; i++) {
		char spec[64];
		snprintf(spec, sizeof(spec), "path=x,if=virtio-blk,cache=%s", modes[i]);
		const char *const a[] = {"--kernel", "k", "--disk", spec, NULL};
		struct vm_config cfg;
		char err[256];
		cr_assert_eq(parse(&cfg, err, a), CONFIG_OK, "%s", err);
		cr_assert_eq(cfg.disks[0].cache, want[i], "%s", modes[i]);
		cr_assert_str_eq(blk_cache_policy(want[i])->name, modes[i]);
	}
}

Test(config, werror_is_report_by_default_or_stop)
{
	static const char *const specs[] = {"path=x,if=ahci", "path=x,if=ahci,werror=report",
					    "path=x,if=ahci,werror=stop"};
	static const enum disk_werror want[] = {DISK_WERROR_REPORT, DISK_WERROR_REPORT,
						DISK_WERROR_STOP};
	for (unsigned i = 0; i < 3; i++) {
		const char *const a[] = {"--kernel", "k", "--disk", specs[i], NULL};
		struct vm_config cfg;
		char err[256];
		cr_assert_eq(parse(&cfg, err, a), CONFIG_OK, "%s", err);
		cr_assert_eq(cfg.disks[0].werror, want[i], "%s", specs[i]);
	}
}

Test(config, a_write_log_and_the_test_only_lies)
{
	{
		const char *const args[] = {"--kernel", "k", "--disk",
					    "path=x,if=ahci,log=/tmp/x.log,x-lie=no-fua", NULL};
		struct vm_config c;
		char e[256];
		cr_assert_eq(parse(&c, e, args), CONFIG_OK, "%s", e);
		cr_assert_str_eq(c.disks[0].log, "/tmp/x.log");
		cr_assert_eq(c.disks[0].lie, 3);
	}
	EXPECT_ERROR("--disk: log= needs a file name", "--kernel", "k", "--disk",
		     "path=x,if=ahci,log=");
	EXPECT_ERROR("x-lie='sometimes' is not none, hide-cache, no-flush or no-fua", "--kernel",
		     "k", "--disk", "path=x,if=ahci,x-lie=sometimes");
}

Test(config, log_marks_need_a_prefix_and_a_logged_disk)
{
	const char *const args[] = {"--kernel", "k", "--log-marks", "DURABLE ", "--disk",
				    "path=x,if=virtio-blk,log=/tmp/x.log", NULL};
	struct vm_config c;
	char e[256];
	cr_assert_eq(parse(&c, e, args), CONFIG_OK, "%s", e);
	cr_assert_str_eq(c.log_marks, "DURABLE ");
	EXPECT_ERROR("--log-marks: no --disk has a write log (log=FILE)", "--kernel", "k",
		     "--log-marks", "DURABLE ", "--disk", "path=x,if=virtio-blk");
	EXPECT_ERROR("--log-marks: empty prefix", "--kernel", "k", "--log-marks", "");
}

Test(config, bad_disk_specs_are_refused_by_name)
{
	EXPECT_ERROR("--disk: werror='enospc' is not report or stop", "--kernel", "k", "--disk",
		     "path=x,if=virtio-blk,werror=enospc");
	EXPECT_ERROR("--disk: path= is required", "--kernel", "k", "--disk", "if=virtio-blk");
	EXPECT_ERROR("--disk: if= is required", "--kernel", "k", "--disk", "path=x");
	EXPECT_ERROR("--disk: unknown key 'size'", "--kernel", "k", "--disk", "path=x,if=virtio-blk,size=1G");
	EXPECT_ERROR("cache='fast' is not", "--kernel", "k", "--disk", "path=x,if=virtio-blk,cache=fast");
	EXPECT_ERROR("readonly='yes' is not on or off", "--kernel", "k", "--disk",
		     "path=x,if=virtio-blk,readonly=yes");
	EXPECT_ERROR("if='ide' is not", "--kernel", "k", "--disk", "path=x,if=ide");
	EXPECT_ERROR("queues='0' is not a number in 1..32", "--kernel", "k", "--disk",
		     "path=x,if=virtio-blk,queues=0");
	EXPECT_ERROR("queues='many'", "--kernel", "k", "--disk", "path=x,if=virtio-blk,queues=many");
	EXPECT_ERROR("longer than 20 characters", "--kernel", "k", "--disk",
		     "path=x,if=virtio-blk,serial=123456789012345678901");
	EXPECT_ERROR("'junk' is not key=value", "--kernel", "k", "--disk", "path=x,junk,if=virtio-blk");
	EXPECT_ERROR("empty path=", "--kernel", "k", "--disk", "path=,if=virtio-blk");
	EXPECT_ERROR("--disk: at most 8 disks", "--kernel", "k",
		     "--disk", "path=1,if=virtio-blk", "--disk", "path=2,if=virtio-blk",
		     "--disk", "path=3,if=virtio-blk", "--disk", "path=4,if=virtio-blk",
		     "--disk", "path=5,if=virtio-blk", "--disk", "path=6,if=virtio-blk",
		     "--disk", "path=7,if=virtio-blk", "--disk", "path=8,if=virtio-blk",
		     "--disk", "path=9,if=virtio-blk");
}

Test(config, api_and_config_file_modes)
{
	struct vm_config c;
	char err[256];
	const char *const api[] = {"--api-sock", "/tmp/s", "--id", "vm_1-a", "--no-seccomp",
				   "--boot-timer", "--start-time-us", "5",
				   "--level", "Debug", "--show-level", NULL};
	cr_assert_eq(parse(&c, err, api), CONFIG_OK, "%s", err);
	cr_assert(c.no_seccomp);
	cr_assert_str_eq(c.api_sock, "/tmp/s");
	cr_assert_str_eq(c.id, "vm_1-a");
	cr_assert_null(c.kernel);
	const char *const file[] = {"--no-api", "--config-file", "vm.json", "--mem", "1G", NULL};
	cr_assert_eq(parse(&c, err, file), CONFIG_OK, "%s", err);
	cr_assert(c.no_api && c.mem_given && !c.cpus_given);
	cr_assert_str_eq(c.config_file, "vm.json");
}

Test(config, api_and_config_file_errors)
{
	EXPECT_ERROR("--no-api needs --config-file", "--no-api", "--api-sock", "s");
	/* Firecracker's BPF files do not fit kestrel's threads: refused, not ignored. */
	EXPECT_ERROR("--seccomp-filter: kestrel has its own", "--api-sock", "s", "--seccomp-filter", "f");
	EXPECT_ERROR("--no-api and --api-sock", "--no-api", "--config-file", "f", "--api-sock", "s");
	EXPECT_ERROR("--kernel and --config-file", "--kernel", "k", "--config-file", "f");
	EXPECT_ERROR("--disk go with --kernel", "--api-sock", "s", "--disk", "path=x,if=ahci");
	EXPECT_ERROR("--id: 'a/b'", "--api-sock", "s", "--id", "a/b");
	EXPECT_ERROR("--level: 'loud'", "--api-sock", "s", "--level", "loud");
	EXPECT_ERROR("--api-sock: a path longer", "--api-sock",
		     "/tmp/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
}

Test(config, the_kernel_cache_is_on_by_default_and_none_turns_it_off)
{
	struct vm_config c;
	char e[256];
	const char *const dflt[] = {"--kernel", "k", NULL};
	cr_assert_eq(parse(&c, e, dflt), CONFIG_OK, "%s", e);
	cr_assert(!c.kernel_cache_off && c.kernel_cache == NULL, "the default place");
	const char *const dir[] = {"--kernel", "k", "--kernel-cache", "/var/cache/k", NULL};
	cr_assert_eq(parse(&c, e, dir), CONFIG_OK, "%s", e);
	cr_assert(!c.kernel_cache_off);
	cr_assert_str_eq(c.kernel_cache, "/var/cache/k");
	const char *const none[] = {"--kernel", "k", "--kernel-cache", "none", NULL};
	cr_assert_eq(parse(&c, e, none), CONFIG_OK, "%s", e);
	cr_assert(c.kernel_cache_off && c.kernel_cache == NULL);
}

Test(config, the_jail_options)
{
	struct vm_config c;
	char e[256];
	const char *const none[] = {"--kernel", "k", NULL};
	cr_assert_eq(parse(&c, e, none), CONFIG_OK, "%s", e);
	cr_assert_null(c.jail.dir, "no jail unless asked");
	const char *const jail[] = {"--kernel", "k", "--chroot", "/srv/jail", "--uid", "123",
				    "--gid", "0", "--new-pid-ns", "--resource-limit", "fsize=2G",
				    "--resource-limit", "no-file=100", NULL};
	cr_assert_eq(parse(&c, e, jail), CONFIG_OK, "%s", e);
	cr_assert_str_eq(c.jail.dir, "/srv/jail");
	cr_assert(c.jail.uid == 123 && c.jail.gid == 0 && c.jail.new_pid_ns);
	cr_assert_eq(c.jail.fsize, 2ull << 30);
	cr_assert_eq(c.jail.nofile, 100);
	const char *const dflt[] = {"--api-sock", "s", "--chroot", "j", "--uid", "1", "--gid", "1", NULL};
	cr_assert_eq(parse(&c, e, dflt), CONFIG_OK, "%s", e);
	cr_assert(c.jail.nofile == JAIL_DEFAULT_NOFILE && c.jail.fsize == 0 && !c.jail.new_pid_ns);
}

Test(config, jail_errors_name_the_problem)
{
	EXPECT_ERROR("--chroot needs --uid and --gid", "--kernel", "k", "--chroot", "j", "--uid", "1");
	EXPECT_ERROR("--chroot needs --uid and --gid", "--kernel", "k", "--chroot", "j", "--gid", "1");
	EXPECT_ERROR("--uid goes with --chroot", "--kernel", "k", "--uid", "1", "--gid", "1");
	EXPECT_ERROR("--new-pid-ns goes with --chroot", "--kernel", "k", "--new-pid-ns");
	EXPECT_ERROR("--resource-limit goes with --chroot", "--kernel", "k", "--resource-limit",
		     "fsize=1");
	EXPECT_ERROR("--chroot: empty", "--kernel", "k", "--chroot", "");
	EXPECT_ERROR("--uid: '-1' is not a number", "--kernel", "k", "--chroot", "j", "--uid", "-1",
		     "--gid", "1");
	EXPECT_ERROR("--gid: '4294967295' is not a number", "--kernel", "k", "--chroot", "j", "--uid",
		     "1", "--gid", "4294967295");
	EXPECT_ERROR("--uid: 'root' is not a number", "--kernel", "k", "--chroot", "j", "--uid",
		     "root", "--gid", "1");
	EXPECT_ERROR("'nofile' is not fsize or no-file", "--kernel", "k", "--chroot", "j", "--uid",
		     "1", "--gid", "1", "--resource-limit", "nofile=5");
	EXPECT_ERROR("'fsize' is not NAME=N", "--kernel", "k", "--chroot", "j", "--uid", "1", "--gid",
		     "1", "--resource-limit", "fsize");
	EXPECT_ERROR("'fsize=0' is not NAME=N", "--kernel", "k", "--chroot", "j", "--uid", "1",
		     "--gid", "1", "--resource-limit", "fsize=0");
	EXPECT_ERROR("no-file=10 is outside 64..", "--kernel", "k", "--chroot", "j", "--uid", "1",
		     "--gid", "1", "--resource-limit", "no-file=10");
}

Test(config, vsock_option)
{
	struct vm_config c;
	char e[256];
	const char *const ok[] = {"--kernel", "k", "--vsock", "uds=/run/v.sock,cid=42", NULL};
	cr_assert_eq(parse(&c, e, ok), CONFIG_OK, "%s", e);
	cr_assert_eq(c.vsock.cid, 42);
	cr_assert_str_eq(c.vsock.uds_path, "/run/v.sock");
	const char *const none[] = {"--kernel", "k", NULL};
	cr_assert_eq(parse(&c, e, none), CONFIG_OK, "%s", e);
	cr_assert_eq(c.vsock.cid, 0, "no vsock unless asked");
	EXPECT_ERROR("--vsock needs cid=N and uds=PATH", "--kernel", "k", "--vsock", "cid=3");
	EXPECT_ERROR("--vsock needs cid=N and uds=PATH", "--kernel", "k", "--vsock", "uds=v");
	EXPECT_ERROR("--vsock: guest_cid 2 is outside 3..", "--kernel", "k", "--vsock", "cid=2,uds=v");
	EXPECT_ERROR("--vsock: cid 'x' is not a number", "--kernel", "k", "--vsock", "cid=x,uds=v");
	EXPECT_ERROR("--vsock: 'port=5' is not cid=N or uds=PATH", "--kernel", "k", "--vsock",
		     "cid=3,uds=v,port=5");
	EXPECT_ERROR("uds_path must be 1..96 bytes", "--kernel", "k", "--vsock",
		     "cid=3,uds=/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
	EXPECT_ERROR("--vsock goes with --kernel", "--api-sock", "s", "--vsock", "cid=3,uds=v");
}

#include "vmm/config.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blklog/format.h"
#include "vmm/log.h"

#define DEFAULT_CMDLINE "console=ttyS0 panic=-1"

int config_parse_size(const char *s, uint64_t *out)
{
	char *end;
	if (!s || !*s || *s == '-' || *s == '+')
		return -EINVAL;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -EINVAL;
	unsigned shift = 0;
	switch (*end) {
	case '\0': break;
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	default: return -EINVAL;
	}
	if (*end != '\0')
		return -EINVAL;
	if (shift && v > (UINT64_MAX >> shift))
		return -ERANGE;
	*out = (uint64_t)v << shift;
	return 0;
}

void config_usage(void)
{
	printf(
"usage: kestrel --kernel PATH [options]\n"
"       kestrel --api-sock PATH [--config-file FILE] [options]\n"
"       kestrel --no-api --config-file FILE [options]\n"
"\n"
"Boots a Linux kernel in a KVM microVM.\n"
"\n"
"  --api-sock PATH      serve Firecracker's REST API on a Unix socket at PATH;\n"
"                       without --kernel or --config-file, the VM is configured\n"
"                       and started through it (PUT /actions InstanceStart)\n"
"  --config-file FILE   a Firecracker JSON configuration (boot-source, drives,\n"
"                       machine-config, ...): boots at once\n"
"  --no-api             with --config-file: no API socket\n"
"  --id ID              the instance id GET / reports\n"
"  --log-path FILE      kestrel's messages go to FILE as well as stderr\n"
"  --level LEVEL        what the log file gets: Error, Warning, Info (default),\n"
"                       Debug, Trace or Off\n"
"  --kernel PATH        bzImage (as /boot/vmlinuz-*), or an ELF vmlinux\n"
"  --initrd PATH        initramfs image\n"
"  --cmdline \"ARGS\"     kernel command line (default: \"" DEFAULT_CMDLINE "\")\n"
"  --mem SIZE           guest RAM, with K/M/G suffix (default 512M)\n"
"  --cpus N             vCPUs (default 1, at most %d)\n"
"  --console MODE       stdio (default), none, or a file PATH for guest output\n"
"  --boot-entry E       for an ELF vmlinux: auto (default), pvh, or linux64\n"
"  --kernel-cache DIR   where a bzImage is decompressed once and its vmlinux\n"
"                       cached for faster boots (default ~/.cache/kestrel/kernels,\n"
"                       or under $XDG_CACHE_HOME); none: boot the bzImage as it is\n"
"  --disk SPEC          attach a raw image or block device (repeatable):\n"
"                       path=FILE,if=IFACE[,cache=MODE][,readonly=on|off]\n"
"                       [,serial=STR][,queues=N][,werror=report|stop][,log=FILE]\n"
"                       IFACE: virtio-blk (/dev/vdX), virtio-scsi (/dev/sdX, one\n"
"                       controller for all, a target each) or ahci (/dev/sdX, a\n"
"                       SATA port each on one PCI controller)\n"
"  --vsock cid=N,uds=PATH\n"
"                       a virtio-vsock device for guest CID N (3 or more): host\n"
"                       clients connect to PATH and send \"CONNECT <port>\\n\";\n"
"                       the guest's connections to CID 2 port P go to PATH_P\n"
"  --log-marks PREFIX   record each guest console line that starts with PREFIX in\n"
"                       every disk's write log (what an application was told is\n"
"                       durable, for kestrel-crashcheck's states)\n"
"  --stats              print device counters on stderr at exit\n"
"  --no-seccomp         run without the per-thread seccomp filters\n"
"  --chroot DIR --uid N --gid N\n"
"                       the jail: once what the command line names is open,\n"
"                       pivot into DIR in a new mount namespace, clear the\n"
"                       environment, drop to N:N with no capabilities and\n"
"                       no_new_privs (needs root); API paths are then inside DIR\n"
"  --new-pid-ns         in the jail, run as PID 1 of a new PID namespace\n"
"  --resource-limit fsize=BYTES|no-file=N\n"
"                       the jail's rlimits (repeatable; no-file defaults to 2048)\n"
"  --help, --version\n"
"\n"
"Disk cache modes (cache=), as in QEMU:\n"
"  writeback (default)  host page cache; the guest sees a write cache and flushes it\n"
"  none                 O_DIRECT; the guest sees a write cache and flushes it\n"
"  writethrough         every write is on stable storage before it completes\n"
"  directsync           O_DIRECT, and every write is on stable storage before it completes\n"
"  unsafe               guest flushes are ignored: a host crash or power loss can\n"
"                       LOSE DATA THE GUEST WAS TOLD IS SAFE. For scratch disks only.\n"
"queues= defaults to one per vCPU (virtio-scsi: the controller takes the most\n"
"any of its disks asks for; ahci ignores it); a writable image is locked against other\n"
"kestrel or QEMU processes (readonly=on takes a shared lock).\n"
"werror=report (default): a failed host write is an I/O error in the guest;\n"
"werror=stop: a write that finds the host file system full is held and the\n"
"guest paused until space is freed and kestrel gets SIGUSR1.\n"
"log=FILE records every write the guest completed and every durability promise\n"
"and host flush in FILE; kestrel-crashcheck FILE checks every promise was kept.\n"
"\n"
"Console: with stdio on a terminal, the terminal is raw and keys go to the\n"
"guest; type Ctrl-A x to quit, Ctrl-A Ctrl-A to send Ctrl-A.\n"
"\n"
"Exit status: 0 when the guest powers off or reboots, 1 on a runtime failure\n"
"(guest panic, triple fault, internal error), 2 on a usage or configuration\n"
"error (before the guest starts), 148 when a thread made a system call its\n"
"seccomp filter does not allow.\n",
	       CONFIG_MAX_CPUS);
}

__attribute__((format(printf, 3, 4)))
static enum config_result fail(char *errbuf, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(errbuf, errlen, fmt, ap);
	va_end(ap);
	return CONFIG_ERROR;
}

enum {
	OPT_KERNEL = 256, OPT_INITRD, OPT_CMDLINE, OPT_MEM, OPT_CPUS, OPT_CONSOLE,
	OPT_DISK, OPT_STATS, OPT_HELP, OPT_VERSION, OPT_BOOT_ENTRY, OPT_KERNEL_CACHE, OPT_LOG_MARKS,
	OPT_API_SOCK, OPT_CONFIG_FILE, OPT_NO_API, OPT_ID, OPT_LOG_PATH, OPT_LEVEL, OPT_METRICS_PATH,
	OPT_NO_SECCOMP, OPT_SECCOMP_FILTER, OPT_IGNORED, OPT_IGNORED_ARG,
	OPT_CHROOT, OPT_UID, OPT_GID, OPT_NEW_PID_NS, OPT_RESOURCE_LIMIT, OPT_VSOCK,
};

/* --uid and --gid: a number, not -1 (which setresuid reads as "unchanged"). */
static enum config_result parse_id(const char *opt, const char *s, unsigned int *out,
				   char *errbuf, size_t errlen)
{
	char *end;
	errno = 0;
	unsigned long v = *s >= '0' && *s <= '9' ? strtoul(s, &end, 10) : 0;
	if (errno || !(*s >= '0' && *s <= '9') || *end || v >= 0xffffffffUL)
		return fail(errbuf, errlen, "%s: '%s' is not a number from 0 to 4294967294", opt, s);
	*out = (unsigned int)v;
	return CONFIG_OK;
}

/* --resource-limit fsize=BYTES or no-file=N, as Firecracker's jailer spells them. */
static enum config_result parse_rlimit(const char *s, struct jail_config *j, char *errbuf,
				       size_t errlen)
{
	const char *eq = strchr(s, '=');
	uint64_t v;
	if (!eq || config_parse_size(eq + 1, &v) || v == 0)
		return fail(errbuf, errlen, "--resource-limit: '%s' is not NAME=N with N a positive "
			    "number (NAME fsize or no-file)", s);
	size_t n = (size_t)(eq - s);
	if (n == 5 && !strncmp(s, "fsize", 5)) {
		j->fsize = v;
	} else if (n == 7 && !strncmp(s, "no-file", 7)) {
		if (v < JAIL_MIN_NOFILE || v > (1u << 20))
			return fail(errbuf, errlen, "--resource-limit: no-file=%llu is outside %u..%u",
				    (unsigned long long)v, JAIL_MIN_NOFILE, 1u << 20);
		j->nofile = v;
	} else {
		return fail(errbuf, errlen, "--resource-limit: '%.*s' is not fsize or no-file", (int)n, s);
	}
	return CONFIG_OK;
}

int config_set_vsock(struct vsock_config *v, uint64_t cid, const char *uds_path, size_t n,
		     char *err, size_t errlen)
{
	if (cid < 3 || cid > UINT32_MAX) {
		snprintf(err, errlen, "vsock: guest_cid %llu is outside 3..%u (0-2 are reserved)",
			 (unsigned long long)cid, UINT32_MAX);
		return -1;
	}
	if (n == 0 || n > CONFIG_VSOCK_UDS_MAX || memchr(uds_path, '\0', n)) {
		snprintf(err, errlen, "vsock: uds_path must be 1..%d bytes (room for \"_<port>\" in a "
			 "socket address), not %zu", CONFIG_VSOCK_UDS_MAX, n);
		return -1;
	}
	v->cid = cid;
	memcpy(v->uds_path, uds_path, n);
	v->uds_path[n] = '\0';
	return 0;
}

/* --vsock cid=N,uds=PATH (either order). */
static enum config_result parse_vsock(const char *spec, struct vsock_config *v, char *errbuf,
				      size_t errlen)
{
	uint64_t cid = 0;
	const char *uds = NULL;
	size_t uds_len = 0;
	for (const char *p = spec; *p;) {
		const char *end = strchr(p, ',');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		if (n > 4 && !strncmp(p, "cid=", 4)) {
			char num[24];
			char *stop;
			snprintf(num, sizeof(num), "%.*s", (int)(n - 4), p + 4);
			errno = 0;
			cid = strtoull(num, &stop, 10);
			if (errno || *stop || num[0] == '-' || n - 4 >= sizeof(num))
				return fail(errbuf, errlen, "--vsock: cid '%.*s' is not a number",
					    (int)(n - 4), p + 4);
		} else if (n > 4 && !strncmp(p, "uds=", 4)) {
			uds = p + 4;
			uds_len = n - 4;
		} else {
			return fail(errbuf, errlen, "--vsock: '%.*s' is not cid=N or uds=PATH", (int)n, p);
		}
		p = end ? end + 1 : p + n;
	}
	if (!cid || !uds)
		return fail(errbuf, errlen, "--vsock needs cid=N and uds=PATH, e.g. cid=3,uds=/tmp/v.sock");
	char msg[256];
	if (config_set_vsock(v, cid, uds, uds_len, msg, sizeof(msg)))
		return fail(errbuf, errlen, "--%s", msg);
	return CONFIG_OK;
}

/* The jail's options make sense only together. */
static enum config_result check_jail(const struct vm_config *cfg, bool uid_given, bool gid_given,
				     bool rlimit_given, char *errbuf, size_t errlen)
{
	const struct jail_config *j = &cfg->jail;
	if (!j->dir) {
		const char *lone = uid_given ? "--uid" : gid_given ? "--gid" : j->new_pid_ns ? "--new-pid-ns"
			: rlimit_given ? "--resource-limit" : NULL;
		if (lone)
			return fail(errbuf, errlen, "%s goes with --chroot DIR (the jail)", lone);
		return CONFIG_OK;
	}
	if (!uid_given || !gid_given)
		return fail(errbuf, errlen, "--chroot needs --uid and --gid: the jail drops to them");
	return CONFIG_OK;
}

/* Firecracker's IDs: what its API and --id accept. */
bool config_valid_id(const char *s, bool dash)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
		      *s == '_' || (dash && *s == '-')))
			return false;
	return true;
}

size_t config_kernel_params_len(const char *cmdline)
{
	if (!strncmp(cmdline, "-- ", 3))
		return 0;
	const char *sep = strstr(cmdline, " -- ");
	return sep ? (size_t)(sep - cmdline) : strlen(cmdline);
}

enum config_result config_finish(struct vm_config *cfg, char *errbuf, size_t errlen)
{
	if (cfg->log_marks) {
		bool logged = false;
		for (unsigned i = 0; i < cfg->ndisks; i++)
			logged |= cfg->disks[i].log[0] != 0;
		if (!logged)
			return fail(errbuf, errlen, "--log-marks: no --disk has a write log (log=FILE)");
	}
	/* Like QEMU's virtio-blk-pci num-queues=auto: one queue per vCPU. */
	for (unsigned i = 0; i < cfg->ndisks; i++)
		if (!cfg->disks[i].queues)
			cfg->disks[i].queues = cfg->cpus < DISK_MAX_QUEUES ? cfg->cpus : DISK_MAX_QUEUES;
	return CONFIG_OK;
}

enum config_result config_parse(int argc, char **argv, struct vm_config *cfg,
				char *errbuf, size_t errlen)
{
	static const struct option opts[] = {
		{"kernel", required_argument, NULL, OPT_KERNEL},
		{"initrd", required_argument, NULL, OPT_INITRD},
		{"cmdline", required_argument, NULL, OPT_CMDLINE},
		{"mem", required_argument, NULL, OPT_MEM},
		{"cpus", required_argument, NULL, OPT_CPUS},
		{"console", required_argument, NULL, OPT_CONSOLE},
		{"disk", required_argument, NULL, OPT_DISK},
		{"boot-entry", required_argument, NULL, OPT_BOOT_ENTRY},
		{"kernel-cache", required_argument, NULL, OPT_KERNEL_CACHE},
		{"log-marks", required_argument, NULL, OPT_LOG_MARKS},
		{"stats", no_argument, NULL, OPT_STATS},
		{"api-sock", required_argument, NULL, OPT_API_SOCK},
		{"config-file", required_argument, NULL, OPT_CONFIG_FILE},
		{"no-api", no_argument, NULL, OPT_NO_API},
		{"id", required_argument, NULL, OPT_ID},
		{"log-path", required_argument, NULL, OPT_LOG_PATH},
		{"level", required_argument, NULL, OPT_LEVEL},
		{"metrics-path", required_argument, NULL, OPT_METRICS_PATH},
		/* What Firecracker's clients and jailer pass that kestrel does not need. */
		{"no-seccomp", no_argument, NULL, OPT_NO_SECCOMP},
		{"boot-timer", no_argument, NULL, OPT_IGNORED},
		{"show-level", no_argument, NULL, OPT_IGNORED},
		{"show-log-origin", no_argument, NULL, OPT_IGNORED},
		{"seccomp-filter", required_argument, NULL, OPT_SECCOMP_FILTER},
		{"start-time-us", required_argument, NULL, OPT_IGNORED_ARG},
		{"start-time-cpu-us", required_argument, NULL, OPT_IGNORED_ARG},
		{"vsock", required_argument, NULL, OPT_VSOCK},
		{"chroot", required_argument, NULL, OPT_CHROOT},
		{"uid", required_argument, NULL, OPT_UID},
		{"gid", required_argument, NULL, OPT_GID},
		{"new-pid-ns", no_argument, NULL, OPT_NEW_PID_NS},
		{"resource-limit", required_argument, NULL, OPT_RESOURCE_LIMIT},
		{"help", no_argument, NULL, OPT_HELP},
		{"version", no_argument, NULL, OPT_VERSION},
		{NULL, 0, NULL, 0},
	};

	memset(cfg, 0, sizeof(*cfg));
	cfg->cmdline = DEFAULT_CMDLINE;
	cfg->mem_size = 512ull << 20;
	cfg->cpus = 1;
	cfg->console = CONSOLE_STDIO;
	cfg->jail.nofile = JAIL_DEFAULT_NOFILE;
	errbuf[0] = '\0';
	bool uid_given = false, gid_given = false, rlimit_given = false;

	optind = 1;
	opterr = 0;
	bool cmdline_given = false;
	int c;
	while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		char *end;
		switch (c) {
		case OPT_KERNEL: cfg->kernel = optarg; break;
		case OPT_INITRD: cfg->initrd = optarg; break;
		case OPT_CMDLINE: cfg->cmdline = optarg; cmdline_given = true; break;
		case OPT_MEM:
			cfg->mem_given = true;
			if (config_parse_size(optarg, &cfg->mem_size))
				return fail(errbuf, errlen, "--mem: '%s' is not a size (use e.g. 512M or 2G)", optarg);
			if (cfg->mem_size < CONFIG_MIN_MEM || cfg->mem_size > CONFIG_MAX_MEM)
				return fail(errbuf, errlen, "--mem: %s is outside 16M..1024G", optarg);
			break;
		case OPT_CPUS: {
			errno = 0;
			long n = strtol(optarg, &end, 10);
			if (errno || end == optarg || *end)
				return fail(errbuf, errlen, "--cpus: '%s' is not a number", optarg);
			if (n < 1 || n > CONFIG_MAX_CPUS)
				return fail(errbuf, errlen, "--cpus: %ld is outside 1..%d", n, CONFIG_MAX_CPUS);
			cfg->cpus = (unsigned)n;
			cfg->cpus_given = true;
			break;
		}
		case OPT_CONSOLE:
			if (!strcmp(optarg, "stdio")) {
				cfg->console = CONSOLE_STDIO;
			} else if (!strcmp(optarg, "none")) {
				cfg->console = CONSOLE_NONE;
			} else if (!*optarg) {
				return fail(errbuf, errlen, "--console: empty value (stdio, none, or a file path)");
			} else {
				cfg->console = CONSOLE_FILE;
				cfg->console_path = optarg;
			}
			break;
		case OPT_BOOT_ENTRY:
			if (!strcmp(optarg, "auto"))
				cfg->boot_entry = BOOT_ENTRY_AUTO;
			else if (!strcmp(optarg, "pvh"))
				cfg->boot_entry = BOOT_ENTRY_PVH;
			else if (!strcmp(optarg, "linux64"))
				cfg->boot_entry = BOOT_ENTRY_LINUX64;
			else
				return fail(errbuf, errlen, "--boot-entry: '%s' is not auto, pvh or linux64", optarg);
			break;
		case OPT_KERNEL_CACHE:
			if (!*optarg)
				return fail(errbuf, errlen, "--kernel-cache: empty directory name");
			cfg->kernel_cache_off = !strcmp(optarg, "none");
			cfg->kernel_cache = cfg->kernel_cache_off ? NULL : optarg;
			break;
		case OPT_LOG_MARKS:
			if (!*optarg)
				return fail(errbuf, errlen, "--log-marks: empty prefix");
			if (strlen(optarg) >= BLKLOG_MAX_MARK)
				return fail(errbuf, errlen, "--log-marks: a prefix longer than %u bytes",
					    BLKLOG_MAX_MARK - 1);
			if (strchr(optarg, '\n'))
				return fail(errbuf, errlen, "--log-marks: the prefix holds a newline");
			cfg->log_marks = optarg;
			break;
		case OPT_DISK: {
			if (cfg->ndisks == CONFIG_MAX_DISKS)
				return fail(errbuf, errlen, "--disk: at most %d disks", CONFIG_MAX_DISKS);
			struct disk_config *d = &cfg->disks[cfg->ndisks];
			if (disk_spec_parse(optarg, d, errbuf, errlen))
				return CONFIG_ERROR;
			cfg->ndisks++;
			break;
		}
		case OPT_STATS: cfg->stats = true; break;
		case OPT_API_SOCK:
			if (!*optarg)
				return fail(errbuf, errlen, "--api-sock: empty path");
			if (strlen(optarg) >= CONFIG_SOCK_PATH_MAX)
				return fail(errbuf, errlen, "--api-sock: a path longer than %d bytes",
					    CONFIG_SOCK_PATH_MAX - 1);
			cfg->api_sock = optarg;
			break;
		case OPT_CONFIG_FILE:
			if (!*optarg)
				return fail(errbuf, errlen, "--config-file: empty path");
			cfg->config_file = optarg;
			break;
		case OPT_NO_API: cfg->no_api = true; break;
		case OPT_ID:
			if (!config_valid_id(optarg, true) || strlen(optarg) > CONFIG_ID_MAX)
				return fail(errbuf, errlen, "--id: '%s' is not 1..%d letters, digits, '_' or '-'",
					    optarg, CONFIG_ID_MAX);
			cfg->id = optarg;
			break;
		case OPT_LOG_PATH:
			if (!*optarg)
				return fail(errbuf, errlen, "--log-path: empty path");
			cfg->log_path = optarg;
			break;
		case OPT_LEVEL:
			if (log_level_parse(optarg) < 0)
				return fail(errbuf, errlen, "--level: '%s' is not Error, Warning, Info, Debug, "
					    "Trace or Off", optarg);
			cfg->log_level = optarg;
			break;
		case OPT_METRICS_PATH:
			if (!*optarg)
				return fail(errbuf, errlen, "--metrics-path: empty path");
			cfg->metrics_path = optarg;
			break;
		case OPT_NO_SECCOMP: cfg->no_seccomp = true; break;
		case OPT_SECCOMP_FILTER:
			/* Silently running without the filter a client asked for would be worse. */
			return fail(errbuf, errlen, "--seccomp-filter: kestrel has its own per-thread "
				    "filters and does not load Firecracker's BPF files (--no-seccomp "
				    "turns kestrel's off)");
		case OPT_VSOCK:
			if (parse_vsock(optarg, &cfg->vsock, errbuf, errlen))
				return CONFIG_ERROR;
			break;
		case OPT_CHROOT:
			if (!*optarg)
				return fail(errbuf, errlen, "--chroot: empty directory name");
			cfg->jail.dir = optarg;
			break;
		case OPT_UID:
			if (parse_id("--uid", optarg, &cfg->jail.uid, errbuf, errlen))
				return CONFIG_ERROR;
			uid_given = true;
			break;
		case OPT_GID:
			if (parse_id("--gid", optarg, &cfg->jail.gid, errbuf, errlen))
				return CONFIG_ERROR;
			gid_given = true;
			break;
		case OPT_NEW_PID_NS: cfg->jail.new_pid_ns = true; break;
		case OPT_RESOURCE_LIMIT:
			if (parse_rlimit(optarg, &cfg->jail, errbuf, errlen))
				return CONFIG_ERROR;
			rlimit_given = true;
			break;
		case OPT_IGNORED:
		case OPT_IGNORED_ARG:
			break;
		case OPT_HELP:
			config_usage();
			return CONFIG_EXIT_OK;
		case OPT_VERSION:
			/* "<Name> v<semver>" first: Kata reads the version from the second field. */
			printf("Kestrel v%s\n", KESTREL_VERSION);
			return CONFIG_EXIT_OK;
		case ':':
			return fail(errbuf, errlen, "option '%s' needs a value", argv[optind - 1]);
		default:
			return fail(errbuf, errlen, "unknown option '%s' (see --help)", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return fail(errbuf, errlen, "unexpected argument '%s' (see --help)", argv[optind]);
	if (cfg->no_api && !cfg->config_file)
		return fail(errbuf, errlen, "--no-api needs --config-file (nothing else could start the VM)");
	if (cfg->no_api && cfg->api_sock)
		return fail(errbuf, errlen, "--no-api and --api-sock contradict each other");
	if (cfg->kernel && cfg->config_file)
		return fail(errbuf, errlen, "--kernel and --config-file both say what to boot; use one");
	if (check_jail(cfg, uid_given, gid_given, rlimit_given, errbuf, errlen))
		return CONFIG_ERROR;
	if (!cfg->kernel) {
		if (!cfg->config_file && !cfg->api_sock)
			return fail(errbuf, errlen, "--kernel, --config-file or --api-sock is required (see --help)");
		/* The API and the file name the kernel and the disks, with drive ids. */
		if (cfg->initrd || cfg->ndisks || cmdline_given)
			return fail(errbuf, errlen, "--initrd, --cmdline and --disk go with --kernel; "
				    "with the API or --config-file use boot-source and drives");
		if (cfg->vsock.cid)
			return fail(errbuf, errlen, "--vsock goes with --kernel; with the API or "
				    "--config-file use vsock");
	}
	return config_finish(cfg, errbuf, errlen);
}

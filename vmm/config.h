/*
 * Command line → struct vm_config. Pure: no file is opened here (main checks
 * paths when it loads them), so every rule is unit-testable.
 */
#ifndef KESTREL_CONFIG_H
#define KESTREL_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm/disk_spec.h"

#define CONFIG_MAX_CPUS 32 /* one APIC ID byte, and the MADT we build */
#define CONFIG_MIN_MEM (16ull << 20)
#define CONFIG_MAX_MEM (1ull << 40)
#define CONFIG_MAX_DISKS 8 /* each virtio-blk disk takes one of the free IOAPIC pins */
#define CONFIG_SOCK_PATH_MAX 108 /* sun_path */
#define CONFIG_ID_MAX 64

/*
 * The jail (vmm/jail.h): --chroot DIR --uid N --gid N [--new-pid-ns]
 * [--resource-limit NAME=N]. dir is NULL without one.
 */
struct jail_config {
	const char *dir;
	unsigned int uid, gid;
	bool new_pid_ns;
	uint64_t nofile; /* RLIMIT_NOFILE (default JAIL_DEFAULT_NOFILE) */
	uint64_t fsize;  /* RLIMIT_FSIZE in bytes, or 0: unlimited */
};
#define JAIL_DEFAULT_NOFILE 2048 /* Firecracker's jailer's default */
#define JAIL_MIN_NOFILE 64       /* what kestrel's own descriptors need, with room */

/*
 * The vsock device (devices/virtio_vsock.h): --vsock cid=N,uds=PATH or PUT
 * /vsock. cid 0: none. uds_path leaves room for "_<port>" in sun_path.
 */
#define CONFIG_VSOCK_UDS_MAX 96
struct vsock_config {
	uint64_t cid;
	char uds_path[CONFIG_VSOCK_UDS_MAX + 1];
};

enum console_mode {
	CONSOLE_STDIO,
	CONSOLE_NONE,
	CONSOLE_FILE,
};

/* Which kernel entry to use for an ELF vmlinux (a bzImage always uses its own). */
enum boot_entry {
	BOOT_ENTRY_AUTO,  /* PVH if the ELF has the note, else the 64-bit entry */
	BOOT_ENTRY_PVH,
	BOOT_ENTRY_LINUX64,
};

struct vm_config {
	const char *kernel;
	const char *initrd;
	const char *cmdline;
	uint64_t mem_size;
	unsigned int cpus;
	enum console_mode console;
	const char *console_path;
	enum boot_entry boot_entry;
	const char *kernel_cache; /* --kernel-cache DIR, or NULL: the default directory */
	bool kernel_cache_off;    /* --kernel-cache none */
	const char *log_marks;    /* --log-marks PREFIX, or NULL */
	bool stats;
	bool no_seccomp;          /* --no-seccomp: no per-thread filters (vmm/seccomp.h) */
	struct jail_config jail;
	struct vsock_config vsock;
	struct disk_config disks[CONFIG_MAX_DISKS];
	unsigned int ndisks;

	/* How the VM is configured when not by --kernel: the API and/or a file. */
	const char *api_sock;    /* --api-sock PATH, or NULL */
	const char *config_file; /* --config-file FILE (Firecracker's format), or NULL */
	bool no_api;
	const char *id;          /* --id, for GET / (default "anonymous-instance") */
	const char *log_path;    /* --log-path: kestrel's messages go there too */
	const char *log_level;   /* --level: what the log file gets (vmm/log.h), or NULL */
	const char *metrics_path;
	bool mem_given, cpus_given; /* --mem/--cpus were on the command line */
};

/*
 * The vsock device's CID (3..2^32-1, as Firecracker's guest_cid) and socket
 * path (uds_path[0..len), 1..CONFIG_VSOCK_UDS_MAX bytes) into *v; 0, or -1
 * with a message.
 */
int config_set_vsock(struct vsock_config *v, uint64_t cid, const char *uds_path, size_t len,
		     char *err, size_t errlen);

enum config_result {
	CONFIG_OK,
	CONFIG_EXIT_OK,  /* --help or --version printed; exit 0 */
	CONFIG_ERROR,    /* message in errbuf; exit 2 */
};

/*
 * Parses argv into *cfg. On CONFIG_ERROR, errbuf holds one line naming the
 * problem. --help and --version print to stdout and return CONFIG_EXIT_OK.
 */
enum config_result config_parse(int argc, char **argv, struct vm_config *cfg,
				char *errbuf, size_t errlen);

/*
 * The rules every configuration obeys, however it was built (command line,
 * API, config file): a write log for --log-marks, one queue per vCPU for a
 * disk that did not say. CONFIG_ERROR with a message, or CONFIG_OK.
 */
enum config_result config_finish(struct vm_config *cfg, char *errbuf, size_t errlen);

/*
 * How much of a kernel command line is the kernel's own parameters: up to
 * a " -- " (or a leading "-- "), after which the words are init's arguments.
 */
size_t config_kernel_params_len(const char *cmdline);

/* "512M", "2G", "65536K", "1048576" → bytes. -EINVAL on anything else. */
int config_parse_size(const char *s, uint64_t *out);

void config_usage(void);

/*
 * An id as Firecracker takes it: letters, digits and '_' (a resource id in
 * the API), and '-' too when dash is set (--id).
 */
bool config_valid_id(const char *s, bool dash);

#endif

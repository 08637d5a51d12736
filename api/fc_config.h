/*
 * Firecracker's configuration objects (the API's bodies and --config-file)
 * → struct vm_config, the one configuration kestrel builds a VM from, as
 * the command line does. Bodies are checked as Firecracker checks them:
 * unknown fields, wrong types and missing required fields are refused with
 * a message for the fault_message, and `null` stands for an absent optional
 * field (the Go SDK sends nulls). JSON is jansson's.
 *
 * Drives: drive i of the VM is drives[i]; the root drive is kept first.
 * Firecracker's cache_type maps honestly onto kestrel's cache modes:
 *   absent      → writeback (kestrel's default: the guest sees a write cache
 *                 and its flushes reach the disk)
 *   "Writeback" → writeback
 *   "Unsafe"    → unsafe: the guest sees a write cache whose flushes are
 *                 ignored, and kestrel warns that a host crash can lose data
 *                 the guest was told is safe. (Firecracker hides the cache
 *                 instead, so the guest believes every write is durable.)
 * The optional "kestrel" object of a drive picks interface, cache mode and
 * write log; it wins over cache_type.
 *
 * Threads: one fc_config is used by one thread at a time (the loop's while
 * the API configures it, then the main thread, which boots from it).
 */
#ifndef KESTREL_API_FC_CONFIG_H
#define KESTREL_API_FC_CONFIG_H

#include <jansson.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include "vmm/config.h"

#define FC_ARGS_MAX 2048 /* boot_args */
#define FC_DRIVE_ID_MAX 64
#define FC_PARTUUID_MAX 64
#define FC_MAX_VCPUS 32
#define FC_DEFAULT_MEM_MIB 128
/*
 * Firecracker's default boot_args, adapted: its 8250.nr_uarts=0 would take
 * the serial console away (kestrel's only console), and "nomodule" would
 * stop a stock Debian kernel from loading its disk drivers from the initrd.
 */
#define FC_DEFAULT_BOOT_ARGS "console=ttyS0 reboot=k panic=1 i8042.noaux i8042.nomux i8042.dumbkbd"

struct fc_drive {
	char id[FC_DRIVE_ID_MAX + 1];
	bool root;
	char partuuid[FC_PARTUUID_MAX + 1];
	char cache_type[16]; /* as given: "Unsafe", "Writeback" or "" */
	char io_engine[8];   /* as given; kestrel always uses io_uring */
	bool has_kestrel;    /* the drive carried a "kestrel" object */
};

struct fc_config {
	struct vm_config cfg; /* disks[i] is drives[i]; kernel/initrd/cmdline point below */
	struct fc_drive drives[CONFIG_MAX_DISKS];
	char kernel[PATH_MAX];
	char initrd[PATH_MAX];
	char boot_args[FC_ARGS_MAX];
	bool has_boot_source;
	char cmdline[FC_ARGS_MAX + FC_PARTUUID_MAX + 64]; /* boot_args and the root drive's */
	bool smt;
	bool has_logger;
	char log_path[PATH_MAX];
	char log_level[16];
	bool has_metrics;
	char metrics_path[PATH_MAX];
};

/* Starts from base (the command line's options: console, stats, ...). */
void fc_config_init(struct fc_config *fc, const struct vm_config *base);

/*
 * Parses a request body or a file: the JSON, or NULL with Firecracker's
 * "An error occurred when deserializing the json body of a request: ..." in err.
 */
json_t *fc_parse_json(const char *text, size_t len, char *err, size_t errlen);

/* Each applies one body; 0, or -1 with the fault_message in err and nothing changed. */
int fc_put_boot_source(struct fc_config *fc, json_t *body, char *err, size_t errlen);
int fc_put_drive(struct fc_config *fc, const char *path_id, json_t *body, char *err, size_t errlen);
int fc_put_machine_config(struct fc_config *fc, json_t *body, bool patch, char *err, size_t errlen);
int fc_put_logger(struct fc_config *fc, json_t *body, char *err, size_t errlen);
int fc_put_metrics(struct fc_config *fc, json_t *body, char *err, size_t errlen);
/* PUT /vsock {"guest_cid", "uds_path", "vsock_id"}: a second PUT replaces the first, as in Firecracker. */
int fc_put_vsock(struct fc_config *fc, json_t *body, char *err, size_t errlen);

/*
 * PATCH /drives/{id} after start: {"drive_id", "path_on_host", "rate_limiter"}.
 * 0 with the drive's index and the new path ("" when none is given: nothing
 * to change), or -1 with the fault_message.
 */
int fc_patch_drive(const struct fc_config *fc, const char *path_id, json_t *body,
		   unsigned int *index, char *path, size_t pathlen, char *err, size_t errlen);

/*
 * The API's view of a VM the command line describes (--kernel with
 * --api-sock): its drives are disk0, disk1, ... in --disk order, for
 * GET /vm/config and PATCH /drives.
 */
void fc_from_command_line(struct fc_config *fc, const struct vm_config *cli);

/* --config-file: the whole object. 0, or -1 with the message. */
int fc_load_file(struct fc_config *fc, json_t *root, char *err, size_t errlen);

/*
 * Before the VM is built: a boot source is there, the command line gets
 * the root drive's root= and ro/rw, and config_finish's rules hold.
 */
int fc_finish(struct fc_config *fc, char *err, size_t errlen);

/* GET /machine-config and GET /vm/config (new references). */
json_t *fc_machine_config_json(const struct fc_config *fc);
json_t *fc_export(const struct fc_config *fc);

/* Firecracker's resource ids: [A-Za-z0-9_]+. */
bool fc_valid_id(const char *s);

#endif

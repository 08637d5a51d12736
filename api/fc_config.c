#include "api/fc_config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "vmm/log.h"

#define DESERIALIZE "An error occurred when deserializing the json body of a request: "

__attribute__((format(printf, 3, 4)))
static int fault(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/* One field a body may carry: its JSON type, and whether it must be there. */
enum fc_type { FC_STRING, FC_BOOL, FC_UINT, FC_OBJECT, FC_ARRAY };

struct fc_field {
	const char *name;
	enum fc_type type;
	bool required;
	json_t *value; /* out: NULL when absent or null */
};

static const char *type_name(enum fc_type t)
{
	switch (t) {
	case FC_STRING: return "a string";
	case FC_BOOL: return "a boolean";
	case FC_UINT: return "a non-negative integer";
	case FC_ARRAY: return "an array";
	default: return "an object";
	}
}

static bool type_ok(enum fc_type t, json_t *v)
{
	switch (t) {
	case FC_STRING: return json_is_string(v);
	case FC_BOOL: return json_is_boolean(v);
	case FC_UINT: return json_is_integer(v) && json_integer_value(v) >= 0;
	case FC_ARRAY: return json_is_array(v);
	default: return json_is_object(v);
	}
}

/*
 * Matches obj's members against the fields, as serde's deny_unknown_fields
 * does for Firecracker: an unknown member, a wrong type or a missing
 * required field is a fault naming it. `what` names the object.
 */
static int take_fields(json_t *obj, const char *what, struct fc_field *f, size_t n, char *err,
		       size_t errlen)
{
	if (!json_is_object(obj))
		return fault(err, errlen, DESERIALIZE "%s must be a JSON object.", what);
	for (size_t i = 0; i < n; i++)
		f[i].value = NULL;
	const char *key;
	json_t *v;
	json_object_foreach(obj, key, v) {
		size_t i = 0;
		while (i < n && strcmp(key, f[i].name))
			i++;
		if (i == n) {
			char names[512] = "";
			for (size_t k = 0; k < n; k++)
				snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s`%s`",
					 k ? ", " : "", f[k].name);
			return fault(err, errlen, DESERIALIZE "unknown field `%s` in %s, expected one of %s.",
				     key, what, names);
		}
		if (json_is_null(v))
			continue; /* an optional field sent as null, as the Go SDK does */
		if (!type_ok(f[i].type, v))
			return fault(err, errlen, DESERIALIZE "invalid type for `%s` in %s: expected %s.",
				     key, what, type_name(f[i].type));
		f[i].value = v;
	}
	for (size_t i = 0; i < n; i++)
		if (f[i].required && !f[i].value)
			return fault(err, errlen, DESERIALIZE "missing field `%s` in %s.", f[i].name, what);
	return 0;
}

/* A string field into a buffer; too long is a fault. */
static int take_string(char *dst, size_t cap, const struct fc_field *f, char *err, size_t errlen)
{
	const char *s = f->value ? json_string_value(f->value) : "";
	if (strlen(s) >= cap)
		return fault(err, errlen, "`%s` is longer than %zu bytes.", f->name, cap - 1);
	snprintf(dst, cap, "%s", s);
	return 0;
}

static bool field_bool(const struct fc_field *f, bool dflt)
{
	return f->value ? json_is_true(f->value) : dflt;
}

json_t *fc_parse_json(const char *text, size_t len, char *err, size_t errlen)
{
	json_error_t je;
	json_t *j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	if (!j)
		fault(err, errlen, DESERIALIZE "%s at line %d column %d.", je.text, je.line, je.column);
	return j;
}

bool fc_valid_id(const char *s)
{
	return config_valid_id(s, false);
}

void fc_config_init(struct fc_config *fc, const struct vm_config *base)
{
	memset(fc, 0, sizeof(*fc));
	fc->cfg = *base;
	fc->cfg.ndisks = 0;
	fc->cfg.kernel = NULL;
	fc->cfg.initrd = NULL;
	fc->cfg.cmdline = NULL;
	/* Firecracker's machine defaults, unless the command line said otherwise. */
	if (!base->cpus_given)
		fc->cfg.cpus = 1;
	if (!base->mem_given)
		fc->cfg.mem_size = (uint64_t)FC_DEFAULT_MEM_MIB << 20;
}

int fc_put_boot_source(struct fc_config *fc, json_t *body, char *err, size_t errlen)
{
	struct fc_field f[] = {
		{"kernel_image_path", FC_STRING, true, NULL},
		{"initrd_path", FC_STRING, false, NULL},
		{"boot_args", FC_STRING, false, NULL},
	};
	if (take_fields(body, "boot-source", f, 3, err, errlen))
		return -1;
	char kernel[PATH_MAX], initrd[PATH_MAX], args[FC_ARGS_MAX];
	if (take_string(kernel, sizeof(kernel), &f[0], err, errlen) ||
	    take_string(initrd, sizeof(initrd), &f[1], err, errlen) ||
	    take_string(args, sizeof(args), &f[2], err, errlen))
		return -1;
	if (!kernel[0])
		return fault(err, errlen, "`kernel_image_path` is empty.");
	memcpy(fc->kernel, kernel, sizeof(kernel));
	memcpy(fc->initrd, initrd, sizeof(initrd));
	if (f[2].value)
		memcpy(fc->boot_args, args, sizeof(args));
	else
		snprintf(fc->boot_args, sizeof(fc->boot_args), "%s", FC_DEFAULT_BOOT_ARGS);
	fc->has_boot_source = true;
	return 0;
}

/* A rate limiter is accepted only when it limits nothing (kestrel has none). */
static int check_rate_limiter(const struct fc_field *f, char *err, size_t errlen)
{
	if (!f->value)
		return 0;
	struct fc_field rl[] = {
		{"bandwidth", FC_OBJECT, false, NULL},
		{"ops", FC_OBJECT, false, NULL},
	};
	if (take_fields(f->value, "rate_limiter", rl, 2, err, errlen))
		return -1;
	if (rl[0].value || rl[1].value)
		return fault(err, errlen, "Rate limiters are not supported by kestrel.");
	return 0;
}

/* The drive's "kestrel" object: the --disk keys interface (if=), cache, log, queues, werror, serial. */
static int apply_kestrel(struct disk_config *d, const char *id, json_t *obj, char *err, size_t errlen)
{
	static const char *const keys[][2] = {
		{"interface", "if"}, {"cache", "cache"}, {"log", "log"},
		{"queues", "queues"}, {"werror", "werror"}, {"serial", "serial"},
	};
	struct fc_field f[6];
	for (unsigned i = 0; i < 6; i++)
		f[i] = (struct fc_field){keys[i][0], !strcmp(keys[i][0], "queues") ? FC_UINT : FC_STRING,
					 false, NULL};
	if (take_fields(obj, "kestrel", f, 6, err, errlen))
		return -1;
	char who[FC_DRIVE_ID_MAX + 16];
	snprintf(who, sizeof(who), "drive %s", id);
	for (unsigned i = 0; i < 6; i++) {
		if (!f[i].value)
			continue;
		char value[PATH_MAX];
		if (json_is_integer(f[i].value))
			snprintf(value, sizeof(value), "%lld", (long long)json_integer_value(f[i].value));
		else if (take_string(value, sizeof(value), &f[i], err, errlen))
			return -1;
		if (disk_spec_set(d, who, keys[i][1], value, err, errlen))
			return -1;
	}
	return 0;
}

int fc_put_drive(struct fc_config *fc, const char *path_id, json_t *body, char *err, size_t errlen)
{
	struct fc_field f[] = {
		{"drive_id", FC_STRING, true, NULL},
		{"is_root_device", FC_BOOL, true, NULL},
		{"path_on_host", FC_STRING, true, NULL},
		{"is_read_only", FC_BOOL, false, NULL},
		{"partuuid", FC_STRING, false, NULL},
		{"cache_type", FC_STRING, false, NULL},
		{"io_engine", FC_STRING, false, NULL},
		{"rate_limiter", FC_OBJECT, false, NULL},
		{"socket", FC_STRING, false, NULL},
		{"kestrel", FC_OBJECT, false, NULL},
	};
	enum { ID, ROOT, PATH, RO, PARTUUID, CACHE, ENGINE, RATE, SOCKET, KESTREL, NFIELDS };
	if (take_fields(body, "the drive", f, NFIELDS, err, errlen))
		return -1;
	struct fc_drive dr;
	memset(&dr, 0, sizeof(dr));
	if (take_string(dr.id, sizeof(dr.id), &f[ID], err, errlen))
		return -1;
	if (path_id && strcmp(path_id, dr.id))
		return fault(err, errlen, "The id from the path does not match the id from the body!");
	if (!fc_valid_id(dr.id))
		return fault(err, errlen,
			     "API Resource IDs can only contain alphanumeric characters and underscores.");
	if (f[SOCKET].value)
		return fault(err, errlen, "vhost-user drives (`socket`) are not supported by kestrel.");
	if (check_rate_limiter(&f[RATE], err, errlen))
		return -1;

	struct disk_config d;
	memset(&d, 0, sizeof(d));
	d.iface = DISK_IF_VIRTIO_BLK;
	d.cache = BLK_CACHE_WRITEBACK;
	if (take_string(d.path, sizeof(d.path), &f[PATH], err, errlen) ||
	    take_string(dr.partuuid, sizeof(dr.partuuid), &f[PARTUUID], err, errlen) ||
	    take_string(dr.cache_type, sizeof(dr.cache_type), &f[CACHE], err, errlen) ||
	    take_string(dr.io_engine, sizeof(dr.io_engine), &f[ENGINE], err, errlen))
		return -1;
	if (!d.path[0])
		return fault(err, errlen, "`path_on_host` is empty.");
	dr.root = field_bool(&f[ROOT], false);
	d.readonly = field_bool(&f[RO], false);
	if (dr.cache_type[0] && strcmp(dr.cache_type, "Unsafe") && strcmp(dr.cache_type, "Writeback"))
		return fault(err, errlen, DESERIALIZE "unknown variant `%s` of `cache_type`, expected "
			     "`Unsafe` or `Writeback`.", dr.cache_type);
	if (dr.io_engine[0] && strcmp(dr.io_engine, "Sync") && strcmp(dr.io_engine, "Async"))
		return fault(err, errlen, DESERIALIZE "unknown variant `%s` of `io_engine`, expected "
			     "`Sync` or `Async`.", dr.io_engine);
	if (!strcmp(dr.cache_type, "Unsafe"))
		d.cache = BLK_CACHE_UNSAFE;
	/* Firecracker's virtio-blk answers GET_ID with the drive id; so does kestrel, cut to 20. */
	snprintf(d.serial, sizeof(d.serial), "%.*s", DISK_SERIAL_MAX, dr.id);
	if (f[KESTREL].value) {
		dr.has_kestrel = true;
		if (apply_kestrel(&d, dr.id, f[KESTREL].value, err, errlen))
			return -1;
	}

	/* A re-PUT before boot replaces the drive of that id. */
	unsigned slot = 0;
	while (slot < fc->cfg.ndisks && strcmp(fc->drives[slot].id, dr.id))
		slot++;
	if (dr.root)
		for (unsigned i = 0; i < fc->cfg.ndisks; i++)
			if (i != slot && fc->drives[i].root)
				return fault(err, errlen, "A root block device already exists!");
	if (slot == fc->cfg.ndisks && slot == CONFIG_MAX_DISKS)
		return fault(err, errlen, "kestrel takes at most %d drives.", CONFIG_MAX_DISKS);
	if (d.cache == BLK_CACHE_UNSAFE)
		log_info("drive %s: cache unsafe: the guest's flushes are ignored, so a host crash can "
			 "lose data the guest was told is safe", dr.id);
	fc->drives[slot] = dr;
	fc->cfg.disks[slot] = d;
	if (slot == fc->cfg.ndisks)
		fc->cfg.ndisks++;
	return 0;
}

int fc_put_machine_config(struct fc_config *fc, json_t *body, bool patch, char *err, size_t errlen)
{
	struct fc_field f[] = {
		{"vcpu_count", FC_UINT, !patch, NULL},
		{"mem_size_mib", FC_UINT, !patch, NULL},
		{"smt", FC_BOOL, false, NULL},
		{"track_dirty_pages", FC_BOOL, false, NULL},
		{"huge_pages", FC_STRING, false, NULL},
		{"cpu_template", FC_STRING, false, NULL},
	};
	if (take_fields(body, "machine-config", f, 6, err, errlen))
		return -1;
	unsigned cpus = fc->cfg.cpus;
	uint64_t mem = fc->cfg.mem_size;
	bool smt = patch ? fc->smt : false; /* PUT resets what it leaves out */
	if (f[0].value) {
		json_int_t n = json_integer_value(f[0].value);
		if (n < 1 || n > FC_MAX_VCPUS)
			return fault(err, errlen, "The vCPU number is invalid! The vCPU number can only "
				     "be 1 or an even number when SMT is enabled.");
		cpus = (unsigned)n;
	}
	if (f[1].value) {
		json_int_t mib = json_integer_value(f[1].value);
		if ((uint64_t)mib < (CONFIG_MIN_MEM >> 20) || (uint64_t)mib > (CONFIG_MAX_MEM >> 20))
			return fault(err, errlen, "The memory size (MiB) is invalid: kestrel takes %llu to %llu.",
				     CONFIG_MIN_MEM >> 20, CONFIG_MAX_MEM >> 20);
		mem = (uint64_t)mib << 20;
	}
	if (f[2].value)
		smt = json_is_true(f[2].value);
	if (smt && cpus > 1 && cpus % 2)
		return fault(err, errlen, "The vCPU number is invalid! The vCPU number can only be 1 or "
			     "an even number when SMT is enabled.");
	if (f[3].value && json_is_true(f[3].value))
		return fault(err, errlen, "`track_dirty_pages` is not supported by kestrel (no snapshots).");
	if (f[4].value && strcmp(json_string_value(f[4].value), "None"))
		return fault(err, errlen, "`huge_pages` other than \"None\" is not supported by kestrel.");
	if (f[5].value && strcmp(json_string_value(f[5].value), "None"))
		return fault(err, errlen, "CPU templates are not supported by kestrel.");
	fc->cfg.cpus = cpus;
	fc->cfg.mem_size = mem;
	fc->smt = smt;
	return 0;
}

json_t *fc_machine_config_json(const struct fc_config *fc)
{
	return json_pack("{s:i, s:I, s:b, s:b, s:s}", "vcpu_count", (int)fc->cfg.cpus, "mem_size_mib",
			 (json_int_t)(fc->cfg.mem_size >> 20), "smt", fc->smt, "track_dirty_pages", 0,
			 "huge_pages", "None");
}

int fc_put_logger(struct fc_config *fc, json_t *body, char *err, size_t errlen)
{
	struct fc_field f[] = {
		{"log_path", FC_STRING, false, NULL},
		{"level", FC_STRING, false, NULL},
		{"show_level", FC_BOOL, false, NULL},
		{"show_log_origin", FC_BOOL, false, NULL},
		{"module", FC_STRING, false, NULL},
	};
	if (take_fields(body, "logger", f, 5, err, errlen))
		return -1;
	char path[PATH_MAX], level[16];
	if (take_string(path, sizeof(path), &f[0], err, errlen) ||
	    take_string(level, sizeof(level), &f[1], err, errlen))
		return -1;
	if (level[0] && log_level_parse(level) < 0)
		return fault(err, errlen, DESERIALIZE "unknown variant `%s` of `level`, expected one of "
			     "`Error`, `Warning`, `Info`, `Debug`, `Trace`, `Off`.", level);
	memcpy(fc->log_path, path, sizeof(path));
	memcpy(fc->log_level, level, sizeof(level));
	fc->has_logger = true;
	return 0;
}

int fc_put_metrics(struct fc_config *fc, json_t *body, char *err, size_t errlen)
{
	struct fc_field f[] = {
		{"metrics_path", FC_STRING, true, NULL},
		{"emit_id", FC_BOOL, false, NULL},
		{"properties", FC_OBJECT, false, NULL},
	};
	if (take_fields(body, "metrics", f, 3, err, errlen))
		return -1;
	if (fc->has_metrics)
		return fault(err, errlen, "Reinitialization of metrics not allowed.");
	char path[PATH_MAX];
	if (take_string(path, sizeof(path), &f[0], err, errlen))
		return -1;
	memcpy(fc->metrics_path, path, sizeof(path));
	fc->has_metrics = true;
	return 0;
}

int fc_put_vsock(struct fc_config *fc, json_t *body, char *err, size_t errlen)
{
	struct fc_field f[] = {
		{"guest_cid", FC_UINT, true, NULL},
		{"uds_path", FC_STRING, true, NULL},
		{"vsock_id", FC_STRING, false, NULL}, /* deprecated; the SDK still sends it */
	};
	if (take_fields(body, "vsock", f, 3, err, errlen))
		return -1;
	const char *path = json_string_value(f[1].value);
	char msg[256];
	struct vsock_config v;
	if (config_set_vsock(&v, (uint64_t)json_integer_value(f[0].value), path, strlen(path), msg,
			     sizeof(msg)))
		return fault(err, errlen, "%s", msg);
	fc->cfg.vsock = v;
	return 0;
}

int fc_load_file(struct fc_config *fc, json_t *root, char *err, size_t errlen)
{
	struct fc_field f[] = {
		{"boot-source", FC_OBJECT, true, NULL},
		{"drives", FC_ARRAY, false, NULL},
		{"machine-config", FC_OBJECT, false, NULL},
		{"logger", FC_OBJECT, false, NULL},
		{"metrics", FC_OBJECT, false, NULL},
		{"vsock", FC_OBJECT, false, NULL},
		/* Not in kestrel yet: refused when given, accepted as null or []. */
		{"network-interfaces", FC_ARRAY, false, NULL},
		{"pmem", FC_ARRAY, false, NULL},
		{"mmds-config", FC_OBJECT, false, NULL},
		{"balloon", FC_OBJECT, false, NULL},
		{"entropy", FC_OBJECT, false, NULL},
		{"cpu-config", FC_OBJECT, false, NULL},
		{"serial", FC_OBJECT, false, NULL},
		{"memory-hotplug", FC_OBJECT, false, NULL},
	};
	enum { BOOT, DRIVES, MACHINE, LOGGER, METRICS, VSOCK, FIRST_UNSUPPORTED, N = 14 };
	if (take_fields(root, "the configuration", f, N, err, errlen))
		return -1;
	for (unsigned i = FIRST_UNSUPPORTED; i < N; i++)
		if (f[i].value && !(json_is_array(f[i].value) && !json_array_size(f[i].value)))
			return fault(err, errlen, "The configuration's `%s` is not supported by kestrel yet.",
				     f[i].name);
	if (fc_put_boot_source(fc, f[BOOT].value, err, errlen))
		return -1;
	if (f[MACHINE].value && fc_put_machine_config(fc, f[MACHINE].value, false, err, errlen))
		return -1;
	if (f[LOGGER].value && fc_put_logger(fc, f[LOGGER].value, err, errlen))
		return -1;
	if (f[METRICS].value && fc_put_metrics(fc, f[METRICS].value, err, errlen))
		return -1;
	if (f[VSOCK].value && fc_put_vsock(fc, f[VSOCK].value, err, errlen))
		return -1;
	size_t i;
	json_t *d;
	if (f[DRIVES].value)
		json_array_foreach(f[DRIVES].value, i, d) {
			if (fc_put_drive(fc, NULL, d, err, errlen))
				return -1;
		}
	return 0;
}

int fc_patch_drive(const struct fc_config *fc, const char *path_id, json_t *body,
		   unsigned int *index, char *path, size_t pathlen, char *err, size_t errlen)
{
	struct fc_field f[] = {
		{"drive_id", FC_STRING, true, NULL},
		{"path_on_host", FC_STRING, false, NULL},
		{"rate_limiter", FC_OBJECT, false, NULL},
	};
	if (take_fields(body, "the drive update", f, 3, err, errlen))
		return -1;
	char id[FC_DRIVE_ID_MAX + 1];
	if (take_string(id, sizeof(id), &f[0], err, errlen))
		return -1;
	if (strcmp(path_id, id))
		return fault(err, errlen, "The id from the path does not match the id from the body!");
	unsigned i = 0;
	while (i < fc->cfg.ndisks && strcmp(fc->drives[i].id, id))
		i++;
	if (i == fc->cfg.ndisks)
		return fault(err, errlen, "Invalid block device ID: no drive `%s`.", id);
	if (check_rate_limiter(&f[2], err, errlen) || take_string(path, pathlen, &f[1], err, errlen))
		return -1;
	if (f[1].value && !path[0])
		return fault(err, errlen, "`path_on_host` is empty.");
	*index = i;
	return 0;
}

void fc_from_command_line(struct fc_config *fc, const struct vm_config *cli)
{
	fc_config_init(fc, cli);
	fc->cfg = *cli;
	for (unsigned i = 0; i < cli->ndisks; i++)
		snprintf(fc->drives[i].id, sizeof(fc->drives[i].id), "disk%u", i);
	fc->has_boot_source = cli->kernel != NULL;
	snprintf(fc->kernel, sizeof(fc->kernel), "%s", cli->kernel ? cli->kernel : "");
	snprintf(fc->initrd, sizeof(fc->initrd), "%s", cli->initrd ? cli->initrd : "");
	snprintf(fc->boot_args, sizeof(fc->boot_args), "%s", cli->cmdline ? cli->cmdline : "");
	snprintf(fc->cmdline, sizeof(fc->cmdline), "%s", fc->boot_args);
	fc->cfg.kernel = fc->kernel;
	fc->cfg.initrd = fc->initrd[0] ? fc->initrd : NULL;
	fc->cfg.cmdline = fc->cmdline;
}

int fc_finish(struct fc_config *fc, char *err, size_t errlen)
{
	if (!fc->has_boot_source)
		return fault(err, errlen, "Cannot start microvm without kernel configuration.");
	/* The root drive goes first, as Firecracker lists it. */
	for (unsigned i = 1; i < fc->cfg.ndisks; i++) {
		if (!fc->drives[i].root)
			continue;
		struct fc_drive dr = fc->drives[i];
		struct disk_config d = fc->cfg.disks[i];
		memmove(&fc->drives[1], &fc->drives[0], i * sizeof(dr));
		memmove(&fc->cfg.disks[1], &fc->cfg.disks[0], i * sizeof(d));
		fc->drives[0] = dr;
		fc->cfg.disks[0] = d;
		break;
	}
	/*
	 * The root drive's root= and ro/rw join the kernel's own parameters:
	 * before a " -- ", which starts init's arguments (Firecracker appends
	 * them at the end, where init would get them).
	 */
	char root[FC_PARTUUID_MAX + 32] = "";
	if (fc->cfg.ndisks && fc->drives[0].root) {
		const char *ro = fc->cfg.disks[0].readonly ? "ro" : "rw";
		const char *dev = fc->cfg.disks[0].iface == DISK_IF_VIRTIO_BLK ? "/dev/vda" : "/dev/sda";
		if (fc->drives[0].partuuid[0])
			snprintf(root, sizeof(root), " root=PARTUUID=%s %s", fc->drives[0].partuuid, ro);
		else
			snprintf(root, sizeof(root), " root=%s %s", dev, ro);
	}
	size_t head = config_kernel_params_len(fc->boot_args);
	const char *init_args = fc->boot_args + head;
	snprintf(fc->cmdline, sizeof(fc->cmdline), "%.*s%s%s%s", (int)head, fc->boot_args, root,
		 *init_args && head == 0 ? " " : "", init_args);
	fc->cfg.kernel = fc->kernel;
	fc->cfg.initrd = fc->initrd[0] ? fc->initrd : NULL;
	fc->cfg.cmdline = fc->cmdline;
	if (config_finish(&fc->cfg, err, errlen) != CONFIG_OK)
		return -1;
	return 0;
}

static json_t *drive_json(const struct fc_drive *dr, const struct disk_config *d)
{
	json_t *o = json_pack("{s:s, s:s, s:b, s:b, s:s}", "drive_id", dr->id, "path_on_host", d->path,
			      "is_root_device", dr->root, "is_read_only", d->readonly, "cache_type",
			      d->cache == BLK_CACHE_UNSAFE ? "Unsafe" : "Writeback");
	if (dr->partuuid[0])
		json_object_set_new(o, "partuuid", json_string(dr->partuuid));
	json_object_set_new(o, "io_engine", json_string(dr->io_engine[0] ? dr->io_engine : "Sync"));
	json_t *k = json_pack("{s:s, s:s}", "interface", disk_iface_name(d->iface), "cache",
			      blk_cache_policy(d->cache)->name);
	if (d->log[0])
		json_object_set_new(k, "log", json_string(d->log));
	json_object_set_new(o, "kestrel", k);
	return o;
}

json_t *fc_export(const struct fc_config *fc)
{
	json_t *o = json_object();
	if (fc->has_boot_source) {
		json_t *b = json_pack("{s:s, s:s}", "kernel_image_path", fc->kernel, "boot_args",
				      fc->boot_args);
		if (fc->initrd[0])
			json_object_set_new(b, "initrd_path", json_string(fc->initrd));
		json_object_set_new(o, "boot-source", b);
	}
	json_t *drives = json_array();
	for (unsigned i = 0; i < fc->cfg.ndisks; i++)
		json_array_append_new(drives, drive_json(&fc->drives[i], &fc->cfg.disks[i]));
	json_object_set_new(o, "drives", drives);
	json_object_set_new(o, "machine-config", fc_machine_config_json(fc));
	json_object_set_new(o, "logger", fc->has_logger ? json_pack("{s:s, s:s}", "log_path",
			    fc->log_path, "level", fc->log_level[0] ? fc->log_level : "Info")
							 : json_null());
	json_object_set_new(o, "metrics", fc->has_metrics ? json_pack("{s:s}", "metrics_path",
			    fc->metrics_path) : json_null());
	json_object_set_new(o, "network-interfaces", json_array());
	json_object_set_new(o, "vsock", fc->cfg.vsock.cid ? json_pack("{s:I, s:s}", "guest_cid",
			    (json_int_t)fc->cfg.vsock.cid, "uds_path", fc->cfg.vsock.uds_path)
							 : json_null());
	return o;
}

#include "vmm/disk_spec.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/errmsg.h"

static const char *const iface_names[] = {
	[DISK_IF_VIRTIO_BLK] = "virtio-blk",
	[DISK_IF_AHCI] = "ahci",
	[DISK_IF_VIRTIO_SCSI] = "virtio-scsi",
};

const char *disk_iface_name(enum disk_iface iface)
{
	return iface <= DISK_IF_VIRTIO_SCSI ? iface_names[iface] : "?";
}

#define fail(err, errlen, ...) errmsg(err, errlen, -EINVAL, __VA_ARGS__)

/*
 * Copies the next value (up to an unescaped comma) into out, turning ",,"
 * into ","; returns where parsing goes on, or NULL if it does not fit.
 */
static const char *take_value(const char *p, char *out, size_t cap)
{
	size_t n = 0;
	while (*p && !(*p == ',' && p[1] != ',')) {
		char c = *p;
		p += c == ',' ? 2 : 1;
		if (n + 1 >= cap)
			return NULL;
		out[n++] = c;
	}
	out[n] = '\0';
	return p;
}

static int parse_on_off(const char *key, const char *v, bool *out, char *err, size_t errlen)
{
	if (!strcmp(v, "on")) {
		*out = true;
	} else if (!strcmp(v, "off")) {
		*out = false;
	} else {
		return fail(err, errlen, "--disk: %s='%s' is not on or off", key, v);
	}
	return 0;
}

static int set_key(struct disk_config *d, const char *key, const char *v, bool *seen_if,
		   char *err, size_t errlen)
{
	if (!strcmp(key, "path")) {
		if (!*v)
			return fail(err, errlen, "--disk: empty path=");
		snprintf(d->path, sizeof(d->path), "%s", v);
	} else if (!strcmp(key, "if")) {
		unsigned i;
		for (i = 0; i < sizeof(iface_names) / sizeof(iface_names[0]); i++)
			if (!strcmp(v, iface_names[i]))
				break;
		if (i == sizeof(iface_names) / sizeof(iface_names[0]))
			return fail(err, errlen, "--disk: if='%s' is not virtio-blk, ahci or virtio-scsi", v);
		d->iface = (enum disk_iface)i;
		*seen_if = true;
	} else if (!strcmp(key, "cache")) {
		if (blk_cache_parse(v, &d->cache))
			return fail(err, errlen,
				    "--disk: cache='%s' is not writeback, writethrough, none, directsync or unsafe", v);
	} else if (!strcmp(key, "readonly")) {
		return parse_on_off(key, v, &d->readonly, err, errlen);
	} else if (!strcmp(key, "serial")) {
		if (strlen(v) > DISK_SERIAL_MAX)
			return fail(err, errlen, "--disk: serial='%s' is longer than %d characters", v,
				    DISK_SERIAL_MAX);
		for (const char *c = v; *c; c++)
			if (*c < 0x20 || *c > 0x7e)
				return fail(err, errlen, "--disk: serial= must be printable ASCII");
		snprintf(d->serial, sizeof(d->serial), "%s", v);
	} else if (!strcmp(key, "queues")) {
		char *end;
		errno = 0;
		long n = strtol(v, &end, 10);
		if (errno || end == v || *end || n < 1 || n > DISK_MAX_QUEUES)
			return fail(err, errlen, "--disk: queues='%s' is not a number in 1..%d", v,
				    DISK_MAX_QUEUES);
		d->queues = (unsigned)n;
	} else if (!strcmp(key, "log")) {
		if (!*v)
			return fail(err, errlen, "--disk: log= needs a file name");
		snprintf(d->log, sizeof(d->log), "%s", v);
	} else if (!strcmp(key, "x-lie")) {
		/* Test-only, so not in the list of keys below nor in --help. */
		static const char *const lies[] = {"none", "hide-cache", "no-flush", "no-fua"};
		unsigned i = 0;
		while (i < 4 && strcmp(v, lies[i]))
			i++;
		if (i == 4)
			return fail(err, errlen,
				    "--disk: x-lie='%s' is not none, hide-cache, no-flush or no-fua", v);
		d->lie = i;
	} else if (!strcmp(key, "werror")) {
		if (!strcmp(v, "report"))
			d->werror = DISK_WERROR_REPORT;
		else if (!strcmp(v, "stop"))
			d->werror = DISK_WERROR_STOP;
		else
			return fail(err, errlen, "--disk: werror='%s' is not report or stop", v);
	} else {
		return fail(err, errlen,
			    "--disk: unknown key '%s' (path, if, cache, readonly, serial, queues, werror, log)",
			    key);
	}
	return 0;
}

int disk_spec_parse(const char *spec, struct disk_config *d, char *err, size_t errlen)
{
	memset(d, 0, sizeof(*d));
	d->cache = BLK_CACHE_WRITEBACK;
	bool seen_if = false;
	const char *p = spec;
	char value[PATH_MAX];
	while (*p) {
		const char *eq = strchr(p, '=');
		const char *comma = strchr(p, ',');
		if (!eq || (comma && comma < eq))
			return fail(err, errlen, "--disk: '%.*s' is not key=value",
				    (int)(comma ? comma - p : (long)strlen(p)), p);
		char key[16];
		size_t klen = (size_t)(eq - p);
		if (klen == 0 || klen >= sizeof(key))
			return fail(err, errlen, "--disk: unknown key '%.*s'", (int)klen, p);
		memcpy(key, p, klen);
		key[klen] = '\0';
		p = take_value(eq + 1, value, sizeof(value));
		if (!p)
			return fail(err, errlen, "--disk: value of %s= is too long", key);
		int ret = set_key(d, key, value, &seen_if, err, errlen);
		if (ret)
			return ret;
		if (*p == ',')
			p++;
	}
	if (!d->path[0])
		return fail(err, errlen, "--disk: path= is required");
	if (!seen_if)
		return fail(err, errlen, "--disk: if= is required (virtio-blk)");
	return 0;
}

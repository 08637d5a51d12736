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

static int parse_on_off(const char *who, const char *key, const char *v, bool *out, char *err,
			size_t errlen)
{
	if (!strcmp(v, "on")) {
		*out = true;
	} else if (!strcmp(v, "off")) {
		*out = false;
	} else {
		return fail(err, errlen, "%s: %s='%s' is not on or off", who, key, v);
	}
	return 0;
}

int disk_spec_set(struct disk_config *d, const char *who, const char *key, const char *v,
		  char *err, size_t errlen)
{
	if (!strcmp(key, "path")) {
		if (!*v)
			return fail(err, errlen, "%s: empty path=", who);
		snprintf(d->path, sizeof(d->path), "%s", v);
	} else if (!strcmp(key, "if")) {
		unsigned i;
		for (i = 0; i < sizeof(iface_names) / sizeof(iface_names[0]); i++)
			if (!strcmp(v, iface_names[i]))
				break;
		if (i == sizeof(iface_names) / sizeof(iface_names[0]))
			return fail(err, errlen, "%s: if='%s' is not virtio-blk, ahci or virtio-scsi", who, v);
		d->iface = (enum disk_iface)i;
	} else if (!strcmp(key, "cache")) {
		if (blk_cache_parse(v, &d->cache))
			return fail(err, errlen,
				    "%s: cache='%s' is not writeback, writethrough, none, directsync or unsafe", who, v);
	} else if (!strcmp(key, "readonly")) {
		return parse_on_off(who, key, v, &d->readonly, err, errlen);
	} else if (!strcmp(key, "serial")) {
		if (strlen(v) > DISK_SERIAL_MAX)
			return fail(err, errlen, "%s: serial='%s' is longer than %d characters", who, v,
				    DISK_SERIAL_MAX);
		for (const char *c = v; *c; c++)
			if (*c < 0x20 || *c > 0x7e)
				return fail(err, errlen, "%s: serial= must be printable ASCII", who);
		snprintf(d->serial, sizeof(d->serial), "%s", v);
	} else if (!strcmp(key, "queues")) {
		char *end;
		errno = 0;
		long n = strtol(v, &end, 10);
		if (errno || end == v || *end || n < 1 || n > DISK_MAX_QUEUES)
			return fail(err, errlen, "%s: queues='%s' is not a number in 1..%d", who, v,
				    DISK_MAX_QUEUES);
		d->queues = (unsigned)n;
	} else if (!strcmp(key, "log")) {
		if (!*v)
			return fail(err, errlen, "%s: log= needs a file name", who);
		snprintf(d->log, sizeof(d->log), "%s", v);
	} else if (!strcmp(key, "x-lie")) {
		/* Test-only, so not in the list of keys below nor in --help. */
		static const char *const lies[] = {"none", "hide-cache", "no-flush", "no-fua"};
		unsigned i = 0;
		while (i < 4 && strcmp(v, lies[i]))
			i++;
		if (i == 4)
			return fail(err, errlen,
				    "%s: x-lie='%s' is not none, hide-cache, no-flush or no-fua", who, v);
		d->lie = i;
	} else if (!strcmp(key, "werror")) {
		if (!strcmp(v, "report"))
			d->werror = DISK_WERROR_REPORT;
		else if (!strcmp(v, "stop"))
			d->werror = DISK_WERROR_STOP;
		else
			return fail(err, errlen, "%s: werror='%s' is not report or stop", who, v);
	} else {
		return fail(err, errlen,
			    "%s: unknown key '%s' (path, if, cache, readonly, serial, queues, werror, log)", who,
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
		int ret = disk_spec_set(d, "--disk", key, value, err, errlen);
		if (ret)
			return ret;
		seen_if |= !strcmp(key, "if");
		if (*p == ',')
			p++;
	}
	if (!d->path[0])
		return fail(err, errlen, "--disk: path= is required");
	if (!seen_if)
		return fail(err, errlen, "--disk: if= is required (virtio-blk)");
	return 0;
}

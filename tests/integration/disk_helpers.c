#include "tests/integration/disk_helpers.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

const char *make_image(const char *name, long long size)
{
	const char *path = scratch_path(name);
	int fd = open(path, O_CREAT | O_TRUNC | O_RDWR, 0644);
	cr_assert_geq(fd, 0, "%s", path);
	cr_assert_eq(ftruncate(fd, size), 0);
	close(fd);
	return path;
}

/* kestrel's arguments for the tools guest with disks; cmdline is the caller's buffer. */
static void disk_boot_args(const char **args, char *cmdline, size_t cmdlen,
			   const char *const *disks, unsigned ndisks, const char *cpus,
			   const char *kargs, const char *const *opts, const char *cmd)
{
	snprintf(cmdline, cmdlen, "console=ttyS0 panic=-1 quiet %s -- %s", kargs, cmd);
	const char *fixed[] = {"--kernel", guest_file("vmlinux"), "--initrd",
			       guest_file("initrd-tools.img"), "--mem", "512M", "--cpus", cpus,
			       "--stats", "--cmdline", cmdline};
	unsigned n = 0;
	for (; n < sizeof(fixed) / sizeof(fixed[0]); n++)
		args[n] = fixed[n];
	for (unsigned i = 0; i < ndisks; i++) {
		args[n++] = "--disk";
		args[n++] = disks[i];
	}
	for (; opts && *opts; opts++)
		args[n++] = *opts;
	args[n] = NULL;
}

struct run boot_watched(const char *const *disks, unsigned ndisks, const char *cmd,
			run_watch_fn watch, void *arg)
{
	char cmdline[1024];
	const char *args[32];
	disk_boot_args(args, cmdline, sizeof(cmdline), disks, ndisks, "1", "", NULL, cmd);
	struct run r = run_kestrel_watched(args, DISK_RUN_TIMEOUT, watch, arg);
	cr_assert_not(r.timed_out, "kestrel did not exit:\n%s", r.out);
	return r;
}

/* Boots the tools guest with the given --disk specs and kernel arguments, and runs cmd in it. */
struct run boot_with_disks_opts(const char *const *disks, unsigned ndisks, const char *cpus,
				const char *kargs, const char *const *opts, const char *cmd)
{
	char cmdline[2048];
	const char *args[48];
	disk_boot_args(args, cmdline, sizeof(cmdline), disks, ndisks, cpus, kargs, opts, cmd);
	const char *env = getenv("KESTREL_DISK_RUN_TIMEOUT");
	unsigned timeout = env && atoi(env) > 0 ? (unsigned)atoi(env) : DISK_RUN_TIMEOUT;
	struct run r = run_kestrel(args, timeout);
	cr_assert_not(r.timed_out, "guest did not power off:\n%s", r.out);
	cr_assert_eq(r.status, 0, "exit %d:\n%s", r.status, r.out);
	cr_assert(strstr(r.out, "KESTREL-GUEST-EXIT 0"), "guest command failed:\n%s", r.out);
	return r;
}

struct run boot_with_disks_args(const char *const *disks, unsigned ndisks, const char *cpus,
				const char *kargs, const char *cmd)
{
	return boot_with_disks_opts(disks, ndisks, cpus, kargs, NULL, cmd);
}

struct run boot_with_disks(const char *const *disks, unsigned ndisks, const char *cpus,
				  const char *cmd)
{
	return boot_with_disks_args(disks, ndisks, cpus, "", cmd);
}

void expect_value(const struct run *r, const char *key, const char *want)
{
	char v[128];
	cr_assert_not_null(guest_value(r, key, v, sizeof(v)), "guest did not report %s:\n%s", key, r->out);
	cr_assert_str_eq(v, want, "%s is '%s', want '%s':\n%s", key, v, want, r->out);
}

/* A counter from the "--stats" line of disk `disk`, e.g. "host flushes". */
unsigned long long counter(const struct run *r, unsigned disk, const char *name)
{
	char tag[32];
	snprintf(tag, sizeof(tag), "stats: disk%u ", disk);
	const char *line = strstr(r->out, tag);
	cr_assert_not_null(line, "no stats for disk %u:\n%s", disk, r->out);
	const char *end = strchr(line, '\n');
	char key[64];
	for (const char *sep = ", "; ; sep = "): ") {
		snprintf(key, sizeof(key), "%s%s ", sep, name);
		const char *p = strstr(line, key);
		if (p && (!end || p < end))
			return strtoull(p + strlen(key), NULL, 10);
		if (!strcmp(sep, "): "))
			break;
	}
	cr_assert_fail("no counter '%s' for disk %u:\n%s", name, disk, r->out);
	return 0;
}

static void host_sha256(const char *image, const char *file, char *out, size_t len)
{
	char cmd[2048];
	snprintf(cmd, sizeof(cmd), "debugfs -R 'cat /%s' '%s' 2>/dev/null | sha256sum", file, image);
	FILE *p = popen(cmd, "r");
	cr_assert_not_null(p);
	cr_assert_not_null(fgets(out, (int)len, p));
	pclose(p);
	out[strcspn(out, " \n")] = 0;
}

/* The image is a clean ext4 and holds what the guest wrote, after power-off. */
void host_checks_fs(const struct run *r, const char *image)
{
	char cmd[2048];
	snprintf(cmd, sizeof(cmd), "e2fsck -fn '%s' >/dev/null 2>&1", image);
	cr_assert_eq(system(cmd), 0, "e2fsck -fn found errors on %s", image);
	static const char *const files[] = {"random.bin", "numbers.txt"};
	for (unsigned i = 0; i < 2; i++) {
		char key[64], want[128], got[128];
		snprintf(key, sizeof(key), "SUM_%s", files[i]);
		cr_assert_not_null(guest_value(r, key, want, sizeof(want)), "%s", r->out);
		host_sha256(image, files[i], got, sizeof(got));
		cr_assert_str_eq(got, want, "%s differs on the host", files[i]);
	}
}

/*
 * One policy on one interface: what the guest sees, a file system written
 * in the guest and checked on the host, fio verify, and which flushes
 * reached the host. dev is the guest's name for the disk (vda, sda).
 */
void policy_test(const char *iface, const char *dev, const char *cache, bool volatile_cache,
			bool host_flushes_expected)
{
	const char *img = make_image("disk.img", DISK_SIZE);
	char spec[1200], cmd[256], key[64];
	snprintf(spec, sizeof(spec), "path=%s,if=%s,cache=%s,serial=kestrel-%s", img, iface, cache, cache);
	const char *disks[] = {spec};
	bool ata = !strcmp(iface, "ahci"), scsi = !strcmp(iface, "virtio-scsi");
	snprintf(cmd, sizeof(cmd), "disk-test report; %sdisk-test fs /dev/%s",
		 ata ? "disk-test ata-cache-state /dev/sda; " : "", dev);
	struct run r = boot_with_disks(disks, 1, "1", cmd);
	snprintf(key, sizeof(key), "WRITE_CACHE_%s", dev);
	expect_value(&r, key, volatile_cache ? "write_back" : "write_through");
	snprintf(key, sizeof(key), "SIZE_%s", dev);
	expect_value(&r, key, "524288");
	if (ata) {
		expect_value(&r, "DRIVER_sda", "ahci");
		/* Supported only where the policy has a cache: SET FEATURES 0x02 is refused otherwise. */
		expect_value(&r, "HDPARM_WCACHE_SUPPORTED", volatile_cache ? "yes" : "no");
		expect_value(&r, "HDPARM_WCACHE_ENABLED", volatile_cache ? "yes" : "no");
		expect_value(&r, "HDPARM_FLUSH_EXT", "yes");
		char v[16];
		cr_assert_not_null(guest_value(&r, "QUEUE_DEPTH_sda", v, sizeof(v)), "%s", r.out);
		cr_assert_gt(atoi(v), 1, "NCQ is not in use: queue depth %s", v);
	} else if (scsi) {
		expect_value(&r, "DRIVER_sda", "virtio_scsi");
		expect_value(&r, "VENDOR_sda", "KESTREL");
		/* sd's reading of the caching page, and FUA from DPOFUA when the cache is on. */
		expect_value(&r, "CACHE_TYPE_sda", volatile_cache ? "write_back" : "write_through");
		expect_value(&r, "FUA_sda", volatile_cache ? "1" : "0");
		char v[16];
		cr_assert_not_null(guest_value(&r, "QUEUE_DEPTH_sda", v, sizeof(v)), "%s", r.out);
		cr_assert_gt(atoi(v), 1, "commands are not queued: queue depth %s", v);
	} else {
		char serial[64];
		snprintf(serial, sizeof(serial), "kestrel-%s", cache);
		expect_value(&r, "SERIAL_vda", serial);
	}
	expect_value(&r, "FIO_VERIFY", "ok");
	expect_value(&r, "UMOUNT", "ok");
	host_checks_fs(&r, img);

	unsigned long long flushes = counter(&r, 0, "flushes"), host = counter(&r, 0, "host flushes");
	unsigned long long writes = counter(&r, 0, "writes"), dsync = counter(&r, 0, "dsync writes");
	cr_assert_gt(writes, 0);
	cr_assert_eq(counter(&r, 0, "errors"), 0, "%s", r.out);
	if (!ata) {
		/* mkfs.ext4 discards the whole disk and zeroes its tables: both reached fallocate. */
		cr_assert_gt(counter(&r, 0, "discards"), 0, "%s", r.out);
		cr_assert_gt(counter(&r, 0, "write zeroes"), 0, "%s", r.out);
	}
	if (volatile_cache) {
		/* The guest flushes (journal commits, sync, unmount)... */
		cr_assert_gt(flushes, 0, "%s cache=%s: the guest never flushed:\n%s", iface, cache, r.out);
		/* sd sends journal commits as FUA writes (DPOFUA); virtio-blk has no FUA. */
		unsigned long long fua = counter(&r, 0, "fua writes");
		if (scsi)
			cr_assert_gt(fua, 0, "%s cache=%s: no FUA write from the guest", iface, cache);
		/* ...and they reach the host, except for unsafe. */
		if (host_flushes_expected) {
			cr_assert_gt(host, 0, "%s cache=%s: no guest flush reached the host", iface, cache);
			cr_assert_eq(dsync, fua, "%s cache=%s: %llu durable writes, %llu of them FUA",
				     iface, cache, dsync, fua);
		} else {
			cr_assert_eq(host, 0, "%s cache=%s: %llu host flushes", iface, cache, host);
			cr_assert_eq(dsync, 0, "%s cache=%s: a write went out durable", iface, cache);
		}
	} else {
		/* No cache advertised: no flushes from the guest, and every write durable. */
		cr_assert_eq(flushes, 0, "%s cache=%s: the guest flushed %llu times", iface, cache, flushes);
		cr_assert_eq(dsync, writes, "%s cache=%s: %llu of %llu writes durable", iface, cache, dsync, writes);
	}
	unlink(img);
	run_free(&r);
}

int crashcheck(const char *log, const char *args, char *out, size_t len)
{
	static char cmd[40000];
	snprintf(cmd, sizeof(cmd), "'%s' '%s' %s 2>&1", tool_path("kestrel-crashcheck"), log, args);
	FILE *p = popen(cmd, "r");
	cr_assert(p, "%s", cmd);
	size_t n = fread(out, 1, len - 1, p);
	out[n] = '\0';
	int st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

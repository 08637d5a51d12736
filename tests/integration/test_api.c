/*
 * Firecracker's API and config file driving a real guest: the
 * getting-started sequence with curl, and a --config-file whose drives use
 * kestrel's extension to pick AHCI and virtio-scsi with QEMU's cache modes.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/integration/harness.h"

#define API_TIMEOUT 240

static void make_image(const char *path, long size)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	cr_assert(fd >= 0 && ftruncate(fd, size) == 0, "cannot make %s", path);
	close(fd);
}

static char *slurp(const char *path)
{
	static char buf[8192];
	FILE *f = fopen(path, "r");
	size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
	if (f)
		fclose(f);
	buf[n] = '\0';
	return buf;
}

struct client {
	char cmd[4096];
	bool ran;
};

/* Once the socket is there, the client runs (the guest boots when it says InstanceStart). */
static void run_client(int pid, const char *out, void *arg)
{
	struct client *c = arg;
	(void)pid;
	(void)out;
	if (c->ran || access(scratch_path("api.sock"), F_OK))
		return;
	c->ran = true;
	if (system(c->cmd) != 0)
		fprintf(stderr, "client failed: %s\n", c->cmd);
}

Test(api, firecracker_getting_started_with_curl, .timeout = API_TIMEOUT + 60)
{
	char sock[512];
	snprintf(sock, sizeof(sock), "%s", scratch_path("api.sock"));
	unlink(sock);
	char rootfs[512], codes[512], log[512];
	snprintf(rootfs, sizeof(rootfs), "%s", scratch_path("api-rootfs.img"));
	snprintf(codes, sizeof(codes), "%s", scratch_path("api-codes"));
	snprintf(log, sizeof(log), "%s", scratch_path("api-kestrel.log"));
	unlink(log);
	make_image(rootfs, 64 << 20);
	/* The root drive's root= must come before init's arguments. */
	const char *boot_args = "console=ttyS0 panic=-1 quiet -- "
		"echo CMDLINE_ROOT=$(grep -c root=/dev/vda.rw.-- /proc/cmdline); "
		"echo VDA_SECTORS=$(cat /sys/block/vda/size); echo VDA_SERIAL=$(cat /sys/block/vda/serial); "
		"echo CPUS=$(grep -c ^processor /proc/cpuinfo)";
	struct client c = {.ran = false};
	snprintf(c.cmd, sizeof(c.cmd), "%s/api-getting-started '%s' '%s' '%s' '%s' '%s' '%s' >'%s' 2>&1",
		 KESTREL_TEST_SCRIPTS, sock, guest_file("vmlinuz"), guest_file("initrd.img"), rootfs,
		 log, boot_args, codes);
	const char *args[] = {"--api-sock", sock, "--id", "curl_test", "--stats", NULL};
	struct run r = run_kestrel_watched(args, API_TIMEOUT, run_client, &c);
	cr_assert_not(r.timed_out, "the guest did not power off in %ds:\n%s", API_TIMEOUT, r.out);
	const char *got = slurp(codes);
	cr_assert(c.ran, "the API socket never appeared:\n%s", r.out);
	cr_assert(strstr(got, "logger 204\nboot-source 204\nrootfs 204\nmachine-config 204\nstart 204\n"),
		  "not every call got 204:\n%s\nkestrel:\n%s", got, r.out);
	cr_assert(strstr(got, "\"state\":\"Running\""), "GET / after InstanceStart:\n%s", got);
	cr_assert_eq(r.status, 0, "exit %d:\n%s", r.status, r.out);
	cr_assert(strstr(r.out, "KESTREL-GUEST-INIT"), "no init marker:\n%s", r.out);
	char v[64];
	cr_assert_str_eq(guest_value(&r, "CMDLINE_ROOT", v, sizeof(v)), "1",
			 "root=/dev/vda rw not before --:\n%s", r.out);
	cr_assert_str_eq(guest_value(&r, "VDA_SECTORS", v, sizeof(v)), "131072", "%s", r.out);
	cr_assert_str_eq(guest_value(&r, "VDA_SERIAL", v, sizeof(v)), "rootfs",
			 "the drive id is the disk's serial, as in Firecracker:\n%s", r.out);
	cr_assert_str_eq(guest_value(&r, "CPUS", v, sizeof(v)), "2", "machine-config:\n%s", r.out);
	/* PUT /logger's file gets kestrel's messages from InstanceStart on. */
	cr_assert(strstr(slurp(log), "guest powered off"), "logger file:\n%s", slurp(log));
	cr_assert_neq(access(sock, F_OK), 0, "the socket is left behind");
	run_free(&r);
}

Test(api, config_file_with_kestrel_drive_extensions, .timeout = RUN_ATTEMPTS * API_TIMEOUT + 30)
{
	char img[4][512], cfg[512];
	const char *names[] = {"cf-root.img", "cf-scsi.img", "cf-sata.img", "cf-unsafe.img"};
	for (unsigned i = 0; i < 4; i++) {
		snprintf(img[i], sizeof(img[i]), "%s", scratch_path(names[i]));
		make_image(img[i], (long)(i + 1) << 24);
	}
	snprintf(cfg, sizeof(cfg), "%s", scratch_path("vm-config.json"));
	FILE *f = fopen(cfg, "w");
	cr_assert_not_null(f);
	/* Firecracker's own sample's shape, nulls and all, plus kestrel's drive object. */
	fprintf(f,
		"{\"boot-source\": {\"kernel_image_path\": \"%s\", \"initrd_path\": \"%s\", "
		/* No quotes: the kernel's command line does not keep them. */
		"\"boot_args\": \"console=ttyS0 panic=-1 quiet -- for d in /sys/block/vd? /sys/block/sd?; do "
		"echo WC_$(cat $d/device/vendor 2>/dev/null | tr -d [:space:])$(basename $d)=$(cat "
		"$d/queue/write_cache | tr -d [:space:])_$(cat $d/size); done\"},\n"
		" \"drives\": [\n"
		"  {\"drive_id\": \"rootfs\", \"path_on_host\": \"%s\", \"is_root_device\": true, "
		"\"partuuid\": null, \"is_read_only\": false, \"cache_type\": \"Writeback\", "
		"\"io_engine\": \"Sync\", \"rate_limiter\": null, \"socket\": null},\n"
		"  {\"drive_id\": \"scsi0\", \"path_on_host\": \"%s\", \"is_root_device\": false, "
		"\"kestrel\": {\"interface\": \"virtio-scsi\", \"cache\": \"none\"}},\n"
		"  {\"drive_id\": \"sata0\", \"path_on_host\": \"%s\", \"is_root_device\": false, "
		"\"kestrel\": {\"interface\": \"ahci\", \"cache\": \"writethrough\"}},\n"
		"  {\"drive_id\": \"scratch\", \"path_on_host\": \"%s\", \"is_root_device\": false, "
		"\"cache_type\": \"Unsafe\"}],\n"
		" \"machine-config\": {\"vcpu_count\": 1, \"mem_size_mib\": 256, \"smt\": false, "
		"\"track_dirty_pages\": false, \"huge_pages\": \"None\"},\n"
		" \"cpu-config\": null, \"balloon\": null, \"network-interfaces\": [], \"vsock\": null, "
		"\"logger\": null, \"metrics\": null, \"mmds-config\": null, \"entropy\": null}\n",
		guest_file("vmlinuz"), guest_file("initrd.img"), img[0], img[1], img[2], img[3]);
	fclose(f);
	const char *args[] = {"--no-api", "--config-file", cfg, "--stats", NULL};
	struct run r = run_kestrel(args, API_TIMEOUT);
	cr_assert_not(r.timed_out, "no power-off in %ds:\n%s", API_TIMEOUT, r.out);
	cr_assert_eq(r.status, 0, "exit %d:\n%s", r.status, r.out);
	/* virtio-blk in config order (WC_<virtio vendor id>vdX): the root drive, then the Unsafe one. */
	cr_assert(strstr(r.out, "vda=writeback_32768"), "root drive:\n%s", r.out);
	cr_assert(strstr(r.out, "vdb=writeback_131072"),
		  "Unsafe is kestrel's unsafe: a write cache the guest is told about:\n%s", r.out);
	/* The SCSI disk (vendor KESTREL, cache none: a write cache) and the SATA one (writethrough). */
	const char *scsi = strstr(r.out, "WC_KESTREL");
	const char *sata = strstr(r.out, "WC_ATA");
	cr_assert(scsi && strstr(scsi, "=writeback_65536"), "virtio-scsi disk:\n%s", r.out);
	cr_assert(sata && strstr(sata, "=writethrough_98304"), "AHCI disk:\n%s", r.out);
	cr_assert(strstr(r.out, "drive scratch: cache unsafe"), "no warning for Unsafe:\n%s", r.out);
	run_free(&r);
}

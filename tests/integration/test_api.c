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

/*
 * Pause and resume under fio load, with metrics: while paused, two
 * FlushMetrics lines a while apart show no disk I/O at all; after Resumed,
 * fio's verify passes; and the metrics' deltas add up to what --stats
 * counted.
 */
struct pauser {
	char sock[512];
	char metrics[512];
	int step;
	int paused_line; /* index of the line flushed while paused */
};

static int count_lines(const char *path)
{
	int n = 0;
	for (const char *c = slurp(path); *c; c++)
		n += *c == '\n';
	return n;
}

static int api_call(const char *sock, const char *method, const char *path, const char *body)
{
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), "curl -s -o /dev/null -w '%%{http_code}' --unix-socket '%s' -X %s "
		 "http://localhost%s -d '%s' >%s", sock, method, path, body, scratch_path("api-code"));
	if (system(cmd) != 0)
		return -1;
	return atoi(slurp(scratch_path("api-code")));
}

static void pause_under_load(int pid, const char *out, void *arg)
{
	struct pauser *p = arg;
	(void)pid;
	const char *flush = "{\"action_type\": \"FlushMetrics\"}";
	if (p->step == 0 && strstr(out, "FIO-START")) {
		sleep(2); /* fio is writing */
		bool ok = api_call(p->sock, "PUT", "/actions", flush) == 204 &&
			  api_call(p->sock, "PATCH", "/vm", "{\"state\": \"Paused\"}") == 204;
		usleep(500 * 1000); /* what the host still had in hand completes */
		ok = ok && api_call(p->sock, "PUT", "/actions", flush) == 204;
		sleep(2);
		p->paused_line = count_lines(p->metrics); /* a 60-second line may have come too */
		ok = ok && api_call(p->sock, "PUT", "/actions", flush) == 204 &&
		     api_call(p->sock, "PATCH", "/vm", "{\"state\": \"Resumed\"}") == 204;
		p->step = ok ? 1 : -1;
	} else if (p->step == 1 && strstr(out, "IO-DONE")) {
		p->step = api_call(p->sock, "PUT", "/actions", flush) == 204 ? 2 : -2;
	}
}

/* Sum of a block_disk0 counter over the metrics lines, and its value in line `only` (or -1). */
static long long metric(const char *lines, const char *field, int only, long long *in_line)
{
	long long sum = 0;
	int n = 0;
	char key[64];
	snprintf(key, sizeof(key), "\"%s\":", field);
	for (const char *l = lines; *l; n++) {
		const char *end = strchr(l, '\n');
		const char *blk = strstr(l, "\"block_disk0\":");
		const char *v = blk ? strstr(blk, key) : NULL;
		if (v && (!end || v < end)) {
			long long x = atoll(v + strlen(key));
			sum += x;
			if (n == only)
				*in_line = x;
		}
		if (!end)
			break;
		l = end + 1;
	}
	return sum;
}

Test(api, pause_and_resume_under_fio_with_metrics, .timeout = API_TIMEOUT + 60)
{
	struct pauser p = {.step = 0};
	snprintf(p.sock, sizeof(p.sock), "%s", scratch_path("pause.sock"));
	unlink(p.sock);
	char img[512], mpath[512];
	snprintf(img, sizeof(img), "%s", scratch_path("pause.img"));
	snprintf(mpath, sizeof(mpath), "%s", scratch_path("pause.metrics"));
	snprintf(p.metrics, sizeof(p.metrics), "%s", mpath);
	unlink(mpath);
	make_image(img, 64 << 20);
	char disk[600];
	snprintf(disk, sizeof(disk), "path=%s,if=virtio-blk,cache=none", img);
	const char *cmdline = "console=ttyS0 panic=-1 quiet -- echo FIO-START; fio --name=p "
		"--filename=/dev/vda --rw=randwrite --bs=4k --size=48M --ioengine=libaio --iodepth=8 "
		"--direct=1 --verify=crc32c --verify_fatal=1 --eta=never >/dev/null; echo FIO_RC=$?; "
		"echo IO-DONE; sleep 3";
	/* fio comes with the tools initramfs; 512M holds it. */
	const char *args[] = {"--kernel", guest_file("vmlinuz"), "--initrd", guest_file("initrd-tools.img"),
			      "--mem", "512M", "--cmdline", cmdline, "--disk", disk, "--api-sock", p.sock,
			      "--metrics-path", mpath, "--stats", NULL};
	struct run r = run_kestrel_watched(args, API_TIMEOUT, pause_under_load, &p);
	cr_assert_not(r.timed_out, "no power-off in %ds:\n%s", API_TIMEOUT, r.out);
	cr_assert_eq(r.status, 0, "exit %d:\n%s", r.status, r.out);
	cr_assert_eq(p.step, 2, "an API call failed (step %d):\n%s", p.step, r.out);
	char v[16];
	cr_assert_str_eq(guest_value(&r, "FIO_RC", v, sizeof(v)), "0", "fio verify:\n%s", r.out);
	const char *lines = slurp(mpath);
	long long paused_writes = -1, paused_reads = -1, first_writes = -1;
	long long writes = metric(lines, "write_count", p.paused_line, &paused_writes);
	long long reads = metric(lines, "read_count", p.paused_line, &paused_reads);
	metric(lines, "write_count", 0, &first_writes);
	cr_assert_gt(first_writes, 0, "no writes before the pause:\n%s", lines);
	cr_assert_eq(paused_writes, 0, "writes while paused:\n%s", lines);
	cr_assert_eq(paused_reads, 0, "reads while paused:\n%s", lines);
	/* The deltas add up to the totals --stats prints at exit. */
	char want[96];
	snprintf(want, sizeof(want), "reads %lld (", reads);
	cr_assert(strstr(r.out, want), "metrics say %s, --stats says:\n%s\nmetrics:\n%s", want, r.out, lines);
	snprintf(want, sizeof(want), "writes %lld (", writes);
	cr_assert(strstr(r.out, want), "metrics say %s, --stats says:\n%s\nmetrics:\n%s", want, r.out, lines);
	run_free(&r);
}

/*
 * The Go SDK's call order as firectl makes it, byte for byte, then the
 * SDK's Shutdown(): SendCtrlAltDel reaches the guest's keyboard (i8042,
 * PNP0303), Linux reboots, and kestrel exits 0.
 */
struct sdk {
	char start[4096], cad[2048];
	int step;
};

static void sdk_client(int pid, const char *out, void *arg)
{
	struct sdk *c = arg;
	(void)pid;
	if (c->step == 0) {
		c->step = system(c->start) == 0 ? 1 : -1;
	} else if (c->step == 1 && strstr(out, "WAITING-FOR-CAD")) {
		c->step = system(c->cad) == 0 ? 2 : -2;
	}
}

Test(api, go_sdk_call_order_then_ctrl_alt_del, .timeout = API_TIMEOUT + 60)
{
	char sock[512], rootfs[512], log[512], metrics[512], codes[512];
	snprintf(sock, sizeof(sock), "%s", scratch_path("sdk.sock"));
	snprintf(rootfs, sizeof(rootfs), "%s", scratch_path("sdk-rootfs.img"));
	snprintf(log, sizeof(log), "%s", scratch_path("sdk.log"));
	snprintf(metrics, sizeof(metrics), "%s", scratch_path("sdk.metrics"));
	snprintf(codes, sizeof(codes), "%s", scratch_path("sdk-codes"));
	unlink(sock);
	make_image(rootfs, 16 << 20);
	/* The guest shows it found the keyboard, then waits far longer than the test. */
	const char *boot_args = "console=ttyS0 panic=-1 quiet -- echo KBD=$(ls /sys/bus/serio/devices | "
				"wc -l); echo WAITING-FOR-CAD; sleep 600";
	struct sdk c = {.step = 0};
	snprintf(c.start, sizeof(c.start), "%s/api-sdk-replay '%s' start '%s' '%s' '%s' '%s' '%s' '%s' >'%s' 2>&1",
		 KESTREL_TEST_SCRIPTS, sock, guest_file("vmlinuz"), guest_file("initrd.img"), rootfs, log,
		 metrics, boot_args, codes);
	snprintf(c.cad, sizeof(c.cad), "%s/api-sdk-replay '%s' cad >>'%s' 2>&1", KESTREL_TEST_SCRIPTS,
		 sock, codes);
	/* As the SDK starts Firecracker: --api-sock, --id, --no-seccomp. */
	const char *args[] = {"--api-sock", sock, "--id", "4a1c0d5e-sdk", "--no-seccomp", NULL};
	struct run r = run_kestrel_watched(args, API_TIMEOUT, sdk_client, &c);
	const char *got = slurp(codes);
	cr_assert_not(r.timed_out, "SendCtrlAltDel did not end the VM in %ds (step %d):\n%s\n%s",
		      API_TIMEOUT, c.step, got, r.out);
	cr_assert_eq(c.step, 2, "client step %d:\n%s\n%s", c.step, got, r.out);
	cr_assert(strstr(got, "logger 204\nmetrics 204\nmachine-config 204\nget-machine-config 200\n"
			      "vcpu_count 1\nboot-source 204\ndrive 204\nstart 204\nctrl-alt-del 204\n"),
		  "the SDK's calls:\n%s", got);
	cr_assert_eq(r.status, 0, "exit %d:\n%s", r.status, r.out);
	cr_assert(strstr(r.out, "guest requested a reboot"), "%s", r.out);
	char v[16];
	cr_assert_not_null(guest_value(&r, "KBD", v, sizeof(v)), "%s", r.out);
	cr_assert_neq(strcmp(v, "0"), 0, "the guest found no keyboard:\n%s", r.out);
	run_free(&r);
}

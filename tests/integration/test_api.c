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

/* A new scratch file to write (a config file); its path in path. */
static FILE *scratch_file(const char *name, char *path, size_t len)
{
	snprintf(path, len, "%s", scratch_path(name));
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f, "cannot write %s", path);
	return f;
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

/* Before a second run after a rig fault: the client runs again, on a new socket. */
static void client_reset(void *arg)
{
	struct client *c = arg;
	c->ran = false;
	unlink(scratch_path("api.sock"));
}

Test(api, firecracker_getting_started_with_curl, .timeout = RUN_ATTEMPTS * API_TIMEOUT + 60)
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
	struct run r = run_kestrel_watched_again(args, API_TIMEOUT, run_client, &c, client_reset);
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
	FILE *f = scratch_file("vm-config.json", cfg, sizeof(cfg));
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
	return api_request(sock, method, path, body, NULL, 0);
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

static void pauser_reset(void *arg)
{
	struct pauser *p = arg;
	p->step = 0;
	p->paused_line = 0;
	unlink(p->sock);
	unlink(p->metrics);
}

/* A field of block_disk0's latency aggregate `agg` in metrics line `n`, or -1. */
static long long latency(const char *lines, int n, const char *agg, const char *field)
{
	for (int i = 0; i < n && lines; i++) {
		lines = strchr(lines, '\n');
		if (lines)
			lines++;
	}
	const char *end = lines ? strchr(lines, '\n') : NULL;
	char key[64];
	snprintf(key, sizeof(key), "\"%s\":{", agg);
	const char *b = lines ? strstr(lines, "\"block_disk0\":") : NULL;
	const char *a = b ? strstr(b, key) : NULL;
	snprintf(key, sizeof(key), "\"%s\":", field);
	const char *v = a ? strstr(a, key) : NULL;
	if (!v || (end && v > end))
		return -1;
	return atoll(v + strlen(key));
}

Test(api, pause_and_resume_under_fio_with_metrics, .timeout = RUN_ATTEMPTS * API_TIMEOUT + 60)
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
	struct run r = run_kestrel_watched_again(args, API_TIMEOUT, pause_under_load, &p, pauser_reset);
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
	/* Firecracker's latency aggregates: fio's writes took time, and none happened while paused. */
	long long wmin = latency(lines, 0, "write_agg", "min_us"), wmax = latency(lines, 0, "write_agg", "max_us");
	cr_assert(latency(lines, 0, "write_agg", "sum_us") > 0 && wmin > 0 && wmax >= wmin,
		  "write_agg of the first line (min %lld, max %lld):\n%s", wmin, wmax, lines);
	cr_assert_eq(latency(lines, p.paused_line, "write_agg", "sum_us"), 0, "%s", lines);
	cr_assert_eq(latency(lines, p.paused_line, "write_agg", "max_us"), 0, "%s", lines);
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

static void sdk_reset(void *arg)
{
	struct sdk *c = arg;
	c->step = 0;
	unlink(scratch_path("sdk.sock"));
}

Test(api, go_sdk_call_order_then_ctrl_alt_del, .timeout = RUN_ATTEMPTS * API_TIMEOUT + 60)
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
	struct run r = run_kestrel_watched_again(args, API_TIMEOUT, sdk_client, &c, sdk_reset);
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

/*
 * PATCH /drives under a running guest, on every interface: Firecracker's
 * way of giving placeholder drives their images (firecracker-containerd,
 * Kata). The guest sees each new size without being told (virtio-blk's
 * config interrupt; virtio-scsi's parameter-change event and unit
 * attention), reads the new contents and writes to the new files; what it
 * wrote before stays in the old ones. An empty virtio-blk placeholder, a
 * refused AHCI resize, an unknown drive and a missing file are covered too.
 */
enum { M_BLK, M_EMPTY, M_SCSI, M_SATA, M_N };
static const char *const m_role[M_N] = {"blk", "empty", "scsi", "sata"};
static const char *const m_id[M_N] = {"rootfs", "drive_0", "scsi1", "sata1"};
static const char *const m_mark[M_N] = {"NEWBLK01", "NEWEMPTY", "NEWSCSI1", "NEWSATA1"};
static const long m_old_size[M_N] = {1 << 20, 0, 1 << 20, 2 << 20};
static const long m_new_size[M_N] = {8 << 20, 4 << 20, 6 << 20, 2 << 20};

struct swapper {
	char sock[512];
	char old[M_N][512], new[M_N][512], wrong[512];
	int step;
	char why[1024];
};

static void make_marked_image(const char *path, long size, const char *mark)
{
	make_image(path, size);
	int fd = open(path, O_WRONLY);
	cr_assert(fd >= 0 && pwrite(fd, mark, strlen(mark), 0) == (ssize_t)strlen(mark));
	close(fd);
}

/* Whether the file holds `what` at offset `off`. */
static bool holds(const char *path, long off, const char *what)
{
	char got[16] = "";
	int fd = open(path, O_RDONLY);
	ssize_t n = fd >= 0 ? pread(fd, got, strlen(what), off) : -1;
	if (fd >= 0)
		close(fd);
	return n == (ssize_t)strlen(what) && !memcmp(got, what, strlen(what));
}

static bool patch_expect(struct swapper *w, const char *id, const char *path, int want,
			 const char *in_body)
{
	char body[1024], resp[1024], url[128];
	snprintf(url, sizeof(url), "/drives/%s", id);
	snprintf(body, sizeof(body), "{\"drive_id\": \"%s\", \"path_on_host\": \"%s\"}", id, path);
	int code = api_request(w->sock, "PATCH", url, body, resp, sizeof(resp));
	if (code == want && (!in_body || strstr(resp, in_body)))
		return true;
	snprintf(w->why, sizeof(w->why), "PATCH %s to %.300s: %d %.400s (wanted %d %s)", id, path, code, resp,
		 want, in_body ? in_body : "");
	return false;
}

static void swap_when_ready(int pid, const char *out, void *arg)
{
	struct swapper *w = arg;
	(void)pid;
	if (w->step != 0 || !strstr(out, "MEDIA-READY"))
		return;
	char cfg[8192];
	/* AHCI first (its size does not change), then the two the guest waits for. */
	bool ok = patch_expect(w, m_id[M_SATA], w->wrong, 400, "keeps its size") &&
		  patch_expect(w, "nope", w->new[M_BLK], 400, "Invalid block device ID") &&
		  patch_expect(w, m_id[M_BLK], "/nonexistent.img", 400, "No such file") &&
		  patch_expect(w, m_id[M_SATA], w->new[M_SATA], 204, NULL) &&
		  patch_expect(w, m_id[M_SCSI], w->new[M_SCSI], 204, NULL) &&
		  patch_expect(w, m_id[M_EMPTY], w->new[M_EMPTY], 204, NULL) &&
		  patch_expect(w, m_id[M_BLK], w->new[M_BLK], 204, NULL);
	if (ok && api_request(w->sock, "GET", "/vm/config", NULL, cfg, sizeof(cfg)) != 200) {
		snprintf(w->why, sizeof(w->why), "GET /vm/config: %.900s", cfg);
		ok = false;
	}
	if (ok && !strstr(cfg, w->new[M_BLK])) {
		snprintf(w->why, sizeof(w->why), "GET /vm/config lacks the new path: %.900s", cfg);
		ok = false;
	}
	w->step = ok ? 1 : -1;
}

/* The images as they are before the guest starts; and the watcher's start. */
static void swapper_reset(void *arg)
{
	struct swapper *w = arg;
	w->step = 0;
	w->why[0] = '\0';
	unlink(w->sock);
	for (unsigned i = 0; i < M_N; i++) {
		make_image(w->old[i], m_old_size[i]);
		make_marked_image(w->new[i], m_new_size[i], m_mark[i]);
	}
	make_image(w->wrong, 3 << 20);
}

Test(api, patch_drives_swaps_images_under_a_running_guest, .timeout = RUN_ATTEMPTS * API_TIMEOUT + 60)
{
	struct swapper w;
	snprintf(w.sock, sizeof(w.sock), "%s", scratch_path("swap.sock"));
	char name[64];
	for (unsigned i = 0; i < M_N; i++) {
		snprintf(name, sizeof(name), "swap-old-%s.img", m_role[i]);
		snprintf(w.old[i], sizeof(w.old[i]), "%s", scratch_path(name));
		snprintf(name, sizeof(name), "swap-new-%s.img", m_role[i]);
		snprintf(w.new[i], sizeof(w.new[i]), "%s", scratch_path(name));
	}
	snprintf(w.wrong, sizeof(w.wrong), "%s", scratch_path("swap-wrong-size.img"));
	swapper_reset(&w);
	char cfg[512];
	FILE *f = scratch_file("swap-config.json", cfg, sizeof(cfg));
	fprintf(f,
		"{\"boot-source\": {\"kernel_image_path\": \"%s\", \"initrd_path\": \"%s\", "
		"\"boot_args\": \"console=ttyS0 panic=-1 quiet -- disk-test media-change\"},\n"
		" \"drives\": [\n"
		"  {\"drive_id\": \"rootfs\", \"path_on_host\": \"%s\", \"is_root_device\": false},\n"
		"  {\"drive_id\": \"drive_0\", \"path_on_host\": \"%s\", \"is_root_device\": false},\n"
		"  {\"drive_id\": \"scsi1\", \"path_on_host\": \"%s\", \"is_root_device\": false, "
		"\"kestrel\": {\"interface\": \"virtio-scsi\"}},\n"
		"  {\"drive_id\": \"sata1\", \"path_on_host\": \"%s\", \"is_root_device\": false, "
		"\"kestrel\": {\"interface\": \"ahci\"}}],\n"
		" \"machine-config\": {\"vcpu_count\": 1, \"mem_size_mib\": 256}}\n",
		guest_file("vmlinuz"), guest_file("initrd.img"), w.old[M_BLK], w.old[M_EMPTY],
		w.old[M_SCSI], w.old[M_SATA]);
	fclose(f);
	const char *args[] = {"--api-sock", w.sock, "--config-file", cfg, "--stats", NULL};
	struct run r = run_kestrel_watched_again(args, API_TIMEOUT, swap_when_ready, &w, swapper_reset);
	cr_assert_not(r.timed_out, "no power-off in %ds (step %d):\n%s", API_TIMEOUT, w.step, r.out);
	cr_assert_eq(w.step, 1, "the API calls (step %d): %s\n%s", w.step, w.why, r.out);
	cr_assert_eq(r.status, 0, "exit %d:\n%s", r.status, r.out);
	char v[64], key[64];
	cr_assert_null(guest_value(&r, "MEDIA_TIMEOUT", v, sizeof(v)), "the guest never saw the new "
		       "sizes:\n%s", r.out);
	for (unsigned i = 0; i < M_N; i++) {
		snprintf(key, sizeof(key), "MEDIA_SIZE_%s", m_role[i]);
		cr_assert_eq(atol(guest_value(&r, key, v, sizeof(v)) ? v : "-1"), m_new_size[i] / 512,
			     "%s: the guest's size of the new image:\n%s", m_role[i], r.out);
		snprintf(key, sizeof(key), "MEDIA_HEAD_%s", m_role[i]);
		cr_assert_str_eq(guest_value(&r, key, v, sizeof(v)) ? v : "", m_mark[i],
				 "%s: what the guest reads is the new image:\n%s", m_role[i], r.out);
		snprintf(key, sizeof(key), "MEDIA_WRITE_%s", m_role[i]);
		cr_assert_not_null(guest_value(&r, key, v, sizeof(v)), "%s: write:\n%s", m_role[i], r.out);
		cr_assert(holds(w.new[i], 8192, "NEW-DATA"), "%s: the guest's write is not in the new "
			  "image", m_role[i]);
		if (i == M_EMPTY)
			continue;
		cr_assert(holds(w.old[i], 4096, "OLD-DATA"), "%s: what the guest wrote before the swap "
			  "is not in the old image", m_role[i]);
		cr_assert_not(holds(w.new[i], 4096, "OLD-DATA"), "%s: old data in the new image", m_role[i]);
		cr_assert_not(holds(w.old[i], 8192, "NEW-DATA"), "%s: new data in the old image", m_role[i]);
	}
	run_free(&r);
}

/*
 * virtio-vsock with a real guest: Debian's vsock modules and socat in the
 * guest, socat on the host (tests/integration/vsock-host), Firecracker's
 * hybrid protocol between them. Both directions with data checked (three
 * 2 MB connections at once each way), a port nobody listens on each way, a
 * garbage first line, a host client that never sends its line, one that
 * goes away mid-transfer and one that stops reading (kestrel's memory stays
 * bounded), the guest closing first, and the VM powering off with
 * connections still open. The same through the API's PUT /vsock.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/integration/disk_helpers.h"

#define VSOCK_TIMEOUT 300

struct host_side {
	char dir[512], uds[600], results[700];
	bool listening, ran;
};

static void host(const struct host_side *h, const char *what, const char *redirect)
{
	char cmd[2048];
	snprintf(cmd, sizeof(cmd), "%s/vsock-host %s '%s' '%s' %s", KESTREL_TEST_SCRIPTS, what, h->uds,
		 h->dir, redirect);
	if (system(cmd) != 0)
		fprintf(stderr, "vsock-host %s failed\n", what);
}

/* Servers once kestrel listens on uds_path; the clients once the guest is ready. */
static void drive(int pid, const char *out, void *arg)
{
	struct host_side *h = arg;
	(void)pid;
	if (!h->listening && access(h->uds, F_OK) == 0) {
		h->listening = true;
		host(h, "listen", "");
	}
	if (h->listening && !h->ran && strstr(out, "VSOCK-GUEST-READY")) {
		h->ran = true;
		char redirect[800];
		snprintf(redirect, sizeof(redirect), ">'%s' 2>&1", h->results);
		host(h, "clients", redirect);
	}
}

static void host_side_init(struct host_side *h, const char *name)
{
	snprintf(h->dir, sizeof(h->dir), "%s", scratch_path(name));
	char cmd[1200];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s' && mkdir '%s'", h->dir, h->dir);
	cr_assert_eq(system(cmd), 0);
	snprintf(h->uds, sizeof(h->uds), "%s/v.sock", h->dir);
	snprintf(h->results, sizeof(h->results), "%s/results", h->dir);
	h->listening = h->ran = false;
}

static void expect_result(const char *results, const char *key, const char *want)
{
	char line[256];
	snprintf(line, sizeof(line), "%s=%s\n", key, want);
	cr_expect(strstr(results, line), "the host's side lacks %s=%s:\n%s", key, want, results);
}

static void expect_vsock_run(struct host_side *h, struct run *r)
{
	cr_assert_not(r->timed_out, "kestrel did not exit:\n%s", r->out);
	host(h, "stop", "");
	cr_assert(h->ran, "the guest never got ready:\n%s", r->out);
	cr_expect_eq(r->status, 0, "exit %d:\n%s", r->status, r->out);
	cr_expect(strstr(r->out, "VSOCK-GUEST-DONE"), "%s", r->out);
	/* guest → host */
	char key[16];
	for (unsigned i = 1; i <= 3; i++) {
		snprintf(key, sizeof(key), "G2H_%u", i);
		expect_value(r, key, "ok");
	}
	expect_value(r, "G2H_NOLISTEN", "reset");
	expect_value(r, "G_CLOSE_FIRST", "sent");
	char closed[700];
	snprintf(closed, sizeof(closed), "%s/closed-first", h->dir);
	cr_expect_str_eq(slurp(closed), "guest-closes-first\n", "what the host got from the guest");
	/* host → guest */
	char results[8192];
	snprintf(results, sizeof(results), "%s", slurp(h->results));
	for (unsigned i = 1; i <= 4; i++) {
		snprintf(key, sizeof(key), "H2G_%u", i);
		expect_result(results, key, "ok");
	}
	/* Firecracker's first host port went to one of the three concurrent clients. */
	cr_expect(strstr(results, "_PORT=1073741824\n"), "no client got OK 1073741824:\n%s", results);
	expect_result(results, "H2G_NOLISTEN_BYTES", "0");
	expect_result(results, "H2G_GARBAGE_BYTES", "0");
	expect_result(results, "H2G_KILLED", "137");
	expect_result(results, "H2G_DONE_SENT", "0");
	/* Nothing the clients did grew kestrel beyond its bounded buffers. */
	const char *rss = strstr(r->out, "monitor's own ");
	cr_assert_not_null(rss, "%s", r->out);
	long own_kib = atol(rss + strlen("monitor's own "));
	cr_expect_lt(own_kib, 96 << 10, "kestrel's own memory reached %ld KiB", own_kib);
	cr_expect(strstr(r->out, "stats: vsock: connections "), "%s", r->out);
}

static const char *const GUEST_CMD = "console=ttyS0 panic=-1 quiet -- disk-test vsock";

Test(vsock, both_ways_with_hostile_clients_on_the_command_line,
     .timeout = VSOCK_TIMEOUT + 60)
{
	struct host_side h;
	host_side_init(&h, "vsock-cli");
	char spec[700];
	snprintf(spec, sizeof(spec), "cid=3,uds=%s", h.uds);
	const char *args[] = {"--kernel", guest_file("vmlinux"), "--initrd",
			      guest_file("initrd-tools.img"), "--mem", "512M", "--cpus", "2", "--stats",
			      "--vsock", spec, "--cmdline", GUEST_CMD, NULL};
	struct run r = run_kestrel_watched(args, VSOCK_TIMEOUT, drive, &h);
	expect_vsock_run(&h, &r);
	cr_expect_neq(access(h.uds, F_OK), 0, "kestrel left its socket behind");
	run_free(&r);
}

/* PUT /vsock as the Go SDK sends it (vsock_id too), then the same checks. */
struct api_vsock {
	struct host_side h;
	char sock[600];
	bool configured;
	char why[1200];
};

static void drive_api(int pid, const char *out, void *arg)
{
	struct api_vsock *a = arg;
	if (!a->configured && access(a->sock, F_OK) == 0) {
		a->configured = true;
		char body[1200], resp[512];
		snprintf(body, sizeof(body), "{\"guest_cid\": 3, \"uds_path\": \"%s\", \"vsock_id\": "
			 "\"root\"}", a->h.uds);
		char boot[1200];
		snprintf(boot, sizeof(boot), "{\"kernel_image_path\": \"%s\", \"initrd_path\": \"%s\", "
			 "\"boot_args\": \"%s\"}", guest_file("vmlinux"), guest_file("initrd-tools.img"),
			 GUEST_CMD);
		int codes[] = {
			api_request(a->sock, "PUT", "/machine-config",
				    "{\"vcpu_count\": 2, \"mem_size_mib\": 512}", resp, sizeof(resp)),
			api_request(a->sock, "PUT", "/boot-source", boot, resp, sizeof(resp)),
			api_request(a->sock, "PUT", "/vsock", body, resp, sizeof(resp)),
			api_request(a->sock, "PUT", "/actions", "{\"action_type\": \"InstanceStart\"}",
				    resp, sizeof(resp)),
		};
		for (unsigned i = 0; i < 4; i++)
			if (codes[i] != 204 && !a->why[0])
				snprintf(a->why, sizeof(a->why), "call %u: %d %s", i, codes[i], resp);
		if (api_request(a->sock, "PUT", "/vsock", body, resp, sizeof(resp)) != 400 && !a->why[0])
			snprintf(a->why, sizeof(a->why), "PUT /vsock after InstanceStart: %s", resp);
	}
	drive(pid, out, &a->h);
}

Test(vsock, put_vsock_through_the_api, .timeout = VSOCK_TIMEOUT + 60)
{
	struct api_vsock a = {.configured = false};
	host_side_init(&a.h, "vsock-api");
	snprintf(a.sock, sizeof(a.sock), "%s/api.sock", a.h.dir);
	const char *args[] = {"--api-sock", a.sock, "--stats", NULL};
	struct run r = run_kestrel_watched(args, VSOCK_TIMEOUT, drive_api, &a);
	cr_expect_eq(a.why[0], '\0', "%s", a.why);
	expect_vsock_run(&a.h, &r);
	run_free(&r);
}

/*
 * The API's pieces without a VM: HTTP framing (api/http.c), Firecracker's
 * bodies → vm_config (api/fc_config.c) and the routes' rules (api/api.c)
 * with a fake VM behind them. The socket itself is tested on the host by
 * tests/host/api-test, and with a real guest by tests/integration/test_api.c.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "api/api.h"
#include "api/fc_config.h"
#include "api/http.h"

static struct http_in in;

static enum http_event feed_all(const char *s, size_t *used)
{
	return http_in_feed(&in, s, strlen(s), used);
}

Test(http, pipelined_requests_come_one_at_a_time)
{
	http_in_init(&in);
	const char *two = "PUT /drives/a?x=1 HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}"
			  "GET / HTTP/1.1\r\n\r\n";
	size_t used;
	cr_assert_eq(feed_all(two, &used), HTTPIN_REQUEST);
	cr_assert_eq(in.req.method, REQ_PUT);
	cr_assert_str_eq(in.req.path, "/drives/a", "the query string is not part of the path");
	cr_assert_eq(in.req.body_len, 2);
	cr_assert(in.req.keep_alive && in.req.has_body);
	http_in_next(&in);
	size_t more;
	cr_assert_eq(http_in_feed(&in, two + used, strlen(two) - used, &more), HTTPIN_REQUEST);
	cr_assert_eq(in.req.method, REQ_GET);
	cr_assert_str_eq(in.req.path, "/");
	cr_assert_eq(in.req.body_len, 0);
	cr_assert_not(in.req.has_body);
}

Test(http, a_request_split_anywhere_is_the_same_request)
{
	const char *req = "PATCH /vm HTTP/1.1\r\nHost: x\r\nContent-Length: 20\r\n\r\n{\"state\": \"Paused\"}\n";
	for (size_t cut = 1; cut < strlen(req); cut++) {
		http_in_init(&in);
		size_t used;
		cr_assert_eq(http_in_feed(&in, req, cut, &used), HTTPIN_MORE, "cut at %zu", cut);
		cr_assert_eq(used, cut);
		cr_assert_eq(http_in_feed(&in, req + cut, strlen(req) - cut, &used), HTTPIN_REQUEST);
		cr_assert_eq(in.req.method, REQ_PATCH);
		cr_assert_eq(in.req.body_len, 20);
	}
}

Test(http, expect_continue_chunked_and_http_1_0)
{
	http_in_init(&in);
	size_t used;
	cr_assert_eq(feed_all("PUT /x HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n", &used),
		     HTTPIN_CONTINUE);
	http_in_continue_sent(&in);
	cr_assert_eq(feed_all("{}{}", &used), HTTPIN_REQUEST);

	http_in_init(&in);
	cr_assert_eq(feed_all("PUT /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
			      &used), HTTPIN_REQUEST);
	cr_assert_eq(in.req.body_len, 2);
	cr_assert(in.req.has_body);

	http_in_init(&in);
	cr_assert_eq(feed_all("GET / HTTP/1.0\r\n\r\n", &used), HTTPIN_REQUEST);
	cr_assert_not(in.req.keep_alive, "HTTP/1.0 closes unless asked to keep alive");
}

Test(http, limits_and_garbage_are_bad_requests)
{
	http_in_init(&in);
	size_t used;
	cr_assert_eq(feed_all("PUT /x HTTP/1.1\r\nContent-Length: 51201\r\n\r\n", &used), HTTPIN_BAD);
	cr_assert(strstr(in.error, "51201") && strstr(in.error, "51200"), "%s", in.error);
	http_in_init(&in);
	char url[HTTP_MAX_PATH + 32];
	snprintf(url, sizeof(url), "GET /%0*d HTTP/1.1\r\n\r\n", HTTP_MAX_PATH, 0);
	cr_assert_eq(feed_all(url, &used), HTTPIN_BAD);
	http_in_init(&in);
	cr_assert_eq(feed_all("\x01\x02 nonsense\r\n\r\n", &used), HTTPIN_BAD);
	cr_assert(strstr(in.error, "Invalid HTTP request"), "%s", in.error);
}

Test(http, a_204_has_no_body_and_no_length)
{
	size_t len;
	char *r = http_response(204, NULL, true, &len);
	cr_assert_str_eq(r, "HTTP/1.1 204 No Content\r\nServer: kestrel API\r\nConnection: keep-alive\r\n\r\n");
	free(r);
	r = http_response(400, "{}", false, &len);
	cr_assert(strstr(r, "Content-Length: 2\r\n") && strstr(r, "Connection: close\r\n"), "%s", r);
	free(r);
}

static struct fc_config fc;

static void fc_fresh(void)
{
	struct vm_config base;
	memset(&base, 0, sizeof(base));
	base.mem_size = 512ull << 20;
	base.cpus = 4;
	fc_config_init(&fc, &base);
}

static int put(int (*fn)(struct fc_config *, json_t *, char *, size_t), const char *json, char *err)
{
	json_t *j = fc_parse_json(json, strlen(json), err, 512);
	cr_assert_not_null(j, "%s", err);
	int r = fn(&fc, j, err, 512);
	json_decref(j);
	return r;
}

static int put_machine(struct fc_config *c, json_t *j, char *err, size_t len)
{
	return fc_put_machine_config(c, j, false, err, len);
}

static int drive(const char *id, const char *json, char *err)
{
	json_t *j = fc_parse_json(json, strlen(json), err, 512);
	cr_assert_not_null(j, "%s", err);
	int r = fc_put_drive(&fc, id, j, err, 512);
	json_decref(j);
	return r;
}

Test(fc_config, firecracker_defaults_and_the_root_drive)
{
	fc_fresh();
	char err[512];
	cr_assert_eq(fc.cfg.cpus, 1, "Firecracker's default, the command line did not say");
	cr_assert_eq(fc.cfg.mem_size, 128ull << 20);
	cr_assert_eq(put(fc_put_boot_source, "{\"kernel_image_path\": \"k\", \"initrd_path\": null}", err), 0, "%s", err);
	cr_assert_eq(drive("data", "{\"drive_id\": \"data\", \"path_on_host\": \"d\", \"is_root_device\": false}", err), 0, "%s", err);
	cr_assert_eq(drive("root", "{\"drive_id\": \"root\", \"path_on_host\": \"r\", \"is_root_device\": true, "
			   "\"is_read_only\": true}", err), 0, "%s", err);
	cr_assert_eq(fc_finish(&fc, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(fc.cfg.disks[0].path, "r", "the root drive is first");
	cr_assert_str_eq(fc.cfg.disks[0].serial, "root", "its id is its serial");
	cr_assert(fc.cfg.disks[0].readonly);
	cr_assert_eq(fc.cfg.disks[0].cache, BLK_CACHE_WRITEBACK, "no cache_type: writeback");
	cr_assert_eq(fc.cfg.disks[1].queues, 1, "config_finish's one queue per vCPU");
	cr_assert_str_eq(fc.cfg.cmdline, FC_DEFAULT_BOOT_ARGS " root=/dev/vda ro");
	cr_assert_null(fc.cfg.initrd);
}

Test(fc_config, root_goes_before_init_arguments_and_partuuid)
{
	fc_fresh();
	char err[512];
	cr_assert_eq(put(fc_put_boot_source, "{\"kernel_image_path\": \"k\", \"boot_args\": \"console=ttyS0 -- echo hi\"}", err), 0);
	cr_assert_eq(drive("r", "{\"drive_id\": \"r\", \"path_on_host\": \"r\", \"is_root_device\": true, "
			   "\"partuuid\": \"0eaa91a0-01\", \"kestrel\": {\"interface\": \"ahci\"}}", err), 0, "%s", err);
	cr_assert_eq(fc_finish(&fc, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(fc.cfg.cmdline, "console=ttyS0 root=PARTUUID=0eaa91a0-01 rw -- echo hi");
	cr_assert_eq(fc.cfg.disks[0].iface, DISK_IF_AHCI);
}

Test(fc_config, cache_types_and_the_kestrel_object)
{
	fc_fresh();
	char err[512];
	cr_assert_eq(drive("a", "{\"drive_id\": \"a\", \"path_on_host\": \"a\", \"is_root_device\": false, "
			   "\"cache_type\": \"Unsafe\"}", err), 0, "%s", err);
	cr_assert_eq(fc.cfg.disks[0].cache, BLK_CACHE_UNSAFE, "Unsafe says so: kestrel's unsafe");
	cr_assert_eq(drive("b", "{\"drive_id\": \"b\", \"path_on_host\": \"b\", \"is_root_device\": false, "
			   "\"cache_type\": \"Unsafe\", \"kestrel\": {\"interface\": \"virtio-scsi\", "
			   "\"cache\": \"directsync\", \"queues\": 2, \"log\": \"b.log\"}}", err), 0, "%s", err);
	cr_assert_eq(fc.cfg.disks[1].cache, BLK_CACHE_DIRECTSYNC, "the kestrel object wins");
	cr_assert_eq(fc.cfg.disks[1].iface, DISK_IF_VIRTIO_SCSI);
	cr_assert_eq(fc.cfg.disks[1].queues, 2);
	cr_assert_str_eq(fc.cfg.disks[1].log, "b.log");
	/* A re-PUT replaces; a bad one changes nothing. */
	cr_assert_eq(drive("a", "{\"drive_id\": \"a\", \"path_on_host\": \"a2\", \"is_root_device\": false}", err), 0);
	cr_assert_eq(fc.cfg.ndisks, 2);
	cr_assert_str_eq(fc.cfg.disks[0].path, "a2");
	cr_assert_neq(drive("a", "{\"drive_id\": \"a\", \"path_on_host\": \"a3\", \"is_root_device\": false, "
			    "\"kestrel\": {\"cache\": \"fast\"}}", err), 0);
	cr_assert(strstr(err, "drive a: cache='fast'"), "%s", err);
	cr_assert_str_eq(fc.cfg.disks[0].path, "a2");
	cr_assert_neq(drive("a", "{\"drive_id\": \"a\", \"path_on_host\": \"a\", \"is_root_device\": false, "
			    "\"cache_type\": \"Fast\"}", err), 0);
	cr_assert(strstr(err, "unknown variant `Fast`"), "%s", err);
}

Test(fc_config, bodies_are_checked_as_firecracker_checks_them)
{
	fc_fresh();
	char err[512];
	cr_assert_neq(put(fc_put_boot_source, "{\"kernel_image_path\": \"k\", \"initrd\": \"i\"}", err), 0);
	cr_assert(strstr(err, "unknown field `initrd`"), "%s", err);
	cr_assert_neq(put(fc_put_boot_source, "{\"boot_args\": \"x\"}", err), 0);
	cr_assert(strstr(err, "missing field `kernel_image_path`"), "%s", err);
	cr_assert_neq(put(put_machine, "{\"vcpu_count\": true, \"mem_size_mib\": 1}", err), 0);
	cr_assert(strstr(err, "invalid type for `vcpu_count`"), "%s", err);
	cr_assert_null(fc_parse_json("{\"a\": 1, \"a\": 2}", 16, err, sizeof(err)), "duplicate keys");
	cr_assert_neq(drive("x", "{\"drive_id\": \"y\", \"path_on_host\": \"p\", \"is_root_device\": false}", err), 0);
	cr_assert(strstr(err, "does not match"), "%s", err);
	for (int i = 0; i < CONFIG_MAX_DISKS; i++) {
		char id[8], body[128];
		snprintf(id, sizeof(id), "d%d", i);
		snprintf(body, sizeof(body), "{\"drive_id\": \"%s\", \"path_on_host\": \"p\", \"is_root_device\": false}", id);
		cr_assert_eq(drive(id, body, err), 0, "%s", err);
	}
	cr_assert_neq(drive("d9", "{\"drive_id\": \"d9\", \"path_on_host\": \"p\", \"is_root_device\": false}", err), 0);
	cr_assert(strstr(err, "at most 8"), "%s", err);
	/* PATCH keeps what it does not name; PUT resets it. */
	cr_assert_eq(put(put_machine, "{\"vcpu_count\": 2, \"mem_size_mib\": 256, \"smt\": true}", err), 0, "%s", err);
	json_t *j = fc_parse_json("{\"mem_size_mib\": 512}", 21, err, sizeof(err));
	cr_assert_eq(fc_put_machine_config(&fc, j, true, err, sizeof(err)), 0, "%s", err);
	json_decref(j);
	cr_assert(fc.smt && fc.cfg.cpus == 2 && fc.cfg.mem_size == 512ull << 20);
	cr_assert_eq(put(put_machine, "{\"vcpu_count\": 1, \"mem_size_mib\": 256}", err), 0);
	cr_assert_not(fc.smt);
	cr_assert_neq(fc_finish(&fc, err, sizeof(err)), 0, "no boot source");
	cr_assert(strstr(err, "without kernel configuration"), "%s", err);
}

Test(fc_config, firecrackers_sample_config_file)
{
	fc_fresh();
	char err[512];
	const char *sample =
		"{\"boot-source\": {\"kernel_image_path\": \"vmlinux.bin\", \"boot_args\": \"console=ttyS0 "
		"reboot=k panic=1\", \"initrd_path\": null},"
		" \"drives\": [{\"drive_id\": \"rootfs\", \"partuuid\": null, \"is_root_device\": true, "
		"\"cache_type\": \"Unsafe\", \"is_read_only\": false, \"path_on_host\": \"bionic.rootfs.ext4\", "
		"\"io_engine\": \"Sync\", \"rate_limiter\": null, \"socket\": null}],"
		" \"machine-config\": {\"vcpu_count\": 2, \"mem_size_mib\": 1024, \"smt\": false, "
		"\"track_dirty_pages\": false, \"huge_pages\": \"None\"},"
		" \"cpu-config\": null, \"balloon\": null, \"network-interfaces\": [], \"vsock\": null, "
		"\"logger\": null, \"metrics\": null, \"mmds-config\": null, \"entropy\": null}";
	json_t *j = fc_parse_json(sample, strlen(sample), err, sizeof(err));
	cr_assert_not_null(j, "%s", err);
	cr_assert_eq(fc_load_file(&fc, j, err, sizeof(err)), 0, "%s", err);
	json_decref(j);
	cr_assert_eq(fc_finish(&fc, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(fc.cfg.cpus, 2);
	cr_assert_str_eq(fc.cfg.cmdline, "console=ttyS0 reboot=k panic=1 root=/dev/vda rw");
	const char *net = "{\"boot-source\": {\"kernel_image_path\": \"k\"}, "
			  "\"network-interfaces\": [{\"iface_id\": \"eth0\"}]}";
	j = fc_parse_json(net, strlen(net), err, sizeof(err));
	cr_assert_neq(fc_load_file(&fc, j, err, sizeof(err)), 0);
	cr_assert(strstr(err, "`network-interfaces` is not supported"), "%s", err);
	json_decref(j);
}

Test(fc_config, vsock_in_the_file_and_its_errors)
{
	fc_fresh();
	char err[512];
	const char *kata = "{\"boot-source\": {\"kernel_image_path\": \"k\"}, \"vsock\": "
			   "{\"guest_cid\": 3, \"uds_path\": \"kata.hvsock\", \"vsock_id\": \"root\"}}";
	json_t *j = fc_parse_json(kata, strlen(kata), err, sizeof(err));
	cr_assert_eq(fc_load_file(&fc, j, err, sizeof(err)), 0, "%s", err);
	json_decref(j);
	cr_assert_eq(fc.cfg.vsock.cid, 3);
	cr_assert_str_eq(fc.cfg.vsock.uds_path, "kata.hvsock");
	json_t *out = fc_export(&fc);
	char *text = json_dumps(json_object_get(out, "vsock"), JSON_SORT_KEYS);
	cr_assert_str_eq(text, "{\"guest_cid\": 3, \"uds_path\": \"kata.hvsock\"}");
	free(text);
	json_decref(out);
	static const struct {
		const char *body, *want;
	} bad[] = {
		{"{\"guest_cid\": 3}", "missing field `uds_path`"},
		{"{\"guest_cid\": 2, \"uds_path\": \"v.sock\"}", "guest_cid 2 is outside 3.."},
		{"{\"guest_cid\": 4294967296, \"uds_path\": \"v.sock\"}", "is outside 3.."},
		{"{\"guest_cid\": 3, \"uds_path\": \"\"}", "uds_path must be 1..96 bytes"},
		{"{\"guest_cid\": \"3\", \"uds_path\": \"v.sock\"}", "guest_cid"},
		{"{\"guest_cid\": 3, \"uds_path\": \"v.sock\", \"cid\": 3}", "unknown field `cid`"},
	};
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		fc_fresh();
		j = fc_parse_json(bad[i].body, strlen(bad[i].body), err, sizeof(err));
		cr_assert_not_null(j, "%s", err);
		cr_assert_neq(fc_put_vsock(&fc, j, err, sizeof(err)), 0, "%s accepted", bad[i].body);
		cr_assert(strstr(err, bad[i].want), "%s: '%s' lacks '%s'", bad[i].body, err, bad[i].want);
		cr_assert_eq(fc.cfg.vsock.cid, 0, "a refused PUT changed the config");
		json_decref(j);
	}
}

/* The routes with a fake VM. */
static int starts, pauses;
static void fake_start(void *ctx, struct fc_config *c) { (void)ctx; (void)c; starts++; }
static void fake_pause(void *ctx, bool p) { (void)ctx; pauses += p ? 1 : -1; }
static int cads;
static void fake_cad(void *ctx) { (void)ctx; cads++; }
static int updates;
static unsigned update_index;
static char update_path[64];
static int fake_update(void *ctx, unsigned index, const char *path, char *err, size_t errlen)
{
	(void)ctx;
	(void)err;
	(void)errlen;
	updates++;
	update_index = index;
	snprintf(update_path, sizeof(update_path), "%s", path);
	return 0;
}
static const struct api_vm_ops fake_ops = {.start = fake_start, .pause = fake_pause,
					   .ctrl_alt_del = fake_cad, .update_drive = fake_update};

static struct api api;
static struct loop loop;
static struct http_request rq;

static struct api_answer call(enum req_method m, const char *method, const char *path, const char *body)
{
	memset(&rq, 0, offsetof(struct http_request, body));
	rq.method = m;
	rq.method_name = method;
	snprintf(rq.path, sizeof(rq.path), "%s", path);
	rq.body_len = body ? strlen(body) : 0;
	if (body)
		memcpy(rq.body, body, rq.body_len);
	struct api_answer a;
	api_handle(&api, NULL, &rq, &a);
	return a;
}

static void expect(struct api_answer a, int status, const char *in_body)
{
	cr_assert_eq(a.status, status, "status %d, body %s", a.status, a.body ? a.body : "-");
	if (in_body)
		cr_assert(a.body && strstr(a.body, in_body), "body %s lacks %s", a.body, in_body);
	free(a.body);
}

Test(api, pre_and_post_boot_rules)
{
	char err[256], path[64];
	snprintf(path, sizeof(path), "/tmp/kestrel-unit-api-%d.sock", getpid());
	unlink(path);
	cr_assert_eq(loop_init(&loop, 8), 0);
	fc_fresh();
	cr_assert_eq(api_init(&api, &loop, path, &fc, false, NULL, &fake_ops, NULL, err, sizeof(err)), 0, "%s", err);
	expect(call(REQ_GET, "GET", "/", NULL), 200, "\"state\":\"Not started\"");
	expect(call(REQ_GET, "GET", "/", NULL), 200, "anonymous-instance");
	expect(call(REQ_PATCH, "PATCH", "/vm", "{\"state\": \"Paused\"}"), 400, "before starting");
	expect(call(REQ_PUT, "PUT", "/actions", "{\"action_type\": \"InstanceStart\"}"), 400,
	       "without kernel configuration");
	expect(call(REQ_PUT, "PUT", "/boot-source", "{\"kernel_image_path\": \"k\"}"), 204, NULL);
	expect(call(REQ_PUT, "PUT", "/boot-source", ""), 400, "Empty PUT request.");
	expect(call(REQ_GET, "GET", "/version", "{}"), 400, "GET request cannot have a body.");
	expect(call(REQ_PUT, "PUT", "/drives/a.b", "{}"), 400, "alphanumeric");
	expect(call(REQ_PATCH, "PATCH", "/drives/rootfs", "{\"drive_id\": \"rootfs\"}"), 400,
	       "not supported before starting");
	expect(call(REQ_PUT, "PUT", "/drives/rootfs", "{\"drive_id\": \"rootfs\", \"path_on_host\": "
		    "\"/old.img\", \"is_root_device\": true}"), 204, NULL);
	expect(call(REQ_PUT, "PUT", "/mmds", "{}"), 400, "/mmds is not supported by kestrel");
	expect(call(REQ_PUT, "PUT", "/snapshot/create", "{}"), 400, "/snapshot is not supported");
	expect(call(REQ_PUT, "PUT", "/foo", "{}"), 400, "Invalid request method and/or path: PUT /foo.");
	expect(call(REQ_OTHER, "POST", "/", "{}"), 400, "Invalid request method");
	/* fuzz-api found a 400 without a body: a path that is not UTF-8 (corpus: non-ascii-path). */
	expect(call(REQ_PUT, "PUT", "/machine-confi\xb8g", "{}"), 400, "PUT /machine-confi?g.");

	struct api_answer a = call(REQ_PUT, "PUT", "/actions", "{\"action_type\": \"InstanceStart\"}");
	cr_assert(a.pending && starts == 1, "InstanceStart waits for the main thread");
	expect(call(REQ_PUT, "PUT", "/boot-source", "{\"kernel_image_path\": \"k\"}"), 400, "after starting");
	/* A failed start leaves it Not started; a good one makes it Running. */
	api_start_done(&api, false, "kernel 'k': No such file or directory");
	cr_assert(loop_run_pending(&loop, 4));
	expect(call(REQ_GET, "GET", "/", NULL), 200, "Not started");
	a = call(REQ_PUT, "PUT", "/actions", "{\"action_type\": \"InstanceStart\"}");
	cr_assert(a.pending && starts == 2);
	api_start_done(&api, true, NULL);
	cr_assert(loop_run_pending(&loop, 4));
	expect(call(REQ_GET, "GET", "/", NULL), 200, "\"state\":\"Running\"");
	expect(call(REQ_PUT, "PUT", "/machine-config", "{\"vcpu_count\": 1, \"mem_size_mib\": 128}"), 400,
	       "not supported after starting the microVM");
	expect(call(REQ_PUT, "PUT", "/actions", "{\"action_type\": \"InstanceStart\"}"), 400, "after starting");
	expect(call(REQ_PATCH, "PATCH", "/vm", "{\"state\": \"Paused\"}"), 204, NULL);
	expect(call(REQ_PATCH, "PATCH", "/vm", "{\"state\": \"Paused\"}"), 204, NULL);
	cr_assert_eq(pauses, 1, "pausing twice pauses once");
	expect(call(REQ_GET, "GET", "/", NULL), 200, "\"state\":\"Paused\"");
	expect(call(REQ_PATCH, "PATCH", "/vm", "{\"state\": \"Resumed\"}"), 204, NULL);
	cr_assert_eq(pauses, 0);
	expect(call(REQ_PATCH, "PATCH", "/vm", "{\"state\": \"Sleeping\"}"), 400, "unknown variant");
	/* PATCH /drives: checked here, done by the VM, answered when it says so. */
	expect(call(REQ_PATCH, "PATCH", "/drives/a", "{\"drive_id\": \"a\"}"), 400, "Invalid block device ID");
	expect(call(REQ_PATCH, "PATCH", "/drives/rootfs", "{\"drive_id\": \"b\"}"), 400, "does not match");
	expect(call(REQ_PATCH, "PATCH", "/drives/rootfs", "{\"drive_id\": \"rootfs\", \"size\": 1}"), 400,
	       "unknown field `size`");
	expect(call(REQ_PATCH, "PATCH", "/drives/rootfs", "{\"drive_id\": \"rootfs\", \"rate_limiter\": "
		    "{\"ops\": {\"size\": 1, \"refill_time\": 1}}}"), 400, "Rate limiters are not supported");
	expect(call(REQ_PATCH, "PATCH", "/drives/rootfs", "{\"drive_id\": \"rootfs\", \"rate_limiter\": null}"),
	       204, NULL);
	cr_assert_eq(updates, 0, "nothing to change, nothing asked of the VM");
	const char *patch = "{\"drive_id\": \"rootfs\", \"path_on_host\": \"/new.img\"}";
	a = call(REQ_PATCH, "PATCH", "/drives/rootfs", patch);
	cr_assert(a.pending && updates == 1 && update_index == 0, "the VM swaps the image");
	cr_assert_str_eq(update_path, "/new.img");
	expect(call(REQ_PATCH, "PATCH", "/drives/rootfs", patch), 400, "being updated already");
	api_drive_done(&api, 0, -EINVAL, "disk '/new.img': No such file or directory");
	expect(call(REQ_GET, "GET", "/vm/config", NULL), 200, "\"path_on_host\":\"/old.img\"");
	a = call(REQ_PATCH, "PATCH", "/drives/rootfs", patch);
	cr_assert(a.pending && updates == 2);
	api_drive_done(&api, 0, 0, NULL);
	expect(call(REQ_GET, "GET", "/vm/config", NULL), 200, "\"path_on_host\":\"/new.img\"");
	expect(call(REQ_PUT, "PUT", "/actions", "{\"action_type\": \"SendCtrlAltDel\"}"), 204, NULL);
	cr_assert_eq(cads, 1);
	expect(call(REQ_PUT, "PUT", "/actions", "{\"action_type\": \"FlushMetrics\"}"), 400, "not initialized");
	api_server_close(&api.server);
	loop_destroy(&loop);
}

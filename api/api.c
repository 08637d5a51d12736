#include "api/api.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/container_of.h"
#include "vmm/log.h"

#define NOT_AFTER_START "The requested operation is not supported after starting the microVM."
#define NOT_BEFORE_START "The requested operation is not supported before starting the microVM."

/* Routes Firecracker has and kestrel does not (yet): a 400 naming them, never silent success. */
static const char *const unsupported[] = {
	"/network-interfaces", "/mmds", "/balloon", "/snapshot", "/entropy", "/cpu-config",
	"/serial", "/pmem", "/hotplug",
};

static void answer(struct api_answer *out, int status, char *body)
{
	out->status = status;
	out->body = body;
}

static void fault(struct api *a, struct api_answer *out, const char *msg)
{
	a->bad_requests++;
	answer(out, 400, api_fault_body(msg));
}

static void json_answer(struct api_answer *out, json_t *j)
{
	char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	answer(out, s ? 200 : 500, s);
}

static const char *state_name(enum api_state s)
{
	switch (s) {
	case API_RUNNING: return "Running";
	case API_PAUSED: return "Paused";
	default: return "Not started";
	}
}

static bool started(const struct api *a)
{
	return a->state != API_NOT_STARTED;
}

static void start_done_fn(struct loop_task *t)
{
	struct api *a = container_of(t, struct api, start_done_task);
	struct api_conn *c = a->start_waiter;
	a->start_waiter = NULL;
	if (a->start_ok) {
		a->state = API_RUNNING;
		if (c)
			api_server_reply(c, 204, NULL);
		return;
	}
	a->state = API_NOT_STARTED;
	a->bad_requests++;
	if (c)
		api_server_reply(c, 400, api_fault_body(a->start_err));
}

void api_start_done(struct api *a, bool ok, const char *err)
{
	a->start_ok = ok;
	snprintf(a->start_err, sizeof(a->start_err), "%s", err ? err : "");
	loop_call(a->server.loop, &a->start_done_task); /* the loop's lock orders these writes */
}

static void put_actions(struct api *a, struct api_conn *conn, json_t *body, struct api_answer *out)
{
	json_t *type = json_is_object(body) ? json_object_get(body, "action_type") : NULL;
	if (!json_is_object(body) || json_object_size(body) != 1 || !json_is_string(type)) {
		fault(a, out, "An error occurred when deserializing the json body of a request: "
		      "expected {\"action_type\": \"InstanceStart\" | \"SendCtrlAltDel\" | \"FlushMetrics\"}.");
		return;
	}
	const char *t = json_string_value(type);
	if (!strcmp(t, "InstanceStart")) {
		if (started(a)) {
			fault(a, out, NOT_AFTER_START);
			return;
		}
		char err[512];
		if (fc_finish(&a->fc, err, sizeof(err))) {
			fault(a, out, err);
			return;
		}
		a->state = API_STARTING;
		a->start_waiter = conn;
		out->pending = true;
		a->ops->start(a->ops_ctx, &a->fc);
		return;
	}
	if (!strcmp(t, "SendCtrlAltDel") || !strcmp(t, "FlushMetrics")) {
		if (!started(a) || a->state == API_STARTING) {
			fault(a, out, NOT_BEFORE_START);
			return;
		}
		if (!strcmp(t, "FlushMetrics")) {
			if (a->metrics && metrics_flush(a->metrics))
				answer(out, 204, NULL);
			else
				fault(a, out, "The metrics system is not initialized (no PUT /metrics or --metrics-path).");
			return;
		}
		/* As on Firecracker: the guest sees the keys; a Linux guest reboots, and kestrel exits. */
		a->ops->ctrl_alt_del(a->ops_ctx);
		answer(out, 204, NULL);
		return;
	}
	char msg[256];
	snprintf(msg, sizeof(msg), "An error occurred when deserializing the json body of a request: "
		 "unknown variant `%.40s`, expected one of `InstanceStart`, `SendCtrlAltDel`, "
		 "`FlushMetrics`.", t);
	fault(a, out, msg);
}

static void patch_vm(struct api *a, json_t *body, struct api_answer *out)
{
	json_t *st = json_is_object(body) ? json_object_get(body, "state") : NULL;
	if (!json_is_object(body) || json_object_size(body) != 1 || !json_is_string(st)) {
		fault(a, out, "An error occurred when deserializing the json body of a request: "
		      "expected {\"state\": \"Paused\" | \"Resumed\"}.");
		return;
	}
	const char *s = json_string_value(st);
	bool pause = !strcmp(s, "Paused");
	if (!pause && strcmp(s, "Resumed")) {
		fault(a, out, "An error occurred when deserializing the json body of a request: "
		      "unknown variant, expected `Paused` or `Resumed`.");
		return;
	}
	if (a->state != API_RUNNING && a->state != API_PAUSED) {
		fault(a, out, NOT_BEFORE_START);
		return;
	}
	if (pause != (a->state == API_PAUSED)) {
		a->ops->pause(a->ops_ctx, pause);
		a->state = pause ? API_PAUSED : API_RUNNING;
	}
	answer(out, 204, NULL);
}

/*
 * PATCH /drives/{id}: the VM gives the drive its new image (vmm/disk_swap.h)
 * and api_drive_done() answers, once the guest has been told.
 */
static void patch_drive(struct api *a, struct api_conn *conn, const char *id, json_t *body,
			struct api_answer *out)
{
	char err[512], path[PATH_MAX];
	unsigned i;
	if (fc_patch_drive(&a->fc, id, body, &i, path, sizeof(path), err, sizeof(err))) {
		fault(a, out, err);
		return;
	}
	if (!path[0]) { /* nothing but a rate limiter that limits nothing */
		answer(out, 204, NULL);
		return;
	}
	if (a->drive_updating[i]) {
		snprintf(err, sizeof(err), "Drive `%s` is being updated already.", id);
		fault(a, out, err);
		return;
	}
	if (a->ops->update_drive(a->ops_ctx, i, path, err, sizeof(err))) {
		fault(a, out, err);
		return;
	}
	snprintf(a->drive_path[i], sizeof(a->drive_path[i]), "%s", path);
	a->drive_updating[i] = true;
	a->drive_waiter[i] = conn;
	out->pending = true;
}

void api_drive_done(struct api *a, unsigned int index, int res, const char *msg)
{
	struct api_conn *c = a->drive_waiter[index];
	a->drive_waiter[index] = NULL;
	a->drive_updating[index] = false;
	if (res == 0) {
		struct disk_config *d = &a->fc.cfg.disks[index];
		_Static_assert(sizeof(d->path) == sizeof(a->drive_path[0]), "path sizes");
		memcpy(d->path, a->drive_path[index], sizeof(d->path));
		if (c)
			api_server_reply(c, 204, NULL);
		return;
	}
	char err[640];
	snprintf(err, sizeof(err), "Unable to patch the block device %s: %s", a->fc.drives[index].id,
		 msg);
	a->bad_requests++;
	if (c)
		api_server_reply(c, 400, api_fault_body(err));
}

/* The drive id in /drives/{id}, or NULL when the path is not one. */
static const char *drive_id(const char *path)
{
	return strncmp(path, "/drives/", 8) ? NULL : path + 8;
}

static bool is_route(const char *path, const char *route)
{
	size_t n = strlen(route);
	return !strncmp(path, route, n) && (path[n] == '\0' || path[n] == '/');
}

static void route(struct api *a, struct api_conn *conn, const struct http_request *rq, json_t *body,
		  struct api_answer *out)
{
	const char *p = rq->path;
	char err[512];
	enum req_method m = rq->method;
	if (m == REQ_GET && !strcmp(p, "/")) {
		json_answer(out, json_pack("{s:s, s:s, s:s, s:s}", "id", a->id, "state",
					   state_name(a->state), "vmm_version", KESTREL_VERSION,
					   "app_name", "kestrel"));
		return;
	}
	if (m == REQ_GET && !strcmp(p, "/version")) {
		json_answer(out, json_pack("{s:s}", "firecracker_version", KESTREL_VERSION));
		return;
	}
	if (m == REQ_GET && !strcmp(p, "/machine-config")) {
		json_answer(out, fc_machine_config_json(&a->fc));
		return;
	}
	if (m == REQ_GET && !strcmp(p, "/vm/config")) {
		json_answer(out, fc_export(&a->fc));
		return;
	}
	if (m == REQ_PUT && !strcmp(p, "/actions")) {
		put_actions(a, conn, body, out);
		return;
	}
	if (m == REQ_PATCH && !strcmp(p, "/vm")) {
		patch_vm(a, body, out);
		return;
	}

	/* Pre-boot configuration. */
	int (*put)(struct fc_config *, json_t *, char *, size_t) = NULL;
	if (m == REQ_PUT && !strcmp(p, "/boot-source"))
		put = fc_put_boot_source;
	else if (m == REQ_PUT && !strcmp(p, "/logger"))
		put = fc_put_logger;
	else if (m == REQ_PUT && !strcmp(p, "/metrics"))
		put = fc_put_metrics;
	else if (m == REQ_PUT && !strcmp(p, "/vsock"))
		put = fc_put_vsock;
	bool machine = (m == REQ_PUT || m == REQ_PATCH) && !strcmp(p, "/machine-config");
	const char *id = drive_id(p);
	bool drive = id && (m == REQ_PUT || m == REQ_PATCH || m == REQ_DELETE);
	if (drive && !fc_valid_id(id)) {
		fault(a, out, "API Resource IDs can only contain alphanumeric characters and underscores.");
		return;
	}
	if (drive && m != REQ_PUT) {
		if (!started(a) || a->state == API_STARTING)
			fault(a, out, NOT_BEFORE_START);
		else if (m == REQ_PATCH)
			patch_drive(a, conn, id, body, out);
		else
			fault(a, out, "Removing a drive is not supported by kestrel.");
		return;
	}
	if (put || machine || drive) {
		if (started(a)) {
			fault(a, out, NOT_AFTER_START);
			return;
		}
		int ret = put ? put(&a->fc, body, err, sizeof(err))
			: machine ? fc_put_machine_config(&a->fc, body, m == REQ_PATCH, err, sizeof(err))
			: fc_put_drive(&a->fc, id, body, err, sizeof(err));
		if (ret)
			fault(a, out, err);
		else
			answer(out, 204, NULL);
		return;
	}

	for (unsigned i = 0; i < sizeof(unsupported) / sizeof(unsupported[0]); i++) {
		if (is_route(p, unsupported[i])) {
			snprintf(err, sizeof(err), "%s is not supported by kestrel yet.", unsupported[i]);
			fault(a, out, err);
			return;
		}
	}
	snprintf(err, sizeof(err), "Invalid request method and/or path: %s %.200s.", rq->method_name, p);
	fault(a, out, err);
}

void api_handle(void *ctx, struct api_conn *conn, const struct http_request *rq,
		struct api_answer *out)
{
	struct api *a = ctx;
	memset(out, 0, sizeof(*out));
	char err[512];
	switch (rq->method) {
	case REQ_GET: a->get_requests++; break;
	case REQ_PUT: a->put_requests++; break;
	case REQ_PATCH: a->patch_requests++; break;
	default: break;
	}
	if (rq->method == REQ_OTHER) {
		snprintf(err, sizeof(err), "Invalid request method and/or path: %s %.200s.", rq->method_name,
			 rq->path);
		fault(a, out, err);
		return;
	}
	if (rq->method == REQ_GET && rq->body_len) {
		fault(a, out, "GET request cannot have a body.");
		return;
	}
	json_t *body = NULL;
	if (rq->method != REQ_GET) {
		if (!rq->body_len && rq->method != REQ_DELETE) {
			fault(a, out, rq->method == REQ_PUT ? "Empty PUT request." : "Empty PATCH request.");
			return;
		}
		if (rq->body_len && !(body = fc_parse_json(rq->body, rq->body_len, err, sizeof(err)))) {
			fault(a, out, err);
			return;
		}
	}
	route(a, conn, rq, body, out);
	json_decref(body);
}

void api_reset(struct api *a, struct loop *loop, const struct fc_config *fc, bool booting,
	       const char *id, const struct api_vm_ops *ops, void *ops_ctx)
{
	memset(a, 0, sizeof(*a));
	a->fc = *fc;
	a->state = booting ? API_STARTING : API_NOT_STARTED;
	a->id = id ? id : "anonymous-instance";
	a->ops = ops;
	a->ops_ctx = ops_ctx;
	a->start_done_task.fn = start_done_fn;
	a->server.loop = loop;
}

int api_init(struct api *a, struct loop *loop, const char *path, const struct fc_config *fc,
	     bool booting, const char *id, const struct api_vm_ops *ops, void *ops_ctx, char *err,
	     size_t errlen)
{
	api_reset(a, loop, fc, booting, id, ops, ops_ctx);
	return api_server_open(&a->server, loop, path, api_handle, a, err, errlen);
}

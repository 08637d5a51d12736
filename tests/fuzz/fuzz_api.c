/*
 * The API's request path, as a client reaches it: bytes on a connection,
 * cut into reads anywhere, through the HTTP framing into the routes and
 * Firecracker's bodies, with a fake VM that starts (and swaps drive images)
 * or fails to on the input's say; or a whole --config-file. Whatever the bytes: every answer
 * is 200 with a JSON body, 204 with none, or 400 with a fault_message, only
 * InstanceStart and PATCH /drives wait, and the framing never takes more than it was given.
 */
#include <jansson.h>
#include <string.h>

#include "api/api.h"
#include "tests/fuzz/fuzz_common.h"

static bool start_asked;
static void fake_start(void *ctx, struct fc_config *fc) { (void)ctx; (void)fc; start_asked = true; }
static void fake_pause(void *ctx, bool pause) { (void)ctx; (void)pause; }
static void fake_cad(void *ctx) { (void)ctx; }
static int update_asked; /* 1 + the drive's index */
static int fake_update(void *ctx, unsigned index, const char *path, char *err, size_t errlen)
{
	(void)ctx;
	(void)err;
	(void)errlen;
	FUZZ_CHECK(path[0]);
	update_asked = (int)index + 1;
	return 0;
}
static const struct api_vm_ops ops = {.start = fake_start, .pause = fake_pause, .ctrl_alt_del = fake_cad,
				      .update_drive = fake_update};

static void check_answer(const struct api_answer *a)
{
	if (a->pending) {
		FUZZ_CHECK(start_asked != (update_asked != 0));
		return;
	}
	FUZZ_CHECK(a->status == 200 || a->status == 204 || a->status == 400);
	FUZZ_CHECK((a->status == 204) == (a->body == NULL));
	if (a->body) {
		json_error_t e;
		json_t *j = json_loads(a->body, 0, &e);
		FUZZ_CHECK(j);
		if (a->status == 400)
			FUZZ_CHECK(json_is_string(json_object_get(j, "fault_message")));
		json_decref(j);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct loop loop;
	static bool loop_ready;
	static struct api api;
	static struct fc_config fc;
	static struct http_in in;
	if (!loop_ready) {
		FUZZ_CHECK(loop_init(&loop, 8) == 0);
		loop_ready = true;
	}
	if (size < 1)
		return 0;
	struct vm_config base;
	memset(&base, 0, sizeof(base));
	base.cpus = 1;
	base.mem_size = 128 << 20;
	fc_config_init(&fc, &base);
	if (data[0] == 0xFF) { /* a config file */
		char err[512];
		json_t *j = fc_parse_json((const char *)data + 1, size - 1, err, sizeof(err));
		if (j && fc_load_file(&fc, j, err, sizeof(err)) == 0)
			fc_finish(&fc, err, sizeof(err));
		json_decref(j);
		return 0;
	}
	api_reset(&api, &loop, &fc, false, NULL, &ops, NULL);
	http_in_init(&in);
	start_asked = false;
	update_asked = 0;
	/* Byte 0: the low bits say where reads end (every 1..8th byte...), bit 7 start failures. */
	size_t step = (size_t)(data[0] & 7) * 97 + 1;
	bool fail_starts = data[0] & 0x80;
	const char *p = (const char *)data + 1;
	size_t left = size - 1;
	while (left) {
		size_t chunk = left < step ? left : step;
		size_t off = 0;
		while (off < chunk) {
			size_t used;
			enum http_event ev = http_in_feed(&in, p + off, chunk - off, &used);
			FUZZ_CHECK(used <= chunk - off);
			off += used;
			if (ev == HTTPIN_BAD)
				return 0; /* the connection would be answered 400 and closed */
			if (ev == HTTPIN_CONTINUE)
				http_in_continue_sent(&in);
			if (ev != HTTPIN_REQUEST)
				continue;
			struct api_answer a;
			api_handle(&api, NULL, &in.req, &a);
			check_answer(&a);
			free(a.body);
			if (a.pending && update_asked) {
				FUZZ_CHECK(api.state == API_RUNNING || api.state == API_PAUSED);
				FUZZ_CHECK(update_asked <= (int)api.fc.cfg.ndisks);
				api_drive_done(&api, (unsigned)update_asked - 1, fail_starts ? -2 : 0, "no such image");
				update_asked = 0;
			} else if (a.pending) {
				api_start_done(&api, !fail_starts, "no such kernel");
				FUZZ_CHECK(loop_run_pending(&loop, 4));
				FUZZ_CHECK(api.state == (fail_starts ? API_NOT_STARTED : API_RUNNING));
				start_asked = false;
			}
			http_in_next(&in);
		}
		p += chunk;
		left -= chunk;
	}
	return 0;
}

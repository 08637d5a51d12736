#include "api/metrics.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "vmm/container_of.h"
#include "vmm/log.h"

/* Firecracker's latency aggregate: min and max over the window, the sum's delta; 0s when empty. */
static json_t *latency_json(uint64_t min, uint64_t max, uint64_t sum)
{
	return json_pack("{s:I, s:I, s:I}", "min_us", (json_int_t)(min == BLK_LATENCY_NONE ? 0 : min),
			 "max_us", (json_int_t)max, "sum_us", (json_int_t)sum);
}

/* One drive's counters since the last line, Firecracker's names first. */
static json_t *block_json(const struct blk_stats *now, const struct blk_stats *then)
{
	json_t *o = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
			      "read_count", (json_int_t)(now->reads - then->reads),
			      "write_count", (json_int_t)(now->writes - then->writes),
			      "read_bytes", (json_int_t)(now->read_bytes - then->read_bytes),
			      "write_bytes", (json_int_t)(now->write_bytes - then->write_bytes),
			      "flush_count", (json_int_t)(now->flushes - then->flushes),
			      "execute_fails", (json_int_t)(now->errors - then->errors),
			      "invalid_reqs_count", (json_int_t)(now->invalid - then->invalid),
			      "update_count", (json_int_t)(now->swaps - then->swaps),
			      "update_fails", (json_int_t)(now->swap_fails - then->swap_fails),
			      "host_flush_count", (json_int_t)(now->host_flushes - then->host_flushes),
			      "fua_write_count", (json_int_t)(now->fua_writes - then->fua_writes),
			      "durable_write_count", (json_int_t)(now->dsync_writes - then->dsync_writes),
			      "discard_count", (json_int_t)(now->discards - then->discards),
			      "write_zeroes_count", (json_int_t)(now->write_zeroes - then->write_zeroes));
	json_object_set_new(o, "read_agg", latency_json(now->read_us_min, now->read_us_max,
							now->read_us_sum - then->read_us_sum));
	json_object_set_new(o, "write_agg", latency_json(now->write_us_min, now->write_us_max,
							 now->write_us_sum - then->write_us_sum));
	return o;
}

static uint64_t min64(uint64_t a, uint64_t b) { return a < b ? a : b; }
static uint64_t max64(uint64_t a, uint64_t b) { return a > b ? a : b; }

static void add(struct blk_stats *sum, const struct blk_stats *now, const struct blk_stats *then)
{
	sum->reads += now->reads - then->reads;
	sum->writes += now->writes - then->writes;
	sum->read_bytes += now->read_bytes - then->read_bytes;
	sum->write_bytes += now->write_bytes - then->write_bytes;
	sum->flushes += now->flushes - then->flushes;
	sum->errors += now->errors - then->errors;
	sum->invalid += now->invalid - then->invalid;
	sum->swaps += now->swaps - then->swaps;
	sum->swap_fails += now->swap_fails - then->swap_fails;
	sum->host_flushes += now->host_flushes - then->host_flushes;
	sum->fua_writes += now->fua_writes - then->fua_writes;
	sum->dsync_writes += now->dsync_writes - then->dsync_writes;
	sum->discards += now->discards - then->discards;
	sum->write_zeroes += now->write_zeroes - then->write_zeroes;
	sum->read_us_sum += now->read_us_sum - then->read_us_sum;
	sum->write_us_sum += now->write_us_sum - then->write_us_sum;
	sum->read_us_min = min64(sum->read_us_min, now->read_us_min);
	sum->write_us_min = min64(sum->write_us_min, now->write_us_min);
	sum->read_us_max = max64(sum->read_us_max, now->read_us_max);
	sum->write_us_max = max64(sum->write_us_max, now->write_us_max);
}

static void write_done(struct loop_op *op, int res)
{
	struct metrics *m = container_of(op, struct metrics, write_op);
	m->writing = false;
	if (res < 0) {
		m->dropped++;
		log_err("metrics: writing a line failed: %s", strerror(-res));
	}
	if (m->again) {
		m->again = false;
		metrics_flush(m);
	}
}

bool metrics_flush(struct metrics *m)
{
	if (m->fd < 0)
		return false;
	if (m->writing) { /* one line at a time; this one follows */
		m->again = true;
		return true;
	}
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	json_t *o = json_pack("{s:I}", "utc_timestamp_ms",
			      (json_int_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
	struct blk_stats sum, zero;
	memset(&sum, 0, sizeof(sum));
	memset(&zero, 0, sizeof(zero));
	blk_stats_reset_latency(&sum);
	for (unsigned i = 0; i < m->ndisks; i++) {
		struct blk_stats now = m->disks[i]->stats;
		char key[96];
		snprintf(key, sizeof(key), "block_%s", m->ids[i]);
		json_object_set_new(o, key, block_json(&now, &m->last[i]));
		add(&sum, &now, &m->last[i]);
		m->last[i] = now;
		blk_stats_reset_latency(&m->disks[i]->stats); /* min and max: per line */
	}
	json_object_set_new(o, "block", block_json(&sum, &zero));
	static const char *const names[] = {"get_api_requests", "put_api_requests",
					    "patch_api_requests", "api_bad_requests"};
	for (unsigned k = 0; k < 4; k++) {
		if (!m->api_counts[k])
			continue;
		unsigned long long now = *m->api_counts[k];
		json_object_set_new(o, names[k], json_pack("{s:I}", "count", (json_int_t)(now - m->api_last[k])));
		m->api_last[k] = now;
	}
	char *s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	size_t n = s ? strlen(s) : 0;
	if (!s || n + 1 > sizeof(m->line)) {
		free(s);
		m->dropped++;
		return true;
	}
	memcpy(m->line, s, n);
	m->line[n] = '\n';
	free(s);
	m->writing = true;
	m->lines++;
	/* Offset -1: at the file's position (O_APPEND for a file; a FIFO has none). */
	io_uring_prep_write(loop_sqe(m->loop, &m->write_op), m->fd, m->line, (unsigned)n + 1,
			    (uint64_t)-1);
	return true;
}

static void timer_arm(struct metrics *m)
{
	io_uring_prep_timeout(loop_sqe(m->loop, &m->timer_op), &m->period, 0, 0);
}

static void timer_done(struct loop_op *op, int res)
{
	struct metrics *m = container_of(op, struct metrics, timer_op);
	if (res == -ETIME)
		metrics_flush(m);
	timer_arm(m);
}

static void start_fn(struct loop_task *t)
{
	timer_arm(container_of(t, struct metrics, start_task));
}

void metrics_start(struct metrics *m, struct loop *loop, int fd, struct blk *const *disks,
		   const char *const *ids, unsigned int n)
{
	m->loop = loop;
	m->fd = fd;
	m->ndisks = n;
	for (unsigned i = 0; i < n; i++) {
		m->disks[i] = disks[i];
		snprintf(m->ids[i], sizeof(m->ids[i]), "%s", ids[i]);
		memset(&m->last[i], 0, sizeof(m->last[i]));
	}
	m->timer_op.cb = timer_done;
	m->write_op.cb = write_done;
	m->period.tv_sec = METRICS_PERIOD_S;
	m->period.tv_nsec = 0;
	m->start_task.fn = start_fn;
	if (fd >= 0)
		loop_call(loop, &m->start_task);
}

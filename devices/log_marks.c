#include "devices/log_marks.h"

#include <string.h>

#include "devices/blk_log.h"
#include "vmm/container_of.h"

/* Loop thread: every queued mark into every log, oldest first. */
static void write_marks(struct loop_task *t)
{
	struct log_marks *m = container_of(t, struct log_marks, task);
	pthread_mutex_lock(&m->lock);
	m->task_queued = false;
	while (m->count) {
		unsigned i = m->head;
		bool kept = true;
		for (unsigned d = 0; d < m->nlogs; d++)
			kept &= blk_log_mark(m->logs[d], m->text[i], m->len[i]);
		if (kept)
			m->recorded++;
		else
			m->dropped++;
		m->head = (m->head + 1) % LOG_MARKS_QUEUE;
		m->count--;
	}
	pthread_mutex_unlock(&m->lock);
}

void log_marks_init(struct log_marks *m, const char *prefix, struct loop *loop,
		    struct blk_log *const *logs, unsigned int nlogs)
{
	memset(m, 0, sizeof(*m));
	m->prefix = prefix;
	m->prefix_len = strlen(prefix);
	m->loop = loop;
	m->logs = logs;
	m->nlogs = nlogs;
	m->task.fn = write_marks;
	pthread_mutex_init(&m->lock, NULL);
}

void log_marks_line(void *ctx, const char *line, size_t len)
{
	struct log_marks *m = ctx;
	if (len < m->prefix_len || memcmp(line, m->prefix, m->prefix_len))
		return;
	if (len > BLKLOG_MAX_MARK)
		len = BLKLOG_MAX_MARK;
	pthread_mutex_lock(&m->lock);
	bool call = false;
	if (m->count == LOG_MARKS_QUEUE) {
		m->dropped++;
	} else {
		unsigned i = (m->head + m->count) % LOG_MARKS_QUEUE;
		memcpy(m->text[i], line, len);
		m->len[i] = (uint16_t)len;
		m->count++;
		call = !m->task_queued;
		m->task_queued = true;
	}
	pthread_mutex_unlock(&m->lock);
	if (call)
		loop_call(m->loop, &m->task);
}

void log_marks_destroy(struct log_marks *m)
{
	pthread_mutex_destroy(&m->lock);
}

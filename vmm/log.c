#include "vmm/log.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static int log_fd = -1; /* --log-path or the API's logger */
static int file_level = LOG_LEVEL_INFO;

void log_set_fd(int fd)
{
	__atomic_store_n(&log_fd, fd, __ATOMIC_RELEASE);
}

void log_set_level(enum log_level level)
{
	__atomic_store_n(&file_level, (int)level, __ATOMIC_RELEASE);
}

int log_level_parse(const char *name)
{
	static const struct { const char *name; enum log_level level; } names[] = {
		{"error", LOG_LEVEL_ERROR}, {"warning", LOG_LEVEL_ERROR}, {"warn", LOG_LEVEL_ERROR},
		{"info", LOG_LEVEL_INFO}, {"debug", LOG_LEVEL_DEBUG}, {"trace", LOG_LEVEL_DEBUG},
		{"off", LOG_LEVEL_OFF},
	};
	for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcasecmp(name, names[i].name))
			return (int)names[i].level;
	return -1;
}

static void vlog(enum log_level level, bool to_stderr, const char *fmt, va_list ap)
{
	/* One fprintf (and one write) per line keeps lines from different threads whole. */
	char line[1024];
	vsnprintf(line, sizeof(line) - 1, fmt, ap);
	if (to_stderr)
		fprintf(stderr, "kestrel: %s\n", line);
	int fd = __atomic_load_n(&log_fd, __ATOMIC_ACQUIRE);
	if (fd >= 0 && (int)level <= __atomic_load_n(&file_level, __ATOMIC_ACQUIRE)) {
		size_t n = strlen(line);
		line[n] = '\n';
		if (write(fd, line, n + 1) < 0) {
			/* A log that cannot be written must not stop the VM. */
		}
	}
}

void log_err(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog(LOG_LEVEL_ERROR, true, fmt, ap);
	va_end(ap);
}

void log_info(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog(LOG_LEVEL_INFO, true, fmt, ap);
	va_end(ap);
}

void log_debug(const char *fmt, ...)
{
	static int enabled = -1;
	if (enabled < 0)
		enabled = getenv("KESTREL_DEBUG") != NULL;
	bool to_file = __atomic_load_n(&log_fd, __ATOMIC_ACQUIRE) >= 0 &&
		       __atomic_load_n(&file_level, __ATOMIC_ACQUIRE) >= LOG_LEVEL_DEBUG;
	if (!enabled && !to_file)
		return;
	va_list ap;
	va_start(ap, fmt);
	vlog(LOG_LEVEL_DEBUG, enabled, fmt, ap);
	va_end(ap);
}

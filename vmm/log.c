#include "vmm/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int log_fd = -1; /* --log-path or the API's logger */

void log_set_fd(int fd)
{
	__atomic_store_n(&log_fd, fd, __ATOMIC_RELEASE);
}

static void vlog(const char *fmt, va_list ap)
{
	/* One fprintf (and one write) per line keeps lines from different threads whole. */
	char line[1024];
	vsnprintf(line, sizeof(line) - 1, fmt, ap);
	fprintf(stderr, "kestrel: %s\n", line);
	int fd = __atomic_load_n(&log_fd, __ATOMIC_ACQUIRE);
	if (fd >= 0) {
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
	vlog(fmt, ap);
	va_end(ap);
}

void log_info(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog(fmt, ap);
	va_end(ap);
}

void log_debug(const char *fmt, ...)
{
	static int enabled = -1;
	if (enabled < 0)
		enabled = getenv("KESTREL_DEBUG") != NULL;
	if (!enabled)
		return;
	va_list ap;
	va_start(ap, fmt);
	vlog(fmt, ap);
	va_end(ap);
}

/* Messages on stderr, prefixed with the program name. Any thread. */
#ifndef KESTREL_LOG_H
#define KESTREL_LOG_H

__attribute__((format(printf, 1, 2))) void log_err(const char *fmt, ...);
__attribute__((format(printf, 1, 2))) void log_info(const char *fmt, ...);
/*
 * Main thread: from now on every message also goes to fd (the --log-path
 * or PUT /logger file), one write per line; -1: none.
 */
void log_set_fd(int fd);

/* Only printed when KESTREL_DEBUG is set in the environment. */
__attribute__((format(printf, 1, 2))) void log_debug(const char *fmt, ...);

#endif

/* Messages on stderr, prefixed with the program name. Any thread. */
#ifndef KESTREL_LOG_H
#define KESTREL_LOG_H

__attribute__((format(printf, 1, 2))) void log_err(const char *fmt, ...);
__attribute__((format(printf, 1, 2))) void log_info(const char *fmt, ...);
/* Only printed when KESTREL_DEBUG is set in the environment. */
__attribute__((format(printf, 1, 2))) void log_debug(const char *fmt, ...);

#endif

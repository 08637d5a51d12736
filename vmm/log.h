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

/*
 * Printed on stderr only when KESTREL_DEBUG is set in the environment; in
 * the log file from level Debug on.
 */
__attribute__((format(printf, 1, 2))) void log_debug(const char *fmt, ...);

/*
 * What the log file gets (--level, PUT /logger's level), Firecracker's
 * names: Error and Warning only errors, Info (the default) progress too,
 * Debug and Trace debug messages too, Off nothing. stderr is not filtered:
 * a refusal or a failure is always said there.
 */
enum log_level { LOG_LEVEL_OFF, LOG_LEVEL_ERROR, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG };
void log_set_level(enum log_level level);
/* A level's name in any case (Error, Warning or Warn, Info, Debug, Trace, Off); -1 if none. */
int log_level_parse(const char *name);

#endif

/*
 * log.h — worker log lines.
 *
 * spawn-fcgi points stderr at /dev/null; mod_fcgid sends it to Apache's
 * error log.  pg_rest writes to stderr, and additionally to the file named
 * by PG_REST_LOG when set (the test harness and spawn-fcgi users use it).
 */
#ifndef PGR_LOG_H
#define PGR_LOG_H

#include "config.h"

void log_open(const char *path);   /* NULL: stderr only */
void log_set_level(enum log_level level);
void log_msg(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

#endif

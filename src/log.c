/*
 * log.c — one line per event, to stderr and optionally a file.
 *
 * Lines look like "2026-11-23 18:00:00 pg_rest[1234]: ERROR: message".
 * The file (PG_REST_LOG) is opened in append mode so that several workers
 * can share it; each line is written with one write() so lines from
 * different workers do not interleave.
 */
#include "log.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int log_fd = -1;
/* until the configuration sets it: start-up warnings must be seen */
static enum log_level log_threshold = LOG_WARN;

static const char *const level_names[] = {"FATAL", "ERROR", "WARNING", "INFO", "DEBUG"};

void log_open(const char *path)
{
	if (log_fd >= 0) {
		close(log_fd);
		log_fd = -1;
	}
	if (path != NULL && path[0] != '\0')
		log_fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
}

void log_set_level(enum log_level level)
{
	log_threshold = level;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	char line[2048];
	struct tm tm;
	time_t now = time(NULL);
	va_list ap;
	size_t n;

	if (level > log_threshold)
		return;
	localtime_r(&now, &tm);
	n = strftime(line, sizeof(line), "%Y-%m-%d %H:%M:%S", &tm);
	n += (size_t)snprintf(line + n, sizeof(line) - n, " pg_rest[%d]: %s: ",
			      (int)getpid(), level_names[level]);
	va_start(ap, fmt);
	int m = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	va_end(ap);
	if (m < 0)
		m = 0;
	n += (size_t)m;
	if (n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	if (write(STDERR_FILENO, line, n) < 0) {
		/* stderr may be closed (spawn-fcgi); nothing to do */
	}
	if (log_fd >= 0 && write(log_fd, line, n) < 0) {
		/* a full disk must not take requests down */
	}
}

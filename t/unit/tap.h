/*
 * tap.h — the few TAP helpers the C unit tests need (output read by prove).
 * Descriptions are printf formats.
 */
#ifndef PGR_TAP_H
#define PGR_TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int tap_n;
static int tap_failed;

#define ok(cond, ...) tap_ok(!!(cond), __FILE__, __LINE__, __VA_ARGS__)
#define is_str(got, want, ...) tap_is_str((got), (want), __FILE__, __LINE__, __VA_ARGS__)
#define is_int(got, want, ...) tap_is_int((long)(got), (long)(want), __FILE__, __LINE__, __VA_ARGS__)

static inline void tap_line(int pass, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));
static inline int tap_ok(int cond, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static inline int tap_is_str(const char *got, const char *want, const char *file, int line,
			     const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static inline int tap_is_int(long got, long want, const char *file, int line,
			     const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static inline void tap_line(int pass, const char *fmt, va_list ap)
{
	tap_n++;
	printf("%s %d - ", pass ? "ok" : "not ok", tap_n);
	vprintf(fmt, ap);
	printf("\n");
	if (!pass)
		tap_failed++;
}

static inline int tap_ok(int cond, const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	tap_line(cond, fmt, ap);
	va_end(ap);
	if (!cond)
		printf("#   Failed at %s line %d\n", file, line);
	return cond;
}

static inline int tap_is_str(const char *got, const char *want, const char *file, int line,
			     const char *fmt, ...)
{
	int same = (got == NULL && want == NULL) ||
		   (got != NULL && want != NULL && strcmp(got, want) == 0);
	va_list ap;

	va_start(ap, fmt);
	tap_line(same, fmt, ap);
	va_end(ap);
	if (!same)
		printf("#   Failed at %s line %d\n#          got: '%s'\n#     expected: '%s'\n",
		       file, line, got ? got : "(null)", want ? want : "(null)");
	return same;
}

static inline int tap_is_int(long got, long want, const char *file, int line,
			     const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	tap_line(got == want, fmt, ap);
	va_end(ap);
	if (got != want)
		printf("#   Failed at %s line %d\n#          got: %ld\n#     expected: %ld\n",
		       file, line, got, want);
	return got == want;
}

static inline int done_testing(void)
{
	printf("1..%d\n", tap_n);
	return tap_failed ? 1 : 0;
}

#endif

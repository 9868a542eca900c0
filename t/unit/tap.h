/*
 * tap.h — the few TAP helpers the C unit tests need (output read by prove).
 */
#ifndef PGR_TAP_H
#define PGR_TAP_H

#include <stdio.h>
#include <string.h>

static int tap_n;
static int tap_failed;

#define ok(cond, ...) tap_ok(!!(cond), __FILE__, __LINE__, __VA_ARGS__)
#define is_str(got, want, ...) tap_is_str((got), (want), __FILE__, __LINE__, __VA_ARGS__)
#define is_int(got, want, ...) tap_is_int((long)(got), (long)(want), __FILE__, __LINE__, __VA_ARGS__)

static inline int tap_ok(int cond, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
#include <stdarg.h>
static inline void tap_vdesc(const char *fmt, va_list ap)
{
	vprintf(fmt, ap);
}

static inline int tap_ok(int cond, const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	tap_n++;
	printf("%s %d - ", cond ? "ok" : "not ok", tap_n);
	va_start(ap, fmt);
	tap_vdesc(fmt, ap);
	va_end(ap);
	printf("\n");
	if (!cond) {
		tap_failed++;
		printf("#   Failed at %s line %d\n", file, line);
	}
	return cond;
}

static inline int tap_is_str(const char *got, const char *want, const char *file, int line,
			     const char *desc, ...)
{
	int same = (got == NULL && want == NULL) ||
		   (got != NULL && want != NULL && strcmp(got, want) == 0);

	tap_n++;
	printf("%s %d - %s\n", same ? "ok" : "not ok", tap_n, desc);
	if (!same) {
		tap_failed++;
		printf("#   Failed at %s line %d\n#          got: '%s'\n#     expected: '%s'\n",
		       file, line, got ? got : "(null)", want ? want : "(null)");
	}
	return same;
}

static inline int tap_is_int(long got, long want, const char *file, int line,
			     const char *desc, ...)
{
	tap_n++;
	printf("%s %d - %s\n", got == want ? "ok" : "not ok", tap_n, desc);
	if (got != want) {
		tap_failed++;
		printf("#   Failed at %s line %d\n#          got: %ld\n#     expected: %ld\n",
		       file, line, got, want);
	}
	return got == want;
}

static inline int done_testing(void)
{
	printf("1..%d\n", tap_n);
	return tap_failed ? 1 : 0;
}

#endif

/*
 * fuzz.h — what the libFuzzer targets in t/fuzz/ share: invariant checks
 * that abort (so libFuzzer saves the input as a crash), NUL-terminated
 * copies of the input, and the checks every error must pass.
 *
 * Each target runs one parser on one input with a fresh arena and destroys
 * it afterwards, so every malloc of an input is freed by the end of it and
 * LeakSanitizer (which libFuzzer runs when the counts differ) stays quiet.
 * Built and run by `make fuzz` (Makefile.am); see README.
 */
#ifndef PGR_FUZZ_H
#define PGR_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "json.h"
#include "response.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define FUZZ_CHECK(cond)                                                       \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "%s:%d: invariant failed: %s\n",       \
				__FILE__, __LINE__, #cond);                    \
			abort();                                               \
		}                                                              \
	} while (0)

/* malloc'd NUL-terminated copy of n bytes (a C string ends at a NUL inside) */
static inline char *fuzz_strndup(const void *data, size_t n)
{
	char *s = malloc(n + 1);

	if (s == NULL)
		abort();
	if (n > 0)
		memcpy(s, data, n);
	s[n] = '\0';
	return s;
}

/* Is s a non-empty string? */
static inline bool fuzz_nonempty(const char *s)
{
	return s != NULL && s[0] != '\0';
}

/* Can s go into a response header as it is (no CR, LF or other controls)? */
static inline bool fuzz_header_safe(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return false;
	return true;
}

/* Is s (n bytes) well-formed UTF-8 without NUL? */
static inline bool fuzz_utf8(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + n;

	while (p < end) {
		unsigned c = *p;
		size_t more;
		uint32_t cp;

		if (c == 0)
			return false;
		if (c < 0x80) {
			p++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			more = 1, cp = c & 0x1f;
		else if (c >= 0xe0 && c <= 0xef)
			more = 2, cp = c & 0x0f;
		else if (c >= 0xf0 && c <= 0xf4)
			more = 3, cp = c & 0x07;
		else
			return false;
		if ((size_t)(end - p) <= more)
			return false;
		for (size_t i = 1; i <= more; i++) {
			if ((p[i] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (p[i] & 0x3f);
		}
		if ((more == 2 && cp < 0x800) || (more == 3 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		p += more + 1;
	}
	return true;
}

/*
 * An error as the client gets it: an HTTP error status, a code, a message,
 * and a body that is valid JSON whatever the input was.
 */
static inline void fuzz_check_error(const struct http_error *e, struct arena *a)
{
	FUZZ_CHECK(e->status >= 400 && e->status <= 599);
	FUZZ_CHECK(fuzz_nonempty(e->code));
	FUZZ_CHECK(e->message != NULL);
	FUZZ_CHECK(e->www_authenticate == NULL || fuzz_header_safe(e->www_authenticate));

	const char *body = http_error_json(a, e);

	FUZZ_CHECK(body != NULL && json_is_strict(body, strlen(body), 64));
}

#endif

/*
 * prefer.c — parse Prefer: return=, count=, resolution=, missing=, tx=,
 * handling=, timezone=, max-affected=, params=.
 *
 * Unknown or malformed preferences are collected in p->invalid: with
 * handling=strict they are an error (PGRST122), otherwise ignored, as
 * PostgREST does.  Of a preference given twice the first wins.
 */
#include "prefer.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static bool is(const char *item, size_t n, const char *lit)
{
	return strlen(lit) == n && strncasecmp(item, lit, n) == 0;
}

static void add_invalid(struct prefer *p, struct arena *a, const char *item, size_t n)
{
	p->invalid = p->invalid == NULL ? arena_strndup(a, item, n)
					: arena_printf(a, "%s, %.*s", p->invalid, (int)n, item);
}

/* one "name=value" item; false when not understood */
static bool apply(struct prefer *p, struct arena *a, const char *item, size_t n)
{
	if (is(item, n, "return=minimal"))
		return p->ret = p->ret ? p->ret : RETURN_MINIMAL, true;
	if (is(item, n, "return=headers-only"))
		return p->ret = p->ret ? p->ret : RETURN_HEADERS_ONLY, true;
	if (is(item, n, "return=representation"))
		return p->ret = p->ret ? p->ret : RETURN_REPRESENTATION, true;
	if (is(item, n, "count=exact"))
		return p->count = p->count ? p->count : COUNT_EXACT, true;
	if (is(item, n, "count=planned"))
		return p->count = p->count ? p->count : COUNT_PLANNED, true;
	if (is(item, n, "count=estimated"))
		return p->count = p->count ? p->count : COUNT_ESTIMATED, true;
	if (is(item, n, "resolution=merge-duplicates"))
		return p->resolution = p->resolution ? p->resolution : RESOLUTION_MERGE, true;
	if (is(item, n, "resolution=ignore-duplicates"))
		return p->resolution = p->resolution ? p->resolution : RESOLUTION_IGNORE, true;
	if (is(item, n, "missing=default"))
		return p->missing = p->missing ? p->missing : MISSING_DEFAULT, true;
	if (is(item, n, "missing=null"))
		return p->missing = p->missing ? p->missing : MISSING_NULL, true;
	if (is(item, n, "tx=commit"))
		return p->tx = p->tx ? p->tx : TX_COMMIT, true;
	if (is(item, n, "tx=rollback"))
		return p->tx = p->tx ? p->tx : TX_ROLLBACK, true;
	if (is(item, n, "handling=strict"))
		return p->strict = true, true;
	if (is(item, n, "handling=lenient"))
		return p->lenient = true, true;
	if (is(item, n, "params=single-object"))
		return p->single_object = true, true;
	if (n > 9 && strncasecmp(item, "timezone=", 9) == 0) {
		if (p->timezone == NULL)
			p->timezone = arena_strndup(a, item + 9, n - 9);
		return true;
	}
	if (n > 13 && strncasecmp(item, "max-affected=", 13) == 0) {
		char *end, *v = arena_strndup(a, item + 13, n - 13);
		long long m = strtoll(v, &end, 10);

		if (*end != '\0' || m < 0)
			return false;
		if (p->max_affected < 0)
			p->max_affected = m;
		return true;
	}
	return false;
}

void prefer_parse(const char *header, struct prefer *p, struct arena *a)
{
	memset(p, 0, sizeof(*p));
	p->max_affected = -1;
	for (const char *s = header; s != NULL && *s;) {
		while (*s == ' ' || *s == ',' || *s == '\t')
			s++;
		size_t n = strcspn(s, ",");
		size_t t = n;

		while (t > 0 && (s[t - 1] == ' ' || s[t - 1] == '\t'))
			t--;
		if (t > 0 && !apply(p, a, s, t))
			add_invalid(p, a, s, t);
		s += n;
	}
}

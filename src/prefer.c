/*
 * prefer.c — parse Prefer: return=, count=, resolution=, missing=, tx=,
 * handling=, timezone=, max-affected=, params=, and pg_rest's own
 * read-primary (a read that must see the primary, see replica.h).
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

/*
 * The preferences with a fixed set of values: which field they set and to
 * what.  The first value given for a preference wins.
 */
enum pref_field {
	F_RETURN, F_COUNT, F_RESOLUTION, F_MISSING, F_TX, F_STRICT, F_LENIENT, F_SINGLE, F_PRIMARY
};

static const struct {
	const char *item;
	enum pref_field field;
	int value;
} fixed[] = {
	{"return=minimal", F_RETURN, RETURN_MINIMAL},
	{"return=headers-only", F_RETURN, RETURN_HEADERS_ONLY},
	{"return=representation", F_RETURN, RETURN_REPRESENTATION},
	{"count=exact", F_COUNT, COUNT_EXACT},
	{"count=planned", F_COUNT, COUNT_PLANNED},
	{"count=estimated", F_COUNT, COUNT_ESTIMATED},
	{"resolution=merge-duplicates", F_RESOLUTION, RESOLUTION_MERGE},
	{"resolution=ignore-duplicates", F_RESOLUTION, RESOLUTION_IGNORE},
	{"missing=default", F_MISSING, MISSING_DEFAULT},
	{"missing=null", F_MISSING, MISSING_NULL},
	{"tx=commit", F_TX, TX_COMMIT},
	{"tx=rollback", F_TX, TX_ROLLBACK},
	{"handling=strict", F_STRICT, 1},
	{"handling=lenient", F_LENIENT, 1},
	{"params=single-object", F_SINGLE, 1},
	{"read-primary", F_PRIMARY, 1},
};

/* set an enum field unless an earlier value already did */
#define SET_ONCE(f, v) do { if ((f) == 0) (f) = (v); } while (0)

static void set_fixed(struct prefer *p, enum pref_field field, int v)
{
	switch (field) {
	case F_RETURN: SET_ONCE(p->ret, (enum prefer_return)v); break;
	case F_COUNT: SET_ONCE(p->count, (enum count_kind)v); break;
	case F_RESOLUTION: SET_ONCE(p->resolution, (enum prefer_resolution)v); break;
	case F_MISSING: SET_ONCE(p->missing, (enum prefer_missing)v); break;
	case F_TX: SET_ONCE(p->tx, (enum prefer_tx)v); break;
	case F_STRICT: p->strict = true; break;
	case F_LENIENT: p->lenient = true; break;
	case F_SINGLE: p->single_object = true; break;
	case F_PRIMARY: p->read_primary = true; break;
	}
}

/* one "name=value" item; false when not understood */
static bool apply(struct prefer *p, struct arena *a, const char *item, size_t n)
{
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		if (is(item, n, fixed[i].item)) {
			set_fixed(p, fixed[i].field, fixed[i].value);
			return true;
		}
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

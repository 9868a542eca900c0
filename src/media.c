/*
 * media.c — Accept header negotiation.
 *
 * An Accept value is a list of "type/subtype;param=value;q=0.5" entries.
 * PostgREST takes the entries in q order (stable for equal q) and answers
 * with the first one it can produce; "*" wildcards match JSON.
 */
#define _GNU_SOURCE
#include "media.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_ENTRIES 32

struct entry {
	const char *type;           /* start of "type/subtype" */
	size_t type_len;
	const char *params;         /* the rest up to ',' (may be empty) */
	size_t params_len;
	double q;
	int order;
};

static bool eq_ci(const char *s, size_t n, const char *lit)
{
	return strlen(lit) == n && strncasecmp(s, lit, n) == 0;
}

static void trim(const char **s, size_t *n)
{
	while (*n > 0 && (**s == ' ' || **s == '\t')) {
		(*s)++;
		(*n)--;
	}
	while (*n > 0 && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t'))
		(*n)--;
}

/* Does the parameter list (";a=b;c=d") contain name=value? */
static bool has_param(const char *p, size_t n, const char *name, const char *value)
{
	while (n > 0) {
		while (n > 0 && (*p == ';' || *p == ' ')) {
			p++;
			n--;
		}
		size_t len = 0;

		while (len < n && p[len] != ';')
			len++;
		const char *eq = memchr(p, '=', len);

		if (eq != NULL) {
			const char *k = p, *v = eq + 1;
			size_t kn = (size_t)(eq - p), vn = len - kn - 1;

			trim(&k, &kn);
			trim(&v, &vn);
			if (eq_ci(k, kn, name) && eq_ci(v, vn, value))
				return true;
		}
		p += len;
		n -= len;
	}
	return false;
}

static double param_q(const char *p, size_t n)
{
	for (size_t i = 0; i + 1 < n; i++)
		if ((p[i] == 'q' || p[i] == 'Q') && p[i + 1] == '=' &&
		    (i == 0 || p[i - 1] == ';' || p[i - 1] == ' ')) {
			double q = strtod(p + i + 2, NULL);

			/* RFC 9110 allows 0..1; NaN would make the sort's comparisons inconsistent */
			if (!(q >= 0.0))
				return 0.0;
			return q > 1.0 ? 1.0 : q;
		}
	return 1.0;
}

/* The media type one Accept entry names, if we know it. */
static enum media_type entry_media(const struct entry *e)
{
	const char *t = e->type;
	size_t n = e->type_len;

	if (eq_ci(t, n, "*/*") || eq_ci(t, n, "application/*") || eq_ci(t, n, "application/json"))
		return MEDIA_JSON;
	if (eq_ci(t, n, "application/vnd.pgrst.object+json") ||
	    eq_ci(t, n, "application/vnd.pgrst.object"))
		return has_param(e->params, e->params_len, "nulls", "stripped")
			       ? MEDIA_OBJECT_STRIPPED : MEDIA_OBJECT;
	if (eq_ci(t, n, "application/vnd.pgrst.array+json") ||
	    eq_ci(t, n, "application/vnd.pgrst.array"))
		return has_param(e->params, e->params_len, "nulls", "stripped")
			       ? MEDIA_ARRAY_STRIPPED : MEDIA_JSON;
	if (eq_ci(t, n, "text/csv") || eq_ci(t, n, "text/*"))
		return MEDIA_CSV;
	if (eq_ci(t, n, "application/vnd.pgrst.plan") || eq_ci(t, n, "application/vnd.pgrst.plan+text"))
		return MEDIA_PLAN_TEXT;
	if (eq_ci(t, n, "application/vnd.pgrst.plan+json"))
		return MEDIA_PLAN_JSON;
	if (eq_ci(t, n, "application/openapi+json"))
		return MEDIA_OPENAPI;
	return MEDIA_NONE;
}

static int by_q(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;

	if (x->q != y->q)
		return x->q > y->q ? -1 : 1;
	return x->order - y->order;
}

/* Accept's entries into es, most wanted first (by q, then as written); how many */
static int parse_accept(const char *accept, struct entry es[MAX_ENTRIES])
{
	int n = 0;

	for (const char *p = accept; *p && n < MAX_ENTRIES;) {
		size_t len = strcspn(p, ",");
		const char *semi = memchr(p, ';', len);
		struct entry *e = &es[n];

		e->type = p;
		e->type_len = semi ? (size_t)(semi - p) : len;
		trim(&e->type, &e->type_len);
		e->params = semi ? semi : p + len;
		e->params_len = semi ? len - (size_t)(semi - p) : 0;
		e->q = param_q(e->params, e->params_len);
		e->order = n;
		if (e->type_len > 0)
			n++;
		p += len;
		if (*p == ',')
			p++;
	}
	qsort(es, (size_t)n, sizeof(es[0]), by_q);
	return n;
}

enum media_type media_negotiate(const char *accept, unsigned allowed)
{
	struct entry es[MAX_ENTRIES];
	int n;

	if (accept == NULL || accept[strspn(accept, " \t,")] == '\0')
		return (allowed & MEDIA_BIT(MEDIA_JSON)) ? MEDIA_JSON : MEDIA_NONE;
	n = parse_accept(accept, es);
	for (int i = 0; i < n; i++) {
		enum media_type m = entry_media(&es[i]);

		if (es[i].q > 0 && m != MEDIA_NONE && (allowed & MEDIA_BIT(m)))
			return m;
	}
	return MEDIA_NONE;
}

/* "text/<asterisk>" for "text/html": the range of the handler's main type */
static bool range_covers(const char *t, size_t n, const char *handler)
{
	const char *slash = strchr(handler, '/');
	size_t main_len = slash ? (size_t)(slash - handler) : strlen(handler);

	return n == main_len + 2 && strncasecmp(t, handler, main_len) == 0 &&
	       t[main_len] == '/' && t[main_len + 1] == '*';
}

/*
 * A media type handler (PostgREST v12: a function returning a domain
 * named like a media type) answers when the first acceptable entry of
 * Accept, by q, names its type (or type/<asterisk>) before any builtin
 * media type; a "<asterisk>/<asterisk>" handler answers whatever is asked,
 * also without Accept, with the type asked for or application/octet-stream.
 */
bool media_handler_accepts(const char *accept, const char *handler, struct arena *a,
			   const char **content_type)
{
	struct entry es[MAX_ENTRIES];
	int n;
	bool any = strcmp(handler, "*/*") == 0;

	*content_type = any ? "application/octet-stream" : handler;
	if (accept == NULL || accept[strspn(accept, " \t,")] == '\0')
		return any;
	n = parse_accept(accept, es);
	for (int i = 0; i < n; i++) {
		const struct entry *e = &es[i];

		if (e->q <= 0)
			continue;
		if (any) {
			if (memchr(e->type, '*', e->type_len) == NULL)
				*content_type = arena_strndup(a, e->type, e->type_len);
			return true;
		}
		if (eq_ci(e->type, e->type_len, handler) || range_covers(e->type, e->type_len, handler))
			return true;
		if (entry_media(e) != MEDIA_NONE)
			return false;       /* a builtin one comes first */
	}
	return false;
}

const char *media_content_type(enum media_type m)
{
	switch (m) {
	case MEDIA_OBJECT:
		return "application/vnd.pgrst.object+json; charset=utf-8";
	case MEDIA_OBJECT_STRIPPED:
		return "application/vnd.pgrst.object+json;nulls=stripped; charset=utf-8";
	case MEDIA_ARRAY_STRIPPED:
		return "application/vnd.pgrst.array+json;nulls=stripped; charset=utf-8";
	case MEDIA_CSV:
		return "text/csv; charset=utf-8";
	case MEDIA_PLAN_TEXT:
		return "application/vnd.pgrst.plan+text; charset=utf-8";
	case MEDIA_PLAN_JSON:
		return "application/vnd.pgrst.plan+json; charset=utf-8";
	case MEDIA_OPENAPI:
		return "application/openapi+json; charset=utf-8";
	default:
		return "application/json; charset=utf-8";
	}
}

const char *media_plan_options(const char *accept)
{
	static const struct {
		const char *name;
		const char *sql;
	} opts[] = {
		{"analyze", ", ANALYZE"}, {"verbose", ", VERBOSE"}, {"settings", ", SETTINGS"},
		{"buffers", ", BUFFERS"}, {"wal", ", WAL"},
	};
	static char out[64];
	const char *p = accept ? strcasestr(accept, "options=") : NULL;

	out[0] = '\0';
	if (p == NULL)
		return out;
	p += 8;
	size_t n = strcspn(p, ";,");

	for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
		const char *hit = p;
		size_t len = strlen(opts[i].name);

		while ((hit = strcasestr(hit, opts[i].name)) != NULL && hit < p + n) {
			bool start = hit == p || hit[-1] == '|';
			bool end = hit + len == p + n || hit[len] == '|';

			if (start && end) {
				strcat(out, opts[i].sql);
				break;
			}
			hit += len;
		}
	}
	return out;
}

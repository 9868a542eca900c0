/*
 * payload.c — request bodies of writes: JSON checked, CSV and forms
 * converted to JSON.
 */
#include "payload.h"

#include <json-c/json.h>
#include <limits.h>
#include <string.h>
#include <strings.h>

#include "json.h"
#include "query.h"

int payload_type_of(const char *ct)
{
	size_t n;

	if (ct == NULL || ct[0] == '\0')
		return PAYLOAD_JSON;
	n = strcspn(ct, "; ");
	if ((n == 16 && strncasecmp(ct, "application/json", n) == 0) ||
	    (n == 3 && strncasecmp(ct, "*/*", n) == 0))
		return PAYLOAD_JSON;
	if (n == 8 && strncasecmp(ct, "text/csv", n) == 0)
		return PAYLOAD_CSV;
	if (n == 33 && strncasecmp(ct, "application/x-www-form-urlencoded", n) == 0)
		return PAYLOAD_FORM;
	return -1;
}

/* deep enough for any real document, shallow enough for the stack */
#define PAYLOAD_MAX_DEPTH 256

static int invalid(struct http_error *err, const char *msg, const char *details)
{
	http_error_set(err, 400, "PGRST102", msg, details, NULL);
	return -1;
}

/* the keys of one object, in order */
static void object_keys(json_object *o, struct arena *a, struct payload *p)
{
	int n = json_object_object_length(o), i = 0;

	p->keys = arena_alloc(a, sizeof(char *) * (size_t)(n + 1));
	json_object_object_foreach(o, k, v) {
		(void)v;
		p->keys[i++] = arena_strdup(a, k);
	}
	p->n_keys = i;
}

static bool same_keys(json_object *o, const struct payload *p)
{
	if (json_object_object_length(o) != p->n_keys)
		return false;
	for (int i = 0; i < p->n_keys; i++)
		if (!json_object_object_get_ex(o, p->keys[i], NULL))
			return false;
	return true;
}

static int parse_json(const char *body, size_t len, bool need_keys, struct arena *a,
		      struct payload *p, struct http_error *err)
{
	json_tokener *tok;
	json_object *doc;
	int rc = 0;

	/* what PostgreSQL's json input would refuse is refused here, as PGRST102 */
	if (len > INT_MAX || !json_is_strict(body, len, PAYLOAD_MAX_DEPTH))
		return invalid(err, "Empty or invalid json", NULL);
	tok = json_tokener_new_ex(PAYLOAD_MAX_DEPTH + 1);
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	doc = json_tokener_parse_ex(tok, body, (int)len);
	/* only white space may follow the document */
	size_t used = doc ? (size_t)json_tokener_get_parse_end(tok) : 0;

	while (used < len && strchr(" \t\r\n", body[used]) != NULL && body[used] != '\0')
		used++;
	if (doc == NULL || used < len || json_tokener_get_error(tok) != json_tokener_success) {
		json_object_put(doc);
		json_tokener_free(tok);
		return invalid(err, "Empty or invalid json", NULL);
	}
	json_tokener_free(tok);

	p->json = arena_strndup(a, body, len);
	p->is_array = json_object_is_type(doc, json_type_array);
	if (p->is_array) {
		p->n_rows = (int)json_object_array_length(doc);
		for (int i = 0; i < p->n_rows; i++) {
			json_object *o = json_object_array_get_idx(doc, (size_t)i);

			if (!json_object_is_type(o, json_type_object)) {
				rc = invalid(err, "All object keys must match", NULL);
				break;
			}
			if (!need_keys)
				continue;
			if (i == 0)
				object_keys(o, a, p);
			else if (!same_keys(o, p)) {
				rc = invalid(err, "All object keys must match", NULL);
				break;
			}
		}
	} else if (json_object_is_type(doc, json_type_object)) {
		p->n_rows = 1;
		if (need_keys)
			object_keys(doc, a, p);
	} else {
		rc = invalid(err, "Empty or invalid json", NULL);
	}
	json_object_put(doc);
	return rc;
}

/* ------------------------------------------------------------------ */
/* CSV (RFC 4180): header line, then rows; "NULL" unquoted is null    */

struct csv {
	const char *s, *end;
	struct arena *a;
};

/* one field; *null when it was an unquoted NULL; returns false at end of line */
static bool csv_field(struct csv *c, struct sbuf *f, bool *null, bool *eol)
{
	bool quoted = false;

	f->len = 0;
	f->data[0] = '\0';
	*null = false;
	if (c->s < c->end && *c->s == '"') {
		quoted = true;
		c->s++;
		while (c->s < c->end) {
			if (*c->s == '"') {
				if (c->s + 1 < c->end && c->s[1] == '"') {
					sbuf_putc(f, '"');
					c->s += 2;
					continue;
				}
				c->s++;
				break;
			}
			sbuf_putc(f, *c->s++);
		}
	}
	while (c->s < c->end && *c->s != ',' && *c->s != '\n' && *c->s != '\r')
		sbuf_putc(f, *c->s++);
	if (!quoted && strcmp(f->data, "NULL") == 0)
		*null = true;
	*eol = c->s >= c->end || *c->s != ',';
	if (c->s < c->end && *c->s == ',')
		c->s++;
	else {
		if (c->s < c->end && *c->s == '\r')
			c->s++;
		if (c->s < c->end && *c->s == '\n')
			c->s++;
	}
	return true;
}

static int parse_csv(const char *body, size_t len, struct arena *a, struct payload *p,
		     struct http_error *err)
{
	struct csv c = {body, body + len, a};
	struct sbuf f, out;
	bool null, eol;
	int cap = 16;

	sbuf_init(&f, a, 64);
	sbuf_init(&out, a, len * 2 + 16);
	p->keys = arena_alloc(a, sizeof(char *) * (size_t)cap);
	p->n_keys = 0;
	do {
		csv_field(&c, &f, &null, &eol);
		if (p->n_keys == cap) {
			const char **k = arena_alloc(a, sizeof(char *) * (size_t)(cap *= 2));

			memcpy(k, p->keys, sizeof(char *) * (size_t)p->n_keys);
			p->keys = k;
		}
		p->keys[p->n_keys++] = arena_strdup(a, f.data);
	} while (!eol);

	sbuf_putc(&out, '[');
	p->n_rows = 0;
	while (c.s < c.end) {
		if (*c.s == '\n' || *c.s == '\r') {     /* blank line */
			c.s++;
			continue;
		}
		sbuf_puts(&out, p->n_rows++ ? ",{" : "{");
		int i = 0;

		do {
			csv_field(&c, &f, &null, &eol);
			if (i >= p->n_keys)
				return invalid(err, "All lines must have same number of fields", NULL);
			if (i > 0)
				sbuf_putc(&out, ',');
			json_put_string(&out, p->keys[i]);
			sbuf_putc(&out, ':');
			json_put_string(&out, null ? NULL : f.data);
			i++;
		} while (!eol);
		if (i != p->n_keys)
			return invalid(err, "All lines must have same number of fields", NULL);
		sbuf_putc(&out, '}');
	}
	sbuf_putc(&out, ']');
	p->json = out.data;
	p->is_array = true;
	return 0;
}

/* a=1&b=2 -> {"a":"1","b":"2"} */
static int parse_form(const char *body, size_t len, struct arena *a, struct payload *p)
{
	struct sbuf out;
	const char *s = body, *end = body + len;
	int cap = 8;

	sbuf_init(&out, a, len * 2 + 8);
	p->keys = arena_alloc(a, sizeof(char *) * (size_t)cap);
	p->n_keys = 0;
	sbuf_putc(&out, '{');
	while (s < end) {
		const char *amp = memchr(s, '&', (size_t)(end - s));
		const char *stop = amp ? amp : end;
		const char *eq = memchr(s, '=', (size_t)(stop - s));

		if (stop > s) {
			const char *k = query_decode(a, s, (size_t)((eq ? eq : stop) - s));
			const char *v = eq ? query_decode(a, eq + 1, (size_t)(stop - eq - 1)) : "";

			if (p->n_keys == cap) {
				const char **nk = arena_alloc(a, sizeof(char *) * (size_t)(cap *= 2));

				memcpy(nk, p->keys, sizeof(char *) * (size_t)p->n_keys);
				p->keys = nk;
			}
			if (p->n_keys > 0)
				sbuf_putc(&out, ',');
			p->keys[p->n_keys++] = k;
			json_put_string(&out, k);
			sbuf_putc(&out, ':');
			json_put_string(&out, v);
		}
		s = amp ? amp + 1 : end;
	}
	sbuf_putc(&out, '}');
	p->json = out.data;
	p->is_array = false;
	p->n_rows = 1;
	return 0;
}

/*
 * A NUL byte in a CSV body, or %00 in a form body: converted to JSON through
 * C strings it would silently cut the value (and the key) short there.
 * PostgREST turns it into \u0000, which PostgreSQL refuses for text; answer
 * that error without going to the database.
 */
static bool has_nul(const char *body, size_t len, bool form)
{
	if (memchr(body, '\0', len) != NULL)
		return true;
	for (size_t i = 0; form && i + 2 < len; i++)
		if (body[i] == '%' && body[i + 1] == '0' && body[i + 2] == '0')
			return true;
	return false;
}

int payload_parse(enum payload_type type, const char *body, size_t len, bool need_keys,
		  struct arena *a, struct payload *out, struct http_error *err)
{
	memset(out, 0, sizeof(*out));
	if (body == NULL)
		body = "";
	if ((type == PAYLOAD_CSV || type == PAYLOAD_FORM) && has_nul(body, len, type == PAYLOAD_FORM)) {
		http_error_set(err, 400, "22P05", "unsupported Unicode escape sequence",
			       "\\u0000 cannot be converted to text.", NULL);
		return -1;
	}
	switch (type) {
	case PAYLOAD_CSV:
		return parse_csv(body, len, a, out, err);
	case PAYLOAD_FORM:
		return parse_form(body, len, a, out);
	default:
		return parse_json(body, len, need_keys, a, out, err);
	}
}

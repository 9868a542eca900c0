/*
 * response.c — status lines, headers and error bodies.
 *
 * The status mapping follows PostgREST v12 (src/PostgREST/Error.hs,
 * pgErrorStatus): specific SQLSTATEs are tested before their class.
 */
#include "response.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "json.h"

void http_error_set(struct http_error *e, int status, const char *code,
		    const char *message, const char *details, const char *hint)
{
	e->status = status;
	e->code = code;
	e->message = message;
	e->details = details;
	e->hint = hint;
	e->www_authenticate = NULL;
	e->details_json = false;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

int pg_error_status(const char *st, const char *message, bool as_anon)
{
	if (st == NULL || strlen(st) != 5)
		return 500;
	if (message == NULL)
		message = "";

	/* exact codes first */
	if (strcmp(st, "23503") == 0 || strcmp(st, "23505") == 0)
		return 409;
	if (strcmp(st, "25006") == 0)
		return 405;
	if (strcmp(st, "21000") == 0)
		return ends_with(message, "requires a WHERE clause") ? 400 : 500;
	if (strcmp(st, "53400") == 0)
		return 500;
	if (strcmp(st, "57P01") == 0)
		return 503;
	if (strcmp(st, "P0001") == 0)
		return 400;
	if (strcmp(st, "42883") == 0)
		return strncmp(message, "function xmlagg(", 16) == 0 ? 406 : 404;
	if (strcmp(st, "42P01") == 0)
		return 404;
	if (strcmp(st, "42P17") == 0)
		return 500;
	if (strcmp(st, "42501") == 0)
		return as_anon ? 401 : 403;

	/* RAISE SQLSTATE 'PTxyz': the status is xyz */
	if (st[0] == 'P' && st[1] == 'T') {
		char *end;
		long s = strtol(st + 2, &end, 10);

		return (*end == '\0' && s >= 100 && s <= 599) ? (int)s : 500;
	}

	/* classes */
	static const struct {
		const char cls[3];
		int status;
	} classes[] = {
		{"08", 503}, {"09", 500}, {"0L", 403}, {"0P", 403}, {"25", 500},
		{"28", 403}, {"2D", 500}, {"38", 500}, {"39", 500}, {"3B", 500},
		{"40", 500}, {"53", 503}, {"54", 500}, {"55", 500}, {"57", 500},
		{"58", 500}, {"F0", 500}, {"HV", 500}, {"P0", 500}, {"XX", 500},
	};
	for (size_t i = 0; i < sizeof(classes) / sizeof(classes[0]); i++)
		if (st[0] == classes[i].cls[0] && st[1] == classes[i].cls[1])
			return classes[i].status;
	return 400;
}

const char *http_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 204: return "No Content";
	case 206: return "Partial Content";
	case 300: return "Multiple Choices";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 402: return "Payment Required";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 406: return "Not Acceptable";
	case 409: return "Conflict";
	case 413: return "Payload Too Large";
	case 415: return "Unsupported Media Type";
	case 416: return "Range Not Satisfiable";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	default:  return "Status";
	}
}

void response_init(struct response *r, FCGX_Stream *out, struct arena *a, bool head_only)
{
	r->arena = a;
	r->out = out;
	r->status = 200;
	r->head_only = head_only;
	r->cors_origin_sent = false;
	r->timing = NULL;
	sbuf_init(&r->headers, a, 256);
}

static double now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void timing_start(struct response *r, struct server_timing *t)
{
	memset(t, 0, sizeof(*t));
	t->last = now_seconds();
	r->timing = t;
}

void timing_mark(struct response *r, enum timing_stage st)
{
	double now;

	if (r->timing == NULL)
		return;
	now = now_seconds();
	r->timing->dur[st] += now - r->timing->last;
	r->timing->seen[st] = true;
	r->timing->last = now;
}

void timing_skip(struct response *r)
{
	if (r->timing != NULL)
		r->timing->last = now_seconds();
}

/*
 * PostgREST v12 renders each duration as seconds times 10^6 with one
 * decimal (so microseconds, though Server-Timing means milliseconds);
 * pg_rest writes the same numbers, for dashboards made for PostgREST.
 */
static void put_server_timing(struct response *r)
{
	static const char *const names[TIMING_STAGES] = {"jwt", "parse", "plan", "transaction"};
	struct server_timing *t = r->timing;
	struct sbuf v;

	sbuf_init(&v, r->arena, 128);
	for (int i = 0; i < TIMING_STAGES; i++)
		if (t->seen[i])
			sbuf_printf(&v, "%s;dur=%.1f, ", names[i], t->dur[i] * 1e6);
	sbuf_printf(&v, "response;dur=%.1f", (now_seconds() - t->last) * 1e6);
	response_header(r, "Server-Timing", v.data);
}

void response_allow_any_origin(struct response *r)
{
	if (!r->cors_origin_sent)
		response_header(r, "Access-Control-Allow-Origin", "*");
}

void response_header(struct response *r, const char *name, const char *value)
{
	sbuf_puts(&r->headers, name);
	sbuf_puts(&r->headers, ": ");
	/* a header value must never carry a line break into the header block */
	for (const char *p = value; *p; p++)
		sbuf_putc(&r->headers, (*p == '\r' || *p == '\n') ? ' ' : *p);
	sbuf_puts(&r->headers, "\r\n");
}

void response_drop_header(struct response *r, const char *name)
{
	size_t n = strlen(name), out = 0;
	char *h = r->headers.data;

	for (size_t i = 0; i < r->headers.len;) {
		char *eol = strstr(h + i, "\r\n");
		size_t line = eol ? (size_t)(eol - (h + i)) + 2 : r->headers.len - i;
		bool same = line > n && h[i + n] == ':' && strncasecmp(h + i, name, n) == 0;

		if (!same) {
			memmove(h + out, h + i, line);
			out += line;
		}
		i += line;
	}
	r->headers.len = out;
	h[out] = '\0';
}

void response_headerf(struct response *r, const char *name, const char *fmt, ...)
{
	struct sbuf v;
	va_list ap;

	sbuf_init(&v, r->arena, 64);
	va_start(ap, fmt);
	sbuf_vprintf(&v, fmt, ap);
	va_end(ap);
	response_header(r, name, v.data);
}

int response_send(struct response *r, const char *body, size_t len)
{
	if (r->timing != NULL)
		put_server_timing(r);
	if (FCGX_FPrintF(r->out, "Status: %d %s\r\n", r->status, http_reason(r->status)) < 0)
		return -1;
	if (FCGX_PutStr(r->headers.data, (int)r->headers.len, r->out) < 0)
		return -1;
	if (FCGX_PutStr("\r\n", 2, r->out) < 0)
		return -1;
	if (body != NULL && !r->head_only && len > 0) {
		/* FCGX_PutStr takes an int: write large bodies in pieces */
		while (len > 0) {
			int n = len > (1u << 30) ? (1 << 30) : (int)len;

			if (FCGX_PutStr(body, n, r->out) < 0)
				return -1;
			body += n;
			len -= (size_t)n;
		}
	}
	return 0;
}

char *http_error_json(struct arena *a, const struct http_error *e)
{
	struct sbuf b;

	/*
	 * json_put_text: messages echo what the client sent (a table name
	 * from the path, a select list), which need not be UTF-8; the body
	 * must stay valid JSON, so such bytes become U+FFFD.
	 */
	sbuf_init(&b, a, 256);
	sbuf_puts(&b, "{\"code\":");
	json_put_text(&b, e->code);
	sbuf_puts(&b, ",\"details\":");
	if (e->details_json && e->details != NULL)
		sbuf_puts(&b, e->details);
	else
		json_put_text(&b, e->details);
	sbuf_puts(&b, ",\"hint\":");
	json_put_text(&b, e->hint);
	sbuf_puts(&b, ",\"message\":");
	json_put_text(&b, e->message);
	sbuf_putc(&b, '}');
	return b.data;
}

int response_error(struct response *r, const struct http_error *e)
{
	char *body = http_error_json(r->arena, e);

	r->status = e->status;
	response_header(r, "Content-Type", "application/json; charset=utf-8");
	if (e->www_authenticate != NULL)
		response_header(r, "WWW-Authenticate", e->www_authenticate);
	/* the worker retries the database at most once a second */
	if (e->status == 503)
		response_header(r, "Retry-After", "1");
	return response_send(r, body, strlen(body));
}

/*
 * response.h — HTTP status, headers and bodies written to the FastCGI stream.
 *
 * Every error pg_rest answers has PostgREST's body
 * {"code","message","details","hint"} and Content-Type application/json,
 * never an HTML page.
 */
#ifndef PGR_RESPONSE_H
#define PGR_RESPONSE_H

#include <fcgiapp.h>
#include <stdbool.h>

#include "arena.h"

struct http_error {
	int status;                 /* 0 = no error */
	const char *code;           /* PGRSTnnn or SQLSTATE */
	const char *message;
	const char *details;        /* NULL -> null */
	const char *hint;           /* NULL -> null */
	const char *www_authenticate;  /* extra header for 401, or NULL */
	bool details_json;          /* details is JSON text (PGRST201's candidate list) */
};

void http_error_set(struct http_error *e, int status, const char *code,
		    const char *message, const char *details, const char *hint);

/*
 * HTTP status for a PostgreSQL error, PostgREST's pgErrorStatus.
 * as_anon: the request ran as db-anon-role (42501 -> 401, else 403).
 */
int pg_error_status(const char *sqlstate, const char *message, bool as_anon);

const char *http_reason(int status);

/*
 * A response being written.  Headers are collected first, then
 * response_send() writes the status line, headers and body in one go.
 */
/*
 * server-timing-enabled: where a request's time went, sent as PostgREST
 * v12's Server-Timing header (jwt, parse, plan, transaction, response).
 */
enum timing_stage { TIMING_JWT, TIMING_PARSE, TIMING_PLAN, TIMING_TRANSACTION, TIMING_STAGES };

struct server_timing {
	double last;                /* monotonic seconds at the last mark */
	double dur[TIMING_STAGES];  /* seconds spent in each stage */
	bool seen[TIMING_STAGES];
};

struct response {
	struct arena *arena;
	FCGX_Stream *out;
	int status;
	struct sbuf headers;        /* "Name: value\r\n" lines */
	bool head_only;             /* HEAD: headers but no body */
	bool cors_origin_sent;      /* cors.c added Access-Control-Allow-Origin */
	struct server_timing *timing;   /* NULL unless server-timing-enabled */
};

/* Start timing r's request now (t: storage for the request's timings). */
void timing_start(struct response *r, struct server_timing *t);
/* The time since the last mark was stage st's (no-op when not timing). */
void timing_mark(struct response *r, enum timing_stage st);
/* Start the next stage now: what came before it is no stage's. */
void timing_skip(struct response *r);

void response_init(struct response *r, FCGX_Stream *out, struct arena *a, bool head_only);
void response_header(struct response *r, const char *name, const char *value);
/* Remove the header lines called name (case-insensitive). */
void response_drop_header(struct response *r, const char *name);

/*
 * The longest Content-Location / Location value sent.  They echo the query
 * string (up to ~32 KiB through nginx's large_client_header_buffers) or a
 * primary key from the body; when all headers pass nginx's
 * fastcgi_buffer_size (one page, 4k, by default; 16k in the shipped example)
 * nginx answers 502 "upstream sent too big header", and Apache refuses
 * header lines over 8190 bytes (500).  A longer one is left out, so the
 * headers fit nginx's default buffer: the answer matters more than the echo.
 */
#define RESPONSE_MAX_ECHO_HEADER 2048
void response_headerf(struct response *r, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/*
 * "Access-Control-Allow-Origin: *" on the answers to OPTIONS (PostgREST's
 * respondInfo sends it to every client), unless cors.c already sent one.
 */
void response_allow_any_origin(struct response *r);

/* Send status, headers and body (body may be NULL). Returns -1 when the client is gone. */
int response_send(struct response *r, const char *body, size_t len);
/* Send e as PostgREST's JSON error body. */
int response_error(struct response *r, const struct http_error *e);

/* The JSON text of an error body (used by tests and logs). */
char *http_error_json(struct arena *a, const struct http_error *e);

#endif

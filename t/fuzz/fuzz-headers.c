/*
 * fuzz-headers.c — libFuzzer target for the request header parsers: the
 * input is one header value given to each of them in turn, then split at
 * newlines into FastCGI params for request_from_params():
 *
 *   Prefer          prefer_parse (src/prefer.c)
 *   Range           query_apply_range (src/query.c) on a few limit/offset pairs
 *   Accept          media_negotiate, media_plan_options (src/media.c)
 *   Content-Type    payload_type_of (src/payload.c)
 *   params          request_from_params, request_header, request_config_path
 *                   (src/request.c)
 *
 * Invariants: enums stay in range; the negotiated type is one that was
 * allowed; Range only narrows (the result lies within both the query's
 * range and the header's); a 416 has its code; the request has a method,
 * a path and lower-case header names that request_header finds.
 */
#include <ctype.h>
#include <limits.h>

#include "fuzz.h"
#include "media.h"
#include "payload.h"
#include "prefer.h"
#include "query.h"
#include "request.h"

static void fuzz_prefer(const char *h, struct arena *a)
{
	struct prefer p;

	prefer_parse(h, &p, a);
	FUZZ_CHECK(p.ret >= RETURN_UNSET && p.ret <= RETURN_REPRESENTATION);
	FUZZ_CHECK(p.count >= COUNT_NONE && p.count <= COUNT_ESTIMATED);
	FUZZ_CHECK(p.resolution >= RESOLUTION_UNSET && p.resolution <= RESOLUTION_IGNORE);
	FUZZ_CHECK(p.missing >= MISSING_UNSET && p.missing <= MISSING_NULL);
	FUZZ_CHECK(p.tx >= TX_UNSET && p.tx <= TX_ROLLBACK);
	FUZZ_CHECK(p.max_affected >= -1);
	FUZZ_CHECK(p.invalid == NULL || p.invalid[0] != '\0');
	FUZZ_CHECK(p.timezone == NULL || p.timezone[0] != '\0');
}

/* [lo, end) of a range; end = -1 for no upper bound */
struct span {
	long long lo, end;
};

/* What the header asks for, by the grammar query_apply_range reads, or false. */
static bool header_span(const char *h, struct span *s)
{
	const char *p = h;
	char *end;

	if (strncasecmp(p, "items=", 6) == 0)
		p += 6;
	if (!isdigit((unsigned char)*p))
		return false;
	s->lo = strtoll(p, &end, 10);
	if (*end++ != '-')
		return false;
	s->end = -1;
	if (isdigit((unsigned char)*end)) {
		long long hi = strtoll(end, &end, 10);

		s->end = hi == LLONG_MAX ? LLONG_MAX : hi + 1;
	}
	return *end == '\0';
}

static void fuzz_range(const char *h, long long offset, long long limit, struct arena *a)
{
	struct query_level lv;
	struct http_error err;
	struct span want;

	memset(&lv, 0, sizeof(lv));
	memset(&err, 0, sizeof(err));
	lv.path = "";
	lv.offset = offset;
	lv.limit = limit;
	if (query_apply_range(&lv, h, &err) < 0) {
		FUZZ_CHECK(err.status == 416 && strcmp(err.code, "PGRST103") == 0);
		fuzz_check_error(&err, a);
		return;
	}
	FUZZ_CHECK(err.status == 0);
	FUZZ_CHECK(lv.offset >= 0 && lv.limit >= -1);
	if (!header_span(h, &want)) {
		/* ignored */
		FUZZ_CHECK(lv.offset == offset && lv.limit == limit);
		return;
	}
	/* the result lies within the query's range ... */
	FUZZ_CHECK(lv.offset >= offset);
	if (limit >= 0) {
		FUZZ_CHECK(lv.limit >= 0);
		FUZZ_CHECK((__int128)lv.offset + lv.limit <= (__int128)offset + limit ||
			   lv.limit == 0);
	}
	/* ... and within the header's */
	FUZZ_CHECK(lv.offset >= want.lo);
	if (want.end >= 0) {
		FUZZ_CHECK(lv.limit >= 0);
		FUZZ_CHECK((__int128)lv.offset + lv.limit <= want.end || lv.limit == 0);
	}
	/* and is no smaller than the intersection */
	if (limit < 0 && want.end < 0)
		FUZZ_CHECK(lv.limit == -1);
}

/* media type handlers: a content type always, and one that fits a header line */
static void fuzz_handlers(const char *h)
{
	static const char *const handlers[] = {"text/html", "*/*", "application/vnd.twkb"};
	struct arena a;

	arena_init(&a);
	for (size_t i = 0; i < sizeof(handlers) / sizeof(handlers[0]); i++) {
		const char *ct = NULL;
		bool yes = media_handler_accepts(h, handlers[i], &a, &ct);

		FUZZ_CHECK(fuzz_nonempty(ct));
		FUZZ_CHECK(strpbrk(ct, ",;") == NULL);   /* response_header() drops CR and LF */
		if (i == 1)
			FUZZ_CHECK(yes || (h != NULL && h[strspn(h, " \t,")] != '\0'));
	}
	arena_destroy(&a);
}

static void fuzz_accept(const char *h)
{
	fuzz_handlers(h);
	static const unsigned masks[] = {
		MEDIA_READS, MEDIA_READS | MEDIA_PLANS, MEDIA_ROOT, MEDIA_BIT(MEDIA_JSON),
		MEDIA_BIT(MEDIA_CSV), 0,
	};

	for (size_t i = 0; i < sizeof(masks) / sizeof(masks[0]); i++) {
		enum media_type m = media_negotiate(h, masks[i]);

		FUZZ_CHECK(m == MEDIA_NONE || (masks[i] & MEDIA_BIT(m)));
		FUZZ_CHECK(fuzz_nonempty(media_content_type(m)));
	}

	const char *opts = media_plan_options(h);

	FUZZ_CHECK(opts != NULL && strlen(opts) < 64);
	FUZZ_CHECK(opts[0] == '\0' || strncmp(opts, ", ", 2) == 0);
	for (const char *p = opts; *p; p++)
		FUZZ_CHECK(isupper((unsigned char)*p) || *p == ',' || *p == ' ');
}

/* the input's lines as an envp array (the lines point into text) */
static char **split_lines(char *text)
{
	size_t n = 1;

	for (char *p = text; *p; p++)
		n += *p == '\n';
	char **envp = malloc(sizeof(char *) * (n + 1)), **e = envp;

	if (envp == NULL)
		abort();
	for (char *p = text;;) {
		char *nl = strchr(p, '\n');

		*e++ = p;
		if (nl == NULL)
			break;
		*nl = '\0';
		p = nl + 1;
	}
	*e = NULL;
	return envp;
}

static void fuzz_params(char *text, struct arena *a)
{
	char **envp = split_lines(text);
	struct request r;
	const char *err = "unset", *from = NULL;

	if (request_from_params(&r, envp, a, &err) == 0) {
		FUZZ_CHECK(err == NULL);
		FUZZ_CHECK(r.method != NULL && r.query_string != NULL);
		FUZZ_CHECK(fuzz_nonempty(r.path) && r.prefix != NULL);
		FUZZ_CHECK(r.content_length >= -1);
		FUZZ_CHECK(r.authorization == NULL || r.authorization[0] != '\0');
		FUZZ_CHECK(r.content_type == NULL || r.content_type[0] != '\0');
		FUZZ_CHECK(r.cookie == NULL || r.cookie[0] != '\0');
		FUZZ_CHECK(r.n_headers >= 0 && (r.n_headers == 0 || r.headers != NULL));
		for (int i = 0; i < r.n_headers; i++) {
			const char *name = r.headers[i].name;

			FUZZ_CHECK(fuzz_nonempty(name) && r.headers[i].value != NULL);
			for (const char *p = name; *p; p++)
				FUZZ_CHECK(!isupper((unsigned char)*p) && *p != '_');
			FUZZ_CHECK(strcmp(name, "cookie") != 0);
			/* names are unique: the first one found is this one */
			FUZZ_CHECK(request_header(&r, name) == r.headers[i].value);
		}
	} else {
		FUZZ_CHECK(fuzz_nonempty(err));
	}

	const char *path = request_config_path(envp, a, &from);

	FUZZ_CHECK(path == NULL || fuzz_nonempty(from));
	free(envp);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const long long limits[][2] = {
		{0, -1}, {0, 0}, {0, 10}, {5, -1}, {5, 1}, {20, 5},
		{LLONG_MAX, -1}, {LLONG_MAX, 10}, {LLONG_MAX - 1, LLONG_MAX}, {0, LLONG_MAX},
	};
	struct arena a;
	char *h = fuzz_strndup(data, size);

	arena_init(&a);
	fuzz_prefer(h, &a);
	for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); i++)
		fuzz_range(h, limits[i][0], limits[i][1], &a);
	FUZZ_CHECK(query_apply_range(&(struct query_level){.limit = -1}, NULL, NULL) == 0);
	fuzz_accept(h);
	FUZZ_CHECK(media_negotiate(NULL, MEDIA_READS) == MEDIA_JSON);

	int t = payload_type_of(h);

	FUZZ_CHECK(t >= -1 && t <= PAYLOAD_FORM);
	fuzz_params(h, &a);     /* last: it cuts h into lines */

	arena_destroy(&a);
	free(h);
	return 0;
}

/*
 * fuzz-payload.c — libFuzzer target for write bodies (src/payload.c) and
 * the strict JSON check (src/json.c).
 *
 * The first byte picks the body type (JSON, CSV, form) and need_keys; the
 * rest is the body, NUL-terminated as handler.c reads it.  Every input
 * also goes through json_is_strict() and, when that accepts it, through
 * json-c: what the strict check passes, json-c must parse (else a valid
 * body would be refused as "Empty or invalid json").
 *
 * Invariants: a parse that succeeds gives JSON text that is strict JSON
 * (for CSV and form bodies of well-formed UTF-8: the conversion must not
 * break it), a row count and keys without NULLs; an error is a 400 with a
 * code.
 */
#include <json-c/json.h>

#include "fuzz.h"
#include "payload.h"

static void check_payload(enum payload_type type, bool need_keys, const char *body,
			  size_t len, const struct payload *p)
{
	FUZZ_CHECK(p->json != NULL);
	FUZZ_CHECK(p->n_rows >= 0 && p->n_keys >= 0);
	FUZZ_CHECK(p->n_keys == 0 || p->keys != NULL);
	for (int i = 0; i < p->n_keys; i++)
		FUZZ_CHECK(p->keys[i] != NULL);
	if (type == PAYLOAD_JSON) {
		/* passed on as it came */
		FUZZ_CHECK(strlen(p->json) == len && memcmp(p->json, body, len) == 0);
		FUZZ_CHECK(p->is_array || p->n_rows == 1);
		if (need_keys && p->n_rows > 0)
			FUZZ_CHECK(p->keys != NULL);
		return;
	}
	/*
	 * converted: JSON PostgreSQL reads, unless the values hold bytes that
	 * are not UTF-8 (PostgreSQL refuses those itself, 22021, as for
	 * PostgREST: %83 in a form, Latin-1 in a CSV file)
	 */
	if (fuzz_utf8(p->json, strlen(p->json)))
		FUZZ_CHECK(json_is_strict(p->json, strlen(p->json), 8));
	if (type == PAYLOAD_CSV) {
		FUZZ_CHECK(p->is_array && p->n_keys >= 1);
	} else {
		FUZZ_CHECK(!p->is_array && p->n_rows == 1);
	}
}

/* json_is_strict against json-c: strict JSON must parse, and the whole of it */
static void check_strict(const char *body, size_t len)
{
	if (!json_is_strict(body, len, 256))
		return;
	FUZZ_CHECK(json_is_strict(body, len, 1 << 20));

	json_tokener *tok = json_tokener_new_ex(257);
	json_object *doc;

	FUZZ_CHECK(tok != NULL);
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	doc = json_tokener_parse_ex(tok, body, (int)len);
	if (doc == NULL) {
		/*
		 * JSON null is json-c's NULL; a lone number or literal has no
		 * end of its own, so json-c waits for more (payload_parse
		 * refuses scalars anyway)
		 */
		size_t i = strspn(body, " \t\r\n");

		if (json_tokener_get_error(tok) == json_tokener_success)
			FUZZ_CHECK(strncmp(body + i, "null", 4) == 0);
		else
			FUZZ_CHECK(json_tokener_get_error(tok) == json_tokener_continue &&
				   (body[i] == '-' || (body[i] >= '0' && body[i] <= '9') ||
				    body[i] == 't' || body[i] == 'f' || body[i] == 'n'));
	} else {
		size_t used = (size_t)json_tokener_get_parse_end(tok);

		FUZZ_CHECK(json_tokener_get_error(tok) == json_tokener_success);
		FUZZ_CHECK(used <= len && strspn(body + used, " \t\r\n") == len - used);
	}
	json_object_put(doc);
	json_tokener_free(tok);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > (1u << 20))
		return 0;

	enum payload_type type = (enum payload_type)(data[0] % 3);
	bool need_keys = (data[0] & 4) == 0;
	size_t len = size - 1;
	char *body = fuzz_strndup(data + 1, len);
	struct arena a;
	struct payload p;
	struct http_error err;

	arena_init(&a);
	memset(&err, 0, sizeof(err));
	if (payload_parse(type, body, len, need_keys, &a, &p, &err) == 0) {
		FUZZ_CHECK(err.status == 0);
		check_payload(type, need_keys, body, len, &p);
	} else {
		FUZZ_CHECK(err.status == 400);
		fuzz_check_error(&err, &a);
	}
	check_strict(body, len);

	arena_destroy(&a);
	free(body);
	return 0;
}

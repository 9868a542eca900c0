/*
 * payload-t.c — request bodies of writes (src/payload.c).
 */
#include <string.h>

#include "../../src/payload.h"
#include "tap.h"

static struct arena A;

static int parse(enum payload_type t, const char *body, bool keys, struct payload *p,
		 struct http_error *e)
{
	memset(e, 0, sizeof(*e));
	return payload_parse(t, body, strlen(body), keys, &A, p, e);
}

int main(void)
{
	struct payload p;
	struct http_error e;

	arena_init(&A);

	is_int(payload_type_of(NULL), PAYLOAD_JSON, "no Content-Type is JSON");
	is_int(payload_type_of("application/json; charset=utf-8"), PAYLOAD_JSON, "JSON with charset");
	is_int(payload_type_of("text/csv"), PAYLOAD_CSV, "CSV");
	is_int(payload_type_of("application/x-www-form-urlencoded"), PAYLOAD_FORM, "form");
	is_int(payload_type_of("application/xml"), -1, "XML is not a write body");

	is_int(parse(PAYLOAD_JSON, "{\"a\":1,\"b\":\"x\"}", true, &p, &e), 0, "object");
	ok(!p.is_array && p.n_rows == 1 && p.n_keys == 2, "one row, two keys");
	is_str(p.keys[0], "a", "first key");
	is_int(parse(PAYLOAD_JSON, "[{\"a\":1,\"b\":2},{\"b\":3,\"a\":4}]\n", true, &p, &e), 0,
	       "array with the same keys in another order, trailing newline");
	ok(p.is_array && p.n_rows == 2, "two rows");
	is_int(parse(PAYLOAD_JSON, "[{\"a\":1},{\"b\":2}]", true, &p, &e), -1, "different keys");
	is_str(e.message, "All object keys must match", "PGRST102 message for key mismatch");
	is_str(e.code, "PGRST102", "PGRST102");
	is_int(parse(PAYLOAD_JSON, "[{\"a\":1},{\"b\":2}]", false, &p, &e), 0,
	       "with columns= the keys are not compared");
	is_int(parse(PAYLOAD_JSON, "", true, &p, &e), -1, "empty body");
	is_str(e.message, "Empty or invalid json", "message");
	is_int(parse(PAYLOAD_JSON, "{\"a\":", true, &p, &e), -1, "truncated JSON");
	is_int(parse(PAYLOAD_JSON, "{\"a\":1} x", true, &p, &e), -1, "junk after the document");
	is_int(parse(PAYLOAD_JSON, "42", true, &p, &e), -1, "a scalar is not a row");
	is_int(parse(PAYLOAD_JSON, "[1,2]", true, &p, &e), -1, "an array of scalars is not rows");
	is_int(parse(PAYLOAD_JSON, "{'a':1}", true, &p, &e), -1, "single quotes are not JSON");
	is_int(parse(PAYLOAD_JSON, "[]", true, &p, &e), 0, "empty array: no rows");
	is_int(p.n_rows, 0, "zero rows");

	is_int(parse(PAYLOAD_CSV, "name,price\napple,1.5\n\"egg, \"\"large\"\"\",NULL\n", true, &p, &e), 0, "CSV");
	is_str(p.json, "[{\"name\":\"apple\",\"price\":\"1.5\"},{\"name\":\"egg, \\\"large\\\"\",\"price\":null}]",
	       "CSV rows as JSON strings, quoting and NULL");
	is_int(parse(PAYLOAD_CSV, "a,b\r\n1,2\r\n", true, &p, &e), 0, "CRLF line ends");
	is_str(p.json, "[{\"a\":\"1\",\"b\":\"2\"}]", "CRLF rows");
	is_int(parse(PAYLOAD_CSV, "a,b\n1,\"\"\n", true, &p, &e), 0, "quoted empty string");
	is_str(p.json, "[{\"a\":\"1\",\"b\":\"\"}]", "\"\" is an empty string, not NULL");
	is_int(parse(PAYLOAD_CSV, "a,b\n1,2,3\n", true, &p, &e), -1, "too many fields");
	is_int(parse(PAYLOAD_CSV, "a,b\n1\n", true, &p, &e), -1, "too few fields");

	is_int(parse(PAYLOAD_FORM, "name=big+apple&price=2&note=a%26b", true, &p, &e), 0, "form");
	is_str(p.json, "{\"name\":\"big apple\",\"price\":\"2\",\"note\":\"a&b\"}", "form fields decoded");
	is_int(p.n_keys, 3, "form keys");

	arena_destroy(&A);
	return done_testing();
}

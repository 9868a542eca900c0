/*
 * auth-t.c — unit tests for auth.c: every row of DESIGN.md's jwt-secret
 * rules, the token checks (structure, algorithm, signature, exp/nbf/iat/aud)
 * and jwt-role-claim-key paths.
 *
 * Valid tokens are minted with libjwt, an implementation independent of
 * auth.c; tokens libjwt refuses to make (alg "none", an RS256 header, odd
 * JSON, bad base64) are built by hand and, where a signature matters,
 * signed with OpenSSL's HMAC here.
 *
 * Asymmetric keys (RSA, EC P-256/384/521, Ed25519) are generated per run
 * with EVP_PKEY_Q_keygen and given to auth_load_keys as PEM, JWK and JWK
 * Sets; their tokens are signed here with EVP_DigestSign (ES signatures
 * turned from DER into r||s) and, for RS and ES, also by libjwt.  Then key
 * loading errors, algorithm confusion, kid selection, and auth_sign_token
 * round trips.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>
#include <jwt.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "arena.h"
#include "auth.h"
#include "config.h"
#include "tap.h"

#define NOW ((time_t)1700000000)
#define SECRET "reallyreallyreallyreallyreallysafe-0123456789abcdefghijklmnop"
/* a formatted description for helpers that take a plain string */
#define D(...) arena_printf(&tok_arena, __VA_ARGS__)
#define WWW_INVALID(msg) "Bearer error=\"invalid_token\", error_description=\"" msg "\""

static struct arena req_arena;  /* reset before each auth_request */
static struct arena tok_arena;  /* tokens and texts built by the tests */

/* tap.h's is_str/is_int print their description as is: format it here */

/* ------------------------------------------------------------------------
 * Building tokens
 */

static char *b64url(const void *data, size_t n)
{
	static const char abc[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	const unsigned char *p = data;
	struct sbuf b;
	size_t i;

	sbuf_init(&b, &tok_arena, n * 4 / 3 + 4);
	for (i = 0; i + 2 < n; i += 3) {
		sbuf_putc(&b, abc[p[i] >> 2]);
		sbuf_putc(&b, abc[((p[i] & 3) << 4) | (p[i + 1] >> 4)]);
		sbuf_putc(&b, abc[((p[i + 1] & 15) << 2) | (p[i + 2] >> 6)]);
		sbuf_putc(&b, abc[p[i + 2] & 63]);
	}
	if (n - i == 1) {
		sbuf_putc(&b, abc[p[i] >> 2]);
		sbuf_putc(&b, abc[(p[i] & 3) << 4]);
	} else if (n - i == 2) {
		sbuf_putc(&b, abc[p[i] >> 2]);
		sbuf_putc(&b, abc[((p[i] & 3) << 4) | (p[i + 1] >> 4)]);
		sbuf_putc(&b, abc[(p[i + 1] & 15) << 2]);
	}
	return b.data;
}

static char *b64s(const char *s)
{
	return b64url(s, strlen(s));
}

/* "<h>.<p>." + base64url(HMAC(md, key, "<h>.<p>")), segments taken as given. */
static char *sign_segments(const EVP_MD *md, const char *key, const char *h,
			   const char *p)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	char *input = arena_printf(&tok_arena, "%s.%s", h, p);

	HMAC(md, key, (int)strlen(key), (unsigned char *)input, strlen(input), mac, &len);
	return arena_printf(&tok_arena, "%s.%s", input, b64url(mac, len));
}

/* A hand-built token from header and payload JSON texts, HMAC-signed. */
static char *hand(const EVP_MD *md, const char *key, const char *header,
		  const char *payload)
{
	return sign_segments(md, key, b64s(header), b64s(payload));
}

/* A token minted by libjwt with the given claims (JSON object text). */
static char *mint(jwt_alg_t alg, const char *key, const char *claims)
{
	jwt_t *jwt = NULL;
	char *s, *copy;

	if (jwt_new(&jwt) != 0)
		abort();
	if (strcmp(claims, "{}") != 0 && jwt_add_grants_json(jwt, claims) != 0) {
		fprintf(stderr, "libjwt refused claims %s\n", claims);
		abort();
	}
	if (jwt_set_alg(jwt, alg, (const unsigned char *)key, (int)strlen(key)) != 0)
		abort();
	s = jwt_encode_str(jwt);
	if (s == NULL)
		abort();
	copy = arena_strdup(&tok_arena, s);
	free(s);
	jwt_free(jwt);
	return copy;
}

static char *hs256(const char *claims)
{
	return mint(JWT_ALG_HS256, SECRET, claims);
}

static char *bearer(const char *token)
{
	return arena_printf(&tok_arena, "Bearer %s", token);
}

/* ------------------------------------------------------------------------
 * Configurations and checks
 */

static struct config no_secret(const char *anon)
{
	struct config c;

	memset(&c, 0, sizeof(c));
	c.db_anon_role = (char *)anon;
	c.role_claim_key = (char *)".role";
	return c;
}

static struct config with_secret(const char *anon)
{
	struct config c = no_secret(anon);

	c.jwt_secret = (unsigned char *)SECRET;
	c.jwt_secret_len = strlen(SECRET);
	return c;
}

static struct auth_result run(const struct config *c, const char *header)
{
	struct auth_result r;

	arena_reset(&req_arena);
	/* garbage first: auth_request must set every field */
	memset(&r, 0x5a, sizeof(r));
	auth_request(c, header, NOW, &req_arena, &r);
	return r;
}

/* A top-level member of a JSON object text, re-encoded ("(none)" if absent). */
static const char *member(const char *json, const char *key)
{
	json_object *o = json_tokener_parse(json);
	json_object *v;
	const char *s = "(unparsable)";

	if (o != NULL) {
		if (!json_object_is_type(o, json_type_object))
			s = "(not an object)";
		else if (!json_object_object_get_ex(o, key, &v))
			s = "(none)";
		else if (json_object_is_type(v, json_type_string))
			s = arena_strdup(&tok_arena, json_object_get_string(v));
		else
			s = arena_strdup(&tok_arena, json_object_to_json_string_ext(v,
					JSON_C_TO_STRING_PLAIN));
	}
	json_object_put(o);
	return s;
}

static void expect_ok(const struct auth_result *r, const char *role, int is_anon,
		      const char *what)
{
	is_int(r->status, 0, "%s: status 0", what);
	is_str(r->role, role, "%s: role", what);
	is_int(r->is_anon, is_anon, "%s: is_anon", what);
	is_str(r->code, NULL, "%s: no code", what);
	is_str(r->www_authenticate, NULL, "%s: no WWW-Authenticate", what);
	ok(r->claims_json != NULL, "%s: claims_json set", what);
}

static void expect_error(const struct auth_result *r, int status, const char *code,
			 const char *message, const char *www, const char *what)
{
	is_int(r->status, status, "%s: status", what);
	is_str(r->code, code, "%s: code", what);
	is_str(r->message, message, "%s: message", what);
	is_str(r->www_authenticate, www, "%s: WWW-Authenticate", what);
	is_str(r->role, NULL, "%s: no role", what);
	is_str(r->claims_json, NULL, "%s: no claims", what);
}

/* 401 invalid_token with PGRST301 (decode/verify) or PGRST303 (claims). */
static void expect_invalid(const struct auth_result *r, const char *code,
			   const char *message, const char *what)
{
	char *www = arena_printf(&tok_arena,
				 "Bearer error=\"invalid_token\", error_description=\"%s\"",
				 message);

	expect_error(r, 401, code, message, www, what);
}

/* ------------------------------------------------------------------------
 * The rules table
 */

static void test_no_secret(void)
{
	struct config c = no_secret("web_anon");
	struct config closed = no_secret(NULL);
	struct auth_result r;

	r = run(&c, NULL);
	expect_ok(&r, "web_anon", 1, "no secret, no header");
	is_str(r.claims_json, "{\"role\":\"web_anon\"}", "anon claims are {\"role\":<anon>}");
	r = run(&c, "");
	expect_ok(&r, "web_anon", 1, "no secret, empty header");
	r = run(&c, " \t ");
	expect_ok(&r, "web_anon", 1, "no secret, blank header");

	r = run(&closed, NULL);
	expect_error(&r, 401, "PGRST302", "Anonymous access is disabled", "Bearer",
		     "no secret, no anon role");
	r = run(&closed, "");
	expect_error(&r, 401, "PGRST302", "Anonymous access is disabled", "Bearer",
		     "no secret, no anon role, empty header");

	r = run(&c, bearer(hs256("{\"role\":\"web_user\"}")));
	expect_error(&r, 500, "PGRST300", "Server lacks JWT secret", NULL,
		     "no secret, Bearer token");
	r = run(&closed, "bearer abc");
	expect_error(&r, 500, "PGRST300", "Server lacks JWT secret", NULL,
		     "no secret, lower-case bearer, no anon role");
	r = run(&c, "Bearer");
	expect_error(&r, 500, "PGRST300", "Server lacks JWT secret", NULL,
		     "no secret, Bearer without token");

	/* other schemes are not ours (a password-protected site in front) */
	r = run(&c, "Basic dXNlcjpwYXNz");
	expect_ok(&r, "web_anon", 1, "no secret, Basic header ignored");

	/* an empty secret is no secret */
	c.jwt_secret = (unsigned char *)"";
	c.jwt_secret_len = 0;
	r = run(&c, bearer(hs256("{\"role\":\"web_user\"}")));
	expect_error(&r, 500, "PGRST300", "Server lacks JWT secret", NULL,
		     "empty secret counts as none");

	/* an anon role name that needs JSON escaping */
	c = no_secret("we\"ird\\anon");
	r = run(&c, NULL);
	is_str(r.claims_json, "{\"role\":\"we\\\"ird\\\\anon\"}", "anon claims are escaped");
	is_str(member(r.claims_json, "role"), "we\"ird\\anon", "anon claims parse back");
}

static void test_secret_no_token(void)
{
	struct config c = with_secret("web_anon");
	struct auth_result r;

	r = run(&c, NULL);
	expect_error(&r, 401, "PGRST302", "JWT required", "Bearer",
		     "secret, no header, jwt-optional off");
	ok(r.details != NULL && r.hint != NULL, "JWT required has details and hint");
	r = run(&c, "");
	expect_error(&r, 401, "PGRST302", "JWT required", "Bearer",
		     "secret, empty header, jwt-optional off");
	r = run(&c, "   ");
	expect_error(&r, 401, "PGRST302", "JWT required", "Bearer",
		     "secret, blank header, jwt-optional off");

	c.jwt_optional = true;
	r = run(&c, NULL);
	expect_ok(&r, "web_anon", 1, "secret, no header, jwt-optional on");
	is_str(r.claims_json, "{\"role\":\"web_anon\"}", "jwt-optional anon claims");
	r = run(&c, "\t");
	expect_ok(&r, "web_anon", 1, "secret, blank header, jwt-optional on");

	c.db_anon_role = NULL;
	r = run(&c, NULL);
	expect_error(&r, 401, "PGRST302", "Anonymous access is disabled", "Bearer",
		     "secret, no header, jwt-optional on, no anon role");

	/* a token is still checked with jwt-optional on */
	c.db_anon_role = (char *)"web_anon";
	r = run(&c, bearer(mint(JWT_ALG_HS256, "wrong-secret-wrong-secret-wrong-secret",
				"{\"role\":\"web_user\"}")));
	expect_invalid(&r, "PGRST301", "No suitable key or wrong key type",
		       "jwt-optional on, bad token still refused");
}

static void test_valid_tokens(void)
{
	struct config c = with_secret("web_anon");
	struct auth_result r;
	const char *claims = "{\"role\":\"web_user\",\"user\":\"alice\",\"n\":[1,2]}";
	char *tok;

	r = run(&c, bearer(mint(JWT_ALG_HS256, SECRET, claims)));
	expect_ok(&r, "web_user", 0, "HS256 token with role");
	is_str(member(r.claims_json, "user"), "alice", "claims_json has user");
	is_str(member(r.claims_json, "role"), "web_user", "claims_json has role");
	is_str(member(r.claims_json, "n"), "[1,2]", "claims_json keeps arrays");

	r = run(&c, bearer(mint(JWT_ALG_HS384, SECRET, claims)));
	expect_ok(&r, "web_user", 0, "HS384 token with role");
	r = run(&c, bearer(mint(JWT_ALG_HS512, SECRET, claims)));
	expect_ok(&r, "web_user", 0, "HS512 token with role");

	/* scheme case and spacing */
	tok = hs256(claims);
	r = run(&c, arena_printf(&tok_arena, "bearer %s", tok));
	expect_ok(&r, "web_user", 0, "scheme 'bearer'");
	r = run(&c, arena_printf(&tok_arena, "BEARER %s", tok));
	expect_ok(&r, "web_user", 0, "scheme 'BEARER'");
	r = run(&c, arena_printf(&tok_arena, "  BeArEr \t  %s  ", tok));
	expect_ok(&r, "web_user", 0, "scheme 'BeArEr', extra blanks");

	/* no role claim: db-anon-role, claims are the token's */
	r = run(&c, bearer(hs256("{\"user\":\"bob\"}")));
	expect_ok(&r, "web_anon", 1, "token without role claim");
	is_str(member(r.claims_json, "user"), "bob", "anon-by-token claims are the token's");
	is_str(member(r.claims_json, "role"), "(none)", "anon-by-token claims have no role added");
	r = run(&c, bearer(hs256("{}")));
	expect_ok(&r, "web_anon", 1, "token with empty claims");
	is_str(r.claims_json, "{}", "empty claims text");

	c.db_anon_role = NULL;
	r = run(&c, bearer(hs256("{\"user\":\"bob\"}")));
	expect_error(&r, 401, "PGRST302", "Anonymous access is disabled", "Bearer",
		     "token without role claim, no anon role");
	c.db_anon_role = (char *)"web_anon";

	/* the claims text is the payload, so big numbers are not clamped */
	tok = hand(EVP_sha256(), SECRET, "{\"alg\":\"HS256\",\"typ\":\"JWT\"}",
		   "{\"role\":\"r\",\"n\":99999999999999999999, \"f\":1.50}");
	r = run(&c, bearer(tok));
	expect_ok(&r, "r", 0, "hand-signed token");
	is_str(r.claims_json, "{\"role\":\"r\",\"n\":99999999999999999999, \"f\":1.50}",
	       "claims_json is the payload text");

	/* PostgREST ignores typ; libjwt would refuse this one */
	r = run(&c, bearer(hand(EVP_sha256(), SECRET, "{\"alg\":\"HS256\",\"typ\":\"at+jwt\"}",
				"{\"role\":\"r\"}")));
	expect_ok(&r, "r", 0, "typ at+jwt accepted");
	r = run(&c, bearer(hand(EVP_sha512(), SECRET, "{\"alg\":\"HS512\"}", "{\"role\":\"r\"}")));
	expect_ok(&r, "r", 0, "header without typ");

	/* a binary secret (jwt-secret-is-base64) with a NUL inside */
	{
		static const unsigned char bin[] = { 's', 0, 'e', 1, 'c', 0xff, 'r', 'e', 't' };
		unsigned char mac[EVP_MAX_MD_SIZE];
		unsigned int len = 0;
		char *h = b64s("{\"alg\":\"HS256\"}");
		char *p = b64s("{\"role\":\"bin\"}");
		char *in = arena_printf(&tok_arena, "%s.%s", h, p);

		HMAC(EVP_sha256(), bin, sizeof(bin), (unsigned char *)in, strlen(in), mac, &len);
		c.jwt_secret = (unsigned char *)bin;
		c.jwt_secret_len = sizeof(bin);
		r = run(&c, bearer(arena_printf(&tok_arena, "%s.%s", in, b64url(mac, len))));
		expect_ok(&r, "bin", 0, "binary secret with NUL byte");
		r = run(&c, bearer(hs256("{\"role\":\"web_user\"}")));
		expect_invalid(&r, "PGRST301", "No suitable key or wrong key type",
			       "other secret against binary secret");
	}
}

static void test_header_forms(void)
{
	struct config c = with_secret("web_anon");
	struct auth_result r;
	char *tok = hs256("{\"role\":\"web_user\"}");

	r = run(&c, "Bearer");
	expect_invalid(&r, "PGRST301", "Empty JWT is sent in Authorization header",
		       "Bearer without token");
	r = run(&c, "bearer    ");
	expect_invalid(&r, "PGRST301", "Empty JWT is sent in Authorization header",
		       "bearer and blanks only");
	r = run(&c, "Basic dXNlcjpwYXNz");
	expect_invalid(&r, "PGRST301", "Authorization header is not a Bearer JWT",
		       "Basic scheme with secret set");
	ok(r.hint != NULL, "Basic scheme: hint says what to send");
	r = run(&c, arena_printf(&tok_arena, "Bearer%s", tok));
	expect_invalid(&r, "PGRST301", "Authorization header is not a Bearer JWT",
		       "no blank after Bearer");
	r = run(&c, tok);
	expect_invalid(&r, "PGRST301", "Authorization header is not a Bearer JWT",
		       "token without scheme");

	c.jwt_optional = true;
	r = run(&c, "Basic dXNlcjpwYXNz");
	expect_invalid(&r, "PGRST301", "Authorization header is not a Bearer JWT",
		       "Basic scheme with jwt-optional on");
	c.jwt_optional = false;

	/* Apache joins repeated headers with ", " */
	r = run(&c, "Bearer a, Bearer b");
	expect_invalid(&r, "PGRST301", "Expected 3 parts in JWT; got 1", "Bearer a, Bearer b");
	ok(r.details != NULL && strstr(r.details, "comma") != NULL,
	   "joined headers: details explain the comma");
	r = run(&c, arena_printf(&tok_arena, "Bearer %s, Bearer %s", tok, tok));
	expect_invalid(&r, "PGRST301", "Expected 3 parts in JWT; got 5", "two joined tokens");

	r = run(&c, "Bearer abc.def");
	expect_invalid(&r, "PGRST301", "Expected 3 parts in JWT; got 2", "two parts");
	r = run(&c, "Bearer abcdef");
	expect_invalid(&r, "PGRST301", "Expected 3 parts in JWT; got 1", "one part");
	r = run(&c, arena_printf(&tok_arena, "Bearer %s.x", tok));
	expect_invalid(&r, "PGRST301", "Expected 3 parts in JWT; got 4", "four parts");
	r = run(&c, "Bearer ..");
	expect_invalid(&r, "PGRST301", "JWT couldn't be decoded", "three empty parts");
}

static void test_bad_tokens(void)
{
	struct config c = with_secret("web_anon");
	struct auth_result r;
	const char *payload = "{\"role\":\"web_user\"}";
	char *tok, *t2;
	size_t n;

	r = run(&c, bearer(mint(JWT_ALG_HS256, "another-secret-another-secret-another", payload)));
	expect_invalid(&r, "PGRST301", "No suitable key or wrong key type", "wrong secret");
	is_str(r.details, "None of the keys was able to decode the JWT", "wrong secret: details");
	is_str(r.www_authenticate,
	       WWW_INVALID("No suitable key or wrong key type"),
	       "wrong secret: exact WWW-Authenticate");

	/* swap the payload, keep the signature */
	tok = hs256(payload);
	t2 = hs256("{\"role\":\"postgres\"}");
	{
		char *dot1 = strchr(tok, '.'), *dot2 = strchr(dot1 + 1, '.');
		char *e1 = strchr(t2, '.'), *e2 = strchr(e1 + 1, '.');
		char *forged = arena_printf(&tok_arena, "%.*s%.*s%s",
					    (int)(dot1 - tok), tok,
					    (int)(e2 - e1), e1, dot2);

		r = run(&c, bearer(forged));
		expect_invalid(&r, "PGRST301", "No suitable key or wrong key type",
			       "payload swapped");
		/* drop the signature */
		r = run(&c, bearer(arena_printf(&tok_arena, "%.*s.", (int)(dot2 - tok), tok)));
		expect_invalid(&r, "PGRST301", "No suitable key or wrong key type",
			       "empty signature");
		/* cut the signature short */
		r = run(&c, bearer(arena_printf(&tok_arena, "%.*s", (int)strlen(tok) - 4, tok)));
		expect_invalid(&r, "PGRST301", "No suitable key or wrong key type",
			       "truncated signature");
	}
	/* change one signature character in the middle */
	n = strlen(tok);
	tok[n - 10] = tok[n - 10] == 'A' ? 'B' : 'A';
	r = run(&c, bearer(tok));
	expect_invalid(&r, "PGRST301", "No suitable key or wrong key type", "signature altered");
	/*
	 * The last character of an HS256 signature (43 characters) carries two
	 * unused bits; setting one spells the same bytes non-canonically.
	 */
	tok = hs256(payload);
	n = strlen(tok);
	{
		static const char abc[] =
			"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
		int v = (int)(strchr(abc, tok[n - 1]) - abc);

		tok[n - 1] = abc[v | 1];
	}
	r = run(&c, bearer(tok));
	expect_invalid(&r, "PGRST301", "No suitable key or wrong key type",
		       "signature with non-zero unused bits");
	/* a signature spelled with padding is not the canonical encoding */
	tok = hs256(payload);
	r = run(&c, bearer(arena_printf(&tok_arena, "%s=", tok)));
	expect_invalid(&r, "PGRST301", "No suitable key or wrong key type", "padded signature");

	/* the header */
	r = run(&c, bearer(sign_segments(EVP_sha256(), SECRET, "!!!!", b64s(payload))));
	expect_invalid(&r, "PGRST301", "JWT couldn't be decoded", "header not base64url");
	r = run(&c, bearer(sign_segments(EVP_sha256(), SECRET,
					 arena_printf(&tok_arena, "%s=", b64s("{\"alg\":\"HS256\"}")),
					 b64s(payload))));
	expect_invalid(&r, "PGRST301", "JWT couldn't be decoded", "header with padding");
	/* 15 bytes = 20 characters; one more can't be base64 of anything */
	r = run(&c, bearer(sign_segments(EVP_sha256(), SECRET,
					 arena_printf(&tok_arena, "%sA", b64s("{\"alg\":\"HS256\"}")),
					 b64s(payload))));
	expect_invalid(&r, "PGRST301", "JWT couldn't be decoded", "header of impossible length");
	r = run(&c, bearer(hand(EVP_sha256(), SECRET, "alg=HS256", payload)));
	expect_invalid(&r, "PGRST301", "JWT couldn't be decoded", "header not JSON");
	r = run(&c, bearer(hand(EVP_sha256(), SECRET, "[\"HS256\"]", payload)));
	expect_invalid(&r, "PGRST301", "JWT couldn't be decoded", "header a JSON array");
	r = run(&c, bearer(hand(EVP_sha256(), SECRET, "{'alg':'HS256'}", payload)));
	expect_invalid(&r, "PGRST301", "JWT couldn't be decoded", "header with single quotes");

	/* the payload (signed correctly, so these reach the claims) */
	r = run(&c, bearer(sign_segments(EVP_sha256(), SECRET, b64s("{\"alg\":\"HS256\"}"),
					 "not*base64")));
	expect_invalid(&r, "PGRST301", "JWT couldn't be decoded", "payload not base64url");
	r = run(&c, bearer(hand(EVP_sha256(), SECRET, "{\"alg\":\"HS256\"}", "{\"role\":")));
	expect_invalid(&r, "PGRST303", "Parsing claims failed", "payload truncated JSON");
	r = run(&c, bearer(hand(EVP_sha256(), SECRET, "{\"alg\":\"HS256\"}", "[1,2]")));
	expect_invalid(&r, "PGRST303", "Parsing claims failed", "payload a JSON array");
	r = run(&c, bearer(hand(EVP_sha256(), SECRET, "{\"alg\":\"HS256\"}", "\"role\"")));
	expect_invalid(&r, "PGRST303", "Parsing claims failed", "payload a JSON string");
	r = run(&c, bearer(hand(EVP_sha256(), SECRET, "{\"alg\":\"HS256\"}", "{'role':'x'}")));
	expect_invalid(&r, "PGRST303", "Parsing claims failed", "payload with single quotes");
	r = run(&c, bearer(hand(EVP_sha256(), SECRET, "{\"alg\":\"HS256\"}",
				"{\"role\":\"x\",\"exp\":NaN}")));
	expect_invalid(&r, "PGRST303", "Parsing claims failed", "payload with NaN");
	r = run(&c, bearer(hand(EVP_sha256(), SECRET, "{\"alg\":\"HS256\"}",
				"{\"role\":\"x\"} {}")));
	expect_invalid(&r, "PGRST303", "Parsing claims failed", "payload with trailing data");
	r = run(&c, bearer(hand(EVP_sha256(), SECRET, "{\"alg\":\"HS256\"}",
				"{\"role\":\"\\ud800\"}")));
	expect_invalid(&r, "PGRST303", "Parsing claims failed", "payload with lone surrogate");
	r = run(&c, bearer(hand(EVP_sha256(), SECRET, "{\"alg\":\"HS256\"}",
				"{\"role\":\"a\tb\"}")));
	expect_invalid(&r, "PGRST303", "Parsing claims failed", "payload with raw tab in string");
	r = run(&c, bearer(hand(EVP_sha256(), SECRET, "{\"alg\":\"HS256\"}",
				"{\"role\":\"\xc3\x28\"}")));
	expect_invalid(&r, "PGRST303", "Parsing claims failed", "payload with bad UTF-8");
	r = run(&c, bearer(hand(EVP_sha256(), SECRET, "{\"alg\":\"HS256\"}",
				"{\"role\":\"gr\xc3\xbc\xc3\x9f\\u00e9\\ud83d\\ude00\"}")));
	expect_ok(&r, "gr\xc3\xbc\xc3\x9f\xc3\xa9\xf0\x9f\x98\x80", 0,
		  "payload with UTF-8, escapes and a surrogate pair");
	{
		struct sbuf deep;

		sbuf_init(&deep, &tok_arena, 256);
		sbuf_puts(&deep, "{\"role\":\"x\",\"d\":");
		for (int i = 0; i < 40; i++)
			sbuf_putc(&deep, '[');
		for (int i = 0; i < 40; i++)
			sbuf_putc(&deep, ']');
		sbuf_putc(&deep, '}');
		r = run(&c, bearer(hand(EVP_sha256(), SECRET, "{\"alg\":\"HS256\"}", deep.data)));
		expect_invalid(&r, "PGRST303", "Parsing claims failed", "payload nested too deep");

		/* deep enough to overflow the stack of a recursive parser without a limit */
		sbuf_init(&deep, &tok_arena, 200010);
		sbuf_puts(&deep, "{\"d\":");
		for (int i = 0; i < 200000; i++)
			sbuf_putc(&deep, '[');
		r = run(&c, bearer(hand(EVP_sha256(), SECRET, "{\"alg\":\"HS256\"}", deep.data)));
		expect_invalid(&r, "PGRST303", "Parsing claims failed", "payload nested 200000 deep");
	}
}

/*
 * Payloads PostgreSQL's json input would refuse must be refused here, since
 * the payload text goes to PostgreSQL as request.jwt.claims; one row each.
 */
static const struct {
	const char *payload;
	bool valid;
	const char *what;
} json_rows[] = {
	{ "{\"role\":\"u\",\"n\":0}", true, "zero" },
	{ "{\"role\":\"u\",\"n\":-0.5e+3}", true, "signed fraction and exponent" },
	{ "{\"role\":\"u\",\"n\":1E-2}", true, "upper-case exponent" },
	{ "{\"role\":\"u\",\"n\":01}", false, "leading zero" },
	{ "{\"role\":\"u\",\"n\":1.}", false, "no digits after the point" },
	{ "{\"role\":\"u\",\"n\":.5}", false, "no digits before the point" },
	{ "{\"role\":\"u\",\"n\":+1}", false, "plus sign" },
	{ "{\"role\":\"u\",\"n\":-}", false, "lone minus" },
	{ "{\"role\":\"u\",\"n\":1e}", false, "empty exponent" },
	{ "{\"role\":\"u\",\"n\":Infinity}", false, "Infinity" },
	{ "{\"role\":\"u\",\"n\":tru}", false, "truncated literal" },
	{ "{\"role\":\"u\",\"n\":[true,false,null]}", true, "literals" },
	{ "{\"role\":\"u\",\"n\":[1,]}", false, "trailing comma in array" },
	{ "{\"role\":\"u\",}", false, "trailing comma in object" },
	{ "{\"role\":\"u\" /* c */}", false, "comment" },
	{ "{\"role\" \"u\"}", false, "missing colon" },
	{ "{role:\"u\"}", false, "unquoted key" },
	{ " \t\r\n{ \"role\" : \"u\" , \"a\" : [ ] , \"o\" : { } }\n", true, "blanks everywhere" },
	{ "{\"role\":\"u\",\"s\":\"\\/\\b\\f\\n\\r\\t\\\"\\\\\"}", true, "all short escapes" },
	{ "{\"role\":\"u\",\"s\":\"\\x41\"}", false, "unknown escape" },
	{ "{\"role\":\"u\",\"s\":\"\\u12\"}", false, "short \\u escape" },
	{ "{\"role\":\"u\",\"s\":\"\\udc00\"}", false, "lone low surrogate" },
	{ "{\"role\":\"u\",\"s\":\"\\ud800\\u0041\"}", false, "high surrogate, no low one" },
	{ "{\"role\":\"u\",\"s\":\"\x01\"}", false, "raw control character" },
	{ "{\"role\":\"u\",\"s\":\"\xe0\x80\xaf\"}", false, "overlong UTF-8" },
	{ "{\"role\":\"u\",\"s\":\"\xc0\xaf\"}", false, "overlong 2-byte UTF-8" },
	{ "{\"role\":\"u\",\"s\":\"\xed\xa0\x80\"}", false, "UTF-8 encoded surrogate" },
	{ "{\"role\":\"u\",\"s\":\"\xf4\x90\x80\x80\"}", false, "UTF-8 beyond U+10FFFF" },
	{ "{\"role\":\"u\",\"s\":\"\xe2\x82\"}", false, "truncated UTF-8" },
	{ "{\"role\":\"u\",\"s\":\"\xf0\x9f\x98\x80\"}", true, "4-byte UTF-8" },
	{ "{\"role\":\"u\"", false, "unclosed object" },
	{ "{\"role\":\"u}", false, "unclosed string" },
	{ "", false, "empty payload" },
};

static void test_json_rows(void)
{
	struct config c = with_secret("web_anon");
	struct auth_result r;

	for (size_t i = 0; i < sizeof(json_rows) / sizeof(json_rows[0]); i++) {
		r = run(&c, bearer(hand(EVP_sha256(), SECRET, "{\"alg\":\"HS256\"}",
					json_rows[i].payload)));
		if (json_rows[i].valid)
			expect_ok(&r, "u", 0, D("JSON row %zu, %s", i, json_rows[i].what));
		else
			expect_invalid(&r, "PGRST303", "Parsing claims failed",
				       D("JSON row %zu, %s", i, json_rows[i].what));
	}
}

static void test_algorithms(void)
{
	struct config c = with_secret("web_anon");
	struct auth_result r;
	const char *payload = "{\"role\":\"postgres\"}";
	const char *msg = "Wrong or unsupported encoding algorithm";

	/* alg none: no signature, or a "signature" made with the secret */
	r = run(&c, bearer(arena_printf(&tok_arena, "%s.%s.", b64s("{\"alg\":\"none\"}"),
					b64s(payload))));
	expect_invalid(&r, "PGRST301", msg, "alg none, empty signature");
	ok(r.details != NULL && strstr(r.details, "none") != NULL, "alg none: details say so");
	r = run(&c, bearer(hand(EVP_sha256(), SECRET, "{\"alg\":\"none\"}", payload)));
	expect_invalid(&r, "PGRST301", msg, "alg none, HMAC signature");
	r = run(&c, bearer(hand(EVP_sha256(), SECRET, "{\"alg\":\"None\"}", payload)));
	expect_invalid(&r, "PGRST301", msg, "alg None");

	/* key confusion: RS256 header, signed with the secret as HMAC key */
	r = run(&c, bearer(hand(EVP_sha256(), SECRET, "{\"alg\":\"RS256\",\"typ\":\"JWT\"}",
				payload)));
	expect_invalid(&r, "PGRST301", msg, "alg RS256 signed with the secret");
	ok(r.details != NULL && strstr(r.details, "RS256") != NULL, "RS256: details name it");
	r = run(&c, bearer(hand(EVP_sha256(), SECRET, "{\"alg\":\"ES256\"}", payload)));
	expect_invalid(&r, "PGRST301", msg, "alg ES256");
	r = run(&c, bearer(hand(EVP_sha256(), SECRET, "{\"alg\":\"hs256\"}", payload)));
	expect_invalid(&r, "PGRST301", msg, "alg hs256 (names are case-sensitive)");
	r = run(&c, bearer(hand(EVP_sha256(), SECRET, "{\"alg\":\"HS256\\u0000x\"}", payload)));
	expect_invalid(&r, "PGRST301", msg, "alg HS256 followed by a NUL");
	r = run(&c, bearer(hand(EVP_sha256(), SECRET, "{\"typ\":\"JWT\"}", payload)));
	expect_invalid(&r, "PGRST301", msg, "no alg");
	r = run(&c, bearer(hand(EVP_sha256(), SECRET, "{\"alg\":256}", payload)));
	expect_invalid(&r, "PGRST301", msg, "alg not a string");
	r = run(&c, bearer(hand(EVP_sha256(), SECRET,
				"{\"alg\":\"HS256\",\"crit\":[\"exp\"]}", payload)));
	expect_invalid(&r, "PGRST301", msg, "crit header refused");

	/* alg and digest must agree: HS512 header, HS256 signature */
	r = run(&c, bearer(hand(EVP_sha256(), SECRET, "{\"alg\":\"HS512\"}", payload)));
	expect_invalid(&r, "PGRST301", "No suitable key or wrong key type",
		       "HS512 header with HS256 signature");
}

static char *with_claim(const char *name, long long value)
{
	return bearer(hs256(arena_printf(&tok_arena, "{\"role\":\"u\",\"%s\":%lld}",
					 name, value)));
}

static void test_time_claims(void)
{
	struct config c = with_secret("web_anon");
	struct auth_result r;
	long long now = (long long)NOW;

	r = run(&c, with_claim("exp", now + 3600));
	expect_ok(&r, "u", 0, "exp in an hour");
	r = run(&c, with_claim("exp", now - 29));
	expect_ok(&r, "u", 0, "exp 29 s ago (within skew)");
	r = run(&c, with_claim("exp", now - 30));
	expect_invalid(&r, "PGRST303", "JWT expired", "exp 30 s ago");
	r = run(&c, with_claim("exp", now - 3600));
	expect_invalid(&r, "PGRST303", "JWT expired", "exp an hour ago");
	is_str(r.www_authenticate, WWW_INVALID("JWT expired"), "expired: exact WWW-Authenticate");
	r = run(&c, bearer(hand(EVP_sha256(), SECRET, "{\"alg\":\"HS256\"}",
				"{\"role\":\"u\",\"exp\":\"9999999999\"}")));
	expect_invalid(&r, "PGRST303", "The JWT 'exp' claim must be a number", "exp a string");
	r = run(&c, bearer(hs256("{\"role\":\"u\",\"exp\":null}")));
	expect_ok(&r, "u", 0, "exp null = no exp");
	r = run(&c, bearer(hand(EVP_sha256(), SECRET, "{\"alg\":\"HS256\"}",
				arena_printf(&tok_arena, "{\"role\":\"u\",\"exp\":%lld.5}",
					     now - 30))));
	expect_ok(&r, "u", 0, "exp fractional, just inside skew");
	r = run(&c, bearer(hand(EVP_sha256(), SECRET, "{\"alg\":\"HS256\"}",
				"{\"role\":\"u\",\"exp\":1e400}")));
	expect_ok(&r, "u", 0, "exp huge");
	r = run(&c, bearer(hand(EVP_sha256(), SECRET, "{\"alg\":\"HS256\"}",
				"{\"role\":\"u\",\"exp\":-1e400}")));
	expect_invalid(&r, "PGRST303", "JWT expired", "exp hugely negative");

	r = run(&c, with_claim("nbf", now + 30));
	expect_ok(&r, "u", 0, "nbf 30 s ahead (within skew)");
	r = run(&c, with_claim("nbf", now + 31));
	expect_invalid(&r, "PGRST303", "JWT not yet valid", "nbf 31 s ahead");
	r = run(&c, with_claim("nbf", now - 100));
	expect_ok(&r, "u", 0, "nbf in the past");
	r = run(&c, bearer(hs256("{\"role\":\"u\",\"nbf\":[1]}")));
	expect_invalid(&r, "PGRST303", "The JWT 'nbf' claim must be a number", "nbf an array");

	r = run(&c, with_claim("iat", now));
	expect_ok(&r, "u", 0, "iat now");
	r = run(&c, with_claim("iat", now + 30));
	expect_ok(&r, "u", 0, "iat 30 s ahead (within skew)");
	r = run(&c, with_claim("iat", now + 31));
	expect_invalid(&r, "PGRST303", "JWT issued at future", "iat 31 s ahead");
	r = run(&c, bearer(hs256("{\"role\":\"u\",\"iat\":true}")));
	expect_invalid(&r, "PGRST303", "The JWT 'iat' claim must be a number", "iat a boolean");

	/* a token without a role is checked all the same */
	r = run(&c, bearer(hs256(arena_printf(&tok_arena, "{\"exp\":%lld}", now - 100))));
	expect_invalid(&r, "PGRST303", "JWT expired", "expired token without role");

	/* order: exp before nbf before iat before aud */
	c.jwt_aud = (char *)"api";
	r = run(&c, bearer(hs256(arena_printf(&tok_arena,
			"{\"aud\":\"x\",\"iat\":%lld,\"nbf\":%lld,\"exp\":%lld}",
			now + 100, now + 100, now - 100))));
	expect_invalid(&r, "PGRST303", "JWT expired", "all wrong: exp reported first");
	r = run(&c, bearer(hs256(arena_printf(&tok_arena,
			"{\"aud\":\"x\",\"iat\":%lld,\"nbf\":%lld}", now + 100, now + 100))));
	expect_invalid(&r, "PGRST303", "JWT not yet valid", "nbf reported before iat");
	r = run(&c, bearer(hs256(arena_printf(&tok_arena,
			"{\"aud\":\"x\",\"iat\":%lld}", now + 100))));
	expect_invalid(&r, "PGRST303", "JWT issued at future", "iat reported before aud");
}

static void test_aud(void)
{
	struct config c = with_secret("web_anon");
	struct auth_result r;
	const char *bad_type = "The JWT 'aud' claim must be a string or an array of strings";

	/* no jwt-aud: any audience, but the type is still checked */
	r = run(&c, bearer(hs256("{\"role\":\"u\",\"aud\":\"anything\"}")));
	expect_ok(&r, "u", 0, "no jwt-aud, aud string");
	r = run(&c, bearer(hs256("{\"role\":\"u\",\"aud\":[\"a\",\"b\"]}")));
	expect_ok(&r, "u", 0, "no jwt-aud, aud array");
	r = run(&c, bearer(hs256("{\"role\":\"u\",\"aud\":5}")));
	expect_invalid(&r, "PGRST303", bad_type, "no jwt-aud, aud a number");

	c.jwt_aud = (char *)"pg_rest";
	r = run(&c, bearer(hs256("{\"role\":\"u\",\"aud\":\"pg_rest\"}")));
	expect_ok(&r, "u", 0, "aud matches");
	r = run(&c, bearer(hs256("{\"role\":\"u\",\"aud\":\"other\"}")));
	expect_invalid(&r, "PGRST303", "JWT not in audience", "aud differs");
	r = run(&c, bearer(hs256("{\"role\":\"u\",\"aud\":\"pg_rest2\"}")));
	expect_invalid(&r, "PGRST303", "JWT not in audience", "aud with a longer name");
	r = run(&c, bearer(hs256("{\"role\":\"u\",\"aud\":\"PG_REST\"}")));
	expect_invalid(&r, "PGRST303", "JWT not in audience", "aud is case-sensitive");
	r = run(&c, bearer(hs256("{\"role\":\"u\",\"aud\":[\"x\",\"pg_rest\"]}")));
	expect_ok(&r, "u", 0, "aud array contains it");
	r = run(&c, bearer(hs256("{\"role\":\"u\",\"aud\":[\"x\",\"y\"]}")));
	expect_invalid(&r, "PGRST303", "JWT not in audience", "aud array without it");
	r = run(&c, bearer(hs256("{\"role\":\"u\",\"aud\":[]}")));
	expect_ok(&r, "u", 0, "aud empty array (PostgREST v13: any)");
	r = run(&c, bearer(hs256("{\"role\":\"u\"}")));
	expect_ok(&r, "u", 0, "no aud claim accepted");
	r = run(&c, bearer(hs256("{\"role\":\"u\",\"aud\":null}")));
	expect_ok(&r, "u", 0, "aud null accepted");
	r = run(&c, bearer(hs256("{\"role\":\"u\",\"aud\":[\"pg_rest\",5]}")));
	expect_invalid(&r, "PGRST303", bad_type, "aud array with a number");
	r = run(&c, bearer(hs256("{\"role\":\"u\",\"aud\":{\"a\":\"pg_rest\"}}")));
	expect_invalid(&r, "PGRST303", bad_type, "aud an object");
	r = run(&c, bearer(hand(EVP_sha256(), SECRET, "{\"alg\":\"HS256\"}",
				"{\"role\":\"u\",\"aud\":\"pg_rest\\u0000x\"}")));
	expect_invalid(&r, "PGRST303", "JWT not in audience", "aud with a NUL after the name");
}

/* Run a token with claims under role_claim_key = key. */
static struct auth_result with_key(struct config *c, const char *key, const char *claims)
{
	c->role_claim_key = (char *)key;
	return run(c, bearer(hs256(claims)));
}

static void test_role_claim_key(void)
{
	struct config c = with_secret("web_anon");
	struct auth_result r;
	const char *msg = "The JWT role claim is not a usable role name";

	c.role_claim_key = NULL;
	r = run(&c, bearer(hs256("{\"role\":\"u\"}")));
	expect_ok(&r, "u", 0, "role_claim_key NULL means .role");

	r = with_key(&c, ".a.b", "{\"role\":\"no\",\"a\":{\"b\":\"nested\"}}");
	expect_ok(&r, "nested", 0, ".a.b");
	r = with_key(&c, ".a.b", "{\"role\":\"no\",\"a\":{\"c\":\"x\"}}");
	expect_ok(&r, "web_anon", 1, ".a.b missing -> anon");
	r = with_key(&c, ".a.b", "{\"a\":\"string\"}");
	expect_ok(&r, "web_anon", 1, ".a.b through a string -> anon");
	r = with_key(&c, ".roles[0]", "{\"roles\":[\"first\",\"second\"]}");
	expect_ok(&r, "first", 0, ".roles[0]");
	r = with_key(&c, ".roles[1]", "{\"roles\":[\"first\",\"second\"]}");
	expect_ok(&r, "second", 0, ".roles[1]");
	r = with_key(&c, ".roles[2]", "{\"roles\":[\"first\",\"second\"]}");
	expect_ok(&r, "web_anon", 1, ".roles[2] out of range -> anon");
	r = with_key(&c, ".roles[0]", "{\"roles\":{\"0\":\"x\"}}");
	expect_ok(&r, "web_anon", 1, "index into an object -> anon");
	r = with_key(&c, ".\"https://x.com/role\".key",
		     "{\"https://x.com/role\":{\"key\":\"quoted\"}}");
	expect_ok(&r, "quoted", 0, ".\"https://x.com/role\".key");
	r = with_key(&c, ".\"https://x.com/roles\"[1]",
		     "{\"https://x.com/roles\":[\"a\",\"b\"]}");
	expect_ok(&r, "b", 0, "quoted key then index");
	r = with_key(&c, ".$x_1@", "{\"$x_1@\":\"odd\"}");
	expect_ok(&r, "odd", 0, "key characters _ $ @");
	r = with_key(&c, ".app.roles[0].name", "{\"app\":{\"roles\":[{\"name\":\"deep\"}]}}");
	expect_ok(&r, "deep", 0, "mixed path");

	/* v13 filters, last step only */
	r = with_key(&c, ".roles[?(@ == \"admin\")]", "{\"roles\":[\"user\",\"admin\"]}");
	expect_ok(&r, "admin", 0, "filter ==");
	r = with_key(&c, ".roles[?(@ == \"boss\")]", "{\"roles\":[\"user\",\"admin\"]}");
	expect_ok(&r, "web_anon", 1, "filter == no match -> anon");
	r = with_key(&c, ".roles[?(@ != \"user\")]", "{\"roles\":[\"user\",5,\"admin\"]}");
	expect_ok(&r, "admin", 0, "filter != skips non-strings");
	r = with_key(&c, ".roles[?(@ ^== \"app_\")]", "{\"roles\":[\"x\",\"app_editor\"]}");
	expect_ok(&r, "app_editor", 0, "filter ^== (starts with)");
	r = with_key(&c, ".roles[?(@ ==^ \"_rw\")]", "{\"roles\":[\"a_ro\",\"a_rw\"]}");
	expect_ok(&r, "a_rw", 0, "filter ==^ (ends with)");
	r = with_key(&c, ".roles[?(@*==\"edit\")]", "{\"roles\":[\"viewer\",\"the_editor\"]}");
	expect_ok(&r, "the_editor", 0, "filter *== (contains), no blanks");
	r = with_key(&c, ".roles[?(@ == \"admin\")]", "{\"roles\":\"admin\"}");
	expect_ok(&r, "web_anon", 1, "filter on a non-array -> anon");

	/* non-strings are JSON-encoded, as PostgREST does */
	r = with_key(&c, ".role", "{\"role\":5}");
	expect_ok(&r, "5", 0, "number role JSON-encoded");
	r = with_key(&c, ".role", "{\"role\":true}");
	expect_ok(&r, "true", 0, "boolean role JSON-encoded");
	r = with_key(&c, ".role", "{\"role\":{\"a\":\"b\"}}");
	expect_ok(&r, "{\"a\":\"b\"}", 0, "object role JSON-encoded");
	r = with_key(&c, ".role", "{\"role\":[\"a\"]}");
	expect_ok(&r, "[\"a\"]", 0, "array role JSON-encoded");
	r = with_key(&c, ".role", "{\"role\":null}");
	expect_ok(&r, "web_anon", 1, "null role -> anon");

	r = with_key(&c, ".role", "{\"role\":\"\"}");
	expect_invalid(&r, "PGRST303", msg, "empty role refused");
	c.role_claim_key = (char *)".role";
	r = run(&c, bearer(hand(EVP_sha256(), SECRET, "{\"alg\":\"HS256\"}",
				"{\"role\":\"admin\\u0000x\"}")));
	expect_invalid(&r, "PGRST303", msg, "role with NUL refused");

	/* paths config.c should have refused */
	r = with_key(&c, "role", "{\"role\":\"u\"}");
	expect_error(&r, 500, "PGRSTX00", "Invalid jwt-role-claim-key", NULL, "path without dot");
	r = with_key(&c, "", "{\"role\":\"u\"}");
	expect_error(&r, 500, "PGRSTX00", "Invalid jwt-role-claim-key", NULL, "empty path");
	r = with_key(&c, ".a[", "{\"role\":\"u\"}");
	expect_error(&r, 500, "PGRSTX00", "Invalid jwt-role-claim-key", NULL, "unclosed index");
	r = with_key(&c, ".\"a", "{\"role\":\"u\"}");
	expect_error(&r, 500, "PGRSTX00", "Invalid jwt-role-claim-key", NULL, "unclosed quote");
	r = with_key(&c, ".a[?(@ == \"x\")].b", "{\"role\":\"u\"}");
	expect_error(&r, 500, "PGRSTX00", "Invalid jwt-role-claim-key", NULL,
		     "filter not last");
	r = with_key(&c, ".a[?(@ ~= \"x\")]", "{\"role\":\"u\"}");
	expect_error(&r, 500, "PGRSTX00", "Invalid jwt-role-claim-key", NULL, "unknown operator");
	r = with_key(&c, ".a-b", "{\"role\":\"u\"}");
	expect_error(&r, 500, "PGRSTX00", "Invalid jwt-role-claim-key", NULL,
		     "'-' needs quoting");
}

/* ------------------------------------------------------------------------
 * Asymmetric keys: PEM, JWK, JWK Sets (tokens signed here with OpenSSL,
 * and some with libjwt as a second implementation)
 */

static EVP_PKEY *keygen(const char *type, const char *curve)
{
	EVP_PKEY *k;

	if (strcmp(type, "RSA") == 0)
		k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	else if (strcmp(type, "RSA1024") == 0)
		k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
	else if (strcmp(type, "EC") == 0)
		k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", curve);
	else
		k = EVP_PKEY_Q_keygen(NULL, NULL, type);
	if (k == NULL)
		abort();
	return k;
}

static char *bio_text(BIO *bio)
{
	char *data = NULL;
	long n = BIO_get_mem_data(bio, &data);
	char *s = arena_strndup(&tok_arena, data, (size_t)n);

	BIO_free(bio);
	return s;
}

static char *public_pem(EVP_PKEY *k)
{
	BIO *bio = BIO_new(BIO_s_mem());

	if (PEM_write_bio_PUBKEY(bio, k) != 1)
		abort();
	return bio_text(bio);
}

static char *private_pem(EVP_PKEY *k)
{
	BIO *bio = BIO_new(BIO_s_mem());

	if (PEM_write_bio_PrivateKey(bio, k, NULL, NULL, 0, NULL, NULL) != 1)
		abort();
	return bio_text(bio);
}

static char *bn_b64(EVP_PKEY *k, const char *param, int pad)
{
	BIGNUM *bn = NULL;
	unsigned char buf[1024];
	int n;

	if (EVP_PKEY_get_bn_param(k, param, &bn) != 1)
		abort();
	n = pad > 0 ? BN_bn2binpad(bn, buf, pad) : BN_bn2bin(bn, buf);
	BN_free(bn);
	return b64url(buf, (size_t)n);
}

/* The public JWK of k; extra is more members ("" or ",\"kid\":\"a\"..."). */
static char *jwk(EVP_PKEY *k, const char *extra)
{
	unsigned char raw[128];
	size_t raw_len = sizeof(raw);
	int bits;

	switch (EVP_PKEY_get_base_id(k)) {
	case EVP_PKEY_RSA:
		return D("{\"kty\":\"RSA\",\"n\":\"%s\",\"e\":\"%s\"%s}",
			 bn_b64(k, OSSL_PKEY_PARAM_RSA_N, 0), bn_b64(k, OSSL_PKEY_PARAM_RSA_E, 0),
			 extra);
	case EVP_PKEY_EC:
		bits = EVP_PKEY_get_bits(k);
		return D("{\"kty\":\"EC\",\"crv\":\"P-%d\",\"x\":\"%s\",\"y\":\"%s\"%s}", bits,
			 bn_b64(k, OSSL_PKEY_PARAM_EC_PUB_X, (bits + 7) / 8),
			 bn_b64(k, OSSL_PKEY_PARAM_EC_PUB_Y, (bits + 7) / 8), extra);
	default:
		if (EVP_PKEY_get_raw_public_key(k, raw, &raw_len) != 1)
			abort();
		return D("{\"kty\":\"OKP\",\"crv\":\"%s\",\"x\":\"%s\"%s}",
			 EVP_PKEY_get_base_id(k) == EVP_PKEY_ED25519 ? "Ed25519" : "Ed448",
			 b64url(raw, raw_len), extra);
	}
}

/*
 * "<h>.<p>.<sig>" with the private key k: alg from its name (RS/PS/ES/EdDSA).
 * ES signatures are turned from DER into JWS's raw r||s unless der is set.
 */
static char *asym_sign(EVP_PKEY *k, const char *alg, const char *header_b64,
		       const char *payload_b64, bool der)
{
	char *in = D("%s.%s", header_b64, payload_b64);
	const EVP_MD *md = strstr(alg, "256") ? EVP_sha256() : strstr(alg, "384") ? EVP_sha384()
			 : strstr(alg, "512") ? EVP_sha512() : NULL;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	unsigned char sig[1024], raw[200];
	size_t sig_len = sizeof(sig);

	if (EVP_DigestSignInit(ctx, &pctx, md, NULL, k) != 1)
		abort();
	if (alg[0] == 'P') {
		EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING);
		EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST);
		EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, md);
	}
	if (EVP_DigestSign(ctx, sig, &sig_len, (unsigned char *)in, strlen(in)) != 1)
		abort();
	EVP_MD_CTX_free(ctx);
	if (alg[0] == 'E' && alg[1] == 'S' && !der) {
		const unsigned char *p = sig;
		ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)sig_len);
		int half = (EVP_PKEY_get_bits(k) + 7) / 8;

		BN_bn2binpad(ECDSA_SIG_get0_r(es), raw, half);
		BN_bn2binpad(ECDSA_SIG_get0_s(es), raw + half, half);
		ECDSA_SIG_free(es);
		return D("%s.%s", in, b64url(raw, (size_t)(2 * half)));
	}
	return D("%s.%s", in, b64url(sig, sig_len));
}

/* A token for claims with header {"alg":alg,"typ":"JWT"[,"kid":kid]}. */
static char *asym(EVP_PKEY *k, const char *alg, const char *kid, const char *claims)
{
	const char *h = kid ? D("{\"alg\":\"%s\",\"typ\":\"JWT\",\"kid\":\"%s\"}", alg, kid)
			    : D("{\"alg\":\"%s\",\"typ\":\"JWT\"}", alg);

	return asym_sign(k, alg, b64s(h), b64s(claims), false);
}

/* A token minted by libjwt with a private key (PEM). */
static char *mint_asym(jwt_alg_t alg, EVP_PKEY *k, const char *claims)
{
	jwt_t *jwt = NULL;
	char *pem = private_pem(k), *s, *copy;

	if (jwt_new(&jwt) != 0 || jwt_add_grants_json(jwt, claims) != 0 ||
	    jwt_set_alg(jwt, alg, (const unsigned char *)pem, (int)strlen(pem)) != 0)
		abort();
	s = jwt_encode_str(jwt);
	if (s == NULL)
		abort();
	copy = arena_strdup(&tok_arena, s);
	free(s);
	jwt_free(jwt);
	return copy;
}

static char load_err[512];

/* A configuration whose jwt-secret is text, loaded as config_load does. */
static struct config with_keys(const char *text)
{
	struct config c = no_secret("web_anon");

	c.jwt_secret = (unsigned char *)text;
	c.jwt_secret_len = strlen(text);
	if (auth_load_keys(&c, load_err, sizeof(load_err)) != 0) {
		printf("# auth_load_keys: %s\n", load_err);
		c.jwt_keys = NULL;
	}
	return c;
}

/* Does loading text fail with a message containing want? */
static void load_fails(const char *text, const char *want, const char *what)
{
	struct config c = no_secret("web_anon");
	int rc;

	c.jwt_secret = (unsigned char *)text;
	c.jwt_secret_len = strlen(text);
	load_err[0] = '\0';
	rc = auth_load_keys(&c, load_err, sizeof(load_err));
	is_int(rc, -1, "%s: refused", what);
	ok(c.jwt_keys == NULL, "%s: no keys", what);
	if (!ok(strstr(load_err, want) != NULL, "%s: message has \"%s\"", what, want))
		printf("#   message: %s\n", load_err);
	auth_keys_free(c.jwt_keys);
}

static const char *const USER_CLAIMS = "{\"role\":\"web_user\",\"user\":\"alice\"}";
static const char *const BAD_ALG = "Wrong or unsupported encoding algorithm";
static const char *const BAD_SIG = "No suitable key or wrong key type";

static EVP_PKEY *rsa_a, *rsa_b, *ec256, *ec384, *ec521, *ed25519;

static void test_rsa_pem(void)
{
	struct config c = with_keys(public_pem(rsa_a));
	struct auth_result r;
	static const char *const algs[] = { "RS256", "RS384", "RS512", "PS256", "PS384", "PS512" };
	char *tok;
	size_t n;

	ok(c.jwt_keys != NULL, "RSA PEM loaded");
	for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
		r = run(&c, bearer(asym(rsa_a, algs[i], NULL, USER_CLAIMS)));
		expect_ok(&r, "web_user", 0, D("%s token, RSA PEM", algs[i]));
		is_str(member(r.claims_json, "user"), "alice", "%s: claims", algs[i]);
	}
	r = run(&c, bearer(mint_asym(JWT_ALG_RS256, rsa_a, USER_CLAIMS)));
	expect_ok(&r, "web_user", 0, "RS256 token minted by libjwt");
	r = run(&c, bearer(mint_asym(JWT_ALG_RS512, rsa_a, USER_CLAIMS)));
	expect_ok(&r, "web_user", 0, "RS512 token minted by libjwt");
	r = run(&c, bearer(asym(rsa_a, "RS256", "any-kid", USER_CLAIMS)));
	expect_ok(&r, "web_user", 0, "a kid is ignored by a key without kid");

	/* wrong key, altered token */
	r = run(&c, bearer(asym(rsa_b, "RS256", NULL, USER_CLAIMS)));
	expect_invalid(&r, "PGRST301", BAD_SIG, "RS256 signed by another RSA key");
	is_str(r.details, "None of the keys was able to decode the JWT", "other RSA key: details");
	r = run(&c, bearer(asym(rsa_b, "PS256", NULL, USER_CLAIMS)));
	expect_invalid(&r, "PGRST301", BAD_SIG, "PS256 signed by another RSA key");
	tok = asym(rsa_a, "RS256", NULL, USER_CLAIMS);
	n = strlen(tok);
	tok[n - 5] = tok[n - 5] == 'A' ? 'B' : 'A';
	r = run(&c, bearer(tok));
	expect_invalid(&r, "PGRST301", BAD_SIG, "RS256 signature altered");
	tok = asym(rsa_a, "RS256", NULL, USER_CLAIMS);
	r = run(&c, bearer(D("%s.%s.%s", b64s("{\"alg\":\"RS256\"}"),
			     b64s("{\"role\":\"postgres\"}"), strrchr(tok, '.') + 1)));
	expect_invalid(&r, "PGRST301", BAD_SIG, "RS256 payload swapped");
	r = run(&c, bearer(D("%s.%s.%s", b64s("{\"alg\":\"PS256\"}"),
			     b64s(USER_CLAIMS), strrchr(tok, '.') + 1)));
	expect_invalid(&r, "PGRST301", BAD_SIG, "RS256 signature under a PS256 header");
	r = run(&c, bearer(D("%.*s.", (int)(strrchr(tok, '.') - tok), tok)));
	expect_invalid(&r, "PGRST301", BAD_SIG, "RS256 without signature");

	/* algorithm confusion */
	r = run(&c, bearer(hand(EVP_sha256(), (const char *)c.jwt_secret,
				"{\"alg\":\"HS256\",\"typ\":\"JWT\"}", USER_CLAIMS)));
	expect_invalid(&r, "PGRST301", BAD_ALG, "HS256 signed with the public PEM as HMAC key");
	is_str(r.details, "The JWT algorithm \"HS256\" can't be verified with jwt-secret, which is "
	       "an RSA public key: use RS256, RS384, RS512, PS256, PS384 or PS512",
	       "HS256 against RSA: details");
	r = run(&c, bearer(hand(EVP_sha256(), (const char *)c.jwt_secret,
				"{\"alg\":\"HS256\",\"kid\":\"x\"}", USER_CLAIMS)));
	expect_invalid(&r, "PGRST301", BAD_ALG, "HS256 + kid signed with the public PEM");
	r = run(&c, bearer(asym(ec256, "ES256", NULL, USER_CLAIMS)));
	expect_invalid(&r, "PGRST301", BAD_ALG, "ES256 token against an RSA key");
	r = run(&c, bearer(D("%s.%s.", b64s("{\"alg\":\"none\"}"), b64s(USER_CLAIMS))));
	expect_invalid(&r, "PGRST301", BAD_ALG, "alg none against an RSA key");
	r = run(&c, bearer(D("%s.%s.", b64s("{\"alg\":\"RS1\"}"), b64s(USER_CLAIMS))));
	expect_invalid(&r, "PGRST301", BAD_ALG, "unknown alg RS1");
	r = run(&c, bearer(asym(rsa_a, "RS256", NULL, D("{\"role\":\"u\",\"exp\":%lld}",
							 (long long)NOW - 100))));
	expect_invalid(&r, "PGRST303", "JWT expired", "RS256 expired: claims still checked");

	/* an RS token against an HMAC secret */
	{
		struct config h = with_secret("web_anon");

		r = run(&h, bearer(asym(rsa_a, "RS256", NULL, USER_CLAIMS)));
		expect_invalid(&r, "PGRST301", BAD_ALG, "RS256 token against an HMAC secret");
		r = run(&h, bearer(asym(ec256, "ES256", NULL, USER_CLAIMS)));
		expect_invalid(&r, "PGRST301", BAD_ALG, "ES256 token against an HMAC secret");
	}
	auth_keys_free(c.jwt_keys);

	/* two PEM blocks make a set; any text around them is skipped */
	c = with_keys(D("RSA key A\n%s\nand B\n%s", public_pem(rsa_a), public_pem(rsa_b)));
	r = run(&c, bearer(asym(rsa_a, "RS256", NULL, USER_CLAIMS)));
	expect_ok(&r, "web_user", 0, "two PEM keys: the first");
	r = run(&c, bearer(asym(rsa_b, "PS384", NULL, USER_CLAIMS)));
	expect_ok(&r, "web_user", 0, "two PEM keys: the second");
	auth_keys_free(c.jwt_keys);

	/* PEM with an EC key and an RSA key */
	c = with_keys(D("%s%s", public_pem(ec256), public_pem(rsa_b)));
	r = run(&c, bearer(asym(ec256, "ES256", NULL, USER_CLAIMS)));
	expect_ok(&r, "web_user", 0, "EC + RSA PEM: ES256");
	r = run(&c, bearer(asym(rsa_b, "RS256", NULL, USER_CLAIMS)));
	expect_ok(&r, "web_user", 0, "EC + RSA PEM: RS256");
	r = run(&c, bearer(asym(ec384, "ES384", NULL, USER_CLAIMS)));
	expect_invalid(&r, "PGRST301", BAD_ALG, "EC + RSA PEM: ES384 fits no key");
	is_str(r.details, "The JWT algorithm \"ES384\" can't be verified with any key of "
	       "jwt-secret: use RS256, RS384, RS512, PS256, PS384, PS512 or ES256",
	       "key set: details list what the keys allow");
	auth_keys_free(c.jwt_keys);
}

static void test_ec_pem(void)
{
	static const struct {
		EVP_PKEY **key;
		const char *alg, *other;
		jwt_alg_t libjwt;
	} rows[] = {
		{ &ec256, "ES256", "ES384", JWT_ALG_ES256 },
		{ &ec384, "ES384", "ES512", JWT_ALG_ES384 },
		{ &ec521, "ES512", "ES256", JWT_ALG_ES512 },
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		EVP_PKEY *k = *rows[i].key;
		struct config c = with_keys(public_pem(k));
		struct auth_result r;
		char *tok;
		const char *what = rows[i].alg;

		r = run(&c, bearer(asym(k, rows[i].alg, NULL, USER_CLAIMS)));
		expect_ok(&r, "web_user", 0, D("%s token, EC PEM", what));
		r = run(&c, bearer(mint_asym(rows[i].libjwt, k, USER_CLAIMS)));
		expect_ok(&r, "web_user", 0, D("%s token minted by libjwt", what));
		r = run(&c, bearer(asym(k, rows[i].other, NULL, USER_CLAIMS)));
		expect_invalid(&r, "PGRST301", BAD_ALG, D("%s key, %s token", what, rows[i].other));
		/* a DER signature is not JWS's r||s */
		tok = asym_sign(k, rows[i].alg, b64s(D("{\"alg\":\"%s\"}", rows[i].alg)),
				b64s(USER_CLAIMS), true);
		r = run(&c, bearer(tok));
		expect_invalid(&r, "PGRST301", BAD_SIG, D("%s with a DER signature", what));
		/* r||s one byte short */
		tok = asym(k, rows[i].alg, NULL, USER_CLAIMS);
		{
			char *dot = strrchr(tok, '.');
			size_t sl = 0;
			unsigned char *raw = (unsigned char *)arena_strdup(&tok_arena, dot + 1);
			static const char abc[] =
				"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
			unsigned char bytes[200];
			uint32_t acc = 0;
			int bits = 0;

			for (unsigned char *p = raw; *p; p++) {
				acc = (acc << 6) | (uint32_t)(strchr(abc, *p) - abc);
				bits += 6;
				if (bits >= 8) {
					bits -= 8;
					bytes[sl++] = (unsigned char)(acc >> bits);
					acc &= (1u << bits) - 1;
				}
			}
			r = run(&c, bearer(D("%.*s.%s", (int)(dot - tok), tok, b64url(bytes, sl - 1))));
			expect_invalid(&r, "PGRST301", BAD_SIG, D("%s signature one byte short", what));
			/* r and s swapped */
			{
				unsigned char sw[200];
				size_t h = sl / 2;

				memcpy(sw, bytes + h, h);
				memcpy(sw + h, bytes, h);
				r = run(&c, bearer(D("%.*s.%s", (int)(dot - tok), tok, b64url(sw, sl))));
				expect_invalid(&r, "PGRST301", BAD_SIG, D("%s r and s swapped", what));
			}
			/* all zero */
			memset(bytes, 0, sl);
			r = run(&c, bearer(D("%.*s.%s", (int)(dot - tok), tok, b64url(bytes, sl))));
			expect_invalid(&r, "PGRST301", BAD_SIG, D("%s r = s = 0", what));
		}
		r = run(&c, bearer(hand(EVP_sha256(), (const char *)c.jwt_secret,
					"{\"alg\":\"HS256\"}", USER_CLAIMS)));
		expect_invalid(&r, "PGRST301", BAD_ALG, D("HS256 with the %s PEM as secret", what));
		auth_keys_free(c.jwt_keys);
	}
}

static void test_jwk(void)
{
	struct config c;
	struct auth_result r;

	/* one JWK of each kind */
	c = with_keys(jwk(rsa_a, ""));
	r = run(&c, bearer(asym(rsa_a, "RS256", NULL, USER_CLAIMS)));
	expect_ok(&r, "web_user", 0, "RSA JWK, RS256");
	r = run(&c, bearer(asym(rsa_a, "PS512", NULL, USER_CLAIMS)));
	expect_ok(&r, "web_user", 0, "RSA JWK, PS512");
	r = run(&c, bearer(hand(EVP_sha256(), (const char *)c.jwt_secret, "{\"alg\":\"HS256\"}",
				USER_CLAIMS)));
	expect_invalid(&r, "PGRST301", BAD_ALG, "HS256 with the JWK text as secret");
	auth_keys_free(c.jwt_keys);

	c = with_keys(jwk(ec256, ",\"use\":\"sig\""));
	r = run(&c, bearer(asym(ec256, "ES256", NULL, USER_CLAIMS)));
	expect_ok(&r, "web_user", 0, "EC P-256 JWK, ES256");
	auth_keys_free(c.jwt_keys);
	c = with_keys(jwk(ec384, ""));
	r = run(&c, bearer(asym(ec384, "ES384", NULL, USER_CLAIMS)));
	expect_ok(&r, "web_user", 0, "EC P-384 JWK, ES384");
	auth_keys_free(c.jwt_keys);
	c = with_keys(jwk(ec521, ""));
	r = run(&c, bearer(asym(ec521, "ES512", NULL, USER_CLAIMS)));
	expect_ok(&r, "web_user", 0, "EC P-521 JWK, ES512");
	auth_keys_free(c.jwt_keys);
	c = with_keys(jwk(ed25519, ""));
	r = run(&c, bearer(asym(ed25519, "EdDSA", NULL, USER_CLAIMS)));
	expect_ok(&r, "web_user", 0, "Ed25519 JWK, EdDSA");
	r = run(&c, bearer(asym(rsa_a, "RS256", NULL, USER_CLAIMS)));
	expect_invalid(&r, "PGRST301", BAD_ALG, "Ed25519 JWK, RS256 token");
	auth_keys_free(c.jwt_keys);

	/* a JWK's alg narrows what its key allows */
	c = with_keys(jwk(rsa_a, ",\"alg\":\"RS256\""));
	r = run(&c, bearer(asym(rsa_a, "RS256", NULL, USER_CLAIMS)));
	expect_ok(&r, "web_user", 0, "JWK alg RS256, RS256 token");
	r = run(&c, bearer(asym(rsa_a, "PS256", NULL, USER_CLAIMS)));
	expect_invalid(&r, "PGRST301", BAD_ALG, "JWK alg RS256, PS256 token");
	is_str(r.details, "The JWT algorithm \"PS256\" can't be verified with jwt-secret, which is "
	       "an RSA public key: use RS256", "JWK alg: details");
	auth_keys_free(c.jwt_keys);

	/* an oct JWK is an HMAC key */
	c = with_keys(D("{\"kty\":\"oct\",\"k\":\"%s\"}", b64s(SECRET)));
	r = run(&c, bearer(hs256(USER_CLAIMS)));
	expect_ok(&r, "web_user", 0, "oct JWK, HS256 token");
	r = run(&c, bearer(mint(JWT_ALG_HS512, SECRET, USER_CLAIMS)));
	expect_ok(&r, "web_user", 0, "oct JWK, HS512 token");
	r = run(&c, bearer(asym(rsa_a, "RS256", NULL, USER_CLAIMS)));
	expect_invalid(&r, "PGRST301", BAD_ALG, "oct JWK, RS256 token");
	auth_keys_free(c.jwt_keys);

	/* a JWK Set: kid picks, no kid tries every fitting key */
	c = with_keys(D("{\"keys\":[%s,%s,%s]}", jwk(rsa_a, ",\"kid\":\"r1\""),
			jwk(ec256, ",\"kid\":\"e1\""), jwk(rsa_b, ",\"kid\":\"r2\"")));
	ok(c.jwt_keys != NULL, "JWKS of three keys loaded");
	r = run(&c, bearer(asym(rsa_a, "RS256", "r1", USER_CLAIMS)));
	expect_ok(&r, "web_user", 0, "JWKS: RS256 kid r1");
	r = run(&c, bearer(asym(rsa_b, "RS256", "r2", USER_CLAIMS)));
	expect_ok(&r, "web_user", 0, "JWKS: RS256 kid r2");
	r = run(&c, bearer(asym(ec256, "ES256", "e1", USER_CLAIMS)));
	expect_ok(&r, "web_user", 0, "JWKS: ES256 kid e1");
	r = run(&c, bearer(asym(rsa_b, "RS256", NULL, USER_CLAIMS)));
	expect_ok(&r, "web_user", 0, "JWKS: RS256 without kid, second RSA key");
	r = run(&c, bearer(asym(ec256, "ES256", NULL, USER_CLAIMS)));
	expect_ok(&r, "web_user", 0, "JWKS: ES256 without kid");
	r = run(&c, bearer(asym(rsa_b, "RS256", "r1", USER_CLAIMS)));
	expect_invalid(&r, "PGRST301", BAD_SIG, "JWKS: signed by r2, kid says r1");
	is_str(r.details, "None of the keys was able to decode the JWT", "wrong kid: details");
	r = run(&c, bearer(asym(rsa_a, "RS256", "nope", USER_CLAIMS)));
	expect_invalid(&r, "PGRST301", BAD_SIG, "JWKS: unknown kid");
	is_str(r.details, "No key of jwt-secret has the JWT's kid \"nope\"", "unknown kid: details");
	r = run(&c, bearer(asym(rsa_a, "RS256", "e1", USER_CLAIMS)));
	expect_invalid(&r, "PGRST301", BAD_SIG, "JWKS: RS256 with the EC key's kid");
	r = run(&c, bearer(asym(ec384, "ES384", "e1", USER_CLAIMS)));
	expect_invalid(&r, "PGRST301", BAD_ALG, "JWKS: ES384 fits no key");
	r = run(&c, bearer(asym_sign(rsa_a, "RS256", b64s("{\"alg\":\"RS256\",\"kid\":5}"),
				     b64s(USER_CLAIMS), false)));
	expect_invalid(&r, "PGRST301", "JWT couldn't be decoded", "JWKS: kid not a string");
	r = run(&c, bearer(asym_sign(rsa_a, "RS256", b64s("{\"alg\":\"RS256\",\"kid\":null}"),
				     b64s(USER_CLAIMS), false)));
	expect_ok(&r, "web_user", 0, "JWKS: kid null = no kid");
	r = run(&c, bearer(hand(EVP_sha256(), (const char *)c.jwt_secret, "{\"alg\":\"HS256\"}",
				USER_CLAIMS)));
	expect_invalid(&r, "PGRST301", BAD_ALG, "JWKS: HS256 with the JWKS text as secret");
	r = run(&c, bearer(D("%s.%s.", b64s("{\"alg\":\"none\",\"kid\":\"r1\"}"),
			     b64s(USER_CLAIMS))));
	expect_invalid(&r, "PGRST301", BAD_ALG, "JWKS: alg none with a kid");
	auth_keys_free(c.jwt_keys);

	/* keys for encryption and unknown types are skipped in a set */
	c = with_keys(D("{\"keys\":[%s,{\"kty\":\"XYZ\"},%s]}", jwk(rsa_b, ",\"use\":\"enc\""),
			jwk(rsa_a, ",\"use\":\"sig\"")));
	r = run(&c, bearer(asym(rsa_a, "RS256", NULL, USER_CLAIMS)));
	expect_ok(&r, "web_user", 0, "JWKS: the sig key verifies");
	r = run(&c, bearer(asym(rsa_b, "RS256", NULL, USER_CLAIMS)));
	expect_invalid(&r, "PGRST301", BAD_SIG, "JWKS: the enc key is not used");
	auth_keys_free(c.jwt_keys);

	/* a JWK text with blanks around it (a file) */
	c = with_keys(D("\n  %s\n\n", jwk(ec256, "")));
	r = run(&c, bearer(asym(ec256, "ES256", NULL, USER_CLAIMS)));
	expect_ok(&r, "web_user", 0, "JWK with blanks around it");
	auth_keys_free(c.jwt_keys);

	/* an EC JWK whose x lost its leading zero byte is padded back */
	{
		EVP_PKEY *k = NULL;
		BIGNUM *x = NULL;

		for (int i = 0; i < 2000 && k == NULL; i++) {
			EVP_PKEY *t = keygen("EC", "P-256");

			EVP_PKEY_get_bn_param(t, OSSL_PKEY_PARAM_EC_PUB_X, &x);
			if (BN_num_bytes(x) < 32)
				k = t;
			else
				EVP_PKEY_free(t);
			BN_free(x);
			x = NULL;
		}
		if (k != NULL) {
			c = with_keys(D("{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\"}",
					bn_b64(k, OSSL_PKEY_PARAM_EC_PUB_X, 0),
					bn_b64(k, OSSL_PKEY_PARAM_EC_PUB_Y, 32)));
			r = run(&c, bearer(asym(k, "ES256", NULL, USER_CLAIMS)));
			expect_ok(&r, "web_user", 0, "EC JWK with a short x");
			auth_keys_free(c.jwt_keys);
			EVP_PKEY_free(k);
		} else {
			ok(1, "# SKIP no P-256 key with a short x in 2000 tries");
		}
	}
}

static void test_key_errors(void)
{
	struct config c;
	struct auth_result r;
	char *ec_jwk = jwk(ec256, "");
	char *bad_point;

	load_fails(private_pem(rsa_a), "a private key", "private RSA key PEM");
	load_fails(private_pem(ec256), "a private key", "private EC key PEM");
	load_fails("-----BEGIN PUBLIC KEY-----\nnot base64 at all\n-----END PUBLIC KEY-----\n",
		   "PEM block 1 can't be read", "PEM with bad base64");
	load_fails("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
		   "can't be decoded", "PEM with a bad key");
	load_fails("-----BEGIN PUBLIC KEY-----\n", "PEM block 1 can't be read", "PEM cut short");
	load_fails(D("%s-----BEGIN PUBLIC KEY-----\n", public_pem(rsa_a)),
		   "PEM block 2 can't be read", "second PEM block cut short");
	load_fails("-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n", "not a public key",
		   "PEM of another kind");
	{
		EVP_PKEY *small = keygen("RSA1024", NULL);

		load_fails(public_pem(small), "1024 bits is too short", "RSA 1024 PEM");
		load_fails(jwk(small, ""), "1024 bits is too short", "RSA 1024 JWK");
		EVP_PKEY_free(small);
	}
	{
		EVP_PKEY *k1 = keygen("EC", "secp256k1");

		load_fails(public_pem(k1), "curve is not one JWT uses", "secp256k1 PEM");
		EVP_PKEY_free(k1);
	}
	load_fails(D("{\"kty\":\"RSA\",\"n\":\"%s\",\"e\":\"AQAB\",\"d\":\"AQAB\"}",
		     bn_b64(rsa_a, OSSL_PKEY_PARAM_RSA_N, 0)), "a private key", "RSA JWK with d");
	load_fails("{\"kty\":\"RSA\",\"n\":\"!!!\",\"e\":\"AQAB\"}", "needs \"n\" and \"e\"",
		   "RSA JWK, n not base64url");
	load_fails("{\"kty\":\"RSA\",\"e\":\"AQAB\"}", "needs \"n\" and \"e\"", "RSA JWK without n");
	load_fails("{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"AAAA\",\"y\":\"AAAA\"}",
		   "the JWK", "EC JWK, point not on the curve");
	bad_point = arena_strdup(&tok_arena, ec_jwk);
	{
		/* flip a character of y */
		char *y = strstr(bad_point, "\"y\":\"") + 10;

		*y = *y == 'A' ? 'B' : 'A';
	}
	load_fails(bad_point, "the JWK", "EC JWK, y altered");
	load_fails("{\"kty\":\"EC\",\"crv\":\"P-192\",\"x\":\"AAAA\",\"y\":\"AAAA\"}",
		   "not a valid EC key", "EC JWK on P-192");
	load_fails("{\"kty\":\"EC\",\"x\":\"AAAA\",\"y\":\"AAAA\"}", "no \"crv\"", "EC JWK without crv");
	load_fails(D("%.*s,\"alg\":\"RS256\"}", (int)strlen(ec_jwk) - 1, ec_jwk),
		   "does not fit an EC P-256 public key", "EC JWK with alg RS256");
	load_fails(D("%.*s,\"alg\":\"ES384\"}", (int)strlen(ec_jwk) - 1, ec_jwk),
		   "does not fit", "P-256 JWK with alg ES384");
	load_fails(D("%.*s,\"alg\":\"none\"}", (int)strlen(ec_jwk) - 1, ec_jwk),
		   "\"alg\" \"none\" is not supported", "JWK with alg none");
	load_fails(D("%.*s,\"kid\":7}", (int)strlen(ec_jwk) - 1, ec_jwk),
		   "must be strings", "JWK with a numeric kid");
	load_fails("{\"kty\":\"oct\"}", "needs \"k\"", "oct JWK without k");
	load_fails("{\"kty\":\"oct\",\"k\":\"c2VjcmV0\",\"alg\":\"RS256\"}", "does not fit an HMAC key",
		   "oct JWK with alg RS256");
	load_fails("{\"kty\":\"XYZ\"}", "\"kty\" \"XYZ\" is not supported", "lone JWK of unknown kty");
	load_fails("{\"kty\":5}", "must be strings", "kty a number");
	load_fails("{\"keys\":[]}", "holds no key", "empty JWKS");
	load_fails("{\"keys\":{}}", "is not an array", "JWKS keys an object");
	load_fails("{\"keys\":[1]}", "JWK 1: not a JSON object", "JWKS with a number");
	load_fails(D("{\"keys\":[%s,{\"kty\":\"RSA\"}]}", ec_jwk), "JWK 2",
		   "JWKS: the bad key is named");
	load_fails(D("{\"keys\":[%s]}", jwk(rsa_a, ",\"use\":\"enc\"")), "holds no key",
		   "JWKS of an enc key only");
	load_fails(D("%s,", ec_jwk), "looks like a JWK", "JWK with a trailing comma");
	load_fails("{\"kty\":\"RSA\" 'n': 1}", "looks like a JWK", "JWK in broken JSON");

	/* texts that are HMAC secrets after all */
	c = with_keys("{\"not\":\"a key\",\"but\":\"a secret of 32 characters\"}");
	ok(c.jwt_keys != NULL, "a JSON object without kty is an HMAC secret");
	r = run(&c, bearer(mint(JWT_ALG_HS256, (const char *)c.jwt_secret, USER_CLAIMS)));
	expect_ok(&r, "web_user", 0, "JSON-looking HMAC secret");
	auth_keys_free(c.jwt_keys);
	c = with_keys(SECRET);
	r = run(&c, bearer(hs256(USER_CLAIMS)));
	expect_ok(&r, "web_user", 0, "HMAC secret loaded");
	r = run(&c, bearer(hand(EVP_sha256(), SECRET, "{\"alg\":\"RS256\"}", USER_CLAIMS)));
	expect_invalid(&r, "PGRST301", BAD_ALG, "loaded HMAC secret, RS256 header");
	is_str(r.details, "The JWT algorithm \"RS256\" can't be verified with jwt-secret, which is "
	       "an HMAC key: use HS256, HS384 or HS512", "HMAC details unchanged");
	/* loading again replaces the set; no secret, no set */
	is_int(auth_load_keys(&c, load_err, sizeof(load_err)), 0, "loading twice");
	c.jwt_secret = NULL;
	c.jwt_secret_len = 0;
	is_int(auth_load_keys(&c, load_err, sizeof(load_err)), 0, "no secret loads");
	ok(c.jwt_keys == NULL, "no secret, no keys");

	/* a config filled in by hand with a key text is never an HMAC secret */
	c = no_secret("web_anon");
	c.jwt_secret = (unsigned char *)public_pem(rsa_a);
	c.jwt_secret_len = strlen((char *)c.jwt_secret);
	r = run(&c, bearer(hand(EVP_sha256(), (const char *)c.jwt_secret, "{\"alg\":\"HS256\"}",
				USER_CLAIMS)));
	expect_error(&r, 500, "PGRSTX00", "jwt-secret was not loaded", NULL,
		     "PEM secret without auth_load_keys");
}

/* ------------------------------------------------------------------------
 * Signing (internal JWT generation)
 */

/* The decoded header of a token, as JSON text. */
static const char *token_header(const char *tok)
{
	const char *dot = strchr(tok, '.');
	static const char abc[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	struct sbuf b;
	uint32_t acc = 0;
	int bits = 0;

	sbuf_init(&b, &tok_arena, 64);
	for (const char *p = tok; p < dot; p++) {
		acc = (acc << 6) | (uint32_t)(strchr(abc, *p) - abc);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			sbuf_putc(&b, (char)(acc >> bits));
			acc &= (1u << bits) - 1;
		}
	}
	return b.data;
}

static void test_sign(void)
{
	struct config c = with_secret("web_anon");
	struct auth_result r;
	const char *err = "unset";
	const char *claims = D("{\"role\":\"web_user\",\"user\":\"al\\\"ice \\u00e9\",\"exp\":%lld,"
			       "\"n\":[1,2.5],\"b\":true,\"z\":null,\"o\":{\"k\":\"v\"}}",
			       (long long)NOW + 3600);
	char *tok;

	tok = auth_sign_token(&c, claims, &tok_arena, &err);
	ok(tok != NULL, "signed with a hand-made HMAC config");
	is_str(err, NULL, "sign: no error");
	r = run(&c, bearer(tok));
	expect_ok(&r, "web_user", 0, "signed token verifies");
	is_str(member(r.claims_json, "user"), "al\"ice \xc3\xa9", "sign: string claim kept");
	is_str(member(r.claims_json, "exp"), D("%lld", (long long)NOW + 3600),
	       "sign: exp stays a number");
	is_str(member(r.claims_json, "n"), "[1,2.5]", "sign: array kept");
	is_str(member(r.claims_json, "b"), "true", "sign: boolean kept");
	is_str(member(r.claims_json, "z"), "null", "sign: null kept");
	is_str(member(r.claims_json, "o"), "{\"k\":\"v\"}", "sign: object kept");
	is_str(member(token_header(tok), "alg"), "HS256", "sign: HS256");
	is_str(member(token_header(tok), "kid"), "(none)", "sign: no kid");
	/* and libjwt's own decoder agrees */
	{
		jwt_t *j = NULL;

		is_int(jwt_decode(&j, tok, (const unsigned char *)SECRET, (int)strlen(SECRET)), 0,
		       "sign: libjwt decodes the token");
		is_int(jwt_get_grant_int(j, "exp"), (long)NOW + 3600, "sign: libjwt reads exp");
		jwt_free(j);
	}

	tok = auth_sign_token(&c, "{}", &tok_arena, &err);
	r = run(&c, bearer(tok));
	expect_ok(&r, "web_anon", 1, "signed empty claims: anon");

	/* expired claims sign fine; verifying refuses them */
	tok = auth_sign_token(&c, D("{\"role\":\"u\",\"exp\":%lld}", (long long)NOW - 100),
			      &tok_arena, &err);
	r = run(&c, bearer(tok));
	expect_invalid(&r, "PGRST303", "JWT expired", "signed expired claims");

	/* loaded configurations */
	c = with_keys(SECRET);
	tok = auth_sign_token(&c, USER_CLAIMS, &tok_arena, &err);
	r = run(&c, bearer(tok));
	expect_ok(&r, "web_user", 0, "sign with a loaded HMAC secret");
	auth_keys_free(c.jwt_keys);

	c = with_keys(D("{\"keys\":[%s,{\"kty\":\"oct\",\"k\":\"%s\",\"kid\":\"hk\",\"alg\":\"HS512\"}]}",
			jwk(rsa_a, ",\"kid\":\"r1\""), b64s(SECRET)));
	tok = auth_sign_token(&c, USER_CLAIMS, &tok_arena, &err);
	if (!ok(tok != NULL, "sign with the oct key of a JWKS"))
		printf("#   %s\n", err);
	is_str(member(token_header(tok ? tok : "x."), "alg"), "HS512", "oct JWK: its alg");
	is_str(member(token_header(tok ? tok : "x."), "kid"), "hk", "oct JWK: its kid");
	r = run(&c, bearer(tok));
	expect_ok(&r, "web_user", 0, "JWKS-signed token verifies");
	r = run(&c, bearer(asym(rsa_a, "RS256", "r1", USER_CLAIMS)));
	expect_ok(&r, "web_user", 0, "the JWKS's RSA key still verifies");
	auth_keys_free(c.jwt_keys);

	/* binary secret */
	{
		static const unsigned char bin[] = { 's', 0, 'e', 1, 'c', 0xff, 'r', 'e', 't' };

		c = no_secret("web_anon");
		c.jwt_secret = (unsigned char *)bin;
		c.jwt_secret_len = sizeof(bin);
		tok = auth_sign_token(&c, USER_CLAIMS, &tok_arena, &err);
		r = run(&c, bearer(tok));
		expect_ok(&r, "web_user", 0, "sign with a binary secret");
	}

	/* what can't be signed */
	c = with_keys(public_pem(rsa_a));
	err = NULL;
	ok(auth_sign_token(&c, USER_CLAIMS, &tok_arena, &err) == NULL, "public key: no token");
	ok(err != NULL && strstr(err, "only public keys") != NULL, "public key: says why");
	auth_keys_free(c.jwt_keys);

	c = no_secret("web_anon");
	err = NULL;
	ok(auth_sign_token(&c, USER_CLAIMS, &tok_arena, &err) == NULL, "no secret: no token");
	ok(err != NULL && strstr(err, "no jwt-secret") != NULL, "no secret: says why");

	c = with_secret("web_anon");
	static const char *const bad[] = { "[1]", "\"role\"", "{\"role\":", "", "{'a':1}", "null" };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err = NULL;
		ok(auth_sign_token(&c, bad[i], &tok_arena, &err) == NULL, "claims %s: no token", bad[i]);
		is_str(err, "the claims to sign are not a JSON object", "claims %s: says why", bad[i]);
	}
	err = NULL;
	ok(auth_sign_token(&c, NULL, &tok_arena, &err) == NULL && err != NULL, "NULL claims");
}

/* The result struct is reused by callers: nothing may leak between calls. */
static struct auth_result run_at(const struct config *c, const char *header, time_t now)
{
	struct auth_result r;

	arena_reset(&req_arena);
	memset(&r, 0x5a, sizeof(r));
	auth_request(c, header, now, &req_arena, &r);
	return r;
}

/* jwt-cache-max-lifetime: the cache gives only what verifying again would */
static void test_token_cache(void)
{
	struct config c = with_secret("web_anon");
	struct auth_result r;
	char err[256];
	const char *tok = hs256("{\"role\":\"web_user\",\"user\":\"alice\"}");
	const char *tok_exp = hs256(D("{\"role\":\"web_user\",\"exp\":%ld}", (long)NOW + 100));
	const char *tok_anon = hs256("{\"user\":\"bob\"}");
	const char *bad = mint(JWT_ALG_HS256, "wrong-secret-wrong-secret-wrong-secret",
			       "{\"role\":\"web_user\"}");
	char *tampered = arena_strdup(&tok_arena, tok);

	tampered[strlen(tampered) - 2] ^= 1;
	c.jwt_cache_max_lifetime = 60;
	c.jwt_cache_max_entries = 3;
	is_int(auth_load_keys(&c, err, sizeof(err)), 0, "cache: keys loaded");

	r = run(&c, bearer(tok));
	expect_ok(&r, "web_user", 0, "cache: first use verifies");
	is_int((int)auth_token_cache_hits(&c), 0, "cache: not answered from the cache");
	r = run(&c, bearer(tok));
	expect_ok(&r, "web_user", 0, "cache: second use");
	is_str(member(r.claims_json, "user"), "alice", "cache: claims kept");
	is_int((int)auth_token_cache_hits(&c), 1, "cache: answered from the cache");
	r = run(&c, arena_printf(&tok_arena, "  bearer \t%s ", tok));
	expect_ok(&r, "web_user", 0, "cache: same token, other spelling of the header");
	is_int((int)auth_token_cache_hits(&c), 2, "cache: keyed by the token");

	/* jwt-cache-max-lifetime, and a clock that goes back */
	r = run_at(&c, bearer(tok), NOW + 59);
	is_int((int)auth_token_cache_hits(&c), 3, "cache: within the lifetime");
	r = run_at(&c, bearer(tok), NOW - 1);
	expect_ok(&r, "web_user", 0, "cache: clock went back: verified again");
	is_int((int)auth_token_cache_hits(&c), 3, "cache: not from the cache when the clock went back");
	r = run_at(&c, bearer(tok), NOW + 200);
	expect_ok(&r, "web_user", 0, "cache: past the lifetime: verified again");
	is_int((int)auth_token_cache_hits(&c), 3, "cache: lifetime over");

	/* failures are never kept; a changed byte is another token */
	for (int i = 0; i < 2; i++) {
		r = run(&c, bearer(bad));
		expect_invalid(&r, "PGRST301", "No suitable key or wrong key type",
			       D("cache: wrong key refused, try %d", i + 1));
		r = run(&c, bearer(tampered));
		expect_invalid(&r, "PGRST301", "No suitable key or wrong key type",
			       D("cache: tampered cached token refused, try %d", i + 1));
	}
	r = run(&c, bearer(tok_anon));
	r = run(&c, bearer(tok_anon));
	expect_ok(&r, "web_anon", 1, "cache: token without role, from the cache");
	is_str(member(r.claims_json, "user"), "bob", "cache: its claims");
	is_int((int)auth_token_cache_hits(&c), 4, "cache: failures not kept, anon-by-token kept");

	/* more tokens than jwt-cache-max-entries: still right, bounded */
	for (int i = 0; i < 10; i++) {
		r = run(&c, bearer(hs256(D("{\"role\":\"u%d\"}", i % 5))));
		expect_ok(&r, D("u%d", i % 5), 0, D("cache: many tokens, %d", i));
	}

	/* exp ends an entry before jwt-cache-max-lifetime does */
	c.jwt_cache_max_lifetime = 3600;
	is_int(auth_load_keys(&c, err, sizeof(err)), 0, "cache: keys loaded again (a reload)");
	r = run(&c, bearer(tok));
	is_int((int)auth_token_cache_hits(&c), 0, "cache: a new load starts empty");
	r = run_at(&c, bearer(tok_exp), NOW);
	r = run_at(&c, bearer(tok_exp), NOW + 129);
	expect_ok(&r, "web_user", 0, "cache: before exp + skew");
	is_int((int)auth_token_cache_hits(&c), 1, "cache: from the cache before exp");
	r = run_at(&c, bearer(tok_exp), NOW + 130);
	expect_invalid(&r, "PGRST303", "JWT expired", "cache: expired token refused");
	is_int((int)auth_token_cache_hits(&c), 1, "cache: not from the cache after exp");

	/* off: 0 seconds */
	c.jwt_cache_max_lifetime = 0;
	is_int(auth_load_keys(&c, err, sizeof(err)), 0, "cache: keys loaded, cache off");
	r = run(&c, bearer(tok));
	r = run(&c, bearer(tok));
	expect_ok(&r, "web_user", 0, "cache off: verified");
	is_int((int)auth_token_cache_hits(&c), 0, "cache off: never from the cache");
	auth_keys_free(c.jwt_keys);
}

static void test_result_reset(void)
{
	struct config c = with_secret("web_anon");
	struct auth_result r;

	memset(&r, 0, sizeof(r));
	arena_reset(&req_arena);
	auth_request(&c, "Basic x", NOW, &req_arena, &r);
	auth_request(&c, bearer(hs256("{\"role\":\"u\"}")), NOW, &req_arena, &r);
	expect_ok(&r, "u", 0, "success after an error");
	is_str(r.message, NULL, "no stale message");
	is_str(r.details, NULL, "no stale details");
	is_str(r.hint, NULL, "no stale hint");
}

int main(void)
{
	arena_init(&req_arena);
	arena_init(&tok_arena);

	test_no_secret();
	test_secret_no_token();
	test_valid_tokens();
	test_header_forms();
	test_bad_tokens();
	test_json_rows();
	test_algorithms();
	test_time_claims();
	test_aud();
	test_role_claim_key();
	test_result_reset();
	test_token_cache();

	rsa_a = keygen("RSA", NULL);
	rsa_b = keygen("RSA", NULL);
	ec256 = keygen("EC", "P-256");
	ec384 = keygen("EC", "P-384");
	ec521 = keygen("EC", "P-521");
	ed25519 = keygen("ED25519", NULL);
	test_rsa_pem();
	test_ec_pem();
	test_jwk();
	test_key_errors();
	test_sign();
	EVP_PKEY_free(rsa_a);
	EVP_PKEY_free(rsa_b);
	EVP_PKEY_free(ec256);
	EVP_PKEY_free(ec384);
	EVP_PKEY_free(ec521);
	EVP_PKEY_free(ed25519);

	arena_destroy(&req_arena);
	arena_destroy(&tok_arena);
	return done_testing();
}

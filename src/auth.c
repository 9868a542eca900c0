/*
 * auth.c — who runs this request: the jwt-secret rules of DESIGN.md.
 *
 * input:  the configuration, the raw Authorization header, the clock
 * output: struct auth_result (role + claims JSON, or an error to answer with)
 * memory: every string in the result is allocated in the request arena;
 *         json-c objects are released before returning
 *
 * The configured jwt-secret is an HMAC key, so the only algorithms a token
 * may name are HS256, HS384 and HS512; the digest is chosen from that list
 * by us, never from the token, so "none" and the asymmetric algorithms can
 * not be smuggled in.  The signature is checked with OpenSSL's HMAC and a
 * constant-time compare.  libjwt 1.10.2's jwt_decode() was checked and is
 * not used here: it refuses alg "none" when given a key (EINVAL) and an RS256
 * token with an HMAC key (EINVAL), but accepts "none" when the key is NULL,
 * reports every failure as the same errno (so no precise message), rejects
 * tokens whose "typ" is not "JWT" (PostgREST ignores typ) and parses the
 * payload with a second JSON parser.  The tests mint tokens with libjwt,
 * which keeps an independent implementation on the other side.
 *
 * Error codes and messages (PostgREST v13, src/PostgREST/Error.hs and
 * src/PostgREST/Auth/Jwt.hs; v12 put everything under PGRST301 with jose's
 * raw error texts, v13 split them and gave them readable messages):
 *
 *   500 PGRST300 "Server lacks JWT secret"        Bearer token, no jwt-secret
 *   401 PGRST301 token could not be decoded or verified:
 *       "Empty JWT is sent in Authorization header"
 *       "Expected 3 parts in JWT; got N"
 *       "JWT couldn't be decoded"                  bad base64url / header JSON
 *       "Wrong or unsupported encoding algorithm"  alg not HS256/384/512
 *       "No suitable key or wrong key type", details "None of the keys was
 *           able to decode the JWT"               bad signature (what v13
 *                                                  answers for a wrong secret)
 *       "Authorization header is not a Bearer JWT" pg_rest only: other scheme
 *   401 PGRST303 claims invalid:
 *       "JWT expired", "JWT not yet valid", "JWT issued at future",
 *       "JWT not in audience", "Parsing claims failed",
 *       "The JWT 'exp' claim must be a number" (same for nbf, iat),
 *       "The JWT 'aud' claim must be a string or an array of strings",
 *       "The JWT role claim is not a usable role name"  pg_rest only: the
 *           claim is "" or holds a NUL (PostgREST would pass "" to SET ROLE
 *           and fail there; a NUL would silently cut the name short)
 *   401 PGRST302 (WWW-Authenticate: Bearer):
 *       "Anonymous access is disabled"  the request needs db-anon-role and
 *                                       there is none
 *       "JWT required"                  pg_rest only: jwt-secret set, no
 *                                       token, jwt-optional = false
 *
 * Every PGRST301/PGRST303 answer carries
 * WWW-Authenticate: Bearer error="invalid_token", error_description="<msg>".
 *
 * Choices where PostgREST is silent or odd (documented here on purpose):
 *   - exp <= now - 30 is expired (RFC 7519 and v12's jose; v13 accepts
 *     exp == now - 30); nbf / iat > now + 30 are refused.  Non-integral
 *     numbers are compared as they are (v13 turns them into 0).  A claim
 *     that is JSON null counts as absent, as in v13.
 *   - aud is checked for its type even without jwt-aud (v13 does too); an
 *     empty aud array matches any jwt-aud (v13).
 *   - A role claim that is JSON null counts as absent (PostgREST would use
 *     the text "null"); other non-strings are JSON-encoded, as PostgREST does.
 *   - Without a jwt-secret, an Authorization header with another scheme
 *     ("Basic ...", from a password-protected site in front) is ignored, as
 *     PostgREST ignores it, so such deployments keep working; with a
 *     jwt-secret it is a malformed token.
 *   - claims_json is the token's own payload text (checked to be strict JSON
 *     that PostgreSQL accepts), not a re-encoding: json-c would clamp large
 *     integers.  For anonymous requests without a token it is
 *     {"role":"<db-anon-role>"}.
 */
#include "auth.h"

#include "json.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#define CLOCK_SKEW_SECONDS 30
#define JSON_MAX_DEPTH 32

#define MSG_BAD_SIGNATURE "No suitable key or wrong key type"
#define MSG_UNDECODABLE "JWT couldn't be decoded"
#define MSG_BAD_ALG "Wrong or unsupported encoding algorithm"
#define MSG_BAD_CLAIMS "Parsing claims failed"
#define MSG_BAD_ROLE "The JWT role claim is not a usable role name"
#define MSG_ANON_DISABLED "Anonymous access is disabled"

/* ------------------------------------------------------------------------
 * Filling in the result
 */

/* Quote s as an RFC 7230 quoted-string body: backslash before " and \. */
static const char *quoted_string(struct arena *a, const char *s)
{
	struct sbuf b;

	sbuf_init(&b, a, strlen(s) + 8);
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			sbuf_putc(&b, '\\');
		/* control characters can't appear in a header value */
		sbuf_putc(&b, (c < 0x20 || c == 0x7f) ? ' ' : (char)c);
	}
	return b.data;
}

static void set_error(struct auth_result *out, int status, const char *code,
		      const char *message, const char *details,
		      const char *www_authenticate)
{
	out->status = status;
	out->code = code;
	out->message = message;
	out->details = details;
	out->www_authenticate = www_authenticate;
}

/* 401 for a token we can't use; RFC 6750 says so with error="invalid_token". */
static void invalid_token(struct auth_result *out, struct arena *a,
			  const char *code, const char *message,
			  const char *details)
{
	set_error(out, 401, code, message, details,
		  arena_printf(a, "Bearer error=\"invalid_token\", error_description=\"%s\"",
			       quoted_string(a, message)));
}

/* Run as db-anon-role; claims_json stays as given (NULL = build {"role":…}). */
static void run_as_anon(const struct config *cfg, struct arena *a,
			const char *claims_json, struct auth_result *out)
{
	if (cfg->db_anon_role == NULL || cfg->db_anon_role[0] == '\0') {
		set_error(out, 401, "PGRST302", MSG_ANON_DISABLED, NULL, "Bearer");
		return;
	}
	out->status = 0;
	out->role = arena_strdup(a, cfg->db_anon_role);
	out->is_anon = 1;
	if (claims_json == NULL) {
		json_object *o = json_object_new_object();

		json_object_object_add(o, "role", json_object_new_string(cfg->db_anon_role));
		claims_json = arena_strdup(a, json_object_to_json_string_ext(o,
				JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(o);
	}
	out->claims_json = claims_json;
}

/* ------------------------------------------------------------------------
 * The Authorization header
 */

enum header_kind {
	HEADER_NONE,    /* absent, empty or blank */
	HEADER_BEARER,  /* "Bearer" (any case), token may be empty */
	HEADER_OTHER,   /* some other scheme */
};

static bool is_ows(char c)
{
	return c == ' ' || c == '\t';
}

/* Classify the header; for Bearer, *token and *len give what follows the scheme. */
static enum header_kind read_header(const char *h, const char **token, size_t *len)
{
	size_t n;

	if (h == NULL)
		return HEADER_NONE;
	while (is_ows(*h))
		h++;
	n = strlen(h);
	while (n > 0 && is_ows(h[n - 1]))
		n--;
	if (n == 0)
		return HEADER_NONE;
	if (n < 6 || strncasecmp(h, "Bearer", 6) != 0 || (n > 6 && !is_ows(h[6])))
		return HEADER_OTHER;
	h += 6;
	n -= 6;
	while (n > 0 && is_ows(*h)) {
		h++;
		n--;
	}
	*token = h;
	*len = n;
	return HEADER_BEARER;
}

/* ------------------------------------------------------------------------
 * base64url (RFC 4648 §5, no padding, as JWS compact serialisation uses)
 */

static int b64url_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

/*
 * Decode n characters into a NUL-terminated arena buffer.  Returns NULL for
 * anything but the canonical unpadded encoding (bad characters, padding,
 * an impossible length, non-zero leftover bits), so each byte string has
 * exactly one accepted spelling.
 */
static unsigned char *b64url_decode(struct arena *a, const char *s, size_t n,
				    size_t *out_len)
{
	unsigned char *out;
	uint32_t acc = 0;
	int bits = 0;
	size_t o = 0;

	if (n % 4 == 1)
		return NULL;
	out = arena_alloc(a, n / 4 * 3 + 3);
	for (size_t i = 0; i < n; i++) {
		int v = b64url_value((unsigned char)s[i]);

		if (v < 0)
			return NULL;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	if (acc != 0)
		return NULL;
	out[o] = '\0';
	*out_len = o;
	return out;
}

/*
 * Parse text (len bytes, NUL-terminated) as one strict JSON object.
 * Returns the json-c object (caller puts it) or NULL.
 */
static json_object *parse_json_object(const unsigned char *text, size_t len)
{
	struct json_tokener *tok;
	json_object *obj;

	if (len > INT32_MAX || !json_is_strict((const char *)text, len, JSON_MAX_DEPTH))
		return NULL;

	tok = json_tokener_new_ex(JSON_MAX_DEPTH + 1);
	if (tok == NULL)
		return NULL;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	obj = json_tokener_parse_ex(tok, (const char *)text, (int)len);
	json_tokener_free(tok);
	if (obj != NULL && !json_object_is_type(obj, json_type_object)) {
		json_object_put(obj);
		obj = NULL;
	}
	return obj;
}

/* ------------------------------------------------------------------------
 * The token: structure, algorithm, signature
 */

struct token_parts {
	const char *header;
	size_t header_len;
	const char *payload;
	size_t payload_len;
	const char *signature;
	size_t signature_len;
};

/* Split at the dots; returns the number of parts (only 3 fills p). */
static int split_token(const char *t, size_t len, struct token_parts *p)
{
	const char *dot1, *dot2;
	int parts = 1;

	for (size_t i = 0; i < len; i++)
		if (t[i] == '.')
			parts++;
	if (parts != 3)
		return parts;
	dot1 = memchr(t, '.', len);
	dot2 = memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - t));
	p->header = t;
	p->header_len = (size_t)(dot1 - t);
	p->payload = dot1 + 1;
	p->payload_len = (size_t)(dot2 - p->payload);
	p->signature = dot2 + 1;
	p->signature_len = len - (size_t)(p->signature - t);
	return 3;
}

/*
 * The digest for the header's alg, or NULL with *details saying why.  The
 * list is ours: the key is an HMAC secret, so nothing else can be verified.
 */
static const EVP_MD *header_digest(struct arena *a, json_object *header,
				   const char **details)
{
	json_object *alg;
	const char *name;

	if (!json_object_object_get_ex(header, "alg", &alg) ||
	    !json_object_is_type(alg, json_type_string)) {
		*details = "The JWT header has no \"alg\" string";
		return NULL;
	}
	name = json_object_get_string(alg);
	if ((size_t)json_object_get_string_len(alg) != strlen(name))
		name = "(name with a NUL character)";
	if (strcmp(name, "HS256") == 0)
		return EVP_sha256();
	if (strcmp(name, "HS384") == 0)
		return EVP_sha384();
	if (strcmp(name, "HS512") == 0)
		return EVP_sha512();
	if (strcasecmp(name, "none") == 0)
		*details = "Unsigned JWTs (alg \"none\") are never accepted";
	else
		*details = arena_printf(a, "The JWT algorithm \"%s\" can't be verified with "
					"jwt-secret, which is an HMAC key: use HS256, HS384 or HS512",
					name);
	return NULL;
}

/* Does the signature part hold HMAC(key, "<header>.<payload>")? */
static bool signature_ok(const struct config *cfg, struct arena *a,
			 const struct token_parts *p, const EVP_MD *md)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int mac_len = 0;
	unsigned char *sig;
	size_t sig_len;
	size_t signed_len = p->header_len + 1 + p->payload_len;

	sig = b64url_decode(a, p->signature, p->signature_len, &sig_len);
	if (sig == NULL || cfg->jwt_secret_len > INT32_MAX)
		return false;
	if (HMAC(md, cfg->jwt_secret, (int)cfg->jwt_secret_len,
		 (const unsigned char *)p->header, signed_len, mac, &mac_len) == NULL)
		return false;
	return sig_len == mac_len && CRYPTO_memcmp(sig, mac, mac_len) == 0;
}

/* ------------------------------------------------------------------------
 * Claims: exp, nbf, iat, aud
 */

/* Look a claim up; JSON null counts as absent. */
static json_object *claim(json_object *claims, const char *name)
{
	json_object *v;

	if (!json_object_object_get_ex(claims, name, &v))
		return NULL;
	return v;       /* NULL for JSON null too */
}

static bool is_number(json_object *v)
{
	return json_object_is_type(v, json_type_int) ||
	       json_object_is_type(v, json_type_double);
}

/* Does aud (string or array of strings) name the configured audience? */
static const char *check_aud(const struct config *cfg, json_object *aud)
{
	const char *want = cfg->jwt_aud;
	size_t n;
	bool match = false;

	if (json_object_is_type(aud, json_type_string))
		return (want == NULL ||
			((size_t)json_object_get_string_len(aud) == strlen(want) &&
			 strcmp(json_object_get_string(aud), want) == 0))
		       ? NULL : "JWT not in audience";
	if (!json_object_is_type(aud, json_type_array))
		return "The JWT 'aud' claim must be a string or an array of strings";
	n = json_object_array_length(aud);
	for (size_t i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(aud, i);

		if (!json_object_is_type(e, json_type_string))
			return "The JWT 'aud' claim must be a string or an array of strings";
		if (want != NULL &&
		    (size_t)json_object_get_string_len(e) == strlen(want) &&
		    strcmp(json_object_get_string(e), want) == 0)
			match = true;
	}
	/* no jwt-aud, or an empty list, accepts any audience (PostgREST v13) */
	return (want == NULL || n == 0 || match) ? NULL : "JWT not in audience";
}

/* The first failing claim check in PostgREST's order, or NULL. */
static const char *check_claims(const struct config *cfg, json_object *claims,
				time_t now)
{
	json_object *v;
	double lo = (double)now - CLOCK_SKEW_SECONDS;
	double hi = (double)now + CLOCK_SKEW_SECONDS;

	if ((v = claim(claims, "exp")) != NULL) {
		if (!is_number(v))
			return "The JWT 'exp' claim must be a number";
		if (json_object_get_double(v) <= lo)
			return "JWT expired";
	}
	if ((v = claim(claims, "nbf")) != NULL) {
		if (!is_number(v))
			return "The JWT 'nbf' claim must be a number";
		if (json_object_get_double(v) > hi)
			return "JWT not yet valid";
	}
	if ((v = claim(claims, "iat")) != NULL) {
		if (!is_number(v))
			return "The JWT 'iat' claim must be a number";
		if (json_object_get_double(v) > hi)
			return "JWT issued at future";
	}
	if ((v = claim(claims, "aud")) != NULL)
		return check_aud(cfg, v);
	return NULL;
}

/* ------------------------------------------------------------------------
 * The role claim: jwt-role-claim-key, PostgREST's JSPath
 *
 *   path   = 1*step
 *   step   = "." key / "." DQUOTE *(not DQUOTE) DQUOTE / "[" 1*DIGIT "]"
 *          / "[?(@" *SP op *SP DQUOTE *(not DQUOTE) DQUOTE ")]"   (last only)
 *   key    = 1*(ALPHA / DIGIT / "_" / "$" / "@" / UTF-8 letters)
 *   op     = "==" / "!=" / "^==" (starts with) / "==^" (ends with) / "*==" (contains)
 *
 * The filter (v13) picks the first string element of an array that matches.
 */

enum role_lookup {
	ROLE_ABSENT,
	ROLE_FOUND,
	ROLE_BAD_PATH,
};

static bool key_char(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || c == '_' || c == '$' || c == '@' ||
	       c >= 0x80;
}

/* Does the string element e satisfy "<e> op <want>"? */
static bool filter_match(const char *op, json_object *e, const char *want, size_t wlen)
{
	const char *s;
	size_t n;

	if (!json_object_is_type(e, json_type_string))
		return false;
	s = json_object_get_string(e);
	n = (size_t)json_object_get_string_len(e);
	if (strcmp(op, "==") == 0)
		return n == wlen && memcmp(s, want, n) == 0;
	if (strcmp(op, "!=") == 0)
		return !(n == wlen && memcmp(s, want, n) == 0);
	if (strcmp(op, "^==") == 0)
		return n >= wlen && memcmp(s, want, wlen) == 0;
	if (strcmp(op, "==^") == 0)
		return n >= wlen && memcmp(s + n - wlen, want, wlen) == 0;
	/* "*==": contains */
	if (wlen == 0)
		return true;
	for (size_t i = 0; i + wlen <= n; i++)
		if (memcmp(s + i, want, wlen) == 0)
			return true;
	return false;
}

/* One filter step "[?(@ op "text")]" at *pp, applied to cur (an array or not). */
static enum role_lookup filter_step(const char **pp, json_object **cur)
{
	static const char *const ops[] = { "==^", "==", "!=", "^==", "*==" };
	const char *p = *pp + 4;        /* past "[?(@" */
	const char *op = NULL;
	const char *want, *q;
	size_t n;

	while (*p == ' ')
		p++;
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]) && op == NULL; i++)
		if (strncmp(p, ops[i], strlen(ops[i])) == 0)
			op = ops[i];
	if (op == NULL)
		return ROLE_BAD_PATH;
	p += strlen(op);
	while (*p == ' ')
		p++;
	if (*p != '"' || (q = strchr(p + 1, '"')) == NULL || strcmp(q + 1, ")]") != 0)
		return ROLE_BAD_PATH;
	want = p + 1;
	*pp = q + 3;
	if (*cur == NULL || !json_object_is_type(*cur, json_type_array)) {
		*cur = NULL;
		return ROLE_ABSENT;
	}
	n = json_object_array_length(*cur);
	for (size_t i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(*cur, i);

		if (filter_match(op, e, want, (size_t)(q - want))) {
			*cur = e;
			return ROLE_FOUND;
		}
	}
	*cur = NULL;
	return ROLE_ABSENT;
}

/* One ".key", ".\"key\"" or "[n]" step; moves *cur, NULL when not there. */
static enum role_lookup key_step(struct arena *a, const char **pp, json_object **cur)
{
	const char *p = *pp;
	const char *start, *stop;
	char *key;

	if (*p == '[') {
		unsigned long idx = 0;

		start = ++p;
		while (*p >= '0' && *p <= '9') {
			if (idx < 1000000000ul)
				idx = idx * 10 + (unsigned long)(*p - '0');
			p++;
		}
		if (p == start || *p != ']')
			return ROLE_BAD_PATH;
		*pp = p + 1;
		if (*cur != NULL && json_object_is_type(*cur, json_type_array) &&
		    idx < json_object_array_length(*cur))
			*cur = json_object_array_get_idx(*cur, idx);
		else
			*cur = NULL;
		return ROLE_FOUND;
	}
	if (*p != '.')
		return ROLE_BAD_PATH;
	p++;
	if (*p == '"') {
		start = p + 1;
		if ((stop = strchr(start, '"')) == NULL)
			return ROLE_BAD_PATH;
		p = stop + 1;
	} else {
		start = p;
		while (key_char((unsigned char)*p))
			p++;
		if (p == start)
			return ROLE_BAD_PATH;
		stop = p;
	}
	*pp = p;
	key = arena_strndup(a, start, (size_t)(stop - start));
	if (*cur == NULL || !json_object_is_type(*cur, json_type_object) ||
	    !json_object_object_get_ex(*cur, key, cur))
		*cur = NULL;
	return ROLE_FOUND;
}

/*
 * Walk path over claims.  On ROLE_FOUND *value is the value found (never
 * JSON null); ROLE_ABSENT when the path leads nowhere; ROLE_BAD_PATH when
 * the path itself can't be parsed (config.c should have refused it).
 */
static enum role_lookup walk_role_path(struct arena *a, const char *path,
				       json_object *claims, json_object **value)
{
	json_object *cur = claims;
	const char *p = path;

	if (*p == '\0')
		return ROLE_BAD_PATH;
	while (*p != '\0') {
		if (strncmp(p, "[?(@", 4) == 0) {
			if (filter_step(&p, &cur) == ROLE_BAD_PATH || *p != '\0')
				return ROLE_BAD_PATH;
		} else if (key_step(a, &p, &cur) == ROLE_BAD_PATH) {
			return ROLE_BAD_PATH;
		}
	}
	*value = cur;
	return cur == NULL ? ROLE_ABSENT : ROLE_FOUND;
}

/*
 * The role named by the token, as text: strings as they are, anything else
 * JSON-encoded (PostgREST's unquoted).  NULL when unusable ("" or a NUL).
 */
static const char *role_text(struct arena *a, json_object *v)
{
	const char *s;
	size_t n;

	if (!json_object_is_type(v, json_type_string))
		return arena_strdup(a, json_object_to_json_string_ext(v,
				JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	s = json_object_get_string(v);
	n = (size_t)json_object_get_string_len(v);
	if (n == 0 || strlen(s) != n)
		return NULL;
	return arena_strndup(a, s, n);
}

/* ------------------------------------------------------------------------
 * Putting it together
 */

/* Details for a token that is really several Authorization values joined. */
static const char *joined_details(const char *token, size_t len)
{
	if (memchr(token, ',', len) == NULL)
		return NULL;
	return "The Authorization header holds several values (duplicate headers "
	       "are joined with a comma); send exactly one \"Bearer <JWT>\"";
}

/* Decode and check the header part; the digest to verify with, or NULL (error set). */
static const EVP_MD *token_digest(struct arena *a, const struct token_parts *tp,
				  struct auth_result *out)
{
	const unsigned char *text;
	json_object *header;
	const EVP_MD *md;
	const char *details = NULL;
	size_t len;

	text = b64url_decode(a, tp->header, tp->header_len, &len);
	if (text == NULL) {
		invalid_token(out, a, "PGRST301", MSG_UNDECODABLE,
			      "The JWT header is not valid base64url");
		return NULL;
	}
	header = parse_json_object(text, len);
	if (header == NULL) {
		invalid_token(out, a, "PGRST301", MSG_UNDECODABLE,
			      "The JWT header is not a JSON object");
		return NULL;
	}
	md = header_digest(a, header, &details);
	/* RFC 7515 §4.1.11: extensions we don't know must make us refuse */
	if (md != NULL && json_object_object_get_ex(header, "crit", NULL)) {
		md = NULL;
		details = "The JWT header lists critical extensions (\"crit\"), which are not supported";
	}
	json_object_put(header);
	if (md == NULL)
		invalid_token(out, a, "PGRST301", MSG_BAD_ALG, details);
	return md;
}

/*
 * A Bearer token with jwt-secret set: verify it, check its claims and find
 * the role.  Fills out either way.
 */
static void verify_token(const struct config *cfg, const char *token, size_t len,
			 time_t now, struct arena *a, struct auth_result *out)
{
	struct token_parts tp;
	const EVP_MD *md;
	const unsigned char *payload;
	size_t payload_len;
	json_object *claims, *role_value = NULL;
	const char *msg, *role;
	const char *path = cfg->role_claim_key ? cfg->role_claim_key : ".role";
	int parts;

	if (len == 0) {
		invalid_token(out, a, "PGRST301",
			      "Empty JWT is sent in Authorization header", NULL);
		return;
	}
	parts = split_token(token, len, &tp);
	if (parts != 3) {
		invalid_token(out, a, "PGRST301",
			      arena_printf(a, "Expected 3 parts in JWT; got %d", parts),
			      joined_details(token, len));
		return;
	}
	if ((md = token_digest(a, &tp, out)) == NULL)
		return;
	if (!signature_ok(cfg, a, &tp, md)) {
		invalid_token(out, a, "PGRST301", MSG_BAD_SIGNATURE,
			      "None of the keys was able to decode the JWT");
		return;
	}

	/* signed by us: now the payload */
	payload = b64url_decode(a, tp.payload, tp.payload_len, &payload_len);
	if (payload == NULL) {
		invalid_token(out, a, "PGRST301", MSG_UNDECODABLE,
			      "The JWT payload is not valid base64url");
		return;
	}
	if ((claims = parse_json_object(payload, payload_len)) == NULL) {
		invalid_token(out, a, "PGRST303", MSG_BAD_CLAIMS,
			      "The JWT payload is not a JSON object");
		return;
	}
	if ((msg = check_claims(cfg, claims, now)) != NULL) {
		invalid_token(out, a, "PGRST303", msg, NULL);
		json_object_put(claims);
		return;
	}

	switch (walk_role_path(a, path, claims, &role_value)) {
	case ROLE_FOUND:
		if ((role = role_text(a, role_value)) == NULL) {
			invalid_token(out, a, "PGRST303", MSG_BAD_ROLE,
				      arena_printf(a, "The claim at jwt-role-claim-key \"%s\" "
						   "is empty or holds a NUL character", path));
			break;
		}
		out->status = 0;
		out->role = role;
		out->is_anon = 0;
		out->claims_json = (const char *)payload;
		break;
	case ROLE_ABSENT:
		run_as_anon(cfg, a, (const char *)payload, out);
		break;
	case ROLE_BAD_PATH:
		set_error(out, 500, "PGRSTX00", "Invalid jwt-role-claim-key",
			  arena_printf(a, "failed to parse role-claim-key value (%s)", path),
			  NULL);
		break;
	}
	json_object_put(claims);
}

void auth_request(const struct config *cfg, const char *authorization,
		  time_t now, struct arena *a, struct auth_result *out)
{
	bool have_secret = cfg->jwt_secret != NULL && cfg->jwt_secret_len > 0;
	const char *token = NULL;
	size_t len = 0;
	enum header_kind kind;

	memset(out, 0, sizeof(*out));
	kind = read_header(authorization, &token, &len);

	if (!have_secret) {
		if (kind == HEADER_BEARER)
			set_error(out, 500, "PGRST300", "Server lacks JWT secret", NULL, NULL);
		else
			run_as_anon(cfg, a, NULL, out);
		return;
	}

	switch (kind) {
	case HEADER_NONE:
		if (cfg->jwt_optional) {
			run_as_anon(cfg, a, NULL, out);
		} else {
			set_error(out, 401, "PGRST302", "JWT required",
				  "No Authorization: Bearer token was sent", "Bearer");
			out->hint = "Send an \"Authorization: Bearer <JWT>\" header";
		}
		break;
	case HEADER_OTHER:
		invalid_token(out, a, "PGRST301", "Authorization header is not a Bearer JWT",
			      "Only the Bearer scheme is accepted");
		out->hint = "Send an \"Authorization: Bearer <JWT>\" header";
		break;
	case HEADER_BEARER:
		verify_token(cfg, token, len, now, a, out);
		break;
	}
}

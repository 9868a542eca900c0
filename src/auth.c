/*
 * auth.c — who runs this request: the jwt-secret rules of DESIGN.md.
 *
 * input:  the configuration, the raw Authorization header, the clock
 * output: struct auth_result (role + claims JSON, or an error to answer with)
 * memory: every string in the result is allocated in the request arena;
 *         json-c objects are released before returning
 *
 * jwt-secret is read once, when the configuration is loaded
 * (auth_load_keys, called by config.c), into a key set: an HMAC secret, or
 * public keys given as PEM ("-----BEGIN PUBLIC KEY-----", also an X.509
 * certificate), as one JWK ({"kty":...}) or as a JWK Set ({"keys":[...]}).
 * Each key allows only the algorithms of its own type, chosen by us and
 * never by the token:
 *
 *   HMAC secret, JWK "oct"        HS256, HS384, HS512
 *   RSA (2048 bits or more)       RS256, RS384, RS512, PS256, PS384, PS512
 *   EC P-256 / P-384 / P-521      ES256 / ES384 / ES512 (one each)
 *   Ed25519 / Ed448 ("OKP")       EdDSA
 *
 * so "none" and key confusion (an HS256 token "signed" with the text of a
 * public key) can not be smuggled in: a key that looks like a key (PEM,
 * "kty") is never used as an HMAC secret, and a JWK's own "alg" narrows its
 * list further.  In a key set the token's "kid" picks the keys with that
 * kid (keys without a kid are tried too); without a kid every key of a
 * fitting type is tried (PostgREST v13).  HMAC signatures are checked with
 * OpenSSL's HMAC and a constant-time compare, the others with
 * EVP_DigestVerify (an ES signature, raw r||s in JWS, is turned into DER
 * first).  libjwt 1.10.2's jwt_decode() was checked and is
 * not used here: it refuses alg "none" when given a key (EINVAL) and an RS256
 * token with an HMAC key (EINVAL), but accepts "none" when the key is NULL,
 * reports every failure as the same errno (so no precise message), rejects
 * tokens whose "typ" is not "JWT" (PostgREST ignores typ) and parses the
 * payload with a second JSON parser.  The tests mint tokens with libjwt and
 * OpenSSL, which keeps an independent implementation on the other side.
 *
 * Tokens are also made here (auth_sign_token, "internal JWT generation"):
 * libjwt signs given claims with the HMAC key, HS256.
 *
 * Error codes and messages (PostgREST v13, src/PostgREST/Error.hs and
 * src/PostgREST/Auth/Jwt.hs; v12 put everything under PGRST301 with jose's
 * raw error texts, v13 split them and gave them readable messages):
 *
 *   500 PGRST300 "Server lacks JWT secret"        Bearer token, no jwt-secret
 *   500 PGRSTX00 "jwt-secret was not loaded"      pg_rest only: a struct config
 *                                                  built without config_load()
 *                                                  whose secret looks like a key
 *   401 PGRST301 token could not be decoded or verified:
 *       "Empty JWT is sent in Authorization header"
 *       "Expected 3 parts in JWT; got N"
 *       "JWT couldn't be decoded"                  bad base64url / header JSON
 *       "Wrong or unsupported encoding algorithm"  alg unknown, "none", or
 *                                                  not one a key of
 *                                                  jwt-secret allows
 *       "No suitable key or wrong key type", details "None of the keys was
 *           able to decode the JWT"               bad signature (what v13
 *                                                  answers for a wrong secret),
 *           or details naming the "kid" no key of the set has
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

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>
#include <jwt.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

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
 * Algorithms and keys
 */

enum alg_family {
	FAM_HMAC,
	FAM_RSA,        /* RSASSA-PKCS1-v1_5 */
	FAM_PSS,        /* RSASSA-PSS, salt as long as the digest, MGF1 with it */
	FAM_EC,         /* ECDSA; JWS spells the signature as raw r||s */
	FAM_EDDSA,      /* Ed25519 / Ed448, which hash by themselves */
};

struct jws_alg {
	const char *name;
	enum alg_family family;
	int bits;               /* digest bits; 0 for EdDSA */
	jwt_alg_t libjwt;       /* for signing (HMAC only) */
};

/* RFC 7518 §3.1 and RFC 8037: every algorithm a key may ever allow */
static const struct jws_alg jws_algs[] = {
	{ "HS256", FAM_HMAC, 256, JWT_ALG_HS256 },
	{ "HS384", FAM_HMAC, 384, JWT_ALG_HS384 },
	{ "HS512", FAM_HMAC, 512, JWT_ALG_HS512 },
	{ "RS256", FAM_RSA, 256, JWT_ALG_INVAL },
	{ "RS384", FAM_RSA, 384, JWT_ALG_INVAL },
	{ "RS512", FAM_RSA, 512, JWT_ALG_INVAL },
	{ "PS256", FAM_PSS, 256, JWT_ALG_INVAL },
	{ "PS384", FAM_PSS, 384, JWT_ALG_INVAL },
	{ "PS512", FAM_PSS, 512, JWT_ALG_INVAL },
	{ "ES256", FAM_EC, 256, JWT_ALG_INVAL },
	{ "ES384", FAM_EC, 384, JWT_ALG_INVAL },
	{ "ES512", FAM_EC, 512, JWT_ALG_INVAL },
	{ "EdDSA", FAM_EDDSA, 0, JWT_ALG_INVAL },
};

#define N_ALGS (sizeof(jws_algs) / sizeof(jws_algs[0]))

/* The algorithm called name (case-sensitive, as RFC 7515 says), or NULL. */
static const struct jws_alg *find_alg(const char *name)
{
	for (size_t i = 0; i < N_ALGS; i++)
		if (strcmp(jws_algs[i].name, name) == 0)
			return &jws_algs[i];
	return NULL;
}

static const EVP_MD *alg_digest(const struct jws_alg *alg)
{
	switch (alg->bits) {
	case 256:
		return EVP_sha256();
	case 384:
		return EVP_sha384();
	case 512:
		return EVP_sha512();
	default:
		return NULL;
	}
}

enum key_type {
	KEY_HMAC,
	KEY_RSA,
	KEY_EC,
	KEY_OKP,
};

struct auth_key {
	enum key_type type;
	char *kid;                      /* NULL = none */
	size_t kid_len;
	const struct jws_alg *only;     /* a JWK's "alg": the one algorithm allowed */
	unsigned char *secret;          /* KEY_HMAC */
	size_t secret_len;
	EVP_PKEY *pkey;                 /* the others */
	int curve_bits;                 /* KEY_EC: 256, 384 or 521 */
};

struct token_cache;

struct auth_keys {
	struct auth_key *keys;
	int n;
	struct token_cache *cache;      /* verified tokens (jwt-cache-max-lifetime), lazily */
};

/* May key k verify (or make) a signature with alg? */
static bool key_allows(const struct auth_key *k, const struct jws_alg *alg)
{
	bool fits = false;

	switch (k->type) {
	case KEY_HMAC:
		fits = alg->family == FAM_HMAC;
		break;
	case KEY_RSA:
		fits = alg->family == FAM_RSA || alg->family == FAM_PSS;
		break;
	case KEY_EC:
		/* ES512 is P-521 with SHA-512 */
		fits = alg->family == FAM_EC &&
		       alg->bits == (k->curve_bits == 521 ? 512 : k->curve_bits);
		break;
	case KEY_OKP:
		fits = alg->family == FAM_EDDSA;
		break;
	}
	return fits && (k->only == NULL || k->only == alg);
}

/* "an HMAC key", "an EC P-256 public key", ... for messages */
static const char *key_text(struct arena *a, const struct auth_key *k)
{
	switch (k->type) {
	case KEY_HMAC:
		return "an HMAC key";
	case KEY_RSA:
		return "an RSA public key";
	case KEY_EC:
		return arena_printf(a, "an EC P-%d public key", k->curve_bits);
	case KEY_OKP:
		return EVP_PKEY_get_base_id(k->pkey) == EVP_PKEY_ED448
		       ? "an Ed448 public key" : "an Ed25519 public key";
	}
	return "a key";
}

/* "HS256, HS384 or HS512": what the keys of ks allow, in jws_algs order. */
static const char *allowed_algs(struct arena *a, const struct auth_keys *ks)
{
	const char *names[N_ALGS];
	size_t n = 0;
	struct sbuf b;

	for (size_t i = 0; i < N_ALGS; i++)
		for (int k = 0; k < ks->n; k++)
			if (key_allows(&ks->keys[k], &jws_algs[i])) {
				names[n++] = jws_algs[i].name;
				break;
			}
	sbuf_init(&b, a, 64);
	for (size_t i = 0; i < n; i++)
		sbuf_printf(&b, "%s%s", i == 0 ? "" : i + 1 == n ? " or " : ", ", names[i]);
	return b.data;
}

/* Is needle in the n bytes at s?  (The secret may hold NUL bytes.) */
static bool contains(const unsigned char *s, size_t n, const char *needle)
{
	size_t m = strlen(needle);

	for (size_t i = 0; i + m <= n; i++)
		if (memcmp(s + i, needle, m) == 0)
			return true;
	return false;
}

/*
 * Does the secret look like a public key?  Such a text is public, so it
 * must never serve as an HMAC secret: anyone could sign with it.
 */
static bool looks_like_key(const unsigned char *s, size_t n)
{
	return contains(s, n, "-----BEGIN") || contains(s, n, "\"kty\"");
}

/* ------------------------------------------------------------------------
 * Loading jwt-secret into keys (once, from config.c)
 */

struct key_loader {
	struct auth_keys *ks;
	struct arena tmp;       /* decoded JWK members, freed at the end */
	char *err;
	size_t errlen;
};

static int load_fail(struct key_loader *kl, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int load_fail(struct key_loader *kl, const char *fmt, ...)
{
	va_list ap;

	if (kl->err != NULL && kl->errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(kl->err, kl->errlen, fmt, ap);
		va_end(ap);
	}
	ERR_clear_error();
	return -1;
}

/* As config.c does: running out of memory at start-up is fatal. */
static void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (p == NULL) {
		fprintf(stderr, "pg_rest: out of memory (allocating %zu bytes)\n", n);
		abort();
	}
	return p;
}

static void *xmemdup(const void *s, size_t n)
{
	unsigned char *p = xrealloc(NULL, n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

/* A new zeroed key at the end of the set; valid until the next call. */
static struct auth_key *new_key(struct key_loader *kl)
{
	struct auth_keys *ks = kl->ks;
	struct auth_key *k;

	ks->keys = xrealloc(ks->keys, sizeof(*ks->keys) * (size_t)(ks->n + 1));
	k = &ks->keys[ks->n++];
	memset(k, 0, sizeof(*k));
	return k;
}

static void add_hmac(struct key_loader *kl, const unsigned char *secret, size_t len,
		     const char *kid, size_t kid_len, const struct jws_alg *only)
{
	struct auth_key *k = new_key(kl);

	k->type = KEY_HMAC;
	k->secret = xmemdup(secret, len);
	k->secret_len = len;
	k->kid = kid ? xmemdup(kid, kid_len) : NULL;
	k->kid_len = kid_len;
	k->only = only;
}

/* The curve of an EC key in bits (256, 384, 521), 0 if not a JOSE curve. */
static int curve_bits(EVP_PKEY *pkey)
{
	char name[64];
	size_t len = 0;

	if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME,
					   name, sizeof(name), &len) != 1)
		return 0;
	if (strcmp(name, "prime256v1") == 0 || strcmp(name, "P-256") == 0)
		return 256;
	if (strcmp(name, "secp384r1") == 0 || strcmp(name, "P-384") == 0)
		return 384;
	if (strcmp(name, "secp521r1") == 0 || strcmp(name, "P-521") == 0)
		return 521;
	return 0;
}

/*
 * Add a public key (taking pkey over, freeing it on failure).  where
 * names it in messages ("PEM block 1", "JWK 2").
 */
static int add_pkey(struct key_loader *kl, EVP_PKEY *pkey, const char *where,
		    const char *kid, size_t kid_len, const struct jws_alg *only)
{
	struct auth_key key = { .pkey = pkey, .only = NULL };
	EVP_PKEY_CTX *check;
	bool good;

	switch (EVP_PKEY_get_base_id(pkey)) {
	case EVP_PKEY_RSA:
		key.type = KEY_RSA;
		if (EVP_PKEY_get_bits(pkey) < 2048) {
			load_fail(kl, "%s: an RSA key of %d bits is too short (RFC 7518 asks "
				  "for 2048 bits or more)", where, EVP_PKEY_get_bits(pkey));
			goto fail;
		}
		break;
	case EVP_PKEY_EC:
		key.type = KEY_EC;
		if ((key.curve_bits = curve_bits(pkey)) == 0) {
			load_fail(kl, "%s: the EC key's curve is not one JWT uses "
				  "(P-256, P-384 or P-521)", where);
			goto fail;
		}
		break;
	case EVP_PKEY_ED25519:
	case EVP_PKEY_ED448:
		key.type = KEY_OKP;
		break;
	default:
		load_fail(kl, "%s: key type \"%s\" is not supported (use RSA, EC or Ed25519)",
			  where, EVP_PKEY_get0_type_name(pkey) ? EVP_PKEY_get0_type_name(pkey) : "?");
		goto fail;
	}
	if (only != NULL && !key_allows(&key, only)) {
		load_fail(kl, "%s: \"alg\" %s does not fit %s", where, only->name,
			  key_text(&kl->tmp, &key));
		goto fail;
	}
	/* a point that is not on its curve would make ECDSA unsafe */
	check = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
	good = check != NULL && (key.type != KEY_EC || EVP_PKEY_public_check(check) == 1);
	EVP_PKEY_CTX_free(check);
	if (!good) {
		load_fail(kl, "%s: the public key is not valid", where);
		goto fail;
	}

	key.only = only;
	key.kid = kid ? xmemdup(kid, kid_len) : NULL;
	key.kid_len = kid_len;
	*new_key(kl) = key;
	ERR_clear_error();
	return 0;
fail:
	EVP_PKEY_free(pkey);
	return -1;
}

/* One PEM block: a public key, a PKCS#1 RSA public key or a certificate. */
static int load_pem_block(struct key_loader *kl, int nth, const char *name,
			  const unsigned char *data, long len)
{
	const char *where = arena_printf(&kl->tmp, "PEM block %d (%s)", nth, name);
	const unsigned char *p = data;
	EVP_PKEY *pkey = NULL;

	if (strcmp(name, "PUBLIC KEY") == 0) {
		pkey = d2i_PUBKEY(NULL, &p, len);
	} else if (strcmp(name, "RSA PUBLIC KEY") == 0) {
		pkey = d2i_PublicKey(EVP_PKEY_RSA, NULL, &p, len);
	} else if (strcmp(name, "CERTIFICATE") == 0) {
		X509 *x = d2i_X509(NULL, &p, len);

		if (x != NULL) {
			pkey = X509_get_pubkey(x);
			X509_free(x);
		}
	} else if (strstr(name, "PRIVATE KEY") != NULL) {
		return load_fail(kl, "%s: a private key; give jwt-secret the public key "
				 "only (openssl pkey -pubout)", where);
	} else {
		return load_fail(kl, "%s: not a public key (expected \"-----BEGIN PUBLIC "
				 "KEY-----\")", where);
	}
	if (pkey == NULL || p != data + len) {
		EVP_PKEY_free(pkey);
		return load_fail(kl, "%s: can't be decoded", where);
	}
	return add_pkey(kl, pkey, where, NULL, 0, NULL);
}

/* Every PEM block of the text (several make a key set). */
static int load_pem(struct key_loader *kl, const unsigned char *text, size_t len)
{
	BIO *bio;
	int blocks = 0, rc = 0;

	if (len > INT32_MAX)
		return load_fail(kl, "the PEM text is too long");
	bio = BIO_new_mem_buf(text, (int)len);
	if (bio == NULL)
		return load_fail(kl, "out of memory reading the PEM text");
	for (;;) {
		char *name = NULL, *header = NULL;
		unsigned char *data = NULL;
		long dlen = 0;

		if (PEM_read_bio(bio, &name, &header, &data, &dlen) != 1) {
			unsigned long e = ERR_peek_last_error();

			if (blocks == 0 || ERR_GET_REASON(e) != PEM_R_NO_START_LINE)
				rc = load_fail(kl, "PEM block %d can't be read (a \"-----BEGIN "
					       "...-----\" line, base64, and its \"-----END "
					       "...-----\" line)", blocks + 1);
			ERR_clear_error();
			break;
		}
		rc = load_pem_block(kl, ++blocks, name, data, dlen);
		OPENSSL_free(name);
		OPENSSL_free(header);
		OPENSSL_free(data);
		if (rc < 0)
			break;
	}
	BIO_free(bio);
	return rc;
}

/* A string member of a JWK, NULL if absent; *bad when present but no string. */
static const char *jwk_string(json_object *jwk, const char *name, size_t *len, bool *bad)
{
	json_object *v;

	if (!json_object_object_get_ex(jwk, name, &v) || v == NULL)
		return NULL;
	if (!json_object_is_type(v, json_type_string)) {
		*bad = true;
		return NULL;
	}
	if (len != NULL)
		*len = (size_t)json_object_get_string_len(v);
	return json_object_get_string(v);
}

/* A base64url member of a JWK as bytes (padding tolerated), or NULL. */
static unsigned char *jwk_bytes(struct key_loader *kl, json_object *jwk,
				const char *name, size_t *out_len)
{
	bool bad = false;
	size_t n = 0;
	const char *s = jwk_string(jwk, name, &n, &bad);
	unsigned char *bytes;

	if (s == NULL)
		return NULL;
	while (n > 0 && s[n - 1] == '=')
		n--;
	bytes = b64url_decode(&kl->tmp, s, n, out_len);
	return (bytes != NULL && *out_len > 0) ? bytes : NULL;
}

/* A public key from OpenSSL 3 parameters; NULL if OpenSSL refuses them. */
static EVP_PKEY *pkey_from_params(const char *type, OSSL_PARAM_BLD *bld)
{
	OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
	EVP_PKEY *pkey = NULL;

	if (params == NULL || ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
		pkey = NULL;
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	return pkey;
}

static EVP_PKEY *rsa_from_jwk(struct key_loader *kl, json_object *jwk)
{
	size_t n_len = 0, e_len = 0;
	unsigned char *n = jwk_bytes(kl, jwk, "n", &n_len);
	unsigned char *e = jwk_bytes(kl, jwk, "e", &e_len);
	OSSL_PARAM_BLD *bld;
	BIGNUM *bn_n, *bn_e;
	EVP_PKEY *pkey = NULL;

	if (n == NULL || e == NULL || n_len > 2048 || e_len > 64)
		return NULL;
	bld = OSSL_PARAM_BLD_new();
	bn_n = BN_bin2bn(n, (int)n_len, NULL);
	bn_e = BN_bin2bn(e, (int)e_len, NULL);
	if (bld != NULL && bn_n != NULL && bn_e != NULL &&
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n) == 1 &&
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e) == 1)
		pkey = pkey_from_params("RSA", bld);
	BN_free(bn_n);
	BN_free(bn_e);
	OSSL_PARAM_BLD_free(bld);
	return pkey;
}

/* crv P-256/P-384/P-521 with x and y: the point 04 || X || Y. */
static EVP_PKEY *ec_from_jwk(struct key_loader *kl, json_object *jwk, const char *crv)
{
	static const struct {
		const char *crv, *group;
		size_t size;
	} curves[] = {
		{ "P-256", "prime256v1", 32 },
		{ "P-384", "secp384r1", 48 },
		{ "P-521", "secp521r1", 66 },
	};
	size_t x_len = 0, y_len = 0, size = 0;
	const char *group = NULL;
	unsigned char *x, *y, *point;
	OSSL_PARAM_BLD *bld;
	EVP_PKEY *pkey = NULL;

	for (size_t i = 0; i < sizeof(curves) / sizeof(curves[0]); i++)
		if (strcmp(crv, curves[i].crv) == 0) {
			group = curves[i].group;
			size = curves[i].size;
		}
	x = jwk_bytes(kl, jwk, "x", &x_len);
	y = jwk_bytes(kl, jwk, "y", &y_len);
	if (group == NULL || x == NULL || y == NULL || x_len > size || y_len > size)
		return NULL;
	/* RFC 7518 wants full-length coordinates; a short one is left-padded */
	point = arena_zalloc(&kl->tmp, 1 + 2 * size);
	point[0] = 0x04;
	memcpy(point + 1 + size - x_len, x, x_len);
	memcpy(point + 1 + 2 * size - y_len, y, y_len);
	bld = OSSL_PARAM_BLD_new();
	if (bld != NULL &&
	    OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, group, 0) == 1 &&
	    OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, 1 + 2 * size) == 1)
		pkey = pkey_from_params("EC", bld);
	OSSL_PARAM_BLD_free(bld);
	return pkey;
}

static EVP_PKEY *okp_from_jwk(struct key_loader *kl, json_object *jwk, const char *crv)
{
	size_t x_len = 0;
	unsigned char *x = jwk_bytes(kl, jwk, "x", &x_len);

	if (x == NULL)
		return NULL;
	if (strcmp(crv, "Ed25519") == 0)
		return EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, x, x_len);
	if (strcmp(crv, "Ed448") == 0)
		return EVP_PKEY_new_raw_public_key(EVP_PKEY_ED448, NULL, x, x_len);
	return NULL;
}

/*
 * One JWK (RFC 7517).  Keys meant for encryption ("use": "enc") are
 * skipped; so, in a set, are key types this code does not know (RFC 7517
 * §5 says to ignore them), while a lone JWK of such a type is an error.
 */
static int load_jwk(struct key_loader *kl, json_object *jwk, const char *where, bool in_set)
{
	bool bad = false;
	size_t kid_len = 0, len = 0;
	const char *kty = jwk_string(jwk, "kty", NULL, &bad);
	const char *use = jwk_string(jwk, "use", NULL, &bad);
	const char *alg_name = jwk_string(jwk, "alg", NULL, &bad);
	const char *kid = jwk_string(jwk, "kid", &kid_len, &bad);
	const char *crv = jwk_string(jwk, "crv", NULL, &bad);
	const struct jws_alg *alg = NULL;
	unsigned char *bytes;
	EVP_PKEY *pkey;

	if (bad)
		return load_fail(kl, "%s: \"kty\", \"use\", \"alg\", \"kid\" and \"crv\" must "
				 "be strings", where);
	if (kty == NULL)
		return load_fail(kl, "%s: no \"kty\"", where);
	if (kid != NULL)
		where = arena_printf(&kl->tmp, "%s (kid \"%s\")", where, kid);
	if (use != NULL && strcmp(use, "sig") != 0)
		return 0;
	if (alg_name != NULL && (alg = find_alg(alg_name)) == NULL)
		return load_fail(kl, "%s: \"alg\" \"%s\" is not supported", where, alg_name);

	if (strcmp(kty, "oct") == 0) {
		if ((bytes = jwk_bytes(kl, jwk, "k", &len)) == NULL)
			return load_fail(kl, "%s: an \"oct\" key needs \"k\", the secret in "
					 "base64url", where);
		if (alg != NULL && alg->family != FAM_HMAC)
			return load_fail(kl, "%s: \"alg\" %s does not fit an HMAC key",
					 where, alg->name);
		add_hmac(kl, bytes, len, kid, kid_len, alg);
		return 0;
	}
	if (strcmp(kty, "RSA") != 0 && strcmp(kty, "EC") != 0 && strcmp(kty, "OKP") != 0) {
		if (in_set)
			return 0;
		return load_fail(kl, "%s: \"kty\" \"%s\" is not supported (use RSA, EC, "
				 "OKP or oct)", where, kty);
	}
	if (json_object_object_get_ex(jwk, "d", NULL))
		return load_fail(kl, "%s: a private key (it has \"d\"); give jwt-secret the "
				 "public key only", where);
	if (strcmp(kty, "RSA") == 0) {
		pkey = rsa_from_jwk(kl, jwk);
		if (pkey == NULL)
			return load_fail(kl, "%s: an RSA key needs \"n\" and \"e\" in base64url",
					 where);
	} else {
		if (crv == NULL)
			return load_fail(kl, "%s: no \"crv\"", where);
		pkey = strcmp(kty, "EC") == 0 ? ec_from_jwk(kl, jwk, crv)
					      : okp_from_jwk(kl, jwk, crv);
		if (pkey == NULL)
			return load_fail(kl, "%s: not a valid %s key (\"crv\" %s of %s, with "
					 "\"x\"%s in base64url)", where, kty, crv,
					 strcmp(kty, "EC") == 0 ? "P-256, P-384, P-521"
								: "Ed25519, Ed448",
					 strcmp(kty, "EC") == 0 ? " and \"y\"" : "");
	}
	return add_pkey(kl, pkey, where, kid, kid_len, alg);
}

/* A JWK or a JWK Set ({"keys": [...]}). */
static int load_jwk_text(struct key_loader *kl, json_object *obj)
{
	json_object *list;
	size_t n;

	if (!json_object_object_get_ex(obj, "keys", &list))
		return load_jwk(kl, obj, "the JWK", false);
	if (list == NULL || !json_object_is_type(list, json_type_array))
		return load_fail(kl, "the JWK Set's \"keys\" is not an array");
	n = json_object_array_length(list);
	for (size_t i = 0; i < n; i++) {
		json_object *jwk = json_object_array_get_idx(list, i);
		const char *where = arena_printf(&kl->tmp, "JWK %zu", i + 1);

		if (jwk == NULL || !json_object_is_type(jwk, json_type_object))
			return load_fail(kl, "%s: not a JSON object", where);
		if (load_jwk(kl, jwk, where, true) < 0)
			return -1;
	}
	return 0;
}

static void token_cache_free(struct token_cache *c);

void auth_keys_free(struct auth_keys *ks)
{
	if (ks == NULL)
		return;
	for (int i = 0; i < ks->n; i++) {
		struct auth_key *k = &ks->keys[i];

		if (k->secret != NULL)
			OPENSSL_cleanse(k->secret, k->secret_len);
		free(k->secret);
		free(k->kid);
		EVP_PKEY_free(k->pkey);
	}
	free(ks->keys);
	token_cache_free(ks->cache);
	free(ks);
}

int auth_load_keys(struct config *cfg, char *err, size_t errlen)
{
	const unsigned char *text = cfg->jwt_secret;
	size_t len = cfg->jwt_secret_len;
	struct key_loader kl = { .err = err, .errlen = errlen };
	json_object *obj = NULL;
	int rc = 0;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	auth_keys_free(cfg->jwt_keys);
	cfg->jwt_keys = NULL;
	if (text == NULL || len == 0)
		return 0;

	kl.ks = xrealloc(NULL, sizeof(*kl.ks));
	memset(kl.ks, 0, sizeof(*kl.ks));
	arena_init(&kl.tmp);
	if (contains(text, len, "-----BEGIN")) {
		rc = load_pem(&kl, text, len);
	} else if ((obj = parse_json_object(text, len)) != NULL &&
		   (json_object_object_get_ex(obj, "keys", NULL) ||
		    json_object_object_get_ex(obj, "kty", NULL))) {
		rc = load_jwk_text(&kl, obj);
		if (rc == 0 && kl.ks->n == 0)
			rc = load_fail(&kl, "the JWK Set holds no key for signatures that pg_rest "
				       "can use");
	} else if (looks_like_key(text, len)) {
		rc = load_fail(&kl, "looks like a JWK (it has \"kty\") but is not a JSON object");
	} else {
		/* the common case: an HMAC secret, as it is */
		add_hmac(&kl, text, len, NULL, 0, NULL);
	}
	json_object_put(obj);
	arena_destroy(&kl.tmp);
	if (rc < 0) {
		auth_keys_free(kl.ks);
		return -1;
	}
	cfg->jwt_keys = kl.ks;
	return 0;
}

/* ------------------------------------------------------------------------
 * The token: structure, header, signature
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

/* What the header says: the algorithm and the key id. */
struct token_header {
	const struct jws_alg *alg;
	const char *alg_name;
	const char *kid;        /* NULL = none */
	size_t kid_len;
};

/*
 * The header's alg, or NULL with *details saying why.  Only names from our
 * own list are known; whether a key allows it is decided later.
 */
static const struct jws_alg *header_alg(struct arena *a, json_object *header,
					const char **name, const char **details)
{
	json_object *alg;
	const struct jws_alg *found;

	if (!json_object_object_get_ex(header, "alg", &alg) ||
	    !json_object_is_type(alg, json_type_string)) {
		*details = "The JWT header has no \"alg\" string";
		return NULL;
	}
	*name = json_object_get_string(alg);
	if ((size_t)json_object_get_string_len(alg) != strlen(*name))
		*name = "(name with a NUL character)";
	if ((found = find_alg(*name)) != NULL)
		return found;
	if (strcasecmp(*name, "none") == 0)
		*details = "Unsigned JWTs (alg \"none\") are never accepted";
	else
		*details = arena_printf(a, "The JWT algorithm \"%s\" is not supported", *name);
	return NULL;
}

/* Does sig hold HMAC(secret, input)? */
static bool hmac_ok(const struct auth_key *k, const EVP_MD *md,
		    const unsigned char *in, size_t in_len,
		    const unsigned char *sig, size_t sig_len)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int mac_len = 0;

	if (k->secret_len > INT32_MAX ||
	    HMAC(md, k->secret, (int)k->secret_len, in, in_len, mac, &mac_len) == NULL)
		return false;
	return sig_len == mac_len && CRYPTO_memcmp(sig, mac, mac_len) == 0;
}

/*
 * JWS's ECDSA signature, r and s as fixed-size big-endian numbers (RFC 7518
 * §3.4), as the DER ECDSA-Sig-Value OpenSSL verifies.  NULL if its length
 * is not twice the curve's size.
 */
static unsigned char *ecdsa_der(struct arena *a, const unsigned char *sig, size_t sig_len,
				int bits, size_t *der_len)
{
	size_t half = ((size_t)bits + 7) / 8;
	ECDSA_SIG *es;
	BIGNUM *r, *s;
	unsigned char *der = NULL, *p;
	int n;

	if (sig_len != 2 * half)
		return NULL;
	es = ECDSA_SIG_new();
	r = BN_bin2bn(sig, (int)half, NULL);
	s = BN_bin2bn(sig + half, (int)half, NULL);
	if (es == NULL || r == NULL || s == NULL) {
		ECDSA_SIG_free(es);
		BN_free(r);
		BN_free(s);
		return NULL;
	}
	ECDSA_SIG_set0(es, r, s);       /* es owns r and s now */
	n = i2d_ECDSA_SIG(es, NULL);
	if (n > 0) {
		der = p = arena_alloc(a, (size_t)n);
		if (i2d_ECDSA_SIG(es, &p) != n)
			der = NULL;
		*der_len = (size_t)n;
	}
	ECDSA_SIG_free(es);
	return der;
}

/* Does sig verify input with the public key k under alg? */
static bool pkey_ok(struct arena *a, const struct auth_key *k, const struct jws_alg *alg,
		    const unsigned char *in, size_t in_len,
		    const unsigned char *sig, size_t sig_len)
{
	const EVP_MD *md = alg_digest(alg);     /* NULL for EdDSA */
	EVP_MD_CTX *ctx;
	EVP_PKEY_CTX *pctx = NULL;
	bool good = false;

	if (alg->family == FAM_EC &&
	    (sig = ecdsa_der(a, sig, sig_len, k->curve_bits, &sig_len)) == NULL)
		return false;
	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return false;
	if (EVP_DigestVerifyInit(ctx, &pctx, md, NULL, k->pkey) == 1 &&
	    (alg->family != FAM_PSS ||
	     (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) > 0 &&
	      EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) > 0 &&
	      EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, md) > 0)))
		good = EVP_DigestVerify(ctx, sig, sig_len, in, in_len) == 1;
	EVP_MD_CTX_free(ctx);
	ERR_clear_error();
	return good;
}

/*
 * Verify the signature with the keys that allow the token's alg and kid.
 * Returns true when one of them does; else fills out (401) and returns
 * false.
 */
static bool signature_ok(const struct auth_keys *ks, struct arena *a,
			 const struct token_parts *tp, const struct token_header *th,
			 struct auth_result *out)
{
	const unsigned char *in = (const unsigned char *)tp->header;
	size_t in_len = tp->header_len + 1 + tp->payload_len;
	unsigned char *sig;
	size_t sig_len = 0;
	int fitting = 0, tried = 0;

	sig = b64url_decode(a, tp->signature, tp->signature_len, &sig_len);
	for (int i = 0; i < ks->n; i++) {
		const struct auth_key *k = &ks->keys[i];

		if (!key_allows(k, th->alg))
			continue;
		fitting++;
		/* a kid picks its keys; keys without a kid have no name to mismatch */
		if (th->kid != NULL && k->kid != NULL &&
		    (th->kid_len != k->kid_len || memcmp(th->kid, k->kid, k->kid_len) != 0))
			continue;
		tried++;
		if (sig == NULL)
			continue;
		if (k->type == KEY_HMAC ? hmac_ok(k, alg_digest(th->alg), in, in_len, sig, sig_len)
					: pkey_ok(a, k, th->alg, in, in_len, sig, sig_len))
			return true;
	}
	if (fitting == 0)
		invalid_token(out, a, "PGRST301", MSG_BAD_ALG, ks->n == 1
			      ? arena_printf(a, "The JWT algorithm \"%s\" can't be verified with "
					     "jwt-secret, which is %s: use %s", th->alg->name,
					     key_text(a, &ks->keys[0]), allowed_algs(a, ks))
			      : arena_printf(a, "The JWT algorithm \"%s\" can't be verified with "
					     "any key of jwt-secret: use %s", th->alg->name,
					     allowed_algs(a, ks)));
	else if (tried == 0)
		invalid_token(out, a, "PGRST301", MSG_BAD_SIGNATURE,
			      arena_printf(a, "No key of jwt-secret has the JWT's kid \"%s\"",
					   th->kid_len == strlen(th->kid) ? th->kid
					   : "(a kid with a NUL character)"));
	else
		invalid_token(out, a, "PGRST301", MSG_BAD_SIGNATURE,
			      "None of the keys was able to decode the JWT");
	return false;
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
 * Verified tokens: jwt-cache-max-lifetime, jwt-cache-max-entries
 *
 * Verifying an HS256 token costs about as many instructions as the rest of
 * a simple GET together (an OpenSSL HMAC, base64url, two JSON parses;
 * bench/README), and a client sends the same token with every request.  So
 * a worker remembers what a token it verified came to: the role, the claims
 * text, whether that is the anonymous role.  An entry answers while
 *     made <= now < min(made + jwt-cache-max-lifetime, exp + clock skew),
 * which is exactly while verifying again would answer the same: exp is the
 * only check a later clock can fail (nbf and iat only get truer), and a
 * clock that went back verifies again.  Only successes are kept.  The
 * entries hang off the keys of one configuration load (struct auth_keys),
 * so a reload or a switch to another configuration starts empty: the
 * secret, jwt-aud, jwt-role-claim-key and db-anon-role they depend on come
 * with the same load.  Tokens longer than TOKEN_CACHE_MAX_LEN are verified
 * every time, which bounds the memory to about jwt-cache-max-entries times
 * 7 KiB; a full table first drops its expired entries, and if there were
 * none, all of them.
 */

#define TOKEN_CACHE_MAX_LEN 4096
#define TOKEN_CACHE_MAX_ENTRIES 100000  /* jwt-cache-max-entries above this counts as this */

struct cached_token {
	char *token;                    /* malloc'd; NULL = empty slot */
	size_t len;
	unsigned long hash;
	char *role;
	char *claims_json;
	int is_anon;
	time_t made;                    /* when it was verified */
	double until;                   /* answers while now < until */
};

struct token_cache {
	struct cached_token *slots;
	size_t n_slots;                 /* a power of two, at least twice max */
	size_t used, max;
	unsigned long hits;
};

static unsigned long token_hash(const char *s, size_t n)
{
	uint64_t h = 0x9e3779b97f4a7c15u ^ n, w;

	for (; n >= 8; s += 8, n -= 8) {
		memcpy(&w, s, 8);
		h = (h ^ w) * 0xff51afd7ed558ccdu;
		h ^= h >> 32;
	}
	w = 0;
	memcpy(&w, s, n);
	h = (h ^ w) * 0xc4ceb9fe1a85ec53u;
	return (unsigned long)(h ^ (h >> 29));
}

static void cached_token_clear(struct cached_token *e)
{
	free(e->token);
	free(e->role);
	free(e->claims_json);
	memset(e, 0, sizeof(*e));
}

static struct token_cache *token_cache_new(size_t max)
{
	struct token_cache *c = xrealloc(NULL, sizeof(*c));

	memset(c, 0, sizeof(*c));
	c->max = max;
	for (c->n_slots = 16; c->n_slots < 2 * max; c->n_slots *= 2)
		;
	c->slots = xrealloc(NULL, sizeof(*c->slots) * c->n_slots);
	memset(c->slots, 0, sizeof(*c->slots) * c->n_slots);
	return c;
}

static void token_cache_free(struct token_cache *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->n_slots; i++)
		cached_token_clear(&c->slots[i]);
	free(c->slots);
	free(c);
}

/* The slot holding the token, or the empty slot where it would go. */
static struct cached_token *token_slot(struct token_cache *c, const char *token,
				       size_t len, unsigned long hash)
{
	size_t i = hash & (c->n_slots - 1);

	for (;;) {
		struct cached_token *e = &c->slots[i];

		if (e->token == NULL ||
		    (e->hash == hash && e->len == len && memcmp(e->token, token, len) == 0))
			return e;
		i = (i + 1) & (c->n_slots - 1);
	}
}

static bool cached_token_live(const struct cached_token *e, time_t now)
{
	return now >= e->made && (double)now < e->until;
}

/* A full table: keep the live entries, or none when all are live. */
static void token_cache_purge(struct token_cache *c, time_t now)
{
	struct cached_token *old = c->slots;
	size_t live = 0;

	for (size_t i = 0; i < c->n_slots; i++)
		if (old[i].token != NULL && cached_token_live(&old[i], now))
			live++;
	c->slots = xrealloc(NULL, sizeof(*c->slots) * c->n_slots);
	memset(c->slots, 0, sizeof(*c->slots) * c->n_slots);
	c->used = 0;
	for (size_t i = 0; i < c->n_slots; i++) {
		if (old[i].token != NULL && live < c->max && cached_token_live(&old[i], now)) {
			*token_slot(c, old[i].token, old[i].len, old[i].hash) = old[i];
			c->used++;
		} else {
			cached_token_clear(&old[i]);
		}
	}
	free(old);
}

/* The keys' cache when this configuration keeps verified tokens, else NULL. */
static struct token_cache *token_cache_for(const struct config *cfg,
					   const struct auth_keys *ks, size_t len)
{
	struct auth_keys *own = cfg->jwt_keys;

	/* not the stand-in config_keys() makes for a hand-filled config */
	if (own == NULL || ks != own || cfg->jwt_cache_max_lifetime <= 0 ||
	    cfg->jwt_cache_max_entries <= 0 || len == 0 || len > TOKEN_CACHE_MAX_LEN)
		return NULL;
	if (own->cache == NULL)
		own->cache = token_cache_new(cfg->jwt_cache_max_entries > TOKEN_CACHE_MAX_ENTRIES
					     ? TOKEN_CACHE_MAX_ENTRIES
					     : (size_t)cfg->jwt_cache_max_entries);
	return own->cache;
}

/* Answer from the cache; false when the token must be verified. */
static bool token_cache_get(struct token_cache *c, const char *token, size_t len,
			    time_t now, struct arena *a, struct auth_result *out)
{
	struct cached_token *e = token_slot(c, token, len, token_hash(token, len));

	if (e->token == NULL || !cached_token_live(e, now))
		return false;
	out->status = 0;
	out->role = arena_strdup(a, e->role);
	out->claims_json = arena_strdup(a, e->claims_json);
	out->is_anon = e->is_anon;
	c->hits++;
	return true;
}

/* Keep a verified token (out must be a success). */
static void token_cache_put(struct token_cache *c, const struct config *cfg,
			    const char *token, size_t len, time_t now, double exp,
			    const struct auth_result *out)
{
	unsigned long hash = token_hash(token, len);
	struct cached_token *e = token_slot(c, token, len, hash);
	double until = (double)now + (double)cfg->jwt_cache_max_lifetime;

	if (exp != 0 && exp + CLOCK_SKEW_SECONDS < until)
		until = exp + CLOCK_SKEW_SECONDS;
	if (e->token == NULL && c->used >= c->max) {
		token_cache_purge(c, now);
		e = token_slot(c, token, len, hash);
	}
	if (e->token == NULL)
		c->used++;
	cached_token_clear(e);
	e->token = xmemdup(token, len);
	e->len = len;
	e->hash = hash;
	e->role = xmemdup(out->role, strlen(out->role) + 1);
	e->claims_json = xmemdup(out->claims_json, strlen(out->claims_json) + 1);
	e->is_anon = out->is_anon;
	e->made = now;
	e->until = until;
}

unsigned long auth_token_cache_hits(const struct config *cfg)
{
	return cfg->jwt_keys != NULL && cfg->jwt_keys->cache != NULL ? cfg->jwt_keys->cache->hits : 0;
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

/* Decode and check the header part; false (error set) when it is unusable. */
static bool read_token_header(struct arena *a, const struct token_parts *tp,
			      struct token_header *th, struct auth_result *out)
{
	const unsigned char *text;
	json_object *header, *kid;
	const char *details = NULL, *name = NULL;
	size_t len;

	memset(th, 0, sizeof(*th));
	text = b64url_decode(a, tp->header, tp->header_len, &len);
	if (text == NULL) {
		invalid_token(out, a, "PGRST301", MSG_UNDECODABLE,
			      "The JWT header is not valid base64url");
		return false;
	}
	header = parse_json_object(text, len);
	if (header == NULL) {
		invalid_token(out, a, "PGRST301", MSG_UNDECODABLE,
			      "The JWT header is not a JSON object");
		return false;
	}
	th->alg = header_alg(a, header, &name, &details);
	/* RFC 7515 §4.1.11: extensions we don't know must make us refuse */
	if (th->alg != NULL && json_object_object_get_ex(header, "crit", NULL)) {
		th->alg = NULL;
		details = "The JWT header lists critical extensions (\"crit\"), which are not supported";
	}
	if (th->alg == NULL) {
		invalid_token(out, a, "PGRST301", MSG_BAD_ALG, details);
		json_object_put(header);
		return false;
	}
	if (json_object_object_get_ex(header, "kid", &kid) && kid != NULL) {
		if (!json_object_is_type(kid, json_type_string)) {
			invalid_token(out, a, "PGRST301", MSG_UNDECODABLE,
				      "The JWT header's \"kid\" is not a string");
			json_object_put(header);
			return false;
		}
		th->kid_len = (size_t)json_object_get_string_len(kid);
		th->kid = arena_strndup(a, json_object_get_string(kid), th->kid_len);
	}
	json_object_put(header);
	return true;
}

/*
 * A Bearer token with jwt-secret set: verify it, check its claims and find
 * the role.  Fills out either way.
 */
static void verify_token(const struct config *cfg, const struct auth_keys *ks,
			 const char *token, size_t len, time_t now, struct arena *a,
			 struct auth_result *out, double *exp)
{
	struct token_parts tp;
	struct token_header th;
	const unsigned char *payload;
	size_t payload_len;
	json_object *claims, *role_value = NULL, *exp_value;
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
	if (!read_token_header(a, &tp, &th, out) || !signature_ok(ks, a, &tp, &th, out))
		return;

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
	/* for the token cache: the one check a later clock can fail */
	if ((exp_value = claim(claims, "exp")) != NULL)
		*exp = json_object_get_double(exp_value);

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

/*
 * The keys to verify with: those auth_load_keys() made, or, for a struct
 * config filled in by hand (the unit tests), the secret as an HMAC key in
 * one (which then points into cfg).  NULL when such a secret looks like a
 * public key, which must never be taken for an HMAC secret.
 */
static const struct auth_keys *config_keys(const struct config *cfg,
					   struct auth_key *one_key, struct auth_keys *one)
{
	if (cfg->jwt_keys != NULL)
		return cfg->jwt_keys;
	if (looks_like_key(cfg->jwt_secret, cfg->jwt_secret_len))
		return NULL;
	memset(one_key, 0, sizeof(*one_key));
	one_key->type = KEY_HMAC;
	one_key->secret = cfg->jwt_secret;
	one_key->secret_len = cfg->jwt_secret_len;
	one->keys = one_key;
	one->n = 1;
	return one;
}

void auth_request(const struct config *cfg, const char *authorization,
		  time_t now, struct arena *a, struct auth_result *out)
{
	bool have_secret = cfg->jwt_secret != NULL && cfg->jwt_secret_len > 0;
	struct auth_key one_key;
	struct auth_keys one;
	const struct auth_keys *ks;
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
		if ((ks = config_keys(cfg, &one_key, &one)) == NULL)
			set_error(out, 500, "PGRSTX00", "jwt-secret was not loaded",
				  "jwt-secret holds a key, but auth_load_keys() was not called", NULL);
		else {
			struct token_cache *tc = token_cache_for(cfg, ks, len);
			double exp = 0;

			if (tc != NULL && token_cache_get(tc, token, len, now, a, out))
				break;
			verify_token(cfg, ks, token, len, now, a, out, &exp);
			if (tc != NULL && out->status == 0)
				token_cache_put(tc, cfg, token, len, now, exp, out);
		}
		break;
	}
}

/* ------------------------------------------------------------------------
 * Making tokens
 */

char *auth_sign_token(const struct config *cfg, const char *claims_json,
		      struct arena *a, const char **err)
{
	struct auth_key one_key;
	struct auth_keys one;
	const struct auth_keys *ks;
	const struct auth_key *key = NULL;
	const struct jws_alg *alg;
	json_object *claims;
	jwt_t *jwt = NULL;
	char *text, *token = NULL;
	int rc;

	*err = NULL;
	if (cfg->jwt_secret == NULL || cfg->jwt_secret_len == 0) {
		*err = "no jwt-secret is configured, so no token can be signed";
		return NULL;
	}
	if ((ks = config_keys(cfg, &one_key, &one)) == NULL) {
		*err = "jwt-secret holds a key, but auth_load_keys() was not called";
		return NULL;
	}
	for (int i = 0; i < ks->n && key == NULL; i++)
		if (ks->keys[i].type == KEY_HMAC)
			key = &ks->keys[i];
	if (key == NULL) {
		*err = "jwt-secret holds only public keys, which can verify tokens but not "
		       "sign them; pg_rest signs with an HMAC secret";
		return NULL;
	}
	alg = key->only != NULL ? key->only : find_alg("HS256");
	if (claims_json == NULL ||
	    (claims = parse_json_object((const unsigned char *)claims_json,
					strlen(claims_json))) == NULL) {
		*err = "the claims to sign are not a JSON object";
		return NULL;
	}
	json_object_put(claims);
	if (key->secret_len > INT32_MAX) {
		*err = "the HMAC secret is too long";
		return NULL;
	}

	/* libjwt keeps the claims' JSON types (numbers stay numbers) */
	if ((rc = jwt_new(&jwt)) != 0 ||
	    (rc = jwt_add_grants_json(jwt, claims_json)) != 0 ||
	    (key->kid != NULL && (rc = jwt_add_header(jwt, "kid", key->kid)) != 0) ||
	    (rc = jwt_set_alg(jwt, alg->libjwt, key->secret, (int)key->secret_len)) != 0) {
		*err = arena_printf(a, "libjwt could not build the token: %s", strerror(rc));
	} else if ((text = jwt_encode_str(jwt)) == NULL) {
		*err = arena_printf(a, "libjwt could not sign the token: %s", strerror(errno));
	} else {
		token = arena_strdup(a, text);
		free(text);
	}
	jwt_free(jwt);
	return token;
}

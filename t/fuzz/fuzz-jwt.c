/*
 * fuzz-jwt.c — libFuzzer target for the JWT path (src/auth.c):
 * auth_request() with fixed configurations, jwt-secret key loading, and
 * tokens pg_rest signs itself.
 *
 * The low three bits of the first byte pick what the rest of the input is:
 *
 *   0, 1, 2  the Authorization header (bit 0x40: "Bearer " is put in front)
 *            against an HMAC secret (bit 0x80: with jwt-aud, no anon role,
 *            jwt-optional), a PEM set (RSA 2048, EC P-256, Ed25519) or a
 *            JWK Set (oct HS384 "k1", RSA "r1", EC P-384 "e1", Ed448)
 *   3        "<header JSON>\n<payload JSON>" (or just the payload), turned
 *            into a token and HMAC-signed here: fuzzes claims checks and
 *            the role lookup behind a good signature (bit 0x80: JWK Set)
 *   4        "<jwt-role-claim-key>\n<payload JSON>", signed: the JSPath
 *   5        a jwt-secret text for auth_load_keys() (PEM, JWK, JWK Set, HMAC)
 *   6        claims for auth_sign_token(), the token then verified again
 *   7        as 0 with "Bearer " and the JWK Set
 *
 * Keys are generated once per process (LLVMFuzzerInitialize); the clock is
 * fixed.  Invariants: success gives a role and claims that are a strict
 * JSON object; failure a 401/500 with a PGRST code, no role, and for 401 a
 * WWW-Authenticate value safe in a header; a token we signed ourselves
 * never fails its signature check.
 */
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include "auth.h"
#include "config.h"
#include "fuzz.h"

#define NOW ((time_t)1700000000)
#define SECRET "reallyreallyreallyreallyreallysafe-0123456789abcdefghijklmnop"

static struct config cfg_hs, cfg_hs_aud, cfg_pem, cfg_jwks;

/* ------------------------------------------------------------------ */
/* building texts (init-time ones are malloc'd and kept for the run)   */

static char *b64url(struct arena *a, const void *data, size_t n)
{
	static const char abc[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	const unsigned char *p = data;
	struct sbuf b;
	size_t i;

	sbuf_init(&b, a, n * 4 / 3 + 4);
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

static EVP_PKEY *keygen(const char *type, const char *arg)
{
	EVP_PKEY *k = strcmp(type, "RSA") == 0 ? EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048)
		    : arg != NULL ? EVP_PKEY_Q_keygen(NULL, NULL, type, arg)
				  : EVP_PKEY_Q_keygen(NULL, NULL, type);

	FUZZ_CHECK(k != NULL);
	return k;
}

static void put_pem(struct sbuf *b, EVP_PKEY *k)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data = NULL;
	long n;

	FUZZ_CHECK(bio != NULL && PEM_write_bio_PUBKEY(bio, k) == 1);
	n = BIO_get_mem_data(bio, &data);
	sbuf_putn(b, data, (size_t)n);
	BIO_free(bio);
}

static char *bn_b64(struct arena *a, EVP_PKEY *k, const char *param, int pad)
{
	BIGNUM *bn = NULL;
	unsigned char buf[1024];
	int n;

	FUZZ_CHECK(EVP_PKEY_get_bn_param(k, param, &bn) == 1);
	n = pad > 0 ? BN_bn2binpad(bn, buf, pad) : BN_bn2bin(bn, buf);
	BN_free(bn);
	return b64url(a, buf, (size_t)n);
}

/* a configuration as config_load leaves it: keys loaded from the secret */
static void load(struct config *c, const char *secret, const char *anon)
{
	char err[256];

	memset(c, 0, sizeof(*c));
	c->db_anon_role = (char *)anon;
	c->role_claim_key = (char *)".role";
	c->jwt_secret = (unsigned char *)strdup(secret);
	c->jwt_secret_len = strlen(secret);
	if (auth_load_keys(c, err, sizeof(err)) != 0) {
		fprintf(stderr, "fuzz-jwt: auth_load_keys: %s\n", err);
		abort();
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct arena a;
	struct sbuf pem, jwks;
	EVP_PKEY *rsa_a = keygen("RSA", NULL), *rsa_b = keygen("RSA", NULL);
	EVP_PKEY *ec256 = keygen("EC", "P-256"), *ec384 = keygen("EC", "P-384");
	EVP_PKEY *ed25519 = keygen("ED25519", NULL), *ed448 = keygen("ED448", NULL);
	unsigned char raw[128];
	size_t raw_len = sizeof(raw);

	(void)argc;
	(void)argv;
	arena_init(&a);
	load(&cfg_hs, SECRET, "web_anon");
	load(&cfg_hs_aud, SECRET, NULL);
	cfg_hs_aud.jwt_aud = (char *)"pg_rest";
	cfg_hs_aud.jwt_optional = true;

	sbuf_init(&pem, &a, 4096);
	put_pem(&pem, rsa_a);
	put_pem(&pem, ec256);
	put_pem(&pem, ed25519);
	load(&cfg_pem, pem.data, "web_anon");

	FUZZ_CHECK(EVP_PKEY_get_raw_public_key(ed448, raw, &raw_len) == 1);
	sbuf_init(&jwks, &a, 4096);
	sbuf_printf(&jwks, "{\"keys\":[{\"kty\":\"oct\",\"kid\":\"k1\",\"alg\":\"HS384\",\"k\":\"%s\"},",
		    b64url(&a, SECRET, strlen(SECRET)));
	sbuf_printf(&jwks, "{\"kty\":\"RSA\",\"kid\":\"r1\",\"use\":\"sig\",\"n\":\"%s\",\"e\":\"%s\"},",
		    bn_b64(&a, rsa_b, OSSL_PKEY_PARAM_RSA_N, 0),
		    bn_b64(&a, rsa_b, OSSL_PKEY_PARAM_RSA_E, 0));
	sbuf_printf(&jwks, "{\"kty\":\"EC\",\"kid\":\"e1\",\"crv\":\"P-384\",\"x\":\"%s\",\"y\":\"%s\"},",
		    bn_b64(&a, ec384, OSSL_PKEY_PARAM_EC_PUB_X, 48),
		    bn_b64(&a, ec384, OSSL_PKEY_PARAM_EC_PUB_Y, 48));
	sbuf_printf(&jwks, "{\"kty\":\"OKP\",\"crv\":\"Ed448\",\"x\":\"%s\"}]}",
		    b64url(&a, raw, raw_len));
	load(&cfg_jwks, jwks.data, "web_anon");

	EVP_PKEY_free(rsa_a);
	EVP_PKEY_free(rsa_b);
	EVP_PKEY_free(ec256);
	EVP_PKEY_free(ec384);
	EVP_PKEY_free(ed25519);
	EVP_PKEY_free(ed448);
	arena_destroy(&a);
	return 0;
}

/* ------------------------------------------------------------------ */
/* checks                                                             */

static void check_result(const struct config *cfg, const struct auth_result *r, struct arena *a)
{
	if (r->status == 0) {
		FUZZ_CHECK(fuzz_nonempty(r->role));
		FUZZ_CHECK(r->claims_json != NULL);
		FUZZ_CHECK(json_is_strict(r->claims_json, strlen(r->claims_json), 64));
		FUZZ_CHECK(r->claims_json[strspn(r->claims_json, " \t\r\n")] == '{');
		FUZZ_CHECK(r->code == NULL && r->www_authenticate == NULL);
		FUZZ_CHECK(r->is_anon == 0 || r->is_anon == 1);
		if (r->is_anon)
			FUZZ_CHECK(cfg->db_anon_role != NULL && strcmp(r->role, cfg->db_anon_role) == 0);
		return;
	}
	FUZZ_CHECK(r->status == 401 || r->status == 500);
	FUZZ_CHECK(r->role == NULL && r->claims_json == NULL);
	FUZZ_CHECK(r->code != NULL && strncmp(r->code, "PGRST", 5) == 0);
	FUZZ_CHECK(fuzz_nonempty(r->message));
	if (r->status == 401)
		FUZZ_CHECK(fuzz_nonempty(r->www_authenticate));

	struct http_error e;

	http_error_set(&e, r->status, r->code, r->message, r->details, r->hint);
	e.www_authenticate = r->www_authenticate;
	fuzz_check_error(&e, a);
}

static void run(const struct config *cfg, const char *header, struct arena *a,
		struct auth_result *r)
{
	memset(r, 0x5a, sizeof(*r));    /* auth_request must set every field */
	auth_request(cfg, header, NOW, a, r);
	check_result(cfg, r, a);
}

/* "Bearer <b64(header)>.<b64(payload)>.<HMAC>" with the digest the header names */
static char *signed_bearer(struct arena *a, const char *header, const char *payload, size_t plen)
{
	const EVP_MD *md = strstr(header, "HS384") ? EVP_sha384()
			 : strstr(header, "HS512") ? EVP_sha512() : EVP_sha256();
	char *in = arena_printf(a, "%s.%s", b64url(a, header, strlen(header)),
				b64url(a, payload, plen));
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int mac_len = 0;

	FUZZ_CHECK(HMAC(md, SECRET, (int)strlen(SECRET), (unsigned char *)in, strlen(in),
			mac, &mac_len) != NULL);
	return arena_printf(a, "Bearer %s.%s", in, b64url(a, mac, mac_len));
}

/* a token signed with the right key passes the signature check */
static void check_signature_passed(const struct auth_result *r)
{
	FUZZ_CHECK(r->status == 0 || r->code == NULL ||
		   strcmp(r->code, "PGRST301") != 0 ||
		   strcmp(r->message, "JWT couldn't be decoded") == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct config *const by_mode[] = { &cfg_hs, &cfg_pem, &cfg_jwks };
	struct arena a;
	struct auth_result r;

	if (size < 1)
		return 0;

	unsigned mode = data[0] & 7;
	bool flag = (data[0] & 0x80) != 0;
	char *rest = fuzz_strndup(data + 1, size - 1);
	char *nl = strchr(rest, '\n');

	arena_init(&a);
	switch (mode) {
	case 0:
	case 1:
	case 2:
	case 7: {
		const struct config *cfg = mode == 7 ? &cfg_jwks
					 : mode == 0 && flag ? &cfg_hs_aud : by_mode[mode];
		bool bearer = mode == 7 || (data[0] & 0x40) != 0;

		run(cfg, bearer ? arena_printf(&a, "Bearer %s", rest) : rest, &a, &r);
		break;
	}
	case 3: {
		const struct config *cfg = flag ? &cfg_jwks : &cfg_hs;
		const char *header = flag ? "{\"alg\":\"HS384\",\"kid\":\"k1\"}"
					  : "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
		const char *payload = rest;

		if (nl != NULL) {
			*nl = '\0';
			header = rest;
			payload = nl + 1;
		}
		run(cfg, signed_bearer(&a, header, payload, strlen(payload)), &a, &r);
		if (nl == NULL)
			check_signature_passed(&r);
		break;
	}
	case 4: {
		struct config cfg = cfg_hs;
		const char *payload = "{\"role\":\"web_user\",\"roles\":[\"a\",\"b\"]}";

		if (nl != NULL) {
			*nl = '\0';
			payload = nl + 1;
		}
		cfg.role_claim_key = rest;
		run(&cfg, signed_bearer(&a, "{\"alg\":\"HS256\"}", payload, strlen(payload)), &a, &r);
		check_signature_passed(&r);
		break;
	}
	case 5: {
		struct config cfg;
		char err[256];

		memset(&cfg, 0, sizeof(cfg));
		cfg.db_anon_role = (char *)"web_anon";
		cfg.jwt_secret = (unsigned char *)rest;
		cfg.jwt_secret_len = size - 1;
		err[0] = 'x';
		if (auth_load_keys(&cfg, err, sizeof(err)) == 0) {
			FUZZ_CHECK(size - 1 == 0 || cfg.jwt_keys != NULL);
			/* whatever was loaded verifies (or refuses) a token */
			if (cfg.jwt_keys != NULL)
				run(&cfg, "Bearer eyJhbGciOiJIUzI1NiJ9.e30.c2ln", &a, &r);
		} else {
			FUZZ_CHECK(cfg.jwt_keys == NULL);
			FUZZ_CHECK(err[0] != '\0' && memchr(err, '\0', sizeof(err)) != NULL);
		}
		auth_keys_free(cfg.jwt_keys);
		break;
	}
	case 6: {
		const struct config *cfg = flag ? &cfg_jwks : &cfg_hs;
		const char *err = "unset";
		char *token = auth_sign_token(cfg, rest, &a, &err);

		if (token == NULL) {
			FUZZ_CHECK(fuzz_nonempty(err));
			break;
		}
		FUZZ_CHECK(err == NULL);
		run(cfg, arena_printf(&a, "Bearer %s", token), &a, &r);
		check_signature_passed(&r);
		FUZZ_CHECK(r.status == 0 || strcmp(r.code, "PGRST303") == 0 ||
			   strcmp(r.code, "PGRSTX00") == 0);
		break;
	}
	}
	arena_destroy(&a);
	free(rest);
	return 0;
}

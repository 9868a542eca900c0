/*
 * auth.h — who runs this request: the jwt-secret rules of DESIGN.md; the
 * keys jwt-secret holds; tokens pg_rest signs itself.
 *
 * auth_request is a pure function of (config, Authorization header,
 * clock): no I/O, so the rules table is tested by t/unit/auth-t.c directly
 * (the token cache only remembers answers it would give again).
 */
#ifndef PGR_AUTH_H
#define PGR_AUTH_H

#include <time.h>

#include "arena.h"
#include "config.h"

struct auth_result {
	/* 0 when the request may go on; else the HTTP status to answer with */
	int status;
	const char *code;          /* PGRST300, PGRST301, PGRST302 ... */
	const char *message;
	const char *details;       /* may be NULL */
	const char *hint;          /* may be NULL */
	const char *www_authenticate;  /* value of WWW-Authenticate, or NULL */

	/* on success */
	const char *role;          /* role to become (token's role or db-anon-role) */
	const char *claims_json;   /* all claims as a JSON object text; for anon {"role":"<anon>"} */
	int is_anon;               /* 1 when role came from db-anon-role */
};

/*
 * Decide the role for one request.  authorization is the raw header value
 * (NULL or "" = no header).  now is the current time (tests pass a fixed
 * clock).  Strings in the result live in arena a.
 *
 * With jwt-cache-max-lifetime > 0 a verified token's result is remembered
 * (with the keys auth_load_keys made, so per configuration load) and given
 * again while verifying it again would give the same; see auth.c.
 */
void auth_request(const struct config *cfg, const char *authorization,
		  time_t now, struct arena *a, struct auth_result *out);

/* How many auth_request calls the token cache answered (tests, logging). */
unsigned long auth_token_cache_hits(const struct config *cfg);

/*
 * Read cfg->jwt_secret (already "@file"-read and base64-decoded) into
 * cfg->jwt_keys, once per configuration load; config_load() calls it.  The
 * secret is a PEM text (one or more "PUBLIC KEY", "RSA PUBLIC KEY" or
 * "CERTIFICATE" blocks), a JWK or JWK Set (JSON with "kty" or "keys"), or
 * else an HMAC secret.  Returns 0, or -1 with a one-line message in err
 * (which does not name the key: the caller prefixes "jwt-secret: ").
 * Any key set already in cfg is freed first; no secret leaves it NULL.
 */
int auth_load_keys(struct config *cfg, char *err, size_t errlen);

/* Free what auth_load_keys made; NULL is fine. */
void auth_keys_free(struct auth_keys *keys);

/*
 * Sign claims_json (a JSON object text, e.g. row_to_json of a function's
 * jwt_claims result) with the HMAC key of jwt-secret, HS256 (or the "alg"
 * of an "oct" JWK, whose "kid" then goes into the header).  Claim values
 * keep their JSON types.  Returns the compact token "<h>.<p>.<s>" in
 * arena a, or NULL with *err set (a static or arena string): no
 * jwt-secret, only public keys (they can't sign), claims not an object.
 */
char *auth_sign_token(const struct config *cfg, const char *claims_json,
		      struct arena *a, const char **err);

#endif

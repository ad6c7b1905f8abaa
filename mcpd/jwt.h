/*
 * Verification of a JSON Web Token (RFC 7519) signed with a public key of a
 * key set (jwks.h): the algorithm allowed and matching its key, the
 * signature (OpenSSL EVP), the issuer, the audience, exp/nbf/iat with a
 * leeway, and the agent's name from one claim. Pure (the time is given), so
 * it is unit-tested and fuzzed. Messages never hold the token.
 */
#ifndef MCPD_JWT_H
#define MCPD_JWT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct jwks;

#define JWT_MAX_BYTES	8192	/* a longer bearer token is refused unread */
#define JWT_MAX_AGENT	128	/* bytes of the agent's name */

/* The algorithms mcpd accepts, as bits: never "none", never HS* (a key set is public). */
enum {
	JWT_RS256 = 1 << 0,
	JWT_RS384 = 1 << 1,
	JWT_RS512 = 1 << 2,
	JWT_PS256 = 1 << 3,
	JWT_ES256 = 1 << 4,
	JWT_ES384 = 1 << 5,
};
#define JWT_DEFAULT_ALGORITHMS	(JWT_RS256 | JWT_ES256)

/* Why a token was refused: a fixed small set, also the reason label of the failures metric. */
enum jwt_result {
	JWT_OK = 0,
	JWT_MALFORMED,		/* not three base64url parts of JSON objects, or too long */
	JWT_ALGORITHM,		/* alg not allowed, or not the key's */
	JWT_UNKNOWN_KEY,	/* no key of that kid (or no kid and several keys) */
	JWT_SIGNATURE,
	JWT_ISSUER,
	JWT_AUDIENCE,
	JWT_EXPIRED,		/* or no exp */
	JWT_NOT_YET_VALID,	/* nbf or iat in the future */
	JWT_AGENT,		/* the agent claim is missing, not a string, too long or not printable */
};

struct jwt_policy {
	const char *issuer;
	const char *audience;
	const char *agent_claim;
	unsigned algorithms;	/* JWT_* bits */
	int64_t leeway;		/* seconds */
};

/* The bit of an algorithm's name ("RS256"), 0 for any other. */
unsigned jwt_algorithm(const char *name);

/* The short reason of a result ("expired"), for logs and metrics. */
const char *jwt_result_name(enum jwt_result r);

/*
 * Verify token (len bytes, not NUL-terminated necessarily) at time now
 * (seconds since the epoch). JWT_OK with the agent's name in agent; else the
 * reason, and why (a sentence without the token) when why_size > 0.
 */
enum jwt_result jwt_verify(const char *token, size_t len, const struct jwt_policy *policy, const struct jwks *keys,
			   int64_t now, char *agent, size_t agent_size, char *why, size_t why_size);

/*
 * Strict base64url without padding (RFC 7515 §2): only A-Z a-z 0-9 - _, no
 * length of 1 modulo 4, unused bits zero. 0 and the bytes, or -EINVAL.
 */
int jwt_b64url_decode(const char *s, size_t len, unsigned char *out, size_t size, size_t *ret_len);

#endif

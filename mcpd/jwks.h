/*
 * A JSON Web Key Set (RFC 7517) of public signing keys, parsed into OpenSSL
 * keys: RSA (n, e; 2048 to 8192 bits) and EC (P-256, P-384: x, y). Keys for
 * another use than "sig" and of other types are skipped; a set with two keys
 * of one kid, or without a usable key, is refused. Pure: no I/O, so it is
 * unit-tested and fuzzed.
 */
#ifndef MCPD_JWKS_H
#define MCPD_JWKS_H

#include <openssl/evp.h>
#include <stddef.h>

#define JWKS_MAX_BYTES	(256 * 1024)	/* a key set's JSON */
#define JWKS_MAX_KEYS	64		/* usable keys kept from one set */
#define JWKS_MAX_KID	128
#define JWKS_RSA_MAX_BITS	8192	/* a longer RSA key is refused: jwt.c verifies signatures up to this */

enum jwk_type {
	JWK_RSA,
	JWK_EC_P256,
	JWK_EC_P384,
};

struct jwk {
	char *kid;		/* NULL: the key has none */
	char *alg;		/* NULL: the key names no algorithm */
	enum jwk_type type;
	EVP_PKEY *pkey;
};

struct jwks {
	struct jwk *keys;
	size_t n;
	unsigned skipped;	/* keys of other uses or types */
};

/* 0 and a set of at least one key, or -EINVAL and a message (the JSON is never echoed at length). */
int jwks_parse(const char *json, size_t len, struct jwks **ret_set, char **ret_error);

/* The key of that kid; kid NULL: the only key of a set of one, else NULL. */
const struct jwk *jwks_find(const struct jwks *set, const char *kid);

void jwks_free(struct jwks *set);

#endif

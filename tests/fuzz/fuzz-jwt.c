/*
 * libFuzzer target: JWT verification (mcpd/jwt.c) on arbitrary tokens against
 * a fixed key set, and the key set parser (mcpd/jwks.c) on arbitrary JSON.
 * The first byte picks: 'K' parses the rest as a key set; 'J' takes the rest
 * as a header's and claims' JSON texts (split at the first newline), which the
 * harness encodes and signs with an ES256 key of its own, so that mutations of
 * the JSON itself reach the claims (past the signature); anything else
 * verifies the rest as a token (the seeds are valid RS256 and ES256 tokens of
 * these keys, at NOW).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>

#include "jwks.h"
#include "jwt.h"

#define NOW 1800000000

static const char keys_json[] =
	"{\"keys\":[{\"kty\":\"RSA\",\"n\":\"q_uq83KRSwDtpVkIFkESZRGpqZ7q-QPasRx9iC_nVW9Ht9beeIJF4zD1kz0aV5rmgO5QF19bJ"
	"OsWKnt4xlOo81iMVzorQwp5X4OER97YFgmGfsWY15I-36CVqx3i0yM9BB3vw4sVY1aHvTosbHgHipalcmJVkf83spj5NbQGSvzFC"
	"JBNwctx_JKuPUSvYzUgLJmwabeytxridye7Ra7dVZzquWwcB_X9qV022OiL0WrfKkDPXPXZXBnDAaEzhLDYQEJ1rSFpp6wWO_vQR"
	"DjHR1BHKS77retRa_uwV6TOlUbsNMeH898Ve2tlvjqlPKt62OOz-akFuOZHMqqmZ_4yoQ\",\"e\":\"AQAB\",\"kid\":\"r1\"},{\"kty\""
	":\"EC\",\"x\":\"ds1K-O0rUT_VELG5TNIZlPLUGeWg1MwQuEpOcqX5xAc\",\"y\":\"YZRZZJtYIiY4kENx3BC9ZsV8V2jT1jvL0qfxG7c"
	"yhT4\",\"crv\":\"P-256\",\"kid\":\"e1\"}]}";

static struct jwks *keys, *own_keys;
static EVP_PKEY *own;

static const char b64_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static size_t b64url(const unsigned char *in, size_t len, char *out)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < len ? (uint32_t)in[i + 1] << 8 : 0) |
			     (i + 2 < len ? in[i + 2] : 0);

		out[o++] = b64_alphabet[v >> 18 & 63];
		out[o++] = b64_alphabet[v >> 12 & 63];
		if (i + 1 < len)
			out[o++] = b64_alphabet[v >> 6 & 63];
		if (i + 2 < len)
			out[o++] = b64_alphabet[v & 63];
	}
	return o;
}

/* The harness's own EC P-256 key, and a set of it alone (kid "f1"). */
static void own_key(void)
{
	unsigned char x[32], y[32];
	char json[300], xs[50], ys[50];
	BIGNUM *bx = NULL, *by = NULL;
	char *error = NULL;

	own = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	if (!own || EVP_PKEY_get_bn_param(own, OSSL_PKEY_PARAM_EC_PUB_X, &bx) != 1 ||
	    EVP_PKEY_get_bn_param(own, OSSL_PKEY_PARAM_EC_PUB_Y, &by) != 1 || BN_bn2binpad(bx, x, 32) != 32 ||
	    BN_bn2binpad(by, y, 32) != 32)
		abort();
	xs[b64url(x, 32, xs)] = '\0';
	ys[b64url(y, 32, ys)] = '\0';
	snprintf(json, sizeof(json), "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"f1\",\"x\":\"%s\",\"y\":\"%s\"}]}",
		 xs, ys);
	if (jwks_parse(json, strlen(json), &own_keys, &error) < 0)
		abort();
	BN_free(bx);
	BN_free(by);
}

/* HEADER\nCLAIMS encoded and signed with ES256 by the harness's key; NULL when too long. */
static char *own_token(const uint8_t *data, size_t size, size_t *ret_len)
{
	const uint8_t *nl = memchr(data, '\n', size);
	size_t hlen = nl ? (size_t)(nl - data) : size, plen = nl ? size - hlen - 1 : 0, n, siglen = 80;
	unsigned char der[80], rs[64];
	const unsigned char *p = der;
	EVP_MD_CTX *md;
	ECDSA_SIG *es;
	char *t;

	if (size > JWT_MAX_BYTES)
		return NULL;
	t = malloc(JWT_MAX_BYTES * 2);
	n = b64url(data, hlen, t);
	t[n++] = '.';
	n += b64url(nl ? nl + 1 : data + size, plen, t + n);
	md = EVP_MD_CTX_new();
	if (!md || EVP_DigestSignInit_ex(md, NULL, "SHA256", NULL, NULL, own, NULL) != 1 ||
	    EVP_DigestSign(md, der, &siglen, (const unsigned char *)t, n) != 1 ||
	    !(es = d2i_ECDSA_SIG(NULL, &p, (long)siglen)))
		abort();
	EVP_MD_CTX_free(md);
	BN_bn2binpad(ECDSA_SIG_get0_r(es), rs, 32);
	BN_bn2binpad(ECDSA_SIG_get0_s(es), rs + 32, 32);
	ECDSA_SIG_free(es);
	t[n++] = '.';
	n += b64url(rs, 64, t + n);
	*ret_len = n;
	return t;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct jwt_policy policy = {
		.issuer = "https://issuer.test",
		.audience = "mcpd-test",
		.agent_claim = "sub",
		.algorithms = JWT_RS256 | JWT_RS384 | JWT_RS512 | JWT_PS256 | JWT_ES256 | JWT_ES384,
		.leeway = 60,
	};
	char agent[JWT_MAX_AGENT + 1], why[200];
	char *error = NULL;

	if (!keys && jwks_parse(keys_json, strlen(keys_json), &keys, &error) < 0)
		abort();
	if (size > 0 && data[0] == 'K') {
		struct jwks *set = NULL;

		if (jwks_parse((const char *)data + 1, size - 1, &set, &error) == 0) {
			if (set->n == 0 || set->n > JWKS_MAX_KEYS)
				abort();
			jwks_free(set);
		} else if (!error || set) {
			abort();	/* every failure says why, and gives nothing */
		}
		free(error);
		return 0;
	}
	if (size > 0 && data[0] == 'J') {
		size_t len;
		char *t;

		if (!own)
			own_key();
		t = own_token(data + 1, size - 1, &len);
		if (!t)
			return 0;
		if (jwt_verify(t, len, &policy, own_keys, NOW, agent, sizeof(agent), why, sizeof(why)) == JWT_OK) {
			for (const char *c = agent; *c; c++)
				if ((unsigned char)*c <= ' ' || (unsigned char)*c >= 0x7f)
					abort();	/* an agent's name is printable ASCII without spaces */
			if (!agent[0] || strlen(agent) > JWT_MAX_AGENT || memchr(data, 0, size))
				abort();	/* and never comes from JSON with a NUL byte */
		} else if (!why[0] || agent[0]) {
			abort();
		}
		free(t);
		return 0;
	}
	if (size > 0) {
		data++;
		size--;
	}
	if (jwt_verify((const char *)data, size, &policy, keys, NOW, agent, sizeof(agent), why, sizeof(why)) == JWT_OK) {
		if (!agent[0] || strlen(agent) > JWT_MAX_AGENT)
			abort();
	} else if (!why[0] || agent[0]) {
		abort();	/* every refusal says why, and names no agent */
	}
	return 0;
}

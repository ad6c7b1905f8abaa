/* Unit tests of mcpd/jwt.c and mcpd/jwks.c: key sets and token verification, with keys made here. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include "jwks.h"
#include "jwt.h"

#define NOW 1800000000

static EVP_PKEY *rsa, *ec, *rsa2;

static void b64url(const unsigned char *in, size_t len, char *out)
{
	static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t o = 0;

	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < len ? (uint32_t)in[i + 1] << 8 : 0) |
			     (i + 2 < len ? in[i + 2] : 0);

		out[o++] = a[v >> 18 & 63];
		out[o++] = a[v >> 12 & 63];
		if (i + 1 < len)
			out[o++] = a[v >> 6 & 63];
		if (i + 2 < len)
			out[o++] = a[v & 63];
	}
	out[o] = '\0';
}

static void bn_param(EVP_PKEY *k, const char *name, size_t pad, char *out)
{
	BIGNUM *bn = NULL;
	unsigned char buf[1024];
	int n;

	assert_int_equal(EVP_PKEY_get_bn_param(k, name, &bn), 1);
	n = pad ? BN_bn2binpad(bn, buf, (int)pad) : BN_bn2bin(bn, buf);
	b64url(buf, (size_t)n, out);
	BN_free(bn);
}

/* The JWK of a public key, with kid and alg when not NULL. */
static char *jwk(EVP_PKEY *k, const char *kid, const char *alg)
{
	char a[1400], b[1400], *out = malloc(4096);
	char extra[200] = "";

	if (kid)
		snprintf(extra, sizeof(extra), ",\"kid\":\"%s\"", kid);
	if (alg)
		snprintf(extra + strlen(extra), sizeof(extra) - strlen(extra), ",\"alg\":\"%s\"", alg);
	if (EVP_PKEY_is_a(k, "RSA")) {
		bn_param(k, OSSL_PKEY_PARAM_RSA_N, 0, a);
		bn_param(k, OSSL_PKEY_PARAM_RSA_E, 0, b);
		snprintf(out, 4096, "{\"kty\":\"RSA\",\"use\":\"sig\",\"n\":\"%s\",\"e\":\"%s\"%s}", a, b, extra);
	} else {
		bn_param(k, OSSL_PKEY_PARAM_EC_PUB_X, 32, a);
		bn_param(k, OSSL_PKEY_PARAM_EC_PUB_Y, 32, b);
		snprintf(out, 4096, "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\"%s}", a, b, extra);
	}
	return out;
}

static struct jwks *set_of(const char *json)
{
	struct jwks *set = NULL;
	char *error = NULL;

	if (jwks_parse(json, strlen(json), &set, &error) < 0)
		fail_msg("jwks_parse: %s", error);
	return set;
}

/* The standard set: RSA "r1", EC "e1". */
static struct jwks *standard_set(void)
{
	char *r = jwk(rsa, "r1", NULL), *e = jwk(ec, "e1", NULL), json[10000];
	struct jwks *set;

	snprintf(json, sizeof(json), "{\"keys\":[%s,%s]}", r, e);
	set = set_of(json);
	free(r);
	free(e);
	return set;
}

/* A token of header and payload (payload_len bytes) signed by k with alg (RS256, ES256, HS256 = HMAC with secret). */
static char *sign_n(const char *header, const char *payload, size_t payload_len, const char *alg, EVP_PKEY *k,
		    const char *secret)
{
	char *out = malloc(16384);
	unsigned char sig[1024];
	size_t len = sizeof(sig);

	b64url((const unsigned char *)header, strlen(header), out);
	strcat(out, ".");
	b64url((const unsigned char *)payload, payload_len, out + strlen(out));
	if (strcmp(alg, "none") == 0) {
		strcat(out, ".");
		return out;
	}
	if (strcmp(alg, "HS256") == 0) {
		unsigned int n = 0;

		HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)out, strlen(out), sig, &n);
		len = n;
	} else {
		EVP_MD_CTX *md = EVP_MD_CTX_new();

		assert_int_equal(EVP_DigestSignInit_ex(md, NULL, "SHA256", NULL, NULL, k, NULL), 1);
		assert_int_equal(EVP_DigestSign(md, sig, &len, (const unsigned char *)out, strlen(out)), 1);
		EVP_MD_CTX_free(md);
		if (strcmp(alg, "ES256") == 0) {
			const unsigned char *p = sig;
			ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)len);

			assert_non_null(es);
			BN_bn2binpad(ECDSA_SIG_get0_r(es), sig, 32);
			BN_bn2binpad(ECDSA_SIG_get0_s(es), sig + 32, 32);
			ECDSA_SIG_free(es);
			len = 64;
		}
	}
	strcat(out, ".");
	b64url(sig, len, out + strlen(out));
	return out;
}

static char *sign(const char *header, const char *payload, const char *alg, EVP_PKEY *k, const char *secret)
{
	return sign_n(header, payload, strlen(payload), alg, k, secret);
}

static const struct jwt_policy policy = {
	.issuer = "https://issuer.test",
	.audience = "mcpd-test",
	.agent_claim = "sub",
	.algorithms = JWT_RS256 | JWT_ES256,
	.leeway = 60,
};

#define CLAIMS(extra) "{\"iss\":\"https://issuer.test\",\"aud\":\"mcpd-test\",\"sub\":\"support\"," \
		      "\"exp\":1800000600" extra "}"

static enum jwt_result check(const struct jwks *set, const char *token, char *agent)
{
	char why[200];
	enum jwt_result r = jwt_verify(token, strlen(token), &policy, set, NOW, agent, JWT_MAX_AGENT + 1, why,
				       sizeof(why));

	assert_true(r == JWT_OK || why[0]);	/* every refusal says why */
	return r;
}

static void expect(const struct jwks *set, const char *header, const char *payload, const char *alg, EVP_PKEY *k,
		   enum jwt_result want)
{
	char agent[JWT_MAX_AGENT + 1];
	char *t = sign(header, payload, alg, k, NULL);

	assert_int_equal(check(set, t, agent), want);
	if (want == JWT_OK)
		assert_string_equal(agent, "support");
	else
		assert_string_equal(agent, "");
	free(t);
}

static void test_valid(void **state)
{
	struct jwks *set = standard_set();

	expect(set, "{\"alg\":\"RS256\",\"kid\":\"r1\",\"typ\":\"JWT\"}", CLAIMS(""), "RS256", rsa, JWT_OK);
	expect(set, "{\"alg\":\"ES256\",\"kid\":\"e1\"}", CLAIMS(",\"nbf\":1800000000,\"iat\":1799999990"), "ES256", ec,
	       JWT_OK);
	/* aud as an array; exp and nbf within the leeway */
	expect(set, "{\"alg\":\"RS256\",\"kid\":\"r1\"}",
	       "{\"iss\":\"https://issuer.test\",\"aud\":[\"x\",\"mcpd-test\"],\"sub\":\"support\",\"exp\":1799999950,"
	       "\"nbf\":1800000050}", "RS256", rsa, JWT_OK);
	jwks_free(set);
}

static void test_claims(void **state)
{
	struct jwks *set = standard_set();
	const char *h = "{\"alg\":\"RS256\",\"kid\":\"r1\"}";

	expect(set, h, "{\"iss\":\"https://issuer.test\",\"aud\":\"other\",\"sub\":\"support\",\"exp\":1800000600}",
	       "RS256", rsa, JWT_AUDIENCE);
	expect(set, h, "{\"iss\":\"https://issuer.test\",\"aud\":[\"a\",\"b\"],\"sub\":\"support\",\"exp\":1800000600}",
	       "RS256", rsa, JWT_AUDIENCE);
	expect(set, h, "{\"iss\":\"https://evil.test\",\"aud\":\"mcpd-test\",\"sub\":\"support\",\"exp\":1800000600}",
	       "RS256", rsa, JWT_ISSUER);
	expect(set, h, "{\"aud\":\"mcpd-test\",\"sub\":\"support\",\"exp\":1800000600}", "RS256", rsa, JWT_ISSUER);
	expect(set, h, "{\"iss\":\"https://issuer.test\",\"aud\":\"mcpd-test\",\"sub\":\"support\",\"exp\":1799999900}",
	       "RS256", rsa, JWT_EXPIRED);
	expect(set, h, "{\"iss\":\"https://issuer.test\",\"aud\":\"mcpd-test\",\"sub\":\"support\"}", "RS256", rsa,
	       JWT_EXPIRED);
	expect(set, h, "{\"iss\":\"https://issuer.test\",\"aud\":\"mcpd-test\",\"sub\":\"support\",\"exp\":\"soon\"}",
	       "RS256", rsa, JWT_EXPIRED);
	expect(set, h, CLAIMS(",\"nbf\":1800000100"), "RS256", rsa, JWT_NOT_YET_VALID);
	expect(set, h, CLAIMS(",\"iat\":1800000100"), "RS256", rsa, JWT_NOT_YET_VALID);
	expect(set, h, "{\"iss\":\"https://issuer.test\",\"aud\":\"mcpd-test\",\"exp\":1800000600}", "RS256", rsa,
	       JWT_AGENT);
	expect(set, h, "{\"iss\":\"https://issuer.test\",\"aud\":\"mcpd-test\",\"sub\":\"a b\",\"exp\":1800000600}",
	       "RS256", rsa, JWT_AGENT);
	expect(set, h, "{\"iss\":\"https://issuer.test\",\"aud\":\"mcpd-test\",\"sub\":42,\"exp\":1800000600}",
	       "RS256", rsa, JWT_AGENT);
	jwks_free(set);
}

static void test_keys_and_algorithms(void **state)
{
	struct jwks *set = standard_set();
	char *pem_secret, *t, agent[JWT_MAX_AGENT + 1];
	BIO *bio = BIO_new(BIO_s_mem());
	long n;

	/* unknown kid; no kid with two keys; a key of another set */
	expect(set, "{\"alg\":\"RS256\",\"kid\":\"r9\"}", CLAIMS(""), "RS256", rsa, JWT_UNKNOWN_KEY);
	expect(set, "{\"alg\":\"RS256\"}", CLAIMS(""), "RS256", rsa, JWT_UNKNOWN_KEY);
	expect(set, "{\"alg\":\"RS256\",\"kid\":\"r1\"}", CLAIMS(""), "RS256", rsa2, JWT_SIGNATURE);
	/* alg none, and algorithms mcpd never takes or this policy does not allow */
	expect(set, "{\"alg\":\"none\",\"kid\":\"r1\"}", CLAIMS(""), "none", NULL, JWT_ALGORITHM);
	expect(set, "{\"kid\":\"r1\"}", CLAIMS(""), "none", NULL, JWT_ALGORITHM);
	expect(set, "{\"alg\":\"RS384\",\"kid\":\"r1\"}", CLAIMS(""), "RS256", rsa, JWT_ALGORITHM);
	/* alg/kty mismatch: ES256 over the RSA key, RS256 over the EC key */
	expect(set, "{\"alg\":\"ES256\",\"kid\":\"r1\"}", CLAIMS(""), "RS256", rsa, JWT_ALGORITHM);
	expect(set, "{\"alg\":\"RS256\",\"kid\":\"e1\"}", CLAIMS(""), "ES256", ec, JWT_ALGORITHM);
	/* HS256 with the public key (its PEM) as the HMAC secret: the classic confusion */
	PEM_write_bio_PUBKEY(bio, rsa);
	n = BIO_get_mem_data(bio, &pem_secret);
	pem_secret = strndup(pem_secret, (size_t)n);
	t = sign("{\"alg\":\"HS256\",\"kid\":\"r1\"}", CLAIMS(""), "HS256", NULL, pem_secret);
	assert_int_equal(check(set, t, agent), JWT_ALGORITHM);
	free(t);
	free(pem_secret);
	BIO_free(bio);
	jwks_free(set);

	/* the key's own alg must match */
	{
		char *r = jwk(rsa, NULL, "RS384"), json[5000];

		snprintf(json, sizeof(json), "{\"keys\":[%s]}", r);
		free(r);
		set = set_of(json);
		/* no kid, one key: that key; but it is for RS384 only */
		expect(set, "{\"alg\":\"RS256\"}", CLAIMS(""), "RS256", rsa, JWT_ALGORITHM);
		jwks_free(set);
		r = jwk(rsa, NULL, NULL);
		snprintf(json, sizeof(json), "{\"keys\":[%s]}", r);
		free(r);
		set = set_of(json);
		expect(set, "{\"alg\":\"RS256\"}", CLAIMS(""), "RS256", rsa, JWT_OK);
		jwks_free(set);
	}
}

static void test_malformed(void **state)
{
	struct jwks *set = standard_set();
	char agent[JWT_MAX_AGENT + 1], *t, *big;
	size_t len;

	assert_int_equal(check(set, "", agent), JWT_MALFORMED);
	assert_int_equal(check(set, "abc", agent), JWT_MALFORMED);
	assert_int_equal(check(set, "a.b", agent), JWT_MALFORMED);
	assert_int_equal(check(set, "a.b.c.d", agent), JWT_MALFORMED);
	assert_int_equal(check(set, "e30.e30.", agent), JWT_ALGORITHM);	/* {} has no alg */
	assert_int_equal(check(set, "eyJ.e30.AAAA", agent), JWT_MALFORMED);
	assert_int_equal(check(set, "e3=.e30.AAAA", agent), JWT_MALFORMED);	/* padding */
	assert_int_equal(check(set, "e31.e30.AAAA", agent), JWT_MALFORMED);	/* unused bits set */
	assert_int_equal(check(set, "W10.e30.AAAA", agent), JWT_MALFORMED);	/* [] is not an object */
	/* a valid token with a byte of its signature changed, or its payload */
	t = sign("{\"alg\":\"RS256\",\"kid\":\"r1\"}", CLAIMS(""), "RS256", rsa, NULL);
	len = strlen(t);
	t[len - 2] = t[len - 2] == 'A' ? 'B' : 'A';
	assert_int_equal(check(set, t, agent), JWT_SIGNATURE);
	t[len - 2] = '+';
	assert_int_equal(check(set, t, agent), JWT_SIGNATURE);
	free(t);
	/* oversized: refused before anything is decoded */
	big = malloc(JWT_MAX_BYTES + 2);
	memset(big, 'A', JWT_MAX_BYTES + 1);
	big[JWT_MAX_BYTES + 1] = '\0';
	assert_int_equal(check(set, big, agent), JWT_MALFORMED);
	free(big);
	jwks_free(set);
}

static void test_b64url(void **state)
{
	unsigned char out[16];
	size_t n;

	assert_int_equal(jwt_b64url_decode("aGk", 3, out, sizeof(out), &n), 0);
	assert_int_equal(n, 2);
	assert_memory_equal(out, "hi", 2);
	assert_int_equal(jwt_b64url_decode("", 0, out, sizeof(out), &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(jwt_b64url_decode("_-8", 3, out, sizeof(out), &n), 0);
	assert_int_equal(jwt_b64url_decode("a", 1, out, sizeof(out), &n), -EINVAL);
	assert_int_equal(jwt_b64url_decode("aGl", 3, out, sizeof(out), &n), -EINVAL);	/* unused bits */
	assert_int_equal(jwt_b64url_decode("aG+k", 4, out, sizeof(out), &n), -EINVAL);
	assert_int_equal(jwt_b64url_decode("aGk=", 4, out, sizeof(out), &n), -EINVAL);
	assert_int_equal(jwt_b64url_decode("AAAAAAAA", 8, out, 5, &n), -EINVAL);	/* larger than out */
}

static int parse_error(const char *json, const char *want)
{
	struct jwks *set = NULL;
	char *error = NULL;
	int r = jwks_parse(json, strlen(json), &set, &error);

	assert_int_equal(r, -EINVAL);
	assert_null(set);
	if (!strstr(error, want))
		fail_msg("\"%s\" does not say \"%s\"", error, want);
	free(error);
	return r;
}

static void test_jwks(void **state)
{
	char *r = jwk(rsa, "r1", "RS256"), *e = jwk(ec, "e1", NULL), *r2 = jwk(rsa2, "r1", NULL), json[12000];
	struct jwks *set;

	snprintf(json, sizeof(json), "{\"keys\":[{\"kty\":\"oct\",\"k\":\"c2VjcmV0\"},%s,%s,"
		 "{\"kty\":\"RSA\",\"use\":\"enc\",\"n\":\"AQAB\",\"e\":\"AQAB\"}]}", r, e);
	set = set_of(json);
	assert_int_equal(set->n, 2);
	assert_int_equal(set->skipped, 2);
	assert_string_equal(set->keys[0].kid, "r1");
	assert_string_equal(set->keys[0].alg, "RS256");
	assert_int_equal(set->keys[0].type, JWK_RSA);
	assert_int_equal(set->keys[1].type, JWK_EC_P256);
	assert_ptr_equal(jwks_find(set, "e1"), &set->keys[1]);
	assert_null(jwks_find(set, "zz"));
	assert_null(jwks_find(set, NULL));
	jwks_free(set);

	snprintf(json, sizeof(json), "{\"keys\":[%s,%s]}", r, r2);
	parse_error(json, "two keys with kid \"r1\"");
	parse_error("{\"keys\":[]}", "no RSA or EC signing key");
	parse_error("{\"keys\":[{\"kty\":\"oct\",\"k\":\"AA\"}]}", "no RSA or EC signing key");
	parse_error("[]", "not a JSON Web Key Set");
	parse_error("{\"keys\":", "not a JSON Web Key Set");
	parse_error("junk", "not a JSON Web Key Set");
	parse_error("{\"keys\":[42]}", "key 1: not an object");
	parse_error("{\"keys\":[{\"kty\":\"RSA\",\"n\":\"AQAB\",\"e\":\"AQAB\"}]}", "shorter than 2048 bits");
	parse_error("{\"keys\":[{\"kty\":\"RSA\",\"n\":\"!!\",\"e\":\"AQAB\"}]}", "without valid");
	parse_error("{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-521\",\"x\":\"AA\",\"y\":\"AA\"}]}", "curve");
	parse_error("{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"AA\",\"y\":\"AA\"}]}", "curve's size");
	/* a point that is not on the curve: x and y of P-256's size, both 1 */
	parse_error("{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"bad\","
		    "\"x\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAE\","
		    "\"y\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAE\"}]}", "not on its curve");
	parse_error("{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"a\\nb\",\"n\":\"AQAB\",\"e\":\"AQAB\"}]}", "not printable");
	free(r);
	free(e);
	free(r2);
}

/* A hostile issuer-looking client: parser differentials, confusions and edges (attack-jwt). */
static void test_attacks(void **state)
{
	struct jwks *set = standard_set();
	const char *h = "{\"alg\":\"RS256\",\"kid\":\"r1\"}";
	char agent[JWT_MAX_AGENT + 1], *t, *big, json[2000];
	size_t len;
	int seen = 0;

	/* \u0000 would cut a string short in cJSON: "support\u0000admin" must not be agent "support" */
	expect(set, h, "{\"iss\":\"https://issuer.test\",\"aud\":\"mcpd-test\",\"sub\":\"support\\u0000x\","
	       "\"exp\":1800000600}", "RS256", rsa, JWT_MALFORMED);
	expect(set, h, "{\"iss\":\"https://issuer.test\\u0000.evil\",\"aud\":\"mcpd-test\",\"sub\":\"support\","
	       "\"exp\":1800000600}", "RS256", rsa, JWT_MALFORMED);
	expect(set, "{\"alg\":\"RS256\",\"kid\":\"r1\\u0000x\"}", CLAIMS(""), "RS256", rsa, JWT_MALFORMED);
	/* nor a raw NUL or control character, which JSON never allows and cJSON takes (a NUL cuts the string) */
	{
		static const char nul[] = "{\"iss\":\"https://issuer.test\",\"aud\":\"mcpd-test\",\"sub\":\"support\0x\","
					  "\"exp\":1800000600}";

		t = sign_n(h, nul, sizeof(nul) - 1, "RS256", rsa, NULL);
		assert_int_equal(check(set, t, agent), JWT_MALFORMED);
		free(t);
	}
	expect(set, h, CLAIMS(",\"x\":\"a\x01b\""), "RS256", rsa, JWT_MALFORMED);
	expect(set, h, "{\"iss\":\"https://issuer.test\",\r\n\t\"aud\":\"mcpd-test\",\"sub\":\"support\","
	       "\"exp\":1800000600}", "RS256", rsa, JWT_OK);
	/* but an escaped backslash followed by the text u0000 is no NUL (it is a kid mcpd lacks) */
	expect(set, "{\"alg\":\"RS256\",\"kid\":\"r1\\\\u0000\"}", CLAIMS(""), "RS256", rsa, JWT_UNKNOWN_KEY);
	/* duplicate names (RFC 7515 §4, RFC 7519 §4: refuse, or take the last; cJSON takes the first) */
	expect(set, h, CLAIMS(",\"sub\":\"admin\""), "RS256", rsa, JWT_MALFORMED);
	expect(set, h, CLAIMS(",\"exp\":1"), "RS256", rsa, JWT_MALFORMED);
	expect(set, "{\"alg\":\"RS256\",\"kid\":\"r1\",\"alg\":\"none\"}", CLAIMS(""), "RS256", rsa, JWT_MALFORMED);
	expect(set, "{\"alg\":\"RS256\",\"kid\":\"r1\",\"kid\":\"e1\"}", CLAIMS(""), "RS256", rsa, JWT_MALFORMED);
	/* anything after the JSON object but white space */
	expect(set, "{\"alg\":\"RS256\",\"kid\":\"r1\"}{\"alg\":\"none\"}", CLAIMS(""), "RS256", rsa, JWT_MALFORMED);
	expect(set, h, CLAIMS("") "x", "RS256", rsa, JWT_MALFORMED);
	expect(set, "{\"alg\":\"RS256\",\"kid\":\"r1\"} \n", CLAIMS("") "\t", "RS256", rsa, JWT_OK);

	/* alg spellings of none, HS256 with the public key as a JWK (a text) */
	expect(set, "{\"alg\":\"None\",\"kid\":\"r1\"}", CLAIMS(""), "none", NULL, JWT_ALGORITHM);
	expect(set, "{\"alg\":\"NONE\",\"kid\":\"r1\"}", CLAIMS(""), "none", NULL, JWT_ALGORITHM);
	expect(set, "{\"alg\":\"rs256\",\"kid\":\"r1\"}", CLAIMS(""), "RS256", rsa, JWT_ALGORITHM);
	t = jwk(rsa, "r1", NULL);
	big = sign("{\"alg\":\"HS256\",\"kid\":\"r1\"}", CLAIMS(""), "HS256", NULL, t);
	assert_int_equal(check(set, big, agent), JWT_ALGORITHM);
	free(big);
	free(t);
	/* ES256 with its signature in DER instead of r || s; PS256 not allowed by this policy */
	expect(set, "{\"alg\":\"ES256\",\"kid\":\"e1\"}", CLAIMS(""), "ES256-DER", ec, JWT_SIGNATURE);
	expect(set, "{\"alg\":\"PS256\",\"kid\":\"r1\"}", CLAIMS(""), "RS256", rsa, JWT_ALGORITHM);
	/* kid: path text, very long, not a string; crit; b64 false goes with crit */
	expect(set, "{\"alg\":\"RS256\",\"kid\":\"../../../../etc/passwd\"}", CLAIMS(""), "RS256", rsa, JWT_UNKNOWN_KEY);
	memset(json, 0, sizeof(json));
	strcpy(json, "{\"alg\":\"RS256\",\"kid\":\"");
	memset(json + strlen(json), 'k', 1500);
	strcat(json, "\"}");
	expect(set, json, CLAIMS(""), "RS256", rsa, JWT_UNKNOWN_KEY);
	expect(set, "{\"alg\":\"RS256\",\"kid\":[\"r1\"]}", CLAIMS(""), "RS256", rsa, JWT_MALFORMED);
	expect(set, "{\"alg\":\"RS256\",\"kid\":\"r1\",\"b64\":false,\"crit\":[\"b64\"]}", CLAIMS(""), "RS256", rsa,
	       JWT_MALFORMED);
	/* numbers: exp of 1e400 (infinite), -1, a float, a string */
	expect(set, h, "{\"iss\":\"https://issuer.test\",\"aud\":\"mcpd-test\",\"sub\":\"support\",\"exp\":1e400}",
	       "RS256", rsa, JWT_EXPIRED);
	expect(set, h, "{\"iss\":\"https://issuer.test\",\"aud\":\"mcpd-test\",\"sub\":\"support\",\"exp\":-1}",
	       "RS256", rsa, JWT_EXPIRED);
	expect(set, h, "{\"iss\":\"https://issuer.test\",\"aud\":\"mcpd-test\",\"sub\":\"support\",\"exp\":1800000600.5}",
	       "RS256", rsa, JWT_OK);
	expect(set, h, "{\"iss\":\"https://issuer.test\",\"aud\":\"mcpd-test\",\"sub\":\"support\","
	       "\"exp\":\"1800000600\"}", "RS256", rsa, JWT_EXPIRED);
	expect(set, h, CLAIMS(",\"nbf\":1e400"), "RS256", rsa, JWT_MALFORMED);
	/* aud: many wrong and one right is right (RFC 7519 §4.1.3); missing is wrong; iss with a trailing slash */
	expect(set, h, "{\"iss\":\"https://issuer.test\",\"aud\":[\"a\",1,null,\"mcpd-test\"],\"sub\":\"support\","
	       "\"exp\":1800000600}", "RS256", rsa, JWT_OK);
	expect(set, h, "{\"iss\":\"https://issuer.test\",\"sub\":\"support\",\"exp\":1800000600}", "RS256", rsa,
	       JWT_AUDIENCE);
	expect(set, h, "{\"iss\":\"https://issuer.test/\",\"aud\":\"mcpd-test\",\"sub\":\"support\",\"exp\":1800000600}",
	       "RS256", rsa, JWT_ISSUER);
	/* the agent: control characters, a newline, not ASCII, too long */
	expect(set, h, "{\"iss\":\"https://issuer.test\",\"aud\":\"mcpd-test\",\"sub\":\"a\\nb\",\"exp\":1800000600}",
	       "RS256", rsa, JWT_AGENT);
	expect(set, h, "{\"iss\":\"https://issuer.test\",\"aud\":\"mcpd-test\",\"sub\":\"a\\u001bb\",\"exp\":1800000600}",
	       "RS256", rsa, JWT_AGENT);
	expect(set, h, "{\"iss\":\"https://issuer.test\",\"aud\":\"mcpd-test\",\"sub\":\"\\u00e9\",\"exp\":1800000600}",
	       "RS256", rsa, JWT_AGENT);
	snprintf(json, sizeof(json), "{\"iss\":\"https://issuer.test\",\"aud\":\"mcpd-test\",\"sub\":\"%0129d\","
		 "\"exp\":1800000600}", 0);
	expect(set, h, json, "RS256", rsa, JWT_AGENT);
	/* five parts (a JWE) */
	assert_int_equal(check(set, "e30.e30.e30.e30.e30", agent), JWT_MALFORMED);

	/* 8 KiB: a valid token padded with an unused claim to exactly JWT_MAX_BYTES passes, one byte more does not */
	/* (a header of 34 bytes: both lengths are reachable; base64url never has a length of 1 modulo 4) */
	h = "{\"alg\":\"RS256\",\"kid\":\"r1\",\"x\":123}";
	for (size_t pad = 5700; pad < 5800; pad++) {
		char *claims = malloc(pad + 200);

		snprintf(claims, pad + 200, "{\"iss\":\"https://issuer.test\",\"aud\":\"mcpd-test\",\"sub\":\"support\","
			 "\"exp\":1800000600,\"x\":\"%0*d\"}", (int)pad, 0);
		t = sign(h, claims, "RS256", rsa, NULL);
		free(claims);
		len = strlen(t);
		if (len == JWT_MAX_BYTES || len == JWT_MAX_BYTES + 1) {
			assert_int_equal(check(set, t, agent), len == JWT_MAX_BYTES ? JWT_OK : JWT_MALFORMED);
			seen++;
		}
		free(t);
	}
	assert_int_equal(seen, 2);
	jwks_free(set);

	/* a key set with an RSA key longer than 8192 bits, whose signatures jwt.c could never hold */
	big = malloc(4000);
	strcpy(big, "{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"huge\",\"e\":\"AQAB\",\"n\":\"");
	len = strlen(big);
	memset(big + len, '_', 1368);	/* 1026 bytes of 0xff: 8208 bits */
	strcpy(big + len + 1368, "\"}]}");
	parse_error(big, "longer than 8192 bits");
	free(big);
}

static int setup(void **state)
{
	rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	rsa2 = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	return rsa && rsa2 && ec ? 0 : -1;
}

static int teardown(void **state)
{
	EVP_PKEY_free(rsa);
	EVP_PKEY_free(rsa2);
	EVP_PKEY_free(ec);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_b64url),
		cmocka_unit_test(test_jwks),
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_claims),
		cmocka_unit_test(test_keys_and_algorithms),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_attacks),
	};

	return cmocka_run_group_tests_name("jwt", tests, setup, teardown);
}

/* JSON Web Token verification: see jwt.h. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto-dl.h"
#include "jwks.h"
#include "jwt.h"

static const struct algorithm {
	const char *name;
	unsigned bit;
	const char *digest;
	bool ec, pss;
	enum jwk_type curve;	/* of an EC algorithm */
	size_t half;		/* bytes of r and of s in an EC signature */
} algorithms[] = {
	{ "RS256", JWT_RS256, "SHA256", false, false, JWK_RSA, 0 },
	{ "RS384", JWT_RS384, "SHA384", false, false, JWK_RSA, 0 },
	{ "RS512", JWT_RS512, "SHA512", false, false, JWK_RSA, 0 },
	{ "PS256", JWT_PS256, "SHA256", false, true, JWK_RSA, 0 },
	{ "ES256", JWT_ES256, "SHA256", true, false, JWK_EC_P256, 32 },
	{ "ES384", JWT_ES384, "SHA384", true, false, JWK_EC_P384, 48 },
};

static const struct algorithm *algorithm_by_name(const char *name)
{
	for (size_t i = 0; i < sizeof(algorithms) / sizeof(algorithms[0]); i++)
		if (strcmp(name, algorithms[i].name) == 0)
			return &algorithms[i];
	return NULL;
}

unsigned jwt_algorithm(const char *name)
{
	const struct algorithm *a = algorithm_by_name(name);

	return a ? a->bit : 0;
}

const char *jwt_result_name(enum jwt_result r)
{
	static const char *const names[] = {
		[JWT_OK] = "ok",
		[JWT_MALFORMED] = "malformed",
		[JWT_ALGORITHM] = "algorithm",
		[JWT_UNKNOWN_KEY] = "unknown_key",
		[JWT_SIGNATURE] = "signature",
		[JWT_ISSUER] = "issuer",
		[JWT_AUDIENCE] = "audience",
		[JWT_EXPIRED] = "expired",
		[JWT_NOT_YET_VALID] = "not_yet_valid",
		[JWT_AGENT] = "agent_claim",
	};

	return (unsigned)r < sizeof(names) / sizeof(names[0]) ? names[r] : "unknown";
}

static int b64_value(unsigned char c)
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

int jwt_b64url_decode(const char *s, size_t len, unsigned char *out, size_t size, size_t *ret_len)
{
	uint32_t acc = 0;
	unsigned bits = 0;
	size_t n = 0;

	if (len % 4 == 1 || len / 4 * 3 + (len % 4 ? len % 4 - 1 : 0) > size)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		int v = b64_value((unsigned char)s[i]);

		if (v < 0)
			return -EINVAL;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[n++] = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	if (acc != 0)
		return -EINVAL;	/* bits past the last byte: not the one encoding of these bytes */
	*ret_len = n;
	return 0;
}

static enum jwt_result fail(enum jwt_result r, char *why, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static enum jwt_result fail(enum jwt_result r, char *why, size_t size, const char *fmt, ...)
{
	va_list ap;

	if (size > 0) {
		va_start(ap, fmt);
		vsnprintf(why, size, fmt, ap);
		va_end(ap);
	}
	return r;
}

/*
 * A NUL in a string cuts it short in cJSON ("sub":"ops\u0000x" is "ops"):
 * a \u0000 escape (not an escaped backslash then u0000), or a raw control
 * character, which JSON never allows but cJSON takes (and NUL among them).
 */
static bool has_nul(const unsigned char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] < 0x20 && s[i] != '\t' && s[i] != '\n' && s[i] != '\r')
			return true;
		if (s[i] != '\\' || i + 1 == n)
			continue;
		if (s[i + 1] == 'u' && i + 5 < n && memcmp(s + i + 2, "0000", 4) == 0)
			return true;
		i++;	/* the escaped character: an escaped backslash then u0000 is text */
	}
	return false;
}

static int name_order(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Two members of one name: RFC 7515 §4 and RFC 7519 §4 say refuse (cJSON would take the first, others the last). */
static bool has_duplicate_names(const cJSON *o)
{
	const char *names[JWT_MAX_BYTES / 4];	/* a member takes at least 4 bytes: "":0, */
	const cJSON *it;
	size_t n = 0;

	cJSON_ArrayForEach(it, o) {
		if (n == sizeof(names) / sizeof(names[0]))
			return true;
		names[n++] = it->string;
	}
	qsort(names, n, sizeof(names[0]), name_order);
	for (size_t i = 1; i < n; i++)
		if (strcmp(names[i - 1], names[i]) == 0)
			return true;
	return false;
}

#define JSON_RULES	" (unique names, no NUL or control character, nothing after it)"

/*
 * A part of the token decoded and parsed as a JSON object, nothing after it
 * but white space, without duplicate member names or a NUL in a string;
 * NULL when it is not one.
 */
static cJSON *json_part(const char *s, size_t len)
{
	unsigned char buf[JWT_MAX_BYTES];
	const char *end = NULL;
	size_t n;

	if (jwt_b64url_decode(s, len, buf, sizeof(buf), &n) < 0 || has_nul(buf, n))
		return NULL;
	cJSON *o = cJSON_ParseWithLengthOpts((const char *)buf, n, &end, false);

	while (o && end < (const char *)buf + n && *end && strchr(" \t\r\n", *end))
		end++;
	if (!cJSON_IsObject(o) || end != (const char *)buf + n || has_duplicate_names(o)) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

/* An EC signature is r || s (RFC 7518 §3.4); OpenSSL verifies DER. 0 and a malloc'd DER, or -1. */
static int ec_der(const unsigned char *sig, size_t len, size_t half, unsigned char **ret_der, size_t *ret_len)
{
	ECDSA_SIG *es;
	BIGNUM *r, *s;
	int n;

	if (len != 2 * half)
		return -1;
	es = ECDSA_SIG_new();
	r = BN_bin2bn(sig, (int)half, NULL);
	s = BN_bin2bn(sig + half, (int)half, NULL);
	if (!es || !r || !s || !ECDSA_SIG_set0(es, r, s)) {
		BN_free(r);
		BN_free(s);
		ECDSA_SIG_free(es);
		return -1;
	}
	*ret_der = NULL;
	n = i2d_ECDSA_SIG(es, ret_der);
	ECDSA_SIG_free(es);
	if (n <= 0)
		return -1;
	*ret_len = (size_t)n;
	return 0;
}

static bool signature_valid(const struct algorithm *a, EVP_PKEY *pkey, const char *signed_part, size_t signed_len,
			    const unsigned char *sig, size_t sig_len)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	unsigned char *der = NULL;
	bool ok = false;

	if (a->ec) {
		if (ec_der(sig, sig_len, a->half, &der, &sig_len) < 0)
			goto out;
		sig = der;
	}
	if (!md || EVP_DigestVerifyInit_ex(md, &pctx, a->digest, NULL, NULL, pkey, NULL) != 1)
		goto out;
	if (a->pss && (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) <= 0 ||
		       EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) <= 0))
		goto out;
	ok = EVP_DigestVerify(md, sig, sig_len, (const unsigned char *)signed_part, signed_len) == 1;
out:
	OPENSSL_free(der);
	EVP_MD_CTX_free(md);
	return ok;
}

static bool audience_contains(const cJSON *aud, const char *audience)
{
	const cJSON *it;

	if (cJSON_IsString(aud))
		return strcmp(aud->valuestring, audience) == 0;
	if (!cJSON_IsArray(aud))
		return false;
	cJSON_ArrayForEach(it, aud)
		if (cJSON_IsString(it) && strcmp(it->valuestring, audience) == 0)
			return true;
	return false;
}

/* A NumericDate claim: false when present and not a finite number; *present says whether it is there. */
static bool numeric_date(const cJSON *payload, const char *name, bool *present, double *value)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(payload, name);

	*present = v != NULL;
	if (!v)
		return true;
	if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
		return false;
	*value = v->valuedouble;
	return true;
}

static bool agent_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > JWT_MAX_AGENT)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return false;
	return true;
}

static enum jwt_result claims(const cJSON *payload, const struct jwt_policy *p, int64_t now, char *agent,
			      size_t agent_size, char *why, size_t why_size)
{
	const cJSON *iss = cJSON_GetObjectItemCaseSensitive(payload, "iss");
	const cJSON *who = cJSON_GetObjectItemCaseSensitive(payload, p->agent_claim);
	double exp = 0, nbf = 0, iat = 0, t = (double)now, leeway = (double)p->leeway;
	bool has_exp, has_nbf, has_iat;

	if (!cJSON_IsString(iss) || strcmp(iss->valuestring, p->issuer) != 0)
		return fail(JWT_ISSUER, why, why_size, "the issuer (iss) is not %s", p->issuer);
	if (!audience_contains(cJSON_GetObjectItemCaseSensitive(payload, "aud"), p->audience))
		return fail(JWT_AUDIENCE, why, why_size, "the audience (aud) does not contain %s", p->audience);
	if (!numeric_date(payload, "exp", &has_exp, &exp) || !has_exp)
		return fail(JWT_EXPIRED, why, why_size, "no expiry (exp) as a number");
	if (t > exp + leeway)
		return fail(JWT_EXPIRED, why, why_size, "expired %.0fs ago", t - exp);
	if (!numeric_date(payload, "nbf", &has_nbf, &nbf) || !numeric_date(payload, "iat", &has_iat, &iat))
		return fail(JWT_MALFORMED, why, why_size, "nbf or iat is not a number");
	if (has_nbf && nbf > t + leeway)
		return fail(JWT_NOT_YET_VALID, why, why_size, "not valid before %.0fs from now (nbf)", nbf - t);
	if (has_iat && iat > t + leeway)
		return fail(JWT_NOT_YET_VALID, why, why_size, "issued %.0fs in the future (iat)", iat - t);
	if (!cJSON_IsString(who) || !agent_valid(who->valuestring) || strlen(who->valuestring) >= agent_size)
		return fail(JWT_AGENT, why, why_size, "the claim %s is not a printable string of 1 to %d bytes",
			    p->agent_claim, JWT_MAX_AGENT);
	memcpy(agent, who->valuestring, strlen(who->valuestring) + 1);
	return JWT_OK;
}

enum jwt_result jwt_verify(const char *token, size_t len, const struct jwt_policy *p, const struct jwks *keys,
			   int64_t now, char *agent, size_t agent_size, char *why, size_t why_size)
{
	const char *dot1, *dot2, *alg_name, *kid_name;
	cJSON *header = NULL, *payload = NULL;
	const cJSON *alg, *kid;
	const struct algorithm *a;
	const struct jwk *key;
	unsigned char sig[JWKS_RSA_MAX_BITS / 8];	/* the longest signature: of the longest key */
	size_t sig_len;
	enum jwt_result r;

	if (agent_size > 0)
		agent[0] = '\0';
	if (why_size > 0)
		why[0] = '\0';
	if (len > JWT_MAX_BYTES)
		return fail(JWT_MALFORMED, why, why_size, "longer than %d bytes", JWT_MAX_BYTES);
	dot1 = memchr(token, '.', len);
	dot2 = dot1 ? memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token)) : NULL;
	if (!dot2 || memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - token)))
		return fail(JWT_MALFORMED, why, why_size, "not a JWT (three base64url parts)");
	header = json_part(token, (size_t)(dot1 - token));
	if (!header) {
		r = fail(JWT_MALFORMED, why, why_size, "the header is not base64url of one JSON object" JSON_RULES);
		goto out;
	}
	alg = cJSON_GetObjectItemCaseSensitive(header, "alg");
	kid = cJSON_GetObjectItemCaseSensitive(header, "kid");
	alg_name = cJSON_IsString(alg) ? alg->valuestring : NULL;
	kid_name = cJSON_IsString(kid) ? kid->valuestring : NULL;
	if ((kid && !kid_name) || cJSON_GetObjectItemCaseSensitive(header, "crit")) {
		r = fail(JWT_MALFORMED, why, why_size, "a kid that is not a string, or critical extensions (crit)");
		goto out;
	}
	a = alg_name ? algorithm_by_name(alg_name) : NULL;
	if (!a || !(p->algorithms & a->bit)) {
		r = fail(JWT_ALGORITHM, why, why_size, "algorithm %.16s is not allowed",
			 alg_name && jwt_algorithm(alg_name) ? alg_name : alg_name ? "(other)" : "(none given)");
		goto out;
	}
	key = jwks_find(keys, kid_name);
	if (!key) {
		r = fail(JWT_UNKNOWN_KEY, why, why_size, kid_name ? "no key of its kid in the key set" :
			 "no kid, and the key set has more than one key");
		goto out;
	}
	if (key->type != a->curve || (key->alg && strcmp(key->alg, a->name) != 0)) {
		r = fail(JWT_ALGORITHM, why, why_size, "algorithm %s does not match its key (%s%s)", a->name,
			 key->type == JWK_RSA ? "RSA" : key->type == JWK_EC_P256 ? "EC P-256" : "EC P-384",
			 key->alg ? ", alg given" : "");
		goto out;
	}
	if (jwt_b64url_decode(dot2 + 1, len - (size_t)(dot2 + 1 - token), sig, sizeof(sig), &sig_len) < 0 ||
	    !signature_valid(a, key->pkey, token, (size_t)(dot2 - token), sig, sig_len)) {
		r = fail(JWT_SIGNATURE, why, why_size, "the signature (%s) does not verify", a->name);
		goto out;
	}
	/* Only a signed payload is read. */
	payload = json_part(dot1 + 1, (size_t)(dot2 - dot1 - 1));
	if (!payload) {
		r = fail(JWT_MALFORMED, why, why_size, "the payload is not base64url of one JSON object" JSON_RULES);
		goto out;
	}
	r = claims(payload, p, now, agent, agent_size, why, why_size);
out:
	cJSON_Delete(header);
	cJSON_Delete(payload);
	return r;
}

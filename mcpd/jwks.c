/* A JSON Web Key Set parsed into OpenSSL keys: see jwks.h. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <cjson/cJSON.h>
#include <errno.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/param_build.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto-dl.h"
#include "jwks.h"
#include "jwt.h"
#include "xmalloc.h"

#define RSA_MIN_BITS	2048
#define RSA_MAX_BYTES	2048	/* a 16384-bit modulus */

static const char *member_string(const cJSON *o, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* A base64url member of at most max bytes, decoded; NULL when absent, not base64url or too long. */
static unsigned char *member_bytes(const cJSON *o, const char *name, size_t max, size_t *ret_len)
{
	const char *s = member_string(o, name);
	unsigned char *buf;

	if (!s || !*s || strlen(s) > (max * 4 + 2) / 3 + 1)
		return NULL;
	buf = xmalloc(strlen(s));
	if (jwt_b64url_decode(s, strlen(s), buf, strlen(s), ret_len) < 0 || *ret_len > max) {
		free(buf);
		return NULL;
	}
	return buf;
}

static EVP_PKEY *from_params(const char *type, OSSL_PARAM_BLD *bld)
{
	OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
	EVP_PKEY *pkey = NULL;

	if (!params || !ctx || EVP_PKEY_fromdata_init(ctx) <= 0 ||
	    EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0)
		pkey = NULL;
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	return pkey;
}

static EVP_PKEY *rsa_key(const cJSON *o, const char **why)
{
	size_t nlen = 0, elen = 0;
	unsigned char *n = member_bytes(o, "n", RSA_MAX_BYTES, &nlen), *e = member_bytes(o, "e", 8, &elen);
	BIGNUM *bn = n ? BN_bin2bn(n, (int)nlen, NULL) : NULL, *be = e ? BN_bin2bn(e, (int)elen, NULL) : NULL;
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	EVP_PKEY *pkey = NULL;

	if (!bn || !be) {
		*why = "an RSA key without valid \"n\" and \"e\" (base64url)";
	} else if (BN_num_bits(bn) < RSA_MIN_BITS) {
		*why = "an RSA key shorter than 2048 bits";
	} else if (BN_num_bits(bn) > JWKS_RSA_MAX_BITS) {
		*why = "an RSA key longer than 8192 bits";
	} else if (!BN_is_odd(be) || BN_is_one(be)) {
		*why = "an RSA key with an invalid exponent";
	} else if (!bld || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn) ||
		   !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be) || !(pkey = from_params("RSA", bld))) {
		*why = "an RSA key OpenSSL refused";
	}
	OSSL_PARAM_BLD_free(bld);
	BN_free(bn);
	BN_free(be);
	free(n);
	free(e);
	return pkey;
}

static EVP_PKEY *ec_key(const cJSON *o, enum jwk_type *ret_type, const char **why)
{
	const char *crv = member_string(o, "crv");
	const char *group;
	size_t size, xlen = 0, ylen = 0;
	unsigned char *x, *y, point[1 + 2 * 48];
	OSSL_PARAM_BLD *bld;
	EVP_PKEY *pkey = NULL;

	if (crv && strcmp(crv, "P-256") == 0) {
		*ret_type = JWK_EC_P256;
		group = "prime256v1";
		size = 32;
	} else if (crv && strcmp(crv, "P-384") == 0) {
		*ret_type = JWK_EC_P384;
		group = "secp384r1";
		size = 48;
	} else {
		*why = "an EC key on a curve other than P-256 and P-384";
		return NULL;
	}
	x = member_bytes(o, "x", size, &xlen);
	y = member_bytes(o, "y", size, &ylen);
	if (!x || !y || xlen != size || ylen != size) {
		*why = "an EC key without valid \"x\" and \"y\" of its curve's size";
		goto out;
	}
	point[0] = 0x04;	/* uncompressed: x then y */
	memcpy(point + 1, x, size);
	memcpy(point + 1 + size, y, size);
	bld = OSSL_PARAM_BLD_new();
	/* OpenSSL decodes the point: one that is not on the curve is refused here. */
	if (!bld || !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, group, 0) ||
	    !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, 1 + 2 * size) ||
	    !(pkey = from_params("EC", bld)))
		*why = "an EC key whose point is not on its curve";
	OSSL_PARAM_BLD_free(bld);
out:
	free(x);
	free(y);
	return pkey;
}

static bool printable(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n == 0 || n > max)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] >= 0x7f)
			return false;
	return true;
}

void jwks_free(struct jwks *set)
{
	if (!set)
		return;
	for (size_t i = 0; i < set->n; i++) {
		free(set->keys[i].kid);
		free(set->keys[i].alg);
		EVP_PKEY_free(set->keys[i].pkey);
	}
	free(set->keys);
	free(set);
}

/* -EINVAL and a message naming the key (by position) and what is wrong with it. */
static int refuse(struct jwks *set, char **ret_error, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int refuse(struct jwks *set, char **ret_error, const char *fmt, ...)
{
	va_list ap;
	char buf[256];

	jwks_free(set);
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	*ret_error = xstrdup(buf);
	return -EINVAL;
}

int jwks_parse(const char *json, size_t len, struct jwks **ret_set, char **ret_error)
{
	struct jwks *set;
	cJSON *root;
	const cJSON *keys, *k;
	unsigned i = 0;
	const char *unloadable;
	int r;

	*ret_set = NULL;
	/* Keys are OpenSSL's: libcrypto is loaded with the first key set (crypto-dl.h). */
	if (crypto_dl_load(&unloadable) < 0)
		return refuse(NULL, ret_error, "%s (Debian: libssl3)", unloadable);
	if (len > JWKS_MAX_BYTES)
		return refuse(NULL, ret_error, "the key set is larger than 256 KiB");
	root = cJSON_ParseWithLength(json, len);
	keys = cJSON_GetObjectItemCaseSensitive(root, "keys");
	if (!cJSON_IsObject(root) || !cJSON_IsArray(keys)) {
		cJSON_Delete(root);
		return refuse(NULL, ret_error, "not a JSON Web Key Set (an object with a \"keys\" array)");
	}
	set = xcalloc(1, sizeof(*set));
	cJSON_ArrayForEach(k, keys) {
		const char *kty = member_string(k, "kty"), *use = member_string(k, "use");
		const char *kid = member_string(k, "kid"), *alg = member_string(k, "alg"), *why = NULL;
		enum jwk_type type = JWK_RSA;
		EVP_PKEY *pkey;

		i++;
		if (!cJSON_IsObject(k) || !kty) {
			r = refuse(set, ret_error, "key %u: not an object with a \"kty\"", i);
			goto out;
		}
		if ((use && strcmp(use, "sig") != 0) || (strcmp(kty, "RSA") != 0 && strcmp(kty, "EC") != 0)) {
			set->skipped++;	/* an encryption key, or a secret ("oct") key: never for signatures here */
			continue;
		}
		if ((kid && !printable(kid, JWKS_MAX_KID)) || (alg && !printable(alg, 16))) {
			r = refuse(set, ret_error, "key %u: \"kid\" or \"alg\" is empty, too long or not printable", i);
			goto out;
		}
		if (set->n == JWKS_MAX_KEYS) {
			r = refuse(set, ret_error, "more than %d signing keys", JWKS_MAX_KEYS);
			goto out;
		}
		for (size_t j = 0; j < set->n; j++) {
			if ((kid == NULL) != (set->keys[j].kid == NULL) || (kid && strcmp(kid, set->keys[j].kid) != 0))
				continue;
			r = refuse(set, ret_error, "key %u: two keys with %s%s%s", i, kid ? "kid \"" : "no kid",
				   kid ? kid : "", kid ? "\"" : "");
			goto out;
		}
		pkey = strcmp(kty, "RSA") == 0 ? rsa_key(k, &why) : ec_key(k, &type, &why);
		if (!pkey) {
			r = refuse(set, ret_error, "key %u%s%s%s: %s", i, kid ? " (kid \"" : "", kid ? kid : "",
				   kid ? "\")" : "", why);
			goto out;
		}
		set->keys = xrealloc(set->keys, (set->n + 1) * sizeof(*set->keys));
		set->keys[set->n++] = (struct jwk){
			.kid = kid ? xstrdup(kid) : NULL,
			.alg = alg ? xstrdup(alg) : NULL,
			.type = type,
			.pkey = pkey,
		};
	}
	if (set->n == 0) {
		r = refuse(set, ret_error, "no RSA or EC signing key in the set");
		goto out;
	}
	*ret_set = set;
	r = 0;
out:
	cJSON_Delete(root);
	return r;
}

const struct jwk *jwks_find(const struct jwks *set, const char *kid)
{
	if (!set)
		return NULL;
	if (!kid)
		return set->n == 1 ? &set->keys[0] : NULL;
	for (size_t i = 0; i < set->n; i++)
		if (set->keys[i].kid && strcmp(set->keys[i].kid, kid) == 0)
			return &set->keys[i];
	return NULL;
}

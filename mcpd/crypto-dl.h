/*
 * libcrypto (OpenSSL 3), loaded when a JSON Web Key Set is first parsed
 * (gateway.jwt): mcpd links no libcrypto, so without gateway.jwt it never maps
 * it (about 1.4 MiB of resident memory). Only jwks.c and jwt.c call it, and
 * jwt.c only with keys that jwks.c made, so after crypto_dl_load() succeeded.
 * The code keeps OpenSSL's own names: the macros at the end route them here.
 */
#ifndef MCPD_CRYPTO_DL_H
#define MCPD_CRYPTO_DL_H

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>

struct crypto_dl {
	__typeof__(BN_bin2bn) *bn_bin2bn;
	__typeof__(BN_free) *bn_free;
	__typeof__(BN_is_odd) *bn_is_odd;
	__typeof__(BN_is_one) *bn_is_one;
	__typeof__(BN_num_bits) *bn_num_bits;
	__typeof__(ECDSA_SIG_new) *ecdsa_sig_new;
	__typeof__(ECDSA_SIG_free) *ecdsa_sig_free;
	__typeof__(ECDSA_SIG_set0) *ecdsa_sig_set0;
	__typeof__(i2d_ECDSA_SIG) *i2d_ecdsa_sig;
	__typeof__(EVP_MD_CTX_new) *evp_md_ctx_new;
	__typeof__(EVP_MD_CTX_free) *evp_md_ctx_free;
	__typeof__(EVP_DigestVerifyInit_ex) *evp_digestverifyinit_ex;
	__typeof__(EVP_DigestVerify) *evp_digestverify;
	__typeof__(EVP_PKEY_CTX_new_from_name) *evp_pkey_ctx_new_from_name;
	__typeof__(EVP_PKEY_CTX_free) *evp_pkey_ctx_free;
	__typeof__(EVP_PKEY_CTX_set_rsa_padding) *evp_pkey_ctx_set_rsa_padding;
	__typeof__(EVP_PKEY_CTX_set_rsa_pss_saltlen) *evp_pkey_ctx_set_rsa_pss_saltlen;
	__typeof__(EVP_PKEY_fromdata_init) *evp_pkey_fromdata_init;
	__typeof__(EVP_PKEY_fromdata) *evp_pkey_fromdata;
	__typeof__(EVP_PKEY_free) *evp_pkey_free;
	__typeof__(OSSL_PARAM_BLD_new) *ossl_param_bld_new;
	__typeof__(OSSL_PARAM_BLD_free) *ossl_param_bld_free;
	__typeof__(OSSL_PARAM_BLD_push_BN) *ossl_param_bld_push_bn;
	__typeof__(OSSL_PARAM_BLD_push_utf8_string) *ossl_param_bld_push_utf8_string;
	__typeof__(OSSL_PARAM_BLD_push_octet_string) *ossl_param_bld_push_octet_string;
	__typeof__(OSSL_PARAM_BLD_to_param) *ossl_param_bld_to_param;
	__typeof__(OSSL_PARAM_free) *ossl_param_free;
	__typeof__(CRYPTO_free) *crypto_free;
};

extern struct crypto_dl crypto_dl;

/*
 * Load libcrypto (once; later calls return the first outcome): 0, or -1 with
 * *ret_error (static, never NULL) saying why.
 */
int crypto_dl_load(const char **ret_error);

#ifndef CRYPTO_DL_SELF
#define BN_bin2bn (crypto_dl.bn_bin2bn)
#define BN_free (crypto_dl.bn_free)
#define BN_is_odd (crypto_dl.bn_is_odd)
#define BN_is_one (crypto_dl.bn_is_one)
#define BN_num_bits (crypto_dl.bn_num_bits)
#define ECDSA_SIG_new (crypto_dl.ecdsa_sig_new)
#define ECDSA_SIG_free (crypto_dl.ecdsa_sig_free)
#define ECDSA_SIG_set0 (crypto_dl.ecdsa_sig_set0)
#define i2d_ECDSA_SIG (crypto_dl.i2d_ecdsa_sig)
#define EVP_MD_CTX_new (crypto_dl.evp_md_ctx_new)
#define EVP_MD_CTX_free (crypto_dl.evp_md_ctx_free)
#define EVP_DigestVerifyInit_ex (crypto_dl.evp_digestverifyinit_ex)
#define EVP_DigestVerify (crypto_dl.evp_digestverify)
#define EVP_PKEY_CTX_new_from_name (crypto_dl.evp_pkey_ctx_new_from_name)
#define EVP_PKEY_CTX_free (crypto_dl.evp_pkey_ctx_free)
#define EVP_PKEY_CTX_set_rsa_padding (crypto_dl.evp_pkey_ctx_set_rsa_padding)
#define EVP_PKEY_CTX_set_rsa_pss_saltlen (crypto_dl.evp_pkey_ctx_set_rsa_pss_saltlen)
#define EVP_PKEY_fromdata_init (crypto_dl.evp_pkey_fromdata_init)
#define EVP_PKEY_fromdata (crypto_dl.evp_pkey_fromdata)
#define EVP_PKEY_free (crypto_dl.evp_pkey_free)
#define OSSL_PARAM_BLD_new (crypto_dl.ossl_param_bld_new)
#define OSSL_PARAM_BLD_free (crypto_dl.ossl_param_bld_free)
#define OSSL_PARAM_BLD_push_BN (crypto_dl.ossl_param_bld_push_bn)
#define OSSL_PARAM_BLD_push_utf8_string (crypto_dl.ossl_param_bld_push_utf8_string)
#define OSSL_PARAM_BLD_push_octet_string (crypto_dl.ossl_param_bld_push_octet_string)
#define OSSL_PARAM_BLD_to_param (crypto_dl.ossl_param_bld_to_param)
#define OSSL_PARAM_free (crypto_dl.ossl_param_free)
#undef OPENSSL_free
#define OPENSSL_free(p) (crypto_dl.crypto_free((p), OPENSSL_FILE, OPENSSL_LINE))
#endif

#endif

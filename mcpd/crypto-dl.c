/* libcrypto loaded when a key set is first parsed: see crypto-dl.h. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif


#define CRYPTO_DL_SELF
#include "crypto-dl.h"
#include "dlib.h"

#ifndef MCPD_LIBCRYPTO
#define MCPD_LIBCRYPTO "libcrypto.so.3"
#endif

struct crypto_dl crypto_dl;

#define SYM(field, name) { name, (void **)&crypto_dl.field }

int crypto_dl_load(const char **ret_error)
{
	static struct dlib_once once;
	const struct dlib_sym syms[] = {
		SYM(bn_bin2bn, "BN_bin2bn"),
		SYM(bn_free, "BN_free"),
		SYM(bn_is_odd, "BN_is_odd"),
		SYM(bn_is_one, "BN_is_one"),
		SYM(bn_num_bits, "BN_num_bits"),
		SYM(ecdsa_sig_new, "ECDSA_SIG_new"),
		SYM(ecdsa_sig_free, "ECDSA_SIG_free"),
		SYM(ecdsa_sig_set0, "ECDSA_SIG_set0"),
		SYM(i2d_ecdsa_sig, "i2d_ECDSA_SIG"),
		SYM(evp_md_ctx_new, "EVP_MD_CTX_new"),
		SYM(evp_md_ctx_free, "EVP_MD_CTX_free"),
		SYM(evp_digestverifyinit_ex, "EVP_DigestVerifyInit_ex"),
		SYM(evp_digestverify, "EVP_DigestVerify"),
		SYM(evp_pkey_ctx_new_from_name, "EVP_PKEY_CTX_new_from_name"),
		SYM(evp_pkey_ctx_free, "EVP_PKEY_CTX_free"),
		SYM(evp_pkey_ctx_set_rsa_padding, "EVP_PKEY_CTX_set_rsa_padding"),
		SYM(evp_pkey_ctx_set_rsa_pss_saltlen, "EVP_PKEY_CTX_set_rsa_pss_saltlen"),
		SYM(evp_pkey_fromdata_init, "EVP_PKEY_fromdata_init"),
		SYM(evp_pkey_fromdata, "EVP_PKEY_fromdata"),
		SYM(evp_pkey_free, "EVP_PKEY_free"),
		SYM(ossl_param_bld_new, "OSSL_PARAM_BLD_new"),
		SYM(ossl_param_bld_free, "OSSL_PARAM_BLD_free"),
		SYM(ossl_param_bld_push_bn, "OSSL_PARAM_BLD_push_BN"),
		SYM(ossl_param_bld_push_utf8_string, "OSSL_PARAM_BLD_push_utf8_string"),
		SYM(ossl_param_bld_push_octet_string, "OSSL_PARAM_BLD_push_octet_string"),
		SYM(ossl_param_bld_to_param, "OSSL_PARAM_BLD_to_param"),
		SYM(ossl_param_free, "OSSL_PARAM_free"),
		SYM(crypto_free, "CRYPTO_free"),
	};

	/* Every slot is set at once, or none: never half stand-ins, half the library. */
	return dlib_load_once(&once, "libcrypto", MCPD_LIBCRYPTO, syms, sizeof(syms) / sizeof(*syms), ret_error);
}

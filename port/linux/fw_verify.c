/* ECDSA-P256 verification of firmware signatures with OpenSSL 3, and PUB.pem loading: the Linux port's fw_verify. */
#include "alfa/fw_verify.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <string.h>

static EVP_PKEY *key_of_point(const uint8_t point[ALFA_FW_KEY_SIZE])
{
    EVP_PKEY *pkey = NULL;
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    if (bld == NULL || ctx == NULL ||
        OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) != 1 ||
        OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, ALFA_FW_KEY_SIZE) != 1 ||
        (params = OSSL_PARAM_BLD_to_param(bld)) == NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1) {
        EVP_PKEY_free(pkey);
        pkey = NULL;
    }
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    EVP_PKEY_CTX_free(ctx);
    return pkey;
}

int alfa_fw_verify(const uint8_t point[ALFA_FW_KEY_SIZE], const uint8_t digest[32], const uint8_t sig[64])
{
    if (point == NULL || digest == NULL || sig == NULL || point[0] != 0x04u) {
        return -1;
    }
    int ok = 0;
    EVP_PKEY *pkey = key_of_point(point);
    ECDSA_SIG *es = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(sig, 32, NULL), *s = BN_bin2bn(sig + 32, 32, NULL);
    unsigned char *der = NULL;
    EVP_PKEY_CTX *vctx = NULL;
    if (pkey != NULL && es != NULL && r != NULL && s != NULL && ECDSA_SIG_set0(es, r, s) == 1) {
        r = s = NULL; /* owned by es now */
        int len = i2d_ECDSA_SIG(es, &der);
        vctx = EVP_PKEY_CTX_new(pkey, NULL);
        ok = len > 0 && vctx != NULL && EVP_PKEY_verify_init(vctx) == 1 &&
             EVP_PKEY_verify(vctx, der, (size_t)len, digest, 32) == 1;
    }
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(es);
    OPENSSL_free(der);
    EVP_PKEY_CTX_free(vctx);
    EVP_PKEY_free(pkey);
    return ok ? 0 : -1;
}

int alfa_fw_verify_any(const uint8_t (*keys)[ALFA_FW_KEY_SIZE], size_t n, const uint8_t digest[32],
                       const uint8_t sig[64])
{
    for (size_t i = 0; i < n; i++) {
        if (alfa_fw_verify(keys[i], digest, sig) == 0) {
            return 0;
        }
    }
    return -1;
}

int alfa_fw_pub_load(const char *path, uint8_t point[ALFA_FW_KEY_SIZE])
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        return -1;
    }
    EVP_PKEY *pkey = PEM_read_PUBKEY(f, NULL, NULL, NULL);
    fclose(f);
    if (pkey == NULL) {
        return -1;
    }
    char group[64] = "";
    size_t glen = 0, plen = 0;
    uint8_t buf[ALFA_FW_KEY_SIZE + 8];
    int ok = EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group), &glen) == 1 &&
             strcmp(group, "prime256v1") == 0 &&
             EVP_PKEY_get_octet_string_param(pkey, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, buf, sizeof(buf), &plen) == 1 &&
             plen == ALFA_FW_KEY_SIZE && buf[0] == 0x04u;
    EVP_PKEY_free(pkey);
    if (!ok) {
        return -1;
    }
    memcpy(point, buf, ALFA_FW_KEY_SIZE);
    return 0;
}

/* Signed firmware images on the host: P-256 keys (OpenSSL), deterministic ECDSA signatures, image assembly. */
#include "fwsign.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "alfa/bytes.h"
#include "alfa/sha256.h"

static void hmac_sha256(const uint8_t *key, size_t klen, const uint8_t *msg, size_t mlen, uint8_t out[32])
{
    uint8_t k0[64], pad[64], inner[32];
    memset(k0, 0, sizeof(k0));
    memcpy(k0, key, klen < 64 ? klen : 64); /* keys here are 32 bytes */
    alfa_sha256_t h;
    for (int i = 0; i < 64; i++) pad[i] = (uint8_t)(k0[i] ^ 0x36u);
    alfa_sha256_init(&h);
    alfa_sha256_update(&h, pad, 64);
    alfa_sha256_update(&h, msg, mlen);
    alfa_sha256_final(&h, inner);
    for (int i = 0; i < 64; i++) pad[i] = (uint8_t)(k0[i] ^ 0x5Cu);
    alfa_sha256_init(&h);
    alfa_sha256_update(&h, pad, 64);
    alfa_sha256_update(&h, inner, 32);
    alfa_sha256_final(&h, out);
}

/* point = d * G on P-256. */
static int point_of(const uint8_t d[32], uint8_t point[65])
{
    int ok = 0;
    EC_GROUP *g = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
    BN_CTX *ctx = BN_CTX_new();
    BIGNUM *bd = BN_bin2bn(d, 32, NULL);
    EC_POINT *p = g != NULL ? EC_POINT_new(g) : NULL;
    if (g != NULL && ctx != NULL && bd != NULL && p != NULL && !BN_is_zero(bd) &&
        BN_cmp(bd, EC_GROUP_get0_order(g)) < 0 && EC_POINT_mul(g, p, bd, NULL, NULL, ctx) == 1 &&
        EC_POINT_point2oct(g, p, POINT_CONVERSION_UNCOMPRESSED, point, 65, ctx) == 65) {
        ok = 1;
    }
    EC_POINT_free(p);
    BN_free(bd);
    BN_CTX_free(ctx);
    EC_GROUP_free(g);
    return ok ? 0 : -1;
}

int alfa_fwsign_keygen(const char *key_path, const char *pub_path)
{
    EVP_PKEY *pkey = EVP_EC_gen("P-256");
    if (pkey == NULL) {
        fprintf(stderr, "alfaspark-sign: key generation failed\n");
        return -1;
    }
    int rc = -1;
    mode_t old = umask(077); /* the private key is readable by its owner only */
    FILE *fk = fopen(key_path, "w");
    umask(old);
    FILE *fp = fk != NULL ? fopen(pub_path, "w") : NULL;
    if (fk != NULL && fp != NULL && PEM_write_PrivateKey(fk, pkey, NULL, NULL, 0, NULL, NULL) == 1 &&
        PEM_write_PUBKEY(fp, pkey) == 1) {
        rc = 0;
    } else {
        fprintf(stderr, "alfaspark-sign: cannot write %s / %s\n", key_path, pub_path);
    }
    if (fk != NULL && fclose(fk) != 0) rc = -1;
    if (fp != NULL && fclose(fp) != 0) rc = -1;
    EVP_PKEY_free(pkey);
    return rc;
}

int alfa_fwsign_load(const char *key_path, alfa_fwsign_key_t *k)
{
    FILE *f = fopen(key_path, "r");
    if (f == NULL) {
        return -1;
    }
    EVP_PKEY *pkey = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    if (pkey == NULL) {
        return -1;
    }
    BIGNUM *d = NULL;
    char group[64] = "";
    size_t glen = 0;
    int ok = EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group), &glen) == 1 &&
             strcmp(group, "prime256v1") == 0 && EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_PRIV_KEY, &d) == 1 &&
             BN_bn2binpad(d, k->d, 32) == 32 && point_of(k->d, k->point) == 0;
    BN_clear_free(d);
    EVP_PKEY_free(pkey);
    return ok ? 0 : -1;
}

int alfa_fwsign_key_from_seed(uint64_t seed, alfa_fwsign_key_t *k)
{
    uint8_t msg[24];
    memcpy(msg, "alfaspark-test-key", 18);
    for (int i = 0; i < 6; i++) msg[18 + i] = (uint8_t)(seed >> (8 * i));
    for (uint32_t ctr = 0; ctr < 16u; ctr++) {
        msg[17] = (uint8_t)('y' + ctr);
        alfa_sha256(msg, sizeof(msg), k->d);
        if (point_of(k->d, k->point) == 0) {
            return 0;
        }
    }
    return -1;
}

int alfa_fwsign_sign(const alfa_fwsign_key_t *k, const uint8_t digest[32], uint8_t sig[64])
{
    int ok = 0;
    EC_GROUP *g = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
    BN_CTX *ctx = BN_CTX_new();
    EC_POINT *R = g != NULL ? EC_POINT_new(g) : NULL;
    BIGNUM *d = BN_bin2bn(k->d, 32, NULL), *e = BN_bin2bn(digest, 32, NULL);
    BIGNUM *kk = BN_new(), *x = BN_new(), *r = BN_new(), *s = BN_new(), *kinv = BN_new(), *t = BN_new();
    if (g == NULL || ctx == NULL || R == NULL || d == NULL || e == NULL || kk == NULL || x == NULL || r == NULL ||
        s == NULL || kinv == NULL || t == NULL) {
        goto out;
    }
    const BIGNUM *n = EC_GROUP_get0_order(g);
    for (uint8_t ctr = 0; ctr < 64u && !ok; ctr++) {
        uint8_t msg[33], nonce[32];
        memcpy(msg, digest, 32);
        msg[32] = ctr;
        hmac_sha256(k->d, 32, msg, sizeof(msg), nonce);
        if (BN_bin2bn(nonce, 32, kk) == NULL || BN_nnmod(kk, kk, n, ctx) != 1 || BN_is_zero(kk)) {
            continue;
        }
        /* r = (k G).x mod n;  s = k^-1 (e + r d) mod n */
        if (EC_POINT_mul(g, R, kk, NULL, NULL, ctx) != 1 || EC_POINT_get_affine_coordinates(g, R, x, NULL, ctx) != 1 ||
            BN_nnmod(r, x, n, ctx) != 1 || BN_is_zero(r) || BN_mod_inverse(kinv, kk, n, ctx) == NULL ||
            BN_mod_mul(t, r, d, n, ctx) != 1 || BN_mod_add(t, t, e, n, ctx) != 1 ||
            BN_mod_mul(s, kinv, t, n, ctx) != 1 || BN_is_zero(s)) {
            continue;
        }
        ok = BN_bn2binpad(r, sig, 32) == 32 && BN_bn2binpad(s, sig + 32, 32) == 32;
    }
out:
    BN_clear_free(kk);
    BN_clear_free(kinv);
    BN_clear_free(d);
    BN_free(e);
    BN_free(x);
    BN_free(r);
    BN_free(s);
    BN_free(t);
    EC_POINT_free(R);
    BN_CTX_free(ctx);
    EC_GROUP_free(g);
    return ok ? 0 : -1;
}

int alfa_fwsign_image(const alfa_fwsign_key_t *k, const alfa_fwimg_hdr_t *fields, const uint8_t *payload,
                      uint32_t len, uint8_t *out)
{
    alfa_fwimg_hdr_t h = *fields;
    h.image_size = len;
    h.key_id = k != NULL ? alfa_fwimg_key_id(k->point) : 0u;
    alfa_sha256(payload, len, h.sha256);
    if (alfa_fwimg_write(&h, out) != 0) {
        return -1;
    }
    memset(out + ALFA_FWIMG_HEADER_SIZE, 0, ALFA_FWIMG_SIG_SIZE);
    if (k != NULL) {
        uint8_t digest[32];
        alfa_fwimg_signed_digest(out, digest);
        if (alfa_fwsign_sign(k, digest, out + ALFA_FWIMG_HEADER_SIZE) != 0) {
            return -1;
        }
    }
    memcpy(out + ALFA_FWIMG_MANIFEST_SIZE, payload, len);
    return 0;
}

int alfa_fwsign_parse_version(const char *s, uint8_t *major, uint8_t *minor, uint8_t *patch)
{
    unsigned a, b, c;
    char tail;
    if (sscanf(s, "%u.%u.%u%c", &a, &b, &c, &tail) != 3 || a > 31u || b > 63u || c > 31u) {
        return -1;
    }
    *major = (uint8_t)a;
    *minor = (uint8_t)b;
    *patch = (uint8_t)c;
    return 0;
}

/* The firmware signature check on the board: ECDSA-P256 over SHA-256 with mbedTLS, against each compiled-in public key. */
#include "alfa/esp32/fw_verify.h"

#include "alfa/port.h"
#include "mbedtls/ecdsa.h"
#include "mbedtls/ecp.h"
#include "mbedtls/bignum.h"

int32_t alfa_esp32_fw_verify(const uint8_t (*keys)[ALFA_ESP32_FW_KEY_SIZE], size_t n, const uint8_t digest[32],
                             const uint8_t sig[64])
{
    if (keys == NULL || digest == NULL || sig == NULL) {
        return ALFA_PORT_E_IO;
    }
    mbedtls_ecp_group grp;
    mbedtls_ecp_point q;
    mbedtls_mpi r, s;
    mbedtls_ecp_group_init(&grp);
    mbedtls_ecp_point_init(&q);
    mbedtls_mpi_init(&r);
    mbedtls_mpi_init(&s);
    int32_t rc = ALFA_PORT_E_IO;
    if (mbedtls_ecp_group_load(&grp, MBEDTLS_ECP_DP_SECP256R1) == 0 && mbedtls_mpi_read_binary(&r, sig, 32) == 0 &&
        mbedtls_mpi_read_binary(&s, sig + 32, 32) == 0) {
        for (size_t i = 0; i < n && rc != ALFA_PORT_OK; i++) {
            /* Only uncompressed points: what export-c writes. A key off the curve is skipped. */
            if (keys[i][0] == 0x04u &&
                mbedtls_ecp_point_read_binary(&grp, &q, keys[i], ALFA_ESP32_FW_KEY_SIZE) == 0 &&
                mbedtls_ecp_check_pubkey(&grp, &q) == 0 && mbedtls_ecdsa_verify(&grp, digest, 32, &q, &r, &s) == 0) {
                rc = ALFA_PORT_OK;
            }
        }
    }
    mbedtls_mpi_free(&s);
    mbedtls_mpi_free(&r);
    mbedtls_ecp_point_free(&q);
    mbedtls_ecp_group_free(&grp);
    return rc;
}

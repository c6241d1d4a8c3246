/* Fuzzes the settings blob decoder: any accepted blob is valid and re-encodes to the same bytes; a refused one changes nothing. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "alfa/settings.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    alfa_settings_t s, before;
    memset(&s, 0x5A, sizeof s);
    before = s;
    /* Most random blobs die on the header; give the fields a chance by adding one. */
    uint8_t blob[ALFA_SETTINGS_BLOB_SIZE];
    const uint8_t *in = data;
    size_t len = size;
    if (size > 0 && data[0] == 0xA5u) {
        memset(blob, 0, sizeof blob);
        blob[0] = 'A';
        blob[1] = 'S';
        blob[2] = ALFA_SETTINGS_BLOB_VERSION;
        blob[3] = ALFA_SET_COUNT;
        size_t n = size - 1 < sizeof blob - 4 ? size - 1 : sizeof blob - 4;
        memcpy(blob + 4, data + 1, n);
        in = blob;
        len = sizeof blob;
    } else if (size > 0 && data[0] == 0xA6u) {
        /* Small changes to a valid blob: reaches the accepted path and every field's check. */
        alfa_settings_t d;
        alfa_settings_defaults(&d);
        if (alfa_settings_encode(&d, blob, sizeof blob) != (int)sizeof blob) {
            abort();
        }
        for (size_t k = 1; k < size && k - 1 < sizeof blob; k++) {
            blob[k - 1] ^= data[k];
        }
        in = blob;
        len = sizeof blob;
    }
    const char *why = NULL;
    int rc = alfa_settings_decode(&s, in, len, &why);
    if (rc != ALFA_PROTO_OK) {
        if (memcmp(&s, &before, sizeof s) != 0 || why == NULL) {
            abort();
        }
        return 0;
    }
    if (alfa_settings_validate(&s, NULL, NULL) != ALFA_PROTO_OK) {
        abort();
    }
    uint8_t out[ALFA_SETTINGS_BLOB_SIZE];
    if (alfa_settings_encode(&s, out, sizeof out) != (int)ALFA_SETTINGS_BLOB_SIZE ||
        memcmp(out, in, len) != 0) {
        abort();
    }
    return 0;
}

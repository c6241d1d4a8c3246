/* The firmware-signing public keys compiled into this build: a C file generated from PUB.pem files at build time. */
#ifndef ALFA_FW_KEYS_H
#define ALFA_FW_KEYS_H

/*
 * CMake option ALFA_FW_PUBKEYS names the PUB.pem files (a list: several keys during a rotation);
 * by default it is a development key made at configure time in build/keys/ (its private half stays
 * there and never enters the repository). `alfaspark-sign export-c` writes the generated file;
 * library alfa_fw_keys holds it. A pack trusts exactly these keys.
 */

#include <stddef.h>
#include <stdint.h>
#include "alfa/fw_verify.h"

extern const uint8_t alfa_fw_keys[][ALFA_FW_KEY_SIZE];
extern const size_t alfa_fw_key_count;

#endif

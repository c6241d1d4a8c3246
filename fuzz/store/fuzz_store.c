/* libFuzzer target: arbitrary flash contents for the settings store's boot reader, then a save that must win. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alfa/flash_sim.h"
#include "alfa/store.h"

/* Small regions so the fuzzer's inputs (up to 4 KiB by default) cover them whole. */
static const alfa_flash_geom_t fuzz_geoms[] = {
    {256u, 2u, 1u, 0xFFu},  {256u, 3u, 4u, 0x00u},   {512u, 2u, 16u, 0xFFu},
    {1024u, 2u, 8u, 0x00u}, {1024u, 3u, 32u, 0xFFu}, {512u, 4u, 2u, 0xFFu},
};

static int boot(alfa_port_t *port, alfa_store_t *st, uint8_t *blob, uint32_t *len, alfa_store_found_t *found)
{
    uint16_t format = 0u;
    return alfa_store_init(st, port, blob, ALFA_STORE_BLOB_MAX, len, &format, found);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1u) {
        return 0;
    }
    const alfa_flash_geom_t *g = &fuzz_geoms[data[0] % (sizeof(fuzz_geoms) / sizeof(fuzz_geoms[0]))];
    alfa_flash_sim_t sim;
    if (alfa_flash_sim_init(&sim, g) != 0) {
        abort();
    }
    alfa_port_t port;
    memset(&port, 0, sizeof(port));
    alfa_flash_sim_port(&sim, &port);
    alfa_store_t *st = malloc(sizeof(*st));
    uint8_t blob[ALFA_STORE_BLOB_MAX];
    uint32_t len = 0u;
    alfa_store_found_t found;
    if (st == NULL) {
        abort();
    }
    if ((data[0] & 0x80u) == 0u) {
        /* Raw mode: the input is the flash image. */
        alfa_flash_sim_load(&sim, data + 1, size - 1u);
    } else {
        /* Structured mode: real records written by the store (so CRCs and markers are valid),
         * then damaged by XOR patches from the input, to reach the paths raw bytes rarely do. */
        size_t at = 1u;
        if (boot(&port, st, blob, &len, &found) != ALFA_OK) {
            abort();
        }
        uint32_t now = 0u;
        uint32_t records = size > 1u ? data[at++] % 24u : 0u;
        for (uint32_t k = 0; k < records && at < size; k++) {
            uint32_t n = 1u + data[at++] % 96u;
            if (data[at - 1u] == 0xFFu) {
                if (alfa_store_factory_reset(st, now) != ALFA_OK) {
                    abort(); /* only queues in RAM: a refusal is a bug */
                }
            } else {
                for (uint32_t i = 0; i < n; i++) {
                    blob[i] = at + i < size ? data[at + i] : (uint8_t)i;
                }
                at += n < size - at ? n : size - at;
                if (alfa_store_save(st, (uint16_t)k, blob, n, now) != ALFA_OK) {
                    abort();
                }
            }
            now += ALFA_STORE_QUIET_MS;
            while (alfa_store_process(st, now) == 1) {
            }
        }
        uint32_t total = g->block_size * g->block_count;
        while (at + 3u <= size) {
            uint32_t off = ((uint32_t)data[at] | ((uint32_t)data[at + 1u] << 8)) % total;
            sim.mem[off] ^= data[at + 2u];
            at += 3u;
        }
        alfa_flash_sim_load(&sim, sim.mem, total);
    }

    /* Whatever is on flash, boot gives a clear answer and never a blob longer than the maximum. */
    if (boot(&port, st, blob, &len, &found) != ALFA_OK || len > ALFA_STORE_BLOB_MAX) {
        abort();
    }
    if (found != ALFA_STORE_FOUND_RECORD && len != 0u) {
        abort();
    }

    /* And the pack is never bricked: a save on top of anything is what the next boot loads. */
    uint8_t want[48];
    for (size_t i = 0; i < sizeof(want); i++) {
        want[i] = (uint8_t)(0xA0u + i + size);
    }
    uint32_t now = 1000u;
    if (alfa_store_save(st, 3u, want, sizeof(want), now) != ALFA_OK) {
        abort();
    }
    now += ALFA_STORE_QUIET_MS;
    int rc = 1;
    for (int i = 0; i < 64 && rc == 1; i++) {
        rc = alfa_store_process(st, now);
    }
    if (rc != 0 || alfa_store_busy(st) || sim.rule_breaks != 0u) {
        abort();
    }
    if (boot(&port, st, blob, &len, &found) != ALFA_OK || found != ALFA_STORE_FOUND_RECORD || len != sizeof(want) ||
        memcmp(blob, want, sizeof(want)) != 0) {
        abort();
    }
    free(st);
    alfa_flash_sim_free(&sim);
    return 0;
}

/* Settings-store wear figures: one simulated year of 50 setting changes a day on the ESP32 partition plan, counted on the flash simulator. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alfa/flash_sim.h"
#include "alfa/settings.h"
#include "alfa/store.h"

/* The ESP32 raw partition plan (docs/store.md): 4 sectors of 4 KiB, 16-byte program unit as
 * with flash encryption on, erased 0xFF. */
static const alfa_flash_geom_t esp32_plan = {4096u, 4u, 16u, 0xFFu};
#define CHANGES_PER_DAY 50u
#define DAYS 365u
#define ERASE_ENDURANCE 100000u /* ESP32 SPI NOR flash: 100,000 erase cycles per sector */

int main(void)
{
    alfa_flash_sim_t sim;
    alfa_port_t port;
    alfa_store_t *st = calloc(1, sizeof(*st));
    if (st == NULL || alfa_flash_sim_init(&sim, &esp32_plan) != 0) {
        fprintf(stderr, "bench-store: out of memory\n");
        return 1;
    }
    memset(&port, 0, sizeof(port));
    alfa_flash_sim_port(&sim, &port);
    uint8_t blob[ALFA_STORE_BLOB_MAX];
    uint32_t len;
    uint16_t format;
    if (alfa_store_init(st, &port, blob, sizeof(blob), &len, &format, NULL) != ALFA_OK) {
        fprintf(stderr, "bench-store: init failed\n");
        return 1;
    }

    /* A heavy user: 50 changes a day, each far enough from the next (28.8 min) that none is
     * coalesced with another, which is the worst case for wear. Each change moves the Eco limit
     * through its whole range, so every blob differs from the last. */
    alfa_settings_t s;
    alfa_settings_defaults(&s);
    const alfa_setting_desc_t *d = alfa_settings_desc(ALFA_SET_ECO_LIMIT_W);
    uint32_t now = 0u;
    uint32_t changes = 0u;
    int32_t value = d->min;
    for (uint32_t day = 0; day < DAYS; day++) {
        for (uint32_t k = 0; k < CHANGES_PER_DAY; k++) {
            value = value + 100 > d->max ? d->min : value + 100;
            if (alfa_settings_set(&s, ALFA_SET_ECO_LIMIT_W, value, NULL) < 0) {
                fprintf(stderr, "bench-store: setting refused\n");
                return 1;
            }
            int n = alfa_settings_encode(&s, blob, sizeof(blob));
            if (n <= 0 || alfa_store_save(st, (uint16_t)ALFA_SETTINGS_BLOB_VERSION, blob, (uint32_t)n, now) != ALFA_OK) {
                fprintf(stderr, "bench-store: save failed\n");
                return 1;
            }
            len = (uint32_t)n;
            changes++;
            now += 86400000u / CHANGES_PER_DAY;
            int rc;
            while ((rc = alfa_store_process(st, now)) == 1) {
            }
            if (rc != 0) {
                fprintf(stderr, "bench-store: write failed\n");
                return 1;
            }
        }
    }
    const alfa_store_stats_t *stats = alfa_store_stats(st);
    if (stats->records_written != changes) {
        fprintf(stderr, "bench-store: %" PRIu32 " records for %" PRIu32 " changes\n", stats->records_written, changes);
        return 1;
    }
    uint32_t worst = 0u;
    for (uint32_t b = 0; b < esp32_plan.block_count; b++) {
        worst = sim.wear[b] > worst ? sim.wear[b] : worst;
    }
    printf("bench store_blob_bytes %" PRIu32 " bytes\n", len);
    printf("bench store_bytes_per_change %" PRIu64 " bytes\n", sim.bytes_programmed / changes);
    printf("bench store_flash_programs_per_year %" PRIu64 " programs\n", sim.progs);
    printf("bench store_erase_cycles_per_year %" PRIu32 " cycles\n", worst);
    printf("bench store_years_to_wearout %" PRIu32 " years\n", worst == 0u ? 0u : ERASE_ENDURANCE / worst);
    alfa_flash_sim_free(&sim);
    free(st);
    return 0;
}

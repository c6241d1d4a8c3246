/* Fuzz target: any bytes as a scenario file must give a clean parse or a clean error, never a crash. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alfa/scenario.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (text == NULL) {
        return 0;
    }
    memcpy(text, data, size);
    text[size] = '\0';
    alfa_scn_t s;
    char err[256];
    /* The first byte picks a --packs override, so the override path is fuzzed too. */
    uint8_t packs = size ? (uint8_t)(data[0] % 5u) : 0u;
    if (alfa_scn_parse_string("fuzz.scn", text, packs, &s, err, sizeof(err)) == 0) {
        /* A scenario that parsed must run through the engine without trouble. */
        alfa_scn_engine_t e;
        if (alfa_scn_engine_init(&e, &s) == 0) {
            alfa_scn_pack_obs_t packs_obs[ALFA_SCN_MAX_PACKS];
            memset(packs_obs, 0, sizeof(packs_obs));
            alfa_site_totals_t site;
            memset(&site, 0, sizeof(site));
            alfa_scn_obs_t obs = {s.pack_count, packs_obs, &site, 1};
            int64_t step = s.duration_ms / 16 + 1;
            for (int64_t t = 0; t <= s.duration_ms; t += step) {
                while (alfa_scn_engine_next_action(&e, t) != NULL) {
                }
                packs_obs[0].t.soc_pct = (uint8_t)(t / step);
                alfa_scn_engine_observe(&e, t, &obs);
            }
            alfa_scn_engine_finish(&e, s.duration_ms);
            alfa_scn_engine_free(&e);
        }
        alfa_scn_free(&s);
    } else if (err[0] == '\0') {
        abort(); /* every refusal says why */
    }
    free(text);
    return 0;
}

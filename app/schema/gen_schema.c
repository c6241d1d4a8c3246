/* alfaspark-app-schema: writes the settings table and the gateway's names as JSON, so the app validates with the gateway's own ranges. */
#include <stdio.h>
#include <string.h>

#include "alfa/gw_cmd.h"
#include "alfa/gw_history.h"
#include "alfa/settings.h"

/*
 * The app (app/src/schema.ts) never restates a range: it reads this file, generated at build
 * time from protocol/include/alfa/settings.h (the table the packs and the gateway's command
 * parser use) and the gateway's name tables. Cross-field rules live in C code
 * (alfa_settings_check), so they are measured here by asking that very function: the smallest
 * gap the self-consumption thresholds may have, and, for small ranges where the check refuses
 * some in-range values (mains 50 or 60 Hz), the list of allowed values.
 */

static void str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') fputc('\\', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static void names(FILE *f, const char *key, const char *(*fn)(uint32_t))
{
    fprintf(f, ",\n  \"%s\": [", key);
    for (uint32_t k = 0; fn(k) != NULL; k++) {
        if (k) fputc(',', f);
        str(f, fn(k));
    }
    fputc(']', f);
}

static const char *result_name(uint32_t k) { return k < GW_R_COUNT ? gw_result_name((gw_result_t)k) : NULL; }
static const char *series_name(uint32_t k) { return gw_hist_series_name(k); }

int main(int argc, char **argv)
{
    FILE *f = stdout;
    if (argc == 2 && (f = fopen(argv[1], "w")) == NULL) {
        perror(argv[1]);
        return 1;
    }
    static const char *const types[] = {"int", "bool", "enum", "minute", "mask"};
    alfa_settings_t def;
    alfa_settings_defaults(&def);
    fprintf(f, "{\n  \"generated_by\": \"alfaspark-app-schema from protocol/include/alfa/settings.h\",\n  \"settings\": [");
    for (uint32_t id = 0; id < ALFA_SET_COUNT; id++) {
        const alfa_setting_desc_t *d = alfa_settings_desc(id);
        fprintf(f, "%s\n    {\"id\": %u, \"name\": ", id ? "," : "", (unsigned)d->id);
        str(f, d->name);
        fprintf(f, ", \"type\": \"%s\", \"unit\": ", d->type < 5 ? types[d->type] : "int");
        str(f, d->unit);
        fprintf(f, ", \"def\": %d, \"min\": %d, \"max\": %d", (int)d->def, (int)d->min, (int)d->max);
        if ((int64_t)d->max - d->min <= 64) {
            int32_t ok[65];
            unsigned n = 0;
            for (int32_t v = d->min; v <= d->max; v++) {
                if (alfa_settings_check(&def, id, v, NULL) == ALFA_PROTO_OK) ok[n++] = v;
            }
            /* pairs (sc_low/sc_high) depend on each other: their rule is "sc_gap_pct" below */
            if (n != (unsigned)(d->max - d->min + 1) && id != ALFA_SET_SC_LOW_PCT && id != ALFA_SET_SC_HIGH_PCT) {
                fprintf(f, ", \"values\": [");
                for (unsigned k = 0; k < n; k++) fprintf(f, "%s%d", k ? ", " : "", (int)ok[k]);
                fputc(']', f);
            }
        }
        fputc('}', f);
    }
    fprintf(f, "\n  ]");
    /* the smallest accepted high - low */
    const alfa_setting_desc_t *hi = alfa_settings_desc(ALFA_SET_SC_HIGH_PCT);
    int gap = -1;
    for (int32_t v = def.sc_low_pct; v <= hi->max; v++) {
        if (alfa_settings_check(&def, ALFA_SET_SC_HIGH_PCT, v, NULL) == ALFA_PROTO_OK) {
            gap = (int)(v - def.sc_low_pct);
            break;
        }
    }
    fprintf(f, ",\n  \"rules\": {\"sc_gap_pct\": %d, \"tou_windows\": %u, \"history_bucket_s\": %d, \"history_max_points\": %u}",
            gap, ALFA_TOU_WINDOWS, GW_HIST_BUCKET_S, GW_HIST_MAX_POINTS);
    names(f, "modes", gw_mode_name);
    names(f, "relays", gw_relay_name);
    names(f, "overrides", gw_override_name);
    names(f, "faults", gw_fault_name);
    names(f, "warnings", gw_warning_name);
    names(f, "results", result_name);
    names(f, "history_series", series_name);
    fprintf(f, "\n}\n");
    if (f != stdout && fclose(f) != 0) {
        perror(argv[1]);
        return 1;
    }
    return 0;
}

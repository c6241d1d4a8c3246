/* The scenario language of the site simulator: parser, timed actions and the expectation checker. */
#ifndef ALFA_SCENARIO_H
#define ALFA_SCENARIO_H

/*
 * A scenario is a plain-text file (docs/scenarios.md is its manual): site and plant
 * description lines, then timed lines that act (commands, fault injection) or expect (checks on
 * pack telemetry or site totals at a time or over an interval).
 *
 * Usage:
 *   alfa_scn_t s;  char err[256];
 *   if (alfa_scn_parse_file("x.scn", 0, &s, err, sizeof err) < 0) { puts(err); ... }
 *   alfa_scn_engine_t e;  alfa_scn_engine_init(&e, &s);
 *   each step:  while ((a = alfa_scn_engine_next_action(&e, now_ms))) { ...carry it out... }
 *               alfa_scn_engine_observe(&e, now_ms, &obs);
 *   at the end: alfa_scn_engine_finish(&e, end_ms);  alfa_scn_engine_report / _failure_count
 *   alfa_scn_free(&s);  (the engine borrows the scenario: free it after the engine)
 *
 * Times are milliseconds since the scenario's start ("sim ms"). This library is host code
 * (it uses the heap and stdio); it is not part of the firmware.
 */

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "alfa/model.h"
#include "alfa/plant.h"
#include "alfa/settings.h"

#define ALFA_SCN_MAX_PACKS ALFA_PLANT_MAX_PACKS
#define ALFA_SCN_TEXT_MAX 160u     /* source text kept per timed line, for failure reports */
#define ALFA_SCN_NAME_MAX 32u
#define ALFA_SCN_JSON_MAX 256u
#define ALFA_SCN_DAY_MS 86400000ll

/* Who an action or expectation is about. */
typedef enum alfa_scn_target_kind {
    ALFA_SCN_TGT_ALL = 0,   /* every pack */
    ALFA_SCN_TGT_PACK = 1,  /* one pack, by index */
    ALFA_SCN_TGT_SITE = 2,  /* the site totals (expectations only) */
} alfa_scn_target_kind_t;

typedef struct alfa_scn_target {
    uint8_t kind;   /* alfa_scn_target_kind_t */
    uint8_t pack;   /* 0-based pack index for ALFA_SCN_TGT_PACK (serials are resolved to it) */
} alfa_scn_target_t;

typedef enum alfa_scn_action_kind {
    ALFA_SCN_ACT_COMMAND = 1,      /* name + JSON, to all packs or to one */
    ALFA_SCN_ACT_BMS_SILENT,       /* value: 1 silent, 0 answering */
    ALFA_SCN_ACT_BMS_ALARM,        /* value: alarm bits to report (0 clears) */
    ALFA_SCN_ACT_MODBUS_NOISE,     /* value: byte corruption rate in ppm */
    ALFA_SCN_ACT_POWER,            /* value: 1 on, 0 off */
    ALFA_SCN_ACT_CAN_LINK,         /* value: 1 on the bus, 0 cut off */
    ALFA_SCN_ACT_CAN_ERRORS,       /* value: number of error frames to inject */
    ALFA_SCN_ACT_GATEWAY,          /* value: 1 the simulated gateway runs (time source), 0 silent */
    ALFA_SCN_ACT_TIME_SHIFT,       /* value: ms added to the gateway's clock (a correction, + or -) */
    ALFA_SCN_ACT_BMS_VOLTAGE,      /* value: pack voltage the BMS reports (mV), -1 = the true one */
    ALFA_SCN_ACT_OTA_START,        /* name: an `ota image`; value: 1 forced (packs take a version not newer) */
    ALFA_SCN_ACT_OTA_CANCEL,       /* the gateway cancels the running update */
    ALFA_SCN_ACT_OTA_LOSS,         /* value: share of the update frames the pack misses, ppm */
    ALFA_SCN_ACT_OTA_SELFTEST_FAIL, /* value: 1 the pack's new images fail their self-test (no BMS) */
    ALFA_SCN_ACT_OTA_GW_RESTART,   /* the gateway's update sender restarts and resumes its saved session */
} alfa_scn_action_kind_t;

/* A firmware image a scenario defines (`ota image NAME ...`): the simulator makes its payload from
 * the seed and signs it with its own test key when the run starts. */
#define ALFA_SCN_OTA_UNSIGNED 0x01u   /* signature left zero */
#define ALFA_SCN_OTA_TAMPERED 0x02u   /* payload changed after signing, header hash fixed up */
#define ALFA_SCN_OTA_OTHER_KEY 0x04u  /* signed with a key no pack trusts */
#define ALFA_SCN_OTA_IMAGES_MAX 8u

typedef struct alfa_scn_ota_image {
    char name[ALFA_SCN_NAME_MAX];
    uint8_t major, minor, patch;
    uint8_t device_type, hw_class;
    uint32_t size, counter;
    uint8_t flags;                /* ALFA_SCN_OTA_* */
    unsigned line;
} alfa_scn_ota_image_t;

typedef struct alfa_scn_action {
    int64_t at_ms;
    uint8_t kind;                 /* alfa_scn_action_kind_t */
    alfa_scn_target_t target;     /* ALL or PACK */
    int64_t value;
    char name[ALFA_SCN_NAME_MAX]; /* command name (gateway/MQTT name) */
    char json[ALFA_SCN_JSON_MAX]; /* command payload, a JSON object ("{}" when none given) */
    unsigned line;
    char text[ALFA_SCN_TEXT_MAX];
} alfa_scn_action_t;

typedef enum alfa_scn_op {
    ALFA_SCN_OP_EQ = 1,
    ALFA_SCN_OP_NE,
    ALFA_SCN_OP_LE,     /* at most */
    ALFA_SCN_OP_GE,     /* at least */
    ALFA_SCN_OP_LT,
    ALFA_SCN_OP_GT,
    ALFA_SCN_OP_CHANGES_LE, /* over an interval: the value changed at most N times */
} alfa_scn_op_t;

/* Fields an expectation can read: every alfa_telemetry_t field, single bits of relays, faults
 * and warnings, simulator-side facts, and every alfa_site_totals_t field. */
typedef struct alfa_scn_field {
    const char *name;
    uint8_t site;      /* 1: a site field, 0: a pack field */
    uint8_t id;        /* internal selector */
    int8_t bit;        /* bit number for one-bit fields, -1 otherwise */
} alfa_scn_field_t;

typedef struct alfa_scn_expect {
    int64_t from_ms;
    int64_t to_ms;      /* == from_ms for a point check ("at"); INT64_MAX for "to end" */
    alfa_scn_target_t target;
    const alfa_scn_field_t *field;
    int16_t setting;    /* the setting id of a "setting NAME" field, -1 otherwise */
    uint8_t ever;       /* interval: must hold at least once (per pack), not at every step */
    uint8_t op;         /* alfa_scn_op_t */
    int64_t value;
    unsigned line;
    char text[ALFA_SCN_TEXT_MAX];
} alfa_scn_expect_t;

/* One pack of the site as the scenario names it (its plant values live in alfa_scn_t.plant). */
typedef struct alfa_scn_pack {
    uint64_t serial;      /* 48-bit hardware serial */
} alfa_scn_pack_t;

typedef struct alfa_scn {
    char file[128];
    uint8_t pack_count;
    alfa_scn_pack_t packs[ALFA_SCN_MAX_PACKS];
    int16_t utc_offset_min;   /* local = UTC + offset */
    int64_t start_unix_s;     /* start, UTC */
    uint32_t start_tod_ms;    /* start, local time of day */
    int64_t duration_ms;
    uint64_t seed;
    uint8_t seed_given;
    uint32_t step_us;         /* simulation step */
    uint8_t gateway_on;       /* simulated gateway present at start */
    alfa_plant_cfg_t plant;   /* plant configuration for pack_count packs */
    size_t action_count;
    alfa_scn_action_t *actions;   /* sorted by time, file order kept for equal times */
    size_t expect_count;
    alfa_scn_expect_t *expects;   /* file order */
    size_t ota_image_count;
    alfa_scn_ota_image_t ota_images[ALFA_SCN_OTA_IMAGES_MAX];
} alfa_scn_t;

/* Parse scenario text. `name` is used in error messages ("name:line: what is wrong").
 * Returns 0, or -1 with a one-line message in `err` (capacity `errlen`); on error *s holds
 * nothing that needs freeing. `packs_override` > 0 replaces the file's pack count (--packs):
 * packs beyond those declared get default serials and the site-wide plant values. */
int alfa_scn_parse_string(const char *name, const char *text, uint8_t packs_override,
                          alfa_scn_t *s, char *err, size_t errlen);
/* The same for a file; a file that cannot be read is an error naming it. */
int alfa_scn_parse_file(const char *path, uint8_t packs_override, alfa_scn_t *s, char *err,
                        size_t errlen);
/* Release what the parser allocated. Safe on a zeroed or already freed scenario. */
void alfa_scn_free(alfa_scn_t *s);

/* Default 48-bit serial of pack index i (0-based) when the scenario names none. */
uint64_t alfa_scn_default_serial(unsigned i);

/* Field table lookup by name ("soc_pct", "relay_grid", "fault_bms_comm_lost", "setting" (a
 * setting named next), "site" fields when `site` is 1); NULL if unknown. */
const alfa_scn_field_t *alfa_scn_field_find(const char *name, int site);

/* Mode name <-> number ("none", "self_consumption", "eco", "tou", "backup"). */
const char *alfa_scn_mode_name(unsigned mode);

/* ------------------------------------------------------------------ the engine */

/* One pack as the engine sees it in one observation. */
typedef struct alfa_scn_pack_obs {
    alfa_telemetry_t t;   /* the pack's latest telemetry */
    uint8_t valid;        /* 0: no telemetry (controller off, or not yet started) */
    uint8_t powered;      /* controller powered */
    uint8_t node_id;      /* the pack's current CAN node ID (0 unknown) */
    uint8_t last_ack;     /* result of the last command acknowledged by this pack (alfa_ack_result_t), 255 none */
    uint32_t acks;        /* acknowledgements received from this pack */
    uint8_t settings_valid; /* the controller runs: settings[] holds its settings now */
    int32_t settings[ALFA_SET_COUNT];
    uint16_t fw_version;  /* version it reports, wire form (ALFA_FW_VERSION_WIRE); 0 while it runs nothing */
    uint8_t ota_state;    /* its firmware-update module's state (alfa_fwu_state_t) */
    uint32_t ota_missing; /* chunks of the update it still misses */
} alfa_scn_pack_obs_t;

typedef struct alfa_scn_obs {
    uint8_t pack_count;
    const alfa_scn_pack_obs_t *packs;
    const alfa_site_totals_t *site;   /* the latest site totals heard on the bus */
    uint8_t site_valid;
} alfa_scn_obs_t;

typedef struct alfa_scn_failure {
    int64_t at_ms;
    unsigned line;
    char what[ALFA_SCN_TEXT_MAX + 64];  /* what was expected (source text, pack) */
    char seen[96];                      /* what was seen */
} alfa_scn_failure_t;

typedef struct alfa_scn_exp_state {
    uint8_t done;
    uint8_t failed;                          /* failed for some pack or the site */
    uint8_t observed;                        /* evaluated at least once */
    uint8_t failed_slot[ALFA_SCN_MAX_PACKS + 1]; /* per pack (+ site): already reported */
    uint8_t seen[ALFA_SCN_MAX_PACKS + 1];        /* per pack (+ site): a value was observed */
    uint8_t held[ALFA_SCN_MAX_PACKS + 1];        /* "ever": held at least once */
    uint8_t has_prev[ALFA_SCN_MAX_PACKS + 1];   /* per pack (+ site): prev[] holds a value */
    int64_t prev[ALFA_SCN_MAX_PACKS + 1];
    uint32_t changes[ALFA_SCN_MAX_PACKS + 1];
    uint32_t violations;
} alfa_scn_exp_state_t;

typedef struct alfa_scn_engine {
    const alfa_scn_t *s;
    size_t next_action;
    alfa_scn_exp_state_t *st;        /* one per expectation */
    size_t failure_count;
    size_t failure_cap;
    alfa_scn_failure_t *failures;
    size_t checked;                  /* expectations evaluated to the end */
    int64_t last_obs_ms;
} alfa_scn_engine_t;

/* Prepare an engine for scenario `s` (borrowed). Returns 0, -1 on allocation failure. */
int alfa_scn_engine_init(alfa_scn_engine_t *e, const alfa_scn_t *s);
void alfa_scn_engine_free(alfa_scn_engine_t *e);

/* The next action due at or before `now_ms`, in time then file order, or NULL. Each action is
 * returned once. */
const alfa_scn_action_t *alfa_scn_engine_next_action(alfa_scn_engine_t *e, int64_t now_ms);

/* Evaluate the expectations active at `now_ms` against `obs`. Call with non-decreasing times,
 * as often as the values can change (every simulation step). A point expectation is judged at
 * the first observation at or after its time; an interval one at every observation inside it. */
void alfa_scn_engine_observe(alfa_scn_engine_t *e, int64_t now_ms, const alfa_scn_obs_t *obs);

/* Close the run at `end_ms`: judges "changes" expectations and reports every expectation whose
 * time was never reached as failed ("not reached"). */
void alfa_scn_engine_finish(alfa_scn_engine_t *e, int64_t end_ms);
/* A run interrupted at `now_ms` (before the scenario's end): the expectations that begin later
 * are left unjudged, neither passed nor failed. Call before alfa_scn_engine_finish. */
void alfa_scn_engine_stop_at(alfa_scn_engine_t *e, int64_t now_ms);
/* Failures so far (each printed by alfa_scn_engine_report). */
size_t alfa_scn_engine_failure_count(const alfa_scn_engine_t *e);

/* Print each failure as "FAILED dayN HH:MM:SS.mmm <file>:<line>: expected '<what>', saw <seen>"
 * to `f` (times in the scenario's local time). */
void alfa_scn_engine_report(const alfa_scn_engine_t *e, FILE *f);

/* Format sim ms as "dayN HH:MM:SS.mmm" local time into buf. */
void alfa_scn_format_time(const alfa_scn_t *s, int64_t ms, char *buf, size_t len);

#endif

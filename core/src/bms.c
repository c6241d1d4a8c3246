/* BMS profiles as const tables, their decoding with range checks, and the 2-s poll with comm-lost counting. */
#include "alfa/bms.h"
#include <stdbool.h>
#include "alfa/bytes.h"
#include "alfa/err.h"

#define IDENTITY_8_BITS {0u, 1u, 2u, 3u, 4u, 5u, 6u, 7u, ALFA_BMS_BIT_NONE, ALFA_BMS_BIT_NONE, \
    ALFA_BMS_BIT_NONE, ALFA_BMS_BIT_NONE, ALFA_BMS_BIT_NONE, ALFA_BMS_BIT_NONE, ALFA_BMS_BIT_NONE, \
    ALFA_BMS_BIT_NONE}

/* SPEC.md §5.1 default map: one block of 8 holding registers from 0x0000. Raw ranges are what a
 * 48-V LFP pack's BMS can physically report; anything outside is a corrupt or foreign frame. */
#define DEFAULT_FIELDS(soc_type)                                                                  \
    {                                                                                             \
        [ALFA_BMS_F_V_PACK] = {ALFA_BMS_U16, 0u, 100, 1, 0, 10000},   /* 0.1 V, up to 1000 V */   \
        [ALFA_BMS_F_I_BATT] = {ALFA_BMS_S16, 1u, 10, 1, -32768, 32767}, /* 0.01 A, + = charge */  \
        [ALFA_BMS_F_SOC] = {(soc_type), 2u, 1, 1, 0, 100},                                        \
        [ALFA_BMS_F_ALARMS] = {ALFA_BMS_U16, 3u, 1, 1, 0, 65535},                                 \
        [ALFA_BMS_F_WARNINGS] = {ALFA_BMS_U16, 4u, 1, 1, 0, 65535},                               \
        [ALFA_BMS_F_TEMP_MAX] = {ALFA_BMS_S16, 5u, 1, 1, -600, 1500}, /* 0.1 degC */              \
        [ALFA_BMS_F_CELL_MIN] = {ALFA_BMS_U16, 6u, 1, 1, 0, 5000},    /* mV */                    \
        [ALFA_BMS_F_CELL_MAX] = {ALFA_BMS_U16, 7u, 1, 1, 0, 5000},                                \
    }

static const alfa_bms_profile_t profiles[] = {
    {
        .name = "default",
        .description = "SPEC 5.1 map: 8 holding registers from 0x0000, SOC register ignored",
        .function = ALFA_MB_FC_READ_HOLDING,
        .start_reg = 0u,
        .reg_count = 8u,
        .fields = DEFAULT_FIELDS(ALFA_BMS_ABSENT),
        .alarm_map = IDENTITY_8_BITS,
        .warning_map = IDENTITY_8_BITS,
    },
    {
        .name = "default-soc",
        .description = "the default map, with the BMS's own SOC (register 2) used",
        .function = ALFA_MB_FC_READ_HOLDING,
        .start_reg = 0u,
        .reg_count = 8u,
        .fields = DEFAULT_FIELDS(ALFA_BMS_U16),
        .alarm_map = IDENTITY_8_BITS,
        .warning_map = IDENTITY_8_BITS,
    },
};
_Static_assert(sizeof(profiles) / sizeof(profiles[0]) >= 1u, "the default profile must exist");

static const char *const bit_names[8] = {
    "cell_ov", "cell_uv", "over_temp", "under_temp", "charge_oc", "discharge_oc", "short_circuit",
    "bms_fault",
};
_Static_assert(sizeof(bit_names) / sizeof(bit_names[0]) == 8u, "SPEC 5.1 names 8 alarm bits");

const char *alfa_bms_bit_name(uint8_t bit) { return bit < 8u ? bit_names[bit] : (void *)0; }

uint32_t alfa_bms_profile_count(void) { return (uint32_t)(sizeof(profiles) / sizeof(profiles[0])); }

const alfa_bms_profile_t *alfa_bms_profile_at(uint32_t index)
{
    return index < alfa_bms_profile_count() ? &profiles[index] : (void *)0;
}

static int same_name(const char *a, const char *b)
{
    for (uint32_t i = 0; i < 64u; i++) {
        if (a[i] != b[i]) {
            return 0;
        }
        if (a[i] == '\0') {
            return 1;
        }
    }
    return 0;
}

const alfa_bms_profile_t *alfa_bms_profile_find(const char *name)
{
    if (name == (void *)0) {
        return (void *)0;
    }
    for (uint32_t i = 0; i < alfa_bms_profile_count(); i++) {
        if (same_name(profiles[i].name, name)) {
            return &profiles[i];
        }
    }
    return (void *)0;
}

/* A map refers only to registers inside the block and divides by a positive number. */
static int profile_ok(const alfa_bms_profile_t *p)
{
    if (p == (void *)0 || (p->function != ALFA_MB_FC_READ_HOLDING && p->function != ALFA_MB_FC_READ_INPUT) ||
        p->reg_count == 0u || p->reg_count > ALFA_MB_REGS_MAX || (uint32_t)p->start_reg + p->reg_count > 0x10000u ||
        p->fields[ALFA_BMS_F_V_PACK].type == ALFA_BMS_ABSENT || p->fields[ALFA_BMS_F_I_BATT].type == ALFA_BMS_ABSENT) {
        return 0;
    }
    for (uint32_t f = 0; f < ALFA_BMS_F_COUNT; f++) {
        const alfa_bms_field_map_t *m = &p->fields[f];
        if (m->type == ALFA_BMS_ABSENT) {
            continue;
        }
        uint32_t width = m->type >= ALFA_BMS_U32 ? 2u : 1u;
        if (m->type > ALFA_BMS_S32 || m->div <= 0 || (uint32_t)m->reg + width > p->reg_count ||
            m->raw_min > m->raw_max) {
            return 0;
        }
    }
    return 1;
}

/* Raw value of one field as a signed 64-bit number, per its encoding. */
static int64_t raw_of(const alfa_bms_field_map_t *m, const uint16_t *regs)
{
    switch (m->type) {
    case ALFA_BMS_S16: return (int16_t)regs[m->reg];
    case ALFA_BMS_U32: return ((int64_t)regs[m->reg] << 16) | regs[m->reg + 1u];
    case ALFA_BMS_S32: return (int32_t)(((uint32_t)regs[m->reg] << 16) | regs[m->reg + 1u]);
    default: return regs[m->reg];
    }
}

static uint16_t map_bits(const uint8_t map[ALFA_BMS_BITS], uint16_t raw)
{
    uint16_t out = 0u;
    for (uint32_t i = 0; i < ALFA_BMS_BITS; i++) {
        if ((raw & (1u << i)) != 0u && map[i] < ALFA_BMS_BITS) {
            out = (uint16_t)(out | (1u << map[i]));
        }
    }
    return out;
}

/* The alarm and warning words of a well-formed frame, whatever its other values say: an alarm
 * must act even when the measurement beside it is nonsense (a BMS reporting 0 V and a short). */
static void decode_bits(const alfa_bms_profile_t *profile, const uint16_t *regs, alfa_bms_reading_t *r)
{
    const alfa_bms_field_map_t *a = &profile->fields[ALFA_BMS_F_ALARMS];
    const alfa_bms_field_map_t *w = &profile->fields[ALFA_BMS_F_WARNINGS];
    if (a->type != ALFA_BMS_ABSENT) {
        r->alarms = map_bits(profile->alarm_map, (uint16_t)raw_of(a, regs));
    }
    if (w->type != ALFA_BMS_ABSENT) {
        r->warnings = map_bits(profile->warning_map, (uint16_t)raw_of(w, regs));
    }
}

/* The measured values; ALFA_E_RANGE when one is outside its raw range or implausible. */
static int32_t decode_values(const alfa_bms_profile_t *profile, const uint16_t *regs, alfa_bms_reading_t *r)
{
    int64_t v[ALFA_BMS_F_COUNT] = {0};
    for (uint32_t f = 0; f < ALFA_BMS_F_COUNT; f++) {
        const alfa_bms_field_map_t *m = &profile->fields[f];
        if (m->type == ALFA_BMS_ABSENT || f == ALFA_BMS_F_ALARMS || f == ALFA_BMS_F_WARNINGS) {
            continue;
        }
        int64_t raw = raw_of(m, regs);
        if (raw < m->raw_min || raw > m->raw_max) {
            return ALFA_E_RANGE;
        }
        v[f] = raw * m->mul / m->div;
    }
    const alfa_bms_field_map_t *fm = profile->fields;
    if (v[ALFA_BMS_F_V_PACK] <= 0 || v[ALFA_BMS_F_V_PACK] > (int64_t)ALFA_V_PACK_MAX_MV ||
        v[ALFA_BMS_F_I_BATT] < INT32_MIN || v[ALFA_BMS_F_I_BATT] > INT32_MAX) {
        return ALFA_E_RANGE;
    }
    r->v_pack_mv = (uint32_t)v[ALFA_BMS_F_V_PACK];
    r->i_batt_ma = (int32_t)v[ALFA_BMS_F_I_BATT];
    if (fm[ALFA_BMS_F_SOC].type != ALFA_BMS_ABSENT) {
        if (v[ALFA_BMS_F_SOC] < 0 || v[ALFA_BMS_F_SOC] > 100) {
            return ALFA_E_RANGE;
        }
        r->soc_pct = (uint8_t)v[ALFA_BMS_F_SOC];
        r->present |= ALFA_BMS_HAS_SOC;
    }
    if (fm[ALFA_BMS_F_TEMP_MAX].type != ALFA_BMS_ABSENT) {
        if (v[ALFA_BMS_F_TEMP_MAX] < INT16_MIN || v[ALFA_BMS_F_TEMP_MAX] > INT16_MAX) {
            return ALFA_E_RANGE;
        }
        r->temp_max_dc = (int16_t)v[ALFA_BMS_F_TEMP_MAX];
        r->present |= ALFA_BMS_HAS_TEMP;
    }
    if (fm[ALFA_BMS_F_CELL_MIN].type != ALFA_BMS_ABSENT && fm[ALFA_BMS_F_CELL_MAX].type != ALFA_BMS_ABSENT) {
        int64_t lo = v[ALFA_BMS_F_CELL_MIN], hi = v[ALFA_BMS_F_CELL_MAX];
        if (lo < 0 || hi > UINT16_MAX || lo > hi) {
            return ALFA_E_RANGE;
        }
        r->cell_min_mv = (uint16_t)lo;
        r->cell_max_mv = (uint16_t)hi;
        r->present |= ALFA_BMS_HAS_CELLS;
    }
    return ALFA_OK;
}

int32_t alfa_bms_decode(const alfa_bms_profile_t *profile, const uint16_t *regs, uint16_t count,
                        alfa_bms_reading_t *out)
{
    if (out == (void *)0) {
        return ALFA_E_INVAL;
    }
    alfa_memset(out, 0, sizeof(*out));
    if (regs == (void *)0 || !profile_ok(profile) || count < profile->reg_count) {
        return ALFA_E_INVAL;
    }
    alfa_bms_reading_t r;
    alfa_memset(&r, 0, sizeof(r));
    int32_t rc = decode_values(profile, regs, &r);
    if (rc < 0) {
        alfa_memset(&r, 0, sizeof(r)); /* nothing measured may be used */
    }
    decode_bits(profile, regs, &r);
    *out = r;
    return rc;
}

void alfa_bms_config_default(alfa_bms_config_t *cfg)
{
    if (cfg == (void *)0) {
        return;
    }
    cfg->profile = &profiles[0];
    cfg->address = 1u;
    cfg->period_ms = 2000u;
    cfg->lost_after = 5u;
    alfa_mb_config_default(&cfg->modbus);
}

int32_t alfa_bms_init(alfa_bms_t *bms, const alfa_port_t *port, const alfa_bms_config_t *cfg,
                      uint32_t now_ms)
{
    if (bms == (void *)0 || port == (void *)0 || cfg == (void *)0) {
        return ALFA_E_INVAL;
    }
    alfa_memset(bms, 0, sizeof(*bms));
    alfa_bms_config_t c = *cfg;
    if (c.profile == (void *)0) {
        c.profile = &profiles[0];
    }
    if (!profile_ok(c.profile) || c.address == 0u || c.address > 247u || c.period_ms == 0u ||
        c.lost_after == 0u) {
        return ALFA_E_INVAL;
    }
    int32_t rc = alfa_mb_init(&bms->mb, port, &c.modbus);
    if (rc < 0) {
        return rc;
    }
    bms->cfg = c;
    bms->next_poll_ms = now_ms;
    bms->last_good_ms = now_ms; /* boot: no reading yet is "lost" after the same 10 s */
    bms->lost_ms = (uint32_t)c.lost_after * c.period_ms;
    return ALFA_OK;
}

/* The link's health over the last polls: bit 0 the newest, 1 = needed a retry or failed. */
static bool degraded_of(uint8_t history)
{
    uint32_t n = 0;
    for (uint32_t b = 0; b < 8u; b++) {
        n += (history >> b) & 1u;
    }
    return n >= ALFA_BMS_DEGRADED_OF_8;
}

static bool lost_by_time(const alfa_bms_t *bms, uint32_t now_ms)
{
    return (uint32_t)(now_ms - bms->last_good_ms) >= bms->lost_ms;
}

static void finish_poll(alfa_bms_t *bms, uint32_t now_ms, alfa_bms_result_t *out)
{
    const alfa_mb_result_t *mr = alfa_mb_result(&bms->mb);
    alfa_bms_result_t r;
    alfa_memset(&r, 0, sizeof(r));
    r.finished = 1u;
    r.status = mr->status;
    r.exception_code = mr->exception_code;
    r.attempts = mr->attempts;
    r.timeout_ms = mr->timeout_ms;
    r.latency_ms = mr->latency_ms;
    r.started_ms = bms->poll_started_ms;
    if (mr->status == ALFA_MB_OK) {
        /* A well-formed answer: its alarm bits count even when its values do not. */
        r.alarms_valid = 1u;
        if (alfa_bms_decode(bms->cfg.profile, mr->regs, mr->count, &r.reading) < 0) {
            r.status = ALFA_MB_RANGE;
        }
    }
    r.err = alfa_mb_status_err(r.status);
    bool good = r.status == ALFA_MB_OK;
    bms->history = (uint8_t)(((uint32_t)bms->history << 1) | ((!good || r.attempts > 1u) ? 1u : 0u));
    if (good) {
        bms->failures_in_row = 0u;
        bms->last_good_ms = now_ms;
        bms->comm_lost = 0u;
    } else {
        if (bms->failures_in_row < UINT16_MAX) {
            bms->failures_in_row++;
        }
        if (lost_by_time(bms, now_ms)) {
            bms->comm_lost = 1u;
        }
    }
    r.comm_lost = bms->comm_lost;
    r.degraded = degraded_of(bms->history) ? 1u : 0u;
    r.failures_in_row = bms->failures_in_row;
    /* The schedule keeps its 2-s grid; a poll that overran its slot is followed at once. */
    if ((int32_t)(now_ms - bms->next_poll_ms) >= 0) {
        bms->next_poll_ms = now_ms;
    }
    bms->polling = 0u;
    if (out != (void *)0) {
        *out = r;
    }
}

int32_t alfa_bms_process(alfa_bms_t *bms, uint32_t now_ms, alfa_bms_result_t *out)
{
    if (bms == (void *)0 || bms->cfg.profile == (void *)0) {
        return 0; /* not initialised: only a successful alfa_bms_init sets the profile */
    }
    if (!bms->polling && (int32_t)(now_ms - bms->next_poll_ms) >= 0) {
        const alfa_bms_profile_t *p = bms->cfg.profile;
        if (alfa_mb_read_start(&bms->mb, bms->cfg.address, p->function, p->start_reg, p->reg_count,
                               now_ms) == ALFA_OK) {
            bms->polling = 1u;
            bms->poll_started_ms = now_ms;
            bms->next_poll_ms += bms->cfg.period_ms; /* keep the 2-s grid */
            if ((int32_t)(now_ms - bms->next_poll_ms) >= 0) {
                bms->next_poll_ms = now_ms + bms->cfg.period_ms; /* far behind: restart it */
            }
        }
    }
    if (alfa_mb_process(&bms->mb, now_ms) == 1 && bms->polling) {
        finish_poll(bms, now_ms, out);
        return 1;
    }
    if (!bms->comm_lost && lost_by_time(bms, now_ms)) {
        /* A slow BMS with the timeout at its cap and every retry can hold one poll for over
         * 10 s: "comm lost" does not wait for it (SPEC.md §5.1: lost after 10 s). */
        bms->comm_lost = 1u;
        if (out != (void *)0) {
            alfa_bms_result_t r;
            alfa_memset(&r, 0, sizeof(r));
            r.err = ALFA_E_TIMEOUT;
            r.status = ALFA_MB_TIMEOUT;
            r.comm_lost = 1u;
            r.degraded = degraded_of(bms->history) ? 1u : 0u;
            r.failures_in_row = bms->failures_in_row;
            r.started_ms = bms->poll_started_ms;
            *out = r;
        }
        return 1;
    }
    return 0;
}

const alfa_mb_t *alfa_bms_link(const alfa_bms_t *bms) { return &bms->mb; }

int alfa_bms_busy(const alfa_bms_t *bms) { return bms != (void *)0 && bms->polling; }

uint32_t alfa_bms_next_poll_ms(const alfa_bms_t *bms)
{
    if (bms == (void *)0) {
        return 0u;
    }
    uint32_t lost_at = bms->last_good_ms + bms->lost_ms;
    if (!bms->comm_lost && (int32_t)(lost_at - bms->next_poll_ms) < 0) {
        return lost_at; /* the clock's comm-lost verdict comes first */
    }
    return bms->next_poll_ms;
}

/* BMS profiles (const register maps) and the 2-s BMS poll with its comm-lost rule, over the Modbus master. */
#ifndef ALFA_BMS_H
#define ALFA_BMS_H

/*
 * A BMS model is described by data, not code (SPEC.md §5.1): an alfa_bms_profile_t says which
 * block of registers to read with which function, where each value sits, how to scale it,
 * whether it is signed, which raw range is plausible, and how the BMS's alarm and warning bits
 * map onto ours. Adding a BMS is adding one const profile to the table in bms.c.
 *
 * The poller (alfa_bms_t) reads the profile's block every `period_ms` (2000), through the
 * Modbus master with its retries. Each finished poll yields one alfa_bms_result_t: a good
 * reading, or a failure with its reason. Values of a failed poll are never handed out: the
 * reading's values are zeroed unless the poll succeeded and every value passed its range and
 * plausibility check (a pack voltage of 0 or above ALFA_V_PACK_MAX_MV is a failed poll); the
 * alarm and warning words of a well-formed answer are handed out even then (`alarms_valid`).
 * `comm_lost` is raised when no good reading came for lost_after x period (10 s: five polls) —
 * at the end of a failed poll, or by the clock while a slow poll with its retries is still running
 * — and cleared by the first good one. `degraded` tells that polls keep needing retries
 * (ALFA_BMS_DEGRADED_OF_8 of the last 8 polls needed one or failed): a flaky line is visible
 * before it is lost.
 */

#include <stdint.h>
#include "alfa/model.h"
#include "alfa/modbus.h"
#include "alfa/port.h"

/* Fields of alfa_bms_reading_t a profile can fill. */
typedef enum alfa_bms_field {
    ALFA_BMS_F_V_PACK = 0,   /* -> v_pack_mv */
    ALFA_BMS_F_I_BATT = 1,   /* -> i_batt_ma (+ = charging) */
    ALFA_BMS_F_SOC = 2,      /* -> soc_pct (sets ALFA_BMS_HAS_SOC) */
    ALFA_BMS_F_ALARMS = 3,   /* raw alarm word, mapped through alarm_map */
    ALFA_BMS_F_WARNINGS = 4, /* raw warning word, mapped through warning_map */
    ALFA_BMS_F_TEMP_MAX = 5, /* -> temp_max_dc (sets ALFA_BMS_HAS_TEMP) */
    ALFA_BMS_F_CELL_MIN = 6, /* -> cell_min_mv (sets ALFA_BMS_HAS_CELLS with CELL_MAX) */
    ALFA_BMS_F_CELL_MAX = 7, /* -> cell_max_mv */
    ALFA_BMS_F_COUNT
} alfa_bms_field_t;

/* Register encodings. */
#define ALFA_BMS_ABSENT 0u /* the profile does not provide this field */
#define ALFA_BMS_U16 1u
#define ALFA_BMS_S16 2u
#define ALFA_BMS_U32 3u /* two registers, high word first */
#define ALFA_BMS_S32 4u

/* Where one field sits and how it becomes our unit: value = raw * mul / div, after checking
 * raw_min <= raw <= raw_max (raw taken as signed or unsigned per `type`). */
typedef struct alfa_bms_field_map {
    uint8_t type;    /* ALFA_BMS_ABSENT / U16 / S16 / U32 / S32 */
    uint8_t reg;     /* offset of the (first) register inside the block */
    int32_t mul;
    int32_t div;     /* > 0 */
    int32_t raw_min;
    int32_t raw_max;
} alfa_bms_field_map_t;

#define ALFA_BMS_BITS 16u
#define ALFA_BMS_BIT_NONE 0xFFu

typedef struct alfa_bms_profile {
    const char *name;        /* short id, as given to --profile */
    const char *description;
    uint8_t function;        /* ALFA_MB_FC_READ_HOLDING or ALFA_MB_FC_READ_INPUT */
    uint16_t start_reg;
    uint16_t reg_count;      /* 1..125 */
    alfa_bms_field_map_t fields[ALFA_BMS_F_COUNT];
    /* raw alarm/warning bit i -> our bit map[i] (SPEC.md §5.1 numbering), or ALFA_BMS_BIT_NONE */
    uint8_t alarm_map[ALFA_BMS_BITS];
    uint8_t warning_map[ALFA_BMS_BITS];
} alfa_bms_profile_t;

/* Names of the alarm bits of SPEC.md §5.1 ("cell_ov", "cell_uv", "over_temp", "under_temp",
 * "charge_oc", "discharge_oc", "short_circuit", "bms_fault"); warning bits use the same
 * numbering (an early warning of the same condition). NULL for bits without a name. */
const char *alfa_bms_bit_name(uint8_t bit);

/* The built-in profiles: index 0 is the SPEC.md §5.1 default. */
uint32_t alfa_bms_profile_count(void);
const alfa_bms_profile_t *alfa_bms_profile_at(uint32_t index);
/* A built-in profile by name, or NULL. */
const alfa_bms_profile_t *alfa_bms_profile_find(const char *name);

/* Turn a profile's register block into a reading. `regs` holds profile->reg_count values.
 * ALFA_OK, or ALFA_E_RANGE when a value is outside its raw range, the pack voltage is 0 or above
 * ALFA_V_PACK_MAX_MV, or the cell extremes are inverted (then only out->alarms and out->warnings
 * are set: no measured value may be used), ALFA_E_INVAL for NULLs or too few registers (*out
 * zeroed). */
int32_t alfa_bms_decode(const alfa_bms_profile_t *profile, const uint16_t *regs, uint16_t count,
                        alfa_bms_reading_t *out);

typedef struct alfa_bms_config {
    const alfa_bms_profile_t *profile; /* NULL = the default profile */
    uint8_t address;                   /* slave address, 1 by default */
    uint16_t period_ms;                /* 2000 */
    uint8_t lost_after;                /* polls without a good reading that mean "comm lost": 5 (x period) */
    alfa_mb_config_t modbus;
} alfa_bms_config_t;

/* SPEC.md §5.1 defaults: default profile, address 1, 2 s, comm lost after 5, Modbus defaults. */
void alfa_bms_config_default(alfa_bms_config_t *cfg);

#define ALFA_BMS_DEGRADED_OF_8 3u /* polls of the last 8 that needed a retry or failed: degraded */

/* One finished poll, or (finished == 0) the clock declaring comm lost while a poll still runs. */
typedef struct alfa_bms_result {
    int32_t err;              /* ALFA_OK, or the alfa_err_t of the failure */
    uint8_t finished;         /* 1: a poll finished; 0: only comm_lost changed */
    uint8_t alarms_valid;     /* reading.alarms / .warnings come from a well-formed answer */
    uint8_t degraded;         /* the link keeps needing retries */
    uint8_t status;           /* alfa_mb_status_t: ok, timeout, crc, exception, bad_address... */
    uint8_t exception_code;   /* when status == ALFA_MB_EXCEPTION */
    uint8_t attempts;         /* Modbus attempts this poll took */
    uint8_t comm_lost;        /* 1 while the "BMS comm lost" fault stands */
    uint16_t failures_in_row; /* consecutive failed polls, this one included */
    uint16_t timeout_ms;      /* adaptive response timeout after this poll */
    uint32_t latency_ms;      /* end of request to first answer byte (last attempt) */
    uint32_t started_ms;      /* when this poll began */
    alfa_bms_reading_t reading; /* valid only when err == ALFA_OK; zeroed otherwise */
} alfa_bms_result_t;

typedef struct alfa_bms {
    alfa_mb_t mb;
    alfa_bms_config_t cfg;
    uint32_t next_poll_ms;
    uint32_t poll_started_ms;
    uint16_t failures_in_row;
    uint32_t last_good_ms;    /* last good reading (init counts as one) */
    uint32_t lost_ms;         /* no good reading this long: comm lost (lost_after x period) */
    uint8_t history;          /* last 8 polls, bit 0 newest: 1 = needed a retry or failed */
    uint8_t comm_lost;
    uint8_t polling;
} alfa_bms_t;

/* Prepare the poller on `port`; the first poll starts at the first alfa_bms_process() call at or
 * after `now_ms`. ALFA_E_INVAL for NULLs, address 0 or > 247, period 0, lost_after 0, a profile
 * with an unusable map, or a Modbus configuration alfa_mb_init() refuses. */
int32_t alfa_bms_init(alfa_bms_t *bms, const alfa_port_t *port, const alfa_bms_config_t *cfg,
                      uint32_t now_ms);

/* Run the poll schedule at `now_ms`. Returns 1 when it wrote *out: a poll finished during this
 * call (good reading or failure), or comm was declared lost by the clock (out->finished == 0);
 * 0 otherwise. Never blocks. */
int32_t alfa_bms_process(alfa_bms_t *bms, uint32_t now_ms, alfa_bms_result_t *out);

/* The Modbus master the poller drives, read only (for alfa_mb_stats and alfa_mb_result); owned by
 * `bms`, valid while it lives. */
const alfa_mb_t *alfa_bms_link(const alfa_bms_t *bms);

/* 1 while a poll is in progress (the caller should keep calling alfa_bms_process often). */
int alfa_bms_busy(const alfa_bms_t *bms);

/* When alfa_bms_process next has something to do (meaningful while not busy): the next poll, or
 * the moment the clock would declare comm lost if that comes first. */
uint32_t alfa_bms_next_poll_ms(const alfa_bms_t *bms);

#endif

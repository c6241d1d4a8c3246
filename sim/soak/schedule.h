/* The soak's seeded schedule of injected faults and commands (scenario actions in time order). */
#ifndef SIM_SOAK_SCHEDULE_H
#define SIM_SOAK_SCHEDULE_H

#include <stddef.h>
#include <stdint.h>

#include "alfa/scenario.h"
#include "alfa/sim_rng.h"

/* Kinds of injected faults (each one a start and, but for error frames, an end). */
enum soak_fault_kind {
    SOAK_F_POWER = 0,     /* the pack loses power (0.5 s .. 2 h) */
    SOAK_F_CAN,           /* cut off the bus (1 s .. 3 h) */
    SOAK_F_BMS_SILENT,    /* the BMS stops answering (2 s .. 30 min) */
    SOAK_F_BMS_NOISE,     /* the RS-485 line garbles 1..20 % of the bytes */
    SOAK_F_BMS_GARBLE,    /* the BMS reports 0 V or 200 V */
    SOAK_F_BMS_ALARM,     /* the BMS raises one alarm bit (3 s .. 10 min) */
    SOAK_F_GATEWAY,       /* the gateway is off (10 s .. 6 h) */
    SOAK_F_CLOCK,         /* the gateway's clock is wrong by +-1 min .. 8 h, put right later */
    SOAK_F_CAN_ERRORS,    /* a burst of error frames on the bus */
    SOAK_FAULT_KINDS
};

typedef struct soak_schedule {
    alfa_scn_action_t *actions;  /* in time order */
    size_t count, cap;
    uint64_t faults;             /* injected faults */
    uint64_t commands;
} soak_schedule_t;

/* Draw the schedule of a `days`-day run of `packs` packs from `seed`. `first_0500_ms` is the
 * run time of the first 05:00 local. Returns 0, or -1 when out of memory. */
int soak_schedule_make(soak_schedule_t *s, uint64_t seed, uint32_t days, uint8_t packs, int64_t first_0500_ms);
void soak_schedule_free(soak_schedule_t *s);

#endif

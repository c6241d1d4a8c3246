/* Relay arbitration (SPEC.md §6): the energy modes, and the one place that ranks limit, faults, overrides and modes. */
#ifndef ALFA_CTRL_H
#define ALFA_CTRL_H

#include <stdbool.h>
#include <stdint.h>
#include "alfa/port.h"
#include "alfa/settings.h"
#include "alfa/fault.h"

/* Why a relay is in its state: which rank of SPEC.md §6.3 decided (telemetry, demo, tests). */
typedef enum alfa_why {
    ALFA_WHY_DEFAULT = 0,    /* rank 5: nobody asked for anything: closed */
    ALFA_WHY_BOOT = 1,       /* no valid BMS reading yet: boot state (closed) */
    ALFA_WHY_MODE = 2,       /* rank 4: the active energy mode */
    ALFA_WHY_OVERRIDE = 3,   /* rank 3: manual override */
    ALFA_WHY_FAULT = 4,      /* rank 2: critical fault safe state */
    ALFA_WHY_GRID_LIMIT = 5, /* rank 1: daily grid-import limit reached */
    ALFA_WHY_DWELL = 6,      /* a change is wanted but the minimum dwell has not passed */
} alfa_why_t;

/* Everything one decision looks at. */
typedef struct alfa_ctrl_input {
    const alfa_settings_t *s;
    uint32_t now_ms;
    bool cycle;               /* a fresh 2-s measurement: Eco may take a step */
    bool modes_enabled;       /* a valid BMS reading has arrived since boot */
    uint8_t soc_pct;
    int32_t p_home_w, p_pool_w, p_heater_w;
    bool time_valid;
    int32_t minute_of_day;    /* local, when time_valid */
    bool grid_limit_reached;
    alfa_fault_action_t fault_action;
} alfa_ctrl_input_t;

#define ALFA_ECO_SHED_MAX 3u

typedef struct alfa_ctrl {
    uint8_t closed;                   /* bit i: relay i closed now */
    uint8_t dwell_armed;              /* bit i: relay i has changed once, so dwell applies */
    uint8_t applied;                  /* a first decision was made */
    uint8_t mode;                     /* mode the state below belongs to */
    uint8_t why[ALFA_RELAY_COUNT];    /* alfa_why_t per relay */
    uint32_t changed_ms[ALFA_RELAY_COUNT];
    uint8_t sc_grid_closed;           /* self-consumption latch (holds between the thresholds) */
    uint8_t tou_closed;               /* time-of-use latch (holds without valid time) */
    uint8_t tou_relay;                /* the relay the latch belongs to */
    uint8_t eco_shed;                 /* Eco: how many loads of the shed order are open */
    uint8_t eco_warn;                 /* Eco: "loads limit" warning */
    uint32_t eco_off_ms[ALFA_ECO_SHED_MAX];
    int32_t eco_load_w[ALFA_ECO_SHED_MAX]; /* a shed load's last measured power */
} alfa_ctrl_t;

/* Start with every relay at `boot_closed` (bit i = relay i closed). */
void alfa_ctrl_init(alfa_ctrl_t *c, uint8_t boot_closed);

/* Decide every relay from `in`, following SPEC.md §6.3 (grid limit > critical fault > manual
 * override > active mode > closed), with the minimum dwell on every change but the grid limit's
 * and the faults'. Returns the new closed mask (also in c->closed); c->why tells who decided. */
uint8_t alfa_ctrl_decide(alfa_ctrl_t *c, const alfa_ctrl_input_t *in);

/* Relays closed after the last decision (bit i = relay i closed). */
static inline uint8_t alfa_ctrl_closed(const alfa_ctrl_t *c) { return c->closed; }
/* Why relay `relay` (< ALFA_RELAY_COUNT, the caller checks) is in its state. */
static inline alfa_why_t alfa_ctrl_why(const alfa_ctrl_t *c, uint32_t relay) { return (alfa_why_t)c->why[relay]; }
/* Eco's "loads limit" warning: Eco has shed every load it may and still is over the limit. */
static inline bool alfa_ctrl_eco_warning(const alfa_ctrl_t *c) { return c->eco_warn != 0u; }

/* True when `minute` (0..1439) is inside window `w` (enabled, start <= m < end, crossing
 * midnight when start > end, empty when start == end). */
bool alfa_ctrl_tou_inside(const alfa_tou_window_t *w, int32_t minute);

#endif

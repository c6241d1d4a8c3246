/* Relay arbitration: the energy modes' wishes and the single ranking of SPEC.md §6.3 with the minimum dwell. */
#include "alfa/ctrl.h"
#include "alfa/model.h"

#define MODE_UNSET 0xFFu

static const uint8_t eco_order[ALFA_ECO_SHED_MAX] = {ALFA_RELAY_HEATER, ALFA_RELAY_POOL,
                                                     ALFA_RELAY_INVERTER};
_Static_assert(ALFA_RELAY_COUNT <= 8u, "relay masks are 8 bits");

void alfa_ctrl_init(alfa_ctrl_t *c, uint8_t boot_closed)
{
    alfa_ctrl_t z = {0};
    *c = z;
    c->closed = boot_closed;
    c->mode = MODE_UNSET;
    for (uint32_t r = 0; r < ALFA_RELAY_COUNT; r++) {
        c->why[r] = ALFA_WHY_BOOT;
    }
}

bool alfa_ctrl_tou_inside(const alfa_tou_window_t *w, int32_t minute)
{
    if (!w->enabled || w->start_min == w->end_min) {
        return false;
    }
    if (w->start_min < w->end_min) {
        return minute >= w->start_min && minute < w->end_min;
    }
    return minute >= w->start_min || minute < w->end_min; /* crosses midnight */
}

static bool is_closed(const alfa_ctrl_t *c, uint32_t r) { return (c->closed >> r) & 1u; }

/* A new mode starts from the relays as they are: no jump just because the mode changed. */
static void mode_enter(alfa_ctrl_t *c, const alfa_settings_t *s)
{
    c->mode = (uint8_t)s->mode;
    c->sc_grid_closed = is_closed(c, ALFA_RELAY_GRID);
    c->tou_closed = is_closed(c, (uint32_t)s->tou_relay);
    c->tou_relay = (uint8_t)s->tou_relay;
    c->eco_shed = 0;
    c->eco_warn = 0;
}

static int32_t eco_relay_power(const alfa_ctrl_input_t *in, uint8_t relay)
{
    switch (relay) {
    case ALFA_RELAY_HEATER:
        return in->p_heater_w;
    case ALFA_RELAY_POOL:
        return in->p_pool_w;
    default:
        return in->p_home_w;
    }
}

/* One Eco step per measurement: shed one more load, or bring the last one back, or neither. */
static void eco_step(alfa_ctrl_t *c, const alfa_ctrl_input_t *in)
{
    const alfa_settings_t *s = in->s;
    uint8_t n = s->eco_shed_inverter ? 3u : 2u;
    if (c->eco_shed > n) {
        c->eco_shed = n; /* the inverter was dropped from the order while shed */
    }
    /* Wait until the previous step has reached the relay (it may sit out a dwell). */
    for (uint32_t k = 0; k < c->eco_shed; k++) {
        if (c->why[eco_order[k]] == ALFA_WHY_DWELL) {
            return;
        }
    }
    int64_t load = (int64_t)in->p_home_w + in->p_pool_w + in->p_heater_w;
    int64_t limit = s->eco_limit_w;
    if (load > limit) {
        if (c->eco_shed < n) {
            uint8_t relay = eco_order[c->eco_shed];
            c->eco_load_w[c->eco_shed] = eco_relay_power(in, relay);
            c->eco_off_ms[c->eco_shed] = in->now_ms;
            c->eco_shed++;
        } else {
            c->eco_warn = 1;
        }
        return;
    }
    c->eco_warn = 0;
    if (c->eco_shed == 0u) {
        return;
    }
    uint8_t k = (uint8_t)(c->eco_shed - 1u);
    /* The minimum off time counts from the moment the relay actually opened: the dwell may have
     * held it closed for a while after the decision to shed. */
    uint32_t off_ms = (uint32_t)(in->now_ms - c->eco_off_ms[k]);
    if (!is_closed(c, eco_order[k])) {
        uint32_t open_ms = (uint32_t)(in->now_ms - c->changed_ms[eco_order[k]]);
        off_ms = open_ms < off_ms ? open_ms : off_ms;
    }
    /* Restore only with 10 % headroom for the load's own power, after the minimum off time.
     * The inverter output is the exception: with it open the house reads 0 W, so its own last
     * power can never fit; it comes back after the off time and is shed again if need be. */
    bool fits = (load + c->eco_load_w[k]) * 10 < limit * 9 || eco_order[k] == ALFA_RELAY_INVERTER;
    if (off_ms >= (uint32_t)s->eco_min_off_s * 1000u && fits) {
        c->eco_shed = k;
    }
}

uint8_t alfa_ctrl_decide(alfa_ctrl_t *c, const alfa_ctrl_input_t *in)
{
    const alfa_settings_t *s = in->s;
    uint8_t mode_has = 0;  /* bit r: the mode has a wish for relay r */
    uint8_t mode_want = 0; /* bit r: that wish is "closed" */

    if (in->modes_enabled) {
        if (c->mode != (uint8_t)s->mode) {
            mode_enter(c, s);
        }
        switch (s->mode) {
        case ALFA_MODE_SELF_CONSUMPTION:
            if (in->soc_pct <= s->sc_low_pct) {
                c->sc_grid_closed = 1;
            } else if (in->soc_pct >= s->sc_high_pct) {
                c->sc_grid_closed = 0;
            }
            mode_has = 1u << ALFA_RELAY_GRID;
            mode_want = (uint8_t)(c->sc_grid_closed << ALFA_RELAY_GRID);
            break;
        case ALFA_MODE_ECO:
            if (in->cycle) {
                eco_step(c, in);
            }
            for (uint32_t k = 0; k < c->eco_shed; k++) {
                mode_has |= (uint8_t)(1u << eco_order[k]); /* wish: open */
            }
            break;
        case ALFA_MODE_TOU:
            if (c->tou_relay != (uint8_t)s->tou_relay) {
                /* another relay now: without time it holds ITS state, not the old relay's */
                c->tou_relay = (uint8_t)s->tou_relay;
                c->tou_closed = is_closed(c, (uint32_t)s->tou_relay);
            }
            if (in->time_valid) {
                bool inside = false;
                for (uint32_t w = 0; w < ALFA_TOU_WINDOWS; w++) {
                    inside = inside || alfa_ctrl_tou_inside(&s->tou[w], in->minute_of_day);
                }
                c->tou_closed = inside;
            }
            mode_has = (uint8_t)(1u << s->tou_relay);
            mode_want = (uint8_t)(c->tou_closed << s->tou_relay);
            break;
        case ALFA_MODE_BACKUP:
            mode_has = mode_want = 1u << ALFA_RELAY_GRID;
            break;
        default:
            break;
        }
    }

    for (uint32_t r = 0; r < ALFA_RELAY_COUNT; r++) {
        uint8_t bit = (uint8_t)(1u << r);
        bool want = true;
        uint8_t why = in->modes_enabled ? ALFA_WHY_DEFAULT : ALFA_WHY_BOOT;
        bool exempt = false;
        if (mode_has & bit) {
            want = (mode_want & bit) != 0u;
            why = ALFA_WHY_MODE;
        }
        if (s->override[r] == ALFA_OVR_OPEN || s->override[r] == ALFA_OVR_CLOSED) {
            want = s->override[r] == ALFA_OVR_CLOSED;
            why = ALFA_WHY_OVERRIDE;
        }
        if (r == ALFA_RELAY_GRID && in->fault_action != ALFA_FACT_NONE) {
            want = in->fault_action == ALFA_FACT_GRID_CLOSED;
            why = ALFA_WHY_FAULT;
            exempt = true;
        }
        if (r == ALFA_RELAY_GRID && in->grid_limit_reached) {
            want = false;
            why = ALFA_WHY_GRID_LIMIT;
            exempt = true;
        }
        if (want != is_closed(c, r)) {
            uint32_t since = (uint32_t)(in->now_ms - c->changed_ms[r]);
            if (!exempt && (c->dwell_armed & bit) && since < (uint32_t)s->dwell_s * 1000u) {
                why = ALFA_WHY_DWELL;
            } else {
                c->closed ^= bit;
                c->changed_ms[r] = in->now_ms;
                /* A safety change does not start a dwell: leaving the safe state (limit switched
                 * off, fault cleared after its debounce) must act at once too. */
                if (exempt) {
                    c->dwell_armed &= (uint8_t)~bit;
                } else {
                    c->dwell_armed |= bit;
                }
            }
        }
        c->why[r] = why;
    }
    c->applied = 1;
    return c->closed;
}

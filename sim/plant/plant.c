/* The plant model: integer physics of the site that the simulated packs measure and switch. */
#include "alfa/plant.h"

#include <math.h>
#include <string.h>

#include "alfa/sim_rng.h"

#define NJ_PER_WH 3600000000000ll /* 1 Wh = 3600 J = 3.6e12 nJ */
#define MS_PER_MIN 60000u
#define CLOUD_SLOT_MIN 10u

void alfa_plant_defaults(alfa_plant_cfg_t *cfg, uint8_t packs)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->mains_mv = 220000u;
    cfg->base_load_w = 400;
    cfg->seed = 1;
    cfg->pack_count = packs;
    for (unsigned i = 0; i < ALFA_PLANT_MAX_PACKS; i++) {
        alfa_plant_pack_cfg_t *pc = &cfg->packs[i];
        pc->solar.peak_w = 5000;
        pc->solar.sunrise_min = 6 * 60;
        pc->solar.sunset_min = 20 * 60;
        pc->battery.capacity_wh = 10000;
        pc->battery.soc_init_pct = 50;
        pc->battery.r_int_mohm = 20;
        pc->battery.max_charge_w = 5000;
        pc->battery.max_discharge_w = 5000;
        pc->battery.grid_charge_w = 2000;
        pc->battery.cells = 16;
        pc->battery.auto_alarms = 1;
        pc->pool.p_w = 1200;
        pc->pool.window_count = 1;
        pc->pool.windows[0] = (alfa_plant_window_t){10 * 60, 16 * 60};
        pc->heater.p_w = 2000;
        pc->heater.window_count = 1;
        pc->heater.windows[0] = (alfa_plant_window_t){13 * 60, 15 * 60};
    }
}

static int window_ok(alfa_plant_window_t w)
{
    return w.from_min < ALFA_PLANT_DAY_MIN && w.to_min < ALFA_PLANT_DAY_MIN;
}

static int switched_ok(const alfa_plant_switched_t *s)
{
    if (s->p_w < 0 || s->window_count > ALFA_PLANT_MAX_WINDOWS) {
        return 0;
    }
    for (unsigned i = 0; i < s->window_count; i++) {
        if (!window_ok(s->windows[i])) {
            return 0;
        }
    }
    return 1;
}

int alfa_plant_init(alfa_plant_t *p, const alfa_plant_cfg_t *cfg)
{
    memset(p, 0, sizeof(*p));
    if (cfg->pack_count == 0 || cfg->pack_count > ALFA_PLANT_MAX_PACKS ||
        cfg->load_count > ALFA_PLANT_MAX_LOADS || cfg->mains_mv == 0 || cfg->base_load_w < 0) {
        return -1;
    }
    for (unsigned i = 0; i < cfg->load_count; i++) {
        if (cfg->loads[i].p_w < 0 || !window_ok(cfg->loads[i].when)) {
            return -1;
        }
    }
    for (unsigned i = 0; i < cfg->pack_count; i++) {
        const alfa_plant_pack_cfg_t *pc = &cfg->packs[i];
        const alfa_plant_battery_t *b = &pc->battery;
        if (b->capacity_wh == 0 || b->cells == 0 || b->soc_init_pct > 100 ||
            b->max_charge_w < 0 || b->max_discharge_w < 0 || b->grid_charge_w < 0 ||
            pc->solar.peak_w < 0 || pc->solar.cloud_pct > 100 ||
            pc->solar.sunrise_min >= ALFA_PLANT_DAY_MIN || pc->solar.sunset_min >= ALFA_PLANT_DAY_MIN ||
            pc->solar.sunset_min <= pc->solar.sunrise_min || !switched_ok(&pc->pool) ||
            !switched_ok(&pc->heater)) {
            return -1;
        }
    }
    p->cfg = *cfg;
    for (unsigned i = 0; i < cfg->pack_count; i++) {
        alfa_plant_pack_t *pk = &p->packs[i];
        const alfa_plant_battery_t *b = &cfg->packs[i].battery;
        pk->capacity_nj = (int64_t)b->capacity_wh * NJ_PER_WH;
        pk->energy_nj = pk->capacity_nj / 100 * b->soc_init_pct;
        pk->controller_on = 1;
        pk->relays_closed = cfg->relays_nc ? 0x0Fu : 0x00u;
        pk->out.v_pack_mv = alfa_plant_ocv_mv(b->cells, alfa_plant_soc_permille(p, (uint8_t)i));
        pk->out.bms_soc_pct = alfa_plant_soc_pct(p, (uint8_t)i);
    }
    return 0;
}

int alfa_plant_window_on(alfa_plant_window_t w, uint32_t min)
{
    if (w.from_min == w.to_min) {
        return 1;
    }
    if (w.from_min < w.to_min) {
        return min >= w.from_min && min < w.to_min;
    }
    return min >= w.from_min || min < w.to_min; /* crosses midnight */
}

void alfa_plant_set_coils(alfa_plant_t *p, uint8_t idx, uint8_t energised_mask)
{
    if (idx >= p->cfg.pack_count || !p->packs[idx].controller_on) {
        return;
    }
    uint8_t m = (uint8_t)(energised_mask & 0x0Fu);
    p->packs[idx].relays_closed = p->cfg.relays_nc ? (uint8_t)(~m & 0x0Fu) : m;
}

void alfa_plant_set_controller(alfa_plant_t *p, uint8_t idx, int on)
{
    if (idx >= p->cfg.pack_count) {
        return;
    }
    alfa_plant_pack_t *pk = &p->packs[idx];
    pk->controller_on = on ? 1u : 0u;
    if (!on) {
        pk->relays_closed = p->cfg.relays_nc ? 0x0Fu : 0x00u;
    }
}

void alfa_plant_set_alarms(alfa_plant_t *p, uint8_t idx, uint16_t alarm_bits)
{
    if (idx < p->cfg.pack_count) {
        p->packs[idx].alarms_injected = alarm_bits;
    }
}

uint16_t alfa_plant_soc_permille(const alfa_plant_t *p, uint8_t idx)
{
    const alfa_plant_pack_t *pk = &p->packs[idx];
    if (pk->capacity_nj <= 0 || pk->energy_nj <= 0) {
        return 0;
    }
    if (pk->energy_nj >= pk->capacity_nj) {
        return 1000;
    }
    /* energy * 1000 could overflow int64 for huge packs: divide the capacity first. */
    return (uint16_t)(pk->energy_nj / (pk->capacity_nj / 1000));
}

uint8_t alfa_plant_soc_pct(const alfa_plant_t *p, uint8_t idx)
{
    return (uint8_t)(alfa_plant_soc_permille(p, idx) / 10u);
}

uint32_t alfa_plant_ocv_mv(uint8_t cells, uint32_t soc_permille)
{
    if (soc_permille > 1000u) {
        soc_permille = 1000u;
    }
    return (uint32_t)cells * (2900u + soc_permille); /* 2.9 V + 1 mV per permille = 3.9 V at 1000 */
}

/* Clear-sky shape: sin(pi f) by Bhaskara's rational approximation (within 0.2 %), all integer. */
static int32_t clear_sky_w(int32_t peak_w, uint32_t rise_ms, uint32_t set_ms, uint32_t t_ms)
{
    if (t_ms <= rise_ms || t_ms >= set_ms || peak_w <= 0) {
        return 0;
    }
    const int64_t s = 65536;
    int64_t f = (int64_t)(t_ms - rise_ms) * s / (int64_t)(set_ms - rise_ms);
    int64_t g = f * (s - f);
    return (int32_t)((int64_t)peak_w * 16 * g / (5 * s * s - 4 * g));
}

/* Cloud attenuation (percent) at the start of global 10-minute slot `slot`. */
static int64_t cloud_at(uint64_t seed, uint8_t pack, uint8_t cloud_pct, uint64_t slot)
{
    uint64_t h = alfa_rng_hash(seed ^ alfa_rng_hash(slot * 131u + pack));
    return (int64_t)(h % ((uint64_t)cloud_pct + 1u));
}

int32_t alfa_plant_solar_w(const alfa_plant_t *p, uint8_t idx, uint32_t day, uint32_t ms_of_day)
{
    const alfa_plant_solar_t *s = &p->cfg.packs[idx].solar;
    int32_t w = clear_sky_w(s->peak_w, s->sunrise_min * MS_PER_MIN, s->sunset_min * MS_PER_MIN,
                            ms_of_day);
    if (w == 0 || s->cloud_pct == 0) {
        return w;
    }
    const uint32_t slot_ms = CLOUD_SLOT_MIN * MS_PER_MIN;
    uint64_t slot = (uint64_t)day * (ALFA_PLANT_DAY_MIN / CLOUD_SLOT_MIN) + ms_of_day / slot_ms;
    int64_t a0 = cloud_at(p->cfg.seed, idx, s->cloud_pct, slot);
    int64_t a1 = cloud_at(p->cfg.seed, idx, s->cloud_pct, slot + 1u);
    int64_t pos = ms_of_day % slot_ms;
    /* Linear between slot starts: the sky darkens and clears smoothly, not in steps. */
    int64_t att_e3 = (a0 * (int64_t)(slot_ms - pos) + a1 * pos) * 1000 / slot_ms;
    return (int32_t)((int64_t)w * (100000 - att_e3) / 100000);
}

static uint64_t isqrt64(uint64_t v)
{
    /* IEEE sqrt is correctly rounded, so the double estimate is within one of floor(sqrt(v))
     * even above 2^53; the integer fix-up makes the result exact and machine-independent. */
    uint64_t x = (uint64_t)sqrt((double)v);
    while (x > 0 && x * x > v) {
        x--;
    }
    while ((x + 1) * (x + 1) <= v) {
        x++;
    }
    return x;
}

/* Battery current (mA, + = charging) that delivers terminal power `p_w` with open-circuit
 * voltage `ocv_mv` and internal resistance `r_mohm`: solves P = (OCV + R I) I in the form
 * I = 2c / (b + sqrt(b^2 + 4Rc)), which stays exact for R = 0 and avoids cancellation. */
static int32_t current_for_power(int32_t p_w, uint32_t ocv_mv, uint32_t r_mohm)
{
    if (p_w == 0 || ocv_mv == 0) {
        return 0;
    }
    int64_t pa = p_w < 0 ? -(int64_t)p_w : p_w;
    uint64_t b = (uint64_t)ocv_mv * 1000u;
    uint64_t c = (uint64_t)pa * 1000000000u; /* uW x 1000 */
    uint64_t b2 = b * b;
    uint64_t rc4 = 4u * (uint64_t)r_mohm * c;
    uint64_t disc;
    if (p_w > 0) {
        disc = b2 + rc4;
    } else {
        disc = rc4 >= b2 ? 0 : b2 - rc4; /* beyond the maximum power point: clamp */
    }
    int64_t i_ma = (int64_t)((2u * c) / (b + isqrt64(disc)));
    return (int32_t)(p_w < 0 ? -i_ma : i_ma);
}

static int32_t min32(int32_t a, int32_t b) { return a < b ? a : b; }

static uint32_t w_to_ma(int32_t p_w, uint32_t mains_mv)
{
    if (p_w <= 0) {
        return 0;
    }
    return (uint32_t)(((int64_t)p_w * 1000000 + mains_mv / 2) / mains_mv);
}

static int load_on(const alfa_plant_load_t *l, uint32_t day, uint32_t min)
{
    if (!alfa_plant_window_on(l->when, min)) {
        return 0;
    }
    if (l->day == 0) {
        return 1;
    }
    /* The part after midnight of a window that crosses it belongs to the day it started. */
    uint32_t owner = day;
    if (l->when.from_min > l->when.to_min && min < l->when.to_min) {
        owner = day - 1u;
    }
    return owner == l->day;
}

static int32_t switched_w(const alfa_plant_switched_t *s, int relay_closed, uint32_t min)
{
    if (!relay_closed || s->p_w == 0) {
        return 0;
    }
    if (s->window_count == 0) {
        return s->p_w;
    }
    for (unsigned i = 0; i < s->window_count; i++) {
        if (alfa_plant_window_on(s->windows[i], min)) {
            return s->p_w;
        }
    }
    return 0;
}

void alfa_plant_step(alfa_plant_t *p, uint32_t day, uint32_t ms_of_day, uint32_t dt_ms)
{
    const alfa_plant_cfg_t *cfg = &p->cfg;
    uint32_t min = ms_of_day / MS_PER_MIN;

    int32_t house = cfg->base_load_w;
    for (unsigned i = 0; i < cfg->load_count; i++) {
        if (load_on(&cfg->loads[i], day, min)) {
            house += cfg->loads[i].p_w;
        }
    }
    p->p_house_w = house;

    /* Parallel inverters share the house equally; the first packs take the remainder watts. */
    unsigned n_on = 0;
    for (unsigned i = 0; i < cfg->pack_count; i++) {
        if (p->packs[i].relays_closed & (1u << 1)) {
            n_on++;
        }
    }
    int32_t share = n_on ? house / (int32_t)n_on : 0;
    int32_t extra = n_on ? house % (int32_t)n_on : 0;
    int32_t unserved_site = n_on ? 0 : house;

    unsigned k = 0;
    for (unsigned i = 0; i < cfg->pack_count; i++) {
        alfa_plant_pack_t *pk = &p->packs[i];
        const alfa_plant_pack_cfg_t *pc = &cfg->packs[i];
        const alfa_plant_battery_t *b = &pc->battery;
        alfa_plant_pack_out_t *o = &pk->out;
        int grid_closed = (pk->relays_closed & (1u << 0)) != 0;
        int inv_closed = (pk->relays_closed & (1u << 1)) != 0;

        int32_t load = 0;
        if (inv_closed) {
            load = share + ((int32_t)k < extra ? 1 : 0);
            k++;
        }
        int32_t pv = alfa_plant_solar_w(p, (uint8_t)i, day, ms_of_day);
        int full = pk->energy_nj >= pk->capacity_nj;
        int empty = pk->energy_nj <= 0;
        int32_t charge_room = full ? 0 : b->max_charge_w;

        int32_t pv_to_load = min32(pv, load);
        int32_t rest = load - pv_to_load;
        int32_t pv_to_batt = min32(pv - pv_to_load, charge_room);
        int32_t grid = 0, batt = pv_to_batt, unserved = 0;
        if (grid_closed) {
            int32_t grid_to_batt = min32(b->grid_charge_w, charge_room - pv_to_batt);
            grid = rest + grid_to_batt;
            batt += grid_to_batt;
        } else {
            int32_t from_batt = empty ? 0 : min32(rest, b->max_discharge_w);
            batt -= from_batt;
            unserved = rest - from_batt;
        }
        o->p_pv_avail_w = pv;
        o->p_pv_used_w = pv_to_load + pv_to_batt;
        o->p_home_w = load - unserved;
        o->p_batt_w = batt;
        o->p_grid_w = grid;
        o->p_unserved_w = unserved;
        o->p_pool_w = switched_w(&pc->pool, (pk->relays_closed & (1u << 2)) != 0, min);
        o->p_heater_w = switched_w(&pc->heater, (pk->relays_closed & (1u << 3)) != 0, min);
        unserved_site += unserved;

        uint32_t ocv = alfa_plant_ocv_mv(b->cells, alfa_plant_soc_permille(p, (uint8_t)i));
        int32_t i_ma = current_for_power(batt, ocv, b->r_int_mohm);
        o->i_batt_ma = i_ma;
        o->v_pack_mv = (uint32_t)((int64_t)ocv + (int64_t)i_ma * b->r_int_mohm / 1000);
        o->ct_ma[0] = w_to_ma(grid, cfg->mains_mv);
        o->ct_ma[1] = w_to_ma(o->p_home_w, cfg->mains_mv);
        o->ct_ma[2] = w_to_ma(o->p_pool_w, cfg->mains_mv);
        o->ct_ma[3] = w_to_ma(o->p_heater_w, cfg->mains_mv);

        /* The cells store OCV x I; the I^2 R difference to the terminal power is heat. */
        pk->energy_nj += (int64_t)ocv * i_ma * (int64_t)dt_ms;
        if (pk->energy_nj < 0) {
            pk->energy_nj = 0;
        }
        if (pk->energy_nj > pk->capacity_nj) {
            pk->energy_nj = pk->capacity_nj;
        }
        pk->grid_import_mj += (int64_t)grid * dt_ms;
        pk->pv_used_mj += (int64_t)o->p_pv_used_w * dt_ms;

        uint16_t permille = alfa_plant_soc_permille(p, (uint8_t)i);
        if (b->auto_alarms) {
            if (pk->energy_nj <= 0) {
                pk->uv_latched = 1;
            } else if (permille > 20) {
                pk->uv_latched = 0;
            }
        } else {
            pk->uv_latched = 0;
        }
        o->bms_alarms = (uint16_t)(pk->alarms_injected | (pk->uv_latched ? 0x0002u : 0u));
        o->bms_soc_pct = (uint8_t)(permille / 10u);
    }
    p->p_unserved_w = unserved_site;
}

const alfa_plant_pack_out_t *alfa_plant_out(const alfa_plant_t *p, uint8_t idx) { return &p->packs[idx].out; }

uint8_t alfa_plant_relays_closed(const alfa_plant_t *p, uint8_t idx) { return p->packs[idx].relays_closed; }

int64_t alfa_plant_grid_import_mj(const alfa_plant_t *p, uint8_t idx) { return p->packs[idx].grid_import_mj; }

/* The isa-check plant: battery, solar, house, pool pump, water heater and grid in integers, and the CT waveforms they make. */
#include "isa.h"

/* One 50-Hz cycle at 1250 Hz is 25 samples: round(32767 sin(2 pi k / 25)). */
static const int32_t sin25_q15[25] = {
    0, 8149, 15786, 22431, 27666, 31163, 32702, 32187, 29648, 25247, 19260, 12062, 4107,
    -4107, -12062, -19260, -25247, -29648, -32187, -32702, -31163, -27666, -22431, -15786, -8149,
};

#define BATT_MWH (ISA_BATT_WH * 1000u)              /* capacity, mWh: 32-bit arithmetic throughout */
#define SOLAR_PEAK_W 4200u
#define SOLAR_NOON_S (13u * 3600u)
#define SOLAR_HALF_S 23400u                               /* 6.5 h either side of 13:00 */
#define GRID_CHARGE_W 1500                                /* the inverter charges from a closed grid */
#define GRID_CHARGE_BELOW_PERMILLE 400u                   /* ... while the battery is under 40 % */
#define LIMIT_W 5000                                      /* inverter and battery power limit */

static uint32_t local_s(uint32_t t_ms) { return (ISA_START_LOCAL_S + t_ms / 1000u) % 86400u; }
static bool between(uint32_t s, uint32_t h0, uint32_t m0, uint32_t h1, uint32_t m1)
{
    return s >= h0 * 3600u + m0 * 60u && s < h1 * 3600u + m1 * 60u;
}

static uint32_t rng_next(uint32_t *r)
{
    *r = *r * 1664525u + 1013904223u;
    return *r >> 16;
}

void isa_plant_init(isa_plant_t *p)
{
    *p = (isa_plant_t){0};
    p->e_mwh = BATT_MWH / 100u * 27u;   /* 27 % at 21:00 */
    p->rng = 0x1234567u;
    p->v_mv = 50720u;
}

uint8_t isa_plant_soc_pct(const isa_plant_t *p) { return (uint8_t)(p->e_mwh / (BATT_MWH / 100u)); }

static int32_t solar_at(uint32_t s)
{
    uint32_t x = s > SOLAR_NOON_S ? s - SOLAR_NOON_S : SOLAR_NOON_S - s;
    if (x >= SOLAR_HALF_S) {
        return 0;
    }
    /* A parabola: peak x (1 - (x / half)^2), in 32 bits: half^2 = 547,560,000. */
    uint32_t w = (SOLAR_HALF_S * SOLAR_HALF_S - x * x) / (SOLAR_HALF_S * SOLAR_HALF_S / SOLAR_PEAK_W + 1u);
    if (between(s, 14, 0, 14, 20)) {
        w /= 3u;  /* a cloud */
    }
    return (int32_t)w;
}

void isa_plant_step(isa_plant_t *p, uint32_t t_ms, uint32_t dt_ms, uint8_t closed)
{
    uint32_t s = local_s(t_ms);
    p->solar_w = solar_at(s);
    p->house_w = 300 + (between(s, 6, 30, 8, 0) ? 1200 : 0) + (between(s, 12, 0, 13, 0) ? 800 : 0) +
                 (between(s, 18, 0, 22, 0) ? 1500 : 0) + (int32_t)(rng_next(&p->rng) % 81u) - 40;
    p->pool_w = between(s, 10, 0, 17, 0) ? 900 : 0;
    p->heater_w = (between(s, 6, 0, 7, 30) || between(s, 17, 0, 19, 0)) ? 2000 : 0;

    int32_t home = (closed & 0x2u) ? p->house_w : 0;
    int32_t pool = (closed & 0x4u) ? p->pool_w : 0;
    int32_t heater = (closed & 0x8u) ? p->heater_w : 0;
    int32_t load = home + pool + heater;
    uint32_t soc_permille = p->e_mwh / (BATT_MWH / 1000u);
    int32_t grid = 0, batt;
    int32_t solar = p->solar_w;
    if ((closed & 0x1u) && soc_permille < GRID_CHARGE_BELOW_PERMILLE) {
        /* A low battery with the grid at hand: the grid feeds the loads and charges the battery. */
        int32_t surplus = solar - load;
        grid = (surplus < 0 ? -surplus : 0) + GRID_CHARGE_W;
        batt = (surplus > 0 ? surplus : 0) + GRID_CHARGE_W;
    } else {
        /* Battery first: the grid (closed or not) is only the inverter's fallback. */
        batt = solar - load;
        if (batt < 0 && soc_permille == 0u) {
            if (closed & 0x1u) {
                grid = -batt;  /* empty: the grid takes over */
            } else {
                home = pool = heater = 0;  /* empty battery, no grid: the inverter stops */
            }
            batt = solar > load ? solar - load : 0;
        }
    }
    if (batt > LIMIT_W) {
        batt = LIMIT_W;  /* the rest of the solar is curtailed */
    }
    if (batt > 0 && soc_permille >= 1000u) {
        batt = 0;  /* full: solar is curtailed to the load */
    }
    p->p_grid_w = grid;
    p->p_home_w = home;
    p->p_pool_w = pool;
    p->p_heater_w = heater;
    p->p_batt_w = batt;

    /* Energy in mWh with the W x ms remainder kept (1 mWh = 3600 W x ms): charge and discharge apart. */
    uint32_t dw = (uint32_t)(batt >= 0 ? batt : -batt) * dt_ms + p->rem_wms;
    uint32_t d_mwh = dw / 3600u;
    p->rem_wms = dw % 3600u;
    if (batt >= 0) {
        p->e_mwh = p->e_mwh + d_mwh > BATT_MWH ? BATT_MWH : p->e_mwh + d_mwh;
    } else {
        p->e_mwh = p->e_mwh > d_mwh ? p->e_mwh - d_mwh : 0u;
    }
    soc_permille = p->e_mwh / (BATT_MWH / 1000u);
    /* LFP pack: 46.4 V empty, 62.4 V full (SPEC 5.4), plus 20 mOhm of internal resistance. */
    int32_t ocv_mv = 46400 + (int32_t)soc_permille * 16;
    int32_t i_ma = batt * 100000 / (ocv_mv / 10); /* |batt| <= 5000 W: fits 32 bits */
    p->i_ma = i_ma;
    p->v_mv = (uint32_t)(ocv_mv + i_ma / 50);
}

void isa_plant_ct_block(isa_plant_t *p, uint8_t ct, uint16_t out[ISA_CT_SAMPLES])
{
    int32_t w = ct == 0 ? p->p_grid_w : ct == 1 ? p->p_home_w : ct == 2 ? p->p_pool_w : p->p_heater_w;
    if (w < 0) {
        w = -w;  /* a CT sees magnitude only */
    }
    /* Peak in ADC counts, Q4, for I_rms = P / 220 V at the factory gain (uA per count):
     * i_ma x 1000 x sqrt(2) / 23696 x 16 = i_ma x 954.9. Below 2048 counts (Q4: 32768) the products
     * with the Q15 sine stay inside 32 bits: no 64-bit arithmetic per block. */
    _Static_assert(ALFA_CT_GAIN_DEFAULT_UA == 23696, "the factor below is for the factory gain");
    uint32_t i_ma = (uint32_t)w * 1000u / 220u;
    uint32_t peak_q4 = i_ma * 9549u / 10000u;
    peak_q4 = peak_q4 > 32767u ? 32767u : peak_q4; /* the ADC clips there anyway */
    /* One cycle of the waveform, then the block walks it: 25 multiplications, not 125. */
    int32_t cyc[25];
    for (uint32_t k = 0; k < 25u; k++) {
        int32_t prod = (int32_t)peak_q4 * sin25_q15[k];               /* Q19 */
        cyc[k] = 2048 + (prod >= 0 ? (prod + (1 << 18)) >> 19 : -((-prod + (1 << 18)) >> 19));
    }
    uint32_t k = (uint32_t)ct * 6u; /* each CT its own phase */
    uint32_t r = p->rng;
    for (uint32_t n = 0; n < ISA_CT_SAMPLES; n++) {
        r = r * 1664525u + 1013904223u;
        /* noise -2..+2 counts */
        int32_t code = cyc[k] + (int32_t)((r >> 16) & 3u) + (int32_t)((r >> 18) & 1u) - 2;
        out[n] = (uint16_t)(code < 0 ? 0 : code > 4095 ? 4095 : code);
        k = k == 24u ? 0u : k + 1u;
    }
    p->rng = r;
}

/* Measurements: CT RMS with bias removal over whole mains cycles, powers, solar balance, SOC and energy counters. */
#include <stddef.h>
#include "alfa/meas.h"
#include "alfa/err.h"

/* Integer square root of a 64-bit value (floor), digit by digit: no FPU on the target needed. */
static uint64_t isqrt64(uint64_t v)
{
    uint64_t root = 0;
    uint64_t bit = (uint64_t)1 << 62;
    while (bit > v) {
        bit >>= 2;
    }
    while (bit != 0) {
        if (v >= root + bit) {
            v -= root + bit;
            root = (root >> 1) + bit;
        } else {
            root >>= 1;
        }
        bit >>= 2;
    }
    return root;
}

int32_t alfa_meas_ct_rms_ma(const uint16_t *samples, uint16_t count, uint16_t rate_hz,
                            int32_t mains_hz, int32_t gain_ua, int32_t offset_ma, bool *out_of_range)
{
    if (samples == NULL || rate_hz == 0u || (mains_hz != 50 && mains_hz != 60) || gain_ua < 1 ||
        gain_ua > ALFA_CT_GAIN_MAX_UA) {
        return ALFA_E_INVAL;
    }
    /* Whole mains cycles only: a partial cycle biases both the mean and the RMS. */
    uint32_t cycles = (uint32_t)count * (uint32_t)mains_hz / rate_hz;
    uint32_t n = cycles * rate_hz / (uint32_t)mains_hz;
    if (cycles == 0u || n == 0u) {
        return ALFA_E_INVAL;
    }
    uint32_t sum = 0;
    uint64_t sumsq = 0;
    uint16_t lo = 0xFFFFu, hi = 0;
    for (uint32_t k = 0; k < n; k++) {
        uint32_t x = samples[k];
        sum += x;
        sumsq += (uint64_t)(x * x);
        lo = samples[k] < lo ? samples[k] : lo;
        hi = samples[k] > hi ? samples[k] : hi;
    }
    /* Variance about the block's own mean (the CT bias), exactly: n*sum(x^2) - (sum x)^2. */
    uint64_t var_n2 = (uint64_t)n * sumsq - (uint64_t)sum * sum;
    /* Keep 3 fractional bits of RMS counts (x64 on the variance) so small currents are not lost
     * to rounding; 4095^2 * 64 * 100000^2 still fits in 64 bits. */
    uint64_t var_q6 = var_n2 * 64u / ((uint64_t)n * n);
    uint64_t g = (uint64_t)gain_ua;
    uint64_t i_ua_x8 = isqrt64(var_q6 * g * g);
    int64_t i_ma = (int64_t)((i_ua_x8 + 4000u) / 8000u) + offset_ma;
    if (i_ma < ALFA_CT_NOISE_FLOOR_MA) {
        i_ma = 0;
    }
    bool bad = lo == 0u || hi >= ALFA_ADC_MAX_CODE || i_ma > ALFA_CT_RATED_MA;
    if (out_of_range != NULL) {
        *out_of_range = bad;
    }
    return i_ma > INT32_MAX ? INT32_MAX : (int32_t)i_ma;
}

int32_t alfa_meas_power_w(int32_t i_ma, int32_t nominal_v)
{
    return (int32_t)((int64_t)i_ma * nominal_v / 1000);
}

int32_t alfa_meas_batt_power_w(uint32_t v_pack_mv, int32_t i_batt_ma)
{
    return (int32_t)((int64_t)v_pack_mv * i_batt_ma / 1000000);
}

int32_t alfa_meas_solar_w(int32_t p_home_w, int32_t p_batt_w, int32_t p_grid_w)
{
    int64_t p = (int64_t)p_home_w + p_batt_w - p_grid_w;
    return p > 0 ? (int32_t)(p > INT32_MAX ? INT32_MAX : p) : 0;
}

uint8_t alfa_meas_soc_pct(uint32_t v_pack_mv, int32_t cells)
{
    if (cells < 1) {
        return 0;
    }
    int64_t empty_mv = 2900LL * cells;
    int64_t span_mv = 1000LL * cells;
    int64_t above = (int64_t)v_pack_mv - empty_mv;
    if (above <= 0) {
        return 0;
    }
    int64_t pct = (above * 100 + span_mv / 2) / span_mv;
    return (uint8_t)(pct > 100 ? 100 : pct);
}

void alfa_soc_filter_init(alfa_soc_filter_t *f)
{
    alfa_soc_filter_t z = {0};
    *f = z;
}

uint32_t alfa_soc_filter_add(alfa_soc_filter_t *f, uint32_t v_mv)
{
    if (!f->primed) {
        for (uint32_t i = 0; i < ALFA_SOC_FILTER_LEN; i++) {
            f->v_mv[i] = v_mv;
        }
        f->sum_mv = v_mv * ALFA_SOC_FILTER_LEN;
        f->head = 0;
        f->primed = 1;
        return v_mv;
    }
    f->sum_mv = f->sum_mv - f->v_mv[f->head] + v_mv;
    f->v_mv[f->head] = v_mv;
    f->head = (uint8_t)((f->head + 1u) % ALFA_SOC_FILTER_LEN);
    return (f->sum_mv + ALFA_SOC_FILTER_LEN / 2u) / ALFA_SOC_FILTER_LEN;
}

void alfa_energy_add(alfa_energy_t *e, int32_t p_w, uint32_t dt_ms)
{
    if (p_w <= 0) {
        return;
    }
    uint64_t wms = (uint64_t)e->rem_wms + (uint64_t)p_w * dt_ms;
    e->wh += (uint32_t)(wms / 3600000u);
    e->rem_wms = (uint32_t)(wms % 3600000u);
}

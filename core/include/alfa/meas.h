/* Measurements (SPEC.md §5.2-5.5): CT RMS, powers, solar by energy balance, SOC and energy counters. */
#ifndef ALFA_MEAS_H
#define ALFA_MEAS_H

#include <stdbool.h>
#include <stdint.h>

/* Below this the current reads 0: ADC noise on an idle CT must not show up as a phantom load
 * (200 mA is 44 W at 220 V, about 8 ADC counts RMS with the default gain). */
#define ALFA_CT_NOISE_FLOOR_MA 200
/* The CTs are 50 A parts (SPEC.md §4): more than this, or a clipped sample, is "CT out of range". */
#define ALFA_CT_RATED_MA 50000
/* Largest calibration gain accepted by the RMS arithmetic (uA per ADC count). */
#define ALFA_CT_GAIN_MAX_UA 100000
/* ADC code range: a sample at either rail means the waveform was clipped. */
#define ALFA_ADC_MAX_CODE 4095u

/* RMS current of one CT block, in mA, over the largest whole number of mains cycles the block
 * holds. The DC bias is the block's own mean (removed exactly, in integers), then
 * i = rms_counts x gain_ua / 1000 + offset_ma, clamped at 0, and 0 below the noise floor.
 * `*out_of_range` (may be NULL) is set when a sample sits at an ADC rail or i > rated.
 * Returns the current (>= 0), or ALFA_E_INVAL when the block is NULL, holds less than one mains
 * cycle, or a parameter is outside its range (gain 1..ALFA_CT_GAIN_MAX_UA, mains 50/60). */
int32_t alfa_meas_ct_rms_ma(const uint16_t *samples, uint16_t count, uint16_t rate_hz,
                            int32_t mains_hz, int32_t gain_ua, int32_t offset_ma, bool *out_of_range);

/* P = I x V_nominal, in W (SPEC.md §5.3). */
int32_t alfa_meas_power_w(int32_t i_ma, int32_t nominal_v);
/* P_batt = V_pack x I_batt, in W, + = charging. */
int32_t alfa_meas_batt_power_w(uint32_t v_pack_mv, int32_t i_batt_ma);
/* P_solar = max(0, P_home + P_batt - P_grid): never negative. */
int32_t alfa_meas_solar_w(int32_t p_home_w, int32_t p_batt_w, int32_t p_grid_w);
/* SOC from pack voltage: 2.9 V per cell = 0 %, 3.9 V per cell = 100 %, linear, rounded to the
 * nearest percent, clamped to 0..100. `cells` below 1 reads as 0 %. */
uint8_t alfa_meas_soc_pct(uint32_t v_pack_mv, int32_t cells);

/* Moving average of the pack voltage over ALFA_SOC_FILTER_LEN readings (2-s polls: 30 s), so a
 * load step does not flip relays. The first reading fills the whole window: SOC is right at once. */
#define ALFA_SOC_FILTER_LEN 15u
typedef struct alfa_soc_filter {
    uint32_t v_mv[ALFA_SOC_FILTER_LEN];
    uint32_t sum_mv;
    uint8_t head;
    uint8_t primed;
} alfa_soc_filter_t;
void alfa_soc_filter_init(alfa_soc_filter_t *f);
/* Add one reading; returns the filtered voltage. */
uint32_t alfa_soc_filter_add(alfa_soc_filter_t *f, uint32_t v_mv);

/* An energy counter in Wh with the sub-Wh remainder kept, so 2-s steps do not lose energy. */
typedef struct alfa_energy {
    uint32_t wh;
    uint32_t rem_wms; /* W x ms not yet a whole Wh (< 3,600,000) */
} alfa_energy_t;
/* Add p_w during dt_ms; negative powers add nothing. */
void alfa_energy_add(alfa_energy_t *e, int32_t p_w, uint32_t dt_ms);
/* Whole watt-hours counted. */
static inline uint32_t alfa_energy_wh(const alfa_energy_t *e) { return e->wh; }
/* Set the whole watt-hours (a count recovered from elsewhere); the part of a Wh is kept. */
static inline void alfa_energy_set_wh(alfa_energy_t *e, uint32_t wh) { e->wh = wh; }

#endif

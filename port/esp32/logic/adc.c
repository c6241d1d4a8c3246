/* CT sampling logic: DMA entries to channels, 4-point averages, calibration, three block sets (no ESP-IDF headers: host-tested). */
#include "alfa/esp32/adc.h"
#include "alfa/port.h"

_Static_assert(ALFA_ESP32_CT_RATE_HZ == 1250u, "25 samples per 50-Hz cycle");
_Static_assert(ALFA_ESP32_CT_SAMPLES * 50u % ALFA_ESP32_CT_RATE_HZ == 0u, "whole 50-Hz cycles per block");
_Static_assert(ALFA_ESP32_CT_SAMPLES * 60u % ALFA_ESP32_CT_RATE_HZ == 0u, "whole 60-Hz cycles per block");

static void ideal(alfa_esp32_adc_t *a)
{
    for (uint32_t k = 0; k < ALFA_ESP32_ADC_KNOTS; k++) {
        a->code_at_knot[k] = (uint16_t)(k * 256u); /* knot 16 is 4096: outputs clamp to 4094 */
    }
}

int32_t alfa_esp32_adc_init(alfa_esp32_adc_t *a, alfa_esp32_adc_format_t format,
                            const uint8_t hw_channel[ALFA_ESP32_ADC_CHANNELS])
{
    if (a == 0 || hw_channel == 0 || (format != ALFA_ESP32_ADC_TYPE1 && format != ALFA_ESP32_ADC_TYPE2)) {
        return ALFA_PORT_E_RANGE;
    }
    *a = (alfa_esp32_adc_t){0};
    a->format = (uint8_t)format;
    for (uint32_t i = 0; i < 16u; i++) {
        a->ct_of_hw[i] = ALFA_ESP32_ADC_NONE;
    }
    for (uint32_t ct = 0; ct < ALFA_ESP32_ADC_CHANNELS; ct++) {
        if (hw_channel[ct] > 15u || a->ct_of_hw[hw_channel[ct]] != ALFA_ESP32_ADC_NONE) {
            a->format = 0;
            return ALFA_PORT_E_RANGE;
        }
        a->ct_of_hw[hw_channel[ct]] = (uint8_t)ct;
    }
    a->filling = 0;
    a->ready = ALFA_ESP32_ADC_NONE;
    ideal(a);
    return ALFA_PORT_OK;
}

int32_t alfa_esp32_adc_set_cal(alfa_esp32_adc_t *a, const uint16_t mv[ALFA_ESP32_ADC_KNOTS])
{
    if (a == 0 || mv == 0) {
        return ALFA_PORT_E_RANGE;
    }
    for (uint32_t k = 0; k < ALFA_ESP32_ADC_KNOTS; k++) {
        if (mv[k] > ALFA_ESP32_ADC_FULL_MV || (k > 0u && mv[k] < mv[k - 1u])) {
            return ALFA_PORT_E_RANGE;
        }
    }
    for (uint32_t k = 0; k < ALFA_ESP32_ADC_KNOTS; k++) {
        uint32_t code = ((uint32_t)mv[k] * 4096u + ALFA_ESP32_ADC_FULL_MV / 2u) / ALFA_ESP32_ADC_FULL_MV;
        a->code_at_knot[k] = (uint16_t)(code > 4096u ? 4096u : code);
    }
    return ALFA_PORT_OK;
}

uint16_t alfa_esp32_adc_sample(const alfa_esp32_adc_t *a, uint32_t raw_sum, uint8_t rail)
{
    if (rail & 1u) {
        return 0u;
    }
    if (rail & 2u) {
        return 4095u;
    }
    /* raw_sum is 4 x the average: knots sit every 256 raw codes = every 1024 in sum units. */
    uint32_t k = raw_sum >> 10;
    if (k >= ALFA_ESP32_ADC_KNOTS - 1u) {
        k = ALFA_ESP32_ADC_KNOTS - 2u;
    }
    uint32_t frac = raw_sum - (k << 10);
    int32_t c0 = a->code_at_knot[k], c1 = a->code_at_knot[k + 1u];
    int32_t code = c0 + (int32_t)(((c1 - c0) * (int32_t)frac + 512) >> 10);
    return (uint16_t)(code < 1 ? 1 : code > 4094 ? 4094 : code);
}

/* The set to fill next: the one that is not the newest complete set. */
static uint8_t free_set(const alfa_esp32_adc_t *a)
{
    for (uint8_t s = 0; s < ALFA_ESP32_ADC_SETS; s++) {
        if (s != a->ready) {
            return s;
        }
    }
    return ALFA_ESP32_ADC_NONE;
}

static void put(alfa_esp32_adc_t *a, uint8_t ct, uint16_t sample)
{
    if (a->filling == ALFA_ESP32_ADC_NONE) {
        a->filling = free_set(a);
        for (uint32_t c = 0; c < ALFA_ESP32_ADC_CHANNELS; c++) {
            a->fill_n[c] = 0;
        }
        if (a->filling == ALFA_ESP32_ADC_NONE) {
            a->dropped++;
            return;
        }
    }
    if (a->fill_n[ct] < ALFA_ESP32_CT_SAMPLES) {
        a->block[a->filling][ct][a->fill_n[ct]++] = sample;
    }
    for (uint32_t c = 0; c < ALFA_ESP32_ADC_CHANNELS; c++) {
        if (a->fill_n[c] < ALFA_ESP32_CT_SAMPLES) {
            return;
        }
    }
    /* Every channel has its block: the set is the newest, and filling moves to a free set. */
    a->ready = a->filling;
    a->sets_done++;
    a->filling = ALFA_ESP32_ADC_NONE;
    a->filling = free_set(a);
    for (uint32_t c = 0; c < ALFA_ESP32_ADC_CHANNELS; c++) {
        a->fill_n[c] = 0;
    }
}

static void conversion(alfa_esp32_adc_t *a, uint32_t hw, uint32_t raw)
{
    uint8_t ct = a->ct_of_hw[hw & 15u];
    if (ct == ALFA_ESP32_ADC_NONE) {
        a->foreign++;
        return;
    }
    a->acc[ct] = (uint16_t)(a->acc[ct] + raw);
    a->acc_rail[ct] = (uint8_t)(a->acc_rail[ct] | (raw == 0u ? 1u : 0u) | (raw >= 4095u ? 2u : 0u));
    if (++a->acc_n[ct] == ALFA_ESP32_ADC_DECIM) {
        uint16_t s = alfa_esp32_adc_sample(a, a->acc[ct], a->acc_rail[ct]);
        a->acc[ct] = 0;
        a->acc_n[ct] = 0;
        a->acc_rail[ct] = 0;
        put(a, ct, s);
    }
}

void alfa_esp32_adc_feed(alfa_esp32_adc_t *a, const uint8_t *dma, uint32_t len)
{
    if (a == 0 || dma == 0 || a->format == 0) {
        return;
    }
    if (a->format == ALFA_ESP32_ADC_TYPE1) {
        for (uint32_t i = 0; i + 2u <= len; i += 2u) {
            uint32_t v = (uint32_t)dma[i] | ((uint32_t)dma[i + 1u] << 8);
            conversion(a, v >> 12, v & 0xFFFu);
        }
    } else {
        for (uint32_t i = 0; i + 4u <= len; i += 4u) {
            uint32_t v = (uint32_t)dma[i] | ((uint32_t)dma[i + 1u] << 8) | ((uint32_t)dma[i + 2u] << 16) |
                         ((uint32_t)dma[i + 3u] << 24);
            if ((v >> 16) & 1u) {
                a->foreign++; /* ADC2: never configured, never ours */
                continue;
            }
            conversion(a, (v >> 13) & 7u, v & 0xFFFu);
        }
    }
}

const uint16_t *alfa_esp32_adc_block(alfa_esp32_adc_t *a, uint8_t ct, uint16_t *count, uint16_t *rate_hz)
{
    if (a == 0 || ct >= ALFA_ESP32_ADC_CHANNELS || count == 0 || rate_hz == 0) {
        return 0;
    }
    if (a->ready == ALFA_ESP32_ADC_NONE) {
        return 0;
    }
    *count = ALFA_ESP32_CT_SAMPLES;
    *rate_hz = (uint16_t)ALFA_ESP32_CT_RATE_HZ;
    return a->block[a->ready][ct];
}

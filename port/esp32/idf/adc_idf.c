/* The four CTs on ADC1 in continuous (DMA) mode at 20 kHz, calibrated from eFuse, drained into the CT blocks by the pack task. */
#include "esp_adc/adc_cali.h"
#include "esp_adc/adc_cali_scheme.h"
#include "esp_adc/adc_continuous.h"
#include "esp_log.h"
#include "soc/soc_caps.h"
#include "esp32_idf.h"

#define FRAME_BYTES 256u
/* The driver's pool holds what accumulates between two drains: 100 ms, twice the wake-up period. */
#define POOL_BYTES ((ALFA_ESP32_ADC_CONV_HZ * SOC_ADC_DIGI_RESULT_BYTES / 10u + FRAME_BYTES - 1u) / FRAME_BYTES * FRAME_BYTES)

#if SOC_ADC_DIGI_RESULT_BYTES == 2
#define FORMAT ADC_DIGI_OUTPUT_FORMAT_TYPE1
#define ALFA_FORMAT ALFA_ESP32_ADC_TYPE1
#else
#define FORMAT ADC_DIGI_OUTPUT_FORMAT_TYPE2
#define ALFA_FORMAT ALFA_ESP32_ADC_TYPE2
#endif

static alfa_esp32_t *B(void *user) { return (alfa_esp32_t *)user; }

static const uint16_t *adc_block(void *user, uint8_t ct, uint16_t *count, uint16_t *rate_hz)
{
    return alfa_esp32_adc_block(&B(user)->ct, ct, count, rate_hz);
}

/* The chip's own curve at the 17 knots, from the eFuse calibration; without one, the ideal line. */
static void calibrate(alfa_esp32_t *b, adc_channel_t chan)
{
    adc_cali_handle_t cali = NULL;
    esp_err_t rc;
#if ADC_CALI_SCHEME_CURVE_FITTING_SUPPORTED
    const adc_cali_curve_fitting_config_t cc = {
        .unit_id = ADC_UNIT_1, .chan = chan, .atten = ADC_ATTEN_DB_12, .bitwidth = ADC_BITWIDTH_12};
    rc = adc_cali_create_scheme_curve_fitting(&cc, &cali);
#elif ADC_CALI_SCHEME_LINE_FITTING_SUPPORTED
    (void)chan;
    const adc_cali_line_fitting_config_t lc = {
        .unit_id = ADC_UNIT_1, .atten = ADC_ATTEN_DB_12, .bitwidth = ADC_BITWIDTH_12,
#if CONFIG_IDF_TARGET_ESP32
        .default_vref = 1100, /* chips without eFuse Vref: the nominal reference */
#endif
    };
    rc = adc_cali_create_scheme_line_fitting(&lc, &cali);
#else
    (void)chan;
    rc = ESP_ERR_NOT_SUPPORTED;
#endif
    if (rc != ESP_OK) {
        ESP_LOGW(ALFA_ESP32_TAG, "ADC: no calibration scheme, ideal converter assumed");
        return;
    }
    uint16_t mv[ALFA_ESP32_ADC_KNOTS];
    for (uint32_t k = 0; k < ALFA_ESP32_ADC_KNOTS; k++) {
        int v = 0;
        int raw = k + 1u == ALFA_ESP32_ADC_KNOTS ? 4095 : (int)(k * 256u);
        if (adc_cali_raw_to_voltage(cali, raw, &v) != ESP_OK) {
            v = -1;
        }
        mv[k] = (uint16_t)(v < 0 ? 0 : v > (int)ALFA_ESP32_ADC_FULL_MV ? (int)ALFA_ESP32_ADC_FULL_MV : v);
    }
    if (alfa_esp32_adc_set_cal(&b->ct, mv) != ALFA_PORT_OK) {
        ESP_LOGW(ALFA_ESP32_TAG, "ADC: calibration curve not monotonic, ideal converter assumed");
    }
#if ADC_CALI_SCHEME_CURVE_FITTING_SUPPORTED
    (void)adc_cali_delete_scheme_curve_fitting(cali); /* the knots are all we keep */
#elif ADC_CALI_SCHEME_LINE_FITTING_SUPPORTED
    (void)adc_cali_delete_scheme_line_fitting(cali); /* the knots are all we keep */
#endif
}

int32_t alfa_esp32_adc_start(alfa_esp32_t *b)
{
    uint8_t hw[ALFA_CT_COUNT];
    adc_digi_pattern_config_t pattern[ALFA_CT_COUNT];
    adc_channel_t chan0 = ADC_CHANNEL_0;
    for (uint32_t i = 0; i < ALFA_CT_COUNT; i++) {
        adc_unit_t unit;
        adc_channel_t chan;
        if (adc_continuous_io_to_channel(b->pins.ct[i], &unit, &chan) != ESP_OK || unit != ADC_UNIT_1) {
            ESP_LOGE(ALFA_ESP32_TAG, "ADC: GPIO%d is not an ADC1 pin", b->pins.ct[i]);
            return ALFA_PORT_E_RANGE;
        }
        hw[i] = (uint8_t)chan;
        chan0 = i == 0u ? chan : chan0;
        pattern[i] = (adc_digi_pattern_config_t){
            .atten = ADC_ATTEN_DB_12, .channel = (uint8_t)chan, .unit = ADC_UNIT_1, .bit_width = ADC_BITWIDTH_12};
    }
    if (alfa_esp32_adc_init(&b->ct, ALFA_FORMAT, hw) != ALFA_PORT_OK) {
        return ALFA_PORT_E_RANGE;
    }
    calibrate(b, chan0);
    const adc_continuous_handle_cfg_t hc = {.max_store_buf_size = POOL_BYTES, .conv_frame_size = FRAME_BYTES};
    const adc_continuous_config_t cc = {
        .pattern_num = ALFA_CT_COUNT,
        .adc_pattern = pattern,
        .sample_freq_hz = ALFA_ESP32_ADC_CONV_HZ,
        .conv_mode = ADC_CONV_SINGLE_UNIT_1,
        .format = FORMAT,
    };
    adc_continuous_handle_t h = NULL;
    if (adc_continuous_new_handle(&hc, &h) != ESP_OK || adc_continuous_config(h, &cc) != ESP_OK ||
        adc_continuous_start(h) != ESP_OK) {
        ESP_LOGE(ALFA_ESP32_TAG, "ADC: continuous mode refused");
        return ALFA_PORT_E_IO;
    }
    b->adc = h;
    b->port.adc_block = adc_block;
    return ALFA_PORT_OK;
}

void alfa_esp32_adc_drain(alfa_esp32_t *b)
{
    uint8_t buf[FRAME_BYTES];
    /* Bounded: at most what the pool can hold, so a fast ADC never starves the pack. */
    for (uint32_t i = 0; i <= POOL_BYTES / FRAME_BYTES; i++) {
        uint32_t n = 0;
        if (adc_continuous_read((adc_continuous_handle_t)b->adc, buf, sizeof buf, &n, 0) != ESP_OK || n == 0u) {
            return;
        }
        alfa_esp32_adc_feed(&b->ct, buf, n);
    }
}

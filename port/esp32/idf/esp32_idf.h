/* Private to the ESP-IDF port files: each peripheral's bring-up, called by esp32_port.c (no ESP-IDF types here). */
#ifndef ALFA_ESP32_IDF_H
#define ALFA_ESP32_IDF_H

#include "alfa/esp32/esp32_port.h"

#define ALFA_ESP32_TAG "alfa"

int32_t alfa_esp32_twai_init(alfa_esp32_t *b);
int32_t alfa_esp32_uart_init(alfa_esp32_t *b);
int32_t alfa_esp32_adc_start(alfa_esp32_t *b);
void alfa_esp32_adc_drain(alfa_esp32_t *b);
int32_t alfa_esp32_ws2812_init(alfa_esp32_t *b);
void alfa_esp32_ws2812_flush(alfa_esp32_t *b);
int32_t alfa_esp32_tm1637_init(alfa_esp32_t *b);
int32_t alfa_esp32_gpio_init(alfa_esp32_t *b);
int32_t alfa_esp32_flash_open(alfa_esp32_t *b);
int32_t alfa_esp32_sys_init(alfa_esp32_t *b);
int32_t alfa_esp32_ota_open(alfa_esp32_t *b);
/* esp_partition_read/_read_raw/_write/_erase_range behind the flash adapter (flash.h); ctx = the partition. */
extern const alfa_esp32_flash_ops_t alfa_esp32_partition_ops;

#endif

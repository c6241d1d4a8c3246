/* Small board facts as pure functions: the serial from the factory MAC, the millisecond clock, output levels (port/esp32/logic/sys.c). */
#ifndef ALFA_ESP32_SYS_H
#define ALFA_ESP32_SYS_H

#include <stdint.h>
#include "alfa/port.h"

/* The hardware serial (SPEC.md §3): all 48 bits of the factory MAC, first byte most significant, so
 * the serial in hex reads as the MAC (24:0a:c4:12:34:56 -> 0x240AC4123456). ALFA_PORT_E_RANGE for an
 * all-zero or all-ones MAC (an unprogrammed or unreadable eFuse), *serial untouched. */
int32_t alfa_esp32_serial_from_mac(const uint8_t mac[6], uint64_t *serial);

/* The port's now_ms from esp_timer's microseconds since boot: wraps at 2^32 ms (49.7 days) like
 * port.h allows; the core only uses differences. */
uint32_t alfa_esp32_ms_from_us(int64_t us);

/* GPIO level of output i (bit i of the result) for "on" mask `on` over `count` outputs, when an
 * output is on at level `on_level` (relay drivers and LEDs may be active low). */
uint32_t alfa_esp32_levels(uint32_t on, uint32_t count, uint32_t on_level);

#endif

/* Serial from MAC, millisecond clock and output levels (no ESP-IDF headers: host-tested). */
#include "alfa/esp32/sys.h"
#include "alfa/port.h"

int32_t alfa_esp32_serial_from_mac(const uint8_t mac[6], uint64_t *serial)
{
    if (mac == 0 || serial == 0) {
        return ALFA_PORT_E_RANGE;
    }
    uint64_t s = 0;
    for (uint32_t i = 0; i < 6u; i++) {
        s = (s << 8) | mac[i];
    }
    if (s == 0u || s == 0xFFFFFFFFFFFFull) {
        return ALFA_PORT_E_RANGE;
    }
    *serial = s;
    return ALFA_PORT_OK;
}

uint32_t alfa_esp32_ms_from_us(int64_t us) { return (uint32_t)((uint64_t)us / 1000u); }

uint32_t alfa_esp32_levels(uint32_t on, uint32_t count, uint32_t on_level)
{
    uint32_t all = count >= 32u ? 0xFFFFFFFFu : (1u << count) - 1u;
    return (on_level ? on : ~on) & all;
}

/* The ESP-IDF port of one pack controller: its state (plain data, host-sizable), the board's pins, and the calls the pack task makes. */
#ifndef ALFA_ESP32_PORT_H
#define ALFA_ESP32_PORT_H

/*
 * How the firmware uses it (firmware/esp32/main/main.c):
 *
 *   static alfa_esp32_t board;                      // all port state, one object
 *   alfa_esp32_init(&board, &pins);                 // from the pack task: the ISRs land on its core
 *   alfa_pack_init(&pack, &board.port, &cfg);       // cfg.serial = board.serial (the factory MAC)
 *   for (;;) { alfa_esp32_wait(&board, 50); alfa_esp32_poll(&board); alfa_pack_process(&pack); }
 *
 * Peripherals, one ESP-IDF file each in port/esp32/idf/ (the logic of each is a pure file in
 * port/esp32/logic/, tested on the host): twai.c (CAN 500 kbit/s, dual acceptance filter, ISR-fed
 * ring, bus-off recovery), uart485.c (RS-485 half duplex, DE on the UART's RTS pin), adc.c (the four
 * CTs, continuous DMA), ws2812.c (RMT), tm1637.c (bit-banged from a low-priority display task),
 * gpio_out.c (relays and status LEDs with the board's drive polarity), flash.c (the settings store
 * on the raw `alfastore` partition), sys.c (clock, watchdog, restart, serial from the MAC), ota.c (the
 * firmware slots on the two `ota_N` partitions through esp_ota_*, fw_verify with mbedTLS, the restart
 * that rolls back a trial: ota.h).
 *
 * Interrupts only queue: the TWAI ISR fills `can_rx` and wakes the pack task; the UART, ADC and RMT
 * drivers' own ISRs fill their buffers. Everything else runs in the pack task. No Wi-Fi, no NTP:
 * wall-clock time reaches the pack only in the CAN time frame (SPEC.md §1).
 *
 * ESP-IDF handles are kept as `void *` and the driver's frame type as bytes (sizes are checked with
 * _Static_assert in the ESP-IDF files), so this header and `make size` need no ESP-IDF.
 */

#include <stdint.h>
#include "alfa/port.h"
#include "alfa/esp32/adc.h"
#include "alfa/esp32/canq.h"
#include "alfa/esp32/flash.h"
#include "alfa/esp32/ota.h"

#define ALFA_ESP32_WAKE_MS 50u            /* the pack task's periodic wake-up (plus CAN/UART events) */
#define ALFA_ESP32_TWAI_FRAME_BYTES 32u   /* >= sizeof(twai_frame_t) on 32-bit targets */
#define ALFA_ESP32_NO_PIN (-1)

/* The board's wiring: filled from firmware/esp32/main/board.h, the one place GPIOs are named. */
typedef struct alfa_esp32_pins {
    int8_t relay[ALFA_RELAY_COUNT];       /* ALFA_RELAY_* order */
    uint8_t relay_on_level;               /* GPIO level that energises a coil */
    int8_t ct[ALFA_CT_COUNT];             /* ALFA_CT_* order, ADC1 pins */
    uint8_t uart_num;                     /* UART for RS-485 */
    int8_t rs485_tx, rs485_rx, rs485_de;
    int8_t can_tx, can_rx;
    int8_t ws2812;
    int8_t tm1637_clk, tm1637_dio;
    int8_t led[3];                        /* green, yellow, red (ALFA_LED_* bit order) */
    uint8_t led_on_level;
} alfa_esp32_pins_t;

typedef struct alfa_esp32 {
    alfa_port_t port;                     /* give &port to alfa_pack_init */
    alfa_esp32_pins_t pins;
    uint64_t serial;                      /* the factory MAC, all 48 bits */
    alfa_flash_geom_t geom;
    /* CAN */
    void *twai;
    alfa_esp32_can_rx_t can_rx;
    alfa_esp32_can_tx_t can_tx;
    _Alignas(8) uint8_t tx_frame[ALFA_ESP32_CAN_TXQ][ALFA_ESP32_TWAI_FRAME_BYTES];
    uint8_t tx_data[ALFA_ESP32_CAN_TXQ][8];
    uint8_t can_state;                    /* alfa_can_state_t, written by the ISR */
    uint32_t can_rx_bad;                  /* frames the ISR could not read or translate */
    /* wake-ups */
    void *wake_set;                       /* queue set: CAN semaphore + UART events */
    void *can_sem;
    void *uart_events;
    /* CTs */
    void *adc;
    alfa_esp32_adc_t ct;
    /* LED bar */
    void *rmt_chan, *rmt_enc;
    uint8_t grb[3u * ALFA_PIXELS_MAX];    /* the newest frame, G R B */
    uint8_t grb_wire[3u * ALFA_PIXELS_MAX];/* the frame the RMT is reading (never touched mid-transfer) */
    uint8_t grb_len;
    uint8_t grb_pending;                  /* a frame waits for the previous transfer to end */
    int64_t grb_busy_until_us;            /* end of the last frame plus the WS2812B reset time */
    /* display */
    void *tm_queue;
    /* relays and LEDs */
    uint8_t relays_mask, leds_mask;
    /* settings store */
    const void *partition;
    alfa_esp32_flash_t flash;
    /* firmware slots (port.h's slot callbacks; slot_geom stays NULL when the table has no two ota_N) */
    const void *ota_part[2];              /* esp_partition_t of [ALFA_SLOT_RUNNING], [ALFA_SLOT_UPDATE] */
    alfa_esp32_ota_t ota;
    uint32_t errors;                      /* driver calls that failed after init */
} alfa_esp32_t;

/* Bring up every peripheral and fill b->port. Call from the task that will run the pack (the TWAI
 * interrupt is allocated on the calling core). ALFA_PORT_E_IO when a driver refuses (the log says
 * which), ALFA_PORT_E_RANGE for pins that are not usable on this chip; b is then not usable. */
int32_t alfa_esp32_init(alfa_esp32_t *b, const alfa_esp32_pins_t *pins);

/* Block until a CAN frame or the BMS's answer arrives, or `max_ms` passes. */
void alfa_esp32_wait(alfa_esp32_t *b, uint32_t max_ms);

/* Work the port does in the pack task between pack calls: drain the ADC's DMA results into the CT
 * blocks, send a pixel frame that had to wait. */
void alfa_esp32_poll(alfa_esp32_t *b);

#endif

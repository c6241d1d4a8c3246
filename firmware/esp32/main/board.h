/* The board's pin map (SPEC.md §4, ESP32-WROOM-32-N4): the one place in the firmware that names a GPIO. */
#ifndef ALFA_BOARD_H
#define ALFA_BOARD_H

/*
 * Strapping pins on this map (firmware/esp32/README.md, "Wiring"):
 *  - GPIO12 (TM1637 DIO): sampled at reset for the flash voltage. A pull-up there (most TM1637
 *    modules have one) selects 1.8 V and a WROOM-32 with 3.3-V flash does not boot. Burn the
 *    VDD_SDIO eFuse to 3.3 V once (espefuse.py set_flash_voltage 3.3V) or remove that pull-up.
 *  - GPIO2 (green LED) must be low or floating to enter download mode: LED to GND only.
 *  - GPIO15 (red LED) low at reset silences the ROM's boot messages: harmless.
 *  - GPIO5 (CAN RX) is driven by the transceiver; it only affects SDIO slave timing.
 * The relay drivers and LEDs are assumed active high (transistor drivers); set the *_ON_LEVEL
 * below to 0 for an active-low relay module.
 */

#define ALFA_BOARD_RELAY_GRID 26
#define ALFA_BOARD_RELAY_INVERTER 27
#define ALFA_BOARD_RELAY_POOL 23
#define ALFA_BOARD_RELAY_HEATER 22
#define ALFA_BOARD_RELAY_ON_LEVEL 1

#define ALFA_BOARD_CT_GRID 34     /* ADC1 channel 6 */
#define ALFA_BOARD_CT_INVERTER 35 /* ADC1 channel 7 */
#define ALFA_BOARD_CT_POOL 32     /* ADC1 channel 4 */
#define ALFA_BOARD_CT_HEATER 33   /* ADC1 channel 5 */

#define ALFA_BOARD_RS485_UART 1   /* UART0 is the console; UART2 is the spare (TX 21 / RX 19) */
#define ALFA_BOARD_RS485_RX 16
#define ALFA_BOARD_RS485_TX 17
#define ALFA_BOARD_RS485_DE 18    /* MAX485 DE (and /RE), driven as the UART's RTS */

#define ALFA_BOARD_CAN_TX 4       /* SN65HVD230 */
#define ALFA_BOARD_CAN_RX 5

#define ALFA_BOARD_WS2812 25
#define ALFA_BOARD_TM1637_CLK 14
#define ALFA_BOARD_TM1637_DIO 12

#define ALFA_BOARD_LED_GREEN 2
#define ALFA_BOARD_LED_YELLOW 13
#define ALFA_BOARD_LED_RED 15
#define ALFA_BOARD_LED_ON_LEVEL 1

/* The hardware class this board's firmware images carry (docs/ota.md §1, ALFA_HW_CLASS_DEFAULT): the
 * pack refuses an image of another class. A board revision these images cannot drive gets a new class. */
#define ALFA_BOARD_HW_CLASS 1u

#define ALFA_BOARD_SPARE_UART2_TX 21 /* unused by the firmware */
#define ALFA_BOARD_SPARE_UART2_RX 19

/* The map as the port takes it (alfa_esp32_pins_t). */
#define ALFA_BOARD_PINS                                                                                   \
    {                                                                                                     \
        .relay = {ALFA_BOARD_RELAY_GRID, ALFA_BOARD_RELAY_INVERTER, ALFA_BOARD_RELAY_POOL,                \
                  ALFA_BOARD_RELAY_HEATER},                                                               \
        .relay_on_level = ALFA_BOARD_RELAY_ON_LEVEL,                                                      \
        .ct = {ALFA_BOARD_CT_GRID, ALFA_BOARD_CT_INVERTER, ALFA_BOARD_CT_POOL, ALFA_BOARD_CT_HEATER},     \
        .uart_num = ALFA_BOARD_RS485_UART, .rs485_tx = ALFA_BOARD_RS485_TX,                               \
        .rs485_rx = ALFA_BOARD_RS485_RX, .rs485_de = ALFA_BOARD_RS485_DE,                                 \
        .can_tx = ALFA_BOARD_CAN_TX, .can_rx = ALFA_BOARD_CAN_RX, .ws2812 = ALFA_BOARD_WS2812,            \
        .tm1637_clk = ALFA_BOARD_TM1637_CLK, .tm1637_dio = ALFA_BOARD_TM1637_DIO,                         \
        .led = {ALFA_BOARD_LED_GREEN, ALFA_BOARD_LED_YELLOW, ALFA_BOARD_LED_RED},                         \
        .led_on_level = ALFA_BOARD_LED_ON_LEVEL,                                                          \
    }

#endif

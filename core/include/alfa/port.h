/* The port interface: the only way the firmware core reaches hardware, time and storage. */
#ifndef ALFA_PORT_H
#define ALFA_PORT_H

/*
 * A port is a table of callbacks plus one opaque `user` pointer handed back on every call, in
 * the manner of littlefs's `lfs_config` and libcanard's instance. The core holds a const pointer
 * to the table; the table and whatever `user` points to are owned by the port and must outlive
 * the core instance. One port per pack: the simulator runs many packs, each with its own table
 * or its own `user`.
 *
 * Rules every callback obeys:
 *  - it never blocks: it queues, or reports "nothing yet" and returns at once;
 *  - it may be called only from the core's own context (alfa_core_process and friends), never
 *    concurrently with itself; interrupt handlers on a real board only fill queues the port owns
 *    (TinyUSB's pattern);
 *  - a negative return is an error code from `alfa_port_err_t`; the core checks every one.
 *
 * Callbacks a given build does not need may be NULL where the comment says so.
 */

#include <stdint.h>
#include <stddef.h>
#include "alfa/can_frame.h"

typedef enum alfa_port_err {
    ALFA_PORT_OK = 0,
    ALFA_PORT_E_IO = -1,       /* the device reported an error */
    ALFA_PORT_E_FULL = -2,     /* a transmit queue is full: try again later */
    ALFA_PORT_E_BUSOFF = -3,   /* CAN controller is bus-off */
    ALFA_PORT_E_RANGE = -4,    /* address/length outside the device */
    ALFA_PORT_E_REPROG = -5,   /* flash: programming a unit that is not erased */
} alfa_port_err_t;

/* Number of relays, CT channels and status LEDs on the board (SPEC.md §4). */
#define ALFA_RELAY_COUNT 4u
#define ALFA_CT_COUNT 4u
#define ALFA_SEG_DIGITS 3u
#define ALFA_PIXELS_MAX 32u

typedef enum alfa_relay_idx {
    ALFA_RELAY_GRID = 0,     /* relay 1: grid input to the inverter */
    ALFA_RELAY_INVERTER = 1, /* relay 2: inverter output (the home) */
    ALFA_RELAY_POOL = 2,     /* relay 3: pool pump */
    ALFA_RELAY_HEATER = 3,   /* relay 4: water heater */
} alfa_relay_idx_t;

typedef enum alfa_ct_idx {
    ALFA_CT_GRID = 0,
    ALFA_CT_INVERTER = 1,
    ALFA_CT_POOL = 2,
    ALFA_CT_HEATER = 3,
} alfa_ct_idx_t;

/* Status LED bits for status_leds_set. */
#define ALFA_LED_GREEN 0x01u
#define ALFA_LED_YELLOW 0x02u
#define ALFA_LED_RED 0x04u

typedef struct alfa_rgb {
    uint8_t r, g, b;
} alfa_rgb_t;

/* CAN controller state reported by can_state. */
typedef enum alfa_can_state {
    ALFA_CAN_ERROR_ACTIVE = 0,
    ALFA_CAN_ERROR_PASSIVE = 1,
    ALFA_CAN_BUS_OFF = 2,
} alfa_can_state_t;

/* Geometry of the flash region the settings store owns (a real part's rules, littlefs-style). */
typedef struct alfa_flash_geom {
    uint32_t block_size;   /* erase block, bytes */
    uint32_t block_count;  /* erase blocks in the region (>= 2) */
    uint32_t prog_size;    /* program unit, bytes: writes are aligned multiples of it */
    uint8_t erased_value;  /* 0xFF (NOR) or 0x00 */
} alfa_flash_geom_t;

typedef struct alfa_port {
    void *user; /* handed back unchanged as the first argument of every callback */

    /* ---- time ---- */
    /* Monotonic milliseconds since an arbitrary origin; wraps at 2^32 (the core uses
     * unsigned differences). Required. */
    uint32_t (*now_ms)(void *user);

    /* ---- outputs (the core computes frames as data; the port only pushes them) ---- */
    /* Drive the relays: bit i set = relay i energised (ALFA_RELAY_*). The core has already
     * applied the board's polarity setting. Required. */
    void (*relays_set)(void *user, uint8_t energised_mask);
    /* Show `count` LED-bar pixels (WS2812B). May be NULL. */
    void (*pixels_set)(void *user, const alfa_rgb_t *pixels, uint8_t count);
    /* Show ALFA_SEG_DIGITS TM1637 segment bytes (bit0 = a .. bit6 = g, bit7 = colon/dp),
     * leftmost digit first. May be NULL. */
    void (*segments_set)(void *user, const uint8_t segments[ALFA_SEG_DIGITS]);
    /* Light the status LEDs (ALFA_LED_* bits); blinking is already computed by the core. */
    void (*status_leds_set)(void *user, uint8_t on_mask);

    /* ---- CT sampling ---- */
    /* The latest complete block of raw ADC samples (12-bit, unsigned, with the CT's DC bias) of
     * channel `ct` (ALFA_CT_*), or NULL when none is ready. `*count` gets the number of samples,
     * `*rate_hz` the sampling rate. The buffer belongs to the port and stays valid until the
     * next call for that channel. */
    const uint16_t *(*adc_block)(void *user, uint8_t ct, uint16_t *count, uint16_t *rate_hz);

    /* ---- RS-485 serial to the BMS (Modbus RTU) ---- */
    /* Queue `len` bytes for transmission. The port switches the driver's DE line on before the
     * first bit and off after the last stop bit. Returns bytes accepted or a negative error. */
    int32_t (*serial_write)(void *user, const uint8_t *data, uint16_t len);
    /* Copy up to `cap` received bytes into `data`; returns the count (0 = none yet) or a
     * negative error. */
    int32_t (*serial_read)(void *user, uint8_t *data, uint16_t cap);

    /* ---- CAN ---- */
    /* Queue one frame; ALFA_PORT_E_FULL when the transmit queue is full. */
    int32_t (*can_send)(void *user, const alfa_can_frame_t *frame);
    /* Take one received frame: 1 = a frame was copied, 0 = queue empty, negative = error. */
    int32_t (*can_recv)(void *user, alfa_can_frame_t *frame);
    /* Controller state; may be NULL (taken as error-active). */
    alfa_can_state_t (*can_state)(void *user);
    /* Ask the controller to recover from bus-off; may be NULL. */
    void (*can_recover)(void *user);

    /* ---- flash region for the settings store ---- */
    const alfa_flash_geom_t *flash_geom;
    int32_t (*flash_read)(void *user, uint32_t addr, void *buf, uint32_t len);
    /* Program `len` bytes at `addr`; both multiples of prog_size. Programming a unit that is not
     * in the erased state is ALFA_PORT_E_REPROG on the simulated flash (undefined on real parts). */
    int32_t (*flash_prog)(void *user, uint32_t addr, const void *buf, uint32_t len);
    int32_t (*flash_erase)(void *user, uint32_t block);

    /* ---- system ---- */
    /* Feed the hardware (or systemd) watchdog; the core calls it only after a complete cycle. */
    void (*watchdog_feed)(void *user);
    /* Restart the controller (after the reply to a reboot command has been queued). May be NULL. */
    void (*reboot)(void *user);
} alfa_port_t;

#endif

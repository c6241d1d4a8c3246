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
    ALFA_PORT_E_STATE = -6,    /* firmware slots: not allowed now (e.g. running image not confirmed) */
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

/* ---- firmware slots (A/B update, SPEC.md §11; design and ESP-IDF mapping in docs/ota.md) ----
 *
 * Two application slots of the same size. The core never names them A or B: it reads and writes
 * the UPDATE slot (the one that does not run: esp_ota_get_next_update_partition(NULL)) and reads,
 * and appends records to the last sector of, the RUNNING slot (esp_ota_get_running_partition()).
 * The core lays out a slot itself: the image payload from offset 0 (so an ESP32 bootloader finds
 * the ESP-IDF app image where it expects it) and, in the LAST SECTOR, its trailer (the signed
 * manifest and progress records; docs/ota.md). The port gives raw access plus boot control:
 *
 *   callback            ESP-IDF (app_update, CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE=y)
 *   slot_begin(resume=0) esp_ota_begin(next, OTA_WITH_SEQUENTIAL_WRITES, &h): refuses while the
 *                       running app is ESP_OTA_IMG_PENDING_VERIFY (-> ALFA_PORT_E_STATE), erases
 *                       nothing, invalidates the inactive otadata entry (the slot is no longer
 *                       bootable). esp_ota_write_with_offset needs a handle without the
 *                       sequential-erase flag: the port then takes one with
 *                       esp_ota_abort(h); esp_ota_resume(next, 0, 0, &h).
 *   slot_begin(resume=1) after a restart: esp_ota_resume(next, 0, 0, &h) (same refusal rule;
 *                       esp_ota_resume exists from ESP-IDF v5.5).
 *   slot_erase          esp_partition_erase_range(part, sector * sector_size, sector_size)
 *   slot_write UPDATE   esp_ota_write_with_offset(h, data, len, offset)
 *   slot_write RUNNING  esp_partition_write(running, offset, data, len): trailer records only,
 *                       never the running code
 *   slot_read           esp_partition_read(part, offset, buf, len)
 *   slot_end            esp_ota_end(h): checks the ESP-IDF image in the slot
 *   slot_set_boot       esp_ota_set_boot_partition(next): the slot boots next, once, as NEW;
 *                       the 2nd-stage bootloader makes it PENDING_VERIFY when it boots it, and
 *                       rolls back to the other slot (marking this one ABORTED) if it is
 *                       started again before it was confirmed (reset, watchdog, power cut)
 *   slot_confirm        esp_ota_mark_app_valid_cancel_rollback()
 *   slot_state          esp_ota_get_state_partition(running / next) (+ ESP_ERR_NOT_FOUND -> EMPTY)
 *   fw_verify           mbedtls_ecdsa_verify() with the compiled-in public keys
 *
 * Every callback returns 0 or a negative alfa_port_err_t and never blocks longer than one flash
 * operation (an ESP32 sector erase is ~45 ms: the core asks for at most one per process call).
 */
typedef enum alfa_slot_which {
    ALFA_SLOT_RUNNING = 0,
    ALFA_SLOT_UPDATE = 1,
} alfa_slot_which_t;

/* Boot state of a slot (esp_ota_img_states_t). */
typedef enum alfa_slot_state {
    ALFA_SLOT_EMPTY = 0,     /* nothing bootable recorded (never written, or being written) */
    ALFA_SLOT_NEW = 1,       /* ESP_OTA_IMG_NEW: boots next, not started yet */
    ALFA_SLOT_PENDING = 2,   /* ESP_OTA_IMG_PENDING_VERIFY: started, not confirmed */
    ALFA_SLOT_VALID = 3,     /* ESP_OTA_IMG_VALID: confirmed (or the factory-flashed image) */
    ALFA_SLOT_INVALID = 4,   /* ESP_OTA_IMG_INVALID: refused by the application */
    ALFA_SLOT_ABORTED = 5,   /* ESP_OTA_IMG_ABORTED: started again unconfirmed: rolled back */
} alfa_slot_state_t;

typedef struct alfa_slot_geom {
    uint32_t slot_size;    /* bytes per slot (a multiple of sector_size, >= 2 sectors) */
    uint32_t sector_size;  /* erase unit: 512..65536, a multiple of 16 (4096 on the ESP32) */
    uint32_t prog_size;    /* program unit: 1, 2, 4, 8 or 16 (16 with ESP32 flash encryption) */
    uint8_t erased_value;  /* 0xFF (NOR) or 0x00 */
} alfa_slot_geom_t;

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
     * `*rate_hz` the sampling rate. The buffer belongs to the port; the core reads it before it
     * returns from the call that asked and keeps no pointer, so the buffer only has to stay valid
     * until the port is next called or fed. */
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

    /* ---- firmware slots (above; slot_geom NULL = this build takes no firmware updates) ---- */
    const alfa_slot_geom_t *slot_geom;
    int32_t (*slot_begin)(void *user, uint8_t resume);
    int32_t (*slot_erase)(void *user, uint8_t which, uint32_t sector);
    /* `offset` and `len` multiples of prog_size; each program unit once between erases. */
    int32_t (*slot_write)(void *user, uint8_t which, uint32_t offset, const void *data, uint32_t len);
    int32_t (*slot_read)(void *user, uint8_t which, uint32_t offset, void *buf, uint32_t len);
    /* `image_size` payload bytes were written. May be NULL (nothing to check). */
    int32_t (*slot_end)(void *user, uint32_t image_size);
    int32_t (*slot_set_boot)(void *user);
    int32_t (*slot_confirm)(void *user);
    alfa_slot_state_t (*slot_state)(void *user, uint8_t which);
    /* Verify an ECDSA-P256 signature (r || s, 32 bytes each, big-endian) of a SHA-256 digest
     * against the public keys compiled into this build (several during a key rotation): 0 when
     * one of them verifies it, ALFA_PORT_E_IO otherwise. Keeps the core free of public-key code. */
    int32_t (*fw_verify)(void *user, const uint8_t digest[32], const uint8_t sig[64]);

    /* ---- system ---- */
    /* Feed the hardware (or systemd) watchdog; the core calls it only after a complete cycle. */
    void (*watchdog_feed)(void *user);
    /* Restart the controller (after the reply to a reboot command has been queued). May be NULL. */
    void (*reboot)(void *user);
} alfa_port_t;

#endif

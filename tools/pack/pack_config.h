/* Configuration of the alfaspark-pack daemon: one INI file, command-line overrides, checked before use. */
#ifndef ALFA_PACK_CONFIG_H
#define ALFA_PACK_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define PACKCFG_STR 256
/* The serial printed in deploy/pack.ini.example: a placeholder, never a real pack's (two packs
 * with one serial would fight over one node ID). --check-config refuses it; the unit waits. */
#define PACKCFG_SAMPLE_SERIAL 0x24A1B2C3D4E5ull

typedef struct pack_config {
    /* [pack] */
    uint64_t serial;                    /* 48-bit hardware serial; required (no MAC to read on Linux) */
    char flash_path[PACKCFG_STR];       /* settings flash image */
    uint32_t flash_block_size;          /* bytes per erase block */
    uint32_t flash_blocks;
    char log_level[16];                 /* error, warn, info, debug */
    /* [bms] */
    char bms_device[PACKCFG_STR];
    uint32_t bms_baud;
    char bms_parity;                    /* N, E, O */
    uint32_t bms_address;
    char bms_profile[64];
    char bms_direction[16];             /* auto, kernel, rts, none */
    /* [can] */
    char can_interface[PACKCFG_STR];    /* slcan:/dev/ttyACM0, socketcan:can0, can0, /dev/ttyACM0 */
    /* [gpio] */
    char gpio_chip[64];                 /* empty: outputs are logged, not driven */
    int32_t relay_lines[4];             /* line offsets on the chip; -1 = not wired */
    int32_t led_lines[3];               /* green, yellow, red */
    /* [firmware] */
    int fw_enabled;                     /* firmware slots and updates over CAN (default on) */
    char fw_dir[PACKCFG_STR];           /* where the slots live; empty = beside the installed binary */
    uint32_t fw_hw_class;               /* this board's hardware class (images must match) */
    char fw_trust[PACKCFG_STR];         /* extra PUB.pem files to trust, comma-separated (development, tests) */
} pack_config_t;

/* Defaults for every option (see deploy/pack.ini.example). */
void pack_config_defaults(pack_config_t *c);

/* Read `path` into `c` (over the defaults already there). Each problem is printed to `err` as
 * "path: what is wrong" (Debian's inih gives no line numbers); returns the number of problems (0 = fine), -1 if unreadable. */
int pack_config_load(pack_config_t *c, const char *path, FILE *err);

/* Set one option of `section` by key and value (the INI reader and command-line overrides both
 * use it). Returns 0, or -1 with the reason written to `why` (and `c` unchanged for that key). */
int pack_config_set(pack_config_t *c, const char *section, const char *key, const char *value, char *why,
                    size_t why_cap);

/* Check the whole configuration for consistency (required options, ranges). Prints each problem
 * to `err`; returns the number of problems. */
int pack_config_check(const pack_config_t *c, FILE *err);

/* 1 when the installer has given this pack its identity (a serial other than 0 and the sample),
 * 0 while the configuration is still the package's: the systemd unit's start condition. */
int pack_config_is_configured(const pack_config_t *c);

/* Check the machine for the configuration (pack_check.c): the serial is not the sample, the BMS
 * adapter and the CAN interface exist and open, the flash file can be created or fits the
 * geometry, the GPIO chip and lines exist and are free. Each problem is printed to `err` with
 * its reason and a "  fix:" line; returns the number of problems. */
int pack_check_env(const pack_config_t *c, FILE *err);

#endif

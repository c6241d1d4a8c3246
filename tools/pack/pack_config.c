/* Parsing and checking of the alfaspark-pack INI configuration. */
#include "pack_config.h"

#include <errno.h>
#include <ini.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "alfa/bms.h"
#include "alfa/serial_linux.h"

void pack_config_defaults(pack_config_t *c)
{
    memset(c, 0, sizeof *c);
    snprintf(c->flash_path, sizeof c->flash_path, "/var/lib/alfaspark/settings.flash");
    c->flash_block_size = 4096;
    c->flash_blocks = 2;
    snprintf(c->log_level, sizeof c->log_level, "info");
    c->bms_baud = 9600;
    c->bms_parity = 'N';
    c->bms_address = 1;
    snprintf(c->bms_profile, sizeof c->bms_profile, "default");
    snprintf(c->bms_direction, sizeof c->bms_direction, "auto");
    for (int i = 0; i < 4; i++) {
        c->relay_lines[i] = -1;
    }
    for (int i = 0; i < 3; i++) {
        c->led_lines[i] = -1;
    }
    c->fw_enabled = 1;
    c->fw_hw_class = 1;
}

static int parse_u64(const char *v, uint64_t max, uint64_t *out)
{
    char *end = NULL;
    errno = 0;
    unsigned long long x = strtoull(v, &end, 0);
    if (errno != 0 || end == v || *end != '\0' || x > max || v[0] == '-') {
        return -1;
    }
    *out = x;
    return 0;
}

static int copy_str(char *dst, size_t cap, const char *v)
{
    size_t n = strlen(v);
    if (n >= cap) {
        return -1;
    }
    memcpy(dst, v, n + 1);
    return 0;
}

static int parse_lines(const char *v, int32_t *lines, int count)
{
    char buf[128];
    if (copy_str(buf, sizeof buf, v) < 0) {
        return -1;
    }
    int i = 0;
    for (char *save = NULL, *tok = strtok_r(buf, ", ", &save); tok != NULL; tok = strtok_r(NULL, ", ", &save)) {
        uint64_t x = 0;
        if (i >= count) {
            return -1;
        }
        if (strcmp(tok, "-") == 0) {
            lines[i++] = -1;
            continue;
        }
        if (parse_u64(tok, 1023, &x) < 0) {
            return -1;
        }
        lines[i++] = (int32_t)x;
    }
    return i == count ? 0 : -1;
}

int pack_config_set(pack_config_t *c, const char *section, const char *key, const char *value, char *why, size_t why_cap)
{
    uint64_t x = 0;
    int bad = 0;
#define IS(s, k) (strcasecmp(section, s) == 0 && strcasecmp(key, k) == 0)
    if (IS("pack", "serial")) {
        bad = parse_u64(value, 0xFFFFFFFFFFFFull, &c->serial);
    } else if (IS("pack", "flash")) {
        bad = copy_str(c->flash_path, sizeof c->flash_path, value);
    } else if (IS("pack", "flash_block_size")) {
        bad = parse_u64(value, 65536, &x);
        if (!bad) {
            c->flash_block_size = (uint32_t)x;
        }
    } else if (IS("pack", "flash_blocks")) {
        bad = parse_u64(value, 64, &x);
        if (!bad) {
            c->flash_blocks = (uint32_t)x;
        }
    } else if (IS("pack", "log_level")) {
        bad = (strcmp(value, "error") != 0 && strcmp(value, "warn") != 0 && strcmp(value, "info") != 0 &&
               strcmp(value, "debug") != 0)
                  ? -1
                  : copy_str(c->log_level, sizeof c->log_level, value);
    } else if (IS("bms", "device")) {
        bad = copy_str(c->bms_device, sizeof c->bms_device, value);
    } else if (IS("bms", "baud")) {
        bad = parse_u64(value, 4000000, &x);
        if (!bad) {
            c->bms_baud = (uint32_t)x;
        }
    } else if (IS("bms", "parity")) {
        bad = (strlen(value) != 1 || strchr("NEO", value[0]) == NULL) ? -1 : 0;
        if (!bad) {
            c->bms_parity = value[0];
        }
    } else if (IS("bms", "address")) {
        bad = parse_u64(value, 247, &x);
        if (!bad) {
            c->bms_address = (uint32_t)x;
        }
    } else if (IS("bms", "profile")) {
        bad = copy_str(c->bms_profile, sizeof c->bms_profile, value);
    } else if (IS("bms", "direction")) {
        bad = copy_str(c->bms_direction, sizeof c->bms_direction, value);
    } else if (IS("can", "interface")) {
        bad = copy_str(c->can_interface, sizeof c->can_interface, value);
    } else if (IS("gpio", "chip")) {
        bad = copy_str(c->gpio_chip, sizeof c->gpio_chip, value);
    } else if (IS("gpio", "relays")) {
        bad = parse_lines(value, c->relay_lines, 4);
    } else if (IS("gpio", "leds")) {
        bad = parse_lines(value, c->led_lines, 3);
    } else if (IS("firmware", "updates")) {
        bad = strcmp(value, "on") == 0 ? 0 : strcmp(value, "off") == 0 ? 0 : -1;
        if (!bad) {
            c->fw_enabled = strcmp(value, "on") == 0;
        }
    } else if (IS("firmware", "dir")) {
        bad = copy_str(c->fw_dir, sizeof c->fw_dir, value);
    } else if (IS("firmware", "hw_class")) {
        bad = parse_u64(value, 255, &x) < 0 || x == 0 ? -1 : 0;
        if (!bad) {
            c->fw_hw_class = (uint32_t)x;
        }
    } else if (IS("firmware", "trust")) {
        bad = copy_str(c->fw_trust, sizeof c->fw_trust, value);
    } else {
        snprintf(why, why_cap, "unknown option [%s] %s", section, key);
        return -1;
    }
#undef IS
    if (bad) {
        snprintf(why, why_cap, "bad value for [%s] %s: '%s'", section, key, value);
        return -1;
    }
    return 0;
}

typedef struct load_ctx {
    pack_config_t *c;
    const char *path;
    FILE *err;
    int problems;
} load_ctx_t;

static int on_ini(void *user, const char *section, const char *key, const char *value)
{
    load_ctx_t *lc = user;
    char why[160];
    if (key == NULL) {
        return 1; /* a section header alone */
    }
    if (pack_config_set(lc->c, section, key, value, why, sizeof why) < 0) {
        fprintf(lc->err, "%s: %s\n", lc->path, why);
        lc->problems++;
    }
    return 1; /* keep going: report every problem at once */
}

int pack_config_load(pack_config_t *c, const char *path, FILE *err)
{
    load_ctx_t lc = {.c = c, .path = path, .err = err, .problems = 0};
    int rc = ini_parse(path, on_ini, &lc);
    if (rc == -1) {
        fprintf(err, "%s: cannot open\n", path);
        return -1;
    }
    if (rc > 0) {
        fprintf(err, "%s:%d: syntax error\n", path, rc);
        lc.problems++;
    }
    return lc.problems;
}

int pack_config_check(const pack_config_t *c, FILE *err)
{
    int problems = 0;
    if (c->serial == 0) {
        fprintf(err, "[pack] serial is required (the 48-bit hardware serial, e.g. 0x24A1B2C3D4E5)\n");
        problems++;
    }
    if (c->flash_path[0] == '\0') {
        fprintf(err, "[pack] flash is required (path of the settings flash file)\n");
        problems++;
    }
    if (c->flash_blocks < 2 || c->flash_block_size < 256 || (c->flash_block_size & (c->flash_block_size - 1)) != 0) {
        fprintf(err, "[pack] flash needs >= 2 blocks of a power-of-two size >= 256 bytes\n");
        problems++;
    }
    if (c->bms_device[0] == '\0') {
        fprintf(err, "[bms] device is required (e.g. /dev/ttyUSB0, or the pty alfaspark-bms-sim printed)\n");
        problems++;
    }
    if (!alfa_serial_baud_ok(c->bms_baud)) {
        fprintf(err, "[bms] baud %u is not a standard rate\n", (unsigned)c->bms_baud);
        problems++;
    }
    if (c->bms_address < 1 || c->bms_address > 247) {
        fprintf(err, "[bms] address must be 1..247\n");
        problems++;
    }
    if (alfa_bms_profile_find(c->bms_profile) == NULL) {
        fprintf(err, "[bms] profile '%s' is unknown (known:", c->bms_profile);
        for (uint32_t i = 0; i < alfa_bms_profile_count(); i++) {
            fprintf(err, " %s", alfa_bms_profile_at(i)->name);
        }
        fprintf(err, ")\n");
        problems++;
    }
    if (strcmp(c->bms_direction, "auto") != 0 && strcmp(c->bms_direction, "kernel") != 0 &&
        strcmp(c->bms_direction, "rts") != 0 && strcmp(c->bms_direction, "none") != 0) {
        fprintf(err, "[bms] direction must be auto, kernel, rts or none\n");
        problems++;
    }
    if (c->can_interface[0] == '\0') {
        fprintf(err, "[can] interface is required (slcan:/dev/ttyACM0 or socketcan:can0)\n");
        problems++;
    }
    for (int i = 0; i < 7; i++) {
        int32_t a = i < 4 ? c->relay_lines[i] : c->led_lines[i - 4];
        for (int j = i + 1; j < 7 && a >= 0; j++) {
            if (a == (j < 4 ? c->relay_lines[j] : c->led_lines[j - 4])) {
                fprintf(err, "[gpio] line %d is given twice (relays and leds each need their own line)\n", (int)a);
                problems++;
            }
        }
    }
    return problems;
}

int pack_config_is_configured(const pack_config_t *c)
{
    return c->serial != 0 && c->serial != PACKCFG_SAMPLE_SERIAL;
}

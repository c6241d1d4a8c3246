/* alfaspark-pack: the pack controller as a Linux daemon — the firmware core on the Linux port. */
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <gpiod.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#include "alfa/envcheck.h"
#include "alfa/flash_file.h"
#include "alfa/fw_keys.h"
#include "alfa/lincan.h"
#include "alfa/names.h"
#include "alfa/pack.h"
#include "alfa/serial_linux.h"
#include "alfa/slot_file.h"
#include "pack_config.h"

#ifndef ALFA_VERSION
#define ALFA_VERSION "unknown"
#endif

/* Longest sleep of the main loop: Modbus needs ~1 ms resolution for its 3.5-character silence at
 * 9600 baud, so the loop wakes at least this often even when no descriptor is readable. */
#define LOOP_MAX_WAIT_MS 2
#define MAX_KEYS 8

typedef struct daemon {
    pack_config_t cfg;
    alfa_port_t port;
    alfa_flash_geom_t geom;
    alfa_serial_t serial;
    alfa_lincan_t can;
    alfa_flash_file_t flash;
    alfa_slot_file_t slots;          /* firmware slots (docs/ota.md, "Linux") */
    int has_slots;
    char launcher[PATH_MAX];         /* the installed binary: restarts go through it */
    uint8_t keys[MAX_KEYS][ALFA_FW_KEY_SIZE];
    size_t nkeys;
    struct gpiod_chip *chip;
    struct gpiod_line *relay_line[ALFA_RELAY_COUNT];
    struct gpiod_line *led_line[3];
    struct timespec t0;
    int level;           /* 0 error, 1 warn, 2 info, 3 debug */
    int watchdog;        /* systemd asked for watchdog pings */
    int reboot;          /* the core asked for a restart */
    uint8_t relays_shown, leds_shown;
    int relays_valid, leds_valid;
    uint8_t led_failed;  /* bit i: LED line i refused a value (logged once, until it works again) */
    int notify_failed;   /* sd_notify refused once (logged once) */
    int can_recover_rc;  /* last bus-off recovery result: a new failure is logged once */
    int poll_failed;     /* poll() failed once (logged once; the loop then sleeps instead) */
    alfa_pack_t pack;
} daemon_t;

static volatile sig_atomic_t g_stop; /* set by SIGINT/SIGTERM: the only global, as signals require */

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

static void logf_(const daemon_t *d, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void logf_(const daemon_t *d, int level, const char *fmt, ...)
{
    static const char *const prefix[] = {"<3>error: ", "<4>warn: ", "<6>", "<7>debug: "};
    if (level > d->level) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    fputs(prefix[level], stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

/* ---- port callbacks ---- */

static uint32_t p_now_ms(void *user)
{
    daemon_t *d = user;
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t); /* cannot fail: a clock Linux always has, a valid pointer */
    int64_t ms = (int64_t)(t.tv_sec - d->t0.tv_sec) * 1000 + (t.tv_nsec - d->t0.tv_nsec) / 1000000;
    return (uint32_t)ms;
}

static const char *const relay_name[ALFA_RELAY_COUNT] = {"grid", "inverter", "pool", "heater"};

static void p_relays_set(void *user, uint8_t energised)
{
    daemon_t *d = user;
    if (d->relays_valid && d->relays_shown == energised) {
        return;
    }
    for (unsigned i = 0; i < ALFA_RELAY_COUNT; i++) {
        int on = (energised >> i) & 1;
        if (!d->relays_valid || (((d->relays_shown >> i) & 1) != on)) {
            logf_(d, 2, "relay %s %s", relay_name[i], on ? "energised" : "released");
        }
        if (d->relay_line[i] != NULL && gpiod_line_set_value(d->relay_line[i], on) < 0) {
            logf_(d, 0, "gpio: relay %s: %s", relay_name[i], strerror(errno));
        }
    }
    d->relays_shown = energised;
    d->relays_valid = 1;
}

static void p_status_leds_set(void *user, uint8_t on)
{
    daemon_t *d = user;
    if (d->leds_valid && d->leds_shown == on) {
        return;
    }
    logf_(d, 3, "leds green=%d yellow=%d red=%d", on & ALFA_LED_GREEN ? 1 : 0, on & ALFA_LED_YELLOW ? 1 : 0,
          on & ALFA_LED_RED ? 1 : 0);
    static const char *const led_name[3] = {"green", "yellow", "red"};
    for (unsigned i = 0; i < 3; i++) {
        if (d->led_line[i] == NULL) {
            continue;
        }
        /* LEDs blink: a line that fails is logged once, not twice a second. */
        if (gpiod_line_set_value(d->led_line[i], (on >> i) & 1) < 0) {
            if (!(d->led_failed & (1u << i))) {
                logf_(d, 1, "gpio: led %s: %s", led_name[i], strerror(errno));
            }
            d->led_failed = (uint8_t)(d->led_failed | (1u << i));
        } else {
            d->led_failed = (uint8_t)(d->led_failed & ~(1u << i));
        }
    }
    d->leds_shown = on;
    d->leds_valid = 1;
}

static void p_segments_set(void *user, const uint8_t seg[ALFA_SEG_DIGITS])
{
    daemon_t *d = user;
    logf_(d, 3, "display %02x %02x %02x", seg[0], seg[1], seg[2]);
}

static int32_t p_serial_write(void *user, const uint8_t *data, uint16_t len)
{
    return alfa_serial_write(&((daemon_t *)user)->serial, data, len);
}

static int32_t p_serial_read(void *user, uint8_t *data, uint16_t cap)
{
    return alfa_serial_read(&((daemon_t *)user)->serial, data, cap);
}

static int32_t p_can_send(void *user, const alfa_can_frame_t *f) { return alfa_lincan_send(&((daemon_t *)user)->can, f); }
static int32_t p_can_recv(void *user, alfa_can_frame_t *f) { return alfa_lincan_recv(&((daemon_t *)user)->can, f); }
static alfa_can_state_t p_can_state(void *user) { return alfa_lincan_state(&((daemon_t *)user)->can); }
static void p_can_recover(void *user)
{
    daemon_t *d = user;
    int rc = alfa_lincan_recover(&d->can); /* the node asks again every second while bus-off */
    if (rc < 0 && rc != d->can_recover_rc) {
        logf_(d, 1, "can: bus-off and the controller could not be restarted (%d): trying again", rc);
    }
    d->can_recover_rc = rc;
}

static int32_t p_flash_read(void *user, uint32_t a, void *b, uint32_t n) { return alfa_flash_file_read(&((daemon_t *)user)->flash, a, b, n); }
static int32_t p_flash_prog(void *user, uint32_t a, const void *b, uint32_t n) { return alfa_flash_file_prog(&((daemon_t *)user)->flash, a, b, n); }
static int32_t p_flash_erase(void *user, uint32_t blk) { return alfa_flash_file_erase(&((daemon_t *)user)->flash, blk); }

/* Tell systemd. 0 without NOTIFY_SOCKET (not under systemd) is no failure; a refusal is logged
 * once: under a watchdog, systemd would restart us for it. */
static void notify(daemon_t *d, const char *state)
{
    int rc = sd_notify(0, state);
    if (rc < 0 && !d->notify_failed) {
        d->notify_failed = 1;
        logf_(d, 0, "systemd notification failed: %s", strerror(-rc));
    }
}

static void p_watchdog_feed(void *user)
{
    daemon_t *d = user;
    if (d->watchdog) {
        notify(d, "WATCHDOG=1");
    }
}

static void p_reboot(void *user)
{
    daemon_t *d = user;
    d->reboot = 1;
}

static alfa_slot_file_t *SL(void *user) { return &((daemon_t *)user)->slots; }
static int32_t p_slot_begin(void *u, uint8_t r) { return alfa_slot_file_begin(SL(u), r); }
static int32_t p_slot_erase(void *u, uint8_t w, uint32_t sec) { return alfa_slot_file_erase(SL(u), w, sec); }
static int32_t p_slot_write(void *u, uint8_t w, uint32_t o, const void *b, uint32_t n) { return alfa_slot_file_write(SL(u), w, o, b, n); }
static int32_t p_slot_read(void *u, uint8_t w, uint32_t o, void *b, uint32_t n) { return alfa_slot_file_read(SL(u), w, o, b, n); }
static int32_t p_slot_end(void *u, uint32_t size) { return alfa_slot_file_end(SL(u), size); }
static int32_t p_slot_set_boot(void *u) { return alfa_slot_file_set_boot(SL(u)); }
static int32_t p_slot_confirm(void *u) { return alfa_slot_file_confirm(SL(u)); }
static alfa_slot_state_t p_slot_state(void *u, uint8_t w) { return alfa_slot_file_state(SL(u), w); }
static int32_t p_fw_verify(void *u, const uint8_t d[32], const uint8_t sig[64]) { return alfa_slot_file_verify(SL(u), d, sig); }

/* The firmware slots: the keys this pack trusts (compiled in, plus [firmware] trust), where the
 * slots live, and which one runs (ALFASPARK_SLOT, set by the launcher). */
static int setup_slots(daemon_t *d)
{
    d->has_slots = 0;
    if (!d->cfg.fw_enabled) {
        return 0;
    }
    const char *launcher = getenv(ALFA_SLOT_FILE_LAUNCHER_ENV);
    if (launcher == NULL || getenv(ALFA_SLOT_FILE_ENV) == NULL) {
        if (realpath("/proc/self/exe", d->launcher) == NULL) {
            logf_(d, 0, "firmware: cannot find my own binary: %s", strerror(errno));
            return -1;
        }
    } else {
        snprintf(d->launcher, sizeof d->launcher, "%s", launcher);
    }
    for (size_t k = 0; k < alfa_fw_key_count && d->nkeys < MAX_KEYS; k++) {
        memcpy(d->keys[d->nkeys++], alfa_fw_keys[k], ALFA_FW_KEY_SIZE);
    }
    char trust[PACKCFG_STR];
    snprintf(trust, sizeof trust, "%s", d->cfg.fw_trust);
    for (char *save = NULL, *tok = strtok_r(trust, ", ", &save); tok != NULL; tok = strtok_r(NULL, ", ", &save)) {
        if (d->nkeys == MAX_KEYS || alfa_fw_pub_load(tok, d->keys[d->nkeys]) < 0) {
            logf_(d, 0, "firmware: [firmware] trust: %s is not a P-256 public key (or too many keys)", tok);
            return -1;
        }
        d->nkeys++;
    }
    char copy[PATH_MAX], copy2[PATH_MAX];
    snprintf(copy, sizeof copy, "%s", d->launcher);
    snprintf(copy2, sizeof copy2, "%s", d->launcher);
    const char *dir = d->cfg.fw_dir[0] ? d->cfg.fw_dir : dirname(copy);
    if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
        logf_(d, 0, "firmware: cannot create %s: %s", dir, strerror(errno));
        return -1;
    }
    const char *slot = getenv(ALFA_SLOT_FILE_ENV);
    int running = slot == NULL ? -1 : strcmp(slot, "a") == 0 ? 0 : strcmp(slot, "b") == 0 ? 1 : -2;
    if (running == -2 ||
        alfa_slot_file_init(&d->slots, dir, basename(copy2), running, (const uint8_t(*)[ALFA_FW_KEY_SIZE])d->keys,
                            d->nkeys) < 0) {
        logf_(d, 0, "firmware: bad slot set-up (%s=%s, dir %s)", ALFA_SLOT_FILE_ENV, slot ? slot : "", dir);
        return -1;
    }
    d->has_slots = 1;
    return 0;
}

/* The launcher: the installed binary starts the slot the boot records choose, or runs itself. */
static void launch(daemon_t *d, char **argv)
{
    if (!d->has_slots || alfa_slot_file_running(&d->slots) >= 0) {
        return;
    }
    char path[PATH_MAX], why[160];
    int k = alfa_slot_file_boot(&d->slots, path, sizeof path, why, sizeof why);
    if (why[0] != '\0') {
        logf_(d, k < 0 ? 2 : 1, "firmware: %s", why);
    }
    if (k < 0) {
        return;
    }
    alfa_slot_file_close(&d->slots);
    /* Without them the slot would take itself for the installed binary and launch again. */
    if (setenv(ALFA_SLOT_FILE_ENV, k == 0 ? "a" : "b", 1) < 0 || setenv(ALFA_SLOT_FILE_LAUNCHER_ENV, d->launcher, 1) < 0) {
        logf_(d, 0, "firmware: cannot start slot %c: %s; the installed binary runs", k == 0 ? 'a' : 'b', strerror(errno));
        unsetenv(ALFA_SLOT_FILE_ENV); /* a constant, valid name: cannot fail */
        return;
    }
    logf_(d, 2, "firmware: starting slot %c (%s)", k == 0 ? 'a' : 'b', path);
    execv(path, argv);
    logf_(d, 0, "firmware: cannot start %s: %s; it is marked aborted, the installed binary runs", path, strerror(errno));
    unsetenv(ALFA_SLOT_FILE_ENV);
    if (alfa_slot_file_abort(&d->slots, k) < 0) {
        logf_(d, 0, "firmware: the boot records could not be written (%s): the next start tries slot %c again",
              strerror(errno), k == 0 ? 'a' : 'b');
    }
}

/* ---- set-up ---- */

static int open_gpio(daemon_t *d)
{
    if (d->cfg.gpio_chip[0] == '\0') {
        logf_(d, 2, "gpio: none configured; relays and LEDs are logged only");
        return 0;
    }
    d->chip = gpiod_chip_open_lookup(d->cfg.gpio_chip);
    if (d->chip == NULL) {
        logf_(d, 0, "gpio: cannot open chip %s: %s", d->cfg.gpio_chip, strerror(errno));
        return -1;
    }
    for (unsigned i = 0; i < ALFA_RELAY_COUNT + 3; i++) {
        int32_t off = i < ALFA_RELAY_COUNT ? d->cfg.relay_lines[i] : d->cfg.led_lines[i - ALFA_RELAY_COUNT];
        if (off < 0) {
            continue;
        }
        struct gpiod_line *l = gpiod_chip_get_line(d->chip, (unsigned)off);
        if (l == NULL || gpiod_line_request_output(l, "alfaspark-pack", 0) < 0) {
            logf_(d, 0, "gpio: line %d: %s", (int)off, strerror(errno));
            return -1;
        }
        if (i < ALFA_RELAY_COUNT) {
            d->relay_line[i] = l;
        } else {
            d->led_line[i - ALFA_RELAY_COUNT] = l;
        }
    }
    return 0;
}

static alfa_serial_de_t de_of(const char *s)
{
    if (strcmp(s, "kernel") == 0) {
        return ALFA_SERIAL_DE_KERNEL;
    }
    if (strcmp(s, "rts") == 0) {
        return ALFA_SERIAL_DE_RTS;
    }
    if (strcmp(s, "none") == 0) {
        return ALFA_SERIAL_DE_NONE;
    }
    return ALFA_SERIAL_DE_AUTO;
}

/* Log why `what` could not be opened, with the environment check's reason and fix. */
static void log_open_failure(const daemon_t *d, const char *what, const char *name, int err, int rc,
                             const alfa_env_problem_t *p)
{
    if (rc != ALFA_PORT_OK) {
        logf_(d, 0, "%s: cannot open %s: %s; fix: %s", what, name, p->why, p->fix);
    } else {
        logf_(d, 0, "%s: cannot open %s: %s", what, name, strerror(err));
    }
}

static int open_devices(daemon_t *d)
{
    alfa_env_problem_t p = {"", ""};
    alfa_serial_cfg_t sc;
    alfa_serial_cfg_default(&sc);
    sc.baud = d->cfg.bms_baud;
    sc.parity = d->cfg.bms_parity;
    sc.de = de_of(d->cfg.bms_direction);
    int rc = alfa_serial_open(&d->serial, d->cfg.bms_device, &sc);
    if (rc < 0) {
        log_open_failure(d, "bms", d->cfg.bms_device, -rc,
                         alfa_env_check_serial(d->cfg.bms_device, "RS-485 adapter of the BMS", &p), &p);
        return -1;
    }
    logf_(d, 2, "bms: %s at %u baud %c, direction %s", d->cfg.bms_device, (unsigned)sc.baud, sc.parity,
          alfa_serial_de_name(alfa_serial_de(&d->serial)));
    if (alfa_lincan_open(&d->can, d->cfg.can_interface) < 0) {
        int err = errno;
        log_open_failure(d, "can", d->cfg.can_interface, err, alfa_env_check_can(d->cfg.can_interface, &p), &p);
        return -1;
    }
    logf_(d, 2, "can: %s", d->cfg.can_interface);
    d->geom = (alfa_flash_geom_t){.block_size = d->cfg.flash_block_size,
                                  .block_count = d->cfg.flash_blocks,
                                  .prog_size = 16,
                                  .erased_value = 0xFF};
    if (alfa_flash_file_open(&d->flash, d->cfg.flash_path, &d->geom) < 0) {
        int err = errno;
        uint64_t size = (uint64_t)d->cfg.flash_block_size * d->cfg.flash_blocks;
        log_open_failure(d, "flash", d->cfg.flash_path, err, alfa_env_check_file_writable(d->cfg.flash_path, size, &p),
                         &p);
        return -1;
    }
    return open_gpio(d);
}

static void close_devices(daemon_t *d)
{
    int rc = alfa_serial_close(&d->serial);
    if (rc < 0) {
        logf_(d, 1, "bms: the driver enable stayed on at close: %s", strerror(-rc));
    }
    if (alfa_lincan_close(&d->can) < 0) {
        logf_(d, 3, "can: the adapter did not hear the close command");
    }
    alfa_flash_file_close(&d->flash);
    if (d->chip != NULL) {
        gpiod_chip_close(d->chip); /* releases the lines too */
        d->chip = NULL;
    }
}

static void build_port(daemon_t *d)
{
    d->port = (alfa_port_t){
        .user = d,
        .now_ms = p_now_ms,
        .relays_set = p_relays_set,
        .segments_set = p_segments_set,
        .status_leds_set = p_status_leds_set,
        .serial_write = p_serial_write,
        .serial_read = p_serial_read,
        .can_send = p_can_send,
        .can_recv = p_can_recv,
        .can_state = p_can_state,
        .can_recover = p_can_recover,
        .flash_geom = &d->geom,
        .flash_read = p_flash_read,
        .flash_prog = p_flash_prog,
        .flash_erase = p_flash_erase,
        .watchdog_feed = p_watchdog_feed,
        .reboot = p_reboot,
    };
    if (d->has_slots) {
        d->port.slot_geom = alfa_slot_file_geom(&d->slots);
        d->port.slot_begin = p_slot_begin;
        d->port.slot_erase = p_slot_erase;
        d->port.slot_write = p_slot_write;
        d->port.slot_read = p_slot_read;
        d->port.slot_end = p_slot_end;
        d->port.slot_set_boot = p_slot_set_boot;
        d->port.slot_confirm = p_slot_confirm;
        d->port.slot_state = p_slot_state;
        d->port.fw_verify = p_fw_verify;
    }
}

/* One log line per fault or warning that was raised or cleared, by its MQTT name. */
static void log_changes(const daemon_t *d, const char *kind, uint32_t before, uint32_t now,
                        const char *(*name)(uint32_t))
{
    for (uint32_t b = 0; b < 32u; b++) {
        if (((before ^ now) >> b) & 1u) {
            const char *n = name(b);
            int on = (int)((now >> b) & 1u);
            if (n != NULL) {
                logf_(d, on ? 1 : 2, "%s %s %s", kind, n, on ? "raised" : "cleared");
            } else {
                logf_(d, on ? 1 : 2, "%s bit %u %s", kind, (unsigned)b, on ? "raised" : "cleared");
            }
        }
    }
}

static int level_of(const char *s)
{
    return strcmp(s, "error") == 0 ? 0 : strcmp(s, "warn") == 0 ? 1 : strcmp(s, "debug") == 0 ? 3 : 2;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: alfaspark-pack --config FILE [options]\n"
            "The Alfaspark pack controller as a Linux daemon: the firmware core with its BMS on a\n"
            "serial RS-485 adapter, CAN over SLCAN or SocketCAN, settings in a flash file.\n\n"
            "  --config FILE        INI configuration (/etc/alfaspark/pack.ini, documented in alfaspark-pack(8))\n"
            "  --check-config       check the configuration and the machine (serial, BMS adapter, CAN\n"
            "                       interface, flash file, GPIO): every problem with a fix; exit 0 or 1\n"
            "  --syntax-only        with --check-config: the file and options only, touch nothing else\n"
            "  --is-configured      exit 0 once [pack] serial is this pack's own, 1 before (the unit's condition)\n"
            "  --serial N           override [pack] serial (48-bit, e.g. 0x24A1B2C3D4E5)\n"
            "  --flash PATH         override [pack] flash\n"
            "  --bms-device PATH    override [bms] device\n"
            "  --can SPEC           override [can] interface (slcan:/dev/ttyACM0, socketcan:can0)\n"
            "  --log-level LEVEL    error, warn, info (default) or debug\n"
            "  --version            print the version\n"
            "  --help               this text\n");
}

int main(int argc, char **argv)
{
    static daemon_t d; /* large: keep it off the stack */
    const char *config_path = NULL;
    int check_only = 0, syntax_only = 0, is_configured = 0;
    struct override {
        const char *section, *key, *value;
    } ov[8];
    int n_ov = 0;
    static const struct option opts[] = {
        {"config", required_argument, 0, 'c'}, {"check-config", no_argument, 0, 'k'},
        {"serial", required_argument, 0, 's'}, {"flash", required_argument, 0, 'f'},
        {"bms-device", required_argument, 0, 'b'}, {"can", required_argument, 0, 'n'},
        {"log-level", required_argument, 0, 'l'}, {"help", no_argument, 0, 'h'},
        {"syntax-only", no_argument, 0, 'y'}, {"is-configured", no_argument, 0, 'i'},
        {"version", no_argument, 0, 'V'}, {0, 0, 0, 0},
    };
    int o;
    while ((o = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        switch (o) {
        case 'c': config_path = optarg; break;
        case 'k': check_only = 1; break;
        case 's': ov[n_ov++] = (struct override){"pack", "serial", optarg}; break;
        case 'f': ov[n_ov++] = (struct override){"pack", "flash", optarg}; break;
        case 'b': ov[n_ov++] = (struct override){"bms", "device", optarg}; break;
        case 'n': ov[n_ov++] = (struct override){"can", "interface", optarg}; break;
        case 'l': ov[n_ov++] = (struct override){"pack", "log_level", optarg}; break;
        case 'y': syntax_only = 1; break;
        case 'i': is_configured = 1; break;
        case 'V': printf("alfaspark-pack %s\n", ALFA_VERSION); return 0;
        case 'h': usage(stdout); return 0;
        default: fprintf(stderr, "alfaspark-pack: --help lists the options\n"); return 2;
        }
    }
    pack_config_defaults(&d.cfg);
    int problems = 0;
    if (config_path != NULL) {
        int rc = pack_config_load(&d.cfg, config_path, stderr);
        problems += rc < 0 ? 1 : rc;
    }
    for (int i = 0; i < n_ov; i++) {
        char why[160];
        if (pack_config_set(&d.cfg, ov[i].section, ov[i].key, ov[i].value, why, sizeof why) < 0) {
            fprintf(stderr, "command line: %s\n", why);
            problems++;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "alfaspark-pack: unexpected argument \"%s\" (--help lists the options)\n", argv[optind]);
        return 2;
    }
    if (syntax_only && !check_only) {
        fprintf(stderr, "alfaspark-pack: --syntax-only goes with --check-config\n");
        return 2;
    }
    problems += pack_config_check(&d.cfg, stderr);
    if (is_configured) {
        /* the unit's ExecCondition: 1 (skip, not a failure) until the pack has its own serial */
        if (pack_config_is_configured(&d.cfg)) {
            return 0;
        }
        printf("alfaspark-pack: [pack] serial in %s is %s: not starting until it is this pack's own (see the "
               "guide, \"Commissioning\")\n", config_path ? config_path : "the configuration",
               d.cfg.serial ? "the sample value" : "not set");
        return 1;
    }
    if (check_only) {
        if (!syntax_only) {
            problems += pack_check_env(&d.cfg, stderr);
        }
        printf("%s: %d problem%s%s\n", config_path ? config_path : "(no file)", problems, problems == 1 ? "" : "s",
               syntax_only ? " (syntax only)" : "");
        return problems == 0 ? 0 : 1;
    }
    if (problems > 0) {
        fprintf(stderr, "alfaspark-pack: configuration has %d problem(s); not starting\n", problems);
        return 1;
    }
    d.level = level_of(d.cfg.log_level);
    if (d.cfg.serial == PACKCFG_SAMPLE_SERIAL) {
        logf_(&d, 1, "pack: serial 0x%012llX is the sample of pack.ini.example: give this pack its own",
              (unsigned long long)d.cfg.serial);
    }
    clock_gettime(CLOCK_MONOTONIC, &d.t0);
    if (setup_slots(&d) < 0) {
        return 1;
    }
    launch(&d, argv); /* returns only when the installed binary itself runs */
    if (open_devices(&d) < 0) {
        close_devices(&d);
        return 1;
    }
    build_port(&d);

    alfa_bms_config_t bms;
    alfa_bms_config_default(&bms);
    bms.profile = alfa_bms_profile_find(d.cfg.bms_profile);
    bms.address = (uint8_t)d.cfg.bms_address;
    alfa_pack_config_t pc = {.serial = d.cfg.serial, .device_type = ALFA_DEV_PACK, .bms = &bms,
                             .hw_class = (uint8_t)d.cfg.fw_hw_class};
    alfa_err_t rc = alfa_pack_init(&d.pack, &d.port, &pc);
    if (rc < 0) {
        logf_(&d, 0, "pack: cannot start: %s", alfa_err_name(rc));
        close_devices(&d);
        return 1;
    }
    static const char *const boot_name[] = {"settings restored", "factory settings (reset)",
                                            "factory settings (store blank or corrupt)", "no flash"};
    alfa_fw_version_t v = alfa_core_fw_version(alfa_pack_core(&d.pack)); /* the running image's */
    const char *slot = getenv(ALFA_SLOT_FILE_ENV);
    logf_(&d, 2, "Alfaspark %u.%u.%u pack %012llx: %s; firmware %s%s, update %s", v.major, v.minor, v.patch,
          (unsigned long long)d.cfg.serial, boot_name[alfa_pack_boot_state(&d.pack)], slot ? "slot " : "installed binary",
          slot ? slot : "", alfa_fwu_state_name((uint8_t)alfa_fwu_state(alfa_pack_fwu(&d.pack))));

    uint64_t wd_usec = 0;
    d.watchdog = sd_watchdog_enabled(0, &wd_usec) > 0;
    notify(&d, "READY=1");
    signal(SIGINT, on_signal); /* fails only for a signal number that does not exist */
    signal(SIGTERM, on_signal);

    uint8_t node_id = 0, master = 0;
    uint32_t faults = 0, warnings = 0;
    uint8_t fw_state = (uint8_t)alfa_fwu_state(alfa_pack_fwu(&d.pack));
    while (!g_stop && !d.reboot) {
        struct pollfd pfd[2] = {{.fd = alfa_serial_fd(&d.serial), .events = POLLIN},
                                {.fd = alfa_lincan_fd(&d.can), .events = POLLIN}};
        /* Only a wait: the pack reads what is there whatever poll says. A poll that fails (not
         * a signal) is logged once and the loop sleeps instead, never spins. */
        if (poll(pfd, 2, LOOP_MAX_WAIT_MS) < 0 && errno != EINTR) {
            if (!d.poll_failed) {
                logf_(&d, 0, "poll: %s; waiting by the clock instead", strerror(errno));
            }
            d.poll_failed = 1;
            struct timespec nap = {0, LOOP_MAX_WAIT_MS * 1000000L};
            nanosleep(&nap, NULL); /* cut short by a signal: the loop looks at the flag */
        }
        alfa_pack_process(&d.pack);

        const alfa_node_t *n = alfa_pack_node(&d.pack);
        if (alfa_node_id(n) != node_id || (uint8_t)alfa_node_is_master(n) != master) {
            node_id = alfa_node_id(n);
            master = (uint8_t)alfa_node_is_master(n);
            logf_(&d, 2, "can: node id %u%s", node_id, master ? ", master" : "");
        }
        uint32_t f = alfa_core_faults(alfa_pack_core(&d.pack));
        uint32_t w = alfa_core_warnings(alfa_pack_core(&d.pack));
        log_changes(&d, "fault", faults, f, alfa_fault_name);
        log_changes(&d, "warning", warnings, w, alfa_warning_name);
        faults = f;
        warnings = w;
        const alfa_fwu_t *u = alfa_pack_fwu(&d.pack);
        if ((uint8_t)alfa_fwu_state(u) != fw_state) {
            fw_state = (uint8_t)alfa_fwu_state(u);
            logf_(&d, 2, "firmware update: %s (%s)", alfa_fwu_state_name(fw_state),
                  alfa_fwu_result_name((uint8_t)alfa_fwu_result(u)));
        }
    }
    /* Leave nothing acknowledged unwritten: finish the pending settings record. */
    rc = alfa_pack_flush(&d.pack);
    if (rc < 0) {
        logf_(&d, 0, "settings: the last change could not be written before stopping (%s): the pack restarts "
              "with the settings stored before it", alfa_err_name(rc));
    }
    close_devices(&d);
    if (d.reboot) {
        /* Through the launcher: it starts the slot the boot records choose (a new image on
         * trial, or the previous one after a failed trial). */
        if (d.has_slots) {
            alfa_slot_file_close(&d.slots);
            unsetenv(ALFA_SLOT_FILE_ENV);
            logf_(&d, 2, "restart requested (%s)", d.launcher);
            execv(d.launcher, argv);
        } else {
            logf_(&d, 2, "restart requested over CAN");
            execv("/proc/self/exe", argv);
        }
        logf_(&d, 0, "restart failed: %s", strerror(errno));
        return 1;
    }
    notify(&d, "STOPPING=1");
    return 0;
}

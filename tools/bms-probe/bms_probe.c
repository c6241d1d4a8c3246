/* alfaspark-bms-probe: polls a BMS with the firmware's own Modbus master and profiles, one JSON line per poll. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alfa/bms.h"
#include "alfa/err.h"
#include "alfa/serial_linux.h"

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static uint64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static uint32_t now_ms_cb(void *user)
{
    (void)user;
    return (uint32_t)(mono_us() / 1000u);
}

static void usage(FILE *f)
{
    fprintf(f,
        "usage: alfaspark-bms-probe --device PATH [--baud 9600] [--parity N|E|O] [--address 1]\n"
        "                           [--profile default] [--once] [options]\n"
        "Polls the BMS the way the pack firmware does (same Modbus RTU master, same profiles, same\n"
        "retries and timeouts) and prints one JSON object per poll on stdout:\n"
        "  {\"poll\":1,\"ok\":true,\"v_pack_mv\":52000,\"i_batt_ma\":-1500,\"alarms\":[],\"warnings\":[],...}\n"
        "or, when a poll fails after its retries, an error object:\n"
        "  {\"poll\":2,\"error\":\"crc\",\"detail\":\"...\",...}   error is one of timeout, crc, exception\n"
        "  (with \"code\"), bad_address, bad_function, bad_byte_count, truncated, io, range.\n"
        "\n"
        "  --device PATH       serial device of the RS-485 adapter (e.g. /dev/ttyUSB0), or a pty\n"
        "  --baud N            line rate (default 9600)\n"
        "  --parity N|E|O      parity (default N); --stop-bits 1|2 (default 1)\n"
        "  --address N         BMS slave address 1..247 (default 1)\n"
        "  --profile NAME      BMS register map (default \"default\"); --list-profiles shows them\n"
        "  --once              poll once; exit status 0 if it succeeded, 1 if it failed\n"
        "  --count N           stop after N polls (default: until Ctrl-C)\n"
        "  --period-ms N       time between polls (default 2000, as the firmware)\n"
        "  --timeout-ms N      base response timeout (default 100); --timeout-cap-ms N (default 500)\n"
        "  --retries N         retries after a failed attempt, 0..3 (default 3)\n"
        "  --silence-ms N      end-of-frame silence (default: 3.5 characters); raise it for USB\n"
        "                      adapters that deliver bytes in bursts\n"
        "  --de MODE           RS-485 direction: auto (default), kernel (TIOCSRS485), rts, none\n"
        "  --list-profiles     print the built-in profiles and exit\n"
        "  --help              this text\n"
        "Exit status: 0 ok; 1 the (single or last) poll failed; 2 bad usage; 3 device cannot be opened.\n");
}

static int parse_long(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 0);
    if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi) {
        return -1;
    }
    *out = v;
    return 0;
}

static void print_bits(const char *key, uint16_t bits)
{
    printf(",\"%s\":[", key);
    int first = 1;
    for (uint8_t b = 0; b < 16; b++) {
        if ((bits & (1u << b)) == 0) {
            continue;
        }
        const char *name = alfa_bms_bit_name(b);
        if (name != NULL) {
            printf("%s\"%s\"", first ? "" : ",", name);
        } else {
            printf("%s\"bit%u\"", first ? "" : ",", b);
        }
        first = 0;
    }
    printf("]");
}

static const char *exception_text(uint8_t code)
{
    switch (code) {
    case 1: return "illegal function";
    case 2: return "illegal data address";
    case 3: return "illegal data value";
    case 4: return "slave device failure";
    case 5: return "acknowledge";
    case 6: return "slave device busy";
    case 8: return "memory parity error";
    case 10: return "gateway path unavailable";
    case 11: return "gateway target failed to respond";
    default: return "unknown exception";
    }
}

static const char *detail_of(const alfa_bms_result_t *r)
{
    switch (r->status) {
    case ALFA_MB_TIMEOUT: return "no answer within the response timeout: check wiring (A/B), baud, parity and address";
    case ALFA_MB_CRC: return "CRC mismatch: noise on the line, wrong parity, or a missing termination resistor";
    case ALFA_MB_EXCEPTION: return exception_text(r->exception_code);
    case ALFA_MB_BAD_ADDRESS: return "a well-formed answer came from another slave address";
    case ALFA_MB_BAD_FUNCTION: return "the answer carried another function code";
    case ALFA_MB_BAD_BYTE_COUNT: return "the answer had the wrong number of registers: wrong profile?";
    case ALFA_MB_TRUNCATED: return "the answer stopped before it was complete";
    case ALFA_MB_IO: return "the serial device reported an error";
    case ALFA_MB_RANGE: return "a value is outside its plausible range: wrong profile?";
    default: return "?";
    }
}

int main(int argc, char **argv)
{
    alfa_bms_config_t bc;
    alfa_bms_config_default(&bc);
    alfa_serial_cfg_t sc;
    alfa_serial_cfg_default(&sc);
    const char *device = NULL, *profile = "default";
    int once = 0;
    long count = -1;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        long n;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        }
        if (strcmp(a, "--once") == 0) {
            once = 1;
            continue;
        }
        if (strcmp(a, "--list-profiles") == 0) {
            for (uint32_t k = 0; k < alfa_bms_profile_count(); k++) {
                const alfa_bms_profile_t *p = alfa_bms_profile_at(k);
                printf("%-12s function 0x%02x, %u registers from 0x%04x: %s\n", p->name, p->function, p->reg_count,
                       p->start_reg, p->description);
            }
            return 0;
        }
        if (v == NULL) {
            fprintf(stderr, "alfaspark-bms-probe: %s needs a value, or is unknown (see --help)\n", a);
            return 2;
        }
        i++;
        if (strcmp(a, "--device") == 0) {
            device = v;
        } else if (strcmp(a, "--profile") == 0) {
            profile = v;
        } else if (strcmp(a, "--parity") == 0) {
            if (strlen(v) != 1 || strchr("NEO", v[0]) == NULL) {
                fprintf(stderr, "alfaspark-bms-probe: --parity is N, E or O\n");
                return 2;
            }
            sc.parity = v[0];
        } else if (strcmp(a, "--de") == 0) {
            const char *names[] = {"auto", "kernel", "rts", "none"};
            int k;
            for (k = 0; k < 4 && strcmp(v, names[k]) != 0; k++) {
            }
            if (k == 4) {
                fprintf(stderr, "alfaspark-bms-probe: --de is auto, kernel, rts or none\n");
                return 2;
            }
            sc.de = (alfa_serial_de_t)k;
        } else {
            struct {
                const char *name;
                long lo, hi;
            } const num[] = {
                {"--baud", 1, 4000000},      {"--stop-bits", 1, 2},        {"--address", 1, 247},
                {"--count", 1, 0x7FFFFFFFL}, {"--period-ms", 10, 60000},   {"--timeout-ms", 1, 10000},
                {"--timeout-cap-ms", 1, 60000}, {"--retries", 0, 3},       {"--silence-ms", 1, 255},
            };
            size_t k;
            for (k = 0; k < sizeof(num) / sizeof(num[0]) && strcmp(a, num[k].name) != 0; k++) {
            }
            if (k == sizeof(num) / sizeof(num[0])) {
                fprintf(stderr, "alfaspark-bms-probe: unknown option %s (see --help)\n", a);
                return 2;
            }
            if (parse_long(v, num[k].lo, num[k].hi, &n) < 0) {
                fprintf(stderr, "alfaspark-bms-probe: %s takes a number in %ld..%ld\n", a, num[k].lo, num[k].hi);
                return 2;
            }
            switch (k) {
            case 0: sc.baud = (uint32_t)n; break;
            case 1: sc.stop_bits = (uint8_t)n; break;
            case 2: bc.address = (uint8_t)n; break;
            case 3: count = n; break;
            case 4: bc.period_ms = (uint16_t)n; break;
            case 5: bc.modbus.timeout_ms = (uint16_t)n; break;
            case 6: bc.modbus.timeout_cap_ms = (uint16_t)n; break;
            case 7: bc.modbus.retries = (uint8_t)n; break;
            default: bc.modbus.silence_ms = (uint8_t)n; break;
            }
        }
    }
    if (device == NULL) {
        fprintf(stderr, "alfaspark-bms-probe: --device PATH is required (see --help)\n");
        return 2;
    }
    bc.profile = alfa_bms_profile_find(profile);
    if (bc.profile == NULL) {
        fprintf(stderr, "alfaspark-bms-probe: unknown profile \"%s\" (--list-profiles)\n", profile);
        return 2;
    }
    if (!alfa_serial_baud_ok(sc.baud)) {
        fprintf(stderr, "alfaspark-bms-probe: %u is not a standard baud rate\n", sc.baud);
        return 2;
    }
    if (bc.modbus.timeout_cap_ms < bc.modbus.timeout_ms) {
        bc.modbus.timeout_cap_ms = bc.modbus.timeout_ms;
    }
    if (once) {
        count = 1;
    }
    bc.modbus.baud = sc.baud;
    bc.modbus.bits_per_char = (uint8_t)(1 + 8 + (sc.parity != 'N') + sc.stop_bits);
    if (bc.modbus.bits_per_char > 11) {
        bc.modbus.bits_per_char = 11;
    }

    alfa_serial_t ser;
    int rc = alfa_serial_open(&ser, device, &sc);
    if (rc < 0) {
        printf("{\"error\":\"io\",\"detail\":\"cannot open %s: %s\"}\n", device, strerror(-rc));
        return 3;
    }
    alfa_port_t port;
    memset(&port, 0, sizeof(port));
    port.user = &ser;
    port.now_ms = now_ms_cb;
    port.serial_write = alfa_serial_port_write;
    port.serial_read = alfa_serial_port_read;

    alfa_bms_t bms;
    rc = alfa_bms_init(&bms, &port, &bc, now_ms_cb(NULL));
    if (rc < 0) {
        fprintf(stderr, "alfaspark-bms-probe: bad configuration (%s)\n", alfa_err_name(rc));
        if (alfa_serial_close(&ser) < 0) {
            fprintf(stderr, "alfaspark-bms-probe: %s: the driver enable stayed on\n", device);
        }
        return 2;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    long polls = 0;
    int last_ok = 0;
    uint64_t t_start_us = 0;
    while (!stop_flag && (count < 0 || polls < count)) {
        int was_busy = alfa_bms_busy(&bms);
        uint64_t t_call = mono_us();
        alfa_bms_result_t r;
        int done = alfa_bms_process(&bms, (uint32_t)(t_call / 1000u), &r);
        if (!was_busy && (alfa_bms_busy(&bms) || done)) {
            t_start_us = t_call;
        }
        if (done && !r.finished) {
            continue; /* the clock declared comm lost mid-poll: the poll's own line follows */
        }
        if (done) {
            polls++;
            double poll_ms = (double)(mono_us() - t_start_us) / 1000.0;
            last_ok = r.err == ALFA_OK;
            printf("{\"poll\":%ld", polls);
            if (last_ok) {
                const alfa_bms_reading_t *b = &r.reading;
                printf(",\"ok\":true,\"v_pack_mv\":%u,\"i_batt_ma\":%d", b->v_pack_mv, b->i_batt_ma);
                if (b->present & ALFA_BMS_HAS_SOC) {
                    printf(",\"soc_pct\":%u", b->soc_pct);
                }
                print_bits("alarms", b->alarms);
                print_bits("warnings", b->warnings);
                if (b->present & ALFA_BMS_HAS_TEMP) {
                    printf(",\"temp_max_dc\":%d", b->temp_max_dc);
                }
                if (b->present & ALFA_BMS_HAS_CELLS) {
                    printf(",\"cell_min_mv\":%u,\"cell_max_mv\":%u", b->cell_min_mv, b->cell_max_mv);
                }
            } else {
                printf(",\"error\":\"%s\"", alfa_mb_status_name(r.status));
                if (r.status == ALFA_MB_EXCEPTION) {
                    printf(",\"code\":%u", r.exception_code);
                }
                printf(",\"detail\":\"%s\",\"failures_in_row\":%u", detail_of(&r), r.failures_in_row);
            }
            printf(",\"comm_lost\":%s,\"attempts\":%u,\"latency_ms\":%u,\"timeout_ms\":%u,\"poll_ms\":%.2f}\n",
                   r.comm_lost ? "true" : "false", r.attempts, r.latency_ms, r.timeout_ms, poll_ms);
            fflush(stdout);
            continue;
        }
        int32_t wait = 1;
        if (!alfa_bms_busy(&bms)) {
            wait = (int32_t)(alfa_bms_next_poll_ms(&bms) - now_ms_cb(NULL));
            wait = wait > 50 ? 50 : (wait < 0 ? 0 : wait);
        }
        rc = alfa_serial_wait(&ser, wait); /* ready or timed out alike: the poller reads */
        if (rc < 0) {
            fprintf(stderr, "alfaspark-bms-probe: %s: %s\n", device, strerror(-rc));
            last_ok = 0;
            break;
        }
    }
    rc = alfa_serial_close(&ser);
    if (rc < 0) {
        fprintf(stderr, "alfaspark-bms-probe: %s: the driver enable stayed on: %s\n", device, strerror(-rc));
    }
    return last_ok ? 0 : 1;
}

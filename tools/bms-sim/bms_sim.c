/* alfaspark-bms-sim: a simulated BMS answering Modbus RTU on a serial device or a pty, paced at the baud rate, with faults. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "alfa/bmsmodel.h"
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

static void usage(FILE *f)
{
    fprintf(f,
        "usage: alfaspark-bms-sim (--pty | --device PATH) [options]\n"
        "A simulated BMS: a Modbus RTU slave serving the default BMS profile (SPEC 5.1: 8 holding\n"
        "registers from 0: pack voltage 0.1 V, current 0.01 A signed (+ = charging), SOC %%, alarm\n"
        "bits, warning bits, highest temperature 0.1 degC signed, lowest and highest cell mV).\n"
        "It paces its answer bytes at the baud rate, so timing is what a real line gives.\n"
        "\n"
        "line:\n"
        "  --pty                 create a pseudo-terminal; its path is printed on the first line of stdout\n"
        "  --link PATH           with --pty: also make PATH a symlink to it (removed at exit)\n"
        "  --device PATH         serve on this serial device (e.g. /dev/ttyUSB0 with an RS-485 adapter)\n"
        "  --baud N              line rate (default 9600)\n"
        "  --parity N|E|O        parity (default N)\n"
        "  --stop-bits 1|2       stop bits (default 1)\n"
        "  --address N           slave address 1..247 (default 1)\n"
        "  --turnaround-us N     processing time before answering (default 2000)\n"
        "values (fixed):\n"
        "  --v-pack-mv N         pack voltage (default 52000)\n"
        "  --i-batt-ma N         battery current, + = charging (default 0)\n"
        "  --soc N               SOC register, percent (default 35)\n"
        "  --alarms N            alarm bits (0x.. accepted; default 0)\n"
        "  --warnings N          warning bits (default 0)\n"
        "  --temp-dc N           highest temperature in 0.1 degC (default 250)\n"
        "  --cell-min-mv N       lowest cell (default 3245)\n"
        "  --cell-max-mv N       highest cell (default 3255)\n"
        "  --script FILE         values over time instead: lines 't_ms v_pack_mv i_batt_ma soc alarms\n"
        "                        warnings temp_dc cell_min_mv cell_max_mv' ('#' comments); linear\n"
        "                        between points, bits step; the last point holds\n"
        "faults (each answer gets at most one, drawn from the seed):\n"
        "  --fault KIND:RATE     KIND = no_answer, late, crc, truncated, wrong_address, exception,\n"
        "                        noise (stray bytes before a good answer); RATE = 0..1; repeatable\n"
        "  --late-ms N           delay of a late answer (default 300)\n"
        "  --exception-code N    code of injected exceptions (default 4, slave device failure)\n"
        "  --seed N              fault PRNG seed (default 1)\n"
        "other:\n"
        "  --max-answers N       exit after N answers (or silences) (default: run until SIGINT/SIGTERM)\n"
        "  --verbose             one JSON line per answer on stderr\n"
        "  --help                this text\n"
        "exit status: 0 done, 2 bad arguments, 3 the device or pty cannot be set up, 4 it failed while\n"
        "running\n");
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

static int load_script(const char *path, alfa_bmsm_point_t **pts, size_t *n)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        fprintf(stderr, "alfaspark-bms-sim: cannot open script %s: %s\n", path, strerror(errno));
        return -1;
    }
    char line[512];
    size_t cap = 0, cnt = 0, lineno = 0;
    alfa_bmsm_point_t *arr = NULL;
    while (fgets(line, sizeof(line), f) != NULL) {
        lineno++;
        char *h = strchr(line, '#');
        if (h != NULL) {
            *h = '\0';
        }
        long v[9];
        int k = sscanf(line, "%li %li %li %li %li %li %li %li %li", &v[0], &v[1], &v[2], &v[3], &v[4],
                       &v[5], &v[6], &v[7], &v[8]);
        if (k <= 0) {
            continue;
        }
        if (k != 9 || v[0] < 0 || v[1] < 0 || v[1] > 6553500 || v[2] < -327680 || v[2] > 327670 || v[3] < 0 ||
            v[3] > 100 || v[4] < 0 || v[4] > 65535 || v[5] < 0 || v[5] > 65535 || v[6] < -32768 ||
            v[6] > 32767 || v[7] < 0 || v[7] > 65535 || v[8] < 0 || v[8] > 65535 ||
            (cnt > 0 && (uint32_t)v[0] <= arr[cnt - 1].t_ms)) {
            fprintf(stderr, "alfaspark-bms-sim: %s:%zu: expected 9 numbers in range, time increasing\n", path,
                    lineno);
            free(arr);
            fclose(f);
            return -1;
        }
        if (cnt == cap) {
            cap = cap ? cap * 2 : 16;
            alfa_bmsm_point_t *na = realloc(arr, cap * sizeof(*arr));
            if (na == NULL) {
                free(arr);
                fclose(f);
                return -1;
            }
            arr = na;
        }
        alfa_bmsm_point_t *p = &arr[cnt++];
        p->t_ms = (uint32_t)v[0];
        p->v.v_pack_mv = (uint32_t)v[1];
        p->v.i_batt_ma = (int32_t)v[2];
        p->v.soc_pct = (uint8_t)v[3];
        p->v.alarms = (uint16_t)v[4];
        p->v.warnings = (uint16_t)v[5];
        p->v.temp_max_dc = (int16_t)v[6];
        p->v.cell_min_mv = (uint16_t)v[7];
        p->v.cell_max_mv = (uint16_t)v[8];
    }
    fclose(f);
    if (cnt == 0) {
        fprintf(stderr, "alfaspark-bms-sim: %s: no points\n", path);
        free(arr);
        return -1;
    }
    *pts = arr;
    *n = cnt;
    return 0;
}

/* Create a pty, raw, and keep its slave side open so the master never sees a hang-up. */
static int make_pty(char *path, size_t cap, int *slave_fd)
{
    int m = posix_openpt(O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (m < 0 || grantpt(m) < 0 || unlockpt(m) < 0) {
        return -1;
    }
    if (ptsname_r(m, path, cap) != 0) {
        close(m);
        return -1;
    }
    int s = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (s < 0) {
        close(m);
        return -1;
    }
    /* Raw, as a UART's tty: a cooked one would echo the master's requests back to it. */
    struct termios t;
    if (tcgetattr(s, &t) < 0) {
        close(s);
        close(m);
        return -1;
    }
    cfmakeraw(&t);
    if (tcsetattr(s, TCSANOW, &t) < 0) {
        close(s);
        close(m);
        return -1;
    }
    *slave_fd = s;
    return m;
}

int main(int argc, char **argv)
{
    alfa_bmsm_config_t mc;
    alfa_bmsm_config_default(&mc);
    alfa_bmsm_values_t vals = {52000, 0, 35, 0, 0, 250, 3245, 3255};
    alfa_serial_cfg_t sc;
    alfa_serial_cfg_default(&sc);
    const char *device = NULL, *link_path = NULL, *script = NULL;
    int use_pty = 0, verbose = 0;
    long max_answers = -1;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        long n = 0;
        int takes = 1;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "--pty") == 0) {
            use_pty = 1;
            takes = 0;
        } else if (strcmp(a, "--verbose") == 0) {
            verbose = 1;
            takes = 0;
        } else if (v == NULL) {
            fprintf(stderr, "alfaspark-bms-sim: %s needs a value (see --help)\n", a);
            return 2;
        } else if (strcmp(a, "--device") == 0) {
            device = v;
        } else if (strcmp(a, "--link") == 0) {
            link_path = v;
        } else if (strcmp(a, "--script") == 0) {
            script = v;
        } else if (strcmp(a, "--parity") == 0) {
            if (strlen(v) != 1 || strchr("NEO", v[0]) == NULL) {
                fprintf(stderr, "alfaspark-bms-sim: --parity is N, E or O\n");
                return 2;
            }
            sc.parity = v[0];
        } else if (strcmp(a, "--fault") == 0) {
            char kind[32];
            double rate;
            const char *colon = strchr(v, ':');
            if (colon == NULL || (size_t)(colon - v) >= sizeof(kind)) {
                fprintf(stderr, "alfaspark-bms-sim: --fault KIND:RATE, e.g. crc:0.05\n");
                return 2;
            }
            memcpy(kind, v, (size_t)(colon - v));
            kind[colon - v] = '\0';
            char *end;
            rate = strtod(colon + 1, &end);
            int k = alfa_bmsm_fault_parse(kind);
            if (k <= 0 || *end != '\0' || end == colon + 1 || rate < 0.0 || rate > 1.0) {
                fprintf(stderr, "alfaspark-bms-sim: bad --fault %s (kinds: no_answer late crc truncated "
                                "wrong_address exception noise; rate 0..1)\n", v);
                return 2;
            }
            mc.rate_ppm[k] = (uint32_t)(rate * 1000000.0 + 0.5);
        } else {
            struct {
                const char *name;
                long lo, hi;
            } const num[] = {
                {"--baud", 1, 4000000},          {"--stop-bits", 1, 2},       {"--address", 1, 247},
                {"--turnaround-us", 0, 10000000}, {"--v-pack-mv", 0, 6553500}, {"--i-batt-ma", -327680, 327670},
                {"--soc", 0, 100},               {"--alarms", 0, 65535},      {"--warnings", 0, 65535},
                {"--temp-dc", -32768, 32767},    {"--cell-min-mv", 0, 65535}, {"--cell-max-mv", 0, 65535},
                {"--late-ms", 0, 100000},        {"--exception-code", 1, 255}, {"--seed", 0, 0xFFFFFFFFL},
                {"--max-answers", 0, 0x7FFFFFFFL},
            };
            size_t k;
            for (k = 0; k < sizeof(num) / sizeof(num[0]); k++) {
                if (strcmp(a, num[k].name) == 0) {
                    break;
                }
            }
            if (k == sizeof(num) / sizeof(num[0])) {
                fprintf(stderr, "alfaspark-bms-sim: unknown option %s (see --help)\n", a);
                return 2;
            }
            if (parse_long(v, num[k].lo, num[k].hi, &n) < 0) {
                fprintf(stderr, "alfaspark-bms-sim: %s takes a number in %ld..%ld\n", a, num[k].lo, num[k].hi);
                return 2;
            }
            switch (k) {
            case 0: sc.baud = (uint32_t)n; break;
            case 1: sc.stop_bits = (uint8_t)n; break;
            case 2: mc.address = (uint8_t)n; break;
            case 3: mc.turnaround_us = (uint32_t)n; break;
            case 4: vals.v_pack_mv = (uint32_t)n; break;
            case 5: vals.i_batt_ma = (int32_t)n; break;
            case 6: vals.soc_pct = (uint8_t)n; break;
            case 7: vals.alarms = (uint16_t)n; break;
            case 8: vals.warnings = (uint16_t)n; break;
            case 9: vals.temp_max_dc = (int16_t)n; break;
            case 10: vals.cell_min_mv = (uint16_t)n; break;
            case 11: vals.cell_max_mv = (uint16_t)n; break;
            case 12: mc.late_us = (uint32_t)n * 1000u; break;
            case 13: mc.exception_code = (uint8_t)n; break;
            case 14: mc.seed = (uint32_t)n; break;
            default: max_answers = n; break;
            }
        }
        i += takes;
    }
    if (use_pty == (device != NULL)) {
        fprintf(stderr, "alfaspark-bms-sim: give exactly one of --pty or --device PATH (see --help)\n");
        return 2;
    }
    if (!alfa_serial_baud_ok(sc.baud)) {
        fprintf(stderr, "alfaspark-bms-sim: %u is not a standard baud rate\n", sc.baud);
        return 2;
    }
    uint32_t ppm_total = 0;
    for (int k = 1; k < (int)ALFA_BMSM_FAULT_COUNT; k++) {
        ppm_total += mc.rate_ppm[k];
    }
    if (ppm_total > 1000000u) {
        fprintf(stderr, "alfaspark-bms-sim: fault rates add up to more than 1\n");
        return 2;
    }
    mc.baud = sc.baud;
    mc.bits_per_char = (uint8_t)(1 + 8 + (sc.parity != 'N') + sc.stop_bits);
    if (mc.bits_per_char > 11) {
        mc.bits_per_char = 11; /* 8E2/8O2 (12 bits) paced as 11: slightly fast, documented */
    }

    alfa_bmsm_point_t *pts = NULL;
    size_t npts = 0;
    if (script != NULL && load_script(script, &pts, &npts) < 0) {
        return 2;
    }

    static alfa_bmsm_t model;
    if (alfa_bmsm_init(&model, &mc, &vals) < 0) {
        fprintf(stderr, "alfaspark-bms-sim: bad configuration\n");
        return 2;
    }

    int fd = -1, slave_fd = -1, is_device = 0;
    alfa_serial_t ser;
    char path[256];
    if (use_pty) {
        fd = make_pty(path, sizeof(path), &slave_fd);
        if (fd < 0) {
            fprintf(stderr, "alfaspark-bms-sim: cannot create a pty: %s\n", strerror(errno));
            return 3;
        }
        if (link_path != NULL) {
            if (unlink(link_path) < 0 && errno != ENOENT) { /* a link of an earlier run, or none */
                fprintf(stderr, "alfaspark-bms-sim: cannot replace %s: %s\n", link_path, strerror(errno));
                return 3;
            }
            if (symlink(path, link_path) < 0) {
                fprintf(stderr, "alfaspark-bms-sim: cannot link %s: %s\n", link_path, strerror(errno));
                return 3;
            }
        }
        printf("%s\n", path);
    } else {
        int rc = alfa_serial_open(&ser, device, &sc);
        if (rc < 0) {
            fprintf(stderr, "alfaspark-bms-sim: cannot open %s: %s\n", device, strerror(-rc));
            return 3;
        }
        fd = alfa_serial_fd(&ser);
        is_device = 1;
        printf("%s\n", device);
    }
    fflush(stdout);

    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (npts > 0) {
        alfa_bmsm_set_script(&model, pts, npts, mono_us());
    }
    /* On a real UART a byte written at its start time is on the wire one character later; on a
     * pty it arrives at once, so it is written when it would have been fully received. */
    uint64_t lead_us = is_device ? alfa_bmsm_char_us(&model) : 0;
    long answers = 0;
    int status = 0;
    while (!stop_flag && (max_answers < 0 || answers < max_answers || alfa_bmsm_next_us(&model) != UINT64_MAX)) {
        uint64_t now = mono_us();
        uint64_t next = alfa_bmsm_next_us(&model);
        struct timespec ts = {1, 0};
        if (next != UINT64_MAX) {
            uint64_t due = next > lead_us ? next - lead_us : 0;
            uint64_t wait = due > now ? due - now : 0;
            ts.tv_sec = (time_t)(wait / 1000000u);
            ts.tv_nsec = (long)(wait % 1000000u) * 1000;
        }
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int rc = ppoll(&p, 1, &ts, NULL);
        if (rc < 0 && errno != EINTR) {
            fprintf(stderr, "alfaspark-bms-sim: poll: %s\n", strerror(errno));
            break;
        }
        now = mono_us();
        if (rc > 0 && (p.revents & POLLIN)) {
            uint8_t buf[256];
            ssize_t n = read(fd, buf, sizeof(buf));
            if (n > 0) {
                alfa_bmsm_rx(&model, buf, (size_t)n, now);
            } else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                fprintf(stderr, "alfaspark-bms-sim: read: %s\n", strerror(errno));
                status = 4;
                break;
            }
        } else if (rc > 0 && (p.revents & (POLLHUP | POLLERR))) {
            struct timespec nap = {0, 2000000}; /* pty client closed: wait for the next one */
            nanosleep(&nap, NULL); /* cut short by a signal: the loop looks at the flag */
        }
        uint8_t out[64];
        size_t k = alfa_bmsm_tx(&model, now + lead_us, out, sizeof(out));
        if (k > 0) {
            /* A pty with nobody reading may refuse bytes (EAGAIN, or fewer taken): the line then
             * lost them, as a wire would. Anything else is a broken device. */
            ssize_t w = write(fd, out, k);
            if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                fprintf(stderr, "alfaspark-bms-sim: write: %s\n", strerror(errno));
                status = 4;
                break;
            }
        }
        alfa_bmsm_event_t ev;
        while (alfa_bmsm_take_event(&model, &ev)) {
            answers++;
            if (verbose) {
                fprintf(stderr,
                        "{\"seq\":%u,\"fault\":\"%s\",\"function\":%u,\"start\":%u,\"count\":%u,\"exception\":%u,"
                        "\"v_pack_mv\":%u,\"i_batt_ma\":%d}\n",
                        ev.seq, alfa_bmsm_fault_name(ev.fault), ev.function, ev.start, ev.count, ev.exception,
                        ev.values.v_pack_mv, ev.values.i_batt_ma);
            }
        }
    }
    if (link_path != NULL && unlink(link_path) < 0 && errno != ENOENT) {
        fprintf(stderr, "alfaspark-bms-sim: %s stays behind: %s\n", link_path, strerror(errno));
    }
    if (is_device) {
        int rc = alfa_serial_close(&ser);
        if (rc < 0) {
            fprintf(stderr, "alfaspark-bms-sim: %s: the driver enable stayed on: %s\n", device, strerror(-rc));
        }
    } else {
        close(fd); /* the pty: nothing of ours left in it */
        close(slave_fd);
    }
    free(pts);
    return status;
}

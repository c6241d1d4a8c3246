/* Gateway benchmarks: CAN ingest rate through SLCAN on a pty, and MQTT-command-to-CAN latency through the real daemon. */
#include <errno.h>
#include <fcntl.h>
#include <mosquitto.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "alfa/gw_core.h"
#include "alfa/slcan.h"
#include "gw_harness.h"

static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double wall_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef struct counter {
    long publishes;
    size_t bytes;
} counter_t;

static int count_publish(void *user, const char *topic, const char *payload, size_t len, int retain)
{
    counter_t *c = user;
    (void)topic;
    (void)payload;
    (void)retain;
    c->publishes++;
    c->bytes += len;
    return 0;
}

static int32_t drop_send(void *user, const alfa_can_frame_t *f)
{
    (void)user;
    (void)f;
    return 0;
}

/* The writer: `frames` SLCAN lines of 16 packs (1 heartbeat per 7-frame telemetry cycle), as fast
 * as the pty takes them. */
static void writer(int fd, long frames)
{
    enum { PACKS = 16 };
    static char buf[1 << 16];
    size_t n = 0;
    long sent = 0;
    uint32_t cycle = 0;
    while (sent < frames) {
        for (int p = 0; p < PACKS && sent < frames; p++) {
            alfa_can_frame_t fr[ALFA_TELEM_PARTS + 1];
            alfa_heartbeat_t hb = {(uint8_t)(p + 1), ALFA_DEV_PACK, 0, (uint64_t)(uint32_t)(0x100000 + p), 2, 5, 0};
            alfa_telemetry_t t = {0};
            t.cycle = cycle;
            t.p_grid_w = (int32_t)(cycle % 5000);
            t.soc_pct = (uint8_t)(cycle % 101);
            t.grid_import_today_wh = cycle;
            if (alfa_proto_heartbeat_encode(&hb, &fr[0]) != 0 || alfa_proto_telem_encode(&t, (uint8_t)(p + 1), &fr[1]) != 0) {
                _exit(3); /* the writer's own frames are bad: the reader then sees too few and says so */
            }
            for (unsigned k = 0; k < ALFA_TELEM_PARTS + 1 && sent < frames; k++, sent++) {
                int len = alfa_slcan_format(&fr[k], buf + n, sizeof buf - n);
                if (len < 0) _exit(3);
                n += (size_t)len;
                if (sizeof buf - n < 64) {
                    size_t off = 0;
                    while (off < n) {
                        ssize_t w = write(fd, buf + off, n - off);
                        if (w < 0 && errno != EINTR && errno != EAGAIN) _exit(4);
                        if (w > 0) off += (size_t)w;
                    }
                    n = 0;
                }
            }
        }
        cycle++;
    }
    size_t off = 0;
    while (off < n) {
        ssize_t w = write(fd, buf + off, n - off);
        if (w < 0 && errno != EINTR && errno != EAGAIN) _exit(4);
        if (w > 0) off += (size_t)w;
    }
    _exit(0);
}

static int bench_ingest(long frames)
{
    int master = posix_openpt(O_RDWR | O_NOCTTY);
    if (master < 0 || grantpt(master) < 0 || unlockpt(master) < 0) return 1;
    char path[64];
    snprintf(path, sizeof path, "%s", ptsname(master));
    /* the gateway side opens the pty slave through its SLCAN backend, as the daemon does */
    alfa_slcan_t sl;
    if (alfa_slcan_open(&sl, path, 6u) != 0) return 1;
    struct termios tio;
    if (tcgetattr(master, &tio) < 0) return 1;
    cfmakeraw(&tio);
    if (tcsetattr(master, TCSANOW, &tio) < 0) return 1;
    counter_t cnt = {0, 0};
    gw_cfg_t cfg;
    gw_cfg_defaults(&cfg);
    gw_io_t io = {&cnt, count_publish, drop_send, NULL};
    gw_now_t now = {1000, 1700000000, 0, 1};
    static gw_core_t core;
    gw_core_init(&core, &cfg, &io, &now);
    gw_core_on_connect(&core, &now);
    pid_t pid = fork();
    if (pid == 0) writer(master, frames);
    double c0 = cpu_s(), w0 = wall_s();
    long got = 0;
    alfa_can_frame_t f;
    struct pollfd p = {alfa_slcan_fd(&sl), POLLIN, 0};
    while (got < frames) {
        int32_t rc = alfa_slcan_recv(&sl, &f);
        if (rc == 1) {
            gw_core_on_can(&core, &f, &now);
            got++;
            if ((got & 1023) == 0) {
                now.ms++;
                gw_core_process(&core, &now);
            }
            continue;
        }
        if (rc < 0) break;
        if (poll(&p, 1, 2000) <= 0) break;
    }
    double c1 = cpu_s(), w1 = wall_s();
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    if (got < frames) {
        fprintf(stderr, "ingest: only %ld of %ld frames arrived (garbage %u, overflow %u)\n", got, frames,
                alfa_slcan_stats(&sl)->n_garbage, alfa_slcan_stats(&sl)->n_rx_overflow);
        return 1;
    }
    fprintf(stderr, "ingest: %ld frames, %ld records -> %ld publishes (%zu bytes of JSON); cpu %.3f s, wall %.3f s\n", got,
            (long)gw_core_stats(&core)->telem_records, cnt.publishes, cnt.bytes, c1 - c0, w1 - w0);
    /* frames per second of CPU time of this process: decode -> state -> publish on one core,
     * independent of how busy the shared machine is */
    printf("bench gw_ingest_fps %.0f frames/s\n", (double)got / (c1 - c0));
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int bench_latency(int n)
{
    hx_broker_t b;
    memset(&b, 0, sizeof b);
    if (hx_broker_start(&b, 0, 0) != 0) {
        fprintf(stderr, "latency: mosquitto did not start\n");
        return 1;
    }
    hx_bus_t *bus = calloc(1, sizeof *bus);
    hx_gw_t gw;
    hx_client_t cli;
    if (bus == NULL || hx_bus_open(bus) != 0) return 1;
    static const char *const extra[] = {"--set", "commands.rate_client_per_min=60000", "--set", "commands.rate_client_burst=1000",
                                        "--set", "commands.rate_site_per_min=600000", "--set", "commands.rate_site_burst=2000",
                                        "--set", "gateway.log_level=warning", "--set", "homeassistant.enabled=false", NULL};
    if (hx_gw_start(&gw, &b, "bench", bus, extra) != 0) return 1;
    if (hx_client_connect(&cli, b.port, "bench", NULL, NULL) != 0) return 1;
    hx_client_sub(&cli, "alfaspark/bench/#");
    hx_pack_t pack;
    hx_pack_init(&pack, 0x42ull, 4);
    int from = 0, rc = 1;
    double *lat = calloc((size_t)n, sizeof *lat);
    if (hx_wait(&cli, "alfaspark/bench/gateway/status", "online", 5000, bus, NULL, 0, NULL) < 0) {
        fprintf(stderr, "latency: the gateway did not come online (log: %s/gateway.log)\n", b.dir);
        goto out;
    }
    hx_pack_heartbeat(bus, &pack);
    if (hx_wait(&cli, "alfaspark/bench/pack/000000000042/status", "online", 5000, bus, NULL, 0, NULL) < 0) {
        fprintf(stderr, "latency: the pack did not come online\n");
        goto out;
    }
    from = bus->n_seen;
    double last_hb = wall_s();
    for (int i = 0; i < n; i++) {
        if (wall_s() - last_hb > 0.5) {
            hx_pack_heartbeat(bus, &pack);
            last_hb = wall_s();
        }
        if (bus->n_seen > HX_MAX_FRAMES - 16) bus->n_seen = from = 0;
        int before = hx_bus_count(bus, ALFA_CLS_CMD, -1);
        char payload[64];
        snprintf(payload, sizeof payload, "{\"id\":%d,\"seconds\":1}", i);
        double t0 = wall_s();
        int prc = mosquitto_publish(cli.m, NULL, "alfaspark/bench/pack/000000000042/cmd/identify", (int)strlen(payload),
                                    payload, 0, false);
        if (prc != MOSQ_ERR_SUCCESS) {
            fprintf(stderr, "latency: command %d not published: %s\n", i, mosquitto_strerror(prc));
            goto out;
        }
        while (hx_bus_count(bus, ALFA_CLS_CMD, -1) == before) {
            if (wall_s() - t0 > 2.0) {
                fprintf(stderr, "latency: command %d never reached CAN\n", i);
                goto out;
            }
            hx_bus_pump(bus, 50);
        }
        lat[i] = (wall_s() - t0) * 1000.0;
        from = hx_packs_answer(bus, &pack, 1, from);
    }
    qsort(lat, (size_t)n, sizeof *lat, cmp_double);
    printf("bench gw_cmd_latency_p50 %.2f ms\n", lat[n / 2]);
    printf("bench gw_cmd_latency_p99 %.2f ms\n", lat[(n * 99) / 100 - 1]);
    fprintf(stderr, "latency: %d commands, min %.2f ms, max %.2f ms\n", n, lat[0], lat[n - 1]);
    rc = 0;
out:
    free(lat);
    hx_client_close(&cli);
    hx_gw_kill(&gw, SIGTERM);
    hx_broker_stop(&b);
    hx_broker_cleanup(&b);
    hx_bus_close(bus);
    free(bus);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "ingest")) return bench_ingest(argc >= 3 ? atol(argv[2]) : 1000000);
    if (argc >= 2 && !strcmp(argv[1], "latency")) return bench_latency(argc >= 3 ? atoi(argv[2]) : 1000);
    fprintf(stderr, "usage: alfaspark-gw-bench ingest [FRAMES] | latency [COMMANDS]\n");
    return 2;
}

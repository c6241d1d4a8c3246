/* Firmware-update benchmark on the timed 500 kbit/s bus: 1.2 MB to 32 packs at 1 % loss each, with control traffic. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alfa/otasite.h"
#include "fwsign.h"

/*
 * 32 real packs (heartbeats every second, telemetry every 2 s, their BMS polled every 2 s) and
 * the real sender at the gateway's place. Every pack drops 1 % of the update frames it receives,
 * independently of the others. While the image moves, the gateway sends a command every 100 ms
 * (one to a single pack, every tenth to all 32) through the same transmit queue as the update.
 *
 *   ota_32_packs_1200k_s     bus time from the start until all 32 packs hold the verified image
 *   ota_payload_efficiency   image bytes / data bytes of every update frame on the bus (manifest,
 *                            data, parity, repairs, polls, NACKs, status: both directions)
 *   ota_cmd_latency_p99      99th percentile of command -> acknowledgement (the last one of 32
 *                            for a broadcast), queued at the gateway to received there
 */

#define IMAGE 1200000u
#define PACKS 32u

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    uint32_t image = IMAGE, packs = PACKS, loss_ppm = 10000u;
    if (argc > 1) image = (uint32_t)strtoul(argv[1], NULL, 10); /* smaller runs for a quick look */
    if (argc > 2) packs = (uint32_t)strtoul(argv[2], NULL, 10);
    alfa_fwsign_key_t key;
    uint8_t *payload = malloc(image), *img = malloc(image + 128u), *factory = malloc(4096u + 128u);
    if (payload == NULL || img == NULL || factory == NULL || alfa_fwsign_key_from_seed(1, &key) != 0) {
        fprintf(stderr, "ota_bench: set-up failed\n");
        return 1;
    }
    uint32_t x = 12345u;
    for (uint32_t i = 0; i < image; i++) {
        x ^= x << 13; x ^= x >> 17; x ^= x << 5;
        payload[i] = (uint8_t)x;
    }
    alfa_fwimg_hdr_t h;
    memset(&h, 0, sizeof(h));
    h.device_type = 1;
    h.hw_class = 1;
    h.major = 2;
    h.minor = 5;
    if (alfa_fwsign_image(&key, &h, payload, 4096u, factory) != 0) return 1;
    h.minor = 6;
    if (alfa_fwsign_image(&key, &h, payload, image, img) != 0) return 1;

    ota_site_cfg_t c;
    memset(&c, 0, sizeof(c));
    c.packs = packs;
    uint32_t sectors = (image + 4095u) / 4096u + 1u;
    c.geom = (alfa_slot_geom_t){sectors * 4096u, 4096u, 16u, 0xFFu};
    c.loss_ppm = loss_ppm;
    c.seed = 42;
    c.keys = (const uint8_t(*)[65])key.point;
    c.nkeys = 1;
    gw_ota_cfg_defaults(&c.gw);
    c.factory_image = factory;
    c.factory_len = 4096u + 128u;
    ota_site_t *s = ota_site_new(&c);
    if (s == NULL) {
        fprintf(stderr, "ota_bench: site set-up failed\n");
        return 1;
    }
    ota_site_run_ms(s, 6000);
    char why[160];
    if (gw_ota_start(ota_site_gw(s), img, image + 128u, NULL, 0, 0, ota_site_now_ms(s), why, sizeof(why)) != 0) {
        fprintf(stderr, "ota_bench: %s\n", why);
        return 1;
    }
    ota_site_stats_t before = *ota_site_stats(s);
    uint32_t t0 = ota_site_now_ms(s), cmds = 0;
    int done = 0;
    while (!done && ota_site_now_ms(s) - t0 < 600000u) {
        ota_site_run_ms(s, 100);
        ota_site_command(s, (++cmds % 10u) == 0u ? UINT32_MAX : cmds % packs);
        const gw_ota_target_t *t;
        size_t n = gw_ota_targets(ota_site_gw(s), &t);
        done = n == packs;
        for (size_t i = 0; i < n; i++) {
            done &= t[i].st == GW_T_READY || t[i].st == GW_T_ACTIVATING || t[i].st == GW_T_CONFIRMED;
        }
    }
    uint32_t took = ota_site_now_ms(s) - t0;
    const ota_site_stats_t *st = ota_site_stats(s);
    uint64_t bytes = st->update_bytes - before.update_bytes;
    const uint32_t *lat;
    size_t nl = ota_site_latencies(s, &lat);
    uint32_t *sorted = malloc((nl ? nl : 1u) * sizeof(*sorted));
    if (sorted == NULL || nl == 0u || !done) {
        fprintf(stderr, "ota_bench: the update did not finish (%u ms) or no command was answered\n", took);
        return 1;
    }
    memcpy(sorted, lat, nl * sizeof(*sorted));
    qsort(sorted, nl, sizeof(*sorted), cmp_u32);
    uint32_t p99 = sorted[(nl * 99u) / 100u < nl ? (nl * 99u) / 100u : nl - 1u];
    const gw_ota_stats_t *g = gw_ota_stats(ota_site_gw(s));
    printf("bench ota_32_packs_1200k_s %.1f s\n", took / 1000.0);
    printf("bench ota_payload_efficiency %.3f\n", (double)image / (double)bytes);
    printf("bench ota_cmd_latency_p99 %.2f ms\n", p99 / 1000.0);
    fprintf(stderr, "ota_bench: %u packs, %u bytes, %u%% loss: %llu data, %llu parity, %llu repair frames, %u rounds, "
                    "%llu frames lost on purpose, update frames %.1f %% of the wire time, %zu commands, max latency %.2f ms\n",
            packs, image, loss_ppm / 10000u, (unsigned long long)g->data_frames, (unsigned long long)g->parity_frames,
            (unsigned long long)g->repair_frames, g->rounds, (unsigned long long)st->frames_lost,
            100.0 * (double)(st->update_busy_us - before.update_busy_us) / (took * 1000.0), nl, sorted[nl - 1] / 1000.0);
    free(sorted);
    ota_site_free(s);
    free(payload);
    free(img);
    free(factory);
    return 0;
}

/* libFuzzer target: MQTT command topic + payload -> validated command (the gateway's outside-input parser). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alfa/gw_cmd.h"
#include "alfa/gw_core.h"
#include "alfa/gw_json.h"

static int pub_nop(void *user, const char *topic, const char *payload, size_t len, int retain)
{
    (void)user;
    (void)retain;
    /* every payload the gateway publishes in answer is well-formed JSON (or a bare status word) */
    if (strstr(topic, "/cmd/result") != NULL) {
        gw_json_doc_t *d = malloc(sizeof *d);
        if (d == NULL) abort();
        if (gw_json_parse(d, payload, len) != 0 && len <= GW_JSON_MAX_TEXT) abort();
        free(d);
    }
    return 0;
}

static int32_t send_nop(void *user, const alfa_can_frame_t *f)
{
    (void)user;
    alfa_cmd_t c;
    /* whatever reaches CAN decodes as a valid command */
    if (alfa_proto_classify(f) == ALFA_CLS_CMD && alfa_proto_cmd_decode(f, &c) != 0) abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const prefixes[] = {"alfaspark/home/cmd/", "alfaspark/home/pack/0000a1b2c3d4/cmd/",
                                           "alfaspark/home/pack/", "alfaspark/home/"};
    if (size < 1) return 0;
    const char *prefix = prefixes[data[0] & 3u];
    data++;
    size--;
    const uint8_t *nl = memchr(data, '\n', size);
    size_t name_len = nl ? (size_t)(nl - data) : 0;
    if (name_len > 200) name_len = 200;
    char topic[300];
    size_t pl = strlen(prefix);
    memcpy(topic, prefix, pl);
    for (size_t k = 0; k < name_len; k++) topic[pl + k] = data[k] ? (char)data[k] : '_';
    topic[pl + name_len] = '\0';
    const char *payload = nl ? (const char *)nl + 1 : (const char *)data;
    size_t plen = nl ? size - (size_t)(nl - data) - 1u : size;

    gw_cmd_req_t req;
    int rc = gw_cmd_parse("home", topic, strlen(topic), payload, plen, &req);
    if (rc == 0) {
        alfa_can_frame_t f;
        req.cmd.seq = 1;
        req.cmd.src = ALFA_NODE_LINUX_GATEWAY;
        req.cmd.dst = ALFA_NODE_BROADCAST;
        if (alfa_proto_cmd_encode(&req.cmd, &f) != 0) abort(); /* validated means encodable */
    } else if (rc < 0 && (-rc <= 0 || -rc >= GW_R_COUNT)) {
        abort();
    }
    /* the id we echo is itself valid JSON */
    char wrapped[GW_ID_MAX + 16];
    snprintf(wrapped, sizeof wrapped, "{\"id\":%s}", req.id_json);
    gw_json_doc_t *d = malloc(sizeof *d);
    if (d == NULL) abort();
    if (gw_json_parse(d, wrapped, strlen(wrapped)) != 0) abort();
    free(d);

    /* and through the whole core: rate limit, pack lookup, result JSON */
    static gw_core_t *core;
    if (core == NULL) {
        gw_cfg_t cfg;
        gw_cfg_defaults(&cfg);
        cfg.rate_client_burst = cfg.rate_site_burst = 1000;
        gw_io_t io = {NULL, pub_nop, send_nop, NULL};
        gw_now_t now = {1000, 1700000000, 0, 1};
        core = calloc(1, sizeof *core);
        if (core == NULL) abort();
        snprintf(cfg.site, sizeof cfg.site, "home");
        gw_core_init(core, &cfg, &io, &now);
        gw_core_on_connect(core, &now);
        alfa_heartbeat_t hb = {5, ALFA_DEV_PACK, 0, 0xa1b2c3d4ull, 2, 5, 0};
        alfa_can_frame_t f;
        if (alfa_proto_heartbeat_encode(&hb, &f) == 0) gw_core_on_can(core, &f, &now);
    }
    static uint32_t t = 1000;
    t += 1500; /* every pending command times out before the next input fills the table */
    gw_now_t now = {t, 1700000000, 0, 1};
    alfa_heartbeat_t hb = {5, ALFA_DEV_PACK, 0, 0xa1b2c3d4ull, 2, 5, 0};
    alfa_can_frame_t f;
    if (alfa_proto_heartbeat_encode(&hb, &f) == 0) gw_core_on_can(core, &f, &now);
    gw_core_on_mqtt(core, topic, payload, plen, &now);
    gw_core_process(core, &now);
    return 0;
}

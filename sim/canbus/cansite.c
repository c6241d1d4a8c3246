/* A site of real packs (alfa_pack_t, synthetic BMS) on the timed bus model, driven on one simulated clock. */
#include "alfa/cansite.h"

#include <string.h>

static uint32_t p_now_ms(void *user)
{
    const alfa_cansite_pack_t *p = user;
    return (uint32_t)(alfa_canbus_now_us(&p->site->bus) / 1000u);
}

static void p_relays(void *user, uint8_t mask)
{
    (void)user;
    (void)mask;
}

static void p_leds(void *user, uint8_t mask)
{
    (void)user;
    (void)mask;
}

static int32_t p_can_send(void *user, const alfa_can_frame_t *f)
{
    alfa_cansite_pack_t *p = user;
    return alfa_canbus_send(p->can, f);
}

static int32_t p_can_recv(void *user, alfa_can_frame_t *f)
{
    alfa_cansite_pack_t *p = user;
    return alfa_canbus_recv(p->can, f);
}

static alfa_can_state_t p_can_state(void *user)
{
    const alfa_cansite_pack_t *p = user;
    return alfa_canbus_state(p->can);
}

static void p_can_recover(void *user)
{
    alfa_cansite_pack_t *p = user;
    alfa_canbus_recover(p->can);
}

static int32_t p_flash_read(void *user, uint32_t addr, void *buf, uint32_t len)
{
    alfa_cansite_pack_t *p = user;
    if (addr > sizeof(p->flash) || len > sizeof(p->flash) - addr) {
        return ALFA_PORT_E_RANGE;
    }
    memcpy(buf, &p->flash[addr], len);
    return ALFA_PORT_OK;
}

static int32_t p_flash_prog(void *user, uint32_t addr, const void *buf, uint32_t len)
{
    alfa_cansite_pack_t *p = user;
    if (addr > sizeof(p->flash) || len > sizeof(p->flash) - addr) {
        return ALFA_PORT_E_RANGE;
    }
    for (uint32_t i = 0; i < len; i++) {
        if (p->flash[addr + i] != 0xFFu) {
            return ALFA_PORT_E_REPROG;
        }
    }
    memcpy(&p->flash[addr], buf, len);
    p->flash_writes++;
    return ALFA_PORT_OK;
}

static int32_t p_flash_erase(void *user, uint32_t block)
{
    alfa_cansite_pack_t *p = user;
    if (block >= ALFA_CANSITE_FLASH_BLOCKS) {
        return ALFA_PORT_E_RANGE;
    }
    memset(&p->flash[block * ALFA_CANSITE_FLASH_BLOCK], 0xFF, ALFA_CANSITE_FLASH_BLOCK);
    return ALFA_PORT_OK;
}

static void p_reboot(void *user)
{
    alfa_cansite_pack_t *p = user;
    /* Done after the step, once the settings of a factory reset have reached the "flash". */
    p->reboot_req = 1;
}

static void boot(alfa_cansite_pack_t *p)
{
    alfa_pack_config_t cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.serial = p->serial;
    cfg.device_type = p->device_type;
    cfg.bms_external = 1;
    /* A configuration the pack refuses is a bug of this harness: the tests see it at once. */
    p->powered = alfa_pack_init(&p->pack, &p->port, &cfg) == ALFA_OK;
    p->next_bms_ms = p_now_ms(p);
}

/* The settings the pack's flash holds now (defaults when none). */
static void stored_settings(alfa_cansite_pack_t *p, alfa_settings_t *set)
{
    alfa_store_t st;
    uint8_t blob[ALFA_STORE_BLOB_MAX];
    uint32_t len = 0;
    uint16_t format = 0;
    alfa_store_found_t found;
    alfa_settings_defaults(set);
    if (alfa_store_init(&st, &p->port, blob, sizeof(blob), &len, &format, &found) == 0 &&
        found == ALFA_STORE_FOUND_RECORD && alfa_settings_decode(set, blob, len, NULL) != 0) {
        alfa_settings_defaults(set);
    }
}

uint8_t alfa_cansite_stored_node_id(alfa_cansite_pack_t *p)
{
    alfa_settings_t set;
    stored_settings(p, &set);
    return (uint8_t)set.node_id;
}

/* The pack's stored settings with `node_id`, as if it had run with it before: one record written
 * by the real store. */
static void preload_node_id(alfa_cansite_pack_t *p, uint8_t node_id)
{
    alfa_settings_t set;
    stored_settings(p, &set);
    set.node_id = node_id;
    uint8_t blob[ALFA_SETTINGS_BLOB_SIZE];
    int len = alfa_settings_encode(&set, blob, sizeof(blob));
    alfa_store_t st;
    uint8_t old[ALFA_STORE_BLOB_MAX];
    uint32_t old_len = 0;
    uint16_t format = 0;
    alfa_store_found_t found;
    if (len <= 0 || alfa_store_init(&st, &p->port, old, sizeof(old), &old_len, &format, &found) < 0 ||
        alfa_store_save(&st, ALFA_SETTINGS_BLOB_VERSION, blob, (uint32_t)len, 0) < 0 || alfa_store_flush(&st) < 0) {
        return; /* the pack boots blank and claims an ID of its own: the test shows it */
    }
    for (uint32_t k = 0; k < 64u && alfa_store_process(&st, 0) > 0; k++) {
    }
}

void alfa_cansite_init(alfa_cansite_t *s, uint64_t seed)
{
    memset(s, 0, sizeof(*s));
    alfa_canbus_init(&s->bus, seed);
    s->tool = alfa_canbus_attach(&s->bus);
}

alfa_cansite_pack_t *alfa_cansite_add_pack(alfa_cansite_t *s, uint64_t serial, uint8_t stored_node_id)
{
    return alfa_cansite_add_device(s, serial, stored_node_id, ALFA_DEV_PACK);
}

alfa_cansite_pack_t *alfa_cansite_add_device(alfa_cansite_t *s, uint64_t serial, uint8_t stored_node_id,
                                             uint8_t device_type)
{
    if (s->n_packs >= ALFA_CANSITE_MAX_PACKS) {
        return NULL;
    }
    alfa_canbus_node_t *can = alfa_canbus_attach(&s->bus);
    if (can == NULL) {
        return NULL;
    }
    alfa_cansite_pack_t *p = &s->packs[s->n_packs];
    memset(p, 0, sizeof(*p));
    p->site = s;
    p->index = s->n_packs;
    p->serial = serial;
    p->device_type = device_type;
    p->can = can;
    p->port.user = p;
    p->port.now_ms = p_now_ms;
    p->port.relays_set = p_relays;
    p->port.status_leds_set = p_leds;
    p->port.can_send = p_can_send;
    p->port.can_recv = p_can_recv;
    p->port.can_state = p_can_state;
    p->port.can_recover = p_can_recover;
    p->port.reboot = p_reboot;
    p->geom.block_size = ALFA_CANSITE_FLASH_BLOCK;
    p->geom.block_count = ALFA_CANSITE_FLASH_BLOCKS;
    p->geom.prog_size = 4u;
    p->geom.erased_value = 0xFFu;
    p->port.flash_geom = &p->geom;
    p->port.flash_read = p_flash_read;
    p->port.flash_prog = p_flash_prog;
    p->port.flash_erase = p_flash_erase;
    memset(p->flash, 0xFF, sizeof(p->flash));
    if (stored_node_id != 0) {
        preload_node_id(p, stored_node_id);
        p->flash_writes = 0;
    }
    /* Packs differ a little so that sums and averages mean something. */
    p->v_pack_mv = 50000u + (uint32_t)(serial % 97u) * 100u;
    p->i_batt_ma = (int32_t)(serial % 13u) * 1000 - 6000;
    s->n_packs++;
    boot(p);
    return p;
}

void alfa_cansite_store_node_id(alfa_cansite_pack_t *p, uint8_t node_id) { preload_node_id(p, node_id); }

void alfa_cansite_reboot(alfa_cansite_pack_t *p)
{
    /* RAM is gone; the CAN controller restarts with empty queues. */
    alfa_canbus_node_power_off(p->can);
    boot(p);
}

static void step_pack(alfa_cansite_pack_t *p, uint32_t now)
{
    if (!p->powered) {
        return;
    }
    if ((int32_t)(now - p->next_bms_ms) >= 0) {
        p->next_bms_ms = now + 2000u;
        alfa_bms_result_t r;
        memset(&r, 0, sizeof(r));
        r.finished = 1;
        r.alarms_valid = 1;
        r.reading.v_pack_mv = p->v_pack_mv;
        r.reading.i_batt_ma = p->i_batt_ma;
        alfa_pack_bms_result(&p->pack, &r);
    }
    alfa_pack_process(&p->pack);
    if (p->reboot_req) {
        p->reboot_req = 0;
        p->reboots++;
        alfa_cansite_reboot(p);
    }
}

void alfa_cansite_run_ms(alfa_cansite_t *s, uint32_t ms)
{
    for (uint32_t k = 0; k < ms; k++) {
        uint64_t t = alfa_canbus_now_us(&s->bus) + ALFA_CANSITE_STEP_US;
        alfa_canbus_run_until(&s->bus, t);
        uint32_t now = (uint32_t)(t / 1000u);
        for (uint32_t i = 0; i < s->n_packs; i++) {
            step_pack(&s->packs[i], now);
        }
    }
}

uint32_t alfa_cansite_now_ms(const alfa_cansite_t *s) { return (uint32_t)(alfa_canbus_now_us(&s->bus) / 1000u); }

int alfa_cansite_command(alfa_cansite_t *s, alfa_cmd_t *cmd)
{
    cmd->src = ALFA_NODE_LINUX_GATEWAY;
    cmd->seq = ++s->tool_seq;
    alfa_can_frame_t f;
    int rc = alfa_proto_cmd_encode(cmd, &f);
    if (rc < 0) {
        return rc;
    }
    if (alfa_canbus_send(s->tool, &f) < 0) {
        return ALFA_PROTO_E_INVAL;
    }
    return cmd->seq;
}

int32_t alfa_cansite_tool_send(alfa_cansite_t *s, const alfa_can_frame_t *f)
{
    return alfa_canbus_send(s->tool, f);
}

uint32_t alfa_cansite_masters(const alfa_cansite_t *s)
{
    uint32_t m = 0;
    for (uint32_t i = 0; i < s->n_packs; i++) {
        m += (s->packs[i].powered && alfa_node_is_master(alfa_pack_node(&s->packs[i].pack))) ? 1u : 0u;
    }
    return m;
}

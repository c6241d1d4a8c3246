/* A site of real packs (core + CAN node) on the timed bus model, driven on one simulated clock. */
#include "alfa/cansite.h"

#include <string.h>

static uint32_t p_now_ms(void *user)
{
    const alfa_cansite_pack_t *p = user;
    return (uint32_t)(p->site->bus.now_us / 1000u);
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

static void p_reboot(void *user)
{
    alfa_cansite_pack_t *p = user;
    /* Done after the step, once the settings of a factory reset have reached the "flash". */
    p->reboot_req = 1;
}

static void boot(alfa_cansite_pack_t *p)
{
    alfa_core_config_t cc;
    memset(&cc, 0, sizeof(cc));
    cc.serial = p->serial;
    cc.settings = &p->flash;
    (void)alfa_core_init(&p->core, &p->port, &cc);
    p->flash_gen = alfa_core_settings_generation(&p->core);
    alfa_node_config_t nc = {.serial = p->serial, .device_type = p->device_type};
    (void)alfa_node_init(&p->node, &p->port, &p->core, &nc);
    p->next_bms_ms = p_now_ms(p);
    p->powered = 1;
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
    alfa_settings_defaults(&p->flash);
    p->flash.node_id = stored_node_id;
    /* Packs differ a little so that sums and averages mean something. */
    p->v_pack_mv = 50000u + (uint32_t)(serial % 97u) * 100u;
    p->i_batt_ma = (int32_t)(serial % 13u) * 1000 - 6000;
    s->n_packs++;
    boot(p);
    return p;
}

void alfa_cansite_reboot(alfa_cansite_pack_t *p)
{
    /* RAM is gone; the CAN controller restarts with empty queues. */
    p->can->tx_count = 0;
    p->can->rx_count = 0;
    p->can->tec = 0;
    p->can->rec = 0;
    p->can->bus_off = 0;
    boot(p);
}

static void step_pack(alfa_cansite_pack_t *p, uint32_t now)
{
    if (!p->powered) {
        return;
    }
    if ((int32_t)(now - p->next_bms_ms) >= 0) {
        p->next_bms_ms = now + 2000u;
        alfa_bms_reading_t r;
        memset(&r, 0, sizeof(r));
        r.v_pack_mv = p->v_pack_mv;
        r.i_batt_ma = p->i_batt_ma;
        (void)alfa_core_bms_input(&p->core, &r, false);
    }
    alfa_can_frame_t f;
    while (p_can_recv(p, &f) > 0) {
        alfa_node_on_frame(&p->node, &f, now);
    }
    alfa_core_process(&p->core);
    alfa_node_process(&p->node, now);
    uint32_t gen = alfa_core_settings_generation(&p->core);
    if (gen != p->flash_gen) {
        p->flash_gen = gen;
        p->flash = *alfa_core_settings(&p->core);
        p->flash_writes++;
    }
    if (p->reboot_req) {
        p->reboot_req = 0;
        p->reboots++;
        alfa_cansite_reboot(p);
    }
}

void alfa_cansite_run_ms(alfa_cansite_t *s, uint32_t ms)
{
    for (uint32_t k = 0; k < ms; k++) {
        uint64_t t = s->bus.now_us + ALFA_CANSITE_STEP_US;
        alfa_canbus_run_until(&s->bus, t);
        uint32_t now = (uint32_t)(t / 1000u);
        for (uint32_t i = 0; i < s->n_packs; i++) {
            step_pack(&s->packs[i], now);
        }
    }
}

uint32_t alfa_cansite_now_ms(const alfa_cansite_t *s) { return (uint32_t)(s->bus.now_us / 1000u); }

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
        m += (s->packs[i].powered && alfa_node_is_master(&s->packs[i].node)) ? 1u : 0u;
    }
    return m;
}

/* Telemetry on CAN: this pack's 7-part record every 2 s out, other packs' records reassembled in. */
#include "alfa/tlm.h"
#include "alfa/bytes.h"

static uint32_t since(uint32_t now, uint32_t t) { return now - t; }
static bool due(uint32_t now, uint32_t t) { return (int32_t)(now - t) >= 0; }

alfa_err_t alfa_tlm_init(alfa_tlm_t *t, alfa_node_t *node, const alfa_core_t *core)
{
    if (t == 0 || node == 0 || core == 0) {
        return ALFA_E_INVAL;
    }
    alfa_memset(t, 0, sizeof(*t));
    t->node = node;
    t->core = core;
    return ALFA_OK;
}

/* The reassembler collecting `src`'s telemetry, or a free (or abandoned) one lent to it; 0 when
 * every one is busy with a burst in flight: the part is dropped and that record is lost. */
static alfa_telem_rx_t *rx_for(alfa_tlm_t *t, uint8_t src, uint8_t cycle8, uint32_t now_ms)
{
    alfa_tlm_rx_t *pick = 0;
    for (uint32_t i = 0; i < ALFA_TLM_RX_SLOTS; i++) {
        alfa_tlm_rx_t *r = &t->rx[i];
        if (r->rx.have != 0 && r->rx.src == src) {
            if (since(now_ms, r->start_ms) >= ALFA_TLM_RX_STALE_MS) {
                /* Parts left from a burst long gone never complete a later one, even one that
                 * happens to carry the same cycle byte. */
                alfa_telem_rx_reset(&r->rx);
                r->start_ms = now_ms;
            } else if (r->rx.cycle8 != cycle8) {
                r->start_ms = now_ms; /* a new burst: the feed drops the unfinished one */
            }
            return &r->rx;
        }
        bool idle = r->rx.have == 0 || since(now_ms, r->start_ms) >= ALFA_TLM_RX_STALE_MS;
        if (idle && (pick == 0 || (pick->rx.have != 0 && r->rx.have == 0))) {
            pick = r;
        }
    }
    if (pick == 0) {
        return 0;
    }
    alfa_telem_rx_reset(&pick->rx);
    pick->start_ms = now_ms;
    return &pick->rx;
}

int alfa_tlm_on_frame(alfa_tlm_t *t, const alfa_can_frame_t *f, uint32_t now_ms, alfa_telemetry_t *out)
{
    uint8_t src = ALFA_PROTO_ID_SRC(f->id);
    alfa_node_peer_t peer;
    if (!alfa_node_peer(t->node, src, &peer)) {
        return 0; /* unknown sender: wait for its heartbeat */
    }
    alfa_telem_rx_t *rx = rx_for(t, src, f->len > 0 ? f->data[0] : 0, now_ms);
    if (rx == 0) {
        t->stats.lost++;
        return 0;
    }
    alfa_telemetry_t rec;
    int rc = alfa_telem_rx_feed(rx, f, &rec);
    if (rc < 0) {
        t->stats.rx_bad++;
        return 0;
    }
    if (rc == 1 && peer.device_type == ALFA_DEV_PACK) {
        t->stats.received++;
        *out = rec;
        return 1;
    }
    return 0;
}

void alfa_tlm_process(alfa_tlm_t *t, uint32_t now_ms)
{
    if (alfa_node_phase(t->node) != ALFA_NODE_PHASE_RUN) {
        return;
    }
    uint32_t runs = alfa_node_runs(t->node);
    if (runs != t->runs_seen) {
        /* Settled (again): spread the packs' bursts over the 2-s period by node ID. */
        t->runs_seen = runs;
        t->next_ms = now_ms + ((uint32_t)alfa_node_id(t->node) * 16u) % ALFA_TLM_PERIOD_MS;
    }
    if (!due(now_ms, t->next_ms)) {
        return;
    }
    t->next_ms = now_ms + ALFA_TLM_PERIOD_MS;
    alfa_telemetry_t rec;
    alfa_core_telemetry(t->core, &rec);
    rec.cycle = t->cycle;
    rec.is_master = alfa_node_is_master(t->node) ? 1u : 0u;
    alfa_can_frame_t fr[ALFA_TELEM_PARTS];
    if (alfa_proto_telem_encode(&rec, alfa_node_id(t->node), fr) < 0) {
        t->stats.send_fail++; /* a value beyond its wire field: the record is not sent */
        return;
    }
    t->cycle++;
    for (uint32_t k = 0; k < ALFA_TELEM_PARTS; k++) {
        if (alfa_node_send(t->node, &fr[k]) < 0) {
            t->stats.send_fail++;
            return; /* a partial cycle is harmless: receivers never assemble it */
        }
    }
    t->stats.sent++;
}

const alfa_tlm_stats_t *alfa_tlm_stats(const alfa_tlm_t *t) { return &t->stats; }

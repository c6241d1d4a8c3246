/* The isa-check BMS: a Modbus RTU slave (address 1, SPEC.md §5.1 register map) answering the pack's real requests from the plant. */
#include "isa.h"

#define BMS_ADDR 1u
#define BMS_REGS 8u
#define REQ_LEN 8u
#define RESP_LEN (3u + 2u * BMS_REGS + 2u)
#define TURNAROUND_MS 5u
/* Wire times at 9600 8N1 (10 bits a character), rounded up to whole ms. */
#define WIRE_MS(bytes) (((uint32_t)(bytes) * 10000u + 9599u) / 9600u)

uint16_t isa_crc16_modbus(const uint8_t *d, uint32_t n)
{
    uint16_t crc = 0xFFFFu;
    for (uint32_t i = 0; i < n; i++) {
        crc ^= d[i];
        for (int k = 0; k < 8; k++) {
            crc = (crc & 1u) ? (uint16_t)((crc >> 1) ^ 0xA001u) : (uint16_t)(crc >> 1);
        }
    }
    return crc;
}

void isa_bms_init(isa_bms_t *b) { *b = (isa_bms_t){0}; }

static void put_reg(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8); /* Modbus registers travel big-endian */
    p[1] = (uint8_t)v;
}

static void answer(isa_bms_t *b, const isa_plant_t *plant, uint32_t t_ms)
{
    uint8_t *r = b->resp;
    r[0] = BMS_ADDR;
    r[1] = 0x03u;
    r[2] = 2u * BMS_REGS;
    int32_t i_ca = plant->i_ma / 10;  /* 0.01 A */
    uint32_t cell = plant->v_mv / 16u;
    int32_t abs_w = plant->p_batt_w < 0 ? -plant->p_batt_w : plant->p_batt_w;
    put_reg(&r[3], (uint16_t)(plant->v_mv / 100u));
    put_reg(&r[5], (uint16_t)(int16_t)i_ca);
    put_reg(&r[7], isa_plant_soc_pct(plant));
    put_reg(&r[9], b->alarms);
    put_reg(&r[11], b->warnings);
    put_reg(&r[13], (uint16_t)(250 + abs_w / 200));  /* 0.1 degC: warmer under load */
    put_reg(&r[15], (uint16_t)(cell - 4u));
    put_reg(&r[17], (uint16_t)(cell + 4u));
    uint16_t crc = isa_crc16_modbus(r, RESP_LEN - 2u);
    r[RESP_LEN - 2u] = (uint8_t)crc;        /* CRC low byte first on the wire */
    r[RESP_LEN - 1u] = (uint8_t)(crc >> 8);
    b->resp_len = RESP_LEN;
    b->resp_off = 0;
    b->resp_notified = 0;
    b->resp_ready_t = t_ms + WIRE_MS(REQ_LEN) + (b->slow_ms != 0u ? b->slow_ms : TURNAROUND_MS) + WIRE_MS(RESP_LEN);
    b->answers++;
}

void isa_bms_rx(isa_bms_t *b, const isa_plant_t *plant, const uint8_t *data, uint16_t len, uint32_t t_ms)
{
    /* A gap of more than t3.5 starts a new frame (a real slave's framing rule). */
    if (b->req_len != 0u && t_ms - b->last_rx_t > 4u) {
        b->req_len = 0;
    }
    b->last_rx_t = t_ms;
    for (uint16_t i = 0; i < len; i++) {
        if (b->req_len < sizeof b->req) {
            b->req[b->req_len++] = data[i];
        }
    }
    if (b->req_len < REQ_LEN) {
        return;
    }
    const uint8_t *q = b->req;
    uint16_t crc = isa_crc16_modbus(q, REQ_LEN - 2u);
    bool ok = b->req_len == REQ_LEN && q[0] == BMS_ADDR && q[1] == 0x03u && q[2] == 0u && q[3] == 0u &&
              q[4] == 0u && q[5] == BMS_REGS && q[6] == (uint8_t)crc && q[7] == (uint8_t)(crc >> 8);
    b->req_len = 0;
    b->requests++;
    /* A new request makes the slave drop an answer it has not sent yet. */
    b->resp_len = 0;
    b->resp_ready_t = 0;
    if (!ok) {
        b->bad_requests++;
        return;
    }
    if (!b->silent) {
        answer(b, plant, t_ms);
    }
}

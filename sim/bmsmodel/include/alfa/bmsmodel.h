/* A simulated BMS: a Modbus RTU slave model driven by received bytes and a clock, with fault injection. */
#ifndef ALFA_BMSMODEL_H
#define ALFA_BMSMODEL_H

/*
 * The model knows nothing of serial ports or real time. The owner feeds it received bytes with
 * alfa_bmsm_rx() and asks with alfa_bmsm_tx() which answer bytes are due by a given time (in
 * microseconds, any origin); alfa_bmsm_next_us() says when something next happens. That makes
 * it usable on a pty in real time (alfaspark-bms-sim), in-process with a simulated clock
 * (tests, site simulator) and under a fuzzer alike.
 *
 * Timing it models: a request is complete t3.5 after its last byte (its bytes take their wire
 * time even when they arrive at once, as on a pty); the answer starts `turnaround_us` later;
 * answer byte k is handed out when it would have been fully received: start + (k+1) x char.
 *
 * Register image: ALFA_BMSM_REGS holding registers (also served to 0x04), 0..7 kept equal to
 * the default profile's encoding of the current values (fixed, or a script over time) unless
 * the owner writes them directly with alfa_bmsm_set_reg().
 *
 * Faults: each answer independently gets at most one fault, chosen by a deterministic PRNG
 * from `seed` with the per-kind rates, or forced by alfa_bmsm_force(). Every answer (or
 * deliberate silence) is logged as an alfa_bmsm_event_t so a test can check what the master
 * accepted against what was actually sent.
 */

#include <stddef.h>
#include <stdint.h>

#define ALFA_BMSM_REGS 128u

typedef enum alfa_bmsm_fault {
    ALFA_BMSM_GOOD = 0,        /* a correct answer */
    ALFA_BMSM_NO_ANSWER = 1,   /* silence */
    ALFA_BMSM_LATE = 2,        /* a correct answer, `late_us` after it was due */
    ALFA_BMSM_CRC = 3,         /* one bit flipped somewhere in the frame (CRC no longer matches) */
    ALFA_BMSM_TRUNCATED = 4,   /* only the first 1..n-1 bytes */
    ALFA_BMSM_WRONG_ADDRESS = 5, /* a well-formed answer from another address */
    ALFA_BMSM_EXCEPTION = 6,   /* an exception response with `exception_code` */
    ALFA_BMSM_NOISE = 7,       /* 1..3 stray bytes, then a correct answer (a master must cope) */
    ALFA_BMSM_FAULT_COUNT
} alfa_bmsm_fault_t;

/* Short name ("good", "no_answer", "late", "crc", "truncated", "wrong_address", "exception",
 * "noise"), or "?" */
const char *alfa_bmsm_fault_name(int fault);
/* Parse such a name; -1 if unknown. */
int alfa_bmsm_fault_parse(const char *name);

/* The physical values the default profile encodes (SPEC.md §5.1 units). */
typedef struct alfa_bmsm_values {
    uint32_t v_pack_mv;
    int32_t i_batt_ma;   /* + = charging */
    uint8_t soc_pct;
    uint16_t alarms;
    uint16_t warnings;
    int16_t temp_max_dc; /* 0.1 degC */
    uint16_t cell_min_mv;
    uint16_t cell_max_mv;
} alfa_bmsm_values_t;

/* A scripted profile point: at t_ms after the script began the values are `v`. Between points
 * voltage, current, SOC, temperature and cells move linearly; alarm and warning bits keep the
 * earlier point's. After the last point its values hold. */
typedef struct alfa_bmsm_point {
    uint32_t t_ms;
    alfa_bmsm_values_t v;
} alfa_bmsm_point_t;

typedef struct alfa_bmsm_config {
    uint8_t address;          /* 1..247 */
    uint32_t baud;            /* paces the answer: 9600 */
    uint8_t bits_per_char;    /* 10 (8N1) or 11 (8E1/8O1/8N2) */
    uint32_t turnaround_us;   /* processing time between request end (+t3.5) and answer */
    uint32_t late_us;         /* extra delay of a LATE answer */
    uint8_t exception_code;   /* of injected exceptions: 4 (slave device failure) by default */
    uint32_t seed;            /* PRNG seed: same seed, same faults */
    uint32_t rate_ppm[ALFA_BMSM_FAULT_COUNT]; /* per answer, parts per million (GOOD ignored) */
} alfa_bmsm_config_t;

/* 9600 8N1, address 1, 2 ms turnaround, 300 ms late, exception 4, seed 1, no faults. */
void alfa_bmsm_config_default(alfa_bmsm_config_t *cfg);

/* One answer decision (what went on the wire for one request). */
typedef struct alfa_bmsm_event {
    uint32_t seq;          /* 1, 2, ... */
    uint8_t fault;         /* alfa_bmsm_fault_t actually applied */
    uint8_t function;
    uint8_t exception;     /* exception code sent, 0 if none */
    uint16_t start;
    uint16_t count;
    uint64_t request_end_us;
    alfa_bmsm_values_t values; /* the values registers 0..7 encoded for this answer */
} alfa_bmsm_event_t;

#define ALFA_BMSM_EVENTS 16u

typedef struct alfa_bmsm {
    alfa_bmsm_config_t cfg;
    uint32_t char_us;
    uint32_t t35_us;
    uint64_t rng;
    uint16_t regs[ALFA_BMSM_REGS];
    uint8_t raw_regs;               /* owner wrote registers directly: values not re-encoded */
    alfa_bmsm_values_t values;
    const alfa_bmsm_point_t *script;
    size_t script_len;
    uint64_t script_t0_us;
    uint8_t forced_fault;
    uint32_t forced_left;
    /* request being received */
    uint8_t rx[256];
    uint16_t rx_len;
    uint64_t rx_first_us;
    uint64_t rx_last_us;
    /* answer being sent */
    uint8_t tx[264];
    uint16_t tx_len;
    uint16_t tx_off;
    uint64_t tx_start_us;
    /* log */
    alfa_bmsm_event_t events[ALFA_BMSM_EVENTS];
    uint32_t ev_head;
    uint32_t ev_count;
    uint32_t seq;
    uint32_t dropped_bytes;         /* received while answering (half duplex) or overflow */
    uint32_t ignored_frames;        /* bad CRC, other address, too short */
} alfa_bmsm_t;

/* Initialise with fixed values `v` (NULL: a healthy 52.0 V pack at rest). 0 or -1 for a bad
 * config (address, baud, bits_per_char). */
int alfa_bmsm_init(alfa_bmsm_t *m, const alfa_bmsm_config_t *cfg, const alfa_bmsm_values_t *v);

/* Serve fixed values from now on. */
void alfa_bmsm_set_values(alfa_bmsm_t *m, const alfa_bmsm_values_t *v);
/* Serve a script (points sorted by t_ms; the array is the owner's and must outlive its use);
 * its time 0 is `t0_us`. NULL/0 returns to fixed values. */
void alfa_bmsm_set_script(alfa_bmsm_t *m, const alfa_bmsm_point_t *points, size_t n, uint64_t t0_us);
/* Values the script or fixed setting gives at `now_us`. */
alfa_bmsm_values_t alfa_bmsm_values_at(const alfa_bmsm_t *m, uint64_t now_us);
/* Write one register directly (then registers are served as written). -1 if out of the image. */
int alfa_bmsm_set_reg(alfa_bmsm_t *m, uint16_t reg, uint16_t value);
/* The default profile's register encoding of `v` into regs[0..7]. */
void alfa_bmsm_encode(const alfa_bmsm_values_t *v, uint16_t regs[8]);

/* Force `fault` on the next `n` answers (overrides the random rates). */
void alfa_bmsm_force(alfa_bmsm_t *m, alfa_bmsm_fault_t fault, uint32_t n);

/* Bytes received from the line at `now_us`. */
void alfa_bmsm_rx(alfa_bmsm_t *m, const uint8_t *data, size_t n, uint64_t now_us);
/* Advance to `now_us` (handles a finished request) and copy into out[0..cap) the answer bytes
 * due by then; returns their count. */
size_t alfa_bmsm_tx(alfa_bmsm_t *m, uint64_t now_us, uint8_t *out, size_t cap);
/* One character's time on the line at the configured baud and framing, us. */
uint32_t alfa_bmsm_char_us(const alfa_bmsm_t *m);
/* When alfa_bmsm_tx() next has something to do, or UINT64_MAX. */
uint64_t alfa_bmsm_next_us(const alfa_bmsm_t *m);
/* Take the oldest logged answer decision: 1 if one was copied, 0 if none. */
int alfa_bmsm_take_event(alfa_bmsm_t *m, alfa_bmsm_event_t *ev);

#endif

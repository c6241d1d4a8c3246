/* Soak: 10,000 BMS polls against the BMS model with 10 % defective answers of every kind, in simulated time, checked against what was sent. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <cmocka.h>

#include "alfa/err.h"
#include "link.h"

#define POLLS 10000

/* Values that change every poll, so a stale or mixed-up answer cannot pass for a fresh one. */
static alfa_bmsm_point_t script[2];

static void make_script(void)
{
    script[0].t_ms = 0;
    script[0].v = (alfa_bmsm_values_t){46400, -150000, 0, 0, 0, -100, 2900, 2950};
    script[1].t_ms = POLLS * 2000u + 100000u;
    script[1].v = (alfa_bmsm_values_t){62400, 150000, 100, 0, 0, 600, 3850, 3900};
}

typedef struct tally {
    unsigned polls, answers, defective, good_answers, accepted, wrong_values, good_refused;
    unsigned comm_lost_raised, comm_lost_wrong, exception_failed, by_kind[ALFA_BMSM_FAULT_COUNT];
    unsigned clock_events;     /* comm lost declared by the clock while a poll still ran */
    uint32_t last_good_ms;     /* when the last good reading finished (start: the poller's init) */
    int lost;                  /* comm lost as last reported */
} tally_t;

/* Does `r` equal what the model encoded in `v` (through the same register encoding)? */
static int same_values(const alfa_bms_reading_t *r, const alfa_bmsm_values_t *v)
{
    uint16_t regs[8];
    alfa_bmsm_encode(v, regs);
    alfa_bms_reading_t want;
    if (alfa_bms_decode(alfa_bms_profile_find("default"), regs, 8, &want) != ALFA_OK) {
        return 0;
    }
    return memcmp(r, &want, sizeof(want)) == 0;
}

/* Comm lost exactly when no good reading came for 10 s (SPEC §5.1: 5 polls x 2 s), whatever
 * the polls' own timing: at a poll's end, or by the clock while a slow poll still runs. */
static void check_lost(tally_t *t, const link_t *l, const alfa_bms_result_t *r)
{
    uint32_t now_ms = (uint32_t)(l->now_us / 1000u);
    int want = r->err != ALFA_OK && now_ms - t->last_good_ms >= 10000u;
    if (r->comm_lost != want) {
        t->comm_lost_wrong++;
    }
    if (r->comm_lost && !t->lost) {
        t->comm_lost_raised++;
        if (now_ms - t->last_good_ms > 10001u) {
            t->comm_lost_wrong++; /* late */
        }
    }
    t->lost = r->comm_lost;
}

static void check_poll(tally_t *t, link_t *l, const alfa_bms_result_t *r, unsigned *in_row)
{
    if (!r->finished) {
        t->clock_events++;
        check_lost(t, l, r);
        return;
    }
    alfa_bmsm_event_t ev[ALFA_BMSM_EVENTS];
    int n = 0;
    while (n < (int)ALFA_BMSM_EVENTS && alfa_bmsm_take_event(&l->model, &ev[n])) {
        n++;
    }
    int good_sent = 0, match = 0;
    for (int i = 0; i < n; i++) {
        t->answers++;
        t->by_kind[ev[i].fault]++;
        if (ev[i].fault != ALFA_BMSM_GOOD) {
            t->defective++;
        }
        /* an answer with the right frame on the line: good ones and good-after-noise */
        if (ev[i].fault == ALFA_BMSM_GOOD || ev[i].fault == ALFA_BMSM_NOISE) {
            good_sent = 1;
            t->good_answers++;
        }
        if ((ev[i].fault == ALFA_BMSM_GOOD || ev[i].fault == ALFA_BMSM_NOISE || ev[i].fault == ALFA_BMSM_LATE) &&
            r->err == ALFA_OK && same_values(&r->reading, &ev[i].values)) {
            match = 1;
        }
    }
    t->polls++;
    if (r->err == ALFA_OK) {
        t->accepted++;
        if (!match) {
            t->wrong_values++;
        }
        *in_row = 0;
    } else {
        if (good_sent) {
            t->good_refused++;
        }
        if (r->status == ALFA_MB_EXCEPTION) {
            t->exception_failed++;
        }
        (*in_row)++;
    }
    if (r->failures_in_row != *in_row) {
        t->comm_lost_wrong++;
    }
    check_lost(t, l, r);
    if (r->err == ALFA_OK) {
        t->last_good_ms = (uint32_t)(l->now_us / 1000u);
    }
}

static void report(const char *name, const tally_t *t)
{
    printf("soak %s: polls=%u answers=%u defective=%u (%.1f%%) accepted=%u wrong_values=%u good_refused=%u "
           "comm_lost_raised=%u comm_lost_wrong=%u kinds:",
           name, t->polls, t->answers, t->defective, 100.0 * t->defective / (t->answers ? t->answers : 1),
           t->accepted, t->wrong_values, t->good_refused, t->comm_lost_raised, t->comm_lost_wrong);
    for (int k = 0; k < (int)ALFA_BMSM_FAULT_COUNT; k++) {
        printf(" %s=%u", alfa_bmsm_fault_name(k), t->by_kind[k]);
    }
    printf("\n");
}

/* One attempt per poll (retries 0) and defects in bursts of 1..8 answers: every failed poll is
 * visible, and runs of 5+ failures happen, so the comm-lost rule is exercised both ways. */
static void soak_bursts_one_attempt(void **state)
{
    (void)state;
    make_script();
    link_t l;
    link_init(&l, NULL, NULL);
    alfa_bmsm_set_script(&l.model, script, 2, l.now_us);
    alfa_bms_config_t bc;
    alfa_bms_config_default(&bc);
    bc.modbus.retries = 0;
    alfa_bms_t bms;
    assert_int_equal(alfa_bms_init(&bms, &l.port, &bc, link_now_ms(&l)), ALFA_OK);
    uint32_t rng = 20261123u;
    const alfa_bmsm_fault_t kinds[] = {ALFA_BMSM_NO_ANSWER, ALFA_BMSM_LATE, ALFA_BMSM_CRC, ALFA_BMSM_TRUNCATED,
                                       ALFA_BMSM_WRONG_ADDRESS, ALFA_BMSM_EXCEPTION, ALFA_BMSM_NOISE};
    tally_t t;
    memset(&t, 0, sizeof(t));
    unsigned in_row = 0, burst_left = 0;
    t.last_good_ms = link_now_ms(&l);
    while (t.polls < POLLS) {
        if (burst_left == 0) {
            rng = rng * 1664525u + 1013904223u;
            /* P(start) x mean burst 4.5 ~ 0.1 / 0.9 defective share */
            if ((rng >> 8) % 10000u < 247u) {
                rng = rng * 1664525u + 1013904223u;
                burst_left = 1 + (rng >> 8) % 8u;
                rng = rng * 1664525u + 1013904223u;
                alfa_bmsm_force(&l.model, kinds[(rng >> 8) % 7u], burst_left);
            }
        }
        if (burst_left > 0) {
            burst_left--;
        }
        alfa_bms_result_t r;
        assert_int_equal(link_run_event(&l, &bms, &r, 10000, 1), 1);
        check_poll(&t, &l, &r, &in_row);
    }
    report("bursts/retries=0", &t);
    assert_int_equal(t.polls, POLLS);
    assert_int_equal(t.wrong_values, 0);
    assert_int_equal(t.good_refused, 0);
    assert_int_equal(t.comm_lost_wrong, 0);
    assert_true(t.comm_lost_raised > 0);
    double share = (double)t.defective / t.answers;
    assert_true(share > 0.08 && share < 0.12);
    for (int k = 1; k < (int)ALFA_BMSM_FAULT_COUNT; k++) {
        assert_true(t.by_kind[k] > 0);
    }
    /* every good answer was accepted and only those (plus late answers the timeout had grown to) */
    assert_true(t.accepted >= t.good_answers);
}

/* The firmware's configuration (3 retries) with independent 10 % defects of every kind. */
static void soak_random_with_retries(void **state)
{
    (void)state;
    make_script();
    alfa_bmsm_config_t mc;
    alfa_bmsm_config_default(&mc);
    mc.seed = 4242;
    const uint32_t per_kind[ALFA_BMSM_FAULT_COUNT] = {0, 15000, 10000, 25000, 15000, 15000, 10000, 10000};
    memcpy(mc.rate_ppm, per_kind, sizeof(per_kind));
    link_t l;
    link_init(&l, &mc, NULL);
    alfa_bmsm_set_script(&l.model, script, 2, l.now_us);
    alfa_bms_config_t bc;
    alfa_bms_config_default(&bc);
    alfa_bms_t bms;
    assert_int_equal(alfa_bms_init(&bms, &l.port, &bc, link_now_ms(&l)), ALFA_OK);
    tally_t t;
    memset(&t, 0, sizeof(t));
    unsigned in_row = 0;
    t.last_good_ms = link_now_ms(&l);
    while (t.polls < POLLS) {
        alfa_bms_result_t r;
        assert_int_equal(link_run_event(&l, &bms, &r, 10000, 1), 1);
        check_poll(&t, &l, &r, &in_row);
    }
    report("random/retries=3", &t);
    assert_int_equal(t.wrong_values, 0);
    assert_int_equal(t.good_refused, 0);
    assert_int_equal(t.comm_lost_wrong, 0);
    double share = (double)t.defective / t.answers;
    assert_true(share > 0.08 && share < 0.12);
    /* with retries a 10 % defect rate costs (almost) no polls; exceptions are definite answers
     * (code 4, slave device failure) and are not retried */
    assert_true(t.exception_failed > 0);
    assert_true(t.accepted + t.exception_failed >= POLLS - 5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(soak_bursts_one_attempt),
        cmocka_unit_test(soak_random_with_retries),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* The pack's bounded receive state frame by frame: blocks written incomplete and repaired on flash, lone chunks, units equal to the erased value, a full table, a reboot in the middle of repairs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "alfa/otasite.h"
#include "fwu_keys.h"
#include "fwu_wire.h"

/*
 * Six 4-KiB blocks (the last one partial) on ESP32-like slots (4-KiB sectors, 16-byte programs).
 * Every block but block 2 holds four units whose bytes all equal the erased value ("blank" units
 * 100..103, chunks 200..207 of the block); block 2 holds 30 blank units apart from each other
 * (units 100, 102, .. 158: each needs a note of its own); every other unit has non-blank bytes. A test plays the gateway:
 * it streams blocks, drops chosen chunks, polls and repairs, and checks what the pack asks for,
 * what it writes, and that no flash rule is ever broken.
 */

#define PAYLOAD (5u * 4096u + 2000u)
#define NCHUNKS ((PAYLOAD + 7u) / 8u)
#define LAST_BLOCK ((NCHUNKS - 1u) / ALFA_FWU_BLOCK_CHUNKS)
#define BLANK_FIRST 200u /* first chunk of the blank units, within a block */
#define BLANK_CHUNKS 8u
#define SPARSE_BLOCK 2u
#define SPARSE_UNITS 30u

static fwu_keys_t g_keys;
static uint8_t g_factory[128 + 1024], g_img[128 + PAYLOAD];
static fwu_tap_t g_tap;

static uint32_t chunk_of(uint32_t block, uint32_t c) { return block * ALFA_FWU_BLOCK_CHUNKS + c; }

static ota_site_t *one_pack(void)
{
    ota_site_t *s = fwu_wire_pack((alfa_slot_geom_t){64u * 1024u, 4096u, 16u, 0xFFu}, (const uint8_t(*)[65])g_keys.pub,
                                  g_factory, sizeof(g_factory), &g_tap);
    assert_non_null(s);
    return s;
}

static const alfa_fwu_t *fwu(ota_site_t *s) { return fwu_wire_fwu(s); }
static uint32_t session(void) { return alfa_fwimg_session_id(g_img); }
static const alfa_flash_sim_t *flash(ota_site_t *s) { return &ota_site_slots(s, 0)->flash; }

static void begin(ota_site_t *s)
{
    assert_int_equal(fwu_wire_ctrl(s, ALFA_NODE_LINUX_GATEWAY, fwu_wire_node(s), ALFA_FWU_OP_BEGIN, session(), 0, 0, 0), 0);
}

/* A POLL of blocks first..last; the NACKs seen are only its answer. */
static void poll(ota_site_t *s, uint16_t first, uint16_t last)
{
    fwu_tap_clear_nacks(&g_tap);
    assert_int_equal(fwu_wire_ctrl(s, ALFA_NODE_LINUX_GATEWAY, ALFA_NODE_BROADCAST, ALFA_FWU_OP_POLL, session(), 0, first, last), 0);
    ota_site_run_ms(s, 50);
}

static void chunk(ota_site_t *s, uint32_t c)
{
    uint8_t d[8];
    alfa_can_frame_t f;
    fwu_wire_chunk(g_img, PAYLOAD, c, d);
    assert_int_equal(alfa_fwu_data_encode(ALFA_NODE_LINUX_GATEWAY, c, d, &f), 0);
    assert_int_equal(fwu_wire_send(s, &f), 0);
}

static void stream(ota_site_t *s, uint32_t from, uint32_t to, int (*drop)(uint32_t))
{
    assert_int_equal(fwu_wire_chunks(s, g_img, PAYLOAD, from, to, drop, 0), 0);
}

/* The answer to the last POLL named exactly these chunks. */
static void nacked_exactly(const uint32_t *c, uint32_t n)
{
    assert_int_equal(g_tap.nacked, n);
    for (uint32_t k = 0; k < n; k++) {
        assert_true(fwu_tap_was_nacked(&g_tap, c[k]));
    }
}

/* The rest, in two rounds as the sender would: what the pack has is a duplicate; what it could
 * not note behind the window the second round brings to the (then free) window. */
static void finish(ota_site_t *s)
{
    stream(s, 0, NCHUNKS, NULL);
    ota_site_run_ms(s, 2000);
    if (alfa_fwu_state(fwu(s)) == ALFA_FWU_ST_RECEIVING) {
        stream(s, 0, NCHUNKS, NULL);
    }
    ota_site_run_ms(s, 500);
    assert_int_equal(alfa_fwu_state(fwu(s)), ALFA_FWU_ST_READY);
    assert_int_equal(flash(s)->rule_breaks, 0);
}

static int setup(void **state)
{
    (void)state;
    uint8_t p[PAYLOAD];
    if (fwu_keys_make(&g_keys) != 0) return -1;
    fwu_payload(p, 1024, 9);
    if (fwu_image(&g_keys.key, 2, 5, 0, 1, 1, p, 1024, g_factory) != 0) return -1;
    uint32_t x = 12345u;
    for (uint32_t i = 0; i < PAYLOAD; i++) {
        x ^= x << 13; x ^= x >> 17; x ^= x << 5;
        uint32_t in_block = i % ALFA_FWU_BLOCK_BYTES, unit = in_block / 16u;
        int blank_unit = i / ALFA_FWU_BLOCK_BYTES == SPARSE_BLOCK
                             ? unit >= 100u && unit < 100u + 2u * SPARSE_UNITS && unit % 2u == 0u
                             : in_block >= BLANK_FIRST * 8u && in_block < (BLANK_FIRST + BLANK_CHUNKS) * 8u;
        p[i] = blank_unit ? 0xFFu : (uint8_t)((x & 0x7Fu) | (i % 16u == 0u ? 0u : 0x80u)); /* no other unit is blank */
    }
    return fwu_image(&g_keys.key, 2, 6, 0, 1, 1, p, PAYLOAD, g_img);
}

static int teardown(void **state)
{
    (void)state;
    fwu_keys_drop(&g_keys);
    return 0;
}

static int drop_test1(uint32_t c) { return c == 10u || c == 11u || c == 21u || c == 600u; }

/* Block 0 loses a whole unit (chunks 10, 11) and half of another (21), block 1 half of a unit
 * (600): the stream's moves write them incomplete. The pack keeps the lone chunks (20 moves to
 * the halves table when block 1 becomes the block written last; 601 waits in the window's slot)
 * and asks for exactly the four lost chunks; their repairs are written straight to flash, one
 * program per unit, through both paths (an older block, the block written last). */
static void test_block_written_incomplete_then_repaired(void **state)
{
    (void)state;
    ota_site_t *s = one_pack();
    begin(s);
    assert_int_equal(fwu_wire_manifest(s, g_img), 0);
    assert_int_equal(alfa_fwu_state(fwu(s)), ALFA_FWU_ST_RECEIVING);
    stream(s, 0, chunk_of(2, 1), drop_test1); /* blocks 0 and 1, and the first chunk of block 2 */
    /* on flash: blocks 0, 1 but units 5, 10, 300; chunks 20, 601 and 1024 are held in RAM */
    assert_int_equal(alfa_fwu_missing_chunks(fwu(s)), NCHUNKS - 1018u - 3u);
    poll(s, 0, 1);
    const uint32_t lost[] = {10, 11, 21, 600};
    nacked_exactly(lost, 4);
    ota_site_run_ms(s, 100);
    uint64_t progs = flash(s)->progs;
    chunk(s, 10);
    chunk(s, 11);
    chunk(s, 21);
    chunk(s, 600);
    ota_site_run_ms(s, 50);
    assert_int_equal(flash(s)->progs - progs, 3); /* units 5, 10, 300: one program each */
    assert_int_equal(alfa_fwu_missing_chunks(fwu(s)), NCHUNKS - 1024u - 1u);
    uint8_t got[48], want[48];
    const uint32_t units[3] = {5, 10, 300};
    for (uint32_t k = 0; k < 3; k++) {
        assert_int_equal(alfa_slot_sim_read(ota_site_slots(s, 0), ALFA_SLOT_UPDATE, units[k] * 16u, got + 16u * k, 16), 0);
        memcpy(want + 16u * k, g_img + 128u + units[k] * 16u, 16);
    }
    assert_memory_equal(got, want, 48);
    poll(s, 0, 1);
    assert_int_equal(g_tap.nacked, 0);
    finish(s);
    ota_site_free(s);
}

static int drop_lone(uint32_t c) { return c == 21u; }

/* The lone chunk 20 of block 0 waits in the window's slot 20; block 1's own chunk 20 (532)
 * arrives before the repair and needs the slot: chunk 20 moves to the halves table, and the
 * repair of 21 still completes the unit (only 21 is asked for). */
static void test_lone_chunk_moves_when_its_slot_is_needed(void **state)
{
    (void)state;
    ota_site_t *s = one_pack();
    begin(s);
    assert_int_equal(fwu_wire_manifest(s, g_img), 0);
    stream(s, 0, chunk_of(1, 100), drop_lone);
    poll(s, 0, 0);
    const uint32_t lost[] = {21};
    nacked_exactly(lost, 1);
    ota_site_run_ms(s, 100);
    uint64_t progs = flash(s)->progs;
    chunk(s, 21);
    ota_site_run_ms(s, 20);
    assert_int_equal(flash(s)->progs - progs, 1);
    poll(s, 0, 0);
    assert_int_equal(g_tap.nacked, 0);
    assert_int_equal(alfa_fwu_missing_chunks(fwu(s)), NCHUNKS - 512u - 100u);
    finish(s);
    ota_site_free(s);
}

static int drop_test2(uint32_t c) { return c == BLANK_FIRST || c == 30u; }

/* A blank unit (its bytes all the erased value) is received as a repair in a block written
 * incomplete: it is never programmed, and never asked for again. */
static void test_blank_unit_repaired_in_incomplete_block(void **state)
{
    (void)state;
    ota_site_t *s = one_pack();
    begin(s);
    assert_int_equal(fwu_wire_manifest(s, g_img), 0);
    stream(s, 0, chunk_of(1, 1), drop_test2);
    poll(s, 0, 0);
    const uint32_t lost[] = {30, BLANK_FIRST};
    nacked_exactly(lost, 2); /* the other blank units came whole: noted, not asked for */
    ota_site_run_ms(s, 100);
    uint64_t progs = flash(s)->progs;
    chunk(s, BLANK_FIRST); /* completes blank unit 100 with chunk 201, held since the block was written */
    ota_site_run_ms(s, 20);
    assert_int_equal(flash(s)->progs, progs); /* nothing to program */
    poll(s, 0, 0);
    const uint32_t still[] = {30};
    nacked_exactly(still, 1);
    assert_int_equal(alfa_fwu_missing_chunks(fwu(s)), NCHUNKS - 512u - 1u + 1u);
    chunk(s, 30);
    ota_site_run_ms(s, 20);
    assert_int_equal(flash(s)->progs - progs, 1);
    poll(s, 0, 0);
    assert_int_equal(g_tap.nacked, 0);
    assert_int_equal(alfa_fwu_missing_chunks(fwu(s)), NCHUNKS - 512u - 1u);
    finish(s);
    ota_site_free(s);
}

static int drop_test3(uint32_t c) { return c < chunk_of(3, 0) && (c % ALFA_FWU_BLOCK_CHUNKS == 30u || c % ALFA_FWU_BLOCK_CHUNKS == 31u); }

static uint32_t sparse_chunk(uint32_t k) { return chunk_of(SPARSE_BLOCK, 2u * (100u + 2u * k)); } /* first chunk of blank unit k */

/* Blocks 0, 1 and 2 are each written incomplete (unit 15 lost) with their blank units: block 0's
 * and block 1's runs are noted, then block 2's 30 separate blank units find room for only 20
 * notes (ALFA_FWU_BLANKS runs in all): the other 10 are dropped and asked for again. Repaired
 * while the window holds another block they still find no room; once the window is free it
 * takes block 2 whole from flash and the repairs complete it without any note. */
static void test_full_table_falls_back_to_the_window(void **state)
{
    (void)state;
    ota_site_t *s = one_pack();
    begin(s);
    assert_int_equal(fwu_wire_manifest(s, g_img), 0);
    uint32_t dropped = alfa_fwu_stats(fwu(s))->chunks_dropped;
    uint32_t noted = ALFA_FWU_BLANKS - 2u, left = SPARSE_UNITS - noted;
    stream(s, 0, chunk_of(4, 0), drop_test3); /* blocks 0..3; block 3 complete and written */
    assert_int_equal(alfa_fwu_stats(fwu(s))->chunks_dropped - dropped, 2u * left);
    assert_int_equal(alfa_fwu_missing_chunks(fwu(s)), NCHUNKS - (4u * 512u - 6u - 2u * left));
    poll(s, 0, 2);
    uint32_t lost[6 + 2u * SPARSE_UNITS] = {30, 31, chunk_of(1, 30), chunk_of(1, 31), chunk_of(2, 30), chunk_of(2, 31)};
    for (uint32_t k = 0; k < left; k++) {
        lost[6 + 2u * k] = sparse_chunk(noted + k);
        lost[7 + 2u * k] = sparse_chunk(noted + k) + 1u;
    }
    nacked_exactly(lost, 6 + 2u * left);
    chunk(s, chunk_of(4, 0)); /* the window goes to block 4 */
    for (uint32_t k = 0; k < 2u * left; k++) {
        chunk(s, lost[6 + k]); /* block 2's blank units again: still no room to note them */
    }
    ota_site_run_ms(s, 20);
    poll(s, 2, 2);
    nacked_exactly(lost + 4, 2 + 2u * left);
    ota_site_run_ms(s, 2000); /* the idle window is written: free */
    for (uint32_t k = 4; k < 6 + 2u * left; k++) {
        chunk(s, lost[k]); /* the window takes block 2 from flash */
    }
    ota_site_run_ms(s, 20);
    poll(s, 0, 2);
    nacked_exactly(lost, 4); /* block 2 is complete */
    finish(s);
    ota_site_free(s);
}

static int drop_reopen(uint32_t c) { return c == 21u; }

/* The stream pauses after block 0 (chunk 21 lost): the idle window is written, chunk 20 stays
 * alone in its slot. Block 1 then comes whole (its chunk 20 moves chunk 20 of block 0 to the
 * halves table; its bytes fill the window) and is written complete. A late duplicate of block 0
 * reopens the window on it: the bytes of its units on flash are read back and the held chunk
 * joins, so the parity of group 1 rebuilds chunk 21 from 14 chunks read back and chunk 20, and
 * unit 10 is programmed with the image's bytes. */
static void test_window_reopens_the_block_written_last(void **state)
{
    (void)state;
    ota_site_t *s = one_pack();
    assert_int_equal(fwu_wire_ctrl(s, ALFA_NODE_LINUX_GATEWAY, fwu_wire_node(s), ALFA_FWU_OP_BEGIN, session(),
                                   ALFA_FWU_BEGIN_FEC, 0, 0), 0);
    assert_int_equal(fwu_wire_manifest(s, g_img), 0);
    stream(s, 0, chunk_of(1, 0), drop_reopen);
    ota_site_run_ms(s, 2000); /* the idle window is written: block 0 is the block written last */
    poll(s, 0, 0);
    const uint32_t lost[] = {21};
    nacked_exactly(lost, 1);
    stream(s, chunk_of(1, 0), chunk_of(2, 0), NULL); /* block 1 whole: written, done */
    chunk(s, 0); /* a duplicate: the free window takes block 0 again */
    uint8_t x[8] = {0}, d[8];
    for (uint32_t c = 16; c < 32; c++) {
        fwu_wire_chunk(g_img, PAYLOAD, c, d);
        for (int j = 0; j < 8; j++) x[j] ^= d[j];
    }
    alfa_can_frame_t f;
    assert_int_equal(alfa_fwu_parity_encode(ALFA_NODE_LINUX_GATEWAY, 1, x, &f), 0);
    assert_int_equal(fwu_wire_send(s, &f), 0);
    ota_site_run_ms(s, 20);
    assert_int_equal(alfa_fwu_stats(fwu(s))->fec_recovered, 1);
    uint8_t got[16];
    assert_int_equal(alfa_slot_sim_read(ota_site_slots(s, 0), ALFA_SLOT_UPDATE, 10u * 16u, got, 16), 0);
    assert_memory_equal(got, g_img + 128u + 10u * 16u, 16);
    poll(s, 0, 0);
    assert_int_equal(g_tap.nacked, 0);
    finish(s);
    ota_site_free(s);
}

static int drop_test4(uint32_t c) { return c == 10u || c == 11u || c == 40u || c == 41u; }

static void reboot(ota_site_t *s)
{
    ota_site_power(s, 0, 0);
    ota_site_run_ms(s, 500);
    ota_site_power(s, 0, 1);
    for (int k = 0; k < 100 && (ota_site_pack(s, 0) == NULL || fwu_wire_node(s) == 0u); k++) {
        ota_site_run_ms(s, 100);
    }
    ota_site_run_ms(s, 3000);
}

/* Power fails after one of two lost units of block 0 was repaired on flash. After the restart
 * the pack reads its slot: it knows the repaired unit, asks for the other one and (the RAM note
 * is gone) for the blank units; a gateway that sends block 0 again gets no unit programmed twice. */
static void test_resume_after_reboot_mid_repair(void **state)
{
    (void)state;
    ota_site_t *s = one_pack();
    begin(s);
    assert_int_equal(fwu_wire_manifest(s, g_img), 0);
    stream(s, 0, chunk_of(1, 1), drop_test4);
    chunk(s, 10);
    chunk(s, 11); /* unit 5 repaired on flash, unit 20 still missing */
    ota_site_run_ms(s, 20);
    reboot(s);
    begin(s);
    ota_site_run_ms(s, 100);
    assert_int_equal(alfa_fwu_state(fwu(s)), ALFA_FWU_ST_RECEIVING);
    assert_int_equal(alfa_fwu_stats(fwu(s))->resumed_units, 256u - 1u - 4u);
    assert_int_equal(alfa_fwu_missing_chunks(fwu(s)), NCHUNKS - 2u * (256u - 1u - 4u));
    poll(s, 0, 0);
    const uint32_t lost[] = {40, 41, BLANK_FIRST, BLANK_FIRST + 1u, BLANK_FIRST + 2u, BLANK_FIRST + 3u,
                             BLANK_FIRST + 4u, BLANK_FIRST + 5u, BLANK_FIRST + 6u, BLANK_FIRST + 7u};
    nacked_exactly(lost, 10);
    chunk(s, chunk_of(1, 0)); /* the window holds block 1: block 0 is repaired on flash */
    ota_site_run_ms(s, 100);
    uint64_t progs = flash(s)->progs;
    stream(s, 0, chunk_of(1, 0), NULL);
    assert_int_equal(flash(s)->progs - progs, 1); /* unit 20 only */
    assert_int_equal(flash(s)->rule_breaks, 0);
    assert_int_equal(alfa_fwu_state(fwu(s)), ALFA_FWU_ST_RECEIVING);
    finish(s);
    ota_site_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_block_written_incomplete_then_repaired),
        cmocka_unit_test(test_lone_chunk_moves_when_its_slot_is_needed),
        cmocka_unit_test(test_window_reopens_the_block_written_last),
        cmocka_unit_test(test_blank_unit_repaired_in_incomplete_block),
        cmocka_unit_test(test_full_table_falls_back_to_the_window),
        cmocka_unit_test(test_resume_after_reboot_mid_repair),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

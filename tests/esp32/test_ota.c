/* Tests of the ESP32 slot port's logic on a model of ESP-IDF's OTA calls (handles, bounds, states, errors, the rolling-back restart) and of its mbedTLS signature check. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "alfa/esp32/fw_verify.h"
#include "alfa/esp32/ota.h"
#include "fwsign.h"
#include "idf_ota_model.h"

static idf_model_t g_m;

/* A board flashed over serial with an ESP-IDF-like image in ota_0, booted once. */
static void board(idf_model_t *m, alfa_esp32_ota_t *o)
{
    uint8_t img[64];
    memset(img, 0x3C, sizeof img);
    img[0] = 0xE9u;
    idf_model_init(m, img, sizeof img);
    assert_int_equal(idf_model_boot(m), 0);
    assert_int_equal(idf_model_port(m, o), ALFA_PORT_OK);
}

static void errors_and_states_map_as_esp_idf_says(void **state)
{
    (void)state;
    assert_int_equal(alfa_esp32_ota_err(ALFA_ESP32_ESP_OK), ALFA_PORT_OK);
    assert_int_equal(alfa_esp32_ota_err(ALFA_ESP32_ERR_OTA_ROLLBACK_INVALID_STATE), ALFA_PORT_E_STATE);
    assert_int_equal(alfa_esp32_ota_err(ALFA_ESP32_ERR_INVALID_SIZE), ALFA_PORT_E_RANGE);
    assert_int_equal(alfa_esp32_ota_err(ALFA_ESP32_ERR_OTA_VALIDATE_FAILED), ALFA_PORT_E_IO);
    assert_int_equal(alfa_esp32_ota_err(ALFA_ESP32_ERR_FLASH_OP_FAIL), ALFA_PORT_E_IO);
    assert_int_equal(alfa_esp32_ota_err(ALFA_ESP32_ESP_FAIL), ALFA_PORT_E_IO);
    assert_int_equal(alfa_esp32_ota_err(ALFA_ESP32_ERR_NO_MEM), ALFA_PORT_E_IO);

    const struct {
        uint32_t img;
        alfa_slot_state_t want;
    } t[] = {
        {ALFA_ESP32_IMG_NEW, ALFA_SLOT_NEW},         {ALFA_ESP32_IMG_PENDING_VERIFY, ALFA_SLOT_PENDING},
        {ALFA_ESP32_IMG_VALID, ALFA_SLOT_VALID},     {ALFA_ESP32_IMG_INVALID, ALFA_SLOT_INVALID},
        {ALFA_ESP32_IMG_ABORTED, ALFA_SLOT_ABORTED}, {ALFA_ESP32_IMG_UNDEFINED, ALFA_SLOT_VALID},
        {7u, ALFA_SLOT_INVALID},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        assert_int_equal(alfa_esp32_ota_state_of(ALFA_ESP32_ESP_OK, t[i].img, ALFA_SLOT_UPDATE), t[i].want);
        assert_int_equal(alfa_esp32_ota_state_of(ALFA_ESP32_ESP_OK, t[i].img, ALFA_SLOT_RUNNING), t[i].want);
    }
    /* no otadata entry: the update slot holds nothing bootable; the running image is what runs */
    assert_int_equal(alfa_esp32_ota_state_of(ALFA_ESP32_ERR_NOT_FOUND, 0, ALFA_SLOT_UPDATE), ALFA_SLOT_EMPTY);
    assert_int_equal(alfa_esp32_ota_state_of(ALFA_ESP32_ERR_NOT_FOUND, 0, ALFA_SLOT_RUNNING), ALFA_SLOT_VALID);
    assert_int_equal(alfa_esp32_ota_state_of(ALFA_ESP32_ERR_INVALID_ARG, 1, ALFA_SLOT_UPDATE), ALFA_SLOT_EMPTY);
}

static void geometry_from_the_partitions(void **state)
{
    (void)state;
    alfa_slot_geom_t g;
    alfa_esp32_ota_parts_t p = {0x1E0000u, 0x1E0000u, 4096u, 4096u, 1, 1, 0, 0}; /* partitions.csv */
    assert_int_equal(alfa_esp32_ota_geom(&p, &g), ALFA_PORT_OK);
    assert_int_equal(g.slot_size, 0x1E0000u);
    assert_int_equal(g.sector_size, 4096);
    assert_int_equal(g.prog_size, 16);
    assert_int_equal(g.erased_value, 0xFF);
    alfa_esp32_ota_parts_t bad = p;
    bad.next_size = 0x100000u; /* slots of two sizes: the trailer would not be the last sector of both */
    assert_int_equal(alfa_esp32_ota_geom(&bad, &g), ALFA_PORT_E_RANGE);
    bad = p;
    bad.run_is_ota = 0; /* running from a factory app */
    assert_int_equal(alfa_esp32_ota_geom(&bad, &g), ALFA_PORT_E_RANGE);
    bad = p;
    bad.next_erase = 65536u;
    assert_int_equal(alfa_esp32_ota_geom(&bad, &g), ALFA_PORT_E_RANGE);
    bad = p;
    bad.run_size = bad.next_size = 4096u; /* no room for payload and trailer */
    assert_int_equal(alfa_esp32_ota_geom(&bad, &g), ALFA_PORT_E_RANGE);
    alfa_esp32_ota_t o;
    alfa_esp32_ota_ops_t partial = idf_model_ops;
    partial.rollback = NULL;
    assert_int_equal(alfa_esp32_ota_init(&o, &partial, &g_m, &idf_model_flash_ops, &g_m.part[0], &g_m.part[1], &p),
                     ALFA_PORT_E_RANGE);
    p.next_encrypted = p.run_encrypted = 1;
    assert_int_equal(alfa_esp32_ota_init(&o, &idf_model_ops, &g_m, &idf_model_flash_ops, &g_m.part[0], &g_m.part[1], &p),
                     ALFA_PORT_OK);
    assert_int_equal(o.part[ALFA_SLOT_RUNNING].encrypted, 1); /* raw-erased units read as erased */
    assert_int_equal(o.part[ALFA_SLOT_UPDATE].encrypted, 1);
}

/* esp_ota_write_with_offset asserts on a sequential-erase handle: begin must hand over another one. */
static void begin_takes_a_handle_that_writes_anywhere(void **state)
{
    (void)state;
    alfa_esp32_ota_t o;
    board(&g_m, &o);
    uint8_t d[32];
    memset(d, 0xA5, sizeof d);
    assert_int_equal(alfa_esp32_slot_write(&o, ALFA_SLOT_UPDATE, 0, d, 32), ALFA_PORT_E_STATE); /* no handle yet */
    assert_int_equal(g_m.writes, 0);
    assert_int_equal(alfa_esp32_slot_begin(&o, 0), ALFA_PORT_OK);
    assert_int_equal(g_m.begins, 1);
    assert_int_equal(idf_model_open_handles(&g_m), 1);
    assert_int_equal(alfa_esp32_slot_erase(&o, ALFA_SLOT_UPDATE, 2), ALFA_PORT_OK);
    assert_int_equal(alfa_esp32_slot_write(&o, ALFA_SLOT_UPDATE, 8192u + 4000u, d, 32), ALFA_PORT_OK); /* out of order */
    assert_int_equal(g_m.asserts, 0);
    assert_memory_equal(&g_m.flash[1][8192u + 4000u], d, 32);
    /* a second session: the first handle goes back to ESP-IDF, none leaks */
    assert_int_equal(alfa_esp32_slot_begin(&o, 0), ALFA_PORT_OK);
    assert_int_equal(alfa_esp32_slot_begin(&o, 1), ALFA_PORT_OK);
    assert_int_equal(idf_model_open_handles(&g_m), 1);
    assert_int_equal(o.errors, 0);
}

/* A trial image may not start an update: esp_ota_begin refuses, and resume (which does not look)
 * is refused by the port. */
static void no_update_while_the_running_image_is_on_trial(void **state)
{
    (void)state;
    alfa_esp32_ota_t o;
    board(&g_m, &o);
    g_m.otadata[0].state = ALFA_ESP32_IMG_PENDING_VERIFY;
    assert_int_equal(alfa_esp32_slot_state(&o, ALFA_SLOT_RUNNING), ALFA_SLOT_PENDING);
    assert_int_equal(alfa_esp32_slot_begin(&o, 0), ALFA_PORT_E_STATE);
    assert_int_equal(alfa_esp32_slot_begin(&o, 1), ALFA_PORT_E_STATE);
    assert_int_equal(g_m.resumes, 0);
    assert_int_equal(idf_model_open_handles(&g_m), 0);
    assert_int_equal(o.last_err, ALFA_ESP32_ERR_OTA_ROLLBACK_INVALID_STATE);
}

static void requests_outside_the_slot_never_reach_flash(void **state)
{
    (void)state;
    alfa_esp32_ota_t o;
    board(&g_m, &o);
    assert_int_equal(alfa_esp32_slot_begin(&o, 0), ALFA_PORT_OK);
    uint8_t d[64];
    memset(d, 0x5A, sizeof d);
    const uint32_t trailer = IDF_PART_SIZE - 4096u;
    assert_int_equal(alfa_esp32_slot_erase(&o, ALFA_SLOT_RUNNING, 0), ALFA_PORT_E_RANGE);     /* the running code */
    assert_int_equal(alfa_esp32_slot_erase(&o, ALFA_SLOT_UPDATE, IDF_PART_SIZE / 4096u), ALFA_PORT_E_RANGE);
    assert_int_equal(alfa_esp32_slot_write(&o, ALFA_SLOT_RUNNING, trailer - 16u, d, 16), ALFA_PORT_E_RANGE);
    assert_int_equal(alfa_esp32_slot_write(&o, ALFA_SLOT_UPDATE, 8, d, 16), ALFA_PORT_E_RANGE);  /* misaligned */
    assert_int_equal(alfa_esp32_slot_write(&o, ALFA_SLOT_UPDATE, 16, d, 8), ALFA_PORT_E_RANGE);  /* partial unit */
    assert_int_equal(alfa_esp32_slot_write(&o, ALFA_SLOT_UPDATE, 16, d, 0), ALFA_PORT_E_RANGE);
    assert_int_equal(alfa_esp32_slot_write(&o, ALFA_SLOT_UPDATE, IDF_PART_SIZE - 32u, d, 64), ALFA_PORT_E_RANGE);
    assert_int_equal(alfa_esp32_slot_write(&o, 2, trailer, d, 16), ALFA_PORT_E_RANGE);
    assert_int_equal(alfa_esp32_slot_read(&o, ALFA_SLOT_UPDATE, IDF_PART_SIZE - 8u, d, 16), ALFA_PORT_E_RANGE);
    assert_int_equal(alfa_esp32_slot_end(&o, 0), ALFA_PORT_E_RANGE);
    assert_int_equal(alfa_esp32_slot_end(&o, trailer + 1u), ALFA_PORT_E_RANGE); /* would reach the trailer */
    assert_int_equal(g_m.writes + g_m.erases + g_m.ends, 0);
    assert_int_equal(o.refused, 10);
    /* what is allowed: a record in the running slot's trailer, once (blank-before-program) */
    assert_int_equal(alfa_esp32_slot_write(&o, ALFA_SLOT_RUNNING, trailer + 144u, d, 16), ALFA_PORT_OK);
    assert_int_equal(alfa_esp32_slot_write(&o, ALFA_SLOT_RUNNING, trailer + 144u, d, 16), ALFA_PORT_E_REPROG);
    assert_memory_equal(&g_m.flash[0][trailer + 144u], d, 16);
    assert_int_equal(g_m.rule_breaks, 0);
}

/* After a restart the resumed handle has written nothing when the slot already held every byte;
 * esp_ota_end refuses such a handle ("never written to"), so slot_end takes one that says the
 * image is there. */
static void end_after_a_restart_that_wrote_nothing(void **state)
{
    (void)state;
    alfa_esp32_ota_t o;
    board(&g_m, &o);
    assert_int_equal(alfa_esp32_slot_begin(&o, 0), ALFA_PORT_OK);
    uint8_t img[4096];
    memset(img, 0x42, sizeof img);
    img[0] = 0xE9u;
    assert_int_equal(alfa_esp32_slot_erase(&o, ALFA_SLOT_UPDATE, 0), ALFA_PORT_OK);
    assert_int_equal(alfa_esp32_slot_write(&o, ALFA_SLOT_UPDATE, 0, img, sizeof img), ALFA_PORT_OK);
    /* power cut: ESP-IDF's handles and the port's RAM are gone; the same slot is resumed */
    memset(g_m.h, 0, sizeof g_m.h);
    assert_int_equal(idf_model_port(&g_m, &o), ALFA_PORT_OK);
    assert_int_equal(alfa_esp32_slot_begin(&o, 1), ALFA_PORT_OK);
    /* the model keeps ESP-IDF's rule: ending that handle as it is fails */
    uint32_t h = 0;
    assert_int_equal(idf_model_ops.resume(&g_m, 0, &h), ALFA_ESP32_ESP_OK);
    assert_int_equal(idf_model_ops.end(&g_m, h), ALFA_ESP32_ERR_INVALID_ARG);
    assert_int_equal(alfa_esp32_slot_end(&o, sizeof img), ALFA_PORT_OK);
    assert_int_equal(idf_model_open_handles(&g_m), 0);
    assert_int_equal(alfa_esp32_slot_set_boot(&o), ALFA_PORT_OK);
    assert_int_equal(alfa_esp32_slot_state(&o, ALFA_SLOT_UPDATE), ALFA_SLOT_NEW);
    /* an image ESP-IDF does not accept (no 0xE9 header) ends with an error, the handle freed */
    board(&g_m, &o);
    assert_int_equal(alfa_esp32_slot_begin(&o, 0), ALFA_PORT_OK);
    assert_int_equal(alfa_esp32_slot_write(&o, ALFA_SLOT_UPDATE, 0, img + 16, 16), ALFA_PORT_OK);
    assert_int_equal(alfa_esp32_slot_end(&o, 16), ALFA_PORT_E_IO);
    assert_int_equal(o.last_err, ALFA_ESP32_ERR_OTA_VALIDATE_FAILED);
    assert_int_equal(idf_model_open_handles(&g_m), 0);
    assert_int_equal(alfa_esp32_slot_write(&o, ALFA_SLOT_UPDATE, 16, img, 16), ALFA_PORT_E_STATE);
}

static void reboot_rolls_back_only_a_trial(void **state)
{
    (void)state;
    alfa_esp32_ota_t o;
    board(&g_m, &o);
    assert_int_equal(alfa_esp32_ota_reboot(&o), ALFA_ESP32_REBOOT_RESTART); /* confirmed: a plain restart */
    assert_int_equal(g_m.restarts, 1);
    assert_int_equal(g_m.otadata[0].state, ALFA_ESP32_IMG_VALID);

    /* ota_1 on trial, ota_0 confirmed behind it: marked invalid, the bootloader starts ota_0 */
    uint8_t img[16];
    memset(img, 0x11, sizeof img);
    img[0] = 0xE9u;
    memcpy(g_m.flash[1], img, sizeof img);
    g_m.otadata[1] = (idf_entry_t){2u, ALFA_ESP32_IMG_NEW, 1};
    assert_int_equal(idf_model_boot(&g_m), 1);
    assert_int_equal(idf_model_port(&g_m, &o), ALFA_PORT_OK);
    assert_int_equal(alfa_esp32_slot_state(&o, ALFA_SLOT_RUNNING), ALFA_SLOT_PENDING);
    assert_int_equal(alfa_esp32_ota_reboot(&o), ALFA_ESP32_REBOOT_ROLLBACK);
    assert_int_equal(g_m.otadata[1].state, ALFA_ESP32_IMG_INVALID);
    assert_int_equal(idf_model_boot(&g_m), 0);

    /* on trial with nothing to go back to: ESP-IDF refuses, the port restarts anyway and the
     * bootloader aborts the pending image */
    board(&g_m, &o);
    g_m.otadata[0].state = ALFA_ESP32_IMG_PENDING_VERIFY;
    uint32_t restarts = g_m.restarts;
    assert_int_equal(alfa_esp32_ota_reboot(&o), ALFA_ESP32_REBOOT_ROLLBACK_FAILED);
    assert_int_equal(g_m.restarts, restarts + 1u);
    assert_int_equal(o.last_err, ALFA_ESP32_ERR_OTA_ROLLBACK_FAILED);
    assert_int_equal(idf_model_boot(&g_m), 0);
    assert_int_equal(g_m.otadata[0].state, ALFA_ESP32_IMG_ABORTED);
}

/* ---------------------------------------------------------------- fw_verify with mbedTLS */

static void signatures_verify_with_mbedtls(void **state)
{
    (void)state;
    alfa_fwsign_key_t key, other;
    assert_int_equal(alfa_fwsign_key_from_seed(11, &key), 0);
    assert_int_equal(alfa_fwsign_key_from_seed(12, &other), 0);
    uint8_t payload[300];
    memset(payload, 0x77, sizeof payload);
    alfa_fwimg_hdr_t h;
    memset(&h, 0, sizeof h);
    h.device_type = 1;
    h.hw_class = 1;
    h.major = 2;
    h.minor = 6;
    uint8_t img[128 + sizeof payload];
    assert_int_equal(alfa_fwsign_image(&key, &h, payload, sizeof payload, img), 0);
    uint8_t digest[32], sig[64];
    alfa_fwimg_signed_digest(img, digest);
    memcpy(sig, img + 64, 64);

    uint8_t keys[2][ALFA_ESP32_FW_KEY_SIZE];
    memcpy(keys[0], other.point, 65);
    memcpy(keys[1], key.point, 65);
    assert_int_equal(alfa_esp32_fw_verify((const uint8_t(*)[65])keys, 2, digest, sig), ALFA_PORT_OK); /* rotation */
    assert_int_equal(alfa_esp32_fw_verify((const uint8_t(*)[65])keys, 1, digest, sig), ALFA_PORT_E_IO); /* unknown signer */
    assert_int_equal(alfa_esp32_fw_verify((const uint8_t(*)[65])keys, 0, digest, sig), ALFA_PORT_E_IO);
    uint8_t bad[64];
    memcpy(bad, sig, 64);
    bad[40] ^= 0x01u;
    assert_int_equal(alfa_esp32_fw_verify((const uint8_t(*)[65])&keys[1], 1, digest, bad), ALFA_PORT_E_IO);
    uint8_t d2[32];
    memcpy(d2, digest, 32);
    d2[0] ^= 0x80u; /* a tampered header */
    assert_int_equal(alfa_esp32_fw_verify((const uint8_t(*)[65])&keys[1], 1, d2, sig), ALFA_PORT_E_IO);
    memset(bad, 0, 32); /* r = 0 */
    memcpy(bad + 32, sig + 32, 32);
    assert_int_equal(alfa_esp32_fw_verify((const uint8_t(*)[65])&keys[1], 1, digest, bad), ALFA_PORT_E_IO);
    assert_int_equal(alfa_esp32_fw_verify((const uint8_t(*)[65])&keys[1], 1, digest, (const uint8_t[64]){0}),
                     ALFA_PORT_E_IO); /* unsigned image */
    keys[1][64] ^= 0x01u; /* off the curve */
    assert_int_equal(alfa_esp32_fw_verify((const uint8_t(*)[65])&keys[1], 1, digest, sig), ALFA_PORT_E_IO);
    keys[1][64] ^= 0x01u;
    keys[1][0] = 0x02u; /* compressed form: not what export-c writes */
    assert_int_equal(alfa_esp32_fw_verify((const uint8_t(*)[65])&keys[1], 1, digest, sig), ALFA_PORT_E_IO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(errors_and_states_map_as_esp_idf_says),
        cmocka_unit_test(geometry_from_the_partitions),
        cmocka_unit_test(begin_takes_a_handle_that_writes_anywhere),
        cmocka_unit_test(no_update_while_the_running_image_is_on_trial),
        cmocka_unit_test(requests_outside_the_slot_never_reach_flash),
        cmocka_unit_test(end_after_a_restart_that_wrote_nothing),
        cmocka_unit_test(reboot_rolls_back_only_a_trial),
        cmocka_unit_test(signatures_verify_with_mbedtls),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

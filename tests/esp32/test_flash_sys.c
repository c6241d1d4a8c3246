/* Tests of the ESP32 port's flash adapter (the real settings store on it, over the flash simulator, plain and encrypted) and its serial, clock and output levels. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "alfa/esp32/flash.h"
#include "alfa/esp32/sys.h"
#include "alfa/flash_sim.h"
#include "alfa/store.h"

/* A partition over the flash simulator. With `encrypt`, it stores data XOR a key stream as flash
 * encryption does, so decrypting an erased unit gives noise and only read_raw shows 0xFF. */
typedef struct part {
    alfa_flash_sim_t sim;
    int encrypt;
    uint32_t erase_calls, last_erase_off, last_erase_len;
} part_t;

static uint8_t key(uint32_t off) { return (uint8_t)(0x5Au ^ (off * 29u)); }

static int32_t p_read_raw(void *ctx, uint32_t off, void *buf, uint32_t len)
{
    return alfa_flash_sim_read(&((part_t *)ctx)->sim, off, buf, len);
}

static int32_t p_read(void *ctx, uint32_t off, void *buf, uint32_t len)
{
    part_t *p = ctx;
    int32_t rc = alfa_flash_sim_read(&p->sim, off, buf, len);
    if (rc == 0 && p->encrypt) {
        for (uint32_t i = 0; i < len; i++) {
            ((uint8_t *)buf)[i] ^= key(off + i);
        }
    }
    return rc;
}

static int32_t p_write(void *ctx, uint32_t off, const void *buf, uint32_t len)
{
    part_t *p = ctx;
    uint8_t tmp[1024];
    if (len > sizeof tmp) {
        return ALFA_PORT_E_RANGE;
    }
    for (uint32_t i = 0; i < len; i++) {
        tmp[i] = (uint8_t)(((const uint8_t *)buf)[i] ^ (p->encrypt ? key(off + i) : 0u));
    }
    return alfa_flash_sim_prog(&p->sim, off, tmp, len);
}

static int32_t p_erase(void *ctx, uint32_t off, uint32_t len)
{
    part_t *p = ctx;
    p->erase_calls++;
    p->last_erase_off = off;
    p->last_erase_len = len;
    if (off % 4096u != 0u || len % 4096u != 0u) {
        return ALFA_PORT_E_RANGE; /* esp_partition_erase_range's rule */
    }
    for (uint32_t b = off / 4096u; b < (off + len) / 4096u; b++) {
        int32_t rc = alfa_flash_sim_erase(&p->sim, b);
        if (rc < 0) {
            return rc;
        }
    }
    return 0;
}

static const alfa_esp32_flash_ops_t ops = {p_read, p_read_raw, p_write, p_erase};

typedef struct rig {
    part_t part;
    alfa_esp32_flash_t fl;
    alfa_port_t port;
    alfa_store_t st;
} rig_t;

static void rig_open(rig_t *r, int encrypt_backend, int adapter_knows)
{
    const alfa_flash_geom_t g = {4096u, 4u, 16u, 0xFFu}; /* the 16-KiB alfastore partition */
    memset(r, 0, sizeof *r);
    assert_int_equal(alfa_flash_sim_init(&r->part.sim, &g), 0);
    r->part.encrypt = encrypt_backend;
    assert_int_equal(alfa_esp32_flash_init(&r->fl, &ops, &r->part, 16384u, adapter_knows != 0), ALFA_PORT_OK);
}

static alfa_store_found_t rig_mount(rig_t *r)
{
    r->port = (alfa_port_t){.user = &r->fl, .flash_geom = &r->fl.geom, .flash_read = alfa_esp32_flash_read,
                            .flash_prog = alfa_esp32_flash_prog, .flash_erase = alfa_esp32_flash_erase};
    uint8_t blob[ALFA_STORE_BLOB_MAX];
    uint32_t len = 0;
    uint16_t format = 0;
    alfa_store_found_t found = ALFA_STORE_FOUND_CORRUPT;
    assert_int_equal(alfa_store_init(&r->st, &r->port, blob, sizeof blob, &len, &format, &found), ALFA_OK);
    return found;
}

static void save_and_flush(rig_t *r, uint8_t v, uint32_t *now)
{
    uint8_t blob[164];
    memset(blob, v, sizeof blob);
    assert_int_equal(alfa_store_save(&r->st, 1u, blob, sizeof blob, *now), ALFA_OK);
    *now += ALFA_STORE_QUIET_MS;
    for (int i = 0; i < 20 && alfa_store_busy(&r->st); i++) {
        assert_true(alfa_store_process(&r->st, *now) >= 0);
    }
    assert_false(alfa_store_busy(&r->st));
}

static void the_store_lives_on_the_partition(void **state)
{
    (void)state;
    for (int encrypt = 0; encrypt <= 1; encrypt++) {
        rig_t r;
        rig_open(&r, encrypt, encrypt);
        assert_int_equal(r.fl.geom.block_count, 4);
        assert_int_equal(rig_mount(&r), ALFA_STORE_FOUND_BLANK); /* a new board: blank, not corrupt */
        uint32_t now = 1000;
        for (uint8_t v = 1; v <= 40u; v++) { /* enough records to wrap round all four sectors */
            save_and_flush(&r, v, &now);
        }
        assert_int_equal(rig_mount(&r), ALFA_STORE_FOUND_RECORD); /* "reboot" */
        uint8_t blob[ALFA_STORE_BLOB_MAX];
        uint32_t len;
        uint16_t format;
        alfa_store_found_t found;
        assert_int_equal(alfa_store_init(&r.st, &r.port, blob, sizeof blob, &len, &format, &found), ALFA_OK);
        assert_int_equal(len, 164);
        assert_int_equal(blob[0], 40);
        assert_true(r.part.erase_calls > 0u);
        assert_int_equal(r.part.last_erase_len, 4096); /* one sector per erase, at a sector offset */
        assert_int_equal(r.part.last_erase_off % 4096u, 0);
        assert_int_equal(r.part.sim.rule_breaks, 0);
        assert_int_equal(r.fl.refused, 0);
        alfa_flash_sim_free(&r.part.sim);
    }
}

static void encrypted_blanks_need_the_raw_check(void **state)
{
    (void)state;
    /* An adapter unaware of encryption reads decrypted noise where flash is erased: the store sees
     * "corrupt" on a brand-new board. This is why the adapter reads raw units. */
    rig_t r;
    rig_open(&r, 1, 0);
    assert_int_equal(rig_mount(&r), ALFA_STORE_FOUND_CORRUPT);
    alfa_flash_sim_free(&r.part.sim);
}

static void requests_outside_the_rules_never_reach_flash(void **state)
{
    (void)state;
    rig_t r;
    rig_open(&r, 0, 0);
    uint8_t buf[32];
    memset(buf, 0x11, sizeof buf);
    assert_int_equal(alfa_esp32_flash_prog(&r.fl, 8u, buf, 16u), ALFA_PORT_E_RANGE);      /* misaligned */
    assert_int_equal(alfa_esp32_flash_prog(&r.fl, 16u, buf, 8u), ALFA_PORT_E_RANGE);      /* partial unit */
    assert_int_equal(alfa_esp32_flash_prog(&r.fl, 16384u, buf, 16u), ALFA_PORT_E_RANGE);  /* past the end */
    assert_int_equal(alfa_esp32_flash_read(&r.fl, 16380u, buf, 8u), ALFA_PORT_E_RANGE);
    assert_int_equal(alfa_esp32_flash_erase(&r.fl, 4u), ALFA_PORT_E_RANGE);
    assert_int_equal(r.part.sim.progs + r.part.sim.erases, 0);
    assert_int_equal(alfa_esp32_flash_prog(&r.fl, 32u, buf, 32u), ALFA_PORT_OK);
    assert_int_equal(alfa_esp32_flash_prog(&r.fl, 48u, buf, 16u), ALFA_PORT_E_REPROG);    /* not erased */
    assert_int_equal(r.part.sim.progs, 1);
    assert_int_equal(r.fl.refused, 6);
    alfa_esp32_flash_t f2;
    assert_int_equal(alfa_esp32_flash_init(&f2, &ops, &r.part, 4096u, false), ALFA_PORT_E_RANGE);   /* 1 sector */
    assert_int_equal(alfa_esp32_flash_init(&f2, &ops, &r.part, 10000u, false), ALFA_PORT_E_RANGE);  /* not whole */
    const alfa_esp32_flash_ops_t no_raw = {p_read, NULL, p_write, p_erase};
    assert_int_equal(alfa_esp32_flash_init(&f2, &no_raw, &r.part, 16384u, true), ALFA_PORT_E_RANGE);
    alfa_flash_sim_free(&r.part.sim);
}

static void serial_is_all_48_bits_of_the_mac(void **state)
{
    (void)state;
    const uint8_t mac[6] = {0xFCu, 0xF5u, 0xC4u, 0x12u, 0x34u, 0x56u};
    uint64_t s = 0;
    assert_int_equal(alfa_esp32_serial_from_mac(mac, &s), ALFA_PORT_OK);
    assert_true(s == 0xFCF5C4123456ull);
    /* two boards differing only in the vendor prefix differ (the old "& 0x7F" made them equal) */
    const uint8_t other[6] = {0x24u, 0x0Au, 0xC4u, 0x12u, 0x34u, 0x56u};
    uint64_t s2 = 0;
    assert_int_equal(alfa_esp32_serial_from_mac(other, &s2), ALFA_PORT_OK);
    assert_true(s2 != s && (s2 & 0xFFFFFFu) == (s & 0xFFFFFFu));
    const uint8_t zero[6] = {0}, ones[6] = {0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF};
    assert_int_equal(alfa_esp32_serial_from_mac(zero, &s), ALFA_PORT_E_RANGE);
    assert_int_equal(alfa_esp32_serial_from_mac(ones, &s), ALFA_PORT_E_RANGE);
    assert_true(s == 0xFCF5C4123456ull);
}

static void clock_wraps_and_levels_follow_polarity(void **state)
{
    (void)state;
    assert_int_equal(alfa_esp32_ms_from_us(1999), 1);
    assert_int_equal(alfa_esp32_ms_from_us(4294967296000ll + 5000), 5); /* 2^32 ms later: wrapped */
    assert_int_equal(alfa_esp32_levels(0x5u, 4u, 1u), 0x5u);
    assert_int_equal(alfa_esp32_levels(0x5u, 4u, 0u), 0xAu); /* active-low relay driver */
    assert_int_equal(alfa_esp32_levels(0x0u, 3u, 0u), 0x7u); /* all off = all high */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_store_lives_on_the_partition),
        cmocka_unit_test(encrypted_blanks_need_the_raw_check),
        cmocka_unit_test(requests_outside_the_rules_never_reach_flash),
        cmocka_unit_test(serial_is_all_48_bits_of_the_mac),
        cmocka_unit_test(clock_wraps_and_levels_follow_polarity),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

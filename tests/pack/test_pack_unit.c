/* The pack composition on the test port and the flash simulator: boot from flash, save on change, flush before a reboot. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "alfa/flash_sim.h"
#include "alfa/pack.h"
#include "alfa/proto.h"
#include "alfa/test_port.h"

#define SERIAL 0x0000C0FFEE01ull
#define CANQ 256u

/* One pack's world. `tp` comes first so that the test port's callbacks, which take `user` as an
 * alfa_test_port_t, work with `user` pointing at the rig. */
typedef struct rig {
    alfa_test_port_t tp;
    alfa_flash_sim_t flash;
    alfa_can_frame_t rx[CANQ]; /* frames the pack will receive */
    uint32_t rx_head, rx_tail;
    alfa_can_frame_t tx[CANQ]; /* frames the pack sent (a ring; the last CANQ kept) */
    uint32_t tx_count;
    uint64_t flash_records_at_reboot;
    int can_full;              /* the port's transmit queue refuses every frame */
    alfa_port_t port;
    alfa_pack_t pack;
} rig_t;

static rig_t g_rig;

static int32_t r_serial_write(void *u, const uint8_t *d, uint16_t n) { (void)u; (void)d; return n; } /* no BMS */
static int32_t r_serial_read(void *u, uint8_t *d, uint16_t cap) { (void)u; (void)d; (void)cap; return 0; }
static int32_t r_can_send(void *u, const alfa_can_frame_t *f)
{
    rig_t *r = u;
    if (r->can_full) {
        return ALFA_PORT_E_FULL;
    }
    r->tx[r->tx_count++ % CANQ] = *f;
    return ALFA_PORT_OK;
}
static int32_t r_can_recv(void *u, alfa_can_frame_t *f)
{
    rig_t *r = u;
    if (r->rx_head == r->rx_tail) {
        return 0;
    }
    *f = r->rx[r->rx_tail++ % CANQ];
    return 1;
}
static int32_t r_flash_read(void *u, uint32_t a, void *b, uint32_t n) { return alfa_flash_sim_read(&((rig_t *)u)->flash, a, b, n); }
static int32_t r_flash_prog(void *u, uint32_t a, const void *b, uint32_t n) { return alfa_flash_sim_prog(&((rig_t *)u)->flash, a, b, n); }
static int32_t r_flash_erase(void *u, uint32_t blk) { return alfa_flash_sim_erase(&((rig_t *)u)->flash, blk); }
static void r_reboot(void *u)
{
    rig_t *r = u;
    r->tp.reboots++;
    r->flash_records_at_reboot = r->flash.progs;
}

static const alfa_flash_geom_t geom = {.block_size = 4096, .block_count = 2, .prog_size = 16, .erased_value = 0xFF};

/* Power the pack on (again): a fresh context on the flash as it is. */
static void boot(rig_t *r, int with_flash)
{
    uint32_t now = r->tp.now_ms;
    alfa_test_port_init(&r->tp, now);
    r->port = r->tp.port;
    r->port.user = r;
    r->port.serial_write = r_serial_write;
    r->port.serial_read = r_serial_read;
    r->port.can_send = r_can_send;
    r->port.can_recv = r_can_recv;
    r->port.reboot = r_reboot;
    if (with_flash) {
        r->port.flash_geom = &r->flash.geom;
        r->port.flash_read = r_flash_read;
        r->port.flash_prog = r_flash_prog;
        r->port.flash_erase = r_flash_erase;
    }
    alfa_pack_config_t cfg = {.serial = SERIAL};
    assert_int_equal(alfa_pack_init(&r->pack, &r->port, &cfg), ALFA_OK);
}

static void run(rig_t *r, uint32_t ms)
{
    for (uint32_t t = 0; t < ms; t += 5) {
        alfa_test_port_advance(&r->tp, 5);
        alfa_pack_process(&r->pack);
    }
}

static void send_cmd(rig_t *r, alfa_cmd_t *c)
{
    static uint8_t seq;
    c->seq = ++seq;
    c->src = ALFA_NODE_LINUX_GATEWAY;
    c->dst = ALFA_NODE_BROADCAST;
    assert_int_equal(alfa_proto_cmd_encode(c, &r->rx[r->rx_head++ % CANQ]), 0);
}

static int faulted(rig_t *r, uint32_t bit) { return (alfa_core_faults(alfa_pack_core(&r->pack)) >> bit) & 1u; }

static int setup(void **state)
{
    memset(&g_rig, 0, sizeof g_rig);
    g_rig.tp.now_ms = 1000;
    assert_int_equal(alfa_flash_sim_init(&g_rig.flash, &geom), 0);
    *state = &g_rig;
    return 0;
}

static int teardown(void **state)
{
    alfa_flash_sim_free(&((rig_t *)*state)->flash);
    return 0;
}

/* A new pack (blank flash) boots with defaults and the "settings store corrupt" fault; the first
 * change is written after the quiet period, which clears the fault; the next boot restores it. */
static void test_blank_then_saved_then_restored(void **state)
{
    rig_t *r = *state;
    boot(r, 1);
    assert_int_equal(alfa_pack_boot_state(&r->pack), ALFA_PACK_BOOT_DEFAULTS);
    run(r, 3000);
    assert_true(faulted(r, ALFA_FAULT_SETTINGS_CORRUPT));

    assert_int_equal(alfa_core_setting_set(alfa_pack_core(&r->pack), ALFA_SET_ECO_LIMIT_W, 2500, NULL), ALFA_OK);
    assert_int_equal(alfa_core_set_mode(alfa_pack_core(&r->pack), ALFA_MODE_ECO, true), ALFA_OK);
    run(r, 500);
    assert_int_equal(r->flash.progs, 0); /* coalescing: nothing yet inside the quiet period */
    run(r, 4000);
    assert_true(r->flash.progs > 0);
    assert_false(faulted(r, ALFA_FAULT_SETTINGS_CORRUPT));
    uint64_t progs = r->flash.progs;
    run(r, 60000); /* a minute of running writes nothing more: no periodic writes */
    assert_int_equal(r->flash.progs, progs);

    boot(r, 1);
    assert_int_equal(alfa_pack_boot_state(&r->pack), ALFA_PACK_BOOT_RESTORED);
    const alfa_settings_t *s = alfa_core_settings(alfa_pack_core(&r->pack));
    assert_int_equal(s->mode, ALFA_MODE_ECO);
    assert_int_equal(s->eco_limit_w, 2500);
    run(r, 3000);
    assert_false(faulted(r, ALFA_FAULT_SETTINGS_CORRUPT));
}

/* A reboot command right after a change: the change is on flash before the port reboots. */
static void test_reboot_command_flushes_first(void **state)
{
    rig_t *r = *state;
    boot(r, 1);
    run(r, 6000); /* the node settles on its ID */
    alfa_cmd_t set = {.code = ALFA_CMD_SET_MODE, .u.set_mode = {.mode = ALFA_MODE_BACKUP, .on = 1}};
    send_cmd(r, &set);
    run(r, 20);
    alfa_cmd_t reboot = {.code = ALFA_CMD_REBOOT};
    send_cmd(r, &reboot);
    uint64_t progs_before = r->flash.progs;
    run(r, 300); /* well inside the store's 2-s quiet period */
    assert_int_equal(r->tp.reboots, 1);
    assert_true(r->flash_records_at_reboot > progs_before);

    boot(r, 1);
    assert_int_equal(alfa_pack_boot_state(&r->pack), ALFA_PACK_BOOT_RESTORED);
    assert_int_equal(alfa_core_settings(alfa_pack_core(&r->pack))->mode, ALFA_MODE_BACKUP);
}

/* Factory reset over CAN: defaults after the reboot, the node ID kept, no fault. */
static void test_factory_reset_command(void **state)
{
    rig_t *r = *state;
    boot(r, 1);
    run(r, 6000);
    int32_t node_id = 0;
    assert_int_equal(alfa_core_setting_get(alfa_pack_core(&r->pack), ALFA_SET_NODE_ID, &node_id), ALFA_OK);
    assert_true(node_id >= 1);
    assert_int_equal(alfa_core_set_mode(alfa_pack_core(&r->pack), ALFA_MODE_TOU, true), ALFA_OK);
    run(r, 5000);
    alfa_cmd_t fr = {.code = ALFA_CMD_FACTORY_RESET, .u.factory_reset = {.confirm = ALFA_FACTORY_RESET_CODE}};
    send_cmd(r, &fr);
    run(r, 300);
    assert_int_equal(r->tp.reboots, 1);

    boot(r, 1);
    const alfa_settings_t *s = alfa_core_settings(alfa_pack_core(&r->pack));
    assert_int_equal(s->mode, ALFA_MODE_NONE);
    assert_int_equal(s->node_id, node_id);
    run(r, 3000);
    assert_false(faulted(r, ALFA_FAULT_SETTINGS_CORRUPT));
}

/* Flash holding a record of another format (a future firmware's) is not trusted: defaults, fault. */
static void test_unknown_format_boots_defaults(void **state)
{
    rig_t *r = *state;
    boot(r, 1);
    /* The future firmware's own store on the same flash (the pack's store is the pack's). */
    alfa_store_t st;
    uint8_t old[ALFA_STORE_BLOB_MAX];
    uint32_t len = 0;
    uint16_t format = 0;
    assert_int_equal(alfa_store_init(&st, &r->port, old, sizeof old, &len, &format, NULL), ALFA_OK);
    static const uint8_t blob[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    assert_int_equal(alfa_store_save(&st, 99, blob, sizeof blob, r->tp.now_ms), ALFA_OK);
    assert_int_equal(alfa_store_flush(&st), ALFA_OK);
    while (alfa_store_process(&st, r->tp.now_ms) > 0) {
    }
    boot(r, 1);
    assert_int_equal(alfa_pack_boot_state(&r->pack), ALFA_PACK_BOOT_DEFAULTS);
    run(r, 3000);
    assert_true(faulted(r, ALFA_FAULT_SETTINGS_CORRUPT));
}

/* A port without flash still runs the pack: defaults, the fault stands, changes act in RAM. */
static void test_no_flash(void **state)
{
    rig_t *r = *state;
    boot(r, 0);
    assert_int_equal(alfa_pack_boot_state(&r->pack), ALFA_PACK_BOOT_NO_FLASH);
    assert_int_equal(alfa_core_set_mode(alfa_pack_core(&r->pack), ALFA_MODE_BACKUP, true), ALFA_OK);
    run(r, 5000);
    assert_true(faulted(r, ALFA_FAULT_SETTINGS_CORRUPT));
    assert_int_equal(alfa_core_settings(alfa_pack_core(&r->pack))->mode, ALFA_MODE_BACKUP);
    assert_int_equal(r->flash.progs, 0);
}

/* A daemon stopping (SIGTERM) inside the 2-s quiet period writes the change first: the next boot
 * restores it. Without flash there is nothing to write, and that is no failure. */
static void test_flush_before_stopping(void **state)
{
    rig_t *r = *state;
    boot(r, 1);
    run(r, 3000);
    assert_int_equal(alfa_core_set_mode(alfa_pack_core(&r->pack), ALFA_MODE_ECO, true), ALFA_OK);
    run(r, 10); /* handed to the store, which waits for its quiet period */
    assert_int_equal(alfa_pack_flush(&r->pack), ALFA_OK);
    assert_int_equal(alfa_pack_stats(&r->pack)->flush_failed, 0);
    boot(r, 1);
    assert_int_equal(alfa_pack_boot_state(&r->pack), ALFA_PACK_BOOT_RESTORED);
    assert_int_equal(alfa_core_settings(alfa_pack_core(&r->pack))->mode, ALFA_MODE_ECO);
    boot(r, 0);
    assert_int_equal(alfa_pack_flush(&r->pack), ALFA_OK);
}

/* Flash that fails every write: the stop's flush says so and counts it; nothing is hidden. */
static void test_flush_failure_is_counted(void **state)
{
    rig_t *r = *state;
    boot(r, 1);
    run(r, 3000);
    r->flash.bad_blocks = ~0ull;
    assert_int_equal(alfa_core_set_mode(alfa_pack_core(&r->pack), ALFA_MODE_ECO, true), ALFA_OK);
    run(r, 10);
    assert_true(alfa_pack_flush(&r->pack) < 0);
    assert_int_equal(alfa_pack_stats(&r->pack)->flush_failed, 1);
    assert_true(alfa_pack_stats(&r->pack)->store_errors > 0);
}

/* A transmit queue that refuses frames: the node's own heartbeats are counted as failed sends, and
 * go out again once the queue takes frames. */
static void test_full_can_queue_is_counted(void **state)
{
    rig_t *r = *state;
    boot(r, 1);
    r->can_full = 1;
    run(r, 6000); /* listen, claim (heartbeats), run */
    const alfa_node_stats_t *st = alfa_node_stats(alfa_pack_node(&r->pack));
    assert_true(st->tx_fail >= 4);
    assert_int_equal(st->tx_frames, 0);
    assert_int_equal(r->tx_count, 0);
    r->can_full = 0;
    run(r, 2000);
    assert_true(st->tx_frames >= 2);
    assert_true(r->tx_count >= 2);
}

/* Bad arguments are refused. */
static void test_init_refuses_bad_arguments(void **state)
{
    rig_t *r = *state;
    alfa_pack_config_t cfg = {.serial = SERIAL};
    assert_int_equal(alfa_pack_init(NULL, &r->port, &cfg), ALFA_E_INVAL);
    assert_int_equal(alfa_pack_init(&r->pack, NULL, &cfg), ALFA_E_INVAL);
    assert_int_equal(alfa_pack_init(&r->pack, &r->port, NULL), ALFA_E_INVAL);
    boot(r, 1);
    cfg.serial = 0;
    assert_true(alfa_pack_init(&r->pack, &r->port, &cfg) < 0);
}

/* Every core error code has its own name for logs and probes; anything else reads "unknown". */
static void test_error_names(void **state)
{
    (void)state;
    const char *seen[16] = {0};
    for (int e = ALFA_OK; e >= ALFA_E_AGAIN; e--) {
        const char *n = alfa_err_name(e);
        assert_string_not_equal(n, "unknown");
        for (int k = 0; k < -e; k++) {
            assert_string_not_equal(seen[k], n);
        }
        seen[-e] = n;
    }
    assert_string_equal(alfa_err_name(ALFA_E_RANGE), "out_of_range");
    assert_string_equal(alfa_err_name(-999), "unknown");
    assert_string_equal(alfa_err_name(7), "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_blank_then_saved_then_restored, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reboot_command_flushes_first, setup, teardown),
        cmocka_unit_test_setup_teardown(test_factory_reset_command, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_format_boots_defaults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_flash, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flush_before_stopping, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flush_failure_is_counted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_full_can_queue_is_counted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_init_refuses_bad_arguments, setup, teardown),
        cmocka_unit_test(test_error_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

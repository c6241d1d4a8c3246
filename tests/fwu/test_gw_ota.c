/* The gateway's update sender on its MQTT side: bad requests and bad images get a clear refusal and change nothing; the saved session is restored or refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "alfa/gw_ota.h"
#include "alfa/proto.h"
#include "fwu_keys.h"

#define SITE "s1"
#define MAXPUB 64

typedef struct io {
    char topic[MAXPUB][96];
    char payload[MAXPUB][640];
    int retain[MAXPUB];
    int n;
    int refuse;                    /* publish fails (the broker is away) */
    int frames;
    struct { char name[32]; uint8_t *data; size_t len; } files[4];
} io_t;

static io_t g_io;
static uint8_t g_img[128 + 2000];

static int pub(void *u, const char *t, const char *p, size_t len, int retain)
{
    io_t *io = u;
    if (io->refuse) return -1;
    if (io->n < MAXPUB) {
        snprintf(io->topic[io->n], sizeof io->topic[0], "%s", t);
        snprintf(io->payload[io->n], sizeof io->payload[0], "%.*s", (int)len, p);
        io->retain[io->n] = retain;
        io->n++;
    }
    return 0;
}
static int32_t send(void *u, const alfa_can_frame_t *f)
{
    (void)f;
    ((io_t *)u)->frames++;
    return 0;
}
static uint8_t *rd(void *u, const char *name, size_t *len)
{
    io_t *io = u;
    for (int k = 0; k < 4; k++) {
        if (io->files[k].data != NULL && !strcmp(io->files[k].name, name)) {
            uint8_t *b = malloc(io->files[k].len + 1);
            memcpy(b, io->files[k].data, io->files[k].len);
            *len = io->files[k].len;
            return b;
        }
    }
    return NULL;
}
static int wr(void *u, const char *name, const void *d, size_t len)
{
    io_t *io = u;
    int k = 0;
    while (k < 4 && io->files[k].data != NULL && strcmp(io->files[k].name, name)) k++;
    if (k == 4) return -1;
    free(io->files[k].data);
    snprintf(io->files[k].name, sizeof io->files[k].name, "%s", name);
    io->files[k].data = malloc(len + 1);
    memcpy(io->files[k].data, d, len);
    io->files[k].len = len;
    return 0;
}

static gw_ota_t *make(void)
{
    gw_ota_cfg_t c;
    gw_ota_cfg_defaults(&c);
    snprintf(c.site, sizeof c.site, SITE);
    gw_ota_io_t io = {.user = &g_io, .publish = pub, .can_send = send, .read_file = rd, .write_file = wr};
    gw_ota_t *o = gw_ota_new(&c, &io);
    assert_non_null(o);
    return o;
}

static const char *last_result(void)
{
    for (int k = g_io.n - 1; k >= 0; k--) {
        if (!strcmp(g_io.topic[k], "alfaspark/" SITE "/ota/result")) return g_io.payload[k];
    }
    return "";
}

static void mqtt(gw_ota_t *o, const char *suffix, const void *payload, size_t len)
{
    char t[96];
    snprintf(t, sizeof t, "alfaspark/" SITE "/ota/%s", suffix);
    assert_int_equal(gw_ota_on_mqtt(o, t, payload, len, 1000), 1);
}

static int setup(void **state)
{
    (void)state;
    alfa_fwsign_key_t k;
    uint8_t p[2000];
    fwu_payload(p, sizeof p, 3);
    return alfa_fwsign_key_from_seed(4, &k) == 0 ? fwu_image(&k, 2, 6, 0, 1, 1, p, sizeof p, g_img) : -1;
}

static int reset(void **state)
{
    (void)state;
    for (int k = 0; k < 4; k++) free(g_io.files[k].data);
    memset(&g_io, 0, sizeof g_io);
    return 0;
}

static void test_start_refusals(void **state)
{
    (void)state;
    gw_ota_t *o = make();
    assert_int_equal(gw_ota_on_mqtt(o, "alfaspark/" SITE "/cmd/set_mode", "{}", 2, 1000), 0); /* not ours */
    static const struct { const char *json, *why; } bad[] = {
        {"{\"id\":\"a\",", "invalid JSON"},
        {"{\"id\":\"a\",\"colour\":1}", "unknown member \\\"colour\\\""},
        {"{\"id\":\"a\",\"packs\":[\"12\"]}", "\\\"packs\\\" must list serials"},
        {"{\"id\":\"a\",\"packs\":7}", "\\\"packs\\\" must list serials"},
        {"{\"id\":\"a\",\"force\":1}", "\\\"force\\\" must be true or false"},
        {"{\"id\":\"a\",\"wave_pct\":0}", "\\\"wave_pct\\\" must be 1..100"},
        {"{\"id\":\"a\",\"image\":\"rel/path.img\"}", "absolute path"},
        {"{\"id\":\"a\"}", "publish one on ota/image first"},
        {"{\"id\":\"a\",\"image\":\"/nonexistent/x.img\"}", "cannot read the image /nonexistent/x.img"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        mqtt(o, "start", bad[k].json, strlen(bad[k].json));
        assert_non_null(strstr(last_result(), "\"result\":\"refused\""));
        if (strstr(last_result(), bad[k].why) == NULL) fail_msg("%s -> %s", bad[k].json, last_result());
    }
    assert_false(gw_ota_active(o));
    assert_int_equal(g_io.frames, 0); /* refusals never reach the bus */
    mqtt(o, "cancel", "{}", 2);
    assert_non_null(strstr(last_result(), "no update is running"));
    gw_ota_free(o);
}

/* A result the broker did not take is counted, not lost in silence. */
static void test_refused_publish_is_counted(void **state)
{
    (void)state;
    gw_ota_t *o = make();
    g_io.refuse = 1;
    mqtt(o, "cancel", "{}", 2);
    assert_int_equal(g_io.n, 0);
    assert_int_equal(gw_ota_stats(o)->publish_fail, 1);
    g_io.refuse = 0;
    mqtt(o, "cancel", "{}", 2);
    assert_non_null(strstr(last_result(), "no update is running"));
    assert_int_equal(gw_ota_stats(o)->publish_fail, 1);
    gw_ota_free(o);
}

static void test_image_checks(void **state)
{
    (void)state;
    gw_ota_t *o = make();
    mqtt(o, "image", "hello", 5);
    assert_non_null(strstr(last_result(), "not an Alfaspark firmware image"));
    static uint8_t bad[sizeof g_img];
    memcpy(bad, g_img, sizeof bad);
    bad[128 + 77] ^= 1u; /* its payload no longer matches the header */
    mqtt(o, "image", bad, sizeof bad);
    assert_non_null(strstr(last_result(), "does not match the header's SHA-256"));
    mqtt(o, "image", g_img, sizeof g_img - 1u);
    assert_non_null(strstr(last_result(), "its header says 2000"));
    assert_null(g_io.files[0].data); /* nothing stored */
    mqtt(o, "image", g_img, sizeof g_img);
    assert_non_null(strstr(last_result(), "\"result\":\"image\""));
    assert_non_null(strstr(last_result(), "staged 2.6.0, 2000 bytes"));
    /* staged, but no pack has been heard: nobody to update */
    mqtt(o, "start", "{\"id\":7}", 8);
    assert_non_null(strstr(last_result(), "no packs"));
    assert_false(gw_ota_active(o));
    gw_ota_free(o);
}

/* A pack heard on the bus makes a start possible; a second start while one runs is refused. */
static void test_start_and_second_start(void **state)
{
    (void)state;
    gw_ota_t *o = make();
    alfa_heartbeat_t hb = {.node_id = 9, .device_type = ALFA_DEV_PACK, .serial = 0xA1B2C3D4E5F6ull, .fw_major = 2,
                           .fw_minor = 5};
    alfa_can_frame_t f;
    assert_int_equal(alfa_proto_heartbeat_encode(&hb, &f), 0);
    gw_ota_on_can(o, &f, 1000);
    mqtt(o, "image", g_img, sizeof g_img);
    const char *start = "{\"id\":\"x1\",\"packs\":\"a1b2c3d4e5f6\"}";
    mqtt(o, "start", start, strlen(start));
    if (strstr(last_result(), "\"result\":\"started\"") == NULL) fail_msg("%s", last_result());
    assert_true(gw_ota_active(o));
    mqtt(o, "start", "{\"id\":\"x2\"}", 11);
    assert_non_null(strstr(last_result(), "is running"));
    gw_ota_process(o, 1001);
    assert_true(g_io.frames > 0); /* BEGIN and the manifest went out */
    const gw_ota_target_t *t = gw_ota_target(o, 0xA1B2C3D4E5F6ull);
    assert_non_null(t);
    assert_int_equal(t->node, 9);
    /* the session is saved: a new sender takes it up */
    gw_ota_t *o2 = make();
    assert_int_equal(gw_ota_restore(o2, 2000), 1);
    assert_int_equal(gw_ota_session(o2), gw_ota_session(o));
    assert_true(gw_ota_active(o2));
    gw_ota_cancel(o, 3000);
    assert_false(gw_ota_active(o));
    gw_ota_free(o2);
    gw_ota_free(o);
}

/* A damaged session file, or a session whose image changed, is refused and nothing runs. */
static void test_restore_refusals(void **state)
{
    (void)state;
    gw_ota_t *o = make();
    assert_int_equal(gw_ota_restore(o, 1000), 0); /* no file: nothing to do */
    assert_int_equal(wr(&g_io, "ota-session", "garbage\n", 8), 0);
    assert_int_equal(gw_ota_restore(o, 1000), -1);
    assert_false(gw_ota_active(o));
    const char *sess = "alfaspark-ota 1\nsession 12345678\nforce 0\nwave_pct 25\nphase 2\nwave 0\ntarget a1b2c3d4e5f6 1 0 0 -\n";
    assert_int_equal(wr(&g_io, "ota-session", sess, strlen(sess)), 0);
    assert_int_equal(wr(&g_io, "ota-image.img", g_img, sizeof g_img), 0);
    assert_int_equal(gw_ota_restore(o, 1000), -1); /* the image is not session 12345678's */
    assert_false(gw_ota_active(o));
    gw_ota_free(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_start_refusals, reset, reset),
        cmocka_unit_test_setup_teardown(test_refused_publish_is_counted, reset, reset),
        cmocka_unit_test_setup_teardown(test_image_checks, reset, reset),
        cmocka_unit_test_setup_teardown(test_start_and_second_start, reset, reset),
        cmocka_unit_test_setup_teardown(test_restore_refusals, reset, reset),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}

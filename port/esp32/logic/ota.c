/* Firmware slots over ESP-IDF's OTA calls: geometry, bounds, the handle's life, state and error mapping (no ESP-IDF headers: host-tested). */
#include "alfa/esp32/ota.h"

static alfa_esp32_ota_t *O(void *user) { return (alfa_esp32_ota_t *)user; }

static uint32_t trailer_off(const alfa_esp32_ota_t *o) { return o->geom.slot_size - o->geom.sector_size; }

/* An ESP-IDF result: counted and kept when it is an error, returned mapped. */
static int32_t idf(alfa_esp32_ota_t *o, int32_t esp_err)
{
    if (esp_err != ALFA_ESP32_ESP_OK) {
        o->errors++;
        o->last_err = esp_err;
    }
    return alfa_esp32_ota_err(esp_err);
}

static int32_t refuse(alfa_esp32_ota_t *o)
{
    o->refused++;
    return ALFA_PORT_E_RANGE;
}

int32_t alfa_esp32_ota_err(int32_t esp_err)
{
    switch (esp_err) {
    case ALFA_ESP32_ESP_OK:
        return ALFA_PORT_OK;
    case ALFA_ESP32_ERR_OTA_ROLLBACK_INVALID_STATE:
        return ALFA_PORT_E_STATE;
    case ALFA_ESP32_ERR_INVALID_SIZE:
        return ALFA_PORT_E_RANGE;
    default:
        return ALFA_PORT_E_IO;
    }
}

alfa_slot_state_t alfa_esp32_ota_state_of(int32_t esp_err, uint32_t img_state, uint8_t which)
{
    if (esp_err != ALFA_ESP32_ESP_OK) {
        /* No otadata entry for the slot. The running image runs, so it is bootable; without an
         * entry there is nothing to confirm (flashed over serial, or otadata unreadable). */
        return which == ALFA_SLOT_RUNNING ? ALFA_SLOT_VALID : ALFA_SLOT_EMPTY;
    }
    switch (img_state) {
    case ALFA_ESP32_IMG_NEW:
        return ALFA_SLOT_NEW;
    case ALFA_ESP32_IMG_PENDING_VERIFY:
        return ALFA_SLOT_PENDING;
    case ALFA_ESP32_IMG_VALID:
    case ALFA_ESP32_IMG_UNDEFINED: /* rollback off: boots without limits */
        return ALFA_SLOT_VALID;
    case ALFA_ESP32_IMG_ABORTED:
        return ALFA_SLOT_ABORTED;
    default: /* INVALID, or a value this build does not know: never booted again */
        return ALFA_SLOT_INVALID;
    }
}

int32_t alfa_esp32_ota_geom(const alfa_esp32_ota_parts_t *p, alfa_slot_geom_t *g)
{
    if (p == 0 || g == 0 || !p->run_is_ota || !p->next_is_ota || p->run_size != p->next_size ||
        p->run_erase != ALFA_ESP32_OTA_SECTOR || p->next_erase != ALFA_ESP32_OTA_SECTOR ||
        p->run_size % ALFA_ESP32_OTA_SECTOR != 0u || p->run_size / ALFA_ESP32_OTA_SECTOR < 2u) {
        return ALFA_PORT_E_RANGE;
    }
    *g = (alfa_slot_geom_t){.slot_size = p->run_size, .sector_size = ALFA_ESP32_OTA_SECTOR,
                            .prog_size = ALFA_ESP32_OTA_UNIT, .erased_value = 0xFFu};
    return ALFA_PORT_OK;
}

int32_t alfa_esp32_ota_init(alfa_esp32_ota_t *o, const alfa_esp32_ota_ops_t *ops, void *ctx,
                            const alfa_esp32_flash_ops_t *flash_ops, void *run_ctx, void *next_ctx,
                            const alfa_esp32_ota_parts_t *parts)
{
    if (o == 0 || ops == 0 || ops->begin == 0 || ops->resume == 0 || ops->write == 0 || ops->end == 0 ||
        ops->abort == 0 || ops->set_boot == 0 || ops->confirm == 0 || ops->state == 0 || ops->rollback == 0 ||
        ops->restart == 0) {
        return ALFA_PORT_E_RANGE;
    }
    alfa_slot_geom_t g;
    int32_t rc = alfa_esp32_ota_geom(parts, &g);
    if (rc != ALFA_PORT_OK) {
        return rc;
    }
    *o = (alfa_esp32_ota_t){.ops = ops, .ctx = ctx, .geom = g};
    rc = alfa_esp32_flash_init(&o->part[ALFA_SLOT_RUNNING], flash_ops, run_ctx, g.slot_size, parts->run_encrypted != 0u);
    return rc != ALFA_PORT_OK ? rc
                              : alfa_esp32_flash_init(&o->part[ALFA_SLOT_UPDATE], flash_ops, next_ctx, g.slot_size,
                                                      parts->next_encrypted != 0u);
}

/* Give the handle back to ESP-IDF (it frees its entry). A handle it no longer knows is gone already. */
static void drop_handle(alfa_esp32_ota_t *o)
{
    if (!o->has_handle) {
        return;
    }
    o->has_handle = 0;
    int32_t e = o->ops->abort(o->ctx, o->handle);
    if (e != ALFA_ESP32_ESP_OK && e != ALFA_ESP32_ERR_NOT_FOUND) {
        (void)idf(o, e); /* counted: only memory of ESP-IDF's is at stake, the slot is not touched */
    }
}

/* A handle that writes anywhere: esp_ota_resume without erase (need_erase false). */
static int32_t take_handle(alfa_esp32_ota_t *o, uint32_t image_offset)
{
    uint32_t h = 0;
    int32_t rc = idf(o, o->ops->resume(o->ctx, image_offset, &h));
    if (rc == ALFA_PORT_OK) {
        o->handle = h;
        o->has_handle = 1;
    }
    return rc;
}

static bool running_on_trial(alfa_esp32_ota_t *o)
{
    alfa_slot_state_t s = alfa_esp32_slot_state(o, ALFA_SLOT_RUNNING);
    return s == ALFA_SLOT_PENDING || s == ALFA_SLOT_NEW;
}

int32_t alfa_esp32_slot_begin(void *user, uint8_t resume)
{
    alfa_esp32_ota_t *o = O(user);
    drop_handle(o); /* a new session, or the same one after a CANCEL: a fresh handle */
    if (resume) {
        /* esp_ota_resume does not look at the running app: the rule esp_ota_begin keeps is kept here. */
        return running_on_trial(o) ? ALFA_PORT_E_STATE : take_handle(o, 0);
    }
    uint32_t h = 0;
    int32_t rc = idf(o, o->ops->begin(o->ctx, &h));
    if (rc != ALFA_PORT_OK) {
        return rc;
    }
    /* esp_ota_begin's checks and its invalidation of the slot are done; its handle erases ahead of
     * sequential writes and may not be given to esp_ota_write_with_offset. */
    o->handle = h;
    o->has_handle = 1;
    drop_handle(o);
    return take_handle(o, 0);
}

int32_t alfa_esp32_slot_erase(void *user, uint8_t which, uint32_t sector)
{
    alfa_esp32_ota_t *o = O(user);
    if (which != ALFA_SLOT_UPDATE || sector >= o->geom.slot_size / o->geom.sector_size) {
        return refuse(o); /* the running image is never erased */
    }
    return alfa_esp32_flash_erase(&o->part[ALFA_SLOT_UPDATE], sector);
}

static bool aligned_inside(const alfa_esp32_ota_t *o, uint32_t offset, uint32_t len)
{
    return len > 0u && offset % ALFA_ESP32_OTA_UNIT == 0u && len % ALFA_ESP32_OTA_UNIT == 0u &&
           offset <= o->geom.slot_size && len <= o->geom.slot_size - offset;
}

int32_t alfa_esp32_slot_write(void *user, uint8_t which, uint32_t offset, const void *data, uint32_t len)
{
    alfa_esp32_ota_t *o = O(user);
    if (data == 0 || !aligned_inside(o, offset, len) || which > ALFA_SLOT_UPDATE ||
        (which == ALFA_SLOT_RUNNING && offset < trailer_off(o))) {
        return refuse(o); /* of the running slot only its trailer, never the code */
    }
    if (which == ALFA_SLOT_RUNNING) {
        return alfa_esp32_flash_prog(&o->part[ALFA_SLOT_RUNNING], offset, data, len);
    }
    if (!o->has_handle) {
        o->refused++;
        return ALFA_PORT_E_STATE; /* slot_begin first */
    }
    return idf(o, o->ops->write(o->ctx, o->handle, offset, data, len));
}

int32_t alfa_esp32_slot_read(void *user, uint8_t which, uint32_t offset, void *buf, uint32_t len)
{
    alfa_esp32_ota_t *o = O(user);
    if (which > ALFA_SLOT_UPDATE) {
        return refuse(o);
    }
    return alfa_esp32_flash_read(&o->part[which], offset, buf, len);
}

int32_t alfa_esp32_slot_end(void *user, uint32_t image_size)
{
    alfa_esp32_ota_t *o = O(user);
    if (image_size == 0u || image_size > trailer_off(o)) {
        return refuse(o);
    }
    /* esp_ota_end refuses a handle whose byte count is 0 ("never written to"): after a restart the
     * resumed handle may have written nothing. A handle that says the image is there ends it. */
    drop_handle(o);
    int32_t rc = take_handle(o, image_size);
    if (rc != ALFA_PORT_OK) {
        return rc;
    }
    o->has_handle = 0; /* esp_ota_end frees it, whatever it returns */
    return idf(o, o->ops->end(o->ctx, o->handle));
}

int32_t alfa_esp32_slot_set_boot(void *user)
{
    alfa_esp32_ota_t *o = O(user);
    return idf(o, o->ops->set_boot(o->ctx));
}

int32_t alfa_esp32_slot_confirm(void *user)
{
    alfa_esp32_ota_t *o = O(user);
    return idf(o, o->ops->confirm(o->ctx));
}

alfa_slot_state_t alfa_esp32_slot_state(void *user, uint8_t which)
{
    alfa_esp32_ota_t *o = O(user);
    if (which > ALFA_SLOT_UPDATE) {
        o->refused++;
        return ALFA_SLOT_EMPTY;
    }
    uint32_t st = ALFA_ESP32_IMG_UNDEFINED;
    int32_t e = o->ops->state(o->ctx, which, &st);
    if (e != ALFA_ESP32_ESP_OK && e != ALFA_ESP32_ERR_NOT_FOUND) {
        (void)idf(o, e); /* counted; the mapping below says what an unreadable state means */
    }
    return alfa_esp32_ota_state_of(e, st, which);
}

alfa_esp32_reboot_t alfa_esp32_ota_reboot(alfa_esp32_ota_t *o)
{
    drop_handle(o);
    if (!running_on_trial(o)) {
        o->ops->restart(o->ctx);
        return ALFA_ESP32_REBOOT_RESTART;
    }
    /* Returns only when ESP-IDF found no slot to go back to. */
    int32_t e = o->ops->rollback(o->ctx);
    if (e != ALFA_ESP32_ESP_OK) {
        (void)idf(o, e); /* the restart below is the answer: the bootloader aborts a pending image */
        o->ops->restart(o->ctx);
        return ALFA_ESP32_REBOOT_ROLLBACK_FAILED;
    }
    return ALFA_ESP32_REBOOT_ROLLBACK;
}

/* ESP-IDF v5.5's OTA calls and bootloader as a model over two RAM partitions: otadata entries, handles, NEW -> PENDING_VERIFY -> VALID / INVALID / ABORTED. */
#include "idf_ota_model.h"

#include <string.h>

#define SEQ_ERASED 0xFFFFFFFFu
#define IMAGE_MAGIC 0xE9u /* ESP_IMAGE_HEADER_MAGIC: what esp_image_verify looks at first */

static idf_model_t *M(void *ctx) { return (idf_model_t *)ctx; }
static uint8_t next_slot(const idf_model_t *m) { return (uint8_t)(1u - m->running); }
static uint8_t slot_of(const idf_model_t *m, uint8_t which) { return which == ALFA_SLOT_RUNNING ? m->running : next_slot(m); }

/* bootloader_common_ota_select_valid */
static int entry_valid(const idf_entry_t *e)
{
    return e->seq != SEQ_ERASED && e->crc_ok && e->state != ALFA_ESP32_IMG_INVALID && e->state != ALFA_ESP32_IMG_ABORTED;
}

/* bootloader_common_get_active_otadata: the valid entry with the highest seq */
static int active(const idf_model_t *m)
{
    int v0 = entry_valid(&m->otadata[0]), v1 = entry_valid(&m->otadata[1]);
    if (v0 && v1) {
        return m->otadata[0].seq >= m->otadata[1].seq ? 0 : 1;
    }
    return v0 ? 0 : v1 ? 1 : -1;
}

static int image_ok(const idf_model_t *m, uint8_t slot) { return m->flash[slot][0] == IMAGE_MAGIC; }

void idf_model_init(idf_model_t *m, const uint8_t *image, uint32_t len)
{
    memset(m, 0, sizeof(*m));
    memset(m->flash, 0xFF, sizeof(m->flash));
    memcpy(m->flash[0], image, len);
    for (uint8_t k = 0; k < 2u; k++) {
        m->otadata[k] = (idf_entry_t){SEQ_ERASED, SEQ_ERASED, 0};
        m->part[k] = (idf_part_t){m, k};
    }
}

int idf_model_boot(idf_model_t *m)
{
    m->boots++;
    m->restart_requested = 0;
    memset(m->h, 0, sizeof(m->h)); /* RAM is gone */
    for (int k = 0; k < 2; k++) {
        if (m->otadata[k].crc_ok && m->otadata[k].seq != SEQ_ERASED && m->otadata[k].state == ALFA_ESP32_IMG_PENDING_VERIFY) {
            m->otadata[k].state = ALFA_ESP32_IMG_ABORTED; /* started before and never confirmed */
            m->rollbacks++;
        }
    }
    int a = active(m);
    uint8_t slot = 0;
    if (a < 0) {
        int blank = (m->otadata[0].seq == SEQ_ERASED || !m->otadata[0].crc_ok) &&
                    (m->otadata[1].seq == SEQ_ERASED || !m->otadata[1].crc_ok);
        if (blank && image_ok(m, 0)) {
            m->otadata[0] = (idf_entry_t){1u, ALFA_ESP32_IMG_VALID, 1}; /* set_actual_ota_seq */
        }
    } else {
        slot = (uint8_t)((m->otadata[a].seq - 1u) % 2u);
        if (m->otadata[a].state == ALFA_ESP32_IMG_NEW) {
            m->otadata[a].state = ALFA_ESP32_IMG_PENDING_VERIFY;
        }
    }
    if (!image_ok(m, slot)) {
        slot = (uint8_t)(1u - slot); /* the loader falls back to another app partition */
        if (!image_ok(m, slot)) {
            return -1;
        }
    }
    m->running = slot;
    return slot;
}

int32_t idf_model_state(const idf_model_t *m, uint8_t slot, uint32_t *state)
{
    for (int k = 0; k < 2; k++) {
        const idf_entry_t *e = &m->otadata[k];
        if (e->crc_ok && e->seq != SEQ_ERASED && (e->seq - 1u) % 2u == slot) {
            *state = e->state;
            return ALFA_ESP32_ESP_OK;
        }
    }
    return ALFA_ESP32_ERR_NOT_FOUND;
}

/* ---------------------------------------------------------------- handles */

static int new_handle(idf_model_t *m, int need_erase, uint32_t wrote, uint32_t *out)
{
    for (uint32_t i = 0; i < IDF_HANDLES; i++) {
        if (!m->h[i].used) {
            m->h[i].used = 1;
            m->h[i].id = ++m->last_handle;
            m->h[i].need_erase = need_erase;
            m->h[i].wrote = wrote;
            *out = m->h[i].id;
            return ALFA_ESP32_ESP_OK;
        }
    }
    return ALFA_ESP32_ERR_NO_MEM;
}

static int find_handle(idf_model_t *m, uint32_t id)
{
    for (uint32_t i = 0; i < IDF_HANDLES; i++) {
        if (m->h[i].used && m->h[i].id == id) {
            return (int)i;
        }
    }
    return -1;
}

uint32_t idf_model_open_handles(const idf_model_t *m)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < IDF_HANDLES; i++) {
        n += m->h[i].used ? 1u : 0u;
    }
    return n;
}

/* ---------------------------------------------------------------- flash */

static int32_t prog(idf_model_t *m, uint8_t slot, uint32_t off, const void *data, uint32_t len)
{
    if (off > IDF_PART_SIZE || len > IDF_PART_SIZE - off) {
        return ALFA_ESP32_ERR_INVALID_SIZE;
    }
    const uint8_t *d = data;
    for (uint32_t i = 0; i < len; i++) {
        if (m->flash[slot][off + i] != 0xFFu && d[i] != m->flash[slot][off + i]) {
            m->rule_breaks++;
        }
        m->flash[slot][off + i] &= d[i]; /* NOR: bits only go to 0 */
    }
    m->writes++;
    return ALFA_ESP32_ESP_OK;
}

static int32_t p_read(void *ctx, uint32_t off, void *buf, uint32_t len)
{
    idf_part_t *p = ctx;
    if (off > IDF_PART_SIZE || len > IDF_PART_SIZE - off) {
        return ALFA_PORT_E_RANGE;
    }
    memcpy(buf, &p->m->flash[p->slot][off], len);
    return ALFA_PORT_OK;
}

static int32_t p_write(void *ctx, uint32_t off, const void *buf, uint32_t len)
{
    idf_part_t *p = ctx;
    return alfa_esp32_ota_err(prog(p->m, p->slot, off, buf, len));
}

static int32_t p_erase(void *ctx, uint32_t off, uint32_t len)
{
    idf_part_t *p = ctx;
    if (off % 4096u != 0u || len % 4096u != 0u || off > IDF_PART_SIZE || len > IDF_PART_SIZE - off) {
        p->m->rule_breaks++;
        return ALFA_PORT_E_RANGE;
    }
    memset(&p->m->flash[p->slot][off], 0xFF, len);
    p->m->erases++;
    return ALFA_PORT_OK;
}

const alfa_esp32_flash_ops_t idf_model_flash_ops = {p_read, p_read, p_write, p_erase};

/* ---------------------------------------------------------------- esp_ota_* */

static int32_t o_begin(void *ctx, uint32_t *h)
{
    idf_model_t *m = M(ctx);
    uint32_t st;
    if (idf_model_state(m, m->running, &st) == ALFA_ESP32_ESP_OK && st == ALFA_ESP32_IMG_PENDING_VERIFY) {
        return ALFA_ESP32_ERR_OTA_ROLLBACK_INVALID_STATE;
    }
    int32_t e = new_handle(m, 1, 0, h);
    if (e != ALFA_ESP32_ESP_OK) {
        return e;
    }
    m->begins++;
    /* esp_ota_invalidate_inactive_ota_data_slot (its result is ignored by esp_ota_begin) */
    int a = active(m);
    if (a >= 0) {
        idf_entry_t *in = &m->otadata[1 - a];
        if (in->seq != SEQ_ERASED && in->crc_ok && (in->seq - 1u) % 2u != m->running) {
            *in = (idf_entry_t){SEQ_ERASED, SEQ_ERASED, 0};
        }
    }
    return ALFA_ESP32_ESP_OK;
}

static int32_t o_resume(void *ctx, uint32_t offset, uint32_t *h)
{
    idf_model_t *m = M(ctx);
    if (offset > IDF_PART_SIZE) {
        return ALFA_ESP32_ERR_INVALID_ARG;
    }
    m->resumes++;
    return new_handle(m, 0, offset, h);
}

static int32_t o_write(void *ctx, uint32_t h, uint32_t off, const void *data, uint32_t len)
{
    idf_model_t *m = M(ctx);
    int i = find_handle(m, h);
    if (i < 0) {
        return ALFA_ESP32_ERR_INVALID_ARG;
    }
    if (m->h[i].need_erase) {
        m->asserts++; /* assert(it->need_erase == 0): the chip would abort here */
        return ALFA_ESP32_ERR_INVALID_STATE;
    }
    int32_t e = prog(m, next_slot(m), off, data, len);
    if (e == ALFA_ESP32_ESP_OK) {
        m->h[i].wrote += len;
    }
    return e;
}

static int32_t o_end(void *ctx, uint32_t h)
{
    idf_model_t *m = M(ctx);
    int i = find_handle(m, h);
    if (i < 0) {
        return ALFA_ESP32_ERR_NOT_FOUND;
    }
    uint32_t wrote = m->h[i].wrote;
    m->h[i].used = 0; /* freed whatever happens */
    m->ends++;
    if (wrote == 0u) {
        return ALFA_ESP32_ERR_INVALID_ARG;
    }
    return image_ok(m, next_slot(m)) ? ALFA_ESP32_ESP_OK : ALFA_ESP32_ERR_OTA_VALIDATE_FAILED;
}

static int32_t o_abort(void *ctx, uint32_t h)
{
    idf_model_t *m = M(ctx);
    int i = find_handle(m, h);
    if (i < 0) {
        return ALFA_ESP32_ERR_NOT_FOUND;
    }
    m->h[i].used = 0;
    return ALFA_ESP32_ESP_OK;
}

static int32_t o_set_boot(void *ctx)
{
    idf_model_t *m = M(ctx);
    uint8_t slot = next_slot(m);
    if (m->fail_set_boot) {
        m->fail_set_boot = 0;
        return ALFA_ESP32_ERR_FLASH_OP_FAIL;
    }
    if (!image_ok(m, slot)) {
        return ALFA_ESP32_ERR_OTA_VALIDATE_FAILED;
    }
    int a = active(m);
    if (a < 0) {
        m->otadata[0] = (idf_entry_t){slot + 1u, ALFA_ESP32_IMG_NEW, 1};
        return ALFA_ESP32_ESP_OK;
    }
    /* esp_rewrite_ota_data: the smallest seq >= the active one that selects `slot`, into the other entry */
    uint32_t seq = m->otadata[a].seq, i = 0;
    while (seq > (slot + 1u) % 2u + i * 2u) {
        i++;
    }
    m->otadata[1 - a] = (idf_entry_t){(slot + 1u) % 2u + i * 2u, ALFA_ESP32_IMG_NEW, 1};
    return ALFA_ESP32_ESP_OK;
}

static int32_t o_confirm(void *ctx)
{
    idf_model_t *m = M(ctx);
    int a = active(m);
    if (a < 0) {
        return ALFA_ESP32_ESP_FAIL; /* "Running firmware is factory" */
    }
    m->otadata[a].state = ALFA_ESP32_IMG_VALID;
    return ALFA_ESP32_ESP_OK;
}

static int32_t o_state(void *ctx, uint8_t which, uint32_t *st)
{
    idf_model_t *m = M(ctx);
    return idf_model_state(m, slot_of(m, which), st);
}

static int32_t o_rollback(void *ctx)
{
    idf_model_t *m = M(ctx);
    int a = active(m);
    if (a < 0) {
        return ALFA_ESP32_ESP_FAIL;
    }
    /* esp_ota_check_rollback_is_possible: the other entry valid and its slot holding an image */
    const idf_entry_t *o = &m->otadata[1 - a];
    if (!entry_valid(o) || !image_ok(m, (uint8_t)((o->seq - 1u) % 2u))) {
        return ALFA_ESP32_ERR_OTA_ROLLBACK_FAILED;
    }
    m->otadata[a].state = ALFA_ESP32_IMG_INVALID;
    m->restarts++;
    m->restart_requested = 1; /* esp_restart: on the chip this call does not return */
    return ALFA_ESP32_ESP_OK;
}

static void o_restart(void *ctx)
{
    idf_model_t *m = M(ctx);
    m->restarts++;
    m->restart_requested = 1;
}

const alfa_esp32_ota_ops_t idf_model_ops = {o_begin, o_resume, o_write, o_end, o_abort, o_set_boot,
                                            o_confirm, o_state, o_rollback, o_restart};

int32_t idf_model_port(idf_model_t *m, alfa_esp32_ota_t *o)
{
    alfa_esp32_ota_parts_t p = {IDF_PART_SIZE, IDF_PART_SIZE, 4096u, 4096u, 1, 1, 0, 0};
    return alfa_esp32_ota_init(o, &idf_model_ops, m, &idf_model_flash_ops, &m->part[m->running],
                               &m->part[next_slot(m)], &p);
}

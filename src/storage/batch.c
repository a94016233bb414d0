/* Kafka RecordBatch v2 codec. A batch, as it sits in a segment file (all fixed-width fields
 * big-endian, as Kafka writes them):
 *
 *  0        8            12           16    17     21     23               27
 *  +--------+------------+------------+-----+------+------+----------------+
 *  | base   | batch      | partition  |magic| crc  | attr | last offset    |
 *  | offset | length     | leader ep. | =2  | 32c  | (16) | delta (32)     |
 *  +--------+------------+------------+-----+------+------+----------------+
 *  27             35             43          51       53        57      61
 *  +--------------+--------------+-----------+--------+---------+-------+---------
 *  | base         | max          | producer  | prod.  | base    | count | records…
 *  | timestamp    | timestamp    | id (-1)   | ep(-1) | seq(-1) |       |
 *  +--------------+--------------+-----------+--------+---------+-------+---------
 *
 * batch length counts the bytes after itself; the CRC32C covers attributes to the end. Each
 * record: length varint | attributes int8 | timestamp delta varlong | offset delta varint |
 * key length varint (-1 = null) | key | value length varint | value | header count varint |
 * headers (key length varint, key, value length varint, value). */
#include "storage/batch.h"

#include <assert.h>

#include "core/crc32c.h"
#include "core/varint.h"
#include "sluice.h"

int sl_batch_begin(sl_batch_builder_t *b, sl_buf_t *out) {
    b->out = out;
    b->start = out->len;
    b->count = 0;
    b->base_ts = b->max_ts = 0;
    if (sl_buf_reserve(out, SL_BATCH_HEADER_SIZE)) return -SL_ENOMEM;
    memset(out->data + out->len, 0, SL_BATCH_HEADER_SIZE);
    out->len += SL_BATCH_HEADER_SIZE;
    return 0;
}

int sl_batch_add(sl_batch_builder_t *b, int64_t timestamp, const char *key, int32_t key_len,
                 const char *value, int32_t value_len) {
    if (b->count == 0) b->base_ts = b->max_ts = timestamp;
    if (timestamp > b->max_ts) b->max_ts = timestamp;
    int64_t ts_delta = timestamp - b->base_ts;
    int32_t kl = key ? key_len : -1, vl = value ? value_len : -1;
    size_t body = 1 + sl_varlong_size(ts_delta) + sl_varint_size(b->count) + sl_varint_size(kl) +
                  (kl > 0 ? (size_t)kl : 0) + sl_varint_size(vl) + (vl > 0 ? (size_t)vl : 0) +
                  sl_varint_size(0);
    if (body > SL_BATCH_MAX_BYTES) return -SL_ETOOBIG;
    if (sl_buf_reserve(b->out, body + SL_VARINT_MAX)) return -SL_ENOMEM;
    unsigned char *p = (unsigned char *)b->out->data + b->out->len, *s = p;
    p += sl_varint_put(p, (int32_t)body);
    *p++ = 0; /* record attributes: unused */
    p += sl_varlong_put(p, ts_delta);
    p += sl_varint_put(p, b->count);
    p += sl_varint_put(p, kl);
    if (kl > 0) {
        memcpy(p, key, (size_t)kl);
        p += kl;
    }
    p += sl_varint_put(p, vl);
    if (vl > 0) {
        memcpy(p, value, (size_t)vl);
        p += vl;
    }
    p += sl_varint_put(p, 0); /* no headers */
    b->out->len += (size_t)(p - s);
    b->count++;
    return 0;
}

int sl_batch_finish(sl_batch_builder_t *b) {
    assert(b->count > 0);
    size_t total = b->out->len - b->start;
    if (total > SL_BATCH_MAX_BYTES) return -SL_ETOOBIG;
    unsigned char *h = (unsigned char *)b->out->data + b->start;
    sl_be64_put(h + 0, 0);
    sl_be32_put(h + 8, (uint32_t)(total - SL_BATCH_LOG_OVERHEAD));
    sl_be32_put(h + 12, 0);
    h[16] = SL_BATCH_MAGIC;
    sl_be16_put(h + 21, 0); /* no compression, CreateTime, not transactional */
    sl_be32_put(h + 23, (uint32_t)(b->count - 1));
    sl_be64_put(h + 27, (uint64_t)b->base_ts);
    sl_be64_put(h + 35, (uint64_t)b->max_ts);
    sl_be64_put(h + 43, (uint64_t)-1);
    sl_be16_put(h + 51, (uint16_t)-1);
    sl_be32_put(h + 53, (uint32_t)-1);
    sl_be32_put(h + 57, (uint32_t)b->count);
    sl_be32_put(h + 17, sl_crc32c(0, h + 21, total - 21));
    return 0;
}

void sl_batch_set_base_offset(char *batch, int64_t base_offset) {
    sl_be64_put((unsigned char *)batch, (uint64_t)base_offset);
}

int sl_batch_parse_header(const char *p, size_t avail, sl_batch_header_t *h) {
    const unsigned char *u = (const unsigned char *)p;
    if (avail < SL_BATCH_HEADER_SIZE) return -SL_ERANGE;
    h->base_offset = (int64_t)sl_be64_get(u);
    h->length = (int32_t)sl_be32_get(u + 8);
    h->leader_epoch = (int32_t)sl_be32_get(u + 12);
    h->magic = (int8_t)u[16];
    h->crc = sl_be32_get(u + 17);
    h->attributes = (int16_t)sl_be16_get(u + 21);
    h->last_offset_delta = (int32_t)sl_be32_get(u + 23);
    h->base_timestamp = (int64_t)sl_be64_get(u + 27);
    h->max_timestamp = (int64_t)sl_be64_get(u + 35);
    h->producer_id = (int64_t)sl_be64_get(u + 43);
    h->producer_epoch = (int16_t)sl_be16_get(u + 51);
    h->base_sequence = (int32_t)sl_be32_get(u + 53);
    h->count = (int32_t)sl_be32_get(u + 57);
    if (h->magic != SL_BATCH_MAGIC) return -SL_ECORRUPT;
    if (h->length < SL_BATCH_HEADER_SIZE - SL_BATCH_LOG_OVERHEAD ||
        (uint32_t)h->length > SL_BATCH_MAX_BYTES)
        return -SL_ECORRUPT;
    if (h->base_offset < 0 || h->count < 0 || h->last_offset_delta < 0 ||
        h->base_offset >= INT64_MAX - h->last_offset_delta) /* base + delta + 1 must fit */
        return -SL_ECORRUPT;
    if (avail < sl_batch_size(h)) return -SL_ERANGE;
    return 0;
}

int sl_batch_check_crc(const char *p, const sl_batch_header_t *h) {
    size_t total = sl_batch_size(h);
    uint32_t crc = sl_crc32c(0, p + 21, total - 21);
    return crc == h->crc ? 0 : -SL_ECORRUPT;
}

void sl_batch_iter_init(sl_batch_iter_t *it, const char *batch, const sl_batch_header_t *h) {
    it->p = (const unsigned char *)batch + SL_BATCH_HEADER_SIZE;
    it->end = (const unsigned char *)batch + sl_batch_size(h);
    it->h = *h;
    it->index = 0;
}

int sl_batch_iter_next(sl_batch_iter_t *it, sl_batch_record_t *r) {
    if (it->index >= it->h.count) return 0;
    const unsigned char *p = it->p, *end = it->end;
    int32_t len, od, kl, vl, hc;
    int64_t td;
    size_t n;
#define GETV(fn, var)                                                                              \
    do {                                                                                           \
        if (!(n = fn(p, (size_t)(end - p), &(var)))) return -SL_ECORRUPT;                          \
        p += n;                                                                                    \
    } while (0)
    GETV(sl_varint_get, len);
    if (len < 0 || len > end - p) return -SL_ECORRUPT;
    end = p + len; /* the record's own end: every field must fit inside it */
    if (p >= end) return -SL_ECORRUPT;
    p++; /* attributes */
    GETV(sl_varlong_get, td);
    GETV(sl_varint_get, od);
    GETV(sl_varint_get, kl);
    if (kl < -1 || (kl > 0 && kl > end - p)) return -SL_ECORRUPT;
    r->key = kl >= 0 ? (const char *)p : NULL;
    r->key_len = kl > 0 ? kl : 0;
    p += kl > 0 ? kl : 0;
    GETV(sl_varint_get, vl);
    if (vl < -1 || (vl > 0 && vl > end - p)) return -SL_ECORRUPT;
    r->value = vl >= 0 ? (const char *)p : NULL;
    r->value_len = vl > 0 ? vl : 0;
    p += vl > 0 ? vl : 0;
    GETV(sl_varint_get, hc);
    if (hc < 0) return -SL_ECORRUPT;
    for (int32_t i = 0; i < hc; i++) {
        int32_t hl;
        GETV(sl_varint_get, hl);
        if (hl < 0 || hl > end - p) return -SL_ECORRUPT;
        p += hl;
        GETV(sl_varint_get, hl);
        if (hl < -1 || (hl > 0 && hl > end - p)) return -SL_ECORRUPT;
        p += hl > 0 ? hl : 0;
    }
#undef GETV
    if (p != end || od < 0 || od > it->h.last_offset_delta) return -SL_ECORRUPT;
    r->offset = it->h.base_offset + od;
    r->timestamp = (int64_t)((uint64_t)it->h.base_timestamp + (uint64_t)td); /* wraps, as Java */
    r->header_count = hc;
    it->p = end;
    it->index++;
    return 1;
}

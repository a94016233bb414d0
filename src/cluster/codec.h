/* Binary encoding of cluster messages and Raft entries: big-endian integers and length-prefixed
 * strings written into an sl_buf_t, read back with bounds checks (a short or malformed message
 * sets r->bad instead of reading past its end). */
#ifndef SL_CLUSTER_CODEC_H
#define SL_CLUSTER_CODEC_H

#include <stdint.h>
#include <string.h>

#include "core/buf.h"

static inline int sl_w_u8(sl_buf_t *b, uint8_t v) { return sl_buf_append(b, &v, 1); }
static inline int sl_w_u32(sl_buf_t *b, uint32_t v) {
    unsigned char p[4];
    sl_be32_put(p, v);
    return sl_buf_append(b, p, 4);
}
static inline int sl_w_u64(sl_buf_t *b, uint64_t v) {
    unsigned char p[8];
    sl_be64_put(p, v);
    return sl_buf_append(b, p, 8);
}
static inline int sl_w_i64(sl_buf_t *b, int64_t v) { return sl_w_u64(b, (uint64_t)v); }
static inline int sl_w_bytes(sl_buf_t *b, const void *p, size_t n) {
    return sl_w_u32(b, (uint32_t)n) || sl_buf_append(b, p, n);
}
static inline int sl_w_str(sl_buf_t *b, const char *s) { return sl_w_bytes(b, s, strlen(s)); }

typedef struct sl_reader {
    const unsigned char *p, *end;
    int bad;
} sl_reader_t;

static inline void sl_r_init(sl_reader_t *r, const void *p, size_t n) {
    r->p = p;
    r->end = r->p + n;
    r->bad = 0;
}
static inline int sl_r_has(sl_reader_t *r, size_t n) {
    if (r->bad || (size_t)(r->end - r->p) < n) {
        r->bad = 1;
        return 0;
    }
    return 1;
}
static inline uint8_t sl_r_u8(sl_reader_t *r) { return sl_r_has(r, 1) ? *r->p++ : 0; }
static inline uint32_t sl_r_u32(sl_reader_t *r) {
    if (!sl_r_has(r, 4)) return 0;
    uint32_t v = sl_be32_get(r->p);
    r->p += 4;
    return v;
}
static inline uint64_t sl_r_u64(sl_reader_t *r) {
    if (!sl_r_has(r, 8)) return 0;
    uint64_t v = sl_be64_get(r->p);
    r->p += 8;
    return v;
}
static inline int64_t sl_r_i64(sl_reader_t *r) { return (int64_t)sl_r_u64(r); }
/* A length-prefixed byte string: *n gets its length; the pointer is into the message. */
static inline const char *sl_r_bytes(sl_reader_t *r, size_t *n) {
    uint32_t len = sl_r_u32(r);
    if (!sl_r_has(r, len)) {
        *n = 0;
        return NULL;
    }
    const char *s = (const char *)r->p;
    r->p += len;
    *n = len;
    return s;
}
/* A string copied into out (NUL-terminated); bad if it does not fit. */
static inline void sl_r_str(sl_reader_t *r, char *out, size_t cap) {
    size_t n;
    const char *s = sl_r_bytes(r, &n);
    if (!s || n >= cap) {
        r->bad = 1;
        if (cap) out[0] = 0;
        return;
    }
    memcpy(out, s, n);
    out[n] = 0;
}

#endif

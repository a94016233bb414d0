/* Zig-zag varint codec for the Kafka record format; see varint.h. */
#include "core/varint.h"

static size_t uvarint_put(unsigned char *p, uint64_t u) {
    size_t n = 0;
    while (u >= 0x80) {
        p[n++] = (unsigned char)(u | 0x80);
        u >>= 7;
    }
    p[n++] = (unsigned char)u;
    return n;
}

static size_t uvarint_size(uint64_t u) {
    size_t n = 1;
    while (u >= 0x80) {
        u >>= 7;
        n++;
    }
    return n;
}

static size_t uvarint_get(const unsigned char *p, size_t len, size_t max, uint64_t *out) {
    uint64_t u = 0;
    for (size_t i = 0; i < len && i < max; i++) {
        u |= (uint64_t)(p[i] & 0x7f) << (7 * i);
        if (!(p[i] & 0x80)) {
            *out = u;
            return i + 1;
        }
    }
    return 0;
}

size_t sl_varint_put(unsigned char *p, int32_t v) {
    return uvarint_put(p, (uint32_t)(((uint32_t)v << 1) ^ (uint32_t)(v >> 31)));
}
size_t sl_varlong_put(unsigned char *p, int64_t v) {
    return uvarint_put(p, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}
size_t sl_varint_size(int32_t v) {
    return uvarint_size((uint32_t)(((uint32_t)v << 1) ^ (uint32_t)(v >> 31)));
}
size_t sl_varlong_size(int64_t v) { return uvarint_size(((uint64_t)v << 1) ^ (uint64_t)(v >> 63)); }

size_t sl_varint_get_slow(const unsigned char *p, size_t len, int32_t *out) {
    uint64_t u;
    size_t n = uvarint_get(p, len, SL_VARINT_MAX, &u);
    if (n == 0 || u > 0xffffffffu) return 0;
    uint32_t w = (uint32_t)u;
    *out = (int32_t)((w >> 1) ^ (~(w & 1) + 1));
    return n;
}

size_t sl_varlong_get_slow(const unsigned char *p, size_t len, int64_t *out) {
    uint64_t u;
    size_t n = uvarint_get(p, len, SL_VARLONG_MAX, &u);
    if (n == 0 || (n == SL_VARLONG_MAX && p[n - 1] > 1)) return 0;
    *out = (int64_t)((u >> 1) ^ (~(u & 1) + 1));
    return n;
}

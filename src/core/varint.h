/* Zig-zag varints as Kafka's record format writes them (protobuf's sint32/sint64 encoding). */
#ifndef SL_CORE_VARINT_H
#define SL_CORE_VARINT_H
#include <stddef.h>
#include <stdint.h>

#define SL_VARINT_MAX 5   /* bytes of a 32-bit varint */
#define SL_VARLONG_MAX 10 /* bytes of a 64-bit varint */

/* Write v at p (room for SL_VARLONG_MAX bytes); return the bytes written. */
size_t sl_varint_put(unsigned char *p, int32_t v);
size_t sl_varlong_put(unsigned char *p, int64_t v);
size_t sl_varint_size(int32_t v);
size_t sl_varlong_size(int64_t v);
/* Read from p[0..len); return bytes read, or 0 if truncated or over-long (malformed). */
size_t sl_varint_get_slow(const unsigned char *p, size_t len, int32_t *out);
size_t sl_varlong_get_slow(const unsigned char *p, size_t len, int64_t *out);

/* Inline fast paths for one and two bytes (record lengths, deltas, key and value sizes). */
static inline size_t sl_varint_get(const unsigned char *p, size_t len, int32_t *out) {
    if (len >= 1 && !(p[0] & 0x80)) {
        *out = (int32_t)((uint32_t)(p[0] >> 1) ^ (~(uint32_t)(p[0] & 1) + 1));
        return 1;
    }
    if (len >= 2 && !(p[1] & 0x80)) {
        uint32_t u = (uint32_t)(p[0] & 0x7f) | (uint32_t)p[1] << 7;
        *out = (int32_t)((u >> 1) ^ (~(u & 1) + 1));
        return 2;
    }
    return sl_varint_get_slow(p, len, out);
}
static inline size_t sl_varlong_get(const unsigned char *p, size_t len, int64_t *out) {
    if (len >= 1 && !(p[0] & 0x80)) {
        *out = (int64_t)((uint64_t)(p[0] >> 1) ^ (~(uint64_t)(p[0] & 1) + 1));
        return 1;
    }
    if (len >= 2 && !(p[1] & 0x80)) {
        uint64_t u = (uint64_t)(p[0] & 0x7f) | (uint64_t)p[1] << 7;
        *out = (int64_t)((u >> 1) ^ (~(u & 1) + 1));
        return 2;
    }
    return sl_varlong_get_slow(p, len, out);
}

#endif

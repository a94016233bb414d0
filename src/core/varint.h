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
size_t sl_varint_get(const unsigned char *p, size_t len, int32_t *out);
size_t sl_varlong_get(const unsigned char *p, size_t len, int64_t *out);

#endif

/* Growable byte buffers and big-endian field access, for codecs and response building. */
#ifndef SL_CORE_BUF_H
#define SL_CORE_BUF_H
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct sl_buf {
    char *data;
    size_t len, cap;
} sl_buf_t;

#define SL_BUF_INIT {NULL, 0, 0}

int sl_buf_reserve(sl_buf_t *b, size_t extra); /* room for extra more bytes; 0 or -SL_ENOMEM */
int sl_buf_append(sl_buf_t *b, const void *p, size_t n);
int sl_buf_printf(sl_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int sl_buf_vprintf(sl_buf_t *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* Appends s as the contents of a JSON string (without quotes), escaping as RFC 8259 requires.
 * Bytes are copied as they are (the caller guarantees UTF-8 or accepts it as is). */
int sl_buf_json_escape(sl_buf_t *b, const char *s, size_t n);
int sl_buf_append_u64(sl_buf_t *b, uint64_t v);
size_t sl_u64_to_dec(char *out, uint64_t v); /* writes at most 20 bytes, no NUL */
int sl_buf_append_i64(sl_buf_t *b, int64_t v);
void sl_buf_free(sl_buf_t *b);
/* Hands the bytes to the caller (who frees them) and resets b. */
char *sl_buf_steal(sl_buf_t *b, size_t *len);

static inline int sl_buf_putc(sl_buf_t *b, char c) {
    if (b->len + 1 > b->cap && sl_buf_reserve(b, 1)) return -1;
    b->data[b->len++] = c;
    return 0;
}
#define sl_buf_lit(b, s) sl_buf_append((b), (s), sizeof(s) - 1)

static inline void sl_be16_put(unsigned char *p, uint16_t v) {
    p[0] = (unsigned char)(v >> 8);
    p[1] = (unsigned char)v;
}
static inline void sl_be32_put(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}
static inline void sl_be64_put(unsigned char *p, uint64_t v) {
    sl_be32_put(p, (uint32_t)(v >> 32));
    sl_be32_put(p + 4, (uint32_t)v);
}
static inline uint16_t sl_be16_get(const unsigned char *p) {
    return (uint16_t)((uint16_t)p[0] << 8 | p[1]);
}
static inline uint32_t sl_be32_get(const unsigned char *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline uint64_t sl_be64_get(const unsigned char *p) {
    return (uint64_t)sl_be32_get(p) << 32 | sl_be32_get(p + 4);
}

#endif

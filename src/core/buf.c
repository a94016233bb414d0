/* Growable byte buffers; see buf.h. Growth doubles, so appends are amortised O(1). */
#include "core/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "sluice.h"

int sl_buf_reserve(sl_buf_t *b, size_t extra) {
    if (b->len + extra <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra) cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p) return -SL_ENOMEM;
    b->data = p;
    b->cap = cap;
    return 0;
}

int sl_buf_append(sl_buf_t *b, const void *p, size_t n) {
    if (n == 0) return 0;
    if (sl_buf_reserve(b, n)) return -SL_ENOMEM;
    memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

int sl_buf_vprintf(sl_buf_t *b, const char *fmt, va_list ap) {
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0) return -SL_EINVAL;
    if (sl_buf_reserve(b, (size_t)n + 1)) return -SL_ENOMEM;
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return 0;
}

int sl_buf_printf(sl_buf_t *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int rc = sl_buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

int sl_buf_json_escape(sl_buf_t *b, const char *s, size_t n) {
    static const char hex[] = "0123456789abcdef";
    if (sl_buf_reserve(b, n + 2)) return -SL_ENOMEM;
    size_t start = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        if (sl_buf_append(b, s + start, i - start)) return -SL_ENOMEM;
        char esc[6] = {'\\', 0};
        size_t el = 2;
        switch (c) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        default:
            esc[1] = 'u';
            esc[2] = '0';
            esc[3] = '0';
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            el = 6;
        }
        if (sl_buf_append(b, esc, el)) return -SL_ENOMEM;
        start = i + 1;
    }
    return sl_buf_append(b, s + start, n - start);
}

static const char digit_pairs[201] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

size_t sl_u64_to_dec(char *out, uint64_t v) {
    char tmp[24];
    size_t i = sizeof(tmp);
    while (v >= 100) { /* two digits per division */
        unsigned d = (unsigned)(v % 100) * 2;
        v /= 100;
        tmp[--i] = digit_pairs[d + 1];
        tmp[--i] = digit_pairs[d];
    }
    if (v >= 10) {
        unsigned d = (unsigned)v * 2;
        tmp[--i] = digit_pairs[d + 1];
        tmp[--i] = digit_pairs[d];
    } else {
        tmp[--i] = (char)('0' + v);
    }
    memcpy(out, tmp + i, sizeof(tmp) - i);
    return sizeof(tmp) - i;
}

int sl_buf_append_u64(sl_buf_t *b, uint64_t v) {
    if (sl_buf_reserve(b, 24)) return -SL_ENOMEM;
    b->len += sl_u64_to_dec(b->data + b->len, v);
    return 0;
}

int sl_buf_append_i64(sl_buf_t *b, int64_t v) {
    if (v < 0) {
        if (sl_buf_putc(b, '-')) return -SL_ENOMEM;
        return sl_buf_append_u64(b, (uint64_t)0 - (uint64_t)v);
    }
    return sl_buf_append_u64(b, (uint64_t)v);
}

void sl_buf_free(sl_buf_t *b) {
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

char *sl_buf_steal(sl_buf_t *b, size_t *len) {
    char *p = b->data;
    if (len) *len = b->len;
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}

/* SQL types and the runtime value cell shared by the binder (sql/) and the executor (exec/).
 *
 * A value does not carry its type: every expression's type is fixed by the binder, so a value
 * is a NULL flag plus a payload whose meaning that type gives:
 *
 *   BOOLEAN    i = 0 or 1          TIMESTAMP(3)  i = milliseconds since 1970-01-01T00:00:00Z (UTC)
 *   BIGINT     i                   INTERVAL      i = milliseconds (day-time intervals only)
 *   DOUBLE     d                   VARCHAR       s.p[0..s.n) = UTF-8 bytes, not NUL-terminated,
 *                                                owned by whoever produced it (an event buffer,
 *                                                a batch arena, a state table)                */
#ifndef SL_SQL_TYPES_H
#define SL_SQL_TYPES_H
#include <stdint.h>

typedef enum sl_type {
    SL_TYPE_NULL = 0,      /* only the type of a bare NULL literal; coerces to anything */
    SL_TYPE_BOOLEAN,
    SL_TYPE_BIGINT,
    SL_TYPE_DOUBLE,
    SL_TYPE_VARCHAR,
    SL_TYPE_TIMESTAMP,
    SL_TYPE_INTERVAL,
} sl_type_t;

typedef struct sl_value {
    uint8_t null;          /* 1 = SQL NULL; the payload is then meaningless */
    union {
        int64_t i;
        double d;
        struct {
            const char *p;
            uint32_t n;
        } s;
    } u;
} sl_value_t;

/* "BIGINT", "TIMESTAMP(3)", ... */
const char *sl_type_name(sl_type_t t);
static inline int sl_type_numeric(sl_type_t t) { return t == SL_TYPE_BIGINT || t == SL_TYPE_DOUBLE; }

#endif

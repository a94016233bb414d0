/* Reading chosen fields out of JSON events by JSON Pointer, in one pass over each event and
 * without building a tree (yajl's callback parser). The continuous-query scan uses it: each
 * event's JSON is scanned once and only the referenced columns are extracted. */
#ifndef SL_JSON_EXTRACT_H
#define SL_JSON_EXTRACT_H
#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"

typedef struct sl_jx sl_jx_t;

typedef struct sl_jx_field {
    int kind;              /* SL_J_NONE (absent), SL_J_NULL, SL_J_BOOL, SL_J_NUMBER, SL_J_STRING,
                              SL_J_OBJECT, SL_J_ARRAY (json/doc.h) */
    int b;                 /* SL_J_BOOL */
    const char *p;         /* NUMBER: its text; STRING: unescaped UTF-8 (in the arena);
                              OBJECT/ARRAY: the value's JSON text (in the event) */
    size_t n;
} sl_jx_field_t;

#define SL_JX_MAX_FIELDS 64

/* An extractor for n pointers (each "/a/b" — object members only; "" is refused). 0 or -1. */
int sl_jx_new(const char *const *pointers, int n, sl_jx_t **out);
void sl_jx_free(sl_jx_t *x);
/* Fills fields[0..n) for one event. Strings that needed unescaping are copied into arena.
 * 0, or -1 if the text is not one valid JSON value. */
int sl_jx_run(sl_jx_t *x, const char *json, size_t len, sl_jx_field_t *fields, sl_arena_t *arena);

#endif

/* yajl_tree behind sl_jdoc/sl_jval (see doc.h). The text is validated by the event parser
 * first, so nesting and UTF-8 are checked the same way everywhere. */
#include "json/doc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_tree.h>

struct sl_jdoc {
    yajl_val root;
};

int sl_jdoc_parse(const char *text, size_t len, sl_jdoc_t **out, sl_json_error_t *err) {
    if (sl_json_validate(text, len, SL_JSON_MAX_DEPTH, err)) return -1;
    char msg[256];
    sl_jdoc_t *d = malloc(sizeof(*d));
    if (!d) return -1;
    d->root = yajl_tree_parse(text, msg, sizeof(msg));
    if (!d->root) {
        memset(err, 0, sizeof(*err));
        err->status = 400;
        err->code = "invalid_json";
        err->index = -1;
        snprintf(err->message, sizeof(err->message), "%s", msg);
        free(d);
        return -1;
    }
    *out = d;
    return 0;
}

void sl_jdoc_free(sl_jdoc_t *d) {
    if (!d) return;
    yajl_tree_free(d->root);
    free(d);
}

const sl_jval_t *sl_jdoc_root(const sl_jdoc_t *d) { return (const sl_jval_t *)d->root; }

int sl_jval_type(const sl_jval_t *jv) {
    yajl_val v = (yajl_val)jv;
    if (!v) return SL_J_NONE;
    switch (v->type) {
    case yajl_t_string: return SL_J_STRING;
    case yajl_t_number: return SL_J_NUMBER;
    case yajl_t_object: return SL_J_OBJECT;
    case yajl_t_array: return SL_J_ARRAY;
    case yajl_t_true:
    case yajl_t_false: return SL_J_BOOL;
    case yajl_t_null: return SL_J_NULL;
    default: return SL_J_NONE;
    }
}

const sl_jval_t *sl_jval_get(const sl_jval_t *jo, const char *key) {
    yajl_val o = (yajl_val)jo;
    if (!o || o->type != yajl_t_object) return NULL;
    for (size_t i = 0; i < o->u.object.len; i++)
        if (strcmp(o->u.object.keys[i], key) == 0) return (const sl_jval_t *)o->u.object.values[i];
    return NULL;
}

size_t sl_jval_len(const sl_jval_t *jv) {
    yajl_val v = (yajl_val)jv;
    if (!v) return 0;
    if (v->type == yajl_t_array) return v->u.array.len;
    if (v->type == yajl_t_object) return v->u.object.len;
    return 0;
}

const sl_jval_t *sl_jval_at(const sl_jval_t *ja, size_t i) {
    yajl_val a = (yajl_val)ja;
    if (!a || a->type != yajl_t_array || i >= a->u.array.len) return NULL;
    return (const sl_jval_t *)a->u.array.values[i];
}

const char *sl_jval_key_at(const sl_jval_t *jo, size_t i) {
    yajl_val o = (yajl_val)jo;
    if (!o || o->type != yajl_t_object || i >= o->u.object.len) return NULL;
    return o->u.object.keys[i];
}

const char *sl_jval_str(const sl_jval_t *jv) {
    yajl_val v = (yajl_val)jv;
    return v && v->type == yajl_t_string ? v->u.string : NULL;
}

int sl_jval_int(const sl_jval_t *jv, int64_t *out) {
    yajl_val v = (yajl_val)jv;
    if (!v || v->type != yajl_t_number || !(v->u.number.flags & YAJL_NUMBER_INT_VALID)) return -1;
    *out = v->u.number.i;
    return 0;
}

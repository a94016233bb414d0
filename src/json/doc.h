/* Small JSON documents (request bodies of the control endpoints) as trees, through yajl_tree.
 * For event bodies use event.h, which never builds a tree. */
#ifndef SL_JSON_DOC_H
#define SL_JSON_DOC_H

#include <stddef.h>
#include <stdint.h>

#include "json/event.h"

typedef struct sl_jval sl_jval_t;   /* opaque: a node of the tree */
typedef struct sl_jdoc sl_jdoc_t;

enum { SL_J_NONE = 0, SL_J_NULL, SL_J_BOOL, SL_J_NUMBER, SL_J_STRING, SL_J_OBJECT, SL_J_ARRAY };

/* Parses a NUL-terminated text of len bytes (depth-checked first). 0, or -1 with err filled. */
int sl_jdoc_parse(const char *text, size_t len, sl_jdoc_t **out, sl_json_error_t *err);
void sl_jdoc_free(sl_jdoc_t *d);
const sl_jval_t *sl_jdoc_root(const sl_jdoc_t *d);

int sl_jval_type(const sl_jval_t *v);                      /* SL_J_* (SL_J_NONE for NULL) */
const sl_jval_t *sl_jval_get(const sl_jval_t *obj, const char *key); /* NULL if absent */
size_t sl_jval_len(const sl_jval_t *v);                    /* array length / object size */
const sl_jval_t *sl_jval_at(const sl_jval_t *arr, size_t i);
const char *sl_jval_key_at(const sl_jval_t *obj, size_t i);
const char *sl_jval_str(const sl_jval_t *v);               /* NULL unless a string */
/* 0 and *out if v is an integral number within int64, else -1. */
int sl_jval_int(const sl_jval_t *v, int64_t *out);

#endif

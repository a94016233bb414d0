/* A C face for the parts of simdjson 3.0.1 (C++) the JSON bench measures. Every input buffer
 * must stay readable SJ_PADDING bytes past its end (simdjson reads ahead with SIMD loads).
 * Functions return 0 or a simdjson error code (sj_error_message() names it). */
#ifndef SIMDJSON_SHIM_H
#define SIMDJSON_SHIM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SJ_PADDING 64

typedef struct sj_parser sj_parser_t;

typedef struct sj_fields {     /* what "extract" fills: /user_id and /ts */
    const char *user_id;
    size_t user_id_len;
    int64_t ts;
} sj_fields_t;

sj_parser_t *sj_parser_new(size_t max_depth);
void sj_parser_free(sj_parser_t *p);
const char *sj_error_message(int code);
const char *sj_implementation(void);   /* the kernel chosen at run time (DOM) */
const char *sj_builtin(void);          /* the kernel on-demand was compiled for */
const char *sj_version(void);

/* DOM: parse one document (depth limit enforced by the parser); if f != NULL, look up
 * /user_id and /ts with at_pointer. */
int sj_dom_parse(sj_parser_t *p, const char *buf, size_t len, sj_fields_t *f);

/* On-demand: iterate one document and walk every value (on-demand validates only what is
 * visited), enforcing max_depth in the walk; if f != NULL, take user_id and ts from the
 * top-level object during the same walk. On error *err_at is set to the byte offset the
 * iterator had reached, or -1 if simdjson cannot say. */
int sj_od_parse(sj_parser_t *p, const char *buf, size_t len, sj_fields_t *f, long *err_at);

/* DOM parse_many over a whole NDJSON buffer (batched stage 1). Calls cb for every document
 * with its byte offset and raw text; stops at the first error, reporting its document index. */
typedef void (*sj_doc_cb)(void *ud, size_t offset, const char *raw, size_t raw_len, const sj_fields_t *f);
int sj_dom_many(sj_parser_t *p, const char *buf, size_t len, int extract, sj_doc_cb cb, void *ud,
                size_t *n_docs);

/* On-demand over a top-level array: validate every element (full walk, depth limit) and
 * report each element's raw text span via cb (offsets relative to buf). */
typedef void (*sj_span_cb)(void *ud, size_t start, size_t end);
int sj_od_array_spans(sj_parser_t *p, const char *buf, size_t len, sj_span_cb cb, void *ud, long *err_at);

#ifdef __cplusplus
}
#endif

#endif

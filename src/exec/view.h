/* A materialized view's contents: rows keyed by what identifies them (a group key and window
 * for aggregates, an insertion number for append-only queries), kept in insertion order,
 * updated in place, rendered as JSON, saved with the query's checkpoint, and a bounded feed of
 * the latest changes for the /changes endpoint. Not thread-safe: the runtime locks around it. */
#ifndef SL_EXEC_VIEW_H
#define SL_EXEC_VIEW_H
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "sql/plan.h"

typedef struct sl_view sl_view_t;

sl_view_t *sl_view_new(const sl_pcol_t *cols, int ncols);
void sl_view_free(sl_view_t *v);
/* Applies one change (SL_CHANGE_*). key NULL = append (a new row with the next number). */
int sl_view_apply(sl_view_t *v, int change, const char *key, size_t klen, const sl_value_t *row);
size_t sl_view_rows(const sl_view_t *v);
uint64_t sl_view_bytes(const sl_view_t *v);
/* Calls fn for every row in insertion order; stops when fn returns nonzero (and returns it). */
int sl_view_scan(const sl_view_t *v, int (*fn)(void *ud, const sl_value_t *row), void *ud);
/* Appends the rows as {"columns":[...],"rows":[{...},...]} or, ndjson = 1, one object a line. */
int sl_view_render(const sl_view_t *v, int ndjson, sl_buf_t *out);
/* Appends one row as a JSON object keyed by column name. */
int sl_row_json(sl_buf_t *out, const sl_pcol_t *cols, int n, const sl_value_t *row);

/* Change feed: every applied change gets a sequence number; the last SL_VIEW_FEED changes are
 * kept as JSON lines {"seq":n,"op":"insert|update|delete","row":{...}}. */
#define SL_VIEW_FEED 4096
uint64_t sl_view_seq(const sl_view_t *v);
/* Appends the changes after seq `after` (at most max) to out, one JSON line each; *last set to
 * the last sequence appended (or `after`). Returns the number appended; when the feed no longer
 * holds the change after `after`, -1 (the reader is too far behind: re-read the view). */
long sl_view_changes(const sl_view_t *v, uint64_t after, size_t max, sl_buf_t *out, uint64_t *last);

int sl_view_save(const sl_view_t *v, sl_buf_t *out);
int sl_view_load(sl_view_t *v, const char *p, size_t n);

#endif

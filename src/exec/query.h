/* A running continuous query: the physical pipeline of one plan (scan → filter/project →
 * windowed or updating hash aggregation → having/project → output), its event-time watermark,
 * its state with memory accounting, and the (de)serialisation of that state for checkpoints.
 *
 * The query does no I/O and owns no thread: a driver (exec/runtime.c, or a benchmark) pushes
 * events in batches and collects what the query emits through its output callback. */
#ifndef SL_EXEC_QUERY_H
#define SL_EXEC_QUERY_H
#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/buf.h"
#include "sql/plan.h"

typedef struct sl_query sl_query_t;

enum { SL_CHANGE_INSERT = 1, SL_CHANGE_UPDATE = 2, SL_CHANGE_DELETE = 3 };

/* One output row: change kind, a key identifying the row (encoded group key and window end for
 * aggregates; NULL/0 for append-only queries), the row values (types: sl_query_columns). The
 * values are valid only during the call. */
typedef void (*sl_query_emit_fn)(void *ud, int change, const char *key, size_t key_len,
                                 const sl_value_t *row);

typedef struct sl_query_config {
    uint64_t memory_limit;        /* bytes of operator state; 0 = unlimited */
    sl_query_emit_fn emit;
    void *emit_ud;
} sl_query_config_t;

typedef struct sl_query_stats {
    uint64_t events_in, rows_out, late_events, bad_fields, state_bytes;
    uint64_t limit_nulls;         /* function results that are NULL because a limit was hit */
    int64_t watermark;            /* INT64_MIN until every active partition has seen an event */
    int64_t max_event_time;
} sl_query_stats_t;

/* Takes ownership of the arena that holds the plan (it is freed with the query). The plan must
 * be continuous (a SCAN at the bottom). 0, or -1 with err. */
int sl_query_create(sl_arena_t *plan_arena, const sl_plan_t *plan, const sl_query_config_t *cfg,
                    sl_query_t **out, char *err, size_t errlen);
void sl_query_free(sl_query_t *q);
const sl_pcol_t *sl_query_columns(const sl_query_t *q, int *n);
/* 1 when time alone moves the query on (processing-time windows, or idle partitions leaving
 * the watermark): the driver then ends batches on a clock even without new events. */
int sl_query_clock_driven(const sl_query_t *q);
/* 1 when the output is append-only (inserts only), 0 when rows are updated in place. */
int sl_query_append_only(const sl_query_t *q);
/* The number of source partitions (their watermarks are combined). */
int sl_query_set_partitions(sl_query_t *q, uint32_t n);

/* One batch: begin, push events of any partitions, end. Events must arrive in offset order per
 * partition. ingest_ms is the event's log timestamp (used when the stream has no event-time
 * column) and now_ms the wall clock (PROCTIME, idleness). */
void sl_query_begin(sl_query_t *q, int64_t now_ms);
/* 0; 1 when the event was rejected by 'on_error'='fail' (the query is failed: see
 * sl_query_error); -1 out of memory or over the memory limit (failed too). */
int sl_query_push_json(sl_query_t *q, uint32_t partition, int64_t offset, int64_t ingest_ms,
                       const char *json, size_t len);
/* In-process feeding: one row of the stream's columns (all of them, in declaration order). */
int sl_query_push_row(sl_query_t *q, uint32_t partition, int64_t offset, const sl_value_t *row);
/* Ends the batch: advances the watermark, emits the windows it closes and the updates the
 * batch made; frees the batch's strings. 0 or -1 (failed). */
int sl_query_end(sl_query_t *q, int64_t now_ms);

/* Parallel scanning. A scanner does the per-event work that needs no shared state (JSON field
 * extraction and the filters and projections below the aggregate) on any thread; its output is
 * then applied with sl_query_consume on the query's thread, in scan order, so the result is
 * exactly the serial one. Scanners of one query may run concurrently with each other, not with
 * calls on the query itself. Only for queries over streams (JSON). */
typedef struct sl_qscan sl_qscan_t;
int sl_qscan_new(const sl_query_t *q, sl_qscan_t **out);
void sl_qscan_free(sl_qscan_t *s);
void sl_qscan_begin(sl_qscan_t *s, int64_t now_ms);          /* forgets the previous output */
/* 0, or -1 when the event failed (on_error 'fail', a row error): the scanner then ignores the
 * rest of its events, and consume fails the query at that event. */
int sl_qscan_push_json(sl_qscan_t *s, uint32_t partition, int64_t offset, const char *json, size_t len);
/* Between sl_query_begin and sl_query_end: applies what s scanned. 0 or -1 (failed). */
int sl_query_consume(sl_query_t *q, sl_qscan_t *s);

/* Position: the next offset to read from each partition (-1 = from the start). */
int64_t sl_query_position(const sl_query_t *q, uint32_t partition);
const char *sl_query_error(const sl_query_t *q);  /* NULL while healthy */
void sl_query_stats(const sl_query_t *q, sl_query_stats_t *out);

/* Appends the whole state (positions, watermarks, operator state) to out; loads it back into a
 * freshly created query of the same plan. 0 or -1. */
int sl_query_save(const sl_query_t *q, sl_buf_t *out);
int sl_query_load(sl_query_t *q, const char *p, size_t n);

/* Row encoding shared with views: values of known types, back to back:
 *   per value: 1 byte null flag, then 8 bytes (integers, doubles) or a 4-byte length + bytes. */
int sl_row_encode(sl_buf_t *out, const sl_pcol_t *cols, int n, const sl_value_t *row);
/* Decodes into row (strings point into p). Returns bytes consumed, or 0 when malformed. */
size_t sl_row_decode(const char *p, size_t len, const sl_pcol_t *cols, int n, sl_value_t *row);

#endif

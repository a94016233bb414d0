/* sluice.h — the embeddable engine's whole public face.
 *
 * Open a data directory on a libuv loop, create topics, append records (acknowledged once
 * durable), read them back, wait for new ones, and keep consumer-group offsets. The HTTP
 * server and the CLI are thin layers over this header. Every fallible call returns 0 or a
 * negative SL_E* code; results come back through out-parameters; the caller owns what it
 * passes in. All calls are made on the loop thread the engine was opened on. */
#ifndef SLUICE_H
#define SLUICE_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#define SLUICE_VERSION "0.1.0"

/* Error codes (returned negated). */
enum {
    SL_OK = 0,
    SL_ENOMEM = 1,     /* out of memory */
    SL_EIO = 2,        /* an I/O error (logged with its errno) */
    SL_ENOSPC = 3,     /* the disk is full: nothing of the request was stored */
    SL_EINVAL = 4,     /* an argument is invalid */
    SL_ENOTFOUND = 5,  /* no such topic / partition / group / member */
    SL_EEXIST = 6,     /* already exists */
    SL_ERANGE = 7,     /* offset outside the log */
    SL_ECORRUPT = 8,   /* data failed its checksum or structure check */
    SL_ESTALE = 9,     /* stale consumer-group generation */
    SL_ENOTASSIGNED = 10, /* partition not assigned to this group member */
    SL_ECLOSED = 11,   /* the engine or topic is closing */
    SL_ETOOBIG = 12,   /* over a size limit */
    SL_EFAILED = 13,   /* the partition stopped accepting writes after an fsync error */
    SL_ENOLEADER = 14, /* cluster: the Raft group has no leader right now (retry) */
    SL_EUNAVAIL = 15,  /* cluster: the node that must answer cannot be reached (retry) */
    SL_ETIMEDOUT = 16, /* cluster: no answer in time; the write may or may not have happened */
    SL_ESEQUENCE = 17, /* cluster: an idempotent producer's sequence number went backwards */
    SL_ECONFLICT = 18, /* cluster: the change conflicts with the cluster's state */
    SL_EREMOVED = 19,  /* cluster: this node was removed from the cluster */
};
const char *sl_strerror(int err); /* err may be negative */

/* ---- engine ---------------------------------------------------------------------------- */

typedef struct sl_engine sl_engine_t;

typedef enum { SL_FSYNC_ALWAYS = 0, SL_FSYNC_INTERVAL, SL_FSYNC_NEVER } sl_fsync_mode_t;

typedef struct sl_engine_config {
    const char *data_dir;            /* created if missing */
    sl_fsync_mode_t fsync;           /* default SL_FSYNC_ALWAYS */
    uint64_t fsync_interval_ms;      /* for SL_FSYNC_INTERVAL */
    uint64_t segment_bytes;          /* default for new topics: 128 MiB */
    uint64_t segment_ms;             /* default for new topics: 7 days */
    uint64_t retention_check_ms;     /* how often retention runs: 1000 */
    uint64_t session_check_ms;       /* how often group sessions are checked: 200 */
    uint64_t offsets_compact_bytes;  /* compact the committed-offsets log past this: 64 MiB */
} sl_engine_config_t;

void sl_engine_config_defaults(sl_engine_config_t *cfg);
int sl_engine_open(uv_loop_t *loop, const sl_engine_config_t *cfg, sl_engine_t **out);
/* Stops timers, waits for in-flight fsyncs, acknowledges what became durable, fails the
 * rest with -SL_ECLOSED, closes files, frees the engine and then calls cb. */
void sl_engine_close(sl_engine_t *e, void (*cb)(void *arg), void *arg);

typedef struct sl_engine_stats {
    uint64_t events_in, bytes_in, events_out, bytes_out, fsyncs, fsync_ns_total, batches;
    uint64_t produce_requests, fetch_requests;
} sl_engine_stats_t;
void sl_engine_stats(sl_engine_t *e, sl_engine_stats_t *out);

/* ---- topics ---------------------------------------------------------------------------- */

#define SL_TOPIC_NAME_MAX 249
#define SL_PARTITIONS_MAX 4096
#define SL_POINTER_MAX 1024

typedef struct sl_topic_config {
    char name[SL_TOPIC_NAME_MAX + 1];
    uint32_t partitions;           /* 1..4096 */
    char key[SL_POINTER_MAX + 1];  /* JSON Pointer of the key, "" = none */
    char timestamp[SL_POINTER_MAX + 1]; /* JSON Pointer of the event time, "" = ingest time */
    int64_t retention_ms;          /* -1 = keep */
    int64_t retention_bytes;       /* per partition, -1 = keep */
    uint64_t segment_bytes;        /* 0 = engine default */
    uint64_t segment_ms;           /* 0 = engine default */
    int64_t created_ms;            /* set by the engine */
} sl_topic_config_t;

/* 1 if s is 1 to 249 characters of [a-zA-Z0-9._-] (topic and group names), else 0. */
int sl_name_valid(const char *s);
void sl_topic_config_init(sl_topic_config_t *cfg, const char *name);
/* 0, or -SL_EINVAL with a reason in why (why may be NULL). */
int sl_topic_config_check(const sl_topic_config_t *cfg, const char **why);
int sl_topic_create(sl_engine_t *e, sl_topic_config_t *cfg); /* fills defaults in cfg */
int sl_topic_delete(sl_engine_t *e, const char *name);
int sl_topic_get(sl_engine_t *e, const char *name, sl_topic_config_t *out);
/* Topic names in sorted order; *names is malloc'ed (free it and the strings with sl_names_free). */
int sl_topic_list(sl_engine_t *e, char ***names, size_t *count);
void sl_names_free(char **names, size_t count);

typedef struct sl_partition_stats {
    int64_t earliest_offset;       /* first offset held */
    int64_t latest_offset;         /* next offset to be written, durable events only */
    uint64_t bytes;
    uint32_t segments;
} sl_partition_stats_t;
int sl_partition_stats(sl_engine_t *e, const char *topic, uint32_t partition,
                       sl_partition_stats_t *out);

/* ---- producing --------------------------------------------------------------------------- */

typedef struct sl_record {
    const char *key;               /* NULL = no key */
    size_t key_len;
    const char *value;
    size_t value_len;
    int64_t timestamp;             /* epoch ms; < 0 = ingest time */
    int32_t partition;             /* < 0 = chosen by key (murmur2) or sticky */
} sl_record_t;

typedef struct sl_offset {
    uint32_t partition;
    int64_t offset;
} sl_offset_t;

/* status is 0 (every record durable; offsets[i] tells where record i went) or -SL_E*. */
typedef void (*sl_produce_cb)(void *ud, int status, const sl_offset_t *offsets, size_t n);

/* Appends n records to a topic as one request: records are grouped into one batch per
 * partition and written now; cb runs once all of them are durable per the fsync setting
 * (or with an error; then none of them was written). Records and their bytes are copied
 * before this returns. Returns 0 (cb will run) or -SL_E* (cb will not run). */
int sl_produce(sl_engine_t *e, const char *topic, const sl_record_t *recs, size_t n,
               sl_produce_cb cb, void *ud);

/* ---- fetching ---------------------------------------------------------------------------- */

typedef struct sl_fetched {
    int64_t offset;
    int64_t timestamp;
    const char *key;               /* NULL when the record has none */
    size_t key_len;
    const char *value;
    size_t value_len;
} sl_fetched_t;

typedef struct sl_fetch_result {
    sl_fetched_t *recs;            /* point into an internal buffer owned by the result */
    size_t count;
    int64_t next_offset;           /* where to continue */
    int64_t earliest_offset, latest_offset;
    void *priv_;
} sl_fetch_result_t;

#define SL_OFFSET_EARLIEST (-2)
#define SL_OFFSET_LATEST (-1)

/* Reads durable records of one partition from offset (or SL_OFFSET_EARLIEST/LATEST), at most
 * max_count records and about max_bytes (at least one record if any). -SL_ERANGE when the
 * offset is outside [earliest, latest] (res->earliest/latest_offset are set then). */
int sl_fetch(sl_engine_t *e, const char *topic, uint32_t partition, int64_t offset,
             size_t max_count, size_t max_bytes, sl_fetch_result_t *res);
void sl_fetch_result_free(sl_fetch_result_t *res);

/* Waits until the partition has a durable record at offset >= `offset` (or the topic is
 * deleted, or the engine closes): cb runs once, with status 0 or -SL_E*. The watch can be
 * cancelled before it fires; cb then does not run. */
typedef struct sl_watch sl_watch_t;
typedef void (*sl_watch_cb)(void *ud, int status);
int sl_watch(sl_engine_t *e, const char *topic, uint32_t partition, int64_t offset, sl_watch_cb cb,
             void *ud, sl_watch_t **out);
void sl_watch_cancel(sl_watch_t *w);

/* ---- consumer groups --------------------------------------------------------------------- */

typedef struct sl_tp {
    char *topic;
    uint32_t partition;
} sl_tp_t;

typedef struct sl_assignment {
    char member_id[64];
    int64_t generation;
    sl_tp_t *tps;                  /* malloc'ed; free with sl_assignment_free */
    size_t count;
} sl_assignment_t;
void sl_assignment_free(sl_assignment_t *a);

typedef struct sl_join_config {
    const char *const *topics;
    size_t topic_count;
    uint64_t session_timeout_ms;   /* 0 = default 10000 */
    int reset_latest;              /* start un-committed partitions at latest, not earliest */
} sl_join_config_t;

int sl_group_join(sl_engine_t *e, const char *group, const sl_join_config_t *cfg,
                  sl_assignment_t *out);
int sl_group_leave(sl_engine_t *e, const char *group, const char *member);
/* A heartbeat. Returns 0 if the member knows the current generation; 1 if the group
 * rebalanced since the member last heard (out is filled, and the member now knows);
 * -SL_ENOTFOUND if the member is gone. */
int sl_group_heartbeat(sl_engine_t *e, const char *group, const char *member, sl_assignment_t *out);

/* The next batch for a member: reads from the member's positions (the committed offsets at
 * the start of a generation) over its partitions, round-robin, and advances the positions.
 * Records of several partitions: res[i] per partition read; *nres set. */
typedef struct sl_group_fetch {
    sl_tp_t tp;
    sl_fetch_result_t res;
} sl_group_fetch_t;
int sl_group_fetch(sl_engine_t *e, const char *group, const char *member, size_t max_count,
                   size_t max_bytes, sl_group_fetch_t **out, size_t *nout);
void sl_group_fetch_free(sl_group_fetch_t *f, size_t n);
/* Waits until any partition of the member has data past its position (see sl_watch). */
int sl_group_watch(sl_engine_t *e, const char *group, const char *member, sl_watch_cb cb,
                   void *ud, sl_watch_t **out);

/* The member's long poll ended (answered or abandoned): it is alive again on its own clock. */
void sl_group_poll_done(sl_engine_t *e, const char *group, const char *member);

typedef struct sl_commit {
    const char *topic;
    uint32_t partition;
    int64_t offset;
} sl_commit_t;
/* Commits offsets durably; cb(ud, status) runs once they are on disk. generation < 0 skips
 * the generation check. */
typedef void (*sl_status_cb)(void *ud, int status);
int sl_group_commit(sl_engine_t *e, const char *group, const char *member, int64_t generation,
                    const sl_commit_t *c, size_t n, sl_status_cb cb, void *ud);

/* For a cluster: the checks of sl_group_commit alone (member, generation, assignment) ... */
int sl_group_commit_check(sl_engine_t *e, const char *group, const char *member, int64_t generation,
                          const sl_commit_t *c, size_t n);
/* ... and the store alone, without checks: offsets agreed through the metadata group. cb may
 * be NULL. */
int sl_group_offsets_store(sl_engine_t *e, const char *group, const sl_commit_t *c, size_t n,
                           sl_status_cb cb, void *ud);

typedef struct sl_member_info {
    char member_id[64];
    char **topics;
    size_t topic_count;
    sl_tp_t *tps;
    size_t tp_count;
    uint64_t session_timeout_ms, idle_ms;
} sl_member_info_t;
typedef struct sl_offset_info {
    sl_tp_t tp;
    int64_t committed;             /* -1 = none */
    int64_t latest;
} sl_offset_info_t;
typedef struct sl_group_info {
    int64_t generation;
    sl_member_info_t *members;
    size_t member_count;
    sl_offset_info_t *offsets;
    size_t offset_count;
} sl_group_info_t;
int sl_group_describe(sl_engine_t *e, const char *group, sl_group_info_t *out);
void sl_group_info_free(sl_group_info_t *g);
int sl_group_list(sl_engine_t *e, char ***names, size_t *count);

/* ---- continuous SQL ---------------------------------------------------------------------- */

/* The SQL service over an engine: streams declared over topics, continuous queries maintaining
 * materialized views and writing sink topics, with exactly-once checkpoints under
 * <data_dir>/sql. Queries run on the libuv thread pool; every call here is made on the loop
 * thread. docs/SQL.md describes the dialect. */
typedef struct sl_sql sl_sql_t;

typedef struct sl_sql_config {
    const char *data_dir;            /* the engine's data directory */
    uint64_t checkpoint_interval_ms; /* default 1000 */
    uint64_t memory_limit;           /* default state limit per query: 512 MiB */
    size_t max_result_rows;          /* ad-hoc SELECT result cap: 100000 */
    size_t batch_events;             /* events per processing batch: 16384 */
    size_t scan_threads;             /* threads scanning one query's batch: the number of CPUs
                                        (at most 16); 1 = serial */
} sl_sql_config_t;

void sl_sql_config_defaults(sl_sql_config_t *cfg);
/* Loads the catalog and resumes every query from its last checkpoint. */
int sl_sql_open(sl_engine_t *e, uv_loop_t *loop, const sl_sql_config_t *cfg, sl_sql_t **out);
/* Waits for running batches, writes a final checkpoint per query, frees, then calls cb. */
void sl_sql_close(sl_sql_t *s, void (*cb)(void *arg), void *arg);
/* Runs one or more statements. *out (malloc'ed, len *out_len) is the JSON answer:
 * {"results":[...]} or {"error":{...},"results":[...]}; *status is the HTTP status that goes
 * with it. Returns 0, or -SL_ENOMEM. */
int sl_sql_execute(sl_sql_t *s, const char *text, size_t len, char **out, size_t *out_len, int *status);
/* A view's rows: {"columns":[...],"rows":[...]} or NDJSON. -SL_ENOTFOUND if no such view. */
int sl_sql_view_read(sl_sql_t *s, const char *view, int ndjson, char **out, size_t *out_len);
/* The view's change feed after sequence `after`: JSON lines; *last = last sequence returned.
 * -SL_ENOTFOUND; -SL_ERANGE when `after` fell out of the feed (re-read the view). */
int sl_sql_view_changes(sl_sql_t *s, const char *view, uint64_t after, char **out, size_t *out_len,
                        uint64_t *last);
/* The current last sequence of a view's feed (-SL_ENOTFOUND). */
int sl_sql_view_seq(sl_sql_t *s, const char *view, uint64_t *seq);
/* Prometheus text lines for every query, appended to *out (malloc'ed). */
int sl_sql_metrics(sl_sql_t *s, char **out, size_t *out_len);

#endif

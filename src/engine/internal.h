/* The engine's internal types, shared by the files of engine/ only. */
#ifndef SL_ENGINE_INTERNAL_H
#define SL_ENGINE_INTERNAL_H

#include <stdint.h>
#include <uv.h>

#include "core/buf.h"
#include "sluice.h"
#include "storage/log.h"

typedef struct sl_topic sl_topic_t;
typedef struct sl_partition sl_partition_t;
typedef struct sl_group sl_group_t;

/* A produce request waiting for its partitions to become durable. */
typedef struct produce_req {
    sl_engine_t *e;
    sl_produce_cb cb;          /* NULL for internal writes that use done instead */
    void (*done)(void *ud, int status);
    void *ud;
    sl_offset_t *offsets;
    size_t n;
    int pending;               /* partitions still to become durable */
    int status;
    struct produce_req *next_ready;
} produce_req_t;

typedef struct waiter {
    produce_req_t *req;
    int64_t target;            /* durable when the log's durable offset reaches this */
} waiter_t;

struct sl_watch {
    sl_engine_t *e;
    sl_partition_t *p;         /* NULL for a group watch */
    int64_t offset;
    sl_watch_cb cb;
    void *ud;
    struct sl_watch *prev, *next; /* in p->watches */
    /* group watches: one parent with children on each partition */
    struct sl_watch *parent;
    struct sl_watch **children;
    size_t nchildren;
};

struct sl_partition {
    sl_engine_t *e;
    sl_topic_t *topic;         /* NULL for the internal offsets log */
    uint32_t id;
    sl_log_t *log;
    int sync_running;
    int replicated;            /* a Raft group's state machine (engine/replica.h) */
    uv_work_t work;
    sl_log_sync_t job;
    waiter_t *waiters;         /* FIFO ring: targets ascend */
    size_t wq_head, wq_len, wq_cap;
    sl_watch_t *watches;
};

struct sl_topic {
    sl_topic_config_t cfg;
    char *dir;
    sl_partition_t **parts;
    uint32_t sticky;           /* partition for keyless events of the next request */
    int deleting;
};

struct sl_engine {
    uv_loop_t *loop;
    sl_engine_config_t cfg;
    char *data_dir;
    char *topics_dir;
    char *tmp_dir;
    uint64_t tmp_seq;
    int unclean;               /* the last run did not shut down cleanly */
    sl_topic_t **topics;       /* sorted by name */
    size_t ntopics, topics_cap;
    sl_partition_t *offsets_log; /* committed group offsets */
    sl_group_t **groups;
    size_t ngroups, groups_cap;
    uv_timer_t retention_timer, fsync_timer, session_timer, ready_timer;
    produce_req_t *ready_head, *ready_tail; /* acks to deliver on the next loop turn */
    int syncs_running;
    int closing;
    void (*close_cb)(void *);
    void *close_arg;
    int timers_open;
    sl_buf_t scratch;          /* batch encoding buffer, reused */
    sl_engine_stats_t stats;
    uint64_t member_seq;
    int64_t offsets_snap_at, offsets_snap_end; /* a compaction snapshot in flight, or -1 */
};

/* engine.c */
sl_topic_t *sl__topic_find(sl_engine_t *e, const char *name);
void sl__ready_push(sl_engine_t *e, produce_req_t *r);

void sl__engine_close_continue(sl_engine_t *e); /* the last sync job came back while closing */

/* partition.c */
int sl__watch_partition(sl_partition_t *p, int64_t offset, sl_watch_cb cb, void *ud,
                        sl_watch_t *parent, sl_watch_t **out);
int sl__partition_open(sl_engine_t *e, sl_topic_t *t, uint32_t id, const char *dir, sl_partition_t **out);
void sl__partition_free(sl_partition_t *p, int destroy);
int sl__partition_wait(sl_partition_t *p, produce_req_t *r, int64_t target);
void sl__partition_kick(sl_partition_t *p);       /* start a sync if one is due */
void sl__partition_kick_prepared(sl_partition_t *p); /* run the job prepared in p->job */
void sl__partition_published(sl_partition_t *p);  /* the durable offset moved: wake */
void sl__partition_fail_all(sl_partition_t *p, int status);
void sl__partition_sync_now(sl_partition_t *p);   /* blocking, for shutdown */
/* Appends a malloc'ed batch, which the log takes over on success. */
int sl__partition_append(sl_partition_t *p, char *batch, size_t len, sl_log_mark_t *mark,
                         int64_t *base);

int sl__partition_read(sl_partition_t *p, int64_t offset, size_t max_count, size_t max_bytes,
                       sl_fetch_result_t *res, size_t *used);

/* replica.c */
void sl__replica_synced(sl_partition_t *p, int status); /* a sync job of a replica ended */

/* group.c */
int sl__groups_open(sl_engine_t *e);
void sl__groups_free(sl_engine_t *e);
void sl__groups_check_sessions(sl_engine_t *e);
void sl__groups_topic_deleted(sl_engine_t *e, const char *topic);
void sl__groups_maintain(sl_engine_t *e);
void sl__groups_topic_created(sl_engine_t *e, const char *topic);

#endif

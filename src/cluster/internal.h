/* Types shared by the files of cluster/ only. */
#ifndef SL_CLUSTER_INTERNAL_H
#define SL_CLUSTER_INTERNAL_H

#include <limits.h>
#include <raft.h>
#include <raft/uv.h>

#include "cluster/cluster.h"
#include "cluster/mux.h"
#include "engine/replica.h"

#define MAX_ENTRY_BYTES (1u << 20)    /* a proposal is flushed once it holds this much */
#define MAX_INFLIGHT 8                /* proposals of one group in flight at a time */
#define DEDUPE_MAX 8192               /* idempotent producers remembered per partition */
#define COPY_CHUNK (1u << 20)         /* segment copy: bytes per request */
#define MAX_NODES 64

enum {
    RPC_PRODUCE = 1,
    RPC_PRODUCE_R,
    RPC_FETCH,
    RPC_FETCH_R,
    RPC_META,
    RPC_META_R,
    RPC_COPY,
    RPC_COPY_R,
    RPC_HTTP,
    RPC_HTTP_R,
    RPC_STEPDOWN,                  /* (no answer) "lead no more: your view of my log is wrong" */
    /* odd types are requests, even ones replies; these two are both one-way messages */
    RPC_LEFT_ASK = 13,             /* a replica moved away: "has your group let me go?" */
    RPC_LEFT = 15,                 /* the leader: "yes, it has" */
};

typedef struct node {
    uint64_t id;
    char addr[256];
    char http[256];
    int removed;                   /* `sluice cluster remove`d: no longer a member */
    uint64_t removed_seen_ms;      /* (metadata leader, not replicated) when it saw that */
} node_t;

typedef struct mtopic {
    sl_topic_config_t cfg;
    uint32_t rf;
    uint64_t inc;                  /* incarnation: tells a re-created topic from the old one */
    uint64_t *replicas;            /* partitions * rf node ids; the first is the preferred leader */
    uint64_t *boot;                /* the placement at creation: every replica bootstraps its
                                    * group with this one (the same first entry everywhere) */
} mtopic_t;

typedef struct group group_t;
typedef struct prop prop_t;
typedef struct sreq sreq_t;
typedef struct call call_t;

/* One idempotent producer's last sequence on a partition, and where each batch of that
 * request went (a retry gets the same offsets back). */
typedef struct dedupe {
    uint64_t pid;
    int64_t seq;
    uint64_t used;                 /* apply clock: the least recently used is evicted */
    uint32_t nsub;
    int64_t *bases;                /* per batch of the request; -1 = not seen */
} dedupe_t;

/* An item of a proposal waiting for its result. */
typedef struct waiter {
    sreq_t *s;
    uint32_t batch;
} waiter_t;

typedef void (*meta_done_fn)(sl_cluster_t *c, void *ud, int status, const char *msg, uint64_t index);

struct prop {
    struct raft_apply req;
    group_t *g;
    uint64_t serial;
    waiter_t *w;                   /* partition proposals */
    size_t nw;
    meta_done_fn meta_done;        /* metadata proposals */
    void *meta_ud;
    int applied;
    prop_t *next;
};

/* A queued entry (applied after a segment copy finishes). */
typedef struct qentry {
    char *data;
    size_t len;
    struct qentry *next;
} qentry_t;

struct group {
    sl_cluster_t *c;
    char *name;
    char *dir;
    struct raft raft;
    struct raft_io io;
    struct raft_uv_transport tr;
    struct raft_fsm fsm;
    int meta;
    int started;
    int closing;
    /* partition groups */
    mtopic_t *t;                   /* NULL once the topic is gone */
    char topic[SL_TOPIC_NAME_MAX + 1];
    uint32_t partition;
    uint64_t inc;
    uint64_t replicas[5];
    uint32_t rf;
    sl_replica_t *rep;
    dedupe_t *ded;
    size_t nded, capded;
    uint64_t ded_clock;
    sl_buf_t pend;                 /* items of the next proposal */
    uint32_t pend_items;
    waiter_t *pw;
    size_t npw, cappw;
    prop_t *props;                 /* in flight */
    unsigned inflight;
    int flush_queued;
    group_t *next_flush;
    /* segment copy after a snapshot the log does not reach */
    int catching;
    int64_t catch_target;
    uint64_t catch_from;
    int copy_busy;
    uint64_t copy_retry_at;
    qentry_t *qhead, *qtail;
    uint64_t copied_bytes;
    uint64_t catch_started_ns;
    int failed;                    /* the replica diverged or failed: it stops applying */
    int destroy;                   /* the topic is gone: delete the local data once closed */
    /* After a restart raft applies again the entries after its snapshot (all of them without
     * one): their batches are already in the log from `cursor` on, so they are matched (CRC
     * and count) instead of appended, which also rebuilds the deduplication state. */
    int replay;
    int64_t cursor;
    int repair;                    /* Raft's log here did not load: wipe it and rejoin once closed */
    int need_reset;                /* rejoined with an empty log: the leader must be replaced */
    uint64_t reset_sent_ms, reset_leader;
    uint64_t applied_saved_ms, applied_saved;
    uint64_t change_at_ms;         /* the last membership change asked of raft (leader) */
    unsigned snap_threshold;       /* entries between snapshots, from their average size */
    uint64_t quiet_until_ms;       /* a follower takes no snapshot before (see part_snapshot) */
    int snap_fds[8];               /* the log's descriptors a snapshot syncs on a worker thread */
    int nsnap_fds;
    uint64_t size_bytes, size_entries; /* applied since the threshold was last set */
    int drop;                      /* moved away from this node: delete its data once closed */
    group_t *next;                 /* in c->groups */
};

/* A produce request, and its part for one partition. */
typedef struct creq {
    sl_cluster_t *c;
    sl_produce_cb cb;
    void *ud;
    sl_offset_t *offsets;
    size_t n;
    int pending;
    int status;
} creq_t;

struct sreq {
    sl_cluster_t *c;
    creq_t *parent;                /* a local request, or NULL when serving a forwarded one */
    uint64_t reply_to, reply_corr; /* forwarded: where the answer goes */
    call_t *fwd;                   /* forwarded by us: the call in flight */
    char topic[SL_TOPIC_NAME_MAX + 1];
    uint64_t inc;
    uint32_t partition;
    uint64_t pid;
    int64_t seq;
    uint32_t nb;
    char **batches;
    size_t *blens;
    uint32_t *counts;
    int64_t *bases;
    uint32_t *idx;                 /* record indexes of the request, in batch order */
    size_t n;
    int pending;
    int status;
    int hops;
    uint64_t wait_until;           /* waiting for its partition to have a leader, until then */
    unsigned attempts;             /* routings so far (a node without a replica tries each one) */
    sreq_t *wnext;                 /* in c->waiting */
};

struct call {
    sl_cluster_t *c;
    uint64_t id;
    uint64_t to;
    uint8_t type;
    uint64_t deadline_ms;
    void (*done)(call_t *k, int status, const char *payload, size_t len);
    void *ud;
    void *ud2;
    call_t *prev, *next;
};

typedef struct meta_wait {
    uint64_t index;
    uint64_t deadline_ms;
    sl_cluster_done_cb cb;
    void *ud;
    int status;
    char *msg;
    struct meta_wait *next;
} meta_wait_t;

typedef struct parked_fetch parked_fetch_t;

struct sl_cluster {
    uv_loop_t *loop;
    sl_engine_t *e;
    sl_cluster_config_t cfg;
    char *data_dir;
    char *raft_dir;
    char *members;
    char *http;
    uint64_t self;
    char self_addr[256];
    uint64_t epoch;                /* this process's run: proposals of earlier runs are not ours */
    uint64_t serial;
    sl_mux_t *mux;
    node_t nodes[MAX_NODES];       /* the metadata's node list */
    size_t nnodes;
    uint64_t boot_voters[MAX_NODES]; /* from --cluster */
    char boot_addr[MAX_NODES][256];
    size_t nboot;
    mtopic_t **topics;
    size_t ntopics, topics_cap;
    group_t *meta;
    group_t *groups;               /* partition groups */
    group_t *flush_head;
    uv_timer_t flush_timer, tick_timer;
    call_t *calls;
    uint64_t call_seq;
    struct peer_down {
        uint64_t peer, seq;
    } down[MAX_NODES];             /* broken connections, applied to their calls at the next tick */
    size_t ndown;
    meta_wait_t *waits;
    parked_fetch_t *parked;
    sreq_t *waiting;               /* produce parts waiting for a leader (an election, a transfer) */
    int registered;                /* our node entry is in the metadata */
    uint64_t last_register_ms;
    uint64_t last_balance_ms;
    uint64_t last_meta_change_ms;
    int removed;                   /* this node was removed from the cluster */
    int closing;
    int closing_groups;
    void (*close_cb)(void *);
    void *close_arg;
    sl_cluster_http_serve_fn http_fn;
    void *http_ud;
    /* metrics */
    uint64_t proposals, forwarded, dedupe_hits, snapshots, restores, copies, copy_bytes;
};

#endif

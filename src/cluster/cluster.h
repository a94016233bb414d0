/* The cluster: a metadata Raft group over the nodes (topics, their replica placement, the
 * nodes' addresses) and one Raft group per partition over its replica set, all on one libuv
 * loop, all through one internal port (cluster/mux.h). net/ calls this instead of the engine
 * for what must be agreed on (topics, produce) and for routing reads; docs/CLUSTER.md. */
#ifndef SL_CLUSTER_CLUSTER_H
#define SL_CLUSTER_CLUSTER_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "core/buf.h"
#include "sluice.h"

typedef struct sl_cluster sl_cluster_t;

typedef struct sl_cluster_config {
    uint64_t node_id;
    const char *members;             /* "1@host:port,2@host:port,..." */
    const char *http_address;        /* where this node serves HTTP, told to the others */
    const char *data_dir;
    unsigned election_timeout_ms;    /* 1000 */
    unsigned heartbeat_timeout_ms;   /* 100 */
    unsigned snapshot_threshold;     /* partition groups: most entries between snapshots (4096) */
    unsigned snapshot_trailing;      /* most entries kept after a snapshot (2048) */
    uint64_t raft_log_bytes;         /* partition groups: snapshot after about this many bytes of
                                      * entries (4 MiB); half as many are kept after it */
    uint64_t request_timeout_ms;     /* a produce or forwarded call gives up after (10000) */
    int join;                        /* joins a running cluster (`sluice cluster add`): no bootstrap */
} sl_cluster_config_t;

void sl_cluster_config_defaults(sl_cluster_config_t *cfg);
/* Parses the member list; why (may be NULL) gets a reason on -SL_EINVAL. */
int sl_cluster_config_check(const sl_cluster_config_t *cfg, const char **why);
int sl_cluster_open(uv_loop_t *loop, sl_engine_t *e, const sl_cluster_config_t *cfg, sl_cluster_t **out);
/* Closes every Raft group and connection, then calls cb. */
void sl_cluster_close(sl_cluster_t *c, void (*cb)(void *arg), void *arg);

/* status 0 or -SL_E*; msg explains an error (or is NULL). */
typedef void (*sl_cluster_done_cb)(void *ud, int status, const char *msg);

/* Topics, agreed through the metadata group. rf 0 = default (min(3, nodes)). The callback runs
 * once this node's metadata has applied the change. */
int sl_cluster_topic_create(sl_cluster_t *c, const sl_topic_config_t *cfg, uint32_t rf,
                            sl_cluster_done_cb cb, void *ud);
int sl_cluster_topic_delete(sl_cluster_t *c, const char *name, sl_cluster_done_cb cb, void *ud);
/* The topic as the metadata says (-SL_ENOTFOUND). */
int sl_cluster_topic_get(sl_cluster_t *c, const char *name, sl_topic_config_t *cfg, uint32_t *rf);
int sl_cluster_topic_list(sl_cluster_t *c, char ***names, size_t *count);

/* Produce through the partitions' Raft groups (forwarded to their leaders). pid 0 = not
 * idempotent. cb as for sl_produce; returns 0 (cb will run) or -SL_E*. */
int sl_cluster_produce(sl_cluster_t *c, const char *topic, const sl_record_t *recs, size_t n,
                       uint64_t pid, int64_t seq, sl_produce_cb cb, void *ud);

/* Where a read of a partition is served: 0 = here, from the local engine; > 0 = the node to
 * forward to; -SL_E* (no such topic/partition, no leader). */
int64_t sl_cluster_read_route(sl_cluster_t *c, const char *topic, uint32_t partition, int replica_any);

/* A read forwarded to node `node`, which answers like sl_fetch after waiting up to timeout_ms
 * for data. cb gets status 0 and a result it owns (free with sl_fetch_result_free), or an
 * error. The returned handle can cancel it (cb then does not run). */
typedef struct sl_cluster_call sl_cluster_call_t;
typedef void (*sl_cluster_fetch_cb)(void *ud, int status, sl_fetch_result_t *res);
int sl_cluster_fetch_remote(sl_cluster_t *c, uint64_t node, const char *topic, uint32_t partition,
                            int64_t offset, size_t max_count, size_t max_bytes, uint64_t timeout_ms,
                            sl_cluster_fetch_cb cb, void *ud, sl_cluster_call_t **out);
void sl_cluster_call_cancel(sl_cluster_t *c, sl_cluster_call_t *call);

/* Committed offsets of a consumer group, agreed through the metadata group and stored by every
 * node's engine; cb once this node has applied them. */
int sl_cluster_offsets_commit(sl_cluster_t *c, const char *group, const sl_commit_t *cm, size_t n,
                              sl_cluster_done_cb cb, void *ud);
/* The metadata group's leader (which coordinates consumer groups), 0 if none is known. */
uint64_t sl_cluster_meta_leader(sl_cluster_t *c);

/* HTTP requests forwarded whole to another node (consumer-group calls go to the coordinator).
 * status < 0 is a cluster error (the request may not have run). */
typedef void (*sl_cluster_http_reply_cb)(void *ud, int status, const char *ctype, const char *extra,
                                         const char *body, size_t len);
typedef void (*sl_cluster_http_serve_fn)(void *ud, int method, const char *path, const char *query,
                                         const char *ctype, const char *body, size_t len,
                                         sl_cluster_http_reply_cb reply, void *reply_ud);
void sl_cluster_set_http(sl_cluster_t *c, sl_cluster_http_serve_fn fn, void *ud);
int sl_cluster_http_forward(sl_cluster_t *c, uint64_t node, int method, const char *path, const char *query,
                            const char *ctype, const char *body, size_t len, uint64_t timeout_ms,
                            sl_cluster_http_reply_cb cb, void *ud, sl_cluster_call_t **out);

/* A read of this node's replica met a damaged batch: it is cut there and the rest is copied
 * again from a peer (the replica serves nothing past the damage meanwhile). */
void sl_cluster_replica_damaged(sl_cluster_t *c, const char *topic, uint32_t partition, int64_t from);

/* Membership (docs/CLUSTER.md): a node is recorded in the metadata, then the metadata leader
 * adds it to the metadata group (non-voter, caught up, promoted to voter while there are fewer
 * than 5, else standby). Removing one moves each of its partition replicas to another node
 * (added to the partition's group, caught up, then the removed node leaves it). *moved gets the
 * number of partition replicas to move. cb once this node has applied the change. */
int sl_cluster_node_add(sl_cluster_t *c, uint64_t id, const char *address, sl_cluster_done_cb cb, void *ud);
int sl_cluster_node_remove(sl_cluster_t *c, uint64_t id, size_t *moved, sl_cluster_done_cb cb, void *ud);
/* 1 once this node has been removed from the cluster. */
int sl_cluster_removed(sl_cluster_t *c);

/* GET /v1/cluster as JSON (docs/CLUSTER.md). */
int sl_cluster_status_json(sl_cluster_t *c, sl_buf_t *out);
/* Prometheus lines. */
int sl_cluster_metrics(sl_cluster_t *c, sl_buf_t *out);
uint64_t sl_cluster_node_id(sl_cluster_t *c);
const char *sl_cluster_address(sl_cluster_t *c); /* the internal host:port */

#endif

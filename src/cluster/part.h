/* Partition groups (part.c) and the pieces of cluster.c they use. Internal to cluster/. */
#ifndef SL_CLUSTER_PART_H
#define SL_CLUSTER_PART_H

#include "cluster/internal.h"

/* part.c */
void sl__part_topic_start(sl_cluster_t *c, mtopic_t *t);
void sl__part_topic_stop(sl_cluster_t *c, mtopic_t *t, int destroy);
/* The metadata moved replicas of partition p of t (t->replicas changed). */
void sl__part_placement(sl_cluster_t *c, mtopic_t *t, uint32_t p);
void sl__part_serve_produce(sl_cluster_t *c, uint64_t from, uint64_t corr, const char *p, size_t len);
void sl__part_serve_fetch(sl_cluster_t *c, uint64_t from, uint64_t corr, const char *p, size_t len);
void sl__part_serve_left(sl_cluster_t *c, uint64_t from, uint8_t type, const char *p, size_t len);
void sl__part_serve_stepdown(sl_cluster_t *c, uint64_t from, const char *p, size_t len);
void sl__part_serve_copy(sl_cluster_t *c, uint64_t from, uint64_t corr, const char *p, size_t len);
void sl__part_tick(sl_cluster_t *c, uint64_t now);
void sl__part_flush_all(sl_cluster_t *c);
void sl__part_close_all(sl_cluster_t *c);
void sl__part_group_freed(sl_cluster_t *c, group_t *g);
void sl__part_status_json(sl_cluster_t *c, sl_buf_t *b);

/* cluster.c */
uint64_t sl__cluster_now_ms(void);
int sl__mkdir_p(const char *dir);
const node_t *sl__node_find(sl_cluster_t *c, uint64_t id);
mtopic_t *sl__topic_find_meta(sl_cluster_t *c, const char *name);
call_t *sl__call_new(sl_cluster_t *c, uint64_t to, uint8_t type, uint64_t timeout_ms,
                     void (*done)(call_t *, int, const char *, size_t), void *ud);
int sl__call_send(sl_cluster_t *c, call_t *k, const sl_buf_t *payload);
void sl__call_fail(sl_cluster_t *c, call_t *k, int status);
void sl__reply(sl_cluster_t *c, uint64_t to, uint8_t type, uint64_t corr, const sl_buf_t *b);
void sl__raft_transfer(group_t *g, uint64_t to);
int sl__raft_change(group_t *g, int op, uint64_t id, const char *addr, int role); /* 'a'dd, a'ssign, 'r'emove */
/* The role of id in conf, or -1 when it is not in it. */
int sl__conf_role(const struct raft_configuration *conf, uint64_t id);
void sl__json_role_ids(sl_buf_t *b, const struct raft_configuration *conf, int role);
/* Snapshot threshold (entries) for entries of avg bytes: about raft_log_bytes of entries between
 * snapshots, within [64, snapshot_threshold]; and the entries kept after one (at least 64). */
unsigned sl__snap_threshold(sl_cluster_t *c, uint64_t avg);
unsigned sl__snap_trailing(sl_cluster_t *c, unsigned threshold);
int sl__group_start(sl_cluster_t *c, group_t *g, const uint64_t *voters, size_t nvoters);
void sl__group_close(group_t *g);
void sl__flush_schedule(sl_cluster_t *c);
void sl__cluster_close_continue(sl_cluster_t *c);
/* A snapshot's one buffer, copied from b (freed) into raft_malloc'ed memory. */
int sl__snapshot_bufs(sl_buf_t *b, struct raft_buffer *bufs[], unsigned *n);
void sl__meta_serve(sl_cluster_t *c, uint64_t from, uint64_t corr, const char *p, size_t len);

#endif

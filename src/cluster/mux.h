/* One internal port per node for everything between nodes.
 *
 * Every connection to the port starts with a handshake naming what it is for: a Raft group
 * (by name: "meta", or "<topic>.<incarnation>.<partition>") or the node's RPC channel. Raft
 * connections are handed, after the handshake, to the group's raft_uv instance as its stream:
 * each group gets a raft_uv_transport from sl_mux_transport(), so every Raft group of the node
 * listens on the same port instead of one port per partition. The RPC channel is one
 * persistent connection per pair of nodes and direction carrying framed messages (forwarded
 * produce and fetch, segment copies); replies go back on the replier's own connection.
 *
 * Frames: u32 length (of what follows), u8 type, u64 correlation id, payload. */
#ifndef SL_CLUSTER_MUX_H
#define SL_CLUSTER_MUX_H

#include <raft.h>
#include <raft/uv.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#define SL_MUX_MAX_FRAME (64u << 20)

typedef struct sl_mux sl_mux_t;

/* An RPC frame arrived from node `from`. payload lives until the callback returns. */
typedef void (*sl_mux_rpc_cb)(void *ud, uint64_t from, uint8_t type, uint64_t corr,
                              const char *payload, size_t len);
/* The connection to `peer` broke (requests sent on it may be lost). */
typedef void (*sl_mux_down_cb)(void *ud, uint64_t peer);

int sl_mux_open(uv_loop_t *loop, uint64_t self, const char *address, sl_mux_t **out);
void sl_mux_set_rpc(sl_mux_t *m, sl_mux_rpc_cb rpc, sl_mux_down_cb down, void *ud);
/* Starts listening on the node's address. 0 or a negative uv error. */
int sl_mux_listen(sl_mux_t *m);
/* Fills t (a caller-owned struct that must outlive the raft_uv instance) as the transport of
 * the Raft group `group`. */
int sl_mux_transport(sl_mux_t *m, const char *group, struct raft_uv_transport *t);
void sl_mux_transport_free(struct raft_uv_transport *t); /* after raft_uv_close and raft close */
/* Learns (or changes) the internal address of a node. */
int sl_mux_set_peer(sl_mux_t *m, uint64_t id, const char *address);
/* Queues a frame to node `to` on this node's connection to it (connecting if needed). 0, or
 * -1 when the peer is unknown or out of memory. Delivery is not guaranteed: callers time out. */
int sl_mux_send(sl_mux_t *m, uint64_t to, uint8_t type, uint64_t corr, const void *payload,
                size_t len);
/* 1 if an RPC connection to `to` is established now. */
int sl_mux_connected(sl_mux_t *m, uint64_t to);
/* Closes everything; cb runs once every handle is closed. Raft groups must be closed first. */
void sl_mux_close(sl_mux_t *m, void (*cb)(void *), void *arg);

/* "host:port" into a sockaddr (IPv4 or IPv6 "[::1]:7000"). 0 or -1. */
int sl_parse_hostport(const char *s, struct sockaddr_storage *out);

#endif

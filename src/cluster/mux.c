/* The node's single internal port: handshake routing to Raft groups, and the RPC channel. */
#include "cluster/mux.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/log.h"

#define HS_MAGIC 0x534c4d58u /* "SLMX" */
#define HS_VERSION 1
#define HS_SIZE 20
#define HS_NAME_MAX 1024
enum { KIND_RAFT = 1, KIND_RPC = 2 };

typedef struct group {
    char *name;
    struct raft_uv_transport *t;
    raft_uv_accept_cb accept;
} group_t;

typedef struct out_conn out_conn_t;

typedef struct peer {
    uint64_t id;
    char *address;
    out_conn_t *out;
} peer_t;

/* An incoming connection: first its handshake, then (RPC only) frames. */
typedef struct in_conn {
    sl_mux_t *m;
    uv_tcp_t *tcp;                 /* raft_malloc'ed: a Raft group takes it over */
    unsigned char hdr[HS_SIZE];
    size_t got;
    char *rest;                    /* name then address */
    size_t rest_len, rest_got;
    int phase;                     /* 0 header, 1 name+address, 2 RPC frames */
    int kind;
    uint64_t from;
    sl_buf_t rb;
    struct in_conn *prev, *next;
} in_conn_t;

struct out_conn {
    sl_mux_t *m;
    peer_t *peer;                  /* NULL once the peer forgot it (closing) */
    uv_tcp_t tcp;
    uv_connect_t creq;
    int state;                     /* 1 connecting, 2 up, 3 closing */
    sl_buf_t pending;              /* frames queued while connecting */
    char rbuf[256];
};

struct sl_mux {
    uv_loop_t *loop;
    uint64_t self;
    char *address;
    uv_tcp_t listener;
    int listener_open;
    group_t *groups;
    size_t ngroups, groups_cap;
    peer_t *peers;
    size_t npeers, peers_cap;
    in_conn_t *in;
    sl_mux_rpc_cb rpc;
    sl_mux_down_cb down;
    void *ud;
    int closing;
    int handles;                   /* open handles of the mux itself (listener, RPC conns) */
    void (*close_cb)(void *);
    void *close_arg;
};

/* ---- helpers --------------------------------------------------------------------------------- */

int sl_parse_hostport(const char *s, struct sockaddr_storage *out) {
    char host[256];
    const char *colon;
    if (s[0] == '[') {
        const char *rb = strchr(s, ']');
        if (!rb || rb[1] != ':' || (size_t)(rb - s - 1) >= sizeof(host)) return -1;
        memcpy(host, s + 1, (size_t)(rb - s - 1));
        host[rb - s - 1] = 0;
        colon = rb + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon || (size_t)(colon - s) >= sizeof(host)) return -1;
        memcpy(host, s, (size_t)(colon - s));
        host[colon - s] = 0;
    }
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end || port <= 0 || port > 65535) return -1;
    memset(out, 0, sizeof(*out));
    if (uv_ip4_addr(host, (int)port, (struct sockaddr_in *)out) == 0) return 0;
    if (uv_ip6_addr(host, (int)port, (struct sockaddr_in6 *)out) == 0) return 0;
    return -1;
}

static void mux_handle_closed(uv_handle_t *h);

static void mux_maybe_done(sl_mux_t *m) {
    if (m->closing && m->handles == 0 && !m->in) {
        void (*cb)(void *) = m->close_cb;
        void *arg = m->close_arg;
        for (size_t i = 0; i < m->npeers; i++) free(m->peers[i].address);
        free(m->peers);
        for (size_t i = 0; i < m->ngroups; i++) free(m->groups[i].name);
        free(m->groups);
        free(m->address);
        free(m);
        if (cb) cb(arg);
    }
}

static void mux_handle_closed(uv_handle_t *h) {
    sl_mux_t *m = h->data;
    m->handles--;
    mux_maybe_done(m);
}

static peer_t *peer_find(sl_mux_t *m, uint64_t id) {
    for (size_t i = 0; i < m->npeers; i++)
        if (m->peers[i].id == id) return &m->peers[i];
    return NULL;
}

static group_t *group_find(sl_mux_t *m, const char *name) {
    for (size_t i = 0; i < m->ngroups; i++)
        if (!strcmp(m->groups[i].name, name)) return &m->groups[i];
    return NULL;
}

static void handshake_encode(unsigned char *out, int kind, uint64_t from, size_t name_len,
                             size_t addr_len) {
    sl_be32_put(out, HS_MAGIC);
    out[4] = HS_VERSION;
    out[5] = (unsigned char)kind;
    sl_be16_put(out + 6, 0);
    sl_be64_put(out + 8, from);
    sl_be16_put(out + 16, (uint16_t)name_len);
    sl_be16_put(out + 18, (uint16_t)addr_len);
}

/* ---- incoming connections -------------------------------------------------------------------- */

static void raft_handle_free(uv_handle_t *h) { raft_free(h); }

static void in_unlink(in_conn_t *c) {
    sl_mux_t *m = c->m;
    if (c->prev) c->prev->next = c->next;
    else m->in = c->next;
    if (c->next) c->next->prev = c->prev;
}

static void in_closed(uv_handle_t *h) {
    in_conn_t *c = h->data;
    sl_mux_t *m = c->m;
    raft_free(h);
    in_unlink(c);
    free(c->rest);
    sl_buf_free(&c->rb);
    free(c);
    mux_maybe_done(m);
}

static void in_close(in_conn_t *c) {
    if (!uv_is_closing((uv_handle_t *)c->tcp)) uv_close((uv_handle_t *)c->tcp, in_closed);
}

static void in_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf) {
    (void)hint;
    in_conn_t *c = h->data;
    if (c->phase == 0) {
        *buf = uv_buf_init((char *)c->hdr + c->got, (unsigned)(HS_SIZE - c->got));
    } else if (c->phase == 1) {
        *buf = uv_buf_init(c->rest + c->rest_got, (unsigned)(c->rest_len - c->rest_got));
    } else {
        if (sl_buf_reserve(&c->rb, 65536)) {
            *buf = uv_buf_init(NULL, 0);
            return;
        }
        *buf = uv_buf_init(c->rb.data + c->rb.len, (unsigned)(c->rb.cap - c->rb.len));
    }
}

static void in_frames(in_conn_t *c) {
    sl_mux_t *m = c->m;
    size_t pos = 0;
    while (c->rb.len - pos >= 4) {
        uint32_t len = sl_be32_get((unsigned char *)c->rb.data + pos);
        if (len < 9 || len > SL_MUX_MAX_FRAME) {
            sl_warn("cluster: bad frame of %u bytes from node %llu; dropping the connection", len,
                    (unsigned long long)c->from);
            in_close(c);
            return;
        }
        if (c->rb.len - pos < 4 + (size_t)len) break;
        const unsigned char *f = (unsigned char *)c->rb.data + pos + 4;
        uint8_t type = f[0];
        uint64_t corr = sl_be64_get(f + 1);
        if (m->rpc && !m->closing) m->rpc(m->ud, c->from, type, corr, (const char *)f + 9, len - 9);
        pos += 4 + (size_t)len;
    }
    if (pos) {
        memmove(c->rb.data, c->rb.data + pos, c->rb.len - pos);
        c->rb.len -= pos;
    }
}

static void in_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
    (void)buf;
    in_conn_t *c = s->data;
    sl_mux_t *m = c->m;
    if (nread == 0) return;
    if (nread < 0) {
        in_close(c);
        return;
    }
    if (c->phase == 2) {
        c->rb.len += (size_t)nread;
        in_frames(c);
        return;
    }
    if (c->phase == 0) {
        c->got += (size_t)nread;
        if (c->got < HS_SIZE) return;
        if (sl_be32_get(c->hdr) != HS_MAGIC || c->hdr[4] != HS_VERSION ||
            (c->hdr[5] != KIND_RAFT && c->hdr[5] != KIND_RPC)) {
            sl_warn("cluster: a connection without sluice's handshake on the internal port; closed");
            in_close(c);
            return;
        }
        c->kind = c->hdr[5];
        c->from = sl_be64_get(c->hdr + 8);
        size_t nl = sl_be16_get(c->hdr + 16), al = sl_be16_get(c->hdr + 18);
        if (nl > HS_NAME_MAX || al > HS_NAME_MAX || nl + al == 0) {
            in_close(c);
            return;
        }
        c->rest_len = nl + al;
        c->rest = malloc(c->rest_len + 2);
        if (!c->rest) {
            in_close(c);
            return;
        }
        c->phase = 1;
        return;
    }
    c->rest_got += (size_t)nread;
    if (c->rest_got < c->rest_len) return;
    size_t nl = sl_be16_get(c->hdr + 16), al = sl_be16_get(c->hdr + 18);
    char name[HS_NAME_MAX + 1], addr[HS_NAME_MAX + 1];
    memcpy(name, c->rest, nl);
    name[nl] = 0;
    memcpy(addr, c->rest + nl, al);
    addr[al] = 0;
    if (c->kind == KIND_RPC) {
        if (al && !peer_find(m, c->from)) sl_mux_set_peer(m, c->from, addr);
        c->phase = 2;
        return;
    }
    uv_read_stop(s);
    group_t *g = group_find(m, name);
    if (!g || !g->accept) {
        sl_debug("cluster: connection for unknown Raft group %s from node %llu; closed", name,
                 (unsigned long long)c->from);
        in_close(c);
        return;
    }
    /* Hand the stream to the group's raft_uv, which closes and frees it. */
    uv_tcp_t *tcp = c->tcp;
    uint64_t from = c->from;
    in_unlink(c);
    free(c->rest);
    sl_buf_free(&c->rb);
    free(c);
    tcp->data = NULL;
    g->accept(g->t, from, addr, (uv_stream_t *)tcp);
}

static void on_accept(uv_stream_t *server, int status) {
    sl_mux_t *m = server->data;
    if (status < 0 || m->closing) return;
    in_conn_t *c = calloc(1, sizeof(*c));
    uv_tcp_t *tcp = raft_malloc(sizeof(*tcp));
    if (!c || !tcp) {
        free(c);
        raft_free(tcp);
        return;
    }
    uv_tcp_init(m->loop, tcp);
    tcp->data = c;
    c->m = m;
    c->tcp = tcp;
    c->next = m->in;
    if (m->in) m->in->prev = c;
    m->in = c;
    if (uv_accept(server, (uv_stream_t *)tcp) || uv_read_start((uv_stream_t *)tcp, in_alloc, in_read)) {
        in_close(c);
        return;
    }
    uv_tcp_nodelay(tcp, 1);
}

/* ---- outgoing RPC connections ---------------------------------------------------------------- */

typedef struct wreq {
    uv_write_t w;
    char *data;
} wreq_t;

static void write_done(uv_write_t *w, int status) {
    (void)status; /* a failed write also fails the read side: handled there */
    wreq_t *r = (wreq_t *)w;
    free(r->data);
    free(r);
}

static int out_write(out_conn_t *o, char *data, size_t len) {
    wreq_t *r = malloc(sizeof(*r));
    if (!r) {
        free(data);
        return -1;
    }
    r->data = data;
    uv_buf_t b = uv_buf_init(data, (unsigned)len);
    if (uv_write(&r->w, (uv_stream_t *)&o->tcp, &b, 1, write_done)) {
        free(data);
        free(r);
        return -1;
    }
    return 0;
}

static void out_closed(uv_handle_t *h) {
    out_conn_t *o = h->data;
    sl_mux_t *m = o->m;
    sl_buf_free(&o->pending);
    free(o);
    m->handles--;
    mux_maybe_done(m);
}

static void out_fail(out_conn_t *o) {
    if (o->state == 3) return;
    o->state = 3;
    sl_mux_t *m = o->m;
    uint64_t id = 0;
    if (o->peer) {
        id = o->peer->id;
        o->peer->out = NULL;
        o->peer = NULL;
    }
    uv_close((uv_handle_t *)&o->tcp, out_closed);
    if (id && m->down && !m->closing) m->down(m->ud, id);
}

static void out_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf) {
    (void)hint;
    out_conn_t *o = h->data;
    *buf = uv_buf_init(o->rbuf, sizeof(o->rbuf));
}

static void out_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
    (void)buf;
    if (nread < 0) out_fail(s->data); /* the peer never sends on this connection: EOF or error */
}

static void out_connected(uv_connect_t *req, int status) {
    out_conn_t *o = req->data;
    if (o->state == 3) return;
    if (status < 0) {
        out_fail(o);
        return;
    }
    sl_mux_t *m = o->m;
    size_t al = strlen(m->address);
    size_t hl = HS_SIZE + 3 + al;
    char *hs = malloc(hl);
    if (!hs) {
        out_fail(o);
        return;
    }
    handshake_encode((unsigned char *)hs, KIND_RPC, m->self, 3, al);
    memcpy(hs + HS_SIZE, "rpc", 3);
    memcpy(hs + HS_SIZE + 3, m->address, al);
    uv_tcp_nodelay(&o->tcp, 1);
    if (out_write(o, hs, hl)) {
        out_fail(o);
        return;
    }
    o->state = 2;
    if (o->pending.len) {
        size_t n;
        char *p = sl_buf_steal(&o->pending, &n);
        if (out_write(o, p, n)) {
            out_fail(o);
            return;
        }
    }
    uv_read_start((uv_stream_t *)&o->tcp, out_alloc, out_read);
}

static out_conn_t *out_open(sl_mux_t *m, peer_t *p) {
    struct sockaddr_storage sa;
    if (sl_parse_hostport(p->address, &sa)) return NULL;
    out_conn_t *o = calloc(1, sizeof(*o));
    if (!o) return NULL;
    o->m = m;
    o->peer = p;
    uv_tcp_init(m->loop, &o->tcp);
    o->tcp.data = o;
    o->creq.data = o;
    m->handles++;
    o->state = 1;
    p->out = o;
    if (uv_tcp_connect(&o->creq, &o->tcp, (struct sockaddr *)&sa, out_connected)) {
        out_fail(o);
        return NULL;
    }
    return o;
}

int sl_mux_set_peer(sl_mux_t *m, uint64_t id, const char *address) {
    peer_t *p = peer_find(m, id);
    if (p) {
        if (!strcmp(p->address, address)) return 0;
        char *a = strdup(address);
        if (!a) return -1;
        free(p->address);
        p->address = a;
        if (p->out) out_fail(p->out);
        return 0;
    }
    if (m->npeers == m->peers_cap) {
        size_t cap = m->peers_cap ? m->peers_cap * 2 : 8;
        peer_t *v = realloc(m->peers, cap * sizeof(*v));
        if (!v) return -1;
        /* out_conn_t points back at its peer: fix the pointers after the move */
        for (size_t i = 0; i < m->npeers; i++)
            if (v[i].out) v[i].out->peer = &v[i];
        m->peers = v;
        m->peers_cap = cap;
    }
    char *a = strdup(address);
    if (!a) return -1;
    m->peers[m->npeers++] = (peer_t){id, a, NULL};
    return 0;
}

int sl_mux_send(sl_mux_t *m, uint64_t to, uint8_t type, uint64_t corr, const void *payload,
                size_t len) {
    if (m->closing || len + 9 > SL_MUX_MAX_FRAME) return -1;
    peer_t *p = peer_find(m, to);
    if (!p) return -1;
    out_conn_t *o = p->out ? p->out : out_open(m, p);
    if (!o) return -1;
    size_t fl = 4 + 9 + len;
    if (o->state == 1) {
        if (sl_buf_reserve(&o->pending, fl)) return -1;
        unsigned char *f = (unsigned char *)o->pending.data + o->pending.len;
        sl_be32_put(f, (uint32_t)(9 + len));
        f[4] = type;
        sl_be64_put(f + 5, corr);
        if (len) memcpy(f + 13, payload, len);
        o->pending.len += fl;
        return 0;
    }
    char *f = malloc(fl);
    if (!f) return -1;
    sl_be32_put((unsigned char *)f, (uint32_t)(9 + len));
    f[4] = (char)type;
    sl_be64_put((unsigned char *)f + 5, corr);
    if (len) memcpy(f + 13, payload, len);
    if (out_write(o, f, fl)) {
        out_fail(o);
        return -1;
    }
    return 0;
}

int sl_mux_connected(sl_mux_t *m, uint64_t to) {
    peer_t *p = peer_find(m, to);
    return p && p->out && p->out->state == 2;
}

/* ---- Raft transports --------------------------------------------------------------------------- */

typedef struct tr_connect tr_connect_t;

typedef struct tr {
    sl_mux_t *m;
    char *name;
    raft_id id;
    char *address;
    tr_connect_t *connects;
    int closing;
    struct raft_uv_transport *t;
    raft_uv_transport_close_cb close_cb;
} tr_t;

struct tr_connect {
    tr_t *tr;
    struct raft_uv_connect *req;
    raft_uv_connect_cb cb;
    uv_tcp_t *tcp;                 /* raft_malloc'ed: raft takes it over on success */
    uv_connect_t c;
    uv_write_t w;
    char *hs;
    int canceled;
    tr_connect_t *prev, *next;
};

static void tr_maybe_closed(tr_t *tr) {
    if (tr->closing && !tr->connects && tr->close_cb) {
        raft_uv_transport_close_cb cb = tr->close_cb;
        tr->close_cb = NULL;
        cb(tr->t);
    }
}

static void tc_unlink(tr_connect_t *c) {
    tr_t *tr = c->tr;
    if (c->prev) c->prev->next = c->next;
    else tr->connects = c->next;
    if (c->next) c->next->prev = c->prev;
}

static void tc_finish(tr_connect_t *c, int ok) {
    tr_t *tr = c->tr;
    tc_unlink(c);
    free(c->hs);
    if (ok && !c->canceled) {
        c->cb(c->req, (uv_stream_t *)c->tcp, 0);
    } else {
        if (!uv_is_closing((uv_handle_t *)c->tcp)) uv_close((uv_handle_t *)c->tcp, raft_handle_free);
        c->cb(c->req, NULL, c->canceled ? RAFT_CANCELED : RAFT_NOCONNECTION);
    }
    free(c);
    tr_maybe_closed(tr);
}

static void tc_written(uv_write_t *w, int status) {
    tr_connect_t *c = w->data;
    tc_finish(c, status == 0);
}

static void tc_connected(uv_connect_t *req, int status) {
    tr_connect_t *c = req->data;
    if (status < 0 || c->canceled) {
        tc_finish(c, 0);
        return;
    }
    uv_tcp_nodelay(c->tcp, 1);
    sl_mux_t *m = c->tr->m;
    size_t nl = strlen(c->tr->name), al = strlen(m->address);
    c->hs = malloc(HS_SIZE + nl + al);
    if (!c->hs) {
        tc_finish(c, 0);
        return;
    }
    handshake_encode((unsigned char *)c->hs, KIND_RAFT, m->self, nl, al);
    memcpy(c->hs + HS_SIZE, c->tr->name, nl);
    memcpy(c->hs + HS_SIZE + nl, m->address, al);
    uv_buf_t b = uv_buf_init(c->hs, (unsigned)(HS_SIZE + nl + al));
    c->w.data = c;
    if (uv_write(&c->w, (uv_stream_t *)c->tcp, &b, 1, tc_written)) tc_finish(c, 0);
}

static int tr_init(struct raft_uv_transport *t, raft_id id, const char *address) {
    tr_t *tr = t->impl;
    tr->id = id;
    free(tr->address);
    tr->address = strdup(address);
    return tr->address ? 0 : RAFT_NOMEM;
}

static int tr_listen(struct raft_uv_transport *t, raft_uv_accept_cb cb) {
    tr_t *tr = t->impl;
    sl_mux_t *m = tr->m;
    group_t *g = group_find(m, tr->name);
    if (g) {
        g->t = t;
        g->accept = cb;
        return 0;
    }
    if (m->ngroups == m->groups_cap) {
        size_t cap = m->groups_cap ? m->groups_cap * 2 : 16;
        group_t *v = realloc(m->groups, cap * sizeof(*v));
        if (!v) return RAFT_NOMEM;
        m->groups = v;
        m->groups_cap = cap;
    }
    char *n = strdup(tr->name);
    if (!n) return RAFT_NOMEM;
    m->groups[m->ngroups++] = (group_t){n, t, cb};
    return 0;
}

static int tr_connect(struct raft_uv_transport *t, struct raft_uv_connect *req, raft_id id,
                      const char *address, raft_uv_connect_cb cb) {
    (void)id;
    tr_t *tr = t->impl;
    struct sockaddr_storage sa;
    if (tr->closing) return RAFT_CANCELED;
    if (sl_parse_hostport(address, &sa)) return RAFT_NOCONNECTION;
    tr_connect_t *c = calloc(1, sizeof(*c));
    uv_tcp_t *tcp = raft_malloc(sizeof(*tcp));
    if (!c || !tcp) {
        free(c);
        raft_free(tcp);
        return RAFT_NOMEM;
    }
    c->tr = tr;
    c->req = req;
    c->cb = cb;
    c->tcp = tcp;
    uv_tcp_init(tr->m->loop, tcp);
    tcp->data = c;
    c->c.data = c;
    c->next = tr->connects;
    if (tr->connects) tr->connects->prev = c;
    tr->connects = c;
    int rv = uv_tcp_connect(&c->c, tcp, (struct sockaddr *)&sa, tc_connected);
    if (rv) {
        tc_unlink(c);
        uv_close((uv_handle_t *)tcp, raft_handle_free);
        free(c);
        return RAFT_NOCONNECTION;
    }
    return 0;
}

static void tr_close(struct raft_uv_transport *t, raft_uv_transport_close_cb cb) {
    tr_t *tr = t->impl;
    sl_mux_t *m = tr->m;
    tr->closing = 1;
    tr->close_cb = cb;
    group_t *g = group_find(m, tr->name);
    if (g && g->t == t) {
        free(g->name);
        *g = m->groups[--m->ngroups];
    }
    for (tr_connect_t *c = tr->connects; c; c = c->next) {
        c->canceled = 1;
        /* closing the handle cancels the connect (or write): its callback finishes c */
        if (!uv_is_closing((uv_handle_t *)c->tcp)) uv_close((uv_handle_t *)c->tcp, raft_handle_free);
    }
    tr_maybe_closed(tr);
}

int sl_mux_transport(sl_mux_t *m, const char *group, struct raft_uv_transport *t) {
    tr_t *tr = calloc(1, sizeof(*tr));
    if (!tr) return -1;
    tr->m = m;
    tr->t = t;
    tr->name = strdup(group);
    if (!tr->name) {
        free(tr);
        return -1;
    }
    memset(t, 0, sizeof(*t));
    t->version = 1;
    t->impl = tr;
    t->init = tr_init;
    t->listen = tr_listen;
    t->connect = tr_connect;
    t->close = tr_close;
    return 0;
}

void sl_mux_transport_free(struct raft_uv_transport *t) {
    tr_t *tr = t->impl;
    if (!tr) return;
    free(tr->name);
    free(tr->address);
    free(tr);
    t->impl = NULL;
}

/* ---- lifecycle ---------------------------------------------------------------------------------- */

int sl_mux_open(uv_loop_t *loop, uint64_t self, const char *address, sl_mux_t **out) {
    sl_mux_t *m = calloc(1, sizeof(*m));
    if (!m) return -1;
    m->loop = loop;
    m->self = self;
    m->address = strdup(address);
    if (!m->address) {
        free(m);
        return -1;
    }
    *out = m;
    return 0;
}

void sl_mux_set_rpc(sl_mux_t *m, sl_mux_rpc_cb rpc, sl_mux_down_cb down, void *ud) {
    m->rpc = rpc;
    m->down = down;
    m->ud = ud;
}

int sl_mux_listen(sl_mux_t *m) {
    struct sockaddr_storage sa;
    if (sl_parse_hostport(m->address, &sa)) return UV_EINVAL;
    uv_tcp_init(m->loop, &m->listener);
    m->listener.data = m;
    m->listener_open = 1;
    m->handles++;
    int rc = uv_tcp_bind(&m->listener, (struct sockaddr *)&sa, 0);
    if (!rc) rc = uv_listen((uv_stream_t *)&m->listener, 256, on_accept);
    return rc;
}

void sl_mux_close(sl_mux_t *m, void (*cb)(void *), void *arg) {
    m->closing = 1;
    m->close_cb = cb;
    m->close_arg = arg;
    if (m->listener_open) {
        m->listener_open = 0;
        uv_close((uv_handle_t *)&m->listener, mux_handle_closed);
    }
    for (size_t i = 0; i < m->npeers; i++)
        if (m->peers[i].out) out_fail(m->peers[i].out);
    for (in_conn_t *c = m->in; c; c = c->next) in_close(c);
    mux_maybe_done(m);
}

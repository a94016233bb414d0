/* The load generator of bench/cluster.py: a copy of bench/loadgen/loadgen.c (same HTTP client, same
 * 200-byte events, same RESULT lines) with four additions for clusters, marked "cluster:":
 *   --ports P1,P2,...   HTTP connections are spread round-robin over these ports (connection i
 *                       goes to port i % n); --port P alone behaves exactly as the original.
 *   --tolerant 1        a connection that fails (refused, reset, closed) counts one error and
 *                       reconnects to the next port instead of aborting the run (failover load).
 *   SIGTERM/SIGINT      end the measurement window now and print the RESULT line as usual.
 *   --urls U1,U2,...    NATS: the servers of a cluster (connects to the first, no randomizing);
 *   --replicas N        NATS: the stream's replicas; js_AddStream is retried while the cluster forms,
 *                       and PublishAsync waits up to 30 s (not 200 ms) when MaxPending is reached.
 * Built by bench/cluster/Makefile. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <nats/nats.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define EVENT_BYTES 200
#define MAX_THREADS 16
#define HDR_MAX (16 << 10)
#define ERR_KEEP 512

/* ---- options ---------------------------------------------------------------------------- */

typedef struct opts {
    const char *mode, *host, *path, *system, *shape, *topic;
    int port, clients, batch, threads, partitions, pipeline;
    int nports, ports[16], tolerant, replicas; /* cluster: --ports, --tolerant, --replicas */
    const char *urls;                          /* cluster: --urls (NATS servers) */
    double seconds, warmup, rate;
    int64_t count;
} opts_t;

static opts_t O = {
    .host = "127.0.0.1", .path = "/v1/topics/bench/events", .topic = "bench", .port = 8080,
    .clients = 16, .batch = 1000, .threads = 2, .partitions = 4, .pipeline = 1000,
    .seconds = 10, .warmup = 2, .replicas = 1,
};

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void die(const char *what) {
    fprintf(stderr, "loadgen: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void *xmalloc(size_t n) {
    void *p = malloc(n);
    if (!p) die("malloc");
    return p;
}

/* ---- latency samples: every sample kept, sorted at the end (exact percentiles) ------------ */

typedef struct lat {
    uint64_t *v;
    size_t n, cap;
} lat_t;

static void lat_add(lat_t *l, uint64_t ns) {
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 4096;
        l->v = realloc(l->v, l->cap * sizeof(*l->v));
        if (!l->v) die("realloc");
    }
    l->v[l->n++] = ns;
}

static void lat_merge(lat_t *into, const lat_t *from) {
    for (size_t i = 0; i < from->n; i++) lat_add(into, from->v[i]);
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Percentile q (0..1) in milliseconds, nearest-rank; -1 when there are no samples. */
static double lat_ms(lat_t *l, double q) {
    if (!l->n) return -1;
    size_t i = (size_t)(q * (double)l->n);
    if (i >= l->n) i = l->n - 1;
    return (double)l->v[i] / 1e6;
}

/* ---- events: `{"key":"k<8 digits>","id":<12 digits>,"pad":"xx..."}`, exactly 200 bytes ----- */

static size_t key_at, id_at; /* offsets of the key and id digits inside an event */

static void put_digits(char *p, uint64_t v, int width) {
    for (int i = width - 1; i >= 0; i--) {
        p[i] = (char)('0' + v % 10);
        v /= 10;
    }
}

static uint64_t rng_next(uint64_t *s) { /* xorshift64* */
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ull;
}

static void event_write(char *p, uint64_t key, uint64_t id) {
    static const char head[] = "{\"key\":\"k00000000\",\"id\":100000000000,\"pad\":\"";
    size_t hl = sizeof(head) - 1;
    memcpy(p, head, hl);
    memset(p + hl, 'x', EVENT_BYTES - hl - 2);
    memcpy(p + EVENT_BYTES - 2, "\"}", 2);
    key_at = 9;
    id_at = 24;
    put_digits(p + key_at, key % 100000000u, 8);
    put_digits(p + id_at, 100000000000ull + id, 12);
}

static atomic_uint_fast64_t next_id;

/* ---- HTTP/1.1 keep-alive client over epoll ------------------------------------------------- */

enum { C_IDLE, C_WRITING, C_READING, C_DONE };

typedef struct conn {
    int fd, state, idx;
    char *req;             /* request bytes (head + body) */
    size_t req_len, wpos;  /* bytes to write, written */
    size_t body_at, nev;   /* offset of the first event in req, events per request */
    char hdr[HDR_MAX];     /* response head being collected */
    size_t hlen;
    int status, chunked;
    int64_t body_left;     /* body bytes still to read */
    uint64_t start;        /* when the request was due (open loop) or sent */
    uint64_t lines;        /* newlines in this response body (fetch) */
    int64_t next_offset;   /* Sluice-Next-Offset (fetch) */
    char err[ERR_KEEP];    /* first bytes of a non-200 body */
    size_t err_len;
    int part_i;            /* fetch: index into this conn's partition list */
    int port_i;            /* cluster: index into O.ports of this connection's server */
    int64_t offset;        /* fetch: next offset to ask for */
    uint64_t rng;
} conn_t;

typedef struct worker {
    int id, epfd, nconn;
    conn_t *conns;
    pthread_t th;
    lat_t lat;
    uint64_t reqs, events, bytes, errors, resp_bytes, lines, t_first, t_last;
    double rate; /* requests/s this worker paces at (open loop); 0 = closed loop */
    char first_err[HDR_MAX + ERR_KEEP + 64]; /* cluster: with the response head */
} worker_t;

static worker_t W[MAX_THREADS];
static uint64_t t_begin, t_measure, t_end; /* run start, measure window [t_measure, t_end) */
static atomic_int_fast64_t budget;      /* fixed-count mode: events still to issue */
static int fixed_count, fetch_mode;

/* cluster: connects to `port`; -1 (errno set) instead of dying when `soft` */
static int tcp_connect_port(int port, int soft) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) die("socket");
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, O.host, &a.sin_addr);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
        if (!soft) die("connect");
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    fcntl(fd, F_SETFL, O_NONBLOCK);
    return fd;
}

static int tcp_connect(void) { return tcp_connect_port(O.port, 0); }

/* cluster: SIGTERM/SIGINT end the measurement window early */
static volatile sig_atomic_t stop_req;
static void on_stop(int sig) {
    (void)sig;
    stop_req = 1;
}

static void ep_set(worker_t *w, conn_t *c, uint32_t ev) {
    struct epoll_event e = {.events = ev, .data.ptr = c};
    if (epoll_ctl(w->epfd, EPOLL_CTL_MOD, c->fd, &e) < 0) die("epoll_ctl");
}

/* Builds the POST once per connection; the keys and ids are rewritten before every send. */
static void post_build(conn_t *c) {
    size_t body = (size_t)O.batch * (EVENT_BYTES + 1);
    char head[256];
    int hl = snprintf(head, sizeof(head),
                      "POST %s HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: application/x-ndjson\r\n"
                      "Content-Length: %zu\r\n\r\n",
                      O.path, O.host, O.port, body);
    c->req = xmalloc((size_t)hl + body);
    memcpy(c->req, head, (size_t)hl);
    c->body_at = (size_t)hl;
    c->req_len = (size_t)hl + body;
    c->nev = (size_t)O.batch;
    for (int i = 0; i < O.batch; i++) {
        char *e = c->req + c->body_at + (size_t)i * (EVENT_BYTES + 1);
        event_write(e, 0, 0);
        e[EVENT_BYTES] = '\n';
    }
}

static void post_patch(conn_t *c) {
    uint64_t id = atomic_fetch_add(&next_id, c->nev);
    for (size_t i = 0; i < c->nev; i++) {
        char *e = c->req + c->body_at + i * (EVENT_BYTES + 1);
        put_digits(e + key_at, rng_next(&c->rng) % 100000000u, 8);
        put_digits(e + id_at, 100000000000ull + id + i, 12);
    }
}

/* fetch mode: connection idx reads partitions idx, idx+clients, ... one after the other */
static int fetch_partition(conn_t *c) { return c->idx + c->part_i * O.clients; }

static void fetch_build(conn_t *c) {
    if (!c->req) c->req = xmalloc(512);
    int n = snprintf(c->req, 512,
                     "GET /v1/topics/%s/partitions/%d/events?offset=%" PRId64
                     "&limit=100000&max_bytes=67108864 HTTP/1.1\r\nHost: %s:%d\r\n\r\n",
                     O.topic, fetch_partition(c), c->offset, O.host, O.port);
    c->req_len = (size_t)n;
}

static void conn_send(worker_t *w, conn_t *c, uint64_t due);

/* cluster (--tolerant): the connection failed; count an error and connect to the next live port.
 * Open loop: the pacer sends on it again; closed loop: the next request goes out now. */
static void conn_fail(worker_t *w, conn_t *c, const char *what) {
    int e = errno;
    w->errors++;
    if (!w->first_err[0]) snprintf(w->first_err, sizeof(w->first_err), "%s: %s", what, strerror(e));
    close(c->fd);
    c->fd = -1;
    for (int tries = 0; c->fd < 0; tries++) {
        c->port_i = (c->port_i + 1) % O.nports;
        c->fd = tcp_connect_port(O.ports[c->port_i], 1);
        if (c->fd >= 0) break;
        if (tries >= 20 * O.nports * 25) die("reconnect: no server for 10 s");
        if ((tries + 1) % O.nports == 0) usleep(20000);
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, c->fd, &ev) < 0) die("epoll_ctl add");
    c->state = C_IDLE;
    if (w->rate <= 0 && now_ns() < t_end) conn_send(w, c, now_ns());
}

static void conn_write(worker_t *w, conn_t *c) {
    while (c->wpos < c->req_len) {
        ssize_t n = write(c->fd, c->req + c->wpos, c->req_len - c->wpos);
        if (n < 0) {
            if (errno == EAGAIN) {
                if (c->state != C_WRITING) ep_set(w, c, EPOLLIN | EPOLLOUT);
                c->state = C_WRITING;
                return;
            }
            if (O.tolerant) {
                conn_fail(w, c, "write");
                return;
            }
            die("write");
        }
        c->wpos += (size_t)n;
    }
    if (c->state == C_WRITING) ep_set(w, c, EPOLLIN);
    c->state = C_READING;
}

/* Starts the next request on an idle connection; `due` is when it should have been sent. */
static void conn_send(worker_t *w, conn_t *c, uint64_t due) {
    if (fetch_mode) {
        fetch_build(c);
    } else {
        if (fixed_count && atomic_fetch_sub(&budget, (int64_t)c->nev) <= 0) {
            c->state = C_DONE;
            return;
        }
        post_patch(c);
    }
    c->wpos = 0;
    c->hlen = 0;
    c->status = 0;
    c->body_left = -1;
    c->lines = 0;
    c->err_len = 0;
    c->next_offset = -1;
    c->start = due;
    conn_write(w, c);
}

static int hdr_parse(conn_t *c, size_t end) {
    c->hdr[end] = 0;
    if (sscanf(c->hdr, "HTTP/1.%*d %d", &c->status) != 1) return -1;
    c->body_left = 0;
    c->chunked = 0;
    for (char *p = strstr(c->hdr, "\r\n"); p && p + 2 < c->hdr + end; p = strstr(p + 2, "\r\n")) {
        char *h = p + 2;
        if (!strncasecmp(h, "Content-Length:", 15)) c->body_left = strtoll(h + 15, NULL, 10);
        else if (!strncasecmp(h, "Sluice-Next-Offset:", 19)) c->next_offset = strtoll(h + 19, NULL, 10);
        else if (!strncasecmp(h, "Transfer-Encoding:", 18) && strstr(h, "chunked")) c->chunked = 1;
    }
    return c->chunked ? -1 : 0; /* this client only takes Content-Length bodies */
}

static void body_bytes(worker_t *w, conn_t *c, const char *p, size_t n) {
    (void)w;
    if (c->status != 200 && c->err_len < ERR_KEEP - 1) {
        size_t k = n < ERR_KEEP - 1 - c->err_len ? n : ERR_KEEP - 1 - c->err_len;
        memcpy(c->err + c->err_len, p, k);
        c->err_len += k;
        c->err[c->err_len] = 0;
    }
    if (fetch_mode) {
        const char *e = p + n;
        while ((p = memchr(p, '\n', (size_t)(e - p)))) {
            c->lines++;
            p++;
        }
    }
}

static void conn_done(worker_t *w, conn_t *c, uint64_t t);

static void conn_read(worker_t *w, conn_t *c) {
    static __thread char scratch[1 << 20];
    for (;;) {
        char *dst;
        size_t cap;
        if (c->body_left < 0) {
            dst = c->hdr + c->hlen;
            cap = HDR_MAX - 1 - c->hlen;
        } else {
            dst = scratch;
            cap = (size_t)c->body_left < sizeof(scratch) ? (size_t)c->body_left : sizeof(scratch);
            if (cap == 0) cap = 1;
        }
        ssize_t n = read(c->fd, dst, cap);
        if (n < 0) {
            if (errno == EAGAIN) return;
            if (O.tolerant) {
                conn_fail(w, c, "read");
                return;
            }
            die("read");
        }
        if (n == 0 && O.tolerant) {
            errno = ECONNRESET;
            conn_fail(w, c, "server closed the connection");
            return;
        }
        if (n == 0) {
            fprintf(stderr, "loadgen: server closed connection %d (state %d)\n", c->idx, c->state);
            w->errors++;
            close(c->fd);
            c->state = C_DONE;
            return;
        }
        if (c->state != C_READING) {
            fprintf(stderr, "loadgen: unexpected %zd response bytes\n", n);
            exit(1);
        }
        w->resp_bytes += (uint64_t)n;
        if (c->body_left < 0) {
            c->hlen += (size_t)n;
            char *end = memmem(c->hdr, c->hlen, "\r\n\r\n", 4);
            if (!end) {
                if (c->hlen >= HDR_MAX - 1) {
                    fprintf(stderr, "loadgen: response head too large\n");
                    exit(1);
                }
                continue;
            }
            size_t hend = (size_t)(end - c->hdr) + 4, extra = c->hlen - hend;
            char first = c->hdr[hend]; /* cluster: hdr_parse writes a NUL over the first body byte */
            if (hdr_parse(c, hend) < 0) {
                fprintf(stderr, "loadgen: unsupported response: %.200s\n", c->hdr);
                exit(1);
            }
            c->hdr[hend] = first;
            if ((int64_t)extra > c->body_left) {
                fprintf(stderr, "loadgen: response longer than its Content-Length\n");
                exit(1);
            }
            body_bytes(w, c, end + 4, extra);
            c->hdr[hend - 4] = 0; /* cluster: the head alone, for the first error's message */
            c->body_left -= (int64_t)extra;
        } else {
            body_bytes(w, c, dst, (size_t)n);
            c->body_left -= n;
        }
        if (c->body_left == 0) {
            conn_done(w, c, now_ns());
            if (c->state != C_READING) return;
        }
    }
}

static void conn_done(worker_t *w, conn_t *c, uint64_t t) {
    int ok = c->status == 200;
    int in_window = fixed_count || fetch_mode || (t >= t_measure && t < t_end);
    if (in_window) {
        if (!w->t_first) w->t_first = t;
        w->t_last = t;
        w->reqs++;
        if (ok) {
            w->events += fetch_mode ? c->lines : c->nev;
            w->bytes += fetch_mode ? 0 : c->nev * EVENT_BYTES;
            w->lines += c->lines;
            lat_add(&w->lat, t - c->start);
        }
    }
    if (!ok) {
        w->errors++;
        if (!w->first_err[0])
        {   /* cluster: the head too (Content-Length, Retry-After), on one line */
            snprintf(w->first_err, sizeof(w->first_err), "status %d: %s [response head: %s]", c->status, c->err,
                     c->hdr);
            for (char *q = w->first_err; *q; q++)
                if (*q == '\r' || *q == '\n') *q = ' ';
        }
    }
    c->state = C_IDLE;
    if (fetch_mode) {
        if (!ok) {
            c->state = C_DONE;
            return;
        }
        if (c->lines == 0 || c->next_offset < 0) { /* this partition is read to its end */
            c->part_i++;
            c->offset = 0;
            if (fetch_partition(c) >= O.partitions) {
                c->state = C_DONE;
                return;
            }
        } else {
            c->offset = c->next_offset;
        }
    }
    if (w->rate > 0) return; /* open loop: the pacer decides when this connection sends again */
    if (t >= t_end && !fixed_count && !fetch_mode) {
        c->state = C_DONE;
        return;
    }
    conn_send(w, c, now_ns());
}

static int sys_epoll_wait_ns(int epfd, struct epoll_event *ev, int n, int64_t timeout_ns) {
    if (timeout_ns < 0) return epoll_wait(epfd, ev, n, -1);
    struct timespec ts = {.tv_sec = timeout_ns / 1000000000, .tv_nsec = timeout_ns % 1000000000};
    return epoll_pwait2(epfd, ev, n, &ts, NULL);
}

static void *http_worker(void *arg) {
    worker_t *w = arg;
    struct epoll_event ev[256];
    uint64_t next_due = t_begin, interval = w->rate > 0 ? (uint64_t)(1e9 / w->rate) : 0;
    for (int i = 0; i < w->nconn; i++) {
        conn_t *c = &w->conns[i];
        struct epoll_event e = {.events = EPOLLIN, .data.ptr = c};
        if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, c->fd, &e) < 0) die("epoll_ctl add");
        if (!interval && c->state != C_DONE) conn_send(w, c, now_ns());
    }
    for (;;) {
        uint64_t now = now_ns();
        if (stop_req && t_end > now) __atomic_store_n(&t_end, now, __ATOMIC_RELAXED);
        int live = 0;
        for (int i = 0; i < w->nconn; i++) live += w->conns[i].state != C_DONE;
        if (!live) break;
        if (!fixed_count && !fetch_mode && now >= t_end + 2000000000ull) break; /* stragglers */
        int64_t timeout = -1;
        if (!fixed_count && !fetch_mode) timeout = (int64_t)(t_end + 2000000000ull - now);
        if (interval) {
            /* open loop: send every request that is due on an idle connection; a request that
             * finds none waits, and its latency counts from when it was due */
            while (next_due <= now && next_due < t_end) {
                conn_t *idle = NULL;
                for (int i = 0; i < w->nconn && !idle; i++)
                    if (w->conns[i].state == C_IDLE) idle = &w->conns[i];
                if (!idle) break;
                conn_send(w, idle, next_due);
                next_due += interval;
            }
            if (now >= t_end) {
                int busy = 0;
                for (int i = 0; i < w->nconn; i++) {
                    if (w->conns[i].state == C_IDLE) w->conns[i].state = C_DONE;
                    busy += w->conns[i].state != C_DONE;
                }
                if (!busy) break;
            } else if (next_due > now) {
                timeout = (int64_t)(next_due - now);
            } else {
                timeout = -1; /* all connections busy: wait for a response */
            }
        }
        if (timeout < 0 || timeout > 100000000) timeout = 100000000; /* cluster: see stop_req */
        int n = sys_epoll_wait_ns(w->epfd, ev, 256, timeout);
        if (n < 0 && errno != EINTR) die("epoll_wait");
        for (int i = 0; i < n; i++) {
            conn_t *c = ev[i].data.ptr;
            if (c->state == C_DONE) continue;
            if ((ev[i].events & EPOLLOUT) && c->state == C_WRITING) conn_write(w, c);
            if (ev[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) conn_read(w, c);
        }
    }
    for (int i = 0; i < w->nconn; i++) close(w->conns[i].fd);
    return NULL;
}

static void print_result(const char *system, const char *shape, double secs, uint64_t reqs,
                         uint64_t events, double mb, lat_t *lat, uint64_t errors, const char *extra) {
    qsort(lat->v, lat->n, sizeof(*lat->v), cmp_u64);
    printf("RESULT system=%s shape=%s events_per_s=%.0f req_per_s=%.0f mb_per_s=%.1f p50_ms=%.3f "
           "p99_ms=%.3f p999_ms=%.3f max_ms=%.3f errors=%" PRIu64 " events=%" PRIu64
           " seconds=%.2f%s%s\n",
           system, shape, (double)events / secs, (double)reqs / secs, mb / secs, lat_ms(lat, 0.50),
           lat_ms(lat, 0.99), lat_ms(lat, 0.999), lat->n ? (double)lat->v[lat->n - 1] / 1e6 : -1.0,
           errors, events, secs, extra ? " " : "", extra ? extra : "");
    fflush(stdout);
}

static int run_http(void) {
    int T = O.threads < O.clients ? O.threads : O.clients;
    if (T > MAX_THREADS) T = MAX_THREADS;
    if (fixed_count) atomic_store(&budget, O.count);
    t_begin = now_ns();
    t_measure = t_begin + (uint64_t)(O.warmup * 1e9);
    t_end = t_measure + (uint64_t)(O.seconds * 1e9);
    for (int t = 0; t < T; t++) {
        worker_t *w = &W[t];
        w->id = t;
        w->epfd = epoll_create1(0);
        w->nconn = O.clients / T + (t < O.clients % T);
        w->conns = calloc((size_t)w->nconn, sizeof(conn_t));
        w->rate = O.rate > 0 ? O.rate / T : 0;
        for (int i = 0; i < w->nconn; i++) {
            conn_t *c = &w->conns[i];
            c->idx = t + i * T;
            c->port_i = c->idx % O.nports;
            c->fd = tcp_connect_port(O.ports[c->port_i], 0);
            c->rng = 0x9e3779b97f4a7c15ull * (uint64_t)(c->idx + 1);
            if (fetch_mode) {
                if (c->idx >= O.partitions) c->state = C_DONE;
            } else {
                post_build(c);
            }
        }
    }
    for (int t = 0; t < T; t++) pthread_create(&W[t].th, NULL, http_worker, &W[t]);
    lat_t lat = {0};
    uint64_t reqs = 0, events = 0, bytes = 0, errors = 0, resp = 0, first = UINT64_MAX, last = 0;
    const char *err = NULL;
    for (int t = 0; t < T; t++) {
        pthread_join(W[t].th, NULL);
        lat_merge(&lat, &W[t].lat);
        reqs += W[t].reqs;
        events += W[t].events;
        bytes += W[t].bytes;
        errors += W[t].errors;
        resp += W[t].resp_bytes;
        if (W[t].t_first && W[t].t_first < first) first = W[t].t_first;
        if (W[t].t_last > last) last = W[t].t_last;
        if (W[t].first_err[0] && !err) err = W[t].first_err;
    }
    double secs = (fixed_count || fetch_mode) ? (double)(last - t_begin) / 1e9 : O.seconds;
    if (stop_req && !fixed_count && !fetch_mode) /* cluster: stopped early */
        secs = t_end > t_measure ? (double)(t_end - t_measure) / 1e9 : 1e-9;
    if (err) fprintf(stderr, "loadgen: %" PRIu64 " errors; first: %s\n", errors, err);
    char extra[160];
    if (fetch_mode) {
        snprintf(extra, sizeof(extra), "resp_mb_per_s=%.1f event_mb_per_s=%.1f resp_bytes=%" PRIu64,
                 (double)resp / 1e6 / secs, (double)events * EVENT_BYTES / 1e6 / secs, resp);
        bytes = resp;
    } else {
        snprintf(extra, sizeof(extra), "clients=%d batch=%d threads=%d target_rate=%.0f servers=%d",
                 O.clients, O.batch, T, O.rate, O.nports);
    }
    print_result(O.system, O.shape, secs, reqs, events, (double)bytes / 1e6, &lat, errors, extra);
    return 0;
}

/* A blocking one-off request (topic creation from run.sh): prints the status and body. */
static int run_request(const char *method, const char *path, const char *body) {
    int fd = tcp_connect();
    fcntl(fd, F_SETFL, 0);
    char req[4096];
    size_t bl = body ? strlen(body) : 0;
    int n = snprintf(req, sizeof(req),
                     "%s %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                     method, path, O.host, bl, body ? body : "");
    if (write(fd, req, (size_t)n) != n) die("write");
    char resp[65536];
    size_t got = 0;
    ssize_t r;
    while (got < sizeof(resp) - 1 && (r = read(fd, resp + got, sizeof(resp) - 1 - got)) > 0) got += (size_t)r;
    resp[got] = 0;
    close(fd);
    int status = 0;
    sscanf(resp, "HTTP/1.%*d %d", &status);
    char *b = strstr(resp, "\r\n\r\n");
    printf("%d %s\n", status, b ? b + 4 : "");
    return status >= 200 && status < 300 ? 0 : 1;
}

/* Prints a port that was free a moment ago (the kernel's pick for port 0). */
static int run_free_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t al = sizeof(a);
    inet_pton(AF_INET, O.host, &a.sin_addr);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
        getsockname(fd, (struct sockaddr *)&a, &al) < 0)
        die("free-port");
    printf("%d\n", ntohs(a.sin_port));
    close(fd);
    return 0;
}

/* Waits up to --seconds for something to accept connections on --port; exit 1 if nothing did. */
static int run_wait_port(void) {
    uint64_t until = now_ns() + (uint64_t)(O.seconds * 1e9);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)O.port)};
    inet_pton(AF_INET, O.host, &a.sin_addr);
    do {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        int ok = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
        close(fd);
        if (ok) return 0;
        usleep(20000);
    } while (now_ns() < until);
    return 1;
}

/* ---- Redis: hiredis-formatted pipelined XADD, XRANGE read-back, over epoll ------------------ */

typedef struct rconn {
    int fd, state, idx;
    char *req;
    size_t req_len, wpos;
    redisReader *rd;
    int want, got;   /* replies expected / received for this pipeline */
    uint64_t start;
    char last_id[64]; /* XRANGE: last entry id read */
    int xrange_done;
} rconn_t;

typedef struct rstats {
    lat_t lat;
    uint64_t reqs, events, bytes, errors;
    char first_err[256];
} rstats_t;

static int redis_streams = 4, redis_read;

static int r_epfd;

/* Writes what is left of the pipeline; EPOLLOUT is wanted only while some of it is left. */
static void r_write(rconn_t *c) {
    int was_blocked = c->wpos > 0 && c->state == C_WRITING;
    while (c->wpos < c->req_len) {
        ssize_t n = write(c->fd, c->req + c->wpos, c->req_len - c->wpos);
        if (n < 0) {
            if (errno != EAGAIN) die("write");
            if (!was_blocked) {
                struct epoll_event e = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
                epoll_ctl(r_epfd, EPOLL_CTL_MOD, c->fd, &e);
            }
            c->state = C_WRITING;
            return;
        }
        c->wpos += (size_t)n;
    }
    if (c->state == C_WRITING) {
        struct epoll_event e = {.events = EPOLLIN, .data.ptr = c};
        epoll_ctl(r_epfd, EPOLL_CTL_MOD, c->fd, &e);
    }
    c->state = C_READING;
}

static void r_send(rconn_t *c) {
    c->wpos = 0;
    c->got = 0;
    c->start = now_ns();
    r_write(c);
}

static void r_xrange_build(rconn_t *c) {
    char key[32], start[80];
    snprintf(key, sizeof(key), "%s:%d", O.topic, c->idx);
    if (c->last_id[0]) snprintf(start, sizeof(start), "(%s", c->last_id);
    else strcpy(start, "-");
    const char *argv[] = {"XRANGE", key, start, "+", "COUNT", "1000"};
    free(c->req);
    c->req_len = (size_t)redisFormatCommandArgv(&c->req, 6, argv, NULL);
    c->want = 1;
}

static int run_redis(void) {
    int nc = redis_read ? redis_streams : O.clients;
    rconn_t *cs = calloc((size_t)nc, sizeof(rconn_t));
    int epfd = r_epfd = epoll_create1(0);
    rstats_t st = {0};
    char ev[EVENT_BYTES + 1];
    for (int i = 0; i < nc; i++) {
        rconn_t *c = &cs[i];
        c->idx = i;
        c->fd = tcp_connect();
        c->rd = redisReaderCreate();
        if (redis_read) {
            r_xrange_build(c);
        } else {
            /* one pipeline of O.pipeline XADDs, built once and sent again and again: Redis gives
             * every entry its own id (`*`), so the entries stay distinct */
            char key[32], kf[16];
            snprintf(key, sizeof(key), "%s:%d", O.topic, i % redis_streams);
            uint64_t rng = 0x9e3779b97f4a7c15ull * (uint64_t)(i + 1);
            size_t cap = (size_t)O.pipeline * 400, len = 0;
            c->req = xmalloc(cap);
            for (int k = 0; k < O.pipeline; k++) {
                uint64_t key_n = rng_next(&rng) % 100000000u;
                event_write(ev, key_n, atomic_fetch_add(&next_id, 1));
                snprintf(kf, sizeof(kf), "k%08" PRIu64, key_n);
                const char *argv[] = {"XADD", key, "*", "key", kf, "payload", ev};
                size_t argl[] = {4, strlen(key), 1, 3, strlen(kf), 7, EVENT_BYTES};
                char *cmd;
                int n = redisFormatCommandArgv(&cmd, 7, argv, argl);
                memcpy(c->req + len, cmd, (size_t)n);
                len += (size_t)n;
                free(cmd);
            }
            c->req_len = len;
            c->want = O.pipeline;
        }
        struct epoll_event e = {.events = EPOLLIN, .data.ptr = c};
        epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &e);
    }
    t_begin = now_ns();
    t_measure = t_begin + (uint64_t)(redis_read ? 0 : O.warmup * 1e9);
    t_end = t_measure + (uint64_t)(O.seconds * 1e9);
    uint64_t last = t_begin;
    for (int i = 0; i < nc; i++) r_send(&cs[i]);
    int live = nc;
    char buf[1 << 16];
    struct epoll_event evs[256];
    while (live > 0) {
        int n = epoll_wait(epfd, evs, 256, 1000);
        uint64_t now = now_ns();
        if (!redis_read && now >= t_end + 2000000000ull) break;
        for (int i = 0; i < n; i++) {
            rconn_t *c = evs[i].data.ptr;
            if (c->state == C_DONE) continue;
            if ((evs[i].events & EPOLLOUT) && c->state == C_WRITING) r_write(c);
            if (!(evs[i].events & EPOLLIN)) continue;
            ssize_t r;
            while ((r = read(c->fd, buf, sizeof(buf))) > 0) {
                redisReaderFeed(c->rd, buf, (size_t)r);
                void *rep;
                for (;;) {
                    if (redisReaderGetReply(c->rd, &rep) != REDIS_OK) {
                        fprintf(stderr, "loadgen: redis protocol error\n");
                        exit(1);
                    }
                    if (!rep) break;
                    redisReply *rr = rep;
                    c->got++;
                    if (rr->type == REDIS_REPLY_ERROR) {
                        st.errors++;
                        if (!st.first_err[0]) snprintf(st.first_err, sizeof(st.first_err), "%s", rr->str);
                    } else if (redis_read) {
                        if (rr->type != REDIS_REPLY_ARRAY || rr->elements == 0) {
                            c->xrange_done = 1;
                        } else {
                            for (size_t k = 0; k < rr->elements; k++) {
                                redisReply *ent = rr->element[k], *f = ent->element[1];
                                for (size_t j = 1; j < f->elements; j += 2) st.bytes += f->element[j]->len;
                            }
                            st.events += rr->elements;
                            redisReply *lid = rr->element[rr->elements - 1]->element[0];
                            snprintf(c->last_id, sizeof(c->last_id), "%s", lid->str);
                        }
                    }
                    freeReplyObject(rr);
                }
                if (c->got >= c->want) break;
            }
            if (r == 0) {
                fprintf(stderr, "loadgen: redis closed the connection\n");
                exit(1);
            }
            if (c->got < c->want) continue;
            now = now_ns();
            if (redis_read) {
                st.reqs++;
                lat_add(&st.lat, now - c->start);
                last = now;
                if (c->xrange_done) {
                    c->state = C_DONE;
                    live--;
                    continue;
                }
                r_xrange_build(c);
            } else {
                if (now >= t_measure && now < t_end) {
                    st.reqs++;
                    st.events += (uint64_t)c->want;
                    st.bytes += (uint64_t)c->want * EVENT_BYTES;
                    lat_add(&st.lat, now - c->start);
                }
                if (now >= t_end) {
                    c->state = C_DONE;
                    live--;
                    continue;
                }
            }
            r_send(c);
        }
    }
    for (int i = 0; i < nc; i++) close(cs[i].fd);
    double secs = redis_read ? (double)(last - t_begin) / 1e9 : O.seconds;
    if (st.first_err[0]) fprintf(stderr, "loadgen: redis errors %" PRIu64 "; first: %s\n", st.errors, st.first_err);
    char extra[96];
    snprintf(extra, sizeof(extra), "clients=%d pipeline=%d", nc, redis_read ? 1 : O.pipeline);
    print_result("redis", O.shape, secs, st.reqs, st.events, (double)st.bytes / 1e6, &st.lat, st.errors, extra);
    return 0;
}

/* ---- NATS JetStream: async publish throughput, then a sync publish latency pass ------------- */

static atomic_uint_fast64_t nats_errs;

static void nats_err_cb(jsCtx *js, jsPubAckErr *pae, void *closure) {
    (void)js;
    (void)closure;
    if (atomic_fetch_add(&nats_errs, 1) == 0)
        fprintf(stderr, "loadgen: nats publish error: %s\n", pae->ErrText ? pae->ErrText : "?");
}

#define NATS_CHECK(x)                                                                  \
    do {                                                                               \
        natsStatus s_ = (x);                                                           \
        if (s_ != NATS_OK) {                                                           \
            fprintf(stderr, "loadgen: %s: %s\n", #x, natsStatus_GetText(s_));          \
            exit(1);                                                                   \
        }                                                                              \
    } while (0)

static int run_nats(void) {
    natsConnection *nc = NULL;
    natsOptions *no = NULL;
    jsCtx *js = NULL;
    jsOptions jo;
    jsStreamConfig sc;
    jsErrCode jerr = 0;
    char url[128];
    snprintf(url, sizeof(url), "nats://%s:%d", O.host, O.port);
    NATS_CHECK(natsOptions_Create(&no));
    if (O.urls) { /* cluster: every server of the cluster, the first one used while it is up */
        static char ubuf[1024];
        const char *list[16];
        int nu = 0;
        snprintf(ubuf, sizeof(ubuf), "%s", O.urls);
        for (char *sv = NULL, *u = strtok_r(ubuf, ",", &sv); u && nu < 16; u = strtok_r(NULL, ",", &sv))
            list[nu++] = u;
        NATS_CHECK(natsOptions_SetServers(no, list, nu));
        NATS_CHECK(natsOptions_SetNoRandomize(no, true));
    } else {
        NATS_CHECK(natsOptions_SetURL(no, url));
    }
    NATS_CHECK(natsConnection_Connect(&nc, no));
    jsOptions_Init(&jo);
    jo.PublishAsync.MaxPending = O.pipeline;
    jo.PublishAsync.ErrHandler = nats_err_cb;
    /* cluster: a replicated stream can stall longer than cnats' 200 ms default (leader changes
     * under load); wait instead of failing the run, the stall shows in the rate */
    jo.PublishAsync.StallWait = 30000;
    NATS_CHECK(natsConnection_JetStream(&js, nc, &jo));
    jsStreamConfig_Init(&sc);
    const char *subjects[] = {"bench"};
    sc.Name = "BENCH";
    sc.Subjects = subjects;
    sc.SubjectsLen = 1;
    sc.Storage = js_FileStorage;
    sc.Replicas = O.replicas; /* cluster: --replicas */
    natsStatus s;
    uint64_t add_until = now_ns() + 30000000000ull; /* cluster: retried while the cluster forms */
    for (;;) {
        jerr = 0;
        jsStreamInfo *si = NULL;
        s = js_AddStream(&si, js, &sc, NULL, &jerr);
        if (s == NATS_OK) {
            if (si && si->Cluster)
                fprintf(stderr, "loadgen: stream BENCH replicas=%d cluster=%s leader=%s\n", O.replicas,
                        si->Cluster->Name ? si->Cluster->Name : "-",
                        si->Cluster->Leader ? si->Cluster->Leader : "-");
            jsStreamInfo_Destroy(si);
            break;
        }
        if (now_ns() > add_until) {
            fprintf(stderr, "loadgen: js_AddStream: %s (%d) %s\n", natsStatus_GetText(s), (int)jerr,
                    nats_GetLastError(NULL));
            return 1;
        }
        usleep(200000);
    }
    char ev[EVENT_BYTES];
    uint64_t rng = 12345;
    if (!strcmp(O.shape, "batched")) {
        int64_t warm = O.count / 10;
        uint64_t t0 = 0;
        for (int64_t i = 0; i < warm + O.count; i++) {
            if (i == warm) {
                NATS_CHECK(js_PublishAsyncComplete(js, NULL));
                t0 = now_ns();
            }
            event_write(ev, rng_next(&rng), (uint64_t)i);
            NATS_CHECK(js_PublishAsync(js, "bench", ev, EVENT_BYTES, NULL));
        }
        jsPubOptions po;
        jsPubOptions_Init(&po);
        po.MaxWait = 60000;
        NATS_CHECK(js_PublishAsyncComplete(js, &po));
        double secs = (double)(now_ns() - t0) / 1e9;
        lat_t none = {0};
        char extra[64];
        snprintf(extra, sizeof(extra), "max_pending=%d async=1", O.pipeline);
        print_result("nats", "batched", secs, (uint64_t)O.count, (uint64_t)O.count,
                     (double)O.count * EVENT_BYTES / 1e6, &none, atomic_load(&nats_errs), extra);
    } else {
        lat_t lat = {0};
        uint64_t errs = 0, t0 = now_ns();
        for (int64_t i = 0; i < O.count; i++) {
            event_write(ev, rng_next(&rng), (uint64_t)i);
            jsPubAck *pa = NULL;
            uint64_t a = now_ns();
            s = js_Publish(&pa, js, "bench", ev, EVENT_BYTES, NULL, &jerr);
            lat_add(&lat, now_ns() - a);
            if (s != NATS_OK) errs++;
            jsPubAck_Destroy(pa);
        }
        double secs = (double)(now_ns() - t0) / 1e9;
        print_result("nats", "sync", secs, (uint64_t)O.count, (uint64_t)O.count,
                     (double)O.count * EVENT_BYTES / 1e6, &lat, errs, "clients=1 async=0");
    }
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
    natsOptions_Destroy(no);
    nats_Close();
    return 0;
}

/* ---- command line ------------------------------------------------------------------------ */

static void usage(void) {
    fprintf(stderr,
            "usage: loadgen MODE [--port P] [--host H] [--seconds S] [--warmup S] [--clients N]\n"
            "               [--batch N] [--threads N] [--rate R] [--count N] [--partitions N]\n"
            "               [--pipeline N] [--topic T] [--path PATH]\n"
            "               [--ports P1,P2,..] [--tolerant 1] [--urls U1,U2,..] [--replicas N]\n"
            "modes: sluice-batch sluice-single sluice-rate sluice-fetch nginx\n"
            "       redis-batch redis-single redis-xrange nats-async nats-sync\n"
            "       request METHOD PATH [BODY]   free-port   wait-port --port P [--seconds S]\n");
    exit(2);
}

int main(int argc, char **argv) {
    if (argc < 2) usage();
    O.mode = argv[1];
    int pos = 2;
    const char *req_args[3] = {0};
    int nreq = 0;
    int set_clients = 0, set_batch = 0, set_pipeline = 0;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strncmp(a, "--", 2)) {
            if (nreq < 3) req_args[nreq++] = a;
            continue;
        }
        if (!v) usage();
        i++;
        if (!strcmp(a, "--port")) O.port = atoi(v);
        else if (!strcmp(a, "--host")) O.host = v;
        else if (!strcmp(a, "--seconds")) O.seconds = atof(v);
        else if (!strcmp(a, "--warmup")) O.warmup = atof(v);
        else if (!strcmp(a, "--clients")) O.clients = atoi(v), set_clients = 1;
        else if (!strcmp(a, "--batch")) O.batch = atoi(v), set_batch = 1;
        else if (!strcmp(a, "--threads")) O.threads = atoi(v);
        else if (!strcmp(a, "--rate")) O.rate = atof(v);
        else if (!strcmp(a, "--count")) O.count = atoll(v);
        else if (!strcmp(a, "--partitions")) O.partitions = atoi(v);
        else if (!strcmp(a, "--pipeline")) O.pipeline = atoi(v), set_pipeline = 1;
        else if (!strcmp(a, "--topic")) O.topic = v;
        else if (!strcmp(a, "--path")) O.path = v;
        else if (!strcmp(a, "--ports")) {
            char *end = (char *)v;
            O.nports = 0;
            while (*end && O.nports < 16) {
                O.ports[O.nports++] = (int)strtol(end, &end, 10);
                if (*end == ',') end++;
                else if (*end) usage();
            }
        }
        else if (!strcmp(a, "--tolerant")) O.tolerant = atoi(v);
        else if (!strcmp(a, "--urls")) O.urls = v;
        else if (!strcmp(a, "--replicas")) O.replicas = atoi(v);
        else usage();
    }
    (void)pos;
    if (!O.nports) O.ports[O.nports++] = O.port; /* cluster: --port P = --ports P */
    else O.port = O.ports[0];
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa = {.sa_handler = on_stop};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    static char path[300];
    snprintf(path, sizeof(path), "/v1/topics/%s/events", O.topic);
    if (strcmp(O.path, "/v1/topics/bench/events") == 0) O.path = path;
    const char *m = O.mode;
    if (!strcmp(m, "request")) {
        if (nreq < 2) usage();
        return run_request(req_args[0], req_args[1], req_args[2]);
    }
    if (!strcmp(m, "free-port")) return run_free_port();
    if (!strcmp(m, "wait-port")) return run_wait_port();
    int single = !strcmp(m, "sluice-single") || !strcmp(m, "sluice-rate") || !strcmp(m, "nginx") ||
                 !strcmp(m, "redis-single");
    if (single) {
        if (!set_clients) O.clients = 64;
        if (!set_batch) O.batch = 1;
        if (!set_pipeline) O.pipeline = 1;
    }
    O.shape = single ? "single" : "batched";
    O.system = !strncmp(m, "sluice", 6) ? "sluice" : !strcmp(m, "nginx") ? "nginx" : "";
    if (!strcmp(m, "sluice-batch") || !strcmp(m, "sluice-single") || !strcmp(m, "nginx")) {
        fixed_count = O.count > 0;
        return run_http();
    }
    if (!strcmp(m, "sluice-rate")) {
        if (O.rate <= 0) usage();
        O.shape = "single-rate";
        return run_http();
    }
    if (!strcmp(m, "sluice-fetch")) {
        fetch_mode = 1;
        O.clients = O.clients < O.partitions ? O.clients : O.partitions;
        if (!set_clients) O.clients = O.partitions;
        O.shape = "fetch";
        return run_http();
    }
    if (!strcmp(m, "redis-batch") || !strcmp(m, "redis-single")) return run_redis();
    if (!strcmp(m, "redis-xrange")) {
        redis_read = 1;
        O.shape = "xrange";
        return run_redis();
    }
    if (!strcmp(m, "nats-async") || !strcmp(m, "nats-sync")) {
        O.shape = !strcmp(m, "nats-async") ? "batched" : "sync";
        if (!set_pipeline) O.pipeline = 4096;
        if (O.count <= 0) O.count = !strcmp(m, "nats-async") ? 500000 : 20000;
        return run_nats();
    }
    usage();
    return 2;
}

/* nexmark-bench: runs Nexmark queries (queries/qN.sql) in process, the way Flink's and Feldera's
 * published per-core figures are measured: one thread, the generator feeding the query
 * directly, the query's output counted and dropped (a discard sink), no log, no network.
 *
 * Per query: parse queries/ddl.sql and the query file (sl_sql_parse), bind the stream and the
 * SELECT (continuous), create the query, then push --events bids (event numbers whose kind is
 * bid; persons and auctions are skipped without being generated) in batches of --batch:
 *
 *   generate a batch (typed rows, or JSON text with --json)    <- timed as generation
 *   sl_query_begin, sl_query_push_row|push_json × batch,
 *   sl_query_end                                             <- timed as engine
 *
 * so the engine's events/s has generation subtracted exactly (the clocks are read once per
 * batch). It is counted on the thread's CPU clock (CLOCK_THREAD_CPUTIME_ID), which a busy
 * machine does not inflate the way it does wall time; wall time is printed beside it, and the
 * end-to-end events/s (generation + engine). Each query runs in a forked child, so its peak
 * RSS is its own. */
#define _GNU_SOURCE
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "exec/query.h"
#include "nexmark.h"
#include "sql/ast.h"
#include "sql/plan.h"

#define DEFAULT_EVENTS 10000000ULL
#define DEFAULT_BATCH 4096
#define TEXT_PER_EVENT 1024 /* packed string / JSON bytes reserved per batch slot */
#define NCOLS 7

static const char *const default_queries[] = {"q0",  "q1",  "q2",  "q11", "q12", "q14",
                                              "q15", "q16", "q17", "q21", "q22"};

typedef struct opts {
    uint64_t events;
    size_t batch;
    int json, gen_only;
    int threads;                   /* --json: scan threads per batch (sl_qscan), 1 = the serial path */
    const char *dir;
    const char **queries;
    int nqueries;
} opts_t;

/* One batch of bids: typed rows whose strings are packed into text, or JSON objects back to
 * back in text (event i at text + off[i], length len[i]). */
typedef struct batch {
    size_t n, cap;
    sl_value_t *rows;  /* cap * NCOLS */
    size_t *off, *len; /* JSON mode */
    char *text;
    size_t text_cap, text_len;
    uint64_t next_event; /* the next event number to look at */
    char scratch[NX_SCRATCH_BYTES];
} batch_t;

/* The stream's column index of each bid field, in the order the generator gives them. */
typedef struct colmap {
    int auction, bidder, price, channel, url, date_time, extra;
} colmap_t;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double cpu_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int64_t wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void usage(FILE *f) {
    fprintf(f,
            "usage: nexmark-bench [--events N] [--batch N] [--json] [--gen-only] [--queries DIR]\n"
            "                     [QUERY ...]\n"
            "  --events N     bids pushed into each query (default 10000000)\n"
            "  --batch N      events between sl_query_begin and sl_query_end (default 4096)\n"
            "  --json         push JSON text (sl_query_push_json) instead of typed rows\n"
            "  --threads N    with --json: scan each batch on N threads (sl_qscan, as the server's\n"
            "                 --sql-scan-threads), then aggregate in order; compare ev/s wall\n"
            "  --gen-only     measure the generator alone and stop\n"
            "  --queries DIR  where ddl.sql and qN.sql are (default: queries or\n"
            "                 bench/nexmark/queries, whichever exists)\n"
            "  QUERY          q0 .. q22 (DIR/QUERY.sql) or a path to a .sql file; default: all\n"
            "                 of q0 q1 q2 q11 q12 q14 q15 q16 q17 q21 q22\n");
}

static int parse_u64(const char *opt, const char *s, uint64_t *v) {
    char *end;
    errno = 0;
    unsigned long long x = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-' || x == 0) {
        fprintf(stderr, "nexmark-bench: %s wants a positive integer, got '%s'\n", opt, s);
        return -1;
    }
    *v = x;
    return 0;
}

static int parse_args(int argc, char **argv, opts_t *o) {
    *o = (opts_t){.events = DEFAULT_EVENTS, .batch = DEFAULT_BATCH, .threads = 1};
    size_t ndef = sizeof(default_queries) / sizeof(default_queries[0]);
    o->queries = calloc((size_t)argc + ndef, sizeof(*o->queries));
    if (!o->queries) return -1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        uint64_t v;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            exit(0);
        } else if (!strcmp(a, "--json")) {
            o->json = 1;
        } else if (!strcmp(a, "--threads")) {
            uint64_t nthr;
            if (i + 1 >= argc || parse_u64(a, argv[++i], &nthr) || nthr < 1 || nthr > 16) {
                fprintf(stderr, "nexmark-bench: --threads takes 1..16\n");
                return -1;
            }
            o->threads = (int)nthr;
        } else if (!strcmp(a, "--gen-only")) {
            o->gen_only = 1;
        } else if (a[0] == '-' && !val) {
            fprintf(stderr, "nexmark-bench: unknown option or missing value: %s\n", a);
            return -1;
        } else if (!strcmp(a, "--events")) {
            if (parse_u64(a, val, &o->events)) return -1;
            i++;
        } else if (!strcmp(a, "--batch")) {
            if (parse_u64(a, val, &v)) return -1;
            if (v > 1000000) {
                fprintf(stderr, "nexmark-bench: --batch is at most 1000000\n");
                return -1;
            }
            o->batch = (size_t)v;
            i++;
        } else if (!strcmp(a, "--queries")) {
            o->dir = val;
            i++;
        } else if (a[0] == '-') {
            fprintf(stderr, "nexmark-bench: unknown option: %s\n", a);
            usage(stderr);
            return -1;
        } else {
            o->queries[o->nqueries++] = a;
        }
    }
    if (!o->nqueries) {
        o->nqueries = (int)ndef;
        for (int i = 0; i < o->nqueries; i++) o->queries[i] = default_queries[i];
    }
    if (!o->dir) {
        struct stat st;
        o->dir = stat("queries/ddl.sql", &st) == 0 ? "queries" : "bench/nexmark/queries";
    }
    return 0;
}

static char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "nexmark-bench: %s: %s\n", path, strerror(errno));
        return NULL;
    }
    char *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (cap - n < 4096) {
            char *nb = realloc(buf, cap ? cap * 2 : 8192);
            if (!nb) break;
            buf = nb;
            cap = cap ? cap * 2 : 8192;
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (r == 0) {
            if (ferror(f)) break;
            fclose(f);
            *len = n;
            return buf;
        }
    }
    fprintf(stderr, "nexmark-bench: reading %s failed\n", path);
    fclose(f);
    free(buf);
    return NULL;
}

/* ---- the batch generator ------------------------------------------------------------------ */

static int batch_init(batch_t *b, size_t cap) {
    memset(b, 0, sizeof(*b));
    b->cap = cap;
    b->text_cap = cap * TEXT_PER_EVENT;
    b->rows = calloc(cap * NCOLS, sizeof(*b->rows));
    b->off = calloc(cap, sizeof(*b->off));
    b->len = calloc(cap, sizeof(*b->len));
    b->text = malloc(b->text_cap);
    if (!b->rows || !b->off || !b->len || !b->text) {
        fprintf(stderr, "nexmark-bench: out of memory\n");
        return -1;
    }
    return 0;
}

static void batch_free(batch_t *b) {
    free(b->rows);
    free(b->off);
    free(b->len);
    free(b->text);
}

static const char *pack(batch_t *b, const char *s, size_t n) {
    char *p = b->text + b->text_len;
    memcpy(p, s, n);
    b->text_len += n;
    return p;
}

/* Fills the batch with up to `want` bids (fewer when its text space runs out). */
static void batch_fill(batch_t *b, const nx_config_t *cfg, const colmap_t *m, int json, size_t want) {
    b->n = 0;
    b->text_len = 0;
    while (b->n < want) {
        uint64_t n = b->next_event;
        if (nx_kind_at(cfg, n) != NX_BID) {
            b->next_event++;
            continue;
        }
        nx_event_t ev;
        int rc = nx_event_at(cfg, n, &ev, b->scratch, sizeof(b->scratch));
        assert(rc == 0);
        (void)rc;
        const nx_bid_t *bid = &ev.bid;
        size_t room = b->text_cap - b->text_len;
        if (json) {
            if (room < nx_event_json_bound(&ev)) break;
            size_t w = nx_event_json(&ev, b->text + b->text_len, room);
            b->off[b->n] = b->text_len;
            b->len[b->n] = w;
            b->text_len += w;
        } else {
            if (room < bid->channel_len + bid->url_len + bid->extra_len) break;
            sl_value_t *r = &b->rows[b->n * NCOLS];
            r[m->auction] = (sl_value_t){.u.i = bid->auction};
            r[m->bidder] = (sl_value_t){.u.i = bid->bidder};
            r[m->price] = (sl_value_t){.u.i = bid->price};
            r[m->channel] = (sl_value_t){.u.s = {pack(b, bid->channel, bid->channel_len), (uint32_t)bid->channel_len}};
            r[m->url] = (sl_value_t){.u.s = {pack(b, bid->url, bid->url_len), (uint32_t)bid->url_len}};
            r[m->date_time] = (sl_value_t){.u.i = bid->date_time_ms};
            r[m->extra] = (sl_value_t){.u.s = {pack(b, bid->extra, bid->extra_len), (uint32_t)bid->extra_len}};
        }
        b->n++;
        b->next_event++;
    }
}

static void fmt_rate(char *out, size_t cap, double per_s) {
    if (per_s >= 1e6) snprintf(out, cap, "%.2f M", per_s / 1e6);
    else snprintf(out, cap, "%.1f K", per_s / 1e3);
}

static double peak_rss_mib(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss / 1024.0; /* KiB on Linux */
}

static int gen_only(const opts_t *o, const nx_config_t *cfg) {
    static const colmap_t m = {0, 1, 2, 3, 4, 5, 6};
    batch_t *b = malloc(sizeof(*b));
    if (!b || batch_init(b, o->batch)) return 1;
    for (int json = 0; json <= 1; json++) {
        b->next_event = 0;
        uint64_t done = 0, bytes = 0;
        double t0 = now_s();
        while (done < o->events) {
            uint64_t left = o->events - done;
            batch_fill(b, cfg, &m, json, left < b->cap ? (size_t)left : b->cap);
            done += b->n;
            bytes += b->text_len;
        }
        double s = now_s() - t0;
        char r[32];
        fmt_rate(r, sizeof(r), (double)done / s);
        printf("generation alone, %-5s %" PRIu64 " bids in %.2f s: %s bids/s, %.0f MB/s of %s\n",
               json ? "JSON" : "typed", done, s, r, (double)bytes / s / 1e6,
               json ? "JSON text" : "packed strings");
    }
    fflush(stdout);
    batch_free(b);
    free(b);
    return 0;
}

/* ---- one query ---------------------------------------------------------------------------- */

typedef struct sink {
    uint64_t rows, inserts, updates, deletes;
} sink_t;

static void on_emit(void *ud, int change, const char *key, size_t key_len, const sl_value_t *row) {
    sink_t *s = ud;
    (void)key, (void)key_len, (void)row;
    s->rows++;
    if (change == SL_CHANGE_INSERT) s->inserts++;
    else if (change == SL_CHANGE_UPDATE) s->updates++;
    else s->deletes++;
}

static const sl_stream_def_t *the_stream;

static const sl_stream_def_t *cat_stream(void *ud, const char *name) {
    (void)ud;
    return the_stream && !strcasecmp(name, the_stream->name) ? the_stream : NULL;
}

static const sl_view_def_t *cat_view(void *ud, const char *name) {
    (void)ud, (void)name;
    return NULL;
}

static int find_col(const sl_stream_def_t *d, const char *name) {
    for (int i = 0; i < d->ncols; i++)
        if (!strcasecmp(d->cols[i].name, name)) return i;
    fprintf(stderr, "nexmark-bench: the stream %s has no column %s\n", d->name, name);
    return -1;
}

/* Binds the CREATE STREAM of ddl.sql into the_stream (its arena lives until exit). */
static int load_ddl(const char *dir, colmap_t *m) {
    static sl_arena_t a;
    char path[4096];
    snprintf(path, sizeof(path), "%s/ddl.sql", dir);
    size_t len;
    char *text = read_file(path, &len);
    if (!text) return -1;
    sl_arena_init(&a);
    sl_ast_stmt_t *stmts;
    size_t n;
    sl_sql_error_t err;
    memset(&err, 0, sizeof(err));
    if (sl_sql_parse(&a, text, len, &stmts, &n, &err)) {
        fprintf(stderr, "nexmark-bench: %s: %s\n", path, err.message);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (stmts[i].kind != SL_AS_CREATE_STREAM) continue;
        the_stream = sl_bind_stream(&a, &stmts[i], &err);
        if (!the_stream) {
            fprintf(stderr, "nexmark-bench: %s: %s\n", path, err.message);
            return -1;
        }
        break;
    }
    free(text);
    if (!the_stream) {
        fprintf(stderr, "nexmark-bench: %s declares no stream\n", path);
        return -1;
    }
    *m = (colmap_t){find_col(the_stream, "auction"), find_col(the_stream, "bidder"),
                    find_col(the_stream, "price"),   find_col(the_stream, "channel"),
                    find_col(the_stream, "url"),     find_col(the_stream, "dateTime"),
                    find_col(the_stream, "extra")};
    if (the_stream->ncols != NCOLS || m->auction < 0 || m->bidder < 0 || m->price < 0 ||
        m->channel < 0 || m->url < 0 || m->date_time < 0 || m->extra < 0) {
        fprintf(stderr, "nexmark-bench: %s: the bid stream must have exactly the 7 bid columns\n", path);
        return -1;
    }
    return 0;
}

/* Parses, binds and creates the query of one .sql file (its last SELECT, or the SELECT of its
 * last CREATE MATERIALIZED VIEW / SINK). */
static sl_query_t *make_query(const char *path, sink_t *sink) {
    size_t len;
    char *text = read_file(path, &len);
    if (!text) return NULL;
    sl_arena_t a;
    sl_arena_init(&a);
    sl_ast_stmt_t *stmts;
    size_t n;
    sl_sql_error_t err;
    memset(&err, 0, sizeof(err));
    sl_query_t *q = NULL;
    const sl_ast_select_t *sel = NULL;
    if (sl_sql_parse(&a, text, len, &stmts, &n, &err)) {
        fprintf(stderr, "nexmark-bench: %s: parse: %s\n", path, err.message);
        goto failed;
    }
    for (size_t i = 0; i < n; i++)
        if (stmts[i].select && stmts[i].kind != SL_AS_EXPLAIN) sel = stmts[i].select;
    if (!sel) {
        fprintf(stderr, "nexmark-bench: %s holds no SELECT\n", path);
        goto failed;
    }
    sl_catalog_t cat = {NULL, cat_stream, cat_view};
    sl_plan_t *plan = sl_bind_select(&a, &cat, sel, 1, &err);
    if (!plan) {
        fprintf(stderr, "nexmark-bench: %s: bind: %s\n", path, err.message);
        goto failed;
    }
    sl_query_config_t qc = {0, on_emit, sink};
    char cerr[512];
    if (sl_query_create(&a, plan, &qc, &q, cerr, sizeof(cerr))) {
        fprintf(stderr, "nexmark-bench: %s: create: %s\n", path, cerr);
        q = NULL;
        goto failed;
    }
    free(text);
    return q; /* the query owns the arena now */
failed:
    sl_arena_free(&a);
    free(text);
    return NULL;
}

/* One scan thread's share of a batch (--threads). */
typedef struct share {
    sl_qscan_t *sc;
    const batch_t *b;
    size_t from, to;
    uint64_t first;
    int64_t now;
    pthread_t tid;
} share_t;

static void *scan_share(void *arg) {
    share_t *sh = arg;
    sl_qscan_begin(sh->sc, sh->now);
    for (size_t i = sh->from; i < sh->to; i++)
        if (sl_qscan_push_json(sh->sc, 0, (int64_t)(sh->first + i), sh->b->text + sh->b->off[i], sh->b->len[i]))
            break;
    return NULL;
}

static int run_query(const opts_t *o, const nx_config_t *cfg, const colmap_t *m, const char *name) {
    char path[4096];
    size_t nl = strlen(name);
    if (strchr(name, '/') || (nl > 4 && !strcmp(name + nl - 4, ".sql")))
        snprintf(path, sizeof(path), "%s", name);
    else
        snprintf(path, sizeof(path), "%s/%s.sql", o->dir, name);
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    char label[64];
    snprintf(label, sizeof(label), "%.*s", (int)(strlen(base) > 4 ? strlen(base) - 4 : strlen(base)), base);

    sink_t sink = {0};
    sl_query_t *q = make_query(path, &sink);
    if (!q) return 1;
    if (sl_query_set_partitions(q, 1)) return 1;
    batch_t *b = malloc(sizeof(*b));
    if (!b || batch_init(b, o->batch)) return 1;
    sl_qscan_t *sc[16];
    int nt = o->json ? o->threads : 1;
    for (int t = 0; t < nt && nt > 1; t++)
        if (sl_qscan_new(q, &sc[t])) return 1;

    double eng = 0, gen_cpu = 0, eng_cpu = 0;
    uint64_t done = 0;
    int failed = 0;
    while (done < o->events && !failed) {
        uint64_t left = o->events - done;
        double c0 = cpu_s();
        batch_fill(b, cfg, m, o->json, left < b->cap ? (size_t)left : b->cap);
        double t1 = now_s(), c1 = cpu_s();
        int64_t now = wall_ms();
        sl_query_begin(q, now);
        if (o->json && nt > 1) {
            share_t sh[16];
            for (int t = 0; t < nt; t++)
                sh[t] = (share_t){sc[t], b, b->n * (size_t)t / (size_t)nt, b->n * (size_t)(t + 1) / (size_t)nt, done,
                                  now, 0};
            for (int t = 1; t < nt; t++) pthread_create(&sh[t].tid, NULL, scan_share, &sh[t]);
            scan_share(&sh[0]);
            for (int t = 1; t < nt; t++) pthread_join(sh[t].tid, NULL);
            for (int t = 0; t < nt && !failed; t++)
                if (sl_query_consume(q, sc[t])) failed = 1;
        } else if (o->json) {
            for (size_t i = 0; i < b->n; i++)
                if (sl_query_push_json(q, 0, (int64_t)(done + i), now, b->text + b->off[i], b->len[i]) < 0) {
                    failed = 1;
                    break;
                }
        } else {
            for (size_t i = 0; i < b->n; i++)
                if (sl_query_push_row(q, 0, (int64_t)(done + i), &b->rows[i * NCOLS]) < 0) {
                    failed = 1;
                    break;
                }
        }
        if (sl_query_end(q, wall_ms()) < 0) failed = 1;
        double t2 = now_s(), c2 = cpu_s();
        eng += t2 - t1;
        gen_cpu += c1 - c0;
        eng_cpu += c2 - c1;
        done += b->n;
    }
    if (failed) {
        fprintf(stderr, "nexmark-bench: %s failed after %" PRIu64 " events: %s\n", label, done,
                sl_query_error(q) ? sl_query_error(q) : "(no message)");
        return 1;
    }
    sl_query_stats_t st;
    sl_query_stats(q, &st);
    char er[32], ew[32], tr[32];
    fmt_rate(er, sizeof(er), (double)done / eng_cpu);
    fmt_rate(ew, sizeof(ew), (double)done / eng);
    fmt_rate(tr, sizeof(tr), (double)done / (gen_cpu + eng_cpu));
    char out[64];
    if (sink.updates || sink.deletes)
        snprintf(out, sizeof(out), "%" PRIu64 " (%" PRIu64 " upd)", sink.rows, sink.updates);
    else
        snprintf(out, sizeof(out), "%" PRIu64, sink.rows);
    const char *note = "";
    if (strstr(label, "q12")) note = "processing time: rows depend on run speed";
    else if (st.bad_fields) note = "bad fields!";
    printf("%-5s %-5s %10" PRIu64 " %6.2f %6.2f %6.2f %11s %11s %11s %22s %8.1f %8.1f  %s\n",
           label, o->json ? "json" : "typed", done, gen_cpu, eng_cpu, eng, er, ew, tr, out,
           (double)st.state_bytes / (1024.0 * 1024.0), peak_rss_mib(), note);
    fflush(stdout);
    for (int t = 0; t < nt && nt > 1; t++) sl_qscan_free(sc[t]);
    sl_query_free(q);
    batch_free(b);
    free(b);
    return 0;
}

int main(int argc, char **argv) {
    opts_t o;
    if (parse_args(argc, argv, &o)) return 2;
    nx_config_t cfg;
    nx_config_defaults(&cfg);
    if (nx_scratch_size(&cfg) > NX_SCRATCH_BYTES) {
        fprintf(stderr, "nexmark-bench: the generator wants more scratch than NX_SCRATCH_BYTES\n");
        return 2;
    }
    if (o.gen_only) return gen_only(&o, &cfg);
    colmap_t m;
    if (load_ddl(o.dir, &m)) return 2;

    printf("# nexmark-bench: %" PRIu64 " bids per query, %s rows, batches of %zu, %d scan thread%s\n",
           o.events, o.json ? "JSON" : "typed", o.batch, o.json ? o.threads : 1,
           (o.json ? o.threads : 1) > 1 ? "s (ev/s cpu counts the main thread only: compare ev/s wall)" : "");
    printf("# gen/eng cpu = thread CPU seconds generating / in the engine (begin, push, end), read\n"
           "# per batch; eng wall = the engine's wall seconds. ev/s cpu = bids / engine CPU s (per\n"
           "# core, generation subtracted); ev/s wall = bids / engine wall s; e2e = bids / (gen +\n"
           "# engine CPU s). rows out = rows emitted (upd: how many of them were updates)\n");
    printf("%-5s %-5s %10s %6s %6s %6s %11s %11s %11s %22s %8s %8s\n", "query", "input", "bids",
           "gencpu", "engcpu", "engwal", "ev/s cpu", "ev/s wall", "e2e ev/s", "rows out",
           "stateMiB", "peakMiB");
    fflush(stdout);
    int rc = 0;
    for (int i = 0; i < o.nqueries; i++) {
        pid_t pid = fork();
        if (pid < 0) {
            perror("nexmark-bench: fork");
            return 2;
        }
        if (pid == 0) _exit(run_query(&o, &cfg, &m, o.queries[i]));
        int status;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
        if (WIFSIGNALED(status)) {
            printf("%-5s crashed: signal %d (%s)\n", o.queries[i], WTERMSIG(status), strsignal(WTERMSIG(status)));
            rc = 1;
        } else if (WEXITSTATUS(status)) {
            printf("%-5s failed (see stderr)\n", o.queries[i]);
            rc = 1;
        }
        fflush(stdout);
    }
    return rc;
}

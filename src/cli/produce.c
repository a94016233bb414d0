/* `sluice produce TOPIC [FILE|-]`: NDJSON from a file or stdin, cut into batches (1000 events or
 * 1 MiB by default) and POSTed with a few requests in flight on a curl multi handle. Input is
 * read only when it would not block, so a slow pipe never stalls requests already sent, and a
 * partial batch goes out after a short linger. The summary (events, rate, offset ranges per
 * partition) is sorted whatever order the answers came in.
 *
 * Each request slot is one idempotent producer of docs/CLUSTER.md: its own producer id, one
 * request at a time, a sequence number one higher per batch. A batch answered 503 or 504, or
 * not answered at all, is sent again unchanged, with the same sequence, to the next server of
 * the --server list after a backoff, until --retry-ms runs out; a cluster then stores it once.
 * A batch the server refuses otherwise is reported with the input lines it covered. */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "cli/client.h"

#define PRODUCE_BATCH_EVENTS 1000
#define PRODUCE_BATCH_BYTES (1u << 20)
#define PRODUCE_IN_FLIGHT 4
#define PRODUCE_IN_FLIGHT_MAX 64
#define PRODUCE_LINGER_MS 50
#define PRODUCE_READ_CHUNK (1u << 20)
#define PRODUCE_PROGRESS_S 0.25
#define PRODUCE_RETRY_MS 30000         /* --retry-ms: how long a batch is retried */
#define PRODUCE_TIMEOUT_MS 30000       /* --timeout-ms: one attempt without an answer fails */
#define PRODUCE_BACKOFF_FIRST_S 0.05   /* the wait before the first retry, doubling ... */
#define PRODUCE_BACKOFF_MAX_S 1.0      /* ... up to this */
#define PRODUCE_ID_MAX 0x7fffffffffffffffULL /* producer ids are 1..2^63-1 */

enum { OPT_SERVER = 256, OPT_BATCH, OPT_BATCH_BYTES, OPT_PARTITION, OPT_IN_FLIGHT, OPT_PRODUCER_ID,
       OPT_RETRY_MS, OPT_TIMEOUT_MS };

static const char produce_usage[] =
    "Usage: sluice produce TOPIC [FILE|-] [options]\n"
    "\n"
    "Sends the events in FILE (stdin when FILE is '-' or absent), one JSON value per line\n"
    "(NDJSON; empty lines are skipped), to TOPIC. Prints the number of events stored and,\n"
    "per partition, the offset ranges they were given. A refused batch stops the run with\n"
    "the server's message and the input lines of that batch (exit 1).\n"
    "\n"
    "Every request carries a producer id and a sequence number (Sluice-Producer-Id,\n"
    "Sluice-Sequence). A batch answered 503 or 504, or left without an answer (connection\n"
    "refused or broken, --timeout-ms passed), is sent again with the same sequence to the\n"
    "next server of the list, after 50 ms doubling up to 1 s, for up to --retry-ms; a cluster\n"
    "stores it once however often it was sent. Until a connection to some server has been\n"
    "made, each server is tried once, so a wrong URL fails at once. (A single-node server\n"
    "ignores the headers: there, a retry after a lost answer may store the batch twice.)\n"
    "\n"
    "  --batch N          events per request (default 1000)\n"
    "  --batch-bytes N    bytes per request (default 1048576); a longer line goes alone\n"
    "  --in-flight N      requests in flight at once (default 4; 1 keeps the input order\n"
    "                     across batches within each partition)\n"
    "  --partition P      send every event to partition P\n"
    "  --producer-id N    producer id, 1-2^63-1 (default: random); with --in-flight K the\n"
    "                     K request slots are producers N..N+K-1\n"
    "  --retry-ms N       how long to retry one batch (default 30000; 0: never retry)\n"
    "  --timeout-ms N     an attempt unanswered after N ms is retried (default 30000)\n"
    "  --server URL[,URL...]\n"
    "                     the server, or a cluster's nodes (default $SLUICE_URL, else\n"
    "                     " SL_CLI_DEFAULT_URL ")\n"
    "  -h, --help         show this help\n";

/* ---- input ------------------------------------------------------------------------------ */

enum { LINE_OK = 1, LINE_EOF = 0, LINE_WAIT = -1, LINE_ERROR = -2 };

typedef struct reader {
    int fd;
    char *buf;
    size_t cap, start, end;        /* unread bytes are buf[start..end) */
    size_t prev_start;             /* start before the last line, for reader_unread */
    size_t line_no;                /* 1-based number of the last line returned */
    int eof;
} reader_t;

/* The next line (without its '\n') in *line and *len. Waits at most wait_ms for input (-1: as
 * long as it takes); LINE_WAIT when none came. */
static int reader_next(reader_t *r, int wait_ms, const char **line, size_t *len) {
    for (;;) {
        char *nl = r->start < r->end ? memchr(r->buf + r->start, '\n', r->end - r->start) : NULL;
        if (nl || (r->eof && r->start < r->end)) {
            size_t stop = nl ? (size_t)(nl - r->buf) : r->end;
            *line = r->buf + r->start;
            *len = stop - r->start;
            r->prev_start = r->start;
            r->start = nl ? stop + 1 : stop;
            r->line_no++;
            return LINE_OK;
        }
        if (r->eof) return LINE_EOF;
        if (wait_ms >= 0) {
            struct pollfd pfd = {.fd = r->fd, .events = POLLIN};
            int n = poll(&pfd, 1, wait_ms);
            if (n < 0 && errno != EINTR) return LINE_ERROR;
            if (n <= 0) return LINE_WAIT;
        }
        if (r->start > 0) {
            memmove(r->buf, r->buf + r->start, r->end - r->start);
            r->end -= r->start;
            r->start = 0;
        }
        if (r->cap - r->end < PRODUCE_READ_CHUNK / 2) {
            r->cap = r->cap ? r->cap * 2 : PRODUCE_READ_CHUNK;
            r->buf = sl_cli_xrealloc(r->buf, r->cap);
        }
        ssize_t n = read(r->fd, r->buf + r->end, r->cap - r->end);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return LINE_ERROR;
        if (n == 0) r->eof = 1;
        r->end += (size_t)n;
    }
}

/* Puts the last line back, to start the next batch with it. */
static void reader_unread(reader_t *r) {
    r->start = r->prev_start;
    r->line_no--;
}

static int is_blank(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r') return 0;
    return 1;
}

/* With --partition every line becomes {"partition":P,"value":LINE}. The line is pasted, not
 * parsed, so it must not be able to close the record early: brackets balanced, strings
 * closed and no ',' or ':' outside them. The server then checks it is valid JSON. */
static int is_one_value(const char *s, size_t n) {
    int depth = 0, in_str = 0, esc = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (in_str) {
            if (esc) esc = 0;
            else if (c == '\\') esc = 1;
            else if (c == '"') in_str = 0;
            continue;
        }
        if (c == '"') in_str = 1;
        else if (c == '{' || c == '[') depth++;
        else if ((c == '}' || c == ']') && --depth < 0) return 0;
        else if ((c == ',' || c == ':') && depth == 0) return 0;
    }
    return depth == 0 && !in_str;
}

/* ---- acknowledged offsets --------------------------------------------------------------- */

typedef struct range { long long lo, hi; } range_t;

typedef struct part_acks {
    range_t *r;
    size_t n, cap;
} part_acks_t;

typedef struct acks {
    part_acks_t *parts;            /* indexed by partition */
    size_t nparts;
    long long total;
} acks_t;

static void acks_add(acks_t *a, long long partition, long long offset) {
    if ((size_t)partition >= a->nparts) {
        size_t n = (size_t)partition + 1;
        a->parts = sl_cli_xrealloc(a->parts, n * sizeof *a->parts);
        memset(a->parts + a->nparts, 0, (n - a->nparts) * sizeof *a->parts);
        a->nparts = n;
    }
    part_acks_t *p = &a->parts[partition];
    a->total++;
    if (p->n && p->r[p->n - 1].hi + 1 == offset) {
        p->r[p->n - 1].hi = offset;
        return;
    }
    if (p->n == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 4;
        p->r = sl_cli_xrealloc(p->r, p->cap * sizeof *p->r);
    }
    p->r[p->n++] = (range_t){offset, offset};
}

static int range_cmp(const void *a, const void *b) {
    const range_t *x = a, *y = b;
    return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* "partition P: offsets A-B, C-D" lines, ranges sorted and merged. */
static void acks_print(acks_t *a, FILE *out) {
    for (size_t p = 0; p < a->nparts; p++) {
        part_acks_t *pa = &a->parts[p];
        if (!pa->n) continue;
        qsort(pa->r, pa->n, sizeof *pa->r, range_cmp);
        size_t m = 0;
        for (size_t i = 1; i < pa->n; i++) {
            if (pa->r[i].lo <= pa->r[m].hi + 1) {
                if (pa->r[i].hi > pa->r[m].hi) pa->r[m].hi = pa->r[i].hi;
            } else {
                pa->r[++m] = pa->r[i];
            }
        }
        pa->n = m + 1;
        fprintf(out, "partition %zu: offset%s ", p, pa->n == 1 && pa->r[0].lo == pa->r[0].hi ? "" : "s");
        for (size_t i = 0; i < pa->n; i++) {
            if (pa->r[i].lo == pa->r[i].hi) fprintf(out, "%s%lld", i ? ", " : "", pa->r[i].lo);
            else fprintf(out, "%s%lld-%lld", i ? ", " : "", pa->r[i].lo, pa->r[i].hi);
        }
        fputc('\n', out);
    }
}

static void acks_free(acks_t *a) {
    for (size_t p = 0; p < a->nparts; p++) free(a->parts[p].r);
    free(a->parts);
}

/* ---- batches in flight ------------------------------------------------------------------ */

typedef struct slot {
    sl_http_t http;
    cli_buf_t body;
    size_t *line_of;               /* input line number of each event */
    size_t nevents;
    double started;                /* when the first event went in, for the linger */
    int busy;                      /* holds a sent batch not yet answered for good */
    int in_curl;                   /* an attempt is in flight on the multi handle */
    unsigned long long producer_id;
    long long sequence;            /* of the batch in the slot; the next batch gets one more */
    size_t server;                 /* index in produce_t.servers of the current attempt */
    size_t attempts;               /* of the batch in the slot */
    double retry_at;               /* when to send it again (0: not waiting) */
    double give_up_at;             /* when retrying stops, set at the first failure */
    double backoff;                /* the next wait, seconds */
} slot_t;

typedef struct produce {
    const char *cmd;
    const char *path;              /* /v1/topics/T/events */
    long long partition;           /* -1: let the server choose */
    size_t batch_events, batch_bytes;
    char **servers;                /* the --server list, without trailing slashes */
    size_t nservers;
    size_t server;                 /* where new batches go: moves on when one fails over */
    long long retry_ms, timeout_ms;
    CURLM *multi;
    slot_t *slots;
    size_t nslots, in_flight;      /* in_flight: busy slots, in curl or waiting to retry */
    acks_t acks;
    int answered;                  /* a batch was acknowledged: open up to nslots in flight */
    int reached;                   /* some server accepted a connection: from now on, connection
                                      failures are fail-overs, retried */
    int failed;
    char first_error[64];          /* the code of the first refusal, to shorten repeats */
} produce_t;

static void slot_start(slot_t *s, const produce_t *pr) {
    cli_buf_reset(&s->body);
    s->nevents = 0;
    if (pr->partition >= 0) cli_buf_append(&s->body, "{\"records\":[", 12);
}

/* Adds one line; 0, or -1 when it does not fit (the batch is not empty and would grow past
 * its byte limit). */
static int slot_add(slot_t *s, const produce_t *pr, const char *line, size_t len, size_t line_no) {
    size_t extra = len + (pr->partition >= 0 ? 48 : 1);
    if (s->nevents > 0 && s->body.len + extra > pr->batch_bytes) return -1;
    if (pr->partition >= 0) {
        cli_buf_printf(&s->body, "%s{\"partition\":%lld,\"value\":", s->nevents ? "," : "", pr->partition);
        cli_buf_append(&s->body, line, len);
        cli_buf_append(&s->body, "}", 1);
    } else {
        cli_buf_append(&s->body, line, len);
        cli_buf_append(&s->body, "\n", 1);
    }
    if (s->nevents == 0) s->started = sl_cli_now();
    s->line_of[s->nevents++] = line_no;
    return 0;
}

/* Points the slot's handle at server i of the list (no attempt is in flight). */
static void slot_use_server(slot_t *s, const produce_t *pr, size_t i) {
    size_t n = strlen(pr->servers[i]) + 1;
    assert(!s->in_curl);
    s->server = i;
    free(s->http.base);
    s->http.base = memcpy(sl_cli_xrealloc(NULL, n), pr->servers[i], n);
}

static void add_header(sl_http_t *h, const char *fmt, unsigned long long v) {
    char line[64];
    snprintf(line, sizeof line, fmt, v);
    struct curl_slist *l = curl_slist_append(h->headers, line);
    if (!l) sl_cli_oom();
    h->headers = l;
}

/* One attempt at the slot's batch: the same body, producer id and sequence every time. */
static void slot_post(slot_t *s, produce_t *pr) {
    assert(s->busy && !s->in_curl);
    sl_http_prepare(&s->http, "POST", pr->path,
                    pr->partition >= 0 ? "application/vnd.kafka.json.v2+json" : "application/x-ndjson",
                    s->body.data, s->body.len);
    add_header(&s->http, "Sluice-Producer-Id: %llu", s->producer_id);
    add_header(&s->http, "Sluice-Sequence: %llu", (unsigned long long)s->sequence);
    curl_easy_setopt(s->http.easy, CURLOPT_HTTPHEADER, s->http.headers);
    curl_easy_setopt(s->http.easy, CURLOPT_TIMEOUT_MS, (long)pr->timeout_ms);
    curl_easy_setopt(s->http.easy, CURLOPT_PRIVATE, s);
    curl_multi_add_handle(pr->multi, s->http.easy);
    s->in_curl = 1;
    s->retry_at = 0;
    s->attempts++;
}

/* Sends a filled slot's batch as the slot's next sequence number. */
static void slot_send(slot_t *s, produce_t *pr) {
    assert(s->nevents > 0 && !s->busy);
    if (pr->partition >= 0) cli_buf_append(&s->body, "]}", 2);
    s->sequence++;
    s->attempts = 0;
    s->give_up_at = 0;
    s->backoff = PRODUCE_BACKOFF_FIRST_S;
    if (s->server != pr->server) slot_use_server(s, pr, pr->server);
    s->busy = 1;
    pr->in_flight++;
    slot_post(s, pr);
}

/* The slot's batch is answered for good (acknowledged, refused, or given up on). */
static void slot_release(slot_t *s, produce_t *pr) {
    assert(s->busy && !s->in_curl);
    s->busy = 0;
    s->retry_at = 0;
    pr->in_flight--;
}

/* No connection to the server could be made (nothing was sent). */
static int connect_failed(CURLcode rc) {
    return rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST;
}

/* Failures worth another attempt: nothing answered, or the answer was lost on the way. */
static int transport_retryable(CURLcode rc) {
    switch (rc) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE: return 1;
    default: return 0;
    }
}

/* After a retryable failure of the slot's attempt (result, or HTTP status when result is
 * CURLE_OK): schedules the next attempt on the next server, or gives up. 0 when it will be
 * retried, -1 when the batch has failed (reported). */
static int slot_retry(slot_t *s, produce_t *pr, CURLcode result) {
    size_t first = s->line_of[0], last = s->line_of[s->nevents - 1];
    double now = sl_cli_now();
    char what[400];
    yajl_val doc = NULL;

    if (result == CURLE_OK) {
        const char *code = sl_http_error_code(&s->http, &doc);
        snprintf(what, sizeof what, "HTTP %ld%s%s", s->http.status, *code ? " " : "", code);
    } else {
        snprintf(what, sizeof what, "%s", s->http.errbuf[0] ? s->http.errbuf : curl_easy_strerror(result));
    }
    if (doc) yajl_tree_free(doc);
    if (s->give_up_at == 0) s->give_up_at = now + (double)pr->retry_ms / 1000;

    if (connect_failed(result) && !pr->reached && s->attempts >= pr->nservers) {
        /* No server was ever reached: a wrong URL or no server running, not a fail-over. */
        if (pr->nservers == 1) {
            sl_http_finish(&s->http, result, pr->cmd);
        } else {
            fprintf(stderr, "%s: cannot reach any of the %zu servers (last: %s: %s)\n"
                            "(is `sluice serve` running there? Set --server URL,URL... or SLUICE_URL.)\n",
                    pr->cmd, pr->nservers, s->http.base, what);
        }
        return -1;
    }
    if (now + s->backoff > s->give_up_at) {
        if (result == CURLE_OK) {
            char context[200];
            snprintf(context, sizeof context,
                     "batch of input lines %zu-%zu: still failing after %zu attempts in %lld ms",
                     first, last, s->attempts, pr->retry_ms);
            sl_http_print_error(&s->http, pr->cmd, context);
        } else {
            fprintf(stderr, "%s: batch of input lines %zu-%zu: still failing after %zu attempts in "
                            "%lld ms (last: %s: %s)\n", pr->cmd, first, last, s->attempts,
                    pr->retry_ms, s->http.base, what);
        }
        if (result != CURLE_OK || s->http.status == 504)
            fprintf(stderr, "%s: input lines %zu-%zu may or may not be stored\n", pr->cmd, first, last);
        return -1;
    }
    size_t next = (s->server + 1) % pr->nservers;
    if (s->attempts == 1)
        fprintf(stderr, "%s: batch of input lines %zu-%zu: %s from %s; retrying with the same "
                        "sequence on %s\n", pr->cmd, first, last, what, s->http.base, pr->servers[next]);
    if (pr->server == s->server) pr->server = next;
    slot_use_server(s, pr, next);
    s->retry_at = now + s->backoff;
    s->backoff = s->backoff * 2 < PRODUCE_BACKOFF_MAX_S ? s->backoff * 2 : PRODUCE_BACKOFF_MAX_S;
    return 0;
}

/* An attempt finished: record its offsets, schedule a retry, or report the refusal with its
 * input lines. */
static void slot_done(slot_t *s, produce_t *pr, CURLcode result) {
    size_t first = s->line_of[0], last = s->line_of[s->nevents - 1];
    yajl_val doc = NULL;

    curl_multi_remove_handle(pr->multi, s->http.easy);
    s->in_curl = 0;
    if (result == CURLE_OK) curl_easy_getinfo(s->http.easy, CURLINFO_RESPONSE_CODE, &s->http.status);
    if (!connect_failed(result)) pr->reached = 1;
    int unavailable = result == CURLE_OK && (s->http.status == 503 || s->http.status == 504);
    if (pr->retry_ms > 0 && (unavailable || transport_retryable(result))) {
        if (slot_retry(s, pr, result) != 0) {
            pr->failed = 1;
            slot_release(s, pr);
        }
        return;
    }
    slot_release(s, pr);
    if (sl_http_finish(&s->http, result, pr->cmd) != 0) {
        fprintf(stderr, "%s: input lines %zu-%zu were sent but not acknowledged: they may or may not "
                        "be stored\n", pr->cmd, first, last);
        pr->failed = 1;
        goto out;
    }
    if (s->http.status >= 300) {
        char context[200];
        long long index;
        doc = sl_http_json(&s->http, NULL);
        yajl_val err = sl_json_get(doc, "error");
        const char *code = sl_json_str(err, "code");
        if (pr->failed && code && strcmp(code, pr->first_error) == 0) {
            fprintf(stderr, "%s: batch of input lines %zu-%zu: refused too (%s)\n", pr->cmd, first, last,
                    code);
            goto out;
        }
        if (!pr->failed && code) snprintf(pr->first_error, sizeof pr->first_error, "%s", code);
        if (sl_json_int(err, "index", &index) == 0 && index >= 0 && (size_t)index < s->nevents)
            snprintf(context, sizeof context, "input line %zu (event %lld of the batch of lines %zu-%zu)",
                     s->line_of[index], index, first, last);
        else
            snprintf(context, sizeof context, "batch of input lines %zu-%zu", first, last);
        sl_http_print_error(&s->http, pr->cmd, context);
        pr->failed = 1;
        goto out;
    }
    if (!(doc = sl_http_json(&s->http, pr->cmd))) {
        pr->failed = 1;
        goto out;
    }
    pr->answered = 1;
    yajl_val offsets = sl_json_get(doc, "offsets");
    size_t n = YAJL_IS_ARRAY(offsets) ? offsets->u.array.len : 0;
    for (size_t i = 0; i < n; i++) {
        long long p, o;
        yajl_val ack = offsets->u.array.values[i];
        if (sl_json_int(ack, "partition", &p) == 0 && sl_json_int(ack, "offset", &o) == 0 && p >= 0)
            acks_add(&pr->acks, p, o);
    }
    if (n != s->nevents)
        fprintf(stderr, "%s: warning: the server acknowledged %zu events for the %zu of input lines "
                        "%zu-%zu\n", pr->cmd, n, s->nevents, first, last);
out:
    if (doc) yajl_tree_free(doc);
}

/* A slot to fill, if one is free. Until the first batch is acknowledged only one request
 * goes out, so a wrong topic or server costs one refusal, not a burst of them. */
static slot_t *free_slot(produce_t *pr) {
    size_t usable = pr->answered ? pr->nslots : 1;
    for (size_t i = 0; i < usable; i++)
        if (!pr->slots[i].busy) return &pr->slots[i];
    return NULL;
}

static void show_progress(const produce_t *pr, double t0, int done) {
    double secs = sl_cli_now() - t0;
    if (done) {
        fputs("\r\033[K", stderr);
        return;
    }
    fprintf(stderr, "\r%lld events sent (%.0f events/s)\033[K", pr->acks.total,
            secs > 0 ? (double)pr->acks.total / secs : 0.0);
}

/* Sends again the batches whose backoff has passed (due = 1), or only says when the next one
 * is due (due = 0). Returns that time, 0 when no batch waits. */
static double retry_waiting(produce_t *pr, int due) {
    double now = sl_cli_now(), next = 0;
    for (size_t i = 0; i < pr->nslots; i++) {
        slot_t *s = &pr->slots[i];
        if (!s->busy || s->in_curl || s->retry_at == 0) continue;
        if (due && s->retry_at <= now) slot_post(s, pr);
        else if (next == 0 || s->retry_at < next) next = s->retry_at;
    }
    return next;
}

/* The main loop: fill the free slot from the input while that does not block, send full (or
 * lingering, or last) batches, and drive curl, waiting on its sockets and the input at once. */
static int produce_run(produce_t *pr, reader_t *in) {
    int input_done = 0, progress = isatty(STDERR_FILENO);
    double t0 = sl_cli_now(), last_progress = t0;
    slot_t *filling = free_slot(pr);
    slot_start(filling, pr);

    for (;;) {
        while (filling && !input_done && !pr->failed) {
            const char *line;
            size_t len;
            int wait_ms = 0;
            if (pr->in_flight == 0 && !filling->nevents) {
                wait_ms = -1; /* nothing else to do: block */
            } else if (pr->in_flight == 0) {
                double left = PRODUCE_LINGER_MS - (sl_cli_now() - filling->started) * 1000;
                wait_ms = left > 0 ? (int)left : 0;
            }
            int r = reader_next(in, wait_ms, &line, &len);
            if (r == LINE_WAIT) break;
            if (r == LINE_ERROR) {
                fprintf(stderr, "%s: cannot read the input: %s\n", pr->cmd, strerror(errno));
                pr->failed = 1;
                break;
            }
            if (r == LINE_EOF) {
                input_done = 1;
                break;
            }
            if (is_blank(line, len)) continue;
            if (pr->partition >= 0 && !is_one_value(line, len)) {
                fprintf(stderr, "%s: input line %zu: not one JSON value (with --partition each line "
                                "must be a single JSON value)\n", pr->cmd, in->line_no);
                pr->failed = 1;
                break;
            }
            if (slot_add(filling, pr, line, len, in->line_no) != 0) {
                reader_unread(in);
                slot_send(filling, pr);
                if ((filling = free_slot(pr))) slot_start(filling, pr);
                continue;
            }
            if (filling->nevents >= pr->batch_events) {
                slot_send(filling, pr);
                if ((filling = free_slot(pr))) slot_start(filling, pr);
            }
        }
        if (filling && filling->nevents && !pr->failed &&
            (input_done || (sl_cli_now() - filling->started) * 1000 >= PRODUCE_LINGER_MS)) {
            slot_send(filling, pr);
            if ((filling = free_slot(pr))) slot_start(filling, pr);
        }
        if (pr->in_flight == 0 && (input_done || pr->failed)) break;

        int running;
        CURLMsg *msg;
        int left;
        retry_waiting(pr, 1);
        curl_multi_perform(pr->multi, &running);
        while ((msg = curl_multi_info_read(pr->multi, &left))) {
            if (msg->msg != CURLMSG_DONE) continue;
            char *priv = NULL;
            CURLcode result = msg->data.result;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
            slot_done((slot_t *)priv, pr, result);
            if (!filling && (filling = free_slot(pr))) slot_start(filling, pr);
        }
        if (progress && sl_cli_now() - last_progress >= PRODUCE_PROGRESS_S) {
            show_progress(pr, t0, 0);
            last_progress = sl_cli_now();
        }
        if (pr->in_flight == 0) continue;
        struct curl_waitfd extra = {.fd = in->fd, .events = CURL_WAIT_POLLIN};
        int want_input = filling && !input_done && !pr->failed;
        int wait_ms = filling && filling->nevents ? PRODUCE_LINGER_MS : 250;
        double next_retry = retry_waiting(pr, 0);
        if (next_retry > 0) {
            double until = (next_retry - sl_cli_now()) * 1000 + 1;
            if (until < wait_ms) wait_ms = until > 0 ? (int)until : 0;
        }
        curl_multi_poll(pr->multi, want_input ? &extra : NULL, want_input ? 1 : 0, wait_ms, NULL);
    }
    if (progress) show_progress(pr, t0, 1);

    double secs = sl_cli_now() - t0;
    double rate = secs > 0 ? (double)pr->acks.total / secs : 0.0;
    if (pr->failed) {
        if (pr->acks.total) {
            fprintf(stderr, "%s: %lld events were stored before the failure:\n", pr->cmd, pr->acks.total);
            acks_print(&pr->acks, stderr);
        }
        return SL_CLI_FAIL;
    }
    printf("produced %lld events in %.2f s (%.0f events/s)\n", pr->acks.total, secs, rate);
    acks_print(&pr->acks, stdout);
    if (fflush(stdout) != 0 && errno != EPIPE) return SL_CLI_FAIL;
    return SL_CLI_OK;
}

/* Splits "URL[,URL...]" into pr->servers, trailing slashes dropped. 0, or -1 when an entry is
 * empty. */
static int parse_servers(produce_t *pr, const char *list) {
    for (const char *p = list;; p++) {
        size_t n = strcspn(p, ",");
        size_t len = n;
        while (len > 0 && p[len - 1] == '/') len--;
        if (len == 0) return -1;
        pr->servers = sl_cli_xrealloc(pr->servers, (pr->nservers + 1) * sizeof *pr->servers);
        char *url = sl_cli_xrealloc(NULL, len + 1);
        memcpy(url, p, len);
        url[len] = '\0';
        pr->servers[pr->nservers++] = url;
        if (!p[n]) return 0;
        p += n;
    }
}

/* A random producer id in 1..2^63-1, from getrandom(), else from the clock and the pid. */
static unsigned long long random_producer_id(void) {
    unsigned long long v = 0;
    if (getrandom(&v, sizeof v, GRND_NONBLOCK) != (ssize_t)sizeof v)
        v = (unsigned long long)(sl_cli_now() * 1e9) * 6364136223846793005ULL ^ (unsigned long long)getpid();
    v &= PRODUCE_ID_MAX;
    return v ? v : 1;
}

int sl_cli_produce(sl_cli_ctx_t *ctx, int argc, char **argv) {
    static const struct option opts[] = {
        {"batch", required_argument, NULL, OPT_BATCH},
        {"batch-bytes", required_argument, NULL, OPT_BATCH_BYTES},
        {"partition", required_argument, NULL, OPT_PARTITION},
        {"in-flight", required_argument, NULL, OPT_IN_FLIGHT},
        {"producer-id", required_argument, NULL, OPT_PRODUCER_ID},
        {"retry-ms", required_argument, NULL, OPT_RETRY_MS},
        {"timeout-ms", required_argument, NULL, OPT_TIMEOUT_MS},
        {"server", required_argument, NULL, OPT_SERVER},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    static char name[] = "sluice produce";
    const char *cmd = name;
    produce_t pr = {.cmd = cmd, .partition = -1, .batch_events = PRODUCE_BATCH_EVENTS,
                    .batch_bytes = PRODUCE_BATCH_BYTES, .nslots = PRODUCE_IN_FLIGHT,
                    .retry_ms = PRODUCE_RETRY_MS, .timeout_ms = PRODUCE_TIMEOUT_MS};
    unsigned long long producer_id = 0;
    reader_t in = {.fd = -1};
    cli_buf_t path = {0};
    char *topic = NULL;
    int rc = SL_CLI_FAIL, c;
    long long v;

    argv[0] = name;
    sl_cli_getopt_reset();
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'h': fputs(produce_usage, stdout); return SL_CLI_OK;
        case OPT_SERVER: ctx->server = optarg; break;
        case OPT_BATCH:
            if (sl_cli_parse_ll(optarg, 1, &v) != 0 || v > 1000000)
                return sl_cli_usage_error(cmd, "--batch needs a number of events, 1-1000000, not '%s'",
                                          optarg);
            pr.batch_events = (size_t)v;
            break;
        case OPT_BATCH_BYTES:
            if (sl_cli_parse_ll(optarg, 1, &v) != 0)
                return sl_cli_usage_error(cmd, "--batch-bytes needs a positive number, not '%s'", optarg);
            pr.batch_bytes = (size_t)v;
            break;
        case OPT_PARTITION:
            if (sl_cli_parse_ll(optarg, 0, &v) != 0)
                return sl_cli_usage_error(cmd, "--partition needs a partition number, not '%s'", optarg);
            pr.partition = v;
            break;
        case OPT_IN_FLIGHT:
            if (sl_cli_parse_ll(optarg, 1, &v) != 0 || v > PRODUCE_IN_FLIGHT_MAX)
                return sl_cli_usage_error(cmd, "--in-flight needs a number, 1-%d, not '%s'",
                                          PRODUCE_IN_FLIGHT_MAX, optarg);
            pr.nslots = (size_t)v;
            break;
        case OPT_PRODUCER_ID:
            if (sl_cli_parse_ll(optarg, 1, &v) != 0)
                return sl_cli_usage_error(cmd, "--producer-id needs a number, 1-%llu, not '%s'",
                                          PRODUCE_ID_MAX, optarg);
            producer_id = (unsigned long long)v;
            break;
        case OPT_RETRY_MS:
        case OPT_TIMEOUT_MS:
            if (sl_cli_parse_ll(optarg, c == OPT_RETRY_MS ? 0 : 1, &v) != 0 || v > 86400000)
                return sl_cli_usage_error(cmd, "--%s needs a number of milliseconds, %d-86400000, "
                                          "not '%s'", c == OPT_RETRY_MS ? "retry-ms" : "timeout-ms",
                                          c == OPT_RETRY_MS ? 0 : 1, optarg);
            if (c == OPT_RETRY_MS) pr.retry_ms = v;
            else pr.timeout_ms = v;
            break;
        default: return sl_cli_try_help(cmd);
        }
    }
    if (argc - optind < 1) return sl_cli_usage_error(cmd, "missing TOPIC");
    if (argc - optind > 2) return sl_cli_usage_error(cmd, "unexpected argument '%s'", argv[optind + 2]);
    const char *file = argc - optind == 2 ? argv[optind + 1] : "-";
    if (parse_servers(&pr, ctx->server) != 0) {
        rc = sl_cli_usage_error(cmd, "--server needs URL[,URL...], not '%s'", ctx->server);
        goto out;
    }
    if (producer_id == 0) producer_id = random_producer_id();

    if (strcmp(file, "-") == 0) {
        in.fd = STDIN_FILENO;
    } else if ((in.fd = open(file, O_RDONLY | O_CLOEXEC)) < 0) {
        fprintf(stderr, "%s: cannot open %s: %s\n", cmd, file, strerror(errno));
        return SL_CLI_FAIL;
    }
    topic = sl_cli_escape(argv[optind]);
    cli_buf_printf(&path, "/v1/topics/%s/events", topic);
    pr.path = path.data;

    if (!(pr.multi = curl_multi_init())) goto out;
    curl_multi_setopt(pr.multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)pr.nslots);
    pr.slots = sl_cli_xrealloc(NULL, pr.nslots * sizeof *pr.slots);
    memset(pr.slots, 0, pr.nslots * sizeof *pr.slots);
    for (size_t i = 0; i < pr.nslots; i++) {
        pr.slots[i].line_of = sl_cli_xrealloc(NULL, pr.batch_events * sizeof *pr.slots[i].line_of);
        if (sl_http_init(&pr.slots[i].http, pr.servers[0]) != 0) goto out;
        /* Slot i is producer N+i, wrapping within 1..2^63-1. */
        pr.slots[i].producer_id = (producer_id - 1 + i) % PRODUCE_ID_MAX + 1;
        pr.slots[i].sequence = -1;
    }
    rc = produce_run(&pr, &in);
out:
    for (size_t i = 0; pr.slots && i < pr.nslots; i++) {
        if (pr.slots[i].in_curl) curl_multi_remove_handle(pr.multi, pr.slots[i].http.easy);
        sl_http_free(&pr.slots[i].http);
        cli_buf_free(&pr.slots[i].body);
        free(pr.slots[i].line_of);
    }
    free(pr.slots);
    for (size_t i = 0; i < pr.nservers; i++) free(pr.servers[i]);
    free(pr.servers);
    if (pr.multi) curl_multi_cleanup(pr.multi);
    acks_free(&pr.acks);
    if (in.fd > STDIN_FILENO) close(in.fd);
    free(in.buf);
    free(topic);
    cli_buf_free(&path);
    return rc;
}

/* `sluice produce TOPIC [FILE|-]`: NDJSON from a file or stdin, cut into batches (1000 events or
 * 1 MiB by default) and POSTed with a few requests in flight on a curl multi handle. Input is
 * read only when it would not block, so a slow pipe never stalls requests already sent, and a
 * partial batch goes out after a short linger. The summary (events, rate, offset ranges per
 * partition) is sorted whatever order the answers came in. A refused batch is reported with
 * the input lines it covered and is not retried: a POST is not idempotent. */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/client.h"

#define PRODUCE_BATCH_EVENTS 1000
#define PRODUCE_BATCH_BYTES (1u << 20)
#define PRODUCE_IN_FLIGHT 4
#define PRODUCE_IN_FLIGHT_MAX 64
#define PRODUCE_LINGER_MS 50
#define PRODUCE_READ_CHUNK (1u << 20)
#define PRODUCE_PROGRESS_S 0.25

enum { OPT_SERVER = 256, OPT_BATCH, OPT_BATCH_BYTES, OPT_PARTITION, OPT_IN_FLIGHT };

static const char produce_usage[] =
    "Usage: sluice produce TOPIC [FILE|-] [options]\n"
    "\n"
    "Sends the events in FILE (stdin when FILE is '-' or absent), one JSON value per line\n"
    "(NDJSON; empty lines are skipped), to TOPIC. Prints the number of events stored and,\n"
    "per partition, the offset ranges they were given. A refused batch stops the run with\n"
    "the server's message and the input lines of that batch (exit 1); it is not retried.\n"
    "\n"
    "  --batch N         events per request (default 1000)\n"
    "  --batch-bytes N   bytes per request (default 1048576); a longer line goes alone\n"
    "  --in-flight N     requests in flight at once (default 4; 1 keeps the input order\n"
    "                    across batches within each partition)\n"
    "  --partition P     send every event to partition P\n"
    "  --server URL      the server (default $SLUICE_URL, else " SL_CLI_DEFAULT_URL ")\n"
    "  -h, --help        show this help\n";

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
    int busy;                      /* the request is in flight */
} slot_t;

typedef struct produce {
    const char *cmd;
    const char *path;              /* /v1/topics/T/events */
    long long partition;           /* -1: let the server choose */
    size_t batch_events, batch_bytes;
    CURLM *multi;
    slot_t *slots;
    size_t nslots, in_flight;
    acks_t acks;
    int answered;                  /* a batch was acknowledged: open up to nslots in flight */
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

static void slot_send(slot_t *s, produce_t *pr) {
    assert(s->nevents > 0 && !s->busy);
    if (pr->partition >= 0) cli_buf_append(&s->body, "]}", 2);
    sl_http_prepare(&s->http, "POST", pr->path,
                    pr->partition >= 0 ? "application/vnd.kafka.json.v2+json" : "application/x-ndjson",
                    s->body.data, s->body.len);
    curl_easy_setopt(s->http.easy, CURLOPT_PRIVATE, s);
    curl_multi_add_handle(pr->multi, s->http.easy);
    s->busy = 1;
    pr->in_flight++;
}

/* A request finished: record its offsets, or report the refusal with its input lines. */
static void slot_done(slot_t *s, produce_t *pr, CURLcode result) {
    size_t first = s->line_of[0], last = s->line_of[s->nevents - 1];
    yajl_val doc = NULL;

    curl_multi_remove_handle(pr->multi, s->http.easy);
    s->busy = 0;
    pr->in_flight--;
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
        curl_multi_poll(pr->multi, want_input ? &extra : NULL, want_input ? 1 : 0,
                        filling && filling->nevents ? PRODUCE_LINGER_MS : 250, NULL);
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

int sl_cli_produce(sl_cli_ctx_t *ctx, int argc, char **argv) {
    static const struct option opts[] = {
        {"batch", required_argument, NULL, OPT_BATCH},
        {"batch-bytes", required_argument, NULL, OPT_BATCH_BYTES},
        {"partition", required_argument, NULL, OPT_PARTITION},
        {"in-flight", required_argument, NULL, OPT_IN_FLIGHT},
        {"server", required_argument, NULL, OPT_SERVER},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    static char name[] = "sluice produce";
    const char *cmd = name;
    produce_t pr = {.cmd = cmd, .partition = -1, .batch_events = PRODUCE_BATCH_EVENTS,
                    .batch_bytes = PRODUCE_BATCH_BYTES, .nslots = PRODUCE_IN_FLIGHT};
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
        default: return sl_cli_try_help(cmd);
        }
    }
    if (argc - optind < 1) return sl_cli_usage_error(cmd, "missing TOPIC");
    if (argc - optind > 2) return sl_cli_usage_error(cmd, "unexpected argument '%s'", argv[optind + 2]);
    const char *file = argc - optind == 2 ? argv[optind + 1] : "-";

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
        if (sl_http_init(&pr.slots[i].http, ctx->server) != 0) goto out;
    }
    rc = produce_run(&pr, &in);
out:
    for (size_t i = 0; pr.slots && i < pr.nslots; i++) {
        if (pr.slots[i].busy) curl_multi_remove_handle(pr.multi, pr.slots[i].http.easy);
        sl_http_free(&pr.slots[i].http);
        cli_buf_free(&pr.slots[i].body);
        free(pr.slots[i].line_of);
    }
    free(pr.slots);
    if (pr.multi) curl_multi_cleanup(pr.multi);
    acks_free(&pr.acks);
    if (in.fd > STDIN_FILENO) close(in.fd);
    free(in.buf);
    free(topic);
    cli_buf_free(&path);
    return rc;
}

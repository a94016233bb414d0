/* `sluice consume TOPIC`: events to stdout as NDJSON, each line as the server sent it, written
 * one whole batch per write(2). Two modes: by partition (every partition, or --partition P, from
 * --offset; several fetches in flight on a curl multi handle, each partition's next offset from
 * Sluice-Next-Offset) and as a consumer-group member (--group G: join, poll, commit what was
 * written after every batch, leave on exit). SIGINT/SIGTERM and a closed stdout stop it cleanly:
 * a group member still commits what reached stdout, and leaves. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/client.h"

#define CONSUME_FETCH_EVENTS 10000     /* limit= per fetch or poll */
#define CONSUME_FETCH_BYTES (4u << 20) /* max_bytes= per partition fetch */
#define CONSUME_CONNECTIONS 8          /* partition fetches in flight at once */
#define CONSUME_POLL_MS 1000           /* long-poll wait (timeout_ms=) */
#define CONSUME_SHORT_POLL_MS 100      /* ... when more partitions than connections share them */
#define CONSUME_TICK_MS 200            /* how often the multi loop looks at the signal flag */

enum { OPT_SERVER = 256, OPT_PARTITION, OPT_OFFSET, OPT_GROUP, OPT_FOLLOW, OPT_LIMIT };

static const char consume_usage[] =
    "Usage: sluice consume TOPIC [options]\n"
    "\n"
    "Prints TOPIC's events to stdout, one JSON line per event as the server sends it:\n"
    "{\"topic\":..,\"partition\":..,\"offset\":..,\"timestamp\":..,\"key\":..,\"value\":..}\n"
    "\n"
    "Without --group it reads every partition (or only --partition P) from --offset,\n"
    "taking turns, until each is exhausted. With --group G it joins consumer group G,\n"
    "reads the partitions the group assigns it from the group's committed offsets, commits\n"
    "after writing each batch, and leaves the group when it stops.\n"
    "\n"
    "  --partition P    read only partition P\n"
    "  --offset WHERE   where to start: an offset, 'earliest' (default) or 'latest'; with\n"
    "                   --group, where partitions without a committed offset start\n"
    "  --group G        consume as a member of consumer group G\n"
    "  -f, --follow     do not stop at the end: wait for new events until interrupted\n"
    "  --limit N        stop after N events\n"
    "  --server URL     the server (default $SLUICE_URL, else " SL_CLI_DEFAULT_URL ")\n"
    "  -h, --help       show this help\n"
    "\n"
    "Without --follow a group member stops when a poll waiting 1 s returns nothing.\n"
    "SIGINT/SIGTERM stop it cleanly (exit 0); so does a closed stdout (`| head`).\n";

typedef struct consume {
    const char *cmd;
    sl_cli_ctx_t *ctx;
    char *topic;                   /* as given */
    char *topic_esc;               /* percent-encoded for paths */
    long long partition;           /* --partition, or -1 */
    const char *offset;            /* --offset, or NULL */
    char *group_esc;               /* --group, percent-encoded, or NULL */
    int follow;
    long long remaining;           /* events still to print; -1: no limit */
    int closed;                    /* stdout's reader went away */
} consume_t;

/* ---- output ----------------------------------------------------------------------------- */

/* The number of bytes of buf holding its first max lines (all when max < 0); *nlines gets how
 * many lines that is. A last line without its '\n' counts. */
static size_t cut_lines(const char *buf, size_t len, long long max, long long *nlines) {
    size_t pos = 0;
    long long n = 0;
    while (pos < len && (max < 0 || n < max)) {
        const char *nl = memchr(buf + pos, '\n', len - pos);
        pos = nl ? (size_t)(nl - buf) + 1 : len;
        n++;
    }
    *nlines = n;
    return pos;
}

/* Writes buf[0..len) (whole lines) to stdout in one go. 0; 1 when stdout's reader is gone
 * (c->closed set, nothing said); -1 on another error (message printed). */
static int emit(consume_t *c, const char *buf, size_t len) {
    if (len == 0) return 0;
    int rc = sl_cli_write_all(STDOUT_FILENO, buf, len);
    if (rc == 0 && buf[len - 1] != '\n') rc = sl_cli_write_all(STDOUT_FILENO, "\n", 1);
    if (rc == 0) return 0;
    if (errno == EPIPE) {
        c->closed = 1;
        return 1;
    }
    fprintf(stderr, "%s: cannot write to stdout: %s\n", c->cmd, strerror(errno));
    return -1;
}

/* Reads "partition" and "offset" from an event line. The server writes
 * {"topic":"t","partition":0,"offset":5,...} and that is scanned directly; any other shape is
 * parsed as JSON. 0, or -1 when the line has no such fields. */
static int line_position(const char *line, size_t len, long long *partition, long long *offset) {
    static const char head[] = "{\"topic\":\"", mid_p[] = ",\"partition\":", mid_o[] = ",\"offset\":";
    size_t i = sizeof head - 1;
    if (len > i && memcmp(line, head, i) == 0) {
        while (i < len && line[i] != '"') i += line[i] == '\\' ? 2 : 1;
        i++;
        long long *dst[2] = {partition, offset};
        const char *mid[2] = {mid_p, mid_o};
        int ok = 1;
        for (int f = 0; f < 2 && ok; f++) {
            size_t m = strlen(mid[f]), digits = 0;
            long long v = 0;
            if (i + m > len || memcmp(line + i, mid[f], m) != 0) {
                ok = 0;
                break;
            }
            for (i += m; i < len && line[i] >= '0' && line[i] <= '9'; i++, digits++)
                v = v * 10 + (line[i] - '0');
            ok = digits > 0 && i < len && (line[i] == ',' || line[i] == '}');
            *dst[f] = v;
        }
        if (ok) return 0;
    }
    char *copy = sl_cli_xrealloc(NULL, len + 1);
    memcpy(copy, line, len);
    copy[len] = '\0';
    yajl_val doc = yajl_tree_parse(copy, NULL, 0);
    int rc = sl_json_int(doc, "partition", partition) == 0 && sl_json_int(doc, "offset", offset) == 0
                 ? 0
                 : -1;
    if (doc) yajl_tree_free(doc);
    free(copy);
    return rc;
}

/* The last line of buf[0..len), which holds at least one. */
static const char *last_line(const char *buf, size_t len, size_t *line_len) {
    size_t end = buf[len - 1] == '\n' ? len - 1 : len, start = end;
    while (start > 0 && buf[start - 1] != '\n') start--;
    *line_len = end - start;
    return buf + start;
}

/* limit= for the next fetch or poll: no more than is left to print. */
static long long fetch_limit(const consume_t *c) {
    return c->remaining >= 0 && c->remaining < CONSUME_FETCH_EVENTS ? c->remaining : CONSUME_FETCH_EVENTS;
}

/* ---- by partition ----------------------------------------------------------------------- */

typedef struct part {
    long long id;
    long long next;                /* the next offset to ask for, -1 until known */
    const char *spec;              /* asked for while next is unknown: earliest|latest */
    int idle;                      /* its last fetch came back empty */
    int done;                      /* exhausted (without --follow) */
    int busy;                      /* a fetch is in flight */
} part_t;

typedef struct fetcher {
    sl_http_t http;
    part_t *part;                  /* what it is fetching, NULL when free */
} fetcher_t;

static void fetch_start(consume_t *c, CURLM *multi, fetcher_t *f, part_t *p, int wait_ms) {
    cli_buf_t path = {0};
    cli_buf_printf(&path, "/v1/topics/%s/partitions/%lld/events?offset=", c->topic_esc, p->id);
    if (p->next >= 0) cli_buf_printf(&path, "%lld", p->next);
    else cli_buf_printf(&path, "%s", p->spec);
    cli_buf_printf(&path, "&limit=%lld&max_bytes=%u&timeout_ms=%d", fetch_limit(c), CONSUME_FETCH_BYTES,
                  wait_ms);
    sl_http_prepare(&f->http, "GET", path.data, NULL, NULL, 0);
    cli_buf_free(&path);
    curl_easy_setopt(f->http.easy, CURLOPT_PRIVATE, f);
    curl_multi_add_handle(multi, f->http.easy);
    f->part = p;
    p->busy = 1;
}

/* A fetch finished: print its events and move the partition on. SL_CLI_OK to go on (or stop
 * when the limit is reached or stdout closed), SL_CLI_FAIL to stop with an error. */
static int fetch_done(consume_t *c, fetcher_t *f, CURLcode result) {
    part_t *p = f->part;
    char context[64];
    long long n;

    p->busy = 0;
    f->part = NULL;
    if (sl_http_finish(&f->http, result, c->cmd) != 0) return sl_cli_interrupted ? SL_CLI_OK : SL_CLI_FAIL;
    if (f->http.status >= 300) {
        snprintf(context, sizeof context, "partition %lld", p->id);
        sl_http_print_error(&f->http, c->cmd, context);
        return SL_CLI_FAIL;
    }
    const cli_buf_t *b = &f->http.body;
    size_t cut = cut_lines(b->data, b->len, c->remaining, &n);
    if (emit(c, b->data, cut) < 0) return SL_CLI_FAIL;
    if (c->closed) return SL_CLI_OK;
    if (c->remaining >= 0) c->remaining -= n;

    if (f->http.next_offset >= 0 && cut == b->len) {
        p->next = f->http.next_offset;
    } else if (n > 0) {
        size_t len;
        long long part, off;
        const char *line = last_line(b->data, cut, &len);
        if (line_position(line, len, &part, &off) == 0) p->next = off + 1;
    }
    p->idle = n == 0;
    if (n == 0 && !c->follow) p->done = 1;
    return SL_CLI_OK;
}

static int consume_partitions(consume_t *c) {
    sl_http_t meta = {0};
    cli_buf_t path = {0};
    yajl_val doc = NULL;
    part_t *parts = NULL;
    fetcher_t *fetchers = NULL;
    size_t nparts = 1, nfetchers = 0, cursor = 0;
    CURLM *multi = NULL;
    int rc = SL_CLI_FAIL;
    const char *spec = c->offset ? c->offset : "earliest";
    long long start = -1;

    if (strcmp(spec, "earliest") != 0 && strcmp(spec, "latest") != 0) start = strtoll(spec, NULL, 10);
    if (sl_http_init(&meta, c->ctx->server) != 0) goto out;
    if (c->partition < 0) {
        long long n;
        cli_buf_printf(&path, "/v1/topics/%s", c->topic_esc);
        meta.interruptible = 1;
        if (sl_http_do(&meta, "GET", path.data, NULL, NULL, 0, c->cmd) != 0) {
            if (sl_cli_interrupted) rc = SL_CLI_OK;
            goto out;
        }
        if (meta.status >= 300) {
            sl_http_print_error(&meta, c->cmd, NULL);
            goto out;
        }
        if (!(doc = sl_http_json(&meta, c->cmd))) goto out;
        if (sl_json_int(doc, "partitions", &n) != 0 || n < 1) {
            fprintf(stderr, "%s: the server's description of topic %s has no partition count\n", c->cmd,
                    c->topic);
            goto out;
        }
        nparts = (size_t)n;
    }
    parts = sl_cli_xrealloc(NULL, nparts * sizeof *parts);
    for (size_t i = 0; i < nparts; i++)
        parts[i] = (part_t){.id = c->partition >= 0 ? c->partition : (long long)i, .next = start,
                            .spec = spec};
    nfetchers = nparts < CONSUME_CONNECTIONS ? nparts : CONSUME_CONNECTIONS;
    fetchers = sl_cli_xrealloc(NULL, nfetchers * sizeof *fetchers);
    memset(fetchers, 0, nfetchers * sizeof *fetchers);
    for (size_t i = 0; i < nfetchers; i++) {
        if (sl_http_init(&fetchers[i].http, c->ctx->server) != 0) goto out;
        fetchers[i].http.interruptible = 1;
    }
    if (!(multi = curl_multi_init())) goto out;
    curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)nfetchers);

    int wait_ms = nparts <= nfetchers ? CONSUME_POLL_MS : CONSUME_SHORT_POLL_MS;
    rc = SL_CLI_OK;
    while (!sl_cli_interrupted && !c->closed && c->remaining != 0) {
        size_t busy = 0;
        for (size_t i = 0; i < nfetchers; i++) {
            if (!fetchers[i].part) {
                /* The next partition in turn with nothing in flight and something left. */
                for (size_t k = 0; k < nparts; k++) {
                    part_t *p = &parts[(cursor + k) % nparts];
                    if (p->busy || p->done) continue;
                    cursor = (cursor + k + 1) % nparts;
                    fetch_start(c, multi, &fetchers[i], p, c->follow && p->idle ? wait_ms : 0);
                    break;
                }
            }
            busy += fetchers[i].part != NULL;
        }
        if (busy == 0) break;

        int running, left;
        CURLMsg *msg;
        curl_multi_perform(multi, &running);
        while (rc == SL_CLI_OK && (msg = curl_multi_info_read(multi, &left))) {
            if (msg->msg != CURLMSG_DONE) continue;
            char *priv = NULL;
            CURLcode result = msg->data.result;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
            curl_multi_remove_handle(multi, msg->easy_handle);
            rc = fetch_done(c, (fetcher_t *)priv, result);
            if (c->closed || c->remaining == 0) break;
        }
        if (rc != SL_CLI_OK) break;
        curl_multi_poll(multi, NULL, 0, CONSUME_TICK_MS, NULL);
    }
out:
    for (size_t i = 0; i < nfetchers; i++) {
        if (fetchers[i].part) curl_multi_remove_handle(multi, fetchers[i].http.easy);
        sl_http_free(&fetchers[i].http);
    }
    if (multi) curl_multi_cleanup(multi);
    free(fetchers);
    free(parts);
    if (doc) yajl_tree_free(doc);
    cli_buf_free(&path);
    sl_http_free(&meta);
    return rc;
}

/* ---- as a group member ------------------------------------------------------------------ */

typedef struct member {
    sl_http_t http;
    char *id_esc;                  /* member id, percent-encoded */
    long long generation;
    int idle;                      /* the last poll came back empty: the next one waits */
    long long *pending;            /* by partition: next offset to commit, -1 for none */
    size_t npending;
} member_t;

static void pending_set(member_t *m, long long partition, long long next) {
    if (partition < 0) return;
    if ((size_t)partition >= m->npending) {
        size_t n = (size_t)partition + 1;
        m->pending = sl_cli_xrealloc(m->pending, n * sizeof *m->pending);
        for (size_t i = m->npending; i < n; i++) m->pending[i] = -1;
        m->npending = n;
    }
    m->pending[partition] = next;
}

static void pending_clear(member_t *m) {
    for (size_t i = 0; i < m->npending; i++) m->pending[i] = -1;
}

static int group_join(consume_t *c, member_t *m) {
    cli_buf_t body = {0}, path = {0};
    yajl_val doc = NULL;
    int rc = -1;

    cli_buf_append(&body, "{\"topics\":[", 11);
    cli_buf_json_string(&body, c->topic);
    cli_buf_append(&body, "]", 1);
    if (c->offset) cli_buf_printf(&body, ",\"auto_offset_reset\":\"%s\"", c->offset);
    cli_buf_append(&body, "}", 1);
    cli_buf_printf(&path, "/v1/groups/%s/members", c->group_esc);

    m->http.interruptible = 0;
    if (sl_http_do(&m->http, "POST", path.data, "application/json", body.data, body.len, c->cmd) != 0)
        goto out;
    if (m->http.status >= 300) {
        sl_http_print_error(&m->http, c->cmd, "joining the group");
        goto out;
    }
    if (!(doc = sl_http_json(&m->http, c->cmd))) goto out;
    const char *id = sl_json_str(doc, "member_id");
    if (!id) {
        fprintf(stderr, "%s: the server's answer to joining the group has no member_id\n", c->cmd);
        goto out;
    }
    free(m->id_esc);
    m->id_esc = sl_cli_escape(id);
    if (sl_json_int(doc, "generation", &m->generation) != 0) m->generation = -1;
    m->idle = 0;
    pending_clear(m);
    rc = 0;
out:
    if (doc) yajl_tree_free(doc);
    cli_buf_free(&body);
    cli_buf_free(&path);
    return rc;
}

/* Commits the pending offsets. 0, also when a rebalance made them stale (they are dropped:
 * the events will be read again by whoever owns the partitions now); -1 on another error. */
static int group_commit(consume_t *c, member_t *m) {
    cli_buf_t body = {0}, path = {0};
    yajl_val doc = NULL;
    int rc = -1, any = 0;

    cli_buf_append(&body, "{", 1);
    if (m->generation >= 0) cli_buf_printf(&body, "\"generation\":%lld,", m->generation);
    cli_buf_append(&body, "\"offsets\":[", 11);
    for (size_t p = 0; p < m->npending; p++) {
        if (m->pending[p] < 0) continue;
        cli_buf_printf(&body, "%s{\"topic\":", any ? "," : "");
        cli_buf_json_string(&body, c->topic);
        cli_buf_printf(&body, ",\"partition\":%zu,\"offset\":%lld}", p, m->pending[p]);
        any = 1;
    }
    cli_buf_append(&body, "]}", 2);
    if (!any) {
        rc = 0;
        goto out;
    }
    cli_buf_printf(&path, "/v1/groups/%s/members/%s/commit", c->group_esc, m->id_esc);
    m->http.interruptible = 0;
    if (sl_http_do(&m->http, "POST", path.data, "application/json", body.data, body.len, c->cmd) != 0)
        goto out;
    if (m->http.status == 409 || m->http.status == 404) {
        pending_clear(m);
        rc = 0;
        goto out;
    }
    if (m->http.status >= 300) {
        sl_http_print_error(&m->http, c->cmd, "committing offsets");
        goto out;
    }
    pending_clear(m);
    rc = 0;
out:
    if (doc) yajl_tree_free(doc);
    cli_buf_free(&body);
    cli_buf_free(&path);
    return rc;
}

static void group_leave(consume_t *c, member_t *m) {
    cli_buf_t path = {0};
    cli_buf_printf(&path, "/v1/groups/%s/members/%s", c->group_esc, m->id_esc);
    m->http.interruptible = 0;
    if (sl_http_do(&m->http, "DELETE", path.data, NULL, NULL, 0, c->cmd) == 0 && m->http.status >= 300 &&
        m->http.status != 404)
        sl_http_print_error(&m->http, c->cmd, "leaving the group");
    cli_buf_free(&path);
}

enum { POLL_ERROR = -1, POLL_EMPTY = 0, POLL_EVENTS = 1, POLL_AGAIN = 2 };

/* One poll: prints what came and marks it to commit. POLL_EVENTS, POLL_EMPTY (nothing came
 * within a CONSUME_POLL_MS wait, or we were interrupted), POLL_AGAIN (an empty poll that did
 * not wait, or a rebalance, or joined anew: poll again at once) or POLL_ERROR (message
 * printed). */
static int group_poll(consume_t *c, member_t *m) {
    cli_buf_t path = {0};
    long long n;
    yajl_val doc = NULL;
    int rc = POLL_ERROR;

    /* Only an idle member waits: while events flow, polls answer at once whatever the server
     * does with timeout_ms when it has events to give. */
    cli_buf_printf(&path, "/v1/groups/%s/members/%s/events?limit=%lld&timeout_ms=%d", c->group_esc,
                   m->id_esc, fetch_limit(c), m->idle ? CONSUME_POLL_MS : 0);
    m->http.interruptible = 1;
    if (sl_http_do(&m->http, "GET", path.data, NULL, NULL, 0, c->cmd) != 0) {
        if (sl_cli_interrupted) rc = POLL_EMPTY;
        goto out;
    }
    if (m->http.status == 409) {
        const char *code = sl_http_error_code(&m->http, &doc);
        if (strcmp(code, "rebalance") != 0) {
            sl_http_print_error(&m->http, c->cmd, NULL);
            goto out;
        }
        /* The next poll serves the new assignment from the committed offsets. */
        yajl_val err = sl_json_get(doc, "error");
        if (sl_json_int(err, "generation", &m->generation) != 0)
            sl_json_int(doc, "generation", &m->generation);
        m->idle = 0;
        pending_clear(m);
        rc = POLL_AGAIN;
        goto out;
    }
    if (m->http.status == 404 && strcmp(sl_http_error_code(&m->http, &doc), "member_not_found") == 0) {
        /* Our session expired (stdout blocked too long?): join again. */
        rc = group_join(c, m) == 0 ? POLL_AGAIN : POLL_ERROR;
        goto out;
    }
    if (m->http.status >= 300) {
        sl_http_print_error(&m->http, c->cmd, NULL);
        goto out;
    }
    const cli_buf_t *b = &m->http.body;
    size_t cut = cut_lines(b->data, b->len, c->remaining, &n);
    if (emit(c, b->data, cut) < 0) goto out;
    if (c->closed) {
        rc = POLL_EMPTY;
        goto out;
    }
    if (c->remaining >= 0) c->remaining -= n;
    for (size_t pos = 0; pos < cut;) {
        const char *line = b->data + pos, *nl = memchr(line, '\n', cut - pos);
        size_t len = nl ? (size_t)(nl - line) : cut - pos;
        long long part, off;
        if (line_position(line, len, &part, &off) == 0) pending_set(m, part, off + 1);
        pos += len + 1;
    }
    rc = n > 0 ? POLL_EVENTS : m->idle ? POLL_EMPTY : POLL_AGAIN;
    m->idle = n == 0;
out:
    if (doc) yajl_tree_free(doc);
    cli_buf_free(&path);
    return rc;
}

static int consume_group(consume_t *c) {
    member_t m = {.generation = -1};
    int rc = SL_CLI_FAIL, joined = 0;

    if (sl_http_init(&m.http, c->ctx->server) != 0) goto out;
    if (group_join(c, &m) != 0) goto out;
    joined = 1;
    rc = SL_CLI_OK;
    while (!sl_cli_interrupted && !c->closed && c->remaining != 0) {
        int got = group_poll(c, &m);
        if (got == POLL_ERROR || group_commit(c, &m) != 0) {
            rc = SL_CLI_FAIL;
            break;
        }
        if (got == POLL_EMPTY && !c->follow) break;
    }
out:
    if (joined) {
        if (group_commit(c, &m) != 0) rc = SL_CLI_FAIL;
        group_leave(c, &m);
    }
    free(m.id_esc);
    free(m.pending);
    sl_http_free(&m.http);
    return rc;
}

int sl_cli_consume(sl_cli_ctx_t *ctx, int argc, char **argv) {
    static const struct option opts[] = {
        {"partition", required_argument, NULL, OPT_PARTITION},
        {"offset", required_argument, NULL, OPT_OFFSET},
        {"group", required_argument, NULL, OPT_GROUP},
        {"follow", no_argument, NULL, 'f'},
        {"limit", required_argument, NULL, OPT_LIMIT},
        {"server", required_argument, NULL, OPT_SERVER},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    static char name[] = "sluice consume";
    consume_t c = {.cmd = name, .ctx = ctx, .partition = -1, .remaining = -1};
    const char *group = NULL;
    long long v;
    int opt, rc;

    argv[0] = name;
    sl_cli_getopt_reset();
    while ((opt = getopt_long(argc, argv, "hf", opts, NULL)) != -1) {
        switch (opt) {
        case 'h': fputs(consume_usage, stdout); return SL_CLI_OK;
        case 'f': c.follow = 1; break;
        case OPT_SERVER: ctx->server = optarg; break;
        case OPT_GROUP: group = optarg; break;
        case OPT_PARTITION:
            if (sl_cli_parse_ll(optarg, 0, &c.partition) != 0)
                return sl_cli_usage_error(c.cmd, "--partition needs a partition number, not '%s'", optarg);
            break;
        case OPT_OFFSET:
            if (strcmp(optarg, "earliest") != 0 && strcmp(optarg, "latest") != 0 &&
                sl_cli_parse_ll(optarg, 0, &v) != 0)
                return sl_cli_usage_error(c.cmd, "--offset needs an offset, 'earliest' or 'latest', not '%s'",
                                          optarg);
            c.offset = optarg;
            break;
        case OPT_LIMIT:
            if (sl_cli_parse_ll(optarg, 1, &c.remaining) != 0)
                return sl_cli_usage_error(c.cmd, "--limit needs a positive number of events, not '%s'",
                                          optarg);
            break;
        default: return sl_cli_try_help(c.cmd);
        }
    }
    if (argc - optind < 1) return sl_cli_usage_error(c.cmd, "missing TOPIC");
    if (argc - optind > 1) return sl_cli_usage_error(c.cmd, "unexpected argument '%s'", argv[optind + 1]);
    if (group && c.partition >= 0)
        return sl_cli_usage_error(c.cmd, "--group and --partition exclude each other (the group assigns "
                                         "partitions)");
    if (group && c.offset && strcmp(c.offset, "earliest") != 0 && strcmp(c.offset, "latest") != 0)
        return sl_cli_usage_error(c.cmd, "with --group, --offset is 'earliest' or 'latest' (for partitions "
                                         "without a committed offset)");

    c.topic = argv[optind];
    c.topic_esc = sl_cli_escape(c.topic);
    if (group) c.group_esc = sl_cli_escape(group);
    sl_cli_catch_signals();
    rc = group ? consume_group(&c) : consume_partitions(&c);
    free(c.topic_esc);
    free(c.group_esc);
    return rc;
}

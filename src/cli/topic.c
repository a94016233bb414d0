/* `sluice topic create|list|describe|delete`: the topic endpoints of docs/API.md. Results are
 * the server's JSON as it came, except that list and describe draw aligned tables when stdout
 * is a terminal (--json forces JSON, --table forces the table). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/client.h"

enum { OPT_SERVER = 256, OPT_JSON, OPT_TABLE, OPT_PARTITIONS, OPT_KEY, OPT_TIMESTAMP,
       OPT_RETENTION_MS, OPT_RETENTION_BYTES, OPT_SEGMENT_BYTES, OPT_SEGMENT_MS };

static const char topic_usage[] =
    "Usage: sluice topic COMMAND [ARGS...]\n"
    "\n"
    "  create NAME [options]   create a topic (see 'sluice topic create --help')\n"
    "  list [--json|--table]   list topics\n"
    "  describe NAME [--json|--table]\n"
    "                          a topic's settings and its partitions' offsets\n"
    "  delete NAME             delete a topic and its data\n"
    "\n"
    "Every command also takes --server URL and -h/--help.\n";

static const char create_usage[] =
    "Usage: sluice topic create NAME [options]\n"
    "\n"
    "Creates topic NAME (1-249 characters of [a-zA-Z0-9._-]) and prints it as JSON.\n"
    "\n"
    "  --partitions N        number of partitions, 1-4096 (default 1)\n"
    "  --key /PTR            JSON Pointer to each event's key (events with one key share a\n"
    "                        partition); default: no key, events spread over partitions\n"
    "  --timestamp /PTR      JSON Pointer to each event's time (epoch ms or RFC 3339);\n"
    "                        default: ingest time\n"
    "  --retention-ms N      drop data older than N ms (-1, the default: keep)\n"
    "  --retention-bytes N   keep at most N bytes per partition (-1, the default: keep)\n"
    "  --segment-bytes N     roll segment files at N bytes\n"
    "  --segment-ms N        roll segment files after N ms\n"
    "  --server URL          the server (default $SLUICE_URL, else " SL_CLI_DEFAULT_URL ")\n"
    "  -h, --help            show this help\n";

static const char list_usage[] =
    "Usage: sluice topic list [--json|--table]\n"
    "\n"
    "Lists topics: a table (name, partitions, key, timestamp, retention) when stdout is a\n"
    "terminal, else the server's JSON {\"topics\": [...]}.\n"
    "\n"
    "  --json         print JSON even on a terminal\n"
    "  --table        print the table even when stdout is not a terminal\n"
    "  --server URL   the server (default $SLUICE_URL, else " SL_CLI_DEFAULT_URL ")\n"
    "  -h, --help     show this help\n";

static const char describe_usage[] =
    "Usage: sluice topic describe NAME [--json|--table]\n"
    "\n"
    "Shows a topic's settings and, per partition, its earliest and latest offsets (latest is\n"
    "the next offset to be written), event count and bytes. A table on a terminal, else JSON.\n"
    "\n"
    "  --json         print JSON even on a terminal\n"
    "  --table        print the table even when stdout is not a terminal\n"
    "  --server URL   the server (default $SLUICE_URL, else " SL_CLI_DEFAULT_URL ")\n"
    "  -h, --help     show this help\n";

static const char delete_usage[] =
    "Usage: sluice topic delete NAME\n"
    "\n"
    "Deletes topic NAME and all of its data.\n"
    "\n"
    "  --server URL   the server (default $SLUICE_URL, else " SL_CLI_DEFAULT_URL ")\n"
    "  -h, --help     show this help\n";

/* ---- tables ----------------------------------------------------------------------------- */

#define TABLE_MAX_COLS 8

typedef struct table {
    size_t ncols, nrows;
    int right[TABLE_MAX_COLS];     /* right-align the column (numbers) */
    char **cells;                  /* nrows * ncols, malloc'd strings */
} table_t;

static void table_add(table_t *t, const char *const *row) {
    t->cells = sl_cli_xrealloc(t->cells, (t->nrows + 1) * t->ncols * sizeof *t->cells);
    for (size_t c = 0; c < t->ncols; c++) {
        size_t n = strlen(row[c]) + 1;
        t->cells[t->nrows * t->ncols + c] = memcpy(sl_cli_xrealloc(NULL, n), row[c], n);
    }
    t->nrows++;
}

static void table_print(table_t *t) {
    size_t width[TABLE_MAX_COLS] = {0};
    for (size_t i = 0; i < t->nrows * t->ncols; i++) {
        size_t n = strlen(t->cells[i]);
        if (n > width[i % t->ncols]) width[i % t->ncols] = n;
    }
    for (size_t r = 0; r < t->nrows; r++) {
        for (size_t c = 0; c < t->ncols; c++) {
            const char *cell = t->cells[r * t->ncols + c];
            int w = (int)width[c];
            if (c + 1 == t->ncols && !t->right[c]) printf("%s", cell);
            else printf(t->right[c] ? "%*s" : "%-*s", w, cell);
            fputs(c + 1 == t->ncols ? "\n" : "  ", stdout);
        }
    }
}

static void table_free(table_t *t) {
    for (size_t i = 0; i < t->nrows * t->ncols; i++) free(t->cells[i]);
    free(t->cells);
}

/* ---- formatting ------------------------------------------------------------------------- */

static void fmt_duration(char *out, size_t cap, long long ms) {
    static const struct { long long ms; const char *unit; } units[] = {
        {86400000LL, "d"}, {3600000LL, "h"}, {60000LL, "m"}, {1000LL, "s"}};
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (ms > 0 && ms % units[i].ms == 0) {
            snprintf(out, cap, "%lld%s", ms / units[i].ms, units[i].unit);
            return;
        }
    }
    snprintf(out, cap, "%lldms", ms);
}

static void fmt_bytes(char *out, size_t cap, long long bytes) {
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    size_t u = 0;
    double v = (double)bytes;
    while (v >= 1024 && u + 1 < sizeof units / sizeof units[0]) v /= 1024, u++;
    if (u == 0) snprintf(out, cap, "%lld B", bytes);
    else if (v == (double)(long long)v) snprintf(out, cap, "%lld %s", (long long)v, units[u]);
    else snprintf(out, cap, "%.1f %s", v, units[u]);
}

/* "forever", "7d", "1 GiB" or "7d or 1 GiB" from a topic object's retention settings. */
static void fmt_retention(char *out, size_t cap, yajl_val topic) {
    long long ms = -1, bytes = -1;
    char a[32], b[32];
    sl_json_int(topic, "retention_ms", &ms);
    sl_json_int(topic, "retention_bytes", &bytes);
    if (ms >= 0) fmt_duration(a, sizeof a, ms);
    if (bytes >= 0) fmt_bytes(b, sizeof b, bytes);
    if (ms < 0 && bytes < 0) snprintf(out, cap, "forever");
    else if (bytes < 0) snprintf(out, cap, "%s", a);
    else if (ms < 0) snprintf(out, cap, "%s", b);
    else snprintf(out, cap, "%s or %s", a, b);
}

static const char *str_or(yajl_val obj, const char *key, const char *dflt) {
    const char *s = sl_json_str(obj, key);
    return s ? s : dflt;
}

static void fmt_int(char *out, size_t cap, yajl_val obj, const char *key) {
    long long v;
    if (sl_json_int(obj, key, &v) == 0) snprintf(out, cap, "%lld", v);
    else snprintf(out, cap, "-");
}

/* ---- option parsing shared by list/describe/delete -------------------------------------- */

typedef struct view_opts {
    int json, table;
    const char *name;              /* the NAME operand, if the command takes one */
} view_opts_t;

/* Parses [--json] [--table] [--server URL] [NAME]; returns -1 to go on, else an exit status. */
static int parse_view(sl_cli_ctx_t *ctx, int argc, char **argv, const char *usage, int want_name,
                      int want_format, view_opts_t *v) {
    static const struct option opts[] = {
        {"json", no_argument, NULL, OPT_JSON}, {"table", no_argument, NULL, OPT_TABLE},
        {"server", required_argument, NULL, OPT_SERVER}, {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *cmd = argv[0];
    int c;
    sl_cli_getopt_reset();
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'h': fputs(usage, stdout); return SL_CLI_OK;
        case OPT_SERVER: ctx->server = optarg; break;
        case OPT_JSON:
        case OPT_TABLE:
            if (!want_format) return sl_cli_usage_error(cmd, "unknown option '%s'", argv[optind - 1]);
            if (c == OPT_JSON) v->json = 1;
            else v->table = 1;
            break;
        default: return sl_cli_try_help(cmd);
        }
    }
    if (v->json && v->table) return sl_cli_usage_error(cmd, "--json and --table exclude each other");
    int operands = argc - optind;
    if (want_name && operands < 1) return sl_cli_usage_error(cmd, "missing topic NAME");
    if (operands > want_name)
        return sl_cli_usage_error(cmd, "unexpected argument '%s'", argv[optind + want_name]);
    if (want_name) v->name = argv[optind];
    if (!v->json && !v->table) v->table = isatty(STDOUT_FILENO);
    return -1;
}

/* ---- commands --------------------------------------------------------------------------- */

static int topic_create(sl_cli_ctx_t *ctx, int argc, char **argv) {
    static const struct option opts[] = {
        {"partitions", required_argument, NULL, OPT_PARTITIONS},
        {"key", required_argument, NULL, OPT_KEY},
        {"timestamp", required_argument, NULL, OPT_TIMESTAMP},
        {"retention-ms", required_argument, NULL, OPT_RETENTION_MS},
        {"retention-bytes", required_argument, NULL, OPT_RETENTION_BYTES},
        {"segment-bytes", required_argument, NULL, OPT_SEGMENT_BYTES},
        {"segment-ms", required_argument, NULL, OPT_SEGMENT_MS},
        {"server", required_argument, NULL, OPT_SERVER},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *cmd = argv[0];
    cli_buf_t body = {0};
    sl_http_t http = {0};
    int rc = SL_CLI_FAIL, c;

    cli_buf_append(&body, "{", 1);
    sl_cli_getopt_reset();
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        const char *field = NULL;
        long long v, min = 1;
        switch (c) {
        case 'h': fputs(create_usage, stdout); rc = SL_CLI_OK; goto out;
        case OPT_SERVER: ctx->server = optarg; continue;
        case OPT_KEY:
        case OPT_TIMESTAMP:
            cli_buf_printf(&body, "\"%s\":", c == OPT_KEY ? "key" : "timestamp");
            cli_buf_json_string(&body, optarg);
            cli_buf_append(&body, ",", 1);
            continue;
        case OPT_PARTITIONS: field = "partitions"; break;
        case OPT_RETENTION_MS: field = "retention_ms", min = -1; break;
        case OPT_RETENTION_BYTES: field = "retention_bytes", min = -1; break;
        case OPT_SEGMENT_BYTES: field = "segment_bytes"; break;
        case OPT_SEGMENT_MS: field = "segment_ms"; break;
        default: rc = sl_cli_try_help(cmd); goto out;
        }
        if (sl_cli_parse_ll(optarg, min, &v) != 0) {
            rc = sl_cli_usage_error(cmd, "--%s needs an integer >= %lld, not '%s'",
                                    opts[c - OPT_PARTITIONS].name, min, optarg);
            goto out;
        }
        cli_buf_printf(&body, "\"%s\":%lld,", field, v);
    }
    if (argc - optind != 1) {
        rc = argc - optind < 1 ? sl_cli_usage_error(cmd, "missing topic NAME")
                               : sl_cli_usage_error(cmd, "unexpected argument '%s'", argv[optind + 1]);
        goto out;
    }
    cli_buf_append(&body, "\"name\":", 7);
    cli_buf_json_string(&body, argv[optind]);
    cli_buf_append(&body, "}", 1);

    if (sl_http_init(&http, ctx->server) != 0) goto out;
    if (sl_http_do(&http, "POST", "/v1/topics", "application/json", body.data, body.len, cmd) != 0)
        goto out;
    if (http.status >= 300) {
        sl_http_print_error(&http, cmd, NULL);
        goto out;
    }
    rc = sl_cli_print_body(&http.body, cmd);
out:
    sl_http_free(&http);
    cli_buf_free(&body);
    return rc;
}

static void print_topics_table(yajl_val topics) {
    table_t t = {.ncols = 5, .right = {0, 1, 0, 0, 0}};
    table_add(&t, (const char *const[]){"NAME", "PARTITIONS", "KEY", "TIMESTAMP", "RETENTION"});
    for (size_t i = 0; YAJL_IS_ARRAY(topics) && i < topics->u.array.len; i++) {
        yajl_val topic = topics->u.array.values[i];
        char parts[24], retention[80];
        fmt_int(parts, sizeof parts, topic, "partitions");
        fmt_retention(retention, sizeof retention, topic);
        table_add(&t, (const char *const[]){str_or(topic, "name", "?"), parts,
                                            str_or(topic, "key", "-"),
                                            str_or(topic, "timestamp", "-"), retention});
    }
    table_print(&t);
    table_free(&t);
}

static int topic_list(sl_cli_ctx_t *ctx, int argc, char **argv) {
    const char *cmd = argv[0];
    view_opts_t v = {0};
    sl_http_t http = {0};
    yajl_val doc = NULL;
    int rc = parse_view(ctx, argc, argv, list_usage, 0, 1, &v);
    if (rc >= 0) return rc;
    rc = SL_CLI_FAIL;

    if (sl_http_init(&http, ctx->server) != 0) goto out;
    if (sl_http_do(&http, "GET", "/v1/topics", NULL, NULL, 0, cmd) != 0) goto out;
    if (http.status >= 300) {
        sl_http_print_error(&http, cmd, NULL);
        goto out;
    }
    if (!v.table) {
        rc = sl_cli_print_body(&http.body, cmd);
        goto out;
    }
    if (!(doc = sl_http_json(&http, cmd))) goto out;
    print_topics_table(sl_json_get(doc, "topics"));
    rc = fflush(stdout) == 0 ? SL_CLI_OK : SL_CLI_FAIL;
out:
    if (doc) yajl_tree_free(doc);
    sl_http_free(&http);
    return rc;
}

static void print_topic_table(yajl_val topic) {
    char buf[5][80];
    long long created;
    table_t settings = {.ncols = 2};

    fmt_int(buf[0], sizeof buf[0], topic, "partitions");
    fmt_retention(buf[1], sizeof buf[1], topic);
    if (sl_json_int(topic, "segment_bytes", &created) == 0) fmt_bytes(buf[2], sizeof buf[2], created);
    else snprintf(buf[2], sizeof buf[2], "-");
    if (sl_json_int(topic, "segment_ms", &created) == 0) fmt_duration(buf[3], sizeof buf[3], created);
    else snprintf(buf[3], sizeof buf[3], "-");
    snprintf(buf[4], sizeof buf[4], "-");
    if (sl_json_int(topic, "created_ms", &created) == 0) {
        time_t secs = (time_t)(created / 1000);
        struct tm tm;
        if (gmtime_r(&secs, &tm)) strftime(buf[4], sizeof buf[4], "%Y-%m-%dT%H:%M:%SZ", &tm);
    }
    table_add(&settings, (const char *const[]){"topic", str_or(topic, "name", "?")});
    table_add(&settings, (const char *const[]){"partitions", buf[0]});
    table_add(&settings, (const char *const[]){"key", str_or(topic, "key", "- (none)")});
    table_add(&settings, (const char *const[]){"timestamp", str_or(topic, "timestamp", "- (ingest time)")});
    table_add(&settings, (const char *const[]){"retention", buf[1]});
    table_add(&settings, (const char *const[]){"segment bytes", buf[2]});
    table_add(&settings, (const char *const[]){"segment time", buf[3]});
    table_add(&settings, (const char *const[]){"created", buf[4]});
    table_print(&settings);
    table_free(&settings);

    table_t parts = {.ncols = 6, .right = {1, 1, 1, 1, 1, 1}};
    table_add(&parts,
              (const char *const[]){"PARTITION", "EARLIEST", "LATEST", "EVENTS", "BYTES", "SEGMENTS"});
    yajl_val stats = sl_json_get(topic, "partition_stats");
    for (size_t i = 0; YAJL_IS_ARRAY(stats) && i < stats->u.array.len; i++) {
        yajl_val p = stats->u.array.values[i];
        char cell[6][24];
        long long earliest, latest;
        fmt_int(cell[0], sizeof cell[0], p, "partition");
        fmt_int(cell[1], sizeof cell[1], p, "earliest_offset");
        fmt_int(cell[2], sizeof cell[2], p, "latest_offset");
        if (sl_json_int(p, "earliest_offset", &earliest) == 0 &&
            sl_json_int(p, "latest_offset", &latest) == 0)
            snprintf(cell[3], sizeof cell[3], "%lld", latest - earliest);
        else
            snprintf(cell[3], sizeof cell[3], "-");
        fmt_int(cell[4], sizeof cell[4], p, "bytes");
        fmt_int(cell[5], sizeof cell[5], p, "segments");
        table_add(&parts, (const char *const[]){cell[0], cell[1], cell[2], cell[3], cell[4], cell[5]});
    }
    fputc('\n', stdout);
    table_print(&parts);
    table_free(&parts);
}

/* METHOD /v1/topics/NAME (name already escaped). 0 with a 2xx answer in http; -1 after
 * printing why (connection failure or the server's refusal). */
static int topic_request(sl_cli_ctx_t *ctx, sl_http_t *http, cli_buf_t *path, const char *method,
                         const char *name, const char *cmd) {
    cli_buf_printf(path, "/v1/topics/%s", name);
    if (sl_http_init(http, ctx->server) != 0) return -1;
    if (sl_http_do(http, method, path->data, NULL, NULL, 0, cmd) != 0) return -1;
    if (http->status >= 300) {
        sl_http_print_error(http, cmd, NULL);
        return -1;
    }
    return 0;
}

static int topic_describe(sl_cli_ctx_t *ctx, int argc, char **argv) {
    const char *cmd = argv[0];
    view_opts_t v = {0};
    sl_http_t http = {0};
    cli_buf_t path = {0};
    yajl_val doc = NULL;
    char *name = NULL;
    int rc = parse_view(ctx, argc, argv, describe_usage, 1, 1, &v);
    if (rc >= 0) return rc;
    rc = SL_CLI_FAIL;

    name = sl_cli_escape(v.name);
    if (topic_request(ctx, &http, &path, "GET", name, cmd)) goto out;
    if (!v.table) {
        rc = sl_cli_print_body(&http.body, cmd);
        goto out;
    }
    if (!(doc = sl_http_json(&http, cmd))) goto out;
    print_topic_table(doc);
    rc = fflush(stdout) == 0 ? SL_CLI_OK : SL_CLI_FAIL;
out:
    if (doc) yajl_tree_free(doc);
    sl_http_free(&http);
    cli_buf_free(&path);
    free(name);
    return rc;
}

static int topic_delete(sl_cli_ctx_t *ctx, int argc, char **argv) {
    const char *cmd = argv[0];
    view_opts_t v = {0};
    sl_http_t http = {0};
    cli_buf_t path = {0};
    char *name = NULL;
    int rc = parse_view(ctx, argc, argv, delete_usage, 1, 0, &v);
    if (rc >= 0) return rc;
    rc = SL_CLI_FAIL;

    name = sl_cli_escape(v.name);
    if (topic_request(ctx, &http, &path, "DELETE", name, cmd)) goto out;
    printf("deleted topic %s\n", v.name);
    rc = fflush(stdout) == 0 ? SL_CLI_OK : SL_CLI_FAIL;
out:
    sl_http_free(&http);
    cli_buf_free(&path);
    free(name);
    return rc;
}

int sl_cli_topic(sl_cli_ctx_t *ctx, int argc, char **argv) {
    static char create_name[] = "sluice topic create", list_name[] = "sluice topic list",
                describe_name[] = "sluice topic describe", delete_name[] = "sluice topic delete";
    static const struct { const char *verb; char *name; int (*fn)(sl_cli_ctx_t *, int, char **); } verbs[] = {
        {"create", create_name, topic_create},
        {"list", list_name, topic_list},
        {"ls", list_name, topic_list},
        {"describe", describe_name, topic_describe},
        {"delete", delete_name, topic_delete}};

    int i = 1;
    for (; i < argc; i++) {
        if (strcmp(argv[i], "--server") == 0 && i + 1 < argc) ctx->server = argv[++i];
        else if (strncmp(argv[i], "--server=", 9) == 0) ctx->server = argv[i] + 9;
        else break;
    }
    if (i >= argc) {
        fputs(topic_usage, stderr);
        return SL_CLI_USAGE;
    }
    if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
        fputs(topic_usage, stdout);
        return SL_CLI_OK;
    }
    for (size_t v = 0; v < sizeof verbs / sizeof verbs[0]; v++) {
        if (strcmp(argv[i], verbs[v].verb) == 0) {
            argv[i] = verbs[v].name;
            return verbs[v].fn(ctx, argc - i, argv + i);
        }
    }
    return sl_cli_usage_error("sluice topic", "unknown command '%s' (create, list, describe, delete)",
                              argv[i]);
}

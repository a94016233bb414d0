/* `sluice cluster status`: GET /v1/cluster (docs/CLUSTER.md) from the first server of --server
 * that answers, printed as the server's JSON re-indented (nothing else changed) or as two
 * aligned tables: the nodes, with the metadata group's leader, and the partitions this node
 * holds a replica of, with their Raft term, commit and applied indexes and followers' lag. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/client.h"

enum { OPT_SERVER = 256, OPT_FORMAT };

static const char cluster_usage[] =
    "Usage: sluice cluster COMMAND [ARGS...]\n"
    "\n"
    "  status [--format table|json]   the cluster's nodes and partitions, as one node sees them\n"
    "\n"
    "Every command also takes --server URL[,URL...] and -h/--help.\n";

static const char status_usage[] =
    "Usage: sluice cluster status [--server URL[,URL...]] [--format table|json]\n"
    "\n"
    "Asks a node for GET /v1/cluster and prints its view of the cluster: every node (id,\n"
    "internal address, HTTP address, voter, which one leads the metadata group), then every\n"
    "partition it holds a replica of (leader, replicas, Raft term, commit index, applied\n"
    "index, and on the partition's leader how many entries each follower is behind).\n"
    "With a list of servers, the first one that answers is asked.\n"
    "\n"
    "  --format FORMAT   table: aligned columns (the default when stdout is a terminal)\n"
    "                    json: the server's answer, indented\n"
    "  --server URL      the server(s) (default $SLUICE_URL, else " SL_CLI_DEFAULT_URL ")\n"
    "  -h, --help        show this help\n";

/* ---- tables ----------------------------------------------------------------------------- */

#define CLUSTER_TABLE_COLS 8

typedef struct ctable {
    size_t ncols, nrows;
    int right[CLUSTER_TABLE_COLS]; /* right-align the column (numbers) */
    char **cells;                  /* nrows * ncols, malloc'd strings */
} ctable_t;

static void ctable_add(ctable_t *t, const char *const *row) {
    t->cells = sl_cli_xrealloc(t->cells, (t->nrows + 1) * t->ncols * sizeof *t->cells);
    for (size_t c = 0; c < t->ncols; c++) {
        size_t n = strlen(row[c]) + 1;
        t->cells[t->nrows * t->ncols + c] = memcpy(sl_cli_xrealloc(NULL, n), row[c], n);
    }
    t->nrows++;
}

static void ctable_print(const ctable_t *t) {
    size_t width[CLUSTER_TABLE_COLS] = {0};
    for (size_t i = 0; i < t->nrows * t->ncols; i++) {
        size_t n = strlen(t->cells[i]);
        if (n > width[i % t->ncols]) width[i % t->ncols] = n;
    }
    for (size_t r = 0; r < t->nrows; r++) {
        for (size_t c = 0; c < t->ncols; c++) {
            const char *cell = t->cells[r * t->ncols + c];
            if (c + 1 == t->ncols && !t->right[c]) fputs(cell, stdout);
            else printf(t->right[c] ? "%*s" : "%-*s", (int)width[c], cell);
            fputs(c + 1 == t->ncols ? "\n" : "  ", stdout);
        }
    }
}

static void ctable_free(ctable_t *t) {
    for (size_t i = 0; i < t->nrows * t->ncols; i++) free(t->cells[i]);
    free(t->cells);
}

/* ---- cells ------------------------------------------------------------------------------ */

/* obj[key] as text: an integer, a string, "-" for null or absent. */
static void cell_value(char *out, size_t cap, yajl_val obj, const char *key) {
    yajl_val v = sl_json_get(obj, key);
    if (YAJL_IS_INTEGER(v)) snprintf(out, cap, "%lld", YAJL_GET_INTEGER(v));
    else if (YAJL_IS_STRING(v)) snprintf(out, cap, "%s", YAJL_GET_STRING(v));
    else if (YAJL_IS_TRUE(v)) snprintf(out, cap, "yes");
    else if (YAJL_IS_FALSE(v)) snprintf(out, cap, "no");
    else snprintf(out, cap, "-");
}

/* [1,2,3] as "1,2,3". */
static void cell_ids(cli_buf_t *out, yajl_val ids) {
    cli_buf_reset(out);
    for (size_t i = 0; YAJL_IS_ARRAY(ids) && i < ids->u.array.len; i++) {
        yajl_val id = ids->u.array.values[i];
        if (YAJL_IS_INTEGER(id)) cli_buf_printf(out, "%s%lld", i ? "," : "", YAJL_GET_INTEGER(id));
    }
    if (!out->len) cli_buf_append(out, "-", 1);
}

/* {"1":0,"3":5} as "1:0 3:5"; "-" when null (lag is only known on the partition's leader). */
static void cell_lag(cli_buf_t *out, yajl_val lag) {
    cli_buf_reset(out);
    for (size_t i = 0; YAJL_IS_OBJECT(lag) && i < lag->u.object.len; i++) {
        yajl_val v = lag->u.object.values[i];
        cli_buf_printf(out, "%s%s:", i ? " " : "", lag->u.object.keys[i]);
        if (YAJL_IS_INTEGER(v)) cli_buf_printf(out, "%lld", YAJL_GET_INTEGER(v));
        else cli_buf_append(out, "?", 1);
    }
    if (!out->len) cli_buf_append(out, "-", 1);
}

/*   node 2 answered; metadata leader 1, term 3, commit index 42, applied 42
 *
 *   NODE  ADDRESS         HTTP            VOTER  METADATA
 *   1     127.0.0.1:7001  127.0.0.1:8081  yes    leader
 *   2     127.0.0.1:7002  127.0.0.1:8082  yes    -
 *
 *   TOPIC   PARTITION  LEADER  REPLICAS  TERM  COMMIT  APPLIED  LAG
 *   clicks          0       2  1,2,3        2     100      100  1:0 3:0          */
static void print_status_table(yajl_val doc) {
    char self[32], leader[32], term[32], commit[32], applied[32];
    long long metadata_leader = -1;
    yajl_val meta = sl_json_get(doc, "metadata");

    cell_value(self, sizeof self, doc, "node_id");
    cell_value(leader, sizeof leader, meta, "leader");
    cell_value(term, sizeof term, meta, "term");
    cell_value(commit, sizeof commit, meta, "commit_index");
    cell_value(applied, sizeof applied, meta, "applied_index");
    sl_json_int(meta, "leader", &metadata_leader);
    printf("node %s answered; metadata leader %s, term %s, commit index %s, applied %s\n\n", self,
           metadata_leader >= 0 ? leader : "none", term, commit, applied);

    ctable_t nodes = {.ncols = 5, .right = {1, 0, 0, 0, 0}};
    ctable_add(&nodes, (const char *const[]){"NODE", "ADDRESS", "HTTP", "VOTER", "METADATA"});
    yajl_val list = sl_json_get(doc, "nodes");
    for (size_t i = 0; YAJL_IS_ARRAY(list) && i < list->u.array.len; i++) {
        yajl_val n = list->u.array.values[i];
        char id[32], address[300], http[300], voter[8];
        long long nid;
        cell_value(id, sizeof id, n, "id");
        cell_value(address, sizeof address, n, "address");
        cell_value(http, sizeof http, n, "http");
        cell_value(voter, sizeof voter, n, "voter");
        int leads = sl_json_int(n, "id", &nid) == 0 && nid == metadata_leader;
        ctable_add(&nodes, (const char *const[]){id, address, http, voter, leads ? "leader" : "-"});
    }
    ctable_print(&nodes);
    ctable_free(&nodes);

    list = sl_json_get(doc, "partitions");
    if (!YAJL_IS_ARRAY(list) || list->u.array.len == 0) {
        printf("\nno partition replicas on node %s\n", self);
        return;
    }
    ctable_t parts = {.ncols = 8, .right = {0, 1, 1, 0, 1, 1, 1, 0}};
    cli_buf_t replicas = {0}, lag = {0};
    ctable_add(&parts, (const char *const[]){"TOPIC", "PARTITION", "LEADER", "REPLICAS", "TERM",
                                             "COMMIT", "APPLIED", "LAG"});
    for (size_t i = 0; i < list->u.array.len; i++) {
        yajl_val p = list->u.array.values[i];
        char topic[300], part[32], pleader[32], pterm[32], pcommit[32], papplied[32];
        cell_value(topic, sizeof topic, p, "topic");
        cell_value(part, sizeof part, p, "partition");
        cell_value(pleader, sizeof pleader, p, "leader");
        cell_value(pterm, sizeof pterm, p, "term");
        cell_value(pcommit, sizeof pcommit, p, "commit_index");
        cell_value(papplied, sizeof papplied, p, "applied_index");
        cell_ids(&replicas, sl_json_get(p, "replicas"));
        cell_lag(&lag, sl_json_get(p, "lag"));
        ctable_add(&parts, (const char *const[]){topic, part, pleader, replicas.data, pterm, pcommit,
                                                 papplied, lag.data});
    }
    fputc('\n', stdout);
    ctable_print(&parts);
    ctable_free(&parts);
    cli_buf_free(&replicas);
    cli_buf_free(&lag);
}

/* Re-indents JSON text (two spaces a level, one member or element a line, "key": value)
 * without parsing it further, so numbers and strings print exactly as the server sent them.
 * The text was checked to be JSON before. */
static void print_json_indented(const char *s, size_t n) {
    cli_buf_t out = {0};
    int depth = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '"') {
            size_t j = i + 1;
            while (j < n && s[j] != '"') j += s[j] == '\\' ? 2 : 1;
            cli_buf_append(&out, s + i, (j < n ? j + 1 : n) - i);
            i = j;
            continue;
        }
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n') continue;
        if (c == '{' || c == '[') {
            size_t j = i + 1;
            while (j < n && strchr(" \t\r\n", s[j])) j++;
            if (j < n && (s[j] == '}' || s[j] == ']')) { /* empty: {} or [] */
                cli_buf_printf(&out, "%c%c", c, s[j]);
                i = j;
                continue;
            }
            cli_buf_printf(&out, "%c\n%*s", c, 2 * ++depth, "");
        } else if (c == '}' || c == ']') {
            cli_buf_printf(&out, "\n%*s%c", 2 * --depth, "", c);
        } else if (c == ',') {
            cli_buf_printf(&out, ",\n%*s", 2 * depth, "");
        } else if (c == ':') {
            cli_buf_append(&out, ": ", 2);
        } else {
            cli_buf_append(&out, &c, 1);
        }
    }
    cli_buf_append(&out, "\n", 1);
    fwrite(out.data, 1, out.len, stdout);
    cli_buf_free(&out);
}

/* ---- the command ------------------------------------------------------------------------ */

/* GET /v1/cluster from the first server in the comma-separated list that answers (with any
 * status). 0 with the answer in http; -1 after printing why each one could not be reached. */
static int get_cluster(const char *servers, sl_http_t *http, const char *cmd) {
    for (const char *p = servers;; p++) {
        size_t n = strcspn(p, ",");
        char *url = sl_cli_xrealloc(NULL, n + 1);
        memcpy(url, p, n);
        url[n] = '\0';
        int rc = sl_http_init(http, url);
        free(url);
        if (rc == 0 && sl_http_do(http, "GET", "/v1/cluster", NULL, NULL, 0, cmd) == 0) return 0;
        sl_http_free(http);
        if (rc != 0 || !p[n]) return -1;
        p += n;
    }
}

/* A --server list has no empty entry: "a,,b", ",a" and "a," are usage errors. */
static int servers_ok(const char *servers) {
    size_t n = strlen(servers);
    return n > 0 && servers[0] != ',' && servers[n - 1] != ',' && !strstr(servers, ",,");
}

static int cluster_status(sl_cli_ctx_t *ctx, int argc, char **argv) {
    static const struct option opts[] = {
        {"format", required_argument, NULL, OPT_FORMAT},
        {"server", required_argument, NULL, OPT_SERVER},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *cmd = argv[0];
    sl_http_t http = {0};
    yajl_val doc = NULL;
    int table = -1, rc = SL_CLI_FAIL, c;

    sl_cli_getopt_reset();
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'h': fputs(status_usage, stdout); return SL_CLI_OK;
        case OPT_SERVER: ctx->server = optarg; break;
        case OPT_FORMAT:
            if (strcmp(optarg, "table") == 0) table = 1;
            else if (strcmp(optarg, "json") == 0) table = 0;
            else return sl_cli_usage_error(cmd, "--format is table or json, not '%s'", optarg);
            break;
        default: return sl_cli_try_help(cmd);
        }
    }
    if (optind < argc) return sl_cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    if (table < 0) table = isatty(STDOUT_FILENO);
    if (!servers_ok(ctx->server))
        return sl_cli_usage_error(cmd, "--server needs URL[,URL...], not '%s'", ctx->server);

    if (get_cluster(ctx->server, &http, cmd) != 0) goto out;
    if (http.status != 200) {
        sl_http_print_error(&http, cmd, NULL);
        if (http.status == 404)
            fprintf(stderr, "(does %s run as a cluster? Start it with --node-id and --cluster.)\n",
                    http.base);
        goto out;
    }
    if (!(doc = sl_http_json(&http, cmd))) goto out;
    if (!YAJL_IS_OBJECT(doc)) {
        fprintf(stderr, "%s: the server's answer is not a JSON object\n", cmd);
        goto out;
    }
    if (table) print_status_table(doc);
    else print_json_indented(http.body.data, http.body.len);
    rc = SL_CLI_OK;
    if (fflush(stdout) != 0) {
        fprintf(stderr, "%s: cannot write to stdout\n", cmd);
        rc = SL_CLI_FAIL;
    }
out:
    if (doc) yajl_tree_free(doc);
    sl_http_free(&http);
    return rc;
}

int sl_cli_cluster(sl_cli_ctx_t *ctx, int argc, char **argv) {
    static char status_name[] = "sluice cluster status";
    int i = 1;
    for (; i < argc; i++) {
        if (strcmp(argv[i], "--server") == 0 && i + 1 < argc) ctx->server = argv[++i];
        else if (strncmp(argv[i], "--server=", 9) == 0) ctx->server = argv[i] + 9;
        else break;
    }
    if (i >= argc) {
        fputs(cluster_usage, stderr);
        return SL_CLI_USAGE;
    }
    if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
        fputs(cluster_usage, stdout);
        return SL_CLI_OK;
    }
    if (strcmp(argv[i], "status") == 0) {
        argv[i] = status_name;
        return cluster_status(ctx, argc - i, argv + i);
    }
    return sl_cli_usage_error("sluice cluster", "unknown command '%s' (status)", argv[i]);
}

/* `sluice cluster status|add|remove` (docs/CLUSTER.md).
 * status: GET /v1/cluster from the first server of --server that answers, printed as the
 * server's JSON re-indented (nothing else changed) or as two aligned tables: the nodes, with
 * their role in the metadata group and its leader, and the partitions this node holds a replica
 * of, with their Raft voters, term, commit and applied indexes and followers' lag.
 * add, remove: POST /v1/cluster/nodes or DELETE /v1/cluster/nodes/ID (503 and 504 retried on the
 * next server), then GET /v1/cluster every 200 ms until the change is complete. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/client.h"

#define CLUSTER_POLL_S 0.2            /* add, remove: GET /v1/cluster this often while waiting */
#define CLUSTER_TIMEOUT_S 60          /* add, remove: --timeout default */
#define CLUSTER_REQUEST_MAX_S 15.0    /* one HTTP request of add or remove at most */
#define CLUSTER_BACKOFF_FIRST_S 0.05  /* a 503/504 without Retry-After: wait before the retry, */
#define CLUSTER_BACKOFF_MAX_S 1.0     /* doubling up to this */
#define CLUSTER_NODE_ID_MAX 0x7fffffffLL

enum { OPT_SERVER = 256, OPT_FORMAT, OPT_TIMEOUT, OPT_NO_WAIT };

static const char cluster_usage[] =
    "Usage: sluice cluster COMMAND [ARGS...]\n"
    "\n"
    "  status [--format table|json]   the cluster's nodes and partitions, as one node sees them\n"
    "  add ID@HOST:PORT               add node ID (started with --join) to the cluster\n"
    "  remove ID                      move node ID's partition replicas away and remove it\n"
    "\n"
    "Every command also takes --server URL[,URL...] and -h/--help.\n";

static const char status_usage[] =
    "Usage: sluice cluster status [--server URL[,URL...]] [--format table|json]\n"
    "\n"
    "Asks a node for GET /v1/cluster and prints its view of the cluster: every node (id,\n"
    "internal address, HTTP address, voter, its role in the metadata group, which one leads\n"
    "it), then every partition it holds a replica of (leader, replicas, Raft voters, term,\n"
    "commit index, applied index, and on the partition's leader how many entries each\n"
    "follower is behind). With a list of servers, the first one that answers is asked.\n"
    "\n"
    "  --format FORMAT   table: aligned columns (the default when stdout is a terminal)\n"
    "                    json: the server's answer, indented\n"
    "  --server URL      the server(s) (default $SLUICE_URL, else " SL_CLI_DEFAULT_URL ")\n"
    "  -h, --help        show this help\n";

static const char add_usage[] =
    "Usage: sluice cluster add ID@HOST:PORT [--server URL[,URL...]] [--timeout SECONDS]\n"
    "                          [--no-wait]\n"
    "\n"
    "Adds node ID, whose internal (node-to-node) address is HOST:PORT, to the cluster: POST\n"
    "/v1/cluster/nodes. Start the node first with\n"
    "  sluice serve --node-id ID --cluster ID@HOST:PORT --join --listen ... --data-dir ...\n"
    "The metadata leader adds it to the metadata group as a non-voter, lets it catch up and\n"
    "promotes it to voter (while there are fewer than 5) or standby. The command waits until\n"
    "then and prints `node ID added (ROLE)`; it exits 1 if that takes longer than --timeout.\n"
    "A server answering 503 or 504 is asked again (the next one of the list), after its\n"
    "Retry-After.\n"
    "\n"
    "  --timeout SECONDS   how long to wait, request and retries included (default 60)\n"
    "  --no-wait           return once the cluster has recorded the node\n"
    "  --server URL        the server(s) (default $SLUICE_URL, else " SL_CLI_DEFAULT_URL ")\n"
    "  -h, --help          show this help\n";

static const char remove_usage[] =
    "Usage: sluice cluster remove ID [--server URL[,URL...]] [--timeout SECONDS] [--no-wait]\n"
    "\n"
    "Removes node ID from the cluster: DELETE /v1/cluster/nodes/ID. Every partition replica\n"
    "on it is replaced by one on another node (added to the partition's Raft group, caught\n"
    "up, made a voter) before node ID leaves the group; then it leaves the metadata group.\n"
    "The command waits until node ID is out of the metadata group and, on every other\n"
    "reachable node, no partition that node leads has ID among its voters and all of its\n"
    "replicas are voters; it prints `node ID removed (N partition replicas moved)` and\n"
    "exits 1 if that takes longer than --timeout. The node can be stopped afterwards.\n"
    "Refused (exit 1) when it would leave fewer nodes than a topic's replication factor.\n"
    "A server answering 503 or 504 is asked again (the next one of the list), after its\n"
    "Retry-After.\n"
    "\n"
    "  --timeout SECONDS   how long to wait, request and retries included (default 60)\n"
    "  --no-wait           return once the cluster has accepted the removal\n"
    "  --server URL        the server(s) (default $SLUICE_URL, else " SL_CLI_DEFAULT_URL ")\n"
    "  -h, --help          show this help\n";

/* ---- tables ----------------------------------------------------------------------------- */

#define CLUSTER_TABLE_COLS 9

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

/* A node's "role" in the metadata group, with ", removed" once it has been removed; "-" for a
 * server that does not report it. */
static void cell_role(char *out, size_t cap, yajl_val node) {
    const char *role = sl_json_str(node, "role");
    snprintf(out, cap, "%s%s", role ? role : "-",
             YAJL_IS_TRUE(sl_json_get(node, "removed")) ? ", removed" : "");
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
 *   NODE  ADDRESS         HTTP            VOTER  ROLE     METADATA
 *   1     127.0.0.1:7001  127.0.0.1:8081  yes    voter    leader
 *   2     127.0.0.1:7002  127.0.0.1:8082  yes    standby  -
 *
 *   TOPIC   PARTITION  LEADER  REPLICAS  VOTERS  TERM  COMMIT  APPLIED  LAG
 *   clicks          0       2  1,2,3     1,2,3      2     100      100  1:0 3:0   */
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

    ctable_t nodes = {.ncols = 6, .right = {1, 0, 0, 0, 0, 0}};
    ctable_add(&nodes, (const char *const[]){"NODE", "ADDRESS", "HTTP", "VOTER", "ROLE", "METADATA"});
    yajl_val list = sl_json_get(doc, "nodes");
    for (size_t i = 0; YAJL_IS_ARRAY(list) && i < list->u.array.len; i++) {
        yajl_val n = list->u.array.values[i];
        char id[32], address[300], http[300], voter[8], role[300];
        long long nid;
        cell_value(id, sizeof id, n, "id");
        cell_value(address, sizeof address, n, "address");
        cell_value(http, sizeof http, n, "http");
        cell_value(voter, sizeof voter, n, "voter");
        cell_role(role, sizeof role, n);
        int leads = sl_json_int(n, "id", &nid) == 0 && nid == metadata_leader;
        ctable_add(&nodes, (const char *const[]){id, address, http, voter, role, leads ? "leader" : "-"});
    }
    ctable_print(&nodes);
    ctable_free(&nodes);

    list = sl_json_get(doc, "partitions");
    if (!YAJL_IS_ARRAY(list) || list->u.array.len == 0) {
        printf("\nno partition replicas on node %s\n", self);
        return;
    }
    ctable_t parts = {.ncols = 9, .right = {0, 1, 1, 0, 0, 1, 1, 1, 0}};
    cli_buf_t replicas = {0}, voters = {0}, lag = {0};
    ctable_add(&parts, (const char *const[]){"TOPIC", "PARTITION", "LEADER", "REPLICAS", "VOTERS",
                                             "TERM", "COMMIT", "APPLIED", "LAG"});
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
        cell_ids(&voters, sl_json_get(p, "voters"));
        cell_lag(&lag, sl_json_get(p, "lag"));
        ctable_add(&parts, (const char *const[]){topic, part, pleader, replicas.data, voters.data,
                                                 pterm, pcommit, papplied, lag.data});
    }
    fputc('\n', stdout);
    ctable_print(&parts);
    ctable_free(&parts);
    cli_buf_free(&replicas);
    cli_buf_free(&voters);
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

/* ---- add and remove --------------------------------------------------------------------- */

/* One membership change in progress: the servers it may ask (the --server list, then the HTTP
 * addresses of the nodes their answers list) and its deadline. */
typedef struct change {
    const char *cmd;
    long long id;                  /* the node added or removed */
    char **servers;                /* URLs without trailing slashes */
    size_t nservers;
    size_t ngiven;                 /* how many of them came from --server */
    size_t cur;                    /* the server asked last */
    int lost;                      /* remove: an attempt whose answer was lost (504, broken
                                      connection) may have made it: a 404 after it is success */
    long long timeout_s;
    double deadline;               /* sl_cli_now() at which --timeout runs out */
    sl_http_t http;                /* requests to servers[cur] */
    sl_http_t peer;                /* remove: GET /v1/cluster of the other nodes */
    cli_buf_t seen;                /* why the change did not look complete at the last poll */
} change_t;

/* Appends url[0..n) (trailing slashes dropped) to the servers unless it is there already. */
static void change_add_server(change_t *ch, const char *url, size_t n) {
    while (n > 0 && url[n - 1] == '/') n--;
    for (size_t i = 0; i < ch->nservers; i++)
        if (strlen(ch->servers[i]) == n && memcmp(ch->servers[i], url, n) == 0) return;
    char *copy = sl_cli_xrealloc(NULL, n + 1);
    memcpy(copy, url, n);
    copy[n] = '\0';
    ch->servers = sl_cli_xrealloc(ch->servers, (ch->nservers + 1) * sizeof *ch->servers);
    ch->servers[ch->nservers++] = copy;
}

/* The HTTP addresses ("127.0.0.1:8082") of the nodes in an answer of GET /v1/cluster, node
 * ch->id's excepted, become servers to ask when the ones given stop answering. */
static void change_learn_servers(change_t *ch, yajl_val doc) {
    yajl_val nodes = sl_json_get(doc, "nodes");
    for (size_t i = 0; YAJL_IS_ARRAY(nodes) && i < nodes->u.array.len; i++) {
        yajl_val n = nodes->u.array.values[i];
        const char *http = sl_json_str(n, "http");
        long long id;
        if (!http || !*http || sl_json_int(n, "id", &id) != 0 || id == ch->id) continue;
        cli_buf_t url = {0};
        cli_buf_printf(&url, "%s%s", strstr(http, "://") ? "" : "http://", http);
        change_add_server(ch, url.data, url.len);
        cli_buf_free(&url);
    }
}

/* Points h at url (a new handle when it pointed elsewhere). 0, or -1 (message printed). */
static int http_use(sl_http_t *h, const char *url) {
    if (h->easy && strcmp(h->base, url) == 0) return 0;
    sl_http_free(h);
    if (sl_http_init(h, url) != 0) return -1;
    h->interruptible = 1;
    return 0;
}

/* One request on h, given at most cap seconds and never past the change's deadline. */
static CURLcode change_perform(const change_t *ch, sl_http_t *h, const char *method, const char *path,
                               const char *body, double cap) {
    double left = ch->deadline - sl_cli_now();
    if (left > cap) left = cap;
    if (left < 0.001) left = 0.001;
    sl_http_prepare(h, method, path, body ? "application/json" : NULL, body, body ? strlen(body) : 0);
    curl_easy_setopt(h->easy, CURLOPT_TIMEOUT_MS, (long)(left * 1000));
    return curl_easy_perform(h->easy);
}

static int connect_failed(CURLcode rc) {
    return rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST ||
           rc == CURLE_COULDNT_RESOLVE_PROXY || rc == CURLE_UNSUPPORTED_PROTOCOL ||
           rc == CURLE_URL_MALFORMAT;
}

/* Sleeps s seconds; a signal cuts it short. 0, or -1 once SIGINT/SIGTERM has arrived. */
static int change_sleep(double s) {
    double until = sl_cli_now() + s;
    while (!sl_cli_interrupted) {
        double left = until - sl_cli_now();
        if (left <= 0) return 0;
        struct timespec ts = {.tv_sec = (time_t)left, .tv_nsec = (long)((left - (double)(time_t)left) * 1e9)};
        if (nanosleep(&ts, NULL) == 0) return 0;
        if (errno != EINTR) return 0;
    }
    return -1;
}

/* what: "node 4's addition" once the cluster has accepted the change, else NULL. */
static void print_interrupted(const change_t *ch, const char *what) {
    if (what)
        fprintf(stderr, "%s: interrupted; the cluster goes on with %s (see 'sluice cluster status')\n",
                ch->cmd, what);
    else
        fprintf(stderr, "%s: interrupted; the change may or may not have been made (see 'sluice cluster "
                        "status')\n", ch->cmd);
}

/* Sends the change (method, path, JSON body or NULL) to the servers in turn until one answers
 * other than 503 or 504: 0 with a 2xx answer in ch->http (ch->cur is the server that gave
 * it), or -1 after printing why not: a refusal, no server reachable, --timeout passed. A 503
 * or 504, or a connection that broke before the answer, is retried on the next server after
 * the answer's Retry-After (else 50 ms doubling up to 1 s): adding a node again with the same
 * address is a no-op. Removing a node again is answered 404 once the removal is complete (a
 * node asked to remove itself can miss its own removal and answer 504): after an attempt
 * whose answer was lost, a 404 sets ch->lost and returns 0. Until some server has been
 * reached, each one is tried once, so a wrong URL fails at once. */
static int change_send(change_t *ch, const char *method, const char *path, const char *body) {
    double backoff = CLUSTER_BACKOFF_FIRST_S;
    size_t attempts = 0;
    int reached = 0, lost = 0;
    char what[400];

    for (;;) {
        sl_http_t *h = &ch->http;
        if (http_use(h, ch->servers[ch->cur]) != 0) return -1;
        CURLcode rc = change_perform(ch, h, method, path, body, CLUSTER_REQUEST_MAX_S);
        double wait = backoff;
        attempts++;
        if (rc == CURLE_OK) {
            yajl_val doc = NULL;
            reached = 1;
            sl_http_finish(h, rc, ch->cmd);
            if (h->status >= 200 && h->status < 300) return 0;
            if (lost && h->status == 404 && strcmp(method, "DELETE") == 0) {
                ch->lost = 1;
                return 0;
            }
            lost |= h->status == 504;
            if (h->status != 503 && h->status != 504) {
                sl_http_print_error(h, ch->cmd, NULL);
                return -1;
            }
            const char *code = sl_http_error_code(h, &doc);
            snprintf(what, sizeof what, "HTTP %ld%s%s", h->status, *code ? " " : "", code);
            if (doc) yajl_tree_free(doc);
            if (h->retry_after >= 0) wait = (double)h->retry_after;
        } else {
            if (sl_cli_interrupted) {
                print_interrupted(ch, NULL);
                return -1;
            }
            if (!reached && connect_failed(rc) && attempts >= ch->ngiven) {
                if (ch->ngiven == 1) {
                    sl_http_finish(h, rc, ch->cmd);
                } else {
                    fprintf(stderr, "%s: cannot reach any of the %zu servers (last: %s: %s)\n"
                                    "(is `sluice serve` running there? Set --server URL,URL... or "
                                    "SLUICE_URL.)\n",
                            ch->cmd, ch->ngiven, h->base, h->errbuf[0] ? h->errbuf : curl_easy_strerror(rc));
                }
                return -1;
            }
            snprintf(what, sizeof what, "%s", h->errbuf[0] ? h->errbuf : curl_easy_strerror(rc));
            lost |= !connect_failed(rc);
        }
        if (sl_cli_now() + wait > ch->deadline) {
            fprintf(stderr, "%s: still failing after %zu attempts in %lld s (last: %s: %s)\n", ch->cmd,
                    attempts, ch->timeout_s, h->base, what);
            if (rc != CURLE_OK || h->status == 504)
                fprintf(stderr, "%s: the change may or may not have been made (see 'sluice cluster "
                                "status')\n", ch->cmd);
            return -1;
        }
        size_t next = (ch->cur + 1) % ch->ngiven;
        if (attempts == 1)
            fprintf(stderr, "%s: %s from %s; retrying on %s\n", ch->cmd, what, h->base, ch->servers[next]);
        ch->cur = next;
        if (change_sleep(wait) != 0) {
            print_interrupted(ch, NULL);
            return -1;
        }
        backoff = backoff * 2 < CLUSTER_BACKOFF_MAX_S ? backoff * 2 : CLUSTER_BACKOFF_MAX_S;
    }
}

/* GET /v1/cluster of h's server: the answer when it is 200 with a JSON object, else NULL with
 * why in *why. */
static yajl_val get_view(const change_t *ch, sl_http_t *h, double cap, cli_buf_t *why) {
    CURLcode rc = change_perform(ch, h, "GET", "/v1/cluster", NULL, cap);
    cli_buf_reset(why);
    if (rc != CURLE_OK) {
        cli_buf_printf(why, "%s: %s", h->base, h->errbuf[0] ? h->errbuf : curl_easy_strerror(rc));
        return NULL;
    }
    curl_easy_getinfo(h->easy, CURLINFO_RESPONSE_CODE, &h->status);
    yajl_val doc = NULL;
    if (h->status != 200) {
        const char *code = sl_http_error_code(h, &doc);
        cli_buf_printf(why, "%s answered HTTP %ld%s%s", h->base, h->status, *code ? " " : "", code);
        if (doc) yajl_tree_free(doc);
        return NULL;
    }
    doc = sl_http_json(h, NULL);
    if (!YAJL_IS_OBJECT(doc)) {
        cli_buf_printf(why, "%s answered something else than a JSON object", h->base);
        if (doc) yajl_tree_free(doc);
        return NULL;
    }
    return doc;
}

/* GET /v1/cluster from the servers in turn, from the last one asked on, skipping node ch->id
 * when skip_target is set: the first answer, or NULL when none came (why: ch->seen). */
static yajl_val change_view(change_t *ch, int skip_target) {
    size_t n = ch->nservers;
    for (size_t k = 0; k < n; k++) {
        size_t i = (ch->cur + k) % n;
        if (http_use(&ch->http, ch->servers[i]) != 0) return NULL;
        yajl_val doc = get_view(ch, &ch->http, CLUSTER_REQUEST_MAX_S / 3, &ch->seen);
        if (!doc) continue;
        long long self;
        if (skip_target && sl_json_int(doc, "node_id", &self) == 0 && self == ch->id) {
            cli_buf_reset(&ch->seen);
            cli_buf_printf(&ch->seen, "%s is node %lld itself: another node must be asked", ch->http.base,
                           ch->id);
            change_learn_servers(ch, doc);
            yajl_tree_free(doc);
            continue;
        }
        change_learn_servers(ch, doc);
        ch->cur = i;
        return doc;
    }
    return NULL;
}

/* The entry of node id in an answer's "nodes", or NULL. */
static yajl_val find_node(yajl_val doc, long long id) {
    yajl_val nodes = sl_json_get(doc, "nodes");
    for (size_t i = 0; YAJL_IS_ARRAY(nodes) && i < nodes->u.array.len; i++) {
        yajl_val n = nodes->u.array.values[i];
        long long nid;
        if (sl_json_int(n, "id", &nid) == 0 && nid == id) return n;
    }
    return NULL;
}

static int ids_contain(yajl_val ids, long long id) {
    for (size_t i = 0; YAJL_IS_ARRAY(ids) && i < ids->u.array.len; i++) {
        yajl_val v = ids->u.array.values[i];
        if (YAJL_IS_INTEGER(v) && YAJL_GET_INTEGER(v) == id) return 1;
    }
    return 0;
}

/* Sleeps until the next poll of a change. 0, or -1 (message printed) when --timeout has run
 * out or a signal came. what: "node 4's addition". */
static int change_next_poll(change_t *ch, const char *what) {
    if (sl_cli_now() + CLUSTER_POLL_S > ch->deadline) {
        fprintf(stderr, "%s: %s is not complete after %lld s; last seen: %s\n", ch->cmd, what, ch->timeout_s,
                ch->seen.len ? ch->seen.data : "nothing");
        return -1;
    }
    if (change_sleep(CLUSTER_POLL_S) != 0) {
        print_interrupted(ch, what);
        return -1;
    }
    return 0;
}

/* Polls until node ch->id is a voter or a standby of the metadata group. */
static int wait_added(change_t *ch) {
    char what[64];
    snprintf(what, sizeof what, "node %lld's addition", ch->id);
    for (;;) {
        yajl_val doc = change_view(ch, 0);
        if (doc) {
            const char *role = sl_json_str(find_node(doc, ch->id), "role");
            long long self = -1;
            sl_json_int(doc, "node_id", &self);
            if (role && (strcmp(role, "voter") == 0 || strcmp(role, "standby") == 0)) {
                printf("node %lld added (%s)\n", ch->id, role);
                yajl_tree_free(doc);
                return 0;
            }
            cli_buf_reset(&ch->seen);
            if (!find_node(doc, ch->id))
                cli_buf_printf(&ch->seen, "node %lld is not listed by node %lld", ch->id, self);
            else
                cli_buf_printf(&ch->seen, "node %lld's role is %s on node %lld", ch->id,
                               role ? role : "not given", self);
            yajl_tree_free(doc);
        }
        if (change_next_poll(ch, what) != 0) return -1;
    }
}

/* A partition as the remaining nodes report it, while checking a removal. */
typedef struct part_seen {
    const char *topic;             /* points into one of the answers */
    long long partition;
    long long leader;              /* the leader some node names, -1 when none */
    int confirmed;                 /* its leader's own answer was checked */
} part_seen_t;

/* Whether node ch->id's removal is complete, given asked, the answer of a node other than
 * ch->id: ch->id has no role in asked's metadata group, and on every other node still in the
 * cluster that answers, every partition it leads has ch->id out of its voters and all of its
 * replicas among them. Every partition some node holds must be confirmed by its leader's
 * answer, unless that leader is another node that does not answer: one still led by ch->id
 * (which must hand it over before leaving) or by nobody is not done. 1 when complete; 0 with
 * why in ch->seen. */
static int removal_complete(change_t *ch, yajl_val asked) {
    long long self = -1, unreachable[64];
    size_t nunreachable = 0, nparts = 0, ndocs = 0;
    part_seen_t *parts = NULL;
    yajl_val *docs = NULL;
    cli_buf_t ignored = {0};       /* why a node did not answer: it is skipped */
    int complete = 0;

    sl_json_int(asked, "node_id", &self);
    cli_buf_reset(&ch->seen);
    yajl_val target = find_node(asked, ch->id);
    const char *role = sl_json_str(target, "role");
    if (target && (!role || strcmp(role, "none") != 0)) {
        cli_buf_printf(&ch->seen, "node %lld's role in the metadata group is %s on node %lld", ch->id,
                       role ? role : "not given", self);
        return 0;
    }

    yajl_val nodes = sl_json_get(asked, "nodes");
    for (size_t i = 0; YAJL_IS_ARRAY(nodes) && i < nodes->u.array.len; i++) {
        yajl_val n = nodes->u.array.values[i], view = asked;
        long long nid;
        if (sl_json_int(n, "id", &nid) != 0 || nid == ch->id || YAJL_IS_TRUE(sl_json_get(n, "removed")))
            continue;
        if (nid != self) {
            const char *http = sl_json_str(n, "http");
            view = NULL;
            if (http && *http) {
                cli_buf_t url = {0};
                cli_buf_printf(&url, "%s%s", strstr(http, "://") ? "" : "http://", http);
                int rc = http_use(&ch->peer, url.data);
                cli_buf_free(&url);
                if (rc != 0) goto out;
                view = get_view(ch, &ch->peer, 5.0, &ignored);
                long long vid;
                if (view && (sl_json_int(view, "node_id", &vid) != 0 || vid != nid)) {
                    yajl_tree_free(view);
                    view = NULL;
                }
            }
            if (!view) {
                if (nunreachable < sizeof unreachable / sizeof *unreachable)
                    unreachable[nunreachable++] = nid;
                continue;
            }
            docs = sl_cli_xrealloc(docs, (ndocs + 1) * sizeof *docs);
            docs[ndocs++] = view;
        }
        yajl_val list = sl_json_get(view, "partitions");
        for (size_t j = 0; YAJL_IS_ARRAY(list) && j < list->u.array.len; j++) {
            yajl_val p = list->u.array.values[j];
            const char *topic = sl_json_str(p, "topic");
            long long part, leader = -1;
            if (!topic || sl_json_int(p, "partition", &part) != 0) continue;
            sl_json_int(p, "leader", &leader);
            size_t k = 0;
            while (k < nparts && !(parts[k].partition == part && strcmp(parts[k].topic, topic) == 0)) k++;
            if (k == nparts) {
                parts = sl_cli_xrealloc(parts, (nparts + 1) * sizeof *parts);
                parts[nparts++] = (part_seen_t){.topic = topic, .partition = part, .leader = -1};
            }
            if (leader >= 0 && !parts[k].confirmed) parts[k].leader = leader;
            if (leader != nid) continue;
            yajl_val voters = sl_json_get(p, "voters"), replicas = sl_json_get(p, "replicas");
            cli_buf_t v = {0}, r = {0};
            cell_ids(&v, voters);
            cell_ids(&r, replicas);
            parts[k].confirmed = 1;
            int done = YAJL_IS_ARRAY(voters) && !ids_contain(voters, ch->id);
            for (size_t x = 0; done && YAJL_IS_ARRAY(replicas) && x < replicas->u.array.len; x++) {
                yajl_val rep = replicas->u.array.values[x];
                done = YAJL_IS_INTEGER(rep) && ids_contain(voters, YAJL_GET_INTEGER(rep));
            }
            if (!done)
                cli_buf_printf(&ch->seen,
                               "partition %lld of %s on its leader, node %lld: voters %s, replicas %s", part,
                               topic, nid, YAJL_IS_ARRAY(voters) ? v.data : "not given", r.data);
            cli_buf_free(&v);
            cli_buf_free(&r);
            if (!done) goto out;
        }
    }
    for (size_t k = 0; k < nparts; k++) {
        if (parts[k].confirmed) continue;
        int leader_away = 0;
        for (size_t u = 0; u < nunreachable; u++) leader_away |= unreachable[u] == parts[k].leader;
        if (leader_away) continue;          /* its leader does not answer: nothing to check */
        if (parts[k].leader < 0)
            cli_buf_printf(&ch->seen, "partition %lld of %s has no leader", parts[k].partition,
                           parts[k].topic);
        else
            cli_buf_printf(&ch->seen, "partition %lld of %s: its leader, node %lld, has not confirmed it",
                           parts[k].partition, parts[k].topic, parts[k].leader);
        goto out;
    }
    complete = 1;
out:
    for (size_t i = 0; i < ndocs; i++) yajl_tree_free(docs[i]);
    free(docs);
    free(parts);
    cli_buf_free(&ignored);
    return complete;
}

/* Polls until node ch->id's removal is complete (removal_complete). */
static int wait_removed(change_t *ch, long long moved) {
    char what[64];
    snprintf(what, sizeof what, "node %lld's removal", ch->id);
    for (;;) {
        yajl_val doc = change_view(ch, 1);
        if (doc) {
            int done = removal_complete(ch, doc);
            yajl_tree_free(doc);
            if (done && moved < 0)
                printf("node %lld removed (partition replicas moved: not known, the answer was lost)\n",
                       ch->id);
            else if (done)
                printf("node %lld removed (%lld partition replica%s moved)\n", ch->id, moved,
                       moved == 1 ? "" : "s");
            if (done) return 0;
        }
        if (change_next_poll(ch, what) != 0) return -1;
    }
}

/* "ID@HOST:PORT": 0 with the id and HOST:PORT, or -1 with why in err. */
static int parse_member(const char *s, long long *id, const char **address, char *err, size_t cap) {
    const char *at = strchr(s, '@');
    if (!at) {
        snprintf(err, cap, "expected ID@HOST:PORT, not '%s'", s);
        return -1;
    }
    char digits[24];
    size_t n = (size_t)(at - s);
    if (n == 0 || n >= sizeof digits) {
        snprintf(err, cap, "the node id in '%s' is not a number 1-%lld", s, CLUSTER_NODE_ID_MAX);
        return -1;
    }
    memcpy(digits, s, n);
    digits[n] = '\0';
    if (sl_cli_parse_ll(digits, 1, id) != 0 || *id > CLUSTER_NODE_ID_MAX) {
        snprintf(err, cap, "the node id in '%s' is not a number 1-%lld", s, CLUSTER_NODE_ID_MAX);
        return -1;
    }
    const char *colon = strrchr(at + 1, ':');
    long long port;
    if (!colon || colon == at + 1 || sl_cli_parse_ll(colon + 1, 1, &port) != 0 || port > 65535) {
        snprintf(err, cap, "the address in '%s' is not HOST:PORT (port 1-65535)", s);
        return -1;
    }
    *address = at + 1;
    return 0;
}

/* add and remove: options, the request, the wait. */
static int cluster_change(sl_cli_ctx_t *ctx, int argc, char **argv, int add) {
    static const struct option opts[] = {
        {"timeout", required_argument, NULL, OPT_TIMEOUT},
        {"no-wait", no_argument, NULL, OPT_NO_WAIT},
        {"server", required_argument, NULL, OPT_SERVER},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    change_t ch = {.cmd = argv[0], .timeout_s = CLUSTER_TIMEOUT_S};
    cli_buf_t body = {0}, path = {0};
    const char *address = NULL;
    yajl_val answer = NULL;
    int wait = 1, rc = SL_CLI_FAIL, c;
    char err[300];

    sl_cli_getopt_reset();
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'h': fputs(add ? add_usage : remove_usage, stdout); return SL_CLI_OK;
        case OPT_SERVER: ctx->server = optarg; break;
        case OPT_NO_WAIT: wait = 0; break;
        case OPT_TIMEOUT:
            if (sl_cli_parse_ll(optarg, 1, &ch.timeout_s) != 0 || ch.timeout_s > 86400)
                return sl_cli_usage_error(ch.cmd, "--timeout needs a number of seconds, 1-86400, not '%s'",
                                          optarg);
            break;
        default: return sl_cli_try_help(ch.cmd);
        }
    }
    if (optind >= argc) return sl_cli_usage_error(ch.cmd, "missing %s", add ? "ID@HOST:PORT" : "ID");
    if (argc - optind > 1) return sl_cli_usage_error(ch.cmd, "unexpected argument '%s'", argv[optind + 1]);
    if (add) {
        if (parse_member(argv[optind], &ch.id, &address, err, sizeof err) != 0)
            return sl_cli_usage_error(ch.cmd, "%s", err);
    } else if (sl_cli_parse_ll(argv[optind], 1, &ch.id) != 0 || ch.id > CLUSTER_NODE_ID_MAX) {
        return sl_cli_usage_error(ch.cmd, "ID is a node id, 1-%lld, not '%s'", CLUSTER_NODE_ID_MAX,
                                  argv[optind]);
    }
    if (!servers_ok(ctx->server))
        return sl_cli_usage_error(ch.cmd, "--server needs URL[,URL...], not '%s'", ctx->server);
    for (const char *p = ctx->server;; p++) {
        size_t n = strcspn(p, ",");
        change_add_server(&ch, p, n);
        if (!p[n]) break;
        p += n;
    }
    ch.ngiven = ch.nservers;
    ch.deadline = sl_cli_now() + (double)ch.timeout_s;
    sl_cli_catch_signals();

    if (add) {
        cli_buf_printf(&body, "{\"id\":%lld,\"address\":", ch.id);
        cli_buf_json_string(&body, address);
        cli_buf_append(&body, "}", 1);
        if (change_send(&ch, "POST", "/v1/cluster/nodes", body.data) != 0) goto out;
    } else {
        cli_buf_printf(&path, "/v1/cluster/nodes/%lld", ch.id);
        if (change_send(&ch, "DELETE", path.data, NULL) != 0) goto out;
    }
    long long moved = -1;          /* not known when the removal's answer was lost */
    const char *status = "removing";
    if (ch.lost) {
        fprintf(stderr, "%s: node %lld is not a member any more: the attempt whose answer was lost "
                        "removed it\n", ch.cmd, ch.id);
    } else {
        if (!(answer = sl_http_json(&ch.http, ch.cmd))) goto out;
        status = sl_json_str(answer, "status");
        sl_json_int(answer, "moved", &moved);
    }
    if (!wait) {
        if (add) printf("node %lld accepted (%s)\n", ch.id, status ? status : "no status given");
        else if (moved < 0) printf("node %lld accepted (%s)\n", ch.id, status ? status : "no status given");
        else printf("node %lld accepted (%s, %lld partition replica%s to move)\n", ch.id,
                    status ? status : "no status given", moved, moved == 1 ? "" : "s");
        rc = SL_CLI_OK;
    } else if ((add ? wait_added(&ch) : wait_removed(&ch, moved)) == 0) {
        rc = SL_CLI_OK;
    }
    if (rc == SL_CLI_OK && fflush(stdout) != 0) {
        fprintf(stderr, "%s: cannot write to stdout\n", ch.cmd);
        rc = SL_CLI_FAIL;
    }
out:
    if (answer) yajl_tree_free(answer);
    for (size_t i = 0; i < ch.nservers; i++) free(ch.servers[i]);
    free(ch.servers);
    sl_http_free(&ch.http);
    sl_http_free(&ch.peer);
    cli_buf_free(&ch.seen);
    cli_buf_free(&body);
    cli_buf_free(&path);
    return rc;
}

int sl_cli_cluster(sl_cli_ctx_t *ctx, int argc, char **argv) {
    static char status_name[] = "sluice cluster status", add_name[] = "sluice cluster add",
                remove_name[] = "sluice cluster remove";
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
    if (strcmp(argv[i], "add") == 0 || strcmp(argv[i], "remove") == 0) {
        int add = argv[i][0] == 'a';
        argv[i] = add ? add_name : remove_name;
        return cluster_change(ctx, argc - i, argv + i, add);
    }
    return sl_cli_usage_error("sluice cluster", "unknown command '%s' (status, add, remove)", argv[i]);
}

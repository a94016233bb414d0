/* main() of the `sluice` binary: global options (--server, --help, --version) and dispatch to
 * a subcommand — `serve` (serve.c) or one of the HTTP clients (topic.c, produce.c, consume.c,
 * sql.c, cluster.c).
 * Exit status for every path: 0 ok, 1 refused or unreachable server, 2 usage error. */
#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/client.h"
#include "sluice.h"

static const char usage[] =
    "Usage: sluice [--server URL] COMMAND [ARGS...]\n"
    "\n"
    "Commands:\n"
    "  serve                          run the server (see 'sluice serve --help')\n"
    "  topic create|list|describe|delete\n"
    "                                 manage topics\n"
    "  produce TOPIC [FILE|-]         send NDJSON events (one JSON value per line)\n"
    "  consume TOPIC                  print events as NDJSON, by partition or as a group member\n"
    "  sql [-e SQL | -f FILE]         run SQL statements, or an interactive SQL shell\n"
    "  cluster status|add|remove      a cluster's nodes, partition leaders and replication lag;\n"
    "                                 add or remove a node\n"
    "  help [COMMAND]                 show this help, or a command's\n"
    "\n"
    "Options (also accepted after the command):\n"
    "  --server URL    the server to talk to (default: $SLUICE_URL, else " SL_CLI_DEFAULT_URL ");\n"
    "                  produce and cluster take a list URL,URL,... of a cluster's nodes\n"
    "  -h, --help      show help and exit\n"
    "  -V, --version   show the version and exit\n"
    "\n"
    "Exit status: 0 success, 1 the server refused the request or could not be reached,\n"
    "2 wrong usage. Run 'sluice COMMAND --help' for a command's options.\n";

typedef int (*client_fn)(sl_cli_ctx_t *ctx, int argc, char **argv);

static client_fn find_client(const char *name) {
    if (strcmp(name, "topic") == 0) return sl_cli_topic;
    if (strcmp(name, "produce") == 0) return sl_cli_produce;
    if (strcmp(name, "consume") == 0) return sl_cli_consume;
    if (strcmp(name, "sql") == 0) return sl_cli_sql;
    if (strcmp(name, "cluster") == 0) return sl_cli_cluster;
    return NULL;
}

static int run_client(client_fn fn, sl_cli_ctx_t *ctx, int argc, char **argv) {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fputs("sluice: cannot initialise libcurl\n", stderr);
        return SL_CLI_FAIL;
    }
    /* A reader that goes away (`sluice consume t | head`) shows up as EPIPE from write(). */
    signal(SIGPIPE, SIG_IGN);
    int rc = fn(ctx, argc, argv);
    curl_global_cleanup();
    return rc;
}

/* `sluice help [COMMAND]`. */
static int help(sl_cli_ctx_t *ctx, int argc, char **argv) {
    if (argc < 2) {
        fputs(usage, stdout);
        return SL_CLI_OK;
    }
    char help_flag[] = "--help";
    if (strcmp(argv[1], "serve") == 0) {
        char *sub[] = {argv[1], help_flag, NULL};
        return sl_cli_serve(2, sub);
    }
    client_fn fn = find_client(argv[1]);
    if (!fn) return sl_cli_usage_error("sluice help", "unknown command '%s'", argv[1]);
    char *sub[] = {argv[1], help_flag, NULL};
    return fn(ctx, 2, sub);
}

int main(int argc, char **argv) {
    sl_cli_ctx_t ctx = {.server = getenv("SLUICE_URL")};
    if (!ctx.server || !*ctx.server) ctx.server = SL_CLI_DEFAULT_URL;

    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0) {
            i++;
            break;
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(usage, stdout);
            return SL_CLI_OK;
        } else if (strcmp(a, "-V") == 0 || strcmp(a, "--version") == 0) {
            printf("sluice %s\n", SLUICE_VERSION);
            return SL_CLI_OK;
        } else if (strcmp(a, "--server") == 0) {
            if (i + 1 >= argc) return sl_cli_usage_error("sluice", "--server needs a URL");
            ctx.server = argv[++i];
        } else if (strncmp(a, "--server=", 9) == 0) {
            ctx.server = a + 9;
        } else {
            return sl_cli_usage_error("sluice", "unknown option '%s'", a);
        }
    }
    if (i >= argc) {
        fputs(usage, stderr);
        return SL_CLI_USAGE;
    }

    const char *cmd = argv[i];
    if (strcmp(cmd, "serve") == 0) return sl_cli_serve(argc - i, argv + i);
    if (strcmp(cmd, "help") == 0) return help(&ctx, argc - i, argv + i);
    client_fn fn = find_client(cmd);
    if (!fn) return sl_cli_usage_error("sluice", "unknown command '%s'", cmd);
    return run_client(fn, &ctx, argc - i, argv + i);
}

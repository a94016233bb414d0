/* The `sluice` binary's subcommands. serve.c runs the server; the others are HTTP clients
 * (libcurl) of a server given by --server or SLUICE_URL (default http://127.0.0.1:8080).
 * Exit status: 0 ok, 1 the server refused or could not be reached (message printed), 2 usage. */
#ifndef SL_CLI_CLI_H
#define SL_CLI_CLI_H

int sl_cli_serve(int argc, char **argv);   /* sluice serve [flags]; argv[0] is "serve" */

struct sl_cli_ctx;                         /* client.h */
/* sluice sql [options]: scripts or the interactive SQL shell (sql.c); argv[0] is "sql". */
int sl_cli_sql(struct sl_cli_ctx *ctx, int argc, char **argv);
/* sluice cluster status|add|remove: a node's view of the cluster, membership changes
 * (cluster.c); argv[0] is "cluster". */
int sl_cli_cluster(struct sl_cli_ctx *ctx, int argc, char **argv);

#endif

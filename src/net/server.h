/* The sluice server: an engine, the HTTP API over it, signals, and an orderly shutdown. */
#ifndef SL_NET_SERVER_H
#define SL_NET_SERVER_H

#include "cluster/cluster.h"
#include "net/api.h"
#include "net/http.h"
#include "sluice.h"

typedef struct sl_server_config {
    sl_engine_config_t engine;
    sl_http_config_t http;
    sl_api_limits_t limits;
    sl_sql_config_t sql;
    sl_cluster_config_t cluster;     /* used when cluster.members is set */
} sl_server_config_t;

void sl_server_config_defaults(sl_server_config_t *cfg);
/* Runs until SIGINT or SIGTERM, then shuts down cleanly. Returns a process exit status. */
int sl_server_run(const sl_server_config_t *cfg);

#endif

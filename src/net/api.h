/* HTTP API v1 (docs/API.md): routes requests of the HTTP server to the engine and turns
 * engine results into JSON, NDJSON and Server-Sent Events. No business logic lives here. */
#ifndef SL_NET_API_H
#define SL_NET_API_H

#include <stddef.h>
#include <stdint.h>

#include "net/http.h"
#include "sluice.h"

/* Limits, with the error a client gets when it crosses them (docs/API.md, README). */
typedef struct sl_api_limits {
    size_t max_request_bytes;   /* 413 request_too_large (enforced by the HTTP server) */
    size_t max_event_bytes;     /* 413 event_too_large */
    size_t max_events;          /* 413 request_too_large: events in one request */
    int max_depth;              /* 400 too_deep */
    uint64_t max_timeout_ms;    /* cap on timeout_ms of long polls */
} sl_api_limits_t;

typedef struct sl_api sl_api_t;

int sl_api_create(uv_loop_t *loop, sl_engine_t *e, const sl_api_limits_t *limits, sl_api_t **out);
void sl_api_set_http(sl_api_t *api, sl_http_server_t *srv); /* for /metrics */
void sl_api_set_sql(sl_api_t *api, sl_sql_t *sql);          /* for /v1/sql and /v1/views */
struct sl_cluster;
void sl_api_set_cluster(sl_api_t *api, struct sl_cluster *c); /* cluster mode (NULL: one node) */
/* The sl_http_handler_cb to give the HTTP server, with the api as ud. */
void sl_api_handle(sl_http_req_t *req, void *ud);
/* Ends open streams and long polls (answering what can be answered) before shutdown. */
void sl_api_shutdown(sl_api_t *api);
void sl_api_free(sl_api_t *api);

#endif

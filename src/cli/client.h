/* The client subcommands' shared parts: growable buffers, a libcurl easy handle wrapped for
 * sluice's API (one keep-alive connection per handle, error bodies decoded), the server's JSON
 * read with yajl_tree, output written in whole batches, and SIGINT/SIGTERM turned into a flag.
 * Memory exhaustion in the client is fatal ("out of memory", exit 1), as in most CLIs, so the
 * buffer helpers return nothing. */
#ifndef SL_CLI_CLIENT_H
#define SL_CLI_CLIENT_H

#include <curl/curl.h>
#include <signal.h>
#include <stddef.h>
#include <yajl/yajl_tree.h>

#include "core/buf.h"

/* Exit statuses of every subcommand (see cli.h). */
enum { SL_CLI_OK = 0, SL_CLI_FAIL = 1, SL_CLI_USAGE = 2 };

#define SL_CLI_DEFAULT_URL "http://127.0.0.1:8080"

/* Options that every client subcommand accepts. */
typedef struct sl_cli_ctx {
    const char *server;            /* base URL, from --server, SLUICE_URL or the default */
} sl_cli_ctx_t;

/* Subcommands: argv[0] is the subcommand's name ("topic", "produce", "consume"). */
int sl_cli_topic(sl_cli_ctx_t *ctx, int argc, char **argv);
int sl_cli_produce(sl_cli_ctx_t *ctx, int argc, char **argv);
int sl_cli_consume(sl_cli_ctx_t *ctx, int argc, char **argv);

/* ---- buffers ---------------------------------------------------------------------------- */

/* core/buf.h's buffers, kept NUL-terminated and exiting on out-of-memory, as a CLI wants. */
typedef sl_buf_t cli_buf_t;

void cli_buf_reserve(cli_buf_t *b, size_t extra);
void cli_buf_append(cli_buf_t *b, const void *data, size_t len);
void cli_buf_printf(cli_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void cli_buf_json_string(cli_buf_t *b, const char *s);  /* appends s as a quoted JSON string */
void cli_buf_reset(cli_buf_t *b);
void cli_buf_free(cli_buf_t *b);
void *sl_cli_xrealloc(void *p, size_t size);          /* exits on failure */
_Noreturn void sl_cli_oom(void);                      /* "out of memory", exit 1 */

/* ---- HTTP ------------------------------------------------------------------------------- */

typedef struct sl_http {
    CURL *easy;
    char *base;                    /* server URL without a trailing slash (owned) */
    char errbuf[CURL_ERROR_SIZE];
    struct curl_slist *headers;
    cli_buf_t body;                 /* the last response's body */
    long status;                   /* its HTTP status, 0 before a response */
    long long next_offset;         /* its Sluice-Next-Offset header, -1 when absent */
    long long retry_after;         /* its Retry-After header (seconds), -1 when absent */
    int interruptible;             /* abort the transfer once sl_cli_interrupted is set */
} sl_http_t;

int sl_http_init(sl_http_t *h, const char *server);  /* 0, or -1 with a message printed */
void sl_http_free(sl_http_t *h);
/* Sets up one request on h->easy (for curl_multi); path starts with '/', body may be NULL. */
void sl_http_prepare(sl_http_t *h, const char *method, const char *path, const char *content_type,
                     const char *body, size_t body_len);
/* After the transfer ended with rc: 0 when a response arrived (any status), -1 when the
 * server could not be reached or the transfer broke (a message was printed, unless the
 * transfer was interrupted by a signal). */
int sl_http_finish(sl_http_t *h, CURLcode rc, const char *cmd);
/* prepare + curl_easy_perform + finish. */
int sl_http_do(sl_http_t *h, const char *method, const char *path, const char *content_type,
               const char *body, size_t body_len, const char *cmd);
/* Prints the refusal in h's last response to stderr: "CMD: CONTEXT: message (code, HTTP n)". */
void sl_http_print_error(const sl_http_t *h, const char *cmd, const char *context);
/* h's last response body parsed as JSON, or NULL (and a message printed) when it is not JSON. */
yajl_val sl_http_json(const sl_http_t *h, const char *cmd);
/* The error code of h's last response ("topic_not_found"), or "" when there is none. */
const char *sl_http_error_code(const sl_http_t *h, yajl_val *parsed);

/* A path segment percent-encoded (malloc'd). */
char *sl_cli_escape(const char *segment);

/* ---- JSON ------------------------------------------------------------------------------- */

yajl_val sl_json_get(yajl_val obj, const char *key);  /* obj[key] or NULL */
int sl_json_int(yajl_val obj, const char *key, long long *out);  /* 0, or -1 if absent/not an integer */
const char *sl_json_str(yajl_val obj, const char *key);  /* string value, or NULL */

/* ---- output ----------------------------------------------------------------------------- */

/* Writes all of buf to fd. 0, or -1 with errno set (EPIPE when the reader went away). */
int sl_cli_write_all(int fd, const char *buf, size_t len);
/* Parses "N" (>= min) into *out; 0 or -1. */
int sl_cli_parse_ll(const char *s, long long min, long long *out);
/* The usage error tail: "Try 'sluice CMD --help'." and SL_CLI_USAGE. */
int sl_cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* After getopt_long has reported a bad option: "Try 'CMD --help'." and SL_CLI_USAGE. */
int sl_cli_try_help(const char *cmd);
/* getopt_long state reset so argv (argv[0] the command's display name) can be parsed anew. */
void sl_cli_getopt_reset(void);
/* Prints a JSON body to stdout with a final newline; SL_CLI_OK, or SL_CLI_FAIL on a write error. */
int sl_cli_print_body(const cli_buf_t *body, const char *cmd);
double sl_cli_now(void);                               /* monotonic seconds */

/* ---- signals ---------------------------------------------------------------------------- */

extern volatile sig_atomic_t sl_cli_interrupted;       /* the signal number, 0 if none */
/* SIGINT and SIGTERM set sl_cli_interrupted (a second one kills as usual). */
void sl_cli_catch_signals(void);

#endif

/* Plumbing shared by the client subcommands: growable buffers, JSON look-ups on yajl_tree
 * values, whole-buffer writes to stdout, number parsing, usage errors and the SIGINT/SIGTERM
 * flag. Declared in client.h; the HTTP side lives in http_client.c. */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/client.h"
#include "sluice.h"

volatile sig_atomic_t sl_cli_interrupted;

_Noreturn void sl_cli_oom(void) {
    fputs("sluice: out of memory\n", stderr);
    exit(SL_CLI_FAIL);
}

void *sl_cli_xrealloc(void *p, size_t size) {
    void *q = realloc(p, size ? size : 1);
    if (!q) sl_cli_oom();
    return q;
}

/* The cli_buf_* calls wrap core/buf.h: NUL-terminated (so .data can go to curl and printf),
 * and out of memory ends the process with a message. */
static void cli_buf_terminate(cli_buf_t *b) {
    if (sl_buf_reserve(b, 1)) sl_cli_oom();
    b->data[b->len] = '\0';
}

void cli_buf_reserve(cli_buf_t *b, size_t extra) {
    if (sl_buf_reserve(b, extra + 1)) sl_cli_oom();
    b->data[b->len] = '\0';
}

void cli_buf_append(cli_buf_t *b, const void *data, size_t len) {
    if (sl_buf_append(b, data, len)) sl_cli_oom();
    cli_buf_terminate(b);
}

void cli_buf_printf(cli_buf_t *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int rc = sl_buf_vprintf(b, fmt, ap); /* leaves the NUL vsnprintf wrote */
    va_end(ap);
    if (rc == -SL_ENOMEM) sl_cli_oom();
}

void cli_buf_json_string(cli_buf_t *b, const char *s) {
    if (sl_buf_putc(b, '"') || sl_buf_json_escape(b, s, strlen(s)) || sl_buf_putc(b, '"'))
        sl_cli_oom();
    cli_buf_terminate(b);
}

void cli_buf_reset(cli_buf_t *b) {
    b->len = 0;
    if (b->data) b->data[0] = '\0';
}

void cli_buf_free(cli_buf_t *b) { sl_buf_free(b); }

yajl_val sl_json_get(yajl_val obj, const char *key) {
    if (!YAJL_IS_OBJECT(obj)) return NULL;
    for (size_t i = 0; i < obj->u.object.len; i++)
        if (strcmp(obj->u.object.keys[i], key) == 0) return obj->u.object.values[i];
    return NULL;
}

int sl_json_int(yajl_val obj, const char *key, long long *out) {
    yajl_val v = sl_json_get(obj, key);
    if (!YAJL_IS_INTEGER(v)) return -1;
    *out = YAJL_GET_INTEGER(v);
    return 0;
}

const char *sl_json_str(yajl_val obj, const char *key) {
    yajl_val v = sl_json_get(obj, key);
    return YAJL_IS_STRING(v) ? YAJL_GET_STRING(v) : NULL;
}

int sl_cli_write_all(int fd, const char *buf, size_t len) {
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

int sl_cli_parse_ll(const char *s, long long min, long long *out) {
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < min) return -1;
    *out = v;
    return 0;
}

int sl_cli_usage_error(const char *cmd, const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "%s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry '%s --help'.\n", cmd);
    return SL_CLI_USAGE;
}

int sl_cli_try_help(const char *cmd) {
    fprintf(stderr, "Try '%s --help'.\n", cmd);
    return SL_CLI_USAGE;
}

void sl_cli_getopt_reset(void) {
    optind = 0; /* glibc: 0 re-initialises the scanner, which then starts at argv[1] */
    opterr = 1;
}

int sl_cli_print_body(const cli_buf_t *body, const char *cmd) {
    if (body->len) fwrite(body->data, 1, body->len, stdout);
    if (!body->len || body->data[body->len - 1] != '\n') fputc('\n', stdout);
    if (fflush(stdout) != 0 && errno != EPIPE) {
        fprintf(stderr, "%s: cannot write to stdout: %s\n", cmd, strerror(errno));
        return SL_CLI_FAIL;
    }
    return SL_CLI_OK;
}

double sl_cli_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The first signal asks for a clean stop (commit, leave the group); SA_RESETHAND then lets a
 * second one kill the process as usual. */
static void on_signal(int sig) {
    sl_cli_interrupted = sig;
}

void sl_cli_catch_signals(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESETHAND;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

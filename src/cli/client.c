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

void cli_buf_reserve(cli_buf_t *b, size_t extra) {
    if (b->data && b->len + extra < b->cap) return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap <= b->len + extra) cap *= 2;
    b->data = sl_cli_xrealloc(b->data, cap);
    b->cap = cap;
    b->data[b->len] = '\0';
}

void cli_buf_append(cli_buf_t *b, const void *data, size_t len) {
    cli_buf_reserve(b, len);
    memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
}

void cli_buf_printf(cli_buf_t *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    cli_buf_reserve(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void cli_buf_json_string(cli_buf_t *b, const char *s) {
    static const char hex[] = "0123456789abcdef";
    cli_buf_append(b, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char esc[6] = {'\\', 0, 0, 0, 0, 0};
        size_t n = 2;
        switch (*p) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        default:
            if (*p >= 0x20) {
                cli_buf_append(b, p, 1);
                continue;
            }
            esc[1] = 'u', esc[2] = '0', esc[3] = '0', esc[4] = hex[*p >> 4], esc[5] = hex[*p & 15];
            n = 6;
        }
        cli_buf_append(b, esc, n);
    }
    cli_buf_append(b, "\"", 1);
}

void cli_buf_reset(cli_buf_t *b) {
    b->len = 0;
    if (b->data) b->data[0] = '\0';
}

void cli_buf_free(cli_buf_t *b) {
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

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

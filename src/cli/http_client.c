/* The client's HTTP transport: one libcurl easy handle per sl_http_t, reused request after
 * request so its keep-alive connection is too. It collects the response body and the
 * Sluice-Next-Offset and Retry-After headers, lets a SIGINT cut a long poll short, and turns transport
 * failures and the server's JSON error bodies into one-line messages on stderr. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/client.h"
#include "sluice.h"

#define SL_HTTP_CONNECT_TIMEOUT_MS 10000L

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud) {
    sl_http_t *h = ud;
    cli_buf_append(&h->body, data, size * nmemb);
    return size * nmemb;
}

/* The decimal value of header line data[0..len) when it is "NAME: digits", else -1. name is
 * lower case and ends with the colon. */
static long long header_number(const char *data, size_t len, const char *name) {
    size_t n = strlen(name), i = n, digits = 0;
    long long v = 0;
    if (len <= n || strncasecmp(data, name, n) != 0) return -1;
    while (i < len && (data[i] == ' ' || data[i] == '\t')) i++;
    for (; i < len && isdigit((unsigned char)data[i]) && digits < 18; i++, digits++)
        v = v * 10 + (data[i] - '0');
    return digits ? v : -1;
}

/* Called once per header line, for every response (a 100 Continue included). */
static size_t on_header(char *data, size_t size, size_t nmemb, void *ud) {
    sl_http_t *h = ud;
    size_t len = size * nmemb;
    long long v;
    if (len >= 5 && memcmp(data, "HTTP/", 5) == 0) h->next_offset = h->retry_after = -1;
    if ((v = header_number(data, len, "sluice-next-offset:")) >= 0) h->next_offset = v;
    if ((v = header_number(data, len, "retry-after:")) >= 0) h->retry_after = v;
    return len;
}

static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow) {
    const sl_http_t *h = ud;
    return h->interruptible && sl_cli_interrupted;
}

int sl_http_init(sl_http_t *h, const char *server) {
    size_t n = strlen(server);
    memset(h, 0, sizeof *h);
    while (n > 0 && server[n - 1] == '/') n--;
    h->base = sl_cli_xrealloc(NULL, n + 1);
    memcpy(h->base, server, n);
    h->base[n] = '\0';
    h->next_offset = h->retry_after = -1;
    h->easy = curl_easy_init();
    if (!h->easy) {
        fputs("sluice: cannot initialise libcurl\n", stderr);
        return -1;
    }
    curl_easy_setopt(h->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h->easy, CURLOPT_ERRORBUFFER, h->errbuf);
    curl_easy_setopt(h->easy, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h->easy, CURLOPT_WRITEDATA, h);
    curl_easy_setopt(h->easy, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h->easy, CURLOPT_HEADERDATA, h);
    curl_easy_setopt(h->easy, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(h->easy, CURLOPT_XFERINFODATA, h);
    curl_easy_setopt(h->easy, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h->easy, CURLOPT_CONNECTTIMEOUT_MS, SL_HTTP_CONNECT_TIMEOUT_MS);
    curl_easy_setopt(h->easy, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(h->easy, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h->easy, CURLOPT_USERAGENT, "sluice/" SLUICE_VERSION);
    return 0;
}

void sl_http_free(sl_http_t *h) {
    if (h->easy) curl_easy_cleanup(h->easy);
    curl_slist_free_all(h->headers);
    cli_buf_free(&h->body);
    free(h->base);
    h->base = NULL;
    h->easy = NULL;
    h->headers = NULL;
}

void sl_http_prepare(sl_http_t *h, const char *method, const char *path, const char *content_type,
                     const char *body, size_t body_len) {
    cli_buf_t url = {0};
    cli_buf_printf(&url, "%s%s", h->base, path);
    curl_easy_setopt(h->easy, CURLOPT_URL, url.data);
    cli_buf_free(&url);

    curl_slist_free_all(h->headers);
    h->headers = NULL;
    if (content_type) {
        cli_buf_t ct = {0};
        cli_buf_printf(&ct, "Content-Type: %s", content_type);
        h->headers = curl_slist_append(h->headers, ct.data);
        cli_buf_free(&ct);
    }
    /* Send bodies at once rather than waiting for a 100 Continue. */
    h->headers = curl_slist_append(h->headers, "Expect:");
    if (!h->headers) sl_cli_oom();
    curl_easy_setopt(h->easy, CURLOPT_HTTPHEADER, h->headers);

    if (strcmp(method, "POST") == 0) {
        curl_easy_setopt(h->easy, CURLOPT_CUSTOMREQUEST, NULL);
        curl_easy_setopt(h->easy, CURLOPT_POST, 1L);
        curl_easy_setopt(h->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
        curl_easy_setopt(h->easy, CURLOPT_POSTFIELDS, body ? body : "");
    } else {
        curl_easy_setopt(h->easy, CURLOPT_HTTPGET, 1L);
        curl_easy_setopt(h->easy, CURLOPT_CUSTOMREQUEST, strcmp(method, "GET") ? method : NULL);
    }
    cli_buf_reset(&h->body);
    h->status = 0;
    h->next_offset = h->retry_after = -1;
    h->errbuf[0] = '\0';
}

int sl_http_finish(sl_http_t *h, CURLcode rc, const char *cmd) {
    if (rc == CURLE_OK) {
        curl_easy_getinfo(h->easy, CURLINFO_RESPONSE_CODE, &h->status);
        if (!h->body.data) cli_buf_reserve(&h->body, 1);
        return 0;
    }
    if (rc == CURLE_ABORTED_BY_CALLBACK && sl_cli_interrupted) return -1;
    const char *detail = h->errbuf[0] ? h->errbuf : curl_easy_strerror(rc);
    switch (rc) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
        fprintf(stderr,
                "%s: cannot reach the server at %s: %s\n"
                "(is `sluice serve` running there? Set --server URL or SLUICE_URL.)\n",
                cmd, h->base, detail);
        break;
    default:
        fprintf(stderr, "%s: request to %s failed: %s\n", cmd, h->base, detail);
    }
    return -1;
}

int sl_http_do(sl_http_t *h, const char *method, const char *path, const char *content_type,
               const char *body, size_t body_len, const char *cmd) {
    sl_http_prepare(h, method, path, content_type, body, body_len);
    return sl_http_finish(h, curl_easy_perform(h->easy), cmd);
}

yajl_val sl_http_json(const sl_http_t *h, const char *cmd) {
    char err[256];
    yajl_val v = yajl_tree_parse(h->body.data ? h->body.data : "", err, sizeof err);
    if (!v && cmd) {
        size_t n = strcspn(err, "\n");
        fprintf(stderr, "%s: the server's answer (HTTP %ld) is not JSON: %.*s\n", cmd, h->status,
                (int)n, err);
    }
    return v;
}

const char *sl_http_error_code(const sl_http_t *h, yajl_val *parsed) {
    *parsed = sl_http_json(h, NULL);
    const char *code = sl_json_str(sl_json_get(*parsed, "error"), "code");
    return code ? code : "";
}

void sl_http_print_error(const sl_http_t *h, const char *cmd, const char *context) {
    yajl_val doc = sl_http_json(h, NULL);
    yajl_val err = sl_json_get(doc, "error");
    const char *message = sl_json_str(err, "message");
    const char *code = sl_json_str(err, "code");

    fprintf(stderr, "%s: ", cmd);
    if (context) fprintf(stderr, "%s: ", context);
    if (message) {
        fprintf(stderr, "%s (%s, HTTP %ld)\n", message, code ? code : "no code", h->status);
    } else {
        /* Not sluice's error shape (a proxy?): show the start of whatever came back. */
        char shown[201];
        size_t n = 0;
        for (size_t i = 0; h->body.data && i < h->body.len && n < sizeof shown - 1; i++)
            shown[n++] = isprint((unsigned char)h->body.data[i]) ? h->body.data[i] : ' ';
        shown[n] = '\0';
        fprintf(stderr, "the server answered HTTP %ld%s%s\n", h->status, n ? ": " : "", shown);
    }
    if (doc) yajl_tree_free(doc);
}

char *sl_cli_escape(const char *segment) {
    char *e = curl_easy_escape(NULL, segment, 0);
    if (!e) sl_cli_oom();
    size_t n = strlen(e) + 1;
    char *copy = sl_cli_xrealloc(NULL, n);
    memcpy(copy, e, n);
    curl_free(e);
    return copy;
}

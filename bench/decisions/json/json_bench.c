/* json_bench: the JSON-library comparison behind docs/DECISIONS.md.
 *
 * Default mode generates N NDJSON events (~200 bytes, 8 top-level fields: strings, ints, a
 * bool, a nested object with a \u escape and raw UTF-8, an array) from a fixed seed, then, for
 * every variant, validates each line as one event (syntax, UTF-8, nesting depth <= 64, nothing
 * after the value) and, in a second pass, also extracts /user_id (string) and /ts (integer).
 * It prints one line per variant and pass: wall and thread-CPU seconds, MB/s and events/s
 * (from CPU time) and a checksum of the extracted fields (equal across variants when they agree). One round per process; run.sh runs
 * the rounds and keeps the best.
 *
 *   json_bench [-n EVENTS] [variant ...]   throughput (variants: see VARIANTS below)
 *   json_bench --checks                    error offsets (bad inputs) and raw spans of array elements
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* jansson and json-c export clashing symbols (json_object_get, json_object_iter_next, ...),
 * so they cannot share a process: the Makefile builds json_bench with HAVE_JANSSON and
 * HAVE_OTHERS (yajl, cJSON, simdjson) and json_bench_jsonc with HAVE_JSONC alone. */
#ifdef HAVE_JANSSON
#include <jansson.h>
#endif
#ifdef HAVE_JSONC
#include <json-c/json.h>
#endif
#ifdef HAVE_OTHERS
#include <cjson/cJSON.h>
#include <yajl/yajl_parse.h>
#include <yajl/yajl_tree.h>
#include <yajl/yajl_version.h>
#endif

#include "simdjson_shim.h"

#define MAX_DEPTH 64

typedef struct corpus {
    char *buf;       /* NDJSON, '\n'-separated, SJ_PADDING readable bytes past the end */
    char *nulbuf;    /* the same with every '\n' replaced by '\0' (for yajl_tree) */
    size_t len;
    size_t n;
    size_t *start;   /* line i is buf[start[i] .. start[i] + llen[i]) */
    uint32_t *llen;
} corpus_t;

typedef struct result {
    uint64_t checksum;  /* sum over events of ts + hash(user_id) when extracting */
    size_t errors;
} result_t;

/* ---------------------------------------------------------------------------------------- */
/* Corpus */

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint32_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 11);
}

static void corpus_make(corpus_t *c, size_t n)
{
    static const char *types[] = {"page_view", "click", "purchase", "signup", "logout"};
    static const char *cities[] = {"M\\u00fcnchen", "Z\xc3\xbcrich", "S\xc3\xa3o Paulo", "\xe6\x9d\xb1\xe4\xba\xac",
                                   "Berlin", "Krak\xc3\xb3w", "Paris", "Reykjav\\u00edk"};
    static const char *countries[] = {"DE", "CH", "BR", "JP", "DE", "PL", "FR", "IS"};
    static const char *tags[] = {"mobile", "desktop", "beta", "returning", "campaign-42", "organic"};
    size_t cap = n * 256 + SJ_PADDING;
    c->buf = malloc(cap);
    c->start = malloc(n * sizeof *c->start);
    c->llen = malloc(n * sizeof *c->llen);
    c->n = n;
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t city = rng() % 8, t1 = rng() % 6, t2 = rng() % 6;
        int len = snprintf(c->buf + off, cap - off,
                           "{\"user_id\":\"u-%08u\",\"ts\":%llu,\"type\":\"%s\",\"session\":\"%08x-%04x-%04x\","
                           "\"value\":%d,\"ok\":%s,\"geo\":{\"country\":\"%s\",\"city\":\"%s\",\"lat\":%d.%04u},"
                           "\"tags\":[\"%s\",\"%s\"]}",
                           rng() % 10000000u, 1732540800000ull + i * 7 + rng() % 7, types[rng() % 5], rng(),
                           rng() & 0xffff, rng() & 0xffff, (int)(rng() % 200000) - 100000, rng() & 1 ? "true" : "false",
                           countries[city], cities[city], (int)(rng() % 180) - 90, rng() % 10000, tags[t1], tags[t2]);
        c->start[i] = off;
        c->llen[i] = (uint32_t)len;
        off += (size_t)len;
        c->buf[off++] = '\n';
    }
    c->len = off;
    memset(c->buf + off, 0, SJ_PADDING);
    c->nulbuf = malloc(off + 1);
    memcpy(c->nulbuf, c->buf, off);
    for (size_t i = 0; i < off; i++)
        if (c->nulbuf[i] == '\n')
            c->nulbuf[i] = '\0';
    c->nulbuf[off] = '\0';
}

static uint64_t hash_str(const char *s, size_t len)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h;
}

#ifdef HAVE_OTHERS
/* ---------------------------------------------------------------------------------------- */
/* UTF-8 validation for cJSON, which does not check it: a plain scalar validator (RFC 3629:
 * no overlong forms, no surrogates, nothing above U+10FFFF) with an 8-bytes-at-a-time ASCII
 * skip. Returns the offset of the first bad byte, or len. */
static size_t utf8_check(const unsigned char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        if (i + 8 <= len) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            if (!(w & 0x8080808080808080ull)) {
                i += 8;
                continue;
            }
        }
        unsigned char b = s[i];
        if (b < 0x80) {
            i++;
            continue;
        }
        size_t n;
        unsigned char lo = 0x80, hi = 0xBF;
        if (b >= 0xC2 && b <= 0xDF)
            n = 1;
        else if (b >= 0xE0 && b <= 0xEF) {
            n = 2;
            if (b == 0xE0)
                lo = 0xA0;
            if (b == 0xED)
                hi = 0x9F;
        } else if (b >= 0xF0 && b <= 0xF4) {
            n = 3;
            if (b == 0xF0)
                lo = 0x90;
            if (b == 0xF4)
                hi = 0x8F;
        } else
            return i;
        if (i + n >= len)
            return i;
        if (s[i + 1] < lo || s[i + 1] > hi)
            return i;
        for (size_t k = 2; k <= n; k++)
            if ((s[i + k] & 0xC0) != 0x80)
                return i;
        i += n + 1;
    }
    return len;
}

/* ---------------------------------------------------------------------------------------- */
/* yajl, callback parser: one handle per event (yajl 2 has no reset). Depth is enforced by the
 * start callbacks returning 0 (the parse then ends with yajl_status_client_canceled). */

typedef struct ycb {
    int depth;
    int want;           /* 1: next depth-1 scalar is user_id, 2: is ts */
    uint64_t sum;
} ycb_t;

static int ycb_start(void *ctx)
{
    ycb_t *s = ctx;
    s->want = 0;
    return ++s->depth <= MAX_DEPTH;
}

static int ycb_end(void *ctx)
{
    ((ycb_t *)ctx)->depth--;
    return 1;
}

static int ycb_key(void *ctx, const unsigned char *k, size_t len)
{
    ycb_t *s = ctx;
    s->want = 0;
    if (s->depth == 1) {
        if (len == 7 && memcmp(k, "user_id", 7) == 0)
            s->want = 1;
        else if (len == 2 && memcmp(k, "ts", 2) == 0)
            s->want = 2;
    }
    return 1;
}

static int ycb_string(void *ctx, const unsigned char *v, size_t len)
{
    ycb_t *s = ctx;
    if (s->want == 1)
        s->sum += hash_str((const char *)v, len);
    s->want = 0;
    return 1;
}

static int ycb_number(void *ctx, const char *v, size_t len)
{
    ycb_t *s = ctx;
    if (s->want == 2) {
        int64_t x = 0;
        for (size_t i = 0; i < len && v[i] >= '0' && v[i] <= '9'; i++)
            x = x * 10 + (v[i] - '0');
        s->sum += (uint64_t)x;
    }
    s->want = 0;
    return 1;
}

static const yajl_callbacks ycb_validate = {
    .yajl_start_map = ycb_start, .yajl_end_map = ycb_end, .yajl_start_array = ycb_start, .yajl_end_array = ycb_end};
static const yajl_callbacks ycb_extract = {.yajl_number = ycb_number,
                                           .yajl_string = ycb_string,
                                           .yajl_start_map = ycb_start,
                                           .yajl_map_key = ycb_key,
                                           .yajl_end_map = ycb_end,
                                           .yajl_start_array = ycb_start,
                                           .yajl_end_array = ycb_end};

static void run_yajl_cb(const corpus_t *c, int extract, result_t *r)
{
    ycb_t st = {0, 0, 0};
    for (size_t i = 0; i < c->n; i++) {
        st.depth = 0;
        yajl_handle h = yajl_alloc(extract ? &ycb_extract : &ycb_validate, NULL, &st);
        if (yajl_parse(h, (const unsigned char *)c->buf + c->start[i], c->llen[i]) != yajl_status_ok ||
            yajl_complete_parse(h) != yajl_status_ok)
            r->errors++;
        yajl_free(h);
    }
    r->checksum = st.sum;
}

/* yajl's own check accepts overlong forms, UTF-16 surrogates and code points above U+10FFFF
 * (see --checks), so strict UTF-8 needs the same extra pass as cJSON. */
static void run_yajl_cb_utf8(const corpus_t *c, int extract, result_t *r)
{
    ycb_t st = {0, 0, 0};
    for (size_t i = 0; i < c->n; i++) {
        const unsigned char *line = (const unsigned char *)c->buf + c->start[i];
        if (utf8_check(line, c->llen[i]) != c->llen[i]) {
            r->errors++;
            continue;
        }
        st.depth = 0;
        yajl_handle h = yajl_alloc(extract ? &ycb_extract : &ycb_validate, NULL, &st);
        if (yajl_parse(h, line, c->llen[i]) != yajl_status_ok || yajl_complete_parse(h) != yajl_status_ok)
            r->errors++;
        yajl_free(h);
    }
    r->checksum = st.sum;
}

/* ---------------------------------------------------------------------------------------- */
/* Tree parsers: depth is checked by a walk after the parse where the library has no
 * run-time limit (yajl_tree, jansson: compile-time 2048, cJSON: compile-time 1000). */

static int ytree_depth_ok(yajl_val v, int depth)
{
    if (YAJL_IS_OBJECT(v) || YAJL_IS_ARRAY(v)) {
        if (++depth > MAX_DEPTH)
            return 0;
        size_t n = YAJL_IS_OBJECT(v) ? v->u.object.len : v->u.array.len;
        yajl_val *vals = YAJL_IS_OBJECT(v) ? v->u.object.values : v->u.array.values;
        for (size_t i = 0; i < n; i++)
            if (!ytree_depth_ok(vals[i], depth))
                return 0;
    }
    return 1;
}

static void run_yajl_tree(const corpus_t *c, int extract, result_t *r)
{
    static const char *p_uid[] = {"user_id", NULL}, *p_ts[] = {"ts", NULL};
    for (size_t i = 0; i < c->n; i++) {
        yajl_val v = yajl_tree_parse(c->nulbuf + c->start[i], NULL, 0);
        if (!v || !ytree_depth_ok(v, 0)) {
            r->errors++;
        } else if (extract) {
            yajl_val u = yajl_tree_get(v, p_uid, yajl_t_string), t = yajl_tree_get(v, p_ts, yajl_t_number);
            const char *uid = u ? YAJL_GET_STRING(u) : NULL;
            if (!uid || !t || !YAJL_IS_INTEGER(t))
                r->errors++;
            else
                r->checksum += hash_str(uid, strlen(uid)) + (uint64_t)YAJL_GET_INTEGER(t);
        }
        yajl_tree_free(v);
    }
}

#endif

#ifdef HAVE_JANSSON
static int jansson_depth_ok(json_t *v, int depth)
{
    if (json_is_object(v)) {
        if (++depth > MAX_DEPTH)
            return 0;
        const char *k;
        json_t *x;
        json_object_foreach(v, k, x) if (!jansson_depth_ok(x, depth)) return 0;
    } else if (json_is_array(v)) {
        if (++depth > MAX_DEPTH)
            return 0;
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) if (!jansson_depth_ok(x, depth)) return 0;
    }
    return 1;
}

static void run_jansson(const corpus_t *c, int extract, result_t *r)
{
    json_error_t err;
    for (size_t i = 0; i < c->n; i++) {
        json_t *v = json_loadb(c->buf + c->start[i], c->llen[i], JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
        if (!v || !jansson_depth_ok(v, 0)) {
            r->errors++;
        } else if (extract) {
            json_t *u = json_object_get(v, "user_id"), *t = json_object_get(v, "ts");
            if (!json_is_string(u) || !json_is_integer(t))
                r->errors++;
            else
                r->checksum += hash_str(json_string_value(u), json_string_length(u)) + (uint64_t)json_integer_value(t);
        }
        json_decref(v);
    }
}

#endif

#ifdef HAVE_JSONC
static void run_jsonc(const corpus_t *c, int extract, result_t *r)
{
    struct json_tokener *tok = json_tokener_new_ex(MAX_DEPTH + 1);
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    for (size_t i = 0; i < c->n; i++) {
        json_tokener_reset(tok);
        struct json_object *v = json_tokener_parse_ex(tok, c->buf + c->start[i], (int)c->llen[i]);
        if (!v || json_tokener_get_error(tok) != json_tokener_success || json_tokener_get_parse_end(tok) != c->llen[i]) {
            r->errors++;
        } else if (extract) {
            struct json_object *u, *t;
            if (json_pointer_get(v, "/user_id", &u) || json_pointer_get(v, "/ts", &t) ||
                !json_object_is_type(u, json_type_string) || !json_object_is_type(t, json_type_int))
                r->errors++;
            else
                r->checksum += hash_str(json_object_get_string(u), (size_t)json_object_get_string_len(u)) +
                               (uint64_t)json_object_get_int64(t);
        }
        json_object_put(v);
    }
    json_tokener_free(tok);
}

#endif

#ifdef HAVE_OTHERS
static int cjson_depth_ok(const cJSON *v, int depth)
{
    if (cJSON_IsObject(v) || cJSON_IsArray(v)) {
        if (++depth > MAX_DEPTH)
            return 0;
        for (const cJSON *x = v->child; x; x = x->next)
            if (!cjson_depth_ok(x, depth))
                return 0;
    }
    return 1;
}

static void run_cjson(const corpus_t *c, int extract, result_t *r)
{
    for (size_t i = 0; i < c->n; i++) {
        const char *line = c->buf + c->start[i], *end = NULL;
        if (utf8_check((const unsigned char *)line, c->llen[i]) != c->llen[i]) {
            r->errors++;
            continue;
        }
        cJSON *v = cJSON_ParseWithLengthOpts(line, c->llen[i], &end, 0);
        if (!v || end != line + c->llen[i] || !cjson_depth_ok(v, 0)) {
            r->errors++;
        } else if (extract) {
            const cJSON *u = cJSON_GetObjectItemCaseSensitive(v, "user_id"), *t = cJSON_GetObjectItemCaseSensitive(v, "ts");
            if (!cJSON_IsString(u) || !cJSON_IsNumber(t))
                r->errors++;
            else   /* cJSON keeps numbers as double: exact only up to 2^53 */
                r->checksum += hash_str(u->valuestring, strlen(u->valuestring)) + (uint64_t)(int64_t)t->valuedouble;
        }
        cJSON_Delete(v);
    }
}

/* ---------------------------------------------------------------------------------------- */
/* simdjson through the shim */

static sj_parser_t *sjp;

static void run_sj_dom(const corpus_t *c, int extract, result_t *r)
{
    sj_fields_t f;
    for (size_t i = 0; i < c->n; i++) {
        if (sj_dom_parse(sjp, c->buf + c->start[i], c->llen[i], extract ? &f : NULL))
            r->errors++;
        else if (extract)
            r->checksum += hash_str(f.user_id, f.user_id_len) + (uint64_t)f.ts;
    }
}

static void run_sj_od(const corpus_t *c, int extract, result_t *r)
{
    sj_fields_t f;
    long at;
    for (size_t i = 0; i < c->n; i++) {
        if (sj_od_parse(sjp, c->buf + c->start[i], c->llen[i], extract ? &f : NULL, &at))
            r->errors++;
        else if (extract)
            r->checksum += hash_str(f.user_id, f.user_id_len) + (uint64_t)f.ts;
    }
}

static void many_cb(void *ud, size_t offset, const char *raw, size_t raw_len, const sj_fields_t *f)
{
    result_t *r = ud;
    if (f)
        r->checksum += hash_str(f->user_id, f->user_id_len) + (uint64_t)f->ts;
}

static void run_sj_many(const corpus_t *c, int extract, result_t *r)
{
    size_t n;
    if (sj_dom_many(sjp, c->buf, c->len, extract, many_cb, r, &n) || n != c->n)
        r->errors += c->n - n;
}

#endif

/* ---------------------------------------------------------------------------------------- */

typedef struct variant {
    const char *name;
    void (*run)(const corpus_t *c, int extract, result_t *r);
} variant_t;

static const variant_t VARIANTS[] = {
#ifdef HAVE_OTHERS
    {"yajl-cb", run_yajl_cb},
    {"yajl-cb+utf8", run_yajl_cb_utf8},
    {"yajl-tree", run_yajl_tree},
#endif
#ifdef HAVE_JANSSON
    {"jansson", run_jansson},
#endif
#ifdef HAVE_JSONC
    {"json-c", run_jsonc},
#endif
#ifdef HAVE_OTHERS
    {"cjson+utf8", run_cjson},
    {"simdjson-dom", run_sj_dom},
    {"simdjson-ondemand", run_sj_od},
    {"simdjson-dom-parse_many", run_sj_many},
#endif
};
#define N_VARIANTS (sizeof VARIANTS / sizeof VARIANTS[0])

/* Wall time and this thread's CPU time: the machine is shared, and CPU time is much less
 * disturbed by other processes taking turns on the two cores than wall time is. */
static double now(clockid_t clk)
{
    struct timespec ts;
    clock_gettime(clk, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int checks(void);

int main(int argc, char **argv)
{
    size_t n = 1000000;
    int first = 1;
#ifdef HAVE_OTHERS
    sjp = sj_parser_new(MAX_DEPTH);
#endif
    if (argc > 1 && strcmp(argv[1], "--checks") == 0)
        return checks();
    if (argc > 2 && strcmp(argv[1], "-n") == 0) {
        n = (size_t)atol(argv[2]);
        first = 3;
    }
    corpus_t c;
    corpus_make(&c, n);
    printf("# %zu events, %.1f MB, %.1f bytes/event", c.n, (double)c.len / 1e6, (double)c.len / (double)c.n);
#ifdef HAVE_OTHERS
    printf("; yajl %d, cJSON %s, simdjson %s (DOM kernel %s, on-demand compiled for %s)", yajl_version(),
           cJSON_Version(), sj_version(), sj_implementation(), sj_builtin());
#endif
#ifdef HAVE_JANSSON
    printf("; jansson %s", JANSSON_VERSION);
#endif
#ifdef HAVE_JSONC
    printf("; json-c %s", json_c_version());
#endif
    printf("\n");
    printf("# variant mode wall_s cpu_s MB/s(cpu) events/s(cpu) checksum errors\n");
    for (size_t v = 0; v < N_VARIANTS; v++) {
        int wanted = first >= argc;
        for (int a = first; a < argc; a++)
            wanted |= strcmp(argv[a], VARIANTS[v].name) == 0;
        if (!wanted)
            continue;
        for (int extract = 0; extract <= 1; extract++) {
            result_t r = {0, 0};
            double w0 = now(CLOCK_MONOTONIC), c0 = now(CLOCK_THREAD_CPUTIME_ID);
            VARIANTS[v].run(&c, extract, &r);
            double cpu = now(CLOCK_THREAD_CPUTIME_ID) - c0, wall = now(CLOCK_MONOTONIC) - w0;
            printf("%s %s %.3f %.3f %.1f %.0f %016llx %zu\n", VARIANTS[v].name, extract ? "extract" : "validate",
                   wall, cpu, (double)c.len / 1e6 / cpu, (double)c.n / cpu, (unsigned long long)r.checksum, r.errors);
            fflush(stdout);
        }
    }
#ifdef HAVE_OTHERS
    sj_parser_free(sjp);
#endif
    return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* --checks: (c) where each library says an error is; (d) raw text spans of array elements. */

typedef struct bad {
    const char *name;
    const char *text;
    long expect;      /* byte offset of the fault; -2 = must be accepted */
} bad_t;

static char deep64[200], deep65[200], deep100[260];

static void deep(char *out, int n)
{
    memset(out, '[', (size_t)n);
    out[n] = '1';
    memset(out + n + 1, ']', (size_t)n);
    out[2 * n + 1] = 0;
}

static void print_err(const char *lib, const bad_t *b, int rejected, long at, const char *msg)
{
    const char *verdict;
    if (b->expect == -2)
        verdict = rejected ? "WRONGLY REJECTED" : "accepted (right)";
    else if (!rejected)
        verdict = "NOT DETECTED";
    else if (at < 0)
        verdict = "rejected, no offset";
    else
        verdict = at == b->expect ? "rejected, exact offset" : "rejected, offset near";
    char exp[24] = "—", rep[48] = "—";
    if (b->expect >= 0)
        snprintf(exp, sizeof exp, "%ld", b->expect);
    if (rejected && at >= 0 && b->expect >= 0 && at != b->expect)
        snprintf(rep, sizeof rep, "%ld (%+ld)", at, at - b->expect);
    else if (rejected && at >= 0)
        snprintf(rep, sizeof rep, "%ld", at);
    printf("| %s | %s | %s | %s | %s | %.100s |\n", lib, b->name, verdict, exp, rep, msg ? msg : "");
}

/* What each library can say about one bad input. */
static void check_one(const bad_t *b)
{
    const char *t = b->text;
    size_t len = strlen(t);
    char msg[256];
    char *padded = calloc(1, len + SJ_PADDING + 1);
    memcpy(padded, t, len);

#ifdef HAVE_OTHERS
    { /* yajl callbacks: yajl_get_bytes_consumed after the failing call */
        ycb_t st = {0, 0, 0};
        yajl_handle h = yajl_alloc(&ycb_validate, NULL, &st);
        yajl_status s = yajl_parse(h, (const unsigned char *)t, len);
        long at = -1;
        int at_end = 0;
        if (s == yajl_status_ok) {
            s = yajl_complete_parse(h);
            at_end = 1;
        }
        if (s != yajl_status_ok) {
            /* a failure in yajl_complete_parse is at the end of all the input fed so far */
            at = at_end ? (long)len : (long)yajl_get_bytes_consumed(h);
            unsigned char *e = yajl_get_error(h, 0, (const unsigned char *)t, len);
            snprintf(msg, sizeof msg, "%s=%ld: %s", at_end ? "complete_parse, input length" : "bytes_consumed", at, (char *)e);
            for (char *q = msg; *q; q++)
                if (*q == '\n')
                    *q = ' ';
            yajl_free_error(h, e);
        }
        print_err("yajl-cb", b, s != yajl_status_ok, at, s != yajl_status_ok ? msg : NULL);
        yajl_free(h);
    }
    { /* yajl_tree: a message only */
        char eb[256] = "";
        yajl_val v = yajl_tree_parse(t, eb, sizeof eb);
        int rej = !v || !ytree_depth_ok(v, 0);
        for (char *p = eb; *p; p++)
            if (*p == '\n' || *p == '|')
                *p = ' ';
        print_err("yajl-tree", b, rej, -1, !v ? eb : rej ? "(depth walk)" : NULL);
        yajl_tree_free(v);
    }
#endif
#ifdef HAVE_JANSSON
    { /* jansson: json_error_t.position / line / column */
        json_error_t e;
        json_t *v = json_loadb(t, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
        int rej = !v || !jansson_depth_ok(v, 0);
        snprintf(msg, sizeof msg, "position=%d line=%d column=%d: %s", e.position, e.line, e.column, e.text);
        print_err("jansson", b, rej, v ? -1 : e.position, !v ? msg : rej ? "(depth walk)" : NULL);
        json_decref(v);
    }
#endif
#ifdef HAVE_JSONC
    { /* json-c: json_tokener_get_parse_end */
        struct json_tokener *tok = json_tokener_new_ex(MAX_DEPTH + 1);
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
        struct json_object *v = json_tokener_parse_ex(tok, t, (int)len);
        enum json_tokener_error je = json_tokener_get_error(tok);
        long end = (long)json_tokener_get_parse_end(tok);
        int rej = !v || je != json_tokener_success || (size_t)end != len;
        snprintf(msg, sizeof msg, "parse_end=%ld: %s", end,
                 v && je == json_tokener_success ? "(value ends before the input does)" : json_tokener_error_desc(je));
        print_err("json-c", b, rej, rej ? end : -1, rej ? msg : NULL);
        json_object_put(v);
        json_tokener_free(tok);
    }
#endif
#ifdef HAVE_OTHERS
    { /* cJSON: return_parse_end (or cJSON_GetErrorPtr), plus our UTF-8 check */
        const char *end = NULL;
        size_t bad = utf8_check((const unsigned char *)t, len);
        cJSON *v = bad == len ? cJSON_ParseWithLengthOpts(t, len, &end, 0) : NULL;
        long at = bad != len ? (long)bad : !v ? (long)(cJSON_GetErrorPtr() - t) : end != t + len ? (long)(end - t) : -1;
        int rej = bad != len || !v || end != t + len || !cjson_depth_ok(v, 0);
        snprintf(msg, sizeof msg, "%s", bad != len ? "own UTF-8 check" : !v ? "cJSON_GetErrorPtr()" : end != t + len ? "return_parse_end" : "(depth walk)");
        print_err("cjson+utf8", b, rej, at, rej ? msg : NULL);
        cJSON_Delete(v);
    }
    { /* simdjson DOM: an error code, no position */
        int e = sj_dom_parse(sjp, padded, len, NULL);
        print_err("simdjson-dom", b, e != 0, -1, e ? sj_error_message(e) : NULL);
    }
    { /* simdjson on-demand: document::current_location() when the error happened after stage 1 */
        long at;
        int e = sj_od_parse(sjp, padded, len, NULL, &at);
        snprintf(msg, sizeof msg, "current_location=%ld: %s", at, e ? sj_error_message(e) : "");
        print_err("simdjson-ondemand", b, e != 0, at, e ? msg : NULL);
    }
#endif
    free(padded);
}

/* Raw spans of the elements of a top-level array. */
typedef struct spans {
    size_t n, s[16], e[16];
} spans_t;

static const char ARRAY[] = "[ {\"a\":[1,2],\"b\":\"x\"} ,\"s\\\"]\",  3.5e2,null ,[ {} ],true,-7]";
static const char *EXPECT[] = {"{\"a\":[1,2],\"b\":\"x\"}", "\"s\\\"]\"", "3.5e2", "null", "[ {} ]", "true", "-7"};
#define N_EXPECT 7

static void span_add(void *ud, size_t s, size_t e)
{
    spans_t *sp = ud;
    if (sp->n < 16) {
        sp->s[sp->n] = s;
        sp->e[sp->n] = e;
    }
    sp->n++;
}

static void span_report(const char *lib, const char *how, const spans_t *sp, int err)
{
    int ok = !err && sp->n == N_EXPECT;
    for (size_t i = 0; ok && i < sp->n; i++)
        ok = sp->e[i] - sp->s[i] == strlen(EXPECT[i]) && memcmp(ARRAY + sp->s[i], EXPECT[i], strlen(EXPECT[i])) == 0;
    printf("| %s | %s | %s |", lib, ok ? "yes, all 7 spans exact" : "NO", how);
    for (size_t i = 0; !ok && i < sp->n && i < 16; i++)
        printf(" `%.*s`", (int)(sp->e[i] - sp->s[i]), ARRAY + sp->s[i]);
    printf("\n");
}

#ifdef HAVE_OTHERS
/* yajl: inside a callback, yajl_get_bytes_consumed() is the offset just past the token
 * being reported (yajl advances it as it lexes), so each element's end is known when its
 * last token is reported; its start is the first non-blank after the previous ',' or '['. */
typedef struct yspan {
    yajl_handle h;
    int depth;
    size_t prev_end;
    spans_t *sp;
} yspan_t;

static size_t skip_sep(size_t i)
{
    while (ARRAY[i] == ' ' || ARRAY[i] == '\n' || ARRAY[i] == '\t' || ARRAY[i] == '\r' || ARRAY[i] == ',')
        i++;
    return i;
}

static void ys_element_end(yspan_t *y)
{
    size_t end = yajl_get_bytes_consumed(y->h);
    span_add(y->sp, skip_sep(y->prev_end), end);
    y->prev_end = end;
}

static int ys_start(void *ctx)
{
    yspan_t *y = ctx;
    if (++y->depth == 1)
        y->prev_end = yajl_get_bytes_consumed(y->h);
    return y->depth <= MAX_DEPTH;
}

static int ys_end(void *ctx)
{
    yspan_t *y = ctx;
    if (--y->depth == 1)
        ys_element_end(y);
    return 1;
}

static int ys_scalar(yspan_t *y)
{
    if (y->depth == 1)
        ys_element_end(y);
    return 1;
}
static int ys_null(void *ctx) { return ys_scalar(ctx); }
static int ys_bool(void *ctx, int b) { return ys_scalar(ctx); }
static int ys_num(void *ctx, const char *s, size_t l) { return ys_scalar(ctx); }
static int ys_str(void *ctx, const unsigned char *s, size_t l) { return ys_scalar(ctx); }

#endif

/* For the tree parsers that can report where one value ends: walk the array's separators by
 * hand and parse one element at a time. parse_one returns the bytes the value took, or -1. */
typedef long (*parse_one_fn)(const char *p, size_t len);

static int scan_array(parse_one_fn parse_one, spans_t *sp)
{
    size_t len = strlen(ARRAY), i = 0;
    while (ARRAY[i] == ' ')
        i++;
    if (ARRAY[i++] != '[')
        return -1;
    for (;;) {
        while (ARRAY[i] == ' ')
            i++;
        long n = parse_one(ARRAY + i, len - i);
        if (n <= 0)
            return -1;
        span_add(sp, i, i + (size_t)n);
        i += (size_t)n;
        while (ARRAY[i] == ' ')
            i++;
        if (ARRAY[i] == ']')
            return 0;
        if (ARRAY[i++] != ',')
            return -1;
    }
}

#ifdef HAVE_JANSSON
static long one_jansson(const char *p, size_t len)
{
    json_error_t e;
    json_t *v = json_loadb(p, len, JSON_DECODE_ANY | JSON_DISABLE_EOF_CHECK, &e);
    json_decref(v);
    return v ? e.position : -1;
}

#endif

#ifdef HAVE_JSONC
/* In strict mode json-c reads past the value and fails on what follows, so one element at a
 * time needs the lax mode (which also takes single quotes and other non-JSON). */
static long one_jsonc(const char *p, size_t len)
{
    struct json_tokener *tok = json_tokener_new_ex(MAX_DEPTH + 1);
    json_tokener_set_flags(tok, JSON_TOKENER_VALIDATE_UTF8);
    struct json_object *v = json_tokener_parse_ex(tok, p, (int)len);
    long n = json_tokener_get_error(tok) == json_tokener_success ? (long)json_tokener_get_parse_end(tok) : -1;
    while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\n' || p[n - 1] == '\t' || p[n - 1] == '\r'))
        n--;   /* json-c also eats the blanks after the value */
    json_object_put(v);
    json_tokener_free(tok);
    return n;
}

#endif

#ifdef HAVE_OTHERS
static long one_cjson(const char *p, size_t len)
{
    const char *end = NULL;
    cJSON *v = cJSON_ParseWithLengthOpts(p, len, &end, 0);
    cJSON_Delete(v);
    return v ? (long)(end - p) : -1;
}

#endif

static int checks(void)
{
    deep(deep64, 64);
    deep(deep65, 65);
    deep(deep100, 100);
    const bad_t bads[] = {
        {"truncated", "{\"user_id\":\"u-1\",\"ts\":17325", 27},
        {"bad UTF-8 byte", "{\"user_id\":\"u-\xff" "1\",\"ts\":1}", 14},
        {"overlong UTF-8 (C0 AF)", "{\"user_id\":\"u-\xc0\xaf\",\"ts\":1}", 14},
        {"deep 100", deep100, 64},
        {"deep 65", deep65, 64},
        {"deep 64 (legal)", deep64, -2},
        {"UTF-8 surrogate", "{\"user_id\":\"u-\xed\xa0\x80\",\"ts\":1}", 14},
        {"UTF-8 above U+10FFFF", "{\"user_id\":\"u-\xf4\x90\x80\x80\",\"ts\":1}", 14},
        {"trailing garbage", "{\"user_id\":\"u-1\",\"ts\":1} x", 25},
        {"bad literal", "{\"user_id\":\"u-1\",\"ok\":tru}", 25},
    };
    printf("## (c) errors: \"fault at\" = offset of the first byte that makes the input invalid (end of input when truncated); depth limit 64\n\n");
    printf("| library | input | verdict | fault at | reported | what it says |\n|---|---|---|---|---|---|\n");
    for (size_t i = 0; i < sizeof bads / sizeof bads[0]; i++)
        check_one(&bads[i]);

    printf("\n## (d) raw text span of each element of `%s`\n\n", ARRAY);
    printf("| library | spans | how |\n|---|---|---|\n");
#ifdef HAVE_OTHERS
    {
        spans_t sp = {0};
        yspan_t y = {NULL, 0, 0, &sp};
        yajl_callbacks cb = {.yajl_null = ys_null, .yajl_boolean = ys_bool, .yajl_number = ys_num,
                             .yajl_string = ys_str, .yajl_start_map = ys_start, .yajl_end_map = ys_end,
                             .yajl_start_array = ys_start, .yajl_end_array = ys_end};
        y.h = yajl_alloc(&cb, NULL, &y);
        int err = yajl_parse(y.h, (const unsigned char *)ARRAY, strlen(ARRAY)) != yajl_status_ok ||
                  yajl_complete_parse(y.h) != yajl_status_ok;
        yajl_free(y.h);
        span_report("yajl-cb", "yajl_get_bytes_consumed() inside callbacks, one pass", &sp, err);
    }
    printf("| yajl-tree | no | a tree without positions |\n");
#endif
#ifdef HAVE_JANSSON
    {
        spans_t sp = {0};
        span_report("jansson", "hand-walked separators + json_loadb(JSON_DISABLE_EOF_CHECK) per element, error.position",
                    &sp, scan_array(one_jansson, &sp));
    }
#endif
#ifdef HAVE_JSONC
    {
        spans_t sp = {0};
        span_report("json-c", "hand-walked separators + json_tokener_parse_ex per element (lax mode), get_parse_end less trailing blanks", &sp,
                    scan_array(one_jsonc, &sp));
    }
#endif
#ifdef HAVE_OTHERS
    {
        spans_t sp = {0};
        span_report("cjson", "hand-walked separators + cJSON_ParseWithLengthOpts per element, return_parse_end", &sp,
                    scan_array(one_cjson, &sp));
    }
    printf("| simdjson-dom | no | the tape keeps no source offsets (parse_many gives each NDJSON document's source(), not array elements) |\n");
    {
        spans_t sp = {0};
        size_t len = strlen(ARRAY);
        char *padded = calloc(1, len + SJ_PADDING);
        memcpy(padded, ARRAY, len);
        long at;
        int err = sj_od_array_spans(sjp, padded, len, span_add, &sp, &at);
        free(padded);
        span_report("simdjson-ondemand", "value::current_location() before and after a validating walk of each element",
                    &sp, err);
    }
#endif
    return 0;
}

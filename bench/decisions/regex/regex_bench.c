/* regex_bench: which regex engine runs SQL REGEXP_EXTRACT (docs/DECISIONS.md, "Regular
 * expressions"). Single thread; every timing is the thread's CPU time.
 *
 *   regex_bench --urls FILE [--n 1000000] [--rounds 3] [--bt-cap 10]
 *       FILE is nexmark-gen NDJSON (--kind bid); the "url" of the first N lines is matched
 *       against Nexmark q21's (&|^)channel_id=([^&]*) and group 2 extracted, by every engine,
 *       ROUNDS rounds interleaved; medians. Then ^(a+)+$ on "a"*n + "b" in a child process per
 *       engine, killed after BT-CAP seconds.
 *   regex_bench --checks CASES [--java RESULTS]
 *       CASES: one "pattern<TAB>subject<TAB>group" per line. Prints what each engine extracts;
 *       RESULTS (JavaRef's output, one line per case) adds java.util.regex's answer.
 *
 * Engines: glibc <regex.h> (REG_EXTENDED, REG_STARTEND) under the C and the C.UTF-8 locale;
 * PCRE2 8-bit interpreter and JIT, with the options src/exec/func.c uses (PCRE2_UTF |
 * PCRE2_MATCH_INVALID_UTF) and, for reference, without UTF. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#define PCRE2_CODE_UNIT_WIDTH 8
#include <errno.h>
#include <gnu/libc-version.h>
#include <locale.h>
#include <pcre2.h>
#include <poll.h>
#include <regex.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define Q21 "(&|^)channel_id=([^&]*)"
#define BT "^(a+)+$"
#define SLUICE_OPTS (PCRE2_UTF | PCRE2_MATCH_INVALID_UTF) /* as in src/exec/func.c */
#define MAXGROUPS 10

typedef enum { E_POSIX, E_PCRE2, E_PCRE2_JIT_FAST, E_PCRE2_JIT } kind_t;

typedef struct {
    const char *name;
    kind_t kind;
    const char *locale; /* posix: the locale regcomp/regexec run under */
    uint32_t opts;      /* pcre2 compile options */
    int nolimit;        /* pcre2: match and depth limits at the maximum, 64 MiB JIT stack */
    int url;            /* 1: in the URL table; 0: backtracking test only */
} variant_t;

static const variant_t VARIANTS[] = {
    {"posix, glibc, C locale", E_POSIX, "C", 0, 0, 1},
    {"posix, glibc, C.UTF-8 locale", E_POSIX, "C.UTF-8", 0, 0, 1},
    {"pcre2 interpreter (pcre2_match)", E_PCRE2, NULL, SLUICE_OPTS, 0, 1},
    {"pcre2 JIT (pcre2_jit_match)", E_PCRE2_JIT_FAST, NULL, SLUICE_OPTS, 0, 1},
    {"pcre2 JIT (pcre2_match)", E_PCRE2_JIT, NULL, SLUICE_OPTS, 0, 1},
    {"pcre2 interpreter, no UTF", E_PCRE2, NULL, 0, 0, 1},
    {"pcre2 JIT (pcre2_jit_match), no UTF", E_PCRE2_JIT_FAST, NULL, 0, 0, 1},
    {"pcre2 interpreter, match limit off", E_PCRE2, NULL, SLUICE_OPTS, 1, 0},
    {"pcre2 JIT, match limit off", E_PCRE2_JIT_FAST, NULL, SLUICE_OPTS, 1, 0},
};
#define NVARIANTS (sizeof(VARIANTS) / sizeof(VARIANTS[0]))

static void die(const char *fmt, const char *a) {
    fprintf(stderr, "regex_bench: ");
    fprintf(stderr, fmt, a);
    fputc('\n', stderr);
    exit(1);
}

static double cpu_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static double wall_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static void use_locale(const variant_t *v) {
    const char *want = v->kind == E_POSIX && v->locale ? v->locale : "C";
    if (!setlocale(LC_ALL, want)) die("locale %s is not available", want);
}

/* ---- one compiled regex ------------------------------------------------------------------- */

typedef struct {
    const variant_t *v;
    regex_t re;
    int have_re;
    regmatch_t pm[MAXGROUPS];
    pcre2_code *code;
    pcre2_match_data *md;
    pcre2_match_context *mc;
    pcre2_jit_stack *js;
    uint32_t ngroups;
} engine_t;

static void eng_free(engine_t *e) {
    if (e->have_re) regfree(&e->re);
    pcre2_match_data_free(e->md);
    pcre2_match_context_free(e->mc);
    pcre2_jit_stack_free(e->js);
    pcre2_code_free(e->code);
    memset(e, 0, sizeof(*e));
}

static int eng_compile(engine_t *e, const variant_t *v, const char *pat, char *err, size_t errlen) {
    memset(e, 0, sizeof(*e));
    e->v = v;
    if (v->kind == E_POSIX) {
        int rc = regcomp(&e->re, pat, REG_EXTENDED);
        if (rc) {
            regerror(rc, &e->re, err, errlen);
            return -1;
        }
        e->have_re = 1;
        e->ngroups = (uint32_t)e->re.re_nsub;
        if (e->ngroups >= MAXGROUPS) {
            snprintf(err, errlen, "more than %d groups", MAXGROUPS - 1);
            eng_free(e);
            return -1;
        }
        return 0;
    }
    int ec;
    PCRE2_SIZE off;
    e->code = pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED, v->opts, &ec, &off, NULL);
    if (!e->code) {
        PCRE2_UCHAR m[256];
        pcre2_get_error_message(ec, m, sizeof(m));
        snprintf(err, errlen, "at offset %zu: %.200s", (size_t)off, (const char *)m);
        return -1;
    }
    if (v->kind != E_PCRE2) {
        int rc = pcre2_jit_compile(e->code, PCRE2_JIT_COMPLETE);
        if (rc) {
            PCRE2_UCHAR m[256];
            pcre2_get_error_message(rc, m, sizeof(m));
            snprintf(err, errlen, "JIT: %.200s", (const char *)m);
            eng_free(e);
            return -1;
        }
    }
    e->md = pcre2_match_data_create_from_pattern(e->code, NULL);
    if (!e->md) die("%s", "out of memory");
    if (v->nolimit) {
        e->mc = pcre2_match_context_create(NULL);
        if (!e->mc) die("%s", "out of memory");
        pcre2_set_match_limit(e->mc, UINT32_MAX);
        pcre2_set_depth_limit(e->mc, UINT32_MAX);
        if (v->kind != E_PCRE2) {
            e->js = pcre2_jit_stack_create(32 * 1024, 64 << 20, NULL);
            if (!e->js) die("%s", "out of memory");
            pcre2_jit_stack_assign(e->mc, NULL, e->js);
        }
    }
    pcre2_pattern_info(e->code, PCRE2_INFO_CAPTURECOUNT, &e->ngroups);
    return 0;
}

/* 1: a match in which group g took part (*so, *eo); 0: no match, or g unset / beyond the
 * groups; < 0: the engine failed (a PCRE2 error code, or -1 for regexec). */
static inline int eng_match(engine_t *e, const char *s, size_t n, unsigned g, size_t *so, size_t *eo) {
    if (g > e->ngroups) return 0;
    if (e->v->kind == E_POSIX) {
        e->pm[0].rm_so = 0;
        e->pm[0].rm_eo = (regoff_t)n;
        int rc = regexec(&e->re, s, e->ngroups + 1, e->pm, REG_STARTEND);
        if (rc == REG_NOMATCH) return 0;
        if (rc) return -1;
        if (e->pm[g].rm_so < 0) return 0;
        *so = (size_t)e->pm[g].rm_so;
        *eo = (size_t)e->pm[g].rm_eo;
        return 1;
    }
    int rc = e->v->kind == E_PCRE2_JIT_FAST
                 ? pcre2_jit_match(e->code, (PCRE2_SPTR)s, n, 0, 0, e->md, e->mc)
                 : pcre2_match(e->code, (PCRE2_SPTR)s, n, 0, 0, e->md, e->mc);
    if (rc == PCRE2_ERROR_NOMATCH) return 0;
    if (rc < 0) return rc;
    if ((unsigned)rc <= g) return 0;
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(e->md);
    if (ov[2 * g] == PCRE2_UNSET) return 0;
    *so = ov[2 * g];
    *eo = ov[2 * g + 1];
    return 1;
}

static void eng_errmsg(const variant_t *v, int rc, char *buf, size_t len) {
    if (v->kind == E_POSIX) {
        snprintf(buf, len, "regexec failed");
        return;
    }
    PCRE2_UCHAR m[256];
    pcre2_get_error_message(rc, m, sizeof(m));
    snprintf(buf, len, "%.200s", (const char *)m);
}

/* ---- the URL corpus ------------------------------------------------------------------------ */

typedef struct {
    char *buf;      /* every url, NUL-terminated, back to back */
    size_t *off, *len;
    size_t n, bytes, with_channel_id;
} corpus_t;

static void load_urls(const char *path, size_t want, corpus_t *c) {
    FILE *f = fopen(path, "r");
    if (!f) die("cannot open %s", path);
    size_t cap = 96 * want + 4096, used = 0;
    c->buf = malloc(cap);
    c->off = malloc(want * sizeof(size_t));
    c->len = malloc(want * sizeof(size_t));
    if (!c->buf || !c->off || !c->len) die("%s", "out of memory");
    char *line = NULL;
    size_t lcap = 0;
    ssize_t ln;
    while (c->n < want && (ln = getline(&line, &lcap, f)) > 0) {
        char *p = strstr(line, "\"url\":\"");
        if (!p) continue;
        p += 7;
        char *q = strchr(p, '"');
        if (!q) die("unterminated url in: %s", line);
        if (memchr(p, '\\', (size_t)(q - p))) die("url with a JSON escape (not expected): %s", line);
        size_t n = (size_t)(q - p);
        if (used + n + 1 > cap) {
            cap = 2 * cap + n + 1;
            c->buf = realloc(c->buf, cap);
            if (!c->buf) die("%s", "out of memory");
        }
        memcpy(c->buf + used, p, n);
        c->buf[used + n] = 0;
        c->off[c->n] = used;
        c->len[c->n] = n;
        if (memmem(p, n, "channel_id=", 11)) c->with_channel_id++;
        c->n++;
        c->bytes += n;
        used += n + 1;
    }
    free(line);
    fclose(f);
    if (c->n < want) fprintf(stderr, "regex_bench: only %zu urls in %s (wanted %zu)\n", c->n, path, want);
    if (!c->n) die("no urls in %s", path);
}

static uint64_t fnv(uint64_t h, const void *p, size_t n) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 1099511628211ull;
    return h;
}
#define FNV0 14695981039346656037ull

typedef struct {
    size_t matches, errors;
    uint64_t sum;
    double cpu, wall, compile; /* ns for all the calls; ns per compile */
} urlres_t;

/* One pass: every url through the engine, group 2 into a checksum of (index, group text). */
static void run_urls(engine_t *e, const corpus_t *c, urlres_t *r) {
    uint64_t h = FNV0;
    size_t matches = 0, errors = 0, so = 0, eo = 0;
    double w0 = wall_ns(), t0 = cpu_ns();
    for (size_t i = 0; i < c->n; i++) {
        const char *s = c->buf + c->off[i];
        int rc = eng_match(e, s, c->len[i], 2, &so, &eo);
        if (rc > 0) {
            matches++;
            uint64_t idx = i;
            h = fnv(h, &idx, sizeof(idx));
            h = fnv(h, s + so, eo - so);
        } else if (rc < 0) {
            errors++;
        }
    }
    r->cpu = cpu_ns() - t0;
    r->wall = wall_ns() - w0;
    r->matches = matches;
    r->errors = errors;
    r->sum = h;
}

static double compile_time(const variant_t *v, const char *pat, int reps) {
    char err[256];
    engine_t e;
    double t0 = cpu_ns();
    for (int i = 0; i < reps; i++) {
        if (eng_compile(&e, v, pat, err, sizeof(err)) < 0) die("compile failed: %s", err);
        eng_free(&e);
    }
    return (cpu_ns() - t0) / reps;
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n) {
    double t[64];
    memcpy(t, v, (size_t)n * sizeof(double));
    qsort(t, (size_t)n, sizeof(double), cmp_d);
    return n % 2 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2;
}

static double minv(const double *v, int n) {
    double m = v[0];
    for (int i = 1; i < n; i++) m = v[i] < m ? v[i] : m;
    return m;
}

static double maxv(const double *v, int n) {
    double m = v[0];
    for (int i = 1; i < n; i++) m = v[i] > m ? v[i] : m;
    return m;
}

/* ---- backtracking: ^(a+)+$ on "a"*n + "b", in a child killed after a cap ------------------- */

static const int BT_N[] = {10, 14, 18, 20, 22, 24, 26, 28, 30, 100, 1000, 10000};
#define NBT (sizeof(BT_N) / sizeof(BT_N[0]))

static void bt_child(const variant_t *v, int fd) {
    FILE *f = fdopen(fd, "w");
    if (!f) _exit(2);
    setvbuf(f, NULL, _IOLBF, 0);
    use_locale(v);
    engine_t e;
    char err[256];
    if (eng_compile(&e, v, BT, err, sizeof(err)) < 0) {
        fprintf(f, "compile %s\n", err);
        _exit(0);
    }
    char *s = malloc(BT_N[NBT - 1] + 2);
    for (size_t k = 0; k < NBT; k++) {
        int n = BT_N[k];
        memset(s, 'a', (size_t)n);
        s[n] = 'b';
        s[n + 1] = 0;
        long reps = 0;
        int rc;
        size_t so, eo;
        double t0 = cpu_ns(), el;
        do {
            rc = eng_match(&e, s, (size_t)n + 1, 1, &so, &eo);
            reps++;
            el = cpu_ns() - t0;
        } while (el < 20e6 && reps < 1000000);
        fprintf(f, "%d %.1f %d\n", n, el / reps, rc);
    }
    _exit(0);
}

static void fmt_ns(double ns, char *buf, size_t len) {
    if (ns < 1e4) snprintf(buf, len, "%.0f ns", ns);
    else if (ns < 1e7) snprintf(buf, len, "%.1f µs", ns / 1e3);
    else if (ns < 1e10) snprintf(buf, len, "%.1f ms", ns / 1e6);
    else snprintf(buf, len, "%.1f s", ns / 1e9);
}

static void backtracking(double cap_s) {
    printf("\n### Backtracking: `%s` on \"a\"×n + \"b\" (no match), per call, cap %.0f s per engine\n\n", BT, cap_s);
    printf("| engine |");
    for (size_t k = 0; k < NBT; k++) printf(" n=%d |", BT_N[k]);
    printf(" verdict |\n|---|");
    for (size_t k = 0; k <= NBT; k++) printf("---|");
    printf("\n");
    fflush(stdout);
    for (size_t vi = 0; vi < NVARIANTS; vi++) {
        const variant_t *v = &VARIANTS[vi];
        if (strstr(v->name, "no UTF")) continue; /* UTF makes no difference on ASCII a's */
        int p[2];
        if (pipe(p) < 0) die("pipe: %s", strerror(errno));
        pid_t pid = fork();
        if (pid < 0) die("fork: %s", strerror(errno));
        if (pid == 0) {
            close(p[0]);
            bt_child(v, p[1]);
        }
        close(p[1]);
        double ns[NBT];
        int rcs[NBT], got = 0, killed = 0;
        char cerr[300] = "", acc[4096];
        size_t alen = 0;
        double deadline = wall_ns() + cap_s * 1e9;
        for (;;) {
            double left = (deadline - wall_ns()) / 1e6;
            if (left <= 0) {
                kill(pid, SIGKILL);
                killed = 1;
                break;
            }
            struct pollfd pf = {p[0], POLLIN, 0};
            int pr = poll(&pf, 1, (int)left + 1);
            if (pr < 0 && errno == EINTR) continue;
            if (pr <= 0) continue;
            ssize_t r = read(p[0], acc + alen, sizeof(acc) - 1 - alen);
            if (r <= 0) break;
            alen += (size_t)r;
            acc[alen] = 0;
            char *nl;
            while ((nl = strchr(acc, '\n'))) {
                *nl = 0;
                int n, rc;
                double t;
                if (!strncmp(acc, "compile ", 8)) snprintf(cerr, sizeof(cerr), "%.250s", acc + 8);
                else if (sscanf(acc, "%d %lf %d", &n, &t, &rc) == 3 && got < (int)NBT) {
                    ns[got] = t;
                    rcs[got] = rc;
                    got++;
                }
                size_t used = (size_t)(nl - acc) + 1;
                memmove(acc, nl + 1, alen - used + 1);
                alen -= used;
            }
        }
        close(p[0]);
        waitpid(pid, NULL, 0);
        printf("| %s |", v->name);
        if (cerr[0]) {
            printf(" compile error: %s |\n", cerr);
            continue;
        }
        int first_err = -1;
        for (size_t k = 0; k < NBT; k++) {
            char b[32];
            if ((int)k < got) {
                fmt_ns(ns[k], b, sizeof(b));
                if (rcs[k] < 0) {
                    if (first_err < 0) first_err = (int)k;
                    printf(" %s, error |", b);
                } else {
                    printf(" %s |", b);
                }
            } else if ((int)k == got && killed) {
                printf(" > %.0f s, killed |", cap_s);
            } else {
                printf(" – |");
            }
        }
        char verdict[512];
        if (killed) {
            snprintf(verdict, sizeof(verdict), "**blows up**: n=%d still running after the %.0f s cap",
                     BT_N[got], cap_s);
        } else if (first_err >= 0) {
            char m[256];
            eng_errmsg(v, rcs[first_err], m, sizeof(m));
            snprintf(verdict, sizeof(verdict),
                     "**blows up**, cut off from n=%d by the engine's limit (\"%.200s\"); the call "
                     "returns an error, not an answer", BT_N[first_err], m);
        } else {
            /* linear if 10x the input costs at most ~20x (n=1000 -> 10000) */
            double g1 = ns[NBT - 1] / ns[NBT - 2], g0 = ns[8] / ns[0];
            snprintf(verdict, sizeof(verdict), "%s: ×%.1f from n=10 to 30, ×%.1f from n=1000 to 10000",
                     g1 < 20 && g0 < 10 ? "**linear**" : "**superlinear**", g0, g1);
        }
        printf(" %s |\n", verdict);
        fflush(stdout);
    }
}

/* ---- functional checks --------------------------------------------------------------------- */

static void put_text(const char *s, size_t n) {
    /* valid UTF-8 as is; anything else as \xNN */
    putchar('"');
    for (size_t i = 0; i < n;) {
        unsigned char b = (unsigned char)s[i];
        size_t k = b < 0x80 ? 1 : (b & 0xE0) == 0xC0 ? 2 : (b & 0xF0) == 0xE0 ? 3 : (b & 0xF8) == 0xF0 ? 4 : 0;
        int ok = k > 0 && i + k <= n && (k < 2 || b >= 0xC2);
        for (size_t j = 1; ok && j < k; j++) ok = ((unsigned char)s[i + j] & 0xC0) == 0x80;
        if (ok && b >= 0x20 && b != '|') {
            fwrite(s + i, 1, k, stdout);
            i += k;
        } else {
            printf("\\x%02X", b);
            i++;
        }
    }
    putchar('"');
}

static void md_code(const char *s) {
    /* a markdown code span that survives | inside a table */
    putchar('`');
    for (; *s; s++) {
        if (*s == '|') fputs("\\|", stdout);
        else putchar(*s);
    }
    putchar('`');
}

static int checks(const char *cases, const char *java) {
    static const int CHECK_VARIANTS[] = {0, 1, 3};
    FILE *f = fopen(cases, "r"), *jf = java ? fopen(java, "r") : NULL;
    if (!f) die("cannot open %s", cases);
    if (java && !jf) die("cannot open %s", java);
    printf("| pattern | subject | group |");
    if (jf) printf(" java.util.regex (Flink) |");
    for (size_t k = 0; k < 3; k++) printf(" %s |", VARIANTS[CHECK_VARIANTS[k]].name);
    printf("\n|---|---|---|%s---|---|---|\n", jf ? "---|" : "");
    char *line = NULL, *jl = NULL;
    size_t cap = 0, jcap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, f)) > 0) {
        if (line[n - 1] == '\n') line[--n] = 0;
        if (!n || line[0] == '#') continue;
        char *t1 = strchr(line, '\t'), *t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
        if (!t2) die("bad case line: %s", line);
        *t1 = *t2 = 0;
        const char *pat = line, *subj = t1 + 1;
        unsigned g = (unsigned)atoi(t2 + 1);
        printf("| ");
        md_code(pat);
        printf(" | ");
        put_text(subj, strlen(subj));
        printf(" | %u |", g);
        if (jf) {
            ssize_t jn = getline(&jl, &jcap, jf);
            if (jn <= 0) die("%s has fewer lines than the cases", java);
            if (jl[jn - 1] == '\n') jl[--jn] = 0;
            printf(" %s |", jl);
        }
        for (size_t k = 0; k < 3; k++) {
            const variant_t *v = &VARIANTS[CHECK_VARIANTS[k]];
            engine_t e;
            char err[256];
            use_locale(v);
            if (eng_compile(&e, v, pat, err, sizeof(err)) < 0) {
                printf(" error: %s |", err);
                continue;
            }
            size_t so = 0, eo = 0;
            int rc = eng_match(&e, subj, strlen(subj), g, &so, &eo);
            if (rc > 0) {
                putchar(' ');
                put_text(subj + so, eo - so);
                printf(" |");
            } else if (rc == 0) {
                printf(" NULL |");
            } else {
                char m[256];
                eng_errmsg(v, rc, m, sizeof(m));
                printf(" match error: %s |", m);
            }
            eng_free(&e);
        }
        printf("\n");
    }
    use_locale(&VARIANTS[0]);
    free(line);
    free(jl);
    fclose(f);
    if (jf) fclose(jf);
    return 0;
}

/* ---- main ---------------------------------------------------------------------------------- */

int main(int argc, char **argv) {
    const char *urls = NULL, *cases = NULL, *java = NULL;
    size_t want = 1000000;
    int rounds = 3;
    double cap = 10;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--urls") && i + 1 < argc) urls = argv[++i];
        else if (!strcmp(argv[i], "--n") && i + 1 < argc) want = strtoul(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--rounds") && i + 1 < argc) rounds = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--bt-cap") && i + 1 < argc) cap = atof(argv[++i]);
        else if (!strcmp(argv[i], "--checks") && i + 1 < argc) cases = argv[++i];
        else if (!strcmp(argv[i], "--java") && i + 1 < argc) java = argv[++i];
        else {
            fprintf(stderr, "usage: regex_bench --urls FILE [--n N] [--rounds R] [--bt-cap SECONDS]\n"
                            "       regex_bench --checks CASES [--java RESULTS]\n");
            return 2;
        }
    }
    if (cases) return checks(cases, java);
    if (!urls || rounds < 1 || rounds > 64 || !want) {
        fprintf(stderr, "regex_bench: --urls FILE is required (rounds 1..64, n > 0)\n");
        return 2;
    }

    char ver[64] = "", jit[64] = "";
    pcre2_config(PCRE2_CONFIG_VERSION, ver);
    if (pcre2_config(PCRE2_CONFIG_JITTARGET, jit) < 0) snprintf(jit, sizeof(jit), "none");
    corpus_t c = {0};
    load_urls(urls, want, &c);
    printf("## regex_bench\n\nglibc %s, PCRE2 %s (JIT: %s); %zu urls, %.1f MB, %.1f bytes average, "
           "%zu (%.1f %%) contain \"channel_id=\"; pattern `%s`, group 2; %d rounds, engines "
           "interleaved; thread CPU time\n\n",
           gnu_get_libc_version(), ver, jit, c.n, c.bytes / 1e6, (double)c.bytes / c.n,
           c.with_channel_id, 100.0 * c.with_channel_id / c.n, Q21, rounds);

    size_t nv = 0;
    for (size_t v = 0; v < NVARIANTS; v++) nv += VARIANTS[v].url;
    urlres_t(*res)[64] = calloc(nv, sizeof(*res));
    if (!res) die("%s", "out of memory");
    printf("raw rounds (ns per call, thread CPU / wall):\n\n```\n");
    for (int r = 0; r < rounds; r++) {
        for (size_t vi = 0, k = 0; vi < NVARIANTS; vi++) {
            const variant_t *v = &VARIANTS[vi];
            if (!v->url) continue;
            use_locale(v);
            engine_t e;
            char err[256];
            urlres_t *x = &res[k++][r];
            x->compile = compile_time(v, Q21, 2000);
            if (eng_compile(&e, v, Q21, err, sizeof(err)) < 0) die("compile failed: %s", err);
            run_urls(&e, &c, x);
            eng_free(&e);
            printf("round %d  %-38s %8.1f / %8.1f  matches %zu  errors %zu  sum %016llx\n", r + 1,
                   v->name, x->cpu / c.n, x->wall / c.n, x->matches, x->errors,
                   (unsigned long long)x->sum);
            fflush(stdout);
        }
    }
    use_locale(&VARIANTS[0]);
    printf("```\n\n### Nexmark q21 extraction (medians of %d rounds)\n\n", rounds);
    printf("| engine | matches | checksum | ns per call (min–max) | MB/s | compile µs |\n"
           "|---|---|---|---|---|---|\n");
    int agree = 1;
    for (size_t vi = 0, k = 0; vi < NVARIANTS; vi++) {
        const variant_t *v = &VARIANTS[vi];
        if (!v->url) continue;
        double ns[64], mbs[64], comp[64];
        for (int r = 0; r < rounds; r++) {
            ns[r] = res[k][r].cpu / c.n;
            mbs[r] = c.bytes / (res[k][r].cpu / 1e9) / 1e6;
            comp[r] = res[k][r].compile / 1e3;
            if (res[k][r].matches != res[0][0].matches || res[k][r].sum != res[0][0].sum ||
                res[k][r].errors)
                agree = 0;
        }
        printf("| %s | %zu | %016llx | %.0f (%.0f–%.0f) | %.0f | %.1f |\n", v->name, res[k][0].matches,
               (unsigned long long)res[k][0].sum, median(ns, rounds), minv(ns, rounds),
               maxv(ns, rounds), median(mbs, rounds), median(comp, rounds));
        k++;
    }
    printf("\nextractions agree between engines and rounds (count and checksum, no errors): %s\n",
           agree ? "yes" : "**NO**");
    fflush(stdout);
    backtracking(cap);
    free(res);
    free(c.buf);
    free(c.off);
    free(c.len);
    return agree ? 0 : 1;
}

/* nexmark-gen: writes Nexmark events (nexmark.c) as NDJSON, one event per line, to stdout or to
 * one file per kind, and measures how fast the generator runs (--bench). The event numbers
 * [--first, --first + --events) are generated; --kind keeps one kind of them (bids by default),
 * so `--events 50000 --kind bid` writes the 46,000 bids among the first 50,000 events. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "nexmark.h"

#define OUT_BUF_BYTES (1 << 20)
#define JSON_CAP 16384 /* per event, >= nx_event_json_bound() under the default configuration */
#define BENCH_DEFAULT_EVENTS 10000000ULL

typedef enum { KIND_BID, KIND_PERSON, KIND_AUCTION, KIND_ALL } kind_opt_t;

typedef struct opts {
    uint64_t events, first;
    kind_opt_t kind;
    int rate_check, bench, events_set;
    const char *split_dir;
} opts_t;

/* A buffered writer on a file descriptor: one write(2) per megabyte. */
typedef struct out {
    int fd;
    const char *name;
    char *buf;
    size_t len;
    uint64_t bytes, lines;
} out_t;

static void usage(FILE *f) {
    fprintf(f,
            "usage: nexmark-gen [--events N] [--first N] [--kind bid|person|auction|all]\n"
            "                   [--format ndjson] [--split-by-kind DIR] [--rate-check] [--bench]\n"
            "  --events N          event numbers to generate (default 100000; --bench 10000000)\n"
            "  --first N           first event number (default 0)\n"
            "  --kind K            write only events of kind K (default bid); with 'all' each line\n"
            "                      starts with \"type\":\"person\"|\"auction\"|\"bid\"\n"
            "  --format ndjson     the only format: one JSON object per line\n"
            "  --split-by-kind DIR write every kind, to DIR/person.ndjson, DIR/auction.ndjson\n"
            "                      and DIR/bid.ndjson (--kind is then ignored)\n"
            "  --rate-check        print events/s and MB/s achieved to stderr at the end\n"
            "  --bench             measure generation on one core (typed, then JSON); no output\n");
}

static int parse_u64(const char *opt, const char *s, uint64_t *v) {
    char *end;
    errno = 0;
    unsigned long long x = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-') {
        fprintf(stderr, "nexmark-gen: %s wants a non-negative integer, got '%s'\n", opt, s);
        return -1;
    }
    *v = x;
    return 0;
}

static int parse_args(int argc, char **argv, opts_t *o) {
    *o = (opts_t){.events = 100000, .kind = KIND_BID};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            exit(0);
        } else if (!strcmp(a, "--rate-check")) {
            o->rate_check = 1;
        } else if (!strcmp(a, "--bench")) {
            o->bench = 1;
        } else if (!val) {
            fprintf(stderr, "nexmark-gen: unknown option or missing value: %s\n", a);
            usage(stderr);
            return -1;
        } else if (!strcmp(a, "--events")) {
            if (parse_u64(a, val, &o->events)) return -1;
            o->events_set = 1;
            i++;
        } else if (!strcmp(a, "--first")) {
            if (parse_u64(a, val, &o->first)) return -1;
            i++;
        } else if (!strcmp(a, "--kind")) {
            if (!strcmp(val, "bid")) o->kind = KIND_BID;
            else if (!strcmp(val, "person")) o->kind = KIND_PERSON;
            else if (!strcmp(val, "auction")) o->kind = KIND_AUCTION;
            else if (!strcmp(val, "all")) o->kind = KIND_ALL;
            else {
                fprintf(stderr, "nexmark-gen: --kind is bid, person, auction or all, not '%s'\n",
                        val);
                return -1;
            }
            i++;
        } else if (!strcmp(a, "--format")) {
            if (strcmp(val, "ndjson")) {
                fprintf(stderr, "nexmark-gen: the only --format is ndjson, not '%s'\n", val);
                return -1;
            }
            i++;
        } else if (!strcmp(a, "--split-by-kind")) {
            o->split_dir = val;
            i++;
        } else {
            fprintf(stderr, "nexmark-gen: unknown option: %s\n", a);
            usage(stderr);
            return -1;
        }
    }
    if (o->first > (uint64_t)INT64_MAX / 4 || o->events > (uint64_t)INT64_MAX / 4) {
        fprintf(stderr, "nexmark-gen: --first and --events must stay below 2^61\n");
        return -1;
    }
    return 0;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int out_flush(out_t *o) {
    size_t off = 0;
    while (off < o->len) {
        ssize_t n = write(o->fd, o->buf + off, o->len - off);
        if (n < 0) {
            if (errno == EINTR) continue;
            fprintf(stderr, "nexmark-gen: writing %s: %s\n", o->name, strerror(errno));
            return -1;
        }
        off += (size_t)n;
    }
    o->len = 0;
    return 0;
}

static int out_open(out_t *o, int fd, const char *name) {
    *o = (out_t){.fd = fd, .name = name, .buf = malloc(OUT_BUF_BYTES)};
    if (!o->buf) {
        fprintf(stderr, "nexmark-gen: out of memory\n");
        return -1;
    }
    return 0;
}

/* Appends one event and a newline; flushes first when the buffer cannot take a worst case. */
static int out_event(out_t *o, const nx_event_t *ev, int typed) {
    if (OUT_BUF_BYTES - o->len < JSON_CAP + 1 && out_flush(o)) return -1;
    size_t n = typed ? nx_event_json_typed(ev, o->buf + o->len, JSON_CAP)
                     : nx_event_json(ev, o->buf + o->len, JSON_CAP);
    if (n == 0) {
        fprintf(stderr, "nexmark-gen: an event's JSON does not fit in %d bytes\n", JSON_CAP);
        return -1;
    }
    o->buf[o->len + n] = '\n';
    o->len += n + 1;
    o->bytes += n + 1;
    o->lines++;
    return 0;
}

static int want(kind_opt_t k, nx_kind_t kind) {
    switch (k) {
    case KIND_BID: return kind == NX_BID;
    case KIND_PERSON: return kind == NX_PERSON;
    case KIND_AUCTION: return kind == NX_AUCTION;
    case KIND_ALL: return 1;
    }
    return 0;
}

static int generate(const nx_config_t *cfg, const opts_t *o) {
    static const char *const file[3] = {"person.ndjson", "auction.ndjson", "bid.ndjson"};
    char paths[3][4096];
    out_t outs[3];
    int nout = o->split_dir ? 3 : 1, rc = -1, opened = 0;
    char scratch[NX_SCRATCH_BYTES];

    if (o->split_dir) {
        if (mkdir(o->split_dir, 0777) && errno != EEXIST) {
            fprintf(stderr, "nexmark-gen: mkdir %s: %s\n", o->split_dir, strerror(errno));
            return -1;
        }
        for (int k = 0; k < 3; k++) {
            snprintf(paths[k], sizeof(paths[k]), "%s/%s", o->split_dir, file[k]);
            int fd = open(paths[k], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
            if (fd < 0) {
                fprintf(stderr, "nexmark-gen: open %s: %s\n", paths[k], strerror(errno));
                goto done;
            }
            if (out_open(&outs[k], fd, paths[k])) {
                close(fd);
                goto done;
            }
            opened++;
        }
    } else {
        if (out_open(&outs[0], STDOUT_FILENO, "stdout")) return -1;
        opened = 1;
    }

    double t0 = now_s();
    for (uint64_t n = o->first; n < o->first + o->events; n++) {
        nx_kind_t kind = nx_kind_at(cfg, n);
        if (!o->split_dir && !want(o->kind, kind)) continue;
        nx_event_t ev;
        if (nx_event_at(cfg, n, &ev, scratch, sizeof(scratch))) {
            fprintf(stderr, "nexmark-gen: scratch too small for event %" PRIu64 "\n", n);
            goto done;
        }
        out_t *w = o->split_dir ? &outs[kind] : &outs[0];
        if (out_event(w, &ev, !o->split_dir && o->kind == KIND_ALL)) goto done;
    }
    for (int k = 0; k < nout; k++)
        if (out_flush(&outs[k])) goto done;
    double dt = now_s() - t0;
    if (o->rate_check) {
        uint64_t lines = 0, bytes = 0;
        for (int k = 0; k < nout; k++) {
            lines += outs[k].lines;
            bytes += outs[k].bytes;
        }
        fprintf(stderr,
                "nexmark-gen: %" PRIu64 " events written (%" PRIu64 " bytes) in %.3f s: "
                "%.0f events/s, %.1f MB/s\n",
                lines, bytes, dt, dt > 0 ? (double)lines / dt : 0.0,
                dt > 0 ? (double)bytes / dt / 1e6 : 0.0);
    }
    rc = 0;
done:
    for (int k = 0; k < opened; k++) {
        if (o->split_dir && close(outs[k].fd) && rc == 0) {
            fprintf(stderr, "nexmark-gen: close %s: %s\n", outs[k].name, strerror(errno));
            rc = -1;
        }
        free(outs[k].buf);
    }
    return rc;
}

/* ---- --bench ---------------------------------------------------------------------------- */

typedef struct bench_result {
    uint64_t events;
    uint64_t bytes;
    uint64_t sink; /* folded from every event so the compiler cannot drop the work */
    double seconds;
} bench_result_t;

static bench_result_t bench_run(const nx_config_t *cfg, uint64_t first, uint64_t count,
                                int bids_only, int json) {
    static char buf[JSON_CAP];
    char scratch[NX_SCRATCH_BYTES];
    bench_result_t r = {0};
    double t0 = now_s();
    for (uint64_t n = first; n < first + count; n++) {
        if (bids_only && nx_kind_at(cfg, n) != NX_BID) continue;
        nx_event_t ev;
        nx_event_at(cfg, n, &ev, scratch, sizeof(scratch));
        r.events++;
        if (json) {
            size_t len = nx_event_json(&ev, buf, sizeof(buf));
            r.bytes += len;
            r.sink += (unsigned char)buf[len / 2];
        } else if (ev.kind == NX_BID) {
            r.sink += (uint64_t)ev.bid.price + ev.bid.extra_len + (unsigned char)ev.bid.url[30];
        } else {
            r.sink += ev.kind == NX_PERSON ? ev.person.extra_len : ev.auction.extra_len;
        }
    }
    r.seconds = now_s() - t0;
    return r;
}

static void bench_print(const char *what, bench_result_t r) {
    double rate = r.seconds > 0 ? (double)r.events / r.seconds : 0;
    printf("%-24s %12" PRIu64 " events  %7.3f s  %10.0f events/s  %6.1f ns/event", what,
           r.events, r.seconds, rate, r.events ? r.seconds * 1e9 / (double)r.events : 0.0);
    if (r.bytes)
        printf("  %7.1f MB/s  %5.1f B/event", (double)r.bytes / r.seconds / 1e6,
               (double)r.bytes / (double)r.events);
    printf("  (sink %" PRIu64 ")\n", r.sink % 10);
}

static void bench(const nx_config_t *cfg, const opts_t *o) {
    uint64_t count = o->events_set ? o->events : BENCH_DEFAULT_EVENTS;
    printf("nexmark-gen --bench: event numbers [%" PRIu64 ", %" PRIu64 "), one thread\n",
           o->first, o->first + count);
    bench_print("typed, all kinds", bench_run(cfg, o->first, count, 0, 0));
    bench_print("typed, bids only", bench_run(cfg, o->first, count, 1, 0));
    bench_print("typed+JSON, all kinds", bench_run(cfg, o->first, count, 0, 1));
    bench_print("typed+JSON, bids only", bench_run(cfg, o->first, count, 1, 1));
}

int main(int argc, char **argv) {
    opts_t o;
    if (parse_args(argc, argv, &o)) return 2;
    nx_config_t cfg;
    nx_config_defaults(&cfg);
    cfg.events = o.events;
    if (nx_scratch_size(&cfg) > NX_SCRATCH_BYTES) {
        fprintf(stderr, "nexmark-gen: configuration needs %zu scratch bytes\n",
                nx_scratch_size(&cfg));
        return 1;
    }
    if (o.bench) {
        bench(&cfg, &o);
        return 0;
    }
    return generate(&cfg, &o) ? 1 : 0;
}

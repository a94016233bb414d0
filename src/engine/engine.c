/* The engine: a data directory of topics, each a set of partition logs, on one libuv loop.
 * Topic lifecycle and metadata, the produce path (partitioning, one batch per partition per
 * request, atomic rollback, acknowledgement once durable), the fetch path, and shutdown.
 *
 *   <data>/topics/<name>/topic.conf      the topic's settings (key=value lines)
 *   <data>/topics/<name>/<partition>/    the partition's segments
 *   <data>/groups/offsets/               committed group offsets, itself a log (group.c)
 *   <data>/tmp/                          topics being created or deleted (renamed in or out)
 *   <data>/clean_shutdown                present only between a clean close and the next open */
#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/hash.h"
#include "core/log.h"
#include "engine/internal.h"

#define MAX_BATCH_BYTES (8u << 20) /* split a partition's share of a request above this */

void sl_engine_config_defaults(sl_engine_config_t *cfg) {
    memset(cfg, 0, sizeof(*cfg));
    cfg->data_dir = "./data";
    cfg->fsync = SL_FSYNC_ALWAYS;
    cfg->fsync_interval_ms = 1000;
    cfg->segment_bytes = 128u << 20;
    cfg->segment_ms = 7ull * 24 * 3600 * 1000;
    cfg->retention_check_ms = 1000;
    cfg->session_check_ms = 200;
    cfg->offsets_compact_bytes = 64u << 20;
}

/* ---- small file helpers --------------------------------------------------------------------- */

static char *path_join(const char *a, const char *b) {
    size_t n = strlen(a) + strlen(b) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s", a, b);
    return p;
}

static int fsync_dir(const char *dir) {
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return -SL_EIO;
    int rc = fsync(fd) ? -SL_EIO : 0;
    close(fd);
    return rc;
}

static int rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb;
    (void)flag;
    (void)ftw;
    if (remove(path)) sl_warn("remove %s: %s", path, strerror(errno));
    return 0;
}

static void rm_rf(const char *path) { nftw(path, rm_cb, 16, FTW_DEPTH | FTW_PHYS); }

/* Creates dir and, if needed, its parents. */
static int mkdir_p(const char *dir) {
    if (mkdir(dir, 0755) == 0 || errno == EEXIST) return 0;
    if (errno == ENOENT) {
        char *parent = strdup(dir);
        char *slash = parent ? strrchr(parent, '/') : NULL;
        if (slash && slash != parent) {
            *slash = 0;
            int rc = mkdir_p(parent);
            free(parent);
            if (rc) return rc;
            if (mkdir(dir, 0755) == 0 || errno == EEXIST) return 0;
        } else {
            free(parent);
        }
    }
    sl_error("mkdir %s: %s", dir, strerror(errno));
    return errno == ENOSPC ? -SL_ENOSPC : -SL_EIO;
}

/* ---- topic metadata ------------------------------------------------------------------------- */

void sl_topic_config_init(sl_topic_config_t *cfg, const char *name) {
    memset(cfg, 0, sizeof(*cfg));
    if (name) snprintf(cfg->name, sizeof(cfg->name), "%s", name);
    cfg->partitions = 1;
    cfg->retention_ms = -1;
    cfg->retention_bytes = -1;
}

int sl_name_valid(const char *s) {
    size_t n = strnlen(s, SL_TOPIC_NAME_MAX + 1);
    if (n == 0 || n > SL_TOPIC_NAME_MAX) return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

int sl_topic_config_check(const sl_topic_config_t *cfg, const char **why) {
    const char *w = NULL;
    size_t n = strnlen(cfg->name, sizeof(cfg->name));
    if (n == 0 || n > SL_TOPIC_NAME_MAX) w = "name must be 1 to 249 characters";
    else if (!sl_name_valid(cfg->name)) w = "name may hold only the characters [a-zA-Z0-9._-]";
    if (!w && (strcmp(cfg->name, ".") == 0 || strcmp(cfg->name, "..") == 0))
        w = "name may not be \".\" or \"..\"";
    if (!w && (cfg->partitions < 1 || cfg->partitions > SL_PARTITIONS_MAX))
        w = "partitions must be from 1 to 4096";
    if (!w && (cfg->key[0] && cfg->key[0] != '/')) w = "key must be a JSON Pointer such as \"/user_id\"";
    if (!w && (cfg->timestamp[0] && cfg->timestamp[0] != '/'))
        w = "timestamp must be a JSON Pointer such as \"/ts\"";
    if (!w && cfg->retention_ms < -1) w = "retention_ms must be -1 (keep) or more";
    if (!w && cfg->retention_bytes < -1) w = "retention_bytes must be -1 (keep) or more";
    if (!w && cfg->segment_bytes && (cfg->segment_bytes < 1024 || cfg->segment_bytes > (1ull << 32) - 1))
        w = "segment_bytes must be from 1024 to 4294967295";
    if (why) *why = w;
    return w ? -SL_EINVAL : 0;
}

static int topic_conf_write(const char *dir, const sl_topic_config_t *c) {
    char *path = path_join(dir, "topic.conf");
    if (!path) return -SL_ENOMEM;
    int rc = 0;
    FILE *f = fopen(path, "w");
    if (!f) {
        rc = errno == ENOSPC ? -SL_ENOSPC : -SL_EIO;
        goto out;
    }
    fprintf(f,
            "name=%s\npartitions=%u\nkey=%s\ntimestamp=%s\nretention_ms=%" PRId64
            "\nretention_bytes=%" PRId64 "\nsegment_bytes=%" PRIu64 "\nsegment_ms=%" PRIu64
            "\ncreated_ms=%" PRId64 "\n",
            c->name, c->partitions, c->key, c->timestamp, c->retention_ms, c->retention_bytes,
            c->segment_bytes, c->segment_ms, c->created_ms);
    if (fflush(f) || fdatasync(fileno(f))) rc = errno == ENOSPC ? -SL_ENOSPC : -SL_EIO;
    if (fclose(f) && !rc) rc = -SL_EIO;
out:
    free(path);
    return rc;
}

static int topic_conf_read(const char *dir, sl_topic_config_t *c) {
    char *path = path_join(dir, "topic.conf");
    if (!path) return -SL_ENOMEM;
    FILE *f = fopen(path, "r");
    free(path);
    if (!f) return -SL_EIO;
    sl_topic_config_init(c, NULL);
    char line[SL_POINTER_MAX + 64];
    while (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\n")] = 0;
        char *eq = strchr(line, '=');
        if (!eq) continue;
        *eq = 0;
        const char *k = line, *v = eq + 1;
        if (!strcmp(k, "name")) snprintf(c->name, sizeof(c->name), "%s", v);
        else if (!strcmp(k, "partitions")) c->partitions = (uint32_t)strtoul(v, NULL, 10);
        else if (!strcmp(k, "key")) snprintf(c->key, sizeof(c->key), "%s", v);
        else if (!strcmp(k, "timestamp")) snprintf(c->timestamp, sizeof(c->timestamp), "%s", v);
        else if (!strcmp(k, "retention_ms")) c->retention_ms = strtoll(v, NULL, 10);
        else if (!strcmp(k, "retention_bytes")) c->retention_bytes = strtoll(v, NULL, 10);
        else if (!strcmp(k, "segment_bytes")) c->segment_bytes = strtoull(v, NULL, 10);
        else if (!strcmp(k, "segment_ms")) c->segment_ms = strtoull(v, NULL, 10);
        else if (!strcmp(k, "created_ms")) c->created_ms = strtoll(v, NULL, 10);
    }
    fclose(f);
    return sl_topic_config_check(c, NULL);
}

/* ---- topic registry ------------------------------------------------------------------------- */

static size_t topic_pos(sl_engine_t *e, const char *name, int *found) {
    size_t lo = 0, hi = e->ntopics;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(e->topics[mid]->cfg.name, name);
        if (c == 0) {
            *found = 1;
            return mid;
        }
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    *found = 0;
    return lo;
}

sl_topic_t *sl__topic_find(sl_engine_t *e, const char *name) {
    int found;
    size_t i = topic_pos(e, name, &found);
    return found && !e->topics[i]->deleting ? e->topics[i] : NULL;
}

static int topic_insert(sl_engine_t *e, sl_topic_t *t) {
    int found;
    size_t i = topic_pos(e, t->cfg.name, &found);
    if (found) return -SL_EEXIST;
    if (e->ntopics == e->topics_cap) {
        size_t cap = e->topics_cap ? e->topics_cap * 2 : 16;
        sl_topic_t **p = realloc(e->topics, cap * sizeof(*p));
        if (!p) return -SL_ENOMEM;
        e->topics = p;
        e->topics_cap = cap;
    }
    memmove(e->topics + i + 1, e->topics + i, (e->ntopics - i) * sizeof(*e->topics));
    e->topics[i] = t;
    e->ntopics++;
    return 0;
}

static void topic_remove(sl_engine_t *e, sl_topic_t *t) {
    for (size_t i = 0; i < e->ntopics; i++) {
        if (e->topics[i] != t) continue;
        memmove(e->topics + i, e->topics + i + 1, (e->ntopics - i - 1) * sizeof(*e->topics));
        e->ntopics--;
        return;
    }
}

static void topic_free(sl_topic_t *t, int destroy) {
    for (uint32_t i = 0; t->parts && i < t->cfg.partitions; i++)
        if (t->parts[i]) sl__partition_free(t->parts[i], destroy);
    free(t->parts);
    free(t->dir);
    free(t);
}

/* Opens the partitions of a topic whose directory and topic.conf exist. */
static int topic_open(sl_engine_t *e, const char *dir, const sl_topic_config_t *cfg,
                      sl_topic_t **out) {
    int rc = -SL_ENOMEM;
    sl_topic_t *t = calloc(1, sizeof(*t));
    if (!t) return -SL_ENOMEM;
    t->cfg = *cfg;
    if (!(t->dir = strdup(dir))) goto failed;
    if (!(t->parts = calloc(cfg->partitions, sizeof(*t->parts)))) goto failed;
    for (uint32_t i = 0; i < cfg->partitions; i++) {
        char name[16];
        snprintf(name, sizeof(name), "%u", i);
        char *pdir = path_join(dir, name);
        if (!pdir) goto failed;
        rc = sl__partition_open(e, t, i, pdir, &t->parts[i]);
        free(pdir);
        if (rc) goto failed;
    }
    t->sticky = (uint32_t)(sl_now_ms() % cfg->partitions);
    *out = t;
    return 0;
failed:
    topic_free(t, 0);
    return rc;
}

int sl_topic_create(sl_engine_t *e, sl_topic_config_t *cfg) {
    int rc = sl_topic_config_check(cfg, NULL);
    if (rc) return rc;
    int found;
    topic_pos(e, cfg->name, &found);
    if (found) return -SL_EEXIST;
    cfg->created_ms = sl_now_ms();
    if (!cfg->segment_bytes) cfg->segment_bytes = e->cfg.segment_bytes;
    if (!cfg->segment_ms) cfg->segment_ms = e->cfg.segment_ms;
    /* Build it under a temporary name and rename it into place: a crash leaves either no
     * topic or a whole one. */
    char tmpname[64];
    snprintf(tmpname, sizeof(tmpname), "creating-%" PRId64 "-%" PRIu64, sl_now_ms(), ++e->tmp_seq);
    char *tmp = path_join(e->tmp_dir, tmpname), *dir = path_join(e->topics_dir, cfg->name);
    sl_topic_t *t = NULL;
    rc = -SL_ENOMEM;
    if (!tmp || !dir) goto out;
    rm_rf(tmp);
    if ((rc = mkdir_p(tmp))) goto out;
    if ((rc = topic_conf_write(tmp, cfg))) goto failed_tmp;
    for (uint32_t i = 0; i < cfg->partitions; i++) {
        char name[16];
        snprintf(name, sizeof(name), "/%u", i);
        char *pdir = path_join(tmp, name + 1);
        if (!pdir) goto failed_tmp;
        rc = mkdir_p(pdir);
        free(pdir);
        if (rc) goto failed_tmp;
    }
    /* One syncfs makes the skeleton durable (per-directory fsyncs cost 30 s for 4096
     * partitions here); the rename then publishes it whole. Segment files are created by the
     * logs at open and made durable by their first sync. */
    int tfd = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (tfd < 0 || syncfs(tfd)) {
        if (tfd >= 0) close(tfd);
        rc = -SL_EIO;
        goto failed_tmp;
    }
    close(tfd);
    if (rename(tmp, dir)) {
        rc = -SL_EIO;
        goto failed_tmp;
    }
    if ((rc = fsync_dir(e->topics_dir))) goto out;
    int was_unclean = e->unclean;
    e->unclean = 0; /* fresh logs: nothing to recover or sync */
    rc = topic_open(e, dir, cfg, &t);
    e->unclean = was_unclean;
    if (rc) goto out;
    if ((rc = topic_insert(e, t))) {
        topic_free(t, 0);
        goto out;
    }
    sl_info("created topic %s with %u partitions", cfg->name, cfg->partitions);
    sl__groups_topic_created(e, cfg->name);
    goto out;
failed_tmp:
    rm_rf(tmp);
out:
    free(tmp);
    free(dir);
    return rc;
}

static void topic_destroy_now(sl_engine_t *e, sl_topic_t *t) {
    char *dir = strdup(t->dir);
    topic_remove(e, t);
    topic_free(t, 1);
    if (dir) {
        rm_rf(dir);
        fsync_dir(e->topics_dir);
        free(dir);
    }
}

/* Deletion waits for the topic's sync jobs; the retention timer finishes it. */
static int topic_busy(const sl_topic_t *t) {
    for (uint32_t i = 0; i < t->cfg.partitions; i++)
        if (t->parts[i]->sync_running) return 1;
    return 0;
}

int sl_topic_delete(sl_engine_t *e, const char *name) {
    sl_topic_t *t = sl__topic_find(e, name);
    if (!t) return -SL_ENOTFOUND;
    /* Rename first: once this returns, the topic is gone even if we crash now. */
    char tmpname[64];
    snprintf(tmpname, sizeof(tmpname), "deleted-%" PRId64 "-%" PRIu64, sl_now_ms(), ++e->tmp_seq);
    char *gone = path_join(e->tmp_dir, tmpname);
    if (!gone) return -SL_ENOMEM;
    if (rename(t->dir, gone)) {
        sl_error("rename %s: %s", t->dir, strerror(errno));
        free(gone);
        return -SL_EIO;
    }
    fsync_dir(e->topics_dir);
    free(t->dir);
    t->dir = gone;
    t->deleting = 1;
    for (uint32_t i = 0; i < t->cfg.partitions; i++) sl__partition_fail_all(t->parts[i], -SL_ENOTFOUND);
    sl__groups_topic_deleted(e, name);
    if (!topic_busy(t)) topic_destroy_now(e, t);
    sl_info("deleted topic %s", name);
    return 0;
}

int sl_topic_get(sl_engine_t *e, const char *name, sl_topic_config_t *out) {
    sl_topic_t *t = sl__topic_find(e, name);
    if (!t) return -SL_ENOTFOUND;
    *out = t->cfg;
    return 0;
}

int sl_topic_list(sl_engine_t *e, char ***names, size_t *count) {
    char **v = calloc(e->ntopics + 1, sizeof(*v));
    size_t n = 0;
    if (!v) return -SL_ENOMEM;
    for (size_t i = 0; i < e->ntopics; i++) {
        if (e->topics[i]->deleting) continue;
        if (!(v[n] = strdup(e->topics[i]->cfg.name))) {
            sl_names_free(v, n);
            return -SL_ENOMEM;
        }
        n++;
    }
    *names = v;
    *count = n;
    return 0;
}

void sl_names_free(char **names, size_t count) {
    for (size_t i = 0; i < count; i++) free(names[i]);
    free(names);
}

static sl_partition_t *partition_find(sl_engine_t *e, const char *topic, uint32_t partition, int *rc) {
    sl_topic_t *t = sl__topic_find(e, topic);
    if (!t) {
        *rc = -SL_ENOTFOUND;
        return NULL;
    }
    if (partition >= t->cfg.partitions) {
        *rc = -SL_ERANGE;
        return NULL;
    }
    *rc = 0;
    return t->parts[partition];
}

int sl_partition_stats(sl_engine_t *e, const char *topic, uint32_t partition,
                       sl_partition_stats_t *out) {
    int rc;
    sl_partition_t *p = partition_find(e, topic, partition, &rc);
    if (!p) return rc == -SL_ERANGE ? -SL_ENOTFOUND : rc;
    out->earliest_offset = sl_log_start_offset(p->log);
    out->latest_offset = p->log->durable_offset;
    if (out->earliest_offset > out->latest_offset) out->earliest_offset = out->latest_offset;
    out->bytes = sl_log_bytes(p->log);
    out->segments = (uint32_t)p->log->nsegs;
    return 0;
}

/* ---- produce -------------------------------------------------------------------------------- */

static void ready_cb(uv_timer_t *t) {
    sl_engine_t *e = t->data;
    produce_req_t *r = e->ready_head;
    e->ready_head = e->ready_tail = NULL;
    while (r) {
        produce_req_t *next = r->next_ready;
        if (r->cb) r->cb(r->ud, r->status, r->status ? NULL : r->offsets, r->status ? 0 : r->n);
        else if (r->done) r->done(r->ud, r->status);
        free(r->offsets);
        free(r);
        r = next;
    }
}

void sl__ready_push(sl_engine_t *e, produce_req_t *r) {
    r->next_ready = NULL;
    if (e->ready_tail) e->ready_tail->next_ready = r;
    else e->ready_head = r;
    e->ready_tail = r;
    if (!uv_is_active((uv_handle_t *)&e->ready_timer)) uv_timer_start(&e->ready_timer, ready_cb, 0, 0);
}

typedef struct appended {
    sl_partition_t *p;
    sl_log_mark_t mark;
} appended_t;

/* Encodes records idx[0..n) (all for partition p) into batches and appends them. */
static int append_partition(sl_engine_t *e, sl_partition_t *p, const sl_record_t *recs,
                            const uint32_t *idx, size_t n, int64_t now, sl_offset_t *offsets,
                            appended_t **marks, size_t *nmarks, size_t *capmarks) {
    size_t i = 0;
    while (i < n) {
        sl_batch_builder_t b;
        /* Size the buffer once (records cost at most their bytes + 32 of varints and
         * attributes); the log takes it over, so each batch gets a fresh one. */
        size_t want = SL_BATCH_HEADER_SIZE;
        for (size_t k = i; k < n && want < MAX_BATCH_BYTES; k++)
            want += recs[idx[k]].value_len + recs[idx[k]].key_len + 32;
        e->scratch.len = 0;
        if (sl_buf_reserve(&e->scratch, want)) return -SL_ENOMEM;
        if (sl_batch_begin(&b, &e->scratch)) return -SL_ENOMEM;
        size_t first = i;
        while (i < n && (i == first || e->scratch.len < MAX_BATCH_BYTES)) {
            const sl_record_t *r = &recs[idx[i]];
            int rc = sl_batch_add(&b, r->timestamp >= 0 ? r->timestamp : now, r->key,
                                  (int32_t)r->key_len, r->value, (int32_t)r->value_len);
            if (rc) return rc;
            i++;
        }
        int rc = sl_batch_finish(&b);
        if (rc) return rc;
        if (*nmarks == *capmarks) {
            size_t cap = *capmarks ? *capmarks * 2 : 8;
            appended_t *m = realloc(*marks, cap * sizeof(*m));
            if (!m) return -SL_ENOMEM;
            *marks = m;
            *capmarks = cap;
        }
        int64_t base;
        appended_t *a = &(*marks)[*nmarks];
        size_t blen = e->scratch.len;
        char *bdata = sl_buf_steal(&e->scratch, NULL);
        if ((rc = sl__partition_append(p, bdata, blen, &a->mark, &base))) {
            free(bdata);
            return rc;
        }
        a->p = p;
        (*nmarks)++;
        for (size_t k = first; k < i; k++) {
            offsets[idx[k]].partition = p->id;
            offsets[idx[k]].offset = base + (int64_t)(k - first);
        }
        e->stats.batches++;
        e->stats.bytes_in += blen;
    }
    return 0;
}

int sl_produce(sl_engine_t *e, const char *topic, const sl_record_t *recs, size_t n,
               sl_produce_cb cb, void *ud) {
    if (e->closing) return -SL_ECLOSED;
    sl_topic_t *t = sl__topic_find(e, topic);
    if (!t) return -SL_ENOTFOUND;
    if (n == 0) return -SL_EINVAL;
    uint32_t np = t->cfg.partitions;
    int rc = -SL_ENOMEM;
    uint32_t *part = malloc(n * sizeof(*part)), *order = malloc(n * sizeof(*order));
    uint32_t *count = calloc(np + 1, sizeof(*count));
    produce_req_t *req = calloc(1, sizeof(*req));
    sl_offset_t *offsets = malloc(n * sizeof(*offsets));
    appended_t *marks = NULL;
    size_t nmarks = 0, capmarks = 0;
    if (!part || !order || !count || !req || !offsets) goto failed;
    /* Choose partitions: explicit, else by key (Kafka's murmur2), else sticky. */
    uint32_t sticky = t->sticky;
    for (size_t i = 0; i < n; i++) {
        const sl_record_t *r = &recs[i];
        if (r->partition >= 0) {
            if ((uint32_t)r->partition >= np) {
                rc = -SL_ERANGE;
                goto failed;
            }
            part[i] = (uint32_t)r->partition;
        } else if (r->key) {
            part[i] = sl_kafka_partition(r->key, r->key_len, np);
        } else {
            part[i] = sticky;
        }
        if (t->parts[part[i]]->replicated) { /* its writes go through its Raft group */
            rc = -SL_EINVAL;
            goto failed;
        }
        count[part[i] + 1]++;
    }
    t->sticky = (sticky + 1) % np;
    /* Counting sort of record indexes by partition, stable: order within a partition is the
     * request's order. */
    for (uint32_t p = 0; p < np; p++) count[p + 1] += count[p];
    for (size_t i = 0; i < n; i++) order[count[part[i]]++] = (uint32_t)i;
    int64_t now = sl_now_ms();
    size_t start = 0;
    for (size_t i = 0; i < n; i++) {
        if (i + 1 < n && part[order[i + 1]] == part[order[i]]) continue;
        sl_partition_t *p = t->parts[part[order[i]]];
        rc = append_partition(e, p, recs, order + start, i + 1 - start, now, offsets, &marks, &nmarks,
                              &capmarks);
        if (rc) goto rollback;
        start = i + 1;
    }
    req->e = e;
    req->cb = cb;
    req->ud = ud;
    req->offsets = offsets;
    req->n = n;
    req->pending = 1; /* held while registering, so nothing completes early */
    for (size_t k = 0; k < nmarks; k++) {
        sl_partition_t *p = marks[k].p;
        if (k + 1 < nmarks && marks[k + 1].p == p) continue; /* wait once, for the last batch */
        if ((rc = sl__partition_wait(p, req, p->log->next_offset))) {
            /* Out of memory while queueing: the data is written and will be synced, but we
             * cannot track it; report the error (the client retries). */
            req->status = rc;
        }
        if (e->cfg.fsync == SL_FSYNC_ALWAYS) sl__partition_kick(p); /* else: the timer, or never */
    }
    e->stats.events_in += n;
    e->stats.produce_requests++;
    free(part);
    free(order);
    free(count);
    free(marks);
    if (--req->pending == 0) sl__ready_push(e, req);
    return 0;
rollback:
    for (size_t k = nmarks; k-- > 0;)
        if (sl_log_rollback(marks[k].p->log, &marks[k].mark))
            sl_error("rollback of a failed request failed; partition %u stops taking writes",
                     marks[k].p->id);
failed:
    free(part);
    free(order);
    free(count);
    free(req);
    free(offsets);
    free(marks);
    return rc;
}

/* ---- fetch ---------------------------------------------------------------------------------- */

int sl_fetch(sl_engine_t *e, const char *topic, uint32_t partition, int64_t offset,
             size_t max_count, size_t max_bytes, sl_fetch_result_t *res) {
    memset(res, 0, sizeof(*res));
    int rc;
    sl_partition_t *p = partition_find(e, topic, partition, &rc);
    if (!p) return rc == -SL_ERANGE ? -SL_ENOTFOUND : rc;
    int64_t earliest = sl_log_start_offset(p->log), latest = p->log->durable_offset;
    if (earliest > latest) earliest = latest;
    res->earliest_offset = earliest;
    res->latest_offset = latest;
    if (offset == SL_OFFSET_EARLIEST) offset = earliest;
    else if (offset == SL_OFFSET_LATEST) offset = latest;
    if (offset < earliest || offset > latest) return -SL_ERANGE;
    res->next_offset = offset;
    e->stats.fetch_requests++;
    if (offset == latest || max_count == 0) return 0;
    size_t used;
    if ((rc = sl__partition_read(p, offset, max_count, max_bytes, res, &used))) return rc;
    e->stats.events_out += res->count;
    e->stats.bytes_out += used;
    return 0;
}

void sl_fetch_result_free(sl_fetch_result_t *res) {
    if (res->priv_) {
        sl_buf_free(res->priv_);
        free(res->priv_);
    }
    free(res->recs);
    memset(res, 0, sizeof(*res));
}

int sl_watch(sl_engine_t *e, const char *topic, uint32_t partition, int64_t offset, sl_watch_cb cb,
             void *ud, sl_watch_t **out) {
    int rc;
    if (e->closing) return -SL_ECLOSED;
    sl_partition_t *p = partition_find(e, topic, partition, &rc);
    if (!p) return rc == -SL_ERANGE ? -SL_ENOTFOUND : rc;
    if (offset == SL_OFFSET_LATEST) offset = p->log->durable_offset;
    if (offset == SL_OFFSET_EARLIEST) offset = sl_log_start_offset(p->log);
    return sl__watch_partition(p, offset, cb, ud, NULL, out);
}

/* ---- timers --------------------------------------------------------------------------------- */

static void retention_cb(uv_timer_t *timer) {
    sl_engine_t *e = timer->data;
    int64_t now = sl_now_ms();
    for (size_t i = 0; i < e->ntopics;) {
        sl_topic_t *t = e->topics[i];
        if (t->deleting) {
            if (!topic_busy(t)) {
                topic_destroy_now(e, t);
                continue;
            }
            i++;
            continue;
        }
        for (uint32_t k = 0; k < t->cfg.partitions; k++) {
            sl_partition_t *p = t->parts[k];
            if (sl_log_retain(p->log, now, t->cfg.retention_ms, t->cfg.retention_bytes) > 0 &&
                e->cfg.fsync != SL_FSYNC_NEVER)
                sl__partition_kick(p); /* sync the directory */
        }
        i++;
    }
    sl__groups_maintain(e);
}

static void fsync_interval_cb(uv_timer_t *timer) {
    sl_engine_t *e = timer->data;
    for (size_t i = 0; i < e->ntopics; i++)
        for (uint32_t k = 0; k < e->topics[i]->cfg.partitions; k++)
            sl__partition_kick(e->topics[i]->parts[k]);
}

static void session_cb(uv_timer_t *timer) { sl__groups_check_sessions(timer->data); }

/* ---- open / close --------------------------------------------------------------------------- */

static int load_topics(sl_engine_t *e) {
    DIR *d = opendir(e->topics_dir);
    if (!d) return -SL_EIO;
    struct dirent *de;
    int rc = 0;
    while (!rc && (de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
        char *dir = path_join(e->topics_dir, de->d_name);
        if (!dir) {
            rc = -SL_ENOMEM;
            break;
        }
        sl_topic_config_t cfg;
        if (topic_conf_read(dir, &cfg) || strcmp(cfg.name, de->d_name) != 0) {
            sl_warn("skipping %s: no valid topic.conf", dir);
            free(dir);
            continue;
        }
        sl_topic_t *t;
        if ((rc = topic_open(e, dir, &cfg, &t)) == 0 && (rc = topic_insert(e, t))) topic_free(t, 0);
        free(dir);
    }
    closedir(d);
    return rc;
}

int sl_engine_open(uv_loop_t *loop, const sl_engine_config_t *cfg, sl_engine_t **out) {
    int rc = -SL_ENOMEM;
    sl_engine_t *e = calloc(1, sizeof(*e));
    if (!e) return -SL_ENOMEM;
    e->loop = loop;
    e->cfg = *cfg;
    e->offsets_snap_at = e->offsets_snap_end = -1;
    if (!e->cfg.segment_bytes) e->cfg.segment_bytes = 128u << 20;
    if (!e->cfg.retention_check_ms) e->cfg.retention_check_ms = 1000;
    if (!e->cfg.session_check_ms) e->cfg.session_check_ms = 200;
    if (!e->cfg.offsets_compact_bytes) e->cfg.offsets_compact_bytes = 64u << 20;
    if (!(e->data_dir = strdup(cfg->data_dir))) goto failed;
    if (!(e->topics_dir = path_join(e->data_dir, "topics"))) goto failed;
    if (!(e->tmp_dir = path_join(e->data_dir, "tmp"))) goto failed;
    e->cfg.data_dir = e->data_dir;
    if ((rc = mkdir_p(e->data_dir)) || (rc = mkdir_p(e->topics_dir))) goto failed;
    /* Half-created and deleted topics of an earlier run are in tmp/: remove them. */
    rm_rf(e->tmp_dir);
    if ((rc = mkdir_p(e->tmp_dir))) goto failed;
    char *marker = path_join(e->data_dir, "clean_shutdown");
    if (!marker) goto failed;
    struct stat st;
    int was_clean = stat(marker, &st) == 0;
    int has_data = 0;
    DIR *d = opendir(e->topics_dir);
    if (d) {
        struct dirent *de;
        while ((de = readdir(d)))
            if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) has_data = 1;
        closedir(d);
    }
    e->unclean = has_data && !was_clean;
    if (was_clean) unlink(marker);
    free(marker);
    fsync_dir(e->data_dir);
    if (e->unclean) sl_warn("the last run did not shut down cleanly: checking the tails of all logs");
    if ((rc = load_topics(e))) goto failed;
    if ((rc = sl__groups_open(e))) goto failed;
    uv_timer_init(loop, &e->retention_timer);
    uv_timer_init(loop, &e->fsync_timer);
    uv_timer_init(loop, &e->session_timer);
    uv_timer_init(loop, &e->ready_timer);
    e->timers_open = 4;
    e->retention_timer.data = e->fsync_timer.data = e->session_timer.data = e->ready_timer.data = e;
    uv_timer_start(&e->retention_timer, retention_cb, e->cfg.retention_check_ms,
                   e->cfg.retention_check_ms);
    if (e->cfg.fsync == SL_FSYNC_INTERVAL)
        uv_timer_start(&e->fsync_timer, fsync_interval_cb, e->cfg.fsync_interval_ms,
                       e->cfg.fsync_interval_ms);
    uv_timer_start(&e->session_timer, session_cb, e->cfg.session_check_ms, e->cfg.session_check_ms);
    *out = e;
    return 0;
failed:
    for (size_t i = 0; i < e->ntopics; i++) topic_free(e->topics[i], 0);
    free(e->topics);
    free(e->topics_dir);
    free(e->tmp_dir);
    free(e->data_dir);
    free(e);
    return rc;
}

static void timer_closed(uv_handle_t *h) {
    sl_engine_t *e = h->data;
    if (--e->timers_open > 0) return;
    void (*cb)(void *) = e->close_cb;
    void *arg = e->close_arg;
    free(e->scratch.data);
    free(e);
    if (cb) cb(arg);
}

void sl__engine_close_continue(sl_engine_t *e) {
    /* Every sync job is back: make the rest durable here, acknowledge, close the files. */
    for (size_t i = 0; i < e->ntopics; i++) {
        sl_topic_t *t = e->topics[i];
        for (uint32_t k = 0; k < t->cfg.partitions; k++)
            if (!t->deleting) sl__partition_sync_now(t->parts[k]);
    }
    if (e->offsets_log) sl__partition_sync_now(e->offsets_log);
    ready_cb(&e->ready_timer); /* deliver acknowledgements now */
    for (size_t i = 0; i < e->ntopics; i++) topic_free(e->topics[i], e->topics[i]->deleting);
    free(e->topics);
    e->topics = NULL;
    e->ntopics = 0;
    sl__groups_free(e);
    ready_cb(&e->ready_timer);
    char *marker = path_join(e->data_dir, "clean_shutdown");
    if (marker) {
        int fd = open(marker, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd >= 0) {
            fsync(fd);
            close(fd);
        }
        fsync_dir(e->data_dir);
        free(marker);
    }
    sl_info("engine closed cleanly");
    free(e->topics_dir);
    free(e->tmp_dir);
    free(e->data_dir);
    uv_close((uv_handle_t *)&e->retention_timer, timer_closed);
    uv_close((uv_handle_t *)&e->fsync_timer, timer_closed);
    uv_close((uv_handle_t *)&e->session_timer, timer_closed);
    uv_close((uv_handle_t *)&e->ready_timer, timer_closed);
}

void sl_engine_close(sl_engine_t *e, void (*cb)(void *arg), void *arg) {
    e->closing = 1;
    e->close_cb = cb ? cb : (void (*)(void *))0;
    e->close_arg = arg;
    uv_timer_stop(&e->retention_timer);
    uv_timer_stop(&e->fsync_timer);
    uv_timer_stop(&e->session_timer);
    if (e->syncs_running == 0) sl__engine_close_continue(e);
    /* else sync_after() calls sl__engine_close_continue when the last job returns */
}

void sl_engine_stats(sl_engine_t *e, sl_engine_stats_t *out) { *out = e->stats; }

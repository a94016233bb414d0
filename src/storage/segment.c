/* One segment file of a partition log, its sparse indexes, and its recovery.
 *
 * Files, for base offset 42:  00000000000000000042.log        record batches, back to back
 *                             00000000000000000042.index      8-byte entries:  rel offset u32 | position u32
 *                             00000000000000000042.timeindex  12-byte entries: max timestamp i64 | rel offset u32
 * (all big-endian, as Kafka lays them out, each file followed by the CRC32C of its entries).
 * An index point is added for the first batch and then
 * after every SL_INDEX_INTERVAL_BYTES of log. Index files are written when a segment stops being
 * active and at clean close; they are hints, checked at open and rebuilt from the log when
 * missing or inconsistent. The log file is the truth. */
#include "storage/segment.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/crc32c.h"
#include "core/log.h"
#include "sluice.h"

static char *seg_path(const char *dir, int64_t base, const char *ext) {
    size_t n = strlen(dir) + 32 + strlen(ext);
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%020" PRId64 "%s", dir, base, ext);
    return p;
}

static char *sibling_path(const sl_segment_t *s, const char *ext) {
    size_t n = strlen(s->path) + 16;
    char *p = malloc(n);
    if (!p) return NULL;
    memcpy(p, s->path, strlen(s->path) - 4); /* drop ".log" */
    strcpy(p + strlen(s->path) - 4, ext);
    return p;
}

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int io_err(int e) { return e == ENOSPC || e == EDQUOT ? -SL_ENOSPC : -SL_EIO; }

static int index_push(sl_segment_t *s, uint32_t rel, uint32_t pos, int64_t max_ts) {
    if (s->idx_n == s->idx_cap) {
        size_t cap = s->idx_cap ? s->idx_cap * 2 : 64;
        sl_index_entry_t *p = realloc(s->idx, cap * sizeof(*p));
        if (!p) return -SL_ENOMEM;
        s->idx = p;
        s->idx_cap = cap;
    }
    s->idx[s->idx_n++] = (sl_index_entry_t){rel, pos, max_ts};
    return 0;
}

/* Records a batch that now sits at pos in the segment's in-memory state. */
static int note_batch(sl_segment_t *s, uint64_t pos, const sl_batch_header_t *h) {
    if (h->max_timestamp > s->max_ts) s->max_ts = h->max_timestamp;
    if (s->idx_n == 0 || s->bytes_since_index >= SL_INDEX_INTERVAL_BYTES) {
        int rc = index_push(s, (uint32_t)(h->base_offset - s->base_offset), (uint32_t)pos, s->max_ts);
        if (rc) return rc;
        s->bytes_since_index = 0;
    }
    s->bytes_since_index += sl_batch_size(h);
    s->next_offset = h->base_offset + h->last_offset_delta + 1;
    return 0;
}

static sl_segment_t *seg_new(const char *dir, int64_t base) {
    sl_segment_t *s = calloc(1, sizeof(*s));
    if (!s) return NULL;
    s->path = seg_path(dir, base, ".log");
    if (!s->path) {
        free(s);
        return NULL;
    }
    s->base_offset = s->next_offset = base;
    s->fd = -1;
    s->max_ts = -1;
    return s;
}

void sl_chunks_free(sl_chunks_t *c) {
    for (size_t i = 0; i < c->n; i++) free(c->iov[i].iov_base);
    free(c->iov);
    memset(c, 0, sizeof(*c));
}

static int chunks_push(sl_chunks_t *c, void *p, size_t len) {
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 16;
        struct iovec *v = realloc(c->iov, cap * sizeof(*v));
        if (!v) return -SL_ENOMEM;
        c->iov = v;
        c->cap = cap;
    }
    c->iov[c->n++] = (struct iovec){p, len};
    c->bytes += len;
    return 0;
}

static void seg_free(sl_segment_t *s) {
    sl_chunks_free(&s->pend);
    free(s->idx);
    free(s->path);
    free(s);
}

int sl_segment_create(const char *dir, int64_t base_offset, sl_segment_t **out) {
    sl_segment_t *s = seg_new(dir, base_offset);
    if (!s) return -SL_ENOMEM;
    s->fd = open(s->path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (s->fd < 0) {
        int e = errno;
        sl_error("create %s: %s", s->path, strerror(e));
        seg_free(s);
        return io_err(e);
    }
    struct stat st;
    if (fstat(s->fd, &st) == 0 && st.st_size > 0) {
        /* A leftover from an earlier run at this base offset holding data: never clobber it. */
        sl_error("create %s: a non-empty segment already exists", s->path);
        close(s->fd);
        seg_free(s);
        return -SL_EEXIST;
    }
    s->created_ms = now_ms();
    *out = s;
    return 0;
}

/* Reads exactly len bytes at pos; 0, or -SL_ERANGE at end of file, or -SL_EIO. */
static int pread_full(int fd, void *buf, size_t len, uint64_t pos) {
    char *p = buf;
    while (len) {
        ssize_t n = pread(fd, p, len, (off_t)pos);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return -SL_EIO;
        if (n == 0) return -SL_ERANGE;
        p += n;
        pos += (uint64_t)n;
        len -= (size_t)n;
    }
    return 0;
}

/* Scans batches from pos to the end of the file, adding index points. With check, each batch
 * is read whole and its CRC checked. Stops at the first torn or bad batch; *end is where the
 * good data ends. */
static int scan(sl_segment_t *s, uint64_t pos, uint64_t file_size, int check, uint64_t *end) {
    char hdr[SL_BATCH_HEADER_SIZE];
    char *buf = NULL;
    size_t cap = 0;
    int rc = 0;
    int64_t expect = s->next_offset;
    while (pos < file_size) {
        sl_batch_header_t h;
        if (file_size - pos < SL_BATCH_HEADER_SIZE) break;
        if ((rc = pread_full(s->fd, hdr, sizeof(hdr), pos)) == -SL_EIO) goto done;
        rc = 0;
        if (sl_batch_parse_header(hdr, sizeof(hdr), &h) == -SL_ECORRUPT) break;
        size_t bs = sl_batch_size(&h);
        if (pos + bs > file_size) break; /* torn */
        if (h.base_offset < expect) break;  /* offsets must grow */
        if (check) {
            if (bs > cap) {
                char *nb = realloc(buf, bs);
                if (!nb) {
                    rc = -SL_ENOMEM;
                    goto done;
                }
                buf = nb;
                cap = bs;
            }
            if (pread_full(s->fd, buf, bs, pos)) {
                rc = -SL_EIO;
                goto done;
            }
            if (sl_batch_check_crc(buf, &h)) break;
        }
        if ((rc = note_batch(s, pos, &h))) goto done;
        expect = s->next_offset;
        pos += bs;
    }
done:
    free(buf);
    *end = pos;
    return rc;
}

/* Is the file all zero bytes in [from, to)? */
static int all_zero(int fd, uint64_t from, uint64_t to) {
    char buf[65536];
    while (from < to) {
        size_t want = to - from < sizeof(buf) ? (size_t)(to - from) : sizeof(buf);
        ssize_t n = pread(fd, buf, want, (off_t)from);
        if (n <= 0) return 0;
        for (ssize_t i = 0; i < n; i++)
            if (buf[i]) return 0;
        from += (uint64_t)n;
    }
    return 1;
}

/* Zeros after the data were written ahead of it (see log.c) and never reached: not damage.
 * Cuts them without a word; anything else past end is left for the caller to judge. */
static int cut_zero_tail(sl_segment_t *s, uint64_t end, uint64_t *file_size) {
    if (end >= *file_size || !all_zero(s->fd, end, *file_size)) return 0;
    if (ftruncate(s->fd, (off_t)end) || fdatasync(s->fd)) {
        sl_error("truncate %s: %s", s->path, strerror(errno));
        return io_err(errno);
    }
    *file_size = end;
    return 0;
}

/* Loads .index/.timeindex if they are consistent with the log; 1 if loaded, 0 if not. */
static int load_index(sl_segment_t *s, uint64_t file_size) {
    char *ip = sibling_path(s, ".index"), *tp = sibling_path(s, ".timeindex");
    FILE *fi = ip ? fopen(ip, "rb") : NULL, *ft = tp ? fopen(tp, "rb") : NULL;
    int ok = 0;
    free(ip);
    free(tp);
    if (!fi || !ft) goto out;
    /* Each file ends with the CRC32C of its entries (written last: a torn or stale file fails). */
    struct stat si, st2;
    if (fstat(fileno(fi), &si) || fstat(fileno(ft), &st2) || si.st_size < 4 || st2.st_size < 4 ||
        (si.st_size - 4) % 8 || (st2.st_size - 4) % 12 || (si.st_size - 4) / 8 != (st2.st_size - 4) / 12)
        goto bad;
    size_t count = (size_t)(si.st_size - 4) / 8;
    uint32_t ci = 0, ct = 0;
    for (size_t n = 0; n < count; n++) {
        unsigned char e[8], t[12];
        size_t a = fread(e, 1, 8, fi), b = fread(t, 1, 12, ft);
        if (a != 8 || b != 12) goto bad;
        ci = sl_crc32c(ci, e, 8);
        ct = sl_crc32c(ct, t, 12);
        uint32_t rel = sl_be32_get(e), pos = sl_be32_get(e + 4);
        int64_t ts = (int64_t)sl_be64_get(t);
        if (sl_be32_get(t + 8) != rel || pos >= file_size) goto bad;
        if (s->idx_n && (rel <= s->idx[s->idx_n - 1].rel || pos <= s->idx[s->idx_n - 1].pos))
            goto bad;
        if (index_push(s, rel, pos, ts)) goto bad;
    }
    unsigned char ce[4], cte[4];
    if (fread(ce, 1, 4, fi) != 4 || fread(cte, 1, 4, ft) != 4 || sl_be32_get(ce) != ci ||
        sl_be32_get(cte) != ct)
        goto bad;
    if (s->idx_n == 0) goto out;
    /* The last point must name a real batch with that base offset. */
    char hdr[SL_BATCH_HEADER_SIZE];
    sl_batch_header_t h;
    const sl_index_entry_t *last = &s->idx[s->idx_n - 1];
    if (pread_full(s->fd, hdr, sizeof(hdr), last->pos) ||
        sl_batch_parse_header(hdr, sizeof(hdr), &h) == -SL_ECORRUPT ||
        h.base_offset != s->base_offset + last->rel)
        goto bad;
    ok = 1;
    goto out;
bad:
    s->idx_n = 0;
out:
    if (fi) fclose(fi);
    if (ft) fclose(ft);
    return ok;
}

int sl_segment_open(const char *dir, int64_t base_offset, int check_all, uint64_t *truncated,
                    sl_segment_t **out) {
    int rc;
    sl_segment_t *s = seg_new(dir, base_offset);
    if (!s) return -SL_ENOMEM;
    *truncated = 0;
    s->fd = open(s->path, O_RDWR | O_CLOEXEC);
    if (s->fd < 0) {
        rc = io_err(errno);
        sl_error("open %s: %s", s->path, strerror(errno));
        goto failed_open;
    }
    struct stat st;
    if (fstat(s->fd, &st)) {
        rc = -SL_EIO;
        goto failed_stat;
    }
    uint64_t file_size = (uint64_t)st.st_size, end, from = 0;
    s->created_ms = (int64_t)st.st_mtim.tv_sec * 1000;
    int loaded = 0;
    if (!check_all && (loaded = load_index(s, file_size))) {
        /* Resume from the last index point: fix next_offset, max_ts and the byte counter. */
        sl_index_entry_t last = s->idx[--s->idx_n];
        s->max_ts = s->idx_n ? s->idx[s->idx_n - 1].max_ts : -1;
        s->next_offset = s->base_offset + last.rel;
        s->bytes_since_index = SL_INDEX_INTERVAL_BYTES; /* so the point is re-added */
        from = last.pos;
        if (last.max_ts > s->max_ts) s->max_ts = last.max_ts;
    }
    if ((rc = scan(s, from, file_size, check_all, &end))) goto failed_stat;
    if ((rc = cut_zero_tail(s, end, &file_size))) goto failed_stat;
    if (end < file_size) {
        if (!check_all) {
            /* A sealed segment whose index pointed at a bad place: scan it fully, with CRCs. */
            s->idx_n = 0;
            s->next_offset = s->base_offset;
            s->max_ts = -1;
            s->bytes_since_index = 0;
            if ((rc = scan(s, 0, file_size, 1, &end))) goto failed_stat;
        }
        if ((rc = cut_zero_tail(s, end, &file_size))) goto failed_stat;
        if (end < file_size) {
            if (ftruncate(s->fd, (off_t)end) || fdatasync(s->fd)) {
                rc = io_err(errno);
                sl_error("truncate %s: %s", s->path, strerror(errno));
                goto failed_stat;
            }
            *truncated = file_size - end;
        }
    }
    s->size = s->written = s->readable = s->synced = s->reserved = s->zeroed = end;
    if (!loaded && !check_all && s->idx_n) sl_segment_write_index(s); /* rebuilt: save it */
    *out = s;
    return 0;
failed_stat:
    close(s->fd);
failed_open:
    seg_free(s);
    return rc;
}

int sl_segment_append(sl_segment_t *s, char *batch, size_t len, const sl_batch_header_t *h,
                      int queue, int owned) {
    assert(h->base_offset == s->next_offset || s->size == 0);
    if (s->size == 0) s->created_ms = now_ms();
    if (!s->no_falloc && s->size + len > s->reserved) {
        /* Reserve blocks first, so a full disk fails here, before any byte is written, and
         * writeback can never meet ENOSPC for data we acknowledged. */
        uint64_t want = len > SL_SEGMENT_PREALLOC ? len : SL_SEGMENT_PREALLOC;
        if (fallocate(s->fd, FALLOC_FL_KEEP_SIZE, (off_t)s->size, (off_t)want) == 0) {
            s->reserved = s->size + want;
        } else if (errno == EOPNOTSUPP) {
            s->no_falloc = 1;
        } else if (errno == ENOSPC || errno == EDQUOT) {
            /* Try just what this batch needs before giving up. */
            if (fallocate(s->fd, FALLOC_FL_KEEP_SIZE, (off_t)s->size, (off_t)len)) {
                int e = errno;
                sl_warn("%s: cannot reserve %zu bytes: %s", s->path, len, strerror(e));
                return io_err(e);
            }
            s->reserved = s->size + len;
        } else {
            sl_error("fallocate %s: %s", s->path, strerror(errno));
            return -SL_EIO;
        }
    }
    if (queue) {
        assert(s->size - s->written == s->pend.bytes);
        char *p = batch;
        if (!owned && !(p = malloc(len))) return -SL_ENOMEM;
        if (!owned) memcpy(p, batch, len);
        if (chunks_push(&s->pend, p, len)) {
            if (!owned) free(p);
            return -SL_ENOMEM;
        }
        int rc = note_batch(s, s->size, h);
        if (rc) {
            s->pend.n--;
            s->pend.bytes -= len;
            if (!owned) free(p);
            return rc;
        }
        s->size += len;
        return 0;
    }
    assert(s->pend.n == 0);
    size_t done = 0;
    while (done < len) {
        ssize_t n = pwrite(s->fd, batch + done, len - done, (off_t)(s->size + done));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            int e = n < 0 ? errno : ENOSPC;
            sl_error("write %s: %s", s->path, strerror(e));
            if (ftruncate(s->fd, (off_t)s->size)) sl_error("truncate %s after a failed write: %s",
                                                            s->path, strerror(errno));
            s->reserved = s->size; /* the truncation released the reservation too */
            return io_err(e);
        }
        done += (size_t)n;
    }
    int rc = note_batch(s, s->size, h);
    if (rc) {
        if (ftruncate(s->fd, (off_t)s->size)) sl_error("truncate %s: %s", s->path, strerror(errno));
        return rc;
    }
    s->size += len;
    s->written = s->readable = s->size;
    if (owned) free(batch);
    return 0;
}

int sl_segment_truncate(sl_segment_t *s, uint64_t size, int64_t next_offset, int64_t max_ts) {
    assert(size <= s->size);
    if (size >= s->written) {
        /* Only queued batches are dropped (marks fall on batch boundaries). */
        while (s->pend.n && s->written + s->pend.bytes > size) {
            struct iovec *v = &s->pend.iov[--s->pend.n];
            s->pend.bytes -= v->iov_len;
            free(v->iov_base);
        }
        assert(s->written + s->pend.bytes == size);
    } else {
        assert(s->pend.n == 0 && s->readable == s->written);
        if (ftruncate(s->fd, (off_t)size)) {
            sl_error("truncate %s: %s", s->path, strerror(errno));
            return -SL_EIO;
        }
        s->written = s->readable = size;
    }
    while (s->idx_n && s->idx[s->idx_n - 1].pos >= size) s->idx_n--;
    s->bytes_since_index = s->idx_n ? size - s->idx[s->idx_n - 1].pos : 0;
    s->size = size;
    if (s->synced > size) s->synced = size;
    if (s->reserved > size) s->reserved = size;
    s->next_offset = next_offset;
    s->max_ts = max_ts;
    return 0;
}

uint64_t sl_segment_lookup(const sl_segment_t *s, int64_t offset) {
    if (s->idx_n == 0 || offset < s->base_offset) return 0;
    uint64_t rel = (uint64_t)(offset - s->base_offset);
    size_t lo = 0, hi = s->idx_n; /* find the last entry with rel <= target */
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        if (s->idx[mid].rel <= rel) lo = mid;
        else hi = mid;
    }
    return s->idx[lo].rel <= rel ? s->idx[lo].pos : 0;
}

static int write_file(const char *path, const void *data, size_t len) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return io_err(errno);
    const char *p = data;
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            int e = n < 0 ? errno : ENOSPC;
            close(fd);
            unlink(path);
            return io_err(e);
        }
        p += n;
        len -= (size_t)n;
    }
    return close(fd) ? -SL_EIO : 0;
}

int sl_segment_write_index(sl_segment_t *s) {
    int rc = -SL_ENOMEM;
    char *ip = sibling_path(s, ".index"), *tp = sibling_path(s, ".timeindex");
    unsigned char *ib = malloc(s->idx_n * 8 + 4), *tb = malloc(s->idx_n * 12 + 4);
    if (!ip || !tp || !ib || !tb) goto out;
    for (size_t i = 0; i < s->idx_n; i++) {
        sl_be32_put(ib + i * 8, s->idx[i].rel);
        sl_be32_put(ib + i * 8 + 4, s->idx[i].pos);
        sl_be64_put(tb + i * 12, (uint64_t)s->idx[i].max_ts);
        sl_be32_put(tb + i * 12 + 8, s->idx[i].rel);
    }
    sl_be32_put(ib + s->idx_n * 8, sl_crc32c(0, ib, s->idx_n * 8));
    sl_be32_put(tb + s->idx_n * 12, sl_crc32c(0, tb, s->idx_n * 12));
    if ((rc = write_file(ip, ib, s->idx_n * 8 + 4)) == 0) rc = write_file(tp, tb, s->idx_n * 12 + 4);
    if (rc) sl_warn("cannot write the index of %s (it will be rebuilt): %s", s->path, sl_strerror(rc));
out:
    free(ip);
    free(tp);
    free(ib);
    free(tb);
    return rc;
}

void sl_segment_trim(sl_segment_t *s) {
    if (s->written != s->size || s->sync_ref) return; /* queued or in-flight bytes: later */
    if ((s->reserved > s->size || s->zeroed > s->size) && ftruncate(s->fd, (off_t)s->size) == 0)
        s->reserved = s->zeroed = s->size;
}

void sl_segment_close(sl_segment_t *s, int unlink_files) {
    assert(s->sync_ref == 0);
    if (s->fd >= 0) close(s->fd);
    if (unlink_files) {
        char *ip = sibling_path(s, ".index"), *tp = sibling_path(s, ".timeindex");
        unlink(s->path);
        if (ip) unlink(ip);
        if (tp) unlink(tp);
        free(ip);
        free(tp);
    }
    seg_free(s);
}

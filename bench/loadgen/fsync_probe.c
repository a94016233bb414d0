/* fsync_probe: the disk's floor for one acknowledgement. Appends 4 KiB and fdatasyncs, N times,
 * into a growing file and then over already-written blocks, and prints p50/p99 for each:
 * no durable ack on this machine can be faster than one of these.
 * usage: fsync_probe DIR [N] */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int run(const char *path, int n, int prewritten, const char *label) {
    char buf[4096];
    memset(buf, 'x', sizeof(buf));
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return perror("open"), 1;
    if (prewritten) {
        for (int i = 0; i < n; i++)
            if (pwrite(fd, buf, sizeof(buf), (off_t)i * 4096) != (ssize_t)sizeof(buf)) return perror("pwrite"), 1;
        if (fdatasync(fd)) return perror("fdatasync"), 1;
    }
    double *lat = malloc(sizeof(double) * (size_t)n), t0 = now_ms();
    for (int i = 0; i < n; i++) {
        double a = now_ms();
        if (pwrite(fd, buf, sizeof(buf), (off_t)i * 4096) != (ssize_t)sizeof(buf) || fdatasync(fd))
            return perror("write+fdatasync"), 1;
        lat[i] = now_ms() - a;
    }
    double total = now_ms() - t0;
    qsort(lat, (size_t)n, sizeof(double), cmp);
    printf("RESULT system=disk shape=%s syncs_per_s=%.0f p50_ms=%.3f p99_ms=%.3f\n", label,
           n / total * 1e3, lat[n / 2], lat[n * 99 / 100]);
    free(lat);
    close(fd);
    unlink(path);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: fsync_probe DIR [N]\n");
        return 2;
    }
    int n = argc > 2 ? atoi(argv[2]) : 2000;
    char path[4096];
    snprintf(path, sizeof(path), "%s/fsync-probe", argv[1]);
    return run(path, n, 0, "append+fdatasync") || run(path, n, 1, "overwrite+fdatasync");
}

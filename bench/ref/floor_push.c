/* floor_push: `floor push` (floor.h): the parts of a push with durability on, outside the
 * harness. A loopback WebSocket ping-pong between two threads (writer -> server -> subscriber is
 * two hops: one round trip)  and WAL-frame-sized commits (overwrite + fdatasync, floor_wal.c) in a
 * directory; both bounded in count and time; every fd and the file are released. */
#include "floor.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/banned.h"

#define PUSH_PAYLOAD 160 /* about a pushed transition's size */
#define PUSH_WARMUP 20

struct push_result {
    struct hist pp;   /* ping-pong round trip */
    struct hist sync; /* write + fdatasync */
};

static int read_full(int fd, char *p, size_t n)
{
    while (n) {
        ssize_t r = read(fd, p, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

static int write_full(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t r = write(fd, p, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

/* The echo side (the "server"): each masked client frame back as an unmasked server frame. */
static void *echo_main(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char in[2 + 2 + 4 + PUSH_PAYLOAD];
    struct buf out = BUF_INIT(BUF_NOLIMIT);
    for (;;) {
        if (read_full(fd, in, sizeof in) < 0)
            break;
        int op;
        char *pl;
        size_t plen;
        if (floor_ws_parse(in, sizeof in, &op, &pl, &plen) != (long)sizeof in)
            break;
        buf_reset(&out);
        floor_ws_frame(&out, op, pl, plen);
        if (write_full(fd, out.data, out.len) < 0)
            break;
    }
    buf_release(&out);
    return NULL;
}

/* count round trips over loopback TCP with TCP_NODELAY, bounded by `until` (monotonic ns). */
static int push_pingpong(struct push_result *res, long count, uint64_t until, char *err,
                         size_t errlen)
{
    int lfd = -1, a = -1, b = -1, r = -1, started = 0;
    pthread_t th;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof sa;
    int one = 1;
    lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sl) < 0 || listen(lfd, 1) < 0 ||
        getsockname(lfd, (struct sockaddr *)&sa, &sl) < 0) {
        snprintf(err, errlen, "loopback listener: %s", strerror(errno));
        goto out;
    }
    a = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (a < 0 || connect(a, (struct sockaddr *)&sa, sl) < 0 ||
        (b = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) < 0) {
        snprintf(err, errlen, "loopback connect: %s", strerror(errno));
        goto out;
    }
    setsockopt(a, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(b, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (pthread_create(&th, NULL, echo_main, (void *)(intptr_t)b) != 0) {
        snprintf(err, errlen, "pthread_create failed");
        goto out;
    }
    started = 1;
    /* a masked client frame: 0x81, 0x80|126, length, mask, payload */
    char frame[2 + 2 + 4 + PUSH_PAYLOAD], back[2 + 2 + PUSH_PAYLOAD];
    frame[0] = (char)0x81;
    frame[1] = (char)(0x80 | 126);
    frame[2] = 0;
    frame[3] = (char)PUSH_PAYLOAD;
    memcpy(frame + 4, "\x12\x34\x56\x78", 4);
    for (int i = 0; i < PUSH_PAYLOAD; i++)
        frame[8 + i] = (char)('a' + i % 26);
    r = 0;
    for (long i = 0; i < count + PUSH_WARMUP && floor_now() < until; i++) {
        uint64_t t = floor_now();
        if (write_full(a, frame, sizeof frame) < 0 || read_full(a, back, sizeof back) < 0) {
            snprintf(err, errlen, "ping-pong: %s", strerror(errno));
            r = -1;
            break;
        }
        if (i >= PUSH_WARMUP)
            hist_record(&res->pp, floor_now() - t);
    }
out:
    if (a >= 0)
        shutdown(a, SHUT_RDWR);
    if (started)
        pthread_join(th, NULL);
    if (a >= 0)
        close(a);
    if (b >= 0)
        close(b);
    if (lfd >= 0)
        close(lfd);
    return r;
}

/* count WAL-frame-sized commits (overwrite in place + fdatasync) to a WAL-like file in dir. */
static int push_sync(struct push_result *res, const char *dir, long count, uint64_t until,
                     char *err, size_t errlen)
{
    struct floor_wal w;
    int r = floor_wal_open(&w, dir, err, errlen);
    for (long i = 0; r == 0 && i < count + 2 && floor_now() < until; i++) {
        uint64_t t = floor_now();
        if ((r = floor_wal_commit(&w)) < 0)
            snprintf(err, errlen, "overwrite + fdatasync %.400s: %s", w.path, strerror(-r));
        else if (i >= 2)
            hist_record(&res->sync, floor_now() - t);
    }
    floor_wal_close(&w);
    return r < 0 ? -1 : 0;
}

int floor_push_run(const char *dir, long pings, long syncs, double seconds, const char *outp)
{
    static struct push_result res;
    char err[512] = "";
    hist_init(&res.pp);
    hist_init(&res.sync);
    uint64_t half = (uint64_t)(seconds * 1e9 / 2);
    if (push_pingpong(&res, pings, floor_now() + half, err, sizeof err) < 0 ||
        push_sync(&res, dir, syncs, floor_now() + half, err, sizeof err) < 0 || !res.pp.count ||
        !res.sync.count) {
        fprintf(stderr, "floor push: %s\n", err[0] ? err : "no samples in the time bound");
        return 1;
    }
    double pp50 = floor_ms(hist_percentile(&res.pp, 50)),
           pp99 = floor_ms(hist_percentile(&res.pp, 99));
    double s50 = floor_ms(hist_percentile(&res.sync, 50)),
           s99 = floor_ms(hist_percentile(&res.sync, 99));
    printf("floor push: loopback WebSocket ping-pong (%d-byte frame, %llu round trips): p50 %.3f "
           "ms, p99 %.3f ms\n",
           PUSH_PAYLOAD, (unsigned long long)res.pp.count, pp50, pp99);
    printf("floor push: %d-byte WAL-frame overwrite + fdatasync in %s (%llu): p50 %.3f ms, p99 "
           "%.3f ms\n",
           SYNC_APPEND, dir, (unsigned long long)res.sync.count, s50, s99);
    printf("floor push: floor p50 %.3f ms, p99 %.3f ms (sums)\n", pp50 + s50, pp99 + s99);
    if (outp) {
        FILE *f = fopen(outp, "w");
        if (!f) {
            fprintf(stderr, "floor push: cannot write %s: %s\n", outp, strerror(errno));
            return 1;
        }
        fprintf(f,
                "{\"pingpong_p50_ms\": %.6g, \"pingpong_p99_ms\": %.6g, \"pingpong_count\": %llu, "
                "\"fdatasync_p50_ms\": %.6g, \"fdatasync_p99_ms\": %.6g, \"fdatasync_count\": "
                "%llu, \"commit_bytes\": %d, \"frame_payload_bytes\": %d, \"floor_p50_ms\": %.6g, "
                "\"floor_p99_ms\": %.6g}\n",
                pp50, pp99, (unsigned long long)res.pp.count, s50, s99,
                (unsigned long long)res.sync.count, SYNC_APPEND, PUSH_PAYLOAD, pp50 + s50,
                pp99 + s99);
        fclose(f);
    }
    return 0;
}

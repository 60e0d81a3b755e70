/* test_send_pool: the send pool's fork-join over real sockets (socketpairs): every job's bytes
 * arrive once and whole, over several runs of the same pool, split over its threads or on the
 * caller alone; a full socket gives a short write reported in `done` (and its bytes are exactly
 * the prefix), a peer gone gives an error; the thread count is checked. */
#include "test.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/mem.h"
#include "net/send_pool.h"

#define NJOBS 700

static int pairs[NJOBS][2];
static char payload[NJOBS][64];
static struct send_job jobs[NJOBS];

static void open_pairs(size_t n)
{
    for (size_t i = 0; i < n; i++) {
        CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, pairs[i]) == 0);
    }
}

static void close_pairs(size_t n)
{
    for (size_t i = 0; i < n; i++) {
        close(pairs[i][0]);
        close(pairs[i][1]);
    }
}

/* Each job i sends "job <i> run <r>" to pairs[i][0]; checks pairs[i][1] got it exactly once. */
static void run_and_check(struct send_pool *p, size_t n, size_t min_jobs, int run)
{
    for (size_t i = 0; i < n; i++) {
        int len = snprintf(payload[i], sizeof payload[i], "job %zu run %d.", i, run);
        jobs[i] = (struct send_job){
            .fd = pairs[i][0], .p = payload[i], .len = (size_t)len, .done = 12345, .err = 77};
    }
    send_pool_run(p, jobs, n, min_jobs);
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        if (jobs[i].done != jobs[i].len || jobs[i].err != 0)
            bad++;
        char got[128];
        ssize_t r = read(pairs[i][1], got, sizeof got);
        if (r != (ssize_t)jobs[i].len || memcmp(got, payload[i], jobs[i].len) != 0)
            bad++;
        /* nothing more: the job was done once */
        if (read(pairs[i][1], got, sizeof got) != -1 || errno != EAGAIN)
            bad++;
    }
    CHECK_EQ_INT(bad, 0);
}

TEST(split_over_threads_every_job_once)
{
    struct buf err = BUF_INIT(256);
    struct send_pool *p = send_pool_new(3, &err);
    CHECK(p != NULL);
    CHECK_EQ_INT(send_pool_threads(p), 3);
    open_pairs(NJOBS);
    for (int run = 0; run < 40; run++) /* the workers wake once per run, many runs */
        run_and_check(p, NJOBS, 0, run);
    run_and_check(p, 33, 0, 99); /* just past one chunk */
    run_and_check(p, NJOBS, SEND_POOL_MIN_JOBS, 100);
    close_pairs(NJOBS);
    send_pool_free(p);
    buf_release(&err);
}

TEST(below_threshold_and_one_thread_on_caller)
{
    struct buf err = BUF_INIT(256);
    struct send_pool *p = send_pool_new(1, &err);
    CHECK(p != NULL);
    open_pairs(300);
    run_and_check(p, 300, 0, 1); /* one thread: all on the caller */
    send_pool_free(p);
    p = send_pool_new(2, &err);
    run_and_check(p, 100, SEND_POOL_MIN_JOBS, 2); /* below the threshold */
    run_and_check(p, 0, 0, 3);                    /* nothing to do */
    run_and_check(NULL, 300, 0, 4);               /* no pool */
    close_pairs(300);
    send_pool_free(p);
    send_pool_free(NULL);
    buf_release(&err);
}

TEST(full_socket_short_write_and_dead_peer)
{
    struct buf err = BUF_INIT(256);
    struct send_pool *p = send_pool_new(2, &err);
    enum { N = 300, BIG = 4 << 20 };
    open_pairs(N);
    char *big = vr_malloc(BIG);
    for (size_t i = 0; i < BIG; i++)
        big[i] = (char)(i * 7 + i / 251);
    for (size_t i = 0; i < N; i++) {
        int sz = 4096;
        setsockopt(pairs[i][0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
        jobs[i] = (struct send_job){.fd = pairs[i][0], .p = big, .len = BIG};
    }
    close(pairs[7][1]); /* a peer that left: EPIPE */
    pairs[7][1] = -1;
    send_pool_run(p, jobs, N, 0);
    CHECK(jobs[7].err == EPIPE || jobs[7].err == ECONNRESET);
    size_t bad = 0;
    for (size_t i = 0; i < N; i++) {
        if (i == 7)
            continue;
        /* the socket filled: a short write, no error; the bytes read are its prefix */
        if (jobs[i].err != 0 || jobs[i].done == 0 || jobs[i].done >= BIG)
            bad++;
        size_t got = 0;
        char rb[65536];
        ssize_t r;
        while ((r = read(pairs[i][1], rb, sizeof rb)) > 0) {
            if (memcmp(rb, big + got, (size_t)r) != 0)
                bad++;
            got += (size_t)r;
        }
        if (got != jobs[i].done)
            bad++;
    }
    CHECK_EQ_INT(bad, 0);
    vr_free(big);
    close_pairs(N);
    send_pool_free(p);
    buf_release(&err);
}

TEST(thread_count_checked)
{
    struct buf err = BUF_INIT(256);
    CHECK(send_pool_new(0, &err) == NULL);
    CHECK(strstr(err.data, "1 to 16") != NULL);
    buf_reset(&err);
    CHECK(send_pool_new(SEND_POOL_MAX_THREADS + 1, &err) == NULL);
    CHECK(strstr(err.data, "17 threads") != NULL);
    struct send_pool *p = send_pool_new(SEND_POOL_MAX_THREADS, &err);
    CHECK(p != NULL);
    send_pool_free(p); /* joins all 15 workers, none ever woken */
    buf_release(&err);
}

TEST_MAIN()

/* test_bench_lg: the load generator's engine (bench/lg.c, included directly). It refuses every
 * target that is not loopback; against a tiny in-process HTTP listener it answers pipelined
 * requests from several source addresses and closes every connection it opened (the process's
 * open fds are counted before and after); a refused connection is closed too. */
#include <pthread.h>

#include "test.h"
#include "unit/fds.h"

#include "../../bench/lg.c"

TEST(lg_refuses_non_loopback)
{
    static const char *const bad[] = {
        "10.0.0.1",    "8.8.8.8", "192.168.1.10", "0.0.0.0",         "128.0.0.1", "::2",
        "2001:db8::1", "::",      "example.com",  "::ffff:10.1.2.3", ""};
    static const char *const good[] = {"127.0.0.1", "127.1.2.3", "::1", "localhost",
                                       "::ffff:127.0.0.1"};
    struct lg lg;
    struct lg_handlers h = {0};
    CHECK_EQ_INT(lg_init(&lg, &h, NULL), 0);
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        lg.err[0] = 0;
        int r = lg_target_set(&lg, bad[i], 8788);
        CHECK_EQ_INT(r, -EPERM);
        CHECK(strstr(lg.err, "refusing") != NULL);
        if (r != -EPERM)
            fprintf(stderr, "accepted %s\n", bad[i]);
    }
    for (size_t i = 0; i < sizeof good / sizeof *good; i++)
        CHECK_EQ_INT(lg_target_set(&lg, good[i], 8788), 0);
    CHECK_EQ_INT(lg_target_set(&lg, "127.0.0.1", 0), -EINVAL);
    lg_free(&lg);
}

/* ---- a tiny HTTP server: one thread per connection, answers each GET with 200 "{}" ---- */

static void *serve_conn(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char buf[8192];
    size_t have = 0;
    for (;;) {
        ssize_t n = read(fd, buf + have, sizeof buf - have);
        if (n <= 0)
            break;
        have += (size_t)n;
        char *end;
        while ((end = memmem(buf, have, "\r\n\r\n", 4)) != NULL) {
            static const char resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}";
            if (write(fd, resp, sizeof resp - 1) < 0)
                break;
            size_t used = (size_t)(end - buf) + 4;
            memmove(buf, buf + used, have - used);
            have -= used;
        }
    }
    close(fd);
    return NULL;
}

struct listener {
    int fd;
    int port;
    int nthreads;
    pthread_t threads[256];
    pthread_t acceptor;
};

static void *accept_loop(void *arg)
{
    struct listener *l = arg;
    for (;;) {
        int fd = accept(l->fd, NULL, NULL);
        if (fd < 0)
            break;
        if (l->nthreads == 256) {
            close(fd);
            continue;
        }
        pthread_create(&l->threads[l->nthreads++], NULL, serve_conn, (void *)(intptr_t)fd);
    }
    return NULL;
}

static int listener_start(struct listener *l)
{
    memset(l, 0, sizeof *l);
    l->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_ANY)};
    socklen_t al = sizeof a;
    if (bind(l->fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(l->fd, 512) < 0 ||
        getsockname(l->fd, (struct sockaddr *)&a, &al) < 0)
        return -1;
    l->port = ntohs(a.sin_port);
    return pthread_create(&l->acceptor, NULL, accept_loop, l);
}

static void listener_stop(struct listener *l)
{
    shutdown(l->fd, SHUT_RDWR);
    pthread_join(l->acceptor, NULL);
    close(l->fd);
    for (int i = 0; i < l->nthreads; i++)
        pthread_join(l->threads[i], NULL);
}

struct counts {
    long responses, bad, closes;
    long want;
};

static void t_open(struct lg *lg, struct lg_conn *c)
{
    for (int i = 0; i < 10; i++)
        lg_http_request(lg, c, "GET", "/x", NULL, 0);
}

static void t_http(struct lg *lg, struct lg_conn *c, int status, const char *body, size_t len)
{
    struct counts *k = lg->ctx;
    k->responses++;
    if (status != 200 || len != 2 || memcmp(body, "{}", 2))
        k->bad++;
    if (k->responses == k->want)
        lg->stop = 1;
}

static void t_close(struct lg *lg, struct lg_conn *c, int err)
{
    struct counts *k = lg->ctx;
    k->closes++;
    if (k->closes == k->want)
        lg->stop = 1;
}

TEST(lg_closes_every_connection)
{
    struct listener l;
    CHECK_EQ_INT(listener_start(&l), 0);
    int before = count_fds();
    struct counts k = {.want = 50 * 10};
    struct lg lg;
    struct lg_handlers h = {.on_open = t_open, .on_http = t_http, .on_close = t_close};
    CHECK_EQ_INT(lg_init(&lg, &h, &k), 0);
    CHECK_EQ_INT(lg_target_set(&lg, "127.0.0.1", l.port), 0);
    for (int i = 0; i < 50; i++)
        CHECK(lg_connect(&lg, LG_HTTP, NULL) != NULL);
    CHECK(count_fds() >= before + 1 + 50); /* the epoll fd, the sockets (+ accepted ones) */
    lg_run(&lg, lg_now() + 10 * 1000000000ull);
    CHECK_EQ_INT(k.responses, 500);
    CHECK_EQ_INT(k.bad, 0);
    CHECK_EQ_INT(lg.opened, 50);
    CHECK_EQ_INT(lg.open_now, 50);
    lg_free(&lg);
    CHECK_EQ_INT(lg.closed, 50);
    listener_stop(&l); /* the server threads see EOF only if the client closed */
    CHECK_EQ_INT(count_fds(), before - 1);
}

TEST(lg_closes_refused_connections)
{
    /* a port nothing listens on: take one, close it */
    struct listener l;
    CHECK_EQ_INT(listener_start(&l), 0);
    int port = l.port;
    listener_stop(&l);
    int before = count_fds();
    struct counts k = {.want = 20};
    struct lg lg;
    struct lg_handlers h = {.on_open = t_open, .on_http = t_http, .on_close = t_close};
    CHECK_EQ_INT(lg_init(&lg, &h, &k), 0);
    CHECK_EQ_INT(lg_target_set(&lg, "127.0.0.1", port), 0);
    for (int i = 0; i < 20; i++)
        CHECK(lg_connect(&lg, LG_WS, "/api/sync") != NULL);
    lg_run(&lg, lg_now() + 5 * 1000000000ull);
    CHECK_EQ_INT(k.closes, 20);
    CHECK_EQ_INT(lg.open_now, 0);
    lg_free(&lg);
    CHECK_EQ_INT(lg.opened, lg.closed);
    CHECK_EQ_INT(count_fds(), before);
}

TEST(lg_nofile)
{
    struct lg lg;
    struct lg_handlers h = {0};
    CHECK_EQ_INT(lg_init(&lg, &h, NULL), 0);
    CHECK_EQ_INT(lg_raise_nofile(&lg, 64), 0);
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < (1u << 30)) {
        /* beyond the hard limit: only root can, and then the message is empty */
        int r = lg_raise_nofile(&lg, (uint64_t)rl.rlim_max + 1000);
        CHECK(r == 0 || strstr(lg.err, "cannot raise the open-file limit") != NULL);
        struct rlimit back = {rl.rlim_cur, rl.rlim_max};
        getrlimit(RLIMIT_NOFILE, &back);
        back.rlim_cur = rl.rlim_cur;
        setrlimit(RLIMIT_NOFILE, &back);
    }
    lg_free(&lg);
}

TEST_MAIN()

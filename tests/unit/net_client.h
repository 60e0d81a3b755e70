/* net_client: the blocking test client of the net unit tests: connects to the server under test
 * on loopback, sends bytes, and pumps the loop while collecting what the server sent. Uses the
 * including file's `L` (the loop) and `S` (the server), so include it after them. */
#ifndef VR_TEST_NET_CLIENT_H
#define VR_TEST_NET_CLIENT_H

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/clock.h"
#include "net/loop.h"
#include "net/server.h"

struct client {
    int fd;
    struct buf in;
    int eof;
};

static struct client cli_connect(void)
{
    struct client c = { .fd = socket(AF_INET, SOCK_STREAM, 0) };
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)server_port(S)) };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(c.fd, (struct sockaddr *)&a, sizeof a) < 0)
        abort();
    int one = 1; /* small writes must not wait for Nagle */
    setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    buf_init(&c.in, 1 << 20);
    return c;
}

static void cli_send(struct client *c, const void *s, size_t n)
{
    if (write(c->fd, s, n) != (ssize_t)n)
        abort();
}

static void stop_loop(struct loop *l, struct timer *t)
{
    loop_stop(l);
}

/* Runs the loop for `ms`, then drains what the client can read without blocking. */
static void pump(struct client *c, unsigned ms)
{
    struct timer t;
    timer_init(&t, stop_loop, NULL);
    uint64_t end = clock_mono_ms() + ms;
    while (clock_mono_ms() < end) {
        loop_timer_start(L, &t, 5);
        loop_run(L);
        for (;;) {
            char b[4096];
            ssize_t n = recv(c->fd, b, sizeof b, MSG_DONTWAIT);
            if (n > 0) {
                buf_append(&c->in, b, (size_t)n);
                continue;
            }
            if (n == 0)
                c->eof = 1;
            break;
        }
    }
    loop_timer_stop(L, &t);
}

#endif

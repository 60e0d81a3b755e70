/* lg: the load generator's engine. One epoll loop on one thread drives many non-blocking client
 * connections to one loopback target, each speaking HTTP/1.1 (keep-alive, pipelined) or a
 * WebSocket (client frames masked). Connections come from several loopback source addresses
 * (127.0.0.2, 127.0.0.3, ...) so 100,000 of them do not exhaust ephemeral ports. Invariants: the
 * target is always loopback (lg_target_set refuses anything else); every fd the engine opened is
 * closed by lg_free; nothing a peer sends grows a buffer past LG_MAX_MESSAGE. */
#ifndef VR_BENCH_LG_H
#define VR_BENCH_LG_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "base/buf.h"

#define LG_MAX_MESSAGE (64u << 20)
#define LG_RTT_RING 1024 /* pipelined HTTP requests in flight per connection, at most */

enum lg_kind { LG_HTTP, LG_WS };
enum lg_state { LG_CONNECTING, LG_UPGRADING, LG_OPEN, LG_CLOSED };

struct lg;
struct lg_conn;

struct lg_handlers {
    /* the connection is usable: TCP connected (HTTP) or upgrade answered 101 (WebSocket) */
    void (*on_open)(struct lg *lg, struct lg_conn *c);
    /* one HTTP response; body borrowed for the call */
    void (*on_http)(struct lg *lg, struct lg_conn *c, int status, const char *body, size_t len);
    /* one complete WebSocket text/binary message; borrowed for the call */
    void (*on_ws)(struct lg *lg, struct lg_conn *c, const char *msg, size_t len);
    /* the connection failed or the peer closed it (err < 0: -errno or -EPROTO) */
    void (*on_close)(struct lg *lg, struct lg_conn *c, int err);
    /* called when the tick deadline (lg_set_tick) passes */
    void (*on_tick)(struct lg *lg);
};

struct lg_conn {
    int fd;
    uint32_t idx; /* position in lg->conns */
    enum lg_kind kind;
    enum lg_state state;
    int want_out;      /* output pending: EPOLLOUT armed */
    struct buf in;     /* unparsed input left over from the previous read */
    struct buf out;    /* bytes not yet accepted by the kernel */
    struct buf frag;   /* a fragmented WebSocket message being reassembled */
    uint32_t inflight; /* HTTP requests sent, not yet answered */
    uint64_t rtt_head; /* ring of send times of in-flight HTTP requests */
    uint64_t *rtt;     /* LG_RTT_RING entries, allocated on first pipelined send */
    uint64_t user;     /* the scenario's */
    uint64_t user2;
};

struct lg {
    int epfd;
    struct sockaddr_storage target;
    socklen_t target_len;
    char host[64];
    int port;
    int nsrc; /* source addresses to rotate through (IPv4 only), 0: let the kernel pick */
    struct lg_conn **conns;
    size_t nconns, capconns;
    size_t opened, closed, open_now;
    struct lg_handlers h;
    void *ctx;        /* the scenario's */
    uint64_t tick_ns; /* 0: none */
    int stop;
    char *scratch; /* read buffer shared by all connections */
    size_t scratch_len;
    uint64_t rng;
    char err[256];
};

/* Parses `host` (numeric IPv4/IPv6 or "localhost") and port; refuses anything that is not
 * 127.0.0.0/8 or ::1 with -EPERM and a message in lg->err. */
int lg_target_set(struct lg *lg, const char *host, int port);
/* 1 if the address is loopback. */
int lg_addr_is_loopback(const struct sockaddr *sa);

int lg_init(struct lg *lg, const struct lg_handlers *h, void *ctx);
/* Closes every connection still open and releases everything; lg->opened == lg->closed after. */
void lg_free(struct lg *lg);

/* Raises RLIMIT_NOFILE to at least `need`; -errno (and a message in lg->err) if it cannot. */
int lg_raise_nofile(struct lg *lg, uint64_t need);

/* Starts a connection; for LG_WS the upgrade to `path` is sent once TCP connects. NULL on error
 * (message in lg->err). */
struct lg_conn *lg_connect(struct lg *lg, enum lg_kind kind, const char *path);
void lg_close(struct lg *lg, struct lg_conn *c);

/* Queues bytes (appended to c->out, flushed by lg_flush or the loop). */
void lg_http_request(struct lg *lg, struct lg_conn *c, const char *method, const char *path,
                     const char *body, size_t len);
void lg_ws_send(struct lg *lg, struct lg_conn *c, const char *msg, size_t len);
void lg_flush(struct lg *lg, struct lg_conn *c);
/* Send time of the oldest HTTP request in flight on c (pipelining keeps them in order). */
uint64_t lg_http_oldest_sent(const struct lg_conn *c);

void lg_set_tick(struct lg *lg, uint64_t at_ns);
/* Runs until lg->stop is set or the monotonic clock passes deadline_ns. 0 or -errno. */
int lg_run(struct lg *lg, uint64_t deadline_ns);

uint64_t lg_now(void);

/* A blocking one-shot HTTP GET/POST on a fresh connection (for /api/metrics and seeding);
 * appends the body to `out`. The HTTP status, or -errno. */
int lg_http_oneshot(struct lg *lg, const char *method, const char *path, const char *body,
                    struct buf *out);

#endif

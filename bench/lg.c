/* lg: the load generator's engine (see lg.h). Connections are never freed before lg_free, so an
 * event for a connection closed earlier in the same epoll batch finds state LG_CLOSED and is
 * skipped. Output is queued per connection and flushed once per loop iteration (the dirty list),
 * so pipelined requests leave in as few writes as possible. */
#include "lg.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "base/mem.h"
#include "base/banned.h"

#define SCRATCH_SIZE (256u << 10)

static struct lg_conn **dirty;
static size_t ndirty, capdirty;

uint64_t lg_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int lg_addr_is_loopback(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        if (IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr))
            return 1;
        if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr))
            return in6->sin6_addr.s6_addr[12] == 127;
    }
    return 0;
}

int lg_target_set(struct lg *lg, const char *host, int port)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICHOST};
    struct addrinfo *ai = NULL;
    const char *h = !strcmp(host, "localhost") ? "127.0.0.1" : host;
    int r = 0;
    if (port <= 0 || port > 65535) {
        snprintf(lg->err, sizeof lg->err, "invalid port %d", port);
        r = -EINVAL;
        goto out;
    }
    if (getaddrinfo(h, NULL, &hints, &ai) != 0 || !ai) {
        snprintf(lg->err, sizeof lg->err,
                 "refusing target \"%s\": not a numeric loopback address (127.0.0.0/8 or ::1)",
                 host);
        r = -EPERM;
        goto out;
    }
    if (!lg_addr_is_loopback(ai->ai_addr)) {
        snprintf(lg->err, sizeof lg->err,
                 "refusing target \"%s\": the load generator only targets loopback "
                 "(127.0.0.0/8 or ::1)",
                 host);
        r = -EPERM;
        goto out;
    }
    memcpy(&lg->target, ai->ai_addr, ai->ai_addrlen);
    lg->target_len = ai->ai_addrlen;
    if (lg->target.ss_family == AF_INET)
        ((struct sockaddr_in *)&lg->target)->sin_port = htons((uint16_t)port);
    else
        ((struct sockaddr_in6 *)&lg->target)->sin6_port = htons((uint16_t)port);
    snprintf(lg->host, sizeof lg->host, "%s", h);
    lg->port = port;
out:
    if (ai)
        freeaddrinfo(ai);
    return r;
}

int lg_init(struct lg *lg, const struct lg_handlers *h, void *ctx)
{
    memset(lg, 0, sizeof *lg);
    lg->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (lg->epfd < 0) {
        snprintf(lg->err, sizeof lg->err, "epoll_create1: %s", strerror(errno));
        return -errno;
    }
    lg->h = *h;
    lg->ctx = ctx;
    lg->nsrc = 8;
    lg->scratch_len = SCRATCH_SIZE;
    lg->scratch = vr_malloc(SCRATCH_SIZE);
    lg->rng = 0x9e3779b97f4a7c15ull ^ lg_now();
    return 0;
}

static void conn_release(struct lg *lg, struct lg_conn *c)
{
    if (c->fd >= 0) {
        epoll_ctl(lg->epfd, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
        c->fd = -1;
        lg->closed++;
        lg->open_now--;
    }
    c->state = LG_CLOSED;
    buf_release(&c->in);
    buf_release(&c->out);
    buf_release(&c->frag);
    vr_free(c->rtt);
    c->rtt = NULL;
}

void lg_free(struct lg *lg)
{
    for (size_t i = 0; i < lg->nconns; i++) {
        conn_release(lg, lg->conns[i]);
        vr_free(lg->conns[i]);
    }
    vr_free(lg->conns);
    lg->conns = NULL;
    lg->nconns = lg->capconns = 0;
    if (lg->epfd >= 0)
        close(lg->epfd);
    lg->epfd = -1;
    vr_free(lg->scratch);
    lg->scratch = NULL;
    vr_free(dirty);
    dirty = NULL;
    ndirty = capdirty = 0;
}

int lg_raise_nofile(struct lg *lg, uint64_t need)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return -errno;
    if (rl.rlim_cur >= need)
        return 0;
    struct rlimit want = {need, rl.rlim_max > need ? rl.rlim_max : need};
    if (setrlimit(RLIMIT_NOFILE, &want) == 0)
        return 0;
    want.rlim_max = rl.rlim_max;
    want.rlim_cur = rl.rlim_max < need ? rl.rlim_max : need;
    int e = errno;
    snprintf(lg->err, sizeof lg->err,
             "cannot raise the open-file limit to %llu (soft %llu, hard %llu): %s; run as root "
             "or raise `ulimit -n`",
             (unsigned long long)need, (unsigned long long)rl.rlim_cur,
             (unsigned long long)rl.rlim_max, strerror(e));
    if (want.rlim_cur > rl.rlim_cur)
        setrlimit(RLIMIT_NOFILE, &want);
    return -e;
}

static void mark_dirty(struct lg_conn *c)
{
    if (c->want_out & 2)
        return;
    c->want_out |= 2;
    if (ndirty == capdirty) {
        capdirty = capdirty ? capdirty * 2 : 256;
        dirty = vr_realloc(dirty, capdirty * sizeof *dirty);
    }
    dirty[ndirty++] = c;
}

static void conn_fail(struct lg *lg, struct lg_conn *c, int err)
{
    if (c->state == LG_CLOSED)
        return;
    conn_release(lg, c);
    if (lg->h.on_close)
        lg->h.on_close(lg, c, err);
}

void lg_close(struct lg *lg, struct lg_conn *c)
{
    conn_release(lg, c);
}

struct lg_conn *lg_connect(struct lg *lg, enum lg_kind kind, const char *path)
{
    struct lg_conn *c = NULL;
    int fd = socket(lg->target.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(lg->err, sizeof lg->err, "socket: %s", strerror(errno));
        goto out;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (lg->nsrc > 0 && lg->target.ss_family == AF_INET) {
        struct sockaddr_in src = {.sin_family = AF_INET};
        src.sin_addr.s_addr = htonl(0x7f000002u + (uint32_t)(lg->opened % (size_t)lg->nsrc));
        setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
        if (bind(fd, (struct sockaddr *)&src, sizeof src) < 0) {
            snprintf(lg->err, sizeof lg->err, "bind to a loopback source address: %s",
                     strerror(errno));
            goto out;
        }
    }
    if (connect(fd, (struct sockaddr *)&lg->target, lg->target_len) < 0 && errno != EINPROGRESS) {
        snprintf(lg->err, sizeof lg->err, "connect to %s:%d: %s", lg->host, lg->port,
                 strerror(errno));
        goto out;
    }
    c = vr_calloc(1, sizeof *c);
    c->fd = fd;
    c->kind = kind;
    c->state = LG_CONNECTING;
    buf_init(&c->in, LG_MAX_MESSAGE + 64);
    buf_init(&c->out, BUF_NOLIMIT);
    buf_init(&c->frag, LG_MAX_MESSAGE);
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = c};
    if (epoll_ctl(lg->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
        snprintf(lg->err, sizeof lg->err, "epoll_ctl: %s", strerror(errno));
        buf_release(&c->in);
        buf_release(&c->out);
        buf_release(&c->frag);
        vr_free(c);
        c = NULL;
        goto out;
    }
    if (lg->nconns == lg->capconns) {
        lg->capconns = lg->capconns ? lg->capconns * 2 : 64;
        lg->conns = vr_realloc(lg->conns, lg->capconns * sizeof *lg->conns);
    }
    c->idx = (uint32_t)lg->nconns;
    lg->conns[lg->nconns++] = c;
    lg->opened++;
    lg->open_now++;
    fd = -1;
    if (kind == LG_WS) {
        buf_appendf(&c->out,
                    "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
                    "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                    "Sec-WebSocket-Version: 13\r\n\r\n",
                    path, lg->host, lg->port);
    }
out:
    if (fd >= 0)
        close(fd);
    return c;
}

static inline uint64_t rng_next(struct lg *lg)
{
    uint64_t x = lg->rng;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return lg->rng = x;
}

void lg_http_request(struct lg *lg, struct lg_conn *c, const char *method, const char *path,
                     const char *body, size_t len)
{
    if (c->state == LG_CLOSED)
        return;
    if (!c->rtt)
        c->rtt = vr_calloc(LG_RTT_RING, sizeof *c->rtt);
    c->rtt[(c->rtt_head + c->inflight) % LG_RTT_RING] = lg_now();
    c->inflight++;
    if (body)
        buf_appendf(&c->out,
                    "%s %s HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: application/json\r\n"
                    "Content-Length: %zu\r\n\r\n",
                    method, path, lg->host, lg->port, len);
    else
        buf_appendf(&c->out, "%s %s HTTP/1.1\r\nHost: %s:%d\r\n\r\n", method, path, lg->host,
                    lg->port);
    if (body)
        buf_append(&c->out, body, len);
    mark_dirty(c);
}

uint64_t lg_http_oldest_sent(const struct lg_conn *c)
{
    return c->rtt && c->inflight ? c->rtt[c->rtt_head % LG_RTT_RING] : 0;
}

static void ws_frame(struct lg *lg, struct lg_conn *c, int opcode, const char *msg, size_t len)
{
    unsigned char hdr[14];
    size_t h = 0;
    hdr[h++] = (unsigned char)(0x80 | opcode);
    if (len < 126) {
        hdr[h++] = (unsigned char)(0x80 | len);
    } else if (len <= 0xffff) {
        hdr[h++] = 0x80 | 126;
        hdr[h++] = (unsigned char)(len >> 8);
        hdr[h++] = (unsigned char)len;
    } else {
        hdr[h++] = 0x80 | 127;
        for (int i = 7; i >= 0; i--)
            hdr[h++] = (unsigned char)((uint64_t)len >> (8 * i));
    }
    uint32_t key = (uint32_t)rng_next(lg);
    unsigned char mask[4];
    memcpy(mask, &key, 4);
    memcpy(hdr + h, mask, 4);
    h += 4;
    buf_append(&c->out, hdr, h);
    buf_grow(&c->out, len);
    unsigned char *dst = (unsigned char *)c->out.data + c->out.len;
    for (size_t i = 0; i < len; i++)
        dst[i] = (unsigned char)msg[i] ^ mask[i & 3];
    c->out.len += len;
    c->out.data[c->out.len] = 0;
}

void lg_ws_send(struct lg *lg, struct lg_conn *c, const char *msg, size_t len)
{
    if (c->state == LG_CLOSED)
        return;
    ws_frame(lg, c, 1, msg, len);
    if (c->state == LG_OPEN)
        mark_dirty(c);
}

void lg_flush(struct lg *lg, struct lg_conn *c)
{
    c->want_out &= ~2;
    if (c->state == LG_CLOSED || c->state == LG_CONNECTING)
        return;
    while (c->out.len) {
        ssize_t n = write(c->fd, c->out.data, c->out.len);
        if (n > 0) {
            buf_consume(&c->out, (size_t)n);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN) {
            c->want_out |= 1;
            return;
        }
        conn_fail(lg, c, n < 0 ? -errno : -EPIPE);
        return;
    }
    c->want_out &= ~1;
}

static void flush_dirty(struct lg *lg)
{
    /* a flush may fail a connection whose on_close queues more: iterate by index */
    for (size_t i = 0; i < ndirty; i++)
        lg_flush(lg, dirty[i]);
    ndirty = 0;
}

/* Parses one HTTP response head; returns its length (through \r\n\r\n), 0 if incomplete, -1 if
 * malformed. *status, *clen (-1: none). */
static long parse_head(const char *p, size_t n, int *status, long *clen)
{
    const char *end = memmem(p, n, "\r\n\r\n", 4);
    if (!end)
        return n > 65536 ? -1 : 0;
    size_t hl = (size_t)(end - p) + 4;
    if (hl < 12 || memcmp(p, "HTTP/1.", 7) != 0)
        return -1;
    *status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
    *clen = -1;
    const char *line = memchr(p, '\n', hl);
    while (line && line + 1 < end) {
        line++;
        if ((size_t)(end - line) > 15 && !strncasecmp(line, "content-length:", 15)) {
            *clen = strtol(line + 15, NULL, 10);
        } else if ((size_t)(end - line) > 18 && !strncasecmp(line, "transfer-encoding:", 18)) {
            return -1; /* chunked answers are not expected from Vireo */
        }
        line = memchr(line, '\n', (size_t)(end - line));
    }
    return (long)hl;
}

static void deliver_ws(struct lg *lg, struct lg_conn *c, const char *m, size_t n)
{
    if (lg->h.on_ws)
        lg->h.on_ws(lg, c, m, n);
}

/* Consumes complete units (responses, frames) from p; returns bytes consumed, or -1 after the
 * connection was failed. */
static long parse_input(struct lg *lg, struct lg_conn *c, char *p, size_t n)
{
    size_t off = 0;
    while (off < n && c->state != LG_CLOSED) {
        char *q = p + off;
        size_t avail = n - off;
        if (c->kind == LG_HTTP || c->state == LG_UPGRADING) {
            int status = 0;
            long clen = -1;
            long hl = parse_head(q, avail, &status, &clen);
            if (hl < 0) {
                conn_fail(lg, c, -EPROTO);
                return -1;
            }
            if (hl == 0)
                break;
            if (c->state == LG_UPGRADING) {
                if (status != 101) {
                    conn_fail(lg, c, -ECONNREFUSED);
                    return -1;
                }
                off += (size_t)hl;
                c->state = LG_OPEN;
                if (c->out.len)
                    mark_dirty(c);
                if (lg->h.on_open)
                    lg->h.on_open(lg, c);
                continue;
            }
            if (clen < 0 || clen > (long)LG_MAX_MESSAGE) {
                conn_fail(lg, c, -EPROTO);
                return -1;
            }
            if (avail < (size_t)hl + (size_t)clen)
                break;
            off += (size_t)hl + (size_t)clen;
            if (c->inflight) {
                c->inflight--;
                c->rtt_head++;
            }
            if (lg->h.on_http)
                lg->h.on_http(lg, c, status, q + hl, (size_t)clen);
            continue;
        }
        /* WebSocket frame (RFC 6455 §5.2); the server does not mask */
        if (avail < 2)
            break;
        unsigned char b0 = (unsigned char)q[0], b1 = (unsigned char)q[1];
        size_t h = 2;
        uint64_t len = b1 & 0x7f;
        if (len == 126) {
            if (avail < 4)
                break;
            len = ((uint64_t)(unsigned char)q[2] << 8) | (unsigned char)q[3];
            h = 4;
        } else if (len == 127) {
            if (avail < 10)
                break;
            len = 0;
            for (int i = 0; i < 8; i++)
                len = (len << 8) | (unsigned char)q[2 + i];
            h = 10;
        }
        if (len > LG_MAX_MESSAGE) {
            conn_fail(lg, c, -EMSGSIZE);
            return -1;
        }
        unsigned char mask[4] = {0};
        if (b1 & 0x80) {
            if (avail < h + 4)
                break;
            memcpy(mask, q + h, 4);
            h += 4;
        }
        if (avail < h + len)
            break;
        char *pl = q + h;
        if (b1 & 0x80)
            for (uint64_t i = 0; i < len; i++)
                pl[i] ^= (char)mask[i & 3];
        off += h + (size_t)len;
        int op = b0 & 0x0f, fin = b0 & 0x80;
        if (op == 8) {
            ws_frame(lg, c, 8, pl, len >= 2 ? 2 : 0);
            lg_flush(lg, c);
            conn_fail(lg, c, -ECONNRESET);
            return -1;
        } else if (op == 9) {
            ws_frame(lg, c, 10, pl, (size_t)len);
            mark_dirty(c);
        } else if (op == 10) {
            /* unsolicited pong: ignored */
        } else if (op == 0 || !fin) {
            if (buf_append(&c->frag, pl, (size_t)len) < 0) {
                conn_fail(lg, c, -EMSGSIZE);
                return -1;
            }
            if (fin) {
                deliver_ws(lg, c, c->frag.data, c->frag.len);
                buf_reset(&c->frag);
            }
        } else {
            deliver_ws(lg, c, pl, (size_t)len);
        }
    }
    return (long)off;
}

static void on_readable(struct lg *lg, struct lg_conn *c)
{
    for (;;) {
        if (c->state == LG_CLOSED)
            return;
        ssize_t n = read(c->fd, lg->scratch, lg->scratch_len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return;
        if (n <= 0) {
            conn_fail(lg, c, n == 0 ? -ECONNRESET : -errno);
            return;
        }
        if (c->in.len) {
            if (buf_append(&c->in, lg->scratch, (size_t)n) < 0) {
                conn_fail(lg, c, -EMSGSIZE);
                return;
            }
            long used = parse_input(lg, c, c->in.data, c->in.len);
            if (used < 0)
                return;
            buf_consume(&c->in, (size_t)used);
            if (!c->in.len)
                buf_release(&c->in);
        } else {
            long used = parse_input(lg, c, lg->scratch, (size_t)n);
            if (used < 0)
                return;
            if ((size_t)used < (size_t)n &&
                buf_append(&c->in, lg->scratch + used, (size_t)n - (size_t)used) < 0) {
                conn_fail(lg, c, -EMSGSIZE);
                return;
            }
        }
    }
}

static void on_event(struct lg *lg, struct lg_conn *c, uint32_t ev)
{
    if (c->state == LG_CLOSED)
        return;
    if (c->state == LG_CONNECTING) {
        if (!(ev & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
            return;
        int err = 0;
        socklen_t el = sizeof err;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
        if (err) {
            conn_fail(lg, c, -err);
            return;
        }
        if (c->kind == LG_WS) {
            c->state = LG_UPGRADING;
            lg_flush(lg, c);
        } else {
            c->state = LG_OPEN;
            if (lg->h.on_open)
                lg->h.on_open(lg, c);
            lg_flush(lg, c);
        }
    }
    if (ev & EPOLLIN)
        on_readable(lg, c);
    if (c->state == LG_CLOSED)
        return;
    if ((ev & EPOLLOUT) && (c->want_out & 1))
        lg_flush(lg, c);
    if ((ev & (EPOLLERR | EPOLLHUP)) && c->state != LG_CLOSED)
        conn_fail(lg, c, -ECONNRESET);
}

void lg_set_tick(struct lg *lg, uint64_t at_ns)
{
    lg->tick_ns = at_ns;
}

int lg_run(struct lg *lg, uint64_t deadline_ns)
{
    struct epoll_event evs[512];
    lg->stop = 0;
    flush_dirty(lg);
    while (!lg->stop) {
        uint64_t now = lg_now();
        if (lg->tick_ns && now >= lg->tick_ns) {
            lg->tick_ns = 0;
            if (lg->h.on_tick)
                lg->h.on_tick(lg);
            flush_dirty(lg);
            continue;
        }
        if (now >= deadline_ns)
            break;
        uint64_t until = deadline_ns;
        if (lg->tick_ns && lg->tick_ns < until)
            until = lg->tick_ns;
        uint64_t wait = until - now;
        struct timespec ts = {(time_t)(wait / 1000000000ull), (long)(wait % 1000000000ull)};
        int n = epoll_pwait2(lg->epfd, evs, 512, &ts, NULL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            snprintf(lg->err, sizeof lg->err, "epoll_pwait2: %s", strerror(errno));
            return -errno;
        }
        for (int i = 0; i < n; i++)
            on_event(lg, evs[i].data.ptr, evs[i].events);
        flush_dirty(lg);
    }
    return 0;
}

int lg_http_oneshot(struct lg *lg, const char *method, const char *path, const char *body,
                    struct buf *out)
{
    int fd = socket(lg->target.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int r = -EIO;
    struct buf req = BUF_INIT(BUF_NOLIMIT), in = BUF_INIT(LG_MAX_MESSAGE);
    if (fd < 0) {
        r = -errno;
        goto out;
    }
    struct timeval tv = {10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&lg->target, lg->target_len) < 0) {
        r = -errno;
        goto out;
    }
    size_t blen = body ? strlen(body) : 0;
    buf_appendf(&req, "%s %s HTTP/1.1\r\nHost: %s:%d\r\nConnection: close\r\n", method, path,
                lg->host, lg->port);
    if (body)
        buf_appendf(&req, "Content-Type: application/json\r\nContent-Length: %zu\r\n", blen);
    buf_append_str(&req, "\r\n");
    if (body)
        buf_append(&req, body, blen);
    for (size_t off = 0; off < req.len;) {
        ssize_t n = write(fd, req.data + off, req.len - off);
        if (n <= 0) {
            r = -errno;
            goto out;
        }
        off += (size_t)n;
    }
    for (;;) {
        int status = 0;
        long clen = -1;
        long hl = in.len ? parse_head(in.data, in.len, &status, &clen) : 0;
        if (hl < 0) {
            r = -EPROTO;
            goto out;
        }
        if (hl > 0 && clen >= 0 && in.len >= (size_t)hl + (size_t)clen) {
            buf_append(out, in.data + hl, (size_t)clen);
            r = status;
            goto out;
        }
        char tmp[16384];
        ssize_t n = read(fd, tmp, sizeof tmp);
        if (n <= 0 || buf_append(&in, tmp, (size_t)n) < 0) {
            r = n < 0 ? -errno : -EPROTO;
            goto out;
        }
    }
out:
    if (fd >= 0)
        close(fd);
    buf_release(&req);
    buf_release(&in);
    return r;
}

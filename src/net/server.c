/* server: the listening socket and its HTTP/1.1 connections: reading into a bounded buffer,
 * parsing one request at a time (pipelined requests wait until the current one is answered, so
 * responses go out in order), limits (431/413/400/408), keep-alive and idle timeouts, buffered
 * output with EPOLLOUT, lingering close, graceful shutdown, and the hand-off to ws.c. Two side
 * paths for big payloads: a request body a head hook streams to a sink as it arrives, and a
 * response body sent from a file (sendfile) as the peer drains it.
 * Invariant: a conn is never freed inside its own callback: conn_close marks it and puts it on
 * the closing list, and the before-sleep hook drops the server's reference. */
#include "net/server.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <linux/sockios.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "base/log.h"
#include "base/mem.h"
#include "net/net_int.h"
#include "net/ws.h"
#include "base/banned.h"

#define READ_CHUNK 65536
#define OUT_HIGH_WATER CONN_OUT_HIGH_WATER /* stop reading while this much output is queued */
#define OUT_BATCH ((size_t)64 << 10) /* answers of pipelined requests sent together up to this */
#define LINGER_MS 1000                     /* after the peer acknowledged our last byte */
#define LINGER_POLL_MS 100      /* until then, how often the kernel's send queue is looked at */
#define REFUSE_SLOTS 256        /* connections past the cap kept open just to answer 503 */
#define FD_RESERVE 64           /* fds left for the database, files, the loop */
#define OUT_KEEP 4096           /* an empty output buffer larger than this gives it back */
#define RETRY_AFTER_MS 1000
#define ACCEPT_BACKOFF_MS 100
#define BODY_RESERVE (256u << 10) /* a declared body's room reserved at once; more later */
#define STREAM_SLACK (64u << 10)  /* chunked framing a streamed body may carry past its data */
#define FILE_BURST (4u << 20)     /* file bytes one flush sends before letting others run */
#define FILE_READ_CHUNK 65536     /* a read of the file where sendfile cannot serve it */

struct server {
    struct loop *loop;
    struct server_config cfg;
    char host[256];
    http_handler_fn handler;
    void *arg;
    http_head_fn head_hook; /* server.h "Streamed request bodies"; NULL: none */
    void *head_arg;
    int lfd;
    int port;
    int shutting_down;
    uint64_t next_id;
    size_t nconns;
    struct conn *conns;
    struct conn *pending;
    struct conn *closing;
    struct timer accept_timer;  /* re-enables accept after EMFILE or a full table */
    size_t nrefused;            /* of nconns: over the cap, answering 503 */
    size_t buffered;            /* sum of every conn's accounted bytes */
    char *scratch;              /* READ_CHUNK bytes a read into an empty input buffer lands in */
    unsigned long accept_fails; /* accept errors during the current back-off (logged once) */
    int accept_paused;
};

static void process_input(struct conn *c);
static void conn_read_end(struct conn *c, ssize_t n);
/* What c->req points at once a connection became a WebSocket (its request struct is given
 * back): an empty request, read by nothing that parses. */
static struct http_request no_request;
static void arm_timer(struct conn *c);
static void stream_abort(struct conn *c);
static void file_release(struct conn *c);
static void ostream_abort(struct conn *c);
static void conn_on_io(struct loop *l, int fd, uint32_t events, void *arg);

void server_config_defaults(struct server_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->host = "127.0.0.1";
    cfg->port = 0;
    cfg->max_header_bytes = 16 * 1024;
    cfg->max_body_bytes = 16 * 1024 * 1024;
    cfg->header_timeout_ms = 10000;
    cfg->idle_timeout_ms = 60000;
    cfg->ws_max_message = 16 * 1024 * 1024;
    cfg->ws_max_send_queue = 16 * 1024 * 1024;
    cfg->ws_ping_interval_ms = 25000;
    cfg->ws_idle_timeout_ms = 60000;
    cfg->max_connections = 100000;
    cfg->max_buffered_bytes = (size_t)1 << 30;
    cfg->min_body_rate = 1024;
    cfg->send_stall_timeout_ms = 30000;
}

const struct server_config *conn_config(const struct conn *c)
{
    static struct server_config fallback;
    if (!c->srv) {
        if (!fallback.max_header_bytes)
            server_config_defaults(&fallback);
        return &fallback;
    }
    return &c->srv->cfg;
}

/* ---- connection lifetime ---- */

uint64_t conn_id(const struct conn *c)
{
    return c->id;
}

int conn_is_closed(const struct conn *c)
{
    return c->closed;
}

int conn_peer_gone(const struct conn *c)
{
    if (c->closed || c->fd < 0)
        return 1;
    char b;
    ssize_t n = recv(c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

int conn_peer_addr(const struct conn *c, char out[CONN_ADDR_MAX])
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    out[0] = '\0';
    if (c->closed || c->fd < 0)
        return -ENOTCONN;
    if (getpeername(c->fd, (struct sockaddr *)&ss, &sl) < 0)
        return -errno;
    const void *a = NULL;
    int family = ss.ss_family;
    if (family == AF_INET) {
        a = &((struct sockaddr_in *)&ss)->sin_addr;
    } else if (family == AF_INET6) {
        const struct in6_addr *a6 = &((struct sockaddr_in6 *)&ss)->sin6_addr;
        a = a6;
        if (IN6_IS_ADDR_V4MAPPED(a6)) {
            family = AF_INET;
            a = a6->s6_addr + 12;
        }
    }
    if (!a || !inet_ntop(family, a, out, CONN_ADDR_MAX)) {
        out[0] = '\0';
        return -EAFNOSUPPORT;
    }
    return 0;
}

struct loop *conn_loop(const struct conn *c)
{
    return c->loop;
}

void conn_ref(struct conn *c)
{
    c->refs++;
}

void conn_unref(struct conn *c)
{
    if (--c->refs > 0)
        return;
    file_release(c);
    buf_release(&c->in);
    buf_release(&c->out);
    if (c->req != &no_request)
        vr_free(c->req);
    vr_free(c);
}

/* Gives back the memory of an empty input buffer (the next read takes a new one: an idle
 * connection holds none, so many idle connections fit in the budget) and of an empty output
 * buffer past OUT_KEEP (a WebSocket's at any size: its frames are mostly written straight from
 * the sender's bytes, ws_send_msgs), and brings the server's budget up to date with what the
 * connection holds now. An input buffer is never released while a request's slices point into
 * it. */
/* What c holds of its input: its buffer and, on a WebSocket, the fragmented message in progress */
static size_t input_held(const struct conn *c)
{
    return c->in.cap + (c->ws ? ws_input_held(c->ws) : 0);
}

void conn_account(struct conn *c)
{
    if (!c->in.len && c->in.cap && !(c->req_active && !c->req_done))
        buf_release(&c->in);
    if (input_held(c) < TRIM_BYTES)
        c->in_big_ms = 0;
    else if (!c->in_big_ms)
        c->in_big_ms = c->loop ? loop_now_ms(c->loop) : 1;
    if (!conn_out_pending(c) && c->out.cap && (c->ws || c->out.cap > OUT_KEEP)) {
        buf_release(&c->out);
        c->out_off = 0;
        c->out_nonframe = 0;
    }
    if (!c->srv || c->closed)
        return; /* conn_close took it off the budget */
    size_t held = input_held(c) + c->out.cap + c->held;
    c->srv->buffered = c->srv->buffered - c->accounted + held;
    c->accounted = held;
}

int conn_over_budget(const struct conn *c)
{
    return c->srv && c->srv->buffered > c->srv->cfg.max_buffered_bytes;
}

void conn_close(struct conn *c)
{
    if (c->closed)
        return;
    c->closed = 1;
    loop_timer_stop(c->loop, &c->timer);
    c->timer_kind = CT_NONE;
    if (c->fd >= 0) {
        loop_del_fd(c->loop, c->fd);
        close(c->fd);
        c->fd = -1;
    }
    file_release(c);
    stream_abort(c);
    ostream_abort(c);
    struct server *s = c->srv;
    if (!s)
        return;
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
    s->nconns--;
    if (c->refused)
        s->nrefused--;
    s->buffered -= c->accounted; /* freed with the conn, after this dispatch */
    c->accounted = 0;
    c->next_closing = s->closing;
    s->closing = c;
    log_debug("http", "conn=%llu closed", (unsigned long long)c->id);
}

void conn_schedule(struct conn *c)
{
    if (c->pending || c->closed || !c->srv)
        return;
    c->pending = 1;
    conn_ref(c);
    c->next_pending = c->srv->pending;
    c->srv->pending = c;
}

static size_t ws_high_water(const struct conn *c)
{
    size_t cap = conn_config(c)->ws_max_send_queue;
    return cap < OUT_HIGH_WATER ? cap : OUT_HIGH_WATER;
}

int conn_ws_input_paused(const struct conn *c)
{
    return conn_out_pending(c) >= ws_high_water(c);
}

void conn_update_events(struct conn *c)
{
    if (c->closed)
        return;
    conn_account(c);
    uint32_t ev = 0;
    if (c->ostream && !c->peer_eof)
        ev |= EPOLLRDHUP; /* a streamed response notices its reader leaving */
    if (!c->peer_eof) {
        if (c->lingering)
            ev |= EPOLLIN;
        else if (c->ws) {
            /* A peer that does not read its output (pongs included) is not read either; nor is
             * one we are failing (its frames are not looked at; linger drains them). */
            if (c->close_after_flush) {
                /* no EPOLLIN until linger */
            } else if (!conn_ws_input_paused(c)) {
                ev |= EPOLLIN;
                if (c->in_paused && c->in.len)
                    conn_schedule(c); /* frames read before the pause */
                c->in_paused = 0;
            } else {
                c->in_paused = 1;
            }
        } else if (!c->close_after_flush && !(c->req_active && !c->req_done) &&
                   conn_out_pending(c) < OUT_HIGH_WATER)
            ev |= EPOLLIN;
    }

    /* EPOLLOUT only once a write hit EAGAIN: output queued by a callback is written by the
     * before-sleep flush, and arming then disarming EPOLLOUT for every message would cost two
     * epoll_ctl calls per message per connection (fan-out to many connections). */
    if (conn_out_pending(c)) {
        if (c->out_blocked)
            ev |= EPOLLOUT;
        else
            conn_schedule(c);
    }
    if (ev != c->events) {
        loop_mod_fd(c->loop, c->fd, ev);
        c->events = ev;
    }
}

static void conn_on_timer(struct loop *l, struct timer *t);

static void conn_timer(struct conn *c, enum conn_timer_kind kind, uint32_t ms)
{
    c->timer_kind = kind;
    loop_timer_start(c->loop, &c->timer, ms);
}

/* Our bytes the kernel still holds for the peer: not sent, or sent and not acknowledged (the
 * FIN of a half-close counts as one). 0 when it cannot tell. */
static size_t unacked_bytes(int fd)
{
    int n = 0;
    if (ioctl(fd, SIOCOUTQ, &n) < 0 || n < 0)
        return 0;
    return (size_t)n;
}

/* The linger's clock (CT_LINGER in net_int.h). Our last bytes may sit in the kernel long after
 * `out` emptied (megabytes, for a peer that reads slowly or not yet); closing the socket then
 * would leave them to a socket that answers any input with a reset, which destroys them: so
 * the linger's LINGER_MS counts from the peer's acknowledgement of the last one, and a peer that
 * takes none of them for the send-stall timeout is closed (they are dropped). */
static void linger_check(struct conn *c)
{
    size_t unacked = unacked_bytes(c->fd);
    uint64_t now = loop_now_ms(c->loop);
    if (!unacked) {
        c->linger_acked = 1;
        conn_timer(c, CT_LINGER, LINGER_MS);
        return;
    }
    if (unacked < c->linger_unacked) {
        c->linger_unacked = unacked;
        c->send_mark_ms = now;
    } else if (now - c->send_mark_ms >= conn_config(c)->send_stall_timeout_ms) {
        log_info("http",
                 "conn=%llu send stalled while closing: %zu bytes unread, none taken for %u ms",
                 (unsigned long long)c->id, unacked, conn_config(c)->send_stall_timeout_ms);
        conn_close(c);
        return;
    }
    conn_timer(c, CT_LINGER, LINGER_POLL_MS);
}

static void start_linger(struct conn *c)
{
    c->lingering = 1;
    if (c->peer_eof) {
        conn_close(c);
        return;
    }
    shutdown(c->fd, SHUT_WR);
    c->linger_unacked = SIZE_MAX;
    log_debug("http", "conn=%llu half-closed: %zu bytes not yet acknowledged",
              (unsigned long long)c->id, unacked_bytes(c->fd));
    linger_check(c);
    conn_update_events(c);
}

void conn_close_after_flush(struct conn *c)
{
    if (c->closed || c->close_after_flush)
        return;
    c->close_after_flush = 1;
    /* a reader that stops draining is closed after the send-stall timeout (conn_on_timer) */
    c->send_mark_ms = loop_now_ms(c->loop);
    conn_timer(c, CT_FLUSH, conn_config(c)->send_stall_timeout_ms);
    if (!conn_out_pending(c))
        start_linger(c);
    else
        conn_update_events(c);
}

static void out_compact(struct conn *c)
{
    if (c->out_off == c->out.len) {
        buf_reset(&c->out);
        c->out_off = 0;
        c->out_nonframe = 0;
        return;
    }
    if (c->out_off < 65536 || c->out_off < c->out.len / 2)
        return;
    size_t k = c->ws ? ws_out_boundary(c, c->out_off, 0) : c->out_off;
    if (!k)
        return;
    buf_consume(&c->out, k);
    c->out_off -= k;
    c->out_nonframe = c->out_nonframe > k ? c->out_nonframe - k : 0;
}

/* Drops a response's file (sent, or the connection is gone). */
static void file_release(struct conn *c)
{
    if (!c->has_file)
        return;
    close(c->file_fd);
    c->file_fd = -1;
    c->has_file = 0;
    c->file_left = 0;
}

/* Sends the response's file once `out` is empty, as far as the socket takes it and at most
 * FILE_BURST per call (one big download does not hold the loop; level-triggered EPOLLOUT brings
 * it back at once). 1: bytes went out by sendfile; 2: a chunk was read into `out` (no sendfile
 * for this file: the caller sends it); 0: none (blocked, or the connection closed). */
static int send_file(struct conn *c)
{
    int progress = 0;
    size_t burst = 0;
    while (c->file_left && burst < FILE_BURST) {
        size_t want = c->file_left < FILE_BURST - burst ? (size_t)c->file_left : FILE_BURST - burst;
        off_t off = (off_t)c->file_off;
        ssize_t n = sendfile(c->fd, c->file_fd, &off, want);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            c->out_blocked = 1;
            return progress;
        }
        if (n < 0 && (errno == EINVAL || errno == ENOSYS) && !progress) {
            /* this file system has no sendfile: a chunk through `out` (bounded by the caller's
             * loop: it comes back here only once `out` is empty) */
            size_t k = want < FILE_READ_CHUNK ? want : FILE_READ_CHUNK;
            buf_reset(&c->out);
            c->out_off = 0;
            buf_reserve(&c->out, k);
            ssize_t r;
            do
                r = pread(c->file_fd, c->out.data, k, (off_t)c->file_off);
            while (r < 0 && errno == EINTR);
            if (r > 0) {
                c->out.len = (size_t)r;
                c->out.data[r] = '\0';
                c->file_off += (uint64_t)r;
                c->file_left -= (uint64_t)r;
                if (!c->file_left)
                    file_release(c);
                return 2;
            }
            n = r;
        }
        if (n <= 0) {
            int gone = n < 0 && (errno == EPIPE || errno == ECONNRESET); /* the client left */
            vr_log(gone ? LOG_DEBUG : LOG_WARN, "http",
                   "conn=%llu sending a file failed: %s (%llu bytes left)",
                   (unsigned long long)c->id, n < 0 ? strerror(errno) : "it got shorter",
                   (unsigned long long)c->file_left);
            conn_close(c);
            return 0;
        }
        c->file_off += (uint64_t)n;
        c->file_left -= (uint64_t)n;
        burst += (size_t)n;
        progress = 1;
    }
    if (!c->file_left)
        file_release(c);
    else
        c->out_blocked = 1; /* the burst is spent: EPOLLOUT resumes it */
    return progress;
}

void conn_flush(struct conn *c)
{
    int progress = 0, file_reads = 0;
    c->out_blocked = 0;
again:
    while (!c->closed && c->out_off < c->out.len) {
        ssize_t n = send(c->fd, c->out.data + c->out_off, c->out.len - c->out_off,
                         MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            c->out_off += (size_t)n;
            progress = 1;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            c->out_blocked = 1;
            break;
        }
        log_debug("http", "conn=%llu write failed: %s", (unsigned long long)c->id,
                  n < 0 ? strerror(errno) : "zero write");
        conn_close(c);
        return;
    }
    if (c->has_file && !c->closed && !c->out_blocked && c->out_off == c->out.len) {
        int r = send_file(c);
        progress |= r == 1;
        if (r == 2 && ++file_reads < (int)(FILE_BURST / FILE_READ_CHUNK))
            goto again;
        if (r == 2)
            c->out_blocked = 1; /* the burst is spent: EPOLLOUT resumes it */
    }
    if (c->closed)
        return;
    if (progress)
        c->send_mark_ms = loop_now_ms(c->loop); /* CT_SEND and CT_FLUSH check it when they fire */
    out_compact(c);
    if (c->ws && !conn_out_pending(c))
        ws_conn_drained(c->ws); /* a close frame queued by ws_close is out */
    if (!conn_out_pending(c) && c->close_after_flush && !c->lingering)
        start_linger(c);
    if (c->timer_kind == CT_SEND && !conn_out_pending(c)) {
        if (c->ws || c->ostream) {
            loop_timer_stop(c->loop, &c->timer);
            c->timer_kind = CT_NONE;
        } else {
            arm_timer(c);
        }
    } else if ((c->ws || c->ostream) && conn_out_pending(c) && c->timer_kind == CT_NONE &&
               !c->close_after_flush) {
        /* a WebSocket's or a streamed response's output waits for the peer: the send-stall
         * timer (a response's is armed by arm_timer) */
        c->send_mark_ms = loop_now_ms(c->loop);
        conn_timer(c, CT_SEND, conn_config(c)->send_stall_timeout_ms);
    }
    if (progress && c->ostream)
        c->ostream->drain(c->ostream, c);
    if (c->closed)
        return;
    conn_update_events(c);
}

/* Writes iov to the socket at once when no output is queued ahead of it (conn_write_now in
 * net_int.h). One sendmsg per IOV_MAX entries; stops at the first short write. */
ssize_t conn_write_now(struct conn *c, const struct iovec *iov, size_t n)
{
    if (c->closed || c->fd < 0 || conn_out_pending(c) || c->close_after_flush)
        return 0;
    size_t total = 0;
    for (size_t i = 0; i < n;) {
        size_t k = n - i < IOV_MAX ? n - i : IOV_MAX, want = 0;
        for (size_t j = 0; j < k; j++)
            want += iov[i + j].iov_len;
        struct msghdr mh = { .msg_iov = (struct iovec *)(iov + i), .msg_iovlen = k };
        ssize_t w = sendmsg(c->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (w <= 0) {
            log_debug("http", "conn=%llu write failed: %s", (unsigned long long)c->id,
                      w < 0 ? strerror(errno) : "zero write");
            conn_close(c);
            return -1;
        }
        total += (size_t)w;
        if ((size_t)w < want)
            break;
        i += k;
    }
    if (total)
        c->send_mark_ms = loop_now_ms(c->loop); /* progress, as conn_flush records it */
    return (ssize_t)total;
}

/* ---- responses ---- */

static int status_has_body(int status)
{
    return status >= 200 && status != 204 && status != 304;
}

static void append_response(struct conn *c, int status, const char *content_type, const void *body,
                            size_t len, const char *headers, int closing, int minor, int head)
{
    struct buf *o = &c->out;
    buf_appendf(o, "HTTP/1.1 %d %s\r\n", status, http_status_text(status));
    if (content_type && status_has_body(status))
        buf_appendf(o, "Content-Type: %s\r\n", content_type);
    if (status_has_body(status))
        buf_appendf(o, "Content-Length: %zu\r\n", len);
    if (closing)
        buf_append_str(o, "Connection: close\r\n");
    else if (minor == 0)
        buf_append_str(o, "Connection: keep-alive\r\n");
    if (headers)
        buf_append_str(o, headers);
    buf_append_str(o, "\r\n");
    if (!head && status_has_body(status) && len)
        buf_append(o, body, len);
}

/* An error found by the server itself: answer and close (no handler involved). */
static void send_error(struct conn *c, int status, const char *why)
{
    log_debug("http", "conn=%llu %d %s", (unsigned long long)c->id, status, why);
    stream_abort(c);
    const char *text = http_status_text(status);
    char body[128];
    int n = snprintf(body, sizeof body, "%s\n", text);
    append_response(c, status, "text/plain; charset=utf-8", body, (size_t)n, NULL, 1, 1, 0);
    conn_close_after_flush(c);
    conn_flush(c);
}

/* Over the buffer budget: the connection that has held a large input (a body or a WebSocket
 * message in progress) the longest, for SHED_AGE_MS or more, is closed to make room, the largest
 * first. Else one client trickling (or stalling) a few 16 MiB messages would keep the memory
 * every other client's requests need, and they would all get 503 / 1013. 1 when one was closed
 * (off the budget at once). */
#define SHED_AGE_MS 10000
static int shed_stalled_input(struct server *s, const struct conn *except)
{
    uint64_t now = loop_now_ms(s->loop);
    struct conn *victim = NULL;
    for (struct conn *c = s->conns; c; c = c->next) {
        if (c == except || c->closed || !c->in_big_ms || now - c->in_big_ms < SHED_AGE_MS)
            continue;
        if (!victim || input_held(c) > input_held(victim))
            victim = c;
    }
    if (!victim)
        return 0;
    log_warn("http",
             "conn=%llu closed: its unfinished %s held %zu bytes for %llu ms while the "
             "server is over its memory budget (--max-buffered-bytes)",
             (unsigned long long)victim->id, victim->ws ? "message" : "request body",
             input_held(victim), (unsigned long long)(now - victim->in_big_ms));
    conn_close(victim);
    return 1;
}

int conn_input_room(struct conn *c, size_t grow)
{
    struct server *s = c->srv;
    while (s && (s->buffered > s->cfg.max_buffered_bytes ||
                 grow > s->cfg.max_buffered_bytes - s->buffered))
        if (!shed_stalled_input(s, c))
            return -1;
    return 0;
}

/* 503 from the server itself (connection cap, buffer budget): a JSON error as http_api's, with
 * retryAfterMs and Retry-After; the connection closes after it. */
static void send_overloaded(struct conn *c, const char *why)
{
    log_debug("http", "conn=%llu 503 %s", (unsigned long long)c->id, why);
    stream_abort(c);
    char body[512], hdr[64];
    int n = snprintf(body, sizeof body,
                     "{\"status\":\"error\",\"errorMessage\":\"server overloaded: %s; retry "
                     "later\",\"errorCode\":\"ServerOverloaded\",\"retryAfterMs\":%d}",
                     why, RETRY_AFTER_MS);
    snprintf(hdr, sizeof hdr, "Retry-After: %d\r\n", (RETRY_AFTER_MS + 999) / 1000);
    int head = c->have_head && slice_eq_str(c->req->method, "HEAD");
    append_response(c, 503, "application/json", body, (size_t)n, hdr, 1, 1, head);
    conn_close_after_flush(c);
    conn_flush(c);
}

void http_respond(struct conn *c, int status, const char *content_type, const void *body,
                  size_t len, const char *headers)
{
    if (c->closed || !c->req_active || c->req_done || c->ws)
        return;
    int closing =
        !c->req->keep_alive || c->draining || (c->srv && c->srv->shutting_down) || c->body_unread;
    int head = slice_eq_str(c->req->method, "HEAD");
    append_response(c, status, content_type, body, len, headers, closing, c->req->minor_version,
                    head);
    c->req_done = 1;
    c->served_one = 1;
    if (closing)
        conn_close_after_flush(c);
    if (!c->in_pipeline || closing)
        conn_flush(c); /* else process_input sends the answers of its pipelined requests at once */
    if (!c->in_dispatch)
        conn_schedule(c); /* next pipelined request, from the before-sleep hook */
}

void http_respond_fd(struct conn *c, int status, const char *content_type, int fd, uint64_t offset,
                     uint64_t len, const char *headers)
{
    if (c->closed || !c->req_active || c->req_done || c->ws || c->has_file) {
        close(fd);
        return;
    }
    int closing =
        !c->req->keep_alive || c->draining || (c->srv && c->srv->shutting_down) || c->body_unread;
    int head = slice_eq_str(c->req->method, "HEAD");
    append_response(c, status, content_type, NULL, (size_t)len, headers, closing,
                    c->req->minor_version, 1);
    if (!head && status_has_body(status) && len) {
        c->has_file = 1;
        c->file_fd = fd;
        c->file_off = offset;
        c->file_left = len;
    } else {
        close(fd);
    }
    c->req_done = 1;
    c->served_one = 1;
    if (closing)
        conn_close_after_flush(c);
    conn_flush(c);
    if (!c->in_dispatch)
        conn_schedule(c);
}

/* ---- streamed responses ---- */

static void ostream_abort(struct conn *c)
{
    struct http_out_stream *k = c->ostream;
    if (!k)
        return;
    c->ostream = NULL;
    k->abort(k, c);
}

int http_stream_begin(struct conn *c, int status, const char *headers, struct http_out_stream *k)
{
    if (c->closed || !c->req_active || c->req_done || c->ws || c->has_file || c->ostream)
        return -1;
    int head = slice_eq_str(c->req->method, "HEAD");
    int minor = c->req->minor_version;
    int closing = !c->req->keep_alive || c->draining || (c->srv && c->srv->shutting_down) ||
                  c->body_unread || minor == 0;
    struct buf *o = &c->out;
    buf_appendf(o, "HTTP/1.1 %d %s\r\n", status, http_status_text(status));
    if (minor >= 1)
        buf_append_str(o, "Transfer-Encoding: chunked\r\n");
    if (closing)
        buf_append_str(o, "Connection: close\r\n");
    if (headers)
        buf_append_str(o, headers);
    buf_append_str(o, "\r\n");
    c->ostream = k;
    c->os_chunked = minor >= 1;
    c->os_nobody = head;
    c->os_closing = closing;
    c->served_one = 1;
    conn_update_events(c); /* flushed by the before-sleep step; EPOLLRDHUP from now on */
    return 0;
}

size_t http_stream_write(struct conn *c, const void *p, size_t n)
{
    if (c->closed || !c->ostream)
        return 0;
    if (n && !c->os_nobody) {
        if (c->os_chunked)
            buf_appendf(&c->out, "%zx\r\n", n);
        buf_append(&c->out, p, n);
        if (c->os_chunked)
            buf_append_str(&c->out, "\r\n");
        conn_update_events(c);
    }
    return conn_out_pending(c);
}

size_t http_stream_pending(const struct conn *c)
{
    return c->closed ? 0 : conn_out_pending(c);
}

void http_stream_end(struct conn *c)
{
    if (c->closed || !c->ostream)
        return;
    c->ostream = NULL;
    if (c->os_chunked && !c->os_nobody)
        buf_append_str(&c->out, "0\r\n\r\n");
    c->req_done = 1;
    if (c->os_closing)
        conn_close_after_flush(c);
    conn_update_events(c);
    if (!c->in_dispatch)
        conn_schedule(c); /* next pipelined request, from the before-sleep hook */
}

void http_stream_fail(struct conn *c)
{
    if (c->closed || !c->ostream)
        return;
    c->ostream = NULL;
    c->req_done = 1;
    conn_close_after_flush(c); /* what was produced goes out; the last chunk never does */
}

/* ---- reading and request assembly ---- */

static void arm_timer(struct conn *c)
{
    if (c->closed || c->ws || c->lingering || c->close_after_flush)
        return;
    const struct server_config *cfg = conn_config(c);
    if (c->req_active) {
        loop_timer_stop(c->loop, &c->timer);
        c->timer_kind = CT_NONE;
    } else if (conn_out_pending(c)) {
        /* a progress timeout: conn_on_timer checks send_mark_ms */
        if (c->timer_kind != CT_SEND || !timer_pending(&c->timer)) {
            c->send_mark_ms = loop_now_ms(c->loop);
            conn_timer(c, CT_SEND, cfg->send_stall_timeout_ms);
        }
    } else if (c->have_head) {
        /* the body: a progress timeout and a minimum rate, not a deadline (body_timer) */
        if (c->timer_kind != CT_BODY || !timer_pending(&c->timer))
            conn_timer(c, CT_BODY, cfg->header_timeout_ms);
    } else if (c->in.len > 0) {
        if (c->timer_kind != CT_HEADER || !timer_pending(&c->timer))
            conn_timer(c, CT_HEADER, cfg->header_timeout_ms);
    } else if (c->timer_kind != CT_IDLE || !timer_pending(&c->timer)) {
        conn_timer(c, CT_IDLE, c->served_one ? cfg->idle_timeout_ms : cfg->header_timeout_ms);
    }
}

/* The body's two rules, checked when its timer fires: no pause over header_timeout_ms (408), and
 * once header_timeout_ms has passed since its head, an average of at least min_body_rate bytes a
 * second (408): a trickle cannot hold its buffer and its slot for long. Re-arms for the earlier
 * of the moments either rule could fail if no byte came meanwhile. */
static void body_timer(struct conn *c, uint64_t now)
{
    const struct server_config *cfg = conn_config(c);
    uint64_t limit = cfg->header_timeout_ms;
    if (now - c->last_rx_ms >= limit) {
        send_error(c, 408, "request body timeout (no progress)");
        return;
    }
    uint64_t next = c->last_rx_ms + limit;
    uint64_t rate = cfg->min_body_rate;
    if (rate) {
        uint64_t got = c->in.len > c->head_len ? c->in.len - c->head_len : 0;
        got += c->stream_rx; /* a streamed body's bytes already given away (0 otherwise) */
        uint64_t elapsed = now - c->body_start_ms;
        if (elapsed >= limit && got * 1000 < rate * elapsed) {
            log_info("http",
                     "conn=%llu 408 request body too slow (%llu bytes in %llu ms, under "
                     "%llu bytes/s)",
                     (unsigned long long)c->id, (unsigned long long)got,
                     (unsigned long long)elapsed, (unsigned long long)rate);
            send_error(c, 408, "request body too slow");
            return;
        }
        /* the average stays at the rate until got * 1000 / rate ms after the head */
        uint64_t due = got * 1000 / rate + 1;
        due = c->body_start_ms + (due > limit ? due : limit);
        if (due < next)
            next = due;
    }
    conn_timer(c, CT_BODY, next > now ? (uint32_t)(next - now) : 1);
}

static void conn_on_timer(struct loop *l, struct timer *t)
{
    struct conn *c = t->arg;
    enum conn_timer_kind kind = c->timer_kind;
    c->timer_kind = CT_NONE;
    switch (kind) {
    case CT_HEADER:
        if (c->in.len > 0 && !c->req_active) {
            send_error(c, 408, "request timeout");
            break;
        }
        conn_close(c);
        break;
    case CT_BODY: {
        if (!c->have_head || c->req_active) {
            arm_timer(c);
            break;
        }
        body_timer(c, loop_now_ms(l));
        break;
    }
    case CT_IDLE:
        log_debug("http", "conn=%llu idle timeout", (unsigned long long)c->id);
        conn_close(c);
        break;
    case CT_SEND:
    case CT_FLUSH: {
        if (!conn_out_pending(c)) {
            if (kind == CT_FLUSH)
                conn_close(c); /* flushed, but the linger never started: nothing to wait for */
            else
                arm_timer(c);
            break;
        }
        uint32_t limit = conn_config(c)->send_stall_timeout_ms;
        uint64_t quiet = loop_now_ms(l) - c->send_mark_ms;
        if (quiet < limit) { /* a byte went out meanwhile: wait from that byte on */
            conn_timer(c, kind, (uint32_t)(limit - quiet));
            break;
        }
        /* The loop may have been busy (a long call) while the peer read: a write that goes
         * through now is progress, not a stall. */
        uint64_t mark = c->send_mark_ms;
        c->timer_kind = kind; /* as armed: conn_flush re-arms nothing while it is set */
        conn_flush(c);
        if (c->closed)
            break;
        if (c->send_mark_ms != mark) {
            if (conn_out_pending(c) && c->timer_kind == kind && !timer_pending(&c->timer))
                conn_timer(c, kind, limit);
            break;
        }
        c->timer_kind = CT_NONE;
        if (c->ws && kind == CT_SEND) {
            ws_conn_stalled(c->ws); /* 1008 "send stalled" */
            break;
        }
        log_info("http", "conn=%llu send stalled: %zu bytes unread, none written for %u ms",
                 (unsigned long long)c->id, conn_out_pending(c), limit);
        conn_close(c);
        break;
    }
    case CT_LINGER:
        if (c->linger_acked)
            conn_close(c);
        else
            linger_check(c);
        break;
    default:
        break;
    }
}

static void reset_request(struct conn *c)
{
    c->stream_rx = 0;
    c->stream_decoded = 0;
    c->req_active = 0;
    c->req_done = 0;
    c->have_head = 0;
    c->sent_continue = 0;
    c->head_len = 0;
    c->req_total = 0;
    loop_timer_stop(c->loop, &c->timer);
    c->timer_kind = CT_NONE;
}

/* If c->in moved (buf_grow reallocated it while the body arrived), the request's slices point
 * into freed memory: parse the head again where it is now (it is unchanged, so it parses the
 * same). Every path that may move c->in while a request is being read comes through here. */
static int rebase_request(struct conn *c)
{
    if (!c->have_head || c->req_base == c->in.data)
        return 0;
    ssize_t r = http_parse_request(c->in.data, c->head_len, c->req);
    if (r != (ssize_t)c->head_len) {
        send_error(c, 500, "request head changed");
        return -1;
    }
    c->req_base = c->in.data;
    return 0;
}

/* ---- streamed request bodies (server.h) ---- */

void server_set_head_hook(struct server *s, http_head_fn hook, void *arg)
{
    s->head_hook = hook;
    s->head_arg = arg;
}

void conn_stream_body(struct conn *c, struct http_body_sink *k)
{
    assert(c->req_active && !c->req_done && c->body_unread && !c->sink);
    c->sink = k;
}

/* The body will not complete: the sink releases what it holds (called once). */
static void stream_abort(struct conn *c)
{
    struct http_body_sink *k = c->sink;
    if (!k)
        return;
    c->sink = NULL;
    k->abort(k, c);
}

/* Offers the head to the hook. 0: not taken (the ordinary path goes on), 1: streamed from now on,
 * -1: answered at once (the connection closes after that answer, its body unread). */
static int stream_begin(struct conn *c)
{
    c->body_unread = 1;
    c->req_active = 1; /* so the hook may answer */
    c->in_dispatch = 1;
    int took = c->srv->head_hook(c, c->req, c->srv->head_arg);
    c->in_dispatch = 0;
    if (!took) {
        assert(!c->req_done && !c->sink);
        c->req_active = 0;
        c->body_unread = 0;
        return 0;
    }
    if (c->sink) {
        c->req_active = 0; /* reading the body, as for an ordinary one */
        c->stream_rx = 0;
        c->stream_decoded = 0;
        return 1;
    }
    assert(c->req_done || c->closed); /* the hook answered */
    c->req_total = c->in.len;
    return -1;
}

/* Gives the body bytes in c->in (after the head) to the sink and drops them; the head stays where
 * it is, so the request's slices stay valid (c->in holds the head and at most one read). Calls
 * the sink's end once the body is complete. 0 in every case: nothing for the handler. */
static int stream_feed(struct conn *c)
{
    char *body = c->in.data + c->head_len;
    size_t avail = c->in.len - c->head_len, give, used;
    int done;
    if (c->req->chunked) {
        size_t decoded = 0;
        ssize_t r = http_chunked_decode(&c->chunk, body, avail, &decoded);
        if (r == HTTP_ERROR) {
            send_error(c, 400, "malformed chunked body");
            return 0;
        }
        give = decoded;
        used = c->chunk.in_pos; /* all of avail unless the end came first */
        done = r >= 0;
        uint64_t framing = c->stream_rx + used - c->stream_decoded - give;
        if (framing > STREAM_SLACK + c->stream_decoded + give) {
            send_error(c, 400, "chunked body framing out of proportion to its data");
            return 0;
        }
    } else {
        uint64_t left = (uint64_t)c->req->content_length - c->stream_decoded;
        give = avail < left ? avail : (size_t)left;
        used = give;
        done = give == left;
    }
    if (give) {
        struct http_body_sink *k = c->sink;
        c->sink = NULL;    /* a close inside the call does not abort it under its feet */
        c->req_active = 1; /* so the sink may answer */
        c->in_dispatch = 1;
        int r = k->data(k, c, body, give);
        c->in_dispatch = 0;
        if (r < 0) { /* answered (an error) and released */
            c->req_total = c->in.len;
            if (!c->req_done)
                conn_close(c);
            return 0;
        }
        c->req_active = 0;
        if (c->closed) {
            k->abort(k, c);
            return 0;
        }
        c->sink = k;
        c->stream_decoded += give;
    }
    c->stream_rx += used;
    /* what follows the body (a pipelined request) moves up behind the head */
    memmove(body, body + used, avail - used);
    c->in.len -= used;
    c->in.data[c->in.len] = '\0';
    c->chunk.in_pos = 0;
    c->chunk.out_pos = 0;
    if (!done) {
        if (!c->sent_continue && c->req->minor_version >= 1 &&
            http_header_has_token(http_header_get(c->req, "expect"), "100-continue")) {
            c->sent_continue = 1;
            buf_append_str(&c->out, "HTTP/1.1 100 Continue\r\n\r\n");
            conn_flush(c);
        }
        return 0;
    }
    struct http_body_sink *k = c->sink;
    c->sink = NULL;
    c->body_unread = 0;
    c->req->body = slice_of(body, 0);
    c->req_total = c->head_len;
    c->req_active = 1; /* answered like a handler's request: now (it is scheduled) or later */
    k->end(k, c, c->req);
    return 0;
}

/* Tries to complete the current request from c->in. 1: ready for the handler, 0: need more,
 * -1: answered with an error. */
static int assemble_request(struct conn *c)
{
    const struct server_config *cfg = conn_config(c);
    if (rebase_request(c) < 0)
        return -1;
    if (c->sink)
        return stream_feed(c);
    assert(c->req != &no_request);
    if (!c->have_head) {
        ssize_t r = http_parse_request(c->in.data, c->in.len, c->req);
        if (r == HTTP_TOO_MANY_HEADERS) {
            send_error(c, 431, "too many header fields");
            return -1;
        }
        if (r == HTTP_PARTIAL) {
            if (c->in.len > cfg->max_header_bytes) {
                send_error(c, 431, "request header fields too large");
                return -1;
            }
            return 0;
        }
        if (r == HTTP_ERROR) {
            send_error(c, 400, "malformed request");
            return -1;
        }
        if ((size_t)r > cfg->max_header_bytes) {
            send_error(c, 431, "request header fields too large");
            return -1;
        }
        c->have_head = 1;
        c->head_len = (size_t)r;
        c->req_base = c->in.data;
        c->body_start_ms = loop_now_ms(c->loop);
        http_chunked_init(&c->chunk);
        if (c->refused) {
            send_overloaded(c, "too many connections");
            return -1;
        }
        if (c->srv && c->srv->head_hook && (c->req->content_length > 0 || c->req->chunked)) {
            int taken = stream_begin(c);
            if (taken < 0)
                return -1;
            if (taken > 0)
                return stream_feed(c);
        }
        if (c->req->content_length > 0 &&
            (unsigned long long)c->req->content_length > (unsigned long long)cfg->max_body_bytes) {
            send_error(c, 413, "content-length over the body limit");
            return -1;
        }
        /* A new request needs room for its body (at least one read) within the budget. */
        size_t need =
            (c->req->content_length > 0 ? (size_t)c->req->content_length : 0) + READ_CHUNK;
        if (conn_input_room(c, need) < 0) {
            send_overloaded(c, "buffered data over the memory budget");
            return -1;
        }
        if (!c->req->chunked && c->req->content_length > READ_CHUNK) {
            /* Room for a known length is reserved up to BODY_RESERVE only: what a body holds
             * follows what it sent (a trickle holds little), and conn_read grows the buffer as
             * the bytes arrive (doubling, never past the body's end, which it reads no further
             * than). */
            size_t cl = (size_t)c->req->content_length;
            buf_reserve(&c->in, c->head_len + (cl < BODY_RESERVE ? cl : BODY_RESERVE));
            conn_account(c);
            if (rebase_request(c) < 0)
                return -1;
        }
    }
    size_t avail = c->in.len - c->head_len;
    char *body = c->in.data + c->head_len;
    int complete = 0;
    if (c->req->chunked) {
        size_t decoded = 0;
        ssize_t r = http_chunked_decode(&c->chunk, body, avail, &decoded);
        if (r == HTTP_ERROR) {
            send_error(c, 400, "malformed chunked body");
            return -1;
        }
        if (decoded > cfg->max_body_bytes || c->chunk.chunk_left > cfg->max_body_bytes - decoded) {
            send_error(c, 413, "chunked body over the limit");
            return -1;
        }
        if (r >= 0) {
            complete = 1;
            c->req->body = slice_of(body, decoded);
            c->req_total = c->head_len + (size_t)r;
        }
    } else {
        size_t cl = c->req->content_length > 0 ? (size_t)c->req->content_length : 0;
        if (avail >= cl) {
            complete = 1;
            c->req->body = slice_of(body, cl);
            c->req_total = c->head_len + cl;
        }
    }
    if (complete)
        return 1;
    if (!c->sent_continue && c->req->minor_version >= 1 &&
        http_header_has_token(http_header_get(c->req, "expect"), "100-continue")) {
        c->sent_continue = 1;
        buf_append_str(&c->out, "HTTP/1.1 100 Continue\r\n\r\n");
        conn_flush(c);
    }
    if (c->in.len >= c->in.max) {
        send_error(c, 413, "request body over the buffer limit");
        return -1;
    }
    return 0;
}

static void process_input(struct conn *c)
{
    if (c->closed)
        return;
    conn_ref(c);
    for (;;) {
        if (c->closed)
            break;
        if (c->req_active && !c->req_done)
            break;
        if (c->req_done) {
            buf_consume(&c->in, c->req_total);
            reset_request(c);
            if (c->ws && c->req != &no_request) {
                /* upgraded: no request is parsed on this connection again */
                vr_free(c->req);
                c->req = &no_request;
            }
        }
        if (c->ws) {
            ws_conn_open(c->ws);
            if (!c->closed && c->ws && !c->close_after_flush)
                ws_conn_input(c->ws);
            break;
        }
        if (c->close_after_flush || c->draining || c->in.len == 0)
            break;
        if (conn_out_pending(c) >= OUT_BATCH && !c->out_blocked)
            conn_flush(c);
        if (c->closed || conn_out_pending(c) >= OUT_HIGH_WATER)
            break;
        int r = assemble_request(c);
        if (r <= 0)
            break;
        c->req_active = 1;
        c->in_dispatch = c->in_pipeline = 1;
        c->srv->handler(c, c->req, c->srv->arg);
        c->in_dispatch = c->in_pipeline = 0;
    }
    /* the answers given during the loop: one send for a batch of pipelined requests (one per
     * answer was 2/3 of the server's CPU for cached query answers) */
    if (!c->closed && !c->ws && !c->out_blocked && conn_out_pending(c))
        conn_flush(c);
    if (!c->closed && !c->ws) {
        if (c->peer_eof && !c->req_active && !conn_out_pending(c))
            conn_close(c);
        else
            arm_timer(c);
    }
    conn_update_events(c);
    conn_unref(c);
}

/* The capacity c->in grows to for `need` bytes (its NUL included): doubling, as buf_grow, but
 * never past a known-length body's end nor past the buffer's maximum. */
static size_t in_grown_cap(const struct conn *c, size_t need)
{
    size_t cap = c->in.cap ? c->in.cap : 64;
    while (cap < need)
        cap *= 2;
    if (c->have_head && !c->req->chunked && !c->ws) {
        size_t end =
            c->head_len + (size_t)(c->req->content_length > 0 ? c->req->content_length : 0) + 1;
        if (cap > end)
            cap = end > need ? end : need;
    }
    if (cap > c->in.max + 1)
        cap = c->in.max + 1;
    return cap;
}

static void conn_read(struct conn *c)
{
    if (c->lingering) {
        char sink[4096];
        ssize_t n = recv(c->fd, sink, sizeof sink, MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
            conn_close(c);
        return;
    }
    if (c->req_active && !c->req_done)
        return; /* the request's slices point into c->in: it must not move until answered */
    size_t room = c->in.max - c->in.len;
    if (room == 0) {
        process_input(c);
        return;
    }
    size_t want = room < READ_CHUNK ? room : READ_CHUNK;
    if (c->sink && !c->req->chunked) {
        /* a streamed body of known length: up to its end (what was read is given away) */
        uint64_t left =
            (uint64_t)c->req->content_length - c->stream_decoded - (c->in.len - c->head_len);
        if (left < want)
            want = (size_t)left;
        if (!want)
            return;
    } else if (c->have_head && !c->req->chunked && !c->ws) {
        /* a body of known length: read up to its end only (its room is reserved) */
        size_t end =
            c->head_len + (size_t)(c->req->content_length > 0 ? c->req->content_length : 0);
        if (end > c->in.len && end - c->in.len < want)
            want = end - c->in.len;
    }
    if (!c->in.len && !c->sink && !c->have_head && c->srv) {
        /* nothing buffered (an idle connection holds no input buffer): read into the server's
         * scratch and keep only what arrived, so a connection does not take READ_CHUNK bytes
         * for each small message */
        if (!c->srv->scratch)
            c->srv->scratch = vr_malloc(READ_CHUNK);
        ssize_t n = recv(c->fd, c->srv->scratch, want, MSG_DONTWAIT);
        if (n > 0) {
            buf_append(&c->in, c->srv->scratch, (size_t)n); /* n <= want <= room: fits */
            c->last_rx_ms = loop_now_ms(c->loop);
            conn_account(c);
            process_input(c);
            return;
        }
        conn_read_end(c, n);
        return;
    }
    if (c->in.len + want + 1 > c->in.cap) {
        size_t cap = in_grown_cap(c, c->in.len + want + 1);
        if (c->srv && c->in.cap >= TRIM_BYTES) {
            /* growing a large buffer (a body or message) past the global budget: refused */
            if (conn_input_room(c, cap - c->in.cap) < 0) {
                if (c->ws)
                    ws_conn_overloaded(c->ws);
                else
                    send_overloaded(c, "buffered data over the memory budget");
                return;
            }
        }
        buf_reserve(&c->in, cap - 1);
        if (rebase_request(c) < 0) /* c->in may have moved: no slice may dangle, even briefly */
            return;
    }
    ssize_t n = recv(c->fd, c->in.data + c->in.len, want, MSG_DONTWAIT);
    if (n > 0) {
        c->in.len += (size_t)n;
        c->in.data[c->in.len] = '\0';
        c->last_rx_ms = loop_now_ms(c->loop);
        conn_account(c);
        process_input(c);
        return;
    }
    conn_read_end(c, n);
}

/* A read that brought no bytes (n <= 0): EOF or an error, or nothing yet. */
static void conn_read_end(struct conn *c, ssize_t n)
{
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    /* EOF or error */
    if (n < 0)
        log_debug("http", "conn=%llu read failed: %s", (unsigned long long)c->id, strerror(errno));
    if (n < 0 || c->ws) {
        conn_close(c);
        return;
    }
    c->peer_eof = 1;
    if ((c->req_active && !c->req_done) || conn_out_pending(c)) {
        conn_update_events(c);
        return;
    }
    conn_close(c);
}

static void conn_on_io(struct loop *l, int fd, uint32_t events, void *arg)
{
    struct conn *c = arg;
    conn_ref(c);
    if (events & EPOLLOUT)
        conn_flush(c);
    if (!c->closed && (events & EPOLLIN))
        conn_read(c);
    if (!c->closed && (events & (EPOLLHUP | EPOLLERR)) && !(events & EPOLLIN))
        conn_close(c);
    if (!c->closed && c->ostream && (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))) {
        log_debug("http", "conn=%llu left during a streamed response", (unsigned long long)c->id);
        conn_close(c);
    }
    if (!c->closed && (events & EPOLLOUT) && !conn_out_pending(c) && !c->ws && c->in.len &&
        !c->req_active)
        process_input(c); /* output drained below the high-water mark: resume */
    if (!c->closed && (events & EPOLLOUT))
        conn_update_events(c); /* a paused WebSocket resumes reading */
    conn_unref(c);
}

/* ---- listener ---- */

static void accept_resume(struct loop *l, struct timer *t)
{
    struct server *s = t->arg;
    if (s->lfd >= 0)
        loop_mod_fd(l, s->lfd, EPOLLIN);
}

/* Stops accepting for ACCEPT_BACKOFF_MS (out of fds, or the refusal slots are full too): the
 * kernel's backlog holds new clients meanwhile. Logged once per episode, not once per try. */
static void accept_backoff(struct server *s, const char *why)
{
    if (!s->accept_paused)
        log_warn("http", "accept paused: %s; retrying every %d ms", why, ACCEPT_BACKOFF_MS);
    s->accept_paused = 1;
    s->accept_fails++;
    loop_mod_fd(s->loop, s->lfd, 0);
    loop_timer_start(s->loop, &s->accept_timer, ACCEPT_BACKOFF_MS);
}

static void on_accept(struct loop *l, int lfd, uint32_t events, void *arg)
{
    struct server *s = arg;
    for (int i = 0; i < 256 && !s->shutting_down; i++) {
        if (s->nconns >= s->cfg.max_connections + REFUSE_SLOTS) {
            accept_backoff(s, "connection table full");
            break;
        }
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
                accept_backoff(s, strerror(errno));
            break;
        }
        if (s->accept_paused) {
            log_info("http", "accepting again (%lu back-offs)", s->accept_fails);
            s->accept_paused = 0;
            s->accept_fails = 0;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        struct conn *c = vr_calloc(1, sizeof *c);
        c->srv = s;
        c->loop = l;
        c->fd = fd;
        c->id = ++s->next_id;
        c->refs = 1; /* the server's */
        c->file_fd = -1;
        c->req = vr_calloc(1, sizeof *c->req);
        buf_init(&c->in, s->cfg.max_header_bytes + s->cfg.max_body_bytes + READ_CHUNK);
        buf_init(&c->out, BUF_NOLIMIT);
        timer_init(&c->timer, conn_on_timer, c);
        if (loop_add_fd(l, fd, EPOLLIN, conn_on_io, c) < 0) {
            close(fd);
            conn_unref(c);
            continue;
        }
        c->events = EPOLLIN;
        c->next = s->conns;
        if (s->conns)
            s->conns->prev = c;
        s->conns = c;
        s->nconns++;
        if (s->nconns - s->nrefused > s->cfg.max_connections) {
            c->refused = 1; /* answered 503 once its request head arrives */
            s->nrefused++;
            log_debug("http", "conn=%llu over the connection cap (%zu)", (unsigned long long)c->id,
                      s->cfg.max_connections);
        }
        arm_timer(c);
    }
}

static void server_before_sleep(struct loop *l, void *arg)
{
    struct server *s = arg;
    while (s->pending) {
        struct conn *c = s->pending;
        s->pending = c->next_pending;
        c->next_pending = NULL;
        c->pending = 0;
        if (!c->closed) {
            process_input(c);
            if (!c->closed && conn_out_pending(c))
                conn_flush(c);
        }
        conn_unref(c);
    }
    while (s->closing) {
        struct conn *c = s->closing;
        s->closing = c->next_closing;
        c->next_closing = NULL;
        if (c->ws) {
            struct ws *ws = c->ws;
            ws_conn_gone(ws); /* clears c->ws */
        }
        c->srv = NULL;
        conn_unref(c);
    }
}

static int listen_on(const char *host, int port, struct buf *err)
{
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                              .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
    struct addrinfo *res = NULL;
    char portstr[16];
    snprintf(portstr, sizeof portstr, "%d", port);
    int fd = -1, r = getaddrinfo(host, portstr, &hints, &res);
    if (r != 0) {
        if (err)
            buf_appendf(err, "listen on \"%s\": %s", host, gai_strerror(r));
        fd = -EINVAL;
        goto out;
    }
    int last = 0;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            last = errno;
            continue;
        }
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 1024) == 0)
            goto out;
        last = errno;
        close(fd);
        fd = -1;
    }
    if (err)
        buf_appendf(err, "listen on \"%s\" port %d: %s", host, port, strerror(last));
    fd = last ? -last : -EINVAL;
out:
    if (res)
        freeaddrinfo(res);
    return fd;
}

int server_start(struct loop *l, const struct server_config *cfg, http_handler_fn handler,
                 void *arg, struct server **out, struct buf *err)
{
    struct server *s = vr_calloc(1, sizeof *s);
    int r = 0;
    s->loop = l;
    s->cfg = *cfg;
    s->handler = handler;
    s->arg = arg;
    s->lfd = -1;
    snprintf(s->host, sizeof s->host, "%s", cfg->host ? cfg->host : "127.0.0.1");
    s->cfg.host = s->host;
    struct server_config def;
    server_config_defaults(&def);
    if (!s->cfg.max_header_bytes)
        s->cfg.max_header_bytes = def.max_header_bytes;
    if (!s->cfg.max_body_bytes)
        s->cfg.max_body_bytes = def.max_body_bytes;
    if (!s->cfg.header_timeout_ms)
        s->cfg.header_timeout_ms = def.header_timeout_ms;
    if (!s->cfg.idle_timeout_ms)
        s->cfg.idle_timeout_ms = def.idle_timeout_ms;
    if (!s->cfg.ws_max_message)
        s->cfg.ws_max_message = def.ws_max_message;
    if (!s->cfg.ws_max_send_queue)
        s->cfg.ws_max_send_queue = def.ws_max_send_queue;
    if (!s->cfg.max_connections)
        s->cfg.max_connections = def.max_connections;
    if (!s->cfg.max_buffered_bytes)
        s->cfg.max_buffered_bytes = def.max_buffered_bytes;
    if (!s->cfg.send_stall_timeout_ms)
        s->cfg.send_stall_timeout_ms = def.send_stall_timeout_ms;
    /* Every connection is an fd: raise the soft limit to the hard one, and keep the cap (plus the
     * slots that answer 503) under it. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        if (rl.rlim_cur < rl.rlim_max) {
            rlim_t want = rl.rlim_max;
            rl.rlim_cur = want;
            if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
                getrlimit(RLIMIT_NOFILE, &rl);
        }
        size_t fds = rl.rlim_cur == RLIM_INFINITY ? (size_t)-1 : (size_t)rl.rlim_cur;
        size_t room = fds > FD_RESERVE + REFUSE_SLOTS + 16 ? fds - FD_RESERVE - REFUSE_SLOTS : 16;
        if (s->cfg.max_connections > room) {
            /* said out loud only when a chosen cap is lowered, not the default */
            if (s->cfg.max_connections != def.max_connections)
                log_info("http", "max connections lowered from %zu to %zu (open file limit %zu)",
                         s->cfg.max_connections, room, fds);
            else
                log_debug("http", "max connections %zu (open file limit %zu)", room, fds);
            s->cfg.max_connections = room;
        }
    }
    timer_init(&s->accept_timer, accept_resume, s);

    int fd = listen_on(s->host, cfg->port, err);
    if (fd < 0) {
        r = fd;
        goto out;
    }
    s->lfd = fd;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
        s->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                 : ((struct sockaddr_in *)&ss)->sin_port);
    r = loop_add_fd(l, fd, EPOLLIN, on_accept, s);
    if (r < 0) {
        if (err)
            buf_appendf(err, "listen: epoll: %s", strerror(-r));
        goto out;
    }
    loop_add_before_sleep(l, server_before_sleep, s);
out:
    if (r < 0) {
        if (s->lfd >= 0)
            close(s->lfd);
        vr_free(s);
        s = NULL;
    }
    *out = s;
    return r;
}

int server_port(const struct server *s)
{
    return s->port;
}

size_t server_conn_count(const struct server *s)
{
    return s->nconns;
}

size_t server_max_connections(const struct server *s)
{
    return s->cfg.max_connections;
}

size_t server_buffered_bytes(const struct server *s)
{
    return s->buffered;
}

static void close_listener(struct server *s)
{
    if (s->lfd < 0)
        return;
    loop_del_fd(s->loop, s->lfd);
    close(s->lfd);
    s->lfd = -1;
    loop_timer_stop(s->loop, &s->accept_timer);
}

void server_shutdown(struct server *s)
{
    s->shutting_down = 1;
    close_listener(s);
    struct conn *next;
    for (struct conn *c = s->conns; c; c = next) {
        next = c->next;
        if (c->ws) {
            ws_close(c->ws, WS_CLOSE_GOING_AWAY, "server shutting down");
        } else if (c->req_active && !c->req_done) {
            c->draining = 1; /* the response will carry Connection: close */
        } else if (conn_out_pending(c)) {
            c->draining = 1;
            conn_close_after_flush(c);
        } else {
            conn_close(c);
        }
    }
}

void server_free(struct server *s)
{
    if (!s)
        return;
    close_listener(s);
    while (s->conns)
        conn_close(s->conns);
    while (s->pending) {
        struct conn *c = s->pending;
        s->pending = c->next_pending;
        c->pending = 0;
        conn_unref(c);
    }
    server_before_sleep(s->loop, s);
    loop_del_before_sleep(s->loop, server_before_sleep, s);
    vr_free(s->scratch);
    vr_free(s);
}

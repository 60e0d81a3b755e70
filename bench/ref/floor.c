/* floor: what the kernel alone costs, for `make bench` to compare Vireo against (docs/benchmarks.md,
 * "The floor"). `floor serve` is a server speaking just enough of Vireo's sync protocol for the
 * loadgen's fanout, push-latency and mutations scenarios (WebSocket upgrade, connect,
 * modifyQuerySet, mutation, GET /api/metrics), with a fixed keep-alive answer to POST /api/query
 * for http-query. Each mutation's transition frame is encoded once and written to every
 * subscriber of its channel with plain send(), io_uring batches of IORING_OP_SEND, or send()
 * split over threads (--mode); with --sync-dir the mutations read in one loop iteration first get
 * one append + fdatasync there (group commit: what durability full cannot skip). `floor push`
 * measures the parts of a push: a loopback WebSocket ping-pong (writer -> server -> subscriber is
 * one round trip) and an append + fdatasync in a directory. Invariants: it listens on loopback
 * only; every connection it accepted is closed before it exits; nothing a peer sends grows a
 * buffer past FLOOR_MAX_IN. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#ifdef HAVE_LIBURING
#include <liburing.h>
#endif

#include "base/base64.h"
#include "base/buf.h"
#include "base/mem.h"
#include "../hist.h"
#include "base/banned.h"

#define FLOOR_MAX_IN (64u << 10) /* a request head or client message, at most */
#define FLOOR_MAX_THREADS 16
#define FLOOR_URING_BATCH 4096u /* sends per io_uring_enter */
#define SYNC_APPEND 4120        /* one SQLite WAL frame: a 24-byte header and a 4 KiB page */

enum floor_mode { FLOOR_SEND, FLOOR_URING, FLOOR_THREADS };

struct fconn {
    int fd;
    int ws;      /* upgraded to a WebSocket */
    int sub;     /* in the subscriber list */
    int closing; /* close after the current dispatch (set by a failed send, maybe off-thread) */
    int want_out;
    size_t sub_idx;   /* its slot in subs when sub */
    char channel[32]; /* the subscription's args.channel ("" if none) */
    struct buf in;
    struct buf out; /* bytes the kernel did not take yet */
};

struct floor_srv;

struct floor_worker {
    struct floor_srv *s;
    pthread_t th;
    size_t lo, hi; /* the share of subs this worker writes, set per broadcast */
};

struct floor_srv {
    int lfd, epfd;
    int port;
    enum floor_mode mode;
    int nthreads;
    struct fconn **byfd; /* indexed by fd */
    size_t capfd;
    struct fconn **subs;
    size_t nsubs, capsubs;
    struct fconn **to; /* a broadcast's recipients: subs, or match */
    size_t nto;
    struct fconn **match; /* the subscribers of one channel when they are not all on it */
    size_t capmatch;
    int mixed;   /* subscribers are on more than one channel */
    int sync_fd; /* --sync-dir: the file appended and synced per loop iteration, or -1 */
    uint64_t syncs, http_answers;
    struct pend {
        struct fconn *c;
        long req;
        size_t off, len; /* its args in pend_args */
    } *pend;             /* mutations waiting for this iteration's sync */
    size_t npend, cappend;
    struct buf pend_args;
    char sync_path[4200];
    size_t accepted, closed;
    uint64_t version, broadcasts, sends;
    struct hist bcast; /* time to hand one frame to every subscriber's socket, in the server */
    volatile sig_atomic_t *stop;
    const char *frame; /* the frame being broadcast */
    size_t frame_len;
    struct buf fb;  /* the broadcast frame's bytes */
    struct buf msg; /* scratch */
#ifdef HAVE_LIBURING
    struct io_uring ring;
    int ring_ok;
#endif
    /* --mode threads: workers 1..n-1 (the loop thread is worker 0) */
    struct floor_worker w[FLOOR_MAX_THREADS];
    pthread_mutex_t mu;
    pthread_cond_t go, done;
    uint64_t gen;
    int pending, quit, threads_started;
    char err[256];
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- pieces the tests reach ---- */

/* Appends one unmasked server frame (RFC 6455 §5.2) with opcode `op` and payload (p, n). */
void floor_ws_frame(struct buf *out, int op, const char *p, size_t n)
{
    unsigned char h[10];
    size_t k = 0;
    h[k++] = (unsigned char)(0x80 | op);
    if (n < 126) {
        h[k++] = (unsigned char)n;
    } else if (n <= 0xffff) {
        h[k++] = 126;
        h[k++] = (unsigned char)(n >> 8);
        h[k++] = (unsigned char)n;
    } else {
        h[k++] = 127;
        for (int i = 7; i >= 0; i--)
            h[k++] = (unsigned char)((uint64_t)n >> (8 * i));
    }
    buf_append(out, h, k);
    buf_append(out, p, n);
}

/* Parses one client frame at p (n bytes available), unmasking its payload in place. Returns the
 * bytes consumed (*op, *pl, *plen set), 0 if incomplete, -1 if invalid: unmasked (§5.1: a client
 * masks every frame), fragmented (the loadgen never fragments), or longer than FLOOR_MAX_IN. */
long floor_ws_parse(char *p, size_t n, int *op, char **pl, size_t *plen)
{
    if (n < 2)
        return 0;
    unsigned char b0 = (unsigned char)p[0], b1 = (unsigned char)p[1];
    if (!(b1 & 0x80) || !(b0 & 0x80) || (b0 & 0x70))
        return -1;
    uint64_t len = b1 & 0x7f;
    size_t h = 2;
    if (len == 126) {
        if (n < 4)
            return 0;
        len = ((uint64_t)(unsigned char)p[2] << 8) | (unsigned char)p[3];
        h = 4;
    } else if (len == 127) {
        if (n < 10)
            return 0;
        len = 0;
        for (int i = 0; i < 8; i++)
            len = (len << 8) | (unsigned char)p[2 + i];
        h = 10;
    }
    if (len > FLOOR_MAX_IN)
        return -1;
    if (n < h + 4 + len)
        return 0;
    unsigned char m[4];
    memcpy(m, p + h, 4);
    char *q = p + h + 4;
    for (uint64_t i = 0; i < len; i++)
        q[i] ^= (char)m[i & 3];
    *op = b0 & 0x0f;
    *pl = q;
    *plen = (size_t)len;
    return (long)(h + 4 + len);
}

/* Sec-WebSocket-Accept for `key` (§4.2.2): base64(SHA-1(key + GUID)) into out[29]. 0 or -1. */
int floor_accept_key(const char *key, size_t len, char out[29])
{
    static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    int r = -1;
    struct buf b = BUF_INIT(64);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha1(), NULL) || !EVP_DigestUpdate(ctx, key, len) ||
        !EVP_DigestUpdate(ctx, guid, sizeof guid - 1) || !EVP_DigestFinal_ex(ctx, md, &mdlen) ||
        mdlen != 20 || base64_encode(&b, md, mdlen, 0) < 0 || b.len != 28)
        goto out;
    memcpy(out, b.data, 29);
    r = 0;
out:
    EVP_MD_CTX_free(ctx);
    buf_release(&b);
    return r;
}

/* The JSON value after `"name":` in (m, n) when it is an object: its extent, braces included,
 * strings skipped. 0 and *vlen set, or -1 (absent, not an object, unbalanced). */
int floor_json_object(const char *m, size_t n, const char *name, const char **v, size_t *vlen)
{
    char pat[64];
    int k = snprintf(pat, sizeof pat, "\"%s\":", name);
    const char *p = memmem(m, n, pat, (size_t)k);
    if (!p)
        return -1;
    const char *e = m + n, *q = p + k;
    while (q < e && (*q == ' ' || *q == '\t'))
        q++;
    if (q == e || *q != '{')
        return -1;
    int depth = 0, str = 0;
    for (const char *c = q; c < e; c++) {
        if (str) {
            if (*c == '\\')
                c++;
            else if (*c == '"')
                str = 0;
        } else if (*c == '"') {
            str = 1;
        } else if (*c == '{') {
            depth++;
        } else if (*c == '}' && --depth == 0) {
            *v = q;
            *vlen = (size_t)(c - q) + 1;
            return 0;
        }
    }
    return -1;
}

/* Resolves a listen address; only 127.0.0.0/8 and ::1 ("localhost" too). 0, -EINVAL or -EPERM. */
int floor_listen_addr(const char *host, int port, struct sockaddr_storage *ss, socklen_t *len)
{
    memset(ss, 0, sizeof *ss);
    if (port < 0 || port > 65535)
        return -EINVAL;
    if (!strcmp(host, "localhost"))
        host = "127.0.0.1";
    struct sockaddr_in *in = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, host, &in->sin_addr) == 1) {
        if ((ntohl(in->sin_addr.s_addr) >> 24) != 127)
            return -EPERM;
        in->sin_family = AF_INET;
        in->sin_port = htons((uint16_t)port);
        *len = sizeof *in;
        return 0;
    }
    if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
        if (!IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr))
            return -EPERM;
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)port);
        *len = sizeof *in6;
        return 0;
    }
    return -EPERM;
}

/* ---- connections ---- */

static void conn_close(struct floor_srv *s, struct fconn *c)
{
    if (c->sub) { /* swap-remove from the subscriber list */
        struct fconn *last = s->subs[--s->nsubs];
        s->subs[c->sub_idx] = last;
        last->sub_idx = c->sub_idx;
    }
    epoll_ctl(s->epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    s->byfd[c->fd] = NULL;
    s->closed++;
    buf_release(&c->in);
    buf_release(&c->out);
    vr_free(c);
}

static void arm_out(struct floor_srv *s, struct fconn *c, int on)
{
    if (c->want_out == on)
        return;
    c->want_out = on;
    struct epoll_event ev = {.events = EPOLLIN | (on ? EPOLLOUT : 0), .data.fd = c->fd};
    epoll_ctl(s->epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

/* What a send returned for (p, n): keeps what the kernel did not take. Thread-safe per conn. */
static void sent_result(struct floor_srv *s, struct fconn *c, const char *p, size_t n, long r)
{
    if (r == -EAGAIN || r == -EWOULDBLOCK)
        r = 0;
    if (r < 0) {
        c->closing = 1;
        return;
    }
    if ((size_t)r < n) {
        if (buf_append(&c->out, p + r, n - (size_t)r) < 0) {
            c->closing = 1;
            return;
        }
        arm_out(s, c, 1);
    }
}

static void conn_send(struct floor_srv *s, struct fconn *c, const char *p, size_t n)
{
    if (c->closing)
        return;
    if (c->out.len) {
        if (buf_append(&c->out, p, n) < 0)
            c->closing = 1;
        return;
    }
    ssize_t r = send(c->fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
    sent_result(s, c, p, n, r < 0 ? -errno : r);
}

static void conn_flush(struct floor_srv *s, struct fconn *c)
{
    while (c->out.len) {
        ssize_t r = send(c->fd, c->out.data, c->out.len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (r <= 0) {
            c->closing = 1;
            return;
        }
        buf_consume(&c->out, (size_t)r);
    }
    arm_out(s, c, 0);
}

/* ---- the broadcast, three ways ---- */

static void bcast_range(struct floor_srv *s, size_t lo, size_t hi)
{
    for (size_t i = lo; i < hi; i++)
        conn_send(s, s->to[i], s->frame, s->frame_len);
}

#ifdef HAVE_LIBURING
static int uring_init(struct floor_srv *s)
{
    struct io_uring_params p = {0};
#if defined(IORING_SETUP_SINGLE_ISSUER) && defined(IORING_SETUP_DEFER_TASKRUN)
    p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
#endif
    p.flags |= IORING_SETUP_CQSIZE;
    p.cq_entries = 2 * FLOOR_URING_BATCH;
    int r = io_uring_queue_init_params(FLOOR_URING_BATCH, &s->ring, &p);
    if (r == -EINVAL) { /* an older kernel: without the flags */
        memset(&p, 0, sizeof p);
        p.flags = IORING_SETUP_CQSIZE;
        p.cq_entries = 2 * FLOOR_URING_BATCH;
        r = io_uring_queue_init_params(FLOOR_URING_BATCH, &s->ring, &p);
    }
    if (r < 0) {
        snprintf(s->err, sizeof s->err, "io_uring_queue_init: %s", strerror(-r));
        return r;
    }
    s->ring_ok = 1;
    return 0;
}

/* One IORING_OP_SEND per subscriber, FLOOR_URING_BATCH per io_uring_enter; a subscriber with
 * bytes still queued gets the frame appended instead (order). */
static void bcast_uring(struct floor_srv *s)
{
    size_t i = 0;
    while (i < s->nto) {
        unsigned k = 0;
        for (; i < s->nto && k < FLOOR_URING_BATCH; i++) {
            struct fconn *c = s->to[i];
            if (c->out.len || c->closing) {
                conn_send(s, c, s->frame, s->frame_len);
                continue;
            }
            struct io_uring_sqe *sqe = io_uring_get_sqe(&s->ring);
            if (!sqe) {
                conn_send(s, c, s->frame, s->frame_len);
                continue;
            }
            io_uring_prep_send(sqe, c->fd, s->frame, s->frame_len, MSG_NOSIGNAL | MSG_DONTWAIT);
            io_uring_sqe_set_data(sqe, c);
            k++;
        }
        if (!k)
            break;
        int r;
        do
            r = io_uring_submit_and_wait(&s->ring, k);
        while (r == -EINTR);
        unsigned seen = 0;
        while (seen < k) {
            struct io_uring_cqe *cqe;
            r = io_uring_wait_cqe(&s->ring, &cqe);
            if (r == -EINTR)
                continue;
            if (r < 0) {
                fprintf(stderr, "floor: io_uring_wait_cqe: %s\n", strerror(-r));
                abort(); /* the ring is unusable: no way to know which sends happened */
            }
            sent_result(s, io_uring_cqe_get_data(cqe), s->frame, s->frame_len, cqe->res);
            io_uring_cqe_seen(&s->ring, cqe);
            seen++;
        }
    }
}
#endif

static void *worker_main(void *arg)
{
    struct floor_worker *w = arg;
    struct floor_srv *s = w->s;
    uint64_t seen = 0;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        while (s->gen == seen && !s->quit)
            pthread_cond_wait(&s->go, &s->mu);
        if (s->quit)
            break;
        seen = s->gen;
        pthread_mutex_unlock(&s->mu);
        bcast_range(s, w->lo, w->hi);
        pthread_mutex_lock(&s->mu);
        if (--s->pending == 0)
            pthread_cond_signal(&s->done);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

static void bcast_threads(struct floor_srv *s)
{
    int n = s->nthreads;
    size_t per = (s->nto + (size_t)n - 1) / (size_t)n;
    for (int t = 0; t < n; t++) {
        size_t lo = per * (size_t)t, hi = lo + per;
        s->w[t].lo = lo < s->nto ? lo : s->nto;
        s->w[t].hi = hi < s->nto ? hi : s->nto;
    }
    pthread_mutex_lock(&s->mu);
    s->pending = n - 1;
    s->gen++;
    pthread_cond_broadcast(&s->go);
    pthread_mutex_unlock(&s->mu);
    bcast_range(s, s->w[0].lo, s->w[0].hi);
    pthread_mutex_lock(&s->mu);
    while (s->pending)
        pthread_cond_wait(&s->done, &s->mu);
    pthread_mutex_unlock(&s->mu);
}

/* Writes s->fb to the subscribers of `channel`: all of them when every one is on it (fanout),
 * else those whose subscription names it (push-latency's one per channel). */
static void broadcast(struct floor_srv *s, const char *channel)
{
    uint64_t t = now_ns();
    s->frame = s->fb.data;
    s->frame_len = s->fb.len;
    s->to = s->subs;
    s->nto = s->nsubs;
    if (s->mixed || (s->nsubs && strcmp(s->subs[0]->channel, channel))) {
        if (s->capmatch < s->nsubs) {
            s->capmatch = s->capsubs;
            s->match = vr_realloc(s->match, s->capmatch * sizeof *s->match);
        }
        s->nto = 0;
        for (size_t i = 0; i < s->nsubs; i++)
            if (!strcmp(s->subs[i]->channel, channel))
                s->match[s->nto++] = s->subs[i];
        s->to = s->match;
    }
    if (s->mode == FLOOR_THREADS && s->nto >= (size_t)s->nthreads * 64)
        bcast_threads(s);
#ifdef HAVE_LIBURING
    else if (s->mode == FLOOR_URING)
        bcast_uring(s);
#endif
    else
        bcast_range(s, 0, s->nto);
    hist_record(&s->bcast, now_ns() - t);
    s->broadcasts++;
    s->sends += s->nto;
}

/* --sync-dir: one WAL-frame-sized append and its fdatasync; 0 or -errno. */
static int sync_append(struct floor_srv *s, size_t records)
{
    static char rec[SYNC_APPEND];
    rec[0] = 'w';
    for (size_t i = 0; i < records; i++)
        for (size_t off = 0; off < sizeof rec;) {
            ssize_t r = write(s->sync_fd, rec + off, sizeof rec - off);
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0)
                return r < 0 ? -errno : -EIO;
            off += (size_t)r;
        }
    s->syncs++;
    return fdatasync(s->sync_fd) < 0 ? -errno : 0;
}

/* The string value after `"name":"` in (m, n) into out (at most cap - 1 bytes); "" if absent. */
static void json_str(const char *m, size_t n, const char *name, char *out, size_t cap)
{
    char pat[48];
    int k = snprintf(pat, sizeof pat, "\"%s\":\"", name);
    const char *p = memmem(m, n, pat, (size_t)k), *e = m + n;
    size_t len = 0;
    if (p)
        for (p += k; p + len < e && p[len] != '"' && len < cap - 1;)
            len++;
    if (p)
        memcpy(out, p, len);
    out[len] = 0;
}

/* ---- the protocol: just enough of docs/protocol.md for bench/loadgen ---- */

static void send_text(struct floor_srv *s, struct fconn *c, const char *json, size_t n)
{
    buf_reset(&s->fb);
    floor_ws_frame(&s->fb, 1, json, n);
    conn_send(s, c, s->fb.data, s->fb.len);
}

static int has_type(const char *m, size_t n, const char *type)
{
    char pat[48];
    int k = snprintf(pat, sizeof pat, "\"type\":\"%s\"", type);
    return memmem(m, n < 64 ? n : 64, pat, (size_t)k) != NULL;
}

/* One mutation: its transition (the args as the value) encoded once and written to the
 * subscribers of args.channel, then the writer's answer. */
static void do_mutation(struct floor_srv *s, struct fconn *c, long req, const char *args,
                        size_t alen)
{
    char channel[32];
    json_str(args, alen, "channel", channel, sizeof channel);
    s->version++;
    buf_reset(&s->msg);
    buf_appendf(&s->msg,
                "{\"type\":\"transition\",\"startVersion\":%llu,\"endVersion\":%llu,"
                "\"modifications\":[{\"type\":\"QueryUpdated\",\"queryId\":1,\"value\":",
                (unsigned long long)s->version - 1, (unsigned long long)s->version);
    buf_append(&s->msg, args, alen);
    buf_append_str(&s->msg, "}]}");
    buf_reset(&s->fb);
    floor_ws_frame(&s->fb, 1, s->msg.data, s->msg.len);
    broadcast(s, channel);
    buf_reset(&s->msg);
    buf_appendf(&s->msg,
                "{\"type\":\"mutationResponse\",\"requestId\":%ld,\"success\":true,"
                "\"value\":null,\"version\":%llu}",
                req, (unsigned long long)s->version);
    send_text(s, c, s->msg.data, s->msg.len);
}

static void on_message(struct floor_srv *s, struct fconn *c, const char *m, size_t n)
{
    buf_reset(&s->msg);
    if (has_type(m, n, "connect")) {
        buf_appendf(&s->msg, "{\"type\":\"connected\",\"version\":%llu}",
                    (unsigned long long)s->version);
        send_text(s, c, s->msg.data, s->msg.len);
    } else if (has_type(m, n, "modifyQuerySet")) {
        if (!c->sub) {
            if (s->nsubs == s->capsubs) {
                s->capsubs = s->capsubs ? 2 * s->capsubs : 1024;
                s->subs = vr_realloc(s->subs, s->capsubs * sizeof *s->subs);
            }
            json_str(m, n, "channel", c->channel, sizeof c->channel);
            if (s->nsubs && strcmp(s->subs[0]->channel, c->channel))
                s->mixed = 1;
            c->sub_idx = s->nsubs;
            s->subs[s->nsubs++] = c;
            c->sub = 1;
        }
        buf_appendf(&s->msg,
                    "{\"type\":\"transition\",\"startVersion\":%llu,\"endVersion\":%llu,"
                    "\"modifications\":[{\"type\":\"QueryUpdated\",\"queryId\":1,\"value\":null}]}",
                    (unsigned long long)s->version, (unsigned long long)s->version);
        send_text(s, c, s->msg.data, s->msg.len);
    } else if (has_type(m, n, "mutation")) {
        const char *args = "{}";
        size_t alen = 2;
        floor_json_object(m, n, "args", &args, &alen);
        const char *rq = memmem(m, n, "\"requestId\":", 12);
        long req = rq ? strtol(rq + 12, NULL, 10) : 0;
        if (s->sync_fd < 0) {
            do_mutation(s, c, req, args, alen);
            return;
        }
        /* group commit: answered after this loop iteration's one fdatasync (flush_pending) */
        if (s->npend == s->cappend) {
            s->cappend = s->cappend ? 2 * s->cappend : 64;
            s->pend = vr_realloc(s->pend, s->cappend * sizeof *s->pend);
        }
        s->pend[s->npend++] = (struct pend){c, req, s->pend_args.len, alen};
        buf_append(&s->pend_args, args, alen);
    }
}

/* The mutations read in this loop iteration, when syncing: one WAL frame's worth appended and
 * synced for all of them (a commit batch writes at least that), then each broadcast and answered
 * (a closed writer's answer is dropped). */
static void flush_pending(struct floor_srv *s)
{
    if (!s->npend)
        return;
    int r = sync_append(s, 1); /* at least one WAL frame per commit: a lower bound */
    for (size_t i = 0; i < s->npend; i++) {
        struct pend *p = &s->pend[i];
        if (r == 0) {
            do_mutation(s, p->c, p->req, s->pend_args.data + p->off, p->len);
            continue;
        }
        buf_reset(&s->msg);
        buf_appendf(&s->msg,
                    "{\"type\":\"mutationResponse\",\"requestId\":%ld,\"success\":false,"
                    "\"result\":\"append + fdatasync: %s\"}",
                    p->req, strerror(-r));
        send_text(s, p->c, s->msg.data, s->msg.len);
    }
    s->npend = 0;
    buf_reset(&s->pend_args);
}

/* Handles c->in: one HTTP request head (upgrade or metrics), then WebSocket frames. */
static void on_input(struct floor_srv *s, struct fconn *c)
{
    size_t off = 0;
    while (off < c->in.len && !c->closing) {
        char *p = c->in.data + off;
        size_t n = c->in.len - off;
        if (!c->ws) {
            char *end = memmem(p, n, "\r\n\r\n", 4);
            if (!end)
                break;
            size_t hl = (size_t)(end - p) + 4;
            const char *key = NULL;
            size_t klen = 0;
            long clen = 0;
            for (char *line = memchr(p, '\n', hl); line && line < end;
                 line = memchr(line + 1, '\n', (size_t)(end - line - 1))) {
                if ((size_t)(end - line) > 16 && !strncasecmp(line + 1, "content-length:", 15))
                    clen = strtol(line + 16, NULL, 10);
                if ((size_t)(end - line) > 19 && !strncasecmp(line + 1, "sec-websocket-key:", 18)) {
                    key = line + 19;
                    while (*key == ' ')
                        key++;
                    const char *ke = key;
                    while (ke < end && *ke != '\r')
                        ke++;
                    klen = (size_t)(ke - key);
                }
            }
            if (clen < 0 || clen > (long)FLOOR_MAX_IN) {
                c->closing = 1;
                break;
            }
            if (n < hl + (size_t)clen)
                break; /* the body is not all here yet */
            char acc[29];
            buf_reset(&s->msg);
            if (!strncmp(p, "POST /api/query ", 16) || !strncmp(p, "POST /api/mutation ", 19)) {
                /* the http-query scenario: a fixed answer of a query result's size, keep-alive */
                static const char body[] = "{\"status\":\"success\",\"value\":{\"_id\":\"x\","
                                           "\"channel\":\"c1\",\"seq\":19,\"body\":\"seed\"},"
                                           "\"logLines\":[]}";
                buf_appendf(&s->msg,
                            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                            "%zu\r\n\r\n%s",
                            sizeof body - 1, body);
                conn_send(s, c, s->msg.data, s->msg.len);
                s->http_answers++;
                off += hl + (size_t)clen;
                continue;
            }
            if (!strncmp(p, "GET /api/metrics ", 17)) {
                char body[160];
                int bl = snprintf(body, sizeof body,
                                  "{\"queryReruns\":0,\"transitions\":%llu,\"connections\":%zu}",
                                  (unsigned long long)s->broadcasts, s->accepted - s->closed);
                buf_appendf(&s->msg,
                            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                            "%d\r\nConnection: close\r\n\r\n%s",
                            bl, body);
                conn_send(s, c, s->msg.data, s->msg.len);
                c->closing = 1;
            } else if (!strncmp(p, "GET /api/sync ", 14) && key && klen &&
                       floor_accept_key(key, klen, acc) == 0) {
                buf_appendf(&s->msg,
                            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                            "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
                            acc);
                conn_send(s, c, s->msg.data, s->msg.len);
                c->ws = 1;
            } else {
                static const char nf[] =
                    "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
                conn_send(s, c, nf, sizeof nf - 1);
                c->closing = 1;
            }
            off += hl;
            continue;
        }
        int op = 0;
        char *pl = NULL;
        size_t plen = 0;
        long used = floor_ws_parse(p, n, &op, &pl, &plen);
        if (used == 0)
            break;
        if (used < 0) {
            c->closing = 1;
            break;
        }
        off += (size_t)used;
        if (op == 1 || op == 2) {
            on_message(s, c, pl, plen);
        } else if (op == 9) {
            buf_reset(&s->fb);
            floor_ws_frame(&s->fb, 10, pl, plen);
            conn_send(s, c, s->fb.data, s->fb.len);
        } else if (op == 8) {
            buf_reset(&s->fb);
            floor_ws_frame(&s->fb, 8, pl, plen >= 2 ? 2 : 0);
            conn_send(s, c, s->fb.data, s->fb.len);
            c->closing = 1;
        }
    }
    buf_consume(&c->in, off);
}

static void on_readable(struct floor_srv *s, struct fconn *c)
{
    char tmp[16384];
    for (;;) {
        ssize_t r = read(c->fd, tmp, sizeof tmp);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (r <= 0 || buf_append(&c->in, tmp, (size_t)r) < 0) {
            c->closing = 1;
            return;
        }
        on_input(s, c);
        if (c->closing)
            return;
    }
}

static void on_accept(struct floor_srv *s)
{
    for (;;) {
        int fd = accept4(s->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return; /* EAGAIN, or EMFILE: the peer sees a refused connection */
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if ((size_t)fd >= s->capfd) {
            size_t cap = s->capfd ? s->capfd : 1024;
            while (cap <= (size_t)fd)
                cap *= 2;
            s->byfd = vr_realloc(s->byfd, cap * sizeof *s->byfd);
            memset(s->byfd + s->capfd, 0, (cap - s->capfd) * sizeof *s->byfd);
            s->capfd = cap;
        }
        struct fconn *c = vr_calloc(1, sizeof *c);
        c->fd = fd;
        buf_init(&c->in, FLOOR_MAX_IN + 16384);
        buf_init(&c->out, 8u << 20);
        struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
        if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
            close(fd);
            vr_free(c);
            continue;
        }
        s->byfd[fd] = c;
        s->accepted++;
    }
}

int floor_srv_init(struct floor_srv *s, const char *host, int port, enum floor_mode mode,
                   int nthreads, volatile sig_atomic_t *stop)
{
    memset(s, 0, sizeof *s);
    s->lfd = s->epfd = s->sync_fd = -1;
    s->mode = mode;
    s->nthreads = nthreads < 1 ? 1 : nthreads > FLOOR_MAX_THREADS ? FLOOR_MAX_THREADS : nthreads;
    s->stop = stop;
    buf_init(&s->fb, BUF_NOLIMIT);
    buf_init(&s->msg, BUF_NOLIMIT);
    buf_init(&s->pend_args, BUF_NOLIMIT);
    hist_init(&s->bcast);
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->go, NULL);
    pthread_cond_init(&s->done, NULL);
    struct sockaddr_storage ss;
    socklen_t sl = 0;
    int r = floor_listen_addr(host, port, &ss, &sl);
    if (r < 0) {
        snprintf(s->err, sizeof s->err,
                 r == -EPERM ? "refusing to listen on \"%s\": the floor listens on loopback only "
                               "(127.0.0.0/8 or ::1)"
                             : "invalid port for \"%s\"",
                 host);
        return r;
    }
    s->epfd = epoll_create1(EPOLL_CLOEXEC);
    s->lfd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (s->epfd < 0 || s->lfd < 0 ||
        setsockopt(s->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        bind(s->lfd, (struct sockaddr *)&ss, sl) < 0 || listen(s->lfd, 4096) < 0) {
        r = -errno;
        snprintf(s->err, sizeof s->err, "listen on %s:%d: %s", host, port, strerror(errno));
        return r;
    }
    sl = sizeof ss;
    getsockname(s->lfd, (struct sockaddr *)&ss, &sl);
    s->port = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                            : ((struct sockaddr_in6 *)&ss)->sin6_port);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = s->lfd};
    if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->lfd, &ev) < 0) {
        r = -errno;
        snprintf(s->err, sizeof s->err, "epoll_ctl: %s", strerror(errno));
        return r;
    }
#ifndef HAVE_LIBURING
    if (mode == FLOOR_URING) {
        snprintf(s->err, sizeof s->err,
                 "--mode uring: built without liburing (install liburing-dev, rebuild)");
        return -ENOSYS;
    }
#endif
    if (mode == FLOOR_THREADS) {
        for (int t = 1; t < s->nthreads; t++) {
            s->w[t].s = s;
            if ((r = pthread_create(&s->w[t].th, NULL, worker_main, &s->w[t])) != 0) {
                snprintf(s->err, sizeof s->err, "pthread_create: %s", strerror(r));
                return -r;
            }
            s->threads_started = t;
        }
    }
    return 0;
}

/* --sync-dir: every mutation first appends SYNC_APPEND bytes to a new file in dir and
 * fdatasyncs it; the file is removed by floor_srv_release. 0 or -errno (message in s->err). */
int floor_srv_sync_dir(struct floor_srv *s, const char *dir)
{
    int n = snprintf(s->sync_path, sizeof s->sync_path, "%s/floor-sync-%d.tmp", dir, (int)getpid());
    if (n < 0 || (size_t)n >= sizeof s->sync_path) {
        snprintf(s->err, sizeof s->err, "--sync-dir: path too long");
        return -ENAMETOOLONG;
    }
    s->sync_fd = open(s->sync_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (s->sync_fd < 0) {
        int e = errno;
        snprintf(s->err, sizeof s->err, "open %.200s: %s", s->sync_path, strerror(e));
        return -e;
    }
    return 0;
}

/* Runs the loop until *stop is set (checked at least every 100 ms). The io_uring ring is made
 * here: IORING_SETUP_SINGLE_ISSUER ties it to the thread that submits. */
int floor_srv_run(struct floor_srv *s)
{
    struct epoll_event evs[512];
#ifdef HAVE_LIBURING
    int r;
    if (s->mode == FLOOR_URING && !s->ring_ok && (r = uring_init(s)) < 0)
        return r;
#endif
    while (!*s->stop) {
        int n = epoll_wait(s->epfd, evs, 512, 100);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            snprintf(s->err, sizeof s->err, "epoll_wait: %s", strerror(errno));
            return -errno;
        }
        for (int i = 0; i < n; i++) {
            if (evs[i].data.fd == s->lfd) {
                on_accept(s);
                continue;
            }
            struct fconn *c = s->byfd[evs[i].data.fd];
            if (!c)
                continue;
            if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
                on_readable(s, c);
            if ((evs[i].events & EPOLLOUT) && !c->closing)
                conn_flush(s, c);
        }
        flush_pending(s);
        /* close what failed: the connections of this batch, and subscribers a broadcast failed */
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd != s->lfd && (size_t)fd < s->capfd && s->byfd[fd] && s->byfd[fd]->closing)
                conn_close(s, s->byfd[fd]);
        }
        for (size_t i = 0; i < s->nsubs;)
            if (s->subs[i]->closing)
                conn_close(s, s->subs[i]); /* swaps another into slot i */
            else
                i++;
    }
    return 0;
}

/* Stops the workers, closes every connection and the listener, frees everything. */
void floor_srv_release(struct floor_srv *s)
{
    if (s->threads_started) {
        pthread_mutex_lock(&s->mu);
        s->quit = 1;
        pthread_cond_broadcast(&s->go);
        pthread_mutex_unlock(&s->mu);
        for (int t = 1; t <= s->threads_started; t++)
            pthread_join(s->w[t].th, NULL);
    }
    for (size_t fd = 0; fd < s->capfd; fd++)
        if (s->byfd[fd])
            conn_close(s, s->byfd[fd]);
#ifdef HAVE_LIBURING
    if (s->ring_ok)
        io_uring_queue_exit(&s->ring);
#endif
    if (s->lfd >= 0)
        close(s->lfd);
    if (s->epfd >= 0)
        close(s->epfd);
    if (s->sync_fd >= 0) {
        close(s->sync_fd);
        unlink(s->sync_path);
        s->sync_fd = -1;
    }
    vr_free(s->byfd);
    vr_free(s->subs);
    vr_free(s->match);
    vr_free(s->pend);
    buf_release(&s->pend_args);
    buf_release(&s->fb);
    buf_release(&s->msg);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->go);
    pthread_cond_destroy(&s->done);
}

/* ---- floor push: loopback ping-pong and fdatasync ---- */

#define PUSH_PAYLOAD 160   /* about a pushed transition's size */
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
    for (long i = 0; i < count + PUSH_WARMUP && now_ns() < until; i++) {
        uint64_t t = now_ns();
        if (write_full(a, frame, sizeof frame) < 0 || read_full(a, back, sizeof back) < 0) {
            snprintf(err, errlen, "ping-pong: %s", strerror(errno));
            r = -1;
            break;
        }
        if (i >= PUSH_WARMUP)
            hist_record(&res->pp, now_ns() - t);
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

/* count appends of SYNC_APPEND bytes to a new file in dir, each followed by fdatasync. */
static int push_sync(struct push_result *res, const char *dir, long count, uint64_t until,
                     char *err, size_t errlen)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/floor-sync-%d.tmp", dir, (int)getpid());
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "open %.400s: %s", path, strerror(errno));
        return -1;
    }
    char rec[SYNC_APPEND];
    memset(rec, 'w', sizeof rec);
    int r = 0;
    for (long i = 0; i < count + 2 && now_ns() < until; i++) {
        uint64_t t = now_ns();
        if (write_full(fd, rec, sizeof rec) < 0 || fdatasync(fd) < 0) {
            snprintf(err, errlen, "append + fdatasync %.400s: %s", path, strerror(errno));
            r = -1;
            break;
        }
        if (i >= 2)
            hist_record(&res->sync, now_ns() - t);
    }
    close(fd);
    unlink(path);
    return r;
}

static double ms(uint64_t ns)
{
    return (double)ns / 1e6;
}

static int run_push(const char *dir, long pings, long syncs, double seconds, const char *outp)
{
    static struct push_result res;
    char err[512] = "";
    hist_init(&res.pp);
    hist_init(&res.sync);
    uint64_t half = (uint64_t)(seconds * 1e9 / 2);
    if (push_pingpong(&res, pings, now_ns() + half, err, sizeof err) < 0 ||
        push_sync(&res, dir, syncs, now_ns() + half, err, sizeof err) < 0 || !res.pp.count ||
        !res.sync.count) {
        fprintf(stderr, "floor push: %s\n", err[0] ? err : "no samples in the time bound");
        return 1;
    }
    double pp50 = ms(hist_percentile(&res.pp, 50)), pp99 = ms(hist_percentile(&res.pp, 99));
    double s50 = ms(hist_percentile(&res.sync, 50)), s99 = ms(hist_percentile(&res.sync, 99));
    printf("floor push: loopback WebSocket ping-pong (%d-byte frame, %llu round trips): p50 %.3f "
           "ms, p99 %.3f ms\n",
           PUSH_PAYLOAD, (unsigned long long)res.pp.count, pp50, pp99);
    printf("floor push: %d-byte append + fdatasync in %s (%llu): p50 %.3f ms, p99 %.3f ms\n",
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
                "%llu, \"append_bytes\": %d, \"frame_payload_bytes\": %d, \"floor_p50_ms\": %.6g, "
                "\"floor_p99_ms\": %.6g}\n",
                pp50, pp99, (unsigned long long)res.pp.count, s50, s99,
                (unsigned long long)res.sync.count, SYNC_APPEND, PUSH_PAYLOAD, pp50 + s50,
                pp99 + s99);
        fclose(f);
    }
    return 0;
}

/* ---- main ---- */

#ifndef FLOOR_NO_MAIN
static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static const char USAGE[] =
    "usage: floor serve [--mode send|uring|threads] [--threads N] [--host ADDR] [--port N]\n"
    "                   [--sync-dir DIR]\n"
    "       floor push --dir DIR [--pings N] [--syncs N] [--duration S] [--out FILE]\n"
    "  serve: a minimal server for `loadgen fanout|push-latency|mutations|http-query` (loopback\n"
    "         only); prints \"listening on http://HOST:PORT\", runs until SIGTERM/SIGINT, then a\n"
    "         summary. --sync-dir: one append + fdatasync there per loop iteration's mutations\n"
    "  push:   loopback WebSocket ping-pong and append + fdatasync in DIR; --out writes JSON\n";

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(USAGE, stderr);
        return 2;
    }
    const char *cmd = argv[1], *host = "127.0.0.1", *dir = NULL, *outp = NULL, *sync_dir = NULL;
    const char *mode_s = "send";
    long port = 0, threads = 2, pings = 5000, syncs = 200;
    double secs = 6;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) {
            fprintf(stderr, "floor: %s needs a value\n%s", a, USAGE);
            return 2;
        }
        i++;
        char *end = NULL;
        if (!strcmp(a, "--mode"))
            mode_s = v;
        else if (!strcmp(a, "--host"))
            host = v;
        else if (!strcmp(a, "--dir"))
            dir = v;
        else if (!strcmp(a, "--sync-dir"))
            sync_dir = v;
        else if (!strcmp(a, "--out"))
            outp = v;
        else if (!strcmp(a, "--duration") && (secs = strtod(v, &end)) > 0 && !*end)
            ;
        else if ((!strcmp(a, "--port") || !strcmp(a, "--threads") || !strcmp(a, "--pings") ||
                  !strcmp(a, "--syncs")) &&
                 (errno = 0, strtol(v, &end, 10) >= 0) && !errno && end != v && !*end) {
            long n = strtol(v, NULL, 10);
            *(!strcmp(a, "--port")      ? &port
              : !strcmp(a, "--threads") ? &threads
              : !strcmp(a, "--pings")   ? &pings
                                        : &syncs) = n;
        } else {
            fprintf(stderr, "floor: bad option or value: %s %s\n%s", a, v, USAGE);
            return 2;
        }
    }
    if (!strcmp(cmd, "push")) {
        if (!dir) {
            fprintf(stderr, "floor push: --dir is required\n");
            return 2;
        }
        return run_push(dir, pings, syncs, secs, outp);
    }
    if (strcmp(cmd, "serve")) {
        fprintf(stderr, "floor: unknown command \"%s\"\n%s", cmd, USAGE);
        return 2;
    }
    enum floor_mode mode;
    if (!strcmp(mode_s, "send"))
        mode = FLOOR_SEND;
    else if (!strcmp(mode_s, "uring"))
        mode = FLOOR_URING;
    else if (!strcmp(mode_s, "threads"))
        mode = FLOOR_THREADS;
    else {
        fprintf(stderr, "floor: --mode must be send, uring or threads, not \"%s\"\n", mode_s);
        return 2;
    }
    if (threads < 1 || threads > FLOOR_MAX_THREADS) {
        fprintf(stderr, "floor: --threads must be 1..%d\n", FLOOR_MAX_THREADS);
        return 2;
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    static struct floor_srv s;
    int r = floor_srv_init(&s, host, (int)port, mode, (int)threads, &stop_flag);
    if (r == 0 && sync_dir)
        r = floor_srv_sync_dir(&s, sync_dir);
    if (r == 0) {
        printf("floor: mode %s%s%s%s\n", mode_s,
               mode == FLOOR_URING     ? " (IORING_OP_SEND, up to 4096 per io_uring_enter)"
               : mode == FLOOR_THREADS ? " (send() split over threads)"
                                       : " (one send() per socket)",
               sync_dir ? "; append + fdatasync per mutation in " : "", sync_dir ? sync_dir : "");
        printf("listening on http://%s:%d\n", host, s.port);
        fflush(stdout);
        r = floor_srv_run(&s);
    }
    if (r < 0)
        fprintf(stderr, "floor: %s\n", s.err);
    if (s.broadcasts)
        printf("floor: %llu broadcasts, %llu sends, %llu fdatasyncs; in-server time per broadcast "
               "p50 %.2f ms, max %.2f ms (mode %s)\n",
               (unsigned long long)s.broadcasts, (unsigned long long)s.sends,
               (unsigned long long)s.syncs,
               ms(hist_percentile(&s.bcast, 50)), ms(s.bcast.max), mode_s);
    size_t accepted = s.accepted;
    floor_srv_release(&s);
    if (s.closed != accepted)
        fprintf(stderr, "floor: BUG: accepted %zu connections, closed %zu\n", accepted, s.closed);
    return r < 0 ? 1 : 0;
}
#endif

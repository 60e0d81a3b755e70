/* floor_srv: `floor serve` (floor.h; docs/benchmarks.md, "The floor"). One epoll loop (plus
 * broadcast workers in --mode threads); connections indexed by fd, closed only after a dispatch
 * (a failed send marks them, possibly off-thread); every mutation's frame encoded once. */
#include "floor.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "base/base64.h"
#include "base/mem.h"
#include "base/banned.h"

/* ---- frames, keys, addresses ---- */

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
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            arm_out(s, c, 1);
            return;
        }
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
    uint64_t t = floor_now();
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
    hist_record(&s->bcast, floor_now() - t);
    s->broadcasts++;
    s->sends += s->nto;
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

/* One actor rpc (loadgen actor-rpc: `counter.increment` on one instance): the state changes and
 * the caller gets the new value, /api/actors's answer frame. Queued: the answers of one read (or
 * one commit) go in one send, as the server sends them (flush_pending, on_input). */
static void do_rpc(struct floor_srv *s, struct fconn *c, long id)
{
    s->counter++;
    buf_reset(&s->msg);
    buf_appendf(&s->msg, "{\"type\":\"rpc:result\",\"id\":%ld,\"result\":%llu}", id,
                (unsigned long long)s->counter);
    if (c->closing)
        return;
    size_t at = c->out.len;
    floor_ws_frame(&c->out, 1, s->msg.data, s->msg.len);
    if (c->out.len < at + s->msg.len + 2)
        c->closing = 1; /* past the out buffer's limit */
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
    } else if (has_type(m, n, "mutation") || has_type(m, n, "rpc")) {
        int rpc = !has_type(m, n, "mutation");
        const char *args = "{}";
        size_t alen = 2;
        if (!rpc)
            floor_json_object(m, n, "args", &args, &alen);
        const char *rq = rpc ? memmem(m, n, "\"id\":", 5) : memmem(m, n, "\"requestId\":", 12);
        long req = rq ? strtol(rq + (rpc ? 5 : 12), NULL, 10) : 0;
        if (s->wal.fd < 0) {
            if (rpc)
                do_rpc(s, c, req);
            else
                do_mutation(s, c, req, args, alen);
            return;
        }
        /* group commit: answered after this loop iteration's one fdatasync (flush_pending) */
        if (s->npend == s->cappend) {
            s->cappend = s->cappend ? 2 * s->cappend : 64;
            s->pend = vr_realloc(s->pend, s->cappend * sizeof *s->pend);
        }
        s->pend[s->npend++] = (struct pend){c, req, s->pend_args.len, alen, rpc};
        buf_append(&s->pend_args, args, alen);
    }
}

/* The mutations read in this loop iteration, when syncing: one WAL frame's worth written and
 * synced for all of them (a commit batch writes at least that), then each broadcast and answered
 * (a closed writer's answer is dropped). */
static void flush_pending(struct floor_srv *s)
{
    if (!s->npend)
        return;
    int r = floor_wal_commit(&s->wal); /* at least one WAL frame per commit: a lower bound */
    for (size_t i = 0; i < s->npend; i++) {
        struct pend *p = &s->pend[i];
        if (r == 0 && p->rpc) {
            do_rpc(s, p->c, p->req);
            continue;
        }
        if (r == 0) {
            do_mutation(s, p->c, p->req, s->pend_args.data + p->off, p->len);
            continue;
        }
        buf_reset(&s->msg);
        if (p->rpc)
            buf_appendf(&s->msg,
                        "{\"type\":\"rpc:result\",\"id\":%ld,\"error\":\"WAL commit: %s\"}",
                        p->req, strerror(-r));
        else
            buf_appendf(&s->msg,
                        "{\"type\":\"mutationResponse\",\"requestId\":%ld,\"success\":false,"
                        "\"result\":\"WAL commit: %s\"}",
                        p->req, strerror(-r));
        send_text(s, p->c, s->msg.data, s->msg.len);
    }
    for (size_t i = 0; i < s->npend; i++) /* the queued rpc answers, one send per connection */
        if (s->pend[i].c->out.len && !s->pend[i].c->want_out && !s->pend[i].c->closing)
            conn_flush(s, s->pend[i].c);
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
                /* queued: the answers to one read's pipelined requests go in one send (below) */
                if (buf_appendf(&c->out,
                                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                "Content-Length: %zu\r\n\r\n%s",
                                sizeof body - 1, body) < 0)
                    c->closing = 1;
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
            } else if ((!strncmp(p, "GET /api/sync ", 14) || !strncmp(p, "GET /api/actors ", 16)) &&
                       key && klen &&
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
    if (c->out.len && !c->want_out)
        conn_flush(s, c);
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
    s->lfd = s->epfd = s->wal.fd = -1;
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

/* --sync-dir: the mutations read in one loop iteration first get one WAL-frame-sized commit to
 * a WAL-like file in dir (floor_wal.c), removed by floor_srv_release. 0 or -errno. */
int floor_srv_sync_dir(struct floor_srv *s, const char *dir)
{
    return floor_wal_open(&s->wal, dir, s->err, sizeof s->err);
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
    floor_wal_close(&s->wal);
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

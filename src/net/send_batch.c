/* send_batch: a send pool's batch of connections (send_pool.h): WebSocket writes taken during
 * the batch are copied into each connection's output buffer, and the batch's end writes them all
 * over the pool's threads, then handles each result on the loop as conn_flush would. Loop thread
 * only. Invariants: a connection is in the batch at most once (in_batch) and only if it had
 * nothing queued when its first write was taken, so its frames keep their order; while the
 * workers write, the loop does nothing else, so no connection is closed, freed or written to by
 * anyone but the job's worker; every close happens on the loop, after the join. */
#include <errno.h>
#include <string.h>
#include <sys/uio.h>

#include "base/log.h"
#include "base/mem.h"
#include "net/net_int.h"
#include "net/send_pool.h"
#include "base/banned.h"

void send_batch_release(struct send_batch *b)
{
    vr_free(b->conns);
    vr_free(b->jobs);
    b->conns = NULL;
    b->jobs = NULL;
    b->n = b->cap = 0;
}

int send_batch_take(struct conn *c, const struct iovec *iov, size_t n, size_t total)
{
    struct send_batch *b = send_pool_batch(conn_config(c)->send_pool);
    if (!b || !b->depth || c->in_batch || c->closed || c->fd < 0 || c->close_after_flush ||
        conn_out_pending(c) || total > SEND_BATCH_MAX_BYTES)
        return 0;
    if (b->n == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 1024;
        b->conns = vr_realloc(b->conns, b->cap * sizeof *b->conns);
        vr_free(b->jobs); /* sized at the end */
        b->jobs = NULL;
    }
    /* nothing pending: the buffer starts afresh with whole frames */
    buf_reset(&c->out);
    c->out_off = 0;
    c->out_nonframe = 0;
    buf_reserve(&c->out, total);
    for (size_t i = 0; i < n; i++)
        buf_append(&c->out, iov[i].iov_base, iov[i].iov_len);
    conn_account(c); /* the budget counts the bytes now, as queued output */
    conn_ref(c);
    c->in_batch = 1;
    b->conns[b->n++] = c;
    return 1;
}

void send_pool_begin(struct send_pool *p)
{
    struct send_batch *b = send_pool_batch(p);
    if (b)
        b->depth++;
}

void send_pool_end(struct send_pool *p)
{
    struct send_batch *b = send_pool_batch(p);
    if (!b || !b->depth || --b->depth)
        return;
    if (!b->n)
        return;
    if (!b->jobs)
        b->jobs = vr_calloc(b->cap, sizeof *b->jobs);
    for (size_t i = 0; i < b->n; i++) {
        struct conn *c = b->conns[i];
        struct send_job *j = &b->jobs[i];
        *j = (struct send_job){.fd = -1};
        /* closed since, or written by a conn_flush since (then nothing or a queue is left,
         * which conn_flush below takes as usual) */
        if (!c->closed && c->fd >= 0 && !c->out_blocked && c->out.len > c->out_off) {
            j->fd = c->fd;
            j->p = c->out.data + c->out_off;
            j->len = c->out.len - c->out_off;
        }
    }
    send_pool_run(p, b->jobs, b->n, SEND_POOL_MIN_JOBS);
    /* joined: the results, on the loop alone */
    for (size_t i = 0; i < b->n; i++) {
        struct conn *c = b->conns[i];
        struct send_job *j = &b->jobs[i];
        c->in_batch = 0;
        if (!c->closed) {
            if (j->done) {
                c->out_off += j->done;
                c->send_mark_ms = loop_now_ms(c->loop);
            }
            if (j->err) {
                log_debug("http", "conn=%llu write failed: %s", (unsigned long long)c->id,
                          strerror(j->err));
                conn_close(c);
            } else {
                conn_flush(c); /* EAGAIN: EPOLLOUT and the send-stall timer, as for any queue */
            }
        }
        conn_unref(c);
    }
    b->n = 0;
}

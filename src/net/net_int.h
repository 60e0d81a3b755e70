/* net_int: what server.c and ws.c share inside the net module: the connection struct and the
 * hooks between the HTTP connection and the WebSocket on top of it. Not for other modules.
 * Invariant: a conn is freed only when its refcount drops to 0, which never happens before the
 * server's before-sleep hook has taken it off the closing list (never inside its own callback). */
#ifndef VR_NET_INT_H
#define VR_NET_INT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/buf.h"
#include "net/http.h"
#include "net/loop.h"
#include "net/server.h"

struct ws;

/* CT_HEADER: a request's head must arrive within header_timeout_ms of its first byte (408).
 * CT_BODY: its body has a progress timeout (408 once no byte arrived for header_timeout_ms) and,
 * after header_timeout_ms from its head, a minimum average rate (min_body_rate; 408 below it).
 * CT_SEND: output is queued (a response, or WebSocket frames) and the peer is not reading it:
 * closed when no byte of it goes out for send_stall_timeout_ms (an unread response is not held
 * for the whole idle timeout; a WebSocket gets 1008 "send stalled").
 * CT_FLUSH: an answer that closes the connection, with the same progress rule as CT_SEND.
 * CT_LINGER: the answer is all in the kernel and the connection half-closed (its input is read
 * and dropped): while the kernel still holds bytes the peer has not acknowledged, checked every
 * LINGER_POLL_MS with the same progress rule; once the peer has them all, closed LINGER_MS later
 * (at once when the peer closes its side). */
enum conn_timer_kind { CT_NONE, CT_HEADER, CT_BODY, CT_IDLE, CT_LINGER, CT_FLUSH, CT_SEND };

struct conn {
    struct server *srv; /* NULL once the server is freed */
    struct loop *loop;
    int fd;             /* -1 once closed */
    uint64_t id;
    int refs;
    uint32_t events;    /* registered epoll interest */

    unsigned closed : 1;
    unsigned close_after_flush : 1; /* then linger (half-close, drain input) and close */
    unsigned lingering : 1;
    unsigned linger_acked : 1; /* lingering: the peer has acknowledged all our bytes */
    unsigned peer_eof : 1;
    unsigned req_active : 1;        /* handler called, response not yet consumed */
    unsigned req_done : 1;          /* responded (or upgraded); consume in process_input */
    unsigned in_dispatch : 1;
    unsigned in_pipeline : 1;       /* in process_input's handler call: its answer's send waits */
    unsigned pending : 1;           /* on the server's pending list */
    unsigned have_head : 1;         /* req's head parsed, waiting for the body */
    unsigned sent_continue : 1;
    unsigned draining : 1;          /* server shutting down: close after this response */
    unsigned served_one : 1;
    unsigned out_blocked : 1;       /* the last write hit EAGAIN: wait for EPOLLOUT */
    unsigned refused : 1;           /* over the connection cap: its request gets 503 */
    unsigned in_paused : 1;         /* ws: output over its high-water mark, input not read */
    unsigned body_unread : 1;       /* a head hook took the request and its body is not all read:
                                       an answer now closes the connection */
    unsigned has_file : 1;          /* the response's body goes out from file_fd */
    unsigned os_chunked : 1;        /* a streamed response's body is chunk-framed (HTTP/1.1) */
    unsigned os_nobody : 1;         /* ... to a HEAD request: its chunks are not sent */
    unsigned os_closing : 1;        /* ... closes the connection once it ends */
    unsigned in_batch : 1;          /* its output waits for send_pool_end (holds a ref) */

    struct buf in;
    struct buf out;
    size_t out_off;      /* bytes of out already written */
    size_t out_nonframe; /* in ws mode: leading bytes of out that are not frames (the 101) */

    struct http_request *req; /* allocated with the conn; given back once it is a WebSocket */
    const char *req_base; /* c->in.data when req was parsed: if in moved, req is re-parsed */
    size_t head_len;
    size_t req_total;    /* bytes of `in` the current request occupies */
    struct http_chunked chunk;

    /* a streamed request body (server.h "Streamed request bodies"): set while it arrives; the
     * head stays at the front of `in` and each read's body bytes go to the sink and are dropped */
    struct http_body_sink *sink;
    uint64_t stream_rx;      /* raw body bytes consumed so far (the body rate counts them) */
    uint64_t stream_decoded; /* body bytes given to the sink */

    /* a streamed response (server.h "Streamed responses") while its body is being produced */
    struct http_out_stream *ostream;

    /* a response body sent from a file (http_respond_fd), after what `out` holds */
    int file_fd;
    uint64_t file_off, file_left;

    struct timer timer;
    enum conn_timer_kind timer_kind;
    uint64_t last_rx_ms; /* loop time of the last byte read (CT_BODY's progress) */
    uint64_t in_big_ms;  /* loop time its input buffer grew past TRIM_BYTES (a large body or
                            message in progress), 0 while it is smaller (shed_stalled_input) */
    uint64_t body_start_ms; /* loop time the current request's head was parsed (its body's rate) */
    uint64_t send_mark_ms;  /* loop time of the last byte written, or when output began to wait
                               (CT_SEND's and CT_FLUSH's progress; CT_LINGER's: of the last
                               byte the peer acknowledged) */
    size_t linger_unacked;  /* lingering: our bytes the kernel held at the last check */

    struct ws *ws;       /* owns one ws reference while set */
    size_t held;         /* bytes the ws owner holds for this conn outside it (ws_set_held_bytes) */
    size_t accounted;    /* in.cap + out.cap + held as last added to the server's budget */

    struct conn *prev, *next;   /* server's list of open conns */
    struct conn *next_pending;  /* server's pending list (holds a ref) */
    struct conn *next_closing;  /* server's closing list (holds the server's ref) */
};

/* Output not yet written: what `out` holds and what is left of a response's file. */
static inline size_t conn_out_pending(const struct conn *c)
{
    return c->out.len - c->out_off + (size_t)c->file_left;
}

/* server.c */
void conn_flush(struct conn *c);            /* writes what it can now; may close on error */
/* Writes the n entries of iov now if nothing is queued ahead of them (else writes nothing and
 * returns 0): the bytes the socket took, which the caller must not queue again; the caller
 * queues the rest in c->out, in order, and calls conn_flush (which finds the socket full and
 * arms EPOLLOUT and the send-stall timer as for any queued output). -1: the write failed and
 * the connection is closed. */
struct iovec;
ssize_t conn_write_now(struct conn *c, const struct iovec *iov, size_t n);
void conn_schedule(struct conn *c);         /* process input / flush in the before-sleep hook */
void conn_close_after_flush(struct conn *c);
void conn_update_events(struct conn *c);
const struct server_config *conn_config(const struct conn *c);
/* Output a connection may queue before its input stops being read (ws: min(this, send cap)). */
#define CONN_OUT_HIGH_WATER ((size_t)1 << 20)
int conn_over_budget(const struct conn *c); /* the server's global buffer budget is spent */
/* An input buffer (or a WebSocket's fragments in progress) this large grows only within the
 * budget; a fragments buffer this large is given back once its message is delivered */
#define TRIM_BYTES (256u << 10)
/* Room in the global budget for `grow` more bytes of c's input (a large buffer growing): 0, after
 * closing connections that held a large unfinished input longest (shed_stalled_input) if need
 * be, or -1 when there is none. */
int conn_input_room(struct conn *c, size_t grow);
void conn_account(struct conn *c); /* brings the budget up to date (trims idle large buffers) */
int conn_ws_input_paused(const struct conn *c); /* ws output over its high-water mark */

/* send_batch.c: the connections a send pool's batch writes (send_pool.h). Loop thread only. */
struct send_job;
struct send_batch {
    unsigned depth;      /* send_pool_begin calls not yet ended */
    struct conn **conns; /* each holds a ref and has in_batch set */
    size_t n, cap;
    struct send_job *jobs; /* send_pool_end's, cap entries */
};
struct send_pool;
struct send_batch *send_pool_batch(struct send_pool *p); /* NULL for NULL */
void send_batch_release(struct send_batch *b);
/* A WebSocket write of the n entries of iov (total bytes, whole frames) during a batch: copies
 * them into c->out and leaves them for send_pool_end to write. 1 if taken; 0 (nothing done)
 * when no batch is open, the connection has output queued (it is queued behind it as always) or
 * is closing, or total is past SEND_BATCH_MAX_BYTES (written at once, as without a batch). */
#define SEND_BATCH_MAX_BYTES ((size_t)64 << 10)
int send_batch_take(struct conn *c, const struct iovec *iov, size_t n, size_t total);

/* ws.c */
void ws_conn_input(struct ws *ws);      /* parse frames from c->in */
void ws_conn_open(struct ws *ws);       /* on_open once */
void ws_conn_gone(struct ws *ws);       /* conn closed: on_close once, detach, drop conn's ref */
void ws_conn_overloaded(struct ws *ws); /* input would pass the global budget: close 1013 */
size_t ws_input_held(const struct ws *ws); /* bytes of a fragmented message in progress */
void ws_conn_stalled(struct ws *ws);    /* no byte of its output written: close 1008 */
void ws_conn_drained(struct ws *ws);    /* all its output is written (conn_flush) */
/* Largest frame boundary <= pos (up = 0) or smallest >= pos (up = 1) in c->out. */
size_t ws_out_boundary(const struct conn *c, size_t pos, int up);

#endif

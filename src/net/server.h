/* server: the listener and its connections: HTTP/1.1 with keep-alive and pipelining, limits and
 * timeouts, and the upgrade to WebSocket (ws.h) on the same port. Knows nothing of what the
 * requests mean: each complete request goes to one handler callback.
 *
 * Ownership: the server owns its connections. A handler may answer at once or later (keep a
 * reference with conn_ref); while a request is unanswered the connection reads no further
 * requests, so pipelined responses go out in order. Never free inside a callback: closing marks
 * the connection and the loop frees it after dispatch. */
#ifndef VR_NET_SERVER_H
#define VR_NET_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "net/http.h"
#include "net/loop.h"

struct server;
struct conn;

struct server_config {
    const char *host;          /* default "127.0.0.1" */
    int port;                  /* 0 picks a free port (see server_port) */
    size_t max_header_bytes;   /* request line + headers; over it: 431. default 16 KiB */
    size_t max_body_bytes;     /* over it: 413. default 16 MiB */
    uint32_t header_timeout_ms; /* a request's headers must arrive within this of its first
                                   byte, and its body may pause no longer (408); default 10 s */
    uint32_t idle_timeout_ms;  /* keep-alive idle limit; default 60 s */
    size_t ws_max_message;     /* WebSocket message limit; over it: close 1009. default 16 MiB */
    size_t ws_max_send_queue;  /* bytes queued to a slow reader before it is cut off (1008);
                                  default 16 MiB */
    uint32_t ws_ping_interval_ms; /* server pings an open WebSocket this often; default 25 s;
                                     0: never, unless ws_idle_timeout_ms is set, then every
                                     half of it (an idle peer that is alive is not cut off) */
    uint32_t ws_idle_timeout_ms;  /* a WebSocket that sends nothing (not even a pong) for this
                                     long is closed with 1001 "idle timeout". 60 s; 0: none */
    size_t max_connections;       /* open connections; past it a new one gets 503 (JSON,
                                     Retry-After). default 100000, lowered to what RLIMIT_NOFILE
                                     allows (server_start raises the soft limit to the hard one) */
    size_t max_buffered_bytes;    /* input and output buffered across all connections; past it new
                                     requests get 503 with retryAfterMs and a body that would
                                     grow past it is refused. default 1 GiB */
    size_t min_body_rate;         /* bytes/s a request body must average once header_timeout_ms
                                     has passed since its head (408 below it); default 1024;
                                     0: no rate, only the progress timeout */
    uint32_t send_stall_timeout_ms; /* output queued and not one byte of it written for this
                                       long: HTTP closed, WebSocket closed 1008 "send stalled".
                                       default 30 s */
    struct send_pool *send_pool;    /* borrowed; NULL: every write on the loop (send_pool.h) */
};

/* The handler gets every complete request (body in req->body, dechunked). The request and its
 * slices are valid until the response is sent. */
typedef void (*http_handler_fn)(struct conn *c, struct http_request *req, void *arg);

/* Streamed request bodies. A route that takes a body as it arrives (a file upload, never held
 * whole in memory) says so from the request's head: the server calls the head hook
 * (server_set_head_hook) for each request that declares a body (Content-Length > 0 or chunked),
 * before reading any of it. The hook returns 0: the body is assembled as usual (max_body_bytes)
 * and the handler gets it whole. Or it returns 1 after either answering at once (http_respond,
 * e.g. 413 from the Content-Length; the connection closes after that answer, its body unread) or
 * calling conn_stream_body. Requests without a body, and those the hook leaves, take the
 * ordinary path unchanged. */
struct http_body_sink {
    /* n more bytes of the body (dechunked). 0: go on; -1: the sink has answered (http_respond)
     * and released itself (no further call); the connection closes after that answer. */
    int (*data)(struct http_body_sink *k, struct conn *c, const char *p, size_t n);
    /* The whole body has arrived: answer now or later, as a handler does (the request's head
     * stays valid until then). The last call. */
    void (*end)(struct http_body_sink *k, struct conn *c, struct http_request *req);
    /* The body will not arrive whole (the peer closed or was too slow (408), its chunked framing
     * was malformed, the server shuts down): release everything; nothing can be answered. The
     * last call; it may come from inside conn_close. */
    void (*abort)(struct http_body_sink *k, struct conn *c);
};
typedef int (*http_head_fn)(struct conn *c, struct http_request *req, void *arg);

void server_config_defaults(struct server_config *cfg);
int server_start(struct loop *l, const struct server_config *cfg, http_handler_fn handler,
                 void *arg, struct server **out, struct buf *err);
int server_port(const struct server *s);
/* Installs the head hook (at most one; NULL removes it). */
void server_set_head_hook(struct server *s, http_head_fn hook, void *arg);
/* Stops accepting and closes idle connections; in-flight requests finish. */
void server_shutdown(struct server *s);
void server_free(struct server *s);
size_t server_conn_count(const struct server *s);
size_t server_max_connections(const struct server *s); /* the cap in force (after the fd limit) */
size_t server_buffered_bytes(const struct server *s);  /* what counts against the budget now */

uint64_t conn_id(const struct conn *c);
void conn_ref(struct conn *c);
void conn_unref(struct conn *c);
int conn_is_closed(const struct conn *c);
/* 1 when c is closed or its peer has closed its side (or reset it), which a request waiting for
 * work (not reading) would not otherwise notice: a look at the socket, nothing consumed. */
int conn_peer_gone(const struct conn *c);
/* The peer's IP address, numeric ("127.0.0.1", "2001:db8::1"; an IPv4-mapped IPv6 address as
 * IPv4), NUL-terminated in out (CONN_ADDR_MAX bytes). 0, or -errno when the connection is gone or
 * the address cannot be read (then out is ""). */
#define CONN_ADDR_MAX 64
int conn_peer_addr(const struct conn *c, char out[CONN_ADDR_MAX]);
struct loop *conn_loop(const struct conn *c);
/* Closes the connection now (unsent output is dropped). The conn stays valid while referenced;
 * it is freed after the current dispatch, never inside the caller's callback. */
void conn_close(struct conn *c);

/* Answers the connection's current request. `headers` holds extra header lines, each ending in
 * "\r\n" (may be NULL). Content-Length, Date-less minimal headers and Connection are added. */
void http_respond(struct conn *c, int status, const char *content_type, const void *body,
                  size_t len, const char *headers);

/* From the head hook only: the request's body goes to k as it arrives; k is borrowed until its
 * end or abort call. The body's timeouts apply (no pause over header_timeout_ms, min_body_rate);
 * max_body_bytes does not (the sink keeps its own limit); a chunked body's framing may not
 * outgrow its data by more than 64 KiB (400). A server's buffer holds the head and one read. */
void conn_stream_body(struct conn *c, struct http_body_sink *k);

/* Answers with `len` bytes of the open file `fd` from `offset`, sent straight from the file as
 * the peer reads them (sendfile, or reads of 64 KiB where the file system has no sendfile):
 * nothing of it is held in memory. Takes ownership of fd (closed once sent, on HEAD, or when the
 * connection closes). The send-stall timeout applies; a file that turns out shorter than `len`
 * closes the connection (its Content-Length cannot be kept). sendfile has no MSG_NOSIGNAL: the
 * process must ignore SIGPIPE (vireo's main does). */
void http_respond_fd(struct conn *c, int status, const char *content_type, int fd,
                     uint64_t offset, uint64_t len, const char *headers);

/* Streamed responses: a body sent as it is produced, of a length not known in advance (an HTTP
 * action returning a ReadableStream). http_stream_begin sends the head with
 * Transfer-Encoding: chunked (RFC 9112 §7.1; to an HTTP/1.0 client the body goes unframed and the
 * connection closes after it); http_stream_write queues one chunk; http_stream_end sends the last
 * chunk and completes the request; http_stream_fail sends what is queued and closes the
 * connection without the last chunk, so that the client sees an incomplete body. Meanwhile the
 * connection reads no further request but watches for the peer leaving (EPOLLRDHUP: a peer that
 * shuts down its side counts as gone), and the send-stall timeout applies. k is borrowed until
 * end, fail, or its abort call. Output is flushed from the before-sleep step, never inside a
 * call of these, so k's callbacks never run inside them. */
struct http_out_stream {
    /* Some of the connection's output was written to the socket (http_stream_pending fell). */
    void (*drain)(struct http_out_stream *k, struct conn *c);
    /* The connection closed before the end (peer gone, write error, send stall, shutdown): the
     * last call; it may come from inside conn_close. */
    void (*abort)(struct http_out_stream *k, struct conn *c);
};
/* 0, or -1 when the connection cannot take a response now (closed, already answered). `headers`
 * as http_respond's (the handler's own, Content-Type included). */
int http_stream_begin(struct conn *c, int status, const char *headers, struct http_out_stream *k);
/* Queues n bytes as one chunk (none when n is 0). Returns http_stream_pending after it. */
size_t http_stream_write(struct conn *c, const void *p, size_t n);
/* Output of the connection not yet written to the socket (framing included). */
size_t http_stream_pending(const struct conn *c);
void http_stream_end(struct conn *c);
void http_stream_fail(struct conn *c);

#endif

/* fetch: an HTTP client on one event loop (libcurl's multi interface driven by loop.c through
 * CURLMOPT_SOCKETFUNCTION/TIMERFUNCTION), for actions' fetch(). http and https only, TLS
 * verified against the system's CA bundle, a timeout and a response size cap per request,
 * redirects followed (at most 20), returned (manual) or refused (error). Not thread-safe: one
 * client per loop thread. Knows nothing of JavaScript. */
#ifndef VR_NET_FETCH_H
#define VR_NET_FETCH_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "net/loop.h"

struct fetch_client;

struct fetch_req {
    const char *method;
    const char *url;
    const char *const *headers; /* "Name: value" lines */
    size_t nheaders;
    const void *body; /* NULL: none */
    size_t body_len;
    int redirect;        /* 0 follow, 1 manual, 2 error */
    uint32_t timeout_ms; /* whole request */
    size_t max_response; /* body bytes */
};

struct fetch_resp {
    int ok;
    long status;
    const char *status_text;
    const char *headers_json; /* [["name","value"],...] in arrival order, names lower case */
    const char *url;          /* the final URL */
    int redirected;
    const char *body;
    size_t body_len;
    const char *err_code;     /* !ok: ECONNREFUSED, ETIMEDOUT, ENOTFOUND, ... */
    const char *err_msg;
};

typedef void (*fetch_done_fn)(void *arg, const struct fetch_resp *r);
/* A streamed response: head(arg, r) once its status and headers are final (r without a body;
 * from inside libcurl's callbacks, like data), data(arg, p, len) for each piece of the body as
 * it arrives, returning 0 (taken) or 1 (not taken: the transfer pauses until fetch_resume, and
 * the same bytes come again then), and done(arg, r) once at the end (r->ok, or the error; no
 * body), from the loop's step. head and data may only record what they get: calling back into
 * the client from them is not allowed. */
typedef void (*fetch_head_fn)(void *arg, const struct fetch_resp *r);
typedef int (*fetch_data_fn)(void *arg, const char *p, size_t len);

struct fetch_client *fetch_client_new(struct loop *loop);
/* Drops every request in flight without calling their done. */
void fetch_client_free(struct fetch_client *c);
/* Starts a request; done(arg, resp) runs later from the loop. 0 with *id set, or -1 with a
 * message in err. */
int fetch_start(struct fetch_client *c, const struct fetch_req *r, fetch_done_fn done,
                void *arg, uint64_t *id, struct buf *err);
/* fetch_start with the body streamed (fetch_head_fn above); max_response bounds the body's
 * total. A request that fails before its head gets done() only. */
int fetch_start_stream(struct fetch_client *c, const struct fetch_req *r, fetch_head_fn head,
                       fetch_data_fn data, fetch_done_fn done, void *arg, uint64_t *id,
                       struct buf *err);
/* A streamed transfer that data() paused goes on (its pending bytes come to data() again). */
void fetch_resume(struct fetch_client *c, uint64_t id);
/* Drops request id (done is not called). */
void fetch_cancel(struct fetch_client *c, uint64_t id);
size_t fetch_in_flight(const struct fetch_client *c);

#endif

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

struct fetch_client *fetch_client_new(struct loop *loop);
/* Drops every request in flight without calling their done. */
void fetch_client_free(struct fetch_client *c);
/* Starts a request; done(arg, resp) runs later from the loop. 0 with *id set, or -1 with a
 * message in err. */
int fetch_start(struct fetch_client *c, const struct fetch_req *r, fetch_done_fn done,
                void *arg, uint64_t *id, struct buf *err);
/* Drops request id (done is not called). */
void fetch_cancel(struct fetch_client *c, uint64_t id);
size_t fetch_in_flight(const struct fetch_client *c);

#endif

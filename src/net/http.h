/* http: an HTTP/1.1 request parser that never allocates (picohttpparser): it fills the caller's
 * arrays with slices into the input and returns the bytes consumed, HTTP_PARTIAL when more input
 * is needed, or HTTP_ERROR. Also a chunked-body decoder that works in place. RFC 9112. */
#ifndef VR_NET_HTTP_H
#define VR_NET_HTTP_H

#include <stddef.h>
#include <sys/types.h>

#include "base/slice.h"

#define HTTP_PARTIAL (-2)
#define HTTP_ERROR (-1)
#define HTTP_MAX_HEADERS 64

struct http_header {
    struct slice name;
    struct slice value;
};

struct http_request {
    struct slice method;
    struct slice target; /* as sent: path plus optional "?query" */
    struct slice path;
    struct slice query;  /* without the '?'; empty if none */
    int minor_version;   /* HTTP/1.x */
    struct http_header headers[HTTP_MAX_HEADERS];
    size_t n_headers;
    struct slice body;   /* set by the server once the whole body has arrived */
    int keep_alive;      /* after Connection: and version rules */
    long long content_length; /* -1 if absent */
    int chunked;         /* Transfer-Encoding: chunked */
};

/* Parses the request line and headers in (p, n). Returns the header block length (bytes
 * consumed), HTTP_PARTIAL or HTTP_ERROR (also for more than HTTP_MAX_HEADERS headers, an invalid
 * Content-Length, or both Content-Length and chunked). */
ssize_t http_parse_request(const char *p, size_t n, struct http_request *req);

/* Finds a header by case-insensitive name; NULL if absent. */
const struct slice *http_header_get(const struct http_request *req, const char *name);

/* Incremental chunked decoder: decodes in place the chunked body in (p, n) — as much as is
 * complete — moving the data to the front. */
struct http_chunked {
    int state;
    size_t chunk_left;
};
/* Returns bytes of (p, n) consumed once the terminating chunk and trailers are complete (the
 * decoded length goes to *decoded), HTTP_PARTIAL if more input is needed, HTTP_ERROR. */
ssize_t http_chunked_decode(struct http_chunked *d, char *p, size_t n, size_t *decoded);

const char *http_status_text(int status);

#endif

/* http: an HTTP/1.1 request parser that never allocates (picohttpparser): it fills the caller's
 * arrays with slices into the input and returns the bytes consumed, HTTP_PARTIAL when more input
 * is needed, or HTTP_ERROR. Also a chunked-body decoder that works in place. RFC 9112.
 * Line endings must be CRLF: a bare LF is HTTP_ERROR everywhere (a documented choice: one
 * framing rule, no disagreement with proxies about where a line ends). */
#ifndef VR_NET_HTTP_H
#define VR_NET_HTTP_H

#include <stddef.h>
#include <sys/types.h>

#include "base/slice.h"

#define HTTP_PARTIAL (-2)
#define HTTP_ERROR (-1)
#define HTTP_TOO_MANY_HEADERS (-3) /* more than HTTP_MAX_HEADERS fields: answer 431 */
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
 * consumed), HTTP_PARTIAL, HTTP_TOO_MANY_HEADERS (more than HTTP_MAX_HEADERS fields) or
 * HTTP_ERROR (an invalid Content-Length or two that differ, Transfer-Encoding other than
 * "chunked", TE in HTTP/1.0, both Content-Length and chunked, a version other than HTTP/1.0 or
 * 1.1, obs-fold, control characters in the request line or a header value). Slices point into
 * p: valid only while p does not move (a caller whose buffer grows keeps offsets or re-parses). */
ssize_t http_parse_request(const char *p, size_t n, struct http_request *req);

/* The raw (not decoded) value of query parameter `name` in q (a request's query): 1 and *v when
 * present (`name` alone: an empty value), else 0. */
int http_query_param(struct slice q, const char *name, struct slice *v);

/* Finds a header by case-insensitive name; NULL if absent. */
const struct slice *http_header_get(const struct http_request *req, const char *name);
/* The path with its dot segments resolved as a URL parser does ("/a/./b/../c" -> "/a/c"; "%2e"
 * counts as "."), so that a route is chosen by the path the handler's `new URL(request.url)`
 * shows. Written to out (at least path.len + 1 bytes); returns its length. A path that does not
 * start with '/' is copied as is. */
size_t http_path_resolved(struct slice path, char *out);
/* How many header fields named `name` (any case) the request has. */
size_t http_header_count(const struct http_request *req, const char *name);

/* Incremental chunked decoder (RFC 9112 §7.1), in place. Call it again with the same `p` (the
 * start of the body) and a larger `n` as more input arrives: it resumes at in_pos and moves the
 * decoded data to the front of `p` (out_pos bytes so far). Chunk extensions and trailers are
 * checked for control characters and dropped. Zero-initialise or http_chunked_init() first. */
struct http_chunked {
    int state;
    size_t chunk_left; /* bytes of the current chunk not yet seen (size limit checks use it) */
    size_t in_pos;     /* raw bytes of p consumed so far */
    size_t out_pos;    /* decoded bytes at the front of p */
};
void http_chunked_init(struct http_chunked *d);
/* Returns the raw bytes of (p, n) consumed once the terminating chunk and trailers are complete,
 * HTTP_PARTIAL if more input is needed, HTTP_ERROR. *decoded gets the decoded length so far in
 * every case (on PARTIAL too, for limit checks). */
ssize_t http_chunked_decode(struct http_chunked *d, char *p, size_t n, size_t *decoded);

/* Does the header value, a comma-separated list, contain `tok` (case-insensitive)?
 * v may be NULL. */
int http_header_has_token(const struct slice *v, const char *tok);

const char *http_status_text(int status);

#endif

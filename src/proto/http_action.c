/* http_action: route matching, the request as the HTTP action's arguments, and the action's
 * {status, headers, body} record written out as the HTTP response (see http_action.h); or, for a
 * streamed body, the head and chunks the action sends on its stream while it runs, written out
 * chunked as they come, with the bytes held per response bounded (HTTP_ACTION_STREAM_QUEUE). */
#include "proto/http_action.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/base64.h"
#include "base/log.h"
#include "base/mem.h"
#include "proto/actions.h"
#include "proto/call_origin.h"
#include "proto/convex_http.h"
#include "proto/reply.h"
#include "base/banned.h"

#define MAX_LOGGED_PATH 200

/* A request running on the action pool; holds its connection until answered. */
struct http_action_req {
    struct conn *c;
    struct action_stream *st;   /* the action's streamed output (our reference) */
    struct http_out_stream out; /* while the streamed response is open on c */
    size_t held;                /* chunk bytes taken from st and not yet released */
    uint64_t sent;              /* chunk bytes written to c */
    int streaming;              /* the streamed head went out */
    int answered;               /* c was answered otherwise (an invalid head) */
    int gone;                   /* the streamed response ended early (client gone, refused) */
    char route[16 + MAX_LOGGED_PATH]; /* "METHOD /path", for the log */
};

static const json_t *routes_of(const struct shard *s)
{
    return s->rt ? js_runtime_http_routes(s->rt) : NULL;
}

int http_action_has_routes(const struct shard *s)
{
    return routes_of(s) != NULL;
}

struct slice http_action_route(struct slice path, char *stack, size_t cap)
{
    char *out = path.len + 1 <= cap ? stack : vr_malloc(path.len + 1);
    return slice_of(out, http_path_resolved(path, out));
}

void http_action_route_free(struct slice route, const char *stack)
{
    if (route.p != stack)
        vr_free((char *)route.p);
}

int http_action_match(const struct shard *s, struct slice method, struct slice path)
{
    const json_t *routes = routes_of(s);
    if (!routes)
        return 0;
    /* Convex's normalizeMethod: HEAD is served by the GET route */
    struct slice m = slice_eq_str(method, "HEAD") ? slice_of("GET", 3) : method;
    size_t i;
    const json_t *r;
    json_array_foreach(routes, i, r) {
        const char *rm = json_string_value(json_array_get(r, 0));
        const json_t *rp = json_array_get(r, 1);
        const char *p = json_string_value(rp);
        size_t plen = json_string_length(rp);
        if (!rm || !p || !slice_eq_str(m, rm))
            continue;
        if (json_is_true(json_array_get(r, 2))) {
            if (path.len >= plen && !memcmp(path.p, p, plen))
                return 1;
        } else if (path.len == plen && !memcmp(path.p, p, plen)) {
            return 1;
        }
    }
    return 0;
}

static void respond_error(struct conn *c, int status, const char *code, const char *msg,
                          const char *extra_headers)
{
    struct buf b = BUF_INIT(BUF_NOLIMIT);
    buf_append_str(&b, "{\"status\":\"error\",");
    reply_error_fields(&b, code, msg, strlen(msg), NULL, 0);
    buf_append_str(&b, "}");
    http_respond(c, status, "application/json", b.data, b.len, extra_headers);
    buf_release(&b);
}

/* A failed action's answer: Vireo's error fields and Convex's, {code: "[Request ID: <id>] Server
 * Error: Uncaught Error: boom", trace, data: a ConvexError's data}, so that either reader finds
 * what it looks for. */
static void respond_failure(struct conn *c, int status, const char *code,
                            const struct js_result *res)
{
    struct buf b = BUF_INIT(BUF_NOLIMIT), text = BUF_INIT(BUF_NOLIMIT),
               line = BUF_INIT(BUF_NOLIMIT);
    char rid[17];
    convex_http_request_id(rid);
    convex_http_result_text(&text, res);
    buf_appendf(&line, "[Request ID: %s] Server Error: ", rid);
    buf_append(&line, text.data, text.len);
    buf_append_str(&b, "{\"status\":\"error\",");
    reply_error_fields(&b, code, res->error.data, res->error.len, NULL, 0);
    buf_append_str(&b, ",\"code\":");
    buf_append_json_str(&b, line.data, line.len);
    buf_append_str(&b, ",\"trace\":");
    buf_append_json_str(&b, text.data, text.len);
    if (res->error_data.len) {
        buf_append_str(&b, ",\"data\":");
        if (convex_http_export(&b, res->error_data.data, res->error_data.len, CONVEX_ENCODED) < 0)
            buf_append_str(&b, "null");
    }
    buf_append_byte(&b, '}');
    http_respond(c, status, "application/json", b.data, b.len, NULL);
    buf_release(&line);
    buf_release(&text);
    buf_release(&b);
}

void http_action_refuse_body(struct conn *c, size_t len, size_t max_body)
{
    char msg[300];
    snprintf(msg, sizeof msg,
             "the request body (%zu bytes) is larger than the HTTP action body limit (%zu "
             "bytes, --max-http-action-body)",
             len, max_body);
    respond_error(c, 413, "BodyTooLarge", msg, NULL);
}

void http_action_not_found(struct conn *c, struct slice path)
{
    struct buf b = BUF_INIT(BUF_NOLIMIT);
    buf_appendf(&b, "No HttpAction routed for %.*s", (int)path.len, path.p);
    http_respond(c, 404, "text/plain;charset=UTF-8", b.data, b.len, NULL);
    buf_release(&b);
}

/* A header field as a JSON string: each byte one character (a ByteString, as fetch's Headers
 * sees header bytes), so that any byte the parser let through stays valid JSON. */
static void append_byte_string(struct buf *b, const char *p, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    buf_append_byte(b, '"');
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)p[i];
        if (ch >= 0x20 && ch < 0x7f && ch != '"' && ch != '\\') {
            buf_append_byte(b, (char)ch);
        } else {
            char esc[6] = { '\\', 'u', '0', '0', hex[ch >> 4], hex[ch & 15] };
            buf_append(b, esc, sizeof esc);
        }
    }
    buf_append_byte(b, '"');
}

/* The Host header if it is a plain host[:port], else "localhost". */
static struct slice url_host(const struct http_request *req)
{
    const struct slice *h = http_header_get(req, "host");
    if (!h || h->len == 0 || h->len > 255)
        return slice_of("localhost", 9);
    for (size_t i = 0; i < h->len; i++) {
        char ch = h->p[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '.' || ch == '-' || ch == ':' || ch == '[' || ch == ']' || ch == '_'))
            return slice_of("localhost", 9);
    }
    return *h;
}

/* The action's arguments: {"method", "url", "path", "headers": [[name, value]], "body"}. */
static void request_args(struct buf *b, const struct http_request *req)
{
    const struct slice *proto = http_header_get(req, "x-forwarded-proto");
    int https = proto && proto->len == 5 && !strncasecmp(proto->p, "https", 5);
    struct slice host = url_host(req);
    buf_append_str(b, "{\"method\":");
    append_byte_string(b, req->method.p, req->method.len);
    struct buf url = BUF_INIT(BUF_NOLIMIT);
    buf_appendf(&url, "%s://%.*s", https ? "https" : "http", (int)host.len, host.p);
    buf_append(&url, req->target.p, req->target.len);
    buf_append_str(b, ",\"url\":");
    append_byte_string(b, url.data, url.len);
    buf_release(&url);
    buf_append_str(b, ",\"path\":");
    char stack[2048];
    struct slice path = http_action_route(req->path, stack, sizeof stack);
    append_byte_string(b, path.p, path.len);
    http_action_route_free(path, stack);
    buf_append_str(b, ",\"headers\":[");
    for (size_t i = 0; i < req->n_headers; i++) {
        buf_append_str(b, i ? ",[" : "[");
        append_byte_string(b, req->headers[i].name.p, req->headers[i].name.len);
        buf_append_byte(b, ',');
        append_byte_string(b, req->headers[i].value.p, req->headers[i].value.len);
        buf_append_byte(b, ']');
    }
    buf_append_str(b, "],\"body\":");
    if (req->body.len || req->content_length > 0 || req->chunked) {
        buf_append_str(b, "{\"$bytes\":\"");
        base64_encode(b, req->body.p, req->body.len, 0);
        buf_append_str(b, "\"}}");
    } else {
        buf_append_str(b, "null}");
    }
}

static int is_token_char(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

/* Appends "name: value\r\n" for one of the handler's headers; skips the fields the server
 * writes itself (framing) and refuses a name or value that could split the response. */
static int append_header(struct buf *out, const char *name, size_t nlen, const char *value,
                         size_t vlen, struct buf *err)
{
    static const char *const own[] = { "content-length", "transfer-encoding", "connection",
                                       "keep-alive", "upgrade" };
    if (nlen == 0) {
        buf_append_str(err, "an empty header name");
        return -1;
    }
    for (size_t i = 0; i < nlen; i++)
        if (!is_token_char((unsigned char)name[i])) {
            buf_appendf(err, "header name \"%.*s\" is not a valid token", (int)(nlen < 100 ? nlen : 100),
                        name);
            return -1;
        }
    for (size_t i = 0; i < vlen; i++) {
        unsigned char ch = (unsigned char)value[i];
        if (ch == '\r' || ch == '\n' || ch == 0) {
            buf_appendf(err, "the value of header \"%.*s\" contains CR, LF or NUL",
                        (int)(nlen < 100 ? nlen : 100), name);
            return -1;
        }
    }
    for (size_t i = 0; i < sizeof own / sizeof own[0]; i++)
        if (strlen(own[i]) == nlen && !strncasecmp(own[i], name, nlen))
            return 0;
    buf_append(out, name, nlen);
    buf_append_str(out, ": ");
    buf_append(out, value, vlen);
    buf_append_str(out, "\r\n");
    return 0;
}

/* The status and header lines of a response record ({status, headers}); -1 with err if they
 * cannot be a valid response. */
static int record_head(const json_t *root, int *status, struct buf *headers, struct buf *err)
{
    const json_t *st = json_object_get(root, "status");
    const json_t *hs = json_object_get(root, "headers");
    if (!json_is_object(root) || !json_is_number(st) || !json_is_array(hs)) {
        buf_append_str(err, "malformed response record from the prelude");
        return -1;
    }
    double sd = json_number_value(st);
    *status = (int)sd;
    if (sd != *status || *status < 200 || *status > 599) {
        buf_appendf(err, "status %g is not a valid HTTP status (200 to 599)", sd);
        return -1;
    }
    size_t i;
    const json_t *h;
    json_array_foreach(hs, i, h) {
        const json_t *n = json_array_get(h, 0), *v = json_array_get(h, 1);
        if (!json_is_string(n) || !json_is_string(v)) {
            buf_append_str(err, "malformed header in the response record");
            return -1;
        }
        if (append_header(headers, json_string_value(n), json_string_length(n),
                          json_string_value(v), json_string_length(v), err) < 0)
            return -1;
    }
    return 0;
}

/* Writes the action's {status, headers, body} record as the response; -1 with err if the record
 * cannot be a valid response. */
static int write_response(struct conn *c, const char *value, size_t len, struct buf *err)
{
    json_error_t jerr;
    json_t *root = json_loadb(value, len, JSON_ALLOW_NUL, &jerr);
    struct buf headers = BUF_INIT(BUF_NOLIMIT);
    unsigned char *body = NULL;
    size_t body_len = 0;
    int rc = -1;
    int status = 0;
    const json_t *bd = json_object_get(root, "body");
    if (record_head(root, &status, &headers, err) < 0)
        goto out;
    const json_t *b64 = json_object_get(bd, "$bytes");
    if (json_is_string(b64)) {
        size_t n = json_string_length(b64);
        body = vr_malloc(3 * ((n + 3) / 4) + 1);
        long d = base64_decode(body, json_string_value(b64), n);
        if (d < 0) {
            buf_append_str(err, "malformed body in the response record");
            goto out;
        }
        body_len = (size_t)d;
    } else if (json_is_string(bd)) {
        body_len = json_string_length(bd);
        body = vr_memdup(json_string_value(bd), body_len + 1);
    } else if (!json_is_null(bd) && bd) {
        buf_append_str(err, "malformed body in the response record");
        goto out;
    }
    /* the handler's headers carry Content-Type (or none): the server adds none of its own */
    http_respond(c, status, NULL, body, body_len, headers.len ? headers.data : NULL);
    rc = 0;
out:
    vr_free(body);
    buf_release(&headers);
    json_decref(root);
    return rc;
}

/* --- streamed responses --- */

/* Releases the chunk bytes that have left the connection since the last call. */
static void stream_account(struct http_action_req *ha)
{
    if (!ha->streaming || ha->gone)
        return;
    size_t pending = http_stream_pending(ha->c);
    if (ha->held > pending) {
        action_stream_release(ha->st, ha->held - pending);
        ha->held = pending;
    }
}

static void stream_drain(struct http_out_stream *k, struct conn *c)
{
    (void)c;
    struct http_action_req *ha = (struct http_action_req *)((char *)k -
                                                            offsetof(struct http_action_req, out));
    stream_account(ha);
}

static void stream_abort(struct http_out_stream *k, struct conn *c)
{
    struct http_action_req *ha = (struct http_action_req *)((char *)k -
                                                            offsetof(struct http_action_req, out));
    ha->gone = 1;
    log_info("http", "conn=%llu %s: the client left during the streamed response (%" PRIu64
             " bytes sent); cancelling its stream", (unsigned long long)conn_id(c), ha->route,
             ha->sent);
    action_stream_cancel(ha->st, "the client disconnected");
}

/* The head of a streamed response: checked as a whole response's, then sent. */
static void stream_head(struct http_action_req *ha, const char *json, size_t len)
{
    struct buf err = BUF_INIT(4096), headers = BUF_INIT(BUF_NOLIMIT);
    json_t *root = json_loadb(json, len, 0, NULL);
    int status = 0;
    if (conn_is_closed(ha->c)) {
        ha->gone = 1;
        action_stream_cancel(ha->st, "the client disconnected");
    } else if (record_head(root, &status, &headers, &err) < 0) {
        log_error("http", "%s: the HTTP action's response cannot be sent: %s", ha->route,
                  err.data);
        respond_error(ha->c, 500, "InvalidResponse", err.data, NULL);
        ha->answered = ha->gone = 1;
        action_stream_cancel(ha->st, err.data);
    } else if (http_stream_begin(ha->c, status, headers.len ? headers.data : NULL, &ha->out) < 0) {
        ha->gone = 1;
        action_stream_cancel(ha->st, "the connection cannot take the response");
    } else {
        ha->streaming = 1;
    }
    json_decref(root);
    buf_release(&headers);
    buf_release(&err);
}

/* The action's stream has items: write them out. */
static void stream_ready(void *arg)
{
    struct http_action_req *ha = arg;
    struct action_stream_item *it = action_stream_take(ha->st);
    while (it) {
        struct action_stream_item *next = it->next;
        if (ha->gone) {
            /* dropped */
        } else if (it->head) {
            stream_head(ha, it->data, it->len);
        } else if (ha->streaming) {
            http_stream_write(ha->c, it->data, it->len);
            ha->held += it->len;
            ha->sent += it->len;
        }
        vr_free(it);
        it = next;
    }
    stream_account(ha);
}

/* The action finished after its streamed head went out: end the body, or cut it short. */
static void stream_done(struct http_action_req *ha, const struct js_result *res)
{
    if (res->status == JS_OK) {
        if (!ha->gone)
            http_stream_end(ha->c);
        log_debug("http", "%s: streamed %" PRIu64 " bytes", ha->route, ha->sent);
        return;
    }
    const char *code = res->error_code.len ? res->error_code.data : "FunctionFailed";
    log_error("http", "%s: HTTP action failed after %" PRIu64 " bytes of its streamed response; "
              "closing the connection without the last chunk: %s: %s", ha->route, ha->sent, code,
              res->error.data);
    if (!ha->gone)
        http_stream_fail(ha->c);
}

static void action_done(void *arg, const struct js_result *res)
{
    struct http_action_req *ha = arg;
    struct buf err = BUF_INIT(4096);
    if (ha->st)
        stream_ready(ha); /* what it sent last */
    if (ha->streaming) {
        stream_done(ha, res);
    } else if (ha->answered) {
        /* answered with the error of its head */
    } else if (res->status == JS_OK) {
        if (!conn_is_closed(ha->c) && write_response(ha->c, res->value.data, res->value.len,
                                                     &err) < 0) {
            log_error("http", "%s: the HTTP action's response cannot be sent: %s", ha->route,
                      err.data);
            respond_error(ha->c, 500, "InvalidResponse", err.data, NULL);
        }
    } else {
        const char *code = res->error_code.len ? res->error_code.data : "FunctionFailed";
        log_error("http", "%s: HTTP action failed: %s: %s", ha->route, code, res->error.data);
        if (!conn_is_closed(ha->c)) {
            int status = res->status == JS_ERR_INTERNAL && (!strcmp(code, "ServerShuttingDown") ||
                                                            !strcmp(code, "NoAppLoaded"))
                             ? 503 : 500;
            respond_failure(ha->c, status, code, res);
        }
    }
    buf_release(&err);
    action_stream_unref(ha->st);
    conn_unref(ha->c);
    vr_free(ha);
}

void http_action_run(struct shard *s, struct conn *c, struct http_request *req, size_t max_body,
                     uint64_t max_stream, const char *identity)
{
    const struct js_function *fn = s->rt ? js_runtime_find(s->rt, JS_HTTP_ACTION_PATH) : NULL;
    if (!fn || !s->actions) {
        respond_error(c, 503, "NoAppLoaded", "HTTP actions need a loaded app and the action pool",
                      NULL);
        return;
    }
    if (req->body.len > max_body) {
        http_action_refuse_body(c, req->body.len, max_body);
        return;
    }
    struct buf args = BUF_INIT(BUF_NOLIMIT);
    request_args(&args, req);
    struct http_action_req *ha = vr_calloc(1, sizeof *ha);
    ha->c = c;
    ha->out.drain = stream_drain;
    ha->out.abort = stream_abort;
    snprintf(ha->route, sizeof ha->route, "%.*s %.*s", (int)(req->method.len < 15 ? req->method.len : 15),
             req->method.p, (int)(req->path.len < MAX_LOGGED_PATH ? req->path.len : MAX_LOGGED_PATH),
             req->path.p);
    conn_ref(c);
    /* getRequestMetadata: its token, when the app's providers accepted it ("!": refused) */
    struct call_origin origin;
    call_origin_http(&origin, c, req, identity != NULL && identity[0] != '!', NULL);
    int r = action_pool_submit_stream(s->actions, fn, args.data, args.len, identity, &origin.r,
                                      action_done, ha, HTTP_ACTION_STREAM_QUEUE, max_stream,
                                      stream_ready, ha, &ha->st);
    call_origin_release(&origin);
    buf_release(&args);
    if (r < 0) {
        conn_unref(c);
        vr_free(ha);
        char hdr[64];
        int after = 500 + rand() % 1500;
        snprintf(hdr, sizeof hdr, "Retry-After: %d\r\n", (after + 999) / 1000);
        respond_error(c, 503, r == -EAGAIN ? "ServerOverloaded" : "ServerShuttingDown",
                      r == -EAGAIN ? "too many actions are queued or running; retry later"
                                   : "the server is shutting down",
                      hdr);
    }
}

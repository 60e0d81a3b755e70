/* fetch: libcurl multi on loop.c. Each request is a curl easy handle with its own response
 * buffers; curl tells us which sockets to watch (sock_cb) and when to call it back (timer_cb),
 * and the loop calls curl_multi_socket_action for both; finished transfers are collected after
 * every action (check_done) and reported once. */
#include "net/fetch.h"

#include <ctype.h>
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "base/log.h"
#include "base/mem.h"

#include "base/banned.h"

#define FETCH_MAX_REDIRECTS 20
#define FETCH_MAX_HEADER_BYTES (256u << 10)

struct fetch_xfer {
    struct fetch_xfer *next;
    struct fetch_client *c;
    uint64_t id;
    CURL *easy;
    struct curl_slist *hdrs;
    fetch_done_fn done;
    fetch_head_fn head; /* a streamed body: head and data set */
    fetch_data_fn data;
    void *arg;
    int redirect;
    size_t max_response;
    size_t total;       /* body bytes taken (streamed) */
    int head_sent, paused;
    int location;       /* the response has a Location header */
    int too_large;
    struct buf body;
    struct buf headers;     /* JSON array, built as lines arrive */
    struct buf status_text;
    char errbuf[CURL_ERROR_SIZE];
};

struct fetch_client {
    struct loop *loop;
    CURLM *multi;
    struct timer timer;
    struct fetch_xfer *xfers;
    uint64_t next_id;
    size_t n;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void xfer_unlink(struct fetch_xfer *x)
{
    struct fetch_client *c = x->c;
    struct fetch_xfer **pp = &c->xfers;
    while (*pp && *pp != x)
        pp = &(*pp)->next;
    if (*pp) {
        *pp = x->next;
        c->n--;
    }
}

static void xfer_free(struct fetch_xfer *x)
{
    struct fetch_client *c = x->c;
    xfer_unlink(x);
    curl_multi_remove_handle(c->multi, x->easy);
    curl_easy_cleanup(x->easy);
    curl_slist_free_all(x->hdrs);
    buf_release(&x->body);
    buf_release(&x->headers);
    buf_release(&x->status_text);
    vr_free(x);
}

static const char *code_of(CURLcode rc, const char **what)
{
    switch (rc) {
    case CURLE_COULDNT_CONNECT: *what = "connect ECONNREFUSED"; return "ECONNREFUSED";
    case CURLE_OPERATION_TIMEDOUT: *what = "the request timed out"; return "ETIMEDOUT";
    case CURLE_COULDNT_RESOLVE_HOST: *what = "getaddrinfo ENOTFOUND"; return "ENOTFOUND";
    case CURLE_TOO_MANY_REDIRECTS: *what = "redirect count exceeded"; return "ERR_TOO_MANY_REDIRECTS";
    case CURLE_UNSUPPORTED_PROTOCOL: *what = "unknown scheme"; return "ERR_UNSUPPORTED_SCHEME";
    case CURLE_URL_MALFORMAT: *what = "invalid URL"; return "ERR_INVALID_URL";
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
        *what = "TLS certificate verification failed"; return "ERR_TLS_CERT_VERIFY";
    case CURLE_SSL_CONNECT_ERROR: *what = "TLS handshake failed"; return "ERR_TLS_HANDSHAKE";
    case CURLE_GOT_NOTHING:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_PARTIAL_FILE: *what = "other side closed"; return "ECONNRESET";
    default: *what = "network error"; return "ERR_FETCH";
    }
}

/* A successful response's head: status, status text, headers (x->headers, its JSON array closed
 * by the caller), final URL. */
static void head_of(struct fetch_xfer *x, struct fetch_resp *r)
{
    long status = 0, redirects = 0;
    char *eff = NULL;
    curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(x->easy, CURLINFO_EFFECTIVE_URL, &eff);
    curl_easy_getinfo(x->easy, CURLINFO_REDIRECT_COUNT, &redirects);
    r->ok = 1;
    r->status = status;
    r->status_text = x->status_text.data ? x->status_text.data : "";
    r->headers_json = x->headers.data;
    r->url = eff ? eff : "";
    r->redirected = redirects > 0;
}

/* The head of a streamed response, its body to follow (trailers may still add headers: the
 * array is closed only for the call). on_header keeps room for the ']'. */
static void send_head(struct fetch_xfer *x)
{
    struct fetch_resp r = { 0 };
    buf_append_byte(&x->headers, ']');
    head_of(x, &r);
    x->head_sent = 1;
    x->head(x->arg, &r);
    x->headers.len--;
}

static void report(struct fetch_xfer *x, CURLcode rc)
{
    struct fetch_resp r = { 0 };
    char msg[CURL_ERROR_SIZE + 256];
    long status = 0;
    curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
    buf_append_byte(&x->headers, ']');
    if (rc == CURLE_OK && x->redirect == 2 && status >= 300 && status < 400) {
        char *loc = NULL;
        curl_easy_getinfo(x->easy, CURLINFO_REDIRECT_URL, &loc);
        if (loc) {
            r.err_code = "ERR_UNEXPECTED_REDIRECT";
            r.err_msg = "unexpected redirect";
            goto fail;
        }
    }
    if (x->too_large || rc == CURLE_FILESIZE_EXCEEDED) {
        snprintf(msg, sizeof msg, "the response body is larger than %zu bytes (the server's "
                 "--fetch-max-response-mb)", x->max_response);
        r.err_code = "ERR_FETCH_RESPONSE_TOO_LARGE";
        r.err_msg = msg;
        goto fail;
    }
    if (rc != CURLE_OK) {
        const char *what;
        r.err_code = code_of(rc, &what);
        snprintf(msg, sizeof msg, "%s (%s)", what, x->errbuf[0] ? x->errbuf : curl_easy_strerror(rc));
        r.err_msg = msg;
        goto fail;
    }
    head_of(x, &r);
    if (!x->head) {
        r.body = x->body.data ? x->body.data : "";
        r.body_len = x->body.len;
    } else if (!x->head_sent) { /* streamed, without a body: its head goes now */
        x->head_sent = 1;
        x->head(x->arg, &r);
    }
fail:
    xfer_unlink(x); /* no longer cancellable; its buffers live until done returns */
    x->done(x->arg, &r);
    xfer_free(x);
}

static void check_done(struct fetch_client *c)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(c->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        struct fetch_xfer *x = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
        if (x)
            report(x, m->data.result);
    }
}

static void on_io(struct loop *l, int fd, uint32_t events, void *arg)
{
    (void)l;
    struct fetch_client *c = arg;
    int flags = 0, running = 0;
    if (events & EPOLLIN)
        flags |= CURL_CSELECT_IN;
    if (events & EPOLLOUT)
        flags |= CURL_CSELECT_OUT;
    if (events & (EPOLLERR | EPOLLHUP))
        flags |= CURL_CSELECT_ERR;
    curl_multi_socket_action(c->multi, fd, flags, &running);
    check_done(c);
}

static void on_timer(struct loop *l, struct timer *t)
{
    (void)l;
    struct fetch_client *c = t->arg;
    int running = 0;
    curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_done(c);
}

static int sock_cb(CURL *e, curl_socket_t s, int what, void *userp, void *socketp)
{
    (void)e;
    struct fetch_client *c = userp;
    if (what == CURL_POLL_REMOVE) {
        if (socketp) {
            loop_del_fd(c->loop, s);
            curl_multi_assign(c->multi, s, NULL);
        }
        return 0;
    }
    uint32_t ev = (what & CURL_POLL_IN ? EPOLLIN : 0) | (what & CURL_POLL_OUT ? EPOLLOUT : 0);
    if (!socketp) {
        if (loop_add_fd(c->loop, s, ev, on_io, c) == 0)
            curl_multi_assign(c->multi, s, c);
    } else {
        loop_mod_fd(c->loop, s, ev);
    }
    return 0;
}

static int timer_cb(CURLM *m, long timeout_ms, void *userp)
{
    (void)m;
    struct fetch_client *c = userp;
    if (timeout_ms < 0)
        loop_timer_stop(c->loop, &c->timer);
    else
        loop_timer_start(c->loop, &c->timer, (uint64_t)timeout_ms);
    return 0;
}

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
    struct fetch_xfer *x = arg;
    size_t len = size * n;
    if (x->head) { /* streamed */
        if (!x->head_sent && x->redirect == 2 && x->location) { /* report() refuses it */
            long status = 0;
            curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
            if (status >= 300 && status < 400)
                return len; /* its body is dropped */
        }
        if (!x->head_sent)
            send_head(x);
        if (x->total + len > x->max_response) {
            x->too_large = 1;
            return 0;
        }
        if (x->data(x->arg, p, len)) {
            x->paused = 1;
            return CURL_WRITEFUNC_PAUSE;
        }
        x->total += len;
        return len;
    }
    if (x->body.len + len > x->max_response) {
        x->too_large = 1;
        return 0; /* CURLE_WRITE_ERROR */
    }
    if (buf_append(&x->body, p, len) < 0)
        return 0;
    return len;
}

static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
    struct fetch_xfer *x = arg;
    size_t len = size * n;
    while (len && (p[len - 1] == '\n' || p[len - 1] == '\r'))
        len--;
    if (len >= 5 && !memcmp(p, "HTTP/", 5)) { /* a new response (redirect, 100): start over */
        buf_reset(&x->headers);
        buf_append_byte(&x->headers, '[');
        buf_reset(&x->status_text);
        x->location = 0;
        const char *sp = memchr(p, ' ', len);
        if (sp)
            sp = memchr(sp + 1, ' ', len - (size_t)(sp + 1 - p));
        if (sp)
            buf_append(&x->status_text, sp + 1, len - (size_t)(sp + 1 - p));
        else
            buf_append_str(&x->status_text, "");
        return size * n;
    }
    const char *colon = len ? memchr(p, ':', len) : NULL;
    if (!colon || colon == p)
        return size * n;
    if (x->headers.len + len + 16 > FETCH_MAX_HEADER_BYTES)
        return 0;
    char name[256];
    size_t nl = (size_t)(colon - p) < sizeof name - 1 ? (size_t)(colon - p) : sizeof name - 1;
    for (size_t i = 0; i < nl; i++)
        name[i] = (char)tolower((unsigned char)p[i]);
    if (nl == 8 && !memcmp(name, "location", 8))
        x->location = 1;
    const char *v = colon + 1, *end = p + len;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    if (x->headers.len > 1)
        buf_append_byte(&x->headers, ',');
    buf_append_byte(&x->headers, '[');
    buf_append_json_str(&x->headers, name, nl);
    buf_append_byte(&x->headers, ',');
    buf_append_json_str(&x->headers, v, (size_t)(end - v));
    buf_append_byte(&x->headers, ']');
    return size * n;
}

struct fetch_client *fetch_client_new(struct loop *loop)
{
    pthread_once(&curl_once, curl_init_once);
    struct fetch_client *c = vr_calloc(1, sizeof *c);
    c->loop = loop;
    c->multi = curl_multi_init();
    if (!c->multi) {
        vr_free(c);
        return NULL;
    }
    timer_init(&c->timer, on_timer, c);
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, sock_cb);
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
    return c;
}

void fetch_client_free(struct fetch_client *c)
{
    if (!c)
        return;
    while (c->xfers)
        xfer_free(c->xfers);
    loop_timer_stop(c->loop, &c->timer);
    curl_multi_cleanup(c->multi);
    vr_free(c);
}

size_t fetch_in_flight(const struct fetch_client *c)
{
    return c->n;
}

static int start(struct fetch_client *c, const struct fetch_req *r, fetch_head_fn head,
                 fetch_data_fn data, fetch_done_fn done, void *arg, uint64_t *id,
                 struct buf *err)
{
    struct fetch_xfer *x = vr_calloc(1, sizeof *x);
    x->c = c;
    x->done = done;
    x->head = head;
    x->data = data;
    x->arg = arg;
    x->redirect = r->redirect;
    x->max_response = r->max_response;
    buf_init(&x->body, head ? 0 : r->max_response + 1);
    buf_init(&x->headers, FETCH_MAX_HEADER_BYTES);
    buf_init(&x->status_text, 4096);
    buf_append_byte(&x->headers, '[');
    x->easy = curl_easy_init();
    if (!x->easy) {
        buf_append_str(err, "cannot create a transfer");
        goto fail;
    }
    CURL *e = x->easy;
    curl_easy_setopt(e, CURLOPT_URL, r->url);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, r->redirect == 0 ? 1L : 0L);
    curl_easy_setopt(e, CURLOPT_MAXREDIRS, (long)FETCH_MAX_REDIRECTS);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)r->timeout_ms);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)r->max_response);
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, ""); /* gzip etc., decoded as fetch does */
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);
    curl_easy_setopt(e, CURLOPT_PRIVATE, x);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "vireo");
    int has_expect = 0, has_type = 0;
    for (size_t i = 0; i < r->nheaders; i++) {
        struct curl_slist *n = curl_slist_append(x->hdrs, r->headers[i]);
        if (!n) {
            buf_append_str(err, "out of memory");
            goto fail;
        }
        x->hdrs = n;
        if (!strncasecmp(r->headers[i], "expect:", 7))
            has_expect = 1;
        if (!strncasecmp(r->headers[i], "content-type:", 13))
            has_type = 1;
    }
    if (!has_expect)
        x->hdrs = curl_slist_append(x->hdrs, "Expect:"); /* no 100-continue round trip */
    if (!has_type) /* curl would send a form type for a body that has none */
        x->hdrs = curl_slist_append(x->hdrs, "Content-Type:");
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->hdrs);
    if (!strcmp(r->method, "GET")) {
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    } else if (!strcmp(r->method, "HEAD")) {
        curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    } else {
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(r->body ? r->body_len : 0));
        curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, r->body ? (const char *)r->body : "");
        if (strcmp(r->method, "POST"))
            curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, r->method);
    }
    if (curl_multi_add_handle(c->multi, e) != CURLM_OK) {
        buf_append_str(err, "cannot start the transfer");
        goto fail;
    }
    x->id = ++c->next_id;
    x->next = c->xfers;
    c->xfers = x;
    c->n++;
    *id = x->id;
    return 0;
fail:
    if (x->easy)
        curl_easy_cleanup(x->easy);
    curl_slist_free_all(x->hdrs);
    buf_release(&x->body);
    buf_release(&x->headers);
    buf_release(&x->status_text);
    vr_free(x);
    return -1;
}

int fetch_start(struct fetch_client *c, const struct fetch_req *r, fetch_done_fn done,
                void *arg, uint64_t *id, struct buf *err)
{
    return start(c, r, NULL, NULL, done, arg, id, err);
}

int fetch_start_stream(struct fetch_client *c, const struct fetch_req *r, fetch_head_fn head,
                       fetch_data_fn data, fetch_done_fn done, void *arg, uint64_t *id,
                       struct buf *err)
{
    return start(c, r, head, data, done, arg, id, err);
}

void fetch_resume(struct fetch_client *c, uint64_t id)
{
    for (struct fetch_xfer *x = c->xfers; x; x = x->next)
        if (x->id == id) {
            if (x->paused) {
                x->paused = 0;
                curl_easy_pause(x->easy, CURLPAUSE_CONT); /* may call on_body at once */
            }
            return;
        }
}

void fetch_cancel(struct fetch_client *c, uint64_t id)
{
    for (struct fetch_xfer *x = c->xfers; x; x = x->next)
        if (x->id == id) {
            xfer_free(x);
            return;
        }
}

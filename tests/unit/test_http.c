/* test_http: the request parser and chunked decoder (inputs end at a PROT_NONE guard page so an
 * over-read crashes), and server.c over real loopback sockets: pipelining, ordering of late
 * responses, limits (400/413/431), 100-continue, timeouts (408, idle), graceful shutdown,
 * streamed request bodies (the head hook) and responses sent from a file (http_respond_fd). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <unistd.h>

#include "test.h"

#include "base/buf.h"
#include "base/clock.h"
#include "net/http.h"
#include "net/loop.h"
#include "net/server.h"

/* Copies (p, n) so that it ends exactly at a PROT_NONE page. */
static char *guard_copy(const void *p, size_t n)
{
    static char *page;
    static size_t ps;
    if (!page) {
        ps = (size_t)sysconf(_SC_PAGESIZE) * 4;
        page = mmap(NULL, 2 * ps, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (page == MAP_FAILED)
            abort();
        mprotect(page + ps, ps, PROT_NONE);
    }
    if (n > ps)
        abort();
    char *dst = page + ps - n;
    memcpy(dst, p, n);
    return dst;
}

static ssize_t parse(const char *s, struct http_request *req)
{
    size_t n = strlen(s);
    return http_parse_request(guard_copy(s, n), n, req);
}

TEST(path_resolved_as_a_url_parser_does)
{
    static const char *cases[][2] = {
        {"/", "/"},
        {"/a/b", "/a/b"},
        {"/a/./b", "/a/b"},
        {"/a/b/../c", "/a/c"},
        {"/a/..", "/"},
        {"/a/.", "/a/"},
        {"/..", "/"},
        {"/../../x", "/x"},
        {"/a/%2e%2E/b", "/b"},
        {"/a/.%2e/b", "/b"},
        {"/a/%2E/b", "/a/b"},
        {"/a/..b/c", "/a/..b/c"},
        {"/a//../b", "/a/b"},
        {"/a/", "/a/"},
        {"*", "*"},
        {"", ""},
    };
    char out[64];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t n = http_path_resolved(slice_of(cases[i][0], strlen(cases[i][0])), out);
        out[n] = '\0';
        CHECK_EQ_STR(out, cases[i][1]);
    }
}

TEST(parse_simple_get)
{
    const char *s = "GET /api/x?a=1&b=2 HTTP/1.1\r\nHost: example.com\r\n"
                    "X-Thing:   spaced value  \r\nEmpty:\r\n\r\n";
    struct http_request req;
    ssize_t r = parse(s, &req);
    CHECK_EQ_INT(r, strlen(s));
    CHECK(slice_eq_str(req.method, "GET"));
    CHECK(slice_eq_str(req.target, "/api/x?a=1&b=2"));
    CHECK(slice_eq_str(req.path, "/api/x"));
    CHECK(slice_eq_str(req.query, "a=1&b=2"));
    CHECK_EQ_INT(req.minor_version, 1);
    CHECK_EQ_INT(req.n_headers, 3);
    CHECK_EQ_INT(req.keep_alive, 1);
    CHECK_EQ_INT(req.content_length, -1);
    CHECK_EQ_INT(req.chunked, 0);
    const struct slice *v = http_header_get(&req, "x-THING");
    CHECK(v && slice_eq_str(*v, "spaced value"));
    v = http_header_get(&req, "empty");
    CHECK(v && v->len == 0);
    CHECK(http_header_get(&req, "missing") == NULL);
}

/* absolute-form (RFC 9112 3.2.2) is taken as the origin-form it stands for */
TEST(parse_absolute_form)
{
    struct http_request req;
    const char *s = "GET http://example.com:8080/api/health?x=1 HTTP/1.1\r\nHost: a\r\n\r\n";
    CHECK_EQ_INT(parse(s, &req), strlen(s));
    CHECK(slice_eq_str(req.path, "/api/health"));
    CHECK(slice_eq_str(req.query, "x=1"));
    CHECK(slice_eq_str(req.target, "/api/health?x=1"));
    s = "GET HTTPS://example.com/x HTTP/1.1\r\nHost: a\r\n\r\n";
    CHECK_EQ_INT(parse(s, &req), strlen(s));
    CHECK(slice_eq_str(req.path, "/x"));
    CHECK(slice_eq_str(req.target, "/x"));
    /* without a path it is left as it is: every slice points into the request's bytes */
    s = "GET http://example.com HTTP/1.1\r\nHost: a\r\n\r\n";
    CHECK_EQ_INT(parse(s, &req), strlen(s));
    CHECK(slice_eq_str(req.path, "http://example.com"));
    s = "GET /http://x/y HTTP/1.1\r\nHost: a\r\n\r\n"; /* an origin-form path stays as it is */
    CHECK_EQ_INT(parse(s, &req), strlen(s));
    CHECK(slice_eq_str(req.path, "/http://x/y"));
}

TEST(parse_every_split_point_is_partial)
{
    const char *reqs[] = {
        "GET / HTTP/1.1\r\n\r\n",
        "POST /submit?q HTTP/1.0\r\nContent-Length: 5\r\nConnection: keep-alive\r\n\r\n",
        "\r\nPUT /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\nA: b\tc\r\n\r\n",
    };
    for (size_t k = 0; k < sizeof reqs / sizeof reqs[0]; k++) {
        size_t n = strlen(reqs[k]);
        struct http_request req;
        for (size_t i = 0; i < n; i++) {
            ssize_t r = http_parse_request(guard_copy(reqs[k], i), i, &req);
            if (r != HTTP_PARTIAL)
                fprintf(stderr, "req %zu split %zu: %zd\n", k, i, r);
            CHECK_EQ_INT(r, HTTP_PARTIAL);
        }
        CHECK_EQ_INT(http_parse_request(guard_copy(reqs[k], n), n, &req), n);
    }
}

TEST(parse_pipelined)
{
    const char *a = "GET /one HTTP/1.1\r\nHost: h\r\n\r\n";
    const char *b = "GET /two HTTP/1.1\r\nConnection: close\r\n\r\n";
    char both[256];
    snprintf(both, sizeof both, "%s%s", a, b);
    struct http_request req;
    char *p = guard_copy(both, strlen(both));
    ssize_t r1 = http_parse_request(p, strlen(both), &req);
    CHECK_EQ_INT(r1, strlen(a));
    CHECK(slice_eq_str(req.path, "/one"));
    ssize_t r2 = http_parse_request(p + r1, strlen(both) - (size_t)r1, &req);
    CHECK_EQ_INT(r2, strlen(b));
    CHECK(slice_eq_str(req.path, "/two"));
    CHECK_EQ_INT(req.keep_alive, 0);
}

TEST(parse_keep_alive_rules)
{
    struct http_request req;
    CHECK(parse("GET / HTTP/1.0\r\n\r\n", &req) > 0);
    CHECK_EQ_INT(req.keep_alive, 0);
    CHECK(parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", &req) > 0);
    CHECK_EQ_INT(req.keep_alive, 1);
    CHECK(parse("GET / HTTP/1.1\r\n\r\n", &req) > 0);
    CHECK_EQ_INT(req.keep_alive, 1);
    CHECK(parse("GET / HTTP/1.1\r\nConnection: close\r\n\r\n", &req) > 0);
    CHECK_EQ_INT(req.keep_alive, 0);
    CHECK(parse("GET / HTTP/1.1\r\nConnection: Upgrade, Close\r\n\r\n", &req) > 0);
    CHECK_EQ_INT(req.keep_alive, 0);
    CHECK(parse("GET / HTTP/1.1\r\nConnection: upgrade\r\n\r\n", &req) > 0);
    CHECK_EQ_INT(req.keep_alive, 1);
}

TEST(parse_content_length_rules)
{
    struct http_request req;
    CHECK(parse("POST / HTTP/1.1\r\nContent-Length: 42\r\n\r\n", &req) > 0);
    CHECK_EQ_INT(req.content_length, 42);
    CHECK(parse("POST / HTTP/1.1\r\nContent-Length: 7\r\ncontent-length: 7\r\n\r\n", &req) > 0);
    CHECK_EQ_INT(req.content_length, 7);
    CHECK(parse("POST / HTTP/1.1\r\nTransfer-Encoding: Chunked\r\n\r\n", &req) > 0);
    CHECK_EQ_INT(req.chunked, 1);
    const char *bad[] = {
        "POST / HTTP/1.1\r\nContent-Length: 7\r\nContent-Length: 8\r\n\r\n",
        "POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
        "POST / HTTP/1.1\r\nContent-Length: +5\r\n\r\n",
        "POST / HTTP/1.1\r\nContent-Length: 5, 5\r\n\r\n",
        "POST / HTTP/1.1\r\nContent-Length: 0x10\r\n\r\n",
        "POST / HTTP/1.1\r\nContent-Length: \r\n\r\n",
        "POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n",
        "POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
        "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
        "POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
        "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
        "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ssize_t r = parse(bad[i], &req);
        if (r != HTTP_ERROR)
            fprintf(stderr, "accepted: %s\n", bad[i]);
        CHECK_EQ_INT(r, HTTP_ERROR);
    }
}

TEST(parse_malformed)
{
    const char *bad[] = {
        "GET /\x01 HTTP/1.1\r\n\r\n",          /* control char in the target */
        "GET /a\x7f HTTP/1.1\r\n\r\n",
        "GET /a\tb HTTP/1.1\r\n\r\n",
        "GET  / HTTP/1.1\r\n\r\n",              /* empty target */
        " GET / HTTP/1.1\r\n\r\n",
        "G(T / HTTP/1.1\r\n\r\n",               /* non-token method */
        "GET / HTTP/1.1\n\r\n",                  /* bare LF after the request line */
        "GET / HTTP/1.1\r\nHost: x\n\r\n",       /* bare LF after a header */
        "GET / HTTP/1.1\r\nHost: x\r\n\n",       /* bare LF at the end */
        "GET / HTTP/1.1\r\rHost: x\r\n\r\n",
        "GET / HTTP/2.0\r\n\r\n",
        "GET / HTTP/1.2\r\n\r\n",
        "GET / HTTX/1.1\r\n\r\n",
        "GET / HTTP/1.1 \r\n\r\n",
        "GET / HTTP/1.1\r\nBad Name: x\r\n\r\n",
        "GET / HTTP/1.1\r\n: novalue\r\n\r\n",
        "GET / HTTP/1.1\r\nNoColon\r\n\r\n",
        "GET / HTTP/1.1\r\nA: b\r\n folded\r\n\r\n", /* obs-fold */
        "GET / HTTP/1.1\r\nA: b\x01c\r\n\r\n",
        "GET / HTTP/1.1\r\nA: b\x7f\r\n\r\n",
        "GET / HTTP/1.1\r\nA: b\0c\r\n\r\n",
    };
    struct http_request req;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        /* strlen would stop at an embedded NUL: give the real length for the last one */
        size_t n = strlen(bad[i]);
        if (i == sizeof bad / sizeof bad[0] - 1)
            n = sizeof "GET / HTTP/1.1\r\nA: b\0c\r\n\r\n" - 1;
        ssize_t r = http_parse_request(guard_copy(bad[i], n), n, &req);
        if (r != HTTP_ERROR)
            fprintf(stderr, "accepted #%zu: %zd\n", i, r);
        CHECK_EQ_INT(r, HTTP_ERROR);
    }
}

TEST(parse_header_count_limit)
{
    struct buf b = BUF_INIT(BUF_NOLIMIT);
    buf_append_str(&b, "GET / HTTP/1.1\r\n");
    for (int i = 0; i < HTTP_MAX_HEADERS; i++)
        buf_appendf(&b, "H%d: v\r\n", i);
    size_t at_limit = b.len;
    buf_append_str(&b, "\r\n");
    struct http_request req;
    CHECK_EQ_INT(http_parse_request(guard_copy(b.data, b.len), b.len, &req), b.len);
    CHECK_EQ_INT(req.n_headers, HTTP_MAX_HEADERS);
    b.len = at_limit;
    buf_append_str(&b, "One-Too-Many: v\r\n\r\n");
    CHECK_EQ_INT(http_parse_request(guard_copy(b.data, b.len), b.len, &req), HTTP_TOO_MANY_HEADERS);
    buf_release(&b);
}

static ssize_t dechunk_all(const char *s, size_t n, char *out, size_t *outlen)
{
    struct http_chunked d;
    http_chunked_init(&d);
    char *p = guard_copy(s, n);
    ssize_t r = http_chunked_decode(&d, p, n, outlen);
    if (r >= 0)
        memcpy(out, p, *outlen);
    return r;
}

TEST(chunked_decode)
{
    const char *s = "4\r\nWiki\r\n5;name=val\r\npedia\r\nA\r\n 012345678\r\n0\r\n"
                    "Trailer: x\r\n\r\nNEXT";
    size_t n = strlen(s), dl = 0;
    char out[64];
    ssize_t r = dechunk_all(s, n, out, &dl);
    CHECK_EQ_INT(r, n - 4);
    CHECK_EQ_INT(dl, 19);
    CHECK(memcmp(out, "Wikipedia 012345678", 19) == 0);

    /* byte by byte, the same buffer growing: every prefix is partial, then complete */
    struct http_chunked d;
    http_chunked_init(&d);
    char buf[128];
    memcpy(buf, s, n);
    for (size_t i = 0; i < n - 4; i++) {
        r = http_chunked_decode(&d, buf, i, &dl);
        CHECK_EQ_INT(r, HTTP_PARTIAL);
    }
    r = http_chunked_decode(&d, buf, n - 4, &dl);
    CHECK_EQ_INT(r, n - 4);
    CHECK_EQ_INT(dl, 19);
    CHECK(memcmp(buf, "Wikipedia 012345678", 19) == 0);

    /* the empty body */
    r = dechunk_all("0\r\n\r\n", 5, out, &dl);
    CHECK_EQ_INT(r, 5);
    CHECK_EQ_INT(dl, 0);
}

TEST(chunked_errors)
{
    const char *bad[] = {
        "x\r\n", "\r\n", "4\nWiki\r\n0\r\n\r\n", "4\r\nWikiX\r\n", "4\r\nWiki\r\r",
        "4\r\nWiki\r\n0\r\n\n", "4\r\nWiki\r\n0\r\nbad trailer\r\n\r\n",
        "fffffffffffffffffff\r\n", "4;\x01\r\n", "-1\r\n",
    };
    char out[64];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t dl;
        ssize_t r = dechunk_all(bad[i], strlen(bad[i]), out, &dl);
        if (r != HTTP_ERROR)
            fprintf(stderr, "chunked accepted #%zu: %zd\n", i, r);
        CHECK_EQ_INT(r, HTTP_ERROR);
    }
    /* partial size reports chunk_left for limit checks */
    struct http_chunked d;
    http_chunked_init(&d);
    char b[] = "100000\r\nab";
    size_t dl;
    CHECK_EQ_INT(http_chunked_decode(&d, b, strlen(b), &dl), HTTP_PARTIAL);
    CHECK_EQ_INT(dl, 2);
    CHECK_EQ_INT(d.chunk_left, 0x100000 - 2);
}

TEST(status_texts)
{
    CHECK_EQ_STR(http_status_text(200), "OK");
    CHECK_EQ_STR(http_status_text(413), "Content Too Large");
    CHECK_EQ_STR(http_status_text(431), "Request Header Fields Too Large");
    CHECK_EQ_STR(http_status_text(426), "Upgrade Required");
    CHECK_EQ_STR(http_status_text(507), "Insufficient Storage"); /* the storage limit's */
    CHECK_EQ_STR(http_status_text(299), "Success");
}

/* ---- server over loopback ---- */

static struct loop *L;
static struct server *S;

#include "net_client.h"
static struct conn *held;   /* a request answered later */
static struct timer later;

static void handler(struct conn *c, struct http_request *req, void *arg)
{
    char b[512];
    if (slice_eq_str(req->path, "/slow")) {
        conn_ref(c);
        held = c;
        loop_timer_start(L, &later, 30);
        return;
    }
    if (slice_eq_str(req->path, "/huge")) {
        size_t n = 8u << 20;
        char *body = malloc(n);
        memset(body, 'h', n);
        http_respond(c, 200, "text/plain", body, n, NULL);
        free(body);
        return;
    }
    if (slice_eq_str(req->path, "/big")) {
        /* read after the body arrived in many reads: the head must still be readable (ASan) */
        const struct slice *tag = http_header_get(req, "x-tag");
        int n = snprintf(b, sizeof b, "%.*s %.*s len=%zu tag=%.*s last=%c", (int)req->method.len,
                         req->method.p, (int)req->target.len, req->target.p, req->body.len,
                         tag ? (int)tag->len : 0, tag ? tag->p : "",
                         req->body.len ? req->body.p[req->body.len - 1] : '-');
        http_respond(c, 200, "text/plain", b, (size_t)n, NULL);
        return;
    }
    int n = snprintf(b, sizeof b, "%.*s %.*s [%.*s]", (int)req->method.len, req->method.p,
                     (int)req->target.len, req->target.p, (int)req->body.len, req->body.p);
    http_respond(c, 200, "text/plain", b, (size_t)n, "X-Test: 1\r\n");
}

static void answer_later(struct loop *l, struct timer *t)
{
    if (held) {
        http_respond(held, 200, "text/plain", "slow", 4, NULL);
        conn_unref(held);
        held = NULL;
    }
}

static size_t max_body = 4096; /* for the next start() */

static void start(uint32_t header_ms, uint32_t idle_ms)
{
    L = loop_new();
    struct server_config cfg;
    server_config_defaults(&cfg);
    cfg.max_header_bytes = 1024;
    cfg.max_body_bytes = max_body;
    cfg.header_timeout_ms = header_ms;
    cfg.idle_timeout_ms = idle_ms;
    cfg.send_stall_timeout_ms = header_ms; /* an unread response: as short as the header timeout */
    struct buf err = BUF_INIT(256);
    int r = server_start(L, &cfg, handler, NULL, &S, &err);
    if (r < 0) {
        fprintf(stderr, "server_start: %s\n", err.data);
        abort();
    }
    timer_init(&later, answer_later, NULL);
    buf_release(&err);
}

static void stop(void)
{
    server_free(S);
    loop_free(L);
    S = NULL;
    L = NULL;
}

static void cli_close(struct client *c)
{
    close(c->fd);
    buf_release(&c->in);
}


static int count_of(const char *hay, const char *needle)
{
    int k = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p++)
        k++;
    return k;
}

TEST(server_pipelined_in_order)
{
    start(1000, 1000);
    struct client c = cli_connect();
    const char *reqs = "GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
                       "GET /slow HTTP/1.1\r\n\r\n"
                       "POST /c?q=1 HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"
                       "POST /d HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                       "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
    cli_send(&c, reqs, strlen(reqs));
    pump(&c, 120);
    const char *a = strstr(c.in.data, "GET /a []");
    const char *slow = strstr(c.in.data, "slow");
    const char *post = strstr(c.in.data, "POST /c?q=1 [hello]");
    const char *chunk = strstr(c.in.data, "POST /d [abcde]");
    CHECK(a && slow && post && chunk);
    CHECK(a < slow && slow < post && post < chunk);
    CHECK_EQ_INT(count_of(c.in.data, "HTTP/1.1 200 OK\r\n"), 4);
    CHECK(strstr(c.in.data, "Content-Length: 9\r\nX-Test: 1\r\n\r\nGET /a []") != NULL);
    CHECK(!c.eof);
    CHECK_EQ_INT(server_conn_count(S), 1);
    cli_close(&c);
    pump(&c, 10);
    CHECK_EQ_INT(server_conn_count(S), 0);
    stop();
}

static void expect_error(const char *req, size_t n, const char *status)
{
    start(1000, 1000);
    struct client c = cli_connect();
    cli_send(&c, req, n);
    pump(&c, 40);
    if (strncmp(c.in.data, status, strlen(status)) != 0)
        fprintf(stderr, "got: %s\n", c.in.data);
    CHECK(strncmp(c.in.data, status, strlen(status)) == 0);
    CHECK(strstr(c.in.data, "Connection: close\r\n") != NULL);
    CHECK(c.eof);
    cli_close(&c);
    stop();
}

TEST(server_errors)
{
    expect_error("GET /\x01 HTTP/1.1\r\n\r\n", 19, "HTTP/1.1 400 Bad Request\r\n");
    char big[2048];
    memset(big, 'a', sizeof big);
    memcpy(big, "GET / HTTP/1.1\r\nX: ", 19);
    expect_error(big, sizeof big, "HTTP/1.1 431 Request Header Fields Too Large\r\n");
    const char *cl = "POST / HTTP/1.1\r\nContent-Length: 5000\r\n\r\n";
    expect_error(cl, strlen(cl), "HTTP/1.1 413 Content Too Large\r\n");
    const char *ch = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2000\r\nabc";
    expect_error(ch, strlen(ch), "HTTP/1.1 413 Content Too Large\r\n");
    const char *both = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n";
    expect_error(both, strlen(both), "HTTP/1.1 400 Bad Request\r\n");
    char many[1024];
    size_t k = (size_t)snprintf(many, sizeof many, "GET / HTTP/1.1\r\n");
    for (int i = 0; i <= HTTP_MAX_HEADERS; i++)
        k += (size_t)snprintf(many + k, sizeof many - k, "H%d: v\r\n", i);
    k += (size_t)snprintf(many + k, sizeof many - k, "\r\n");
    expect_error(many, k, "HTTP/1.1 431 Request Header Fields Too Large\r\n");
}

/* Runs the loop for `ms` without reading anything on the client side. */
static void run_only(unsigned ms)
{
    struct timer t;
    timer_init(&t, stop_loop, NULL);
    loop_timer_start(L, &t, ms);
    loop_run(L);
    loop_timer_stop(L, &t);
}

/* A response the client never reads is dropped after header_timeout_ms without progress, not
 * held for the whole keep-alive idle timeout; one that is read keeps the connection. */
TEST(server_unread_response_times_out)
{
    start(200, 60000);
    struct client c = cli_connect();
    const char *r = "GET /huge HTTP/1.1\r\n\r\n";
    cli_send(&c, r, strlen(r));
    run_only(100);
    CHECK_EQ_INT(server_conn_count(S), 1);
    run_only(400);
    CHECK_EQ_INT(server_conn_count(S), 0);
    cli_close(&c);
    c = cli_connect();
    cli_send(&c, r, strlen(r));
    pump(&c, 500); /* reads it all (keeping the first MiB) */
    CHECK(c.in.len > 0 && !c.eof);
    CHECK_EQ_INT(server_conn_count(S), 1);
    cli_close(&c);
    stop();
}

/* Bodies far larger than one read, arriving in pieces: the input buffer is reallocated while the
 * request's head is parsed (issue 7: a use-after-free). Content-Length and chunked. */
TEST(server_large_bodies_across_reads)
{
    max_body = 4 << 20;
    start(2000, 2000);
    max_body = 4096;
    size_t sizes[] = {65535, 65536, 65537, 1 << 20, (3 << 20) + 7};
    static char piece[100000];
    memset(piece, 'z', sizeof piece);
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        for (int chunked = 0; chunked < 2; chunked++) {
            struct client c = cli_connect();
            char head[256];
            int hn = chunked ? snprintf(head, sizeof head,
                                        "POST /big?i=%zu HTTP/1.1\r\nX-Tag: t%zu\r\n"
                                        "Transfer-Encoding: chunked\r\n\r\n",
                                        i, i)
                             : snprintf(head, sizeof head,
                                        "POST /big?i=%zu HTTP/1.1\r\nX-Tag: t%zu\r\n"
                                        "Content-Length: %zu\r\n\r\n",
                                        i, i, sizes[i]);
            cli_send(&c, head, (size_t)hn);
            pump(&c, 2);
            for (size_t sent = 0; sent < sizes[i];) {
                size_t n = sizes[i] - sent < sizeof piece ? sizes[i] - sent : sizeof piece;
                if (chunked) {
                    char ch[32];
                    int cn = snprintf(ch, sizeof ch, "%zx\r\n", n);
                    cli_send(&c, ch, (size_t)cn);
                }
                cli_send(&c, piece, n);
                if (chunked)
                    cli_send(&c, "\r\n", 2);
                sent += n;
                pump(&c, 1);
            }
            if (chunked)
                cli_send(&c, "0\r\n\r\n", 5);
            pump(&c, 50);
            char want[128];
            snprintf(want, sizeof want, "POST /big?i=%zu len=%zu tag=t%zu last=z", i, sizes[i], i);
            if (!strstr(c.in.data, want))
                fprintf(stderr, "size %zu chunked %d: got %.200s\n", sizes[i], chunked, c.in.data);
            CHECK(strstr(c.in.data, want) != NULL);
            cli_close(&c);
        }
    }
    stop();
}

TEST(server_error_after_good_request)
{
    start(1000, 1000);
    struct client c = cli_connect();
    const char *reqs = "GET /ok HTTP/1.1\r\n\r\nBROKEN\r\n\r\n";
    cli_send(&c, reqs, strlen(reqs));
    pump(&c, 40);
    const char *ok = strstr(c.in.data, "GET /ok []");
    const char *bad = strstr(c.in.data, "HTTP/1.1 400");
    CHECK(ok && bad && ok < bad);
    CHECK(c.eof);
    cli_close(&c);
    stop();
}

TEST(server_http10_closes)
{
    start(1000, 1000);
    struct client c = cli_connect();
    cli_send(&c, "GET /x HTTP/1.0\r\n\r\n", 19);
    pump(&c, 40);
    CHECK(strstr(c.in.data, "Connection: close\r\n") != NULL);
    CHECK(strstr(c.in.data, "GET /x []") != NULL);
    CHECK(c.eof);
    cli_close(&c);
    stop();
}

TEST(server_head_has_no_body)
{
    start(1000, 1000);
    struct client c = cli_connect();
    const char *reqs = "HEAD /h HTTP/1.1\r\n\r\nGET /g HTTP/1.1\r\n\r\n";
    cli_send(&c, reqs, strlen(reqs));
    pump(&c, 30);
    const char *want = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 10\r\n"
                       "X-Test: 1\r\n\r\nHTTP/1.1 200 OK\r\n";
    CHECK(strncmp(c.in.data, want, strlen(want)) == 0);
    CHECK(strstr(c.in.data, "HEAD /h []") == NULL);
    CHECK(strstr(c.in.data, "GET /g []") != NULL);
    cli_close(&c);
    stop();
}

TEST(server_expect_continue)
{
    start(1000, 1000);
    struct client c = cli_connect();
    const char *h = "POST /up HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n";
    cli_send(&c, h, strlen(h));
    pump(&c, 30);
    CHECK_EQ_STR(c.in.data, "HTTP/1.1 100 Continue\r\n\r\n");
    cli_send(&c, "data", 4);
    pump(&c, 30);
    CHECK(strstr(c.in.data, "HTTP/1.1 200 OK\r\n") != NULL);
    CHECK(strstr(c.in.data, "POST /up [data]") != NULL);
    cli_close(&c);
    stop();
}

TEST(server_header_timeout_408)
{
    start(60, 1000);
    struct client c = cli_connect();
    cli_send(&c, "GET /slowloris HTTP/1.1\r\nX: ", 28);
    pump(&c, 150);
    CHECK(strncmp(c.in.data, "HTTP/1.1 408 Request Timeout\r\n", 30) == 0);
    CHECK(c.eof);
    cli_close(&c);
    stop();
}

/* A body of declared length holds what it sent, not its declared room (at most 256 KiB up
 * front); a body that keeps coming but averages under min_body_rate once header_timeout_ms has
 * passed gets 408. */
TEST(server_slow_body_holds_little_and_gets_408)
{
    max_body = 16 << 20;
    start(300, 1000);
    max_body = 4096;
    size_t base = server_buffered_bytes(S);
    struct client c = cli_connect();
    const char *h = "POST /big HTTP/1.1\r\nContent-Length: 16777215\r\n\r\n";
    cli_send(&c, h, strlen(h));
    char dots[20];
    memset(dots, '.', sizeof dots);
    cli_send(&c, dots, sizeof dots);
    pump(&c, 20);
    CHECK(server_buffered_bytes(S) - base < (300u << 10));
    CHECK_EQ_INT(c.in.len, 0);
    /* 20 bytes every 50 ms: 400 B/s, progress all along, under the default 1024 B/s */
    for (int i = 0; i < 12 && !c.in.len; i++) {
        cli_send(&c, dots, sizeof dots);
        pump(&c, 50);
    }
    CHECK(strncmp(c.in.data, "HTTP/1.1 408 Request Timeout\r\n", 30) == 0);
    pump(&c, 20);
    CHECK(c.eof);
    cli_close(&c);
    stop();
}

TEST(server_idle_timeout)
{
    start(1000, 50);
    struct client c = cli_connect();
    cli_send(&c, "GET / HTTP/1.1\r\n\r\n", 18);
    pump(&c, 20);
    CHECK(strstr(c.in.data, "200 OK") != NULL);
    CHECK(!c.eof);
    pump(&c, 100);
    CHECK(c.eof);
    CHECK_EQ_INT(server_conn_count(S), 0);
    cli_close(&c);
    stop();
}

TEST(server_graceful_shutdown)
{
    start(1000, 1000);
    struct client idle = cli_connect();
    struct client busy = cli_connect();
    pump(&idle, 10);
    cli_send(&busy, "GET /slow HTTP/1.1\r\n\r\n", 22);
    pump(&busy, 5);
    CHECK_EQ_INT(server_conn_count(S), 2);
    server_shutdown(S);
    pump(&idle, 10);
    CHECK(idle.eof);
    pump(&busy, 60);
    CHECK(strstr(busy.in.data, "slow") != NULL);
    CHECK(strstr(busy.in.data, "Connection: close\r\n") != NULL);
    CHECK(busy.eof);
    cli_close(&idle);
    cli_close(&busy);
    pump(&busy, 10); /* the server lingers until the client closes too */
    CHECK_EQ_INT(server_conn_count(S), 0);
    stop();
}

/* ---- streamed request bodies (the head hook) ---- */

struct tsink {
    struct http_body_sink k;
    size_t got, cap;
    unsigned sum;
};
static int sinks_live, sinks_aborted, sinks_ended;
static size_t max_buffered_seen;

static void note_buffered(void)
{
    if (server_buffered_bytes(S) > max_buffered_seen)
        max_buffered_seen = server_buffered_bytes(S);
}

static int tsink_data(struct http_body_sink *k, struct conn *c, const char *p, size_t n)
{
    struct tsink *t = (struct tsink *)k;
    note_buffered();
    if (t->cap && t->got + n > t->cap) {
        http_respond(c, 413, "text/plain", "too big", 7, NULL);
        free(t);
        sinks_live--;
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        t->sum += (unsigned char)p[i];
    t->got += n;
    return 0;
}

static void tsink_end(struct http_body_sink *k, struct conn *c, struct http_request *req)
{
    struct tsink *t = (struct tsink *)k;
    char b[256];
    int n = snprintf(b, sizeof b, "streamed %.*s len=%zu sum=%u", (int)req->target.len,
                     req->target.p, t->got, t->sum);
    http_respond(c, 200, "text/plain", b, (size_t)n, NULL);
    free(t);
    sinks_live--;
    sinks_ended++;
}

static void tsink_abort(struct http_body_sink *k, struct conn *c)
{
    free(k);
    sinks_live--;
    sinks_aborted++;
}

static int head_hook(struct conn *c, struct http_request *req, void *arg)
{
    if (req->path.len < 7 || memcmp(req->path.p, "/stream", 7))
        return 0;
    if (slice_eq_str(req->path, "/stream-refuse")) {
        http_respond(c, 413, "text/plain", "refused", 7, NULL);
        return 1;
    }
    struct tsink *t = calloc(1, sizeof *t);
    t->k.data = tsink_data;
    t->k.end = tsink_end;
    t->k.abort = tsink_abort;
    t->cap = slice_eq_str(req->path, "/stream-cap") ? 1000 : 0;
    sinks_live++;
    conn_stream_body(c, &t->k);
    return 1;
}

static void start_streaming(uint32_t header_ms)
{
    start(header_ms, 2000); /* max_body 4096: a streamed body is not bounded by it */
    server_set_head_hook(S, head_hook, NULL);
    sinks_live = sinks_aborted = sinks_ended = 0;
    max_buffered_seen = 0;
}

/* Sends `total` body bytes of 'z' in pieces (chunked or not), pumping between them. */
static void send_body(struct client *c, size_t total, int chunked)
{
    static char piece[100000];
    memset(piece, 'z', sizeof piece);
    for (size_t sent = 0; sent < total;) {
        size_t n = total - sent < sizeof piece ? total - sent : sizeof piece;
        if (chunked) {
            char ch[32];
            int cn = snprintf(ch, sizeof ch, "%zx;ext=1\r\n", n);
            cli_send(c, ch, (size_t)cn);
        }
        cli_send(c, piece, n);
        if (chunked)
            cli_send(c, "\r\n", 2);
        sent += n;
        pump(c, 1);
        note_buffered();
    }
}

TEST(server_streamed_bodies_hold_one_read)
{
    start_streaming(2000);
    size_t total = (8u << 20) + 3;
    for (int chunked = 0; chunked < 2; chunked++) {
        struct client c = cli_connect();
        char head[256];
        int hn = chunked ? snprintf(head, sizeof head,
                                    "POST /stream?c=1 HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
                                    "Expect: 100-continue\r\n\r\n")
                         : snprintf(head, sizeof head,
                                    "POST /stream?c=0 HTTP/1.1\r\nContent-Length: %zu\r\n"
                                    "Expect: 100-continue\r\n\r\n",
                                    total);
        cli_send(&c, head, (size_t)hn);
        pump(&c, 10);
        CHECK(strncmp(c.in.data, "HTTP/1.1 100 Continue\r\n\r\n", 25) == 0);
        send_body(&c, total, chunked);
        /* the end of the body and a pipelined request in the same write */
        const char *tail = chunked ? "0\r\nTrailer: x\r\n\r\nGET /after HTTP/1.1\r\n\r\n"
                                   : "GET /after HTTP/1.1\r\n\r\n";
        cli_send(&c, tail, strlen(tail));
        pump(&c, 50);
        char want[128];
        snprintf(want, sizeof want, "streamed /stream?c=%d len=%zu sum=%u", chunked, total,
                 (unsigned)(total * 'z'));
        if (!strstr(c.in.data, want))
            fprintf(stderr, "chunked %d: got %.300s\n", chunked, c.in.data);
        const char *a = strstr(c.in.data, want), *b = strstr(c.in.data, "GET /after []");
        CHECK(a && b && a < b);
        CHECK(!c.eof);
        cli_close(&c);
    }
    CHECK_EQ_INT(sinks_ended, 2);
    CHECK_EQ_INT(sinks_live, 0);
    CHECK(max_buffered_seen < (512u << 10)); /* the head and a read or two, never the body */
    /* an ordinary request is untouched: its body is still bounded by max_body (4096) */
    struct client o = cli_connect();
    const char *big = "POST /x HTTP/1.1\r\nContent-Length: 5000\r\n\r\n";
    cli_send(&o, big, strlen(big));
    pump(&o, 30);
    CHECK(strncmp(o.in.data, "HTTP/1.1 413 ", 13) == 0);
    cli_close(&o);
    stop();
}

TEST(server_streamed_body_refused_or_cut)
{
    start_streaming(100);
    /* refused by the hook from its head: the answer closes the connection */
    struct client c = cli_connect();
    const char *h = "POST /stream-refuse HTTP/1.1\r\nContent-Length: 100000\r\n\r\nabc";
    cli_send(&c, h, strlen(h));
    pump(&c, 30);
    CHECK(strncmp(c.in.data, "HTTP/1.1 413 ", 13) == 0);
    CHECK(strstr(c.in.data, "Connection: close\r\n") != NULL);
    CHECK(c.eof);
    cli_close(&c);
    /* refused by the sink past its cap: answered, closed, no abort after it */
    c = cli_connect();
    h = "POST /stream-cap HTTP/1.1\r\nContent-Length: 5000\r\n\r\n";
    cli_send(&c, h, strlen(h));
    send_body(&c, 5000, 0);
    pump(&c, 30);
    CHECK(strncmp(c.in.data, "HTTP/1.1 413 ", 13) == 0);
    CHECK(strstr(c.in.data, "Connection: close\r\n") != NULL);
    CHECK(c.eof);
    cli_close(&c);
    CHECK_EQ_INT(sinks_aborted, 0);
    /* the client goes away mid-body: aborted */
    c = cli_connect();
    h = "POST /stream HTTP/1.1\r\nContent-Length: 1000000\r\n\r\n";
    cli_send(&c, h, strlen(h));
    send_body(&c, 300000, 0);
    cli_close(&c);
    pump(&c, 20);
    CHECK_EQ_INT(sinks_aborted, 1);
    /* a body that stops coming: 408 after header_timeout_ms, aborted */
    c = cli_connect();
    cli_send(&c, h, strlen(h));
    send_body(&c, 1000, 0);
    pump(&c, 300);
    CHECK(strncmp(c.in.data, "HTTP/1.1 408 ", 13) == 0);
    CHECK_EQ_INT(sinks_aborted, 2);
    cli_close(&c);
    /* malformed chunked framing: 400, aborted */
    c = cli_connect();
    h = "POST /stream HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX";
    cli_send(&c, h, strlen(h));
    pump(&c, 30);
    CHECK(strncmp(c.in.data, "HTTP/1.1 400 ", 13) == 0);
    CHECK_EQ_INT(sinks_aborted, 3);
    cli_close(&c);
    pump(&c, 10);
    CHECK_EQ_INT(sinks_live, 0);
    CHECK_EQ_INT(server_conn_count(S), 0);
    stop();
}

/* ---- responses sent from a file ---- */

static char file_path_[64];
static size_t file_size_;

static void file_handler(struct conn *c, struct http_request *req, void *arg)
{
    int fd = open(file_path_, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        abort();
    if (slice_eq_str(req->path, "/part"))
        http_respond_fd(c, 206, "application/octet-stream", fd, 10, 1000, "X-Part: 1\r\n");
    else
        http_respond_fd(c, 200, "application/octet-stream", fd, 0, file_size_, NULL);
}

static void make_file(size_t n)
{
    snprintf(file_path_, sizeof file_path_, "/tmp/vireo-test-http-XXXXXX");
    int fd = mkstemp(file_path_);
    if (fd < 0)
        abort();
    char b[4096];
    for (size_t off = 0; off < n; off += sizeof b) {
        for (size_t i = 0; i < sizeof b; i++)
            b[i] = (char)((off + i) * 7 % 251);
        size_t k = n - off < sizeof b ? n - off : sizeof b;
        if (write(fd, b, k) != (ssize_t)k)
            abort();
    }
    close(fd);
    file_size_ = n;
}

static int body_matches(const char *p, size_t from, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != (char)((from + i) * 7 % 251))
            return 0;
    return 1;
}

TEST(server_respond_fd)
{
    make_file(900000);
    L = loop_new();
    struct server_config cfg;
    server_config_defaults(&cfg);
    cfg.send_stall_timeout_ms = 200;
    struct buf err = BUF_INIT(256);
    if (server_start(L, &cfg, file_handler, NULL, &S, &err) < 0)
        abort();
    buf_release(&err);
    /* whole, a part, HEAD, pipelined and in order */
    struct client c = cli_connect();
    const char *reqs = "GET /all HTTP/1.1\r\n\r\nGET /part HTTP/1.1\r\n\r\n"
                       "HEAD /all HTTP/1.1\r\n\r\n";
    cli_send(&c, reqs, strlen(reqs));
    pump(&c, 200);
    char *h1 = strstr(c.in.data, "Content-Length: 900000\r\n\r\n");
    CHECK(h1 != NULL);
    if (h1) {
        char *b1 = h1 + strlen("Content-Length: 900000\r\n\r\n");
        CHECK(c.in.len >= (size_t)(b1 - c.in.data) + 900000);
        CHECK(body_matches(b1, 0, 900000));
        char *h2 = strstr(b1 + 900000, "X-Part: 1\r\n\r\n");
        CHECK(h2 != NULL);
        if (h2) {
            CHECK(body_matches(h2 + 13, 10, 1000));
            char *h3 = h2 + 13 + 1000;
            CHECK(strncmp(h3, "HTTP/1.1 200 OK\r\n", 17) == 0);
            CHECK(strstr(h3, "Content-Length: 900000\r\n\r\n") != NULL);
            CHECK_EQ_INT(c.in.len, (size_t)(strstr(h3, "\r\n\r\n") + 4 - c.in.data));
        }
    }
    CHECK(server_buffered_bytes(S) < (256u << 10));
    cli_close(&c);
    /* a client that leaves mid-file: closed, the file released (sendfile: SIGPIPE ignored, as
     * vireo's main does) */
    signal(SIGPIPE, SIG_IGN);
    unlink(file_path_);
    make_file(48u << 20);
    c = cli_connect();
    cli_send(&c, "GET /all HTTP/1.1\r\n\r\n", 21);
    pump(&c, 20);
    CHECK(c.in.len > 0);
    cli_close(&c);
    for (int i = 0; i < 40 && server_conn_count(S); i++)
        run_only(10);
    CHECK_EQ_INT(server_conn_count(S), 0);
    /* a client that does not read (a file larger than what the sockets buffer): cut off after
     * the send-stall timeout */
    c = cli_connect();
    cli_send(&c, "GET /all HTTP/1.1\r\n\r\n", 21);
    run_only(100);
    CHECK_EQ_INT(server_conn_count(S), 1);
    /* (a write the kernel lets through now and then is progress: allow a few stall periods) */
    for (int i = 0; i < 40 && server_conn_count(S); i++)
        run_only(50);
    CHECK_EQ_INT(server_conn_count(S), 0);
    cli_close(&c);
    stop();
    unlink(file_path_);
}

TEST_MAIN()

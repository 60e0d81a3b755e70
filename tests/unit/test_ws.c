/* test_ws: the frame parser at every length encoding and every protocol violation (inputs end
 * at a PROT_NONE guard page), unmasking, the UTF-8 validator, the accept key (RFC 6455 §1.3's
 * example, s3pPLMBiTxaQ9kYGzzhZRbK+xOo=), and a real WebSocket over loopback: handshake errors
 * (400/426), frames sent together with the upgrade request, fragmentation with an interleaved
 * ping, UTF-8 across fragments, the close handshake, the on_close codes (peer's, 1005, 1006,
 * 1002, 1007, 1009), the send-queue cap (1008) and the idle ping. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "test.h"

#include "base/buf.h"
#include "base/clock.h"
#include "net/loop.h"
#include "net/server.h"
#include "net/ws.h"

static unsigned char *guard_copy(const void *p, size_t n)
{
    static unsigned char *page;
    static size_t ps;
    if (!page) {
        ps = 1 << 20;
        page = mmap(NULL, 2 * ps, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (page == MAP_FAILED)
            abort();
        mprotect(page + ps, ps, PROT_NONE);
    }
    if (n > ps)
        abort();
    unsigned char *dst = page + ps - n;
    memcpy(dst, p, n);
    return dst;
}

/* Builds a client frame: header, optional mask, payload masked with it. */
static size_t make_frame(unsigned char *out, int b0, int masked, const void *pl, size_t n,
                         int len_form)
{
    static const unsigned char key[4] = { 0x37, 0xfa, 0x21, 0x3d };
    size_t h = 0;
    out[h++] = (unsigned char)b0;
    unsigned char m = masked ? 0x80 : 0;
    if (len_form == 7) {
        out[h++] = m | (unsigned char)n;
    } else if (len_form == 16) {
        out[h++] = m | 126;
        out[h++] = (unsigned char)(n >> 8);
        out[h++] = (unsigned char)n;
    } else {
        out[h++] = m | 127;
        for (int i = 0; i < 8; i++)
            out[h++] = (unsigned char)((uint64_t)n >> (56 - 8 * i));
    }
    if (masked) {
        memcpy(out + h, key, 4);
        h += 4;
    }
    memcpy(out + h, pl, n);
    if (masked)
        for (size_t i = 0; i < n; i++)
            out[h + i] ^= key[i & 3];
    return h + n;
}

static long parse(const unsigned char *p, size_t n, int require_mask, struct ws_frame *f)
{
    return ws_frame_parse(guard_copy(p, n), n, require_mask, f);
}

TEST(frame_lengths_and_every_split)
{
    static unsigned char pl[70000], fr[70100];
    for (size_t i = 0; i < sizeof pl; i++)
        pl[i] = (unsigned char)(i * 7);
    struct { size_t n; int form; size_t hdr; } cases[] = {
        { 0, 7, 6 }, { 5, 7, 6 }, { 125, 7, 6 }, { 126, 16, 8 }, { 65535, 16, 8 },
        { 65536, 64, 14 }, { 70000, 64, 14 },
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        size_t n = make_frame(fr, 0x82, 1, pl, cases[k].n, cases[k].form);
        struct ws_frame f;
        long r = parse(fr, n, 1, &f);
        CHECK_EQ_INT(r, n);
        CHECK_EQ_INT(f.header_len, cases[k].hdr);
        CHECK_EQ_INT(f.payload_len, cases[k].n);
        CHECK_EQ_INT(f.fin, 1);
        CHECK_EQ_INT(f.opcode, WS_OP_BINARY);
        CHECK_EQ_INT(f.masked, 1);
        unsigned char *copy = guard_copy(fr, n);
        ws_frame_parse(copy, n, 1, &f);
        ws_unmask((unsigned char *)f.payload, f.payload_len, f.mask, 0);
        CHECK(memcmp(f.payload, pl, cases[k].n) == 0);
        /* every split point: partial; header_len set once the header is complete */
        size_t step = cases[k].n > 1000 ? 997 : 1;
        for (size_t i = 0; i < n; i += (i < 20 ? 1 : step)) {
            r = parse(fr, i, 1, &f);
            if (r != WS_PARTIAL)
                fprintf(stderr, "len %zu split %zu: %ld\n", cases[k].n, i, r);
            CHECK_EQ_INT(r, WS_PARTIAL);
            CHECK_EQ_INT(f.header_len, i >= cases[k].hdr ? cases[k].hdr : 0);
            if (i >= cases[k].hdr)
                CHECK_EQ_INT(f.payload_len, cases[k].n);
        }
    }
}

TEST(frame_violations)
{
    unsigned char fr[300], pl[200] = { 0 };
    struct ws_frame f;
    size_t n;
    n = make_frame(fr, 0x81, 0, "hi", 2, 7); /* unmasked client frame */
    CHECK_EQ_INT(parse(fr, n, 1, &f), -WS_CLOSE_PROTOCOL_ERROR);
    CHECK_EQ_INT(parse(fr, n, 0, &f), n); /* fine from a server */
    for (int rsv = 0x10; rsv <= 0x40; rsv <<= 1) {
        n = make_frame(fr, 0x81 | rsv, 1, "hi", 2, 7);
        CHECK_EQ_INT(parse(fr, n, 1, &f), -WS_CLOSE_PROTOCOL_ERROR);
    }
    int bad_ops[] = { 3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf };
    for (size_t i = 0; i < sizeof bad_ops / sizeof bad_ops[0]; i++) {
        n = make_frame(fr, 0x80 | bad_ops[i], 1, "", 0, 7);
        CHECK_EQ_INT(parse(fr, n, 1, &f), -WS_CLOSE_PROTOCOL_ERROR);
    }
    n = make_frame(fr, 0x09, 1, "", 0, 7); /* fragmented ping */
    CHECK_EQ_INT(parse(fr, n, 1, &f), -WS_CLOSE_PROTOCOL_ERROR);
    n = make_frame(fr, 0x89, 1, pl, 126, 16); /* ping over 125 */
    CHECK_EQ_INT(parse(fr, n, 1, &f), -WS_CLOSE_PROTOCOL_ERROR);
    n = make_frame(fr, 0x88, 1, pl, 125, 7); /* close of 125 is fine */
    CHECK_EQ_INT(parse(fr, n, 1, &f), n);
    n = make_frame(fr, 0x82, 1, pl, 100, 16); /* non-minimal 16-bit length */
    CHECK_EQ_INT(parse(fr, n, 1, &f), -WS_CLOSE_PROTOCOL_ERROR);
    n = make_frame(fr, 0x82, 1, pl, 200, 64); /* non-minimal 64-bit length */
    CHECK_EQ_INT(parse(fr, n, 1, &f), -WS_CLOSE_PROTOCOL_ERROR);
    unsigned char huge[14] = { 0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4 };
    CHECK_EQ_INT(parse(huge, sizeof huge, 1, &f), -WS_CLOSE_PROTOCOL_ERROR); /* MSB set */
    unsigned char big[14] = { 0x82, 0xff, 0, 0, 0, 1, 0, 0, 0, 0, 1, 2, 3, 4 };
    CHECK_EQ_INT(parse(big, sizeof big, 1, &f), WS_PARTIAL);
    CHECK_EQ_INT(f.header_len, 14);
    CHECK(f.payload_len == (uint64_t)1 << 32);
    CHECK_EQ_INT(parse(fr, 0, 1, &f), WS_PARTIAL);
    CHECK_EQ_INT(parse(fr, 1, 1, &f), WS_PARTIAL);
}

TEST(server_frame_header_roundtrip)
{
    uint64_t lens[] = { 0, 1, 125, 126, 65535, 65536, 1u << 24 };
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        unsigned char h[10];
        size_t hl = ws_frame_header(h, WS_OP_TEXT, 1, lens[i]);
        struct ws_frame f;
        long r = parse(h, hl, 0, &f);
        CHECK(r == (lens[i] ? WS_PARTIAL : (long)hl));
        CHECK_EQ_INT(f.header_len, hl);
        CHECK(f.payload_len == lens[i]);
        CHECK_EQ_INT(f.opcode, WS_OP_TEXT);
        CHECK_EQ_INT(f.masked, 0);
    }
}

TEST(unmask_offsets)
{
    unsigned char mask[4] = { 1, 2, 3, 4 };
    unsigned char a[100], b[100];
    for (size_t off = 0; off < 5; off++) {
        for (size_t n = 0; n < 40; n++) {
            for (size_t i = 0; i < n; i++)
                a[i] = b[i] = (unsigned char)(i * 13 + n);
            ws_unmask(a, n, mask, off);
            for (size_t i = 0; i < n; i++)
                b[i] ^= mask[(off + i) & 3];
            CHECK(memcmp(a, b, n) == 0);
        }
    }
}

static int utf8(const char *s, size_t n)
{
    return ws_utf8_valid(guard_copy(s, n), n);
}
#define U(s) utf8(s, sizeof(s) - 1)

TEST(utf8_validator)
{
    CHECK(U(""));
    CHECK(U("plain ascii, long enough to take the 8-byte fast path"));
    CHECK(U("\xc2\x80"));                 /* U+0080 */
    CHECK(U("\xdf\xbf"));                 /* U+07FF */
    CHECK(U("\xe0\xa0\x80"));             /* U+0800 */
    CHECK(U("\xed\x9f\xbf"));             /* U+D7FF */
    CHECK(U("\xee\x80\x80"));             /* U+E000 */
    CHECK(U("\xef\xbf\xbf"));             /* U+FFFF */
    CHECK(U("\xf0\x90\x80\x80"));         /* U+10000 */
    CHECK(U("\xf4\x8f\xbf\xbf"));         /* U+10FFFF */
    CHECK(U("h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80"));
    CHECK(!U("\x80"));                    /* lone continuation */
    CHECK(!U("\xbf"));
    CHECK(!U("\xc0\x80"));                /* overlong NUL */
    CHECK(!U("\xc1\xbf"));                /* overlong */
    CHECK(!U("\xe0\x80\x80"));            /* overlong 3-byte */
    CHECK(!U("\xe0\x9f\xbf"));
    CHECK(!U("\xf0\x80\x80\x80"));        /* overlong 4-byte */
    CHECK(!U("\xf0\x8f\xbf\xbf"));
    CHECK(!U("\xed\xa0\x80"));            /* U+D800 surrogate */
    CHECK(!U("\xed\xbf\xbf"));            /* U+DFFF */
    CHECK(!U("\xf4\x90\x80\x80"));        /* U+110000 */
    CHECK(!U("\xf5\x80\x80\x80"));
    CHECK(!U("\xff"));
    CHECK(!U("\xfe"));
    CHECK(!U("\xc3"));                    /* truncated */
    CHECK(!U("\xe2\x82"));
    CHECK(!U("\xf0\x9f\x98"));
    CHECK(!U("\xc3\x28"));                /* bad continuation */
    CHECK(!U("abcdefgh\xc3"));
}

TEST(accept_key_rfc_example)
{
    char out[29];
    const char *key = "dGhlIHNhbXBsZSBub25jZQ==";
    ws_accept_key(key, strlen(key), out);
    CHECK_EQ_STR(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

TEST(close_codes)
{
    CHECK(ws_close_code_valid(1000));
    CHECK(ws_close_code_valid(1003));
    CHECK(!ws_close_code_valid(1004));
    CHECK(!ws_close_code_valid(1005));
    CHECK(!ws_close_code_valid(1006));
    CHECK(ws_close_code_valid(1007));
    CHECK(ws_close_code_valid(1011));
    CHECK(!ws_close_code_valid(1015));
    CHECK(!ws_close_code_valid(999));
    CHECK(!ws_close_code_valid(2999));
    CHECK(ws_close_code_valid(3000));
    CHECK(ws_close_code_valid(4999));
    CHECK(!ws_close_code_valid(5000));
}

/* ---- a real WebSocket over loopback ---- */

static struct loop *L;
static struct server *S;

#include "net_client.h"
#include <sys/uio.h>
static struct buf msgs;      /* "T:<text>|" or "B:<len>|" per message */
static int close_calls, close_code, open_calls;
static char close_reason[128];

static void on_open(struct ws *ws, void *arg)
{
    open_calls++;
}

/* ws_send_msgs: two messages from parts, one of them empty */
static void send_gathered(struct ws *ws)
{
    struct iovec a[3] = { { "ab", 2 }, { "", 0 }, { "cd", 2 } };
    struct iovec b[1] = { { "efg", 3 } };
    struct ws_msg m[2] = { { a, 3 }, { b, 1 } };
    CHECK_EQ_INT(ws_send_msgs(ws, 1, m, 2), 0);
}

/* BIG_MSGS messages of a per-message head ("m000".."m063") and one shared 64 KiB block: far
 * more than the socket takes at once, so the write stops inside a frame */
#define BIG_MSGS 64
static char big_block[65536];
static size_t big_queued; /* what the socket did not take at once */
static void send_big_gathered(struct ws *ws)
{
    static char heads[BIG_MSGS][16];
    struct iovec iov[BIG_MSGS][2];
    struct ws_msg m[BIG_MSGS];
    memset(big_block, 'z', sizeof big_block);
    for (int i = 0; i < BIG_MSGS; i++) {
        snprintf(heads[i], sizeof heads[i], "m%03d", i);
        iov[i][0] = (struct iovec){ heads[i], 4 };
        iov[i][1] = (struct iovec){ big_block, sizeof big_block };
        m[i] = (struct ws_msg){ iov[i], 2 };
    }
    CHECK_EQ_INT(ws_send_msgs(ws, 0, m, BIG_MSGS), 0);
    big_queued = ws_queued_bytes(ws);
}

static void on_message(struct ws *ws, int is_text, const char *p, size_t n, void *arg)
{
    if (is_text)
        buf_appendf(&msgs, "T:%.*s|", (int)n, p);
    else
        buf_appendf(&msgs, "B:%zu|", n);
    if (is_text && n == 4 && memcmp(p, "bye!", 4) == 0) {
        ws_close(ws, 4000, "later");
    } else if (is_text && n == 8 && memcmp(p, "deadline", 8) == 0) {
        ws_set_deadline(ws, 100, 4001, "no connect");
    } else if (is_text && n == 5 && memcmp(p, "clear", 5) == 0) {
        ws_set_deadline(ws, 0, 0, NULL);
    } else if (is_text && n == 8 && memcmp(p, "bigflood", 8) == 0) {
        static char chunk[65536];
        int i = 0;
        while (i < 200 && ws_send(ws, 0, chunk, sizeof chunk) == 0)
            i++;
        buf_appendf(&msgs, "bigsent:%d|", i);
    } else if (is_text && n == 5 && memcmp(p, "flood", 5) == 0) {
        static char chunk[1000];
        int i = 0;
        while (i < 100 && ws_send(ws, 0, chunk, sizeof chunk) == 0)
            i++;
        buf_appendf(&msgs, "sent:%d|", i);
        CHECK_EQ_INT(ws_send(ws, 1, "x", 1), -1); /* closing now */
    }
    else if (is_text && n == 6 && memcmp(p, "gather", 6) == 0) {
        ws_send(ws, 1, "first", 5); /* queued: the gathered messages go after it */
        send_gathered(ws);
    } else if (is_text && n == 7 && memcmp(p, "gather2", 7) == 0) {
        send_gathered(ws); /* nothing queued: written at once */
    } else if (is_text && n == 4 && memcmp(p, "gbig", 4) == 0) {
        send_big_gathered(ws);
    } else if (is_text && n == 8 && memcmp(p, "gbigfail", 8) == 0) {
        send_big_gathered(ws);
        CHECK(big_queued > 1 << 20);
        CHECK_EQ_INT(ws_send(ws, 1, "x", 1), -1); /* over the budget and behind: 1013 */
    } else
        ws_send(ws, is_text, p, n);
}

static void on_close(struct ws *ws, int code, const char *reason, void *arg)
{
    close_calls++;
    close_code = code;
    snprintf(close_reason, sizeof close_reason, "%s", reason);
}

static const struct ws_handlers H = { on_open, on_message, on_close };

static void handler(struct conn *c, struct http_request *req, void *arg)
{
    struct ws *ws;
    if (ws_accept(c, req, &H, NULL, &ws) < 0)
        return;
}

static uint32_t idle_ms; /* ws_idle_timeout_ms for the next start() */
static size_t budget, sendq, maxmsg; /* max_buffered_bytes, ws_max_send_queue, ws_max_message */

static void start(void)
{
    L = loop_new();
    struct server_config cfg;
    server_config_defaults(&cfg);
    cfg.ws_max_message = maxmsg ? maxmsg : 1000;
    cfg.ws_max_send_queue = sendq ? sendq : 4096;
    if (budget)
        cfg.max_buffered_bytes = budget;
    cfg.ws_idle_timeout_ms = idle_ms;
    cfg.ws_ping_interval_ms = idle_ms / 2;
    struct buf err = BUF_INIT(256);
    if (server_start(L, &cfg, handler, NULL, &S, &err) < 0)
        abort();
    buf_release(&err);
    buf_init(&msgs, 1 << 20);
    close_calls = close_code = open_calls = 0;
    close_reason[0] = 0;
}

static void stop(void)
{
    server_free(S);
    loop_free(L);
    buf_release(&msgs);
}


static const char UPGRADE[] = "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                              "Connection: keep-alive, Upgrade\r\n"
                              "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                              "Sec-WebSocket-Version: 13\r\n\r\n";

/* Connects and upgrades, with `extra` bytes sent in the same write as the request. */
static struct client ws_connect(const void *extra, size_t n)
{
    struct client c = cli_connect();
    unsigned char b[4096];
    memcpy(b, UPGRADE, sizeof UPGRADE - 1);
    if (n)
        memcpy(b + sizeof UPGRADE - 1, extra, n);
    cli_send(&c, b, sizeof UPGRADE - 1 + n);
    pump(&c, 20);
    return c;
}

/* Offset of the first byte after the 101 response in c->in. */
static size_t frames_at(const struct client *c)
{
    const char *e = strstr(c->in.data, "\r\n\r\n");
    return e ? (size_t)(e + 4 - c->in.data) : 0;
}

static void send_frame(struct client *c, int b0, const void *p, size_t n)
{
    unsigned char fr[2048];
    size_t len = make_frame(fr, b0, 1, p, n, n < 126 ? 7 : 16);
    cli_send(c, fr, len);
}

TEST(ws_handshake_and_early_frames)
{
    start();
    unsigned char fr[64];
    size_t n = make_frame(fr, 0x81, 1, "early", 5, 7);
    struct client c = ws_connect(fr, n);
    CHECK(strncmp(c.in.data, "HTTP/1.1 101 Switching Protocols\r\n", 34) == 0);
    CHECK(strstr(c.in.data, "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n") != NULL);
    CHECK_EQ_INT(open_calls, 1);
    CHECK_EQ_STR(msgs.data, "T:early|");
    size_t at = frames_at(&c);
    CHECK_EQ_INT(c.in.len - at, 7);
    CHECK(memcmp(c.in.data + at, "\x81\x05" "early", 7) == 0);
    close(c.fd);
    pump(&c, 10);
    CHECK_EQ_INT(close_calls, 1);
    CHECK_EQ_INT(close_code, 1006);
    buf_release(&c.in);
    stop();
}

static void expect_handshake_error(const char *req, const char *status)
{
    start();
    struct client c = cli_connect();
    cli_send(&c, req, strlen(req));
    pump(&c, 20);
    if (strncmp(c.in.data, status, strlen(status)) != 0)
        fprintf(stderr, "got %s\n", c.in.data);
    CHECK(strncmp(c.in.data, status, strlen(status)) == 0);
    CHECK_EQ_INT(open_calls, 0);
    close(c.fd);
    pump(&c, 5);
    CHECK_EQ_INT(close_calls, 0);
    buf_release(&c.in);
    stop();
}

TEST(ws_handshake_errors)
{
    expect_handshake_error("GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                           "Sec-WebSocket-Version: 8\r\n\r\n",
                           "HTTP/1.1 426 Upgrade Required\r\n");
    start();
    struct client c = cli_connect();
    const char *r = "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
    cli_send(&c, r, strlen(r));
    pump(&c, 20);
    CHECK(strstr(c.in.data, "426 Upgrade Required") != NULL);
    CHECK(strstr(c.in.data, "Sec-WebSocket-Version: 13\r\n") != NULL);
    close(c.fd);
    buf_release(&c.in);
    stop();
    expect_handshake_error("GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                           "Sec-WebSocket-Key: short\r\nSec-WebSocket-Version: 13\r\n\r\n",
                           "HTTP/1.1 400 Bad Request\r\n");
    expect_handshake_error("GET /ws HTTP/1.1\r\nConnection: Upgrade\r\n"
                           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                           "Sec-WebSocket-Version: 13\r\n\r\n",
                           "HTTP/1.1 400 Bad Request\r\n");
    expect_handshake_error("POST /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                           "Sec-WebSocket-Version: 13\r\n\r\n",
                           "HTTP/1.1 400 Bad Request\r\n");
    /* a body on the upgrade, chunked (even empty) or not */
    expect_handshake_error("GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                           "Sec-WebSocket-Version: 13\r\nTransfer-Encoding: chunked\r\n\r\n"
                           "0\r\n\r\n",
                           "HTTP/1.1 400 Bad Request\r\n");
    expect_handshake_error("GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                           "Sec-WebSocket-Version: 13\r\nContent-Length: 2\r\n\r\nhi",
                           "HTTP/1.1 400 Bad Request\r\n");
}

TEST(ws_fragments_ping_and_close)
{
    start();
    struct client c = ws_connect(NULL, 0);
    size_t at = frames_at(&c);
    /* "héllo" with the é split across fragments, a ping in the middle */
    send_frame(&c, 0x01, "h\xc3", 2);
    send_frame(&c, 0x89, "pp", 2);
    send_frame(&c, 0x00, "\xa9l", 2);
    send_frame(&c, 0x80, "lo", 2);
    pump(&c, 20);
    CHECK_EQ_STR(msgs.data, "T:h\xc3\xa9llo|");
    /* pong first (it came before the end of the message), then the echo */
    CHECK(memcmp(c.in.data + at, "\x8a\x02pp", 4) == 0);
    CHECK(memcmp(c.in.data + at + 4, "\x81\x06h\xc3\xa9llo", 8) == 0);
    at += 12;
    /* binary of 300 bytes (16-bit length) */
    unsigned char bin[300];
    memset(bin, 0xab, sizeof bin);
    send_frame(&c, 0x82, bin, sizeof bin);
    pump(&c, 20);
    CHECK(strstr(msgs.data, "B:300|") != NULL);
    CHECK(memcmp(c.in.data + at, "\x82\x7e\x01\x2c", 4) == 0);
    at += 304;
    /* close with a code and reason: echoed code, then TCP close */
    send_frame(&c, 0x88, "\x0f\xa1gone", 6);
    pump(&c, 30);
    CHECK_EQ_INT(c.in.len - at, 4);
    CHECK(memcmp(c.in.data + at, "\x88\x02\x0f\xa1", 4) == 0);
    CHECK(c.eof);
    close(c.fd);
    pump(&c, 10);
    CHECK_EQ_INT(close_calls, 1);
    CHECK_EQ_INT(close_code, 4001);
    CHECK_EQ_STR(close_reason, "gone");
    buf_release(&c.in);
    stop();
}

/* Sends `frame`, expects the server to close with `code` and report it once. */
static void expect_close(const unsigned char *frame, size_t n, int code, int report)
{
    start();
    struct client c = ws_connect(NULL, 0);
    size_t at = frames_at(&c);
    cli_send(&c, frame, n);
    pump(&c, 30);
    size_t want = code == 1005 ? 2 : 4;
    CHECK(c.in.len >= at + want);
    if (c.in.len < at + want)
        fprintf(stderr, "no close frame for code %d (%zu bytes)\n", code, c.in.len - at);
    if (c.in.len >= at + want) {
        const unsigned char *p = (const unsigned char *)c.in.data + at;
        CHECK_EQ_INT(p[0], 0x88);
        if (code == 1005) {
            CHECK_EQ_INT(p[1], 0);
        } else {
            CHECK_EQ_INT(p[2] << 8 | p[3], code);
        }
    }
    CHECK(c.eof);
    close(c.fd);
    pump(&c, 10);
    CHECK_EQ_INT(close_calls, 1);
    CHECK_EQ_INT(close_code, report);
    buf_release(&c.in);
    stop();
}

TEST(ws_protocol_violations)
{
    unsigned char fr[2100];
    size_t n;
    n = make_frame(fr, 0x81, 0, "hi", 2, 7); /* unmasked */
    expect_close(fr, n, 1002, 1002);
    n = make_frame(fr, 0xc1, 1, "hi", 2, 7); /* RSV1 */
    expect_close(fr, n, 1002, 1002);
    n = make_frame(fr, 0x80, 1, "hi", 2, 7); /* continuation with no message */
    expect_close(fr, n, 1002, 1002);
    n = make_frame(fr, 0x01, 1, "a", 1, 7); /* text inside a fragmented message */
    n += make_frame(fr + n, 0x81, 1, "b", 1, 7);
    expect_close(fr, n, 1002, 1002);
    n = make_frame(fr, 0x81, 1, "\xc0\xaf", 2, 7); /* invalid utf-8 */
    expect_close(fr, n, 1007, 1007);
    n = make_frame(fr, 0x01, 1, "ok\xf0\x9f", 4, 7); /* fragment ends mid-char, final */
    n += make_frame(fr + n, 0x80, 1, "x", 1, 7);
    expect_close(fr, n, 1007, 1007);
    static unsigned char big[1001];
    n = make_frame(fr, 0x82, 1, big, sizeof big, 16); /* over ws_max_message */
    expect_close(fr, n, 1009, 1009);
    n = make_frame(fr, 0x02, 1, big, 600, 16); /* over the limit across fragments */
    n += make_frame(fr + n, 0x80, 1, big, 600, 16);
    expect_close(fr, n, 1009, 1009);
    n = make_frame(fr, 0x88, 1, "\x03\xed", 2, 7); /* close code 1005 is not sendable */
    expect_close(fr, n, 1002, 1002);
    n = make_frame(fr, 0x88, 1, "\x03", 1, 7); /* 1-byte close payload */
    expect_close(fr, n, 1002, 1002);
    n = make_frame(fr, 0x88, 1, "\x03\xe8\xff", 3, 7); /* close reason not utf-8 */
    expect_close(fr, n, 1007, 1007);
    n = make_frame(fr, 0x88, 1, "", 0, 7); /* close without a code: echo empty, report 1005 */
    expect_close(fr, n, 1005, 1005);
}

TEST(ws_server_initiated_close)
{
    start();
    struct client c = ws_connect(NULL, 0);
    size_t at = frames_at(&c);
    send_frame(&c, 0x81, "bye!", 4);
    pump(&c, 20);
    const unsigned char *p = (const unsigned char *)c.in.data + at;
    CHECK(c.in.len >= at + 9);
    CHECK(memcmp(p, "\x88\x07\x0f\xa0later", 9) == 0);
    CHECK(!c.eof);
    CHECK_EQ_INT(close_calls, 0);
    send_frame(&c, 0x81, "ignored", 7); /* data after our close is dropped */
    send_frame(&c, 0x88, "\x0f\xa0", 2);
    pump(&c, 20);
    CHECK(c.eof);
    CHECK_EQ_INT(c.in.len, at + 9);
    close(c.fd);
    pump(&c, 10);
    CHECK_EQ_INT(close_calls, 1);
    CHECK_EQ_INT(close_code, 4000);
    CHECK(strstr(msgs.data, "ignored") == NULL);
    buf_release(&c.in);
    stop();
}

TEST(ws_send_queue_cap_closes_1008)
{
    start();
    struct client c = ws_connect(NULL, 0);
    size_t at = frames_at(&c);
    send_frame(&c, 0x81, "flood", 5);
    pump(&c, 30);
    CHECK(strstr(msgs.data, "sent:4|") != NULL); /* 4 x 1004 bytes fit in 4096 */
    /* the queued frames were dropped: only the close frame arrives */
    CHECK(c.in.len >= at + 4 + 15);
    const unsigned char *p = (const unsigned char *)c.in.data + at;
    CHECK(memcmp(p, "\x88\x11\x03\xf0send queue full", 19) == 0);
    CHECK(c.eof);
    close(c.fd);
    pump(&c, 10);
    CHECK_EQ_INT(close_calls, 1);
    CHECK_EQ_INT(close_code, 1008);
    buf_release(&c.in);
    stop();
}

/* Past the server's global buffer budget, a client over its high-water mark is closed with 1013
 * long before its own send cap (8 MiB here) is reached. */
TEST(ws_global_budget_closes_1013)
{
    budget = 1 << 20;
    sendq = 8 << 20;
    start();
    budget = sendq = 0;
    struct client c = ws_connect(NULL, 0);
    size_t at = frames_at(&c);
    send_frame(&c, 0x81, "bigflood", 8);
    pump(&c, 50);
    const char *m = strstr(msgs.data, "bigsent:");
    CHECK(m != NULL);
    int sent = m ? atoi(m + 8) : -1;
    CHECK(sent >= 8 && sent <= 20); /* about 1 MiB of 64 KiB messages, not 8 MiB */
    const char *want = "\x88\x1f\x03\xf5server over its memory budget";
    CHECK(memmem(c.in.data + at, c.in.len - at, want, 33) != NULL);
    close(c.fd);
    pump(&c, 10);
    CHECK_EQ_INT(close_calls, 1);
    CHECK_EQ_INT(close_code, 1013);
    buf_release(&c.in);
    stop();
}

/* An incoming message whose buffer would grow past the global budget: close 1013. */
TEST(ws_global_budget_input_closes_1013)
{
    budget = 600 << 10;
    maxmsg = 4 << 20;
    start();
    budget = maxmsg = 0;
    struct client c = ws_connect(NULL, 0);
    size_t at = frames_at(&c);
    size_t len = 2 << 20;
    unsigned char hdr[14] = { 0x82, 0x80 | 127 };
    for (int i = 0; i < 8; i++)
        hdr[2 + i] = (unsigned char)((uint64_t)len >> (56 - 8 * i));
    cli_send(&c, hdr, sizeof hdr); /* mask key 0: the payload goes as is */
    static char piece[65536];
    for (size_t sent = 0; sent < len && !c.eof; sent += sizeof piece) {
        if (send(c.fd, piece, sizeof piece, MSG_NOSIGNAL) < 0)
            break;
        pump(&c, 2);
    }
    pump(&c, 50);
    const char *want = "\x88\x1f\x03\xf5server over its memory budget";
    CHECK(c.in.len > at && memmem(c.in.data + at, c.in.len - at, want, 33) != NULL);
    close(c.fd);
    pump(&c, 10);
    CHECK_EQ_INT(close_calls, 1);
    CHECK_EQ_INT(close_code, 1013);
    buf_release(&c.in);
    stop();
}

TEST(ws_deadline_closes_unless_cleared)
{
    start();
    struct client c = ws_connect(NULL, 0);
    size_t at = frames_at(&c);
    send_frame(&c, 0x81, "deadline", 8);
    pump(&c, 60);
    CHECK_EQ_INT(c.in.len, at); /* not yet */
    pump(&c, 100);
    CHECK(memmem(c.in.data + at, c.in.len - at, "\x88\x0c\x0f\xa1no connect", 14) != NULL);
    close(c.fd);
    pump(&c, 10);
    CHECK_EQ_INT(close_calls, 1);
    CHECK_EQ_INT(close_code, 4001);
    buf_release(&c.in);
    struct client d = ws_connect(NULL, 0);
    at = frames_at(&d);
    send_frame(&d, 0x81, "deadline", 8);
    pump(&d, 30);
    send_frame(&d, 0x81, "clear", 5);
    pump(&d, 200);
    CHECK_EQ_INT(d.in.len, at);
    CHECK(!d.eof);
    CHECK_EQ_INT(close_calls, 1);
    close(d.fd);
    buf_release(&d.in);
    stop();
}

TEST(ws_idle_ping_then_drop)
{
    /* a ping every 500 ms, closed once nothing arrived for 1000 ms; every step has hundreds of
     * ms to spare, for a loaded machine under the sanitizers */
    idle_ms = 1000;
    start();
    idle_ms = 0;
    struct client c = ws_connect(NULL, 0);
    size_t at = frames_at(&c);
    pump(&c, 700);
    CHECK(c.in.len >= at + 2);
    CHECK(memcmp(c.in.data + at, "\x89\x00", 2) == 0); /* a ping at half the idle time */
    CHECK(!c.eof);
    send_frame(&c, 0x8a, "", 0); /* pong: alive */
    pump(&c, 500);
    CHECK(!c.eof);
    CHECK_EQ_INT(close_calls, 0);
    pump(&c, 1500); /* now silent: closed with 1001 "idle timeout" */
    CHECK(c.eof);
    CHECK(memmem(c.in.data + at, c.in.len - at, "\x88\x0e\x03\xe9idle timeout", 16) != NULL);
    shutdown(c.fd, SHUT_WR); /* the server lingers until our EOF */
    pump(&c, 50);
    CHECK_EQ_INT(close_calls, 1);
    CHECK_EQ_INT(close_code, 1001);
    close(c.fd);
    buf_release(&c.in);
    stop();
}

/* Walks the server frames in (p, n): their count, the payload of frame `want` (if asked), and
 * whether the bytes end exactly at a frame's end. */
static int walk_frames(const unsigned char *p, size_t n, int want, const unsigned char **pl,
                       size_t *pl_len, int *clean_end)
{
    size_t at = 0;
    int k = 0;
    while (at + 2 <= n) {
        uint64_t len = p[at + 1] & 0x7f;
        size_t h = 2;
        if (len == 126) {
            len = (uint64_t)p[at + 2] << 8 | p[at + 3];
            h = 4;
        } else if (len == 127) {
            len = 0;
            for (int i = 0; i < 8; i++)
                len = len << 8 | p[at + 2 + i];
            h = 10;
        }
        if (at + h + len > n)
            break;
        if (k == want) {
            *pl = p + at + h;
            *pl_len = (size_t)len;
        }
        at += h + (size_t)len;
        k++;
    }
    *clean_end = at == n;
    return k;
}

TEST(ws_send_msgs_gathers_in_order)
{
    start();
    struct client c = ws_connect(NULL, 0);
    size_t at = frames_at(&c);
    send_frame(&c, 0x81, "gather", 6);
    pump(&c, 30);
    /* after what was queued before them, each message one frame of its parts */
    CHECK_EQ_INT(c.in.len - at, 7 + 6 + 5);
    CHECK(memcmp(c.in.data + at, "\x81\x05" "first\x81\x04" "abcd\x81\x03" "efg", 18) == 0);
    size_t at2 = c.in.len;
    send_frame(&c, 0x81, "gather2", 7);
    pump(&c, 30);
    CHECK_EQ_INT(c.in.len - at2, 6 + 5);
    CHECK(memcmp(c.in.data + at2, "\x81\x04" "abcd\x81\x03" "efg", 11) == 0);
    close(c.fd);
    pump(&c, 10);
    buf_release(&c.in);
    stop();
}

/* A write the socket cuts short queues the rest in order, and the frame it cut is finished:
 * every message arrives whole. */
TEST(ws_send_msgs_partial_write_keeps_frames_whole)
{
    start();
    struct client c = ws_connect(NULL, 0);
    size_t at = frames_at(&c);
    c.in.max = 16 << 20;
    big_queued = 0;
    send_frame(&c, 0x81, "gbig", 4);
    for (int i = 0; i < 200 && c.in.len < at + BIG_MSGS * (4 + 65536 + 4); i++)
        pump(&c, 10);
    const unsigned char *p = (const unsigned char *)c.in.data + at, *pl = NULL;
    size_t n = c.in.len - at, pl_len = 0;
    int clean = 0;
    CHECK(big_queued > 0 && big_queued < BIG_MSGS * (4 + 65536 + 4)); /* a partial write */
    CHECK_EQ_INT(walk_frames(p, n, -1, &pl, &pl_len, &clean), BIG_MSGS);
    CHECK(clean);
    for (int i = 0; i < BIG_MSGS; i++) {
        char head[16];
        snprintf(head, sizeof head, "m%03d", i);
        walk_frames(p, n, i, &pl, &pl_len, &clean);
        CHECK_EQ_INT(pl_len, 4 + 65536);
        CHECK(pl && memcmp(pl, head, 4) == 0 && pl[4] == 'z' && pl[pl_len - 1] == 'z');
    }
    close(c.fd);
    pump(&c, 10);
    buf_release(&c.in);
    stop();
}

/* A client whose receive buffer is small (set before connecting, so the window stays small):
 * the kernel takes little of what the server writes while it does not read. */
static struct client ws_connect_small_window(void)
{
    struct client c = { .fd = socket(AF_INET, SOCK_STREAM, 0) };
    int small = 4096, one = 1;
    setsockopt(c.fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)server_port(S)) };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(c.fd, (struct sockaddr *)&a, sizeof a) < 0)
        abort();
    buf_init(&c.in, 16 << 20);
    cli_send(&c, UPGRADE, sizeof UPGRADE - 1);
    pump(&c, 20);
    return c;
}

/* Over the global budget right after a write the socket cut short inside a frame: the queue
 * is dropped but the cut frame is finished before the close frame (the stream stays whole). */
TEST(ws_send_msgs_dropped_queue_finishes_the_cut_frame)
{
    budget = 1 << 20;
    start();
    budget = 0;
    struct client c = ws_connect_small_window();
    size_t at = frames_at(&c);
    send_frame(&c, 0x81, "gbigfail", 8);
    for (int i = 0; i < 300 && !c.eof; i++)
        pump(&c, 10);
    const unsigned char *p = (const unsigned char *)c.in.data + at, *pl = NULL;
    size_t n = c.in.len - at, pl_len = 0;
    int clean = 0;
    int k = walk_frames(p, n, -1, &pl, &pl_len, &clean);
    CHECK(clean);
    CHECK(k >= 1 && k < BIG_MSGS + 1); /* the messages the socket took or began, then the close */
    walk_frames(p, n, k - 1, &pl, &pl_len, &clean);
    CHECK(pl && pl_len == 31 && memcmp(pl, "\x03\xf5server over its memory budget", 31) == 0);
    for (int i = 0; i < k - 1; i++) {
        walk_frames(p, n, i, &pl, &pl_len, &clean);
        CHECK_EQ_INT(pl_len, 4 + 65536);
        CHECK(pl && pl[0] == 'm' && pl[pl_len - 1] == 'z');
    }
    close(c.fd);
    pump(&c, 10);
    CHECK_EQ_INT(close_calls, 1);
    CHECK_EQ_INT(close_code, 1013);
    buf_release(&c.in);
    stop();
}

TEST_MAIN()

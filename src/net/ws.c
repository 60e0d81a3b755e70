/* ws: RFC 6455 on top of server.c's connections. The frame parser, unmasking and UTF-8
 * validation are pure functions over byte ranges (fuzzed); the connection part assembles
 * fragmented messages under a size limit, answers pings, runs the close handshake and caps the
 * send queue. Invariants: on_close runs exactly once, from the server's before-sleep hook (never
 * inside another callback of the same ws); every frame is written whole to c->out, and c->out
 * starts at a frame boundary after its first out_nonframe bytes, so a dropped queue never cuts
 * a frame in half. */
#include "net/ws.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <openssl/evp.h>

#include "base/base64.h"
#include "base/log.h"
#include "base/mem.h"
#include "net/net_int.h"
#include "base/banned.h"

#define WS_CLOSE_NO_STATUS 1005
#define WS_CLOSE_ABNORMAL 1006
#define CLOSE_HANDSHAKE_MS 3000

/* ---- pure parts ---- */

long ws_frame_parse(const unsigned char *p, size_t n, int require_mask, struct ws_frame *f)
{
    f->header_len = 0;
    f->payload = NULL;
    if (n < 2)
        return WS_PARTIAL;
    f->fin = p[0] >> 7;
    f->opcode = p[0] & 0x0f;
    f->masked = p[1] >> 7;
    if (p[0] & 0x70)
        return -WS_CLOSE_PROTOCOL_ERROR; /* RSV bits without a negotiated extension */
    switch (f->opcode) {
    case WS_OP_CONT: case WS_OP_TEXT: case WS_OP_BINARY:
    case WS_OP_CLOSE: case WS_OP_PING: case WS_OP_PONG:
        break;
    default:
        return -WS_CLOSE_PROTOCOL_ERROR;
    }
    if (require_mask && !f->masked)
        return -WS_CLOSE_PROTOCOL_ERROR; /* §5.1 */
    uint64_t len = p[1] & 0x7f;
    size_t h = 2;
    if (f->opcode >= 0x8 && (!f->fin || len > 125))
        return -WS_CLOSE_PROTOCOL_ERROR; /* §5.5 */
    if (len == 126) {
        if (n < 4)
            return WS_PARTIAL;
        len = (uint64_t)p[2] << 8 | p[3];
        if (len < 126)
            return -WS_CLOSE_PROTOCOL_ERROR; /* §5.2: minimal encoding */
        h = 4;
    } else if (len == 127) {
        if (n < 10)
            return WS_PARTIAL;
        len = 0;
        for (int i = 0; i < 8; i++)
            len = len << 8 | p[2 + i];
        if (len >> 63)
            return -WS_CLOSE_PROTOCOL_ERROR;
        if (len <= 0xffff)
            return -WS_CLOSE_PROTOCOL_ERROR;
        h = 10;
    }
    if (f->masked) {
        if (n < h + 4)
            return WS_PARTIAL;
        memcpy(f->mask, p + h, 4);
        h += 4;
    } else {
        memset(f->mask, 0, 4);
    }
    f->payload_len = len;
    f->header_len = h;
    if (len > n - h)
        return WS_PARTIAL;
    f->payload = p + h;
    return (long)(h + len);
}

void ws_unmask(unsigned char *p, size_t n, const unsigned char mask[4], size_t offset)
{
    size_t i = 0;
    /* align to the mask phase, then 8 bytes at a time */
    while (i < n && ((offset + i) & 3))
        p[i] ^= mask[(offset + i) & 3], i++;
    if (n - i >= 8) {
        uint32_t m32;
        memcpy(&m32, mask, 4);
        uint64_t m64 = (uint64_t)m32 | (uint64_t)m32 << 32;
        for (; i + 8 <= n; i += 8) {
            uint64_t v;
            memcpy(&v, p + i, 8);
            v ^= m64;
            memcpy(p + i, &v, 8);
        }
    }
    for (; i < n; i++)
        p[i] ^= mask[(offset + i) & 3];
}

/* Incremental UTF-8 validation (RFC 3629): rejects overlongs, surrogates, > U+10FFFF. The state
 * carries the number of continuation bytes still expected and the allowed range of the next. */
struct utf8_state {
    unsigned need;
    unsigned char lo, hi;
};

static int utf8_feed(struct utf8_state *s, const unsigned char *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned char c = p[i];
        if (s->need) {
            if (c < s->lo || c > s->hi)
                return 0;
            s->lo = 0x80;
            s->hi = 0xbf;
            s->need--;
            i++;
            continue;
        }
        if (c < 0x80) {
            /* fast path over ASCII */
            i++;
            while (i + 8 <= n) {
                uint64_t v;
                memcpy(&v, p + i, 8);
                if (v & 0x8080808080808080ull)
                    break;
                i += 8;
            }
            continue;
        }
        s->lo = 0x80;
        s->hi = 0xbf;
        if (c >= 0xc2 && c <= 0xdf) {
            s->need = 1;
        } else if (c >= 0xe0 && c <= 0xef) {
            s->need = 2;
            if (c == 0xe0)
                s->lo = 0xa0; /* overlong */
            else if (c == 0xed)
                s->hi = 0x9f; /* surrogates */
        } else if (c >= 0xf0 && c <= 0xf4) {
            s->need = 3;
            if (c == 0xf0)
                s->lo = 0x90; /* overlong */
            else if (c == 0xf4)
                s->hi = 0x8f; /* > U+10FFFF */
        } else {
            return 0;
        }
        i++;
    }
    return 1;
}

int ws_utf8_valid(const unsigned char *p, size_t n)
{
    struct utf8_state s = { 0, 0x80, 0xbf };
    return utf8_feed(&s, p, n) && s.need == 0;
}

size_t ws_frame_header(unsigned char out[10], int opcode, int fin, uint64_t n)
{
    out[0] = (unsigned char)((fin ? 0x80 : 0) | (opcode & 0x0f));
    if (n < 126) {
        out[1] = (unsigned char)n;
        return 2;
    }
    if (n <= 0xffff) {
        out[1] = 126;
        out[2] = (unsigned char)(n >> 8);
        out[3] = (unsigned char)n;
        return 4;
    }
    out[1] = 127;
    for (int i = 0; i < 8; i++)
        out[2 + i] = (unsigned char)(n >> (56 - 8 * i));
    return 10;
}

void ws_accept_key(const char *key, size_t len, char out[29])
{
    static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha1(), NULL) || !EVP_DigestUpdate(ctx, key, len) ||
        !EVP_DigestUpdate(ctx, guid, sizeof guid - 1) || !EVP_DigestFinal_ex(ctx, md, &mdlen) ||
        mdlen != 20)
        abort(); /* libcrypto without SHA-1: nothing sane to do */
    EVP_MD_CTX_free(ctx);
    struct buf b = BUF_INIT(64);
    base64_encode(&b, md, mdlen, 0);
    memcpy(out, b.data, 28);
    out[28] = '\0';
    buf_release(&b);
}

/* A close code a peer may send (§7.4): 1000-1003, 1007-1014, 3000-4999. */
int ws_close_code_valid(int code)
{
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
           (code >= 3000 && code <= 4999);
}

/* ---- connection part ---- */

struct ws {
    struct conn *c; /* NULL once the connection is gone */
    struct loop *loop;
    int refs;
    uint64_t id;
    struct ws_handlers h;
    void *arg;
    unsigned opened : 1, close_sent : 1, close_received : 1, notified : 1;
    unsigned close_wait : 1; /* ws_close: the handshake's timer starts once our frame is out */
    int report_code; /* what on_close will get */
    char *reason;    /* the close reason on_close gets (NULL: ""); allocated when a close sets it */
    struct buf msg;  /* fragments of the message in progress */
    int msg_op;      /* WS_OP_TEXT/BINARY while a fragmented message is open, else 0 */
    struct utf8_state utf8;
    size_t max_message, max_queue;
    uint32_t idle_ms, ping_ms;
    uint64_t last_rx, last_ping;
    struct timer timer;
    struct timer deadline; /* ws_set_deadline */
    int deadline_code;
    const char *deadline_reason; /* ws_set_deadline's: a string that outlives it (a literal) */
};

/* A close's reason, at most 123 bytes (a close frame's room). */
static void set_reason(struct ws *ws, const char *p, size_t n)
{
    vr_free(ws->reason);
    ws->reason = n ? vr_strndup(p, n < 123 ? n : 123) : NULL;
}

uint64_t ws_id(const struct ws *ws)
{
    return ws->id;
}

void ws_set_arg(struct ws *ws, void *arg)
{
    ws->arg = arg;
}

size_t ws_queued_bytes(const struct ws *ws)
{
    return ws->c ? conn_out_pending(ws->c) : 0;
}

void ws_ref(struct ws *ws)
{
    ws->refs++;
}

void ws_unref(struct ws *ws)
{
    if (--ws->refs > 0)
        return;
    loop_timer_stop(ws->loop, &ws->timer);
    loop_timer_stop(ws->loop, &ws->deadline);
    buf_release(&ws->msg);
    vr_free(ws->reason);
    vr_free(ws);
}

size_t ws_out_boundary(const struct conn *c, size_t pos, int up)
{
    const unsigned char *p = (const unsigned char *)c->out.data;
    size_t at = 0, len = c->out.len;
    if (c->out_nonframe) {
        if (pos < c->out_nonframe || (pos == c->out_nonframe && !up))
            return pos == c->out_nonframe ? pos : (up ? c->out_nonframe : 0);
        at = c->out_nonframe;
    }
    while (at < len) {
        if (at == pos)
            return at;
        uint64_t flen = p[at + 1] & 0x7f;
        size_t h = 2;
        if (flen == 126) {
            flen = (uint64_t)p[at + 2] << 8 | p[at + 3];
            h = 4;
        } else if (flen == 127) {
            flen = 0;
            for (int i = 0; i < 8; i++)
                flen = flen << 8 | p[at + 2 + i];
            h = 10;
        }
        size_t end = at + h + (size_t)flen;
        if (end > pos)
            return up ? end : at;
        at = end;
    }
    return at;
}

/* Appends one whole frame to the output queue and schedules a flush (batched per iteration). */
static void queue_frame(struct ws *ws, int opcode, const void *p, size_t n)
{
    unsigned char hdr[10];
    size_t h = ws_frame_header(hdr, opcode, 1, n);
    buf_append(&ws->c->out, hdr, h);
    buf_append(&ws->c->out, p, n);
    conn_schedule(ws->c);
}

static void send_close(struct ws *ws, int code, const char *reason)
{
    unsigned char pl[125];
    size_t n = 0;
    if (code != WS_CLOSE_NO_STATUS && code > 0) {
        pl[0] = (unsigned char)(code >> 8);
        pl[1] = (unsigned char)code;
        n = 2;
        size_t rl = reason ? strlen(reason) : 0;
        if (rl > 123)
            rl = 123;
        if (rl)
            memcpy(pl + 2, reason, rl);
        n += rl;
    }
    ws->close_sent = 1;
    queue_frame(ws, WS_OP_CLOSE, pl, n);
}

/* Fails the connection (§7.1.7): our close frame, then the TCP close. */
static void ws_fail(struct ws *ws, int code, const char *reason)
{
    struct conn *c = ws->c;
    log_debug("ws", "conn=%llu close %d %s", (unsigned long long)ws->id, code, reason);
    if (!ws->close_sent)
        send_close(ws, code, reason);
    ws->report_code = code;
    set_reason(ws, reason, strlen(reason));
    /* No ping is due any more, and no timer of ours ends the connection: the close frame waits
     * behind what was queued before it while the peer takes bytes (server.c's progress rule),
     * and the linger counts from the peer's acknowledgement of its last byte. A timer started
     * now would cut off a peer that reads late, and its close frame with it. */
    ws->close_wait = 0;
    loop_timer_stop(ws->loop, &ws->timer);
    conn_flush(c);
    conn_close_after_flush(c);
}

/* Arms the timer for the next ping or idle check, whichever comes first. */
static void arm_keepalive(struct ws *ws, uint64_t now)
{
    uint64_t next = UINT64_MAX;
    if (ws->ping_ms)
        next = ws->last_ping + ws->ping_ms;
    if (ws->idle_ms && ws->last_rx + ws->idle_ms < next)
        next = ws->last_rx + ws->idle_ms;
    if (next == UINT64_MAX)
        return;
    loop_timer_start(ws->loop, &ws->timer, next > now ? next - now : 1);
}

/* Keep-alive: a ping every ping_ms (counted toward the send cap like any frame: skipped while
 * the peer is not reading), and a close 1001 once nothing at all, pongs included, arrived for
 * idle_ms. */
static void ws_on_timer(struct loop *l, struct timer *t)
{
    struct ws *ws = t->arg;
    struct conn *c = ws->c;
    if (!c || c->closed)
        return;
    if (ws->close_sent) {
        if (c->close_after_flush)
            conn_close(c); /* ws_conn_stalled's best effort is over */
        else
            conn_close_after_flush(c); /* the peer never answered our close: linger, close */
        return;
    }
    uint64_t now = loop_now_ms(l);
    if (ws->idle_ms && now - ws->last_rx >= ws->idle_ms) {
        log_info("ws", "conn=%llu close 1001 idle timeout (nothing received for %u ms)",
                 (unsigned long long)ws->id, ws->idle_ms);
        ws_fail(ws, WS_CLOSE_GOING_AWAY, "idle timeout");
        return;
    }
    if (ws->ping_ms && now - ws->last_ping >= ws->ping_ms) {
        ws->last_ping = now;
        if (conn_out_pending(c) + 2 <= ws->max_queue && !conn_ws_input_paused(c))
            queue_frame(ws, WS_OP_PING, NULL, 0);
    }
    arm_keepalive(ws, now);
}

static void ws_on_deadline(struct loop *l, struct timer *t)
{
    struct ws *ws = t->arg;
    if (!ws->c || ws->c->closed || ws->close_sent || ws->c->close_after_flush)
        return;
    log_info("ws", "conn=%llu close %d %s (deadline)", (unsigned long long)ws->id,
             ws->deadline_code, ws->deadline_reason);
    ws_fail(ws, ws->deadline_code, ws->deadline_reason);
}

void ws_set_deadline(struct ws *ws, uint32_t ms, int code, const char *reason)
{
    if (!ms) {
        loop_timer_stop(ws->loop, &ws->deadline);
        return;
    }
    ws->deadline_code = ws_close_code_valid(code) ? code : WS_CLOSE_POLICY;
    ws->deadline_reason = reason ? reason : "";
    loop_timer_start(ws->loop, &ws->deadline, ms);
}

size_t ws_input_held(const struct ws *ws)
{
    return ws->msg.cap;
}

void ws_conn_overloaded(struct ws *ws)
{
    if (!ws->c || ws->c->closed || ws->c->close_after_flush)
        return;
    log_warn("ws", "conn=%llu close 1013 input over the server's memory budget",
             (unsigned long long)ws->id);
    ws_fail(ws, WS_CLOSE_TRY_AGAIN, "server over its memory budget");
}

static void drop_queued(struct ws *ws);

/* Not one byte of the output written for the send-stall timeout: the peer stopped reading (with
 * a large message in progress the send cap and the budget may never see it). What is queued is
 * dropped (a frame partly written is finished), then close 1008, best effort. */
void ws_conn_stalled(struct ws *ws)
{
    struct conn *c = ws->c;
    if (!c || c->closed || c->close_after_flush)
        return;
    if (ws->close_sent) { /* ws_close's frame waits behind what the peer does not read */
        log_info("ws", "conn=%llu closed: send stalled before the close frame (%zu bytes unread)",
                 (unsigned long long)ws->id, conn_out_pending(c));
        conn_close(c);
        return;
    }
    log_info("ws", "conn=%llu close 1008 send stalled (%zu bytes unread, none written for %u ms)",
             (unsigned long long)ws->id, conn_out_pending(c),
             conn_config(c)->send_stall_timeout_ms);
    drop_queued(ws);
    ws_fail(ws, WS_CLOSE_POLICY, "send stalled");
    /* the peer has not read for the whole timeout: its close frame gets a short chance */
    if (!c->closed)
        loop_timer_start(ws->loop, &ws->timer, CLOSE_HANDSHAKE_MS);
}

void ws_conn_drained(struct ws *ws)
{
    if (!ws->close_wait)
        return;
    ws->close_wait = 0;
    loop_timer_start(ws->loop, &ws->timer, CLOSE_HANDSHAKE_MS);
}

int ws_accept(struct conn *c, struct http_request *req, const struct ws_handlers *h, void *arg,
              struct ws **out)
{
    int r = -1;
    if (out)
        *out = NULL;
    if (c->closed || !c->req_active || c->req_done || c->ws)
        goto out;
    const struct slice *ver = http_header_get(req, "sec-websocket-version");
    const struct slice *key = http_header_get(req, "sec-websocket-key");
    const char *why = NULL;
    if (!slice_eq_str(req->method, "GET") || req->minor_version < 1)
        why = "not a GET over HTTP/1.1";
    else if (!http_header_has_token(http_header_get(req, "upgrade"), "websocket"))
        why = "no \"Upgrade: websocket\"";
    else if (!http_header_has_token(http_header_get(req, "connection"), "upgrade"))
        why = "no \"Connection: upgrade\"";
    else if (!ver || !slice_eq_str(*ver, "13")) {
        log_debug("ws", "conn=%llu handshake: unsupported version", (unsigned long long)c->id);
        static const char msg[] = "unsupported WebSocket version\n";
        http_respond(c, 426, "text/plain; charset=utf-8", msg, sizeof msg - 1,
                     "Sec-WebSocket-Version: 13\r\n");
        goto out;
    } else if (!key || key->len != 24) {
        why = "bad Sec-WebSocket-Key";
    } else {
        unsigned char raw[24];
        if (base64_decode(raw, key->p, key->len) != 16)
            why = "bad Sec-WebSocket-Key";
    }
    if (why || req->body.len || req->chunked) { /* a chunked body, even an empty one */
        if (!why)
            why = "body on an upgrade request";
        log_debug("ws", "conn=%llu handshake: %s", (unsigned long long)c->id, why);
        static const char msg[] = "bad WebSocket handshake\n";
        http_respond(c, 400, "text/plain; charset=utf-8", msg, sizeof msg - 1, NULL);
        goto out;
    }
    char accept[29];
    ws_accept_key(key->p, key->len, accept);
    buf_appendf(&c->out,
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
                accept);

    const struct server_config *cfg = conn_config(c);
    struct ws *ws = vr_calloc(1, sizeof *ws);
    ws->c = c;
    ws->loop = c->loop;
    ws->refs = 1; /* the conn's */
    ws->id = c->id;
    if (h)
        ws->h = *h;
    ws->arg = arg;
    ws->report_code = WS_CLOSE_ABNORMAL;
    ws->max_message = cfg->ws_max_message;
    ws->max_queue = cfg->ws_max_send_queue;
    ws->idle_ms = cfg->ws_idle_timeout_ms;
    ws->ping_ms = cfg->ws_ping_interval_ms;
    if (!ws->ping_ms && ws->idle_ms)
        ws->ping_ms = ws->idle_ms / 2 ? ws->idle_ms / 2 : 1;
    ws->utf8 = (struct utf8_state){ 0, 0x80, 0xbf };
    buf_init(&ws->msg, ws->max_message);
    timer_init(&ws->timer, ws_on_timer, ws);
    timer_init(&ws->deadline, ws_on_deadline, ws);
    ws->last_rx = ws->last_ping = loop_now_ms(c->loop);
    arm_keepalive(ws, ws->last_rx);

    /* The conn switches to frame mode: output before this point is not frames. */
    c->out_nonframe = c->out.len;
    c->ws = ws;
    c->req_done = 1;
    loop_timer_stop(c->loop, &c->timer);
    c->timer_kind = CT_NONE;
    size_t want = ws->max_message + 14 + 65536;
    if (c->in.max < want)
        c->in.max = want;
    conn_flush(c);
    conn_schedule(c); /* on_open, then any bytes already read, from the before-sleep hook */
    if (out)
        *out = ws;
    r = 0;
    log_debug("ws", "conn=%llu open", (unsigned long long)c->id);
out:
    return r;
}

void ws_conn_open(struct ws *ws)
{
    if (ws->opened)
        return;
    ws->opened = 1;
    if (ws->h.on_open) {
        ws_ref(ws);
        ws->h.on_open(ws, ws->arg);
        ws_unref(ws);
    }
}

void ws_conn_gone(struct ws *ws)
{
    struct conn *c = ws->c;
    ws->c = NULL;
    if (c)
        c->ws = NULL;
    loop_timer_stop(ws->loop, &ws->timer);
    loop_timer_stop(ws->loop, &ws->deadline);
    if (!ws->notified) {
        ws->notified = 1;
        if (ws->h.on_close && ws->opened) {
            ws_ref(ws);
            ws->h.on_close(ws, ws->report_code, ws->reason ? ws->reason : "", ws->arg);
            ws_unref(ws);
        }
    }
    ws_unref(ws); /* the conn's reference */
}

static void deliver(struct ws *ws, int is_text, const char *p, size_t n)
{
    if (!ws->h.on_message)
        return;
    ws_ref(ws);
    ws->h.on_message(ws, is_text, p, n, ws->arg);
    ws_unref(ws);
}

/* Handles a close frame from the peer (§5.5.1, §7.4). */
static void on_close_frame(struct ws *ws, const unsigned char *p, size_t n)
{
    struct conn *c = ws->c;
    int code = WS_CLOSE_NO_STATUS;
    ws->close_received = 1;
    if (n == 1) {
        ws_fail(ws, WS_CLOSE_PROTOCOL_ERROR, "invalid close payload");
        return;
    }
    if (n >= 2) {
        code = p[0] << 8 | p[1];
        if (!ws_close_code_valid(code)) {
            ws_fail(ws, WS_CLOSE_PROTOCOL_ERROR, "invalid close code");
            return;
        }
        if (!ws_utf8_valid(p + 2, n - 2)) {
            ws_fail(ws, WS_CLOSE_INVALID_DATA, "invalid utf-8 in close reason");
            return;
        }
        set_reason(ws, (const char *)p + 2, n - 2 < 123 ? n - 2 : 123);
    } else {
        set_reason(ws, "", 0);
    }
    ws->report_code = code;
    if (!ws->close_sent)
        send_close(ws, code, NULL); /* echo the code (§5.5.1); none if none was given */
    ws->close_wait = 0;
    loop_timer_stop(ws->loop, &ws->timer); /* the handshake is done: the linger bounds the rest */
    conn_flush(c);
    conn_close_after_flush(c);
}

/* Handles one complete, unmasked data frame. 0 to go on, -1 when the connection failed. */
static int on_data_frame(struct ws *ws, const struct ws_frame *f, const unsigned char *pl)
{
    size_t n = (size_t)f->payload_len;
    if (f->opcode == WS_OP_CONT) {
        if (!ws->msg_op) {
            ws_fail(ws, WS_CLOSE_PROTOCOL_ERROR, "continuation without a message");
            return -1;
        }
    } else if (ws->msg_op) {
        ws_fail(ws, WS_CLOSE_PROTOCOL_ERROR, "new message inside a fragmented one");
        return -1;
    }
    int op = f->opcode == WS_OP_CONT ? ws->msg_op : f->opcode;
    if (op == WS_OP_TEXT) {
        if (f->opcode != WS_OP_CONT)
            ws->utf8 = (struct utf8_state){ 0, 0x80, 0xbf };
        if (!utf8_feed(&ws->utf8, pl, n) || (f->fin && ws->utf8.need)) {
            ws_fail(ws, WS_CLOSE_INVALID_DATA, "invalid utf-8 in text message");
            return -1;
        }
    }
    if (ws->close_sent)
        return 0; /* closing: data is checked but not delivered */
    if (f->fin && f->opcode != WS_OP_CONT) {
        deliver(ws, op == WS_OP_TEXT, (const char *)pl, n); /* zero-copy */
        return 0;
    }
    /* the fragments of a message in progress count in the server's budget like its input:
     * growing a large one is refused past it */
    size_t before = ws->msg.cap, cap = buf_grown_cap(&ws->msg, n);
    if (cap > before && ws->msg.len + n + 1 >= TRIM_BYTES &&
        conn_input_room(ws->c, cap - before) < 0) {
        ws_conn_overloaded(ws);
        return -1;
    }
    if (buf_append(&ws->msg, pl, n) < 0) {
        ws_fail(ws, WS_CLOSE_TOO_BIG, "message too big");
        return -1;
    }
    if (ws->msg.cap != before)
        conn_account(ws->c);
    if (!f->fin) {
        ws->msg_op = op;
        return 0;
    }
    ws->msg_op = 0;
    deliver(ws, op == WS_OP_TEXT, ws->msg.data, ws->msg.len);
    if (ws->msg.cap >= TRIM_BYTES) { /* not kept, nor counted, once delivered */
        buf_release(&ws->msg);
        if (ws->c)
            conn_account(ws->c);
    } else {
        buf_reset(&ws->msg);
    }
    return 0;
}

void ws_conn_input(struct ws *ws)
{
    struct conn *c = ws->c;
    size_t off = 0;
    ws_ref(ws);
    conn_ref(c);
    while (!c->closed && !c->close_after_flush && ws->c && !ws->close_received) {
        if (conn_ws_input_paused(c))
            break; /* the peer is not reading: neither do we (resumed by conn_update_events) */
        unsigned char *p = (unsigned char *)c->in.data + off;
        size_t n = c->in.len - off;
        struct ws_frame f;
        long r = ws_frame_parse(p, n, 1, &f);
        if (r < 0) {
            ws_fail(ws, (int)-r, "protocol error");
            break;
        }
        if (f.header_len && f.opcode < 0x8 &&
            (f.payload_len > ws->max_message ||
             (f.opcode == WS_OP_CONT && f.payload_len > ws->max_message - ws->msg.len))) {
            ws_fail(ws, WS_CLOSE_TOO_BIG, "message too big");
            break;
        }
        if (r == WS_PARTIAL)
            break;
        ws->last_rx = loop_now_ms(ws->loop);
        unsigned char *pl = p + f.header_len;
        ws_unmask(pl, (size_t)f.payload_len, f.mask, 0);
        off += (size_t)r;
        if (f.opcode == WS_OP_PING) {
            /* Pongs count toward the send cap: one that does not fit is dropped (§5.5.3 lets us
             * answer only the latest ping), and the loop pauses above. */
            size_t need = (size_t)f.payload_len + 2;
            if (!ws->close_sent && conn_out_pending(c) + need <= ws->max_queue)
                queue_frame(ws, WS_OP_PONG, pl, (size_t)f.payload_len);
        } else if (f.opcode == WS_OP_PONG) {
            /* liveness only */
        } else if (f.opcode == WS_OP_CLOSE) {
            on_close_frame(ws, pl, (size_t)f.payload_len);
            break;
        } else if (on_data_frame(ws, &f, pl) < 0) {
            break;
        }
    }
    if (!c->closed)
        buf_consume(&c->in, off);
    conn_unref(c);
    ws_unref(ws);
}

/* Drops what is queued (keeping a frame already partly written, so the stream stays
 * well-formed): the reader is not reading, its close frame goes next. */
static void drop_queued(struct ws *ws)
{
    struct conn *c = ws->c;
    size_t keep = ws_out_boundary(c, c->out_off, 1);
    if (keep < c->out.len) {
        c->out.len = keep;
        c->out.data[keep] = '\0';
    }
}

static void fail_overloaded(struct ws *ws, size_t pending)
{
    log_warn("ws", "conn=%llu close 1013 server over its memory budget (%zu bytes queued)",
             (unsigned long long)ws->id, pending);
    drop_queued(ws);
    ws_fail(ws, WS_CLOSE_TRY_AGAIN, "server over its memory budget");
}

int ws_peer_addr(const struct ws *ws, char out[WS_ADDR_MAX])
{
    out[0] = '\0';
    return ws->c ? conn_peer_addr(ws->c, out) : -ENOTCONN;
}

void ws_set_held_bytes(struct ws *ws, size_t n)
{
    struct conn *c = ws->c;
    if (!c || c->closed)
        return; /* conn_close took the connection off the budget */
    c->held = n;
    conn_account(c);
}

int ws_over_budget(const struct ws *ws)
{
    const struct conn *c = ws->c;
    return c && !c->closed && conn_over_budget(c) && conn_ws_input_paused(c) && c->out_blocked;
}

void ws_fail_overloaded(struct ws *ws)
{
    struct conn *c = ws->c;
    if (!c || c->closed || ws->close_sent || c->close_after_flush)
        return;
    fail_overloaded(ws, conn_out_pending(c) + c->held);
}

int ws_send(struct ws *ws, int is_text, const void *p, size_t n)
{
    struct conn *c = ws->c;
    if (!c || c->closed || ws->close_sent || c->close_after_flush)
        return -1;
    size_t pending = conn_out_pending(c);
    conn_account(c);
    /* Past the server's global budget, a client that is not keeping up (over its high-water
     * mark) is cut off first, so that the server stays within its memory. */
    int over_budget = conn_over_budget(c) && conn_ws_input_paused(c);
    if (over_budget) {
        fail_overloaded(ws, pending);
        return -1;
    }
    if (n > ws->max_queue || pending + n + 10 > ws->max_queue) {
        /* Drop what is queued, then close with 1008: best effort, the reader is not reading. */
        drop_queued(ws);
        log_info("ws", "conn=%llu close 1008 send queue full (%zu bytes queued)",
                 (unsigned long long)ws->id, pending);
        ws_fail(ws, WS_CLOSE_POLICY, "send queue full");
        return -1;
    }
    queue_frame(ws, is_text ? WS_OP_TEXT : WS_OP_BINARY, p, n);
    return 0;
}

int ws_send_more(struct ws *ws, int is_text, const void *p, size_t n)
{
    struct conn *c = ws->c;
    if (!c || c->closed || ws->close_sent || c->close_after_flush)
        return -1;
    queue_frame(ws, is_text ? WS_OP_TEXT : WS_OP_BINARY, p, n);
    return 0;
}

/* Frames and iovec entries one write of ws_send_msgs takes at most. */
#define SEND_FRAMES 16
#define SEND_IOV 64

/* Queues the bytes of iov from offset `from` in c->out (after what it holds), growing it once. */
static void queue_iov_from(struct conn *c, const struct iovec *iov, size_t n, size_t from)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += iov[i].iov_len;
    if (total > from)
        buf_grow(&c->out, total - from); /* past its limit: the appends below fail as before */
    for (size_t i = 0; i < n; i++) {
        size_t len = iov[i].iov_len;
        if (from >= len) {
            from -= len;
            continue;
        }
        buf_append(&c->out, (const char *)iov[i].iov_base + from, len - from);
        from = 0;
    }
}

int ws_send_msgs(struct ws *ws, int is_text, const struct ws_msg *msgs, size_t n)
{
    struct conn *c = ws->c;
    if (!c || c->closed || ws->close_sent || c->close_after_flush)
        return -1;
    int op = is_text ? WS_OP_TEXT : WS_OP_BINARY;
    size_t i = 0;
    while (i < n) {
        unsigned char hdr[SEND_FRAMES][10];
        size_t end[SEND_FRAMES]; /* each frame's end offset in the group's bytes */
        struct iovec iov[SEND_IOV];
        size_t k = 0, f = 0, total = 0;
        for (; i < n && f < SEND_FRAMES && k + 1 + msgs[i].n_parts <= SEND_IOV; i++) {
            size_t len = 0;
            for (size_t j = 0; j < msgs[i].n_parts; j++)
                len += msgs[i].parts[j].iov_len;
            size_t h = ws_frame_header(hdr[f], op, 1, len);
            iov[k++] = (struct iovec){ hdr[f], h };
            for (size_t j = 0; j < msgs[i].n_parts; j++)
                if (msgs[i].parts[j].iov_len)
                    iov[k++] = msgs[i].parts[j];
            total += h + len;
            end[f++] = total;
        }
        if (!f) { /* more parts than one write takes: this one frame is copied */
            size_t len = 0;
            for (size_t j = 0; j < msgs[i].n_parts; j++)
                len += msgs[i].parts[j].iov_len;
            size_t h = ws_frame_header(hdr[0], op, 1, len);
            buf_append(&c->out, hdr[0], h);
            queue_iov_from(c, msgs[i].parts, msgs[i].n_parts, 0);
            conn_account(c);
            conn_schedule(c);
            i++;
            continue;
        }
        if (send_batch_take(c, iov, k, total))
            continue; /* a send pool's batch writes it (send_pool.h) */
        int direct = !conn_out_pending(c);
        ssize_t w = conn_write_now(c, iov, k);
        if (w < 0)
            return -1; /* closed; on_close follows */
        if ((size_t)w == total)
            continue;
        if (direct) {
            /* the socket took part of it: the rest goes first, and the rest of a frame cut
             * in the middle is not a frame boundary (never dropped half-sent) */
            buf_reset(&c->out);
            c->out_off = 0;
            c->out_nonframe = 0;
            for (size_t j = 0; j < f; j++)
                if (end[j] > (size_t)w) {
                    size_t start = j ? end[j - 1] : 0;
                    if ((size_t)w > start)
                        c->out_nonframe = end[j] - (size_t)w;
                    break;
                }
        }
        queue_iov_from(c, iov, k, (size_t)w);
        conn_account(c); /* the budget counts the queued bytes now, as after ws_send */
        conn_schedule(c);
    }
    return 0;
}

void ws_close(struct ws *ws, int code, const char *reason)
{
    struct conn *c = ws->c;
    if (!c || c->closed || ws->close_sent || c->close_after_flush)
        return;
    if (code != WS_CLOSE_NO_STATUS && !ws_close_code_valid(code))
        code = WS_CLOSE_NORMAL;
    log_debug("ws", "conn=%llu close %d by server", (unsigned long long)ws->id, code);
    send_close(ws, code, reason);
    /* the peer's close frame is awaited CLOSE_HANDSHAKE_MS from when ours is written
     * (ws_conn_drained), not from now: a peer still reading what was queued before it gets it
     * all (one that stops reading: ws_conn_stalled) */
    loop_timer_stop(ws->loop, &ws->timer);
    ws->close_wait = 1;
    conn_flush(c);
}

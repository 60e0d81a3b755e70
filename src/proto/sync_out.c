/* sync_out: each sync connection's outbound queue. Messages are queued whole and handed to the
 * WebSocket only while its socket queue is low, a large transition in transitionChunk parts, so
 * a client is sent to at its own pace. Invariant: out_bytes is the sum of every queued message
 * (the head included) and is what the connection is charged in the server's buffer budget;
 * out_backlog is the same sum without the head, and is what --max-send-queue bounds. */
#include "proto/sync_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "base/log.h"
#include "base/mem.h"
#include "net/ws.h"
#include <sys/uio.h>
#include "base/banned.h"

/* A transition larger than this goes out as transitionChunk messages of at most this many bytes
 * of its JSON text each (docs/protocol.md, `transitionChunk`). */
#define TRANSITION_CHUNK (1u << 20)
/* sync_pump() hands a connection more only while its socket queue is under this. */
#define OUT_LOW_WATER (1u << 20)

static void pump_link(struct sync_conn *c, int on)
{
    struct sync *sy = c->sync;
    if (on == c->pumping)
        return;
    if (on) {
        c->pump_prev = NULL;
        c->pump_next = sy->pump_head;
        if (sy->pump_head)
            sy->pump_head->pump_prev = c;
        sy->pump_head = c;
    } else {
        if (c->pump_prev)
            c->pump_prev->pump_next = c->pump_next;
        else
            sy->pump_head = c->pump_next;
        if (c->pump_next)
            c->pump_next->pump_prev = c->pump_prev;
        c->pump_prev = c->pump_next = NULL;
    }
    c->pumping = on;
}

/* What the queue holds counts in the server's global buffer budget like the socket's queue. */
/* force: the socket's own queue changed too (ws_send_more copied a chunk into it). */
static void out_account_ex(struct sync_conn *c, int force)
{
    if (c->ws && (force || c->out_bytes != c->charged)) { /* else the budget has it already */
        ws_set_held_bytes(c->ws, c->out_bytes);
        c->charged = c->out_bytes;
    }
}

static void out_account(struct sync_conn *c)
{
    out_account_ex(c, 0);
}

/* The queue's array is given back when it empties: an idle connection holds none. */
static void out_free_array(struct sync_conn *c)
{
    vr_free(c->outq);
    c->outq = NULL;
    c->out_cap = 0;
    c->out_head = c->out_n = 0;
}

void sync_out_clear(struct sync_conn *c)
{
    for (size_t i = c->out_head; i < c->out_n; i++)
        iobuf_release(&c->outq[i].m);
    out_free_array(c);
    c->out_backlog = 0;
    c->out_bytes = 0;
    c->part = c->parts = c->part_off = 0;
    pump_link(c, 0);
    out_account(c);
}

static void out_pop(struct sync_conn *c)
{
    c->out_bytes -= c->outq[c->out_head].m.len;
    iobuf_release(&c->outq[c->out_head].m);
    c->out_head++;
    c->part = c->parts = c->part_off = 0;
    if (c->out_head < c->out_n)
        c->out_backlog -= c->outq[c->out_head].m.len; /* the new head */
    else
        out_free_array(c);
}

static size_t chunk_end(const struct buf *t, size_t off)
{
    size_t end = off + TRANSITION_CHUNK < t->len ? off + TRANSITION_CHUNK : t->len;
    while (end < t->len && end > off + 1 && ((unsigned char)t->data[end] & 0xC0) == 0x80)
        end--;
    return end;
}

/* Whole messages handed to the WebSocket in one call (one writev when its queue is empty). */
#define PUMP_MSGS 16
#define PUMP_IOV 64

/* Hands queued whole messages, from the head on, to the socket in one batch while its queue is
 * under OUT_LOW_WATER (each message is handed if the queue before it is under the mark, as one
 * by one). Returns how many, or -1 when the connection is closing. */
static long pump_whole(struct sync_conn *c)
{
    struct iovec iov[PUMP_IOV];
    struct ws_msg wm[PUMP_MSGS];
    size_t nm = 0, ni = 0, bytes = ws_queued_bytes(c->ws);
    for (size_t h = c->out_head; h < c->out_n && nm < PUMP_MSGS && bytes < OUT_LOW_WATER; h++) {
        struct out_msg *x = &c->outq[h];
        if (x->is_transition && x->m.len > TRANSITION_CHUNK)
            break;
        size_t covered;
        size_t got = iobuf_iov(&x->m, 0, iov + ni, PUMP_IOV - ni, &covered);
        if (covered < x->m.len) {
            if (nm)
                break; /* next batch */
            iobuf_flatten(&x->m); /* more pieces than a batch takes: one run of bytes */
            got = iobuf_iov(&x->m, 0, iov + ni, PUMP_IOV - ni, NULL);
        }
        wm[nm].parts = iov + ni;
        wm[nm].n_parts = got;
        ni += got;
        nm++;
        bytes += x->m.len;
    }
    if (!nm)
        return 0;
    int rc = ws_send_msgs(c->ws, 1, wm, nm);
    c->sync->stats.messages_out += nm;
    if (rc < 0)
        return -1;
    for (size_t i = 0; i < nm; i++)
        out_pop(c);
    return (long)nm;
}

/* Hands queued messages to the socket while its queue is low. Chunks end on UTF-8 character
 * boundaries (each is a JSON string). ws_send_msgs/ws_send_more: sync bounds the backlog
 * itself. */
void sync_pump(struct sync_conn *c)
{
    struct buf part = BUF_INIT(BUF_NOLIMIT);
    int sent = 0, chunked = 0;
    while (c->out_head < c->out_n) {
        if (!c->ws) {
            sync_out_clear(c);
            break;
        }
        if (ws_queued_bytes(c->ws) >= OUT_LOW_WATER)
            break;
        struct out_msg *m = &c->outq[c->out_head];
        int rc;
        if (!m->is_transition || m->m.len <= TRANSITION_CHUNK) {
            rc = pump_whole(c) < 0 ? -1 : 0;
        } else {
            if (c->parts == 0) {
                iobuf_flatten(&m->m); /* the chunks are slices of its JSON text */
                for (size_t off = 0; off < m->m.len; off = chunk_end(&m->m.own, off))
                    c->parts++;
                c->transition_id++;
            }
            const struct buf *t = &m->m.own;
            size_t end = chunk_end(t, c->part_off);
            buf_reset(&part);
            buf_appendf(&part,
                        "{\"type\":\"%s\",\"transitionId\":\"%" PRIu64
                        "\",\"partNumber\":%zu,\"totalParts\":%zu,\"chunk\":",
                        c->convex ? "TransitionChunk" : "transitionChunk", c->transition_id,
                        c->part, c->parts);
            buf_append_json_str(&part, t->data + c->part_off, end - c->part_off);
            buf_append_str(&part, "}");
            rc = ws_send_more(c->ws, 1, part.data, part.len);
            chunked = 1;
            c->sync->stats.messages_out++;
            c->part++;
            c->part_off = end;
            if (rc == 0 && end == t->len)
                out_pop(c);
        }
        if (rc < 0) {
            sync_out_clear(c); /* closing */
            break;
        }
        sent = 1;
    }
    buf_release(&part);
    out_account_ex(c, chunked);
    pump_link(c, c->out_head < c->out_n);
    /* The server writes what we handed over after this hook; if the socket takes it all, no
     * event would bring us back: come back next iteration. A socket that takes nothing (the
     * client does not read) makes no progress here and costs no wake-ups. */
    if (sent && c->pumping)
        loop_wake(c->sync->loop);
}

int sync_queue_msg(struct sync_conn *c, struct iobuf *m, int is_transition)
{
    if (!c || !c->ws) {
        iobuf_release(m);
        return -1;
    }
    if (c->out_n == c->out_cap) {
        if (c->out_head > 0) {
            memmove(c->outq, c->outq + c->out_head, (c->out_n - c->out_head) * sizeof *c->outq);
            c->out_n -= c->out_head;
            c->out_head = 0;
        } else {
            c->out_cap = c->out_cap ? c->out_cap * 2 : 2;
            c->outq = vr_realloc(c->outq, c->out_cap * sizeof *c->outq);
        }
    }
    if (c->out_n > c->out_head)
        c->out_backlog += m->len;
    c->out_bytes += m->len;
    struct out_msg *q = &c->outq[c->out_n++];
    q->m = *m; /* the pieces move with it (they are held inline or by pointer, never by address) */
    q->is_transition = is_transition;
    iobuf_init(m);
    c->sent_since_ping = 1;
    if (c->out_backlog > c->sync->opts.max_send_queue) {
        log_info("sync", "conn=%llu close 1008 send queue full (%zu bytes queued)",
                 (unsigned long long)ws_id(c->ws), c->out_backlog + ws_queued_bytes(c->ws));
        sync_out_clear(c);
        ws_close(c->ws, WS_CLOSE_POLICY, "send queue full");
        return -1;
    }
    /* charged before the check, so that this message counts toward the budget */
    out_account(c);
    if (ws_over_budget(c->ws)) {
        /* the server is over its global buffer budget and this client is behind (its socket
         * is full and the kernel takes no more): it goes first, as with ws_send; a client that
         * keeps reading is not touched */
        ws_fail_overloaded(c->ws);
        sync_out_clear(c);
        return -1;
    }
    return 0;
}

/* Queues a message for c, taking the buffer (b is left empty), and hands it over. */
void sync_send_msg(struct sync_conn *c, struct buf *b, int is_transition)
{
    struct iobuf m;
    iobuf_init(&m);
    iobuf_take_buf(&m, b);
    if (sync_queue_msg(c, &m, is_transition) == 0)
        sync_pump(c);
}

void sync_send_frame(struct sync_conn *c, const struct buf *b)
{
    struct buf copy = BUF_INIT(BUF_NOLIMIT);
    buf_append(&copy, b->data, b->len);
    sync_send_msg(c, &copy, 0);
    buf_release(&copy);
}

void sync_close_conn(struct sync_conn *c, int code, const char *reason)
{
    if (c->ws)
        ws_close(c->ws, code, reason);
}

void sync_send_error(struct sync_conn *c, const char *code, const char *msg, const char *id_field,
                     const char *id_json, int fatal, long retry_ms)
{
    struct buf b = BUF_INIT(BUF_NOLIMIT);
    buf_append_str(&b, "{\"type\":\"error\",\"code\":");
    buf_append_json_str(&b, code, strlen(code));
    buf_append_str(&b, ",\"message\":");
    buf_append_json_str(&b, msg, strlen(msg));
    if (id_field && id_json)
        buf_appendf(&b, ",\"%s\":%s", id_field, id_json);
    if (retry_ms >= 0)
        buf_appendf(&b, ",\"retryAfterMs\":%ld", retry_ms);
    if (!strcmp(code, "VersionNotSupported"))
        buf_appendf(&b, ",\"supportedVersions\":[%d]", SYNC_PROTOCOL_VERSION);
    buf_appendf(&b, ",\"fatal\":%s}", fatal ? "true" : "false");
    sync_send_frame(c, &b);
    buf_release(&b);
}

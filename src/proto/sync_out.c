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
static void out_account(struct sync_conn *c)
{
    if (c->ws)
        ws_set_held_bytes(c->ws, c->out_bytes);
}

void sync_out_clear(struct sync_conn *c)
{
    for (size_t i = c->out_head; i < c->out_n; i++)
        buf_release(&c->outq[i].b);
    c->out_head = c->out_n = 0;
    c->out_backlog = 0;
    c->out_bytes = 0;
    c->part = c->parts = c->part_off = 0;
    pump_link(c, 0);
    out_account(c);
}

static void out_pop(struct sync_conn *c)
{
    c->out_bytes -= c->outq[c->out_head].b.len;
    buf_release(&c->outq[c->out_head].b);
    c->out_head++;
    c->part = c->parts = c->part_off = 0;
    if (c->out_head < c->out_n)
        c->out_backlog -= c->outq[c->out_head].b.len; /* the new head */
    else
        c->out_head = c->out_n = 0;
}

static size_t chunk_end(const struct buf *t, size_t off)
{
    size_t end = off + TRANSITION_CHUNK < t->len ? off + TRANSITION_CHUNK : t->len;
    while (end < t->len && end > off + 1 && ((unsigned char)t->data[end] & 0xC0) == 0x80)
        end--;
    return end;
}

/* Hands queued messages to the socket while its queue is low. Chunks end on UTF-8 character
 * boundaries (each is a JSON string). ws_send_more: sync bounds the backlog itself. */
void sync_pump(struct sync_conn *c)
{
    struct buf part = BUF_INIT(BUF_NOLIMIT);
    int sent = 0;
    while (c->out_head < c->out_n) {
        if (!c->ws) {
            sync_out_clear(c);
            break;
        }
        if (ws_queued_bytes(c->ws) >= OUT_LOW_WATER)
            break;
        struct out_msg *m = &c->outq[c->out_head];
        int rc;
        if (!m->is_transition || m->b.len <= TRANSITION_CHUNK) {
            rc = ws_send_more(c->ws, 1, m->b.data, m->b.len);
            c->sync->stats.messages_out++;
            if (rc == 0)
                out_pop(c);
        } else {
            if (c->parts == 0) {
                for (size_t off = 0; off < m->b.len; off = chunk_end(&m->b, off))
                    c->parts++;
                c->transition_id++;
            }
            size_t end = chunk_end(&m->b, c->part_off);
            buf_reset(&part);
            buf_appendf(&part,
                        "{\"type\":\"%s\",\"transitionId\":\"%" PRIu64
                        "\",\"partNumber\":%zu,\"totalParts\":%zu,\"chunk\":",
                        c->convex ? "TransitionChunk" : "transitionChunk", c->transition_id,
                        c->part, c->parts);
            buf_append_json_str(&part, m->b.data + c->part_off, end - c->part_off);
            buf_append_str(&part, "}");
            rc = ws_send_more(c->ws, 1, part.data, part.len);
            c->sync->stats.messages_out++;
            c->part++;
            c->part_off = end;
            if (rc == 0 && end == m->b.len)
                out_pop(c);
        }
        if (rc < 0) {
            sync_out_clear(c); /* closing */
            break;
        }
        sent = 1;
    }
    buf_release(&part);
    out_account(c);
    pump_link(c, c->out_head < c->out_n);
    /* The server writes what we handed over after this hook; if the socket takes it all, no
     * event would bring us back: come back next iteration. A socket that takes nothing (the
     * client does not read) makes no progress here and costs no wake-ups. */
    if (sent && c->pumping)
        loop_wake(c->sync->loop);
}

/* Queues a message for c, taking the buffer (b is left empty). */
void sync_send_msg(struct sync_conn *c, struct buf *b, int is_transition)
{
    if (!c || !c->ws) {
        buf_reset(b);
        return;
    }
    if (c->out_n == c->out_cap) {
        if (c->out_head > 0) {
            memmove(c->outq, c->outq + c->out_head, (c->out_n - c->out_head) * sizeof *c->outq);
            c->out_n -= c->out_head;
            c->out_head = 0;
        } else {
            c->out_cap = c->out_cap ? c->out_cap * 2 : 8;
            c->outq = vr_realloc(c->outq, c->out_cap * sizeof *c->outq);
        }
    }
    if (c->out_n > c->out_head)
        c->out_backlog += b->len;
    c->out_bytes += b->len;
    struct out_msg *m = &c->outq[c->out_n++];
    m->b = *b;
    m->is_transition = is_transition;
    buf_init(b, BUF_NOLIMIT);
    c->sent_since_ping = 1;
    if (c->out_backlog > c->sync->opts.max_send_queue) {
        log_info("sync", "conn=%llu close 1008 send queue full (%zu bytes queued)",
                 (unsigned long long)ws_id(c->ws), c->out_backlog + ws_queued_bytes(c->ws));
        sync_out_clear(c);
        ws_close(c->ws, WS_CLOSE_POLICY, "send queue full");
        return;
    }
    /* charged before the check, so that this message counts toward the budget */
    out_account(c);
    if (ws_over_budget(c->ws)) {
        /* the server is over its global buffer budget and this client is behind (its socket
         * is full and the kernel takes no more): it goes first, as with ws_send; a client that
         * keeps reading is not touched */
        ws_fail_overloaded(c->ws);
        sync_out_clear(c);
        return;
    }
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

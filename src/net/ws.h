/* ws: RFC 6455 WebSocket on a server connection: the upgrade handshake (§4.2), frame parsing
 * with the masking rule (§5.3: client frames must be masked), fragmentation (§5.4), control
 * frames and ping/pong (§5.5), the close handshake with codes (§7), UTF-8 validation of text
 * messages (§8.1), a message size limit and a per-connection send queue with a byte cap.
 *
 * The frame parser is a pure function over a byte range (fuzzed); the connection part lives on
 * top of server.h's connections. */
#ifndef VR_NET_WS_H
#define VR_NET_WS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "net/server.h"

/* Close codes (§7.4.1). */
#define WS_CLOSE_NORMAL 1000
#define WS_CLOSE_GOING_AWAY 1001
#define WS_CLOSE_PROTOCOL_ERROR 1002
#define WS_CLOSE_UNSUPPORTED 1003
#define WS_CLOSE_INVALID_DATA 1007
#define WS_CLOSE_POLICY 1008
#define WS_CLOSE_TOO_BIG 1009
#define WS_CLOSE_INTERNAL 1011
#define WS_CLOSE_TRY_AGAIN 1013

#define WS_OP_CONT 0x0
#define WS_OP_TEXT 0x1
#define WS_OP_BINARY 0x2
#define WS_OP_CLOSE 0x8
#define WS_OP_PING 0x9
#define WS_OP_PONG 0xA

struct ws_frame {
    int fin;
    int opcode;
    int masked;
    unsigned char mask[4];
    uint64_t payload_len;
    size_t header_len;
    const unsigned char *payload; /* points into the input; still masked */
};

/* Parses one frame header in (p, n). Returns the total frame length (header + payload) when the
 * whole frame is present, WS_PARTIAL if more bytes are needed (then f->header_len is nonzero
 * once the header itself is complete, so the caller can check payload_len against its limit),
 * or a negative WS_CLOSE_* code negated (e.g. -1002) for a protocol violation (reserved bits,
 * bad opcode, fragmented or oversized control frame, non-minimal length, 64-bit length with
 * the top bit set, unmasked client frame when require_mask). */
#define WS_PARTIAL 0
long ws_frame_parse(const unsigned char *p, size_t n, int require_mask, struct ws_frame *f);
void ws_unmask(unsigned char *p, size_t n, const unsigned char mask[4], size_t offset);
int ws_utf8_valid(const unsigned char *p, size_t n);
/* Is `code` a close code a peer may send (§7.4.1-2: 1000-1003, 1007-1014, 3000-4999)? */
int ws_close_code_valid(int code);
/* Appends a server (unmasked) frame header for a payload of n bytes. */
size_t ws_frame_header(unsigned char out[10], int opcode, int fin, uint64_t n);
/* Sec-WebSocket-Accept for a key (§4.2.2): base64(SHA-1(key + GUID)); out gets 28 chars + NUL. */
void ws_accept_key(const char *key, size_t len, char out[29]);

struct ws;

struct ws_handlers {
    void (*on_open)(struct ws *ws, void *arg);
    /* A complete message, unmasked; text messages are valid UTF-8. Borrowed for the call. */
    void (*on_message)(struct ws *ws, int is_text, const char *p, size_t n, void *arg);
    /* Called once when the connection is gone, for any reason (code 1006 if no close frame). */
    void (*on_close)(struct ws *ws, int code, const char *reason, void *arg);
};

/* Upgrades the connection of the current request. Validates the handshake (GET, HTTP/1.1,
 * Upgrade: websocket, Connection: upgrade, Sec-WebSocket-Version: 13, a 16-byte base64 key);
 * on failure answers 400 (or 426 with "Sec-WebSocket-Version: 13" for a wrong version) and
 * returns -1. On success the 101 is queued, the request's slices become invalid, on_open runs
 * from the loop's before-sleep hook, and bytes already read after the request are processed as
 * frames. `out` may be NULL. The ws is owned by the connection: the pointer stays valid until
 * on_close returns, longer only with ws_ref (then ws_send returns -1 once it is closed).
 *
 * on_close's code: the peer's close code (1005 if its close frame had none); the code we sent
 * when we failed the connection (1002 protocol, 1007 bad UTF-8, 1009 too big, 1008 send queue
 * full, 1001 idle timeout, 1013 over the server's buffer budget); 1006 when TCP went away without
 * a close frame (or no answer to our close within 3 s). on_close is never called from inside
 * another callback of the same ws.
 *
 * Keep-alive (server_config): a ping every ws_ping_interval_ms, close 1001 "idle timeout" once
 * nothing arrived for ws_idle_timeout_ms. Backpressure: while more than min(1 MiB, send cap) is
 * queued, no input is read (pongs included: a pong that would pass the cap is dropped). */
int ws_accept(struct conn *c, struct http_request *req, const struct ws_handlers *h, void *arg,
              struct ws **out);

/* Queues a message (written in the loop's before-sleep hook, so several sends to one socket in
 * one iteration cost one write). -1 if the connection is closing, or if the send queue would pass
 * its cap, in which case the queued data is dropped, the connection is closed with 1008
 * ("send queue full", best effort) and on_close follows. */
int ws_send(struct ws *ws, int is_text, const void *p, size_t n);
/* Queues a message with no cap check, for an owner that bounds its own backlog (sync's outbound
 * queue, which hands messages over at the client's pace and splits large transitions into
 * transitionChunk parts). The owner brings the global budget up to date after a run of these
 * (ws_set_held_bytes does); the flush does too. -1 if the connection is closing. */
int ws_send_more(struct ws *ws, int is_text, const void *p, size_t n);
/* Sends n messages in order, each made of n_parts byte ranges (borrowed for the call: nothing
 * refers to them after it returns), with no cap check (like ws_send_more). When nothing is
 * queued they are written at once with one writev per group of frames (no copy); what the
 * socket does not take is queued, in order, for EPOLLOUT. -1 if the connection is closing. */
struct iovec;
struct ws_msg {
    const struct iovec *parts;
    size_t n_parts;
};
int ws_send_msgs(struct ws *ws, int is_text, const struct ws_msg *msgs, size_t n);
/* Starts the close handshake: sends our close frame (code, reason up to 123 bytes), then waits
 * up to 3 s for the peer's before closing TCP. Data arriving meanwhile is dropped. */
void ws_close(struct ws *ws, int code, const char *reason);
/* Closes the connection with (code, reason) unless the deadline is cleared within ms (ms = 0
 * clears it; a new call replaces it). For protocols on top, e.g. "no `connect` within 10 s":
 * set it in the upgrade handler, clear it when the first message arrives. `reason` is kept by
 * pointer: a string literal, or one that outlives the deadline. */
void ws_set_deadline(struct ws *ws, uint32_t ms, int code, const char *reason);
/* The global buffer budget (--max-buffered-bytes) for an owner that queues output outside the
 * net layer (sync's outbound queue), so that what it holds counts like the socket's own queue:
 * ws_set_held_bytes charges the n bytes it holds for this connection now (replacing the last
 * figure; released when the connection goes). ws_over_budget: the server is over its budget
 * and this peer is behind (more than its high-water mark waits in the socket queue and the last
 * write could not take it all); then the owner should not queue more but call
 * ws_fail_overloaded, which drops the queued output and closes with 1013 "server over its
 * memory budget", as ws_send does (on_close follows). */
void ws_set_held_bytes(struct ws *ws, size_t n);
int ws_over_budget(const struct ws *ws);
void ws_fail_overloaded(struct ws *ws);
/* The peer's IP address, as conn_peer_addr (server.h) gives it. */
#define WS_ADDR_MAX CONN_ADDR_MAX
int ws_peer_addr(const struct ws *ws, char out[WS_ADDR_MAX]);
uint64_t ws_id(const struct ws *ws);
size_t ws_queued_bytes(const struct ws *ws);
void ws_set_arg(struct ws *ws, void *arg);
void ws_ref(struct ws *ws);
void ws_unref(struct ws *ws);

#endif

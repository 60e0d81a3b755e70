/* rpc_frame: the usual actor rpc frame read without building jansson values.
 *
 * `{"type":"rpc","id":7,"actor":"counter","actorId":"c1","method":"increment","input":{...}}` is
 * the message a client of /api/actors sends most; parsing it into a jansson object (an object, its
 * hash table, a pair and a string per field, freed again once the call has run) took ~7 % of the
 * server's time per call. rpc_frame_scan reads that shape only — those keys, in any order, each
 * once; the strings printable ASCII without escapes; the id a non-negative integer of at most 15
 * digits; the input a JSON value that json_parse_fast accepts with JSON_REJECT_DUPLICATES — and
 * says 0 for anything else, which the caller then parses with json_parse as before, so that
 * every error stays jansson's (tests/fuzz/fuzz_rpc_frame.c checks that jansson reads whatever it
 * accepts to the same fields). */
#ifndef VR_PROTO_RPC_FRAME_H
#define VR_PROTO_RPC_FRAME_H

#include <stddef.h>

struct rpc_span {
    const char *p; /* NULL: absent */
    size_t n;
};

struct rpc_frame {
    struct rpc_span id;     /* the digits */
    struct rpc_span actor, actor_id, method; /* the strings' bytes, without the quotes */
    struct rpc_span input;  /* the value's JSON text, or absent */
};

/* 1 and *f (pointing into p) when p[0..n) is such a frame, else 0. */
int rpc_frame_scan(const char *p, size_t n, struct rpc_frame *f);

#endif

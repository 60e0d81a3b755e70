/* actors: Zocket's wire protocol on /api/actors (actors.h; docs/actors.md "Protocol"). The C side
 * keeps who is connected to what: per connection the instances it touched (an rpc, an
 * event:sub or a state:sub; the first touch runs onConnect, the socket's close onDisconnect for
 * each), per instance its connections with their subscriptions. The JS side
 * (47_actors.js) keeps the instances' state and runs everything an app defines. An instance is
 * "hot" in the runtime that activated it: `gen` records the shard's load count at the time, so
 * that after a deploy (a new runtime) or a lost batch the next call hands the runtime the
 * instance's connection list again. Frames a call produces are shared (reference-counted)
 * between the connections they go to and held on each until the batch commits. A method that
 * awaits timers or fetch is a suspended call between its turns (struct asusp: the instance is
 * busy, its rpcs queue; "suspended calls" below), and its fetches run here on the loop. */
#include "proto/actors.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/hmap.h"
#include "base/json_parse.h"
#include "base/log.h"
#include "base/clock.h"
#include "base/mem.h"
#include "base/numfmt.h"
#include "base/rand.h"
#include "base/rate.h"
#include "net/fetch.h"
#include "net/ws.h"
#include "proto/auth_keys.h"
#include "proto/rpc_frame.h"
#include "base/banned.h"

#define SUB_STATE 1u
#define SUB_EVENT 2u
#define SUB_STALE 4u /* a state subscriber that fell behind: no patches until its snapshot */

#define CONN_ID_LEN 17 /* "c" + 16 hex digits */
#define IDLE_PER_TICK 256 /* idle instances deactivated per tick at most */
#define AUTH_MAX_HELD 64 /* messages kept while a token is verified */
#define AUTH_MAX_TOKEN (16u << 10)

struct frame {
    uint32_t refs;
    size_t len;
    char data[];
};

/* what becomes of a held frame when its batch is lost */
enum held_kind {
    HELD_PATCH,  /* dropped (and not sent to a subscriber too far behind) */
    HELD_OTHER,  /* dropped: an event or a snapshot (subscribers get a fresh snapshot) */
    HELD_RPC,    /* an rpc's result: replaced by an error */
    HELD_ANSWER, /* sent anyway: an rpc's error, which no commit decides */
};

struct held {
    struct frame *f;
    enum held_kind kind;
    struct ainst *inst; /* HELD_PATCH: whose patch (a slow subscriber's is dropped) */
    char *rid;          /* HELD_RPC: the rpc's id as JSON, to answer it if the batch is lost */
};

struct touch {
    struct ainst *inst;
};

struct aconn {
    struct actors *a;
    struct ws *ws;
    char id[CONN_ID_LEN + 1];
    struct touch *touch;
    size_t n_touch, cap_touch;
    struct held *held;
    size_t n_held, cap_held;
    int in_held_list;
    struct aconn *held_next;
    uint64_t stale_since; /* loop ms when a subscription of it went stale; 0: none is */
    double rate_tokens;
    uint64_t rate_ms;
    char *identity;        /* the verified identity's JSON (ctx.auth), or NULL: anonymous */
    double auth_exp;       /* its token's exp (ms since the epoch; 0: none) */
    int auth_waiting;      /* an `auth` message's token is being verified */
    uint64_t auth_wait;
    json_t **waiting;      /* messages that arrived meanwhile, run in order after it */
    size_t n_waiting;
    struct aconn *prev, *next;
};

struct sub {
    struct aconn *c;
    unsigned flags;
};

/* A suspended call: a method waiting for a timer between its turns (47_actors.js
 * "suspended calls"); its instance is busy until it ends. */
struct asusp {
    struct actors *a;
    uint32_t sid;
    struct ainst *in;
    struct aconn *c;   /* the caller; NULL: a timer's call, or the caller closed */
    char *rid;         /* the rpc's id as JSON (NULL: none) */
    char *method;
    int gen;           /* an async generator: canceled when its caller goes */
    int canceled;      /* rpc:cancel'd */
    uint64_t deadline; /* loop ms of the wall-clock limit */
    struct timer wake;
    struct asusp *prev, *next;
};

/* an rpc waiting for a busy instance */
struct queued {
    struct aconn *c;
    json_t *msg;
};

struct ainst {
    char *key; /* name "\0" id */
    size_t key_len;
    const char *name, *id;
    struct sub *subs;
    size_t n_subs, cap_subs;
    size_t n_watching; /* subs that get its state patches now (sub_watching) */
    uint64_t gen;     /* shard->loads when the runtime activated it; 0: not hot */
    uint64_t last_ms; /* last call */
    struct asusp *busy; /* its suspended call, or NULL */
    struct queued *queue; /* rpcs that arrived while it was busy, in order */
    size_t n_queue, cap_queue;
};

/* An rpc ready to run (its method named, its instance touched by the caller) that waits for
 * run_pending, in arrival order. */
struct pend {
    struct aconn *c;
    struct ainst *in;
    json_t *msg;  /* NULL: read by rpc_frame_scan (text, method, input) */
    char *rid;
    uint32_t sid;
    char *text;   /* the frame, when msg is NULL */
    struct rpc_span method, input; /* in text */
};

struct actors {
    struct loop *loop;
    struct shard *shard;
    struct actors_options o;
    struct hmap insts;
    struct aconn *conns;
    struct aconn *held_head;
    struct timer tick;
    int stopping;
    struct actors_stats stats;
    struct asusp *susps;
    uint32_t next_sid;
    uint32_t cur_sid;    /* the call whose op runs (its fetches belong to it); 0: none */
    struct fetch_client *fc; /* actor methods' fetches, made on first use */
    struct afetch *fetches;
    unsigned n_fetches;  /* in flight */
    struct js_runtime *host_rt; /* the runtime actor_host was given to */
    struct aout *outs;          /* what the running operation sends (host_out), in order */
    size_t n_outs, cap_outs;
    struct pend *pend;          /* rpcs waiting for run_pending */
    size_t n_pend, cap_pend;
    struct pend *batch;         /* the batch running (run_batch), NULL: none */
    size_t n_batch, batch_ended; /* its calls, those that ended (host_end) */
};

/* A frame an operation sent (js_actor_host.out), held until deliver() or dropped when the
 * operation fails. */
struct aout {
    struct frame *f; /* our reference */
    char *key;       /* the instance's: name "\0" id */
    size_t key_len;
    json_t *lists;   /* an event's [to, except] (arrays of connection ids or null), or NULL */
    int event;
};

/* ---- frames ---- */

static struct frame *frame_new(const char *p, size_t n)
{
    struct frame *f = vr_malloc(sizeof *f + n + 1);
    f->refs = 0;
    f->len = n;
    memcpy(f->data, p, n);
    f->data[n] = '\0';
    return f;
}

static void frame_unref(struct frame *f)
{
    if (f && --f->refs == 0)
        vr_free(f);
}

/* drops the frames an operation sent (struct aout) */
static void outs_clear(struct actors *a)
{
    for (size_t i = 0; i < a->n_outs; i++) {
        frame_unref(a->outs[i].f);
        vr_free(a->outs[i].key);
        json_decref(a->outs[i].lists);
    }
    a->n_outs = 0;
}

/* The socket calls, for a connection that may have none (the fuzzer's): 0/-1 as ws_send. */
static int out_send(struct aconn *c, const char *p, size_t n)
{
    if (!c->ws || ws_send(c->ws, 1, p, n) < 0)
        return -1;
    c->a->stats.messages_out++;
    return 0;
}

static size_t out_queued(const struct aconn *c)
{
    return c->ws ? ws_queued_bytes(c->ws) : 0;
}

static void out_close(struct aconn *c, int code, const char *reason)
{
    if (c->ws)
        out_close(c, code, reason);
}

static void hold(struct aconn *c, struct frame *f, enum held_kind kind, struct ainst *inst,
                 const char *rid)
{
    if (c->n_held == c->cap_held) {
        c->cap_held = c->cap_held ? 2 * c->cap_held : 8;
        c->held = vr_realloc(c->held, c->cap_held * sizeof *c->held);
    }
    f->refs++;
    c->held[c->n_held++] = (struct held){ f, kind, inst, rid ? vr_strdup(rid) : NULL };
    if (!c->in_held_list) {
        c->in_held_list = 1;
        c->held_next = c->a->held_head;
        c->a->held_head = c;
    }
}

static void hold_text(struct aconn *c, const char *p, size_t n, enum held_kind kind,
                      const char *rid)
{
    struct frame *f = frame_new(p, n);
    hold(c, f, kind, NULL, rid);
}

/* {"type":"error","code":...,"message":...} right away: it reports on the message itself, not
 * on anything a batch decides. */
static void send_error(struct aconn *c, const char *code, const char *msg)
{
    json_t *j = json_pack("{s:s, s:s, s:s}", "type", "error", "code", code, "message", msg);
    char *t = j ? json_dumps(j, JSON_COMPACT) : NULL;
    if (t)
        out_send(c, t, strlen(t));
    free(t);
    json_decref(j);
}

/* An rpc:result with an error; held like any answer (it follows what the batch decides). */
static void rpc_error(struct aconn *c, const char *rid, const char *msg, int now)
{
    json_t *m = json_string(msg);
    if (!m)
        m = json_string("(error message is not UTF-8)");
    char *mt = json_dumps(m, JSON_ENCODE_ANY);
    json_decref(m);
    struct buf b = BUF_INIT(BUF_NOLIMIT);
    buf_appendf(&b, "{\"type\":\"rpc:result\",\"id\":%s,\"error\":%s}", rid, mt ? mt : "\"\"");
    free(mt);
    if (now) {
        out_send(c, b.data, b.len);
    } else {
        hold_text(c, b.data, b.len, HELD_ANSWER, NULL);
    }
    buf_release(&b);
}

/* ---- instances and subscriptions ---- */

static struct ainst *inst_get(struct actors *a, const char *name, const char *id, int create)
{
    size_t nl = strlen(name), il = strlen(id);
    char stack[256];
    char *key = nl + il + 1 <= sizeof stack ? stack : vr_malloc(nl + il + 1);
    memcpy(key, name, nl);
    key[nl] = '\0';
    memcpy(key + nl + 1, id, il);
    struct ainst *in = hmap_get(&a->insts, key, nl + il + 1);
    if (!in && create) {
        in = vr_calloc(1, sizeof *in);
        in->key_len = nl + il + 1;
        in->key = vr_malloc(in->key_len + 1);
        memcpy(in->key, key, in->key_len);
        in->key[in->key_len] = '\0';
        in->name = in->key;
        in->id = in->key + nl + 1;
        in->last_ms = loop_now_ms(a->loop);
        hmap_put(&a->insts, in->key, in->key_len, in);
        a->stats.instances++;
    }
    if (key != stack)
        vr_free(key);
    return in;
}

/* 1 (with the message in m) when a client's message may not bring one more instance into
 * memory: --max-actor-instances are there. The idle tick makes room meanwhile (tick). */
static int instances_full(const struct actors *a, char *m, size_t cap)
{
    if (a->stats.instances < a->o.max_instances)
        return 0;
    snprintf(m, cap,
             "TooManyActorInstances: %zu actor instances are in memory on this server "
             "(--max-actor-instances), the limit; retry later",
             a->o.max_instances);
    return 1;
}

static void inst_free(struct actors *a, struct ainst *in)
{
    if (in->busy || in->n_queue)
        return; /* it ends when its call does */
    hmap_del(&a->insts, in->key, in->key_len);
    a->stats.instances--;
    vr_free(in->queue);
    vr_free(in->subs);
    vr_free(in->key);
    vr_free(in);
}

static struct sub *sub_find(struct ainst *in, const struct aconn *c)
{
    for (size_t i = 0; i < in->n_subs; i++)
        if (in->subs[i].c == c)
            return &in->subs[i];
    return NULL;
}

/* Whether a subscription with these flags gets its instance's state patches now (deliver). */
static int sub_watching(unsigned flags)
{
    return (flags & SUB_STATE) && !(flags & SUB_STALE);
}

/* Every change of a subscription's flags goes through here, so that n_watching stays exact. */
static void sub_set_flags(struct ainst *in, struct sub *s, unsigned flags)
{
    in->n_watching = in->n_watching - (size_t)sub_watching(s->flags) + (size_t)sub_watching(flags);
    s->flags = flags;
}

/* Whether a connection gets in's state patches now: otherwise the runtime builds none for a
 * call to it (op `rpc`'s and `rpcs`' "q"). Counted, not searched: it is asked per rpc. */
static int inst_watched(const struct ainst *in)
{
    return in->n_watching > 0;
}

/* Whether c has touched in: searched on the connection's side, most recent first (a connection
 * touches few instances, an instance may have many connections; asked per rpc). */
static int conn_touched(const struct aconn *c, const struct ainst *in)
{
    for (size_t i = c->n_touch; i-- > 0;)
        if (c->touch[i].inst == in)
            return 1;
    return 0;
}

static int inst_hot(const struct actors *a, const struct ainst *in)
{
    return in->gen && in->gen == a->shard->loads;
}

/* ---- calls ---- */

/* Runs one operation; on success *out is the call's {r, o} (a new reference). On failure the
 * message is in res->error (Zocket's texts for the app's errors). */
/* Instances a call activated besides its own (another actor's call, a timer's): the server
 * tracks them as hot, so that the idle tick deactivates them too. */
static void track_activated(struct actors *a, const json_t *keys)
{
    size_t i;
    json_t *k;
    json_array_foreach(keys, i, k)
    {
        const char *key = json_string_value(k);
        size_t len = json_string_length(k);
        const char *nul = key ? memchr(key, '\0', len) : NULL;
        if (!nul)
            continue;
        a->stats.activations++;
        struct ainst *in = hmap_get(&a->insts, key, len);
        if (!in) {
            char *name = vr_strndup(key, (size_t)(nul - key));
            char *id = vr_strndup(nul + 1, len - (size_t)(nul - key) - 1);
            in = inst_get(a, name, id, 1);
            vr_free(name);
            vr_free(id);
        }
        in->gen = a->shard->loads;
        in->last_ms = loop_now_ms(a->loop);
    }
}

/* The operation's arguments as JSON text: a flat object of strings, non-negative integers,
 * booleans and arrays of strings (what the server passes) written directly; anything else
 * through jansson.
 * jansson's json_dumps took a tenth of the loop thread's time per actor call. */
static char *op_text(const json_t *args, size_t *len)
{
    struct buf b = BUF_INIT(BUF_NOLIMIT);
    const char *k;
    size_t klen;
    json_t *v;
    int ok = 1;
    buf_append_byte(&b, '{');
    json_object_keylen_foreach((json_t *)args, k, klen, v)
    {
        if (b.len > 1)
            buf_append_byte(&b, ',');
        buf_append_json_str(&b, k, klen);
        buf_append_byte(&b, ':');
        if (json_is_string(v)) {
            buf_append_json_str(&b, json_string_value(v), json_string_length(v));
        } else if (json_is_integer(v) && json_integer_value(v) >= 0) {
            char d[24];
            buf_append(&b, d, numfmt_u64((uint64_t)json_integer_value(v), d));
        } else if (json_is_boolean(v)) {
            buf_append_str(&b, json_is_true(v) ? "true" : "false");
        } else if (json_is_array(v)) {
            size_t i;
            json_t *e;
            buf_append_byte(&b, '[');
            json_array_foreach(v, i, e)
            {
                if (!json_is_string(e)) {
                    ok = 0;
                    break;
                }
                if (i)
                    buf_append_byte(&b, ',');
                buf_append_json_str(&b, json_string_value(e), json_string_length(e));
            }
            buf_append_byte(&b, ']');
        } else {
            ok = 0;
        }
        if (!ok)
            break;
    }
    buf_append_byte(&b, '}');
    if (!ok) {
        buf_release(&b);
        char *t = json_dumps(args, JSON_COMPACT);
        if (t)
            *len = strlen(t);
        return t;
    }
    *len = b.len;
    return buf_detach(&b, NULL);
}

static const struct js_actor_host actor_host;
static void run_pending(struct actors *a);
static int run_op_ex(struct actors *a, struct ainst *in, json_t *args,
                     const struct js_call_opts *extra, struct js_result *res, json_t **out)
{
    *out = NULL;
    run_pending(a); /* the rpcs that arrived before this operation run before it */
    const struct js_function *fn =
        a->shard->rt ? js_runtime_find(a->shard->rt, JS_ACTORS_RUN_PATH) : NULL;
    if (!fn) {
        res->status = JS_ERR_INTERNAL;
        buf_reset(&res->error);
        buf_append_str(&res->error, "no app is loaded");
        return -1;
    }
    if (in)
        json_object_set_new(args, "a", json_string(in->name));
    if (in)
        json_object_set_new(args, "i", json_string(in->id));
    if (in && !inst_hot(a, in)) { /* the runtime learns who is connected to it */
        json_t *cs = json_array();
        for (size_t i = 0; i < in->n_subs; i++)
            json_array_append_new(cs, json_string(in->subs[i].c->id));
        json_object_set_new(args, "cs", cs);
    }
    if (a->host_rt != a->shard->rt) { /* a new runtime (a deploy): its fetches come here */
        js_runtime_set_actor_host(a->shard->rt, &actor_host, a);
        a->host_rt = a->shard->rt;
    }
    outs_clear(a); /* an earlier operation's that nobody delivered */
    size_t text_len = 0;
    char *text = op_text(args, &text_len);
    struct js_call_opts o = { .args_value = args };
    if (extra) {
        o.sched_job = extra->sched_job;
        o.identity = extra->identity;
    }
    a->stats.calls++;
    if (in)
        in->last_ms = loop_now_ms(a->loop);
    int rc = shard_call(a->shard, fn, text, text_len, &o, res);
    free(text); /* buf_detach's, or jansson's (vr_malloc: cli/main.c) */
    if (rc < 0) {
        outs_clear(a); /* it rolled back: it sent nothing */
        return -1;
    }
    if (in)
        in->gen = a->shard->loads;
    json_error_t jerr;
    *out = json_parse(res->value.data, res->value.len, JSON_ALLOW_NUL, &jerr);
    if (!json_is_object(*out)) {
        json_decref(*out);
        *out = NULL;
        res->status = JS_ERR_INTERNAL;
        buf_reset(&res->error);
        buf_append_str(&res->error, "malformed answer from the actor runtime");
        outs_clear(a);
        return -1;
    }
    track_activated(a, json_object_get(*out, "act"));
    return 0;
}

static int run_op(struct actors *a, struct ainst *in, json_t *args, struct js_result *res,
                  json_t **out)
{
    return run_op_ex(a, in, args, NULL, res, out);
}

/* run_op for a connection's message: the call runs with the connection's identity (dropped,
 * with an AuthExpired error frame, once its token's exp has passed). */
static void send_error(struct aconn *c, const char *code, const char *msg);
/* c's identity for a call that runs now: dropped, with an AuthExpired error frame, once its
 * token's exp has passed. */
static const char *conn_identity(struct aconn *c)
{
    if (c->identity && c->auth_exp > 0 &&
        clock_wall_ms() >= c->auth_exp + shard_auth_skew_ms(c->a->shard)) {
        vr_free(c->identity);
        c->identity = NULL;
        send_error(c, "AuthExpired", "the token has expired: this connection is anonymous "
                   "until it sends a fresh one ({\"type\":\"auth\",\"token\":...})");
    }
    return c->identity;
}

static int conn_op(struct aconn *c, struct ainst *in, json_t *args, struct js_result *res,
                   json_t **out)
{
    struct js_call_opts o = { .identity = conn_identity(c) };
    return run_op_ex(c->a, in, args, &o, res, out);
}

static int in_list(const json_t *list, const char *id)
{
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v)
    {
        if (json_is_string(v) && !strcmp(json_string_value(v), id))
            return 1;
    }
    return 0;
}

/* js_actor_host.out: the frames arrive during the operation, as it finishes */
static void host_out(void *arg, int event, const char *key, size_t key_len, const char *text,
                     size_t len, const char *lists, size_t lists_len)
{
    struct actors *a = arg;
    if (a->n_outs == a->cap_outs) {
        a->cap_outs = a->cap_outs ? 2 * a->cap_outs : 8;
        a->outs = vr_realloc(a->outs, a->cap_outs * sizeof *a->outs);
    }
    struct aout *o = &a->outs[a->n_outs++];
    o->f = frame_new(text, len);
    o->f->refs = 1;
    o->key = vr_malloc(key_len + 1);
    memcpy(o->key, key, key_len);
    o->key[key_len] = '\0';
    o->key_len = key_len;
    o->lists = lists ? json_parse(lists, lists_len, 0, NULL) : NULL;
    o->event = event;
}

/* Holds the running operation's patches and events (host_out) on their subscribers, in the
 * operation's order. */
static void deliver(struct actors *a)
{
    for (size_t i = 0; i < a->n_outs; i++) {
        struct aout *m = &a->outs[i];
        struct ainst *in = hmap_get(&a->insts, m->key, m->key_len);
        if (!in)
            continue;
        struct frame *f = m->f;
        json_t *to = json_array_get(m->lists, 0), *except = json_array_get(m->lists, 1);
        for (size_t k = 0; k < in->n_subs; k++) {
            struct sub *s = &in->subs[k];
            if (!m->event) {
                if ((s->flags & SUB_STATE) && !(s->flags & SUB_STALE))
                    hold(s->c, f, HELD_PATCH, in, NULL);
            } else if (s->flags & SUB_EVENT) {
                if (json_is_array(to) && !in_list(to, s->c->id))
                    continue;
                if (json_is_array(except) && in_list(except, s->c->id))
                    continue;
                hold(s->c, f, HELD_OTHER, NULL, NULL);
            }
        }
    }
    outs_clear(a);
}

/* A hook-only operation (disconnect, deactivate, forget: no answer to anyone) on instance in
 * (NULL: none), for connection c (NULL: none); what it sends is delivered, a failure logged.
 * 0, or -1 when it failed. */
static int run_hook(struct actors *a, struct ainst *in, struct aconn *c, const char *op,
                    const char *hook)
{
    json_t *args = json_pack("{s:s}", "op", op);
    if (c)
        json_object_set_new(args, "c", json_string(c->id));
    struct js_result res;
    js_result_init(&res);
    json_t *out = NULL;
    int rc = c ? conn_op(c, in, args, &res, &out) : run_op(a, in, args, &res, &out);
    if (rc == 0)
        deliver(a);
    else if (in)
        log_warn("actors", "actor %s/%s: %s failed: %s", in->name, in->id, hook, res.error.data);
    else
        log_warn("actors", "%s failed: %s", hook, res.error.data);
    json_decref(out);
    json_decref(args);
    js_result_release(&res);
    return rc;
}

/* The connection's first touch of the instance: it becomes one of its connections (with
 * `flags`: a state:sub's subscriber sees the patch of its own onConnect) and the app's onConnect
 * runs. 0, or -1 with the message in err (an unknown actor). */
/* 1 (with the message in err) when c may not touch one more instance and in is not one it
 * touched: checked before anything activates in. */
static int touch_refused(struct aconn *c, struct ainst *in, struct buf *err)
{
    if (conn_touched(c, in) || sub_find(in, c) || c->n_touch < c->a->o.max_instances_per_conn)
        return 0;
    buf_appendf(err, "this connection has touched %zu actor instances, the limit", c->n_touch);
    return 1;
}

static int touch(struct aconn *c, struct ainst *in, unsigned flags, struct buf *err)
{
    if (conn_touched(c, in) || sub_find(in, c)) /* the second: during its own onConnect */
        return 0;
    if (touch_refused(c, in, err))
        return -1;
    json_t *args = json_pack("{s:s, s:s}", "op", "connect", "c", c->id);
    struct js_result res;
    js_result_init(&res);
    json_t *out = NULL;
    /* listed first, so that a cold instance's runtime copy knows it too */
    if (in->n_subs == in->cap_subs) {
        in->cap_subs = in->cap_subs ? 2 * in->cap_subs : 4;
        in->subs = vr_realloc(in->subs, in->cap_subs * sizeof *in->subs);
    }
    in->subs[in->n_subs++] = (struct sub){ c, 0 };
    sub_set_flags(in, &in->subs[in->n_subs - 1], flags);
    int rc = conn_op(c, in, args, &res, &out);
    if (rc < 0) {
        struct sub *s = sub_find(in, c); /* where it is now: onConnect may have added others */
        if (s) {
            sub_set_flags(in, s, 0);
            *s = in->subs[--in->n_subs];
        }
        buf_append(err, res.error.data, res.error.len);
    } else {
        if (c->n_touch == c->cap_touch) {
            c->cap_touch = c->cap_touch ? 2 * c->cap_touch : 4;
            c->touch = vr_realloc(c->touch, c->cap_touch * sizeof *c->touch);
        }
        c->touch[c->n_touch++] = (struct touch){ in };
        deliver(c->a);
    }
    json_decref(out);
    json_decref(args);
    js_result_release(&res);
    return rc;
}

static void untouch(struct aconn *c, struct ainst *in)
{
    for (size_t i = 0; i < in->n_subs; i++) {
        if (in->subs[i].c == c) {
            sub_set_flags(in, &in->subs[i], 0);
            in->subs[i] = in->subs[--in->n_subs];
            break;
        }
    }
    for (size_t i = 0; i < c->n_touch; i++) {
        if (c->touch[i].inst == in) {
            c->touch[i] = c->touch[--c->n_touch];
            break;
        }
    }
}

/* Holds a fresh state:snapshot of the instance for c. 0, or -1 with err. */
static int snapshot(struct aconn *c, struct ainst *in, struct buf *err)
{
    json_t *args = json_pack("{s:s, s:s}", "op", "snapshot", "c", c->id);
    struct js_result res;
    js_result_init(&res);
    json_t *out = NULL;
    int rc = conn_op(c, in, args, &res, &out);
    if (rc < 0) {
        buf_append(err, res.error.data, res.error.len);
    } else {
        deliver(c->a); /* an onActivate's patch, for the others */
        json_t *nm = json_string(in->name), *idv = json_string(in->id);
        char *n = json_dumps(nm, JSON_ENCODE_ANY), *i = json_dumps(idv, JSON_ENCODE_ANY);
        const char *st = json_string_value(json_object_get(out, "r"));
        struct buf b = BUF_INIT(BUF_NOLIMIT);
        buf_appendf(&b, "{\"type\":\"state:snapshot\",\"actor\":%s,\"actorId\":%s,\"state\":%s}", n,
                    i, st ? st : "null");
        hold_text(c, b.data, b.len, HELD_OTHER, NULL);
        buf_release(&b);
        free(n);
        free(i);
        json_decref(nm);
        json_decref(idv);
    }
    json_decref(out);
    json_decref(args);
    js_result_release(&res);
    return rc;
}

/* ---- fetch in actor methods: libcurl on the shard's loop (net/fetch.h) ----
 * native.opStart of a fetch during an actor op comes here (js_actor_host) for the call whose
 * op runs (a->cur_sid); its answer is kept until the call's next turn reads it (op "resume"
 * with f: [tokens], native.opTake). */

struct afetch {
    struct actors *a;
    uint32_t token, sid;
    uint64_t id;
    int done, ok;
    char *strs[5];
    size_t nstrs;
    char *body;
    size_t body_len;
    struct afetch *next;
};

static void afetch_free(struct actors *a, struct afetch *f)
{
    struct afetch **pp = &a->fetches;
    while (*pp && *pp != f)
        pp = &(*pp)->next;
    if (*pp)
        *pp = f->next;
    if (!f->done) {
        fetch_cancel(a->fc, f->id);
        a->n_fetches--;
    }
    for (size_t i = 0; i < f->nstrs; i++)
        vr_free(f->strs[i]);
    vr_free(f->body);
    vr_free(f);
}

static struct afetch *afetch_find(struct actors *a, uint32_t token)
{
    for (struct afetch *f = a->fetches; f; f = f->next)
        if (f->token == token)
            return f;
    return NULL;
}

static void susp_resume(struct asusp *s, int cancel);

static void on_actor_fetch(void *arg, const struct fetch_resp *r)
{
    struct afetch *f = arg;
    struct actors *a = f->a;
    f->done = 1;
    a->n_fetches--;
    f->ok = r->ok;
    char status[16];
    snprintf(status, sizeof status, "%ld", r->status);
    if (r->ok) {
        const char *s[5] = { status, r->status_text, r->headers_json, r->url,
                             r->redirected ? "1" : "0" };
        for (int i = 0; i < 5; i++)
            f->strs[i] = vr_strdup(s[i] ? s[i] : "");
        f->nstrs = 5;
        f->body = vr_malloc(r->body_len ? r->body_len : 1);
        if (r->body_len)
            memcpy(f->body, r->body, r->body_len);
        f->body_len = r->body_len;
    } else {
        f->strs[0] = vr_strdup(r->err_msg ? r->err_msg : "fetch failed");
        f->strs[1] = vr_strdup(r->err_code ? r->err_code : "");
        f->nstrs = 2;
    }
    struct asusp *s = a->susps;
    while (s && s->sid != f->sid)
        s = s->next;
    if (!s) { /* its call ended */
        afetch_free(a, f);
        return;
    }
    if (!a->stopping && a->shard->rt)
        susp_resume(s, 0);
}

static int host_fetch(void *arg, uint32_t token, const struct js_op *op, struct buf *err)
{
    struct actors *a = arg;
    if (!a->cur_sid) {
        buf_append_str(err, "ERR_FETCH|fetch() in an actor works only in a method called by a "
                            "client or a timer");
        return -1;
    }
    if (a->n_fetches >= a->o.max_fetches) {
        buf_appendf(err, "ERR_FETCH_TOO_MANY|too many fetches in flight in actor methods (at "
                    "most %u, the server's --max-concurrent-fetches)", a->o.max_fetches);
        return -1;
    }
    if (!a->fc && !(a->fc = fetch_client_new(a->loop))) {
        buf_append_str(err, "ERR_FETCH|cannot start an HTTP client");
        return -1;
    }
    /* "Name: value" lines from the JSON [[name, value], ...] the prelude sends */
    json_t *hj = json_loads(op->headers ? op->headers : "[]", 0, NULL);
    size_t nh = json_array_size(hj);
    char **lines = vr_calloc(nh + 1, sizeof *lines);
    size_t n = 0;
    for (size_t i = 0; i < nh; i++) {
        json_t *pair = json_array_get(hj, i);
        const char *k = json_string_value(json_array_get(pair, 0));
        const char *v = json_string_value(json_array_get(pair, 1));
        if (!k || !v)
            continue;
        size_t l = strlen(k) + strlen(v) + 3;
        lines[n] = vr_malloc(l);
        snprintf(lines[n++], l, "%s: %s", k, v);
    }
    json_decref(hj);
    struct fetch_req r = { .method = op->method, .url = op->url,
                           .headers = (const char *const *)lines, .nheaders = n,
                           .body = op->body, .body_len = op->body_len, .redirect = op->redirect,
                           .timeout_ms = op->timeout_ms ? op->timeout_ms : a->o.fetch_timeout_ms,
                           .max_response = a->o.fetch_max_response };
    struct afetch *f = vr_calloc(1, sizeof *f);
    f->a = a;
    f->token = token;
    f->sid = a->cur_sid;
    struct buf ferr = BUF_INIT(1024);
    int rc = fetch_start(a->fc, &r, on_actor_fetch, f, &f->id, &ferr);
    for (size_t i = 0; i < n; i++)
        vr_free(lines[i]);
    vr_free(lines);
    if (rc < 0) {
        buf_appendf(err, "ERR_FETCH|%s", ferr.data ? ferr.data : "cannot start the request");
        buf_release(&ferr);
        vr_free(f);
        return -1;
    }
    buf_release(&ferr);
    a->n_fetches++;
    f->next = a->fetches;
    a->fetches = f;
    return 0;
}

static void host_cancel(void *arg, uint32_t token)
{
    struct actors *a = arg;
    struct afetch *f = afetch_find(a, token);
    if (f)
        afetch_free(a, f);
}

static int host_take(void *arg, uint32_t token, int *ok, const char *const **strs, size_t *nstrs,
                     const void **body, size_t *body_len)
{
    struct actors *a = arg;
    struct afetch *f = afetch_find(a, token);
    if (!f || !f->done)
        return -1;
    *ok = f->ok;
    *strs = (const char *const *)f->strs;
    *nstrs = f->nstrs;
    *body = f->body;
    *body_len = f->body_len;
    return 0;
}

static void host_end(void *arg, uint32_t k, int status, const char *text, size_t len,
                     const char *code, const char *act, size_t act_len);
static const struct js_actor_host actor_host = { host_fetch, host_cancel, host_take,
                                                  host_out, host_end };

/* The answered fetches of call sid as a JSON array of tokens (NULL: none). */
static json_t *fetches_done(struct actors *a, uint32_t sid)
{
    json_t *list = NULL;
    for (struct afetch *f = a->fetches; f; f = f->next) {
        if (f->sid != sid || !f->done)
            continue;
        if (!list)
            list = json_array();
        json_array_append_new(list, json_integer(f->token));
    }
    return list;
}

/* Drops the answers a turn read (tokens), or every fetch of call sid (tokens NULL). */
static void fetches_drop(struct actors *a, uint32_t sid, json_t *tokens)
{
    for (struct afetch *f = a->fetches, *next; f; f = next) {
        next = f->next;
        if (f->sid != sid)
            continue;
        int hit = !tokens;
        size_t i;
        json_t *t;
        json_array_foreach(tokens, i, t)
        {
            if ((uint32_t)json_integer_value(t) == f->token)
                hit = 1;
        }
        if (hit)
            afetch_free(a, f);
    }
}

/* ---- suspended calls (47_actors.js "suspended calls"; docs/actors.md "Methods that wait") ----
 * An rpc or timer op whose method is still waiting when its turn ends answers with "s": {sid,
 * wake, g}. The instance is then busy: its later rpcs queue here, in order (at most max_queued),
 * and the call is continued by op "resume" when its next timer is due (or canceled, or its
 * caller closed), each turn a transaction of its own, until an op answers without "s". */

static void susp_wake(struct loop *l, struct timer *t);
static void susp_resume(struct asusp *s, int cancel);
static void handle_rpc(struct aconn *c, json_t *msg, struct ainst *in, const char *rid);

static uint32_t susp_next_sid(struct actors *a)
{
    if (++a->next_sid == 0)
        a->next_sid = 1;
    return a->next_sid;
}

/* The rpc:stream frames of an op's yielded chunks, held for the caller. */
static void hold_chunks(struct aconn *c, const char *rid, json_t *out)
{
    json_t *ch = json_object_get(out, "ch");
    if (!c || !rid || !json_is_array(ch))
        return;
    size_t i;
    json_t *v;
    json_array_foreach(ch, i, v)
    {
        const char *t = json_string_value(v);
        if (!t)
            continue;
        struct buf b = BUF_INIT(BUF_NOLIMIT);
        buf_append_str(&b, "{\"type\":\"rpc:stream\",\"id\":");
        buf_append_str(&b, rid);
        buf_append_str(&b, ",\"chunk\":");
        buf_append(&b, t, json_string_length(v));
        buf_append_byte(&b, '}');
        hold_text(c, b.data, b.len, HELD_OTHER, NULL);
        buf_release(&b);
    }
}

/* The rpc:result with result r (its JSON text, len bytes; NULL: none). */
static void hold_result_text(struct aconn *c, const char *rid, const char *r, size_t len)
{
    struct buf b = BUF_INIT(BUF_NOLIMIT);
    buf_append_str(&b, "{\"type\":\"rpc:result\",\"id\":");
    buf_append_str(&b, rid);
    if (r) {
        buf_append_str(&b, ",\"result\":");
        buf_append(&b, r, len);
    }
    buf_append_byte(&b, '}');
    hold_text(c, b.data, b.len, HELD_RPC, rid);
    buf_release(&b);
}

/* The rpc:result of an op that ended a call (a canceled generator's: an error). */
static void hold_result(struct aconn *c, const char *rid, json_t *out)
{
    if (!c || !rid)
        return;
    if (json_object_get(out, "x")) {
        rpc_error(c, rid, "Canceled: the call was canceled; the turns it ran are kept", 0);
        return;
    }
    json_t *r = json_object_get(out, "r");
    hold_result_text(c, rid, json_string_value(r), json_string_length(r));
}

static void susp_arm(struct asusp *s, json_t *so)
{
    struct actors *a = s->a;
    json_t *w = json_object_get(so, "wake");
    double wake = json_is_number(w) ? json_number_value(w) : 0;
    uint64_t now = loop_now_ms(a->loop);
    uint64_t left = s->deadline > now ? s->deadline - now : 0;
    uint64_t d = wake < 0 ? left : (uint64_t)wake < left ? (uint64_t)wake : left;
    loop_timer_start(a->loop, &s->wake, d);
}

static void susp_start(struct actors *a, struct ainst *in, struct aconn *c, const char *rid,
                       const char *method, json_t *so)
{
    struct asusp *s = vr_calloc(1, sizeof *s);
    s->a = a;
    s->sid = (uint32_t)json_integer_value(json_object_get(so, "sid"));
    s->in = in;
    s->c = c;
    s->rid = rid ? vr_strdup(rid) : NULL;
    s->method = vr_strdup(method ? method : "?");
    s->gen = json_integer_value(json_object_get(so, "g")) != 0;
    s->deadline = loop_now_ms(a->loop) + a->o.method_timeout_ms;
    timer_init(&s->wake, susp_wake, s);
    s->next = a->susps;
    if (a->susps)
        a->susps->prev = s;
    a->susps = s;
    in->busy = s;
    a->stats.suspended++;
    susp_arm(s, so);
}

static void susp_free(struct asusp *s)
{
    struct actors *a = s->a;
    loop_timer_stop(a->loop, &s->wake);
    if (s->prev)
        s->prev->next = s->next;
    else
        a->susps = s->next;
    if (s->next)
        s->next->prev = s->prev;
    if (s->in->busy == s)
        s->in->busy = NULL;
    fetches_drop(a, s->sid, NULL);
    a->stats.suspended--;
    vr_free(s->rid);
    vr_free(s->method);
    vr_free(s);
}

/* The runtime forgets call sid (op "end"): what it held goes to the subscribers. */
static void susp_end_op(struct actors *a, struct ainst *in, uint32_t sid)
{
    if (!a->shard->rt)
        return;
    json_t *args = json_pack("{s:s, s:I}", "op", "end", "sid", (json_int_t)sid);
    struct js_result res;
    js_result_init(&res);
    json_t *out = NULL;
    if (run_op(a, in, args, &res, &out) == 0)
        deliver(a);
    json_decref(out);
    json_decref(args);
    js_result_release(&res);
}

/* Runs the rpcs that waited for in, in order, until one suspends it again. */
static void drain_queue(struct actors *a, struct ainst *in)
{
    while (!in->busy && in->n_queue > 0) {
        struct queued q = in->queue[0];
        memmove(in->queue, in->queue + 1, --in->n_queue * sizeof *in->queue);
        json_t *jid = json_object_get(q.msg, "id");
        char *rid = json_dumps(jid, JSON_ENCODE_ANY | JSON_COMPACT);
        if (rid) {
            if (a->stopping)
                rpc_error(q.c, rid, "ServerShuttingDown: the server is shutting down", 0);
            else
                handle_rpc(q.c, q.msg, in, rid);
        }
        free(rid);
        json_decref(q.msg);
    }
    if (in->n_subs == 0 && !inst_hot(a, in))
        inst_free(a, in);
}

/* rpc_error for a method's failure: the runtime's text names the internal function that runs
 * actor calls ("function `_system/actors:run` exceeded its 1000 ms time limit"); its caller
 * knows the method ("actor method counter.increment exceeded ..."). */
static void method_error(struct aconn *c, const char *rid, const struct ainst *in,
                         const char *method, size_t method_len, const char *msg, int now)
{
    static const char internal[] = "function `" JS_ACTORS_RUN_PATH "`";
    const char *at = method ? strstr(msg, internal) : NULL;
    if (!at) {
        rpc_error(c, rid, msg, now);
        return;
    }
    struct buf b = BUF_INIT(BUF_NOLIMIT);
    buf_append(&b, msg, (size_t)(at - msg));
    buf_appendf(&b, "actor method %.100s.%.*s", in->name,
                (int)(method_len > 100 ? 100 : method_len), method);
    buf_append_str(&b, at + sizeof internal - 1);
    rpc_error(c, rid, b.data, now);
    buf_release(&b);
}

/* Ends the call with an error: the runtime forgets it (run_end), the caller gets msg. */
static void susp_fail(struct asusp *s, const char *msg, int run_end)
{
    struct actors *a = s->a;
    if (run_end)
        susp_end_op(a, s->in, s->sid);
    if (s->c && s->rid)
        method_error(s->c, s->rid, s->in, s->method, s->method ? strlen(s->method) : 0, msg, 0);
    susp_free(s);
}

/* What a resume op answered: the call waits again, or it ended (its result, or its error). */
static void susp_after(struct asusp *s, int rc, struct js_result *res, json_t *out)
{
    struct actors *a = s->a;
    struct ainst *in = s->in;
    if (rc < 0) {
        susp_fail(s, res->error.len ? res->error.data : "the method failed", 1);
        drain_queue(a, in);
        return;
    }
    deliver(a);
    hold_chunks(s->c, s->rid, out);
    json_t *so = json_object_get(out, "s");
    if (so) {
        susp_arm(s, so);
        return;
    }
    hold_result(s->c, s->rid, out);
    susp_free(s);
    drain_queue(a, in);
}

static void susp_resume(struct asusp *s, int cancel)
{
    struct actors *a = s->a;
    uint32_t sid = s->sid;
    json_t *args = json_pack("{s:s, s:I}", "op", "resume", "sid", (json_int_t)sid);
    if (cancel)
        json_object_set_new(args, "cancel", json_true());
    json_t *f = fetches_done(a, sid);
    if (f)
        json_object_set(args, "f", f);
    struct js_result res;
    js_result_init(&res);
    json_t *out = NULL;
    a->cur_sid = sid;
    int rc = run_op(a, s->in, args, &res, &out);
    a->cur_sid = 0;
    if (f) /* read by the turn (or lost with it: the call ends) */
        fetches_drop(a, sid, f);
    json_decref(f);
    susp_after(s, rc, &res, out);
    json_decref(out);
    json_decref(args);
    js_result_release(&res);
}

static void susp_wake(struct loop *l, struct timer *t)
{
    struct asusp *s = t->arg;
    struct actors *a = s->a;
    if (a->stopping || !a->shard->rt)
        return;
    if (loop_now_ms(l) >= s->deadline) {
        char m[600];
        snprintf(m, sizeof m,
                 "ExecutionTimeout: actor method %.100s of %.100s/%.100s exceeded its wall-clock "
                 "limit of %u ms (--actor-method-timeout-ms); the turns it ran are kept",
                 s->method, s->in->name, s->in->id, a->o.method_timeout_ms);
        struct ainst *in = s->in;
        susp_fail(s, m, 1);
        drain_queue(a, in);
        return;
    }
    susp_resume(s, 0);
}

/* Every suspended call ends with msg (a deploy, a shutdown, a lost batch); run_end: the
 * runtime is still the one that ran them. Their rpcs that wait run later (tick), or at a
 * shutdown get an error. */
static void susp_fail_all(struct actors *a, const char *msg, int run_end)
{
    while (a->susps) {
        struct ainst *in = a->susps->in;
        susp_fail(a->susps, msg, run_end);
        if (a->stopping)
            drain_queue(a, in);
    }
}

/* {"type":"rpc:cancel","id":...}: cancels the connection's call with that id (waiting or
 * queued); an unknown id is ignored (the call may have ended). */
static void handle_cancel(struct aconn *c, json_t *jid)
{
    struct actors *a = c->a;
    char *rid = jid ? json_dumps(jid, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
    if (!rid) {
        send_error(c, "InvalidMessage", "an rpc:cancel needs the `id` of the rpc");
        return;
    }
    for (struct asusp *s = a->susps; s; s = s->next) {
        struct ainst *in = s->in;
        for (size_t i = 0; i < in->n_queue; i++) {
            if (in->queue[i].c != c)
                continue;
            char *qid = json_dumps(json_object_get(in->queue[i].msg, "id"),
                                   JSON_ENCODE_ANY | JSON_COMPACT);
            int same = qid && !strcmp(qid, rid);
            free(qid);
            if (!same)
                continue;
            json_decref(in->queue[i].msg);
            memmove(in->queue + i, in->queue + i + 1, (--in->n_queue - i) * sizeof *in->queue);
            rpc_error(c, rid, "Canceled: the call was canceled before it ran", 0);
            free(rid);
            return;
        }
        if (s->c == c && s->rid && !strcmp(s->rid, rid) && !s->canceled) {
            s->canceled = 1;
            susp_resume(s, 1);
            break;
        }
    }
    free(rid);
}

/* A closing connection: its queued rpcs are dropped, its plain calls go on without it, its
 * generators are canceled. */
static void susp_conn_closed(struct aconn *c)
{
    struct actors *a = c->a;
    for (struct asusp *s = a->susps; s; s = s->next) {
        struct ainst *in = s->in;
        for (size_t i = 0; i < in->n_queue;) {
            if (in->queue[i].c == c) {
                json_decref(in->queue[i].msg);
                memmove(in->queue + i, in->queue + i + 1,
                        (--in->n_queue - i) * sizeof *in->queue);
            } else {
                i++;
            }
        }
    }
    for (;;) { /* a resume may end calls: look again after each */
        struct asusp *s = a->susps;
        while (s && s->c != c)
            s = s->next;
        if (!s)
            break;
        s->c = NULL;
        if (s->gen && !s->canceled && !a->stopping && a->shard->rt) {
            s->canceled = 1;
            susp_resume(s, 1);
        }
    }
}

/* ---- messages ---- */

static int rate_limited(struct aconn *c)
{
    return rate_take(&c->rate_tokens, &c->rate_ms, c->a->o.max_messages_per_second,
                     loop_now_ms(c->a->loop)) >= 0;
}

/* What an rpc needs before it runs: a method name, and its caller among the instance's
 * connections (onConnect ran). 0, or -1 when it was answered with an error. */
/* c touches in for its rpc rid (the per-connection limits): 0, or -1 with rid answered. */
static int rpc_touch(struct aconn *c, struct ainst *in, const char *rid)
{
    struct buf err = BUF_INIT(4096);
    int r = touch(c, in, 0, &err);
    if (r < 0)
        rpc_error(c, rid, err.data, !c->a->shard->batch_open);
    buf_release(&err);
    return r < 0 ? -1 : 0;
}

static int rpc_ready(struct aconn *c, json_t *msg, struct ainst *in, const char *rid)
{
    json_t *method = json_object_get(msg, "method");
    if (!json_is_string(method) || strlen(json_string_value(method)) != json_string_length(method)) {
        rpc_error(c, rid, "InvalidMessage: an rpc needs `method` (a string)", 1);
        return -1;
    }
    return rpc_touch(c, in, rid);
}

/* Runs one rpc in an operation of its own. */
static void handle_rpc(struct aconn *c, json_t *msg, struct ainst *in, const char *rid)
{
    if (rpc_ready(c, msg, in, rid) < 0)
        return;
    json_t *method = json_object_get(msg, "method");
    struct actors *a = c->a;
    uint32_t sid = susp_next_sid(a);
    json_t *args = json_pack("{s:s, s:s, s:O, s:I}", "op", "rpc", "c", c->id, "m", method,
                             "sid", (json_int_t)sid);
    if (a->stats.suspended >= a->o.max_suspended) /* it may run, but not wait */
        json_object_set_new(args, "ns", json_integer((json_int_t)a->stats.suspended));
    if (!inst_watched(in))
        json_object_set_new(args, "q", json_integer(1));
    json_t *input = json_object_get(msg, "input");
    if (input) {
        char *t = json_dumps(input, JSON_ENCODE_ANY | JSON_COMPACT);
        json_object_set_new(args, "in", json_string(t ? t : "null"));
        free(t);
    }
    struct js_result res;
    js_result_init(&res);
    json_t *out = NULL;
    a->cur_sid = sid;
    int rc = conn_op(c, in, args, &res, &out);
    a->cur_sid = 0;
    if (rc < 0) {
        method_error(c, rid, in, json_string_value(method), json_string_length(method),
                     res.error.len ? res.error.data : "the method failed", !a->shard->batch_open);
        susp_end_op(a, in, sid);
        fetches_drop(a, sid, NULL); /* a call that suspended before its commit failed */
    } else {
        deliver(a);
        hold_chunks(c, rid, out);
        json_t *so = json_object_get(out, "s");
        if (so)
            susp_start(a, in, c, rid, json_string_value(method), so);
        else
            hold_result(c, rid, out);
    }
    json_decref(out);
    json_decref(args);
    js_result_release(&res);
}

/* ---- batches: the rpcs that arrive together run in one VM entry ----
 * An rpc ready to run waits in a->pend until the loop is about to commit (tenant_flush calls
 * actors_run_pending), or until anything else about to happen to the actors must come after it
 * (another operation: run_op_ex; another message: dispatch; a closing connection, the idle
 * tick, the admin API, a deploy). Then they run in one VM entry (47_actors.js runBatch), each in
 * a transaction of its own: the JS entry, the call's set-up and the answer's parse are paid once
 * per batch instead of once per call. What a call sees and what it answers is what it would
 * alone: the same order, the same transaction per call, its own CPU limit; a call that may wait
 * (an async method) and the calls after it run one by one. */

/* The operation text of a group holds at most this much (its calls' inputs, mostly): many large
 * rpcs arriving together run in several groups, never in one argument past JS_VALUE_MAX. */
#define BATCH_TEXT_MAX (1u << 20)
/* At most this many rpcs wait for the loop's commit: past it they run at once (so the messages
 * one iteration holds parsed stay bounded beyond what the input buffers hold). */
#define PEND_MAX 1024

/* Call p of a group failed (rolled back): its caller gets msg, its fetches are dropped. */
static void batch_call_failed(struct actors *a, struct pend *p, const char *msg, size_t len)
{
    a->stats.calls++;
    p->in->last_ms = loop_now_ms(a->loop);
    const char *m = p->msg ? json_string_value(json_object_get(p->msg, "method")) : p->method.p;
    size_t ml = p->msg ? json_string_length(json_object_get(p->msg, "method")) : p->method.n;
    method_error(p->c, p->rid, p->in, m, ml, len ? msg : "the method failed",
                 !a->shard->batch_open);
    fetches_drop(a, p->sid, NULL);
}

/* Runs the first calls of list[0..n) whose operation text fits BATCH_TEXT_MAX (*taken of them,
 * at least one) in one operation; each call's outcome arrives through host_end as it ends.
 * -> how many of them ran (the rest of the taken ones are the caller's to run one by one). */
static size_t run_batch(struct actors *a, struct pend *list, size_t n, size_t *taken)
{
    *taken = 1;
    const struct js_function *fn = js_runtime_find(a->shard->rt, JS_ACTORS_RUN_PATH);
    if (!fn)
        return 0;
    if (a->host_rt != a->shard->rt) {
        js_runtime_set_actor_host(a->shard->rt, &actor_host, a);
        a->host_rt = a->shard->rt;
    }
    struct buf b = BUF_INIT(BUF_NOLIMIT);
    buf_append_str(&b, "{\"op\":\"rpcs\",\"calls\":[");
    /* c, m, a, i and u are left out when they are the previous call's (runBatch carries them
     * on): a stream of calls from one socket to one instance is mostly its sid */
    const struct aconn *prev_c = NULL;
    const struct ainst *prev_in = NULL;
    const char *prev_u = NULL;
    struct rpc_span prev_m = { NULL, 0 };
    for (size_t k = 0; k < n; k++) {
        struct pend *p = &list[k];
        size_t mark = b.len;
        struct rpc_span m = p->method, in_text = p->input;
        char *dumped = NULL;
        if (p->msg) {
            json_t *method = json_object_get(p->msg, "method"), *input = json_object_get(p->msg, "input");
            m = (struct rpc_span){ json_string_value(method), json_string_length(method) };
            if (input) { /* its JSON text, as the op "rpc" gets it */
                dumped = json_dumps(input, JSON_ENCODE_ANY | JSON_COMPACT);
                in_text = (struct rpc_span){ dumped ? dumped : "null", dumped ? strlen(dumped) : 4 };
            }
        }
        const char *identity = conn_identity(p->c);
        char d[24];
        p->sid = susp_next_sid(a);
        buf_append_str(&b, k ? ",{\"sid\":" : "{\"sid\":");
        buf_append(&b, d, numfmt_u64(p->sid, d));
        if (p->c != prev_c) {
            buf_append_str(&b, ",\"c\":");
            buf_append_json_str(&b, p->c->id, strlen(p->c->id));
        }
        if (!prev_m.p || m.n != prev_m.n || memcmp(m.p, prev_m.p, m.n)) {
            buf_append_str(&b, ",\"m\":");
            buf_append_json_str(&b, m.p, m.n);
        }
        if (p->in != prev_in) {
            buf_append_str(&b, ",\"a\":");
            buf_append_json_str(&b, p->in->name, strlen(p->in->name));
            buf_append_str(&b, ",\"i\":");
            buf_append_json_str(&b, p->in->id, strlen(p->in->id));
        }
        if (in_text.p) {
            buf_append_str(&b, ",\"in\":");
            buf_append_json_str(&b, in_text.p, in_text.n);
        }
        free(dumped);
        if (k == 0 ? identity != NULL : identity != prev_u && (!identity || !prev_u || strcmp(identity, prev_u))) {
            buf_append_str(&b, ",\"u\":"); /* null: anonymous */
            if (identity)
                buf_append_json_str(&b, identity, strlen(identity));
            else
                buf_append_str(&b, "null");
        }
        prev_c = p->c;
        prev_in = p->in;
        prev_m = m;
        prev_u = identity;
        if (!inst_watched(p->in))
            buf_append_str(&b, ",\"q\":1");
        if (!inst_hot(a, p->in)) { /* the runtime learns who is connected to it */
            buf_append_str(&b, ",\"cs\":[");
            for (size_t i = 0; i < p->in->n_subs; i++) {
                const char *id = p->in->subs[i].c->id;
                if (i)
                    buf_append_byte(&b, ',');
                buf_append_json_str(&b, id, strlen(id));
            }
            buf_append_byte(&b, ']');
        }
        buf_append_byte(&b, '}');
        if (b.len > BATCH_TEXT_MAX && k > 0) { /* it goes in the next group */
            b.len = mark;
            b.data[mark] = '\0'; /* buf's invariant */
            n = k;
            break;
        }
    }
    *taken = n;
    if (n < 2) {
        buf_release(&b);
        return 0;
    }
    buf_append_str(&b, "]}");
    outs_clear(a);
    uint32_t cur_sid = a->cur_sid; /* the operation that waits for us */
    a->batch = list;
    a->n_batch = n;
    a->batch_ended = 0;
    a->cur_sid = list[0].sid; /* a fetch belongs to the running call (host_end moves it on) */
    struct js_call_opts o = { .txn_steps = 1 };
    struct js_result res;
    js_result_init(&res);
    int rc = shard_call(a->shard, fn, b.data, b.len, &o, &res);
    size_t ran = a->batch_ended;
    a->batch = NULL;
    a->cur_sid = cur_sid;
    outs_clear(a);
    if (rc == 0) {
        json_t *r = json_parse(res.value.data, res.value.len, 0, NULL);
        json_t *jn = json_object_get(r, "n");
        if (json_is_integer(jn) && json_integer_value(jn) >= 0 &&
            (size_t)json_integer_value(jn) <= ran)
            ran = (size_t)json_integer_value(jn); /* the call after them broke the batch */
        json_decref(r);
    } else if (ran < n) {
        /* the entry ended inside call `ran` (its time or memory limit, a promise that never
         * settled): it failed as it would have alone, and rolled back alone */
        batch_call_failed(a, &list[ran], res.error.data, res.error.len);
        ran++;
    }
    if (ran) {
        a->stats.batches++;
        a->stats.batched_calls += ran;
    }
    buf_release(&b);
    js_result_release(&res);
    return ran;
}

/* js_actor_host.end: call k of the running batch ended. Status -1: it did not run (it may wait:
 * it runs on its own, after the batch). */
static void host_end(void *arg, uint32_t k, int status, const char *text, size_t len,
                     const char *code, const char *act, size_t act_len)
{
    struct actors *a = arg;
    if (!a->batch || k != a->batch_ended || k >= a->n_batch) { /* not ours: dropped */
        outs_clear(a);
        return;
    }
    struct pend *p = &a->batch[k];
    a->batch_ended = k + 1;
    a->cur_sid = k + 1 < a->n_batch ? a->batch[k + 1].sid : 0;
    if (status < 0) {
        outs_clear(a);
        return;
    }
    if (status == 0) {
        outs_clear(a);
        batch_call_failed(a, p, text, len);
        return;
    }
    a->stats.calls++;
    p->in->last_ms = loop_now_ms(a->loop);
    p->in->gen = a->shard->loads;
    if (act) {
        json_t *keys = json_parse(act, act_len, 0, NULL);
        track_activated(a, keys);
        json_decref(keys);
    }
    deliver(a);
    hold_result_text(p->c, p->rid, text, len);
}

/* An rpc waiting for a busy instance waits in its queue; another runs now. */
static void rpc_now(struct aconn *c, json_t *msg, struct ainst *in, const char *rid);

/* Runs the rpcs waiting in a->pend: together when there are several, else alone. */
static void run_pending(struct actors *a)
{
    if (!a || !a->n_pend || a->batch)
        return;
    struct pend *list = a->pend;
    size_t n = a->n_pend;
    a->pend = NULL;
    a->n_pend = a->cap_pend = 0;
    for (size_t k = 0; k < n;) {
        size_t taken = 1;
        size_t ran = n - k >= 2 && a->shard->rt && !a->stopping
                         ? run_batch(a, list + k, n - k, &taken) : 0;
        for (size_t i = k + ran; i < k + taken; i++) {
            struct pend *p = &list[i];
            if (!p->msg) /* read by rpc_frame_scan: jansson reads it too (rpc_frame.h) */
                p->msg = json_parse(p->text, strlen(p->text), JSON_REJECT_DUPLICATES, NULL);
            if (p->msg)
                rpc_now(p->c, p->msg, p->in, p->rid);
            else
                rpc_error(p->c, p->rid, "InternalError: the rpc frame could not be read again", 1);
        }
        k += taken;
    }
    for (size_t k = 0; k < n; k++) {
        json_decref(list[k].msg);
        vr_free(list[k].rid);
        vr_free(list[k].text);
    }
    vr_free(list);
}

void actors_run_pending(struct actors *a)
{
    run_pending(a);
}

/* ---- identities: {"type":"auth","token":"<JWT>"|null} ---- */

static void dispatch(struct aconn *c, json_t *msg);
static int rpc_fast(struct aconn *c, const char *text, size_t n, const struct rpc_frame *f);

static void auth_apply(struct aconn *c, const struct auth_result *r)
{
    char m[700];
    if (!r->identity) {
        snprintf(m, sizeof m, "%s; this connection stays anonymous", r->err);
        send_error(c, r->code ? r->code : "InvalidToken", m);
        return;
    }
    vr_free(c->identity);
    char *t = json_dumps(r->identity, JSON_COMPACT);
    c->identity = t ? vr_strdup(t) : NULL;
    free(t);
    c->auth_exp = r->exp;
    int n = snprintf(m, sizeof m, "{\"type\":\"auth:ok\"}");
    out_send(c, m, (size_t)n);
}

static void auth_done(void *arg, const struct auth_result *r)
{
    struct aconn *c = arg;
    c->auth_waiting = 0;
    auth_apply(c, r);
    size_t n = c->n_waiting;
    c->n_waiting = 0;
    for (size_t i = 0; i < n; i++) { /* an `auth` among them waits again: keep the rest */
        if (c->auth_waiting) {
            c->waiting[c->n_waiting++] = c->waiting[i];
            continue;
        }
        dispatch(c, c->waiting[i]);
        json_decref(c->waiting[i]);
    }
}

static void handle_auth(struct aconn *c, json_t *msg)
{
    json_t *tok = json_object_get(msg, "token");
    if (json_is_null(tok) || !tok) { /* back to anonymous */
        vr_free(c->identity);
        c->identity = NULL;
        c->auth_exp = 0;
        const char ok[] = "{\"type\":\"auth:ok\"}";
        out_send(c, ok, sizeof ok - 1);
        return;
    }
    if (!json_is_string(tok) || json_string_length(tok) > AUTH_MAX_TOKEN) {
        send_error(c, "InvalidToken", "`token` must be a JWT string of at most 16 KiB, or null");
        return;
    }
    struct auth_result r;
    auth_result_init(&r);
    int now = auth_keys_verify(c->a->shard->auth, json_string_value(tok), json_string_length(tok),
                               &r, auth_done, c, &c->auth_wait);
    if (now) {
        auth_apply(c, &r);
        auth_result_release(&r);
    } else {
        c->auth_waiting = 1;
    }
}

/* The id of an rpc frame jansson refused (a lone UTF-16 surrogate in a string: JSON.parse keeps
 * it, jansson and Convex's values do not), read from a copy with each lone surrogate's escape
 * replaced by U+FFFD's; NULL when that does not make it an rpc with an id either. */
static char *unreadable_rpc_id(const char *p, size_t n)
{
    char *copy = vr_malloc(n + 1);
    memcpy(copy, p, n);
    copy[n] = '\0';
    for (size_t i = 0; i + 6 <= n; i++) {
        if (copy[i] == '\\' && copy[i + 1] == '\\') {
            i++; /* an escaped backslash: what follows is no escape */
            continue;
        }
        if (copy[i] != '\\' || copy[i + 1] != 'u' || (copy[i + 2] | 0x20) != 'd')
            continue;
        char h = (char)(copy[i + 3] | 0x20);
        int high = h >= '8' && h <= 'b', low = h >= 'c' && h <= 'f';
        int paired = high && i + 12 <= n && copy[i + 6] == '\\' && copy[i + 7] == 'u' &&
                     (copy[i + 8] | 0x20) == 'd' && (copy[i + 9] | 0x20) >= 'c' &&
                     (copy[i + 9] | 0x20) <= 'f';
        if ((high && !paired) || low)
            memcpy(copy + i, "\\uFFFD", 6);
        else if (paired)
            i += 6;
    }
    json_t *msg = json_parse(
        copy, n, JSON_DECODE_INT_AS_REAL | JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, NULL);
    vr_free(copy);
    const char *type = json_string_value(json_object_get(msg, "type"));
    json_t *jid = json_object_get(msg, "id");
    char *rid = type && !strcmp(type, "rpc") && jid
                    ? json_dumps(jid, JSON_ENCODE_ANY | JSON_COMPACT)
                    : NULL;
    json_decref(msg);
    char *out = rid ? vr_strdup(rid) : NULL;
    free(rid); /* jansson's allocation */
    return out;
}

static void on_message(struct ws *ws, int is_text, const char *p, size_t n, void *arg)
{
    struct aconn *c = arg;
    if (!c)
        return;
    struct actors *a = c->a;
    a->stats.messages_in++;
    if (n > a->o.max_message) {
        char m[160];
        snprintf(m, sizeof m, "message of %zu bytes is over the limit of %zu bytes", n,
                 a->o.max_message);
        send_error(c, "MessageTooLarge", m);
        return;
    }
    struct rpc_frame f;
    int scanned = rpc_frame_scan(p, n, &f);
    char why[160];
    if (json_check_widths(p, n, JSON_MAX_FIELDS, JSON_MAX_ITEMS, why, sizeof why) < 0) {
        char m[300];
        snprintf(m, sizeof m, "InvalidMessage: %s (Convex's value limits)", why);
        if (scanned) { /* the rpc is answered, so that its caller settles */
            char *rid = vr_strndup(f.id.p, f.id.n);
            rpc_error(c, rid, m, 1);
            vr_free(rid);
        } else {
            send_error(c, "InvalidMessage", m + strlen("InvalidMessage: "));
        }
        return;
    }
    if (!c->auth_waiting && scanned && rpc_fast(c, p, n, &f) == 0)
        return;
    json_error_t jerr;
    /* U+0000 is valid JSON: the fields that may not hold it say so below */
    json_t *msg = json_parse(p, n, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
    if (!msg && strstr(jerr.text, "too big integer")) /* 1e19 as JSON.stringify writes it: a */
        msg = json_parse(p, n,
                         JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL | /* double, as for */
                             JSON_DECODE_INT_AS_REAL, /* JSON.parse (Zocket's server) */
                         &jerr);
    if (!json_is_object(msg)) {
        char m[300];
        if (msg)
            snprintf(m, sizeof m, "a message must be a JSON object with a `type`");
        else
            snprintf(m, sizeof m, "message is not valid JSON: %s (column %d)", jerr.text,
                     jerr.column);
        char *rid = msg ? NULL : unreadable_rpc_id(p, n);
        if (rid) { /* its caller settles now rather than at its timeout */
            char e[340];
            snprintf(e, sizeof e, "InvalidMessage: %s", m);
            rpc_error(c, rid, e, 1);
        } else {
            send_error(c, "InvalidMessage", m);
        }
        vr_free(rid);
        json_decref(msg);
        return;
    }
    if (c->auth_waiting) { /* after the token's verdict, in order */
        if (c->n_waiting >= AUTH_MAX_HELD) {
            out_close(c, 1008, "too many messages while a token is verified");
            json_decref(msg);
            return;
        }
        if (!c->waiting)
            c->waiting = vr_calloc(AUTH_MAX_HELD, sizeof *c->waiting);
        c->waiting[c->n_waiting++] = msg;
        return;
    }
    dispatch(c, msg);
    json_decref(msg);
}

static void rpc_now(struct aconn *c, json_t *msg, struct ainst *in, const char *rid)
{
    struct actors *a = c->a;
    if (in->busy || in->n_queue) { /* after the call that holds the instance */
        if (in->n_queue >= a->o.max_queued) {
            char m[400];
            snprintf(m, sizeof m,
                     "ActorBusy: %zu calls are waiting for actor %.100s/%.100s (its method "
                     "%.100s is waiting), the limit",
                     in->n_queue, in->name, in->id, in->busy ? in->busy->method : "?");
            rpc_error(c, rid, m, 1);
            return;
        }
        if (in->n_queue == in->cap_queue) {
            in->cap_queue = in->cap_queue ? 2 * in->cap_queue : 8;
            in->queue = vr_realloc(in->queue, in->cap_queue * sizeof *in->queue);
        }
        json_incref(msg);
        in->queue[in->n_queue++] = (struct queued){ c, msg };
        return;
    }
    handle_rpc(c, msg, in, rid);
}

/* the answer to a message past --max-messages-per-second: rid's rpc:result, or an error frame */
static void rate_limited_error(struct aconn *c, const char *rid)
{
    char m[200];
    snprintf(m, sizeof m,
             "RateLimited: more than %u messages per second on this connection "
             "(--max-messages-per-second)",
             c->a->o.max_messages_per_second);
    if (rid)
        rpc_error(c, rid, m, 1);
    else
        send_error(c, "RateLimited", m);
}

/* The queue of rpcs that wait for run_pending gets one more. */
static void pend_add(struct actors *a, struct pend p)
{
    if (a->n_pend == a->cap_pend) {
        a->cap_pend = a->cap_pend ? 2 * a->cap_pend : 16;
        a->pend = vr_realloc(a->pend, a->cap_pend * sizeof *a->pend);
    }
    a->pend[a->n_pend++] = p;
    if (a->n_pend >= PEND_MAX)
        run_pending(a);
}

/* What dispatch does for an rpc frame rpc_frame_scan read, without a jansson value: its
 * instance touched, the call waits for run_pending. -1, having done nothing, when it must go
 * dispatch's way: its instance is busy or has calls queued (they keep the parsed message), or
 * its names are long. */
#define FAST_NAME_MAX 256
static int rpc_fast(struct aconn *c, const char *text, size_t n, const struct rpc_frame *f)
{
    struct actors *a = c->a;
    char name[FAST_NAME_MAX], id[FAST_NAME_MAX];
    if (f->actor.n >= sizeof name || f->actor_id.n >= sizeof id)
        return -1;
    memcpy(name, f->actor.p, f->actor.n);
    name[f->actor.n] = '\0';
    memcpy(id, f->actor_id.p, f->actor_id.n);
    id[f->actor_id.n] = '\0';
    struct ainst *in = inst_get(a, name, id, 0);
    if (in && (in->busy || in->n_queue))
        return -1;
    char *rid = vr_strndup(f->id.p, f->id.n);
    if (rate_limited(c)) {
        rate_limited_error(c, rid);
        vr_free(rid);
        return 0;
    }
    char full[200];
    if (!in && instances_full(a, full, sizeof full)) {
        rpc_error(c, rid, full, 1);
        vr_free(rid);
        return 0;
    }
    if (!in)
        in = inst_get(a, name, id, 1);
    if (rpc_touch(c, in, rid) < 0) {
        vr_free(rid);
    } else if (in->busy || in->n_queue) {
        /* the first touch ran the rpcs before this one (run_op_ex): one of them now holds the
         * instance, and this call goes behind it, ahead of this connection's later ones */
        json_t *msg = json_parse(text, n, JSON_REJECT_DUPLICATES, NULL);
        if (msg)
            rpc_now(c, msg, in, rid);
        else
            rpc_error(c, rid, "InternalError: the rpc frame could not be read again", 1);
        json_decref(msg);
        vr_free(rid);
    } else {
        char *copy = vr_malloc(n + 1);
        memcpy(copy, text, n);
        copy[n] = '\0';
        struct rpc_span m = { copy + (f->method.p - text), f->method.n };
        struct rpc_span input = { f->input.p ? copy + (f->input.p - text) : NULL, f->input.n };
        pend_add(a, (struct pend){ c, in, NULL, rid, 0, copy, m, input });
    }
    if (in->n_subs == 0 && !inst_hot(a, in))
        inst_free(a, in);
    return 0;
}

static void dispatch(struct aconn *c, json_t *msg)
{
    struct actors *a = c->a;
    const char *type = json_string_value(json_object_get(msg, "type"));
    if (!type || strcmp(type, "rpc"))
        run_pending(a); /* what this message does comes after the rpcs before it */
    if (type && !strcmp(type, "auth")) {
        handle_auth(c, msg);
        return;
    }
    json_t *jid = json_object_get(msg, "id");
    char *rid = NULL;
    if (type && !strcmp(type, "rpc")) {
        if (json_is_integer(jid) && json_integer_value(jid) >= 0) { /* the usual id */
            char t[24];
            rid = vr_strndup(t, numfmt_u64((uint64_t)json_integer_value(jid), t));
        } else {
            rid = jid ? json_dumps(jid, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
        }
        if (!rid) {
            send_error(c, "InvalidMessage", "an rpc needs an `id`");
            goto out;
        }
    }
    if (rate_limited(c)) {
        rate_limited_error(c, rid);
        goto out;
    }
    if (type && !strcmp(type, "rpc:cancel")) {
        handle_cancel(c, jid);
        goto out;
    }
    int is_rpc = type && !strcmp(type, "rpc"), state_sub = type && !strcmp(type, "state:sub"),
        event_sub = type && !strcmp(type, "event:sub"),
        state_unsub = type && !strcmp(type, "state:unsub"),
        event_unsub = type && !strcmp(type, "event:unsub");
    if (type && !is_rpc && !state_sub && !event_sub && !state_unsub && !event_unsub) {
        char m[200];
        snprintf(m, sizeof m,
                 "unknown message type `%.60s` (rpc, rpc:cancel, event:sub, "
                 "event:unsub, state:sub, state:unsub)",
                 type);
        send_error(c, "InvalidMessage", m);
        goto out;
    }
    const char *name = json_string_value(json_object_get(msg, "actor"));
    const char *id = json_string_value(json_object_get(msg, "actorId"));
    if (!type || !name || !id || strlen(name) != json_string_length(json_object_get(msg, "actor")) ||
        strlen(id) != json_string_length(json_object_get(msg, "actorId"))) {
        const char *m = !type ? "a message needs a `type` (a string)"
                              : "needs `actor` and `actorId` (strings without U+0000)";
        if (rid)
            rpc_error(c, rid, m, 1);
        else
            send_error(c, "InvalidMessage", m);
        goto out;
    }
    if (state_unsub || event_unsub) {
        struct ainst *in = inst_get(a, name, id, 0);
        struct sub *s = in ? sub_find(in, c) : NULL;
        if (s)
            sub_set_flags(in, s, s->flags & ~(state_unsub ? (SUB_STATE | SUB_STALE) : SUB_EVENT));
        goto out;
    }
    struct ainst *in = inst_get(a, name, id, 0);
    char full[200];
    if (!in && instances_full(a, full, sizeof full)) {
        if (is_rpc)
            rpc_error(c, rid, full, 1);
        else
            send_error(c, "TooManyActorInstances", full + strlen("TooManyActorInstances: "));
        goto out;
    }
    if (!in)
        in = inst_get(a, name, id, 1);
    if (is_rpc) {
        if (in->busy || in->n_queue) {
            rpc_now(c, msg, in, rid);
        } else if (rpc_ready(c, msg, in, rid) < 0) {
        } else if (in->busy ||
                   in->n_queue) { /* the first touch ran the rpcs before it (rpc_fast) */
            rpc_now(c, msg, in, rid);
        } else { /* it runs with those that came with it */
            json_incref(msg);
            pend_add(a, (struct pend){ c, in, msg, vr_strdup(rid), 0, NULL, { NULL, 0 }, { NULL, 0 } });
        }
    } else {
        struct buf err = BUF_INIT(4096);
        struct sub *s = sub_find(in, c);
        int first = !s;
        /* a state:sub's snapshot goes before any patch its onConnect causes; one past the
         * connection's limit activates nothing */
        int rc = touch_refused(c, in, &err) ? -1 : state_sub ? snapshot(c, in, &err) : 0;
        if (rc == 0 && first)
            rc = touch(c, in, state_sub ? SUB_STATE : SUB_EVENT, &err);
        if (rc < 0)
            send_error(c, strncmp(err.data, "Unknown actor", 13) ? "ActorFailed" : "UnknownActor",
                       err.data);
        else if ((s = sub_find(in, c)))
            sub_set_flags(in, s, (s->flags | (state_sub ? SUB_STATE : SUB_EVENT)) &
                                     ~(state_sub ? SUB_STALE : 0u));
        buf_release(&err);
    }
    if (in->n_subs == 0 && !inst_hot(a, in))
        inst_free(a, in);
out:
    free(rid);
}

/* ---- connections ---- */

static void on_open(struct ws *ws, void *arg)
{
    struct aconn *c = arg;
    if (!c)
        return;
    char m[64];
    int n = snprintf(m, sizeof m, "{\"type\":\"welcome\",\"clientId\":\"%s\"}", c->id);
    ws_send(ws, 1, m, (size_t)n);
    c->a->stats.messages_out++;
}

static void conn_drop_held(struct aconn *c)
{
    for (size_t i = 0; i < c->n_held; i++) {
        frame_unref(c->held[i].f);
        vr_free(c->held[i].rid);
    }
    c->n_held = 0;
}

static void conn_free(struct aconn *c)
{
    vr_free(c->identity);
    vr_free(c->waiting);
    vr_free(c->touch);
    vr_free(c->held);
    vr_free(c);
}

static void on_close(struct ws *ws, int code, const char *reason, void *arg)
{
    struct aconn *c = arg;
    if (!c)
        return;
    struct actors *a = c->a;
    run_pending(a); /* its rpcs ran (their answers are dropped with the rest) */
    conn_drop_held(c);
    if (c->auth_waiting)
        auth_keys_cancel(a->shard->auth, c->auth_wait);
    for (size_t i = 0; i < c->n_waiting; i++)
        json_decref(c->waiting[i]);
    c->n_waiting = 0;
    susp_conn_closed(c);
    if (c->in_held_list) { /* unlink */
        struct aconn **pp = &a->held_head;
        while (*pp && *pp != c)
            pp = &(*pp)->held_next;
        if (*pp)
            *pp = c->held_next;
    }
    while (c->n_touch > 0) {
        struct ainst *in = c->touch[c->n_touch - 1].inst;
        untouch(c, in);
        if (!a->stopping && a->shard->rt)
            run_hook(a, in, c, "disconnect", "onDisconnect");
        if (in->n_subs == 0 && !inst_hot(a, in))
            inst_free(a, in);
    }
    if (c->prev)
        c->prev->next = c->next;
    else
        a->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    a->stats.sockets--;
    conn_free(c);
}

static const struct ws_handlers handlers = { on_open, on_message, on_close };

void actors_accept(struct actors *a, struct conn *conn, struct http_request *req)
{
    struct aconn *c = vr_calloc(1, sizeof *c);
    c->a = a;
    c->id[0] = 'c';
    rand_hex(c->id + 1, 8);
    c->id[CONN_ID_LEN] = '\0';
    c->rate_tokens = 2.0 * a->o.max_messages_per_second;
    c->rate_ms = loop_now_ms(a->loop);
    if (ws_accept(conn, req, &handlers, c, &c->ws) < 0) {
        vr_free(c);
        return;
    }
    c->next = a->conns;
    if (a->conns)
        a->conns->prev = c;
    a->conns = c;
    a->stats.sockets++;
}

/* ---- the flush ---- */

static void resnapshot_all(struct actors *a)
{
    for (struct aconn *c = a->conns; c; c = c->next) {
        for (size_t i = 0; i < c->n_touch; i++) {
            struct ainst *in = c->touch[i].inst;
            struct sub *s = sub_find(in, c);
            if (s && (s->flags & SUB_STATE)) {
                struct buf err = BUF_INIT(4096);
                if (snapshot(c, in, &err) < 0)
                    log_warn("actors", "actor %s/%s: snapshot failed: %s", in->name, in->id, err.data);
                buf_release(&err);
            }
        }
    }
}

void actors_flush(struct actors *a, int batch_failed)
{
    if (!a)
        return;
    struct aconn *list = a->held_head;
    a->held_head = NULL;
    for (struct aconn *c = list, *next; c; c = next) {
        next = c->held_next;
        c->in_held_list = 0;
        for (size_t i = 0; i < c->n_held; i++) {
            struct held *h = &c->held[i];
            if (batch_failed && h->kind != HELD_ANSWER) {
                if (h->kind == HELD_RPC)
                    rpc_error(c, h->rid,
                              "StoreError: the server could not store this change; nothing "
                              "was changed",
                              1);
            } else if (h->kind == HELD_PATCH && out_queued(c) > a->o.slow_bytes) {
                struct sub *s = sub_find(h->inst, c); /* too far behind: catch up later */
                if (s && (s->flags & SUB_STATE)) {
                    sub_set_flags(h->inst, s, s->flags | SUB_STALE);
                    if (!c->stale_since)
                        c->stale_since = loop_now_ms(a->loop);
                }
            } else {
                out_send(c, h->f->data, h->f->len);
            }
            frame_unref(h->f);
            vr_free(h->rid);
        }
        c->n_held = 0;
    }
    if (batch_failed && a->shard->rt) {
        /* the runtime's copies are ahead of the disk: it forgets them (every instance reloads
         * from its stored state) and every state subscriber gets the truth again */
        susp_fail_all(a, "StoreError: the server could not store a turn of this call; the "
                         "turns stored before it are kept", 0);
        run_hook(a, NULL, NULL, "forget", "forgetting the lost batch's states");
        for (size_t i = 0; i < a->insts.cap; i++)
            if (a->insts.slots[i].key)
                ((struct ainst *)a->insts.slots[i].value)->gen = 0;
        resnapshot_all(a);
    }
}

/* A stale subscriber that drained gets its snapshot; one that did not within slow_close_ms is
 * closed. Idle instances are deactivated. */
static void tick(struct loop *l, struct timer *t)
{
    struct actors *a = t->arg;
    run_pending(a); /* before any instance goes */
    uint64_t now = loop_now_ms(l);
    /* near --max-actor-instances, an instance idle for a second goes, not after --actor-idle-ms */
    int crowded = a->stats.instances >= a->o.max_instances / 10 * 9;
    uint64_t idle_ms = crowded && a->o.idle_ms > 1000 ? 1000 : a->o.idle_ms;
    for (struct aconn *c = a->conns; c; c = c->next) {
        if (!c->stale_since)
            continue;
        if (out_queued(c) <= a->o.slow_bytes / 4) {
            c->stale_since = 0;
            for (size_t i = 0; i < c->n_touch; i++) {
                struct sub *s = sub_find(c->touch[i].inst, c);
                if (s && (s->flags & SUB_STALE)) {
                    sub_set_flags(c->touch[i].inst, s, s->flags & ~SUB_STALE);
                    struct buf err = BUF_INIT(4096);
                    if (snapshot(c, c->touch[i].inst, &err) < 0)
                        log_warn("actors", "actor snapshot failed: %s", err.data);
                    buf_release(&err);
                }
            }
        } else if (now - c->stale_since > a->o.slow_close_ms) {
            c->stale_since = 0;
            out_close(c, 1008, "too slow: state patches could not be delivered");
        }
    }
    /* The idle instances are collected first, then deactivated and freed: freeing moves entries
     * of the map (backward-shift deletion), and rescanning it after each one made an idle-out of
     * n instances cost O(n * capacity) on the loop thread (seconds for tens of thousands). */
    struct ainst **idle = NULL;
    size_t n_idle = 0, cap_idle = 0;
    for (size_t i = 0; i < a->insts.cap && !a->stopping; i++) {
        struct ainst *in = a->insts.slots[i].key ? a->insts.slots[i].value : NULL;
        if (!in || in->n_subs || in->busy || in->n_queue || now - in->last_ms < idle_ms)
            continue;
        if (n_idle == cap_idle) {
            cap_idle = cap_idle ? 2 * cap_idle : 64;
            idle = vr_realloc(idle, cap_idle * sizeof *idle);
        }
        idle[n_idle++] = in;
    }
    /* at most IDLE_PER_TICK onDeactivate calls per tick, so that a wave of idle instances
     * does not hold the loop: the rest go in the next ticks, 50 ms apart */
    size_t done = 0;
    for (size_t k = 0; k < n_idle && !a->stopping && done < IDLE_PER_TICK; k++) {
        struct ainst *in = idle[k];
        if (in->n_subs || now - in->last_ms < idle_ms) /* touched by an earlier one's hook */
            continue;
        if (inst_hot(a, in) && a->shard->rt &&
            run_hook(a, in, NULL, "deactivate", "onDeactivate") == 0)
            a->stats.deactivations++;
        inst_free(a, in);
        done++;
    }
    vr_free(idle);
    /* the rpcs a deploy left waiting for instances whose calls it ended run now, on the new
     * version (collected first: running them may add instances to the map) */
    struct ainst **ready = NULL;
    size_t n_ready = 0;
    for (size_t i = 0; i < a->insts.cap && !a->stopping; i++) {
        struct ainst *in = a->insts.slots[i].key ? a->insts.slots[i].value : NULL;
        if (in && !in->busy && in->n_queue) {
            ready = vr_realloc(ready, (n_ready + 1) * sizeof *ready);
            ready[n_ready++] = in;
        }
    }
    for (size_t k = 0; k < n_ready; k++) /* an instance with a queue is never freed meanwhile */
        drain_queue(a, ready[k]);
    vr_free(ready);
    uint64_t every = idle_ms / 4;
    loop_timer_start(l, t, done >= IDLE_PER_TICK ? 50 : every < 250 ? 250 : every > 5000 ? 5000 : every);
}

/* onDeactivate of every hot instance, in the running runtime (before a deploy replaces it, or
 * at a shutdown's final commit); the instances become cold. */
void actors_deactivate_all(struct actors *a)
{
    if (!a || !a->shard->rt)
        return;
    run_pending(a);
    susp_fail_all(a, a->stopping ? "ServerShuttingDown: the server is shutting down; the turns "
                                   "this call ran are kept"
                                 : "ActorCallAborted: the app was redeployed (or its tenant "
                                   "closed) while this call was waiting; the turns it ran "
                                   "are kept",
                  1);
    if (!a->stopping)
        loop_timer_start(a->loop, &a->tick, 0); /* runs the rpcs queued behind those calls */
    size_t n = 0;
    for (size_t i = 0; i < a->insts.cap; i++) {
        struct ainst *in = a->insts.slots[i].key ? a->insts.slots[i].value : NULL;
        if (!in || !inst_hot(a, in))
            continue;
        if (run_hook(a, in, NULL, "deactivate", "onDeactivate") == 0)
            a->stats.deactivations++;
        in->gen = 0;
        n++;
    }
    if (n)
        log_info("actors", "%zu actor instance%s deactivated", n, n == 1 ? "" : "s");
}

static void before_replace(void *arg)
{
    actors_deactivate_all(arg);
}

struct actors *actors_new(struct loop *loop, struct shard *shard,
                          const struct actors_options *opts)
{
    struct actors *a = vr_calloc(1, sizeof *a);
    a->loop = loop;
    a->shard = shard;
    if (opts)
        a->o = *opts;
    if (!a->o.max_message)
        a->o.max_message = 1u << 20;
    if (!a->o.max_instances_per_conn)
        a->o.max_instances_per_conn = 1000;
    if (!a->o.max_instances)
        a->o.max_instances = 50000;
    if (!a->o.slow_bytes)
        a->o.slow_bytes = 4u << 20;
    if (!a->o.slow_close_ms)
        a->o.slow_close_ms = 30000;
    if (!a->o.idle_ms)
        a->o.idle_ms = 60000;
    if (!a->o.method_timeout_ms)
        a->o.method_timeout_ms = 600000;
    if (!a->o.max_suspended)
        a->o.max_suspended = 1000;
    if (!a->o.max_queued)
        a->o.max_queued = 1000;
    if (!a->o.max_fetches)
        a->o.max_fetches = 256;
    if (!a->o.fetch_timeout_ms)
        a->o.fetch_timeout_ms = 300000;
    if (!a->o.fetch_max_response)
        a->o.fetch_max_response = 64u << 20;
    hmap_init(&a->insts);
    shard->before_replace = before_replace;
    shard->before_replace_arg = a;
    timer_init(&a->tick, tick, a);
    loop_timer_start(loop, &a->tick, 250);
    return a;
}

void actors_stop(struct actors *a)
{
    if (a) {
        run_pending(a);
        a->stopping = 1;
    }
}

void actors_close_all(struct actors *a, int code, const char *reason)
{
    for (struct aconn *c = a ? a->conns : NULL; c; c = c->next)
        ws_close(c->ws, code, reason);
}

void actors_free(struct actors *a)
{
    if (!a)
        return;
    run_pending(a);
    loop_timer_stop(a->loop, &a->tick);
    while (a->susps) { /* none after actors_deactivate_all; the runtime forgets the rest */
        if (a->shard->rt)
            susp_end_op(a, a->susps->in, a->susps->sid);
        susp_free(a->susps);
    }
    while (a->fetches)
        afetch_free(a, a->fetches);
    if (a->fc)
        fetch_client_free(a->fc);
    if (a->shard->rt && a->host_rt == a->shard->rt)
        js_runtime_set_actor_host(a->shard->rt, NULL, NULL);
    if (a->shard->before_replace_arg == a)
        a->shard->before_replace = NULL;
    for (struct aconn *c = a->conns, *next; c; c = next) {
        next = c->next;
        conn_drop_held(c); /* the connections outlive us: they forget us */
        ws_set_arg(c->ws, NULL);
        if (c->auth_waiting)
            auth_keys_cancel(a->shard->auth, c->auth_wait);
        for (size_t i = 0; i < c->n_waiting; i++)
            json_decref(c->waiting[i]);
        conn_free(c);
    }
    for (size_t i = 0; i < a->insts.cap; i++) {
        struct ainst *in = a->insts.slots[i].key ? a->insts.slots[i].value : NULL;
        if (in) {
            for (size_t k = 0; k < in->n_queue; k++)
                json_decref(in->queue[k].msg);
            vr_free(in->queue);
            vr_free(in->subs);
            vr_free(in->key);
            vr_free(in);
        }
    }
    hmap_release(&a->insts);
    outs_clear(a);
    vr_free(a->outs);
    vr_free(a);
}

const struct actors_stats *actors_stats(const struct actors *a)
{
    return &a->stats;
}

int actors_run_timer(void *arg, const struct js_function *fn, const char *args, size_t len,
                     const struct js_call_opts *o, struct js_result *res)
{
    struct actors *a = arg;
    json_t *j = json_parse(args, len, 0, NULL);
    const char *name = json_string_value(json_object_get(j, "a"));
    const char *id = json_string_value(json_object_get(j, "i"));
    if (!name || !id || a->stopping) {
        json_decref(j);
        return shard_call(a->shard, fn, args, len, o, res);
    }
    struct ainst *in = inst_get(a, name, id, 1);
    json_t *out = NULL;
    uint32_t sid = susp_next_sid(a);
    json_object_set_new(j, "sid", json_integer(sid));
    if (a->stats.suspended >= a->o.max_suspended)
        json_object_set_new(j, "ns", json_integer((json_int_t)a->stats.suspended));
    a->cur_sid = sid;
    int rc = run_op_ex(a, in, j, o, res, &out);
    a->cur_sid = 0;
    if (rc < 0)
        fetches_drop(a, sid, NULL);
    if (rc == 0) {
        deliver(a);
        json_t *so = json_object_get(out, "s");
        if (so)
            susp_start(a, in, NULL, NULL, json_string_value(json_object_get(j, "m")), so);
    } else {
        susp_end_op(a, in, sid); /* the timer ends or recurs all the same, in a transaction of its own */
        struct js_result r2;
        js_result_init(&r2);
        json_t *out2 = NULL;
        json_object_set_new(j, "op", json_string("timerFailed"));
        if (run_op(a, in, j, &r2, &out2) == 0)
            deliver(a);
        json_decref(out2);
        js_result_release(&r2);
    }
    json_decref(out);
    json_decref(j);
    if (in->n_subs == 0 && !inst_hot(a, in))
        inst_free(a, in);
    return rc;
}

/* ---- the admin API (http_admin_actors.c) ---- */

int actors_admin_run(struct actors *a, json_t *args, json_t **r, struct buf *code,
                     struct buf *err)
{
    *r = NULL;
    struct js_result res;
    js_result_init(&res);
    json_t *out = NULL;
    json_object_set_new(args, "op", json_string("admin"));
    int rc = run_op(a, NULL, args, &res, &out);
    if (rc < 0) {
        rc = a->shard->rt ? -1 : -2;
        buf_append(err, res.error.data, res.error.len);
        buf_append(code, res.error_code.data, res.error_code.len);
    } else {
        deliver(a); /* what onDeactivate hooks sent */
        const char *t = json_string_value(json_object_get(out, "r"));
        *r = t ? json_loads(t, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL) : NULL;
        if (!*r) {
            buf_append_str(err, "malformed answer from the actor runtime");
            rc = -1;
        }
    }
    json_decref(out);
    js_result_release(&res);
    return rc;
}

json_t *actors_admin_info(struct actors *a, const char *name, const char *id, int ids)
{
    struct ainst *in = inst_get(a, name, id, 0);
    if (!in)
        return NULL;
    json_t *cs = ids ? json_array() : NULL, *ss = ids ? json_array() : NULL,
           *es = ids ? json_array() : NULL;
    size_t n_state = 0, n_event = 0;
    for (size_t i = 0; i < in->n_subs; i++) {
        const struct sub *s = &in->subs[i];
        n_state += (s->flags & SUB_STATE) != 0;
        n_event += (s->flags & SUB_EVENT) != 0;
        if (ids) {
            json_array_append_new(cs, json_string(s->c->id));
            if (s->flags & SUB_STATE)
                json_array_append_new(ss, json_string(s->c->id));
            if (s->flags & SUB_EVENT)
                json_array_append_new(es, json_string(s->c->id));
        }
    }
    if (ids)
        return json_pack("{s:b, s:o, s:o, s:o}", "hot", inst_hot(a, in), "connections", cs,
                         "stateSubscribers", ss, "eventSubscribers", es);
    return json_pack("{s:b, s:I, s:I, s:I}", "hot", inst_hot(a, in), "connections",
                     (json_int_t)in->n_subs, "stateSubscribers", (json_int_t)n_state,
                     "eventSubscribers", (json_int_t)n_event);
}

static int inst_cmp(const void *x, const void *y)
{
    const struct ainst *p = *(const struct ainst *const *)x, *q = *(const struct ainst *const *)y;
    int c = strcmp(p->name, q->name);
    return c ? c : strcmp(p->id, q->id);
}

json_t *actors_admin_tracked(const struct actors *a, const char *only, const char *after_name,
                             const char *after_id, size_t limit)
{
    struct ainst **v = vr_malloc((a->insts.len + 1) * sizeof *v);
    size_t n = 0;
    for (size_t i = 0; i < a->insts.cap; i++) {
        struct ainst *in = a->insts.slots[i].key ? a->insts.slots[i].value : NULL;
        if (!in || (only && strcmp(in->name, only)))
            continue;
        if (after_name) {
            int c = strcmp(in->name, after_name);
            if (c < 0 || (c == 0 && strcmp(in->id, after_id) <= 0))
                continue;
        }
        v[n++] = in;
    }
    qsort(v, n, sizeof *v, inst_cmp);
    json_t *list = json_array();
    for (size_t i = 0; i < n && i < limit; i++)
        json_array_append_new(list, json_pack("[s,s]", v[i]->name, v[i]->id));
    vr_free(v);
    return list;
}

void actors_admin_destroyed(struct actors *a, const char *name, const char *id,
                            const char *initial)
{
    a->stats.destroys++;
    log_info("actors", "actor %s/%s destroyed by the admin API", name, id);
    struct ainst *in = inst_get(a, name, id, 0);
    if (!in)
        return;
    in->gen = 0; /* the runtime forgot it: the next call hands it the connections again */
    if (initial) {
        json_t *nm = json_string(in->name), *idv = json_string(in->id);
        char *n = json_dumps(nm, JSON_ENCODE_ANY), *i = json_dumps(idv, JSON_ENCODE_ANY);
        struct buf b = BUF_INIT(BUF_NOLIMIT);
        buf_appendf(&b, "{\"type\":\"state:snapshot\",\"actor\":%s,\"actorId\":%s,\"state\":%s}", n,
                    i, initial);
        struct frame *f = frame_new(b.data, b.len);
        f->refs++;
        for (size_t k = 0; k < in->n_subs; k++) /* a stale one gets its snapshot once drained */
            if ((in->subs[k].flags & (SUB_STATE | SUB_STALE)) == SUB_STATE)
                hold(in->subs[k].c, f, HELD_OTHER, NULL, NULL);
        frame_unref(f);
        buf_release(&b);
        free(n);
        free(i);
        json_decref(nm);
        json_decref(idv);
    }
    if (in->n_subs == 0)
        inst_free(a, in);
}

/* actor_saves: an actor instance's document stored once per batch of actor calls instead of
 * once per call (js_int.h, "actor_saves.c"). A hot instance called many times in a batch would
 * otherwise UPDATE its row, in a savepoint of its own, call after call: the row's last text is
 * all that the batch's commit keeps of it.
 *
 * Each document saved in the batch has an entry with two states: `batch`, what the calls that
 * ended well left (the text to store at the end, or none: stored at once, or deleted), and
 * `call`, what the running call made of it since it first touched the entry. The call's end
 * makes `call` the batch's (committed) or forgets it (rolled back), as its savepoint does for
 * the writes it made at once. */
#include <string.h>

#include "base/log.h"
#include "base/mem.h"
#include "js/js_int.h"
#include "store/store.h"

#include "base/banned.h"

struct save_state {
    struct buf doc;    /* the text to store at the batch's end (has_doc) */
    size_t stored_len; /* the length of the text stored at once in this batch (0: not known) */
    unsigned char has_doc;
    unsigned char gone; /* deleted in this batch: not saved later */
};

struct js_actor_save {
    char id[STORE_ID_LEN + 1];
    struct save_state batch, call;
    unsigned char in_call; /* `call` is the running call's (it is in `touched`) */
};

static void state_drop_doc(struct js_actor_saves *q, struct save_state *st)
{
    if (st->has_doc)
        q->bytes -= st->doc.len;
    st->has_doc = 0;
}

/* id's entry, made when missing (NULL: id is not an actor document) */
static struct js_actor_save *entry(struct js_runtime *rt, const char *id, size_t id_len)
{
    struct js_actor_saves *q = &rt->asaves;
    struct js_actor_save *e = hmap_get(&q->by_id, id, id_len);
    if (e)
        return e;
    const char *table = id_len == STORE_ID_LEN ? store_id_table(rt->store, id, id_len) : NULL;
    if (!table || strcmp(table, STORE_ACTOR_TABLE))
        return NULL;
    e = vr_calloc(1, sizeof *e);
    memcpy(e->id, id, STORE_ID_LEN);
    buf_init(&e->batch.doc, BUF_NOLIMIT);
    buf_init(&e->call.doc, BUF_NOLIMIT);
    if (q->n == q->cap) {
        q->cap = q->cap ? 2 * q->cap : 8;
        q->v = vr_realloc(q->v, q->cap * sizeof *q->v);
    }
    q->v[q->n++] = e;
    hmap_put(&q->by_id, e->id, STORE_ID_LEN, e);
    return e;
}

/* e's state for the running call: the batch's, until the call changes it */
static struct save_state *touch(struct js_actor_saves *q, struct js_actor_save *e)
{
    if (!e->in_call) {
        e->in_call = 1;
        e->call.has_doc = 0;
        e->call.gone = e->batch.gone;
        e->call.stored_len = e->batch.stored_len;
        if (q->n_touched == q->cap_touched) {
            q->cap_touched = q->cap_touched ? 2 * q->cap_touched : 8;
            q->touched = vr_realloc(q->touched, q->cap_touched * sizeof *q->touched);
        }
        q->touched[q->n_touched++] = e;
    }
    return &e->call;
}

/* only the top-level transaction of a call of a batch (not a nested call's of an action) */
static int in_batch_call(const struct js_runtime *rt)
{
    return rt->txn_steps && rt->txn && rt->txn == rt->top_txn;
}

int js_actor_save_defer(struct js_runtime *rt, const char *id, size_t id_len, const struct buf *doc)
{
    struct js_actor_saves *q = &rt->asaves;
    if (!in_batch_call(rt) || !store_doc_fits(doc->len))
        return 0;
    struct js_actor_save *e = entry(rt, id, id_len);
    if (!e)
        return 0;
    const struct save_state *now = e->in_call ? &e->call : &e->batch;
    size_t held = e->in_call && e->call.has_doc ? e->call.doc.len : 0;
    if (now->gone || q->bytes - held + doc->len > JS_ACTOR_SAVES_MAX ||
        (store_max_bytes(rt->store) && now->stored_len < doc->len)) /* it may not fit: now */
        return 0;
    struct save_state *st = touch(q, e);
    state_drop_doc(q, st);
    buf_reset(&st->doc);
    if (buf_append(&st->doc, doc->data, doc->len) < 0)
        return 0;
    st->has_doc = 1;
    q->bytes += doc->len;
    return 1;
}

void js_actor_save_written(struct js_runtime *rt, const char *id, size_t id_len, size_t len,
                           int deleted)
{
    struct js_actor_saves *q = &rt->asaves;
    if (!in_batch_call(rt))
        return;
    struct js_actor_save *e = entry(rt, id, id_len);
    if (!e)
        return;
    struct save_state *st = touch(q, e);
    state_drop_doc(q, st);
    st->gone = (unsigned char)deleted;
    st->stored_len = deleted ? 0 : len;
}

void js_actor_saves_call_end(struct js_runtime *rt, int committed)
{
    struct js_actor_saves *q = &rt->asaves;
    for (size_t i = 0; i < q->n_touched; i++) {
        struct js_actor_save *e = q->touched[i];
        e->in_call = 0;
        if (committed) {
            state_drop_doc(q, &e->batch);
            struct save_state t = e->batch; /* the old text's buffer is the next call's */
            e->batch = e->call;
            e->call = t;
        } else {
            state_drop_doc(q, &e->call);
        }
    }
    q->n_touched = 0;
}

static void saves_clear(struct js_actor_saves *q)
{
    for (size_t i = 0; i < q->n; i++) {
        buf_release(&q->v[i]->batch.doc);
        buf_release(&q->v[i]->call.doc);
        vr_free(q->v[i]);
    }
    q->n = 0;
    q->n_touched = 0;
    q->bytes = 0;
    hmap_release(&q->by_id);
}

void js_actor_saves_flush(struct js_runtime *rt)
{
    struct js_actor_saves *q = &rt->asaves;
    size_t n = 0;
    for (size_t i = 0; i < q->n; i++)
        n += q->v[i]->batch.has_doc;
    if (!n) {
        saves_clear(q);
        return;
    }
    struct buf err = BUF_INIT(4096);
    struct store_txn *t = store_txn_begin(rt->store, 1, &err);
    int ok = t != NULL;
    for (size_t i = 0; ok && i < q->n; i++) {
        const struct js_actor_save *e = q->v[i];
        if (e->batch.has_doc &&
            store_replace_same_keys(t, STORE_ACTOR_TABLE, e->id, STORE_ID_LEN, e->batch.doc.data,
                                    e->batch.doc.len, &err) < 0)
            ok = 0;
    }
    uint64_t version = 0;
    if (ok && store_txn_commit(t, &version, &err) < 0)
        ok = 0;
    if (ok && rt->commit_fn)
        rt->commit_fn(rt->commit_arg, t, version);
    store_txn_free(t); /* rolled back unless it committed */
    if (!ok) {
        /* the calls that made these states have committed and their answers wait for the
         * commit batch: it must fail with them (they get StoreError, the states reload) */
        struct buf why = BUF_INIT(4096);
        buf_appendf(&why, "storing the actor states of a batch of calls failed: %s", err.data);
        log_error("actors", "%s", why.data);
        store_batch_fail(rt->store, why.data);
        buf_release(&why);
    }
    buf_release(&err);
    saves_clear(q);
}

void js_actor_saves_release(struct js_runtime *rt)
{
    saves_clear(&rt->asaves);
    vr_free(rt->asaves.v);
    vr_free(rt->asaves.touched);
    memset(&rt->asaves, 0, sizeof rt->asaves);
}

/* store_vecsnap: vector indexes' rows held in memory (store_vector.c's searches), shared by every
 * connection of the process: a search would otherwise read each row's page again, and a query
 * reader's page cache is emptied by every commit of the loop thread. A snapshot holds one index's
 * rows as of one generation: the `vgen<index id>` value of `_vr_meta`, a random number that
 * every transaction changing the index's rows sets anew (store_vector.c), so a snapshot serves
 * exactly the transactions that see that generation, committed or not (a rolled-back generation
 * is never seen again). Snapshots are keyed by the database's cursor key (unique per database
 * file) and the index id; immutable once built; freed when replaced or evicted and no search
 * holds them. The bytes of all of them stay under the configured limit (least recently used
 * evicted first); an index larger than the limit is searched from SQLite directly.
 * Inserts are the common change (an app adds embeddings), so a second number, `vdel<index id>`,
 * changes only when rows are deleted or replaced: a query reader's snapshot whose delete
 * generation is still current is brought up to date by reading only the rows after its last
 * (rowids grow with _creationTime), instead of all of them. */
#include "store/store_int.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"

#include "base/banned.h"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct st_vecsnap *snaps; /* under mu */
static size_t total_bytes, max_bytes = (size_t)STORE_VECTOR_CACHE_MB_DEFAULT << 20;
static uint64_t ticks, builds, appends; /* snapshots read whole, and brought up to date */

static void snap_free(struct st_vecsnap *v)
{
    vr_free(v->vecs);
    vr_free(v->ids);
    vr_free(v->koff);
    vr_free(v->keys);
    vr_free(v);
}

static void unlink_snap(struct st_vecsnap *v) /* under mu */
{
    for (struct st_vecsnap **p = &snaps; *p; p = &(*p)->next)
        if (*p == v) {
            *p = v->next;
            total_bytes -= v->bytes;
            v->listed = 0;
            if (!v->refs)
                snap_free(v);
            return;
        }
}

/* Evicts the least recently used snapshots until `more` bytes fit (under mu). */
static void evict_for(size_t more)
{
    while (snaps && total_bytes + more > max_bytes) {
        struct st_vecsnap *lru = snaps;
        for (struct st_vecsnap *x = snaps; x; x = x->next)
            if (x->used < lru->used)
                lru = x;
        unlink_snap(lru);
    }
}

void store_vector_cache_limit(size_t bytes)
{
    pthread_mutex_lock(&mu);
    max_bytes = bytes;
    evict_for(0);
    for (struct st_vecsnap *v = snaps, *next; v; v = next) { /* "too big" was for the old limit */
        next = v->next;
        if (v->too_big)
            unlink_snap(v);
    }
    pthread_mutex_unlock(&mu);
}

void st_vecsnap_put(struct st_vecsnap *v)
{
    if (!v)
        return;
    pthread_mutex_lock(&mu);
    if (--v->refs == 0 && !v->listed)
        snap_free(v);
    pthread_mutex_unlock(&mu);
}

/* What v's arrays take (their allocated sizes). */
static size_t snap_bytes(const struct st_vecsnap *v)
{
    return v->cap *
               (v->dims * sizeof(float) + sizeof(*v->ids) + (v->nfilt + 1) * sizeof(*v->koff)) +
           v->kcap;
}

/* A copy of v's rows (to append to while v stays in use). */
static struct st_vecsnap *snap_copy(const struct st_vecsnap *v)
{
    struct st_vecsnap *c = vr_calloc(1, sizeof *c);
    size_t vbytes = v->dims * sizeof(float);
    c->dims = v->dims;
    c->nfilt = v->nfilt;
    c->n = v->n;
    c->klen = v->klen;
    c->max_rowid = v->max_rowid;
    c->cap = v->n + v->n / 8 + 64;
    c->kcap = v->klen + v->klen / 8 + 64;
    c->vecs = vr_malloc(c->cap * vbytes);
    c->ids = vr_malloc(c->cap * sizeof(*c->ids));
    c->koff = vr_malloc(c->cap * (c->nfilt + 1) * sizeof(*c->koff));
    c->keys = vr_malloc(c->kcap);
    memcpy(c->vecs, v->vecs, v->n * vbytes);
    memcpy(c->ids, v->ids, v->n * sizeof(*c->ids));
    memcpy(c->koff, v->koff, v->n * (c->nfilt + 1) * sizeof(*c->koff));
    if (v->klen)
        memcpy(c->keys, v->keys, v->klen);
    return c;
}

/* Reads ix's rows into a snapshot: into `base` (an unlisted one that no search holds), keeping
 * its rows and reading only those after its last (`append`: nothing but inserts happened
 * since), or reusing only its memory (already mapped, so a fresh 30 MiB costs no page faults);
 * or into a new one. NULL when they pass `limit` bytes (too_big set) or on a storage failure
 * (err set); base is freed then. */
static struct st_vecsnap *build(struct store *s, struct st_index *ix, size_t limit,
                                struct st_vecsnap *base, int append, int *too_big, struct buf *err)
{
    struct buf sql = BUF_INIT(4096);
    sqlite3_stmt *st = NULL;
    struct st_vecsnap *v = base ? base : vr_calloc(1, sizeof *v);
    size_t cap = v->cap, kcap = v->kcap, vbytes = ix->dims * sizeof(float);
    int rc;
    if (base && (base->dims != ix->dims || base->nfilt + 1 != ix->nfields)) {
        snap_free(base); /* never the case: an index's shape does not change */
        v = vr_calloc(1, sizeof *v);
        cap = kcap = 0;
        append = 0;
    }
    if (!append) {
        v->n = v->klen = 0;
        v->max_rowid = 0;
    }
    v->dims = ix->dims;
    v->nfilt = (uint32_t)(ix->nfields - 1);
    buf_appendf(&sql, "SELECT id, v, rowid");
    for (uint32_t f = 0; f < v->nfilt; f++)
        buf_appendf(&sql, ", c%u", f);
    buf_appendf(&sql, " FROM v%u WHERE rowid > ?1 ORDER BY rowid", ix->id);
    if (sqlite3_prepare_v2(s->db, sql.data, (int)sql.len, &st, NULL) != SQLITE_OK) {
        st_sqlerr(s, err, "vector search");
        goto fail;
    }
    sqlite3_bind_int64(st, 1, v->max_rowid);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if ((size_t)sqlite3_column_bytes(st, 1) != vbytes ||
            sqlite3_column_bytes(st, 0) != STORE_ID_LEN)
            continue; /* not written by store_vector.c: never the case */
        if (v->n == cap) {
            cap = cap ? cap * 2 : 256;
            v->vecs = vr_realloc(v->vecs, cap * vbytes);
            v->ids = vr_realloc(v->ids, cap * sizeof(*v->ids));
            v->koff = vr_realloc(v->koff, cap * (v->nfilt + 1) * sizeof(*v->koff));
        }
        memcpy(v->vecs + v->n * v->dims, sqlite3_column_blob(st, 1), vbytes);
        memcpy(v->ids[v->n], sqlite3_column_text(st, 0), STORE_ID_LEN + 1);
        v->max_rowid = sqlite3_column_int64(st, 2);
        uint32_t *ko = v->koff + v->n * (v->nfilt + 1);
        ko[0] = (uint32_t)v->klen;
        for (uint32_t f = 0; f < v->nfilt; f++) {
            size_t n = (size_t)sqlite3_column_bytes(st, 3 + (int)f);
            if (v->klen + n > kcap) {
                kcap = (v->klen + n) * 2;
                v->keys = vr_realloc(v->keys, kcap);
            }
            if (n)
                memcpy(v->keys + v->klen, sqlite3_column_blob(st, 3 + (int)f), n);
            v->klen += n;
            ko[f + 1] = (uint32_t)v->klen;
        }
        v->n++;
        v->cap = cap;
        v->kcap = kcap;
        if (snap_bytes(v) > limit || v->klen > UINT32_MAX / 2) {
            *too_big = 1;
            goto fail;
        }
    }
    if (rc != SQLITE_DONE) {
        st_sqlerr(s, err, "vector search");
        goto fail;
    }
    v->bytes = snap_bytes(v); /* also when no row came (a copy appended nothing) */
    sqlite3_finalize(st);
    buf_release(&sql);
    return v;
fail:
    sqlite3_finalize(st);
    buf_release(&sql);
    snap_free(v);
    return NULL;
}

struct st_vecsnap *st_vecsnap_get(struct store *s, struct st_index *ix, int64_t gen, int64_t delgen,
                                  struct buf *err)
{
    struct st_vecsnap *v, *old = NULL, *base = NULL;
    int append = 0;
    pthread_mutex_lock(&mu);
    size_t limit = max_bytes;
    if (limit == 0) {
        pthread_mutex_unlock(&mu);
        return NULL;
    }
    for (v = snaps; v; v = v->next)
        if (v->index_id == ix->id && !memcmp(v->db, s->cursor_key, sizeof v->db))
            break;
    if (v && v->gen == gen) {
        v->used = ++ticks;
        if (v->too_big) {
            pthread_mutex_unlock(&mu);
            return NULL;
        }
        v->refs++;
        pthread_mutex_unlock(&mu);
        return v;
    }
    /* Only inserts since v (the same delete generation), both seen committed (a reader's
     * snapshot): v's rows plus those after its last are the index now. A snapshot built inside
     * the loop thread's open batch may hold rows that roll back: never a base. */
    append = v && !v->too_big && v->committed && s->reader && v->delgen == delgen &&
             v->version <= s->version;  /* not from a newer snapshot than this transaction's */
    if (v && !v->too_big && !v->refs) { /* its memory (and rows, when appending) serve */
        v->refs = 1;
        unlink_snap(v);
        v->refs = 0;
        base = v;
    } else if (append) {
        v->refs++; /* copied outside the lock */
    }
    pthread_mutex_unlock(&mu);
    if (append && !base) {
        base = snap_copy(v);
        st_vecsnap_put(v);
    }
    int too_big = 0;
    struct st_vecsnap *n = build(s, ix, limit, base, append, &too_big, err);
    if (!n && !too_big)
        return NULL;
    if (!n) { /* remembered, so the next search at this generation does not try again */
        n = vr_calloc(1, sizeof *n);
        n->too_big = 1;
    }
    memcpy(n->db, s->cursor_key, sizeof n->db);
    n->index_id = ix->id;
    n->gen = gen;
    n->delgen = delgen;
    n->committed = s->reader;
    n->version = s->version;
    n->refs = n->too_big ? 0 : 1;
    pthread_mutex_lock(&mu);
    if (append)
        appends++;
    else if (!n->too_big)
        builds++;
    for (old = snaps; old; old = old->next) /* another search may have installed one meanwhile */
        if (old->index_id == ix->id && !memcmp(old->db, s->cursor_key, sizeof old->db))
            break;
    if (old)
        unlink_snap(old);
    evict_for(n->bytes);
    if (total_bytes + n->bytes <= max_bytes) {
        n->used = ++ticks;
        n->listed = 1;
        n->next = snaps;
        snaps = n;
        total_bytes += n->bytes;
    }
    struct st_vecsnap *ret = n->too_big ? NULL : n;
    if (!n->listed && !n->refs)
        snap_free(n);
    pthread_mutex_unlock(&mu);
    return ret;
}

void store_vector_cache_stats(struct store_vector_cache_stats *out)
{
    pthread_mutex_lock(&mu);
    out->bytes = total_bytes;
    out->builds = builds;
    out->appends = appends;
    pthread_mutex_unlock(&mu);
}

size_t store_vector_cache_bytes(void)
{
    struct store_vector_cache_stats st;
    store_vector_cache_stats(&st);
    return st.bytes;
}

/* store_write: insert, patch, replace and delete. Document text is spliced, never re-serialized:
 * "_id" and "_creationTime" first, then the caller's fields as the caller wrote them, in the
 * caller's order. Invariant: each write op runs inside its own SAVEPOINT and either changes the
 * document row, every index row and the write set together, or changes nothing. */
#include "store/store_int.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/json_parse.h"
#include "base/mem.h"
#include "base/numfmt.h"
#include "store/key.h"
#include "store/validator.h"
#include "store/value.h"

#include "base/banned.h"

/* ---- a scanner for the top-level fields of a JSON object already validated by jansson ---- */

#define span st_span

static size_t skip_ws(const char *p, size_t n, size_t i)
{
    while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' || p[i] == '\r'))
        i++;
    return i;
}

static size_t skip_string(const char *p, size_t n, size_t i)
{
    for (i++; i < n && p[i] != '"'; i++)
        if (p[i] == '\\')
            i++;
    return i < n ? i + 1 : n;
}

static size_t skip_value(const char *p, size_t n, size_t i)
{
    int depth = 0;
    while (i < n) {
        char c = p[i];
        if (c == '"') {
            i = skip_string(p, n, i);
            if (depth == 0)
                return i;
            continue;
        }
        if (c == '{' || c == '[') {
            depth++;
        } else if (c == '}' || c == ']') {
            if (depth == 0)
                return i;
            if (--depth == 0)
                return i + 1;
        } else if (depth == 0 && (c == ',' || c == ' ' || c == '\t' || c == '\n' || c == '\r')) {
            return i;
        }
        i++;
    }
    return i;
}

size_t st_scan_object(const char *p, size_t n, struct span **out)
{
    size_t cnt = 0, cap = 0, i = skip_ws(p, n, 0);
    *out = NULL;
    if (i >= n || p[i] != '{')
        return 0;
    i = skip_ws(p, n, i + 1);
    while (i < n && p[i] == '"') {
        struct span sp;
        sp.ks = i;
        i = skip_string(p, n, i);
        sp.ke = i;
        i = skip_ws(p, n, i);
        i = skip_ws(p, n, i + 1); /* ':' */
        sp.vs = i;
        i = skip_value(p, n, i);
        sp.ve = i;
        if (cnt == cap) {
            cap = cap ? cap * 2 : 8;
            *out = vr_realloc(*out, cap * sizeof(**out));
        }
        (*out)[cnt++] = sp;
        i = skip_ws(p, n, i);
        if (i < n && p[i] == ',')
            i = skip_ws(p, n, i + 1);
    }
    return cnt;
}

static json_t *span_key(const char *p, const struct span *sp)
{
    /* keys come from text jansson has validated: without an escape they are the bytes between
     * the quotes */
    if (sp->ke - sp->ks >= 2 && !memchr(p + sp->ks, '\\', sp->ke - sp->ks))
        return json_stringn(p + sp->ks + 1, sp->ke - sp->ks - 2);
    return json_parse(p + sp->ks, sp->ke - sp->ks, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
}

/* ---- helpers ---- */

/* Every write begins here, so it also clears the previous call's error kind. */
static int op_check(struct store_txn *t, struct buf *err)
{
    t->s->err_kind = STORE_ERR_OTHER;
    if (!t->open)
        return buf_fail(err, "transaction is not open");
    if (!t->writable)
        return buf_fail(err, "cannot write in a read-only transaction");
    return st_txn_alive(t, err); /* SQLite may have rolled it back (SQLITE_FULL, I/O) */
}

/* Parses caller JSON that must be an object of user fields. */
static json_t *parse_fields(struct store *s, const char *json, size_t len, const char *what,
                            struct buf *err)
{
    json_error_t je;
    json_t *v = NULL;
    if (len > STORE_MAX_DOC) {
        st_failk(s, STORE_ERR_TOO_LARGE, err, "%s is too large (%zu bytes, the limit is %u)", what,
                 len, STORE_MAX_DOC);
        return NULL;
    }
    v = json_parse(json, len, STORE_JSON_FLAGS, &je);
    if (!v) {
        buf_fail(err, "%s is not valid JSON: %s", what, je.text);
        return NULL;
    }
    if (value_type_of(v, NULL, NULL) != VT_OBJECT) {
        buf_fail(err, "%s must be an object, got %s", what,
                 value_type_name(value_type_of(v, NULL, NULL)));
        goto bad;
    }
    const char *k;
    json_t *fv;
    json_object_foreach(v, k, fv) {
        if (k[0] == '_' || k[0] == '$') {
            st_failk(s, STORE_ERR_RESERVED, err,
                     "field name `%s` is reserved: top-level field names may not start with "
                     "'_' or '$'",
                     k);
            goto bad;
        }
    }
    int vr = value_check(v, "field", err);
    if (vr < 0) {
        s->err_kind = vr == VALUE_TOO_DEEP ? STORE_ERR_TOO_DEEP : STORE_ERR_OTHER;
        goto bad;
    }
    return v;
bad:
    json_decref(v);
    return NULL;
}

static const char *id_table_cb(void *arg, const char *id, size_t len)
{
    return store_id_table(arg, id, len);
}

/* Validates the user fields of `doc` (system fields ignored) against the table's validator. */
static int validate(struct store *s, struct st_table *tb, const json_t *doc, struct buf *err)
{
    if (!tb->validator)
        return 0;
    json_t *copy = NULL; /* an inserted document has no system fields: no copy then */
    if (json_object_get(doc, "_id") || json_object_get(doc, "_creationTime")) {
        copy = json_copy((json_t *)doc);
        json_object_del(copy, "_id");
        json_object_del(copy, "_creationTime");
    }
    struct validator_ctx ctx = { "field", id_table_cb, s };
    struct buf msg = BUF_INIT(4096);
    int r = validator_check_convex_compiled(&ctx, tb->validator_v, copy ? copy : doc, &msg);
    if (r < 0) /* Convex's text */
        st_failk(s, STORE_ERR_SCHEMA, err,
                 "Failed to insert or update a document in table \"%s\" because it does not match "
                 "the schema: %s",
                 tb->name, msg.data);
    buf_release(&msg);
    json_decref(copy);
    return r;
}

static void append_ct(struct buf *out, double ct)
{
    char tmp[NUMFMT_MAX];
    size_t n = numfmt_double(tmp, ct);
    buf_append(out, tmp, n);
}

static int doc_head(struct buf *out, const char *id, double ct)
{
    buf_append_str(out, "{\"_id\":\"");
    buf_append_str(out, id);
    buf_append_str(out, "\",\"_creationTime\":");
    append_ct(out, ct);
    return 0;
}

/* doc_head of a stored document: its own head's bytes (every stored text begins with what
 * doc_head wrote for it), so that the creation time is not formatted again; doc_head when the
 * text does not begin as expected. */
static void doc_head_of(struct buf *out, const struct buf *stored, const char *id, double ct)
{
    size_t n = strlen(id);
    const char *p = stored->data, *end = stored->data + stored->len;
    static const char a[] = "{\"_id\":\"", b[] = "\",\"_creationTime\":";
    if (stored->len > sizeof a + n + sizeof b && !memcmp(p, a, sizeof a - 1) &&
        !memcmp(p + sizeof a - 1, id, n) && !memcmp(p + sizeof a - 1 + n, b, sizeof b - 1)) {
        const char *q = p + sizeof a - 1 + n + sizeof b - 1, *num = q;
        while (q < end && *q != ',' && *q != '}')
            q++;
        if (q < end && q > num) {
            buf_append(out, p, (size_t)(q - p));
            return;
        }
    }
    doc_head(out, id, ct);
}

static void doc_field(struct buf *out, const char *p, const struct span *sp, const char *vp,
                      const struct span *vsp)
{
    buf_append_byte(out, ',');
    buf_append(out, p + sp->ks, sp->ke - sp->ks);
    buf_append_byte(out, ':');
    buf_append(out, vp + vsp->vs, vsp->ve - vsp->vs);
}

static int doc_finish(struct store *s, struct buf *out, struct buf *err)
{
    if (buf_append_byte(out, '}') < 0 || out->len > STORE_MAX_DOC)
        return st_failk(s, STORE_ERR_TOO_LARGE, err,
                        "document is too large (the limit is %u bytes of JSON)", STORE_MAX_DOC);
    return 0;
}

/* the most a document's system fields add: {"_id":"<id>","_creationTime":<number>, */
#define DOC_HEAD_MAX (sizeof "{\"_id\":\"\",\"_creationTime\":," + STORE_ID_LEN + NUMFMT_MAX)

int store_doc_fits(size_t len)
{
    return len <= STORE_MAX_DOC - DOC_HEAD_MAX;
}

static int step_blob2(struct store *s, sqlite3_stmt *st, const struct buf *a, const void *b,
                      size_t blen, int b_text, struct buf *err)
{
    if (!st)
        return -1;
    sqlite3_bind_blob(st, 1, a->data, (int)a->len, SQLITE_STATIC);
    if (b) {
        if (b_text)
            sqlite3_bind_text(st, 2, b, (int)blen, SQLITE_STATIC);
        else
            sqlite3_bind_blob(st, 2, b, (int)blen, SQLITE_STATIC);
    }
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return st_sqlerr(s, err, "write");
    return 0;
}

/* A write op is all or nothing without a SQL savepoint of its own (two statements per op on
 * the hot path): every check that can fail on input runs before the first row changes, so a
 * failure after that is a storage failure, and it poisons the transaction, which then can only
 * roll back. */
static int savepoint(struct store_txn *t, size_t *mark, struct buf *err)
{
    *mark = t->ws.len;
    t->op_changes = sqlite3_total_changes(t->s->db);
    return 0;
}

static int savepoint_end(struct store_txn *t, int r, size_t mark)
{
    if (r == 0) {
        t->wrote = 1;
        return 0;
    }
    if (sqlite3_total_changes(t->s->db) != t->op_changes)
        t->poisoned = 1;
    st_write_truncate(t, mark);
    return -1;
}

static void id_key(struct buf *k, const char *id, size_t len)
{
    buf_reset(k);
    key_encode_string(k, id, len);
}

/* ---- insert ---- */

int store_insert(struct store_txn *t, const char *table, const char *doc_json, size_t len,
                 char id_out[STORE_ID_LEN + 1], struct buf *err)
{
    return st_insert_file(t, table, doc_json, len, 0, id_out, err);
}

int st_insert_file(struct store_txn *t, const char *table, const char *doc_json, size_t len,
                   uint64_t file_bytes, char id_out[STORE_ID_LEN + 1], struct buf *err)
{
    return st_insert_as(t, table, doc_json, len, file_bytes, NULL, NAN, id_out, err);
}

int st_insert_as(struct store_txn *t, const char *table, const char *doc_json, size_t len,
                 uint64_t file_bytes, const char *given_id, double given_ct,
                 char id_out[STORE_ID_LEN + 1], struct buf *err)
{
    struct store *s = t->s;
    struct buf text = BUF_INIT(STORE_MAX_DOC + 64), dk = BUF_INIT(STORE_MAX_KEY),
               none = BUF_INIT(0);
    struct buf *keys = NULL;
    size_t nkeys = 0;
    struct span *sp = NULL;
    json_t *doc = NULL;
    size_t mark = 0;
    int r = -1, in_sp = 0;
    char id[STORE_ID_LEN + 1];
    if (op_check(t, err) < 0)
        goto out;
    if (!(doc = parse_fields(s, doc_json, len, "document", err)))
        goto out;
    struct st_table *tb = st_table_find(s, table);
    if (!tb || (!tb->declared && !st_table_open(s, tb->name))) {
        if (!st_table_open(s, table)) {
            st_failk(s, STORE_ERR_SCHEMA, err, "table `%.64s` is not in the schema", table);
            goto out;
        }
        if (st_table_create(s, table, &tb, err) < 0)
            goto out;
    }
    if (s->validate && validate(s, tb, doc, err) < 0)
        goto out;
    if (s->batch && s->test_fail_table && !strcmp(table, s->test_fail_table))
        s->batch_fail = 1;
    if (s->batch && s->test_fail_sync_table && !strcmp(table, s->test_fail_sync_table))
        st_vfs_fail_sync(s);
    if (savepoint(t, &mark, err) < 0)
        goto out;
    in_sp = 1;
    double ct = given_ct;
    int given_ct_set = !isnan(given_ct);
    if (given_id) {
        uint32_t num;
        if (st_id_decode(given_id, strlen(given_id), &num) < 0 || num != tb->num) {
            st_failk(s, STORE_ERR_INVALID_ID, err, "`%.64s` is not an id of table `%s`",
                     given_id, tb->name);
            goto out;
        }
        memcpy(id, given_id, sizeof id);
    } else {
        st_id_new(tb->num, id);
    }
    if (isnan(ct)) {
        ct = clock_wall_ms();
        if (!(ct > s->last_ct))
            ct = nextafter(s->last_ct, INFINITY);
    } else if (!(ct >= 0 && ct <= STORE_CT_MAX)) {
        st_failk(s, STORE_ERR_INVALID_CT, err,
                 "_creationTime must be a number of milliseconds from 0 to 8.64e15 (a JavaScript "
                 "Date's range)");
        goto out;
    }
    buf_grow(&text, len + 64 + STORE_ID_LEN); /* one allocation: the head and the fields */
    doc_head(&text, id, ct);
    size_t n = st_scan_object(doc_json, len, &sp);
    for (size_t i = 0; i < n; i++)
        doc_field(&text, doc_json, &sp[i], doc_json, &sp[i]);
    if (doc_finish(s, &text, err) < 0)
        goto out;
    id_key(&dk, id, STORE_ID_LEN);
    /* every key first: a key that is too large must fail the insert before any row changes */
    keys = vr_calloc(tb->nidx, sizeof *keys);
    nkeys = tb->nidx;
    for (size_t i = 1; i < tb->nidx; i++) {
        buf_init(&keys[i], STORE_MAX_KEY);
        if (st_index_key(tb->idx[i], doc, ct, id, &keys[i]) < 0) {
            st_failk(s, STORE_ERR_TOO_LARGE, err, "index key for `%s` is too large",
                     tb->idx[i]->name);
            goto out;
        }
    }
    if (st_txn_write(t, tb, STORE_ID_LEN + text.len, err) < 0) /* the transaction limits */
        goto out;
    /* the storage limit, before the first row changes: the document, its index rows (each
     * holds the by_id key) and its search index entries */
    uint64_t grow = text.len + dk.len;
    for (size_t i = 1; i < tb->nidx; i++)
        grow += keys[i].len + dk.len;
    if (st_quota_check(t, grow + (tb->nsidx ? text.len : 0), tb->nidx + tb->nsidx, file_bytes,
                       err) < 0)
        goto out;
    /* a given id already taken fails the document's row, the first to change, which changes
     * nothing (its primary key says so: a lookup before it cost an import a quarter of its time) */
    if (step_blob2(s, st_prep(s, &tb->ins, err, "INSERT INTO d%u(k, j) VALUES (?1, ?2)", tb->num),
                   &dk, text.data, text.len, 1, err) < 0) {
        if (given_id && sqlite3_extended_errcode(s->db) == SQLITE_CONSTRAINT_PRIMARYKEY)
            st_failk(s, STORE_ERR_INVALID_ID, err, "a document with id `%s` already exists in `%s`",
                     id, tb->name);
        goto out;
    }
    st_write_add(t, tb->idx[0]->id, &none, &dk);
    for (size_t i = 1; i < tb->nidx; i++) {
        struct st_index *ix = tb->idx[i];
        if (step_blob2(s, st_prep(s, &ix->ins, err, "INSERT INTO i%u(k, d) VALUES (?1, ?2)", ix->id),
                       &keys[i], dk.data, dk.len, 0, err) < 0)
            goto out;
        st_write_add(t, ix->id, &none, &keys[i]);
    }
    if (tb->nsidx && st_search_write(t, tb, NULL, doc, ct, id, &dk, err) < 0)
        goto out;
    if (!given_ct_set) /* a given one (an import's) is not the clock's: new ones do not follow it */
        s->last_ct = ct;
    memcpy(id_out, id, sizeof(id));
    t->files_delta += (int64_t)file_bytes;
    r = 0;
out:
    if (in_sp)
        r = savepoint_end(t, r, mark);
    vr_free(sp);
    json_decref(doc);
    buf_release(&text);
    buf_release(&dk);
    for (size_t i = 0; i < nkeys; i++)
        buf_release(&keys[i]);
    vr_free(keys);
    return r;
}

/* ---- loading an existing document ---- */

struct loaded {
    struct st_table *tb;
    struct buf dk;   /* by_id key */
    struct buf text; /* stored JSON */
    json_t *doc;
    double ct;
    char id[STORE_ID_LEN + 1];
};

/* Reads the stored text of document id (and its table and by_id key) into l. */
static int load_text(struct store_txn *t, const char *id, size_t id_len, struct loaded *l,
                     struct buf *err)
{
    struct store *s = t->s;
    uint32_t num;
    if (st_id_decode(id, id_len, &num) < 0)
        return st_failk(s, STORE_ERR_INVALID_ID, err, "invalid id `%.*s`",
                        (int)(id_len > 64 ? 64 : id_len), id);
    memcpy(l->id, id, STORE_ID_LEN);
    l->id[STORE_ID_LEN] = '\0';
    if (!(l->tb = st_table_by_num(s, num)))
        return st_failk(s, STORE_ERR_NOT_FOUND, err, "document `%s` not found", l->id);
    if (!l->tb->declared && !st_table_open(s, l->tb->name))
        return st_failk(s, STORE_ERR_SCHEMA, err, "table `%s` is not in the schema", l->tb->name);
    id_key(&l->dk, id, id_len);
    sqlite3_stmt *st = st_prep(s, &l->tb->get, err, "SELECT j FROM d%u WHERE k = ?1", l->tb->num);
    if (!st)
        return -1;
    sqlite3_bind_blob(st, 1, l->dk.data, (int)l->dk.len, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        buf_append(&l->text, sqlite3_column_text(st, 0), (size_t)sqlite3_column_bytes(st, 0));
    sqlite3_reset(st);
    if (rc == SQLITE_DONE)
        return st_failk(s, STORE_ERR_NOT_FOUND, err, "document `%s` not found", l->id);
    if (rc != SQLITE_ROW)
        return st_sqlerr(s, err, "get");
    return 0;
}

/* Sets l->doc (the parse of l->text, or a new reference to `parsed`) and l->ct. */
static int parse_loaded(struct loaded *l, const json_t *parsed, struct buf *err)
{
    l->doc = parsed ? json_incref((json_t *)parsed)
                    : json_parse(l->text.data, l->text.len, STORE_JSON_FLAGS, NULL);
    if (!l->doc)
        return buf_fail(err, "document `%s` is corrupt", l->id);
    l->ct = json_number_value(json_object_get(l->doc, "_creationTime"));
    return 0;
}

static int load(struct store_txn *t, const char *id, size_t id_len, struct loaded *l,
                struct buf *err)
{
    if (load_text(t, id, id_len, l, err) < 0)
        return -1;
    return parse_loaded(l, NULL, err);
}

/* 1 when top-level field `key` (len bytes) is one an index of tb reads (an index's path's
 * first segment) */
static int indexed_field(const struct st_table *tb, const char *key, size_t len)
{
    for (size_t i = 1; i < tb->nidx; i++) {
        const struct st_index *ix = tb->idx[i];
        for (size_t f = 0; f < ix->nfields; f++) {
            const char *path = ix->fields[f], *dot = strchr(path, '.');
            size_t n = dot ? (size_t)(dot - path) : strlen(path);
            if (n == len && !memcmp(path, key, len))
                return 1;
        }
    }
    return 0;
}

/* load for a replace: l->doc holds only what the update reads of the old document (its
 * creation time and the fields its indexes read: the old index keys), parsed from their spans
 * rather than the whole text; the whole parse when the table has search indexes. */
static int load_indexed(struct store_txn *t, const char *id, size_t id_len, struct loaded *l,
                        struct buf *err)
{
    if (load_text(t, id, id_len, l, err) < 0)
        return -1;
    if (l->tb->nsidx)
        return parse_loaded(l, NULL, err);
    struct span *sp = NULL;
    const char *p = l->text.data;
    size_t n = st_scan_object(p, l->text.len, &sp);
    json_t *doc = json_object();
    int ok = doc != NULL && n > 0;
    for (size_t i = 0; ok && i < n; i++) {
        json_t *k = span_key(p, &sp[i]);
        const char *ks = json_string_value(k);
        size_t kl = json_string_length(k);
        if (!ks) {
            ok = 0;
        } else if ((kl == 13 && !memcmp(ks, "_creationTime", 13)) ||
                   indexed_field(l->tb, ks, kl)) {
            json_t *v = json_parse(p + sp[i].vs, sp[i].ve - sp[i].vs,
                                   STORE_JSON_FLAGS | JSON_DECODE_ANY, NULL);
            ok = v && json_object_setn_new(doc, ks, kl, v) == 0;
        }
        json_decref(k);
    }
    vr_free(sp);
    if (!ok || !json_is_number(json_object_get(doc, "_creationTime"))) {
        json_decref(doc);
        return buf_fail(err, "document `%s` is corrupt", l->id);
    }
    int r = parse_loaded(l, doc, err); /* takes its own reference */
    json_decref(doc);
    return r;
}

static void loaded_init(struct loaded *l)
{
    memset(l, 0, sizeof(*l));
    buf_init(&l->dk, STORE_MAX_KEY);
    buf_init(&l->text, BUF_NOLIMIT);
}

static void loaded_release(struct loaded *l)
{
    buf_release(&l->dk);
    buf_release(&l->text);
    json_decref(l->doc);
}

/* Stores new_text for the loaded document and moves its index rows; records the write set.
 * nd: the parse of new_text (borrowed). old_keys: the document's index keys as st_memo keeps
 * them (then l->doc is not needed), or NULL; keys_out: where the new ones are appended that way,
 * or NULL. */
static int update_parsed(struct store_txn *t, struct loaded *l, const struct buf *new_text,
                         const json_t *nd, const struct buf *old_keys, struct buf *keys_out,
                         struct buf *err)
{
    struct store *s = t->s;
    struct st_table *tb = l->tb;
    struct buf ok = BUF_INIT(STORE_MAX_KEY), nk = BUF_INIT(STORE_MAX_KEY);
    int r = -1;
    if (s->validate && validate(s, tb, nd, err) < 0)
        goto out;
    if (step_blob2(s, st_prep(s, &tb->upd, err, "UPDATE d%u SET j = ?2 WHERE k = ?1", tb->num),
                   &l->dk, new_text->data, new_text->len, 1, err) < 0)
        goto out;
    st_write_add(t, tb->idx[0]->id, &l->dk, &l->dk);
    size_t at = 0; /* in old_keys */
    for (size_t i = 1; i < tb->nidx; i++) {
        struct st_index *ix = tb->idx[i];
        if (old_keys) {
            size_t n;
            memcpy(&n, old_keys->data + at, sizeof n);
            buf_reset(&ok);
            buf_append(&ok, old_keys->data + at + sizeof n, n);
            at += sizeof n + n;
        }
        if ((!old_keys && st_index_key(ix, l->doc, l->ct, l->id, &ok) < 0) ||
            st_index_key(ix, nd, l->ct, l->id, &nk) < 0) {
            st_failk(s, STORE_ERR_TOO_LARGE, err, "index key for `%s` is too large", ix->name);
            goto out;
        }
        if (keys_out && (buf_append(keys_out, &nk.len, sizeof nk.len) < 0 ||
                         buf_append(keys_out, nk.data, nk.len) < 0)) {
            buf_fail(err, "out of memory");
            goto out;
        }
        if (ok.len != nk.len || memcmp(ok.data, nk.data, ok.len) != 0) {
            if (step_blob2(s, st_prep(s, &ix->del, err, "DELETE FROM i%u WHERE k = ?1", ix->id),
                           &ok, NULL, 0, 0, err) < 0 ||
                step_blob2(s, st_prep(s, &ix->ins, err, "INSERT INTO i%u(k, d) VALUES (?1, ?2)",
                                      ix->id),
                           &nk, l->dk.data, l->dk.len, 0, err) < 0)
                goto out;
        }
        st_write_add(t, ix->id, &ok, &nk);
    }
    if (tb->nsidx && st_search_write(t, tb, l->doc, nd, l->ct, l->id, &l->dk, err) < 0)
        goto out;
    r = 0;
out:
    buf_release(&ok);
    buf_release(&nk);
    return r;
}

/* The storage limit for a patch or replace that grows a document (one that does not grow it
 * always passes, so an update can free space): the growth in the document and, at most as much,
 * in each of its index keys. */
static int grow_check(struct store_txn *t, const struct st_table *tb, size_t old_len,
                      const struct buf *new_text, struct buf *err)
{
    if (new_text->len <= old_len)
        return 0;
    uint64_t d = new_text->len - old_len;
    return st_quota_check(t, d * (tb->nidx + tb->nsidx), tb->nidx + tb->nsidx, 0, err);
}

int store_patch(struct store_txn *t, const char *id, size_t id_len, const char *fields_json,
                size_t len, const char *const *remove_fields, size_t n_remove, struct buf *err)
{
    struct store *s = t->s;
    struct loaded l;
    struct buf text = BUF_INIT(STORE_MAX_DOC + 64);
    struct span *osp = NULL, *psp = NULL;
    json_t *patch = NULL, *okeys = json_object(), *pmap = json_object(), *nd = NULL;
    size_t mark = 0;
    int r = -1, in_sp = 0;
    loaded_init(&l);
    if (op_check(t, err) < 0)
        goto out;
    for (size_t i = 0; i < n_remove; i++) {
        if (remove_fields[i][0] == '_' || remove_fields[i][0] == '$') {
            st_failk(s, STORE_ERR_RESERVED, err,
                     "field name `%s` is reserved: system fields may not be changed",
                     remove_fields[i]);
            goto out;
        }
    }
    if (!(patch = parse_fields(s, fields_json, len, "patch", err)))
        goto out;
    if (load(t, id, id_len, &l, err) < 0)
        goto out;
    if (savepoint(t, &mark, err) < 0)
        goto out;
    in_sp = 1;
    size_t on = st_scan_object(l.text.data, l.text.len, &osp);
    size_t pn = st_scan_object(fields_json, len, &psp);
    for (size_t j = 0; j < pn; j++) {
        json_t *pk = span_key(fields_json, &psp[j]);
        if (pk)
            json_object_setn_new(pmap, json_string_value(pk), json_string_length(pk),
                                 json_integer((json_int_t)j));
        json_decref(pk);
    }
    buf_append_byte(&text, '{');
    int first = 1;
    for (size_t i = 0; i < on; i++) {
        json_t *key = span_key(l.text.data, &osp[i]);
        const char *ks = json_string_value(key);
        size_t kl = json_string_length(key);
        int removed = 0;
        for (size_t j = 0; ks && j < n_remove; j++)
            if (strlen(remove_fields[j]) == kl && !memcmp(remove_fields[j], ks, kl))
                removed = 1;
        const struct span *src = &osp[i];
        const char *srcp = l.text.data;
        json_t *pj = ks ? json_object_getn(pmap, ks, kl) : NULL;
        if (pj) {
            src = &psp[json_integer_value(pj)];
            srcp = fields_json;
            removed = 0;
        }
        if (ks)
            json_object_setn(okeys, ks, kl, json_true());
        json_decref(key);
        if (removed)
            continue;
        if (!first)
            buf_append_byte(&text, ',');
        first = 0;
        buf_append(&text, l.text.data + osp[i].ks, osp[i].ke - osp[i].ks);
        buf_append_byte(&text, ':');
        buf_append(&text, srcp + src->vs, src->ve - src->vs);
    }
    for (size_t j = 0; j < pn; j++) {
        json_t *pk = span_key(fields_json, &psp[j]);
        int seen = pk && json_object_getn(okeys, json_string_value(pk), json_string_length(pk));
        json_decref(pk);
        if (!seen)
            doc_field(&text, fields_json, &psp[j], fields_json, &psp[j]);
    }
    if (doc_finish(s, &text, err) < 0)
        goto out;
    /* the spliced text's parse, without parsing it: the old fields, less the removed, with the
     * patch's (parsed above from the very bytes spliced in) */
    nd = json_copy(l.doc);
    for (size_t i = 0; i < n_remove; i++)
        json_object_del(nd, remove_fields[i]);
    json_object_update(nd, patch);
    if (st_txn_write(t, l.tb, STORE_ID_LEN + text.len, err) < 0 ||
        grow_check(t, l.tb, l.text.len, &text, err) < 0)
        goto out;
    r = update_parsed(t, &l, &text, nd, NULL, NULL, err);
out:
    if (in_sp)
        r = savepoint_end(t, r, mark);
    json_decref(nd);
    vr_free(osp);
    vr_free(psp);
    json_decref(patch);
    json_decref(okeys);
    json_decref(pmap);
    buf_release(&text);
    loaded_release(&l);
    return r;
}

/* The replace of a document the memo holds, by a caller that guarantees the new document is a
 * valid one whose indexed fields equal the stored one's: no parse, the memo's index keys. */
static int replace_same_keys(struct store_txn *t, const struct st_memo *m, const char *doc_json,
                             size_t len, struct buf *err)
{
    struct store *s = t->s;
    struct buf text = BUF_INIT(STORE_MAX_DOC + 64), dk = BUF_INIT(STORE_MAX_KEY),
               k = BUF_INIT(STORE_MAX_KEY);
    struct span *sp = NULL;
    size_t mark = 0, at = 0;
    int r = -1;
    struct st_table *tb = m->tb;
    id_key(&dk, m->id, STORE_ID_LEN);
    if (savepoint(t, &mark, err) < 0)
        goto out;
    buf_reserve(&text, m->head.len + len + 1);
    buf_append(&text, m->head.data, m->head.len);
    size_t old_len = m->text_len;
    if (len > 2 && doc_json[0] == '{' && doc_json[1] == '"') { /* compact: its fields as they are */
        buf_append_byte(&text, ',');
        buf_append(&text, doc_json + 1, len - 2);
    } else {
        size_t n = st_scan_object(doc_json, len, &sp);
        for (size_t i = 0; i < n; i++)
            doc_field(&text, doc_json, &sp[i], doc_json, &sp[i]);
    }
    if (doc_finish(s, &text, err) < 0 || st_txn_write(t, tb, STORE_ID_LEN + text.len, err) < 0 ||
        grow_check(t, tb, old_len, &text, err) < 0 ||
        step_blob2(s, st_prep(s, &tb->upd, err, "UPDATE d%u SET j = ?2 WHERE k = ?1", tb->num),
                   &dk, text.data, text.len, 1, err) < 0)
        goto out;
    st_write_add(t, tb->idx[0]->id, &dk, &dk);
    for (size_t i = 1; i < tb->nidx; i++) { /* the rows stay; the write set names them */
        size_t kn;
        memcpy(&kn, m->keys.data + at, sizeof kn);
        buf_reset(&k);
        buf_append(&k, m->keys.data + at + sizeof kn, kn);
        at += sizeof kn + kn;
        st_write_add(t, tb->idx[i]->id, &k, &k);
    }
    r = 0;
    st_memo_replaced(s, text.len); /* the same head and keys */
out:
    r = savepoint_end(t, r, mark);
    vr_free(sp);
    buf_release(&k);
    buf_release(&dk);
    buf_release(&text);
    return r;
}

int store_replace_same_keys(struct store_txn *t, const char *table, const char *id,
                            size_t id_len, const char *doc_json, size_t len, struct buf *err)
{
    struct store *s = t->s;
    const struct st_memo *m = st_memo_get(s, id, id_len);
    if (m && !strcmp(m->tb->name, table) && !(s->validate && m->tb->validator) &&
        len <= STORE_MAX_DOC && op_check(t, err) == 0)
        return replace_same_keys(t, m, doc_json, len, err);
    const char *tb = store_id_table(s, id, id_len);
    if (!tb || strcmp(tb, table)) {
        buf_fail(err, "document `%.*s` is not in `%s`", (int)id_len, id, table);
        return -1;
    }
    return store_replace(t, id, id_len, doc_json, len, err);
}

int store_replace(struct store_txn *t, const char *id, size_t id_len, const char *doc_json,
                  size_t len, struct buf *err)
{
    struct store *s = t->s;
    struct loaded l;
    struct buf text = BUF_INIT(STORE_MAX_DOC + 64), keys = BUF_INIT(BUF_NOLIMIT);
    const struct st_memo *m = NULL;
    struct span *sp = NULL;
    json_t *doc = NULL;
    size_t mark = 0, head_len = 0;
    int r = -1, in_sp = 0;
    loaded_init(&l);
    if (op_check(t, err) < 0)
        goto out;
    if (!(doc = parse_fields(s, doc_json, len, "document", err)))
        goto out;
    m = st_memo_get(s, id, id_len); /* replaced before in this batch */
    if (m) {
        memcpy(l.id, m->id, sizeof l.id);
        l.tb = m->tb;
        l.ct = m->ct;
        id_key(&l.dk, id, id_len);
    } else if (load_indexed(t, id, id_len, &l, err) < 0) {
        goto out;
    }
    if (savepoint(t, &mark, err) < 0)
        goto out;
    in_sp = 1;
    if (m)
        buf_append(&text, m->head.data, m->head.len);
    else
        doc_head_of(&text, &l.text, l.id, l.ct);
    head_len = text.len;
    size_t old_len = m ? m->text_len : l.text.len;
    size_t n = st_scan_object(doc_json, len, &sp);
    for (size_t i = 0; i < n; i++)
        doc_field(&text, doc_json, &sp[i], doc_json, &sp[i]);
    if (doc_finish(s, &text, err) < 0 ||
        st_txn_write(t, l.tb, STORE_ID_LEN + text.len, err) < 0 ||
        grow_check(t, l.tb, old_len, &text, err) < 0)
        goto out;
    /* the new document's parse without parsing it again: the fields' parse plus the system
     * fields, which is what the spliced text parses to (numbers are reals: STORE_JSON_FLAGS) */
    if (json_object_set_new(doc, "_id", json_string(l.id)) < 0 ||
        json_object_set_new(doc, "_creationTime", json_real(l.ct)) < 0) {
        buf_fail(err, "out of memory");
        goto out;
    }
    r = update_parsed(t, &l, &text, doc, m ? &m->keys : NULL, &keys, err);
out:
    if (in_sp)
        r = savepoint_end(t, r, mark);
    if (r == 0)
        st_memo_keep(s, l.id, l.tb, l.ct, text.data, head_len, text.len, &keys);
    buf_release(&keys);
    vr_free(sp);
    json_decref(doc);
    buf_release(&text);
    loaded_release(&l);
    return r;
}

int store_delete(struct store_txn *t, const char *id, size_t id_len, struct buf *err)
{
    struct store *s = t->s;
    struct loaded l;
    struct buf k = BUF_INIT(STORE_MAX_KEY), none = BUF_INIT(0);
    size_t mark = 0;
    int r = -1, in_sp = 0;
    loaded_init(&l);
    if (op_check(t, err) < 0 || load(t, id, id_len, &l, err) < 0 ||
        st_txn_write(t, l.tb, STORE_ID_LEN, err) < 0)
        goto out;
    if (savepoint(t, &mark, err) < 0)
        goto out;
    in_sp = 1;
    struct st_table *tb = l.tb;
    if (step_blob2(s, st_prep(s, &tb->del, err, "DELETE FROM d%u WHERE k = ?1", tb->num), &l.dk,
                   NULL, 0, 0, err) < 0)
        goto out;
    st_write_add(t, tb->idx[0]->id, &l.dk, &none);
    for (size_t i = 1; i < tb->nidx; i++) {
        struct st_index *ix = tb->idx[i];
        if (st_index_key(ix, l.doc, l.ct, l.id, &k) < 0) {
            st_failk(s, STORE_ERR_TOO_LARGE, err, "index key for `%s` is too large", ix->name);
            goto out;
        }
        if (step_blob2(s, st_prep(s, &ix->del, err, "DELETE FROM i%u WHERE k = ?1", ix->id), &k,
                       NULL, 0, 0, err) < 0)
            goto out;
        st_write_add(t, ix->id, &k, &none);
    }
    if (tb->nsidx && st_search_write(t, tb, l.doc, NULL, l.ct, l.id, &l.dk, err) < 0)
        goto out;
    if (!strcmp(tb->name, STORE_STORAGE_TABLE)) { /* a stored file: its bytes go at commit */
        double size = json_number_value(json_object_get(l.doc, "size"));
        if (size > 0)
            t->files_delta -= (int64_t)size;
    }
    r = 0;
out:
    if (in_sp)
        r = savepoint_end(t, r, mark);
    buf_release(&k);
    loaded_release(&l);
    return r;
}

/* ---- internal rewrites (system tables) ---- */

int st_doc_rewrite(struct store_txn *t, const char *id, const char *expect, size_t expect_len,
                   const json_t *expect_doc, st_rewrite_fn fn, void *arg, struct buf *err)
{
    struct store *s = t->s;
    struct loaded l;
    struct buf text = BUF_INIT(STORE_MAX_DOC + 64);
    json_t *nd = NULL;
    size_t mark = 0;
    int r = -1, in_sp = 0;
    loaded_init(&l);
    if (op_check(t, err) < 0 || load_text(t, id, strlen(id), &l, err) < 0)
        goto out;
    if (expect && (l.text.len != expect_len || memcmp(l.text.data, expect, expect_len))) {
        st_failk(s, STORE_ERR_CHANGED, err, "document `%s` changed since it was read", l.id);
        goto out;
    }
    if (parse_loaded(&l, expect ? expect_doc : NULL, err) < 0 ||
        fn(arg, l.text.data, l.text.len, l.doc, &text, &nd, err) < 0)
        goto out;
    if (doc_finish(s, &text, err) < 0 || savepoint(t, &mark, err) < 0)
        goto out;
    in_sp = 1;
    r = update_parsed(t, &l, &text, nd, NULL, NULL, err);
out:
    if (in_sp)
        r = savepoint_end(t, r, mark);
    json_decref(nd);
    buf_release(&text);
    loaded_release(&l);
    return r;
}

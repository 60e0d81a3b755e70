/* store_search: full-text search indexes (Convex's searchIndex), each an SQLite FTS5 table
 * f<index id>(t, k UNINDEXED, c0.. UNINDEXED) in the shard's database: t is the document's
 * search field (empty when it is not a string), k its by_id key, c<i> the key encoding of its
 * i-th filter field; the rowid is the bits of its _creationTime (unique in a store, and ordered
 * like it), so "newest first" is rowid descending. Tokenizer: unicode61 with diacritics folded.
 * Reactivity: a search index has its own key space in read and write sets: a document's key is
 * the encodings of its filter field values in declared order, then its id; a query reads the
 * range of keys that start with the values it binds with eq (the longest leading run of the
 * declared filter fields it binds). Invariant: the FTS rows change in the same transaction, and
 * the same write op, as the document. */
#include "store/store_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "store/key.h"

#include "base/banned.h"

static const char TOKENIZER[] = "unicode61 remove_diacritics 2";

static sqlite3_int64 ct_rowid(double ct)
{
    sqlite3_int64 r;
    memcpy(&r, &ct, sizeof r); /* ct > 0: the bits order like the value */
    return r;
}

static const char *search_text(const struct st_index *ix, const json_t *doc)
{
    const json_t *v = st_lookup_path(doc, ix->fields[0]);
    return json_is_string(v) ? json_string_value(v) : "";
}

/* The document's key in the search index's key space (filter values, then id). */
static int search_key(const struct st_index *ix, const json_t *doc, const char *id,
                      struct buf *out)
{
    json_t *idv = json_string(id);
    int r = 0;
    buf_reset(out);
    for (size_t i = 1; r == 0 && i < ix->nfields; i++)
        r = key_encode_value(out, st_lookup_path(doc, ix->fields[i]));
    if (r == 0)
        r = key_encode_value(out, idv);
    json_decref(idv);
    return r;
}

static int row_insert(struct store *s, struct st_index *ix, const json_t *doc, double ct,
                      const struct buf *dk, struct buf *err)
{
    struct buf sql = BUF_INIT(4096), ck = BUF_INIT(STORE_MAX_KEY);
    int r = -1;
    sqlite3_stmt *st = ix->ins;
    if (!st) {
        buf_appendf(&sql, "INSERT INTO f%u(rowid, t, k", ix->id);
        for (size_t i = 1; i < ix->nfields; i++)
            buf_appendf(&sql, ", c%zu", i - 1);
        buf_appendf(&sql, ") VALUES (?1, ?2, ?3");
        for (size_t i = 1; i < ix->nfields; i++)
            buf_appendf(&sql, ", ?%zu", i + 3);
        buf_append_byte(&sql, ')');
        if (!(st = st_prep(s, &ix->ins, err, "%s", sql.data)))
            goto out;
    } else {
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
    }
    sqlite3_bind_int64(st, 1, ct_rowid(ct));
    sqlite3_bind_text(st, 2, search_text(ix, doc), -1, SQLITE_TRANSIENT);
    sqlite3_bind_blob(st, 3, dk->data, (int)dk->len, SQLITE_TRANSIENT);
    for (size_t i = 1; i < ix->nfields; i++) {
        buf_reset(&ck);
        if (key_encode_value(&ck, st_lookup_path(doc, ix->fields[i])) < 0) {
            st_fail(err, "search index `%s`: cannot encode filter field `%s`", ix->name,
                    ix->fields[i]);
            goto out;
        }
        sqlite3_bind_blob(st, (int)i + 3, ck.data, (int)ck.len, SQLITE_TRANSIENT);
    }
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        st_sqlerr(s, err, "search index write");
        goto out;
    }
    r = 0;
out:
    buf_release(&sql);
    buf_release(&ck);
    return r;
}

static int row_delete(struct store *s, struct st_index *ix, double ct, struct buf *err)
{
    sqlite3_stmt *st = st_prep(s, &ix->del, err, "DELETE FROM f%u WHERE rowid = ?1", ix->id);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, ct_rowid(ct));
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : st_sqlerr(s, err, "search index write");
}

int st_search_write(struct store_txn *t, struct st_table *tb, const json_t *old_doc,
                    const json_t *new_doc, double ct, const char *id, const struct buf *dk,
                    struct buf *err)
{
    struct store *s = t->s;
    struct buf ok = BUF_INIT(STORE_MAX_KEY), nk = BUF_INIT(STORE_MAX_KEY);
    int r = -1;
    for (size_t i = 0; i < tb->nsidx; i++) {
        struct st_index *ix = tb->sidx[i];
        buf_reset(&ok);
        buf_reset(&nk);
        if ((old_doc && search_key(ix, old_doc, id, &ok) < 0) ||
            (new_doc && search_key(ix, new_doc, id, &nk) < 0)) {
            st_fail(err, "search index `%s`: key too large", ix->name);
            goto out;
        }
        if (old_doc && new_doc && ok.len == nk.len && !memcmp(ok.data, nk.data, ok.len) &&
            !strcmp(search_text(ix, old_doc), search_text(ix, new_doc))) {
            st_write_add(t, ix->id, &ok, &nk); /* the document changed: its results may */
            continue;
        }
        if (old_doc && row_delete(s, ix, ct, err) < 0)
            goto out;
        if (new_doc && row_insert(s, ix, new_doc, ct, dk, err) < 0)
            goto out;
        st_write_add(t, ix->id, &ok, &nk);
    }
    r = 0;
out:
    buf_release(&ok);
    buf_release(&nk);
    return r;
}

int st_search_create(struct store *s, struct st_table *tb, const json_t *decl, struct buf *err)
{
    const char *name = json_string_value(json_object_get(decl, "name"));
    const json_t *filters = json_object_get(decl, "filterFields");
    json_t *none = json_array();
    if (!filters)
        filters = none;
    json_t *spec = json_pack("{s:O,s:O}", "searchField", json_object_get(decl, "searchField"),
                             "filterFields", filters);
    char *stext = spec ? json_dumps(spec, JSON_COMPACT) : NULL;
    struct buf sql = BUF_INIT(8192);
    sqlite3_stmt *st = NULL;
    json_t *all = json_array();
    struct st_index *ix = NULL;
    uint32_t id;
    int r = -1;
    if (!stext) {
        st_fail(err, "search index `%s`: bad definition", name);
        goto out;
    }
    if (st_meta_next(s, "next_index", &id, err) < 0)
        goto out;
    if (!(st = st_prep(s, NULL, err, "INSERT INTO _vr_indexes(id, tnum, name, fields) "
                                     "VALUES (?1, ?2, ?3, ?4)")))
        goto out;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, tb->num);
    sqlite3_bind_text(st, 3, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, stext, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE) {
        st_sqlerr(s, err, "create search index");
        goto out;
    }
    sqlite3_finalize(st);
    st = NULL;
    buf_appendf(&sql, "CREATE VIRTUAL TABLE f%u USING fts5(t, k UNINDEXED", id);
    for (size_t i = 0; i < json_array_size(filters); i++)
        buf_appendf(&sql, ", c%zu UNINDEXED", i);
    buf_appendf(&sql, ", tokenize='%s')", TOKENIZER);
    if (st_exec(s, sql.data, err) < 0)
        goto out;
    /* a detached catalog entry to write the rows with; the catalog is reloaded after apply */
    json_array_append(all, json_object_get(decl, "searchField"));
    json_array_extend(all, (json_t *)filters);
    ix = vr_calloc(1, sizeof(*ix));
    ix->id = id;
    ix->name = vr_strdup(name);
    ix->kind = IDX_SEARCH;
    ix->nfields = json_array_size(all);
    ix->fields = vr_calloc(ix->nfields, sizeof(char *));
    for (size_t i = 0; i < ix->nfields; i++)
        ix->fields[i] = vr_strdup(json_string_value(json_array_get(all, i)));
    if (!(st = st_prep(s, NULL, err, "SELECT k, j FROM d%u", tb->num)))
        goto out;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        json_t *doc = json_loadb((const char *)sqlite3_column_text(st, 1),
                                 (size_t)sqlite3_column_bytes(st, 1), STORE_JSON_FLAGS, NULL);
        struct buf dk = BUF_INIT(STORE_MAX_KEY);
        buf_append(&dk, sqlite3_column_blob(st, 0), (size_t)sqlite3_column_bytes(st, 0));
        int wr = doc ? row_insert(s, ix, doc,
                                  json_number_value(json_object_get(doc, "_creationTime")), &dk,
                                  err)
                     : st_fail(err, "table `%s`: a document is corrupt", tb->name);
        buf_release(&dk);
        json_decref(doc);
        if (wr < 0)
            goto out;
    }
    if (rc != SQLITE_DONE) {
        st_sqlerr(s, err, "search index backfill");
        goto out;
    }
    r = 0;
out:
    if (ix) {
        sqlite3_finalize(ix->ins);
        for (size_t i = 0; i < ix->nfields; i++)
            vr_free(ix->fields[i]);
        vr_free(ix->fields);
        vr_free(ix->name);
        vr_free(ix);
    }
    sqlite3_finalize(st);
    json_decref(all);
    json_decref(spec);
    json_decref(none);
    free(stext);
    buf_release(&sql);
    return r;
}

int st_search_drop(struct store *s, const struct st_index *ix, struct buf *err)
{
    char sql[128];
    snprintf(sql, sizeof(sql), "DROP TABLE f%u; DELETE FROM _vr_indexes WHERE id = %u", ix->id,
             ix->id);
    return st_exec(s, sql, err);
}

static int is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* The FTS5 query for Convex's search text: each whitespace-separated term quoted (so FTS5
 * syntax in it is literal text), terms ORed, the last one a prefix. Returns the term count. */
static size_t match_expr(const char *text, struct buf *out)
{
    size_t n = 0;
    const unsigned char *p = (const unsigned char *)text;
    while (*p) {
        while (*p && is_space(*p))
            p++;
        if (!*p)
            break;
        if (n)
            buf_append_str(out, " OR ");
        buf_append_byte(out, '"');
        for (; *p && !is_space(*p); p++) {
            if (*p == '"')
                buf_append_byte(out, '"');
            buf_append_byte(out, *p);
        }
        buf_append_byte(out, '"');
        n++;
    }
    if (n)
        buf_append_str(out, " *");
    return n;
}

int store_search(struct store_txn *t, const char *table, const char *index,
                 const char *query_json, size_t len, struct buf *out, struct buf *err)
{
    struct store *s = t->s;
    json_t *q = NULL;
    struct buf match = BUF_INIT(1 << 20), sql = BUF_INIT(8192), lo = BUF_INIT(STORE_MAX_KEY),
               hi = BUF_INIT(STORE_MAX_KEY);
    struct buf vals[STORE_MAX_INDEX_FIELDS];
    int bound[STORE_MAX_INDEX_FIELDS] = { 0 };
    size_t nvals = 0;
    sqlite3_stmt *st = NULL;
    int r = -1;
    s->err_kind = STORE_ERR_OTHER;
    if (!t->open)
        return st_fail(err, "transaction is not open");
    struct st_table *tb = st_table_find(s, table);
    struct st_index *ix = NULL;
    for (size_t i = 0; tb && i < tb->nsidx && !ix; i++)
        if (!strcmp(tb->sidx[i]->name, index))
            ix = tb->sidx[i];
    if (!ix) {
        st_fail(err, "search index `%s` not found on table `%s`", index, table);
        goto out;
    }
    nvals = ix->nfields - 1;
    for (size_t i = 0; i < nvals; i++)
        buf_init(&vals[i], STORE_MAX_KEY);
    q = json_loadb(query_json, len, STORE_JSON_FLAGS, NULL);
    const char *field = json_string_value(json_object_get(q, "field"));
    const char *text = json_string_value(json_object_get(q, "search"));
    const json_t *eq = json_object_get(q, "eq");
    if (!json_is_object(q) || !field || !text || (eq && !json_is_array(eq))) {
        st_fail(err, "search query must be {\"field\", \"search\", \"eq\"?}");
        goto out;
    }
    if (strcmp(field, ix->fields[0])) {
        st_fail(err, "search index `%s` of `%s` searches `%s`, not `%s`", index, table,
                ix->fields[0], field);
        goto out;
    }
    for (size_t i = 0; i < json_array_size(eq); i++) {
        const json_t *e = json_array_get(eq, i);
        const char *f = json_string_value(json_array_get(e, 0));
        size_t j = 1;
        while (f && j < ix->nfields && strcmp(ix->fields[j], f))
            j++;
        if (!f || j == ix->nfields) {
            st_fail(err, "`%s` is not a filter field of search index `%s` of `%s`",
                    f ? f : "?", index, table);
            goto out;
        }
        if (bound[j - 1]) {
            st_fail(err, "search index `%s`: filter field `%s` is compared twice", index, f);
            goto out;
        }
        if (key_encode_value(&vals[j - 1], json_array_get(e, 1)) < 0) {
            st_fail(err, "search index `%s`: the value for `%s` is not a valid value", index, f);
            goto out;
        }
        bound[j - 1] = 1;
    }
    if (strlen(text) > STORE_SEARCH_MAX_TEXT) {
        st_fail(err, "search text is longer than %d bytes", STORE_SEARCH_MAX_TEXT);
        goto out;
    }
    size_t terms = match_expr(text, &match);
    if (terms > STORE_SEARCH_MAX_TERMS) {
        st_fail(err, "search query has %zu terms; at most %d are allowed", terms,
                STORE_SEARCH_MAX_TERMS);
        goto out;
    }
    /* the read: keys starting with the leading run of bound filter values */
    for (size_t i = 0; i < nvals && bound[i]; i++)
        buf_append(&lo, vals[i].data, vals[i].len);
    buf_append(&hi, lo.data, lo.len);
    buf_append_byte(&hi, KEY_PREFIX_END);
    st_read_add(t, ix->id, lo.data, lo.len, hi.data, hi.len);
    buf_append_byte(out, '[');
    if (terms == 0) {
        buf_append_byte(out, ']');
        r = 0;
        goto out;
    }
    buf_appendf(&sql, "SELECT d.j FROM f%u AS f CROSS JOIN d%u AS d ON d.k = f.k "
                      "WHERE f%u MATCH ?1",
                ix->id, tb->num, ix->id);
    for (size_t i = 0; i < nvals; i++)
        if (bound[i])
            buf_appendf(&sql, " AND f.c%zu = ?%zu", i, i + 2);
    buf_appendf(&sql, " ORDER BY f.rank, f.rowid DESC LIMIT %d", STORE_SEARCH_MAX_RESULTS);
    if (!(st = st_prep(s, NULL, err, "%s", sql.data)))
        goto out;
    sqlite3_bind_text(st, 1, match.data, (int)match.len, SQLITE_STATIC);
    for (size_t i = 0; i < nvals; i++)
        if (bound[i])
            sqlite3_bind_blob(st, (int)i + 2, vals[i].data, (int)vals[i].len, SQLITE_STATIC);
    int rc, first = 1;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if ((!first && buf_append_byte(out, ',') < 0) ||
            buf_append(out, sqlite3_column_text(st, 0), (size_t)sqlite3_column_bytes(st, 0)) < 0) {
            st_failk(s, STORE_ERR_TOO_LARGE, err, "search result is too large");
            goto out;
        }
        first = 0;
    }
    if (rc != SQLITE_DONE) {
        st_sqlerr(s, err, "search");
        goto out;
    }
    if (buf_append_byte(out, ']') < 0) {
        st_failk(s, STORE_ERR_TOO_LARGE, err, "search result is too large");
        goto out;
    }
    r = 0;
out:
    sqlite3_finalize(st);
    json_decref(q);
    for (size_t i = 0; i < nvals; i++)
        buf_release(&vals[i]);
    buf_release(&match);
    buf_release(&sql);
    buf_release(&lo);
    buf_release(&hi);
    return r;
}

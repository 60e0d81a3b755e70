/* store_scan: withIndex range scans. A range_json turns into one key range [lo, hi) of one index
 * (eq prefix P: [P, P+0xff); gte v: lo = P+enc(v); gt v: lo = P+enc(v)+0xff; lt v: hi = P+enc(v);
 * lte v: hi = P+enc(v)+0xff). Invariant: the read set records exactly the part of the range the
 * caller consumed (the whole range once the scan reached its end). */
#include "store/store_int.h"

#include <stdarg.h>
#include <string.h>

#include "base/mem.h"
#include "store/key.h"
#include "store/value.h"

#include "base/banned.h"


/* {"op", "value"}: a bound without a value is undefined (below every value). */
static int encode_bound(struct buf *out, const json_t *bound, const char **op, struct buf *err)
{
    *op = json_string_value(json_object_get(bound, "op"));
    if (!json_is_object(bound) || !*op)
        return buf_fail(err, "range bound must be {\"op\": ..., \"value\": ...}");
    if (key_encode_value(out, json_object_get(bound, "value")) < 0)
        return buf_fail(err, "range bound value is not a valid value");
    return 0;
}

int store_scan_open(struct store_txn *t, const char *table, const char *index,
                    const char *range_json, size_t len, int descending, struct store_cursor **out,
                    struct buf *err)
{
    struct store *s = t->s;
    struct store_cursor *c = NULL;
    json_t *range = NULL;
    json_error_t je;
    int r = -1;
    *out = NULL;
    if (!t->open) {
        buf_fail(err, "transaction is not open");
        goto out;
    }
    if (st_txn_range(t, table, err) < 0)
        goto out;
    range = json_loadb(range_json, len, STORE_JSON_FLAGS, &je);
    if (!json_is_object(range)) {
        buf_fail(err, "range is not a JSON object");
        goto out;
    }
    c = vr_calloc(1, sizeof(*c));
    c->t = t;
    c->desc = !!descending;
    buf_init(&c->lo, STORE_MAX_KEY);
    buf_init(&c->hi, STORE_MAX_KEY);
    struct st_table *tb = st_table_find(s, table);
    if (!tb) {
        if (strcmp(index, "by_id") && strcmp(index, "by_creation_time")) {
            st_failk(s, STORE_ERR_NOT_FOUND, err, "index `%s` not found: table `%s` does not exist",
                     index, table);
            goto out;
        }
        /* An unknown table scans empty; the read waits for the table's creation. */
        json_t *js = json_string(table);
        if (!js || key_encode_value(&c->lo, js) < 0) {
            json_decref(js);
            buf_fail(err, "invalid table name `%s`", table);
            goto out;
        }
        json_decref(js);
        buf_append(&c->hi, c->lo.data, c->lo.len);
        buf_append_byte(&c->hi, 0);
        c->done = 1;
        *out = c;
        c = NULL;
        r = 0;
        goto out;
    }
    struct st_index *ix = st_index_find(tb, index);
    if (!ix) {
        st_failk(s, STORE_ERR_NOT_FOUND, err, "index `%s` not found on table `%s`", index, table);
        goto out;
    }
    c->ix = ix;
    size_t allowed = ix->kind == IDX_BY_ID ? 1 : ix->nfields + 2;
    const json_t *eq = json_object_get(range, "eq");
    const json_t *lower = json_object_get(range, "lower"), *upper = json_object_get(range, "upper");
    if (eq && !json_is_array(eq)) {
        buf_fail(err, "range `eq` must be an array");
        goto out;
    }
    size_t bound = json_array_size(eq) + (lower || upper ? 1 : 0);
    if (bound > allowed) {
        buf_reset(err);
        buf_appendf(err, "range on index `%s` of table `%s` binds %zu fields, the index has %zu",
                    index, table, bound, allowed);
        goto out;
    }
    const json_t *undef = json_object_get(range, "eqUndefined"); /* positions of undefined */
    for (size_t i = 0; i < json_array_size(eq); i++) {
        int is_undef = 0;
        for (size_t k = 0; k < json_array_size(undef); k++)
            if (json_integer_value(json_array_get(undef, k)) == (json_int_t)i)
                is_undef = 1;
        /* NULL: undefined, a document without the field (KEY_TAG_UNDEFINED) */
        if (key_encode_value(&c->lo, is_undef ? NULL : json_array_get(eq, i)) < 0) {
            buf_fail(err, "range `eq` value is not a valid value");
            goto out;
        }
    }
    buf_append(&c->hi, c->lo.data, c->lo.len);
    const char *op;
    if (lower) {
        if (encode_bound(&c->lo, lower, &op, err) < 0)
            goto out;
        if (!strcmp(op, "gt")) {
            buf_append_byte(&c->lo, KEY_PREFIX_END);
        } else if (strcmp(op, "gte")) {
            buf_fail(err, "lower bound op must be \"gt\" or \"gte\", got \"%s\"%s", op, "");
            goto out;
        }
    }
    if (upper) {
        if (encode_bound(&c->hi, upper, &op, err) < 0)
            goto out;
        if (!strcmp(op, "lte")) {
            buf_append_byte(&c->hi, KEY_PREFIX_END);
        } else if (strcmp(op, "lt")) {
            buf_fail(err, "upper bound op must be \"lt\" or \"lte\", got \"%s\"%s", op, "");
            goto out;
        }
    } else {
        buf_append_byte(&c->hi, KEY_PREFIX_END);
    }
    const char *dir = c->desc ? "DESC" : "ASC";
    sqlite3_stmt **slot = ix->scan_busy[c->desc] ? NULL : &ix->scan[c->desc];
    if (ix->kind == IDX_BY_ID)
        c->stmt = st_prep(s, slot, err, "SELECT k, j FROM d%u WHERE k >= ?1 AND k < ?2 ORDER BY k %s",
                          tb->num, dir);
    else
        c->stmt = st_prep(s, slot, err,
                          "SELECT i.k, d.j FROM i%u AS i CROSS JOIN d%u AS d ON d.k = i.d "
                          "WHERE i.k >= ?1 AND i.k < ?2 ORDER BY i.k %s",
                          ix->id, tb->num, dir);
    if (!c->stmt)
        goto out;
    if (slot) {
        c->cached = 1;
        ix->scan_busy[c->desc] = 1;
    }
    sqlite3_bind_blob(c->stmt, 1, c->lo.data, (int)c->lo.len, SQLITE_STATIC);
    sqlite3_bind_blob(c->stmt, 2, c->hi.data, (int)c->hi.len, SQLITE_STATIC);
    *out = c;
    c = NULL;
    r = 0;
out:
    if (c) {
        c->failed = 1; /* records nothing */
        store_scan_close(c, 0);
    }
    json_decref(range);
    return r;
}

int store_scan_next(struct store_cursor *c, struct buf *out, int *done, struct buf *err)
{
    *done = 0;
    c->t->s->err_kind = STORE_ERR_OTHER;
    if (c->done || !c->stmt) {
        c->done = 1;
        *done = 1;
        return 0;
    }
    if (!c->pending) {
        int rc = sqlite3_step(c->stmt);
        if (rc == SQLITE_DONE) {
            c->done = 1;
            *done = 1;
            return 0;
        }
        if (rc != SQLITE_ROW)
            return st_sqlerr(c->t->s, err, "scan");
        if (st_txn_read(c->t, c->ix->table, (size_t)sqlite3_column_bytes(c->stmt, 1), err) < 0)
            return -1;
    }
    size_t n = (size_t)sqlite3_column_bytes(c->stmt, 1);
    c->pending = n > out->max - out->len; /* a buf's len never passes its max */
    if (c->pending)
        return 1; /* the row stays current for the next call */
    if (c->nkeys == c->capkeys) {
        c->capkeys = c->capkeys ? c->capkeys * 2 : 16;
        c->keys = vr_realloc(c->keys, c->capkeys * sizeof(*c->keys));
    }
    struct buf *k = &c->keys[c->nkeys];
    buf_init(k, BUF_NOLIMIT);
    buf_append(k, sqlite3_column_blob(c->stmt, 0), (size_t)sqlite3_column_bytes(c->stmt, 0));
    buf_append(out, sqlite3_column_text(c->stmt, 1), n); /* fits: checked above */
    c->nkeys++;
    return 0;
}

void store_scan_close(struct store_cursor *c, size_t consumed)
{
    if (!c)
        return;
    struct store_txn *t = c->t;
    if (c->failed) {
        /* a cursor that failed to open records nothing */
    } else if (!c->ix) {
        st_read_add(t, STORE_CATALOG_INDEX, c->lo.data, c->lo.len, c->hi.data, c->hi.len);
    } else if (c->done && consumed >= c->nkeys) {
        st_read_add(t, c->ix->id, c->lo.data, c->lo.len, c->hi.data, c->hi.len);
    } else if (consumed > 0 && c->nkeys > 0) {
        struct buf *k = &c->keys[(consumed < c->nkeys ? consumed : c->nkeys) - 1];
        if (c->desc) {
            st_read_add(t, c->ix->id, k->data, k->len, c->hi.data, c->hi.len);
        } else {
            buf_append_byte(k, 0);
            st_read_add(t, c->ix->id, c->lo.data, c->lo.len, k->data, k->len);
        }
    }
    if (c->stmt) {
        if (c->cached) {
            sqlite3_reset(c->stmt);
            sqlite3_clear_bindings(c->stmt);
            c->ix->scan_busy[c->desc] = 0;
        } else {
            sqlite3_finalize(c->stmt);
        }
    }
    for (size_t i = 0; i < c->nkeys; i++)
        buf_release(&c->keys[i]);
    vr_free(c->keys);
    buf_release(&c->lo);
    buf_release(&c->hi);
    vr_free(c);
}

/* store_import: what an import (`vireo import`, proto/http_admin_import.c) needs of the store
 * beyond ordinary writes: documents inserted with the id and creation time they had, ids made
 * ahead of their documents (so that references among imported documents can be rewritten before
 * any is stored), a table emptied, the app's tables listed, and a transaction without the
 * per-function limits. */
#include "store/store_int.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "store/validator_int.h"

#include "base/banned.h"

void store_txn_bulk(struct store_txn *t)
{
    t->bulk = 1;
}

int store_txn_poisoned(const struct store_txn *t)
{
    return t->poisoned;
}

/* The table an import writes to: created when missing (a server without a schema); with a
 * schema it must be declared, as for an insert. */
static struct st_table *import_table(struct store_txn *t, const char *table, struct buf *err)
{
    struct store *s = t->s;
    if (table[0] == '_' || !store_table_name_ok(table, strlen(table))) {
        st_failk(s, STORE_ERR_RESERVED, err, "`%.64s` is not a table name an app can write to",
                 table);
        return NULL;
    }
    struct st_table *tb = st_table_find(s, table);
    if (tb && (tb->declared || st_table_open(s, table)))
        return tb;
    if (!st_table_open(s, table)) {
        st_failk(s, STORE_ERR_SCHEMA, err, "table `%.64s` is not in the schema", table);
        return NULL;
    }
    return st_table_create(s, table, &tb, err) < 0 ? NULL : tb;
}

int store_import_id(struct store_txn *t, const char *table, const char *want, double ms,
                    char out[STORE_ID_LEN + 1], int *kept, struct buf *err)
{
    *kept = 0;
    struct st_table *tb = import_table(t, table, err);
    if (!tb)
        return -1;
    uint32_t num;
    if (want && st_id_decode(want, strlen(want), &num) == 0 && num == tb->num) {
        memcpy(out, want, STORE_ID_LEN + 1);
        *kept = 1;
        return 0;
    }
    st_id_new_at(tb->num, ms, out);
    return 0;
}

int store_insert_imported(struct store_txn *t, const char *table, const char *doc_json, size_t len,
                          const char *id, double ct, struct buf *err)
{
    char id_out[STORE_ID_LEN + 1];
    return st_insert_as(t, table, doc_json, len, 0, id, ct, id_out, err);
}

int store_table_delete_all(struct store_txn *t, const char *table, uint64_t *deleted,
                           struct buf *err)
{
    *deleted = 0;
    struct st_table *tb = st_table_find(t->s, table);
    if (!tb)
        return 0;
    /* the ids first: rows are not deleted under the scan's statement */
    char(*ids)[STORE_ID_LEN + 1] = NULL;
    size_t n = 0, cap = 0;
    struct buf doc = BUF_INIT(BUF_NOLIMIT);
    struct store_cursor *c = NULL;
    int r = -1, done = 0;
    if (store_scan_open(t, table, "by_id", "{}", 2, 0, &c, err) < 0)
        goto out;
    for (;;) {
        buf_reset(&doc);
        if (store_scan_next(c, &doc, &done, err) < 0)
            goto out;
        if (done)
            break;
        /* a stored document begins {"_id":"<32 characters>" (store_write.c doc_head) */
        if (doc.len < 8 + STORE_ID_LEN || memcmp(doc.data, "{\"_id\":\"", 8)) {
            st_failk(t->s, STORE_ERR_OTHER, err, "a stored document of `%s` has no id", table);
            goto out;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 256;
            ids = vr_realloc(ids, cap * sizeof *ids);
        }
        memcpy(ids[n], doc.data + 8, STORE_ID_LEN);
        ids[n++][STORE_ID_LEN] = '\0';
    }
    store_scan_close(c, n);
    c = NULL;
    for (size_t i = 0; i < n; i++)
        if (store_delete(t, ids[i], STORE_ID_LEN, err) < 0)
            goto out;
    *deleted = n;
    r = 0;
out:
    if (c)
        store_scan_close(c, 0);
    vr_free(ids);
    buf_release(&doc);
    return r;
}

int store_app_tables(struct store *s, char ***names, size_t *n)
{
    *names = vr_calloc(s->ntables ? s->ntables : 1, sizeof **names);
    *n = 0;
    for (size_t i = 0; i < s->ntables; i++)
        if (!s->tables[i]->system)
            (*names)[(*n)++] = vr_strdup(s->tables[i]->name);
    return 0;
}

uint64_t store_table_doc_count(struct store_txn *t, const char *table, struct buf *err)
{
    struct st_table *tb = st_table_find(t->s, table);
    if (!tb)
        return 0;
    sqlite3_stmt *st = NULL;
    char sql[64];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM d%u", tb->num);
    if (sqlite3_prepare_v2(t->s->db, sql, -1, &st, NULL) != SQLITE_OK) {
        st_sqlerr(t->s, err, "count");
        return UINT64_MAX;
    }
    uint64_t count = UINT64_MAX;
    if (sqlite3_step(st) == SQLITE_ROW)
        count = (uint64_t)sqlite3_column_int64(st, 0);
    else
        st_sqlerr(t->s, err, "count");
    sqlite3_finalize(st);
    return count;
}

int store_table_optional_fields(struct store *s, const char *table, char ***names, size_t *n)
{
    *names = NULL;
    *n = 0;
    struct st_table *tb = st_table_find(s, table);
    const json_t *v = tb && s->validate ? tb->validator : NULL;
    const char *type = json_string_value(json_object_get(v, "type"));
    const json_t *fields = json_object_get(v, "value");
    if (!type || strcmp(type, "object") || !json_is_object(fields))
        return 0;
    const char *k;
    json_t *spec;
    json_object_foreach((json_t *)fields, k, spec)
    {
        int optional = 0;
        validator_field_type(spec, &optional);
        if (!optional)
            continue;
        *names = vr_realloc(*names, (*n + 1) * sizeof **names);
        (*names)[(*n)++] = vr_strdup(k);
    }
    return 0;
}

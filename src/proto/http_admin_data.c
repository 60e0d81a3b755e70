/* http_admin_data: GET /api/admin/data (`vireo data`, as `npx convex data`; http_admin_data.h).
 * Read on a reader store of its own (store_open_reader): the last committed state, whatever the
 * shard's connection has open in its batch, in a few milliseconds for at most DATA_LIMIT_MAX
 * documents. */
#include "proto/http_admin_data.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "store/store.h"
#include "base/banned.h"

static void respond(struct conn *c, struct buf *b)
{
    http_respond(c, 200, "application/json", b->data, b->len, "Access-Control-Allow-Origin: *\r\n");
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The app's tables, sorted, as a JSON array into out. */
static void tables_json(char **names, size_t n, struct buf *out)
{
    qsort(names, n, sizeof *names, cmp_names);
    buf_append_byte(out, '[');
    for (size_t i = 0; i < n; i++) {
        if (i)
            buf_append_byte(out, ',');
        buf_append_json_str(out, names[i], strlen(names[i]));
    }
    buf_append_byte(out, ']');
}

void http_admin_data_handle(struct http_api *api, struct conn *c, const struct http_request *req)
{
    struct shard *sh = api->shard;
    struct buf err = BUF_INIT(4096), out = BUF_INIT(BUF_NOLIMIT), doc = BUF_INIT(BUF_NOLIMIT);
    struct store *st = NULL;
    struct store_txn *t = NULL;
    struct store_cursor *cur = NULL;
    char **names = NULL, table[STORE_TABLE_NAME_MAX + 1] = "";
    size_t n_names = 0, limit = DATA_LIMIT_DEFAULT;
    int desc = 1;
    struct slice v;
    if (http_query_param(req->query, "table", &v)) {
        /* a component's table is "<component>/<table>" ("a/b/t" for a child's) */
        if (!store_table_name_ok(v.p, v.len)) {
            http_api_respond_error(c, 400, "InvalidArgument",
                                   "table must be a table name (a letter, then letters, digits "
                                   "and _, at most 64), or a component's: its path and the "
                                   "table's name joined by '/'",
                                   NULL);
            goto out;
        }
        memcpy(table, v.p, v.len);
        table[v.len] = '\0';
    }
    if (http_query_param(req->query, "limit", &v)) {
        char num[16];
        char *end;
        snprintf(num, sizeof num, "%.*s", (int)(v.len < 15 ? v.len : 15), v.p);
        unsigned long n = strtoul(num, &end, 10);
        if (!v.len || v.len > 7 || *end || n < 1 || n > DATA_LIMIT_MAX) {
            http_api_respond_error(c, 400, "InvalidArgument", "limit must be from 1 to 1000", NULL);
            goto out;
        }
        limit = n;
    }
    if (http_query_param(req->query, "order", &v)) {
        if (!slice_eq_str(v, "asc") && !slice_eq_str(v, "desc")) {
            http_api_respond_error(c, 400, "InvalidArgument", "order must be asc or desc", NULL);
            goto out;
        }
        desc = slice_eq_str(v, "desc");
    }
    if (!sh->db_path) {
        http_api_respond_error(c, 400, "DataUnavailable",
                               "this server keeps its database in memory", NULL);
        goto out;
    }
    if (store_open_reader(sh->db_path, &st, &err) < 0 || !(t = store_txn_begin(st, 0, &err))) {
        http_api_respond_error(c, 500, "StoreError", err.data, NULL);
        goto out;
    }
    store_txn_bulk(t);
    store_app_tables(st, &names, &n_names);
    if (!table[0]) {
        buf_append_str(&out, "{\"status\":\"success\",\"value\":{\"tables\":");
        tables_json(names, n_names, &out);
        buf_append_str(&out, "}}");
        respond(c, &out);
        goto out;
    }
    int found = 0;
    for (size_t i = 0; i < n_names; i++)
        found |= !strcmp(names[i], table);
    if (!found) {
        buf_appendf(&err, "there is no table `%s`; the tables are ", table);
        tables_json(names, n_names, &err);
        http_api_respond_error(c, 404, "TableNotFound", err.data, NULL);
        goto out;
    }
    if (store_scan_open(t, table, "by_creation_time", "{}", 2, desc, &cur, &err) < 0) {
        http_api_respond_error(c, 500, "StoreError", err.data, NULL);
        goto out;
    }
    buf_append_str(&out, "{\"status\":\"success\",\"value\":{\"documents\":[");
    size_t n = 0;
    int done = 0;
    for (;;) {
        buf_reset(&doc);
        if (store_scan_next(cur, &doc, &done, &err) < 0) {
            http_api_respond_error(c, 500, "StoreError", err.data, NULL);
            goto out;
        }
        if (done || n == limit || out.len > DATA_BYTES_MAX)
            break;
        if (n++)
            buf_append_byte(&out, ',');
        buf_append(&out, doc.data, doc.len);
    }
    buf_appendf(&out, "],\"more\":%s}}", done ? "false" : "true");
    respond(c, &out);
out:
    if (cur)
        store_scan_close(cur, 0);
    if (t) {
        store_txn_abort(t);
        store_txn_free(t);
    }
    if (st)
        store_close(st);
    for (size_t i = 0; i < n_names; i++)
        vr_free(names[i]);
    vr_free(names);
    buf_release(&err);
    buf_release(&out);
    buf_release(&doc);
}

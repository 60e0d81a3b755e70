/* store_quota: the storage limit of one store (store_options.max_bytes, --max-tenant-storage-mb).
 * What counts: the database's pages in use ((page_count - freelist_count) * page_size: free pages
 * a delete left are reused before the file grows; the WAL and -shm files are not counted) plus the
 * bytes of every stored file (the `size` of each `_storage` document, summed once at open, then
 * kept as transactions add and delete files).
 *
 * Writes that grow the store are checked *before* they change a row (st_quota_check): on
 * SQLITE_FULL, SQLite rolls back the whole transaction — with group commit, every mutation of
 * the batch — for a statement without a statement journal (every single-row write of ours), so
 * SQLite's own limit must never be what refuses a user's write. It is the backstop: max_page_count
 * is the limit plus a reserve (1/16 of it, at least 1 MiB) that only deletes, estimates that fell
 * short and the store's bookkeeping (idempotency records, job states, cron state) reach. */
#include "store/store_int.h"

#include <stdio.h>
#include <string.h>

#include "base/mem.h"

#include "base/banned.h"

#define RESERVE_MIN (1u << 20)

static int measure(struct store *s, uint64_t *used, struct buf *err)
{
    sqlite3_stmt *st = st_prep(s, &s->quota_stmt, err,
                               "SELECT p.page_count, f.freelist_count "
                               "FROM pragma_page_count() p, pragma_freelist_count() f");
    if (!st)
        return -1;
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        sqlite3_reset(st);
        return st_sqlerr(s, err, "measuring the database");
    }
    sqlite3_int64 pages = sqlite3_column_int64(st, 0), free_pages = sqlite3_column_int64(st, 1);
    sqlite3_reset(st);
    *used = (uint64_t)(pages > free_pages ? pages - free_pages : 0) * s->page_size;
    return 0;
}

static uint64_t files_now(const struct store *s)
{
    int64_t d = s->txn ? s->txn->files_delta : 0;
    if (d < 0 && (uint64_t)-d > s->files_bytes)
        return 0;
    return s->files_bytes + (uint64_t)d;
}

static void limit_text(uint64_t b, char out[48])
{
    if (b % (1u << 20) == 0)
        snprintf(out, 48, "%llu MiB", (unsigned long long)(b >> 20));
    else
        snprintf(out, 48, "%llu bytes", (unsigned long long)b);
}

void store_full_message(struct store *s, const struct store_usage *u, uint64_t more,
                        struct buf *out)
{
    char lim[48];
    limit_text(u->limit_bytes, lim);
    buf_reset(out);
    buf_appendf(out,
                "%s is over its storage limit of %s (--max-tenant-storage-mb): %llu bytes are in "
                "use (%llu in documents and indexes, %llu in stored files) and this write needs "
                "about %llu more; delete data or raise the limit",
                s->quota_label ? s->quota_label : "the database", lim,
                (unsigned long long)(u->database_bytes + u->file_bytes),
                (unsigned long long)u->database_bytes, (unsigned long long)u->file_bytes,
                (unsigned long long)more);
}

uint64_t store_max_bytes(const struct store *s)
{
    return s->quota_bytes;
}

void store_txn_exempt_limit(struct store_txn *t)
{
    t->exempt_limit = 1;
}

int store_usage(struct store *s, struct store_usage *u, struct buf *err)
{
    memset(u, 0, sizeof *u);
    u->limit_bytes = s->quota_bytes;
    u->file_bytes = files_now(s);
    return measure(s, &u->database_bytes, err);
}

int st_quota_open(struct store *s, const struct store_options *opts, struct buf *err)
{
    sqlite3_stmt *st = NULL;
    int r = -1;
    if (opts && opts->label)
        s->quota_label = vr_strdup(opts->label);
    if (!(st = st_prep(s, NULL, err, "PRAGMA page_size")) || sqlite3_step(st) != SQLITE_ROW)
        goto out;
    s->page_size = (uint32_t)sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    st = NULL;
    if (!opts || !opts->max_bytes) {
        r = 0;
        goto out;
    }
    s->quota_bytes = opts->max_bytes;
    uint64_t used = 0, pages = 0;
    if (!(st = st_prep(s, NULL, err, "PRAGMA page_count")) || sqlite3_step(st) != SQLITE_ROW)
        goto out;
    pages = (uint64_t)sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    st = NULL;
    /* the backstop: the limit (or the size it already has, if the limit was lowered) plus the
     * reserve; SQLite refuses to set it below the database's size */
    uint64_t reserve = s->quota_bytes / 16 > RESERVE_MIN ? s->quota_bytes / 16 : RESERVE_MIN;
    uint64_t lim_pages = s->quota_bytes / s->page_size;
    uint64_t max_pages = (lim_pages > pages ? lim_pages : pages) + reserve / s->page_size;
    if (max_pages > 4294967294u)
        max_pages = 4294967294u;
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA max_page_count = %llu", (unsigned long long)max_pages);
    if (st_exec(s, sql, err) < 0)
        goto out;
    struct st_table *tb = st_table_find(s, STORE_STORAGE_TABLE);
    if (tb) { /* once per open: every later change is counted as it commits */
        if (!(st = st_prep(s, NULL, err,
                           "SELECT coalesce(sum(json_extract(j, '$.size')), 0) FROM d%u",
                           tb->num)))
            goto out;
        if (sqlite3_step(st) != SQLITE_ROW) {
            st_sqlerr(s, err, "summing the stored files' sizes");
            goto out;
        }
        double b = sqlite3_column_double(st, 0);
        s->files_bytes = b > 0 ? (uint64_t)b : 0;
    }
    r = measure(s, &used, err);
out:
    if (r < 0 && err && !err->len)
        st_sqlerr(s, err, "storage limit");
    sqlite3_finalize(st);
    return r;
}

void st_quota_close(struct store *s)
{
    sqlite3_finalize(s->quota_stmt);
    s->quota_stmt = NULL;
    vr_free(s->quota_label);
    s->quota_label = NULL;
}

void st_quota_forget(struct store *s)
{
    s->quota_bound = 0;
}

int st_quota_check(struct store_txn *t, uint64_t bytes, size_t trees, uint64_t file_bytes,
                   struct buf *err)
{
    struct store *s = t->s;
    if (!s->quota_bytes || t->exempt_limit)
        return 0;
    /* what the write may take: its bytes twice over (b-tree pages are not full) and a page per
     * b-tree it touches (a split), two more for the table's interior pages */
    uint64_t est = 2 * bytes + (uint64_t)(trees + 2) * s->page_size;
    uint64_t files = files_now(s);
    if (s->quota_bound && s->quota_bound + est + files + file_bytes <= s->quota_bytes) {
        s->quota_bound += est;
        return 0;
    }
    uint64_t used = 0;
    if (measure(s, &used, err) < 0)
        return -1;
    if (used + est + files + file_bytes <= s->quota_bytes) {
        s->quota_bound = used + est;
        return 0;
    }
    s->quota_bound = 0;
    struct store_usage u = { s->quota_bytes, used, files };
    store_full_message(s, &u, est + file_bytes, err);
    s->err_kind = STORE_ERR_FULL;
    return -1;
}

void st_quota_sqlite_full(struct store *s, struct buf *err, const char *what)
{
    if (!s->quota_bytes) {
        buf_appendf(err, "sqlite: %s: %s", what, sqlite3_errmsg(s->db));
        return;
    }
    char lim[48];
    limit_text(s->quota_bytes, lim);
    s->err_kind = STORE_ERR_FULL;
    buf_appendf(err,
                "%s is over its storage limit of %s (--max-tenant-storage-mb): the database "
                "reached the limit and its reserve, or the disk is full (sqlite: %s: %s); delete "
                "data or raise the limit",
                s->quota_label ? s->quota_label : "the database", lim, what,
                sqlite3_errmsg(s->db));
}

/* store_reader: read-only stores for query reader threads (proto/readers.c): a SQLite connection
 * of their own on the shard's database (WAL), whose transactions are snapshots; each re-reads the
 * version and, when SQLite's schema cookie moved (a table or index created or dropped), the
 * catalog, so a snapshot never sees tables its catalog does not know. */
#include <sqlite3.h>
#include <string.h>

#include "base/mem.h"
#include "store/store_int.h"
#include "base/banned.h"

int st_reader_refresh(struct store *s, struct buf *err)
{
    sqlite3_stmt *st = st_prep(s, &s->reader_stmt, err,
                               "SELECT (SELECT v FROM _vr_meta WHERE k = 'version'), "
                               "(SELECT schema_version FROM pragma_schema_version)");
    if (!st)
        return -1;
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        sqlite3_reset(st);
        return st_sqlerr(s, err, "reading the version");
    }
    s->version = (uint64_t)sqlite3_column_int64(st, 0);
    int64_t cookie = sqlite3_column_int64(st, 1);
    sqlite3_reset(st);
    if (cookie != s->reader_cookie) {
        if (st_catalog_load(s, err) < 0)
            return -1;
        s->reader_cookie = cookie;
    }
    return 0;
}

int store_is_reader(const struct store *s)
{
    return s && s->reader;
}

int store_open_reader(const char *path, struct store **out, struct buf *err)
{
    struct store *s = vr_calloc(1, sizeof(*s));
    sqlite3_stmt *st = NULL;
    s->reader = 1;
    s->reader_cookie = -1;
    *out = NULL;
    /* read-write, not SQLITE_OPEN_READONLY: a reader of a WAL database may need to write the
     * WAL's index, and ST_SQLITE_VFS passes a read-only file's locks to the kernel, where
     * releasing them would release the process's exclusive lock; query_only keeps it from
     * writing the database */
    if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, ST_SQLITE_VFS) !=
        SQLITE_OK) {
        st_sqlerr(s, err, path);
        goto fail;
    }
    sqlite3_busy_timeout(s->db, 5000);
    if (st_exec(s, "PRAGMA query_only=1; PRAGMA cache_size=-16384; "
                   "PRAGMA mmap_size=268435456; PRAGMA temp_store=MEMORY",
                err) < 0 ||
        st_search_init(s, err) < 0)
        goto fail;
    if (!(st = st_prep(s, NULL, err, "SELECT v FROM _vr_meta WHERE k = 'cursor_key'")))
        goto fail;
    int ok =
        sqlite3_step(st) == SQLITE_ROW && sqlite3_column_bytes(st, 0) == (int)sizeof(s->cursor_key);
    if (ok)
        memcpy(s->cursor_key, sqlite3_column_blob(st, 0), sizeof(s->cursor_key));
    sqlite3_finalize(st);
    if (!ok) {
        buf_reset(err);
        buf_append_str(err, "the database's cursor key is missing (open it with store_open first)");
        goto fail;
    }
    if (st_reader_refresh(s, err) < 0) /* one statement: its own read transaction */
        goto fail;
    *out = s;
    return 0;
fail:
    store_close(s);
    return -1;
}

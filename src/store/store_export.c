/* store_export: a consistent copy of a shard's database file (store.h: store_export), made with
 * SQLite's VACUUM INTO on a connection of its own — a read transaction, so the copy is the last
 * committed state whatever the shard's own connection has open. */
#include <sqlite3.h>

#include "store/store.h"
#include "store/store_int.h"
#include "base/banned.h"

int store_export(const char *db_path, const char *out_path, struct buf *err)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READWRITE, ST_SQLITE_VFS);
    if (rc != SQLITE_OK) {
        buf_appendf(err, "cannot open %s: %s", db_path, db ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_close(db);
        return -1;
    }
    sqlite3_busy_timeout(db, 5000);
    rc = sqlite3_prepare_v2(db, "VACUUM INTO ?1", -1, &st, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(st, 1, out_path, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
    if (rc != SQLITE_OK)
        buf_appendf(err, "cannot copy %s: %s", db_path, sqlite3_errmsg(db));
    sqlite3_finalize(st);
    sqlite3_close(db);
    return rc == SQLITE_OK ? 0 : -1;
}

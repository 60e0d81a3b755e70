/* store_idem: idempotency records (key -> a mutation's result and commit version) in the
 * _vr_idem system table, read and written inside the mutation's own transaction, so a replayed
 * mutation finds the record exactly when the first one's writes exist. Record keys are
 * "i1|<len>:<scope><len>:<key>#<fingerprint of the call>": a key is private to its scope, and
 * reused for another call it is found (store_idem_conflict) rather than answered. */
#include <sqlite3.h>
#include <string.h>

#include "base/clock.h"
#include "base/hmap.h"
#include "base/mem.h"
#include "store/store_int.h"
#include "base/banned.h"

int store_idem_get(struct store_txn *t, const char *key, size_t key_len, struct buf *value,
                   uint64_t *version, struct buf *err)
{
    struct store *s = t->s;
    sqlite3_stmt *st = st_prep(s, &s->idem_get, err, "SELECT v, version FROM _vr_idem WHERE k = ?");
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, key, (int)key_len, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    int found = 0;
    if (rc == SQLITE_ROW) {
        const void *v = sqlite3_column_text(st, 0);
        int n = sqlite3_column_bytes(st, 0);
        if (buf_append(value, v, (size_t)n) < 0) {
            buf_reset(err);
            buf_append_str(err, "stored result is too large");
            sqlite3_reset(st);
            return -1;
        }
        *version = (uint64_t)sqlite3_column_int64(st, 1);
        found = 1;
    } else if (rc != SQLITE_DONE) {
        st_sqlerr(s, err, "reading an idempotency record");
        sqlite3_reset(st);
        return -1;
    }
    sqlite3_reset(st);
    return found;
}

int store_idem_put(struct store_txn *t, const char *key, size_t key_len, const char *value,
                   size_t value_len, struct buf *err)
{
    struct store *s = t->s;
    s->err_kind = STORE_ERR_OTHER;
    if (!t->writable) {
        buf_reset(err);
        buf_append_str(err, "idempotency records need a writable transaction");
        return -1;
    }
    if (st_txn_alive(t, err) < 0)
        return -1;
    /* a large result counts against the storage limit; a small one never does, so that a
     * mutation that deletes data to make room is recorded even on a full store */
    if (key_len + value_len > STORE_IDEM_UNCHECKED &&
        st_quota_check(t, key_len + value_len, 1, 0, err) < 0)
        return -1;
    sqlite3_stmt *st =
        st_prep(s, &s->idem_put, err, "INSERT OR REPLACE INTO _vr_idem VALUES (?, ?, ?, ?)");
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, key, (int)key_len, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, value, (int)value_len, SQLITE_STATIC);
    /* single-threaded store: this transaction commits at exactly the next version */
    sqlite3_bind_int64(st, 3, (sqlite3_int64)(s->version + 1));
    sqlite3_bind_double(st, 4, clock_wall_ms());
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        st_sqlerr(s, err, "writing an idempotency record");
        return -1;
    }
    t->wrote = 1;
    return 0;
}

#define FP_HEX 16

void store_idem_key(struct buf *out, const char *scope, const char *key, const char *path,
                    const char *args_canon, size_t args_len)
{
    uint64_t fp = hmap_hash(path, strlen(path) + 1) ^ (hmap_hash(args_canon, args_len) * 31);
    buf_appendf(out, "i1|%zu:%s%zu:%s#%016llx", strlen(scope), scope, strlen(key), key,
                (unsigned long long)fp);
}

int store_idem_conflict(struct store *s, const char *record_key, size_t len, struct buf *err)
{
    if (len <= FP_HEX || record_key[len - FP_HEX - 1] != '#')
        return 0;
    size_t plen = len - FP_HEX; /* up to and including '#' */
    char *hi = vr_malloc(plen);
    memcpy(hi, record_key, plen);
    hi[plen - 1] = '#' + 1;
    sqlite3_stmt *st = st_prep(s, &s->idem_conflict, err,
                               "SELECT 1 FROM _vr_idem WHERE k >= ? AND k < ? AND k <> ? LIMIT 1");
    int found = -1;
    if (!st)
        goto out;
    sqlite3_bind_text(st, 1, record_key, (int)plen, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, hi, (int)plen, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, record_key, (int)len, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        found = 1;
    else if (rc == SQLITE_DONE)
        found = 0;
    else
        st_sqlerr(s, err, "reading idempotency records");
    sqlite3_reset(st);
out:
    vr_free(hi);
    return found;
}

int store_idem_prune(struct store *s, double max_age_ms, struct buf *err)
{
    sqlite3_stmt *st = st_prep(s, &s->idem_prune, err, "DELETE FROM _vr_idem WHERE at < ?");
    if (!st)
        return -1;
    sqlite3_bind_double(st, 1, clock_wall_ms() - max_age_ms);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        st_sqlerr(s, err, "pruning idempotency records");
        return -1;
    }
    return sqlite3_changes(s->db);
}

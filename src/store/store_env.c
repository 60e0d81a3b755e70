/* store_env: the deployment's environment variables (`vireo env`, process.env in functions) in
 * the _vr_env system table of the shard's database, kept across restarts. Names are Convex's:
 * a letter, then letters, digits and underscores, at most STORE_ENV_NAME_MAX characters; values
 * are strings of at most STORE_ENV_VALUE_MAX bytes; at most STORE_ENV_MAX_VARS names. Changes run
 * outside any batch (the caller commits first) in a transaction of their own. Values never reach
 * a log line or an error message: messages name the variable, never its value. */
#include <errno.h>
#include <sqlite3.h>
#include <string.h>

#include "store/store_int.h"
#include "base/banned.h"

int store_env_check_name(const char *name, size_t len, struct buf *err)
{
    buf_reset(err);
    if (len == 0) {
        buf_append_str(err, "environment variable names must not be empty");
        return -1;
    }
    if (len > STORE_ENV_NAME_MAX) {
        buf_appendf(err, "environment variable name `%.*s...` is %zu characters long; the limit "
                         "is %d",
                    20, name, len, STORE_ENV_NAME_MAX);
        return -1;
    }
    int first = (name[0] >= 'a' && name[0] <= 'z') || (name[0] >= 'A' && name[0] <= 'Z');
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '_';
        if (!ok || !first) {
            buf_append_str(err, "environment variable name `");
            for (size_t j = 0; j < len; j++) /* shown printable: a name is not a secret */
                buf_append_byte(err, name[j] >= 0x20 && name[j] < 0x7f ? name[j] : '?');
            buf_append_str(err, "` is not valid: names start with a letter and contain only "
                                "letters, digits and underscores");
            return -1;
        }
    }
    return 0;
}

static int check_idle(struct store *s, struct buf *err)
{
    if (s->txn || s->batch) {
        buf_reset(err);
        buf_append_str(err, "environment variables cannot change while a transaction is open");
        return -1;
    }
    return 0;
}

int store_env_list(struct store *s, json_t **out, struct buf *err)
{
    *out = NULL;
    sqlite3_stmt *st = st_prep(s, NULL, err, "SELECT name, value FROM _vr_env ORDER BY name");
    if (!st)
        return -1;
    json_t *o = json_object();
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 0);
        const char *value = (const char *)sqlite3_column_text(st, 1);
        int n = sqlite3_column_bytes(st, 1);
        json_t *v = name && value ? json_stringn(value, (size_t)n) : NULL;
        if (v)
            json_object_set_new(o, name, v);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        json_decref(o);
        return st_sqlerr(s, err, "reading environment variables");
    }
    *out = o;
    return 0;
}

int store_env_set(struct store *s, const char *name, size_t name_len, const char *value,
                  size_t value_len, struct buf *err)
{
    if (check_idle(s, err) < 0)
        return -EIO;
    if (store_env_check_name(name, name_len, err) < 0)
        return -EINVAL;
    if (value_len > STORE_ENV_VALUE_MAX) {
        buf_appendf(err, "the value of environment variable `%.*s` is %zu bytes; the limit is "
                         "%d bytes (8 KiB)",
                    (int)name_len, name, value_len, STORE_ENV_VALUE_MAX);
        return -E2BIG;
    }
    if (memchr(value, '\0', value_len)) {
        buf_appendf(err, "the value of environment variable `%.*s` contains a NUL character",
                    (int)name_len, name);
        return -EINVAL;
    }
    sqlite3_stmt *st = NULL;
    int rc = -EIO;
    if (st_exec(s, "BEGIN IMMEDIATE", err) < 0)
        return -EIO;
    st = st_prep(s, NULL, err,
                 "SELECT (SELECT count(*) FROM _vr_env), "
                 "EXISTS (SELECT 1 FROM _vr_env WHERE name = ?1)");
    if (!st)
        goto out;
    sqlite3_bind_text(st, 1, name, (int)name_len, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_ROW) {
        st_sqlerr(s, err, "counting environment variables");
        goto out;
    }
    if (!sqlite3_column_int(st, 1) && sqlite3_column_int(st, 0) >= STORE_ENV_MAX_VARS) {
        buf_reset(err);
        buf_appendf(err, "cannot add environment variable `%.*s`: a deployment may have at most "
                         "%d; remove one first",
                    (int)name_len, name, STORE_ENV_MAX_VARS);
        rc = -ENOSPC;
        goto out;
    }
    sqlite3_finalize(st);
    st = st_prep(s, NULL, err, "INSERT OR REPLACE INTO _vr_env (name, value) VALUES (?1, ?2)");
    if (!st)
        goto out;
    sqlite3_bind_text(st, 1, name, (int)name_len, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, value, (int)value_len, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE) {
        st_sqlerr(s, err, "writing an environment variable");
        goto out;
    }
    if (st_exec(s, "COMMIT", err) < 0)
        goto out;
    rc = 0;
out:
    sqlite3_finalize(st);
    if (rc < 0)
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

int store_env_remove(struct store *s, const char *name, size_t name_len, struct buf *err)
{
    if (check_idle(s, err) < 0)
        return -EIO;
    if (store_env_check_name(name, name_len, err) < 0)
        return -EINVAL;
    sqlite3_stmt *st = st_prep(s, NULL, err, "DELETE FROM _vr_env WHERE name = ?1");
    if (!st)
        return -EIO;
    sqlite3_bind_text(st, 1, name, (int)name_len, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        st_sqlerr(s, err, "removing an environment variable");
        return -EIO;
    }
    return sqlite3_changes(s->db) > 0 ? 1 : 0;
}

/* store: opening the SQLite file, the catalog of tables and indexes (system tables _vr_meta,
 * _vr_tables, _vr_indexes), ids, transactions and group-commit batches, point reads. Tables are
 * d<num> (by_id key -> JSON text) and i<index id> (index key -> by_id key), all WITHOUT ROWID;
 * search indexes are FTS5 tables f<index id> (store_search.c).
 * Invariant: one transaction at a time,
 * and the in-memory catalog mirrors the system tables of the open SQLite transaction (it is
 * reloaded whenever a transaction that changed it rolls back). */
#include "store/store_int.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/clock.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/rand.h"
#include "store/key.h"
#include "store/validator.h"
#include "store/value.h"

#include "base/banned.h"

/* ---- SQL helpers ---- */

int st_failk(struct store *s, enum store_err kind, struct buf *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    buf_vfail(err, fmt, ap);
    va_end(ap);
    s->err_kind = kind;
    return -1;
}

enum store_err store_last_error(const struct store *s)
{
    return s->err_kind;
}

int st_sqlerr(struct store *s, struct buf *err, const char *what)
{
    if (err) {
        buf_reset(err);
        if ((sqlite3_errcode(s->db) & 0xff) == SQLITE_FULL)
            st_quota_sqlite_full(s, err, what);
        else
            buf_appendf(err, "sqlite: %s: %s", what, sqlite3_errmsg(s->db));
    }
    return -1;
}

int st_txn_alive(struct store_txn *t, struct buf *err)
{
    if (!t->poisoned && !sqlite3_get_autocommit(t->s->db))
        return 0;
    t->poisoned = 1;
    return buf_fail(err, "an earlier write of this transaction failed in the storage; it can only "
                         "roll back");
}

int st_exec(struct store *s, const char *sql, struct buf *err)
{
    if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK)
        return st_sqlerr(s, err, sql);
    return 0;
}

int st_ctl(struct store *s, int which, struct buf *err)
{
    static const char *const sql[CTL_N] = {
        "BEGIN", "BEGIN IMMEDIATE", "COMMIT", "SAVEPOINT vr_op", "RELEASE vr_op",
        "UPDATE _vr_meta SET v = CASE k WHEN 'version' THEN ?1 ELSE ?2 END "
        "WHERE k IN ('version', 'last_ct')",
        "SAVEPOINT vr_txn", "RELEASE vr_txn",
    };
    sqlite3_stmt *st = s->ctl[which];
    if (!st && sqlite3_prepare_v3(s->db, sql[which], -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) !=
                   SQLITE_OK)
        return st_sqlerr(s, err, sql[which]);
    s->ctl[which] = st;
    if (which == CTL_META) {
        sqlite3_bind_int64(st, 1, (sqlite3_int64)s->version);
        sqlite3_bind_double(st, 2, s->last_ct);
    }
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return st_sqlerr(s, err, sql[which]);
    return 0;
}

sqlite3_stmt *st_prep(struct store *s, sqlite3_stmt **slot, struct buf *err, const char *fmt, ...)
{
    if (slot && *slot) {
        sqlite3_reset(*slot);
        sqlite3_clear_bindings(*slot);
        return *slot;
    }
    char sql[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql, sizeof(sql), fmt, ap);
    va_end(ap);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v3(s->db, sql, -1, slot ? SQLITE_PREPARE_PERSISTENT : 0, &st, NULL) !=
        SQLITE_OK) {
        st_sqlerr(s, err, sql);
        return NULL;
    }
    if (slot)
        *slot = st;
    return st;
}

int st_name_ok(const char *name)
{
    return store_name_ok(name, strlen(name));
}

int store_table_name_ok(const char *name, size_t n)
{
    if (n == 0 || n > STORE_TABLE_NAME_MAX)
        return 0;
    for (size_t i = 0; i < n;) { /* names joined by '/': a component's path, then its table */
        const char *slash = memchr(name + i, '/', n - i);
        size_t seg = slash ? (size_t)(slash - name) - i : n - i;
        if (!store_name_ok(name + i, seg))
            return 0;
        i += seg + 1;
        if (slash && i == n)
            return 0;
    }
    return 1;
}

int st_table_open(const struct store *s, const char *name)
{
    if (store_table_is_system(name))
        return 1;
    const char *slash = strrchr(name, '/');
    if (!slash || !s->open_ns) /* the app's table, or no schema at all */
        return !s->has_schema;
    size_t n = (size_t)(slash + 1 - name), i;
    json_t *v;
    json_array_foreach(s->open_ns, i, v)
    {
        if (json_string_length(v) == n && !memcmp(json_string_value(v), name, n))
            return 1;
    }
    return 0;
}

int store_name_ok(const char *name, size_t n)
{
    if (n == 0 || n > 64)
        return 0;
    if (!((name[0] >= 'a' && name[0] <= 'z') || (name[0] >= 'A' && name[0] <= 'Z')))
        return 0;
    for (size_t i = 1; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_'))
            return 0;
    }
    return 1;
}

/* ---- ids: 32 chars of base32 over 20 bytes: a 48-bit big-endian ms timestamp, 10 random bytes
 * and the 4-byte big-endian table number. The timestamp prefix keeps a table's new rows at the
 * end of its by-id B-tree, so a commit batch dirties (and writes to the WAL) a few pages, not one
 * random page per insert; 80 random bits keep ids unguessable and distinct within a millisecond.
 * The alphabet is in ASCII order, so ids sort as their bytes. ---- */

static const char b32[] = "0123456789abcdefghjkmnpqrstvwxyz";

void st_id_new(uint32_t table_num, char out[STORE_ID_LEN + 1])
{
    st_id_new_at(table_num, clock_wall_ms(), out);
}

void st_id_new_at(uint32_t table_num, double wall, char out[STORE_ID_LEN + 1])
{
    unsigned char raw[20];
    /* a clock before 1970 sorts first; past 2^48 ms (year 10889) the last */
    uint64_t ms = wall > 0 ? (wall < 281474976710655.0 ? (uint64_t)wall : 281474976710655u) : 0;
    for (int i = 0; i < 6; i++)
        raw[i] = (unsigned char)(ms >> (40 - 8 * i));
    rand_bytes(raw + 6, 10);
    for (int i = 0; i < 4; i++)
        raw[16 + i] = (unsigned char)(table_num >> (24 - 8 * i));
    for (int g = 0; g < 4; g++) { /* 5 bytes -> 8 characters */
        uint64_t v = 0;
        for (int j = 0; j < 5; j++)
            v = v << 8 | raw[5 * g + j];
        for (int j = 7; j >= 0; j--) {
            out[8 * g + j] = b32[v & 31];
            v >>= 5;
        }
    }
    out[STORE_ID_LEN] = '\0';
}

/* b32's characters by byte, each value plus one (0: not in the alphabet) */
static const unsigned char b32_value[256] = {
    ['0'] = 1, ['1'] = 2, ['2'] = 3, ['3'] = 4, ['4'] = 5, ['5'] = 6, ['6'] = 7, ['7'] = 8,
    ['8'] = 9, ['9'] = 10, ['a'] = 11, ['b'] = 12, ['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16,
    ['g'] = 17, ['h'] = 18, ['j'] = 19, ['k'] = 20, ['m'] = 21, ['n'] = 22, ['p'] = 23, ['q'] = 24,
    ['r'] = 25, ['s'] = 26, ['t'] = 27, ['v'] = 28, ['w'] = 29, ['x'] = 30, ['y'] = 31, ['z'] = 32
};

/* Every get, patch, replace and delete decodes an id: a table lookup per character, and the
 * table number is the low 32 bits of the last 8 characters' 40. */
int st_id_decode(const char *id, size_t len, uint32_t *table_num)
{
    if (len != STORE_ID_LEN)
        return -1;
    uint64_t last = 0;
    for (int i = 0; i < STORE_ID_LEN; i++) {
        unsigned v = b32_value[(unsigned char)id[i]];
        if (!v)
            return -1;
        last = last << 5 | (v - 1);
    }
    *table_num = (uint32_t)last;
    return 0;
}

/* ---- catalog ---- */

static struct st_index *index_new(struct st_table *t, uint32_t id, const char *name, int kind,
                                  const json_t *fields)
{
    struct st_index *ix = vr_calloc(1, sizeof(*ix));
    ix->id = id;
    ix->name = vr_strdup(name);
    ix->kind = kind;
    ix->table = t;
    ix->nfields = json_array_size(fields);
    ix->fields = vr_calloc(ix->nfields ? ix->nfields : 1, sizeof(char *));
    for (size_t i = 0; i < ix->nfields; i++)
        ix->fields[i] = vr_strdup(json_string_value(json_array_get(fields, i)));
    if (kind == IDX_SEARCH || kind == IDX_VECTOR) {
        t->sidx = vr_realloc(t->sidx, (t->nsidx + 1) * sizeof(*t->sidx));
        t->sidx[t->nsidx++] = ix;
    } else {
        t->idx = vr_realloc(t->idx, (t->nidx + 1) * sizeof(*t->idx));
        t->idx[t->nidx++] = ix;
    }
    return ix;
}

static void index_free(struct st_index *ix)
{
    sqlite3_finalize(ix->ins);
    sqlite3_finalize(ix->del);
    sqlite3_finalize(ix->scan[0]);
    sqlite3_finalize(ix->scan[1]);
    sqlite3_finalize(ix->search);
    sqlite3_finalize(ix->vgen);
    sqlite3_finalize(ix->vgen_get);
    for (size_t i = 0; i < ix->nfields; i++)
        vr_free(ix->fields[i]);
    vr_free(ix->fields);
    vr_free(ix->name);
    vr_free(ix);
}

static struct st_table *table_new(struct store *s, uint32_t num, const char *name, uint32_t by_id,
                                  uint32_t by_ct)
{
    struct st_table *t = vr_calloc(1, sizeof(*t));
    t->num = num;
    t->name = vr_strdup(name);
    t->system = store_table_is_system(name);
    index_new(t, by_id, "by_id", IDX_BY_ID, NULL);
    index_new(t, by_ct, "by_creation_time", IDX_CT, NULL);
    s->tables = vr_realloc(s->tables, (s->ntables + 1) * sizeof(*s->tables));
    s->tables[s->ntables++] = t;
    return t;
}

void st_catalog_free(struct store *s)
{
    for (size_t i = 0; i < s->ntables; i++) {
        struct st_table *t = s->tables[i];
        for (size_t j = 0; j < t->nidx; j++)
            index_free(t->idx[j]);
        vr_free(t->idx);
        for (size_t j = 0; j < t->nsidx; j++)
            index_free(t->sidx[j]);
        vr_free(t->sidx);
        sqlite3_finalize(t->get);
        sqlite3_finalize(t->ins);
        sqlite3_finalize(t->upd);
        sqlite3_finalize(t->del);
        validator_free(t->validator_v);
        json_decref(t->validator);
        vr_free(t->name);
        vr_free(t);
    }
    vr_free(s->tables);
    s->tables = NULL;
    json_decref(s->open_ns);
    s->open_ns = NULL;
    s->ntables = 0;
    vr_free(s->sched_idx);
    vr_free(s->sched_tables);
    s->sched_idx = NULL;
    s->sched_tables = NULL;
    s->nsched = 0;
}

struct st_table *st_table_find(struct store *s, const char *name)
{
    for (size_t i = 0; i < s->ntables; i++)
        if (!strcmp(s->tables[i]->name, name))
            return s->tables[i];
    return NULL;
}

struct st_table *st_table_by_num(struct store *s, uint32_t num)
{
    for (size_t i = 0; i < s->ntables; i++)
        if (s->tables[i]->num == num)
            return s->tables[i];
    return NULL;
}

struct st_index *st_index_find(struct st_table *t, const char *name)
{
    for (size_t i = 0; i < t->nidx; i++)
        if (!strcmp(t->idx[i]->name, name))
            return t->idx[i];
    return NULL;
}

int st_catalog_load(struct store *s, struct buf *err)
{
    sqlite3_stmt *st = NULL;
    json_t *schema = NULL;
    int r = -1;
    st_catalog_free(s);
    st_memo_forget(s); /* its table is gone */
    s->has_schema = 0;
    s->validate = 0;
    if (!(st = st_prep(s, NULL, err, "SELECT num, name, by_id, by_ct FROM _vr_tables ORDER BY num")))
        goto out;
    while (sqlite3_step(st) == SQLITE_ROW)
        table_new(s, (uint32_t)sqlite3_column_int64(st, 0), (const char *)sqlite3_column_text(st, 1),
                  (uint32_t)sqlite3_column_int64(st, 2), (uint32_t)sqlite3_column_int64(st, 3));
    sqlite3_finalize(st);
    if (!(st = st_prep(s, NULL, err, "SELECT id, tnum, name, fields FROM _vr_indexes ORDER BY id")))
        goto out;
    while (sqlite3_step(st) == SQLITE_ROW) {
        struct st_table *t = st_table_by_num(s, (uint32_t)sqlite3_column_int64(st, 1));
        json_t *f = json_loads((const char *)sqlite3_column_text(st, 3), 0, NULL);
        if (t && json_is_array(f)) {
            index_new(t, (uint32_t)sqlite3_column_int64(st, 0),
                      (const char *)sqlite3_column_text(st, 2), IDX_USER, f);
        } else if (t && json_is_object(f) && json_object_get(f, "vectorField")) {
            /* a vector index: {"vectorField": f, "dimensions": n, "filterFields": [...]} */
            json_t *all = json_array();
            json_array_append(all, json_object_get(f, "vectorField"));
            json_array_extend(all, json_object_get(f, "filterFields"));
            struct st_index *ix = index_new(t, (uint32_t)sqlite3_column_int64(st, 0),
                                            (const char *)sqlite3_column_text(st, 2), IDX_VECTOR,
                                            all);
            ix->dims = (uint32_t)json_integer_value(json_object_get(f, "dimensions"));
            json_decref(all);
        } else if (t && json_is_object(f)) {
            /* a search index: {"searchField": f, "filterFields": [...]} */
            json_t *all = json_array();
            json_array_append(all, json_object_get(f, "searchField"));
            json_array_extend(all, json_object_get(f, "filterFields"));
            index_new(t, (uint32_t)sqlite3_column_int64(st, 0),
                      (const char *)sqlite3_column_text(st, 2), IDX_SEARCH, all);
            json_decref(all);
        }
        json_decref(f);
    }
    sqlite3_finalize(st);
    if (!(st = st_prep(s, NULL, err, "SELECT v FROM _vr_meta WHERE k = 'schema'")))
        goto out;
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) == SQLITE_TEXT) {
        schema = json_loads((const char *)sqlite3_column_text(st, 0), STORE_JSON_FLAGS, NULL);
        if (schema) {
            /* with components: whether the app itself has a schema, and the components that
             * have none (their path with a trailing '/'), whose tables need no declaration */
            s->has_schema = !json_is_false(json_object_get(schema, "appSchema"));
            json_t *open = json_object_get(schema, "schemaless");
            s->open_ns = json_is_array(open) ? json_incref(open) : json_array();
            json_t *sv = json_object_get(schema, "schemaValidation");
            s->validate = !json_is_false(sv);
            const char *name;
            json_t *def;
            json_object_foreach(json_object_get(schema, "tables"), name, def) {
                struct st_table *t = st_table_find(s, name);
                json_t *doc = json_object_get(def, "document");
                if (t)
                    t->declared = 1;
                if (t && doc && s->validate) {
                    t->validator = json_incref(doc);
                    t->validator_v = validator_compile(doc);
                }
            }
        }
    }
    st_sched_catalog(s);
    r = 0;
out:
    sqlite3_finalize(st);
    json_decref(schema);
    return r;
}

int st_meta_next(struct store *s, const char *key, uint32_t *out, struct buf *err)
{
    sqlite3_stmt *st = st_prep(s, NULL, err, "UPDATE _vr_meta SET v = v + 1 WHERE k = ?1 "
                                              "RETURNING v - 1");
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    int r = -1;
    if (sqlite3_step(st) == SQLITE_ROW) {
        *out = (uint32_t)sqlite3_column_int64(st, 0);
        r = 0;
    } else {
        st_sqlerr(s, err, "meta counter");
    }
    sqlite3_finalize(st);
    return r;
}

int st_table_create(struct store *s, const char *name, struct st_table **out, struct buf *err)
{
    uint32_t num, by_id, by_ct;
    char sql[256];
    sqlite3_stmt *st = NULL;
    if (!store_table_name_ok(name, strlen(name)) && !store_sched_table_name_ok(name) &&
        strcmp(name, STORE_STORAGE_TABLE) && strcmp(name, STORE_ACTOR_TABLE)) {
        buf_reset(err);
        buf_appendf(err, "invalid table name `%.64s`: use letters, digits and '_', starting with "
                         "a letter",
                    name);
        return -1;
    }
    if (st_meta_next(s, "next_table", &num, err) < 0 ||
        st_meta_next(s, "next_index", &by_id, err) < 0 ||
        st_meta_next(s, "next_index", &by_ct, err) < 0)
        return -1;
    if (!(st = st_prep(s, NULL, err, "INSERT INTO _vr_tables(num, name, by_id, by_ct) "
                                     "VALUES (?1, ?2, ?3, ?4)")))
        return -1;
    sqlite3_bind_int64(st, 1, num);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, by_id);
    sqlite3_bind_int64(st, 4, by_ct);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return st_sqlerr(s, err, "create table");
    snprintf(sql, sizeof(sql),
             "CREATE TABLE d%u (k BLOB PRIMARY KEY, j TEXT NOT NULL) WITHOUT ROWID;"
             "CREATE TABLE i%u (k BLOB PRIMARY KEY, d BLOB NOT NULL) WITHOUT ROWID;",
             num, by_ct);
    if (st_exec(s, sql, err) < 0)
        return -1;
    struct st_table *t = table_new(s, num, name, by_id, by_ct);
    if (s->txn) {
        s->txn->catalog_dirty = 1;
        struct buf k = BUF_INIT(STORE_MAX_KEY), none = BUF_INIT(0);
        json_t *js = json_string(name);
        key_encode_value(&k, js);
        json_decref(js);
        st_write_add(s->txn, STORE_CATALOG_INDEX, &none, &k);
        buf_release(&k);
    }
    *out = t;
    return 0;
}

/* ---- read and write sets ---- */

void st_read_add(struct store_txn *t, uint32_t index_id, const void *lo, size_t lo_len,
                 const void *hi, size_t hi_len)
{
    struct read_set *rs = &t->rs;
    if (rs->len == rs->cap) {
        rs->cap = rs->cap ? rs->cap * 2 : 8;
        rs->ranges = vr_realloc(rs->ranges, rs->cap * sizeof(*rs->ranges));
    }
    struct key_range *kr = &rs->ranges[rs->len++];
    kr->index_id = index_id;
    buf_init(&kr->lo, BUF_NOLIMIT);
    buf_init(&kr->hi, BUF_NOLIMIT);
    buf_append(&kr->lo, lo, lo_len);
    buf_append(&kr->hi, hi, hi_len);
}

void st_write_add(struct store_txn *t, uint32_t index_id, const struct buf *old_key,
                  const struct buf *new_key)
{
    struct write_set *ws = &t->ws;
    if (ws->len == ws->cap) {
        ws->cap = ws->cap ? ws->cap * 2 : 8;
        ws->writes = vr_realloc(ws->writes, ws->cap * sizeof(*ws->writes));
    }
    struct index_write *w = &ws->writes[ws->len++];
    w->index_id = index_id;
    buf_init(&w->old_key, BUF_NOLIMIT);
    buf_init(&w->new_key, BUF_NOLIMIT);
    buf_append(&w->old_key, old_key->data, old_key->len);
    buf_append(&w->new_key, new_key->data, new_key->len);
}

void st_write_truncate(struct store_txn *t, size_t len)
{
    while (t->ws.len > len) {
        struct index_write *w = &t->ws.writes[--t->ws.len];
        buf_release(&w->old_key);
        buf_release(&w->new_key);
    }
}

/* ---- index keys ---- */

const json_t *st_lookup_path(const json_t *doc, const char *path)
{
    const json_t *v = doc;
    const char *p = path;
    for (;;) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        if (value_type_of(v, NULL, NULL) != VT_OBJECT)
            return NULL;
        v = json_object_getn(v, p, n);
        if (!v || !dot)
            return v;
        p = dot + 1;
    }
}

int st_index_key(const struct st_index *ix, const json_t *doc, double ct, const char *id,
                 struct buf *out)
{
    int r = 0;
    buf_reset(out);
    if (ix->kind != IDX_BY_ID) {
        for (size_t i = 0; r == 0 && i < ix->nfields; i++)
            r = key_encode_value(out, st_lookup_path(doc, ix->fields[i]));
        if (r == 0)
            r = key_encode_number(out, ct);
    }
    if (r == 0)
        r = key_encode_string(out, id, strlen(id));
    return r;
}

/* ---- open / close ---- */

static pthread_once_t sqlite_once = PTHREAD_ONCE_INIT;

/* Before SQLite's first use in the process: no memory statistics. With them on, every
 * sqlite3_malloc and sqlite3_free takes a process-wide mutex to count; nothing here reads them
 * (no sqlite3_memory_used, no soft heap limit). If SQLite was used before (SQLITE_MISUSE), the
 * statistics stay on and all else is the same. */
static void sqlite_setup(void)
{
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

int store_open(const char *path, const struct store_options *opts, struct store **out,
               struct buf *err)
{
    pthread_once(&sqlite_once, sqlite_setup);
    struct store *s = vr_calloc(1, sizeof(*s));
    sqlite3_stmt *st = NULL;
    int full = !opts || opts->durability == STORE_DURABILITY_FULL;
    const char *vfs = NULL;
    if (strcmp(path, ":memory:") && !(vfs = st_vfs_register(s)))
        vfs = ST_SQLITE_VFS;
    s->durability = full ? STORE_DURABILITY_FULL : STORE_DURABILITY_RELAXED;
    if (opts && opts->test_fail_table)
        s->test_fail_table = vr_strdup(opts->test_fail_table);
    if (opts && opts->test_fail_sync_table)
        s->test_fail_sync_table = vr_strdup(opts->test_fail_sync_table);
    *out = NULL;
    /* multi-thread mode (NOMUTEX): one thread at a time uses a store's connection (the loop's;
     * a tenant opened on an opener thread is handed over through an eventfd), so SQLite's
     * per-call connection mutex only cost a lock and an unlock in every API call */
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    if (sqlite3_open_v2(path, &s->db, flags, vfs) != SQLITE_OK) {
        st_sqlerr(s, err, path);
        goto fail;
    }
    sqlite3_busy_timeout(s->db, 5000);
    if (st_exec(s, "PRAGMA journal_mode=WAL", err) < 0) {
        /* the first statement takes the process's exclusive lock on the file (ST_SQLITE_VFS) */
        if (sqlite3_errcode(s->db) == SQLITE_BUSY)
            buf_appendf(err, " (another process has the file open)");
        goto fail;
    }
    if (st_exec(s, full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL", err) < 0 ||
        st_exec(s, "PRAGMA cache_size=-65536; PRAGMA mmap_size=268435456; PRAGMA temp_store=MEMORY",
                err) < 0 ||
        st_exec(s,
                "BEGIN IMMEDIATE;"
                "CREATE TABLE IF NOT EXISTS _vr_meta (k TEXT PRIMARY KEY, v);"
                "CREATE TABLE IF NOT EXISTS _vr_tables (num INTEGER PRIMARY KEY, "
                "  name TEXT UNIQUE NOT NULL, by_id INTEGER NOT NULL, by_ct INTEGER NOT NULL);"
                "CREATE TABLE IF NOT EXISTS _vr_indexes (id INTEGER PRIMARY KEY, "
                "  tnum INTEGER NOT NULL, name TEXT NOT NULL, fields TEXT NOT NULL);"
                "CREATE TABLE IF NOT EXISTS _vr_idem (k TEXT PRIMARY KEY, v TEXT NOT NULL, "
                "  version INTEGER NOT NULL, at REAL NOT NULL);"
                "CREATE TABLE IF NOT EXISTS _vr_env (name TEXT PRIMARY KEY, value TEXT NOT NULL);"
                "CREATE TABLE IF NOT EXISTS _vr_cron (name TEXT PRIMARY KEY, spec TEXT NOT NULL, "
                "  job TEXT NOT NULL, last_run REAL);"
                "INSERT OR IGNORE INTO _vr_meta VALUES ('format', 1), ('version', 0), "
                "  ('next_table', 1), ('next_index', 1), ('last_ct', 0.0), ('schema', NULL);"
                "COMMIT;",
                err) < 0)
        goto fail;
    if (!(st = st_prep(s, NULL, err, "SELECT (SELECT v FROM _vr_meta WHERE k = 'version'), "
                                     "(SELECT v FROM _vr_meta WHERE k = 'last_ct')")))
        goto fail;
    if (sqlite3_step(st) == SQLITE_ROW) {
        s->version = (uint64_t)sqlite3_column_int64(st, 0);
        s->last_ct = sqlite3_column_double(st, 1);
    }
    sqlite3_finalize(st);
    if (st_search_init(s, err) < 0 || st_catalog_load(s, err) < 0 ||
        st_search_migrate(s, err) < 0 || st_sched_ensure(s, err) < 0 ||
        st_storage_ensure(s, err) < 0 ||
        st_system_table_ensure(s, STORE_ACTOR_TABLE, STORE_ACTOR_INDEX, "name", "actorId",
                               err) < 0 ||
        st_page_key_load(s, err) < 0 || st_quota_open(s, opts, err) < 0)
        goto fail;
    if (strcmp(path, ":memory:") && st_ckpt_start(s, path, err) < 0)
        goto fail;
    *out = s;
    return 0;
fail:
    if (s->db)
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    store_close(s);
    return -1;
}

void store_close(struct store *s)
{
    if (!s)
        return;
    st_ckpt_stop(s);
    st_catalog_free(s);
    st_memo_release(s);
    for (int i = 0; i < CTL_N; i++)
        sqlite3_finalize(s->ctl[i]);
    sqlite3_finalize(s->idem_get);
    sqlite3_finalize(s->idem_put);
    sqlite3_finalize(s->idem_prune);
    sqlite3_finalize(s->idem_conflict);
    sqlite3_finalize(s->reader_stmt);
    st_quota_close(s);
    /* A statement left unfinalized would keep the connection, and its files, open past
     * close_v2: then the counting VFS must outlive it (leaked rather than freed under it).
     * sqlite3_close says so (SQLITE_BUSY) after disconnecting the virtual tables, whose own
     * statements (FTS5's, store_search.c) do not count. */
    int zombie = s->db && sqlite3_close(s->db) == SQLITE_BUSY;
    if (zombie) {
        log_warn("store", "closing with unfinalized statements; the connection stays open");
        sqlite3_close_v2(s->db);
    }
    if (!zombie)
        st_vfs_unregister(s);
    vr_free(s->test_fail_table);
    vr_free(s->test_fail_sync_table);
    vr_free(s->batch_fail_why);
    vr_free(s);
}

const char *store_id_table(struct store *s, const char *id, size_t len)
{
    uint32_t num;
    if (st_id_decode(id, len, &num) < 0)
        return NULL;
    struct st_table *t = st_table_by_num(s, num);
    if (!t && s->reader && !s->txn) { /* a table created since the reader's last snapshot? */
        struct buf err = BUF_INIT(1024);
        if (st_reader_refresh(s, &err) == 0)
            t = st_table_by_num(s, num);
        buf_release(&err);
    }
    return t ? t->name : NULL;
}

enum store_durability store_durability(const struct store *s)
{
    return s->durability;
}

uint64_t store_version(const struct store *s)
{
    return s->version;
}

uint64_t store_committed_version(const struct store *s)
{
    return s->batch ? s->batch_version : s->version;
}

int store_batch_is_open(const struct store *s)
{
    return s->batch;
}

/* ---- transactions ---- */

struct store_txn *store_txn_begin(struct store *s, int writable, struct buf *err)
{
    s->err_kind = STORE_ERR_OTHER;
    if (s->txn) {
        buf_reset(err);
        buf_append_str(err, "another transaction is open on this store");
        return NULL;
    }
    if (s->batch && sqlite3_get_autocommit(s->db)) {
        /* SQLite rolled the batch back (an SQLITE_FULL or I/O error in one of its writes): a
         * savepoint now would run outside it and commit on its own */
        buf_reset(err);
        buf_append_str(err, "this batch of writes was rolled back by a storage failure; retry");
        return NULL;
    }
    if (!s->batch)
        st_quota_forget(s);
    if (s->reader && writable) { /* store_open_reader's: snapshots only */
        buf_reset(err);
        buf_append_str(err, "this store is read-only");
        return NULL;
    }
    if (st_ctl(s, s->batch ? CTL_TXN_SAVEPOINT : writable ? CTL_BEGIN_W : CTL_BEGIN_R, err) < 0)
        return NULL;
    if (s->reader && st_reader_refresh(s, err) < 0) {
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        return NULL;
    }
    struct store_txn *t = vr_calloc(1, sizeof(*t));
    t->s = s;
    t->writable = writable;
    t->open = 1;
    t->begin_changes = sqlite3_total_changes(s->db);
    s->txn = t;
    return t;
}

#define OVER_LIMIT_HELP                                                                        \
    "Consider using smaller limits in your queries, paginating your queries, or using indexed " \
    "queries with a selective index range expressions."

/* 1 (and *limit) when `now`, the value of counter `which`, is past its global limit or a
 * nested call's lower one on what was counted since its push. */
static int over(const struct store_txn *t, enum st_cap which, uint64_t now, uint64_t global,
                uint64_t *limit)
{
    if (now > global) {
        *limit = global;
        return 1;
    }
    for (int i = 0; i < t->ncaps; i++) {
        uint64_t lim = t->caps[i].lim[which];
        if (now >= t->caps[i].at[which] && now - t->caps[i].at[which] > lim) {
            *limit = lim;
            return 1;
        }
    }
    return 0;
}

int st_txn_read(struct store_txn *t, const struct st_table *tb, size_t bytes, struct buf *err)
{
    if (tb->system || t->bulk)
        return 0;
    /* counted even when it fails: every later read fails too, as in Convex */
    t->docs_read++;
    t->bytes_read += bytes;
    uint64_t lim;
    if (over(t, ST_CAP_DOCS_READ, t->docs_read, STORE_TXN_MAX_DOCS_READ, &lim))
        return st_failk(t->s, STORE_ERR_DOCS_READ, err,
                        "Too many documents read in a single function execution (limit: "
                        "%llu). " OVER_LIMIT_HELP,
                        (unsigned long long)lim);
    if (over(t, ST_CAP_BYTES_READ, t->bytes_read, STORE_TXN_MAX_BYTES_READ, &lim))
        return st_failk(t->s, STORE_ERR_BYTES_READ, err,
                        "Too many bytes read in a single function execution (limit: %llu "
                        "bytes). " OVER_LIMIT_HELP,
                        (unsigned long long)lim);
    return 0;
}

int st_txn_range(struct store_txn *t, const char *table, struct buf *err)
{
    if (store_table_is_system(table) || t->bulk)
        return 0;
    uint64_t lim;
    if (over(t, ST_CAP_RANGES, ++t->ranges_read, STORE_TXN_MAX_RANGES, &lim))
        return st_failk(
            t->s, STORE_ERR_RANGES, err,
            "Too many reads in a single function execution (limit: %llu). " OVER_LIMIT_HELP,
            (unsigned long long)lim);
    return 0;
}

int st_txn_write(struct store_txn *t, const struct st_table *tb, size_t bytes, struct buf *err)
{
    if (tb->system || t->bulk)
        return 0;
    t->writes++;
    t->bytes_written += bytes;
    uint64_t lim;
    if (over(t, ST_CAP_WRITES, t->writes, STORE_TXN_MAX_WRITES, &lim))
        return st_failk(t->s, STORE_ERR_WRITES, err,
                        "Too many writes in a single function execution (limit: %llu)",
                        (unsigned long long)lim);
    if (over(t, ST_CAP_BYTES_WRITTEN, t->bytes_written, STORE_TXN_MAX_BYTES_WRITTEN, &lim))
        return st_failk(t->s, STORE_ERR_BYTES_WRITTEN, err,
                        "Too many bytes written in a single function execution (limit: %llu "
                        "bytes)",
                        (unsigned long long)lim);
    return 0;
}

int store_txn_caps_push(struct store_txn *t, const struct store_txn_limits *lim)
{
    if (t->ncaps >= STORE_TXN_CAPS_MAX)
        return -1;
    struct st_caps *c = &t->caps[t->ncaps++];
    c->lim[ST_CAP_DOCS_READ] = lim->docs_read;
    c->lim[ST_CAP_BYTES_READ] = lim->bytes_read;
    c->lim[ST_CAP_RANGES] = lim->ranges_read;
    c->lim[ST_CAP_WRITES] = lim->writes;
    c->lim[ST_CAP_BYTES_WRITTEN] = lim->bytes_written;
    c->at[ST_CAP_DOCS_READ] = t->docs_read;
    c->at[ST_CAP_BYTES_READ] = t->bytes_read;
    c->at[ST_CAP_RANGES] = t->ranges_read;
    c->at[ST_CAP_WRITES] = t->writes;
    c->at[ST_CAP_BYTES_WRITTEN] = t->bytes_written;
    return 0;
}

void store_txn_caps_pop(struct store_txn *t)
{
    if (t->ncaps > 0)
        t->ncaps--;
}

void store_txn_usage(const struct store_txn *t, struct store_txn_usage *u)
{
    *u = (struct store_txn_usage){.docs_read = t->docs_read,
                                  .ranges_read = t->ranges_read,
                                  .writes = t->writes,
                                  .bytes_read = t->bytes_read,
                                  .bytes_written = t->bytes_written,
                                  .writable = t->writable};
}

int store_txn_renew(struct store_txn *t)
{
    struct store *s = t->s;
    if (!t->open || !s->batch || s->txn != t || t->wrote || t->poisoned || t->catalog_dirty ||
        t->files_delta || t->ws.len || sqlite3_total_changes(s->db) != t->begin_changes ||
        sqlite3_get_autocommit(s->db))
        return 0;
    if (t->rs.len)
        read_set_release(&t->rs);
    t->exempt_limit = t->bulk = 0;
    t->docs_read = t->writes = t->ranges_read = 0; /* the next call's limits are its own */
    t->ncaps = 0;
    t->bytes_read = t->bytes_written = 0;
    return 1;
}

int store_txn_sub_begin(struct store_txn *t, struct store_sub *sub, struct buf *err)
{
    if (!t->open || !t->writable) {
        buf_reset(err);
        buf_append_str(err, "a sub-transaction needs an open write transaction");
        return -1;
    }
    if (st_txn_alive(t, err) < 0)
        return -1;
    *sub = (struct store_sub){.ws_len = t->ws.len,
                              .writes = t->writes,
                              .bytes_written = t->bytes_written,
                              .files_delta = t->files_delta,
                              .wrote = t->wrote};
    /* savepoints of one name nest: RELEASE and ROLLBACK TO take the innermost */
    if (st_exec(t->s, "SAVEPOINT vr_sub", err) < 0) {
        t->poisoned = 1;
        return -1;
    }
    return 0;
}

int store_txn_sub_end(struct store_txn *t, const struct store_sub *sub, int ok, struct buf *err)
{
    struct store *s = t->s;
    if (st_txn_alive(t, err) < 0) {
        t->poisoned = 1;
        return -1;
    }
    if (ok) {
        if (st_exec(s, "RELEASE vr_sub", err) < 0) {
            t->poisoned = 1;
            return -1;
        }
        return 0;
    }
    st_memo_forget(s);
    if (st_exec(s, "ROLLBACK TO vr_sub", err) < 0 || st_exec(s, "RELEASE vr_sub", err) < 0) {
        t->poisoned = 1;
        return -1;
    }
    st_write_truncate(t, sub->ws_len);
    t->writes = sub->writes;
    t->bytes_written = sub->bytes_written;
    t->files_delta = sub->files_delta;
    t->wrote = sub->wrote;
    st_quota_forget(s);                                    /* the pages in use moved back */
    if (t->catalog_dirty && st_catalog_load(s, err) < 0) { /* a table it made is gone */
        t->poisoned = 1;
        return -1;
    }
    return 0;
}

static void txn_finish(struct store_txn *t, int rolled_back)
{
    struct store *s = t->s;
    t->open = 0;
    s->txn = NULL;
    if (rolled_back && t->catalog_dirty)
        st_catalog_load(s, NULL);
    if (!rolled_back && t->catalog_dirty && s->batch)
        s->batch_dirty = 1;
}

static void txn_rollback(struct store_txn *t)
{
    struct store *s = t->s;
    st_memo_forget(s);
    if (s->batch)
        sqlite3_exec(s->db, "ROLLBACK TO vr_txn; RELEASE vr_txn", NULL, NULL, NULL);
    else
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    txn_finish(t, 1);
}

int store_txn_commit(struct store_txn *t, uint64_t *version_out, struct buf *err)
{
    struct store *s = t->s;
    s->err_kind = STORE_ERR_OTHER;
    if (!t->open) {
        buf_reset(err);
        buf_append_str(err, "transaction is not open");
        return -1;
    }
    if (t->poisoned || sqlite3_get_autocommit(s->db)) {
        /* autocommit: SQLite rolled the transaction (and its batch) back after a failed write */
        buf_fail(err, "a write of this transaction failed in the storage; nothing was committed");
        txn_rollback(t);
        return -1;
    }
    if (t->wrote)
        s->version++;
    if (s->batch) {
        if (st_ctl(s, CTL_TXN_RELEASE, err) < 0)
            goto fail;
    } else if ((t->wrote && st_ctl(s, CTL_META, err) < 0) || st_ctl(s, CTL_COMMIT, err) < 0) {
        goto fail;
    }
    if (version_out)
        *version_out = s->version;
    if (t->files_delta < 0 && (uint64_t)-t->files_delta > s->files_bytes)
        s->files_bytes = 0;
    else
        s->files_bytes += (uint64_t)t->files_delta;
    txn_finish(t, 0);
    return 0;
fail:
    if (t->wrote)
        s->version--;
    txn_rollback(t);
    return -1;
}

void store_txn_abort(struct store_txn *t)
{
    if (!t || !t->open)
        return;
    txn_rollback(t);
}

int store_batch_begin(struct store *s, struct buf *err)
{
    if (s->txn || s->batch) {
        buf_reset(err);
        buf_append_str(err, "cannot begin a batch inside a transaction or another batch");
        return -1;
    }
    st_ckpt_synced(s); /* a deferred commit's, if store_after_sync was not called */
    if (st_ctl(s, CTL_BEGIN_W, err) < 0)
        return -1;
    st_memo_forget(s);
    s->batch = 1;
    s->batch_dirty = 0;
    s->batch_fail = 0;
    vr_free(s->batch_fail_why);
    s->batch_fail_why = NULL;
    s->batch_version = s->version;
    s->batch_files_bytes = s->files_bytes;
    st_quota_forget(s);
    return 0;
}

void store_batch_fail(struct store *s, const char *why)
{
    if (!s->batch || s->batch_fail)
        return;
    s->batch_fail = 1;
    s->batch_fail_why = vr_strdup(why);
}

int store_batch_commit(struct store *s, struct buf *err)
{
    if (!s->batch || s->txn) {
        buf_reset(err);
        buf_append_str(err, s->batch ? "a transaction of the batch is still open"
                                     : "no batch is open");
        return -1;
    }
    s->batch = 0;
    st_memo_forget(s);
    if (s->batch_fail) {
        buf_reset(err);
        if (s->batch_fail_why)
            buf_append_str(err, s->batch_fail_why);
        else
            buf_appendf(err, "the batch inserted into `%s` (--test-fail-commit)",
                        s->test_fail_table);
        vr_free(s->batch_fail_why);
        s->batch_fail_why = NULL;
    }
    if (!s->batch_fail && sqlite3_get_autocommit(s->db)) {
        s->batch_fail = 1; /* SQLite rolled it back after a failed write (SQLITE_FULL, I/O) */
        buf_reset(err);
        buf_append_str(err, "the batch was rolled back by a storage failure");
    }
    if (s->batch_fail || (s->version != s->batch_version && st_ctl(s, CTL_META, err) < 0) ||
        st_ctl(s, CTL_COMMIT, err) < 0) {
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        s->version = s->batch_version;
        s->files_bytes = s->batch_files_bytes;
        if (s->batch_dirty)
            st_catalog_load(s, NULL);
        return -1;
    }
    return 0;
}

int store_batch_commit_deferred(struct store *s, struct buf *err)
{
    int full = s->durability == STORE_DURABILITY_FULL;
    st_vfs_defer(s, full);
    st_ckpt_defer(s, full);
    int r = store_batch_commit(s, err);
    st_ckpt_defer(s, 0);
    st_vfs_defer(s, 0);
    return r;
}

void store_sync_wait(struct store *s)
{
    st_vfs_sync_wait(s);
}

void store_after_sync(struct store *s)
{
    st_ckpt_synced(s);
}

void read_set_copy(struct read_set *dst, const struct read_set *src)
{
    dst->len = dst->cap = src->len;
    dst->ranges = src->len ? vr_malloc(src->len * sizeof *dst->ranges) : NULL;
    for (size_t i = 0; i < src->len; i++) {
        const struct key_range *r = &src->ranges[i];
        dst->ranges[i].index_id = r->index_id;
        buf_init(&dst->ranges[i].lo, BUF_NOLIMIT);
        buf_init(&dst->ranges[i].hi, BUF_NOLIMIT);
        buf_append(&dst->ranges[i].lo, r->lo.data, r->lo.len);
        buf_append(&dst->ranges[i].hi, r->hi.data, r->hi.len);
    }
}

void read_set_release(struct read_set *rs)
{
    for (size_t i = 0; i < rs->len; i++) {
        buf_release(&rs->ranges[i].lo);
        buf_release(&rs->ranges[i].hi);
    }
    vr_free(rs->ranges);
    memset(rs, 0, sizeof *rs);
}

void store_txn_free(struct store_txn *t)
{
    if (!t)
        return;
    store_txn_abort(t);
    read_set_release(&t->rs);
    st_write_truncate(t, 0);
    vr_free(t->ws.writes);
    vr_free(t);
}

const struct read_set *store_txn_read_set(const struct store_txn *t)
{
    return &t->rs;
}

const struct write_set *store_txn_write_set(const struct store_txn *t)
{
    return &t->ws;
}

/* ---- point reads ---- */

int store_table_is_system(const char *name)
{
    const char *slash = strrchr(name, '/');
    return (slash ? slash[1] : name[0]) == '_';
}

int store_table_in_namespace(const char *table, const char *ns)
{
    size_t n = strlen(ns);
    return table[0] == '_' || (!strncmp(table, ns, n) && !strchr(table + n, '/'));
}

int store_get(struct store_txn *t, const char *id, size_t id_len, struct buf *out, int *found,
              struct buf *err)
{
    return store_get_in(t, id, id_len, NULL, NULL, out, found, err);
}

int store_get_in(struct store_txn *t, const char *id, size_t id_len, const char *ns,
                 const char **table, struct buf *out, int *found, struct buf *err)
{
    struct store *s = t->s;
    uint32_t num;
    *found = 0;
    s->err_kind = STORE_ERR_OTHER;
    if (!t->open) {
        buf_reset(err);
        buf_append_str(err, "transaction is not open");
        return -1;
    }
    if (st_id_decode(id, id_len, &num) < 0)
        return st_failk(s, STORE_ERR_INVALID_ID, err, "invalid id `%.*s`",
                        (int)(id_len > 64 ? 64 : id_len), id);
    struct st_table *tb = st_table_by_num(s, num);
    if (!tb || (ns && !store_table_in_namespace(tb->name, ns)))
        return 0;
    if (table)
        *table = tb->name;
    if (st_txn_range(t, tb->name, err) < 0)
        return -1;
    struct buf k = BUF_INIT(STORE_MAX_KEY);
    json_t *js = json_stringn(id, id_len);
    key_encode_value(&k, js);
    json_decref(js);
    buf_append_byte(&k, 0);
    st_read_add(t, tb->idx[0]->id, k.data, k.len - 1, k.data, k.len);
    int r = -1;
    sqlite3_stmt *st = st_prep(s, &tb->get, err, "SELECT j FROM d%u WHERE k = ?1", tb->num);
    if (!st)
        goto out;
    sqlite3_bind_blob(st, 1, k.data, (int)k.len - 1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        if (st_txn_read(t, tb, (size_t)sqlite3_column_bytes(st, 0), err) < 0)
            goto out;
        if (buf_append(out, sqlite3_column_text(st, 0), (size_t)sqlite3_column_bytes(st, 0)) < 0) {
            st_failk(s, STORE_ERR_TOO_LARGE, err, "document too large for the output buffer");
            goto out;
        }
        *found = 1;
    } else if (rc != SQLITE_DONE) {
        st_sqlerr(s, err, "get");
        goto out;
    }
    r = 0;
out:
    if (st)
        sqlite3_reset(st);
    buf_release(&k);
    return r;
}

int store_clear(struct store *s, struct buf *err)
{
    char sql[128];
    if (s->txn || s->batch) {
        buf_reset(err);
        buf_append_str(err, "cannot clear while a transaction or batch is open");
        return -1;
    }
    if (st_exec(s, "BEGIN IMMEDIATE", err) < 0)
        return -1;
    for (size_t i = 0; i < s->ntables; i++) {
        struct st_table *t = s->tables[i];
        snprintf(sql, sizeof(sql), "DELETE FROM d%u", t->num);
        if (st_exec(s, sql, err) < 0)
            goto fail;
        for (size_t j = 1; j < t->nidx; j++) {
            snprintf(sql, sizeof(sql), "DELETE FROM i%u", t->idx[j]->id);
            if (st_exec(s, sql, err) < 0)
                goto fail;
        }
        for (size_t j = 0; j < t->nsidx; j++) {
            snprintf(sql, sizeof(sql), "DELETE FROM %c%u",
                     t->sidx[j]->kind == IDX_VECTOR ? 'v' : 'f', t->sidx[j]->id);
            if (st_exec(s, sql, err) < 0 ||
                (t->sidx[j]->kind == IDX_VECTOR && st_vector_gen_bump(s, t->sidx[j], 1, err) < 0))
                goto fail;
        }
    }
    snprintf(sql, sizeof(sql), "UPDATE _vr_meta SET v = %llu WHERE k = 'version'",
             (unsigned long long)s->version + 1);
    if (st_exec(s, sql, err) < 0 || st_exec(s, "COMMIT", err) < 0)
        goto fail;
    s->version++;
    s->files_bytes = 0; /* their `_storage` documents are gone */
    return 0;
fail:
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
}

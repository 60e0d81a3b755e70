/* store_int: what the store's files share — the in-memory catalog of tables and indexes mirrored
 * from the system tables, the transaction and cursor structs, and small SQL helpers.
 * Invariant: the catalog equals the system tables as seen by the open SQLite transaction. */
#ifndef VR_STORE_STORE_INT_H
#define VR_STORE_STORE_INT_H

#include <jansson.h>
#include <string.h>
#include <sqlite3.h>

#include "store/store.h"

#define STORE_MAX_DOC (1u << 20) /* one document's JSON text */
#define STORE_MAX_KEY (1u << 21)
#define STORE_CURSOR_KEY 32
#define STORE_MAX_INDEX_FIELDS 16
#define STORE_JSON_FLAGS (JSON_DECODE_INT_AS_REAL | JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL)
#define STORE_CATALOG_INDEX STORE_CATALOG_INDEX_ID
/* The VFS every connection of ours opens a database file with (the loop's and the checkpoint
 * thread's through store_vfs's wrappers of it). The process owns its database files: "unix-excl"
 * takes one exclusive POSIX lock on the file at the first transaction and keeps every later lock
 * between our own connections (loop, readers, checkpointer, export) inside the process, and keeps
 * the WAL's index in the heap, not in a -shm file. A transaction then makes no fcntl call (the
 * default VFS made ~11 per lone write), and another process opening a live database gets "database
 * is locked" instead of a view it could corrupt. Every connection to a file must use it: a
 * default-VFS connection's own POSIX locks would replace and then release the process's exclusive
 * one. */
#define ST_SQLITE_VFS "unix-excl"

enum { IDX_BY_ID, IDX_CT, IDX_USER, IDX_SEARCH, IDX_VECTOR };

struct st_table;

struct st_index {
    uint32_t id;
    char *name;
    int kind;
    struct st_table *table;
    size_t nfields;
    char **fields; /* dotted paths */
    sqlite3_stmt *ins, *del, *scan[2];
    int scan_busy[2];
    sqlite3_stmt *search; /* IDX_SEARCH: the query (store_search.c) */
    uint32_t dims;        /* IDX_VECTOR: the vectors' length (store_vector.c) */
    sqlite3_stmt *vgen, *vgen_get; /* IDX_VECTOR: sets / reads its generations */
};

struct st_table {
    char *name;
    uint32_t num;
    json_t *validator; /* NULL: documents are not validated */
    struct validator *validator_v; /* validator compiled (validator.h) */
    int declared;      /* named in the current schema */
    int system;        /* a system table's (store_table_is_system) */
    struct st_index **idx; /* idx[0] by_id, idx[1] by_creation_time, then declared */
    size_t nidx;
    /* search indexes (IDX_SEARCH, store_search.c) and vector indexes (IDX_VECTOR,
     * store_vector.c): fields[0] is the search or vector field, the rest the filter fields */
    struct st_index **sidx;
    size_t nsidx;
    sqlite3_stmt *get, *ins, *upd, *del;
};

enum {
    CTL_BEGIN_R,
    CTL_BEGIN_W,
    CTL_COMMIT,
    CTL_SAVEPOINT,
    CTL_RELEASE,
    CTL_META,
    CTL_TXN_SAVEPOINT,
    CTL_TXN_RELEASE,
    CTL_N
};

/* store_memo.c: what a replace needs of the document the batch last replaced, so that the next
 * replace of the same document reads nothing (an actor instance stored once per call). Valid
 * only in the batch and the memo epoch it was kept in, while sqlite3_total_changes still equals
 * the count after its write: any other row change, rollback, batch boundary or catalog reload
 * retires it. */
struct st_memo {
    int set;
    char id[STORE_ID_LEN + 1];
    struct st_table *tb;
    size_t nidx;
    double ct;
    size_t text_len;      /* the stored text's length (the storage limit's growth) */
    uint64_t epoch;
    int changes;          /* sqlite3_total_changes after the write */
    struct buf head;      /* the stored text's head: {"_id":"...","_creationTime":N */
    struct buf keys;      /* the keys of idx[1..nidx-1], each a size_t length then the bytes */
};

struct store {
    sqlite3 *db;
    sqlite3_stmt *ctl[CTL_N]; /* cached transaction-control statements */
    struct st_table **tables;
    size_t ntables;
    int has_schema;            /* the app's own tables must be declared */
    json_t *open_ns;           /* components whose tables need not be ("a/", "a/b/"); NULL: no
                                * schema loaded */
    int validate;
    uint64_t version;
    double last_ct;
    struct store_txn *txn;
    int batch;                 /* inside store_batch_begin/commit */
    int batch_dirty;           /* a transaction of the batch changed the catalog */
    uint64_t batch_version;    /* version when the batch began */
    int batch_fail;            /* the batch's commit fails (store_batch_fail, test_fail_table) */
    char *batch_fail_why;      /* ... with this message, owned (NULL: test_fail_table's) */
    char *test_fail_table;     /* store_options.test_fail_table, owned */
    char *test_fail_sync_table; /* store_options.test_fail_sync_table, owned */
    sqlite3_stmt *idem_get, *idem_put, *idem_prune; /* store_idem.c, prepared on first use */
    sqlite3_stmt *idem_conflict;                     /* store_idem.c, prepared on first use */
    struct st_ckpt *ckpt;      /* store_ckpt.c: the WAL checkpoint thread */
    struct st_vfs *vfs;        /* store_vfs.c: counts this connection's syncs */
    enum store_durability durability;
    enum store_err err_kind; /* the kind of the last failure: store_last_error() */
    unsigned char cursor_key[STORE_CURSOR_KEY]; /* store_page.c: the MAC key of page cursors */
    /* store_quota.c: the storage limit (store_options.max_bytes; 0: none) */
    uint64_t quota_bytes;
    char *quota_label;        /* what its messages call the store (owned); "the database" */
    uint32_t page_size;
    sqlite3_stmt *quota_stmt; /* page_count, freelist_count */
    uint64_t quota_bound;     /* an upper bound of the database bytes in use: a measure plus the
                                 estimates of the writes checked since (0: measure again) */
    uint64_t files_bytes;     /* stored files, as of the transactions committed or released */
    uint64_t batch_files_bytes; /* files_bytes when the batch began */
    /* store_reader.c: a read-only store (store_open_reader) */
    int reader;
    int64_t reader_cookie;      /* SQLite's schema cookie the catalog was loaded at */
    sqlite3_stmt *reader_stmt;  /* reads the version and the schema cookie */
    struct st_memo memo;        /* store_memo.c */
    uint64_t memo_epoch;        /* st_memo_forget's count */
    /* store_sched.c: the by_state_time index of each namespace's `_scheduled_functions` (the
     * app's and each component's), and their tables, as the catalog has them */
    uint32_t *sched_idx;
    struct st_table **sched_tables;
    size_t nsched;
};

/* The counters a transaction's limits hold (st_caps). */
enum st_cap {
    ST_CAP_DOCS_READ,
    ST_CAP_BYTES_READ,
    ST_CAP_RANGES,
    ST_CAP_WRITES,
    ST_CAP_BYTES_WRITTEN,
    ST_CAP_N
};

struct store_txn {
    struct store *s;
    int writable;
    int open;
    int wrote;
    int catalog_dirty;
    int poisoned;      /* a write op failed after changing rows: the txn can only roll back */
    int op_changes;    /* sqlite3_total_changes when the current write op began */
    int exempt_limit;  /* store_txn_exempt_limit: bookkeeping, not checked */
    int bulk;          /* store_txn_bulk: the per-function limits do not apply */
    int64_t files_delta; /* bytes of stored files this transaction added (less those it deleted) */
    int begin_changes;   /* sqlite3_total_changes when it began (store_txn_renew) */
    /* what it read and wrote in user tables, against the STORE_TXN_MAX_* limits */
    uint32_t docs_read, writes, ranges_read;
    uint64_t bytes_read, bytes_written;
    /* lower limits of nested calls (store_txn_caps_push): each with the counters at its push,
     * both by enum st_cap (0 limit: none) */
    struct st_caps {
        uint64_t lim[ST_CAP_N], at[ST_CAP_N];
    } caps[STORE_TXN_CAPS_MAX];
    int ncaps;
    struct read_set rs;
    struct write_set ws;
};

struct store_cursor {
    struct store_txn *t;
    struct st_index *ix; /* NULL: unknown table, empty scan */
    sqlite3_stmt *stmt;
    int cached; /* stmt is ix->scan[desc] */
    int desc;
    int done;
    int failed; /* store_scan_open failed: close records nothing */
    int pending; /* stmt is on a row counted but not handed out: it did not fit (scan_next) */
    struct buf lo, hi;
    struct buf *keys; /* keys of the documents returned so far */
    size_t nkeys, capkeys;
    int page;                  /* opened by store_page_open: page_tag is its query's tag */
    unsigned char page_tag[8];
};

/* store.c */
/* 0 while t's SQLite transaction is alive; -1 with err once SQLite rolled it back itself (an
 * SQLITE_FULL or I/O error in one of its writes): a statement now would commit on its own.
 * Every writer that runs its own SQL in a transaction checks it first. */
int st_txn_alive(struct store_txn *t, struct buf *err);
int st_exec(struct store *s, const char *sql, struct buf *err);
int st_ctl(struct store *s, int which, struct buf *err); /* runs a cached CTL_* statement */
int st_sqlerr(struct store *s, struct buf *err, const char *what);

/* store_page.c: loads the database's cursor key, making it on first open. */
int st_page_key_load(struct store *s, struct buf *err);

/* store_reader.c: a reader's transaction has begun: reads the snapshot's version, and the
 * catalog again when SQLite's schema cookie moved. 0, or -1 with err. */
int st_reader_refresh(struct store *s, struct buf *err);

/* store_ckpt.c */
/* store_vfs.c: registers a counting wrapper of ST_SQLITE_VFS for s; returns its name for
 * sqlite3_open_v2 (NULL if it could not: the store then opens with ST_SQLITE_VFS itself). */
const char *st_vfs_register(struct store *s);
void st_vfs_unregister(struct store *s); /* after the connection is closed */
void st_vfs_defer(struct store *s, int on); /* commits' WAL syncs only start, until off */
void st_vfs_sync_wait(struct store *s);     /* the deferred sync; a failed one stops the process */
void st_vfs_fail_sync(struct store *s);     /* tests: the next commit's WAL sync fails (EIO) */
/* the VFS the checkpoint thread's connection opens the file with (store_vfs.c's header) */
const char *st_vfs_peer_name(const struct store *s);
/* checkpoints' WAL syncs skipped as redundant, and the peer's made (tests) */
void st_vfs_wal_syncs(const struct store *s, uint64_t *skipped, uint64_t *peer_made);
int st_ckpt_start(struct store *s, const char *path, struct buf *err);
void st_ckpt_stop(struct store *s);
void st_ckpt_defer(struct store *s, int on); /* a deferred commit's WAL hook waits for ... */
void st_ckpt_synced(struct store *s);        /* ... its sync (store_after_sync) */
/* buf_fail (base/buf.h) that also records the error's kind for store_last_error(). */
int st_failk(struct store *s, enum store_err kind, struct buf *err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
sqlite3_stmt *st_prep(struct store *s, sqlite3_stmt **slot, struct buf *err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
struct st_table *st_table_find(struct store *s, const char *name);
struct st_table *st_table_by_num(struct store *s, uint32_t num);
struct st_index *st_index_find(struct st_table *t, const char *name);
int st_catalog_load(struct store *s, struct buf *err);
void st_catalog_free(struct store *s);
int st_meta_next(struct store *s, const char *key, uint32_t *out, struct buf *err);
int st_table_create(struct store *s, const char *name, struct st_table **out, struct buf *err);
int st_id_decode(const char *id, size_t len, uint32_t *table_num);
void st_id_new(uint32_t table_num, char out[STORE_ID_LEN + 1]);
void st_id_new_at(uint32_t table_num, double wall_ms, char out[STORE_ID_LEN + 1]);
void st_read_add(struct store_txn *t, uint32_t index_id, const void *lo, size_t lo_len,
                 const void *hi, size_t hi_len);
void st_write_add(struct store_txn *t, uint32_t index_id, const struct buf *old_key,
                  const struct buf *new_key);
/* drops the write-set entries past the first len (a failed op, a rolled-back sub-transaction) */
void st_write_truncate(struct store_txn *t, size_t len);
int st_index_key(const struct st_index *ix, const json_t *doc, double ct, const char *id,
                 struct buf *out);
int st_name_ok(const char *name);
/* 1 when the app may write to table `name` although the schema does not declare it: a system
 * table, an app's table when the app has no schema, a component's when the component has none. */
int st_table_open(const struct store *s, const char *name);
/* store_memo.c (struct st_memo): st_memo_forget retires the memo (a batch begins or ends, a
 * transaction rolls back, the catalog is reloaded); st_memo_get is the memo when it still holds
 * document (id, len) as stored, else NULL; st_memo_keep records a replace that just succeeded
 * (keys as update_parsed appended them) unless its table has search indexes; st_memo_replaced
 * records a replace of the memo's own document that kept its head and keys (text_len bytes now);
 * st_memo_release frees it. */
void st_memo_forget(struct store *s);
const struct st_memo *st_memo_get(struct store *s, const char *id, size_t len);
void st_memo_keep(struct store *s, const char *id, struct st_table *tb, double ct,
                  const char *head, size_t head_len, size_t text_len, const struct buf *keys);
void st_memo_replaced(struct store *s, size_t text_len);
void st_memo_release(struct store *s);
/* store_write.c: the top-level fields of a JSON object jansson has validated, as raw spans
 * (key with its quotes, value) in text order; *out is allocated (vr_free), the count returned. */
struct st_span {
    size_t ks, ke, vs, ve;
};
size_t st_scan_object(const char *p, size_t n, struct st_span **out);
/* store_write.c: rewrites document `id` for an internal writer (a system table): fn gets the
 * stored text and its parse and fills new_text (the whole document without the closing `}`,
 * system fields first, as stored) and *new_doc (its parse, a new reference); the store moves
 * the index rows and records the write set. No schema validation. With `expect` (the text the
 * caller read earlier, expect_doc its parse) a document whose text differs fails with
 * STORE_ERR_CHANGED and is left alone; the stored text is not parsed again. */
typedef int (*st_rewrite_fn)(void *arg, const char *text, size_t len, const json_t *doc,
                             struct buf *new_text, json_t **new_doc, struct buf *err);
int st_doc_rewrite(struct store_txn *t, const char *id, const char *expect, size_t expect_len,
                   const json_t *expect_doc, st_rewrite_fn fn, void *arg, struct buf *err);
/* store_schema.c: creates index `decl` ({"name", "fields"}) on tb and fills it. */
int st_index_create(struct store *s, struct st_table *tb, const json_t *decl, struct buf *err);
/* st_index_create for each of n declarations of one table, filled in one pass over it, each
 * index's entries inserted in key order in runs of at most st_backfill_run_bytes (32 MiB) of
 * keys, shared by the n. */
extern size_t st_backfill_run_bytes;
int st_indexes_create(struct store *s, struct st_table *tb, const json_t *const *decls, size_t n,
                      struct buf *err);
/* store_search.c: full-text search indexes. st_search_create creates search index `decl`
 * ({"name", "searchField", "filterFields"}) on tb and fills it.
 * st_search_write keeps tb's search and vector indexes in step with one document write (old: the
 * document before, NULL for an insert; new: after, NULL for a delete; both with creation time ct
 * and id) and records the search indexes' write-set keys; -1 only on a storage failure. */
/* st_search_init registers vr_bm25 (the ranking) on s's connection; st_search_migrate rebuilds,
 * in one transaction, every search index whose FTS5 table has the first layout (before the
 * filter tokens of column g) from its table's documents. */
int st_search_init(struct store *s, struct buf *err);
int st_search_migrate(struct store *s, struct buf *err);
int st_search_create(struct store *s, struct st_table *tb, const json_t *decl, struct buf *err);
int st_search_write(struct store_txn *t, struct st_table *tb, const json_t *old_doc,
                    const json_t *new_doc, double ct, const char *id, const struct buf *dk,
                    struct buf *err);
/* A search or vector index (kind IDX_SEARCH or IDX_VECTOR) named by decl's "name": its catalog
 * row, whose `fields` is spec (taken: {"searchField" or "vectorField", "dimensions"?,
 * "filterFields"}), then its table, which build makes and fills through a detached catalog
 * entry (the catalog is reloaded after the schema applies). st_side_index_drop drops one. */
typedef int (*st_side_build_fn)(struct store *s, const struct st_table *tb, struct st_index *ix,
                                struct buf *err);
int st_side_index_create(struct store *s, struct st_table *tb, const json_t *decl, int kind,
                         json_t *spec, st_side_build_fn build, struct buf *err);
int st_side_index_drop(struct store *s, const struct st_index *ix, struct buf *err);
/* The INSERT of a row of search or vector index ix (prepared once, kept in ix->ins; reset for
 * new bindings): `cols` names its nfixed leading columns, bound to ?1 .. ?nfixed, then come
 * the filter fields' c0.., bound to the parameters after. NULL with err on a failure. */
sqlite3_stmt *st_side_insert(struct store *s, struct st_index *ix, const char *cols, int nfixed,
                             struct buf *err);
/* store_vector.c: a vector index's table (created and filled) and its row for a document
 * written (old_doc NULL: inserted; new_doc NULL: deleted). */
int st_vector_create(struct store *s, struct st_table *tb, const json_t *decl, struct buf *err);
int st_vector_write(struct store_txn *t, struct st_index *ix, const json_t *old_doc,
                    const json_t *new_doc, double ct, const char *id, struct buf *err);
/* st_vector_gen_bump: a new generation of the index (store_vecsnap.c): its rows changed in this
 * transaction (st_vector_write, the backfill, store_clear); `removed`: rows were deleted or
 * replaced, not only inserted (a new delete generation too). */
int st_vector_gen_bump(struct store *s, struct st_index *ix, int removed, struct buf *err);
/* store_vecsnap.c: an index's rows in memory as of generation `gen` (see there), shared by every
 * connection; st_vecsnap_get returns it with a reference (release with st_vecsnap_put), building
 * it when needed, or NULL: the index is over the cache's limit or the cache is off (err empty;
 * search SQLite instead), or reading failed (err set). vecs: n unit vectors of dims floats; ids:
 * their documents; row i's filter column f is keys[koff[i*(nfilt+1)+f] .. koff[...+f+1]). */
struct st_vecsnap {
    struct st_vecsnap *next;
    unsigned char db[STORE_CURSOR_KEY]; /* the database's cursor key: unique per file */
    uint32_t index_id;
    int64_t gen, delgen;
    sqlite3_int64 max_rowid; /* its last row's (rows are in rowid order) */
    unsigned refs;
    int listed, too_big;
    int committed;           /* built on a query reader: holds committed rows only */
    uint64_t version;        /* the store's version it was built at */
    uint64_t used;
    size_t bytes;
    uint32_t dims, nfilt;
    size_t n, klen;
    size_t cap, kcap; /* rows and key bytes allocated */
    float *vecs;
    char (*ids)[STORE_ID_LEN + 1];
    uint32_t *koff;
    unsigned char *keys;
};
struct st_vecsnap *st_vecsnap_get(struct store *s, struct st_index *ix, int64_t gen,
                                  int64_t delgen, struct buf *err);
void st_vecsnap_put(struct st_vecsnap *v);
/* The position (1 ..) of filter field f among a search or vector index's fields (fields[0] is
 * the searched or vector field), or 0 when f is NULL or not one of them. */
static inline size_t st_filter_field(const struct st_index *ix, const char *f)
{
    for (size_t j = 1; f && j < ix->nfields; j++)
        if (!strcmp(ix->fields[j], f))
            return j;
    return 0;
}
/* A search or vector index's rowid for a document: the bits of its _creationTime (> 0, so they
 * order like the value; unique in a store). */
static inline sqlite3_int64 st_ct_rowid(double ct)
{
    sqlite3_int64 r;
    memcpy(&r, &ct, sizeof r);
    return r;
}
const json_t *st_lookup_path(const json_t *doc, const char *path);
/* store_sched.c: creates the _scheduled_functions system table and its index if missing. */
int st_sched_ensure(struct store *s, struct buf *err);
/* store_sched.c: in the open transaction, creates namespace ns's `_scheduled_functions` ("a/" ->
 * `a/_scheduled_functions`) and its index if missing (store_apply_schema, for each component). */
int st_sched_ensure_ns(struct store *s, const char *ns, struct buf *err);
/* store_sched.c: finds the scheduled-function tables of the catalog just loaded. */
void st_sched_catalog(struct store *s);
/* store_storage.c: creates the _storage system table and the storage secret if missing. */
int st_storage_ensure(struct store *s, struct buf *err);
/* store_sched.c: creates a system table (a name app code cannot take) with one index on two
 * fields, if missing: `_scheduled_functions` (st_sched_ensure), `_actors` (store.h "Actors"). */
int st_system_table_ensure(struct store *s, const char *table, const char *index,
                           const char *field1, const char *field2, struct buf *err);
/* store_write.c: store_insert of a `_storage` document for a file of file_bytes bytes, which
 * the storage limit counts (t->files_delta grows by them once inserted). */
int st_insert_file(struct store_txn *t, const char *table, const char *doc_json, size_t len,
                   uint64_t file_bytes, char id_out[STORE_ID_LEN + 1], struct buf *err);
/* st_insert_file with the document's id and creation time given (an import): given_id NULL
 * makes a new one, given_ct NAN takes the clock as an insert does. A given id must be an id of
 * `table` that no document has. */
int st_insert_as(struct store_txn *t, const char *table, const char *doc_json, size_t len,
                 uint64_t file_bytes, const char *given_id, double given_ct,
                 char id_out[STORE_ID_LEN + 1], struct buf *err);

/* store_quota.c: the storage limit. st_quota_open sets it up on an open store (SQLite's
 * max_page_count, the stored files' total). st_quota_check: 0 when a write that adds about
 * `bytes` to the database in `trees` b-trees and `file_bytes` of stored files fits under the
 * limit, else -1 with STORE_ERR_FULL (call it before the write changes a row).
 * st_quota_forget: the next check measures (a transaction or batch begins). st_quota_sqlite_full:
 * the message and kind of an SQLITE_FULL (the limit's reserve, or the disk) into err. */
int st_quota_open(struct store *s, const struct store_options *opts, struct buf *err);
int st_quota_check(struct store_txn *t, uint64_t bytes, size_t trees, uint64_t file_bytes,
                   struct buf *err);
void st_quota_forget(struct store *s);
void st_quota_sqlite_full(struct store *s, struct buf *err, const char *what);
void st_quota_close(struct store *s);

/* store.c: the transaction limits (STORE_TXN_MAX_*, store.h). st_txn_read counts a document of
 * `bytes` handed out from tb, st_txn_write a write of `bytes` (id and new text) to tb; each returns
 * 0, or -1 with Convex's message and kind once the transaction is past a limit (system tables
 * are not counted). Call st_txn_write before the write changes a row. */
int st_txn_read(struct store_txn *t, const struct st_table *tb, size_t bytes, struct buf *err);
int st_txn_write(struct store_txn *t, const struct st_table *tb, size_t bytes, struct buf *err);
/* one index range read of `table` (a get, a scan opened, a search), before it reads */
int st_txn_range(struct store_txn *t, const char *table, struct buf *err);

#endif

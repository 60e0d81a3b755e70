/* store: one shard's documents in one SQLite file (WAL). Knows nothing of the network or JS.
 *
 * Layout. Every app table gets a document table keyed by `_id`, and every index (the declared
 * ones plus the implicit `by_creation_time`) gets its own SQLite table keyed by the key.h
 * encoding of (indexed fields..., _creationTime, _id). `by_id` is the document table itself.
 * A `withIndex` range is therefore one contiguous key range [lo, hi), and so is every read a
 * function makes: the transaction records each such range in its read set (by_id point reads are
 * ranges of one key), and each committed write records, per changed document and per index of
 * its table, the old and the new key (the write set). Issue "Reactive sync" matches the two.
 *
 * Documents are stored as the JSON text the caller gave (value.h encoding) with "_id" and
 * "_creationTime" as their first two fields; reads return that text verbatim.
 *
 * Threading: a store is used by one thread at a time (its shard's loop). */
#ifndef VR_STORE_STORE_H
#define VR_STORE_STORE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

#define STORE_ID_LEN 32 /* 32 chars of lowercase base32: ms timestamp, 80 random bits, table */

struct store;
struct store_txn;
struct store_cursor;

/* index_id 0 in read and write sets is the table catalog, keyed by the key.h encoding of the
 * table name: a scan of a table that does not exist yet reads [enc(name), enc(name)+0x00) there,
 * and the transaction that creates the table writes enc(name) there. Real indexes (by_id,
 * by_creation_time and declared ones) have ids >= 1 that are stable across restarts; a dropped
 * and re-declared index gets a new id. */
#define STORE_CATALOG_INDEX_ID 0

/* One contiguous range of one index, [lo, hi) in key.h bytes. */
struct key_range {
    uint32_t index_id;
    struct buf lo;
    struct buf hi;
};

/* What a function execution read. Owned by its transaction. */
struct read_set {
    struct key_range *ranges;
    size_t len, cap;
};
/* A copy of src in dst (its own memory, freed with read_set_release, which leaves it empty). */
void read_set_copy(struct read_set *dst, const struct read_set *src);
void read_set_release(struct read_set *rs);

/* One changed document's key in one index; old_key.len == 0 for an insert, new_key.len == 0 for
 * a delete. A patch or replace records every index of the table, also those whose key did not
 * change (old_key == new_key). */
struct index_write {
    uint32_t index_id;
    struct buf old_key;
    struct buf new_key;
};

struct write_set {
    struct index_write *writes;
    size_t len, cap;
};

/* When a committed write is on stable storage. FULL (the default): WAL with synchronous=FULL,
 * every commit (one per batch) syncs the WAL before store_batch_commit returns, so an OS crash or
 * power loss keeps every acknowledged write. RELAXED: WAL with synchronous=NORMAL, the WAL is
 * synced only by the checkpoint thread (every ~200 ms); a process crash loses nothing, an OS
 * crash or power loss may lose the writes of the last checkpoint interval. */
enum store_durability {
    STORE_DURABILITY_FULL = 0,
    STORE_DURABILITY_RELAXED = 1,
};

/* What kind of failure the store's last failed call was, for callers that map failures to codes
 * (the message names user fields and tables, so it is no place to look for the kind). */
enum store_err {
    STORE_ERR_OTHER = 0, /* storage, transaction state, malformed input: see the message */
    STORE_ERR_SCHEMA,    /* the document does not match its table's schema, or no such table */
    STORE_ERR_NOT_FOUND, /* no such document (writes), no such index (scans) */
    STORE_ERR_INVALID_ID, /* malformed, of another table, or (an import's) taken */
    STORE_ERR_TOO_LARGE, /* a document, patch or index key over its limit */
    STORE_ERR_TOO_DEEP,  /* a value nested deeper than VALUE_MAX_DEPTH */
    STORE_ERR_RESERVED,  /* a field name reserved for system fields */
    STORE_ERR_CHANGED,   /* a job changed since it was read (store_sched_finish) */
    STORE_ERR_CURSOR,    /* a pagination cursor malformed, modified or of another query */
    STORE_ERR_QUERY,     /* a query asks for what is not there or not allowed (a search of an
                            index that does not exist, a field it does not have, ...) */
    STORE_ERR_FULL,      /* the write would take the store past store_options.max_bytes */
    STORE_ERR_DOCS_READ, /* a transaction past STORE_TXN_MAX_DOCS_READ (below) */
    STORE_ERR_BYTES_READ,
    STORE_ERR_WRITES,
    STORE_ERR_BYTES_WRITTEN,
    STORE_ERR_RANGES, /* a transaction past STORE_TXN_MAX_RANGES (below) */
    STORE_ERR_INVALID_CT, /* an imported _creationTime out of range (STORE_CT_MAX) */
};

/* What one transaction (one query, mutation, nested call or actor call) may read and write in
 * user tables: Convex's transaction limits, with its messages. System tables (`_...`) are not
 * counted. A document counts when the store hands it out (a scan's read-ahead batch in full), by
 * its stored JSON text; a write by its id and new document's text (a delete by its id); an index
 * range read by each get, scan opened and search (Convex's "db.get or db.query calls"). */
#define STORE_TXN_MAX_DOCS_READ 32000u
#define STORE_TXN_MAX_BYTES_READ (16u << 20)
#define STORE_TXN_MAX_WRITES 16000u
#define STORE_TXN_MAX_BYTES_WRITTEN (16u << 20)
#define STORE_TXN_MAX_RANGES 4096u

struct store_options {
    enum store_durability durability;
    /* tests only (`--test-fail-commit TABLE`): a batch in which a document was inserted into this
     * table fails to commit, as on a full disk (everything in it is rolled back) */
    const char *test_fail_table;
    /* tests only (`--test-fail-sync TABLE`): the commit of a batch in which a document was
     * inserted into this table has its WAL sync fail (EIO) as on a failing disk, which stops the
     * process (store_vfs.c) */
    const char *test_fail_sync_table;
    /* The storage limit (0: none; --max-tenant-storage-mb): the database's pages in use
     * ((page_count - freelist_count) * page_size; not the WAL) plus the bytes of every stored
     * file (the `size` of each `_storage` document) stay at most this. A write that would grow
     * past it (an insert, a patch or replace that grows a document, a stored file) fails before
     * any row changes, with STORE_ERR_FULL; deletes, shrinking updates and reads always work.
     * SQLite's max_page_count is set to the limit plus a reserve (store_quota.c) that only
     * deletes and the store's own bookkeeping reach. */
    uint64_t max_bytes;
    /* what STORE_ERR_FULL messages call this store, e.g. `tenant "acme"` (copied; NULL: "the
     * database") */
    const char *label;
};

/* Opens or creates the database at `path`. 0, or -1 with the reason in err. */
int store_open(const char *path, const struct store_options *opts, struct store **out,
               struct buf *err);
void store_close(struct store *s);

/* A read-only store on the database at `path`, which another store (the shard's, in another
 * thread) has open and writes (store_reader.c): a SQLite connection of its own (WAL: readers
 * never block the writer nor wait for it), no checkpoint thread, no storage limit. Every
 * transaction is a read snapshot of the last committed state; at its start the version and,
 * when a schema change or a new table committed since, the catalog are read again, so a
 * transaction sees every commit that finished before it began. Writable transactions fail.
 * A reader store belongs to one thread. 0, or -1 with err. */
int store_open_reader(const char *path, struct store **out, struct buf *err);
int store_is_reader(const struct store *s);

/* A consistent copy of the database at db_path (its last committed state, read on a connection
 * of its own, whether or not a store has it open) written to out_path, which must not exist
 * (SQLite's VACUUM INTO: a compact copy, not in WAL mode). Blocks until written. 0, or -1 with
 * err. */
int store_export(const char *db_path, const char *out_path, struct buf *err);

/* Applies a schema exported by the prelude's defineSchema:
 *   {"tables":{"<name>":{"document":<validator>,"indexes":[{"name":"by_x","fields":["x","y.z"]}]}},
 *    "schemaValidation":true}
 * Creates missing tables and indexes, backfilling a new index from the existing documents, drops
 * indexes no longer declared, and checks every existing document against its table's new
 * validator. All or nothing: on failure (bad schema, a document that violates it) nothing changes
 * and err names the problem. A NULL schema means "no schema": any table may be used and documents
 * are not validated (existing indexes stay). With a schema, writes to tables it does not name
 * fail ("table `x` is not in the schema"); reads of them still work. "schemaValidation": false
 * keeps the table list strict but does not validate documents. Index fields may not start with
 * '_' or '$'; a range may bind the declared fields plus _creationTime and _id. */
int store_apply_schema(struct store *s, const char *schema_json, size_t len, struct buf *err);

/* Resolves an id to its table name (NULL if malformed or the table is unknown). The string is
 * owned by the store and valid until the next schema change or rolled-back transaction. A
 * reader store (store_open_reader) outside a transaction reads its catalog again before it
 * calls a table unknown (argument validation runs before the call's snapshot). */
const char *store_id_table(struct store *s, const char *id, size_t len);

/* Syncs (fdatasync/fsync) this store's own connection has made: one per batch commit with
 * STORE_DURABILITY_FULL; the checkpoint thread's are not counted. For metrics and tests. */
uint64_t store_sync_count(const struct store *s);
enum store_durability store_durability(const struct store *s);

/* The version of the last committed write (0 for an empty store); persisted. */
uint64_t store_version(const struct store *s);
/* The version of the last commit that reached the database: inside a batch, the version at
 * store_batch_begin (the batch's own writes may still be lost), else store_version. */
uint64_t store_committed_version(const struct store *s);

/* Transactions. A read-only transaction sees a consistent snapshot; a writable one is a SQLite
 * write transaction: all of its writes commit together or none do. One transaction at a time per
 * store. Close every cursor before committing or aborting its transaction, and free every
 * transaction before store_close. A failed write op (insert/patch/replace/delete returning -1)
 * leaves the transaction usable and without any part of that op. */
struct store_txn *store_txn_begin(struct store *s, int writable, struct buf *err);
/* Commits (a no-op for reads); *version_out gets the new version if anything was written, else
 * the current one. 0, or -1 with err (then the transaction is rolled back). Frees the txn's
 * resources except its read and write sets, which stay valid until store_txn_free. */
int store_txn_commit(struct store_txn *t, uint64_t *version_out, struct buf *err);
void store_txn_abort(struct store_txn *t); /* rolls back; sets stay valid until free */
void store_txn_free(struct store_txn *t);
const struct read_set *store_txn_read_set(const struct store_txn *t);
const struct write_set *store_txn_write_set(const struct store_txn *t);

/* Group commit. Between store_batch_begin and store_batch_commit every transaction runs as a
 * SAVEPOINT inside one SQLite write transaction, so many small mutations share one disk commit
 * (per-commit SQLite costs a few pages of WAL each: ~8k commits/s here, against ~40k+ inserts/s
 * batched). store_txn_commit inside a batch makes the transaction's writes visible to the next
 * ones and bumps the version, but nothing is durable, nor may be reported to a client, until
 * store_batch_commit returns 0; if it fails, every transaction of the batch is lost and the
 * version returns to its value at store_batch_begin. store_txn_abort inside a batch rolls back
 * that transaction only. No schema change or clear inside a batch. */
/* A transaction of a batch that changed nothing (it made no write, none of its writes failed,
 * no row changed since it began) carries on as a new transaction, without ending its SAVEPOINT
 * (rolling back to it is rolling back to the new one's start): what it read is forgotten. 1 if
 * renewed; 0 if it changed something or is not in a batch (end it as usual). */
int store_txn_renew(struct store_txn *t);

/* A sub-transaction of the write transaction t (a nested ctx.runMutation): store_txn_sub_begin
 * opens a SQL savepoint inside t and notes where t's write set and counters stand in *sub;
 * store_txn_sub_end releases it (ok: its writes stay t's) or rolls t back to it — its rows, its
 * write-set entries, its counters — and releases it. Sub-transactions nest (end them innermost
 * first). 0, or -1 with err (t is then poisoned: it can only roll back). */
struct store_sub {
    size_t ws_len;
    uint32_t writes;
    uint64_t bytes_written;
    int64_t files_delta;
    int wrote;
};
int store_txn_sub_begin(struct store_txn *t, struct store_sub *sub, struct buf *err);
/* What t has read and written of user tables so far, as its STORE_TXN_MAX_* limits count it
 * (ctx.meta.getTransactionMetrics). writable: 1 for a write transaction. */
struct store_txn_usage {
    uint32_t docs_read, ranges_read, writes;
    uint64_t bytes_read, bytes_written;
    int writable;
};
void store_txn_usage(const struct store_txn *t, struct store_txn_usage *u);
/* Lower limits for a part of t (a nested call's transactionLimits, convex 1.48): from
 * store_txn_caps_push until its store_txn_caps_pop, what t reads and writes beyond what it had
 * read and written at the push is also held to these limits (STORE_TXN_NO_LIMIT members: none),
 * with the errors of the STORE_TXN_MAX_* limits naming them. Caps nest (pop innermost first), at
 * most STORE_TXN_CAPS_MAX deep: -1 past it. */
struct store_txn_limits {
    uint64_t docs_read, bytes_read, ranges_read, writes, bytes_written;
};
#define STORE_TXN_NO_LIMIT UINT64_MAX
#define STORE_TXN_CAPS_MAX 8
int store_txn_caps_push(struct store_txn *t, const struct store_txn_limits *lim);
void store_txn_caps_pop(struct store_txn *t);
int store_txn_sub_end(struct store_txn *t, const struct store_sub *sub, int ok, struct buf *err);
int store_batch_begin(struct store *s, struct buf *err);
int store_batch_commit(struct store *s, struct buf *err);
/* store_batch_commit whose WAL sync (durability full) is only started (store_vfs.c): the batch
 * is committed and readable, and the disk writes it while the caller goes on; nothing that
 * depends on the batch may leave the process until store_sync_wait has returned.
 * store_sync_wait waits for that sync (nothing when none is owed). A commit's WAL sync that fails,
 * deferred or not, stops the process (logged, abort()): the commit may or may not be on disk, so
 * its writes can be neither acknowledged nor reported lost (store_vfs.c). */
int store_batch_commit_deferred(struct store *s, struct buf *err);
void store_sync_wait(struct store *s);
/* After a deferred commit's sync and the replies: what its commit left for then (waking the
 * WAL checkpoint thread, or the loop's own checkpoint of the WAL's last frames, store_ckpt.c),
 * so that neither comes before the replies. store_batch_begin does it if the caller did not. */
void store_after_sync(struct store *s);
/* Makes the open batch's commit fail with `why` (a write that belongs to it could not be made,
 * after its transactions had committed): store_batch_commit rolls everything back. */
void store_batch_fail(struct store *s, const char *why);
int store_batch_is_open(const struct store *s); /* 1 between store_batch_begin and _commit */

/* Point read. Appends the document's JSON to out and sets *found; records the read. -1 with err
 * for a malformed id. */
int store_get(struct store_txn *t, const char *id, size_t id_len, struct buf *out, int *found,
              struct buf *err);
/* store_get for the code of one namespace of tables (the app's: "", a component's "a/"): a
 * document of another's is not found. NULL: any. When the id names a table of it, *table (if
 * not NULL) is set to its name, the catalog's (valid until the catalog changes). */
int store_get_in(struct store_txn *t, const char *id, size_t id_len, const char *ns,
                 const char **table, struct buf *out, int *found, struct buf *err);
/* 1 when `name` is a system table's: its last '/'-separated part starts with '_' (the app's
 * `_scheduled_functions`, component a's `a/_scheduled_functions`); no app table's can. */
int store_table_is_system(const char *name);
/* 1 when table is a system table or one of namespace ns's: the app's ("") have no '/' in their
 * names, a component's start with its prefix ("a/") and have no further '/'. */
int store_table_in_namespace(const char *table, const char *ns);

/* Writes. `doc_json` is an object without system fields (top-level fields starting with '_' or
 * '$' are rejected, and '$' anywhere outside the value.h wrappers). Each validates against the
 * table's schema and fails with err on violation, writing nothing: "document in `messages` does
 * not match the schema: field `body`: expected string, got number". The stored text is at most
 * 1 MiB. Without a schema, inserting into a new table creates it (name: a letter, then letters,
 * digits, '_'; at most 64). Patch, replace and delete of a missing document fail ("document `id`
 * not found"). */
int store_insert(struct store_txn *t, const char *table, const char *doc_json, size_t len,
                 char id_out[STORE_ID_LEN + 1], struct buf *err);
/* Shallow merge: each field of `fields_json` replaces the document's; each name in
 * remove_fields (JS `undefined` values in a patch) removes that field. System fields may not be
 * changed. */
int store_patch(struct store_txn *t, const char *id, size_t id_len, const char *fields_json,
                size_t len, const char *const *remove_fields, size_t n_remove, struct buf *err);
/* store_replace of a document of `table` (another table's: an error) for a caller that
 * guarantees doc_json is a valid document (a JSON object of valid values, no reserved field
 * names) whose indexed fields equal the stored document's (an actor instance's `_actors`
 * document: its name and id never change). When this batch replaced the same document last
 * (the replace memo, store_memo.c) it is stored without being parsed, with the index keys it
 * had; otherwise it is store_replace. */
int store_replace_same_keys(struct store_txn *t, const char *table, const char *id,
                            size_t id_len, const char *doc_json, size_t len, struct buf *err);
/* 1 when a document whose JSON text without system fields is `len` bytes is within the document
 * limit with its system fields added (the size check a write makes cannot fail it). */
int store_doc_fits(size_t len);
int store_replace(struct store_txn *t, const char *id, size_t id_len, const char *doc_json,
                  size_t len, struct buf *err);
int store_delete(struct store_txn *t, const char *id, size_t id_len, struct buf *err);

/* Range scans over an index. `index` is a declared index name, "by_creation_time" or "by_id".
 * `range_json` describes the withIndex range:
 *   {"eq":[<v1>, <v2>, ...], "lower":{"op":"gt"|"gte","value":<v>}, "upper":{"op":"lt"|"lte",
 *    "value":<v>}}
 * where eq binds the first fields in index order and lower/upper bound the next one; every part
 * is optional ("{}" is the whole index; a bound without "value" means undefined). The fields of
 * a declared index are its declared ones then _creationTime and _id; by_creation_time has
 * (_creationTime, _id); by_id has (_id). Missing document fields index as undefined, which sorts
 * first. A table that does not exist yet scans empty (by_id and by_creation_time only) and
 * records a catalog read (STORE_CATALOG_INDEX_ID). err names the problem for an unknown index, or
 * more bounds than the index has fields. */
int store_scan_open(struct store_txn *t, const char *table, const char *index,
                    const char *range_json, size_t len, int descending, struct store_cursor **out,
                    struct buf *err);
/* Appends the next document's JSON to out; *done = 1 (nothing appended) at the end. Returns 1
 * (out unchanged) when the document does not fit in out's maximum size: the next call hands it
 * out, so a caller filling one buffer with many documents can end its batch there. */
int store_scan_next(struct store_cursor *c, struct buf *out, int *done, struct buf *err);
/* Records the read: the part of the range up to and including the `consumed`-th document
 * returned (ascending [lo, key+0x00), descending [key, hi)), or the whole range if the scan
 * reached its end and every returned document was consumed; nothing if consumed == 0 and the
 * end was not reached. Then frees the cursor. */
void store_scan_close(struct store_cursor *c, size_t consumed);

/* Full-text search (store_search.c; Convex's withSearchIndex): up to STORE_SEARCH_MAX_RESULTS
 * documents of `table` matching search index `index`, by relevance (FTS5 BM25) then newest, as
 * a JSON array in out. query_json: {"field": <search field>, "search": <text>,
 * "eq": [[<filter field>, <value>], ...], "limit"?: <fewer results>}. The text splits on whitespace into at most
 * STORE_SEARCH_MAX_TERMS terms (at most STORE_SEARCH_MAX_TEXT bytes); a document matches when
 * it contains any term, the last one as a prefix. Records the read: the search index's keys
 * that start with the bound values of the leading declared filter fields. err names an unknown
 * index, a field that is not the search field or not a filter field. */
#define STORE_SEARCH_MAX_RESULTS 1024
#define STORE_SEARCH_MAX_TERMS 16
#define STORE_SEARCH_MAX_TEXT 32768
#define STORE_SEARCH_MAX_FILTERS 16 /* filter fields of one search index */
int store_search(struct store_txn *t, const char *table, const char *index,
                 const char *query_json, size_t len, struct buf *out, struct buf *err);

/* Vector search (store_vector.c; Convex's ctx.vectorSearch): the documents of `table` whose
 * vectors in vector index `index` are most similar (cosine) to the query's, best first, as a
 * JSON array [{"_id", "_score"}, ...] in out. query_json: {"vector": [<dimensions numbers>],
 * "limit"?: 1..STORE_VECTOR_MAX_LIMIT (default STORE_VECTOR_DEFAULT_LIMIT), "eq"?: [[<filter
 * field>, <value>?], ...]}: a document matches when any of the equalities holds (Convex's q.or
 * of q.eq; a missing value is undefined). Exact: every indexed document of the filter is scored.
 * Records no read (vector search is for actions, never reactive). err (STORE_ERR_QUERY) names
 * an unknown index, a field that is not a filter field, a vector of the wrong length, a limit
 * out of range, more than STORE_VECTOR_MAX_FILTER equalities, in Convex's words. */
#define STORE_VECTOR_DEFAULT_LIMIT 10
#define STORE_VECTOR_MAX_LIMIT 256
#define STORE_VECTOR_MAX_FILTER 64    /* equalities of one query */
#define STORE_VECTOR_MIN_DIMS 2
#define STORE_VECTOR_MAX_DIMS 4096
#define STORE_VECTOR_MAX_FILTERS 16   /* filter fields of one vector index */
int store_vector_search(struct store_txn *t, const char *table, const char *index,
                        const char *query_json, size_t len, struct buf *out, struct buf *err);
/* The vector indexes' rows held in memory for searches, every store of the process together
 * (store_vecsnap.c): at most `bytes` (default STORE_VECTOR_CACHE_MB_DEFAULT MiB; 0: none, every
 * search reads SQLite), least recently used dropped first; an index larger is searched from
 * SQLite. store_vector_cache_bytes: what it holds now. */
#define STORE_VECTOR_CACHE_MB_DEFAULT 256
void store_vector_cache_limit(size_t bytes);
size_t store_vector_cache_bytes(void);
/* builds: indexes read whole into memory; appends: brought up to date with their inserts only */
struct store_vector_cache_stats {
    size_t bytes;
    uint64_t builds, appends;
};
void store_vector_cache_stats(struct store_vector_cache_stats *out);

/* Paginated scans (store_page.c). store_page_open opens the scan of one page of a query: the
 * range store_scan_open would scan, narrowed to after `cursor` (NULL: from the range's start) and
 * up to and including `end` (NULL: to the range's end). Cursors are the opaque, URL-safe strings
 * store_page_cursor made for the same query (table, index, range_json and order) on the same
 * database; any other string fails with a message starting "InvalidCursor:" (malformed, modified
 * or from another database, or from another query). The page's read set is what
 * store_scan_close records: its key range up to the last row consumed. */
int store_page_open(struct store_txn *t, const char *table, const char *index,
                    const char *range_json, size_t len, int descending, const char *cursor,
                    size_t clen, const char *end, size_t elen, struct store_cursor **out,
                    struct buf *err);
/* store_page_open with flags: STORE_PAGE_END_JOURNAL says `end` is the query journal of the run
 * (Convex's: the end cursor an earlier run of this page recorded), so a refusal names it. */
#define STORE_PAGE_END_JOURNAL 1u
int store_page_open_ex(struct store_txn *t, const char *table, const char *index,
                       const char *range_json, size_t len, int descending, const char *cursor,
                       size_t clen, const char *end, size_t elen, unsigned flags,
                       struct store_cursor **out, struct buf *err);
/* Checks a query journal before a run uses it: a cursor this database issued, unmodified (of
 * whichever query: paginate() checks that it is its own). 0, or -1 (STORE_ERR_CURSOR) with an
 * "InvalidCursor: the query journal ..." message in err. */
int store_page_journal_check(struct store *s, const char *journal, size_t n, struct buf *err);
/* Appends to out the cursor of the position after the n-th row returned by a page scan: the
 * range's end when the scan reached its end and n counts every row returned. -1 if c is not a
 * page scan, n exceeds the rows returned, or n is 0 before the end. */
int store_page_cursor(struct store_cursor *c, size_t n, struct buf *out);

/* Idempotency records: a mutation's result kept under a client's key, written in the mutation's
 * own transaction so that it exists exactly when the mutation's writes do.
 * store_idem_get: 1 and the stored value and version when `key` is known, 0 when not, -1 on
 * error. store_idem_put: records `value` for the version this transaction commits at (the
 * transaction counts as a write). store_idem_prune deletes records older than `max_age_ms`. */
int store_idem_get(struct store_txn *t, const char *key, size_t key_len, struct buf *value,
                   uint64_t *version, struct buf *err);
int store_idem_put(struct store_txn *t, const char *key, size_t key_len, const char *value,
                   size_t value_len, struct buf *err);
/* A record of more than this many bytes (key and value) is checked against the storage limit
 * (STORE_ERR_FULL past it); smaller ones are not. */
#define STORE_IDEM_UNCHECKED 4096
int store_idem_prune(struct store *s, double max_age_ms, struct buf *err);
/* Keys are scoped (docs/protocol.md "Idempotency"): store_idem_key builds the record key for a
 * client's `key` in `scope` (a sync session id, or "http") for one call — scope and key
 * length-prefixed, then a fingerprint of `path` and the key-sorted arguments `args_canon`.
 * store_idem_conflict: 1 when the same scope and key are recorded for another call (another
 * fingerprint), 0 when not, -1 on error. */
void store_idem_key(struct buf *out, const char *scope, const char *key, const char *path,
                    const char *args_canon, size_t args_len);
int store_idem_conflict(struct store *s, const char *record_key, size_t len, struct buf *err);

/* Environment variables (store_env.c), in the _vr_env system table. Names: a letter, then
 * letters, digits and underscores, at most STORE_ENV_NAME_MAX characters; values: at most
 * STORE_ENV_VALUE_MAX bytes, no NUL; at most STORE_ENV_MAX_VARS names. Errors name the variable,
 * never its value. Set and remove need no transaction or batch open (-EIO otherwise).
 * store_env_set: 0, or -EINVAL (a bad name, a NUL in the value), -E2BIG (value too long),
 * -ENOSPC (too many variables), -EIO (storage). store_env_remove: 1 removed, 0 it was not set,
 * or -EINVAL / -EIO. store_env_list: *out = a new JSON object {name: value}; 0 or -1. */
#define STORE_ENV_NAME_MAX 40
#define STORE_ENV_VALUE_MAX 8192
#define STORE_ENV_MAX_VARS 100
int store_env_check_name(const char *name, size_t len, struct buf *err);
int store_env_list(struct store *s, json_t **out, struct buf *err);
int store_env_set(struct store *s, const char *name, size_t name_len, const char *value,
                  size_t value_len, struct buf *err);
int store_env_remove(struct store *s, const char *name, size_t name_len, struct buf *err);

/* Scheduled functions (store_sched.c): Convex's system table `_scheduled_functions`, one per
 * namespace as Convex has one per component: the app's, created by store_open, and each
 * component's (`a/_scheduled_functions`), created by store_apply_schema for the namespaces its
 * schema lists. Each has an index `by_state_time` on (state.kind, scheduledTime) and is written
 * like any table (so its writes are in write sets and live queries over it re-run) but only
 * through these calls, never by app code. A job document is
 *   {name: "mod:fn", args: [<args object>], scheduledTime: <ms>, completedTime?: <ms>,
 *    state: {kind: "pending"|"inProgress"|"success"|"canceled"} | {kind: "failed", error}}
 * whose name is the caller's to interpret (js_job_function_path: relative to the namespace).
 * store_sched_insert: a pending job of namespace ns ("" the app's, "a/" component a's; args:
 * value.h JSON of an object) in transaction t; fails when ns has no such table.
 * store_sched_set_state: sets state.kind (and error for "failed"; completedTime when
 * completed_ms > 0). store_sched_finish: the same for a job as store_sched_due read it, without
 * reading it again: fails with STORE_ERR_CHANGED (and changes nothing) when the job's document
 * changed since (canceled or run meanwhile), which is what keeps a job's run exactly once.
 * store_sched_get: *doc = the job (a new reference) or NULL when id is no job of namespace ns
 * (NULL: of any); 0 or -1.
 * store_sched_next: 1 with the earliest pending job's scheduledTime in *when (any number: a time
 * before 1970 is negative), 0 when there is none, -1 on failure.
 * store_sched_due: up to `limit` jobs in state `kind` due at `now_ms` (any time: now_ms < 0),
 * of every namespace, earliest first, in *jobs (*n of them; free with store_sched_jobs_free).
 * store_sched_count: pending jobs (one index range count per namespace).
 * store_sched_is_index: 1 when index_id is a by_state_time (write sets touching a table of jobs
 * carry it). store_sched_table_name_ok: 1 for `_scheduled_functions` and a valid namespace's. */
#define STORE_SCHED_TABLE "_scheduled_functions"
#define STORE_SCHED_INDEX "by_state_time"
int store_sched_insert(struct store_txn *t, const char *ns, const char *name, const char *args,
                       size_t len, double scheduled_ms, char id_out[STORE_ID_LEN + 1],
                       struct buf *err);
struct store_sched_job {
    char id[STORE_ID_LEN + 1];
    char *ns;   /* its namespace ("" the app's, "a/" component a's) */
    char *text; /* the document as stored (NUL-terminated) */
    size_t len;
    json_t *doc; /* its parse */
};
int store_sched_set_state(struct store_txn *t, const char *id, const char *kind,
                          const char *error, double completed_ms, struct buf *err);
int store_sched_finish(struct store_txn *t, const struct store_sched_job *job, const char *kind,
                       const char *error, double completed_ms, struct buf *err);
int store_sched_get(struct store_txn *t, const char *id, const char *ns, json_t **doc,
                    struct buf *err);
int store_sched_next(struct store_txn *t, double *when, struct buf *err);
int store_sched_due(struct store_txn *t, const char *kind, double now_ms, size_t limit,
                    struct store_sched_job **jobs, size_t *n, struct buf *err);
void store_sched_jobs_free(struct store_sched_job *jobs, size_t n);
int store_sched_count(struct store *s, const char *kind, uint64_t *n, struct buf *err);
int store_sched_is_index(const struct store *s, uint32_t index_id);
int store_sched_table_name_ok(const char *name);

/* File storage (store_storage.c): Convex's system table `_storage`, created by store_open, one
 * document {sha256: <base64 SHA-256 of the bytes>, size: <bytes>, contentType?: <string>} per
 * stored file, written only through store_storage_insert (and deleted with store_delete by the
 * storage code, never by app code). store_storage_secret: the database's random key that signs
 * upload URLs (made once by store_open, kept in the database). */
#define STORE_STORAGE_TABLE "_storage"
#define STORE_STORAGE_SECRET_LEN 32
int store_storage_insert(struct store_txn *t, const char *sha256_b64, uint64_t size,
                         const char *content_type, char id_out[STORE_ID_LEN + 1], struct buf *err);
int store_storage_secret(struct store *s, unsigned char out[STORE_STORAGE_SECRET_LEN],
                         struct buf *err);
/* Actors: the system table `_actors`, created by store_open, one document
 * {name, actorId, state: <JSON text>} per actor instance whose state was stored, found through
 * the index `by_actor` on (name, actorId); written only by the actor runtime (js/native_actor.c),
 * never by app code. */
#define STORE_ACTOR_TABLE "_actors"
#define STORE_ACTOR_INDEX "by_actor"

/* Upload tokens (the `token` of an upload URL): a random nonce and an expiry time, signed with
 * the storage secret (HMAC-SHA256). store_storage_token appends a new one to out (URL-safe).
 * store_storage_token_check: 0 when tok is one this database signed and not expired (its nonce
 * as 32 hex digits in nonce_hex, its expiry in *expires_ms), -1 with err when malformed or
 * tampered with, -2 with err when expired. Single use is the caller's (an idempotency record
 * per nonce, written in the upload's transaction). */
int store_storage_token(struct store *s, double expires_ms, struct buf *out, struct buf *err);
int store_storage_token_check(struct store *s, const char *tok, size_t len, double now_ms,
                              char nonce_hex[33], double *expires_ms, struct buf *err);
/* The stored bytes: one file per `_storage` document, named by its id, in the shard's files
 * directory. store_files_open_dir creates the directory if missing and removes the temporary
 * files an interrupted upload left. store_file_write_tmp writes n bytes to a new temporary file
 * "tmp-<32 hex>" there (its name in `name`), fsyncs it and gives the bytes' SHA-256 (standard
 * base64, 44 characters). store_file_commit renames it to `id` and fsyncs the directory.
 * store_file_remove unlinks one (a missing file is not an error). store_file_tmp_name_ok: 1 if
 * name has the temporary files' form (no path can hide in it). */
#define STORE_FILE_TMP_LEN 36
int store_files_open_dir(const char *dir, struct buf *err);
/* Removes every regular file of dir that no `_storage` document names (dot-files aside): the
 * temporary files of interrupted uploads, a file renamed to its id by an upload whose batch then
 * failed to commit, the bytes of a deleted file whose removal a crash cut short. Run at start,
 * before anything is served (store_open done, no transaction open). *removed: how many. */
int store_files_sweep(struct store *s, const char *dir, size_t *removed, struct buf *err);
/* An upload's bytes as they arrive (streamed: never held whole). store_file_tmp_open creates a
 * new temporary file "tmp-<32 hex>" in dir (dir is borrowed until release); _write appends n
 * bytes and feeds the SHA-256; _finish fsyncs and closes it and gives the SHA-256 (standard
 * base64, 44 characters): the file is then ready for store_file_commit under f->name.
 * store_file_tmp_release frees what f holds and, unless keep, removes the file (every path ends
 * with it: after an error, or after store_file_commit with keep = 1). */
struct store_file_tmp {
    const char *dir;
    char name[STORE_FILE_TMP_LEN + 1];
    int fd;                    /* -1 once closed */
    uint64_t size;             /* bytes written */
    struct evp_md_ctx_st *sha; /* OpenSSL's EVP_MD_CTX */
};
int store_file_tmp_open(struct store_file_tmp *f, const char *dir, struct buf *err);
int store_file_tmp_write(struct store_file_tmp *f, const void *p, size_t n, struct buf *err);
int store_file_tmp_finish(struct store_file_tmp *f, char sha_b64[45], struct buf *err);
void store_file_tmp_release(struct store_file_tmp *f, int keep);
int store_file_write_tmp(const char *dir, const void *p, size_t n,
                         char name[STORE_FILE_TMP_LEN + 1], char sha_b64[45], struct buf *err);
int store_file_commit(const char *dir, const char *tmp, const char *id, struct buf *err);
/* store_file_commit in two halves, for many files at once (an import): the renames, then one
 * fsync of the directory, which must succeed before the transaction that names them commits. */
int store_file_rename(const char *dir, const char *tmp, const char *id, struct buf *err);
int store_files_sync_dir(const char *dir, struct buf *err);
void store_file_remove(const char *dir, const char *name);
int store_file_tmp_name_ok(const char *name);
/* store_storage_finalize: turns the temporary file `tmp` (store_file_write_tmp) into a stored
 * file in transaction t: inserts its `_storage` document ({sha256, size, contentType?}; id in
 * id_out) and renames the file to the id (store_file_commit). The HTTP upload's and an action's
 * ctx.storage.store() go through it (the internal mutation `_system/storage:store`). On error
 * the caller removes tmp; if t then does not commit, the caller removes the file `id_out`. */
int store_storage_finalize(struct store_txn *t, const char *dir, const char *tmp,
                           const char *sha256_b64, uint64_t size, const char *content_type,
                           char id_out[STORE_ID_LEN + 1], struct buf *err);

/* Imports (store_import.c; `vireo import`, proto/http_admin_import.c). store_txn_bulk: t is an
 * import's transaction, which the per-function limits (STORE_TXN_MAX_*) do not bound (the
 * storage limit does). store_import_id: the id a document of `table` will have: `want` itself
 * when it is an id of that table (*kept = 1), else a new one whose time prefix is `ms` (the
 * document's creation time); the table is created if missing and the server has no schema (with
 * one it must be declared). store_insert_imported: store_insert with that id and creation time
 * (ct NAN: now), failing if a document has the id. store_table_delete_all: deletes every document
 * of table (as store_delete each: the live queries that read them are re-run). store_app_tables:
 * the names of the tables not starting with '_' (*names and each name: the caller frees them).
 * store_table_doc_count: the documents of table (0 if it does not exist), UINT64_MAX with err.
 * (A CSV import drops the empty entries of optional fields, as Convex's does.) */
void store_txn_bulk(struct store_txn *t);
/* The largest _creationTime an import may give: a JavaScript Date's (ms since the epoch). */
#define STORE_CT_MAX 8.64e15
/* 1 when the n bytes at name are a valid table (or index) name: a letter, then letters, digits
 * and '_', at most 64 in all. */
int store_name_ok(const char *name, size_t n);
/* 1 when the n bytes at name are a table's name: an app's (store_name_ok), or a component's, whose
 * path's names and the table's are joined by '/' ("counter/shards"), at most STORE_TABLE_NAME_MAX
 * bytes in all. */
#define STORE_TABLE_NAME_MAX 255
int store_table_name_ok(const char *name, size_t n);
/* 1 when a write of t failed after changing rows (a storage failure): t can only roll back. */
int store_txn_poisoned(const struct store_txn *t);
int store_import_id(struct store_txn *t, const char *table, const char *want, double ms,
                    char out[STORE_ID_LEN + 1], int *kept, struct buf *err);
int store_insert_imported(struct store_txn *t, const char *table, const char *doc_json,
                          size_t len, const char *id, double ct, struct buf *err);
int store_table_delete_all(struct store_txn *t, const char *table, uint64_t *deleted,
                           struct buf *err);
int store_app_tables(struct store *s, char ***names, size_t *n);
uint64_t store_table_doc_count(struct store_txn *t, const char *table, struct buf *err);
/* The top-level fields the schema makes optional in table (an object validator's; none for a
 * table without one, or of another shape): *names and each name the caller frees. */
int store_table_optional_fields(struct store *s, const char *table, char ***names, size_t *n);

/* Cron jobs' durable state, the table _vr_cron (store_sched.c): per cron job name its spec
 * (what it runs and when, as text), the id of its next job in `_scheduled_functions` and when
 * its last run started (ms, -1: never). store_cron_list: *out = {name: {spec, job, lastRun}}.
 * put/delete write in transaction t (with the jobs they go with). */
int store_cron_list(struct store *s, json_t **out, struct buf *err);
int store_cron_put(struct store_txn *t, const char *name, const char *spec, const char *job,
                   double last_run, struct buf *err);
int store_cron_delete(struct store_txn *t, const char *name, struct buf *err);
/* 1 when `job` is some cron job's run (its next one, or the action running now), 0 when not,
 * -1 with err. */
int store_cron_has_job(struct store *s, const char *job, struct buf *err);

/* Storage use against store_options.max_bytes (store_quota.c). store_usage measures it now
 * (in the open transaction, if one is): 0, or -1 with err. */
struct store_usage {
    uint64_t limit_bytes;    /* 0: no limit */
    uint64_t database_bytes; /* pages in use times the page size */
    uint64_t file_bytes;     /* stored files (the sizes their `_storage` documents give) */
};
int store_usage(struct store *s, struct store_usage *u, struct buf *err);
uint64_t store_max_bytes(const struct store *s); /* store_options.max_bytes: 0 none */
/* Marks t as the server's own bookkeeping (a cron job's next run): its writes are not checked
 * against the storage limit (SQLite's backstop still applies). */
void store_txn_exempt_limit(struct store_txn *t);
/* The message of a refusal to store `more` bytes (a file past the space left): the same text
 * a STORE_ERR_FULL write gets. */
void store_full_message(struct store *s, const struct store_usage *u, uint64_t more,
                        struct buf *out);

/* Deletes every document of every table (keeps the schema); for tests and `vireo reset`. */
int store_clear(struct store *s, struct buf *err);

/* The kind of the failure of the last store_get, store_scan_open/next, store_insert/patch/
 * replace/delete or store_txn_begin/commit that returned -1 (STORE_ERR_OTHER after a success). */
enum store_err store_last_error(const struct store *s);

#endif

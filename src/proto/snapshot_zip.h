/* snapshot_zip: a snapshot of a shard's tables as a ZIP in Convex's snapshot export format, the
 * one `npx convex export` downloads and `npx convex import` / `vireo import` read back:
 *   README.md
 *   <table>/documents.jsonl        one line per document, in Convex's export JSON, by _id
 *   <table>/generated_schema.jsonl "uniform": an integer literal is an int64, a number with '.'
 *                                  or an exponent a float64, {"$bytes": ...} and {"$float": ...}
 *                                  (NaN, ±Infinity, -0) are encoded values
 *   _storage/documents.jsonl       with include_storage: the stored files' documents
 *                                  ({_id, _creationTime, sha256, size, contentType?})
 *   _storage/<id>                  ... and their bytes
 * Read on a connection of its own (store_open_reader) in one read transaction, so the tables are
 * one committed state whatever the shard writes meanwhile. A stored file deleted after that
 * state and before its bytes are read fails the export ("retry"). Blocks; for a thread. */
#ifndef VR_PROTO_SNAPSHOT_ZIP_H
#define VR_PROTO_SNAPSHOT_ZIP_H

#include "base/buf.h"

struct snapshot_zip {
    char *db_path;   /* the shard's database file (owned) */
    char *files_dir; /* its stored files (owned; NULL: none) */
    int include_storage;
};

/* Writes the snapshot to out_path (which must not exist). 0, or -1 with err. */
int snapshot_zip_write(const struct snapshot_zip *z, const char *out_path, struct buf *err);
void snapshot_zip_free(struct snapshot_zip *z);

#endif

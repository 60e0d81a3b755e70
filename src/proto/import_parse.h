/* import_parse: the bytes of an import file (`vireo import`, Convex's `npx convex import`) turned
 * into documents. Pure: no I/O, no server state; the caller (the import route) writes what it
 * returns.
 *
 * Formats:
 *   JSONL       one JSON object per line (blank lines skipped), values in Convex's encoded JSON
 *               (store/value.h);
 *   JSON array  one array of such objects;
 *   CSV         RFC 4180, the first row names the fields; an entry that reads completely as a
 *               finite number becomes a float64, any other (the empty one too) a string;
 *   ZIP         a Convex snapshot export: `<table>/documents.jsonl` per table, decoded through
 *               `<table>/generated_schema.jsonl` when there is one (Convex's "uniform" export
 *               JSON, or its older inferred shape with per-document export contexts), and
 *               `_storage/documents.jsonl` with the stored files' bytes in `_storage/<id>[.ext]`.
 * Every document's "_id" and "_creationTime" are taken out of its fields into `id` and `ct`. */
#ifndef VR_PROTO_IMPORT_PARSE_H
#define VR_PROTO_IMPORT_PARSE_H

#include <jansson.h>
#include <stddef.h>

#include "base/buf.h"

enum import_format { IMPORT_JSONL, IMPORT_JSON_ARRAY, IMPORT_CSV, IMPORT_ZIP };

/* "jsonl"/"jsonLines", "json"/"jsonArray", "csv", "zip" (Convex's --format names and ours).
 * 0 or -1. */
int import_format_parse(const char *name, size_t len, enum import_format *out);
/* From a file name's extension (.jsonl .ndjson .json .csv .zip, any case); -1 when none
 * matches. */
int import_format_of_path(const char *path, enum import_format *out);

struct import_doc {
    char *text; /* the document without _id/_creationTime: Convex's encoded JSON (value.h),
                   compact (json_write); kept as text, which takes a fraction of the memory
                   a parsed tree would */
    size_t len;
    char *id;    /* the "_id" it carried (a string), or NULL */
    double ct;   /* its "_creationTime", or NAN when absent */
    size_t line; /* 1-based line (JSONL, ZIP; a CSV row's first line counted from the file's
                    line 1, the header's), or element index + 1 (JSON array) */
};

struct import_table {
    char *name;   /* table name */
    char *source; /* where its documents came from, for messages: "messages/documents.jsonl" in a
                     ZIP, else "the file" */
    struct import_doc *docs;
    size_t n, cap;
};

struct import_file {     /* a stored file of a ZIP's _storage table */
    char *id;            /* its _id in the export */
    double ct;           /* its _creationTime (NAN if absent) */
    char *content_type;  /* or NULL */
    char *sha256;        /* as the export says (base64), or NULL */
    unsigned char *data; /* its bytes, from the ZIP entry _storage/<id> or _storage/<id>.<ext> */
    size_t size;
    /* the import route's: the temporary file it wrote the bytes to (data then freed) and their
     * SHA-256 (base64); tmp[0] == '\0' while none */
    char tmp[40];
    char sha[48];
};

struct import_set {
    struct import_table *tables;
    size_t n;
    struct import_file *files;
    size_t n_files;
};

/* What a ZIP may decompress to: one entry, and all entries together (ZIP bombs). */
#define IMPORT_ZIP_ENTRY_MAX ((size_t)1 << 30)
#define IMPORT_ZIP_TOTAL_MAX ((size_t)1 << 30)

/* Parses data (len bytes) in format fmt. `table` names the destination for JSONL/JSON/CSV
 * (required for them) and must be NULL for ZIP. max_docs (0 = none) caps the documents (and
 * stored files) in all. 0 with *out filled (free it with import_set_free), or -1 with *out empty
 * and a message in err naming the source and line ("line 3 of the file: malformed JSON: ...",
 * "messages/documents.jsonl line 7: field `a`: ..."). */
int import_parse(const char *data, size_t len, enum import_format fmt, const char *table,
                 size_t max_docs, struct import_set *out, struct buf *err);
/* As import_parse, with the ZIP caps given (for tests; import_parse uses the defines above). */
int import_parse_limits(const char *data, size_t len, enum import_format fmt, const char *table,
                        size_t max_docs, size_t zip_entry_max, size_t zip_total_max,
                        struct import_set *out, struct buf *err);
void import_set_free(struct import_set *s);
/* Appends where document d of table t was in a file of format fmt, as import_parse's messages
 * say it ("messages/documents.jsonl line 7", "line 7 of the file", "element 7 of the file"). */
void import_place(struct buf *b, const struct import_table *t, const struct import_doc *d,
                  enum import_format fmt);

#endif

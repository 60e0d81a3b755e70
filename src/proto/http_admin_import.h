/* http_admin_import: POST /api/admin/import?format=jsonl|json|csv|zip[&table=T][&mode=M] with
 * the admin key and the file as the body (`vireo import`): the documents of a JSON Lines, JSON
 * array or CSV file into table T, or the tables (and stored files) of a ZIP snapshot, in one
 * transaction. M: requireEmpty (the default: a table that has documents refuses the import),
 * append, replace (the imported tables emptied first) or replaceAll (every table emptied first).
 * A document keeps its `_id` when it is an id of its table here and `_creationTime` when given;
 * other ids are replaced and every string equal to one of them, in any imported document, is
 * rewritten to its new id. Answers {"status":"success","value":{"tables":{"<table>":
 * {"imported":N,"deleted":M}}}} once the batch has committed, or a JSON error (400 InvalidImport
 * naming the file and line, 409 ImportTableNotEmpty, 507 StorageLimitExceeded, 500 StoreError);
 * nothing is stored unless everything is. The file is parsed on a thread of api->imports' pool (the
 * loop keeps serving), its documents stored on the loop thread; a client gone before then imports
 * nothing. */
#ifndef VR_PROTO_HTTP_ADMIN_IMPORT_H
#define VR_PROTO_HTTP_ADMIN_IMPORT_H

#include "proto/http_api.h"

/* The most documents one import may hold (each is parsed into memory before any is stored). */
#define IMPORT_MAX_DOCS 1000000
/* The most imports parsed at once, server-wide (api->imports; 503 TooManyImports past it). */
#define IMPORTS_MAX 2

/* The file an import may send: streamed to a temporary file as it arrives (the server's head
 * hook), past --max-body, up to this (api->max_import_bytes; 0: this default). */
#define IMPORT_BYTES_DEFAULT ((size_t)256 << 20)

/* The server's head hook for an import (admin key, a pool, a files folder): 1 when it took the
 * request (its body streamed to a temporary file, or answered: 413 ImportTooLarge, 503
 * TooManyImports, a bad parameter), 0 to leave it to http_admin_import_handle. */
int http_admin_import_head(struct http_api *api, struct conn *c, struct http_request *req);
void http_admin_import_handle(struct http_api *api, struct conn *c, const struct http_request *req);

#endif

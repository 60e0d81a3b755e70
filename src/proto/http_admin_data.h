/* http_admin_data: GET /api/admin/data[?table=T[&limit=N][&order=asc|desc]] with the admin key
 * (`vireo data`, as `npx convex data`): without a table the app's tables ({"tables": [...]},
 * sorted), with one its documents by creation time, newest first unless order=asc, at most N
 * (default 100, at most 1000, and no more once 16 MiB are written): {"documents": [...],
 * "more": bool}, values in Convex's encoded
 * JSON. Errors: 400 InvalidArgument (table, limit, order), 404 TableNotFound naming the tables,
 * 500 StoreError. */
#ifndef VR_PROTO_HTTP_ADMIN_DATA_H
#define VR_PROTO_HTTP_ADMIN_DATA_H

#include "proto/http_api.h"

#define DATA_LIMIT_DEFAULT 100
#define DATA_LIMIT_MAX 1000
/* An answer stops growing past this many bytes of documents ("more": true): 1,000 documents of
 * up to 1 MiB each would be a gigabyte. */
#define DATA_BYTES_MAX (16u << 20)

void http_admin_data_handle(struct http_api *api, struct conn *c, const struct http_request *req);

#endif

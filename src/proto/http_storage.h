/* http_storage: the HTTP side of file storage (ctx.storage): POST /api/storage/upload?token=...
 * stores the request body as a new file and answers {"storageId"}; GET /api/storage/<id> serves
 * it with Content-Type, ETag (its SHA-256), caching headers and single Range requests. */
#ifndef VR_PROTO_HTTP_STORAGE_H
#define VR_PROTO_HTTP_STORAGE_H

#include "proto/http_api.h"

#define HTTP_STORAGE_UPLOAD_DEFAULT (16u << 20)

/* The server's head hook for uploads (server.h "Streamed request bodies"): takes a POST to
 * /api/storage/upload that has a body, answering at once when its head is refused (bad or
 * expired URL, Content-Length over the cap) or streaming its body to a temporary file; 0 for
 * every other request. */
int http_storage_head(struct http_api *api, struct conn *c, struct http_request *req);

/* `rest` is the path after "/api/storage/". */
void http_storage_handle(struct http_api *api, struct conn *c, struct http_request *req,
                         struct slice rest, int is_post, int is_get);

#endif

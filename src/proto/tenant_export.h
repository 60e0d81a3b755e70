/* tenant_export: GET /api/admin/tenants/<name>/export with --tenants — a consistent copy of a
 * tenant's database (store_export: VACUUM INTO on a connection of its own, on a thread of its
 * own, so the loop keeps serving while a large tenant is copied), written to a temporary file in
 * the tenants' folder and sent from its descriptor (http_respond_fd) once unlinked. At most
 * max_running copies at once. Loop thread only (but for the copy itself). */
#ifndef VR_PROTO_TENANT_EXPORT_H
#define VR_PROTO_TENANT_EXPORT_H

#include <stddef.h>

#include "net/loop.h"
#include "net/server.h"

#define TENANT_EXPORTS_MAX 2

struct tenant_exports;

/* dir: the tenants' folder (borrowed). */
struct tenant_exports *tenant_exports_new(struct loop *loop, const char *dir, size_t max_running);
/* Starts copying tenant `name` (a checked name) and answers c when done: 200 with the file,
 * 404 TenantNotFound, 503 TooManyExports past max_running, 500 StoreError. */
void tenant_export_start(struct tenant_exports *x, struct conn *c, const char *name);
/* Waits for the copies still running (their answers are dropped) and frees everything. */
void tenant_exports_free(struct tenant_exports *x);

#endif

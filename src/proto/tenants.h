/* tenants: `vireo serve|dev --tenants` — a registry of tenants (tenant.h), each its own shard in
 * dir/<name>/shard.db (files in dir/<name>/files), opened on a request to /t/<name>/… (created
 * if new, up to max_tenants) off the loop thread (tenant_opener.h: the requests that arrive
 * meanwhile wait for it, bounded) and closed when idle: after idle_ms without use, or the least
 * recently used idle one when max_open are open and another must open. A tenant is idle when
 * tenant_busy() is 0 and its next scheduled function is not due within idle_ms. Every tenant
 * runs the same app version (tenants_load). Loop thread only. */
#ifndef VR_PROTO_TENANTS_H
#define VR_PROTO_TENANTS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "net/server.h"
#include "proto/tenant.h"

#define TENANT_NAME_MAX 63

struct tenants_options {
    const char *dir;          /* where the tenants' folders live; borrowed */
    size_t max_open;          /* open tenants at once (--max-open-tenants) */
    size_t max_tenants;       /* tenants on disk (--max-tenants): past it a new name gets 507 */
    uint64_t idle_ms;         /* close a tenant unused this long (--tenant-idle-ms); 0: never */
    size_t max_conns_per_tenant; /* sync WebSockets of either protocol per tenant
                                    (--max-connections-per-tenant); past it an upgrade gets 429
                                    TenantConnectionLimit; 0: no limit */
    const char *header;       /* --tenant-header: a request outside /t/ naming a tenant in this
                                 header goes to it (NULL: none); borrowed */
    int create_by_admin;      /* --tenant-create admin: only POST /api/admin/tenants/create makes
                                 a tenant; a request to an unknown one gets 404 TenantNotFound */
    size_t open_threads;      /* tenants opened at once, each on a thread of its own
                                 (--tenant-open-threads); 0: 2 */
    size_t max_parked_per_tenant; /* requests waiting for one tenant to open
                                     (--max-parked-per-tenant); past it 503
                                     TooManyParkedRequests; 0: 256 */
    size_t max_parked;        /* requests waiting for any tenant to open (--max-parked-requests);
                                 0: 4096 */
    const struct tenant_options *tenant; /* borrowed */
};

struct tenants;

struct tenants *tenants_new(struct loop *loop, const struct tenants_options *opts,
                            struct buf *err);

/* A tenant name: 1 to TENANT_NAME_MAX bytes of [a-z0-9_-], the first [a-z0-9]. 0, or -1 with
 * a message naming what is wrong in err. */
int tenant_name_check(const char *p, size_t n, struct buf *err);

/* The app version every tenant runs. It is loaded into each open tenant off the loop thread
 * (tenant_opener: the app evaluated on a thread while the tenant keeps serving its old version,
 * then its schema applied and the version swapped in on the loop), and into every tenant opened
 * later (copied). env_file: variables of a file as shard_set_env_file's (borrowed; each tenant
 * gets a copy; NULL: none). The new version becomes the one later opens load when it loaded in
 * some open tenant or failed in none; tenants that opened meanwhile with the old one then get it
 * too. When every open tenant has it (or failed), done(ts, rc, err, loaded, arg) runs on the
 * loop: rc 0, or -1 with err (the first failure, or the server shutting down: those tenants
 * keep their old version); loaded counts the open tenants that took it. done may run before
 * tenants_load returns (no tenant open). -1 with err, done not called, when another version is
 * still loading (one at a time). */
typedef void (*tenants_loaded_fn)(struct tenants *ts, int rc, const char *err, size_t loaded,
                                  void *arg);
int tenants_load(struct tenants *ts, const char *bundle, size_t len, const char *name,
                 const json_t *env_file, tenants_loaded_fn done, void *arg, struct buf *err);
#define TENANTS_LOAD_BUSY                                                                          \
    "another version is still loading into the open tenants; retry once it is done"

/* The server's request handler and head hook (arg: struct tenants). Besides /t/<name>/… the
 * handler serves the server-wide routes: GET /api/health, POST /api/admin/deploy and the admin
 * key's tenant routes (docs/tenants.md): GET|POST /api/admin/tenants (list), POST
 * /api/admin/tenants/create {name}, POST /api/admin/tenants/delete {name, force?}, GET
 * /api/admin/tenants/<name>/export (a copy of its database, store_export). */
void tenants_handle(struct conn *c, struct http_request *req, void *arg);
int tenants_head(struct conn *c, struct http_request *req, void *arg);

/* The before-sleep step of every open tenant: 1 when a batch is open again (see tenant_flush). */
int tenants_flush(struct tenants *ts);
/* Shutdown: tenant_stop on every open tenant, and no more opens. */
void tenants_stop(struct tenants *ts);
size_t tenants_open_count(const struct tenants *ts);
/* Closing around server_free, as tenant_close_begin/_end. */
void tenants_close_begin(struct tenants *ts);
void tenants_free(struct tenants *ts);

#endif

/* http_api: the HTTP face of a shard (the shape Convex uses, so SSR and clients without a
 * WebSocket work): POST /api/query|mutation|action with {"path","args"}, GET /api/health,
 * POST /api/admin/run (admin key; internal functions too), POST /api/admin/deploy (deploy.c),
 * the app's HTTP actions (http.ts routes, http_action.h) at any path outside the reserved /api/
 * and /_vireo/, then static files from the app's public/ folder, and a WebSocket echo endpoint
 * for tests. Every answer is JSON:
 * {"status":"success","value":...} or {"status":"error","errorMessage":...,"errorCode":...}. */
#ifndef VR_PROTO_HTTP_API_H
#define VR_PROTO_HTTP_API_H

#include "net/server.h"
#include "proto/env_reloader.h"
#include "proto/shard.h"

/* Why a tenant stopped (http_api.stopping): what a request refused for it is told. */
enum { HTTP_API_SHUTDOWN = 1, HTTP_API_DELETING = 2 };

struct sync;
struct actors;
struct http_deferred;
struct thread_jobs;
struct http_auth_hold;

struct http_api {
    struct shard *shard;
    struct sync *sync;      /* serves GET /api/sync; borrowed */
    struct actors *actors;  /* serves GET /api/actors (proto/actors.h); borrowed; NULL: none */
    struct server *server;  /* for /api/metrics' connection figures (may be NULL); borrowed */
    char *admin_key;        /* required for the admin routes: a buffer of 65 bytes, replaced
                               in place by POST /api/admin/rotate-key; borrowed */
    const char *admin_key_path; /* where the rotated key is saved (mode 0600); NULL: the key
                                   cannot be rotated here; borrowed */
    const char *public_dir; /* NULL: no static files; borrowed */
    const char *deploy_path; /* where POST /api/admin/deploy saves a new version; borrowed */
    struct deployer *deployer; /* loads POST /api/admin/deploy off the loop (deployer.h);
                                  NULL: deploy_handle loads it on the loop; borrowed */
    struct env_reloader env_reloader; /* reloads after an environment change off the loop */
    struct thread_jobs *exports; /* makes GET /api/admin/export's snapshots off the loop (one
                                    pool per server, export_job.h); borrowed; NULL: not served */
    struct thread_jobs *imports; /* parses POST /api/admin/import's files off the loop (one pool
                                    per server, http_admin_import.h); borrowed; NULL: on the loop */
    unsigned imports_running;    /* this shard's imports being parsed (tenant_busy) */
    int stopping;                /* tenant_stop ran: HTTP_API_SHUTDOWN or HTTP_API_DELETING */
    int test_echo;          /* serve the /__test/echo WebSocket */
    size_t max_http_action_body; /* largest request body of an HTTP action (413 past it);
                                    0: HTTP_ACTION_BODY_DEFAULT (http_action.h) */
    uint64_t max_http_action_response; /* largest streamed response body of an HTTP action;
                                          0: HTTP_ACTION_RESPONSE_DEFAULT (http_action.h) */
    size_t max_upload_bytes; /* largest file upload (413 past it); 0: HTTP_STORAGE_UPLOAD_DEFAULT */
    /* largest streamed import file (413 past it); 0: IMPORT_BYTES_DEFAULT */
    size_t max_import_bytes;
    uint64_t requests;      /* HTTP requests, for /api/metrics */
    unsigned uploads;       /* file uploads in progress (http_storage.c) */
    /* answers computed inside an open batch wait for its commit (shard.h) */
    struct http_deferred *deferred;
    size_t n_deferred, cap_deferred;
    struct http_auth_hold *auth_holds; /* requests waiting for a provider's keys (http_auth.h) */
};

/* Answers a call now, or after the open batch has committed (its body taken over). */
void http_api_respond_call(struct http_api *api, struct conn *c, int status, int convex,
                           struct buf *body);
/* Answers {"status":"error","errorMessage":msg,"errorCode":code[,"errorData"]}. */
void http_api_respond_error(struct conn *c, int status, const char *code, const char *msg,
                            const char *data_json);

/* Does req carry `Authorization: Bearer <admin key>` (compared in constant time)? */
int http_api_admin_authorized(const struct http_api *api, const struct http_request *req);

/* The server's request handler; arg is a struct http_api. */
void http_api_handle(struct conn *c, struct http_request *req, void *arg);
/* The server's head hook (server_set_head_hook): the requests whose body is streamed (file
 * uploads, http_storage.h); arg is a struct http_api. */
int http_api_head(struct conn *c, struct http_request *req, void *arg);

/* Sends the answers held back for the batch that just committed; if it failed (batch_failed),
 * each becomes a 500 StoreError instead, since what it reported was lost. */
void http_api_flush(struct http_api *api, int batch_failed);
/* Answers the calls still held back for the open batch as http_api_flush does (batch_failed: the
 * outcome of the final commit, which has run by now) and frees the list. */
void http_api_release(struct http_api *api, int batch_failed);

#endif

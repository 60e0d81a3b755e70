/* tenant_opener: opens tenants off the loop thread (tenants.c). A job runs tenant_prepare (the
 * SQLite file and its tables) and shard_prepare (a JS runtime with the app evaluated, its schema
 * applied) on one of the opener's threads — or, for an open tenant getting a new version, only
 * the app's evaluation (tenant_opener_start_reload) — at most `threads` jobs at once (later ones
 * wait, first come first served), then hands the prepared tenant back through the job's eventfd:
 * the loop's `done` callback attaches it (tenant_attach, shard_install). The prepared tenant
 * belongs to the job's thread until the eventfd fires, then to the loop. Loop thread only (but
 * the jobs). */
#ifndef VR_PROTO_TENANT_OPENER_H
#define VR_PROTO_TENANT_OPENER_H

#include <jansson.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "proto/tenant.h"

struct tenant_open_job {
    /* set when started (the thread only reads them) */
    char name[64];
    char db[4500];
    const struct tenant_options *opts; /* borrowed */
    char *bundle;                      /* a copy (NULL: no version yet); a reload job's is
                                          borrowed */
    size_t bundle_len;
    char *bundle_name;
    json_t *env_file;                  /* a copy, handed to the shard (NULL: none) */
    uint64_t version;                  /* the owner's app version counter at the start */
    void *owner;                       /* the owner's (tenants.c: its struct opening) */
    struct tenant *prepared;           /* a tenant prepared by an earlier job, whose version
                                          changed meanwhile: only the app is built again */
    struct tenant *reload;             /* an open tenant (the loop's, serving meanwhile) whose
                                          new version the job builds: only
                                          shard_prepare_build, its schema deferred; v was begun
                                          on the loop (shard_prepare_begin). Not the job's */
    int check;                         /* set by the owner after start: a trial load of a
                                          deploy's version into an in-memory tenant (tenants.c),
                                          whose result decides only whether it loads */
    /* results, for the done callback */
    int cancelled;        /* never ran: the opener stopped, or no thread could start */
    struct tenant *t;     /* prepared (take it: set to NULL), or NULL: err says why */
    struct shard_version v; /* v.rt NULL: no app (load_err says why, empty when no bundle) */
    struct buf err;
    struct buf load_err;
    double wait_ms, store_ms, app_ms; /* queued for a thread; the two halves on it */
    /* the opener's */
    uint64_t t_queued, t_started;
    int efd;
    struct tenant_opener *o;
    struct tenant_open_job *next;       /* the waiting or active list's */
    struct tenant_open_job *queue_next; /* the threads' queue (under the opener's mutex) */
};

/* done(job, arg) runs on the loop for every started job, once: when it finished (cancelled 0)
 * or when it was dropped (cancelled 1: t is NULL). The callback takes what it keeps out of the
 * job (t, v) — the opener frees the rest after it returns. */
typedef void (*tenant_opened_fn)(struct tenant_open_job *j, void *arg);

struct tenant_opener *tenant_opener_new(struct loop *loop, size_t threads, tenant_opened_fn done,
                                        void *arg);
/* Queues a job; takes ownership of bundle, bundle_name and env_file (copies made by the caller)
 * and of `prepared` (NULL, or a tenant an earlier job prepared, not attached: its app is built
 * again; the new job's t).
 * Returns the job (owned by the opener); it starts at the next tenant_opener_kick (so that the
 * caller records it first: a job that cannot start calls done at once). */
struct tenant_open_job *tenant_opener_start(struct tenant_opener *o, const char *name,
                                            const char *db, const struct tenant_options *opts,
                                            char *bundle, size_t bundle_len, char *bundle_name,
                                            json_t *env_file, uint64_t version, void *owner,
                                            struct tenant *prepared);
/* Queues a job that builds a new version for the open tenant t (j->reload): v was begun on
 * the loop (shard_prepare_begin) and is taken over; bundle and bundle_name are borrowed (the
 * caller keeps them until the done callback: a deploy's jobs share one copy). The done callback
 * gets it built in j->v (or load_err) and installs it (shard_install). The caller keeps t open
 * until then. Started by tenant_opener_kick, like tenant_opener_start's. */
struct tenant_open_job *tenant_opener_start_reload(struct tenant_opener *o, struct tenant *t,
                                                   struct shard_version *v, const char *bundle,
                                                   size_t bundle_len, const char *bundle_name,
                                                   uint64_t version, void *owner);
void tenant_opener_kick(struct tenant_opener *o);
/* Drops the jobs still waiting for a thread (done with cancelled 1); running ones finish. */
void tenant_opener_stop(struct tenant_opener *o);
/* tenant_opener_stop, then waits for the running jobs and calls done for them; frees o. */
void tenant_opener_free(struct tenant_opener *o);
size_t tenant_opener_running(const struct tenant_opener *o);

#endif

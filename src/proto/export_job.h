/* export_job: an export made on a thread of its own (net/thread_job.h), so that the loop keeps
 * serving while a large database is read: the work function writes a file (a temporary name in
 * a folder of the caller's), which is then sent from its descriptor (http_respond_fd) once
 * unlinked, as an attachment. Used by GET /api/admin/tenants/<name>/export (a copy of a tenant's
 * database, store_export) and GET /api/admin/export (a snapshot ZIP, snapshot_zip.h), each with
 * a pool of EXPORTS_MAX threads. Loop thread only (but for the work itself). */
#ifndef VR_PROTO_EXPORT_JOB_H
#define VR_PROTO_EXPORT_JOB_H

#include <stddef.h>

#include "base/buf.h"
#include "net/server.h"
#include "net/thread_job.h"

#define EXPORTS_MAX 2

/* Runs on the job's thread: writes the export to out_path; 0, or -1 with a message in err. */
struct export_work {
    int (*run)(void *arg, const char *out_path, struct buf *err);
    void *arg;
    void (*free_arg)(void *arg); /* on the loop thread once the job ends; NULL: none */
};

/* What the answer says of the file. */
struct export_spec {
    const char *tmp_dir;  /* where the file is written (a dot name: ".export-<label>-…") */
    const char *label;    /* for the log and the temporary name: a checked name */
    const char *filename; /* the attachment's name */
    const char *content_type;
    const char *error_code; /* errorCode of a failed export (500) */
};

/* Starts the work in pool x and answers c when done: 200 with the file, 503 TooManyExports
 * when the pool is full, 500 error_code with the work's message, 503 ServerShuttingDown when
 * the pool is freed first. w->arg is freed (free_arg) whatever happens. */
void export_job_start(struct thread_jobs *x, struct conn *c, const struct export_spec *spec,
                      const struct export_work *w);

/* The folder a snapshot export of the database at db_path is written in: two up from it (the
 * single shard's .vireo/, the tenants' folder for a tenant's). */
void export_job_snapshot_dir(const char *db_path, char *out, size_t n);

/* Removes what exports that never ended (the process killed while one ran) left in dir: its
 * ".export-*" files and folders. At start only, before any export runs there. The number
 * removed. */
size_t export_job_sweep(const char *dir);

#endif

/* export_job: an export made on a thread of its own, so that the loop keeps serving while a large
 * database is read: the work function writes a file (a temporary name in a folder of the
 * caller's), which is then sent from its descriptor (http_respond_fd) once unlinked, as an
 * attachment. At most max_running at once. Used by GET /api/admin/tenants/<name>/export (a copy
 * of a tenant's database, store_export) and GET /api/admin/export (a snapshot ZIP,
 * snapshot_zip.h). Loop thread only (but for the work itself). */
#ifndef VR_PROTO_EXPORT_JOB_H
#define VR_PROTO_EXPORT_JOB_H

#include <stddef.h>

#include "base/buf.h"
#include "net/loop.h"
#include "net/server.h"

#define EXPORTS_MAX 2

struct export_jobs;

/* Runs on the job's thread: writes the export to out_path; 0, or -1 with a message in err
 * (http_status: the answer's status for it, 500 unless the work sets another, and code its
 * errorCode). */
struct export_work {
    int (*run)(void *arg, const char *out_path, struct buf *err, int *http_status);
    void *arg;
    void (*free_arg)(void *arg); /* on the loop thread once the job ends; NULL: none */
};

/* What the answer says of the file. */
struct export_spec {
    const char *tmp_dir;  /* where the file is written (a dot name: ".export-<label>-…") */
    const char *label;    /* for the log and the temporary name: a checked name */
    const char *filename; /* the attachment's name */
    const char *content_type;
    const char *error_code; /* errorCode of a failed export ("StoreError") */
};

struct export_jobs *export_jobs_new(struct loop *loop, size_t max_running);
/* Starts the work and answers c when done: 200 with the file, 503 TooManyExports past
 * max_running, or the work's error. w->arg is freed (free_arg) whatever happens. */
void export_job_start(struct export_jobs *x, struct conn *c, const struct export_spec *spec,
                      const struct export_work *w);
/* Waits for the exports still running (their answers are dropped) and frees everything. */
void export_jobs_free(struct export_jobs *x);

#endif

/* export_job: an export written on a thread of its own, then sent from its file (export_job.h). */
#include "proto/export_job.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/log.h"
#include "base/mem.h"
#include "proto/http_api.h"
#include "base/banned.h"

struct export_job {
    struct conn *c; /* referenced */
    struct export_work w;
    char label[64];
    char filename[128];
    char content_type[64];
    char error_code[32];
    char tmp[4500];
    int r; /* the work's result */
    struct buf err;
    uint64_t t0;
};

static void job_free(struct export_job *j)
{
    if (j->tmp[0])
        unlink(j->tmp);
    if (j->w.free_arg)
        j->w.free_arg(j->w.arg);
    buf_release(&j->err);
    if (j->c)
        conn_unref(j->c);
    vr_free(j);
}

static void export_work(void *arg)
{
    struct export_job *j = arg;
    j->r = j->w.run(j->w.arg, j->tmp, &j->err);
}

static void export_done(void *arg, int cancelled)
{
    struct export_job *j = arg;
    if (cancelled) {
        if (!conn_is_closed(j->c))
            http_api_respond_error(j->c, 503, "ServerShuttingDown",
                                   "the server is shutting down; export again once it is back",
                                   NULL);
        job_free(j);
        return;
    }
    int fd = j->r == 0 ? open(j->tmp, O_RDONLY | O_CLOEXEC) : -1;
    struct stat sb;
    if (fd >= 0 && fstat(fd, &sb) < 0) {
        close(fd);
        fd = -1;
    }
    if (fd < 0) {
        const char *why = j->r < 0 ? j->err.data : strerror(errno);
        log_error("export", "export of \"%s\": %s", j->label, why);
        if (!conn_is_closed(j->c))
            http_api_respond_error(j->c, 500, j->error_code, why, NULL);
    } else {
        log_debug("export", "exported \"%s\" (%lld bytes) in %.1f ms (on its own thread)", j->label,
                  (long long)sb.st_size, (double)(clock_mono_ns() - j->t0) / 1e6);
        if (conn_is_closed(j->c)) {
            close(fd);
        } else {
            char h[320];
            snprintf(h, sizeof h,
                     "Content-Disposition: attachment; filename=\"%s\"\r\n"
                     "Cache-Control: no-store\r\n",
                     j->filename);
            http_respond_fd(j->c, 200, j->content_type, fd, 0, (uint64_t)sb.st_size, h);
        }
    }
    job_free(j); /* unlinks the file: the descriptor keeps it until sent */
}

void export_job_start(struct thread_jobs *x, struct conn *c, const struct export_spec *spec,
                      const struct export_work *w)
{
    char m[256];
    struct export_job *j = vr_calloc(1, sizeof *j);
    j->w = *w;
    j->err = (struct buf)BUF_INIT(4096);
    snprintf(j->label, sizeof j->label, "%s", spec->label);
    snprintf(j->filename, sizeof j->filename, "%s", spec->filename);
    snprintf(j->content_type, sizeof j->content_type, "%s", spec->content_type);
    snprintf(j->error_code, sizeof j->error_code, "%s", spec->error_code);
    /* a fresh dot name in the caller's folder (never a tenant's), created by the work */
    snprintf(j->tmp, sizeof j->tmp, "%s/.export-%s-XXXXXX", spec->tmp_dir, spec->label);
    int fd = mkstemp(j->tmp);
    if (fd < 0) {
        log_error("export", "export of \"%s\": %s: %s", spec->label, j->tmp, strerror(errno));
        j->tmp[0] = '\0';
        http_api_respond_error(c, 500, "StoreError", "cannot start the export", NULL);
        job_free(j);
        return;
    }
    close(fd);
    unlink(j->tmp);
    j->c = c;
    conn_ref(c);
    j->t0 = clock_mono_ns();
    struct thread_job job = {export_work, export_done, j};
    int e = thread_job_start(x, &job);
    if (e == -EBUSY) {
        snprintf(m, sizeof m, "%zu exports are running, the most at once; retry later",
                 thread_jobs_running(x));
        http_api_respond_error(c, 503, "TooManyExports", m, NULL);
        job_free(j);
    } else if (e < 0) {
        log_error("export", "export of \"%s\": cannot start a thread: %s", spec->label,
                  strerror(-e));
        http_api_respond_error(c, 500, "StoreError", "cannot start the export", NULL);
        job_free(j);
    }
}

void export_job_snapshot_dir(const char *db_path, char *out, size_t n)
{
    snprintf(out, n, "%s", db_path);
    for (int up = 0; up < 2; up++) {
        char *slash = strrchr(out, '/');
        if (!slash) {
            snprintf(out, n, ".");
            return;
        }
        slash[slash == out] = '\0'; /* "/x.db": "/" */
    }
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    if (remove(path) < 0 && errno != ENOENT)
        log_error("export", "cannot remove %s: %s", path, strerror(errno));
    return 0;
}

size_t export_job_sweep(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, ".export-", 8))
            continue;
        char path[4600];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
        n++;
    }
    closedir(d);
    if (n)
        log_info("export",
                 "removed %zu unfinished export file%s from %s (the server stopped "
                 "while they were written)",
                 n, n == 1 ? "" : "s", dir);
    return n;
}

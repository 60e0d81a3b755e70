/* export_job: an export written on a thread of its own, then sent from its file (export_job.h). */
#include "proto/export_job.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/log.h"
#include "base/mem.h"
#include "proto/http_api.h"
#include "base/banned.h"

struct export_job {
    struct export_jobs *x;
    struct conn *c; /* referenced */
    struct export_work w;
    char label[64];
    char filename[128];
    char content_type[64];
    char error_code[32];
    char tmp[4500];
    int efd; /* the thread's "done" */
    pthread_t thread;
    int r;      /* the work's result */
    int status; /* the answer's status when it failed */
    struct buf err;
    uint64_t t0;
    struct export_job *next;
};

struct export_jobs {
    struct loop *loop;
    size_t max_running, n_running;
    struct export_job *jobs;
};

struct export_jobs *export_jobs_new(struct loop *loop, size_t max_running)
{
    struct export_jobs *x = vr_calloc(1, sizeof *x);
    x->loop = loop;
    x->max_running = max_running;
    return x;
}

static void *export_thread(void *arg)
{
    struct export_job *j = arg;
    j->r = j->w.run(j->w.arg, j->tmp, &j->err, &j->status);
    uint64_t one = 1;
    ssize_t w = write(j->efd, &one, sizeof one);
    (void)w; /* an eventfd write of 1 cannot fail short of overflow */
    return NULL;
}

static void job_unlink(struct export_job *j)
{
    struct export_job **pp = &j->x->jobs;
    while (*pp != j)
        pp = &(*pp)->next;
    *pp = j->next;
    j->x->n_running--;
}

static void job_free(struct export_job *j)
{
    if (j->efd >= 0) {
        loop_del_fd(j->x->loop, j->efd);
        close(j->efd);
    }
    if (j->tmp[0])
        unlink(j->tmp);
    if (j->w.free_arg)
        j->w.free_arg(j->w.arg);
    buf_release(&j->err);
    if (j->c)
        conn_unref(j->c);
    vr_free(j);
}

static void export_done(struct loop *l, int efd, uint32_t events, void *arg)
{
    struct export_job *j = arg;
    (void)l, (void)efd, (void)events;
    pthread_join(j->thread, NULL);
    job_unlink(j);
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
            http_api_respond_error(j->c, j->status ? j->status : 500, j->error_code, why, NULL);
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

void export_job_start(struct export_jobs *x, struct conn *c, const struct export_spec *spec,
                      const struct export_work *w)
{
    char m[256];
    struct export_job *j = vr_calloc(1, sizeof *j);
    j->x = x;
    j->w = *w;
    j->efd = -1;
    j->err = (struct buf)BUF_INIT(4096);
    snprintf(j->label, sizeof j->label, "%s", spec->label);
    snprintf(j->filename, sizeof j->filename, "%s", spec->filename);
    snprintf(j->content_type, sizeof j->content_type, "%s", spec->content_type);
    snprintf(j->error_code, sizeof j->error_code, "%s", spec->error_code);
    if (x->n_running >= x->max_running) {
        snprintf(m, sizeof m, "%zu exports are running, the most at once; retry later",
                 x->n_running);
        http_api_respond_error(c, 503, "TooManyExports", m, NULL);
        job_free(j);
        return;
    }
    /* a fresh dot name in the caller's folder (never a tenant's), created by the work */
    snprintf(j->tmp, sizeof j->tmp, "%s/.export-%s-XXXXXX", spec->tmp_dir, spec->label);
    int fd = mkstemp(j->tmp);
    if (fd >= 0) {
        close(fd);
        unlink(j->tmp);
    } else {
        j->tmp[0] = '\0';
    }
    j->efd = fd >= 0 ? eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC) : -1;
    if (j->efd < 0 || loop_add_fd(x->loop, j->efd, EPOLLIN, export_done, j) < 0) {
        log_error("export", "export of \"%s\": %s", spec->label, strerror(errno));
        http_api_respond_error(c, 500, "StoreError", "cannot start the export", NULL);
        if (j->efd >= 0)
            close(j->efd);
        j->efd = -1;
        job_free(j);
        return;
    }
    j->c = c;
    conn_ref(c);
    j->t0 = clock_mono_ns();
    int e = pthread_create(&j->thread, NULL, export_thread, j);
    if (e) {
        log_error("export", "export of \"%s\": cannot start a thread: %s", spec->label,
                  strerror(e));
        http_api_respond_error(c, 500, "StoreError", "cannot start the export", NULL);
        job_free(j);
        return;
    }
    j->next = x->jobs;
    x->jobs = j;
    x->n_running++;
}

void export_jobs_free(struct export_jobs *x)
{
    if (!x)
        return;
    while (x->jobs) {
        struct export_job *j = x->jobs;
        x->jobs = j->next;
        pthread_join(j->thread, NULL);
        job_free(j);
    }
    vr_free(x);
}

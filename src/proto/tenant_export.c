/* tenant_export: copies a tenant's database on a thread and sends the copy (tenant_export.h). */
#include "proto/tenant_export.h"

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

#include "base/buf.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/mem.h"
#include "proto/http_api.h"
#include "store/store.h"
#include "base/banned.h"

struct export_job {
    struct tenant_exports *x;
    struct conn *c; /* referenced */
    char name[64];
    char db[4500];
    char tmp[4500];
    int efd; /* the thread's "done" */
    pthread_t thread;
    int r; /* store_export's result */
    struct buf err;
    uint64_t t0;
    struct export_job *next;
};

struct tenant_exports {
    struct loop *loop;
    const char *dir;
    size_t max_running, n_running;
    struct export_job *jobs;
};

struct tenant_exports *tenant_exports_new(struct loop *loop, const char *dir, size_t max_running)
{
    struct tenant_exports *x = vr_calloc(1, sizeof *x);
    x->loop = loop;
    x->dir = dir;
    x->max_running = max_running;
    return x;
}

static void *export_thread(void *arg)
{
    struct export_job *j = arg;
    j->r = store_export(j->db, j->tmp, &j->err);
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
    loop_del_fd(j->x->loop, j->efd);
    close(j->efd);
    unlink(j->tmp);
    buf_release(&j->err);
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
        log_error("tenants", "export of \"%s\": %s", j->name,
                  j->r < 0 ? j->err.data : strerror(errno));
        if (!conn_is_closed(j->c))
            http_api_respond_error(j->c, 500, "StoreError", "cannot copy the tenant's database",
                                   NULL);
    } else {
        log_debug("tenants", "exported \"%s\" (%lld bytes) in %.1f ms (on its own thread)", j->name,
                  (long long)sb.st_size, (double)(clock_mono_ns() - j->t0) / 1e6);
        if (conn_is_closed(j->c)) {
            close(fd);
        } else {
            char h[256];
            snprintf(h, sizeof h,
                     "Content-Disposition: attachment; filename=\"%s.sqlite3\"\r\n"
                     "Cache-Control: no-store\r\n",
                     j->name);
            http_respond_fd(j->c, 200, "application/vnd.sqlite3", fd, 0, (uint64_t)sb.st_size, h);
        }
    }
    job_free(j); /* unlinks the copy: the descriptor keeps it until sent */
}

void tenant_export_start(struct tenant_exports *x, struct conn *c, const char *name)
{
    char m[256];
    struct stat sb;
    struct export_job *j = vr_calloc(1, sizeof *j);
    snprintf(j->name, sizeof j->name, "%s", name);
    snprintf(j->db, sizeof j->db, "%s/%s/shard.db", x->dir, name);
    if (stat(j->db, &sb) < 0) {
        snprintf(m, sizeof m, "no tenant \"%s\"", name);
        http_api_respond_error(c, 404, "TenantNotFound", m, NULL);
        vr_free(j);
        return;
    }
    if (x->n_running >= x->max_running) {
        snprintf(m, sizeof m, "%zu exports are running, the most at once; retry later",
                 x->n_running);
        http_api_respond_error(c, 503, "TooManyExports", m, NULL);
        vr_free(j);
        return;
    }
    /* a fresh name in the tenants' folder (a dot name: never a tenant's), created by VACUUM INTO */
    snprintf(j->tmp, sizeof j->tmp, "%s/.export-%s-XXXXXX", x->dir, name);
    int fd = mkstemp(j->tmp);
    if (fd >= 0) {
        close(fd);
        unlink(j->tmp);
    }
    j->efd = fd >= 0 ? eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC) : -1;
    if (j->efd < 0 || loop_add_fd(x->loop, j->efd, EPOLLIN, export_done, j) < 0) {
        log_error("tenants", "export of \"%s\": %s", name, strerror(errno));
        http_api_respond_error(c, 500, "StoreError", "cannot start the export", NULL);
        if (j->efd >= 0)
            close(j->efd);
        vr_free(j);
        return;
    }
    j->x = x;
    j->c = c;
    conn_ref(c);
    j->err = (struct buf)BUF_INIT(4096);
    j->t0 = clock_mono_ns();
    int e = pthread_create(&j->thread, NULL, export_thread, j);
    if (e) {
        log_error("tenants", "export of \"%s\": cannot start a thread: %s", name, strerror(e));
        http_api_respond_error(c, 500, "StoreError", "cannot start the export", NULL);
        job_free(j);
        return;
    }
    j->next = x->jobs;
    x->jobs = j;
    x->n_running++;
}

void tenant_exports_free(struct tenant_exports *x)
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

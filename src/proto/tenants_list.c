/* tenants_list: GET /api/admin/tenants off the loop thread (tenants_list.h). */
#include "proto/tenants_list.h"

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/clock.h"
#include "base/log.h"
#include "base/mem.h"
#include "proto/http_api.h"
#include "proto/tenants.h"
#include "base/banned.h"

struct open_tenant {
    char name[TENANT_NAME_MAX + 1];
    double last_used;
};

struct tenants_list {
    struct conn *c; /* referenced */
    char dir[4096];
    size_t n_open, max_open;
    struct open_tenant *open; /* sorted by name once started */
    size_t nopen, capopen;
    char *answer;    /* the work's JSON (jansson's allocation), NULL: failed */
    const char *why; /* its failure */
    uint64_t t0;
};

struct tenants_list *tenants_list_new(struct conn *c, const char *dir, size_t n_open,
                                      size_t max_open)
{
    struct tenants_list *l = vr_calloc(1, sizeof *l);
    l->c = c;
    conn_ref(c);
    snprintf(l->dir, sizeof l->dir, "%s", dir);
    l->n_open = n_open;
    l->max_open = max_open;
    return l;
}

void tenants_list_open(struct tenants_list *l, const char *name, double last_used_wall_ms)
{
    if (l->nopen == l->capopen) {
        l->capopen = l->capopen ? 2 * l->capopen : 64;
        l->open = vr_realloc(l->open, l->capopen * sizeof *l->open);
    }
    struct open_tenant *o = &l->open[l->nopen++];
    snprintf(o->name, sizeof o->name, "%s", name);
    o->last_used = last_used_wall_ms;
}

static void list_free(struct tenants_list *l)
{
    conn_unref(l->c);
    vr_free(l->open);
    free(l->answer);
    vr_free(l);
}

static int by_open_name(const void *x, const void *y)
{
    return strcmp(((const struct open_tenant *)x)->name, ((const struct open_tenant *)y)->name);
}

static int by_name(const void *x, const void *y)
{
    const json_t *a = *(json_t *const *)x, *b = *(json_t *const *)y;
    return strcmp(json_string_value(json_object_get(a, "name")),
                  json_string_value(json_object_get(b, "name")));
}

/* nftw's callback takes no argument: each job's thread sums into its own */
static _Thread_local uint64_t tree_bytes;
static int tree_add(const char *p, const struct stat *sb, int type, struct FTW *f)
{
    (void)p, (void)f;
    if (type == FTW_F)
        tree_bytes += (uint64_t)sb->st_size;
    return 0;
}

/* When a closed tenant was last used: when its database last changed. */
static double last_change_ms(const char *path)
{
    const char *sfx[] = {"/shard.db", "/shard.db-wal"};
    double last = 0;
    for (size_t k = 0; k < 2; k++) {
        char f[4500];
        struct stat sb;
        snprintf(f, sizeof f, "%s%s", path, sfx[k]);
        if (stat(f, &sb) == 0 &&
            (double)sb.st_mtim.tv_sec * 1e3 + (double)sb.st_mtim.tv_nsec / 1e6 > last)
            last = (double)sb.st_mtim.tv_sec * 1e3 + (double)sb.st_mtim.tv_nsec / 1e6;
    }
    return last;
}

static void list_work(void *arg)
{
    struct tenants_list *l = arg;
    DIR *dir = opendir(l->dir);
    if (!dir) {
        l->why = "cannot read the tenants' folder";
        return;
    }
    json_t *list = json_array();
    struct dirent *e;
    while ((e = readdir(dir))) {
        size_t n = strlen(e->d_name);
        struct buf err = BUF_INIT(1024);
        int bad = tenant_name_check(e->d_name, n, &err) < 0;
        buf_release(&err);
        char path[4400];
        struct stat sb;
        snprintf(path, sizeof path, "%s/%s", l->dir, e->d_name);
        if (bad || n >= sizeof(struct open_tenant){0}.name || stat(path, &sb) < 0 ||
            !S_ISDIR(sb.st_mode))
            continue;
        struct open_tenant key;
        memcpy(key.name, e->d_name, n + 1); /* a checked name: at most TENANT_NAME_MAX bytes */
        const struct open_tenant *o =
            l->nopen ? bsearch(&key, l->open, l->nopen, sizeof *l->open, by_open_name) : NULL;
        tree_bytes = 0;
        nftw(path, tree_add, 16, FTW_PHYS);
        double last = o ? o->last_used : last_change_ms(path);
        json_array_append_new(list, json_pack("{s:s, s:b, s:I, s:f}", "name", e->d_name, "open",
                                              o != NULL, "bytes", (json_int_t)tree_bytes,
                                              "lastUsed", (double)(int64_t)last));
    }
    closedir(dir);
    /* sorted by name (n log n: a server may hold 100,000 tenants) */
    size_t n = json_array_size(list);
    json_t **items = vr_malloc((n ? n : 1) * sizeof *items);
    for (size_t i = 0; i < n; i++)
        items[i] = json_incref(json_array_get(list, i));
    if (n > 1)
        qsort(items, n, sizeof *items, by_name);
    json_array_clear(list);
    for (size_t i = 0; i < n; i++)
        json_array_append_new(list, items[i]);
    vr_free(items);
    json_t *out = json_pack("{s:o, s:I, s:I}", "tenants", list, "open", (json_int_t)l->n_open,
                            "maxOpen", (json_int_t)l->max_open);
    l->answer = json_dumps(out, JSON_COMPACT);
    json_decref(out);
    if (!l->answer)
        l->why = "out of memory";
}

static void list_done(void *arg, int cancelled)
{
    struct tenants_list *l = arg;
    if (conn_is_closed(l->c)) {
        list_free(l);
        return;
    }
    if (cancelled)
        http_api_respond_error(l->c, 503, "ServerShuttingDown",
                               "the server is shutting down; list again once it is back", NULL);
    else if (!l->answer)
        http_api_respond_error(l->c, 500, "StoreError", l->why, NULL);
    else
        http_respond(l->c, 200, "application/json", l->answer, strlen(l->answer), NULL);
    log_debug("tenants", "listed the tenants in %.1f ms (on a thread of its own)",
              (double)(clock_mono_ns() - l->t0) / 1e6);
    list_free(l);
}

void tenants_list_start(struct thread_jobs *x, struct tenants_list *l)
{
    if (l->nopen > 1)
        qsort(l->open, l->nopen, sizeof *l->open, by_open_name);
    l->t0 = clock_mono_ns();
    struct thread_job job = {list_work, list_done, l};
    int e = thread_job_start(x, &job);
    if (e == -EBUSY) {
        http_api_respond_error(l->c, 503, "TooManyListings",
                               "a listing of the tenants is running already; retry in a moment",
                               NULL);
        list_free(l);
    } else if (e < 0) {
        log_error("tenants", "cannot start the listing's thread: %s", strerror(-e));
        http_api_respond_error(l->c, 500, "InternalError", "cannot start the listing", NULL);
        list_free(l);
    }
}

/* store_vfs: a pass-through SQLite VFS that counts the syncs (fdatasync/fsync) one store's
 * connection makes, so that /api/metrics can show that every acknowledged batch reached stable
 * storage. Each store registers its own copy of the default VFS under a unique name with its
 * counter as pAppData; every file method forwards to the default VFS's file unchanged. Only the
 * loop thread's connection uses it (the checkpoint thread opens the file with the default VFS). */
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "base/mem.h"
#include "store/store_int.h"
#include "base/banned.h"

struct st_vfs {
    sqlite3_vfs vfs; /* first: SQLite hands back this pointer */
    sqlite3_vfs *real;
    uint64_t syncs;
    char name[48];
};

struct cnt_file {
    sqlite3_file base;  /* first */
    sqlite3_file *real; /* the default VFS's file, allocated right after this struct */
    struct st_vfs *owner;
};

#define REAL(f) (((struct cnt_file *)(f))->real)

static int f_close(sqlite3_file *f)
{
    return REAL(f)->pMethods->xClose(REAL(f));
}
static int f_read(sqlite3_file *f, void *p, int n, sqlite3_int64 off)
{
    return REAL(f)->pMethods->xRead(REAL(f), p, n, off);
}
static int f_write(sqlite3_file *f, const void *p, int n, sqlite3_int64 off)
{
    return REAL(f)->pMethods->xWrite(REAL(f), p, n, off);
}
static int f_truncate(sqlite3_file *f, sqlite3_int64 size)
{
    return REAL(f)->pMethods->xTruncate(REAL(f), size);
}
static int f_sync(sqlite3_file *f, int flags)
{
    int rc = REAL(f)->pMethods->xSync(REAL(f), flags);
    if (rc == SQLITE_OK)
        ((struct cnt_file *)f)->owner->syncs++;
    return rc;
}
static int f_size(sqlite3_file *f, sqlite3_int64 *out)
{
    return REAL(f)->pMethods->xFileSize(REAL(f), out);
}
static int f_lock(sqlite3_file *f, int lock)
{
    return REAL(f)->pMethods->xLock(REAL(f), lock);
}
static int f_unlock(sqlite3_file *f, int lock)
{
    return REAL(f)->pMethods->xUnlock(REAL(f), lock);
}
static int f_check_lock(sqlite3_file *f, int *out)
{
    return REAL(f)->pMethods->xCheckReservedLock(REAL(f), out);
}
static int f_fcntl(sqlite3_file *f, int op, void *arg)
{
    return REAL(f)->pMethods->xFileControl(REAL(f), op, arg);
}
static int f_sector(sqlite3_file *f)
{
    return REAL(f)->pMethods->xSectorSize(REAL(f));
}
static int f_devchar(sqlite3_file *f)
{
    return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f));
}
static int f_shm_map(sqlite3_file *f, int pg, int pgsz, int extend, void volatile **out)
{
    return REAL(f)->pMethods->xShmMap(REAL(f), pg, pgsz, extend, out);
}
static int f_shm_lock(sqlite3_file *f, int off, int n, int flags)
{
    return REAL(f)->pMethods->xShmLock(REAL(f), off, n, flags);
}
static void f_shm_barrier(sqlite3_file *f)
{
    REAL(f)->pMethods->xShmBarrier(REAL(f));
}
static int f_shm_unmap(sqlite3_file *f, int del)
{
    return REAL(f)->pMethods->xShmUnmap(REAL(f), del);
}
static int f_fetch(sqlite3_file *f, sqlite3_int64 off, int n, void **out)
{
    return REAL(f)->pMethods->xFetch(REAL(f), off, n, out);
}
static int f_unfetch(sqlite3_file *f, sqlite3_int64 off, void *p)
{
    return REAL(f)->pMethods->xUnfetch(REAL(f), off, p);
}

/* One table per iVersion the default VFS's files may have: a method the real file lacks must be
 * absent here too, or SQLite would call through a NULL pointer. */
#define IO_METHODS(v)                                                                              \
    {                                                                                              \
        v, f_close, f_read, f_write, f_truncate, f_sync, f_size, f_lock, f_unlock, f_check_lock,   \
            f_fcntl, f_sector, f_devchar, v >= 2 ? f_shm_map : NULL, v >= 2 ? f_shm_lock : NULL,   \
            v >= 2 ? f_shm_barrier : NULL, v >= 2 ? f_shm_unmap : NULL, v >= 3 ? f_fetch : NULL,   \
            v >= 3 ? f_unfetch : NULL                                                              \
    }
static const sqlite3_io_methods io_methods[3] = {IO_METHODS(1), IO_METHODS(2), IO_METHODS(3)};

static int v_open(sqlite3_vfs *vfs, sqlite3_filename name, sqlite3_file *file, int flags,
                  int *out_flags)
{
    struct st_vfs *sv = (struct st_vfs *)vfs;
    struct cnt_file *f = (struct cnt_file *)file;
    f->real = (sqlite3_file *)(f + 1);
    f->owner = sv;
    f->base.pMethods = NULL;
    int rc = sv->real->xOpen(sv->real, name, f->real, flags, out_flags);
    if (f->real->pMethods) {
        int v = f->real->pMethods->iVersion;
        f->base.pMethods = &io_methods[(v < 1 ? 1 : v > 3 ? 3 : v) - 1];
    }
    return rc;
}

/* The other VFS methods take the sqlite3_vfs pointer; forward them with the real one. */
static int v_delete(sqlite3_vfs *vfs, const char *name, int sync_dir)
{
    sqlite3_vfs *r = ((struct st_vfs *)vfs)->real;
    return r->xDelete(r, name, sync_dir);
}
static int v_access(sqlite3_vfs *vfs, const char *name, int flags, int *out)
{
    sqlite3_vfs *r = ((struct st_vfs *)vfs)->real;
    return r->xAccess(r, name, flags, out);
}
static int v_full_path(sqlite3_vfs *vfs, const char *name, int n, char *out)
{
    sqlite3_vfs *r = ((struct st_vfs *)vfs)->real;
    return r->xFullPathname(r, name, n, out);
}
static void *v_dl_open(sqlite3_vfs *vfs, const char *name)
{
    sqlite3_vfs *r = ((struct st_vfs *)vfs)->real;
    return r->xDlOpen(r, name);
}
static void v_dl_error(sqlite3_vfs *vfs, int n, char *msg)
{
    sqlite3_vfs *r = ((struct st_vfs *)vfs)->real;
    r->xDlError(r, n, msg);
}
static void (*v_dl_sym(sqlite3_vfs *vfs, void *h, const char *sym))(void)
{
    sqlite3_vfs *r = ((struct st_vfs *)vfs)->real;
    return r->xDlSym(r, h, sym);
}
static void v_dl_close(sqlite3_vfs *vfs, void *h)
{
    sqlite3_vfs *r = ((struct st_vfs *)vfs)->real;
    r->xDlClose(r, h);
}
static int v_random(sqlite3_vfs *vfs, int n, char *out)
{
    sqlite3_vfs *r = ((struct st_vfs *)vfs)->real;
    return r->xRandomness(r, n, out);
}
static int v_sleep(sqlite3_vfs *vfs, int us)
{
    sqlite3_vfs *r = ((struct st_vfs *)vfs)->real;
    return r->xSleep(r, us);
}
static int v_time(sqlite3_vfs *vfs, double *out)
{
    sqlite3_vfs *r = ((struct st_vfs *)vfs)->real;
    return r->xCurrentTime(r, out);
}
static int v_last_error(sqlite3_vfs *vfs, int n, char *out)
{
    sqlite3_vfs *r = ((struct st_vfs *)vfs)->real;
    return r->xGetLastError ? r->xGetLastError(r, n, out) : 0;
}
static int v_time64(sqlite3_vfs *vfs, sqlite3_int64 *out)
{
    sqlite3_vfs *r = ((struct st_vfs *)vfs)->real;
    return r->xCurrentTimeInt64(r, out);
}

const char *st_vfs_register(struct store *s)
{
    sqlite3_vfs *real = sqlite3_vfs_find(NULL);
    if (!real)
        return NULL;
    struct st_vfs *sv = vr_calloc(1, sizeof *sv);
    sv->real = real;
    snprintf(sv->name, sizeof sv->name, "vireo-count-%p", (void *)sv);
    sv->vfs.iVersion = real->iVersion < 2 ? real->iVersion : 2;
    sv->vfs.szOsFile = (int)sizeof(struct cnt_file) + real->szOsFile;
    sv->vfs.mxPathname = real->mxPathname;
    sv->vfs.zName = sv->name;
    sv->vfs.xOpen = v_open;
    sv->vfs.xDelete = v_delete;
    sv->vfs.xAccess = v_access;
    sv->vfs.xFullPathname = v_full_path;
    sv->vfs.xDlOpen = real->xDlOpen ? v_dl_open : NULL;
    sv->vfs.xDlError = real->xDlError ? v_dl_error : NULL;
    sv->vfs.xDlSym = real->xDlSym ? v_dl_sym : NULL;
    sv->vfs.xDlClose = real->xDlClose ? v_dl_close : NULL;
    sv->vfs.xRandomness = v_random;
    sv->vfs.xSleep = v_sleep;
    sv->vfs.xCurrentTime = v_time;
    sv->vfs.xGetLastError = v_last_error;
    if (sv->vfs.iVersion >= 2)
        sv->vfs.xCurrentTimeInt64 = v_time64;
    if (sqlite3_vfs_register(&sv->vfs, 0) != SQLITE_OK) {
        vr_free(sv);
        return NULL;
    }
    s->vfs = sv;
    return sv->name;
}

void st_vfs_unregister(struct store *s)
{
    if (!s->vfs)
        return;
    sqlite3_vfs_unregister(&s->vfs->vfs);
    vr_free(s->vfs);
    s->vfs = NULL;
}

uint64_t store_sync_count(const struct store *s)
{
    return s->vfs ? s->vfs->syncs : 0;
}

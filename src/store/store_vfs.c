/* store_vfs: a pass-through SQLite VFS for one store's loop-thread connection. It counts the
 * syncs (fdatasync/fsync) the connection makes, so that /api/metrics can show that every
 * acknowledged batch reached stable storage, and it writes each commit's WAL frames with one
 * system call: SQLite writes a frame as two writes (its 24-byte header, then the page), so a
 * commit of N frames was 2N pwrites. Contiguous writes to the -wal file are held and written
 * together when the commit's last frame is complete (a frame header with a non-zero "database
 * size after commit" field, then its page), so the commit's own xWrite returns any error;
 * anything else done with the file first (a read, a sync, a size, a write elsewhere, close)
 * writes what is held before it. A run is begun only by a frame header that does not end a
 * commit or by the WAL's own header: a commit frame header written on its own (SQLite rewriting
 * the checksums of frames it overwrote in the same transaction, walRewriteChecksums) goes out
 * at once, since no page follows it. As a last guard, a shm barrier or lock on the database
 * (SQLite publishing a commit to other connections) writes anything still held first.
 * A commit's sync can be deferred (store_batch_commit_deferred): its xSync starts the disk
 * writing the frames (sync_file_range) and returns, SQLite publishes the commit, and
 * store_sync_wait's fdatasync later waits for what is left, on a descriptor of the -wal file of
 * our own (the file's pages are the file's, whichever descriptor wrote them). Never the WAL
 * header's sync (it must precede its frames) nor a file's first (the unix VFS then also syncs
 * its directory).
 * A commit's sync that fails, deferred or not, stops the process (sync_failed): SQLite would
 * roll the commit back and call its writes lost, yet its frames are in the WAL with valid
 * checksums, and the disk may hold them (or take them later from the page cache): a crash before
 * the next commit overwrites them would bring them back, so a batch reported lost could reappear.
 * A restart recovers whatever the disk holds, consistently (PostgreSQL panics for the same
 * reason).
 * A checkpoint syncs the WAL before it copies frames into the database (a power cut must not
 * leave the database holding a transaction the WAL lost). With durability full that sync is
 * nearly always redundant: the loop thread has synced every byte it wrote, and a sync with
 * nothing to write still sends the disk a cache flush, which the next commit's sync queues
 * behind. So the loop thread counts its writes to the WAL (wal_writes, counted before each
 * write is issued) and records, after each of its syncs succeeds, the count it saw when the
 * sync began (wal_synced, plus one: 0 is "none yet"); a checkpoint's WAL sync, on the loop's
 * connection or the checkpoint thread's, is skipped when that count covers every write
 * (wal_covered). A checkpoint copies only frames a commit published, published only after they
 * were written and counted, so a deferred commit's frames, published before their sync, make
 * its sync real; so do relaxed mode's commits, which never sync.
 * Each store registers its own copy of ST_SQLITE_VFS under a unique name, and a second one for
 * the checkpoint thread's connection (peer), both with its state as pAppData; every other method
 * forwards to ST_SQLITE_VFS's file unchanged. Only the loop thread's connection uses the first;
 * the peer's files hold no writes, and touch nothing of the loop's but the two counts. */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "base/mem.h"
#include "store/store_int.h"
#include "base/banned.h"

struct cnt_file;

struct st_vfs {
    sqlite3_vfs vfs;      /* the loop's connection's */
    sqlite3_vfs peer_vfs; /* the checkpoint thread's */
    sqlite3_vfs *real;
    uint64_t syncs;
    _Atomic uint64_t wal_writes;    /* the loop's writes to the WAL, counted before each */
    _Atomic uint64_t wal_synced;    /* 1 + wal_writes as the loop's last good sync began; 0: none */
    _Atomic uint64_t syncs_skipped; /* checkpoints' WAL syncs skipped as covered */
    _Atomic uint64_t peer_syncs;    /* the peer's WAL syncs made */
    _Atomic int peer_wrote;         /* the peer wrote the WAL: never skip again */
    struct cnt_file *wal; /* the open -wal file, whose held writes a shm barrier flushes */
    char *wal_path;       /* its name, for wal_fd */
    int wal_fd;           /* our own descriptor of it (-1: none yet): a deferred sync's */
    int defer;            /* a commit's WAL sync is deferred to st_vfs_sync_wait */
    int owed;             /* a deferred sync is owed */
    int fail_sync;        /* tests (st_vfs_fail_sync): the next commit's sync fails */
    char name[48];
    char peer_name[48];
};

/* At most this much is held: a larger commit goes out in several writes. The unix VFS writes at
 * most 128 KiB - 1 per pwrite (seekAndWrite masks the length to 17 bits) and reads a zero-length
 * write as a full disk, so a held run must stay under that. */
#define HOLD_MAX (96u * 1024)
#define WAL_FRAME_HEADER 24

struct cnt_file {
    sqlite3_file base;  /* first */
    sqlite3_file *real; /* ST_SQLITE_VFS's file, allocated right after this struct */
    struct st_vfs *owner;
    int peer;          /* opened by the checkpoint thread's connection (peer_vfs) */
    int wal;           /* the loop's -wal file: its writes are held */
    int peer_wal;      /* the peer's -wal file */
    int commit_page;   /* the last held write was a commit frame's header: its page ends it */
    int commit_done;   /* a commit's frames were written since the last sync */
    int synced;        /* synced once by the unix VFS (which then also syncs the directory) */
    char *held;        /* contiguous bytes not yet written, from held_off */
    size_t held_len, held_cap;
    sqlite3_int64 held_off;
};

#define REAL(f) (((struct cnt_file *)(f))->real)

/* A write to the loop's WAL, counted first (the header comment). */
static int wal_write(sqlite3_file *f, const void *p, int n, sqlite3_int64 off)
{
    atomic_fetch_add(&((struct cnt_file *)f)->owner->wal_writes, 1);
    return REAL(f)->pMethods->xWrite(REAL(f), p, n, off);
}

/* Whether a sync of the WAL now would write nothing the loop's last good sync did not. The
 * writes are read first: a count of syncs that began later can only be larger. */
static int wal_covered(struct st_vfs *sv)
{
    uint64_t w = atomic_load(&sv->wal_writes);
    uint64_t synced = atomic_load(&sv->wal_synced);
    return synced != 0 && synced > w && !atomic_load(&sv->peer_wrote);
}

/* After a good sync of the WAL by the loop thread: it covered every write counted before it
 * began. */
static void wal_sync_done(struct st_vfs *sv, uint64_t writes_before)
{
    atomic_store(&sv->wal_synced, writes_before + 1);
}

/* Writes what f holds (nothing held: SQLITE_OK). What failed is dropped: SQLite gets the error
 * for the call that needed it, and frames past a failed write are never part of a commit. */
static int flush(sqlite3_file *f)
{
    struct cnt_file *c = (struct cnt_file *)f;
    if (!c->held_len)
        return SQLITE_OK;
    int rc = wal_write(f, c->held, (int)c->held_len, c->held_off);
    c->held_len = 0;
    c->commit_page = 0;
    return rc;
}

static int f_close(sqlite3_file *f)
{
    struct cnt_file *c = (struct cnt_file *)f;
    int rc = flush(f);
    if (c->owner->wal == c) {
        struct st_vfs *sv = c->owner;
        if (sv->owed && fdatasync(sv->wal_fd) < 0 && rc == SQLITE_OK)
            rc = SQLITE_IOERR_FSYNC;
        sv->owed = 0;
        if (sv->wal_fd >= 0)
            close(sv->wal_fd);
        sv->wal_fd = -1;
        sv->wal = NULL;
    }
    int rc2 = REAL(f)->pMethods->xClose(REAL(f));
    vr_free(c->held);
    c->held = NULL;
    c->held_cap = 0;
    return rc != SQLITE_OK ? rc : rc2;
}
static int f_read(sqlite3_file *f, void *p, int n, sqlite3_int64 off)
{
    int rc = flush(f);
    return rc != SQLITE_OK ? rc : REAL(f)->pMethods->xRead(REAL(f), p, n, off);
}
static int f_write(sqlite3_file *f, const void *p, int n, sqlite3_int64 off)
{
    struct cnt_file *c = (struct cnt_file *)f;
    if (c->peer_wal)
        atomic_store(&c->owner->peer_wrote, 1);
    if (!c->wal || n <= 0)
        return REAL(f)->pMethods->xWrite(REAL(f), p, n, off);
    int rc;
    if (c->held_len && (off != c->held_off + (sqlite3_int64)c->held_len ||
                        c->held_len + (size_t)n > HOLD_MAX) &&
        (rc = flush(f)) != SQLITE_OK)
        return rc;
    const unsigned char *h = p;
    int commit_header = n == WAL_FRAME_HEADER && (h[4] | h[5] | h[6] | h[7]);
    int starts_run = (n == WAL_FRAME_HEADER && !commit_header) || (off == 0 && n == 32);
    if ((size_t)n > HOLD_MAX || (!c->held_len && !starts_run))
        return wal_write(f, p, n, off);
    if (c->held_len + (size_t)n > c->held_cap) {
        size_t cap = c->held_cap ? c->held_cap : 64 * 1024;
        while (cap < c->held_len + (size_t)n)
            cap *= 2;
        c->held = vr_realloc(c->held, cap);
        c->held_cap = cap;
    }
    if (!c->held_len)
        c->held_off = off;
    memcpy(c->held + c->held_len, p, (size_t)n);
    c->held_len += (size_t)n;
    if (c->commit_page) {
        c->commit_done = 1;
        return flush(f); /* the commit's last frame is complete */
    }
    if (commit_header)
        c->commit_page = 1; /* its page comes next, in the same walWriteOneFrame */
    return SQLITE_OK;
}
static int f_truncate(sqlite3_file *f, sqlite3_int64 size)
{
    struct cnt_file *c = (struct cnt_file *)f;
    if (c->wal)
        atomic_fetch_add(&c->owner->wal_writes, 1); /* a size to sync, like a write */
    if (c->peer_wal)
        atomic_store(&c->owner->peer_wrote, 1);
    int rc = flush(f);
    return rc != SQLITE_OK ? rc : REAL(f)->pMethods->xTruncate(REAL(f), size);
}
/* Defers a commit's sync when asked (the header comment): 1, or 0 to sync now. */
static int defer_sync(struct cnt_file *c)
{
    struct st_vfs *sv = c->owner;
    if (!sv->defer || !c->wal || !c->synced || !sv->wal_path)
        return 0;
    if (sv->wal_fd < 0 && (sv->wal_fd = open(sv->wal_path, O_RDWR | O_CLOEXEC)) < 0)
        return 0;
    if (sync_file_range(sv->wal_fd, 0, 0, SYNC_FILE_RANGE_WRITE) < 0)
        return 0; /* the sync itself will say what is wrong */
    sv->owed = 1;
    return 1;
}

/* A commit's sync failed: stop (the header comment). */
static _Noreturn void sync_failed(struct st_vfs *sv, int e)
{
    log_error("store",
              "stopping: the fdatasync of %s after a commit failed: %s. The commit may or may "
              "not be on disk, so its writes can be neither acknowledged nor reported lost; a "
              "restart recovers what the disk holds",
              sv->wal_path ? sv->wal_path : "the WAL", strerror(e));
    abort();
}

static int f_sync(sqlite3_file *f, int flags)
{
    struct cnt_file *c = (struct cnt_file *)f;
    struct st_vfs *sv = c->owner;
    if (c->peer_wal) {
        if (wal_covered(sv)) {
            atomic_fetch_add(&sv->syncs_skipped, 1);
            return SQLITE_OK;
        }
        atomic_fetch_add(&sv->peer_syncs, 1);
        return REAL(f)->pMethods->xSync(REAL(f), flags);
    }
    int rc = flush(f);
    if (rc != SQLITE_OK)
        return rc;
    int commit = c->commit_done;
    c->commit_done = 0;
    /* not a commit's: a checkpoint's, or the WAL header's (whose write makes it real); not the
     * file's first either, which the unix VFS follows with its directory's */
    if (c->wal && !commit && c->synced && wal_covered(sv)) {
        atomic_fetch_add(&sv->syncs_skipped, 1);
        return SQLITE_OK;
    }
    if (commit && defer_sync(c))
        return SQLITE_OK;
    if (commit && sv->fail_sync)
        sync_failed(sv, EIO);
    uint64_t writes = atomic_load(&sv->wal_writes);
    errno = 0;
    rc = REAL(f)->pMethods->xSync(REAL(f), flags);
    if (rc == SQLITE_OK) {
        sv->syncs++;
        c->synced = 1;
        if (c->wal)
            wal_sync_done(sv, writes);
    } else if (commit) {
        sync_failed(sv, errno ? errno : EIO);
    }
    return rc;
}
static int f_size(sqlite3_file *f, sqlite3_int64 *out)
{
    int rc = flush(f);
    return rc != SQLITE_OK ? rc : REAL(f)->pMethods->xFileSize(REAL(f), out);
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
    int rc = flush(f); /* a size hint, a persistent-WAL question: after what is held */
    return rc != SQLITE_OK ? rc : REAL(f)->pMethods->xFileControl(REAL(f), op, arg);
}
static int f_sector(sqlite3_file *f)
{
    return REAL(f)->pMethods->xSectorSize(REAL(f));
}
static int f_devchar(sqlite3_file *f)
{
    return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f));
}
/* The guard of the header comment: nothing a published commit needs stays held. */
static void flush_wal_of(sqlite3_file *f)
{
    if (((struct cnt_file *)f)->peer)
        return; /* the checkpoint thread's: the loop's held writes are the loop's */
    struct cnt_file *w = ((struct cnt_file *)f)->owner->wal;
    if (w && w->held_len && flush(&w->base) != SQLITE_OK)
        log_error("store", "writing held WAL frames before a shm barrier or lock failed");
}
static int f_shm_map(sqlite3_file *f, int pg, int pgsz, int extend, void volatile **out)
{
    return REAL(f)->pMethods->xShmMap(REAL(f), pg, pgsz, extend, out);
}
static int f_shm_lock(sqlite3_file *f, int off, int n, int flags)
{
    flush_wal_of(f);
    return REAL(f)->pMethods->xShmLock(REAL(f), off, n, flags);
}
static void f_shm_barrier(sqlite3_file *f)
{
    flush_wal_of(f);
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

/* One table per iVersion ST_SQLITE_VFS's files may have: a method the real file lacks must be
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
    struct st_vfs *sv = vfs->pAppData;
    struct cnt_file *f = (struct cnt_file *)file;
    f->real = (sqlite3_file *)(f + 1);
    f->owner = sv;
    f->base.pMethods = NULL;
    f->peer = vfs == &sv->peer_vfs;
    f->wal = !f->peer && (flags & SQLITE_OPEN_WAL) != 0;
    f->peer_wal = f->peer && (flags & SQLITE_OPEN_WAL) != 0;
    f->commit_page = 0;
    f->commit_done = 0;
    f->synced = 0;
    f->held = NULL;
    f->held_len = f->held_cap = 0;
    f->held_off = 0;
    int rc = sv->real->xOpen(sv->real, name, f->real, flags, out_flags);
    if (rc == SQLITE_OK && f->wal) {
        sv->wal = f;
        if (!sv->wal_path && name)
            sv->wal_path = vr_strdup(name);
    }
    if (f->real->pMethods) {
        int v = f->real->pMethods->iVersion;
        f->base.pMethods = &io_methods[(v < 1 ? 1 : v > 3 ? 3 : v) - 1];
    }
    return rc;
}

/* The other VFS methods take the sqlite3_vfs pointer; forward them with the real one. */
static int v_delete(sqlite3_vfs *vfs, const char *name, int sync_dir)
{
    sqlite3_vfs *r = ((struct st_vfs *)vfs->pAppData)->real;
    return r->xDelete(r, name, sync_dir);
}
static int v_access(sqlite3_vfs *vfs, const char *name, int flags, int *out)
{
    sqlite3_vfs *r = ((struct st_vfs *)vfs->pAppData)->real;
    return r->xAccess(r, name, flags, out);
}
static int v_full_path(sqlite3_vfs *vfs, const char *name, int n, char *out)
{
    sqlite3_vfs *r = ((struct st_vfs *)vfs->pAppData)->real;
    return r->xFullPathname(r, name, n, out);
}
static void *v_dl_open(sqlite3_vfs *vfs, const char *name)
{
    sqlite3_vfs *r = ((struct st_vfs *)vfs->pAppData)->real;
    return r->xDlOpen(r, name);
}
static void v_dl_error(sqlite3_vfs *vfs, int n, char *msg)
{
    sqlite3_vfs *r = ((struct st_vfs *)vfs->pAppData)->real;
    r->xDlError(r, n, msg);
}
static void (*v_dl_sym(sqlite3_vfs *vfs, void *h, const char *sym))(void)
{
    sqlite3_vfs *r = ((struct st_vfs *)vfs->pAppData)->real;
    return r->xDlSym(r, h, sym);
}
static void v_dl_close(sqlite3_vfs *vfs, void *h)
{
    sqlite3_vfs *r = ((struct st_vfs *)vfs->pAppData)->real;
    r->xDlClose(r, h);
}
static int v_random(sqlite3_vfs *vfs, int n, char *out)
{
    sqlite3_vfs *r = ((struct st_vfs *)vfs->pAppData)->real;
    return r->xRandomness(r, n, out);
}
static int v_sleep(sqlite3_vfs *vfs, int us)
{
    sqlite3_vfs *r = ((struct st_vfs *)vfs->pAppData)->real;
    return r->xSleep(r, us);
}
static int v_time(sqlite3_vfs *vfs, double *out)
{
    sqlite3_vfs *r = ((struct st_vfs *)vfs->pAppData)->real;
    return r->xCurrentTime(r, out);
}
static int v_last_error(sqlite3_vfs *vfs, int n, char *out)
{
    sqlite3_vfs *r = ((struct st_vfs *)vfs->pAppData)->real;
    return r->xGetLastError ? r->xGetLastError(r, n, out) : 0;
}
static int v_time64(sqlite3_vfs *vfs, sqlite3_int64 *out)
{
    sqlite3_vfs *r = ((struct st_vfs *)vfs->pAppData)->real;
    return r->xCurrentTimeInt64(r, out);
}

/* Fills v as a wrapper of sv->real named name. */
static void vfs_init(struct st_vfs *sv, sqlite3_vfs *v, const char *name)
{
    sqlite3_vfs *real = sv->real;
    v->iVersion = real->iVersion < 2 ? real->iVersion : 2;
    v->szOsFile = (int)sizeof(struct cnt_file) + real->szOsFile;
    v->mxPathname = real->mxPathname;
    v->zName = name;
    v->pAppData = sv;
    v->xOpen = v_open;
    v->xDelete = v_delete;
    v->xAccess = v_access;
    v->xFullPathname = v_full_path;
    v->xDlOpen = real->xDlOpen ? v_dl_open : NULL;
    v->xDlError = real->xDlError ? v_dl_error : NULL;
    v->xDlSym = real->xDlSym ? v_dl_sym : NULL;
    v->xDlClose = real->xDlClose ? v_dl_close : NULL;
    v->xRandomness = v_random;
    v->xSleep = v_sleep;
    v->xCurrentTime = v_time;
    v->xGetLastError = v_last_error;
    if (v->iVersion >= 2)
        v->xCurrentTimeInt64 = v_time64;
}

const char *st_vfs_register(struct store *s)
{
    sqlite3_vfs *real = sqlite3_vfs_find(ST_SQLITE_VFS);
    if (!real)
        return NULL;
    struct st_vfs *sv = vr_calloc(1, sizeof *sv);
    sv->real = real;
    sv->wal_fd = -1;
    snprintf(sv->name, sizeof sv->name, "vireo-count-%p", (void *)sv);
    snprintf(sv->peer_name, sizeof sv->peer_name, "vireo-ckpt-%p", (void *)sv);
    vfs_init(sv, &sv->vfs, sv->name);
    vfs_init(sv, &sv->peer_vfs, sv->peer_name);
    if (sqlite3_vfs_register(&sv->vfs, 0) != SQLITE_OK) {
        vr_free(sv);
        return NULL;
    }
    if (sqlite3_vfs_register(&sv->peer_vfs, 0) != SQLITE_OK) {
        sqlite3_vfs_unregister(&sv->vfs);
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
    if (s->vfs->wal_fd >= 0)
        close(s->vfs->wal_fd);
    vr_free(s->vfs->wal_path);
    sqlite3_vfs_unregister(&s->vfs->peer_vfs);
    sqlite3_vfs_unregister(&s->vfs->vfs);
    vr_free(s->vfs);
    s->vfs = NULL;
}

const char *st_vfs_peer_name(const struct store *s)
{
    return s->vfs ? s->vfs->peer_name : ST_SQLITE_VFS;
}

void st_vfs_wal_syncs(const struct store *s, uint64_t *skipped, uint64_t *peer_made)
{
    *skipped = s->vfs ? atomic_load(&s->vfs->syncs_skipped) : 0;
    *peer_made = s->vfs ? atomic_load(&s->vfs->peer_syncs) : 0;
}

uint64_t store_sync_count(const struct store *s)
{
    return s->vfs ? s->vfs->syncs : 0;
}

void st_vfs_defer(struct store *s, int on)
{
    if (s->vfs)
        s->vfs->defer = on;
}

void st_vfs_sync_wait(struct store *s)
{
    struct st_vfs *sv = s->vfs;
    if (!sv || !sv->owed)
        return;
    sv->owed = 0;
    if (sv->fail_sync)
        sync_failed(sv, EIO);
    uint64_t writes = atomic_load(&sv->wal_writes);
    if (fdatasync(sv->wal_fd) < 0)
        sync_failed(sv, errno);
    sv->syncs++;
    wal_sync_done(sv, writes);
}

void st_vfs_fail_sync(struct store *s)
{
    if (s->vfs)
        s->vfs->fail_sync = 1;
}

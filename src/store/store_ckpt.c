/* store_ckpt: checkpoints the WAL from a thread of its own, on a connection of its own, so that
 * the loop thread's commits do not pay for copying pages back into the database and syncing it
 * (SQLite's auto-checkpoint runs inside whichever commit crosses the threshold: a latency spike
 * for every client of that batch), but for the few frames wal_grew copies once per
 * WAL_RESTART_FRAMES (below). A PASSIVE checkpoint never blocks the writer.
 *
 * Copying the frames back does not by itself keep the WAL small: SQLite writes it from its start
 * again only when a write transaction begins while every frame has been copied back. Under
 * steady writes the thread's pass almost always overlaps a batch (whose frames appear when its
 * sync returns), so the WAL grew to SQLite's auto-checkpoint (then 20,000 frames, ~80 MB), and
 * until then every commit appended to the file, whose sync then also wrote its new size. So the
 * loop thread checkpoints too, once the WAL has grown past each further WAL_RESTART_FRAMES
 * (wal_grew), and the next batch, which begins with nothing left to copy, restarts the WAL. That
 * checkpoint copies and syncs on the loop thread, every client of the batch waiting: so it first
 * wakes the thread for a pass at once, and checkpoints after the commit that follows the end of
 * that pass, when only the frames of the commits made during the pass are left (a few pages and
 * a small sync; at the 200 ms interval it found ~130 pages and stalled the loop 5-10 ms). */
#include <stdatomic.h>
#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/log.h"
#include "base/mem.h"
#include "store/store_int.h"
#include "base/banned.h"

#define CKPT_INTERVAL_MS 200
/* the WAL growth (in frames, ~4 KiB each) after which the loop thread checkpoints */
#define WAL_RESTART_FRAMES 4096

struct st_ckpt {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;
    char *path;
    int wal_ckpt_at; /* the loop thread's: the WAL size that makes wal_grew checkpoint */
    int waiting;     /* the loop thread's: it woke the thread and waits for its pass to end */
    int wait_until;  /* ... but not past this WAL size (a thread that stopped passing) */
    unsigned long asked; /* ... the count of passes when it woke it */
    atomic_ulong passes; /* the thread's passes so far */
};

/* SQLite's WAL hook, on the loop thread after every commit that wrote frames; `frames` is the
 * WAL's size. It replaces SQLite's auto-checkpoint, which checkpoints after every commit once
 * the WAL is past its threshold: when readers' snapshots keep the WAL from restarting, that
 * would be a checkpoint (and a database sync) per commit. This one waits for another
 * WAL_RESTART_FRAMES of growth, then for the end of the pass it asks the thread for (or for
 * another WAL_RESTART_FRAMES, should the thread not pass). */
static int wal_grew(void *arg, sqlite3 *db, const char *name, int frames)
{
    struct st_ckpt *k = arg;
    if (frames < k->wal_ckpt_at - WAL_RESTART_FRAMES) { /* restarted */
        k->wal_ckpt_at = frames + WAL_RESTART_FRAMES;
        k->waiting = 0;
    }
    if (frames < k->wal_ckpt_at)
        return SQLITE_OK;
    if (!k->waiting) {
        /* the thread copies nearly everything, off this thread, in a pass that starts now */
        k->waiting = 1;
        k->wait_until = frames + WAL_RESTART_FRAMES;
        k->asked = atomic_load(&k->passes);
        pthread_mutex_lock(&k->mu);
        pthread_cond_signal(&k->cv);
        pthread_mutex_unlock(&k->mu);
        return SQLITE_OK;
    }
    if (atomic_load(&k->passes) == k->asked && frames < k->wait_until)
        return SQLITE_OK; /* its pass has not ended: after a later commit */
    int rc = sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    if (rc == SQLITE_BUSY) { /* the thread began another pass: after its end, then */
        k->asked = atomic_load(&k->passes);
        return SQLITE_OK;
    }
    k->waiting = 0;
    k->wal_ckpt_at = frames + WAL_RESTART_FRAMES;
    if (rc != SQLITE_OK && rc != SQLITE_BUSY && rc != SQLITE_LOCKED)
        log_warn("store", "checkpoint of \"%s\" on the loop thread failed: %s", k->path,
                 sqlite3_errmsg(db));
    return SQLITE_OK; /* a failed checkpoint is not the commit's failure */
}

static void *ckpt_main(void *arg)
{
    struct st_ckpt *k = arg;
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(k->path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, ST_SQLITE_VFS) !=
        SQLITE_OK) {
        log_error("store", "checkpoint thread cannot open \"%s\": %s", k->path,
                  db ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_close(db);
        return NULL;
    }
    sqlite3_busy_timeout(db, 100);
    /* a connection learns that the file is in WAL mode on its first read */
    sqlite3_exec(db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL);
    pthread_mutex_lock(&k->mu);
    while (!k->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += CKPT_INTERVAL_MS * 1000000L;
        ts.tv_sec += ts.tv_nsec / 1000000000L;
        ts.tv_nsec %= 1000000000L;
        pthread_cond_timedwait(&k->cv, &k->mu, &ts);
        if (k->stop)
            break;
        pthread_mutex_unlock(&k->mu);
        int log_frames = 0, done = 0;
        int rc = sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log_frames, &done);
        if (rc != SQLITE_OK && rc != SQLITE_BUSY && rc != SQLITE_LOCKED)
            log_warn("store", "checkpoint of \"%s\" failed: %s", k->path, sqlite3_errmsg(db));
        atomic_fetch_add(&k->passes, 1);
        pthread_mutex_lock(&k->mu);
    }
    pthread_mutex_unlock(&k->mu);
    sqlite3_close(db);
    return NULL;
}

int st_ckpt_start(struct store *s, const char *path, struct buf *err)
{
    struct st_ckpt *k = vr_calloc(1, sizeof *k);
    k->path = vr_strdup(path);
    k->wal_ckpt_at = WAL_RESTART_FRAMES;
    pthread_mutex_init(&k->mu, NULL);
    pthread_cond_init(&k->cv, NULL);
    int rc = pthread_create(&k->thread, NULL, ckpt_main, k);
    if (rc != 0) {
        pthread_cond_destroy(&k->cv);
        pthread_mutex_destroy(&k->mu);
        vr_free(k->path);
        vr_free(k);
        return buf_fail(err, "cannot start the checkpoint thread: %s", strerror(rc));
    }
    s->ckpt = k;
    sqlite3_wal_hook(s->db, wal_grew, k);
    return 0;
}

void st_ckpt_stop(struct store *s)
{
    struct st_ckpt *k = s->ckpt;
    if (!k)
        return;
    sqlite3_wal_hook(s->db, NULL, NULL);
    pthread_mutex_lock(&k->mu);
    k->stop = 1;
    pthread_cond_signal(&k->cv);
    pthread_mutex_unlock(&k->mu);
    pthread_join(k->thread, NULL);
    pthread_cond_destroy(&k->cv);
    pthread_mutex_destroy(&k->mu);
    vr_free(k->path);
    vr_free(k);
    s->ckpt = NULL;
}

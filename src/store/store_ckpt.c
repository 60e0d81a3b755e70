/* store_ckpt: checkpoints the WAL from a thread of its own, on a connection of its own, so that
 * the loop thread's commits do not pay for copying pages back into the database and syncing it
 * (SQLite's auto-checkpoint runs inside whichever commit crosses the threshold: a latency spike
 * for every client of that batch), but for the last few frames before each restart of the WAL.
 * A PASSIVE checkpoint never blocks the writer.
 *
 * Copying the frames back does not by itself keep the WAL small: SQLite writes it from its start
 * again only when a write transaction begins while every frame has been copied back. Under
 * steady writes the loop begins its next batch right after each commit, so a pass of the thread
 * (a copy and a database sync, milliseconds) can never end in that gap, and the WAL would grow
 * to SQLite's auto-checkpoint (then 20,000 frames, ~80 MB) with every commit appending to the
 * file, whose sync then also wrote its new size. So once the WAL has grown by WAL_RESTART_FRAMES
 * (wal_grew), the thread passes back to back, each pass copying what the commits made during the
 * last one, until what is left is at most CKPT_REMAINDER_FRAMES; the loop thread then copies
 * those itself after its commit, and the next batch, which begins with nothing left to copy,
 * restarts the WAL. The loop's copy and sync are then a few pages (a single pass asked of the
 * thread left it 26-50 pages and a 1-18 ms database sync: mutations' p99). Should the thread not
 * get there (commits outpacing its passes, or readers keeping it from copying), the loop copies
 * whatever is left after another CKPT_TAKEOVER_FRAMES: it stops the thread's passes first, or
 * a thread always in a pass would keep the loop's checkpoint busy and the WAL growing. */
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
/* the WAL growth (in frames, ~4 KiB each) after which the WAL is brought to a restart */
#define WAL_RESTART_FRAMES 4096
/* the WAL growth after which the loop thread wakes the thread for a pass before its interval
 * ends: a pass that copies what a few milliseconds of steady commits wrote syncs the database in
 * well under a millisecond, where one every 200 ms synced for several, and the loop's own WAL
 * syncs queued behind it on the disk (mutations' p99) */
#define CKPT_STEP_FRAMES 512
/* what the thread leaves for the loop thread to copy before a restart */
#define CKPT_REMAINDER_FRAMES 64
/* the further growth after which the loop thread copies whatever the thread has left (its
 * passes may never get under CKPT_REMAINDER_FRAMES while commits outpace them) */
#define CKPT_TAKEOVER_FRAMES 1024
/* passes in a row that copy nothing (the loop idle, or readers holding the WAL) before the
 * thread stops passing back to back; the pause between them, in µs */
#define CKPT_IDLE_PASSES 20
#define CKPT_IDLE_PAUSE_US 1000

struct st_ckpt {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;
    char *path;
    const char *vfs;       /* the store's peer VFS (store_vfs.c), registered past st_ckpt_stop */
    int wal_ckpt_at;       /* the loop thread's: the WAL size that brings it to a restart */
    int waiting;           /* the loop thread's: it asked the thread to pass back to back */
    int wait_until;        /* ... but not past this WAL size (a thread that falls behind) */
    atomic_int restart;    /* set by the loop thread while it waits for the thread's passes */
    atomic_int backfilled; /* the thread's: the frames copied back at the end of its last pass */
    int kicked_at; /* the loop thread's: the WAL size when it last woke the thread for a pass */
    int defer;     /* the loop thread's: commits' WAL hooks wait for st_ckpt_synced */
    int pending;   /* ... the WAL size of the last one that waits (0: none) */
};

/* Wakes the thread for a pass now. A wake-up while it is in a pass is lost: the next one, its
 * timer, or the restart flag it reads after each pass brings the next. */
static void ckpt_wake(struct st_ckpt *k)
{
    pthread_mutex_lock(&k->mu);
    pthread_cond_signal(&k->cv);
    pthread_mutex_unlock(&k->mu);
}

/* What the loop thread does after a commit that wrote frames; `frames` is the WAL's size. It
 * replaces SQLite's auto-checkpoint, which checkpoints after every commit once the WAL is past
 * its threshold: when readers' snapshots keep the WAL from restarting, that would be a
 * checkpoint (and a database sync) per commit. */
static void after_commit(struct st_ckpt *k, sqlite3 *db, const char *name, int frames)
{
    if (frames < k->wal_ckpt_at - WAL_RESTART_FRAMES) { /* restarted */
        k->wal_ckpt_at = frames + WAL_RESTART_FRAMES;
        k->kicked_at = 0;
        if (k->waiting) { /* by a pass of the thread that ended while the loop was idle */
            k->waiting = 0;
            atomic_store(&k->restart, 0);
        }
    }
    if (frames < k->wal_ckpt_at) {
        if (frames - k->kicked_at >= CKPT_STEP_FRAMES) {
            k->kicked_at = frames;
            ckpt_wake(k);
        }
        return;
    }
    if (!k->waiting) {
        /* the thread copies nearly everything, off this thread, in passes that start now */
        k->waiting = 1;
        k->wait_until = frames + CKPT_TAKEOVER_FRAMES;
        atomic_store(&k->backfilled, 0);
        atomic_store(&k->restart, 1);
        ckpt_wake(k);
        return;
    }
    if (frames - atomic_load(&k->backfilled) > CKPT_REMAINDER_FRAMES && frames < k->wait_until)
        return; /* the thread's passes have more to copy */
    /* the thread starts no further pass, so that the one it may be in is its last */
    atomic_store(&k->restart, 0);
    int rc = sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    if (rc == SQLITE_BUSY) /* the thread is in a pass: after a later commit, then */
        return;
    /* the next batch restarts the WAL, unless a reader's snapshot holds it */
    k->waiting = 0;
    k->wal_ckpt_at = frames + WAL_RESTART_FRAMES;
    if (rc != SQLITE_OK && rc != SQLITE_LOCKED)
        log_warn("store", "checkpoint of \"%s\" on the loop thread failed: %s", k->path,
                 sqlite3_errmsg(db));
}

/* SQLite's WAL hook, on the loop thread after every commit that wrote frames. After a commit
 * whose sync is deferred (st_ckpt_defer), what it would do waits for st_ckpt_synced: a pass of
 * the checkpoint thread that began before the sync ended would have to sync the WAL itself
 * (store_vfs.c), which the loop's sync makes redundant once it has returned. */
static int wal_grew(void *arg, sqlite3 *db, const char *name, int frames)
{
    struct st_ckpt *k = arg;
    k->pending = k->defer ? frames : 0;
    if (!k->defer)
        after_commit(k, db, name, frames);
    return SQLITE_OK; /* a failed checkpoint is not the commit's failure */
}

void st_ckpt_defer(struct store *s, int on)
{
    if (s->ckpt)
        s->ckpt->defer = on;
}

void st_ckpt_synced(struct store *s)
{
    struct st_ckpt *k = s->ckpt;
    if (!k || !k->pending || !sqlite3_get_autocommit(s->db))
        return; /* (a transaction open: the next commit's hook, then) */
    int frames = k->pending;
    k->pending = 0;
    after_commit(k, s->db, "main", frames);
}

/* One PASSIVE checkpoint on the thread's connection; returns how many frames it copied back
 * beyond `*last_done` (the previous pass's), which it updates: 0 when it copied nothing (the
 * loop idle, or readers holding the frames), -1 when it could not run. */
static int ckpt_pass(struct st_ckpt *k, sqlite3 *db, int *last_done)
{
    int log_frames = 0, done = 0;
    int rc = sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log_frames, &done);
    if (rc != SQLITE_OK) {
        if (rc != SQLITE_BUSY && rc != SQLITE_LOCKED)
            log_warn("store", "checkpoint of \"%s\" failed: %s", k->path, sqlite3_errmsg(db));
        return -1;
    }
    atomic_store(&k->backfilled, done);
    int copied = done > *last_done ? done - *last_done : done < *last_done ? done : 0;
    *last_done = done;
    return copied;
}

static void *ckpt_main(void *arg)
{
    struct st_ckpt *k = arg;
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(k->path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, k->vfs) !=
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
        int last_done = 0, idle = 0;
        ckpt_pass(k, db, &last_done);
        /* back to back while the loop thread waits for a restart: each pass copies what the
         * commits made during the previous one, until that is few enough for the loop thread
         * (which must find the thread out of its pass to take them) */
        while (atomic_load(&k->restart) && idle < CKPT_IDLE_PASSES) {
            pthread_mutex_lock(&k->mu);
            int stop = k->stop;
            pthread_mutex_unlock(&k->mu);
            if (stop)
                break;
            int copied = ckpt_pass(k, db, &last_done);
            if (copied > 0 && copied <= CKPT_REMAINDER_FRAMES)
                break;
            if (copied > 0) {
                idle = 0;
                continue;
            }
            idle++;
            struct timespec pause = { 0, CKPT_IDLE_PAUSE_US * 1000L };
            nanosleep(&pause, NULL);
        }
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
    k->vfs = st_vfs_peer_name(s);
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

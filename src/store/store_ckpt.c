/* store_ckpt: checkpoints the WAL from a thread of its own, on a connection of its own, so that
 * the loop thread's commits never pay for copying pages back into the database and syncing it
 * (SQLite's auto-checkpoint runs inside whichever commit crosses the threshold: a latency spike
 * for every client of that batch). A PASSIVE checkpoint never blocks the writer. */
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

struct st_ckpt {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;
    char *path;
};

static void *ckpt_main(void *arg)
{
    struct st_ckpt *k = arg;
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(k->path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
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
        pthread_mutex_lock(&k->mu);
    }
    pthread_mutex_unlock(&k->mu);
    sqlite3_close(db);
    return NULL;
}

int st_ckpt_start(struct store *s, const char *path, struct buf *err)
{
    /* A backstop only: the thread normally keeps the WAL far below this. */
    if (st_exec(s, "PRAGMA wal_autocheckpoint=20000", err) < 0)
        return -1;
    struct st_ckpt *k = vr_calloc(1, sizeof *k);
    k->path = vr_strdup(path);
    pthread_mutex_init(&k->mu, NULL);
    pthread_cond_init(&k->cv, NULL);
    int rc = pthread_create(&k->thread, NULL, ckpt_main, k);
    if (rc != 0) {
        pthread_cond_destroy(&k->cv);
        pthread_mutex_destroy(&k->mu);
        vr_free(k->path);
        vr_free(k);
        return st_fail(err, "cannot start the checkpoint thread: %s", strerror(rc));
    }
    s->ckpt = k;
    return 0;
}

void st_ckpt_stop(struct store *s)
{
    struct st_ckpt *k = s->ckpt;
    if (!k)
        return;
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

/* floor_wal: a file written like SQLite's WAL in its steady state (floor.h): created at a fixed
 * size and synced once, then each commit overwrites the next WAL-frame-sized record in place and
 * fdatasyncs it, so a sync flushes data only, never the file's size (appending would make every
 * fdatasync also write the inode, which a reused WAL does not). */
#include "floor.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/banned.h"

int floor_wal_open(struct floor_wal *w, const char *dir, char *err, size_t errlen)
{
    static char zero[1 << 16];
    memset(w, 0, sizeof *w);
    w->fd = -1;
    int n = snprintf(w->path, sizeof w->path, "%s/floor-wal-%d.tmp", dir, (int)getpid());
    if (n < 0 || (size_t)n >= sizeof w->path) {
        snprintf(err, errlen, "directory name too long: %.200s", dir);
        return -ENAMETOOLONG;
    }
    w->fd = open(w->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (w->fd < 0) {
        int e = errno;
        snprintf(err, errlen, "open %.400s: %s", w->path, strerror(e));
        return -e;
    }
    for (size_t off = 0; off < FLOOR_WAL_SIZE;) {
        ssize_t r = pwrite(w->fd, zero, sizeof zero, (off_t)off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            goto fail;
        off += (size_t)r;
    }
    if (fsync(w->fd) < 0)
        goto fail;
    return 0;
fail:;
    int e = errno ? errno : EIO;
    snprintf(err, errlen, "preparing %.400s: %s", w->path, strerror(e));
    floor_wal_close(w);
    return -e;
}

int floor_wal_commit(struct floor_wal *w)
{
    static char rec[SYNC_APPEND];
    rec[0] = 'w';
    if (w->off + sizeof rec > FLOOR_WAL_SIZE)
        w->off = 0; /* wrap, as a WAL restarts after a checkpoint */
    for (size_t done = 0; done < sizeof rec;) {
        ssize_t r = pwrite(w->fd, rec + done, sizeof rec - done, (off_t)(w->off + done));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return r < 0 ? -errno : -EIO;
        done += (size_t)r;
    }
    w->off += sizeof rec;
    w->commits++;
    return fdatasync(w->fd) < 0 ? -errno : 0;
}

void floor_wal_close(struct floor_wal *w)
{
    if (w->fd >= 0) {
        close(w->fd);
        unlink(w->path);
    }
    w->fd = -1;
}

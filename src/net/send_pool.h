/* send_pool: the loop thread's helpers for one large flush of socket writes (fan-out of a
 * commit batch's transitions to many subscribers), fork-join. The loop hands a list of write
 * jobs (an fd and read-only bytes) to send_pool_run, which splits it into chunks taken by the
 * pool's worker threads and by the loop itself, and returns once every job is done (each job
 * exactly once). Workers touch only their jobs' fds, the jobs' bytes (read) and the jobs' result
 * fields; nothing else runs on the loop until send_pool_run returns.
 *
 * The batch (send_pool_begin/end, send_batch.c): between them, a WebSocket write to a connection
 * with nothing queued is copied into its output buffer instead of written; send_pool_end writes
 * every such connection's output with send_pool_run and then, on the loop alone, handles each
 * result as a write would have been handled at once (a short write or EAGAIN leaves the rest
 * queued and arms EPOLLOUT; an error closes the connection). */
#ifndef VR_NET_SEND_POOL_H
#define VR_NET_SEND_POOL_H

#include <stddef.h>

#include "base/buf.h"

#define SEND_POOL_MAX_THREADS 16
/* Below this many jobs send_pool_run does them on the calling thread alone. */
#define SEND_POOL_MIN_JOBS 256

struct send_pool;

struct send_job {
    int fd;
    const char *p; /* borrowed, read-only until send_pool_run returns */
    size_t len;
    size_t done; /* OUT: bytes the socket took */
    int err;     /* OUT: 0, or the errno that ended the job (not EAGAIN: that is done < len) */
};

/* threads: the threads that write during a large flush, the loop's own included (1..16; 1: no
 * worker, everything on the loop). NULL with err set when a thread cannot be started. */
struct send_pool *send_pool_new(unsigned threads, struct buf *err);
/* Joins the workers. NULL is fine. Not during a batch. */
void send_pool_free(struct send_pool *p);
unsigned send_pool_threads(const struct send_pool *p);

/* Writes each job's bytes with non-blocking sends until done, EAGAIN or an error. Below
 * min_jobs jobs (or with one thread) on the caller alone; else split over the workers and the
 * caller, which waits for them. */
void send_pool_run(struct send_pool *p, struct send_job *jobs, size_t n, size_t min_jobs);

/* Opens a batch (nested calls count; the outermost end writes). p may be NULL: no batch. */
void send_pool_begin(struct send_pool *p);
void send_pool_end(struct send_pool *p);

#endif

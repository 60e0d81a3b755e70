/* floor: the floor program's shared declarations (bench/ref/floor.c is its main;
 * docs/benchmarks.md, "The floor"). floor_srv.c is `floor serve`: a server speaking just enough of
 * Vireo's sync protocol for the loadgen, which encodes each mutation's frame once and writes it to
 * every subscriber of its channel (plain send(), io_uring, or threads), optionally after a
 * group-committed fdatasync. floor_push.c is `floor push`: the parts of a push (a loopback
 * WebSocket ping-pong, a WAL-like commit: floor_wal.c). Invariants: loopback only; every connection
 * accepted is closed by floor_srv_release; nothing a peer sends grows a buffer past FLOOR_MAX_IN.
 */
#ifndef VR_BENCH_FLOOR_H
#define VR_BENCH_FLOOR_H

#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>
#ifdef HAVE_LIBURING
#include <liburing.h>
#endif

#include "base/buf.h"
#include "../hist.h"

#define FLOOR_MAX_IN (64u << 10) /* a request head or client message, at most */
#define FLOOR_MAX_THREADS 16
#define FLOOR_URING_BATCH 4096u   /* sends per io_uring_enter */
#define SYNC_APPEND 4120          /* one SQLite WAL frame: a 24-byte header and a 4 KiB page */
#define FLOOR_WAL_SIZE (4u << 20) /* the floor's WAL-like file, overwritten in place */

/* A file written like a WAL in its steady state (floor_wal.c). */
struct floor_wal {
    int fd; /* -1: closed */
    size_t off;
    uint64_t commits;
    char path[4200];
};

enum floor_mode { FLOOR_SEND, FLOOR_URING, FLOOR_THREADS };

struct fconn {
    int fd;
    int ws;      /* upgraded to a WebSocket */
    int sub;     /* in the subscriber list */
    int closing; /* close after the current dispatch (set by a failed send, maybe off-thread) */
    int want_out;
    size_t sub_idx;   /* its slot in subs when sub */
    char channel[32]; /* the subscription's args.channel ("" if none) */
    struct buf in;
    struct buf out; /* bytes the kernel did not take yet */
};

struct floor_srv;

struct floor_worker {
    struct floor_srv *s;
    pthread_t th;
    size_t lo, hi; /* the share of subs this worker writes, set per broadcast */
};

struct floor_srv {
    int lfd, epfd;
    int port;
    enum floor_mode mode;
    int nthreads;
    struct fconn **byfd; /* indexed by fd */
    size_t capfd;
    struct fconn **subs;
    size_t nsubs, capsubs;
    struct fconn **to; /* a broadcast's recipients: subs, or match */
    size_t nto;
    struct fconn **match; /* the subscribers of one channel when they are not all on it */
    size_t capmatch;
    int mixed;            /* subscribers are on more than one channel */
    struct floor_wal wal; /* --sync-dir: one commit per loop iteration with mutations; fd -1: off */
    uint64_t http_answers;
    struct pend {
        struct fconn *c;
        long req;
        size_t off, len; /* its args in pend_args */
        int rpc;         /* an actor rpc (its answer carries the counter), not a mutation */
    } * pend;            /* mutations and rpcs waiting for this iteration's sync */
    uint64_t counter;    /* the one actor instance's state: rpcs answered */
    size_t npend, cappend;
    struct buf pend_args;
    size_t accepted, closed;
    uint64_t version, broadcasts, sends;
    struct hist bcast; /* time to hand one frame to every subscriber's socket, in the server */
    volatile sig_atomic_t *stop;
    const char *frame; /* the frame being broadcast */
    size_t frame_len;
    struct buf fb;  /* the broadcast frame's bytes */
    struct buf msg; /* scratch */
#ifdef HAVE_LIBURING
    struct io_uring ring;
    int ring_ok;
#endif
    /* --mode threads: workers 1..n-1 (the loop thread is worker 0) */
    struct floor_worker w[FLOOR_MAX_THREADS];
    pthread_mutex_t mu;
    pthread_cond_t go, done;
    uint64_t gen;
    int pending, quit, threads_started;
    char err[256];
};

static inline uint64_t floor_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline double floor_ms(uint64_t ns)
{
    return (double)ns / 1e6;
}

/* Appends one unmasked server frame (RFC 6455 §5.2) with opcode `op` and payload (p, n). */
void floor_ws_frame(struct buf *out, int op, const char *p, size_t n);
/* Parses one client frame at p (n bytes available), unmasking its payload in place. Returns the
 * bytes consumed (*op, *pl, *plen set), 0 if incomplete, -1 if invalid. */
long floor_ws_parse(char *p, size_t n, int *op, char **pl, size_t *plen);
/* Sec-WebSocket-Accept for `key` (§4.2.2) into out[29]. 0 or -1. */
int floor_accept_key(const char *key, size_t len, char out[29]);
/* The extent of the object after `"name":` in (m, n). 0 or -1. */
int floor_json_object(const char *m, size_t n, const char *name, const char **v, size_t *vlen);
/* A listen address in 127.0.0.0/8 or ::1 ("localhost" too). 0, -EINVAL or -EPERM. */
int floor_listen_addr(const char *host, int port, struct sockaddr_storage *ss, socklen_t *len);

/* Listens on host:port (port 0: any; s->port says which); starts the workers of --mode threads.
 * 0 or -errno with a message in s->err; floor_srv_release in either case. */
int floor_srv_init(struct floor_srv *s, const char *host, int port, enum floor_mode mode,
                   int nthreads, volatile sig_atomic_t *stop);
/* --sync-dir: one WAL-like commit (floor_wal.c) per loop iteration with mutations, in dir. */
int floor_srv_sync_dir(struct floor_srv *s, const char *dir);
/* Runs the loop until *stop is set (checked at least every 100 ms). 0 or -errno. */
int floor_srv_run(struct floor_srv *s);
/* Stops the workers, closes every connection, the listener and the sync file (removed). */
void floor_srv_release(struct floor_srv *s);

/* Creates dir/floor-wal-<pid>.tmp at FLOOR_WAL_SIZE and syncs it. 0 or -errno (message in err);
 * floor_wal_close in either case. */
int floor_wal_open(struct floor_wal *w, const char *dir, char *err, size_t errlen);
/* Overwrites the next SYNC_APPEND bytes in place (wrapping) and fdatasyncs. 0 or -errno. */
int floor_wal_commit(struct floor_wal *w);
/* Closes and removes the file (if open). */
void floor_wal_close(struct floor_wal *w);

/* `floor push`: `pings` ping-pongs then `syncs` WAL-like commits in dir, within `seconds`;
 * prints the figures and writes them as JSON to outp (if not NULL). 0, or 1 with a message. */
int floor_push_run(const char *dir, long pings, long syncs, double seconds, const char *outp);

#endif

/* loop: one epoll event loop per thread (Redis's ae, libuv's phases). Each iteration: run due
 * timers, run before-sleep hooks (flush batched work: invalidations, pending socket writes), wait
 * in epoll, dispatch I/O callbacks. Timers live in a min-heap. Not thread-safe. */
#ifndef VR_NET_LOOP_H
#define VR_NET_LOOP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/epoll.h>

struct loop;
struct timer;

typedef void (*loop_io_fn)(struct loop *l, int fd, uint32_t events, void *arg);
typedef void (*loop_timer_fn)(struct loop *l, struct timer *t);
typedef void (*loop_hook_fn)(struct loop *l, void *arg);

/* Embedded in its owner; the loop never frees it. */
struct timer {
    uint64_t when_ms;  /* monotonic deadline */
    size_t heap_index; /* (size_t)-1 while not scheduled */
    loop_timer_fn fn;
    void *arg;
    uint64_t seq;      /* start order; ties on when_ms fire in start order */
};

struct loop *loop_new(void);
void loop_free(struct loop *l);

/* events: EPOLLIN / EPOLLOUT (level-triggered). 0 or -errno. */
int loop_add_fd(struct loop *l, int fd, uint32_t events, loop_io_fn fn, void *arg);
int loop_mod_fd(struct loop *l, int fd, uint32_t events);
int loop_del_fd(struct loop *l, int fd);

void timer_init(struct timer *t, loop_timer_fn fn, void *arg);
/* Fires delay_ms after the cached now (the clock is read afresh outside loop_run). Re-arms if
 * pending. A timer started by a timer callback with delay 0 runs in the next iteration. */
void loop_timer_start(struct loop *l, struct timer *t, uint64_t delay_ms);
void loop_timer_stop(struct loop *l, struct timer *t);
static inline int timer_pending(const struct timer *t) { return t->heap_index != (size_t)-1; }

/* Hooks run in registration order before every epoll_wait. */
void loop_add_before_sleep(struct loop *l, loop_hook_fn fn, void *arg);
void loop_del_before_sleep(struct loop *l, loop_hook_fn fn, void *arg);

/* Blocks SIGINT/SIGTERM and delivers them through a signalfd: fn(l, signo, arg) runs from the
 * loop like any I/O callback. 0 or -errno. */
typedef void (*loop_signal_fn)(struct loop *l, int signo, void *arg);
int loop_watch_signals(struct loop *l, loop_signal_fn fn, void *arg);

uint64_t loop_now_ms(const struct loop *l); /* cached monotonic time of this iteration */
/* Asks for another round of before-sleep hooks before the loop sleeps: for work queued from
 * outside the I/O phase (a deferred answer, a batch opened by a hook). */
void loop_wake(struct loop *l);
int loop_run(struct loop *l);               /* until loop_stop; 0 or -errno */
void loop_stop(struct loop *l);

#endif

/* loop: the epoll event loop. Phases per iteration: update the cached clock, run due timers,
 * run before-sleep hooks, epoll_wait, dispatch I/O. Invariants: fd callbacks are looked up by fd
 * at dispatch time and carry a generation, so an fd removed (or closed and reused) by an earlier
 * callback of the same batch is never dispatched stale events; timers are a binary min-heap
 * ordered by (when_ms, sequence) so equal deadlines fire in start order. */
#include "net/loop.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/mem.h"
#include "base/banned.h"

struct fd_entry {
    loop_io_fn fn;
    void *arg;
    uint32_t gen;
    uint32_t events;
};

struct hook {
    loop_hook_fn fn;
    void *arg;
};

struct loop {
    int epfd;
    int stop;
    int running;
    uint64_t now;
    struct fd_entry *fds;
    size_t nfds;
    uint32_t next_gen;
    struct timer **heap;
    size_t heap_len, heap_cap;
    uint64_t timer_seq;
    struct hook *hooks;
    size_t nhooks;
    int sigfd;
    loop_signal_fn sig_fn;
    void *sig_arg;
    int wake; /* a hook left work for the hooks: run them again before sleeping */
};

struct loop *loop_new(void)
{
    struct loop *l = vr_calloc(1, sizeof *l);
    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (l->epfd < 0) {
        vr_free(l);
        return NULL;
    }
    l->sigfd = -1;
    l->next_gen = 1;
    l->now = clock_mono_ms();
    return l;
}

void loop_free(struct loop *l)
{
    if (!l)
        return;
    if (l->sigfd >= 0)
        close(l->sigfd);
    close(l->epfd);
    vr_free(l->fds);
    vr_free(l->heap);
    vr_free(l->hooks);
    vr_free(l);
}

static int fd_slot(struct loop *l, int fd)
{
    if (fd < 0)
        return -EBADF;
    if ((size_t)fd >= l->nfds) {
        size_t n = l->nfds ? l->nfds : 64;
        while (n <= (size_t)fd)
            n *= 2;
        l->fds = vr_realloc(l->fds, n * sizeof *l->fds);
        memset(l->fds + l->nfds, 0, (n - l->nfds) * sizeof *l->fds);
        l->nfds = n;
    }
    return 0;
}

int loop_add_fd(struct loop *l, int fd, uint32_t events, loop_io_fn fn, void *arg)
{
    int r = fd_slot(l, fd);
    if (r < 0)
        return r;
    struct fd_entry *e = &l->fds[fd];
    uint32_t gen = l->next_gen++;
    struct epoll_event ev = { .events = events };
    ev.data.u64 = (uint64_t)gen << 32 | (uint32_t)fd;
    if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
        return -errno;
    e->fn = fn;
    e->arg = arg;
    e->gen = gen;
    e->events = events;
    return 0;
}

int loop_mod_fd(struct loop *l, int fd, uint32_t events)
{
    if (fd < 0 || (size_t)fd >= l->nfds || !l->fds[fd].fn)
        return -ENOENT;
    struct fd_entry *e = &l->fds[fd];
    if (e->events == events)
        return 0;
    struct epoll_event ev = { .events = events };
    ev.data.u64 = (uint64_t)e->gen << 32 | (uint32_t)fd;
    if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ev) < 0)
        return -errno;
    e->events = events;
    return 0;
}

int loop_del_fd(struct loop *l, int fd)
{
    if (fd < 0 || (size_t)fd >= l->nfds || !l->fds[fd].fn)
        return -ENOENT;
    memset(&l->fds[fd], 0, sizeof l->fds[fd]);
    if (epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL) < 0)
        return -errno;
    return 0;
}

/* ---- timers: binary min-heap of struct timer pointers ---- */

void timer_init(struct timer *t, loop_timer_fn fn, void *arg)
{
    t->when_ms = 0;
    t->heap_index = (size_t)-1;
    t->fn = fn;
    t->arg = arg;
    t->seq = 0;
}

static int timer_less(const struct timer *a, const struct timer *b)
{
    return a->when_ms < b->when_ms || (a->when_ms == b->when_ms && a->seq < b->seq);
}

static void heap_set(struct loop *l, size_t i, struct timer *t)
{
    l->heap[i] = t;
    t->heap_index = i;
}

static void heap_up(struct loop *l, size_t i)
{
    struct timer *t = l->heap[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!timer_less(t, l->heap[parent]))
            break;
        heap_set(l, i, l->heap[parent]);
        i = parent;
    }
    heap_set(l, i, t);
}

static void heap_down(struct loop *l, size_t i)
{
    struct timer *t = l->heap[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= l->heap_len)
            break;
        if (c + 1 < l->heap_len && timer_less(l->heap[c + 1], l->heap[c]))
            c++;
        if (!timer_less(l->heap[c], t))
            break;
        heap_set(l, i, l->heap[c]);
        i = c;
    }
    heap_set(l, i, t);
}

void loop_timer_stop(struct loop *l, struct timer *t)
{
    if (!timer_pending(t))
        return;
    size_t i = t->heap_index;
    t->heap_index = (size_t)-1;
    l->heap_len--;
    if (i == l->heap_len)
        return;
    struct timer *last = l->heap[l->heap_len];
    heap_set(l, i, last);
    heap_down(l, i);
    heap_up(l, last->heap_index);
}

void loop_timer_start(struct loop *l, struct timer *t, uint64_t delay_ms)
{
    loop_timer_stop(l, t);
    if (l->heap_len == l->heap_cap) {
        l->heap_cap = l->heap_cap ? l->heap_cap * 2 : 64;
        l->heap = vr_realloc(l->heap, l->heap_cap * sizeof *l->heap);
    }
    if (!l->running)
        l->now = clock_mono_ms(); /* set up before loop_run: the cached time may be old */
    t->when_ms = l->now + delay_ms;
    t->seq = l->timer_seq++;
    l->heap[l->heap_len] = t;
    t->heap_index = l->heap_len++;
    heap_up(l, t->heap_index);
}

static void run_timers(struct loop *l)
{
    /* A timer started by a callback with delay 0 waits for the next iteration: stop at a
     * sequence number taken before running anything. */
    uint64_t seq_limit = l->timer_seq;
    while (l->heap_len && !l->stop) {
        struct timer *t = l->heap[0];
        if (t->when_ms > l->now || t->seq >= seq_limit)
            break;
        loop_timer_stop(l, t);
        t->fn(l, t);
    }
}

/* ---- hooks, signals, run ---- */

void loop_add_before_sleep(struct loop *l, loop_hook_fn fn, void *arg)
{
    l->hooks = vr_realloc(l->hooks, (l->nhooks + 1) * sizeof *l->hooks);
    l->hooks[l->nhooks++] = (struct hook){ fn, arg };
}

void loop_del_before_sleep(struct loop *l, loop_hook_fn fn, void *arg)
{
    for (size_t i = 0; i < l->nhooks; i++) {
        if (l->hooks[i].fn == fn && l->hooks[i].arg == arg) {
            memmove(&l->hooks[i], &l->hooks[i + 1], (l->nhooks - i - 1) * sizeof *l->hooks);
            l->nhooks--;
            return;
        }
    }
}

static void on_signal(struct loop *l, int fd, uint32_t events, void *arg)
{
    struct signalfd_siginfo si;
    while (read(fd, &si, sizeof si) == (ssize_t)sizeof si) {
        if (l->sig_fn)
            l->sig_fn(l, (int)si.ssi_signo, l->sig_arg);
    }
}

int loop_watch_signals(struct loop *l, loop_signal_fn fn, void *arg)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
        return -errno;
    l->sig_fn = fn;
    l->sig_arg = arg;
    if (l->sigfd >= 0)
        return 0;
    int fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (fd < 0)
        return -errno;
    int r = loop_add_fd(l, fd, EPOLLIN, on_signal, NULL);
    if (r < 0) {
        close(fd);
        return r;
    }
    l->sigfd = fd;
    return 0;
}

uint64_t loop_now_ms(const struct loop *l)
{
    return l->now;
}

void loop_stop(struct loop *l)
{
    l->stop = 1;
}

void loop_wake(struct loop *l)
{
    l->wake = 1;
}

int loop_run(struct loop *l)
{
    struct epoll_event evs[256];
    int r = 0;
    l->stop = 0;
    l->running = 1;
    while (!l->stop) {
        l->now = clock_mono_ms();
        run_timers(l);
        /* A hook may create work for an earlier one (an answer sent by one lets the server
         * parse the next pipelined request, whose answer waits for the next commit): run the
         * hooks again while any of them asks for it, a bounded number of times. */
        int passes = 0;
        do {
            l->wake = 0;
            for (size_t i = 0; i < l->nhooks && !l->stop; i++)
                l->hooks[i].fn(l, l->hooks[i].arg);
        } while (l->wake && !l->stop && ++passes < 16);
        if (l->stop)
            break;
        int timeout = l->wake ? 0 : -1;
        if (l->heap_len) {
            uint64_t now = clock_mono_ms();
            uint64_t when = l->heap[0]->when_ms;
            if (timeout != 0)
                timeout = when <= now ? 0
                                      : (when - now > 86400000u ? 86400000 : (int)(when - now));
        }
        int n = epoll_wait(l->epfd, evs, 256, timeout);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            r = -errno;
            break;
        }
        l->now = clock_mono_ms();
        for (int i = 0; i < n && !l->stop; i++) {
            int fd = (int)(uint32_t)evs[i].data.u64;
            uint32_t gen = (uint32_t)(evs[i].data.u64 >> 32);
            if ((size_t)fd >= l->nfds)
                continue;
            struct fd_entry *e = &l->fds[fd];
            if (!e->fn || e->gen != gen)
                continue;
            e->fn(l, fd, evs[i].events, e->arg);
        }
    }
    l->running = 0;
    return r;
}

/* sched: the due-job timer over the `_scheduled_functions` tables (sched.h). The timer is armed for
 * the earliest pending job; when it fires, one read transaction lists up to per_iteration due jobs
 * (earliest first) and each goes to the run callback, for at most SLICE_NS per iteration; what
 * is left of the list, or more due jobs if the list was full, run in the next loop iteration,
 * after the loop has served I/O. Writes to the table (new
 * jobs, state changes) are seen through write sets and re-arm the timer after their commit. */
#include "sched/sched.h"

#include <math.h>
#include <string.h>

#include "base/clock.h"
#include "base/log.h"
#include "base/mem.h"
#include "store/key.h"

#include "base/banned.h"

/* Jobs of one iteration stop starting after this much time (as well as after per_iteration
 * jobs): a slow machine, or slow jobs, still give clients their turn every ~10 ms. */
#define SLICE_NS (10 * 1000000ull)
/* The timer is armed at most this far ahead (a job may be due in a million years): it then
 * finds nothing due and arms again. */
#define MAX_TIMER_MS (3600 * 1000ull)
/* After a batch that failed to commit (a full disk), due jobs are read again after a pause that
 * doubles from 500 ms to 15 s (Convex's executors' backoff), not at once and forever. */
#define FAIL_BACKOFF_MIN_MS 500u
#define FAIL_BACKOFF_MAX_MS 15000u

struct sched {
    struct loop *loop;
    struct store *store;
    sched_run_fn run;
    void *arg;
    unsigned per_iteration;
    struct timer timer;
    struct buf pending_prefix; /* key.h encoding of "pending": first field of by_state_time */
    uint64_t pending;
    uint64_t started;
    int dirty;                 /* the next due time may have changed */
    int stopped;
    int running;               /* inside on_timer */
    uint64_t hold_until;       /* monotonic ms before which nothing starts (sched_delay) */
    /* The due jobs read last, started in order over one or more iterations. One may have
     * changed since it was read (canceled): running it then fails with STORE_ERR_CHANGED and
     * changes nothing (store_sched_finish), so a stale entry never runs a job twice. */
    struct store_sched_job *due;
    size_t ndue, next;
    int full;                  /* the last read hit per_iteration: more may be due */
    unsigned failed_batches;   /* failed commits in a row */
    int wrote;                 /* the batch being committed changed jobs */
};

static void recount(struct sched *s)
{
    struct buf err = BUF_INIT(4096);
    if (store_sched_count(s->store, "pending", &s->pending, &err) < 0)
        log_error("sched", "counting pending jobs failed: %s", err.data);
    buf_release(&err);
}

static void drop_list(struct sched *s)
{
    store_sched_jobs_free(s->due, s->ndue);
    s->due = NULL;
    s->ndue = s->next = 0;
}

static void on_timer(struct loop *l, struct timer *t)
{
    struct sched *s = t->arg;
    if (s->stopped)
        return;
    if (s->next >= s->ndue) { /* read the next due jobs */
        struct buf err = BUF_INIT(4096);
        drop_list(s);
        struct store_txn *txn = store_txn_begin(s->store, 0, &err);
        if (!txn || store_sched_due(txn, "pending", clock_wall_ms(), s->per_iteration, &s->due,
                                    &s->ndue, &err) < 0) {
            log_error("sched", "reading due jobs failed: %s", err.data);
            if (txn)
                store_txn_abort(txn);
            store_txn_free(txn);
            buf_release(&err);
            loop_timer_start(l, t, 1000);
            return;
        }
        store_txn_commit(txn, NULL, &err);
        store_txn_free(txn);
        buf_release(&err);
        s->full = s->ndue == s->per_iteration;
    }
    s->running = 1;
    uint64_t t0 = clock_mono_ns();
    while (s->next < s->ndue && !s->stopped) {
        s->started++;
        s->run(s->arg, &s->due[s->next++]);
        if (loop_now_ms(l) < s->hold_until)
            break; /* the callback asked for a pause */
        if (clock_mono_ns() - t0 >= SLICE_NS)
            break; /* clients' turn; the rest of the list runs in the next iteration */
    }
    s->running = 0;
    if (loop_now_ms(l) < s->hold_until) {
        drop_list(s); /* read again after the pause: the job that asked for it first */
        loop_timer_start(l, t, s->hold_until - loop_now_ms(l));
    } else if (s->next < s->ndue || s->full)
        loop_timer_start(l, t, 0); /* more may be due: next iteration, after I/O */
    else
        s->dirty = 1; /* sched_flush arms the timer for the next one */
}

struct sched *sched_new(struct loop *l, struct store *st, const struct sched_options *opts,
                        sched_run_fn run, void *arg, struct buf *err)
{
    struct sched *s = vr_calloc(1, sizeof(*s));
    s->loop = l;
    s->store = st;
    s->run = run;
    s->arg = arg;
    s->per_iteration = opts && opts->per_iteration ? opts->per_iteration : 64;
    buf_init(&s->pending_prefix, 256);
    json_t *p = json_string("pending");
    key_encode_value(&s->pending_prefix, p);
    json_decref(p);
    timer_init(&s->timer, on_timer, s);
    if (store_sched_count(st, "pending", &s->pending, err) < 0) {
        sched_free(s);
        return NULL;
    }
    s->dirty = 1;
    return s;
}

void sched_free(struct sched *s)
{
    if (!s)
        return;
    loop_timer_stop(s->loop, &s->timer);
    drop_list(s);
    buf_release(&s->pending_prefix);
    vr_free(s);
}

static int is_pending_key(const struct sched *s, const struct buf *k)
{
    return k->len >= s->pending_prefix.len &&
           !memcmp(k->data, s->pending_prefix.data, s->pending_prefix.len);
}

void sched_writes(struct sched *s, const struct write_set *ws)
{
    for (size_t i = 0; i < ws->len; i++) {
        const struct index_write *w = &ws->writes[i];
        if (!store_sched_is_index(s->store, w->index_id))
            continue;
        int was = is_pending_key(s, &w->old_key), now = is_pending_key(s, &w->new_key);
        if (now && !was)
            s->pending++;
        else if (was && !now && s->pending)
            s->pending--;
        s->dirty = 1;
        s->wrote = 1;
    }
}

void sched_flush(struct sched *s, int batch_failed)
{
    if (batch_failed) {
        recount(s); /* the jobs of the lost batch are pending again: read again after the pause */
        s->dirty = 1;
        unsigned shift = s->failed_batches < 5 ? s->failed_batches : 5;
        uint64_t ms = (uint64_t)FAIL_BACKOFF_MIN_MS << shift;
        s->failed_batches++;
        s->wrote = 0;
        sched_delay(s, ms < FAIL_BACKOFF_MAX_MS ? ms : FAIL_BACKOFF_MAX_MS);
        return;
    }
    if (s->wrote) /* a batch that changed jobs reached the disk: the pauses start over */
        s->failed_batches = s->wrote = 0;
    if (!s->dirty || s->stopped || s->running)
        return;
    uint64_t now = loop_now_ms(s->loop);
    if (now < s->hold_until || (timer_pending(&s->timer) && s->timer.when_ms <= now))
        return; /* held back, or already due in the next iteration */
    s->dirty = 0;
    struct buf err = BUF_INIT(4096);
    double when = 0;
    struct store_txn *txn = store_txn_begin(s->store, 0, &err);
    int found = txn ? store_sched_next(txn, &when, &err) : -1;
    if (found < 0) {
        log_error("sched", "reading the next due job failed: %s", err.data);
        when = clock_wall_ms() + 1000;
    }
    if (txn) {
        store_txn_commit(txn, NULL, &err);
        store_txn_free(txn);
    }
    buf_release(&err);
    if (found == 0) {
        loop_timer_stop(s->loop, &s->timer);
        return;
    }
    /* a time in the past (before 1970 too) is due now; one far ahead re-arms at the cap */
    double delay = ceil(when - clock_wall_ms());
    uint64_t ms = 0;
    if (delay > 0)
        ms = delay < MAX_TIMER_MS ? (uint64_t)delay : MAX_TIMER_MS;
    loop_timer_start(s->loop, &s->timer, ms);
}

void sched_delay(struct sched *s, uint64_t ms)
{
    s->hold_until = loop_now_ms(s->loop) + ms;
    if (!s->running) {
        drop_list(s);
        loop_timer_start(s->loop, &s->timer, ms);
    }
}

void sched_stop(struct sched *s)
{
    s->stopped = 1;
    loop_timer_stop(s->loop, &s->timer);
}

const uint64_t *sched_pending(const struct sched *s)
{
    return &s->pending;
}

uint64_t sched_started(const struct sched *s)
{
    return s->started;
}

uint64_t sched_next_due_ms(const struct sched *s)
{
    return timer_pending(&s->timer) ? s->timer.when_ms : UINT64_MAX;
}

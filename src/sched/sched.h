/* sched: when scheduled functions run. Jobs live in the store's `_scheduled_functions` table
 * (store.h "Scheduled functions"); this module finds the due ones through its by_state_time
 * index and hands them, earliest first, to the run callback from a loop timer, at most
 * `per_iteration` per loop iteration so that a burst of due jobs leaves the rest of the loop
 * (clients) its turn. It keeps the count of pending jobs from the write sets of committed
 * transactions. What running a job means (a mutation in the batch, an action on the pool) is
 * the caller's (proto/jobs.c). Loop thread only. */
#ifndef VR_SCHED_SCHED_H
#define VR_SCHED_SCHED_H

#include <jansson.h>
#include <stdint.h>

#include "net/loop.h"
#include "store/store.h"

struct sched;

/* Runs one due job (as read; borrowed for the call). */
typedef void (*sched_run_fn)(void *arg, const struct store_sched_job *job);

struct sched_options {
    unsigned per_iteration; /* jobs started per loop iteration; default 64 */
};

/* Counts the pending jobs (err on a storage failure). Starts no timer: sched_flush does. */
struct sched *sched_new(struct loop *l, struct store *st, const struct sched_options *opts,
                        sched_run_fn run, void *arg, struct buf *err);
void sched_free(struct sched *s);

/* A committed transaction's write set: keeps the pending count and notes that the next due
 * time may have changed. */
void sched_writes(struct sched *s, const struct write_set *ws);
/* After the before-sleep commit (no batch open): re-reads the next due time if it may have
 * changed and arms the timer; a failed batch (batch_failed) recounts, and due jobs are read
 * again only after a pause (500 ms, doubling to 15 s while batches keep failing). */
void sched_flush(struct sched *s, int batch_failed);
/* Holds the scheduler back for ms (e.g. while the action pool is full); the due jobs are read
 * again after it, earliest first. */
void sched_delay(struct sched *s, uint64_t ms);
/* Stops starting jobs (shutdown). */
void sched_stop(struct sched *s);

/* Pending jobs: the counter itself, for js_options.scheduled. */
const uint64_t *sched_pending(const struct sched *s);
uint64_t sched_started(const struct sched *s); /* jobs handed to the run callback so far */
/* The loop time (loop_now_ms) the timer is armed for: the next due job's, or UINT64_MAX when
 * none is armed (no pending job, or stopped). */
uint64_t sched_next_due_ms(const struct sched *s);

#endif

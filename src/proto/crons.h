/* crons: the cron jobs of crons.ts (Convex's cronJobs()) as jobs of `_scheduled_functions`.
 * Each cron job always has exactly one next job, pending or (an action) running. A mutation's
 * run schedules the one after it in its own batch (so a crash keeps both or neither); an
 * action's run schedules it when it ends, so that at most one run of a job executes at a time
 * (as Convex). The next run is counted from the due time, missed ones skipped — a restart runs a
 * missed job once, late, and never replays every missed run. The state (which job is next, when
 * the last run was due) is durable in _vr_cron. Loop thread only. */
#ifndef VR_PROTO_CRONS_H
#define VR_PROTO_CRONS_H

#include "proto/shard.h"

#define CRONS_MAX 1000 /* cron jobs per app */

struct crons;

struct crons *crons_new(struct shard *s);
void crons_free(struct crons *c);

/* A version about to load: its crons.ts jobs must have valid schedules and name a mutation or
 * action of that version. 0, or -1 with err ("crons.ts: cron job `x`: ..."). */
int crons_check(const struct js_runtime *rt, struct buf *err);

/* After a version loaded (and at start): makes the scheduled jobs match its crons.ts —
 * unchanged jobs keep their next run, changed ones are rescheduled, removed ones canceled. */
void crons_sync(struct crons *c);

/* A due job is about to run: if it is a cron job's next run, returns the cron job's name (valid
 * until the next crons_sync), and for a mutation (!action) schedules the run after it in the
 * current batch; NULL otherwise. */
const char *crons_started(struct crons *c, const struct store_sched_job *job, int action);

/* A cron job's action run (job, due at `due`) ended, or will never run: schedules the run after
 * it, unless a load since gave the cron job another next run. */
void crons_finished(struct crons *c, const char *name, const char *job, double due);

#endif

/* cron: Convex's cron schedules — standard 5-field cron expressions ("m h dom mon dow", UTC) and
 * the interval/hourly/daily/weekly/monthly forms of `cronJobs()` — parsed into a schedule and
 * asked for their next run. Pure functions of their input (no clock, no I/O). */
#ifndef VR_SCHED_CRON_H
#define VR_SCHED_CRON_H

#include <jansson.h>
#include <stdint.h>

#include "base/buf.h"

struct cron_expr {
    uint64_t minutes; /* bit m: minute m (0-59) */
    uint32_t hours;   /* bit h: 0-23 */
    uint32_t dom;     /* bit d: day of month 1-31 */
    uint16_t months;  /* bit m: month 1-12 */
    uint8_t dow;      /* bit d: day of week 0-6, Sunday 0 */
    uint8_t dom_any;  /* the day-of-month field was `*` (or `*` with a step) */
    uint8_t dow_any;
};

/* Parses a 5-field expression: each field a comma list of `*`, `N`, `N-M`, each with an
 * optional `/step`; months JAN-DEC and days SUN-SAT by name too (any case); day of week 0-7
 * (0 and 7 are Sunday). When both day fields are restricted a day matching either runs (as
 * Vixie cron). 0, or -1 with a message naming the field and the bad part in err. */
int cron_parse(const char *expr, struct cron_expr *out, struct buf *err);

/* The first minute (ms since the epoch, UTC) strictly after after_ms that the expression
 * matches; -1 if none in the next 8 years (e.g. "0 0 30 2 *"). */
double cron_next(const struct cron_expr *c, double after_ms);

/* A Convex schedule ({type: "interval", seconds|minutes|hours}, {type: "cron", cron}, hourly,
 * daily, weekly, monthly: cron.js's shapes). */
#define CRON_INTERVAL_MAX_MS 8.64e15 /* 100,000,000 days: the span of a JavaScript Date */
struct cron_schedule {
    double interval_ms; /* > 0: an interval schedule */
    struct cron_expr expr;
};
int cron_schedule_parse(const json_t *schedule, struct cron_schedule *out, struct buf *err);

/* When a job should next run, given when its last run was due (`prev_ms`, < 0: never ran) and
 * the time now, as Convex's compute_next_ts: an interval job that never ran runs now, then every
 * interval_ms after the previous due time, missed ones skipped (the first of its times not
 * before now: a late run is not replayed once per missed interval); an expression runs at its
 * next match after now. -1: never. */
double cron_schedule_next(const struct cron_schedule *s, double prev_ms, double now_ms);

#endif

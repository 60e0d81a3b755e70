/* cron: 5-field cron expressions and Convex's schedule shapes (cron.h). Fields become bit sets;
 * the next run walks forward month → day → hour → minute in UTC (timegm normalizes), so it
 * takes a few dozen steps, not one per minute. */
#include "sched/cron.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/banned.h"

struct field {
    const char *what;
    int min, max;
    const char *const *names; /* index 0 is value `min` */
};

static const char *const MONTHS[] = { "jan", "feb", "mar", "apr", "may", "jun",
                                      "jul", "aug", "sep", "oct", "nov", "dec", NULL };
static const char *const DAYS[] = { "sun", "mon", "tue", "wed", "thu", "fri", "sat", NULL };

static const struct field FIELDS[5] = {
    { "minute", 0, 59, NULL },
    { "hour", 0, 23, NULL },
    { "day-of-month", 1, 31, NULL },
    { "month", 1, 12, MONTHS },
    { "day-of-week", 0, 7, DAYS },
};

/* A number or (for fields with names) a 3-letter name at p[0..n): 0, or -1. */
static int value_of(const struct field *f, const char *p, size_t n, int *out)
{
    if (n == 0)
        return -1;
    if (isdigit((unsigned char)p[0])) {
        long v = 0;
        for (size_t i = 0; i < n; i++) {
            if (!isdigit((unsigned char)p[i]) || v > 1000)
                return -1;
            v = v * 10 + (p[i] - '0');
        }
        *out = (int)v;
        return 0;
    }
    if (!f->names || n != 3)
        return -1;
    for (int i = 0; f->names[i]; i++)
        if (tolower((unsigned char)p[0]) == f->names[i][0] &&
            tolower((unsigned char)p[1]) == f->names[i][1] &&
            tolower((unsigned char)p[2]) == f->names[i][2]) {
            *out = f->min + i;
            return 0;
        }
    return -1;
}

/* One field (p[0..n)) into *bits. */
static int parse_field(const struct field *f, const char *p, size_t n, uint64_t *bits,
                       int *any, struct buf *err)
{
    *bits = 0;
    *any = 0;
    size_t i = 0;
    while (i <= n) {
        size_t j = i;
        while (j < n && p[j] != ',')
            j++;
        const char *it = p + i;
        size_t len = j - i;
        if (len == 0) {
            buf_appendf(err, "%s field `%.*s`: empty list item", f->what, (int)n, p);
            return -1;
        }
        const char *slash = memchr(it, '/', len);
        size_t rlen = slash ? (size_t)(slash - it) : len;
        int lo, hi, step = 1;
        if (slash) {
            size_t sl = len - rlen - 1;
            long v = 0;
            for (size_t k = 0; k < sl; k++) {
                if (!isdigit((unsigned char)slash[1 + k]) || v > 1000) {
                    v = -1;
                    break;
                }
                v = v * 10 + (slash[1 + k] - '0');
            }
            if (sl == 0 || v < 1) {
                buf_appendf(err, "%s field: invalid step in `%.*s` (expected a number from 1)",
                            f->what, (int)len, it);
                return -1;
            }
            step = (int)v;
        }
        if (rlen == 1 && it[0] == '*') {
            lo = f->min;
            hi = f->max == 7 ? 6 : f->max;
            *any = 1;
        } else {
            const char *dash = memchr(it, '-', rlen);
            size_t a = dash ? (size_t)(dash - it) : rlen;
            if (value_of(f, it, a, &lo) < 0 ||
                (dash && value_of(f, dash + 1, rlen - a - 1, &hi) < 0)) {
                buf_appendf(err, "%s field: invalid value in `%.*s`", f->what, (int)len, it);
                return -1;
            }
            if (!dash)
                hi = slash ? (f->max == 7 ? 6 : f->max) : lo;
            if (lo < f->min || lo > f->max || hi < f->min || hi > f->max) {
                buf_appendf(err, "%s field: `%.*s` is out of range (%d-%d)", f->what, (int)len,
                            it, f->min, f->max);
                return -1;
            }
            if (hi < lo) {
                buf_appendf(err, "%s field: range `%.*s` ends before it starts", f->what,
                            (int)rlen, it);
                return -1;
            }
        }
        for (int v = lo; v <= hi; v += step)
            *bits |= 1ull << (f->max == 7 && v == 7 ? 0 : v);
        i = j + 1;
    }
    return 0;
}

int cron_parse(const char *expr, struct cron_expr *out, struct buf *err)
{
    const char *start[5];
    size_t len[5];
    int n = 0;
    const char *p = expr;
    memset(out, 0, sizeof(*out));
    while (*p) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (!*p)
            break;
        const char *s = p;
        while (*p && *p != ' ' && *p != '\t')
            p++;
        if (n < 5) {
            start[n] = s;
            len[n] = (size_t)(p - s);
        }
        n++;
    }
    if (n != 5) {
        buf_appendf(err,
                    "invalid cron expression \"%.200s\": expected 5 fields (minute hour "
                    "day-of-month month day-of-week), got %d",
                    expr, n);
        return -1;
    }
    uint64_t bits[5];
    int any[5];
    for (int i = 0; i < 5; i++) {
        struct buf why = BUF_INIT(512);
        if (parse_field(&FIELDS[i], start[i], len[i], &bits[i], &any[i], &why) < 0) {
            buf_appendf(err, "invalid cron expression \"%.200s\": %s", expr, why.data);
            buf_release(&why);
            return -1;
        }
        buf_release(&why);
    }
    out->minutes = bits[0];
    out->hours = (uint32_t)bits[1];
    out->dom = (uint32_t)bits[2];
    out->months = (uint16_t)bits[3];
    out->dow = (uint8_t)bits[4];
    out->dom_any = (uint8_t)any[2];
    out->dow_any = (uint8_t)any[4];
    return 0;
}

static int day_matches(const struct cron_expr *c, const struct tm *tm)
{
    int dom = (c->dom >> tm->tm_mday) & 1, dow = (c->dow >> tm->tm_wday) & 1;
    if (c->dom_any || c->dow_any) /* one of them unrestricted: both must match */
        return dom && dow;
    return dom || dow;
}

double cron_next(const struct cron_expr *c, double after_ms)
{
    time_t t = (time_t)floor(after_ms / 60000.0) * 60 + 60; /* the next whole minute */
    time_t limit = t + (time_t)8 * 366 * 86400;
    struct tm tm;
    while (t < limit) {
        gmtime_r(&t, &tm);
        if (!((c->months >> (tm.tm_mon + 1)) & 1)) { /* first minute of the next month */
            tm.tm_mon++;
            tm.tm_mday = 1;
            tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
        } else if (!day_matches(c, &tm)) {
            tm.tm_mday++;
            tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
        } else if (!((c->hours >> tm.tm_hour) & 1)) {
            tm.tm_hour++;
            tm.tm_min = tm.tm_sec = 0;
        } else if (!((c->minutes >> tm.tm_min) & 1)) {
            tm.tm_min++;
            tm.tm_sec = 0;
        } else {
            return (double)t * 1000.0;
        }
        t = timegm(&tm);
    }
    return -1;
}

static int int_field(const json_t *o, const char *k, int dflt)
{
    const json_t *v = json_object_get(o, k);
    if (!json_is_number(v))
        return dflt;
    double d = json_number_value(v);
    /* past int's range: a value cron_parse refuses (converting it would be undefined) */
    return d >= -1e6 && d <= 1e6 ? (int)d : -1;
}

int cron_schedule_parse(const json_t *s, struct cron_schedule *out, struct buf *err)
{
    static const char *const dows[] = { "sunday", "monday", "tuesday", "wednesday",
                                        "thursday", "friday", "saturday" };
    const char *type = json_string_value(json_object_get(s, "type"));
    char expr[96];
    memset(out, 0, sizeof(*out));
    if (!type) {
        buf_append_str(err, "schedule has no type");
        return -1;
    }
    if (!strcmp(type, "interval")) {
        static const struct {
            const char *k;
            double ms;
        } units[] = { { "seconds", 1000 }, { "minutes", 60000 }, { "hours", 3600000 } };
        for (size_t i = 0; i < 3; i++) {
            const json_t *v = json_object_get(s, units[i].k);
            if (json_is_number(v) && json_number_value(v) >= 1)
                out->interval_ms = json_number_value(v) * units[i].ms;
        }
        if (out->interval_ms <= 0) {
            buf_append_str(err, "Interval must be an integer greater than 0");
            return -1;
        }
        if (!(out->interval_ms <= CRON_INTERVAL_MAX_MS)) { /* runs past the last Date never come */
            buf_append_str(err, "Interval must be at most 100,000,000 days");
            return -1;
        }
        return 0;
    }
    int m = int_field(s, "minuteUTC", 0), h = int_field(s, "hourUTC", 0);
    if (!strcmp(type, "cron")) {
        const char *c = json_string_value(json_object_get(s, "cron"));
        return cron_parse(c ? c : "", &out->expr, err);
    } else if (!strcmp(type, "hourly")) {
        snprintf(expr, sizeof(expr), "%d * * * *", m);
    } else if (!strcmp(type, "daily")) {
        snprintf(expr, sizeof(expr), "%d %d * * *", m, h);
    } else if (!strcmp(type, "weekly")) {
        const char *d = json_string_value(json_object_get(s, "dayOfWeek"));
        int dow = -1;
        for (int i = 0; d && i < 7; i++)
            if (!strcmp(d, dows[i]))
                dow = i;
        if (dow < 0) {
            buf_append_str(err, "Day of week must be a string like \"monday\".");
            return -1;
        }
        snprintf(expr, sizeof(expr), "%d %d * * %d", m, h, dow);
    } else if (!strcmp(type, "monthly")) {
        snprintf(expr, sizeof(expr), "%d %d %d * *", m, h, int_field(s, "day", 1));
    } else {
        buf_appendf(err, "unknown schedule type \"%.40s\"", type);
        return -1;
    }
    return cron_parse(expr, &out->expr, err);
}

double cron_schedule_next(const struct cron_schedule *s, double prev_ms, double now_ms)
{
    if (s->interval_ms > 0) {
        if (prev_ms < 0)
            return now_ms; /* a new interval job runs at once, as Convex's */
        double next = prev_ms + s->interval_ms;
        if (next < now_ms) /* missed runs are skipped, the job keeps its phase */
            next += ceil((now_ms - next) / s->interval_ms) * s->interval_ms;
        return next;
    }
    return cron_next(&s->expr, now_ms);
}

/* test_cron: the cron expression parser and next-run computation (src/sched/cron.c) against a
 * table of expressions and the next run after a given time (UTC), Convex's schedule shapes, and
 * invalid expressions with their messages. */
#include <string.h>
#include <time.h>

#include "base/buf.h"
#include "sched/cron.h"
#include "test.h"

#include "base/banned.h"

/* "YYYY-MM-DD HH:MM[:SS]" UTC -> ms */
static double at(const char *s)
{
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    int n = sscanf(s, "%d-%d-%d %d:%d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                   &tm.tm_min, &tm.tm_sec);
    if (n < 5)
        return -2;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (double)timegm(&tm) * 1000.0;
}

static const struct {
    const char *expr, *after, *next; /* next NULL: never */
} NEXT[] = {
    { "* * * * *", "2024-01-01 00:00:30", "2024-01-01 00:01" },
    { "*/15 * * * *", "2024-01-01 00:15:00", "2024-01-01 00:30" },
    { "0 0 1 1 *", "2024-06-01 00:00", "2025-01-01 00:00" },
    { "0 12 29 2 *", "2023-03-01 00:00", "2024-02-29 12:00" },        /* leap day */
    { "0 12 29 2 *", "2024-02-29 12:00", "2028-02-29 12:00" },
    { "0 0 31 * *", "2024-04-01 00:00", "2024-05-31 00:00" },         /* April has 30 */
    { "0 9 * * MON-FRI", "2024-06-07 10:00", "2024-06-10 09:00" },    /* Fri -> Mon */
    { "0 0 13 * 5", "2024-06-01 00:00", "2024-06-07 00:00" },         /* dom OR dow */
    { "0 0 13 * 5", "2024-06-08 00:00", "2024-06-13 00:00" },
    { "30 2 * jan,Jul sun", "2024-01-01 00:00", "2024-01-07 02:30" },
    { "0 0 * * 7", "2024-06-01 00:00", "2024-06-02 00:00" },          /* 7 is Sunday */
    { "5-10/2 * * * *", "2024-01-01 00:06", "2024-01-01 00:07" },
    { "5-10/2 * * * *", "2024-01-01 00:09", "2024-01-01 01:05" },
    { "59 23 31 12 *", "2024-12-31 23:59:00", "2025-12-31 23:59" },
    { "0 */6 * * *", "2024-01-01 05:00", "2024-01-01 06:00" },
    { "0 0 29 2 1", "2025-02-01 00:00", "2025-02-03 00:00" },         /* Monday before the 29th */
    { "0 0 29 2 *", "2025-03-01 00:00", "2028-02-29 00:00" },
    { "15 10 * * *", "2024-12-31 23:00", "2025-01-01 10:15" },        /* year end */
    { "0 0 1 */3 *", "2024-02-10 00:00", "2024-04-01 00:00" },        /* months 1,4,7,10 */
    { "10,20 8-9 * * *", "2024-01-01 08:20", "2024-01-01 09:10" },
    { "0 0 30 2 *", "2024-01-01 00:00", NULL },                       /* never */
    { "0 0 31 4,6,9,11 *", "2024-01-01 00:00", NULL },
};

TEST(next_runs)
{
    for (size_t i = 0; i < sizeof(NEXT) / sizeof(NEXT[0]); i++) {
        struct cron_expr c;
        struct buf err = BUF_INIT(4096);
        CHECK_EQ_INT(cron_parse(NEXT[i].expr, &c, &err), 0);
        double got = cron_next(&c, at(NEXT[i].after));
        double want = NEXT[i].next ? at(NEXT[i].next) : -1;
        if (got != want)
            fprintf(stderr, "  %s after %s: got %.0f, want %.0f\n", NEXT[i].expr, NEXT[i].after,
                    got, want);
        CHECK(got == want);
        buf_release(&err);
    }
}

static const struct {
    const char *expr, *message;
} BAD[] = {
    { "", "invalid cron expression \"\": expected 5 fields (minute hour day-of-month month "
          "day-of-week), got 0" },
    { "* * * *", "invalid cron expression \"* * * *\": expected 5 fields (minute hour "
                 "day-of-month month day-of-week), got 4" },
    { "* * * * * *", NULL },
    { "60 * * * *", "invalid cron expression \"60 * * * *\": minute field: `60` is out of range "
                    "(0-59)" },
    { "* 24 * * *", "invalid cron expression \"* 24 * * *\": hour field: `24` is out of range "
                    "(0-23)" },
    { "* * 0 * *", NULL },
    { "* * 32 * *", NULL },
    { "* * * 13 *", NULL },
    { "* * * * 8", "invalid cron expression \"* * * * 8\": day-of-week field: `8` is out of "
                   "range (0-7)" },
    { "*/0 * * * *", "invalid cron expression \"*/0 * * * *\": minute field: invalid step in "
                     "`*/0` (expected a number from 1)" },
    { "*/ * * * *", NULL },
    { "5-1 * * * *", "invalid cron expression \"5-1 * * * *\": minute field: range `5-1` ends "
                     "before it starts" },
    { "a * * * *", "invalid cron expression \"a * * * *\": minute field: invalid value in `a`" },
    { "1,,2 * * * *", "invalid cron expression \"1,,2 * * * *\": minute field `1,,2`: empty "
                      "list item" },
    { "* * * FOO *", NULL },
    { "* * * * MON-", NULL },
    { "* * * * MONDAY", NULL },
    { "-1 * * * *", NULL },
    { "1.5 * * * *", NULL },
};

TEST(invalid_expressions)
{
    for (size_t i = 0; i < sizeof(BAD) / sizeof(BAD[0]); i++) {
        struct cron_expr c;
        struct buf err = BUF_INIT(4096);
        int r = cron_parse(BAD[i].expr, &c, &err);
        if (r == 0)
            fprintf(stderr, "  \"%s\" parsed\n", BAD[i].expr);
        CHECK_EQ_INT(r, -1);
        CHECK(err.len > 0);
        if (BAD[i].message)
            CHECK_EQ_STR(err.data, BAD[i].message);
        buf_release(&err);
    }
}

static double sched_next(const char *json, double prev, double now, struct buf *err)
{
    json_t *j = json_loads(json, 0, NULL);
    struct cron_schedule s;
    int r = cron_schedule_parse(j, &s, err);
    json_decref(j);
    return r < 0 ? -2 : cron_schedule_next(&s, prev, now);
}

TEST(convex_schedules)
{
    struct buf err = BUF_INIT(4096);
    double now = at("2024-06-07 10:20:30"); /* a Friday */
    /* a new interval job runs at once (Convex's compute_next_ts without a previous run) */
    CHECK(sched_next("{\"type\":\"interval\",\"seconds\":5}", -1, now, &err) == now);
    /* the next interval counts from the previous due time... */
    CHECK(sched_next("{\"type\":\"interval\",\"minutes\":2}", now - 1000, now, &err) ==
          now + 119000);
    /* ...but missed ones are not replayed: the first of its times not before now */
    CHECK(sched_next("{\"type\":\"interval\",\"hours\":1}", now - 7200000, now, &err) == now);
    CHECK(sched_next("{\"type\":\"interval\",\"hours\":1}", now - 7200001, now, &err) ==
          now + 3599999);
    CHECK(sched_next("{\"type\":\"interval\",\"seconds\":1}", now - 3500, now, &err) == now + 500);
    CHECK(sched_next("{\"type\":\"hourly\",\"minuteUTC\":5}", -1, now, &err) ==
          at("2024-06-07 11:05"));
    CHECK(sched_next("{\"type\":\"hourly\"}", -1, now, &err) == at("2024-06-07 11:00"));
    CHECK(sched_next("{\"type\":\"daily\",\"hourUTC\":9,\"minuteUTC\":30}", -1, now, &err) ==
          at("2024-06-08 09:30"));
    CHECK(sched_next("{\"type\":\"weekly\",\"dayOfWeek\":\"tuesday\",\"hourUTC\":17}", -1, now,
                     &err) == at("2024-06-11 17:00"));
    CHECK(sched_next("{\"type\":\"monthly\",\"day\":31,\"hourUTC\":0}", -1, now, &err) ==
          at("2024-07-31 00:00"));
    CHECK(sched_next("{\"type\":\"cron\",\"cron\":\"0 16 1 * *\"}", -1, now, &err) ==
          at("2024-07-01 16:00"));
    CHECK(sched_next("{\"type\":\"interval\",\"seconds\":0}", -1, now, &err) == -2);
    CHECK_EQ_STR(err.data, "Interval must be an integer greater than 0");
    buf_reset(&err);
    CHECK(sched_next("{\"type\":\"cron\",\"cron\":\"0 16 1 *\"}", -1, now, &err) == -2);
    CHECK(strstr(err.data, "expected 5 fields") != NULL);
    buf_reset(&err);
    CHECK(sched_next("{\"type\":\"yearly\"}", -1, now, &err) == -2);
    CHECK_EQ_STR(err.data, "unknown schedule type \"yearly\"");
    /* an interval whose next run no Date can hold (was an infinite due time) */
    buf_reset(&err);
    CHECK(sched_next("{\"type\":\"interval\",\"hours\":1e308}", -1, now, &err) == -2);
    CHECK_EQ_STR(err.data, "Interval must be at most 100,000,000 days");
    buf_reset(&err);
    CHECK(sched_next("{\"type\":\"interval\",\"hours\":2400000000}", now, now, &err) ==
          now + 2400000000.0 * 3600000);
    /* a field past int's range is refused, not converted (was undefined behaviour) */
    buf_reset(&err);
    CHECK(sched_next("{\"type\":\"hourly\",\"minuteUTC\":1e20}", -1, now, &err) == -2);
    CHECK(err.len > 0);
    buf_release(&err);
}

TEST_MAIN()

/* fuzz_config: libFuzzer target for the parsers of an app's configuration: cron expressions and
 * Convex's schedule objects (src/sched/cron.c, from crons.ts), .env files (src/cli/dotenv.c) and
 * bundle-file headers (src/proto/deploy.c, the body of POST /api/admin/deploy). The first byte
 * picks the parser, the rest is its input. None may crash, hang, leak or hit undefined
 * behaviour, and each result must keep its contract: a parsed expression's fields in range and
 * its next run a later whole minute (or -1), a schedule's next run after now (or -1), a .env file
 * an object of strings, a bundle header's name non-empty and its JavaScript inside the input. */
#include <jansson.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/log.h"
#include "cli/cli.h"
#include "proto/deploy.h"
#include "sched/cron.h"

#include "base/banned.h"

#define EIGHT_YEARS_MS (8.0 * 366 * 86400 * 1000)

static void check_expr(const struct cron_expr *c)
{
    if ((c->minutes >> 60) || (c->hours >> 24) || (c->dom & 1) || (c->months & 1) ||
        (c->months >> 13) || (c->dow >> 7))
        abort();
}

static void check_next(double next, double after)
{
    if (next == -1)
        return;
    if (!(next > after) || next > after + EIGHT_YEARS_MS + 60000 || fmod(next, 60000) != 0)
        abort();
}

/* A time in [0, 2^42) ms (until the year 2109) from up to 6 bytes of the input. */
static double time_from(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n && i < 6; i++)
        v = v << 8 | p[i];
    return (double)(v & ((1ull << 42) - 1));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    log_min_level = LOG_ERROR + 1; /* dotenv logs the numbers of bad lines */
    if (size < 1)
        return 0;
    const char *in = (const char *)data + 1;
    size_t n = size - 1;
    struct buf err = BUF_INIT(BUF_NOLIMIT);
    switch (data[0] % 4) {
    case 0: { /* a cron expression, then its next run after three times */
        if (n > 256)
            break;
        char expr[257];
        memcpy(expr, in, n);
        expr[n] = '\0';
        struct cron_expr c;
        if (cron_parse(expr, &c, &err) == 0) {
            check_expr(&c);
            const double at[] = {0, 1.8e12, time_from(data + 1, n)};
            for (size_t i = 0; i < sizeof at / sizeof at[0]; i++)
                check_next(cron_next(&c, at[i]), at[i]);
        } else if (err.len == 0) {
            abort(); /* a refusal says why */
        }
        break;
    }
    case 1: { /* a schedule object as crons.ts's cronJobs() hands it over */
        json_t *s = json_loadb(in, n, JSON_DECODE_ANY, NULL);
        struct cron_schedule sch;
        if (s && cron_schedule_parse(s, &sch, &err) == 0) {
            if (sch.interval_ms > 0) {
                if (!isfinite(sch.interval_ms))
                    abort();
            } else {
                check_expr(&sch.expr);
            }
            const double now = 1.8e12;
            /* a new interval job runs at once (Convex's); an expression at its next match */
            double next = cron_schedule_next(&sch, -1, now);
            if (!(next == -1 ||
                  ((sch.interval_ms > 0 ? next == now : next > now) && isfinite(next))))
                abort();
            double again = cron_schedule_next(&sch, next > 0 ? next : now, now + 1);
            if (!(again == -1 || (again > now + 1 && isfinite(again))))
                abort();
            /* a run long past: the next time is the first of its own not before now */
            if (sch.interval_ms > 0) {
                double late = cron_schedule_next(&sch, now - 10.5 * sch.interval_ms, now);
                if (!(late >= now && late < now + sch.interval_ms && isfinite(late)))
                    abort();
            }
        } else if (s && err.len == 0) {
            abort();
        }
        json_decref(s);
        break;
    }
    case 2: { /* a .env file */
        json_t *env = dotenv_parse(in, n, "fuzz.env");
        if (!json_is_object(env))
            abort();
        const char *k;
        json_t *v;
        json_object_foreach(env, k, v)
        {
            if (!json_is_string(v) || !*k)
                abort();
        }
        json_decref(env);
        break;
    }
    case 3: { /* a bundle file's header */
        char name[DEPLOY_NAME_MAX];
        size_t off = 0;
        if (deploy_parse(in, n, name, &off, &err) == 0) {
            if (!name[0] || strlen(name) >= DEPLOY_NAME_MAX || off > n)
                abort();
        } else if (err.len == 0) {
            abort();
        }
        break;
    }
    }
    buf_release(&err);
    return 0;
}

/* loadgen: Vireo's load generator. `loadgen SCENARIO --port N [options]` runs one scenario
 * against a server on loopback, prints a human summary and one "ROW" line for the table, and
 * writes the figures as JSON (--out). Latencies are end to end at the client: a mutation carries a
 * sequence number, its send time is kept by number, and each subscriber looks the number up in
 * the value pushed to it. Invariant: every run is bounded in time (--duration, --timeout) and
 * closes every connection it opened before exiting. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/mem.h"
#include "hist.h"
#include "lg.h"
#include "base/banned.h"

#define MS 1000000ull
#define SEC 1000000000ull

struct opts {
    const char *scenario;
    const char *host;
    int port;
    double duration; /* seconds of measurement */
    double timeout;  /* seconds allowed for setup phases */
    long conns;      /* subscribers or clients */
    long depth;      /* pipelined requests per client */
    long writes;
    double rate;      /* writes per second */
    long qper;        /* queries per subscriber connection (precision) */
    long distinct;    /* http-query: 1 = every request's arguments its own (cache misses) */
    long max_pending; /* connections opening at once */
    const char *out;
    const char *commit;
    const char *note;
    const char *durability; /* the server's --durability, recorded in the JSON */
};

struct sc {
    struct opts *o;
    struct lg lg;
    struct hist lat;  /* per delivery / per request */
    struct hist last; /* fanout: last delivery per write */
    uint64_t *sent;   /* send time by sequence number (0: not sent) */
    uint32_t *got;    /* deliveries by sequence number */
    long nseq, seq;
    long seq_base; /* added to sequence numbers on the wire: above any earlier run's */
    long ready, opening, opened_subs, target_subs;
    long completed, failed, closed_early, unexpected;
    long all_ok; /* successful mutations including warm-up and drain */
    uint64_t t0, t_end, next_write;
    struct lg_conn *writer;
    int writer_ready;
    long write_i;
    uint64_t write_sent;
    int phase;
    char lasterr[300];
    long subs_transitions;
    struct buf msg;
};

static struct sc S;

/* ---- small helpers ---- */

static int has_type(const char *m, size_t n, const char *type)
{
    char pat[48];
    int k = snprintf(pat, sizeof pat, "\"type\":\"%s\"", type);
    return memmem(m, n < 64 ? n : 64, pat, (size_t)k) != NULL;
}

static double metric(const char *json, const char *name)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", name);
    const char *p = strstr(json, pat);
    return p ? strtod(p + strlen(pat), NULL) : -1;
}

static int fetch_metrics(struct buf *out)
{
    buf_reset(out);
    int st = lg_http_oneshot(&S.lg, "GET", "/api/metrics", NULL, out);
    return st == 200 ? 0 : -1;
}

static void send_connect(struct lg_conn *c)
{
    buf_reset(&S.msg);
    buf_appendf(&S.msg,
                "{\"type\":\"connect\",\"sessionId\":\"bench-%d-%u\",\"clientVersion\":"
                "\"vireo-bench/0.1\",\"protocolVersion\":1}",
                (int)getpid(), c->idx);
    lg_ws_send(&S.lg, c, S.msg.data, S.msg.len);
}

static void send_subscribe(struct lg_conn *c, long first_channel, long n, const char *fixed)
{
    buf_reset(&S.msg);
    buf_append_str(&S.msg, "{\"type\":\"modifyQuerySet\",\"add\":[");
    for (long j = 0; j < n; j++) {
        if (fixed)
            buf_appendf(&S.msg,
                        "%s{\"queryId\":%ld,\"path\":\"bench:latest\",\"args\":{\"channel\":"
                        "\"%s\"}}",
                        j ? "," : "", j + 1, fixed);
        else
            buf_appendf(&S.msg,
                        "%s{\"queryId\":%ld,\"path\":\"bench:latest\",\"args\":{\"channel\":"
                        "\"c%ld\"}}",
                        j ? "," : "", j + 1, first_channel + j);
    }
    buf_append_str(&S.msg, "],\"remove\":[]}");
    lg_ws_send(&S.lg, c, S.msg.data, S.msg.len);
}

/* Sends bench:send to `channel` (or "c<n>" when channel is NULL) with the next sequence number. */
static void send_write(struct lg_conn *c, const char *channel, long n)
{
    long k = S.seq++;
    if (k >= S.nseq)
        return;
    buf_reset(&S.msg);
    buf_appendf(&S.msg,
                "{\"type\":\"mutation\",\"requestId\":%ld,\"path\":\"bench:send\","
                "\"args\":{\"channel\":\"",
                k + 1);
    if (channel)
        buf_append_str(&S.msg, channel);
    else
        buf_appendf(&S.msg, "c%ld", n);
    buf_appendf(&S.msg, "\",\"seq\":%ld,\"body\":\"x\"}}", S.seq_base + k);
    S.sent[k] = lg_now();
    lg_ws_send(&S.lg, c, S.msg.data, S.msg.len);
}

/* Records a delivery for every "seq":K in a pushed message; returns how many. */
static long record_seqs(const char *m, size_t n, uint64_t now, uint64_t *newest_sent)
{
    long found = 0;
    const char *p = m, *end = m + n;
    while ((p = memmem(p, (size_t)(end - p), "\"seq\":", 6)) != NULL) {
        p += 6;
        long k = strtol(p, NULL, 10) - S.seq_base;
        if (k >= 0 && k < S.nseq && S.sent[k]) {
            hist_record(&S.lat, now - S.sent[k]);
            S.got[k]++;
            if (newest_sent)
                *newest_sent = S.sent[k];
            found++;
        }
    }
    return found;
}

/* ---- subscriber setup shared by the push scenarios ---- */

static const char *sub_path = "/api/sync"; /* the subscribers' and writer's WebSocket path */

static void subs_top_up(void)
{
    while (S.opened_subs < S.target_subs && S.opening < S.o->max_pending) {
        struct lg_conn *c = lg_connect(&S.lg, LG_WS, sub_path);
        if (!c) {
            snprintf(S.lasterr, sizeof S.lasterr, "%s", S.lg.err);
            S.lg.stop = 1;
            return;
        }
        c->user = 1; /* subscriber */
        c->user2 = (uint64_t)S.opened_subs;
        S.opened_subs++;
        S.opening++;
    }
}

static const char *fanout_channel; /* all subscribers on one channel when set */

static void sub_open(struct lg *lg, struct lg_conn *c)
{
    if (c->user == 2) { /* writer / client */
        send_connect(c);
        S.writer_ready = 1;
        return;
    }
    send_connect(c);
    send_subscribe(c, (long)c->user2 * S.o->qper, S.o->qper, fanout_channel);
}

static void sub_ws(struct lg *lg, struct lg_conn *c, const char *m, size_t n)
{
    uint64_t now = lg_now();
    if (c->user == 2) {
        if (has_type(m, n, "mutationResponse")) {
            if (memmem(m, n, "\"success\":true", 14))
                S.completed++;
            else {
                S.failed++;
                snprintf(S.lasterr, sizeof S.lasterr, "%.*s", (int)(n < 190 ? n : 190), m);
            }
        }
        return;
    }
    if (has_type(m, n, "error")) {
        S.failed++;
        snprintf(S.lasterr, sizeof S.lasterr, "%.*s", (int)(n < 190 ? n : 190), m);
        return;
    }
    if (!has_type(m, n, "transition"))
        return;
    if (c->user == 1) { /* first transition: the initial results */
        c->user = 3;
        S.ready++;
        S.opening--;
        if (S.ready == S.target_subs)
            lg->stop = S.phase == 0;
        else
            subs_top_up();
        return;
    }
    S.subs_transitions++;
    record_seqs(m, n, now, NULL);
}

static void sub_close(struct lg *lg, struct lg_conn *c, int err)
{
    S.closed_early++;
    snprintf(S.lasterr, sizeof S.lasterr, "connection %u closed: %s", c->idx, strerror(-err));
    if (c->user == 1) {
        S.opening--;
        subs_top_up();
    }
}

/* Opens `n` subscriber connections (+ a writer) and waits until each has its initial results. */
static int subs_setup(long n, int with_writer)
{
    S.target_subs = n;
    S.phase = 0;
    if (with_writer) {
        S.writer = lg_connect(&S.lg, LG_WS, sub_path);
        if (!S.writer) {
            fprintf(stderr, "loadgen: %s\n", S.lg.err);
            return -1;
        }
        S.writer->user = 2;
    }
    subs_top_up();
    uint64_t t = lg_now();
    lg_run(&S.lg, t + (uint64_t)(S.o->timeout * SEC));
    if (S.ready < n) {
        fprintf(stderr, "loadgen: only %ld of %ld subscribers ready after %.0f s (%s)\n", S.ready,
                n, S.o->timeout, S.lasterr);
        return -1;
    }
    printf("  %ld subscribers ready in %.2f s\n", n, (double)(lg_now() - t) / SEC);
    return 0;
}

/* ---- JSON results ---- */

static struct buf J;

static void json_begin(void)
{
    buf_init(&J, BUF_NOLIMIT);
    char model[256] = "unknown";
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f) {
        char line[512];
        while (fgets(line, sizeof line, f)) {
            if (!strncmp(line, "model name", 10)) {
                char *p = strchr(line, ':');
                if (p) {
                    p++;
                    while (*p == ' ')
                        p++;
                    p[strcspn(p, "\n")] = 0;
                    snprintf(model, sizeof model, "%s", p);
                }
                break;
            }
        }
        fclose(f);
    }
    struct utsname u;
    uname(&u);
    buf_appendf(&J, "{\n  \"scenario\": \"%s\",\n  \"commit\": \"%s\",\n", S.o->scenario,
                S.o->commit ? S.o->commit : "unknown");
    if (S.o->durability) {
        buf_append_str(&J, "  \"durability\": ");
        buf_append_json_str(&J, S.o->durability, strlen(S.o->durability));
        buf_append_str(&J, ",\n");
    } else {
        buf_append_str(&J, "  \"durability\": null,\n");
    }
    buf_append_str(&J, "  \"machine\": {\"nproc\": ");
    buf_appendf(&J, "%ld, \"model\": ", sysconf(_SC_NPROCESSORS_ONLN));
    buf_append_json_str(&J, model, strlen(model));
    buf_append_str(&J, ", \"kernel\": ");
    buf_append_json_str(&J, u.release, strlen(u.release));
    buf_append_str(&J, ", \"note\": ");
    const char *note = S.o->note ? S.o->note : "";
    buf_append_json_str(&J, note, strlen(note));
    buf_appendf(&J,
                "},\n  \"settings\": {\"conns\": %ld, \"depth\": %ld, \"writes\": %ld, "
                "\"rate\": %g, \"duration_s\": %g, \"queries_per_conn\": %ld},\n",
                S.o->conns, S.o->depth, S.o->writes, S.o->rate, S.o->duration, S.o->qper);
    buf_append_str(&J, "  \"figures\": {");
}

static int jfig_n;
static void jfig(const char *name, double v)
{
    buf_appendf(&J, "%s\n    \"%s\": %.6g", jfig_n++ ? "," : "", name, v);
}

static void jhist(const char *prefix, const struct hist *h)
{
    char k[64];
    static const struct {
        const char *n;
        double p;
    } ps[] = {{"p50", 50}, {"p90", 90}, {"p99", 99}, {"p999", 99.9}};
    for (size_t i = 0; i < 4; i++) {
        snprintf(k, sizeof k, "%s_%s_ms", prefix, ps[i].n);
        jfig(k, (double)hist_percentile(h, ps[i].p) / MS);
    }
    snprintf(k, sizeof k, "%s_max_ms", prefix);
    jfig(k, (double)h->max / MS);
    snprintf(k, sizeof k, "%s_count", prefix);
    jfig(k, (double)h->count);
}

static void print_hist(const char *what, const struct hist *h)
{
    printf("  %s: n=%" PRIu64 " p50=%.3f p90=%.3f p99=%.3f p99.9=%.3f max=%.3f ms\n", what,
           h->count, (double)hist_percentile(h, 50) / MS, (double)hist_percentile(h, 90) / MS,
           (double)hist_percentile(h, 99) / MS, (double)hist_percentile(h, 99.9) / MS,
           (double)h->max / MS);
}

static int json_end(const char *verdict, const char *figure, const char *target)
{
    buf_append_str(&J, "\n  },\n  \"target\": ");
    buf_append_json_str(&J, target, strlen(target));
    buf_append_str(&J, ",\n  \"summary\": ");
    buf_append_json_str(&J, figure, strlen(figure));
    buf_appendf(&J, ",\n  \"verdict\": \"%s\"\n}\n", verdict);
    printf("  %s: %s (target %s)\n", verdict, figure, target);
    printf("ROW\t%s\t%s\t%s\t%s\n", S.o->scenario, figure, target, verdict);
    int r = 0;
    if (S.o->out) {
        FILE *f = fopen(S.o->out, "w");
        if (!f || fwrite(J.data, 1, J.len, f) != J.len) {
            fprintf(stderr, "loadgen: cannot write %s: %s\n", S.o->out, strerror(errno));
            r = -1;
        }
        if (f)
            fclose(f);
    }
    buf_release(&J);
    return r;
}

/* ---- scenario: mutations ---- */

static void mut_send(struct lg_conn *c)
{
    long k = S.seq++;
    buf_reset(&S.msg);
    buf_appendf(&S.msg,
                "{\"type\":\"mutation\",\"requestId\":%ld,\"path\":\"bench:insert\",\"args\":"
                "{\"n\":%ld,\"body\":\"hello\"}}",
                k, k);
    if (!c->rtt)
        c->rtt = vr_calloc(LG_RTT_RING, sizeof *c->rtt);
    c->rtt[(c->rtt_head + c->inflight) % LG_RTT_RING] = lg_now();
    c->inflight++;
    lg_ws_send(&S.lg, c, S.msg.data, S.msg.len);
}

static void mut_open(struct lg *lg, struct lg_conn *c)
{
    send_connect(c);
    for (long i = 0; i < S.o->depth; i++)
        mut_send(c);
}

static void mut_ws(struct lg *lg, struct lg_conn *c, const char *m, size_t n)
{
    if (!has_type(m, n, "mutationResponse"))
        return;
    uint64_t now = lg_now();
    if (c->inflight) {
        uint64_t t = c->rtt[c->rtt_head % LG_RTT_RING];
        c->rtt_head++;
        c->inflight--;
        if (now >= S.t0 && now < S.t_end)
            hist_record(&S.lat, now - t);
    }
    if (memmem(m, n, "\"success\":true", 14)) {
        S.all_ok++;
        if (now >= S.t0 && now < S.t_end)
            S.completed++;
    } else {
        S.failed++;
        snprintf(S.lasterr, sizeof S.lasterr, "%.*s", (int)(n < 190 ? n : 190), m);
    }
    if (now < S.t_end)
        mut_send(c);
    else if (c->inflight == 0 && ++S.ready == S.o->conns)
        lg->stop = 1;
}

static int run_mutations(void)
{
    struct lg_handlers h = {.on_open = mut_open, .on_ws = mut_ws, .on_close = sub_close};
    S.lg.h = h;
    uint64_t warm = 1 * SEC;
    S.t0 = lg_now() + warm;
    S.t_end = S.t0 + (uint64_t)(S.o->duration * SEC);
    struct buf m0 = BUF_INIT(BUF_NOLIMIT), m1 = BUF_INIT(BUF_NOLIMIT);
    fetch_metrics(&m0);
    for (long i = 0; i < S.o->conns; i++) {
        struct lg_conn *c = lg_connect(&S.lg, LG_WS, "/api/sync");
        if (!c) {
            fprintf(stderr, "loadgen: %s\n", S.lg.err);
            return -1;
        }
    }
    lg_run(&S.lg, S.t_end + (uint64_t)(S.o->timeout * SEC));
    double secs = S.o->duration;
    double rate = (double)S.completed / secs;
    fetch_metrics(&m1);
    double batches = metric(m1.data, "batches") - metric(m0.data, "batches");
    double all = (double)S.all_ok;
    if (batches > 0)
        printf("  server: %.0f commit batches, %.1f mutations per batch\n", batches, all / batches);
    jfig("server_batches", batches);
    jfig("mutations_per_batch", batches > 0 ? all / batches : 0);
    buf_release(&m0);
    buf_release(&m1);
    print_hist("mutation round trip", &S.lat);
    printf("  %ld mutations in %.1f s (after 1 s warm-up), %ld failed%s%s\n", S.completed, secs,
           S.failed, S.failed ? ": " : "", S.failed ? S.lasterr : "");
    jfig("mutations_per_s", rate);
    jfig("failed", (double)S.failed);
    jhist("rtt", &S.lat);
    char fig[160];
    snprintf(fig, sizeof fig, "%.0f mutations/s, rtt p99 %.2f ms (%ld clients x %ld in flight)",
             rate, (double)hist_percentile(&S.lat, 99) / MS, S.o->conns, S.o->depth);
    int pass = rate >= 50000 && hist_percentile(&S.lat, 99) <= 20 * MS && !S.failed;
    return json_end(pass ? "PASS" : "MISS", fig, ">= 50,000/s, p99 <= 20 ms");
}

/* ---- scenario: push-latency ---- */

static void push_tick(struct lg *lg)
{
    uint64_t now = lg_now();
    if (now >= S.t_end || S.seq >= S.nseq)
        return;
    if (S.writer_ready)
        while (S.next_write <= now && S.seq < S.nseq) {
            send_write(S.writer, NULL, S.seq % S.target_subs);
            S.next_write += (uint64_t)(SEC / S.o->rate);
        }
    lg_set_tick(lg, S.next_write);
}

static int run_push_latency(void)
{
    struct lg_handlers h = {
        .on_open = sub_open, .on_ws = sub_ws, .on_close = sub_close, .on_tick = push_tick};
    S.lg.h = h;
    S.o->qper = 1;
    if (subs_setup(S.o->conns, 1) < 0)
        return -1;
    S.phase = 1;
    S.t0 = lg_now();
    S.t_end = S.t0 + (uint64_t)(S.o->duration * SEC);
    S.next_write = S.t0;
    lg_set_tick(&S.lg, S.t0);
    lg_run(&S.lg, S.t_end + 1 * SEC); /* a second to drain the last deliveries */
    long missing = 0;
    for (long k = 0; k < S.seq; k++)
        missing += S.got[k] == 0;
    print_hist("write -> subscriber", &S.lat);
    printf("  %ld writes at %.0f/s, %ld never delivered, %ld writer errors%s%s\n", S.seq, S.o->rate,
           missing, S.failed, S.failed ? ": " : "", S.lasterr);
    jfig("writes", (double)S.seq);
    jfig("undelivered", (double)missing);
    jhist("push", &S.lat);
    double p50 = (double)hist_percentile(&S.lat, 50) / MS,
           p99 = (double)hist_percentile(&S.lat, 99) / MS;
    char fig[160];
    snprintf(fig, sizeof fig, "p50 %.3f ms, p99 %.3f ms, max %.2f ms (%ld subs, %.0f writes/s)",
             p50, p99, (double)S.lat.max / MS, S.o->conns, S.o->rate);
    int pass = p50 <= 0.3 && p99 <= 2.0 && missing == 0 && S.lat.count > 0;
    return json_end(pass ? "PASS" : "MISS", fig, "p50 <= 0.3 ms, p99 <= 2 ms");
}

/* ---- scenario: fanout ---- */

static void fan_ws(struct lg *lg, struct lg_conn *c, const char *m, size_t n)
{
    if (c->user == 3 && has_type(m, n, "transition")) {
        uint64_t now = lg_now();
        S.subs_transitions++;
        long k = S.seq - 1;
        if (k >= 0 && record_seqs(m, n, now, NULL) && (long)S.got[k] == S.target_subs) {
            hist_record(&S.last, now - S.sent[k]);
            lg->stop = 1;
        }
        return;
    }
    sub_ws(lg, c, m, n);
}

static int run_fanout(void)
{
    struct lg_handlers h = {.on_open = sub_open, .on_ws = fan_ws, .on_close = sub_close};
    S.lg.h = h;
    S.o->qper = 1;
    fanout_channel = "all";
    if (subs_setup(S.o->conns, 1) < 0)
        return -1;
    S.phase = 1;
    hist_init(&S.last);
    long incomplete = 0;
    struct buf m0 = BUF_INIT(BUF_NOLIMIT), m1 = BUF_INIT(BUF_NOLIMIT);
    lg_run(&S.lg, lg_now() + 100 * MS); /* the writer's connect */
    fetch_metrics(&m0);
    uint64_t end = lg_now() + (uint64_t)(S.o->duration * SEC);
    for (long w = 0; w < S.o->writes && lg_now() < end; w++) {
        send_write(S.writer, "all", 0);
        lg_run(&S.lg, lg_now() + 5 * SEC);
        long k = S.seq - 1;
        if ((long)S.got[k] < S.target_subs) {
            incomplete++;
            fprintf(stderr, "  write %ld reached %u of %ld subscribers in 5 s\n", w, S.got[k],
                    S.target_subs);
        }
        lg_run(&S.lg, lg_now() + 50 * MS); /* let the server settle between writes */
    }
    fetch_metrics(&m1);
    double reruns = metric(m1.data, "queryReruns") - metric(m0.data, "queryReruns");
    double trans = metric(m1.data, "transitions") - metric(m0.data, "transitions");
    printf("  server: +%.0f query re-runs, +%.0f transitions for %ld writes\n", reruns, trans,
           S.seq);
    buf_release(&m0);
    buf_release(&m1);
    jfig("server_query_reruns", reruns);
    jfig("server_transitions", trans);
    print_hist("last delivery per write", &S.last);
    print_hist("every delivery", &S.lat);
    jfig("writes", (double)S.seq);
    jfig("incomplete_writes", (double)incomplete);
    jhist("last", &S.last);
    jhist("each", &S.lat);
    double p99 = (double)hist_percentile(&S.last, 99) / MS;
    char fig[160];
    snprintf(fig, sizeof fig, "last delivery p99 %.1f ms, p50 %.1f ms (%ld subs, %ld writes)", p99,
             (double)hist_percentile(&S.last, 50) / MS, S.o->conns, S.seq);
    int pass = p99 <= 50 && !incomplete && S.last.count > 0;
    return json_end(pass ? "PASS" : "MISS", fig, "last delivery p99 <= 50 ms");
}

/* ---- scenario: precision ---- */

static int run_precision(void)
{
    struct lg_handlers h = {.on_open = sub_open, .on_ws = fan_ws, .on_close = sub_close};
    S.lg.h = h;
    long nconn = S.o->conns, total = nconn * S.o->qper;
    if (subs_setup(nconn, 1) < 0)
        return -1;
    S.phase = 1;
    struct buf m0 = BUF_INIT(BUF_NOLIMIT), m1 = BUF_INIT(BUF_NOLIMIT);
    /* the subscribers' initial runs are done: wait for the writer to connect, then measure */
    lg_run(&S.lg, lg_now() + 200 * MS);
    if (fetch_metrics(&m0) < 0) {
        fprintf(stderr, "loadgen: GET /api/metrics failed\n");
        return -1;
    }
    printf("  server: %.0f live queries, %.0f live ranges\n", metric(m0.data, "liveQueries"),
           metric(m0.data, "liveRanges"));
    S.target_subs = 1; /* fan_ws stops the loop when the one affected subscriber has it */
    long lost = 0;
    uint64_t end = lg_now() + (uint64_t)(S.o->duration * SEC);
    uint64_t x = 88172645463325252ull;
    for (long w = 0; w < S.o->writes && lg_now() < end; w++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        long ch = (long)(x % (uint64_t)total);
        send_write(S.writer, NULL, ch);
        lg_run(&S.lg, lg_now() + 2 * SEC);
        if (S.got[S.seq - 1] == 0) {
            lost++;
            if (getenv("LOADGEN_DEBUG"))
                fprintf(stderr,
                        "  write seq %ld to c%ld not delivered in 2 s (%ld writer "
                        "errors: %s)\n",
                        S.seq - 1, ch, S.failed, S.lasterr);
        }
    }
    lg_run(&S.lg, lg_now() + 100 * MS); /* stray transitions, if any, arrive now */
    fetch_metrics(&m1);
    double reruns = metric(m1.data, "queryReruns") - metric(m0.data, "queryReruns");
    double execs = metric(m1.data, "queryExecutions") - metric(m0.data, "queryExecutions");
    double inval = metric(m1.data, "invalidations") - metric(m0.data, "invalidations");
    double per = S.seq ? reruns / (double)S.seq : 0;
    printf("  %ld writes over %ld subscriptions on %ld connections: queryReruns +%.0f, "
           "queryExecutions +%.0f, invalidations +%.0f, subscriber transitions %ld, lost %ld\n",
           S.seq, total, nconn, reruns, execs, inval, S.subs_transitions, lost);
    print_hist("write -> subscriber", &S.lat);
    jfig("writes", (double)S.seq);
    jfig("subscriptions", (double)total);
    jfig("query_reruns", reruns);
    jfig("query_executions", execs);
    jfig("invalidations", inval);
    jfig("reruns_per_write", per);
    jfig("subscriber_transitions", (double)S.subs_transitions);
    jfig("lost", (double)lost);
    jhist("push", &S.lat);
    buf_release(&m0);
    buf_release(&m1);
    char fig[160];
    snprintf(fig, sizeof fig, "%.3f re-runs/write (%.0f re-runs, %ld writes, %ld subscriptions)",
             per, reruns, S.seq, total);
    int pass = S.seq > 0 && reruns == (double)S.seq && S.subs_transitions == S.seq && !lost;
    return json_end(pass ? "PASS" : "MISS", fig, "exactly 1 re-run per write");
}

/* ---- scenario: http-query ---- */

static const char QBODY[] = "{\"path\":\"bench:latest\",\"args\":{\"channel\":\"c1\"}}";

/* One query; with --distinct 1 on a channel no other request names (a query result cache
 * misses every time; the channel is empty, so the run reads one empty range). */
static void hq_send(struct lg *lg, struct lg_conn *c)
{
    if (!S.o->distinct) {
        lg_http_request(lg, c, "POST", "/api/query", QBODY, sizeof QBODY - 1);
        return;
    }
    char body[128];
    int n = snprintf(body, sizeof body,
                     "{\"path\":\"bench:latest\",\"args\":{\"channel\":\"d%ld-%ld\"}}",
                     S.seq_base, S.seq++);
    lg_http_request(lg, c, "POST", "/api/query", body, (size_t)n);
}

static void hq_open(struct lg *lg, struct lg_conn *c)
{
    for (long i = 0; i < S.o->depth; i++)
        hq_send(lg, c);
}

static void hq_http(struct lg *lg, struct lg_conn *c, int status, const char *body, size_t len)
{
    uint64_t now = lg_now();
    /* the ring's head moved past this request already: its send time is one slot back */
    uint64_t t = c->rtt[(c->rtt_head - 1) % LG_RTT_RING];
    if (now >= S.t0 && now < S.t_end) {
        hist_record(&S.lat, now - t);
        if (status == 200 && memmem(body, len, "\"status\":\"success\"", 18))
            S.completed++;
        else {
            S.failed++;
            snprintf(S.lasterr, sizeof S.lasterr, "%d %.*s", status, (int)(len < 150 ? len : 150),
                     body);
        }
    }
    if (now < S.t_end)
        hq_send(lg, c);
    else if (c->inflight == 0 && ++S.ready == S.o->conns)
        lg->stop = 1;
}

static int run_http_query(void)
{
    struct lg_handlers h = {.on_open = hq_open, .on_http = hq_http, .on_close = sub_close};
    S.lg.h = h;
    struct buf tmp = BUF_INIT(BUF_NOLIMIT);
    for (int i = 0; i < 20; i++) { /* a small channel to read */
        char body[160];
        snprintf(body, sizeof body,
                 "{\"path\":\"bench:send\",\"args\":{\"channel\":\"c%d\",\"seq\":%d,"
                 "\"body\":\"seed\"}}",
                 i % 3, i);
        buf_reset(&tmp);
        if (lg_http_oneshot(&S.lg, "POST", "/api/mutation", body, &tmp) != 200) {
            fprintf(stderr, "loadgen: seeding failed: %s\n", tmp.data);
            buf_release(&tmp);
            return -1;
        }
    }
    buf_release(&tmp);
    S.t0 = lg_now() + 1 * SEC;
    S.t_end = S.t0 + (uint64_t)(S.o->duration * SEC);
    for (long i = 0; i < S.o->conns; i++)
        if (!lg_connect(&S.lg, LG_HTTP, NULL)) {
            fprintf(stderr, "loadgen: %s\n", S.lg.err);
            return -1;
        }
    lg_run(&S.lg, S.t_end + (uint64_t)(S.o->timeout * SEC));
    double rate = (double)S.completed / S.o->duration;
    print_hist("request round trip", &S.lat);
    printf("  %ld queries in %.1f s, %ld failed%s%s\n", S.completed, S.o->duration, S.failed,
           S.failed ? ": " : "", S.failed ? S.lasterr : "");
    jfig("requests_per_s", rate);
    jfig("failed", (double)S.failed);
    jhist("rtt", &S.lat);
    char fig[160];
    snprintf(fig, sizeof fig,
             "%.0f req/s, p50 %.3f ms, p99 %.3f ms (%ld conns x %ld pipelined%s)", rate,
             (double)hist_percentile(&S.lat, 50) / MS, (double)hist_percentile(&S.lat, 99) / MS,
             S.o->conns, S.o->depth, S.o->distinct ? ", distinct args" : "");
    /* issue 14's target */
    int pass = !S.failed && rate >= 60000 && hist_percentile(&S.lat, 99) <= 5 * MS;
    return json_end(pass ? "PASS" : "MISS", fig, ">= 60,000 req/s, p99 <= 5 ms");
}

/* ---- scenario: connections ---- */

static int run_connections(void)
{
    struct lg_handlers h = {.on_open = sub_open, .on_ws = sub_ws, .on_close = sub_close};
    S.lg.h = h;
    S.o->qper = 1;
    struct buf m0 = BUF_INIT(BUF_NOLIMIT), m1 = BUF_INIT(BUF_NOLIMIT);
    if (fetch_metrics(&m0) < 0) {
        fprintf(stderr, "loadgen: GET /api/metrics failed\n");
        return -1;
    }
    /* the idle RSS once the server has settled: a server just started may still be loading the
     * app into its other threads' runtimes, which is not memory of the connections to come
     * (settled: two readings 200 ms apart within 256 KiB of each other; at most 4 s) */
    for (int i = 0; i < 20; i++) {
        double prev = metric(m0.data, "rssBytes");
        nanosleep(&(struct timespec){0, 200 * 1000 * 1000}, NULL);
        if (fetch_metrics(&m0) < 0) {
            fprintf(stderr, "loadgen: GET /api/metrics failed\n");
            return -1;
        }
        double now = metric(m0.data, "rssBytes");
        if (now - prev < 262144 && prev - now < 262144)
            break;
    }
    /* one channel per connection (c0, c1, ...): every connection has a live query of its own */
    uint64_t t = lg_now();
    int r = subs_setup(S.o->conns, 0);
    double secs = (double)(lg_now() - t) / SEC;
    lg_run(&S.lg, lg_now() + 500 * MS); /* idle: let the server settle */
    fetch_metrics(&m1);
    double rss0 = metric(m0.data, "rssBytes"), rss = metric(m1.data, "rssBytes");
    double conns = metric(m1.data, "connections"), live = metric(m1.data, "liveQueries");
    double per = S.ready ? (rss - rss0) / (double)S.ready : 0;
    double at100k = rss0 + per * 100000;
    printf("  %ld connections ready in %.1f s; server RSS %.1f MiB (idle %.1f MiB), %.0f B per "
           "connection; server reports %.0f connections, %.0f live queries\n",
           S.ready, secs, rss / 1048576, rss0 / 1048576, per, conns, live);
    jfig("connections", (double)S.ready);
    jfig("rss_bytes", rss);
    jfig("rss_idle_bytes", rss0);
    jfig("bytes_per_connection", per);
    jfig("rss_at_100k_bytes", at100k);
    jfig("setup_s", secs);
    jfig("server_live_queries", live);
    buf_release(&m0);
    buf_release(&m1);
    char fig[200];
    int measured = S.ready >= 100000;
    if (measured)
        snprintf(fig, sizeof fig, "%ld conns: RSS %.2f GiB (%.0f B/conn)", S.ready,
                 rss / 1073741824, per);
    else
        snprintf(fig, sizeof fig,
                 "%ld conns: RSS %.0f MiB (%.0f B/conn) -> %.2f GiB at 100k (extrapolated)",
                 S.ready, rss / 1048576, per, at100k / 1073741824);
    /* issue 14's target: at most 4 KiB of server RSS per subscribed connection, 100k in 0.5 GiB */
    int pass = r == 0 && per <= 4096 && at100k <= 0.5 * 1073741824;
    return json_end(pass ? "PASS" : "MISS", fig, "<= 4 KiB/conn, 100k in <= 0.5 GiB");
}

/* ---- scenarios: actor-rpc and actor-fanout (live actors, bench/actors-app) ---- */

static char actor_id[64]; /* a fresh instance per run */
#define AFAN_WARMUP 10    /* actor-fanout: calls not counted */

static void arpc_send(struct lg_conn *c)
{
    long k = S.seq++;
    buf_reset(&S.msg);
    buf_appendf(&S.msg,
                "{\"type\":\"rpc\",\"id\":%ld,\"actor\":\"counter\",\"actorId\":\"%s\","
                "\"method\":\"increment\"}",
                k, actor_id);
    if (!c->rtt)
        c->rtt = vr_calloc(LG_RTT_RING, sizeof *c->rtt);
    c->rtt[(c->rtt_head + c->inflight) % LG_RTT_RING] = lg_now();
    c->inflight++;
    lg_ws_send(&S.lg, c, S.msg.data, S.msg.len);
}

static void arpc_open(struct lg *lg, struct lg_conn *c)
{
    for (long i = 0; i < S.o->depth; i++)
        arpc_send(c);
}

/* One connection's results come in the order of its calls (one instance, one call at a time),
 * so the send-time ring matches them. */
static void arpc_ws(struct lg *lg, struct lg_conn *c, const char *m, size_t n)
{
    if (!has_type(m, n, "rpc:result"))
        return;
    uint64_t now = lg_now();
    if (c->inflight) {
        uint64_t t = c->rtt[c->rtt_head % LG_RTT_RING];
        c->rtt_head++;
        c->inflight--;
        if (now >= S.t0 && now < S.t_end)
            hist_record(&S.lat, now - t);
    }
    if (!memmem(m, n, "\"error\":", 8)) {
        if (now >= S.t0 && now < S.t_end)
            S.completed++;
    } else {
        S.failed++;
        snprintf(S.lasterr, sizeof S.lasterr, "%.*s", (int)(n < 190 ? n : 190), m);
    }
    if (now < S.t_end)
        arpc_send(c);
    else if (c->inflight == 0 && ++S.ready == S.o->conns)
        lg->stop = 1;
}

static int run_actor_rpc(void)
{
    struct lg_handlers h = {.on_open = arpc_open, .on_ws = arpc_ws, .on_close = sub_close};
    S.lg.h = h;
    S.t0 = lg_now() + 1 * SEC; /* warm-up */
    S.t_end = S.t0 + (uint64_t)(S.o->duration * SEC);
    for (long i = 0; i < S.o->conns; i++) {
        if (!lg_connect(&S.lg, LG_WS, "/api/actors")) {
            fprintf(stderr, "loadgen: %s\n", S.lg.err);
            return -1;
        }
    }
    lg_run(&S.lg, S.t_end + (uint64_t)(S.o->timeout * SEC));
    double rate = (double)S.completed / S.o->duration;
    print_hist("call round trip", &S.lat);
    printf("  %ld calls in %.1f s (after 1 s warm-up), %ld failed%s%s\n", S.completed,
           S.o->duration, S.failed, S.failed ? ": " : "", S.failed ? S.lasterr : "");
    jfig("calls_per_s", rate);
    jfig("failed", (double)S.failed);
    jhist("rtt", &S.lat);
    char fig[160];
    snprintf(fig, sizeof fig,
             "%.0f calls/s, rtt p50 %.0f us, p99 %.0f us (%ld conn x %ld in flight)", rate,
             (double)hist_percentile(&S.lat, 50) / 1000, (double)hist_percentile(&S.lat, 99) / 1000,
             S.o->conns, S.o->depth);
    return json_end(rate >= 150000 && !S.failed ? "PASS" : "MISS", fig, ">= 150,000/s");
}

static void afan_open(struct lg *lg, struct lg_conn *c)
{
    if (c->user == 2) {
        S.writer_ready = 1;
        return;
    }
    buf_reset(&S.msg);
    buf_appendf(&S.msg, "{\"type\":\"state:sub\",\"actor\":\"board\",\"actorId\":\"%s\"}",
                actor_id);
    lg_ws_send(&S.lg, c, S.msg.data, S.msg.len);
}

static void afan_ws(struct lg *lg, struct lg_conn *c, const char *m, size_t n)
{
    if (has_type(m, n, "welcome"))
        return;
    if (has_type(m, n, "error") || (c->user == 2 && memmem(m, n, "\"error\":", 8))) {
        S.failed++;
        snprintf(S.lasterr, sizeof S.lasterr, "%.*s", (int)(n < 190 ? n : 190), m);
        return;
    }
    if (c->user == 1 && has_type(m, n, "state:snapshot")) { /* subscribed */
        c->user = 3;
        S.ready++;
        S.opening--;
        if (S.ready == S.target_subs)
            lg->stop = S.phase == 0;
        else
            subs_top_up();
        return;
    }
    const char *p;
    if (c->user != 3 || !has_type(m, n, "state:patch") ||
        !(p = memmem(m, n, "\"/seq\",\"value\":", 15)))
        return;
    uint64_t now = lg_now();
    long k = strtol(p + 15, NULL, 10) - 1;
    if (k < 0 || k >= S.nseq || !S.sent[k])
        return;
    S.got[k]++;
    if (k >= AFAN_WARMUP)
        hist_record(&S.lat, now - S.sent[k]);
    if (k == S.seq - 1 && (long)S.got[k] == S.target_subs) {
        if (k >= AFAN_WARMUP)
            hist_record(&S.last, now - S.sent[k]);
        lg->stop = 1;
    }
}

static int run_actor_fanout(void)
{
    struct lg_handlers h = {.on_open = afan_open, .on_ws = afan_ws, .on_close = sub_close};
    S.lg.h = h;
    sub_path = "/api/actors";
    if (subs_setup(S.o->conns, 1) < 0)
        return -1;
    S.phase = 1;
    long incomplete = 0;
    lg_run(&S.lg, lg_now() + 100 * MS); /* the writer's upgrade */
    uint64_t end = lg_now() + (uint64_t)(S.o->duration * SEC);
    for (long w = 0; w < S.nseq && lg_now() < end && !S.failed; w++) {
        long k = S.seq++;
        buf_reset(&S.msg);
        buf_appendf(&S.msg,
                    "{\"type\":\"rpc\",\"id\":%ld,\"actor\":\"board\",\"actorId\":\"%s\","
                    "\"method\":\"set\",\"input\":{\"seq\":%ld,\"t\":0}}",
                    k + 1, actor_id, k + 1);
        S.sent[k] = lg_now();
        lg_ws_send(&S.lg, S.writer, S.msg.data, S.msg.len);
        lg_run(&S.lg, lg_now() + 5 * SEC);
        if ((long)S.got[k] < S.target_subs) {
            incomplete++;
            fprintf(stderr, "  call %ld reached %u of %ld subscribers in 5 s\n", k + 1, S.got[k],
                    S.target_subs);
        }
        lg_run(&S.lg, lg_now() + 20 * MS); /* a pause between calls */
    }
    long counted = S.seq > AFAN_WARMUP ? S.seq - AFAN_WARMUP : 0;
    print_hist("last delivery per call", &S.last);
    print_hist("every delivery", &S.lat);
    printf("  %ld calls (after %d warm-up), %ld incomplete, %ld failed%s%s\n", counted, AFAN_WARMUP,
           incomplete, S.failed, S.failed ? ": " : "", S.failed ? S.lasterr : "");
    jfig("calls", (double)counted);
    jfig("incomplete_calls", (double)incomplete);
    jhist("last", &S.last);
    jhist("each", &S.lat);
    char fig[160];
    snprintf(fig, sizeof fig, "last delivery p50 %.2f ms, p99 %.2f ms (%ld subs, %ld calls)",
             (double)hist_percentile(&S.last, 50) / MS, (double)hist_percentile(&S.last, 99) / MS,
             S.o->conns, counted);
    int ok = !incomplete && !S.failed && S.last.count > 0;
    return json_end(ok ? "INFO" : "MISS", fig, "none (measured)");
}

/* ---- main ---- */

static const char USAGE[] =
    "usage: loadgen SCENARIO --port N [options]\n"
    "scenarios: mutations push-latency fanout precision http-query connections actor-rpc\n"
    "           actor-fanout (the last two against bench/actors-app)\n"
    "  --host ADDR       loopback target (127.0.0.0/8 or ::1), default 127.0.0.1\n"
    "  --conns N         clients or subscriber connections\n"
    "  --depth N         pipelined requests per client (mutations, http-query, actor-rpc)\n"
    "  --writes N        writes (fanout, precision; actor-fanout: calls, 10 of them warm-up)\n"
    "  --rate R          writes per second (push-latency)\n"
    "  --qper N          queries per connection (precision)\n"
    "  --distinct 1      http-query: every request with arguments of its own (a query result\n"
    "                    cache misses every time)\n"
    "  --duration S      measurement time bound, seconds\n"
    "  --timeout S       setup time bound, seconds\n"
    "  --max-pending N   connections opening at once\n"
    "  --sources N       loopback source addresses 127.0.0.2.. to rotate through (0: none)\n"
    "  --out FILE        write results JSON\n"
    "  --commit SHA      recorded in the JSON\n"
    "  --note TEXT       recorded in the JSON (e.g. \"machine shared\")\n"
    "  --durability MODE the server's --durability (full or relaxed), recorded in the JSON\n";

static void defaults(struct opts *o)
{
    const char *s = o->scenario;
    o->host = "127.0.0.1";
    o->duration = 10;
    o->timeout = 60;
    o->depth = 1;
    o->qper = 1;
    o->writes = 0;
    o->rate = 0;
    o->max_pending = 512;
    if (!strcmp(s, "mutations")) {
        o->conns = 8;
        o->depth = 64;
        o->duration = 10;
    } else if (!strcmp(s, "push-latency")) {
        o->conns = 1000;
        o->rate = 1000;
        o->duration = 10;
    } else if (!strcmp(s, "fanout")) {
        o->conns = 10000;
        o->writes = 20;
        o->duration = 60;
    } else if (!strcmp(s, "precision")) {
        o->conns = 100;
        o->qper = 100;
        o->writes = 1000;
        o->duration = 30;
    } else if (!strcmp(s, "http-query")) {
        o->conns = 8;
        o->depth = 16;
        o->duration = 10;
    } else if (!strcmp(s, "connections")) {
        o->conns = 100000;
        o->timeout = 240;
    } else if (!strcmp(s, "actor-rpc")) {
        o->conns = 1;
        o->depth = 256;
        o->duration = 5;
    } else if (!strcmp(s, "actor-fanout")) {
        o->conns = 1000;
        o->writes = 210;
        o->duration = 60;
    }
}

static int parse_long(const char *s, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < 0)
        return -1;
    *out = v;
    return 0;
}

int main(int argc, char **argv)
{
    struct opts o = {0};
    long nsrc = 8;
    int r = 1;
    if (argc < 2 || argv[1][0] == '-') {
        fputs(USAGE, stderr);
        return 2;
    }
    o.scenario = argv[1];
    static const char *const known[] = {"mutations",  "push-latency", "fanout",    "precision",
                                        "http-query", "connections",  "actor-rpc", "actor-fanout"};
    int ok = 0;
    for (size_t i = 0; i < sizeof known / sizeof *known; i++)
        ok |= !strcmp(o.scenario, known[i]);
    if (!ok) {
        fprintf(stderr, "loadgen: unknown scenario \"%s\"\n%s", o.scenario, USAGE);
        return 2;
    }
    defaults(&o);
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        long n = 0;
        if (!v) {
            fprintf(stderr, "loadgen: %s needs a value\n", a);
            return 2;
        }
        i++;
        if (!strcmp(a, "--host"))
            o.host = v;
        else if (!strcmp(a, "--out"))
            o.out = v;
        else if (!strcmp(a, "--commit"))
            o.commit = v;
        else if (!strcmp(a, "--note"))
            o.note = v;
        else if (!strcmp(a, "--durability"))
            o.durability = v;
        else if (!strcmp(a, "--duration") || !strcmp(a, "--timeout") || !strcmp(a, "--rate")) {
            char *end;
            double d = strtod(v, &end);
            if (end == v || *end || !(d > 0)) {
                fprintf(stderr, "loadgen: %s: not a positive number: %s\n", a, v);
                return 2;
            }
            *(!strcmp(a, "--duration")  ? &o.duration
              : !strcmp(a, "--timeout") ? &o.timeout
                                        : &o.rate) = d;
        } else if (parse_long(v, &n) < 0) {
            fprintf(stderr, "loadgen: %s: not a number: %s\n", a, v);
            return 2;
        } else if (!strcmp(a, "--port"))
            o.port = (int)n;
        else if (!strcmp(a, "--conns") && n > 0)
            o.conns = n;
        else if (!strcmp(a, "--depth") && n > 0 && n < LG_RTT_RING)
            o.depth = n;
        else if (!strcmp(a, "--writes") && n > 0)
            o.writes = n;
        else if (!strcmp(a, "--qper") && n > 0)
            o.qper = n;
        else if (!strcmp(a, "--distinct") && (n == 0 || n == 1))
            o.distinct = n;
        else if (!strcmp(a, "--max-pending") && n > 0)
            o.max_pending = n;
        else if (!strcmp(a, "--sources") && n < 250)
            nsrc = n;
        else {
            fprintf(stderr, "loadgen: bad option or value: %s %s\n%s", a, v, USAGE);
            return 2;
        }
    }
    S.o = &o;
    struct lg_handlers none = {0};
    if (lg_init(&S.lg, &none, &S) < 0) {
        fprintf(stderr, "loadgen: %s\n", S.lg.err);
        return 1;
    }
    S.lg.nsrc = (int)nsrc;
    buf_init(&S.msg, BUF_NOLIMIT);
    hist_init(&S.lat);
    hist_init(&S.last);
    if (lg_target_set(&S.lg, o.host, o.port) < 0) {
        fprintf(stderr, "loadgen: %s\n", S.lg.err);
        goto out;
    }
    uint64_t need = (uint64_t)o.conns + 64;
    if (lg_raise_nofile(&S.lg, need) < 0) {
        fprintf(stderr, "loadgen: %s\n", S.lg.err);
        goto out;
    }
    S.nseq = o.writes > 0 ? o.writes : (long)(o.rate * o.duration) + 16;
    if (S.nseq < 16)
        S.nseq = 16;
    struct timespec now_ts;
    clock_gettime(CLOCK_REALTIME, &now_ts);
    S.seq_base = (long)now_ts.tv_sec * 1000000 + now_ts.tv_nsec / 1000;
    S.sent = vr_calloc((size_t)S.nseq, sizeof *S.sent);
    S.got = vr_calloc((size_t)S.nseq, sizeof *S.got);
    snprintf(actor_id, sizeof actor_id, "bench-c-%d-%ld", (int)getpid(), (long)now_ts.tv_sec);
    printf("%s: target %s:%d\n", o.scenario, S.lg.host, o.port);
    json_begin();
    int rr;
    if (!strcmp(o.scenario, "mutations"))
        rr = run_mutations();
    else if (!strcmp(o.scenario, "push-latency"))
        rr = run_push_latency();
    else if (!strcmp(o.scenario, "fanout"))
        rr = run_fanout();
    else if (!strcmp(o.scenario, "precision"))
        rr = run_precision();
    else if (!strcmp(o.scenario, "http-query"))
        rr = run_http_query();
    else if (!strcmp(o.scenario, "actor-rpc"))
        rr = run_actor_rpc();
    else if (!strcmp(o.scenario, "actor-fanout"))
        rr = run_actor_fanout();
    else
        rr = run_connections();
    if (rr < 0) {
        printf("ROW\t%s\t%s\t-\tERROR\n", o.scenario, S.lasterr[0] ? S.lasterr : "did not run");
        buf_release(&J);
    }
    r = rr < 0 ? 1 : 0;
out:
    size_t opened = S.lg.opened;
    lg_free(&S.lg);
    if (S.lg.closed != opened)
        fprintf(stderr, "loadgen: BUG: opened %zu connections, closed %zu\n", opened, S.lg.closed);
    vr_free(S.sent);
    vr_free(S.got);
    buf_release(&S.msg);
    return r;
}

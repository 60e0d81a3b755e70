/* floor: the floor program's command line (floor.h; docs/benchmarks.md, "The floor"):
 * `floor serve` runs floor_srv until SIGTERM/SIGINT, then prints a summary and checks that it
 * closed every connection it accepted; `floor push` runs floor_push once. */
#include "floor.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "base/banned.h"

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static const char USAGE[] =
    "usage: floor serve [--mode send|uring|threads] [--threads N] [--host ADDR] [--port N]\n"
    "                   [--sync-dir DIR]\n"
    "       floor push --dir DIR [--pings N] [--syncs N] [--duration S] [--out FILE]\n"
    "  serve: a minimal server for `loadgen fanout|push-latency|mutations|http-query|actor-rpc`\n"
    "         (loopback only); prints \"listening on http://HOST:PORT\", runs until SIGTERM/SIGINT,\n"
    "         then a summary. --sync-dir: one WAL-like commit + fdatasync there per loop iteration\n"
    "  push:   loopback WebSocket ping-pong and WAL-like commits (+ fdatasync) in DIR; --out "
    "JSON\n";

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(USAGE, stderr);
        return 2;
    }
    const char *cmd = argv[1], *host = "127.0.0.1", *dir = NULL, *outp = NULL, *sync_dir = NULL;
    const char *mode_s = "send";
    long port = 0, threads = 2, pings = 5000, syncs = 200;
    double secs = 6;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) {
            fprintf(stderr, "floor: %s needs a value\n%s", a, USAGE);
            return 2;
        }
        i++;
        char *end = NULL;
        if (!strcmp(a, "--mode"))
            mode_s = v;
        else if (!strcmp(a, "--host"))
            host = v;
        else if (!strcmp(a, "--dir"))
            dir = v;
        else if (!strcmp(a, "--sync-dir"))
            sync_dir = v;
        else if (!strcmp(a, "--out"))
            outp = v;
        else if (!strcmp(a, "--duration") && (secs = strtod(v, &end)) > 0 && !*end)
            ;
        else if ((!strcmp(a, "--port") || !strcmp(a, "--threads") || !strcmp(a, "--pings") ||
                  !strcmp(a, "--syncs")) &&
                 (errno = 0, strtol(v, &end, 10) >= 0) && !errno && end != v && !*end) {
            long n = strtol(v, NULL, 10);
            *(!strcmp(a, "--port")      ? &port
              : !strcmp(a, "--threads") ? &threads
              : !strcmp(a, "--pings")   ? &pings
                                        : &syncs) = n;
        } else {
            fprintf(stderr, "floor: bad option or value: %s %s\n%s", a, v, USAGE);
            return 2;
        }
    }
    if (!strcmp(cmd, "push")) {
        if (!dir) {
            fprintf(stderr, "floor push: --dir is required\n");
            return 2;
        }
        return floor_push_run(dir, pings, syncs, secs, outp);
    }
    if (strcmp(cmd, "serve")) {
        fprintf(stderr, "floor: unknown command \"%s\"\n%s", cmd, USAGE);
        return 2;
    }
    enum floor_mode mode;
    if (!strcmp(mode_s, "send"))
        mode = FLOOR_SEND;
    else if (!strcmp(mode_s, "uring"))
        mode = FLOOR_URING;
    else if (!strcmp(mode_s, "threads"))
        mode = FLOOR_THREADS;
    else {
        fprintf(stderr, "floor: --mode must be send, uring or threads, not \"%s\"\n", mode_s);
        return 2;
    }
    if (threads < 1 || threads > FLOOR_MAX_THREADS) {
        fprintf(stderr, "floor: --threads must be 1..%d\n", FLOOR_MAX_THREADS);
        return 2;
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    static struct floor_srv s;
    int r = floor_srv_init(&s, host, (int)port, mode, (int)threads, &stop_flag);
    if (r == 0 && sync_dir)
        r = floor_srv_sync_dir(&s, sync_dir);
    if (r == 0) {
        printf("floor: mode %s%s%s%s\n", mode_s,
               mode == FLOOR_URING     ? " (IORING_OP_SEND, up to 4096 per io_uring_enter)"
               : mode == FLOOR_THREADS ? " (send() split over threads)"
                                       : " (one send() per socket)",
               sync_dir ? "; a WAL-like commit + fdatasync per loop iteration in " : "",
               sync_dir ? sync_dir : "");
        printf("listening on http://%s:%d\n", host, s.port);
        fflush(stdout);
        r = floor_srv_run(&s);
    }
    if (r < 0)
        fprintf(stderr, "floor: %s\n", s.err);
    if (s.broadcasts)
        printf("floor: %llu broadcasts, %llu sends, %llu fdatasyncs; in-server time per broadcast "
               "p50 %.2f ms, max %.2f ms (mode %s)\n",
               (unsigned long long)s.broadcasts, (unsigned long long)s.sends,
               (unsigned long long)s.wal.commits, floor_ms(hist_percentile(&s.bcast, 50)),
               floor_ms(s.bcast.max), mode_s);
    size_t accepted = s.accepted;
    floor_srv_release(&s);
    if (s.closed != accepted)
        fprintf(stderr, "floor: BUG: accepted %zu connections, closed %zu\n", accepted, s.closed);
    return r < 0 ? 1 : 0;
}

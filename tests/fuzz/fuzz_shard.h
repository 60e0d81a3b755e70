/* fuzz_shard: the real shard a protocol fuzz target runs against — a store in a temp file (gone
 * at exit) and an app bundle in the JS runtime, plus an event loop. Shared by sync_harness.h
 * (fuzz_sync, fuzz_convex_sync) and fuzz_actors.c. Include after the protocol's source. */
#ifndef VR_FUZZ_SHARD_H
#define VR_FUZZ_SHARD_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static struct loop *loop;
static struct shard *shard;
static char db_path[4096];

/* The database and its -wal and -shm files go when the fuzzer exits (libFuzzer exits through
 * exit() at -max_total_time and after -runs; a crash leaves them to run.sh's TMPDIR cleanup). */
static void fuzz_shard_remove_db(void)
{
    static const char *const sfx[] = { "", "-wal", "-shm", "-journal" };
    char p[sizeof db_path + 16];
    for (size_t i = 0; i < sizeof sfx / sizeof sfx[0]; i++) {
        snprintf(p, sizeof p, "%s%s", db_path, sfx[i]);
        unlink(p);
    }
}

/* Opens the shard once with `bundle` loaded; `name` names the temp file and the failure. */
static void fuzz_shard_open(const char *name, const char *bundle, size_t len)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(db_path, sizeof db_path, "%s/vireo-%s-XXXXXX", tmp && *tmp ? tmp : "/tmp", name);
    int fd = mkstemp(db_path);
    if (fd < 0)
        abort();
    close(fd);
    unlink(db_path);
    atexit(fuzz_shard_remove_db);
    struct buf err = BUF_INIT(BUF_NOLIMIT);
    struct js_options opts = { .timeout_ms = 1000, .action_timeout_ms = 1000 };
    /* a fuzzer loses nothing in a power cut: no sync per batch */
    struct store_options sopts = { .durability = STORE_DURABILITY_RELAXED };
    if (shard_open(db_path, &opts, &sopts, &shard, &err) < 0 ||
        shard_load(shard, bundle, len, "fuzz", &err) < 0) {
        fprintf(stderr, "%s setup: %s\n", name, err.data);
        abort();
    }
    buf_release(&err);
    loop = loop_new();
}

#endif

/* fuzz_sync: sync-protocol messages (src/proto/sync.c) against a real shard (the harness is
 * sync_harness.h). Checks that no message, however malformed, crashes the server or corrupts its
 * state. */
#include "proto/sync.c"

#define FUZZ_NAME "fuzz_sync"
#define FUZZ_CONVEX 0
#include "sync_harness.h"

/* fuzz_convex_sync: Convex sync-protocol messages (src/proto/convex_sync.c) against a real shard
 * (the harness is sync_harness.h). Checks that no message, however malformed, crashes the server
 * or corrupts its state. sync.c comes linked. */
#include "proto/convex_sync.c"

#define FUZZ_NAME "fuzz_convex_sync"
#define FUZZ_CONVEX 1
#include "sync_harness.h"

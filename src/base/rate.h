/* rate: the token bucket of --max-messages-per-second, one per connection, shared by the sync
 * protocol (proto/sync.c) and live actors (proto/actors.c): `rate` tokens a second, at most two
 * seconds' worth banked (a fresh bucket starts full: tokens = 2 * rate). */
#ifndef VR_BASE_RATE_H
#define VR_BASE_RATE_H

#include <stdint.h>

/* Takes one token from the bucket (*tokens, refilled since *last_ms up to now_ms). Returns -1
 * when the message may pass (rate <= 0: no limit), else the ms until a token is there (>= 1). */
static inline long rate_take(double *tokens, uint64_t *last_ms, double rate, uint64_t now_ms)
{
    if (rate <= 0)
        return -1;
    *tokens += (double)(now_ms - *last_ms) * rate / 1000.0;
    if (*tokens > 2.0 * rate)
        *tokens = 2.0 * rate;
    *last_ms = now_ms;
    if (*tokens >= 1.0) {
        *tokens -= 1.0;
        return -1;
    }
    long wait = (long)((1.0 - *tokens) * 1000.0 / rate + 0.999);
    return wait < 1 ? 1 : wait;
}

#endif

/* timers: the wait between an action's timers. While the action's promise is pending and its
 * timer queue (prelude 59_timers.js) holds timers, the calling thread (an action worker) sleeps
 * until the next one is due, in steps of at most TIMER_STEP_MS so that a stop request (server
 * shutdown) is seen, then calls the prelude's timersRun(true), whose callbacks (and the
 * microtasks they queue, which JSC drains as the call returns) may settle the action;
 * timersRun(false) then says when the next timer is due. The action's time
 * limit (js_options.action_timeout_ms) counts wall time here: a timer due past it fails the
 * action at once with ExecutionTimeout instead of sleeping first.
 *
 * This blocks the calling thread: it serves only actions run by js_call. Action workers run
 * actions with js_exec_start (exec.c), whose timers fire from the worker's event loop. */
#include <time.h>

#include "base/clock.h"
#include "js/js_int.h"

#include "base/banned.h"

#define TIMER_STEP_MS 50

static void sleep_ms(uint64_t ms)
{
    struct timespec t = { .tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)(ms % 1000) * 1000000L };
    while (nanosleep(&t, &t) < 0)
        ; /* EINTR: sleep the rest */
}

void js_timers_drain(struct js_runtime *rt, uint64_t start_ms)
{
    JSContextRef ctx = rt->ctx;
    uint64_t deadline = start_ms + rt->opts.action_timeout_ms;
    JSValueRef no = JSValueMakeBoolean(ctx, false), yes = JSValueMakeBoolean(ctx, true);
    while (!rt->done && !rt->timed_out) {
        JSValueRef exc = NULL;
        JSValueRef r = JSObjectCallAsFunction(ctx, rt->timers_fn, NULL, 1, &no, &exc);
        if (exc || rt->done || rt->timed_out || !r || !JSValueIsNumber(ctx, r))
            return;
        double next = JSValueToNumber(ctx, r, NULL);
        if (next < 0)
            return; /* no timer left: the promise never settles (js_call reports it) */
        uint64_t now = clock_mono_ms();
        uint64_t due = now + (uint64_t)next;
        if (due > deadline) {
            rt->timed_out = 1;
            return;
        }
        while ((now = clock_mono_ms()) < due) {
            if (js_stop_requested(rt)) {
                rt->timed_out = rt->stopped = 1;
                return;
            }
            uint64_t left = due - now;
            sleep_ms(left < TIMER_STEP_MS ? left : TIMER_STEP_MS);
        }
        /* fires what is due; JSC then runs the microtasks the callbacks queued */
        JSObjectCallAsFunction(ctx, rt->timers_fn, NULL, 1, &yes, &exc);
        if (exc)
            return;
    }
}

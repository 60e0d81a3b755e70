/* jsc_clock: JavaScriptCore's VM entries, counted per thread.
 * JSC's watchdog (the CPU time limit) sets its deadline anew at every VM entry, and every
 * microtask job is an entry of its own that JSC runs before control comes back to C. A function
 * that loops over awaits (`for (;;) { work(); await null; }`) is thus never stopped by the
 * watchdog; the prelude's watch (50_functions.js roundsWatch) stops it, and must know whether
 * anything but itself ran since its last round, to let the queue drain when nothing else is
 * queued (a call that awaits a timer, an operation, or a promise that never settles).
 * With a time limit set, the watchdog reads the thread's CPU clock once at each entry
 * (WTF::CPUTime::forCurrentThread → clock_gettime(CLOCK_THREAD_CPUTIME_ID), a system call: that
 * clock has no vDSO path); this module defines clock_gettime in the executable, counts the calls
 * made from that reader and answers them with the monotonic clock (vDSO, no system call); every
 * other call goes to the C library unchanged. Wall time is never less than the thread's CPU
 * time, so the watchdog's checks come no later than they would on the CPU clock; the runtime's
 * callback then decides on the real CPU time (runtime.c on_time_limit). */
#ifndef VR_JS_JSC_CLOCK_H
#define VR_JS_JSC_CLOCK_H

#include <stdbool.h>
#include <stdint.h>

/* Finds JSC's CPU-clock reader; until then nothing is counted. Idempotent, thread-safe. */
void jsc_clock_init(void);
/* Whether the reader was found and JSC's calls reach this module's clock_gettime. */
bool jsc_clock_active(void);
/* The reader's calls on this thread so far: one per VM entry with a time limit set, and one per
 * watchdog check (a firing of its timer). */
uint64_t jsc_clock_reads(void);
/* Until it is set again, each counted read on this thread also stores the new count in *slot
 * (NULL: nowhere), so that JavaScript can read it from memory it shares with C instead of
 * through a native call. Returns the slot it replaces, for the caller to put back. */
double *jsc_clock_mirror(double *slot);

#endif

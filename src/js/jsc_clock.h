/* jsc_clock: the clock JavaScriptCore's watchdog reads, answered cheaply and per execution.
 * JSC's watchdog (the CPU time limit: JSContextGroupSetExecutionTimeLimit) reads the thread's CPU
 * clock on every VM entry — a call and each microtask job is one — and that read is a system
 * call (CLOCK_THREAD_CPUTIME_ID has no vDSO path). This module defines clock_gettime in the
 * executable; a call made from inside WTF::CPUTime::forCurrentThread (JSC's only reader of that
 * clock: the watchdog) is answered with the monotonic clock (vDSO) instead, every other call goes
 * to the C library unchanged. Wall time is never less than the thread's CPU time, so the
 * watchdog's checks come no later than a CPU deadline would; the runtime's callback then reads
 * the real thread CPU time and decides (runtime.c on_time_limit).
 * It also counts an execution's time across VM entries: JSC restarts its deadline at each entry,
 * so an execution made of many short entries (`for (;;) await null`) would never be checked.
 * Once an armed window has passed, each read is answered a second later than the one before, so
 * the next check fires whatever entry it happens in. */
#ifndef VR_JS_JSC_CLOCK_H
#define VR_JS_JSC_CLOCK_H

#include <stdbool.h>

/* Finds JSC's CPU-clock reader; until then every call is forwarded. Once, before the first VM. */
void jsc_clock_init(void);
/* Whether JSC's watchdog reads go through this module (false: the symbol was not found, and the
 * watchdog reads the real thread CPU clock on every VM entry, as without this module). */
bool jsc_clock_active(void);
/* This thread's execution: the watchdog's next check is due window_ms of wall time from now,
 * whatever the VM entries in between. */
void jsc_clock_arm(double window_ms);
/* No execution on this thread: the watchdog's windows are per VM entry again. */
void jsc_clock_disarm(void);

#endif

/* jsc_clock: clock_gettime as JavaScriptCore's watchdog sees it (jsc_clock.h says why).
 * How: libjavascriptcoregtk calls clock_gettime through its PLT, and a definition in the
 * executable comes first in symbol lookup, so this one receives every call made by any shared
 * library (the C library's own callers use its internal entry and never come here). A call whose
 * return address lies inside WTF::CPUTime::forCurrentThread (an exported symbol: its extent is
 * read from the dynamic symbol table) and asks for CLOCK_THREAD_CPUTIME_ID gets the watchdog's
 * time; everything else is forwarded to the next definition (the C library's, or a sanitizer's
 * interceptor) with its arguments unchanged. Actions' CPU accounting and the runtime's own
 * checks read the real thread CPU clock through the same forwarding. */
#include <dlfcn.h>
#include <link.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "js/jsc_clock.h"

#include "base/banned.h"

typedef int (*clock_fn)(clockid_t, struct timespec *);

/* The symbol JSC's watchdog reads the CPU clock through (Source/WTF/wtf/posix/CPUTimePOSIX.cpp). */
#define CPU_READER "_ZN3WTF7CPUTime16forCurrentThreadEv"
/* How much later each read past an armed window is answered: more than any watchdog period
 * (runtime.c JS_TICK_MS), so that JSC's `now >= deadline` holds at the next check. */
#define STEP_NS 1000000000LL

static clock_fn real_clock;            /* the next clock_gettime after ours */
static uintptr_t reader_lo, reader_len; /* WTF::CPUTime::forCurrentThread's code */

/* The execution running on this thread (jsc_clock_arm). */
static __thread struct {
    int armed;
    int64_t due_ns;  /* CLOCK_MONOTONIC of the next check */
    int64_t steps;   /* reads answered since then */
} cur;

static clock_fn next_clock(void)
{
    clock_fn f = __atomic_load_n(&real_clock, __ATOMIC_ACQUIRE);
    if (!f) {
        f = (clock_fn)dlsym(RTLD_NEXT, "clock_gettime");
        if (f)
            __atomic_store_n(&real_clock, f, __ATOMIC_RELEASE);
    }
    return f;
}

static int forward(clockid_t id, struct timespec *ts)
{
    clock_fn f = next_clock();
    if (f)
        return f(id, ts);
    return (int)syscall(SYS_clock_gettime, id, ts); /* no C library below us: cannot happen */
}

static int64_t mono_ns(void)
{
    struct timespec t;
    forward(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
}

/* The watchdog's "CPU time": the monotonic clock, and once the armed window has passed, one
 * STEP_NS more for each read, so that a deadline JSC computed at an earlier read has passed. */
static int watchdog_time(struct timespec *ts)
{
    int64_t t = mono_ns();
    if (cur.armed && t >= cur.due_ns)
        t += ++cur.steps * STEP_NS;
    ts->tv_sec = t / 1000000000LL;
    ts->tv_nsec = t % 1000000000LL;
    return 0;
}

int clock_gettime(clockid_t id, struct timespec *ts)
{
    if (id == CLOCK_THREAD_CPUTIME_ID) {
        uintptr_t from = (uintptr_t)__builtin_return_address(0);
        if (from - __atomic_load_n(&reader_lo, __ATOMIC_ACQUIRE) <
            __atomic_load_n(&reader_len, __ATOMIC_ACQUIRE))
            return watchdog_time(ts);
    }
    return forward(id, ts);
}

/* Resolved before main, while one thread runs; next_clock() covers a call before this. */
__attribute__((constructor)) static void resolve_next(void)
{
    next_clock();
}

void jsc_clock_init(void)
{
    void *reader = dlsym(RTLD_DEFAULT, CPU_READER);
    Dl_info info;
    const ElfW(Sym) *sym = NULL;
    /* only when JSC's calls reach our definition: the executable exports it */
    if (!reader || dlsym(RTLD_DEFAULT, "clock_gettime") != (void *)clock_gettime ||
        !dladdr1(reader, &info, (void **)&sym, RTLD_DL_SYMENT) || !sym || !sym->st_size)
        return;
    __atomic_store_n(&reader_lo, (uintptr_t)reader, __ATOMIC_RELEASE);
    __atomic_store_n(&reader_len, (uintptr_t)sym->st_size, __ATOMIC_RELEASE);
}

bool jsc_clock_active(void)
{
    return __atomic_load_n(&reader_len, __ATOMIC_ACQUIRE) != 0;
}

void jsc_clock_arm(double window_ms)
{
    cur.armed = 1;
    cur.steps = 0;
    cur.due_ns = mono_ns() + (int64_t)(window_ms * 1e6);
}

void jsc_clock_disarm(void)
{
    cur.armed = 0;
}

/* jsc_clock: counts JavaScriptCore's reads of the thread CPU clock (jsc_clock.h says why).
 * How: libjavascriptcoregtk calls clock_gettime through its PLT, and a definition in the
 * executable comes first in symbol lookup (the linker exports it because a shared library on the
 * link line refers to it), so this one receives every call made by any shared library (the C
 * library's own callers use its internal entry and never come here). A call whose return address
 * lies inside WTF::CPUTime::forCurrentThread (an exported symbol: its extent is read from the
 * dynamic symbol table) and asks for CLOCK_THREAD_CPUTIME_ID is counted and answered with
 * CLOCK_MONOTONIC; every call is forwarded to the next definition (the C library's, or a
 * sanitizer's interceptor), every other one with its arguments unchanged. */
#include <dlfcn.h>
#include <link.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "js/jsc_clock.h"

#include "base/banned.h"

typedef int (*clock_fn)(clockid_t, struct timespec *);

/* The symbol JSC's watchdog reads the CPU clock through (Source/WTF/wtf/posix/CPUTimePOSIX.cpp). */
#define CPU_READER "_ZN3WTF7CPUTime16forCurrentThreadEv"

static clock_fn real_clock;             /* the next clock_gettime after ours */
static uintptr_t reader_lo, reader_len; /* WTF::CPUTime::forCurrentThread's code */
static __thread uint64_t reads;         /* the reader's calls on this thread */
static __thread double *mirror;         /* where each new count is also stored, or NULL */
static pthread_once_t init_once = PTHREAD_ONCE_INIT;

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

int clock_gettime(clockid_t id, struct timespec *ts)
{
    if (id == CLOCK_THREAD_CPUTIME_ID) {
        uintptr_t from = (uintptr_t)__builtin_return_address(0);
        if (from - __atomic_load_n(&reader_lo, __ATOMIC_RELAXED) <
            __atomic_load_n(&reader_len, __ATOMIC_RELAXED)) {
            reads++;
            if (mirror)
                *mirror = (double)reads;
            id = CLOCK_MONOTONIC; /* the watchdog's time: read without a system call */
        }
    }
    clock_fn f = next_clock();
    if (f)
        return f(id, ts);
    return (int)syscall(SYS_clock_gettime, id, ts); /* no C library below us: cannot happen */
}

/* Resolved before main, while one thread runs; next_clock() covers a call before this. */
__attribute__((constructor)) static void resolve_next(void)
{
    next_clock();
}

static void find_reader(void)
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

void jsc_clock_init(void)
{
    pthread_once(&init_once, find_reader);
}

bool jsc_clock_active(void)
{
    return __atomic_load_n(&reader_len, __ATOMIC_ACQUIRE) != 0;
}

uint64_t jsc_clock_reads(void)
{
    return reads;
}

double *jsc_clock_mirror(double *slot)
{
    double *was = mirror;
    mirror = slot;
    return was;
}

/* test_jsc_clock: the clock_gettime this executable defines (src/js/jsc_clock.c). Every clock
 * answers as the kernel does (checked against the raw system call) whoever asks; the reads made
 * by JavaScriptCore's CPU-clock reader, WTF::CPUTime::forCurrentThread (called here through its
 * dynamic symbol, as JSC's watchdog calls it), are counted per thread, and nothing else is, and
 * get the monotonic clock; a VM with a time limit reads it once per entry, each microtask job
 * included. */
#include "test.h"

#include <JavaScriptCore/JavaScript.h>
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "js/js_int.h" /* JSContextGroupSetExecutionTimeLimit */
#include "js/jsc_clock.h"

#include "base/banned.h"

static double raw_s(clockid_t id)
{
    struct timespec t;
    if (syscall(SYS_clock_gettime, id, &t) != 0)
        return -1;
    return t.tv_sec + t.tv_nsec / 1e9;
}

static double ours_s(clockid_t id)
{
    struct timespec t;
    if (clock_gettime(id, &t) != 0)
        return -1;
    return t.tv_sec + t.tv_nsec / 1e9;
}

/* JSC's reader: Seconds is one double, returned as a double */
typedef double (*reader_fn)(void);
static reader_fn reader(void)
{
    return (reader_fn)dlsym(RTLD_DEFAULT, "_ZN3WTF7CPUTime16forCurrentThreadEv");
}

static void burn_ms(double ms)
{
    double end = raw_s(CLOCK_THREAD_CPUTIME_ID) + ms / 1e3;
    volatile unsigned x = 0;
    while (raw_s(CLOCK_THREAD_CPUTIME_ID) < end)
        for (int i = 0; i < 10000; i++)
            x += (unsigned)i;
}

TEST(every_caller_gets_the_kernel_clocks)
{
    jsc_clock_init();
    const clockid_t ids[] = {CLOCK_MONOTONIC,         CLOCK_REALTIME,
                             CLOCK_BOOTTIME,          CLOCK_MONOTONIC_RAW,
                             CLOCK_THREAD_CPUTIME_ID, CLOCK_PROCESS_CPUTIME_ID};
    uint64_t n0 = jsc_clock_reads();
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        burn_ms(1);
        double a = raw_s(ids[i]), b = ours_s(ids[i]), c = raw_s(ids[i]);
        CHECK(a > 0);
        CHECK(a <= b && b <= c);
    }
    CHECK(jsc_clock_reads() == n0); /* our own reads are not JSC's */
    struct timespec t;
    errno = 0;
    CHECK_EQ_INT(clock_gettime((clockid_t)0x7fff, &t), -1);
    CHECK_EQ_INT(errno, EINVAL);
}

TEST(the_readers_calls_are_counted_per_thread)
{
    JSContextGroupRef g = JSContextGroupCreate(); /* JSC is linked and loaded */
    CHECK(g != NULL);
    reader_fn r = reader();
    CHECK(r != NULL);
    if (!r)
        return;
    jsc_clock_init();
    CHECK(jsc_clock_active());
    uint64_t n0 = jsc_clock_reads();
    for (int i = 0; i < 3; i++) {
        burn_ms(1);
        double a = raw_s(CLOCK_MONOTONIC), b = r(), c = raw_s(CLOCK_MONOTONIC);
        CHECK(a <= b && b <= c); /* the monotonic clock, not the thread's CPU time */
    }
    CHECK(jsc_clock_reads() == n0 + 3);
    JSContextGroupRelease(g);
}

static void *count_other(void *arg)
{
    reader_fn r = reader();
    uint64_t *n = arg;
    n[0] = jsc_clock_reads();
    r();
    n[1] = jsc_clock_reads();
    return NULL;
}

TEST(another_threads_reads_are_its_own)
{
    reader_fn r = reader();
    if (!r)
        return;
    jsc_clock_init();
    r();
    uint64_t mine = jsc_clock_reads(), other[2] = {99, 99};
    pthread_t t;
    CHECK_EQ_INT(pthread_create(&t, NULL, count_other, other), 0);
    pthread_join(t, NULL);
    CHECK(other[0] == 0 && other[1] == 1);
    CHECK(jsc_clock_reads() == mine);
}

TEST(a_vm_with_a_time_limit_reads_once_per_microtask_job)
{
    jsc_clock_init();
    JSContextGroupRef g = JSContextGroupCreate();
    JSGlobalContextRef ctx = JSGlobalContextCreateInGroup(g, NULL);
    JSContextGroupSetExecutionTimeLimit(g, 1.0, NULL, NULL);
    JSStringRef src = JSStringCreateWithUTF8CString(
        "let p = Promise.resolve(); for (let i = 0; i < 10; i++) p = p.then(() => i);");
    uint64_t n0 = jsc_clock_reads();
    JSEvaluateScript(ctx, src, NULL, NULL, 1, NULL);
    uint64_t n = jsc_clock_reads() - n0;
    CHECK(n >= 11 && n <= 13); /* the script's entry and ten jobs (and a stray watchdog check) */
    JSStringRelease(src);
    JSGlobalContextRelease(ctx);
    JSContextGroupRelease(g);
}

/* jsc_clock_mirror: each counted read also lands in the slot, until it is replaced; the slot it
 * replaces comes back; nothing lands in a slot once it is unset, nor from another thread */
static void *read_other(void *arg)
{
    (void)arg;
    reader()();
    return NULL;
}

TEST(the_count_follows_in_the_mirror_slot)
{
    reader_fn r = reader();
    if (!r)
        return;
    jsc_clock_init();
    double a = -7, b = -7;
    CHECK(jsc_clock_mirror(&a) == NULL);
    r();
    CHECK(a == (double)jsc_clock_reads());
    r();
    CHECK(a == (double)jsc_clock_reads());
    CHECK(jsc_clock_mirror(&b) == &a);
    double was = a;
    r();
    CHECK(a == was && b == (double)jsc_clock_reads());
    pthread_t t;
    CHECK_EQ_INT(pthread_create(&t, NULL, read_other, NULL), 0);
    pthread_join(t, NULL);
    CHECK(b == (double)jsc_clock_reads()); /* the other thread has no slot of its own */
    CHECK(jsc_clock_mirror(NULL) == &b);
    was = b;
    r();
    CHECK(b == was && a != b);
}

TEST_MAIN()

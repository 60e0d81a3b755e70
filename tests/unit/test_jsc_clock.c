/* test_jsc_clock: the clock_gettime this executable defines (src/js/jsc_clock.c). Every clock
 * asked from anywhere but JavaScriptCore's CPU-clock reader answers as the kernel does (checked
 * against the raw system call); the reader, WTF::CPUTime::forCurrentThread (called here through
 * its dynamic symbol, as JSC's watchdog calls it), gets the thread's real CPU time before
 * jsc_clock_init, the monotonic clock after, and once an armed window has passed, a time one
 * second later at each read; disarming brings the monotonic clock back. */
#include "test.h"

#include <JavaScriptCore/JavaScript.h>
#include <dlfcn.h>
#include <errno.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

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

static void sleep_ms(long ms)
{
    struct timespec t = { ms / 1000, (ms % 1000) * 1000000L };
    while (nanosleep(&t, &t) != 0 && errno == EINTR) {
    }
}

TEST(other_callers_get_the_kernel_clocks)
{
    jsc_clock_init();
    const clockid_t ids[] = { CLOCK_MONOTONIC, CLOCK_REALTIME, CLOCK_BOOTTIME,
                              CLOCK_MONOTONIC_RAW, CLOCK_THREAD_CPUTIME_ID,
                              CLOCK_PROCESS_CPUTIME_ID };
    for (int rep = 0; rep < 2; rep++) {
        if (rep)
            jsc_clock_arm(0); /* armed and past due: other callers still see the kernel's */
        for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
            burn_ms(1);
            double a = raw_s(ids[i]), b = ours_s(ids[i]), c = raw_s(ids[i]);
            CHECK(a > 0);
            CHECK(a <= b && b <= c);
        }
    }
    jsc_clock_disarm();
    /* our own thread CPU reads are CPU time, not wall time */
    CHECK(ours_s(CLOCK_THREAD_CPUTIME_ID) < raw_s(CLOCK_MONOTONIC) - 1);
    /* errors are the C library's */
    struct timespec t;
    errno = 0;
    CHECK_EQ_INT(clock_gettime((clockid_t)0x7fff, &t), -1);
    CHECK_EQ_INT(errno, EINVAL);
}

TEST(jsc_watchdog_reads_the_monotonic_clock)
{
    /* JSC is linked and loaded: its reader exists and calls our clock_gettime */
    JSContextGroupRef g = JSContextGroupCreate();
    CHECK(g != NULL);
    reader_fn r = reader();
    CHECK(r != NULL);
    if (!r)
        return;
    jsc_clock_init();
    CHECK(jsc_clock_active());
    jsc_clock_disarm();
    for (int i = 0; i < 3; i++) {
        double a = raw_s(CLOCK_MONOTONIC), b = r(), c = raw_s(CLOCK_MONOTONIC);
        CHECK(a <= b && b <= c);
    }
    /* armed: the monotonic clock until the window has passed */
    jsc_clock_arm(200);
    double a = raw_s(CLOCK_MONOTONIC), b = r(), c = raw_s(CLOCK_MONOTONIC);
    CHECK(a <= b && b <= c);
    jsc_clock_arm(5);
    sleep_ms(10);
    /* past it: each read a second later than the one before, so a deadline that JSC computed
     * as (an earlier read + its period) has passed at the next check */
    double prev = r();
    CHECK(prev >= raw_s(CLOCK_MONOTONIC) + 0.9);
    for (int i = 0; i < 5; i++) {
        double now = r();
        CHECK(now >= prev + 1.0);
        prev = now;
    }
    /* arming again starts a new window */
    jsc_clock_arm(200);
    a = raw_s(CLOCK_MONOTONIC), b = r(), c = raw_s(CLOCK_MONOTONIC);
    CHECK(a <= b && b <= c);
    jsc_clock_disarm();
    sleep_ms(2);
    a = raw_s(CLOCK_MONOTONIC), b = r(), c = raw_s(CLOCK_MONOTONIC);
    CHECK(a <= b && b <= c);
    JSContextGroupRelease(g);
}

TEST_MAIN()

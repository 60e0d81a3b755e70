/* test.h: the whole unit-test framework. A test file defines TEST(name) functions and ends with
 * TEST_MAIN(); a failed CHECK prints file:line and the expression and the test goes on. The
 * runner prints "N passed, N failed" and exits non-zero on any failure. */
#ifndef VR_TEST_H
#define VR_TEST_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct test_case {
    const char *name;
    void (*fn)(void);
};

static struct test_case test_cases_[512];
static int test_ncases_;
static int test_failed_checks_;

#define TEST(name)                                                                    \
    static void test_##name(void);                                                    \
    __attribute__((constructor)) static void test_register_##name(void)              \
    {                                                                                 \
        test_cases_[test_ncases_++] = (struct test_case){ #name, test_##name };       \
    }                                                                                 \
    static void test_##name(void)

#define CHECK(expr)                                                                   \
    do {                                                                              \
        if (!(expr)) {                                                                \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #expr);  \
            test_failed_checks_++;                                                    \
        }                                                                             \
    } while (0)

#define CHECK_EQ_INT(a, b)                                                            \
    do {                                                                              \
        long long a_ = (long long)(a), b_ = (long long)(b);                           \
        if (a_ != b_) {                                                               \
            fprintf(stderr, "%s:%d: CHECK_EQ_INT failed: %s == %s (%lld != %lld)\n",  \
                    __FILE__, __LINE__, #a, #b, a_, b_);                              \
            test_failed_checks_++;                                                    \
        }                                                                             \
    } while (0)

#define CHECK_EQ_STR(a, b)                                                            \
    do {                                                                              \
        const char *a_ = (a), *b_ = (b);                                              \
        if (!a_ || !b_ || strcmp(a_, b_) != 0) {                                      \
            fprintf(stderr, "%s:%d: CHECK_EQ_STR failed: %s == %s (\"%s\" != \"%s\")\n", \
                    __FILE__, __LINE__, #a, #b, a_ ? a_ : "(null)", b_ ? b_ : "(null)"); \
            test_failed_checks_++;                                                    \
        }                                                                             \
    } while (0)

#define TEST_MAIN()                                                                   \
    int main(int argc, char **argv)                                                   \
    {                                                                                 \
        int passed = 0, failed = 0;                                                   \
        for (int i = 0; i < test_ncases_; i++) {                                      \
            if (argc > 1 && !strstr(test_cases_[i].name, argv[1]))                    \
                continue;                                                             \
            int before = test_failed_checks_;                                         \
            test_cases_[i].fn();                                                      \
            if (test_failed_checks_ == before) {                                      \
                passed++;                                                             \
            } else {                                                                  \
                failed++;                                                             \
                fprintf(stderr, "FAIL %s\n", test_cases_[i].name);                    \
            }                                                                         \
        }                                                                             \
        printf("%d passed, %d failed\n", passed, failed);                             \
        return failed ? 1 : 0;                                                        \
    }

#endif

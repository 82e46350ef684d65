/*
 * check.h: a very small test framework for the C tests of breakwater.
 *
 *   TEST(name) { CHECK(x == 1); CHECK_EQ_INT(a, b); CHECK_STR_EQ(s, "x"); }
 *   int main(void) { RUN(name); return check_summary(); }
 *
 * A test passes when none of its checks failed; a failed check prints its file, line
 * and expression and the test goes on. check_summary() prints the closing line
 * "N passed, M failed" (tests, not checks) and returns the process exit status.
 */
#ifndef BW_CHECK_H
#define BW_CHECK_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static int check_passed;
static int check_failed;
static int check_current_failures;
static long check_count;

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static void check_fail(const char *file, int line, const char *fmt, ...) {
    va_list ap;
    check_current_failures++;
    fprintf(stderr, "  FAIL %s:%d: ", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

#define TEST(name) static void name(void)

#define RUN(name)                                                 \
    do {                                                          \
        check_current_failures = 0;                               \
        name();                                                   \
        if (check_current_failures == 0) {                        \
            check_passed++;                                       \
            printf("ok   %s\n", #name);                           \
        } else {                                                  \
            check_failed++;                                       \
            printf("FAIL %s (%d failed checks)\n", #name,         \
                   check_current_failures);                       \
        }                                                         \
        fflush(stdout);                                           \
    } while (0)

#define CHECK(cond)                                               \
    do {                                                          \
        check_count++;                                            \
        if (!(cond)) check_fail(__FILE__, __LINE__, "%s", #cond); \
    } while (0)

#define CHECK_EQ_INT(a, b)                                                            \
    do {                                                                              \
        long long check_a_ = (long long)(a), check_b_ = (long long)(b);               \
        check_count++;                                                                \
        if (check_a_ != check_b_)                                                     \
            check_fail(__FILE__, __LINE__, "%s == %s (%lld != %lld)", #a, #b,         \
                       check_a_, check_b_);                                           \
    } while (0)

#define CHECK_EQ_U64(a, b)                                                            \
    do {                                                                              \
        unsigned long long check_a_ = (unsigned long long)(a);                        \
        unsigned long long check_b_ = (unsigned long long)(b);                        \
        check_count++;                                                                \
        if (check_a_ != check_b_)                                                     \
            check_fail(__FILE__, __LINE__, "%s == %s (%llu != %llu)", #a, #b,         \
                       check_a_, check_b_);                                           \
    } while (0)

#define CHECK_STR_EQ(a, b)                                                            \
    do {                                                                              \
        const char *check_a_ = (a), *check_b_ = (b);                                  \
        check_count++;                                                                \
        if (check_a_ == NULL || check_b_ == NULL || strcmp(check_a_, check_b_) != 0)  \
            check_fail(__FILE__, __LINE__, "%s == %s (\"%s\" != \"%s\")", #a, #b,     \
                       check_a_ ? check_a_ : "(null)", check_b_ ? check_b_ : "(null)"); \
    } while (0)

/* `s` starts with `prefix`. */
#define CHECK_STR_PREFIX(s, prefix)                                                   \
    do {                                                                              \
        const char *check_a_ = (s), *check_b_ = (prefix);                             \
        check_count++;                                                                \
        if (check_a_ == NULL || strncmp(check_a_, check_b_, strlen(check_b_)) != 0)   \
            check_fail(__FILE__, __LINE__, "%s starts with \"%s\" (got \"%s\")", #s,  \
                       check_b_, check_a_ ? check_a_ : "(null)");                     \
    } while (0)

static int check_summary(void) {
    fprintf(stderr, "(%ld checks)\n", check_count);
    printf("%d passed, %d failed\n", check_passed, check_failed);
    fflush(stdout);
    return check_failed == 0 ? 0 : 1;
}

#endif /* BW_CHECK_H */

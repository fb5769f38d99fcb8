/*
 * t.h - the test harness: a handful of assertion macros that print
 * file:line on failure and count every check themselves (so a table-driven
 * test cannot forget to fail), and a summary line "N passed, N failed".
 *
 * Use: T_OK(cond), T_EQI(a, b), T_EQS(a, b), T_EQB(ptr, len, str), then
 * `return t_done("name");` from main (exit status 1 when anything failed).
 */
#ifndef SMT_TEST_H
#define SMT_TEST_H

#include <stdio.h>
#include <string.h>
#include <inttypes.h>

static int t_pass, t_fail;

#define T_OK(c)                                                               \
    do {                                                                      \
        if (c) {                                                              \
            t_pass++;                                                         \
        } else {                                                              \
            t_fail++;                                                         \
            fprintf(stderr, "%s:%d: FAIL: %s\n", __FILE__, __LINE__, #c);     \
        }                                                                     \
    } while (0)

#define T_OKM(c, ...)                                                         \
    do {                                                                      \
        if (c) {                                                              \
            t_pass++;                                                         \
        } else {                                                              \
            t_fail++;                                                         \
            fprintf(stderr, "%s:%d: FAIL: %s: ", __FILE__, __LINE__, #c);     \
            fprintf(stderr, __VA_ARGS__);                                     \
            fputc('\n', stderr);                                              \
        }                                                                     \
    } while (0)

#define T_EQI(a, b)                                                           \
    do {                                                                      \
        long long t_a_ = (long long)(a), t_b_ = (long long)(b);               \
        if (t_a_ == t_b_) {                                                   \
            t_pass++;                                                         \
        } else {                                                              \
            t_fail++;                                                         \
            fprintf(stderr, "%s:%d: FAIL: %s == %s: %lld != %lld\n",          \
                    __FILE__, __LINE__, #a, #b, t_a_, t_b_);                  \
        }                                                                     \
    } while (0)

#define T_EQS(a, b)                                                           \
    do {                                                                      \
        const char *t_a_ = (a), *t_b_ = (b);                                  \
        if (t_a_ != NULL && t_b_ != NULL && strcmp(t_a_, t_b_) == 0) {        \
            t_pass++;                                                         \
        } else {                                                              \
            t_fail++;                                                         \
            fprintf(stderr, "%s:%d: FAIL: %s == %s: \"%s\" != \"%s\"\n",      \
                    __FILE__, __LINE__, #a, #b, t_a_ ? t_a_ : "(null)",       \
                    t_b_ ? t_b_ : "(null)");                                  \
        }                                                                     \
    } while (0)

/* bytes (ptr, len) equal to a C string */
#define T_EQB(p, n, s)                                                        \
    do {                                                                      \
        const char *t_p_ = (p), *t_s_ = (s);                                  \
        size_t t_n_ = (n);                                                    \
        if (t_p_ != NULL && t_n_ == strlen(t_s_) &&                           \
            memcmp(t_p_, t_s_, t_n_) == 0) {                                  \
            t_pass++;                                                         \
        } else {                                                              \
            t_fail++;                                                         \
            fprintf(stderr, "%s:%d: FAIL: %s == \"%s\": got \"%.*s\"\n",      \
                    __FILE__, __LINE__, #p, t_s_, t_p_ ? (int)t_n_ : 6,       \
                    t_p_ ? t_p_ : "(null)");                                  \
        }                                                                     \
    } while (0)

static inline int t_done(const char *name)
{
    printf("%s: %d passed, %d failed\n", name, t_pass, t_fail);
    return t_fail ? 1 : 0;
}

#endif /* SMT_TEST_H */

/*
 * test_errpolicy.c - retry backoff, tolerance verdicts and the failure
 * breaker, with the numbers of the RY-* vectors and the edge cases around
 * them (timeout 0 and -1, small maxima, huge attempt counts, window edges).
 * The clock is a variable that each wait advances, as Connect's MockTime.
 */
#include "errpolicy.h"
#include "t.h"

#include <stdint.h>

static struct smt_errors_conf conf(int tol, int64_t timeout, int64_t max)
{
    struct smt_errors_conf ec;

    memset(&ec, 0, sizeof(ec));
    ec.tolerance = tol;
    ec.retry_timeout_ms = timeout;
    ec.retry_delay_max_ms = max;
    return ec;
}

/* Fails the operation retriably `fails` times (UINT32_MAX = always) from
 * time 0, sleeping as told; records the waits. Returns the attempts made,
 * *ok = 1 when the last one succeeded. */
static uint32_t run_op(const struct smt_errors_conf *ec, uint32_t fails,
                       int64_t *sleeps, uint32_t cap, uint32_t *nsleeps,
                       int *ok)
{
    struct smt_retry r;
    int64_t          now = 0, w;
    uint32_t         attempts = 0;

    smt_retry_start(&r, ec, now);
    smt_retry_seed(&r, 1);
    *nsleeps = 0;
    for (;;) {
        attempts++;
        if (attempts > fails) {
            *ok = 1;
            return attempts;
        }
        w = smt_retry_next_wait(&r, now);
        if (w < 0 || attempts > 100000) { /* a broken policy must not hang */
            *ok = 0;
            return attempts;
        }
        if (*nsleeps < cap) {
            sleeps[*nsleeps] = w;
        }
        (*nsleeps)++;
        now += w;
    }
}

static void test_ry01(void)
{
    struct smt_errors_conf ec = conf(SMT_TOL_ALL, 6000, 60000);
    int64_t                s[8];
    uint32_t               n, att;
    int                    ok;

    att = run_op(&ec, 1, s, 8, &n, &ok);
    T_EQI(att, 2);
    T_EQI(ok, 1);
    T_EQI(n, 1);
    T_EQI(s[0], 300);
}

static void test_ry04(void)
{
    struct smt_errors_conf ec = conf(SMT_TOL_ALL, 6000, 60000);
    static const int64_t   want[] = {300, 600, 1200, 2400, 1500};
    int64_t                s[8];
    uint32_t               n, att, i;
    int                    ok;

    att = run_op(&ec, UINT32_MAX, s, 8, &n, &ok);
    T_EQI(att, 6);
    T_EQI(ok, 0);
    T_EQI(n, 5);
    for (i = 0; i < 5; i++) {
        T_EQI(s[i], want[i]);
    }
    /* Exhausted: tolerated under all, stops under none (KAFKA-18073). */
    T_EQI(smt_errp_decide(SMT_STAGE_TRANSFORMATION, SMT_E_RETRIABLE,
                          SMT_TOL_ALL, 1),
          SMT_ERRP_TOLERATED);
}

static void test_ry05(void)
{
    /* A non-retriable error is never retried: one attempt, then verdict. */
    T_EQI(smt_errp_retriable(SMT_E_DATA), 0);
    T_EQI(smt_errp_retriable(SMT_E_CONNECT), 0);
    T_EQI(smt_errp_retriable(SMT_E_RETRIABLE), 1);
    T_EQI(smt_errp_decide(SMT_STAGE_TRANSFORMATION, SMT_E_CONNECT,
                          SMT_TOL_ALL, 1),
          SMT_ERRP_TOLERATED);
}

static void test_ry06(void)
{
    static const int64_t want[] = {300, 600, 1200, 2400, 500, 0};
    struct smt_errors_conf ec = conf(SMT_TOL_NONE, 5, 5000);
    struct smt_retry       r;
    int64_t                now = 0, w;
    uint32_t               i;

    smt_retry_start(&r, &ec, 0);
    for (i = 0; i < 6; i++) {
        w = smt_retry_backoff(&r, i + 1, 5000, now);
        T_EQI(w, want[i]);
        now += w;
    }
    /* Far past the deadline: 0, never negative; random or not. */
    T_EQI(smt_retry_backoff(&r, 1, 5000, 9000), 0);
    T_EQI(smt_retry_backoff(&r, 30, 5000, 9000), 0);
}

static void test_ry07(void)
{
    static const int tolerant[] = {SMT_STAGE_TRANSFORMATION,
                                   SMT_STAGE_KEY_CONVERTER,
                                   SMT_STAGE_VALUE_CONVERTER,
                                   SMT_STAGE_HEADER_CONVERTER};
    static const int strict[] = {SMT_STAGE_KAFKA_PRODUCE,
                                 SMT_STAGE_KAFKA_CONSUME, SMT_STAGE_NONE,
                                 1000 /* e.g. TASK_PUT, unknown to us */};
    size_t           i;

    for (i = 0; i < sizeof(tolerant) / sizeof(tolerant[0]); i++) {
        T_EQI(smt_errp_stage_tolerates_all(tolerant[i]), 1);
        T_EQI(smt_errp_decide(tolerant[i], SMT_E_DATA, SMT_TOL_ALL, 1),
              SMT_ERRP_TOLERATED);
        T_EQI(smt_errp_decide(tolerant[i], SMT_E_RETRIABLE, SMT_TOL_ALL, 5),
              SMT_ERRP_TOLERATED);
        T_EQI(smt_errp_decide(tolerant[i], SMT_E_DATA, SMT_TOL_NONE, 1),
              SMT_ERRP_EXCEEDED);
    }
    for (i = 0; i < sizeof(strict) / sizeof(strict[0]); i++) {
        T_EQI(smt_errp_stage_tolerates_all(strict[i]), 0);
        T_EQI(smt_errp_decide(strict[i], SMT_E_RETRIABLE, SMT_TOL_ALL, 1),
              SMT_ERRP_TOLERATED);
        T_EQI(smt_errp_decide(strict[i], SMT_E_DATA, SMT_TOL_ALL, 1),
              SMT_ERRP_UNHANDLED);
        T_EQI(smt_errp_decide(strict[i], SMT_E_CONNECT, SMT_TOL_NONE, 1),
              SMT_ERRP_UNHANDLED);
        T_EQI(smt_errp_decide(strict[i], SMT_E_RETRIABLE, SMT_TOL_NONE, 1),
              SMT_ERRP_EXCEEDED);
    }
    T_EQS(smt_errp_verdict_message(SMT_ERRP_EXCEEDED),
          "Tolerance exceeded in error handler");
    T_EQS(smt_errp_verdict_message(SMT_ERRP_UNHANDLED),
          "Unhandled exception in error handler");
    T_OK(smt_errp_verdict_message(SMT_ERRP_TOLERATED) == NULL);
}

static void test_ry08(void)
{
    T_EQI(smt_errp_within_limits(SMT_TOL_NONE, 0), 1);
    T_EQI(smt_errp_within_limits(SMT_TOL_NONE, 1), 0);
    T_EQI(smt_errp_within_limits(SMT_TOL_ALL, 2), 1);
    T_EQI(smt_errp_within_limits(SMT_TOL_ALL, UINT64_MAX), 1);
    /* decide counts the failure it decides on, even when told 0. */
    T_EQI(smt_errp_decide(SMT_STAGE_TRANSFORMATION, SMT_E_DATA, SMT_TOL_NONE,
                          0),
          SMT_ERRP_EXCEEDED);
}

static void test_ry09(void)
{
    struct smt_errors_conf ec = conf(SMT_TOL_NONE, 0, 60000);
    int64_t                s[4];
    uint32_t               n, att;
    int                    ok;

    att = run_op(&ec, UINT32_MAX, s, 4, &n, &ok);
    T_EQI(att, 1);
    T_EQI(ok, 0);
    T_EQI(n, 0);
    /* Never silently skipped under none. */
    T_EQI(smt_errp_decide(SMT_STAGE_TRANSFORMATION, SMT_E_RETRIABLE,
                          SMT_TOL_NONE, 1),
          SMT_ERRP_EXCEEDED);
}

static void test_timeout_edges(void)
{
    struct smt_errors_conf ec = conf(SMT_TOL_ALL, 0, 60000);
    struct smt_retry       r;
    int64_t                w, prev;
    uint32_t               i;

    /* timeout 0: no retry, even at the start instant. */
    smt_retry_start(&r, &ec, 1000);
    T_EQI(smt_retry_next_wait(&r, 1000), -1);
    T_EQI(r.attempt, 1);
    /* timeout -1: no deadline; waits grow to the max then stay below it. */
    ec = conf(SMT_TOL_ALL, -1, 60000);
    smt_retry_start(&r, &ec, 0);
    T_EQI(smt_retry_deadline(&r), INT64_MAX);
    prev = 0;
    for (i = 1; i <= 8; i++) {
        w = smt_retry_next_wait(&r, INT64_MAX / 2);
        T_EQI(w, (int64_t)300 << (i - 1));
        prev = w;
    }
    T_EQI(prev, 38400);
    for (i = 9; i <= 200; i++) {
        w = smt_retry_next_wait(&r, 0);
        T_OKM(w >= 0 && w < 60000, "attempt %u wait %" PRId64, i, w);
    }
    /* No deadline means even the last representable instant retries. */
    w = smt_retry_next_wait(&r, INT64_MAX - 1);
    T_OK(w == 0 || w == 1);
    /* The last instant before the deadline still retries, clipped to 1. */
    ec = conf(SMT_TOL_ALL, 1000, 60000);
    smt_retry_start(&r, &ec, 500);
    T_EQI(smt_retry_deadline(&r), 1500);
    T_EQI(smt_retry_next_wait(&r, 1499), 1);
    T_EQI(smt_retry_next_wait(&r, 1500), -1);
    T_EQI(smt_retry_next_wait(&r, 99999), -1);
    /* start + timeout overflowing saturates. */
    ec = conf(SMT_TOL_ALL, INT64_MAX, 60000);
    smt_retry_start(&r, &ec, 10);
    T_EQI(smt_retry_deadline(&r), INT64_MAX);
}

static void test_random_waits(void)
{
    struct smt_errors_conf ec = conf(SMT_TOL_ALL, -1, 100);
    struct smt_retry       r, r2;
    int64_t                w, w2, seen_low = 0, seen_high = 0;
    uint32_t               i;
    int                    same = 1;

    /* max below 300: every wait is random in [0, 100), from attempt 1. */
    smt_retry_start(&r, &ec, 0);
    smt_retry_seed(&r, 7);
    r2 = r;
    for (i = 0; i < 2000; i++) {
        w = smt_retry_next_wait(&r, 0);
        w2 = smt_retry_next_wait(&r2, 0);
        T_OKM(w >= 0 && w < 100, "wait %" PRId64, w);
        if (w != w2) {
            same = 0;
        }
        seen_low += w < 10;
        seen_high += w >= 90;
    }
    T_EQI(same, 1); /* the same seed gives the same waits */
    T_OK(seen_low > 0);
    T_OK(seen_high > 0);
    /* The random wait replaces the backoff and is still clipped. */
    smt_retry_start(&r, &ec, 0);
    seen_low = seen_high = 0;
    for (i = 0; i < 200; i++) {
        w = smt_retry_backoff(&r, 3, 40, 0);
        T_OK(w >= 0 && w <= 40);
        seen_low += w < 40;
        seen_high += w == 40;
    }
    T_OK(seen_low > 0);  /* random below the deadline */
    T_OK(seen_high > 0); /* random past it, clipped */
    /* max 0: wait 0 (Java's nextLong(0) would throw). */
    ec = conf(SMT_TOL_ALL, -1, 0);
    smt_retry_start(&r, &ec, 0);
    T_EQI(smt_retry_next_wait(&r, 0), 0);
    T_EQI(smt_retry_next_wait(&r, 0), 0);
    /* max exactly 300: 300 is not above it. */
    ec = conf(SMT_TOL_ALL, -1, 300);
    smt_retry_start(&r, &ec, 0);
    T_EQI(smt_retry_next_wait(&r, 0), 300);
    T_OK(smt_retry_next_wait(&r, 0) < 300);
}

static void test_huge_attempts(void)
{
    struct smt_errors_conf ec = conf(SMT_TOL_ALL, -1, INT64_MAX);
    struct smt_retry       r;
    uint32_t               a;

    smt_retry_start(&r, &ec, 0);
    /* With an unbounded max the doubling runs to the last exact shift. */
    T_EQI(smt_retry_backoff(&r, 55, INT64_MAX, 0), (int64_t)300 << 54);
    T_OK(((int64_t)300 << 54) > 0);
    /* Beyond it: random in [0, max), never negative or wrapped. */
    for (a = 56; a < 300; a++) {
        T_OK(smt_retry_backoff(&r, a, INT64_MAX, 0) >= 0);
    }
    T_OK(smt_retry_backoff(&r, UINT32_MAX, INT64_MAX, 0) >= 0);
    T_EQI(smt_retry_backoff(&r, 0, INT64_MAX, 0), 300);
    /* The attempt counter saturates instead of wrapping to 0. */
    ec = conf(SMT_TOL_ALL, -1, 60000);
    smt_retry_start(&r, &ec, 0);
    r.attempt = UINT32_MAX - 1;
    T_OK(smt_retry_next_wait(&r, 0) < 60000);
    T_OK(smt_retry_next_wait(&r, 0) < 60000);
    T_EQI(r.attempt, UINT32_MAX);
}

static void test_breaker(void)
{
    struct smt_breaker b;
    int                i;

    /* More than 3 failures within 1000 ms trips. */
    smt_breaker_init(&b, 3, 1000);
    T_EQI(smt_breaker_record(&b, 0), 0);
    T_EQI(smt_breaker_record(&b, 10), 0);
    T_EQI(smt_breaker_record(&b, 20), 0);
    T_EQI(smt_breaker_count(&b, 20), 3);
    /* The failure at 0 is exactly 1000 ms old: out of the window. */
    T_EQI(smt_breaker_record(&b, 1000), 0);
    T_EQI(smt_breaker_count(&b, 1000), 3);
    T_EQI(smt_breaker_count(&b, 1010), 2);
    /* 10, 20, 1000, 1009: the oldest is 999 ms old: trips. */
    T_EQI(smt_breaker_record(&b, 1009), 1);
    T_EQI(b.tripped, 1);
    /* Sticky. */
    T_EQI(smt_breaker_record(&b, 999999), 1);
    smt_breaker_fini(&b);

    /* Slow failures never trip, however many. */
    smt_breaker_init(&b, 2, 100);
    for (i = 0; i < 1000; i++) {
        T_EQI(smt_breaker_record(&b, (int64_t)i * 50), 0);
    }
    T_EQI(smt_breaker_count(&b, 999 * 50), 2);
    smt_breaker_fini(&b);

    /* max 0: no breaker. */
    smt_breaker_init(&b, 0, 1000);
    for (i = 0; i < 100; i++) {
        T_EQI(smt_breaker_record(&b, 5), 0);
    }
    T_EQI(smt_breaker_count(&b, 5), 0);
    smt_breaker_fini(&b);

    /* max 1, window <= 0 = forever: the second failure ever trips. */
    smt_breaker_init(&b, 1, 0);
    T_EQI(smt_breaker_record(&b, 0), 0);
    T_EQI(smt_breaker_record(&b, INT64_MAX / 2), 1);
    smt_breaker_fini(&b);

    /* A clock going backwards counts as the last time seen. */
    smt_breaker_init(&b, 1, 100);
    T_EQI(smt_breaker_record(&b, 1000), 0);
    T_EQI(smt_breaker_record(&b, 5), 1);
    smt_breaker_fini(&b);

    /* Same-instant failures: exactly max is fine, one more trips. */
    smt_breaker_init(&b, 4, 1);
    for (i = 0; i < 4; i++) {
        T_EQI(smt_breaker_record(&b, 77), 0);
    }
    T_EQI(smt_breaker_record(&b, 77), 1);
    smt_breaker_fini(&b);
    smt_breaker_fini(&b); /* twice is harmless */
}

int main(void)
{
    test_ry01();
    test_ry04();
    test_ry05();
    test_ry06();
    test_ry07();
    test_ry08();
    test_ry09();
    test_timeout_edges();
    test_random_waits();
    test_huge_attempts();
    test_breaker();
    return t_done("test_errpolicy");
}

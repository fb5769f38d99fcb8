/*
 * errpolicy.c - Kafka Connect's retry and tolerance decisions
 * (RetryWithToleranceOperator, reference §4.2-4.4) and our failure breaker,
 * as pure functions of "now" so that the relay and the tests share them.
 *
 * Retry: attempt n failing with a retriable error at now, while now <
 * start + timeout, waits 300 << (n - 1) ms; a value above
 * errors.retry.delay.max.ms is replaced by a uniform random one in
 * [0, max); the wait is clipped to the deadline and never negative.
 * timeout -1 = no deadline, 0 = never retry.
 *
 * Tolerance: the converters and TRANSFORMATION tolerate any error; other
 * stages only retriable ones (anything else is "Unhandled exception in
 * error handler", even under `all`). Under `none` the first failure stops
 * ("Tolerance exceeded in error handler"). Retriable exhaustion honours
 * tolerance, as after KAFKA-18073.
 *
 * Differences from Kafka Connect:
 * - Java computes 300L << (n - 1) with the shift count taken mod 64, so
 *   after ~55 attempts (reachable with timeout -1) the delay wraps and can
 *   go negative (Thread.sleep then throws). We saturate: any attempt whose
 *   delay would not fit is "above the maximum" and gets the random wait.
 * - delay.max.ms 0 makes Java's nextLong(0) throw; we wait 0.
 * - The breaker is ours (issue 4); Connect has nothing like it.
 */
#include "errpolicy.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

/* ---------------------------------------------------------------------- */
/* Retry                                                                    */

/* splitmix64: small, good enough for jitter, and reproducible. */
static uint64_t next_rand(uint64_t *s)
{
    uint64_t z;

    *s += UINT64_C(0x9e3779b97f4a7c15);
    z = *s;
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

/* Uniform in [0, bound), bound > 0, without modulo bias. */
static uint64_t rand_below(uint64_t *s, uint64_t bound)
{
    uint64_t limit = UINT64_MAX - UINT64_MAX % bound, x;

    do {
        x = next_rand(s);
    } while (x >= limit);
    return x % bound;
}

void smt_retry_seed(struct smt_retry *r, uint64_t seed)
{
    r->rng = seed;
}

void smt_retry_start(struct smt_retry *r, const struct smt_errors_conf *ec,
                     int64_t now_ms)
{
    static atomic_uint_fast64_t counter;
    uint64_t                    c = atomic_fetch_add(&counter, 1);

    r->start_ms = now_ms;
    r->timeout_ms = ec->retry_timeout_ms;
    r->delay_max_ms = ec->retry_delay_max_ms;
    r->attempt = 0;
    r->rng = (uint64_t)now_ms ^ (c * UINT64_C(0xd1342543de82ef95));
}

int64_t smt_retry_deadline(const struct smt_retry *r)
{
    if (r->timeout_ms < 0) {
        return INT64_MAX;
    }
    if (r->start_ms > INT64_MAX - r->timeout_ms) {
        return INT64_MAX;
    }
    return r->start_ms + r->timeout_ms;
}

int64_t smt_retry_backoff(struct smt_retry *r, uint32_t attempt,
                          int64_t deadline_ms, int64_t now_ms)
{
    uint32_t shift = attempt > 0 ? attempt - 1 : 0;
    int64_t  delay;

    /* 300 < 2^9, so 300 << 54 is the last shift below 2^63. */
    delay = shift <= 54 ? (int64_t)SMT_RETRY_DELAY_MIN_MS << shift
                        : INT64_MAX;
    if (delay > r->delay_max_ms) {
        delay = r->delay_max_ms > 0
                    ? (int64_t)rand_below(&r->rng, (uint64_t)r->delay_max_ms)
                    : 0;
    }
    if (now_ms > deadline_ms) {
        return 0;
    }
    if (delay > deadline_ms - now_ms) {
        delay = deadline_ms - now_ms;
    }
    return delay;
}

int64_t smt_retry_next_wait(struct smt_retry *r, int64_t now_ms)
{
    int64_t deadline = smt_retry_deadline(r);

    if (r->attempt < UINT32_MAX) {
        r->attempt++;
    }
    if (!(now_ms < deadline)) {
        return -1;
    }
    return smt_retry_backoff(r, r->attempt, deadline, now_ms);
}

/* ---------------------------------------------------------------------- */
/* Tolerance                                                                */

const char *smt_errp_verdict_message(int verdict)
{
    switch (verdict) {
    case SMT_ERRP_EXCEEDED:
        return "Tolerance exceeded in error handler";
    case SMT_ERRP_UNHANDLED:
        return "Unhandled exception in error handler";
    default:
        return NULL;
    }
}

int smt_errp_retriable(int code)
{
    return code == SMT_E_RETRIABLE;
}

int smt_errp_stage_tolerates_all(int stage)
{
    switch (stage) {
    case SMT_STAGE_KEY_CONVERTER:
    case SMT_STAGE_VALUE_CONVERTER:
    case SMT_STAGE_HEADER_CONVERTER:
    case SMT_STAGE_TRANSFORMATION:
        return 1;
    default:
        return 0;
    }
}

int smt_errp_within_limits(int tolerance, uint64_t failures)
{
    return failures == 0 || tolerance == SMT_TOL_ALL;
}

int smt_errp_decide(int stage, int code, int tolerance, uint64_t failures)
{
    if (!smt_errp_stage_tolerates_all(stage) && !smt_errp_retriable(code)) {
        return SMT_ERRP_UNHANDLED;
    }
    if (failures == 0) {
        failures = 1; /* this failure counts */
    }
    return smt_errp_within_limits(tolerance, failures) ? SMT_ERRP_TOLERATED
                                                       : SMT_ERRP_EXCEEDED;
}

/* ---------------------------------------------------------------------- */
/* Breaker                                                                  */

void smt_breaker_init(struct smt_breaker *b, uint32_t max_failures,
                      int64_t window_ms)
{
    b->max_failures = max_failures;
    b->window_ms = window_ms;
    b->ring = max_failures > 0 && max_failures < UINT32_MAX
                  ? smt_xcalloc((size_t)max_failures + 1, sizeof(*b->ring))
                  : NULL;
    b->head = 0;
    b->n = 0;
    b->last_ms = INT64_MIN;
    b->tripped = 0;
}

void smt_breaker_fini(struct smt_breaker *b)
{
    free(b->ring);
    b->ring = NULL;
}

/* 1 when a failure at t is within the window at now. */
static int in_window(const struct smt_breaker *b, int64_t t, int64_t now)
{
    return b->window_ms <= 0 || now - t < b->window_ms;
}

uint32_t smt_breaker_count(const struct smt_breaker *b, int64_t now_ms)
{
    uint32_t cap = b->max_failures + 1, i, c = 0;

    if (b->ring == NULL) {
        return 0;
    }
    if (now_ms < b->last_ms) {
        now_ms = b->last_ms;
    }
    for (i = 0; i < b->n; i++) {
        if (in_window(b, b->ring[(b->head + i) % cap], now_ms)) {
            c++;
        }
    }
    return c;
}

int smt_breaker_record(struct smt_breaker *b, int64_t now_ms)
{
    uint32_t cap = b->max_failures + 1;

    if (b->tripped) {
        return 1;
    }
    if (b->ring == NULL) {
        return 0;
    }
    if (now_ms < b->last_ms) {
        now_ms = b->last_ms;
    }
    b->last_ms = now_ms;
    if (b->n == cap) {
        b->head = (b->head + 1) % cap; /* drop the oldest */
        b->n--;
    }
    b->ring[(b->head + b->n) % cap] = now_ms;
    b->n++;
    /* Timestamps are non-decreasing, so the oldest of the last
     * max_failures + 1 decides whether they all fall in the window. */
    if (b->n == cap && in_window(b, b->ring[b->head], now_ms)) {
        b->tripped = 1;
    }
    return b->tripped;
}

/* ---------------------------------------------------------------------- */
/* Reporters */

size_t smt_errlog_line(char *buf, size_t size, const struct smt_errors_conf *ec,
                       const struct smt_failure_ctx *c)
{
    size_t n = 0;
    int    k;

    if (size == 0) {
        return 0;
    }
    buf[0] = '\0';
    if (!ec->log_enable) {
        return 0;
    }
#define PUT(...)                                                              \
    do {                                                                      \
        k = snprintf(buf + n, size - n, __VA_ARGS__);                         \
        n = k < 0 ? n : (n + (size_t)k >= size ? size - 1 : n + (size_t)k);   \
    } while (0)
    PUT("Error encountered in task %s-%d. Executing stage '%s' with class "
        "'%s'", c->connector ? c->connector : "", c->task,
        smt_stage_name(c->stage), c->klass ? c->klass : "");
    if (ec->log_include_messages) {
        PUT(", where consumed record is {topic='%s', partition=%d, "
            "offset=%lld", c->topic ? c->topic : "", (int)c->partition,
            (long long)c->offset);
        if (c->ts_type == SMT_TSTYPE_CREATE ||
            c->ts_type == SMT_TSTYPE_LOG_APPEND) {
            PUT(", timestamp=%lld, timestampType=%s", (long long)c->ts_ms,
                c->ts_type == SMT_TSTYPE_CREATE ? "CreateTime"
                                                : "LogAppendTime");
        }
        PUT("}");
    }
    PUT(".");
#undef PUT
    return n;
}

void smt_dlq_context_headers(const struct smt_errors_conf *ec,
                             const struct smt_failure_ctx *c,
                             void (*add)(void *opaque, const char *name,
                                         const char *value),
                             void *opaque)
{
    char num[32], trace[1024];

    if (!ec->dlq_context_headers) {
        return;
    }
    add(opaque, "__connect.errors.topic", c->topic ? c->topic : "");
    snprintf(num, sizeof(num), "%d", (int)c->partition);
    add(opaque, "__connect.errors.partition", num);
    snprintf(num, sizeof(num), "%lld", (long long)c->offset);
    add(opaque, "__connect.errors.offset", num);
    add(opaque, "__connect.errors.connector.name",
        c->connector ? c->connector : "");
    snprintf(num, sizeof(num), "%d", c->task);
    add(opaque, "__connect.errors.task.id", num);
    add(opaque, "__connect.errors.stage", smt_stage_name(c->stage));
    add(opaque, "__connect.errors.class.name", c->klass ? c->klass : "");
    add(opaque, "__connect.errors.exception.class.name",
        c->exception ? c->exception : "");
    add(opaque, "__connect.errors.exception.message", c->message);
    /* Java's printStackTrace() starts with Throwable.toString(): the class,
     * then ": message" unless the message is null; we have no frames */
    snprintf(trace, sizeof(trace), "%s%s%s", c->exception ? c->exception : "",
             c->message ? ": " : "", c->message ? c->message : "");
    add(opaque, "__connect.errors.exception.stacktrace", trace);
    if (c->route != NULL) {
        add(opaque, "__smtproxy.errors.route", c->route);
    }
    if (c->step != NULL) {
        add(opaque, "__smtproxy.errors.step", c->step);
    }
}

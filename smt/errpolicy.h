/*
 * errpolicy.h - the decisions of Kafka Connect's error handler
 * (RetryWithToleranceOperator), without clocks, threads or Kafka: how long
 * to wait before retrying a retriable failure, whether a failure is
 * tolerated (skip and report) or stops the pipeline, and our own failure
 * breaker. The relay owns the clock and the sleeping; everything here takes
 * "now" as an argument so that tests can drive it (reference §4.2-4.4).
 */
#ifndef SMT_ERRPOLICY_H
#define SMT_ERRPOLICY_H

#include <stdint.h>

#include "pipeline.h"

/* ---------------------------------------------------------------------- */
/* Retry backoff (§4.2)                                                     */

/** The first backoff; attempt n waits 300 << (n - 1) ms. */
#define SMT_RETRY_DELAY_MIN_MS 300

/** One operation's retry state. start_ms/timeout_ms/delay_max_ms come from
 *  smt_retry_start(); attempt counts the failed attempts so far; rng is the
 *  random state (set it with smt_retry_seed() for reproducible waits). */
struct smt_retry {
    int64_t  start_ms;
    int64_t  timeout_ms;   /* errors.retry.timeout: -1 forever, 0 never */
    int64_t  delay_max_ms; /* errors.retry.delay.max.ms */
    uint32_t attempt;
    uint64_t rng;
};

/** Starts the retry state of one operation at now_ms (before its first
 *  attempt). The random state is seeded from now_ms and a process counter. */
void smt_retry_start(struct smt_retry *r, const struct smt_errors_conf *ec,
                     int64_t now_ms);

/** Replaces the random state (tests, reproducible runs). */
void smt_retry_seed(struct smt_retry *r, uint64_t seed);

/** Call when an attempt has failed with a retriable error at now_ms: counts
 *  the attempt and returns the ms to wait before the next one, or -1 when
 *  no attempt is left (timeout 0, or now_ms at or past start + timeout; the
 *  operation has then failed with that retriable error). A non-retriable
 *  error is never retried: do not call this for it. */
int64_t smt_retry_next_wait(struct smt_retry *r, int64_t now_ms);

/** Connect's backoff(attempt, deadline) at now_ms: 300 << (attempt - 1),
 *  replaced by a uniform random value in [0, delay_max_ms) when larger than
 *  delay_max_ms, then clipped to the deadline; never negative. Does not
 *  check whether a retry is allowed (smt_retry_next_wait() does). */
int64_t smt_retry_backoff(struct smt_retry *r, uint32_t attempt,
                          int64_t deadline_ms, int64_t now_ms);

/** The operation's deadline: start + timeout, INT64_MAX for -1. */
int64_t smt_retry_deadline(const struct smt_retry *r);

/* ---------------------------------------------------------------------- */
/* Tolerance (§4.3, §4.4)                                                   */

/** What becomes of a failed operation (after its retries). */
enum smt_errp_verdict {
    SMT_ERRP_TOLERATED = 0, /* report, skip the record, carry on */
    SMT_ERRP_EXCEEDED,      /* report, then stop: "Tolerance exceeded in
                             * error handler" */
    SMT_ERRP_UNHANDLED,     /* report, then stop even under `all`:
                             * "Unhandled exception in error handler" */
};

/** The ConnectException message Connect throws for a verdict that stops;
 *  NULL for SMT_ERRP_TOLERATED. */
const char *smt_errp_verdict_message(int verdict);

/** 1 for the error codes Connect retries (RetriableException only). */
int smt_errp_retriable(int code);

/** 1 when a stage tolerates every error (the converters, TRANSFORMATION);
 *  every other stage (KAFKA_PRODUCE, KAFKA_CONSUME, NONE, and any stage
 *  value we do not know, such as Connect's TASK_PUT/TASK_POLL) tolerates
 *  retriable errors only. */
int smt_errp_stage_tolerates_all(int stage);

/** Connect's withinToleranceLimits(): failures is the number of failed
 *  operations so far, this one included. none: only 0 is within; all:
 *  always. */
int smt_errp_within_limits(int tolerance, uint64_t failures);

/** The verdict for an operation that has failed at stage with error code
 *  (after retries: a retriable error here means its retries ran out),
 *  under tolerance (enum smt_tolerance), failures counting this one.
 *  Retriable exhaustion honours tolerance (KAFKA-18073): skipped under
 *  `all`, stops under `none`, never silently skipped. Whatever the
 *  verdict, the failure is reported (log, DLQ) first. */
int smt_errp_decide(int stage, int code, int tolerance, uint64_t failures);

/* ---------------------------------------------------------------------- */
/* Failure breaker (ours, not Connect's)                                    */

/** Trips when more than max_failures failures fall within window_ms: a
 *  failure recorded at t counts at now while now - t < window_ms. Keeps
 *  the last max_failures + 1 timestamps, so memory is bounded and the
 *  count exact. Once tripped it stays tripped (the pipeline stops, as
 *  with tolerance none). max_failures 0 = no breaker. */
struct smt_breaker {
    uint32_t max_failures;
    int64_t  window_ms;
    int64_t *ring;  /* max_failures + 1 timestamps, oldest at head */
    uint32_t head, n;
    int64_t  last_ms;
    int      tripped;
};

/** max_failures 0 (or UINT32_MAX) disables the breaker; window_ms <= 0
 *  counts failures forever (every failure is within the window). Allocates
 *  max_failures + 1 timestamps: bound max_failures in the option table. */
void smt_breaker_init(struct smt_breaker *b, uint32_t max_failures,
                      int64_t window_ms);
void smt_breaker_fini(struct smt_breaker *b);

/** Records a failure at now_ms (a clock going backwards counts as the last
 *  time seen); returns 1 when the breaker is (now or already) tripped. */
int smt_breaker_record(struct smt_breaker *b, int64_t now_ms);

/** Failures within the window at now_ms (at most max_failures + 1). */
uint32_t smt_breaker_count(const struct smt_breaker *b, int64_t now_ms);

/* ---------------------------------------------------------------------- */
/* Reporters (§4.5): the log line and the DLQ context headers               */

/** Timestamp types of the consumed record, as Kafka numbers them. */
enum { SMT_TSTYPE_NONE = 0, SMT_TSTYPE_CREATE, SMT_TSTYPE_LOG_APPEND };

/** Where a failed record came from and what failed, for the reporters. */
struct smt_failure_ctx {
    const char *connector; /* the pipeline's name */
    int         task;      /* the worker's index */
    const char *topic;
    int32_t     partition;
    int64_t     offset;
    int64_t     ts_ms;
    int         ts_type;   /* SMT_TSTYPE_* */
    int         stage;     /* enum smt_stage */
    const char *klass;     /* executing class */
    const char *exception; /* exception class */
    const char *message;   /* NULL: Java's null message */
    const char *route;     /* ours: route name or NULL */
    const char *step;      /* ours: step id or NULL */
};

/** Connect's LogReporter line into buf (always NUL-terminated):
 *  "Error encountered in task <connector>-<task>. Executing stage
 *  '<STAGE>' with class '<class>'[, where consumed record is {topic='t',
 *  partition=p, offset=o[, timestamp=ms, timestampType=T]}]." — the record
 *  part only with errors.log.include.messages. Returns the line's length,
 *  or 0 (buf empty) when errors.log.enable is off: nothing is logged. */
size_t smt_errlog_line(char *buf, size_t size, const struct smt_errors_conf *ec,
                       const struct smt_failure_ctx *c);

/** Calls add() for each DLQ context header, in Connect's order and value
 *  formats (__connect.errors.topic ... .exception.stacktrace, whose text is
 *  "<exception>: <message>"), then ours: __smtproxy.errors.route and
 *  __smtproxy.errors.step when known. value NULL = a null header value
 *  (Connect's null exception message). Nothing when
 *  errors.deadletterqueue.context.headers.enable is off. */
void smt_dlq_context_headers(const struct smt_errors_conf *ec,
                             const struct smt_failure_ctx *c,
                             void (*add)(void *opaque, const char *name,
                                         const char *value),
                             void *opaque);

#endif

/*
 * relay.c - the daemon: consume, run every record through the pipeline on
 * worker threads, produce what comes out, and commit an input offset only
 * when every record derived from it has been acknowledged.
 *
 * Threads:
 *   consumer thread (the caller): polls the consumer, serves rebalances,
 *       hands each message to the worker that owns its partition, pauses
 *       fetching when too much is in flight, stores offsets.
 *   workers (xc.workers): each owns a pipeline instance (its own chains)
 *       and a bounded queue; a partition always goes to the same worker,
 *       so each route's outputs keep the partition's order.
 *   poll thread: serves the producer's delivery reports.
 *
 * Delivery accounting (the heart of at-least-once): every consumed message
 * becomes a struct px_input holding the message (the record's key, value
 * and headers are views into it, never copied) and a `pending` count: one
 * for the worker while it processes the record, plus one per produced
 * output and DLQ record. Each release decrements it; at zero the input is
 * done. Inputs of a partition sit in a list in offset order; only the
 * contiguous prefix of done inputs is retired, so the stored offset never
 * passes a record still in flight. An input whose record could not be
 * delivered nor reported is poisoned: it is never retired, so nothing at or
 * after its offset is ever committed, and the relay stops.
 *
 * Offsets are stored by the consumer thread (rd_kafka_offsets_store) and
 * committed by librdkafka's auto-commit timer, synchronously on partition
 * revocation (after the revoked partitions drain), and on shutdown.
 */
#include "px.h"

#include <librdkafka/rdkafka_mock.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct px_relay;
struct px_input;

/* Records moved between threads at a time: one lock and one wake-up per
 * batch keeps the hand-off cost away from the per-record path. */
#define PX_BATCH 256

/* One produced message's identity, for its delivery report: which input,
 * which route, and whether it was a DLQ record. Lives inside its input. */
struct px_out {
    struct px_input *in;
    uint16_t         route; /* route index; nroutes = unrouted */
    uint8_t          dlq;
};

struct px_input {
    rd_kafka_message_t *rkm;     /* owned: destroyed when retired */
    struct px_part     *part;
    struct px_input    *next;    /* partition list, offset order */
    int64_t             offset;
    size_t              bytes;
    atomic_int          pending; /* worker hold + outputs not yet acked */
    atomic_int          poison;  /* never retire: nothing past it commits */
    int                 done;    /* under part->lock */
    int                 route_failed; /* worker only: current route's split */
    struct px_out       outs[];  /* 2 per route (output, DLQ) + 2 unrouted */
};

struct px_part {
    struct px_part  *next;
    char            *topic;
    int32_t          partition;
    pthread_mutex_t  lock;
    struct px_input *head, *tail;
    int64_t          store;  /* offset to store: end of the retired prefix */
    int64_t          stored; /* last value given to offsets_store */
    uint64_t         inflight;
};

struct px_queue {
    pthread_mutex_t   mu;
    pthread_cond_t    not_empty, not_full;
    struct px_input **buf;
    size_t            cap, head, n;
    int               closed;
    int               pop_waiting, push_waiting; /* signal only when needed */
};

struct px_worker {
    struct px_relay     *r;
    int                  id;
    pthread_t            thr;
    struct smt_pipeline *pl;
    struct px_queue      q;
    struct smt_arena     arena;
};

struct px_relay {
    const struct smt_pipeline_conf *pc;
    struct px_conf                  xc;
    const struct px_run_opts       *opts;
    rd_kafka_t                     *consumer, *producer;
    rd_kafka_t                     *mock_rk;
    rd_kafka_mock_cluster_t        *mock;
    struct px_worker               *workers;
    int                             nworkers;
    struct px_part                 *parts;
    struct px_part                 *zombies; /* revoked, records still in flight */
    pthread_t                       poll_thr;
    atomic_int                      poll_stop;
    atomic_int                      closing;
    int                             stopping; /* consumer thread only */
    atomic_int                      fatal;
    int                             exit_code;
    char                            fatal_msg[768];
    pthread_mutex_t                 fatal_mu;
    pthread_mutex_t                 drain_mu;
    pthread_cond_t                  drain_cv;
    int                             paused;
    uint32_t                        nouts;  /* px_out slots per input */
    /* in flight (inputs consumed, not yet retired) */
    atomic_llong                    inflight_records, inflight_bytes;
    /* counters */
    atomic_ullong                   n_in, n_dlq, n_dropped, n_failed,
        n_unrouted, n_unrouted_out, n_retired, n_delivery_failed;
    atomic_ullong                  *n_route_out; /* per route */
    uint64_t                        n_committed;
};

static volatile sig_atomic_t stop_signals;

static void on_signal(int sig)
{
    (void)sig;
    if (stop_signals++ > 0) {
        /* A second signal: the operator wants out now. */
        _exit(2);
    }
}

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Records the first fatal condition; the consumer loop sees it and shuts
 * down. Later ones are logged only. */
static void relay_fatal(struct px_relay *r, const char *fmt, ...)
    SMT_PRINTF(2, 3);

static void relay_fatal(struct px_relay *r, const char *fmt, ...)
{
    va_list ap;
    char    msg[768];

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    PX_ERR("%s", msg);
    pthread_mutex_lock(&r->fatal_mu);
    if (!atomic_load(&r->fatal)) {
        snprintf(r->fatal_msg, sizeof(r->fatal_msg), "%s", msg);
        r->exit_code = 1;
        atomic_store(&r->fatal, 1);
    }
    pthread_mutex_unlock(&r->fatal_mu);
}

/* ---------------------------------------------------------------------- */
/* Queues */

static void queue_init(struct px_queue *q, size_t cap)
{
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->not_empty, NULL);
    pthread_cond_init(&q->not_full, NULL);
    q->buf = smt_xcalloc(cap, sizeof(*q->buf));
    q->cap = cap;
    q->head = q->n = 0;
    q->closed = 0;
}

static void queue_fini(struct px_queue *q)
{
    pthread_mutex_destroy(&q->mu);
    pthread_cond_destroy(&q->not_empty);
    pthread_cond_destroy(&q->not_full);
    free(q->buf);
}

/* Appends n inputs, blocking while the queue is full (the worker is
 * behind). One lock and at most one wake-up per batch, not per record. */
static void queue_push(struct px_queue *q, struct px_input **in, size_t n)
{
    size_t i = 0;

    pthread_mutex_lock(&q->mu);
    while (i < n) {
        while (q->n == q->cap) {
            q->push_waiting++;
            pthread_cond_wait(&q->not_full, &q->mu);
            q->push_waiting--;
        }
        while (i < n && q->n < q->cap) {
            q->buf[(q->head + q->n) % q->cap] = in[i++];
            q->n++;
        }
        if (q->pop_waiting) {
            pthread_cond_signal(&q->not_empty);
        }
    }
    pthread_mutex_unlock(&q->mu);
}

/* Takes up to max inputs into out; blocks while the queue is empty.
 * Returns 0 once the queue is closed and empty. */
static size_t queue_pop(struct px_queue *q, struct px_input **out, size_t max)
{
    size_t n = 0;

    pthread_mutex_lock(&q->mu);
    while (q->n == 0 && !q->closed) {
        q->pop_waiting++;
        pthread_cond_wait(&q->not_empty, &q->mu);
        q->pop_waiting--;
    }
    while (n < max && q->n > 0) {
        out[n++] = q->buf[q->head];
        q->head = (q->head + 1) % q->cap;
        q->n--;
    }
    if (n > 0 && q->push_waiting) {
        pthread_cond_signal(&q->not_full);
    }
    pthread_mutex_unlock(&q->mu);
    return n;
}

static void queue_close(struct px_queue *q)
{
    pthread_mutex_lock(&q->mu);
    q->closed = 1;
    pthread_cond_broadcast(&q->not_empty);
    pthread_mutex_unlock(&q->mu);
}

/* ---------------------------------------------------------------------- */
/* Partitions and delivery accounting */

static struct px_part *part_find(struct px_relay *r, const char *topic,
                                 int32_t partition)
{
    struct px_part *p;

    for (p = r->parts; p != NULL; p = p->next) {
        if (p->partition == partition && strcmp(p->topic, topic) == 0) {
            return p;
        }
    }
    return NULL;
}

static struct px_part *part_get(struct px_relay *r, const char *topic,
                                int32_t partition)
{
    struct px_part *p = part_find(r, topic, partition);

    if (p != NULL) {
        return p;
    }
    p = smt_xcalloc(1, sizeof(*p));
    p->topic = smt_xstrdup(topic);
    p->partition = partition;
    p->store = -1;
    p->stored = -1;
    pthread_mutex_init(&p->lock, NULL);
    p->next = r->parts;
    r->parts = p;
    return p;
}

static void part_free(struct px_part *p)
{
    struct px_input *in, *next;

    for (in = p->head; in != NULL; in = next) {
        next = in->next;
        rd_kafka_message_destroy(in->rkm);
        free(in);
    }
    pthread_mutex_destroy(&p->lock);
    free(p->topic);
    free(p);
}

/* Takes p out of the assignment without freeing it: records of it are
 * still in flight and will retire into it, but nothing of it is stored or
 * committed any more, and if the partition comes back it gets a fresh
 * list (a re-fetched offset never queues behind an old one). Freed by
 * sweep_zombies() once empty. Consumer thread. */
static void part_detach(struct px_relay *r, struct px_part *p)
{
    struct px_part **pp;

    for (pp = &r->parts; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == p) {
            *pp = p->next;
            p->next = r->zombies;
            r->zombies = p;
            return;
        }
    }
}

static void sweep_zombies(struct px_relay *r, int all)
{
    struct px_part **pp = &r->zombies, *p;
    int              empty;

    while ((p = *pp) != NULL) {
        pthread_mutex_lock(&p->lock);
        empty = p->head == NULL;
        pthread_mutex_unlock(&p->lock);
        if (empty || all) {
            *pp = p->next;
            part_free(p);
        } else {
            pp = &p->next;
        }
    }
}

static void part_remove(struct px_relay *r, struct px_part *p)
{
    struct px_part **pp;

    for (pp = &r->parts; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == p) {
            *pp = p->next;
            part_free(p);
            return;
        }
    }
}

/* Drops one hold on in; when it was the last, retires the contiguous done
 * prefix of its partition. Called by workers and the poll thread. */
static void input_release(struct px_relay *r, struct px_input *in)
{
    struct px_part  *p = in->part;
    struct px_input *h;
    int              popped = 0;

    if (atomic_fetch_sub(&in->pending, 1) != 1) {
        return;
    }
    pthread_mutex_lock(&p->lock);
    in->done = 1;
    while ((h = p->head) != NULL && h->done && !atomic_load(&h->poison)) {
        p->head = h->next;
        if (p->head == NULL) {
            p->tail = NULL;
        }
        p->store = h->offset + 1;
        p->inflight--;
        atomic_fetch_sub(&r->inflight_records, 1);
        atomic_fetch_sub(&r->inflight_bytes, (long long)h->bytes);
        atomic_fetch_add(&r->n_retired, 1);
        rd_kafka_message_destroy(h->rkm);
        free(h);
        popped = 1;
    }
    pthread_mutex_unlock(&p->lock);
    if (popped) {
        pthread_mutex_lock(&r->drain_mu);
        pthread_cond_broadcast(&r->drain_cv);
        pthread_mutex_unlock(&r->drain_mu);
    }
}

/* Gives the consumer every partition's new store offset. Consumer thread. */
static void store_offsets(struct px_relay *r)
{
    rd_kafka_topic_partition_list_t *list = NULL;
    struct px_part                  *p;
    int64_t                          s;
    rd_kafka_resp_err_t              err;

    for (p = r->parts; p != NULL; p = p->next) {
        pthread_mutex_lock(&p->lock);
        s = p->store;
        pthread_mutex_unlock(&p->lock);
        if (s > p->stored) {
            if (list == NULL) {
                list = rd_kafka_topic_partition_list_new(8);
            }
            rd_kafka_topic_partition_list_add(list, p->topic, p->partition)
                ->offset = s;
            p->stored = s;
        }
    }
    if (list != NULL) {
        err = rd_kafka_offsets_store(r->consumer, list);
        if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            PX_WARN("storing offsets: %s", rd_kafka_err2str(err));
        }
        rd_kafka_topic_partition_list_destroy(list);
    }
}

/* True when nothing of p is in flight, or what is left is stuck behind a
 * poisoned record (which will never retire). */
static int part_drained(struct px_part *p)
{
    int drained;

    pthread_mutex_lock(&p->lock);
    drained = p->head == NULL || (p->head->done && atomic_load(&p->head->poison));
    pthread_mutex_unlock(&p->lock);
    return drained;
}

/* Waits (with a deadline) until every partition in list (or all when NULL)
 * has drained. Returns 1 when they all did. */
static int wait_drained(struct px_relay *r,
                        const rd_kafka_topic_partition_list_t *list,
                        int64_t timeout_ms)
{
    int64_t         deadline = now_ms() + timeout_ms;
    struct timespec ts;
    int             all, i;
    struct px_part *p;

    for (;;) {
        all = 1;
        if (list != NULL) {
            for (i = 0; i < list->cnt && all; i++) {
                p = part_find(r, list->elems[i].topic,
                              list->elems[i].partition);
                all = p == NULL || part_drained(p);
            }
        } else {
            for (p = r->parts; p != NULL && all; p = p->next) {
                all = part_drained(p);
            }
        }
        if (all || now_ms() >= deadline) {
            return all;
        }
        pthread_mutex_lock(&r->drain_mu);
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 50 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&r->drain_cv, &r->drain_mu, &ts);
        pthread_mutex_unlock(&r->drain_mu);
    }
}

/* ---------------------------------------------------------------------- */
/* Producing */

static const struct smt_errors_conf *route_errors(const struct smt_pipeline_conf *pc,
                                                  const struct smt_route_conf *route)
{
    return route != NULL && route->has_errors ? &route->errors : &pc->errors;
}

/* Produces one message; ownership of hdrs passes to librdkafka on success
 * (destroyed here on failure). Takes a hold on out->in for the delivery
 * report. block: wait while the producer queue is full (workers); the
 * delivery-report thread must not block (it is what frees the queue).
 * Returns 0, or -1 with errbuf when librdkafka refused it synchronously. */
/* Topic handles, per producing thread (workers and the delivery-report
 * thread): producing by name makes librdkafka look the topic up under a
 * lock for every message. A small cache, oldest evicted first, because
 * TimestampRouter-style destinations keep changing. Each thread clears its
 * own before it exits, while the producer still exists. */
#define PX_TOPIC_CACHE 32

struct px_topic_cache {
    uint32_t n, next;
    struct {
        char             name[256];
        size_t           len;
        rd_kafka_topic_t *rkt;
    } e[PX_TOPIC_CACHE];
};

static _Thread_local struct px_topic_cache topic_cache;

static rd_kafka_topic_t *topic_handle(rd_kafka_t *rk, const char *name,
                                      size_t len)
{
    struct px_topic_cache *c = &topic_cache;
    uint32_t               i;
    rd_kafka_topic_t      *rkt;

    for (i = 0; i < c->n; i++) {
        if (c->e[i].len == len && memcmp(c->e[i].name, name, len) == 0) {
            return c->e[i].rkt;
        }
    }
    rkt = rd_kafka_topic_new(rk, name, NULL);
    if (rkt == NULL) {
        return NULL;
    }
    if (c->n < PX_TOPIC_CACHE) {
        i = c->n++;
    } else {
        i = c->next;
        c->next = (c->next + 1) % PX_TOPIC_CACHE;
        /* in-flight messages keep their own reference */
        rd_kafka_topic_destroy(c->e[i].rkt);
    }
    memcpy(c->e[i].name, name, len + 1);
    c->e[i].len = len;
    c->e[i].rkt = rkt;
    return rkt;
}

static void topic_cache_clear(void)
{
    uint32_t i;

    for (i = 0; i < topic_cache.n; i++) {
        rd_kafka_topic_destroy(topic_cache.e[i].rkt);
    }
    topic_cache.n = topic_cache.next = 0;
}

static int produce(struct px_relay *r, struct smt_bytes topic,
                   struct smt_bytes key, struct smt_bytes value,
                   rd_kafka_headers_t *hdrs, int64_t ts, struct px_out *out,
                   int block, char *errbuf, size_t errsize)
{
    char                name[256];
    rd_kafka_resp_err_t err;
    rd_kafka_topic_t   *rkt;
    int                 in_msg;

    if (topic.len == 0 || topic.len >= sizeof(name)) {
        snprintf(errbuf, errsize, "invalid topic name (%zu bytes)",
                 topic.len);
        if (hdrs != NULL) {
            rd_kafka_headers_destroy(hdrs);
        }
        return -1;
    }
    memcpy(name, topic.ptr, topic.len);
    name[topic.len] = '\0';
    rkt = topic_handle(r->producer, name, topic.len);
    if (rkt == NULL) {
        snprintf(errbuf, errsize, "invalid topic name '%s': %s", name,
                 rd_kafka_err2str(rd_kafka_last_error()));
        if (hdrs != NULL) {
            rd_kafka_headers_destroy(hdrs);
        }
        return -1;
    }
    /* A value that is still the consumed message's bytes (unchanged, or a
     * DLQ record) is produced by reference: the input keeps the message
     * until the last delivery report of everything derived from it, so no
     * copy is needed. Anything else lives in a worker's arena and is
     * copied. (librdkafka always copies keys.) */
    in_msg = value.ptr != NULL && out->in->rkm->payload != NULL &&
             value.ptr >= (const char *)out->in->rkm->payload &&
             value.ptr + value.len <=
                 (const char *)out->in->rkm->payload + out->in->rkm->len;
    atomic_fetch_add(&out->in->pending, 1);
    err = rd_kafka_producev(
        r->producer, RD_KAFKA_V_RKT(rkt),
        RD_KAFKA_V_MSGFLAGS((in_msg ? 0 : RD_KAFKA_MSG_F_COPY) |
                            (block ? RD_KAFKA_MSG_F_BLOCK : 0)),
        RD_KAFKA_V_KEY(key.ptr, key.ptr ? key.len : 0),
        RD_KAFKA_V_VALUE((void *)(uintptr_t)value.ptr, value.ptr ? value.len : 0),
        RD_KAFKA_V_HEADERS(hdrs),
        RD_KAFKA_V_TIMESTAMP(ts == SMT_TS_NONE ? 0 : ts),
        RD_KAFKA_V_OPAQUE(out), RD_KAFKA_V_END);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        atomic_fetch_sub(&out->in->pending, 1);
        snprintf(errbuf, errsize, "%s", rd_kafka_err2str(err));
        if (hdrs != NULL) {
            rd_kafka_headers_destroy(hdrs);
        }
        return -1;
    }
    return 0;
}

static rd_kafka_headers_t *headers_of(const struct smt_header *h, uint32_t n,
                                      size_t extra)
{
    rd_kafka_headers_t *hdrs;
    uint32_t            i;

    if (n + extra == 0) {
        return NULL; /* no allocation for a record without headers */
    }
    hdrs = rd_kafka_headers_new(n + extra);

    for (i = 0; i < n; i++) {
        rd_kafka_header_add(hdrs, h[i].name.ptr, (ssize_t)h[i].name.len,
                            h[i].value.ptr,
                            h[i].value.ptr ? (ssize_t)h[i].value.len : 0);
    }
    return hdrs;
}

static void hdr_add_str(rd_kafka_headers_t *hdrs, const char *name,
                        const char *value)
{
    rd_kafka_header_add(hdrs, name, -1, value, value ? -1 : 0);
}

/* The context of one failure, for the DLQ record and the log line. */
struct px_failure {
    int                          stage;
    const char                  *klass;     /* executing class */
    const char                  *exception; /* exception class */
    const char                  *message;
    const char                  *route;     /* route name or NULL */
    const char                  *step;      /* step id or NULL */
};

/* The original record (key, value, headers, timestamp, byte for byte) plus,
 * when enabled, Kafka Connect's __connect.errors.* context headers and ours
 * (__smtproxy.errors.route / .step). */
static int produce_dlq(struct px_relay *r, struct px_input *in,
                       const struct smt_errors_conf *ec,
                       const struct px_failure *f, struct px_out *out,
                       int block, char *errbuf, size_t errsize)
{
    const rd_kafka_message_t *rkm = in->rkm;
    rd_kafka_headers_t       *orig = NULL, *hdrs;
    rd_kafka_timestamp_type_t tstype;
    int64_t                   ts = rd_kafka_message_timestamp(rkm, &tstype);
    char                      num[32], trace[640];

    if (rd_kafka_message_headers(rkm, &orig) == RD_KAFKA_RESP_ERR_NO_ERROR &&
        orig != NULL) {
        hdrs = rd_kafka_headers_copy(orig);
    } else {
        hdrs = rd_kafka_headers_new(12);
    }
    if (ec->dlq_context_headers) {
        hdr_add_str(hdrs, "__connect.errors.topic",
                    rd_kafka_topic_name(rkm->rkt));
        snprintf(num, sizeof(num), "%d", (int)rkm->partition);
        hdr_add_str(hdrs, "__connect.errors.partition", num);
        snprintf(num, sizeof(num), "%lld", (long long)rkm->offset);
        hdr_add_str(hdrs, "__connect.errors.offset", num);
        hdr_add_str(hdrs, "__connect.errors.connector.name",
                    r->pc->name ? r->pc->name : "smtproxy");
        hdr_add_str(hdrs, "__connect.errors.task.id", "0");
        hdr_add_str(hdrs, "__connect.errors.stage", smt_stage_name(f->stage));
        hdr_add_str(hdrs, "__connect.errors.class.name", f->klass);
        hdr_add_str(hdrs, "__connect.errors.exception.class.name",
                    f->exception);
        hdr_add_str(hdrs, "__connect.errors.exception.message", f->message);
        snprintf(trace, sizeof(trace), "%s: %s", f->exception,
                 f->message ? f->message : "");
        hdr_add_str(hdrs, "__connect.errors.exception.stacktrace", trace);
        if (f->route != NULL) {
            hdr_add_str(hdrs, "__smtproxy.errors.route", f->route);
        }
        if (f->step != NULL) {
            hdr_add_str(hdrs, "__smtproxy.errors.step", f->step);
        }
    }
    {
        struct smt_bytes topic = smt_bytes_str(ec->dlq_topic);
        struct smt_bytes key = {rkm->key, rkm->key_len};
        struct smt_bytes value = {rkm->payload, rkm->len};

        return produce(r, topic, key, value, hdrs,
                       tstype == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE ? SMT_TS_NONE
                                                                  : ts,
                       out, block, errbuf, errsize);
    }
}

/* Reports one failure of in: log (errors.log.enable), DLQ record (if a DLQ
 * topic is set), then, under tolerance none, stops the relay without
 * committing past the record. If the DLQ cannot be written the record is
 * poisoned too: it is never skipped unreported. */
static void report_failure(struct px_relay *r, struct px_input *in,
                           const struct smt_route_conf *route,
                           uint32_t route_index, const struct px_failure *f,
                           int failure, int block)
{
    const struct smt_errors_conf *ec = route_errors(r->pc, route);
    const rd_kafka_message_t     *rkm = in->rkm;
    char                          errbuf[256];
    int                           reported = 0;

    if (failure) {
        atomic_fetch_add(&r->n_failed, 1);
    }
    if (failure && ec->log_enable) {
        if (ec->log_include_messages) {
            PX_ERR("Error encountered in task %s-0. Executing stage '%s' with "
                   "class '%s', where consumed record is {topic='%s', "
                   "partition=%d, offset=%lld}: %s",
                   r->pc->name ? r->pc->name : "smtproxy",
                   smt_stage_name(f->stage), f->klass,
                   rd_kafka_topic_name(rkm->rkt), (int)rkm->partition,
                   (long long)rkm->offset, f->message);
        } else {
            PX_ERR("Error encountered in task %s-0. Executing stage '%s' with "
                   "class '%s': %s",
                   r->pc->name ? r->pc->name : "smtproxy",
                   smt_stage_name(f->stage), f->klass, f->message);
        }
    }
    if (ec->dlq_topic != NULL && ec->dlq_topic[0] != '\0') {
        struct px_out *out = &in->outs[2 * route_index + 1];

        out->in = in;
        out->route = (uint16_t)route_index;
        out->dlq = 1;
        if (produce_dlq(r, in, ec, f, out, block, errbuf, sizeof(errbuf)) ==
            0) {
            atomic_fetch_add(&r->n_dlq, 1);
            reported = 1;
        } else {
            atomic_store(&in->poison, 1);
            relay_fatal(r, "cannot write record %s/%d/%lld to the DLQ topic "
                           "'%s': %s; stopping without committing past it",
                        rd_kafka_topic_name(rkm->rkt), (int)rkm->partition,
                        (long long)rkm->offset, ec->dlq_topic, errbuf);
            return;
        }
    }
    if (failure && ec->tolerance == SMT_TOL_NONE) {
        atomic_store(&in->poison, 1);
        relay_fatal(r, "record %s/%d/%lld failed in route '%s'%s%s%s at stage "
                       "%s: %s; stopping (errors.tolerance=none)%s",
                    rd_kafka_topic_name(rkm->rkt), (int)rkm->partition,
                    (long long)rkm->offset, f->route ? f->route : "-",
                    f->step ? " (step '" : "", f->step ? f->step : "",
                    f->step ? "')" : "", smt_stage_name(f->stage), f->message,
                    reported ? "; it was written to the DLQ" : "");
    } else if (failure && !reported && !ec->log_enable) {
        /* tolerance all without a DLQ or log: Connect skips silently; we
         * at least say it once in a while at debug level */
        PX_DBG("skipped record %s/%d/%lld: %s", rd_kafka_topic_name(rkm->rkt),
               (int)rkm->partition, (long long)rkm->offset, f->message);
    }
}

/* ---------------------------------------------------------------------- */
/* Workers */

struct px_emit_ctx {
    struct px_relay  *r;
    struct px_worker *w;
    struct px_input  *in;
};

static void emit(void *opaque, const struct smt_output *o)
{
    struct px_emit_ctx          *c = opaque;
    struct px_relay             *r = c->r;
    struct px_input             *in = c->in;
    const struct smt_route_conf *route = o->route;
    struct px_failure            f;
    char                         klass[192], errbuf[256];
    struct px_out               *out;

    switch (o->outcome) {
    case SMT_OUT_RECORD:
        /* All records of one route (a step may split one into several)
         * share the route's slot: a delivery report reads only in, route
         * and dlq. Written once, before the first produce, so the
         * delivery-report thread never sees it change. */
        out = &in->outs[2 * o->route_index];
        if (o->piece == 0) {
            out->in = in;
            out->route = (uint16_t)o->route_index;
            out->dlq = 0;
            in->route_failed = 0;
        } else if (in->route_failed) {
            break; /* an earlier record of this split already failed */
        }
        if (produce(r, o->rec->topic, o->rec->key.raw, o->rec->value.raw,
                    headers_of(o->rec->hdrs, o->rec->nhdrs, 0), o->rec->ts_ms,
                    out, 1, errbuf, sizeof(errbuf)) != 0) {
            memset(&f, 0, sizeof(f));
            f.stage = SMT_STAGE_KAFKA_PRODUCE;
            f.klass = "smtproxy.producer";
            f.exception = "org.apache.kafka.connect.errors.ConnectException";
            f.message = errbuf;
            f.route = route->name;
            in->route_failed = 1;
            report_failure(r, in, route, o->route_index, &f, 1, 1);
        }
        break;
    case SMT_OUT_FAIL:
        memset(&f, 0, sizeof(f));
        f.stage = o->err->stage;
        if (o->step != NULL) {
            f.klass = smt_inst_class(o->step, klass, sizeof(klass));
        } else if (f.stage == SMT_STAGE_KEY_CONVERTER ||
                   f.stage == SMT_STAGE_VALUE_CONVERTER) {
            f.klass = "org.apache.kafka.connect.json.JsonConverter";
        } else {
            f.klass = "smtproxy.condition";
        }
        f.exception = smt_err_class(o->err->code);
        f.message = o->err->msg;
        /* An input that does not decode is the record's failure, not the
         * route's that happened to need it first: no route header then. */
        f.route = route != NULL && (o->step != NULL ||
                                    (f.stage != SMT_STAGE_KEY_CONVERTER &&
                                     f.stage != SMT_STAGE_VALUE_CONVERTER))
                      ? route->name
                      : NULL;
        f.step = o->step ? o->step->id : NULL;
        report_failure(r, in, route, o->route_index, &f, 1, 1);
        break;
    case SMT_OUT_DROP:
        atomic_fetch_add(&r->n_dropped, 1);
        break;
    case SMT_OUT_UNROUTED:
        atomic_fetch_add(&r->n_unrouted, 1);
        if (r->pc->unrouted == SMT_UNROUTED_TOPIC) {
            out = &in->outs[2 * r->pc->nroutes];
            out->in = in;
            out->route = (uint16_t)r->pc->nroutes;
            out->dlq = 0;
            if (produce(r, smt_bytes_str(r->pc->unrouted_topic),
                        o->rec->key.raw, o->rec->value.raw,
                        headers_of(o->rec->hdrs, o->rec->nhdrs, 0),
                        o->rec->ts_ms, out, 1, errbuf, sizeof(errbuf)) != 0) {
                memset(&f, 0, sizeof(f));
                f.stage = SMT_STAGE_KAFKA_PRODUCE;
                f.klass = "smtproxy.producer";
                f.exception = "org.apache.kafka.connect.errors.ConnectException";
                f.message = errbuf;
                report_failure(r, in, NULL, r->pc->nroutes, &f, 1, 1);
            } else {
                atomic_fetch_add(&r->n_unrouted_out, 1);
            }
        } else if (r->pc->unrouted == SMT_UNROUTED_DLQ) {
            /* Connect has no stage for this; routing is part of what the
             * relay does to a record, so TRANSFORMATION, with our own
             * executing class so tools can tell it apart. */
            memset(&f, 0, sizeof(f));
            f.stage = SMT_STAGE_TRANSFORMATION;
            f.klass = "smtproxy.router";
            f.exception = "org.apache.kafka.connect.errors.DataException";
            f.message = "no route took the record";
            /* not a failure: reported to the DLQ, never stops the relay */
            report_failure(r, in, NULL, r->pc->nroutes, &f, 0, 1);
        }
        break;
    default:
        break;
    }
}

static void record_from_message(struct smt_record *rec,
                                const rd_kafka_message_t *rkm,
                                const struct smt_pipeline_conf *pc,
                                struct smt_arena *a)
{
    rd_kafka_headers_t       *hdrs = NULL;
    rd_kafka_timestamp_type_t tstype;
    int64_t                   ts;
    size_t                    i;
    const char               *name;
    const void               *val;
    size_t                    size;

    smt_record_init(rec, a, pc->key_fmt, pc->value_fmt);
    rec->topic = smt_bytes_str(rd_kafka_topic_name(rkm->rkt));
    rec->partition = rkm->partition;
    rec->offset = rkm->offset;
    ts = rd_kafka_message_timestamp(rkm, &tstype);
    rec->ts_ms = tstype == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE ? SMT_TS_NONE : ts;
    if (rkm->key != NULL) {
        rec->key.raw.ptr = rkm->key;
        rec->key.raw.len = rkm->key_len;
    }
    if (rkm->payload != NULL) {
        rec->value.raw.ptr = rkm->payload;
        rec->value.raw.len = rkm->len;
    }
    if (rd_kafka_message_headers(rkm, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR &&
        hdrs != NULL) {
        for (i = 0; rd_kafka_header_get_all(hdrs, i, &name, &val, &size) ==
                    RD_KAFKA_RESP_ERR_NO_ERROR;
             i++) {
            struct smt_bytes n = smt_bytes_str(name);
            struct smt_bytes v = {val, size};

            smt_record_header_add(rec, n, v);
        }
    }
}

static void *worker_main(void *arg)
{
    struct px_worker  *w = arg;
    struct px_relay   *r = w->r;
    struct px_input   *in, *batch[PX_BATCH];
    struct smt_record  rec;
    struct px_emit_ctx ctx;
    size_t             n, i;

    ctx.r = r;
    ctx.w = w;
    while ((n = queue_pop(&w->q, batch, PX_BATCH)) > 0) {
        for (i = 0; i < n; i++) {
            in = batch[i];
            ctx.in = in;
            record_from_message(&rec, in->rkm, r->pc, &w->arena);
            smt_pipeline_process(w->pl, &rec, emit, &ctx);
            smt_arena_reset(&w->arena);
            input_release(r, in); /* the worker's hold */
        }
    }
    topic_cache_clear();
    return NULL;
}

/* ---------------------------------------------------------------------- */
/* Delivery reports and client errors */

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *rkm, void *opaque)
{
    struct px_relay *r = opaque;
    struct px_out   *out = rkm->_private;
    struct px_input *in = out->in;
    struct px_failure f;

    (void)rk;
    if (atomic_load(&r->closing)) {
        /* purged at exit after shutdown.timeout: nothing is reported and
         * nothing commits past these records */
        input_release(r, in);
        return;
    }
    if (rkm->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        if (!out->dlq) {
            if (out->route < r->pc->nroutes) {
                atomic_fetch_add(&r->n_route_out[out->route], 1);
            }
        }
        input_release(r, in);
        return;
    }
    atomic_fetch_add(&r->n_delivery_failed, 1);
    if (out->dlq) {
        /* The DLQ itself cannot take the record: never skip it. */
        atomic_store(&in->poison, 1);
        relay_fatal(r, "DLQ record for %s/%d/%lld not delivered: %s; stopping "
                       "without committing past it",
                    rd_kafka_topic_name(in->rkm->rkt), (int)in->rkm->partition,
                    (long long)in->rkm->offset, rd_kafka_err2str(rkm->err));
    } else {
        const struct smt_route_conf *route =
            out->route < r->pc->nroutes ? &r->pc->routes[out->route] : NULL;

        memset(&f, 0, sizeof(f));
        f.stage = SMT_STAGE_KAFKA_PRODUCE;
        f.klass = "smtproxy.producer";
        f.exception = "org.apache.kafka.connect.errors.ConnectException";
        f.message = rd_kafka_err2str(rkm->err);
        f.route = route ? route->name : NULL;
        report_failure(r, in, route, out->route, &f, 1, 0);
    }
    input_release(r, in);
}

static void error_cb(rd_kafka_t *rk, int err, const char *reason,
                     void *opaque)
{
    struct px_relay *r = opaque;
    char             fatal[512];

    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        rd_kafka_fatal_error(rk, fatal, sizeof(fatal));
        relay_fatal(r, "%s: fatal error: %s", rd_kafka_name(rk), fatal);
        return;
    }
    /* librdkafka logs the others itself (log_cb): say them once */
    PX_DBG("%s: %s: %s", rd_kafka_name(rk), rd_kafka_err2name(err), reason);
}

/* librdkafka's own log lines, in our format and at our level. */
static void log_cb(const rd_kafka_t *rk, int level, const char *fac,
                   const char *buf)
{
    int ours = level <= 3 ? PX_LOG_ERROR
                          : level <= 5 ? PX_LOG_WARN
                                       : level == 6 ? PX_LOG_INFO : PX_LOG_DEBUG;

    if (ours <= px_log_level) {
        px_log(ours, "%s: %s: %s", rd_kafka_name(rk), fac, buf);
    }
}

static void *poll_main(void *arg)
{
    struct px_relay *r = arg;

    while (!atomic_load(&r->poll_stop)) {
        rd_kafka_poll(r->producer, 100);
    }
    topic_cache_clear();
    return NULL;
}

/* ---------------------------------------------------------------------- */
/* Rebalances */

static void pause_list(struct px_relay *r, rd_kafka_topic_partition_list_t *l,
                       int pause)
{
    if (l == NULL || l->cnt == 0) {
        return;
    }
    if (pause) {
        rd_kafka_pause_partitions(r->consumer, l);
    } else {
        rd_kafka_resume_partitions(r->consumer, l);
    }
}

static void commit_parts(struct px_relay *r,
                         const rd_kafka_topic_partition_list_t *parts)
{
    rd_kafka_topic_partition_list_t *list =
        rd_kafka_topic_partition_list_new(parts ? parts->cnt : 8);
    struct px_part                  *p;
    int                              i;
    rd_kafka_resp_err_t              err;

    store_offsets(r);
    for (p = r->parts; p != NULL; p = p->next) {
        int wanted = parts == NULL;

        for (i = 0; parts != NULL && i < parts->cnt && !wanted; i++) {
            wanted = parts->elems[i].partition == p->partition &&
                     strcmp(parts->elems[i].topic, p->topic) == 0;
        }
        if (wanted && p->stored >= 0) {
            rd_kafka_topic_partition_list_add(list, p->topic, p->partition)
                ->offset = p->stored;
        }
    }
    if (list->cnt > 0) {
        err = rd_kafka_commit(r->consumer, list, 0);
        if (err != RD_KAFKA_RESP_ERR_NO_ERROR &&
            err != RD_KAFKA_RESP_ERR__NO_OFFSET) {
            PX_WARN("commit: %s", rd_kafka_err2str(err));
        } else {
            r->n_committed++;
        }
    }
    rd_kafka_topic_partition_list_destroy(list);
}

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    struct px_relay *r = opaque;
    int              coop = strcmp(rd_kafka_rebalance_protocol(rk),
                                   "COOPERATIVE") == 0;
    int              i;
    rd_kafka_error_t *error = NULL;
    struct px_part   *p;

    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        for (i = 0; i < parts->cnt; i++) {
            part_get(r, parts->elems[i].topic, parts->elems[i].partition);
        }
        PX_INFO("assigned %d partition(s)", parts->cnt);
        if (coop) {
            error = rd_kafka_incremental_assign(rk, parts);
        } else {
            rd_kafka_assign(rk, parts);
        }
        if (r->paused) {
            pause_list(r, parts, 1);
        }
    } else if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
        int lost = rd_kafka_assignment_lost(rk);

        PX_INFO("revoking %d partition(s)%s", parts->cnt,
                lost ? " (lost: nothing can be committed for them)"
                     : ": draining");
        /* A lost partition cannot be committed any more: waiting for it
         * would only stall the consumer. Otherwise drain, then commit
         * (while stopping, everything that could drain already has). */
        if (!lost &&
            !wait_drained(r, parts, r->stopping ? 0 : r->xc.revoke_ms)) {
            PX_WARN("revoked partitions did not drain within %lld ms; "
                    "committing what was delivered",
                    (long long)r->xc.revoke_ms);
        }
        if (!lost) {
            commit_parts(r, parts);
        }
        if (coop) {
            error = rd_kafka_incremental_unassign(rk, parts);
        } else {
            rd_kafka_assign(rk, NULL);
        }
        for (i = 0; i < parts->cnt; i++) {
            p = part_find(r, parts->elems[i].topic, parts->elems[i].partition);
            if (p != NULL) {
                part_detach(r, p);
            }
        }
        sweep_zombies(r, 0);
    } else {
        PX_ERR("rebalance: %s", rd_kafka_err2str(err));
        rd_kafka_assign(rk, NULL);
    }
    if (error != NULL) {
        PX_ERR("rebalance: %s", rd_kafka_error_string(error));
        rd_kafka_error_destroy(error);
    }
}

/* ---------------------------------------------------------------------- */
/* Stats */

static void write_stats(struct px_relay *r, FILE *f)
{
    uint32_t i;

    fprintf(f, "{\"in\":%llu,\"out\":{",
            (unsigned long long)atomic_load(&r->n_in));
    for (i = 0; i < r->pc->nroutes; i++) {
        fprintf(f, "%s\"%s\":%llu", i ? "," : "", r->pc->routes[i].name,
                (unsigned long long)atomic_load(&r->n_route_out[i]));
    }
    fprintf(f,
            "},\"dlq\":%llu,\"dropped\":%llu,\"failed\":%llu,"
            "\"unrouted\":%llu,\"retired\":%llu,\"inflight\":%lld,"
            "\"inflight_bytes\":%lld,\"delivery_failed\":%llu,"
            "\"paused\":%s}\n",
            (unsigned long long)atomic_load(&r->n_dlq),
            (unsigned long long)atomic_load(&r->n_dropped),
            (unsigned long long)atomic_load(&r->n_failed),
            (unsigned long long)atomic_load(&r->n_unrouted),
            (unsigned long long)atomic_load(&r->n_retired),
            (long long)atomic_load(&r->inflight_records),
            (long long)atomic_load(&r->inflight_bytes),
            (unsigned long long)atomic_load(&r->n_delivery_failed),
            r->paused ? "true" : "false");
}

static void stats_file(struct px_relay *r)
{
    char  tmp[4096];
    FILE *f;

    if (r->opts->stats_file == NULL) {
        return;
    }
    snprintf(tmp, sizeof(tmp), "%s.tmp", r->opts->stats_file);
    if ((f = fopen(tmp, "w")) == NULL) {
        return;
    }
    write_stats(r, f);
    if (fclose(f) == 0) {
        rename(tmp, r->opts->stats_file);
    }
}

struct rates {
    int64_t  at;
    uint64_t in, dlq, out[64];
};

static void progress_line(struct px_relay *r, struct rates *prev, int final)
{
    int64_t  t = now_ms();
    double   dt = (double)(t - prev->at) / 1000.0;
    uint64_t in = atomic_load(&r->n_in), dlq = atomic_load(&r->n_dlq);
    char     line[1024];
    size_t   n;
    uint32_t i;

    if (dt <= 0) {
        dt = 1;
    }
    n = (size_t)snprintf(line, sizeof(line), "in %llu (%.0f/s)",
                         (unsigned long long)in, (double)(in - prev->in) / dt);
    for (i = 0; i < r->pc->nroutes && i < 64 && n < sizeof(line); i++) {
        uint64_t o = atomic_load(&r->n_route_out[i]);

        n += (size_t)snprintf(line + n, sizeof(line) - n, " | %s %llu (%.0f/s)",
                              r->pc->routes[i].name, (unsigned long long)o,
                              (double)(o - prev->out[i]) / dt);
        prev->out[i] = o;
    }
    if (n < sizeof(line)) {
        snprintf(line + n, sizeof(line) - n,
                 " | dlq %llu (%.0f/s) | in flight %lld",
                 (unsigned long long)dlq, (double)(dlq - prev->dlq) / dt,
                 (long long)atomic_load(&r->inflight_records));
    }
    prev->at = t;
    prev->in = in;
    prev->dlq = dlq;
    if (isatty(2) && !final) {
        fprintf(stderr, "\r\033[K%s", line);
    } else {
        fprintf(stderr, "%s%s\n", isatty(2) ? "\r\033[K" : "", line);
    }
}

/* ---------------------------------------------------------------------- */
/* Set-up and the consumer loop */

static int setup_embedded(struct px_relay *r, char *bootstrap, size_t size)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char             errstr[256];
    uint32_t         i;
    int              np = r->xc.embedded_partitions;

    rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof(errstr));
    r->mock_rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (r->mock_rk == NULL) {
        PX_ERR("embedded cluster: %s", errstr);
        return -1;
    }
    r->mock = rd_kafka_mock_cluster_new(r->mock_rk, 1);
    if (r->mock == NULL) {
        PX_ERR("embedded cluster: could not start");
        return -1;
    }
    snprintf(bootstrap, size, "%s", rd_kafka_mock_cluster_bootstraps(r->mock));
    /* The pipeline's topics exist from the start, with several partitions
     * so that workers run in parallel. */
    for (i = 0; i < r->pc->topics.n; i++) {
        rd_kafka_mock_topic_create(r->mock, r->pc->topics.v[i], np, 1);
    }
    for (i = 0; i < r->pc->nroutes; i++) {
        const struct smt_route_conf *rt = &r->pc->routes[i];

        if (rt->topic != NULL) {
            rd_kafka_mock_topic_create(r->mock, rt->topic, np, 1);
        }
        if (rt->has_errors && rt->errors.dlq_topic && rt->errors.dlq_topic[0]) {
            rd_kafka_mock_topic_create(r->mock, rt->errors.dlq_topic, 1, 1);
        }
    }
    if (r->pc->errors.dlq_topic != NULL && r->pc->errors.dlq_topic[0]) {
        rd_kafka_mock_topic_create(r->mock, r->pc->errors.dlq_topic, 1, 1);
    }
    if (r->pc->unrouted_topic != NULL) {
        rd_kafka_mock_topic_create(r->mock, r->pc->unrouted_topic, np, 1);
    }
    PX_INFO("embedded Kafka cluster (librdkafka mock) at %s", bootstrap);
    if (r->opts->bootstrap_file != NULL) {
        char  tmp[4096];
        FILE *f;

        snprintf(tmp, sizeof(tmp), "%s.tmp", r->opts->bootstrap_file);
        if ((f = fopen(tmp, "w")) != NULL) {
            fprintf(f, "%s\n", bootstrap);
            if (fclose(f) == 0) {
                rename(tmp, r->opts->bootstrap_file);
            }
        }
    }
    return 0;
}

static int subscribe(struct px_relay *r)
{
    rd_kafka_topic_partition_list_t *subs;
    rd_kafka_resp_err_t              err;
    uint32_t                         i;
    char                             pattern[1024];

    subs = rd_kafka_topic_partition_list_new((int)r->pc->topics.n + 1);
    for (i = 0; i < r->pc->topics.n; i++) {
        rd_kafka_topic_partition_list_add(subs, r->pc->topics.v[i],
                                          RD_KAFKA_PARTITION_UA);
    }
    if (r->pc->topic_regex != NULL) {
        /* librdkafka treats a leading ^ as a regex subscription */
        snprintf(pattern, sizeof(pattern), "^%s$", r->pc->topic_regex);
        rd_kafka_topic_partition_list_add(subs, pattern, RD_KAFKA_PARTITION_UA);
    }
    err = rd_kafka_subscribe(r->consumer, subs);
    rd_kafka_topic_partition_list_destroy(subs);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        PX_ERR("subscribe: %s", rd_kafka_err2str(err));
        return -1;
    }
    return 0;
}

/* Pauses fetching above the in-flight caps, resumes below half of them. */
static void flow_control(struct px_relay *r)
{
    long long                        recs = atomic_load(&r->inflight_records);
    long long                        bytes = atomic_load(&r->inflight_bytes);
    rd_kafka_topic_partition_list_t *assigned = NULL;

    if (!r->paused && (recs >= r->xc.max_records || bytes >= r->xc.max_bytes)) {
        if (rd_kafka_assignment(r->consumer, &assigned) ==
            RD_KAFKA_RESP_ERR_NO_ERROR) {
            pause_list(r, assigned, 1);
            rd_kafka_topic_partition_list_destroy(assigned);
        }
        r->paused = 1;
        PX_DBG("paused: %lld records, %lld bytes in flight", recs, bytes);
    } else if (r->paused && recs < r->xc.max_records / 2 &&
               bytes < r->xc.max_bytes / 2) {
        if (rd_kafka_assignment(r->consumer, &assigned) ==
            RD_KAFKA_RESP_ERR_NO_ERROR) {
            pause_list(r, assigned, 0);
            rd_kafka_topic_partition_list_destroy(assigned);
        }
        r->paused = 0;
        PX_DBG("resumed");
    }
}

/* Makes the in-flight input for rkm and appends it to its partition's
 * list; returns it with the index of the worker that owns the partition
 * (a partition always goes to the same worker: its order holds). */
static struct px_input *track(struct px_relay *r, rd_kafka_message_t *rkm,
                              uint32_t *worker)
{
    const char      *topic = rd_kafka_topic_name(rkm->rkt);
    struct px_part  *p = part_get(r, topic, rkm->partition);
    struct px_input *in;
    uint32_t         h = 2166136261u;
    const char      *c;

    in = smt_xmalloc(sizeof(*in) + r->nouts * sizeof(struct px_out));
    in->rkm = rkm;
    in->part = p;
    in->next = NULL;
    in->offset = rkm->offset;
    in->bytes = rkm->len + rkm->key_len + 64;
    in->done = 0;
    atomic_init(&in->pending, 1);
    atomic_init(&in->poison, 0);
    pthread_mutex_lock(&p->lock);
    if (p->tail != NULL) {
        p->tail->next = in;
    } else {
        p->head = in;
    }
    p->tail = in;
    p->inflight++;
    pthread_mutex_unlock(&p->lock);
    atomic_fetch_add(&r->inflight_records, 1);
    atomic_fetch_add(&r->inflight_bytes, (long long)in->bytes);
    atomic_fetch_add(&r->n_in, 1);
    for (c = topic; *c != '\0'; c++) {
        h = (h ^ (uint8_t)*c) * 16777619u;
    }
    h = (h ^ (uint32_t)rkm->partition) * 16777619u;
    *worker = h % (uint32_t)r->nworkers;
    return in;
}

/* Hands a polled batch to the workers, grouped per worker and in the
 * batch's order (which is each partition's offset order). */
static void dispatch(struct px_relay *r, rd_kafka_message_t **msgs, size_t n)
{
    struct px_input *per[PX_BATCH];
    uint32_t         widx[PX_BATCH];
    size_t           i, k;
    int              w;

    for (i = 0; i < n; i++) {
        if (msgs[i]->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            if (msgs[i]->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                PX_WARN("consumer: %s", rd_kafka_message_errstr(msgs[i]));
            }
            rd_kafka_message_destroy(msgs[i]);
            msgs[i] = NULL;
            continue;
        }
        per[i] = track(r, msgs[i], &widx[i]);
    }
    for (w = 0; w < r->nworkers; w++) {
        struct px_input *mine[PX_BATCH];

        k = 0;
        for (i = 0; i < n; i++) {
            if (msgs[i] != NULL && widx[i] == (uint32_t)w) {
                mine[k++] = per[i];
            }
        }
        if (k > 0) {
            queue_push(&r->workers[w].q, mine, k);
        }
    }
}

static void consume_loop(struct px_relay *r)
{
    rd_kafka_message_t *msgs[PX_BATCH];
    rd_kafka_queue_t   *q = rd_kafka_queue_get_consumer(r->consumer);
    ssize_t             n;
    int64_t             now = now_ms();
    int64_t             last_store = now, last_stats = now, last_log = now;
    struct rates        rates;

    memset(&rates, 0, sizeof(rates));
    rates.at = now;
    while (!stop_signals && !atomic_load(&r->fatal)) {
        flow_control(r);
        /* A batch at a time: also serves rebalances and errors. */
        n = rd_kafka_consume_batch_queue(q, 100, msgs, PX_BATCH);
        if (n > 0) {
            dispatch(r, msgs, (size_t)n);
        }
        now = now_ms();
        if (now - last_store >= 100) {
            store_offsets(r);
            sweep_zombies(r, 0);
            last_store = now;
        }
        if (now - last_stats >= 500) {
            stats_file(r);
            if (r->opts->progress) {
                progress_line(r, &rates, 0);
            }
            last_stats = now;
        }
        if (r->xc.stats_ms > 0 && now - last_log >= r->xc.stats_ms) {
            PX_INFO("stats: in %llu, dlq %llu, dropped %llu, failed %llu, "
                    "unrouted %llu, in flight %lld",
                    (unsigned long long)atomic_load(&r->n_in),
                    (unsigned long long)atomic_load(&r->n_dlq),
                    (unsigned long long)atomic_load(&r->n_dropped),
                    (unsigned long long)atomic_load(&r->n_failed),
                    (unsigned long long)atomic_load(&r->n_unrouted),
                    (long long)atomic_load(&r->inflight_records));
            last_log = now;
        }
    }
    rd_kafka_queue_destroy(q);
    if (r->opts->progress) {
        progress_line(r, &rates, 1);
    }
}

static int start_clients(struct px_relay *r, const char *bootstrap,
                         struct smt_diags *d)
{
    rd_kafka_conf_t *cconf, *pconf;
    char             errstr[512];

    cconf = px_kafka_conf(r->pc, &r->xc, 0, bootstrap, d);
    pconf = px_kafka_conf(r->pc, &r->xc, 1, bootstrap, d);
    if (cconf == NULL || pconf == NULL) {
        if (cconf != NULL) {
            rd_kafka_conf_destroy(cconf);
        }
        if (pconf != NULL) {
            rd_kafka_conf_destroy(pconf);
        }
        return -1;
    }
    rd_kafka_conf_set_opaque(cconf, r);
    rd_kafka_conf_set_opaque(pconf, r);
    rd_kafka_conf_set_rebalance_cb(cconf, rebalance_cb);
    rd_kafka_conf_set_error_cb(cconf, error_cb);
    rd_kafka_conf_set_error_cb(pconf, error_cb);
    rd_kafka_conf_set_log_cb(cconf, log_cb);
    rd_kafka_conf_set_log_cb(pconf, log_cb);
    rd_kafka_conf_set_dr_msg_cb(pconf, dr_cb);
    r->producer = rd_kafka_new(RD_KAFKA_PRODUCER, pconf, errstr, sizeof(errstr));
    if (r->producer == NULL) {
        rd_kafka_conf_destroy(cconf);
        return smt_diag(d, NULL, "producer: %s", errstr);
    }
    r->consumer = rd_kafka_new(RD_KAFKA_CONSUMER, cconf, errstr, sizeof(errstr));
    if (r->consumer == NULL) {
        return smt_diag(d, NULL, "consumer: %s", errstr);
    }
    rd_kafka_poll_set_consumer(r->consumer);
    return 0;
}

static void print_diags(const struct smt_diags *d)
{
    uint32_t i;

    for (i = 0; i < d->n; i++) {
        fprintf(stderr, "%s\n", d->msg[i]);
    }
}

int px_relay_run(const struct px_run_opts *opts)
{
    struct px_relay     r;
    struct smt_diags    d;
    struct smt_err      err;
    struct sigaction    sa;
    char                bootstrap[512];
    int                 i, started = 0, rc;
    int64_t             t0;
    long long           left;

    memset(&r, 0, sizeof(r));
    r.opts = opts;
    pthread_mutex_init(&r.fatal_mu, NULL);
    pthread_mutex_init(&r.drain_mu, NULL);
    pthread_cond_init(&r.drain_cv, NULL);
    smt_diags_init(&d);
    r.pc = smt_pipeline_conf_load(opts->config_path, &d);
    if (r.pc == NULL || px_conf_load(&r.xc, r.pc, &d) != 0) {
        print_diags(&d);
        smt_diags_fini(&d);
        smt_pipeline_conf_free((struct smt_pipeline_conf *)r.pc);
        return 2;
    }
    px_log_level = r.xc.log_level;
    if (r.pc->topics.n == 0 && r.pc->topic_regex == NULL) {
        fprintf(stderr, "%s: no input topics: set input.topics or "
                        "input.topic.regex\n", opts->config_path);
        smt_pipeline_conf_free((struct smt_pipeline_conf *)r.pc);
        smt_diags_fini(&d);
        return 2;
    }
    r.nouts = 2 * r.pc->nroutes + 2;
    r.n_route_out = smt_xcalloc(r.pc->nroutes + 1, sizeof(*r.n_route_out));

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    rc = 2;
    if (px_kafka_embedded(r.pc)) {
        if (setup_embedded(&r, bootstrap, sizeof(bootstrap)) != 0) {
            goto out;
        }
    }
    if (start_clients(&r, px_kafka_embedded(r.pc) ? bootstrap : NULL, &d) !=
        0) {
        print_diags(&d);
        goto out;
    }
    r.nworkers = (int)r.xc.workers;
    r.workers = smt_xcalloc((size_t)r.nworkers, sizeof(*r.workers));
    for (i = 0; i < r.nworkers; i++) {
        struct px_worker *w = &r.workers[i];

        w->r = &r;
        w->id = i;
        smt_arena_init(&w->arena, 64 * 1024);
        queue_init(&w->q, (size_t)r.xc.queue_records);
        w->pl = smt_pipeline_new(r.pc, &err);
        if (w->pl == NULL) {
            fprintf(stderr, "%s: %s\n", opts->config_path, err.msg);
            r.nworkers = i;
            queue_fini(&w->q);
            smt_arena_fini(&w->arena);
            goto out;
        }
    }
    for (i = 0; i < r.nworkers; i++) {
        pthread_create(&r.workers[i].thr, NULL, worker_main, &r.workers[i]);
    }
    pthread_create(&r.poll_thr, NULL, poll_main, &r);
    started = 1;
    if (subscribe(&r) != 0) {
        relay_fatal(&r, "could not subscribe");
    }
    PX_INFO("relay '%s' running: %u route(s), %d worker(s)",
            r.pc->name ? r.pc->name : "", r.pc->nroutes, r.nworkers);

    consume_loop(&r);

    /* Shutdown: stop taking records (done), let the workers finish what
     * they have, wait for every delivery, commit, leave the group. */
    PX_INFO("stopping: draining %lld record(s) in flight",
            (long long)atomic_load(&r.inflight_records));
    t0 = now_ms();
    for (i = 0; i < r.nworkers; i++) {
        queue_close(&r.workers[i].q);
    }
    for (i = 0; i < r.nworkers; i++) {
        pthread_join(r.workers[i].thr, NULL);
    }
    rd_kafka_flush(r.producer,
                   (int)(r.xc.shutdown_ms > now_ms() - t0
                             ? r.xc.shutdown_ms - (now_ms() - t0)
                             : 0));
    wait_drained(&r, NULL, 0);
    commit_parts(&r, NULL);
    r.stopping = 1;
    left = atomic_load(&r.inflight_records);
    rc = atomic_load(&r.fatal) ? r.exit_code : 0;
    if (left > 0 && !atomic_load(&r.fatal)) {
        PX_ERR("%lld record(s) not delivered within delivery.shutdown.timeout;"
               " their offsets are not committed", left);
        rc = 1;
    }
    if (rc != 0 && r.fatal_msg[0] != '\0') {
        fprintf(stderr, "smtproxy: %s\n", r.fatal_msg);
    }
out:
    if (r.consumer != NULL) {
        rd_kafka_consumer_close(r.consumer);
    }
    if (started) {
        atomic_store(&r.poll_stop, 1);
        pthread_join(r.poll_thr, NULL);
    }
    stats_file(&r);
    /* The producer goes first: anything it still holds refers to inputs,
     * which must outlive its last delivery report. */
    atomic_store(&r.closing, 1);
    if (r.producer != NULL) {
        rd_kafka_purge(r.producer,
                       RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        rd_kafka_poll(r.producer, 0);
        rd_kafka_destroy(r.producer);
    }
    while (r.parts != NULL) {
        part_remove(&r, r.parts);
    }
    sweep_zombies(&r, 1);
    if (r.consumer != NULL) {
        rd_kafka_destroy(r.consumer);
    }
    for (i = 0; i < r.nworkers; i++) {
        smt_pipeline_free(r.workers[i].pl);
        queue_fini(&r.workers[i].q);
        smt_arena_fini(&r.workers[i].arena);
    }
    free(r.workers);
    if (r.mock != NULL) {
        rd_kafka_mock_cluster_destroy(r.mock);
    }
    if (r.mock_rk != NULL) {
        rd_kafka_destroy(r.mock_rk);
    }
    if (rc == 0) {
        PX_INFO("stopped: in %llu, dlq %llu, dropped %llu, failed %llu, "
                "unrouted %llu", (unsigned long long)atomic_load(&r.n_in),
                (unsigned long long)atomic_load(&r.n_dlq),
                (unsigned long long)atomic_load(&r.n_dropped),
                (unsigned long long)atomic_load(&r.n_failed),
                (unsigned long long)atomic_load(&r.n_unrouted));
    }
    free(r.n_route_out);
    smt_pipeline_conf_free((struct smt_pipeline_conf *)r.pc);
    smt_diags_fini(&d);
    pthread_mutex_destroy(&r.fatal_mu);
    pthread_mutex_destroy(&r.drain_mu);
    pthread_cond_destroy(&r.drain_cv);
    return rc;
}

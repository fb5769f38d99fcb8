/*
 * relay.c - the daemon: consume, run every record through the pipeline on
 * worker threads, produce what comes out, and commit an input offset only
 * when every record derived from it has been acknowledged.
 *
 * Threads:
 *   consumer thread (the caller): polls the consumer, serves rebalances,
 *       hands each message to the worker that owns its partition, pauses
 *       fetching when too much is in flight, stores offsets.
 *   workers (xc.workers): each owns a pipeline instance (its own chains),
 *       a bounded queue and a producer, and serves that producer's
 *       delivery reports itself; a partition goes to one worker for as
 *       long as it is assigned (part_worker(): the least loaded when it is
 *       assigned), so each route's outputs keep the partition's order.
 *
 * Why a producer per worker rather than one shared producer with a thread
 * for its delivery reports: a produced message, its headers and its
 * delivery report are then allocated, served and freed on one thread, as
 * in a single-threaded relay. With a shared producer all of them crossed
 * threads, and the allocator's cross-thread frees plus the hand-offs cost
 * more than the transforms (bench/e2e.py measured it). A worker's outputs
 * for a partition all go through its one idempotent producer, in order. A
 * worker sleeps on an eventfd that both its input queue and its producer's
 * delivery-report queue write to.
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
 * Failures (docs/errors.md): a failed route or a failed delivery is
 * reported (log line, DLQ record with Connect's context headers) before the
 * tolerance decides; a retriable delivery failure is sent again after
 * Connect's backoff within errors.retry.timeout; a DLQ record that cannot
 * be written, tolerance none, or the breaker poison the input and stop the
 * relay. Delivery-report failures are taken out of dr_cb and handled after
 * rd_kafka_poll() returns, so that handling them may produce.
 *
 * Reload: each input is stamped with the configuration generation current
 * when it was consumed (struct px_gen) and runs under it to the end; a
 * reload publishes a new generation between two batches of the consumer
 * thread, so per partition the switch is at one offset, with no rebalance.
 *
 * Offsets are stored by the consumer thread (rd_kafka_offsets_store) and
 * committed by librdkafka's auto-commit timer, synchronously on partition
 * revocation (after the revoked partitions drain), and on shutdown.
 */
#include "px.h"
#include "errpolicy.h"

#include <librdkafka/rdkafka_mock.h>

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
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
    uint16_t         attempts;    /* failed delivery attempts so far */
    int64_t          retry_start; /* first failed delivery (now_ms), or 0 */
};

/* The consumed record's headers, one allocation: views into the bytes
 * that follow the array. The message's own header list goes on to the
 * first output that keeps them (see take_headers()); this copy is what
 * every other route and any DLQ record, however late, read. */
struct px_hdrs {
    uint32_t         n;
    struct smt_header h[];
};

/* A configuration generation: one loaded pipeline file with a pipeline
 * instance per worker. Reloading makes a new one; every input is stamped
 * with the generation current when it was consumed and runs under it to
 * the end, so records in flight finish under the chain that started them,
 * and per partition the switch happens at one offset. Freed when the last
 * input of it has retired and it is no longer current. */
struct px_gen {
    uint64_t                        seq;    /* 1, 2, ... */
    const struct smt_pipeline_conf *pc;     /* owned */
    struct smt_pipeline           **pl;     /* per worker, that worker's */
    int                             npl;
    uint32_t                        nouts;  /* px_out slots of an input */
    uint32_t                       *rstat;  /* route -> relay route counter */
    struct px_relay_metrics         rm;     /* pc's view of the registry */
    atomic_long                     refs;   /* current + inputs stamped */
};

struct px_input {
    rd_kafka_message_t *rkm;     /* owned: destroyed when retired */
    struct px_gen      *gen;     /* the configuration it runs under */
    struct px_hdrs     *hdrs;    /* owned; NULL: no headers */
    struct px_part     *part;
    struct px_input    *next;    /* partition list, offset order */
    int64_t             offset;
    size_t              bytes;
    atomic_int          pending; /* worker hold + outputs not yet acked */
    atomic_int          poison;  /* never retire: nothing past it commits */
    int                 done;    /* under part->lock */
    int                 route_failed; /* worker only: current route's split */
    int64_t             t_us;    /* consumed (now_us): latency histogram */
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
    uint32_t         m_in, m_lag; /* metric slots: records in, lag */
    int64_t          next_off; /* last consumed + 1; -1: none yet (consumer
                                * thread: fetch_kick()) */
    int              worker;   /* the worker that processes its records */
};

struct px_queue {
    pthread_mutex_t   mu;
    pthread_cond_t    not_full;
    struct px_input **buf;
    size_t            cap, head, n;
    int               closed;
    int               pop_waiting, push_waiting; /* signal only when needed */
    int               efd; /* the worker's eventfd, written to wake it */
};

/* A failed delivery report, handled once rd_kafka_poll() has returned: a
 * delivery-report callback must not produce (the queue may be full, and
 * only the same thread's poll frees it). */
struct px_dfail {
    struct px_out      *out;
    rd_kafka_resp_err_t err;
    /* a copy of the failed message, to send it again (retriable errors,
     * errors.retry.timeout) */
    char               *topic;
    char               *key, *value; /* NULL = null */
    size_t              key_len, value_len;
    rd_kafka_headers_t *hdrs;
    int64_t             ts;
    int64_t             due_ms; /* when resending */
};

struct px_worker {
    struct px_relay     *r;
    int                  id;
    pthread_t            thr;
    struct smt_pipeline *pl;
    struct px_queue      q;
    struct smt_arena     arena;
    rd_kafka_t          *producer;
    int                  efd;
    struct px_dfail     *dfail;
    size_t               ndfail, dfail_cap;
    struct px_dfail     *resend; /* waiting for their retry backoff */
    size_t               nresend, resend_cap;
};

/* The counters moved once per record (retiring inputs, delivered outputs),
 * one set per thread that moves them: a worker, the consumer thread, and
 * one for any other thread. Two workers then never write the same cache
 * line per record; readers (stats, flow control, metrics) add them up. */
#define PX_MAX_ROUTE_STATS 256
struct px_shard {
    _Alignas(64) atomic_llong released_records; /* in flight no more */
    atomic_llong              released_bytes;
    atomic_ullong             retired;
    atomic_ullong             out[PX_MAX_ROUTE_STATS]; /* per rstat route */
};

static _Thread_local struct px_shard *my_shard; /* shard_of() */

struct px_relay {
    const struct smt_pipeline_conf *pc;
    struct px_conf                  xc;
    const struct px_run_opts       *opts;
    rd_kafka_t                     *consumer;
    rd_kafka_t                     *mock_rk;
    rd_kafka_mock_cluster_t        *mock;
    struct px_worker               *workers;
    int                             nworkers;
    struct px_part                 *parts;
    struct px_part                 *zombies; /* revoked, records still in flight */
    atomic_int                      closing;
    int                             stopping; /* consumer thread only */
    atomic_int                      fatal;
    int                             exit_code;
    char                            fatal_msg[768];
    pthread_mutex_t                 fatal_mu;
    pthread_mutex_t                 drain_mu;
    pthread_cond_t                  drain_cv;
    atomic_int                      drain_waiters; /* in wait_drained() */
    int                             paused;
    /* set while paused: the release that brings the in-flight counts
     * below the resume mark wakes the consumer thread (yield on cq) */
    atomic_int                      wake_on_resume;
    rd_kafka_queue_t               *cq; /* the consumer's queue */
    int64_t                         drain_deadline; /* now_ms() clock */
    pthread_mutex_t                 breaker_mu;
    struct smt_breaker              breaker; /* errors.breaker.* */
    /* the current configuration generation (reload replaces it: consumer
     * thread only; gen_mu for readers on other threads) */
    struct px_gen                  *gen;
    pthread_mutex_t                 gen_mu;
    uint64_t                        gen_seq;
    /* per route name, across reloads: stats file and progress line (the
     * counts are in the shards' out[]) */
    char                           *rstat_name[PX_MAX_ROUTE_STATS];
    atomic_uint                     nrstat;
    struct px_shard                *shards; /* nworkers + 2: see shard_of() */
    int                             nshards;
    /* reload (docs/operations.md) */
    int                             inotify_fd, inotify_wd;
    int64_t                         reload_due; /* debounced file change */
    pthread_mutex_t                 reload_mu;  /* POST /reload hand-off */
    pthread_cond_t                  reload_cv;
    int                             reload_req, reload_busy;
    uint64_t                        reload_ticket, reload_done_ticket;
    enum px_reload_result           reload_res;
    uint64_t                        reload_gen; /* running after it */
    struct smt_diags               *reload_diags;
    atomic_ullong                   n_reload_ok, n_reload_err, n_rebalances;
    int                             restart; /* Kafka settings changed */
    volatile int                    stop_retries; /* stopping: no waits */
    /* in flight: taken in (dispatch()) minus released (the shards) */
    atomic_llong                    taken_records, taken_bytes;
    /* counters */
    atomic_ullong                   n_in, n_dlq, n_dropped, n_failed,
        n_unrouted, n_unrouted_out, n_delivery_failed;
    /* consume() and fetch_kick(), consumer thread */
    int64_t                         q_max_bytes, q_min_msgs; /* librdkafka's */
    int64_t                         value_avg; /* of consumed values, EWMA */
    int                             q_high; /* queue seen near its limit */
    uint64_t                        n_kicks;
    uint64_t                        n_pauses;       /* consumer thread */
    long long                       inflight_peak;  /* consumer thread */
    atomic_ullong                   n_resume_wakes; /* releases that woke it */
    uint64_t                        n_committed;
    /* metrics and the admin endpoint (proxy/metrics.c, proxy/admin.c) */
    struct px_relay_metrics         rm;
    struct px_admin                *admin;
    atomic_int                      assigned;     /* partitions, for /readyz */
    atomic_int                      brokers_down; /* since ALL_BROKERS_DOWN */
    int64_t                         last_lag, last_probe; /* consumer thread */
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

/* The calling thread's counter shard: its own when it has one (workers,
 * the consumer thread), else the one shared by the others. */
static struct px_shard *shard_of(struct px_relay *r)
{
    return my_shard != NULL ? my_shard : &r->shards[r->nshards - 1];
}

static void shard_add(atomic_ullong *c, uint64_t n)
{
    atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

/* Taken in minus released: records (or bytes) in flight. */
static long long inflight_of(struct px_relay *r, atomic_llong *taken,
                             size_t released)
{
    long long n = atomic_load(taken);
    int       i;

    for (i = 0; i < r->nshards; i++) {
        n -= atomic_load_explicit(
            (atomic_llong *)(void *)((char *)&r->shards[i] + released),
            memory_order_relaxed);
    }
    return n > 0 ? n : 0;
}

static long long inflight_records(struct px_relay *r)
{
    return inflight_of(r, &r->taken_records,
                       offsetof(struct px_shard, released_records));
}

static long long inflight_bytes(struct px_relay *r)
{
    return inflight_of(r, &r->taken_bytes,
                       offsetof(struct px_shard, released_bytes));
}

/* The sum over the shards of the counter at offset (retired, out[i]). */
static unsigned long long shard_sum(struct px_relay *r, size_t offset)
{
    unsigned long long n = 0;
    int                i;

    for (i = 0; i < r->nshards; i++) {
        n += atomic_load_explicit(
            (atomic_ullong *)(void *)((char *)&r->shards[i] + offset),
            memory_order_relaxed);
    }
    return n;
}

#define RETIRED(r) shard_sum((r), offsetof(struct px_shard, retired))
#define ROUTE_OUT(r, i) \
    shard_sum((r), offsetof(struct px_shard, out) + (i) * sizeof(atomic_ullong))

static int64_t now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
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

static void queue_init(struct px_queue *q, size_t cap, int efd)
{
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->not_full, NULL);
    q->buf = smt_xcalloc(cap, sizeof(*q->buf));
    q->cap = cap;
    q->head = q->n = 0;
    q->closed = 0;
    q->efd = efd;
}

static void queue_fini(struct px_queue *q)
{
    pthread_mutex_destroy(&q->mu);
    pthread_cond_destroy(&q->not_full);
    free(q->buf);
}

static void efd_wake(int efd)
{
    uint64_t one = 1;

    /* EAGAIN (counter full) still leaves it readable: nothing is lost */
    if (write(efd, &one, sizeof(one)) < 0 && errno != EAGAIN) {
        PX_ERR("eventfd: %s", strerror(errno));
    }
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
            q->pop_waiting = 0;
            efd_wake(q->efd);
        }
    }
    pthread_mutex_unlock(&q->mu);
}

/* Takes up to max inputs into out without blocking. When there are none,
 * marks the worker as about to wait (so the next push writes its eventfd)
 * and sets *closed when the queue is closed. */
static size_t queue_pop(struct px_queue *q, struct px_input **out, size_t max,
                        int *closed)
{
    size_t n = 0;

    pthread_mutex_lock(&q->mu);
    while (n < max && q->n > 0) {
        out[n++] = q->buf[q->head];
        q->head = (q->head + 1) % q->cap;
        q->n--;
    }
    if (n > 0 && q->push_waiting) {
        pthread_cond_signal(&q->not_full);
    }
    q->pop_waiting = n == 0;
    *closed = q->closed;
    pthread_mutex_unlock(&q->mu);
    return n;
}

static void queue_close(struct px_queue *q)
{
    pthread_mutex_lock(&q->mu);
    q->closed = 1;
    efd_wake(q->efd);
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

/* The worker for a newly assigned partition. One that comes back while
 * records of its earlier assignment are still in flight (a zombie) goes to
 * the same worker again, behind them, so its order holds; any other goes
 * to the worker with the fewest partitions, so that partitions spread
 * evenly (a hash of the name left one worker idle in most small
 * assignments: 4 partitions on 2 workers split 2/2 only 6 times in 16). */
/* Assigned partitions per worker, into load[nworkers]. Consumer thread. */
static void worker_loads(const struct px_relay *r, int *load)
{
    const struct px_part *p;

    memset(load, 0, (size_t)r->nworkers * sizeof(*load));
    for (p = r->parts; p != NULL; p = p->next) {
        load[p->worker]++;
    }
}

static int part_worker(const struct px_relay *r, const char *topic,
                       int32_t partition)
{
    const struct px_part *p;
    int                  *load;
    int                   w, best = 0;

    for (p = r->zombies; p != NULL; p = p->next) {
        if (p->partition == partition && strcmp(p->topic, topic) == 0) {
            return p->worker;
        }
    }
    load = smt_xmalloc((size_t)r->nworkers * sizeof(*load));
    worker_loads(r, load);
    for (w = 1; w < r->nworkers; w++) {
        if (load[w] < load[best]) {
            best = w;
        }
    }
    free(load);
    return best;
}

static struct px_part *part_get(struct px_relay *r, const char *topic,
                                int32_t partition)
{
    struct px_part *p = part_find(r, topic, partition);
    int             worker;

    if (p != NULL) {
        return p;
    }
    worker = part_worker(r, topic, partition);
    p = smt_xcalloc(1, sizeof(*p));
    p->worker = worker;
    p->topic = smt_xstrdup(topic);
    p->partition = partition;
    p->store = -1;
    p->stored = -1;
    p->next_off = -1;
    p->m_in = px_rm_in_slot(&r->rm, topic);
    p->m_lag = px_rm_lag_slot(&r->rm, topic, partition);
    pthread_mutex_init(&p->lock, NULL);
    p->next = r->parts;
    r->parts = p;
    return p;
}

/* Partitions assigned (for /readyz). Consumer thread. */
static int count_parts(const struct px_relay *r)
{
    const struct px_part *p;
    int                   n = 0;

    for (p = r->parts; p != NULL; p = p->next) {
        n++;
    }
    return n;
}

static void gen_release(struct px_relay *r, struct px_gen *g);

static void part_free(struct px_relay *r, struct px_part *p)
{
    struct px_input *in, *next;

    for (in = p->head; in != NULL; in = next) {
        next = in->next;
        rd_kafka_message_destroy(in->rkm);
        gen_release(r, in->gen);
        free(in->hdrs);
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
            part_free(r, p);
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
            part_free(r, p);
            return;
        }
    }
}

/* ---------------------------------------------------------------------- */
/* Configuration generations */

/* The relay-wide counter of a route name (kept across reloads, for the
 * stats file and the progress line). Consumer thread. */
static uint32_t rstat_index(struct px_relay *r, const char *name)
{
    uint32_t i, n = atomic_load(&r->nrstat);

    for (i = 0; i < n; i++) {
        if (strcmp(r->rstat_name[i], name) == 0) {
            return i;
        }
    }
    if (n == PX_MAX_ROUTE_STATS) {
        return UINT32_MAX;
    }
    r->rstat_name[n] = smt_xstrdup(name);
    atomic_store(&r->nrstat, n + 1);
    return n;
}

static void gen_free(struct px_relay *r, struct px_gen *g)
{
    int i;

    for (i = 0; i < g->npl; i++) {
        if (g->pl[i] != NULL) {
            smt_pipeline_free(g->pl[i]);
        }
    }
    free(g->pl);
    free(g->rstat);
    px_relay_metrics_unbind(&g->rm);
    if (g->pc != r->pc) { /* the first one is the run's */
        smt_pipeline_conf_free((struct smt_pipeline_conf *)g->pc);
    }
    free(g);
}

static void gen_release(struct px_relay *r, struct px_gen *g)
{
    if (atomic_fetch_sub(&g->refs, 1) == 1) {
        gen_free(r, g);
    }
}

/* A generation for pc (owned from here on, freed on failure too): every
 * worker's pipeline built (regexes compiled, Lua loaded, schemas read)
 * before anything changes. NULL with the errors in d. Consumer thread. */
static struct px_gen *gen_new(struct px_relay *r,
                              const struct smt_pipeline_conf *pc,
                              struct smt_diags *d)
{
    struct px_gen *g = smt_xcalloc(1, sizeof(*g));
    struct smt_err err;
    uint32_t       i;

    g->pc = pc;
    g->npl = r->nworkers;
    g->pl = smt_xcalloc((size_t)g->npl, sizeof(*g->pl));
    g->rstat = smt_xcalloc(pc->nroutes + 1, sizeof(*g->rstat));
    atomic_init(&g->refs, 1);
    for (i = 0; i < (uint32_t)g->npl; i++) {
        smt_err_clear(&err);
        if ((g->pl[i] = smt_pipeline_new(pc, &err)) == NULL) {
            smt_diag(d, NULL, "%s", err.msg);
            gen_free(r, g);
            return NULL;
        }
        g->pl[i]->cancel = &r->stop_retries;
    }
    g->seq = ++r->gen_seq;
    g->nouts = 2 * pc->nroutes + 2;
    for (i = 0; i < pc->nroutes; i++) {
        g->rstat[i] = rstat_index(r, pc->routes[i].name);
    }
    g->rstat[pc->nroutes] = UINT32_MAX;
    px_relay_metrics_bind(&g->rm, &r->rm, pc, g->seq);
    return g;
}

/* The current generation with a reference, for another thread (scrapes). */
static struct px_gen *gen_current(struct px_relay *r)
{
    struct px_gen *g;

    pthread_mutex_lock(&r->gen_mu);
    g = r->gen;
    if (g != NULL) {
        atomic_fetch_add(&g->refs, 1);
    }
    pthread_mutex_unlock(&r->gen_mu);
    return g;
}

/* Whether a paused relay may resume: both in-flight counts below half of
 * their caps. */
static int resume_due(struct px_relay *r)
{
    return inflight_records(r) < r->xc.max_records / 2 &&
           inflight_bytes(r) < r->xc.max_bytes / 2;
}

/* Drops one hold on in; when it was the last, retires the contiguous done
 * prefix of its partition. Called by workers and the poll thread. */
static void input_release(struct px_relay *r, struct px_input *in)
{
    struct px_part  *p = in->part;
    struct px_input *h, *first, *last = NULL, *next;
    struct px_gen   *g = NULL;
    struct px_shard *sh;
    long             grefs = 0;
    long long        n = 0, bytes = 0;

    if (atomic_fetch_sub(&in->pending, 1) != 1) {
        return;
    }
    /* Under the lock only the list: the retired prefix is cut off and
     * freed after, with the shared counters moved once for all of it. */
    pthread_mutex_lock(&p->lock);
    in->done = 1;
    first = p->head;
    while ((h = p->head) != NULL && h->done && !atomic_load(&h->poison)) {
        p->head = h->next;
        if (p->head == NULL) {
            p->tail = NULL;
        }
        p->store = h->offset + 1;
        p->inflight--;
        last = h;
    }
    pthread_mutex_unlock(&p->lock);
    if (last == NULL) {
        return;
    }
    last->next = NULL;
    for (h = first; h != NULL; h = next) {
        next = h->next;
        n++;
        bytes += (long long)h->bytes;
        rd_kafka_message_destroy(h->rkm);
        if (h->gen != g) {
            if (g != NULL && atomic_fetch_sub(&g->refs, grefs) == grefs) {
                gen_free(r, g);
            }
            g = h->gen;
            grefs = 0;
        }
        grefs++;
        free(h->hdrs);
        free(h);
    }
    if (g != NULL && atomic_fetch_sub(&g->refs, grefs) == grefs) {
        gen_free(r, g);
    }
    sh = shard_of(r);
    atomic_fetch_add_explicit(&sh->released_records, n, memory_order_relaxed);
    atomic_fetch_add_explicit(&sh->released_bytes, bytes,
                              memory_order_relaxed);
    shard_add(&sh->retired, (uint64_t)n);
    /* Paused, the consumer thread waits in consume() for up to 100 ms with
     * nothing to fetch; the release that makes room wakes it at once
     * (one thread wins the exchange). */
    if (atomic_load_explicit(&r->wake_on_resume, memory_order_relaxed) &&
        resume_due(r) && atomic_exchange(&r->wake_on_resume, 0)) {
        atomic_fetch_add_explicit(&r->n_resume_wakes, 1,
                                  memory_order_relaxed);
        rd_kafka_queue_yield(r->cq);
    }
    if (atomic_load(&r->drain_waiters) > 0) {
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
        /* a release between the check and the wait is caught within the
         * 50 ms the wait lasts at most */
        atomic_fetch_add(&r->drain_waiters, 1);
        pthread_mutex_lock(&r->drain_mu);
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 50 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&r->drain_cv, &r->drain_mu, &ts);
        pthread_mutex_unlock(&r->drain_mu);
        atomic_fetch_sub(&r->drain_waiters, 1);
    }
}

/* ---------------------------------------------------------------------- */
/* Producing */

/* Topic handles, per worker (each has its own producer): producing by name
 * makes librdkafka look the topic up under a lock for every message. A
 * small cache, oldest evicted first, because TimestampRouter-style
 * destinations keep changing. Each worker clears its own before it exits,
 * while its producer still exists. */
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

static void serve_reports(struct px_worker *w, int timeout_ms);

/* Produces one message from worker w; ownership of hdrs passes to
 * librdkafka on success (destroyed here on failure). Takes a hold on
 * out->in for the delivery report. While the producer's queue is full it
 * serves w's delivery reports (which is what empties it) and tries again:
 * back-pressure, never a drop. Returns 0, or -1 with errbuf when librdkafka
 * refused the message for another reason. */
/* The error of this thread's last failed produce() (librdkafka's code;
 * RD_KAFKA_RESP_ERR__INVALID_ARG for a topic name it never saw). */
static _Thread_local rd_kafka_resp_err_t produce_err;

static int produce(struct px_worker *w, struct smt_bytes topic,
                   struct smt_bytes key, struct smt_bytes value,
                   rd_kafka_headers_t *hdrs, int64_t ts, struct px_out *out,
                   char *errbuf, size_t errsize)
{
    char                name[256];
    rd_kafka_resp_err_t err;
    rd_kafka_topic_t   *rkt;
    int                 in_msg;

    if (topic.len == 0 || topic.len >= sizeof(name)) {
        snprintf(errbuf, errsize, "invalid topic name (%zu bytes)",
                 topic.len);
        produce_err = RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION;
        if (hdrs != NULL) {
            rd_kafka_headers_destroy(hdrs);
        }
        return -1;
    }
    memcpy(name, topic.ptr, topic.len);
    name[topic.len] = '\0';
    rkt = topic_handle(w->producer, name, topic.len);
    if (rkt == NULL) {
        produce_err = rd_kafka_last_error();
        snprintf(errbuf, errsize, "invalid topic name '%s': %s", name,
                 rd_kafka_err2str(produce_err));
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
    for (;;) {
        err = rd_kafka_producev(
            w->producer, RD_KAFKA_V_RKT(rkt),
            RD_KAFKA_V_MSGFLAGS(in_msg ? 0 : RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_KEY(key.ptr, key.ptr ? key.len : 0),
            RD_KAFKA_V_VALUE((void *)(uintptr_t)value.ptr,
                             value.ptr ? value.len : 0),
            RD_KAFKA_V_HEADERS(hdrs),
            RD_KAFKA_V_TIMESTAMP(ts == SMT_TS_NONE ? 0 : ts),
            RD_KAFKA_V_OPAQUE(out), RD_KAFKA_V_END);
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            break;
        }
        serve_reports(w, 10);
    }
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        atomic_fetch_sub(&out->in->pending, 1);
        produce_err = err;
        snprintf(errbuf, errsize, "%s", rd_kafka_err2str(err));
        if (hdrs != NULL) {
            rd_kafka_headers_destroy(hdrs);
        }
        return -1;
    }
    return 0;
}

/* The Java exception a Kafka producer would have raised for err, so that
 * DLQ tools written for Connect see the class names they know. */
static const char *produce_exception(rd_kafka_resp_err_t err)
{
    switch (err) {
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
        return "org.apache.kafka.common.errors.RecordTooLargeException";
    case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
        return "org.apache.kafka.common.errors.RecordBatchTooLargeException";
    case RD_KAFKA_RESP_ERR__MSG_TIMED_OUT:
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
        return "org.apache.kafka.common.errors.TimeoutException";
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
        return "org.apache.kafka.common.errors.TopicAuthorizationException";
    case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
        return "org.apache.kafka.common.errors.ClusterAuthorizationException";
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
        return "org.apache.kafka.common.errors.UnknownTopicOrPartitionException";
    case RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION:
        return "org.apache.kafka.common.errors.InvalidTopicException";
    case RD_KAFKA_RESP_ERR_INVALID_RECORD:
        return "org.apache.kafka.common.InvalidRecordException";
    case RD_KAFKA_RESP_ERR_INVALID_MSG:
        return "org.apache.kafka.common.errors.CorruptRecordException";
    case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS:
        return "org.apache.kafka.common.errors.NotEnoughReplicasException";
    case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND:
        return "org.apache.kafka.common.errors."
               "NotEnoughReplicasAfterAppendException";
    case RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE:
        return "org.apache.kafka.common.errors.LeaderNotAvailableException";
    case RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION:
        return "org.apache.kafka.common.errors.NotLeaderOrFollowerException";
    case RD_KAFKA_RESP_ERR_KAFKA_STORAGE_ERROR:
        return "org.apache.kafka.common.errors.KafkaStorageException";
    default:
        return "org.apache.kafka.common.KafkaException";
    }
}

/* Errors whose Java exception is a RetriableException: a later attempt may
 * succeed (errors.retry.timeout applies). */
static int produce_retriable(rd_kafka_resp_err_t err)
{
    switch (err) {
    case RD_KAFKA_RESP_ERR__MSG_TIMED_OUT:
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR__TRANSPORT:
    case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
    case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
    case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS:
    case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND:
    case RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION:
    case RD_KAFKA_RESP_ERR_NETWORK_EXCEPTION:
    case RD_KAFKA_RESP_ERR_KAFKA_STORAGE_ERROR:
        return 1;
    default:
        return 0;
    }
}

/* The class Connect names as executing the KAFKA_PRODUCE stage. */
#define PX_PRODUCER_CLASS "org.apache.kafka.clients.producer.KafkaProducer"

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
    uint32_t                     step_no;   /* step index + 1; 0 = none */
};

/* The original record (key, value, headers, timestamp, byte for byte) plus,
 * when enabled, Kafka Connect's __connect.errors.* context headers and ours
 * (__smtproxy.errors.route / .step). */
static void dlq_hdr_add(void *opaque, const char *name, const char *value)
{
    hdr_add_str(opaque, name, value);
}

/* The reporters' view of a failure of in. */
static void failure_ctx(struct smt_failure_ctx *c, const struct px_worker *w,
                        const struct px_input *in, const struct px_failure *f)
{
    const rd_kafka_message_t *rkm = in->rkm;
    rd_kafka_timestamp_type_t tstype;

    memset(c, 0, sizeof(*c));
    c->connector = w->r->pc->name ? w->r->pc->name : "smtproxy";
    c->task = w->id;
    c->topic = rd_kafka_topic_name(rkm->rkt);
    c->partition = rkm->partition;
    c->offset = rkm->offset;
    c->ts_ms = rd_kafka_message_timestamp(rkm, &tstype);
    c->ts_type = tstype == RD_KAFKA_TIMESTAMP_CREATE_TIME ? SMT_TSTYPE_CREATE
                 : tstype == RD_KAFKA_TIMESTAMP_LOG_APPEND_TIME
                     ? SMT_TSTYPE_LOG_APPEND
                     : SMT_TSTYPE_NONE;
    c->stage = f->stage;
    c->klass = f->klass;
    c->exception = f->exception;
    c->message = f->message;
    c->route = f->route;
    c->step = f->step;
}

/* The original record (key, value, headers, timestamp, byte for byte) plus,
 * when enabled, the context headers (smt_dlq_context_headers()). */
static int produce_dlq(struct px_worker *w, struct px_input *in,
                       const struct smt_errors_conf *ec,
                       const struct smt_failure_ctx *c, struct px_out *out,
                       char *errbuf, size_t errsize)
{
    const rd_kafka_message_t *rkm = in->rkm;
    rd_kafka_headers_t       *hdrs;
    struct smt_bytes          topic = smt_bytes_str(ec->dlq_topic);
    struct smt_bytes          key = {rkm->key, rkm->key_len};
    struct smt_bytes          value = {rkm->payload, rkm->len};

    hdrs = headers_of(in->hdrs ? in->hdrs->h : NULL,
                      in->hdrs ? in->hdrs->n : 0, 12);
    smt_dlq_context_headers(ec, c, dlq_hdr_add, hdrs);
    return produce(w, topic, key, value, hdrs,
                   c->ts_type == SMT_TSTYPE_NONE ? SMT_TS_NONE : c->ts_ms, out,
                   errbuf, errsize);
}

/* Records a failure in the pipeline's breaker; 1 when it has tripped. */
static int breaker_trips(struct px_relay *r)
{
    int tripped;

    if (r->breaker.max_failures == 0) {
        return 0;
    }
    pthread_mutex_lock(&r->breaker_mu);
    tripped = smt_breaker_record(&r->breaker, now_ms());
    pthread_mutex_unlock(&r->breaker_mu);
    return tripped;
}

/* Reports one failure of in: log (errors.log.enable), DLQ record (if a DLQ
 * topic is set), then, under tolerance none, stops the relay without
 * committing past the record. If the DLQ cannot be written the record is
 * poisoned too: it is never skipped unreported. */
static void report_failure(struct px_worker *w, struct px_input *in,
                           const struct smt_route_conf *route,
                           uint32_t route_index, const struct px_failure *f,
                           int failure)
{
    struct px_relay              *r = w->r;
    const struct smt_errors_conf *ec = smt_route_errors(in->gen->pc, route);
    const rd_kafka_message_t     *rkm = in->rkm;
    char                          errbuf[256], line[1024];
    int                           reported = 0;
    struct smt_failure_ctx        ctx;

    if (failure) {
        atomic_fetch_add(&r->n_failed, 1);
        px_rm_count_error(&in->gen->rm, route_index, f->step_no, f->stage);
    }
    failure_ctx(&ctx, w, in, f);
    if (failure && smt_errlog_line(line, sizeof(line), ec, &ctx) > 0) {
        /* Connect attaches the exception to the log event: it follows */
        PX_ERR("%s %s: %s", line, f->exception,
               f->message ? f->message : "null");
    }
    if (ec->dlq_topic != NULL && ec->dlq_topic[0] != '\0') {
        struct px_out *out = &in->outs[2 * route_index + 1];

        out->in = in;
        out->route = (uint16_t)route_index;
        out->dlq = 1;
        if (produce_dlq(w, in, ec, &ctx, out, errbuf, sizeof(errbuf)) ==
            0) {
            atomic_fetch_add(&r->n_dlq, 1);
            px_rm_count_dlq(&in->gen->rm, route_index);
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
    if (failure && breaker_trips(r)) {
        atomic_store(&in->poison, 1);
        relay_fatal(r, "errors.breaker: more than %lld failures within %lld "
                       "ms; stopping at record %s/%d/%lld (failed in route "
                       "'%s' at stage %s: %s) without committing past it",
                    (long long)r->breaker.max_failures,
                    (long long)r->breaker.window_ms,
                    rd_kafka_topic_name(rkm->rkt), (int)rkm->partition,
                    (long long)rkm->offset, f->route ? f->route : "-",
                    smt_stage_name(f->stage), f->message);
        return;
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
    struct px_relay    *r;
    struct px_worker   *w;
    struct px_input    *in;
    rd_kafka_headers_t *spare; /* the input's header list, until an output
                                * takes it */
};

/* The header list for an output record: the consumed message's own list
 * when this is the first output whose headers are still the input's (the
 * same views, in order) plus any appended ones — no copy then, as a plain
 * relay would do; else a new list. */
static rd_kafka_headers_t *take_headers(struct px_emit_ctx *c,
                                        const struct smt_record *rec)
{
    const struct px_hdrs *ih = c->in->hdrs;
    rd_kafka_headers_t   *l;
    uint32_t              i;

    if (c->spare == NULL || ih == NULL || rec->nhdrs < ih->n) {
        return headers_of(rec->hdrs, rec->nhdrs, 0);
    }
    for (i = 0; i < ih->n; i++) {
        if (rec->hdrs[i].name.ptr != ih->h[i].name.ptr ||
            rec->hdrs[i].name.len != ih->h[i].name.len ||
            rec->hdrs[i].value.ptr != ih->h[i].value.ptr ||
            rec->hdrs[i].value.len != ih->h[i].value.len) {
            return headers_of(rec->hdrs, rec->nhdrs, 0);
        }
    }
    l = c->spare;
    c->spare = NULL;
    for (; i < rec->nhdrs; i++) {
        rd_kafka_header_add(l, rec->hdrs[i].name.ptr,
                            (ssize_t)rec->hdrs[i].name.len,
                            rec->hdrs[i].value.ptr,
                            rec->hdrs[i].value.ptr
                                ? (ssize_t)rec->hdrs[i].value.len
                                : 0);
    }
    return l;
}

static void emit(void *opaque, const struct smt_output *o)
{
    struct px_emit_ctx          *c = opaque;
    struct px_relay             *r = c->r;
    struct px_input             *in = c->in;
    const struct smt_pipeline_conf *pc = in->gen->pc;
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
        if (produce(c->w, o->rec->topic, o->rec->key.raw, o->rec->value.raw,
                    take_headers(c, o->rec), o->rec->ts_ms,
                    out, errbuf, sizeof(errbuf)) != 0) {
            memset(&f, 0, sizeof(f));
            f.stage = SMT_STAGE_KAFKA_PRODUCE;
            f.klass = PX_PRODUCER_CLASS;
            f.exception = produce_exception(produce_err);
            f.message = errbuf;
            f.route = route->name;
            in->route_failed = 1;
            report_failure(c->w, in, route, o->route_index, &f, 1);
        }
        break;
    case SMT_OUT_FAIL:
        if (o->cancelled) {
            /* its retries were cut short by the stop, not exhausted: not
             * a failure to report; left uncommitted for the next run */
            atomic_store(&in->poison, 1);
            PX_WARN("record %s/%d/%lld: still retrying at shutdown (%s); its "
                    "offset is not committed", rd_kafka_topic_name(in->rkm->rkt),
                    (int)in->rkm->partition, (long long)in->rkm->offset,
                    o->err->msg);
            break;
        }
        memset(&f, 0, sizeof(f));
        f.stage = o->err->stage;
        f.klass = smt_failure_class(pc, o, klass, sizeof(klass));
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
        if (o->step != NULL && o->route_index < in->gen->pl[c->w->id]->nroutes) {
            const struct smt_chain *ch = in->gen->pl[c->w->id]->chains[o->route_index];

            if (o->step >= ch->steps && o->step < ch->steps + ch->n) {
                f.step_no = (uint32_t)(o->step - ch->steps) + 1;
            }
        }
        report_failure(c->w, in, route, o->route_index, &f, 1);
        break;
    case SMT_OUT_DROP:
        atomic_fetch_add(&r->n_dropped, 1);
        break;
    case SMT_OUT_UNROUTED:
        atomic_fetch_add(&r->n_unrouted, 1);
        px_metrics_add(in->gen->rm.m, in->gen->rm.unrouted, 1);
        if (pc->unrouted == SMT_UNROUTED_TOPIC) {
            out = &in->outs[2 * pc->nroutes];
            out->in = in;
            out->route = (uint16_t)pc->nroutes;
            out->dlq = 0;
            if (produce(c->w, smt_bytes_str(pc->unrouted_topic),
                        o->rec->key.raw, o->rec->value.raw,
                        take_headers(c, o->rec),
                        o->rec->ts_ms, out, errbuf, sizeof(errbuf)) != 0) {
                memset(&f, 0, sizeof(f));
                f.stage = SMT_STAGE_KAFKA_PRODUCE;
                f.klass = PX_PRODUCER_CLASS;
                f.exception = produce_exception(produce_err);
                f.message = errbuf;
                report_failure(c->w, in, NULL, pc->nroutes, &f, 1);
            } else {
                atomic_fetch_add(&r->n_unrouted_out, 1);
            }
        } else if (pc->unrouted == SMT_UNROUTED_DLQ) {
            /* Connect has no stage for this; routing is part of what the
             * relay does to a record, so TRANSFORMATION, with our own
             * executing class so tools can tell it apart. */
            memset(&f, 0, sizeof(f));
            f.stage = SMT_STAGE_TRANSFORMATION;
            f.klass = "smtproxy.router";
            f.exception = "org.apache.kafka.connect.errors.DataException";
            f.message = "no route took the record";
            /* not a failure: reported to the DLQ, never stops the relay */
            report_failure(c->w, in, NULL, pc->nroutes, &f, 0);
        }
        break;
    default:
        break;
    }
}

/* The record for in: views into its message. Its headers are detached
 * from the message into c->spare and copied once into in->hdrs, which the
 * record's header views point into. */
static void record_from_message(struct smt_record *rec, struct px_input *in,
                                struct px_emit_ctx *c,
                                const struct smt_pipeline_conf *pc,
                                struct smt_arena *a)
{
    rd_kafka_message_t       *rkm = in->rkm;
    rd_kafka_headers_t       *hdrs = NULL;
    rd_kafka_timestamp_type_t tstype;
    int64_t                   ts;
    size_t                    i, n, bytes, size;
    const char               *name;
    const void               *val;
    char                     *at;

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
    c->spare = NULL;
    if (rd_kafka_message_detach_headers(rkm, &hdrs) !=
            RD_KAFKA_RESP_ERR_NO_ERROR ||
        hdrs == NULL) {
        return;
    }
    c->spare = hdrs;
    bytes = 0;
    for (n = 0; rd_kafka_header_get_all(hdrs, n, &name, &val, &size) ==
                RD_KAFKA_RESP_ERR_NO_ERROR;
         n++) {
        bytes += strlen(name) + (val ? size : 0);
    }
    if (n == 0) {
        return;
    }
    in->hdrs = smt_xmalloc(sizeof(*in->hdrs) + n * sizeof(struct smt_header) +
                           bytes);
    in->hdrs->n = (uint32_t)n;
    at = (char *)(in->hdrs->h + n);
    for (i = 0; i < n; i++) {
        struct smt_header *h = &in->hdrs->h[i];

        rd_kafka_header_get_all(hdrs, i, &name, &val, &size);
        h->name.ptr = at;
        h->name.len = strlen(name);
        memcpy(at, name, h->name.len);
        at += h->name.len;
        if (val != NULL) {
            h->value.ptr = at;
            h->value.len = size;
            memcpy(at, val, size);
            at += size;
        } else {
            h->value.ptr = NULL;
            h->value.len = 0;
        }
        smt_record_header_add(rec, h->name, h->value);
    }
}


static void dfail_free(struct px_dfail *d)
{
    free(d->topic);
    free(d->key);
    free(d->value);
    if (d->hdrs != NULL) {
        rd_kafka_headers_destroy(d->hdrs);
    }
    memset(d, 0, sizeof(*d));
}

/* A delivery that failed for good (d's copy is freed): a route's record
 * goes to the DLQ as a KAFKA_PRODUCE failure; a DLQ record that cannot be
 * written poisons its input (never skipped, never committed past) and
 * stops the relay. Then the hold of the failed delivery is released. */
static void delivery_failed_final(struct px_worker *w, struct px_dfail *d)
{
    struct px_relay  *r = w->r;
    struct px_out    *out = d->out;
    struct px_input  *in = out->in;
    struct px_failure f;

    atomic_fetch_add(&r->n_delivery_failed, 1);
    if (out->dlq) {
        atomic_store(&in->poison, 1);
        relay_fatal(r, "DLQ record for %s/%d/%lld not delivered to '%s': %s "
                       "(%s); stopping without committing past it",
                    rd_kafka_topic_name(in->rkm->rkt), (int)in->rkm->partition,
                    (long long)in->rkm->offset, d->topic ? d->topic : "?",
                    rd_kafka_err2str(d->err), produce_exception(d->err));
    } else {
        const struct smt_pipeline_conf *pc = in->gen->pc;
        const struct smt_route_conf    *route =
            out->route < pc->nroutes ? &pc->routes[out->route] : NULL;

        memset(&f, 0, sizeof(f));
        f.stage = SMT_STAGE_KAFKA_PRODUCE;
        f.klass = PX_PRODUCER_CLASS;
        f.exception = produce_exception(d->err);
        f.message = rd_kafka_err2str(d->err);
        f.route = route ? route->name : NULL;
        report_failure(w, in, route, out->route, &f, 1);
    }
    dfail_free(d);
    input_release(r, in);
}

/* A failed delivery report (out of dr_cb): a retriable error within the
 * route's errors.retry.timeout is sent again after Connect's backoff (the
 * hold stays); anything else has failed for good. */
static void delivery_failed(struct px_worker *w, struct px_dfail *d)
{
    struct px_relay              *r = w->r;
    struct px_out                *out = d->out;
    const struct smt_pipeline_conf *pc = out->in->gen->pc;
    const struct smt_route_conf  *route =
        out->route < pc->nroutes ? &pc->routes[out->route] : NULL;
    const struct smt_errors_conf *ec = smt_route_errors(pc, route);
    struct smt_retry              rs;
    int64_t                       now = now_ms(), wait;

    if (produce_retriable(d->err) && !atomic_load(&r->closing)) {
        if (out->retry_start == 0) {
            out->retry_start = now;
        }
        smt_retry_start(&rs, ec, out->retry_start);
        rs.attempt = out->attempts;
        wait = smt_retry_next_wait(&rs, now);
        if (wait >= 0) {
            out->attempts = (uint16_t)rs.attempt;
            d->due_ms = now + wait;
            PX_WARN("delivery to '%s' failed (%s); retry %u in %lld ms",
                    d->topic, rd_kafka_err2str(d->err), (unsigned)rs.attempt,
                    (long long)wait);
            if (w->nresend == w->resend_cap) {
                w->resend_cap = w->resend_cap ? 2 * w->resend_cap : 8;
                w->resend = smt_xrealloc(w->resend,
                                         w->resend_cap * sizeof(*w->resend));
            }
            w->resend[w->nresend++] = *d;
            memset(d, 0, sizeof(*d));
            return;
        }
    }
    delivery_failed_final(w, d);
}

/* Sends again every waiting message whose backoff is over; returns the ms
 * until the next one is due (-1: none waiting). */
static int64_t resend_due(struct px_worker *w)
{
    int64_t             now = now_ms(), next = -1;
    size_t              i = 0;
    struct px_dfail     d;
    char                errbuf[256];
    struct smt_bytes    topic, key, value;

    while (i < w->nresend) {
        if (w->resend[i].due_ms > now) {
            if (next < 0 || w->resend[i].due_ms - now < next) {
                next = w->resend[i].due_ms - now;
            }
            i++;
            continue;
        }
        d = w->resend[i];
        w->resend[i] = w->resend[--w->nresend];
        topic = smt_bytes_str(d.topic);
        key.ptr = d.key;
        key.len = d.key_len;
        value.ptr = d.value;
        value.len = d.value_len;
        if (produce(w, topic, key, value, d.hdrs, d.ts, d.out, errbuf,
                    sizeof(errbuf)) == 0) {
            d.hdrs = NULL; /* librdkafka's now */
            input_release(w->r, d.out->in); /* the failed attempt's hold */
            dfail_free(&d);
        } else {
            d.hdrs = NULL; /* produce() destroyed them */
            d.err = produce_err;
            delivery_failed_final(w, &d);
        }
    }
    return next;
}

/* Serves w's delivery reports (waiting up to timeout_ms for the first),
 * then handles the failed ones. Worker thread only. */
static void serve_reports(struct px_worker *w, int timeout_ms)
{
    size_t i;

    rd_kafka_poll(w->producer, timeout_ms);
    /* delivery_failed may produce, which may serve more reports and add to
     * the list while it is walked: index, never pointer */
    for (i = 0; i < w->ndfail; i++) {
        delivery_failed(w, &w->dfail[i]);
    }
    w->ndfail = 0;
}

/* Until the worker's queue is closed and empty: process what comes, serve
 * delivery reports, sleep on the eventfd when there is nothing to do. Then
 * wait (up to the shutdown deadline) for the last delivery reports. */
static void *worker_main(void *arg)
{
    struct px_worker  *w = arg;
    struct px_relay   *r = w->r;
    struct px_input   *in, *batch[PX_BATCH];
    struct smt_record  rec;
    struct px_emit_ctx ctx;
    struct pollfd      pfd;
    uint64_t           cnt;
    size_t             n, i;
    int                closed;
    int64_t            next;

    ctx.r = r;
    ctx.w = w;
    my_shard = &r->shards[w->id];
    px_metrics_thread(r->rm.m, (uint32_t)w->id);
    pfd.fd = w->efd;
    pfd.events = POLLIN;
    for (;;) {
        n = queue_pop(&w->q, batch, PX_BATCH, &closed);
        for (i = 0; i < n; i++) {
            in = batch[i];
            ctx.in = in;
            record_from_message(&rec, in, &ctx, in->gen->pc, &w->arena);
            smt_pipeline_process(in->gen->pl[w->id], &rec, emit, &ctx);
            if (ctx.spare != NULL) {
                rd_kafka_headers_destroy(ctx.spare); /* no output took it */
            }
            smt_arena_reset(&w->arena);
            input_release(r, in); /* the worker's hold */
        }
        serve_reports(w, 0);
        next = w->nresend > 0 ? resend_due(w) : -1;
        if (n > 0) {
            continue;
        }
        if (closed) {
            break;
        }
        /* Nothing queued: sleep until a push, a delivery report or the
         * next retry. */
        if (poll(&pfd, 1, next >= 0 && next < 1000 ? (int)next : 1000) > 0 &&
            read(w->efd, &cnt, sizeof(cnt)) < 0 && errno != EAGAIN) {
            PX_ERR("worker %d: eventfd: %s", w->id, strerror(errno));
        }
    }
    /* Closing: deliver what is in flight, retries included, until the
     * shutdown deadline. */
    while (rd_kafka_outq_len(w->producer) > 0 || w->ndfail > 0 ||
           w->nresend > 0) {
        int64_t wait = r->drain_deadline - now_ms();

        if (wait <= 0) {
            break;
        }
        serve_reports(w, (int)(wait < 100 ? wait : 100));
        if (w->nresend > 0) {
            resend_due(w);
        }
    }
    /* Retries still waiting never happened: their records are neither
     * delivered nor reported, so nothing commits past them. */
    for (i = 0; i < w->nresend; i++) {
        struct px_input *pin = w->resend[i].out->in;

        atomic_store(&pin->poison, 1);
        PX_ERR("record %s/%d/%lld: delivery to '%s' still failing (%s) at "
               "shutdown; its offset is not committed",
               rd_kafka_topic_name(pin->rkm->rkt), (int)pin->rkm->partition,
               (long long)pin->rkm->offset, w->resend[i].topic,
               rd_kafka_err2str(w->resend[i].err));
        dfail_free(&w->resend[i]);
        input_release(r, pin);
    }
    w->nresend = 0;
    topic_cache_clear();
    return NULL;
}

/* ---------------------------------------------------------------------- */
/* Delivery reports and client errors */

/* Runs inside rd_kafka_poll() on the worker that owns the producer. */
static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *rkm, void *opaque)
{
    struct px_worker *w = opaque;
    struct px_relay  *r = w->r;
    struct px_out    *out = rkm->_private;
    struct px_input  *in = out->in;
    struct px_dfail  *d;
    rd_kafka_headers_t       *h = NULL;
    rd_kafka_timestamp_type_t tstype;
    int64_t                   ts;

    (void)rk;
    if (atomic_load(&r->closing)) {
        /* purged at exit after shutdown.timeout: nothing is reported and
         * nothing commits past these records */
        input_release(r, in);
        return;
    }
    if (rkm->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        if (!out->dlq && out->route < in->gen->pc->nroutes &&
            in->gen->rstat[out->route] != UINT32_MAX) {
            shard_add(&shard_of(r)->out[in->gen->rstat[out->route]], 1);
        }
        if (!out->dlq) {
            px_rm_count_out(&in->gen->rm, out->route, rkm->rkt,
                            rd_kafka_topic_name(rkm->rkt));
        }
        px_metrics_observe(r->rm.m, r->rm.latency,
                           (uint64_t)(now_us() - in->t_us));
        input_release(r, in);
        return;
    }
    /* handled by serve_reports() once the poll returns; the hold stays */
    if (w->ndfail == w->dfail_cap) {
        w->dfail_cap = w->dfail_cap ? 2 * w->dfail_cap : 16;
        w->dfail = smt_xrealloc(w->dfail, w->dfail_cap * sizeof(*w->dfail));
    }
    d = &w->dfail[w->ndfail++];
    memset(d, 0, sizeof(*d));
    d->out = out;
    d->err = rkm->err;
    d->topic = smt_xstrdup(rd_kafka_topic_name(rkm->rkt));
    if (rkm->key != NULL) {
        d->key = smt_xmalloc(rkm->key_len + 1);
        memcpy(d->key, rkm->key, rkm->key_len);
        d->key_len = rkm->key_len;
    }
    if (rkm->payload != NULL) {
        d->value = smt_xmalloc(rkm->len + 1);
        memcpy(d->value, rkm->payload, rkm->len);
        d->value_len = rkm->len;
    }
    if (rd_kafka_message_headers(rkm, &h) == RD_KAFKA_RESP_ERR_NO_ERROR &&
        h != NULL) {
        d->hdrs = rd_kafka_headers_copy(h);
    }
    ts = rd_kafka_message_timestamp(rkm, &tstype);
    d->ts = tstype == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE ? SMT_TS_NONE : ts;
}

static void error_cb(rd_kafka_t *rk, int err, const char *reason,
                     void *opaque)
{
    /* the consumer's opaque is the relay, a producer's its worker */
    struct px_relay *r = rd_kafka_type(rk) == RD_KAFKA_PRODUCER
                             ? ((struct px_worker *)opaque)->r
                             : opaque;
    char             fatal[512];

    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        rd_kafka_fatal_error(rk, fatal, sizeof(fatal));
        relay_fatal(r, "%s: fatal error: %s", rd_kafka_name(rk), fatal);
        return;
    }
    if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) {
        atomic_store(&r->brokers_down, 1); /* for /readyz */
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

    atomic_fetch_add(&r->n_rebalances, 1);
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        for (i = 0; i < parts->cnt; i++) {
            part_get(r, parts->elems[i].topic, parts->elems[i].partition);
        }
        PX_INFO("assigned %d partition(s)", parts->cnt);
        atomic_store(&r->assigned, count_parts(r));
        atomic_store(&r->brokers_down, 0);
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
                px_metrics_hide(r->rm.m, p->m_lag);
                part_detach(r, p);
            }
        }
        atomic_store(&r->assigned, count_parts(r));
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
    int     *load;

    fprintf(f, "{\"in\":%llu,\"out\":{",
            (unsigned long long)atomic_load(&r->n_in));
    for (i = 0; i < atomic_load(&r->nrstat); i++) {
        fprintf(f, "%s\"%s\":%llu", i ? "," : "", r->rstat_name[i],
                ROUTE_OUT(r, i));
    }
    fprintf(f,
            "},\"dlq\":%llu,\"dropped\":%llu,\"failed\":%llu,"
            "\"unrouted\":%llu,\"retired\":%llu,\"inflight\":%lld,"
            "\"inflight_bytes\":%lld,\"delivery_failed\":%llu,"
            "\"paused\":%s,\"generation\":%llu,\"reloads_ok\":%llu,"
            "\"reloads_failed\":%llu,\"rebalances\":%llu,"
            "\"fetch_kicks\":%llu,\"pauses\":%llu,\"resume_wakes\":%llu,"
            "\"inflight_peak\":%lld,\"worker_partitions\":[",
            (unsigned long long)atomic_load(&r->n_dlq),
            (unsigned long long)atomic_load(&r->n_dropped),
            (unsigned long long)atomic_load(&r->n_failed),
            (unsigned long long)atomic_load(&r->n_unrouted),
            RETIRED(r), inflight_records(r), inflight_bytes(r),
            (unsigned long long)atomic_load(&r->n_delivery_failed),
            r->paused ? "true" : "false",
            (unsigned long long)(r->gen != NULL ? r->gen->seq : 0),
            (unsigned long long)atomic_load(&r->n_reload_ok),
            (unsigned long long)atomic_load(&r->n_reload_err),
            (unsigned long long)atomic_load(&r->n_rebalances),
            (unsigned long long)r->n_kicks, (unsigned long long)r->n_pauses,
            (unsigned long long)atomic_load(&r->n_resume_wakes),
            r->inflight_peak);
    /* how the assigned partitions spread over the workers */
    load = smt_xmalloc((size_t)r->nworkers * sizeof(*load));
    worker_loads(r, load);
    for (i = 0; i < (uint32_t)r->nworkers; i++) {
        fprintf(f, "%s%d", i ? "," : "", load[i]);
    }
    free(load);
    fputs("]}\n", f);
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
    for (i = 0; i < atomic_load(&r->nrstat) && i < 64 && n < sizeof(line);
         i++) {
        uint64_t o = ROUTE_OUT(r, i);

        n += (size_t)snprintf(line + n, sizeof(line) - n, " | %s %llu (%.0f/s)",
                              r->rstat_name[i], (unsigned long long)o,
                              (double)(o - prev->out[i]) / dt);
        prev->out[i] = o;
    }
    if (n < sizeof(line)) {
        snprintf(line + n, sizeof(line) - n,
                 " | dlq %llu (%.0f/s) | in flight %lld",
                 (unsigned long long)dlq, (double)(dlq - prev->dlq) / dt,
                 inflight_records(r));
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

/* The pipeline's topics on the embedded cluster, with several partitions
 * so that workers run in parallel (existing ones are left alone). */
static void embedded_topics(struct px_relay *r,
                            const struct smt_pipeline_conf *pc)
{
    uint32_t i;
    int      np = r->xc.embedded_partitions;

    for (i = 0; i < pc->topics.n; i++) {
        rd_kafka_mock_topic_create(r->mock, pc->topics.v[i], np, 1);
    }
    for (i = 0; i < pc->nroutes; i++) {
        const struct smt_route_conf *rt = &pc->routes[i];

        if (rt->topic != NULL) {
            rd_kafka_mock_topic_create(r->mock, rt->topic, np, 1);
        }
        if (rt->has_errors && rt->errors.dlq_topic && rt->errors.dlq_topic[0]) {
            rd_kafka_mock_topic_create(r->mock, rt->errors.dlq_topic, 1, 1);
        }
    }
    if (pc->errors.dlq_topic != NULL && pc->errors.dlq_topic[0]) {
        rd_kafka_mock_topic_create(r->mock, pc->errors.dlq_topic, 1, 1);
    }
    if (pc->unrouted_topic != NULL) {
        rd_kafka_mock_topic_create(r->mock, pc->unrouted_topic, np, 1);
    }
}

static int setup_embedded(struct px_relay *r, char *bootstrap, size_t size)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char             errstr[256];

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
    embedded_topics(r, r->pc);
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

static void fetch_kick(struct px_relay *r, int lagging_only);

/* Pauses fetching above the in-flight caps, resumes below half of them. */
static void flow_control(struct px_relay *r)
{
    long long                        recs = inflight_records(r);
    long long                        bytes = inflight_bytes(r);
    rd_kafka_topic_partition_list_t *assigned = NULL;

    /* in-flight only grows by dispatch(), just before this: the peak */
    if (recs > r->inflight_peak) {
        r->inflight_peak = recs;
    }
    if (!r->paused && (recs >= r->xc.max_records || bytes >= r->xc.max_bytes)) {
        if (rd_kafka_assignment(r->consumer, &assigned) ==
            RD_KAFKA_RESP_ERR_NO_ERROR) {
            pause_list(r, assigned, 1);
            rd_kafka_topic_partition_list_destroy(assigned);
        }
        r->paused = 1;
        r->n_pauses++;
        px_metrics_add(r->rm.m, r->rm.pauses, 1);
        atomic_store(&r->wake_on_resume, 1);
        PX_DBG("paused: %lld records, %lld bytes in flight", recs, bytes);
    } else if (r->paused && resume_due(r)) {
        if (rd_kafka_assignment(r->consumer, &assigned) ==
            RD_KAFKA_RESP_ERR_NO_ERROR) {
            pause_list(r, assigned, 0);
            rd_kafka_topic_partition_list_destroy(assigned);
        }
        r->paused = 0;
        atomic_store(&r->wake_on_resume, 0);
        PX_DBG("resumed");
        fetch_kick(r, 0); /* a resume alone waits up to a second */
    }
}

/* Makes the in-flight input for rkm and appends it to its partition's
 * list; returns it with the index of the worker that owns the partition
 * (one worker per partition: its order holds). */
static struct px_input *track(struct px_relay *r, rd_kafka_message_t *rkm,
                              uint32_t *worker)
{
    const char      *topic = rd_kafka_topic_name(rkm->rkt);
    struct px_part  *p = part_get(r, topic, rkm->partition);
    struct px_input *in;

    in = smt_xmalloc(sizeof(*in) + r->gen->nouts * sizeof(struct px_out));
    in->rkm = rkm;
    in->gen = r->gen; /* its reference: dispatch() takes them per batch */
    in->hdrs = NULL;
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
    px_metrics_add(r->rm.m, p->m_in, 1);
    *worker = (uint32_t)p->worker;
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
    long             tracked = 0;
    long long        bytes = 0;
    int64_t          t = now_us(); /* one clock read per batch */

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
        per[i]->t_us = t;
        per[i]->part->next_off = per[i]->offset + 1;
        r->value_avg += ((int64_t)msgs[i]->len - r->value_avg) / 64;
        tracked++;
        bytes += (long long)per[i]->bytes;
    }
    /* before any worker can retire one of them */
    atomic_fetch_add(&r->gen->refs, tracked);
    atomic_fetch_add(&r->taken_records, tracked);
    atomic_fetch_add(&r->taken_bytes, bytes);
    atomic_fetch_add(&r->n_in, (unsigned long long)tracked);
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

/* librdkafka 2.0 (Debian's) stops fetching for a broker's partitions when
 * a fetch response leaves the consumer queue above queued.max.messages.kbytes
 * (or queued.min.messages), and looks again only when that broker's thread
 * next wakes up: up to a second later (2.2 added fetch.queue.backoff.ms for
 * it). A relay catching up on a backlog drains the queue long before, and
 * then sat idle for the rest of the second: bench/e2e.py saw it fetch
 * 16 MiB, work 0.3 s and wait 0.7 s, every second.
 *
 * So consume() watches the queue: when it has been near the limit (half of
 * it, counted in messages of the average size) and is then found empty,
 * every partition whose broker has more (the high watermark librdkafka
 * cached from its last fetch is past what we consumed) is sought to the
 * next offset we would consume. A seek is the one request that wakes the
 * broker thread (a pause and resume are served by the main thread and wait
 * for the same tick), and fetching starts again from that offset. A seek
 * drops what librdkafka holds of the partition: nothing, as the queue is
 * empty, or at worst a fetch response on its way (another broker's, which
 * had not stopped), fetched again from the same offset. Nothing is skipped
 * or repeated either way. Kicking only after the queue was near its limit
 * keeps an ordinary wait for data (a fetch in flight) from being mistaken
 * for a stop. flow_control() kicks every partition it resumes (lagging_only
 * 0), for the same reason: a resume alone waits for the same tick. */
static void fetch_kick(struct px_relay *r, int lagging_only)
{
    rd_kafka_topic_partition_list_t *l = NULL;
    rd_kafka_error_t                *error;
    struct px_part                  *p;
    int64_t                          lo, hi;

    r->q_high = 0;
    if (r->paused || r->stopping) {
        return;
    }
    for (p = r->parts; p != NULL; p = p->next) {
        if (p->next_off < 0 ||
            (lagging_only &&
             (rd_kafka_get_watermark_offsets(r->consumer, p->topic,
                                             p->partition, &lo, &hi) !=
                  RD_KAFKA_RESP_ERR_NO_ERROR ||
              hi <= p->next_off))) {
            continue;
        }
        if (l == NULL) {
            l = rd_kafka_topic_partition_list_new(4);
        }
        rd_kafka_topic_partition_list_add(l, p->topic, p->partition)->offset =
            p->next_off;
    }
    if (l == NULL) {
        return;
    }
    PX_DBG("fetch kick: %d partition(s)", l->cnt);
    /* asynchronous (timeout 0): nothing is reported back */
    if ((error = rd_kafka_seek_partitions(r->consumer, l, 0)) != NULL) {
        rd_kafka_error_destroy(error);
    }
    r->n_kicks += (uint64_t)l->cnt;
    px_metrics_add(r->rm.m, r->rm.kicks, (uint64_t)l->cnt);
    rd_kafka_topic_partition_list_destroy(l);
}

/* Takes what the consumer queue holds (up to PX_BATCH) without waiting for
 * a full batch; when it is empty, waits up to 100 ms for the first record.
 * Watches the queue's length for fetch_kick(). */
static ssize_t consume(struct px_relay *r, rd_kafka_queue_t *q,
                       rd_kafka_message_t **msgs)
{
    ssize_t n = rd_kafka_consume_batch_queue(q, 0, msgs, PX_BATCH);
    ssize_t m;
    int64_t mark;

    if (n > 0) {
        mark = r->q_max_bytes / (r->value_avg > 0 ? r->value_avg : 1);
        if (mark > r->q_min_msgs) {
            mark = r->q_min_msgs;
        }
        if ((int64_t)rd_kafka_queue_length(q) >= mark / 2) {
            r->q_high = 1;
        }
        return n;
    }
    if (n == 0 && r->q_high) {
        fetch_kick(r, 1);
    }
    n = rd_kafka_consume_batch_queue(q, 100, msgs, 1);
    if (n == 1 &&
        (m = rd_kafka_consume_batch_queue(q, 0, msgs + 1, PX_BATCH - 1)) > 0) {
        n += m;
    }
    return n;
}

/* ---------------------------------------------------------------------- */
/* Metrics and the admin endpoint (proxy/metrics.c, proxy/admin.c)
 *
 * Counting happens where the counters above are counted, on a per-thread
 * shard (workers: their index; the consumer thread: nworkers). What is
 * cheaper to read than to count is read at scrape time on the HTTP
 * thread: in-flight gauges (atomics), producer queues (rd_kafka_outq_len
 * is thread-safe) and per-step drops (every step instance counts them
 * already, once per worker). Consumer lag is computed by the consumer
 * thread once a second from librdkafka's cached high watermark
 * (rd_kafka_get_watermark_offsets: no request to the broker, updated on
 * every fetch) minus the offset we would commit: no statistics JSON to
 * parse, no blocking watermark query, and it includes records still in
 * flight, which is what an operator wants to see. The admin server is
 * stopped before anything its hooks read is freed. */

/* Consumer thread, every loop turn: lag once a second (admin only), and
 * whether a broker answers again after ALL_BROKERS_DOWN. */
static void metrics_tick(struct px_relay *r, int64_t now, ssize_t consumed)
{
    struct px_part *p;
    int64_t         lo, hi, base;

    if (atomic_load_explicit(&r->brokers_down, memory_order_relaxed)) {
        if (consumed > 0) {
            atomic_store(&r->brokers_down, 0);
        } else if (now - r->last_probe >= 2000) {
            const struct rd_kafka_metadata *md = NULL;

            /* nothing flows while no broker answers, so a short blocking
             * probe costs nothing */
            r->last_probe = now;
            if (rd_kafka_metadata(r->consumer, 0, NULL, &md, 500) ==
                RD_KAFKA_RESP_ERR_NO_ERROR) {
                atomic_store(&r->brokers_down, 0);
            }
            if (md != NULL) {
                rd_kafka_metadata_destroy(md);
            }
        }
    }
    if (r->admin == NULL || now - r->last_lag < 1000) {
        return;
    }
    r->last_lag = now;
    for (p = r->parts; p != NULL; p = p->next) {
        if (rd_kafka_get_watermark_offsets(r->consumer, p->topic,
                                           p->partition, &lo, &hi) !=
                RD_KAFKA_RESP_ERR_NO_ERROR ||
            hi < 0) {
            continue;
        }
        base = p->stored;
        if (base < 0) {
            /* nothing retired since the assignment: the fetch position */
            rd_kafka_topic_partition_list_t *l =
                rd_kafka_topic_partition_list_new(1);

            rd_kafka_topic_partition_list_add(l, p->topic, p->partition);
            if (rd_kafka_position(r->consumer, l) ==
                RD_KAFKA_RESP_ERR_NO_ERROR) {
                base = l->elems[0].offset;
            }
            rd_kafka_topic_partition_list_destroy(l);
        }
        if (base >= 0) {
            px_metrics_set(r->rm.m, p->m_lag, hi > base ? hi - base : 0);
        }
    }
}

/* The HTTP thread, at each scrape. */
static void metrics_collect(void *opaque, struct px_metrics *m)
{
    struct px_relay *r = opaque;
    struct px_gen   *g;
    int64_t          outq = 0;
    uint32_t         ri, si;
    int              i;

    px_metrics_set(m, r->rm.inflight_records,
                   inflight_records(r));
    px_metrics_set(m, r->rm.inflight_bytes, inflight_bytes(r));
    for (i = 0; i < r->nworkers; i++) {
        if (r->workers[i].producer != NULL) {
            outq += rd_kafka_outq_len(r->workers[i].producer);
        }
    }
    px_metrics_set(m, r->rm.outq, outq);
    if ((g = gen_current(r)) == NULL) {
        return;
    }
    /* the current generation's step counters (a reload starts them anew) */
    for (ri = 0; ri < g->pc->nroutes; ri++) {
        for (si = 0; si < g->pc->routes[ri].chain.n; si++) {
            uint64_t dropped = 0;

            for (i = 0; i < g->npl; i++) {
                const struct smt_pipeline *pl = g->pl[i];

                if (pl != NULL && ri < pl->nroutes && si < pl->chains[ri]->n) {
                    /* written by that worker only; a relaxed read of a
                     * 64-bit counter is all a scrape needs */
                    dropped += __atomic_load_n(
                        &pl->chains[ri]->steps[si].n.dropped,
                        __ATOMIC_RELAXED);
                }
            }
            px_metrics_set(m, g->rm.filtered[g->rm.step_base[ri] + si],
                           (int64_t)dropped);
        }
    }
    gen_release(r, g);
}

static int admin_healthy(void *opaque, char *reason, size_t size)
{
    struct px_relay *r = opaque;

    if (atomic_load(&r->fatal)) {
        snprintf(reason, size, "stopping after a fatal error");
        return 0;
    }
    return 1;
}

static int admin_ready(void *opaque, char *reason, size_t size)
{
    struct px_relay *r = opaque;

    if (stop_signals || atomic_load(&r->fatal)) {
        snprintf(reason, size, "stopping");
        return 0;
    }
    if (atomic_load(&r->brokers_down)) {
        snprintf(reason, size, "no broker reachable");
        return 0;
    }
    if (atomic_load(&r->assigned) == 0) {
        snprintf(reason, size, "no partitions assigned");
        return 0;
    }
    return 1;
}

static char *admin_config(void *opaque)
{
    struct px_relay *r = opaque;
    struct px_gen   *g = gen_current(r);
    char            *json = NULL;

    if (g != NULL) {
        json = g->pc->tree != NULL ? px_config_json(g->pc->tree->root) : NULL;
        gen_release(r, g);
    }
    return json;
}

static enum px_reload_result admin_reload(void *opaque, struct smt_diags *d,
                                          uint64_t *generation);

/* Starts the admin endpoint when enabled. Returns 0 or -1 (logged). */
static int admin_start(struct px_relay *r)
{
    struct px_admin_hooks h;
    struct smt_err        err;

    if (!r->xc.admin_enable) {
        return 0;
    }
    memset(&h, 0, sizeof(h));
    h.opaque = r;
    h.healthy = admin_healthy;
    h.ready = admin_ready;
    h.config = admin_config;
    h.reload = admin_reload;
    r->admin = px_admin_start(r->xc.admin_listen,
                              (uint32_t)r->xc.admin_max_conns, r->rm.m, &h,
                              &err);
    if (r->admin == NULL) {
        PX_ERR("%s", err.msg);
        return -1;
    }
    PX_INFO("admin endpoint on %s (port %u): /metrics /healthz /readyz "
            "/config /reload", r->xc.admin_listen, px_admin_port(r->admin));
    return 0;
}

static void reload_tick(struct px_relay *r, int64_t now);

static void consume_loop(struct px_relay *r)
{
    rd_kafka_message_t *msgs[PX_BATCH];
    rd_kafka_queue_t   *q = r->cq;
    ssize_t             n;
    int64_t             now = now_ms();
    int64_t             last_store = now, last_stats = now, last_log = now;
    struct rates        rates;

    memset(&rates, 0, sizeof(rates));
    rates.at = now;
    while (!stop_signals && !atomic_load(&r->fatal) && !r->restart) {
        flow_control(r);
        /* A batch at a time: also serves rebalances and errors. */
        n = consume(r, q, msgs);
        if (n > 0) {
            dispatch(r, msgs, (size_t)n);
        }
        now = now_ms();
        if (now - last_store >= 100) {
            store_offsets(r);
            sweep_zombies(r, 0);
            last_store = now;
        }
        metrics_tick(r, now, n);
        reload_tick(r, now);
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
                    inflight_records(r));
            last_log = now;
        }
    }
    if (r->opts->progress) {
        progress_line(r, &rates, 1);
    }
}

/* The consumer, and the producer configuration every worker's producer is
 * made from (returned in *pconf, owned by the caller). */
/* A client's integer property as librdkafka has it (def when unknown). */
static int64_t conf_int(rd_kafka_t *rk, const char *name, int64_t def)
{
    char   buf[64];
    size_t size = sizeof(buf);
    char  *end;
    long long v;

    if (rd_kafka_conf_get(rd_kafka_conf(rk), name, buf, &size) !=
        RD_KAFKA_CONF_OK) {
        return def;
    }
    v = strtoll(buf, &end, 10);
    return end != buf && *end == '\0' && v > 0 ? (int64_t)v : def;
}

static int start_clients(struct px_relay *r, const char *bootstrap,
                         rd_kafka_conf_t **pconf, struct smt_diags *d)
{
    rd_kafka_conf_t *cconf;
    char             errstr[512];

    cconf = px_kafka_conf(r->pc, &r->xc, 0, bootstrap, d);
    *pconf = px_kafka_conf(r->pc, &r->xc, 1, bootstrap, d);
    if (cconf == NULL || *pconf == NULL) {
        if (cconf != NULL) {
            rd_kafka_conf_destroy(cconf);
        }
        if (*pconf != NULL) {
            rd_kafka_conf_destroy(*pconf);
            *pconf = NULL;
        }
        return -1;
    }
    rd_kafka_conf_set_opaque(cconf, r);
    rd_kafka_conf_set_rebalance_cb(cconf, rebalance_cb);
    rd_kafka_conf_set_error_cb(cconf, error_cb);
    rd_kafka_conf_set_error_cb(*pconf, error_cb);
    rd_kafka_conf_set_log_cb(cconf, log_cb);
    rd_kafka_conf_set_log_cb(*pconf, log_cb);
    rd_kafka_conf_set_dr_msg_cb(*pconf, dr_cb);
    r->consumer = rd_kafka_new(RD_KAFKA_CONSUMER, cconf, errstr, sizeof(errstr));
    if (r->consumer == NULL) {
        return smt_diag(d, NULL, "consumer: %s", errstr);
    }
    rd_kafka_poll_set_consumer(r->consumer);
    r->cq = rd_kafka_queue_get_consumer(r->consumer);
    r->q_max_bytes = conf_int(r->consumer, "queued.max.messages.kbytes",
                              65536) * 1024;
    r->q_min_msgs = conf_int(r->consumer, "queued.min.messages", 100000);
    return 0;
}

/* Worker w's producer (from a copy of pconf), its eventfd, and its
 * delivery-report queue wired to that eventfd. */
static int start_worker_producer(struct px_worker *w,
                                 const rd_kafka_conf_t *pconf,
                                 struct smt_diags *d)
{
    rd_kafka_conf_t  *conf = rd_kafka_conf_dup(pconf);
    rd_kafka_queue_t *q;
    char              errstr[512];
    static const uint64_t one = 1;

    rd_kafka_conf_set_opaque(conf, w);
    w->producer = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (w->producer == NULL) {
        rd_kafka_conf_destroy(conf);
        return smt_diag(d, NULL, "producer: %s", errstr);
    }
    q = rd_kafka_queue_get_main(w->producer);
    rd_kafka_queue_io_event_enable(q, w->efd, &one, sizeof(one));
    rd_kafka_queue_destroy(q);
    return 0;
}

/* Creates a DLQ topic that does not exist yet, as Connect's DLQ reporter
 * does: one partition, errors.deadletterqueue.topic.replication.factor
 * replicas (-1: the broker's default). An existing topic is left as it is.
 * A topic that cannot be created is a warning: the broker may still
 * auto-create it, and if the DLQ cannot be written when a record needs it,
 * the relay stops without committing past that record. */
static void create_dlq_topic(struct px_relay *r, const char *topic,
                             int64_t rf)
{
    rd_kafka_NewTopic_t                 *nt;
    rd_kafka_queue_t                    *q;
    rd_kafka_event_t                    *ev;
    const rd_kafka_CreateTopics_result_t *res;
    const rd_kafka_topic_result_t      **tr;
    rd_kafka_AdminOptions_t             *ao;
    size_t                               n;
    char                                 errstr[256];

    /* Connect looks first and creates only what is missing (a cluster
     * that cannot create topics, or an ACL that forbids it, is then no
     * obstacle for a topic that exists) */
    {
        rd_kafka_topic_t          *rkt = rd_kafka_topic_new(r->consumer, topic,
                                                            NULL);
        const struct rd_kafka_metadata *md = NULL;
        int                        exists = 0;

        if (rkt != NULL &&
            rd_kafka_metadata(r->consumer, 0, rkt, &md, 5000) ==
                RD_KAFKA_RESP_ERR_NO_ERROR) {
            exists = md->topic_cnt == 1 &&
                     md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR &&
                     md->topics[0].partition_cnt > 0;
        }
        if (md != NULL) {
            rd_kafka_metadata_destroy(md);
        }
        if (rkt != NULL) {
            rd_kafka_topic_destroy(rkt);
        }
        if (exists) {
            return;
        }
    }
    nt = rd_kafka_NewTopic_new(topic, 1, (int)rf, errstr, sizeof(errstr));
    if (nt == NULL) {
        PX_WARN("DLQ topic '%s': %s", topic, errstr);
        return;
    }
    q = rd_kafka_queue_new(r->consumer);
    ao = rd_kafka_AdminOptions_new(r->consumer, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rd_kafka_AdminOptions_set_request_timeout(ao, 10000, errstr, sizeof(errstr));
    rd_kafka_CreateTopics(r->consumer, &nt, 1, ao, q);
    ev = rd_kafka_queue_poll(q, 15000);
    if (ev == NULL) {
        PX_WARN("DLQ topic '%s': no answer to CreateTopics within 15 s", topic);
    } else if (rd_kafka_event_error(ev) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        PX_WARN("DLQ topic '%s': %s", topic, rd_kafka_event_error_string(ev));
    } else if ((res = rd_kafka_event_CreateTopics_result(ev)) != NULL) {
        tr = rd_kafka_CreateTopics_result_topics(res, &n);
        if (n == 1 &&
            rd_kafka_topic_result_error(tr[0]) == RD_KAFKA_RESP_ERR_NO_ERROR) {
            PX_INFO("created DLQ topic '%s' (1 partition, replication factor "
                    "%lld)", topic, (long long)rf);
        } else if (n == 1 && rd_kafka_topic_result_error(tr[0]) !=
                                 RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
            PX_WARN("cannot create DLQ topic '%s' (1 partition, replication "
                    "factor %lld): %s; set errors.deadletterqueue.topic."
                    "replication.factor or create it", topic, (long long)rf,
                    rd_kafka_topic_result_error_string(tr[0]));
        }
    }
    if (ev != NULL) {
        rd_kafka_event_destroy(ev);
    }
    rd_kafka_AdminOptions_destroy(ao);
    rd_kafka_queue_destroy(q);
    rd_kafka_NewTopic_destroy(nt);
}

/* 1 when pc names topic as a DLQ (pipeline or route); pc may be NULL. */
static int has_dlq(const struct smt_pipeline_conf *pc, const char *topic)
{
    uint32_t i;

    if (pc == NULL) {
        return 0;
    }
    if (pc->errors.dlq_topic != NULL && strcmp(pc->errors.dlq_topic, topic) == 0) {
        return 1;
    }
    for (i = 0; i < pc->nroutes; i++) {
        const struct smt_route_conf *rt = &pc->routes[i];

        if (rt->has_errors && rt->errors.dlq_topic != NULL &&
            strcmp(rt->errors.dlq_topic, topic) == 0) {
            return 1;
        }
    }
    return 0;
}

/* The DLQ topics of pc that before (the running configuration, or NULL at
 * start-up) did not have. */
static void create_dlq_topics(struct px_relay *r,
                              const struct smt_pipeline_conf *pc,
                              const struct smt_pipeline_conf *before)
{
    uint32_t i;

    if (pc->errors.dlq_topic != NULL && pc->errors.dlq_topic[0] &&
        !has_dlq(before, pc->errors.dlq_topic)) {
        create_dlq_topic(r, pc->errors.dlq_topic,
                         pc->errors.dlq_replication_factor);
    }
    for (i = 0; i < pc->nroutes; i++) {
        const struct smt_route_conf *rt = &pc->routes[i];

        if (rt->has_errors && rt->errors.dlq_topic && rt->errors.dlq_topic[0] &&
            (pc->errors.dlq_topic == NULL ||
             strcmp(rt->errors.dlq_topic, pc->errors.dlq_topic) != 0) &&
            !has_dlq(before, rt->errors.dlq_topic)) {
            create_dlq_topic(r, rt->errors.dlq_topic,
                             rt->errors.dlq_replication_factor);
        }
    }
}

/* ---------------------------------------------------------------------- */
/* Reload (docs/operations.md)
 *
 * SIGHUP, a change of the pipeline file (inotify, debounced) or POST
 * /reload: the consumer thread loads and checks the file and builds every
 * worker's pipeline for it (gen_new) before anything changes; any error
 * leaves the running generation untouched. Routes, chains, conditions,
 * errors, formats and the daemon's limits/delivery/log settings change in
 * place, between batches, without leaving the group. A change to what the
 * Kafka clients were made from (kafka/consumer/producer, the name, input
 * topics, workers, queue sizes, the admin endpoint) is applied by a clean
 * stop (drain, commit, leave) and a start with the new file. */

static volatile sig_atomic_t hup_signals;

static void on_hup(int sig)
{
    (void)sig;
    hup_signals++;
}

static int kv_same(const struct smt_kv *a, const struct smt_kv *b)
{
    uint32_t i;

    if (a->n != b->n) {
        return 0;
    }
    for (i = 0; i < a->n; i++) {
        if (strcmp(a->k[i], b->k[i]) != 0 || strcmp(a->v[i], b->v[i]) != 0) {
            return 0;
        }
    }
    return 1;
}

static int str_same(const char *a, const char *b)
{
    return (a == NULL && b == NULL) ||
           (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* What of b cannot be applied to a running relay made from a, or NULL. */
static const char *needs_restart(const struct smt_pipeline_conf *a,
                                 const struct px_conf *ax,
                                 const struct smt_pipeline_conf *b,
                                 const struct px_conf *bx)
{
    uint32_t i;

    if (!kv_same(&a->kafka, &b->kafka)) {
        return "kafka";
    }
    if (!kv_same(&a->consumer, &b->consumer)) {
        return "consumer";
    }
    if (!kv_same(&a->producer, &b->producer)) {
        return "producer";
    }
    if (!str_same(a->name, b->name)) {
        return "name";
    }
    if (!str_same(a->topic_regex, b->topic_regex) ||
        a->topics.n != b->topics.n) {
        return "input topics";
    }
    for (i = 0; i < a->topics.n; i++) {
        if (strcmp(a->topics.v[i], b->topics.v[i]) != 0) {
            return "input topics";
        }
    }
    if (ax->workers != bx->workers) {
        return "workers";
    }
    if (ax->queue_records != bx->queue_records) {
        return "limits.worker.queue.records";
    }
    if (ax->embedded_partitions != bx->embedded_partitions) {
        return "delivery.embedded.partitions";
    }
    if (ax->admin_enable != bx->admin_enable ||
        strcmp(ax->admin_listen, bx->admin_listen) != 0 ||
        ax->admin_max_conns != bx->admin_max_conns ||
        ax->admin_max_labels != bx->admin_max_labels) {
        return "admin";
    }
    return NULL;
}

static void count_reload(struct px_relay *r, int ok)
{
    atomic_fetch_add(ok ? &r->n_reload_ok : &r->n_reload_err, 1);
    px_metrics_thread(r->rm.m, (uint32_t)r->nworkers);
    px_metrics_add(r->rm.m, ok ? r->rm.reload_ok : r->rm.reload_error, 1);
}

/* Topics the embedded cluster does not have yet (a reload's new routes). */
static void embedded_topics(struct px_relay *r,
                            const struct smt_pipeline_conf *pc);

/* Reloads the pipeline file (consumer thread). Errors go to d. */
static enum px_reload_result relay_reload(struct px_relay *r,
                                          const char *why,
                                          struct smt_diags *d)
{
    struct smt_pipeline_conf *pc;
    struct px_conf            xc;
    struct px_gen            *g, *old;
    const char               *what;
    uint32_t                  i, n0 = d->n;

    PX_INFO("reload (%s): loading %s", why, r->opts->config_path);
    pc = smt_pipeline_conf_load(r->opts->config_path, d);
    if (pc == NULL || px_conf_load(&xc, pc, d) != 0 ||
        (pc->topics.n == 0 && pc->topic_regex == NULL &&
         smt_diag(d, NULL, "%s: no input topics: set input.topics or "
                           "input.topic.regex", r->opts->config_path))) {
        goto invalid;
    }
    if ((what = needs_restart(r->pc, &r->xc, pc, &xc)) != NULL) {
        smt_pipeline_conf_free(pc);
        if (px_kafka_embedded(r->pc)) {
            smt_diag(d, NULL, "%s: '%s' changed, which needs new Kafka "
                              "clients, and the embedded cluster would be "
                              "lost with them: restart smtproxy",
                     r->opts->config_path, what);
            count_reload(r, 0);
            PX_ERR("reload rejected: '%s' changed (embedded cluster)", what);
            return PX_RELOAD_CONFLICT;
        }
        PX_INFO("reload: '%s' changed: draining, committing and starting "
                "again with new Kafka clients", what);
        count_reload(r, 1);
        r->restart = 1;
        return PX_RELOAD_OK;
    }
    if ((g = gen_new(r, pc, d)) == NULL) {
        pc = NULL; /* gen_new freed it */
        goto invalid;
    }
    if (px_kafka_embedded(r->pc)) {
        embedded_topics(r, pc);
    } else {
        create_dlq_topics(r, pc, r->gen->pc);
    }
    pthread_mutex_lock(&r->gen_mu);
    old = r->gen;
    r->gen = g;
    pthread_mutex_unlock(&r->gen_mu);
    gen_release(r, old);
    /* the daemon settings that apply in place */
    r->xc.max_records = xc.max_records;
    r->xc.max_bytes = xc.max_bytes;
    r->xc.shutdown_ms = xc.shutdown_ms;
    r->xc.commit_ms = xc.commit_ms;
    r->xc.revoke_ms = xc.revoke_ms;
    r->xc.log_level = px_log_level = xc.log_level;
    r->xc.log_format = px_log_format = xc.log_format;
    r->xc.stats_ms = xc.stats_ms;
    r->xc.reload_watch = xc.reload_watch;
    r->xc.reload_debounce_ms = xc.reload_debounce_ms;
    if ((uint32_t)pc->errors.breaker_max_failures != r->breaker.max_failures ||
        pc->errors.breaker_window_ms != r->breaker.window_ms) {
        pthread_mutex_lock(&r->breaker_mu);
        smt_breaker_fini(&r->breaker);
        smt_breaker_init(&r->breaker, (uint32_t)pc->errors.breaker_max_failures,
                         pc->errors.breaker_window_ms);
        pthread_mutex_unlock(&r->breaker_mu);
    }
    count_reload(r, 1);
    PX_INFO("reload: generation %llu running: %u route(s)",
            (unsigned long long)g->seq, pc->nroutes);
    return PX_RELOAD_OK;

invalid:
    smt_pipeline_conf_free(pc);
    count_reload(r, 0);
    for (i = n0; i < d->n; i++) {
        PX_ERR("reload rejected: %s", d->msg[i]);
    }
    if (d->n == n0) {
        PX_ERR("reload rejected: %s does not load", r->opts->config_path);
    }
    return PX_RELOAD_INVALID;
}

/* POST /reload (the admin endpoint's thread): hands the reload to the
 * consumer thread and waits for its result. */
static enum px_reload_result admin_reload(void *opaque, struct smt_diags *d,
                                          uint64_t *generation)
{
    struct px_relay      *r = opaque;
    struct timespec       ts;
    uint64_t              ticket;
    enum px_reload_result res = PX_RELOAD_CONFLICT;

    pthread_mutex_lock(&r->reload_mu);
    while (r->reload_req && !stop_signals && !atomic_load(&r->fatal)) {
        pthread_cond_wait(&r->reload_cv, &r->reload_mu);
    }
    ticket = ++r->reload_ticket;
    r->reload_req = 1;
    r->reload_diags = d;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 120;
    while (r->reload_done_ticket < ticket && !stop_signals &&
           !atomic_load(&r->fatal)) {
        if (pthread_cond_timedwait(&r->reload_cv, &r->reload_mu, &ts) != 0) {
            break;
        }
    }
    if (r->reload_done_ticket >= ticket) {
        res = r->reload_res;
        *generation = r->reload_gen;
    } else {
        r->reload_req = 0;
        smt_diag(d, NULL, "the relay did not take the reload within 120 s "
                          "(stopping, or busy in a rebalance)");
    }
    r->reload_diags = NULL; /* the consumer thread must not write it now */
    pthread_cond_broadcast(&r->reload_cv);
    pthread_mutex_unlock(&r->reload_mu);
    return res;
}

static void watch_config(struct px_relay *r);

/* The consumer loop's reload duties: SIGHUP, the file's changes, POST
 * /reload. */
static void reload_tick(struct px_relay *r, int64_t now)
{
    static sig_atomic_t   seen_hup;
    char                  buf[4096]
        __attribute__((aligned(__alignof__(struct inotify_event))));
    const char           *base;
    ssize_t               len;
    struct smt_diags      d;
    enum px_reload_result res;
    uint32_t              i;

    if (hup_signals != seen_hup) {
        seen_hup = hup_signals;
        smt_diags_init(&d);
        relay_reload(r, "SIGHUP", &d);
        smt_diags_fini(&d);
    }
    if (r->inotify_fd >= 0) {
        base = strrchr(r->opts->config_path, '/');
        base = base ? base + 1 : r->opts->config_path;
        while ((len = read(r->inotify_fd, buf, sizeof(buf))) > 0) {
            ssize_t off = 0;

            while (off < len) {
                const struct inotify_event *ev =
                    (const struct inotify_event *)(buf + off);

                if (ev->len > 0 && strcmp(ev->name, base) == 0) {
                    r->reload_due = now + r->xc.reload_debounce_ms;
                }
                off += (ssize_t)(sizeof(*ev) + ev->len);
            }
        }
        if (r->reload_due != 0 && now >= r->reload_due) {
            r->reload_due = 0;
            smt_diags_init(&d);
            relay_reload(r, "file changed", &d);
            smt_diags_fini(&d);
        }
    }
    pthread_mutex_lock(&r->reload_mu);
    if (r->reload_req && r->reload_done_ticket < r->reload_ticket) {
        uint64_t ticket = r->reload_ticket;

        pthread_mutex_unlock(&r->reload_mu);
        smt_diags_init(&d);
        res = relay_reload(r, "POST /reload", &d);
        pthread_mutex_lock(&r->reload_mu);
        if (r->reload_diags != NULL) {
            for (i = 0; i < d.n; i++) {
                smt_diag(r->reload_diags, NULL, "%s", d.msg[i]);
            }
        }
        smt_diags_fini(&d);
        r->reload_res = res;
        r->reload_gen = r->gen->seq;
        r->reload_done_ticket = ticket;
        r->reload_req = 0;
        pthread_cond_broadcast(&r->reload_cv);
    }
    pthread_mutex_unlock(&r->reload_mu);
    if ((r->inotify_fd >= 0) != (r->xc.reload_watch != 0)) {
        watch_config(r); /* reload.watch changed */
    }
}

/* Starts (reload.watch) or stops watching the pipeline file's directory. */
static void watch_config(struct px_relay *r)
{
    char        dir[4096];
    const char *slash = strrchr(r->opts->config_path, '/');

    if (r->inotify_fd >= 0) {
        close(r->inotify_fd);
        r->inotify_fd = -1;
    }
    if (!r->xc.reload_watch) {
        return;
    }
    if (slash == NULL) {
        snprintf(dir, sizeof(dir), ".");
    } else if (slash == r->opts->config_path) {
        snprintf(dir, sizeof(dir), "/");
    } else {
        snprintf(dir, sizeof(dir), "%.*s",
                 (int)(slash - r->opts->config_path), r->opts->config_path);
    }
    r->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (r->inotify_fd < 0 ||
        (r->inotify_wd = inotify_add_watch(
             r->inotify_fd, dir,
             IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_MODIFY)) < 0) {
        PX_WARN("reload.watch: cannot watch '%s': %s (SIGHUP and POST "
                "/reload still work)", dir, strerror(errno));
        if (r->inotify_fd >= 0) {
            close(r->inotify_fd);
        }
        r->inotify_fd = -1;
        r->xc.reload_watch = 0;
    }
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
    struct sigaction    sa;
    rd_kafka_conf_t    *pconf = NULL;
    char                bootstrap[512];
    int                 i, started = 0, rc;
    long long           left;

    memset(&r, 0, sizeof(r));
    r.opts = opts;
    pthread_mutex_init(&r.fatal_mu, NULL);
    pthread_mutex_init(&r.drain_mu, NULL);
    pthread_mutex_init(&r.breaker_mu, NULL);
    pthread_mutex_init(&r.gen_mu, NULL);
    pthread_mutex_init(&r.reload_mu, NULL);
    pthread_cond_init(&r.reload_cv, NULL);
    pthread_cond_init(&r.drain_cv, NULL);
    r.inotify_fd = -1;
    smt_diags_init(&d);
    r.pc = smt_pipeline_conf_load(opts->config_path, &d);
    if (r.pc == NULL || px_conf_load(&r.xc, r.pc, &d) != 0) {
        print_diags(&d);
        smt_diags_fini(&d);
        smt_pipeline_conf_free((struct smt_pipeline_conf *)r.pc);
        return 2;
    }
    px_log_level = r.xc.log_level;
    px_log_format = r.xc.log_format;
    if (r.pc->topics.n == 0 && r.pc->topic_regex == NULL) {
        fprintf(stderr, "%s: no input topics: set input.topics or "
                        "input.topic.regex\n", opts->config_path);
        smt_pipeline_conf_free((struct smt_pipeline_conf *)r.pc);
        smt_diags_fini(&d);
        return 2;
    }
    smt_breaker_init(&r.breaker, (uint32_t)r.pc->errors.breaker_max_failures,
                     r.pc->errors.breaker_window_ms);

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sa.sa_handler = on_hup;
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    rc = 2;
    if (px_kafka_embedded(r.pc)) {
        if (setup_embedded(&r, bootstrap, sizeof(bootstrap)) != 0) {
            goto out;
        }
    }
    if (start_clients(&r, px_kafka_embedded(r.pc) ? bootstrap : NULL, &pconf,
                      &d) != 0) {
        print_diags(&d);
        goto out;
    }
    r.nworkers = (int)r.xc.workers;
    r.nshards = r.nworkers + 2;
    if (posix_memalign((void **)&r.shards, 64,
                       (size_t)r.nshards * sizeof(*r.shards)) != 0) {
        fprintf(stderr, "smtproxy: out of memory\n");
        abort();
    }
    memset(r.shards, 0, (size_t)r.nshards * sizeof(*r.shards));
    my_shard = &r.shards[r.nworkers]; /* this thread consumes */
    /* a shard per worker, one for the consumer thread */
    px_relay_metrics_init(&r.rm, r.pc, (uint32_t)r.nworkers + 1,
                          (uint32_t)r.xc.admin_max_labels);
    px_metrics_thread(r.rm.m, (uint32_t)r.nworkers);
    px_metrics_on_collect(r.rm.m, metrics_collect, &r);
    if ((r.gen = gen_new(&r, r.pc, &d)) == NULL) {
        print_diags(&d);
        goto out;
    }
    r.workers = smt_xcalloc((size_t)r.nworkers, sizeof(*r.workers));
    for (i = 0; i < r.nworkers; i++) {
        struct px_worker *w = &r.workers[i];

        w->r = &r;
        w->id = i;
        w->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (w->efd < 0) {
            fprintf(stderr, "smtproxy: eventfd: %s\n", strerror(errno));
            r.nworkers = i;
            goto out;
        }
        smt_arena_init(&w->arena, 64 * 1024);
        queue_init(&w->q, (size_t)r.xc.queue_records, w->efd);
        if (start_worker_producer(w, pconf, &d) != 0) {
            print_diags(&d);
            r.nworkers = i + 1;
            goto out;
        }
    }
    for (i = 0; i < r.nworkers; i++) {
        pthread_create(&r.workers[i].thr, NULL, worker_main, &r.workers[i]);
    }
    started = 1;
    if (admin_start(&r) != 0) {
        relay_fatal(&r, "admin endpoint not started");
        r.exit_code = 2;
    } else {
        if (!px_kafka_embedded(r.pc)) {
            create_dlq_topics(&r, r.pc, NULL); /* the embedded cluster made them */
        }
        if (subscribe(&r) != 0) {
            relay_fatal(&r, "could not subscribe");
        }
    }
    PX_INFO("relay '%s' running: %u route(s), %d worker(s)",
            r.pc->name ? r.pc->name : "", r.pc->nroutes, r.nworkers);
    watch_config(&r);

    consume_loop(&r);

    /* Shutdown: stop taking records (done), let the workers finish what
     * they have, wait for every delivery, commit, leave the group. */
    PX_INFO("stopping: draining %lld record(s) in flight",
            inflight_records(&r));
    r.drain_deadline = now_ms() + r.xc.shutdown_ms;
    r.stop_retries = 1;
    for (i = 0; i < r.nworkers; i++) {
        queue_close(&r.workers[i].q);
    }
    /* each worker delivers what it holds, up to the deadline */
    for (i = 0; i < r.nworkers; i++) {
        pthread_join(r.workers[i].thr, NULL);
    }
    started = 0;
    wait_drained(&r, NULL, 0);
    commit_parts(&r, NULL);
    r.stopping = 1;
    left = inflight_records(&r);
    rc = atomic_load(&r.fatal) ? r.exit_code : r.restart ? PX_RELAY_RESTART : 0;
    if (left > 0 && !atomic_load(&r.fatal)) {
        PX_ERR("%lld record(s) not delivered within delivery.shutdown.timeout;"
               " their offsets are not committed", left);
        rc = 1;
    }
    if (rc != 0 && r.fatal_msg[0] != '\0') {
        fprintf(stderr, "smtproxy: %s\n", r.fatal_msg);
    }
out:
    /* before anything its hooks read goes away */
    px_admin_stop(r.admin);
    r.admin = NULL;
    if (r.consumer != NULL) {
        rd_kafka_consumer_close(r.consumer);
    }
    if (started) {
        /* set-up failed after the workers started (subscribe) */
        r.drain_deadline = now_ms();
        r.stop_retries = 1;
        for (i = 0; i < r.nworkers; i++) {
            queue_close(&r.workers[i].q);
        }
        for (i = 0; i < r.nworkers; i++) {
            pthread_join(r.workers[i].thr, NULL);
        }
    }
    stats_file(&r);
    /* The producers go first: anything they still hold refers to inputs,
     * which must outlive their last delivery report. */
    atomic_store(&r.closing, 1);
    for (i = 0; i < r.nworkers; i++) {
        rd_kafka_t *p = r.workers[i].producer;

        if (p != NULL) {
            rd_kafka_purge(p, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
            rd_kafka_poll(p, 0);
            rd_kafka_destroy(p);
        }
    }
    if (pconf != NULL) {
        rd_kafka_conf_destroy(pconf);
    }
    while (r.parts != NULL) {
        part_remove(&r, r.parts);
    }
    sweep_zombies(&r, 1);
    if (r.cq != NULL) {
        rd_kafka_queue_destroy(r.cq); /* no release can wake it any more */
    }
    if (r.consumer != NULL) {
        rd_kafka_destroy(r.consumer);
    }
    if (r.gen != NULL) {
        gen_release(&r, r.gen); /* the last reference: no input is left */
    }
    for (i = 0; i < (int)atomic_load(&r.nrstat); i++) {
        free(r.rstat_name[i]);
    }
    if (r.inotify_fd >= 0) {
        close(r.inotify_fd);
    }
    for (i = 0; i < r.nworkers; i++) {
        struct px_worker *w = &r.workers[i];

        if (w->q.buf != NULL) {
            queue_fini(&w->q);
            smt_arena_fini(&w->arena);
        }
        if (w->efd >= 0) {
            close(w->efd);
        }
        free(w->dfail);
        free(w->resend);
    }
    free(r.workers);
    my_shard = NULL;
    free(r.shards);
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
    px_metrics_thread(NULL, 0);
    px_relay_metrics_fini(&r.rm);
    smt_pipeline_conf_free((struct smt_pipeline_conf *)r.pc);
    smt_diags_fini(&d);
    pthread_mutex_destroy(&r.fatal_mu);
    pthread_mutex_destroy(&r.drain_mu);
    pthread_mutex_destroy(&r.breaker_mu);
    pthread_mutex_destroy(&r.gen_mu);
    pthread_mutex_destroy(&r.reload_mu);
    pthread_cond_destroy(&r.reload_cv);
    smt_breaker_fini(&r.breaker);
    pthread_cond_destroy(&r.drain_cv);
    return rc;
}

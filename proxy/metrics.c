/*
 * metrics.c - the relay's metrics: a small registry of counters, gauges
 * and latency histograms, rendered in the Prometheus text exposition
 * format 0.0.4, and the relay's own families on top of it.
 *
 * The relay moves 100k+ records/s on two cores, so counting must cost
 * next to nothing. Every label set is resolved once (at setup, or the
 * first time a dynamic topic shows up) to a slot: an index into an array
 * of 64-bit cells. Each writer thread owns a shard, a private copy of
 * that array on its own cache lines, and counts with a relaxed load and
 * store (a plain add on x86, no lock prefix, no contended line). A scrape
 * takes the registry lock, sums the shards cell by cell and writes the
 * text; the writers never wait for it. Threads that did not attach a
 * shard (librdkafka's, the HTTP server's) use a shared shard with atomic
 * adds; gauges live there too (set, not added).
 *
 * Dynamic labels (topics that RegexRouter or TimestampRouter make up, or a
 * topic.regex subscription) would grow without bound, so each family caps
 * its series; a label set beyond the cap counts in the family's overflow
 * series, whose dynamic values read "(other)" (a string that cannot be a
 * Kafka topic name, so it never collides with a real one).
 */
#include "px.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PX_M_MAX_FAMILIES 64
#define PX_M_HIST_CELLS (PX_M_NBUCKETS + 2) /* buckets, +Inf, sum */
#define PX_M_SINK 0 /* cells 0 .. PX_M_HIST_CELLS-1: counted, never shown */
#define PX_M_OTHER "(other)"

static const uint64_t bucket_us[PX_M_NBUCKETS] = {
    100,    250,    500,    1000,    2500,    5000,    10000,   25000,
    50000, 100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000};

struct px_mfamily {
    char    *name, *help;
    int      type;
    uint32_t max_series, nseries, ndynamic;
    uint32_t first, last; /* series list, registration order (+1; 0 end) */
};

struct px_mseries {
    uint32_t family;
    uint32_t cell;
    uint32_t next; /* next series of the family (+1; 0 = end) */
    uint32_t hash;
    char    *labels; /* rendered: k="v",k="v" (escaped) */
};

struct px_mshard {
    struct px_metrics *m;
    _Atomic uint64_t  *cells;
};

struct px_metrics {
    pthread_mutex_t     mu;
    struct px_mfamily   fam[PX_M_MAX_FAMILIES];
    uint32_t            nfam;
    struct px_mseries  *series;
    uint32_t            nseries, max_series;
    uint32_t           *index; /* open addressing: series + 1, 0 = empty */
    uint32_t            index_cap;
    uint32_t            ncells, used;
    uint32_t            nshards;
    struct px_mshard   *shards; /* nshards writer shards */
    _Atomic uint64_t   *shared; /* unattached threads, gauges */
    _Atomic uint8_t    *shown;  /* per cell: gauges are hidden until set */
    px_collect_fn       collect;
    void               *collect_opaque;
};

static _Thread_local struct px_mshard *tls_shard;

static _Atomic uint64_t *cells_new(uint32_t n)
{
    /* one allocation per shard, cache-line aligned: shards never share a
     * line, so writers never slow each other down */
    size_t            size = ((size_t)n * sizeof(uint64_t) + 63) & ~(size_t)63;
    _Atomic uint64_t *c = aligned_alloc(64, size);
    uint32_t          i;

    if (c == NULL) {
        abort();
    }
    for (i = 0; i < n; i++) {
        atomic_init(&c[i], 0);
    }
    return c;
}

struct px_metrics *px_metrics_new(uint32_t nthreads, uint32_t ncells)
{
    struct px_metrics *m = smt_xcalloc(1, sizeof(*m));
    uint32_t           i;

    if (ncells < 4 * PX_M_HIST_CELLS) {
        ncells = 4 * PX_M_HIST_CELLS;
    }
    pthread_mutex_init(&m->mu, NULL);
    m->ncells = ncells;
    m->used = PX_M_HIST_CELLS; /* the sink */
    m->max_series = ncells;
    m->series = smt_xcalloc(m->max_series, sizeof(*m->series));
    m->index_cap = 16;
    while (m->index_cap < 2 * m->max_series) {
        m->index_cap *= 2;
    }
    m->index = smt_xcalloc(m->index_cap, sizeof(*m->index));
    m->nshards = nthreads;
    m->shards = smt_xcalloc(nthreads ? nthreads : 1, sizeof(*m->shards));
    for (i = 0; i < nthreads; i++) {
        m->shards[i].m = m;
        m->shards[i].cells = cells_new(ncells);
    }
    m->shared = cells_new(ncells);
    m->shown = smt_xcalloc(ncells, sizeof(*m->shown));
    return m;
}

void px_metrics_free(struct px_metrics *m)
{
    uint32_t i;

    if (m == NULL) {
        return;
    }
    if (tls_shard != NULL && tls_shard->m == m) {
        tls_shard = NULL;
    }
    for (i = 0; i < m->nshards; i++) {
        free((void *)m->shards[i].cells);
    }
    for (i = 0; i < m->nfam; i++) {
        free(m->fam[i].name);
        free(m->fam[i].help);
    }
    for (i = 0; i < m->nseries; i++) {
        free(m->series[i].labels);
    }
    free(m->shards);
    free((void *)m->shared);
    free((void *)m->shown);
    free(m->series);
    free(m->index);
    pthread_mutex_destroy(&m->mu);
    free(m);
}

uint32_t px_metrics_family(struct px_metrics *m, const char *name,
                           const char *help, int type, uint32_t max_series,
                           uint32_t ndynamic)
{
    struct px_mfamily *f;
    uint32_t           idx;

    pthread_mutex_lock(&m->mu);
    if (m->nfam == PX_M_MAX_FAMILIES) {
        /* a fixed set of families is registered by code: a programming
         * error, not an input problem */
        abort();
    }
    idx = m->nfam++;
    f = &m->fam[idx];
    f->name = smt_xstrdup(name);
    f->help = smt_xstrdup(help);
    f->type = type;
    f->max_series = max_series ? max_series : UINT32_MAX;
    f->ndynamic = ndynamic;
    pthread_mutex_unlock(&m->mu);
    return idx;
}

/* Text format 0.0.4 escaping: backslash and newline always, the double
 * quote too in label values (quote = 1), not in HELP text. */
static void escape_text(struct smt_buf *b, const char *s, int quote)
{
    for (; *s != '\0'; s++) {
        if (*s == '\\') {
            smt_buf_adds(b, "\\\\");
        } else if (*s == '"' && quote) {
            smt_buf_adds(b, "\\\"");
        } else if (*s == '\n') {
            smt_buf_adds(b, "\\n");
        } else {
            smt_buf_addc(b, *s);
        }
    }
}

/* Renders labels as k="v",... ; with other, the last ndynamic values are
 * "(other)". Returns a new string. */
static char *labels_text(const char *const *labels, uint32_t ndynamic,
                         int other)
{
    struct smt_buf b;
    uint32_t       n = 0, i;

    smt_buf_init(&b);
    while (labels != NULL && labels[2 * n] != NULL) {
        n++;
    }
    for (i = 0; i < n; i++) {
        if (i > 0) {
            smt_buf_addc(&b, ',');
        }
        smt_buf_adds(&b, labels[2 * i]);
        smt_buf_adds(&b, "=\"");
        escape_text(&b,
                    other && i + ndynamic >= n
                        ? PX_M_OTHER
                        : labels[2 * i + 1] ? labels[2 * i + 1] : "",
                    1);
        smt_buf_addc(&b, '"');
    }
    smt_buf_addc(&b, '\0');
    return b.ptr;
}

static uint32_t series_hash(uint32_t family, const char *labels)
{
    uint32_t h = 2166136261u ^ family;

    for (; *labels != '\0'; labels++) {
        h = (h ^ (uint8_t)*labels) * 16777619u;
    }
    return h;
}

/* Under m->mu: the series of (family, labels), or UINT32_MAX. */
static uint32_t series_find(struct px_metrics *m, uint32_t family,
                            const char *labels, uint32_t h)
{
    uint32_t i = h & (m->index_cap - 1), s;

    while ((s = m->index[i]) != 0) {
        const struct px_mseries *se = &m->series[s - 1];

        if (se->hash == h && se->family == family &&
            strcmp(se->labels, labels) == 0) {
            return s - 1;
        }
        i = (i + 1) & (m->index_cap - 1);
    }
    return UINT32_MAX;
}

/* Under m->mu: adds a series; takes labels. Returns its cell, or the sink
 * when the registry is full. */
static uint32_t series_add(struct px_metrics *m, uint32_t family,
                           char *labels, uint32_t h, int counted)
{
    struct px_mfamily *f = &m->fam[family];
    uint32_t           width = f->type == PX_M_HISTOGRAM ? PX_M_HIST_CELLS : 1;
    uint32_t           s, i;
    struct px_mseries *se;

    if (m->nseries == m->max_series || m->used + width > m->ncells) {
        free(labels);
        return PX_M_SINK;
    }
    s = m->nseries++;
    se = &m->series[s];
    se->family = family;
    se->cell = m->used;
    se->hash = h;
    se->labels = labels;
    se->next = 0;
    m->used += width;
    if (f->last != 0) {
        m->series[f->last - 1].next = s + 1;
    } else {
        f->first = s + 1;
    }
    f->last = s + 1;
    f->nseries += counted ? 1 : 0;
    if (f->type != PX_M_GAUGE) {
        atomic_store(&m->shown[se->cell], 1);
    }
    i = h & (m->index_cap - 1);
    while (m->index[i] != 0) {
        i = (i + 1) & (m->index_cap - 1);
    }
    m->index[i] = s + 1;
    return se->cell;
}

uint32_t px_metrics_series(struct px_metrics *m, uint32_t family,
                           const char *const *labels)
{
    struct px_mfamily *f = &m->fam[family];
    char              *text = labels_text(labels, f->ndynamic, 0);
    uint32_t           h = series_hash(family, text), s, cell;

    pthread_mutex_lock(&m->mu);
    s = series_find(m, family, text, h);
    if (s != UINT32_MAX) {
        cell = m->series[s].cell;
        free(text);
    } else if (f->nseries < f->max_series || f->ndynamic == 0) {
        cell = series_add(m, family, text, h, 1);
    } else {
        /* over the cap: the overflow series (exempt from the cap; there
         * is one per combination of the fixed labels) */
        free(text);
        text = labels_text(labels, f->ndynamic, 1);
        h = series_hash(family, text);
        s = series_find(m, family, text, h);
        if (s != UINT32_MAX) {
            cell = m->series[s].cell;
            free(text);
        } else {
            cell = series_add(m, family, text, h, 0);
        }
    }
    pthread_mutex_unlock(&m->mu);
    return cell;
}

void px_metrics_thread(struct px_metrics *m, uint32_t index)
{
    tls_shard = m != NULL && index < m->nshards ? &m->shards[index] : NULL;
}

void px_metrics_add(struct px_metrics *m, uint32_t slot, uint64_t n)
{
    struct px_mshard *s = tls_shard;

    if (SMT_LIKELY(s != NULL && s->m == m)) {
        /* single writer per shard: no read-modify-write needed */
        atomic_store_explicit(
            &s->cells[slot],
            atomic_load_explicit(&s->cells[slot], memory_order_relaxed) + n,
            memory_order_relaxed);
    } else {
        atomic_fetch_add_explicit(&m->shared[slot], n, memory_order_relaxed);
    }
}

void px_metrics_set(struct px_metrics *m, uint32_t slot, int64_t v)
{
    atomic_store_explicit(&m->shared[slot], (uint64_t)v,
                          memory_order_relaxed);
    if (!atomic_load_explicit(&m->shown[slot], memory_order_relaxed)) {
        atomic_store_explicit(&m->shown[slot], 1, memory_order_relaxed);
    }
}

void px_metrics_hide(struct px_metrics *m, uint32_t slot)
{
    if (slot != PX_M_SINK) {
        atomic_store_explicit(&m->shown[slot], 0, memory_order_relaxed);
    }
}

void px_metrics_observe(struct px_metrics *m, uint32_t slot, uint64_t usec)
{
    uint32_t b = 0;

    while (b < PX_M_NBUCKETS && usec > bucket_us[b]) {
        b++;
    }
    px_metrics_add(m, slot + b, 1);
    px_metrics_add(m, slot + PX_M_NBUCKETS + 1, usec);
}

void px_metrics_on_collect(struct px_metrics *m, px_collect_fn fn,
                           void *opaque)
{
    m->collect = fn;
    m->collect_opaque = opaque;
}

/* Sum of one cell over every shard. */
static uint64_t cell_sum(const struct px_metrics *m, uint32_t cell)
{
    uint64_t v = atomic_load_explicit(&m->shared[cell], memory_order_relaxed);
    uint32_t i;

    for (i = 0; i < m->nshards; i++) {
        v += atomic_load_explicit(&m->shards[i].cells[cell],
                                  memory_order_relaxed);
    }
    return v;
}

static void render_histogram(const struct px_metrics *m,
                             const struct px_mfamily *f,
                             const struct px_mseries *se, struct smt_buf *out)
{
    uint64_t cum = 0, sum;
    uint32_t b;
    char     le[32];
    const char *sep = se->labels[0] ? "," : "";

    for (b = 0; b <= PX_M_NBUCKETS; b++) {
        cum += cell_sum(m, se->cell + b);
        if (b < PX_M_NBUCKETS) {
            snprintf(le, sizeof(le), "%.6g", (double)bucket_us[b] / 1e6);
        } else {
            snprintf(le, sizeof(le), "+Inf");
        }
        smt_buf_printf(out, "%s_bucket{%s%sle=\"%s\"} %llu\n", f->name,
                       se->labels, sep, le, (unsigned long long)cum);
    }
    sum = cell_sum(m, se->cell + PX_M_NBUCKETS + 1);
    /* the count is the +Inf bucket, by construction: one scrape is always
     * consistent with itself even while observations arrive */
    if (se->labels[0]) {
        smt_buf_printf(out, "%s_sum{%s} %.6f\n%s_count{%s} %llu\n", f->name,
                       se->labels, (double)sum / 1e6, f->name, se->labels,
                       (unsigned long long)cum);
    } else {
        smt_buf_printf(out, "%s_sum %.6f\n%s_count %llu\n", f->name,
                       (double)sum / 1e6, f->name, (unsigned long long)cum);
    }
}

void px_metrics_render(struct px_metrics *m, struct smt_buf *out)
{
    static const char *const tnames[] = {"counter", "gauge", "histogram"};
    uint32_t                 i, s;

    if (m->collect != NULL) {
        m->collect(m->collect_opaque, m);
    }
    pthread_mutex_lock(&m->mu);
    for (i = 0; i < m->nfam; i++) {
        const struct px_mfamily *f = &m->fam[i];

        smt_buf_printf(out, "# HELP %s ", f->name);
        escape_text(out, f->help, 0);
        smt_buf_printf(out, "\n# TYPE %s %s\n", f->name, tnames[f->type]);
        for (s = f->first; s != 0; s = m->series[s - 1].next) {
            const struct px_mseries *se = &m->series[s - 1];

            if (!atomic_load_explicit(&m->shown[se->cell],
                                      memory_order_relaxed)) {
                continue;
            }
            if (f->type == PX_M_HISTOGRAM) {
                render_histogram(m, f, se, out);
                continue;
            }
            smt_buf_adds(out, f->name);
            if (se->labels[0]) {
                smt_buf_printf(out, "{%s}", se->labels);
            }
            if (f->type == PX_M_GAUGE) {
                smt_buf_printf(out, " %lld\n",
                               (long long)(int64_t)cell_sum(m, se->cell));
            } else {
                smt_buf_printf(out, " %llu\n",
                               (unsigned long long)cell_sum(m, se->cell));
            }
        }
    }
    pthread_mutex_unlock(&m->mu);
}

/* ---------------------------------------------------------------------- */
/* The relay's metrics */

#define PX_RM_NSTAGES (SMT_STAGE_KAFKA_CONSUME + 1)

static const char *route_name(const struct px_relay_metrics *rm, uint32_t ri)
{
    return ri < rm->pc->nroutes ? rm->pc->routes[ri].name : "";
}

/* The route- and step-labelled series of pc in rm's registry (found when a
 * route or step of the same name already has them). */
static void bind_routes(struct px_relay_metrics *rm,
                        const struct smt_pipeline_conf *pc)
{
    struct px_metrics *m = rm->m;
    uint32_t           r, s, nsteps = 0;

    rm->pc = pc;
    rm->max_steps = 0;
    for (r = 0; r < pc->nroutes; r++) {
        nsteps += pc->routes[r].chain.n;
        if (pc->routes[r].chain.n > rm->max_steps) {
            rm->max_steps = pc->routes[r].chain.n;
        }
    }
    rm->dlq = smt_xcalloc(pc->nroutes + 1, sizeof(*rm->dlq));
    for (r = 0; r <= pc->nroutes; r++) {
        const struct smt_errors_conf *ec =
            smt_route_errors(pc, r < pc->nroutes ? &pc->routes[r] : NULL);
        const char *l[] = {"route", route_name(rm, r), "topic",
                           ec->dlq_topic ? ec->dlq_topic : "", NULL};

        rm->dlq[r] = ec->dlq_topic != NULL && ec->dlq_topic[0] != '\0'
                         ? px_metrics_series(m, rm->f_dlq, l)
                         : PX_M_SINK;
    }
    rm->step_base = smt_xcalloc(pc->nroutes + 1, sizeof(*rm->step_base));
    rm->filtered = smt_xcalloc(nsteps + 1, sizeof(*rm->filtered));
    nsteps = 0;
    for (r = 0; r < pc->nroutes; r++) {
        rm->step_base[r] = nsteps;
        for (s = 0; s < pc->routes[r].chain.n; s++) {
            const char *l[] = {"route", route_name(rm, r), "step",
                               pc->routes[r].chain.steps[s].id, NULL};

            rm->filtered[nsteps++] = px_metrics_series(m, rm->f_filtered, l);
        }
    }
    rm->err_slots = smt_xcalloc((size_t)(pc->nroutes + 1) *
                                    (rm->max_steps + 1) * PX_RM_NSTAGES,
                                sizeof(*rm->err_slots));
}

int px_relay_metrics_init(struct px_relay_metrics *rm,
                          const struct smt_pipeline_conf *pc,
                          uint32_t nthreads, uint32_t max_labels)
{
    struct px_metrics *m;
    uint32_t           r, nsteps = 0, cells;

    memset(rm, 0, sizeof(*rm));
    rm->pc = pc;
    rm->max_labels = max_labels ? max_labels : 200;
    for (r = 0; r < pc->nroutes; r++) {
        nsteps += pc->routes[r].chain.n;
        if (pc->routes[r].chain.n > rm->max_steps) {
            rm->max_steps = pc->routes[r].chain.n;
        }
    }
    /* room for: static series, topic families at their caps (in, out per
     * route, lag), the errors table, a histogram, and slack */
    cells = 64 + nsteps + 2 * (pc->nroutes + 1) +
            rm->max_labels * (pc->nroutes + 4) +
            (pc->nroutes + 1) * (rm->max_steps + 1) * PX_RM_NSTAGES +
            2 * PX_M_HIST_CELLS +
            4096; /* routes and steps a reload adds */
    m = rm->m = px_metrics_new(nthreads, cells);

    rm->f_in = px_metrics_family(m, "smtproxy_records_in_total",
                                 "Records consumed, per input topic.",
                                 PX_M_COUNTER, rm->max_labels, 1);
    rm->f_out = px_metrics_family(
        m, "smtproxy_records_out_total",
        "Records delivered (acknowledged by Kafka), per route and topic; "
        "route \"\" is the unrouted topic.",
        PX_M_COUNTER, rm->max_labels * (pc->nroutes + 1), 1);
    rm->f_filtered = px_metrics_family(
        m, "smtproxy_records_filtered_total",
        "Records a step dropped (Filter and the like), per route and step.",
        PX_M_COUNTER, 0, 0);
    rm->f_errors = px_metrics_family(
        m, "smtproxy_errors_total",
        "Failed records, per Kafka Connect stage, route and step (\"\" when "
        "none).",
        PX_M_COUNTER, 0, 0);
    rm->f_dlq = px_metrics_family(
        m, "smtproxy_dlq_records_total",
        "Records written to a dead letter queue, per route (\"\": unrouted) "
        "and DLQ topic.",
        PX_M_COUNTER, 0, 0);
    rm->f_unrouted = px_metrics_family(
        m, "smtproxy_unrouted_records_total",
        "Records no route's condition took.", PX_M_COUNTER, 0, 0);
    rm->f_reloads = px_metrics_family(
        m, "smtproxy_reloads_total", "Configuration reloads, per result.",
        PX_M_COUNTER, 0, 0);
    rm->f_lag = px_metrics_family(
        m, "smtproxy_consumer_lag_records",
        "High watermark minus the next offset to commit, per assigned "
        "partition (records not yet fully delivered or not yet fetched).",
        PX_M_GAUGE, rm->max_labels, 2);
    rm->f_inflight_records = px_metrics_family(
        m, "smtproxy_inflight_records",
        "Input records consumed and not yet fully delivered.", PX_M_GAUGE, 0,
        0);
    rm->f_inflight_bytes = px_metrics_family(
        m, "smtproxy_inflight_bytes", "Bytes of the in-flight input records.",
        PX_M_GAUGE, 0, 0);
    rm->f_latency = px_metrics_family(
        m, "smtproxy_processing_latency_seconds",
        "Time from consuming a record to the delivery report of an output "
        "derived from it.",
        PX_M_HISTOGRAM, 0, 0);
    rm->f_outq = px_metrics_family(
        m, "smtproxy_producer_queue_messages",
        "Messages in the producer's queue awaiting delivery "
        "(rd_kafka_outq_len).",
        PX_M_GAUGE, 0, 0);
    rm->f_kicks = px_metrics_family(
        m, "smtproxy_fetch_kicks_total",
        "Partitions asked to fetch again after the consumer's prefetch queue "
        "ran dry while full (docs/operations.md, sizing).",
        PX_M_COUNTER, 0, 0);
    rm->f_pauses = px_metrics_family(
        m, "smtproxy_flow_pauses_total",
        "Times consumption paused because the records or bytes in flight "
        "reached their cap (limits.max.inflight.*).",
        PX_M_COUNTER, 0, 0);

    rm->unrouted = px_metrics_series(m, rm->f_unrouted, NULL);
    {
        const char *ok[] = {"result", "ok", NULL};
        const char *bad[] = {"result", "error", NULL};

        rm->reload_ok = px_metrics_series(m, rm->f_reloads, ok);
        rm->reload_error = px_metrics_series(m, rm->f_reloads, bad);
    }
    rm->inflight_records = px_metrics_series(m, rm->f_inflight_records, NULL);
    rm->inflight_bytes = px_metrics_series(m, rm->f_inflight_bytes, NULL);
    rm->latency = px_metrics_series(m, rm->f_latency, NULL);
    rm->outq = px_metrics_series(m, rm->f_outq, NULL);
    rm->kicks = px_metrics_series(m, rm->f_kicks, NULL);
    rm->pauses = px_metrics_series(m, rm->f_pauses, NULL);

    bind_routes(rm, pc);
    return 0;
}

void px_relay_metrics_bind(struct px_relay_metrics *rm,
                           const struct px_relay_metrics *base,
                           const struct smt_pipeline_conf *pc, uint64_t seq)
{
    *rm = *base;
    rm->seq = seq;
    bind_routes(rm, pc);
}

void px_relay_metrics_unbind(struct px_relay_metrics *rm)
{
    free(rm->dlq);
    free(rm->filtered);
    free(rm->step_base);
    free(rm->err_slots);
    rm->dlq = rm->filtered = rm->step_base = NULL;
    rm->err_slots = NULL;
}

void px_relay_metrics_fini(struct px_relay_metrics *rm)
{
    px_metrics_free(rm->m);
    px_relay_metrics_unbind(rm);
    memset(rm, 0, sizeof(*rm));
}

uint32_t px_rm_in_slot(struct px_relay_metrics *rm, const char *topic)
{
    const char *l[] = {"topic", topic, NULL};

    return px_metrics_series(rm->m, rm->f_in, l);
}

uint32_t px_rm_lag_slot(struct px_relay_metrics *rm, const char *topic,
                        int32_t partition)
{
    char        num[16];
    const char *l[] = {"topic", topic, "partition", num, NULL};

    snprintf(num, sizeof(num), "%d", (int)partition);
    return px_metrics_series(rm->m, rm->f_lag, l);
}

/* Per-thread cache of (route, topic) -> slot for delivered outputs. The key
 * is the caller's cheap identity of the topic (its rd_kafka_topic_t); the
 * name is compared too, so a handle freed and reused for another topic
 * never counts under the old name. */
#define PX_OUT_CACHE 64

struct out_cache_ent {
    const struct px_metrics *m;
    uint64_t                 seq;
    const void              *key;
    uint32_t                 route, cell;
    char                     name[120];
};

static _Thread_local struct out_cache_ent out_cache[PX_OUT_CACHE];

void px_rm_count_out(struct px_relay_metrics *rm, uint32_t route_index,
                     const void *key, const char *topic)
{
    uintptr_t             k = (uintptr_t)key;
    struct out_cache_ent *e =
        &out_cache[((k >> 4) ^ (k >> 12) ^ route_index) % PX_OUT_CACHE];
    const char           *l[] = {"route", route_name(rm, route_index),
                                 "topic", topic, NULL};

    if (e->m != rm->m || e->seq != rm->seq || e->key != key ||
        e->route != route_index ||
        strcmp(e->name, topic) != 0) {
        e->cell = px_metrics_series(rm->m, rm->f_out, l);
        if (strlen(topic) < sizeof(e->name)) {
            e->m = rm->m;
            e->seq = rm->seq;
            e->key = key;
            e->route = route_index;
            memcpy(e->name, topic, strlen(topic) + 1);
        } else {
            e->m = NULL; /* too long to cache: the slow path every time */
        }
    }
    px_metrics_add(rm->m, e->cell, 1);
}

void px_rm_count_error(struct px_relay_metrics *rm, uint32_t route_index,
                       uint32_t step_no, int stage)
{
    size_t       i;
    uint32_t     cell;
    const char  *step = "";
    _Atomic uint32_t *slots = rm->err_slots;

    if (route_index > rm->pc->nroutes) {
        route_index = rm->pc->nroutes;
    }
    if (route_index == rm->pc->nroutes ||
        step_no > rm->pc->routes[route_index].chain.n) {
        step_no = 0;
    }
    if (stage < 0 || stage >= PX_RM_NSTAGES) {
        stage = SMT_STAGE_NONE;
    }
    i = ((size_t)route_index * (rm->max_steps + 1) + step_no) *
            PX_RM_NSTAGES +
        (size_t)stage;
    cell = atomic_load_explicit(&slots[i], memory_order_relaxed);
    if (cell == 0) {
        /* the first failure of this kind: resolve its series (idempotent,
         * so two threads racing here get the same cell) */
        const char *l[] = {"stage", smt_stage_name(stage), "route",
                           route_name(rm, route_index), "step", step, NULL};

        if (step_no > 0) {
            l[5] = rm->pc->routes[route_index].chain.steps[step_no - 1].id;
        }
        cell = px_metrics_series(rm->m, rm->f_errors, l);
        atomic_store_explicit(&slots[i], cell, memory_order_relaxed);
    }
    px_metrics_add(rm->m, cell, 1);
}

void px_rm_count_dlq(struct px_relay_metrics *rm, uint32_t route_index)
{
    if (route_index > rm->pc->nroutes) {
        route_index = rm->pc->nroutes;
    }
    px_metrics_add(rm->m, rm->dlq[route_index], 1);
}

/*
 * px.h - the daemon's internal interfaces: its own configuration sections,
 * librdkafka configuration, logging, and the relay.
 *
 * smt/ knows nothing of Kafka; everything that touches librdkafka lives in
 * proxy/. The relay converts rd_kafka_message_t to struct smt_record views
 * (no copy), runs smt_pipeline_process() on worker threads and produces
 * what comes out.
 */
#ifndef PX_H
#define PX_H

#include "smt.h"

#include <librdkafka/rdkafka.h>

/* ---------------------------------------------------------------------- */
/* Logging (stderr, one line per event, never a secret). */

enum { PX_LOG_ERROR = 0, PX_LOG_WARN, PX_LOG_INFO, PX_LOG_DEBUG };

extern int px_log_level;

/* log.format: text lines, or one JSON object per line
 * ({"ts":..,"level":..,"msg":..}). */
enum { PX_LOG_TEXT = 0, PX_LOG_JSON };

extern int px_log_format;

void px_log(int level, const char *fmt, ...) SMT_PRINTF(2, 3);

#define PX_ERR(...) px_log(PX_LOG_ERROR, __VA_ARGS__)
#define PX_WARN(...) px_log(PX_LOG_WARN, __VA_ARGS__)
#define PX_INFO(...)                                                          \
    do {                                                                      \
        if (px_log_level >= PX_LOG_INFO) {                                    \
            px_log(PX_LOG_INFO, __VA_ARGS__);                                 \
        }                                                                     \
    } while (0)
#define PX_DBG(...)                                                           \
    do {                                                                      \
        if (px_log_level >= PX_LOG_DEBUG) {                                   \
            px_log(PX_LOG_DEBUG, __VA_ARGS__);                                \
        }                                                                     \
    } while (0)

/* ---------------------------------------------------------------------- */
/* The daemon's sections of the pipeline file (workers, limits, delivery,
 * log). smt/ accepts and keeps them; proxy/pxconf.c validates them, also
 * for `smtproxy check`. */

struct px_conf {
    int64_t workers;          /* worker threads; 0 = one per core */
    int64_t max_records;      /* limits.max.inflight.records */
    int64_t max_bytes;        /* limits.max.inflight.bytes */
    int64_t queue_records;    /* limits.worker.queue.records */
    int64_t shutdown_ms;      /* delivery.shutdown.timeout */
    int64_t commit_ms;        /* delivery.commit.interval */
    int64_t revoke_ms;        /* delivery.revoke.timeout */
    int     log_level;        /* log.level */
    int64_t stats_ms;         /* log.stats.interval; 0 = off */
    int     embedded_partitions; /* partitions of topics the embedded cluster creates */
    int     log_format;       /* log.format: PX_LOG_TEXT / PX_LOG_JSON */
    int     admin_enable;     /* admin.enable */
    char    admin_listen[256]; /* admin.listen */
    int64_t admin_max_conns;  /* admin.max.connections */
    int64_t admin_max_labels; /* admin.metrics.max.topics */
    int     reload_watch;     /* reload.watch */
    int64_t reload_debounce_ms; /* reload.debounce */
};

/** The daemon's sections of the pipeline file (workers, limits,
 *  delivery, log, admin ...) with their option tables, for the generated
 *  reference (`smtproxy options`, docs/config.md); ends with {NULL}. A new
 *  section table in proxy/kafka.c must be added here. */
extern const struct smt_conf_section px_conf_sections[];

/** Loads and checks the daemon's sections of pc (defaults for absent
 *  ones). Errors go to d with file:line:col. Returns 0 or -1. */
int px_conf_load(struct px_conf *xc, const struct smt_pipeline_conf *pc,
                 struct smt_diags *d);

/** Builds the librdkafka configuration of the consumer (which = 0) or the
 *  producer (1): our defaults, then `kafka:`, then `consumer:`/`producer:`.
 *  bootstrap overrides bootstrap.servers when not NULL (the embedded
 *  cluster). A property librdkafka rejects is an error (never a warning),
 *  reported with its position; a secret's value is never printed. Returns
 *  a new conf (the caller passes it to rd_kafka_new or destroys it), or
 *  NULL with diagnostics. */
rd_kafka_conf_t *px_kafka_conf(const struct smt_pipeline_conf *pc,
                               const struct px_conf *xc, int which,
                               const char *bootstrap, struct smt_diags *d);

/** True when the pipeline asks for the embedded mock cluster
 *  (bootstrap.servers: embedded). */
int px_kafka_embedded(const struct smt_pipeline_conf *pc);

/* ---------------------------------------------------------------------- */
/* The relay */

struct px_run_opts {
    const char *config_path;
    int         progress;    /* progress line on stderr */
    const char *stats_file;  /* write a JSON stats snapshot here, or NULL */
    const char *bootstrap_file; /* embedded: write the bootstrap address here */
};

/** Runs the relay until SIGTERM/SIGINT (drain, commit, exit 0), a fatal
 *  error, or a record failure under errors.tolerance=none (exit 1 without
 *  committing past it). Returns the process exit status. */
/** What px_relay_run() returns after a reload changed the Kafka settings:
 *  it has drained, committed and left the group; run it again. */
#define PX_RELAY_RESTART 100

int px_relay_run(const struct px_run_opts *opts);

/* ---------------------------------------------------------------------- */
/* Metrics (proxy/metrics.c)
 *
 * A registry of metric families (counter, gauge, histogram) and their
 * series (one per label set), rendered in the Prometheus text format
 * 0.0.4. A series is resolved once, at setup, to a slot (a cell index);
 * counting is then one relaxed load and store on a cell of the calling
 * thread's own shard: no lock, no string work, no shared cache line. A
 * scrape sums the shards. Threads that never attached (px_metrics_thread)
 * count with an atomic add on a shared shard. */

enum px_mtype { PX_M_COUNTER = 0, PX_M_GAUGE, PX_M_HISTOGRAM };

/* Latency buckets of every histogram (upper bounds in microseconds, log
 * spaced 1-2.5-5 from 100 us to 10 s; +Inf comes after). */
#define PX_M_NBUCKETS 16

struct px_metrics;

/** Called at the start of every scrape (on the scraping thread), before
 *  rendering: sets gauges and externally counted values. */
typedef void (*px_collect_fn)(void *opaque, struct px_metrics *m);

/** Makes a registry for nthreads attached writer threads (shards 0 ..
 *  nthreads-1) with room for ncells values (a counter or gauge series
 *  takes one, a histogram series PX_M_NBUCKETS + 2). Returns a new object,
 *  free with px_metrics_free(). */
struct px_metrics *px_metrics_new(uint32_t nthreads, uint32_t ncells);
void px_metrics_free(struct px_metrics *m);

/** Adds a family. name is the full metric name (counters end in _total);
 *  max_series caps its series; beyond it a new label set counts in the
 *  family's overflow series, whose last ndynamic label values are
 *  "(other)". Returns the family index (abort beyond 64 families). */
uint32_t px_metrics_family(struct px_metrics *m, const char *name,
                           const char *help, int type, uint32_t max_series,
                           uint32_t ndynamic);

/** The slot of the series of family with labels ("key", "value", ...,
 *  NULL; labels may be NULL for none), created on first use. Thread-safe
 *  (takes the registry's lock: call it at setup or on a rare path, never
 *  per record). Never fails: over the family's cap it is the overflow
 *  series, and when the registry is full a slot nothing renders. */
uint32_t px_metrics_series(struct px_metrics *m, uint32_t family,
                           const char *const *labels);

/** Attaches the calling thread to shard index (< nthreads): from then on
 *  only this thread may count on that shard. index >= nthreads, or m NULL,
 *  detaches it (it counts on the shared shard). */
void px_metrics_thread(struct px_metrics *m, uint32_t index);

/** Adds n to a counter slot. */
void px_metrics_add(struct px_metrics *m, uint32_t slot, uint64_t n);
/** Sets a gauge (or an externally counted counter) to v; a gauge is shown
 *  from its first set on. */
void px_metrics_set(struct px_metrics *m, uint32_t slot, int64_t v);
/** Hides a gauge series until its next set (a revoked partition's lag). */
void px_metrics_hide(struct px_metrics *m, uint32_t slot);
/** Records one observation (microseconds) in a histogram slot. */
void px_metrics_observe(struct px_metrics *m, uint32_t slot, uint64_t usec);

void px_metrics_on_collect(struct px_metrics *m, px_collect_fn fn,
                           void *opaque);

/** Appends the exposition text (collect callback first) to out. */
void px_metrics_render(struct px_metrics *m, struct smt_buf *out);

/** The relay's metrics: families and the series known at setup. Slots of
 *  series with dynamic labels (topics) come from the px_rm_* functions. */
struct px_relay_metrics {
    struct px_metrics *m;
    const struct smt_pipeline_conf *pc;
    uint32_t  max_labels;
    uint32_t  f_in, f_out, f_filtered, f_errors, f_dlq, f_unrouted,
        f_reloads, f_lag, f_inflight_records, f_inflight_bytes, f_latency,
        f_outq, f_kicks, f_pauses;
    uint32_t  unrouted, reload_ok, reload_error, inflight_records,
        inflight_bytes, latency, outq, kicks, pauses;
    uint32_t *dlq;          /* per route index 0..nroutes (unrouted) */
    uint32_t *filtered;     /* route r step s: filtered[step_base[r] + s] */
    uint32_t *step_base;    /* per route, into filtered */
    uint32_t  max_steps;    /* longest chain */
    _Atomic uint32_t *err_slots; /* errors, resolved on first use */
    uint64_t  seq;          /* which configuration generation (caches) */
};

/** Registers the relay's families and static series for pc (routes, steps,
 *  DLQ topics) with nthreads writer shards; max_labels caps each family
 *  with topic labels. Returns 0 (aborts on OOM only). */
int px_relay_metrics_init(struct px_relay_metrics *rm,
                          const struct smt_pipeline_conf *pc,
                          uint32_t nthreads, uint32_t max_labels);
void px_relay_metrics_fini(struct px_relay_metrics *rm);
/** A view of base's registry bound to pc (a reloaded configuration): the
 *  same families and static series, pc's route and step series (found when
 *  they exist under the same names, so their counts carry on). seq tells
 *  the views apart in per-thread caches. Undo with px_relay_metrics_unbind
 *  (the registry stays base's). */
void px_relay_metrics_bind(struct px_relay_metrics *rm,
                           const struct px_relay_metrics *base,
                           const struct smt_pipeline_conf *pc, uint64_t seq);
void px_relay_metrics_unbind(struct px_relay_metrics *rm);

/** The records-in slot of an input topic (resolve once per partition). */
uint32_t px_rm_in_slot(struct px_relay_metrics *rm, const char *topic);
/** The consumer-lag gauge slot of a partition. */
uint32_t px_rm_lag_slot(struct px_relay_metrics *rm, const char *topic,
                        int32_t partition);
/** Counts one delivered output of route_index (nroutes: unrouted topic)
 *  to topic. key identifies the topic cheaply (its rd_kafka_topic_t):
 *  a per-thread cache maps (key, route) to the slot, checked against the
 *  name, so a hit costs no lock and no allocation. */
void px_rm_count_out(struct px_relay_metrics *rm, uint32_t route_index,
                     const void *key, const char *topic);
/** Counts one failure at stage of route_index (nroutes: none) and step
 *  step_no (0: none, i + 1: step i of the route's chain). */
void px_rm_count_error(struct px_relay_metrics *rm, uint32_t route_index,
                       uint32_t step_no, int stage);
/** Counts one DLQ record of route_index (nroutes: unrouted/none). */
void px_rm_count_dlq(struct px_relay_metrics *rm, uint32_t route_index);

/* ---------------------------------------------------------------------- */
/* Admin endpoint (proxy/admin.c): GET /metrics /healthz /readyz /config,
 * POST /reload, on libmicrohttpd's internal threads. It reads the relay
 * only through these hooks, so it runs (and is tested) without Kafka. */

enum px_reload_result {
    PX_RELOAD_OK = 0,      /* 200 */
    PX_RELOAD_INVALID,     /* 422: the new config has errors (in d) */
    PX_RELOAD_CONFLICT,    /* 409: cannot reload now (in d) */
};

struct px_admin_hooks {
    void *opaque;
    /** 1 when alive; else 0 with a reason (NULL hook: always alive). */
    int (*healthy)(void *opaque, char *reason, size_t size);
    /** 1 when ready for traffic; else 0 with a reason. */
    int (*ready)(void *opaque, char *reason, size_t size);
    /** The running config as JSON, secrets redacted: a new string (freed
     *  with free()), or NULL. */
    char *(*config)(void *opaque);
    /** Reloads the config; errors go to d, the generation now running to
     *  *generation (0: unknown). NULL: reload unsupported (501). */
    enum px_reload_result (*reload)(void *opaque, struct smt_diags *d,
                                    uint64_t *generation);
};

struct px_admin;

/** Starts the endpoint on addr ("host:port", "[v6]:port" or ":port";
 *  port 0 = any free one) with at most max_conns connections. m and the
 *  hooks are borrowed until px_admin_stop(). Returns a new server, or NULL
 *  with err. */
struct px_admin *px_admin_start(const char *addr, uint32_t max_conns,
                                struct px_metrics *m,
                                const struct px_admin_hooks *hooks,
                                struct smt_err *err);
/** The bound port (useful with port 0). */
unsigned px_admin_port(const struct px_admin *a);
/** Stops the server (waits for its threads). NULL is a no-op. */
void px_admin_stop(struct px_admin *a);

/** A config tree as JSON with secrets redacted: every value flagged
 *  secret by the loader (${ENV}, secret-looking keys) and everything under
 *  a key naming a password, secret, token, credentials, sasl.jaas.config,
 *  ssl.key* or basic.auth.user.info becomes "[redacted]". Plain scalars
 *  that are JSON numbers, booleans or null are written bare. Returns a new
 *  string, free with free(). */
char *px_config_json(const struct smt_cnode *root);

/* ---------------------------------------------------------------------- */
/* Pipeline tests (`smtproxy test`, proxy/ptest.c) */

/** Runs the test files cases[0..ncases) against the pipeline in config,
 *  printing "ok"/"FAIL" per case with a diff, then "N passed, N failed".
 *  Returns the exit status: 0 all passed, 1 a case failed, 2 the pipeline
 *  or a test file is broken (problems on stderr as file:line:col). */
int px_test_run(const char *config, const char *const *cases, int ncases);

/** The test file that goes with config by convention: the same path with
 *  the extension replaced by ".test.yaml". Returns a new string (free()). */
char *px_test_default_cases(const char *config);

#endif /* PX_H */

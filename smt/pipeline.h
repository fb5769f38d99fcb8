/*
 * pipeline.h - a whole pipeline: input formats, ordered routes (condition,
 * chain, destination), what happens to unrouted records, the Connect
 * `errors.*` block, and the Kafka settings the daemon passes through.
 *
 * The configuration (struct smt_pipeline_conf) is loaded once and is
 * immutable; each worker makes its own runtime (struct smt_pipeline) from
 * it. smt_pipeline_process() is the one code path that both `smtproxy
 * apply` and the daemon run for every input record.
 */
#ifndef SMT_PIPELINE_H
#define SMT_PIPELINE_H

#include "transform.h"

/** A flat string map (Kafka client properties), in config order. */
struct smt_kv {
    uint32_t n;
    char   **k;
    char   **v;
    uint8_t *secret; /* 1 = never print the value */
    const struct smt_cnode **at; /* positions, for errors */
};

enum smt_unrouted { SMT_UNROUTED_DROP = 0, SMT_UNROUTED_DLQ, SMT_UNROUTED_TOPIC };
enum smt_tolerance { SMT_TOL_NONE = 0, SMT_TOL_ALL };

/** Connect's errors.* keys (a route may override the pipeline's). */
struct smt_errors_conf {
    int     tolerance;        /* enum smt_tolerance; default none */
    int64_t retry_timeout_ms; /* errors.retry.timeout, -1 forever */
    int64_t retry_delay_max_ms;
    int     log_enable;
    int     log_include_messages;
    char   *dlq_topic;        /* NULL/empty = no DLQ */
    int64_t dlq_replication_factor;
    int     dlq_context_headers;
    /* ours, pipeline-wide only: more than breaker_max_failures failures
     * within breaker_window_ms stop the pipeline; 0 = no breaker */
    int64_t breaker_max_failures;
    int64_t breaker_window_ms;
};

struct smt_route_conf {
    char                 *name;
    struct smt_cond      *cond;   /* NULL = every record */
    struct smt_chain_conf chain;
    char                 *topic;  /* NULL = the record's topic after the chain */
    int                   has_errors; /* errors overridden for this route */
    struct smt_errors_conf errors;
};

struct smt_pipeline_conf {
    struct smt_arena        arena; /* every string and conf below */
    struct smt_ctree       *tree;  /* the source document (kept for positions) */
    char                   *name;  /* pipeline name (Connect's connector name) */
    /* input */
    struct smt_strlist      topics;
    char                   *topic_regex;
    int                     key_fmt, value_fmt; /* enum smt_format */
    /* routes */
    uint32_t                nroutes;
    struct smt_route_conf  *routes;
    int                     unrouted;       /* enum smt_unrouted */
    char                   *unrouted_topic;
    struct smt_errors_conf  errors;
    /* Kafka settings, passed through verbatim to librdkafka by the daemon */
    struct smt_kv           kafka, consumer, producer;
    /* anything else a later part of the daemon reads (admin, workers ...) */
    const struct smt_cnode *extra;
    /* Avro: schema registry and/or local schemas with their caches
     * (avro.h), shared by every worker; NULL unless a format is avro. */
    struct smt_codec       *codec;
};

/** One section of the pipeline file, for the generated reference
 *  (`smtproxy options`, docs/config.md): its key, a paragraph of prose and
 *  its option table, NULL for a section whose keys are not options (a
 *  pass-through property map, a list). Tables listed here are the ones the
 *  loader uses, so the reference cannot drift from what is accepted. */
struct smt_conf_section {
    const char           *key;  /* "input", "routes[].errors", ... */
    const char           *doc;  /* markdown prose, may be several sentences */
    const struct smt_opt *opts; /* {0}-terminated, or NULL */
};

/** The sections smt/ loads, in file order; ends with a {NULL} entry. A new
 *  section table in pipeline_conf.c must be added here. The daemon's own
 *  sections are px_conf_sections (proxy/px.h). */
extern const struct smt_conf_section smt_pipeline_sections[];

/** Loads a pipeline: a YAML file, or a Kafka Connect connector config
 *  (.properties, or .json of the REST API) which becomes a one-route
 *  pipeline. Every error found (not only the first) is added to d with
 *  file:line:col. Returns a new conf (free with smt_pipeline_conf_free()),
 *  or NULL. */
struct smt_pipeline_conf *smt_pipeline_conf_load(const char *path,
                                                 struct smt_diags *d);
/** Same from a YAML buffer (tests, fuzzing). */
struct smt_pipeline_conf *smt_pipeline_conf_load_yaml(const char *name,
                                                      const char *buf,
                                                      size_t len,
                                                      struct smt_diags *d);
/** Same from a Kafka Connect connector config in a buffer (.properties
 *  text, or REST JSON when it starts with '{'); tests and the Connect
 *  vectors. Input topics are optional here. */
struct smt_pipeline_conf *smt_pipeline_conf_load_connect(const char *name,
                                                         const char *buf,
                                                         size_t len,
                                                         struct smt_diags *d);
void smt_pipeline_conf_free(struct smt_pipeline_conf *pc);

/** The errors block that governs route (the pipeline's for NULL: unrouted
 *  records, or a route that overrides nothing). */
static inline const struct smt_errors_conf *
smt_route_errors(const struct smt_pipeline_conf *pc,
                 const struct smt_route_conf *route)
{
    return route != NULL && route->has_errors ? &route->errors : &pc->errors;
}

/** What happened to one input record in one route (or unrouted). */
enum smt_outcome {
    SMT_OUT_RECORD = 1, /* a record for rec.topic */
    SMT_OUT_DROP,       /* the route's chain filtered it out */
    SMT_OUT_FAIL,       /* the route failed: err, stage, step */
    SMT_OUT_UNROUTED,   /* no route's condition took the record */
};

struct smt_output {
    int                          outcome; /* enum smt_outcome */
    const struct smt_route_conf *route;   /* NULL for UNROUTED */
    uint32_t                     route_index;
    struct smt_record           *rec;     /* RECORD: the output, encoded */
    const struct smt_record     *in;      /* the input record, untouched */
    const struct smt_inst       *step;    /* FAIL: the failing step, or NULL */
    const struct smt_err        *err;     /* FAIL */
    /* RECORD: this record's index among the route's records for this input
     * and their count: 0 and 1 unless a step split the record (1->N,
     * transform.h); then the route emits npieces RECORD outputs in order,
     * or one FAIL (no records) when any of them failed. */
    uint32_t                     piece, npieces;
    /* FAIL: the failure was retriable and its retries were cut short by
     * the pipeline's cancel flag (the owner is stopping): not a failure to
     * report, the record is simply not done */
    uint8_t                      cancelled;
};

typedef void (*smt_emit_fn)(void *opaque, const struct smt_output *out);

struct smt_pipeline {
    const struct smt_pipeline_conf *conf;
    uint32_t                        nroutes;
    struct smt_chain              **chains; /* one per route */
    /* Set by the owner (NULL: never): when *cancel becomes non-zero, a
     * route waiting to retry a retriable failure stops waiting and fails
     * with it (Connect: shutdown interrupts the retry). */
    const volatile int             *cancel;
};

/** Instantiates the pipeline for one worker. Returns NULL with err. */
struct smt_pipeline *smt_pipeline_new(const struct smt_pipeline_conf *pc,
                                      struct smt_err *err);
void smt_pipeline_free(struct smt_pipeline *pl);

/** Runs one input record through every route, in route order, calling emit
 *  once per outcome (records, drops, failures, unrouted; a route whose
 *  chain split the record emits one RECORD per resulting record). A key or value
 *  that does not decode is reported once, by the first route that needed
 *  it; later routes that need it emit nothing for this record. Outputs live
 *  in in->arena and are valid until it is reset. in is not changed. */
void smt_pipeline_process(struct smt_pipeline *pl, struct smt_record *in,
                          smt_emit_fn emit, void *opaque);

/** Connect's "executing class" of a FAIL output, as the DLQ's
 *  __connect.errors.class.name and the error log name it: the failing
 *  step's transform class; for a key/value that does not decode or encode,
 *  the converter of its format (JsonConverter, StringConverter,
 *  ByteArrayConverter, AvroConverter); "smtproxy.condition" for a route
 *  condition. buf holds a step's class name. */
const char *smt_failure_class(const struct smt_pipeline_conf *pc,
                              const struct smt_output *o, char *buf,
                              size_t size);

#endif /* SMT_PIPELINE_H */

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
};

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
int px_relay_run(const struct px_run_opts *opts);

#endif /* PX_H */

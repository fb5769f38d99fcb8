/*
 * kafka.c - the daemon's configuration: its own sections (workers, limits,
 * delivery, log) and the librdkafka configuration of the consumer and the
 * producer, plus the log function.
 *
 * Kafka client properties pass through verbatim (`kafka:` to both clients,
 * `consumer:` / `producer:` to one), after our defaults, so a user can
 * change any of them; a property librdkafka rejects fails the config with
 * its file:line:col (wart 3 of STYLE.md: never a warning). One setting
 * the relay's correctness depends on cannot be overridden:
 * enable.auto.offset.store stays false, because an offset is stored only
 * when every record derived from it is acknowledged. Our defaults: the
 * consumer group is the pipeline's name, cooperative-sticky assignment,
 * earliest reset for a new group, stored offsets auto-committed every
 * delivery.commit.interval; an idempotent producer with Java's murmur2
 * partitioner.
 */
#include "px.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

/* ---------------------------------------------------------------------- */
/* Log */

int px_log_level = PX_LOG_INFO;
int px_log_format = PX_LOG_TEXT;

/* Appends s to line[*n..size) as the inside of a JSON string. */
static void json_escape_into(char *line, size_t size, size_t *n, const char *s)
{
    static const char hex[] = "0123456789abcdef";

    for (; *s != '\0' && *n + 7 < size; s++) {
        unsigned char c = (unsigned char)*s;

        if (c == '"' || c == '\\') {
            line[(*n)++] = '\\';
            line[(*n)++] = (char)c;
        } else if (c < 0x20) {
            line[(*n)++] = '\\';
            line[(*n)++] = 'u';
            line[(*n)++] = '0';
            line[(*n)++] = '0';
            line[(*n)++] = hex[c >> 4];
            line[(*n)++] = hex[c & 15];
        } else {
            line[(*n)++] = (char)c;
        }
    }
}

void px_log(int level, const char *fmt, ...)
{
    static const char *const names[] = {"ERROR", "WARN", "INFO", "DEBUG"};
    static const char *const lnames[] = {"error", "warn", "info", "debug"};
    char                     line[1024];
    struct timeval           tv;
    struct tm                tm;
    va_list                  ap;
    int                      n;

    if (level > px_log_level) {
        return;
    }
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    n = snprintf(line, sizeof(line),
                 "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ %-5s ", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                 (int)(tv.tv_usec / 1000), names[level < 0 ? 0 : level > 3 ? 3 : level]);
    if (px_log_format == PX_LOG_JSON) {
        /* {"ts":"...","level":"info","msg":"..."}: the same text, escaped */
        char   msg[1024];
        size_t k;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        k = (size_t)snprintf(line, sizeof(line),
                             "{\"ts\":\"%04d-%02d-%02dT%02d:%02d:%02d.%03dZ\","
                             "\"level\":\"%s\",\"msg\":\"",
                             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                             tm.tm_hour, tm.tm_min, tm.tm_sec,
                             (int)(tv.tv_usec / 1000),
                             lnames[level < 0 ? 0 : level > 3 ? 3 : level]);
        json_escape_into(line, sizeof(line) - 3, &k, msg);
        line[k++] = '"';
        line[k++] = '}';
        line[k] = '\0';
    } else {
        va_start(ap, fmt);
        vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
        va_end(ap);
    }
    /* one write per line so concurrent threads do not interleave */
    n = (int)strlen(line);
    line[n++] = '\n';
    if (write(2, line, (size_t)n) < 0) {
        /* nothing sensible to do */
    }
}

/* ---------------------------------------------------------------------- */
/* The daemon's sections */

static const char *const level_choices[] = {"error", "warn", "info", "debug",
                                            NULL};

struct limits_opts {
    int64_t records, bytes, queue;
};

static const struct smt_opt limits_opts[] = {
    {"max.inflight.records", SMT_OPT_INT, "20000",
     offsetof(struct limits_opts, records), 1, 100000000, NULL, 0,
     "input records consumed but not yet fully delivered; above it, "
     "consumption pauses"},
    {"max.inflight.bytes", SMT_OPT_SIZE, "16MiB",
     offsetof(struct limits_opts, bytes), 1024, INT64_MAX, NULL, 0,
     "bytes of those records; above it, consumption pauses"},
    {"worker.queue.records", SMT_OPT_INT, "4096",
     offsetof(struct limits_opts, queue), 1, 10000000, NULL, 0,
     "records waiting for one worker thread"},
    {0},
};

struct delivery_opts {
    int64_t shutdown, commit, revoke;
    int64_t embedded_partitions;
};

static const struct smt_opt delivery_opts[] = {
    {"shutdown.timeout", SMT_OPT_MSEC, "30s",
     offsetof(struct delivery_opts, shutdown), 0, INT64_MAX, NULL, 0,
     "on SIGTERM, how long to wait for in-flight records before exiting"},
    {"commit.interval", SMT_OPT_MSEC, "5s",
     offsetof(struct delivery_opts, commit), 10, INT64_MAX, NULL, 0,
     "how often stored offsets are committed"},
    {"revoke.timeout", SMT_OPT_MSEC, "60s",
     offsetof(struct delivery_opts, revoke), 0, INT64_MAX, NULL, 0,
     "on a rebalance, how long to wait for a revoked partition to drain"},
    {"embedded.partitions", SMT_OPT_INT, "4",
     offsetof(struct delivery_opts, embedded_partitions), 1, 1000, NULL, 0,
     "partitions of each topic the embedded cluster creates"},
    {0},
};

struct log_opts {
    int     level;
    int64_t stats;
    int     format;
};

static const char *const format_choices[] = {"text", "json", NULL};

static const struct smt_opt log_opts[] = {
    {"level", SMT_OPT_ENUM, "info", offsetof(struct log_opts, level), 0, 0,
     level_choices, 0, "least severe level written"},
    {"stats.interval", SMT_OPT_MSEC, "0", offsetof(struct log_opts, stats), 0,
     INT64_MAX, NULL, 0, "a one-line stats summary this often; 0 = never"},
    {"format", SMT_OPT_ENUM, "text", offsetof(struct log_opts, format), 0, 0,
     format_choices, 0,
     "text lines, or one JSON object per line with ts, level and msg"},
    {0},
};

struct admin_opts {
    int     enable;
    char   *listen;
    int64_t max_conns;
    int64_t max_topics;
};

static const struct smt_opt admin_opts[] = {
    {"enable", SMT_OPT_BOOL, "false", offsetof(struct admin_opts, enable), 0,
     0, NULL, 0,
     "serve /metrics, /healthz, /readyz, /config and /reload over HTTP"},
    {"listen", SMT_OPT_STR, "127.0.0.1:9464",
     offsetof(struct admin_opts, listen), 0, 0, NULL, 0,
     "address of the admin endpoint: host:port, [v6]:port or :port "
     "(loopback); port 0 picks a free port and logs it"},
    {"max.connections", SMT_OPT_INT, "16",
     offsetof(struct admin_opts, max_conns), 4, 1024, NULL, 0,
     "concurrent connections the admin endpoint accepts"},
    {"metrics.max.topics", SMT_OPT_INT, "200",
     offsetof(struct admin_opts, max_topics), 1, 100000, NULL, 0,
     "distinct topics (partitions for the lag) a metric keeps apart; more "
     "are counted under topic \"(other)\""},
    {0},
};

struct reload_opts {
    int     watch;
    int64_t debounce;
};

static const struct smt_opt reload_opts[] = {
    {"watch", SMT_OPT_BOOL, "true", offsetof(struct reload_opts, watch), 0, 0,
     NULL, 0,
     "reload when the pipeline file changes (inotify on its directory, so "
     "an editor's write-and-rename counts); SIGHUP and POST /reload always "
     "work"},
    {"debounce", SMT_OPT_MSEC, "500ms", offsetof(struct reload_opts, debounce),
     0, 60000, NULL, 0,
     "quiet time after the last change of the file before it is reloaded"},
    {0},
};

/* `workers` is a top-level scalar, not a section, but it is described
 * and parsed through a table like every other option. */
static const struct smt_opt workers_opts[] = {
    {"workers", SMT_OPT_INT, "0", 0, 0, 256, NULL, 0,
     "worker threads, 0 = one per core; an assigned partition is processed "
     "by one worker (the one with the fewest partitions when it was "
     "assigned), so each route keeps the partition's order"},
    {0},
};

const struct smt_conf_section px_conf_sections[] = {
    {"workers", "A top-level number, not a mapping: `workers: 4`.",
     workers_opts},
    {"limits", "How much the relay holds in flight before it pauses "
               "fetching (it resumes below half of either cap).",
     limits_opts},
    {"delivery", "Commits, shutdown and rebalances. An input offset is "
                 "committed only when every record derived from it is "
                 "acknowledged.",
     delivery_opts},
    {"log", "Logging to stderr.", log_opts},
    {"admin", "The HTTP admin endpoint (metrics, health, running config, "
              "reload).",
     admin_opts},
    {"reload", "Reloading the pipeline file while the relay runs (docs/"
               "operations.md): routes, chains, conditions and errors change "
               "without a rebalance; Kafka settings, input topics, workers "
               "and the admin endpoint with a drain, a commit and a rejoin.",
     reload_opts},
    {NULL, NULL, NULL},
};

int px_conf_load(struct px_conf *xc, const struct smt_pipeline_conf *pc,
                 struct smt_diags *d)
{
    const struct smt_cnode *root = pc->extra, *n;
    struct limits_opts      lo;
    struct delivery_opts    dl;
    struct log_opts         lg;
    struct admin_opts       ad;
    struct reload_opts      rl;
    struct smt_arena        a;
    int                     rc = 0;
    long                    cores = sysconf(_SC_NPROCESSORS_ONLN);

    memset(xc, 0, sizeof(*xc));
    memset(&lo, 0, sizeof(lo));
    memset(&dl, 0, sizeof(dl));
    memset(&lg, 0, sizeof(lg));
    memset(&ad, 0, sizeof(ad));
    memset(&rl, 0, sizeof(rl));
    smt_arena_init(&a, 1024);
    xc->workers = cores > 0 ? cores : 1;

    n = root != NULL ? smt_cnode_get(root, "workers") : NULL;
    if (n != NULL && n->kind != SMT_CN_NULL) {
        int64_t     w = 0;
        const char *why;

        if (n->kind != SMT_CN_SCALAR ||
            smt_opt_parse(&workers_opts[0], &w, n->s, &a, &why) != 0) {
            rc = smt_diag(d, n, "workers: must be a number of threads from "
                                "0 (one per core) to 256");
        } else if (w > 0) {
            xc->workers = w;
        }
    }
#define SECTION(key, table, conf)                                             \
    do {                                                                      \
        static const struct smt_cnode empty = {.kind = SMT_CN_MAP};           \
        const struct smt_cnode *s_ = root ? smt_cnode_get(root, key) : NULL;  \
        if (s_ != NULL && s_->kind != SMT_CN_MAP && s_->kind != SMT_CN_NULL) { \
            rc = smt_diag(d, s_, "%s: expected a mapping", key);              \
        } else if (smt_opts_load(table, conf,                                 \
                                 s_ && s_->kind == SMT_CN_MAP ? s_ : &empty,  \
                                 NULL, &a, d) < 0) {                          \
            rc = -1;                                                          \
        }                                                                     \
    } while (0)
    SECTION("limits", limits_opts, &lo);
    SECTION("delivery", delivery_opts, &dl);
    SECTION("log", log_opts, &lg);
    SECTION("admin", admin_opts, &ad);
    SECTION("reload", reload_opts, &rl);
#undef SECTION
    xc->max_records = lo.records;
    xc->max_bytes = lo.bytes;
    xc->queue_records = lo.queue;
    xc->shutdown_ms = dl.shutdown;
    xc->commit_ms = dl.commit;
    xc->revoke_ms = dl.revoke;
    xc->embedded_partitions = (int)dl.embedded_partitions;
    xc->log_level = lg.level;
    xc->log_format = lg.format;
    xc->admin_enable = ad.enable;
    snprintf(xc->admin_listen, sizeof(xc->admin_listen), "%s",
             ad.listen ? ad.listen : "127.0.0.1:9464");
    xc->admin_max_conns = ad.max_conns;
    xc->admin_max_labels = ad.max_topics;
    xc->stats_ms = lg.stats;
    xc->reload_watch = rl.watch;
    xc->reload_debounce_ms = rl.debounce;
    smt_arena_fini(&a);
    return rc;
}

/* ---------------------------------------------------------------------- */
/* librdkafka configuration */

static const char *kv_get(const struct smt_kv *kv, const char *key)
{
    uint32_t i;

    for (i = 0; i < kv->n; i++) {
        if (strcmp(kv->k[i], key) == 0) {
            return kv->v[i];
        }
    }
    return NULL;
}

int px_kafka_embedded(const struct smt_pipeline_conf *pc)
{
    const char *b = kv_get(&pc->kafka, "bootstrap.servers");

    if (b == NULL) {
        b = kv_get(&pc->consumer, "bootstrap.servers");
    }
    return b != NULL && strcmp(b, "embedded") == 0;
}

/* Sets one property; a rejection becomes a diagnostic at the property's
 * position. librdkafka's message may quote the value, so for a secret only
 * the property name is said. */
static int conf_set(rd_kafka_conf_t *conf, const struct smt_kv *kv,
                    uint32_t i, const char *section, struct smt_diags *d)
{
    char errstr[512];

    if (rd_kafka_conf_set(conf, kv->k[i], kv->v[i], errstr, sizeof(errstr)) ==
        RD_KAFKA_CONF_OK) {
        return 0;
    }
    if (kv->secret != NULL && kv->secret[i]) {
        return smt_diag(d, kv->at ? kv->at[i] : NULL,
                        "%s: librdkafka rejects the value of '%s'", section,
                        kv->k[i]);
    }
    return smt_diag(d, kv->at ? kv->at[i] : NULL, "%s: %s", section, errstr);
}

static void set_default(rd_kafka_conf_t *conf, const char *k, const char *v)
{
    char errstr[256];

    if (rd_kafka_conf_set(conf, k, v, errstr, sizeof(errstr)) !=
        RD_KAFKA_CONF_OK) {
        /* Our own defaults are valid for the librdkafka we build with; a
         * failure here is a programming error. */
        PX_ERR("internal default %s=%s rejected: %s", k, v, errstr);
        abort();
    }
}

rd_kafka_conf_t *px_kafka_conf(const struct smt_pipeline_conf *pc,
                               const struct px_conf *xc, int which,
                               const char *bootstrap, struct smt_diags *d)
{
    rd_kafka_conf_t    *conf = rd_kafka_conf_new();
    const struct smt_kv *own = which == 0 ? &pc->consumer : &pc->producer;
    const char         *section = which == 0 ? "consumer" : "producer";
    uint32_t            i;
    int                 rc = 0;
    char                num[32];

    set_default(conf, "client.id", pc->name ? pc->name : "smtproxy");
    if (which == 0) {
        set_default(conf, "group.id", pc->name ? pc->name : "smtproxy");
        set_default(conf, "enable.auto.offset.store", "false");
        set_default(conf, "enable.auto.commit", "true");
        snprintf(num, sizeof(num), "%lld", (long long)xc->commit_ms);
        set_default(conf, "auto.commit.interval.ms", num);
        set_default(conf, "auto.offset.reset", "earliest");
        set_default(conf, "partition.assignment.strategy",
                    "cooperative-sticky");
        set_default(conf, "enable.partition.eof", "false");
        /* librdkafka prefetches up to 64 MiB by default, which costs about
         * twice that in memory (an op per message, whole fetch buffers).
         * The relay's own in-flight cap bounds the rest, and its fetch
         * kick (relay.c, fetch_kick()) restarts fetching as soon as the
         * queue runs dry, so 4 MiB keeps RSS small without starving the
         * workers (bench/e2e.py: 16, 8 and 4 MiB give the same records/s;
         * each halving saves ~15 MiB of peak RSS). */
        set_default(conf, "queued.max.messages.kbytes", "4096");
    } else {
        set_default(conf, "enable.idempotence", "true");
        /* Java's default partitioner for keyed records: murmur2 of the key
         * bytes, so outputs land where a Java producer would put them. */
        set_default(conf, "partitioner", "murmur2_random");
        /* librdkafka's 5 ms suits a producer that writes in bursts; the
         * relay writes a steady stream split over workers x partitions,
         * so at 5 ms each request carried ~200 records and the broker
         * spent more CPU on produce requests than on anything else.
         * 20 ms gives a third as many requests, three times the size
         * (bench/e2e.py, 4 partitions, 2 workers: 2715 -> 885 requests
         * for 500 000 records), for at most 15 ms more latency. */
        set_default(conf, "linger.ms", "20");
    }
    for (i = 0; i < pc->kafka.n; i++) {
        if (bootstrap != NULL &&
            strcmp(pc->kafka.k[i], "bootstrap.servers") == 0) {
            continue;
        }
        if (conf_set(conf, &pc->kafka, i, "kafka", d) < 0) {
            rc = -1;
        }
    }
    for (i = 0; i < own->n; i++) {
        if (bootstrap != NULL && strcmp(own->k[i], "bootstrap.servers") == 0) {
            continue;
        }
        if (which == 0 && strcmp(own->k[i], "enable.auto.offset.store") == 0 &&
            strcasecmp(own->v[i], "false") != 0) {
            rc = smt_diag(d, own->at ? own->at[i] : NULL,
                          "consumer: enable.auto.offset.store must stay false: "
                          "smtproxy stores an offset only when every record "
                          "derived from it is delivered");
            continue;
        }
        if (conf_set(conf, own, i, section, d) < 0) {
            rc = -1;
        }
    }
    if (bootstrap != NULL) {
        set_default(conf, "bootstrap.servers", bootstrap);
    }
    if (rc != 0) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    return conf;
}

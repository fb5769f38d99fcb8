/*
 * pipeline_conf.c - loading a pipeline configuration: our YAML schema, or a
 * Kafka Connect connector config (.properties or REST JSON) that becomes a
 * one-route pipeline.
 *
 * A connector config is not validated by code of its own: it is rewritten
 * into the same node tree a YAML file would give (steps, predicates, errors,
 * input), each synthesised node carrying the position of the original key,
 * and that tree goes through the one YAML loader. Only the checks whose
 * messages Connect words differently (duplicate aliases, negate without
 * predicate, missing types, topics vs topics.regex) happen in the adapter.
 *
 * YAML schema (docs/config.md has the prose):
 *
 *   name: sensors                  # default: file name without extension
 *   kafka: {bootstrap.servers: embedded}      # librdkafka, verbatim
 *   consumer: {...}                # consumer-only properties
 *   producer: {...}                # producer-only properties
 *   input: {topics: [a, b], key.format: json, value.format: json}
 *   predicates: {p: {type: TopicNameMatches, pattern: 'a.*'}}
 *   errors: {tolerance: all, deadletterqueue.topic.name: dlq}
 *   routes:
 *     - name: audit
 *       condition: {...}
 *       transforms: [...]
 *       topic: sensors.audit
 *       errors: {...}              # overrides per key
 *   unrouted: drop | dlq | {topic: other}
 *   schema.registry: {url: http://sr:8081, basic.auth.user.info: u:p, ...}
 *   schemas: {1: sensor.avsc, 2: {file: b.avsc, subject: t-value}}
 *   admin:, workers:, delivery:, limits:, reload:, log:   # kept in pc->extra
 *   x-anything: ...                # ignored: a place for YAML anchors
 *
 * Connector keys used: name, topics, topics.regex, key.converter,
 * value.converter (+ .schemas.enable, and for AvroConverter
 * .schema.registry.url, .basic.auth.user.info, .basic.auth.credentials
 * .source, .auto.register.schemas, .use.latest.version, which become the
 * schema.registry section), transforms, transforms.*,
 * predicates, predicates.*, errors.*, consumer.override.* (to consumer),
 * producer.override.* (to producer). Every other key (connector.class,
 * tasks.max, header.converter, the connector's own settings) configures the
 * connector itself and is ignored. Differences from Connect: unknown keys
 * under transforms.<a>. are errors (Connect ignores them); without a
 * converter key the format is schemaless JSON (Connect takes the worker's
 * converter); a connector config without topics loads (the daemon needs
 * them, `smtproxy apply` does not).
 */
#include "pipeline.h"
#include "avro.h"
#include "regex.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---------------------------------------------------------------------- */
/* Tables */

static const char *const tolerance_choices[] = {"none", "all", NULL};
static const char *const format_choices[] = {"json", "json_envelope", "string",
                                             "bytes", "avro", NULL};

#define EOPT(n, type, def, field, min, max, ch, flags, doc)                  \
    {n, type, def, offsetof(struct smt_errors_conf, field), min, max, ch,    \
     flags, doc}

static const struct smt_opt errors_opts[] = {
    EOPT("tolerance", SMT_OPT_ENUM, "none", tolerance, 0, 0, tolerance_choices,
         0, "none: the first failure stops the pipeline; all: skip and report"),
    EOPT("retry.timeout", SMT_OPT_MSEC, "0", retry_timeout_ms, -1, INT64_MAX,
         NULL, 0, "total time to retry a retriable failure; -1 = forever"),
    EOPT("retry.delay.max.ms", SMT_OPT_MSEC, "60000", retry_delay_max_ms, 0,
         INT64_MAX, NULL, 0, "cap of the exponential backoff between retries"),
    EOPT("log.enable", SMT_OPT_BOOL, "false", log_enable, 0, 0, NULL, 0,
         "log every failed record"),
    EOPT("log.include.messages", SMT_OPT_BOOL, "false", log_include_messages,
         0, 0, NULL, 0, "include record coordinates in that log line"),
    EOPT("deadletterqueue.topic.name", SMT_OPT_STR, "", dlq_topic, 0, 0, NULL,
         0, "dead letter queue topic; empty = none"),
    EOPT("deadletterqueue.topic.replication.factor", SMT_OPT_INT, "3",
         dlq_replication_factor, -1, 32767, NULL, 0,
         "replication factor when the DLQ topic is created"),
    EOPT("deadletterqueue.context.headers.enable", SMT_OPT_BOOL, "false",
         dlq_context_headers, 0, 0, NULL, 0,
         "add __connect.errors.* context headers to DLQ records"),
    EOPT("breaker.max.failures", SMT_OPT_INT, "0", breaker_max_failures, 0,
         1000000, NULL, 0,
         "stop the pipeline when more failures than this fall within "
         "breaker.window, even under tolerance all; 0 = no breaker"),
    EOPT("breaker.window", SMT_OPT_MSEC, "1m", breaker_window_ms, 1,
         INT64_MAX, NULL, 0, "the breaker's sliding window"),
    {0},
};

/* The same keys for a route's override: absent keys keep the pipeline's. */
static const struct smt_opt route_errors_opts[] = {
    EOPT("tolerance", SMT_OPT_ENUM, NULL, tolerance, 0, 0, tolerance_choices,
         SMT_OPT_OPTIONAL, "see errors"),
    EOPT("retry.timeout", SMT_OPT_MSEC, NULL, retry_timeout_ms, -1, INT64_MAX,
         NULL, SMT_OPT_OPTIONAL, "see errors"),
    EOPT("retry.delay.max.ms", SMT_OPT_MSEC, NULL, retry_delay_max_ms, 0,
         INT64_MAX, NULL, SMT_OPT_OPTIONAL, "see errors"),
    EOPT("log.enable", SMT_OPT_BOOL, NULL, log_enable, 0, 0, NULL,
         SMT_OPT_OPTIONAL, "see errors"),
    EOPT("log.include.messages", SMT_OPT_BOOL, NULL, log_include_messages, 0,
         0, NULL, SMT_OPT_OPTIONAL, "see errors"),
    EOPT("deadletterqueue.topic.name", SMT_OPT_STR, NULL, dlq_topic, 0, 0,
         NULL, SMT_OPT_OPTIONAL, "see errors"),
    EOPT("deadletterqueue.topic.replication.factor", SMT_OPT_INT, NULL,
         dlq_replication_factor, -1, 32767, NULL, SMT_OPT_OPTIONAL,
         "see errors"),
    EOPT("deadletterqueue.context.headers.enable", SMT_OPT_BOOL, NULL,
         dlq_context_headers, 0, 0, NULL, SMT_OPT_OPTIONAL, "see errors"),
    {0},
};

struct input_conf {
    struct smt_strlist topics;
    char              *regex;
    int                key_fmt, value_fmt;
    int                schemas;
};

static const struct smt_opt input_opts[] = {
    {"topics", SMT_OPT_STRLIST, NULL, offsetof(struct input_conf, topics), 0,
     0, NULL, SMT_OPT_OPTIONAL, "topics to consume"},
    {"topic.regex", SMT_OPT_REGEX, NULL, offsetof(struct input_conf, regex), 0,
     0, NULL, SMT_OPT_OPTIONAL | SMT_OPT_NONEMPTY,
     "consume every topic whose whole name matches"},
    {"key.format", SMT_OPT_ENUM, "json", offsetof(struct input_conf, key_fmt),
     0, 0, format_choices, 0, "wire format of keys"},
    {"value.format", SMT_OPT_ENUM, "json",
     offsetof(struct input_conf, value_fmt), 0, 0, format_choices, 0,
     "wire format of values"},
    {"schemas.enable", SMT_OPT_BOOL, "false",
     offsetof(struct input_conf, schemas), 0, 0, NULL, 0,
     "json means the {schema, payload} envelope"},
    {0},
};

struct route_opts {
    char *name;
    char *topic;
};

static const struct smt_opt route_opts[] = {
    {"name", SMT_OPT_STR, NULL, offsetof(struct route_opts, name), 0, 0, NULL,
     SMT_OPT_NONEMPTY, "route name, unique"},
    {"topic", SMT_OPT_STR, NULL, offsetof(struct route_opts, topic), 0, 0,
     NULL, SMT_OPT_OPTIONAL | SMT_OPT_NONEMPTY,
     "destination topic; default: the record's topic after the chain"},
    {0},
};
static const char *const route_extra[] = {"condition", "transforms", "errors",
                                          NULL};

struct top_opts {
    char *name;
};

static const struct smt_opt top_opts[] = {
    {"name", SMT_OPT_STR, NULL, offsetof(struct top_opts, name), 0, 0, NULL,
     SMT_OPT_OPTIONAL | SMT_OPT_NONEMPTY,
     "pipeline name (Connect's connector name): the consumer group, the "
     "client id and the connector name in DLQ headers; default: the file "
     "name without its extension"},
    {0},
};
static const char *const top_extra[] = {
    "kafka",  "consumer", "producer", "input",    "predicates", "errors",
    "routes", "unrouted", "admin",    "workers",  "delivery",   "limits",
    "reload", "log",      "schema.registry",      "schemas",    NULL};

/* schema.registry: the registry client (schemareg.h) and Confluent's
 * serializer settings (avro.h). */
struct sr_opts {
    char   *url;
    char   *user_info;
    char   *ca, *cert, *key;
    int     verify;
    int64_t timeout_ms;
    int     auto_register;
    int     use_latest;
};

#define SROPT(n, type, def, field, min, max, flags, doc)                     \
    {n, type, def, offsetof(struct sr_opts, field), min, max, NULL, flags,  \
     doc}

static const struct smt_opt sr_opts[] = {
    SROPT("url", SMT_OPT_STR, NULL, url, 0, 0,
          SMT_OPT_OPTIONAL | SMT_OPT_NONEMPTY,
          "registry base URL; a comma list: the first that answers"),
    SROPT("basic.auth.user.info", SMT_OPT_STR, NULL, user_info, 0, 0,
          SMT_OPT_OPTIONAL | SMT_OPT_NONEMPTY,
          "user:password for HTTP basic authentication"),
    SROPT("ssl.ca.location", SMT_OPT_PATH, NULL, ca, 0, 0,
          SMT_OPT_OPTIONAL | SMT_OPT_NONEMPTY,
          "PEM file of the CAs that sign the registry's certificate"),
    SROPT("ssl.certificate.location", SMT_OPT_PATH, NULL, cert, 0, 0,
          SMT_OPT_OPTIONAL | SMT_OPT_NONEMPTY, "client certificate (PEM)"),
    SROPT("ssl.key.location", SMT_OPT_PATH, NULL, key, 0, 0,
          SMT_OPT_OPTIONAL | SMT_OPT_NONEMPTY, "client private key (PEM)"),
    SROPT("ssl.verify", SMT_OPT_BOOL, "true", verify, 0, 0, 0,
          "verify the registry's certificate and host name"),
    SROPT("timeout", SMT_OPT_MSEC, "10s", timeout_ms, 1, 600000, 0,
          "time limit of one registry request"),
    SROPT("auto.register.schemas", SMT_OPT_BOOL, "true", auto_register, 0, 0,
          0, "register the schema of a changed value under the output "
          "topic's subject"),
    SROPT("use.latest.version", SMT_OPT_BOOL, "false", use_latest, 0, 0, 0,
          "write changed values with the subject's latest schema instead"),
    {0},
};

/* schemas: {<id>: {file, subject}} (or <id>: file) */
struct local_opts {
    char *file;
    char *subject;
};

static const struct smt_opt local_opts[] = {
    {"file", SMT_OPT_PATH, NULL, offsetof(struct local_opts, file), 0, 0,
     NULL, SMT_OPT_NONEMPTY, "Avro schema file, relative to this file"},
    {"subject", SMT_OPT_STR, NULL, offsetof(struct local_opts, subject), 0, 0,
     NULL, SMT_OPT_OPTIONAL | SMT_OPT_NONEMPTY,
     "subject whose latest version this schema is"},
    {0},
};

struct unrouted_opts {
    char *topic;
};

static const struct smt_opt unrouted_opts[] = {
    {"topic", SMT_OPT_STR, NULL, offsetof(struct unrouted_opts, topic), 0, 0,
     NULL, SMT_OPT_NONEMPTY, "topic for records no route took"},
    {0},
};

/* Every section for the generated reference (pipeline.h). Keep in step
 * with the tables above and top_extra: `make check` compares
 * docs/config.md with what these say. */
const struct smt_conf_section smt_pipeline_sections[] = {
    {"", "The top level of the file holds the sections below; top-level "
         "keys starting with `x-` are ignored (a place for YAML anchors).",
     top_opts},
    {"kafka",
     "librdkafka properties for both clients (consumer and producer), "
     "passed through verbatim: `bootstrap.servers`, `security.protocol`, "
     "`sasl.*`, `ssl.*` ... A property librdkafka rejects is a "
     "configuration error with its position. `bootstrap.servers: embedded` "
     "starts librdkafka's in-process mock cluster.",
     NULL},
    {"consumer",
     "librdkafka properties for the consumer only, applied after `kafka`.",
     NULL},
    {"producer",
     "librdkafka properties for the producer only, applied after `kafka`.",
     NULL},
    {"input", "What to consume and how keys and values are encoded. A YAML "
              "pipeline names `topics` or `topic.regex` (not both).",
     input_opts},
    {"predicates",
     "A map from name to a Kafka Connect predicate (`{type: "
     "TopicNameMatches, pattern: 'a.*'}`) or to a condition (`{type: "
     "condition, when: {...}}`); steps refer to them with `predicate:`, "
     "conditions with `{predicate: name}`. Predicate options are in "
     "[transforms.md](transforms.md).",
     NULL},
    {"errors",
     "Kafka Connect's `errors.*` keys with Connect's defaults; the "
     "`errors.` prefix may be written or left out.",
     errors_opts},
    {"routes[]",
     "An ordered list of routes; every route sees every input record. "
     "Besides these keys a route has `condition` (optional, "
     "[conditions.md](conditions.md)), `transforms` (the chain, a list of "
     "steps) and `errors` (below).",
     route_opts},
    {"routes[].errors",
     "Overrides of the pipeline's `errors` keys for one route; an absent "
     "key keeps the pipeline's value.",
     route_errors_opts},
    {"unrouted",
     "What happens to a record no route's condition takes: `drop` (the "
     "default), `dlq` (needs `errors.deadletterqueue.topic.name`), or a "
     "mapping with the key below (the record is forwarded unchanged).",
     unrouted_opts},
    {"schema.registry",
     "The Confluent-compatible schema registry the `avro` format reads "
     "writer schemas from (and registers changed ones with).",
     sr_opts},
    {"schemas",
     "Local Avro schemas by id, `<id>: {file, subject}` or `<id>: FILE`, "
     "used instead of asking the registry for those ids.",
     local_opts},
    {NULL, NULL, NULL},
};

/* ---------------------------------------------------------------------- */
/* Sections */

/* key equals name, '_' in key also matching '.' in name (as options do). */
static int key_is(const char *key, const char *name)
{
    for (; *key != '\0' && *name != '\0'; key++, name++) {
        if (*key != *name && !(*key == '_' && *name == '.')) {
            return 0;
        }
    }
    return *key == '\0' && *name == '\0';
}

/* Reports every key of map m that is neither an option of opts nor in
 * extra as "unknown <what> 'k'" (with a suggestion), and returns a view of
 * m without those keys (and without "x-..." keys when allow_x: free-form
 * sections for YAML anchors, as docker-compose does), so smt_opts_load()
 * does not report them again in its own words. */
static const struct smt_cnode *known_keys(struct smt_ctree *t,
                                          const struct smt_cnode *m,
                                          const struct smt_opt *opts,
                                          const char *const *extra,
                                          const char *what, int allow_x,
                                          int *rc, struct smt_diags *d)
{
    const char       *names[64];
    size_t            n = 0, i;
    uint32_t          j;
    struct smt_cnode *view;

    if (m == NULL || m->kind != SMT_CN_MAP) {
        return m;
    }
    for (i = 0; opts[i].name != NULL && n < 64; i++) {
        names[n++] = opts[i].name;
    }
    for (i = 0; extra != NULL && extra[i] != NULL && n < 64; i++) {
        names[n++] = extra[i];
    }
    view = smt_cnode_new(t, SMT_CN_MAP, m);
    for (j = 0; j < m->n; j++) {
        const char *k = m->k[j]->s;

        for (i = 0; i < n && !key_is(k, names[i]); i++) {
        }
        if (i < n) {
            smt_cnode_map_add(t, view, m->k[j], m->v[j]);
        } else if (!(allow_x && strncmp(k, "x-", 2) == 0)) {
            smt_diag_unknown(d, m->k[j], what, k, names, n);
            *rc = -1;
        }
    }
    return view;
}

/* A string map (Kafka properties). Lists become comma-separated text. */
static int load_kv(struct smt_kv *kv, const struct smt_cnode *m,
                   const char *section, struct smt_arena *a,
                   struct smt_diags *d)
{
    uint32_t i, j;
    int      rc = 0;

    memset(kv, 0, sizeof(*kv));
    if (m == NULL || m->kind == SMT_CN_NULL) {
        return 0;
    }
    if (m->kind != SMT_CN_MAP) {
        return smt_diag(d, m, "'%s' must be a mapping of properties", section);
    }
    kv->k = smt_arena_calloc(a, (m->n + 1) * sizeof(*kv->k));
    kv->v = smt_arena_calloc(a, (m->n + 1) * sizeof(*kv->v));
    kv->secret = smt_arena_calloc(a, m->n + 1);
    kv->at = smt_arena_calloc(a, (m->n + 1) * sizeof(*kv->at));
    for (i = 0; i < m->n; i++) {
        const struct smt_cnode *v = m->v[i];
        struct smt_buf          b;

        if (v->kind == SMT_CN_NULL) {
            continue;
        }
        smt_buf_init(&b);
        if (v->kind == SMT_CN_SCALAR) {
            smt_buf_adds(&b, v->s);
        } else if (v->kind == SMT_CN_SEQ) {
            for (j = 0; j < v->n; j++) {
                if (v->v[j]->kind != SMT_CN_SCALAR) {
                    rc = smt_diag(d, v->v[j],
                                  "%s: '%s': list items must be scalars",
                                  section, m->k[i]->s);
                    break;
                }
                if (j > 0) {
                    smt_buf_addc(&b, ',');
                }
                smt_buf_adds(&b, v->v[j]->s);
            }
        } else {
            rc = smt_diag(d, v, "%s: '%s' must be a string", section,
                          m->k[i]->s);
        }
        kv->k[kv->n] = smt_arena_memdup(a, m->k[i]->s, m->k[i]->len);
        kv->v[kv->n] = smt_arena_memdup(a, b.ptr ? b.ptr : "", b.len);
        kv->secret[kv->n] = v->secret || smt_key_is_secret(m->k[i]->s);
        kv->at[kv->n] = v;
        kv->n++;
        smt_buf_fini(&b);
    }
    return rc;
}

/* A copy of an errors map with the Connect "errors." prefix taken off its
 * keys, so both spellings go through one table. */
static struct smt_cnode *errors_view(struct smt_ctree *t,
                                     const struct smt_cnode *m)
{
    struct smt_cnode *view;
    uint32_t          i;

    if (m == NULL || m->kind != SMT_CN_MAP) {
        return (struct smt_cnode *)m;
    }
    view = smt_cnode_new(t, SMT_CN_MAP, m);
    for (i = 0; i < m->n; i++) {
        struct smt_cnode *k = m->k[i];

        if (strncmp(k->s, "errors.", 7) == 0) {
            k = smt_cnode_scalar(t, k->s + 7, k);
        }
        smt_cnode_map_add(t, view, k, m->v[i]);
    }
    return view;
}

static int load_errors(struct smt_pipeline_conf *pc, struct smt_errors_conf *e,
                       const struct smt_cnode *m, int override,
                       struct smt_diags *d)
{
    struct smt_cnode *view;
    int               rc;

    if (m != NULL && m->kind != SMT_CN_MAP && m->kind != SMT_CN_NULL) {
        return smt_diag(d, m, "'errors' must be a mapping");
    }
    view = errors_view(pc->tree, m);
    rc = smt_opts_load(override ? route_errors_opts : errors_opts, e, view,
                       NULL, &pc->arena, d);
    if (e->dlq_topic != NULL && e->dlq_topic[0] == '\0') {
        e->dlq_topic = NULL;
    }
    return rc;
}

/* Connect's rule: a sink may not consume its own dead letter queue. */
static int check_dlq(const struct smt_pipeline_conf *pc,
                     const struct smt_errors_conf *e, const struct smt_cnode *m,
                     struct smt_diags *d)
{
    const struct smt_cnode *at;
    uint32_t                i;

    if (e->dlq_topic == NULL) {
        return 0;
    }
    at = smt_cnode_get(m, "deadletterqueue.topic.name");
    if (at == NULL) {
        at = smt_cnode_get(m, "errors.deadletterqueue.topic.name");
    }
    if (at == NULL) {
        at = smt_cnode_get(m, "deadletterqueue_topic_name");
    }
    if (at == NULL) {
        at = m;
    }
    for (i = 0; i < pc->topics.n; i++) {
        if (strcmp(pc->topics.v[i], e->dlq_topic) == 0) {
            struct smt_buf b;
            uint32_t       j;
            int            rc;

            smt_buf_init(&b);
            for (j = 0; j < pc->topics.n; j++) {
                smt_buf_printf(&b, "%s%s", j ? "," : "", pc->topics.v[j]);
            }
            smt_buf_addc(&b, '\0');
            rc = smt_diag(d, at,
                          "The DLQ topic '%s' may not be included in the list "
                          "of topics ('topics=%s') consumed by the connector",
                          e->dlq_topic, b.ptr);
            smt_buf_fini(&b);
            return rc;
        }
    }
    if (pc->topic_regex != NULL) {
        struct smt_regex *re = smt_regex_new(pc->topic_regex, NULL);
        int               hit = 0;

        if (re != NULL) {
            hit = smt_regex_matches(re, e->dlq_topic, strlen(e->dlq_topic)) == 1;
            smt_regex_free(re);
        }
        if (hit) {
            return smt_diag(d, at,
                            "The DLQ topic '%s' may not be included in the "
                            "regex matching the topics ('topics.regex=%s') "
                            "consumed by the connector",
                            e->dlq_topic, pc->topic_regex);
        }
    }
    return 0;
}

static int load_input(struct smt_pipeline_conf *pc, const struct smt_cnode *m,
                      const struct smt_cnode *root, int connect,
                      struct smt_diags *d)
{
    struct input_conf in;
    int               rc;

    memset(&in, 0, sizeof(in));
    if (m == NULL || m->kind == SMT_CN_NULL) {
        if (!connect) {
            return smt_diag(d, root, "missing required section 'input'");
        }
    } else if (m->kind != SMT_CN_MAP) {
        return smt_diag(d, m, "'input' must be a mapping");
    }
    rc = smt_opts_load(input_opts, &in, m, NULL, &pc->arena, d);
    if (rc < 0) {
        return -1;
    }
    if (!connect) {
        if (in.topics.n > 0 && in.regex != NULL) {
            return smt_diag(d, m,
                            "input: 'topics' and 'topic.regex' are mutually "
                            "exclusive");
        }
        if (in.topics.n == 0 && in.regex == NULL) {
            return smt_diag(d, m,
                            "input: one of 'topics' or 'topic.regex' is "
                            "required");
        }
    }
    pc->topics = in.topics;
    pc->topic_regex = in.regex;
    pc->key_fmt = in.key_fmt;
    pc->value_fmt = in.value_fmt;
    if (in.schemas) {
        if (pc->key_fmt == SMT_FMT_JSON) {
            pc->key_fmt = SMT_FMT_JSON_ENVELOPE;
        }
        if (pc->value_fmt == SMT_FMT_JSON) {
            pc->value_fmt = SMT_FMT_JSON_ENVELOPE;
        }
    }
    return 0;
}

/* Compiles every predicate once so an unused broken one is still found
 * (Connect validates them all). */
static int check_predicates(struct smt_pipeline_conf *pc,
                            const struct smt_cnode *preds, struct smt_diags *d)
{
    uint32_t i;
    int      rc = 0;

    if (preds == NULL || preds->kind == SMT_CN_NULL) {
        return 0;
    }
    if (preds->kind != SMT_CN_MAP) {
        return smt_diag(d, preds, "'predicates' must be a mapping of names");
    }
    for (i = 0; i < preds->n; i++) {
        struct smt_cond *c = smt_cond_predicate(preds->k[i]->s, preds->k[i],
                                                preds, 0, &pc->arena, d);

        if (c == NULL) {
            rc = -1;
        }
        smt_cond_free(c);
    }
    return rc;
}

static int load_route(struct smt_pipeline_conf *pc, struct smt_route_conf *r,
                      const struct smt_cnode *m, const struct smt_cnode *preds,
                      struct smt_diags *d)
{
    struct route_opts       ro;
    const struct smt_cnode *cond, *errs;
    int                     rc = 0;

    memset(&ro, 0, sizeof(ro));
    if (m->kind != SMT_CN_MAP) {
        return smt_diag(d, m, "a route must be a mapping");
    }
    m = known_keys(pc->tree, m, route_opts, route_extra, "route key", 0, &rc,
                   d);
    if (smt_opts_load(route_opts, &ro, m, route_extra, &pc->arena, d) < 0) {
        rc = -1;
    }
    r->name = ro.name;
    r->topic = ro.topic;
    cond = smt_cnode_get(m, "condition");
    if (cond != NULL && cond->kind != SMT_CN_NULL) {
        r->cond = smt_cond_compile(cond, preds, &pc->arena, d);
        if (r->cond == NULL) {
            rc = -1;
        }
    }
    if (smt_chain_conf_load(&r->chain, smt_cnode_get(m, "transforms"), preds,
                            &pc->arena, d) < 0) {
        rc = -1;
    }
    r->errors = pc->errors;
    errs = smt_cnode_get(m, "errors");
    if (errs != NULL && errs->kind != SMT_CN_NULL) {
        r->has_errors = 1;
        if (load_errors(pc, &r->errors, errs, 1, d) < 0 ||
            check_dlq(pc, &r->errors, errs, d) < 0) {
            rc = -1;
        }
    }
    return rc;
}

static int load_routes(struct smt_pipeline_conf *pc, const struct smt_cnode *m,
                       const struct smt_cnode *root,
                       const struct smt_cnode *preds, struct smt_diags *d)
{
    uint32_t i, j;
    int      rc = 0;

    if (m == NULL || m->kind == SMT_CN_NULL) {
        return smt_diag(d, root, "missing required section 'routes'");
    }
    if (m->kind != SMT_CN_SEQ) {
        return smt_diag(d, m, "'routes' must be a list of routes");
    }
    if (m->n == 0) {
        return smt_diag(d, m, "'routes' must have at least one route");
    }
    pc->routes = smt_arena_calloc(&pc->arena, m->n * sizeof(*pc->routes));
    pc->nroutes = m->n;
    for (i = 0; i < m->n; i++) {
        struct smt_route_conf *r = &pc->routes[i];

        if (load_route(pc, r, m->v[i], preds, d) < 0) {
            rc = -1;
            continue;
        }
        for (j = 0; j < i; j++) {
            if (pc->routes[j].name != NULL &&
                strcmp(pc->routes[j].name, r->name) == 0) {
                rc = smt_diag(d, smt_cnode_get(m->v[i], "name"),
                              "duplicate route name '%s'", r->name);
                break;
            }
        }
    }
    return rc;
}

static int load_unrouted(struct smt_pipeline_conf *pc,
                         const struct smt_cnode *m, struct smt_diags *d)
{
    pc->unrouted = SMT_UNROUTED_DROP;
    if (m == NULL || m->kind == SMT_CN_NULL) {
        return 0;
    }
    if (m->kind == SMT_CN_SCALAR && strcmp(m->s, "drop") == 0) {
        return 0;
    }
    if (m->kind == SMT_CN_SCALAR && strcmp(m->s, "dlq") == 0) {
        pc->unrouted = SMT_UNROUTED_DLQ;
        if (pc->errors.dlq_topic == NULL) {
            return smt_diag(d, m,
                            "unrouted: dlq requires "
                            "errors.deadletterqueue.topic.name");
        }
        return 0;
    }
    if (m->kind == SMT_CN_MAP) {
        struct unrouted_opts uo = {NULL};

        if (smt_opts_load(unrouted_opts, &uo, m, NULL, &pc->arena, d) < 0) {
            return -1;
        }
        pc->unrouted = SMT_UNROUTED_TOPIC;
        pc->unrouted_topic = uo.topic;
        return 0;
    }
    return smt_diag(d, m, "'unrouted' must be drop, dlq or {topic: <name>}");
}

/* The pipeline name when the file does not give one. */
static char *default_name(struct smt_arena *a, const char *path)
{
    const char *base = strrchr(path, '/');
    const char *dot;

    base = base ? base + 1 : path;
    dot = strrchr(base, '.');
    if (dot == NULL || dot == base) {
        dot = base + strlen(base);
    }
    return smt_arena_memdup(a, base, (size_t)(dot - base));
}

/* Reads a whole file into a new heap buffer. */
static char *slurp(const char *path, size_t *len)
{
    FILE  *f = fopen(path, "rb");
    char  *buf = NULL;
    size_t cap = 0, n = 0, r;

    if (f == NULL) {
        return NULL;
    }
    do {
        if (n == cap) {
            cap = cap ? cap * 2 : 4096;
            buf = smt_xrealloc(buf, cap);
        }
        r = fread(buf + n, 1, cap - n, f);
        n += r;
    } while (r > 0 && n < (size_t)64 << 20);
    if (ferror(f)) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    *len = n;
    return buf;
}

/* The local schemas of the `schemas` section into codec c. */
static int load_local_schemas(struct smt_pipeline_conf *pc,
                              struct smt_codec *c, const struct smt_cnode *m,
                              struct smt_diags *d)
{
    uint32_t i;
    int      rc = 0;

    if (m->kind != SMT_CN_MAP) {
        return smt_diag(d, m, "'schemas' must be a mapping of schema id to "
                        "file");
    }
    for (i = 0; i < m->n; i++) {
        const struct smt_cnode *k = m->k[i], *v = m->v[i];
        struct local_opts       lo = {NULL, NULL};
        struct smt_err          err;
        char                   *end, *text;
        long long               id;
        size_t                  len;

        id = strtoll(k->s, &end, 10);
        if (k->len == 0 || *end != '\0' || k->s[0] == '-' ||
            k->s[0] == '+' || id < 0 || id > INT32_MAX) {
            rc = smt_diag(d, k, "schemas: '%s' is not a schema id "
                          "(0..2147483647)", k->s);
            continue;
        }
        if (v->kind == SMT_CN_SCALAR) {
            struct smt_cnode *map = smt_cnode_new(pc->tree, SMT_CN_MAP, v);

            smt_cnode_map_add(pc->tree, map,
                              smt_cnode_scalar(pc->tree, "file", v),
                              (struct smt_cnode *)v);
            v = map;
        }
        if (v->kind != SMT_CN_MAP) {
            rc = smt_diag(d, v, "schemas: id %lld: expected a file name or "
                          "{file, subject}", id);
            continue;
        }
        if (smt_opts_load(local_opts, &lo, v, NULL, &pc->arena, d) < 0) {
            rc = -1;
            continue;
        }
        if ((text = slurp(lo.file, &len)) == NULL) {
            rc = smt_diag(d, smt_cnode_get(v, "file"),
                          "schemas: id %lld: cannot read '%s'", id, lo.file);
            continue;
        }
        smt_err_clear(&err);
        if (smt_codec_add_local(c, (int32_t)id, lo.subject, text, len,
                                &err) < 0) {
            rc = smt_diag(d, smt_cnode_get(v, "file"),
                          "schemas: id %lld: '%s': %s", id, lo.file, err.msg);
        }
        free(text);
    }
    return rc;
}

/* Avro's schema sources: the schema.registry and schemas sections, made
 * into the pipeline's codec when a format is avro (and checked always). */
static int load_avro(struct smt_pipeline_conf *pc, const struct smt_cnode *root,
                     struct smt_diags *d)
{
    const struct smt_cnode   *srn = smt_cnode_get(root, "schema.registry");
    const struct smt_cnode   *ln = smt_cnode_get(root, "schemas");
    const struct smt_cnode   *in = smt_cnode_get(root, "input"), *at;
    struct sr_opts            so;
    struct smt_schemareg     *reg = NULL;
    struct smt_codec_conf     cc;
    int                       rc = 0, avro;

    if (srn == NULL) {
        srn = smt_cnode_get(root, "schema_registry");
    }
    memset(&so, 0, sizeof(so));
    if (srn != NULL && srn->kind != SMT_CN_MAP && srn->kind != SMT_CN_NULL) {
        return smt_diag(d, srn, "'schema.registry' must be a mapping");
    }
    if (smt_opts_load(sr_opts, &so, srn && srn->kind == SMT_CN_MAP ? srn
                                                                   : NULL,
                      NULL, &pc->arena, d) < 0) {
        return -1;
    }
    avro = pc->key_fmt == SMT_FMT_AVRO || pc->value_fmt == SMT_FMT_AVRO;
    if (ln != NULL && ln->kind == SMT_CN_NULL) {
        ln = NULL;
    }
    if (avro && so.url == NULL && ln == NULL) {
        at = in != NULL ? smt_cnode_get(in, pc->value_fmt == SMT_FMT_AVRO
                                                ? "value.format"
                                                : "key.format")
                        : NULL;
        return smt_diag(d, at != NULL ? at : in,
                        "avro needs 'schema.registry' with a 'url', or "
                        "local 'schemas'");
    }
    if (so.url != NULL) {
        struct smt_schemareg_conf rcf;
        struct smt_err            err;

        memset(&rcf, 0, sizeof(rcf));
        rcf.url = so.url;
        rcf.basic_auth_user_info = so.user_info;
        rcf.ssl_ca_location = so.ca;
        rcf.ssl_cert_location = so.cert;
        rcf.ssl_key_location = so.key;
        rcf.ssl_verify = so.verify;
        rcf.timeout_ms = so.timeout_ms;
        smt_err_clear(&err);
        reg = smt_schemareg_new(&rcf, &err);
        if (reg == NULL) {
            return smt_diag(d, smt_cnode_get(srn, "url"),
                            "schema.registry: %s", err.msg);
        }
    }
    cc.auto_register = so.auto_register;
    cc.use_latest = so.use_latest;
    pc->codec = smt_codec_new(reg, &cc);
    if (ln != NULL && load_local_schemas(pc, pc->codec, ln, d) < 0) {
        rc = -1;
    }
    return rc;
}

/* Loads pc from its tree's root map (YAML, or synthesised from a connector
 * config when connect is set). */
static int load_root(struct smt_pipeline_conf *pc, const struct smt_cnode *root,
                     int connect, struct smt_diags *d)
{
    struct top_opts         top = {NULL};
    const struct smt_cnode *preds;
    int                     rc = 0;

    if (root == NULL || root->kind == SMT_CN_NULL) {
        return smt_diag(d, root, "configuration is empty");
    }
    if (root->kind != SMT_CN_MAP) {
        return smt_diag(d, root, "a pipeline must be a mapping");
    }
    pc->extra = root;
    root = known_keys(pc->tree, root, top_opts, top_extra, "section", 1, &rc,
                      d);
    if (smt_opts_load(top_opts, &top, root, top_extra, &pc->arena, d) < 0) {
        rc = -1;
    }
    pc->name = top.name ? top.name : default_name(&pc->arena, pc->tree->file);
    if (load_kv(&pc->kafka, smt_cnode_get(root, "kafka"), "kafka", &pc->arena,
                d) < 0 ||
        load_kv(&pc->consumer, smt_cnode_get(root, "consumer"), "consumer",
                &pc->arena, d) < 0 ||
        load_kv(&pc->producer, smt_cnode_get(root, "producer"), "producer",
                &pc->arena, d) < 0) {
        rc = -1;
    }
    if (load_input(pc, smt_cnode_get(root, "input"), root, connect, d) < 0) {
        rc = -1;
    } else if (load_avro(pc, root, d) < 0) {
        rc = -1;
    }
    if (load_errors(pc, &pc->errors, smt_cnode_get(root, "errors"), 0, d) < 0) {
        rc = -1;
    } else if (check_dlq(pc, &pc->errors,
                         errors_view(pc->tree, smt_cnode_get(root, "errors")),
                         d) < 0) {
        rc = -1;
    }
    preds = smt_cnode_get(root, "predicates");
    if (check_predicates(pc, preds, d) < 0) {
        rc = -1;
    }
    if (preds != NULL && preds->kind != SMT_CN_MAP) {
        preds = NULL;
    }
    if (load_routes(pc, smt_cnode_get(root, "routes"), root, preds, d) < 0) {
        rc = -1;
    }
    if (load_unrouted(pc, smt_cnode_get(root, "unrouted"), d) < 0) {
        rc = -1;
    }
    return rc;
}

/* ---------------------------------------------------------------------- */
/* Connect connector config -> pipeline tree */

struct adapt {
    struct smt_ctree       *t;
    const struct smt_cnode *flat;
    struct smt_diags       *d;
    int                     rc;
};

/* Splits a comma list value into trimmed items (arena strings). */
static char **split_list(struct smt_arena *a, const char *s, uint32_t *n)
{
    struct smt_opt     o = {"list", SMT_OPT_STRLIST, NULL, 0, 0, 0, NULL, 0,
                            "list"};
    struct smt_strlist l = {0, NULL};
    const char        *why;

    smt_opt_parse(&o, &l, s, a, &why);
    *n = l.n;
    return l.v;
}

static struct smt_cnode *map_child(struct adapt *ad, struct smt_cnode *map,
                                   const char *key,
                                   const struct smt_cnode *pos)
{
    struct smt_cnode *c = smt_cnode_get(map, key);

    if (c == NULL) {
        c = smt_cnode_new(ad->t, SMT_CN_MAP, pos);
        smt_cnode_map_add(ad->t, map, smt_cnode_scalar(ad->t, key, pos), c);
    }
    return c;
}

/* A JsonConverter/StringConverter/... class to our format name. */
static const char *converter_format(struct adapt *ad, const char *side)
{
    char                    key[64];
    const struct smt_cnode *cv, *se;
    int                     schemas = 1;

    snprintf(key, sizeof(key), "%s.converter", side);
    cv = smt_cnode_get(ad->flat, key);
    if (cv == NULL || cv->kind != SMT_CN_SCALAR) {
        return NULL;
    }
    snprintf(key, sizeof(key), "%s.converter.schemas.enable", side);
    se = smt_cnode_get(ad->flat, key);
    if (se != NULL && se->kind == SMT_CN_SCALAR) {
        if (strcasecmp(se->s, "false") == 0) {
            schemas = 0;
        } else if (strcasecmp(se->s, "true") != 0) {
            ad->rc = smt_diag(ad->d, se, "option '%s': must be true or false",
                              key);
        }
    }
    if (strcmp(cv->s, "org.apache.kafka.connect.json.JsonConverter") == 0) {
        return schemas ? "json_envelope" : "json";
    }
    if (strcmp(cv->s, "org.apache.kafka.connect.storage.StringConverter") ==
        0) {
        return "string";
    }
    if (strcmp(cv->s,
               "org.apache.kafka.connect.converters.ByteArrayConverter") ==
        0) {
        return "bytes";
    }
    if (strcmp(cv->s, "io.confluent.connect.avro.AvroConverter") == 0) {
        return "avro";
    }
    ad->rc = smt_diag(ad->d, cv, "unsupported converter '%s'", cv->s);
    return NULL;
}

/* Adds every "<prefix><alias>.<k>" entry of the flat map to the per-alias
 * maps under `into` (keys without the prefix and alias). Aliases in
 * `listed` win over splitting at the first dot, so they may contain dots. */
static void gather(struct adapt *ad, struct smt_cnode *into, const char *prefix,
                   char **listed, uint32_t nlisted)
{
    size_t   pl = strlen(prefix);
    uint32_t i, j;

    for (i = 0; i < ad->flat->n; i++) {
        const struct smt_cnode *k = ad->flat->k[i];
        const char             *rest, *dot = NULL;
        size_t                  best = 0;
        char                   *alias;
        struct smt_cnode       *m;

        if (strncmp(k->s, prefix, pl) != 0) {
            continue;
        }
        rest = k->s + pl;
        for (j = 0; j < nlisted; j++) {
            size_t al = strlen(listed[j]);

            if (al > best && strncmp(rest, listed[j], al) == 0 &&
                rest[al] == '.') {
                best = al;
                dot = rest + al;
            }
        }
        if (dot == NULL) {
            dot = strchr(rest, '.');
        }
        if (dot == NULL || dot == rest || dot[1] == '\0') {
            continue;
        }
        alias = smt_arena_memdup(&ad->t->arena, rest, (size_t)(dot - rest));
        m = map_child(ad, into, alias, k);
        smt_cnode_map_add(ad->t, m, smt_cnode_scalar(ad->t, dot + 1, k),
                          ad->flat->v[i]);
    }
}

/* AvroConverter's settings of one side ("<side>.converter.x") into the
 * schema.registry map sr. The key and the value converter share one
 * registry client here, so where both give a key they must agree. */
static void avro_converter_keys(struct adapt *ad, struct smt_cnode *sr,
                                const char *side)
{
    static const char *const map[][2] = {
        {"schema.registry.url", "url"},
        {"basic.auth.user.info", "basic.auth.user.info"},
        {"schema.registry.basic.auth.user.info", "basic.auth.user.info"},
        {"auto.register.schemas", "auto.register.schemas"},
        {"use.latest.version", "use.latest.version"},
    };
    char     key[96];
    size_t   i;

    for (i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        struct smt_cnode       *v;
        const struct smt_cnode *old;

        snprintf(key, sizeof(key), "%s.converter.%s", side, map[i][0]);
        v = smt_cnode_get(ad->flat, key);
        if (v == NULL || v->kind != SMT_CN_SCALAR) {
            continue;
        }
        old = smt_cnode_get(sr, map[i][1]);
        if (old != NULL) {
            if (strcmp(old->s, v->s) != 0) {
                ad->rc = smt_diag(ad->d, v, "'%s' differs from the value "
                                  "converter's; smtproxy uses one schema "
                                  "registry for keys and values", key);
            }
            continue;
        }
        smt_cnode_map_add(ad->t, sr, smt_cnode_scalar(ad->t, map[i][1], v),
                          v);
    }
    snprintf(key, sizeof(key), "%s.converter.basic.auth.credentials.source",
             side);
    {
        const struct smt_cnode *v = smt_cnode_get(ad->flat, key);

        if (v != NULL && v->kind == SMT_CN_SCALAR &&
            strcmp(v->s, "USER_INFO") != 0) {
            ad->rc = smt_diag(ad->d, v, "'%s': only USER_INFO is supported",
                              key);
        }
    }
}

static struct smt_cnode *connect_tree(struct smt_ctree *t,
                                      struct smt_diags *d)
{
    struct adapt            ad = {t, t->root, d, 0};
    struct smt_cnode       *flat = t->root, *v;
    struct smt_cnode       *root, *input, *errors, *preds, *steps, *route,
        *routes, *tsteps, *consumer, *producer;
    char                  **aliases = NULL, **paliases = NULL;
    uint32_t                na = 0, npa = 0, i, j;
    const char             *fmt;

    root = smt_cnode_new(t, SMT_CN_MAP, flat);
    if ((v = smt_cnode_get(flat, "name")) != NULL && v->kind != SMT_CN_NULL) {
        smt_cnode_map_add(t, root, smt_cnode_scalar(t, "name", v), v);
    }

    /* input */
    input = map_child(&ad, root, "input", flat);
    v = smt_cnode_get(flat, "topics");
    if (v != NULL && v->kind == SMT_CN_NULL) {
        v = NULL;
    }
    if (v != NULL) {
        smt_cnode_map_add(t, input, smt_cnode_scalar(t, "topics", v), v);
    }
    {
        struct smt_cnode *rx = smt_cnode_get(flat, "topics.regex");
        int has_topics = v != NULL && v->kind == SMT_CN_SCALAR &&
                         strspn(v->s, " \t,") != v->len;

        if (rx != NULL && rx->kind == SMT_CN_SCALAR &&
            strspn(rx->s, " \t") != rx->len) {
            if (has_topics) {
                ad.rc = smt_diag(d, rx,
                                 "topics and topics.regex are mutually "
                                 "exclusive options, but both are set.");
            }
            smt_cnode_map_add(t, input, smt_cnode_scalar(t, "topic.regex", rx),
                              rx);
        }
    }
    if ((fmt = converter_format(&ad, "key")) != NULL) {
        v = smt_cnode_get(flat, "key.converter");
        smt_cnode_map_add(t, input, smt_cnode_scalar(t, "key.format", v),
                          smt_cnode_scalar(t, fmt, v));
    }
    if ((fmt = converter_format(&ad, "value")) != NULL) {
        v = smt_cnode_get(flat, "value.converter");
        smt_cnode_map_add(t, input, smt_cnode_scalar(t, "value.format", v),
                          smt_cnode_scalar(t, fmt, v));
        if (strcmp(fmt, "avro") == 0) {
            avro_converter_keys(&ad, map_child(&ad, root, "schema.registry",
                                               v),
                                "value");
        }
    }
    if ((fmt = converter_format(&ad, "key")) != NULL &&
        strcmp(fmt, "avro") == 0) {
        avro_converter_keys(&ad, map_child(&ad, root, "schema.registry",
                                           smt_cnode_get(flat,
                                                         "key.converter")),
                            "key");
    }

    /* errors.*, consumer.override.*, producer.override.* */
    errors = smt_cnode_new(t, SMT_CN_MAP, flat);
    consumer = smt_cnode_new(t, SMT_CN_MAP, flat);
    producer = smt_cnode_new(t, SMT_CN_MAP, flat);
    for (i = 0; i < flat->n; i++) {
        const struct smt_cnode *k = flat->k[i];

        if (strncmp(k->s, "errors.", 7) == 0) {
            smt_cnode_map_add(t, errors, flat->k[i], flat->v[i]);
        } else if (strncmp(k->s, "consumer.override.", 18) == 0) {
            smt_cnode_map_add(t, consumer, smt_cnode_scalar(t, k->s + 18, k),
                              flat->v[i]);
        } else if (strncmp(k->s, "producer.override.", 18) == 0) {
            smt_cnode_map_add(t, producer, smt_cnode_scalar(t, k->s + 18, k),
                              flat->v[i]);
        }
    }
    smt_cnode_map_add(t, root, smt_cnode_scalar(t, "errors", flat), errors);
    smt_cnode_map_add(t, root, smt_cnode_scalar(t, "consumer", flat),
                      consumer);
    smt_cnode_map_add(t, root, smt_cnode_scalar(t, "producer", flat),
                      producer);

    /* predicates */
    v = smt_cnode_get(flat, "predicates");
    if (v != NULL && v->kind == SMT_CN_SCALAR) {
        paliases = split_list(&t->arena, v->s, &npa);
    }
    preds = smt_cnode_new(t, SMT_CN_MAP, flat);
    gather(&ad, preds, "predicates.", paliases, npa);
    for (i = 0; i < npa; i++) {
        struct smt_cnode *p = smt_cnode_get(preds, paliases[i]);

        if (p == NULL || smt_cnode_get(p, "type") == NULL) {
            ad.rc = smt_diag(d, v,
                             "Invalid value null for configuration "
                             "predicates.%s.type: Not a Predicate",
                             paliases[i]);
        }
    }
    smt_cnode_map_add(t, root, smt_cnode_scalar(t, "predicates", flat), preds);

    /* transforms: one step map per alias, in list order */
    v = smt_cnode_get(flat, "transforms");
    if (v != NULL && v->kind == SMT_CN_SCALAR) {
        aliases = split_list(&t->arena, v->s, &na);
    }
    for (i = 0; i < na; i++) {
        for (j = 0; j < i; j++) {
            if (strcmp(aliases[i], aliases[j]) == 0) {
                break;
            }
        }
        if (j < i) {
            ad.rc = smt_diag(d, v, "Duplicate alias provided.");
            na = 0;
            break;
        }
    }
    tsteps = smt_cnode_new(t, SMT_CN_MAP, flat);
    gather(&ad, tsteps, "transforms.", aliases, na);
    steps = smt_cnode_new(t, SMT_CN_SEQ, v ? v : flat);
    for (i = 0; i < na; i++) {
        struct smt_cnode *src = smt_cnode_get(tsteps, aliases[i]);
        struct smt_cnode *step = smt_cnode_new(t, SMT_CN_MAP, v);
        const struct smt_cnode *neg, *pred;

        smt_cnode_map_add(t, step, smt_cnode_scalar(t, "name", v),
                          smt_cnode_scalar(t, aliases[i], v));
        if (src == NULL || smt_cnode_get(src, "type") == NULL ||
            smt_cnode_get(src, "type")->kind == SMT_CN_NULL) {
            ad.rc = smt_diag(d, v,
                             "Missing required configuration "
                             "\"transforms.%s.type\" which has no default "
                             "value.",
                             aliases[i]);
            continue;
        }
        neg = smt_cnode_get(src, "negate");
        pred = smt_cnode_get(src, "predicate");
        if (pred != NULL && pred->kind == SMT_CN_NULL) {
            pred = NULL;
        }
        if (neg != NULL && neg->kind != SMT_CN_NULL && pred == NULL) {
            uint32_t k;

            for (k = 0; k < src->n && src->v[k] != neg; k++) {
            }
            ad.rc = smt_diag(d, k < src->n ? src->k[k] : neg,
                             "Config 'transforms.%s.negate' was provided but "
                             "there is no config 'transforms.%s.predicate' "
                             "defining a predicate to be negated.",
                             aliases[i], aliases[i]);
            continue;
        }
        for (j = 0; j < src->n; j++) {
            if (strcmp(src->k[j]->s, "name") == 0 ||
                strcmp(src->k[j]->s, "if") == 0) {
                /* would collide with our step keys */
                ad.rc = smt_diag(d, src->k[j],
                                 "transforms.%s.%s: '%s' is reserved",
                                 aliases[i], src->k[j]->s, src->k[j]->s);
                continue;
            }
            smt_cnode_map_add(t, step, src->k[j], src->v[j]);
        }
        smt_cnode_seq_add(t, steps, step);
    }

    /* the one route */
    routes = smt_cnode_new(t, SMT_CN_SEQ, flat);
    route = smt_cnode_new(t, SMT_CN_MAP, flat);
    v = smt_cnode_get(flat, "name");
    smt_cnode_map_add(t, route, smt_cnode_scalar(t, "name", flat),
                      v != NULL && v->kind == SMT_CN_SCALAR && v->len > 0
                          ? v
                          : smt_cnode_scalar(t, "default", flat));
    smt_cnode_map_add(t, route, smt_cnode_scalar(t, "transforms", flat), steps);
    smt_cnode_seq_add(t, routes, route);
    smt_cnode_map_add(t, root, smt_cnode_scalar(t, "routes", flat), routes);
    return ad.rc < 0 ? NULL : root;
}

/* ---------------------------------------------------------------------- */

static struct smt_pipeline_conf *pc_new(struct smt_ctree *t)
{
    struct smt_pipeline_conf *pc = smt_xcalloc(1, sizeof(*pc));

    smt_arena_init(&pc->arena, 16384);
    pc->tree = t;
    return pc;
}

void smt_pipeline_conf_free(struct smt_pipeline_conf *pc)
{
    uint32_t i;

    if (pc == NULL) {
        return;
    }
    for (i = 0; i < pc->nroutes; i++) {
        smt_chain_conf_fini(&pc->routes[i].chain);
        smt_cond_free(pc->routes[i].cond);
    }
    smt_codec_free(pc->codec);
    smt_ctree_free(pc->tree);
    smt_arena_fini(&pc->arena);
    free(pc);
}

static struct smt_pipeline_conf *load_tree(struct smt_ctree *t, int connect,
                                           struct smt_diags *d)
{
    struct smt_pipeline_conf *pc;
    const struct smt_cnode   *root = t->root;

    if (connect) {
        root = connect_tree(t, d);
        if (root == NULL) {
            smt_ctree_free(t);
            return NULL;
        }
    }
    pc = pc_new(t);
    if (load_root(pc, root, connect, d) < 0) {
        smt_pipeline_conf_free(pc);
        return NULL;
    }
    return pc;
}

struct smt_pipeline_conf *smt_pipeline_conf_load_yaml(const char *name,
                                                      const char *buf,
                                                      size_t len,
                                                      struct smt_diags *d)
{
    struct smt_ctree *t = smt_ctree_yaml_buf(name, buf, len, d);

    return t ? load_tree(t, 0, d) : NULL;
}

struct smt_pipeline_conf *smt_pipeline_conf_load_connect(const char *name,
                                                         const char *buf,
                                                         size_t len,
                                                         struct smt_diags *d)
{
    struct smt_ctree *t = smt_ctree_connect_buf(name, buf, len, d);

    return t ? load_tree(t, 1, d) : NULL;
}

static int has_ext(const char *path, const char *ext)
{
    size_t pl = strlen(path), el = strlen(ext);

    return pl > el && strcasecmp(path + pl - el, ext) == 0;
}

struct smt_pipeline_conf *smt_pipeline_conf_load(const char *path,
                                                 struct smt_diags *d)
{
    struct smt_ctree *t;

    if (has_ext(path, ".yaml") || has_ext(path, ".yml")) {
        t = smt_ctree_yaml_file(path, d);
        return t ? load_tree(t, 0, d) : NULL;
    }
    if (has_ext(path, ".properties") || has_ext(path, ".json")) {
        t = smt_ctree_connect_file(path, d);
        return t ? load_tree(t, 1, d) : NULL;
    }
    smt_diag_pos(d, path, 0, 0,
                 "unknown configuration file type (expected .yaml, .yml, "
                 ".properties or .json)");
    return NULL;
}

/*
 * t_predicates.c - Kafka Connect's three predicates: TopicNameMatches,
 * HasHeaderKey and RecordIsTombstone.
 *
 * A predicate is declared once in the pipeline's `predicates:` map and
 * gates a step through `predicate:` (and `negate:`); it can also be a leaf
 * of an `if:` condition ({predicate: name}). See docs/conditions.md.
 *
 *   predicates:
 *     is_bar:    {type: TopicNameMatches, pattern: "bar-.*"}
 *     traced:    {type: HasHeaderKey, name: trace-id}
 *     tombstone: {type: RecordIsTombstone}
 *
 * TopicNameMatches is true when the regex matches the whole topic;
 * HasHeaderKey when at least one header has exactly that name;
 * RecordIsTombstone when the value is null (the key does not matter).
 * Config errors keep Connect's texts ("String must be non-empty",
 * "Invalid regex").
 *
 * Differences from Kafka Connect: with a JSON value format, the value bytes
 * "null" decode to null and count as a tombstone, as they do after
 * Connect's JsonConverter.
 */
#include "regex.h"
#include "tutil.h"

/* ---------------------------------------------------------------------- */
/* TopicNameMatches */

struct tnm_conf {
    char *pattern;
};

static int tnm_init(struct smt_inst *inst, struct smt_err *err)
{
    const struct tnm_conf *conf = inst->conf;
    struct smt_regex      *re;

    if (conf->pattern == NULL || conf->pattern[0] == '\0') {
        return smt_err_set(err, SMT_E_CONFIG,
                           "Invalid value %s for configuration pattern: "
                           "String must be non-empty",
                           conf->pattern ? conf->pattern : "null");
    }
    re = smt_regex_new(conf->pattern, err);
    if (re == NULL) {
        return smt_err_prefix(err,
                              "Invalid value %s for configuration pattern: ",
                              conf->pattern);
    }
    inst->state = re;
    return 0;
}

static int tnm_test(const struct smt_inst *inst, struct smt_record *rec,
                    struct smt_err *err)
{
    int rc;

    if (rec->topic.ptr == NULL) {
        return 0;
    }
    rc = smt_regex_matches(inst->state, rec->topic.ptr, rec->topic.len);
    if (rc < 0) {
        return smt_err_set(err, SMT_E_DATA,
                           "regex match failed on topic '%.*s'",
                           (int)rec->topic.len, rec->topic.ptr);
    }
    return rc;
}

static void tnm_destroy(struct smt_inst *inst)
{
    smt_regex_free(inst->state);
    inst->state = NULL;
}

static const struct smt_opt tnm_opts[] = {
    {"pattern", SMT_OPT_STR, NULL, offsetof(struct tnm_conf, pattern), 0, 0,
     NULL, 0, "Regular expression that must match the whole topic"},
    {0},
};

const struct smt_transform smt_topic_name_matches = {
    .name = "topic_name_matches",
    .connect = "TopicNameMatches",
    .pkg = "org.apache.kafka.connect.transforms.predicates",
    .doc = "True when a regex matches the whole topic",
    .opts = tnm_opts,
    .conf_size = sizeof(struct tnm_conf),
    .flags = SMT_F_PREDICATE,
    .init = tnm_init,
    .test = tnm_test,
    .destroy = tnm_destroy,
};

/* ---------------------------------------------------------------------- */
/* HasHeaderKey */

struct hhk_conf {
    char *name;
};

static int hhk_init(struct smt_inst *inst, struct smt_err *err)
{
    const struct hhk_conf *conf = inst->conf;

    if (conf->name == NULL || conf->name[0] == '\0') {
        return smt_err_set(err, SMT_E_CONFIG,
                           "Invalid value %s for configuration name: "
                           "String must be non-empty",
                           conf->name ? conf->name : "null");
    }
    return 0;
}

static int hhk_test(const struct smt_inst *inst, struct smt_record *rec,
                    struct smt_err *err)
{
    const struct hhk_conf *conf = inst->conf;

    (void)err;
    return smt_record_header_last(rec, smt_bytes_str(conf->name)) != NULL;
}

static const struct smt_opt hhk_opts[] = {
    {"name", SMT_OPT_STR, NULL, offsetof(struct hhk_conf, name), 0, 0, NULL,
     0, "Header name (exact, case-sensitive)"},
    {0},
};

const struct smt_transform smt_has_header_key = {
    .name = "has_header_key",
    .connect = "HasHeaderKey",
    .pkg = "org.apache.kafka.connect.transforms.predicates",
    .doc = "True when the record has a header with the given name",
    .opts = hhk_opts,
    .conf_size = sizeof(struct hhk_conf),
    .flags = SMT_F_PREDICATE,
    .init = hhk_init,
    .test = hhk_test,
};

/* ---------------------------------------------------------------------- */
/* RecordIsTombstone */

static int rit_test(const struct smt_inst *inst, struct smt_record *rec,
                    struct smt_err *err)
{
    const struct smt_val *v;

    (void)inst;
    if (rec->value.state == SMT_DS_RAW) {
        if (rec->value.raw.ptr == NULL) {
            return 1;
        }
        /* Only JSON bytes can decode to null; other formats cannot. */
        if (rec->value.fmt != SMT_FMT_JSON &&
            rec->value.fmt != SMT_FMT_JSON_ENVELOPE) {
            return 0;
        }
    }
    v = smt_record_doc(rec, SMT_VALUE, err);
    if (v == NULL) {
        return -1;
    }
    return v->type == SMT_NULL;
}

static const struct smt_opt rit_opts[] = {
    {0},
};

const struct smt_transform smt_record_is_tombstone = {
    .name = "record_is_tombstone",
    .connect = "RecordIsTombstone",
    .pkg = "org.apache.kafka.connect.transforms.predicates",
    .doc = "True when the record value is null",
    .opts = rit_opts,
    .conf_size = 0,
    .flags = SMT_F_PREDICATE,
    .test = rit_test,
};

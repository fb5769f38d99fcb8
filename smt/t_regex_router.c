/*
 * t_regex_router.c - RegexRouter: renames the topic with a regex and a
 * replacement.
 *
 * Kafka Connect's org.apache.kafka.connect.transforms.RegexRouter. The
 * topic is changed only when the regex matches the whole topic (Java's
 * Matcher.matches()); the new name is then Matcher.replaceFirst(), which
 * replaces the first *found* match: with `a|ab` the topic "ab" becomes
 * "Xb". The replacement uses Java's syntax: $n (digits taken while they
 * name a group), ${name}, backslash escapes. A bad reference ("$2" with one
 * group) fails each record it meets, as in Connect; it is not a config
 * error. Only the topic changes; key, value, headers and partition stay.
 *
 *   transforms:
 *     - type: RegexRouter
 *       regex: "sensors\\.(.*)"
 *       replacement: "archive.$1"
 *
 * Differences from Kafka Connect: the pattern dialect is PCRE2's (see
 * regex.c for the few places it differs from java.util.regex).
 */
#include "regex.h"
#include "tutil.h"

struct rr_conf {
    char *regex;
    char *replacement;
};

static int rr_init(struct smt_inst *inst, struct smt_err *err)
{
    const struct rr_conf *conf = inst->conf;
    struct smt_regex     *re;

    re = smt_regex_new(conf->regex, err);
    if (re == NULL) {
        return smt_err_prefix(err, "Invalid value %s for configuration regex: ",
                              conf->regex ? conf->regex : "null");
    }
    inst->state = re;
    return 0;
}

static enum smt_verdict rr_apply(struct smt_inst *inst, struct smt_record *rec,
                                 struct smt_err *err)
{
    const struct rr_conf   *conf = inst->conf;
    const struct smt_regex *re = inst->state;
    struct smt_bytes        topic;
    int                     rc;

    if (rec->topic.ptr == NULL) {
        return SMT_PASS;
    }
    rc = smt_regex_matches(re, rec->topic.ptr, rec->topic.len);
    if (rc < 0) {
        smt_err_set(err, SMT_E_DATA, "regex match failed on topic '%.*s'",
                    (int)rec->topic.len, rec->topic.ptr);
        return SMT_FAIL;
    }
    if (rc == 0) {
        return SMT_PASS;
    }
    if (smt_regex_replace_first(re, rec->arena, rec->topic, conf->replacement,
                                &topic, err) < 0) {
        return SMT_FAIL;
    }
    smt_record_set_topic(rec, topic);
    return SMT_PASS;
}

static void rr_destroy(struct smt_inst *inst)
{
    smt_regex_free(inst->state);
    inst->state = NULL;
}

static const struct smt_opt rr_opts[] = {
    {"regex", SMT_OPT_STR, NULL, offsetof(struct rr_conf, regex), 0, 0, NULL,
     0, "Regular expression that must match the whole topic"},
    {"replacement", SMT_OPT_STR, NULL, offsetof(struct rr_conf, replacement),
     0, 0, NULL, 0,
     "New topic, Java replacement syntax ($1, ${name}, \\$ for a dollar)"},
    {0},
};

const struct smt_transform smt_regex_router = {
    .name = "regex_router",
    .connect = "RegexRouter",
    .pkg = "org.apache.kafka.connect.transforms",
    .doc = "Rename the topic when a regex matches it entirely",
    .opts = rr_opts,
    .conf_size = sizeof(struct rr_conf),
    .flags = 0,
    .init = rr_init,
    .apply = rr_apply,
    .destroy = rr_destroy,
};

/*
 * t_filter.c - Filter: drops every record it is applied to.
 *
 * Kafka Connect's org.apache.kafka.connect.transforms.Filter. It is meant
 * to be gated: by a Connect predicate (`predicate:` and `negate:`), or by
 * one of our conditions (`if:`). A dropped record ends its chain; that is
 * not an error, nothing goes to the dead letter queue.
 *
 *   predicates:
 *     is_bar: {type: TopicNameMatches, pattern: "bar-.*"}
 *   transforms:
 *     - type: Filter
 *       predicate: is_bar
 *     - type: Filter
 *       if: {field: level, equals: debug}
 *
 * Differences from Kafka Connect: none.
 */
#include "transform.h"

static enum smt_verdict filter_apply(struct smt_inst *inst,
                                     struct smt_record *rec,
                                     struct smt_err *err)
{
    (void)inst;
    (void)rec;
    (void)err;
    return SMT_DROP;
}

static const struct smt_opt filter_opts[] = {
    {0},
};

const struct smt_transform smt_filter = {
    .name = "filter",
    .connect = "Filter",
    .pkg = "org.apache.kafka.connect.transforms",
    .doc = "Drop the record (use with a predicate or an if: condition)",
    .opts = filter_opts,
    .conf_size = 0,
    .flags = 0,
    .apply = filter_apply,
};

/*
 * t_drop_headers.c - DropHeaders: removes every header whose name is in
 * the configured list; the other headers keep their order.
 *
 * Kafka Connect's org.apache.kafka.connect.transforms.DropHeaders. Names
 * compare exactly (case-sensitive); names that are not present are fine;
 * an empty list is a configuration error.
 *
 *   transforms:
 *     - type: DropHeaders
 *       headers: [trace-id, debug]
 *
 * Differences from Kafka Connect: none.
 */
#include "tutil.h"

struct drop_conf {
    struct smt_strlist headers;
};

static int drop_init(struct smt_inst *inst, struct smt_err *err)
{
    const struct drop_conf *conf = inst->conf;

    if (conf->headers.n == 0) {
        return smt_err_empty_list(err, "headers");
    }
    return 0;
}

static enum smt_verdict drop_apply(struct smt_inst *inst,
                                   struct smt_record *rec, struct smt_err *err)
{
    const struct drop_conf *conf = inst->conf;
    uint32_t                i;

    (void)err;
    for (i = 0; i < conf->headers.n && rec->nhdrs > 0; i++) {
        smt_record_header_del(rec, smt_bytes_str(conf->headers.v[i]));
    }
    return SMT_PASS;
}

static const struct smt_opt drop_opts[] = {
    {"headers", SMT_OPT_STRLIST, NULL, offsetof(struct drop_conf, headers), 0,
     0, NULL, 0, "Names of the headers to remove"},
    {0},
};

const struct smt_transform smt_drop_headers = {
    .name = "drop_headers",
    .connect = "DropHeaders",
    .pkg = "org.apache.kafka.connect.transforms",
    .doc = "Remove every header with one of the given names",
    .opts = drop_opts,
    .conf_size = sizeof(struct drop_conf),
    .flags = 0,
    .init = drop_init,
    .apply = drop_apply,
};

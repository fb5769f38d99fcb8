/*
 * t_insert_header.c - InsertHeader: appends one header with a fixed value
 * to every record.
 *
 * Kafka Connect's org.apache.kafka.connect.transforms.InsertHeader. The
 * header is appended: an existing header of the same name stays, and the
 * new one follows it. Connect parses `value.literal` once with
 * Values.parseString and the SimpleHeaderConverter writes the typed value
 * back as text, so the bytes on the wire can differ from the literal:
 * "1.0" is written "1", "[true, false]" "[true,false]", "3.14159265358979"
 * "3.1415927" (a FLOAT32), and "null" gives a header without a value. This
 * transform writes exactly those bytes (computed once, at init).
 *
 *   transforms:
 *     - type: InsertHeader
 *       header: source
 *       value.literal: smtproxy
 *
 * Differences from Kafka Connect: none on the wire (Connect's in-memory
 * header also carries the inferred schema, which a Kafka header cannot).
 */
#include "tutil.h"
#include "values.h"

#include <stdlib.h>

struct ih_conf {
    char *header;
    char *value_literal;
};

struct ih_state {
    struct smt_bytes value; /* the bytes written; ptr NULL = null value */
};

static int ih_init(struct smt_inst *inst, struct smt_err *err)
{
    const struct ih_conf *conf = inst->conf;
    struct ih_state      *st;
    struct smt_arena      a;
    struct smt_bytes      v;

    if (conf->header == NULL || conf->value_literal == NULL) {
        return smt_err_set(err, SMT_E_CONFIG,
                           "Missing required configuration \"%s\" which has "
                           "no default value.",
                           conf->header == NULL ? "header" : "value.literal");
    }
    smt_arena_init(&a, 1024);
    smt_values_normalize(&a, smt_bytes_str(conf->value_literal), &v);
    st = smt_xcalloc(1, sizeof(*st));
    if (v.ptr != NULL) {
        st->value.ptr = smt_xstrndup(v.ptr, v.len);
        st->value.len = v.len;
    }
    smt_arena_fini(&a);
    inst->state = st;
    return 0;
}

static enum smt_verdict ih_apply(struct smt_inst *inst, struct smt_record *rec,
                                 struct smt_err *err)
{
    const struct ih_conf  *conf = inst->conf;
    const struct ih_state *st = inst->state;

    (void)err;
    smt_record_header_add(rec, smt_bytes_str(conf->header), st->value);
    return SMT_PASS;
}

static void ih_destroy(struct smt_inst *inst)
{
    struct ih_state *st = inst->state;

    if (st != NULL) {
        free((char *)st->value.ptr);
        free(st);
        inst->state = NULL;
    }
}

static const struct smt_opt ih_opts[] = {
    {"header", SMT_OPT_STR, NULL, offsetof(struct ih_conf, header), 0, 0, NULL,
     0, "Name of the header to append"},
    {"value.literal", SMT_OPT_STR, NULL,
     offsetof(struct ih_conf, value_literal), 0, 0, NULL, 0,
     "Header value; typed like Connect's Values.parseString and written "
     "back as SimpleHeaderConverter would"},
    {0},
};

const struct smt_transform smt_insert_header = {
    .name = "insert_header",
    .connect = "InsertHeader",
    .pkg = "org.apache.kafka.connect.transforms",
    .doc = "Append a header with a fixed value",
    .opts = ih_opts,
    .conf_size = sizeof(struct ih_conf),
    .flags = 0,
    .init = ih_init,
    .apply = ih_apply,
    .destroy = ih_destroy,
};

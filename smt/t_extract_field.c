/*
 * t_extract_field.c - ExtractField: replaces the key or value with one of
 * its fields.
 *
 * Behaviour is Kafka Connect's ExtractField$Key/$Value, including KIP-821's
 * field.syntax.version (V1: the whole text is one field name; V2: a dotted
 * path, backticks quote names that contain dots). Schemaless: a null
 * operand passes unchanged, a non-map fails, a missing field gives null
 * (for $Value the record becomes a tombstone). Schema'd: a field missing
 * from the schema fails with IllegalArgumentException "Unknown field: <f>"
 * (even when the value is null); the new schema is the field's schema and
 * (replace.null.with.default) a null field with a default gives the
 * default.
 *
 *   transforms:
 *     - type: ExtractField$Key
 *       field: id
 *
 * Differences from Kafka Connect: none intended. The extracted subtree
 * keeps its source text, so it is forwarded byte for byte.
 */
#include "tutil.h"

#include <stdlib.h>

struct ef_conf {
    char *field;
    char *field_syntax_version;
    int   replace_null_with_default;
};

struct ef_state {
    struct smt_path path;
};

static int ef_init(struct smt_inst *inst, struct smt_err *err)
{
    const struct ef_conf *conf = inst->conf;
    struct ef_state      *st;
    int                   version;

    version = smt_syntax_check(conf->field_syntax_version, err);
    if (version < 0) {
        return -1;
    }
    st = smt_xcalloc(1, sizeof(*st));
    if (smt_path_parse(&st->path, conf->field, version, err) != 0) {
        free(st);
        return smt_err_prefix(err, "field: ");
    }
    inst->state = st;
    return 0;
}

static enum smt_verdict ef_apply(struct smt_inst *inst, struct smt_record *rec,
                                 struct smt_err *err)
{
    const struct ef_conf    *conf = inst->conf;
    const struct ef_state   *st = inst->state;
    const struct smt_schema *schema, *fs = NULL;
    const struct smt_val    *ro, *v;

    ro = smt_operand(inst, rec, &schema, err);
    if (ro == NULL) {
        return SMT_FAIL;
    }
    if (ro->type == SMT_NULL) {
        return SMT_PASS;
    }
    if (smt_require_map(ro, schema, "field extraction", err) != 0) {
        return SMT_FAIL;
    }
    if (schema != NULL) {
        fs = smt_schema_at(schema, &st->path);
        if (fs == NULL) {
            smt_err_set(err, SMT_E_ARG, "Unknown field: %s", st->path.text);
            return SMT_FAIL;
        }
    }
    v = smt_path_get(ro, &st->path);
    if (fs != NULL && conf->replace_null_with_default && fs->def != NULL &&
        (v == NULL || v->type == SMT_NULL)) {
        v = fs->def;
    }
    /* A copy: the tree read may be shared with other routes, and the next
     * step may change this one in place. */
    smt_record_set_doc(rec, smt_operand_side(inst),
                       v != NULL ? smt_val_clone(rec->arena, v) : NULL, fs);
    return SMT_PASS;
}

static void ef_destroy(struct smt_inst *inst)
{
    struct ef_state *st = inst->state;

    if (st == NULL) {
        return;
    }
    smt_path_fini(&st->path);
    free(st);
    inst->state = NULL;
}

static const struct smt_opt ef_opts[] = {
    {"field", SMT_OPT_STR, NULL, offsetof(struct ef_conf, field), 0, 0, NULL,
     0, "Field to extract (a path with field.syntax.version V2)"},
    {"field.syntax.version", SMT_OPT_STR, "V1",
     offsetof(struct ef_conf, field_syntax_version), 0, 0, smt_syntax_choices,
     0,
     "V1: field is one field name; V2: a dotted path, backticks quote names "
     "with dots"},
    {"replace.null.with.default", SMT_OPT_BOOL, "true",
     offsetof(struct ef_conf, replace_null_with_default), 0, 0, NULL, 0,
     "Schema'd only: a null field that has a default gives its default"},
    {0},
};

const struct smt_transform smt_extract_field = {
    .name = "extract_field",
    .connect = "ExtractField",
    .pkg = "org.apache.kafka.connect.transforms",
    .doc = "Replace the key or value with one of its fields",
    .opts = ef_opts,
    .conf_size = sizeof(struct ef_conf),
    .flags = SMT_F_KEYVALUE | SMT_F_NEEDS_DOC,
    .init = ef_init,
    .apply = ef_apply,
    .destroy = ef_destroy,
};

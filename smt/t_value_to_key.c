/*
 * t_value_to_key.c - ValueToKey: replaces the key with an object made of
 * fields copied from the value.
 *
 * Behaviour is Kafka Connect's ValueToKey: the new key has exactly the
 * listed fields, in the listed order; the value is not changed (and is
 * forwarded byte for byte). Schemaless: a null or non-map value fails,
 * a missing field becomes null, the key has no schema. Schema'd: the key is
 * a struct of those fields' schemas; a field missing from the schema fails
 * with "Field does not exist: <f>"; (replace.null.with.default) a null
 * field with a default is copied as its default.
 *
 *   transforms:
 *     - type: ValueToKey
 *       fields: device.id,site
 *       field.syntax.version: V2
 *
 * Differences from Kafka Connect: field.syntax.version (ours). With V2 a
 * field is a dotted path into the value and the key member is named by the
 * path's last segment ("device.id" gives key member "id"), so the key stays
 * flat like Connect's; two paths with the same last segment are a config
 * error. A path through a missing or non-object step reads as missing.
 */
#include "tutil.h"

#include <stdlib.h>

struct vk_conf {
    struct smt_strlist fields;
    int                replace_null_with_default;
    char              *field_syntax_version;
};

struct vk_state {
    struct smt_path *paths;
    uint32_t         n;
};

static int vk_init(struct smt_inst *inst, struct smt_err *err)
{
    const struct vk_conf *conf = inst->conf;
    struct vk_state      *st;
    uint32_t              i, j;
    int                   version;

    if (conf->fields.n == 0) {
        return smt_err_empty_list(err, "fields");
    }
    version = smt_syntax_check(conf->field_syntax_version, err);
    if (version < 0) {
        return -1;
    }
    st = smt_xcalloc(1, sizeof(*st));
    st->paths = smt_paths_parse(&conf->fields, version, err);
    if (st->paths == NULL) {
        free(st);
        return smt_err_prefix(err, "fields: ");
    }
    st->n = conf->fields.n;
    for (i = 0; i < st->n; i++) {
        for (j = 0; j < i && version == SMT_PATH_V2; j++) {
            if (smt_bytes_eq(smt_path_leaf(&st->paths[i]),
                             smt_path_leaf(&st->paths[j]))) {
                smt_err_set(err, SMT_E_CONFIG,
                            "fields: '%s' and '%s' would both be key field "
                            "'%.*s'",
                            st->paths[j].text, st->paths[i].text,
                            (int)smt_path_leaf(&st->paths[i]).len,
                            smt_path_leaf(&st->paths[i]).ptr);
                smt_paths_free(st->paths, st->n);
                free(st);
                return -1;
            }
        }
    }
    inst->state = st;
    return 0;
}

static enum smt_verdict vk_apply(struct smt_inst *inst, struct smt_record *rec,
                                 struct smt_err *err)
{
    const struct vk_conf    *conf = inst->conf;
    const struct vk_state   *st = inst->state;
    const struct smt_schema *schema, *fs = NULL;
    struct smt_schema       *ks = NULL;
    const struct smt_val    *value, *v;
    struct smt_val          *key;
    struct smt_bytes         leaf;
    uint32_t                 i;

    value = smt_record_doc(rec, SMT_VALUE, err);
    if (value == NULL) {
        return SMT_FAIL;
    }
    schema = rec->value.schema;
    if (smt_require_map(value, schema, "copying fields from value to key",
                        err) != 0) {
        return SMT_FAIL;
    }
    if (schema != NULL) {
        ks = smt_arena_calloc(rec->arena, sizeof(*ks));
        ks->type = SMT_OBJECT;
        ks->fields = smt_arena_alloc(rec->arena, st->n * sizeof(*ks->fields));
    }
    key = smt_val_object(rec->arena, st->n);
    for (i = 0; i < st->n; i++) {
        leaf = smt_path_leaf(&st->paths[i]);
        if (schema != NULL) {
            fs = smt_schema_at(schema, &st->paths[i]);
            if (fs == NULL) {
                smt_err_set(err, SMT_E_DATA, "Field does not exist: %s",
                            st->paths[i].text);
                return SMT_FAIL;
            }
            if (smt_schema_index(ks, leaf.ptr, leaf.len) < 0) {
                ks->fields[ks->nfields].name = leaf;
                ks->fields[ks->nfields].schema = (struct smt_schema *)fs;
                ks->nfields++;
            }
        }
        v = smt_path_get(value, &st->paths[i]);
        if (fs != NULL && conf->replace_null_with_default && fs->def != NULL &&
            (v == NULL || v->type == SMT_NULL)) {
            v = fs->def;
        }
        /* Copies: the key must not share nodes with the value, which a
         * later step may change in place. */
        smt_obj_set(rec->arena, key, leaf.ptr, leaf.len,
                    v != NULL ? smt_val_clone(rec->arena, v)
                              : smt_val_null(rec->arena));
    }
    smt_record_set_doc(rec, SMT_KEY, key, ks);
    return SMT_PASS;
}

static void vk_destroy(struct smt_inst *inst)
{
    struct vk_state *st = inst->state;

    if (st == NULL) {
        return;
    }
    smt_paths_free(st->paths, st->n);
    free(st);
    inst->state = NULL;
}

static const struct smt_opt vk_opts[] = {
    {"fields", SMT_OPT_STRLIST, NULL, offsetof(struct vk_conf, fields), 0, 0,
     NULL, 0, "Value fields copied into the new key, in this order"},
    {"replace.null.with.default", SMT_OPT_BOOL, "true",
     offsetof(struct vk_conf, replace_null_with_default), 0, 0, NULL, 0,
     "Schema'd only: copy a null field that has a default as its default"},
    {"field.syntax.version", SMT_OPT_STR, "V1",
     offsetof(struct vk_conf, field_syntax_version), 0, 0, smt_syntax_choices,
     0,
     "V1: each entry is one field name; V2: dotted paths (key member named "
     "by the last segment)"},
    {0},
};

const struct smt_transform smt_value_to_key = {
    .name = "value_to_key",
    .connect = "ValueToKey",
    .pkg = "org.apache.kafka.connect.transforms",
    .doc = "Replace the key with fields copied from the value",
    .opts = vk_opts,
    .conf_size = sizeof(struct vk_conf),
    .flags = SMT_F_NEEDS_DOC,
    .init = vk_init,
    .apply = vk_apply,
    .destroy = vk_destroy,
};

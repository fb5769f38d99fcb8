/*
 * t_mask_field.c - MaskField: replaces the listed fields of the key or
 * value with an "empty" value of the same type, or with a fixed
 * replacement converted to the field's type.
 *
 * Behaviour is Kafka Connect's MaskField$Key/$Value: without `replacement`
 * a field becomes false / 0 of the same width / 0.0 / "" / [] / {} / epoch
 * date / decimal 0 (scale 0); bytes and structs cannot be masked. With
 * `replacement` strings take it verbatim, numbers parse it as a BigDecimal
 * (integral part, Java wrap-around), decimals keep its scale; other types
 * are an error. Null fields stay null. Schemaless, a listed field that is
 * absent is added as null; schema'd, names not in the schema are ignored
 * and (replace.null.with.default) a null field with a default is masked as
 * its default. There is no tombstone guard: a null operand fails.
 *
 *   transforms:
 *     - type: MaskField$Value
 *       fields: operator.email,ip
 *       replacement: "***"
 *       field.syntax.version: V2
 *
 * Differences from Kafka Connect: field.syntax.version (KIP-821) is ours
 * here. With V2 each entry is a dotted path (backticks quote names with
 * dots); the "absent field is added as null" rule applies only when the
 * parent object exists; a step that is absent or not an object (arrays
 * included: paths do not enter arrays) leaves the record alone. Fields are
 * processed in the configured order, so with several failing fields the
 * first one configured names the error (Connect's order is a HashSet's).
 */
#include "tutil.h"

#include <stdlib.h>

struct mask_conf {
    struct smt_strlist fields;
    char              *replacement;
    int                replace_null_with_default;
    char              *field_syntax_version;
};

struct mask_state {
    struct smt_path *paths;
    uint32_t         n;
    /* The replacement, converted once for every type it can apply to. */
    struct smt_bytes repl;     /* ptr NULL = no replacement */
    int              repl_num; /* 1 if repl is a BigDecimal literal */
    int64_t          repl_long;
    double           repl_double;
};

/* The masked form of v (not NULL, not a null node), or NULL with err. */
static struct smt_val *mask_value(const struct mask_state *st,
                                  struct smt_arena *a, const struct smt_val *v,
                                  const struct smt_schema *fs,
                                  struct smt_err *err)
{
    if (st->repl.ptr != NULL) {
        switch (v->type) {
        case SMT_STRING:
            return smt_val_str(a, SMT_STRING, st->repl.ptr, st->repl.len);
        case SMT_INT8:
        case SMT_INT16:
        case SMT_INT32:
        case SMT_INT64:
        case SMT_FLOAT32:
        case SMT_FLOAT64:
            if (!st->repl_num) {
                smt_err_set(err, SMT_E_DATA,
                            "Unable to convert %s (class java.lang.String) "
                            "to a number",
                            st->repl.ptr);
                return NULL;
            }
            switch (v->type) {
            case SMT_INT8:
                return smt_val_int(a, SMT_INT8, (int8_t)st->repl_long);
            case SMT_INT16:
                return smt_val_int(a, SMT_INT16, (int16_t)st->repl_long);
            case SMT_INT32:
                return smt_val_int(a, SMT_INT32, (int32_t)st->repl_long);
            case SMT_INT64:
                return smt_val_int(a, SMT_INT64, st->repl_long);
            default:
                return smt_val_float(a, v->type, st->repl_double);
            }
        case SMT_DECIMAL:
            if (!st->repl_num) {
                smt_err_set(err, SMT_E_DATA,
                            "Unable to convert %s (class java.lang.String) "
                            "to number",
                            st->repl.ptr);
                return NULL;
            }
            return smt_val_str(a, SMT_DECIMAL, st->repl.ptr, st->repl.len);
        default:
            smt_err_set(err, SMT_E_DATA,
                        "Cannot mask value of type class %s with custom "
                        "replacement.",
                        smt_java_class(v, fs));
            return NULL;
        }
    }
    switch (v->type) {
    case SMT_BOOL:
        return smt_val_bool(a, 0);
    case SMT_INT8:
    case SMT_INT16:
    case SMT_INT32:
    case SMT_INT64:
    case SMT_DATE:
        return smt_val_int(a, v->type, 0);
    case SMT_FLOAT32:
    case SMT_FLOAT64:
        if (v->flags & SMT_VF_BIGINT) {
            return smt_val_int(a, SMT_INT64, 0); /* BigInteger.ZERO */
        }
        return smt_val_float(a, v->type, 0.0);
    case SMT_DECIMAL:
        return smt_val_str(a, SMT_DECIMAL, "0", 1);
    case SMT_STRING:
        return smt_val_str(a, SMT_STRING, "", 0);
    case SMT_ARRAY:
        return smt_val_array(a, 0);
    case SMT_OBJECT:
        if (fs == NULL || fs->is_map) {
            return smt_val_object(a, 0);
        }
        break;
    default:
        break;
    }
    smt_err_set(err, SMT_E_DATA, "Cannot mask value of type: class %s",
                smt_java_class(v, fs));
    return NULL;
}

/* Masks the member at path i of root. fs is the field's schema (schema'd
 * mode) or NULL. Returns 0 or -1 with err. */
static int mask_one(const struct mask_state *st, const struct mask_conf *conf,
                    struct smt_arena *a, struct smt_val *root,
                    const struct smt_path *p, const struct smt_schema *fs,
                    int schemad, struct smt_err *err)
{
    struct smt_bytes      leaf = smt_path_leaf(p);
    const struct smt_val *cur;
    struct smt_val       *parent, *masked;
    struct smt_val       *walked[8]; /* objects passed through, for a change */
    long                  idx;
    uint32_t              i;

    /* Look first, without changing anything: the leaf's parent, then the
     * leaf in it. */
    parent = root;
    for (i = 0; i + 1 < p->n && parent != NULL; i++) {
        parent = smt_obj_get(parent, p->seg[i].ptr, p->seg[i].len);
        if (i < 8) {
            walked[i] = parent;
        }
    }
    if (parent == NULL || parent->type != SMT_OBJECT) {
        return 0; /* a step is absent or not an object */
    }
    idx = smt_obj_index(parent, leaf.ptr, leaf.len);
    cur = idx >= 0 ? parent->u.members[idx].val : NULL;
    if (cur != NULL && cur->type == SMT_NULL) {
        if (!schemad || !conf->replace_null_with_default || fs == NULL ||
            fs->def == NULL || fs->def->type == SMT_NULL) {
            return 0; /* null stays null; nothing to re-encode */
        }
        cur = fs->def;
    }
    /* now for the change: clear raw on the way down (what
     * smt_path_parent_mut does; the walk above already found the objects,
     * so short paths are not walked twice) */
    if (p->n <= 9) {
        root->raw = NULL;
        for (i = 0; i + 1 < p->n; i++) {
            walked[i]->raw = NULL;
        }
    } else {
        parent = smt_path_parent_mut(a, root, p, 0);
    }
    if (cur == NULL) {
        if (!schemad && idx < 0) {
            smt_obj_set(a, parent, leaf.ptr, leaf.len, smt_val_null(a));
        }
        return 0;
    }
    masked = mask_value(st, a, cur, fs, err);
    if (masked == NULL) {
        return -1;
    }
    parent->u.members[idx].val = masked;
    return 0;
}

static int mask_init(struct smt_inst *inst, struct smt_err *err)
{
    const struct mask_conf *conf = inst->conf;
    struct mask_state      *st;
    int                     version;

    if (conf->fields.n == 0) {
        return smt_err_empty_list(err, "fields");
    }
    if (conf->replacement != NULL && conf->replacement[0] == '\0') {
        return smt_err_set(err, SMT_E_CONFIG,
                           "Invalid value  for configuration replacement: "
                           "String must be non-empty");
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
    if (conf->replacement != NULL) {
        st->repl = smt_bytes_str(conf->replacement);
        st->repl_num = smt_decimal_long(st->repl.ptr, st->repl.len,
                                        &st->repl_long) == 0;
        st->repl_double = st->repl_num ? strtod(st->repl.ptr, NULL) : 0.0;
    }
    inst->state = st;
    return 0;
}

static enum smt_verdict mask_apply(struct smt_inst *inst,
                                   struct smt_record *rec, struct smt_err *err)
{
    const struct mask_conf  *conf = inst->conf;
    const struct mask_state *st = inst->state;
    const struct smt_schema *schema;
    const struct smt_schema *fs = NULL;
    const struct smt_val    *ro;
    struct smt_val          *root;
    uint32_t                 i;

    /* Check the shape on the shared tree first: a failing record is not
     * copied. */
    ro = smt_operand(inst, rec, &schema, err);
    if (ro == NULL) {
        return SMT_FAIL;
    }
    if (smt_require_map(ro, schema, "mask fields", err) != 0) {
        return SMT_FAIL;
    }
    root = smt_operand_mut(inst, rec, &schema, err);
    if (root == NULL) {
        return SMT_FAIL;
    }
    for (i = 0; i < st->n; i++) {
        if (schema != NULL) {
            fs = smt_schema_at(schema, &st->paths[i]);
            if (fs == NULL) {
                continue; /* not in the schema: ignored */
            }
        }
        if (mask_one(st, conf, rec->arena, root, &st->paths[i], fs,
                     schema != NULL, err) != 0) {
            return SMT_FAIL;
        }
    }
    if (schema != NULL && conf->replace_null_with_default) {
        smt_struct_defaults(rec->arena, root, schema);
    }
    return SMT_PASS;
}

static void mask_destroy(struct smt_inst *inst)
{
    struct mask_state *st = inst->state;

    if (st == NULL) {
        return;
    }
    smt_paths_free(st->paths, st->n);
    free(st);
    inst->state = NULL;
}

static const struct smt_opt mask_opts[] = {
    {"fields", SMT_OPT_STRLIST, NULL, offsetof(struct mask_conf, fields), 0, 0,
     NULL, 0, "Names of the fields to mask (paths with field.syntax.version V2)"},
    {"replacement", SMT_OPT_STR, NULL,
     offsetof(struct mask_conf, replacement), 0, 0, NULL, SMT_OPT_OPTIONAL,
     "Text used instead of the type's empty value, converted to the field's "
     "type"},
    {"replace.null.with.default", SMT_OPT_BOOL, "true",
     offsetof(struct mask_conf, replace_null_with_default), 0, 0, NULL, 0,
     "Schema'd only: read a null field that has a default as its default"},
    {"field.syntax.version", SMT_OPT_STR, "V1",
     offsetof(struct mask_conf, field_syntax_version), 0, 0,
     smt_syntax_choices, 0,
     "V1: each entry is one field name; V2: dotted paths, backticks quote "
     "names with dots"},
    {0},
};

const struct smt_transform smt_mask_field = {
    .name = "mask_field",
    .connect = "MaskField",
    .pkg = "org.apache.kafka.connect.transforms",
    .doc = "Replace fields with an empty value of their type or a fixed "
           "replacement",
    .opts = mask_opts,
    .conf_size = sizeof(struct mask_conf),
    .flags = SMT_F_KEYVALUE | SMT_F_NEEDS_DOC,
    .init = mask_init,
    .apply = mask_apply,
    .destroy = mask_destroy,
};

/*
 * t_flatten.c - Flatten: turns nested objects (structs) into one level,
 * joining names with a delimiter.
 *
 * Behaviour is Kafka Connect's Flatten$Key/$Value: {"a":{"b":1}} becomes
 * {"a.b":1}. Arrays and their contents are left as they are, null members
 * are kept, an empty nested map vanishes. A null operand passes unchanged;
 * a non-map (non-struct) fails. Schemaless output keeps the input order.
 * Schema'd: structs are flattened (maps are not: they are copied as one
 * field), a flattened field is optional if it or any ancestor is optional
 * and inherits an ancestor struct's default.
 *
 *   transforms:
 *     - type: Flatten$Value
 *       delimiter: _
 *
 * Differences from Kafka Connect: none intended. Untouched leaves keep
 * their source text.
 */
#include "tutil.h"

#include <stdlib.h>

struct fl_conf {
    char *delimiter;
};

/* prefix + delimiter + name, in the arena (name alone for no prefix). */
static struct smt_bytes fl_name(struct smt_arena *a, struct smt_bytes prefix,
                                const char *delim, struct smt_bytes name)
{
    struct smt_bytes out;
    size_t           dl = strlen(delim);
    char            *p;

    if (prefix.len == 0 && prefix.ptr == NULL) {
        return name;
    }
    out.len = prefix.len + dl + name.len;
    p = smt_arena_alloc(a, out.len + 1);
    memcpy(p, prefix.ptr, prefix.len);
    memcpy(p + prefix.len, delim, dl);
    memcpy(p + prefix.len + dl, name.ptr, name.len);
    p[out.len] = '\0';
    out.ptr = p;
    return out;
}

/* Schemaless: appends the members of obj to out. */
static void fl_map(struct smt_arena *a, const char *delim,
                   struct smt_bytes prefix, struct smt_val *obj,
                   struct smt_val *out)
{
    uint32_t i;

    for (i = 0; i < obj->n; i++) {
        struct smt_bytes name =
            fl_name(a, prefix, delim, obj->u.members[i].key);
        struct smt_val *v = obj->u.members[i].val;

        if (v != NULL && v->type == SMT_OBJECT) {
            fl_map(a, delim, name, v, out);
        } else {
            smt_obj_set(a, out, name.ptr, name.len,
                        v != NULL ? v : smt_val_null(a));
        }
    }
}

/* Schema'd: appends the fields of struct obj (schema s, may be NULL for a
 * null struct) to out and ns. */
static int fl_struct(struct smt_arena *a, const char *delim,
                     struct smt_bytes prefix, const struct smt_val *obj,
                     const struct smt_schema *s, int optional,
                     const struct smt_val *pdef, struct smt_val *out,
                     struct smt_schema *ns, uint32_t *cap, struct smt_err *err)
{
    uint32_t i;

    for (i = 0; i < s->nfields; i++) {
        const struct smt_field  *f = &s->fields[i];
        const struct smt_schema *fs = f->schema;
        struct smt_bytes         name = fl_name(a, prefix, delim, f->name);
        const struct smt_val    *v = NULL, *def = fs->def;
        int                      opt = optional || fs->optional;
        struct smt_schema       *cs;

        if (obj != NULL && obj->type == SMT_OBJECT) {
            v = smt_obj_get(obj, f->name.ptr, f->name.len);
        }
        if (def == NULL && pdef != NULL && pdef->type == SMT_OBJECT) {
            def = smt_obj_get(pdef, f->name.ptr, f->name.len);
        }
        if (fs->type == SMT_OBJECT && !fs->is_map) {
            if (fl_struct(a, delim, name, v, fs, opt, def, out, ns, cap,
                          err) != 0) {
                return -1;
            }
            continue;
        }
        if (fs->type == SMT_NULL) {
            return smt_err_set(err, SMT_E_DATA,
                               "Flatten transformation does not support %s "
                               "for record with schemas (for field %.*s).",
                               smt_type_name(fs->type), (int)name.len,
                               name.ptr);
        }
        cs = smt_schema_copy(a, fs);
        cs->optional = (uint8_t)opt;
        cs->def = (struct smt_val *)def;
        if (ns->nfields == *cap) {
            uint32_t nc = *cap ? *cap * 2 : 8;

            ns->fields = smt_arena_grow(a, ns->fields, ns->nfields, nc,
                                        sizeof(*ns->fields));
            *cap = nc;
        }
        ns->fields[ns->nfields].name = name;
        ns->fields[ns->nfields].schema = cs;
        ns->nfields++;
        smt_obj_set(a, out, name.ptr, name.len,
                    v != NULL ? (struct smt_val *)v : smt_val_null(a));
    }
    return 0;
}

static int fl_init(struct smt_inst *inst, struct smt_err *err)
{
    (void)inst;
    (void)err;
    return 0; /* nothing to compile */
}

static enum smt_verdict fl_apply(struct smt_inst *inst, struct smt_record *rec,
                                 struct smt_err *err)
{
    const struct fl_conf    *conf = inst->conf;
    const struct smt_schema *schema;
    struct smt_schema       *ns = NULL;
    const struct smt_val    *ro;
    struct smt_val          *root, *out;
    uint32_t                 cap = 0;

    ro = smt_operand(inst, rec, &schema, err);
    if (ro == NULL) {
        return SMT_FAIL;
    }
    if (ro->type == SMT_NULL) {
        return SMT_PASS;
    }
    if (smt_require_map(ro, schema, "flattening", err) != 0) {
        return SMT_FAIL;
    }
    root = smt_operand_mut(inst, rec, &schema, err);
    if (root == NULL) {
        return SMT_FAIL;
    }
    out = smt_val_object(rec->arena, root->n);
    if (schema == NULL) {
        fl_map(rec->arena, conf->delimiter, SMT_BYTES_NULL, root, out);
    } else {
        ns = smt_schema_copy(rec->arena, schema);
        ns->fields = NULL;
        ns->nfields = 0;
        if (fl_struct(rec->arena, conf->delimiter, SMT_BYTES_NULL, root,
                      schema, schema->optional, NULL, out, ns, &cap,
                      err) != 0) {
            return SMT_FAIL;
        }
    }
    smt_record_set_doc(rec, smt_operand_side(inst), out, ns);
    return SMT_PASS;
}

static void fl_destroy(struct smt_inst *inst)
{
    (void)inst; /* no state */
}

static const struct smt_opt fl_opts[] = {
    {"delimiter", SMT_OPT_STR, ".", offsetof(struct fl_conf, delimiter), 0, 0,
     NULL, 0, "Text put between the names of nested fields"},
    {0},
};

const struct smt_transform smt_flatten = {
    .name = "flatten",
    .connect = "Flatten",
    .pkg = "org.apache.kafka.connect.transforms",
    .doc = "Flatten nested objects into one level with joined names",
    .opts = fl_opts,
    .conf_size = sizeof(struct fl_conf),
    .flags = SMT_F_KEYVALUE | SMT_F_NEEDS_DOC,
    .init = fl_init,
    .apply = fl_apply,
    .destroy = fl_destroy,
};

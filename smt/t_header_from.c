/*
 * t_header_from.c - HeaderFrom: copies or moves fields of the key or value
 * into headers.
 *
 * Behaviour is Kafka Connect's HeaderFrom$Key/$Value: for each position i,
 * a header headers[i] is appended with the value of fields[i]; `move` also
 * removes the field. The same field may feed two headers and two fields may
 * go to the same header name. Schemaless, an absent field gives a header
 * without value; a null or non-map operand fails. Header bytes are what
 * Connect's SimpleHeaderConverter would write for the field
 * (Values.convertToString: strings verbatim, numbers in Java notation,
 * containers compact with quoted strings), a null field gives a header
 * without value. With `copy` the key/value is not touched at all.
 *
 *   transforms:
 *     - type: HeaderFrom$Value
 *       fields: device.id,trace
 *       headers: device-id,trace
 *       operation: move
 *       field.syntax.version: V2
 *
 * Differences from Kafka Connect: field.syntax.version (ours): with V2 a
 * field is a dotted path (a missing or non-object step reads as absent;
 * `move` removes the last segment from its parent). Schema'd, a field
 * missing from the schema fails with DataException "Field does not exist:
 * <f>" where Connect throws a NullPointerException.
 */
#include "tutil.h"
#include "values.h"

#include <stdlib.h>

struct hfr_conf {
    struct smt_strlist fields;
    struct smt_strlist headers;
    int                operation; /* index into hfr_ops */
    int                replace_null_with_default;
    char              *field_syntax_version;
};

enum { HFR_MOVE = 0, HFR_COPY = 1 };

static const char *const hfr_ops[] = {"move", "copy", NULL};

struct hfr_state {
    struct smt_path *paths;
    uint32_t         n;
};

/* Values.escape: backslash and double quote get a backslash. */
static void hfr_escaped(struct smt_buf *b, struct smt_bytes s)
{
    size_t i;

    smt_buf_addc(b, '"');
    for (i = 0; i < s.len; i++) {
        if (s.ptr[i] == '\\' || s.ptr[i] == '"') {
            smt_buf_addc(b, '\\');
        }
        smt_buf_addc(b, s.ptr[i]);
    }
    smt_buf_addc(b, '"');
}

/* Values.convertToString for a decoded tree: containers here (our object
 * keys are plain names, which Connect quotes as embedded strings), scalars
 * by smt_values_write(). */
static void hfr_write(struct smt_arena *a, struct smt_buf *b,
                      const struct smt_val *v, int embedded)
{
    uint32_t i;

    if (v != NULL && v->type == SMT_OBJECT) {
        smt_buf_addc(b, '{');
        for (i = 0; i < v->n; i++) {
            if (i > 0) {
                smt_buf_addc(b, ',');
            }
            hfr_escaped(b, v->u.members[i].key);
            smt_buf_addc(b, ':');
            hfr_write(a, b, v->u.members[i].val, 1);
        }
        smt_buf_addc(b, '}');
    } else if (v != NULL && v->type == SMT_ARRAY) {
        smt_buf_addc(b, '[');
        for (i = 0; i < v->n; i++) {
            if (i > 0) {
                smt_buf_addc(b, ',');
            }
            hfr_write(a, b, v->u.items[i], 1);
        }
        smt_buf_addc(b, ']');
    } else if (embedded && v != NULL && v->type == SMT_STRING) {
        hfr_escaped(b, v->u.s);
    } else if (v != NULL && v->type == SMT_BYTES) {
        struct smt_bytes t = smt_arena_base64(a, v->u.s.ptr, v->u.s.len);

        if (embedded) {
            hfr_escaped(b, t);
        } else {
            smt_buf_add(b, t.ptr, t.len);
        }
    } else {
        smt_values_write(b, v);
    }
}

/* The header bytes for v (NULL or a null node: no value). */
static struct smt_bytes hfr_text(struct smt_arena *a, const struct smt_val *v)
{
    struct smt_buf   b;
    struct smt_bytes out;

    if (v == NULL || v->type == SMT_NULL) {
        return SMT_BYTES_NULL;
    }
    if (v->type == SMT_STRING) {
        return v->u.s;
    }
    smt_buf_init(&b);
    hfr_write(a, &b, v, 0);
    out.ptr = smt_arena_memdup(a, b.ptr != NULL ? b.ptr : "", b.len);
    out.len = b.len;
    smt_buf_fini(&b);
    return out;
}

static int hfr_init(struct smt_inst *inst, struct smt_err *err)
{
    const struct hfr_conf *conf = inst->conf;
    struct hfr_state      *st;
    int                    version;

    if (conf->fields.n == 0) {
        return smt_err_empty_list(err, "fields");
    }
    if (conf->headers.n == 0) {
        return smt_err_empty_list(err, "headers");
    }
    if (conf->headers.n != conf->fields.n) {
        return smt_err_set(err, SMT_E_CONFIG,
                           "'fields' config must have the same number of "
                           "elements as 'headers' config.");
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
    inst->state = st;
    return 0;
}

static enum smt_verdict hfr_apply(struct smt_inst *inst,
                                  struct smt_record *rec, struct smt_err *err)
{
    const struct hfr_conf   *conf = inst->conf;
    const struct hfr_state  *st = inst->state;
    const struct smt_schema *schema, *fs = NULL, *nschema;
    struct smt_schema       *ps;
    const struct smt_val    *ro, *v;
    struct smt_val          *root, *parent;
    struct smt_bytes         leaf;
    uint32_t                 i;
    long                     j;

    ro = smt_operand(inst, rec, &schema, err);
    if (ro == NULL) {
        return SMT_FAIL;
    }
    if (smt_require_map(ro, schema,
                        conf->operation == HFR_MOVE ? "header move"
                                                    : "header copy",
                        err) != 0) {
        return SMT_FAIL;
    }
    /* Every header reads the original value (a field moved twice feeds
     * both headers), so all headers first, then the removals. */
    for (i = 0; i < st->n; i++) {
        if (schema != NULL) {
            fs = smt_schema_at(schema, &st->paths[i]);
            if (fs == NULL) {
                smt_err_set(err, SMT_E_DATA, "Field does not exist: %s",
                            st->paths[i].text);
                return SMT_FAIL;
            }
        }
        v = smt_path_get(ro, &st->paths[i]);
        if (fs != NULL && conf->replace_null_with_default && fs->def != NULL &&
            (v == NULL || v->type == SMT_NULL)) {
            v = fs->def;
        }
        smt_record_header_add(rec, smt_bytes_str(conf->headers.v[i]),
                              hfr_text(rec->arena, v));
    }
    if (conf->operation != HFR_MOVE) {
        return SMT_PASS;
    }
    root = smt_operand_mut(inst, rec, &schema, err);
    if (root == NULL) {
        return SMT_FAIL;
    }
    nschema = schema;
    if (schema != NULL && conf->replace_null_with_default) {
        smt_struct_defaults(rec->arena, root, schema);
    }
    for (i = 0; i < st->n; i++) {
        leaf = smt_path_leaf(&st->paths[i]);
        if (schema != NULL) {
            ps = smt_schema_parent_mut(rec->arena, &nschema, &st->paths[i]);
            j = smt_schema_index(ps, leaf.ptr, leaf.len);
            if (ps != NULL && j >= 0) {
                memmove(&ps->fields[j], &ps->fields[j + 1],
                        (ps->nfields - (uint32_t)j - 1) * sizeof(*ps->fields));
                ps->nfields--;
            }
        }
        if (smt_path_get(root, &st->paths[i]) == NULL) {
            continue; /* already gone: nothing to re-encode */
        }
        parent = smt_path_parent_mut(rec->arena, root, &st->paths[i], 0);
        if (parent != NULL) {
            smt_obj_del(parent, leaf.ptr, leaf.len);
        }
    }
    if (schema != NULL) {
        smt_operand_set_schema(inst, rec, nschema);
    }
    return SMT_PASS;
}

static void hfr_destroy(struct smt_inst *inst)
{
    struct hfr_state *st = inst->state;

    if (st == NULL) {
        return;
    }
    smt_paths_free(st->paths, st->n);
    free(st);
    inst->state = NULL;
}

static const struct smt_opt hfr_opts[] = {
    {"fields", SMT_OPT_STRLIST, NULL, offsetof(struct hfr_conf, fields), 0, 0,
     NULL, 0, "Fields whose values become headers"},
    {"headers", SMT_OPT_STRLIST, NULL, offsetof(struct hfr_conf, headers), 0,
     0, NULL, 0, "Header names, one per entry of fields"},
    {"operation", SMT_OPT_ENUM, NULL, offsetof(struct hfr_conf, operation), 0,
     0, hfr_ops, 0, "move (remove the fields) or copy"},
    {"replace.null.with.default", SMT_OPT_BOOL, "true",
     offsetof(struct hfr_conf, replace_null_with_default), 0, 0, NULL, 0,
     "Schema'd only: read a null field that has a default as its default"},
    {"field.syntax.version", SMT_OPT_STR, "V1",
     offsetof(struct hfr_conf, field_syntax_version), 0, 0,
     smt_syntax_choices, 0,
     "V1: each entry is one field name; V2: dotted paths, backticks quote "
     "names with dots"},
    {0},
};

const struct smt_transform smt_header_from = {
    .name = "header_from",
    .connect = "HeaderFrom",
    .pkg = "org.apache.kafka.connect.transforms",
    .doc = "Copy or move fields of the key or value into headers",
    .opts = hfr_opts,
    .conf_size = sizeof(struct hfr_conf),
    .flags = SMT_F_KEYVALUE | SMT_F_NEEDS_DOC,
    .init = hfr_init,
    .apply = hfr_apply,
    .destroy = hfr_destroy,
};

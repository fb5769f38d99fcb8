/*
 * t_insert_field.c - InsertField: adds record metadata (topic, partition,
 * offset, timestamp) and/or a fixed string to the key or value.
 *
 * Behaviour is Kafka Connect's InsertField$Key/$Value. Each *.field option
 * names the field to write; a trailing '!' makes the schema'd field
 * required, '?' (or nothing) optional, and the suffix is stripped in both
 * modes. topic -> STRING, partition -> INT32 (skipped when unknown),
 * offset -> INT64, timestamp -> epoch ms (schemaless INT64; schema'd the
 * Timestamp logical type; skipped when the record has none), static.field
 * -> static.value. A null operand passes unchanged; a non-map fails.
 * Existing fields of the same name are overwritten (schemaless) or are an
 * error (schema'd, as Connect's SchemaBuilder).
 *
 *   transforms:
 *     - type: InsertField$Value
 *       topic.field: meta.topic
 *       offset.field: meta.offset
 *       static.field: relay
 *       static.value: smtproxy-1
 *       field.syntax.version: V2
 *
 * Differences from Kafka Connect: field.syntax.version (ours): with V2 a
 * field name is a dotted path and missing intermediate objects are created
 * (schemaless); schema'd, the intermediate structs must exist in the schema
 * and a null intermediate struct gets nothing. A path through a present
 * non-object fails. Every record this relay handles was consumed from Kafka
 * (Connect's SinkRecord), so offset.field works; a record with an unknown
 * offset (-1) fails as a Connect SourceRecord would.
 */
#include "tutil.h"

#include <stdlib.h>

struct if_conf {
    char *topic_field;
    char *partition_field;
    char *offset_field;
    char *timestamp_field;
    char *static_field;
    char *static_value;
    int   replace_null_with_default;
    char *field_syntax_version;
};

enum { IF_TOPIC, IF_PARTITION, IF_OFFSET, IF_TIMESTAMP, IF_STATIC, IF_N };

struct if_spec {
    int             set;
    int             optional;
    struct smt_path path;
};

struct if_state {
    struct if_spec   spec[IF_N];
    struct smt_bytes static_value;
};

/* The value to insert for spec k, or NULL to skip; sets err and *fail for
 * a record that cannot supply it. */
static struct smt_val *if_value(int k, const struct if_state *st,
                                struct smt_record *rec, int schemad,
                                struct smt_err *err, int *fail)
{
    struct smt_arena *a = rec->arena;

    switch (k) {
    case IF_TOPIC:
        if (rec->topic.ptr == NULL) {
            return smt_val_null(a);
        }
        return smt_val_str(a, SMT_STRING,
                           smt_arena_memdup(a, rec->topic.ptr, rec->topic.len),
                           rec->topic.len);
    case IF_PARTITION:
        return rec->partition < 0 ? NULL
                                  : smt_val_int(a, SMT_INT32, rec->partition);
    case IF_OFFSET:
        if (rec->offset < 0) {
            smt_err_set(err, SMT_E_DATA,
                        "Only SinkRecord supported for [field insertion], "
                        "found: org.apache.kafka.connect.source.SourceRecord");
            *fail = 1;
            return NULL;
        }
        return smt_val_int(a, SMT_INT64, rec->offset);
    case IF_TIMESTAMP:
        if (rec->ts_ms == SMT_TS_NONE) {
            return NULL;
        }
        return smt_val_int(a, schemad ? SMT_DATE : SMT_INT64, rec->ts_ms);
    default:
        return smt_val_str(a, SMT_STRING, st->static_value.ptr,
                           st->static_value.len);
    }
}

/* The schema of the field inserted for spec k. */
static struct smt_schema *if_schema(struct smt_arena *a, int k, int optional)
{
    static const int types[IF_N] = {SMT_STRING, SMT_INT32, SMT_INT64,
                                    SMT_INT64, SMT_STRING};
    struct smt_schema *s = smt_schema_prim(a, types[k], optional);

    if (k == IF_TIMESTAMP) {
        s->name = SMT_LOGICAL_TIMESTAMP;
        s->version = 1;
    }
    return s;
}

/* Appends field name:fs to struct schema s (a private copy). Fails on a
 * duplicate name as SchemaBuilder does. */
static int if_schema_add(struct smt_arena *a, struct smt_schema *s,
                         struct smt_bytes name, struct smt_schema *fs,
                         struct smt_err *err)
{
    struct smt_field *f;

    if (smt_schema_index(s, name.ptr, name.len) >= 0) {
        return smt_err_set(err, SMT_E_DATA,
                           "Cannot create field because of field name "
                           "duplication %.*s",
                           (int)name.len, name.ptr);
    }
    f = smt_arena_alloc(a, (s->nfields + 1) * sizeof(*f));
    if (s->nfields > 0) {
        memcpy(f, s->fields, s->nfields * sizeof(*f));
    }
    f[s->nfields].name = name;
    f[s->nfields].schema = fs;
    s->fields = f;
    s->nfields++;
    return 0;
}

static int if_init(struct smt_inst *inst, struct smt_err *err)
{
    const struct if_conf *conf = inst->conf;
    const char           *names[IF_N];
    struct if_state      *st;
    char                 *text;
    size_t                len;
    int                   version, k, any = 0;

    names[IF_TOPIC] = conf->topic_field;
    names[IF_PARTITION] = conf->partition_field;
    names[IF_OFFSET] = conf->offset_field;
    names[IF_TIMESTAMP] = conf->timestamp_field;
    names[IF_STATIC] = conf->static_field;
    version = smt_syntax_check(conf->field_syntax_version, err);
    if (version < 0) {
        return -1;
    }
    if (conf->static_field != NULL && conf->static_value == NULL) {
        return smt_err_set(err, SMT_E_CONFIG,
                           "Invalid value null for configuration "
                           "static.value: No value specified for static "
                           "field: %s",
                           conf->static_field);
    }
    st = smt_xcalloc(1, sizeof(*st));
    for (k = 0; k < IF_N; k++) {
        if (names[k] == NULL) {
            continue;
        }
        any = 1;
        len = strlen(names[k]);
        st->spec[k].optional = 1;
        if (len > 0 && (names[k][len - 1] == '?' || names[k][len - 1] == '!')) {
            st->spec[k].optional = names[k][len - 1] == '?';
            len--;
        }
        text = smt_xstrndup(names[k], len);
        if (smt_path_parse(&st->spec[k].path, text, version, err) != 0) {
            free(text);
            for (k--; k >= 0; k--) {
                if (st->spec[k].set) {
                    smt_path_fini(&st->spec[k].path);
                }
            }
            free(st);
            return -1;
        }
        free(text);
        st->spec[k].set = 1;
    }
    if (!any) {
        free(st);
        return smt_err_set(err, SMT_E_CONFIG, "No field insertion configured");
    }
    st->static_value = smt_bytes_str(conf->static_value);
    inst->state = st;
    return 0;
}

static enum smt_verdict if_apply(struct smt_inst *inst, struct smt_record *rec,
                                 struct smt_err *err)
{
    const struct if_conf    *conf = inst->conf;
    const struct if_state   *st = inst->state;
    const struct smt_schema *schema, *nschema;
    struct smt_schema       *ps;
    const struct smt_val    *ro;
    struct smt_val          *root, *parent, *v;
    struct smt_bytes         leaf;
    int                      k, fail = 0;

    ro = smt_operand(inst, rec, &schema, err);
    if (ro == NULL) {
        return SMT_FAIL;
    }
    if (ro->type == SMT_NULL) {
        return SMT_PASS;
    }
    if (smt_require_map(ro, schema, "field insertion", err) != 0) {
        return SMT_FAIL;
    }
    root = smt_operand_mut(inst, rec, &schema, err);
    if (root == NULL) {
        return SMT_FAIL;
    }
    nschema = schema;
    if (schema != NULL && conf->replace_null_with_default) {
        smt_struct_defaults(rec->arena, root, schema);
    }
    for (k = 0; k < IF_N; k++) {
        const struct smt_path *p = &st->spec[k].path;

        if (!st->spec[k].set) {
            continue;
        }
        leaf = smt_path_leaf(p);
        if (schema != NULL) {
            ps = smt_schema_parent_mut(rec->arena, &nschema, p);
            if (ps == NULL) {
                smt_err_set(err, SMT_E_DATA,
                            "field '%s': no such struct in the schema",
                            p->text);
                return SMT_FAIL;
            }
            if (if_schema_add(rec->arena, ps, leaf,
                              if_schema(rec->arena, k, st->spec[k].optional),
                              err) != 0) {
                return SMT_FAIL;
            }
        }
        v = if_value(k, st, rec, schema != NULL, err, &fail);
        if (fail) {
            return SMT_FAIL;
        }
        if (v == NULL) {
            continue;
        }
        parent = smt_path_parent_mut(rec->arena, root, p, schema == NULL);
        if (parent == NULL) {
            if (schema != NULL) {
                continue; /* a null intermediate struct */
            }
            smt_err_set(err, SMT_E_DATA,
                        "field '%s': a parent is not an object", p->text);
            return SMT_FAIL;
        }
        smt_obj_set(rec->arena, parent, leaf.ptr, leaf.len, v);
    }
    if (schema != NULL) {
        smt_operand_set_schema(inst, rec, nschema);
    }
    return SMT_PASS;
}

static void if_destroy(struct smt_inst *inst)
{
    struct if_state *st = inst->state;
    int              k;

    if (st == NULL) {
        return;
    }
    for (k = 0; k < IF_N; k++) {
        if (st->spec[k].set) {
            smt_path_fini(&st->spec[k].path);
        }
    }
    free(st);
    inst->state = NULL;
}

#define IF_STR_OPT(key, member, text)                                         \
    {                                                                         \
        key, SMT_OPT_STR, NULL, offsetof(struct if_conf, member), 0, 0, NULL, \
            SMT_OPT_OPTIONAL, text                                            \
    }

static const struct smt_opt if_opts[] = {
    IF_STR_OPT("topic.field", topic_field,
               "Field for the record's topic (suffix ! = required, ? = "
               "optional)"),
    IF_STR_OPT("partition.field", partition_field,
               "Field for the record's partition (INT32)"),
    IF_STR_OPT("offset.field", offset_field,
               "Field for the record's offset (INT64)"),
    IF_STR_OPT("timestamp.field", timestamp_field,
               "Field for the record's timestamp (epoch ms; Timestamp when "
               "schema'd)"),
    IF_STR_OPT("static.field", static_field,
               "Field for the fixed text static.value"),
    IF_STR_OPT("static.value", static_value,
               "Text written to static.field"),
    {"replace.null.with.default", SMT_OPT_BOOL, "true",
     offsetof(struct if_conf, replace_null_with_default), 0, 0, NULL, 0,
     "Schema'd only: write a null field that has a default as its default"},
    {"field.syntax.version", SMT_OPT_STR, "V1",
     offsetof(struct if_conf, field_syntax_version), 0, 0, smt_syntax_choices,
     0,
     "V1: field names are plain names; V2: dotted paths, backticks quote "
     "names with dots"},
    {0},
};

const struct smt_transform smt_insert_field = {
    .name = "insert_field",
    .connect = "InsertField",
    .pkg = "org.apache.kafka.connect.transforms",
    .doc = "Insert the topic, partition, offset, timestamp or a fixed text "
           "as fields",
    .opts = if_opts,
    .conf_size = sizeof(struct if_conf),
    .flags = SMT_F_KEYVALUE | SMT_F_NEEDS_DOC,
    .init = if_init,
    .apply = if_apply,
    .destroy = if_destroy,
};

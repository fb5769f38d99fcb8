/*
 * t_hoist_field.c - HoistField: wraps the key or value in a one-field
 * object.
 *
 * Behaviour is Kafka Connect's HoistField$Key/$Value: schemaless the
 * operand becomes {field: operand} (a null operand becomes {field: null},
 * there is no tombstone guard); schema'd it becomes a struct with one field
 * whose schema is the operand's schema.
 *
 *   transforms:
 *     - type: HoistField$Value
 *       field: payload
 *
 * Differences from Kafka Connect: none intended. The wrapped operand keeps
 * its source text, so it is forwarded byte for byte inside the new object.
 */
#include "tutil.h"

struct hf_conf {
    char *field;
};

static int hf_init(struct smt_inst *inst, struct smt_err *err)
{
    (void)inst;
    (void)err;
    return 0; /* nothing to compile */
}

static enum smt_verdict hf_apply(struct smt_inst *inst, struct smt_record *rec,
                                 struct smt_err *err)
{
    const struct hf_conf    *conf = inst->conf;
    const struct smt_schema *schema;
    struct smt_schema       *ns = NULL;
    struct smt_val          *v, *obj;
    size_t                   len = strlen(conf->field);

    v = smt_operand_mut(inst, rec, &schema, err);
    if (v == NULL) {
        return SMT_FAIL;
    }
    obj = smt_val_object(rec->arena, 1);
    smt_obj_set(rec->arena, obj, conf->field, len, v);
    if (schema != NULL) {
        ns = smt_arena_calloc(rec->arena, sizeof(*ns));
        ns->type = SMT_OBJECT;
        ns->fields = smt_arena_alloc(rec->arena, sizeof(*ns->fields));
        ns->fields[0].name.ptr = conf->field;
        ns->fields[0].name.len = len;
        ns->fields[0].schema = (struct smt_schema *)schema;
        ns->nfields = 1;
    }
    smt_record_set_doc(rec, smt_operand_side(inst), obj, ns);
    return SMT_PASS;
}

static void hf_destroy(struct smt_inst *inst)
{
    (void)inst; /* no state */
}

static const struct smt_opt hf_opts[] = {
    {"field", SMT_OPT_STR, NULL, offsetof(struct hf_conf, field), 0, 0, NULL,
     0, "Name of the field that holds the original key/value"},
    {0},
};

const struct smt_transform smt_hoist_field = {
    .name = "hoist_field",
    .connect = "HoistField",
    .pkg = "org.apache.kafka.connect.transforms",
    .doc = "Wrap the key or value in an object with one field",
    .opts = hf_opts,
    .conf_size = sizeof(struct hf_conf),
    .flags = SMT_F_KEYVALUE | SMT_F_NEEDS_DOC,
    .init = hf_init,
    .apply = hf_apply,
    .destroy = hf_destroy,
};

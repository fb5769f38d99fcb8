/*
 * t_validate.c - validate: checks the value (or the key) against a JSON
 * Schema (drafts 2020-12 and 07) and fails the records that do not
 * conform.
 *
 * The schema is read and compiled once in init (smt/jsonschema.c); apply
 * decodes the side read-only (smt_record_doc, never the _mut variant), so a
 * conforming record leaves byte for byte as it came, and validates without
 * allocating. A failure is a DataException of the converter stage
 * (VALUE_CONVERTER, or KEY_CONVERTER for validate$Key) - the record is bad
 * data, as if the converter had rejected it - whose message names the JSON
 * pointer of the offending part, the keyword and the schema location.
 *
 *   transforms:
 *     - type: validate
 *       schema: schemas/reading.schema.json
 *     - type: validate$Key
 *       schema.inline: '{"type": "string", "format": "uuid"}'
 *
 * Differences from Kafka Connect: Connect has no such transform (schema
 * checks live in its converters); this one is ours. Supported keywords,
 * formats and the conformance figures are in docs/json-schema.md.
 */
#include "jsonschema.h"
#include "tutil.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

struct validate_conf {
    char *schema;        /* path */
    char *schema_inline; /* JSON text */
    int   draft;         /* index into validate_drafts */
    int   formats;
};

static const char *const validate_drafts[] = {"auto", "7", "2020-12", NULL};

/* Reads a whole file; returns a new buffer (free()) or NULL with err. */
static char *validate_read(const char *path, size_t *len, struct smt_err *err)
{
    FILE  *f = fopen(path, "rb");
    char  *buf = NULL;
    size_t cap = 0, n = 0, got;

    if (f == NULL) {
        smt_err_set(err, SMT_E_CONFIG, "schema: cannot read '%s': %s", path,
                    strerror(errno));
        return NULL;
    }
    do {
        if (cap - n < 4096) {
            cap = cap ? cap * 2 : 16384;
            buf = smt_xrealloc(buf, cap);
        }
        got = fread(buf + n, 1, cap - n, f);
        n += got;
    } while (got > 0);
    if (ferror(f)) {
        smt_err_set(err, SMT_E_CONFIG, "schema: cannot read '%s'", path);
        fclose(f);
        free(buf);
        return NULL;
    }
    fclose(f);
    *len = n;
    return buf;
}

static int validate_init(struct smt_inst *inst, struct smt_err *err)
{
    const struct validate_conf *conf = inst->conf;
    static const int            drafts[] = {SMT_JS_DRAFT_AUTO, SMT_JS_DRAFT7,
                                            SMT_JS_DRAFT2020};
    struct smt_jsonschema      *js;
    char                       *text;
    size_t                      len;

    if ((conf->schema == NULL) == (conf->schema_inline == NULL)) {
        return smt_err_set(err, SMT_E_CONFIG,
                           "exactly one of 'schema' and 'schema.inline' is "
                           "required");
    }
    if (conf->schema != NULL) {
        text = validate_read(conf->schema, &len, err);
        if (text == NULL) {
            return -1;
        }
    } else {
        text = smt_xstrdup(conf->schema_inline);
        len = strlen(text);
    }
    js = smt_jsonschema_new(text, len, drafts[conf->draft], conf->formats,
                            err);
    free(text);
    if (js == NULL) {
        if (conf->schema != NULL) {
            smt_err_prefix(err, "'%s': ", conf->schema);
        }
        return -1;
    }
    inst->state = js;
    return 0;
}

static enum smt_verdict validate_apply(struct smt_inst *inst,
                                       struct smt_record *rec,
                                       struct smt_err *err)
{
    const struct smt_val *v = smt_operand(inst, rec, NULL, err);

    if (v == NULL) {
        return SMT_FAIL; /* undecodable: the converter stage is set */
    }
    if (smt_jsonschema_validate(inst->state, v, rec->arena, err) == 0) {
        return SMT_PASS;
    }
    err->stage = smt_operand_side(inst) == SMT_KEY ? SMT_STAGE_KEY_CONVERTER
                                                   : SMT_STAGE_VALUE_CONVERTER;
    return SMT_FAIL;
}

static void validate_destroy(struct smt_inst *inst)
{
    smt_jsonschema_free(inst->state);
    inst->state = NULL;
}

static const struct smt_opt validate_opts[] = {
    {"schema", SMT_OPT_PATH, NULL, offsetof(struct validate_conf, schema), 0,
     0, NULL, SMT_OPT_OPTIONAL | SMT_OPT_NONEMPTY,
     "JSON Schema file (relative to the config file)"},
    {"schema.inline", SMT_OPT_STR, NULL,
     offsetof(struct validate_conf, schema_inline), 0, 0, NULL,
     SMT_OPT_OPTIONAL | SMT_OPT_NONEMPTY,
     "The JSON Schema as JSON text, instead of a schema file"},
    {"draft", SMT_OPT_ENUM, "auto", offsetof(struct validate_conf, draft), 0,
     0, validate_drafts, 0,
     "auto reads $schema (2020-12 when absent); 7 or 2020-12 forces a "
     "draft"},
    {"formats", SMT_OPT_BOOL, "true", offsetof(struct validate_conf, formats),
     0, 0, NULL, 0,
     "Assert the formats docs/json-schema.md lists (date-time, email, uuid "
     "...); false makes format an annotation"},
    {0},
};

const struct smt_transform smt_validate = {
    .name = "validate",
    .doc = "Fail records whose value (or key) does not conform to a JSON "
           "Schema (drafts 2020-12, 07)",
    .opts = validate_opts,
    .conf_size = sizeof(struct validate_conf),
    .flags = SMT_F_KEYVALUE | SMT_F_NEEDS_DOC | SMT_F_OURS,
    .init = validate_init,
    .apply = validate_apply,
    .destroy = validate_destroy,
};

/*
 * t_timestamp_converter.c - TimestampConverter$Key/$Value: converts a
 * timestamp between epoch numbers, formatted strings and Connect's
 * Date/Time/Timestamp logical types.
 *
 * Kafka Connect's TimestampConverter. The operand (or its top-level field
 * `field`) is read as a java.util.Date (milliseconds) and written as
 * `target.type`:
 *   string     formatted with `format` (SimpleDateFormat pattern, UTC)
 *   unix       epoch number in `unix.precision` (seconds .. nanoseconds)
 *   Date       midnight UTC of that day      (schemaless: an SMT_DATE)
 *   Time       time of day on 1970-01-01     (schemaless: an SMT_DATE)
 *   Timestamp  the instant                   (schemaless: an SMT_DATE)
 * The input kind comes from the schema (Timestamp/Date/Time logical, string,
 * int64) or, schemaless, from the value (date, int64 epoch number in
 * `unix.precision`, string parsed with `format`; anything else fails).
 * Null operands and fields stay null; schemaless, an absent `field` is added
 * as null. A string that does not parse fails the record with Connect's
 * "Could not parse timestamp: value (..) does not match pattern (..)".
 *
 *   transforms:
 *     - type: TimestampConverter$Value
 *       field: ts
 *       target.type: string
 *       format: "yyyy-MM-dd'T'HH:mm:ss.SSSX"
 *
 * Differences from Kafka Connect: see datefmt.c for the SimpleDateFormat
 * subset. Schemaless Date/Time/Timestamp results are SMT_DATE nodes, which
 * the JSON writer prints as epoch milliseconds (Connect's schemaless
 * JsonConverter cannot write them at all).
 */
#include "datefmt.h"
#include "tutil.h"

#include <stdlib.h>

enum { TC_STRING = 0, TC_UNIX, TC_DATE, TC_TIME, TC_TIMESTAMP };
enum { TC_SECONDS = 0, TC_MILLIS, TC_MICROS, TC_NANOS };

static const char *const tc_types[] = {"string", "unix", "Date", "Time",
                                       "Timestamp", NULL};
static const char *const tc_precisions[] = {
    "seconds", "milliseconds", "microseconds", "nanoseconds", NULL};

struct tc_conf {
    char *field;
    char *target_type;
    char *format;
    char *unix_precision;
    int   replace_null_with_default;
};

struct tc_state {
    int                 target;    /* TC_STRING .. */
    int                 precision; /* TC_SECONDS .. */
    struct smt_datefmt *fmt;       /* NULL when `format` is empty */
    struct smt_bytes    field;     /* ptr NULL = whole operand */
};

static const char purpose[] = "converting timestamp formats";

/* Index of s in a NULL-terminated list (case-sensitive), or -1. */
static int tc_choice(const char *s, const char *const *list)
{
    int i;

    for (i = 0; s != NULL && list[i] != NULL; i++) {
        if (strcmp(s, list[i]) == 0) {
            return i;
        }
    }
    return -1;
}

static int tc_init(struct smt_inst *inst, struct smt_err *err)
{
    const struct tc_conf *conf = inst->conf;
    struct tc_state      *st;
    int                   target, precision;

    target = tc_choice(conf->target_type, tc_types);
    if (target < 0) {
        return smt_err_set(err, SMT_E_CONFIG,
                           "Invalid value %s for configuration target.type: "
                           "String must be one of: string, unix, Date, Time, "
                           "Timestamp",
                           conf->target_type ? conf->target_type : "null");
    }
    precision = tc_choice(conf->unix_precision, tc_precisions);
    if (precision < 0) {
        return smt_err_set(err, SMT_E_CONFIG,
                           "Invalid value %s for configuration unix.precision: "
                           "String must be one of: nanoseconds, microseconds, "
                           "milliseconds, seconds",
                           conf->unix_precision ? conf->unix_precision
                                                : "null");
    }
    if (target == TC_STRING &&
        (conf->format == NULL || conf->format[0] == '\0')) {
        return smt_err_set(err, SMT_E_CONFIG,
                           "TimestampConverter requires format option to be "
                           "specified when using string timestamps");
    }
    st = smt_xcalloc(1, sizeof(*st));
    st->target = target;
    st->precision = precision;
    if (conf->format != NULL && conf->format[0] != '\0') {
        st->fmt = smt_datefmt_new(conf->format, err);
        if (st->fmt == NULL) {
            free(st);
            return smt_err_set(err, SMT_E_CONFIG,
                               "TimestampConverter requires a "
                               "SimpleDateFormat-compatible pattern for string "
                               "timestamps: %s",
                               conf->format);
        }
    }
    if (conf->field != NULL && conf->field[0] != '\0') {
        st->field = smt_bytes_str(conf->field);
    }
    inst->state = st;
    return 0;
}

/* Epoch number in the configured precision -> milliseconds (Java's
 * TimeUnit conversions truncate toward zero). */
static int64_t tc_from_unix(const struct tc_state *st, int64_t v)
{
    switch (st->precision) {
    case TC_SECONDS:
        return v * 1000;
    case TC_MICROS:
        return v / 1000;
    case TC_NANOS:
        return v / 1000000;
    default:
        return v;
    }
}

static int tc_parse(const struct tc_state *st, const struct smt_val *v,
                    int64_t *ms, struct smt_err *err)
{
    if (st->fmt == NULL) {
        return smt_err_set(err, SMT_E_CONNECT,
                           "TimestampConverter requires format option to be "
                           "specified when using string timestamps");
    }
    if (smt_datefmt_parse(st->fmt, v->u.s.ptr, v->u.s.len, ms) < 0) {
        return smt_err_set(err, SMT_E_DATA,
                           "Could not parse timestamp: value (%.*s) does not "
                           "match pattern (%s)",
                           (int)(v->u.s.len > 120 ? 120 : v->u.s.len),
                           v->u.s.ptr, smt_datefmt_pattern(st->fmt));
    }
    return 0;
}

/* Reads v (not null) as milliseconds. schema NULL = schemaless rules. */
static int tc_read(const struct tc_state *st, const struct smt_val *v,
                   const struct smt_schema *schema, int64_t *ms,
                   struct smt_err *err)
{
    if (schema == NULL) {
        switch (v->type) {
        case SMT_DATE:
            *ms = v->u.i;
            return 0;
        case SMT_INT64:
            *ms = tc_from_unix(st, v->u.i);
            return 0;
        case SMT_STRING:
            return tc_parse(st, v, ms, err);
        default:
            return smt_err_set(err, SMT_E_DATA,
                               "TimestampConverter does not support %s "
                               "objects as timestamps",
                               smt_val_java_class(v));
        }
    }
    if (schema->name != NULL &&
        (strcmp(schema->name, SMT_LOGICAL_TIMESTAMP) == 0 ||
         strcmp(schema->name, SMT_LOGICAL_DATE) == 0 ||
         strcmp(schema->name, SMT_LOGICAL_TIME) == 0)) {
        if (v->type == SMT_INT32 &&
            strcmp(schema->name, SMT_LOGICAL_DATE) == 0) {
            *ms = v->u.i * SMT_MS_PER_DAY; /* days, if not yet converted */
        } else {
            *ms = v->u.i;
        }
        return 0;
    }
    if (schema->type == SMT_STRING && v->type == SMT_STRING) {
        return tc_parse(st, v, ms, err);
    }
    if (schema->type == SMT_INT64 && schema->name == NULL &&
        v->type == SMT_INT64) {
        *ms = tc_from_unix(st, v->u.i);
        return 0;
    }
    return smt_err_set(err, SMT_E_CONNECT,
                       "Schema %s does not correspond to a known timestamp "
                       "type format",
                       schema->name ? schema->name
                                    : smt_type_name(schema->type));
}

/* The converted value of ms in the target type. */
static struct smt_val *tc_write(const struct tc_state *st,
                                struct smt_arena *a, int64_t ms)
{
    struct smt_bytes s;

    switch (st->target) {
    case TC_STRING:
        s = smt_datefmt_format_arena(st->fmt, ms, a);
        return smt_val_str(a, SMT_STRING, s.ptr, s.len);
    case TC_UNIX:
        switch (st->precision) {
        case TC_SECONDS:
            return smt_val_int(a, SMT_INT64, ms / 1000);
        case TC_MICROS:
            return smt_val_int(a, SMT_INT64, ms * 1000);
        case TC_NANOS:
            return smt_val_int(a, SMT_INT64, ms * 1000000);
        default:
            return smt_val_int(a, SMT_INT64, ms);
        }
    case TC_DATE:
        return smt_val_int(a, SMT_DATE,
                           smt_floordiv(ms, SMT_MS_PER_DAY) * SMT_MS_PER_DAY);
    case TC_TIME:
        return smt_val_int(a, SMT_DATE, smt_floormod(ms, SMT_MS_PER_DAY));
    default:
        return smt_val_int(a, SMT_DATE, ms);
    }
}

/* The schema of the target type. */
static struct smt_schema *tc_schema(const struct tc_state *st,
                                    struct smt_arena *a, int optional)
{
    struct smt_schema *s;

    switch (st->target) {
    case TC_STRING:
        return smt_schema_prim(a, SMT_STRING, optional);
    case TC_UNIX:
        return smt_schema_prim(a, SMT_INT64, optional);
    case TC_DATE:
        s = smt_schema_prim(a, SMT_INT32, optional);
        s->name = SMT_LOGICAL_DATE;
        break;
    case TC_TIME:
        s = smt_schema_prim(a, SMT_INT32, optional);
        s->name = SMT_LOGICAL_TIME;
        break;
    default:
        s = smt_schema_prim(a, SMT_INT64, optional);
        s->name = SMT_LOGICAL_TIMESTAMP;
        break;
    }
    s->version = 1;
    return s;
}

/* Converts v (may be NULL/null: stays null) into *out. */
static int tc_convert(const struct tc_state *st, struct smt_arena *a,
                      const struct smt_val *v, const struct smt_schema *schema,
                      struct smt_val **out, struct smt_err *err)
{
    int64_t ms;

    if (v == NULL || v->type == SMT_NULL) {
        *out = smt_val_null(a);
        return 0;
    }
    if (tc_read(st, v, schema, &ms, err) < 0) {
        return -1;
    }
    *out = tc_write(st, a, ms);
    return 0;
}

static enum smt_verdict tc_whole(struct smt_inst *inst, struct smt_record *rec,
                                 const struct smt_val *v,
                                 const struct smt_schema *schema,
                                 struct smt_err *err)
{
    const struct tc_state *st = inst->state;
    struct smt_val        *out;

    if (v->type == SMT_NULL && schema == NULL) {
        return SMT_PASS;
    }
    if (tc_convert(st, rec->arena, v, schema, &out, err) < 0) {
        return SMT_FAIL;
    }
    smt_record_set_doc(rec, smt_operand_side(inst), out,
                       schema ? tc_schema(st, rec->arena, schema->optional)
                              : NULL);
    return SMT_PASS;
}

static enum smt_verdict tc_field(struct smt_inst *inst, struct smt_record *rec,
                                 const struct smt_val *v,
                                 const struct smt_schema *schema,
                                 struct smt_err *err)
{
    const struct tc_state   *st = inst->state;
    const struct tc_conf    *conf = inst->conf;
    const struct smt_schema *fs = NULL;
    struct smt_val          *obj, *out;
    const struct smt_val    *fv;
    long                     j = -1;

    if (v->type == SMT_NULL) {
        return SMT_PASS; /* tombstone: unchanged */
    }
    if (smt_require_map(v, schema, purpose, err) < 0) {
        return SMT_FAIL;
    }
    if (schema != NULL) {
        j = smt_schema_index(schema, st->field.ptr, st->field.len);
        if (j < 0) {
            return SMT_PASS; /* not in the schema: nothing to convert */
        }
        fs = schema->fields[j].schema;
    }
    fv = smt_obj_get(v, st->field.ptr, st->field.len);
    if (schema != NULL && (fv == NULL || fv->type == SMT_NULL) &&
        conf->replace_null_with_default && fs->def != NULL) {
        fv = fs->def;
    }
    if (tc_convert(st, rec->arena, fv, fs, &out, err) < 0) {
        return SMT_FAIL;
    }
    obj = smt_operand_mut(inst, rec, NULL, err);
    if (obj == NULL) {
        return SMT_FAIL;
    }
    smt_obj_set(rec->arena, obj, st->field.ptr, st->field.len, out);
    if (schema != NULL) {
        struct smt_schema *copy = smt_schema_copy(rec->arena, schema);

        copy->fields[j].schema = tc_schema(st, rec->arena, fs->optional);
        smt_operand_set_schema(inst, rec, copy);
    }
    return SMT_PASS;
}

static enum smt_verdict tc_apply(struct smt_inst *inst, struct smt_record *rec,
                                 struct smt_err *err)
{
    const struct tc_state   *st = inst->state;
    const struct smt_schema *schema;
    const struct smt_val    *v;

    v = smt_operand(inst, rec, &schema, err);
    if (v == NULL) {
        return SMT_FAIL;
    }
    if (st->field.ptr == NULL) {
        return tc_whole(inst, rec, v, schema, err);
    }
    return tc_field(inst, rec, v, schema, err);
}

static void tc_destroy(struct smt_inst *inst)
{
    struct tc_state *st = inst->state;

    if (st != NULL) {
        smt_datefmt_free(st->fmt);
        free(st);
        inst->state = NULL;
    }
}

static const struct smt_opt tc_opts[] = {
    {"field", SMT_OPT_STR, "", offsetof(struct tc_conf, field), 0, 0, NULL, 0,
     "Top-level field holding the timestamp; empty for the whole key/value"},
    {"target.type", SMT_OPT_STR, NULL, offsetof(struct tc_conf, target_type),
     0, 0, NULL, 0,
     "Output type: string, unix, Date, Time or Timestamp (exact case)"},
    {"format", SMT_OPT_STR, "", offsetof(struct tc_conf, format), 0, 0, NULL,
     0,
     "java.text.SimpleDateFormat pattern (UTC) for string input and output"},
    {"unix.precision", SMT_OPT_STR, "milliseconds",
     offsetof(struct tc_conf, unix_precision), 0, 0, NULL, 0,
     "Unit of epoch numbers: seconds, milliseconds, microseconds or "
     "nanoseconds"},
    {"replace.null.with.default", SMT_OPT_BOOL, "true",
     offsetof(struct tc_conf, replace_null_with_default), 0, 0, NULL, 0,
     "Schema'd only: convert a null field's schema default instead"},
    {0},
};

const struct smt_transform smt_timestamp_converter = {
    .name = "timestamp_converter",
    .connect = "TimestampConverter",
    .pkg = "org.apache.kafka.connect.transforms",
    .doc = "Convert a timestamp between epoch numbers, strings and "
           "Date/Time/Timestamp",
    .opts = tc_opts,
    .conf_size = sizeof(struct tc_conf),
    .flags = SMT_F_KEYVALUE | SMT_F_NEEDS_DOC,
    .init = tc_init,
    .apply = tc_apply,
    .destroy = tc_destroy,
};

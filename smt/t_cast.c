/*
 * t_cast.c - Cast: changes the type of listed fields, or of the whole key
 * or value, to int8..int64, float32/float64, boolean or string.
 *
 * Behaviour is Kafka Connect's Cast$Key/$Value, Java number semantics
 * included: integers narrow with two's-complement wrap-around (300 -> int8
 * 44); floats truncate toward zero and saturate to int/long before a
 * narrower wrap (1e20 -> int32 2147483647, -> int8 -1), NaN -> 0; number ->
 * boolean is longValue() != 0 (0.5 -> false); string -> integer is strict
 * (sign and digits only), string -> float lenient (Java's parseDouble:
 * spaces, exponents, NaN, Infinity, hex, f/d suffix), string -> boolean is
 * "true" ignoring case, never an error; number -> string uses Java's
 * toString (1.2345678E7); bytes only go to string (base64). Schema'd, the
 * cast fields get the new primitive schema (optionality kept, default cast
 * too) and Date/Time/Timestamp/Decimal are taken as their underlying
 * number unless the target is string. A null operand passes unchanged;
 * schemaless, a listed field that is absent is added as null.
 *
 *   transforms:
 *     - type: Cast$Value
 *       spec: reading.temp:float64,reading.count:int32
 *       field.syntax.version: V2
 *
 * Differences from Kafka Connect: field.syntax.version (ours): with V2 a
 * spec field is a dotted path (a ':' inside backticks does not split);
 * "absent is added as null" applies only when the parent object exists,
 * a path that does not reach an object changes nothing. A field listed
 * twice uses the last type (Connect keeps a map, so the same). Dates are
 * formatted in UTC with the proleptic Gregorian calendar (Java switches to
 * the Julian calendar before 1582).
 */
#include "tutil.h"
#include "json.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

struct cast_conf {
    struct smt_strlist spec;
    int                replace_null_with_default;
    char              *field_syntax_version;
};

struct cast_state {
    int              whole;  /* 1: the spec casts the whole operand */
    int              wtype;  /* whole: target type */
    uint32_t         n;      /* field casts */
    struct smt_path *paths;
    int             *types;  /* target type per path (enum smt_type) */
};

#define CAST_OUT_TYPES "[INT8, INT16, INT32, INT64, FLOAT32, FLOAT64, " \
                       "BOOLEAN, STRING]"
#define CAST_IN_TYPES "[INT8, INT16, INT32, INT64, FLOAT32, FLOAT64, " \
                      "BOOLEAN, STRING, BYTES]"

static const int64_t cast_day_ms = 86400000;

/* Connect's Schema.Type names and our types; -1 for types we can only
 * name (they are never valid targets). */
static const struct {
    const char *name;
    int         type;
} cast_type_names[] = {
    {"INT8", SMT_INT8},       {"INT16", SMT_INT16},
    {"INT32", SMT_INT32},     {"INT64", SMT_INT64},
    {"FLOAT32", SMT_FLOAT32}, {"FLOAT64", SMT_FLOAT64},
    {"BOOLEAN", SMT_BOOL},    {"STRING", SMT_STRING},
    {"BYTES", -1},            {"ARRAY", -1},
    {"MAP", -1},              {"STRUCT", -1},
};

/* Resolves a type name of the spec. Returns 0 with *type, or -1 with err
 * carrying Connect's message. */
static int cast_parse_type(const char *name, int *type, struct smt_err *err)
{
    size_t i;

    for (i = 0; i < sizeof(cast_type_names) / sizeof(cast_type_names[0]);
         i++) {
        if (strcasecmp(name, cast_type_names[i].name) == 0) {
            if (cast_type_names[i].type < 0) {
                return smt_err_set(err, SMT_E_CONFIG,
                                   "Cast transformation does not support "
                                   "casting to %s; supported types are "
                                   CAST_OUT_TYPES,
                                   cast_type_names[i].name);
            }
            *type = cast_type_names[i].type;
            return 0;
        }
    }
    return smt_err_set(err, SMT_E_CONFIG,
                       "Invalid type found in casting spec: %s", name);
}

/* Java (int) and (long) casts of a double: truncate, saturate, NaN -> 0. */
static int64_t cast_d2i(double d)
{
    if (isnan(d)) {
        return 0;
    }
    if (d >= 2147483647.0) {
        return INT32_MAX;
    }
    if (d <= -2147483648.0) {
        return INT32_MIN;
    }
    return (int64_t)d;
}

static int64_t cast_d2l(double d)
{
    if (isnan(d)) {
        return 0;
    }
    if (d >= 9223372036854775807.0) {
        return INT64_MAX;
    }
    if (d <= -9223372036854775808.0) {
        return INT64_MIN;
    }
    return (int64_t)d;
}

/* Two's-complement narrowing of i to an integer type. */
static int64_t cast_wrap(int64_t i, int type)
{
    uint64_t u;

    memcpy(&u, &i, sizeof(u));
    switch (type) {
    case SMT_INT8:
        return (int8_t)(uint8_t)u;
    case SMT_INT16:
        return (int16_t)(uint16_t)u;
    case SMT_INT32:
        return (int32_t)(uint32_t)u;
    default:
        return i;
    }
}

/* Java's Byte/Short/Integer/Long.parseX: an optional sign and ASCII digits,
 * in range for type. Returns 0 or -1. */
static int cast_parse_int(struct smt_bytes s, int type, int64_t *out)
{
    size_t   i = 0;
    int      neg = 0;
    uint64_t acc = 0, lim;

    if (s.len == 0) {
        return -1;
    }
    if (s.ptr[0] == '-' || s.ptr[0] == '+') {
        neg = s.ptr[0] == '-';
        i = 1;
        if (s.len == 1) {
            return -1;
        }
    }
    switch (type) {
    case SMT_INT8:
        lim = neg ? 128u : 127u;
        break;
    case SMT_INT16:
        lim = neg ? 32768u : 32767u;
        break;
    case SMT_INT32:
        lim = neg ? 2147483648u : 2147483647u;
        break;
    default:
        lim = neg ? (uint64_t)INT64_MAX + 1u : (uint64_t)INT64_MAX;
        break;
    }
    for (; i < s.len; i++) {
        unsigned dg = (unsigned char)s.ptr[i] - '0';

        if (dg > 9 || acc > (lim - dg) / 10) {
            return -1;
        }
        acc = acc * 10 + dg;
    }
    *out = neg ? (int64_t)(0 - acc) : (int64_t)acc;
    return 0;
}

/* Java's Double.parseDouble / Float.parseFloat grammar. Returns 0 with
 * *out, or -1. */
static int cast_parse_float(struct smt_arena *a, struct smt_bytes s,
                            int is32, double *out)
{
    const char *p = s.ptr, *e = s.ptr + s.len, *q, *body;
    char        buf[128], *z;
    size_t      n, digits = 0;

    /* most data is a short plain decimal, which the fast path reads
     * exactly; everything it accepts is in Java's grammar too */
    if (smt_parse_double_fast(s.ptr, s.len, is32, out)) {
        return 0;
    }
    while (p < e && (unsigned char)*p <= ' ') {
        p++;
    }
    while (e > p && (unsigned char)e[-1] <= ' ') {
        e--;
    }
    body = p;
    q = p;
    if (q < e && (*q == '+' || *q == '-')) {
        q++;
    }
    if ((size_t)(e - q) == 3 && memcmp(q, "NaN", 3) == 0) {
        *out = NAN;
        return 0;
    }
    if ((size_t)(e - q) == 8 && memcmp(q, "Infinity", 8) == 0) {
        *out = *body == '-' ? -INFINITY : INFINITY;
        return 0;
    }
    if (e - q > 2 && q[0] == '0' && (q[1] == 'x' || q[1] == 'X')) {
        q += 2;
        for (; q < e && isxdigit((unsigned char)*q); q++) {
            digits++;
        }
        if (q < e && *q == '.') {
            for (q++; q < e && isxdigit((unsigned char)*q); q++) {
                digits++;
            }
        }
        if (digits == 0 || q >= e || (*q != 'p' && *q != 'P')) {
            return -1;
        }
    } else {
        for (; q < e && *q >= '0' && *q <= '9'; q++) {
            digits++;
        }
        if (q < e && *q == '.') {
            for (q++; q < e && *q >= '0' && *q <= '9'; q++) {
                digits++;
            }
        }
        if (digits == 0) {
            return -1;
        }
        if (q >= e || (*q != 'e' && *q != 'E')) {
            goto suffix;
        }
    }
    /* exponent: [eEpP][+-]digits */
    q++;
    if (q < e && (*q == '+' || *q == '-')) {
        q++;
    }
    digits = 0;
    for (; q < e && *q >= '0' && *q <= '9'; q++) {
        digits++;
    }
    if (digits == 0) {
        return -1;
    }
suffix:
    n = (size_t)(q - body);
    if (q < e && (*q == 'f' || *q == 'F' || *q == 'd' || *q == 'D')) {
        q++;
    }
    if (q != e) {
        return -1;
    }
    /* e.g. " 79.5 " or "79.5f": the fast path may still apply */
    if (smt_parse_double_fast(body, n, is32, out)) {
        return 0;
    }
    if (n < sizeof(buf)) {
        memcpy(buf, body, n);
        buf[n] = '\0';
        z = buf;
    } else {
        z = smt_arena_memdup(a, body, n);
    }
    *out = is32 ? (double)strtof(z, NULL) : strtod(z, NULL);
    return 0;
}

/* Source value kinds after Connect's type checks. */
enum { K_INT, K_FLT, K_BOOL, K_STR, K_BYTES, K_DEC, K_DATE };

/* Casts v (not null) to target. vs is v's schema when schema'd (else NULL).
 * Returns the new node, v itself when nothing changes, or NULL with err. */
static struct smt_val *cast_value(struct smt_arena *a, struct smt_val *v,
                                  const struct smt_schema *vs, int target,
                                  struct smt_err *err)
{
    int     kind, st = vs != NULL ? vs->type : v->type;
    int64_t i = 0;
    double  d = 0;
    char    buf[48];
    size_t  n;

    if (st == SMT_OBJECT || st == SMT_ARRAY || st == SMT_NULL) {
        smt_err_set(err, SMT_E_DATA,
                    "Cast transformation does not support casting from %s; "
                    "supported types are " CAST_IN_TYPES,
                    st == SMT_ARRAY ? "ARRAY"
                    : st == SMT_NULL ? "NULL"
                    : vs != NULL && !vs->is_map ? "STRUCT"
                                                : "MAP");
        return NULL;
    }
    if (vs == NULL && (v->type == SMT_DECIMAL || v->type == SMT_DATE)) {
        smt_err_set(err, SMT_E_DATA,
                    "Cast transformation was passed a value of type class %s "
                    "which is not supported by Connect's data API",
                    smt_val_java_class(v));
        return NULL;
    }
    switch (v->type) {
    case SMT_BOOL:
        kind = K_BOOL;
        i = v->u.b;
        break;
    case SMT_INT8:
    case SMT_INT16:
    case SMT_INT32:
    case SMT_INT64:
        kind = K_INT;
        i = v->u.i;
        break;
    case SMT_FLOAT32:
    case SMT_FLOAT64:
        kind = K_FLT;
        d = v->u.d;
        break;
    case SMT_STRING:
        kind = K_STR;
        break;
    case SMT_BYTES:
        kind = K_BYTES;
        break;
    case SMT_DECIMAL:
        kind = K_DEC;
        break;
    case SMT_DATE:
        kind = K_DATE;
        i = v->u.i;
        break;
    default:
        smt_err_set(err, SMT_E_DATA,
                    "Cast transformation does not support casting from %s; "
                    "supported types are " CAST_IN_TYPES,
                    smt_type_name(v->type));
        return NULL;
    }
    /* Logical types become their underlying number unless going to text. */
    if (kind == K_DATE && target != SMT_STRING) {
        const char *lname = vs != NULL ? vs->name : NULL;

        if (lname != NULL && strcmp(lname, SMT_LOGICAL_DATE) == 0) {
            if (i % cast_day_ms != 0) {
                smt_err_set(err, SMT_E_DATA,
                            "Kafka Connect Date type should not have any "
                            "time fields set to non-zero values.");
                return NULL;
            }
            i /= cast_day_ms;
        } else if (lname != NULL && strcmp(lname, SMT_LOGICAL_TIME) == 0) {
            if (i < 0 || i > cast_day_ms) {
                smt_err_set(err, SMT_E_DATA,
                            "Kafka Connect Time type should not have any "
                            "date fields set to non-zero values.");
                return NULL;
            }
        }
        kind = K_INT;
    }
    if (kind == K_BYTES && target != SMT_STRING) {
        smt_err_set(err, SMT_E_DATA,
                    "Unexpected type in Cast transformation: class [B");
        return NULL;
    }
    switch (target) {
    case SMT_INT8:
    case SMT_INT16:
    case SMT_INT32:
    case SMT_INT64:
        switch (kind) {
        case K_FLT:
            i = target == SMT_INT64 ? cast_d2l(d) : cast_d2i(d);
            break;
        case K_STR:
            if (cast_parse_int(v->u.s, target, &i) != 0) {
                goto range;
            }
            break;
        case K_DEC:
            if (smt_decimal_long(v->u.s.ptr, v->u.s.len, &i) != 0) {
                goto range;
            }
            break;
        default: /* K_INT, K_BOOL */
            break;
        }
        if (v->type == target) {
            return v;
        }
        return smt_val_int(a, target, cast_wrap(i, target));
    case SMT_FLOAT32:
    case SMT_FLOAT64:
        switch (kind) {
        case K_INT:
        case K_BOOL:
            d = target == SMT_FLOAT32 ? (double)(float)i : (double)i;
            break;
        case K_STR:
            if (cast_parse_float(a, v->u.s, target == SMT_FLOAT32, &d) != 0) {
                goto range;
            }
            break;
        case K_DEC:
            if (cast_parse_float(a, v->u.s, target == SMT_FLOAT32, &d) != 0) {
                goto range;
            }
            break;
        default: /* K_FLT */
            break;
        }
        if (v->type == target) {
            return v;
        }
        return smt_val_float(a, target, d);
    case SMT_BOOL:
        switch (kind) {
        case K_BOOL:
            return v;
        case K_FLT:
            i = cast_d2l(d);
            break;
        case K_STR:
            i = v->u.s.len == 4 && strncasecmp(v->u.s.ptr, "true", 4) == 0;
            break;
        case K_DEC:
            if (smt_decimal_long(v->u.s.ptr, v->u.s.len, &i) != 0) {
                goto range;
            }
            break;
        default:
            break;
        }
        return smt_val_bool(a, i != 0);
    default: /* SMT_STRING */
        switch (kind) {
        case K_STR:
            return v;
        case K_INT:
            n = (size_t)snprintf(buf, sizeof(buf), "%lld", (long long)i);
            break;
        case K_FLT:
            n = smt_fmt_java_double(buf, d, v->type == SMT_FLOAT32);
            break;
        case K_BOOL:
            return smt_val_str(a, SMT_STRING, i ? "true" : "false",
                               i ? 4 : 5);
        case K_DEC:
            return smt_val_str(a, SMT_STRING, v->u.s.ptr, v->u.s.len);
        case K_BYTES: {
            struct smt_bytes b = smt_arena_base64(a, v->u.s.ptr, v->u.s.len);

            return smt_val_str(a, SMT_STRING, b.ptr, b.len);
        }
        default: /* K_DATE */
            n = smt_fmt_java_date(buf, i);
            break;
        }
        return smt_val_str(a, SMT_STRING, smt_arena_memdup(a, buf, n), n);
    }
range:
    smt_err_set(err, SMT_E_DATA,
                "Value (%.*s) was out of range for requested data type",
                (int)(v->u.s.len > 200 ? 200 : v->u.s.len), v->u.s.ptr);
    return NULL;
}

/* The cast schema of a field (or whole operand) of schema fs: the target
 * primitive type, same optionality, default cast. NULL with err if the
 * default does not cast. */
static struct smt_schema *cast_schema(struct smt_arena *a,
                                      const struct smt_schema *fs, int target,
                                      struct smt_err *err)
{
    struct smt_schema *ns = smt_schema_prim(a, target, fs->optional);

    if (fs->def != NULL && fs->def->type != SMT_NULL) {
        ns->def = cast_value(a, fs->def, fs, target, err);
        if (ns->def == NULL) {
            return NULL;
        }
    }
    return ns;
}

static int cast_init(struct smt_inst *inst, struct smt_err *err)
{
    const struct cast_conf *conf = inst->conf;
    struct cast_state      *st = NULL;
    struct smt_bytes        parts[3];
    char                    lbuf[200];
    char                   *field = NULL, *tname = NULL;
    size_t                  np;
    uint32_t                i, j;
    int                     version, type = 0;

    if (conf->spec.n == 0) {
        return smt_err_set(err, SMT_E_CONFIG,
                           "Must specify at least one field to cast.");
    }
    version = smt_syntax_check(conf->field_syntax_version, err);
    if (version < 0) {
        return -1;
    }
    st = smt_xcalloc(1, sizeof(*st));
    st->paths = smt_xcalloc(conf->spec.n, sizeof(*st->paths));
    st->types = smt_xcalloc(conf->spec.n, sizeof(*st->types));
    for (i = 0; i < conf->spec.n; i++) {
        np = smt_split_colon(conf->spec.v[i], parts, 3,
                             version == SMT_PATH_V2);
        if (np > 2 || np == 0) {
            smt_err_set(err, SMT_E_CONFIG,
                        "Invalid value %s for configuration renames: Invalid "
                        "rename mapping: %s",
                        smt_strlist_java(&conf->spec, lbuf, sizeof(lbuf)),
                        conf->spec.v[i]);
            goto fail;
        }
        tname = smt_xstrtrim(parts[np - 1]);
        if (cast_parse_type(tname, &type, err) != 0) {
            goto fail;
        }
        free(tname);
        tname = NULL;
        if (np == 1) {
            st->whole = 1;
            st->wtype = type;
            continue;
        }
        field = smt_xstrtrim(parts[0]);
        /* A field named twice keeps the last type (Connect's map). */
        for (j = 0; j < st->n; j++) {
            if (strcmp(st->paths[j].text, field) == 0) {
                break;
            }
        }
        if (j < st->n) {
            st->types[j] = type;
        } else {
            if (smt_path_parse(&st->paths[st->n], field, version, err) != 0) {
                smt_err_prefix(err, "spec: ");
                goto fail;
            }
            st->types[st->n++] = type;
        }
        free(field);
        field = NULL;
    }
    if (st->whole && conf->spec.n > 1) {
        smt_err_set(err, SMT_E_CONFIG,
                    "Cast transformations that specify a type to cast the "
                    "entire value to may only specify a single cast in their "
                    "spec");
        goto fail;
    }
    inst->state = st;
    return 0;
fail:
    free(field);
    free(tname);
    smt_paths_free(st->paths, st->n);
    free(st->types);
    free(st);
    return -1;
}

/* Whole-operand cast. */
static enum smt_verdict cast_whole(struct smt_inst *inst,
                                   struct smt_record *rec,
                                   const struct cast_state *st,
                                   struct smt_err *err)
{
    const struct smt_schema *schema, *ns = NULL;
    const struct smt_val    *ro;
    struct smt_val          *v, *out;

    ro = smt_operand(inst, rec, &schema, err);
    if (ro == NULL) {
        return SMT_FAIL;
    }
    if (ro->type == SMT_NULL) {
        return SMT_PASS;
    }
    /* A scalar: casting reads it, the result is a new node. */
    v = (struct smt_val *)ro;
    out = cast_value(rec->arena, v, schema, st->wtype, err);
    if (out == NULL) {
        return SMT_FAIL;
    }
    if (schema != NULL) {
        ns = cast_schema(rec->arena, schema, st->wtype, err);
        if (ns == NULL) {
            return SMT_FAIL;
        }
    } else if (out == v) {
        return SMT_PASS; /* already of the target type: untouched */
    }
    if (out == v) {
        out = smt_val_clone(rec->arena, v);
    }
    smt_record_set_doc(rec, smt_operand_side(inst), out, ns);
    return SMT_PASS;
}

static enum smt_verdict cast_apply(struct smt_inst *inst,
                                   struct smt_record *rec, struct smt_err *err)
{
    const struct cast_conf  *conf = inst->conf;
    const struct cast_state *st = inst->state;
    const struct smt_schema *schema, *fs = NULL, *nschema = NULL;
    struct smt_schema       *pschema, *cs;
    const struct smt_val    *ro;
    struct smt_val          *root, *parent, *v, *out;
    struct smt_bytes         leaf;
    uint32_t                 i;
    long                     idx, j;

    if (st->whole) {
        return cast_whole(inst, rec, st, err);
    }
    ro = smt_operand(inst, rec, &schema, err);
    if (ro == NULL) {
        return SMT_FAIL;
    }
    if (ro->type == SMT_NULL) {
        return SMT_PASS;
    }
    if (smt_require_map(ro, schema, "cast types", err) != 0) {
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
    for (i = 0; i < st->n; i++) {
        const struct smt_path *p = &st->paths[i];

        leaf = smt_path_leaf(p);
        if (schema != NULL) {
            fs = smt_schema_at(schema, p);
            if (fs == NULL) {
                continue; /* not in the schema: ignored */
            }
            cs = cast_schema(rec->arena, fs, st->types[i], err);
            if (cs == NULL) {
                return SMT_FAIL;
            }
            pschema = smt_schema_parent_mut(rec->arena, &nschema, p);
            if (pschema != NULL) {
                j = smt_schema_index(pschema, leaf.ptr, leaf.len);
                pschema->fields[j].schema = cs;
            }
        }
        parent = smt_path_parent_mut(rec->arena, root, p, 0);
        if (parent == NULL) {
            continue;
        }
        idx = smt_obj_index(parent, leaf.ptr, leaf.len);
        if (idx < 0) {
            if (schema == NULL) {
                smt_obj_set(rec->arena, parent, leaf.ptr, leaf.len,
                            smt_val_null(rec->arena));
            }
            continue;
        }
        v = parent->u.members[idx].val;
        if (v == NULL || v->type == SMT_NULL) {
            continue;
        }
        out = cast_value(rec->arena, v, fs, st->types[i], err);
        if (out == NULL) {
            return SMT_FAIL;
        }
        parent->u.members[idx].val = out;
    }
    if (schema != NULL) {
        smt_operand_set_schema(inst, rec, nschema);
    }
    return SMT_PASS;
}

static void cast_destroy(struct smt_inst *inst)
{
    struct cast_state *st = inst->state;

    if (st == NULL) {
        return;
    }
    smt_paths_free(st->paths, st->n);
    free(st->types);
    free(st);
    inst->state = NULL;
}

static const struct smt_opt cast_opts[] = {
    {"spec", SMT_OPT_STRLIST, NULL, offsetof(struct cast_conf, spec), 0, 0,
     NULL, 0,
     "field:type pairs, or one bare type to cast the whole key/value; types: "
     "int8 int16 int32 int64 float32 float64 boolean string"},
    {"replace.null.with.default", SMT_OPT_BOOL, "true",
     offsetof(struct cast_conf, replace_null_with_default), 0, 0, NULL, 0,
     "Schema'd only: read a null field that has a default as its default"},
    {"field.syntax.version", SMT_OPT_STR, "V1",
     offsetof(struct cast_conf, field_syntax_version), 0, 0,
     smt_syntax_choices, 0,
     "V1: a spec field is one field name; V2: dotted paths, backticks quote "
     "names with dots"},
    {0},
};

const struct smt_transform smt_cast = {
    .name = "cast",
    .connect = "Cast",
    .pkg = "org.apache.kafka.connect.transforms",
    .doc = "Cast fields, or the whole key/value, to another primitive type",
    .opts = cast_opts,
    .conf_size = sizeof(struct cast_conf),
    .flags = SMT_F_KEYVALUE | SMT_F_NEEDS_DOC,
    .init = cast_init,
    .apply = cast_apply,
    .destroy = cast_destroy,
};

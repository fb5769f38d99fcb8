/*
 * tutil.c - helpers shared by the transform files: Connect's requireMap /
 * requireStruct checks with their exact messages, reaching a $Key/$Value
 * operand, field-path lists, the field.syntax.version option, and the few
 * schema edits (copy-on-write along a path, defaults) that several
 * schema'd transforms need.
 *
 * Schemas of a decoded record may be shared with other routes (a fork reads
 * the input record's tree and schema), so every schema change here copies
 * before it writes.
 */
#include "tutil.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

const char *const smt_syntax_choices[] = {"V1", "V2", NULL};

const char *smt_java_class(const struct smt_val *v,
                           const struct smt_schema *schema)
{
    if (v != NULL && v->type == SMT_OBJECT && schema != NULL &&
        schema->type == SMT_OBJECT && !schema->is_map) {
        return "org.apache.kafka.connect.data.Struct";
    }
    return smt_val_java_class(v);
}

int smt_require_map(const struct smt_val *v, const struct smt_schema *schema,
                    const char *purpose, struct smt_err *err)
{
    if (schema == NULL) {
        if (v != NULL && v->type == SMT_OBJECT) {
            return 0;
        }
        return smt_err_set(err, SMT_E_DATA,
                           "Only Map objects supported in absence of schema "
                           "for [%s], found: %s",
                           purpose, smt_val_java_class(v));
    }
    if (v != NULL && v->type == SMT_OBJECT && schema->type == SMT_OBJECT &&
        !schema->is_map) {
        return 0;
    }
    return smt_err_set(err, SMT_E_DATA,
                       "Only Struct objects supported for [%s], found: %s",
                       purpose, smt_val_java_class(v));
}

int smt_operand_side(const struct smt_inst *inst)
{
    return (inst->t->flags & SMT_F_KEYVALUE) && inst->side == SMT_KEY
               ? SMT_KEY
               : SMT_VALUE;
}

const struct smt_val *smt_operand(struct smt_inst *inst, struct smt_record *rec,
                                  const struct smt_schema **schema,
                                  struct smt_err *err)
{
    int                   side = smt_operand_side(inst);
    const struct smt_val *v = smt_record_doc(rec, side, err);

    if (schema != NULL) {
        *schema = side == SMT_KEY ? rec->key.schema : rec->value.schema;
    }
    return v;
}

struct smt_val *smt_operand_mut(struct smt_inst *inst, struct smt_record *rec,
                                const struct smt_schema **schema,
                                struct smt_err *err)
{
    int             side = smt_operand_side(inst);
    struct smt_val *v = smt_record_doc_mut(rec, side, err);

    if (schema != NULL) {
        *schema = side == SMT_KEY ? rec->key.schema : rec->value.schema;
    }
    return v;
}

void smt_operand_set_schema(struct smt_inst *inst, struct smt_record *rec,
                            const struct smt_schema *schema)
{
    if (smt_operand_side(inst) == SMT_KEY) {
        rec->key.schema = schema;
    } else {
        rec->value.schema = schema;
    }
}

struct smt_path *smt_paths_parse(const struct smt_strlist *list, int version,
                                 struct smt_err *err)
{
    struct smt_path *paths;
    uint32_t         i;

    paths = smt_xcalloc(list->n ? list->n : 1, sizeof(*paths));
    for (i = 0; i < list->n; i++) {
        if (smt_path_parse(&paths[i], list->v[i], version, err) != 0) {
            smt_paths_free(paths, i);
            return NULL;
        }
    }
    return paths;
}

void smt_paths_free(struct smt_path *paths, uint32_t n)
{
    uint32_t i;

    if (paths == NULL) {
        return;
    }
    for (i = 0; i < n; i++) {
        smt_path_fini(&paths[i]);
    }
    free(paths);
}

int smt_syntax_version(const char *s)
{
    if (s == NULL) {
        return 0;
    }
    if (strcasecmp(s, "V1") == 0) {
        return SMT_PATH_V1;
    }
    if (strcasecmp(s, "V2") == 0) {
        return SMT_PATH_V2;
    }
    return 0;
}

int smt_syntax_check(const char *text, struct smt_err *err)
{
    int v;

    if (text == NULL) {
        return SMT_PATH_V1;
    }
    v = smt_syntax_version(text);
    if (v == 0) {
        return smt_err_set(err, SMT_E_CONFIG,
                           "Invalid value %s for configuration "
                           "field.syntax.version: String must be one of "
                           "(case insensitive): V1, V2",
                           text);
    }
    return v;
}

int smt_err_empty_list(struct smt_err *err, const char *name)
{
    return smt_err_set(err, SMT_E_CONFIG,
                       "Invalid value [] for configuration %s: Empty list",
                       name);
}

long smt_schema_index(const struct smt_schema *s, const char *name,
                      size_t len)
{
    uint32_t i;

    if (s == NULL || s->type != SMT_OBJECT || s->is_map) {
        return -1;
    }
    for (i = 0; i < s->nfields; i++) {
        if (s->fields[i].name.len == len &&
            (len == 0 || memcmp(s->fields[i].name.ptr, name, len) == 0)) {
            return (long)i;
        }
    }
    return -1;
}

const struct smt_schema *smt_schema_at(const struct smt_schema *root,
                                       const struct smt_path *p)
{
    const struct smt_schema *s = root;
    uint32_t                 i;

    for (i = 0; i < p->n && s != NULL; i++) {
        s = smt_schema_field(s, p->seg[i].ptr, p->seg[i].len);
    }
    return s;
}

struct smt_schema *smt_schema_parent_mut(struct smt_arena *a,
                                         const struct smt_schema **root,
                                         const struct smt_path *p)
{
    struct smt_schema *top, *s, *c;
    struct smt_path    up;
    uint32_t           i;
    long               j;

    /* Walk first so that a failed lookup copies nothing. */
    memset(&up, 0, sizeof(up));
    up.n = p->n - 1;
    up.seg = p->seg;
    if (p->n > 1 && smt_schema_at(*root, &up) == NULL) {
        return NULL;
    }
    if (*root == NULL || (*root)->type != SMT_OBJECT || (*root)->is_map) {
        return NULL;
    }
    top = smt_schema_copy(a, *root);
    s = top;
    for (i = 0; i + 1 < p->n; i++) {
        j = smt_schema_index(s, p->seg[i].ptr, p->seg[i].len);
        if (j < 0 || s->fields[j].schema->type != SMT_OBJECT ||
            s->fields[j].schema->is_map) {
            return NULL;
        }
        c = smt_schema_copy(a, s->fields[j].schema);
        s->fields[j].schema = c;
        s = c;
    }
    *root = top;
    return s;
}

struct smt_schema *smt_schema_prim(struct smt_arena *a, int type, int optional)
{
    struct smt_schema *s = smt_arena_calloc(a, sizeof(*s));

    s->type = (uint8_t)type;
    s->optional = (uint8_t)(optional != 0);
    return s;
}

void smt_struct_defaults(struct smt_arena *a, struct smt_val *obj,
                         const struct smt_schema *schema)
{
    uint32_t i;
    long     j;

    if (obj == NULL || obj->type != SMT_OBJECT || schema == NULL) {
        return;
    }
    for (i = 0; i < schema->nfields; i++) {
        const struct smt_field *f = &schema->fields[i];

        if (f->schema == NULL || f->schema->def == NULL ||
            f->schema->def->type == SMT_NULL) {
            continue;
        }
        j = smt_obj_index(obj, f->name.ptr, f->name.len);
        if (j < 0) {
            smt_obj_set(a, obj, f->name.ptr, f->name.len,
                        smt_val_clone(a, f->schema->def));
        } else if (obj->u.members[j].val == NULL ||
                   obj->u.members[j].val->type == SMT_NULL) {
            obj->u.members[j].val = smt_val_clone(a, f->schema->def);
            obj->raw = NULL;
        }
    }
}

size_t smt_split_colon(const char *s, struct smt_bytes *out, size_t max,
                       int backticks)
{
    size_t           i, len = strlen(s), start = 0, keep;
    size_t           total = 0, last_nonempty = 0;
    int              quoted = 0;
    struct smt_bytes piece;

    /* Collect the pieces into out (up to max) and count them all, then drop
     * trailing empty ones as Java's split does. */

    for (i = 0; i <= len; i++) {
        if (i < len && backticks && s[i] == '`') {
            quoted = !quoted;
            continue;
        }
        if (i < len && (s[i] != ':' || quoted)) {
            continue;
        }
        piece.ptr = s + start;
        piece.len = i - start;
        if (total < max) {
            out[total] = piece;
        }
        total++;
        if (piece.len > 0) {
            last_nonempty = total;
        }
        start = i + 1;
    }
    keep = last_nonempty;
    if (keep == 0) {
        /* "" splits to one empty piece; ":" (only separators) to none. */
        keep = len == 0 ? 1 : 0;
    }
    return keep;
}

char *smt_xstrtrim(struct smt_bytes b)
{
    const char *p = b.ptr, *e = b.ptr + b.len;

    while (p < e && (unsigned char)*p <= ' ') {
        p++;
    }
    while (e > p && (unsigned char)e[-1] <= ' ') {
        e--;
    }
    return smt_xstrndup(p, (size_t)(e - p));
}

const char *smt_strlist_java(const struct smt_strlist *l, char *buf,
                             size_t size)
{
    size_t   used = 0;
    uint32_t i;
    int      k;

    if (size == 0) {
        return buf;
    }
    buf[0] = '\0';
    k = snprintf(buf, size, "[");
    used = k > 0 ? (size_t)k : 0;
    for (i = 0; i < l->n && used < size; i++) {
        k = snprintf(buf + used, size - used, "%s%s", i ? ", " : "",
                     l->v[i]);
        used += k > 0 ? (size_t)k : 0;
    }
    if (used < size) {
        snprintf(buf + used, size - used, "]");
    }
    return buf;
}

int smt_decimal_long(const char *p, size_t len, int64_t *out)
{
    size_t   i = 0, ndig = 0, intdig = 0, k;
    int      neg = 0, eneg = 0, seen_dot = 0;
    long     exp = 0, point;
    uint64_t acc = 0;
    size_t   first = 0;

    if (i < len && (p[i] == '+' || p[i] == '-')) {
        neg = p[i] == '-';
        i++;
    }
    first = i;
    for (; i < len; i++) {
        if (p[i] >= '0' && p[i] <= '9') {
            ndig++;
            if (!seen_dot) {
                intdig++;
            }
        } else if (p[i] == '.' && !seen_dot) {
            seen_dot = 1;
        } else {
            break;
        }
    }
    if (ndig == 0) {
        return -1;
    }
    if (i < len && (p[i] == 'e' || p[i] == 'E')) {
        size_t ed = 0;

        i++;
        if (i < len && (p[i] == '+' || p[i] == '-')) {
            eneg = p[i] == '-';
            i++;
        }
        for (; i < len && p[i] >= '0' && p[i] <= '9'; i++, ed++) {
            if (exp < 100000000L) {
                exp = exp * 10 + (p[i] - '0');
            }
        }
        if (ed == 0) {
            return -1;
        }
        if (eneg) {
            exp = -exp;
        }
    }
    if (i != len) {
        return -1;
    }
    /* Digits left of the decimal point after applying the exponent. */
    point = (long)intdig + exp;
    k = 0;
    for (i = first; i < len && point > 0; i++) {
        if (p[i] == '.') {
            continue;
        }
        if (p[i] < '0' || p[i] > '9' || k >= ndig) {
            break;
        }
        acc = acc * 10u + (uint64_t)(p[i] - '0');
        k++;
        point--;
    }
    /* The exponent may move the point past the last digit: append zeros
     * (mod 2^64 a long run of them ends at 0 anyway). */
    for (; point > 0 && point < 100; point--) {
        acc *= 10u;
    }
    if (point >= 100) {
        acc = 0;
    }
    if (neg) {
        acc = (uint64_t)0 - acc;
    }
    if (out != NULL) {
        memcpy(out, &acc, sizeof(*out));
    }
    return 0;
}

size_t smt_fmt_java_date(char *out, int64_t ms)
{
    const int64_t day = 86400000;
    int64_t       days, rem, z, era, doe, yoe, y, doy, mp, d, m;
    int           n;

    /* Floor division: instants before 1970 fall on the previous day. */
    days = ms / day;
    rem = ms % day;
    if (rem < 0) {
        rem += day;
        days--;
    }
    if (ms < day) {
        n = snprintf(out, 40, "%02d:%02d:%02d.%03dZ", (int)(rem / 3600000),
                     (int)(rem / 60000 % 60), (int)(rem / 1000 % 60),
                     (int)(rem % 1000));
        return (size_t)n;
    }
    /* Days to civil date (Howard Hinnant's algorithm). */
    z = days + 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    y = yoe + era * 400;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    d = doy - (153 * mp + 2) / 5 + 1;
    m = mp < 10 ? mp + 3 : mp - 9;
    if (m <= 2) {
        y++;
    }
    if (rem == 0) {
        n = snprintf(out, 40, "%04lld-%02d-%02d", (long long)y, (int)m,
                     (int)d);
    } else {
        n = snprintf(out, 40, "%04lld-%02d-%02dT%02d:%02d:%02d.%03dZ",
                     (long long)y, (int)m, (int)d, (int)(rem / 3600000),
                     (int)(rem / 60000 % 60), (int)(rem / 1000 % 60),
                     (int)(rem % 1000));
    }
    return (size_t)n;
}

struct smt_bytes smt_arena_base64(struct smt_arena *a, const void *p,
                                  size_t len)
{
    static const char       tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                    "abcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char    *s = p;
    size_t                  olen = (len + 2) / 3 * 4, i, o = 0;
    char                   *out = smt_arena_alloc(a, olen + 1);
    struct smt_bytes        b;
    uint32_t                w;

    for (i = 0; i + 2 < len; i += 3) {
        w = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
        out[o++] = tab[w >> 18 & 63];
        out[o++] = tab[w >> 12 & 63];
        out[o++] = tab[w >> 6 & 63];
        out[o++] = tab[w & 63];
    }
    if (i < len) {
        w = (uint32_t)s[i] << 16 | (i + 1 < len ? (uint32_t)s[i + 1] << 8 : 0);
        out[o++] = tab[w >> 18 & 63];
        out[o++] = tab[w >> 12 & 63];
        out[o++] = i + 1 < len ? tab[w >> 6 & 63] : '=';
        out[o++] = '=';
    }
    out[o] = '\0';
    b.ptr = out;
    b.len = o;
    return b;
}

/*
 * val.c - the value tree: constructors, objects and arrays, deep copy and
 * equality, Connect schemas, and KIP-821 field paths.
 *
 * Every mutator clears the `raw` source text of the node it changes, so the
 * serializer re-encodes exactly the parts that changed; walking a path for
 * a change (smt_path_parent_mut) clears it on every container on the way,
 * because a container whose child changed no longer matches its source.
 */
#include "val.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *smt_type_name(int type)
{
    static const char *const names[SMT_TYPE_COUNT] = {
        "NULL",   "BOOLEAN", "INT8",  "INT16",   "INT32",
        "INT64",  "FLOAT32", "FLOAT64", "STRING", "BYTES",
        "ARRAY",  "MAP",     "BYTES", "INT64",
    };

    if (type < 0 || type >= SMT_TYPE_COUNT) {
        return "UNKNOWN";
    }
    return names[type];
}

const char *smt_val_java_class(const struct smt_val *v)
{
    if (v == NULL) {
        return "null";
    }
    switch (v->type) {
    case SMT_BOOL:
        return "java.lang.Boolean";
    case SMT_INT8:
        return "java.lang.Byte";
    case SMT_INT16:
        return "java.lang.Short";
    case SMT_INT32:
        return "java.lang.Integer";
    case SMT_INT64:
        return "java.lang.Long";
    case SMT_FLOAT32:
        return "java.lang.Float";
    case SMT_FLOAT64:
        return "java.lang.Double";
    case SMT_STRING:
        return "java.lang.String";
    case SMT_BYTES:
        return "[B";
    case SMT_ARRAY:
        return "java.util.ArrayList";
    case SMT_OBJECT:
        return "java.util.HashMap";
    case SMT_DECIMAL:
        return "java.math.BigDecimal";
    case SMT_DATE:
        return "java.util.Date";
    case SMT_NULL:
    default:
        return "null";
    }
}

/* ---------------------------------------------------------------------- */
/* Constructors */

static struct smt_val *val_new(struct smt_arena *a, int type)
{
    struct smt_val *v = smt_arena_alloc(a, sizeof(*v));

    memset(v, 0, sizeof(*v));
    v->type = (uint8_t)type;
    return v;
}

struct smt_val *smt_val_null(struct smt_arena *a)
{
    return val_new(a, SMT_NULL);
}

struct smt_val *smt_val_bool(struct smt_arena *a, int b)
{
    struct smt_val *v = val_new(a, SMT_BOOL);

    v->u.b = b != 0;
    return v;
}

struct smt_val *smt_val_int(struct smt_arena *a, int type, int64_t i)
{
    struct smt_val *v = val_new(a, type);

    v->u.i = i;
    return v;
}

struct smt_val *smt_val_float(struct smt_arena *a, int type, double d)
{
    struct smt_val *v = val_new(a, type);

    v->u.d = type == SMT_FLOAT32 ? (double)(float)d : d;
    return v;
}

struct smt_val *smt_val_str(struct smt_arena *a, int type, const char *p,
                            size_t len)
{
    struct smt_val *v = val_new(a, type);

    v->u.s.ptr = p != NULL ? p : "";
    v->u.s.len = len;
    return v;
}

struct smt_val *smt_val_array(struct smt_arena *a, uint32_t cap)
{
    struct smt_val *v = val_new(a, SMT_ARRAY);

    if (cap > 0) {
        v->u.items = smt_arena_alloc(a, cap * sizeof(*v->u.items));
        v->cap = cap;
    }
    return v;
}

struct smt_val *smt_val_object(struct smt_arena *a, uint32_t cap)
{
    struct smt_val *v = val_new(a, SMT_OBJECT);

    if (cap > 0) {
        v->u.members = smt_arena_alloc(a, cap * sizeof(*v->u.members));
        v->cap = cap;
    }
    return v;
}

struct smt_val *smt_val_clone(struct smt_arena *a, const struct smt_val *v)
{
    struct smt_val *c;
    uint32_t        i;

    if (v == NULL) {
        return NULL;
    }
    c = smt_arena_alloc(a, sizeof(*c));
    *c = *v;
    if (v->type == SMT_ARRAY) {
        c->cap = v->n;
        c->u.items = v->n ? smt_arena_alloc(a, v->n * sizeof(*c->u.items))
                          : NULL;
        for (i = 0; i < v->n; i++) {
            c->u.items[i] = smt_val_clone(a, v->u.items[i]);
        }
    } else if (v->type == SMT_OBJECT) {
        c->cap = v->n;
        c->u.members =
            v->n ? smt_arena_alloc(a, v->n * sizeof(*c->u.members)) : NULL;
        for (i = 0; i < v->n; i++) {
            c->u.members[i].key = v->u.members[i].key;
            c->u.members[i].val = smt_val_clone(a, v->u.members[i].val);
        }
    }
    return c;
}

struct smt_val *smt_val_fork(struct smt_arena *a, const struct smt_val *v)
{
    struct smt_val *c;
    uint32_t        i, n;

    if (v == NULL) {
        return NULL;
    }
    n = v->n;
    if (v->type == SMT_OBJECT) {
        /* the node and its members in one block, with two spare slots as
         * the parser leaves them (adding a field is a common change) */
        c = smt_arena_alloc(a, sizeof(*c) +
                                   (n + 2) * sizeof(struct smt_member));
        *c = *v;
        c->cap = n + 2;
        c->u.members = (struct smt_member *)(c + 1);
        for (i = 0; i < n; i++) {
            struct smt_val *m = v->u.members[i].val;

            c->u.members[i].key = v->u.members[i].key;
            if (m != NULL && (m->type == SMT_OBJECT || m->type == SMT_ARRAY)) {
                m = smt_val_fork(a, m);
            }
            c->u.members[i].val = m;
        }
    } else if (v->type == SMT_ARRAY) {
        c = smt_arena_alloc(a, sizeof(*c) + n * sizeof(struct smt_val *));
        *c = *v;
        c->cap = n;
        c->u.items = n > 0 ? (struct smt_val **)(c + 1) : NULL;
        for (i = 0; i < n; i++) {
            struct smt_val *m = v->u.items[i];

            if (m != NULL && (m->type == SMT_OBJECT || m->type == SMT_ARRAY)) {
                m = smt_val_fork(a, m);
            }
            c->u.items[i] = m;
        }
    } else {
        c = smt_arena_alloc(a, sizeof(*c));
        *c = *v;
    }
    return c;
}

int smt_val_equal(const struct smt_val *a, const struct smt_val *b)
{
    uint32_t i;

    if (a == NULL || b == NULL) {
        return (a == NULL || a->type == SMT_NULL) &&
               (b == NULL || b->type == SMT_NULL);
    }
    if (a->type != b->type) {
        return 0;
    }
    switch (a->type) {
    case SMT_NULL:
        return 1;
    case SMT_BOOL:
        return a->u.b == b->u.b;
    case SMT_INT8:
    case SMT_INT16:
    case SMT_INT32:
    case SMT_INT64:
    case SMT_DATE:
        return a->u.i == b->u.i;
    case SMT_FLOAT32:
    case SMT_FLOAT64:
        return a->u.d == b->u.d || (isnan(a->u.d) && isnan(b->u.d));
    case SMT_STRING:
    case SMT_BYTES:
    case SMT_DECIMAL:
        return a->u.s.len == b->u.s.len &&
               (a->u.s.len == 0 ||
                memcmp(a->u.s.ptr, b->u.s.ptr, a->u.s.len) == 0);
    case SMT_ARRAY:
        if (a->n != b->n) {
            return 0;
        }
        for (i = 0; i < a->n; i++) {
            if (!smt_val_equal(a->u.items[i], b->u.items[i])) {
                return 0;
            }
        }
        return 1;
    case SMT_OBJECT:
        if (a->n != b->n) {
            return 0;
        }
        for (i = 0; i < a->n; i++) {
            const struct smt_member *m = &a->u.members[i];
            long j = smt_obj_index(b, m->key.ptr, m->key.len);

            if (j < 0 || !smt_val_equal(m->val, b->u.members[j].val)) {
                return 0;
            }
        }
        return 1;
    default:
        return 0;
    }
}

double smt_val_as_double(const struct smt_val *v)
{
    if (v == NULL) {
        return 0;
    }
    switch (v->type) {
    case SMT_BOOL:
        return v->u.b ? 1 : 0;
    case SMT_INT8:
    case SMT_INT16:
    case SMT_INT32:
    case SMT_INT64:
    case SMT_DATE:
        return (double)v->u.i;
    case SMT_FLOAT32:
    case SMT_FLOAT64:
        return v->u.d;
    default:
        return 0;
    }
}

/* ---------------------------------------------------------------------- */
/* Objects and arrays */

/* a[0..n) == b[0..n) for the short names records are made of: fixed-size
 * loads (overlapping for lengths that are not a power of two) compile to
 * plain moves and never read outside either range; memcmp for long ones. */
static inline int small_eq(const char *a, const char *b, size_t n)
{
    uint64_t x, y, x2, y2;
    uint32_t u, w, u2, w2;

    if (n >= 8 && n <= 16) {
        memcpy(&x, a, 8);
        memcpy(&y, b, 8);
        memcpy(&x2, a + n - 8, 8);
        memcpy(&y2, b + n - 8, 8);
        return ((x ^ y) | (x2 ^ y2)) == 0;
    }
    if (n >= 4 && n < 8) {
        memcpy(&u, a, 4);
        memcpy(&w, b, 4);
        memcpy(&u2, a + n - 4, 4);
        memcpy(&w2, b + n - 4, 4);
        return ((u ^ w) | (u2 ^ w2)) == 0;
    }
    if (n < 4) {
        return n == 0 || (a[0] == b[0] && a[n / 2] == b[n / 2] &&
                          a[n - 1] == b[n - 1]);
    }
    return memcmp(a, b, n) == 0;
}

/* smt_obj_index for the lookups in this file (paths walk several). */
static inline long obj_find(const struct smt_val *obj, const char *name,
                            size_t len)
{
    const struct smt_member *m, *end;

    if (obj == NULL || obj->type != SMT_OBJECT) {
        return -1;
    }
    m = obj->u.members;
    end = m + obj->n;
    /* the length check rejects nearly every other member without touching
     * its bytes */
    for (; m < end; m++) {
        if (m->key.len == len && small_eq(m->key.ptr, name, len)) {
            return (long)(m - obj->u.members);
        }
    }
    return -1;
}

static inline struct smt_val *obj_get(const struct smt_val *obj,
                                      const char *name, size_t len)
{
    long i = obj_find(obj, name, len);

    return i < 0 ? NULL : obj->u.members[i].val;
}

long smt_obj_index(const struct smt_val *obj, const char *name, size_t len)
{
    return obj_find(obj, name, len);
}

struct smt_val *smt_obj_get(const struct smt_val *obj, const char *name,
                            size_t len)
{
    return obj_get(obj, name, len);
}

void smt_obj_set(struct smt_arena *a, struct smt_val *obj, const char *name,
                 size_t len, struct smt_val *val)
{
    long i = obj_find(obj, name, len);

    obj->raw = NULL;
    if (i >= 0) {
        obj->u.members[i].val = val;
        return;
    }
    if (obj->n == obj->cap) {
        uint32_t cap = obj->cap ? obj->cap * 2 : 4;

        obj->u.members = smt_arena_grow(a, obj->u.members, obj->n, cap,
                                        sizeof(*obj->u.members));
        obj->cap = cap;
    }
    obj->u.members[obj->n].key.ptr = name;
    obj->u.members[obj->n].key.len = len;
    obj->flags &= (uint8_t)~SMT_VF_PLAINKEYS; /* name is not checked */
    obj->u.members[obj->n].val = val;
    obj->n++;
}

struct smt_val *smt_obj_del(struct smt_val *obj, const char *name, size_t len)
{
    long            i = obj_find(obj, name, len);
    struct smt_val *v;

    if (i < 0) {
        return NULL;
    }
    v = obj->u.members[i].val;
    memmove(&obj->u.members[i], &obj->u.members[i + 1],
            (obj->n - (uint32_t)i - 1) * sizeof(*obj->u.members));
    obj->n--;
    obj->raw = NULL;
    return v;
}

void smt_arr_push(struct smt_arena *a, struct smt_val *arr, struct smt_val *v)
{
    if (arr->n == arr->cap) {
        uint32_t cap = arr->cap ? arr->cap * 2 : 4;

        arr->u.items = smt_arena_grow(a, arr->u.items, arr->n, cap,
                                      sizeof(*arr->u.items));
        arr->cap = cap;
    }
    arr->u.items[arr->n++] = v;
    arr->raw = NULL;
}

/* ---------------------------------------------------------------------- */
/* Schemas */

struct smt_schema *smt_schema_field(const struct smt_schema *s,
                                    const char *name, size_t len)
{
    uint32_t i;

    if (s == NULL || s->type != SMT_OBJECT || s->is_map) {
        return NULL;
    }
    for (i = 0; i < s->nfields; i++) {
        if (s->fields[i].name.len == len &&
            memcmp(s->fields[i].name.ptr, name, len) == 0) {
            return s->fields[i].schema;
        }
    }
    return NULL;
}

struct smt_schema *smt_schema_copy(struct smt_arena *a,
                                   const struct smt_schema *s)
{
    struct smt_schema *c = smt_arena_alloc(a, sizeof(*c));

    *c = *s;
    if (s->nfields > 0) {
        c->fields = smt_arena_alloc(a, s->nfields * sizeof(*c->fields));
        memcpy(c->fields, s->fields, s->nfields * sizeof(*c->fields));
    }
    return c;
}

/* ---------------------------------------------------------------------- */
/* Paths */

int smt_path_parse(struct smt_path *p, const char *text, int version,
                   struct smt_err *err)
{
    size_t      len = strlen(text), i = 0, nseg = 0, cap = 4;
    char       *out;
    const char *seg_start;

    memset(p, 0, sizeof(*p));
    p->text = smt_xstrdup(text);
    p->buf = smt_xmalloc(len + 1);
    p->seg = smt_xmalloc(cap * sizeof(*p->seg));
    out = p->buf;

    if (version != SMT_PATH_V2) {
        memcpy(out, text, len + 1);
        p->seg[0].ptr = out;
        p->seg[0].len = len;
        p->n = 1;
        return 0;
    }
    /* V2: segments separated by '.', a segment may be `quoted` (a doubled
     * backtick inside stands for one backtick). */
    for (;;) {
        seg_start = out;
        if (i < len && text[i] == '`') {
            i++;
            for (;;) {
                if (i >= len) {
                    smt_path_fini(p);
                    return smt_err_set(err, SMT_E_CONFIG,
                                       "field path '%s': unbalanced backtick",
                                       text);
                }
                if (text[i] == '`') {
                    if (i + 1 < len && text[i + 1] == '`') {
                        *out++ = '`';
                        i += 2;
                        continue;
                    }
                    i++;
                    break;
                }
                *out++ = text[i++];
            }
            if (i < len && text[i] != '.') {
                smt_path_fini(p);
                return smt_err_set(err, SMT_E_CONFIG,
                                   "field path '%s': expected '.' after a "
                                   "quoted name at offset %zu",
                                   text, i);
            }
        } else {
            while (i < len && text[i] != '.') {
                *out++ = text[i++];
            }
            if (out == seg_start) {
                smt_path_fini(p);
                return smt_err_set(err, SMT_E_CONFIG,
                                   "field path '%s': empty name at offset %zu",
                                   text, i);
            }
        }
        if (nseg == cap) {
            cap *= 2;
            p->seg = smt_xrealloc(p->seg, cap * sizeof(*p->seg));
        }
        p->seg[nseg].ptr = seg_start;
        p->seg[nseg].len = (size_t)(out - seg_start);
        nseg++;
        if (i >= len) {
            break;
        }
        i++; /* the '.' */
        if (i >= len) {
            smt_path_fini(p);
            return smt_err_set(err, SMT_E_CONFIG,
                               "field path '%s': ends with '.'", text);
        }
    }
    p->n = (uint32_t)nseg;
    return 0;
}

void smt_path_fini(struct smt_path *p)
{
    free(p->text);
    free(p->seg);
    free(p->buf);
    memset(p, 0, sizeof(*p));
}

struct smt_val *smt_path_get(const struct smt_val *root,
                             const struct smt_path *p)
{
    const struct smt_val *v = root;
    uint32_t              i;

    for (i = 0; i < p->n; i++) {
        if (v == NULL || v->type != SMT_OBJECT) {
            return NULL;
        }
        v = obj_get(v, p->seg[i].ptr, p->seg[i].len);
    }
    return (struct smt_val *)v;
}

struct smt_val *smt_path_parent_mut(struct smt_arena *a, struct smt_val *root,
                                    const struct smt_path *p, int create)
{
    struct smt_val *v = root, *next;
    uint32_t        i;

    if (v == NULL || v->type != SMT_OBJECT) {
        return NULL;
    }
    if (!create && p->n <= 9) {
        /* One walk, remembering the objects on the way; raw is cleared
         * only once the walk is known to succeed. */
        struct smt_val *walked[8];

        for (i = 0; i + 1 < p->n; i++) {
            v = obj_get(v, p->seg[i].ptr, p->seg[i].len);
            if (v == NULL || v->type != SMT_OBJECT) {
                return NULL;
            }
            walked[i] = v;
        }
        root->raw = NULL;
        for (i = 0; i + 1 < p->n; i++) {
            walked[i]->raw = NULL;
        }
        return v;
    }
    /* First check the walk succeeds, so a failed lookup changes nothing. */
    if (!create) {
        for (i = 0; i + 1 < p->n; i++) {
            v = obj_get(v, p->seg[i].ptr, p->seg[i].len);
            if (v == NULL || v->type != SMT_OBJECT) {
                return NULL;
            }
        }
        v = root;
    }
    root->raw = NULL;
    for (i = 0; i + 1 < p->n; i++) {
        next = obj_get(v, p->seg[i].ptr, p->seg[i].len);
        if (next == NULL) {
            next = smt_val_object(a, 4);
            smt_obj_set(a, v, p->seg[i].ptr, p->seg[i].len, next);
        } else if (next->type != SMT_OBJECT) {
            return NULL;
        }
        next->raw = NULL;
        v = next;
    }
    return v;
}

/* ---------------------------------------------------------------------- */
/* Decimal <-> unscaled two's complement bytes */

struct smt_val *smt_decimal_from_unscaled(struct smt_arena *a,
                                          const unsigned char *p, size_t n,
                                          int scale)
{
    unsigned char *mag = smt_arena_alloc(a, n ? n : 1);
    char          *dig = smt_arena_alloc(a, n * 3 + 2);
    char          *txt, *o;
    size_t         i, nd = 0, start = 0;
    int            neg = n > 0 && p[0] >= 0x80;

    if (n > 0) {
        memcpy(mag, p, n);
    }
    if (neg) { /* the magnitude: two's complement negation */
        unsigned carry = 1;

        for (i = n; i-- > 0;) {
            unsigned x = (unsigned)(unsigned char)~mag[i] + carry;

            mag[i] = (unsigned char)x;
            carry = x >> 8;
        }
    }
    while (start < n && mag[start] == 0) {
        start++;
    }
    /* repeated division by 10: the digits, least significant first */
    while (start < n) {
        unsigned rem = 0;

        for (i = start; i < n; i++) {
            unsigned cur = (rem << 8) | mag[i];

            mag[i] = (unsigned char)(cur / 10);
            rem = cur % 10;
        }
        dig[nd++] = (char)('0' + rem);
        while (start < n && mag[start] == 0) {
            start++;
        }
    }
    if (nd == 0) {
        dig[nd++] = '0';
        neg = 0;
    }
    o = txt = smt_arena_alloc(a, nd + (size_t)(scale > 0 ? scale : -scale) + 4);
    if (neg) {
        *o++ = '-';
    }
    if (scale <= 0) {
        for (i = nd; i-- > 0;) {
            *o++ = dig[i];
        }
        if (!(nd == 1 && dig[0] == '0')) {
            for (i = 0; i < (size_t)-(long)scale; i++) {
                *o++ = '0';
            }
        }
    } else if (nd <= (size_t)scale) {
        *o++ = '0';
        *o++ = '.';
        for (i = nd; i < (size_t)scale; i++) {
            *o++ = '0';
        }
        for (i = nd; i-- > 0;) {
            *o++ = dig[i];
        }
    } else {
        for (i = nd; i-- > 0;) {
            *o++ = dig[i];
            if (i == (size_t)scale) {
                *o++ = '.';
            }
        }
    }
    *o = '\0';
    return smt_val_str(a, SMT_DECIMAL, txt, (size_t)(o - txt));
}

long smt_decimal_to_unscaled(struct smt_bytes t, int scale, unsigned char *out,
                             size_t cap, struct smt_err *err)
{
    const char *p = t.ptr, *e = t.ptr + t.len, *dot = NULL;
    size_t      n = 0, i;
    int         neg = 0, have = 0;

    if (p < e && (*p == '-' || *p == '+')) {
        neg = *p == '-';
        p++;
    }
    memset(out, 0, cap);
    for (; p < e; p++) {
        unsigned carry;

        if (*p == '.' && dot == NULL) {
            dot = p;
            continue;
        }
        if ((unsigned)(*p - '0') > 9) {
            break;
        }
        have = 1;
        carry = (unsigned)(*p - '0');
        for (i = 0; i < n; i++) { /* little-endian: mag = mag * 10 + d */
            unsigned x = out[i] * 10u + carry;

            out[i] = (unsigned char)x;
            carry = x >> 8;
        }
        if (carry != 0) {
            if (n + 2 >= cap) {
                return smt_err_set(err, SMT_E_LIMIT,
                                   "decimal value has too many digits");
            }
            out[n++] = (unsigned char)carry;
        }
    }
    if (!have || p < e) {
        return smt_err_set(err, SMT_E_DATA, "invalid decimal value '%.*s'",
                           (int)(t.len > 64 ? 64 : t.len), t.ptr);
    }
    if ((dot ? (int)(e - dot - 1) : 0) != scale) {
        return smt_err_set(err, SMT_E_DATA, "BigDecimal has mismatching "
                                            "scale value for given Decimal "
                                            "schema");
    }
    if (n == 0) {
        out[n++] = 0;
    }
    if (neg && !(n == 1 && out[0] == 0)) { /* two's complement */
        unsigned carry = 1;

        for (i = 0; i < n; i++) {
            unsigned x = (unsigned)(unsigned char)~out[i] + carry;

            out[i] = (unsigned char)x;
            carry = x >> 8;
        }
        if (!(out[n - 1] & 0x80)) {
            out[n++] = 0xFF;
        }
    } else if (out[n - 1] & 0x80) {
        out[n++] = 0;
    }
    for (i = 0; i < n / 2; i++) { /* to big-endian */
        unsigned char x = out[i];

        out[i] = out[n - 1 - i];
        out[n - 1 - i] = x;
    }
    return (long)n;
}

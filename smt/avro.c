/*
 * avro.c - Avro schemas, the binary datum codec straight into and out of
 * the value tree, Connect -> Avro schema generation, and the Confluent wire
 * format with its schema caches (see avro.h for the mapping).
 *
 * A schema is parsed with our JSON parser into a tree of av_node, each
 * carrying the Connect schema AvroConverter would give it, so decoding is
 * one walk of the schema and the bytes with no lookups. Decoding trusts
 * nothing in the bytes: every length is checked against what is left
 * before anything is allocated for it, block counts are bounded by the
 * smallest encoding of an element, and elements that take no bytes at all
 * are capped per datum. Schemas cannot be recursive (Connect has no
 * recursive schemas), so the datum depth is bounded by the schema's.
 *
 * The codec (one per pipeline) holds the schema sources and three caches,
 * all behind one mutex and append-only: compiled schemas by id, the same by
 * their Connect schema's address (to recognise an unchanged value's schema
 * and reuse its id), and generated schema texts by (subject, text).
 */
#include "avro.h"
#include "json.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MS_PER_DAY 86400000LL
#define AV_MAX_DECIMAL_BYTES 256 /* digit conversion is quadratic */
#define AV_UNION_NAME "io.confluent.connect.avro.Union"
#define AV_ENUM_PARAM "io.confluent.connect.avro.Enum"
#define AV_FIXED_PARAM "connect.fixed.size"
#define AV_PRECISION_PARAM "connect.decimal.precision"
#define AV_DEFAULT_NS "io.confluent.connect.avro"

enum av_kind {
    AV_NULL = 0,
    AV_BOOLEAN,
    AV_INT,
    AV_LONG,
    AV_FLOAT,
    AV_DOUBLE,
    AV_BYTES,
    AV_STRING,
    AV_RECORD,
    AV_ENUM,
    AV_ARRAY,
    AV_MAP,
    AV_UNION,
    AV_FIXED,
};

static const char *const av_names[] = {
    "null",   "boolean", "int",   "long", "float", "double", "bytes",
    "string", "record",  "enum",  "array", "map",  "union",  "fixed",
};

enum { LT_NONE = 0, LT_DECIMAL, LT_DATE, LT_TIME, LT_TS };

struct av_node;

struct av_field {
    struct smt_bytes      name;
    struct av_node       *type;
    const struct smt_val *def; /* default (decoder shape), NULL = none */
};

struct av_node {
    uint8_t            kind;    /* enum av_kind */
    uint8_t            logical; /* LT_* */
    uint8_t            cint;    /* INT: SMT_INT8/INT16/INT32 (connect.type) */
    uint8_t            done;    /* named: definition complete */
    int32_t            nullb;   /* UNION: index of "null", or -1 */
    int32_t            only;    /* UNION: the one non-null branch, or -1 */
    int32_t            size;    /* FIXED */
    int32_t            scale, precision;
    uint32_t           minsize; /* fewest bytes a datum takes */
    const char        *fullname;
    const char        *name;    /* simple name */
    uint32_t           n;       /* fields, symbols, branches */
    struct av_field   *fields;
    struct smt_bytes  *symbols;
    struct av_node   **br;
    struct smt_bytes  *bname;   /* UNION: Connect member field names */
    struct av_node    *items;   /* ARRAY items, MAP values */
    struct smt_schema *cs;      /* Connect schema */
};

struct smt_avro_schema {
    struct smt_arena arena;
    struct av_node  *root;
    char            *pcf;
};

/* ---------------------------------------------------------------------- */
/* Small helpers                                                            */

static const struct smt_val *jget(const struct smt_val *o, const char *k)
{
    if (o == NULL || o->type != SMT_OBJECT) {
        return NULL;
    }
    return smt_obj_get(o, k, strlen(k));
}

static const char *jstr(struct smt_arena *a, const struct smt_val *v)
{
    if (v == NULL || v->type != SMT_STRING) {
        return NULL;
    }
    return smt_arena_memdup(a, v->u.s.ptr, v->u.s.len);
}

/* "field 'x': ..." becomes "field 'name.x': ...", anything else
 * "field 'name': ...": the innermost field comes last. */
static void field_prefix(struct smt_err *err, const char *name, size_t len)
{
    char tmp[sizeof(err->msg)];

    if (err == NULL) {
        return;
    }
    if (strncmp(err->msg, "field '", 7) == 0) {
        snprintf(tmp, sizeof(tmp), "field '%.*s.%s", (int)len, name,
                 err->msg + 7);
    } else {
        snprintf(tmp, sizeof(tmp), "field '%.*s': %s", (int)len, name,
                 err->msg);
    }
    memcpy(err->msg, tmp, sizeof(tmp));
}

static int valid_name(const char *p, size_t n)
{
    size_t i;

    if (n == 0 || !((p[0] >= 'A' && p[0] <= 'Z') ||
                    (p[0] >= 'a' && p[0] <= 'z') || p[0] == '_')) {
        return 0;
    }
    for (i = 1; i < n; i++) {
        char c = p[i];

        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
              (c >= '0' && c <= '9') || c == '_')) {
            return 0;
        }
    }
    return 1;
}

/* A dotted name: every part a valid name; empty is valid (no namespace). */
static int valid_dotted(const char *p, size_t n)
{
    size_t i, s = 0;

    for (i = 0; i <= n; i++) {
        if (i == n || p[i] == '.') {
            if (n > 0 && !valid_name(p + s, i - s)) {
                return 0;
            }
            s = i + 1;
        }
    }
    return 1;
}

static int prim_kind(const char *s, size_t n)
{
    int k;

    for (k = AV_NULL; k <= AV_STRING; k++) {
        if (strlen(av_names[k]) == n && memcmp(av_names[k], s, n) == 0) {
            return k;
        }
    }
    return -1;
}

static struct smt_val *param_obj(struct smt_arena *a, struct smt_schema *s)
{
    if (s->params == NULL) {
        s->params = smt_val_object(a, 4);
    }
    return s->params;
}

static void param_set(struct smt_arena *a, struct smt_schema *s,
                      const char *k, const char *v)
{
    smt_obj_set(a, param_obj(a, s), smt_arena_memdup(a, k, strlen(k)),
                strlen(k),
                smt_val_str(a, SMT_STRING, smt_arena_memdup(a, v, strlen(v)),
                            strlen(v)));
}

static const char *param_get(const struct smt_schema *s, const char *k,
                             size_t *len)
{
    const struct smt_val *v;

    if (s->params == NULL) {
        return NULL;
    }
    v = smt_obj_get(s->params, k, strlen(k));
    if (v == NULL || v->type != SMT_STRING) {
        return NULL;
    }
    *len = v->u.s.len;
    return v->u.s.ptr;
}

/* ---------------------------------------------------------------------- */
/* Schema compilation                                                       */

struct av_name {
    const char     *full;
    struct av_node *node;
};

struct av_comp {
    struct smt_arena *a;
    struct smt_err   *err;
    struct av_name   *names; /* heap */
    uint32_t          nnames, cap;
};

static struct av_node *comp_fail(struct av_comp *c, const char *fmt,
                                 const char *arg)
{
    smt_err_set(c->err, SMT_E_DATA, fmt, arg);
    return NULL;
}

static struct av_node *name_find(struct av_comp *c, const char *full)
{
    uint32_t i;

    for (i = 0; i < c->nnames; i++) {
        if (strcmp(c->names[i].full, full) == 0) {
            return c->names[i].node;
        }
    }
    return NULL;
}

static struct smt_schema *cs_new(struct smt_arena *a, int type)
{
    struct smt_schema *s = smt_arena_calloc(a, sizeof(*s));

    s->type = (uint8_t)type;
    return s;
}

/* connect.name / version / doc / parameters of a schema object. */
static void cs_props(struct av_comp *c, struct smt_schema *s,
                     const struct smt_val *o)
{
    const struct smt_val *v;
    uint32_t              i;

    if ((v = jget(o, "connect.name")) != NULL && v->type == SMT_STRING) {
        s->name = jstr(c->a, v);
    }
    if ((v = jget(o, "connect.version")) != NULL && v->type == SMT_INT64 &&
        v->u.i > 0 && v->u.i <= INT32_MAX) {
        s->version = (int32_t)v->u.i;
    }
    if ((v = jget(o, "connect.doc")) != NULL && v->type == SMT_STRING) {
        s->doc = jstr(c->a, v);
    }
    if ((v = jget(o, "connect.parameters")) != NULL &&
        v->type == SMT_OBJECT) {
        for (i = 0; i < v->n; i++) {
            const struct smt_member *m = &v->u.members[i];

            if (m->val->type == SMT_STRING) {
                smt_obj_set(c->a, param_obj(c->a, s), m->key.ptr, m->key.len,
                            m->val);
            }
        }
    }
}

static struct av_node *av_parse(struct av_comp *c, const struct smt_val *j,
                                const char *ns, int depth);

/* Resolves the name of a named type definition o; registers node. */
static int def_name(struct av_comp *c, struct av_node *node,
                    const struct smt_val *o, const char *ns,
                    const char **ns_out)
{
    const struct smt_val *nv = jget(o, "name"), *nsv = jget(o, "namespace");
    const char           *name, *dot, *space;

    if (nv == NULL || nv->type != SMT_STRING) {
        smt_err_set(c->err, SMT_E_DATA, "%s without a 'name'",
                    av_names[node->kind]);
        return -1;
    }
    name = jstr(c->a, nv);
    if ((dot = strrchr(name, '.')) != NULL) {
        space = smt_arena_memdup(c->a, name, (size_t)(dot - name));
        node->name = dot + 1;
        node->fullname = name;
    } else {
        space = nsv != NULL && nsv->type == SMT_STRING ? jstr(c->a, nsv) : ns;
        node->name = name;
        node->fullname = space != NULL && space[0] != '\0'
                             ? smt_arena_printf(c->a, "%s.%s", space, name).ptr
                             : name;
    }
    if (!valid_name(node->name, strlen(node->name)) ||
        !valid_dotted(node->fullname, strlen(node->fullname))) {
        smt_err_set(c->err, SMT_E_DATA, "invalid name '%s'", node->fullname);
        return -1;
    }
    if (prim_kind(node->name, strlen(node->name)) >= 0) {
        smt_err_set(c->err, SMT_E_DATA, "cannot redefine '%s'", node->name);
        return -1;
    }
    if (name_find(c, node->fullname) != NULL) {
        smt_err_set(c->err, SMT_E_DATA, "type '%s' is defined twice",
                    node->fullname);
        return -1;
    }
    if (c->nnames == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 8;
        c->names = smt_xrealloc(c->names, c->cap * sizeof(*c->names));
    }
    c->names[c->nnames].full = node->fullname;
    c->names[c->nnames].node = node;
    c->nnames++;
    *ns_out = space;
    return 0;
}

static int get_int(const struct smt_val *o, const char *k, int64_t lo,
                   int64_t hi, int32_t *out)
{
    const struct smt_val *v = jget(o, k);

    if (v == NULL || v->type != SMT_INT64 || v->u.i < lo || v->u.i > hi) {
        return -1;
    }
    *out = (int32_t)v->u.i;
    return 0;
}

/* The Connect value of JSON default j for node n (decoder shape), or NULL
 * with err. */
static struct smt_val *av_default(struct av_comp *c, const struct av_node *n,
                                  const struct smt_val *j, int depth)
{
    struct smt_val *r;
    uint32_t        i;

    if (depth > SMT_AVRO_MAX_DEPTH) {
        goto bad;
    }
    switch (n->kind) {
    case AV_NULL:
        if (j->type != SMT_NULL) {
            goto bad;
        }
        return smt_val_null(c->a);
    case AV_BOOLEAN:
        if (j->type != SMT_BOOL) {
            goto bad;
        }
        return smt_val_bool(c->a, j->u.b);
    case AV_INT:
        if (j->type != SMT_INT64 || j->u.i < INT32_MIN || j->u.i > INT32_MAX) {
            goto bad;
        }
        if (n->logical == LT_DATE) {
            return smt_val_int(c->a, SMT_DATE, j->u.i * MS_PER_DAY);
        }
        if (n->logical == LT_TIME) {
            return smt_val_int(c->a, SMT_DATE, j->u.i);
        }
        return smt_val_int(c->a, n->cint, j->u.i);
    case AV_LONG:
        if (j->type != SMT_INT64) {
            goto bad;
        }
        return smt_val_int(c->a, n->logical == LT_TS ? SMT_DATE : SMT_INT64,
                           j->u.i);
    case AV_FLOAT:
    case AV_DOUBLE:
        if (j->type != SMT_INT64 && j->type != SMT_FLOAT64) {
            goto bad;
        }
        return smt_val_float(c->a, n->kind == AV_FLOAT ? SMT_FLOAT32
                                                       : SMT_FLOAT64,
                             smt_val_as_double(j));
    case AV_STRING:
        if (j->type != SMT_STRING) {
            goto bad;
        }
        return smt_val_str(c->a, SMT_STRING, j->u.s.ptr, j->u.s.len);
    case AV_ENUM:
        if (j->type != SMT_STRING) {
            goto bad;
        }
        for (i = 0; i < n->n; i++) {
            if (smt_bytes_eq(n->symbols[i], j->u.s)) {
                return smt_val_str(c->a, SMT_STRING, n->symbols[i].ptr,
                                   n->symbols[i].len);
            }
        }
        goto bad;
    case AV_BYTES:
    case AV_FIXED: {
        /* ISO-8859-1: every code point is one byte */
        const unsigned char *p = (const unsigned char *)j->u.s.ptr;
        unsigned char       *o;
        size_t               k = 0, len;

        if (j->type != SMT_STRING) {
            goto bad;
        }
        len = j->u.s.len;
        o = smt_arena_alloc(c->a, len + 1);
        for (i = 0; i < len; i++) {
            if (p[i] < 0x80) {
                o[k++] = p[i];
            } else if ((p[i] & 0xE0) == 0xC0 && i + 1 < len && p[i] <= 0xC3) {
                o[k++] = (unsigned char)(((p[i] & 0x03) << 6) |
                                         (p[i + 1] & 0x3F));
                i++;
            } else {
                goto bad;
            }
        }
        if (n->kind == AV_FIXED && k != (size_t)n->size) {
            goto bad;
        }
        if (n->logical == LT_DECIMAL) {
            if (k == 0 || k > AV_MAX_DECIMAL_BYTES) {
                goto bad;
            }
            return smt_decimal_from_unscaled(c->a, o, k, n->scale);
        }
        return smt_val_str(c->a, SMT_BYTES, (const char *)o, k);
    }
    case AV_ARRAY:
        if (j->type != SMT_ARRAY) {
            goto bad;
        }
        r = smt_val_array(c->a, j->n);
        for (i = 0; i < j->n; i++) {
            struct smt_val *x = av_default(c, n->items, j->u.items[i],
                                           depth + 1);
            if (x == NULL) {
                return NULL;
            }
            r->u.items[r->n++] = x;
        }
        return r;
    case AV_MAP:
        if (j->type != SMT_OBJECT) {
            goto bad;
        }
        r = smt_val_object(c->a, j->n);
        for (i = 0; i < j->n; i++) {
            struct smt_val *x = av_default(c, n->items, j->u.members[i].val,
                                           depth + 1);
            if (x == NULL) {
                return NULL;
            }
            r->u.members[r->n].key = j->u.members[i].key;
            r->u.members[r->n++].val = x;
        }
        return r;
    case AV_RECORD:
        if (j->type != SMT_OBJECT) {
            goto bad;
        }
        r = smt_val_object(c->a, n->n);
        for (i = 0; i < n->n; i++) {
            const struct smt_val *m = smt_obj_get(j, n->fields[i].name.ptr,
                                                  n->fields[i].name.len);
            struct smt_val       *x;

            if (m != NULL) {
                x = av_default(c, n->fields[i].type, m, depth + 1);
            } else if (n->fields[i].def != NULL) {
                x = (struct smt_val *)n->fields[i].def;
            } else {
                goto bad;
            }
            if (x == NULL) {
                return NULL;
            }
            r->u.members[r->n].key = n->fields[i].name;
            r->u.members[r->n++].val = x;
        }
        r->flags |= SMT_VF_PLAINKEYS;
        return r;
    case AV_UNION:
        /* the default belongs to the first branch */
        return av_default(c, n->br[0], j, depth + 1);
    default:
        break;
    }
bad:
    smt_err_set(c->err, SMT_E_DATA, "default value does not match type '%s'",
                n->fullname ? n->fullname : av_names[n->kind]);
    return NULL;
}

/* The Connect schema of a union: optional T for ["null", T] (or [T]), the
 * Union struct otherwise. */
static int union_cs(struct av_comp *c, struct av_node *u)
{
    uint32_t i, k = 0;

    if (u->only >= 0) {
        u->cs = smt_schema_copy(c->a, u->br[u->only]->cs);
        u->cs->optional = u->nullb >= 0;
        return 0;
    }
    u->cs = cs_new(c->a, SMT_OBJECT);
    u->cs->name = AV_UNION_NAME;
    u->cs->optional = u->nullb >= 0;
    u->cs->fields = smt_arena_calloc(c->a, u->n * sizeof(*u->cs->fields));
    for (i = 0; i < u->n; i++) {
        struct smt_schema *fs;
        uint32_t           j;

        if ((int32_t)i == u->nullb) {
            continue;
        }
        for (j = 0; j < k; j++) {
            if (smt_bytes_eq(u->cs->fields[j].name, u->bname[i])) {
                smt_err_set(c->err, SMT_E_DATA,
                            "union has two members named '%.*s'",
                            (int)u->bname[i].len, u->bname[i].ptr);
                return -1;
            }
        }
        fs = smt_schema_copy(c->a, u->br[i]->cs);
        fs->optional = 1;
        u->cs->fields[k].name = u->bname[i];
        u->cs->fields[k++].schema = fs;
    }
    u->cs->nfields = k;
    return 0;
}

static struct av_node *parse_union(struct av_comp *c, const struct smt_val *j,
                                   const char *ns, int depth)
{
    struct av_node *u = smt_arena_calloc(c->a, sizeof(*u));
    uint32_t        i, k, nonnull = 0;

    if (j->n == 0) {
        return comp_fail(c, "%s", "empty union");
    }
    u->kind = AV_UNION;
    u->nullb = u->only = -1;
    u->minsize = 1;
    u->n = j->n;
    u->br = smt_arena_calloc(c->a, j->n * sizeof(*u->br));
    u->bname = smt_arena_calloc(c->a, j->n * sizeof(*u->bname));
    for (i = 0; i < j->n; i++) {
        struct av_node *b = av_parse(c, j->u.items[i], ns, depth + 1);

        if (b == NULL) {
            return NULL;
        }
        if (b->kind == AV_UNION) {
            return comp_fail(c, "%s", "a union may not contain a union");
        }
        for (k = 0; k < i; k++) {
            const struct av_node *o = u->br[k];

            if (o->kind == b->kind &&
                (o->fullname == NULL || b->fullname == NULL ||
                 strcmp(o->fullname, b->fullname) == 0)) {
                return comp_fail(c, "union has '%s' twice",
                                 b->fullname ? b->fullname
                                             : av_names[b->kind]);
            }
        }
        u->br[i] = b;
        if (b->kind == AV_NULL) {
            u->nullb = (int32_t)i;
        } else {
            u->only = nonnull++ == 0 ? (int32_t)i : -1;
        }
        if (b->name != NULL) {
            u->bname[i] = smt_bytes_str(b->name);
        } else {
            u->bname[i] = smt_bytes_str(av_names[b->kind]);
        }
    }
    if (nonnull == 0) {
        return comp_fail(c, "%s", "a union of only 'null' is not supported");
    }
    if (nonnull > 1) {
        u->only = -1;
    }
    return union_cs(c, u) < 0 ? NULL : u;
}

static struct av_node *parse_record(struct av_comp *c, struct av_node *r,
                                    const struct smt_val *o, const char *ns,
                                    int depth)
{
    const struct smt_val *fl = jget(o, "fields"), *doc = jget(o, "doc");
    uint32_t              i, k;
    const char           *space;

    if (def_name(c, r, o, ns, &space) < 0) {
        return NULL;
    }
    if (fl == NULL || fl->type != SMT_ARRAY) {
        return comp_fail(c, "record '%s' has no 'fields' list", r->fullname);
    }
    r->n = fl->n;
    r->fields = smt_arena_calloc(c->a, (fl->n + 1) * sizeof(*r->fields));
    r->cs = cs_new(c->a, SMT_OBJECT);
    r->cs->name = r->fullname;
    r->cs->doc = jstr(c->a, doc);
    r->cs->fields = smt_arena_calloc(c->a, (fl->n + 1) * sizeof(*r->cs->fields));
    r->cs->nfields = fl->n;
    for (i = 0; i < fl->n; i++) {
        const struct smt_val *f = fl->u.items[i], *fn = jget(f, "name");
        const struct smt_val *def = jget(f, "default");
        struct av_field      *fd = &r->fields[i];
        struct smt_schema    *fs;

        if (fn == NULL || fn->type != SMT_STRING ||
            !valid_name(fn->u.s.ptr, fn->u.s.len)) {
            return comp_fail(c, "record '%s': a field has no valid 'name'",
                             r->fullname);
        }
        fd->name.ptr = jstr(c->a, fn);
        fd->name.len = fn->u.s.len;
        for (k = 0; k < i; k++) {
            if (smt_bytes_eq(r->fields[k].name, fd->name)) {
                smt_err_set(c->err, SMT_E_DATA,
                            "record '%s': field '%s' is defined twice",
                            r->fullname, fd->name.ptr);
                return NULL;
            }
        }
        if (jget(f, "type") == NULL) {
            smt_err_set(c->err, SMT_E_DATA, "record '%s': field '%s' has no "
                        "'type'", r->fullname, fd->name.ptr);
            return NULL;
        }
        fd->type = av_parse(c, jget(f, "type"), space, depth + 1);
        if (fd->type == NULL) {
            field_prefix(c->err, fd->name.ptr, fd->name.len);
            return NULL;
        }
        if (fd->type->kind == AV_NULL) {
            smt_err_set(c->err, SMT_E_DATA, "field '%s': standalone null "
                        "schemas are not supported", fd->name.ptr);
            return NULL;
        }
        fs = fd->type->cs;
        if (def != NULL) {
            fd->def = av_default(c, fd->type, def, depth + 1);
            if (fd->def == NULL) {
                field_prefix(c->err, fd->name.ptr, fd->name.len);
                return NULL;
            }
            if (fd->def->type != SMT_NULL &&
                !(fd->type->kind == AV_UNION && fd->type->only < 0)) {
                fs = smt_schema_copy(c->a, fs);
                fs->def = (struct smt_val *)fd->def;
            }
        }
        r->cs->fields[i].name = fd->name;
        r->cs->fields[i].schema = fs;
        if (r->minsize + fd->type->minsize >= r->minsize) {
            r->minsize += fd->type->minsize;
        }
    }
    cs_props(c, r->cs, o);
    r->done = 1;
    return r;
}

static struct av_node *parse_object(struct av_comp *c, const struct smt_val *o,
                                    const char *ns, int depth)
{
    const struct smt_val *t = jget(o, "type"), *lt = jget(o, "logicalType");
    struct av_node       *n;
    const char           *space;
    int                   k;
    uint32_t              i, j;

    if (t == NULL) {
        return comp_fail(c, "%s", "a schema object without 'type'");
    }
    if (t->type == SMT_ARRAY || t->type == SMT_OBJECT) {
        return av_parse(c, t, ns, depth + 1);
    }
    if (t->type != SMT_STRING) {
        return comp_fail(c, "%s", "'type' must be a string");
    }
    n = smt_arena_calloc(c->a, sizeof(*n));
    n->nullb = n->only = -1;
    if ((k = prim_kind(t->u.s.ptr, t->u.s.len)) >= 0) {
        struct smt_bytes ls = lt != NULL && lt->type == SMT_STRING
                                  ? lt->u.s
                                  : SMT_BYTES_LIT("");
        const struct smt_val *ct = jget(o, "connect.type");

        n = av_parse(c, t, ns, depth + 1);
        if (n == NULL) {
            return NULL;
        }
        n->cs = smt_schema_copy(c->a, n->cs);
        if (k == AV_INT && ct != NULL && ct->type == SMT_STRING) {
            if (smt_bytes_eqs(ct->u.s, "int8")) {
                n->cint = SMT_INT8;
            } else if (smt_bytes_eqs(ct->u.s, "int16")) {
                n->cint = SMT_INT16;
            }
            n->cs->type = n->cint;
        }
        if (k == AV_BYTES && smt_bytes_eqs(ls, "decimal") &&
            get_int(o, "precision", 1, INT32_MAX, &n->precision) == 0) {
            n->scale = 0;
            if (jget(o, "scale") == NULL ||
                get_int(o, "scale", 0, n->precision, &n->scale) == 0) {
                char buf[16];

                n->logical = LT_DECIMAL;
                n->cs->type = SMT_BYTES;
                n->cs->name = SMT_LOGICAL_DECIMAL;
                n->cs->version = 1;
                snprintf(buf, sizeof(buf), "%d", (int)n->scale);
                param_set(c->a, n->cs, "scale", buf);
                snprintf(buf, sizeof(buf), "%d", (int)n->precision);
                param_set(c->a, n->cs, AV_PRECISION_PARAM, buf);
            }
        } else if (k == AV_INT && smt_bytes_eqs(ls, "date")) {
            n->logical = LT_DATE;
            n->cs->name = SMT_LOGICAL_DATE;
            n->cs->version = 1;
        } else if (k == AV_INT && smt_bytes_eqs(ls, "time-millis")) {
            n->logical = LT_TIME;
            n->cs->name = SMT_LOGICAL_TIME;
            n->cs->version = 1;
        } else if (k == AV_LONG && smt_bytes_eqs(ls, "timestamp-millis")) {
            n->logical = LT_TS;
            n->cs->name = SMT_LOGICAL_TIMESTAMP;
            n->cs->version = 1;
        }
        if (n->logical == LT_NONE) {
            cs_props(c, n->cs, o);
        }
        return n;
    }
    if (smt_bytes_eqs(t->u.s, "record") || smt_bytes_eqs(t->u.s, "error")) {
        n->kind = AV_RECORD;
        return parse_record(c, n, o, ns, depth);
    }
    if (smt_bytes_eqs(t->u.s, "enum")) {
        const struct smt_val *sy = jget(o, "symbols");

        n->kind = AV_ENUM;
        n->minsize = 1;
        if (def_name(c, n, o, ns, &space) < 0) {
            return NULL;
        }
        if (sy == NULL || sy->type != SMT_ARRAY || sy->n == 0) {
            return comp_fail(c, "enum '%s' has no 'symbols'", n->fullname);
        }
        n->n = sy->n;
        n->symbols = smt_arena_calloc(c->a, sy->n * sizeof(*n->symbols));
        n->cs = cs_new(c->a, SMT_STRING);
        n->cs->name = n->fullname;
        param_set(c->a, n->cs, AV_ENUM_PARAM, n->fullname);
        for (i = 0; i < sy->n; i++) {
            const struct smt_val *s = sy->u.items[i];

            if (s->type != SMT_STRING || !valid_name(s->u.s.ptr, s->u.s.len)) {
                return comp_fail(c, "enum '%s': invalid symbol", n->fullname);
            }
            n->symbols[i].ptr = jstr(c->a, s);
            n->symbols[i].len = s->u.s.len;
            for (j = 0; j < i; j++) {
                if (smt_bytes_eq(n->symbols[j], n->symbols[i])) {
                    return comp_fail(c, "enum '%s': duplicate symbol",
                                     n->fullname);
                }
            }
            param_set(c->a, n->cs,
                      smt_arena_printf(c->a, "%s.%s", AV_ENUM_PARAM,
                                       n->symbols[i].ptr)
                          .ptr,
                      n->symbols[i].ptr);
        }
        cs_props(c, n->cs, o);
        n->done = 1;
        return n;
    }
    if (smt_bytes_eqs(t->u.s, "fixed")) {
        char buf[16];

        n->kind = AV_FIXED;
        if (def_name(c, n, o, ns, &space) < 0) {
            return NULL;
        }
        if (get_int(o, "size", 0, INT32_MAX, &n->size) < 0) {
            return comp_fail(c, "fixed '%s' needs a 'size' >= 0",
                             n->fullname);
        }
        n->minsize = (uint32_t)n->size;
        n->cs = cs_new(c->a, SMT_BYTES);
        n->cs->name = n->fullname;
        snprintf(buf, sizeof(buf), "%d", (int)n->size);
        param_set(c->a, n->cs, AV_FIXED_PARAM, buf);
        if (lt != NULL && lt->type == SMT_STRING &&
            smt_bytes_eqs(lt->u.s, "decimal") &&
            get_int(o, "precision", 1, INT32_MAX, &n->precision) == 0 &&
            (jget(o, "scale") == NULL ||
             get_int(o, "scale", 0, n->precision, &n->scale) == 0) &&
            n->size > 0) {
            n->logical = LT_DECIMAL;
            n->cs->name = SMT_LOGICAL_DECIMAL;
            n->cs->version = 1;
            snprintf(buf, sizeof(buf), "%d", (int)n->scale);
            param_set(c->a, n->cs, "scale", buf);
            snprintf(buf, sizeof(buf), "%d", (int)n->precision);
            param_set(c->a, n->cs, AV_PRECISION_PARAM, buf);
        } else {
            cs_props(c, n->cs, o);
        }
        n->done = 1;
        return n;
    }
    if (smt_bytes_eqs(t->u.s, "array") || smt_bytes_eqs(t->u.s, "map")) {
        int                   arr = t->u.s.len == 5;
        const struct smt_val *it = jget(o, arr ? "items" : "values");

        n->kind = arr ? AV_ARRAY : AV_MAP;
        n->minsize = 1;
        if (it == NULL) {
            return comp_fail(c, "%s without its element type",
                             arr ? "array" : "map");
        }
        n->items = av_parse(c, it, ns, depth + 1);
        if (n->items == NULL) {
            return NULL;
        }
        if (n->items->kind == AV_NULL) {
            return comp_fail(c, "%s", "standalone null schemas are not "
                             "supported");
        }
        if (arr) {
            n->cs = cs_new(c->a, SMT_ARRAY);
            n->cs->items = n->items->cs;
        } else {
            n->cs = cs_new(c->a, SMT_OBJECT);
            n->cs->is_map = 1;
            n->cs->keys = cs_new(c->a, SMT_STRING);
            n->cs->values = n->items->cs;
        }
        cs_props(c, n->cs, o);
        return n;
    }
    /* {"type": "some.Name"}: a reference */
    return av_parse(c, t, ns, depth + 1);
}

static struct av_node *av_parse(struct av_comp *c, const struct smt_val *j,
                                const char *ns, int depth)
{
    struct av_node *n;
    int             k;

    if (depth > SMT_AVRO_MAX_DEPTH) {
        smt_err_set(c->err, SMT_E_LIMIT, "schema nested deeper than %d levels",
                    SMT_AVRO_MAX_DEPTH);
        return NULL;
    }
    if (j->type == SMT_ARRAY) {
        return parse_union(c, j, ns, depth);
    }
    if (j->type == SMT_OBJECT) {
        return parse_object(c, j, ns, depth);
    }
    if (j->type != SMT_STRING) {
        return comp_fail(c, "%s", "a schema must be a string, object or "
                         "array");
    }
    if ((k = prim_kind(j->u.s.ptr, j->u.s.len)) >= 0) {
        static const uint8_t ct[] = {SMT_NULL,    SMT_BOOL,    SMT_INT32,
                                     SMT_INT64,   SMT_FLOAT32, SMT_FLOAT64,
                                     SMT_BYTES,   SMT_STRING};
        static const uint8_t ms[] = {0, 1, 1, 1, 4, 8, 1, 1};

        n = smt_arena_calloc(c->a, sizeof(*n));
        n->kind = (uint8_t)k;
        n->nullb = n->only = -1;
        n->cint = SMT_INT32;
        n->minsize = ms[k];
        n->cs = cs_new(c->a, ct[k]);
        if (k == AV_NULL) {
            n->cs->optional = 1;
        }
        return n;
    }
    {
        const char *s = jstr(c->a, j);
        const char *full = s;

        n = NULL;
        if (strchr(s, '.') == NULL && ns != NULL && ns[0] != '\0') {
            full = smt_arena_printf(c->a, "%s.%s", ns, s).ptr;
            n = name_find(c, full);
        }
        if (n == NULL) {
            n = name_find(c, s);
            full = s;
        }
        if (n == NULL) {
            return comp_fail(c, "unknown type '%s'", full);
        }
        if (!n->done) {
            return comp_fail(c, "recursive type '%s' is not supported", full);
        }
        return n;
    }
}

/* Parsing Canonical Form. */
static void pcf_write(struct smt_buf *b, const struct av_node *n,
                      const struct av_node ***seen, uint32_t *nseen)
{
    uint32_t i;

    if (n->fullname != NULL) {
        for (i = 0; i < *nseen; i++) {
            if ((*seen)[i] == n) {
                smt_json_write_str(b, n->fullname, strlen(n->fullname));
                return;
            }
        }
        *seen = smt_xrealloc(*seen, (*nseen + 1) * sizeof(**seen));
        (*seen)[(*nseen)++] = n;
    }
    switch (n->kind) {
    case AV_RECORD:
        smt_buf_adds(b, "{\"name\":");
        smt_json_write_str(b, n->fullname, strlen(n->fullname));
        smt_buf_adds(b, ",\"type\":\"record\",\"fields\":[");
        for (i = 0; i < n->n; i++) {
            smt_buf_adds(b, i ? ",{\"name\":" : "{\"name\":");
            smt_json_write_str(b, n->fields[i].name.ptr,
                               n->fields[i].name.len);
            smt_buf_adds(b, ",\"type\":");
            pcf_write(b, n->fields[i].type, seen, nseen);
            smt_buf_addc(b, '}');
        }
        smt_buf_adds(b, "]}");
        break;
    case AV_ENUM:
        smt_buf_adds(b, "{\"name\":");
        smt_json_write_str(b, n->fullname, strlen(n->fullname));
        smt_buf_adds(b, ",\"type\":\"enum\",\"symbols\":[");
        for (i = 0; i < n->n; i++) {
            if (i > 0) {
                smt_buf_addc(b, ',');
            }
            smt_json_write_str(b, n->symbols[i].ptr, n->symbols[i].len);
        }
        smt_buf_adds(b, "]}");
        break;
    case AV_FIXED:
        smt_buf_adds(b, "{\"name\":");
        smt_json_write_str(b, n->fullname, strlen(n->fullname));
        smt_buf_printf(b, ",\"type\":\"fixed\",\"size\":%d}", (int)n->size);
        break;
    case AV_ARRAY:
    case AV_MAP:
        smt_buf_adds(b, n->kind == AV_ARRAY ? "{\"type\":\"array\",\"items\":"
                                            : "{\"type\":\"map\",\"values\":");
        pcf_write(b, n->items, seen, nseen);
        smt_buf_addc(b, '}');
        break;
    case AV_UNION:
        smt_buf_addc(b, '[');
        for (i = 0; i < n->n; i++) {
            if (i > 0) {
                smt_buf_addc(b, ',');
            }
            pcf_write(b, n->br[i], seen, nseen);
        }
        smt_buf_addc(b, ']');
        break;
    default:
        smt_buf_printf(b, "\"%s\"", av_names[n->kind]);
        break;
    }
}

struct smt_avro_schema *smt_avro_schema_new(const char *text, size_t len,
                                            struct smt_err *err)
{
    struct smt_avro_schema *s = smt_xcalloc(1, sizeof(*s));
    struct av_comp          c;
    struct smt_val         *j;
    char                   *copy;
    struct smt_buf          b;
    const struct av_node  **seen = NULL;
    uint32_t                nseen = 0;

    smt_arena_init(&s->arena, 4096);
    /* the JSON tree keeps views into its text: keep the text */
    copy = smt_arena_memdup(&s->arena, text, len);
    j = smt_json_parse(&s->arena, copy, len, err);
    if (j == NULL) {
        smt_err_prefix(err, "avro schema: ");
        goto fail;
    }
    memset(&c, 0, sizeof(c));
    c.a = &s->arena;
    c.err = err;
    s->root = av_parse(&c, j, "", 0);
    free(c.names);
    if (s->root == NULL) {
        smt_err_prefix(err, "avro schema: ");
        goto fail;
    }
    if (s->root->kind == AV_NULL) {
        smt_err_set(err, SMT_E_DATA,
                    "avro schema: standalone null schemas are not supported");
        goto fail;
    }
    smt_buf_init(&b);
    pcf_write(&b, s->root, &seen, &nseen);
    free(seen);
    s->pcf = smt_arena_memdup(&s->arena, b.ptr, b.len);
    smt_buf_fini(&b);
    return s;
fail:
    if (err != NULL) {
        err->code = err->code == SMT_E_LIMIT ? SMT_E_LIMIT : SMT_E_DATA;
    }
    smt_avro_schema_free(s);
    return NULL;
}

void smt_avro_schema_free(struct smt_avro_schema *s)
{
    if (s == NULL) {
        return;
    }
    smt_arena_fini(&s->arena);
    free(s);
}

const struct smt_schema *smt_avro_schema_connect(
    const struct smt_avro_schema *s)
{
    return s->root->cs;
}

const char *smt_avro_schema_pcf(const struct smt_avro_schema *s)
{
    return s->pcf;
}

/* ---------------------------------------------------------------------- */
/* Decoding                                                                 */

struct av_rd {
    const unsigned char *p, *end, *start;
    struct smt_arena    *a;
    struct smt_err      *err;
    uint32_t             empty; /* zero-byte elements still allowed */
};

static int rd_trunc(struct av_rd *r)
{
    return smt_err_set(r->err, SMT_E_DATA, "truncated datum at byte %zu",
                       (size_t)(r->p - r->start));
}

static int rd_long(struct av_rd *r, int64_t *out)
{
    uint64_t u = 0;
    unsigned shift = 0, b;

    do {
        if (r->p >= r->end) {
            return rd_trunc(r);
        }
        if (shift > 63) {
            return smt_err_set(r->err, SMT_E_DATA,
                               "invalid long encoding at byte %zu",
                               (size_t)(r->p - r->start));
        }
        b = *r->p++;
        u |= (uint64_t)(b & 0x7f) << shift;
        shift += 7;
    } while (b & 0x80);
    *out = (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
    return 0;
}

static int rd_int(struct av_rd *r, int64_t *out)
{
    *out = 0;
    if (rd_long(r, out) < 0) {
        return -1;
    }
    if (*out < INT32_MIN || *out > INT32_MAX) {
        return smt_err_set(r->err, SMT_E_DATA,
                           "invalid int encoding before byte %zu",
                           (size_t)(r->p - r->start));
    }
    return 0;
}

/* A length prefix: 0 <= len <= bytes left. */
static int rd_len(struct av_rd *r, size_t *len)
{
    int64_t l = 0;

    if (rd_long(r, &l) < 0) {
        return -1;
    }
    if (l < 0) {
        return smt_err_set(r->err, SMT_E_DATA, "negative length %lld at "
                           "byte %zu", (long long)l,
                           (size_t)(r->p - r->start));
    }
    if ((uint64_t)l > (uint64_t)(r->end - r->p)) {
        return smt_err_set(r->err, SMT_E_DATA, "length %lld at byte %zu "
                           "runs past the end of the datum (%zu bytes left)",
                           (long long)l, (size_t)(r->p - r->start),
                           (size_t)(r->end - r->p));
    }
    *len = (size_t)l;
    return 0;
}

/* The element count of the next block (0 = end), bounded by the bytes
 * left and the element's smallest encoding. */
static int rd_block(struct av_rd *r, const struct av_node *item,
                    uint32_t extra, uint64_t *count)
{
    int64_t  c = 0, sz = 0;
    uint64_t per = (uint64_t)item->minsize + extra;

    if (rd_long(r, &c) < 0) {
        return -1;
    }
    if (c < 0) {
        if (c == INT64_MIN) {
            return smt_err_set(r->err, SMT_E_DATA, "invalid block count");
        }
        c = -c;
        if (rd_long(r, &sz) < 0) {
            return -1;
        }
        if (sz < 0 || (uint64_t)sz > (uint64_t)(r->end - r->p)) {
            return smt_err_set(r->err, SMT_E_DATA, "invalid block size %lld "
                               "at byte %zu", (long long)sz,
                               (size_t)(r->p - r->start));
        }
    }
    if (per > 0) {
        if ((uint64_t)c > (uint64_t)(r->end - r->p) / per) {
            return smt_err_set(r->err, SMT_E_DATA, "block of %lld elements "
                               "at byte %zu runs past the end of the datum",
                               (long long)c, (size_t)(r->p - r->start));
        }
    } else {
        if ((uint64_t)c > r->empty) {
            return smt_err_set(r->err, SMT_E_LIMIT, "more than %u empty "
                               "elements in one datum",
                               SMT_AVRO_MAX_EMPTY_ITEMS);
        }
        r->empty -= (uint32_t)c;
    }
    *count = (uint64_t)c;
    return 0;
}

static struct smt_val *rd_node(struct av_rd *r, const struct av_node *n);

static struct smt_val *rd_array(struct av_rd *r, const struct av_node *n)
{
    struct smt_val *v = smt_val_array(r->a, 0);
    uint64_t        cnt = 0, i;
    int             map = n->kind == AV_MAP;

    if (map) {
        v->type = SMT_OBJECT;
    }
    for (;;) {
        if (rd_block(r, n->items, map, &cnt) < 0) {
            return NULL;
        }
        if (cnt == 0) {
            break;
        }
        if (v->n + cnt > UINT32_MAX / 2) {
            smt_err_set(r->err, SMT_E_LIMIT, "too many elements");
            return NULL;
        }
        if (v->n + cnt > v->cap) {
            uint32_t nc = (uint32_t)(v->n + cnt);

            if (map) {
                v->u.members = smt_arena_grow(r->a, v->u.members, v->n, nc,
                                              sizeof(*v->u.members));
            } else {
                v->u.items = smt_arena_grow(r->a, v->u.items, v->n, nc,
                                            sizeof(*v->u.items));
            }
            v->cap = nc;
        }
        for (i = 0; i < cnt; i++) {
            struct smt_val *x;

            if (map) {
                size_t len = 0;

                if (rd_len(r, &len) < 0) {
                    return NULL;
                }
                v->u.members[v->n].key.ptr = (const char *)r->p;
                v->u.members[v->n].key.len = len;
                r->p += len;
                if ((x = rd_node(r, n->items)) == NULL) {
                    return NULL;
                }
                v->u.members[v->n++].val = x;
            } else {
                if ((x = rd_node(r, n->items)) == NULL) {
                    return NULL;
                }
                v->u.items[v->n++] = x;
            }
        }
    }
    return v;
}

static struct smt_val *rd_node(struct av_rd *r, const struct av_node *n)
{
    struct smt_val *v;
    int64_t         l = 0;
    size_t          len = 0;
    uint32_t        i;

    switch (n->kind) {
    case AV_NULL:
        return smt_val_null(r->a);
    case AV_BOOLEAN:
        if (r->p >= r->end) {
            rd_trunc(r);
            return NULL;
        }
        if (*r->p > 1) {
            smt_err_set(r->err, SMT_E_DATA, "invalid boolean %u at byte %zu",
                        *r->p, (size_t)(r->p - r->start));
            return NULL;
        }
        return smt_val_bool(r->a, *r->p++);
    case AV_INT:
        if (rd_int(r, &l) < 0) {
            return NULL;
        }
        if (n->logical == LT_DATE) {
            return smt_val_int(r->a, SMT_DATE, l * MS_PER_DAY);
        }
        if (n->logical == LT_TIME) {
            return smt_val_int(r->a, SMT_DATE, l);
        }
        if ((n->cint == SMT_INT8 && (l < INT8_MIN || l > INT8_MAX)) ||
            (n->cint == SMT_INT16 && (l < INT16_MIN || l > INT16_MAX))) {
            smt_err_set(r->err, SMT_E_DATA, "%lld is out of range for %s",
                        (long long)l, smt_type_name(n->cint));
            return NULL;
        }
        return smt_val_int(r->a, n->cint, l);
    case AV_LONG:
        if (rd_long(r, &l) < 0) {
            return NULL;
        }
        return smt_val_int(r->a, n->logical == LT_TS ? SMT_DATE : SMT_INT64,
                           l);
    case AV_FLOAT: {
        uint32_t u;
        float    f;

        if (r->end - r->p < 4) {
            rd_trunc(r);
            return NULL;
        }
        u = (uint32_t)r->p[0] | (uint32_t)r->p[1] << 8 |
            (uint32_t)r->p[2] << 16 | (uint32_t)r->p[3] << 24;
        memcpy(&f, &u, 4);
        r->p += 4;
        return smt_val_float(r->a, SMT_FLOAT32, f);
    }
    case AV_DOUBLE: {
        uint64_t u = 0;
        double   d;

        if (r->end - r->p < 8) {
            rd_trunc(r);
            return NULL;
        }
        for (i = 8; i-- > 0;) {
            u = u << 8 | r->p[i];
        }
        memcpy(&d, &u, 8);
        r->p += 8;
        return smt_val_float(r->a, SMT_FLOAT64, d);
    }
    case AV_BYTES:
    case AV_STRING:
    case AV_FIXED:
        if (n->kind == AV_FIXED) {
            len = (size_t)n->size;
            if ((size_t)(r->end - r->p) < len) {
                rd_trunc(r);
                return NULL;
            }
        } else if (rd_len(r, &len) < 0) {
            return NULL;
        }
        if (n->logical == LT_DECIMAL) {
            if (len == 0 || len > AV_MAX_DECIMAL_BYTES) {
                smt_err_set(r->err, len ? SMT_E_LIMIT : SMT_E_DATA,
                            "decimal of %zu bytes at byte %zu", len,
                            (size_t)(r->p - r->start));
                return NULL;
            }
            v = smt_decimal_from_unscaled(r->a, r->p, len, n->scale);
        } else {
            v = smt_val_str(r->a, n->kind == AV_STRING ? SMT_STRING
                                                       : SMT_BYTES,
                            (const char *)r->p, len);
        }
        r->p += len;
        return v;
    case AV_ENUM:
        if (rd_int(r, &l) < 0) {
            return NULL;
        }
        if (l < 0 || l >= (int64_t)n->n) {
            smt_err_set(r->err, SMT_E_DATA, "enum index %lld out of range "
                        "for '%s'", (long long)l, n->fullname);
            return NULL;
        }
        return smt_val_str(r->a, SMT_STRING, n->symbols[l].ptr,
                           n->symbols[l].len);
    case AV_ARRAY:
    case AV_MAP:
        return rd_array(r, n);
    case AV_UNION: {
        struct smt_val *x, *nul;
        uint32_t        k = 0;

        if (rd_long(r, &l) < 0) {
            return NULL;
        }
        if (l < 0 || l >= (int64_t)n->n) {
            smt_err_set(r->err, SMT_E_DATA, "union index %lld out of range "
                        "at byte %zu", (long long)l,
                        (size_t)(r->p - r->start));
            return NULL;
        }
        if ((x = rd_node(r, n->br[l])) == NULL) {
            return NULL;
        }
        if (n->only >= 0 || l == n->nullb) {
            return x;
        }
        v = smt_val_object(r->a, n->n);
        nul = smt_val_null(r->a);
        for (i = 0; i < n->n; i++) {
            if ((int32_t)i != n->nullb) {
                v->u.members[k].key = n->bname[i];
                v->u.members[k++].val = i == (uint32_t)l ? x : nul;
            }
        }
        v->n = k;
        v->flags |= SMT_VF_PLAINKEYS;
        return v;
    }
    case AV_RECORD:
        v = smt_val_object(r->a, n->n);
        for (i = 0; i < n->n; i++) {
            struct smt_val *x = rd_node(r, n->fields[i].type);

            if (x == NULL) {
                field_prefix(r->err, n->fields[i].name.ptr,
                             n->fields[i].name.len);
                return NULL;
            }
            v->u.members[i].key = n->fields[i].name;
            v->u.members[i].val = x;
        }
        v->n = n->n;
        v->flags |= SMT_VF_PLAINKEYS;
        return v;
    default:
        smt_err_set(r->err, SMT_E_DATA, "bad schema node");
        return NULL;
    }
}

struct smt_val *smt_avro_datum_decode(const struct smt_avro_schema *s,
                                      struct smt_arena *a, const char *p,
                                      size_t len, struct smt_err *err)
{
    struct av_rd    r;
    struct smt_val *v;

    r.p = r.start = (const unsigned char *)p;
    r.end = r.p + len;
    r.a = a;
    r.err = err;
    r.empty = SMT_AVRO_MAX_EMPTY_ITEMS;
    v = rd_node(&r, s->root);
    if (v == NULL) {
        return NULL;
    }
    if (r.p != r.end) {
        smt_err_set(err, SMT_E_DATA, "%zu trailing bytes after the datum",
                    (size_t)(r.end - r.p));
        return NULL;
    }
    return v;
}

/* ---------------------------------------------------------------------- */
/* Encoding                                                                 */

static void wr_long(struct smt_buf *b, int64_t l)
{
    uint64_t u = ((uint64_t)l << 1) ^ (uint64_t)(l >> 63);
    char     tmp[10];
    size_t   n = 0;

    while (u >= 0x80) {
        tmp[n++] = (char)(u | 0x80);
        u >>= 7;
    }
    tmp[n++] = (char)u;
    smt_buf_add(b, tmp, n);
}

static int wr_mismatch(struct smt_err *err, const struct av_node *n,
                       const struct smt_val *v)
{
    return smt_err_set(err, SMT_E_DATA, "expected %s, got %s",
                       n->fullname ? n->fullname : av_names[n->kind],
                       v == NULL ? "null" : smt_type_name(v->type));
}

static int is_null(const struct smt_val *v)
{
    return v == NULL || v->type == SMT_NULL;
}

static int wr_node(struct smt_buf *b, const struct av_node *n,
                   const struct smt_val *v, struct smt_err *err);

/* A value for a general union: the Union struct (exactly one member set),
 * or a plain value written with the first branch that takes it. */
static int wr_union(struct smt_buf *b, const struct av_node *n,
                    const struct smt_val *v, struct smt_err *err)
{
    size_t   at = b->len;
    uint32_t i, k;

    if (v->type == SMT_OBJECT && v->n > 0) {
        const struct smt_val *set = NULL;
        long                  bi = -1;

        for (i = 0; i < v->n; i++) {
            for (k = 0; k < n->n; k++) {
                if ((int32_t)k != n->nullb &&
                    smt_bytes_eq(n->bname[k], v->u.members[i].key)) {
                    break;
                }
            }
            if (k == n->n) {
                break; /* not the Union struct */
            }
            if (!is_null(v->u.members[i].val)) {
                if (set != NULL) {
                    return smt_err_set(err, SMT_E_DATA, "union value has more "
                                       "than one member set");
                }
                set = v->u.members[i].val;
                bi = (long)k;
            }
        }
        if (i == v->n) {
            if (set == NULL) {
                if (n->nullb < 0) {
                    return smt_err_set(err, SMT_E_DATA, "union value has no "
                                       "member set");
                }
                wr_long(b, n->nullb);
                return 0;
            }
            wr_long(b, bi);
            return wr_node(b, n->br[bi], set, err);
        }
    }
    for (k = 0; k < n->n; k++) {
        if ((int32_t)k == n->nullb) {
            continue;
        }
        wr_long(b, (int64_t)k);
        if (wr_node(b, n->br[k], v, NULL) == 0) {
            return 0;
        }
        b->len = at;
    }
    return smt_err_set(err, SMT_E_DATA, "%s fits no branch of the union",
                       smt_type_name(v->type));
}

static int wr_record(struct smt_buf *b, const struct av_node *n,
                     const struct smt_val *v, struct smt_err *err)
{
    uint32_t i, found = 0;

    if (v->type != SMT_OBJECT) {
        return wr_mismatch(err, n, v);
    }
    for (i = 0; i < n->n; i++) {
        const struct av_field *f = &n->fields[i];
        const struct smt_val  *m = NULL;
        int                    have = 0;

        if (i < v->n && smt_bytes_eq(v->u.members[i].key, f->name)) {
            m = v->u.members[i].val;
            have = 1;
        } else {
            long k = smt_obj_index(v, f->name.ptr, f->name.len);

            if (k >= 0) {
                m = v->u.members[k].val;
                have = 1;
            }
        }
        found += (uint32_t)have;
        if (!have && f->def != NULL) {
            m = f->def;
        }
        if (wr_node(b, f->type, m, err) < 0) {
            field_prefix(err, f->name.ptr, f->name.len);
            return -1;
        }
    }
    if (found < v->n) {
        for (i = 0; i < v->n; i++) {
            uint32_t k;

            for (k = 0; k < n->n; k++) {
                if (smt_bytes_eq(v->u.members[i].key, n->fields[k].name)) {
                    break;
                }
            }
            if (k == n->n) {
                return smt_err_set(err, SMT_E_DATA, "field '%.*s' is not in "
                                   "the schema of '%s'",
                                   (int)v->u.members[i].key.len,
                                   v->u.members[i].key.ptr, n->fullname);
            }
        }
    }
    return 0;
}

static int wr_node(struct smt_buf *b, const struct av_node *n,
                   const struct smt_val *v, struct smt_err *err)
{
    uint32_t i;
    int64_t  l;

    if (is_null(v)) {
        if (n->kind == AV_NULL) {
            return 0;
        }
        if (n->kind == AV_UNION && n->nullb >= 0) {
            wr_long(b, n->nullb);
            return 0;
        }
        return smt_err_set(err, SMT_E_DATA, "null for a required %s",
                           n->fullname ? n->fullname : av_names[n->kind]);
    }
    switch (n->kind) {
    case AV_NULL:
        return wr_mismatch(err, n, v);
    case AV_BOOLEAN:
        if (v->type != SMT_BOOL) {
            return wr_mismatch(err, n, v);
        }
        smt_buf_addc(b, v->u.b ? 1 : 0);
        return 0;
    case AV_INT:
    case AV_LONG:
        if (v->type == SMT_DATE && n->logical != LT_NONE) {
            l = v->u.i;
            if (n->logical == LT_DATE) {
                if (l % MS_PER_DAY != 0) {
                    return smt_err_set(err, SMT_E_DATA, "Kafka Connect Date "
                                       "type should not have any time fields "
                                       "set to non-zero values.");
                }
                l /= MS_PER_DAY;
            }
        } else if (smt_type_is_int(v->type)) {
            l = v->u.i;
        } else {
            return wr_mismatch(err, n, v);
        }
        if (n->kind == AV_INT && (l < INT32_MIN || l > INT32_MAX)) {
            return smt_err_set(err, SMT_E_DATA, "%lld is out of range for int",
                               (long long)l);
        }
        wr_long(b, l);
        return 0;
    case AV_FLOAT: {
        float    f;
        uint32_t u;
        char     tmp[4];

        if (!smt_type_is_num(v->type) || v->type == SMT_BOOL) {
            return wr_mismatch(err, n, v);
        }
        f = (float)(smt_type_is_int(v->type) ? (double)v->u.i : v->u.d);
        memcpy(&u, &f, 4);
        for (i = 0; i < 4; i++) {
            tmp[i] = (char)(u >> (8 * i));
        }
        smt_buf_add(b, tmp, 4);
        return 0;
    }
    case AV_DOUBLE: {
        double   d;
        uint64_t u;
        char     tmp[8];

        if (!smt_type_is_num(v->type) || v->type == SMT_BOOL) {
            return wr_mismatch(err, n, v);
        }
        d = smt_type_is_int(v->type) ? (double)v->u.i : v->u.d;
        memcpy(&u, &d, 8);
        for (i = 0; i < 8; i++) {
            tmp[i] = (char)(u >> (8 * i));
        }
        smt_buf_add(b, tmp, 8);
        return 0;
    }
    case AV_STRING:
        if (v->type != SMT_STRING) {
            return wr_mismatch(err, n, v);
        }
        wr_long(b, (int64_t)v->u.s.len);
        smt_buf_add(b, v->u.s.ptr, v->u.s.len);
        return 0;
    case AV_BYTES:
    case AV_FIXED:
        if (n->logical == LT_DECIMAL) {
            unsigned char tmp[AV_MAX_DECIMAL_BYTES + 2];
            long          k;

            if (v->type != SMT_DECIMAL) {
                return wr_mismatch(err, n, v);
            }
            k = smt_decimal_to_unscaled(v->u.s, n->scale, tmp, sizeof(tmp),
                                        err);
            if (k < 0) {
                return -1;
            }
            if (n->kind == AV_BYTES) {
                wr_long(b, k);
                smt_buf_add(b, tmp, (size_t)k);
                return 0;
            }
            if (k > n->size) {
                return smt_err_set(err, SMT_E_DATA, "decimal '%.*s' does not "
                                   "fit %d bytes", (int)v->u.s.len,
                                   v->u.s.ptr, (int)n->size);
            }
            for (l = k; l < n->size; l++) { /* sign extension */
                smt_buf_addc(b, (char)((tmp[0] & 0x80) ? 0xFF : 0));
            }
            smt_buf_add(b, tmp, (size_t)k);
            return 0;
        }
        if (v->type != SMT_BYTES) {
            return wr_mismatch(err, n, v);
        }
        if (n->kind == AV_FIXED) {
            if (v->u.s.len != (size_t)n->size) {
                return smt_err_set(err, SMT_E_DATA, "%zu bytes for fixed '%s' "
                                   "of size %d", v->u.s.len, n->fullname,
                                   (int)n->size);
            }
        } else {
            wr_long(b, (int64_t)v->u.s.len);
        }
        smt_buf_add(b, v->u.s.ptr, v->u.s.len);
        return 0;
    case AV_ENUM:
        if (v->type != SMT_STRING) {
            return wr_mismatch(err, n, v);
        }
        for (i = 0; i < n->n; i++) {
            if (smt_bytes_eq(n->symbols[i], v->u.s)) {
                wr_long(b, i);
                return 0;
            }
        }
        return smt_err_set(err, SMT_E_DATA, "'%.*s' is not a symbol of "
                           "enum '%s'", (int)(v->u.s.len > 64 ? 64
                                                               : v->u.s.len),
                           v->u.s.ptr, n->fullname);
    case AV_ARRAY:
        if (v->type != SMT_ARRAY) {
            return wr_mismatch(err, n, v);
        }
        if (v->n > 0) {
            wr_long(b, v->n);
            for (i = 0; i < v->n; i++) {
                if (wr_node(b, n->items, v->u.items[i], err) < 0) {
                    return -1;
                }
            }
        }
        wr_long(b, 0);
        return 0;
    case AV_MAP:
        if (v->type != SMT_OBJECT) {
            return wr_mismatch(err, n, v);
        }
        if (v->n > 0) {
            wr_long(b, v->n);
            for (i = 0; i < v->n; i++) {
                const struct smt_member *m = &v->u.members[i];

                wr_long(b, (int64_t)m->key.len);
                smt_buf_add(b, m->key.ptr, m->key.len);
                if (wr_node(b, n->items, m->val, err) < 0) {
                    field_prefix(err, m->key.ptr, m->key.len);
                    return -1;
                }
            }
        }
        wr_long(b, 0);
        return 0;
    case AV_UNION:
        if (n->only >= 0) {
            wr_long(b, n->only);
            return wr_node(b, n->br[n->only], v, err);
        }
        return wr_union(b, n, v, err);
    case AV_RECORD:
        return wr_record(b, n, v, err);
    default:
        return smt_err_set(err, SMT_E_DATA, "bad schema node");
    }
}

int smt_avro_datum_encode(const struct smt_avro_schema *s,
                          const struct smt_val *v, struct smt_buf *b,
                          struct smt_err *err)
{
    size_t at = b->len;

    if (wr_node(b, s->root, v, err) < 0) {
        b->len = at;
        return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------------- */
/* Connect schema -> Avro schema (AvroData.fromConnectSchema)               */

struct av_gen {
    struct smt_buf *b;
    struct smt_err *err;
    const char    **names; /* heap list: full names defined so far */
    uint32_t        nnames;
    uint32_t        ndefault; /* ConnectDefault counter */
    struct smt_arena arena;   /* names made here */
};

static int gen_schema(struct av_gen *g, const struct smt_schema *s,
                      int depth);

static int name_seen(struct av_gen *g, const char *full)
{
    uint32_t i;

    for (i = 0; i < g->nnames; i++) {
        if (strcmp(g->names[i], full) == 0) {
            return 1;
        }
    }
    g->names = smt_xrealloc(g->names, (g->nnames + 1) * sizeof(*g->names));
    g->names[g->nnames++] = full;
    return 0;
}

/* "name":"x","namespace":"y" of full name full. */
static void gen_name(struct av_gen *g, const char *full)
{
    const char *dot = strrchr(full, '.');

    smt_buf_adds(g->b, "\"name\":");
    if (dot == NULL) {
        smt_json_write_str(g->b, full, strlen(full));
        return;
    }
    smt_json_write_str(g->b, dot + 1, strlen(dot + 1));
    smt_buf_adds(g->b, ",\"namespace\":");
    smt_json_write_str(g->b, full, (size_t)(dot - full));
}

/* connect.doc, connect.version, connect.parameters (without the keys the
 * Avro form already carries) and connect.name. */
static void gen_props(struct av_gen *g, const struct smt_schema *s,
                      int with_name, int with_doc)
{
    uint32_t i, k = 0;

    if (with_doc && s->doc != NULL) {
        smt_buf_adds(g->b, ",\"connect.doc\":");
        smt_json_write_str(g->b, s->doc, strlen(s->doc));
    }
    if (s->version != 0) {
        smt_buf_printf(g->b, ",\"connect.version\":%d", (int)s->version);
    }
    if (s->params != NULL && s->params->type == SMT_OBJECT) {
        for (i = 0; i < s->params->n; i++) {
            const struct smt_member *m = &s->params->u.members[i];

            if (smt_bytes_eqs(m->key, AV_PRECISION_PARAM) ||
                smt_bytes_eqs(m->key, AV_FIXED_PARAM) ||
                m->val == NULL || m->val->type != SMT_STRING) {
                continue;
            }
            smt_buf_adds(g->b, k++ ? "," : ",\"connect.parameters\":{");
            smt_json_write_str(g->b, m->key.ptr, m->key.len);
            smt_buf_addc(g->b, ':');
            smt_json_write_str(g->b, m->val->u.s.ptr, m->val->u.s.len);
        }
        if (k > 0) {
            smt_buf_addc(g->b, '}');
        }
    }
    if (with_name && s->name != NULL) {
        smt_buf_adds(g->b, ",\"connect.name\":");
        smt_json_write_str(g->b, s->name, strlen(s->name));
    }
}

/* The Avro JSON of default value v of s, or -1 (left out) when the form is
 * not one we write. */
static int gen_default(struct av_gen *g, const struct smt_schema *s,
                       const struct smt_val *v)
{
    char   tmp[40];
    size_t i;

    if (is_null(v)) {
        smt_buf_adds(g->b, "null");
        return 0;
    }
    switch (v->type) {
    case SMT_BOOL:
        smt_buf_adds(g->b, v->u.b ? "true" : "false");
        return 0;
    case SMT_INT8:
    case SMT_INT16:
    case SMT_INT32:
    case SMT_INT64:
        smt_buf_printf(g->b, "%lld", (long long)v->u.i);
        return 0;
    case SMT_DATE:
        smt_buf_printf(g->b, "%lld",
                       (long long)(s->name != NULL &&
                                           strcmp(s->name,
                                                  SMT_LOGICAL_DATE) == 0
                                       ? v->u.i / MS_PER_DAY
                                       : v->u.i));
        return 0;
    case SMT_FLOAT32:
    case SMT_FLOAT64:
        if (v->u.d != v->u.d || v->u.d - v->u.d != 0) {
            return -1;
        }
        snprintf(tmp, sizeof(tmp), "%.17g", v->u.d);
        smt_buf_adds(g->b, tmp);
        return 0;
    case SMT_STRING:
        smt_json_write_str(g->b, v->u.s.ptr, v->u.s.len);
        return 0;
    case SMT_BYTES:
        smt_buf_addc(g->b, '"');
        for (i = 0; i < v->u.s.len; i++) {
            unsigned char c = (unsigned char)v->u.s.ptr[i];

            if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
                smt_buf_addc(g->b, (char)c);
            } else {
                smt_buf_printf(g->b, "\\u%04x", c);
            }
        }
        smt_buf_addc(g->b, '"');
        return 0;
    default:
        return -1;
    }
}

/* The Union struct: its own generation writes the union, "null" included. */
static int is_union_struct(const struct smt_schema *s)
{
    return s->type == SMT_OBJECT && !s->is_map && s->name != NULL &&
           strcmp(s->name, AV_UNION_NAME) == 0;
}

/* A record field: optional -> ["null",T] default null (or [T,"null"] with
 * T's default). */
static int gen_field(struct av_gen *g, struct smt_bytes name,
                     const struct smt_schema *fs, int depth)
{
    size_t at;

    smt_buf_adds(g->b, "{\"name\":");
    smt_json_write_str(g->b, name.ptr, name.len);
    smt_buf_adds(g->b, ",\"type\":");
    if (is_union_struct(fs)) {
        if (gen_schema(g, fs, depth + 1) < 0) {
            return -1;
        }
        if (fs->optional) {
            smt_buf_adds(g->b, ",\"default\":null");
        }
    } else if (fs->optional && fs->def != NULL) {
        smt_buf_addc(g->b, '[');
        if (gen_schema(g, fs, depth + 1) < 0) {
            return -1;
        }
        smt_buf_adds(g->b, ",\"null\"]");
        at = g->b->len;
        smt_buf_adds(g->b, ",\"default\":");
        if (gen_default(g, fs, fs->def) < 0) {
            g->b->len = at;
        }
    } else if (fs->optional) {
        smt_buf_adds(g->b, "[\"null\",");
        if (gen_schema(g, fs, depth + 1) < 0) {
            return -1;
        }
        smt_buf_adds(g->b, "],\"default\":null");
    } else {
        if (gen_schema(g, fs, depth + 1) < 0) {
            return -1;
        }
        if (fs->def != NULL) {
            at = g->b->len;
            smt_buf_adds(g->b, ",\"default\":");
            if (gen_default(g, fs, fs->def) < 0) {
                g->b->len = at;
            }
        }
    }
    smt_buf_addc(g->b, '}');
    return 0;
}

/* An element (array item, map value): optional -> ["null", T]. */
static int gen_elem(struct av_gen *g, const struct smt_schema *s, int depth)
{
    if (s == NULL) {
        return smt_err_set(g->err, SMT_E_DATA, "array or map without an "
                           "element schema");
    }
    if (!s->optional || is_union_struct(s)) {
        return gen_schema(g, s, depth + 1);
    }
    smt_buf_adds(g->b, "[\"null\",");
    if (gen_schema(g, s, depth + 1) < 0) {
        return -1;
    }
    smt_buf_addc(g->b, ']');
    return 0;
}

static int gen_logical(struct av_gen *g, const struct smt_schema *s)
{
    const char *p;
    size_t      len;
    int         scale = 0, prec = 64;
    char        tmp[16];

    if (strcmp(s->name, SMT_LOGICAL_DECIMAL) == 0) {
        if ((p = param_get(s, "scale", &len)) != NULL && len < sizeof(tmp)) {
            memcpy(tmp, p, len);
            tmp[len] = '\0';
            scale = atoi(tmp);
        }
        if ((p = param_get(s, AV_PRECISION_PARAM, &len)) != NULL &&
            len < sizeof(tmp)) {
            memcpy(tmp, p, len);
            tmp[len] = '\0';
            prec = atoi(tmp);
        }
        smt_buf_printf(g->b, "{\"type\":\"bytes\",\"scale\":%d,"
                       "\"precision\":%d", scale, prec);
        gen_props(g, s, 1, 1);
        smt_buf_adds(g->b, ",\"logicalType\":\"decimal\"}");
        return 1;
    }
    if (strcmp(s->name, SMT_LOGICAL_DATE) == 0 ||
        strcmp(s->name, SMT_LOGICAL_TIME) == 0) {
        smt_buf_adds(g->b, "{\"type\":\"int\"");
        gen_props(g, s, 1, 1);
        smt_buf_adds(g->b, strcmp(s->name, SMT_LOGICAL_DATE) == 0
                               ? ",\"logicalType\":\"date\"}"
                               : ",\"logicalType\":\"time-millis\"}");
        return 1;
    }
    if (strcmp(s->name, SMT_LOGICAL_TIMESTAMP) == 0) {
        smt_buf_adds(g->b, "{\"type\":\"long\"");
        gen_props(g, s, 1, 1);
        smt_buf_adds(g->b, ",\"logicalType\":\"timestamp-millis\"}");
        return 1;
    }
    return 0;
}

static int gen_struct(struct av_gen *g, const struct smt_schema *s, int depth)
{
    const char *full = s->name;
    uint32_t    i;

    if (full != NULL && strcmp(full, AV_UNION_NAME) == 0) {
        /* the Union struct goes back to a union of its members */
        smt_buf_addc(g->b, '[');
        if (s->optional) {
            smt_buf_adds(g->b, "\"null\"");
        }
        for (i = 0; i < s->nfields; i++) {
            if (i > 0 || s->optional) {
                smt_buf_addc(g->b, ',');
            }
            if (gen_schema(g, s->fields[i].schema, depth + 1) < 0) {
                return -1;
            }
        }
        smt_buf_addc(g->b, ']');
        return 0;
    }
    if (full == NULL) {
        g->ndefault++;
        full = g->ndefault == 1
                   ? AV_DEFAULT_NS ".ConnectDefault"
                   : smt_arena_printf(&g->arena,
                                      AV_DEFAULT_NS ".ConnectDefault%u",
                                      g->ndefault)
                         .ptr;
    }
    if (name_seen(g, full)) {
        smt_json_write_str(g->b, full, strlen(full));
        return 0;
    }
    smt_buf_adds(g->b, "{\"type\":\"record\",");
    gen_name(g, full);
    if (s->doc != NULL) {
        smt_buf_adds(g->b, ",\"doc\":");
        smt_json_write_str(g->b, s->doc, strlen(s->doc));
    }
    smt_buf_adds(g->b, ",\"fields\":[");
    for (i = 0; i < s->nfields; i++) {
        if (i > 0) {
            smt_buf_addc(g->b, ',');
        }
        if (!valid_name(s->fields[i].name.ptr, s->fields[i].name.len)) {
            return smt_err_set(g->err, SMT_E_DATA, "field name '%.*s' is not "
                               "a valid avro name",
                               (int)s->fields[i].name.len,
                               s->fields[i].name.ptr);
        }
        if (gen_field(g, s->fields[i].name, s->fields[i].schema, depth) < 0) {
            return -1;
        }
    }
    smt_buf_addc(g->b, ']');
    gen_props(g, s, 1, 0);
    smt_buf_addc(g->b, '}');
    return 0;
}

static int gen_schema(struct av_gen *g, const struct smt_schema *s, int depth)
{
    const char *p;
    size_t      len;

    if (depth > SMT_AVRO_MAX_DEPTH) {
        return smt_err_set(g->err, SMT_E_LIMIT, "schema nested deeper than "
                           "%d levels", SMT_AVRO_MAX_DEPTH);
    }
    if (s->name != NULL && s->type != SMT_OBJECT && gen_logical(g, s)) {
        return 0;
    }
    switch (s->type) {
    case SMT_OBJECT:
        if (!s->is_map) {
            return gen_struct(g, s, depth);
        }
        if (s->keys != NULL && s->keys->type != SMT_STRING) {
            return smt_err_set(g->err, SMT_E_DATA, "maps with %s keys have "
                               "no avro form here", smt_type_name(
                                   s->keys->type));
        }
        smt_buf_adds(g->b, "{\"type\":\"map\",\"values\":");
        if (gen_elem(g, s->values, depth) < 0) {
            return -1;
        }
        gen_props(g, s, 1, 1);
        smt_buf_addc(g->b, '}');
        return 0;
    case SMT_ARRAY:
        smt_buf_adds(g->b, "{\"type\":\"array\",\"items\":");
        if (gen_elem(g, s->items, depth) < 0) {
            return -1;
        }
        gen_props(g, s, 1, 1);
        smt_buf_addc(g->b, '}');
        return 0;
    case SMT_STRING:
        if ((p = param_get(s, AV_ENUM_PARAM, &len)) != NULL) {
            char    *full = smt_arena_memdup(&g->arena, p, len);
            uint32_t i, k = 0;

            if (name_seen(g, full)) {
                smt_json_write_str(g->b, full, len);
                return 0;
            }
            smt_buf_adds(g->b, "{\"type\":\"enum\",");
            gen_name(g, full);
            smt_buf_adds(g->b, ",\"symbols\":[");
            for (i = 0; i < s->params->n; i++) {
                const struct smt_member *m = &s->params->u.members[i];

                if (m->key.len > sizeof(AV_ENUM_PARAM) &&
                    memcmp(m->key.ptr, AV_ENUM_PARAM ".",
                           sizeof(AV_ENUM_PARAM)) == 0 &&
                    m->val->type == SMT_STRING) {
                    if (k++ > 0) {
                        smt_buf_addc(g->b, ',');
                    }
                    smt_json_write_str(g->b, m->val->u.s.ptr, m->val->u.s.len);
                }
            }
            smt_buf_addc(g->b, ']');
            gen_props(g, s, 1, 1);
            smt_buf_addc(g->b, '}');
            return 0;
        }
        break;
    case SMT_BYTES:
        if ((p = param_get(s, AV_FIXED_PARAM, &len)) != NULL &&
            s->name != NULL) {
            if (name_seen(g, s->name)) {
                smt_json_write_str(g->b, s->name, strlen(s->name));
                return 0;
            }
            smt_buf_adds(g->b, "{\"type\":\"fixed\",");
            gen_name(g, s->name);
            smt_buf_printf(g->b, ",\"size\":%.*s", (int)len, p);
            gen_props(g, s, 1, 1);
            smt_buf_addc(g->b, '}');
            return 0;
        }
        break;
    default:
        break;
    }
    {
        const char *t;
        int         obj = s->name != NULL || s->version != 0 ||
                  s->doc != NULL || s->params != NULL ||
                  s->type == SMT_INT8 || s->type == SMT_INT16;

        switch (s->type) {
        case SMT_BOOL: t = "boolean"; break;
        case SMT_INT8:
        case SMT_INT16:
        case SMT_INT32: t = "int"; break;
        case SMT_INT64: t = "long"; break;
        case SMT_FLOAT32: t = "float"; break;
        case SMT_FLOAT64: t = "double"; break;
        case SMT_STRING: t = "string"; break;
        case SMT_BYTES: t = "bytes"; break;
        default:
            return smt_err_set(g->err, SMT_E_DATA, "%s has no avro form",
                               smt_type_name(s->type));
        }
        if (!obj) {
            smt_buf_printf(g->b, "\"%s\"", t);
            return 0;
        }
        smt_buf_printf(g->b, "{\"type\":\"%s\"", t);
        if (s->type == SMT_INT8 || s->type == SMT_INT16) {
            smt_buf_printf(g->b, ",\"connect.type\":\"%s\"",
                           s->type == SMT_INT8 ? "int8" : "int16");
        }
        gen_props(g, s, 1, 1);
        smt_buf_addc(g->b, '}');
        return 0;
    }
}

int smt_avro_from_connect(const struct smt_schema *cs, struct smt_buf *b,
                          struct smt_err *err)
{
    struct av_gen g;
    size_t        at = b->len;
    int           rc;

    memset(&g, 0, sizeof(g));
    g.b = b;
    g.err = err;
    smt_arena_init(&g.arena, 1024);
    rc = cs->optional ? gen_elem(&g, cs, 0) : gen_schema(&g, cs, 0);
    free(g.names);
    smt_arena_fini(&g.arena);
    if (rc < 0) {
        b->len = at;
    }
    return rc;
}

/* ---------------------------------------------------------------------- */
/* The codec                                                                */

#define CD_BUCKETS 256 /* per table; chains are short for realistic counts */

struct cd_entry {
    int32_t                 id;
    struct smt_avro_schema *s;
    char                   *subject; /* local schemas: subject or NULL */
    struct cd_entry        *next_id, *next_cs;
};

struct cd_gen {
    uint64_t                hash;
    char                   *key; /* subject '\0' text */
    size_t                  klen;
    int32_t                 id;
    struct smt_avro_schema *s;   /* owned unless shared with an entry */
    int                     owns;
    struct cd_gen          *next;
};

struct smt_codec {
    struct smt_schemareg *reg;
    struct smt_codec_conf conf;
    pthread_mutex_t       mu;
    struct cd_entry      *by_id[CD_BUCKETS];
    struct cd_entry      *by_cs[CD_BUCKETS];
    struct cd_gen        *gens[CD_BUCKETS];
    struct cd_entry     **local; /* local entries in the order added */
    uint32_t              nlocal;
};

static uint32_t hash_u64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return (uint32_t)(x % CD_BUCKETS);
}

static uint64_t hash_mem(const char *p, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    size_t   i;

    for (i = 0; i < n; i++) {
        h = (h ^ (unsigned char)p[i]) * 1099511628211ULL;
    }
    return h;
}

struct smt_codec *smt_codec_new(struct smt_schemareg     *reg,
                                const struct smt_codec_conf *conf)
{
    struct smt_codec *c = smt_xcalloc(1, sizeof(*c));

    c->reg = reg;
    if (conf != NULL) {
        c->conf = *conf;
    } else {
        c->conf.auto_register = 1;
    }
    pthread_mutex_init(&c->mu, NULL);
    return c;
}

void smt_codec_free(struct smt_codec *c)
{
    uint32_t i;

    if (c == NULL) {
        return;
    }
    for (i = 0; i < CD_BUCKETS; i++) {
        struct cd_entry *e = c->by_id[i], *en;
        struct cd_gen   *g = c->gens[i], *gn;

        for (; e != NULL; e = en) {
            en = e->next_id;
            smt_avro_schema_free(e->s);
            free(e->subject);
            free(e);
        }
        for (; g != NULL; g = gn) {
            gn = g->next;
            if (g->owns) {
                smt_avro_schema_free(g->s);
            }
            free(g->key);
            free(g);
        }
    }
    free(c->local);
    smt_schemareg_free(c->reg);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

/* Under c->mu. */
static struct cd_entry *find_id(const struct smt_codec *c, int32_t id)
{
    struct cd_entry *e = c->by_id[hash_u64((uint64_t)(uint32_t)id)];

    while (e != NULL && e->id != id) {
        e = e->next_id;
    }
    return e;
}

/* Under c->mu. */
static struct cd_entry *find_cs(const struct smt_codec *c,
                                const struct smt_schema *cs)
{
    struct cd_entry *e = c->by_cs[hash_u64((uint64_t)(uintptr_t)cs)];

    while (e != NULL && e->s->root->cs != cs) {
        e = e->next_cs;
    }
    return e;
}

/* Under c->mu; takes s. */
static struct cd_entry *insert_id(struct smt_codec *c, int32_t id,
                                  struct smt_avro_schema *s,
                                  const char *subject)
{
    struct cd_entry *e = smt_xcalloc(1, sizeof(*e));
    uint32_t         h = hash_u64((uint64_t)(uint32_t)id);

    e->id = id;
    e->s = s;
    e->subject = subject ? smt_xstrdup(subject) : NULL;
    e->next_id = c->by_id[h];
    c->by_id[h] = e;
    h = hash_u64((uint64_t)(uintptr_t)s->root->cs);
    e->next_cs = c->by_cs[h];
    c->by_cs[h] = e;
    return e;
}

int smt_codec_add_local(struct smt_codec *c, int32_t id, const char *subject,
                        const char *text, size_t len, struct smt_err *err)
{
    struct smt_avro_schema *s;
    struct cd_entry        *e;

    if (find_id(c, id) != NULL) {
        return smt_err_set(err, SMT_E_CONFIG, "schema id %d is given twice",
                           (int)id);
    }
    s = smt_avro_schema_new(text, len, err);
    if (s == NULL) {
        return -1;
    }
    e = insert_id(c, id, s, subject);
    c->local = smt_xrealloc(c->local, (c->nlocal + 1) * sizeof(*c->local));
    c->local[c->nlocal++] = e;
    return 0;
}

/* The compiled schema of id: cached, else from the registry. */
static struct cd_entry *get_id(struct smt_codec *c, int32_t id,
                               struct smt_err *err)
{
    struct cd_entry        *e;
    struct smt_avro_schema *s;
    const char             *text;
    size_t                  len;

    pthread_mutex_lock(&c->mu);
    e = find_id(c, id);
    pthread_mutex_unlock(&c->mu);
    if (e != NULL) {
        return e;
    }
    if (c->reg == NULL) {
        smt_err_set(err, SMT_E_DATA, "unknown schema id %d", (int)id);
        return NULL;
    }
    /* the registry call and the compile run unlocked: a slow registry
     * never holds up decodes of known ids */
    if (smt_schemareg_by_id(c->reg, id, &text, &len, err) < 0) {
        return NULL;
    }
    if ((s = smt_avro_schema_new(text, len, err)) == NULL) {
        return NULL;
    }
    pthread_mutex_lock(&c->mu);
    e = find_id(c, id);
    if (e == NULL) {
        e = insert_id(c, id, s, NULL);
        s = NULL;
    }
    pthread_mutex_unlock(&c->mu);
    smt_avro_schema_free(s); /* lost a race: the other copy is in */
    return e;
}

struct smt_val *smt_avro_decode(struct smt_codec *c, struct smt_arena *a,
                                struct smt_bytes raw,
                                const struct smt_schema **schema,
                                struct smt_err *err)
{
    const unsigned char *p = (const unsigned char *)raw.ptr;
    struct cd_entry     *e;
    struct smt_val      *v;
    int32_t              id;

    if (schema != NULL) {
        *schema = NULL;
    }
    if (raw.ptr == NULL) {
        return smt_val_null(a);
    }
    if (raw.len > 0 && p[0] != 0) {
        smt_err_set(err, SMT_E_DATA, "unknown magic byte 0x%02x (the "
                    "Confluent wire format starts with 0)", p[0]);
        return NULL;
    }
    if (raw.len < 5) {
        smt_err_set(err, SMT_E_DATA, "message of %zu bytes is shorter than "
                    "the 5-byte wire format header", raw.len);
        return NULL;
    }
    if (c == NULL) {
        smt_err_set(err, SMT_E_DATA, "avro needs a schema registry or local "
                    "schemas");
        return NULL;
    }
    id = (int32_t)((uint32_t)p[1] << 24 | (uint32_t)p[2] << 16 |
                   (uint32_t)p[3] << 8 | (uint32_t)p[4]);
    if ((e = get_id(c, id, err)) == NULL) {
        if (err != NULL && strncmp(err->msg, "unknown schema id", 17) != 0) {
            smt_err_prefix(err, "schema id %d: ", (int)id);
        }
        return NULL;
    }
    v = smt_avro_datum_decode(e->s, a, raw.ptr + 5, raw.len - 5, err);
    if (v == NULL) {
        smt_err_prefix(err, "schema id %d: ", (int)id);
        return NULL;
    }
    if (schema != NULL) {
        *schema = e->s->root->cs;
    }
    return v;
}

/* The latest schema of subject: the registry's, or the local schema added
 * last under that subject. */
static struct cd_entry *get_latest(struct smt_codec *c, const char *subject,
                                   struct smt_err *err)
{
    int32_t     id;
    const char *text;
    size_t      len;
    uint32_t    i;

    for (i = c->nlocal; i-- > 0;) {
        if (c->local[i]->subject != NULL &&
            strcmp(c->local[i]->subject, subject) == 0) {
            return c->local[i];
        }
    }
    if (c->reg == NULL) {
        smt_err_set(err, SMT_E_DATA, "no local schema for subject '%s'",
                    subject);
        return NULL;
    }
    if (smt_schemareg_latest(c->reg, subject, &id, &text, &len, err) < 0) {
        smt_err_prefix(err, "subject '%s': ", subject);
        return NULL;
    }
    return get_id(c, id, err);
}

/* The id and schema for a value whose Connect schema is not one the codec
 * made: generate, then register or find. */
static struct cd_gen *get_generated(struct smt_codec *c, const char *subject,
                                    const struct smt_schema *cs,
                                    struct smt_err *err)
{
    struct smt_buf          b;
    struct cd_gen          *g;
    struct smt_avro_schema *s;
    uint64_t                h;
    size_t                  sl = strlen(subject), tl;
    uint32_t                i;
    int32_t                 id = -1;

    smt_buf_init(&b);
    smt_buf_add(&b, subject, sl + 1);
    if (smt_avro_from_connect(cs, &b, err) < 0) {
        smt_buf_fini(&b);
        return NULL;
    }
    h = hash_mem(b.ptr, b.len);
    pthread_mutex_lock(&c->mu);
    for (g = c->gens[h % CD_BUCKETS]; g != NULL; g = g->next) {
        if (g->hash == h && g->klen == b.len &&
            memcmp(g->key, b.ptr, b.len) == 0) {
            break;
        }
    }
    pthread_mutex_unlock(&c->mu);
    if (g != NULL) {
        smt_buf_fini(&b);
        return g;
    }
    tl = b.len - sl - 1;
    s = smt_avro_schema_new(b.ptr + sl + 1, tl, err);
    if (s == NULL) {
        smt_err_prefix(err, "generated schema for subject '%s': ", subject);
        smt_buf_fini(&b);
        return NULL;
    }
    /* a local schema of the same canonical form encodes the same bytes */
    for (i = 0; i < c->nlocal; i++) {
        if (strcmp(smt_avro_schema_pcf(c->local[i]->s),
                   smt_avro_schema_pcf(s)) == 0) {
            id = c->local[i]->id;
            break;
        }
    }
    if (id < 0 && c->reg != NULL && c->conf.auto_register) {
        if (smt_schemareg_register(c->reg, subject, b.ptr + sl + 1, tl, &id,
                                   err) < 0) {
            smt_err_prefix(err, "registering subject '%s': ", subject);
            smt_avro_schema_free(s);
            smt_buf_fini(&b);
            return NULL;
        }
    }
    if (id < 0) {
        smt_err_set(err, SMT_E_DATA, "the changed schema for subject '%s' "
                    "is not %s", subject,
                    c->reg != NULL ? "registered and auto.register.schemas "
                                     "is false"
                                   : "among the local schemas");
        smt_avro_schema_free(s);
        smt_buf_fini(&b);
        return NULL;
    }
    g = smt_xcalloc(1, sizeof(*g));
    g->hash = h;
    g->key = smt_xmalloc(b.len);
    memcpy(g->key, b.ptr, b.len);
    g->klen = b.len;
    g->id = id;
    g->s = s;
    g->owns = 1;
    smt_buf_fini(&b);
    pthread_mutex_lock(&c->mu);
    {
        struct cd_gen *o;

        for (o = c->gens[h % CD_BUCKETS]; o != NULL; o = o->next) {
            if (o->hash == h && o->klen == g->klen &&
                memcmp(o->key, g->key, g->klen) == 0) {
                break;
            }
        }
        if (o != NULL) { /* another worker was faster */
            pthread_mutex_unlock(&c->mu);
            smt_avro_schema_free(g->s);
            free(g->key);
            free(g);
            return o;
        }
        g->next = c->gens[h % CD_BUCKETS];
        c->gens[h % CD_BUCKETS] = g;
    }
    pthread_mutex_unlock(&c->mu);
    return g;
}

int smt_avro_encode(struct smt_codec *c, struct smt_arena *a,
                    struct smt_bytes topic, int is_key,
                    const struct smt_val *val,
                    const struct smt_schema *schema, struct smt_bytes *out,
                    struct smt_err *err)
{
    const struct smt_avro_schema *s;
    struct cd_entry              *e;
    struct smt_buf                b;
    char                          subject[512];
    int32_t                       id;
    char                         *p;

    if (is_null(val)) {
        *out = SMT_BYTES_NULL;
        return 0;
    }
    if (c == NULL) {
        return smt_err_set(err, SMT_E_DATA, "avro needs a schema registry or "
                           "local schemas");
    }
    if (schema == NULL) {
        return smt_err_set(err, SMT_E_DATA, "a value without a schema cannot "
                           "be written as avro");
    }
    pthread_mutex_lock(&c->mu);
    e = find_cs(c, schema);
    pthread_mutex_unlock(&c->mu);
    if (e != NULL) {
        id = e->id;
        s = e->s;
    } else {
        snprintf(subject, sizeof(subject), "%.*s-%s",
                 (int)(topic.len > 400 ? 400 : topic.len),
                 topic.ptr ? topic.ptr : "", is_key ? "key" : "value");
        if (c->conf.use_latest) {
            if ((e = get_latest(c, subject, err)) == NULL) {
                return -1;
            }
            id = e->id;
            s = e->s;
        } else {
            struct cd_gen *g = get_generated(c, subject, schema, err);

            if (g == NULL) {
                return -1;
            }
            id = g->id;
            s = g->s;
        }
    }
    smt_buf_init(&b);
    smt_buf_reserve(&b, 256);
    smt_buf_addc(&b, 0);
    smt_buf_addc(&b, (char)((uint32_t)id >> 24));
    smt_buf_addc(&b, (char)((uint32_t)id >> 16));
    smt_buf_addc(&b, (char)((uint32_t)id >> 8));
    smt_buf_addc(&b, (char)id);
    if (smt_avro_datum_encode(s, val, &b, err) < 0) {
        smt_err_prefix(err, "schema id %d: ", (int)id);
        smt_buf_fini(&b);
        return -1;
    }
    p = smt_arena_alloc(a, b.len);
    memcpy(p, b.ptr, b.len);
    out->ptr = p;
    out->len = b.len;
    smt_buf_fini(&b);
    return 0;
}

struct smt_schemareg *smt_codec_registry(const struct smt_codec *c)
{
    return c != NULL ? c->reg : NULL;
}

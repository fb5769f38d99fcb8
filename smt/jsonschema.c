/*
 * jsonschema.c - JSON Schema (drafts 2020-12 and 07) compiled once,
 * validated per record without allocation.
 *
 * Compilation has three passes over the schema document, which is parsed
 * with our own JSON parser into the validator's arena:
 *
 * 1. scan: walks every subschema position the draft defines, computing
 *    each schema object's base URI (RFC 3986 resolution of $id against the
 *    enclosing base) and its location, and registers the resources ($id)
 *    and anchors ($anchor, $dynamicAnchor; draft 7 "$id": "#name") of the
 *    document;
 * 2. compile: turns each schema object into a js_node, keywords into
 *    fields, memoised by the source node so a subschema reached twice (by
 *    nesting and by $ref) is compiled once and $ref cycles terminate;
 * 3. resolve: each $ref is resolved against its base URI to a resource of
 *    this document plus a JSON pointer or anchor fragment, compiled on
 *    demand. A reference to anything outside the document is a
 *    configuration error: nothing is fetched.
 *
 * Validation walks the node tree. Instance locations are a chain of stack
 * frames (js_loc) turned into a JSON pointer only when a failure is
 * reported; subschemas whose failure is not an error (anyOf, oneOf, not,
 * if, contains) run with reporting off, so the message always names the
 * failure that decided the result. Numbers compare exactly: integers as
 * int64, everything through long double (exact for int64 and double on
 * x86-64), multipleOf in decimal arithmetic on the numbers' source text,
 * so 0.0075 is a multiple of 0.0001 and 1e308 one of 0.5. Regexes are
 * PCRE2 with find semantics (JSON Schema patterns are unanchored); PCRE2
 * is not ECMA-262 (see docs/json-schema.md).
 */
#include "jsonschema.h"

#include "json.h"
#include "regex.h"

#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

/* Instance kinds (bit mask for `type`). */
enum {
    JT_NULL = 0x01,
    JT_BOOL = 0x02,
    JT_INT = 0x04,
    JT_NUM = 0x08, /* a number that is not an integer */
    JT_STR = 0x10,
    JT_ARR = 0x20,
    JT_OBJ = 0x40,
};

enum { JS_FIXED_NO = 0, JS_FIXED_ANY, JS_FIXED_NONE };

enum js_format {
    JF_NONE = 0,
    JF_DATE_TIME,
    JF_DATE,
    JF_TIME,
    JF_EMAIL,
    JF_HOSTNAME,
    JF_IPV4,
    JF_IPV6,
    JF_UUID,
    JF_URI,
    JF_JSON_POINTER,
    JF_REL_JSON_POINTER,
    JF_DURATION,
};

static const char *const js_format_names[] = {
    "",     "date-time", "date", "time", "email", "hostname",
    "ipv4", "ipv6",      "uuid", "uri",  "json-pointer",
    "relative-json-pointer", "duration", NULL,
};

#define JS_MAX_DEPTH 1000 /* nested schema applications while validating */

/* A number of the schema. Kept as int64 or double (not long double, which
 * wants more alignment than the arena gives) and widened when compared. */
struct js_num {
    int64_t     i;
    double      d;
    int         isint;
    const char *txt; /* source text */
    size_t      len;
};

struct js_node;

struct js_prop {
    struct smt_bytes name;
    struct js_node  *node;
};

struct js_pprop {
    struct smt_regex *re;
    struct js_node   *node;
};

struct js_dep {
    const char       *kw; /* dependencies or dependentRequired/Schemas */
    struct smt_bytes  name;
    struct smt_bytes *req; /* dependentRequired names */
    uint32_t          nreq;
    struct js_node   *node; /* dependentSchemas, or NULL */
};

struct js_node {
    const char           *loc;   /* schema location: "#/properties/a" */
    uint8_t               fixed; /* JS_FIXED_*: boolean schema or {} */
    uint8_t               types; /* JT_* mask, 0 = no `type` */
    uint8_t               unique;
    uint8_t               format;
    const struct smt_val *cnst; /* const, or NULL */
    const struct smt_val *enm;  /* enum array, or NULL */
    struct js_num        *min, *max, *xmin, *xmax, *mult;
    int64_t minlen, maxlen, minitems, maxitems, minprops, maxprops;
    int64_t mincont, maxcont; /* -1 = absent */
    struct smt_regex *pattern;
    const char       *pattern_src; /* as written in the schema */
    struct js_node  **prefix;
    uint32_t          nprefix;
    struct js_node   *items; /* elements after the prefix */
    const char       *items_kw;
    struct js_node   *contains;
    struct js_prop   *props; /* sorted by (len, bytes) */
    uint32_t          nprops;
    struct js_pprop  *pprops;
    uint32_t          npprops;
    struct js_node   *addl;
    struct smt_bytes *req;
    uint32_t          nreq;
    struct js_dep    *deps;
    uint32_t          ndeps;
    struct js_node   *pnames;
    struct js_node  **allof, **anyof, **oneof;
    uint32_t          nallof, nanyof, noneof;
    struct js_node   *not_, *if_, *then_, *else_;
    struct js_node   *ref;
    const char       *refuri; /* absolute URI of $ref, until resolved */
};

/* What the scan learnt about one schema object, and its compiled node. */
struct js_ent {
    const struct smt_val *val;
    const char           *base;
    const char           *loc;
    struct js_node       *node;
};

struct js_res {
    const char           *uri; /* resource URI (no fragment) or URI#anchor */
    const struct smt_val *val;
};

struct smt_jsonschema {
    struct smt_arena   arena;
    int                draft;
    int                formats;
    struct js_node    *root;
    struct smt_regex **regexes;
    uint32_t           nregexes, capregexes;
};

/* Compile-time state, freed after smt_jsonschema_new(). */
struct js_comp {
    struct smt_jsonschema *js;
    struct smt_arena      *a;
    struct smt_err        *err;
    struct js_ent         *ents; /* open addressing on val */
    uint32_t               nents, capents;
    struct js_res         *res, *anchors;
    uint32_t               nres, capres, nanchors, capanchors;
    struct js_node       **pending; /* nodes whose $ref is unresolved */
    uint32_t               npending, cappending;
};

/* ---------------------------------------------------------------------- */
/* Small helpers                                                            */

static int js_key(struct smt_bytes k, const char *s)
{
    return smt_bytes_eqs(k, s);
}

static const char *js_strz(struct smt_arena *a, struct smt_bytes b)
{
    return smt_arena_memdup(a, b.ptr, b.len);
}

/* Appends the JSON-pointer escape of key (~0, ~1) to a location. */
static const char *js_loc_add(struct smt_arena *a, const char *loc,
                              const char *key, size_t len)
{
    struct smt_buf b;
    const char    *out;
    size_t         i;

    smt_buf_init(&b);
    smt_buf_adds(&b, loc);
    smt_buf_addc(&b, '/');
    for (i = 0; i < len; i++) {
        if (key[i] == '~') {
            smt_buf_adds(&b, "~0");
        } else if (key[i] == '/') {
            smt_buf_adds(&b, "~1");
        } else {
            smt_buf_addc(&b, key[i]);
        }
    }
    out = smt_arena_memdup(a, b.ptr, b.len);
    smt_buf_fini(&b);
    return out;
}

static const char *js_loc_idx(struct smt_arena *a, const char *loc,
                              uint32_t i)
{
    return smt_arena_printf(a, "%s/%u", loc, i).ptr;
}

/* ---------------------------------------------------------------------- */
/* URIs (RFC 3986 section 5.2, enough for $id and $ref)                     */

struct js_uri {
    struct smt_bytes scheme, auth, path, query, frag; /* ptr NULL = absent */
};

static void js_uri_parse(const char *s, struct js_uri *u)
{
    const char *p = s, *q;

    memset(u, 0, sizeof(*u));
    for (q = p; *q != '\0' && *q != ':' && *q != '/' && *q != '?' &&
                *q != '#';
         q++) {
    }
    if (*q == ':' && q > p) {
        u->scheme = (struct smt_bytes){p, (size_t)(q - p)};
        p = q + 1;
    }
    if (p[0] == '/' && p[1] == '/') {
        p += 2;
        for (q = p; *q != '\0' && *q != '/' && *q != '?' && *q != '#'; q++) {
        }
        u->auth = (struct smt_bytes){p, (size_t)(q - p)};
        p = q;
    }
    for (q = p; *q != '\0' && *q != '?' && *q != '#'; q++) {
    }
    u->path = (struct smt_bytes){p, (size_t)(q - p)};
    p = q;
    if (*p == '?') {
        for (q = p + 1; *q != '\0' && *q != '#'; q++) {
        }
        u->query = (struct smt_bytes){p + 1, (size_t)(q - p - 1)};
        p = q;
    }
    if (*p == '#') {
        u->frag = (struct smt_bytes){p + 1, strlen(p + 1)};
    }
}

/* remove_dot_segments of RFC 3986 5.2.4, appending the result to out. */
static void js_uri_dots(struct smt_buf *out, const char *p, size_t len)
{
    size_t start = out->len;

    while (len > 0) {
        if (len >= 3 && memcmp(p, "../", 3) == 0) {
            p += 3, len -= 3;
        } else if (len >= 2 && memcmp(p, "./", 2) == 0) {
            p += 2, len -= 2;
        } else if (len >= 3 && memcmp(p, "/./", 3) == 0) {
            p += 2, len -= 2;
        } else if (len == 2 && memcmp(p, "/.", 2) == 0) {
            p = "/", len = 1;
        } else if ((len >= 4 && memcmp(p, "/../", 4) == 0) ||
                   (len == 3 && memcmp(p, "/..", 3) == 0)) {
            if (len == 3) {
                p = "/", len = 1;
            } else {
                p += 3, len -= 3;
            }
            while (out->len > start && out->ptr[out->len - 1] != '/') {
                out->len--;
            }
            if (out->len > start) {
                out->len--;
            }
        } else if ((len == 1 && p[0] == '.') ||
                   (len == 2 && memcmp(p, "..", 2) == 0)) {
            len = 0;
        } else {
            size_t n = 1;

            while (n < len && p[n] != '/') {
                n++;
            }
            if (p[0] != '/') {
                while (n < len && p[n] != '/') {
                    n++;
                }
            }
            smt_buf_add(out, p, n);
            p += n, len -= n;
        }
    }
}

/* Resolves ref against base into the arena (fragment kept). */
static const char *js_uri_resolve(struct smt_arena *a, const char *base,
                                  const char *ref)
{
    struct js_uri    b, r;
    struct smt_buf   out;
    struct smt_bytes auth, query;
    const char      *res;

    js_uri_parse(base, &b);
    js_uri_parse(ref, &r);
    smt_buf_init(&out);
    if (r.scheme.ptr != NULL) {
        smt_buf_add(&out, r.scheme.ptr, r.scheme.len);
        smt_buf_addc(&out, ':');
        if (r.auth.ptr != NULL) {
            smt_buf_adds(&out, "//");
            smt_buf_add(&out, r.auth.ptr, r.auth.len);
        }
        js_uri_dots(&out, r.path.ptr, r.path.len);
        query = r.query;
    } else {
        if (b.scheme.ptr != NULL) {
            smt_buf_add(&out, b.scheme.ptr, b.scheme.len);
            smt_buf_addc(&out, ':');
        }
        auth = r.auth.ptr != NULL ? r.auth : b.auth;
        if (auth.ptr != NULL) {
            smt_buf_adds(&out, "//");
            smt_buf_add(&out, auth.ptr, auth.len);
        }
        if (r.auth.ptr != NULL) {
            js_uri_dots(&out, r.path.ptr, r.path.len);
            query = r.query;
        } else if (r.path.len == 0) {
            smt_buf_add(&out, b.path.ptr, b.path.len);
            query = r.query.ptr != NULL ? r.query : b.query;
        } else if (r.path.ptr[0] == '/') {
            js_uri_dots(&out, r.path.ptr, r.path.len);
            query = r.query;
        } else {
            struct smt_buf m;
            const char    *slash = NULL;
            size_t         i;

            smt_buf_init(&m);
            if (b.auth.ptr != NULL && b.path.len == 0) {
                smt_buf_addc(&m, '/');
            } else {
                for (i = 0; i < b.path.len; i++) {
                    if (b.path.ptr[i] == '/') {
                        slash = b.path.ptr + i;
                    }
                }
                if (slash != NULL) {
                    smt_buf_add(&m, b.path.ptr,
                                (size_t)(slash - b.path.ptr) + 1);
                }
            }
            smt_buf_add(&m, r.path.ptr, r.path.len);
            js_uri_dots(&out, m.ptr, m.len);
            smt_buf_fini(&m);
            query = r.query;
        }
    }
    if (query.ptr != NULL) {
        smt_buf_addc(&out, '?');
        smt_buf_add(&out, query.ptr, query.len);
    }
    if (r.frag.ptr != NULL && r.frag.len > 0) {
        smt_buf_addc(&out, '#');
        smt_buf_add(&out, r.frag.ptr, r.frag.len);
    }
    res = smt_arena_memdup(a, out.ptr ? out.ptr : "", out.len);
    smt_buf_fini(&out);
    return res;
}

/* The URI without its fragment (arena copy), and the fragment (or ""). */
static const char *js_uri_split(struct smt_arena *a, const char *uri,
                                const char **frag)
{
    const char *h = strchr(uri, '#');

    if (h == NULL) {
        *frag = "";
        return uri;
    }
    *frag = h + 1;
    return smt_arena_memdup(a, uri, (size_t)(h - uri));
}

/* ---------------------------------------------------------------------- */
/* Compile-time tables                                                      */

static uint32_t js_hash(const void *p)
{
    uintptr_t x = (uintptr_t)p;

    x ^= x >> 17;
    x *= 0xed5ad4bbu;
    x ^= x >> 11;
    return (uint32_t)x;
}

static struct js_ent *js_ent_get(struct js_comp *c, const struct smt_val *v,
                                 int create)
{
    uint32_t i;

    if (create && (c->nents + 1) * 2 > c->capents) {
        struct js_ent *old = c->ents;
        uint32_t       oldcap = c->capents, j;

        c->capents = oldcap ? oldcap * 2 : 256;
        c->ents = smt_xcalloc(c->capents, sizeof(*c->ents));
        for (j = 0; j < oldcap; j++) {
            if (old[j].val != NULL) {
                i = js_hash(old[j].val) & (c->capents - 1);
                while (c->ents[i].val != NULL) {
                    i = (i + 1) & (c->capents - 1);
                }
                c->ents[i] = old[j];
            }
        }
        free(old);
    }
    if (c->capents == 0) {
        return NULL;
    }
    i = js_hash(v) & (c->capents - 1);
    while (c->ents[i].val != NULL) {
        if (c->ents[i].val == v) {
            return &c->ents[i];
        }
        i = (i + 1) & (c->capents - 1);
    }
    if (!create) {
        return NULL;
    }
    c->ents[i].val = v;
    c->nents++;
    return &c->ents[i];
}

static void js_res_add(struct js_res **tab, uint32_t *n, uint32_t *cap,
                       const char *uri, const struct smt_val *v)
{
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 16;
        *tab = smt_xrealloc(*tab, *cap * sizeof(**tab));
    }
    (*tab)[*n].uri = uri;
    (*tab)[*n].val = v;
    (*n)++;
}

static const struct smt_val *js_res_find(const struct js_res *tab, uint32_t n,
                                         const char *uri)
{
    uint32_t i;

    for (i = 0; i < n; i++) {
        if (strcmp(tab[i].uri, uri) == 0) {
            return tab[i].val;
        }
    }
    return NULL;
}

/* ---------------------------------------------------------------------- */
/* Pass 1: scan                                                             */

static void js_scan(struct js_comp *c, const struct smt_val *v,
                    const char *base, const char *loc);

static void js_scan_map(struct js_comp *c, const struct smt_val *m,
                        const char *base, const char *loc)
{
    uint32_t i;

    if (m->type != SMT_OBJECT) {
        return;
    }
    for (i = 0; i < m->n; i++) {
        js_scan(c, m->u.members[i].val, base,
                js_loc_add(c->a, loc, m->u.members[i].key.ptr,
                           m->u.members[i].key.len));
    }
}

static void js_scan_arr(struct js_comp *c, const struct smt_val *m,
                        const char *base, const char *loc)
{
    uint32_t i;

    if (m->type != SMT_ARRAY) {
        return;
    }
    for (i = 0; i < m->n; i++) {
        js_scan(c, m->u.items[i], base, js_loc_idx(c->a, loc, i));
    }
}

static void js_scan(struct js_comp *c, const struct smt_val *v,
                    const char *base, const char *loc)
{
    int            d7 = c->js->draft == SMT_JS_DRAFT7;
    struct js_ent *e;
    const struct smt_val *id, *x;
    uint32_t       i;

    if (v->type != SMT_OBJECT || js_ent_get(c, v, 0) != NULL) {
        return;
    }
    e = js_ent_get(c, v, 1);
    e->loc = loc;
    e->base = base;
    /* Draft 7: $ref makes every sibling, $id included, be ignored. */
    if (d7 && smt_obj_get(v, "$ref", 4) != NULL) {
        return;
    }
    id = smt_obj_get(v, "$id", 3);
    if (id != NULL && id->type == SMT_STRING) {
        const char *ids = js_strz(c->a, id->u.s), *frag, *doc;

        if (d7 && ids[0] == '#') {
            js_res_add(&c->anchors, &c->nanchors, &c->capanchors,
                       smt_arena_printf(c->a, "%s%s", base, ids).ptr, v);
        } else {
            doc = js_uri_split(c->a, js_uri_resolve(c->a, base, ids), &frag);
            base = doc;
            js_res_add(&c->res, &c->nres, &c->capres, doc, v);
            if (d7 && frag[0] != '\0') {
                js_res_add(&c->anchors, &c->nanchors, &c->capanchors,
                           smt_arena_printf(c->a, "%s#%s", doc, frag).ptr,
                           v);
            }
        }
        e->base = base;
    }
    if (!d7) {
        static const char *const akeys[] = {"$anchor", "$dynamicAnchor"};

        for (i = 0; i < 2; i++) {
            x = smt_obj_get(v, akeys[i], strlen(akeys[i]));
            if (x != NULL && x->type == SMT_STRING) {
                js_res_add(&c->anchors, &c->nanchors, &c->capanchors,
                           smt_arena_printf(c->a, "%s#%.*s", base,
                                            (int)x->u.s.len, x->u.s.ptr)
                               .ptr,
                           v);
            }
        }
    }
    for (i = 0; i < v->n; i++) {
        struct smt_bytes      k = v->u.members[i].key;
        const struct smt_val *s = v->u.members[i].val;
        const char           *kl = js_loc_add(c->a, loc, k.ptr, k.len);

        if (js_key(k, "properties") || js_key(k, "patternProperties") ||
            js_key(k, "$defs") || js_key(k, "definitions") ||
            js_key(k, "dependentSchemas") || js_key(k, "dependencies")) {
            js_scan_map(c, s, base, kl);
        } else if (js_key(k, "allOf") || js_key(k, "anyOf") ||
                   js_key(k, "oneOf") || js_key(k, "prefixItems") ||
                   (js_key(k, "items") && s->type == SMT_ARRAY)) {
            js_scan_arr(c, s, base, kl);
        } else if (js_key(k, "not") || js_key(k, "if") ||
                   js_key(k, "then") || js_key(k, "else") ||
                   js_key(k, "items") || js_key(k, "additionalItems") ||
                   js_key(k, "contains") ||
                   js_key(k, "additionalProperties") ||
                   js_key(k, "propertyNames") ||
                   js_key(k, "unevaluatedItems") ||
                   js_key(k, "unevaluatedProperties")) {
            js_scan(c, s, base, kl);
        }
    }
}

/* ---------------------------------------------------------------------- */
/* Pass 2: compile                                                          */

static struct js_node *js_compile(struct js_comp *c, const struct smt_val *v,
                                  const char *base, const char *loc);

static int js_bad(struct js_comp *c, const char *loc, struct smt_bytes k,
                  const char *what)
{
    return smt_err_set(c->err, SMT_E_CONFIG, "schema %s: '%.*s' %s", loc,
                       (int)k.len, k.ptr, what);
}

/* Compiles the subschema s found under keyword path loc of parent e. */
static struct js_node *js_sub(struct js_comp *c, const struct js_ent *e,
                              const struct smt_val *s, const char *loc)
{
    return js_compile(c, s, e->base, loc);
}

#define JS_NUMX(n) ((n)->isint ? (long double)(n)->i : (long double)(n)->d)

static int js_num_get(struct js_comp *c, const struct smt_val *s,
                      struct js_num **out)
{
    struct js_num *n;

    if (!smt_type_is_num(s->type)) {
        return -1;
    }
    n = smt_arena_calloc(c->a, sizeof(*n));
    n->isint = smt_type_is_int(s->type);
    n->i = n->isint ? s->u.i : 0;
    n->d = n->isint ? 0 : s->u.d;
    n->txt = s->raw;
    n->len = s->rawlen;
    *out = n;
    return 0;
}

/* A non-negative integer keyword (1.0 counts as an integer). */
static int js_count_get(const struct smt_val *s, int64_t *out)
{
    if (smt_type_is_int(s->type) && s->u.i >= 0) {
        *out = s->u.i;
        return 0;
    }
    if (s->type == SMT_FLOAT64 && s->u.d >= 0 && s->u.d == floor(s->u.d)) {
        *out = s->u.d > 9e18 ? INT64_MAX : (int64_t)s->u.d;
        return 0;
    }
    return -1;
}

static int js_type_bit(struct smt_bytes t)
{
    static const char *const names[] = {"null",   "boolean", "integer",
                                        "number", "string",  "array",
                                        "object", NULL};
    static const int bits[] = {JT_NULL, JT_BOOL, JT_INT,
                               JT_NUM | JT_INT, JT_STR, JT_ARR, JT_OBJ};
    int i;

    for (i = 0; names[i] != NULL; i++) {
        if (smt_bytes_eqs(t, names[i])) {
            return bits[i];
        }
    }
    return 0;
}

/* ECMA-262 Unicode property names PCRE2 (10.42) does not know, mapped to
 * the General_Category short names it does. */
static const char *const js_gc_names[][2] = {
    {"Letter", "L"},
    {"Cased_Letter", "L&"},
    {"Uppercase_Letter", "Lu"},
    {"Lowercase_Letter", "Ll"},
    {"Titlecase_Letter", "Lt"},
    {"Modifier_Letter", "Lm"},
    {"Other_Letter", "Lo"},
    {"Mark", "M"},
    {"Combining_Mark", "M"},
    {"Nonspacing_Mark", "Mn"},
    {"Spacing_Mark", "Mc"},
    {"Enclosing_Mark", "Me"},
    {"Number", "N"},
    {"Decimal_Number", "Nd"},
    {"digit", "Nd"},
    {"Letter_Number", "Nl"},
    {"Other_Number", "No"},
    {"Punctuation", "P"},
    {"punct", "P"},
    {"Connector_Punctuation", "Pc"},
    {"Dash_Punctuation", "Pd"},
    {"Open_Punctuation", "Ps"},
    {"Close_Punctuation", "Pe"},
    {"Initial_Punctuation", "Pi"},
    {"Final_Punctuation", "Pf"},
    {"Other_Punctuation", "Po"},
    {"Symbol", "S"},
    {"Math_Symbol", "Sm"},
    {"Currency_Symbol", "Sc"},
    {"Modifier_Symbol", "Sk"},
    {"Other_Symbol", "So"},
    {"Separator", "Z"},
    {"Space_Separator", "Zs"},
    {"Line_Separator", "Zl"},
    {"Paragraph_Separator", "Zp"},
    {"Other", "C"},
    {"Control", "Cc"},
    {"cntrl", "Cc"},
    {"Format", "Cf"},
    {"Surrogate", "Cs"},
    {"Private_Use", "Co"},
    {"Unassigned", "Cn"},
    {NULL, NULL},
};

/* ECMA-262 white space and line terminators (what \s matches there). */
#define JS_ECMA_SPACE                                                         \
    "\\t\\n\\v\\f\\r \\x{a0}\\x{1680}\\x{2000}-\\x{200a}\\x{2028}\\x{2029}"   \
    "\\x{202f}\\x{205f}\\x{3000}\\x{feff}"

/* Rewrites the ECMA-262 constructs PCRE2 reads differently: `$` outside a
 * class is the end of the input (\z), \s and \S outside a class are
 * ECMA's Unicode white space, \p{Long_Name} / \p{gc=X} / \p{sc=X} become
 * PCRE2's names. Returns a new NUL-terminated string (free()). */
static char *js_ecma_to_pcre(struct smt_bytes pat)
{
    struct smt_buf b;
    size_t         i;
    int            cls = 0;

    smt_buf_init(&b);
    for (i = 0; i < pat.len; i++) {
        char ch = pat.ptr[i];

        if (ch == '\\' && i + 1 < pat.len) {
            char e = pat.ptr[i + 1];

            if ((e == 'p' || e == 'P') && i + 2 < pat.len &&
                pat.ptr[i + 2] == '{') {
                const char *st = pat.ptr + i + 3;
                const char *end = memchr(st, '}', pat.len - (i + 3));
                const char *eq;
                size_t      nl, k;

                if (end != NULL) {
                    eq = memchr(st, '=', (size_t)(end - st));
                    if (eq != NULL) {
                        st = eq + 1;
                    }
                    nl = (size_t)(end - st);
                    smt_buf_addc(&b, '\\');
                    smt_buf_addc(&b, e);
                    smt_buf_addc(&b, '{');
                    for (k = 0; js_gc_names[k][0] != NULL; k++) {
                        if (strlen(js_gc_names[k][0]) == nl &&
                            memcmp(js_gc_names[k][0], st, nl) == 0) {
                            break;
                        }
                    }
                    if (js_gc_names[k][0] != NULL) {
                        smt_buf_adds(&b, js_gc_names[k][1]);
                    } else {
                        smt_buf_add(&b, st, nl);
                    }
                    smt_buf_addc(&b, '}');
                    i = (size_t)(end - pat.ptr);
                    continue;
                }
            }
            if (e == 's' && !cls) {
                smt_buf_adds(&b, "[" JS_ECMA_SPACE "]");
            } else if (e == 's') {
                smt_buf_adds(&b, JS_ECMA_SPACE);
            } else if (e == 'S' && !cls) {
                smt_buf_adds(&b, "[^" JS_ECMA_SPACE "]");
            } else {
                smt_buf_addc(&b, ch);
                smt_buf_addc(&b, e);
            }
            i++;
            continue;
        }
        if (ch == '[' && !cls) {
            cls = 1;
            smt_buf_addc(&b, ch);
            continue;
        }
        if (ch == ']' && cls) {
            cls = 0;
        } else if (ch == '$' && !cls) {
            smt_buf_adds(&b, "\\z");
            continue;
        }
        smt_buf_addc(&b, ch);
    }
    smt_buf_addc(&b, '\0');
    return b.ptr;
}

static struct smt_regex *js_regex(struct js_comp *c, struct smt_bytes pat)
{
    struct smt_jsonschema *js = c->js;
    struct smt_regex      *re;
    char                  *z = js_ecma_to_pcre(pat);

    re = smt_regex_new(z, c->err);
    free(z);
    if (re == NULL) {
        return NULL;
    }
    if (js->nregexes == js->capregexes) {
        js->capregexes = js->capregexes ? js->capregexes * 2 : 8;
        js->regexes =
            smt_xrealloc(js->regexes, js->capregexes * sizeof(*js->regexes));
    }
    js->regexes[js->nregexes++] = re;
    return re;
}

static int js_prop_cmp(const void *x, const void *y)
{
    const struct js_prop *a = x, *b = y;

    if (a->name.len != b->name.len) {
        return a->name.len < b->name.len ? -1 : 1;
    }
    return memcmp(a->name.ptr, b->name.ptr, a->name.len);
}

/* A list of subschemas (allOf, anyOf, oneOf, prefixItems, items[]). */
static int js_list(struct js_comp *c, const struct js_ent *e,
                   const struct smt_val *s, const char *kl,
                   struct js_node ***out, uint32_t *n, int nonempty)
{
    uint32_t i;

    if (s->type != SMT_ARRAY || (nonempty && s->n == 0)) {
        return -1;
    }
    *out = smt_arena_alloc(c->a, (s->n ? s->n : 1) * sizeof(**out));
    *n = s->n;
    for (i = 0; i < s->n; i++) {
        (*out)[i] = js_sub(c, e, s->u.items[i], js_loc_idx(c->a, kl, i));
        if ((*out)[i] == NULL) {
            return -2;
        }
    }
    return 0;
}

static int js_strings(struct js_comp *c, const struct smt_val *s,
                      struct smt_bytes **out, uint32_t *n)
{
    uint32_t i;

    if (s->type != SMT_ARRAY) {
        return -1;
    }
    *out = smt_arena_alloc(c->a, (s->n ? s->n : 1) * sizeof(**out));
    *n = s->n;
    for (i = 0; i < s->n; i++) {
        if (s->u.items[i]->type != SMT_STRING) {
            return -1;
        }
        (*out)[i] = s->u.items[i]->u.s;
    }
    return 0;
}

/* Compiles one keyword k = s of schema e into n. Returns 0 or -1. */
static int js_keyword(struct js_comp *c, const struct js_ent *e,
                      struct js_node *n, struct smt_bytes k,
                      const struct smt_val *s, const struct smt_val *obj)
{
    int         d7 = c->js->draft == SMT_JS_DRAFT7;
    const char *kl = js_loc_add(c->a, e->loc, k.ptr, k.len);
    uint32_t    i;
    int         rc;

    if (js_key(k, "type")) {
        if (s->type == SMT_STRING) {
            n->types = (uint8_t)js_type_bit(s->u.s);
        } else if (s->type == SMT_ARRAY) {
            for (i = 0; i < s->n; i++) {
                if (s->u.items[i]->type != SMT_STRING ||
                    js_type_bit(s->u.items[i]->u.s) == 0) {
                    return js_bad(c, e->loc, k, "must name JSON types");
                }
                n->types |= (uint8_t)js_type_bit(s->u.items[i]->u.s);
            }
            if (s->n == 0) {
                return js_bad(c, e->loc, k, "must not be empty");
            }
        }
        if (n->types == 0) {
            return js_bad(c, e->loc, k, "must name JSON types");
        }
    } else if (js_key(k, "const")) {
        n->cnst = s;
    } else if (js_key(k, "enum")) {
        if (s->type != SMT_ARRAY) {
            return js_bad(c, e->loc, k, "must be an array");
        }
        n->enm = s;
    } else if (js_key(k, "minimum") || js_key(k, "maximum") ||
               js_key(k, "multipleOf") ||
               ((js_key(k, "exclusiveMinimum") ||
                 js_key(k, "exclusiveMaximum")))) {
        struct js_num **slot = js_key(k, "minimum")   ? &n->min
                               : js_key(k, "maximum") ? &n->max
                               : js_key(k, "multipleOf")
                                   ? &n->mult
                               : js_key(k, "exclusiveMinimum") ? &n->xmin
                                                               : &n->xmax;

        if (js_num_get(c, s, slot) < 0 ||
            (slot == &n->mult && JS_NUMX(*slot) <= 0)) {
            return js_bad(c, e->loc, k,
                          slot == &n->mult ? "must be a number above 0"
                                           : "must be a number");
        }
    } else if (js_key(k, "minLength") || js_key(k, "maxLength") ||
               js_key(k, "minItems") || js_key(k, "maxItems") ||
               js_key(k, "minProperties") || js_key(k, "maxProperties") ||
               (!d7 && (js_key(k, "minContains") ||
                        js_key(k, "maxContains")))) {
        int64_t *slot = js_key(k, "minLength")       ? &n->minlen
                        : js_key(k, "maxLength")     ? &n->maxlen
                        : js_key(k, "minItems")      ? &n->minitems
                        : js_key(k, "maxItems")      ? &n->maxitems
                        : js_key(k, "minProperties") ? &n->minprops
                        : js_key(k, "maxProperties") ? &n->maxprops
                        : js_key(k, "minContains")   ? &n->mincont
                                                     : &n->maxcont;

        if (js_count_get(s, slot) < 0) {
            return js_bad(c, e->loc, k, "must be a non-negative integer");
        }
    } else if (js_key(k, "pattern")) {
        if (s->type != SMT_STRING) {
            return js_bad(c, e->loc, k, "must be a string");
        }
        n->pattern = js_regex(c, s->u.s);
        n->pattern_src = js_strz(c->a, s->u.s);
        if (n->pattern == NULL) {
            return smt_err_prefix(c->err, "schema %s: ", kl);
        }
    } else if (js_key(k, "format")) {
        if (s->type != SMT_STRING) {
            return js_bad(c, e->loc, k, "must be a string");
        }
        for (i = 1; c->js->formats && js_format_names[i] != NULL; i++) {
            if (smt_bytes_eqs(s->u.s, js_format_names[i])) {
                n->format = (uint8_t)i;
            }
        }
    } else if (js_key(k, "uniqueItems")) {
        if (s->type != SMT_BOOL) {
            return js_bad(c, e->loc, k, "must be a boolean");
        }
        n->unique = (uint8_t)s->u.b;
    } else if (js_key(k, "required")) {
        if (js_strings(c, s, &n->req, &n->nreq) < 0) {
            return js_bad(c, e->loc, k, "must be an array of strings");
        }
    } else if (js_key(k, "allOf") || js_key(k, "anyOf") ||
               js_key(k, "oneOf") || (!d7 && js_key(k, "prefixItems")) ||
               (d7 && js_key(k, "items") && s->type == SMT_ARRAY)) {
        struct js_node ***lst = js_key(k, "allOf")   ? &n->allof
                                : js_key(k, "anyOf") ? &n->anyof
                                : js_key(k, "oneOf") ? &n->oneof
                                                     : &n->prefix;
        uint32_t *cnt = js_key(k, "allOf")   ? &n->nallof
                        : js_key(k, "anyOf") ? &n->nanyof
                        : js_key(k, "oneOf") ? &n->noneof
                                             : &n->nprefix;

        rc = js_list(c, e, s, kl, lst, cnt, lst != &n->prefix);
        if (rc == -1) {
            return js_bad(c, e->loc, k, "must be a non-empty array of schemas");
        }
        if (rc < 0) {
            return -1;
        }
    } else if (js_key(k, "items")) {
        struct js_node *sub = js_sub(c, e, s, kl);

        if (sub == NULL) {
            return -1;
        }
        if (n->items == NULL || !d7) {
            n->items = sub;
            n->items_kw = "items";
        }
    } else if (d7 && js_key(k, "additionalItems")) {
        const struct smt_val *it = smt_obj_get(obj, "items", 5);

        /* Only meaningful after an items array. */
        if (it != NULL && it->type == SMT_ARRAY) {
            n->items = js_sub(c, e, s, kl);
            n->items_kw = "additionalItems";
            if (n->items == NULL) {
                return -1;
            }
        }
    } else if (js_key(k, "properties") || js_key(k, "patternProperties") ||
               js_key(k, "dependentSchemas") ||
               js_key(k, "dependentRequired") || js_key(k, "dependencies")) {
        if (s->type != SMT_OBJECT) {
            return js_bad(c, e->loc, k, "must be an object");
        }
        if (js_key(k, "properties")) {
            n->props = smt_arena_alloc(c->a, (s->n + 1) * sizeof(*n->props));
            for (i = 0; i < s->n; i++) {
                n->props[i].name = s->u.members[i].key;
                n->props[i].node =
                    js_sub(c, e, s->u.members[i].val,
                           js_loc_add(c->a, kl, s->u.members[i].key.ptr,
                                      s->u.members[i].key.len));
                if (n->props[i].node == NULL) {
                    return -1;
                }
            }
            n->nprops = s->n;
            qsort(n->props, n->nprops, sizeof(*n->props), js_prop_cmp);
        } else if (js_key(k, "patternProperties")) {
            n->pprops = smt_arena_alloc(c->a, (s->n + 1) * sizeof(*n->pprops));
            for (i = 0; i < s->n; i++) {
                const char *pl = js_loc_add(c->a, kl, s->u.members[i].key.ptr,
                                            s->u.members[i].key.len);

                n->pprops[i].re = js_regex(c, s->u.members[i].key);
                if (n->pprops[i].re == NULL) {
                    return smt_err_prefix(c->err, "schema %s: ", pl);
                }
                n->pprops[i].node = js_sub(c, e, s->u.members[i].val, pl);
                if (n->pprops[i].node == NULL) {
                    return -1;
                }
            }
            n->npprops = s->n;
        } else {
            struct js_dep *deps = smt_arena_grow(c->a, n->deps, n->ndeps,
                                                 n->ndeps + s->n,
                                                 sizeof(*deps));
            for (i = 0; i < s->n; i++) {
                struct js_dep        *d = &deps[n->ndeps + i];
                const struct smt_val *dv = s->u.members[i].val;

                memset(d, 0, sizeof(*d));
                d->kw = js_key(k, "dependencies")        ? "dependencies"
                        : js_key(k, "dependentRequired") ? "dependentRequired"
                                                         : "dependentSchemas";
                d->name = s->u.members[i].key;
                if (dv->type == SMT_ARRAY && !js_key(k, "dependentSchemas")) {
                    if (js_strings(c, dv, &d->req, &d->nreq) < 0) {
                        return js_bad(c, e->loc, k,
                                      "must map names to arrays of strings");
                    }
                } else if (js_key(k, "dependentRequired")) {
                    return js_bad(c, e->loc, k,
                                  "must map names to arrays of strings");
                } else {
                    d->node = js_sub(c, e, dv,
                                     js_loc_add(c->a, kl, d->name.ptr,
                                                d->name.len));
                    if (d->node == NULL) {
                        return -1;
                    }
                }
            }
            n->deps = deps;
            n->ndeps += s->n;
        }
    } else if (js_key(k, "additionalProperties") ||
               js_key(k, "propertyNames") || js_key(k, "contains") ||
               js_key(k, "not") || js_key(k, "if") || js_key(k, "then") ||
               js_key(k, "else")) {
        struct js_node *sub = js_sub(c, e, s, kl);

        if (sub == NULL) {
            return -1;
        }
        if (js_key(k, "additionalProperties")) {
            n->addl = sub;
        } else if (js_key(k, "propertyNames")) {
            n->pnames = sub;
        } else if (js_key(k, "contains")) {
            n->contains = sub;
        } else if (js_key(k, "not")) {
            n->not_ = sub;
        } else if (js_key(k, "if")) {
            n->if_ = sub;
        } else if (js_key(k, "then")) {
            n->then_ = sub;
        } else {
            n->else_ = sub;
        }
    } else if (!d7 && (js_key(k, "$dynamicRef") || js_key(k, "$recursiveRef") ||
                       js_key(k, "unevaluatedItems") ||
                       js_key(k, "unevaluatedProperties"))) {
        return js_bad(c, e->loc, k, "is not supported");
    }
    /* Any other keyword is an annotation or unknown: ignored, as the
     * specification asks. */
    return 0;
}

static struct js_node *js_compile(struct js_comp *c, const struct smt_val *v,
                                  const char *base, const char *loc)
{
    struct js_ent        *e = js_ent_get(c, v, 0);
    struct js_node       *n;
    const struct smt_val *ref;
    uint32_t              i;

    if (e == NULL) {
        e = js_ent_get(c, v, 1);
        e->base = base;
        e->loc = loc;
    }
    if (e->node != NULL) {
        return e->node;
    }
    n = smt_arena_calloc(c->a, sizeof(*n));
    e->node = n;
    n->loc = e->loc;
    n->minlen = n->maxlen = n->minitems = n->maxitems = -1;
    n->minprops = n->maxprops = n->maxcont = -1;
    n->mincont = 1;
    if (v->type == SMT_BOOL) {
        n->fixed = v->u.b ? JS_FIXED_ANY : JS_FIXED_NONE;
        return n;
    }
    if (v->type != SMT_OBJECT) {
        smt_err_set(c->err, SMT_E_CONFIG,
                    "schema %s: a schema must be an object or a boolean",
                    e->loc);
        return NULL;
    }
    ref = smt_obj_get(v, "$ref", 4);
    if (ref != NULL) {
        if (ref->type != SMT_STRING) {
            js_bad(c, e->loc, SMT_BYTES_LIT("$ref"), "must be a string");
            return NULL;
        }
        n->refuri = js_uri_resolve(c->a, e->base, js_strz(c->a, ref->u.s));
        if (c->npending == c->cappending) {
            c->cappending = c->cappending ? c->cappending * 2 : 16;
            c->pending =
                smt_xrealloc(c->pending, c->cappending * sizeof(*c->pending));
        }
        c->pending[c->npending++] = n;
        if (c->js->draft == SMT_JS_DRAFT7) {
            return n;
        }
    }
    for (i = 0; i < v->n; i++) {
        if (js_keyword(c, e, n, v->u.members[i].key, v->u.members[i].val, v) <
            0) {
            return NULL;
        }
    }
    if (v->n == 0) {
        n->fixed = JS_FIXED_ANY;
    }
    return n;
}

/* ---------------------------------------------------------------------- */
/* Pass 3: resolve $ref                                                     */

/* Percent-decodes s into the arena. */
static const char *js_pct_decode(struct smt_arena *a, const char *s)
{
    size_t len = strlen(s), i, o = 0;
    char  *out = smt_arena_alloc(a, len + 1);

    for (i = 0; i < len; i++) {
        if (s[i] == '%' && i + 2 < len + 1 && isxdigit((unsigned char)s[i + 1]) &&
            isxdigit((unsigned char)s[i + 2])) {
            char h[3] = {s[i + 1], s[i + 2], 0};

            out[o++] = (char)strtol(h, NULL, 16);
            i += 2;
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = '\0';
    return out;
}

/* Follows JSON pointer p (decoded) from v; NULL when it leads nowhere. */
static const struct smt_val *js_pointer(struct smt_arena *a,
                                        const struct smt_val *v, const char *p)
{
    while (v != NULL && *p == '/') {
        const char *end = strchr(p + 1, '/');
        size_t      len = end ? (size_t)(end - p - 1) : strlen(p + 1);
        char       *tok = smt_arena_alloc(a, len + 1);
        size_t      i, o = 0;

        for (i = 0; i < len; i++) {
            if (p[1 + i] == '~' && i + 1 < len && p[2 + i] == '0') {
                tok[o++] = '~', i++;
            } else if (p[1 + i] == '~' && i + 1 < len && p[2 + i] == '1') {
                tok[o++] = '/', i++;
            } else {
                tok[o++] = p[1 + i];
            }
        }
        tok[o] = '\0';
        if (v->type == SMT_OBJECT) {
            v = smt_obj_get(v, tok, o);
        } else if (v->type == SMT_ARRAY) {
            char         *endp;
            unsigned long ix = strtoul(tok, &endp, 10);

            v = (o > 0 && *endp == '\0' && ix < v->n) ? v->u.items[ix] : NULL;
        } else {
            v = NULL;
        }
        p += 1 + len;
    }
    return *p == '\0' ? v : NULL;
}

static int js_resolve(struct js_comp *c, struct js_node *n)
{
    const char           *frag, *doc, *dfrag;
    const struct smt_val *root, *t;
    struct js_ent        *te;
    const char           *tbase;

    doc = js_uri_split(c->a, n->refuri, &frag);
    root = js_res_find(c->res, c->nres, doc);
    if (root == NULL) {
        return smt_err_set(c->err, SMT_E_CONFIG,
                           "schema %s: $ref '%s' does not resolve within the "
                           "document (remote references are not supported)",
                           n->loc, n->refuri);
    }
    dfrag = js_pct_decode(c->a, frag);
    if (dfrag[0] == '\0') {
        t = root;
    } else if (dfrag[0] == '/') {
        t = js_pointer(c->a, root, dfrag);
    } else {
        t = js_res_find(c->anchors, c->nanchors,
                        smt_arena_printf(c->a, "%s#%s", doc, frag).ptr);
    }
    if (t == NULL) {
        return smt_err_set(c->err, SMT_E_CONFIG,
                           "schema %s: $ref '%s' points to nothing", n->loc,
                           n->refuri);
    }
    te = js_ent_get(c, t, 0);
    tbase = te != NULL ? te->base : doc;
    n->ref = js_compile(c, t, tbase, smt_arena_printf(c->a, "#%s", dfrag).ptr);
    return n->ref == NULL ? -1 : 0;
}

/* ---------------------------------------------------------------------- */
/* Construction                                                             */

/* The draft named by a $schema URI, or 0. */
static int js_draft_of(struct smt_bytes s)
{
    if (s.ptr != NULL && s.len >= 14 &&
        memmem(s.ptr, s.len, "json-schema.org", 15) != NULL) {
        if (memmem(s.ptr, s.len, "/draft-07/", 10) != NULL) {
            return SMT_JS_DRAFT7;
        }
        if (memmem(s.ptr, s.len, "/draft/2020-12/", 15) != NULL) {
            return SMT_JS_DRAFT2020;
        }
    }
    return 0;
}

struct smt_jsonschema *smt_jsonschema_new(const char *text, size_t len,
                                          int draft, int formats,
                                          struct smt_err *err)
{
    struct smt_jsonschema *js = smt_xcalloc(1, sizeof(*js));
    struct js_comp         c;
    const struct smt_val  *doc, *sv;
    const char            *base = "smt:///schema.json";
    char                  *copy;
    uint32_t               i;

    memset(&c, 0, sizeof(c));
    smt_arena_init(&js->arena, 16384);
    c.js = js;
    c.a = &js->arena;
    c.err = err;
    js->formats = formats;
    copy = smt_arena_memdup(&js->arena, text, len);
    doc = smt_json_parse(&js->arena, copy, len, err);
    if (doc == NULL) {
        err->code = SMT_E_CONFIG;
        smt_err_prefix(err, "schema: ");
        goto fail;
    }
    js->draft = draft;
    if (draft == SMT_JS_DRAFT_AUTO) {
        js->draft = SMT_JS_DRAFT2020;
        sv = doc->type == SMT_OBJECT ? smt_obj_get(doc, "$schema", 7) : NULL;
        if (sv != NULL) {
            js->draft = sv->type == SMT_STRING ? js_draft_of(sv->u.s) : 0;
            if (js->draft == 0) {
                smt_err_set(err, SMT_E_CONFIG,
                            "schema: unsupported $schema (drafts 2020-12 and "
                            "07 are supported; `draft` forces one)");
                goto fail;
            }
        }
    } else if (draft != SMT_JS_DRAFT7 && draft != SMT_JS_DRAFT2020) {
        smt_err_set(err, SMT_E_CONFIG, "schema: unknown draft %d", draft);
        goto fail;
    }
    /* The document is a resource under its own $id and under the default
     * base, so "#/..." references work either way. */
    js_res_add(&c.res, &c.nres, &c.capres, base, doc);
    js_scan(&c, doc, base, "#");
    js->root = js_compile(&c, doc, base, "#");
    for (i = 0; js->root != NULL && i < c.npending; i++) {
        if (js_resolve(&c, c.pending[i]) < 0) {
            js->root = NULL;
        }
    }
    if (js->root == NULL) {
        goto fail;
    }
    free(c.ents);
    free(c.res);
    free(c.anchors);
    free(c.pending);
    return js;
fail:
    if (err->code == SMT_E_NONE) {
        err->code = SMT_E_CONFIG;
    }
    free(c.ents);
    free(c.res);
    free(c.anchors);
    free(c.pending);
    smt_jsonschema_free(js);
    return NULL;
}

void smt_jsonschema_free(struct smt_jsonschema *js)
{
    uint32_t i;

    if (js == NULL) {
        return;
    }
    for (i = 0; i < js->nregexes; i++) {
        smt_regex_free(js->regexes[i]);
    }
    free(js->regexes);
    smt_arena_fini(&js->arena);
    free(js);
}

int smt_jsonschema_draft(const struct smt_jsonschema *js)
{
    return js->draft;
}

/* ---------------------------------------------------------------------- */
/* Validation                                                               */

/* One step of the instance location: a member key or an array index. */
struct js_loc {
    const struct js_loc *up;
    const char          *key; /* NULL: index */
    size_t               klen;
    uint32_t             idx;
};

struct js_ctx {
    const struct smt_jsonschema *js;
    struct smt_err              *err;
    struct smt_arena            *a;
    int                          report; /* format the failure */
    int                          limit;  /* JS_MAX_DEPTH was hit */
    unsigned                     depth;
};

static void js_put_loc(struct smt_buf *b, const struct js_loc *at)
{
    size_t i;

    if (at == NULL) {
        return;
    }
    js_put_loc(b, at->up);
    smt_buf_addc(b, '/');
    if (at->key == NULL) {
        smt_buf_printf(b, "%u", at->idx);
        return;
    }
    for (i = 0; i < at->klen; i++) {
        if (at->key[i] == '~') {
            smt_buf_adds(b, "~0");
        } else if (at->key[i] == '/') {
            smt_buf_adds(b, "~1");
        } else {
            smt_buf_addc(b, at->key[i]);
        }
    }
}

static void js_fail(struct js_ctx *c, const struct js_node *n,
                    const struct js_loc *at, const char *kw, const char *fmt,
                    ...) SMT_PRINTF(5, 6);

static void js_fail(struct js_ctx *c, const struct js_node *n,
                    const struct js_loc *at, const char *kw, const char *fmt,
                    ...)
{
    struct smt_buf b;
    va_list        ap;
    char           what[160];

    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    smt_buf_init(&b);
    js_put_loc(&b, at);
    smt_err_set(c->err, SMT_E_DATA,
                "schema validation failed at %s: %s: %s (schema %s%s%s)",
                b.len ? b.ptr : "(root)", kw, what, n->loc,
                kw[0] != '\0' ? "/" : "", kw);
    smt_buf_fini(&b);
}

#define JS_FAIL(kw, ...)                                                      \
    do {                                                                      \
        if (c->report) {                                                      \
            js_fail(c, n, at, kw, __VA_ARGS__);                               \
        }                                                                     \
        return 0;                                                             \
    } while (0)

static int js_kind(const struct smt_val *v)
{
    switch (v->type) {
    case SMT_NULL:
        return JT_NULL;
    case SMT_BOOL:
        return JT_BOOL;
    case SMT_INT8:
    case SMT_INT16:
    case SMT_INT32:
    case SMT_INT64:
    case SMT_DATE:
        return JT_INT;
    case SMT_FLOAT32:
    case SMT_FLOAT64:
        return isfinite(v->u.d) && v->u.d == floor(v->u.d) ? JT_INT : JT_NUM;
    case SMT_DECIMAL: {
        char   buf[64];
        size_t l = v->u.s.len < 63 ? v->u.s.len : 63;

        memcpy(buf, v->u.s.ptr, l);
        buf[l] = '\0';
        return strtod(buf, NULL) == floor(strtod(buf, NULL)) ? JT_INT
                                                             : JT_NUM;
    }
    case SMT_STRING:
    case SMT_BYTES:
        return JT_STR;
    case SMT_ARRAY:
        return JT_ARR;
    default:
        return JT_OBJ;
    }
}

static const char *js_kind_name(int k)
{
    switch (k) {
    case JT_NULL:
        return "null";
    case JT_BOOL:
        return "boolean";
    case JT_INT:
        return "integer";
    case JT_NUM:
        return "number";
    case JT_STR:
        return "string";
    case JT_ARR:
        return "array";
    default:
        return "object";
    }
}

/* The value of a number instance. */
static long double js_numval(const struct smt_val *v)
{
    if (v->type == SMT_DECIMAL) {
        char   buf[64];
        size_t l = v->u.s.len < 63 ? v->u.s.len : 63;

        memcpy(buf, v->u.s.ptr, l);
        buf[l] = '\0';
        return strtold(buf, NULL);
    }
    if (v->type == SMT_FLOAT32 || v->type == SMT_FLOAT64) {
        return v->u.d;
    }
    return (long double)v->u.i;
}

/* The source text of a number (or a rendering of it) into buf. */
static const char *js_numtext(const struct smt_val *v, char *buf, size_t size,
                              size_t *len)
{
    if (v->type == SMT_DECIMAL) {
        *len = v->u.s.len;
        return v->u.s.ptr;
    }
    if (v->raw != NULL && v->rawlen < size) {
        *len = v->rawlen;
        return v->raw;
    }
    if (v->type == SMT_FLOAT32 || v->type == SMT_FLOAT64) {
        *len = (size_t)snprintf(buf, size, "%.17g", v->u.d);
    } else {
        *len = (size_t)snprintf(buf, size, "%" PRId64, v->u.i);
    }
    return buf;
}

/* A decimal number split into significant digits and a power of ten:
 * value = digits * 10^exp, digits without leading or trailing zeros. */
struct js_dec {
    char    dig[400];
    size_t  n;
    int64_t exp;
    int     ok;
};

static void js_dec_parse(const char *p, size_t len, struct js_dec *d)
{
    size_t  i = 0;
    int64_t frac = 0, e = 0;
    int     seen_dot = 0, esign = 1;

    d->n = 0;
    d->exp = 0;
    d->ok = 0;
    if (i < len && (p[i] == '-' || p[i] == '+')) {
        i++;
    }
    for (; i < len; i++) {
        if (p[i] >= '0' && p[i] <= '9') {
            if (d->n == 0 && p[i] == '0') {
                if (seen_dot) {
                    frac++;
                }
                continue;
            }
            if (d->n == sizeof(d->dig)) {
                return;
            }
            d->dig[d->n++] = p[i];
            if (seen_dot) {
                frac++;
            }
        } else if (p[i] == '.' && !seen_dot) {
            seen_dot = 1;
        } else {
            break;
        }
    }
    if (i < len && (p[i] == 'e' || p[i] == 'E')) {
        i++;
        if (i < len && (p[i] == '-' || p[i] == '+')) {
            esign = p[i] == '-' ? -1 : 1;
            i++;
        }
        for (; i < len && p[i] >= '0' && p[i] <= '9'; i++) {
            if (e < 100000) {
                e = e * 10 + (p[i] - '0');
            }
        }
    }
    if (i != len) {
        return;
    }
    d->exp = esign * e - frac;
    while (d->n > 0 && d->dig[d->n - 1] == '0') {
        d->n--;
        d->exp++;
    }
    d->ok = 1;
}

/* 1 when x is an integer multiple of m, 0 when not, -1 when the decimal
 * method does not apply (the caller falls back to floating point). */
static int js_multiple_dec(const char *xp, size_t xl, const char *mp, size_t ml)
{
    struct js_dec      x, m;
    uint64_t           b = 0;
    unsigned __int128  r = 0, p10, base;
    int64_t            k;
    size_t             i;

    js_dec_parse(xp, xl, &x);
    js_dec_parse(mp, ml, &m);
    if (!x.ok || !m.ok || m.n == 0 || m.n > 19) {
        return -1;
    }
    if (x.n == 0) {
        return 1;
    }
    for (i = 0; i < m.n; i++) {
        b = b * 10 + (uint64_t)(m.dig[i] - '0');
    }
    if (x.exp < m.exp) {
        /* x's digits would need 10^(m.exp - x.exp) as a factor, but they
         * end in a non-zero digit. */
        return 0;
    }
    k = x.exp - m.exp;
    if (k > 100000) {
        return -1;
    }
    if (b < UINT32_MAX) {
        /* the common case: 64-bit arithmetic is enough (r, base < b) */
        uint64_t r64 = 0, p64 = 1 % b, b64 = 10 % b;

        for (i = 0; i < x.n; i++) {
            r64 = (r64 * 10 + (unsigned)(x.dig[i] - '0')) % b;
        }
        while (k > 0) {
            if (k & 1) {
                p64 = (p64 * b64) % b;
            }
            b64 = (b64 * b64) % b;
            k >>= 1;
        }
        return (r64 * p64) % b == 0;
    }
    for (i = 0; i < x.n; i++) {
        r = (r * 10 + (unsigned)(x.dig[i] - '0')) % b;
    }
    /* r * 10^k mod b by square and multiply */
    p10 = 1 % b;
    base = 10 % b;
    while (k > 0) {
        if (k & 1) {
            p10 = (p10 * base) % b;
        }
        base = (base * base) % b;
        k >>= 1;
    }
    return (r * p10) % b == 0;
}

static int js_equal(const struct smt_val *a, const struct smt_val *b);

static int js_equal(const struct smt_val *a, const struct smt_val *b)
{
    int      ka = js_kind(a), kb = js_kind(b);
    uint32_t i;

    if ((ka & (JT_INT | JT_NUM)) && (kb & (JT_INT | JT_NUM))) {
        return js_numval(a) == js_numval(b);
    }
    if (ka != kb) {
        return 0;
    }
    switch (ka) {
    case JT_NULL:
        return 1;
    case JT_BOOL:
        return !a->u.b == !b->u.b;
    case JT_STR:
        return a->type == b->type && smt_bytes_eq(a->u.s, b->u.s);
    case JT_ARR:
        if (a->n != b->n) {
            return 0;
        }
        for (i = 0; i < a->n; i++) {
            if (!js_equal(a->u.items[i], b->u.items[i])) {
                return 0;
            }
        }
        return 1;
    default:
        if (a->n != b->n) {
            return 0;
        }
        for (i = 0; i < a->n; i++) {
            const struct smt_val *bv = smt_obj_get(
                b, a->u.members[i].key.ptr, a->u.members[i].key.len);

            if (bv == NULL || !js_equal(a->u.members[i].val, bv)) {
                return 0;
            }
        }
        return 1;
    }
}

/* Length in code points of UTF-8 text. */
static int64_t js_cplen(struct smt_bytes s)
{
    int64_t n = 0;
    size_t  i;

    for (i = 0; i < s.len; i++) {
        n += ((unsigned char)s.ptr[i] & 0xC0) != 0x80;
    }
    return n;
}

/* ---------------------------------------------------------------------- */
/* Formats                                                                  */

static int js_digits(const char *p, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9') {
            return 0;
        }
    }
    return 1;
}

static int js_num2(const char *p)
{
    return (p[0] - '0') * 10 + (p[1] - '0');
}

static int js_fmt_date(const char *p, size_t n)
{
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int              y, m, d, leap;

    if (n != 10 || p[4] != '-' || p[7] != '-' || !js_digits(p, 4) ||
        !js_digits(p + 5, 2) || !js_digits(p + 8, 2)) {
        return 0;
    }
    y = js_num2(p) * 100 + js_num2(p + 2);
    m = js_num2(p + 5);
    d = js_num2(p + 8);
    leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m >= 1 && m <= 12 && d >= 1 &&
           d <= mdays[m - 1] + (m == 2 && leap);
}

/* RFC 3339 full-time: HH:MM:SS[.frac](Z|+HH:MM|-HH:MM). */
static int js_fmt_time(const char *p, size_t n)
{
    int    h, mi, s, oh = 0, om = 0, sign = 0;
    size_t i = 8;

    if (n < 9 || p[2] != ':' || p[5] != ':' || !js_digits(p, 2) ||
        !js_digits(p + 3, 2) || !js_digits(p + 6, 2)) {
        return 0;
    }
    h = js_num2(p);
    mi = js_num2(p + 3);
    s = js_num2(p + 6);
    if (i < n && p[i] == '.') {
        size_t st = ++i;

        while (i < n && p[i] >= '0' && p[i] <= '9') {
            i++;
        }
        if (i == st) {
            return 0;
        }
    }
    if (i + 1 == n && (p[i] == 'Z' || p[i] == 'z')) {
        sign = 0;
    } else if (i + 6 == n && (p[i] == '+' || p[i] == '-') &&
               p[i + 3] == ':' && js_digits(p + i + 1, 2) &&
               js_digits(p + i + 4, 2)) {
        sign = p[i] == '+' ? 1 : -1;
        oh = js_num2(p + i + 1);
        om = js_num2(p + i + 4);
        if (oh > 23 || om > 59) {
            return 0;
        }
    } else {
        return 0;
    }
    if (h > 23 || mi > 59 || s > 60) {
        return 0;
    }
    if (s == 60) {
        /* A leap second is 23:59:60 UTC. */
        int utc = ((h * 60 + mi - sign * (oh * 60 + om)) % 1440 + 1440) % 1440;

        return utc == 23 * 60 + 59;
    }
    return 1;
}

static int js_fmt_date_time(const char *p, size_t n)
{
    return n > 11 && (p[10] == 'T' || p[10] == 't') && js_fmt_date(p, 10) &&
           js_fmt_time(p + 11, n - 11);
}

static int js_fmt_ipv4(const char *p, size_t n)
{
    size_t i = 0, st;
    int    part, v;

    for (part = 0; part < 4; part++) {
        if (part > 0) {
            if (i >= n || p[i] != '.') {
                return 0;
            }
            i++;
        }
        st = i;
        v = 0;
        while (i < n && p[i] >= '0' && p[i] <= '9' && i - st < 3) {
            v = v * 10 + (p[i] - '0');
            i++;
        }
        if (i == st || v > 255 || (i - st > 1 && p[st] == '0')) {
            return 0;
        }
    }
    return i == n;
}

static int js_hex(char ch)
{
    return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') ||
           (ch >= 'A' && ch <= 'F');
}

static int js_fmt_ipv6(const char *p, size_t n)
{
    int    groups = 0, gap = 0;
    size_t i = 0;

    if (n >= 2 && p[0] == ':' && p[1] == ':') {
        gap = 1;
        i = 2;
    } else if (n >= 1 && p[0] == ':') {
        return 0;
    }
    while (i < n) {
        size_t st = i;

        while (i < n && js_hex(p[i]) && i - st < 5) {
            i++;
        }
        if (i < n && p[i] == '.') {
            /* an embedded IPv4 address ends the text */
            if (!js_fmt_ipv4(p + st, n - st) || groups > 6) {
                return 0;
            }
            groups += 2;
            i = n;
            break;
        }
        if (i == st || i - st > 4) {
            return 0;
        }
        groups++;
        if (i == n) {
            break;
        }
        if (p[i] != ':') {
            return 0;
        }
        i++;
        if (i < n && p[i] == ':') {
            if (gap) {
                return 0;
            }
            gap = 1;
            i++;
        } else if (i == n) {
            return 0;
        }
    }
    return gap ? groups <= 7 : groups == 8;
}

static int js_fmt_uuid(const char *p, size_t n)
{
    size_t i;

    if (n != 36) {
        return 0;
    }
    for (i = 0; i < n; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (p[i] != '-') {
                return 0;
            }
        } else if (!js_hex(p[i])) {
            return 0;
        }
    }
    return 1;
}

/* RFC 1123 host name: dot-separated labels of letters, digits and
 * hyphens, 1-63 bytes each, not starting or ending with a hyphen, 253
 * bytes at most. */
static int js_fmt_hostname(const char *p, size_t n)
{
    size_t i, st = 0;

    if (n == 0 || n > 253) {
        return 0;
    }
    for (i = 0; i <= n; i++) {
        if (i == n || p[i] == '.') {
            size_t l = i - st;

            if (l == 0 || l > 63 || p[st] == '-' || p[i - 1] == '-') {
                return 0;
            }
            /* "xx--" is reserved for IDNA A-labels ("xn--"), which must
             * be valid Punycode: not checked, so only the prefix is let
             * through. */
            if (l >= 4 && p[st + 2] == '-' && p[st + 3] == '-' &&
                !((p[st] == 'x' || p[st] == 'X') &&
                  (p[st + 1] == 'n' || p[st + 1] == 'N'))) {
                return 0;
            }
            st = i + 1;
        } else if (!((p[i] >= 'a' && p[i] <= 'z') ||
                     (p[i] >= 'A' && p[i] <= 'Z') ||
                     (p[i] >= '0' && p[i] <= '9') || p[i] == '-')) {
            return 0;
        }
    }
    return 1;
}

/* RFC 5321 mailbox: dot-atom local part (or quoted string) @ host name or
 * address literal. */
static int js_fmt_email(const char *p, size_t n)
{
    const char *at = NULL;
    size_t      i, ll;

    for (i = n; i > 0; i--) {
        if (p[i - 1] == '@') {
            at = p + i - 1;
            break;
        }
    }
    if (at == NULL) {
        return 0;
    }
    ll = (size_t)(at - p);
    if (ll == 0) {
        return 0;
    }
    if (p[0] == '"') {
        if (ll < 2 || p[ll - 1] != '"') {
            return 0;
        }
    } else {
        if (p[0] == '.' || p[ll - 1] == '.') {
            return 0;
        }
        for (i = 0; i < ll; i++) {
            unsigned char ch = (unsigned char)p[i];

            if (ch == '.' && p[i + 1] == '.') {
                return 0;
            }
            if (!(isalnum(ch) || strchr("!#$%&'*+-/=?^_`{|}~.", ch) != NULL)) {
                return 0;
            }
        }
    }
    p = at + 1;
    n -= ll + 1;
    if (n >= 2 && p[0] == '[' && p[n - 1] == ']') {
        if (n > 7 && strncasecmp(p + 1, "IPv6:", 5) == 0) {
            return js_fmt_ipv6(p + 6, n - 7);
        }
        return js_fmt_ipv4(p + 1, n - 2);
    }
    return js_fmt_hostname(p, n);
}

static int js_uri_char(unsigned char ch)
{
    return ch != '\0' && (isalnum(ch) || strchr("-._~:/?#@!$&'()*+,;=%", ch) != NULL);
}

/* RFC 3986 URI (absolute, with a scheme): character set, percent
 * escapes, the authority's userinfo/host/port shape. */
static int js_fmt_uri(const char *p, size_t n)
{
    size_t i = 0, st;

    if (n == 0 || !isalpha((unsigned char)p[0])) {
        return 0;
    }
    while (i < n && (isalnum((unsigned char)p[i]) || p[i] == '+' ||
                     p[i] == '-' || p[i] == '.')) {
        i++;
    }
    if (i == n || p[i] != ':') {
        return 0;
    }
    i++;
    if (i + 1 < n && p[i] == '/' && p[i + 1] == '/') {
        size_t host, end;

        i += 2;
        st = i;
        while (i < n && p[i] != '/' && p[i] != '?' && p[i] != '#') {
            i++;
        }
        end = i;
        host = st;
        for (i = st; i < end; i++) {
            if (p[i] == '@') {
                host = i + 1;
            }
        }
        for (i = st; i < end; i++) {
            if (!js_uri_char((unsigned char)p[i]) && p[i] != '[' &&
                p[i] != ']') {
                return 0;
            }
        }
        for (i = st; i + 1 < host; i++) {
            if (p[i] == '[' || p[i] == ']' || p[i] == '@') {
                return 0;
            }
        }
        if (host < end && p[host] == '[') {
            const char *rb = memchr(p + host, ']', end - host);

            if (rb == NULL) {
                return 0;
            }
            if (!js_fmt_ipv6(p + host + 1, (size_t)(rb - p - host - 1))) {
                return 0;
            }
            i = (size_t)(rb - p) + 1;
        } else {
            for (i = host; i < end && p[i] != ':'; i++) {
                if (p[i] == '[' || p[i] == ']') {
                    return 0;
                }
            }
        }
        if (i < end) {
            if (p[i] != ':' || !js_digits(p + i + 1, end - i - 1)) {
                return 0;
            }
        }
        i = end;
    }
    for (; i < n; i++) {
        unsigned char ch = (unsigned char)p[i];

        if (ch == '%') {
            if (i + 2 >= n || !js_hex(p[i + 1]) || !js_hex(p[i + 2])) {
                return 0;
            }
            i += 2;
        } else if (!js_uri_char(ch)) {
            return 0;
        }
    }
    return 1;
}

static int js_fmt_json_pointer(const char *p, size_t n)
{
    size_t i;

    if (n > 0 && p[0] != '/') {
        return 0;
    }
    for (i = 0; i < n; i++) {
        if (p[i] == '~' && (i + 1 == n || (p[i + 1] != '0' && p[i + 1] != '1'))) {
            return 0;
        }
    }
    return 1;
}

static int js_fmt_rel_json_pointer(const char *p, size_t n)
{
    size_t i = 0;

    while (i < n && p[i] >= '0' && p[i] <= '9') {
        i++;
    }
    if (i == 0 || (i > 1 && p[0] == '0')) {
        return 0;
    }
    if (i < n && (p[i] == '+' || p[i] == '-')) {
        size_t st = ++i;

        while (i < n && p[i] >= '0' && p[i] <= '9') {
            i++;
        }
        if (i == st || (i - st > 1 && p[st] == '0') ||
            (i - st == 1 && p[st] == '0')) {
            return 0;
        }
    }
    if (i < n && p[i] == '#' && i + 1 == n) {
        return 1;
    }
    return js_fmt_json_pointer(p + i, n - i);
}

/* ISO 8601 duration as RFC 3339 appendix A: P[nY][nM][nD][T[nH][nM][nS]]
 * or PnW; at least one element, T followed by at least one. */
static int js_fmt_duration(const char *p, size_t n)
{
    static const char date_units[] = "YMD", time_units[] = "HMS";
    size_t            i = 1;
    int               any = 0, unit = 0, in_time = 0, any_time = 0;

    if (n < 3 || p[0] != 'P') {
        return 0;
    }
    if (p[n - 1] == 'W') {
        return js_digits(p + 1, n - 2);
    }
    while (i < n) {
        size_t st = i;

        if (p[i] == 'T') {
            if (in_time) {
                return 0;
            }
            in_time = 1;
            unit = 0;
            i++;
            continue;
        }
        while (i < n && p[i] >= '0' && p[i] <= '9') {
            i++;
        }
        if (i == st || i == n) {
            return 0;
        }
        {
            const char *units = in_time ? time_units : date_units;
            const char *u = strchr(units + unit, p[i]);

            /* units in order and without gaps: Y M D, H M S */
            if (u == NULL || p[i] == '\0' ||
                (unit > 0 && u != units + unit)) {
                return 0;
            }
            unit = (int)(u - units) + 1;
        }
        any = 1;
        any_time |= in_time;
        i++;
    }
    return any && (!in_time || any_time);
}

static int js_format_ok(int f, const char *p, size_t n)
{
    switch (f) {
    case JF_DATE_TIME:
        return js_fmt_date_time(p, n);
    case JF_DATE:
        return js_fmt_date(p, n);
    case JF_TIME:
        return js_fmt_time(p, n);
    case JF_EMAIL:
        return js_fmt_email(p, n);
    case JF_HOSTNAME:
        return js_fmt_hostname(p, n);
    case JF_IPV4:
        return js_fmt_ipv4(p, n);
    case JF_IPV6:
        return js_fmt_ipv6(p, n);
    case JF_UUID:
        return js_fmt_uuid(p, n);
    case JF_URI:
        return js_fmt_uri(p, n);
    case JF_JSON_POINTER:
        return js_fmt_json_pointer(p, n);
    case JF_REL_JSON_POINTER:
        return js_fmt_rel_json_pointer(p, n);
    case JF_DURATION:
        return js_fmt_duration(p, n);
    default:
        return 1;
    }
}

/* ---------------------------------------------------------------------- */
/* The validator                                                            */

static int js_valid(struct js_ctx *c, const struct js_node *n,
                    const struct smt_val *v, const struct js_loc *at);

/* Validates without reporting (anyOf, oneOf, not, if, contains). */
static int js_quiet(struct js_ctx *c, const struct js_node *n,
                    const struct smt_val *v, const struct js_loc *at)
{
    int saved = c->report, ok;

    c->report = 0;
    ok = js_valid(c, n, v, at);
    c->report = saved;
    return ok;
}

static const struct js_node *js_prop_find(const struct js_node *n,
                                          struct smt_bytes k)
{
    uint32_t lo = 0, hi = n->nprops;

    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        int      cmp;

        if (n->props[mid].name.len != k.len) {
            cmp = n->props[mid].name.len < k.len ? -1 : 1;
        } else {
            cmp = memcmp(n->props[mid].name.ptr, k.ptr, k.len);
        }
        if (cmp == 0) {
            return n->props[mid].node;
        }
        if (cmp < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return NULL;
}

static int js_numbers(struct js_ctx *c, const struct js_node *n,
                      const struct smt_val *v, const struct js_loc *at)
{
    long double x = js_numval(v);
    char        buf[48];
    size_t      len;
    const char *t = js_numtext(v, buf, sizeof(buf), &len);
    int         tl = len > 40 ? 40 : (int)len;

    if (n->min != NULL && x < JS_NUMX(n->min)) {
        JS_FAIL("minimum", "%.*s is less than %.*s", tl, t, (int)n->min->len,
                n->min->txt);
    }
    if (n->max != NULL && x > JS_NUMX(n->max)) {
        JS_FAIL("maximum", "%.*s is greater than %.*s", tl, t,
                (int)n->max->len, n->max->txt);
    }
    if (n->xmin != NULL && x <= JS_NUMX(n->xmin)) {
        JS_FAIL("exclusiveMinimum", "%.*s is not greater than %.*s", tl, t,
                (int)n->xmin->len, n->xmin->txt);
    }
    if (n->xmax != NULL && x >= JS_NUMX(n->xmax)) {
        JS_FAIL("exclusiveMaximum", "%.*s is not less than %.*s", tl, t,
                (int)n->xmax->len, n->xmax->txt);
    }
    if (n->mult != NULL) {
        int ok = js_multiple_dec(t, len, n->mult->txt, n->mult->len);

        if (ok < 0) {
            long double q = x / JS_NUMX(n->mult);

            ok = isinf(q) ? 0 : q == floorl(q);
        }
        if (!ok) {
            JS_FAIL("multipleOf", "%.*s is not a multiple of %.*s", tl, t,
                    (int)n->mult->len, n->mult->txt);
        }
    }
    return 1;
}

static int js_strings_check(struct js_ctx *c, const struct js_node *n,
                            const struct smt_val *v, const struct js_loc *at)
{
    struct smt_bytes s = v->u.s;
    int64_t          len;

    if (v->type == SMT_BYTES) {
        if (n->pattern == NULL && n->format == JF_NONE) {
            len = (int64_t)((s.len + 2) / 3 * 4);
        } else {
            struct smt_buf b;

            smt_buf_init(&b);
            smt_base64_encode(&b, (const unsigned char *)s.ptr, s.len);
            s.len = b.len;
            s.ptr = c->a != NULL ? smt_arena_memdup(c->a, b.ptr ? b.ptr : "",
                                                    b.len)
                                 : "";
            smt_buf_fini(&b);
            len = (int64_t)s.len;
        }
    } else if (n->minlen >= 0 || n->maxlen >= 0) {
        len = js_cplen(s);
    } else {
        len = 0;
    }
    if (n->minlen >= 0 && len < n->minlen) {
        JS_FAIL("minLength", "length %" PRId64 " is less than %" PRId64, len,
                n->minlen);
    }
    if (n->maxlen >= 0 && len > n->maxlen) {
        JS_FAIL("maxLength", "length %" PRId64 " is greater than %" PRId64,
                len, n->maxlen);
    }
    if (n->pattern != NULL && smt_regex_find(n->pattern, s.ptr, s.len) != 1) {
        JS_FAIL("pattern", "does not match '%.80s'", n->pattern_src);
    }
    if (n->format != JF_NONE && !js_format_ok(n->format, s.ptr, s.len)) {
        JS_FAIL("format", "not a valid %s", js_format_names[n->format]);
    }
    return 1;
}

static int js_arrays(struct js_ctx *c, const struct js_node *n,
                     const struct smt_val *v, const struct js_loc *at)
{
    struct js_loc sub;
    uint32_t      i, j;

    if (n->minitems >= 0 && v->n < n->minitems) {
        JS_FAIL("minItems", "%u items, at least %" PRId64 " required", v->n,
                n->minitems);
    }
    if (n->maxitems >= 0 && v->n > n->maxitems) {
        JS_FAIL("maxItems", "%u items, at most %" PRId64 " allowed", v->n,
                n->maxitems);
    }
    sub.up = at;
    sub.key = NULL;
    sub.klen = 0;
    for (i = 0; i < v->n && i < n->nprefix; i++) {
        sub.idx = i;
        if (!js_valid(c, n->prefix[i], v->u.items[i], &sub)) {
            return 0;
        }
    }
    if (n->items != NULL && v->n > n->nprefix) {
        if (n->items->fixed == JS_FIXED_NONE) {
            JS_FAIL(n->items_kw, "%u items, at most %u allowed", v->n,
                    n->nprefix);
        }
        for (i = n->nprefix; i < v->n; i++) {
            sub.idx = i;
            if (!js_valid(c, n->items, v->u.items[i], &sub)) {
                return 0;
            }
        }
    }
    if (n->contains != NULL) {
        int64_t cnt = 0;

        for (i = 0; i < v->n; i++) {
            sub.idx = i;
            cnt += js_quiet(c, n->contains, v->u.items[i], &sub);
            if (n->maxcont < 0 && cnt >= n->mincont) {
                break;
            }
        }
        if (cnt < n->mincont) {
            if (n->mincont == 1) {
                JS_FAIL("contains", "no item matches");
            }
            JS_FAIL("minContains",
                    "%" PRId64 " items match, at least %" PRId64 " required",
                    cnt, n->mincont);
        }
        if (n->maxcont >= 0 && cnt > n->maxcont) {
            JS_FAIL("maxContains",
                    "%" PRId64 " items match, at most %" PRId64 " allowed",
                    cnt, n->maxcont);
        }
    }
    if (n->unique) {
        for (i = 1; i < v->n; i++) {
            for (j = 0; j < i; j++) {
                if (js_equal(v->u.items[i], v->u.items[j])) {
                    JS_FAIL("uniqueItems", "items %u and %u are equal", j, i);
                }
            }
        }
    }
    return 1;
}

static int js_objects(struct js_ctx *c, const struct js_node *n,
                      const struct smt_val *v, const struct js_loc *at)
{
    struct js_loc sub;
    uint32_t      i, j;

    if (n->minprops >= 0 && v->n < n->minprops) {
        JS_FAIL("minProperties", "%u properties, at least %" PRId64
                " required", v->n, n->minprops);
    }
    if (n->maxprops >= 0 && v->n > n->maxprops) {
        JS_FAIL("maxProperties", "%u properties, at most %" PRId64 " allowed",
                v->n, n->maxprops);
    }
    for (i = 0; i < n->nreq; i++) {
        if (smt_obj_get(v, n->req[i].ptr, n->req[i].len) == NULL) {
            JS_FAIL("required", "missing property '%.*s'", (int)n->req[i].len,
                    n->req[i].ptr);
        }
    }
    for (i = 0; i < n->ndeps; i++) {
        const struct js_dep *d = &n->deps[i];

        if (smt_obj_get(v, d->name.ptr, d->name.len) == NULL) {
            continue;
        }
        for (j = 0; j < d->nreq; j++) {
            if (smt_obj_get(v, d->req[j].ptr, d->req[j].len) == NULL) {
                JS_FAIL(d->kw,
                        "'%.*s' requires property '%.*s'", (int)d->name.len,
                        d->name.ptr, (int)d->req[j].len, d->req[j].ptr);
            }
        }
        if (d->node != NULL && !js_valid(c, d->node, v, at)) {
            return 0;
        }
    }
    sub.up = at;
    sub.idx = 0;
    for (i = 0; i < v->n; i++) {
        struct smt_bytes      k = v->u.members[i].key;
        const struct smt_val *mv = v->u.members[i].val;
        const struct js_node *pn;
        int                   hit = 0;

        sub.key = k.ptr;
        sub.klen = k.len;
        if (n->pnames != NULL) {
            struct smt_val kv;

            memset(&kv, 0, sizeof(kv));
            kv.type = SMT_STRING;
            kv.u.s = k;
            if (!js_valid(c, n->pnames, &kv, &sub)) {
                return 0;
            }
        }
        if (n->nprops > 0 && (pn = js_prop_find(n, k)) != NULL) {
            hit = 1;
            if (!js_valid(c, pn, mv, &sub)) {
                return 0;
            }
        }
        for (j = 0; j < n->npprops; j++) {
            if (smt_regex_find(n->pprops[j].re, k.ptr, k.len) == 1) {
                hit = 1;
                if (!js_valid(c, n->pprops[j].node, mv, &sub)) {
                    return 0;
                }
            }
        }
        if (!hit && n->addl != NULL) {
            if (n->addl->fixed == JS_FIXED_NONE) {
                at = &sub;
                JS_FAIL("additionalProperties",
                        "property '%.*s' is not allowed",
                        (int)(k.len > 60 ? 60 : k.len), k.ptr);
            }
            if (!js_valid(c, n->addl, mv, &sub)) {
                return 0;
            }
        }
    }
    return 1;
}

static void js_types_text(int types, char *buf, size_t size)
{
    static const int order[] = {JT_NULL, JT_BOOL, JT_INT, JT_NUM,
                                JT_STR,  JT_ARR,  JT_OBJ};
    size_t           len = 0;
    int              i, first = 1;

    buf[0] = '\0';
    if ((types & (JT_INT | JT_NUM)) == (JT_INT | JT_NUM)) {
        types &= ~JT_INT;
    }
    for (i = 0; i < 7 && len < size; i++) {
        if (types & order[i]) {
            len += (size_t)snprintf(buf + len, size - len, "%s%s",
                                    first ? "" : " or ",
                                    js_kind_name(order[i]));
            first = 0;
        }
    }
}

static int js_valid(struct js_ctx *c, const struct js_node *n,
                    const struct smt_val *v, const struct js_loc *at)
{
    int      kind, ok = 1;
    uint32_t i, cnt, first = 0;

    if (n->fixed == JS_FIXED_ANY) {
        return 1;
    }
    if (n->fixed == JS_FIXED_NONE) {
        JS_FAIL("", "false schema allows no value");
    }
    if (++c->depth > JS_MAX_DEPTH) {
        c->limit = 1;
        c->depth--;
        return 0;
    }
    kind = js_kind(v);
    if (n->types != 0 && !(n->types & kind)) {
        char want[80];

        js_types_text(n->types, want, sizeof(want));
        c->depth--;
        JS_FAIL("type", "expected %s, got %s", want, js_kind_name(kind));
    }
    if (n->cnst != NULL && !js_equal(v, n->cnst)) {
        c->depth--;
        JS_FAIL("const", "value does not equal the constant");
    }
    if (n->enm != NULL) {
        for (i = 0; i < n->enm->n && !js_equal(v, n->enm->u.items[i]); i++) {
        }
        if (i == n->enm->n) {
            c->depth--;
            JS_FAIL("enum", "value is not one of the %u allowed", n->enm->n);
        }
    }
    switch (kind) {
    case JT_INT:
    case JT_NUM:
        ok = js_numbers(c, n, v, at);
        break;
    case JT_STR:
        ok = js_strings_check(c, n, v, at);
        break;
    case JT_ARR:
        ok = js_arrays(c, n, v, at);
        break;
    case JT_OBJ:
        ok = js_objects(c, n, v, at);
        break;
    default:
        break;
    }
    if (ok && n->ref != NULL) {
        ok = js_valid(c, n->ref, v, at);
    }
    for (i = 0; ok && i < n->nallof; i++) {
        ok = js_valid(c, n->allof[i], v, at);
    }
    if (ok && n->nanyof > 0) {
        for (i = 0; i < n->nanyof && !js_quiet(c, n->anyof[i], v, at); i++) {
        }
        if (i == n->nanyof) {
            c->depth--;
            JS_FAIL("anyOf", "no subschema matched");
        }
    }
    if (ok && n->noneof > 0) {
        for (i = 0, cnt = 0; i < n->noneof && cnt < 2; i++) {
            if (js_quiet(c, n->oneof[i], v, at)) {
                if (cnt++ == 0) {
                    first = i;
                }
            }
        }
        if (cnt != 1) {
            c->depth--;
            if (cnt == 0) {
                JS_FAIL("oneOf", "no subschema matched");
            }
            JS_FAIL("oneOf", "subschemas %u and %u both matched", first,
                    i - 1);
        }
    }
    if (ok && n->not_ != NULL && js_quiet(c, n->not_, v, at)) {
        c->depth--;
        JS_FAIL("not", "value matches the schema it must not match");
    }
    if (ok && n->if_ != NULL) {
        if (js_quiet(c, n->if_, v, at)) {
            ok = n->then_ == NULL || js_valid(c, n->then_, v, at);
        } else {
            ok = n->else_ == NULL || js_valid(c, n->else_, v, at);
        }
    }
    c->depth--;
    return ok;
}

int smt_jsonschema_validate(const struct smt_jsonschema *js,
                            const struct smt_val *v, struct smt_arena *a,
                            struct smt_err *err)
{
    struct js_ctx  c;
    struct smt_val null_node;

    if (v == NULL) {
        memset(&null_node, 0, sizeof(null_node));
        v = &null_node;
    }
    c.js = js;
    c.err = err;
    c.a = a;
    c.report = 1;
    c.limit = 0;
    c.depth = 0;
    if (js_valid(&c, js->root, v, NULL)) {
        return 0;
    }
    if (c.limit) {
        return smt_err_set(err, SMT_E_LIMIT,
                           "schema validation failed: the schema recurses "
                           "deeper than %d levels",
                           JS_MAX_DEPTH);
    }
    return -1;
}

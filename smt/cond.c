/*
 * cond.c - conditions: the `if:` of a step, the `condition:` of a route,
 * and Kafka Connect predicates, compiled into one immutable tree.
 *
 * A condition is a YAML mapping of one of these shapes (docs/conditions.md
 * has the full description and examples):
 *
 *   {all: [<cond>, ...]}          every one true (an empty list is true)
 *   {any: [<cond>, ...]}          at least one true (empty: false)
 *   {not: <cond>}
 *   {predicate: <name>}           a predicate of the `predicates:` map,
 *   {predicate: <name>, negate: true}
 *   {<subject>, <operator>}       a comparison
 *
 * Subjects: `field: a.b` (a dotted path into the value, backticks quote
 * names with dots), `key: a.b` (into the key; "" or empty = the whole key),
 * `header: name` (the last header with that name, as text), `topic: true`
 * (the topic, as text). Operators: `equals: <scalar>`,
 * `not_equals: <scalar>`, `in: [<scalar>, ...]`, `matches: <regex>` (alias
 * `regex`; Java whole-string match), `gt`/`ge`/`lt`/`le: <number>`,
 * `exists: true|false`, `is_null: true|false`.
 *
 * Comparison rules: a missing subject makes every operator false except
 * `exists: false` (the whole key is missing only for `exists`, when null). Numbers compare by value across int, float, decimal (and
 * dates as epoch milliseconds); a quoted scalar is a string and equals only
 * strings. Header and topic text is compared as text, and as a number when
 * the literal is a number and the text is one. `matches` applies to
 * strings only (a number field never matches). An ordering operator on a
 * non-number is false, never an error.
 *
 * A predicate entry is either a Connect predicate ({type: TopicNameMatches,
 * pattern: ...}, any name smt_registry_find() knows with SMT_F_PREDICATE)
 * or {type: condition, when: <cond>}.
 *
 * Everything (paths, regexes, literals, predicate instances) is compiled
 * once; evaluation only reads the tree, so one tree serves every worker
 * thread. Evaluation decodes the key or value only for a leaf that reads
 * it; a condition on headers and topic never decodes anything. Nodes are
 * on the heap and freed by smt_cond_free(); predicate options live in the
 * configuration arena.
 */
#include "regex.h"
#include "transform.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

enum { SUBJ_FIELD = 1, SUBJ_KEY, SUBJ_HEADER, SUBJ_TOPIC };

enum {
    OP_EQ = 1,
    OP_NE,
    OP_IN,
    OP_MATCH,
    OP_GT,
    OP_GE,
    OP_LT,
    OP_LE,
    OP_EXISTS,
    OP_ISNULL,
};

enum { LIT_NULL = 0, LIT_BOOL, LIT_INT, LIT_FLOAT, LIT_STR };

struct cond_lit {
    int              kind;
    int64_t          i; /* INT, BOOL */
    double           d; /* INT and FLOAT */
    struct smt_bytes s; /* STR: the text; others: the source text */
};

struct smt_cond {
    int               kind; /* enum smt_cond_kind */
    /* ALL, ANY, NOT */
    uint32_t          n;
    struct smt_cond **kids;
    /* CMP */
    int               subject;
    struct smt_path   path; /* FIELD/KEY; n == 0 for the whole key */
    char             *header;
    int               op;
    struct cond_lit  *lits;
    uint32_t          nlits;
    struct smt_regex *re;
    int               flag; /* EXISTS / ISNULL operand */
    /* PRED */
    struct smt_inst   inst;
    int               negate;
};

static const char *const subj_names[] = {"field", "key", "header", "topic"};
static const char *const op_names[] = {"equals", "not_equals", "in",
                                       "matches", "gt", "ge", "lt", "le",
                                       "exists", "is_null", "regex"};
static const int op_codes[] = {OP_EQ, OP_NE, OP_IN, OP_MATCH, OP_GT, OP_GE,
                               OP_LT, OP_LE, OP_EXISTS, OP_ISNULL, OP_MATCH};

#define COND_MAX_DEPTH 64
#define NELEM(x) (sizeof(x) / sizeof((x)[0]))

/* ---------------------------------------------------------------------- */
/* Compiling */

static struct smt_cond *cond_compile(const struct smt_cnode *node,
                                     const struct smt_cnode *preds,
                                     struct smt_arena *a, struct smt_diags *d,
                                     int depth);
static struct smt_cond *cond_pred(const char *name, const struct smt_cnode *at,
                                  const struct smt_cnode *preds, int negate,
                                  struct smt_arena *a, struct smt_diags *d,
                                  int depth);

static struct smt_cond *cond_new(int kind)
{
    struct smt_cond *c = smt_xcalloc(1, sizeof(*c));

    c->kind = kind;
    return c;
}

/* Parses a full number text; returns 1 (int), 2 (float) or 0. */
static int cond_number(const char *s, size_t len, int64_t *i, double *dv)
{
    char  buf[64];
    char *end;

    if (len == 0 || len >= sizeof(buf)) {
        return 0;
    }
    memcpy(buf, s, len);
    buf[len] = '\0';
    if (!((buf[0] >= '0' && buf[0] <= '9') || buf[0] == '-' ||
          buf[0] == '+' || buf[0] == '.')) {
        return 0;
    }
    errno = 0;
    *i = strtoll(buf, &end, 10);
    if (*end == '\0' && errno == 0) {
        *dv = (double)*i;
        return 1;
    }
    errno = 0;
    *dv = strtod(buf, &end);
    if (*end == '\0' && isfinite(*dv) && strpbrk(buf, "xXnN") == NULL) {
        return 2;
    }
    return 0;
}

/* A scalar operand: quoted -> string; plain -> null/bool/number/string. */
static int cond_lit(const struct smt_cnode *n, struct cond_lit *l,
                    const char *op, struct smt_diags *d)
{
    memset(l, 0, sizeof(*l));
    if (n->kind == SMT_CN_NULL) {
        l->kind = LIT_NULL;
        l->s = SMT_BYTES_LIT("null");
        return 0;
    }
    if (n->kind != SMT_CN_SCALAR) {
        return smt_diag(d, n, "condition operator '%s': expected a scalar",
                        op);
    }
    l->s.ptr = n->s;
    l->s.len = n->len;
    l->kind = LIT_STR;
    if (n->quoted) {
        return 0;
    }
    if (strcasecmp(n->s, "true") == 0 || strcasecmp(n->s, "false") == 0) {
        l->kind = LIT_BOOL;
        l->i = strcasecmp(n->s, "true") == 0;
        l->s = l->i ? SMT_BYTES_LIT("true") : SMT_BYTES_LIT("false");
        return 0;
    }
    switch (cond_number(n->s, n->len, &l->i, &l->d)) {
    case 1:
        l->kind = LIT_INT;
        break;
    case 2:
        l->kind = LIT_FLOAT;
        break;
    default:
        break;
    }
    return 0;
}

/* true/false operand of exists / is_null. */
static int cond_bool(const struct smt_cnode *n, int *out, const char *op,
                     struct smt_diags *d)
{
    if (n->kind == SMT_CN_SCALAR && !n->quoted &&
        (strcasecmp(n->s, "true") == 0 || strcasecmp(n->s, "false") == 0)) {
        *out = strcasecmp(n->s, "true") == 0;
        return 0;
    }
    return smt_diag(d, n, "condition operator '%s': expected true or false",
                    op);
}

static int cond_index(const char *k, const char *const *names, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (strcmp(k, names[i]) == 0) {
            return (int)i;
        }
    }
    return -1;
}

/* Unknown key message with a suggestion among every condition key. */
static int cond_unknown(const struct smt_cnode *k, struct smt_diags *d)
{
    static const char *const all[] = {
        "all", "any", "not", "predicate", "negate", "field", "key", "header",
        "topic", "equals", "not_equals", "in", "matches", "regex", "gt",
        "ge", "lt", "le", "exists", "is_null"};
    const char *s = smt_suggest(k->s, all, NELEM(all));

    if (s != NULL) {
        return smt_diag(d, k, "unknown condition key '%s' (did you mean '%s'?)",
                        k->s, s);
    }
    return smt_diag(d, k, "unknown condition key '%s'", k->s);
}

static int cond_subject(struct smt_cond *c, int subj,
                        const struct smt_cnode *v, struct smt_diags *d)
{
    struct smt_err err;
    const char    *text;

    c->subject = subj;
    switch (subj) {
    case SUBJ_FIELD:
    case SUBJ_KEY:
        if (v->kind == SMT_CN_NULL ||
            (v->kind == SMT_CN_SCALAR && v->len == 0)) {
            if (subj == SUBJ_FIELD) {
                return smt_diag(d, v, "condition 'field': expected a field "
                                      "path (use 'key: \"\"' for the whole "
                                      "key)");
            }
            return 0; /* the whole key */
        }
        if (v->kind != SMT_CN_SCALAR) {
            return smt_diag(d, v, "condition '%s': expected a field path",
                            subj_names[subj - 1]);
        }
        text = v->s;
        smt_err_clear(&err);
        if (smt_path_parse(&c->path, text, SMT_PATH_V2, &err) < 0) {
            return smt_diag(d, v, "condition '%s': %s", subj_names[subj - 1],
                            err.msg);
        }
        return 0;
    case SUBJ_HEADER:
        if (v->kind != SMT_CN_SCALAR || v->len == 0) {
            return smt_diag(d, v, "condition 'header': expected a header "
                                  "name");
        }
        c->header = smt_xstrdup(v->s);
        return 0;
    default:
        if (v->kind == SMT_CN_NULL ||
            (v->kind == SMT_CN_SCALAR &&
             (v->len == 0 || (!v->quoted && strcmp(v->s, "true") == 0)))) {
            return 0;
        }
        return smt_diag(d, v, "condition 'topic': write 'topic: true'");
    }
}

static int cond_operator(struct smt_cond *c, int op, const char *name,
                         const struct smt_cnode *v, struct smt_diags *d)
{
    struct smt_err err;
    uint32_t       i;
    int            rc = 0;

    c->op = op;
    switch (op) {
    case OP_EQ:
    case OP_NE:
        c->lits = smt_xcalloc(1, sizeof(*c->lits));
        c->nlits = 1;
        return cond_lit(v, &c->lits[0], name, d);
    case OP_IN:
        if (v->kind != SMT_CN_SEQ) {
            return smt_diag(d, v, "condition operator 'in': expected a list");
        }
        c->lits = smt_xcalloc(v->n ? v->n : 1, sizeof(*c->lits));
        c->nlits = v->n;
        for (i = 0; i < v->n; i++) {
            if (cond_lit(v->v[i], &c->lits[i], name, d) < 0) {
                rc = -1;
            }
        }
        return rc;
    case OP_MATCH:
        if (v->kind != SMT_CN_SCALAR) {
            return smt_diag(d, v, "condition operator '%s': expected a "
                                  "regular expression",
                            name);
        }
        smt_err_clear(&err);
        c->re = smt_regex_new(v->s, &err);
        if (c->re == NULL) {
            return smt_diag(d, v, "condition operator '%s': %s", name,
                            err.msg);
        }
        return 0;
    case OP_GT:
    case OP_GE:
    case OP_LT:
    case OP_LE:
        c->lits = smt_xcalloc(1, sizeof(*c->lits));
        c->nlits = 1;
        if (cond_lit(v, &c->lits[0], name, d) < 0) {
            return -1;
        }
        if (c->lits[0].kind != LIT_INT && c->lits[0].kind != LIT_FLOAT) {
            return smt_diag(d, v, "condition operator '%s': expected a "
                                  "number",
                            name);
        }
        return 0;
    default:
        return cond_bool(v, &c->flag, name, d);
    }
}

static struct smt_cond *cond_cmp(const struct smt_cnode *node,
                                 struct smt_diags *d)
{
    struct smt_cond        *c = cond_new(SMT_COND_CMP);
    const struct smt_cnode *subj = NULL, *op = NULL;
    uint32_t                i;
    int                     bad = 0, si = -1, oi = -1;

    for (i = 0; i < node->n; i++) {
        const struct smt_cnode *k = node->k[i];
        int                     s = cond_index(k->s, subj_names,
                                               NELEM(subj_names));
        int                     o = cond_index(k->s, op_names, NELEM(op_names));

        if (s >= 0) {
            if (subj != NULL) {
                bad = smt_diag(d, k, "condition has two subjects ('%s' and "
                                     "'%s')",
                               subj->s, k->s);
                continue;
            }
            subj = k;
            si = i;
        } else if (o >= 0) {
            if (op != NULL) {
                bad = smt_diag(d, k, "condition has two operators ('%s' and "
                                     "'%s')",
                               op->s, k->s);
                continue;
            }
            op = k;
            oi = i;
        } else {
            bad = cond_unknown(k, d);
        }
    }
    if (!bad && subj == NULL) {
        bad = smt_diag(d, node, "condition needs a subject (field, key, "
                                "header or topic)");
    }
    if (!bad && op == NULL) {
        bad = smt_diag(d, node, "condition needs an operator (equals, "
                                "not_equals, in, matches, gt, ge, lt, le, "
                                "exists or is_null)");
    }
    if (!bad) {
        int sc = cond_index(subj->s, subj_names, NELEM(subj_names)) + 1;
        int oc = op_codes[cond_index(op->s, op_names, NELEM(op_names))];

        if (cond_subject(c, sc, node->v[si], d) < 0) {
            bad = -1;
        }
        if (cond_operator(c, oc, op->s, node->v[oi], d) < 0) {
            bad = -1;
        }
    }
    if (bad) {
        smt_cond_free(c);
        return NULL;
    }
    return c;
}

static struct smt_cond *cond_list(int kind, const struct smt_cnode *v,
                                  const struct smt_cnode *preds,
                                  struct smt_arena *a, struct smt_diags *d,
                                  int depth)
{
    struct smt_cond *c = cond_new(kind);
    uint32_t         i;
    int              bad = 0;

    if (v->kind != SMT_CN_SEQ) {
        smt_diag(d, v, "condition '%s': expected a list of conditions",
                 kind == SMT_COND_ALL ? "all" : "any");
        smt_cond_free(c);
        return NULL;
    }
    c->kids = smt_xcalloc(v->n ? v->n : 1, sizeof(*c->kids));
    for (i = 0; i < v->n; i++) {
        c->kids[c->n] = cond_compile(v->v[i], preds, a, d, depth + 1);
        if (c->kids[c->n] == NULL) {
            bad = 1;
        } else {
            c->n++;
        }
    }
    if (bad) {
        smt_cond_free(c);
        return NULL;
    }
    return c;
}

static struct smt_cond *cond_compile(const struct smt_cnode *node,
                                     const struct smt_cnode *preds,
                                     struct smt_arena *a, struct smt_diags *d,
                                     int depth)
{
    const struct smt_cnode *v;
    const char             *k0;

    if (depth > COND_MAX_DEPTH) {
        smt_diag(d, node, "condition nested too deeply");
        return NULL;
    }
    if (node == NULL || node->kind != SMT_CN_MAP || node->n == 0) {
        smt_diag(d, node, "a condition must be a non-empty mapping");
        return NULL;
    }
    k0 = node->k[0]->s;
    if (strcmp(k0, "all") == 0 || strcmp(k0, "any") == 0 ||
        strcmp(k0, "not") == 0) {
        struct smt_cond *c, *kid;

        if (node->n > 1) {
            smt_diag(d, node->k[1], "condition '%s' cannot have other keys "
                                    "beside it",
                     k0);
            return NULL;
        }
        v = node->v[0];
        if (k0[1] != 'o') {
            return cond_list(k0[1] == 'l' ? SMT_COND_ALL : SMT_COND_ANY, v,
                             preds, a, d, depth);
        }
        kid = cond_compile(v, preds, a, d, depth + 1);
        if (kid == NULL) {
            return NULL;
        }
        c = cond_new(SMT_COND_NOT);
        c->kids = smt_xcalloc(1, sizeof(*c->kids));
        c->kids[0] = kid;
        c->n = 1;
        return c;
    }
    v = smt_cnode_get(node, "predicate");
    if (v != NULL) {
        const struct smt_cnode *neg = smt_cnode_get(node, "negate");
        int                     negate = 0;
        uint32_t                i;

        for (i = 0; i < node->n; i++) {
            if (strcmp(node->k[i]->s, "predicate") != 0 &&
                strcmp(node->k[i]->s, "negate") != 0) {
                smt_diag(d, node->k[i], "condition 'predicate' takes only "
                                        "'negate' beside it, not '%s'",
                         node->k[i]->s);
                return NULL;
            }
        }
        if (neg != NULL && cond_bool(neg, &negate, "negate", d) < 0) {
            return NULL;
        }
        if (v->kind != SMT_CN_SCALAR || v->len == 0) {
            smt_diag(d, v, "condition 'predicate': expected a predicate "
                           "name");
            return NULL;
        }
        return cond_pred(v->s, v, preds, negate, a, d, depth + 1);
    }
    return cond_cmp(node, d);
}

static struct smt_cond *cond_pred(const char *name, const struct smt_cnode *at,
                                  const struct smt_cnode *preds, int negate,
                                  struct smt_arena *a, struct smt_diags *d,
                                  int depth)
{
    static const char *const extra[] = {"type", NULL};
    const struct smt_cnode     *entry = NULL, *type;
    const struct smt_transform *t;
    struct smt_cond            *c;
    struct smt_err              err;
    uint32_t                    i;
    int                         side;

    if (depth > COND_MAX_DEPTH) {
        smt_diag(d, at, "predicate '%s' nested too deeply (does it refer to "
                        "itself?)",
                 name);
        return NULL;
    }
    if (preds != NULL && preds->kind == SMT_CN_MAP) {
        entry = smt_cnode_get(preds, name);
    }
    if (entry == NULL) {
        return smt_diag(d, at, "unknown predicate '%s'", name), NULL;
    }
    if (entry->kind != SMT_CN_MAP) {
        return smt_diag(d, entry, "predicate '%s' must be a mapping", name),
               NULL;
    }
    type = smt_cnode_get(entry, "type");
    if (type == NULL || type->kind != SMT_CN_SCALAR) {
        return smt_diag(d, entry, "predicate '%s': missing 'type'", name),
               NULL;
    }
    if (strcmp(type->s, "condition") == 0) {
        const struct smt_cnode *when = smt_cnode_get(entry, "when");
        struct smt_cond        *inner;

        for (i = 0; i < entry->n; i++) {
            if (strcmp(entry->k[i]->s, "type") != 0 &&
                strcmp(entry->k[i]->s, "when") != 0) {
                return smt_diag(d, entry->k[i],
                                "predicate '%s': unknown option '%s' (a "
                                "condition predicate takes 'when')",
                                name, entry->k[i]->s),
                       NULL;
            }
        }
        if (when == NULL) {
            return smt_diag(d, entry, "predicate '%s': missing 'when'", name),
                   NULL;
        }
        inner = cond_compile(when, preds, a, d, depth + 1);
        if (inner == NULL || !negate) {
            return inner;
        }
        c = cond_new(SMT_COND_NOT);
        c->kids = smt_xcalloc(1, sizeof(*c->kids));
        c->kids[0] = inner;
        c->n = 1;
        return c;
    }
    t = smt_registry_find(type->s, &side);
    if (t == NULL || !(t->flags & SMT_F_PREDICATE)) {
        return smt_diag(d, type, "predicate '%s': unknown predicate type '%s'",
                        name, type->s),
               NULL;
    }
    c = cond_new(SMT_COND_PRED);
    c->negate = negate;
    c->inst.t = t;
    c->inst.id = name;
    c->inst.side = side;
    c->inst.conf = smt_arena_calloc(a, t->conf_size ? t->conf_size : 1);
    if (smt_opts_load(t->opts, (void *)c->inst.conf, entry, extra, a, d) < 0) {
        smt_cond_free(c);
        return NULL;
    }
    smt_err_clear(&err);
    if (t->init != NULL && t->init(&c->inst, &err) < 0) {
        smt_diag(d, entry, "predicate '%s': %s", name, err.msg);
        c->inst.t = NULL; /* nothing to destroy */
        smt_cond_free(c);
        return NULL;
    }
    c->inst.id = NULL; /* `name` is borrowed from the tree; not kept */
    return c;
}

struct smt_cond *smt_cond_compile(const struct smt_cnode *node,
                                  const struct smt_cnode *preds,
                                  struct smt_arena *a, struct smt_diags *d)
{
    return cond_compile(node, preds, a, d, 0);
}

struct smt_cond *smt_cond_predicate(const char *name,
                                    const struct smt_cnode *at,
                                    const struct smt_cnode *preds, int negate,
                                    struct smt_arena *a, struct smt_diags *d)
{
    return cond_pred(name, at, preds, negate, a, d, 0);
}

void smt_cond_free(struct smt_cond *c)
{
    uint32_t i;

    if (c == NULL) {
        return;
    }
    for (i = 0; i < c->n; i++) {
        smt_cond_free(c->kids[i]);
    }
    free(c->kids);
    if (c->path.text != NULL || c->path.seg != NULL) {
        smt_path_fini(&c->path);
    }
    free(c->header);
    free(c->lits);
    smt_regex_free(c->re);
    if (c->kind == SMT_COND_PRED && c->inst.t != NULL &&
        c->inst.t->destroy != NULL) {
        c->inst.t->destroy(&c->inst);
    }
    free(c);
}

/* ---------------------------------------------------------------------- */
/* Evaluation */

/* What a comparison looks at: a tree node, or text (header, topic). */
struct cond_subj {
    int                   present;
    int                   is_text;
    const struct smt_val *v;    /* !is_text */
    struct smt_bytes      text; /* is_text; ptr NULL = null */
};

/* Numeric value of a node, if it has one. */
static int val_number(const struct smt_val *v, int64_t *i, double *dv)
{
    char buf[64];

    switch (v->type) {
    case SMT_INT8:
    case SMT_INT16:
    case SMT_INT32:
    case SMT_INT64:
    case SMT_DATE:
        *i = v->u.i;
        *dv = (double)v->u.i;
        return 1;
    case SMT_FLOAT32:
    case SMT_FLOAT64:
        *dv = v->u.d;
        return 2;
    case SMT_DECIMAL:
        if (v->u.s.len == 0 || v->u.s.len >= sizeof(buf)) {
            return 0;
        }
        memcpy(buf, v->u.s.ptr, v->u.s.len);
        buf[v->u.s.len] = '\0';
        *dv = strtod(buf, NULL);
        return 2;
    default:
        return 0;
    }
}

/* Subject number vs literal number: -1, 0, 1, or 2 when not comparable. */
static int num_cmp(int sk, int64_t si, double sd, const struct cond_lit *l)
{
    if (sk == 1 && l->kind == LIT_INT) {
        return si < l->i ? -1 : si > l->i;
    }
    if (isnan(sd)) {
        return 2;
    }
    return sd < l->d ? -1 : sd > l->d;
}

static int subj_number(const struct cond_subj *s, int64_t *i, double *dv)
{
    if (s->is_text) {
        return s->text.ptr != NULL ? cond_number(s->text.ptr, s->text.len, i, dv)
                                   : 0;
    }
    return val_number(s->v, i, dv);
}

static int cond_equal(const struct cond_subj *s, const struct cond_lit *l)
{
    int64_t i;
    double  dv;
    int     k;

    switch (l->kind) {
    case LIT_NULL:
        return s->is_text ? s->text.ptr == NULL : s->v->type == SMT_NULL;
    case LIT_BOOL:
        if (s->is_text) {
            return smt_bytes_eq(s->text, l->s);
        }
        return s->v->type == SMT_BOOL && (s->v->u.b != 0) == (l->i != 0);
    case LIT_INT:
    case LIT_FLOAT:
        k = subj_number(s, &i, &dv);
        return k != 0 && num_cmp(k, i, dv, l) == 0;
    default:
        if (s->is_text) {
            return smt_bytes_eq(s->text, l->s);
        }
        return s->v->type == SMT_STRING && smt_bytes_eq(s->v->u.s, l->s);
    }
}

static int cond_isnull(const struct cond_subj *s)
{
    return s->is_text ? s->text.ptr == NULL : s->v->type == SMT_NULL;
}

/* Finds the subject. Returns 0, or -1 with err when a decode fails. */
static int cond_find(const struct smt_cond *c, struct smt_record *rec,
                     struct cond_subj *s, struct smt_err *err)
{
    const struct smt_val    *root;
    const struct smt_header *h;

    memset(s, 0, sizeof(*s));
    switch (c->subject) {
    case SUBJ_HEADER:
        h = smt_record_header_last(rec, smt_bytes_str(c->header));
        if (h != NULL) {
            s->present = 1;
            s->is_text = 1;
            s->text = h->value;
        }
        return 0;
    case SUBJ_TOPIC:
        s->present = 1;
        s->is_text = 1;
        s->text = rec->topic;
        return 0;
    default:
        root = smt_record_doc(rec, c->subject == SUBJ_KEY ? SMT_KEY : SMT_VALUE,
                              err);
        if (root == NULL) {
            return -1;
        }
        if (c->path.n == 0) {
            /* The whole key: `exists` asks whether it is non-null; every
             * other operator sees it, null or not. */
            s->v = root;
            s->present = c->op != OP_EXISTS || root->type != SMT_NULL;
            return 0;
        }
        s->v = smt_path_get(root, &c->path);
        s->present = s->v != NULL;
        return 0;
    }
}

static int cond_cmp_eval(const struct smt_cond *c, struct smt_record *rec,
                         struct smt_err *err)
{
    struct cond_subj s;
    int64_t          i;
    double           dv;
    int              k, r;
    uint32_t         j;

    if (cond_find(c, rec, &s, err) < 0) {
        return -1;
    }
    if (c->op == OP_EXISTS) {
        return s.present == c->flag;
    }
    if (!s.present) {
        return 0;
    }
    switch (c->op) {
    case OP_ISNULL:
        return cond_isnull(&s) == c->flag;
    case OP_EQ:
        return cond_equal(&s, &c->lits[0]);
    case OP_NE:
        return !cond_equal(&s, &c->lits[0]);
    case OP_IN:
        for (j = 0; j < c->nlits; j++) {
            if (cond_equal(&s, &c->lits[j])) {
                return 1;
            }
        }
        return 0;
    case OP_MATCH:
        if (s.is_text) {
            if (s.text.ptr == NULL) {
                return 0;
            }
            r = smt_regex_matches(c->re, s.text.ptr, s.text.len);
        } else if (s.v->type == SMT_STRING) {
            r = smt_regex_matches(c->re, s.v->u.s.ptr, s.v->u.s.len);
        } else {
            return 0;
        }
        if (r < 0) {
            return smt_err_set(err, SMT_E_DATA,
                               "condition: regex '%s' failed to match",
                               smt_regex_pattern(c->re));
        }
        return r;
    default:
        k = subj_number(&s, &i, &dv);
        if (k == 0) {
            return 0;
        }
        r = num_cmp(k, i, dv, &c->lits[0]);
        if (r == 2) {
            return 0;
        }
        switch (c->op) {
        case OP_GT:
            return r > 0;
        case OP_GE:
            return r >= 0;
        case OP_LT:
            return r < 0;
        default:
            return r <= 0;
        }
    }
}

int smt_cond_eval(const struct smt_cond *c, struct smt_record *rec,
                  struct smt_err *err)
{
    uint32_t i;
    int      r;

    switch (c->kind) {
    case SMT_COND_ALL:
        for (i = 0; i < c->n; i++) {
            r = smt_cond_eval(c->kids[i], rec, err);
            if (r <= 0) {
                return r;
            }
        }
        return 1;
    case SMT_COND_ANY:
        for (i = 0; i < c->n; i++) {
            r = smt_cond_eval(c->kids[i], rec, err);
            if (r != 0) {
                return r;
            }
        }
        return 0;
    case SMT_COND_NOT:
        r = smt_cond_eval(c->kids[0], rec, err);
        return r < 0 ? r : !r;
    case SMT_COND_PRED:
        r = c->inst.t->test(&c->inst, rec, err);
        return r < 0 ? r : (c->negate ? !r : r);
    default:
        return cond_cmp_eval(c, rec, err);
    }
}

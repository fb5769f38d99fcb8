/*
 * chain.c - loading a `transforms:` list into an immutable chain
 * configuration, making per-worker chains from it, and running records
 * through a chain (Connect's TransformationChain).
 *
 * Each step is a map: `type` (snake name, Connect simple name or fully
 * qualified class, with $Key/$Value), `name` (default "<type>#<index>"),
 * `predicate` + `negate` (Connect) or `if` (an inline condition), and the
 * transform's own options. Loading validates everything a step can know
 * (its option table, then one probe init()/destroy() so cross-field checks
 * and regex compilation fail at load, not at the first record).
 *
 * Evaluation follows Connect: a step whose gate is false passes the record
 * on unchanged; a drop stops the chain and is not an error; the first
 * failure stops it with stage TRANSFORMATION (unless a converter already
 * named its stage, e.g. the value did not decode). A step that splits a
 * record (1->N, transform.h) has the rest of the chain run on each of its
 * records on its own.
 *
 *   transforms:
 *     - type: MaskField$Value
 *       fields: [ssn]
 *       predicate: is-customer
 *     - {type: filter, if: {header: debug, exists: true}}
 */
#include "transform.h"

#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

/* Keys every step may have besides the transform's options. */
static const char *const step_keys[] = {"type", "name", "predicate", "negate",
                                        "if", NULL};

/* "unknown transform type" with a suggestion made on the name without its
 * $Key/$Value suffix (the suffix is put back on the suggestion). */
static void unknown_type(const struct smt_cnode *at, const char *type,
                         struct smt_diags *d)
{
    const char *names[128];
    const char *dollar = strchr(type, '$');
    const char *best;
    char        base[128];
    size_t      n = 0, i;

    for (i = 0; smt_registry[i] != NULL && n + 2 <= 128; i++) {
        if (smt_registry[i]->flags & SMT_F_PREDICATE) {
            continue;
        }
        names[n++] = smt_registry[i]->name;
        if (smt_registry[i]->connect != NULL) {
            names[n++] = smt_registry[i]->connect;
        }
    }
    snprintf(base, sizeof(base), "%.*s",
             (int)(dollar ? (size_t)(dollar - type) : strlen(type)), type);
    best = smt_suggest(base, names, n);
    if (best != NULL) {
        smt_diag(d, at, "unknown transform type '%s' (did you mean '%s%s'?)",
                 type, best, dollar ? dollar : "");
        return;
    }
    smt_diag_unknown(d, at, "transform type", type, names, n);
}

/* A scalar value of key in step, or NULL; complains when not a scalar. */
static const struct smt_cnode *scalar_of(const struct smt_cnode *step,
                                         const char *key, int *bad,
                                         struct smt_diags *d)
{
    const struct smt_cnode *v = smt_cnode_get(step, key);

    if (v == NULL || v->kind == SMT_CN_NULL) {
        return NULL;
    }
    if (v->kind != SMT_CN_SCALAR) {
        smt_diag(d, v, "'%s' must be a string", key);
        *bad = 1;
        return NULL;
    }
    return v;
}

static char *trimmed(struct smt_arena *a, const char *s)
{
    size_t n = strlen(s);

    while (n > 0 && (unsigned char)*s <= ' ') {
        s++;
        n--;
    }
    while (n > 0 && (unsigned char)s[n - 1] <= ' ') {
        n--;
    }
    return smt_arena_memdup(a, s, n);
}

/* Loads one step; 0 or -1 (diagnostics added). */
static int step_load(struct smt_step_conf *sc, const struct smt_cnode *item,
                     uint32_t index, const struct smt_cnode *preds,
                     struct smt_arena *a, struct smt_diags *d)
{
    const struct smt_cnode *type, *name, *pred, *neg, *cond;
    const struct smt_transform *t;
    int                         bad = 0, negate = 0, side = SMT_VALUE;
    char                       *typetext;
    struct smt_inst             probe;
    struct smt_err              err;

    if (item->kind != SMT_CN_MAP) {
        return smt_diag(d, item, "a transform step must be a mapping");
    }
    type = scalar_of(item, "type", &bad, d);
    name = scalar_of(item, "name", &bad, d);
    pred = scalar_of(item, "predicate", &bad, d);
    neg = scalar_of(item, "negate", &bad, d);
    cond = smt_cnode_get(item, "if");
    if (bad) {
        return -1;
    }
    if (type == NULL) {
        return smt_diag(d, item, "missing required option 'type'");
    }
    typetext = trimmed(a, type->s);
    t = smt_registry_find(typetext, &side);
    if (t == NULL) {
        if (strchr(typetext, '$') != NULL) {
            char *base = smt_arena_memdup(a, typetext,
                                          (size_t)(strchr(typetext, '$') -
                                                   typetext));

            if (smt_registry_find(base, NULL) != NULL) {
                return smt_diag(d, type,
                                "transform type '%s' has no $Key/$Value "
                                "variants",
                                base);
            }
        }
        unknown_type(type, typetext, d);
        return -1;
    }
    if (t->flags & SMT_F_PREDICATE) {
        return smt_diag(d, type,
                        "'%s' is a predicate, not a transform (use it under "
                        "'predicates:')",
                        typetext);
    }
    sc->t = t;
    sc->side = side;
    if (name != NULL) {
        sc->id = trimmed(a, name->s);
        if (sc->id[0] == '\0') {
            return smt_diag(d, name, "'name' must not be empty");
        }
    } else {
        sc->id = (char *)smt_arena_printf(a, "%s#%u", t->name, index + 1).ptr;
    }
    if (neg != NULL) {
        if (strcasecmp(neg->s, "true") == 0) {
            negate = 1;
        } else if (strcasecmp(neg->s, "false") != 0) {
            return smt_diag(d, neg, "option 'negate': must be true or false");
        }
        if (pred == NULL) {
            return smt_diag(d, neg,
                            "Config 'negate' was provided but there is no "
                            "config 'predicate' defining a predicate to be "
                            "negated.");
        }
    }
    if (pred != NULL && cond != NULL && cond->kind != SMT_CN_NULL) {
        return smt_diag(d, cond,
                        "'if' and 'predicate' cannot be used together on one "
                        "step");
    }
    sc->conf = smt_arena_calloc(a, t->conf_size ? t->conf_size : 1);
    if (smt_opts_load(t->opts, sc->conf, item, step_keys, a, d) < 0) {
        bad = 1;
    }
    if (pred != NULL) {
        char *pn = trimmed(a, pred->s);

        sc->gate = smt_cond_predicate(pn, pred, preds, negate, a, d);
        if (sc->gate == NULL) {
            bad = 1;
        }
    } else if (cond != NULL && cond->kind != SMT_CN_NULL) {
        sc->gate = smt_cond_compile(cond, preds, a, d);
        if (sc->gate == NULL) {
            bad = 1;
        }
    }
    if (bad) {
        return -1;
    }
    /* Probe: run init once so everything init checks fails at load. */
    memset(&probe, 0, sizeof(probe));
    probe.t = t;
    probe.id = sc->id;
    probe.side = side;
    probe.conf = sc->conf;
    probe.gate = sc->gate;
    smt_err_clear(&err);
    if (t->init != NULL && t->init(&probe, &err) < 0) {
        smt_diag(d, item, "transform '%s': %s", sc->id, err.msg);
        bad = 1;
    }
    if (t->destroy != NULL) {
        t->destroy(&probe);
    }
    return bad ? -1 : 0;
}

int smt_chain_conf_load(struct smt_chain_conf *cc, const struct smt_cnode *seq,
                        const struct smt_cnode *preds, struct smt_arena *a,
                        struct smt_diags *d)
{
    uint32_t i, j;
    int      rc = 0;

    memset(cc, 0, sizeof(*cc));
    if (seq == NULL || seq->kind == SMT_CN_NULL) {
        return 0;
    }
    if (seq->kind != SMT_CN_SEQ) {
        return smt_diag(d, seq, "'transforms' must be a list of steps");
    }
    if (seq->n == 0) {
        return 0;
    }
    cc->steps = smt_arena_calloc(a, seq->n * sizeof(*cc->steps));
    for (i = 0; i < seq->n; i++) {
        struct smt_step_conf *sc = &cc->steps[cc->n];

        memset(sc, 0, sizeof(*sc));
        if (step_load(sc, seq->v[i], i, preds, a, d) < 0) {
            smt_cond_free(sc->gate);
            memset(sc, 0, sizeof(*sc));
            rc = -1;
            continue;
        }
        for (j = 0; j < cc->n; j++) {
            if (strcmp(cc->steps[j].id, sc->id) == 0) {
                break;
            }
        }
        if (j < cc->n) {
            smt_diag(d, smt_cnode_get(seq->v[i], "name"),
                     "duplicate step name '%s'", sc->id);
            smt_cond_free(sc->gate);
            memset(sc, 0, sizeof(*sc));
            rc = -1;
            continue;
        }
        cc->n++;
    }
    if (rc < 0) {
        smt_chain_conf_fini(cc);
    }
    return rc;
}

void smt_chain_conf_fini(struct smt_chain_conf *cc)
{
    uint32_t i;

    if (cc == NULL) {
        return;
    }
    for (i = 0; i < cc->n; i++) {
        smt_cond_free(cc->steps[i].gate);
    }
    /* steps, ids and confs live in the loader's arena */
    memset(cc, 0, sizeof(*cc));
}

/* ---------------------------------------------------------------------- */

struct smt_chain *smt_chain_new(const struct smt_chain_conf *cc,
                                struct smt_err *err)
{
    struct smt_chain *chain = smt_xcalloc(1, sizeof(*chain));
    uint32_t          i;

    chain->steps = smt_xcalloc(cc->n ? cc->n : 1, sizeof(*chain->steps));
    for (i = 0; i < cc->n; i++) {
        struct smt_inst            *inst = &chain->steps[i];
        const struct smt_step_conf *sc = &cc->steps[i];

        inst->t = sc->t;
        inst->id = sc->id;
        inst->side = sc->side;
        inst->conf = sc->conf;
        inst->gate = sc->gate;
        chain->n = i + 1; /* so a failure destroys this step too */
        if (inst->t->init != NULL && inst->t->init(inst, err) < 0) {
            smt_err_prefix(err, "transform '%s': ", inst->id);
            smt_chain_free(chain);
            return NULL;
        }
    }
    chain->n = cc->n;
    return chain;
}

void smt_chain_free(struct smt_chain *chain)
{
    uint32_t i;

    if (chain == NULL) {
        return;
    }
    for (i = 0; i < chain->n; i++) {
        if (chain->steps[i].t->destroy != NULL) {
            chain->steps[i].t->destroy(&chain->steps[i]);
        }
    }
    free(chain->steps);
    free(chain);
}

static enum smt_verdict chain_from(struct smt_chain *chain, uint32_t from,
                                   struct smt_record *rec, struct smt_err *err,
                                   uint32_t *failed);

/* After step next-1 split rec (rec and rec->split[]): runs steps next..n on
 * each record on its own and gathers the survivors, in order, back into rec
 * and rec->split. Any failure fails the whole input. */
static enum smt_verdict chain_pieces(struct smt_chain *chain, uint32_t next,
                                     struct smt_record *rec,
                                     struct smt_err *err, uint32_t *failed)
{
    struct smt_arena  *a = rec->arena;
    uint32_t           n = rec->nsplit + 1, i, j, nout = 0, cap = n;
    struct smt_record *pieces, *out;
    enum smt_verdict   v;

    pieces = smt_arena_alloc(a, n * sizeof(*pieces));
    pieces[0] = *rec;
    memcpy(pieces + 1, rec->split, rec->nsplit * sizeof(*pieces));
    out = smt_arena_alloc(a, cap * sizeof(*out));
    for (i = 0; i < n; i++) {
        struct smt_record *p = &pieces[i];

        p->split = NULL;
        p->nsplit = 0;
        v = chain_from(chain, next, p, err, failed);
        if (v == SMT_FAIL) {
            rec->split = NULL;
            rec->nsplit = 0;
            return SMT_FAIL;
        }
        if (v == SMT_DROP) {
            continue;
        }
        if (nout + 1 + p->nsplit > cap) {
            uint32_t ncap = (nout + 1 + p->nsplit) * 2;

            out = smt_arena_grow(a, out, nout, ncap, sizeof(*out));
            cap = ncap;
        }
        out[nout++] = *p;
        for (j = 0; j < p->nsplit; j++) {
            out[nout++] = p->split[j];
        }
        out[nout - 1 - p->nsplit].split = NULL;
        out[nout - 1 - p->nsplit].nsplit = 0;
    }
    if (nout == 0) {
        rec->split = NULL;
        rec->nsplit = 0;
        return SMT_DROP;
    }
    *rec = out[0];
    rec->split = nout > 1 ? out + 1 : NULL;
    rec->nsplit = nout - 1;
    return SMT_PASS;
}

/* Runs steps from..n on rec. */
static enum smt_verdict chain_from(struct smt_chain *chain, uint32_t from,
                                   struct smt_record *rec, struct smt_err *err,
                                   uint32_t *failed)
{
    uint32_t i;

    for (i = from; i < chain->n; i++) {
        struct smt_inst *inst = &chain->steps[i];
        enum smt_verdict v;

        inst->n.in++;
        if (inst->gate != NULL) {
            int on;

            err->stage = SMT_STAGE_NONE;
            on = smt_cond_eval(inst->gate, rec, err);
            if (on < 0) {
                v = SMT_FAIL;
                goto fail;
            }
            if (!on) {
                inst->n.passed++;
                continue;
            }
        }
        err->stage = SMT_STAGE_NONE;
        v = inst->t->apply(inst, rec, err);
        if (v == SMT_PASS) {
            inst->n.passed++;
            if (SMT_UNLIKELY(rec->nsplit != 0)) {
                return chain_pieces(chain, i + 1, rec, err, failed);
            }
            continue;
        }
        if (v == SMT_DROP) {
            inst->n.dropped++;
            return SMT_DROP;
        }
    fail:
        inst->n.failed++;
        if (err->stage == SMT_STAGE_NONE) {
            err->stage = SMT_STAGE_TRANSFORMATION;
        }
        if (failed != NULL) {
            *failed = i;
        }
        return SMT_FAIL;
    }
    return SMT_PASS;
}

enum smt_verdict smt_chain_apply(struct smt_chain *chain,
                                 struct smt_record *rec, struct smt_err *err,
                                 uint32_t *failed)
{
    return chain_from(chain, 0, rec, err, failed);
}

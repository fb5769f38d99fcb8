/*
 * t_replace_field.c - ReplaceField: drops, keeps and renames fields of the
 * key or value.
 *
 * Behaviour is Kafka Connect's ReplaceField$Key/$Value: a field survives
 * when it is not in `exclude` and `include` is empty or names it (filtering
 * uses the original names); survivors named in `renames` (old:new) are
 * then renamed. A null operand passes unchanged; a non-map (non-struct)
 * fails. Schemaless output keeps the input's member order; schema'd output
 * keeps schema field order and the schema's name, version and doc, and
 * (replace.null.with.default) a null field with a default is written as
 * its default. Unknown names are ignored.
 *
 *   transforms:
 *     - type: ReplaceField$Value
 *       exclude: internal,meta.trace_id
 *       renames: "user:account,meta.ts:time"
 *       field.syntax.version: V2
 *
 * Differences from Kafka Connect: field.syntax.version (ours). With V2 every
 * name in exclude/include and every old name in renames is a dotted path:
 * exclude removes the member at the path; include keeps, at each level an
 * include path passes through, only the members on an include path (a
 * member named by a whole include path is kept entirely, excludes below it
 * still apply); a rename changes the last segment's name in place (the new
 * name is a plain name, not a path). Paths stop at arrays and non-objects.
 * A rename onto an existing name replaces that member (Connect's HashMap
 * would keep whichever it iterated last).
 */
#include "tutil.h"

#include <stdlib.h>

struct rf_conf {
    struct smt_strlist exclude;
    struct smt_strlist include;
    struct smt_strlist renames;
    int                replace_null_with_default;
    char              *field_syntax_version;
};

/* The three lists compiled into one tree of path segments. */
struct rf_node {
    struct smt_bytes name;     /* segment (owned copy in `own`) */
    char            *own;
    int              excluded; /* a whole exclude path ends here */
    int              included; /* a whole include path ends here */
    int              inc_below; /* an include path continues below */
    struct smt_bytes rename;   /* new name (ptr NULL = none) */
    struct rf_node  *kids;
    uint32_t         nkids, cap;
};

struct rf_state {
    struct rf_node root;
    int            include_any; /* include is non-empty */
};

static void rf_node_free(struct rf_node *n)
{
    uint32_t i;

    for (i = 0; i < n->nkids; i++) {
        rf_node_free(&n->kids[i]);
    }
    free(n->kids);
    free(n->own);
}

static struct rf_node *rf_kid(const struct rf_node *n, const char *name,
                              size_t len)
{
    uint32_t i;

    for (i = 0; i < n->nkids; i++) {
        if (n->kids[i].name.len == len &&
            (len == 0 || memcmp(n->kids[i].name.ptr, name, len) == 0)) {
            return &n->kids[i];
        }
    }
    return NULL;
}

/* The node for path p (created as needed); marks inc_below on the way when
 * include is set. */
static struct rf_node *rf_add(struct rf_node *root, const struct smt_path *p,
                              int include)
{
    struct rf_node *n = root, *k;
    uint32_t        i;

    for (i = 0; i < p->n; i++) {
        if (include) {
            n->inc_below = 1;
        }
        k = rf_kid(n, p->seg[i].ptr, p->seg[i].len);
        if (k == NULL) {
            if (n->nkids == n->cap) {
                n->cap = n->cap ? n->cap * 2 : 4;
                n->kids = smt_xrealloc(n->kids, n->cap * sizeof(*n->kids));
            }
            k = &n->kids[n->nkids++];
            memset(k, 0, sizeof(*k));
            k->own = smt_xstrndup(p->seg[i].ptr, p->seg[i].len);
            k->name.ptr = k->own;
            k->name.len = p->seg[i].len;
        }
        n = k;
    }
    return n;
}

/* Adds every item of list to the tree; what: 0 exclude, 1 include. */
static int rf_add_list(struct rf_node *root, const struct smt_strlist *l,
                       int what, int version, struct smt_err *err)
{
    struct smt_path p;
    struct rf_node *n;
    uint32_t        i;

    for (i = 0; i < l->n; i++) {
        if (smt_path_parse(&p, l->v[i], version, err) != 0) {
            return smt_err_prefix(err, "%s: ", what ? "include" : "exclude");
        }
        n = rf_add(root, &p, what);
        if (what) {
            n->included = 1;
        } else {
            n->excluded = 1;
        }
        smt_path_fini(&p);
    }
    return 0;
}

/* Rebuilds object obj (struct schema s, or NULL schemaless) by the rules
 * of level n. filter: include filtering is active at this level. *ns gets
 * the new schema when s != NULL. */
static struct smt_val *rf_level(struct smt_arena *a, const struct rf_node *n,
                                int filter, struct smt_val *obj,
                                const struct smt_schema *s,
                                struct smt_schema **ns, int defaults)
{
    struct smt_val    *out;
    struct smt_schema *os = NULL;
    uint32_t           i, cnt = s != NULL ? s->nfields : obj->n;

    out = smt_val_object(a, cnt);
    if (s != NULL) {
        os = smt_schema_copy(a, s);
        os->nfields = 0;
    }
    for (i = 0; i < cnt; i++) {
        struct smt_bytes         key;
        struct smt_val          *v;
        const struct smt_schema *fs = NULL;
        struct smt_schema       *nfs = NULL;
        const struct rf_node    *k;

        if (s != NULL) {
            key = s->fields[i].name;
            fs = s->fields[i].schema;
            v = smt_obj_get(obj, key.ptr, key.len);
        } else {
            key = obj->u.members[i].key;
            v = obj->u.members[i].val;
        }
        k = rf_kid(n, key.ptr, key.len);
        if (k != NULL && k->excluded) {
            continue;
        }
        if (filter && (k == NULL || !(k->included || k->inc_below))) {
            continue;
        }
        if (defaults && fs != NULL && fs->def != NULL &&
            (v == NULL || v->type == SMT_NULL)) {
            v = smt_val_clone(a, fs->def);
        }
        if (v == NULL) {
            v = smt_val_null(a);
        }
        if (k != NULL && k->nkids > 0 && v->type == SMT_OBJECT &&
            (fs == NULL || (fs->type == SMT_OBJECT && !fs->is_map))) {
            v = rf_level(a, k, !k->included && k->inc_below, v, fs,
                         fs != NULL ? &nfs : NULL, defaults);
            if (nfs != NULL) {
                nfs->optional = fs->optional;
                nfs->def = fs->def;
                fs = nfs;
            }
        } else if (k != NULL && k->nkids > 0 && fs != NULL &&
                   fs->type == SMT_OBJECT && !fs->is_map) {
            /* A null struct: its schema still changes. */
            struct smt_val *empty = smt_val_object(a, 0);

            (void)rf_level(a, k, !k->included && k->inc_below, empty, fs,
                           &nfs, 0);
            nfs->optional = fs->optional;
            nfs->def = NULL;
            fs = nfs;
        }
        if (k != NULL && k->rename.ptr != NULL) {
            key = k->rename;
        }
        if (os != NULL) {
            long j = smt_schema_index(os, key.ptr, key.len);

            if (j < 0) {
                j = os->nfields++;
            }
            os->fields[j].name = key;
            os->fields[j].schema = (struct smt_schema *)fs;
        }
        smt_obj_set(a, out, key.ptr, key.len, v);
    }
    if (ns != NULL) {
        *ns = os;
    }
    return out;
}

static int rf_init(struct smt_inst *inst, struct smt_err *err)
{
    const struct rf_conf *conf = inst->conf;
    struct rf_state      *st;
    struct smt_bytes      parts[3];
    struct smt_path       p;
    struct rf_node       *n;
    char                  lbuf[200], *old;
    uint32_t              i;
    int                   version;
    size_t                np;

    version = smt_syntax_check(conf->field_syntax_version, err);
    if (version < 0) {
        return -1;
    }
    st = smt_xcalloc(1, sizeof(*st));
    if (rf_add_list(&st->root, &conf->exclude, 0, version, err) != 0 ||
        rf_add_list(&st->root, &conf->include, 1, version, err) != 0) {
        goto fail;
    }
    st->include_any = conf->include.n > 0;
    for (i = 0; i < conf->renames.n; i++) {
        np = smt_split_colon(conf->renames.v[i], parts, 3,
                             version == SMT_PATH_V2);
        if (np != 2) {
            smt_err_set(err, SMT_E_CONFIG,
                        "Invalid value %s for configuration renames: Invalid "
                        "rename mapping: %s",
                        smt_strlist_java(&conf->renames, lbuf, sizeof(lbuf)),
                        conf->renames.v[i]);
            goto fail;
        }
        old = smt_xstrndup(parts[0].ptr, parts[0].len);
        if (smt_path_parse(&p, old, version, err) != 0) {
            free(old);
            smt_err_prefix(err, "renames: ");
            goto fail;
        }
        free(old);
        n = rf_add(&st->root, &p, 0);
        smt_path_fini(&p);
        /* The new name lives in the conf (config lifetime). */
        n->rename = parts[1];
    }
    inst->state = st;
    return 0;
fail:
    rf_node_free(&st->root);
    free(st);
    return -1;
}

static enum smt_verdict rf_apply(struct smt_inst *inst, struct smt_record *rec,
                                 struct smt_err *err)
{
    const struct rf_conf    *conf = inst->conf;
    const struct rf_state   *st = inst->state;
    const struct smt_schema *schema;
    struct smt_schema       *ns = NULL;
    const struct smt_val    *ro;
    struct smt_val          *root, *out;

    ro = smt_operand(inst, rec, &schema, err);
    if (ro == NULL) {
        return SMT_FAIL;
    }
    if (ro->type == SMT_NULL) {
        return SMT_PASS;
    }
    if (smt_require_map(ro, schema, "field replacement", err) != 0) {
        return SMT_FAIL;
    }
    root = smt_operand_mut(inst, rec, &schema, err);
    if (root == NULL) {
        return SMT_FAIL;
    }
    out = rf_level(rec->arena, &st->root, st->include_any, root, schema,
                   schema != NULL ? &ns : NULL,
                   schema != NULL && conf->replace_null_with_default);
    if (ns != NULL) {
        /* Connect copies name, version, doc and parameters only. */
        ns->optional = 0;
        ns->def = NULL;
    }
    smt_record_set_doc(rec, smt_operand_side(inst), out, ns);
    return SMT_PASS;
}

static void rf_destroy(struct smt_inst *inst)
{
    struct rf_state *st = inst->state;

    if (st == NULL) {
        return;
    }
    rf_node_free(&st->root);
    free(st);
    inst->state = NULL;
}

static const struct smt_opt rf_opts[] = {
    {"exclude", SMT_OPT_STRLIST, "", offsetof(struct rf_conf, exclude), 0, 0,
     NULL, 0, "Fields to drop; takes precedence over include"},
    {"include", SMT_OPT_STRLIST, "", offsetof(struct rf_conf, include), 0, 0,
     NULL, 0, "Fields to keep; when non-empty every other field is dropped"},
    {"renames", SMT_OPT_STRLIST, "", offsetof(struct rf_conf, renames), 0, 0,
     NULL, 0, "Renames as old:new pairs"},
    {"replace.null.with.default", SMT_OPT_BOOL, "true",
     offsetof(struct rf_conf, replace_null_with_default), 0, 0, NULL, 0,
     "Schema'd only: write a null field that has a default as its default"},
    {"field.syntax.version", SMT_OPT_STR, "V1",
     offsetof(struct rf_conf, field_syntax_version), 0, 0, smt_syntax_choices,
     0,
     "V1: names are plain field names; V2: dotted paths, backticks quote "
     "names with dots"},
    {0},
};

const struct smt_transform smt_replace_field = {
    .name = "replace_field",
    .connect = "ReplaceField",
    .pkg = "org.apache.kafka.connect.transforms",
    .doc = "Drop, keep or rename fields",
    .opts = rf_opts,
    .conf_size = sizeof(struct rf_conf),
    .flags = SMT_F_KEYVALUE | SMT_F_NEEDS_DOC,
    .init = rf_init,
    .apply = rf_apply,
    .destroy = rf_destroy,
};

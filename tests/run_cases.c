/*
 * run_cases.c - the data-driven transform test runner.
 *
 *   run_cases [-v] [-a] <dir of *.case files> [<connect-vectors.jsonl>]
 *
 * It runs two kinds of data through the real library (config loader, chain,
 * record, JSON), linking only smt/:
 *
 * 1. tests/cases/<name>.case, jq-style blocks separated by blank lines
 *    (`#` lines are comments):
 *      step: {type: MaskField$Value, fields: "a,b"}   (or steps: [...])
 *      predicates: {p: {type: RecordIsTombstone}}     (optional)
 *      in: {"value": {"a": 1}}                        (one-line JSON record)
 *      out: {"value": {"a": 0}}  | %%SAME | %%DROP | %%FAIL <Class> <prefix>
 *    (`out: [{...}, {...}]` when a step splits the record: every record
 *    that comes out, in order)
 *    or, for a rejected configuration, `step:` + `config: %%CONFIG <text>`.
 * 2. Kafka Connect's behaviour vectors (connect-vectors.jsonl, format in
 *    the reference §6). A vector that does not apply to us must be listed
 *    in <dir>/vector-skips.txt as "ID<TAB>reason" and mentioned in
 *    docs/connect-compat.md; an unlisted vector that does not pass, a
 *    listed id that does not exist and a listed id the document does not
 *    mention are all failures, so the list and the document stay true.
 *
 * Values use typed tags ({"$i32":1}, {"$f32":1.5}, {"$bytes":"..."},
 * {"$date":ms}, {"$dec":"1.0"}); bare integers are INT64, bare fractions
 * FLOAT64, so Connect's type system is compared exactly. Every failure is
 * printed with file:line or the vector id, what was expected and what came
 * out; the last line is `run_cases: N passed, N failed` (exit 1 on any
 * failure). -v prints every case; -a also runs the skipped vectors and
 * names those that pass now (their skip entry is stale).
 *
 * The .case files in <dir>/runner-negative test the runner itself: every
 * block there states a wrong expectation and must fail; one that passes is
 * a failure (a comparison that cannot fail).
 */
#include "errpolicy.h"
#include "smt.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int opt_verbose;
static int opt_all;
static int npass, nfail, nskip;

/* What a case expects. */
enum xkind {
    X_NONE = 0,
    X_OUT,    /* the record parts in `out` */
    X_SAME,   /* passed on unchanged */
    X_DROP,   /* filtered out */
    X_FAIL,   /* a per-record error */
    X_CONFIG, /* the configuration is rejected */
    X_VALID,  /* the configuration loads (nothing is run) */
};

enum { M_PREFIX = 0, M_EXACT, M_SUBSTR };

struct expect {
    int                   kind; /* enum xkind */
    const struct smt_val *out;  /* X_OUT: parsed JSON of the expected parts */
    const char           *cls;  /* X_FAIL: simple exception name, or NULL */
    const char           *msg;  /* X_FAIL/X_CONFIG: text, or NULL for any */
    int                   how;  /* M_* for msg */
    int                   vector; /* connect-vectors conventions */
};

/* Outcome of one case: pass, fail (why says what) or skip (why says why). */
enum { R_PASS = 0, R_FAIL = -1, R_SKIP = 1 };

static struct smt_val null_node; /* zero = SMT_NULL */

/* ---------------------------------------------------------------------- */
/* Small helpers */

static char *read_file(const char *path, size_t *len)
{
    FILE  *f = fopen(path, "rb");
    char  *p;
    size_t n = 0, cap = 4096, r;

    if (f == NULL) {
        return NULL;
    }
    p = smt_xmalloc(cap + 1);
    while ((r = fread(p + n, 1, cap - n, f)) > 0) {
        n += r;
        if (n == cap) {
            cap *= 2;
            p = smt_xrealloc(p, cap + 1);
        }
    }
    fclose(f);
    p[n] = '\0';
    if (len != NULL) {
        *len = n;
    }
    return p;
}

static int is_str(const struct smt_val *v)
{
    return v != NULL && v->type == SMT_STRING;
}

/* NUL-terminated copy of a string node into the arena. */
static const char *cstr(struct smt_arena *a, const struct smt_val *v)
{
    return smt_arena_memdup(a, v->u.s.ptr, v->u.s.len);
}

static struct smt_val *mem(const struct smt_val *obj, const char *name)
{
    if (obj == NULL || obj->type != SMT_OBJECT) {
        return NULL;
    }
    return smt_obj_get(obj, name, strlen(name));
}

/* Appends bytes as a JSON string, or null. */
static void put_bytes(struct smt_buf *b, struct smt_bytes v)
{
    if (v.ptr == NULL) {
        smt_buf_adds(b, "null");
    } else {
        smt_json_write_str(b, v.ptr, v.len);
    }
}

static void put_ts(struct smt_buf *b, int64_t ts)
{
    if (ts == SMT_TS_NONE) {
        smt_buf_adds(b, "null");
    } else {
        smt_buf_printf(b, "%" PRId64, ts);
    }
}

/* The simple name of the Java exception class for an error code. */
static const char *simple_class(int code)
{
    const char *c = smt_err_class(code), *dot = strrchr(c, '.');

    return dot != NULL ? dot + 1 : c;
}

/* ---------------------------------------------------------------------- */
/* Typed values */

/* Writes a typed tree with the typed tags, for messages. */
static void dump_typed(struct smt_buf *b, const struct smt_val *v)
{
    char     num[40];
    uint32_t i;

    if (v == NULL) {
        smt_buf_adds(b, "(absent)");
        return;
    }
    switch (v->type) {
    case SMT_NULL:
        smt_buf_adds(b, "null");
        break;
    case SMT_BOOL:
        smt_buf_adds(b, v->u.b ? "true" : "false");
        break;
    case SMT_INT8:
    case SMT_INT16:
    case SMT_INT32:
        smt_buf_printf(b, "{\"$i%s\":%" PRId64 "}",
                       v->type == SMT_INT8 ? "8"
                       : v->type == SMT_INT16 ? "16"
                                              : "32",
                       v->u.i);
        break;
    case SMT_INT64:
        smt_buf_printf(b, "%" PRId64, v->u.i);
        break;
    case SMT_FLOAT32:
        smt_fmt_java_double(num, v->u.d, 1);
        smt_buf_printf(b, "{\"$f32\":%s}", num);
        break;
    case SMT_FLOAT64:
        smt_fmt_java_double(num, v->u.d, 0);
        smt_buf_adds(b, num);
        break;
    case SMT_STRING:
        smt_json_write_str(b, v->u.s.ptr, v->u.s.len);
        break;
    case SMT_BYTES:
        smt_buf_adds(b, "{\"$bytes\":\"");
        smt_base64_encode(b, (const unsigned char *)v->u.s.ptr, v->u.s.len);
        smt_buf_adds(b, "\"}");
        break;
    case SMT_DECIMAL:
        smt_buf_adds(b, "{\"$dec\":");
        smt_json_write_str(b, v->u.s.ptr, v->u.s.len);
        smt_buf_addc(b, '}');
        break;
    case SMT_DATE:
        smt_buf_printf(b, "{\"$date\":%" PRId64 "}", v->u.i);
        break;
    case SMT_ARRAY:
        smt_buf_addc(b, '[');
        for (i = 0; i < v->n; i++) {
            if (i > 0) {
                smt_buf_addc(b, ',');
            }
            dump_typed(b, v->u.items[i]);
        }
        smt_buf_addc(b, ']');
        break;
    case SMT_OBJECT:
        smt_buf_addc(b, '{');
        for (i = 0; i < v->n; i++) {
            if (i > 0) {
                smt_buf_addc(b, ',');
            }
            smt_json_write_str(b, v->u.members[i].key.ptr,
                               v->u.members[i].key.len);
            smt_buf_addc(b, ':');
            dump_typed(b, v->u.members[i].val);
        }
        smt_buf_addc(b, '}');
        break;
    default:
        smt_buf_printf(b, "(type %d)", v->type);
        break;
    }
}

/* Converts one typed tag {"$x": v}; returns NULL if obj is not a tag
 * (*bad stays 0), or NULL with *bad = 1 and why filled for a broken tag,
 * *bad = 2 for an unsupported one ($bigint). */
static struct smt_val *conv_tag(struct smt_arena *a, const struct smt_val *obj,
                                struct smt_buf *why, int *bad)
{
    struct smt_bytes      k;
    const struct smt_val *x;
    struct smt_val       *r;
    struct smt_bytes      bin;
    struct smt_err        err;
    int                   itype = 0;
    int64_t               lo = 0, hi = 0;

    if (obj->n != 1) {
        return NULL;
    }
    k = obj->u.members[0].key;
    x = obj->u.members[0].val;
    if (k.len < 2 || k.ptr[0] != '$') {
        return NULL;
    }
    if (smt_bytes_eqs(k, "$i8")) {
        itype = SMT_INT8, lo = INT8_MIN, hi = INT8_MAX;
    } else if (smt_bytes_eqs(k, "$i16")) {
        itype = SMT_INT16, lo = INT16_MIN, hi = INT16_MAX;
    } else if (smt_bytes_eqs(k, "$i32")) {
        itype = SMT_INT32, lo = INT32_MIN, hi = INT32_MAX;
    }
    if (itype != 0) {
        if (x->type != SMT_INT64 || x->u.i < lo || x->u.i > hi) {
            goto bad;
        }
        return smt_val_int(a, itype, x->u.i);
    }
    if (smt_bytes_eqs(k, "$f32")) {
        if (x->type != SMT_INT64 && x->type != SMT_FLOAT64) {
            goto bad;
        }
        return smt_val_float(a, SMT_FLOAT32,
                             (double)(float)smt_val_as_double(x));
    }
    if (smt_bytes_eqs(k, "$date")) {
        if (x->type != SMT_INT64) {
            goto bad;
        }
        r = smt_val_int(a, SMT_INT64, x->u.i);
        r->type = SMT_DATE;
        return r;
    }
    if (smt_bytes_eqs(k, "$dec")) {
        if (x->type != SMT_STRING) {
            goto bad;
        }
        return smt_val_str(a, SMT_DECIMAL, x->u.s.ptr, x->u.s.len);
    }
    if (smt_bytes_eqs(k, "$bytes")) {
        if (x->type != SMT_STRING ||
            smt_base64_decode(a, x->u.s.ptr, x->u.s.len, &bin, &err) != 0) {
            goto bad;
        }
        return smt_val_str(a, SMT_BYTES, bin.ptr, bin.len);
    }
    if (smt_bytes_eqs(k, "$bigint")) {
        *bad = 2;
        smt_buf_adds(why, "uses {\"$bigint\":..} (BigInteger has no type "
                          "in our value model)");
        return NULL;
    }
    return NULL;
bad:
    *bad = 1;
    smt_buf_printf(why, "bad typed tag %.*s\n", (int)k.len, k.ptr);
    return NULL;
}

/* Converts a parsed JSON tree with typed tags into typed values. Returns v
 * itself when nothing below it is tagged (so untouched nodes keep their
 * source text), new nodes without `raw` otherwise; NULL with *bad set
 * (see conv_tag) on a broken or unsupported tag. */
static struct smt_val *typed(struct smt_arena *a, struct smt_val *v,
                             struct smt_buf *why, int *bad)
{
    struct smt_val **kid;
    struct smt_val  *r;
    uint32_t         i;
    int              changed = 0;

    if (v->type != SMT_ARRAY && v->type != SMT_OBJECT) {
        return v;
    }
    if (v->type == SMT_OBJECT) {
        r = conv_tag(a, v, why, bad);
        if (r != NULL || *bad) {
            return r;
        }
    }
    if (v->n == 0) {
        return v;
    }
    kid = smt_arena_alloc(a, v->n * sizeof(*kid));
    for (i = 0; i < v->n; i++) {
        struct smt_val *c = v->type == SMT_ARRAY ? v->u.items[i]
                                                 : v->u.members[i].val;

        kid[i] = typed(a, c, why, bad);
        if (kid[i] == NULL) {
            return NULL;
        }
        changed |= kid[i] != c;
    }
    if (!changed) {
        return v;
    }
    if (v->type == SMT_ARRAY) {
        r = smt_val_array(a, v->n);
        for (i = 0; i < v->n; i++) {
            smt_arr_push(a, r, kid[i]);
        }
    } else {
        r = smt_val_object(a, v->n);
        for (i = 0; i < v->n; i++) {
            smt_obj_set(a, r, v->u.members[i].key.ptr, v->u.members[i].key.len,
                        kid[i]);
        }
    }
    r->raw = NULL;
    r->rawlen = 0;
    return r;
}

/* typed() with the outcome mapped to R_*. */
static int to_typed(struct smt_arena *a, struct smt_val *v, const char *what,
                    struct smt_val **out, struct smt_buf *why)
{
    int bad = 0;

    *out = typed(a, v, why, &bad);
    if (*out != NULL) {
        return R_PASS;
    }
    if (bad == 2) {
        return R_SKIP;
    }
    smt_buf_printf(why, "  runner: %s: cannot convert typed value\n", what);
    return R_FAIL;
}

/* The text Connect's SimpleHeaderConverter writes for a typed header value
 * (Values.convertToString); embedded strings are quoted. Returns -1 for a
 * type whose text depends on a schema we do not have. */
static int header_text(struct smt_buf *b, const struct smt_val *v, int embedded)
{
    char     num[40];
    uint32_t i;

    switch (v->type) {
    case SMT_NULL:
        smt_buf_adds(b, "null");
        return 0;
    case SMT_BOOL:
        smt_buf_adds(b, v->u.b ? "true" : "false");
        return 0;
    case SMT_INT8:
    case SMT_INT16:
    case SMT_INT32:
    case SMT_INT64:
        smt_buf_printf(b, "%" PRId64, v->u.i);
        return 0;
    case SMT_FLOAT32:
    case SMT_FLOAT64:
        smt_fmt_java_double(num, v->u.d, v->type == SMT_FLOAT32);
        smt_buf_adds(b, num);
        return 0;
    case SMT_DECIMAL:
        smt_buf_add(b, v->u.s.ptr, v->u.s.len);
        return 0;
    case SMT_STRING:
        if (embedded) {
            smt_json_write_str(b, v->u.s.ptr, v->u.s.len);
        } else {
            smt_buf_add(b, v->u.s.ptr, v->u.s.len);
        }
        return 0;
    case SMT_BYTES:
        smt_base64_encode(b, (const unsigned char *)v->u.s.ptr, v->u.s.len);
        return 0;
    case SMT_ARRAY:
        smt_buf_addc(b, '[');
        for (i = 0; i < v->n; i++) {
            if (i > 0) {
                smt_buf_addc(b, ',');
            }
            if (header_text(b, v->u.items[i], 1) != 0) {
                return -1;
            }
        }
        smt_buf_addc(b, ']');
        return 0;
    case SMT_OBJECT:
        smt_buf_addc(b, '{');
        for (i = 0; i < v->n; i++) {
            if (i > 0) {
                smt_buf_addc(b, ',');
            }
            smt_json_write_str(b, v->u.members[i].key.ptr,
                               v->u.members[i].key.len);
            smt_buf_addc(b, ':');
            if (header_text(b, v->u.members[i].val, 1) != 0) {
                return -1;
            }
        }
        smt_buf_addc(b, '}');
        return 0;
    default:
        return -1;
    }
}

/* ---------------------------------------------------------------------- */
/* Loading a chain (from YAML text, or a connector config file) */

struct loaded {
    struct smt_diags          d;
    struct smt_err            err; /* smt_chain_new */
    struct smt_ctree         *tree;
    struct smt_arena         *ca;  /* step confs */
    struct smt_chain_conf     cc;
    int                       have_cc;
    struct smt_pipeline_conf *pc;
    struct smt_chain         *chain;
};

static void loaded_init(struct loaded *L)
{
    memset(L, 0, sizeof(*L));
    smt_diags_init(&L->d);
    smt_err_clear(&L->err);
}

static void loaded_fini(struct loaded *L)
{
    if (L->chain != NULL) {
        smt_chain_free(L->chain);
    }
    if (L->have_cc) {
        smt_chain_conf_fini(&L->cc);
    }
    if (L->ca != NULL) {
        smt_arena_free(L->ca);
    }
    if (L->tree != NULL) {
        smt_ctree_free(L->tree);
    }
    if (L->pc != NULL) {
        smt_pipeline_conf_free(L->pc);
    }
    smt_diags_fini(&L->d);
}

/* Loads the YAML document text: a map with the step list under "ste" (a
 * three-letter key so that `ste: [` lines up with `step: ` in a case file
 * and positions in messages are true file:line:col) or "steps", and an
 * optional "predicates". Returns 0, or -1 (diagnostics in L). */
static int load_yaml(struct loaded *L, const char *name, const char *text)
{
    const struct smt_cnode *seq, *preds;

    L->tree = smt_ctree_yaml_buf(name, text, strlen(text), &L->d);
    if (L->tree == NULL) {
        return -1;
    }
    seq = smt_cnode_get(L->tree->root, "ste");
    if (seq == NULL) {
        seq = smt_cnode_get(L->tree->root, "steps");
    }
    preds = smt_cnode_get(L->tree->root, "predicates");
    if (seq == NULL) {
        return smt_diag(&L->d, NULL, "runner: no step list in '%s'", text);
    }
    L->ca = smt_arena_new(4096);
    L->have_cc = 1;
    if (smt_chain_conf_load(&L->cc, seq, preds, L->ca, &L->d) != 0) {
        return -1;
    }
    L->chain = smt_chain_new(&L->cc, &L->err);
    return L->chain != NULL ? 0 : -1;
}

/* Loads a Kafka Connect connector config (JSON text) through the pipeline
 * loader, via a temporary .json file, and instantiates route 0's chain. */
static int load_connector(struct loaded *L, struct smt_bytes json)
{
    char    path[] = "/tmp/run_cases_XXXXXX.json";
    int     fd;
    ssize_t w;

    fd = mkstemps(path, 5);
    if (fd < 0) {
        return smt_diag(&L->d, NULL, "runner: mkstemps: %s", strerror(errno));
    }
    w = write(fd, json.ptr, json.len);
    close(fd);
    if (w != (ssize_t)json.len) {
        unlink(path);
        return smt_diag(&L->d, NULL, "runner: cannot write %s", path);
    }
    L->pc = smt_pipeline_conf_load(path, &L->d);
    unlink(path);
    if (L->pc == NULL) {
        return -1;
    }
    if (L->pc->nroutes < 1) {
        L->err.code = SMT_E_CONFIG;
        snprintf(L->err.msg, sizeof(L->err.msg),
                 "runner: the connector config gave no route");
        return -1;
    }
    L->chain = smt_chain_new(&L->pc->routes[0].chain, &L->err);
    return L->chain != NULL ? 0 : -1;
}

/* 1 when some diagnostic (or the instantiation error) contains sub. */
static int config_has(const struct loaded *L, const char *sub)
{
    uint32_t i;

    for (i = 0; i < L->d.n; i++) {
        if (sub == NULL || strstr(L->d.msg[i], sub) != NULL) {
            return 1;
        }
    }
    return L->err.code != 0 && (sub == NULL || strstr(L->err.msg, sub));
}

static void put_config_errors(struct smt_buf *why, const struct loaded *L)
{
    uint32_t i;

    for (i = 0; i < L->d.n; i++) {
        smt_buf_printf(why, "    %s\n", L->d.msg[i]);
    }
    if (L->err.code != 0) {
        smt_buf_printf(why, "    %s: %s\n", simple_class(L->err.code),
                       L->err.msg);
    }
    if (L->d.n == 0 && L->err.code == 0) {
        smt_buf_adds(why, "    (no diagnostic at all)\n");
    }
}

/* Judges a load against a config expectation. */
static int judge_config(const struct loaded *L, int rc, const struct expect *x,
                        struct smt_buf *why)
{
    if (x->kind == X_VALID) {
        if (rc == 0) {
            return R_PASS;
        }
        smt_buf_adds(why, "  expected the config to load, got:\n");
        put_config_errors(why, L);
        return R_FAIL;
    }
    if (rc == 0) {
        smt_buf_printf(why, "  expected a config error containing '%s', "
                            "the config loaded\n",
                       x->msg ? x->msg : "");
        return R_FAIL;
    }
    if (L->d.n == 0 && L->err.code == 0) {
        smt_buf_adds(why, "  config rejected without any diagnostic\n");
        return R_FAIL;
    }
    if (L->d.n == 0 && L->err.code != SMT_E_CONFIG) {
        smt_buf_printf(why, "  expected ConfigException, got %s: %s\n",
                       simple_class(L->err.code), L->err.msg);
        return R_FAIL;
    }
    if (!config_has(L, x->msg)) {
        smt_buf_printf(why, "  expected a config error containing '%s', "
                            "got:\n",
                       x->msg);
        put_config_errors(why, L);
        return R_FAIL;
    }
    if (opt_verbose) {
        printf("     (config error: %s)\n",
               L->d.n > 0 ? L->d.msg[0] : L->err.msg);
    }
    return R_PASS;
}

/* ---------------------------------------------------------------------- */
/* Input records */

/* The input as it was, for %%SAME. */
struct snap {
    struct smt_bytes         topic;
    int32_t                  partition;
    int64_t                  ts;
    struct smt_bytes         raw[2];
    struct smt_val          *doc[2]; /* typed input (a private copy), or NULL */
    const struct smt_schema *schema[2];
    int                      fmt[2];
    struct smt_header       *hdrs;
    uint32_t                 nhdrs;
};

static struct smt_data *side_data(struct smt_record *rec, int side)
{
    return side == SMT_KEY ? &rec->key : &rec->value;
}

/* Sets up one side of the input: raw bytes (*_raw), or a typed value,
 * schemaless or with a Connect schema (the JSON envelope format). */
static int set_side(struct smt_arena *a, struct smt_record *rec, int side,
                    struct smt_val *val, const struct smt_val *schema,
                    const struct smt_val *raw, struct smt_buf *why)
{
    struct smt_data   *dd = side_data(rec, side);
    const char        *name = side == SMT_KEY ? "key" : "value";
    struct smt_schema *s = NULL;
    struct smt_val    *t;
    struct smt_err     err;
    int                rc;

    smt_err_clear(&err);
    if (raw != NULL) {
        if (val != NULL || schema != NULL) {
            smt_buf_printf(why, "  runner: %s_raw with %s or a schema\n",
                           name, name);
            return R_FAIL;
        }
        if (is_str(raw)) {
            dd->raw.ptr = smt_arena_memdup(a, raw->u.s.ptr, raw->u.s.len);
            dd->raw.len = raw->u.s.len;
        } else if (raw->type != SMT_NULL) {
            smt_buf_printf(why, "  runner: %s_raw must be a string or null\n",
                           name);
            return R_FAIL;
        }
        dd->state = SMT_DS_RAW;
        return R_PASS;
    }
    if (schema != NULL && schema->type != SMT_NULL) {
        s = smt_schema_from_json(a, schema, &err);
        if (s == NULL) {
            smt_buf_printf(why, "  runner: input %s schema: %s\n", name,
                           err.msg);
            return R_FAIL;
        }
        dd->fmt = SMT_FMT_JSON_ENVELOPE;
        dd->schema = s;
    }
    if (val == NULL) {
        if (s == NULL) {
            return R_PASS; /* null */
        }
        val = &null_node;
    }
    if (val->type == SMT_NULL && s == NULL) {
        return R_PASS; /* null: a tombstone value / null key */
    }
    rc = to_typed(a, val, name, &t, why);
    if (rc != R_PASS) {
        return rc;
    }
    if (s != NULL) {
        struct smt_buf b;

        smt_buf_init(&b);
        if (smt_envelope_write(&b, t, s, &err) != 0) {
            smt_buf_printf(why, "  runner: input %s does not fit its schema: "
                                "%s\n",
                           name, err.msg);
            smt_buf_fini(&b);
            return R_FAIL;
        }
        dd->raw.ptr = smt_arena_memdup(a, b.ptr ? b.ptr : "", b.len);
        dd->raw.len = b.len;
        smt_buf_fini(&b);
    } else if (smt_json_write_arena(a, t, &dd->raw, &err) != 0) {
        smt_buf_printf(why, "  runner: input %s cannot be written: %s\n", name,
                       err.msg);
        return R_FAIL;
    }
    dd->doc = t;
    dd->state = SMT_DS_SHARED;
    return R_PASS;
}

/* Adds the input headers: case files [[name, text|null]]; vectors
 * [name, typed value, schemaType] whose text is a string as-is, others
 * their JSON text. */
static int set_headers(struct smt_arena *a, struct smt_record *rec,
                       const struct smt_val *hs, struct smt_buf *why)
{
    uint32_t i;

    if (hs->type != SMT_ARRAY) {
        smt_buf_adds(why, "  runner: in.headers must be an array\n");
        return R_FAIL;
    }
    for (i = 0; i < hs->n; i++) {
        const struct smt_val *h = hs->u.items[i], *hv;
        struct smt_bytes      name, value = SMT_BYTES_NULL;
        struct smt_val       *t;
        struct smt_err        err;
        int                   rc;

        if (h->type != SMT_ARRAY || h->n < 2 || !is_str(h->u.items[0])) {
            smt_buf_adds(why, "  runner: a header must be [name, value, ..]\n");
            return R_FAIL;
        }
        name = h->u.items[0]->u.s;
        hv = h->u.items[1];
        if (is_str(hv)) {
            value = hv->u.s;
        } else if (hv->type != SMT_NULL) {
            rc = to_typed(a, (struct smt_val *)hv, "header", &t, why);
            if (rc != R_PASS) {
                return rc;
            }
            if (smt_json_write_arena(a, t, &value, &err) != 0) {
                smt_buf_printf(why, "  runner: header: %s\n", err.msg);
                return R_FAIL;
            }
        }
        smt_record_header_add(rec, name, value);
    }
    return R_PASS;
}

static int get_int(const struct smt_val *v, int64_t *out)
{
    if (v->type != SMT_INT64) {
        return -1;
    }
    *out = v->u.i;
    return 0;
}

/* Builds rec from the `in` object and takes the snapshot. */
static int build_record(struct smt_arena *a, struct smt_record *rec,
                        const struct smt_val *in, struct snap *sn,
                        struct smt_buf *why)
{
    static const char *const known[] = {
        "topic", "partition", "offset", "timestamp", "ts", "key", "value",
        "headers", "schema", "key_schema", "key_raw", "value_raw", NULL};
    struct smt_val *v;
    uint32_t        i;
    int             rc, side;
    int64_t         n;

    smt_record_init(rec, a, SMT_FMT_JSON, SMT_FMT_JSON);
    rec->topic = SMT_BYTES_LIT("test");
    rec->partition = 0;
    rec->offset = 0;
    rec->ts_ms = SMT_TS_NONE;
    if (in == NULL) {
        in = &null_node;
    }
    if (in->type != SMT_OBJECT && in->type != SMT_NULL) {
        smt_buf_adds(why, "  runner: `in` must be a JSON object\n");
        return R_FAIL;
    }
    for (i = 0; in->type == SMT_OBJECT && i < in->n; i++) {
        size_t k;

        for (k = 0; known[k] != NULL; k++) {
            if (smt_bytes_eqs(in->u.members[i].key, known[k])) {
                break;
            }
        }
        if (known[k] == NULL) {
            smt_buf_printf(why, "  runner: unknown input member '%.*s'\n",
                           (int)in->u.members[i].key.len,
                           in->u.members[i].key.ptr);
            return R_FAIL;
        }
    }
    if ((v = mem(in, "topic")) != NULL) {
        if (!is_str(v)) {
            smt_buf_adds(why, "  runner: in.topic must be a string\n");
            return R_FAIL;
        }
        rec->topic = v->u.s;
    }
    if ((v = mem(in, "partition")) != NULL) {
        if (v->type == SMT_NULL) {
            rec->partition = -1;
        } else if (get_int(v, &n) != 0) {
            smt_buf_adds(why, "  runner: in.partition must be an integer\n");
            return R_FAIL;
        } else {
            rec->partition = (int32_t)n;
        }
    }
    if ((v = mem(in, "offset")) != NULL && get_int(v, &rec->offset) != 0) {
        smt_buf_adds(why, "  runner: in.offset must be an integer\n");
        return R_FAIL;
    }
    if ((v = mem(in, "timestamp")) != NULL || (v = mem(in, "ts")) != NULL) {
        if (v->type != SMT_NULL && get_int(v, &rec->ts_ms) != 0) {
            smt_buf_adds(why, "  runner: in.timestamp must be an integer\n");
            return R_FAIL;
        }
    }
    rc = set_side(a, rec, SMT_KEY, mem(in, "key"), mem(in, "key_schema"),
                  mem(in, "key_raw"), why);
    if (rc == R_PASS) {
        rc = set_side(a, rec, SMT_VALUE, mem(in, "value"), mem(in, "schema"),
                      mem(in, "value_raw"), why);
    }
    if (rc == R_PASS && (v = mem(in, "headers")) != NULL) {
        rc = set_headers(a, rec, v, why);
    }
    if (rc != R_PASS) {
        return rc;
    }
    sn->topic = rec->topic;
    sn->partition = rec->partition;
    sn->ts = rec->ts_ms;
    for (side = 0; side < 2; side++) {
        struct smt_data *dd = side_data(rec, side);

        sn->raw[side] = dd->raw;
        sn->doc[side] = dd->doc ? smt_val_clone(a, dd->doc) : NULL;
        sn->schema[side] = dd->schema;
        sn->fmt[side] = dd->fmt;
    }
    sn->nhdrs = rec->nhdrs;
    sn->hdrs = smt_arena_alloc(a, (rec->nhdrs + 1) * sizeof(*sn->hdrs));
    if (rec->nhdrs > 0) {
        memcpy(sn->hdrs, rec->hdrs, rec->nhdrs * sizeof(*sn->hdrs));
    }
    return R_PASS;
}

/* ---------------------------------------------------------------------- */
/* Comparing outputs */

static void put_headers(struct smt_buf *b, const struct smt_header *h,
                        uint32_t n)
{
    uint32_t i;

    smt_buf_addc(b, '[');
    for (i = 0; i < n; i++) {
        smt_buf_adds(b, i ? ",[" : "[");
        put_bytes(b, h[i].name);
        smt_buf_addc(b, ',');
        put_bytes(b, h[i].value);
        smt_buf_addc(b, ']');
    }
    smt_buf_addc(b, ']');
}

static int headers_eq(const struct smt_header *x, uint32_t nx,
                      const struct smt_header *y, uint32_t ny)
{
    uint32_t i;

    if (nx != ny) {
        return 0;
    }
    for (i = 0; i < nx; i++) {
        if (!smt_bytes_eq(x[i].name, y[i].name) ||
            !smt_bytes_eq(x[i].value, y[i].value)) {
            return 0;
        }
    }
    return 1;
}

static int cmp_headers(struct smt_buf *why, const struct smt_header *want,
                       uint32_t nwant, const struct smt_record *rec)
{
    if (headers_eq(want, nwant, rec->hdrs, rec->nhdrs)) {
        return R_PASS;
    }
    smt_buf_adds(why, "  headers: expected ");
    put_headers(why, want, nwant);
    smt_buf_adds(why, ", got ");
    put_headers(why, rec->hdrs, rec->nhdrs);
    smt_buf_addc(why, '\n');
    return R_FAIL;
}

static int cmp_typed(struct smt_buf *why, const char *label,
                     const struct smt_val *want, const struct smt_val *got)
{
    if (smt_val_equal(want ? want : &null_node, got ? got : &null_node)) {
        return R_PASS;
    }
    smt_buf_printf(why, "  %s: expected ", label);
    dump_typed(why, want);
    smt_buf_adds(why, ", got ");
    dump_typed(why, got);
    smt_buf_addc(why, '\n');
    return R_FAIL;
}

static void schema_text(struct smt_buf *b, const struct smt_schema *s)
{
    if (s == NULL) {
        smt_buf_adds(b, "null");
    } else {
        smt_schema_write_json(b, s);
    }
}

static int cmp_schema(struct smt_buf *why, const char *label,
                      const struct smt_schema *want,
                      const struct smt_schema *got)
{
    struct smt_buf bw, bg;
    int            rc = R_PASS;

    smt_buf_init(&bw);
    smt_buf_init(&bg);
    schema_text(&bw, want);
    schema_text(&bg, got);
    if (bw.len != bg.len || (bw.len > 0 && memcmp(bw.ptr, bg.ptr, bw.len))) {
        smt_buf_printf(why, "  %s: expected %.*s, got %.*s\n", label,
                       (int)bw.len, bw.ptr, (int)bg.len, bg.ptr);
        rc = R_FAIL;
    }
    smt_buf_fini(&bw);
    smt_buf_fini(&bg);
    return rc;
}

/* The decoded output side (decoding it if no step did). */
static const struct smt_val *out_doc(struct smt_record *rec, int side,
                                     struct smt_buf *why, int *ok)
{
    struct smt_err        err;
    const struct smt_val *v;

    smt_err_clear(&err);
    v = smt_record_doc(rec, side, &err);
    if (v == NULL) {
        smt_buf_printf(why, "  %s: output does not decode: %s: %s\n",
                       side == SMT_KEY ? "key" : "value",
                       simple_class(err.code), err.msg);
        *ok = 0;
    }
    return v;
}

/* %%SAME: topic, partition, timestamp, key, value, schemas and headers as
 * they came in; a side no step changed keeps its exact bytes. */
static int check_same(struct smt_arena *a, struct smt_record *rec,
                      const struct snap *sn, struct smt_buf *why)
{
    int rc = R_PASS, side;

    if (!smt_bytes_eq(rec->topic, sn->topic)) {
        smt_buf_printf(why, "  topic: expected '%.*s', got '%.*s'\n",
                       (int)sn->topic.len, sn->topic.ptr, (int)rec->topic.len,
                       rec->topic.ptr ? rec->topic.ptr : "(null)");
        rc = R_FAIL;
    }
    if (rec->partition != sn->partition || rec->ts_ms != sn->ts) {
        smt_buf_printf(why, "  partition/timestamp: expected %d/",
                       (int)sn->partition);
        put_ts(why, sn->ts);
        smt_buf_printf(why, ", got %d/", (int)rec->partition);
        put_ts(why, rec->ts_ms);
        smt_buf_addc(why, '\n');
        rc = R_FAIL;
    }
    if (cmp_headers(why, sn->hdrs, sn->nhdrs, rec) != R_PASS) {
        rc = R_FAIL;
    }
    for (side = 0; side < 2; side++) {
        struct smt_data      *dd = side_data(rec, side);
        const char           *name = side == SMT_KEY ? "key" : "value";
        const struct smt_val *want = sn->doc[side];
        int                   ok = 1;

        if (dd->state != SMT_DS_DIRTY) {
            if (!smt_bytes_eq(dd->raw, sn->raw[side])) {
                smt_buf_printf(why, "  %s bytes: expected ", name);
                put_bytes(why, sn->raw[side]);
                smt_buf_adds(why, ", got ");
                put_bytes(why, dd->raw);
                smt_buf_addc(why, '\n');
                rc = R_FAIL;
            }
            if (dd->doc == NULL || want == NULL) {
                continue;
            }
        } else if (want == NULL) {
            struct smt_err           err;
            const struct smt_schema *s = NULL;

            smt_err_clear(&err);
            if (sn->raw[side].ptr != NULL) {
                want = smt_decode(a, sn->fmt[side], sn->raw[side], &s, &err);
                if (want == NULL) {
                    smt_buf_printf(why, "  %s: input did not decode (%s) but "
                                        "the side was changed\n",
                                   name, err.msg);
                    rc = R_FAIL;
                    continue;
                }
            }
        }
        if (cmp_typed(why, name, want, out_doc(rec, side, why, &ok)) !=
                R_PASS ||
            !ok) {
            rc = R_FAIL;
        }
        if (sn->schema[side] != dd->schema &&
            cmp_schema(why, side == SMT_KEY ? "key_schema" : "schema",
                       sn->schema[side], dd->schema) != R_PASS) {
            rc = R_FAIL;
        }
    }
    return rc;
}

/* Expected headers from `out.headers`: case files [[name, text|null]];
 * vectors [name, typed value, schemaType] with wire_bytes {name: text}
 * overriding the SimpleHeaderConverter text. */
static int want_headers(struct smt_arena *a, const struct smt_val *hs,
                        const struct smt_val *wire, int vector,
                        struct smt_header **out, uint32_t *nout,
                        struct smt_buf *why)
{
    struct smt_header *h;
    uint32_t           i;

    if (hs->type != SMT_ARRAY) {
        smt_buf_adds(why, "  runner: out.headers must be an array\n");
        return R_FAIL;
    }
    h = smt_arena_calloc(a, (hs->n + 1) * sizeof(*h));
    for (i = 0; i < hs->n; i++) {
        const struct smt_val *e = hs->u.items[i], *hv, *w = NULL;
        struct smt_val       *t;
        struct smt_buf        b;
        int                   rc;

        if (e->type != SMT_ARRAY || e->n < 2 || !is_str(e->u.items[0])) {
            smt_buf_adds(why, "  runner: a header must be [name, value, ..]\n");
            return R_FAIL;
        }
        h[i].name = e->u.items[0]->u.s;
        hv = e->u.items[1];
        if (wire != NULL) {
            w = smt_obj_get(wire, h[i].name.ptr, h[i].name.len);
        }
        if (w != NULL) {
            h[i].value = is_str(w) ? w->u.s : SMT_BYTES_NULL;
            continue;
        }
        if (hv->type == SMT_NULL) {
            continue; /* null header */
        }
        if (is_str(hv)) {
            h[i].value = hv->u.s;
            continue;
        }
        if (!vector) {
            smt_buf_adds(why, "  runner: header values are text or null\n");
            return R_FAIL;
        }
        rc = to_typed(a, (struct smt_val *)hv, "header", &t, why);
        if (rc != R_PASS) {
            return rc;
        }
        smt_buf_init(&b);
        if (header_text(&b, t, 0) != 0) {
            smt_buf_fini(&b);
            smt_buf_printf(why, "  runner: no header text for header %zu\n",
                           (size_t)i);
            return R_FAIL;
        }
        h[i].value.ptr = smt_arena_memdup(a, b.ptr ? b.ptr : "", b.len);
        h[i].value.len = b.len;
        smt_buf_fini(&b);
    }
    *out = h;
    *nout = hs->n;
    return R_PASS;
}

/* Compares the parts given in `out`. */
static int check_out(struct smt_arena *a, struct smt_record *rec,
                     const struct smt_val *out, int vector,
                     struct smt_buf *why)
{
    struct smt_err err;
    int            rc = R_PASS, encoded = 0;
    uint32_t       i;

    if (out->type != SMT_OBJECT) {
        smt_buf_adds(why, "  runner: `out` must be an object\n");
        return R_FAIL;
    }
    for (i = 0; i < out->n; i++) {
        struct smt_bytes k = out->u.members[i].key;
        struct smt_val  *v = out->u.members[i].val;
        int              side = -1, r = R_PASS;

        if (smt_bytes_eqs(k, "key") || smt_bytes_eqs(k, "key_raw") ||
            smt_bytes_eqs(k, "key_schema")) {
            side = SMT_KEY;
        } else if (smt_bytes_eqs(k, "value") || smt_bytes_eqs(k, "value_raw") ||
                   smt_bytes_eqs(k, "schema")) {
            side = SMT_VALUE;
        }
        if (smt_bytes_eqs(k, "topic")) {
            if (!is_str(v) || !smt_bytes_eq(v->u.s, rec->topic)) {
                smt_buf_adds(why, "  topic: expected ");
                dump_typed(why, v);
                smt_buf_adds(why, ", got ");
                put_bytes(why, rec->topic);
                smt_buf_addc(why, '\n');
                r = R_FAIL;
            }
        } else if (smt_bytes_eqs(k, "partition")) {
            int64_t want = -1;

            if ((v->type != SMT_NULL && get_int(v, &want) != 0) ||
                want != rec->partition) {
                smt_buf_printf(why, "  partition: expected %" PRId64
                                    ", got %d\n",
                               want, (int)rec->partition);
                r = R_FAIL;
            }
        } else if (smt_bytes_eqs(k, "timestamp") || smt_bytes_eqs(k, "ts")) {
            int64_t want = SMT_TS_NONE;

            if ((v->type != SMT_NULL && get_int(v, &want) != 0) ||
                want != rec->ts_ms) {
                smt_buf_adds(why, "  timestamp: expected ");
                put_ts(why, want);
                smt_buf_adds(why, ", got ");
                put_ts(why, rec->ts_ms);
                smt_buf_addc(why, '\n');
                r = R_FAIL;
            }
        } else if (smt_bytes_eqs(k, "key") || smt_bytes_eqs(k, "value")) {
            struct smt_val       *want;
            const struct smt_val *got;
            int                   ok = 1;

            r = to_typed(a, v, side == SMT_KEY ? "key" : "value", &want, why);
            if (r == R_PASS) {
                got = out_doc(rec, side, why, &ok);
                r = ok ? cmp_typed(why, side == SMT_KEY ? "key" : "value",
                                   want, got)
                       : R_FAIL;
            }
        } else if (smt_bytes_eqs(k, "key_raw") ||
                   smt_bytes_eqs(k, "value_raw")) {
            struct smt_bytes want = is_str(v) ? v->u.s : SMT_BYTES_NULL;
            struct smt_bytes got;

            if (!encoded) {
                smt_err_clear(&err);
                if (smt_record_encode(rec, &err) != 0) {
                    smt_buf_printf(why, "  encode failed: %s: %s\n",
                                   simple_class(err.code), err.msg);
                    return R_FAIL;
                }
                encoded = 1;
            }
            got = side_data(rec, side)->raw;
            if (!smt_bytes_eq(want, got)) {
                smt_buf_printf(why, "  %.*s: expected ", (int)k.len, k.ptr);
                put_bytes(why, want);
                smt_buf_adds(why, ", got ");
                put_bytes(why, got);
                smt_buf_addc(why, '\n');
                r = R_FAIL;
            }
        } else if (smt_bytes_eqs(k, "schema") ||
                   smt_bytes_eqs(k, "key_schema")) {
            const struct smt_schema *want = NULL;

            smt_err_clear(&err);
            if (v->type != SMT_NULL &&
                (want = smt_schema_from_json(a, v, &err)) == NULL) {
                smt_buf_printf(why, "  runner: out.%.*s: %s\n", (int)k.len,
                               k.ptr, err.msg);
                r = R_FAIL;
            } else {
                r = cmp_schema(why, side == SMT_KEY ? "key_schema" : "schema",
                               want, side_data(rec, side)->schema);
            }
        } else if (smt_bytes_eqs(k, "headers")) {
            struct smt_header *want = NULL;
            uint32_t           nwant = 0;

            r = want_headers(a, v, mem(out, "wire_bytes"), vector, &want,
                             &nwant, why);
            if (r == R_PASS) {
                r = cmp_headers(why, want, nwant, rec);
            }
        } else if (smt_bytes_eqs(k, "wire_bytes")) {
            uint32_t j;

            if (mem(out, "headers") != NULL) {
                continue; /* used with headers */
            }
            for (j = 0; v->type == SMT_OBJECT && j < v->n; j++) {
                const struct smt_header *h = smt_record_header_last(
                    rec, v->u.members[j].key);
                struct smt_bytes want = is_str(v->u.members[j].val)
                                            ? v->u.members[j].val->u.s
                                            : SMT_BYTES_NULL;

                if (h == NULL || !smt_bytes_eq(h->value, want)) {
                    smt_buf_printf(why, "  header '%.*s': expected ",
                                   (int)v->u.members[j].key.len,
                                   v->u.members[j].key.ptr);
                    put_bytes(why, want);
                    smt_buf_adds(why, ", got ");
                    if (h == NULL) {
                        smt_buf_adds(why, "no such header");
                    } else {
                        put_bytes(why, h->value);
                    }
                    smt_buf_addc(why, '\n');
                    r = R_FAIL;
                }
            }
        } else {
            smt_buf_printf(why, "  runner: unknown out member '%.*s'\n",
                           (int)k.len, k.ptr);
            r = R_FAIL;
        }
        if (r == R_SKIP) {
            return R_SKIP;
        }
        if (r != R_PASS) {
            rc = R_FAIL;
        }
    }
    return rc;
}

static int msg_matches(const char *got, const char *want, int how)
{
    if (want == NULL) {
        return 1;
    }
    switch (how) {
    case M_EXACT:
        return strcmp(got, want) == 0;
    case M_SUBSTR:
        return strstr(got, want) != NULL;
    default:
        return strncmp(got, want, strlen(want)) == 0;
    }
}

static const char *verdict_name(enum smt_verdict v)
{
    return v == SMT_PASS ? "a record" : v == SMT_DROP ? "DROP" : "FAIL";
}

/* `out: [{...}, {...}]`: a step split the record (1->N); the records that
 * came out, in order, each compared like a single `out`. */
static int check_outs(struct smt_arena *a, struct smt_record *rec,
                      const struct smt_val *outs, struct smt_buf *why)
{
    uint32_t j, n = rec->nsplit + 1;
    int      rc = R_PASS;

    if (outs->n != n) {
        smt_buf_printf(why, "  expected %u records, got %u\n",
                       (unsigned)outs->n, (unsigned)n);
        return R_FAIL;
    }
    for (j = 0; j < n; j++) {
        struct smt_record *p = j == 0 ? rec : &rec->split[j - 1];

        if (check_out(a, p, outs->u.items[j], 0, why) != R_PASS) {
            smt_buf_printf(why, "  (in record %u of %u)\n", (unsigned)j + 1,
                           (unsigned)n);
            rc = R_FAIL;
        }
    }
    return rc;
}

/* Runs one input record through chain and judges the outcome. */
static int run_record(struct smt_chain *chain, const struct smt_val *in,
                      const struct expect *x, struct smt_buf *why)
{
    struct smt_arena *a = smt_arena_new(8192);
    struct smt_record rec;
    struct snap       sn;
    struct smt_err    err;
    enum smt_verdict  v;
    uint32_t          failed = 0;
    int               rc;

    memset(&sn, 0, sizeof(sn));
    rc = build_record(a, &rec, in, &sn, why);
    if (rc != R_PASS) {
        goto done;
    }
    smt_err_clear(&err);
    v = smt_chain_apply(chain, &rec, &err, &failed);
    if (x->kind == X_FAIL) {
        if (v != SMT_FAIL) {
            smt_buf_printf(why, "  expected FAIL %s '%s', got %s\n",
                           x->cls ? x->cls : "", x->msg ? x->msg : "",
                           verdict_name(v));
            rc = R_FAIL;
        } else if ((x->cls != NULL &&
                    strcmp(x->cls, simple_class(err.code)) != 0) ||
                   !msg_matches(err.msg, x->msg, x->how)) {
            smt_buf_printf(why, "  expected %s%s '%s', got %s: '%s'\n",
                           x->cls ? x->cls : "(any class)",
                           x->how == M_EXACT    ? ""
                           : x->how == M_SUBSTR ? " containing"
                                                : " starting",
                           x->msg ? x->msg : "", simple_class(err.code),
                           err.msg);
            rc = R_FAIL;
        }
        goto done;
    }
    if (v == SMT_FAIL) {
        smt_buf_printf(why, "  expected %s, got FAIL at step %u: %s: %s\n",
                       x->kind == X_DROP ? "DROP" : "a record",
                       (unsigned)failed, simple_class(err.code), err.msg);
        rc = R_FAIL;
        goto done;
    }
    if (x->kind == X_DROP) {
        if (v != SMT_DROP) {
            smt_buf_adds(why, "  expected DROP, got a record\n");
            rc = R_FAIL;
        }
        goto done;
    }
    if (v == SMT_DROP) {
        smt_buf_adds(why, "  expected a record, got DROP\n");
        rc = R_FAIL;
        goto done;
    }
    if (x->kind == X_OUT && x->out->type == SMT_ARRAY) {
        rc = check_outs(a, &rec, x->out, why);
        goto done;
    }
    if (rec.nsplit != 0) {
        smt_buf_printf(why, "  expected one record, got %u\n",
                       (unsigned)rec.nsplit + 1);
        rc = R_FAIL;
        goto done;
    }
    rc = x->kind == X_SAME ? check_same(a, &rec, &sn, why)
                           : check_out(a, &rec, x->out, x->vector, why);
done:
    smt_arena_free(a);
    return rc;
}

/* ---------------------------------------------------------------------- */
/* Case files */

struct block {
    uint32_t    line; /* first line of the block */
    uint32_t    step_line, preds_line;
    const char *step, *steps, *preds, *in, *out, *config;
};

/* Parses the text after `out:` or `config:` into x. */
static int parse_expect(struct smt_arena *ja, const char *text, int config,
                        struct expect *x, struct smt_buf *why)
{
    struct smt_err err;

    memset(x, 0, sizeof(*x));
    if (config) {
        if (strncmp(text, "%%CONFIG", 8) != 0) {
            smt_buf_adds(why, "  runner: config: must be %%CONFIG <text>\n");
            return R_FAIL;
        }
        x->kind = X_CONFIG;
        x->msg = text + 8 + strspn(text + 8, " ");
        x->how = M_SUBSTR;
        return R_PASS;
    }
    if (strcmp(text, "%%SAME") == 0) {
        x->kind = X_SAME;
    } else if (strcmp(text, "%%DROP") == 0) {
        x->kind = X_DROP;
    } else if (strncmp(text, "%%FAIL", 6) == 0) {
        const char *p = text + 6 + strspn(text + 6, " ");
        size_t      n = strcspn(p, " ");

        x->kind = X_FAIL;
        x->how = M_PREFIX;
        if (n == 0) {
            smt_buf_adds(why, "  runner: %%FAIL needs an exception name\n");
            return R_FAIL;
        }
        x->cls = smt_arena_memdup(ja, p, n);
        x->msg = p[n] == ' ' ? p + n + 1 : p + n;
    } else if (strncmp(text, "%%", 2) == 0) {
        smt_buf_printf(why, "  runner: unknown directive '%s'\n", text);
        return R_FAIL;
    } else {
        x->kind = X_OUT;
        smt_err_clear(&err);
        x->out = smt_json_parse(ja, text, strlen(text), &err);
        if (x->out == NULL) {
            smt_buf_printf(why, "  runner: out: bad JSON: %s\n", err.msg);
            return R_FAIL;
        }
    }
    return R_PASS;
}

static int run_block(const char *file, const struct block *bk,
                     struct smt_buf *why)
{
    struct smt_arena *ja = smt_arena_new(4096);
    struct smt_buf    y;
    struct loaded     L;
    struct expect     x;
    struct smt_val   *in = NULL;
    struct smt_err    err;
    uint32_t          ln, last;
    int               rc, lr;

    loaded_init(&L);
    smt_buf_init(&y);
    if ((bk->step == NULL) == (bk->steps == NULL)) {
        smt_buf_adds(why, "  runner: a block needs exactly one of step: and "
                          "steps:\n");
        rc = R_FAIL;
        goto done;
    }
    if ((bk->out == NULL) == (bk->config == NULL)) {
        smt_buf_adds(why, "  runner: a block needs exactly one of out: and "
                          "config:\n");
        rc = R_FAIL;
        goto done;
    }
    rc = parse_expect(ja, bk->out ? bk->out : bk->config, bk->config != NULL,
                      &x, why);
    if (rc != R_PASS) {
        goto done;
    }
    if (bk->in != NULL) {
        smt_err_clear(&err);
        in = smt_json_parse(ja, bk->in, strlen(bk->in), &err);
        if (in == NULL) {
            smt_buf_printf(why, "  runner: in: bad JSON: %s\n", err.msg);
            rc = R_FAIL;
            goto done;
        }
    }
    /* The YAML document keeps each line where it is in the case file. */
    last = bk->step_line > bk->preds_line ? bk->step_line : bk->preds_line;
    for (ln = 1; ln <= last; ln++) {
        if (ln == bk->step_line) {
            if (bk->step != NULL) {
                smt_buf_printf(&y, "ste: [%s]", bk->step);
            } else {
                smt_buf_printf(&y, "steps: %s", bk->steps);
            }
        } else if (ln == bk->preds_line) {
            smt_buf_printf(&y, "predicates: %s", bk->preds);
        }
        smt_buf_addc(&y, '\n');
    }
    smt_buf_addc(&y, '\0');
    lr = load_yaml(&L, file, y.ptr);
    if (x.kind == X_CONFIG) {
        rc = judge_config(&L, lr, &x, why);
        goto done;
    }
    if (lr != 0) {
        smt_buf_adds(why, "  the config did not load:\n");
        put_config_errors(why, &L);
        rc = R_FAIL;
        goto done;
    }
    rc = run_record(L.chain, in, &x, why);
done:
    loaded_fini(&L);
    smt_buf_fini(&y);
    smt_arena_free(ja);
    return rc;
}

/* Set while running <dir>/runner-negative: every block there must fail. */
static int invert;

static void report(const char *where, int rc, struct smt_buf *why)
{
    if (invert && rc != R_SKIP) {
        if (rc == R_FAIL) {
            npass++;
            if (opt_verbose) {
                printf("ok   %s (fails as it must: %.*s)\n", where,
                       (int)strcspn(why->ptr + 2, "\n"), why->ptr + 2);
            }
            why->len = 0;
            return;
        }
        smt_buf_adds(why, "  this negative case passed: the runner cannot "
                          "detect this mismatch\n");
        rc = R_FAIL;
    }
    if (rc == R_PASS) {
        npass++;
        if (opt_verbose) {
            printf("ok   %s\n", where);
        }
    } else if (rc == R_SKIP) {
        nskip++;
        printf("skip %s: %.*s\n", where, (int)why->len, why->ptr);
    } else {
        nfail++;
        printf("FAIL %s\n%.*s", where, (int)why->len, why->ptr);
        if (why->len == 0 || why->ptr[why->len - 1] != '\n') {
            putchar('\n');
        }
    }
    why->len = 0;
}

/* Adds one `name: value` line to the block; returns 0, or -1 (why). */
static int block_line(struct block *bk, char *p, uint32_t ln,
                      struct smt_buf *why)
{
    char       *colon = strchr(p, ':');
    const char *val;

    if (colon == NULL) {
        smt_buf_printf(why, "  runner: line %u: expected `name: ...`\n",
                       (unsigned)ln);
        return -1;
    }
    *colon = '\0';
    val = colon + 1 + strspn(colon + 1, " \t");
    if (strcmp(p, "step") == 0 && bk->step == NULL) {
        bk->step = val, bk->step_line = ln;
    } else if (strcmp(p, "steps") == 0 && bk->steps == NULL) {
        bk->steps = val, bk->step_line = ln;
    } else if (strcmp(p, "predicates") == 0 && bk->preds == NULL) {
        bk->preds = val, bk->preds_line = ln;
    } else if (strcmp(p, "in") == 0 && bk->in == NULL) {
        bk->in = val;
    } else if (strcmp(p, "out") == 0 && bk->out == NULL) {
        bk->out = val;
    } else if (strcmp(p, "config") == 0 && bk->config == NULL) {
        bk->config = val;
    } else {
        smt_buf_printf(why, "  runner: line %u: unknown or repeated '%s:'\n",
                       (unsigned)ln, p);
        return -1;
    }
    return 0;
}

/* Splits a case file into blocks (separated by blank lines; `#` lines are
 * comments) and runs them. */
static void run_case_file(const char *path)
{
    char          *buf = read_file(path, NULL), *p, *nl;
    struct block   bk;
    struct smt_buf why;
    uint32_t       ln = 0;
    int            inblock = 0, bad = 0, eof = 0;
    char           where[512];

    if (buf == NULL) {
        printf("FAIL %s: cannot read: %s\n", path, strerror(errno));
        nfail++;
        return;
    }
    smt_buf_init(&why);
    memset(&bk, 0, sizeof(bk));
    for (p = buf; !eof; p = nl + 1) {
        char *e;

        nl = strchr(p, '\n');
        if (nl == NULL) {
            eof = 1;
            nl = p + strlen(p);
        }
        *nl = '\0';
        ln++;
        e = nl;
        while (e > p && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r')) {
            *--e = '\0';
        }
        if (*p == '#') {
            continue;
        }
        if (*p != '\0') {
            if (!inblock) {
                inblock = 1;
                bk.line = ln;
            }
            if (block_line(&bk, p, ln, &why) != 0) {
                bad = 1;
            }
            if (!eof) {
                continue;
            }
        }
        if (inblock) {
            snprintf(where, sizeof(where), "%s:%u", path, (unsigned)bk.line);
            report(where, bad ? R_FAIL : run_block(path, &bk, &why), &why);
        }
        memset(&bk, 0, sizeof(bk));
        inblock = bad = 0;
    }
    smt_buf_fini(&why);
    free(buf);
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void run_case_dir(const char *dir, int neg)
{
    DIR           *d = opendir(dir);
    struct dirent *de;
    char         **names = NULL;
    size_t         n = 0, cap = 0, i;

    if (d == NULL) {
        printf("FAIL %s: cannot open: %s\n", dir, strerror(errno));
        nfail++;
        return;
    }
    while ((de = readdir(d)) != NULL) {
        size_t l = strlen(de->d_name);

        if (l > 5 && strcmp(de->d_name + l - 5, ".case") == 0) {
            if (n == cap) {
                cap = cap ? cap * 2 : 16;
                names = smt_xrealloc(names, cap * sizeof(*names));
            }
            names[n++] = smt_xasprintf("%s/%s", dir, de->d_name);
        }
    }
    closedir(d);
    if (n > 0) {
        qsort(names, n, sizeof(*names), cmp_names);
    }
    for (i = 0; i < n; i++) {
        run_case_file(names[i]);
        free(names[i]);
    }
    free(names);
    if (!neg) {
        /* The runner's own negative test: blocks that must not pass. */
        char *sub = smt_xasprintf("%s/runner-negative", dir);

        d = opendir(sub);
        if (d != NULL) {
            closedir(d);
            invert = 1;
            run_case_dir(sub, 1);
            invert = 0;
        }
        free(sub);
    }
}

/* ---------------------------------------------------------------------- */
/* Connect vectors */

struct skips {
    uint32_t n;
    char   **id, **reason;
    uint8_t *seen;
};

static const char *skip_reason(const struct skips *sk, const char *id)
{
    uint32_t i;

    for (i = 0; i < sk->n; i++) {
        if (strcmp(sk->id[i], id) == 0) {
            sk->seen[i] = 1;
            return sk->reason[i];
        }
    }
    return NULL;
}

static void load_skips(struct skips *sk, const char *path)
{
    char *buf = read_file(path, NULL), *p, *nl;

    memset(sk, 0, sizeof(*sk));
    if (buf == NULL) {
        return;
    }
    for (p = buf; *p != '\0'; p = nl ? nl + 1 : p + strlen(p)) {
        char *tab;

        nl = strchr(p, '\n');
        if (nl != NULL) {
            *nl = '\0';
        }
        if (*p == '#' || *p == '\0') {
            continue;
        }
        tab = strchr(p, '\t');
        sk->id = smt_xrealloc(sk->id, (sk->n + 1) * sizeof(char *));
        sk->reason = smt_xrealloc(sk->reason, (sk->n + 1) * sizeof(char *));
        sk->id[sk->n] = tab ? smt_xstrndup(p, (size_t)(tab - p))
                            : smt_xstrdup(p);
        sk->reason[sk->n] = smt_xstrdup(tab ? tab + 1 : "(no reason given)");
        sk->n++;
    }
    sk->seen = smt_xcalloc(sk->n + 1, 1);
    free(buf);
}

static void free_skips(struct skips *sk)
{
    uint32_t i;

    for (i = 0; i < sk->n; i++) {
        free(sk->id[i]);
        free(sk->reason[i]);
    }
    free(sk->id);
    free(sk->reason);
    free(sk->seen);
}

/* Writes a Connect string as a double-quoted YAML scalar (JSON string
 * syntax is valid YAML). Connect strings are literal, so "${" is written
 * as "$${", the YAML loader's escape for its ${ENV} expansion. */
static void put_literal(struct smt_buf *y, struct smt_bytes s)
{
    struct smt_buf e;
    size_t         i;

    smt_buf_init(&e);
    for (i = 0; i < s.len; i++) {
        if (s.ptr[i] == '$' && i + 1 < s.len && s.ptr[i + 1] == '{') {
            smt_buf_addc(&e, '$');
        }
        smt_buf_addc(&e, s.ptr[i]);
    }
    smt_json_write_str(y, e.ptr ? e.ptr : "", e.len);
    smt_buf_fini(&e);
}

/* Writes a config map (Connect strings) as YAML flow mapping members. */
static void put_cfg(struct smt_buf *y, const struct smt_val *cfg)
{
    uint32_t i;

    for (i = 0; cfg != NULL && cfg->type == SMT_OBJECT && i < cfg->n; i++) {
        const struct smt_val *v = cfg->u.members[i].val;

        smt_buf_adds(y, ", ");
        smt_json_write_str(y, cfg->u.members[i].key.ptr,
                           cfg->u.members[i].key.len);
        smt_buf_adds(y, ": ");
        if (is_str(v)) {
            put_literal(y, v->u.s);
        } else {
            smt_json_write(y, v, NULL); /* numbers, booleans, null */
        }
    }
}

/* The expectation of a vector from out / err / cfg_err. */
static int vector_expect(const struct smt_val *vec, struct smt_arena *a,
                         struct expect *x, struct smt_buf *why)
{
    const struct smt_val *v;

    memset(x, 0, sizeof(*x));
    x->vector = 1;
    if ((v = mem(vec, "cfg_err")) != NULL) {
        const struct smt_val *m = mem(v, "msg~");

        x->kind = X_CONFIG;
        x->how = M_SUBSTR;
        x->msg = is_str(m) ? cstr(a, m) : NULL;
        if ((m = mem(v, "msg")) != NULL && is_str(m)) {
            x->msg = cstr(a, m);
        }
    } else if ((v = mem(vec, "err")) != NULL) {
        const struct smt_val *m;

        x->kind = X_FAIL;
        x->cls = is_str(mem(v, "class")) ? cstr(a, mem(v, "class")) : NULL;
        if ((m = mem(v, "msg")) != NULL && is_str(m)) {
            x->msg = cstr(a, m);
            x->how = M_EXACT;
        } else if ((m = mem(v, "msg~")) != NULL && is_str(m)) {
            x->msg = cstr(a, m);
            x->how = M_SUBSTR;
        }
    } else if ((v = mem(vec, "out")) != NULL) {
        if (is_str(v) && smt_bytes_eqs(v->u.s, "SAME")) {
            x->kind = X_SAME;
        } else if (is_str(v) && smt_bytes_eqs(v->u.s, "DROP")) {
            x->kind = X_DROP;
        } else if (v->type == SMT_OBJECT) {
            x->kind = X_OUT;
            x->out = v;
        }
    }
    if (x->kind == X_NONE) {
        smt_buf_adds(why, "  runner: vector has none of out/err/cfg_err\n");
        return R_FAIL;
    }
    return R_PASS;
}

/* An expectation from a `cases` entry's expected outcome. */
static int case_expect(const struct smt_val *e, struct expect *x,
                       struct smt_buf *why)
{
    memset(x, 0, sizeof(*x));
    x->vector = 1;
    if (e->type == SMT_BOOL) {
        x->kind = e->u.b ? X_DROP : X_SAME; /* Filter + predicate */
    } else if (is_str(e) && smt_bytes_eqs(e->u.s, "DROP")) {
        x->kind = X_DROP;
    } else if (is_str(e) && smt_bytes_eqs(e->u.s, "SAME")) {
        x->kind = X_SAME;
    } else {
        smt_buf_adds(why, "  runner: unknown expected outcome in cases\n");
        return R_FAIL;
    }
    return R_PASS;
}

/* A `cases` input: a record object, or (HasHeaderKey) a list of header
 * names, turned into an `in` object with those headers. */
static const struct smt_val *case_input(struct smt_arena *a,
                                        const struct smt_val *in)
{
    struct smt_val *obj, *hs;
    uint32_t        i;

    if (in->type != SMT_ARRAY) {
        return in;
    }
    hs = smt_val_array(a, in->n);
    for (i = 0; i < in->n; i++) {
        struct smt_val *h = smt_val_array(a, 2);

        smt_arr_push(a, h, in->u.items[i]);
        smt_arr_push(a, h, smt_val_str(a, SMT_STRING, "v", 1));
        smt_arr_push(a, hs, h);
    }
    obj = smt_val_object(a, 1);
    smt_obj_set(a, obj, "headers", 7, hs);
    return obj;
}

/* Runs `cases` [[input, expected], ...] through a loaded chain. */
static int run_cases_list(struct smt_chain *chain, const struct smt_val *cases,
                          struct smt_arena *a, struct smt_buf *why)
{
    uint32_t i;
    int      rc = R_PASS;

    for (i = 0; i < cases->n; i++) {
        const struct smt_val *c = cases->u.items[i];
        struct expect         x;
        size_t                mark = why->len;
        int                   r;

        if (c->type != SMT_ARRAY || c->n != 2) {
            smt_buf_adds(why, "  runner: a case must be [input, expected]\n");
            return R_FAIL;
        }
        r = case_expect(c->u.items[1], &x, why);
        if (r == R_PASS) {
            r = run_record(chain, case_input(a, c->u.items[0]), &x, why);
        }
        if (r == R_FAIL) {
            struct smt_buf in;

            smt_buf_init(&in);
            dump_typed(&in, c->u.items[0]);
            smt_buf_printf(why, "  (in case #%u, input %.*s)\n",
                           (unsigned)i + 1, (int)in.len, in.ptr);
            smt_buf_fini(&in);
            rc = R_FAIL;
        } else if (r == R_SKIP) {
            why->len = mark;
        }
    }
    return rc;
}

/* PR-09: Filter + RecordIsTombstone + negate; a tombstone makes the
 * predicate true, and "applied" means the Filter dropped the record. */
static int run_truth_table(const struct smt_val *tt, struct smt_arena *a,
                           const char *id, struct smt_buf *why)
{
    uint32_t i;
    int      rc = R_PASS;

    if (tt->type != SMT_ARRAY) {
        smt_buf_adds(why, "  runner: truth_table must be an array\n");
        return R_FAIL;
    }
    for (i = 0; i < tt->n; i++) {
        const struct smt_val *row = tt->u.items[i];
        const struct smt_val *p = mem(row, "pred"), *ng = mem(row, "negate"),
                             *ap = mem(row, "applied");
        struct loaded         L;
        struct expect         x;
        struct smt_val       *in;
        char                 *yaml;
        int                   r;

        if (p == NULL || ng == NULL || ap == NULL || p->type != SMT_BOOL ||
            ng->type != SMT_BOOL || ap->type != SMT_BOOL) {
            smt_buf_adds(why, "  runner: bad truth_table row\n");
            return R_FAIL;
        }
        yaml = smt_xasprintf("ste: [{type: Filter, predicate: p, negate: %s}]\n"
                             "predicates: {p: {type: RecordIsTombstone}}\n",
                             ng->u.b ? "true" : "false");
        loaded_init(&L);
        if (load_yaml(&L, id, yaml) != 0) {
            smt_buf_adds(why, "  the config did not load:\n");
            put_config_errors(why, &L);
            r = R_FAIL;
        } else {
            memset(&x, 0, sizeof(x));
            x.kind = ap->u.b ? X_DROP : X_SAME;
            in = smt_val_object(a, 1);
            smt_obj_set(a, in, "value", 5,
                        p->u.b ? smt_val_null(a)
                               : smt_val_str(a, SMT_STRING, "v", 1));
            r = run_record(L.chain, in, &x, why);
        }
        if (r == R_FAIL) {
            smt_buf_printf(why, "  (in row pred=%s negate=%s)\n",
                           p->u.b ? "true" : "false",
                           ng->u.b ? "true" : "false");
            rc = R_FAIL;
        }
        loaded_fini(&L);
        free(yaml);
    }
    return rc;
}

/* A connector_cfg vector: load the connector config through the pipeline
 * loader; then cfg_err, `result: valid...`, or `cases` on route 0. */
static int run_connector(const struct smt_val *vec, const struct smt_val *cc,
                         struct smt_arena *a, struct smt_buf *why)
{
    struct loaded         L;
    struct expect         x;
    struct smt_buf        json;
    struct smt_err        err;
    const struct smt_val *cases = mem(vec, "cases"), *res = mem(vec, "result");
    int                   rc, lr;

    memset(&x, 0, sizeof(x));
    if (mem(vec, "cfg_err") != NULL) {
        if (vector_expect(vec, a, &x, why) != R_PASS) {
            return R_FAIL;
        }
    } else if (cases != NULL && cases->type == SMT_ARRAY) {
        x.kind = X_OUT; /* decided per case */
    } else if (is_str(res) && res->u.s.len >= 5 &&
               memcmp(res->u.s.ptr, "valid", 5) == 0) {
        x.kind = X_VALID;
    } else {
        smt_buf_adds(why, "  runner: a connector_cfg vector needs cfg_err, "
                          "cases or result \"valid...\"\n");
        return R_FAIL;
    }
    smt_buf_init(&json);
    smt_err_clear(&err);
    if (smt_json_write(&json, cc, &err) != 0) {
        smt_buf_printf(why, "  runner: connector_cfg: %s\n", err.msg);
        smt_buf_fini(&json);
        return R_FAIL;
    }
    loaded_init(&L);
    lr = load_connector(&L, (struct smt_bytes){json.ptr, json.len});
    if (x.kind == X_CONFIG || x.kind == X_VALID) {
        rc = judge_config(&L, lr, &x, why);
    } else if (lr != 0) {
        smt_buf_adds(why, "  the connector config did not load:\n");
        put_config_errors(why, &L);
        rc = R_FAIL;
    } else {
        rc = run_cases_list(L.chain, cases, a, why);
    }
    loaded_fini(&L);
    smt_buf_fini(&json);
    return rc;
}

/* The YAML document for a transform vector's step; a predicate is
 * exercised by a Filter it gates. */
static void vector_yaml(struct smt_buf *y, const struct smt_val *xf,
                        const struct smt_val *cfg, int predicate)
{
    if (predicate) {
        smt_buf_adds(y, "ste: [{type: Filter, predicate: p}]\n"
                        "predicates: {p: {type: ");
        smt_json_write_str(y, xf->u.s.ptr, xf->u.s.len);
        put_cfg(y, cfg);
        smt_buf_adds(y, "}}\n");
    } else {
        smt_buf_adds(y, "ste: [{type: ");
        smt_json_write_str(y, xf->u.s.ptr, xf->u.s.len);
        put_cfg(y, cfg);
        smt_buf_adds(y, "}]\n");
    }
    smt_buf_addc(y, '\0');
}

/* PR-04's "also_invalid": more values for the (single) option of a
 * cfg_err vector, each of which must be rejected as well. */
static int run_also_invalid(const struct smt_val *vec, const char *id,
                            const struct expect *x, int predicate,
                            struct smt_arena *a, struct smt_buf *why)
{
    const struct smt_val *cfg = mem(vec, "cfg"), *alts = mem(vec,
                                                             "also_invalid");
    uint32_t              i;
    int                   rc = R_PASS;

    if (alts == NULL) {
        return R_PASS;
    }
    if (alts->type != SMT_ARRAY || cfg->n != 1) {
        smt_buf_adds(why, "  runner: also_invalid needs a list and a cfg "
                          "with one option\n");
        return R_FAIL;
    }
    for (i = 0; i < alts->n; i++) {
        struct smt_val *c = smt_val_object(a, 1);
        struct smt_buf  y;
        struct loaded   L;
        int             lr;

        smt_obj_set(a, c, cfg->u.members[0].key.ptr, cfg->u.members[0].key.len,
                    alts->u.items[i]);
        smt_buf_init(&y);
        vector_yaml(&y, mem(vec, "xf"), c, predicate);
        loaded_init(&L);
        lr = load_yaml(&L, id, y.ptr);
        if (judge_config(&L, lr, x, why) != R_PASS) {
            smt_buf_printf(why, "  (with also_invalid value #%u)\n",
                           (unsigned)i + 1);
            rc = R_FAIL;
        }
        loaded_fini(&L);
        smt_buf_fini(&y);
    }
    return rc;
}

/* ---------------------------------------------------------------------- */
/* Error-handling vectors (RY-*): retry backoff and tolerance verdicts run
 * through smt/errpolicy.h with a mock clock that each wait advances, as
 * Connect's tests do with MockTime. The shapes: `op` (an operation that
 * fails as described; attempts, sleeps_ms, result), `backoff_calls`
 * ([attempt, wait] against deadline_ms) and `cases` (RY-07 [stage,
 * exception, verdict] under cfg; RY-08 [tolerance, failures, verdict]). */

/* An integer from a JSON number or a decimal string; 0 / -1. */
static int ry_int(const struct smt_val *v, int64_t *out)
{
    char  tmp[32], *end;
    long long n;

    if (v != NULL && v->type == SMT_INT64) {
        *out = v->u.i;
        return 0;
    }
    if (!is_str(v) || v->u.s.len == 0 || v->u.s.len >= sizeof(tmp)) {
        return -1;
    }
    memcpy(tmp, v->u.s.ptr, v->u.s.len);
    tmp[v->u.s.len] = '\0';
    errno = 0;
    n = strtoll(tmp, &end, 10);
    if (errno != 0 || *end != '\0') {
        return -1;
    }
    *out = n;
    return 0;
}

/* enum smt_tolerance from "none"/"all"; -1 otherwise. */
static int ry_tolerance(const struct smt_val *v)
{
    if (is_str(v) && smt_bytes_eqs(v->u.s, "none")) {
        return SMT_TOL_NONE;
    }
    if (is_str(v) && smt_bytes_eqs(v->u.s, "all")) {
        return SMT_TOL_ALL;
    }
    return -1;
}

/* The errors.* keys of a vector's cfg over Connect's defaults. */
static int ry_conf(const struct smt_val *cfg, struct smt_errors_conf *ec,
                   struct smt_buf *why)
{
    uint32_t i;

    memset(ec, 0, sizeof(*ec));
    ec->tolerance = SMT_TOL_NONE;
    ec->retry_timeout_ms = 0;
    ec->retry_delay_max_ms = 60000;
    if (cfg == NULL) {
        return R_PASS;
    }
    if (cfg->type != SMT_OBJECT) {
        smt_buf_adds(why, "  runner: cfg is not an object\n");
        return R_FAIL;
    }
    for (i = 0; i < cfg->n; i++) {
        struct smt_bytes      k = cfg->u.members[i].key;
        const struct smt_val *v = cfg->u.members[i].val;
        int                   bad = 0;

        if (smt_bytes_eqs(k, "errors.tolerance")) {
            ec->tolerance = ry_tolerance(v);
            bad = ec->tolerance < 0;
        } else if (smt_bytes_eqs(k, "errors.retry.timeout")) {
            bad = ry_int(v, &ec->retry_timeout_ms) != 0;
        } else if (smt_bytes_eqs(k, "errors.retry.delay.max.ms")) {
            bad = ry_int(v, &ec->retry_delay_max_ms) != 0;
        } else {
            bad = 1;
        }
        if (bad) {
            smt_buf_printf(why, "  runner: unsupported cfg entry '%.*s'\n",
                           (int)k.len, k.ptr);
            return R_FAIL;
        }
    }
    return R_PASS;
}

/* A stage name; Connect's TASK_PUT/TASK_POLL, which we do not have, become
 * values outside enum smt_stage (stages that tolerate retriable errors
 * only, like every stage but the converters and TRANSFORMATION). -1 when
 * unknown. */
static int ry_stage(const struct smt_val *v)
{
    int s;

    if (!is_str(v)) {
        return -1;
    }
    for (s = SMT_STAGE_KEY_CONVERTER; s <= SMT_STAGE_KAFKA_CONSUME; s++) {
        if (smt_bytes_eqs(v->u.s, smt_stage_name(s))) {
            return s;
        }
    }
    if (smt_bytes_eqs(v->u.s, "TASK_PUT")) {
        return 100;
    }
    if (smt_bytes_eqs(v->u.s, "TASK_POLL")) {
        return 101;
    }
    return -1;
}

/* An exception's error code: RetriableException or any other one. */
static int ry_exception(const struct smt_val *v)
{
    if (!is_str(v)) {
        return -1;
    }
    if (smt_bytes_eqs(v->u.s, "RetriableException")) {
        return SMT_E_RETRIABLE;
    }
    if (v->u.s.len >= 9 &&
        memcmp(v->u.s.ptr + v->u.s.len - 9, "Exception", 9) == 0) {
        return SMT_E_CONNECT;
    }
    return -1;
}

static const char *ry_verdict_name(int verdict)
{
    const char *m = smt_errp_verdict_message(verdict);

    return m != NULL ? m : "tolerated";
}

/* `op`: runs the described operation at TRANSFORMATION from time 0. */
static int ry_op(const struct smt_val *vec, const struct smt_errors_conf *ec,
                 struct smt_arena *a, struct smt_buf *why)
{
    const char           *op = cstr(a, mem(vec, "op"));
    const struct smt_val *res = mem(vec, "result"), *want_att, *want_sl;
    const char           *result;
    struct smt_retry      r;
    int64_t               now = 0, w, sleeps[64], att_want;
    uint32_t              fails, attempts = 0, nsl = 0, i;
    int                   code = SMT_E_RETRIABLE, ok = 0, verdict = -1;
    int                   rc = R_PASS;
    unsigned              k;

    if (sscanf(op, "RetriableException x%u then success", &k) == 1) {
        fails = k;
    } else if (strcmp(op, "RetriableException always") == 0 ||
               strcmp(op, "transform throws RetriableException") == 0) {
        fails = UINT32_MAX;
    } else if (strcmp(op, "generic Exception") == 0) {
        fails = 1;
        code = SMT_E_CONNECT;
    } else {
        smt_buf_printf(why, "  runner: unknown op '%s'\n", op);
        return R_FAIL;
    }
    if (!is_str(res)) {
        smt_buf_adds(why, "  runner: op vector without a result\n");
        return R_FAIL;
    }
    result = cstr(a, res);
    smt_retry_start(&r, ec, now);
    smt_retry_seed(&r, 1);
    for (;;) {
        attempts++;
        if (attempts > fails) {
            ok = 1;
            break;
        }
        if (!smt_errp_retriable(code)) {
            break;
        }
        w = smt_retry_next_wait(&r, now);
        if (w < 0 || nsl == sizeof(sleeps) / sizeof(sleeps[0])) {
            break;
        }
        sleeps[nsl++] = w;
        now += w;
    }
    if (!ok) {
        verdict = smt_errp_decide(SMT_STAGE_TRANSFORMATION, code,
                                  ec->tolerance, 1);
    }
    if ((want_att = mem(vec, "attempts")) != NULL &&
        (want_att->type != SMT_INT64 ||
         want_att->u.i != (int64_t)attempts)) {
        smt_buf_printf(why, "  attempts: %u\n", (unsigned)attempts);
        rc = R_FAIL;
    }
    if ((want_sl = mem(vec, "sleeps_ms")) != NULL) {
        int same = want_sl->type == SMT_ARRAY && want_sl->n == nsl;

        for (i = 0; same && i < nsl; i++) {
            same = ry_int(want_sl->u.items[i], &att_want) == 0 &&
                   att_want == sleeps[i];
        }
        if (!same) {
            smt_buf_adds(why, "  sleeps_ms: [");
            for (i = 0; i < nsl; i++) {
                smt_buf_printf(why, "%s%" PRId64, i ? "," : "", sleeps[i]);
            }
            smt_buf_adds(why, "]\n");
            rc = R_FAIL;
        }
    }
    if (strcmp(result, "success") == 0) {
        if (!ok) {
            smt_buf_printf(why, "  result: failed, %s\n",
                           ry_verdict_name(verdict));
            rc = R_FAIL;
        }
    } else if (strncmp(result, "failed (record skipped", 22) == 0 ||
               strstr(result, "then task fails") != NULL) {
        int want = result[0] == 'f' ? SMT_ERRP_TOLERATED : SMT_ERRP_EXCEEDED;

        if (ok || verdict != want) {
            smt_buf_printf(why, "  result: %s\n",
                           ok ? "success" : ry_verdict_name(verdict));
            rc = R_FAIL;
        }
    } else {
        smt_buf_printf(why, "  runner: unknown result '%s'\n", result);
        rc = R_FAIL;
    }
    return rc;
}

/* `backoff_calls`: Connect's backoff(attempt, deadline) from time 0. */
static int ry_backoff(const struct smt_val *vec,
                      const struct smt_errors_conf *ec, struct smt_buf *why)
{
    const struct smt_val *calls = mem(vec, "backoff_calls");
    struct smt_retry      r;
    int64_t               deadline, now = 0, att, want, w;
    uint32_t              i;
    int                   rc = R_PASS;

    if (ry_int(mem(vec, "deadline_ms"), &deadline) != 0 ||
        calls->type != SMT_ARRAY) {
        smt_buf_adds(why, "  runner: backoff_calls needs deadline_ms and "
                          "a list\n");
        return R_FAIL;
    }
    smt_retry_start(&r, ec, now);
    smt_retry_seed(&r, 1);
    for (i = 0; i < calls->n; i++) {
        const struct smt_val *c = calls->u.items[i];

        if (c->type != SMT_ARRAY || c->n != 2 ||
            ry_int(c->u.items[0], &att) != 0 || att < 1 ||
            att > UINT32_MAX || ry_int(c->u.items[1], &want) != 0) {
            smt_buf_printf(why, "  runner: bad backoff call #%u\n",
                           (unsigned)i + 1);
            return R_FAIL;
        }
        w = smt_retry_backoff(&r, (uint32_t)att, deadline, now);
        if (w != want) {
            smt_buf_printf(why, "  backoff(%" PRId64 ", %" PRId64 ") at %"
                           PRId64 ": %" PRId64 ", want %" PRId64 "\n",
                           att, deadline, now, w, want);
            rc = R_FAIL;
        }
        now += w;
    }
    return rc;
}

/* `cases`: RY-07 [stage, exception, verdict], RY-08 [tolerance,
 * failures, verdict]. */
static int ry_cases(const struct smt_val *cases,
                    const struct smt_errors_conf *ec, struct smt_arena *a,
                    struct smt_buf *why)
{
    uint32_t i;
    int      rc = R_PASS;

    for (i = 0; i < cases->n; i++) {
        const struct smt_val *c = cases->u.items[i];
        const char           *want, *got;
        int64_t               failures;
        int                   stage, code, tol, v;

        if (c->type != SMT_ARRAY || c->n != 3 || !is_str(c->u.items[2])) {
            smt_buf_printf(why, "  runner: bad case #%u\n", (unsigned)i + 1);
            return R_FAIL;
        }
        want = cstr(a, c->u.items[2]);
        if (ry_int(c->u.items[1], &failures) == 0 &&
            c->u.items[1]->type == SMT_INT64) {
            if ((tol = ry_tolerance(c->u.items[0])) < 0 || failures < 0) {
                smt_buf_printf(why, "  runner: bad case #%u\n",
                               (unsigned)i + 1);
                return R_FAIL;
            }
            got = smt_errp_within_limits(tol, (uint64_t)failures)
                      ? "within limits"
                      : "exceeded";
        } else {
            stage = ry_stage(c->u.items[0]);
            code = ry_exception(c->u.items[1]);
            if (stage < 0 || code < 0) {
                smt_buf_printf(why, "  runner: unknown stage or exception "
                                    "in case #%u\n",
                               (unsigned)i + 1);
                return R_FAIL;
            }
            v = smt_errp_decide(stage, code, ec->tolerance, 1);
            got = v == SMT_ERRP_TOLERATED ? "tolerated"
                                          : "ConnectException thrown";
        }
        if (strcmp(got, want) != 0) {
            smt_buf_printf(why, "  case #%u: %s, want %s\n",
                           (unsigned)i + 1, got, want);
            rc = R_FAIL;
        }
    }
    return rc;
}

/* Runs an error-handling vector (one with op, backoff_calls or cases and
 * no transform). */
static int run_error_vector(const struct smt_val *vec, struct smt_arena *a,
                            struct smt_buf *why)
{
    const struct smt_val  *v;
    struct smt_errors_conf ec;

    if (ry_conf(mem(vec, "cfg"), &ec, why) != R_PASS) {
        return R_FAIL;
    }
    if (is_str(mem(vec, "op"))) {
        return ry_op(vec, &ec, a, why);
    }
    if (mem(vec, "backoff_calls") != NULL) {
        return ry_backoff(vec, &ec, why);
    }
    if ((v = mem(vec, "cases")) != NULL && v->type == SMT_ARRAY) {
        return ry_cases(v, &ec, a, why);
    }
    smt_buf_adds(why, "  runner: error vector without op, backoff_calls "
                      "or cases\n");
    return R_FAIL;
}

/* Runs one vector. */
/* Reporter vectors (DLQ-01, LOG-*): the DLQ context headers and the log
 * line, through smt_dlq_context_headers() and smt_errlog_line(), which the
 * relay uses. The errors.* keys come from connector_cfg. */

static int cfg_true(const struct smt_val *cc, const char *key)
{
    const struct smt_val *v = mem(cc, key);

    return is_str(v) && v->u.s.len == 4 && memcmp(v->u.s.ptr, "true", 4) == 0;
}

static int stage_of(const char *name)
{
    int s;

    for (s = SMT_STAGE_KEY_CONVERTER; s <= SMT_STAGE_KAFKA_CONSUME; s++) {
        if (strcmp(smt_stage_name(s), name) == 0) {
            return s;
        }
    }
    return -1;
}

struct hdr_list {
    struct smt_arena *a;
    const char       *name[32], *value[32];
    int               n;
};

static void hdr_collect(void *opaque, const char *name, const char *value)
{
    struct hdr_list *l = opaque;

    if (l->n < 32) {
        l->name[l->n] = name;
        l->value[l->n] = value ? smt_arena_memdup(l->a, value, strlen(value)) : NULL;
        l->n++;
    }
}

/* The task and the consumed record of a reporter vector into c. */
static void reporter_ctx(const struct smt_val *vec, struct smt_arena *a,
                         struct smt_failure_ctx *c)
{
    const struct smt_val *task = mem(vec, "task"), *rec = mem(vec, "consumed");
    const struct smt_val *f = mem(vec, "failure"), *v;
    int64_t               n;

    memset(c, 0, sizeof(*c));
    c->connector = "job";
    if (task != NULL && task->type == SMT_OBJECT) {
        c->connector = cstr(a, mem(task, "connector"));
        c->task = ry_int(mem(task, "task"), &n) == 0 ? (int)n : 0;
    } else if (is_str(task)) { /* "job-0" */
        const char *t = cstr(a, task), *dash = strrchr(t, '-');

        c->connector = dash ? smt_arena_printf(a, "%.*s", (int)(dash - t), t).ptr : t;
        c->task = dash ? atoi(dash + 1) : 0;
    }
    if (rec != NULL) {
        c->topic = cstr(a, mem(rec, "topic"));
        c->partition = ry_int(mem(rec, "partition"), &n) == 0 ? (int32_t)n : 0;
        c->offset = ry_int(mem(rec, "offset"), &n) == 0 ? n : 0;
        v = mem(rec, "timestampType");
        c->ts_type = is_str(v) && strcmp(cstr(a, v), "CreateTime") == 0
                         ? SMT_TSTYPE_CREATE
                     : is_str(v) && strcmp(cstr(a, v), "LogAppendTime") == 0
                         ? SMT_TSTYPE_LOG_APPEND
                         : SMT_TSTYPE_NONE;
        c->ts_ms = ry_int(mem(rec, "timestamp"), &n) == 0 ? n : 0;
    }
    if (f != NULL) {
        c->stage = stage_of(cstr(a, mem(f, "stage")));
        c->klass = cstr(a, mem(f, "class"));
        c->exception = mem(f, "exception") ? cstr(a, mem(f, "exception")) : NULL;
        c->message = mem(f, "message") ? cstr(a, mem(f, "message")) : NULL;
    }
}

static int run_reporter_vector(const struct smt_val *vec, const char *id,
                               struct smt_arena *a, struct smt_buf *why)
{
    const struct smt_val  *cc = mem(vec, "connector_cfg"), *dlq, *hs, *log;
    struct smt_errors_conf ec;
    struct smt_failure_ctx c;
    struct hdr_list        got;
    char                   line[1024];
    uint32_t               i;
    int                    rc = R_PASS;

    memset(&ec, 0, sizeof(ec));
    ec.log_enable = cfg_true(cc, "errors.log.enable");
    ec.log_include_messages = cfg_true(cc, "errors.log.include.messages");
    ec.dlq_context_headers =
        cfg_true(cc, "errors.deadletterqueue.context.headers.enable");
    reporter_ctx(vec, a, &c);
    if (strncmp(id, "LOG-", 4) == 0) {
        log = mem(vec, "log");
        if (mem(vec, "failure") == NULL) {
            /* LOG-02/03 leave it to Connect's test fixture: a key
             * converter failure in JsonConverter */
            c.stage = SMT_STAGE_KEY_CONVERTER;
            c.klass = "org.apache.kafka.connect.json.JsonConverter";
        } else if (c.stage < 0) {
            smt_buf_adds(why, "  runner: unknown stage\n");
            return R_FAIL;
        }
        smt_errlog_line(line, sizeof(line), &ec, &c);
        if (strcmp(line, log != NULL ? cstr(a, log) : "") != 0) {
            smt_buf_printf(why, "  log line:\n    got  '%s'\n    want '%s'\n",
                           line, log != NULL ? cstr(a, log) : "");
            return R_FAIL;
        }
        return R_PASS;
    }
    dlq = mem(vec, "dlq_record");
    hs = dlq != NULL ? mem(dlq, "headers") : NULL;
    if (hs == NULL || hs->type != SMT_ARRAY || c.stage < 0) {
        smt_buf_adds(why, "  runner: a DLQ vector needs dlq_record.headers "
                          "and a known failure stage\n");
        return R_FAIL;
    }
    if (!is_str(mem(dlq, "topic")) ||
        strcmp(cstr(a, mem(dlq, "topic")),
               cstr(a, mem(cc, "errors.deadletterqueue.topic.name"))) != 0) {
        smt_buf_adds(why, "  DLQ topic is not errors.deadletterqueue.topic."
                          "name\n");
        rc = R_FAIL;
    }
    memset(&got, 0, sizeof(got));
    got.a = a;
    smt_dlq_context_headers(&ec, &c, hdr_collect, &got);
    if ((uint32_t)got.n != hs->n) {
        smt_buf_printf(why, "  %d context headers, want %u\n", got.n, hs->n);
        rc = R_FAIL;
    }
    for (i = 0; i < hs->n && i < (uint32_t)got.n; i++) {
        const char *wn = cstr(a, hs->u.items[i]->u.items[0]);
        const char *wv = cstr(a, hs->u.items[i]->u.items[1]);
        size_t      wl = strlen(wv);

        /* a Java stack trace has frames we do not have: its first line */
        if (strcmp(wn, "__connect.errors.exception.stacktrace") == 0) {
            wl = strcspn(wv, "\n");
        }
        if (strcmp(got.name[i], wn) != 0 || got.value[i] == NULL ||
            strlen(got.value[i]) != wl || memcmp(got.value[i], wv, wl) != 0) {
            smt_buf_printf(why, "  header %u: got %s='%s', want %s='%.*s'\n",
                           i, got.name[i], got.value[i] ? got.value[i] : "(null)",
                           wn, (int)wl, wv);
            rc = R_FAIL;
        }
    }
    return rc;
}

static int run_vector(const struct smt_val *vec, const char *id,
                      struct smt_arena *a, struct smt_buf *why)
{
    const struct smt_val       *xf = mem(vec, "xf"), *cfg = mem(vec, "cfg");
    const struct smt_val       *v;
    const struct smt_transform *t;
    struct loaded               L;
    struct expect               x;
    struct smt_buf              y;
    const char                 *type;
    int                         side, rc, lr, pred;

    if ((v = mem(vec, "truth_table")) != NULL) {
        return run_truth_table(v, a, id, why);
    }
    if ((strncmp(id, "DLQ-", 4) == 0 && mem(vec, "dlq_record") != NULL) ||
        strncmp(id, "LOG-", 4) == 0) {
        return run_reporter_vector(vec, id, a, why);
    }
    if ((v = mem(vec, "connector_cfg")) != NULL) {
        return run_connector(vec, v, a, why);
    }
    if (xf == NULL && strncmp(id, "RY-", 3) == 0) {
        return run_error_vector(vec, a, why);
    }
    if (!is_str(xf) || cfg == NULL || cfg->type != SMT_OBJECT) {
        smt_buf_adds(why, "  not a transform vector (no xf/cfg): it tests "
                          "something else; list it in vector-skips.txt\n");
        return R_FAIL;
    }
    type = cstr(a, xf);
    t = smt_registry_find(type, &side);
    if (t == NULL) {
        /* Checked here so that a cfg_err vector cannot pass on "unknown
         * transform type". */
        smt_buf_printf(why, "  transform type '%s' is not registered\n", type);
        return R_FAIL;
    }
    pred = (t->flags & SMT_F_PREDICATE) != 0;
    smt_buf_init(&y);
    vector_yaml(&y, xf, cfg, pred);
    memset(&x, 0, sizeof(x));
    if ((v = mem(vec, "cases")) != NULL && v->type == SMT_ARRAY) {
        x.kind = X_OUT; /* per case */
    } else if ((rc = vector_expect(vec, a, &x, why)) != R_PASS) {
        smt_buf_fini(&y);
        return rc;
    }
    loaded_init(&L);
    lr = load_yaml(&L, id, y.ptr);
    if (x.kind == X_CONFIG) {
        rc = judge_config(&L, lr, &x, why);
        if (run_also_invalid(vec, id, &x, pred, a, why) != R_PASS) {
            rc = R_FAIL;
        }
    } else if (lr != 0) {
        smt_buf_printf(why, "  the config did not load (%.*s):\n",
                       (int)strcspn(y.ptr, "\n"), y.ptr);
        put_config_errors(why, &L);
        rc = R_FAIL;
    } else if (v != NULL && v->type == SMT_ARRAY) {
        rc = run_cases_list(L.chain, v, a, why);
    } else if (mem(vec, "in") == NULL) {
        smt_buf_adds(why, "  runner: vector has no `in`\n");
        rc = R_FAIL;
    } else {
        rc = run_record(L.chain, mem(vec, "in"), &x, why);
    }
    loaded_fini(&L);
    smt_buf_fini(&y);
    return rc;
}

/* 1 when text mentions id as a whole token (so MF-09 is not found in
 * MF-09b). */
static int mentions(const char *text, const char *id)
{
    size_t      n = strlen(id);
    const char *p = text;

    while ((p = strstr(p, id)) != NULL) {
        char before = p == text ? ' ' : p[-1], after = p[n];
        int  tok = !(before == '-' || before == '_' ||
                     (before >= '0' && before <= '9') ||
                     (before >= 'A' && before <= 'Z') ||
                     (before >= 'a' && before <= 'z')) &&
                  !(after == '-' || after == '_' ||
                    (after >= '0' && after <= '9') ||
                    (after >= 'A' && after <= 'Z') ||
                    (after >= 'a' && after <= 'z'));

        if (tok) {
            return 1;
        }
        p += n;
    }
    return 0;
}

static void run_vectors(const char *path, const char *dir)
{
    char           *buf = read_file(path, NULL), *p, *nl, *doc;
    char           *skpath = smt_xasprintf("%s/vector-skips.txt", dir);
    char           *docpath = smt_xasprintf("%s/../../docs/connect-compat.md",
                                            dir);
    struct skips    sk;
    struct smt_buf  why;
    uint32_t        ln = 0, i;

    if (buf == NULL) {
        printf("FAIL %s: cannot read: %s\n", path, strerror(errno));
        nfail++;
        free(skpath);
        free(docpath);
        return;
    }
    load_skips(&sk, skpath);
    smt_buf_init(&why);
    for (p = buf; *p != '\0'; p = nl ? nl + 1 : p + strlen(p)) {
        struct smt_arena     *a;
        struct smt_val       *vec;
        const struct smt_val *idv;
        struct smt_err        err;
        const char           *id, *reason;
        char                  where[300];
        int                   rc;

        nl = strchr(p, '\n');
        if (nl != NULL) {
            *nl = '\0';
        }
        ln++;
        if (p[strspn(p, " \t\r")] == '\0') {
            continue;
        }
        a = smt_arena_new(16384);
        smt_err_clear(&err);
        vec = smt_json_parse(a, p, strlen(p), &err);
        idv = vec ? mem(vec, "id") : NULL;
        if (!is_str(idv)) {
            snprintf(where, sizeof(where), "%s:%u", path, (unsigned)ln);
            smt_buf_printf(&why, "  runner: %s\n",
                           vec ? "vector without an id" : err.msg);
            report(where, R_FAIL, &why);
            smt_arena_free(a);
            continue;
        }
        id = cstr(a, idv);
        snprintf(where, sizeof(where), "%s", id);
        reason = skip_reason(&sk, id);
        if (reason != NULL) {
            nskip++;
            if (opt_verbose) {
                printf("skip %s: %s\n", id, reason);
            }
            if (opt_all && run_vector(vec, id, a, &why) == R_PASS) {
                printf("note %s passes although vector-skips.txt lists it\n",
                       id);
            }
            why.len = 0;
            smt_arena_free(a);
            continue;
        }
        rc = run_vector(vec, id, a, &why);
        report(where, rc, &why);
        smt_arena_free(a);
    }
    /* The skip list and the compatibility document must stay true. */
    doc = read_file(docpath, NULL);
    for (i = 0; i < sk.n; i++) {
        if (!sk.seen[i]) {
            printf("FAIL %s: vector-skips.txt lists '%s', which is not in %s\n",
                   skpath, sk.id[i], path);
            nfail++;
        }
        if (doc == NULL || !mentions(doc, sk.id[i])) {
            printf("FAIL %s: skipped vector '%s' is not mentioned in %s\n",
                   skpath, sk.id[i], docpath);
            nfail++;
        }
    }
    free(doc);
    free_skips(&sk);
    smt_buf_fini(&why);
    free(buf);
    free(skpath);
    free(docpath);
}

int main(int argc, char **argv)
{
    int i = 1;

    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "-v") == 0) {
            opt_verbose = 1;
        } else if (strcmp(argv[i], "-a") == 0) {
            opt_all = 1;
        } else {
            fprintf(stderr, "usage: run_cases [-v] [-a] <cases dir> "
                            "[<connect-vectors.jsonl>]\n");
            return 2;
        }
    }
    if (i >= argc) {
        fprintf(stderr, "usage: run_cases [-v] [-a] <cases dir> "
                        "[<connect-vectors.jsonl>]\n");
        return 2;
    }
    run_case_dir(argv[i], 0);
    if (i + 1 < argc) {
        run_vectors(argv[i + 1], argv[i]);
    }
    printf("skipped %d\n", nskip);
    printf("run_cases: %d passed, %d failed\n", npass, nfail);
    return nfail > 0 ? 1 : 0;
}

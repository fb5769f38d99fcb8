/*
 * ptest.c - `smtproxy test`: declarative pipeline tests.
 *
 * A test file (YAML, read with the same loader as pipelines, so every
 * problem in it is reported as file:line:col) holds cases; a case gives
 * input records and everything the relay would do with them: the records
 * it would produce per topic, the records routes filter out or no route
 * takes, and the failures it would report (DLQ records). Each input runs
 * through smt_pipeline_process(), the code path of `apply` and of the
 * relay, and the outcomes are classified exactly as proxy/relay.c's emit()
 * and report_failure() do: the DLQ topic of the route's errors block (the
 * pipeline's when the route has none), the executing class and route of
 * the __connect.errors.* / __smtproxy.errors.* headers, `unrouted: dlq` as
 * a TRANSFORMATION-stage DLQ record that never stops anything, and
 * errors.tolerance none stopping the relay after the failing record. A
 * test therefore says what production does, not what a separate model
 * thinks it should.
 *
 * Expectations are exact by default: every topic that receives a record
 * must be listed, every drop and every failure too, in the order they
 * happen (input order, then route order). Keys and values given as YAML
 * or JSON are compared as JSON values (object member order is not
 * significant, integers and fractions are different types, as they are to
 * Connect); the `_text` and `_base64` forms compare bytes. A failing case
 * prints, per topic and per record, the path of the first differing field
 * with the expected and the actual value. docs/testing.md describes the
 * file format; `smtproxy test --help` summarises it.
 */
#include "px.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

enum { PT_EXIT_OK = 0, PT_EXIT_FAIL = 1, PT_EXIT_BROKEN = 2 };

/* How an expected or input key/value was written. */
enum pt_side_mode {
    PT_ABSENT = 0, /* not given: not checked (input: null) */
    PT_NULL,       /* null: a null key / a tombstone */
    PT_TREE,       /* a YAML value or JSON text: compared as JSON values */
    PT_BYTES,      /* _text or _base64: compared byte for byte */
};

struct pt_side {
    int              mode;   /* enum pt_side_mode */
    int              scalar; /* TREE from a YAML scalar: bytes = its text */
    struct smt_val  *tree;
    struct smt_bytes bytes;
};

struct pt_rec_exp {
    const struct smt_cnode *at;
    struct pt_side          key, value;
    int                     has_headers, has_ts, has_partition;
    struct smt_header      *hdrs;
    uint32_t                nhdrs;
    int64_t                 ts;
    int64_t                 partition;
};

struct pt_topic_exp {
    const char             *topic;
    const struct smt_cnode *at;
    struct pt_rec_exp      *recs;
    uint32_t                n;
};

enum { PT_FILTERED = 0, PT_UNROUTED };
static const char *const reason_names[] = {"filtered", "unrouted", NULL};

struct pt_drop {
    const char             *route; /* NULL: unrouted */
    int                     reason;
    const struct smt_cnode *at;
};

/* A failure the relay reports (a DLQ record when a DLQ topic is set). In
 * an expectation a NULL field with has_* 0 is not checked. */
enum { PT_F_TOPIC = 0, PT_F_STAGE, PT_F_ROUTE, PT_F_STEP, PT_F_CLASS,
       PT_F_EXCEPTION, PT_F_MESSAGE, PT_NFIELDS };
static const char *const dlq_keys[] = {"topic",     "stage",     "route",
                                       "step",      "class",     "exception",
                                       "message",   NULL};

struct pt_dlq {
    const char             *f[PT_NFIELDS];
    uint8_t                 has[PT_NFIELDS];
    const struct smt_cnode *at;
};

struct pt_input {
    const struct smt_cnode *at;
    struct smt_bytes        topic;
    int32_t                 partition;
    int64_t                 offset; /* -1: the input's index in the case */
    int64_t                 ts;
    struct smt_bytes        key, value;
    struct smt_header      *hdrs;
    uint32_t                nhdrs;
};

struct pt_case {
    const char             *name;
    const struct smt_cnode *at;
    struct pt_input        *inputs;
    uint32_t                ninputs;
    struct pt_topic_exp    *topics;
    uint32_t                ntopics;
    struct pt_drop         *drops;
    uint32_t                ndrops;
    struct pt_dlq          *dlq;
    uint32_t                ndlq;
    int                     stops;
};

struct pt_file {
    struct smt_ctree       *tree;
    struct smt_arena        arena;
    int64_t                 partitions;     /* for every topic; 0 = unset */
    const struct smt_cnode *partitions_map; /* topic -> count, or NULL */
    struct pt_case         *cases;
    uint32_t                ncases;
};

/* What one case actually did. */
struct pt_rec_act {
    struct smt_bytes   topic, key, value;
    int                key_fmt, value_fmt;
    struct smt_header *hdrs;
    uint32_t           nhdrs;
    int64_t            ts;
    const char        *route;
    uint32_t           input;
};

struct pt_run {
    const struct smt_pipeline_conf *pc;
    struct smt_arena               *a;
    uint32_t                        input; /* index of the current input */
    struct pt_rec_act              *recs;
    uint32_t                        nrecs, caprecs;
    struct pt_drop                 *drops;
    uint32_t                        ndrops, capdrops;
    struct pt_dlq                  *dlq;
    uint32_t                        ndlq, capdlq;
    int                             stop;     /* tolerance none hit */
    char                            stop_msg[400];
};

/* ---------------------------------------------------------------------- */
/* Loading test files                                                       */

/* Reports every key of map m that is not in keys (with a suggestion).
 * Returns 0, or -1 when one was unknown. */
static int check_keys(const struct smt_cnode *m, const char *const *keys,
                      const char *what, struct smt_diags *d)
{
    uint32_t i;
    size_t   j, n;
    int      rc = 0;

    for (n = 0; keys[n] != NULL; n++) {
    }
    for (i = 0; i < m->n; i++) {
        for (j = 0; j < n && strcmp(m->k[i]->s, keys[j]) != 0; j++) {
        }
        if (j == n) {
            smt_diag_unknown(d, m->k[i], what, m->k[i]->s, keys, n);
            rc = -1;
        }
    }
    return rc;
}

/* A YAML node as a JSON value: mappings are objects, sequences arrays,
 * null/~/empty null; a quoted scalar is a string, an unquoted one a
 * number, true or false when it is that in JSON, else a string. */
static struct smt_val *yaml_val(struct smt_arena *a, const struct smt_cnode *n)
{
    struct smt_val *v, *j;
    struct smt_err  err;
    uint32_t        i;

    switch (n->kind) {
    case SMT_CN_MAP:
        v = smt_val_object(a, n->n);
        for (i = 0; i < n->n; i++) {
            smt_obj_set(a, v, n->k[i]->s, n->k[i]->len, yaml_val(a, n->v[i]));
        }
        return v;
    case SMT_CN_SEQ:
        v = smt_val_array(a, n->n);
        for (i = 0; i < n->n; i++) {
            smt_arr_push(a, v, yaml_val(a, n->v[i]));
        }
        return v;
    case SMT_CN_SCALAR:
        if (!n->quoted && n->len > 0) {
            j = smt_json_parse(a, n->s, n->len, &err);
            if (j != NULL && j->type != SMT_STRING && j->type != SMT_ARRAY &&
                j->type != SMT_OBJECT) {
                return j;
            }
        }
        return smt_val_str(a, SMT_STRING, n->s, n->len);
    default:
        return smt_val_null(a);
    }
}

/* Reads one side (`key` or `value`) of map m in any of its four forms. */
static int load_side(struct pt_file *f, const struct smt_cnode *m,
                     const char *name, struct pt_side *s, struct smt_diags *d)
{
    static const char *const sfx[] = {"", "_json", "_text", "_base64"};
    const struct smt_cnode  *n = NULL, *got = NULL;
    char                     key[32];
    struct smt_err           err;
    int                      which = -1, i;

    memset(s, 0, sizeof(*s));
    for (i = 0; i < 4; i++) {
        snprintf(key, sizeof(key), "%s%s", name, sfx[i]);
        n = smt_cnode_get(m, key);
        if (n == NULL) {
            continue;
        }
        if (got != NULL) {
            return smt_diag(d, n, "'%s' given twice (as '%s%s' and '%s')",
                            name, name, sfx[which], key);
        }
        got = n;
        which = i;
    }
    if (got == NULL) {
        return 0;
    }
    n = got;
    if (n->kind == SMT_CN_NULL) {
        s->mode = PT_NULL;
        return 0;
    }
    if (which == 0) {
        s->mode = PT_TREE;
        s->tree = yaml_val(&f->arena, n);
        s->scalar = n->kind == SMT_CN_SCALAR;
        s->bytes.ptr = n->s;
        s->bytes.len = n->len;
        return 0;
    }
    if (n->kind != SMT_CN_SCALAR) {
        return smt_diag(d, n, "'%s%s' must be a string", name, sfx[which]);
    }
    if (which == 1) {
        smt_err_clear(&err);
        s->mode = PT_TREE;
        s->tree = smt_json_parse(&f->arena, n->s, n->len, &err);
        if (s->tree == NULL) {
            return smt_diag(d, n, "'%s_json': %s", name, err.msg);
        }
        s->bytes.ptr = n->s;
        s->bytes.len = n->len;
        return 0;
    }
    s->mode = PT_BYTES;
    if (which == 2) {
        s->bytes.ptr = n->s;
        s->bytes.len = n->len;
        return 0;
    }
    smt_err_clear(&err);
    if (smt_base64_decode(&f->arena, n->s, n->len, &s->bytes, &err) != 0) {
        return smt_diag(d, n, "'%s_base64': %s", name, err.msg);
    }
    if (s->bytes.ptr == NULL) {
        s->bytes.ptr = "";
    }
    return 0;
}

/* The wire bytes of an input side in format fmt: a YAML scalar is its
 * text for the string and bytes formats; anything else, and everything
 * for the JSON formats, is JSON text (`_json` exactly as written). */
static struct smt_bytes side_input_bytes(struct pt_file *f,
                                         const struct pt_side *s, int fmt)
{
    struct smt_buf   b;
    struct smt_err   err;
    struct smt_bytes out = SMT_BYTES_NULL;

    switch (s->mode) {
    case PT_BYTES:
        return s->bytes;
    case PT_TREE:
        if (s->scalar && fmt != SMT_FMT_JSON && fmt != SMT_FMT_JSON_ENVELOPE) {
            return s->bytes;
        }
        if (!s->scalar && s->tree->raw != NULL) {
            return s->bytes; /* _json: exactly as written */
        }
        smt_buf_init(&b);
        if (smt_json_write(&b, s->tree, &err) == 0) {
            out.ptr = smt_arena_memdup(&f->arena, b.ptr ? b.ptr : "", b.len);
            out.len = b.len;
        }
        smt_buf_fini(&b);
        return out;
    default:
        return SMT_BYTES_NULL;
    }
}

/* headers: [[name, value], ...] or {name: value, ...}; a value may be
 * null. The list is exact and ordered. */
static int load_headers(struct pt_file *f, const struct smt_cnode *n,
                        struct smt_header **out, uint32_t *nout,
                        struct smt_diags *d)
{
    struct smt_header *h;
    uint32_t           i;

    *out = NULL;
    *nout = 0;
    if (n->kind == SMT_CN_NULL) {
        return 0;
    }
    if (n->kind != SMT_CN_SEQ && n->kind != SMT_CN_MAP) {
        return smt_diag(d, n, "'headers' must be a list of [name, value] "
                              "pairs or a mapping");
    }
    h = smt_arena_calloc(&f->arena, (n->n + 1) * sizeof(*h));
    for (i = 0; i < n->n; i++) {
        const struct smt_cnode *name, *val;

        if (n->kind == SMT_CN_MAP) {
            name = n->k[i];
            val = n->v[i];
        } else if (n->v[i]->kind == SMT_CN_SEQ && n->v[i]->n == 2) {
            name = n->v[i]->v[0];
            val = n->v[i]->v[1];
        } else {
            return smt_diag(d, n->v[i], "a header must be [name, value]");
        }
        if (name->kind != SMT_CN_SCALAR) {
            return smt_diag(d, name, "a header name must be a string");
        }
        if (val->kind != SMT_CN_SCALAR && val->kind != SMT_CN_NULL) {
            return smt_diag(d, val, "a header value must be a string or null");
        }
        h[i].name.ptr = name->s;
        h[i].name.len = name->len;
        if (val->kind == SMT_CN_SCALAR) {
            h[i].value.ptr = val->s;
            h[i].value.len = val->len;
        }
    }
    *out = h;
    *nout = n->n;
    return 0;
}

static int load_int(const struct smt_cnode *n, const char *what, int64_t min,
                    int64_t max, int64_t *out, struct smt_diags *d)
{
    char     *end;
    long long v;

    if (n->kind == SMT_CN_SCALAR && !n->quoted && n->len > 0) {
        errno = 0;
        v = strtoll(n->s, &end, 10);
        if (errno == 0 && *end == '\0' && v >= min && v <= max) {
            *out = v;
            return 0;
        }
    }
    return smt_diag(d, n, "'%s' must be an integer from %lld to %lld", what,
                    (long long)min, (long long)max);
}

static int load_bool(const struct smt_cnode *n, const char *what, int *out,
                     struct smt_diags *d)
{
    if (n->kind == SMT_CN_SCALAR && strcmp(n->s, "true") == 0) {
        *out = 1;
        return 0;
    }
    if (n->kind == SMT_CN_SCALAR && strcmp(n->s, "false") == 0) {
        *out = 0;
        return 0;
    }
    return smt_diag(d, n, "'%s' must be true or false", what);
}

static int load_input(struct pt_file *f, const struct smt_pipeline_conf *pc,
                      const struct smt_cnode *defaults,
                      const struct smt_cnode *m, struct pt_input *in,
                      struct smt_diags *d)
{
    static const char *const keys[] = {
        "topic", "partition", "offset", "timestamp", "key", "key_json",
        "key_text", "key_base64", "value", "value_json", "value_text",
        "value_base64", "headers", NULL};
    const struct smt_cnode *n, *src[2];
    struct pt_side          s;
    int64_t                 v;
    int                     rc = 0, k, side;

    memset(in, 0, sizeof(*in));
    in->at = m;
    in->offset = -1;
    in->ts = SMT_TS_NONE;
    if (m->kind != SMT_CN_MAP) {
        return smt_diag(d, m, "an input record must be a mapping");
    }
    if (check_keys(m, keys, "input key", d) < 0) {
        rc = -1;
    }
    if (pc->topics.n > 0) {
        in->topic = smt_bytes_str(pc->topics.v[0]);
    }
    /* defaults first, then the record's own keys */
    src[0] = defaults;
    src[1] = m;
    for (k = 0; k < 2; k++) {
        const struct smt_cnode *mm = src[k];

        if (mm == NULL) {
            continue;
        }
        if ((n = smt_cnode_get(mm, "topic")) != NULL) {
            if (n->kind != SMT_CN_SCALAR || n->len == 0) {
                rc = smt_diag(d, n, "'topic' must be a non-empty string");
            } else {
                in->topic.ptr = n->s;
                in->topic.len = n->len;
            }
        }
        if ((n = smt_cnode_get(mm, "partition")) != NULL) {
            if (load_int(n, "partition", 0, INT32_MAX, &v, d) < 0) {
                rc = -1;
            } else {
                in->partition = (int32_t)v;
            }
        }
        if ((n = smt_cnode_get(mm, "offset")) != NULL &&
            load_int(n, "offset", 0, INT64_MAX, &in->offset, d) < 0) {
            rc = -1;
        }
        if ((n = smt_cnode_get(mm, "timestamp")) != NULL) {
            if (n->kind == SMT_CN_NULL) {
                in->ts = SMT_TS_NONE;
            } else if (load_int(n, "timestamp", 0, INT64_MAX, &in->ts, d) <
                       0) {
                rc = -1;
            }
        }
        for (side = 0; side < 2; side++) {
            const char *name = side == SMT_KEY ? "key" : "value";

            if (load_side(f, mm, name, &s, d) < 0) {
                rc = -1;
            } else if (s.mode != PT_ABSENT) {
                struct smt_bytes b = side_input_bytes(
                    f, &s, side == SMT_KEY ? pc->key_fmt : pc->value_fmt);

                if (side == SMT_KEY) {
                    in->key = b;
                } else {
                    in->value = b;
                }
            }
        }
        if ((n = smt_cnode_get(mm, "headers")) != NULL &&
            load_headers(f, n, &in->hdrs, &in->nhdrs, d) < 0) {
            rc = -1;
        }
    }
    if (in->topic.ptr == NULL && rc == 0) {
        rc = smt_diag(d, m, "no 'topic' and the pipeline has no input topic "
                            "to default to");
    }
    return rc;
}

static int load_rec_exp(struct pt_file *f, const struct smt_cnode *m,
                        struct pt_rec_exp *r, struct smt_diags *d)
{
    static const char *const keys[] = {
        "key",          "key_json",   "key_text", "key_base64",
        "value",        "value_json", "value_text",
        "value_base64", "headers",    "timestamp", "partition", NULL};
    const struct smt_cnode *n;
    int                     rc = 0;

    memset(r, 0, sizeof(*r));
    r->at = m;
    if (m->kind != SMT_CN_MAP) {
        return smt_diag(d, m, "an expected record must be a mapping");
    }
    if (check_keys(m, keys, "record key", d) < 0) {
        rc = -1;
    }
    if (load_side(f, m, "key", &r->key, d) < 0 ||
        load_side(f, m, "value", &r->value, d) < 0) {
        rc = -1;
    }
    if ((n = smt_cnode_get(m, "headers")) != NULL) {
        r->has_headers = 1;
        if (load_headers(f, n, &r->hdrs, &r->nhdrs, d) < 0) {
            rc = -1;
        }
    }
    if ((n = smt_cnode_get(m, "timestamp")) != NULL) {
        r->has_ts = 1;
        r->ts = SMT_TS_NONE;
        if (n->kind != SMT_CN_NULL &&
            load_int(n, "timestamp", 0, INT64_MAX, &r->ts, d) < 0) {
            rc = -1;
        }
    }
    if ((n = smt_cnode_get(m, "partition")) != NULL) {
        r->has_partition = 1;
        if (load_int(n, "partition", 0, INT32_MAX, &r->partition, d) < 0) {
            rc = -1;
        }
    }
    return rc;
}

/* The partition count of topic for `partition:` checks, or 0. */
static int64_t topic_partitions(const struct pt_file *f, const char *topic)
{
    const struct smt_cnode *n;

    if (f->partitions_map != NULL &&
        (n = smt_cnode_get(f->partitions_map, topic)) != NULL) {
        return strtoll(n->s, NULL, 10);
    }
    return f->partitions;
}

static int load_outputs(struct pt_file *f, struct pt_case *c,
                        const struct smt_cnode *m, struct smt_diags *d)
{
    uint32_t i, j;
    int      rc = 0;

    if (m->kind == SMT_CN_NULL) {
        return 0;
    }
    if (m->kind != SMT_CN_MAP) {
        return smt_diag(d, m, "'outputs' must map topics to lists of "
                              "records");
    }
    c->topics = smt_arena_calloc(&f->arena, (m->n + 1) * sizeof(*c->topics));
    c->ntopics = m->n;
    for (i = 0; i < m->n; i++) {
        struct pt_topic_exp    *t = &c->topics[i];
        const struct smt_cnode *l = m->v[i];

        t->topic = m->k[i]->s;
        t->at = m->k[i];
        if (l->kind == SMT_CN_NULL) {
            continue;
        }
        if (l->kind != SMT_CN_SEQ) {
            rc = smt_diag(d, l, "outputs of '%s' must be a list of records",
                          t->topic);
            continue;
        }
        t->recs = smt_arena_calloc(&f->arena, (l->n + 1) * sizeof(*t->recs));
        t->n = l->n;
        for (j = 0; j < l->n; j++) {
            if (load_rec_exp(f, l->v[j], &t->recs[j], d) < 0) {
                rc = -1;
            } else if (t->recs[j].has_partition &&
                       topic_partitions(f, t->topic) <= 0) {
                rc = smt_diag(d, smt_cnode_get(l->v[j], "partition"),
                              "'partition' needs the partition count of "
                              "'%s' (top-level 'partitions')",
                              t->topic);
            }
        }
    }
    return rc;
}

static int load_drops(struct pt_file *f, const struct smt_pipeline_conf *pc,
                      struct pt_case *c, const struct smt_cnode *l,
                      struct smt_diags *d)
{
    static const char *const keys[] = {"route", "reason", NULL};
    uint32_t                 i, k;
    int                      rc = 0;

    if (l->kind == SMT_CN_NULL) {
        return 0;
    }
    if (l->kind != SMT_CN_SEQ) {
        return smt_diag(d, l, "'dropped' must be a list");
    }
    c->drops = smt_arena_calloc(&f->arena, (l->n + 1) * sizeof(*c->drops));
    c->ndrops = l->n;
    for (i = 0; i < l->n; i++) {
        const struct smt_cnode *m = l->v[i], *r, *why;
        struct pt_drop         *p = &c->drops[i];

        p->at = m;
        if (m->kind != SMT_CN_MAP) {
            rc = smt_diag(d, m, "a drop must be {route: NAME, reason: "
                                "filtered} or {reason: unrouted}");
            continue;
        }
        if (check_keys(m, keys, "drop key", d) < 0) {
            rc = -1;
        }
        r = smt_cnode_get(m, "route");
        why = smt_cnode_get(m, "reason");
        p->reason = r != NULL && r->kind != SMT_CN_NULL ? PT_FILTERED
                                                          : PT_UNROUTED;
        if (why != NULL) {
            for (k = 0; reason_names[k] != NULL; k++) {
                if (why->kind == SMT_CN_SCALAR &&
                    strcmp(why->s, reason_names[k]) == 0) {
                    break;
                }
            }
            if (reason_names[k] == NULL) {
                rc = smt_diag(d, why, "'reason' must be filtered or "
                                      "unrouted");
                continue;
            }
            p->reason = (int)k;
        }
        if (p->reason == PT_FILTERED) {
            if (r == NULL || r->kind != SMT_CN_SCALAR) {
                rc = smt_diag(d, m, "a filtered drop needs the 'route' that "
                                    "filtered it");
                continue;
            }
            for (k = 0; k < pc->nroutes; k++) {
                if (strcmp(pc->routes[k].name, r->s) == 0) {
                    break;
                }
            }
            if (k == pc->nroutes) {
                rc = smt_diag(d, r, "the pipeline has no route '%s'", r->s);
                continue;
            }
            p->route = r->s;
        } else if (r != NULL && r->kind != SMT_CN_NULL) {
            rc = smt_diag(d, r, "an unrouted record has no route");
        }
    }
    return rc;
}

static int load_dlq(struct pt_file *f, struct pt_case *c,
                    const struct smt_cnode *l, struct smt_diags *d)
{
    uint32_t i;
    int      rc = 0, k;

    if (l->kind == SMT_CN_NULL) {
        return 0;
    }
    if (l->kind != SMT_CN_SEQ) {
        return smt_diag(d, l, "'dlq' must be a list");
    }
    c->dlq = smt_arena_calloc(&f->arena, (l->n + 1) * sizeof(*c->dlq));
    c->ndlq = l->n;
    for (i = 0; i < l->n; i++) {
        const struct smt_cnode *m = l->v[i], *n;
        struct pt_dlq          *p = &c->dlq[i];

        p->at = m;
        if (m->kind != SMT_CN_MAP) {
            rc = smt_diag(d, m, "a dlq entry must be a mapping");
            continue;
        }
        if (check_keys(m, dlq_keys, "dlq key", d) < 0) {
            rc = -1;
        }
        for (k = 0; k < PT_NFIELDS; k++) {
            if ((n = smt_cnode_get(m, dlq_keys[k])) == NULL) {
                continue;
            }
            if (n->kind == SMT_CN_SCALAR) {
                p->f[k] = n->s;
            } else if (n->kind != SMT_CN_NULL || k == PT_F_STAGE ||
                       k == PT_F_CLASS || k == PT_F_MESSAGE) {
                rc = smt_diag(d, n, "'%s' must be a string%s", dlq_keys[k],
                              n->kind == SMT_CN_NULL ? "" : " or null");
                continue;
            }
            p->has[k] = 1;
        }
    }
    return rc;
}

static int load_case(struct pt_file *f, const struct smt_pipeline_conf *pc,
                     const struct smt_cnode *defaults,
                     const struct smt_cnode *m, struct pt_case *c,
                     struct smt_diags *d)
{
    static const char *const keys[] = {"name",    "input", "inputs", "outputs",
                                       "dropped", "dlq",   "stops",  NULL};
    const struct smt_cnode *n, *one, *many;
    uint32_t                i;
    int                     rc = 0;

    memset(c, 0, sizeof(*c));
    c->at = m;
    if (m->kind != SMT_CN_MAP) {
        return smt_diag(d, m, "a case must be a mapping");
    }
    if (check_keys(m, keys, "case key", d) < 0) {
        rc = -1;
    }
    n = smt_cnode_get(m, "name");
    if (n == NULL || n->kind != SMT_CN_SCALAR || n->len == 0) {
        rc = smt_diag(d, n ? n : m, "a case needs a 'name'");
    } else {
        c->name = n->s;
    }
    one = smt_cnode_get(m, "input");
    many = smt_cnode_get(m, "inputs");
    if ((one == NULL) == (many == NULL)) {
        return smt_diag(d, m, "a case needs exactly one of 'input' (a "
                              "record) or 'inputs' (a list of records)");
    }
    if (many != NULL && (many->kind != SMT_CN_SEQ || many->n == 0)) {
        return smt_diag(d, many, "'inputs' must be a non-empty list");
    }
    c->ninputs = one != NULL ? 1 : many->n;
    c->inputs = smt_arena_calloc(&f->arena, c->ninputs * sizeof(*c->inputs));
    for (i = 0; i < c->ninputs; i++) {
        if (load_input(f, pc, defaults, one != NULL ? one : many->v[i],
                       &c->inputs[i], d) < 0) {
            rc = -1;
        }
    }
    if ((n = smt_cnode_get(m, "outputs")) != NULL &&
        load_outputs(f, c, n, d) < 0) {
        rc = -1;
    }
    if ((n = smt_cnode_get(m, "dropped")) != NULL &&
        load_drops(f, pc, c, n, d) < 0) {
        rc = -1;
    }
    if ((n = smt_cnode_get(m, "dlq")) != NULL && load_dlq(f, c, n, d) < 0) {
        rc = -1;
    }
    if ((n = smt_cnode_get(m, "stops")) != NULL &&
        load_bool(n, "stops", &c->stops, d) < 0) {
        rc = -1;
    }
    return rc;
}

static void file_free(struct pt_file *f)
{
    if (f == NULL) {
        return;
    }
    smt_arena_fini(&f->arena);
    smt_ctree_free(f->tree);
    free(f);
}

/* Loads a test file against pipeline pc. Returns a new file (free with
 * file_free()), or NULL with diagnostics. */
static struct pt_file *file_load(const char *path,
                                 const struct smt_pipeline_conf *pc,
                                 struct smt_diags *d)
{
    static const char *const keys[] = {"defaults", "partitions", "cases",
                                       NULL};
    static const char *const def_keys[] = {"topic", "partition", "timestamp",
                                           "key",   "key_json",  "key_text",
                                           "key_base64", "value",
                                           "value_json", "value_text",
                                           "value_base64", "headers", NULL};
    struct pt_file         *f;
    const struct smt_cnode *root, *n, *cases, *defaults = NULL;
    uint32_t                i;
    int                     rc = 0;
    int64_t                 v;

    f = smt_xcalloc(1, sizeof(*f));
    smt_arena_init(&f->arena, 16384);
    f->tree = smt_ctree_yaml_file(path, d);
    if (f->tree == NULL) {
        file_free(f);
        return NULL;
    }
    root = f->tree->root;
    if (root == NULL || root->kind != SMT_CN_MAP) {
        smt_diag(d, root, "a test file must be a mapping with 'cases'");
        file_free(f);
        return NULL;
    }
    if (check_keys(root, keys, "key", d) < 0) {
        rc = -1;
    }
    if ((n = smt_cnode_get(root, "partitions")) != NULL) {
        if (n->kind == SMT_CN_MAP) {
            for (i = 0; i < n->n; i++) {
                if (load_int(n->v[i], "partitions", 1, 1000000, &v, d) < 0) {
                    rc = -1;
                }
            }
            f->partitions_map = n;
        } else if (load_int(n, "partitions", 1, 1000000, &f->partitions, d) <
                   0) {
            rc = -1;
        }
    }
    if ((n = smt_cnode_get(root, "defaults")) != NULL &&
        n->kind != SMT_CN_NULL) {
        if (n->kind != SMT_CN_MAP) {
            rc = smt_diag(d, n, "'defaults' must be a mapping");
        } else if (check_keys(n, def_keys, "defaults key", d) < 0) {
            rc = -1;
        } else {
            defaults = n;
        }
    }
    cases = smt_cnode_get(root, "cases");
    if (cases == NULL || cases->kind != SMT_CN_SEQ || cases->n == 0) {
        smt_diag(d, cases ? cases : root, "'cases' must be a non-empty list");
        file_free(f);
        return NULL;
    }
    f->cases = smt_arena_calloc(&f->arena, cases->n * sizeof(*f->cases));
    f->ncases = cases->n;
    for (i = 0; i < cases->n; i++) {
        if (load_case(f, pc, defaults, cases->v[i], &f->cases[i], d) < 0) {
            rc = -1;
        }
    }
    if (rc < 0) {
        file_free(f);
        return NULL;
    }
    return f;
}

/* ---------------------------------------------------------------------- */
/* Running a case: the relay's classification of every outcome             */

#define GROW(a, arr, n, cap)                                                  \
    do {                                                                      \
        if ((n) == (cap)) {                                                   \
            uint32_t nc_ = (cap) ? (cap) * 2 : 8;                             \
            (arr) = smt_arena_grow((a), (arr), (cap), nc_, sizeof(*(arr)));   \
            (cap) = nc_;                                                      \
        }                                                                     \
    } while (0)

static const char *adup(struct smt_arena *a, const char *s)
{
    return s != NULL ? smt_arena_memdup(a, s, strlen(s)) : NULL;
}

static void add_dlq(struct pt_run *run, const struct smt_errors_conf *ec,
                    const char *stage, const char *klass,
                    const char *exception, const char *message,
                    const char *route, const char *step)
{
    struct pt_dlq *p;

    GROW(run->a, run->dlq, run->ndlq, run->capdlq);
    p = &run->dlq[run->ndlq++];
    memset(p, 0, sizeof(*p));
    p->f[PT_F_TOPIC] = ec->dlq_topic; /* NULL: no DLQ, only reported */
    p->f[PT_F_STAGE] = adup(run->a, stage);
    p->f[PT_F_CLASS] = adup(run->a, klass);
    p->f[PT_F_EXCEPTION] = adup(run->a, exception);
    p->f[PT_F_MESSAGE] = adup(run->a, message);
    p->f[PT_F_ROUTE] = route;
    p->f[PT_F_STEP] = step;
}

static void add_rec(struct pt_run *run, const struct smt_record *rec,
                    struct smt_bytes topic, const char *route)
{
    struct pt_rec_act *r;

    GROW(run->a, run->recs, run->nrecs, run->caprecs);
    r = &run->recs[run->nrecs++];
    r->topic = topic;
    r->key = rec->key.raw;
    r->value = rec->value.raw;
    r->key_fmt = rec->key.fmt;
    r->value_fmt = rec->value.fmt;
    r->hdrs = rec->hdrs;
    r->nhdrs = rec->nhdrs;
    r->ts = rec->ts_ms;
    r->route = route;
    r->input = run->input;
}

static void add_drop(struct pt_run *run, const char *route, int reason)
{
    GROW(run->a, run->drops, run->ndrops, run->capdrops);
    run->drops[run->ndrops].route = route;
    run->drops[run->ndrops].reason = reason;
    run->drops[run->ndrops].at = NULL;
    run->ndrops++;
}

/* Mirrors relay.c emit(): what the relay produces, drops and reports for
 * each outcome. Produce failures cannot happen offline. */
static void run_emit(void *opaque, const struct smt_output *o)
{
    struct pt_run               *run = opaque;
    const struct smt_route_conf *route = o->route;
    const struct smt_errors_conf *ec;
    char                         buf[192];
    const char                  *klass, *rname;
    int                          conv;

    switch (o->outcome) {
    case SMT_OUT_RECORD:
        add_rec(run, o->rec, o->rec->topic, route->name);
        break;
    case SMT_OUT_DROP:
        add_drop(run, route->name, PT_FILTERED);
        break;
    case SMT_OUT_FAIL:
        conv = o->err->stage == SMT_STAGE_KEY_CONVERTER ||
               o->err->stage == SMT_STAGE_VALUE_CONVERTER;
        klass = smt_failure_class(run->pc, o, buf, sizeof(buf));
        /* an input that does not decode is the record's failure, not
         * the route's that happened to need it first: no route then */
        rname = route != NULL && (o->step != NULL || !conv) ? route->name
                                                            : NULL;
        ec = smt_route_errors(run->pc, route);
        add_dlq(run, ec, smt_stage_name(o->err->stage), klass,
                smt_err_class(o->err->code), o->err->msg, rname,
                o->step != NULL ? o->step->id : NULL);
        if (ec->tolerance == SMT_TOL_NONE && !run->stop) {
            run->stop = 1;
            snprintf(run->stop_msg, sizeof(run->stop_msg),
                     "input %u failed in route '%s' at stage %s: %s "
                     "(errors.tolerance none: the relay stops here)",
                     run->input + 1, rname ? rname : "-",
                     smt_stage_name(o->err->stage), o->err->msg);
        }
        break;
    case SMT_OUT_UNROUTED:
        if (run->pc->unrouted == SMT_UNROUTED_TOPIC) {
            add_rec(run, o->rec, smt_bytes_str(run->pc->unrouted_topic), NULL);
        } else if (run->pc->unrouted == SMT_UNROUTED_DLQ) {
            /* policy, not a failure: never stops the relay */
            add_dlq(run, &run->pc->errors, "TRANSFORMATION", "smtproxy.router",
                    "org.apache.kafka.connect.errors.DataException",
                    "no route took the record", NULL, NULL);
        } else {
            add_drop(run, NULL, PT_UNROUTED);
        }
        break;
    default:
        break;
    }
}

/* ---------------------------------------------------------------------- */
/* Comparing                                                                */

/* Kafka's Utils.murmur2 (seed 0x9747b28c), the Java default partitioner's
 * hash, which librdkafka's murmur2_random partitioner reproduces. */
static uint32_t murmur2(const unsigned char *p, size_t len)
{
    const uint32_t m = 0x5bd1e995;
    uint32_t       h = 0x9747b28cu ^ (uint32_t)len, k;
    size_t         i, n4 = len / 4;

    for (i = 0; i < n4; i++) {
        k = (uint32_t)p[4 * i] | (uint32_t)p[4 * i + 1] << 8 |
            (uint32_t)p[4 * i + 2] << 16 | (uint32_t)p[4 * i + 3] << 24;
        k *= m;
        k ^= k >> 24;
        k *= m;
        h = (h * m) ^ k;
    }
    switch (len & 3) {
    case 3:
        h ^= (uint32_t)p[len - 1] << 16;
        h ^= (uint32_t)p[len - 2] << 8;
        h ^= (uint32_t)p[len - 3];
        h *= m;
        break;
    case 2:
        h ^= (uint32_t)p[len - 1] << 8;
        h ^= (uint32_t)p[len - 2];
        h *= m;
        break;
    case 1:
        h ^= (uint32_t)p[len - 1];
        h *= m;
        break;
    default:
        break;
    }
    h ^= h >> 13;
    h *= m;
    h ^= h >> 15;
    return h;
}

/* Appends a short printable form of bytes: the text when it is printable
 * UTF-8 without line breaks, else base64; cut after 200 bytes. */
static void show_bytes(struct smt_buf *b, struct smt_bytes s, int quote)
{
    size_t i, n = s.len > 200 ? 200 : s.len;
    int    text = 1;

    if (s.ptr == NULL) {
        smt_buf_adds(b, "null");
        return;
    }
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s.ptr[i];

        if (c < 0x20 || c == 0x7f) {
            text = 0;
            break;
        }
    }
    if (!text) {
        smt_buf_adds(b, "base64:");
        smt_base64_encode(b, (const unsigned char *)s.ptr, n);
    } else if (quote) {
        smt_json_write_str(b, s.ptr, n);
    } else {
        smt_buf_add(b, s.ptr, n);
    }
    if (n < s.len) {
        smt_buf_printf(b, "...(%zu bytes)", s.len);
    }
}

static void show_val(struct smt_buf *b, const struct smt_val *v)
{
    struct smt_buf t;
    struct smt_err err;

    smt_buf_init(&t);
    if (smt_json_write(&t, v, &err) != 0) {
        smt_buf_adds(b, "(unprintable)");
    } else {
        show_bytes(b, (struct smt_bytes){t.ptr ? t.ptr : "", t.len}, 0);
    }
    smt_buf_fini(&t);
}

static const char *kind_of(const struct smt_val *v)
{
    if (v == NULL) {
        return "absent";
    }
    switch (v->type) {
    case SMT_NULL:
        return "null";
    case SMT_BOOL:
        return "boolean";
    case SMT_STRING:
        return "string";
    case SMT_ARRAY:
        return "array";
    case SMT_OBJECT:
        return "object";
    case SMT_FLOAT32:
    case SMT_FLOAT64:
        return "fraction";
    default:
        return smt_type_is_int(v->type) ? "integer" : smt_type_name(v->type);
    }
}

static void path_member(struct smt_buf *path, struct smt_bytes k)
{
    size_t i;
    int    plain = k.len > 0;

    for (i = 0; i < k.len && plain; i++) {
        char c = k.ptr[i];

        plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                (c >= '0' && c <= '9') || c == '_' || c == '-';
    }
    if (plain) {
        smt_buf_addc(path, '.');
        smt_buf_add(path, k.ptr, k.len);
    } else {
        smt_buf_addc(path, '[');
        smt_json_write_str(path, k.ptr, k.len);
        smt_buf_addc(path, ']');
    }
}

/* Compares expected e with actual a as JSON values. On the first
 * difference appends its path to path and "expected X, got Y" to why and
 * returns 1; returns 0 when equal. */
static int vdiff(const struct smt_val *e, const struct smt_val *a,
                 struct smt_buf *path, struct smt_buf *why)
{
    uint32_t i;
    int      ek = smt_type_is_int(e->type), ak = smt_type_is_int(a->type);

    if (strcmp(kind_of(e), kind_of(a)) != 0) {
        smt_buf_adds(why, "expected ");
        show_val(why, e);
        smt_buf_printf(why, " (%s), got ", kind_of(e));
        show_val(why, a);
        smt_buf_printf(why, " (%s)", kind_of(a));
        return 1;
    }
    switch (e->type) {
    case SMT_NULL:
        return 0;
    case SMT_BOOL:
        if (e->u.b == a->u.b) {
            return 0;
        }
        break;
    case SMT_STRING:
        if (smt_bytes_eq(e->u.s, a->u.s)) {
            return 0;
        }
        break;
    case SMT_ARRAY:
        for (i = 0; i < e->n && i < a->n; i++) {
            size_t mark = path->len;

            smt_buf_printf(path, "[%u]", i);
            if (vdiff(e->u.items[i], a->u.items[i], path, why)) {
                return 1;
            }
            path->len = mark;
        }
        if (e->n == a->n) {
            return 0;
        }
        smt_buf_printf(why, "expected %u items, got %u: ", e->n, a->n);
        show_val(why, a);
        return 1;
    case SMT_OBJECT:
        for (i = 0; i < e->n; i++) {
            const struct smt_member *m = &e->u.members[i];
            const struct smt_val    *av =
                smt_obj_get(a, m->key.ptr, m->key.len);
            size_t                   mark = path->len;

            path_member(path, m->key);
            if (av == NULL) {
                smt_buf_adds(why, "missing (expected ");
                show_val(why, m->val);
                smt_buf_addc(why, ')');
                return 1;
            }
            if (vdiff(m->val, av, path, why)) {
                return 1;
            }
            path->len = mark;
        }
        for (i = 0; i < a->n; i++) {
            const struct smt_member *m = &a->u.members[i];

            if (smt_obj_get(e, m->key.ptr, m->key.len) == NULL) {
                path_member(path, m->key);
                smt_buf_adds(why, "unexpected member: ");
                show_val(why, m->val);
                return 1;
            }
        }
        return 0;
    default:
        if (ek && ak && e->u.i == a->u.i) {
            return 0;
        }
        if (!ek && !ak && smt_val_as_double(e) == smt_val_as_double(a)) {
            return 0;
        }
        break;
    }
    smt_buf_adds(why, "expected ");
    show_val(why, e);
    smt_buf_adds(why, ", got ");
    show_val(why, a);
    return 1;
}

/* Compares one expected side with the actual bytes (format fmt). On a
 * difference writes "<path>: <why>" to out and returns 1. */
static int side_diff(const char *name, const struct pt_side *s,
                     struct smt_bytes act, int fmt, struct smt_arena *a,
                     struct smt_buf *out)
{
    struct smt_buf        path, why;
    const struct smt_val *av;
    struct smt_err        err;
    int                   differ = 0;

    switch (s->mode) {
    case PT_ABSENT:
        return 0;
    case PT_NULL:
        if (act.ptr == NULL) {
            return 0;
        }
        smt_buf_printf(out, "%s: expected null, got ", name);
        show_bytes(out, act, 1);
        return 1;
    case PT_BYTES:
        if (smt_bytes_eq(s->bytes, act)) {
            return 0;
        }
        smt_buf_printf(out, "%s: expected the bytes ", name);
        show_bytes(out, s->bytes, 1);
        smt_buf_adds(out, ", got ");
        show_bytes(out, act, 1);
        return 1;
    default:
        break;
    }
    if (act.ptr == NULL) {
        smt_buf_printf(out, "%s: expected ", name);
        show_val(out, s->tree);
        smt_buf_adds(out, ", got null");
        return 1;
    }
    if (s->scalar && fmt != SMT_FMT_JSON && fmt != SMT_FMT_JSON_ENVELOPE) {
        if (smt_bytes_eq(s->bytes, act)) {
            return 0;
        }
        smt_buf_printf(out, "%s: expected ", name);
        show_bytes(out, s->bytes, 1);
        smt_buf_adds(out, ", got ");
        show_bytes(out, act, 1);
        return 1;
    }
    smt_err_clear(&err);
    av = smt_json_parse(a, act.ptr, act.len, &err);
    if (av == NULL) {
        smt_buf_printf(out, "%s: expected ", name);
        show_val(out, s->tree);
        smt_buf_adds(out, ", got bytes that are not JSON: ");
        show_bytes(out, act, 1);
        return 1;
    }
    smt_buf_init(&path);
    smt_buf_init(&why);
    smt_buf_adds(&path, name);
    if (vdiff(s->tree, av, &path, &why)) {
        smt_buf_add(out, path.ptr, path.len);
        smt_buf_adds(out, ": ");
        smt_buf_add(out, why.ptr, why.len);
        differ = 1;
    }
    smt_buf_fini(&path);
    smt_buf_fini(&why);
    return differ;
}

static void show_headers(struct smt_buf *b, const struct smt_header *h,
                         uint32_t n)
{
    uint32_t i;

    smt_buf_addc(b, '[');
    for (i = 0; i < n; i++) {
        smt_buf_adds(b, i ? ", [" : "[");
        show_bytes(b, h[i].name, 1);
        smt_buf_adds(b, ", ");
        show_bytes(b, h[i].value, 1);
        smt_buf_addc(b, ']');
    }
    smt_buf_addc(b, ']');
}

static int headers_diff(const struct pt_rec_exp *e, const struct pt_rec_act *r,
                        struct smt_buf *out)
{
    uint32_t i;

    if (!e->has_headers) {
        return 0;
    }
    for (i = 0; i < e->nhdrs && i < r->nhdrs; i++) {
        if (!smt_bytes_eq(e->hdrs[i].name, r->hdrs[i].name) ||
            !smt_bytes_eq(e->hdrs[i].value, r->hdrs[i].value)) {
            break;
        }
    }
    if (i == e->nhdrs && i == r->nhdrs) {
        return 0;
    }
    smt_buf_printf(out, "headers[%u]: expected ", i);
    show_headers(out, e->hdrs, e->nhdrs);
    smt_buf_adds(out, ", got ");
    show_headers(out, r->hdrs, r->nhdrs);
    return 1;
}

/* One actual record in a readable line. */
static void show_act(struct smt_buf *b, const struct pt_rec_act *r)
{
    smt_buf_printf(b, "(input %u, route %s) key ", r->input + 1,
                   r->route ? r->route : "none: unrouted");
    show_bytes(b, r->key, 1);
    smt_buf_adds(b, " value ");
    show_bytes(b, r->value, 0);
    if (r->nhdrs > 0) {
        smt_buf_adds(b, " headers ");
        show_headers(b, r->hdrs, r->nhdrs);
    }
}

static void show_exp(struct smt_buf *b, const struct pt_rec_exp *e)
{
    const struct pt_side *s[2] = {&e->key, &e->value};
    const char           *nm[2] = {"key", "value"};
    int                   k, any = 0;

    for (k = 0; k < 2; k++) {
        if (s[k]->mode == PT_ABSENT) {
            continue;
        }
        smt_buf_printf(b, "%s%s ", any++ ? " " : "", nm[k]);
        if (s[k]->mode == PT_NULL) {
            smt_buf_adds(b, "null");
        } else if (s[k]->mode == PT_BYTES) {
            show_bytes(b, s[k]->bytes, 1);
        } else {
            show_val(b, s[k]->tree);
        }
    }
    smt_buf_printf(b, " (line %u)", e->at->line);
}

/* Compares expected record e with actual r; appends the differences (one
 * indented line each) to out. Returns the number of differences. */
static int rec_diff(const struct pt_file *f, const char *topic,
                    const struct pt_rec_exp *e, const struct pt_rec_act *r,
                    struct smt_arena *a, struct smt_buf *out)
{
    int            n = 0;
    struct smt_buf b;

    smt_buf_init(&b);
    if (side_diff("key", &e->key, r->key, r->key_fmt, a, &b)) {
        smt_buf_adds(out, "      ");
        smt_buf_add(out, b.ptr, b.len);
        smt_buf_addc(out, '\n');
        b.len = 0;
        n++;
    }
    if (side_diff("value", &e->value, r->value, r->value_fmt, a, &b)) {
        smt_buf_adds(out, "      ");
        smt_buf_add(out, b.ptr, b.len);
        smt_buf_addc(out, '\n');
        b.len = 0;
        n++;
    }
    if (headers_diff(e, r, &b)) {
        smt_buf_adds(out, "      ");
        smt_buf_add(out, b.ptr, b.len);
        smt_buf_addc(out, '\n');
        b.len = 0;
        n++;
    }
    if (e->has_ts && e->ts != r->ts) {
        smt_buf_adds(out, "      timestamp: expected ");
        if (e->ts == SMT_TS_NONE) {
            smt_buf_adds(out, "none");
        } else {
            smt_buf_printf(out, "%lld", (long long)e->ts);
        }
        if (r->ts == SMT_TS_NONE) {
            smt_buf_adds(out, ", got none\n");
        } else {
            smt_buf_printf(out, ", got %lld\n", (long long)r->ts);
        }
        n++;
    }
    if (e->has_partition) {
        int64_t np = topic_partitions(f, topic);

        if (r->key.ptr == NULL) {
            smt_buf_printf(out, "      partition: expected %lld, but the "
                                "key is null: the producer picks a "
                                "partition at random\n",
                           (long long)e->partition);
            n++;
        } else {
            int64_t p = (int64_t)((murmur2((const unsigned char *)r->key.ptr,
                                           r->key.len) &
                                   0x7fffffffu) %
                                  (uint64_t)np);

            if (p != e->partition) {
                smt_buf_printf(out, "      partition: expected %lld, got "
                                    "%lld (murmur2 of the key, %lld "
                                    "partitions)\n",
                               (long long)e->partition, (long long)p,
                               (long long)np);
                n++;
            }
        }
    }
    smt_buf_fini(&b);
    return n;
}

static void show_dlq(struct smt_buf *b, const struct pt_dlq *p, int all)
{
    int k, any = 0;

    smt_buf_addc(b, '{');
    for (k = 0; k < PT_NFIELDS; k++) {
        if (!all && !p->has[k]) {
            continue;
        }
        smt_buf_printf(b, "%s%s: ", any++ ? ", " : "", dlq_keys[k]);
        if (p->f[k] == NULL) {
            smt_buf_adds(b, "null");
        } else {
            smt_json_write_str(b, p->f[k], strlen(p->f[k]));
        }
    }
    smt_buf_addc(b, '}');
}

/* The first field of expected e that actual a does not match, or -1. The
 * message is a prefix match, everything else exact. */
static int dlq_mismatch(const struct pt_dlq *e, const struct pt_dlq *a)
{
    int k;

    for (k = 0; k < PT_NFIELDS; k++) {
        const char *x = e->f[k], *y = a->f[k];

        if (!e->has[k]) {
            continue;
        }
        if (x == NULL || y == NULL) {
            if (x != y) {
                return k;
            }
        } else if (k == PT_F_MESSAGE ? strncmp(y, x, strlen(x)) != 0
                                     : strcmp(x, y) != 0) {
            return k;
        }
    }
    return -1;
}

static void show_drop(struct smt_buf *b, const struct pt_drop *p)
{
    if (p->reason == PT_UNROUTED) {
        smt_buf_adds(b, "{reason: unrouted}");
    } else {
        smt_buf_printf(b, "{route: %s, reason: filtered}", p->route);
    }
}

/* Runs case c; appends a readable diff to out. Returns 1 when it passed,
 * 0 when it failed, -1 when the pipeline could not be instantiated. */
static int run_case(const struct pt_file *f, const struct pt_case *c,
                    const struct smt_pipeline_conf *pc, struct smt_buf *out)
{
    struct smt_pipeline *pl;
    struct smt_arena     arena;
    struct smt_err       err;
    struct pt_run        run;
    struct smt_record    rec;
    uint32_t             i, j, k, t, *seen;
    int                  bad = 0, fld;

    smt_err_clear(&err);
    pl = smt_pipeline_new(pc, &err);
    if (pl == NULL) {
        smt_buf_printf(out, "    the pipeline cannot be instantiated: %s\n",
                       err.msg);
        return -1;
    }
    smt_arena_init(&arena, 65536);
    memset(&run, 0, sizeof(run));
    run.pc = pc;
    run.a = &arena;
    for (i = 0; i < c->ninputs && !run.stop; i++) {
        const struct pt_input *in = &c->inputs[i];

        run.input = i;
        smt_record_init(&rec, &arena, pc->key_fmt, pc->value_fmt);
        rec.topic = in->topic;
        rec.partition = in->partition;
        rec.offset = in->offset >= 0 ? in->offset : (int64_t)i;
        rec.ts_ms = in->ts;
        rec.key.raw = in->key;
        rec.value.raw = in->value;
        for (j = 0; j < in->nhdrs; j++) {
            smt_record_header_add(&rec, in->hdrs[j].name, in->hdrs[j].value);
        }
        smt_pipeline_process(pl, &rec, run_emit, &run);
    }
    if (run.stop && !c->stops) {
        smt_buf_printf(out, "    stops: %s\n", run.stop_msg);
        bad++;
    } else if (!run.stop && c->stops) {
        smt_buf_adds(out, "    stops: expected the relay to stop "
                          "(errors.tolerance none), it does not\n");
        bad++;
    }
    if (run.stop && i < c->ninputs) {
        smt_buf_printf(out, "    (inputs %u..%u were not run: the relay "
                            "stopped before them)\n",
                       i + 1, c->ninputs);
    }

    /* outputs, per expected topic in order */
    seen = smt_arena_calloc(&arena, (run.nrecs + 1) * sizeof(*seen));
    for (t = 0; t < c->ntopics; t++) {
        const struct pt_topic_exp *te = &c->topics[t];
        uint32_t                   nact = 0;

        for (k = 0; k < run.nrecs; k++) {
            if (smt_bytes_eqs(run.recs[k].topic, te->topic)) {
                nact++;
            }
        }
        for (j = 0, k = 0; j < te->n || k < run.nrecs; j++) {
            const struct pt_rec_act *r = NULL;
            struct smt_buf           b;

            while (k < run.nrecs &&
                   !smt_bytes_eqs(run.recs[k].topic, te->topic)) {
                k++;
            }
            if (k < run.nrecs) {
                r = &run.recs[k];
                seen[k] = 1;
                k++;
            }
            if (j >= te->n && r == NULL) {
                break;
            }
            smt_buf_init(&b);
            if (r == NULL) {
                smt_buf_printf(out, "    topic %s: record %u of %u is "
                                    "missing (got %u): ",
                               te->topic, j + 1, te->n, nact);
                show_exp(out, &te->recs[j]);
                smt_buf_addc(out, '\n');
                bad++;
            } else if (j >= te->n) {
                smt_buf_printf(out, "    topic %s: unexpected record %u "
                                    "(expected %u): ",
                               te->topic, j + 1, te->n);
                show_act(out, r);
                smt_buf_addc(out, '\n');
                bad++;
            } else if (rec_diff(f, te->topic, &te->recs[j], r, &arena, &b) >
                       0) {
                smt_buf_printf(out, "    topic %s: record %u of %u "
                                    "(line %u) differs:\n",
                               te->topic, j + 1, te->n, te->recs[j].at->line);
                smt_buf_add(out, b.ptr, b.len);
                smt_buf_adds(out, "      actual: ");
                show_act(out, r);
                smt_buf_addc(out, '\n');
                bad++;
            }
            smt_buf_fini(&b);
        }
    }
    for (k = 0; k < run.nrecs; k++) {
        if (!seen[k]) {
            smt_buf_adds(out, "    topic ");
            show_bytes(out, run.recs[k].topic, 0);
            smt_buf_adds(out, ": unexpected record (topic not in "
                              "'outputs'): ");
            show_act(out, &run.recs[k]);
            smt_buf_addc(out, '\n');
            bad++;
        }
    }

    /* drops */
    for (j = 0; j < c->ndrops || j < run.ndrops; j++) {
        const struct pt_drop *e = j < c->ndrops ? &c->drops[j] : NULL;
        const struct pt_drop *a = j < run.ndrops ? &run.drops[j] : NULL;

        if (e != NULL && a != NULL && e->reason == a->reason &&
            (e->route == NULL) == (a->route == NULL) &&
            (e->route == NULL || strcmp(e->route, a->route) == 0)) {
            continue;
        }
        smt_buf_printf(out, "    dropped[%u]: expected ", j + 1);
        if (e != NULL) {
            show_drop(out, e);
        } else {
            smt_buf_adds(out, "nothing");
        }
        smt_buf_adds(out, ", got ");
        if (a != NULL) {
            show_drop(out, a);
        } else {
            smt_buf_adds(out, "nothing");
        }
        smt_buf_addc(out, '\n');
        bad++;
    }

    /* failures and DLQ records */
    for (j = 0; j < c->ndlq || j < run.ndlq; j++) {
        const struct pt_dlq *e = j < c->ndlq ? &c->dlq[j] : NULL;
        const struct pt_dlq *a = j < run.ndlq ? &run.dlq[j] : NULL;

        if (e != NULL && a != NULL) {
            fld = dlq_mismatch(e, a);
            if (fld < 0) {
                continue;
            }
            smt_buf_printf(out, "    dlq[%u].%s: expected ", j + 1,
                           dlq_keys[fld]);
            if (e->f[fld] == NULL) {
                smt_buf_adds(out, "null");
            } else {
                smt_json_write_str(out, e->f[fld], strlen(e->f[fld]));
            }
            smt_buf_adds(out, fld == PT_F_MESSAGE ? " (a prefix), got "
                                                  : ", got ");
            if (a->f[fld] == NULL) {
                smt_buf_adds(out, "null");
            } else {
                smt_json_write_str(out, a->f[fld], strlen(a->f[fld]));
            }
            smt_buf_adds(out, "\n      actual: ");
            show_dlq(out, a, 1);
            smt_buf_addc(out, '\n');
        } else if (e != NULL) {
            smt_buf_printf(out, "    dlq[%u]: missing (line %u): ", j + 1,
                           e->at->line);
            show_dlq(out, e, 0);
            smt_buf_addc(out, '\n');
        } else {
            smt_buf_printf(out, "    dlq[%u]: unexpected: ", j + 1);
            show_dlq(out, a, 1);
            smt_buf_addc(out, '\n');
        }
        bad++;
    }

    smt_pipeline_free(pl);
    smt_arena_fini(&arena);
    return bad == 0;
}

/* ---------------------------------------------------------------------- */

static int file_exists(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

char *px_test_default_cases(const char *config)
{
    const char *slash = strrchr(config, '/');
    const char *dot = strrchr(config, '.');
    size_t      n = strlen(config);

    if (dot != NULL && (slash == NULL || dot > slash + 1)) {
        n = (size_t)(dot - config);
    }
    return smt_xasprintf("%.*s.test.yaml", (int)n, config);
}

int px_test_run(const char *config, const char *const *cases, int ncases)
{
    struct smt_diags          d;
    struct smt_pipeline_conf *pc;
    struct smt_pipeline      *pl;
    struct smt_err            err;
    struct pt_file          **files;
    struct smt_buf            out;
    uint32_t                  i;
    int                       k, passed = 0, failed = 0, broken = 0, r;

    smt_diags_init(&d);
    pc = smt_pipeline_conf_load(config, &d);
    if (pc == NULL || d.n > 0) {
        for (i = 0; i < d.n; i++) {
            fprintf(stderr, "%s\n", d.msg[i]);
        }
        if (d.n == 0) {
            fprintf(stderr, "%s: cannot load the configuration\n", config);
        }
        smt_diags_fini(&d);
        smt_pipeline_conf_free(pc);
        return PT_EXIT_BROKEN;
    }
    /* a pipeline that cannot start is a broken test, not a failing case */
    smt_err_clear(&err);
    pl = smt_pipeline_new(pc, &err);
    if (pl == NULL) {
        fprintf(stderr, "%s: %s\n", config, err.msg);
        smt_diags_fini(&d);
        smt_pipeline_conf_free(pc);
        return PT_EXIT_BROKEN;
    }
    smt_pipeline_free(pl);

    /* every file is loaded (and every problem reported) before any runs */
    files = smt_xcalloc((size_t)ncases + 1, sizeof(*files));
    for (k = 0; k < ncases; k++) {
        if (!file_exists(cases[k])) {
            fprintf(stderr, "%s: no such test file\n", cases[k]);
            broken = 1;
            continue;
        }
        files[k] = file_load(cases[k], pc, &d);
        if (files[k] == NULL) {
            broken = 1;
        }
    }
    for (i = 0; i < d.n; i++) {
        fprintf(stderr, "%s\n", d.msg[i]);
    }
    smt_diags_fini(&d);
    if (broken) {
        for (k = 0; k < ncases; k++) {
            file_free(files[k]);
        }
        free(files);
        smt_pipeline_conf_free(pc);
        return PT_EXIT_BROKEN;
    }

    smt_buf_init(&out);
    for (k = 0; k < ncases; k++) {
        for (i = 0; i < files[k]->ncases; i++) {
            const struct pt_case *c = &files[k]->cases[i];

            out.len = 0;
            r = run_case(files[k], c, pc, &out);
            if (r < 0) {
                broken = 1;
            }
            if (r > 0) {
                passed++;
                printf("ok   %s\n", c->name);
            } else {
                failed++;
                printf("FAIL %s:%u:%u: %s\n", cases[k], c->at->line,
                       c->at->col, c->name);
                fwrite(out.ptr, 1, out.len, stdout);
            }
        }
    }
    printf("%d passed, %d failed\n", passed, failed);
    fflush(stdout);
    smt_buf_fini(&out);
    for (k = 0; k < ncases; k++) {
        file_free(files[k]);
    }
    free(files);
    smt_pipeline_conf_free(pc);
    if (broken) {
        return PT_EXIT_BROKEN;
    }
    return failed > 0 ? PT_EXIT_FAIL : PT_EXIT_OK;
}

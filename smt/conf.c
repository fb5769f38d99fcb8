/*
 * conf.c - configuration trees with source positions, diagnostics, and the
 * three readers that produce trees: YAML (libyaml's document API), Java
 * .properties and Connect JSON (jansson).
 *
 * Every reader turns its format into the same smt_cnode tree, so option
 * tables, chains and pipelines are validated by one code path whatever the
 * source, and every error can say file:line:col (1-based). Nodes live in
 * the tree's arena; a tree is freed in one step.
 *
 * YAML specifics: anchors and aliases are expanded by copying (a recursive
 * alias is an error, and a budget on the expanded node count stops "billion
 * laughs" documents); a second document in the stream is an error;
 * duplicate keys in one mapping are an error at the second key; plain
 * `null`, `~` and empty scalars become SMT_CN_NULL nodes (s keeps the
 * text). ${VAR}, ${VAR:-default} (VAR upper case, [A-Z_][A-Z0-9_]*) and
 * $${ (a literal "${") are expanded in every scalar value (not in keys);
 * any other ${...} is kept as written, so Connect's ${topic}, ${timestamp}
 * and RegexRouter's ${group} pass through.
 *
 * Secret marking: a value whose text came from the environment, and every
 * value under a key that looks secret (password, secret, sasl.jaas.config,
 * ssl.key, token, credentials; case-insensitive), get cnode->secret = 1 so
 * no message or dump ever prints it.
 */
#include "conf.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#include <jansson.h>
#include <yaml.h>

/* Stop collecting after this many messages: a fuzzed file can otherwise
 * produce one per byte. */
#define DIAGS_MAX 200
/* Budget for nodes after alias expansion. */
#define YAML_NODES_MAX 200000
/* Deepest nesting accepted (recursion in the walkers). */
#define CONF_DEPTH_MAX 64

/* ---------------------------------------------------------------------- */
/* Diagnostics */

void smt_diags_init(struct smt_diags *d)
{
    memset(d, 0, sizeof(*d));
}

void smt_diags_fini(struct smt_diags *d)
{
    uint32_t i;

    if (d == NULL) {
        return;
    }
    for (i = 0; i < d->n; i++) {
        free(d->msg[i]);
    }
    free(d->msg);
    memset(d, 0, sizeof(*d));
}

/* The one place a diagnostic is formatted. file NULL or line 0: no
 * position. */
static void diag_vadd(struct smt_diags *d, const char *file, uint32_t line,
                      uint32_t col, const char *fmt, va_list ap)
{
    char     text[512];
    char    *msg;
    uint32_t i;

    if (d == NULL) {
        return;
    }
    if (d->n >= DIAGS_MAX) {
        return;
    }
    vsnprintf(text, sizeof(text), fmt, ap);
    if (d->n + 1 == DIAGS_MAX) {
        msg = smt_xstrdup("too many errors, giving up");
    } else if (file != NULL && line > 0) {
        msg = smt_xasprintf("%s:%u:%u: %s", file, line, col, text);
    } else if (file != NULL) {
        msg = smt_xasprintf("%s: %s", file, text);
    } else {
        msg = smt_xstrdup(text);
    }
    /* The same finding reached by two paths (a predicate validated on its
     * own and again where a step uses it) is reported once. */
    for (i = 0; i < d->n; i++) {
        if (strcmp(d->msg[i], msg) == 0) {
            free(msg);
            return;
        }
    }
    if (d->n == d->cap) {
        d->cap = d->cap ? d->cap * 2 : 8;
        d->msg = smt_xrealloc(d->msg, d->cap * sizeof(*d->msg));
    }
    d->msg[d->n++] = msg;
}

int smt_diag(struct smt_diags *d, const struct smt_cnode *at, const char *fmt,
             ...)
{
    va_list ap;

    va_start(ap, fmt);
    if (at != NULL) {
        diag_vadd(d, at->file, at->line, at->col, fmt, ap);
    } else {
        diag_vadd(d, NULL, 0, 0, fmt, ap);
    }
    va_end(ap);
    return -1;
}

int smt_diag_pos(struct smt_diags *d, const char *file, uint32_t line,
                 uint32_t col, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    diag_vadd(d, file, line, col, fmt, ap);
    va_end(ap);
    return -1;
}

/* ---------------------------------------------------------------------- */
/* Nodes */

struct smt_cnode *smt_cnode_get(const struct smt_cnode *map, const char *key)
{
    uint32_t i;

    if (map == NULL || map->kind != SMT_CN_MAP) {
        return NULL;
    }
    for (i = 0; i < map->n; i++) {
        if (strcmp(map->k[i]->s, key) == 0) {
            return map->v[i];
        }
    }
    return NULL;
}

struct smt_cnode *smt_cnode_new(struct smt_ctree *t, int kind,
                                const struct smt_cnode *pos)
{
    struct smt_cnode *n = smt_arena_calloc(&t->arena, sizeof(*n));

    n->kind = (uint8_t)kind;
    if (pos != NULL) {
        n->line = pos->line;
        n->col = pos->col;
        n->file = pos->file;
    } else {
        n->file = t->file;
    }
    return n;
}

struct smt_cnode *smt_cnode_scalar(struct smt_ctree *t, const char *s,
                                   const struct smt_cnode *pos)
{
    struct smt_cnode *n = smt_cnode_new(t, SMT_CN_SCALAR, pos);
    size_t            len = strlen(s);

    n->s = smt_arena_memdup(&t->arena, s, len);
    n->len = len;
    return n;
}

/* Item arrays grow in powers of two from 4; the capacity is implied by n,
 * so nodes need no cap field. */
static int needs_grow(uint32_t n)
{
    return n == 0 || (n >= 4 && (n & (n - 1)) == 0);
}

static uint32_t grown_cap(uint32_t n)
{
    return n == 0 ? 4 : n * 2;
}

void smt_cnode_map_add(struct smt_ctree *t, struct smt_cnode *map,
                       struct smt_cnode *key, struct smt_cnode *val)
{
    if (needs_grow(map->n)) {
        uint32_t oc = map->n == 0 ? 0 : map->n;

        map->k = smt_arena_grow(&t->arena, map->k, oc, grown_cap(map->n),
                                sizeof(*map->k));
        map->v = smt_arena_grow(&t->arena, map->v, oc, grown_cap(map->n),
                                sizeof(*map->v));
    }
    map->k[map->n] = key;
    map->v[map->n] = val;
    map->n++;
}

void smt_cnode_seq_add(struct smt_ctree *t, struct smt_cnode *seq,
                       struct smt_cnode *item)
{
    if (needs_grow(seq->n)) {
        seq->v = smt_arena_grow(&t->arena, seq->v, seq->n, grown_cap(seq->n),
                                sizeof(*seq->v));
    }
    seq->v[seq->n++] = item;
}

static struct smt_ctree *ctree_new(const char *name)
{
    struct smt_ctree *t = smt_xcalloc(1, sizeof(*t));

    smt_arena_init(&t->arena, 16384);
    t->file = smt_xstrdup(name ? name : "<config>");
    return t;
}

void smt_ctree_free(struct smt_ctree *t)
{
    if (t == NULL) {
        return;
    }
    smt_arena_fini(&t->arena);
    free(t->file);
    free(t);
}

int smt_key_is_secret(const char *key)
{
    static const char *const words[] = {"password", "secret",
                                        "sasl.jaas.config", "ssl.key",
                                        "token", "credentials", NULL};
    size_t i;

    for (i = 0; words[i] != NULL; i++) {
        if (strcasestr(key, words[i]) != NULL) {
            return 1;
        }
    }
    return 0;
}

static void mark_secret(struct smt_cnode *n, int depth)
{
    uint32_t i;

    n->secret = 1;
    if ((n->kind == SMT_CN_SEQ || n->kind == SMT_CN_MAP) &&
        depth < CONF_DEPTH_MAX) {
        for (i = 0; i < n->n; i++) {
            mark_secret(n->v[i], depth + 1);
        }
    }
}

/* Reads a whole file; NULL with a diagnostic when it cannot be read. */
static char *read_file(const char *path, size_t *len, struct smt_diags *d)
{
    FILE          *f = fopen(path, "rb");
    struct smt_buf b;
    char           chunk[8192];
    size_t         n;

    if (f == NULL) {
        smt_diag_pos(d, path, 0, 0, "cannot open: %s", strerror(errno));
        return NULL;
    }
    smt_buf_init(&b);
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        smt_buf_add(&b, chunk, n);
    }
    if (ferror(f)) {
        smt_diag_pos(d, path, 0, 0, "cannot read: %s", strerror(errno));
        fclose(f);
        smt_buf_fini(&b);
        return NULL;
    }
    fclose(f);
    smt_buf_addc(&b, '\0');
    *len = b.len - 1;
    return b.ptr;
}

/* ---------------------------------------------------------------------- */
/* ${ENV} interpolation */

/* Environment references are upper case (${KAFKA_PASSWORD}); anything
 * else in ${...} is left alone, because Connect's own placeholders live in
 * the same values: TimestampRouter's ${topic} and ${timestamp}, and
 * RegexRouter's ${name} group references. */
static int env_name_ok(const char *p, size_t n)
{
    size_t i;

    if (n == 0 || !(isupper((unsigned char)p[0]) || p[0] == '_')) {
        return 0;
    }
    for (i = 1; i < n; i++) {
        if (!(isupper((unsigned char)p[i]) || isdigit((unsigned char)p[i]) ||
              p[i] == '_')) {
            return 0;
        }
    }
    return 1;
}

/* Expands s into out. Returns 0 (with *from_env set when a variable's
 * value was used) or -1 with a diagnostic at node. */
static int env_expand(const char *s, size_t len, struct smt_buf *out,
                      int *from_env, const struct smt_cnode *at,
                      struct smt_diags *d)
{
    size_t i = 0;

    *from_env = 0;
    while (i < len) {
        const char *close, *colon;
        char        name[256];
        size_t      nl;
        const char *val;

        if (s[i] == '$' && i + 2 < len && s[i + 1] == '$' &&
            s[i + 2] == '{') {
            smt_buf_add(out, "${", 2);
            i += 3;
            continue;
        }
        if (!(s[i] == '$' && i + 1 < len && s[i + 1] == '{')) {
            smt_buf_addc(out, s[i]);
            i++;
            continue;
        }
        close = memchr(s + i + 2, '}', len - i - 2);
        colon = close ? memchr(s + i + 2, ':', (size_t)(close - (s + i + 2)))
                      : NULL;
        nl = close ? (size_t)((colon ? colon : close) - (s + i + 2)) : 0;
        if (close == NULL || !env_name_ok(s + i + 2, nl)) {
            /* Not an environment reference: keep the text as it is. */
            smt_buf_add(out, "${", 2);
            i += 2;
            continue;
        }
        if (colon != NULL && (colon + 1 >= close || colon[1] != '-')) {
            return smt_diag(d, at,
                            "invalid '${...}' reference: expected '${VAR}' "
                            "or '${VAR:-default}'");
        }
        if (nl >= sizeof(name)) {
            return smt_diag(d, at, "invalid environment variable name '%.*s'",
                            (int)(nl > 64 ? 64 : nl), s + i + 2);
        }
        memcpy(name, s + i + 2, nl);
        name[nl] = '\0';
        val = getenv(name);
        if (val != NULL && (val[0] != '\0' || colon == NULL)) {
            smt_buf_adds(out, val);
            *from_env = 1;
        } else if (colon != NULL) {
            smt_buf_add(out, colon + 2, (size_t)(close - (colon + 2)));
        } else {
            return smt_diag(d, at, "environment variable '%s' is not set",
                            name);
        }
        i = (size_t)(close - s) + 1;
    }
    return 0;
}

/* ---------------------------------------------------------------------- */
/* YAML */

struct yaml_ctx {
    struct smt_ctree *t;
    yaml_document_t  *doc;
    struct smt_diags *d;
    uint8_t          *busy; /* per yaml node: being converted (cycle check) */
    size_t            nnodes;
    size_t            made;
    int               errors;
};

static void node_pos(struct smt_cnode *n, const yaml_node_t *yn,
                     const struct smt_ctree *t)
{
    n->line = (uint32_t)yn->start_mark.line + 1;
    n->col = (uint32_t)yn->start_mark.column + 1;
    n->file = t->file;
}

static int yaml_plain_null(const yaml_node_t *yn)
{
    const char *s = (const char *)yn->data.scalar.value;
    const char *tag = (const char *)yn->tag;

    if (tag != NULL && strcmp(tag, YAML_NULL_TAG) == 0) {
        return 1;
    }
    if (yn->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) {
        return 0;
    }
    if (tag != NULL && strcmp(tag, YAML_DEFAULT_SCALAR_TAG) != 0) {
        return 0;
    }
    return yn->data.scalar.length == 0 || strcmp(s, "~") == 0 ||
           strcmp(s, "null") == 0 || strcmp(s, "Null") == 0 ||
           strcmp(s, "NULL") == 0;
}

static struct smt_cnode *yaml_conv(struct yaml_ctx *c, int idx, int is_key,
                                   int depth);

static struct smt_cnode *yaml_scalar(struct yaml_ctx *c, yaml_node_t *yn,
                                     int is_key)
{
    struct smt_cnode *n = smt_cnode_new(c->t, SMT_CN_SCALAR, NULL);
    const char       *s = (const char *)yn->data.scalar.value;
    size_t            len = yn->data.scalar.length;
    struct smt_buf    b;
    int               from_env = 0;

    node_pos(n, yn, c->t);
    n->quoted = yn->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
    if (!is_key && yaml_plain_null(yn)) {
        n->kind = SMT_CN_NULL;
        n->s = smt_arena_memdup(&c->t->arena, s, len);
        n->len = len;
        return n;
    }
    if (is_key || memchr(s, '$', len) == NULL) {
        n->s = smt_arena_memdup(&c->t->arena, s, len);
        n->len = len;
        return n;
    }
    smt_buf_init(&b);
    if (env_expand(s, len, &b, &from_env, n, c->d) < 0) {
        c->errors++;
        smt_buf_add(&b, "", 0);
    }
    n->s = smt_arena_memdup(&c->t->arena, b.ptr ? b.ptr : "", b.len);
    n->len = b.len;
    n->secret = (uint8_t)from_env;
    smt_buf_fini(&b);
    return n;
}

static struct smt_cnode *yaml_conv(struct yaml_ctx *c, int idx, int is_key,
                                   int depth)
{
    yaml_node_t      *yn = yaml_document_get_node(c->doc, idx);
    struct smt_cnode *n;

    if (yn == NULL) {
        return NULL;
    }
    if (++c->made > YAML_NODES_MAX) {
        if (c->made == YAML_NODES_MAX + 1) {
            smt_diag_pos(c->d, c->t->file, (uint32_t)yn->start_mark.line + 1,
                         (uint32_t)yn->start_mark.column + 1,
                         "document too large (more than %d nodes after "
                         "expanding aliases)",
                         YAML_NODES_MAX);
            c->errors++;
        }
        return NULL;
    }
    if (depth > CONF_DEPTH_MAX) {
        smt_diag_pos(c->d, c->t->file, (uint32_t)yn->start_mark.line + 1,
                     (uint32_t)yn->start_mark.column + 1,
                     "nesting deeper than %d levels", CONF_DEPTH_MAX);
        c->errors++;
        return NULL;
    }
    if (c->busy[idx - 1]) {
        smt_diag_pos(c->d, c->t->file, (uint32_t)yn->start_mark.line + 1,
                     (uint32_t)yn->start_mark.column + 1,
                     "recursive alias: a node contains itself");
        c->errors++;
        return NULL;
    }
    switch (yn->type) {
    case YAML_SCALAR_NODE:
        return yaml_scalar(c, yn, is_key);
    case YAML_SEQUENCE_NODE: {
        yaml_node_item_t *it;

        n = smt_cnode_new(c->t, SMT_CN_SEQ, NULL);
        node_pos(n, yn, c->t);
        c->busy[idx - 1] = 1;
        for (it = yn->data.sequence.items.start;
             it < yn->data.sequence.items.top; it++) {
            struct smt_cnode *item = yaml_conv(c, *it, 0, depth + 1);

            if (item == NULL) {
                break;
            }
            smt_cnode_seq_add(c->t, n, item);
        }
        c->busy[idx - 1] = 0;
        return c->errors ? NULL : n;
    }
    case YAML_MAPPING_NODE: {
        yaml_node_pair_t *p;

        n = smt_cnode_new(c->t, SMT_CN_MAP, NULL);
        node_pos(n, yn, c->t);
        c->busy[idx - 1] = 1;
        for (p = yn->data.mapping.pairs.start; p < yn->data.mapping.pairs.top;
             p++) {
            yaml_node_t      *kn = yaml_document_get_node(c->doc, p->key);
            struct smt_cnode *k, *v;

            if (kn == NULL || kn->type != YAML_SCALAR_NODE) {
                if (kn != NULL) {
                    smt_diag_pos(c->d, c->t->file,
                                 (uint32_t)kn->start_mark.line + 1,
                                 (uint32_t)kn->start_mark.column + 1,
                                 "mapping keys must be scalars");
                }
                c->errors++;
                break;
            }
            k = yaml_conv(c, p->key, 1, depth + 1);
            if (k == NULL) {
                break;
            }
            if (smt_cnode_get(n, k->s) != NULL) {
                smt_diag(c->d, k, "duplicate key '%s'", k->s);
                c->errors++;
                continue;
            }
            v = yaml_conv(c, p->value, 0, depth + 1);
            if (v == NULL) {
                break;
            }
            if (smt_key_is_secret(k->s)) {
                mark_secret(v, 0);
            }
            smt_cnode_map_add(c->t, n, k, v);
        }
        c->busy[idx - 1] = 0;
        return c->errors ? NULL : n;
    }
    default:
        return NULL;
    }
}

static void yaml_problem(yaml_parser_t *p, const char *file,
                         struct smt_diags *d)
{
    const char *problem = p->problem ? p->problem : "unknown error";

    if (p->error == YAML_MEMORY_ERROR) {
        smt_diag_pos(d, file, 0, 0, "invalid YAML: out of memory");
    } else if (p->error == YAML_READER_ERROR) {
        /* The reader reports a byte offset, not a mark. */
        smt_diag_pos(d, file, (uint32_t)p->problem_mark.line + 1,
                     (uint32_t)p->problem_mark.column + 1,
                     "invalid YAML: %s (byte %zu)", problem,
                     p->problem_offset);
    } else if (p->context != NULL) {
        smt_diag_pos(d, file, (uint32_t)p->problem_mark.line + 1,
                     (uint32_t)p->problem_mark.column + 1,
                     "invalid YAML: %s %s", problem, p->context);
    } else {
        smt_diag_pos(d, file, (uint32_t)p->problem_mark.line + 1,
                     (uint32_t)p->problem_mark.column + 1,
                     "invalid YAML: %s", problem);
    }
}

struct smt_ctree *smt_ctree_yaml_buf(const char *name, const char *buf,
                                     size_t len, struct smt_diags *d)
{
    yaml_parser_t     parser;
    yaml_document_t   doc, doc2;
    struct smt_ctree *t;
    struct yaml_ctx   c;
    yaml_node_t      *root;
    int               ok = 1;

    t = ctree_new(name);
    if (!yaml_parser_initialize(&parser)) {
        smt_diag_pos(d, t->file, 0, 0, "cannot initialise the YAML parser");
        smt_ctree_free(t);
        return NULL;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
    if (!yaml_parser_load(&parser, &doc)) {
        yaml_problem(&parser, t->file, d);
        yaml_parser_delete(&parser);
        smt_ctree_free(t);
        return NULL;
    }
    root = yaml_document_get_root_node(&doc);
    if (root != NULL) {
        /* A second document is an error: which one would we use? */
        if (!yaml_parser_load(&parser, &doc2)) {
            yaml_problem(&parser, t->file, d);
            ok = 0;
        } else {
            yaml_node_t *r2 = yaml_document_get_root_node(&doc2);

            if (r2 != NULL) {
                smt_diag_pos(d, t->file, (uint32_t)doc2.start_mark.line + 1,
                             (uint32_t)doc2.start_mark.column + 1,
                             "multiple YAML documents are not supported");
                ok = 0;
            }
            yaml_document_delete(&doc2);
        }
    }
    if (ok && root == NULL) {
        t->root = smt_cnode_new(t, SMT_CN_NULL, NULL);
        t->root->line = 1;
        t->root->col = 1;
        t->root->s = smt_arena_memdup(&t->arena, "", 0);
    } else if (ok) {
        memset(&c, 0, sizeof(c));
        c.t = t;
        c.doc = &doc;
        c.d = d;
        c.nnodes = (size_t)(doc.nodes.top - doc.nodes.start);
        c.busy = smt_xcalloc(c.nnodes + 1, 1);
        t->root = yaml_conv(&c, 1, 0, 0);
        free(c.busy);
        if (c.errors || t->root == NULL) {
            ok = 0;
        }
    }
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    if (!ok) {
        smt_ctree_free(t);
        return NULL;
    }
    return t;
}

struct smt_ctree *smt_ctree_yaml_file(const char *path, struct smt_diags *d)
{
    size_t            len = 0;
    char             *buf = read_file(path, &len, d);
    struct smt_ctree *t;

    if (buf == NULL) {
        return NULL;
    }
    t = smt_ctree_yaml_buf(path, buf, len, d);
    free(buf);
    return t;
}

/* ---------------------------------------------------------------------- */
/* Java .properties (java.util.Properties.load rules) */

struct props {
    const char *p, *end;
    uint32_t    line, col; /* position of p */
};

static int prop_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\f';
}

static void prop_adv(struct props *s)
{
    if (*s->p == '\n' || (*s->p == '\r' && (s->p + 1 == s->end ||
                                            s->p[1] != '\n'))) {
        s->line++;
        s->col = 1;
    } else if (*s->p != '\r') {
        s->col++;
    }
    s->p++;
}

static int prop_eol(const struct props *s)
{
    return s->p >= s->end || *s->p == '\n' || *s->p == '\r';
}

/* Skips a line terminator (\n, \r or \r\n). */
static void prop_skip_eol(struct props *s)
{
    /* prop_adv counts a \r only when no \n follows it */
    if (s->p < s->end && *s->p == '\r') {
        prop_adv(s);
    }
    if (s->p < s->end && *s->p == '\n') {
        prop_adv(s);
    }
}

static void utf8_put(struct smt_buf *b, uint32_t cp)
{
    if (cp < 0x80) {
        smt_buf_addc(b, (char)cp);
    } else if (cp < 0x800) {
        smt_buf_addc(b, (char)(0xc0 | (cp >> 6)));
        smt_buf_addc(b, (char)(0x80 | (cp & 0x3f)));
    } else if (cp < 0x10000) {
        smt_buf_addc(b, (char)(0xe0 | (cp >> 12)));
        smt_buf_addc(b, (char)(0x80 | ((cp >> 6) & 0x3f)));
        smt_buf_addc(b, (char)(0x80 | (cp & 0x3f)));
    } else {
        smt_buf_addc(b, (char)(0xf0 | (cp >> 18)));
        smt_buf_addc(b, (char)(0x80 | ((cp >> 12) & 0x3f)));
        smt_buf_addc(b, (char)(0x80 | ((cp >> 6) & 0x3f)));
        smt_buf_addc(b, (char)(0x80 | (cp & 0x3f)));
    }
}

static int hex4(const char *p, const char *end, uint32_t *out)
{
    int      i;
    uint32_t v = 0;

    if (end - p < 4) {
        return -1;
    }
    for (i = 0; i < 4; i++) {
        char c = p[i];

        v <<= 4;
        if (c >= '0' && c <= '9') {
            v |= (uint32_t)(c - '0');
        } else if (c >= 'a' && c <= 'f') {
            v |= (uint32_t)(c - 'a' + 10);
        } else if (c >= 'A' && c <= 'F') {
            v |= (uint32_t)(c - 'A' + 10);
        } else {
            return -1;
        }
    }
    *out = v;
    return 0;
}

/* Reads one key (is_key) or value of the logical line at s->p into out,
 * handling escapes and continuation lines. A key stops at an unescaped
 * '=', ':' or whitespace. Returns 0, or -1 on a malformed \uXXXX. */
static int prop_token(struct props *s, int is_key, struct smt_buf *out,
                      uint32_t *hi, const struct smt_cnode *at,
                      struct smt_diags *d)
{
    while (!prop_eol(s)) {
        char c = *s->p;

        if (is_key && (c == '=' || c == ':' || prop_ws(c))) {
            break;
        }
        if (c != '\\') {
            smt_buf_addc(out, c);
            prop_adv(s);
            continue;
        }
        prop_adv(s);
        if (prop_eol(s)) {
            /* Continuation: skip the terminator and leading white space. */
            if (s->p >= s->end) {
                break;
            }
            prop_skip_eol(s);
            while (s->p < s->end && prop_ws(*s->p)) {
                prop_adv(s);
            }
            continue;
        }
        c = *s->p;
        if (c == 'u') {
            uint32_t cp;

            if (hex4(s->p + 1, s->end, &cp) < 0) {
                return smt_diag(d, at, "Malformed \\uxxxx encoding.");
            }
            prop_adv(s);
            prop_adv(s);
            prop_adv(s);
            prop_adv(s);
            prop_adv(s);
            if (cp >= 0xd800 && cp < 0xdc00) {
                if (*hi != 0) {
                    utf8_put(out, 0xfffd);
                }
                *hi = cp;
                continue;
            }
            if (cp >= 0xdc00 && cp < 0xe000 && *hi != 0) {
                utf8_put(out, 0x10000 + ((*hi - 0xd800) << 10) +
                                  (cp - 0xdc00));
                *hi = 0;
                continue;
            }
            if (*hi != 0 || (cp >= 0xd800 && cp < 0xe000)) {
                utf8_put(out, 0xfffd);
                *hi = 0;
                if (cp >= 0xd800 && cp < 0xe000) {
                    continue;
                }
            }
            utf8_put(out, cp);
            continue;
        }
        if (*hi != 0) {
            utf8_put(out, 0xfffd);
            *hi = 0;
        }
        switch (c) {
        case 't':
            smt_buf_addc(out, '\t');
            break;
        case 'n':
            smt_buf_addc(out, '\n');
            break;
        case 'r':
            smt_buf_addc(out, '\r');
            break;
        case 'f':
            smt_buf_addc(out, '\f');
            break;
        default:
            smt_buf_addc(out, c);
            break;
        }
        prop_adv(s);
    }
    if (*hi != 0) {
        utf8_put(out, 0xfffd);
        *hi = 0;
    }
    return 0;
}

/* Adds key=val to the flat map; a repeated key replaces the earlier value
 * (java.util.Properties semantics), keeping the later position. */
static void flat_put(struct smt_ctree *t, struct smt_cnode *k,
                     struct smt_cnode *v)
{
    uint32_t i;

    if (smt_key_is_secret(k->s)) {
        v->secret = 1;
    }
    for (i = 0; i < t->root->n; i++) {
        if (strcmp(t->root->k[i]->s, k->s) == 0) {
            t->root->k[i] = k;
            t->root->v[i] = v;
            return;
        }
    }
    smt_cnode_map_add(t, t->root, k, v);
}

static struct smt_cnode *pos_node(struct smt_ctree *t, int kind, uint32_t line,
                                  uint32_t col)
{
    struct smt_cnode *n = smt_cnode_new(t, kind, NULL);

    n->line = line;
    n->col = col;
    n->file = t->file;
    return n;
}

static void set_text(struct smt_ctree *t, struct smt_cnode *n, const char *s,
                     size_t len)
{
    n->s = smt_arena_memdup(&t->arena, s ? s : "", len);
    n->len = len;
}

static int props_parse(struct smt_ctree *t, const char *buf, size_t len,
                       struct smt_diags *d)
{
    struct props   s = {buf, buf + len, 1, 1};
    struct smt_buf kb, vb;
    int            rc = 0;

    /* UTF-8 byte order mark */
    if (len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0) {
        s.p += 3;
    }
    smt_buf_init(&kb);
    smt_buf_init(&vb);
    while (s.p < s.end) {
        struct smt_cnode *k, *v;
        uint32_t          hi = 0;

        while (s.p < s.end && prop_ws(*s.p)) {
            prop_adv(&s);
        }
        if (prop_eol(&s)) {
            prop_skip_eol(&s);
            continue;
        }
        if (*s.p == '#' || *s.p == '!') {
            /* Comment lines are never continued. */
            while (!prop_eol(&s)) {
                prop_adv(&s);
            }
            prop_skip_eol(&s);
            continue;
        }
        kb.len = 0;
        vb.len = 0;
        k = pos_node(t, SMT_CN_SCALAR, s.line, s.col);
        if (prop_token(&s, 1, &kb, &hi, k, d) < 0) {
            rc = -1;
            goto next;
        }
        while (!prop_eol(&s) && prop_ws(*s.p)) {
            prop_adv(&s);
        }
        if (!prop_eol(&s) && (*s.p == '=' || *s.p == ':')) {
            prop_adv(&s);
        }
        while (!prop_eol(&s) && prop_ws(*s.p)) {
            prop_adv(&s);
        }
        v = pos_node(t, SMT_CN_SCALAR, s.line, s.col);
        if (prop_token(&s, 0, &vb, &hi, v, d) < 0) {
            rc = -1;
            goto next;
        }
        set_text(t, k, kb.ptr, kb.len);
        set_text(t, v, vb.ptr, vb.len);
        flat_put(t, k, v);
    next:
        while (!prop_eol(&s)) {
            prop_adv(&s);
        }
        prop_skip_eol(&s);
    }
    smt_buf_fini(&kb);
    smt_buf_fini(&vb);
    return rc;
}

/* ---------------------------------------------------------------------- */
/* Connect JSON. jansson validates and decodes; a small scanner over the
 * (then known valid) text finds where each member of the config object
 * starts, matched to jansson's members by order (jansson keeps insertion
 * order). If the scan and jansson disagree the object's position is used
 * for every member. */

struct jpos {
    uint32_t kline, kcol, vline, vcol;
    size_t   kstart, klen; /* raw key text inside the quotes */
    size_t   vstart;       /* offset of the value's first byte */
};

struct jscan {
    const char *p;
    size_t      len, i;
    uint32_t    line, col;
};

static void js_adv(struct jscan *s)
{
    if (s->p[s->i] == '\n') {
        s->line++;
        s->col = 1;
    } else if ((s->p[s->i] & 0xc0) != 0x80) {
        s->col++; /* columns count characters, as jansson's do */
    }
    s->i++;
}

static void js_ws(struct jscan *s)
{
    while (s->i < s->len && (s->p[s->i] == ' ' || s->p[s->i] == '\t' ||
                             s->p[s->i] == '\n' || s->p[s->i] == '\r')) {
        js_adv(s);
    }
}

static void js_string(struct jscan *s)
{
    js_adv(s); /* opening quote */
    while (s->i < s->len && s->p[s->i] != '"') {
        if (s->p[s->i] == '\\' && s->i + 1 < s->len) {
            js_adv(s);
        }
        js_adv(s);
    }
    if (s->i < s->len) {
        js_adv(s);
    }
}

static void js_value(struct jscan *s, int depth)
{
    char c;

    js_ws(s);
    if (s->i >= s->len) {
        return;
    }
    c = s->p[s->i];
    if (c == '"') {
        js_string(s);
    } else if (c == '{' || c == '[') {
        char close = c == '{' ? '}' : ']';

        js_adv(s);
        for (;;) {
            js_ws(s);
            if (s->i >= s->len || s->p[s->i] == close) {
                break;
            }
            if (c == '{') {
                js_string(s);
                js_ws(s);
                if (s->i < s->len) {
                    js_adv(s); /* ':' */
                }
            }
            if (depth < 4096) {
                js_value(s, depth + 1);
            }
            js_ws(s);
            if (s->i < s->len && s->p[s->i] == ',') {
                js_adv(s);
            } else {
                break;
            }
        }
        if (s->i < s->len) {
            js_adv(s);
        }
    } else {
        while (s->i < s->len && strchr(",}] \t\r\n", s->p[s->i]) == NULL) {
            js_adv(s);
        }
    }
}

/* Members of the object at s (which must be at '{'). Returns how many were
 * recorded in pos (at most max). */
static size_t js_members(struct jscan *s, struct jpos *pos, size_t max)
{
    size_t n = 0;

    js_ws(s);
    if (s->i >= s->len || s->p[s->i] != '{') {
        return 0;
    }
    js_adv(s);
    for (;;) {
        struct jpos jp;

        js_ws(s);
        if (s->i >= s->len || s->p[s->i] != '"') {
            break;
        }
        jp.kline = s->line;
        jp.kcol = s->col;
        jp.kstart = s->i + 1;
        js_string(s);
        jp.klen = s->i - 1 - jp.kstart;
        js_ws(s);
        if (s->i < s->len) {
            js_adv(s); /* ':' */
        }
        js_ws(s);
        jp.vline = s->line;
        jp.vcol = s->col;
        jp.vstart = s->i;
        if (n < max) {
            pos[n] = jp;
        }
        n++;
        js_value(s, 1);
        js_ws(s);
        if (s->i < s->len && s->p[s->i] == ',') {
            js_adv(s);
        } else {
            break;
        }
    }
    return n;
}

/* Text of a non-string JSON scalar as Connect would see it. NULL for
 * arrays and objects. Returns a new string (free()). */
static char *json_scalar_text(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_STRING:
        return smt_xstrndup(json_string_value(v), json_string_length(v));
    case JSON_INTEGER:
        return smt_xasprintf("%" JSON_INTEGER_FORMAT, json_integer_value(v));
    case JSON_REAL: {
        char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_REAL_PRECISION(17));
        char *r = smt_xstrdup(s ? s : "0");

        free(s);
        return r;
    }
    case JSON_TRUE:
        return smt_xstrdup("true");
    case JSON_FALSE:
        return smt_xstrdup("false");
    default:
        return NULL;
    }
}

static int json_fill(struct smt_ctree *t, const json_t *obj,
                     const struct jpos *pos, size_t npos,
                     const struct smt_cnode *objpos, struct smt_diags *d)
{
    const char *key;
    json_t     *v;
    size_t      i = 0;
    int         rc = 0;
    int         exact = npos == json_object_size(obj);

    json_object_foreach((json_t *)obj, key, v) {
        struct smt_cnode *kn, *vn;
        char             *text;

        if (exact) {
            kn = pos_node(t, SMT_CN_SCALAR, pos[i].kline, pos[i].kcol);
            vn = pos_node(t, SMT_CN_SCALAR, pos[i].vline, pos[i].vcol);
        } else {
            kn = smt_cnode_new(t, SMT_CN_SCALAR, objpos);
            vn = smt_cnode_new(t, SMT_CN_SCALAR, objpos);
        }
        i++;
        set_text(t, kn, key, strlen(key));
        if (json_is_null(v)) {
            vn->kind = SMT_CN_NULL;
            set_text(t, vn, "null", 4);
        } else if ((text = json_scalar_text(v)) == NULL) {
            rc = smt_diag(d, vn,
                          "config value of '%s' must be a string, number or "
                          "boolean",
                          key);
            continue;
        } else {
            vn->quoted = json_is_string(v);
            set_text(t, vn, text, strlen(text));
            free(text);
        }
        flat_put(t, kn, vn);
    }
    return rc;
}

static int json_parse(struct smt_ctree *t, const char *buf, size_t len,
                      struct smt_diags *d)
{
    json_error_t      jerr;
    json_t           *root, *config, *name;
    struct jscan      s = {buf, len, 0, 1, 1};
    struct jpos      *pos;
    size_t            npos, i, max;
    struct smt_cnode *objpos;
    int               rc;

    root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        return smt_diag_pos(d, t->file, (uint32_t)(jerr.line > 0 ? jerr.line : 1),
                            (uint32_t)(jerr.column > 0 ? jerr.column : 1),
                            "invalid JSON: %s", jerr.text);
    }
    js_ws(&s);
    objpos = pos_node(t, SMT_CN_MAP, s.line, s.col);
    if (!json_is_object(root)) {
        json_decref(root);
        return smt_diag(d, objpos, "expected a JSON object");
    }
    max = json_object_size(root) + 1;
    config = json_object_get(root, "config");
    name = json_object_get(root, "name");
    if (json_is_object(config)) {
        /* REST form: find the "config" member's object. */
        size_t n;

        pos = smt_xcalloc(max, sizeof(*pos));
        n = js_members(&s, pos, max);
        for (i = 0; i < n && i < max; i++) {
            if (pos[i].klen == 6 && memcmp(buf + pos[i].kstart, "config", 6) == 0) {
                break;
            }
        }
        if (i < n && i < max) {
            s.i = pos[i].vstart;
            s.line = pos[i].vline;
            s.col = pos[i].vcol;
            objpos = pos_node(t, SMT_CN_MAP, s.line, s.col);
        }
        free(pos);
        max = json_object_size(config) + 1;
        pos = smt_xcalloc(max, sizeof(*pos));
        npos = i < n ? js_members(&s, pos, max) : 0;
        {
            const char *key;
            json_t     *v;

            json_object_foreach(root, key, v) {
                if (strcmp(key, "name") != 0 && strcmp(key, "config") != 0 &&
                    strcmp(key, "tasks") != 0 && strcmp(key, "type") != 0) {
                    smt_diag(d, objpos,
                             "unexpected key '%s' in a connector definition "
                             "(expected 'name' and 'config')",
                             key);
                    free(pos);
                    json_decref(root);
                    return -1;
                }
            }
        }
        rc = json_fill(t, config, pos, npos, objpos, d);
        free(pos);
        if (rc == 0 && json_is_string(name)) {
            struct smt_cnode *cn = smt_cnode_get(t->root, "name");

            if (cn != NULL && strcmp(cn->s, json_string_value(name)) != 0) {
                rc = smt_diag(d, cn,
                              "connector name '%s' does not match 'name' "
                              "'%s' in its config",
                              json_string_value(name), cn->s);
            } else if (cn == NULL) {
                struct smt_cnode *kn = smt_cnode_scalar(t, "name", objpos);
                struct smt_cnode *vn = smt_cnode_scalar(
                    t, json_string_value(name), objpos);

                vn->quoted = 1;
                flat_put(t, kn, vn);
            }
        } else if (rc == 0 && name != NULL && !json_is_null(name)) {
            rc = smt_diag(d, objpos, "connector 'name' must be a string");
        }
    } else {
        pos = smt_xcalloc(max, sizeof(*pos));
        npos = js_members(&s, pos, max);
        rc = json_fill(t, root, pos, npos, objpos, d);
        free(pos);
    }
    json_decref(root);
    return rc;
}

struct smt_ctree *smt_ctree_connect_buf(const char *name, const char *buf,
                                        size_t len, struct smt_diags *d)
{
    struct smt_ctree *t = ctree_new(name);
    size_t            i = 0;
    int               rc;

    t->root = smt_cnode_new(t, SMT_CN_MAP, NULL);
    t->root->line = 1;
    t->root->col = 1;
    while (i < len && isspace((unsigned char)buf[i])) {
        i++;
    }
    if (i < len && buf[i] == '{') {
        rc = json_parse(t, buf, len, d);
    } else {
        rc = props_parse(t, buf, len, d);
    }
    if (rc < 0) {
        smt_ctree_free(t);
        return NULL;
    }
    return t;
}

struct smt_ctree *smt_ctree_connect_file(const char *path, struct smt_diags *d)
{
    size_t            len = 0;
    char             *buf = read_file(path, &len, d);
    struct smt_ctree *t;

    if (buf == NULL) {
        return NULL;
    }
    t = smt_ctree_connect_buf(path, buf, len, d);
    free(buf);
    return t;
}

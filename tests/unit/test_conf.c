/*
 * test_conf.c - configuration trees: the YAML reader (positions, syntax
 * errors, aliases, documents, duplicates, ${ENV}, secrets), the Java
 * .properties reader, Connect JSON, and the pipeline loader built on them.
 */
#include "smt.h"
#include "t.h"

#include <stdlib.h>
#include <unistd.h>

static struct smt_diags d;

/* The first diagnostic, or "" when there is none. */
static const char *diag0(void)
{
    return d.n > 0 ? d.msg[0] : "";
}

static int has_diag(const char *msg)
{
    uint32_t i;

    for (i = 0; i < d.n; i++) {
        if (strcmp(d.msg[i], msg) == 0) {
            return 1;
        }
    }
    fprintf(stderr, "  wanted: %s\n", msg);
    for (i = 0; i < d.n; i++) {
        fprintf(stderr, "  got:    %s\n", d.msg[i]);
    }
    return 0;
}

static void reset(void)
{
    smt_diags_fini(&d);
    smt_diags_init(&d);
}

static struct smt_ctree *yaml(const char *s)
{
    reset();
    return smt_ctree_yaml_buf("t.yaml", s, strlen(s), &d);
}

static struct smt_ctree *connect(const char *name, const char *s)
{
    reset();
    return smt_ctree_connect_buf(name, s, strlen(s), &d);
}

/* Expects the YAML text to be rejected with exactly msg first. */
static void yaml_err(const char *s, const char *msg)
{
    struct smt_ctree *t = yaml(s);

    T_OKM(t == NULL, "accepted: %s", s);
    T_EQS(diag0(), msg);
    smt_ctree_free(t);
}

static void test_diag(void)
{
    struct smt_cnode n = {0};

    reset();
    n.file = "a.yaml";
    n.line = 3;
    n.col = 7;
    T_EQI(smt_diag(&d, &n, "bad '%s'", "x"), -1);
    T_EQI(smt_diag(&d, NULL, "no position %d", 1), -1);
    T_EQI(smt_diag_pos(&d, "b.yaml", 1, 2, "p"), -1);
    T_EQI(smt_diag_pos(&d, "c.yaml", 0, 0, "cannot open"), -1);
    T_EQI(d.n, 4);
    T_EQS(d.msg[0], "a.yaml:3:7: bad 'x'");
    T_EQS(d.msg[1], "no position 1");
    T_EQS(d.msg[2], "b.yaml:1:2: p");
    T_EQS(d.msg[3], "c.yaml: cannot open");
}

static void test_yaml_basic(void)
{
    struct smt_ctree *t;
    struct smt_cnode *n, *m;

    t = yaml("name: sensors\n"
             "list:\n"
             "  - a\n"
             "  - 'b c'\n"
             "map: {x: 1, y: ~, z: null, w: \"null\", e: }\n");
    T_OK(t != NULL);
    if (t == NULL) {
        return;
    }
    T_EQI(t->root->kind, SMT_CN_MAP);
    T_EQI(t->root->n, 3);
    n = smt_cnode_get(t->root, "name");
    T_EQS(n->s, "sensors");
    T_EQI(n->line, 1);
    T_EQI(n->col, 7);
    T_EQS(n->file, "t.yaml");
    T_EQI(t->root->k[0]->line, 1);
    T_EQI(t->root->k[0]->col, 1);
    n = smt_cnode_get(t->root, "list");
    T_EQI(n->kind, SMT_CN_SEQ);
    T_EQI(n->n, 2);
    T_EQS(n->v[1]->s, "b c");
    T_EQI(n->v[1]->quoted, 1);
    T_EQI(n->v[0]->quoted, 0);
    T_EQI(n->v[1]->line, 4);
    T_EQI(n->v[1]->col, 5);
    m = smt_cnode_get(t->root, "map");
    T_EQI(m->kind, SMT_CN_MAP);
    T_EQI(smt_cnode_get(m, "x")->kind, SMT_CN_SCALAR);
    T_EQI(smt_cnode_get(m, "y")->kind, SMT_CN_NULL);
    T_EQI(smt_cnode_get(m, "z")->kind, SMT_CN_NULL);
    T_EQI(smt_cnode_get(m, "w")->kind, SMT_CN_SCALAR);
    T_EQS(smt_cnode_get(m, "w")->s, "null");
    T_EQI(smt_cnode_get(m, "e")->kind, SMT_CN_NULL);
    T_OK(smt_cnode_get(m, "nope") == NULL);
    T_OK(smt_cnode_get(n, "a") == NULL); /* not a map */
    smt_ctree_free(t);

    /* empty document: a NULL root */
    t = yaml("# nothing\n");
    T_OK(t != NULL && t->root->kind == SMT_CN_NULL);
    smt_ctree_free(t);
}

static void test_yaml_errors(void)
{
    yaml_err("a: 1\nb: [1, 2\n",
             "t.yaml:3:1: invalid YAML: did not find expected ',' or ']' "
             "while parsing a flow sequence");
    yaml_err("a: 1\n  b: 2\n",
             "t.yaml:2:4: invalid YAML: mapping values are not allowed in "
             "this context");
    yaml_err("a: 1\na: 2\n", "t.yaml:2:1: duplicate key 'a'");
    yaml_err("x:\n  k: 1\n  j: 2\n  k: 3\n", "t.yaml:4:3: duplicate key 'k'");
    yaml_err("a: 1\n---\nb: 2\n",
             "t.yaml:2:1: multiple YAML documents are not supported");
    yaml_err("a: *nope\n",
             "t.yaml:1:4: invalid YAML: found undefined alias");
    yaml_err("a: &x [1, *x]\n",
             "t.yaml:1:4: recursive alias: a node contains itself");
    yaml_err("? [a]\n: 1\n", "t.yaml:1:3: mapping keys must be scalars");
    yaml_err("a: \"\\xZZ\"\n",
             "t.yaml:1:7: invalid YAML: did not find expected hexdecimal "
             "number while parsing a quoted scalar");
}

static void test_yaml_alias(void)
{
    struct smt_ctree *t;
    struct smt_cnode *b;
    struct smt_buf    big;
    int               i;

    t = yaml("a: &x {k: v}\nb: *x\n");
    T_OK(t != NULL);
    if (t != NULL) {
        b = smt_cnode_get(t->root, "b");
        T_EQI(b->kind, SMT_CN_MAP);
        T_EQS(smt_cnode_get(b, "k")->s, "v");
        /* a copy, not the same node */
        T_OK(b != smt_cnode_get(t->root, "a"));
    }
    smt_ctree_free(t);

    /* billion laughs: stopped by the node budget */
    smt_buf_init(&big);
    smt_buf_adds(&big, "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for (i = 1; i < 10; i++) {
        smt_buf_printf(&big,
                       "a%d: &a%d [*a%d, *a%d, *a%d, *a%d, *a%d, *a%d, "
                       "*a%d, *a%d, *a%d, *a%d]\n",
                       i, i, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1,
                       i - 1, i - 1, i - 1);
    }
    smt_buf_addc(&big, '\0');
    t = yaml(big.ptr);
    T_OK(t == NULL);
    T_OK(strstr(diag0(), "document too large") != NULL);
    smt_ctree_free(t);
    smt_buf_fini(&big);
}

static void test_env(void)
{
    struct smt_ctree *t;

    setenv("SMT_T_USER", "alice", 1);
    setenv("SMT_T_EMPTY", "", 1);
    unsetenv("SMT_T_UNSET");
    t = yaml("a: ${SMT_T_USER}\n"
             "b: pre-${SMT_T_USER}-post\n"
             "c: ${SMT_T_UNSET:-dflt}\n"
             "d: $${SMT_T_USER}\n"
             "e: cost $5 and ${SMT_T_EMPTY:-x}\n"
             "f: plain\n"
             "g: ${SMT_T_EMPTY}\n"
             "${SMT_T_USER}: key\n");
    T_OK(t != NULL);
    if (t != NULL) {
        T_EQS(smt_cnode_get(t->root, "a")->s, "alice");
        T_EQI(smt_cnode_get(t->root, "a")->secret, 1);
        T_EQS(smt_cnode_get(t->root, "b")->s, "pre-alice-post");
        T_EQI(smt_cnode_get(t->root, "b")->secret, 1);
        T_EQS(smt_cnode_get(t->root, "c")->s, "dflt");
        T_EQI(smt_cnode_get(t->root, "c")->secret, 0);
        T_EQS(smt_cnode_get(t->root, "d")->s, "${SMT_T_USER}");
        T_EQI(smt_cnode_get(t->root, "d")->secret, 0);
        T_EQS(smt_cnode_get(t->root, "e")->s, "cost $5 and x");
        T_EQI(smt_cnode_get(t->root, "f")->secret, 0);
        T_EQS(smt_cnode_get(t->root, "g")->s, "");
        T_EQI(smt_cnode_get(t->root, "g")->kind, SMT_CN_SCALAR);
        /* keys are not interpolated */
        T_OK(smt_cnode_get(t->root, "${SMT_T_USER}") != NULL);
    }
    smt_ctree_free(t);

    t = yaml("a: 1\nb: x ${SMT_T_UNSET}\nc: ${SMT_T_UNSET}\n");
    T_OK(t == NULL);
    T_EQI(d.n, 2);
    T_EQS(diag0(), "t.yaml:2:4: environment variable 'SMT_T_UNSET' is not set");
    smt_ctree_free(t);
    /* Only upper-case references are the environment's: Connect's own
     * placeholders and anything unterminated stay as written. */
    t = yaml("a: ${SMT_T_USER\n"
             "b: ${1X}\n"
             "c: '${topic}-${timestamp}'\n"
             "d: '${env}.$2'\n");
    T_OK(t != NULL);
    if (t != NULL) {
        T_EQS(smt_cnode_get(t->root, "a")->s, "${SMT_T_USER");
        T_EQS(smt_cnode_get(t->root, "b")->s, "${1X}");
        T_EQS(smt_cnode_get(t->root, "c")->s, "${topic}-${timestamp}");
        T_EQS(smt_cnode_get(t->root, "d")->s, "${env}.$2");
        T_EQI(smt_cnode_get(t->root, "c")->secret, 0);
    }
    smt_ctree_free(t);
    yaml_err("a: ${X:=y}\n",
             "t.yaml:1:4: invalid '${...}' reference: expected '${VAR}' or "
             "'${VAR:-default}'");
}

static void test_secret_keys(void)
{
    struct smt_ctree *t;

    t = yaml("kafka:\n"
             "  sasl.password: hunter2\n"
             "  SASL.JAAS.CONFIG: x\n"
             "  ssl.key.location: /k\n"
             "  api_token: [a, b]\n"
             "  bootstrap.servers: b:9092\n"
             "  Credentials: {u: 1}\n");
    T_OK(t != NULL);
    if (t != NULL) {
        struct smt_cnode *k = smt_cnode_get(t->root, "kafka");

        T_EQI(smt_cnode_get(k, "sasl.password")->secret, 1);
        T_EQI(smt_cnode_get(k, "SASL.JAAS.CONFIG")->secret, 1);
        T_EQI(smt_cnode_get(k, "ssl.key.location")->secret, 1);
        T_EQI(smt_cnode_get(k, "api_token")->secret, 1);
        T_EQI(smt_cnode_get(k, "api_token")->v[1]->secret, 1);
        T_EQI(smt_cnode_get(k, "bootstrap.servers")->secret, 0);
        T_EQI(smt_cnode_get(smt_cnode_get(k, "Credentials"), "u")->secret, 1);
        T_EQI(k->secret, 0);
    }
    smt_ctree_free(t);
    T_OK(smt_key_is_secret("my.Secret.thing"));
    T_OK(!smt_key_is_secret("fields"));
}

static void test_properties(void)
{
    struct smt_ctree *t;
    struct smt_cnode *n;

    t = connect("c.properties",
                "# comment\n"
                "  ! also a comment \\\n"
                "name=mask-sink\n"
                "   topics : a, b  \n"
                "transforms mask\n"
                "transforms.mask.type=org.apache.kafka.connect.transforms.MaskField$Value\n"
                "transforms.mask.fields=ssn,\\\n"
                "     card\n"
                "esc\\ key\\=x = tab\\there\\nnl \\u00e9\\u20ac\\uD83D\\uDE00\n"
                "empty=\n"
                "onlykey\n"
                "colon:val\r\n"
                "dup=1\n"
                "dup=2\n"
                "sasl.jaas.config=secret-stuff\n"
                "last=end\\");
    T_OK(t != NULL);
    if (t == NULL) {
        return;
    }
    T_EQI(t->root->kind, SMT_CN_MAP);
    n = smt_cnode_get(t->root, "name");
    T_EQS(n->s, "mask-sink");
    T_EQI(n->line, 3);
    T_EQI(n->col, 6);
    T_EQI(t->root->k[0]->line, 3);
    T_EQI(t->root->k[0]->col, 1);
    n = smt_cnode_get(t->root, "topics");
    T_EQS(n->s, "a, b  "); /* Java keeps trailing blanks; options trim */
    T_EQI(n->line, 4);
    T_EQI(n->col, 13);
    T_EQS(smt_cnode_get(t->root, "transforms")->s, "mask");
    T_EQS(smt_cnode_get(t->root, "transforms.mask.type")->s,
          "org.apache.kafka.connect.transforms.MaskField$Value");
    T_EQS(smt_cnode_get(t->root, "transforms.mask.fields")->s, "ssn,card");
    n = smt_cnode_get(t->root, "esc key=x");
    T_OK(n != NULL);
    if (n != NULL) {
        T_EQS(n->s, "tab\there\nnl \xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
    }
    T_EQS(smt_cnode_get(t->root, "empty")->s, "");
    T_EQS(smt_cnode_get(t->root, "onlykey")->s, "");
    T_EQS(smt_cnode_get(t->root, "colon")->s, "val");
    n = smt_cnode_get(t->root, "dup");
    T_EQS(n->s, "2");
    T_EQI(n->line, 14);
    T_EQI(smt_cnode_get(t->root, "sasl.jaas.config")->secret, 1);
    T_EQI(smt_cnode_get(t->root, "name")->secret, 0);
    T_EQS(smt_cnode_get(t->root, "last")->s, "end");
    smt_ctree_free(t);

    t = connect("c.properties", "a=1\nb=\\u12G4\n");
    T_OK(t == NULL);
    T_EQS(diag0(), "c.properties:2:3: Malformed \\uxxxx encoding.");
    smt_ctree_free(t);

    /* CR-only line ends */
    t = connect("c.properties", "a=1\rb=2\r");
    T_OK(t != NULL && t->root->n == 2);
    if (t != NULL) {
        T_EQI(smt_cnode_get(t->root, "b")->line, 2);
    }
    smt_ctree_free(t);
}

static void test_connect_json(void)
{
    struct smt_ctree *t;
    struct smt_cnode *n;

    t = connect("c.json", "{\"name\": \"jdbc-sink\",\n"
                          " \"config\": {\n"
                          "   \"topics\": \"a\",\n"
                          "   \"tasks.max\": 3,\n"
                          "   \"x.enable\": true,\n"
                          "   \"r\": 1.5,\n"
                          "   \"nothing\": null,\n"
                          "   \"ssl.key.password\": \"p\"\n"
                          " }\n"
                          "}\n");
    T_OK(t != NULL);
    if (t == NULL) {
        return;
    }
    T_EQI(t->root->n, 7);
    n = smt_cnode_get(t->root, "topics");
    T_EQS(n->s, "a");
    T_EQI(n->line, 3);
    T_EQI(n->col, 14);
    T_EQI(t->root->k[0]->line, 3);
    T_EQI(t->root->k[0]->col, 4);
    T_EQS(smt_cnode_get(t->root, "tasks.max")->s, "3");
    T_EQS(smt_cnode_get(t->root, "x.enable")->s, "true");
    T_EQS(smt_cnode_get(t->root, "r")->s, "1.5");
    T_EQI(smt_cnode_get(t->root, "nothing")->kind, SMT_CN_NULL);
    T_EQI(smt_cnode_get(t->root, "ssl.key.password")->secret, 1);
    T_EQS(smt_cnode_get(t->root, "name")->s, "jdbc-sink");
    smt_ctree_free(t);

    /* flat form */
    t = connect("c.json", "  {\"name\": \"x\", \"topics\": \"t\"}");
    T_OK(t != NULL && t->root->n == 2);
    if (t != NULL) {
        T_EQS(smt_cnode_get(t->root, "name")->s, "x");
        T_EQI(smt_cnode_get(t->root, "topics")->col, 27);
    }
    smt_ctree_free(t);

    t = connect("c.json", "{\"a\": 1,\n \"b\": }");
    T_OK(t == NULL);
    T_OK(strncmp(diag0(), "c.json:2:7: invalid JSON: ", 26) == 0);
    smt_ctree_free(t);

    t = connect("c.json", "{\"a\": 1, \"a\": 2}");
    T_OK(t == NULL);
    T_OK(strstr(diag0(), "duplicate object key") != NULL);
    smt_ctree_free(t);

    t = connect("c.json", "{\"a\": [1]}");
    T_OK(t == NULL);
    T_EQS(diag0(), "c.json:1:7: config value of 'a' must be a string, "
                   "number or boolean");
    smt_ctree_free(t);

    t = connect("c.json", "{\"name\": \"a\", \"config\": {\"name\": \"b\"}}");
    T_OK(t == NULL);
    T_EQS(diag0(), "c.json:1:34: connector name 'a' does not match 'name' "
                   "'b' in its config");
    smt_ctree_free(t);
}

/* ---------------------------------------------------------------------- */
/* Chains */

static struct smt_arena ca;

/* Loads the `transforms:` list of a YAML text into cc. */
static int chain_load(struct smt_chain_conf *cc, const char *yamltext)
{
    struct smt_ctree *t = yaml(yamltext);
    int               rc;

    if (t == NULL) {
        fprintf(stderr, "yaml: %s\n", diag0());
        memset(cc, 0, sizeof(*cc));
        return -2;
    }
    rc = smt_chain_conf_load(cc, smt_cnode_get(t->root, "transforms"),
                             smt_cnode_get(t->root, "predicates"), &ca, &d);
    smt_ctree_free(t);
    return rc;
}

static void chain_err(const char *yamltext, const char *msg)
{
    struct smt_chain_conf cc;

    T_OKM(chain_load(&cc, yamltext) == -1, "accepted: %s", yamltext);
    T_OK(has_diag(msg));
    T_EQI(cc.n, 0);
    smt_chain_conf_fini(&cc);
}

static void test_chain_load(void)
{
    struct smt_chain_conf cc;

    T_EQI(chain_load(&cc, "transforms:\n"
                          "  - type: MaskField$Key\n"
                          "    fields: ssn, card\n"
                          "  - type: org.apache.kafka.connect.transforms."
                          "InsertHeader\n"
                          "    name: tag\n"
                          "    header: h\n"
                          "    value.literal: v\n"
                          "  - {type: filter}\n"
                          "  - {type: mask_field, fields: [x]}\n"),
          0);
    T_EQI(d.n, 0);
    T_EQI(cc.n, 4);
    if (cc.n == 4) {
        T_EQS(cc.steps[0].t->name, "mask_field");
        T_EQI(cc.steps[0].side, SMT_KEY);
        T_EQS(cc.steps[0].id, "mask_field#1");
        T_EQS(cc.steps[1].id, "tag");
        T_EQS(cc.steps[1].t->name, "insert_header");
        T_EQS(cc.steps[2].id, "filter#3");
        T_EQI(cc.steps[3].side, SMT_VALUE);
        T_EQS(cc.steps[3].id, "mask_field#4");
        T_OK(cc.steps[0].gate == NULL);
        T_OK(cc.steps[0].conf != NULL);
    }
    smt_chain_conf_fini(&cc);
    T_EQI(cc.n, 0);

    /* an absent or empty list is an empty chain */
    T_EQI(chain_load(&cc, "x: 1\n"), 0);
    T_EQI(cc.n, 0);
    T_EQI(chain_load(&cc, "transforms: []\n"), 0);
    T_EQI(cc.n, 0);

    chain_err("transforms: {type: filter}\n",
              "t.yaml:1:13: 'transforms' must be a list of steps");
    chain_err("transforms:\n  - filter\n",
              "t.yaml:2:5: a transform step must be a mapping");
    chain_err("transforms:\n  - {fields: a}\n",
              "t.yaml:2:5: missing required option 'type'");
    chain_err("transforms:\n  - {type: MaskFeild$Value, fields: a}\n",
              "t.yaml:2:12: unknown transform type 'MaskFeild$Value' (did you "
              "mean 'MaskField$Value'?)");
    chain_err("transforms:\n  - {type: Filter$Value}\n",
              "t.yaml:2:12: transform type 'Filter' has no $Key/$Value "
              "variants");
    chain_err("transforms:\n  - {type: TopicNameMatches, pattern: a}\n",
              "t.yaml:2:12: 'TopicNameMatches' is a predicate, not a transform "
              "(use it under 'predicates:')");
    chain_err("transforms:\n  - type: mask_field\n    fieldz: a\n",
              "t.yaml:3:5: unknown option 'fieldz' (did you mean 'fields'?)");
    chain_err("transforms:\n  - type: mask_field\n    fieldz: a\n",
              "t.yaml:2:5: missing required option 'fields'");
    chain_err("transforms:\n  - type: filter\n    negate: true\n",
              "t.yaml:3:13: Config 'negate' was provided but there is no "
              "config 'predicate' defining a predicate to be negated.");
    chain_err("transforms:\n  - type: filter\n    negate: maybe\n",
              "t.yaml:3:13: option 'negate': must be true or false");
    chain_err("predicates: {p: {type: RecordIsTombstone}}\n"
              "transforms:\n  - type: filter\n    predicate: p\n"
              "    if: {topic: {eq: a}}\n",
              "t.yaml:5:9: 'if' and 'predicate' cannot be used together on "
              "one step");
    chain_err("transforms:\n  - {type: filter, name: a}\n"
              "  - {type: filter, name: a}\n",
              "t.yaml:3:26: duplicate step name 'a'");
    chain_err("transforms:\n  - {type: filter, name: [a]}\n",
              "t.yaml:2:26: 'name' must be a string");
    /* init() runs at load: Cast's own check fails here, not per record */
    {
        struct smt_chain_conf c2;

        T_EQI(chain_load(&c2, "transforms:\n  - type: Cast$Value\n"
                              "    spec: 'foo:bytes'\n"),
              -1);
        T_OKM(strncmp(diag0(), "t.yaml:2:5: transform 'cast#1': ", 32) == 0,
              "%s", diag0());
        smt_chain_conf_fini(&c2);
    }
}

static void rec_init(struct smt_record *rec, struct smt_arena *a,
                     const char *topic, const char *value)
{
    smt_record_init(rec, a, SMT_FMT_JSON, SMT_FMT_JSON);
    rec->topic = smt_bytes_str(topic);
    rec->value.raw = smt_bytes_str(value);
}

static void test_chain_run(void)
{
    struct smt_chain_conf cc;
    struct smt_chain     *chain;
    struct smt_err        err;
    struct smt_arena      ra;
    struct smt_record     rec;
    uint32_t              failed = 99;

    smt_arena_init(&ra, 4096);
    T_EQI(chain_load(&cc, "transforms:\n"
                          "  - {type: InsertHeader, header: h, "
                          "value.literal: v}\n"
                          "  - {type: Filter}\n"
                          "  - {type: InsertHeader, header: never, "
                          "value.literal: v}\n"),
          0);
    smt_err_clear(&err);
    chain = smt_chain_new(&cc, &err);
    T_OK(chain != NULL);
    if (chain != NULL) {
        rec_init(&rec, &ra, "t", "{}");
        T_EQI(smt_chain_apply(chain, &rec, &err, &failed), SMT_DROP);
        T_EQI(rec.nhdrs, 1);
        T_EQI(chain->steps[0].n.in, 1);
        T_EQI(chain->steps[0].n.passed, 1);
        T_EQI(chain->steps[1].n.dropped, 1);
        T_EQI(chain->steps[2].n.in, 0);
        T_EQI(failed, 99);
    }
    smt_chain_free(chain);
    smt_chain_conf_fini(&cc);

    /* A value that does not decode: the converter's stage is kept. */
    T_EQI(chain_load(&cc, "transforms:\n"
                          "  - {type: InsertHeader, header: h, "
                          "value.literal: v}\n"
                          "  - {type: MaskField$Value, fields: a}\n"),
          0);
    chain = smt_chain_new(&cc, &err);
    T_OK(chain != NULL);
    if (chain != NULL) {
        smt_arena_reset(&ra);
        rec_init(&rec, &ra, "t", "{not json");
        T_EQI(smt_chain_apply(chain, &rec, &err, &failed), SMT_FAIL);
        T_EQI(failed, 1);
        T_EQI(err.stage, SMT_STAGE_VALUE_CONVERTER);
        T_EQI(chain->steps[1].n.failed, 1);

        /* A transform's own failure is stage TRANSFORMATION. */
        smt_arena_reset(&ra);
        rec_init(&rec, &ra, "t", "[1]");
        failed = 99;
        T_EQI(smt_chain_apply(chain, &rec, &err, &failed), SMT_FAIL);
        T_EQI(failed, 1);
        T_EQI(err.stage, SMT_STAGE_TRANSFORMATION);
        T_OKM(strstr(err.msg, "Only Map objects supported") != NULL, "%s",
              err.msg);

        smt_arena_reset(&ra);
        rec_init(&rec, &ra, "t", "{\"a\": \"secret\", \"b\": 1}");
        T_EQI(smt_chain_apply(chain, &rec, &err, &failed), SMT_PASS);
        T_EQI(chain->steps[1].n.passed, 1);
    }
    smt_chain_free(chain);
    smt_chain_conf_fini(&cc);

    /* A Connect predicate gates the Filter (needs smt/cond.c). */
    T_EQI(chain_load(&cc, "predicates:\n"
                          "  bar: {type: TopicNameMatches, pattern: 'bar-.*'}\n"
                          "transforms:\n"
                          "  - {type: Filter, predicate: bar}\n"
                          "  - {type: Filter, predicate: bar, negate: true}\n"),
          0);
    T_OK(cc.n == 2 && cc.steps[0].gate != NULL);
    chain = smt_chain_new(&cc, &err);
    T_OK(chain != NULL);
    if (chain != NULL) {
        smt_arena_reset(&ra);
        rec_init(&rec, &ra, "bar-topic", "1");
        T_EQI(smt_chain_apply(chain, &rec, &err, &failed), SMT_DROP);
        T_EQI(chain->steps[0].n.dropped, 1);
        smt_arena_reset(&ra);
        rec_init(&rec, &ra, "foo", "1");
        T_EQI(smt_chain_apply(chain, &rec, &err, &failed), SMT_DROP);
        T_EQI(chain->steps[0].n.passed, 1);
        T_EQI(chain->steps[1].n.dropped, 1);
    }
    smt_chain_free(chain);
    smt_chain_conf_fini(&cc);
    /* an unknown predicate name: cond.c words the message */
    T_EQI(chain_load(&cc, "transforms:\n  - {type: Filter, predicate: nope}\n"),
          -1);
    T_OK(d.n >= 1 && strncmp(diag0(), "t.yaml:2:31: ", 13) == 0);
    smt_chain_conf_fini(&cc);
    smt_arena_fini(&ra);
}

/* ---------------------------------------------------------------------- */
/* Pipelines */

static struct smt_pipeline_conf *pipe_yaml(const char *name, const char *s)
{
    reset();
    return smt_pipeline_conf_load_yaml(name, s, strlen(s), &d);
}

static void pipe_err(const char *s, const char *msg)
{
    struct smt_pipeline_conf *pc = pipe_yaml("p.yaml", s);

    T_OKM(pc == NULL, "accepted: %s", s);
    T_OK(has_diag(msg));
    smt_pipeline_conf_free(pc);
}

static const char *const full_yaml =
    "name: sensors\n"
    "kafka:\n"
    "  bootstrap.servers: embedded\n"
    "  sasl.password: hunter2\n"
    "consumer: {group.id: g, fetch.wait.max.ms: 50}\n"
    "producer: {linger.ms: 5, bootstrap.servers: [a, b]}\n"
    "input:\n"
    "  topics: [sensors.raw, other]\n"
    "  value.format: json\n"
    "  schemas.enable: true\n"
    "predicates:\n"
    "  is_bar: {type: TopicNameMatches, pattern: 'bar-.*'}\n"
    "errors:\n"
    "  tolerance: all\n"
    "  errors.deadletterqueue.topic.name: sensors.dlq\n"
    "  log_enable: true\n"
    "routes:\n"
    "  - name: audit\n"
    "    topic: sensors.audit\n"
    "    transforms:\n"
    "      - {type: MaskField$Value, fields: ssn}\n"
    "      - {type: Filter, predicate: is_bar}\n"
    "  - name: raw\n"
    "    errors: {tolerance: none, retry.timeout: 5s}\n"
    "unrouted: {topic: leftovers}\n"
    "admin: {listen: ':8080'}\n"
    "workers: 4\n";

static void test_pipeline_yaml(void)
{
    struct smt_pipeline_conf *pc = pipe_yaml("conf/p.yaml", full_yaml);

    T_OK(pc != NULL);
    if (pc == NULL) {
        fprintf(stderr, "%s\n", diag0());
        return;
    }
    T_EQS(pc->name, "sensors");
    T_EQI(pc->topics.n, 2);
    T_EQS(pc->topics.v[0], "sensors.raw");
    T_OK(pc->topic_regex == NULL);
    T_EQI(pc->key_fmt, SMT_FMT_JSON_ENVELOPE);
    T_EQI(pc->value_fmt, SMT_FMT_JSON_ENVELOPE);
    T_EQI(pc->kafka.n, 2);
    T_EQS(pc->kafka.k[1], "sasl.password");
    T_EQS(pc->kafka.v[1], "hunter2");
    T_EQI(pc->kafka.secret[1], 1);
    T_EQI(pc->kafka.secret[0], 0);
    T_EQI(pc->kafka.at[0]->line, 3);
    T_EQI(pc->consumer.n, 2);
    T_EQS(pc->producer.v[1], "a,b");
    T_EQI(pc->errors.tolerance, SMT_TOL_ALL);
    T_EQS(pc->errors.dlq_topic, "sensors.dlq");
    T_EQI(pc->errors.log_enable, 1);
    T_EQI(pc->errors.retry_timeout_ms, 0);
    T_EQI(pc->errors.retry_delay_max_ms, 60000);
    T_EQI(pc->errors.dlq_replication_factor, 3);
    T_EQI(pc->errors.dlq_context_headers, 0);
    T_EQI(pc->nroutes, 2);
    if (pc->nroutes == 2) {
        T_EQS(pc->routes[0].name, "audit");
        T_EQS(pc->routes[0].topic, "sensors.audit");
        T_EQI(pc->routes[0].chain.n, 2);
        T_EQI(pc->routes[0].has_errors, 0);
        T_EQI(pc->routes[0].errors.tolerance, SMT_TOL_ALL);
        T_OK(pc->routes[0].cond == NULL);
        T_EQS(pc->routes[1].name, "raw");
        T_OK(pc->routes[1].topic == NULL);
        T_EQI(pc->routes[1].chain.n, 0);
        T_EQI(pc->routes[1].has_errors, 1);
        T_EQI(pc->routes[1].errors.tolerance, SMT_TOL_NONE);
        T_EQI(pc->routes[1].errors.retry_timeout_ms, 5000);
        /* not overridden: inherited */
        T_EQS(pc->routes[1].errors.dlq_topic, "sensors.dlq");
        T_EQI(pc->routes[1].errors.log_enable, 1);
    }
    T_EQI(pc->unrouted, SMT_UNROUTED_TOPIC);
    T_EQS(pc->unrouted_topic, "leftovers");
    T_OK(pc->extra != NULL && smt_cnode_get(pc->extra, "admin") != NULL);
    smt_pipeline_conf_free(pc);

    /* minimal: defaults, name from the file */
    pc = pipe_yaml("dir/my-pipe.yaml",
                   "input: {topics: a, topic.regex: ~}\nroutes: [{name: r}]\n");
    T_OK(pc != NULL);
    if (pc != NULL) {
        T_EQS(pc->name, "my-pipe");
        T_EQI(pc->key_fmt, SMT_FMT_JSON);
        T_EQI(pc->errors.tolerance, SMT_TOL_NONE);
        T_OK(pc->errors.dlq_topic == NULL);
        T_EQI(pc->unrouted, SMT_UNROUTED_DROP);
    }
    smt_pipeline_conf_free(pc);

    pc = pipe_yaml("p.yaml", "input: {topic.regex: 'sensors\\..*', "
                             "value.format: string}\n"
                             "errors: {deadletterqueue.topic.name: dlq}\n"
                             "routes: [{name: r}]\nunrouted: dlq\n");
    T_OK(pc != NULL);
    if (pc != NULL) {
        T_EQS(pc->topic_regex, "sensors\\..*");
        T_EQI(pc->value_fmt, SMT_FMT_STRING);
        T_EQI(pc->unrouted, SMT_UNROUTED_DLQ);
    }
    smt_pipeline_conf_free(pc);
}

static void test_pipeline_yaml_errors(void)
{
    const char *ok_tail = "routes: [{name: r}]\n";

    pipe_err("", "p.yaml:1:1: configuration is empty");
    pipe_err("- a\n", "p.yaml:1:1: a pipeline must be a mapping");
    pipe_err("input: {topics: a}\nrotues: []\n",
             "p.yaml:2:1: unknown section 'rotues' (did you mean 'routes'?)");
    pipe_err("routes: [{name: r}]\n",
             "p.yaml:1:1: missing required section 'input'");
    pipe_err("input: {}\nroutes: [{name: r}]\n",
             "p.yaml:1:8: input: one of 'topics' or 'topic.regex' is "
             "required");
    pipe_err("input: {topics: a, topic.regex: b}\nroutes: [{name: r}]\n",
             "p.yaml:1:8: input: 'topics' and 'topic.regex' are mutually "
             "exclusive");
    pipe_err("input: {topics: a, value.format: JSON}\nroutes: [{name: r}]\n",
             "p.yaml:1:34: option 'value.format': must be one of: json, "
             "json_envelope, string, bytes, avro");
    pipe_err("input: {topics: a, topic.regex: '('}\nroutes: [{name: r}]\n",
             "p.yaml:1:33: option 'topic.regex': Invalid regex: missing "
             "closing parenthesis at offset 1");
    pipe_err("input: {topics: a}\n", "p.yaml:1:1: missing required section "
                                     "'routes'");
    pipe_err("input: {topics: a}\nroutes: []\n",
             "p.yaml:2:9: 'routes' must have at least one route");
    pipe_err("input: {topics: a}\nroutes: [{topic: x}]\n",
             "p.yaml:2:10: missing required option 'name'");
    pipe_err("input: {topics: a}\nroutes: [{name: r}, {name: r}]\n",
             "p.yaml:2:28: duplicate route name 'r'");
    pipe_err("input: {topics: a}\nroutes: [{name: r, trasforms: []}]\n",
             "p.yaml:2:20: unknown route key 'trasforms' (did you mean "
             "'transforms'?)");
    pipe_err("input: {topics: a}\nerrors: {tolerance: ALL}\nroutes: [{name: "
             "r}]\n",
             "p.yaml:2:21: option 'tolerance': must be one of: none, all");
    pipe_err("input: {topics: a}\nerrors: {tolerance: all, errors.tolerance: "
             "none}\nroutes: [{name: r}]\n",
             "p.yaml:2:26: duplicate key 'tolerance'");
    pipe_err("input: {topics: a}\nerrors: {retry.timeout: soon}\nroutes: "
             "[{name: r}]\n",
             "p.yaml:2:25: option 'retry.timeout': must be a duration "
             "(milliseconds, or with a unit: ms, s, m, h, d)");
    pipe_err("input: {topics: [a, b]}\nerrors: "
             "{deadletterqueue.topic.name: b}\nroutes: [{name: r}]\n",
             "p.yaml:2:38: The DLQ topic 'b' may not be included in the list "
             "of topics ('topics=a,b') consumed by the connector");
    pipe_err("input: {topic.regex: 'x.*'}\nerrors: "
             "{deadletterqueue.topic.name: x.dlq}\nroutes: [{name: r}]\n",
             "p.yaml:2:38: The DLQ topic 'x.dlq' may not be included in the "
             "regex matching the topics ('topics.regex=x.*') consumed by the "
             "connector");
    pipe_err("input: {topics: a}\nroutes:\n  - name: r\n    errors: "
             "{deadletterqueue.topic.name: a}\n",
             "p.yaml:4:42: The DLQ topic 'a' may not be included in the list "
             "of topics ('topics=a') consumed by the connector");
    pipe_err("input: {topics: a}\nroutes: [{name: r}]\nunrouted: dlq\n",
             "p.yaml:3:11: unrouted: dlq requires "
             "errors.deadletterqueue.topic.name");
    pipe_err("input: {topics: a}\nroutes: [{name: r}]\nunrouted: keep\n",
             "p.yaml:3:11: 'unrouted' must be drop, dlq or {topic: <name>}");
    pipe_err("input: {topics: a}\nroutes: [{name: r}]\nkafka: [a]\n",
             "p.yaml:3:8: 'kafka' must be a mapping of properties");
    pipe_err("input: {topics: a}\nroutes: [{name: r}]\nkafka: {a: {b: 1}}\n",
             "p.yaml:3:12: kafka: 'a' must be a string");
    /* several errors in one go, from different sections */
    {
        struct smt_pipeline_conf *pc = pipe_yaml(
            "p.yaml", "input: {topics: a}\nerrors: {tolerance: x}\n"
                      "routes:\n  - name: r\n    transforms: [{type: nope}]\n");

        T_OK(pc == NULL);
        T_OK(d.n >= 2);
        smt_pipeline_conf_free(pc);
    }
    (void)ok_tail;
}

static void test_pipeline_connect(void)
{
    struct smt_pipeline_conf *pc;
    const char               *props =
        "name=filter-sink\n"
        "connector.class=io.example.Sink\n"
        "tasks.max=2\n"
        "topics=bar-topic,foo\n"
        "value.converter=org.apache.kafka.connect.json.JsonConverter\n"
        "value.converter.schemas.enable=false\n"
        "key.converter=org.apache.kafka.connect.storage.StringConverter\n"
        "transforms=mask,filter\n"
        "transforms.mask.type=org.apache.kafka.connect.transforms.MaskField$Value\n"
        "transforms.mask.fields=ssn\n"
        "transforms.filter.type=Filter\n"
        "transforms.filter.predicate=barPredicate\n"
        "transforms.unused.type=Nonsense\n"
        "predicates=barPredicate\n"
        "predicates.barPredicate.type=TopicNameMatches\n"
        "predicates.barPredicate.pattern=bar-.*\n"
        "errors.tolerance=all\n"
        "errors.deadletterqueue.topic.name=dlq\n"
        "consumer.override.max.poll.records=10\n"
        "connection.password=x\n";

    reset();
    pc = smt_pipeline_conf_load_connect("c.properties", props, strlen(props),
                                        &d);
    T_OK(pc != NULL);
    if (pc == NULL) {
        fprintf(stderr, "%s\n", diag0());
        return;
    }
    T_EQS(pc->name, "filter-sink");
    T_EQI(pc->topics.n, 2);
    T_EQI(pc->key_fmt, SMT_FMT_STRING);
    T_EQI(pc->value_fmt, SMT_FMT_JSON);
    T_EQI(pc->errors.tolerance, SMT_TOL_ALL);
    T_EQS(pc->errors.dlq_topic, "dlq");
    T_EQI(pc->consumer.n, 1);
    T_EQS(pc->consumer.k[0], "max.poll.records");
    T_EQI(pc->nroutes, 1);
    T_EQS(pc->routes[0].name, "filter-sink");
    T_OK(pc->routes[0].topic == NULL);
    T_OK(pc->routes[0].cond == NULL);
    T_EQI(pc->routes[0].chain.n, 2);
    if (pc->routes[0].chain.n == 2) {
        T_EQS(pc->routes[0].chain.steps[0].id, "mask");
        T_EQI(pc->routes[0].chain.steps[0].side, SMT_VALUE);
        T_EQS(pc->routes[0].chain.steps[1].id, "filter");
        T_OK(pc->routes[0].chain.steps[1].gate != NULL);
    }
    smt_pipeline_conf_free(pc);

    /* REST JSON, JsonConverter defaults to the schema envelope */
    {
        const char *json = "{\"name\": \"j\", \"config\": {\n"
                           "  \"topics.regex\": \"in.*\",\n"
                           "  \"value.converter\": "
                           "\"org.apache.kafka.connect.json.JsonConverter\",\n"
                           "  \"transforms\": \"a\",\n"
                           "  \"transforms.a.type\": \"Filter\",\n"
                           "  \"transforms.a.predicate\": \"p\",\n"
                           "  \"transforms.a.negate\": true,\n"
                           "  \"predicates.p.type\": \"RecordIsTombstone\"}}\n";

        reset();
        pc = smt_pipeline_conf_load_connect("c.json", json, strlen(json), &d);
        T_OK(pc != NULL);
        if (pc != NULL) {
            T_EQS(pc->name, "j");
            T_EQS(pc->topic_regex, "in.*");
            T_EQI(pc->value_fmt, SMT_FMT_JSON_ENVELOPE);
            T_EQI(pc->key_fmt, SMT_FMT_JSON);
            T_EQI(pc->routes[0].chain.n, 1);
        } else {
            fprintf(stderr, "%s\n", diag0());
        }
        smt_pipeline_conf_free(pc);
    }
}

/* A connector config (properties text) is rejected with msg. */
static void connect_err(const char *props, const char *msg)
{
    struct smt_pipeline_conf *pc;

    reset();
    pc = smt_pipeline_conf_load_connect("c.properties", props, strlen(props),
                                        &d);
    T_OKM(pc == NULL, "accepted: %s", props);
    T_OK(has_diag(msg));
    smt_pipeline_conf_free(pc);
}

static void test_pipeline_connect_errors(void)
{
    connect_err("transforms=a\ntransforms.a.type=Filter\n"
                "transforms.a.negate=true\n",
                "c.properties:3:1: Config 'transforms.a.negate' was provided "
                "but there is no config 'transforms.a.predicate' defining a "
                "predicate to be negated.");
    connect_err("transforms=a, b, a\ntransforms.a.type=Filter\n"
                "transforms.b.type=Filter\n",
                "c.properties:1:12: Duplicate alias provided.");
    connect_err("transforms=a\n",
                "c.properties:1:12: Missing required configuration "
                "\"transforms.a.type\" which has no default value.");
    connect_err("predicates=p\n",
                "c.properties:1:12: Invalid value null for configuration "
                "predicates.p.type: Not a Predicate");
    connect_err("topics=a\ntopics.regex=b.*\n",
                "c.properties:2:14: topics and topics.regex are mutually "
                "exclusive options, but both are set.");
    connect_err("topics=a\nerrors.deadletterqueue.topic.name=a\n",
                "c.properties:2:35: The DLQ topic 'a' may not be included in "
                "the list of topics ('topics=a') consumed by the connector");
    connect_err("errors.tolerance=ALL\n",
                "c.properties:1:18: option 'tolerance': must be one of: none, "
                "all");
    connect_err("transforms=m\ntransforms.m.type=MaskField$Value\n"
                "transforms.m.feilds=a\n",
                "c.properties:3:1: unknown option 'feilds' (did you mean "
                "'fields'?)");
    connect_err("value.converter=com.example.Mine\n",
                "c.properties:1:17: unsupported converter 'com.example.Mine'");

    /* PR-11: the predicate alias need not be listed */
    {
        const char *p = "transforms=a\ntransforms.a.type=Filter\n"
                        "transforms.a.predicate=p\n"
                        "predicates.p.type=RecordIsTombstone\n";
        struct smt_pipeline_conf *pc;

        reset();
        pc = smt_pipeline_conf_load_connect("c.properties", p, strlen(p), &d);
        T_OK(pc != NULL);
        if (pc != NULL) {
            T_EQS(pc->routes[0].name, "default");
            T_EQS(pc->name, "c");
        }
        smt_pipeline_conf_free(pc);
    }
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    if (f != NULL) {
        fputs(text, f);
        fclose(f);
    }
}

static void test_pipeline_files(void)
{
    char                      dir[] = "/tmp/test_conf.XXXXXX";
    char                      path[128];
    struct smt_pipeline_conf *pc;

    if (mkdtemp(dir) == NULL) {
        T_OK(0);
        return;
    }
    snprintf(path, sizeof(path), "%s/sensors.yml", dir);
    write_file(path, "input: {topics: a}\nroutes: [{name: r}]\n");
    reset();
    pc = smt_pipeline_conf_load(path, &d);
    T_OK(pc != NULL && strcmp(pc->name, "sensors") == 0);
    smt_pipeline_conf_free(pc);
    remove(path);

    snprintf(path, sizeof(path), "%s/sink.properties", dir);
    write_file(path, "topics=a\ntransforms=f\ntransforms.f.type=Filter\n");
    reset();
    pc = smt_pipeline_conf_load(path, &d);
    T_OK(pc != NULL && strcmp(pc->name, "sink") == 0 &&
         pc->routes[0].chain.n == 1);
    smt_pipeline_conf_free(pc);
    remove(path);

    snprintf(path, sizeof(path), "%s/sink.json", dir);
    write_file(path, "{\"name\": \"s\", \"config\": {\"topics\": \"a\"}}");
    reset();
    pc = smt_pipeline_conf_load(path, &d);
    T_OK(pc != NULL && strcmp(pc->name, "s") == 0);
    smt_pipeline_conf_free(pc);
    remove(path);

    snprintf(path, sizeof(path), "%s/x.toml", dir);
    reset();
    T_OK(smt_pipeline_conf_load(path, &d) == NULL);
    T_OK(strstr(diag0(), "unknown configuration file type") != NULL);

    snprintf(path, sizeof(path), "%s/missing.yaml", dir);
    reset();
    T_OK(smt_pipeline_conf_load(path, &d) == NULL);
    T_OK(strstr(diag0(), "missing.yaml: cannot open: ") != NULL);
    rmdir(dir);
}

int main(void)
{
    smt_diags_init(&d);
    test_diag();
    test_yaml_basic();
    test_yaml_errors();
    test_yaml_alias();
    test_env();
    test_secret_keys();
    test_properties();
    test_connect_json();
    smt_arena_init(&ca, 4096);
    test_chain_load();
    test_chain_run();
    test_pipeline_yaml();
    test_pipeline_yaml_errors();
    test_pipeline_connect();
    test_pipeline_connect_errors();
    test_pipeline_files();
    smt_arena_fini(&ca);
    smt_diags_fini(&d);
    return t_done("test_conf");
}

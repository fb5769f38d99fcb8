/*
 * test_cond.c - conditions: compile errors with positions, every operator
 * on every subject, missing fields, decode failures, predicates (Connect's
 * and `type: condition`), and that header/topic conditions never decode.
 */
#include "transform.h"
#include "t.h"

#include <stdlib.h>

static struct smt_arena A;      /* config arena */
static struct smt_arena RA;     /* record arena */
static struct smt_diags D;
static struct smt_ctree *TREE;

/* Compiles "cond" (YAML flow mapping) with optional predicates map text. */
static struct smt_cond *compile(const char *cond, const char *preds)
{
    char                    buf[2048];
    const struct smt_cnode *c, *p;

    smt_ctree_free(TREE);
    smt_diags_fini(&D);
    smt_diags_init(&D);
    snprintf(buf, sizeof(buf), "cond: %s\npredicates: %s\n", cond,
             preds ? preds : "{}");
    TREE = smt_ctree_yaml_buf("t.yaml", buf, strlen(buf), &D);
    if (TREE == NULL) {
        return NULL;
    }
    c = smt_cnode_get(TREE->root, "cond");
    p = smt_cnode_get(TREE->root, "predicates");
    return smt_cond_compile(c, p, &A, &D);
}

static const char *diag0(void)
{
    return D.n > 0 ? D.msg[0] : "";
}

/* A record: value JSON text (NULL = tombstone), key JSON, topic, headers
 * as "name=value" pairs ("name" alone = null value). */
static struct smt_record *mk(const char *value, const char *key,
                             const char *topic, const char *h1,
                             const char *h2)
{
    static struct smt_record rec;
    const char              *hs[2] = {h1, h2};
    int                      i;

    smt_arena_reset(&RA);
    smt_record_init(&rec, &RA, SMT_FMT_JSON, SMT_FMT_JSON);
    rec.value.raw = smt_bytes_str(value);
    rec.key.raw = smt_bytes_str(key);
    rec.topic = smt_bytes_str(topic ? topic : "t");
    for (i = 0; i < 2; i++) {
        const char *eq;

        if (hs[i] == NULL) {
            continue;
        }
        eq = strchr(hs[i], '=');
        if (eq == NULL) {
            smt_record_header_add(&rec, smt_bytes_str(hs[i]), SMT_BYTES_NULL);
        } else {
            struct smt_bytes n = {hs[i], (size_t)(eq - hs[i])};

            smt_record_header_add(&rec, n, smt_bytes_str(eq + 1));
        }
    }
    return &rec;
}

/* Evaluates cond on rec; 1, 0, -1; -2 when it does not compile. */
static int ev(const char *cond, struct smt_record *rec)
{
    struct smt_cond *c = compile(cond, NULL);
    struct smt_err   err = {0};
    int              r;

    if (c == NULL) {
        fprintf(stderr, "compile '%s': %s\n", cond, diag0());
        return -2;
    }
    r = smt_cond_eval(c, rec, &err);
    smt_cond_free(c);
    return r;
}

static const char *V = "{\"a\":{\"b\":5,\"s\":\"x.y\"},\"n\":null,\"f\":2.5,"
                       "\"t\":true,\"str\":\"5\",\"big\":12345678901,"
                       "\"arr\":[1,2]}";

static void test_field(void)
{
    struct smt_record *r = mk(V, NULL, NULL, NULL, NULL);

    T_EQI(ev("{field: a.b, equals: 5}", r), 1);
    T_EQI(ev("{field: a.b, equals: 5.0}", r), 1);
    T_EQI(ev("{field: a.b, equals: '5'}", r), 0); /* quoted: a string */
    T_EQI(ev("{field: str, equals: '5'}", r), 1);
    T_EQI(ev("{field: str, equals: 5}", r), 0);
    T_EQI(ev("{field: f, equals: 2.5}", r), 1);
    T_EQI(ev("{field: t, equals: true}", r), 1);
    T_EQI(ev("{field: t, equals: false}", r), 0);
    T_EQI(ev("{field: n, equals: null}", r), 1);
    T_EQI(ev("{field: n, is_null: true}", r), 1);
    T_EQI(ev("{field: a.b, is_null: false}", r), 1);
    T_EQI(ev("{field: missing, is_null: true}", r), 0);
    T_EQI(ev("{field: missing, equals: null}", r), 0);
    T_EQI(ev("{field: missing, not_equals: 1}", r), 0);
    T_EQI(ev("{field: a.b, not_equals: 6}", r), 1);
    T_EQI(ev("{field: a.b, not_equals: 5}", r), 0);
    T_EQI(ev("{field: missing, exists: false}", r), 1);
    T_EQI(ev("{field: missing, exists: true}", r), 0);
    T_EQI(ev("{field: n, exists: true}", r), 1);
    T_EQI(ev("{field: a.b.c, exists: true}", r), 0);
    T_EQI(ev("{field: a.b, in: [1, 5, x]}", r), 1);
    T_EQI(ev("{field: a.s, in: [1, 'x.y']}", r), 1);
    T_EQI(ev("{field: a.s, in: []}", r), 0);
    T_EQI(ev("{field: a.s, matches: 'x\\..'}", r), 1);
    T_EQI(ev("{field: a.s, regex: 'x'}", r), 0); /* whole-string match */
    T_EQI(ev("{field: a.b, matches: '5'}", r), 0); /* numbers never match */
    T_EQI(ev("{field: a.b, gt: 4}", r), 1);
    T_EQI(ev("{field: a.b, gt: 5}", r), 0);
    T_EQI(ev("{field: a.b, ge: 5}", r), 1);
    T_EQI(ev("{field: a.b, lt: 5.5}", r), 1);
    T_EQI(ev("{field: a.b, le: 4.9}", r), 0);
    T_EQI(ev("{field: f, gt: 2}", r), 1);
    T_EQI(ev("{field: big, gt: 12345678900}", r), 1);
    T_EQI(ev("{field: str, gt: 1}", r), 0); /* non-numeric: false */
    T_EQI(ev("{field: arr, gt: 1}", r), 0);
    T_EQI(ev("{field: missing, lt: 1}", r), 0);
    T_EQI(ev("{field: '`a`.b', equals: 5}", r), 1);
    T_OK(r->value.doc != NULL); /* the value was decoded */
}

static void test_key_header_topic(void)
{
    struct smt_record *r;

    r = mk("{}", "{\"id\":7}", "sensors.temp", "h=v1", "h=42");
    T_EQI(ev("{key: id, equals: 7}", r), 1);
    T_EQI(ev("{key: '', exists: true}", r), 1);
    T_EQI(ev("{header: h, equals: '42'}", r), 1); /* the last one */
    T_EQI(ev("{header: h, equals: 42}", r), 1);
    T_EQI(ev("{header: h, equals: 42.0}", r), 1);
    T_EQI(ev("{header: h, gt: 41}", r), 1);
    T_EQI(ev("{header: h, equals: v1}", r), 0);
    T_EQI(ev("{header: nope, exists: false}", r), 1);
    T_EQI(ev("{header: nope, equals: x}", r), 0);
    T_EQI(ev("{topic: true, matches: 'sensors\\..*'}", r), 1);
    T_EQI(ev("{topic: true, matches: 'sensors'}", r), 0);
    T_EQI(ev("{topic: '', equals: sensors.temp}", r), 1);
    T_EQI(ev("{topic: true, in: [a, b]}", r), 0);

    r = mk(NULL, NULL, "t", "n", NULL);
    T_EQI(ev("{key: '', is_null: true}", r), 1);
    T_EQI(ev("{key: '', exists: true}", r), 0);
    T_EQI(ev("{header: n, is_null: true}", r), 1);
    T_EQI(ev("{header: n, exists: true}", r), 1);
    T_EQI(ev("{header: n, equals: null}", r), 1);
    T_EQI(ev("{field: a, exists: false}", r), 1); /* tombstone: no fields */

    /* header and topic leaves never decode (this value is not JSON) */
    r = mk("not json", "not json", "t", "h=1", NULL);
    T_EQI(ev("{all: [{header: h, equals: 1}, {topic: true, equals: t}]}", r),
          1);
    T_OK(r->value.doc == NULL && r->key.doc == NULL);
}

static void test_logic_and_errors(void)
{
    struct smt_record *r = mk(V, NULL, "t", NULL, NULL);
    struct smt_cond   *c;
    struct smt_err     err = {0};

    T_EQI(ev("{all: []}", r), 1);
    T_EQI(ev("{any: []}", r), 0);
    T_EQI(ev("{all: [{field: a.b, equals: 5}, {field: t, equals: true}]}", r),
          1);
    T_EQI(ev("{all: [{field: a.b, equals: 5}, {field: t, equals: false}]}", r),
          0);
    T_EQI(ev("{any: [{field: a.b, equals: 6}, {field: t, equals: true}]}", r),
          1);
    T_EQI(ev("{not: {field: a.b, equals: 5}}", r), 0);
    T_EQI(ev("{not: {not: {field: a.b, equals: 5}}}", r), 1);

    /* a value that does not decode: -1 with the converter's error */
    r = mk("{broken", NULL, "t", NULL, NULL);
    c = compile("{field: a, exists: true}", NULL);
    T_OK(c != NULL);
    T_EQI(smt_cond_eval(c, r, &err), -1);
    T_EQI(err.code, SMT_E_DATA);
    T_OK(err.msg[0] != '\0');
    smt_cond_free(c);

    T_OK(compile("{field: a, equal: 1}", NULL) == NULL);
    T_EQS(diag0(), "t.yaml:1:18: unknown condition key 'equal' (did you mean "
                   "'equals'?)");
    T_OK(compile("{field: a, equals: 1, gt: 2}", NULL) == NULL);
    T_OK(strstr(diag0(), "two operators") != NULL);
    T_OK(compile("{field: a, header: b, equals: 1}", NULL) == NULL);
    T_OK(strstr(diag0(), "two subjects") != NULL);
    T_OK(compile("{field: a}", NULL) == NULL);
    T_OK(strstr(diag0(), "needs an operator") != NULL);
    T_OK(compile("{equals: 1}", NULL) == NULL);
    T_OK(strstr(diag0(), "needs a subject") != NULL);
    T_OK(compile("{field: a, gt: abc}", NULL) == NULL);
    T_EQS(diag0(), "t.yaml:1:22: condition operator 'gt': expected a number");
    T_OK(compile("{field: a, in: 1}", NULL) == NULL);
    T_OK(compile("{field: a, equals: [1]}", NULL) == NULL);
    T_OK(compile("{field: a, exists: maybe}", NULL) == NULL);
    T_OK(compile("{field: a, matches: '['}", NULL) == NULL);
    T_OK(strstr(diag0(), "Invalid regex") != NULL);
    T_OK(compile("{all: {field: a, exists: true}}", NULL) == NULL);
    T_OK(compile("{all: [], any: []}", NULL) == NULL);
    T_OK(compile("{topic: x, equals: 1}", NULL) == NULL);
    T_OK(compile("[1]", NULL) == NULL);
    T_OK(compile("{field: '', exists: true}", NULL) == NULL);
    /* errors in several children are all reported */
    T_OK(compile("{any: [{field: a, gt: x}, {field: b, lt: y}]}", NULL) ==
         NULL);
    T_EQI(D.n, 2);
}

static void test_predicates(void)
{
    const char *preds =
        "{is_s: {type: TopicNameMatches, pattern: 's.*'},"
        " has_h: {type: HasHeaderKey, name: h},"
        " tomb: {type: org.apache.kafka.connect.transforms.predicates."
        "RecordIsTombstone},"
        " big: {type: condition, when: {field: n, gt: 10}},"
        " loop: {type: condition, when: {predicate: loop}},"
        " bad_re: {type: TopicNameMatches, pattern: '['},"
        " empty: {type: has_header_key, name: ''},"
        " nope: {type: Filter}}";
    struct smt_record *r;
    struct smt_cond   *c;
    struct smt_err     err = {0};
    struct smt_cnode  *p;

    c = compile("{any: [{predicate: is_s}, {predicate: has_h, negate: true}]}",
                preds);
    T_OK(c != NULL);
    r = mk("{}", NULL, "sx", "h=1", NULL);
    T_EQI(smt_cond_eval(c, r, &err), 1);
    r = mk("{}", NULL, "x", "h=1", NULL);
    T_EQI(smt_cond_eval(c, r, &err), 0);
    r = mk("{}", NULL, "x", NULL, NULL);
    T_EQI(smt_cond_eval(c, r, &err), 1);
    smt_cond_free(c);

    c = compile("{all: [{predicate: tomb}, {not: {predicate: big}}]}", preds);
    T_OK(c != NULL);
    T_EQI(smt_cond_eval(c, mk(NULL, NULL, "t", NULL, NULL), &err), 1);
    T_EQI(smt_cond_eval(c, mk("{\"n\":11}", NULL, "t", NULL, NULL), &err), 0);
    smt_cond_free(c);

    /* smt_cond_predicate, as a step's predicate/negate */
    smt_cond_free(compile("{all: []}", preds));
    p = smt_cnode_get(TREE->root, "predicates");
    c = smt_cond_predicate("big", p, p, 1, &A, &D);
    T_OK(c != NULL);
    T_EQI(smt_cond_eval(c, mk("{\"n\":11}", NULL, "t", NULL, NULL), &err), 0);
    T_EQI(smt_cond_eval(c, mk("{\"n\":1}", NULL, "t", NULL, NULL), &err), 1);
    smt_cond_free(c);
    c = smt_cond_predicate("is_s", p, p, 1, &A, &D);
    T_EQI(smt_cond_eval(c, mk("{}", NULL, "s1", NULL, NULL), &err), 0);
    smt_cond_free(c);

    T_OK(compile("{predicate: missing}", preds) == NULL);
    T_OK(strstr(diag0(), "unknown predicate 'missing'") != NULL);
    T_OK(compile("{predicate: loop}", preds) == NULL);
    T_OK(strstr(diag0(), "nested too deeply") != NULL);
    T_OK(compile("{predicate: bad_re}", preds) == NULL);
    T_OK(strstr(diag0(), "Invalid regex") != NULL);
    T_OK(compile("{predicate: empty}", preds) == NULL);
    T_OK(strstr(diag0(), "String must be non-empty") != NULL);
    T_OK(compile("{predicate: nope}", preds) == NULL);
    T_OK(strstr(diag0(), "unknown predicate type 'Filter'") != NULL);
    T_OK(compile("{predicate: is_s, negate: maybe}", preds) == NULL);
    T_OK(compile("{predicate: is_s, field: a}", preds) == NULL);
}

int main(void)
{
    smt_arena_init(&A, 4096);
    smt_arena_init(&RA, 4096);
    smt_diags_init(&D);
    test_field();
    test_key_header_topic();
    test_logic_and_errors();
    test_predicates();
    smt_ctree_free(TREE);
    smt_diags_fini(&D);
    smt_arena_fini(&RA);
    smt_arena_fini(&A);
    return t_done("test_cond");
}

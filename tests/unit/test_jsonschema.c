/*
 * test_jsonschema.c - the JSON Schema validator against the official
 * JSON-Schema-Test-Suite (drafts 2020-12 and 07), plus our own checks of
 * the failure messages and configuration errors.
 *
 *   test_jsonschema [<suite dir>] [<docs/json-schema.md>]
 *
 * Every case of every file under <suite>/<draft>/ (and optional/,
 * optional/format/) is run with the draft forced and formats asserted. One
 * line per file gives its pass rate. A failing case counts as a test
 * failure unless its file, or its group ("file#group description"), is in
 * `unsupported` below; that list must equal the table between the
 * `unsupported:begin` and `unsupported:end` markers of the document, and an
 * entry whose cases all pass is stale and also a failure, so the list, the
 * document and the code cannot drift apart.
 */
#include "jsonschema.h"

#include "json.h"
#include "t.h"
#include "transform.h"

#include <dirent.h>
#include <stdlib.h>

static const char *suite_dir = "../shared/data/json-schema-test-suite";
static const char *doc_path = "docs/json-schema.md";

/* Files and groups we do not support; the reasons are in the document. */
static const char *const unsupported[] = {
    "draft2020-12/dynamicRef.json",
    "draft2020-12/optional/dynamicRef.json",
    "draft2020-12/unevaluatedItems.json",
    "draft2020-12/unevaluatedProperties.json",
    "draft2020-12/refRemote.json",
    "draft7/refRemote.json",
    "draft2020-12/optional/cross-draft.json",
    "draft7/optional/cross-draft.json",
    "draft2020-12/optional/format-assertion.json",
    "draft7/optional/content.json",
    "draft2020-12/optional/format/ecmascript-regex.json",
    "draft2020-12/optional/format/idn-email.json",
    "draft2020-12/optional/format/idn-hostname.json",
    "draft2020-12/optional/format/iri.json",
    "draft2020-12/optional/format/iri-reference.json",
    "draft2020-12/optional/format/regex.json",
    "draft2020-12/optional/format/uri-reference.json",
    "draft2020-12/optional/format/uri-template.json",
    "draft7/optional/format/ecmascript-regex.json",
    "draft7/optional/format/idn-email.json",
    "draft7/optional/format/idn-hostname.json",
    "draft7/optional/format/iri.json",
    "draft7/optional/format/iri-reference.json",
    "draft7/optional/format/regex.json",
    "draft7/optional/format/uri-reference.json",
    "draft7/optional/format/uri-template.json",
    /* groups inside supported files */
    "draft2020-12/defs.json#validate definition against metaschema",
    "draft7/definitions.json#validate definition against metaschema",
    "draft2020-12/ref.json#remote ref, containing refs itself",
    "draft7/ref.json#remote ref, containing refs itself",
    "draft2020-12/vocabulary.json#schema that uses custom metaschema with "
    "with no validation vocabulary",
    "draft2020-12/ref.json#ref creates new scope when adjacent to keywords",
    "draft2020-12/not.json#"
    "collect annotations inside a 'not', even if collection is disabled",
    "draft2020-12/optional/format/hostname.json#"
    "validation of A-label (punycode) host names",
    "draft7/optional/format/hostname.json#"
    "validation of A-label (punycode) host names",
    NULL,
};

struct unsup_state {
    int matched; /* some case belongs to it */
    int failed;  /* some case of it failed */
};

static struct unsup_state ustate[sizeof(unsupported) / sizeof(unsupported[0])];

static char *read_all(const char *path, size_t *len)
{
    FILE  *f = fopen(path, "rb");
    char  *buf;
    long   n;

    if (f == NULL) {
        return NULL;
    }
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc((size_t)n + 1);
    if (buf == NULL || fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        fclose(f);
        return NULL;
    }
    buf[n] = '\0';
    fclose(f);
    *len = (size_t)n;
    return buf;
}

/* Index of an unsupported entry equal to name, or -1. */
static int unsup_find(const char *name)
{
    int i;

    for (i = 0; unsupported[i] != NULL; i++) {
        if (strcmp(unsupported[i], name) == 0) {
            return i;
        }
    }
    return -1;
}

struct totals {
    int cases, pass, sup_cases, sup_pass, files, sup_files, sup_files_ok;
};

static void run_file(const char *draftdir, int draft, const char *rel,
                     struct totals *tot)
{
    char                  path[1024], name[1024], gname[2048];
    size_t                len;
    char                 *text;
    struct smt_arena     *a = smt_arena_new(65536);
    struct smt_val       *doc;
    struct smt_err        err;
    uint32_t              g, i;
    int                   fu, npass = 0, ncases = 0, nskipfail = 0, formats;

    snprintf(path, sizeof(path), "%s/%s/%s", suite_dir, draftdir, rel);
    snprintf(name, sizeof(name), "%s/%s", draftdir, rel);
    text = read_all(path, &len);
    T_OKM(text != NULL, "cannot read %s", path);
    if (text == NULL) {
        smt_arena_free(a);
        return;
    }
    smt_err_clear(&err);
    doc = smt_json_parse(a, text, len, &err);
    T_OKM(doc != NULL && doc->type == SMT_ARRAY, "%s: %s", name, err.msg);
    if (doc == NULL || doc->type != SMT_ARRAY) {
        free(text);
        smt_arena_free(a);
        return;
    }
    fu = unsup_find(name);
    /* `format` asserts only where the suite expects assertions; elsewhere
     * (2020-12's format.json) it is the annotation the drafts define. */
    formats = strncmp(rel, "optional/format/", 16) == 0;
    for (g = 0; g < doc->n; g++) {
        const struct smt_val  *grp = doc->u.items[g];
        const struct smt_val  *desc = smt_obj_get(grp, "description", 11);
        const struct smt_val  *schema = smt_obj_get(grp, "schema", 6);
        const struct smt_val  *tests = smt_obj_get(grp, "tests", 5);
        struct smt_jsonschema *js;
        int                    gu, u;
        char                   cerr[256] = "";

        snprintf(gname, sizeof(gname), "%s#%.*s", name, (int)desc->u.s.len,
                 desc->u.s.ptr);
        gu = unsup_find(gname);
        u = fu >= 0 ? fu : gu;
        smt_err_clear(&err);
        js = smt_jsonschema_new(schema->raw, schema->rawlen, draft,
                                formats, &err);
        if (js == NULL) {
            snprintf(cerr, sizeof(cerr), "%s", err.msg);
        }
        for (i = 0; i < tests->n; i++) {
            const struct smt_val *t = tests->u.items[i];
            const struct smt_val *data = smt_obj_get(t, "data", 4);
            const struct smt_val *valid = smt_obj_get(t, "valid", 5);
            const struct smt_val *tdesc = smt_obj_get(t, "description", 11);
            int                   got = -1, ok;

            if (js != NULL) {
                smt_err_clear(&err);
                got = smt_jsonschema_validate(js, data, a, &err) == 0;
            }
            ok = got == valid->u.b;
            ncases++;
            tot->cases++;
            if (u >= 0) {
                ustate[u].matched = 1;
            } else {
                tot->sup_cases++;
            }
            if (ok) {
                npass++;
                tot->pass++;
                t_pass++;
                if (u < 0) {
                    tot->sup_pass++;
                }
                continue;
            }
            if (u >= 0) {
                ustate[u].failed = 1;
                nskipfail++;
                continue;
            }
            t_fail++;
            fprintf(stderr, "FAIL %s: %.*s: %.*s: expected %s, got %s%s%s\n",
                    name, (int)desc->u.s.len, desc->u.s.ptr,
                    (int)tdesc->u.s.len, tdesc->u.s.ptr,
                    valid->u.b ? "valid" : "invalid",
                    got < 0 ? "a schema error: " : got ? "valid" : "invalid: ",
                    got < 0 ? cerr : "", got == 0 ? err.msg : "");
        }
        smt_jsonschema_free(js);
    }
    tot->files++;
    if (fu < 0) {
        tot->sup_files++;
        tot->sup_files_ok += npass + nskipfail == ncases;
    }
    printf("%s: %d/%d%s\n", name, npass, ncases,
           fu >= 0          ? " (unsupported)"
           : nskipfail > 0 ? " (failures only in unsupported groups)"
                           : "");
    free(text);
    smt_arena_free(a);
}

static int name_cmp(const void *x, const void *y)
{
    return strcmp(*(char *const *)x, *(char *const *)y);
}

/* Runs every *.json file of draftdir/sub (sorted). */
static void run_dir(const char *draftdir, int draft, const char *sub,
                    struct totals *tot)
{
    char           path[1024];
    DIR           *d;
    struct dirent *de;
    char         **names = NULL;
    size_t         n = 0, i;

    snprintf(path, sizeof(path), "%s/%s%s%s", suite_dir, draftdir,
             sub[0] ? "/" : "", sub);
    d = opendir(path);
    T_OKM(d != NULL, "cannot open %s", path);
    if (d == NULL) {
        return;
    }
    while ((de = readdir(d)) != NULL) {
        size_t l = strlen(de->d_name);

        if (l > 5 && strcmp(de->d_name + l - 5, ".json") == 0) {
            names = realloc(names, (n + 1) * sizeof(*names));
            names[n++] = smt_xasprintf("%s%s%s", sub, sub[0] ? "/" : "",
                                       de->d_name);
        }
    }
    closedir(d);
    qsort(names, n, sizeof(*names), name_cmp);
    for (i = 0; i < n; i++) {
        run_file(draftdir, draft, names[i], tot);
        free(names[i]);
    }
    free(names);
}

static void run_draft(const char *draftdir, int draft)
{
    struct totals tot;

    memset(&tot, 0, sizeof(tot));
    run_dir(draftdir, draft, "", &tot);
    run_dir(draftdir, draft, "optional", &tot);
    run_dir(draftdir, draft, "optional/format", &tot);
    printf("%s: all cases %d/%d; cases in supported files and groups %d/%d; "
           "supported files fully passing %d/%d of %d files\n",
           draftdir, tot.pass, tot.cases, tot.sup_pass, tot.sup_cases,
           tot.sup_files_ok, tot.sup_files, tot.files);
}

/* The unsupported list must equal the document's table, and every entry
 * must still be needed. */
static void check_list(void)
{
    size_t len;
    char  *doc = read_all(doc_path, &len);
    char  *p, *end, *line;
    int    i, ndoc = 0;

    T_OKM(doc != NULL, "cannot read %s", doc_path);
    if (doc == NULL) {
        return;
    }
    p = strstr(doc, "<!-- unsupported:begin -->");
    end = p ? strstr(p, "<!-- unsupported:end -->") : NULL;
    T_OKM(p != NULL && end != NULL, "%s: no unsupported:begin/end markers",
          doc_path);
    if (p == NULL || end == NULL) {
        free(doc);
        return;
    }
    *end = '\0';
    for (line = strtok(p, "\n"); line != NULL; line = strtok(NULL, "\n")) {
        char *b, *e;

        if (strncmp(line, "| `", 3) != 0) {
            continue;
        }
        b = line + 3;
        e = strchr(b, '`');
        if (e == NULL) {
            continue;
        }
        *e = '\0';
        ndoc++;
        T_OKM(unsup_find(b) >= 0,
              "%s lists '%s' as unsupported, the test does not", doc_path, b);
    }
    for (i = 0; unsupported[i] != NULL; i++) {
        T_OKM(ustate[i].matched, "unsupported entry '%s' names no test",
              unsupported[i]);
        T_OKM(!ustate[i].matched || ustate[i].failed,
              "unsupported entry '%s' passes now: remove it (and from %s)",
              unsupported[i], doc_path);
    }
    T_OKM(ndoc == i, "%s lists %d unsupported entries, the test %d",
          doc_path, ndoc, i);
    free(doc);
}

/* ---------------------------------------------------------------------- */
/* Our own checks: messages, configuration errors, exact numbers.          */

static struct smt_jsonschema *compile(const char *schema, struct smt_err *err)
{
    smt_err_clear(err);
    return smt_jsonschema_new(schema, strlen(schema), SMT_JS_DRAFT_AUTO, 1,
                              err);
}

/* Validates instance text against schema text; returns the error message
 * ("" when valid). */
static const char *check(const char *schema, const char *inst)
{
    static char            msg[300];
    struct smt_err         err;
    struct smt_jsonschema *js = compile(schema, &err);
    struct smt_arena      *a = smt_arena_new(4096);
    struct smt_val        *v;

    if (js == NULL) {
        snprintf(msg, sizeof(msg), "CONFIG %s", err.msg);
        smt_arena_free(a);
        return msg;
    }
    v = smt_json_parse(a, inst, strlen(inst), &err);
    msg[0] = '\0';
    smt_err_clear(&err);
    if (v == NULL) {
        snprintf(msg, sizeof(msg), "BAD INSTANCE");
    } else if (smt_jsonschema_validate(js, v, a, &err) != 0) {
        snprintf(msg, sizeof(msg), "%s%s",
                 err.code == SMT_E_DATA ? "" : "NOT DATA: ", err.msg);
    }
    smt_jsonschema_free(js);
    smt_arena_free(a);
    return msg;
}

static void test_messages(void)
{
    const char *reading =
        "{\"type\":\"object\",\"required\":[\"id\"],\"properties\":{"
        "\"id\":{\"type\":\"string\",\"format\":\"uuid\"},"
        "\"reading\":{\"type\":\"object\",\"properties\":{"
        "\"temp_c\":{\"type\":\"number\",\"minimum\":-90}}}},"
        "\"additionalProperties\":false}";

    T_EQS(check(reading, "{\"id\":\"123e4567-e89b-12d3-a456-426614174000\","
                         "\"reading\":{\"temp_c\":21.5}}"),
          "");
    T_EQS(check(reading, "{\"id\":\"123e4567-e89b-12d3-a456-426614174000\","
                         "\"reading\":{\"temp_c\":\"hot\"}}"),
          "schema validation failed at /reading/temp_c: type: expected "
          "number, got string (schema "
          "#/properties/reading/properties/temp_c/type)");
    T_EQS(check(reading, "{\"reading\":{}}"),
          "schema validation failed at (root): required: missing property "
          "'id' (schema #/required)");
    T_EQS(check(reading, "{\"id\":\"x\"}"),
          "schema validation failed at /id: format: not a valid uuid "
          "(schema #/properties/id/format)");
    T_EQS(check(reading, "{\"id\":\"123e4567-e89b-12d3-a456-426614174000\","
                         "\"reading\":{\"temp_c\":-100}}"),
          "schema validation failed at /reading/temp_c: minimum: -100 is "
          "less than -90 (schema #/properties/reading/properties/temp_c/"
          "minimum)");
    T_EQS(check(reading, "{\"id\":\"123e4567-e89b-12d3-a456-426614174000\","
                         "\"a/b~\":1}"),
          "schema validation failed at /a~1b~0: additionalProperties: "
          "property 'a/b~' is not allowed (schema #/additionalProperties)");
    /* Array indexes, $ref targets named by their own location. */
    T_EQS(check("{\"$defs\":{\"pos\":{\"type\":\"integer\",\"minimum\":0}},"
                "\"type\":\"array\",\"items\":{\"$ref\":\"#/$defs/pos\"}}",
                "[1,2,-3]"),
          "schema validation failed at /2: minimum: -3 is less than 0 "
          "(schema #/$defs/pos/minimum)");
    T_EQS(check("{\"anyOf\":[{\"type\":\"string\"},{\"type\":\"null\"}]}",
                "5"),
          "schema validation failed at (root): anyOf: no subschema matched "
          "(schema #/anyOf)");
    T_EQS(check("{\"type\":[\"string\",\"null\"]}", "1.5"),
          "schema validation failed at (root): type: expected null or "
          "string, got number (schema #/type)");
    /* Exact numbers: 1.0 is an integer, decimal multipleOf, 1 == 1.0. */
    T_EQS(check("{\"type\":\"integer\"}", "1.0"), "");
    T_EQS(check("{\"multipleOf\":0.01}", "19.99"), "");
    T_EQS(check("{\"multipleOf\":0.01}", "19.999"),
          "schema validation failed at (root): multipleOf: 19.999 is not a "
          "multiple of 0.01 (schema #/multipleOf)");
    T_EQS(check("{\"maximum\":9007199254740992}", "9007199254740993"),
          "schema validation failed at (root): maximum: 9007199254740993 is "
          "greater than 9007199254740992 (schema #/maximum)");
    T_EQS(check("{\"uniqueItems\":true}", "[1,{\"a\":[1.0]},{\"a\":[1]}]"),
          "schema validation failed at (root): uniqueItems: items 1 and 2 "
          "are equal (schema #/uniqueItems)");
    T_EQS(check("{\"maxLength\":2}", "\"\xc3\xa9\xc3\xa9\""), "");
    /* Unanchored patterns (find semantics). */
    T_EQS(check("{\"pattern\":\"b+\"}", "\"abbc\""), "");
    /* A schema that recurses forever without consuming the instance. */
    T_EQS(check("{\"$defs\":{\"a\":{\"$ref\":\"#/$defs/b\"},"
                "\"b\":{\"$ref\":\"#/$defs/a\"}},\"$ref\":\"#/$defs/a\"}",
                "1"),
          "NOT DATA: schema validation failed: the schema recurses deeper "
          "than 1000 levels");
    /* Configuration errors. */
    T_EQS(check("{\"$ref\":\"https://example.com/other.json\"}", "1"),
          "CONFIG schema #: $ref 'https://example.com/other.json' does not "
          "resolve within the document (remote references are not "
          "supported)");
    T_EQS(check("{\"$ref\":\"#/$defs/missing\"}", "1"),
          "CONFIG schema #: $ref 'smt:///schema.json#/$defs/missing' points "
          "to nothing");
    T_EQS(check("{\"properties\":{\"a\":{\"unevaluatedProperties\":false}}}",
                "1"),
          "CONFIG schema #/properties/a: 'unevaluatedProperties' is not "
          "supported");
    T_EQS(check("{\"minLength\":-1}", "1"),
          "CONFIG schema #: 'minLength' must be a non-negative integer");
    T_OK(strncmp(check("{\"pattern\":\"(\"}", "1"),
                 "CONFIG schema #/pattern: Invalid regex: ", 40) == 0);
    T_EQS(check("{\"$schema\":\"http://json-schema.org/draft-04/schema#\"}",
                "1"),
          "CONFIG schema: unsupported $schema (drafts 2020-12 and 07 are "
          "supported; `draft` forces one)");
    T_OK(strncmp(check("{\"type\":", "1"), "CONFIG schema: ", 15) == 0);
    /* Draft detection: draft 7 ignores siblings of $ref. */
    T_EQS(check("{\"$schema\":\"http://json-schema.org/draft-07/schema#\","
                "\"definitions\":{\"s\":{\"type\":\"string\"}},"
                "\"properties\":{\"a\":{\"$ref\":\"#/definitions/s\","
                "\"maxLength\":1}}}",
                "{\"a\":\"long\"}"),
          "");
    T_EQS(check("{\"$defs\":{\"s\":{\"type\":\"string\"}},"
                "\"properties\":{\"a\":{\"$ref\":\"#/$defs/s\","
                "\"maxLength\":1}}}",
                "{\"a\":\"long\"}"),
          "schema validation failed at /a: maxLength: length 4 is greater "
          "than 1 (schema #/properties/a/maxLength)");
}

/* The step in a chain: the failure carries the converter stage of its
 * side, a conforming record is passed on with its bytes untouched. */
static void test_step(void)
{
    static const char *const yaml =
        "transforms:\n"
        "  - type: validate$Key\n"
        "    schema.inline: '{\"type\": \"string\"}'\n"
        "  - type: validate\n"
        "    schema.inline: '{\"required\": [\"id\"]}'\n";
    struct smt_diags      d;
    struct smt_ctree     *t;
    struct smt_chain_conf cc;
    struct smt_chain     *chain;
    struct smt_arena      ca, ra;
    struct smt_record     rec;
    struct smt_err        err;
    uint32_t              failed = 99;

    smt_diags_init(&d);
    smt_arena_init(&ca, 4096);
    smt_arena_init(&ra, 4096);
    t = smt_ctree_yaml_buf("t.yaml", yaml, strlen(yaml), &d);
    T_OK(t != NULL);
    if (t == NULL) {
        return;
    }
    T_EQI(smt_chain_conf_load(&cc, smt_cnode_get(t->root, "transforms"), NULL,
                              &ca, &d),
          0);
    smt_err_clear(&err);
    chain = smt_chain_new(&cc, &err);
    T_OK(chain != NULL);
    if (chain != NULL) {
        smt_record_init(&rec, &ra, SMT_FMT_JSON, SMT_FMT_JSON);
        rec.key.raw = smt_bytes_str("\"k\"");
        rec.value.raw = smt_bytes_str("{ \"id\" : 1.50 }");
        T_EQI(smt_chain_apply(chain, &rec, &err, &failed), SMT_PASS);
        T_EQB(rec.value.raw.ptr, rec.value.raw.len, "{ \"id\" : 1.50 }");
        T_EQI(rec.value.state != SMT_DS_DIRTY, 1);

        smt_arena_reset(&ra);
        smt_record_init(&rec, &ra, SMT_FMT_JSON, SMT_FMT_JSON);
        rec.key.raw = smt_bytes_str("\"k\"");
        rec.value.raw = smt_bytes_str("{}");
        smt_err_clear(&err);
        T_EQI(smt_chain_apply(chain, &rec, &err, &failed), SMT_FAIL);
        T_EQI(failed, 1);
        T_EQI(err.code, SMT_E_DATA);
        T_EQS(smt_stage_name(err.stage), "VALUE_CONVERTER");

        smt_arena_reset(&ra);
        smt_record_init(&rec, &ra, SMT_FMT_JSON, SMT_FMT_JSON);
        rec.key.raw = smt_bytes_str("7");
        rec.value.raw = smt_bytes_str("{}");
        smt_err_clear(&err);
        T_EQI(smt_chain_apply(chain, &rec, &err, &failed), SMT_FAIL);
        T_EQI(failed, 0);
        T_EQS(smt_stage_name(err.stage), "KEY_CONVERTER");
        T_EQS(err.msg, "schema validation failed at (root): type: expected "
                       "string, got integer (schema #/type)");
    }
    smt_chain_free(chain);
    smt_chain_conf_fini(&cc);
    smt_ctree_free(t);
    smt_diags_fini(&d);
    smt_arena_fini(&ca);
    smt_arena_fini(&ra);
}

int main(int argc, char **argv)
{
    if (argc > 1) {
        suite_dir = argv[1];
    }
    if (argc > 2) {
        doc_path = argv[2];
    }
    test_messages();
    test_step();
    run_draft("draft2020-12", SMT_JS_DRAFT2020);
    run_draft("draft7", SMT_JS_DRAFT7);
    check_list();
    return t_done("test_jsonschema");
}

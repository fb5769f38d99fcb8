/*
 * test_opts.c - option tables: every value type with Connect's parsing
 * rules, defaults, required options, unknown keys with suggestions,
 * duplicates, '_' for '.', null as absent, and the positions of errors.
 */
#include "smt.h"
#include "t.h"

#include <stddef.h>

struct tconf {
    char              *s;
    char              *raw;
    char              *req;
    struct smt_strlist list;
    int64_t            i;
    int                b;
    double             dbl;
    int                e;
    int64_t            size;
    int64_t            ms;
    char              *re;
    char              *path;
    int                rnwd;
};

static const char *const colors[] = {"red", "green", "Blue", NULL};

static const struct smt_opt topts[] = {
    {"s", SMT_OPT_STR, "  dflt  ", offsetof(struct tconf, s), 0, 0, NULL, 0,
     "a string"},
    {"raw", SMT_OPT_STR, NULL, offsetof(struct tconf, raw), 0, 0, NULL,
     SMT_OPT_OPTIONAL | SMT_OPT_NOTRIM, "untrimmed"},
    {"req", SMT_OPT_STR, NULL, offsetof(struct tconf, req), 0, 0, NULL,
     SMT_OPT_NONEMPTY, "required"},
    {"fields", SMT_OPT_STRLIST, "", offsetof(struct tconf, list), 0, 0, NULL, 0,
     "a list"},
    {"count", SMT_OPT_INT, "5", offsetof(struct tconf, i), 1, 10, NULL, 0,
     "an int"},
    {"flag", SMT_OPT_BOOL, "false", offsetof(struct tconf, b), 0, 0, NULL, 0,
     "a bool"},
    {"ratio", SMT_OPT_DOUBLE, "0.5", offsetof(struct tconf, dbl), 0, 0, NULL, 0,
     "a double"},
    {"color", SMT_OPT_ENUM, "red", offsetof(struct tconf, e), 0, 0, colors, 0,
     "an enum"},
    {"max.size", SMT_OPT_SIZE, "1KiB", offsetof(struct tconf, size), 0, 0, NULL,
     0, "a size"},
    {"retry.timeout", SMT_OPT_MSEC, "0", offsetof(struct tconf, ms), -1,
     INT64_MAX, NULL, 0, "a duration"},
    {"pattern", SMT_OPT_REGEX, NULL, offsetof(struct tconf, re), 0, 0, NULL,
     SMT_OPT_OPTIONAL, "a regex"},
    {"script", SMT_OPT_PATH, NULL, offsetof(struct tconf, path), 0, 0, NULL,
     SMT_OPT_OPTIONAL, "a path"},
    {"replace.null.with.default", SMT_OPT_BOOL, "true",
     offsetof(struct tconf, rnwd), 0, 0, NULL, 0, "Connect's KIP-1040"},
    {0},
};

static struct smt_diags d;
static struct smt_arena a;
static struct tconf     c;

static int load(const char *yaml, const char *const *extra)
{
    struct smt_ctree *t;
    int               rc;

    smt_diags_fini(&d);
    smt_diags_init(&d);
    memset(&c, 0, sizeof(c));
    t = smt_ctree_yaml_buf("conf/o.yaml", yaml, strlen(yaml), &d);
    if (t == NULL) {
        fprintf(stderr, "yaml: %s\n", d.n ? d.msg[0] : "?");
        return -2;
    }
    rc = smt_opts_load(topts, &c, t->root, extra, &a, &d);
    smt_ctree_free(t);
    return rc;
}

static const char *diag0(void)
{
    return d.n > 0 ? d.msg[0] : "";
}

/* The value is rejected with exactly msg. */
static void bad(const char *yaml, const char *msg)
{
    T_OKM(load(yaml, NULL) == -1, "accepted: %s", yaml);
    T_EQS(diag0(), msg);
}

static void test_defaults(void)
{
    T_EQI(load("req: x\n", NULL), 0);
    T_EQI(d.n, 0);
    T_EQS(c.s, "dflt");
    T_OK(c.raw == NULL);
    T_EQS(c.req, "x");
    T_EQI(c.list.n, 0);
    T_EQI(c.i, 5);
    T_EQI(c.b, 0);
    T_OK(c.dbl == 0.5);
    T_EQI(c.e, 0);
    T_EQI(c.size, 1024);
    T_EQI(c.ms, 0);
    T_OK(c.re == NULL);
    T_OK(c.path == NULL);
    T_EQI(c.rnwd, 1);
}

static void test_values(void)
{
    T_EQI(load("req: '  padded  '\n"
               "raw: '  kept  '\n"
               "s: \"\"\n"
               "fields: ' a , b,c '\n"
               "count: 10\n"
               "flag: TRUE\n"
               "ratio: 1e3\n"
               "color: Blue\n"
               "max.size: 2 MiB\n"
               "retry.timeout: 2s\n"
               "pattern: 'sensors\\..*'\n"
               "script: lua/x.lua\n"
               "replace_null_with_default: false\n",
               NULL),
          0);
    T_EQS(c.req, "padded");
    T_EQS(c.raw, "  kept  ");
    T_EQS(c.s, "");
    T_EQI(c.list.n, 3);
    if (c.list.n == 3) {
        T_EQS(c.list.v[0], "a");
        T_EQS(c.list.v[1], "b");
        T_EQS(c.list.v[2], "c");
    }
    T_EQI(c.i, 10);
    T_EQI(c.b, 1);
    T_OK(c.dbl == 1000.0);
    T_EQI(c.e, 2);
    T_EQI(c.size, 2 * 1024 * 1024);
    T_EQI(c.ms, 2000);
    T_EQS(c.re, "sensors\\..*");
    T_EQS(c.path, "conf/lua/x.lua");
    T_EQI(c.rnwd, 0);

    /* YAML sequences for lists; "a,," keeps empty items like Connect */
    T_EQI(load("req: x\nfields: [ ' a ', b ]\n", NULL), 0);
    T_EQI(c.list.n, 2);
    T_EQS(c.list.v[0], "a");
    T_EQI(load("req: x\nfields: 'a,,'\n", NULL), 0);
    T_EQI(c.list.n, 3);
    T_EQS(c.list.v[1], "");
    T_EQI(load("req: x\nfields: []\n", NULL), 0);
    T_EQI(c.list.n, 0);
    T_EQI(load("req: x\nfields: '  '\n", NULL), 0);
    T_EQI(c.list.n, 0);

    /* units and forms */
    T_EQI(load("req: x\nretry.timeout: -1\nmax.size: 512kib\n", NULL), 0);
    T_EQI(c.ms, -1);
    T_EQI(c.size, 512 * 1024);
    T_EQI(load("req: x\nretry.timeout: 1m\nmax.size: 3\n", NULL), 0);
    T_EQI(c.ms, 60000);
    T_EQI(c.size, 3);
    T_EQI(load("req: x\nretry.timeout: 100ms\nflag: False\n", NULL), 0);
    T_EQI(c.ms, 100);
    T_EQI(c.b, 0);
    /* absolute paths stay */
    T_EQI(load("req: x\nscript: /abs/x.lua\n", NULL), 0);
    T_EQS(c.path, "/abs/x.lua");

    /* null reads as absent: the default applies */
    T_EQI(load("req: x\ncount: ~\ns: null\n", NULL), 0);
    T_EQI(c.i, 5);
    T_EQS(c.s, "dflt");

    /* extra keys are accepted and left alone */
    {
        static const char *const extra[] = {"type", "name", NULL};

        T_EQI(load("type: x\nreq: y\nname: n\n", extra), 0);
        T_EQS(c.req, "y");
    }
}

static void test_errors(void)
{
    bad("count: 3\n", "conf/o.yaml:1:1: missing required option 'req'");
    bad("req: ~\n", "conf/o.yaml:1:1: missing required option 'req'");
    bad("req: '  '\n", "conf/o.yaml:1:6: option 'req': must not be empty");
    bad("req: x\ncount: 11\n",
        "conf/o.yaml:2:8: option 'count': must be between 1 and 10");
    bad("req: x\ncount: 0\n",
        "conf/o.yaml:2:8: option 'count': must be between 1 and 10");
    bad("req: x\ncount: 1.5\n", "conf/o.yaml:2:8: option 'count': must be an integer");
    bad("req: x\ncount: 99999999999999999999\n",
        "conf/o.yaml:2:8: option 'count': must be an integer");
    bad("req: x\nflag: yes\n",
        "conf/o.yaml:2:7: option 'flag': must be true or false");
    bad("req: x\ncolor: blue\n",
        "conf/o.yaml:2:8: option 'color': must be one of: red, green, Blue");
    bad("req: x\nratio: abc\n", "conf/o.yaml:2:8: option 'ratio': must be a number");
    bad("req: x\nmax.size: 3 parsecs\n",
        "conf/o.yaml:2:11: option 'max.size': must be a size (bytes, or with a "
        "unit: KiB, MiB, GiB)");
    bad("req: x\nretry.timeout: -2s\n",
        "conf/o.yaml:2:16: option 'retry.timeout': must be a duration "
        "(milliseconds, or with a unit: ms, s, m, h, d)");
    bad("req: x\nretry.timeout: -5\n",
        "conf/o.yaml:2:16: option 'retry.timeout': must be between -1 and "
        "9223372036854775807");
    bad("req: x\npattern: 'a(b'\n",
        "conf/o.yaml:2:10: option 'pattern': Invalid regex: missing closing "
        "parenthesis at offset 3");
    bad("req: x\nfieldz: a\n",
        "conf/o.yaml:2:1: unknown option 'fieldz' (did you mean 'fields'?)");
    bad("req: x\nreplace_null_with_defualt: true\n",
        "conf/o.yaml:2:1: unknown option 'replace_null_with_defualt' (did you "
        "mean 'replace.null.with.default'?)");
    bad("req: x\nzzzzzzzzzzzzzzzz: 1\n",
        "conf/o.yaml:2:1: unknown option 'zzzzzzzzzzzzzzzz' (valid: s, raw, "
        "req, fields, count, flag, ratio, color, max.size, retry.timeout, "
        "pattern, script, replace.null.with.default)");
    bad("req: x\nreplace.null.with.default: true\nreplace_null_with_default: "
        "false\n",
        "conf/o.yaml:3:1: duplicate key 'replace_null_with_default'");
    bad("req: x\ncount: [1]\n",
        "conf/o.yaml:2:8: option 'count': expected a scalar value, got a "
        "sequence");
    bad("req: x\nfields: {a: 1}\n",
        "conf/o.yaml:2:9: option 'fields': expected a list or string, got a "
        "mapping");
    bad("req: x\nfields: [a, [b]]\n",
        "conf/o.yaml:2:13: option 'fields': list items must be strings");
    bad("- a\n", "conf/o.yaml:1:1: expected a mapping of options");

    /* several errors are all reported */
    T_EQI(load("count: 0\nflag: 2\n", NULL), -1);
    T_EQI(d.n, 3);
}

static void test_parse_suggest(void)
{
    const char *why = NULL;
    static const char *const cands[] = {"fields", "replacement", "type", NULL};

    T_EQI(smt_opt_parse(&topts[4], &c, " 7 ", &a, &why), 0);
    T_EQI(c.i, 7);
    T_EQI(smt_opt_parse(&topts[4], &c, "70", &a, &why), -1);
    T_EQS(why, "out of range");
    T_EQI(smt_opt_parse(&topts[5], &c, "maybe", &a, &why), -1);
    T_EQS(why, "must be true or false");

    T_EQS(smt_suggest("feilds", cands, 3), "fields");
    T_EQS(smt_suggest("tpye", cands, 3), "type");
    T_OK(smt_suggest("completely-different", cands, 3) == NULL);
    T_EQS(smt_opt_type_name(SMT_OPT_STRLIST), "list");
    T_EQS(smt_opt_type_name(SMT_OPT_MSEC), "duration");
    T_EQS(smt_opt_type_name(SMT_OPT_BOOL), "boolean");
}

int main(void)
{
    smt_diags_init(&d);
    smt_arena_init(&a, 4096);
    test_defaults();
    test_values();
    test_errors();
    test_parse_suggest();
    smt_diags_fini(&d);
    smt_arena_fini(&a);
    return t_done("test_opts");
}

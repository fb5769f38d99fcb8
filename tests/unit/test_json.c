/*
 * test_json.c - the JSON parser and serializer against JSONTestSuite, plus
 * round trips, limits, numbers, Java number formatting, base64 and Connect's
 * JSON envelope. Runs from the repository root (the suite is read from
 * ../shared/data/json-test-suite/test_parsing).
 */
#include "json.h"
#include "t.h"

#include <dirent.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>

#define SUITE "../shared/data/json-test-suite/test_parsing"

/* What docs/json.md says about every implementation-defined (i_) case:
 * 1 = accepted, 0 = rejected. */
static const struct {
    const char *file;
    int         accept;
} i_cases[] = {
    {"i_number_double_huge_neg_exp.json", 1},       /* underflows to 0 */
    {"i_number_huge_exp.json", 0},                  /* overflows double */
    {"i_number_neg_int_huge_exp.json", 0},
    {"i_number_pos_double_huge_exp.json", 0},
    {"i_number_real_neg_overflow.json", 0},
    {"i_number_real_pos_overflow.json", 0},
    {"i_number_real_underflow.json", 1},
    {"i_number_too_big_neg_int.json", 1},           /* BIGINT */
    {"i_number_too_big_pos_int.json", 1},
    {"i_number_very_big_negative_int.json", 1},
    {"i_object_key_lone_2nd_surrogate.json", 0},    /* lone surrogates */
    {"i_string_1st_surrogate_but_2nd_missing.json", 0},
    {"i_string_1st_valid_surrogate_2nd_invalid.json", 0},
    {"i_string_UTF-16LE_with_BOM.json", 0},         /* not UTF-8 */
    {"i_string_UTF-8_invalid_sequence.json", 0},    /* invalid UTF-8 */
    {"i_string_UTF8_surrogate_U+D800.json", 0},
    {"i_string_incomplete_surrogate_and_escape_valid.json", 0},
    {"i_string_incomplete_surrogate_pair.json", 0},
    {"i_string_incomplete_surrogates_escape_valid.json", 0},
    {"i_string_invalid_lonely_surrogate.json", 0},
    {"i_string_invalid_surrogate.json", 0},
    {"i_string_invalid_utf-8.json", 0},
    {"i_string_inverted_surrogates_U+1D11E.json", 0},
    {"i_string_iso_latin_1.json", 0},
    {"i_string_lone_second_surrogate.json", 0},
    {"i_string_lone_utf8_continuation_byte.json", 0},
    {"i_string_not_in_unicode_range.json", 0},
    {"i_string_overlong_sequence_2_bytes.json", 0},
    {"i_string_overlong_sequence_6_bytes.json", 0},
    {"i_string_overlong_sequence_6_bytes_null.json", 0},
    {"i_string_truncated-utf-8.json", 0},
    {"i_string_utf16BE_no_BOM.json", 0},
    {"i_string_utf16LE_no_BOM.json", 0},
    {"i_structure_500_nested_arrays.json", 1},      /* depth 500 <= 512 */
    {"i_structure_UTF-8_BOM_empty_object.json", 0}, /* no BOM */
};

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long  n;

    if (f == NULL) {
        return NULL;
    }
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc((size_t)n + 1);
    if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
        n = 0;
    }
    fclose(f);
    *len = (size_t)n;
    return buf;
}

/* A copy of v with every raw cleared, so the writer encodes all of it. */
static struct smt_val *strip_raw(struct smt_arena *a, const struct smt_val *v)
{
    struct smt_val *c = smt_val_clone(a, v);
    uint32_t        i;

    c->raw = NULL;
    c->rawlen = 0;
    if (c->type == SMT_ARRAY) {
        for (i = 0; i < c->n; i++) {
            c->u.items[i] = strip_raw(a, c->u.items[i]);
        }
    } else if (c->type == SMT_OBJECT) {
        for (i = 0; i < c->n; i++) {
            c->u.members[i].val = strip_raw(a, c->u.members[i].val);
        }
    }
    return c;
}

/* Exact structural equality: same types, values, member order. */
static int same(const struct smt_val *x, const struct smt_val *y)
{
    uint32_t i;

    if (x->type != y->type || x->n != y->n) {
        return 0;
    }
    switch (x->type) {
    case SMT_BOOL:
        return x->u.b == y->u.b;
    case SMT_INT64:
        return x->u.i == y->u.i;
    case SMT_FLOAT64:
        return memcmp(&x->u.d, &y->u.d, sizeof(double)) == 0;
    case SMT_STRING:
        return x->u.s.len == y->u.s.len &&
               memcmp(x->u.s.ptr, y->u.s.ptr, x->u.s.len) == 0;
    case SMT_ARRAY:
        for (i = 0; i < x->n; i++) {
            if (!same(x->u.items[i], y->u.items[i])) {
                return 0;
            }
        }
        return 1;
    case SMT_OBJECT:
        for (i = 0; i < x->n; i++) {
            if (!smt_bytes_eq(x->u.members[i].key, y->u.members[i].key) ||
                !same(x->u.members[i].val, y->u.members[i].val)) {
                return 0;
            }
        }
        return 1;
    default:
        return 1;
    }
}

static int is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* parse -> write untouched == trimmed input; parse -> compact write ->
 * parse -> compact write is stable */
static void check_round_trip(const char *name, const char *p, size_t len,
                             const struct smt_val *root, struct smt_arena *a)
{
    struct smt_err   err;
    struct smt_bytes out1, out2;
    struct smt_val  *re;
    size_t           s = 0, e = len;

    while (s < e && is_ws(p[s])) {
        s++;
    }
    while (e > s && is_ws(p[e - 1])) {
        e--;
    }
    T_OKM(smt_json_write_arena(a, root, &out1, &err) == 0 &&
              out1.len == e - s && memcmp(out1.ptr, p + s, e - s) == 0,
          "%s: untouched write differs", name);
    T_OKM(smt_json_write_arena(a, strip_raw(a, root), &out1, &err) == 0,
          "%s: compact write: %s", name, err.msg);
    re = smt_json_parse(a, out1.ptr, out1.len, &err);
    T_OKM(re != NULL, "%s: compact output does not parse: %s", name, err.msg);
    if (re != NULL) {
        T_OKM(smt_json_write_arena(a, strip_raw(a, re), &out2, &err) == 0 &&
                  out2.len == out1.len &&
                  memcmp(out1.ptr, out2.ptr, out1.len) == 0,
              "%s: compact write not stable", name);
        T_OKM(same(root, re) && smt_val_equal(root, re) ==
                                      smt_val_equal(re, root),
              "%s: re-parsed value differs", name);
    }
}

static void test_suite(void)
{
    DIR              *d = opendir(SUITE);
    struct dirent    *de;
    struct smt_arena *a = smt_arena_new(4096);
    int               ny = 0, nn = 0, ni = 0;
    size_t            k;
    int               seen[sizeof(i_cases) / sizeof(i_cases[0])] = {0};

    T_OKM(d != NULL, "cannot open %s", SUITE);
    if (d == NULL) {
        smt_arena_free(a);
        return;
    }
    while ((de = readdir(d)) != NULL) {
        char            path[512];
        char           *buf;
        size_t          len;
        struct smt_err  err;
        struct smt_val *root;
        const char     *n = de->d_name;

        if (n[0] == '.' || strlen(n) < 3 || n[1] != '_') {
            continue;
        }
        snprintf(path, sizeof(path), "%s/%s", SUITE, n);
        buf = read_file(path, &len);
        T_OKM(buf != NULL, "cannot read %s", path);
        if (buf == NULL) {
            continue;
        }
        smt_err_clear(&err);
        smt_arena_reset(a);
        root = smt_json_parse(a, buf, len, &err);
        if (n[0] == 'y') {
            ny++;
            T_OKM(root != NULL, "%s rejected: %s", n, err.msg);
            if (root != NULL) {
                check_round_trip(n, buf, len, root, a);
            }
        } else if (n[0] == 'n') {
            nn++;
            T_OKM(root == NULL && err.code != 0 &&
                      strncmp(err.msg, "invalid JSON at offset ", 23) == 0,
                  "%s accepted or bad message '%s'", n, err.msg);
        } else if (n[0] == 'i') {
            int found = 0;
            ni++;
            for (k = 0; k < sizeof(i_cases) / sizeof(i_cases[0]); k++) {
                if (strcmp(i_cases[k].file, n) == 0) {
                    found = 1;
                    seen[k] = 1;
                    T_OKM((root != NULL) == i_cases[k].accept,
                          "%s: expected %s (%s)", n,
                          i_cases[k].accept ? "accept" : "reject", err.msg);
                    if (root == NULL) {
                        T_OK(err.msg[0] != '\0');
                    } else {
                        check_round_trip(n, buf, len, root, a);
                    }
                }
            }
            T_OKM(found, "%s is not in the i_ table", n);
        }
        free(buf);
    }
    closedir(d);
    for (k = 0; k < sizeof(i_cases) / sizeof(i_cases[0]); k++) {
        T_OKM(seen[k], "%s missing from the suite", i_cases[k].file);
    }
    T_OKM(ny >= 95 && nn >= 188 && ni == 35, "suite counts y=%d n=%d i=%d", ny,
          nn, ni);
    smt_arena_free(a);
}

static struct smt_val *parse(struct smt_arena *a, const char *s,
                             struct smt_err *err)
{
    smt_err_clear(err);
    return smt_json_parse(a, s, strlen(s), err);
}

static void test_round_trip(void)
{
    struct smt_arena *a = smt_arena_new(4096);
    struct smt_err    err;
    struct smt_buf    b;
    struct smt_bytes  out;
    const char       *in = " { \"a\" : [1, 2 ,3] , \"b\":\"x\\ty\",\n\"c\" : {} } ";
    struct smt_val   *root = parse(a, in, &err);

    T_OK(root != NULL);
    T_EQI(root->type, SMT_OBJECT);
    T_EQI(root->n, 3);
    T_EQB(root->raw, root->rawlen,
          "{ \"a\" : [1, 2 ,3] , \"b\":\"x\\ty\",\n\"c\" : {} }");
    T_EQB(root->u.members[0].val->raw, root->u.members[0].val->rawlen,
          "[1, 2 ,3]");
    T_EQB(root->u.members[1].val->raw, root->u.members[1].val->rawlen,
          "\"x\\ty\"");
    T_EQB(root->u.members[1].val->u.s.ptr, root->u.members[1].val->u.s.len,
          "x\ty");

    smt_buf_init(&b);
    T_OK(smt_json_write(&b, root, &err) == 0);
    T_EQS(b.ptr, "{ \"a\" : [1, 2 ,3] , \"b\":\"x\\ty\",\n\"c\" : {} }");

    /* a change re-encodes the changed node only */
    smt_obj_set(a, root, "d", 1, smt_val_int(a, SMT_INT32, -5));
    T_OK(root->raw == NULL);
    T_OK(smt_json_write_arena(a, root, &out, &err) == 0);
    T_EQB(out.ptr, out.len,
          "{\"a\":[1, 2 ,3],\"b\":\"x\\ty\",\"c\":{},\"d\":-5}");

    /* changed scalars of every kind */
    {
        struct smt_val *o = smt_val_object(a, 0);
        static const unsigned char bin[] = {0xff, 0x00, 0x41};
        smt_obj_set(a, o, "s", 1, smt_val_str(a, SMT_STRING,
                                              "q\"\\\x01\n\xc3\xa9", 7));
        smt_obj_set(a, o, "f", 1, smt_val_float(a, SMT_FLOAT64, 1e7));
        smt_obj_set(a, o, "g", 1, smt_val_float(a, SMT_FLOAT32, 1.1));
        smt_obj_set(a, o, "b", 1, smt_val_bool(a, 0));
        smt_obj_set(a, o, "n", 1, smt_val_null(a));
        smt_obj_set(a, o, "y", 1, smt_val_str(a, SMT_BYTES, (const char *)bin, 3));
        smt_obj_set(a, o, "m", 1, smt_val_str(a, SMT_DECIMAL, "12.50", 5));
        smt_obj_set(a, o, "t", 1, smt_val_int(a, SMT_DATE, 1700000000000LL));
        smt_obj_set(a, o, "a", 1, smt_val_array(a, 0));
        smt_obj_set(a, o, "i", 1, smt_val_int(a, SMT_INT64, INT64_MIN));
        b.len = 0;
        T_OK(smt_json_write(&b, o, &err) == 0);
        T_EQS(b.ptr, "{\"s\":\"q\\\"\\\\\\u0001\\n\xc3\xa9\",\"f\":1.0E7,"
                     "\"g\":1.1,\"b\":false,\"n\":null,\"y\":\"/wBB\","
                     "\"m\":12.50,\"t\":1700000000000,\"a\":[],"
                     "\"i\":-9223372036854775808}");
        smt_obj_set(a, o, "x", 1, smt_val_float(a, SMT_FLOAT64, NAN));
        b.len = 0;
        T_OK(smt_json_write(&b, o, &err) == -1);
        T_EQI(err.code, SMT_E_DATA);
        T_EQI(b.len, 0);
        T_OK(smt_json_write_arena(a, o, &out, &err) == -1);
    }
    b.len = 0;
    T_OK(smt_json_write(&b, NULL, &err) == 0);
    T_EQS(b.ptr, "null");
    b.len = 0;
    smt_json_write_str(&b, "a\"b\x1f", 4);
    T_EQS(b.ptr, "\"a\\\"b\\u001f\"");

    /* an unchanged root is returned as its own text, without a copy */
    root = parse(a, "[1,2]", &err);
    T_OK(smt_json_write_arena(a, root, &out, &err) == 0 && out.ptr == root->raw);

    /* a long changed string forces the arena writer to grow */
    {
        char           *big = smt_arena_alloc(a, 5000);
        struct smt_val *arr = smt_val_array(a, 0);
        memset(big, '\n', 5000);
        smt_arr_push(a, arr, smt_val_str(a, SMT_STRING, big, 5000));
        T_OK(smt_json_write_arena(a, arr, &out, &err) == 0);
        T_EQI(out.len, 5000 * 2 + 4);
        T_OK(out.len > 10 && memcmp(out.ptr, "[\"\\n\\n", 6) == 0);
    }
    /* a fresh arena (no chunk yet) takes the estimating path, a used one
     * writes in place; both give the same text, and allocations after it
     * do not overlap it */
    {
        struct smt_arena *fresh = smt_arena_new(1024);
        struct smt_bytes  o2;
        char             *after;
        root = parse(a, "{\"k\":[1,2],\"s\":\"x\"}", &err);
        smt_obj_set(a, root, "n", 1, smt_val_float(a, SMT_FLOAT64, 0.25));
        T_OK(smt_json_write_arena(fresh, root, &out, &err) == 0);
        T_EQB(out.ptr, out.len, "{\"k\":[1,2],\"s\":\"x\",\"n\":0.25}");
        T_OK(smt_json_write_arena(fresh, root, &o2, &err) == 0);
        T_EQB(o2.ptr, o2.len, "{\"k\":[1,2],\"s\":\"x\",\"n\":0.25}");
        after = smt_arena_alloc(fresh, 8);
        memset(after, 'Z', 8);
        T_EQB(out.ptr, out.len, "{\"k\":[1,2],\"s\":\"x\",\"n\":0.25}");
        T_EQB(o2.ptr, o2.len, "{\"k\":[1,2],\"s\":\"x\",\"n\":0.25}");
        T_OK(after >= o2.ptr + o2.len + 1 || after + 8 <= o2.ptr);
        smt_arena_free(fresh);
    }
    smt_buf_fini(&b);
    smt_arena_free(a);
}

static void test_errors(void)
{
    struct smt_arena *a = smt_arena_new(4096);
    struct smt_err    err;
    char             *deep;
    size_t            i;

    T_OK(parse(a, "{\"a\":1,\"b\":x}", &err) == NULL);
    T_EQS(err.msg, "invalid JSON at offset 11: unexpected character 'x'");
    T_EQI(err.code, SMT_E_DATA);
    T_OK(parse(a, "", &err) == NULL);
    T_EQS(err.msg, "invalid JSON at offset 0: unexpected end of input");
    T_OK(parse(a, "[1,2", &err) == NULL);
    T_EQS(err.msg, "invalid JSON at offset 4: unexpected end of input");
    T_OK(parse(a, "[\"ab\x01\"]", &err) == NULL);
    T_EQS(err.msg, "invalid JSON at offset 4: control character in string");
    T_OK(parse(a, "\"\xc3\"", &err) == NULL);
    T_EQS(err.msg, "invalid JSON at offset 1: invalid UTF-8");
    T_OK(parse(a, "[\"\\ud800\"]", &err) == NULL);
    T_EQS(err.msg, "invalid JSON at offset 2: lone surrogate in \\u escape");
    T_OK(parse(a, "[1e999]", &err) == NULL);
    T_EQS(err.msg, "invalid JSON at offset 1: number out of range");
    T_OK(parse(a, "01", &err) == NULL);
    T_EQS(err.msg, "invalid JSON at offset 1: unexpected character '1'");
    T_OK(parse(a, "[1] x", &err) == NULL);
    T_EQS(err.msg, "invalid JSON at offset 4: unexpected character 'x'");
    T_OK(parse(a, "\x01", &err) == NULL);
    T_EQS(err.msg, "invalid JSON at offset 0: unexpected byte 0x01");
    T_OK(parse(a, "[\"a\\x\"]", &err) == NULL);
    T_EQS(err.msg, "invalid JSON at offset 3: invalid escape sequence");
    T_OK(parse(a, "\"abc", &err) == NULL);
    T_EQS(err.msg, "invalid JSON at offset 4: unterminated string");
    T_OK(parse(a, "\"a\\", &err) == NULL);
    T_OK(parse(a, "\"a\\u12\"", &err) == NULL);
    T_OK(parse(a, "\"a\\u12", &err) == NULL);
    T_OK(parse(a, "tru", &err) == NULL);
    T_OK(parse(a, "-", &err) == NULL);
    T_OK(parse(a, "1.", &err) == NULL);
    T_OK(parse(a, "1e+", &err) == NULL);

    /* depth: 512 levels parse, 513 do not, 100000 fail cleanly */
    deep = malloc(100001);
    memset(deep, '[', 100000);
    T_OK(smt_json_parse(a, deep, 100000, &err) == NULL);
    T_EQS(err.msg, "invalid JSON at offset 512: nesting deeper than 512 levels");
    T_EQI(err.code, SMT_E_LIMIT);
    memset(deep + 512, ']', 512);
    T_OK(smt_json_parse(a, deep, 1024, &err) != NULL);
    memset(deep, '{', 100000);
    T_OK(smt_json_parse(a, deep, 100000, &err) == NULL);
    for (i = 0; i < 513; i++) {
        deep[i] = '[';
        deep[513 + i] = ']';
    }
    T_OK(smt_json_parse(a, deep, 1026, &err) == NULL);
    free(deep);
    smt_arena_free(a);
}

static void test_values(void)
{
    struct smt_arena *a = smt_arena_new(4096);
    struct smt_err    err;
    struct smt_val   *v;
    struct smt_bytes  out;
    const char       *in;
    char              big[3000];
    size_t            i;

    v = parse(a, "9223372036854775807", &err);
    T_OK(v && v->type == SMT_INT64 && v->u.i == INT64_MAX);
    v = parse(a, "-9223372036854775808", &err);
    T_OK(v && v->type == SMT_INT64 && v->u.i == INT64_MIN);
    v = parse(a, "-0", &err);
    T_OK(v && v->type == SMT_INT64 && v->u.i == 0);
    v = parse(a, "9223372036854775808", &err);
    T_OK(v && v->type == SMT_FLOAT64 && (v->flags & SMT_VF_BIGINT) &&
         v->u.d == 9223372036854775808.0);
    v = parse(a, "-9223372036854775809", &err);
    T_OK(v && v->type == SMT_FLOAT64 && (v->flags & SMT_VF_BIGINT) &&
         v->u.d == -9223372036854775808.0);
    v = parse(a, "[123456789012345678901234567890]", &err);
    T_OK(v && v->u.items[0]->type == SMT_FLOAT64 &&
         (v->u.items[0]->flags & SMT_VF_BIGINT) &&
         v->u.items[0]->u.d == 1.2345678901234568e29);
    T_OK(smt_json_write_arena(a, v, &out, &err) == 0);
    T_EQB(out.ptr, out.len, "[123456789012345678901234567890]");
    v->u.items[0]->raw = NULL;
    v->raw = NULL;
    T_OK(smt_json_write_arena(a, v, &out, &err) == 0);
    T_EQB(out.ptr, out.len, "[123456789012345677877719597056]");
    v = parse(a, "-0.0", &err);
    T_OK(v && v->type == SMT_FLOAT64 && v->u.d == 0 && signbit(v->u.d));
    v = parse(a, "1.5E+2", &err);
    T_OK(v && v->type == SMT_FLOAT64 && v->u.d == 150.0 && !v->flags);
    v = parse(a, "0.000001e-320", &err); /* underflow: accepted as 0 */
    T_OK(v && v->type == SMT_FLOAT64 && v->u.d == 0);
    v = parse(a, "1e-400", &err);
    T_OK(v && v->u.d == 0);
    /* 400 digits: still an integer, far beyond int64 */
    memset(big, '9', 400);
    big[400] = '\0';
    v = parse(a, big, &err);
    T_OK(v == NULL); /* 1e400 overflows double */
    memset(big, '1', 300);
    big[300] = '\0';
    v = parse(a, big, &err);
    T_OK(v && (v->flags & SMT_VF_BIGINT) && v->u.d > 1.1e299);

    /* strings: views when unescaped, decoded otherwise */
    in = "[\"plain\",\"caf\xc3\xa9\",\"\\u00e9\\/\\b\\f\\n\\r\\t\\\"\\\\\","
         "\"\\ud834\\udd1e\",\"\\uFFFF\",\"\\u0000x\"]";
    v = parse(a, in, &err);
    T_OK(v != NULL && v->n == 6);
    if (v != NULL && v->n == 6) {
        T_OK(v->u.items[0]->u.s.ptr == in + 2);
        T_EQB(v->u.items[0]->u.s.ptr, v->u.items[0]->u.s.len, "plain");
        T_EQB(v->u.items[1]->u.s.ptr, v->u.items[1]->u.s.len, "caf\xc3\xa9");
        T_EQB(v->u.items[2]->u.s.ptr, v->u.items[2]->u.s.len,
              "\xc3\xa9/\b\f\n\r\t\"\\");
        T_EQB(v->u.items[3]->u.s.ptr, v->u.items[3]->u.s.len,
              "\xf0\x9d\x84\x9e");
        T_EQB(v->u.items[4]->u.s.ptr, v->u.items[4]->u.s.len, "\xef\xbf\xbf");
        T_EQI(v->u.items[5]->u.s.len, 2);
        T_OK(memcmp(v->u.items[5]->u.s.ptr, "\0x", 2) == 0);
    }
    T_OK(parse(a, "\"\\udd1e\\ud834\"", &err) == NULL);
    T_OK(parse(a, "\"\\ud834\\u0041\"", &err) == NULL);
    T_OK(parse(a, "\"\xed\xa0\x80\"", &err) == NULL);
    T_OK(parse(a, "\"\xf4\x90\x80\x80\"", &err) == NULL);
    T_OK(parse(a, "\"\xe0\x80\xaf\"", &err) == NULL);
    T_OK(parse(a, "\"\xf0\x9d\x84\x9e\xe2\x82\xac\"", &err) != NULL);
    /* long strings take the 8-byte scan, with specials at every offset */
    for (i = 0; i < 24; i++) {
        char s[64];
        memset(s, 'a', sizeof(s));
        s[0] = '"';
        s[30] = '"';
        s[1 + i] = '\\';
        s[2 + i] = 'n';
        v = smt_json_parse(a, s, 31, &err);
        T_OK(v && v->u.s.len == 28 && v->u.s.ptr[i] == '\n');
        s[1 + i] = '\x1f';
        T_OK(smt_json_parse(a, s, 31, &err) == NULL);
        s[1 + i] = '"';
        T_OK(smt_json_parse(a, s, 31, &err) == NULL);
        s[1 + i] = (char)0xc3;
        s[2 + i] = (char)0xa9;
        v = smt_json_parse(a, s, 31, &err);
        T_OK(v && v->u.s.len == 29 && v->u.s.ptr == s + 1);
    }

    /* duplicate keys: both kept, in order; lookups find the first */
    v = parse(a, "{\"k\":1,\"k\":2}", &err);
    T_OK(v && v->n == 2 && smt_obj_get(v, "k", 1)->u.i == 1 &&
         v->u.members[1].val->u.i == 2);
    /* containers big enough to spill the scratch stack */
    {
        struct smt_buf  b;
        smt_buf_init(&b);
        smt_buf_addc(&b, '[');
        for (i = 0; i < 1000; i++) {
            smt_buf_printf(&b, "%s{\"a%zu\":%zu,\"b\":[%zu,%zu]}", i ? "," : "",
                           i, i, i, i + 1);
        }
        smt_buf_addc(&b, ']');
        v = smt_json_parse(a, b.ptr, b.len, &err);
        T_OK(v && v->n == 1000 && v->u.items[999]->u.members[1].val->n == 2 &&
             v->u.items[999]->u.members[0].val->u.i == 999);
        smt_buf_fini(&b);
    }
    smt_arena_free(a);
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;

static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* the fast path and strtod must agree on every number */
static void test_numbers(void)
{
    struct smt_arena *a = smt_arena_new(4096);
    struct smt_err    err;
    char              s[80];
    int               i, bad = 0;
    static const char *fixed[] = {
        "0.1", "0.2", "0.3", "1e22", "1e23", "9007199254740993.0",
        "9007199254740991e22", "123456789012345678e-5", "2.2250738585072011e-308",
        "4.9406564584124654e-324", "1.7976931348623157e308", "3.14159265358979",
        "0.000000000000000000000000000001", "1234567890123456789012345.678",
        "5e-324", "2.5e-324", "1.00000000000000011102230246251565404236316680908203125",
        "7.2057594037927933e16", "0.30000000000000004", "100000000000000000000e-2",
    };

    for (i = 0; i < (int)(sizeof(fixed) / sizeof(fixed[0])); i++) {
        struct smt_val *v = parse(a, fixed[i], &err);
        T_OKM(v && v->type == SMT_FLOAT64 && v->u.d == strtod(fixed[i], NULL),
              "%s", fixed[i]);
    }
    for (i = 0; i < 200000; i++) {
        struct smt_val *v;
        uint64_t        r = rng();
        double          want;
        switch (i % 4) {
        case 0: /* fast-path shapes */
            snprintf(s, sizeof(s), "%llu.%llue%d",
                     (unsigned long long)(r % 100000000ULL),
                     (unsigned long long)(rng() % 10000000ULL),
                     (int)(rng() % 45) - 22);
            break;
        case 1: /* long mantissas */
            snprintf(s, sizeof(s), "%llu%llue%d", (unsigned long long)r,
                     (unsigned long long)rng(), (int)(rng() % 640) - 340);
            break;
        case 2: { /* random bit patterns written with 17 digits */
            double d;
            memcpy(&d, &r, sizeof(d));
            if (!isfinite(d)) {
                d = 1.5;
            }
            snprintf(s, sizeof(s), "%.17g", d);
            break;
        }
        default: /* random doubles at the shortest Java form */
        {
            double d;
            memcpy(&d, &r, sizeof(d));
            if (!isfinite(d)) {
                d = 2.5;
            }
            smt_fmt_java_double(s, d, 0);
            break;
        }
        }
        smt_arena_reset(a);
        v = parse(a, s, &err);
        want = strtod(s, NULL);
        if (isinf(want) ? v != NULL
                        : (v == NULL || (v->type == SMT_FLOAT64
                                             ? v->u.d
                                             : (double)v->u.i) != want)) {
            if (bad++ < 5) {
                fprintf(stderr, "number mismatch for %s\n", s);
            }
        }
    }
    T_EQI(bad, 0);
    smt_arena_free(a);
}

static void test_java_format(void)
{
    static const struct {
        double      d;
        int         is_float;
        const char *want;
    } cases[] = {
        {42.0, 0, "42.0"},
        {12345678.0, 0, "1.2345678E7"},
        {0.0001, 0, "1.0E-4"},
        {1e7, 0, "1.0E7"},
        {9999999.0, 0, "9999999.0"},
        {0.001, 0, "0.001"},
        {0.0009999999999999998, 0, "9.999999999999998E-4"},
        {0.00123, 0, "0.00123"},
        {100.0, 0, "100.0"},
        {1.0e21, 0, "1.0E21"},
        {1.0e23, 0, "1.0E23"},
        {5e-324, 0, "4.9E-324"},
        {1e-323, 0, "9.9E-324"},
        {DBL_MAX, 0, "1.7976931348623157E308"},
        {DBL_MIN, 0, "2.2250738585072014E-308"},
        {0.1, 0, "0.1"},
        {0.1 + 0.2, 0, "0.30000000000000004"},
        {-1.5, 0, "-1.5"},
        {0.0, 0, "0.0"},
        {-0.0, 0, "-0.0"},
        {1.0, 0, "1.0"},
        {123456.789, 0, "123456.789"},
        {1234567.0, 0, "1234567.0"},
        {9007199254740993.0, 0, "9.007199254740992E15"},
        {2e-3, 0, "0.002"},
        {-3.0e-5, 0, "-3.0E-5"},
        {1.0 / 3.0, 0, "0.3333333333333333"},
        {2.0 / 3.0, 0, "0.6666666666666666"},
        {1e100, 0, "1.0E100"},
        {NAN, 0, "NaN"},
        {INFINITY, 0, "Infinity"},
        {-INFINITY, 0, "-Infinity"},
        {1.1, 1, "1.1"},
        {3.14159265358979, 1, "3.1415927"},
        {3.4028234663852886e38, 1, "3.4028235E38"},
        {1.4e-45, 1, "1.4E-45"},
        {1.17549435e-38, 1, "1.1754944E-38"}, /* FLT_MIN, JDK 19+ */
        {0.1, 1, "0.1"},
        {16777216.0, 1, "1.6777216E7"},
        {100.0, 1, "100.0"},
        {1.0e-4, 1, "1.0E-4"},
        {300.01, 1, "300.01"},
        {0.33333334, 1, "0.33333334"},
        {-0.0, 1, "-0.0"},
        {NAN, 1, "NaN"},
    };
    char   buf[40];
    size_t i, n;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        n = smt_fmt_java_double(buf, cases[i].d, cases[i].is_float);
        T_EQS(buf, cases[i].want);
        T_EQI(n, strlen(cases[i].want));
    }
    /* random doubles and floats read back exactly */
    for (i = 0; i < 100000; i++) {
        uint64_t r = rng();
        double   d;
        float    f;
        uint32_t u = (uint32_t)r;
        memcpy(&d, &r, sizeof(d));
        memcpy(&f, &u, sizeof(f));
        if (isfinite(d)) {
            smt_fmt_java_double(buf, d, 0);
            if (strtod(buf, NULL) != d) {
                T_OKM(0, "double %.17g printed as %s", d, buf);
            }
        }
        if (isfinite(f)) {
            smt_fmt_java_double(buf, f, 1);
            if (strtof(buf, NULL) != f) {
                T_OKM(0, "float %.9g printed as %s", (double)f, buf);
            }
        }
    }
}

/* A random double of the kinds data holds: short decimals around the
 * plain-notation bounds, values one ulp away from them, integers, and raw
 * bit patterns. */
static double random_double(void)
{
    uint64_t r = rng();
    double   d;
    char     s[64];

    switch (r % 6) {
    case 0: /* a short decimal, "79.5", "1023.4", "0.00125" */
        snprintf(s, sizeof(s), "%llu.%llue%d",
                 (unsigned long long)(rng() % 100000ULL),
                 (unsigned long long)(rng() % 1000ULL), (int)(rng() % 13) - 6);
        return strtod(s, NULL);
    case 1: /* 1 to 17 significant digits anywhere near the range */
        snprintf(s, sizeof(s), "%llue%d",
                 (unsigned long long)(rng() %
                                      (uint64_t)pow(10, (double)(rng() % 17 + 1))),
                 (int)(rng() % 30) - 20);
        return strtod(s, NULL);
    case 2: { /* next to a bound or a short decimal */
        static const double near[] = {1e-3, 1e7, 1.0, 0.1, 79.5, 9999999.5,
                                      1e-3 * 1.5, 1125899906842624.0 / 1e9};
        d = near[rng() % (sizeof(near) / sizeof(near[0]))];
        return (rng() & 1) ? nextafter(d, 0) : nextafter(d, 1e300);
    }
    case 3: /* a random double between 1e-4 and 1e8 */
        return ldexp((double)(rng() >> 11), -53) * pow(10, (double)(rng() % 12) - 4);
    default: /* raw bits */
        memcpy(&d, &r, sizeof(d));
        return d;
    }
}

/* the fast path of the Java formatting must write exactly what the
 * reference (verified against the JDK) writes */
static void test_java_format_fast(void)
{
    char   got[40], want[40];
    size_t i, ng, nw;
    int    bad = 0;

    for (i = 0; i < 500000; i++) {
        double d = random_double();
        if ((rng() & 1) != 0) {
            d = -d;
        }
        ng = smt_fmt_java_double(got, d, 0);
        nw = smt_fmt_java_double_ref(want, d, 0);
        if (ng != nw || strcmp(got, want) != 0) {
            if (bad++ < 5) {
                fprintf(stderr, "%.17g: fast %s, reference %s\n", d, got,
                        want);
            }
        }
    }
    T_EQI(bad, 0);
}

/* smt_parse_double_fast agrees with strtod/strtof whenever it answers, and
 * answers for the short decimals data is made of */
static void test_parse_fast(void)
{
    static const struct {
        const char *s;
        int         ok; /* fast path applies */
    } cases[] = {
        {"79.5", 1},   {"-0.0", 1},    {"+12", 1},      {"1.", 1},
        {".5", 1},     {"1e22", 1},    {"1e23", 0},     {"0e999", 1},
        {"1.5E-3", 1}, {"", 0},        {".", 0},        {"1e", 0},
        {"1e+", 0},    {" 1", 0},      {"1 ", 0},       {"1f", 0},
        {"0x10", 0},   {"NaN", 0},     {"Infinity", 0}, {"--1", 0},
        {"9007199254740993", 0},       {"12345678901234567890", 0},
        {"0.00000000000000000000000000000000001", 0},
    };
    char   s[80];
    size_t i;
    double d;
    int    bad = 0, fast = 0;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int ok = smt_parse_double_fast(cases[i].s, strlen(cases[i].s), 0, &d);
        T_OKM(ok == cases[i].ok, "%s", cases[i].s);
        if (ok) {
            T_OKM(memcmp(&d, &(double){strtod(cases[i].s, NULL)},
                         sizeof(d)) == 0,
                  "%s", cases[i].s);
        }
    }
    T_OK(smt_parse_double_fast("-0.0", 4, 0, &d) && signbit(d));
    for (i = 0; i < 500000; i++) {
        double want;
        int    is_float = (i & 1) != 0;
        switch (rng() % 3) {
        case 0:
            snprintf(s, sizeof(s), "%s%llu.%llu", (rng() & 1) ? "-" : "",
                     (unsigned long long)(rng() % 100000ULL),
                     (unsigned long long)(rng() % 1000ULL));
            break;
        case 1:
            snprintf(s, sizeof(s), "%llue%d",
                     (unsigned long long)(rng() % 100000000000000000ULL),
                     (int)(rng() % 50) - 25);
            break;
        default:
            snprintf(s, sizeof(s), "%.*g", (int)(rng() % 17) + 1,
                     ldexp((double)(rng() >> 11), (int)(rng() % 80) - 60));
            break;
        }
        if (!smt_parse_double_fast(s, strlen(s), is_float, &d)) {
            continue;
        }
        fast++;
        want = is_float ? (double)strtof(s, NULL) : strtod(s, NULL);
        if (memcmp(&d, &want, sizeof(d)) != 0) {
            if (bad++ < 5) {
                fprintf(stderr, "%s (%s): fast %.17g, strtod %.17g\n", s,
                        is_float ? "float" : "double", d, want);
            }
        }
    }
    T_EQI(bad, 0);
    T_OK(fast > 150000); /* the check above was not vacuous */
}

/* SMT_VF_PLAINKEYS: set on objects whose keys had no escapes, and the
 * writer still escapes keys it cannot vouch for */
static void test_plain_keys(void)
{
    struct smt_arena *a = smt_arena_new(4096);
    struct smt_err    err;
    struct smt_val   *v, *inner;
    struct smt_bytes  out;
    struct smt_buf    b;

    v = parse(a, "{\"a\":1,\"b\":{\"c\\\"d\":2},\"e\":[{\"f\":3}]}", &err);
    T_OK(v != NULL);
    if (v == NULL) {
        smt_arena_free(a);
        return;
    }
    inner = smt_obj_get(v, "b", 1);
    T_OK((v->flags & SMT_VF_PLAINKEYS) != 0);
    T_OK(inner != NULL && (inner->flags & SMT_VF_PLAINKEYS) == 0);
    T_OK((smt_obj_get(v, "e", 1)->u.items[0]->flags & SMT_VF_PLAINKEYS) != 0);
    /* a key added to a plain object is checked when written */
    smt_obj_set(a, v, "q\"\n", 3, smt_val_int(a, SMT_INT64, 4));
    T_OK((v->flags & SMT_VF_PLAINKEYS) == 0);
    smt_obj_set(a, inner, "g", 1, smt_val_null(a));
    T_EQI(smt_json_write_arena(a, v, &out, &err), 0);
    T_EQB(out.ptr, out.len,
          "{\"a\":1,\"b\":{\"c\\\"d\":2,\"g\":null},\"e\":[{\"f\":3}],"
          "\"q\\\"\\n\":4}");
    /* replacing a value keeps the keys, and the flag */
    v = parse(a, "{\"x\" : \"1\", \"y\":2}", &err);
    smt_obj_set(a, v, "x", 1, smt_val_str(a, SMT_STRING, "\t", 1));
    T_OK((v->flags & SMT_VF_PLAINKEYS) != 0);
    smt_buf_init(&b);
    T_EQI(smt_json_write(&b, v, &err), 0);
    T_EQB(b.ptr, b.len, "{\"x\":\"\\t\",\"y\":2}");
    smt_buf_fini(&b);
    smt_arena_free(a);
}

static void test_base64(void)
{
    static const char *vec[][2] = {
        {"", ""},         {"f", "Zg=="},        {"fo", "Zm8="},
        {"foo", "Zm9v"},  {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="},
        {"foobar", "Zm9vYmFy"},
    };
    struct smt_arena *a = smt_arena_new(4096);
    struct smt_buf    b;
    struct smt_bytes  out;
    struct smt_err    err;
    unsigned char     all[256];
    size_t            i;

    smt_buf_init(&b);
    for (i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
        b.len = 0;
        smt_base64_encode(&b, (const unsigned char *)vec[i][0],
                          strlen(vec[i][0]));
        T_EQB(b.ptr, b.len, vec[i][1]);
        T_OK(smt_base64_decode(a, vec[i][1], strlen(vec[i][1]), &out, &err) ==
             0);
        T_EQB(out.ptr, out.len, vec[i][0]);
    }
    for (i = 0; i < 256; i++) {
        all[i] = (unsigned char)(255 - i);
    }
    b.len = 0;
    smt_base64_encode(&b, all, 256);
    T_OK(smt_base64_decode(a, b.ptr, b.len, &out, &err) == 0 &&
         out.len == 256 && memcmp(out.ptr, all, 256) == 0);
    T_OK(smt_base64_decode(a, "Zg=", 3, &out, &err) == -1);
    T_OK(smt_base64_decode(a, "Zg", 2, &out, &err) == -1);
    T_OK(smt_base64_decode(a, "Z===", 4, &out, &err) == -1);
    T_OK(smt_base64_decode(a, "Zg==Zg==", 8, &out, &err) == -1);
    T_OK(smt_base64_decode(a, "Zm-v", 4, &out, &err) == -1);
    T_EQS(err.msg, "invalid base64: bad character at offset 2");
    smt_buf_fini(&b);
    smt_arena_free(a);
}

/* envelope in -> typed values -> envelope out */
static void test_envelope(void)
{
    struct smt_arena        *a = smt_arena_new(4096);
    struct smt_err           err;
    struct smt_buf           b;
    const struct smt_schema *s;
    struct smt_val          *root, *v, *x;
    const char              *in;

    smt_buf_init(&b);
    /* the reference example: untouched payload leaves as it came */
    in = "{\"schema\":{\"type\":\"struct\",\"optional\":false,\"name\":"
         "\"com.example.Login\",\"fields\":[{\"field\":\"user\",\"type\":"
         "\"string\",\"optional\":false},{\"field\":\"ts\",\"type\":\"int64\","
         "\"optional\":false,\"name\":\"org.apache.kafka.connect.data."
         "Timestamp\",\"version\":1},{\"field\":\"score\",\"type\":\"double\","
         "\"optional\":true}]},\"payload\":{\"user\":\"ana\",\"ts\":"
         "1700000000000,\"score\":null}}";
    root = parse(a, in, &err);
    v = smt_envelope_decode(a, root, &s, &err);
    T_OKM(v != NULL, "%s", err.msg);
    if (v == NULL) {
        goto out;
    }
    T_OK(s != NULL && s->type == SMT_OBJECT && !s->is_map && s->nfields == 3);
    T_EQS(s->name, "com.example.Login");
    T_EQI(smt_obj_get(v, "ts", 2)->type, SMT_DATE);
    T_EQI(smt_obj_get(v, "ts", 2)->u.i, 1700000000000LL);
    T_EQI(smt_obj_get(v, "score", 5)->type, SMT_NULL);
    T_EQI(s->fields[1].schema->version, 1);
    T_OK(smt_envelope_write(&b, v, s, &err) == 0);
    T_EQS(b.ptr,
          "{\"schema\":{\"type\":\"struct\",\"fields\":[{\"type\":\"string\","
          "\"optional\":false,\"field\":\"user\"},{\"type\":\"int64\","
          "\"optional\":false,\"name\":\"org.apache.kafka.connect.data."
          "Timestamp\",\"version\":1,\"field\":\"ts\"},{\"type\":\"double\","
          "\"optional\":true,\"field\":\"score\"}],\"optional\":false,"
          "\"name\":\"com.example.Login\"},\"payload\":{\"user\":\"ana\","
          "\"ts\":1700000000000,\"score\":null}}");

    /* every type, logical types, defaults */
    in = "{\"schema\":{\"type\":\"struct\",\"fields\":["
         "{\"field\":\"i8\",\"type\":\"int8\"},"
         "{\"field\":\"i16\",\"type\":\"int16\"},"
         "{\"field\":\"i32\",\"type\":\"int32\"},"
         "{\"field\":\"f\",\"type\":\"float\"},"
         "{\"field\":\"d\",\"type\":\"double\"},"
         "{\"field\":\"b\",\"type\":\"boolean\"},"
         "{\"field\":\"y\",\"type\":\"bytes\"},"
         "{\"field\":\"dec\",\"type\":\"bytes\",\"name\":\"org.apache.kafka."
         "connect.data.Decimal\",\"version\":1,\"parameters\":{\"scale\":\"2\"}},"
         "{\"field\":\"neg\",\"type\":\"bytes\",\"name\":\"org.apache.kafka."
         "connect.data.Decimal\",\"parameters\":{\"scale\":\"3\"}},"
         "{\"field\":\"day\",\"type\":\"int32\",\"name\":\"org.apache.kafka."
         "connect.data.Date\"},"
         "{\"field\":\"tod\",\"type\":\"int32\",\"name\":\"org.apache.kafka."
         "connect.data.Time\"},"
         "{\"field\":\"dflt\",\"type\":\"string\",\"optional\":true,"
         "\"default\":\"zz\"},"
         "{\"field\":\"arr\",\"type\":\"array\",\"items\":{\"type\":\"int32\"}},"
         "{\"field\":\"m\",\"type\":\"map\",\"keys\":{\"type\":\"string\"},"
         "\"values\":{\"type\":\"int64\"}},"
         "{\"field\":\"im\",\"type\":\"map\",\"keys\":{\"type\":\"int32\"},"
         "\"values\":{\"type\":\"string\"}}"
         "],\"optional\":false,\"doc\":\"all \\\"types\\\"\"},"
         "\"payload\":{\"i8\":300,\"i16\":-2,\"i32\":7,\"f\":1.1,\"d\":1e7,"
         "\"b\":true,\"y\":\"AQI=\",\"dec\":\"MDk=\",\"neg\":\"/w==\","
         "\"day\":19000,\"tod\":3600000,\"dflt\":null,\"arr\":[1, 2],"
         "\"m\":{\"a\":1},\"im\":[[1,\"x\"],[2,\"y\"]],\"extra\":0}}";
    root = parse(a, in, &err);
    T_OK(root != NULL);
    v = smt_envelope_decode(a, root, &s, &err);
    T_OKM(v != NULL, "%s", err.msg);
    if (v == NULL) {
        goto out;
    }
    T_EQI(v->n, 15);
    x = smt_obj_get(v, "i8", 2);
    T_OK(x->type == SMT_INT8 && x->u.i == 44);
    x = smt_obj_get(v, "f", 1);
    T_OK(x->type == SMT_FLOAT32 && x->u.d == (double)1.1f);
    x = smt_obj_get(v, "y", 1);
    T_OK(x->type == SMT_BYTES && x->u.s.len == 2 && x->u.s.ptr[1] == 2);
    x = smt_obj_get(v, "dec", 3);
    T_OK(x->type == SMT_DECIMAL);
    T_EQB(x->u.s.ptr, x->u.s.len, "123.45");
    x = smt_obj_get(v, "neg", 3);
    T_EQB(x->u.s.ptr, x->u.s.len, "-0.001");
    x = smt_obj_get(v, "day", 3);
    T_OK(x->type == SMT_DATE && x->u.i == 19000LL * 86400000LL);
    x = smt_obj_get(v, "dflt", 4);
    T_OK(x->type == SMT_STRING);
    T_EQB(x->u.s.ptr, x->u.s.len, "zz");
    x = smt_obj_get(v, "im", 2);
    T_OK(x->type == SMT_OBJECT && x->n == 2);
    T_OK(smt_obj_get(v, "extra", 5) == NULL);
    b.len = 0;
    T_OK(smt_envelope_write(&b, v, s, &err) == 0);
    T_EQS(b.ptr,
          "{\"schema\":{\"type\":\"struct\",\"fields\":["
          "{\"type\":\"int8\",\"optional\":false,\"field\":\"i8\"},"
          "{\"type\":\"int16\",\"optional\":false,\"field\":\"i16\"},"
          "{\"type\":\"int32\",\"optional\":false,\"field\":\"i32\"},"
          "{\"type\":\"float\",\"optional\":false,\"field\":\"f\"},"
          "{\"type\":\"double\",\"optional\":false,\"field\":\"d\"},"
          "{\"type\":\"boolean\",\"optional\":false,\"field\":\"b\"},"
          "{\"type\":\"bytes\",\"optional\":false,\"field\":\"y\"},"
          "{\"type\":\"bytes\",\"optional\":false,\"name\":\"org.apache.kafka."
          "connect.data.Decimal\",\"version\":1,\"parameters\":{\"scale\":\"2\"},"
          "\"field\":\"dec\"},"
          "{\"type\":\"bytes\",\"optional\":false,\"name\":\"org.apache.kafka."
          "connect.data.Decimal\",\"parameters\":{\"scale\":\"3\"},"
          "\"field\":\"neg\"},"
          "{\"type\":\"int32\",\"optional\":false,\"name\":\"org.apache.kafka."
          "connect.data.Date\",\"field\":\"day\"},"
          "{\"type\":\"int32\",\"optional\":false,\"name\":\"org.apache.kafka."
          "connect.data.Time\",\"field\":\"tod\"},"
          "{\"type\":\"string\",\"optional\":true,\"default\":\"zz\","
          "\"field\":\"dflt\"},"
          "{\"type\":\"array\",\"items\":{\"type\":\"int32\",\"optional\":false},"
          "\"optional\":false,\"field\":\"arr\"},"
          "{\"type\":\"map\",\"keys\":{\"type\":\"string\",\"optional\":false},"
          "\"values\":{\"type\":\"int64\",\"optional\":false},\"optional\":false,"
          "\"field\":\"m\"},"
          "{\"type\":\"map\",\"keys\":{\"type\":\"int32\",\"optional\":false},"
          "\"values\":{\"type\":\"string\",\"optional\":false},\"optional\":false,"
          "\"field\":\"im\"}"
          "],\"optional\":false,\"doc\":\"all \\\"types\\\"\"},"
          "\"payload\":{\"i8\":44,\"i16\":-2,\"i32\":7,\"f\":1.1,\"d\":1e7,"
          "\"b\":true,\"y\":\"AQI=\",\"dec\":\"MDk=\",\"neg\":\"/w==\","
          "\"day\":19000,\"tod\":3600000,\"dflt\":\"zz\",\"arr\":[1, 2],"
          "\"m\":{\"a\":1},\"im\":[[1,\"x\"],[2,\"y\"]]}}");
    /* changed typed values are encoded per schema */
    smt_obj_set(a, v, "dec", 3, smt_val_str(a, SMT_DECIMAL, "-128.00", 7));
    smt_obj_set(a, v, "d", 1, smt_val_float(a, SMT_FLOAT64, 0.5));
    b.len = 0;
    T_OK(smt_envelope_write(&b, v, s, &err) == 0);
    T_OK(strstr(b.ptr, "\"d\":0.5,") != NULL);
    T_OK(strstr(b.ptr, "\"dec\":\"zgA=\"") != NULL); /* -12800 = 0xCE00 */
    smt_obj_set(a, v, "dec", 3, smt_val_str(a, SMT_DECIMAL, "1.5", 3));
    T_OK(smt_envelope_write(&b, v, s, &err) == -1);
    T_EQS(err.msg, "BigDecimal has mismatching scale value for given Decimal "
                   "schema");
    smt_obj_set(a, v, "dec", 3, smt_val_str(a, SMT_DECIMAL, "1.50", 4));
    smt_obj_set(a, v, "day", 3, smt_val_int(a, SMT_DATE, 1000));
    T_OK(smt_envelope_write(&b, v, s, &err) == -1);
    T_EQS(err.msg, "Kafka Connect Date type should not have any time fields "
                   "set to non-zero values.");
    smt_obj_set(a, v, "day", 3, smt_val_int(a, SMT_DATE, 86400000LL * 2));
    smt_obj_set(a, v, "i32", 3, smt_val_int(a, SMT_INT64, 1));
    T_OK(smt_envelope_write(&b, v, s, &err) == -1);
    T_EQS(err.msg, "Invalid type for INT32: class java.lang.Long");
    smt_obj_del(v, "i32", 3);
    T_OK(smt_envelope_write(&b, v, s, &err) == -1);
    T_EQS(err.msg, "Conversion error: null value for field that is required "
                   "and has no default value");
    smt_obj_set(a, v, "i32", 3, smt_val_int(a, SMT_INT32, 9));
    b.len = 0;
    T_OK(smt_envelope_write(&b, v, s, &err) == 0);
    T_OK(strstr(b.ptr, "\"day\":2,") != NULL);
    T_OK(strstr(b.ptr, "\"dec\":\"AJY=\"") != NULL); /* 150 = 0x0096 */
    /* decode what we wrote: the same values again */
    root = smt_json_parse(a, b.ptr, b.len, &err);
    x = smt_envelope_decode(a, root, &s, &err);
    T_OKM(x != NULL, "%s", err.msg);
    if (x != NULL) {
        T_EQB(smt_obj_get(x, "dec", 3)->u.s.ptr, smt_obj_get(x, "dec", 3)->u.s.len,
              "1.50");
        T_EQI(smt_obj_get(x, "i32", 3)->u.i, 9);
    }

    /* errors with Connect's messages */
    root = parse(a, "{\"a\":1}", &err);
    T_OK(smt_envelope_decode(a, root, &s, &err) == NULL);
    T_EQS(err.msg, "JsonConverter with schemas.enable requires \"schema\" and "
                   "\"payload\" fields and may not contain additional fields. "
                   "If you are trying to deserialize plain JSON data, set "
                   "schemas.enable=false in your converter configuration.");
    root = parse(a, "{\"schema\":null,\"payload\":1,\"x\":2}", &err);
    T_OK(smt_envelope_decode(a, root, &s, &err) == NULL);
    root = parse(a, "[1]", &err);
    T_OK(smt_envelope_decode(a, root, &s, &err) == NULL);
    root = parse(a, "{\"schema\":{\"type\":\"struct\",\"fields\":[{\"field\":"
                    "\"a\",\"type\":\"int32\"}]},\"payload\":{\"a\":null}}",
                 &err);
    T_OK(smt_envelope_decode(a, root, &s, &err) == NULL);
    T_EQS(err.msg, "Invalid null value for required INT32 field");
    root = parse(a, "{\"schema\":{\"type\":\"int33\"},\"payload\":1}", &err);
    T_OK(smt_envelope_decode(a, root, &s, &err) == NULL);
    T_EQS(err.msg, "Unknown schema type: int33");
    root = parse(a, "{\"schema\":{\"optional\":true},\"payload\":1}", &err);
    T_OK(smt_envelope_decode(a, root, &s, &err) == NULL);
    T_EQS(err.msg, "Schema must contain 'type' field");
    root = parse(a, "{\"schema\":{\"type\":\"array\"},\"payload\":[]}", &err);
    T_OK(smt_envelope_decode(a, root, &s, &err) == NULL);
    T_EQS(err.msg, "Array schema did not specify the element type");
    root = parse(a, "{\"schema\":{\"type\":\"struct\"},\"payload\":{}}", &err);
    T_OK(smt_envelope_decode(a, root, &s, &err) == NULL);
    T_EQS(err.msg, "Struct schema's \"fields\" argument is not an array.");
    root = parse(a, "{\"schema\":{\"type\":\"struct\",\"fields\":[]},"
                    "\"payload\":[]}", &err);
    T_OK(smt_envelope_decode(a, root, &s, &err) == NULL);
    T_EQS(err.msg, "Structs should be encoded as JSON objects, but found ARRAY");
    root = parse(a, "{\"schema\":{\"type\":\"bytes\"},\"payload\":\"!!\"}",
                 &err);
    T_OK(smt_envelope_decode(a, root, &s, &err) == NULL);
    T_EQS(err.msg, "Invalid bytes field");
    root = parse(a, "{\"schema\":{\"type\":\"int32\",\"name\":\"org.apache."
                    "kafka.connect.data.Date\"},\"payload\":\"x\"}", &err);
    T_OK(smt_envelope_decode(a, root, &s, &err) == NULL);
    T_EQS(err.msg, "Invalid type for Date, underlying representation should "
                   "be integer but was STRING");
    root = parse(a, "{\"schema\":{\"type\":\"string\",\"parameters\":{\"a\":1}},"
                    "\"payload\":\"x\"}", &err);
    T_OK(smt_envelope_decode(a, root, &s, &err) == NULL);
    T_EQS(err.msg, "Schema parameters must have string values.");

    /* schemaless and optional-null envelopes */
    root = parse(a, "{\"payload\":{\"a\":[1]},\"schema\":null}", &err);
    v = smt_envelope_decode(a, root, &s, &err);
    T_OK(v != NULL && s == NULL && v->type == SMT_OBJECT);
    b.len = 0;
    T_OK(smt_envelope_write(&b, v, NULL, &err) == 0);
    T_EQS(b.ptr, "{\"schema\":null,\"payload\":{\"a\":[1]}}");
    root = parse(a, "{\"schema\":{\"type\":\"string\",\"optional\":true},"
                    "\"payload\":null}", &err);
    v = smt_envelope_decode(a, root, &s, &err);
    T_OK(v != NULL && v->type == SMT_NULL && s != NULL && s->optional);
    b.len = 0;
    smt_schema_write_json(&b, s);
    T_EQS(b.ptr, "{\"type\":\"string\",\"optional\":true}");
out:
    smt_buf_fini(&b);
    smt_arena_free(a);
}

/* The writer never emits invalid UTF-8 (strings made from headers, topics
 * or Lua may hold any bytes): valid sequences pass through, each invalid
 * byte becomes U+FFFD, and the output parses again. */
static void test_write_utf8(void)
{
    static const struct {
        const char *in;
        size_t      len;
        const char *out;
    } t[] = {
        {"abc", 3, "\"abc\""},
        {"\xc3\xa9", 2, "\"\xc3\xa9\""},
        {"\xff", 1, "\"\\ufffd\""},
        {"a\xff" "b", 3, "\"a\\ufffdb\""},
        {"\xc3", 1, "\"\\ufffd\""},
        {"\xed\xa0\x80", 3, "\"\\ufffd\\ufffd\\ufffd\""}, /* surrogate */
        {"0123456789abcdef\xf0\x9f\x98\x80z", 21,
         "\"0123456789abcdef\xf0\x9f\x98\x80z\""},
        {"0123456789abcdef\x80tail", 21, "\"0123456789abcdef\\ufffdtail\""},
    };
    struct smt_arena a;
    struct smt_err   err;
    size_t           i;

    smt_arena_init(&a, 4096);
    for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        struct smt_val  *v = smt_val_str(&a, SMT_STRING, t[i].in, t[i].len);
        struct smt_bytes out;

        T_EQI(smt_json_write_arena(&a, v, &out, &err), 0);
        T_EQB(out.ptr, out.len, t[i].out);
        T_OK(smt_json_parse(&a, out.ptr, out.len, &err) != NULL);
    }
    smt_arena_fini(&a);
}

int main(void)
{
    test_suite();
    test_round_trip();
    test_errors();
    test_values();
    test_numbers();
    test_java_format();
    test_java_format_fast();
    test_parse_fast();
    test_plain_keys();
    test_base64();
    test_envelope();
    test_write_utf8();
    return t_done("test_json");
}

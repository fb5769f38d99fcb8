/*
 * test_val.c - value tree, objects, deep copy/equality and field paths.
 */
#include "smt.h"
#include "t.h"

static void test_paths(void)
{
    struct smt_path p;
    struct smt_err  err;

    T_EQI(smt_path_parse(&p, "a.b", SMT_PATH_V1, &err), 0);
    T_EQI(p.n, 1);
    T_EQB(p.seg[0].ptr, p.seg[0].len, "a.b");
    smt_path_fini(&p);

    T_EQI(smt_path_parse(&p, "a.b.c", SMT_PATH_V2, &err), 0);
    T_EQI(p.n, 3);
    T_EQB(p.seg[0].ptr, p.seg[0].len, "a");
    T_EQB(p.seg[2].ptr, p.seg[2].len, "c");
    smt_path_fini(&p);

    T_EQI(smt_path_parse(&p, "`a.b`.c", SMT_PATH_V2, &err), 0);
    T_EQI(p.n, 2);
    T_EQB(p.seg[0].ptr, p.seg[0].len, "a.b");
    T_EQB(p.seg[1].ptr, p.seg[1].len, "c");
    smt_path_fini(&p);

    T_EQI(smt_path_parse(&p, "x.`it``s`", SMT_PATH_V2, &err), 0);
    T_EQI(p.n, 2);
    T_EQB(p.seg[1].ptr, p.seg[1].len, "it`s");
    smt_path_fini(&p);

    T_EQI(smt_path_parse(&p, "``", SMT_PATH_V2, &err), 0);
    T_EQI(p.n, 1);
    T_EQI(p.seg[0].len, 0);
    smt_path_fini(&p);

    T_EQI(smt_path_parse(&p, "a..b", SMT_PATH_V2, &err), -1);
    T_EQI(err.code, SMT_E_CONFIG);
    T_EQI(smt_path_parse(&p, "a.", SMT_PATH_V2, &err), -1);
    T_EQI(smt_path_parse(&p, ".a", SMT_PATH_V2, &err), -1);
    T_EQI(smt_path_parse(&p, "`a", SMT_PATH_V2, &err), -1);
    T_OK(strstr(err.msg, "unbalanced backtick") != NULL);
    T_EQI(smt_path_parse(&p, "`a`b", SMT_PATH_V2, &err), -1);
    T_EQI(smt_path_parse(&p, "", SMT_PATH_V2, &err), -1);
}

static void test_objects(void)
{
    struct smt_arena a;
    struct smt_val  *o, *inner, *v, *c;
    struct smt_path  p;
    struct smt_err   err;

    smt_arena_init(&a, 4096);
    o = smt_val_object(&a, 0);
    inner = smt_val_object(&a, 1);
    smt_obj_set(&a, inner, "email", 5, smt_val_str(&a, SMT_STRING, "x@y", 3));
    smt_obj_set(&a, o, "op", 2, inner);
    smt_obj_set(&a, o, "n", 1, smt_val_int(&a, SMT_INT64, 7));
    T_EQI(o->n, 2);
    T_EQI(smt_obj_index(o, "n", 1), 1);
    smt_obj_set(&a, o, "n", 1, smt_val_int(&a, SMT_INT32, 8));
    T_EQI(o->n, 2);
    T_EQI(smt_obj_get(o, "n", 1)->type, SMT_INT32);
    /* grow past the initial capacity */
    smt_obj_set(&a, inner, "a", 1, smt_val_null(&a));
    smt_obj_set(&a, inner, "b", 1, smt_val_bool(&a, 1));
    T_EQI(inner->n, 3);

    T_EQI(smt_path_parse(&p, "op.email", SMT_PATH_V2, &err), 0);
    v = smt_path_get(o, &p);
    T_OK(v != NULL && v->type == SMT_STRING);
    c = smt_val_clone(&a, o);
    T_OK(smt_val_equal(o, c));
    /* change the copy only */
    o->raw = "{}";
    inner->raw = "{}";
    T_OK(smt_path_parent_mut(&a, c, &p, 0) != NULL);
    smt_obj_set(&a, smt_path_parent_mut(&a, c, &p, 0), "email", 5,
                smt_val_str(&a, SMT_STRING, "", 0));
    T_OK(!smt_val_equal(o, c));
    T_OK(o->raw != NULL && inner->raw != NULL); /* original untouched */
    T_OK(c->raw == NULL);
    smt_path_fini(&p);

    /* a missing intermediate: no change without create, created with */
    T_EQI(smt_path_parse(&p, "x.y", SMT_PATH_V2, &err), 0);
    c->raw = "{}";
    T_OK(smt_path_parent_mut(&a, c, &p, 0) == NULL);
    T_OK(c->raw != NULL);
    T_OK(smt_path_parent_mut(&a, c, &p, 1) != NULL);
    T_OK(smt_obj_get(c, "x", 1) != NULL);
    smt_path_fini(&p);

    /* a non-object intermediate stops the walk */
    T_EQI(smt_path_parse(&p, "n.y", SMT_PATH_V2, &err), 0);
    T_OK(smt_path_get(o, &p) == NULL);
    T_OK(smt_path_parent_mut(&a, o, &p, 1) == NULL);
    smt_path_fini(&p);

    T_OK(smt_obj_del(o, "n", 1) != NULL);
    T_EQI(o->n, 1);
    T_OK(smt_obj_del(o, "n", 1) == NULL);

    /* equality: member order does not matter, types do */
    {
        struct smt_val *x = smt_val_object(&a, 2), *y = smt_val_object(&a, 2);

        smt_obj_set(&a, x, "a", 1, smt_val_int(&a, SMT_INT64, 1));
        smt_obj_set(&a, x, "b", 1, smt_val_int(&a, SMT_INT64, 2));
        smt_obj_set(&a, y, "b", 1, smt_val_int(&a, SMT_INT64, 2));
        smt_obj_set(&a, y, "a", 1, smt_val_int(&a, SMT_INT64, 1));
        T_OK(smt_val_equal(x, y));
        smt_obj_set(&a, y, "a", 1, smt_val_int(&a, SMT_INT32, 1));
        T_OK(!smt_val_equal(x, y));
    }
    {
        struct smt_val *arr = smt_val_array(&a, 0);
        int             i;

        for (i = 0; i < 10; i++) {
            smt_arr_push(&a, arr, smt_val_int(&a, SMT_INT64, i));
        }
        T_EQI(arr->n, 10);
        T_EQI(arr->u.items[9]->u.i, 9);
    }
    T_EQS(smt_val_java_class(NULL), "null");
    T_EQS(smt_val_java_class(smt_val_int(&a, SMT_INT32, 1)),
          "java.lang.Integer");
    T_EQS(smt_type_name(SMT_FLOAT32), "FLOAT32");
    T_EQI((long long)smt_val_as_double(smt_val_float(&a, SMT_FLOAT32, 1.5)),
          1);
    smt_arena_fini(&a);
}

/* smt_val_fork copies every container and shares the scalars: changing
 * the copy through the container API leaves the original as it was. */
static void test_fork(void)
{
    struct smt_arena a;
    struct smt_val  *o, *inner, *arr, *nested, *f, *fi, *fa, *s;
    struct smt_path  p;
    struct smt_err   err;

    smt_arena_init(&a, 4096);
    o = smt_val_object(&a, 2);
    inner = smt_val_object(&a, 2);
    arr = smt_val_array(&a, 2);
    nested = smt_val_object(&a, 1);
    s = smt_val_str(&a, SMT_STRING, "x", 1);
    smt_obj_set(&a, inner, "email", 5, s);
    smt_obj_set(&a, o, "op", 2, inner);
    smt_obj_set(&a, nested, "k", 1, smt_val_int(&a, SMT_INT64, 1));
    smt_arr_push(&a, arr, nested);
    smt_arr_push(&a, arr, smt_val_bool(&a, 1));
    smt_obj_set(&a, o, "list", 4, arr);
    o->raw = "{...}";
    inner->raw = "{...}";
    nested->raw = "{...}";

    f = smt_val_fork(&a, o);
    T_OK(f != o && smt_val_equal(f, o));
    T_OK(f->raw == o->raw); /* raw views kept */
    fi = smt_obj_get(f, "op", 2);
    fa = smt_obj_get(f, "list", 4);
    T_OK(fi != inner && fa != arr && fa->u.items[0] != nested);
    T_OK(smt_obj_get(fi, "email", 5) == s); /* scalars shared */
    T_OK(fa->u.items[1] == arr->u.items[1]);
    T_EQI(fi->cap >= fi->n, 1);

    /* change the fork every way transforms do */
    T_EQI(smt_path_parse(&p, "op.email", SMT_PATH_V2, &err), 0);
    smt_path_parent_mut(&a, f, &p, 0)->u.members[0].val =
        smt_val_str(&a, SMT_STRING, "", 0);
    smt_obj_set(&a, fi, "added", 5, smt_val_null(&a));
    smt_obj_set(&a, fi, "more", 4, smt_val_null(&a)); /* past the spares */
    smt_obj_set(&a, fi, "evenmore", 8, smt_val_null(&a));
    smt_obj_del(f, "list", 4);
    smt_obj_set(&a, fa->u.items[0], "k", 1, smt_val_int(&a, SMT_INT64, 2));
    smt_arr_push(&a, fa, smt_val_null(&a));
    smt_path_fini(&p);

    T_OK(f->raw == NULL && fi->raw == NULL);
    T_EQI(o->n, 2);
    T_EQI(inner->n, 1);
    T_OK(smt_obj_get(inner, "email", 5) == s);
    T_EQB(s->u.s.ptr, s->u.s.len, "x");
    T_EQI(arr->n, 2);
    T_EQI(smt_obj_get(nested, "k", 1)->u.i, 1);
    T_OK(o->raw != NULL && inner->raw != NULL && nested->raw != NULL);
    T_EQI(smt_obj_get(fi, "evenmore", 8) != NULL, 1);
    T_OK(smt_val_fork(&a, NULL) == NULL);
    f = smt_val_fork(&a, s); /* a scalar root is copied too */
    T_OK(f != s && smt_val_equal(f, s));
    smt_arena_fini(&a);
}

/* lookups compare names of every length exactly (the short ones with
 * overlapping word loads) */
static void test_lookup_lengths(void)
{
    struct smt_arena a;
    struct smt_val  *o;
    char             names[24][24], probe[24];
    size_t           len, i, j;

    smt_arena_init(&a, 4096);
    o = smt_val_object(&a, 0);
    for (len = 0; len < 24; len++) {
        for (i = 0; i < len; i++) {
            names[len][i] = (char)('a' + (i * 7 + len) % 26);
        }
        names[len][len] = '\0';
        smt_obj_set(&a, o, names[len], len, smt_val_int(&a, SMT_INT64,
                                                        (int64_t)len));
    }
    for (len = 0; len < 24; len++) {
        T_EQI(smt_obj_index(o, names[len], len), (long)len);
        /* one byte different anywhere: not found */
        for (j = 0; j < len; j++) {
            memcpy(probe, names[len], len);
            probe[j] ^= 0x20;
            if (smt_obj_index(o, probe, len) != -1) {
                T_OKM(0, "length %zu, byte %zu", len, j);
            }
        }
    }
    T_EQI(smt_obj_index(o, "zzzzzzzzzzzzzzzzzzzzzzzzz", 25), -1);
    smt_arena_fini(&a);
}

/* smt_path_parent_mut on deep paths (the single walk covers up to nine
 * segments, longer ones take the general walk): raw cleared exactly on the
 * way, nothing changed when a step is missing */
static void test_deep_parent(void)
{
    struct smt_arena a;
    struct smt_val  *root, *v, *chain[12];
    struct smt_path  p;
    struct smt_err   err;
    const char      *texts[] = {"a.a.a.a.a.a.a.a.x", "a.a.a.a.a.a.a.a.a.a.x",
                                "a.a.a.a.b.x"};
    int              i, t;

    smt_arena_init(&a, 4096);
    root = smt_val_object(&a, 1);
    v = root;
    for (i = 0; i < 12; i++) {
        chain[i] = smt_val_object(&a, 1);
        smt_obj_set(&a, v, "a", 1, chain[i]);
        v = chain[i];
    }
    for (t = 0; t < 3; t++) {
        root->raw = "{}";
        for (i = 0; i < 12; i++) {
            chain[i]->raw = "{}";
        }
        T_EQI(smt_path_parse(&p, texts[t], SMT_PATH_V2, &err), 0);
        v = smt_path_parent_mut(&a, root, &p, 0);
        if (t < 2) {
            T_OK(v == chain[p.n - 2]);
            T_OK(root->raw == NULL);
            for (i = 0; i < 12; i++) {
                T_OK((chain[i]->raw == NULL) == (i < (int)p.n - 1));
            }
        } else {
            T_OK(v == NULL);
            T_OK(root->raw != NULL && chain[0]->raw != NULL);
        }
        smt_path_fini(&p);
    }
    smt_arena_fini(&a);
}

/* Decimal <-> unscaled bytes (BigInteger.toByteArray()), both ways. */
static void test_decimal_unscaled(void)
{
    static const struct {
        const char   *text;
        int           scale;
        unsigned char bytes[4];
        size_t        n;
    } c[] = {
        {"0", 0, {0x00}, 1},         {"1.27", 2, {0x7F}, 1},
        {"1.28", 2, {0x00, 0x80}, 2}, {"-1.28", 2, {0x80}, 1},
        {"-1.29", 2, {0xFF, 0x7F}, 2}, {"0.05", 2, {0x05}, 1},
        {"-0.001", 3, {0xFF}, 1},    {"65536", 0, {0x01, 0x00, 0x00}, 3},
    };
    struct smt_arena a;
    struct smt_err   err;
    unsigned char    out[16];
    size_t           i;
    long             n;
    struct smt_val  *v;

    smt_arena_init(&a, 1024);
    for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
        v = smt_decimal_from_unscaled(&a, c[i].bytes, c[i].n, c[i].scale);
        T_EQI(v->type, SMT_DECIMAL);
        T_EQB(v->u.s.ptr, v->u.s.len, c[i].text);
        n = smt_decimal_to_unscaled(smt_bytes_str(c[i].text), c[i].scale,
                                    out, sizeof(out), &err);
        T_EQI(n, (long)c[i].n);
        T_OK(n > 0 && memcmp(out, c[i].bytes, (size_t)n) == 0);
    }
    /* a negative scale appends zeros; no bytes read as 0 */
    v = smt_decimal_from_unscaled(&a, (const unsigned char *)"\x0c", 1, -2);
    T_EQB(v->u.s.ptr, v->u.s.len, "1200");
    v = smt_decimal_from_unscaled(&a, NULL, 0, 1);
    T_EQB(v->u.s.ptr, v->u.s.len, "0.0");
    /* errors */
    T_EQI(smt_decimal_to_unscaled(smt_bytes_str("1.5"), 2, out, sizeof(out),
                                  &err), -1);
    T_OK(strstr(err.msg, "mismatching scale") != NULL);
    T_EQI(smt_decimal_to_unscaled(smt_bytes_str("1.x5"), 2, out, sizeof(out),
                                  &err), -1);
    T_OK(strstr(err.msg, "invalid decimal value '1.x5'") != NULL);
    T_EQI(smt_decimal_to_unscaled(smt_bytes_str("-"), 0, out, sizeof(out),
                                  &err), -1);
    T_EQI(smt_decimal_to_unscaled(smt_bytes_str("123456789012345678901234567890"),
                                  0, out, 4, &err), -1);
    T_EQI(err.code, SMT_E_LIMIT);
    smt_arena_fini(&a);
}

int main(void)
{
    test_paths();
    test_objects();
    test_fork();
    test_lookup_lengths();
    test_deep_parent();
    test_decimal_unscaled();
    return t_done("test_val");
}

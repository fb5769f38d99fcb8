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

int main(void)
{
    test_paths();
    test_objects();
    return t_done("test_val");
}

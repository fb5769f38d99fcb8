/*
 * test_values.c - Values.parseString type inference and the text
 * SimpleHeaderConverter writes back (reference section 2.2 table).
 */
#include "values.h"
#include "t.h"

static struct smt_arena A;

static int type_of(const char *s)
{
    return smt_values_parse(&A, s, strlen(s))->type;
}

/* The normalised header text, or "<null>". */
static const char *norm(const char *s)
{
    static char      out[256];
    struct smt_bytes r;

    smt_values_normalize(&A, smt_bytes_str(s), &r);
    if (r.ptr == NULL) {
        return "<null>";
    }
    snprintf(out, sizeof(out), "%.*s", (int)r.len, r.ptr);
    return out;
}

static void test_types(void)
{
    struct smt_val *v;

    T_EQI(type_of("inserted-value"), SMT_STRING);
    T_EQI(type_of(""), SMT_STRING);
    T_EQI(type_of("true"), SMT_BOOL);
    T_EQI(type_of(" false "), SMT_BOOL);
    T_EQI(type_of("null"), SMT_NULL);
    T_EQI(type_of("1"), SMT_INT8);
    T_EQI(type_of("-5"), SMT_INT8);
    T_EQI(type_of("+5"), SMT_INT8);
    T_EQI(type_of("1.0"), SMT_INT8);
    T_EQI(type_of("300"), SMT_INT16);
    T_EQI(type_of("300.0"), SMT_INT16);
    T_EQI(type_of("66000"), SMT_INT32);
    T_EQI(type_of("9223372036854775807"), SMT_INT64);
    T_EQI(type_of("-9223372036854775808"), SMT_INT64);
    T_EQI(type_of("9223372036854775808"), SMT_DECIMAL);
    T_EQI(type_of("1.1"), SMT_FLOAT32);
    T_EQI(type_of("1e400"), SMT_DECIMAL);
    T_EQI(type_of("1.5e300"), SMT_DECIMAL); /* integral */
    T_EQI(type_of("340282356779733661637539395458142568448.5"), SMT_FLOAT64);
    T_EQI(type_of("2019-08-23"), SMT_DATE);
    T_EQI(type_of("14:34:54.346Z"), SMT_DATE);
    T_EQI(type_of("2019-08-23T14:34:54.346Z"), SMT_DATE);
    T_EQI(type_of("[true, false]"), SMT_ARRAY);
    T_EQI(type_of("[null]"), SMT_ARRAY);
    T_EQI(type_of("[1, null]"), SMT_STRING);
    T_EQI(type_of("[0 1 2]"), SMT_STRING);
    T_EQI(type_of("{6:9 4:20}"), SMT_STRING);
    T_EQI(type_of("[1, 2, 3,,,]"), SMT_STRING);
    T_EQI(type_of("{true: false}"), SMT_OBJECT);
    T_EQI(type_of("true story"), SMT_STRING);
    T_EQI(type_of("1,2"), SMT_STRING);
    T_EQI(type_of("12abc"), SMT_STRING);
    T_EQI(type_of("-"), SMT_STRING);
    v = smt_values_parse(&A, "2019-08-23T14:34:54.346Z", 24);
    T_EQI(v->u.i, 1566570894346LL);
    v = smt_values_parse(&A, "14:34:54.346Z", 13);
    T_EQI(v->u.i, 52494346);
    v = smt_values_parse(&A, "-300", 4);
    T_EQI(v->u.i, -300);
}

static void test_text(void)
{
    T_EQS(norm("inserted-value"), "inserted-value");
    T_EQS(norm(""), "");
    T_EQS(norm("null"), "<null>");
    T_EQS(norm("+5"), "5");
    T_EQS(norm("007"), "7");
    T_EQS(norm("1.0"), "1");
    T_EQS(norm("300.0"), "300");
    T_EQS(norm("1.1"), "1.1");
    T_EQS(norm("300.01"), "300.01");
    T_EQS(norm("3.14159265358979"), "3.1415927");
    T_EQS(norm("9223372036854775808"), "9223372036854775808");
    T_EQS(norm("1e3"), "1000");
    T_EQS(norm("2019-08-23"), "2019-08-23");
    T_EQS(norm("14:34:54.346Z"), "14:34:54.346Z");
    T_EQS(norm("2019-08-23T14:34:54.346Z"), "2019-08-23T14:34:54.346Z");
    T_EQS(norm("[true, false]"), "[true,false]");
    T_EQS(norm("[1, 2, 3]"), "[1,2,3]");
    T_EQS(norm("[1, 300]"), "[1,300]");
    T_EQS(norm("[null]"), "[null]");
    T_EQS(norm("[]"), "[]");
    T_EQS(norm("[1, null]"), "[1, null]");
    T_EQS(norm("{6:9 4:20}"), "{6:9 4:20}");
    T_EQS(norm("{true: false}"), "{true:false}");
    T_EQS(norm("{\"a\": 1, \"b\": 2}"), "{\"a\":1,\"b\":2}");
    T_EQS(norm("[\"x,y\", \"q\\\"\"]"), "[\"x,y\",\"q\\\"\"]");
    T_EQS(norm("[[1, 2], [3]]"), "[[1,2],[3]]");
    T_EQS(norm("[a, b]"), "[a, b]");
}

int main(void)
{
    smt_arena_init(&A, 4096);
    test_types();
    test_text();
    smt_arena_fini(&A);
    return t_done("test_values");
}

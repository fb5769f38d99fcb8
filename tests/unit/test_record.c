/*
 * test_record.c - lazy decoding shared by forks, copy on change, encoding
 * once, byte-exact forwarding of untouched sides, and headers.
 */
#include "smt.h"
#include "t.h"

static const char value_json[] =
    "{\"type\": \"status\",  \"op\": {\"email\" : \"a@b\", \"n\": 1},"
    " \"list\": [1, 2,  3]}";

static void test_lazy_and_shared(void)
{
    struct smt_arena        a;
    struct smt_record       in, r1, r2;
    struct smt_err          err;
    const struct smt_val   *d1, *d2;
    struct smt_val         *m;
    struct smt_path         p;

    smt_arena_init(&a, 4096);
    smt_record_init(&in, &a, SMT_FMT_JSON, SMT_FMT_JSON);
    in.topic = SMT_BYTES_LIT("t");
    in.value.raw.ptr = value_json;
    in.value.raw.len = sizeof(value_json) - 1;
    in.key.raw = SMT_BYTES_LIT("\"k\"");

    smt_record_fork(&r1, &in);
    smt_record_fork(&r2, &in);
    T_EQI(in.value.state, SMT_DS_RAW);
    d1 = smt_record_doc(&r1, SMT_VALUE, &err);
    T_OK(d1 != NULL);
    /* decoded once, into the input record, shared by the other fork */
    T_EQI(in.value.state, SMT_DS_SHARED);
    d2 = smt_record_doc(&r2, SMT_VALUE, &err);
    T_OK(d1 == d2);

    /* r1 changes the value: it gets its own copy, r2 and in keep theirs */
    m = smt_record_doc_mut(&r1, SMT_VALUE, &err);
    T_OK(m != NULL && m != d1);
    T_EQI(r1.value.state, SMT_DS_DIRTY);
    T_EQI(smt_path_parse(&p, "op.email", SMT_PATH_V2, &err), 0);
    smt_obj_set(&a, smt_path_parent_mut(&a, m, &p, 0), "email", 5,
                smt_val_str(&a, SMT_STRING, "", 0));
    smt_path_fini(&p);
    T_EQI(smt_record_encode(&r1, &err), 0);
    /* the changed object is rewritten; untouched siblings keep their bytes
     * (note the two spaces inside the list) */
    T_EQB(r1.value.raw.ptr, r1.value.raw.len,
          "{\"type\":\"status\",\"op\":{\"email\":\"\",\"n\":1},"
          "\"list\":[1, 2,  3]}");
    T_EQI(smt_record_encode(&r2, &err), 0);
    T_OK(r2.value.raw.ptr == value_json); /* untouched: same bytes */
    T_OK(smt_val_equal(smt_record_doc(&r2, SMT_VALUE, &err), d1));

    /* the key was never decoded */
    T_EQI(in.key.state, SMT_DS_RAW);
    smt_arena_fini(&a);
}

static void test_decode_errors(void)
{
    struct smt_arena  a;
    struct smt_record in, r;
    struct smt_err    err;

    smt_arena_init(&a, 4096);
    smt_record_init(&in, &a, SMT_FMT_JSON, SMT_FMT_JSON);
    in.value.raw = SMT_BYTES_LIT("{\"a\":");
    in.key.raw = SMT_BYTES_LIT("not json");
    smt_record_fork(&r, &in);
    smt_err_clear(&err);
    T_OK(smt_record_doc(&r, SMT_VALUE, &err) == NULL);
    T_EQI(err.stage, SMT_STAGE_VALUE_CONVERTER);
    T_EQI(err.code, SMT_E_DATA);
    smt_err_clear(&err);
    T_OK(smt_record_doc_mut(&r, SMT_KEY, &err) == NULL);
    T_EQI(err.stage, SMT_STAGE_KEY_CONVERTER);

    /* a tombstone decodes to a NULL node and encodes back to null */
    smt_record_init(&in, &a, SMT_FMT_JSON, SMT_FMT_JSON);
    T_OK(smt_record_doc(&in, SMT_VALUE, &err) != NULL);
    T_EQI(smt_record_doc(&in, SMT_VALUE, &err)->type, SMT_NULL);
    smt_record_set_doc(&in, SMT_VALUE, NULL, NULL);
    T_EQI(smt_record_encode(&in, &err), 0);
    T_OK(in.value.raw.ptr == NULL);

    /* string and bytes formats */
    smt_record_init(&in, &a, SMT_FMT_STRING, SMT_FMT_BYTES);
    in.key.raw = SMT_BYTES_LIT("plain key");
    in.value.raw = SMT_BYTES_LIT("\x01\x02");
    T_EQI(smt_record_doc(&in, SMT_KEY, &err)->type, SMT_STRING);
    T_EQI(smt_record_doc(&in, SMT_VALUE, &err)->type, SMT_BYTES);
    smt_arena_fini(&a);
}

static void test_headers(void)
{
    struct smt_arena         a;
    struct smt_record        in, r;
    const struct smt_header *h;

    smt_arena_init(&a, 4096);
    smt_record_init(&in, &a, SMT_FMT_JSON, SMT_FMT_JSON);
    smt_record_header_add(&in, SMT_BYTES_LIT("a"), SMT_BYTES_LIT("1"));
    smt_record_header_add(&in, SMT_BYTES_LIT("b"), SMT_BYTES_NULL);
    smt_record_header_add(&in, SMT_BYTES_LIT("a"), SMT_BYTES_LIT("2"));
    smt_record_fork(&r, &in);
    h = smt_record_header_last(&r, SMT_BYTES_LIT("a"));
    T_OK(h != NULL);
    T_EQB(h->value.ptr, h->value.len, "2");
    T_EQI(smt_record_header_del(&r, SMT_BYTES_LIT("a")), 2);
    T_EQI(r.nhdrs, 1);
    T_OK(r.hdrs[0].value.ptr == NULL);
    /* the fork's changes do not reach the input */
    T_EQI(in.nhdrs, 3);
    smt_record_header_add(&r, SMT_BYTES_LIT("c"), SMT_BYTES_LIT("3"));
    T_EQI(r.nhdrs, 2);
    T_EQB(in.hdrs[1].name.ptr, in.hdrs[1].name.len, "b");
    T_OK(smt_record_header_last(&r, SMT_BYTES_LIT("zz")) == NULL);
    smt_arena_fini(&a);
}

int main(void)
{
    test_lazy_and_shared();
    test_decode_errors();
    test_headers();
    return t_done("test_record");
}

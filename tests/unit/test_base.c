/*
 * test_base.c - arena, error object and buffers.
 */
#include "smt.h"
#include "t.h"

#include <stdint.h>

static void test_arena(void)
{
    struct smt_arena a;
    char            *p, *big;
    size_t           i;
    void            *first;

    smt_arena_init(&a, 1024);
    p = smt_arena_alloc(&a, 1);
    T_OK(p != NULL);
    T_EQI((uintptr_t)p % 8, 0);
    p = smt_arena_alloc(&a, 13);
    T_EQI((uintptr_t)p % 8, 0);
    memset(p, 'x', 13);
    /* Spill over several chunks and an oversized block. */
    for (i = 0; i < 1000; i++) {
        p = smt_arena_alloc(&a, 24);
        memset(p, (int)i, 24);
    }
    big = smt_arena_alloc(&a, 100000);
    memset(big, 1, 100000);
    T_OK(a.used >= 100000 + 24000);
    smt_arena_reset(&a);
    T_EQI(a.used, 0);
    T_OK(a.peak >= 124000);
    /* After a reset the first chunk is reused: no new malloc for small
     * allocations, the same address comes back. */
    first = smt_arena_alloc(&a, 8);
    smt_arena_reset(&a);
    T_OK(smt_arena_alloc(&a, 8) == first);
    p = smt_arena_memdup(&a, "hello", 5);
    T_EQS(p, "hello");
    {
        struct smt_bytes b = smt_arena_printf(&a, "%d-%s", 42, "x");

        T_EQB(b.ptr, b.len, "42-x");
        /* longer than the small stack buffer */
        b = smt_arena_printf(&a, "%0300d", 7);
        T_EQI(b.len, 300);
        T_OK(b.ptr[299] == '7' && b.ptr[0] == '0');
    }
    {
        int *arr = smt_arena_alloc(&a, 2 * sizeof(int));

        arr[0] = 1;
        arr[1] = 2;
        arr = smt_arena_grow(&a, arr, 2, 8, sizeof(int));
        T_EQI(arr[0], 1);
        T_EQI(arr[1], 2);
    }
    smt_arena_fini(&a);

    /* An arena whose only chunk is an oversized one drops it on reset. */
    smt_arena_init(&a, 1024);
    big = smt_arena_alloc(&a, 5000);
    T_OK(big != NULL);
    smt_arena_reset(&a);
    T_OK(a.chunks == NULL);
    p = smt_arena_alloc(&a, 16);
    T_OK(p != NULL);
    smt_arena_fini(&a);
}

static void test_err(void)
{
    struct smt_err err;
    char           longtext[400];

    smt_err_clear(&err);
    T_EQI(smt_err_set(&err, SMT_E_DATA, "field '%s': bad", "a"), -1);
    T_EQS(err.msg, "field 'a': bad");
    T_EQI(err.code, SMT_E_DATA);
    smt_err_prefix(&err, "step '%s': ", "mask");
    T_EQS(err.msg, "step 'mask': field 'a': bad");
    T_EQS(smt_err_class(SMT_E_DATA),
          "org.apache.kafka.connect.errors.DataException");
    T_EQS(smt_err_class(SMT_E_CONFIG),
          "org.apache.kafka.common.config.ConfigException");
    T_EQS(smt_stage_name(SMT_STAGE_TRANSFORMATION), "TRANSFORMATION");
    T_EQS(smt_stage_name(SMT_STAGE_VALUE_CONVERTER), "VALUE_CONVERTER");
    T_EQS(smt_stage_name(99), "");
    /* Truncation never overflows. */
    memset(longtext, 'y', sizeof(longtext) - 1);
    longtext[sizeof(longtext) - 1] = '\0';
    smt_err_set(&err, SMT_E_DATA, "%s", longtext);
    T_EQI(strlen(err.msg), sizeof(err.msg) - 1);
    smt_err_prefix(&err, "%s", longtext);
    T_EQI(strlen(err.msg), sizeof(err.msg) - 1);
    T_EQI(smt_err_set(NULL, SMT_E_DATA, "x"), -1);
}

static void test_buf(void)
{
    struct smt_buf b;
    int            i;

    smt_buf_init(&b);
    smt_buf_adds(&b, "ab");
    smt_buf_addc(&b, 'c');
    smt_buf_printf(&b, "%d", 123);
    T_EQS(b.ptr, "abc123");
    for (i = 0; i < 1000; i++) {
        smt_buf_add(&b, "0123456789", 10);
    }
    T_EQI(b.len, 6 + 10000);
    T_OK(b.ptr[b.len] == '\0');
    smt_buf_fini(&b);
    T_OK(b.ptr == NULL);
}

int main(void)
{
    test_arena();
    test_err();
    test_buf();
    return t_done("test_base");
}

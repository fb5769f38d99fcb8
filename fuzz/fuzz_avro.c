/*
 * fuzz_avro.c - the Avro datum decoder and encoder under libFuzzer, and
 * (built with -DWITH_MAIN) a replay driver for the corpus in `make check`.
 *
 * Arbitrary bytes are decoded against one fixed schema that has every
 * kind of node (records, enums, fixed, arrays, maps, optional and general
 * unions, decimals and the other logical types). Every rejection must say
 * why; whatever decodes must encode, and the encoding is a fixed point:
 * decoding it gives a value that encodes to the same bytes. (The input
 * itself need not come back byte for byte: Avro allows over-long varints
 * and sized blocks, which the encoder writes in their short form.)
 */
#include "avro.h"
#include "json.h"

#include <stdio.h>
#include <stdlib.h>

#define FUZZ_MAX_INPUT 65536

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char fuzz_schema[] =
    "{\"type\":\"record\",\"name\":\"F\",\"namespace\":\"fz\",\"fields\":["
    "{\"name\":\"b\",\"type\":\"boolean\"},"
    "{\"name\":\"i\",\"type\":\"int\"},"
    "{\"name\":\"l\",\"type\":\"long\"},"
    "{\"name\":\"f\",\"type\":\"float\"},"
    "{\"name\":\"d\",\"type\":\"double\"},"
    "{\"name\":\"s\",\"type\":\"string\"},"
    "{\"name\":\"y\",\"type\":\"bytes\"},"
    "{\"name\":\"e\",\"type\":{\"type\":\"enum\",\"name\":\"E\","
    "\"symbols\":[\"A\",\"B\",\"C\"]}},"
    "{\"name\":\"x\",\"type\":{\"type\":\"fixed\",\"name\":\"X\",\"size\":3}},"
    "{\"name\":\"a\",\"type\":{\"type\":\"array\",\"items\":[\"null\","
    "{\"type\":\"record\",\"name\":\"P\",\"fields\":[{\"name\":\"k\","
    "\"type\":\"E\"},{\"name\":\"v\",\"type\":{\"type\":\"map\","
    "\"values\":\"long\"}}]}]}},"
    "{\"name\":\"u\",\"type\":[\"null\",\"int\",\"string\",\"P\","
    "{\"type\":\"array\",\"items\":\"double\"}]},"
    "{\"name\":\"z\",\"type\":{\"type\":\"array\",\"items\":{\"type\":"
    "\"record\",\"name\":\"Z\",\"fields\":[]}}},"
    "{\"name\":\"dec\",\"type\":{\"type\":\"bytes\",\"logicalType\":"
    "\"decimal\",\"precision\":30,\"scale\":4}},"
    "{\"name\":\"fd\",\"type\":{\"type\":\"fixed\",\"name\":\"FD\",\"size\":5,"
    "\"logicalType\":\"decimal\",\"precision\":12,\"scale\":2}},"
    "{\"name\":\"dt\",\"type\":{\"type\":\"int\",\"logicalType\":\"date\"}},"
    "{\"name\":\"tm\",\"type\":{\"type\":\"int\",\"logicalType\":"
    "\"time-millis\"}},"
    "{\"name\":\"ts\",\"type\":{\"type\":\"long\",\"logicalType\":"
    "\"timestamp-millis\"}},"
    "{\"name\":\"i8\",\"type\":{\"type\":\"int\",\"connect.type\":\"int8\"}}"
    "]}";

static struct smt_avro_schema *fuzz_s;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct smt_arena *a;
    struct smt_err    err;
    struct smt_val   *v, *v2;
    struct smt_buf    b1, b2;

    if (size > FUZZ_MAX_INPUT) {
        size = FUZZ_MAX_INPUT;
    }
    if (fuzz_s == NULL) {
        fuzz_s = smt_avro_schema_new(fuzz_schema, strlen(fuzz_schema), &err);
        if (fuzz_s == NULL) {
            fprintf(stderr, "fuzz_avro: %s\n", err.msg);
            abort();
        }
    }
    a = smt_arena_new(4096);
    smt_err_clear(&err);
    v = smt_avro_datum_decode(fuzz_s, a, (const char *)data, size, &err);
    if (v == NULL) {
        if (err.msg[0] == '\0') {
            abort(); /* a rejection must say why */
        }
        smt_arena_free(a);
        return 0;
    }
    smt_buf_init(&b1);
    smt_buf_init(&b2);
    if (smt_avro_datum_encode(fuzz_s, v, &b1, &err) < 0) {
        fprintf(stderr, "fuzz_avro: decoded but did not encode: %s\n",
                err.msg);
        abort();
    }
    v2 = smt_avro_datum_decode(fuzz_s, a, b1.ptr, b1.len, &err);
    if (v2 == NULL || smt_avro_datum_encode(fuzz_s, v2, &b2, &err) < 0 ||
        b1.len != b2.len || memcmp(b1.ptr, b2.ptr, b1.len) != 0) {
        abort();
    }
    {
        /* the value tree is writable as JSON too (what `apply` prints) */
        struct smt_buf j;

        smt_buf_init(&j);
        (void)smt_json_write(&j, v, &err); /* NaN/Infinity may refuse */
        smt_buf_fini(&j);
    }
    smt_buf_fini(&b1);
    smt_buf_fini(&b2);
    smt_arena_free(a);
    return 0;
}

#ifdef WITH_MAIN
#include "replay.h"

int main(int argc, char **argv)
{
    int rc = fuzz_replay("fuzz_avro", argc, argv, FUZZ_MAX_INPUT + 1);

    smt_avro_schema_free(fuzz_s);
    return rc;
}
#endif

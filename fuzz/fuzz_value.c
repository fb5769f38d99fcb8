/*
 * fuzz_value.c - the record-value JSON parser and serializer under
 * libFuzzer, and (built with -DWITH_MAIN) a replay driver that runs every
 * file of a corpus directory, so `make check` exercises the corpus under
 * ASan/UBSan without libFuzzer.
 *
 * Properties checked for every input that parses: writing the untouched
 * tree gives back the input minus surrounding whitespace (raw copy), and
 * the compact re-encoding of the whole tree is a fixed point (write, parse,
 * write again gives the same bytes). Any violation abort()s.
 */
#include "json.h"

#include <stdio.h>
#include <stdlib.h>

#define FUZZ_MAX_INPUT 65536

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Clears raw on every node, so the writer encodes the whole tree. */
static void fuzz_strip(struct smt_val *v)
{
    uint32_t i;

    v->raw = NULL;
    v->rawlen = 0;
    if (v->type == SMT_ARRAY) {
        for (i = 0; i < v->n; i++) {
            fuzz_strip(v->u.items[i]);
        }
    } else if (v->type == SMT_OBJECT) {
        for (i = 0; i < v->n; i++) {
            fuzz_strip(v->u.members[i].val);
        }
    }
}

static int fuzz_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct smt_arena *a;
    struct smt_err    err;
    struct smt_val   *v, *v2;
    struct smt_buf    b1, b2, b0;
    const char       *p = (const char *)data;
    size_t            s = 0, e;

    if (size > FUZZ_MAX_INPUT) {
        size = FUZZ_MAX_INPUT;
    }
    a = smt_arena_new(4096);
    v = smt_json_parse(a, p, size, &err);
    if (v == NULL) {
        if (err.msg[0] == '\0') {
            abort(); /* a rejection must say why */
        }
        smt_arena_free(a);
        return 0;
    }
    smt_buf_init(&b0);
    smt_buf_init(&b1);
    smt_buf_init(&b2);
    /* untouched: the input's own text */
    e = size;
    while (s < e && fuzz_ws(p[s])) {
        s++;
    }
    while (e > s && fuzz_ws(p[e - 1])) {
        e--;
    }
    if (smt_json_write(&b0, v, &err) < 0 || b0.len != e - s ||
        memcmp(b0.ptr, p + s, e - s) != 0) {
        abort();
    }
    /* compact encoding is a fixed point */
    fuzz_strip(v);
    if (smt_json_write(&b1, v, &err) < 0) {
        abort(); /* parsed values are always finite, hence writable */
    }
    {
        /* the arena writer agrees with the buffer writer */
        struct smt_bytes out;
        if (smt_json_write_arena(a, v, &out, &err) < 0 || out.len != b1.len ||
            memcmp(out.ptr, b1.ptr, b1.len) != 0) {
            abort();
        }
    }
    v2 = smt_json_parse(a, b1.ptr, b1.len, &err);
    if (v2 == NULL) {
        abort();
    }
    fuzz_strip(v2);
    if (smt_json_write(&b2, v2, &err) < 0 || b1.len != b2.len ||
        memcmp(b1.ptr, b2.ptr, b1.len) != 0) {
        abort();
    }
    smt_buf_fini(&b0);
    smt_buf_fini(&b1);
    smt_buf_fini(&b2);
    smt_arena_free(a);
    return 0;
}

#ifdef WITH_MAIN
#include "replay.h"

int main(int argc, char **argv)
{
    /* one byte over the cap, so the size guard itself is replayed too */
    return fuzz_replay("fuzz_value", argc, argv, FUZZ_MAX_INPUT + 1);
}
#endif

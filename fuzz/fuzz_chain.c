/*
 * fuzz_chain.c - a fixed pipeline applied to arbitrary records.
 *
 * The input is split into a record: the first byte picks how many headers
 * follow, then length-prefixed parts (topic, key, value, header names and
 * values; a length byte of 255 means null). The pipeline has routes that
 * between them use every transform on key, value, headers and topic, with
 * nested paths and conditions, so malformed JSON, wrong types and odd
 * headers all reach every step. Every outcome must be one of the defined
 * ones; ASan/UBSan catch the rest. Output records must re-decode when
 * their side is JSON and was changed.
 *
 * With -DWITH_MAIN it is a corpus replayer for `make check`:
 * fuzz_chain DIR runs every file of DIR once.
 */
#include "smt.h"

#include <stdio.h>
#include <stdlib.h>

#define FUZZ_CHAIN_MAX 65536

static const char pipeline_yaml[] =
    "name: fuzz\n"
    "input: {topics: [in]}\n"
    "errors: {tolerance: all}\n"
    "predicates:\n"
    "  tomb: {type: RecordIsTombstone}\n"
    "  hasx: {type: HasHeaderKey, name: x}\n"
    "  topic_a: {type: TopicNameMatches, pattern: 'a.*'}\n"
    "routes:\n"
    "  - name: mask\n"
    "    condition: {field: type, equals: command}\n"
    "    transforms:\n"
    "      - {type: MaskField$Value, fields: 'op.email,op.ip,n', "
    "field.syntax.version: V2}\n"
    "      - {type: MaskField$Value, fields: 's', replacement: '***', "
    "predicate: tomb, negate: true}\n"
    "      - {type: InsertHeader, header: h, value.literal: '[1, 2]'}\n"
    "      - {type: ValueToKey, fields: 'id,stage'}\n"
    "      - {type: ExtractField$Key, field: id}\n"
    "  - name: cast\n"
    "    transforms:\n"
    "      - {type: Cast$Value, spec: 'a:int8,b:float32,c:string,d:boolean', "
    "predicate: tomb, negate: true}\n"
    "      - {type: ReplaceField$Value, exclude: 'x', renames: 'a:aa,b:bb', "
    "predicate: tomb, negate: true}\n"
    "      - {type: InsertField$Value, topic.field: t, partition.field: p, "
    "offset.field: o, timestamp.field: ts, static.field: s, static.value: v, "
    "predicate: tomb, negate: true}\n"
    "      - {type: Flatten$Value, delimiter: '_'}\n"
    "      - {type: HoistField$Value, field: wrapped}\n"
    "  - name: headers\n"
    "    transforms:\n"
    "      - {type: HeaderFrom$Value, fields: 'id,op.name', headers: 'id,name', "
    "operation: copy, field.syntax.version: V2, predicate: tomb, negate: true}\n"
    "      - {type: DropHeaders, headers: 'x,y'}\n"
    "      - {type: Filter, predicate: hasx}\n"
    "  - name: topic\n"
    "    transforms:\n"
    "      - {type: RegexRouter, regex: '(a|ab)(.*)', replacement: 'r-$2-$1'}\n"
    "      - {type: TimestampRouter, topic.format: '${topic}-${timestamp}', "
    "timestamp.format: 'yyyy-MM-dd'}\n"
    "      - {type: TimestampConverter$Value, field: ts, target.type: string, "
    "format: \"yyyy-MM-dd'T'HH:mm:ss.SSS\", predicate: tomb, negate: true}\n"
    "  - name: conds\n"
    "    condition:\n"
    "      any:\n"
    "        - {field: r.temp, gt: 80}\n"
    "        - {field: r.status, in: [critical, fatal]}\n"
    "        - {header: src, regex: 'test.*'}\n"
    "        - not: {key: '', exists: true}\n"
    "    transforms:\n"
    "      - {type: Filter, if: {field: drop, equals: true}}\n"
    "    topic: out-conds\n";

static struct smt_pipeline_conf *pc;
static struct smt_pipeline      *pl;

static void setup(void)
{
    struct smt_diags d;
    struct smt_err   err;
    uint32_t         i;

    if (pl != NULL) {
        return;
    }
    smt_diags_init(&d);
    pc = smt_pipeline_conf_load_yaml("fuzz_chain.yaml", pipeline_yaml,
                                     sizeof(pipeline_yaml) - 1, &d);
    if (pc == NULL) {
        for (i = 0; i < d.n; i++) {
            fprintf(stderr, "%s\n", d.msg[i]);
        }
        abort();
    }
    smt_diags_fini(&d);
    pl = smt_pipeline_new(pc, &err);
    if (pl == NULL) {
        fprintf(stderr, "fuzz_chain: %s\n", err.msg);
        abort();
    }
}

/* Takes one length-prefixed part from the input. */
static struct smt_bytes take(const uint8_t **p, const uint8_t *end)
{
    struct smt_bytes b = {"", 0};
    size_t           n;

    if (*p >= end) {
        return b;
    }
    n = **p;
    (*p)++;
    if (n == 255) {
        return SMT_BYTES_NULL;
    }
    if (n > (size_t)(end - *p)) {
        n = (size_t)(end - *p);
    }
    b.ptr = (const char *)*p;
    b.len = n;
    *p += n;
    return b;
}

static void check_output(void *opaque, const struct smt_output *out)
{
    struct smt_err   err;
    struct smt_arena *a = opaque;

    switch (out->outcome) {
    case SMT_OUT_RECORD:
        /* A JSON value we wrote must parse again. */
        if (out->rec->value.raw.ptr != NULL &&
            out->rec->value.raw.ptr != out->in->value.raw.ptr &&
            smt_json_parse(a, out->rec->value.raw.ptr, out->rec->value.raw.len,
                           &err) == NULL) {
            fprintf(stderr, "fuzz_chain: wrote invalid JSON: %.*s (%s)\n",
                    (int)out->rec->value.raw.len, out->rec->value.raw.ptr,
                    err.msg);
            abort();
        }
        if (out->rec->topic.ptr == NULL) {
            abort();
        }
        break;
    case SMT_OUT_FAIL:
        if (out->err == NULL || out->err->msg[0] == '\0' ||
            out->err->stage == SMT_STAGE_NONE) {
            fprintf(stderr, "fuzz_chain: failure without detail (stage %d, route %s, msg \"%s\")\n", out->err ? out->err->stage : -1, out->route ? out->route->name : "-", out->err ? out->err->msg : "");
            abort();
        }
        break;
    case SMT_OUT_DROP:
    case SMT_OUT_UNROUTED:
        break;
    default:
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct smt_arena  arena;
    struct smt_record rec;
    const uint8_t    *p = data, *end = data + size;
    unsigned          nh, i;

    if (size > FUZZ_CHAIN_MAX || size == 0) {
        return 0;
    }
    setup();
    smt_arena_init(&arena, 8192);
    smt_record_init(&rec, &arena, SMT_FMT_JSON, SMT_FMT_JSON);
    nh = *p++ % 8;
    rec.topic = take(&p, end);
    if (rec.topic.ptr == NULL) {
        rec.topic = SMT_BYTES_LIT("in");
    }
    rec.partition = 3;
    rec.offset = 42;
    rec.ts_ms = (int64_t)size * 86400000LL + 1234;
    rec.key.raw = take(&p, end);
    for (i = 0; i < nh; i++) {
        struct smt_bytes name = take(&p, end), value = take(&p, end);

        if (name.ptr == NULL) {
            name.ptr = "";
        }
        smt_record_header_add(&rec, name, value);
    }
    /* The rest is the value (unless the marker says null). */
    if (p < end && *p == 255) {
        rec.value.raw = SMT_BYTES_NULL;
    } else {
        rec.value.raw.ptr = (const char *)p;
        rec.value.raw.len = (size_t)(end - p);
    }
    smt_pipeline_process(pl, &rec, check_output, &arena);
    smt_arena_fini(&arena);
    return 0;
}

#ifdef WITH_MAIN
#include "replay.h"

int main(int argc, char **argv)
{
    int rc = fuzz_replay("fuzz_chain", argc, argv, FUZZ_CHAIN_MAX);

    smt_pipeline_free(pl);
    smt_pipeline_conf_free(pc);
    return rc;
}
#endif

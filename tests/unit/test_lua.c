/*
 * test_lua.c - the Lua step under attack and at work: each hostile script
 * (tests/lua/hostile.lua) fails only its own record, at stage
 * TRANSFORMATION with script:line, and the next record on the same worker
 * still works; the sandbox hides what it should; states of two workers
 * are separate; 1->N through the pipeline (one output per record, the
 * route's topic rule per record, a later Filter dropping one of them).
 *
 * Run from the repository root (make unit does): the script paths are
 * relative to it.
 */
#include "smt.h"
#include "t.h"

#include <stdlib.h>
#include <time.h>

#define MAX_OUT 8
#define HOSTILE "tests/lua/hostile.lua"

struct seen {
    int      n;
    int      outcome[MAX_OUT];
    char     topic[MAX_OUT][64];
    char     value[MAX_OUT][512];
    char     key[MAX_OUT][64];
    int      stage[MAX_OUT];
    int      code[MAX_OUT];
    char     msg[MAX_OUT][256];
    char     step[MAX_OUT][64];
    uint32_t piece[MAX_OUT], npieces[MAX_OUT];
    int      same_ptr[MAX_OUT]; /* value bytes are the input's own */
};

static const char *in_value; /* the input bytes of the current run */

static void collect(void *opaque, const struct smt_output *out)
{
    struct seen *s = opaque;
    int          i = s->n++;

    if (i >= MAX_OUT) {
        return;
    }
    s->outcome[i] = out->outcome;
    if (out->outcome == SMT_OUT_RECORD) {
        snprintf(s->topic[i], sizeof(s->topic[i]), "%.*s",
                 (int)out->rec->topic.len, out->rec->topic.ptr);
        snprintf(s->value[i], sizeof(s->value[i]), "%.*s",
                 (int)out->rec->value.raw.len,
                 out->rec->value.raw.ptr ? out->rec->value.raw.ptr : "");
        snprintf(s->key[i], sizeof(s->key[i]), "%.*s",
                 (int)out->rec->key.raw.len,
                 out->rec->key.raw.ptr ? out->rec->key.raw.ptr : "(null)");
        s->piece[i] = out->piece;
        s->npieces[i] = out->npieces;
        s->same_ptr[i] = out->rec->value.raw.ptr == in_value;
    }
    if (out->outcome == SMT_OUT_FAIL) {
        s->stage[i] = out->err->stage;
        s->code[i] = out->err->code;
        snprintf(s->msg[i], sizeof(s->msg[i]), "%s", out->err->msg);
        snprintf(s->step[i], sizeof(s->step[i]), "%s",
                 out->step ? out->step->id : "-");
    }
}

static struct smt_pipeline_conf *load(const char *text)
{
    struct smt_diags          d;
    struct smt_pipeline_conf *pc;
    uint32_t                  i;

    smt_diags_init(&d);
    pc = smt_pipeline_conf_load_yaml("test.yaml", text, strlen(text), &d);
    for (i = 0; i < d.n; i++) {
        fprintf(stderr, "%s\n", d.msg[i]);
    }
    smt_diags_fini(&d);
    return pc;
}

/* A pipeline of one route with the hostile script's function fn. */
static struct smt_pipeline_conf *load_fn(const char *fn, const char *extra)
{
    char yaml[1024];

    snprintf(yaml, sizeof(yaml),
             "input: {topics: [in]}\n"
             "errors: {tolerance: all}\n"
             "routes:\n"
             "  - name: r\n"
             "    transforms:\n"
             "      - {type: lua, name: evil, script: %s, function: %s%s}\n",
             HOSTILE, fn, extra ? extra : "");
    return load(yaml);
}

static void run(struct smt_pipeline *pl, const char *value, struct seen *s)
{
    struct smt_arena  a;
    struct smt_record in;
    char             *copy;

    memset(s, 0, sizeof(*s));
    smt_arena_init(&a, 4096);
    smt_record_init(&in, &a, SMT_FMT_JSON, SMT_FMT_JSON);
    in.topic = SMT_BYTES_LIT("in");
    in.partition = 0;
    in.offset = 7;
    copy = smt_arena_memdup(&a, value, strlen(value));
    in.value.raw.ptr = copy;
    in.value.raw.len = strlen(value);
    in_value = copy;
    smt_pipeline_process(pl, &in, collect, s);
    smt_arena_fini(&a);
}

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The evil record fails alone (TRANSFORMATION, message containing want),
 * then a good record passes on the same worker. */
static void hostile(const char *fn, const char *extra, const char *want,
                    int code)
{
    struct smt_pipeline_conf *pc = load_fn(fn, extra);
    struct smt_pipeline      *pl;
    struct smt_err            err;
    struct seen               s;
    int                       round;
    double                    t0;

    T_OKM(pc != NULL, "%s", fn);
    if (pc == NULL) {
        return;
    }
    pl = smt_pipeline_new(pc, &err);
    T_OKM(pl != NULL, "%s: %s", fn, err.msg);
    if (pl == NULL) {
        smt_pipeline_conf_free(pc);
        return;
    }
    for (round = 0; round < 2; round++) {
        t0 = now();
        run(pl, "{\"evil\":true}", &s);
        T_EQI(s.n, 1);
        T_OKM(s.outcome[0] == SMT_OUT_FAIL, "%s: outcome %d", fn,
              s.outcome[0]);
        T_EQI(s.stage[0], SMT_STAGE_TRANSFORMATION);
        T_EQS(s.step[0], "evil");
        T_OKM(strstr(s.msg[0], want) != NULL, "%s: '%s' lacks '%s'", fn,
              s.msg[0], want);
        if (round == 0 && getenv("TEST_LUA_VERBOSE") != NULL) {
            fprintf(stderr, "%-14s %s\n", fn, s.msg[0]);
        }
        if (code != 0) {
            T_EQI(s.code[0], code);
        }
        T_OKM(strlen(s.msg[0]) < 256, "%s", fn);
        /* fails fast: a budget or cap, not a wait */
        T_OKM(now() - t0 < 5.0, "%s took %.1fs", fn, now() - t0);

        run(pl, "{\"evil\":false}", &s);
        T_EQI(s.n, 1);
        T_OKM(s.outcome[0] == SMT_OUT_RECORD, "%s: next record: %s", fn,
              s.msg[0]);
        T_OKM(strstr(s.value[0], "\"ok\":true") != NULL, "%s: %s", fn,
              s.value[0]);
    }
    smt_pipeline_free(pl);
    smt_pipeline_conf_free(pc);
}

static void test_hostile(void)
{
    hostile("loop", NULL, "hostile.lua:12: instruction limit of 1000000 "
                          "exceeded",
            SMT_E_LIMIT);
    hostile("loop", ", instruction.limit: 5000",
            "instruction limit of 5000 exceeded", SMT_E_LIMIT);
    hostile("loop_pcall", NULL, "hostile.lua:20: instruction limit",
            SMT_E_LIMIT);
    hostile("membomb", NULL, "hostile.lua:35: not enough memory (memory.limit "
                             "is 16777216 bytes)",
            SMT_E_LIMIT);
    hostile("membomb", ", memory.limit: 1MiB", "not enough memory",
            SMT_E_LIMIT);
    hostile("membomb_local", NULL, "hostile.lua:46: not enough memory",
            SMT_E_LIMIT);
    hostile("rep", NULL, "hostile.lua:53: string.rep: result larger than "
                         "memory.limit",
            SMT_E_DATA);
    hostile("rep_sep", NULL, "string.rep: result larger", SMT_E_DATA);
    hostile("rep_alloc", NULL, "hostile.lua:70: not enough memory",
            SMT_E_LIMIT);
    hostile("move", NULL, "table.move: too many elements", SMT_E_DATA);
    hostile("recurse", NULL, "hostile.lua:88:", 0);
    hostile("recurse_c", NULL, "stack overflow", SMT_E_DATA);
    hostile("use_os", NULL, "hostile.lua:115: attempt to index a nil value "
                            "(global 'os')",
            SMT_E_DATA);
    hostile("use_io", NULL, "attempt to index a nil value (global 'io')",
            SMT_E_DATA);
    hostile("use_require", NULL, "attempt to call a nil value (global "
                                 "'require')",
            SMT_E_DATA);
    hostile("use_dofile", NULL, "global 'dofile'", SMT_E_DATA);
    hostile("use_loadfile", NULL, "global 'loadfile'", SMT_E_DATA);
    hostile("binary", NULL, "attempt to load a binary chunk (mode is 't')",
            SMT_E_DATA);
    hostile("use_dump", NULL, "field 'dump'", SMT_E_DATA);
    hostile("use_debug", NULL, "global 'debug'", SMT_E_DATA);
    hostile("use_package", NULL, "global 'package'", SMT_E_DATA);
    hostile("collect", NULL, "collectgarbage: only \"count\" is available",
            SMT_E_DATA);
    hostile("gc_meta", NULL, "setmetatable: __gc metamethods are not "
                             "available",
            SMT_E_DATA);
    hostile("meta_record", NULL, "cannot change a protected metatable",
            SMT_E_DATA);
    hostile("err_table", NULL, "hostile.lua:189: (error object is a table "
                               "value)",
            SMT_E_DATA);
    hostile("err_long", NULL, "hostile.lua:195: yyyyyyyy", SMT_E_DATA);
    hostile("err_nil", NULL, "(error object is a nil value)", SMT_E_DATA);
}

/* Things that must work: what the sandbox shows, string.rep of nothing. */
static void test_sandbox(void)
{
    struct smt_pipeline_conf *pc = load_fn("visible", NULL);
    struct smt_pipeline      *pl;
    struct smt_err            err;
    struct seen               s;

    T_OK(pc != NULL);
    if (pc == NULL) {
        return;
    }
    pl = smt_pipeline_new(pc, &err);
    T_OK(pl != NULL);
    run(pl, "{}", &s);
    T_EQI(s.outcome[0], SMT_OUT_RECORD);
    T_EQS(s.value[0],
          "{\"coroutine\":\"nil\",\"count\":\"number\",\"debug\":\"nil\","
          "\"dofile\":\"nil\",\"dump\":\"nil\",\"io\":\"nil\",\"load\":42,"
          "\"loadfile\":\"nil\",\"math\":\"table\",\"os\":\"nil\","
          "\"package\":\"nil\",\"print\":\"nil\",\"require\":\"nil\","
          "\"string\":\"table\",\"table\":\"table\",\"utf8\":\"table\"}");
    smt_pipeline_free(pl);
    smt_pipeline_conf_free(pc);

    pc = load_fn("rep_empty", NULL);
    pl = smt_pipeline_new(pc, &err);
    run(pl, "{}", &s);
    T_EQI(s.outcome[0], SMT_OUT_RECORD);
    T_EQS(s.value[0], "{\"len\":0,\"ok\":true}");
    smt_pipeline_free(pl);
    smt_pipeline_conf_free(pc);

    /* rawset on the record counts; the metatable reads as false */
    pc = load_fn("meta_record", NULL);
    pl = smt_pipeline_new(pc, &err);
    run(pl, "{\"evil\":false}", &s);
    T_EQI(s.outcome[0], SMT_OUT_RECORD);
    T_EQS(s.key[0], "\"set-raw\"");
    T_EQS(s.value[0], "{\"evil\":false,\"mt\":\"false\",\"ok\":true}");
    smt_pipeline_free(pl);
    smt_pipeline_conf_free(pc);

    /* a record table kept from an earlier call: lazy fields read nil */
    pc = load_fn("stale", NULL);
    pl = smt_pipeline_new(pc, &err);
    run(pl, "{\"a\":1}", &s);
    run(pl, "{\"a\":2}", &s);
    T_EQI(s.outcome[0], SMT_OUT_RECORD);
    T_EQS(s.value[0], "{\"a\":2,\"ok\":true,\"old_topic\":\"in\","
                      "\"old_value\":false}");
    smt_pipeline_free(pl);
    smt_pipeline_conf_free(pc);
}

/* After a memory bomb that filled a global, the state was re-created:
 * the global is empty again. */
static void test_recreate(void)
{
    struct smt_pipeline_conf *pc = load_fn("membomb", NULL);
    struct smt_pipeline      *pl;
    struct smt_err            err;
    struct seen               s;

    T_OK(pc != NULL);
    pl = smt_pipeline_new(pc, &err);
    run(pl, "{\"evil\":false}", &s);
    T_EQS(s.value[0], "{\"evil\":false,\"kept\":0,\"ok\":true}");
    run(pl, "{\"evil\":true}", &s);
    T_EQI(s.outcome[0], SMT_OUT_FAIL);
    run(pl, "{\"evil\":false}", &s);
    T_EQS(s.value[0], "{\"evil\":false,\"kept\":0,\"ok\":true}");
    smt_pipeline_free(pl);
    smt_pipeline_conf_free(pc);
}

/* Two workers (two pipeline instances of one conf): separate states. */
static void test_isolation(void)
{
    struct smt_pipeline_conf *pc = load_fn("count", NULL);
    struct smt_pipeline      *w1, *w2;
    struct smt_err            err;
    struct seen               s;

    T_OK(pc != NULL);
    w1 = smt_pipeline_new(pc, &err);
    w2 = smt_pipeline_new(pc, &err);
    T_OK(w1 != NULL && w2 != NULL);
    run(w1, "{}", &s);
    T_EQS(s.value[0], "{\"n\":1}");
    run(w1, "{}", &s);
    T_EQS(s.value[0], "{\"n\":2}");
    run(w2, "{}", &s);
    T_EQS(s.value[0], "{\"n\":1}");
    run(w1, "{}", &s);
    T_EQS(s.value[0], "{\"n\":3}");
    smt_pipeline_free(w1);
    smt_pipeline_free(w2);
    smt_pipeline_conf_free(pc);
}

/* 1->N through the pipeline. */
static void test_split(void)
{
    static const char yaml[] =
        "input: {topics: [in]}\n"
        "errors: {tolerance: all}\n"
        "routes:\n"
        "  - name: split\n"
        "    topic: out\n"
        "    transforms:\n"
        "      - type: lua\n"
        "        source: |\n"
        "          function transform(r)\n"
        "            local out = {}\n"
        "            for i, it in ipairs(r.value.items) do\n"
        "              out[i] = {key = it.id, value = it,\n"
        "                        topic = it.topic}\n"
        "            end\n"
        "            return out\n"
        "          end\n"
        "      - {type: Filter, if: {field: drop, equals: true}}\n"
        "      - {type: InsertHeader, header: h, value.literal: x}\n"
        "  - name: plain\n"
        "    transforms:\n"
        "      - {type: lua, source: 'function transform(r) return r end'}\n";
    struct smt_pipeline_conf *pc = load(yaml);
    struct smt_pipeline      *pl;
    struct smt_err            err;
    struct seen               s;

    T_OK(pc != NULL);
    if (pc == NULL) {
        return;
    }
    pl = smt_pipeline_new(pc, &err);
    T_OK(pl != NULL);
    run(pl,
        "{\"items\":[{\"id\":\"a\"},{\"id\":\"b\",\"drop\":true},"
        "{\"id\":\"c\",\"topic\":\"special\"}]}",
        &s);
    T_EQI(s.n, 3);
    T_EQI(s.outcome[0], SMT_OUT_RECORD);
    T_EQS(s.topic[0], "out"); /* the route's topic: the step kept it */
    T_EQS(s.key[0], "\"a\"");
    T_EQS(s.value[0], "{\"id\":\"a\"}");
    T_EQI(s.piece[0], 0);
    T_EQI(s.npieces[0], 2);
    T_EQI(s.outcome[1], SMT_OUT_RECORD);
    T_EQS(s.topic[1], "special"); /* the step's topic wins */
    T_EQS(s.key[1], "\"c\"");
    T_EQI(s.piece[1], 1);
    T_EQI(s.npieces[1], 2);
    /* the plain route: one record, the input's exact bytes */
    T_EQI(s.outcome[2], SMT_OUT_RECORD);
    T_EQI(s.npieces[2], 1);
    T_OK(s.same_ptr[2]);

    /* every record dropped: one DROP */
    run(pl, "{\"items\":[{\"id\":\"b\",\"drop\":true}]}", &s);
    T_EQI(s.n, 2);
    T_EQI(s.outcome[0], SMT_OUT_DROP);
    /* one record fails later: the input fails once, nothing goes out */
    run(pl, "{\"items\":[{\"id\":\"a\"},{\"id\":\"b\",\"drop\":[]}]}", &s);
    T_EQI(s.n, 3);
    T_EQI(s.outcome[0], SMT_OUT_RECORD); /* equals true vs [] is false */
    run(pl, "{\"items\":[{\"id\":\"a\"},7]}", &s);
    T_EQI(s.outcome[0], SMT_OUT_FAIL);
    T_EQI(s.stage[0], SMT_STAGE_TRANSFORMATION);
    smt_pipeline_free(pl);
    smt_pipeline_conf_free(pc);
}

int main(void)
{
    test_hostile();
    test_sandbox();
    test_recreate();
    test_isolation();
    test_split();
    return t_done("test_lua");
}

/*
 * test_pipeline.c - routes: every route sees every record, conditions,
 * fan-out, drops, failures isolated to their route, the destination topic
 * rule, unrouted records, and one decode per input record.
 */
#include "smt.h"
#include "t.h"

#define MAX_OUT 16

struct seen {
    int  n;
    int  outcome[MAX_OUT];
    char route[MAX_OUT][32];
    char topic[MAX_OUT][64];
    char value[MAX_OUT][256];
    char key[MAX_OUT][64];
    int  stage[MAX_OUT];
    char msg[MAX_OUT][256];
    char step[MAX_OUT][64];
};

static void collect(void *opaque, const struct smt_output *out)
{
    struct seen *s = opaque;
    int          i = s->n++;

    if (i >= MAX_OUT) {
        return;
    }
    s->outcome[i] = out->outcome;
    snprintf(s->route[i], sizeof(s->route[i]), "%s",
             out->route ? out->route->name : "-");
    if (out->outcome == SMT_OUT_RECORD) {
        snprintf(s->topic[i], sizeof(s->topic[i]), "%.*s",
                 (int)out->rec->topic.len, out->rec->topic.ptr);
        snprintf(s->value[i], sizeof(s->value[i]), "%.*s",
                 (int)out->rec->value.raw.len,
                 out->rec->value.raw.ptr ? out->rec->value.raw.ptr : "");
        snprintf(s->key[i], sizeof(s->key[i]), "%.*s",
                 (int)out->rec->key.raw.len,
                 out->rec->key.raw.ptr ? out->rec->key.raw.ptr : "(null)");
    }
    if (out->outcome == SMT_OUT_FAIL) {
        s->stage[i] = out->err->stage;
        snprintf(s->msg[i], sizeof(s->msg[i]), "%s", out->err->msg);
        snprintf(s->step[i], sizeof(s->step[i]), "%s",
                 out->step ? out->step->id : "-");
    }
}

static const char yaml[] =
    "name: t\n"
    "input: {topics: [sensors.raw]}\n"
    "errors: {tolerance: all}\n"
    "routes:\n"
    "  - name: audit\n"
    "    condition: {field: type, equals: command}\n"
    "    transforms:\n"
    "      - {type: MaskField$Value, name: mask, fields: op.email, "
    "field.syntax.version: V2}\n"
    "    topic: sensors.audit\n"
    "  - name: trend\n"
    "    condition: {field: type, equals: status}\n"
    "    transforms:\n"
    "      - {type: Cast$Value, name: cast, spec: temp:float64}\n"
    "      - {type: Filter, if: {field: temp, equals: -1}}\n"
    "    topic: sensors.trend\n"
    "  - name: copy\n"
    "    condition: {field: type, in: [status, command]}\n"
    "    transforms:\n"
    "      - {type: RegexRouter, regex: 'sensors\\.(.*)', "
    "replacement: 'copy-$1'}\n"
    "    topic: ignored-because-regexrouter-renamed\n";

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

static void run(struct smt_pipeline *pl, const char *value, struct seen *s)
{
    struct smt_arena  a;
    struct smt_record in;
    char             *copy;

    memset(s, 0, sizeof(*s));
    smt_arena_init(&a, 4096);
    smt_record_init(&in, &a, SMT_FMT_JSON, SMT_FMT_JSON);
    in.topic = SMT_BYTES_LIT("sensors.raw");
    in.partition = 0;
    in.offset = 7;
    copy = smt_arena_memdup(&a, value, strlen(value));
    in.value.raw.ptr = copy;
    in.value.raw.len = strlen(value);
    smt_pipeline_process(pl, &in, collect, s);
    smt_arena_fini(&a);
}

static void test_routes(void)
{
    struct smt_pipeline_conf *pc = load(yaml);
    struct smt_pipeline      *pl;
    struct smt_err            err;
    struct seen               s;

    T_OK(pc != NULL);
    if (pc == NULL) {
        return;
    }
    T_EQI(pc->nroutes, 3);
    pl = smt_pipeline_new(pc, &err);
    T_OK(pl != NULL);
    if (pl == NULL) {
        smt_pipeline_conf_free(pc);
        return;
    }

    /* a command: audit (masked) and copy (renamed, untouched bytes) */
    run(pl, "{\"type\":\"command\",\"op\":{\"email\":\"a@b\"}}", &s);
    T_EQI(s.n, 2);
    T_EQI(s.outcome[0], SMT_OUT_RECORD);
    T_EQS(s.route[0], "audit");
    T_EQS(s.topic[0], "sensors.audit");
    T_EQS(s.value[0], "{\"type\":\"command\",\"op\":{\"email\":\"\"}}");
    T_EQS(s.route[1], "copy");
    T_EQS(s.topic[1], "copy-raw");
    T_EQS(s.value[1], "{\"type\":\"command\",\"op\":{\"email\":\"a@b\"}}");

    /* a status with a bad number: trend fails alone, copy still goes out */
    run(pl, "{\"type\":\"status\",\"temp\":\"n/a\"}", &s);
    T_EQI(s.n, 2);
    T_EQI(s.outcome[0], SMT_OUT_FAIL);
    T_EQS(s.route[0], "trend");
    T_EQS(s.step[0], "cast");
    T_EQI(s.stage[0], SMT_STAGE_TRANSFORMATION);
    T_OK(s.msg[0][0] != '\0');
    T_EQI(s.outcome[1], SMT_OUT_RECORD);
    T_EQS(s.route[1], "copy");

    /* a status filtered out in trend: a drop, not a failure */
    run(pl, "{\"type\":\"status\",\"temp\":-1}", &s);
    T_EQI(s.n, 2);
    T_EQI(s.outcome[0], SMT_OUT_DROP);
    T_EQS(s.route[0], "trend");

    /* a good status: cast writes a float */
    run(pl, "{\"type\":\"status\",\"temp\":\"71.5\"}", &s);
    T_EQI(s.outcome[0], SMT_OUT_RECORD);
    T_EQS(s.value[0], "{\"type\":\"status\",\"temp\":71.5}");

    /* nobody takes it */
    run(pl, "{\"type\":\"other\"}", &s);
    T_EQI(s.n, 1);
    T_EQI(s.outcome[0], SMT_OUT_UNROUTED);

    /* a value that does not decode: one failure at VALUE_CONVERTER (one
     * DLQ record), not one per route that needed the value */
    run(pl, "{\"type\":", &s);
    T_EQI(s.n, 1);
    T_EQI(s.outcome[0], SMT_OUT_FAIL);
    T_EQI(s.stage[0], SMT_STAGE_VALUE_CONVERTER);
    T_EQS(s.route[0], "audit");

    smt_pipeline_free(pl);
    smt_pipeline_conf_free(pc);
}

/* The last route (never retried) changes the input's tree in place rather
 * than copying it: nothing reads that tree after it. Earlier routes' outputs
 * are unaffected; with errors.retry.timeout the last route copies, so a
 * second attempt would start from the input as it came. */
static const char take_yaml[] =
    "name: t\n"
    "input: {topics: [sensors.raw]}\n"
    "errors: {tolerance: all}\n"
    "routes:\n"
    "  - name: first\n"
    "    transforms:\n"
    "      - {type: MaskField$Value, fields: op.email, "
    "field.syntax.version: V2}\n"
    "    topic: out.first\n"
    "  - name: last\n"
    "%s"
    "    transforms:\n"
    "      - {type: MaskField$Value, fields: op.name, "
    "field.syntax.version: V2}\n"
    "      - {type: Cast$Value, name: cast, spec: temp:float64}\n"
    "    topic: out.last\n";

/* op.name of the input record's decoded value after processing */
static void run_take(const char *retry, const char *value, struct seen *s,
                     char *name, size_t size)
{
    char                      text[1024];
    struct smt_pipeline_conf *pc;
    struct smt_pipeline      *pl;
    struct smt_err            err;
    struct smt_arena          a;
    struct smt_record         in;
    const struct smt_val     *op, *v;

    snprintf(text, sizeof(text), take_yaml, retry);
    pc = load(text);
    T_OK(pc != NULL);
    if (pc == NULL) {
        return;
    }
    pl = smt_pipeline_new(pc, &err);
    T_OK(pl != NULL);
    memset(s, 0, sizeof(*s));
    snprintf(name, size, "(none)");
    smt_arena_init(&a, 4096);
    smt_record_init(&in, &a, SMT_FMT_JSON, SMT_FMT_JSON);
    in.topic = SMT_BYTES_LIT("sensors.raw");
    in.value.raw.ptr = smt_arena_memdup(&a, value, strlen(value));
    in.value.raw.len = strlen(value);
    if (pl != NULL) {
        smt_pipeline_process(pl, &in, collect, s);
        op = in.value.doc != NULL ? smt_obj_get(in.value.doc, "op", 2) : NULL;
        v = op != NULL ? smt_obj_get(op, "name", 4) : NULL;
        if (v != NULL && v->type == SMT_STRING) {
            snprintf(name, size, "%.*s", (int)v->u.s.len, v->u.s.ptr);
        }
        smt_pipeline_free(pl);
    }
    smt_arena_fini(&a);
    smt_pipeline_conf_free(pc);
}

static void test_last_route_takes_input_tree(void)
{
    static const char good[] =
        "{\"op\":{\"email\":\"a@b\",\"name\":\"Ana\"},\"temp\":\"1.5\"}";
    static const char bad[] =
        "{\"op\":{\"email\":\"a@b\",\"name\":\"Ana\"},\"temp\":\"n/a\"}";
    struct seen s;
    char        name[64];

    run_take("", good, &s, name, sizeof(name));
    T_EQI(s.n, 2);
    T_EQS(s.route[0], "first");
    T_EQS(s.value[0],
          "{\"op\":{\"email\":\"\",\"name\":\"Ana\"},\"temp\":\"1.5\"}");
    T_EQS(s.route[1], "last");
    T_EQS(s.value[1],
          "{\"op\":{\"email\":\"a@b\",\"name\":\"\"},\"temp\":1.5}");
    T_EQS(name, ""); /* taken: the input's tree is the last route's */

    /* a failure after the change: reported, the first output intact */
    run_take("", bad, &s, name, sizeof(name));
    T_EQI(s.n, 2);
    T_EQS(s.value[0],
          "{\"op\":{\"email\":\"\",\"name\":\"Ana\"},\"temp\":\"n/a\"}");
    T_EQI(s.outcome[1], SMT_OUT_FAIL);
    T_EQS(s.step[1], "cast");

    /* a route that may be retried copies: the input's tree stays as it came */
    run_take("    errors: {tolerance: all, retry.timeout: 1s}\n", good, &s,
             name, sizeof(name));
    T_EQI(s.n, 2);
    T_EQS(s.value[1],
          "{\"op\":{\"email\":\"a@b\",\"name\":\"\"},\"temp\":1.5}");
    T_EQS(name, "Ana");
}

int main(void)
{
    test_routes();
    test_last_route_takes_input_tree();
    return t_done("test_pipeline");
}

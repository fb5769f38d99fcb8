/*
 * test_avro.c - the Avro codec: every type and logical type decoded from
 * hand-made bytes and encoded back byte for byte, the Connect schemas
 * AvroConverter would give, generated schemas, every decode error (bad
 * magic, short header, unknown id, truncation at every byte, trailing
 * bytes, oversized lengths, zero-byte element floods, deep and recursive
 * schemas), and Avro through real pipelines with local schema files:
 * MaskField (same id), InsertField and Cast (generated schema matched to a
 * local one), pass-through of untouched values, failures at
 * VALUE_CONVERTER, and the configuration checks.
 */
#include "smt.h"
#include "avro.h"
#include "t.h"

#include <stdlib.h>
#include <unistd.h>

/* ---------------------------------------------------------------------- */
/* A byte builder for hand-made datums */

struct bb {
    unsigned char b[8192];
    size_t        n;
};

static void bb_long(struct bb *x, int64_t v)
{
    uint64_t u = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);

    while (u >= 0x80) {
        x->b[x->n++] = (unsigned char)(u | 0x80);
        u >>= 7;
    }
    x->b[x->n++] = (unsigned char)u;
}

static void bb_raw(struct bb *x, const void *p, size_t n)
{
    memcpy(x->b + x->n, p, n);
    x->n += n;
}

static void bb_str(struct bb *x, const char *s)
{
    bb_long(x, (int64_t)strlen(s));
    bb_raw(x, s, strlen(s));
}

static void bb_float(struct bb *x, float f)
{
    bb_raw(x, &f, 4); /* little-endian host */
}

static void bb_double(struct bb *x, double d)
{
    bb_raw(x, &d, 8);
}

static void bb_header(struct bb *x, int32_t id)
{
    x->b[x->n++] = 0;
    x->b[x->n++] = (unsigned char)((uint32_t)id >> 24);
    x->b[x->n++] = (unsigned char)((uint32_t)id >> 16);
    x->b[x->n++] = (unsigned char)((uint32_t)id >> 8);
    x->b[x->n++] = (unsigned char)id;
}

static const char all_schema[] =
    "{\"type\":\"record\",\"name\":\"All\",\"namespace\":\"t\",\"doc\":\"d\","
    "\"fields\":["
    "{\"name\":\"b\",\"type\":\"boolean\"},"
    "{\"name\":\"i\",\"type\":\"int\"},"
    "{\"name\":\"l\",\"type\":\"long\"},"
    "{\"name\":\"f\",\"type\":\"float\"},"
    "{\"name\":\"d\",\"type\":\"double\"},"
    "{\"name\":\"s\",\"type\":\"string\"},"
    "{\"name\":\"y\",\"type\":\"bytes\"},"
    "{\"name\":\"e\",\"type\":{\"type\":\"enum\",\"name\":\"Color\","
    "\"symbols\":[\"RED\",\"GREEN\"]}},"
    "{\"name\":\"x\",\"type\":{\"type\":\"fixed\",\"name\":\"F4\","
    "\"size\":4}},"
    "{\"name\":\"a\",\"type\":{\"type\":\"array\",\"items\":\"int\"}},"
    "{\"name\":\"m\",\"type\":{\"type\":\"map\",\"values\":\"string\"}},"
    "{\"name\":\"o\",\"type\":[\"null\",\"string\"],\"default\":null},"
    "{\"name\":\"u\",\"type\":[\"null\",\"int\",\"string\"]},"
    "{\"name\":\"n\",\"type\":{\"type\":\"record\",\"name\":\"Inner\","
    "\"fields\":[{\"name\":\"k\",\"type\":\"Color\"}]}},"
    "{\"name\":\"dec\",\"type\":{\"type\":\"bytes\",\"logicalType\":"
    "\"decimal\",\"precision\":9,\"scale\":2}},"
    "{\"name\":\"dt\",\"type\":{\"type\":\"int\",\"logicalType\":\"date\"}},"
    "{\"name\":\"tm\",\"type\":{\"type\":\"int\",\"logicalType\":"
    "\"time-millis\"}},"
    "{\"name\":\"ts\",\"type\":{\"type\":\"long\",\"logicalType\":"
    "\"timestamp-millis\"}},"
    "{\"name\":\"tu\",\"type\":{\"type\":\"long\",\"logicalType\":"
    "\"timestamp-micros\"}},"
    "{\"name\":\"i8\",\"type\":{\"type\":\"int\",\"connect.type\":\"int8\"}},"
    "{\"name\":\"fd\",\"type\":{\"type\":\"fixed\",\"name\":\"D8\",\"size\":8,"
    "\"logicalType\":\"decimal\",\"precision\":10,\"scale\":3}},"
    "{\"name\":\"def\",\"type\":\"int\",\"default\":42}"
    "]}";

static void all_datum(struct bb *x)
{
    static const unsigned char y[] = {0x00, 0xff};
    static const unsigned char fd[] = {0xff, 0xff, 0xff, 0xff,
                                       0xff, 0xff, 0xff, 0x85}; /* -123 */

    x->n = 0;
    x->b[x->n++] = 1;            /* b */
    bb_long(x, -3);              /* i */
    bb_long(x, 1234567890123LL); /* l */
    bb_float(x, 1.5f);
    bb_double(x, -2.25);
    bb_str(x, "h\xc3\xa9");
    bb_long(x, 2);
    bb_raw(x, y, 2);
    bb_long(x, 1);        /* e: GREEN */
    bb_raw(x, "ABCD", 4); /* x */
    bb_long(x, 3);        /* a: one block of 3 */
    bb_long(x, 1);
    bb_long(x, 2);
    bb_long(x, 3);
    bb_long(x, 0);
    bb_long(x, 1); /* m */
    bb_str(x, "k");
    bb_str(x, "v");
    bb_long(x, 0);
    bb_long(x, 1); /* o: string */
    bb_str(x, "opt");
    bb_long(x, 2); /* u: string */
    bb_str(x, "str");
    bb_long(x, 0); /* n.k: RED */
    bb_long(x, 2); /* dec: 12345 = 0x3039 */
    x->b[x->n++] = 0x30;
    x->b[x->n++] = 0x39;
    bb_long(x, 19000);           /* dt */
    bb_long(x, 3600000);         /* tm */
    bb_long(x, 1700000000000LL); /* ts */
    bb_long(x, 5);               /* tu */
    bb_long(x, -5);              /* i8 */
    bb_raw(x, fd, 8);            /* fd */
    bb_long(x, 7);               /* def */
}

static const char all_json[] =
    "{\"b\":true,\"i\":-3,\"l\":1234567890123,\"f\":1.5,\"d\":-2.25,"
    "\"s\":\"h\xc3\xa9\",\"y\":\"AP8=\",\"e\":\"GREEN\",\"x\":\"QUJDRA==\","
    "\"a\":[1,2,3],\"m\":{\"k\":\"v\"},\"o\":\"opt\","
    "\"u\":{\"int\":null,\"string\":\"str\"},\"n\":{\"k\":\"RED\"},"
    "\"dec\":123.45,\"dt\":1641600000000,\"tm\":3600000,"
    "\"ts\":1700000000000,\"tu\":5,\"i8\":-5,\"fd\":-0.123,\"def\":7}";

static const struct smt_schema *field(const struct smt_schema *s,
                                      const char *name)
{
    return smt_schema_field(s, name, strlen(name));
}

static void test_all_types(void)
{
    struct smt_err           err;
    struct smt_avro_schema  *s, *g;
    const struct smt_schema *cs;
    struct smt_arena         a;
    struct smt_val          *v;
    struct smt_buf           b, out;
    struct bb                x;
    size_t                   k;
    int                      fails = 0;

    s = smt_avro_schema_new(all_schema, strlen(all_schema), &err);
    T_OKM(s != NULL, "%s", err.msg);
    if (s == NULL) {
        return;
    }
    smt_arena_init(&a, 4096);
    all_datum(&x);
    v = smt_avro_datum_decode(s, &a, (const char *)x.b, x.n, &err);
    T_OKM(v != NULL, "%s", err.msg);
    if (v == NULL) {
        goto out;
    }
    smt_buf_init(&b);
    T_EQI(smt_json_write(&b, v, &err), 0);
    T_EQS(b.ptr, all_json);
    smt_buf_fini(&b);

    /* the Connect schema AvroConverter gives */
    cs = smt_avro_schema_connect(s);
    T_EQI(cs->type, SMT_OBJECT);
    T_EQS(cs->name, "t.All");
    T_EQS(cs->doc, "d");
    T_EQI(cs->nfields, 22);
    T_EQI(field(cs, "b")->type, SMT_BOOL);
    T_EQI(field(cs, "i")->type, SMT_INT32);
    T_EQI(field(cs, "l")->type, SMT_INT64);
    T_EQI(field(cs, "f")->type, SMT_FLOAT32);
    T_EQI(field(cs, "d")->type, SMT_FLOAT64);
    T_EQI(field(cs, "y")->type, SMT_BYTES);
    T_EQI(field(cs, "e")->type, SMT_STRING);
    T_EQS(field(cs, "e")->name, "t.Color");
    T_OK(smt_obj_get(field(cs, "e")->params,
                     "io.confluent.connect.avro.Enum.GREEN", 36) != NULL);
    T_EQI(field(cs, "x")->type, SMT_BYTES);
    T_EQI(field(cs, "a")->type, SMT_ARRAY);
    T_EQI(field(cs, "a")->items->type, SMT_INT32);
    T_EQI(field(cs, "m")->is_map, 1);
    T_EQI(field(cs, "o")->type, SMT_STRING);
    T_EQI(field(cs, "o")->optional, 1);
    T_EQI(field(cs, "s")->optional, 0);
    T_EQS(field(cs, "u")->name, "io.confluent.connect.avro.Union");
    T_EQI(field(cs, "u")->optional, 1);
    T_EQI(field(cs, "u")->nfields, 2);
    T_EQS(field(cs, "n")->name, "t.Inner");
    T_EQS(field(cs, "dec")->name, SMT_LOGICAL_DECIMAL);
    T_EQS(field(cs, "dt")->name, SMT_LOGICAL_DATE);
    T_EQI(field(cs, "dt")->type, SMT_INT32);
    T_EQS(field(cs, "tm")->name, SMT_LOGICAL_TIME);
    T_EQS(field(cs, "ts")->name, SMT_LOGICAL_TIMESTAMP);
    T_EQI(field(cs, "ts")->type, SMT_INT64);
    T_OK(field(cs, "tu")->name == NULL);
    T_EQI(field(cs, "i8")->type, SMT_INT8);
    T_OK(field(cs, "def")->def != NULL && field(cs, "def")->def->u.i == 42);

    /* encoded back: the same bytes */
    smt_buf_init(&out);
    T_EQI(smt_avro_datum_encode(s, v, &out, &err), 0);
    T_EQI(out.len, x.n);
    T_OK(out.len == x.n && memcmp(out.ptr, x.b, x.n) == 0);
    smt_buf_fini(&out);

    /* every proper prefix is a truncated datum, never a crash */
    for (k = 0; k < x.n; k++) {
        if (smt_avro_datum_decode(s, &a, (const char *)x.b, k, &err) != NULL ||
            err.code != SMT_E_DATA) {
            fails++;
        }
    }
    T_EQI(fails, 0);
    /* one byte more: trailing */
    x.b[x.n] = 0;
    T_OK(smt_avro_datum_decode(s, &a, (const char *)x.b, x.n + 1, &err) ==
         NULL);
    T_OK(strstr(err.msg, "1 trailing bytes") != NULL);

    /* the generated schema has the original's canonical form, and reads
     * the same bytes to the same value */
    smt_buf_init(&b);
    T_EQI(smt_avro_from_connect(cs, &b, &err), 0);
    g = smt_avro_schema_new(b.ptr, b.len, &err);
    T_OKM(g != NULL, "%s: %s", err.msg, b.ptr);
    if (g != NULL) {
        /* all the same up to 'fd': a decimal goes back as bytes (docs) */
        const char *p1 = smt_avro_schema_pcf(g), *p2 = smt_avro_schema_pcf(s);
        const char *f1 = strstr(p1, "{\"name\":\"fd\"");
        const char *f2 = strstr(p2, "{\"name\":\"fd\"");

        T_OK(f1 != NULL && f2 != NULL && f1 - p1 == f2 - p2 &&
             memcmp(p1, p2, (size_t)(f1 - p1)) == 0);
        T_OK(strstr(p1, "{\"name\":\"fd\",\"type\":\"bytes\"}") != NULL);
        smt_buf_init(&out);
        T_EQI(smt_avro_datum_encode(g, v, &out, &err), 0);
        smt_buf_fini(&out);
        smt_avro_schema_free(g);
    }
    T_OK(strstr(b.ptr, "\"connect.name\":\"org.apache.kafka.connect.data."
                       "Decimal\"") != NULL);
    T_OK(strstr(b.ptr, "{\"name\":\"o\",\"type\":[\"null\",\"string\"],"
                       "\"default\":null}") != NULL);
    T_OK(strstr(b.ptr, "\"connect.type\":\"int8\"") != NULL);
    T_OK(strstr(b.ptr, "{\"name\":\"k\",\"type\":\"t.Color\"}") != NULL);
    smt_buf_fini(&b);
out:
    smt_arena_fini(&a);
    smt_avro_schema_free(s);
}

/* Values that do not fit: encode errors name the field. */
static void test_encode_errors(void)
{
    static const char sch[] =
        "{\"type\":\"record\",\"name\":\"R\",\"fields\":["
        "{\"name\":\"a\",\"type\":\"int\"},"
        "{\"name\":\"n\",\"type\":{\"type\":\"record\",\"name\":\"N\","
        "\"fields\":[{\"name\":\"e\",\"type\":{\"type\":\"enum\",\"name\":"
        "\"E\",\"symbols\":[\"X\"]}}]}},"
        "{\"name\":\"d\",\"type\":\"string\",\"default\":\"dd\"}]}";
    struct smt_err          err;
    struct smt_avro_schema *s = smt_avro_schema_new(sch, strlen(sch), &err);
    struct smt_arena        a;
    struct smt_val         *v, *n;
    struct smt_buf          b;

    T_OKM(s != NULL, "%s", err.msg);
    if (s == NULL) {
        return;
    }
    smt_arena_init(&a, 4096);
    smt_buf_init(&b);
    v = smt_val_object(&a, 4);
    n = smt_val_object(&a, 1);
    smt_obj_set(&a, n, "e", 1, smt_val_str(&a, SMT_STRING, "X", 1));
    smt_obj_set(&a, v, "a", 1, smt_val_int(&a, SMT_INT64, 5));
    smt_obj_set(&a, v, "n", 1, n);
    /* d missing: its default */
    T_EQI(smt_avro_datum_encode(s, v, &b, &err), 0);
    T_EQI(b.len, 5);
    T_OK(b.len == 5 && memcmp(b.ptr, "\x0a\x00\x04" "dd", 5) == 0);
    b.len = 0;
    smt_obj_set(&a, n, "e", 1, smt_val_str(&a, SMT_STRING, "Y", 1));
    T_EQI(smt_avro_datum_encode(s, v, &b, &err), -1);
    T_EQS(err.msg, "field 'n.e': 'Y' is not a symbol of enum 'E'");
    T_EQI(b.len, 0);
    smt_obj_set(&a, n, "e", 1, smt_val_str(&a, SMT_STRING, "X", 1));
    smt_obj_set(&a, v, "a", 1, smt_val_str(&a, SMT_STRING, "5", 1));
    T_EQI(smt_avro_datum_encode(s, v, &b, &err), -1);
    T_EQS(err.msg, "field 'a': expected int, got STRING");
    smt_obj_set(&a, v, "a", 1, smt_val_int(&a, SMT_INT64, 1LL << 40));
    T_EQI(smt_avro_datum_encode(s, v, &b, &err), -1);
    smt_obj_set(&a, v, "a", 1, smt_val_null(&a));
    T_EQI(smt_avro_datum_encode(s, v, &b, &err), -1);
    T_EQS(err.msg, "field 'a': null for a required int");
    smt_obj_set(&a, v, "a", 1, smt_val_int(&a, SMT_INT32, 1));
    smt_obj_set(&a, v, "zz", 2, smt_val_int(&a, SMT_INT32, 1));
    T_EQI(smt_avro_datum_encode(s, v, &b, &err), -1);
    T_EQS(err.msg, "field 'zz' is not in the schema of 'R'");
    smt_buf_fini(&b);
    smt_arena_fini(&a);
    smt_avro_schema_free(s);
}

static void expect_schema_error(const char *text, const char *want)
{
    struct smt_err          err;
    struct smt_avro_schema *s = smt_avro_schema_new(text, strlen(text), &err);

    T_OKM(s == NULL && strstr(err.msg, want) != NULL, "'%s' gave '%s'", text,
          s ? "(accepted)" : err.msg);
    smt_avro_schema_free(s);
}

static void test_schema_errors(void)
{
    struct smt_buf b;
    int            i;

    expect_schema_error("{\"type\":\"record\",\"name\":\"L\",\"fields\":["
                        "{\"name\":\"next\",\"type\":[\"null\",\"L\"]}]}",
                        "recursive type 'L'");
    expect_schema_error("\"nope\"", "unknown type 'nope'");
    expect_schema_error("[]", "empty union");
    expect_schema_error("[\"int\",\"int\"]", "union has 'int' twice");
    expect_schema_error("{\"type\":\"record\",\"name\":\"R\",\"fields\":["
                        "{\"name\":\"a\",\"type\":\"int\"},"
                        "{\"name\":\"a\",\"type\":\"int\"}]}",
                        "defined twice");
    expect_schema_error("{\"type\":\"enum\",\"name\":\"E\",\"symbols\":"
                        "[\"A\",\"A\"]}",
                        "duplicate symbol");
    expect_schema_error("{\"type\":\"record\",\"name\":\"R\",\"fields\":["
                        "{\"name\":\"a\",\"type\":\"int\",\"default\":\"x\"}]}",
                        "field 'a': default value does not match type 'int'");
    expect_schema_error("{\"type\":\"record\",\"name\":\"1R\",\"fields\":[]}",
                        "invalid name '1R'");
    expect_schema_error("\"null\"", "standalone null");
    expect_schema_error("{\"type\":", "avro schema: ");
    smt_buf_init(&b);
    for (i = 0; i < 100; i++) {
        smt_buf_adds(&b, "{\"type\":\"array\",\"items\":");
    }
    smt_buf_adds(&b, "\"int\"");
    for (i = 0; i < 100; i++) {
        smt_buf_addc(&b, '}');
    }
    expect_schema_error(b.ptr, "nested deeper than 64");
    smt_buf_fini(&b);
}

/* Lengths and counts that the bytes cannot back. */
static void test_hostile_datums(void)
{
    static const char strs[] = "{\"type\":\"array\",\"items\":\"string\"}";
    static const char empt[] =
        "{\"type\":\"array\",\"items\":{\"type\":\"record\",\"name\":\"E\","
        "\"fields\":[]}}";
    struct smt_err          err;
    struct smt_avro_schema *s = smt_avro_schema_new(strs, strlen(strs), &err);
    struct smt_avro_schema *e = smt_avro_schema_new(empt, strlen(empt), &err);
    struct smt_arena        a;
    struct bb               x;

    T_OK(s != NULL && e != NULL);
    if (s == NULL || e == NULL) {
        smt_avro_schema_free(s);
        smt_avro_schema_free(e);
        return;
    }
    smt_arena_init(&a, 4096);
    /* one string claiming a gigabyte */
    x.n = 0;
    bb_long(&x, 1);
    bb_long(&x, 1000000000);
    bb_raw(&x, "abc", 3);
    T_OK(smt_avro_datum_decode(s, &a, (const char *)x.b, x.n, &err) == NULL);
    T_OK(strstr(err.msg, "runs past the end") != NULL);
    /* a billion strings in four bytes */
    x.n = 0;
    bb_long(&x, 1000000000);
    bb_str(&x, "a");
    T_OK(smt_avro_datum_decode(s, &a, (const char *)x.b, x.n, &err) == NULL);
    T_OK(strstr(err.msg, "block of 1000000000 elements") != NULL);
    /* negative length, overlong varint */
    x.n = 0;
    bb_long(&x, 1);
    bb_long(&x, -5);
    T_OK(smt_avro_datum_decode(s, &a, (const char *)x.b, x.n, &err) == NULL);
    T_OK(strstr(err.msg, "negative length") != NULL);
    memset(x.b, 0xff, 12);
    T_OK(smt_avro_datum_decode(s, &a, (const char *)x.b, 12, &err) == NULL);
    T_OK(strstr(err.msg, "invalid long encoding") != NULL);
    /* 2^40 empty records cost no bytes: capped */
    x.n = 0;
    bb_long(&x, 1LL << 40);
    bb_long(&x, 0);
    T_OK(smt_avro_datum_decode(e, &a, (const char *)x.b, x.n, &err) == NULL);
    T_EQI(err.code, SMT_E_LIMIT);
    /* a block with a size (negative count) is read as well */
    x.n = 0;
    bb_long(&x, -2);
    bb_long(&x, 4);
    bb_str(&x, "a");
    bb_str(&x, "b");
    bb_long(&x, 0);
    T_OK(smt_avro_datum_decode(s, &a, (const char *)x.b, x.n, &err) != NULL);
    smt_arena_fini(&a);
    smt_avro_schema_free(s);
    smt_avro_schema_free(e);
}

/* ---------------------------------------------------------------------- */
/* Through pipelines, with local schema files */

static char dir[64];

static void write_file(const char *name, const char *text)
{
    char  path[128];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "w");
    if (f != NULL) {
        fputs(text, f);
        fclose(f);
    }
}

static const char sensor_v1[] =
    "{\"type\":\"record\",\"name\":\"Sensor\",\"namespace\":\"acme\","
    "\"fields\":[{\"name\":\"id\",\"type\":\"string\"},"
    "{\"name\":\"temp\",\"type\":\"double\"},"
    "{\"name\":\"email\",\"type\":[\"null\",\"string\"],\"default\":null}]}";
/* what InsertField (static.field relay) makes of it */
static const char sensor_relay[] =
    "{\"type\":\"record\",\"name\":\"Sensor\",\"namespace\":\"acme\","
    "\"fields\":[{\"name\":\"id\",\"type\":\"string\"},"
    "{\"name\":\"temp\",\"type\":\"double\"},"
    "{\"name\":\"email\",\"type\":[\"null\",\"string\"]},"
    "{\"name\":\"relay\",\"type\":[\"null\",\"string\"]}]}";
/* what Cast temp:string makes of it */
static const char sensor_cast[] =
    "{\"type\":\"record\",\"name\":\"Sensor\",\"namespace\":\"acme\","
    "\"fields\":[{\"name\":\"id\",\"type\":\"string\"},"
    "{\"name\":\"temp\",\"type\":\"string\"},"
    "{\"name\":\"email\",\"type\":[\"null\",\"string\"]}]}";

#define MAX_OUT 8

struct seen {
    int              n;
    int              outcome[MAX_OUT];
    char             route[MAX_OUT][32];
    struct smt_bytes value[MAX_OUT];
    int              stage[MAX_OUT];
    int              cancelled[MAX_OUT];
    char             msg[MAX_OUT][256];
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
        s->value[i] = out->rec->value.raw;
    }
    if (out->outcome == SMT_OUT_FAIL) {
        s->stage[i] = out->err->stage;
        s->cancelled[i] = out->cancelled;
        snprintf(s->msg[i], sizeof(s->msg[i]), "%s", out->err->msg);
    }
}

static struct smt_pipeline_conf *load(const char *text, char *diag,
                                      size_t dsize)
{
    struct smt_diags          d;
    struct smt_pipeline_conf *pc;
    char                      name[128];

    snprintf(name, sizeof(name), "%s/p.yaml", dir);
    smt_diags_init(&d);
    pc = smt_pipeline_conf_load_yaml(name, text, strlen(text), &d);
    if (diag != NULL) {
        snprintf(diag, dsize, "%s", d.n > 0 ? d.msg[0] : "");
    } else if (d.n > 0) {
        fprintf(stderr, "%s\n", d.msg[0]);
    }
    smt_diags_fini(&d);
    return pc;
}

/* Decodes an output value with the pipeline's codec into JSON text. */
static void out_json(struct smt_pipeline_conf *pc, struct smt_bytes raw,
                     int32_t want_id, char *buf, size_t size)
{
    struct smt_arena a;
    struct smt_err   err;
    struct smt_val  *v;
    struct smt_buf   b;
    int32_t          id;

    buf[0] = '\0';
    if (raw.ptr == NULL || raw.len < 5) {
        snprintf(buf, size, "(no value)");
        return;
    }
    id = (int32_t)((uint32_t)(unsigned char)raw.ptr[1] << 24 |
                   (uint32_t)(unsigned char)raw.ptr[2] << 16 |
                   (uint32_t)(unsigned char)raw.ptr[3] << 8 |
                   (uint32_t)(unsigned char)raw.ptr[4]);
    T_EQI(id, want_id);
    smt_arena_init(&a, 1024);
    v = smt_avro_decode(pc->codec, &a, raw, NULL, &err);
    if (v == NULL) {
        snprintf(buf, size, "(%s)", err.msg);
    } else {
        smt_buf_init(&b);
        smt_json_write(&b, v, &err);
        snprintf(buf, size, "%s", b.ptr);
        smt_buf_fini(&b);
    }
    smt_arena_fini(&a);
}

static void run(struct smt_pipeline *pl, const struct bb *x, struct seen *s,
                struct smt_arena *a)
{
    struct smt_record in;

    memset(s, 0, sizeof(*s));
    smt_arena_reset(a);
    smt_record_init(&in, a, SMT_FMT_STRING, SMT_FMT_AVRO);
    in.topic = SMT_BYTES_LIT("sensors.raw");
    in.partition = 0;
    in.offset = 1;
    in.value.raw.ptr = smt_arena_memdup(a, x->b, x->n);
    in.value.raw.len = x->n;
    smt_pipeline_process(pl, &in, collect, s);
}

static void sensor(struct bb *x, int32_t id, const char *email)
{
    x->n = 0;
    bb_header(x, id);
    bb_str(x, "s-1");
    bb_double(x, 21.5);
    if (email != NULL) {
        bb_long(x, 1);
        bb_str(x, email);
    } else {
        bb_long(x, 0);
    }
}

static void test_pipeline(void)
{
    static const char yaml[] =
        "input: {topics: [sensors.raw], value.format: avro, "
        "key.format: string}\n"
        "schemas:\n"
        "  1: v1.avsc\n"
        "  2: {file: relay.avsc}\n"
        "  3: cast.avsc\n"
        "errors: {tolerance: all}\n"
        "routes:\n"
        "  - name: mask\n"
        "    transforms: [{type: MaskField$Value, fields: email}]\n"
        "  - name: insert\n"
        "    transforms: [{type: InsertField$Value, static.field: relay, "
        "static.value: px1}]\n"
        "  - name: cast\n"
        "    transforms: [{type: Cast$Value, spec: 'temp:string'}]\n"
        "  - name: plain\n"
        "    topic: copy\n"
        "  - name: bad\n"
        "    transforms: [{type: Cast$Value, spec: 'temp:int32'}]\n";
    struct smt_pipeline_conf *pc;
    struct smt_pipeline      *pl;
    struct smt_err            err;
    struct smt_arena          a;
    struct seen               s;
    struct bb                 x;
    char                      js[512];

    write_file("v1.avsc", sensor_v1);
    write_file("relay.avsc", sensor_relay);
    write_file("cast.avsc", sensor_cast);
    pc = load(yaml, NULL, 0);
    T_OK(pc != NULL && pc->codec != NULL);
    if (pc == NULL) {
        return;
    }
    pl = smt_pipeline_new(pc, &err);
    T_OK(pl != NULL);
    if (pl == NULL) {
        smt_pipeline_conf_free(pc);
        return;
    }
    smt_arena_init(&a, 4096);
    sensor(&x, 1, "a@b.c");
    run(pl, &x, &s, &a);
    T_EQI(s.n, 5);
    /* MaskField: same schema object, so the input's id */
    T_EQI(s.outcome[0], SMT_OUT_RECORD);
    out_json(pc, s.value[0], 1, js, sizeof(js));
    T_EQS(js, "{\"id\":\"s-1\",\"temp\":21.5,\"email\":\"\"}");
    /* InsertField: a new schema, matched to local id 2 */
    T_EQI(s.outcome[1], SMT_OUT_RECORD);
    out_json(pc, s.value[1], 2, js, sizeof(js));
    T_EQS(js, "{\"id\":\"s-1\",\"temp\":21.5,\"email\":\"a@b.c\","
              "\"relay\":\"px1\"}");
    /* Cast: id 3 */
    T_EQI(s.outcome[2], SMT_OUT_RECORD);
    out_json(pc, s.value[2], 3, js, sizeof(js));
    T_EQS(js, "{\"id\":\"s-1\",\"temp\":\"21.5\",\"email\":\"a@b.c\"}");
    /* untouched: the very bytes */
    T_EQI(s.outcome[3], SMT_OUT_RECORD);
    T_OK(s.value[3].len == x.n && memcmp(s.value[3].ptr, x.b, x.n) == 0);
    /* a schema no local file has: fails at VALUE_CONVERTER */
    T_EQI(s.outcome[4], SMT_OUT_FAIL);
    T_EQI(s.stage[4], SMT_STAGE_VALUE_CONVERTER);
    T_OKM(strstr(s.msg[4], "is not among the local schemas") != NULL, "%s",
          s.msg[4]);

    /* a null email: still fine; a tombstone passes as a tombstone */
    sensor(&x, 1, NULL);
    run(pl, &x, &s, &a);
    T_EQI(s.outcome[1], SMT_OUT_RECORD);
    out_json(pc, s.value[1], 2, js, sizeof(js));
    T_EQS(js, "{\"id\":\"s-1\",\"temp\":21.5,\"email\":null,"
              "\"relay\":\"px1\"}");

    /* decode errors: reported once (by the first route), at
     * VALUE_CONVERTER, naming the cause */
    x.n = 0;
    bb_raw(&x, "{\"a\":1}", 7);
    run(pl, &x, &s, &a);
    T_EQI(s.outcome[0], SMT_OUT_FAIL);
    T_EQI(s.stage[0], SMT_STAGE_VALUE_CONVERTER);
    T_EQS(s.msg[0], "unknown magic byte 0x7b (the Confluent wire format "
                    "starts with 0)");
    T_EQI(s.n, 2); /* the failure and the untouched copy */
    x.n = 0;
    bb_raw(&x, "\0\0\0", 3);
    run(pl, &x, &s, &a);
    T_EQS(s.msg[0], "message of 3 bytes is shorter than the 5-byte wire "
                    "format header");
    sensor(&x, 99, NULL);
    run(pl, &x, &s, &a);
    T_EQS(s.msg[0], "unknown schema id 99");
    sensor(&x, 1, NULL);
    x.n -= 2;
    run(pl, &x, &s, &a);
    T_OKM(strncmp(s.msg[0], "schema id 1: field 'temp': truncated datum at "
                            "byte", 46) == 0, "%s", s.msg[0]);
    sensor(&x, 1, NULL);
    x.b[x.n++] = 0;
    run(pl, &x, &s, &a);
    T_EQS(s.msg[0], "schema id 1: 1 trailing bytes after the datum");

    smt_arena_fini(&a);
    smt_pipeline_free(pl);
    smt_pipeline_conf_free(pc);
}

/* A registry that does not answer is a retriable failure: the route is
 * tried again with Connect's backoff within errors.retry.timeout (300 ms,
 * then the rest of the 700 ms: three attempts), then fails at
 * VALUE_CONVERTER; without a retry timeout it is tried once. */
static void test_retriable_registry(void)
{
    static const char *const yaml[3] = {
        "input: {topics: [a], value.format: avro}\n"
        "schema.registry: {url: 'http://127.0.0.1:1', timeout: 200ms}\n"
        "errors: {tolerance: all, retry.timeout: 700ms}\n"
        "routes: [{name: r, transforms: [{type: InsertField$Value, "
        "static.field: x, static.value: y}]}]\n",
        "input: {topics: [a], value.format: avro}\n"
        "schema.registry: {url: 'http://127.0.0.1:1', timeout: 200ms}\n"
        "errors: {tolerance: all}\n"
        "routes: [{name: r, transforms: [{type: InsertField$Value, "
        "static.field: x, static.value: y}]}]\n",
        /* retry forever, but the owner is stopping: one attempt */
        "input: {topics: [a], value.format: avro}\n"
        "schema.registry: {url: 'http://127.0.0.1:1', timeout: 200ms}\n"
        "errors: {tolerance: all, retry.timeout: -1}\n"
        "routes: [{name: r, transforms: [{type: InsertField$Value, "
        "static.field: x, static.value: y}]}]\n",
    };
    static const uint64_t want_requests[3] = {3, 1, 1};
    static const volatile int stopping = 1;
    static const char     datum[] = {0, 0, 0, 0, 42, 2};
    int                   k;

    for (k = 0; k < 3; k++) {
        struct smt_pipeline_conf *pc = load(yaml[k], NULL, 0);
        struct smt_pipeline      *pl;
        struct smt_record         rec;
        struct smt_arena          a;
        struct smt_err            err;
        struct seen               s;
        uint64_t                  n0;

        T_OK(pc != NULL);
        if (pc == NULL) {
            continue;
        }
        pl = smt_pipeline_new(pc, &err);
        T_OK(pl != NULL);
        if (k == 2) {
            pl->cancel = &stopping;
        }
        smt_arena_init(&a, 4096);
        smt_record_init(&rec, &a, SMT_FMT_JSON, SMT_FMT_AVRO);
        rec.codec = pc->codec;
        rec.topic = smt_bytes_str("a");
        rec.value.raw.ptr = datum;
        rec.value.raw.len = sizeof(datum);
        memset(&s, 0, sizeof(s));
        n0 = smt_schemareg_requests(smt_codec_registry(pc->codec));
        smt_pipeline_process(pl, &rec, collect, &s);
        T_EQI(s.n, 1);
        T_EQI(s.stage[0], SMT_STAGE_VALUE_CONVERTER);
        T_EQI(s.cancelled[0], k == 2); /* cut short, not exhausted */
        T_EQI(smt_schemareg_requests(smt_codec_registry(pc->codec)) - n0,
              want_requests[k]);
        smt_arena_fini(&a);
        smt_pipeline_free(pl);
        smt_pipeline_conf_free(pc);
    }
}

static void test_config(void)
{
    struct smt_pipeline_conf *pc;
    char                      diag[512];
    struct smt_diags          d;
    static const char         props[] =
        "name=c\n"
        "topics=a\n"
        "value.converter=io.confluent.connect.avro.AvroConverter\n"
        "value.converter.schema.registry.url=http://127.0.0.1:1\n"
        "value.converter.auto.register.schemas=false\n";
    static const char         props_nourl[] =
        "name=c\n"
        "topics=a\n"
        "value.converter=io.confluent.connect.avro.AvroConverter\n";

    pc = load("input: {topics: [a], value.format: avro}\n"
              "routes: [{name: r}]\n",
              diag, sizeof(diag));
    T_OK(pc == NULL);
    T_OKM(strstr(diag, "p.yaml:1:36: avro needs 'schema.registry'") != NULL,
          "%s", diag);
    pc = load("input: {topics: [a], value.format: avro}\n"
              "schemas: {x: a.avsc}\n"
              "routes: [{name: r}]\n",
              diag, sizeof(diag));
    T_OK(pc == NULL);
    T_OKM(strstr(diag, "p.yaml:2:11: schemas: 'x' is not a schema id") !=
              NULL, "%s", diag);
    pc = load("input: {topics: [a], value.format: avro}\n"
              "schemas: {1: missing.avsc}\n"
              "routes: [{name: r}]\n",
              diag, sizeof(diag));
    T_OK(pc == NULL);
    T_OKM(strstr(diag, "p.yaml:2:14: schemas: id 1: cannot read") != NULL,
          "%s", diag);
    write_file("broken.avsc", "{\"type\":\"record\"}");
    pc = load("input: {topics: [a], value.format: avro}\n"
              "schemas: {1: broken.avsc}\n"
              "routes: [{name: r}]\n",
              diag, sizeof(diag));
    T_OK(pc == NULL);
    T_OKM(strstr(diag, "record without a 'name'") != NULL, "%s", diag);
    pc = load("input: {topics: [a], value.format: avro}\n"
              "schema.registry: {url: http://sr:8081, use.latest.versio: 1}\n"
              "routes: [{name: r}]\n",
              diag, sizeof(diag));
    T_OK(pc == NULL);
    T_OKM(strstr(diag, "p.yaml:2:40: unknown option 'use.latest.versio'") !=
              NULL, "%s", diag);
    pc = load("input: {topics: [a], value.format: avro}\n"
              "schema.registry: {url: 'ftp://x'}\n"
              "routes: [{name: r}]\n",
              diag, sizeof(diag));
    T_OK(pc == NULL);
    T_OKM(strstr(diag, "p.yaml:2:24: schema.registry: ") != NULL, "%s", diag);
    pc = load("input: {topics: [a], value.format: avro}\n"
              "schema.registry: {url: 'http://sr:8081', "
              "basic.auth.user.info: 'u:p'}\n"
              "routes: [{name: r}]\n",
              diag, sizeof(diag));
    T_OK(pc != NULL && pc->codec != NULL);
    smt_pipeline_conf_free(pc);

    /* a Connect connector config with AvroConverter */
    smt_diags_init(&d);
    pc = smt_pipeline_conf_load_connect("c.properties", props, strlen(props),
                                        &d);
    T_OK(pc != NULL && pc->codec != NULL && pc->value_fmt == SMT_FMT_AVRO);
    smt_pipeline_conf_free(pc);
    smt_diags_fini(&d);
    smt_diags_init(&d);
    pc = smt_pipeline_conf_load_connect("c.properties", props_nourl,
                                        strlen(props_nourl), &d);
    T_OK(pc == NULL && d.n == 1);
    T_OKM(d.n > 0 && strstr(d.msg[0], "c.properties:3:17: avro needs") !=
                         NULL, "%s", d.n ? d.msg[0] : "");
    smt_diags_fini(&d);
}

int main(void)
{
    char cmd[128];

    snprintf(dir, sizeof(dir), "/tmp/test_avro.XXXXXX");
    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    test_all_types();
    test_encode_errors();
    test_schema_errors();
    test_hostile_datums();
    test_pipeline();
    test_config();
    test_retriable_registry();
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0) {
        fprintf(stderr, "could not remove %s\n", dir);
    }
    return t_done("test_avro");
}

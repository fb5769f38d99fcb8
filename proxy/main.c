/*
 * main.c - the smtproxy command line: `apply` (a pipeline over JSON-lines
 * records on stdin, no Kafka), `check` (lint a pipeline config),
 * `transforms` (every transform and option, from the option tables; with
 * --markdown it is docs/transforms.md), and `run` (the relay, later).
 *
 * `apply` is the offline twin of the daemon: it builds a struct smt_record
 * per input line and calls the same smt_pipeline_process() the relay will
 * call, so what a user tries on a laptop is what production does. It is
 * also the fastest way to feed a pipeline a lot of records, so the input
 * loop reads with read(2) into one growing buffer, parses each line with our
 * own JSON parser into a per-line arena (reset, never freed, per line), and
 * points the record's key and value straight at the bytes of the line: no
 * per-line malloc, no copy of the payload.
 *
 * Output is one JSON line per outcome (see usage_apply below for the
 * format). Keys and values are written as JSON when the bytes are one line
 * of valid JSON (json formats), as a JSON string for the string format, and
 * as base64 otherwise, so any record, even a malformed one, round-trips.
 */
#include "px.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Exit statuses (documented in --help). */
enum {
    PX_EXIT_OK = 0,
    PX_EXIT_FAIL = 1,    /* check: errors; apply: stopped by a failure */
    PX_EXIT_USAGE = 2,   /* bad command line or unusable config */
    PX_EXIT_BADLINE = 3, /* apply: some input lines were rejected */
    PX_EXIT_INTR = 130,  /* apply: interrupted (SIGINT/SIGTERM) */
};

static const char usage_main[] =
    "usage: smtproxy COMMAND [OPTIONS]\n"
    "\n"
    "commands:\n"
    "  apply -c FILE [--max-errors N] [--progress]\n"
    "                    run the pipeline over JSON-lines records on stdin\n"
    "  check -c FILE     load and instantiate a pipeline, report every error\n"
    "  test -c FILE [CASES...]\n"
    "                    run declarative pipeline tests (FILE.test.yaml)\n"
    "  transforms [--markdown]\n"
    "                    list every transform and predicate with its options\n"
    "  options [--markdown]\n"
    "                    list every section and key of the pipeline file\n"
    "  run -c FILE [--progress] [--stats-file F] [--bootstrap-file F]\n"
    "                    the Kafka relay\n"
    "  --help            this text; `smtproxy COMMAND --help` for details\n"
    "  --version         print the version\n"
    "\n"
    "FILE is a pipeline YAML file, or a Kafka Connect connector config\n"
    "(.properties, or the .json of the Connect REST API) which loads as a\n"
    "one-route pipeline.\n";

static const char usage_apply[] =
    "usage: smtproxy apply -c FILE [--max-errors N] [--progress]\n"
    "\n"
    "Reads one JSON object per line on stdin, runs it through every route of\n"
    "the pipeline and writes one JSON line per outcome on stdout.\n"
    "\n"
    "input members (all optional):\n"
    "  topic        string; default: the pipeline's first input topic\n"
    "  partition    integer; default 0\n"
    "  offset       integer; default: the line's index, from 0\n"
    "  timestamp    integer milliseconds, or null; default: none\n"
    "  key, value   any JSON value. For json formats the bytes are the exact\n"
    "               source text of the value; for string/bytes formats a JSON\n"
    "               string gives its content, anything else its JSON text;\n"
    "               null is a null key / a tombstone\n"
    "  key_base64, value_base64\n"
    "               the raw bytes in base64 (to give malformed input)\n"
    "  headers      [[name, text-or-null], ...]; an item may also be\n"
    "               {\"name\": N, \"value_base64\": B} for binary values\n"
    "  route, error ignored, so that apply's output can be fed back in\n"
    "\n"
    "output lines:\n"
    "  record       {\"route\":R,\"topic\":T,\"partition\":P,\"offset\":O,\n"
    "                \"timestamp\":TS,\"key\":K,\"value\":V,\"headers\":[..]}\n"
    "               K/V are JSON when the bytes are one line of valid JSON\n"
    "               (json formats), a JSON string for the string format,\n"
    "               otherwise \"key_base64\"/\"value_base64\"\n"
    "  failure      {\"route\":R,\"error\":{\"stage\":S,\"class\":C,\n"
    "                \"exception\":E,\"message\":M,\"step\":ID},\"dlq\":Q,\n"
    "                ...the ORIGINAL input record...}\n"
    "               (\"dlq\" is the dead-letter topic, null when none)\n"
    "  drop         no line (a Filter in the route's chain took it)\n"
    "  unrouted     (no route's condition took the record), by the\n"
    "               pipeline's unrouted policy:\n"
    "                 drop:  no line\n"
    "                 topic: a record line with \"route\":null and the\n"
    "                        unrouted topic\n"
    "                 dlq:   a failure line with \"route\":null, stage\n"
    "                        \"NONE\", class \"smtproxy.router\", exception\n"
    "                        null, message \"no route took the record\";\n"
    "                        this is policy, not a failure: it never stops\n"
    "                        apply\n"
    "\n"
    "errors.tolerance none (the default, as in Kafka Connect): the first\n"
    "failure is written, the rest of that record's outcomes too, then apply\n"
    "stops. errors.tolerance all: failures are written and apply goes on.\n"
    "\n"
    "Bad input lines (not JSON, not an object, bad base64, wrong member\n"
    "types) are reported on stderr as `stdin:LINE: message` and skipped.\n"
    "A summary goes to stderr at the end.\n"
    "\n"
    "options:\n"
    "  -c FILE          the pipeline configuration\n"
    "  --max-errors N   stop after N bad input lines (default 0: never)\n"
    "  --progress       a progress line on stderr: refreshed in place every\n"
    "                   0.5 s on a terminal, a new line every 2 s otherwise\n"
    "\n"
    "exit status: 0 ok, 1 stopped by a failure under errors.tolerance none,\n"
    "2 usage or configuration error, 3 bad input lines were seen,\n"
    "130 interrupted\n";

static const char usage_check[] =
    "usage: smtproxy check -c FILE\n"
    "\n"
    "Loads the pipeline, compiles every condition and instantiates every\n"
    "step once. Every problem is printed on stderr as file:line:col: message.\n"
    "On success prints \"FILE: ok (N routes, M steps)\".\n"
    "\n"
    "exit status: 0 ok, 1 errors in the configuration, 2 usage error\n";

static const char usage_test[] =
    "usage: smtproxy test -c FILE [CASES...]\n"
    "\n"
    "Runs declarative test files against the pipeline FILE, offline, through\n"
    "the same code the relay runs, and reports what the relay would produce,\n"
    "drop and send to the dead letter queue. Without CASES the test file is\n"
    "FILE with its extension replaced by .test.yaml (config/sensors.yaml ->\n"
    "config/sensors.test.yaml). docs/testing.md describes the format:\n"
    "\n"
    "  partitions: 4            # optional: partition count for `partition:`\n"
    "  defaults: {topic: t}     # optional: members every input starts from\n"
    "  cases:\n"
    "    - name: what it shows\n"
    "      input: {key: k, value: {a: 1}, headers: [[h, v]], timestamp: 1}\n"
    "      # or inputs: [...]; key/value also as key_json, key_text,\n"
    "      # key_base64; topic, partition, offset\n"
    "      outputs:              # every topic that gets a record, in order\n"
    "        out.topic: [{key: k, value: {a: 1}, headers: [[h, v]]}]\n"
    "      dropped: [{route: r, reason: filtered}, {reason: unrouted}]\n"
    "      dlq: [{topic: d, stage: TRANSFORMATION, route: r, step: s,\n"
    "             class: C, exception: E, message: prefix}]\n"
    "      stops: false          # errors.tolerance none stops the relay\n"
    "\n"
    "Expectations are exact: an output, drop or failure not listed fails the\n"
    "case. Keys and values given as YAML or _json are compared as JSON values\n"
    "(member order ignored; 1 and 1.0 differ); _text and _base64 compare\n"
    "bytes. A failing case prints the path of the first differing field with\n"
    "the expected and the actual value. Output ends with \"N passed, N failed\".\n"
    "\n"
    "exit status: 0 every case passed, 1 a case failed, 2 usage error or a\n"
    "broken pipeline or test file (reported as file:line:col)\n";

static const char usage_options[] =
    "usage: smtproxy options [--markdown]\n"
    "\n"
    "Lists every section of the pipeline file and each key's type, default,\n"
    "valid values and description, from the same option tables the loader\n"
    "uses. --markdown writes the reference part of docs/config.md instead\n"
    "(`make docs` puts it between that file's GENERATED markers).\n"
    "\n"
    "exit status: 0 ok, 2 usage error\n";

static const char usage_transforms[] =
    "usage: smtproxy transforms [--markdown]\n"
    "\n"
    "Lists every transform and predicate with its Kafka Connect class\n"
    "names and options (type, default, valid values, description), from the\n"
    "same option tables the loader uses. --markdown writes the content of\n"
    "docs/transforms.md instead (`make docs`).\n"
    "\n"
    "exit status: 0 ok, 2 usage error\n";

static const char usage_run[] =
    "usage: smtproxy run -c FILE [--progress] [--stats-file F]\n"
    "                    [--bootstrap-file F]\n"
    "\n"
    "The Kafka relay: consumes the pipeline's input topics in a consumer\n"
    "group, runs every record through every route on worker threads, and\n"
    "produces the outputs (and DLQ records). An input offset is committed\n"
    "only when every record derived from it is acknowledged by the broker.\n"
    "With `bootstrap.servers: embedded` it starts librdkafka's in-process\n"
    "mock cluster and creates the pipeline's topics.\n"
    "\n"
    "  --progress          a progress line on stderr (records/s in, out per\n"
    "                      route, DLQ)\n"
    "  --stats-file F      keep a JSON snapshot of the counters in F\n"
    "                      (rewritten every 0.5 s)\n"
    "  --bootstrap-file F  with the embedded cluster: write its bootstrap\n"
    "                      address to F once it is up\n"
    "\n"
    "SIGTERM or SIGINT: stop fetching, finish and deliver what is in flight,\n"
    "commit, exit 0 (within delivery.shutdown.timeout); a second signal\n"
    "exits at once.\n"
    "\n"
    "exit status: 0 stopped cleanly, 1 stopped by a failure (a record under\n"
    "errors.tolerance=none, an undeliverable DLQ record, a fatal client\n"
    "error) without committing past it, 2 usage or configuration error\n";

/* ---------------------------------------------------------------------- */
/* Output helpers                                                           */

static volatile sig_atomic_t px_stop; /* set by SIGINT/SIGTERM */

static void px_on_signal(int sig)
{
    (void)sig;
    px_stop = 1;
}

/* Writes all of p to fd; returns 0 or -1 (errno set). */
static int px_write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);

        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static void buf_int(struct smt_buf *b, int64_t v)
{
    char     tmp[24];
    char    *e = tmp + sizeof(tmp), *p = e;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;

    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u != 0);
    if (v < 0) {
        *--p = '-';
    }
    smt_buf_add(b, p, (size_t)(e - p));
}

static void buf_str(struct smt_buf *b, struct smt_bytes s)
{
    if (s.ptr == NULL) {
        smt_buf_add(b, "null", 4);
    } else {
        smt_json_write_str(b, s.ptr, s.len);
    }
}

static void buf_cstr(struct smt_buf *b, const char *s)
{
    if (s == NULL) {
        smt_buf_add(b, "null", 4);
    } else {
        smt_json_write_str(b, s, strlen(s));
    }
}

/* 1 when p[0..n) is well-formed UTF-8 (no overlongs, no surrogates). */
static int utf8_valid(const unsigned char *p, size_t n)
{
    size_t i = 0;

    while (i < n) {
        unsigned c = p[i];
        size_t   k, need;
        unsigned cp;

        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf) {
            need = 1;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            need = 2;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            need = 3;
            cp = c & 0x07;
        } else {
            return 0;
        }
        if (n - i <= need) {
            return 0;
        }
        for (k = 1; k <= need; k++) {
            if ((p[i + k] & 0xc0) != 0x80) {
                return 0;
            }
            cp = (cp << 6) | (p[i + k] & 0x3f);
        }
        if ((need == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
            (need == 3 && (cp < 0x10000 || cp > 0x10ffff))) {
            return 0;
        }
        i += need + 1;
    }
    return 1;
}

static int has_line_break(struct smt_bytes s)
{
    return memchr(s.ptr, '\n', s.len) != NULL ||
           memchr(s.ptr, '\r', s.len) != NULL;
}

/* ---------------------------------------------------------------------- */
/* apply                                                                    */

struct px_apply {
    struct smt_pipeline_conf       *pc;
    struct smt_pipeline            *pl;
    struct smt_arena                arena;  /* per line, reset per line */
    struct smt_buf                  out;    /* pending stdout bytes */
    struct smt_bytes                deftopic;
    /* where the current input record's key/value came from */
    int                             key_json_text, value_json_text;
    /* counters */
    uint64_t                        in, dropped, failed, unrouted, bad, dlq;
    uint64_t                        unrouted_out;
    uint64_t                       *routed; /* per route */
    /* stop state */
    uint64_t                        lineno; /* of the current line */
    int                             stop_fail;
    char                            stop_msg[512];
};

/* Writes "key":.. (or "key_base64":..) for one side. json_text: the bytes
 * are known to be one valid JSON text (they came from the input line, or
 * were decoded or encoded by the pipeline). */
static void write_side(struct px_apply *ap, const char *name,
                       const struct smt_data *d, int json_text)
{
    struct smt_buf  *b = &ap->out;
    struct smt_bytes raw = d->raw;
    struct smt_err   err;
    int              fmt = d->fmt;

    smt_buf_addc(b, '"');
    smt_buf_adds(b, name);
    if (raw.ptr == NULL) {
        smt_buf_add(b, "\":null", 6);
        return;
    }
    if (fmt == SMT_FMT_JSON || fmt == SMT_FMT_JSON_ENVELOPE) {
        if (!json_text && !has_line_break(raw)) {
            json_text = smt_json_parse(&ap->arena, raw.ptr, raw.len, &err) !=
                        NULL;
        }
        if (json_text && !has_line_break(raw)) {
            smt_buf_add(b, "\":", 2);
            smt_buf_add(b, raw.ptr, raw.len);
            return;
        }
    } else if (fmt == SMT_FMT_STRING &&
               utf8_valid((const unsigned char *)raw.ptr, raw.len)) {
        smt_buf_add(b, "\":", 2);
        smt_json_write_str(b, raw.ptr, raw.len);
        return;
    }
    smt_buf_add(b, "_base64\":\"", 10);
    smt_base64_encode(b, (const unsigned char *)raw.ptr, raw.len);
    smt_buf_addc(b, '"');
}

static void write_headers(struct px_apply *ap, const struct smt_record *rec)
{
    struct smt_buf *b = &ap->out;
    uint32_t        i;

    smt_buf_add(b, "\"headers\":[", 11);
    for (i = 0; i < rec->nhdrs; i++) {
        const struct smt_header *h = &rec->hdrs[i];

        if (i > 0) {
            smt_buf_addc(b, ',');
        }
        if (h->value.ptr == NULL ||
            utf8_valid((const unsigned char *)h->value.ptr, h->value.len)) {
            smt_buf_addc(b, '[');
            buf_str(b, h->name);
            smt_buf_addc(b, ',');
            buf_str(b, h->value);
            smt_buf_addc(b, ']');
        } else {
            smt_buf_add(b, "{\"name\":", 8);
            buf_str(b, h->name);
            smt_buf_add(b, ",\"value_base64\":\"", 17);
            smt_base64_encode(b, (const unsigned char *)h->value.ptr,
                              h->value.len);
            smt_buf_add(b, "\"}", 2);
        }
    }
    smt_buf_addc(b, ']');
}

/* The record part of an output line, from "topic" to the closing brace.
 * topic overrides rec->topic when its ptr is not NULL. */
static void write_record_body(struct px_apply *ap, const struct smt_record *rec,
                              struct smt_bytes topic, int key_json,
                              int value_json)
{
    struct smt_buf *b = &ap->out;

    smt_buf_add(b, "\"topic\":", 8);
    buf_str(b, topic.ptr != NULL ? topic : rec->topic);
    smt_buf_add(b, ",\"partition\":", 13);
    buf_int(b, rec->partition);
    smt_buf_add(b, ",\"offset\":", 10);
    buf_int(b, rec->offset);
    smt_buf_add(b, ",\"timestamp\":", 13);
    if (rec->ts_ms == SMT_TS_NONE) {
        smt_buf_add(b, "null", 4);
    } else {
        buf_int(b, rec->ts_ms);
    }
    smt_buf_addc(b, ',');
    write_side(ap, "key", &rec->key, key_json);
    smt_buf_addc(b, ',');
    write_side(ap, "value", &rec->value, value_json);
    smt_buf_addc(b, ',');
    write_headers(ap, rec);
    smt_buf_add(b, "}\n", 2);
}

/* Whether an output side holds known-valid JSON text: unchanged input bytes
 * that came as JSON text or decoded fine, or bytes the pipeline encoded. */
static int side_known_json(const struct smt_data *d, const struct smt_data *in,
                           int in_json_text)
{
    if (d->raw.ptr == in->raw.ptr && d->raw.len == in->raw.len) {
        return in_json_text || in->doc != NULL;
    }
    return d->doc != NULL && d->state == SMT_DS_SHARED;
}

static void write_input(struct px_apply *ap, const struct smt_record *in)
{
    write_record_body(ap, in, SMT_BYTES_NULL,
                      ap->key_json_text || in->key.doc != NULL,
                      ap->value_json_text || in->value.doc != NULL);
}

static void apply_emit(void *opaque, const struct smt_output *o)
{
    struct px_apply               *ap = opaque;
    struct smt_buf                *b = &ap->out;
    const struct smt_errors_conf  *ec;
    const struct smt_record       *rec = o->rec, *in = o->in;
    char                           cls[192];
    const char                    *stage;

    switch (o->outcome) {
    case SMT_OUT_RECORD:
        ap->routed[o->route_index]++;
        smt_buf_add(b, "{\"route\":", 9);
        buf_cstr(b, o->route->name);
        smt_buf_addc(b, ',');
        write_record_body(ap, rec, SMT_BYTES_NULL,
                          side_known_json(&rec->key, &in->key,
                                          ap->key_json_text),
                          side_known_json(&rec->value, &in->value,
                                          ap->value_json_text));
        break;
    case SMT_OUT_DROP:
        ap->dropped++;
        break;
    case SMT_OUT_FAIL:
        ap->failed++;
        ec = smt_route_errors(ap->pc, o->route);
        if (ec->dlq_topic != NULL && ec->dlq_topic[0] != '\0') {
            ap->dlq++;
        }
        stage = smt_stage_name(o->err->stage);
        smt_buf_add(b, "{\"route\":", 9);
        buf_cstr(b, o->route->name);
        smt_buf_add(b, ",\"error\":{\"stage\":", 18);
        buf_cstr(b, stage[0] ? stage : "TRANSFORMATION");
        smt_buf_add(b, ",\"class\":", 9);
        buf_cstr(b, smt_failure_class(ap->pc, o, cls, sizeof(cls)));
        smt_buf_add(b, ",\"exception\":", 13);
        buf_cstr(b, smt_err_class(o->err->code));
        smt_buf_add(b, ",\"message\":", 11);
        buf_cstr(b, o->err->msg);
        smt_buf_add(b, ",\"step\":", 8);
        buf_cstr(b, o->step != NULL ? o->step->id : NULL);
        smt_buf_add(b, "},\"dlq\":", 8);
        buf_cstr(b, ec->dlq_topic != NULL && ec->dlq_topic[0] != '\0'
                        ? ec->dlq_topic
                        : NULL);
        smt_buf_addc(b, ',');
        write_input(ap, in);
        if (ec->tolerance == SMT_TOL_NONE && !ap->stop_fail) {
            ap->stop_fail = 1;
            snprintf(ap->stop_msg, sizeof(ap->stop_msg),
                     "record %.*s/%d/%lld (stdin:%llu): route '%s'%s%s%s: "
                     "%s: %s (errors.tolerance is none)",
                     (int)in->topic.len, in->topic.ptr, (int)in->partition,
                     (long long)in->offset, (unsigned long long)ap->lineno,
                     o->route->name,
                     o->step != NULL ? ", step '" : "",
                     o->step != NULL ? o->step->id : "",
                     o->step != NULL ? "'" : "", smt_err_class(o->err->code),
                     o->err->msg);
        }
        break;
    case SMT_OUT_UNROUTED:
        ap->unrouted++;
        if (ap->pc->unrouted == SMT_UNROUTED_TOPIC) {
            ap->unrouted_out++;
            smt_buf_add(b, "{\"route\":null,", 14);
            write_record_body(ap, in, smt_bytes_str(ap->pc->unrouted_topic),
                              ap->key_json_text || in->key.doc != NULL,
                              ap->value_json_text || in->value.doc != NULL);
        } else if (ap->pc->unrouted == SMT_UNROUTED_DLQ) {
            ec = &ap->pc->errors;
            ap->dlq++;
            smt_buf_adds(b,
                         "{\"route\":null,\"error\":{\"stage\":\"NONE\","
                         "\"class\":\"smtproxy.router\",\"exception\":null,"
                         "\"message\":\"no route took the record\","
                         "\"step\":null},\"dlq\":");
            buf_cstr(b, ec->dlq_topic);
            smt_buf_addc(b, ',');
            write_input(ap, in);
        }
        break;
    default:
        break;
    }
}

/* JSON kind of a node for messages about the input line. */
static const char *json_kind(const struct smt_val *v)
{
    switch (v->type) {
    case SMT_NULL:
        return "null";
    case SMT_BOOL:
        return "boolean";
    case SMT_STRING:
        return "string";
    case SMT_ARRAY:
        return "array";
    case SMT_OBJECT:
        return "object";
    default:
        return smt_type_is_int(v->type) ? "integer" : "number";
    }
}

/* The bytes a key/value member stands for (see usage_apply). */
static struct smt_bytes side_bytes(int fmt, const struct smt_val *v)
{
    struct smt_bytes b;

    if (v->type == SMT_NULL) {
        return SMT_BYTES_NULL;
    }
    if (fmt != SMT_FMT_JSON && fmt != SMT_FMT_JSON_ENVELOPE &&
        v->type == SMT_STRING) {
        return v->u.s;
    }
    b.ptr = v->raw;
    b.len = v->rawlen;
    return b;
}

static int parse_headers(struct smt_record *rec, const struct smt_val *hs,
                         struct smt_err *err)
{
    uint32_t i;

    if (hs->type == SMT_NULL) {
        return 0;
    }
    if (hs->type != SMT_ARRAY) {
        return smt_err_set(err, SMT_E_DATA,
                           "member 'headers': expected an array, got %s",
                           json_kind(hs));
    }
    for (i = 0; i < hs->n; i++) {
        const struct smt_val *h = hs->u.items[i], *name = NULL, *val = NULL,
                             *b64 = NULL;
        struct smt_bytes      value = SMT_BYTES_NULL;
        uint32_t              k;

        if (h->type == SMT_ARRAY && h->n == 2) {
            name = h->u.items[0];
            val = h->u.items[1];
        } else if (h->type == SMT_OBJECT) {
            for (k = 0; k < h->n; k++) {
                const struct smt_member *m = &h->u.members[k];

                if (smt_bytes_eqs(m->key, "name")) {
                    name = m->val;
                } else if (smt_bytes_eqs(m->key, "value")) {
                    val = m->val;
                } else if (smt_bytes_eqs(m->key, "value_base64")) {
                    b64 = m->val;
                } else {
                    return smt_err_set(err, SMT_E_DATA,
                                       "headers[%u]: unknown member '%.*s'", i,
                                       (int)m->key.len, m->key.ptr);
                }
            }
        } else {
            return smt_err_set(err, SMT_E_DATA,
                               "headers[%u]: expected [name, value] or "
                               "{\"name\": .., \"value_base64\": ..}",
                               i);
        }
        if (name == NULL || name->type != SMT_STRING) {
            return smt_err_set(err, SMT_E_DATA,
                               "headers[%u]: the name must be a string", i);
        }
        if (val != NULL && b64 != NULL) {
            return smt_err_set(err, SMT_E_DATA,
                               "headers[%u]: both 'value' and 'value_base64'",
                               i);
        }
        if (b64 != NULL && b64->type == SMT_STRING) {
            if (smt_base64_decode(rec->arena, b64->u.s.ptr, b64->u.s.len,
                                  &value, err) != 0) {
                return smt_err_prefix(err, "headers[%u]: value_base64: ", i);
            }
        } else if (b64 != NULL && b64->type != SMT_NULL) {
            return smt_err_set(err, SMT_E_DATA,
                               "headers[%u]: value_base64 must be a string",
                               i);
        } else if (val != NULL && val->type == SMT_STRING) {
            value = val->u.s;
        } else if (val != NULL && val->type != SMT_NULL) {
            return smt_err_set(err, SMT_E_DATA,
                               "headers[%u]: the value must be a string or "
                               "null, got %s",
                               i, json_kind(val));
        }
        smt_record_header_add(rec, name->u.s, value);
    }
    return 0;
}

static int parse_int_member(const struct smt_member *m, int64_t min,
                            int64_t max, int64_t *out, struct smt_err *err)
{
    if (!smt_type_is_int(m->val->type) || m->val->u.i < min ||
        m->val->u.i > max) {
        return smt_err_set(err, SMT_E_DATA,
                           "member '%.*s': expected an integer in "
                           "[%lld, %lld]",
                           (int)m->key.len, m->key.ptr, (long long)min,
                           (long long)max);
    }
    *out = m->val->u.i;
    return 0;
}

static int parse_b64_member(struct smt_arena *a, const struct smt_member *m,
                            struct smt_bytes *out, struct smt_err *err)
{
    if (m->val->type == SMT_NULL) {
        *out = SMT_BYTES_NULL;
        return 0;
    }
    if (m->val->type != SMT_STRING) {
        return smt_err_set(err, SMT_E_DATA,
                           "member '%.*s': expected a string, got %s",
                           (int)m->key.len, m->key.ptr, json_kind(m->val));
    }
    if (smt_base64_decode(a, m->val->u.s.ptr, m->val->u.s.len, out, err) !=
        0) {
        return smt_err_prefix(err, "member '%.*s': ", (int)m->key.len,
                              m->key.ptr);
    }
    if (out->ptr == NULL) {
        out->ptr = ""; /* empty, not null */
    }
    return 0;
}

/* Sets a side's bytes from its member. For schemaless JSON the node just
 * parsed from the line is exactly what decoding those bytes would give (same
 * parser, same source text), so it is handed to the record as its decoded
 * tree: the pipeline then never parses the value a second time. */
static void seed_side(struct smt_data *d, struct smt_val *v)
{
    d->raw = side_bytes(d->fmt, v);
    if (d->fmt == SMT_FMT_JSON && v->type != SMT_NULL) {
        d->doc = v;
        d->state = SMT_DS_SHARED;
    }
}

/* Builds rec from one input line. Returns 0, or -1 with err. */
static int parse_line(struct px_apply *ap, const char *line, size_t len,
                      int64_t index, struct smt_record *rec,
                      struct smt_err *err)
{
    struct smt_val       *root;
    const struct smt_val *hdrs = NULL;
    int                   have_key = 0, have_value = 0;
    int64_t               i64 = 0;
    uint32_t              i;

    root = smt_json_parse(&ap->arena, line, len, err);
    if (root == NULL) {
        return -1; /* the parser's message starts "invalid JSON" */
    }
    if (root->type != SMT_OBJECT) {
        return smt_err_set(err, SMT_E_DATA, "expected a JSON object, got %s",
                           json_kind(root));
    }
    smt_record_init(rec, &ap->arena, ap->pc->key_fmt, ap->pc->value_fmt);
    rec->topic = ap->deftopic;
    rec->partition = 0;
    rec->offset = index;
    ap->key_json_text = 1;
    ap->value_json_text = 1;
    for (i = 0; i < root->n; i++) {
        const struct smt_member *m = &root->u.members[i];
        struct smt_bytes         k = m->key;

        if (smt_bytes_eqs(k, "value") || smt_bytes_eqs(k, "key")) {
            int is_key = k.len == 3;

            if (is_key ? have_key++ : have_value++) {
                return smt_err_set(err, SMT_E_DATA,
                                   "both '%s' and '%s_base64' given",
                                   is_key ? "key" : "value",
                                   is_key ? "key" : "value");
            }
            seed_side(is_key ? &rec->key : &rec->value, m->val);
        } else if (smt_bytes_eqs(k, "value_base64") ||
                   smt_bytes_eqs(k, "key_base64")) {
            int is_key = k.ptr[0] == 'k';

            if (is_key ? have_key++ : have_value++) {
                return smt_err_set(err, SMT_E_DATA,
                                   "both '%s' and '%s_base64' given",
                                   is_key ? "key" : "value",
                                   is_key ? "key" : "value");
            }
            if (parse_b64_member(&ap->arena, m,
                                 is_key ? &rec->key.raw : &rec->value.raw,
                                 err) != 0) {
                return -1;
            }
            if (is_key) {
                ap->key_json_text = 0;
            } else {
                ap->value_json_text = 0;
            }
        } else if (smt_bytes_eqs(k, "topic")) {
            if (m->val->type != SMT_STRING || m->val->u.s.len == 0) {
                return smt_err_set(err, SMT_E_DATA,
                                   "member 'topic': expected a non-empty "
                                   "string");
            }
            rec->topic = m->val->u.s;
        } else if (smt_bytes_eqs(k, "partition")) {
            if (parse_int_member(m, -1, INT32_MAX, &i64, err) != 0) {
                return -1;
            }
            rec->partition = (int32_t)i64;
        } else if (smt_bytes_eqs(k, "offset")) {
            if (parse_int_member(m, -1, INT64_MAX, &i64, err) != 0) {
                return -1;
            }
            rec->offset = i64;
        } else if (smt_bytes_eqs(k, "timestamp")) {
            if (m->val->type == SMT_NULL) {
                rec->ts_ms = SMT_TS_NONE;
            } else if (parse_int_member(m, 0, INT64_MAX, &i64, err) != 0) {
                return -1;
            } else {
                rec->ts_ms = i64;
            }
        } else if (smt_bytes_eqs(k, "headers")) {
            hdrs = m->val;
        } else if (smt_bytes_eqs(k, "route") || smt_bytes_eqs(k, "error") ||
                   smt_bytes_eqs(k, "dlq")) {
            /* apply's own output fields: ignored */
        } else {
            return smt_err_set(err, SMT_E_DATA, "unknown member '%.*s'",
                               (int)k.len, k.ptr);
        }
    }
    if (rec->topic.ptr == NULL) {
        return smt_err_set(err, SMT_E_DATA,
                           "no 'topic' and the pipeline has no input topic "
                           "to default to");
    }
    if (hdrs != NULL && parse_headers(rec, hdrs, err) != 0) {
        return -1;
    }
    return 0;
}

static double now_sec(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* "audit 10, trend 900" */
static void format_routes(const struct px_apply *ap, struct smt_buf *b,
                          const char *sep)
{
    uint32_t i;

    for (i = 0; i < ap->pc->nroutes; i++) {
        smt_buf_printf(b, "%s%s %llu", i ? sep : "", ap->pc->routes[i].name,
                       (unsigned long long)ap->routed[i]);
    }
}

static void print_progress(const struct px_apply *ap, double t0, int tty,
                           int final)
{
    struct smt_buf b;
    double         dt = now_sec() - t0;

    smt_buf_init(&b);
    smt_buf_printf(&b, "%sapply: %llu in (%.0f/s) | ", tty ? "\r" : "",
                   (unsigned long long)ap->in,
                   dt > 0 ? (double)ap->in / dt : 0.0);
    format_routes(ap, &b, " ");
    smt_buf_printf(&b, " | dlq %llu dropped %llu failed %llu bad %llu",
                   (unsigned long long)ap->dlq,
                   (unsigned long long)ap->dropped,
                   (unsigned long long)ap->failed,
                   (unsigned long long)ap->bad);
    smt_buf_adds(&b, tty ? (final ? "\033[K\n" : "\033[K") : "\n");
    (void)px_write_all(2, b.ptr, b.len);
    smt_buf_fini(&b);
}

static void print_summary(const struct px_apply *ap, double t0)
{
    struct smt_buf b;
    double         dt = now_sec() - t0;

    smt_buf_init(&b);
    smt_buf_printf(&b, "apply: %llu records in (%.2f s); out: ",
                   (unsigned long long)ap->in, dt);
    if (ap->pc->nroutes == 0) {
        smt_buf_adds(&b, "no routes");
    }
    format_routes(ap, &b, ", ");
    smt_buf_printf(&b, "; dropped %llu, failed %llu, unrouted %llu",
                   (unsigned long long)ap->dropped,
                   (unsigned long long)ap->failed,
                   (unsigned long long)ap->unrouted);
    if (ap->pc->unrouted == SMT_UNROUTED_TOPIC) {
        smt_buf_printf(&b, " (to %s)", ap->pc->unrouted_topic);
    } else if (ap->pc->unrouted == SMT_UNROUTED_DLQ) {
        smt_buf_adds(&b, " (to the dlq)");
    } else {
        smt_buf_adds(&b, " (dropped)");
    }
    smt_buf_printf(&b, "; dlq %llu", (unsigned long long)ap->dlq);
    smt_buf_printf(&b, ", bad lines %llu\n", (unsigned long long)ap->bad);
    (void)px_write_all(2, b.ptr, b.len);
    smt_buf_fini(&b);
}

/* Prints every diagnostic; returns how many there were. */
static uint32_t print_diags(const struct smt_diags *d)
{
    uint32_t i;

    for (i = 0; i < d->n; i++) {
        fprintf(stderr, "%s\n", d->msg[i]);
    }
    return d->n;
}

static struct smt_pipeline_conf *load_conf(const char *path)
{
    struct smt_diags          d;
    struct smt_pipeline_conf *pc;

    smt_diags_init(&d);
    pc = smt_pipeline_conf_load(path, &d);
    print_diags(&d);
    if (pc != NULL && d.n > 0) {
        smt_pipeline_conf_free(pc);
        pc = NULL;
    }
    if (pc == NULL && d.n == 0) {
        fprintf(stderr, "%s: cannot load the configuration\n", path);
    }
    smt_diags_fini(&d);
    return pc;
}

static int flush_out(struct px_apply *ap)
{
    if (ap->out.len > 0 && px_write_all(1, ap->out.ptr, ap->out.len) != 0) {
        fprintf(stderr, "apply: writing stdout: %s\n", strerror(errno));
        return -1;
    }
    ap->out.len = 0;
    return 0;
}

static int cmd_apply(const char *path, uint64_t max_errors, int progress)
{
    struct px_apply    ap;
    struct smt_err     err;
    struct smt_record  rec;
    struct sigaction   sa;
    char              *buf;
    size_t             cap = 1u << 20, start = 0, end = 0;
    uint64_t           lineno = 0;
    int                eof = 0, rc = PX_EXIT_OK, tty = isatty(2);
    double             t0, next = 0, period = tty ? 0.5 : 2.0;

    memset(&ap, 0, sizeof(ap));
    ap.pc = load_conf(path);
    if (ap.pc == NULL) {
        return PX_EXIT_USAGE;
    }
    smt_err_clear(&err);
    ap.pl = smt_pipeline_new(ap.pc, &err);
    if (ap.pl == NULL) {
        fprintf(stderr, "%s: %s\n", path, err.msg);
        smt_pipeline_conf_free(ap.pc);
        return PX_EXIT_USAGE;
    }
    if (ap.pc->topics.n > 0) {
        ap.deftopic = smt_bytes_str(ap.pc->topics.v[0]);
    }
    ap.routed = smt_xcalloc(ap.pc->nroutes + 1, sizeof(*ap.routed));
    smt_arena_init(&ap.arena, 64 * 1024);
    smt_buf_init(&ap.out);
    smt_buf_reserve(&ap.out, 1u << 17);
    buf = smt_xmalloc(cap);

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = px_on_signal; /* no SA_RESTART: read() returns EINTR */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    t0 = now_sec();
    next = t0 + period;
    while (!px_stop) {
        char   *nl = memchr(buf + start, '\n', end - start);
        char   *line;
        size_t  len;
        ssize_t r;

        if (nl == NULL && !eof) {
            if (start > 0) {
                memmove(buf, buf + start, end - start);
                end -= start;
                start = 0;
            }
            if (end == cap) {
                cap *= 2;
                buf = smt_xrealloc(buf, cap);
            }
            r = read(0, buf + end, cap - end);
            if (r < 0) {
                if (errno == EINTR) {
                    continue;
                }
                fprintf(stderr, "apply: reading stdin: %s\n",
                        strerror(errno));
                rc = PX_EXIT_USAGE;
                break;
            }
            if (r == 0) {
                eof = 1;
            }
            end += (size_t)r;
            continue;
        }
        if (nl == NULL && start == end) {
            break; /* eof, nothing left */
        }
        line = buf + start;
        len = nl != NULL ? (size_t)(nl - line) : end - start;
        start = nl != NULL ? start + len + 1 : end;
        lineno++;
        if (len > 0 && line[len - 1] == '\r') {
            len--;
        }
        while (len > 0 && (line[len - 1] == ' ' || line[len - 1] == '\t')) {
            len--;
        }
        if (len == 0) {
            continue;
        }

        smt_arena_reset(&ap.arena);
        smt_err_clear(&err);
        if (parse_line(&ap, line, len, (int64_t)(lineno - 1), &rec, &err) !=
            0) {
            ap.bad++;
            fprintf(stderr, "stdin:%llu: %s\n", (unsigned long long)lineno,
                    err.msg);
            if (max_errors > 0 && ap.bad >= max_errors) {
                fprintf(stderr, "apply: giving up after %llu bad input "
                                "lines (--max-errors)\n",
                        (unsigned long long)ap.bad);
                break;
            }
            continue;
        }
        ap.in++;
        ap.lineno = lineno;
        smt_pipeline_process(ap.pl, &rec, apply_emit, &ap);
        if (ap.out.len >= (1u << 16) || ap.stop_fail) {
            if (flush_out(&ap) != 0) {
                rc = PX_EXIT_USAGE;
                break;
            }
        }
        if (ap.stop_fail) {
            fprintf(stderr, "apply: stopped at %s\n", ap.stop_msg);
            break;
        }
        if (progress && (ap.in & 255) == 0 && now_sec() >= next) {
            print_progress(&ap, t0, tty, 0);
            next = now_sec() + period;
        }
    }
    if (flush_out(&ap) != 0 && rc == PX_EXIT_OK) {
        rc = PX_EXIT_USAGE;
    }
    if (progress) {
        print_progress(&ap, t0, tty, 1);
    }
    print_summary(&ap, t0);
    if (rc == PX_EXIT_OK) {
        if (ap.stop_fail) {
            rc = PX_EXIT_FAIL;
        } else if (px_stop) {
            fprintf(stderr, "apply: interrupted\n");
            rc = PX_EXIT_INTR;
        } else if (ap.bad > 0) {
            rc = PX_EXIT_BADLINE;
        }
    }
    free(buf);
    free(ap.routed);
    smt_buf_fini(&ap.out);
    smt_arena_fini(&ap.arena);
    smt_pipeline_free(ap.pl);
    smt_pipeline_conf_free(ap.pc);
    return rc;
}

/* ---------------------------------------------------------------------- */
/* check                                                                    */

/* librdkafka's log lines of a client made only to check its settings
 * (it would warn that it has no brokers). */
static void quiet_log(const rd_kafka_t *rk, int level, const char *fac,
                      const char *buf)
{
    (void)rk;
    (void)level;
    (void)fac;
    (void)buf;
}

static int cmd_check(const char *path)
{
    struct smt_pipeline_conf *pc;
    struct smt_pipeline      *pl;
    struct smt_err            err;
    uint32_t                  i, steps = 0;

    pc = load_conf(path);
    if (pc == NULL) {
        return PX_EXIT_FAIL;
    }
    smt_err_clear(&err);
    pl = smt_pipeline_new(pc, &err);
    if (pl == NULL) {
        fprintf(stderr, "%s: %s\n", path, err.msg);
        smt_pipeline_conf_free(pc);
        return PX_EXIT_FAIL;
    }
    {
        /* The daemon's own sections and the Kafka client properties are
         * checked too, so `check` passes exactly when `run` would start. */
        struct px_conf   xc;
        struct smt_diags d;
        rd_kafka_conf_t *kc;
        int              which, bad = 0;

        smt_diags_init(&d);
        if (px_conf_load(&xc, pc, &d) != 0) {
            bad = 1;
        } else {
            for (which = 0; which < 2; which++) {
                kc = px_kafka_conf(pc, &xc, which,
                                   px_kafka_embedded(pc) ? "127.0.0.1:9092"
                                                         : NULL,
                                   &d);
                if (kc == NULL) {
                    bad = 1;
                    continue;
                }
                /* Some properties are only checked when a client is made
                 * (sasl.mechanism, ssl files): make one that connects to
                 * nothing, and drop it. */
                {
                    char        errstr[512];
                    rd_kafka_t *rk;

                    rd_kafka_conf_set(kc, "bootstrap.servers", "", errstr,
                                      sizeof(errstr));
                    rd_kafka_conf_set_log_cb(kc, quiet_log);
                    rk = rd_kafka_new(which ? RD_KAFKA_PRODUCER
                                            : RD_KAFKA_CONSUMER,
                                      kc, errstr, sizeof(errstr));
                    if (rk == NULL) {
                        smt_diag(&d, NULL, "%s: %s: %s", path,
                                 which ? "producer" : "consumer", errstr);
                        rd_kafka_conf_destroy(kc);
                        bad = 1;
                    } else {
                        rd_kafka_destroy(rk);
                    }
                }
            }
        }
        for (i = 0; i < d.n; i++) {
            fprintf(stderr, "%s\n", d.msg[i]);
        }
        smt_diags_fini(&d);
        if (bad) {
            smt_pipeline_free(pl);
            smt_pipeline_conf_free(pc);
            return PX_EXIT_FAIL;
        }
    }
    for (i = 0; i < pc->nroutes; i++) {
        steps += pc->routes[i].chain.n;
    }
    printf("%s: ok (%u route%s, %u step%s)\n", path, pc->nroutes,
           pc->nroutes == 1 ? "" : "s", steps, steps == 1 ? "" : "s");
    smt_pipeline_free(pl);
    smt_pipeline_conf_free(pc);
    return PX_EXIT_OK;
}

/* ---------------------------------------------------------------------- */
/* test                                                                     */

static int cmd_test(const char *conf, const char *const *files, int n)
{
    char       *def;
    const char *one[1];
    int         rc;

    if (n > 0) {
        return px_test_run(conf, files, n);
    }
    def = px_test_default_cases(conf);
    one[0] = def;
    rc = px_test_run(conf, one, 1);
    free(def);
    return rc;
}

/* ---------------------------------------------------------------------- */
/* transforms                                                               */

/* Appends the Connect class names of t ("a.b.X$Key, a.b.X$Value"), or
 * nothing for our own transforms. */
static void class_names(struct smt_buf *b, const struct smt_transform *t,
                        const char *quote)
{
    if (t->connect == NULL) {
        return;
    }
    if (t->flags & SMT_F_KEYVALUE) {
        smt_buf_printf(b, "%s%s%s%s$Key%s, %s%s%s%s$Value%s", quote,
                       t->pkg ? t->pkg : "", t->pkg ? "." : "", t->connect,
                       quote, quote, t->pkg ? t->pkg : "", t->pkg ? "." : "",
                       t->connect, quote);
    } else {
        smt_buf_printf(b, "%s%s%s%s%s", quote, t->pkg ? t->pkg : "",
                       t->pkg ? "." : "", t->connect, quote);
    }
}

/* The default column: the default text, "required", or "none". */
static const char *opt_default(const struct smt_opt *o)
{
    if (o->def != NULL) {
        return o->def;
    }
    return (o->flags & SMT_OPT_OPTIONAL) ? NULL : "required";
}

/* Valid values/range of an option, or "" when anything of its type goes. */
static void opt_valid(struct smt_buf *b, const struct smt_opt *o,
                      const char *quote)
{
    size_t start = b->len;
    size_t i;

    if (o->choices != NULL) {
        for (i = 0; o->choices[i] != NULL; i++) {
            smt_buf_printf(b, "%s%s%s%s", i ? ", " : "", quote,
                           o->choices[i], quote);
        }
    }
    if (o->min < o->max && o->max == INT64_MAX) {
        smt_buf_printf(b, "%s>= %lld", b->len > start ? "; " : "",
                       (long long)o->min);
    } else if (o->min < o->max) {
        smt_buf_printf(b, "%s%lld..%lld", b->len > start ? "; " : "",
                       (long long)o->min, (long long)o->max);
    }
    if (o->flags & SMT_OPT_NONEMPTY) {
        smt_buf_printf(b, "%snon-empty", b->len > start ? "; " : "");
    }
}

/* Appends s with '|' escaped for a markdown table cell. */
static void md_cell(struct smt_buf *b, const char *s)
{
    for (; *s != '\0'; s++) {
        if (*s == '|') {
            smt_buf_addc(b, '\\');
        }
        smt_buf_addc(b, *s == '\n' ? ' ' : *s);
    }
}

static void md_transform(struct smt_buf *b, const struct smt_transform *t)
{
    const struct smt_opt *o;
    struct smt_buf        v;

    smt_buf_printf(b, "### `%s`\n\n%s\n\n", t->name, t->doc);
    if (t->connect != NULL) {
        smt_buf_adds(b, "Kafka Connect: ");
        class_names(b, t, "`");
        smt_buf_adds(b, "\n\n");
    } else {
        smt_buf_adds(b, "smtproxy only (not in Kafka Connect).\n\n");
    }
    if (t->opts == NULL || t->opts[0].name == NULL) {
        smt_buf_adds(b, "No options.\n\n");
        return;
    }
    smt_buf_adds(b, "| option | type | default | valid values | description |\n"
                    "|---|---|---|---|---|\n");
    smt_buf_init(&v);
    for (o = t->opts; o->name != NULL; o++) {
        const char *def = opt_default(o);

        smt_buf_printf(b, "| `%s` | %s | ", o->name,
                       smt_opt_type_name(o->type));
        if (def == NULL) {
            smt_buf_adds(b, "none");
        } else if (strcmp(def, "required") == 0 && o->def == NULL) {
            smt_buf_adds(b, "required");
        } else {
            smt_buf_adds(b, "`");
            md_cell(b, def[0] ? def : "\"\"");
            smt_buf_adds(b, "`");
        }
        smt_buf_adds(b, " | ");
        v.len = 0;
        opt_valid(&v, o, "`");
        smt_buf_addc(&v, '\0');
        md_cell(b, v.ptr);
        smt_buf_adds(b, " | ");
        md_cell(b, o->doc ? o->doc : "");
        smt_buf_adds(b, " |\n");
    }
    smt_buf_fini(&v);
    smt_buf_addc(b, '\n');
}

static void list_markdown(struct smt_buf *b)
{
    const struct smt_transform *t;
    size_t                      i;
    int                         pass;

    smt_buf_adds(b,
        "<!-- GENERATED FILE: do not edit. Written by `smtproxy transforms "
        "--markdown`\n"
        "     (`make docs`) from the option tables in smt/; `make check` "
        "fails when\n"
        "     this file differs from what the binary prints. -->\n"
        "\n"
        "# Transforms and predicates\n"
        "\n"
        "Every transform and predicate smtproxy knows, with its options. A "
        "step's\n"
        "`type` may be the snake name (`mask_field`), the Kafka Connect "
        "alias\n"
        "(`MaskField$Value`) or the fully-qualified Connect class; "
        "transforms that\n"
        "work on the key or the value take a `$Key`/`$Value` suffix "
        "(value when\n"
        "omitted). Option names are Kafka Connect's; in YAML `_` may be "
        "written\n"
        "for `.` (`field_syntax_version`). The keys every step has (`type`, "
        "`name`,\n"
        "`predicate`, `negate`, `if`) and the pipeline file itself are "
        "described\n"
        "in [config.md](config.md).\n"
        "\n");
    for (pass = 0; pass < 2; pass++) {
        smt_buf_adds(b, pass == 0 ? "## Transforms\n\n" : "## Predicates\n\n");
        for (i = 0; (t = smt_registry[i]) != NULL; i++) {
            if (((t->flags & SMT_F_PREDICATE) != 0) == (pass == 1)) {
                smt_buf_printf(b, "- [`%s`](#%s)%s%s\n", t->name, t->name,
                               t->connect ? " - " : "",
                               t->connect ? t->connect : "");
            }
        }
        smt_buf_addc(b, '\n');
        for (i = 0; (t = smt_registry[i]) != NULL; i++) {
            if (((t->flags & SMT_F_PREDICATE) != 0) == (pass == 1)) {
                md_transform(b, t);
            }
        }
    }
    /* exactly one trailing newline */
    while (b->len > 1 && b->ptr[b->len - 1] == '\n' &&
           b->ptr[b->len - 2] == '\n') {
        b->len--;
    }
}

static void text_transform(struct smt_buf *b, const struct smt_transform *t)
{
    const struct smt_opt *o;
    struct smt_buf        v;

    smt_buf_printf(b, "%s%s\n  %s\n", t->name,
                   (t->flags & SMT_F_PREDICATE) ? " (predicate)" : "", t->doc);
    if (t->connect != NULL) {
        smt_buf_adds(b, "  connect: ");
        class_names(b, t, "");
        smt_buf_addc(b, '\n');
    } else {
        smt_buf_adds(b, "  smtproxy only\n");
    }
    smt_buf_init(&v);
    for (o = t->opts; o != NULL && o->name != NULL; o++) {
        const char *def = opt_default(o);

        smt_buf_printf(b, "  %s (%s, ", o->name, smt_opt_type_name(o->type));
        if (def == NULL) {
            smt_buf_adds(b, "default none");
        } else if (o->def == NULL) {
            smt_buf_adds(b, "required");
        } else {
            smt_buf_printf(b, "default \"%s\"", def);
        }
        v.len = 0;
        opt_valid(&v, o, "");
        if (v.len > 0) {
            smt_buf_addc(&v, '\0');
            smt_buf_printf(b, "; valid: %s", v.ptr);
        }
        smt_buf_printf(b, ")\n      %s\n", o->doc ? o->doc : "");
    }
    smt_buf_fini(&v);
    smt_buf_addc(b, '\n');
}

static int cmd_transforms(int markdown)
{
    struct smt_buf b;
    size_t         i;
    int            rc = PX_EXIT_OK;

    smt_buf_init(&b);
    if (markdown) {
        list_markdown(&b);
    } else {
        for (i = 0; smt_registry[i] != NULL; i++) {
            text_transform(&b, smt_registry[i]);
        }
    }
    if (px_write_all(1, b.ptr, b.len) != 0) {
        fprintf(stderr, "transforms: writing stdout: %s\n", strerror(errno));
        rc = PX_EXIT_USAGE;
    }
    smt_buf_fini(&b);
    return rc;
}

/* ---------------------------------------------------------------------- */
/* options: the pipeline file's sections                                    */

/* One table row (markdown) or entry (text) per option of sec. */
static void section_options(struct smt_buf *b,
                            const struct smt_conf_section *sec, int markdown)
{
    const struct smt_opt *o;
    struct smt_buf        v;

    if (markdown) {
        smt_buf_printf(b, "### %s%s%s\n\n", sec->key[0] ? "`" : "",
                       sec->key[0] ? sec->key : "Top level",
                       sec->key[0] ? "`" : "");
        smt_buf_printf(b, "%s\n\n", sec->doc);
    } else {
        smt_buf_printf(b, "%s\n  %s\n", sec->key[0] ? sec->key : "(top level)",
                       sec->doc);
    }
    if (sec->opts == NULL || sec->opts[0].name == NULL) {
        if (!markdown) {
            smt_buf_addc(b, '\n');
        }
        return;
    }
    if (markdown) {
        smt_buf_adds(b, "| key | type | default | valid values | "
                        "description |\n|---|---|---|---|---|\n");
    }
    smt_buf_init(&v);
    for (o = sec->opts; o->name != NULL; o++) {
        const char *def = opt_default(o);

        v.len = 0;
        opt_valid(&v, o, markdown ? "`" : "");
        smt_buf_addc(&v, '\0');
        if (!markdown) {
            smt_buf_printf(b, "  %s (%s, ", o->name,
                           smt_opt_type_name(o->type));
            if (def == NULL) {
                smt_buf_adds(b, "default none");
            } else if (o->def == NULL) {
                smt_buf_adds(b, "required");
            } else {
                smt_buf_printf(b, "default \"%s\"", def);
            }
            if (v.ptr[0] != '\0') {
                smt_buf_printf(b, "; valid: %s", v.ptr);
            }
            smt_buf_printf(b, ")\n      %s\n", o->doc ? o->doc : "");
            continue;
        }
        smt_buf_printf(b, "| `%s` | %s | ", o->name,
                       smt_opt_type_name(o->type));
        if (def == NULL) {
            smt_buf_adds(b, "none");
        } else if (o->def == NULL) {
            smt_buf_adds(b, "required");
        } else {
            smt_buf_adds(b, "`");
            md_cell(b, def[0] ? def : "\"\"");
            smt_buf_adds(b, "`");
        }
        smt_buf_adds(b, " | ");
        md_cell(b, v.ptr);
        smt_buf_adds(b, " | ");
        md_cell(b, o->doc ? o->doc : "");
        smt_buf_adds(b, " |\n");
    }
    smt_buf_fini(&v);
    smt_buf_addc(b, '\n');
}

static int cmd_options(int markdown)
{
    const struct smt_conf_section *const lists[2] = {smt_pipeline_sections,
                                                     px_conf_sections};
    const struct smt_conf_section       *sec;
    struct smt_buf                       b;
    int                                  rc = PX_EXIT_OK, k;

    smt_buf_init(&b);
    if (markdown) {
        smt_buf_adds(&b,
            "<!-- Generated by `smtproxy options --markdown` (`make docs`) "
            "from the option\n"
            "     tables in smt/pipeline_conf.c and proxy/kafka.c; edit "
            "those, not this\n"
            "     part. `make check` fails when it differs. -->\n\n");
    }
    for (k = 0; k < 2; k++) {
        for (sec = lists[k]; sec->key != NULL; sec++) {
            section_options(&b, sec, markdown);
        }
    }
    while (b.len > 1 && b.ptr[b.len - 1] == '\n' &&
           b.ptr[b.len - 2] == '\n') {
        b.len--;
    }
    if (px_write_all(1, b.ptr, b.len) != 0) {
        fprintf(stderr, "options: writing stdout: %s\n", strerror(errno));
        rc = PX_EXIT_USAGE;
    }
    smt_buf_fini(&b);
    return rc;
}

/* ---------------------------------------------------------------------- */
/* command line                                                             */

static int usage_error(const char *usage, const char *fmt, const char *arg)
{
    fprintf(stderr, "smtproxy: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n\n%s", usage);
    return PX_EXIT_USAGE;
}

static int is_help(const char *a)
{
    return strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0 ||
           strcmp(a, "help") == 0;
}

/* jemalloc's settings (the daemon links it: Makefile): hand freed pages
 * back within a second instead of ten, which keeps the relay's resident
 * memory near what it holds in flight (bench/e2e.py: peak RSS 107-124 MiB
 * with the defaults, 82-85 MiB with these, the same records/s). Read by
 * jemalloc at start-up; MALLOC_CONF in the environment still applies on
 * top. Without jemalloc it is an unused string. */
const char *malloc_conf = "dirty_decay_ms:1000,muzzy_decay_ms:0";

int main(int argc, char **argv)
{
    const char *cmd, *conf = NULL, *usage;
    uint64_t    max_errors = 0;
    int         progress = 0, markdown = 0, i;
    char       *end;
    struct px_run_opts run_opts;
    int                ntest = 0;

    memset(&run_opts, 0, sizeof(run_opts));

    if (argc < 2) {
        fputs(usage_main, stderr);
        return PX_EXIT_USAGE;
    }
    cmd = argv[1];
    if (is_help(cmd)) {
        if (argc > 2) {
            cmd = argv[2];
        } else {
            fputs(usage_main, stdout);
            return PX_EXIT_OK;
        }
        argv[2] = (char *)"--help";
        argc = 3;
        argv++;
    } else if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
        printf("smtproxy %s\n", SMT_VERSION);
        return PX_EXIT_OK;
    }
    if (strcmp(cmd, "apply") == 0) {
        usage = usage_apply;
    } else if (strcmp(cmd, "check") == 0) {
        usage = usage_check;
    } else if (strcmp(cmd, "transforms") == 0) {
        usage = usage_transforms;
    } else if (strcmp(cmd, "test") == 0) {
        usage = usage_test;
    } else if (strcmp(cmd, "options") == 0) {
        usage = usage_options;
    } else if (strcmp(cmd, "run") == 0) {
        usage = usage_run;
    } else {
        return usage_error(usage_main, "unknown command '%s'", cmd);
    }

    for (i = 2; i < argc; i++) {
        const char *a = argv[i];

        if (is_help(a)) {
            fputs(usage, stdout);
            return PX_EXIT_OK;
        } else if ((strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0) &&
                   usage != usage_transforms && usage != usage_options) {
            if (++i >= argc) {
                return usage_error(usage, "%s needs a file", a);
            }
            conf = argv[i];
        } else if (strncmp(a, "--config=", 9) == 0 &&
                   usage != usage_transforms && usage != usage_options) {
            conf = a + 9;
        } else if (strcmp(a, "--max-errors") == 0 && usage == usage_apply) {
            if (++i >= argc) {
                return usage_error(usage, "%s needs a number", a);
            }
            errno = 0;
            max_errors = strtoull(argv[i], &end, 10);
            if (errno != 0 || *end != '\0' || argv[i][0] == '\0' ||
                argv[i][0] == '-') {
                return usage_error(usage, "--max-errors: bad number '%s'",
                                   argv[i]);
            }
        } else if (strcmp(a, "--progress") == 0 &&
                   (usage == usage_apply || usage == usage_run)) {
            progress = 1;
        } else if ((strcmp(a, "--stats-file") == 0 ||
                    strcmp(a, "--bootstrap-file") == 0) &&
                   usage == usage_run) {
            if (++i >= argc) {
                return usage_error(usage, "%s needs a file", a);
            }
            if (a[2] == 's') {
                run_opts.stats_file = argv[i];
            } else {
                run_opts.bootstrap_file = argv[i];
            }
        } else if (strcmp(a, "--markdown") == 0 &&
                   (usage == usage_transforms || usage == usage_options)) {
            markdown = 1;
        } else if (usage == usage_test && a[0] != '-') {
            /* kept in argv itself, in slots already read (2 + ntest <= i) */
            argv[2 + ntest++] = argv[i];
        } else {
            return usage_error(usage, "unexpected argument '%s'", a);
        }
    }
    if (usage == usage_transforms) {
        return cmd_transforms(markdown);
    }
    if (usage == usage_options) {
        return cmd_options(markdown);
    }
    if (conf == NULL) {
        return usage_error(usage, "%s needs -c FILE", cmd);
    }
    if (usage == usage_run) {
        int rc;

        run_opts.config_path = conf;
        run_opts.progress = progress;
        /* a reload that changed Kafka settings: new clients, same file */
        while ((rc = px_relay_run(&run_opts)) == PX_RELAY_RESTART) {
        }
        return rc;
    }
    if (usage == usage_check) {
        return cmd_check(conf);
    }
    if (usage == usage_test) {
        return cmd_test(conf, (const char *const *)(argv + 2), ntest);
    }
    return cmd_apply(conf, max_errors, progress);
}

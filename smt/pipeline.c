/*
 * pipeline.c - the per-record pipeline: every route sees every input
 * record, in route order; each route forks the record, tests its condition,
 * runs its chain and encodes what changed. This one function is what both
 * `smtproxy apply` and the daemon run, so what a user tries offline is what
 * production does.
 *
 * Destination: the chain runs on the input topic (so TopicNameMatches and
 * RegexRouter see what Connect would show them); afterwards, if no step
 * changed the topic, the route's `topic` applies. A step that rewrote the
 * topic (RegexRouter, TimestampRouter) wins over the route's topic. A chain
 * that split the record (1->N, transform.h) gives one output per resulting
 * record, each with that rule applied to its own topic.
 */
#include "pipeline.h"
#include "errpolicy.h"

#include <stdlib.h>
#include <time.h>

struct smt_pipeline *smt_pipeline_new(const struct smt_pipeline_conf *pc,
                                      struct smt_err *err)
{
    struct smt_pipeline *pl = smt_xcalloc(1, sizeof(*pl));
    uint32_t             i;

    pl->conf = pc;
    pl->nroutes = pc->nroutes;
    pl->chains = smt_xcalloc(pc->nroutes ? pc->nroutes : 1,
                             sizeof(*pl->chains));
    for (i = 0; i < pc->nroutes; i++) {
        pl->chains[i] = smt_chain_new(&pc->routes[i].chain, err);
        if (pl->chains[i] == NULL) {
            smt_err_prefix(err, "route '%s': ", pc->routes[i].name);
            smt_pipeline_free(pl);
            return NULL;
        }
    }
    return pl;
}

void smt_pipeline_free(struct smt_pipeline *pl)
{
    uint32_t i;

    if (pl == NULL) {
        return;
    }
    for (i = 0; i < pl->nroutes; i++) {
        smt_chain_free(pl->chains[i]);
    }
    free(pl->chains);
    free(pl);
}

static void emit_fail(smt_emit_fn emit, void *opaque,
                      const struct smt_route_conf *route, uint32_t ri,
                      struct smt_record *rec, const struct smt_record *in,
                      const struct smt_inst *step, struct smt_err *err,
                      int cancelled)
{
    struct smt_output out;

    if (err->stage == SMT_STAGE_NONE) {
        err->stage = SMT_STAGE_TRANSFORMATION;
    }
    memset(&out, 0, sizeof(out));
    out.outcome = SMT_OUT_FAIL;
    out.route = route;
    out.route_index = ri;
    out.rec = rec;
    out.in = in;
    out.step = step;
    out.err = err;
    out.cancelled = (uint8_t)cancelled;
    emit(opaque, &out);
}

/* True when err is the input's key or value failing to decode, and that was
 * already reported by an earlier route: one poison record is one failure
 * (one DLQ record), however many routes needed its value. The input side
 * stays RAW after a failed decode; an encode failure (a route's own output)
 * is per route and always reported. */
static int decode_failure_seen(const struct smt_record *in,
                               const struct smt_err *err, unsigned *seen)
{
    unsigned bit;

    if (err->stage == SMT_STAGE_KEY_CONVERTER &&
        in->key.state == SMT_DS_RAW) {
        bit = 1;
    } else if (err->stage == SMT_STAGE_VALUE_CONVERTER &&
               in->value.state == SMT_DS_RAW) {
        bit = 2;
    } else {
        return 0;
    }
    if (*seen & bit) {
        return 1;
    }
    *seen |= bit;
    return 0;
}

/* A route whose chain split the record (1->N): the destination rule and
 * the encoding apply to each record on its own; all are encoded before any
 * is emitted, so an encoding failure is one FAIL and no partial output. */
static void split_emit(const struct smt_route_conf *route, uint32_t ri,
                       struct smt_record *rec, const struct smt_record *in,
                       smt_emit_fn emit, void *opaque)
{
    uint32_t           n = rec->nsplit + 1, j;
    struct smt_record *p;
    struct smt_output  out;
    struct smt_err     err;

    for (j = 0; j < n; j++) {
        p = j == 0 ? rec : &rec->split[j - 1];
        if (route->topic != NULL && p->topic.ptr == in->topic.ptr &&
            p->topic.len == in->topic.len) {
            p->topic = smt_bytes_str(route->topic);
        }
        smt_err_clear(&err);
        if (smt_record_encode(p, &err) != 0) {
            emit_fail(emit, opaque, route, ri, p, in, NULL, &err, 0);
            return;
        }
    }
    for (j = 0; j < n; j++) {
        memset(&out, 0, sizeof(out));
        out.outcome = SMT_OUT_RECORD;
        out.route = route;
        out.route_index = ri;
        out.in = in;
        out.rec = j == 0 ? rec : &rec->split[j - 1];
        out.piece = j;
        out.npieces = n;
        emit(opaque, &out);
    }
}

/* What one attempt at a route came to. */
enum route_result {
    RR_SKIP,        /* the condition does not take the record */
    RR_FAIL_COND,   /* the condition could not be evaluated */
    RR_FAIL_CHAIN,  /* a step failed (*failed: its index) */
    RR_FAIL_ENCODE, /* the result cannot be written in its format */
    RR_DROP,
    RR_SPLIT,
    RR_RECORD,
};

/* One attempt at route i for in, into rec (a fresh fork). */
static enum route_result route_once(struct smt_pipeline *pl, uint32_t i,
                                    struct smt_record *in,
                                    struct smt_record *rec,
                                    struct smt_err *err, uint32_t *failed)
{
    const struct smt_pipeline_conf *pc = pl->conf;
    const struct smt_route_conf    *route = &pc->routes[i];
    enum smt_verdict                v;
    int                             r;

    smt_record_fork(rec, in);
    rec->codec = pc->codec;
    /* The last route may change the input's trees instead of copying them:
     * nothing reads them after it (failures report the input's bytes), and
     * no retry runs it again over them. */
    rec->take_origin = i + 1 == pl->nroutes &&
                       smt_route_errors(pc, route)->retry_timeout_ms == 0;
    smt_err_clear(err);
    if (route->cond != NULL) {
        r = smt_cond_eval(route->cond, rec, err);
        if (r < 0) {
            return RR_FAIL_COND;
        }
        if (r == 0) {
            return RR_SKIP;
        }
    }
    *failed = 0;
    v = smt_chain_apply(pl->chains[i], rec, err, failed);
    if (v == SMT_FAIL) {
        return RR_FAIL_CHAIN;
    }
    if (v == SMT_DROP) {
        return RR_DROP;
    }
    if (SMT_UNLIKELY(rec->nsplit != 0)) {
        return RR_SPLIT;
    }
    if (route->topic != NULL && rec->topic.ptr == in->topic.ptr &&
        rec->topic.len == in->topic.len) {
        rec->topic = smt_bytes_str(route->topic);
    }
    return smt_record_encode(rec, err) != 0 ? RR_FAIL_ENCODE : RR_RECORD;
}

static int64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Route i, tried again after Connect's backoff while it fails with a
 * retriable error (a registry that does not answer, say) and the route's
 * errors.retry.timeout allows (reference 4.2). The worker waits: Connect's
 * task does too. */
static enum route_result route_attempts(struct smt_pipeline *pl, uint32_t i,
                                        struct smt_record *in,
                                        struct smt_record *rec,
                                        struct smt_err *err, uint32_t *failed,
                                        int *cancelled)
{
    const struct smt_route_conf  *route = &pl->conf->routes[i];
    const struct smt_errors_conf *ec = smt_route_errors(pl->conf, route);
    struct smt_retry              rs;
    enum route_result             res;
    int64_t                       wait;
    int                           started = 0;
    struct timespec               ts;

    *cancelled = 0;
    for (;;) {
        res = route_once(pl, i, in, rec, err, failed);
        if ((res != RR_FAIL_COND && res != RR_FAIL_CHAIN &&
             res != RR_FAIL_ENCODE) ||
            !smt_errp_retriable(err->code) || ec->retry_timeout_ms == 0) {
            return res;
        }
        if (!started) {
            smt_retry_start(&rs, ec, mono_ms());
            started = 1;
        }
        if ((wait = smt_retry_next_wait(&rs, mono_ms())) < 0) {
            return res; /* out of time: it failed with that error */
        }
        /* in slices, so that the owner's cancel flag is seen soon */
        while (wait > 0) {
            int64_t slice = wait < 100 ? wait : 100;

            if (pl->cancel != NULL && *pl->cancel) {
                *cancelled = 1; /* the owner is stopping */
                return res;
            }
            ts.tv_sec = 0;
            ts.tv_nsec = slice * 1000000L;
            while (nanosleep(&ts, &ts) != 0) {
            }
            wait -= slice;
        }
    }
}

void smt_pipeline_process(struct smt_pipeline *pl, struct smt_record *in,
                          smt_emit_fn emit, void *opaque)
{
    unsigned                        seen = 0;
    const struct smt_pipeline_conf *pc = pl->conf;
    struct smt_output               out;
    struct smt_record               rec;
    struct smt_err                  err;
    uint32_t                        i, failed = 0;
    int                             taken = 0, cancelled;

    for (i = 0; i < pl->nroutes; i++) {
        const struct smt_route_conf *route = &pc->routes[i];
        enum route_result            res;

        res = route_attempts(pl, i, in, &rec, &err, &failed, &cancelled);
        if (res == RR_SKIP) {
            continue;
        }
        taken = 1;
        memset(&out, 0, sizeof(out));
        out.route = route;
        out.route_index = i;
        out.in = in;
        out.rec = &rec;
        switch (res) {
        case RR_FAIL_COND:
            /* The route cannot tell whether it wants the record (its value
             * does not decode, say): that is this route's failure, never a
             * silent skip. */
            if (!decode_failure_seen(in, &err, &seen)) {
                emit_fail(emit, opaque, route, i, &rec, in, NULL, &err,
                          cancelled);
            }
            break;
        case RR_FAIL_ENCODE:
            emit_fail(emit, opaque, route, i, &rec, in, NULL, &err,
                          cancelled);
            break;
        case RR_FAIL_CHAIN:
            if (!decode_failure_seen(in, &err, &seen)) {
                emit_fail(emit, opaque, route, i, &rec, in,
                          &pl->chains[i]->steps[failed], &err, cancelled);
            }
            break;
        case RR_DROP:
            out.outcome = SMT_OUT_DROP;
            emit(opaque, &out);
            break;
        case RR_SPLIT:
            split_emit(route, i, &rec, in, emit, opaque);
            break;
        case RR_RECORD:
            out.outcome = SMT_OUT_RECORD;
            out.npieces = 1;
            emit(opaque, &out);
            break;
        default:
            break;
        }
    }
    if (!taken) {
        memset(&out, 0, sizeof(out));
        out.outcome = SMT_OUT_UNROUTED;
        out.in = in;
        out.rec = in;
        emit(opaque, &out);
    }
}

const char *smt_failure_class(const struct smt_pipeline_conf *pc,
                              const struct smt_output *o, char *buf,
                              size_t size)
{
    int fmt;

    if (o->step != NULL) {
        return smt_inst_class(o->step, buf, size);
    }
    if (o->err->stage != SMT_STAGE_KEY_CONVERTER &&
        o->err->stage != SMT_STAGE_VALUE_CONVERTER) {
        return "smtproxy.condition";
    }
    fmt = o->err->stage == SMT_STAGE_KEY_CONVERTER ? pc->key_fmt
                                                   : pc->value_fmt;
    switch (fmt) {
    case SMT_FMT_STRING:
        return "org.apache.kafka.connect.storage.StringConverter";
    case SMT_FMT_BYTES:
        return "org.apache.kafka.connect.converters.ByteArrayConverter";
    case SMT_FMT_AVRO:
        return "io.confluent.connect.avro.AvroConverter";
    default:
        return "org.apache.kafka.connect.json.JsonConverter";
    }
}

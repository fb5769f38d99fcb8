/*
 * t_timestamp_router.c - TimestampRouter: renames the topic after the
 * record's timestamp, e.g. "events" -> "events-20170103".
 *
 * Kafka Connect's org.apache.kafka.connect.transforms.TimestampRouter.
 * `topic.format` has its "${topic}" occurrences replaced by the topic,
 * then its "${timestamp}" occurrences by the record timestamp formatted
 * with the SimpleDateFormat pattern `timestamp.format` in UTC (the two
 * passes run in that order, as in Connect). A record without a timestamp
 * fails ("Timestamp missing on record: ...").
 *
 *   transforms:
 *     - type: TimestampRouter
 *       topic.format: "${topic}_${timestamp}"
 *       timestamp.format: yyyy-MM
 *
 * Differences from Kafka Connect: the record in the "Timestamp missing"
 * message is printed in our own short form.
 */
#include "datefmt.h"
#include "tutil.h"

struct tr_conf {
    char *topic_format;
    char *timestamp_format;
};

/* Appends src with every "${name}" replaced by val; counts when dst is
 * NULL. Returns the length. */
static size_t tr_subst(char *dst, struct smt_bytes src, const char *name,
                       struct smt_bytes val)
{
    size_t nl = strlen(name), i = 0, n = 0;

    while (i < src.len) {
        if (src.len - i >= nl && memcmp(src.ptr + i, name, nl) == 0) {
            if (dst != NULL && val.len > 0) {
                memcpy(dst + n, val.ptr, val.len);
            }
            n += val.len;
            i += nl;
        } else {
            if (dst != NULL) {
                dst[n] = src.ptr[i];
            }
            n++;
            i++;
        }
    }
    return n;
}

static struct smt_bytes tr_replace(struct smt_arena *a, struct smt_bytes src,
                                   const char *name, struct smt_bytes val)
{
    size_t           n = tr_subst(NULL, src, name, val);
    char            *p = smt_arena_alloc(a, n + 1);
    struct smt_bytes out;

    tr_subst(p, src, name, val);
    p[n] = '\0';
    out.ptr = p;
    out.len = n;
    return out;
}

static int tr_init(struct smt_inst *inst, struct smt_err *err)
{
    const struct tr_conf *conf = inst->conf;
    struct smt_datefmt   *f;

    f = smt_datefmt_new(conf->timestamp_format, err);
    if (f == NULL) {
        if (err != NULL) {
            err->code = SMT_E_CONFIG;
        }
        return smt_err_prefix(
            err, "Invalid value %s for configuration timestamp.format: ",
            conf->timestamp_format ? conf->timestamp_format : "null");
    }
    inst->state = f;
    return 0;
}

static enum smt_verdict tr_apply(struct smt_inst *inst, struct smt_record *rec,
                                 struct smt_err *err)
{
    const struct tr_conf *conf = inst->conf;
    struct smt_bytes      t, ts;

    if (rec->ts_ms == SMT_TS_NONE) {
        smt_err_set(err, SMT_E_DATA,
                    "Timestamp missing on record: ConnectRecord{topic='%.*s', "
                    "kafkaPartition=%d, kafkaOffset=%lld, timestamp=null}",
                    (int)rec->topic.len, rec->topic.ptr ? rec->topic.ptr : "",
                    (int)rec->partition, (long long)rec->offset);
        return SMT_FAIL;
    }
    ts = smt_datefmt_format_arena(inst->state, rec->ts_ms, rec->arena);
    t = tr_replace(rec->arena, smt_bytes_str(conf->topic_format), "${topic}",
                   rec->topic.ptr ? rec->topic : SMT_BYTES_LIT("null"));
    t = tr_replace(rec->arena, t, "${timestamp}", ts);
    smt_record_set_topic(rec, t);
    return SMT_PASS;
}

static void tr_destroy(struct smt_inst *inst)
{
    smt_datefmt_free(inst->state);
    inst->state = NULL;
}

static const struct smt_opt tr_opts[] = {
    {"topic.format", SMT_OPT_STR, "${topic}-${timestamp}",
     offsetof(struct tr_conf, topic_format), 0, 0, NULL, 0,
     "New topic; ${topic} and ${timestamp} are replaced"},
    {"timestamp.format", SMT_OPT_STR, "yyyyMMdd",
     offsetof(struct tr_conf, timestamp_format), 0, 0, NULL, 0,
     "java.text.SimpleDateFormat pattern for ${timestamp}, in UTC"},
    {0},
};

const struct smt_transform smt_timestamp_router = {
    .name = "timestamp_router",
    .connect = "TimestampRouter",
    .pkg = "org.apache.kafka.connect.transforms",
    .doc = "Rename the topic after the record timestamp",
    .opts = tr_opts,
    .conf_size = sizeof(struct tr_conf),
    .flags = 0,
    .init = tr_init,
    .apply = tr_apply,
    .destroy = tr_destroy,
};

/*
 * passthrough.c - the baseline of the end-to-end bench: a plain librdkafka
 * consume -> produce relay with no transforms. What any relay built on
 * librdkafka pays for moving records through a broker; smtproxy with the
 * reference chain is measured against it (bench/e2e.py).
 *
 *   passthrough -b HOST:PORT -g GROUP -i IN_TOPIC -o OUT_TOPIC
 *               [-s STATS_FILE] [-n COUNT] [-C k=v]... [-P k=v]...
 *
 * It does what a careful relay must and nothing more: a consumer group on
 * the input topic; every message produced unchanged (key, value, headers,
 * timestamp; the partitioner picks the output partition from the key) with
 * RD_KAFKA_MSG_F_COPY; an input offset is stored only when it and every
 * earlier message of its partition have been delivered (a ring of in-flight
 * offsets per input partition, retired in order from delivery reports);
 * stored offsets are committed by librdkafka's auto-commit timer and once
 * more at exit. One thread: the consumer is polled, the producer's delivery
 * reports are served in the same loop.
 *
 * The client settings are the relay's defaults (proxy/kafka.c), so that
 * the comparison is between the programs, not between configurations:
 * consumer cooperative-sticky, earliest reset, auto-commit every 5 s,
 * enable.auto.offset.store=false, queued.max.messages.kbytes=4096, and the
 * relay's fetch kick (kick() below); producer idempotent, linger.ms=20,
 * murmur2_random. -C / -P add or override consumer / producer properties.
 *
 * -s writes the relay's stats-file format (the same keys where they mean
 * the same thing: in, retired, inflight, delivery_failed) every 500 ms and
 * at exit, so the bench reads both programs the same way. -n COUNT exits
 * once COUNT records are retired (0: run until SIGINT/SIGTERM). At exit
 * it prints one line: records, seconds from the first consumed message to
 * the last retired one, and peak RSS.
 *
 * Not handled, because the bench does not need it: rebalances beyond the
 * first assignment (a revoked partition's ring is simply dropped), more
 * than one input topic. A delivery failure stops the program with exit 1
 * and nothing at or after that offset is stored.
 */
#include <librdkafka/rdkafka.h>

#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

/* In-flight offsets of one input partition, in consumption order. A slot
 * is addressed by a per-partition sequence number: seq & (cap - 1). */
struct pt_part {
    int64_t  *offs;
    uint8_t  *done;
    uint64_t  head, tail; /* sequence numbers: [head, tail) in flight */
    uint64_t  cap;        /* power of two */
    int64_t   store;      /* next offset to store; -1 = nothing yet */
    int64_t   stored;
    int64_t   next_off;   /* last consumed + 1; -1 = nothing yet */
};

struct pt {
    rd_kafka_t     *consumer, *producer;
    rd_kafka_topic_t *out;
    struct pt_part *parts;
    int32_t         nparts;
    uint64_t        n_in, n_retired, n_failed;
    int64_t         inflight;
    double          t_first, t_last;
    int             fatal;
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static double now_sec(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n);

    if (q == NULL) {
        fprintf(stderr, "passthrough: out of memory\n");
        abort();
    }
    return q;
}

static struct pt_part *part_get(struct pt *pt, int32_t partition)
{
    struct pt_part *p;

    if (partition >= pt->nparts) {
        pt->parts = xrealloc(pt->parts,
                             (size_t)(partition + 1) * sizeof(*pt->parts));
        memset(pt->parts + pt->nparts, 0,
               (size_t)(partition + 1 - pt->nparts) * sizeof(*pt->parts));
        pt->nparts = partition + 1;
    }
    p = &pt->parts[partition];
    if (p->cap == 0) {
        p->cap = 1024;
        p->offs = xrealloc(NULL, p->cap * sizeof(*p->offs));
        p->done = xrealloc(NULL, p->cap);
        p->store = -1;
        p->stored = -1;
        p->next_off = -1;
    }
    return p;
}

/* The fetch kick of proxy/relay.c (fetch_kick(), where the reason is told
 * in full): librdkafka 2.0 stops fetching when its queue is over
 * queued.max.messages.kbytes and looks again up to a second later. When
 * the queue has been near that limit and is then empty, every partition
 * with data on the broker is sought to its next offset, which wakes the
 * fetcher. Any relay on this librdkafka needs it to catch up at speed, so
 * the baseline has it too. */
static void kick(struct pt *pt, const char *topic)
{
    rd_kafka_topic_partition_list_t *l = NULL;
    rd_kafka_error_t                *error;
    int64_t                          lo, hi;
    int32_t                          i;

    for (i = 0; i < pt->nparts; i++) {
        struct pt_part *p = &pt->parts[i];

        if (p->cap == 0 || p->next_off < 0 ||
            rd_kafka_get_watermark_offsets(pt->consumer, topic, i, &lo, &hi) !=
                RD_KAFKA_RESP_ERR_NO_ERROR ||
            hi <= p->next_off) {
            continue;
        }
        if (l == NULL) {
            l = rd_kafka_topic_partition_list_new(pt->nparts);
        }
        rd_kafka_topic_partition_list_add(l, topic, i)->offset = p->next_off;
    }
    if (l != NULL) {
        if ((error = rd_kafka_seek_partitions(pt->consumer, l, 0)) != NULL) {
            rd_kafka_error_destroy(error);
        }
        rd_kafka_topic_partition_list_destroy(l);
    }
}

/* Doubles the ring; the in-flight slots move to their new positions. */
static void part_grow(struct pt_part *p)
{
    uint64_t cap = p->cap * 2, s;
    int64_t *offs = xrealloc(NULL, cap * sizeof(*offs));
    uint8_t *done = xrealloc(NULL, cap);

    for (s = p->head; s < p->tail; s++) {
        offs[s & (cap - 1)] = p->offs[s & (p->cap - 1)];
        done[s & (cap - 1)] = p->done[s & (p->cap - 1)];
    }
    free(p->offs);
    free(p->done);
    p->offs = offs;
    p->done = done;
    p->cap = cap;
}

/* The delivery report's opaque: input partition and sequence number. */
#define PT_SEQ_BITS 44
#define PT_SEQ_MASK ((UINT64_C(1) << PT_SEQ_BITS) - 1)

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *rkm, void *opaque)
{
    struct pt      *pt = opaque;
    uint64_t        tag = (uint64_t)(uintptr_t)rkm->_private;
    struct pt_part *p = &pt->parts[tag >> PT_SEQ_BITS];
    uint64_t        seq = tag & PT_SEQ_MASK;

    (void)rk;
    if (rkm->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        /* Never store past it: the slot stays not done. */
        if (pt->n_failed++ == 0) {
            fprintf(stderr, "passthrough: delivery failed: %s\n",
                    rd_kafka_err2str(rkm->err));
        }
        pt->fatal = 1;
        return;
    }
    p->done[seq & (p->cap - 1)] = 1;
    while (p->head < p->tail && p->done[p->head & (p->cap - 1)]) {
        p->store = p->offs[p->head & (p->cap - 1)] + 1;
        p->head++;
        pt->n_retired++;
        pt->inflight--;
    }
    pt->t_last = now_sec();
}

static void store_offsets(struct pt *pt, const char *topic)
{
    rd_kafka_topic_partition_list_t *list = NULL;
    rd_kafka_resp_err_t              err;
    int32_t                          i;

    for (i = 0; i < pt->nparts; i++) {
        struct pt_part *p = &pt->parts[i];

        if (p->store > p->stored) {
            if (list == NULL) {
                list = rd_kafka_topic_partition_list_new(pt->nparts);
            }
            rd_kafka_topic_partition_list_add(list, topic, i)->offset =
                p->store;
            p->stored = p->store;
        }
    }
    if (list != NULL) {
        err = rd_kafka_offsets_store(pt->consumer, list);
        if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            fprintf(stderr, "passthrough: storing offsets: %s\n",
                    rd_kafka_err2str(err));
        }
        rd_kafka_topic_partition_list_destroy(list);
    }
}

static void write_stats(const struct pt *pt, const char *path)
{
    char  tmp[4096];
    FILE *f;

    if (path == NULL) {
        return;
    }
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    if ((f = fopen(tmp, "w")) == NULL) {
        return;
    }
    fprintf(f,
            "{\"in\":%llu,\"out\":{\"passthrough\":%llu},\"retired\":%llu,"
            "\"inflight\":%lld,\"delivery_failed\":%llu}\n",
            (unsigned long long)pt->n_in, (unsigned long long)pt->n_retired,
            (unsigned long long)pt->n_retired, (long long)pt->inflight,
            (unsigned long long)pt->n_failed);
    if (fclose(f) == 0) {
        rename(tmp, path);
    }
}

/* Produces one consumed message unchanged. Returns 0, or -1 when the
 * producer refused it for a reason other than a full queue. */
static int relay_one(struct pt *pt, rd_kafka_message_t *rkm)
{
    struct pt_part           *p = part_get(pt, rkm->partition);
    rd_kafka_headers_t       *hdrs = NULL;
    rd_kafka_timestamp_type_t tstype;
    int64_t                   ts = rd_kafka_message_timestamp(rkm, &tstype);
    rd_kafka_resp_err_t       err;
    uint64_t                  seq;

    if (p->tail - p->head == p->cap) {
        part_grow(p);
    }
    seq = p->tail++;
    p->next_off = rkm->offset + 1;
    p->offs[seq & (p->cap - 1)] = rkm->offset;
    p->done[seq & (p->cap - 1)] = 0;
    /* The consumed headers move to the produced message, no copy. */
    if (rd_kafka_message_detach_headers(rkm, &hdrs) !=
        RD_KAFKA_RESP_ERR_NO_ERROR) {
        hdrs = NULL;
    }
    for (;;) {
        err = rd_kafka_producev(
            pt->producer, RD_KAFKA_V_RKT(pt->out),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_KEY(rkm->key, rkm->key_len),
            RD_KAFKA_V_VALUE(rkm->payload, rkm->len),
            RD_KAFKA_V_HEADERS(hdrs),
            RD_KAFKA_V_TIMESTAMP(tstype == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE
                                     ? 0
                                     : ts),
            RD_KAFKA_V_OPAQUE((void *)(uintptr_t)(
                ((uint64_t)rkm->partition << PT_SEQ_BITS) | (seq & PT_SEQ_MASK))),
            RD_KAFKA_V_END);
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            break;
        }
        /* The producer is behind: serve delivery reports until it has room. */
        rd_kafka_poll(pt->producer, 10);
    }
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        fprintf(stderr, "passthrough: produce: %s\n", rd_kafka_err2str(err));
        if (hdrs != NULL) {
            rd_kafka_headers_destroy(hdrs);
        }
        pt->fatal = 1;
        return -1;
    }
    pt->inflight++;
    return 0;
}

static int set(rd_kafka_conf_t *conf, const char *kv_or_k, const char *v)
{
    char  errstr[512], key[256];
    const char *eq;

    if (v == NULL) {
        eq = strchr(kv_or_k, '=');
        if (eq == NULL || (size_t)(eq - kv_or_k) >= sizeof(key)) {
            fprintf(stderr, "passthrough: expected key=value: '%s'\n", kv_or_k);
            return -1;
        }
        memcpy(key, kv_or_k, (size_t)(eq - kv_or_k));
        key[eq - kv_or_k] = '\0';
        kv_or_k = key;
        v = eq + 1;
    }
    if (rd_kafka_conf_set(conf, kv_or_k, v, errstr, sizeof(errstr)) !=
        RD_KAFKA_CONF_OK) {
        fprintf(stderr, "passthrough: %s\n", errstr);
        return -1;
    }
    return 0;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: passthrough -b BOOTSTRAP -g GROUP -i IN_TOPIC -o OUT_TOPIC "
            "[-s STATS_FILE] [-n COUNT] [-C k=v]... [-P k=v]...\n");
    exit(2);
}

int main(int argc, char **argv)
{
    struct pt                        pt;
    rd_kafka_conf_t                 *cconf = rd_kafka_conf_new();
    rd_kafka_conf_t                 *pconf = rd_kafka_conf_new();
    const char                      *bootstrap = NULL, *group = NULL;
    const char                      *in = NULL, *outname = NULL, *stats = NULL;
    unsigned long long               count = 0;
    rd_kafka_topic_partition_list_t *subs;
    rd_kafka_message_t              *rkm;
    rd_kafka_resp_err_t              err;
    struct rusage                    ru;
    struct sigaction                 sa;
    char                             errstr[512];
    double                           last_store = 0, last_stats = 0, t;
    rd_kafka_queue_t                *cq;
    int64_t                          value_avg = 0, q_max_bytes;
    int                              q_high = 0;
    char                             buf[64];
    size_t                           size = sizeof(buf);
    int                              i, bad = 0, rc = 0;

    memset(&pt, 0, sizeof(pt));
    bad |= set(cconf, "enable.auto.offset.store", "false");
    bad |= set(cconf, "enable.auto.commit", "true");
    bad |= set(cconf, "auto.commit.interval.ms", "5000");
    bad |= set(cconf, "auto.offset.reset", "earliest");
    bad |= set(cconf, "partition.assignment.strategy", "cooperative-sticky");
    bad |= set(cconf, "enable.partition.eof", "false");
    bad |= set(cconf, "queued.max.messages.kbytes", "4096");
    bad |= set(pconf, "enable.idempotence", "true");
    bad |= set(pconf, "partitioner", "murmur2_random");
    bad |= set(pconf, "linger.ms", "20");
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];

        if (a[0] != '-' || a[1] == '\0' || a[2] != '\0' || i + 1 >= argc) {
            usage();
        }
        switch (a[1]) {
        case 'b': bootstrap = argv[++i]; break;
        case 'g': group = argv[++i]; break;
        case 'i': in = argv[++i]; break;
        case 'o': outname = argv[++i]; break;
        case 's': stats = argv[++i]; break;
        case 'n': count = strtoull(argv[++i], NULL, 10); break;
        case 'C': bad |= set(cconf, argv[++i], NULL); break;
        case 'P': bad |= set(pconf, argv[++i], NULL); break;
        default: usage();
        }
    }
    if (bootstrap == NULL || group == NULL || in == NULL || outname == NULL) {
        usage();
    }
    bad |= set(cconf, "bootstrap.servers", bootstrap);
    bad |= set(pconf, "bootstrap.servers", bootstrap);
    bad |= set(cconf, "group.id", group);
    if (bad) {
        return 2;
    }
    rd_kafka_conf_set_opaque(pconf, &pt);
    rd_kafka_conf_set_dr_msg_cb(pconf, dr_cb);
    pt.producer = rd_kafka_new(RD_KAFKA_PRODUCER, pconf, errstr, sizeof(errstr));
    if (pt.producer == NULL) {
        fprintf(stderr, "passthrough: producer: %s\n", errstr);
        return 2;
    }
    pt.consumer = rd_kafka_new(RD_KAFKA_CONSUMER, cconf, errstr, sizeof(errstr));
    if (pt.consumer == NULL) {
        fprintf(stderr, "passthrough: consumer: %s\n", errstr);
        return 2;
    }
    rd_kafka_poll_set_consumer(pt.consumer);
    cq = rd_kafka_queue_get_consumer(pt.consumer);
    q_max_bytes = rd_kafka_conf_get(rd_kafka_conf(pt.consumer),
                                    "queued.max.messages.kbytes", buf,
                                    &size) == RD_KAFKA_CONF_OK
                      ? strtoll(buf, NULL, 10) * 1024
                      : 65536 * 1024;
    pt.out = rd_kafka_topic_new(pt.producer, outname, NULL);
    subs = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(subs, in, RD_KAFKA_PARTITION_UA);
    err = rd_kafka_subscribe(pt.consumer, subs);
    rd_kafka_topic_partition_list_destroy(subs);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        fprintf(stderr, "passthrough: subscribe: %s\n", rd_kafka_err2str(err));
        return 2;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    while (!stop && !pt.fatal && (count == 0 || pt.n_retired < count)) {
        /* Block long only when nothing waits for a delivery report. */
        rkm = rd_kafka_consumer_poll(pt.consumer, pt.inflight > 0 ? 1 : 100);
        if (rkm != NULL) {
            if (rkm->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
                if (pt.n_in++ == 0) {
                    pt.t_first = now_sec();
                }
                value_avg += ((int64_t)rkm->len - value_avg) / 64;
                if ((pt.n_in & 63) == 0 &&
                    (int64_t)rd_kafka_queue_length(cq) * 2 >=
                        q_max_bytes / (value_avg > 0 ? value_avg : 1)) {
                    q_high = 1;
                }
                relay_one(&pt, rkm);
            } else {
                fprintf(stderr, "passthrough: consumer: %s\n",
                        rd_kafka_message_errstr(rkm));
            }
            rd_kafka_message_destroy(rkm);
        } else if (q_high) {
            kick(&pt, in);
            q_high = 0;
        }
        rd_kafka_poll(pt.producer, 0);
        t = now_sec();
        if (t - last_store >= 0.1) {
            store_offsets(&pt, in);
            last_store = t;
        }
        if (t - last_stats >= 0.5) {
            write_stats(&pt, stats);
            last_stats = t;
        }
    }

    /* Deliver what is in flight, store, commit, leave the group. */
    if (rd_kafka_flush(pt.producer, 30000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        fprintf(stderr, "passthrough: %d message(s) not delivered in 30 s\n",
                rd_kafka_outq_len(pt.producer));
        rc = 1;
    }
    store_offsets(&pt, in);
    err = rd_kafka_commit(pt.consumer, NULL, 0);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR &&
        err != RD_KAFKA_RESP_ERR__NO_OFFSET) {
        fprintf(stderr, "passthrough: commit: %s\n", rd_kafka_err2str(err));
        rc = 1;
    }
    write_stats(&pt, stats);
    rd_kafka_queue_destroy(cq);
    rd_kafka_consumer_close(pt.consumer);
    rd_kafka_destroy(pt.consumer);
    rd_kafka_topic_destroy(pt.out);
    rd_kafka_destroy(pt.producer);
    getrusage(RUSAGE_SELF, &ru);
    printf("passthrough: %llu records in, %llu retired, %.3f s first consumed "
           "to last retired, peak RSS %ld KiB\n",
           (unsigned long long)pt.n_in, (unsigned long long)pt.n_retired,
           pt.n_retired > 0 ? pt.t_last - pt.t_first : 0.0, ru.ru_maxrss);
    for (i = 0; i < pt.nparts; i++) {
        free(pt.parts[i].offs);
        free(pt.parts[i].done);
    }
    free(pt.parts);
    if (pt.fatal || pt.n_failed > 0) {
        rc = 1;
    }
    return rc;
}

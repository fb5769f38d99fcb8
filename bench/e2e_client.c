/*
 * e2e_client.c - the load side of the end-to-end bench (bench/e2e.py):
 * writes the input records and measures latency through a relay. Written in
 * C so that, on a small machine, the measuring client costs little of the
 * CPU the broker and the program under test share.
 *
 *   e2e_client load -b HOST:PORT -t TOPIC -n COUNT
 *       produces COUNT sensor commands as fast as the broker takes them and
 *       prints one JSON line: {"records":N,"bytes":B,"seconds":S}, where B
 *       is the key + value bytes.
 *
 *   e2e_client latency -b HOST:PORT -i IN -o OUT -r RATE [-d SECONDS]
 *                      [-w WARMUP] [-g GROUP] [-t STARTUP_TIMEOUT]
 *       produces sensor commands to IN at RATE records/s and consumes OUT,
 *       where the relay under test writes them. Every record carries a
 *       header bench.sent (CLOCK_MONOTONIC nanoseconds when produce was
 *       called); the latency of a record is the time the consumer got its
 *       output minus that. First it sends one probe record every 10 ms until
 *       an output arrives (the relay has joined its group), then paces for
 *       WARMUP seconds (default 2, not measured), then SECONDS (default 10)
 *       measured, then one more second of load so the last measured records
 *       see the same load. Prints one JSON line with the count sent and
 *       received in the measured window, the percentiles in ms, and the
 *       median of the records sent in the first and in the last two seconds
 *       of the window (p50_first_ms, p50_last_ms: a program that cannot
 *       keep up at RATE shows a growing backlog there). With
 *       E2E_DEBUG set in the environment, every 2000th measured record's
 *       send time (from the window's start) and latency go to stderr: the
 *       shape over time (a backlog draining, periodic stalls).
 *
 * Both produce the records bench/bench_chain.c runs through the reference
 * chain: the same generator (xorshift64, same seed, same format), ~250-byte
 * JSON values, key "s-NNNN" as a JSON string, headers gateway and trace_id.
 * What a latency figure includes: this producer's linger (1 ms) and
 * request, the broker's append, the relay's fetch, processing, linger and
 * produce request, the second append, and this consumer's fetch - so only
 * the difference between two programs is the cost of one of them.
 */
#include <librdkafka/rdkafka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NGEN 100000

struct gen {
    char    *text;
    uint32_t (*idx)[4]; /* key_off, key_len, val_off, val_len */
    uint64_t bytes;     /* key + value bytes of all NGEN records */
};

static const char *const names[] = {"Ana Lima",      "Jonas Becker",
                                    "Mei Tanaka",    "Samuel Okafor",
                                    "Ines Duarte",   "Piotr Nowak"};
static const char *const stages[] = {"intake", "press",      "weld",
                                     "paint",  "inspection", "packing"};
static const char *const actions[] = {"recalibrate", "reboot",
                                      "set-threshold", "firmware-update"};

static void die(const char *what, const char *why)
{
    fprintf(stderr, "e2e_client: %s: %s\n", what, why);
    exit(1);
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n);

    if (p == NULL) {
        die("malloc", "out of memory");
    }
    return p;
}

static int64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void sleep_ns(int64_t ns)
{
    struct timespec ts;

    ts.tv_sec = ns / 1000000000;
    ts.tv_nsec = ns % 1000000000;
    nanosleep(&ts, NULL);
}

/* The records of bench_chain.c's make_records(), byte for byte. */
static void gen_make(struct gen *g)
{
    size_t   cap = (size_t)NGEN * 300, len = 0;
    uint64_t x = 88172645463325252ull; /* xorshift64 */
    size_t   i;
    int      n;

    g->text = xmalloc(cap);
    g->idx = xmalloc(NGEN * sizeof(*g->idx));
    g->bytes = 0;
    for (i = 0; i < NGEN; i++) {
        unsigned s, k;

        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        s = (unsigned)(x % 500) + 1;
        k = (unsigned)((x >> 16) % 6);
        if (cap - len < 512) {
            die("generator", "buffer too small");
        }
        g->idx[i][0] = (uint32_t)len;
        n = snprintf(g->text + len, cap - len, "\"s-%04u\"", s);
        g->idx[i][1] = (uint32_t)n;
        len += (size_t)n;
        g->idx[i][2] = (uint32_t)len;
        n = snprintf(
            g->text + len, cap - len,
            "{\"type\":\"command\",\"action\":\"%s\",\"sensor_id\":\"s-%04u\","
            "\"stage\":\"%s\",\"operator\":{\"name\":\"%s\",\"email\":"
            "\"user%u@example.com\",\"ip\":\"10.1.%u.%u\"},\"reading\":{"
            "\"temp_c\":\"%u.%u\",\"pressure_kpa\":\"10%u.%u\"},"
            "\"source_ip\":\"203.0.113.%u\",\"ts\":%llu}",
            actions[(x >> 24) % 4], s, stages[s % 6], names[k],
            (unsigned)(x >> 32) % 1000, (unsigned)(x >> 8) % 8,
            (unsigned)(x >> 40) % 250 + 2, (unsigned)(x >> 20) % 90 + 10,
            (unsigned)(x >> 28) % 10, (unsigned)(x >> 36) % 3,
            (unsigned)(x >> 44) % 10, (unsigned)(x >> 50) % 254 + 1,
            1732150000000ull + i * 7);
        g->idx[i][3] = (uint32_t)n;
        len += (size_t)n;
        g->bytes += g->idx[i][1] + g->idx[i][3];
    }
}

static void conf_set(rd_kafka_conf_t *conf, const char *k, const char *v)
{
    char errstr[512];

    if (rd_kafka_conf_set(conf, k, v, errstr, sizeof(errstr)) !=
        RD_KAFKA_CONF_OK) {
        die(k, errstr);
    }
}

static atomic_ullong n_delivery_failed;

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *rkm, void *opaque)
{
    (void)rk;
    (void)opaque;
    if (rkm->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        if (atomic_fetch_add(&n_delivery_failed, 1) == 0) {
            fprintf(stderr, "e2e_client: delivery failed: %s\n",
                    rd_kafka_err2str(rkm->err));
        }
    }
}

static rd_kafka_t *new_producer(const char *bootstrap, const char *linger)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_t      *rk;
    char             errstr[512];

    conf_set(conf, "bootstrap.servers", bootstrap);
    conf_set(conf, "linger.ms", linger);
    conf_set(conf, "partitioner", "murmur2_random");
    rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
    rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (rk == NULL) {
        die("producer", errstr);
    }
    return rk;
}

/* Produces record i of g (plus extra headers) to topic; waits while the
 * producer queue is full. */
static void produce(rd_kafka_t *rk, rd_kafka_topic_t *rkt, const struct gen *g,
                    size_t i, rd_kafka_headers_t *hdrs)
{
    const uint32_t     *x = g->idx[i % NGEN];
    rd_kafka_resp_err_t err;

    rd_kafka_header_add(hdrs, "gateway", -1, "gw-03", -1);
    rd_kafka_header_add(hdrs, "trace_id", -1, "ad3c2d6d1a3d1fa7", -1);
    for (;;) {
        err = rd_kafka_producev(rk, RD_KAFKA_V_RKT(rkt),
                                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                RD_KAFKA_V_KEY((g->text + x[0]), x[1]),
                                RD_KAFKA_V_VALUE((g->text + x[2]), x[3]),
                                RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_END);
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            break;
        }
        rd_kafka_poll(rk, 10);
    }
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        die("produce", rd_kafka_err2str(err));
    }
}

/* ---------------------------------------------------------------------- */
/* load */

static int cmd_load(const char *bootstrap, const char *topic,
                    unsigned long long count)
{
    struct gen        g;
    rd_kafka_t       *rk;
    rd_kafka_topic_t *rkt;
    unsigned long long i;
    uint64_t          bytes = 0;
    int64_t           t0;

    gen_make(&g);
    rk = new_producer(bootstrap, "20");
    rkt = rd_kafka_topic_new(rk, topic, NULL);
    t0 = now_ns();
    for (i = 0; i < count; i++) {
        const uint32_t *x = g.idx[i % NGEN];

        produce(rk, rkt, &g, (size_t)i, rd_kafka_headers_new(2));
        bytes += x[1] + x[3];
        if ((i & 1023) == 0) {
            rd_kafka_poll(rk, 0);
        }
    }
    if (rd_kafka_flush(rk, 120000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        die("load", "not every record delivered within 120 s");
    }
    printf("{\"records\":%llu,\"bytes\":%llu,\"seconds\":%.3f}\n", count,
           (unsigned long long)bytes, (double)(now_ns() - t0) / 1e9);
    rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(rk);
    free(g.text);
    free(g.idx);
    return atomic_load(&n_delivery_failed) == 0 ? 0 : 1;
}

/* ---------------------------------------------------------------------- */
/* latency */

struct lat {
    const char   *bootstrap, *in, *out, *group;
    double        rate, seconds, warmup, startup_timeout;
    atomic_int    seen_output;  /* the consumer got anything */
    atomic_int    producer_done;
    atomic_llong  win_start, win_end; /* measured window, ns; 0 = not yet */
    atomic_ullong sent_in_window;
    int64_t      *lat;          /* consumer thread only */
    int64_t      *at;           /* each lat's send time - window start */
    size_t        nlat, caplat;
    uint64_t      received_total;
    int           startup_failed;
};

static void *lat_consumer(void *arg)
{
    struct lat                      *l = arg;
    rd_kafka_conf_t                 *conf = rd_kafka_conf_new();
    rd_kafka_t                      *rk;
    rd_kafka_topic_partition_list_t *subs;
    rd_kafka_message_t              *rkm;
    char                             errstr[512], buf[32];
    int64_t                          drain_deadline = 0;

    conf_set(conf, "bootstrap.servers", l->bootstrap);
    conf_set(conf, "group.id", l->group);
    conf_set(conf, "auto.offset.reset", "earliest");
    conf_set(conf, "enable.auto.commit", "false");
    conf_set(conf, "fetch.wait.max.ms", "100");
    rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
    if (rk == NULL) {
        die("consumer", errstr);
    }
    rd_kafka_poll_set_consumer(rk);
    subs = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(subs, l->out, RD_KAFKA_PARTITION_UA);
    if (rd_kafka_subscribe(rk, subs) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        die("subscribe", l->out);
    }
    rd_kafka_topic_partition_list_destroy(subs);
    for (;;) {
        int64_t t;

        rkm = rd_kafka_consumer_poll(rk, 50);
        t = now_ns();
        if (rkm != NULL) {
            if (rkm->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
                rd_kafka_headers_t *h = NULL;
                const void         *v;
                size_t              n;
                long long           sent = -1;
                long long           ws = atomic_load(&l->win_start);
                long long           we = atomic_load(&l->win_end);

                atomic_store(&l->seen_output, 1);
                l->received_total++;
                if (rd_kafka_message_headers(rkm, &h) ==
                        RD_KAFKA_RESP_ERR_NO_ERROR &&
                    rd_kafka_header_get_last(h, "bench.sent", &v, &n) ==
                        RD_KAFKA_RESP_ERR_NO_ERROR &&
                    n < sizeof(buf)) {
                    memcpy(buf, v, n);
                    buf[n] = '\0';
                    sent = strtoll(buf, NULL, 10);
                }
                if (sent > 0 && ws > 0 && sent >= ws && (we == 0 || sent < we)) {
                    if (l->nlat == l->caplat) {
                        l->caplat = l->caplat ? 2 * l->caplat : 65536;
                        l->lat = realloc(l->lat, l->caplat * sizeof(*l->lat));
                        l->at = realloc(l->at, l->caplat * sizeof(*l->at));
                        if (l->lat == NULL || l->at == NULL) {
                            die("malloc", "out of memory");
                        }
                    }
                    l->at[l->nlat] = sent - ws;
                    l->lat[l->nlat++] = t - sent;
                    if (getenv("E2E_DEBUG") != NULL && l->nlat % 2000 == 0) {
                        fprintf(stderr, "e2e_client: +%.2f s sent: %.1f ms\n",
                                (double)(sent - ws) / 1e9,
                                (double)(t - sent) / 1e6);
                    }
                }
            } else if (rkm->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                fprintf(stderr, "e2e_client: consumer: %s\n",
                        rd_kafka_message_errstr(rkm));
            }
            rd_kafka_message_destroy(rkm);
        }
        if (atomic_load(&l->producer_done)) {
            if (l->startup_failed ||
                l->nlat >= atomic_load(&l->sent_in_window)) {
                break;
            }
            if (drain_deadline == 0) {
                drain_deadline = t + 30 * (int64_t)1000000000;
            } else if (t > drain_deadline) {
                break;
            }
        }
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return NULL;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

    return x < y ? -1 : x > y;
}

static double pct_ms(const int64_t *v, size_t n, double p)
{
    size_t i;

    if (n == 0) {
        return 0;
    }
    i = (size_t)(p * (double)(n - 1) + 0.5);
    return (double)v[i] / 1e6;
}

/* The median latency of the records sent in [from, to) ns after the start
 * of the measured window; 0 when there are none. */
static double p50_of_span(const struct lat *l, int64_t from, int64_t to)
{
    int64_t *v = malloc((l->nlat > 0 ? l->nlat : 1) * sizeof(*v));
    size_t   i, n = 0;
    double   r;

    if (v == NULL) {
        die("malloc", "out of memory");
    }
    for (i = 0; i < l->nlat; i++) {
        if (l->at[i] >= from && l->at[i] < to) {
            v[n++] = l->lat[i];
        }
    }
    qsort(v, n, sizeof(*v), cmp_i64);
    r = pct_ms(v, n, 0.5);
    free(v);
    return r;
}

static int cmd_latency(struct lat *l)
{
    struct gen        g;
    rd_kafka_t       *rk;
    rd_kafka_topic_t *rkt;
    pthread_t         thr;
    int64_t           t0, t, start, ws, we, end;
    uint64_t          i = 0, due;
    char              num[32];
    rd_kafka_headers_t *h;
    unsigned long long sent;
    double             p50_first, p50_last;

    gen_make(&g);
    rk = new_producer(l->bootstrap, "1");
    rkt = rd_kafka_topic_new(rk, l->in, NULL);
    pthread_create(&thr, NULL, lat_consumer, l);

    /* Probes until the relay answers. */
    t0 = now_ns();
    while (!atomic_load(&l->seen_output)) {
        if ((double)(now_ns() - t0) / 1e9 > l->startup_timeout) {
            fprintf(stderr, "e2e_client: no output on '%s' within %.0f s\n",
                    l->out, l->startup_timeout);
            l->startup_failed = 1;
            break;
        }
        h = rd_kafka_headers_new(3);
        snprintf(num, sizeof(num), "%lld", (long long)now_ns());
        rd_kafka_header_add(h, "bench.sent", -1, num, -1);
        produce(rk, rkt, &g, (size_t)i++, h);
        rd_kafka_poll(rk, 10);
    }
    /* Paced: warm-up, measured window, one second of tail load. */
    start = now_ns();
    ws = start + (int64_t)(l->warmup * 1e9);
    we = ws + (int64_t)(l->seconds * 1e9);
    end = we + 1000000000;
    due = 0;
    if (!l->startup_failed) {
        atomic_store(&l->win_start, ws);
        atomic_store(&l->win_end, we);
    }
    while (!l->startup_failed && (t = now_ns()) < end) {
        uint64_t target = (uint64_t)((double)(t - start) / 1e9 * l->rate);

        while (due < target) {
            t = now_ns();
            h = rd_kafka_headers_new(3);
            snprintf(num, sizeof(num), "%lld", (long long)t);
            rd_kafka_header_add(h, "bench.sent", -1, num, -1);
            produce(rk, rkt, &g, (size_t)i++, h);
            if (t >= ws && t < we) {
                atomic_fetch_add(&l->sent_in_window, 1);
            }
            due++;
        }
        rd_kafka_poll(rk, 0);
        sleep_ns(200000);
    }
    rd_kafka_flush(rk, 30000);
    atomic_store(&l->producer_done, 1);
    pthread_join(thr, NULL);

    sent = atomic_load(&l->sent_in_window);
    /* the median of the first and of the last two seconds of the window:
     * a program that keeps up has about the same; one that falls behind
     * has a backlog, and the latency grows with it */
    p50_first = p50_of_span(l, 0, 2000000000LL);
    p50_last = p50_of_span(l, (int64_t)(l->seconds * 1e9) - 2000000000LL,
                           (int64_t)(l->seconds * 1e9));
    qsort(l->lat, l->nlat, sizeof(*l->lat), cmp_i64);
    printf("{\"rate\":%.0f,\"seconds\":%.1f,\"sent\":%llu,\"received\":%zu,"
           "\"p50_first_ms\":%.2f,\"p50_last_ms\":%.2f,"
           "\"p50_ms\":%.2f,\"p90_ms\":%.2f,\"p99_ms\":%.2f,\"p999_ms\":%.2f,"
           "\"max_ms\":%.2f,\"delivery_failed\":%llu}\n",
           l->rate, l->seconds, sent, l->nlat, p50_first, p50_last,
           pct_ms(l->lat, l->nlat, 0.5),
           pct_ms(l->lat, l->nlat, 0.9), pct_ms(l->lat, l->nlat, 0.99),
           pct_ms(l->lat, l->nlat, 0.999),
           l->nlat ? (double)l->lat[l->nlat - 1] / 1e6 : 0.0,
           (unsigned long long)atomic_load(&n_delivery_failed));
    rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(rk);
    free(l->lat);
    free(l->at);
    free(g.text);
    free(g.idx);
    return !l->startup_failed && sent > 0 && l->nlat == sent &&
                   atomic_load(&n_delivery_failed) == 0
               ? 0
               : 1;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: e2e_client load -b BOOTSTRAP -t TOPIC -n COUNT\n"
            "       e2e_client latency -b BOOTSTRAP -i IN -o OUT -r RATE "
            "[-d SECONDS] [-w WARMUP] [-g GROUP] [-t STARTUP_TIMEOUT]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    const char        *bootstrap = NULL, *topic = NULL;
    unsigned long long count = 0;
    struct lat         l;
    int                i, load;

    if (argc < 2) {
        usage();
    }
    load = strcmp(argv[1], "load") == 0;
    if (!load && strcmp(argv[1], "latency") != 0) {
        usage();
    }
    memset(&l, 0, sizeof(l));
    l.seconds = 10;
    l.warmup = 2;
    l.startup_timeout = 60;
    l.group = "e2e-latency";
    for (i = 2; i < argc; i++) {
        const char *a = argv[i], *v;

        if (a[0] != '-' || a[1] == '\0' || a[2] != '\0' || i + 1 >= argc) {
            usage();
        }
        v = argv[++i];
        switch (a[1]) {
        case 'b': bootstrap = v; break;
        case 't':
            if (load) {
                topic = v;
            } else {
                l.startup_timeout = atof(v);
            }
            break;
        case 'n': count = strtoull(v, NULL, 10); break;
        case 'i': l.in = v; break;
        case 'o': l.out = v; break;
        case 'r': l.rate = atof(v); break;
        case 'd': l.seconds = atof(v); break;
        case 'w': l.warmup = atof(v); break;
        case 'g': l.group = v; break;
        default: usage();
        }
    }
    if (bootstrap == NULL) {
        usage();
    }
    if (load) {
        if (topic == NULL || count == 0) {
            usage();
        }
        return cmd_load(bootstrap, topic, count);
    }
    if (l.in == NULL || l.out == NULL || l.rate <= 0 || l.seconds <= 0) {
        usage();
    }
    l.bootstrap = bootstrap;
    return cmd_latency(&l);
}

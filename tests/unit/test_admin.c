/*
 * test_admin.c - the metrics registry (proxy/metrics.c) and the admin
 * endpoint (proxy/admin.c), without Kafka: counters from several threads,
 * gauges, histograms, the label cap, the relay's families, then a server
 * on a free loopback port scraped with libcurl. Every scrape is checked by
 * a small parser of the exposition format: each sample line is
 * `name{labels} value`, each metric has HELP and TYPE before its samples,
 * histogram buckets are monotonic and +Inf equals _count.
 */
#include "px.h"
#include "t.h"

#include <curl/curl.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>

/* ---------------------------------------------------------------------- */
/* A tiny exposition parser */

#define MAXS 4096

struct sample {
    char   name[128];
    char   labels[512]; /* as written, le included */
    char   base_labels[512]; /* without le */
    char   le[32];
    double value;
};

struct expo {
    int           nsamples;
    struct sample s[MAXS];
    int           nfam;
    char          fam[128][128];
    char          type[128][16];
    int           has_help[128];
    char          err[256];
};

static int fam_index(struct expo *e, const char *name)
{
    int i;

    for (i = 0; i < e->nfam; i++) {
        if (strcmp(e->fam[i], name) == 0) {
            return i;
        }
    }
    return -1;
}

static int name_char(char c, int first)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
           c == ':' || (!first && c >= '0' && c <= '9');
}

/* Parses one sample line; returns 0 or -1 (e->err). */
static int parse_sample(struct expo *e, const char *line)
{
    struct sample *s = &e->s[e->nsamples];
    const char    *p = line;
    size_t         n = 0, bl = 0;
    char          *end;

    memset(s, 0, sizeof(*s));
    if (!name_char(*p, 1)) {
        snprintf(e->err, sizeof(e->err), "bad name: %s", line);
        return -1;
    }
    while (name_char(*p, 0) && n < sizeof(s->name) - 1) {
        s->name[n++] = *p++;
    }
    n = 0;
    if (*p == '{') {
        p++;
        while (*p != '}') {
            char   key[64], val[256];
            size_t k = 0, v = 0;

            if (!name_char(*p, 1)) {
                snprintf(e->err, sizeof(e->err), "bad label: %s", line);
                return -1;
            }
            while (name_char(*p, 0) && k < sizeof(key) - 1) {
                key[k++] = *p++;
            }
            key[k] = '\0';
            if (p[0] != '=' || p[1] != '"') {
                snprintf(e->err, sizeof(e->err), "bad label: %s", line);
                return -1;
            }
            p += 2;
            while (*p != '"') {
                if (*p == '\0' || *p == '\n') {
                    snprintf(e->err, sizeof(e->err), "open label: %s", line);
                    return -1;
                }
                if (*p == '\\') {
                    p++;
                    if (*p != '\\' && *p != '"' && *p != 'n') {
                        snprintf(e->err, sizeof(e->err), "bad escape: %s",
                                 line);
                        return -1;
                    }
                }
                if (v < sizeof(val) - 1) {
                    val[v++] = p[-1] == '\\' && *p == 'n' ? '\n' : *p;
                }
                p++;
            }
            val[v] = '\0';
            p++;
            if (strcmp(key, "le") == 0) {
                snprintf(s->le, sizeof(s->le), "%s", val);
            } else {
                bl += (size_t)snprintf(s->base_labels + bl,
                                       sizeof(s->base_labels) - bl, "%s=%s;",
                                       key, val);
            }
            n += (size_t)snprintf(s->labels + n, sizeof(s->labels) - n,
                                  "%s=%s;", key, val);
            if (*p == ',') {
                p++;
            } else if (*p != '}') {
                snprintf(e->err, sizeof(e->err), "bad label list: %s", line);
                return -1;
            }
        }
        p++;
    }
    if (*p != ' ') {
        snprintf(e->err, sizeof(e->err), "no space before value: %s", line);
        return -1;
    }
    p++;
    s->value = strtod(p, &end);
    if (end == p || *end != '\0') {
        snprintf(e->err, sizeof(e->err), "bad value: %s", line);
        return -1;
    }
    e->nsamples++;
    return 0;
}

/* The family a sample belongs to (histogram suffixes stripped). */
static int sample_family(struct expo *e, const char *name)
{
    static const char *const sfx[] = {"_bucket", "_sum", "_count"};
    char                     base[128];
    int                      i, f = fam_index(e, name);
    size_t                   nl = strlen(name), sl;

    if (f >= 0) {
        return f;
    }
    for (i = 0; i < 3; i++) {
        sl = strlen(sfx[i]);
        if (nl > sl && strcmp(name + nl - sl, sfx[i]) == 0) {
            snprintf(base, sizeof(base), "%.*s", (int)(nl - sl), name);
            f = fam_index(e, base);
            if (f >= 0 && strcmp(e->type[f], "histogram") == 0) {
                return f;
            }
        }
    }
    return -1;
}

/* Checks histograms: per label set, le increasing, counts monotonic, +Inf
 * bucket == _count. */
static int check_histograms(struct expo *e)
{
    int i, j;

    for (i = 0; i < e->nsamples; i++) {
        const struct sample *c = &e->s[i];
        size_t               nl = strlen(c->name);
        double               prev_le = -1, prev = -1, inf = -1;
        char                 base[128];

        if (nl < 6 || strcmp(c->name + nl - 6, "_count") != 0) {
            continue;
        }
        snprintf(base, sizeof(base), "%.*s_bucket", (int)(nl - 6), c->name);
        for (j = 0; j < e->nsamples; j++) {
            const struct sample *b = &e->s[j];
            double               le;

            if (strcmp(b->name, base) != 0 ||
                strcmp(b->base_labels, c->base_labels) != 0) {
                continue;
            }
            le = strcmp(b->le, "+Inf") == 0 ? INFINITY : strtod(b->le, NULL);
            if (!(le > prev_le) || b->value < prev) {
                snprintf(e->err, sizeof(e->err), "%s: not monotonic at le=%s",
                         base, b->le);
                return -1;
            }
            prev_le = le;
            prev = b->value;
            if (isinf(le)) {
                inf = b->value;
            }
        }
        if (inf != c->value) {
            snprintf(e->err, sizeof(e->err), "%s: +Inf %g != count %g", base,
                     inf, c->value);
            return -1;
        }
    }
    return 0;
}

static int parse_expo(struct expo *e, const char *text)
{
    const char *p = text, *nl;
    char        line[1024], name[128], rest[256];
    int         f;

    memset(e, 0, sizeof(*e));
    while (*p != '\0') {
        nl = strchr(p, '\n');
        if (nl == NULL) {
            snprintf(e->err, sizeof(e->err), "last line without newline");
            return -1;
        }
        snprintf(line, sizeof(line), "%.*s", (int)(nl - p), p);
        p = nl + 1;
        if (strncmp(line, "# HELP ", 7) == 0 || strncmp(line, "# TYPE ", 7) == 0) {
            if (sscanf(line + 7, "%127s %255[^\n]", name, rest) != 2) {
                snprintf(e->err, sizeof(e->err), "bad comment: %s", line);
                return -1;
            }
            f = fam_index(e, name);
            if (f < 0) {
                if (e->nfam == 128) {
                    return -1;
                }
                f = e->nfam++;
                snprintf(e->fam[f], sizeof(e->fam[f]), "%s", name);
            }
            if (line[2] == 'H') {
                e->has_help[f] = 1;
            } else {
                snprintf(e->type[f], sizeof(e->type[f]), "%s", rest);
            }
            continue;
        }
        if (line[0] == '#' || line[0] == '\0') {
            continue;
        }
        if (e->nsamples == MAXS || parse_sample(e, line) != 0) {
            return -1;
        }
        f = sample_family(e, e->s[e->nsamples - 1].name);
        if (f < 0 || !e->has_help[f] || e->type[f][0] == '\0') {
            snprintf(e->err, sizeof(e->err), "no HELP/TYPE before: %s", line);
            return -1;
        }
    }
    return check_histograms(e);
}

/* The value of the sample name{labels} ("k=v;k=v;"), or NAN. */
static double sample_value(const struct expo *e, const char *name,
                           const char *labels)
{
    int i;

    for (i = 0; i < e->nsamples; i++) {
        if (strcmp(e->s[i].name, name) == 0 &&
            strcmp(e->s[i].labels, labels) == 0) {
            return e->s[i].value;
        }
    }
    return NAN;
}

static struct expo expo;

static int render_parse(struct px_metrics *m)
{
    struct smt_buf b;
    int            rc;

    smt_buf_init(&b);
    px_metrics_render(m, &b);
    smt_buf_addc(&b, '\0');
    rc = parse_expo(&expo, b.ptr);
    if (rc != 0) {
        fprintf(stderr, "exposition: %s\n%s", expo.err, b.ptr);
    }
    smt_buf_fini(&b);
    return rc;
}

/* ---------------------------------------------------------------------- */
/* The registry */

struct counting {
    struct px_metrics *m;
    uint32_t           idx, slot, hist;
};

static void *count_thread(void *arg)
{
    struct counting *c = arg;
    int              i;

    px_metrics_thread(c->m, c->idx);
    for (i = 0; i < 100000; i++) {
        px_metrics_add(c->m, c->slot, 1);
    }
    for (i = 0; i < 1000; i++) {
        px_metrics_observe(c->m, c->hist, (uint64_t)i * 100);
    }
    px_metrics_thread(NULL, 0);
    return NULL;
}

static void test_registry(void)
{
    struct px_metrics *m = px_metrics_new(3, 0);
    uint32_t fc = px_metrics_family(m, "t_records_total",
                                    "Records.\nTwo \\ \"lines\"",
                                    PX_M_COUNTER, 2, 1);
    uint32_t fg = px_metrics_family(m, "t_depth", "A gauge.", PX_M_GAUGE, 0, 0);
    uint32_t fh = px_metrics_family(m, "t_latency_seconds", "Latency.",
                                    PX_M_HISTOGRAM, 0, 0);
    const char *la[] = {"route", "r1", "topic", "a", NULL};
    const char *lb[] = {"route", "r1", "topic", "b\"q\\x\ny", NULL};
    const char *lc[] = {"route", "r1", "topic", "c", NULL};
    const char *ld[] = {"route", "r1", "topic", "d", NULL};
    uint32_t    sa = px_metrics_series(m, fc, la);
    uint32_t    sb = px_metrics_series(m, fc, lb);
    uint32_t    sc = px_metrics_series(m, fc, lc);
    uint32_t    sd = px_metrics_series(m, fc, ld);
    uint32_t    g = px_metrics_series(m, fg, NULL);
    uint32_t    h = px_metrics_series(m, fh, NULL);
    struct counting c[4];
    pthread_t   thr[4];
    int         i;

    T_EQI(px_metrics_series(m, fc, la), sa); /* same label set, same slot */
    T_OK(sa != sb);
    T_EQI(sc, sd); /* over the cap of 2: both in the overflow series */
    /* three attached threads and one on the shared shard (index 3) */
    for (i = 0; i < 4; i++) {
        c[i].m = m;
        c[i].idx = (uint32_t)i;
        c[i].slot = sa;
        c[i].hist = h;
        pthread_create(&thr[i], NULL, count_thread, &c[i]);
    }
    for (i = 0; i < 4; i++) {
        pthread_join(thr[i], NULL);
    }
    px_metrics_add(m, sb, 5);
    px_metrics_add(m, sc, 1);
    px_metrics_add(m, sd, 2);
    T_EQI(render_parse(m), 0);
    {
        /* HELP escapes backslash and newline, not the quote (0.0.4) */
        struct smt_buf txt;

        smt_buf_init(&txt);
        px_metrics_render(m, &txt);
        smt_buf_addc(&txt, '\0');
        T_OK(strstr(txt.ptr, "# HELP t_records_total Records.\\nTwo \\\\ "
                             "\"lines\"\n") != NULL);
        smt_buf_fini(&txt);
    }
    T_OK(sample_value(&expo, "t_records_total", "route=r1;topic=a;") == 400000);
    T_OK(sample_value(&expo, "t_records_total", "route=r1;topic=b\"q\\x\ny;") == 5);
    T_OK(sample_value(&expo, "t_records_total", "route=r1;topic=(other);") == 3);
    T_OK(isnan(sample_value(&expo, "t_records_total", "route=r1;topic=c;")));
    /* the gauge is hidden until set */
    T_OK(isnan(sample_value(&expo, "t_depth", "")));
    T_OK(sample_value(&expo, "t_latency_seconds_count", "") == 4000);
    /* 0..99900 us: 4 x 2 (0 and 100) <= 100 us */
    T_OK(sample_value(&expo, "t_latency_seconds_bucket", "le=0.0001;") == 8);
    T_OK(sample_value(&expo, "t_latency_seconds_bucket", "le=0.1;") == 4000);
    T_OK(fabs(sample_value(&expo, "t_latency_seconds_sum", "") -
              4 * 49950.0 * 1000 / 1e6) < 0.01);
    px_metrics_set(m, g, -7);
    T_EQI(render_parse(m), 0);
    T_OK(sample_value(&expo, "t_depth", "") == -7);
    px_metrics_hide(m, g);
    T_EQI(render_parse(m), 0);
    T_OK(isnan(sample_value(&expo, "t_depth", "")));
    px_metrics_free(m);

    /* a full registry never fails: extra series count where nothing shows */
    m = px_metrics_new(1, 0);
    fc = px_metrics_family(m, "t_many_total", "Many.", PX_M_COUNTER, 0, 0);
    for (i = 0; i < 1000; i++) {
        char        num[16];
        const char *l[] = {"n", num, NULL};

        snprintf(num, sizeof(num), "%d", i);
        px_metrics_add(m, px_metrics_series(m, fc, l), 1);
    }
    T_EQI(render_parse(m), 0);
    T_OK(expo.nsamples > 10 && expo.nsamples < 1000);
    px_metrics_free(m);
}

/* ---------------------------------------------------------------------- */
/* The relay's families */

static const char pipeline_yaml[] =
    "name: t\n"
    "kafka: {bootstrap.servers: embedded, sasl.password: hunter2,\n"
    "        sasl.username: bob}\n"
    "consumer: {ssl.key.password: keypass}\n"
    "x-registry: {basic.auth.user.info: 'user:pw', url: 'http://r',\n"
    "             api_token: tok123}\n"
    "input: {topics: [in]}\n"
    "errors: {tolerance: all, deadletterqueue.topic.name: dlq}\n"
    "admin: {enable: true, listen: '127.0.0.1:0'}\n"
    "routes:\n"
    "  - name: a\n"
    "    transforms:\n"
    "      - {type: Filter, name: drop_it}\n"
    "    topic: out.a\n"
    "  - name: b\n"
    "    topic: out.b\n";

static struct smt_pipeline_conf *load(void)
{
    struct smt_diags          d;
    struct smt_pipeline_conf *pc;
    uint32_t                  i;

    smt_diags_init(&d);
    pc = smt_pipeline_conf_load_yaml("t.yaml", pipeline_yaml,
                                     strlen(pipeline_yaml), &d);
    for (i = 0; i < d.n; i++) {
        fprintf(stderr, "%s\n", d.msg[i]);
    }
    smt_diags_fini(&d);
    return pc;
}

static void test_relay_metrics(struct smt_pipeline_conf *pc)
{
    struct px_relay_metrics rm;
    int                     key1, key2, i;

    T_EQI(px_relay_metrics_init(&rm, pc, 2, 3), 0);
    px_metrics_thread(rm.m, 0);
    px_metrics_add(rm.m, px_rm_in_slot(&rm, "in"), 10);
    for (i = 0; i < 5; i++) {
        px_rm_count_out(&rm, 0, &key1, "out.a");
    }
    px_rm_count_out(&rm, 1, &key1, "out.a"); /* same key, other route */
    px_rm_count_out(&rm, 1, &key2, "out.b");
    px_rm_count_out(&rm, 1, &key2, "renamed"); /* key reused for a new name */
    px_rm_count_out(&rm, 2, &key2, "unrouted.topic");
    px_rm_count_error(&rm, 0, 1, SMT_STAGE_TRANSFORMATION);
    px_rm_count_error(&rm, 0, 1, SMT_STAGE_TRANSFORMATION);
    px_rm_count_error(&rm, 1, 0, SMT_STAGE_KAFKA_PRODUCE);
    px_rm_count_error(&rm, 2, 9, SMT_STAGE_VALUE_CONVERTER);
    px_rm_count_dlq(&rm, 0);
    px_rm_count_dlq(&rm, 2);
    px_metrics_set(rm.m, rm.filtered[rm.step_base[0] + 0], 4);
    px_metrics_set(rm.m, px_rm_lag_slot(&rm, "in", 3), 42);
    px_metrics_observe(rm.m, rm.latency, 1500);
    T_EQI(render_parse(rm.m), 0);
    T_OK(sample_value(&expo, "smtproxy_records_in_total", "topic=in;") == 10);
    T_OK(sample_value(&expo, "smtproxy_records_out_total",
                      "route=a;topic=out.a;") == 5);
    T_OK(sample_value(&expo, "smtproxy_records_out_total",
                      "route=b;topic=out.a;") == 1);
    T_OK(sample_value(&expo, "smtproxy_records_out_total",
                      "route=b;topic=renamed;") == 1);
    T_OK(sample_value(&expo, "smtproxy_records_out_total",
                      "route=;topic=unrouted.topic;") == 1);
    T_OK(sample_value(&expo, "smtproxy_errors_total",
                      "stage=TRANSFORMATION;route=a;step=drop_it;") == 2);
    T_OK(sample_value(&expo, "smtproxy_errors_total",
                      "stage=KAFKA_PRODUCE;route=b;step=;") == 1);
    T_OK(sample_value(&expo, "smtproxy_errors_total",
                      "stage=VALUE_CONVERTER;route=;step=;") == 1);
    T_OK(sample_value(&expo, "smtproxy_dlq_records_total",
                      "route=a;topic=dlq;") == 1);
    T_OK(sample_value(&expo, "smtproxy_dlq_records_total",
                      "route=;topic=dlq;") == 1);
    T_OK(sample_value(&expo, "smtproxy_records_filtered_total",
                      "route=a;step=drop_it;") == 4);
    T_OK(sample_value(&expo, "smtproxy_consumer_lag_records",
                      "topic=in;partition=3;") == 42);
    T_OK(sample_value(&expo, "smtproxy_reloads_total", "result=ok;") == 0);
    T_OK(sample_value(&expo, "smtproxy_unrouted_records_total", "") == 0);
    T_OK(sample_value(&expo, "smtproxy_processing_latency_seconds_count", "") ==
         1);
    T_OK(sample_value(&expo, "smtproxy_processing_latency_seconds_bucket",
                      "le=0.0025;") == 1);
    T_OK(sample_value(&expo, "smtproxy_processing_latency_seconds_bucket",
                      "le=0.001;") == 0);
    /* the input-topic cap is 3: the fourth and fifth topics are "(other)" */
    px_metrics_add(rm.m, px_rm_in_slot(&rm, "in2"), 1);
    px_metrics_add(rm.m, px_rm_in_slot(&rm, "in3"), 1);
    px_metrics_add(rm.m, px_rm_in_slot(&rm, "in4"), 1);
    px_metrics_add(rm.m, px_rm_in_slot(&rm, "in5"), 1);
    T_EQI(render_parse(rm.m), 0);
    T_OK(sample_value(&expo, "smtproxy_records_in_total", "topic=in3;") == 1);
    T_OK(sample_value(&expo, "smtproxy_records_in_total", "topic=(other);") ==
         2);
    px_metrics_thread(NULL, 0);
    px_relay_metrics_fini(&rm);
}

/* ---------------------------------------------------------------------- */
/* The server */

struct hooks_state {
    int                       ready;
    int                       reload_calls;
    enum px_reload_result     next;
    struct smt_pipeline_conf *pc;
};

static int h_ready(void *opaque, char *reason, size_t size)
{
    struct hooks_state *s = opaque;

    if (!s->ready) {
        snprintf(reason, size, "no partitions assigned");
    }
    return s->ready;
}

static char *h_config(void *opaque)
{
    struct hooks_state *s = opaque;

    return px_config_json(s->pc->tree->root);
}

static enum px_reload_result h_reload(void *opaque, struct smt_diags *d,
                                      uint64_t *generation)
{
    struct hooks_state *s = opaque;

    s->reload_calls++;
    *generation = s->next == PX_RELOAD_OK ? 7 : 0;
    if (s->next == PX_RELOAD_INVALID) {
        smt_diag(d, NULL, "t.yaml:3:5: unknown key \"x\"");
        smt_diag(d, NULL, "second error");
    } else if (s->next == PX_RELOAD_CONFLICT) {
        smt_diag(d, NULL, "a reload is already running");
    }
    return s->next;
}

static size_t on_body(char *p, size_t size, size_t n, void *opaque)
{
    smt_buf_add(opaque, p, size * n);
    return size * n;
}

/* One request; returns the status (0 on a transport error) and the body
 * (NUL-terminated) in body, the content type in ctype. */
static long http(unsigned port, const char *method, const char *path,
                 struct smt_buf *body, char *ctype, size_t csize)
{
    CURL *c = curl_easy_init();
    char  url[256];
    long  status = 0;
    char *ct = NULL;

    body->len = 0;
    snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", port, path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (strcmp(method, "POST") == 0) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, "{}");
    } else if (strcmp(method, "HEAD") == 0) {
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    }
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, body);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    if (curl_easy_perform(c) == CURLE_OK) {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct);
        if (ctype != NULL) {
            snprintf(ctype, csize, "%s", ct ? ct : "");
        }
    }
    curl_easy_cleanup(c);
    smt_buf_addc(body, '\0');
    return status;
}

static void test_server(struct smt_pipeline_conf *pc)
{
    struct px_relay_metrics rm;
    struct hooks_state      st;
    struct px_admin_hooks   hooks;
    struct px_admin        *a, *a2;
    struct smt_err          err;
    struct smt_buf          b;
    char                    ct[128], addr[64];
    unsigned                port;

    memset(&st, 0, sizeof(st));
    st.pc = pc;
    memset(&hooks, 0, sizeof(hooks));
    hooks.opaque = &st;
    hooks.ready = h_ready;
    hooks.config = h_config;
    hooks.reload = h_reload;
    smt_buf_init(&b);
    px_relay_metrics_init(&rm, pc, 1, 0);
    px_metrics_add(rm.m, px_rm_in_slot(&rm, "in"), 3);
    px_metrics_observe(rm.m, rm.latency, 20000);

    a = px_admin_start("127.0.0.1:0", 4, rm.m, &hooks, &err);
    T_OKM(a != NULL, "%s", err.msg);
    if (a == NULL) {
        px_relay_metrics_fini(&rm);
        smt_buf_fini(&b);
        return;
    }
    port = px_admin_port(a);
    T_OK(port > 0);

    T_EQI(http(port, "GET", "/metrics", &b, ct, sizeof(ct)), 200);
    T_EQS(ct, "text/plain; version=0.0.4; charset=utf-8");
    T_EQI(parse_expo(&expo, b.ptr), 0);
    T_OK(sample_value(&expo, "smtproxy_records_in_total", "topic=in;") == 3);
    T_OK(sample_value(&expo, "smtproxy_processing_latency_seconds_bucket",
                      "le=0.025;") == 1);
    T_OK(expo.nfam >= 12);

    T_EQI(http(port, "GET", "/healthz", &b, NULL, 0), 200);
    T_EQI(http(port, "GET", "/readyz", &b, NULL, 0), 503);
    T_OK(strstr(b.ptr, "no partitions assigned") != NULL);
    st.ready = 1;
    T_EQI(http(port, "GET", "/readyz", &b, NULL, 0), 200);
    T_EQI(http(port, "HEAD", "/readyz", &b, NULL, 0), 200);

    T_EQI(http(port, "GET", "/config", &b, ct, sizeof(ct)), 200);
    T_EQS(ct, "application/json");
    T_OK(strstr(b.ptr, "hunter2") == NULL);
    T_OK(strstr(b.ptr, "keypass") == NULL);
    T_OK(strstr(b.ptr, "user:pw") == NULL);
    T_OK(strstr(b.ptr, "tok123") == NULL);
    T_OK(strstr(b.ptr, "\"sasl.password\":\"[redacted]\"") != NULL);
    T_OK(strstr(b.ptr, "\"basic.auth.user.info\":\"[redacted]\"") != NULL);
    T_OK(strstr(b.ptr, "\"sasl.username\":\"bob\"") != NULL);
    T_OK(strstr(b.ptr, "\"enable\":true") != NULL);
    T_OK(strstr(b.ptr, "\"url\":\"http://r\"") != NULL);

    st.next = PX_RELOAD_OK;
    T_EQI(http(port, "POST", "/reload", &b, ct, sizeof(ct)), 200);
    T_EQS(b.ptr, "{\"result\":\"ok\",\"generation\":7,\"errors\":[]}\n");
    st.next = PX_RELOAD_INVALID;
    T_EQI(http(port, "POST", "/reload", &b, NULL, 0), 422);
    T_EQS(b.ptr, "{\"result\":\"error\",\"errors\":[\"t.yaml:3:5: unknown key "
                 "\\\"x\\\"\",\"second error\"]}\n");
    st.next = PX_RELOAD_CONFLICT;
    T_EQI(http(port, "POST", "/reload", &b, NULL, 0), 409);
    T_OK(strstr(b.ptr, "already running") != NULL);
    T_EQI(st.reload_calls, 3);

    T_EQI(http(port, "GET", "/reload", &b, NULL, 0), 405);
    T_EQI(http(port, "POST", "/metrics", &b, NULL, 0), 405);
    T_EQI(http(port, "DELETE", "/config", &b, NULL, 0), 405);
    T_EQI(http(port, "GET", "/", &b, NULL, 0), 404);
    T_EQI(http(port, "GET", "/metricsx", &b, NULL, 0), 404);
    T_EQI(st.reload_calls, 3);

    /* the port is taken: a second server says so */
    snprintf(addr, sizeof(addr), "127.0.0.1:%u", port);
    a2 = px_admin_start(addr, 4, rm.m, &hooks, &err);
    T_OK(a2 == NULL);
    T_OK(a2 == NULL && strstr(err.msg, "in use") != NULL);
    px_admin_stop(a2);
    px_admin_stop(a);
    /* stopped: nothing answers any more */
    T_EQI(http(port, "GET", "/healthz", &b, NULL, 0), 0);

    /* no hooks: always healthy and ready, reload unsupported */
    a = px_admin_start(":0", 2, NULL, NULL, &err);
    T_OKM(a != NULL, "%s", err.msg);
    if (a != NULL) {
        port = px_admin_port(a);
        T_EQI(http(port, "GET", "/readyz", &b, NULL, 0), 200);
        T_EQI(http(port, "POST", "/reload", &b, NULL, 0), 501);
        T_EQI(http(port, "GET", "/config", &b, NULL, 0), 503);
        T_EQI(http(port, "GET", "/metrics", &b, NULL, 0), 200);
        px_admin_stop(a);
    }
    /* bad addresses */
    T_OK(px_admin_start("nonsense", 2, NULL, NULL, &err) == NULL);
    T_OK(strstr(err.msg, "expected host:port") != NULL);
    T_OK(px_admin_start("127.0.0.1:99999", 2, NULL, NULL, &err) == NULL);
    T_OK(px_admin_start("[::1:80", 2, NULL, NULL, &err) == NULL);

    px_relay_metrics_fini(&rm);
    smt_buf_fini(&b);
}

static void test_config_json(void)
{
    struct smt_diags          d;
    struct smt_pipeline_conf *pc;
    static const char         y[] =
        "name: 'q\"uote'\ninput: {topics: [in]}\n"
        "x-vals: {n: 12, f: -1.5e3, s: '12', b: false, z: ~, w: 0x1f, "
        "my.secret.key: [1, 2]}\n"
        "routes: [{name: a}]\n";
    char *json;

    smt_diags_init(&d);
    pc = smt_pipeline_conf_load_yaml("c.yaml", y, strlen(y), &d);
    T_OK(pc != NULL);
    if (pc != NULL) {
        json = px_config_json(pc->tree->root);
        T_OK(strstr(json, "\"name\":\"q\\\"uote\"") != NULL);
        T_OK(strstr(json, "\"n\":12,\"f\":-1.5e3,\"s\":\"12\",\"b\":false,"
                          "\"z\":null,\"w\":\"0x1f\","
                          "\"my.secret.key\":\"[redacted]\"") != NULL);
        if (strstr(json, "\"n\":12") == NULL) {
            fprintf(stderr, "%s", json);
        }
        free(json);
        smt_pipeline_conf_free(pc);
    }
    smt_diags_fini(&d);
}

int main(void)
{
    struct smt_pipeline_conf *pc;

    curl_global_init(CURL_GLOBAL_DEFAULT);
    px_log_level = PX_LOG_WARN;
    test_registry();
    test_config_json();
    pc = load();
    T_OK(pc != NULL);
    if (pc != NULL) {
        test_relay_metrics(pc);
        test_server(pc);
        smt_pipeline_conf_free(pc);
    }
    curl_global_cleanup();
    return t_done("test_admin");
}

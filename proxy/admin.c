/*
 * admin.c - the admin endpoint: an HTTP server (libmicrohttpd, its own
 * internal threads) for operators and orchestrators.
 *
 *   GET  /metrics   Prometheus text format 0.0.4 (proxy/metrics.c)
 *   GET  /healthz   200 while the process works (503 after a fatal error)
 *   GET  /readyz    200 when partitions are assigned, a broker is
 *                   reachable and the relay is not stopping; else 503
 *                   with the reason
 *   GET  /config    the running configuration as JSON, secrets redacted
 *   POST /reload    runs the relay's reload hook: 200 {"result":"ok",
 *                   "generation":N,"errors":[]},
 *                   422 (invalid config) or 409 (not now) with the errors,
 *                   501 when this process cannot reload
 *   anything else   404, or 405 for a known path with the wrong method
 *
 * The server never touches relay state directly: everything comes through
 * struct px_admin_hooks and the metrics registry, so it can be started and
 * tested without Kafka. It listens on loopback by default (admin.listen);
 * the socket is bound here rather than by MHD so that port 0 works (the
 * bound port is logged) and IPv6 literals parse the usual way. A pool of
 * two threads keeps /healthz and /metrics answering while a reload runs;
 * connections are few (admin.max.connections, split between the two
 * threads, so at least 4) and time out after 10 s.
 */
#include "px.h"

#include <microhttpd.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

struct px_admin {
    struct MHD_Daemon    *d;
    struct px_metrics    *m;
    struct px_admin_hooks h;
    unsigned              port;
};

/* ---------------------------------------------------------------------- */
/* /config: the tree as JSON, secrets redacted */

static int key_is_secret(const char *k)
{
    return smt_key_is_secret(k) || strcasestr(k, "basic.auth.user.info") ||
           strcasestr(k, "user.info") != NULL;
}

/* A plain scalar that reads as a JSON number, boolean or null. */
static int json_literal(const char *s)
{
    const char *p = s;

    if (strcmp(s, "true") == 0 || strcmp(s, "false") == 0 ||
        strcmp(s, "null") == 0) {
        return 1;
    }
    if (*p == '-') {
        p++;
    }
    if (*p == '0') {
        p++;
    } else if (*p >= '1' && *p <= '9') {
        while (*p >= '0' && *p <= '9') {
            p++;
        }
    } else {
        return 0;
    }
    if (*p == '.') {
        p++;
        if (!(*p >= '0' && *p <= '9')) {
            return 0;
        }
        while (*p >= '0' && *p <= '9') {
            p++;
        }
    }
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-') {
            p++;
        }
        if (!(*p >= '0' && *p <= '9')) {
            return 0;
        }
        while (*p >= '0' && *p <= '9') {
            p++;
        }
    }
    return *p == '\0';
}

static void config_node(struct smt_buf *b, const struct smt_cnode *n,
                        int secret, int depth)
{
    uint32_t i;

    if (n == NULL || n->kind == SMT_CN_NULL) {
        smt_buf_adds(b, "null");
        return;
    }
    if (secret || n->secret || depth > 64) {
        smt_buf_adds(b, "\"[redacted]\"");
        return;
    }
    switch (n->kind) {
    case SMT_CN_SCALAR:
        if (!n->quoted && json_literal(n->s)) {
            smt_buf_adds(b, n->s);
        } else {
            smt_json_write_str(b, n->s, n->len);
        }
        break;
    case SMT_CN_SEQ:
        smt_buf_addc(b, '[');
        for (i = 0; i < n->n; i++) {
            if (i > 0) {
                smt_buf_addc(b, ',');
            }
            config_node(b, n->v[i], 0, depth + 1);
        }
        smt_buf_addc(b, ']');
        break;
    case SMT_CN_MAP:
        smt_buf_addc(b, '{');
        for (i = 0; i < n->n; i++) {
            const char *k = n->k[i]->s ? n->k[i]->s : "";

            if (i > 0) {
                smt_buf_addc(b, ',');
            }
            smt_json_write_str(b, k, strlen(k));
            smt_buf_addc(b, ':');
            config_node(b, n->v[i], key_is_secret(k), depth + 1);
        }
        smt_buf_addc(b, '}');
        break;
    default:
        smt_buf_adds(b, "null");
        break;
    }
}

char *px_config_json(const struct smt_cnode *root)
{
    struct smt_buf b;

    smt_buf_init(&b);
    config_node(&b, root, 0, 0);
    smt_buf_adds(&b, "\n");
    smt_buf_addc(&b, '\0');
    return b.ptr;
}

/* ---------------------------------------------------------------------- */
/* Responses */

/* Queues a response taking body (malloc'd; freed by MHD). */
static enum MHD_Result reply(struct MHD_Connection *c, unsigned status,
                             const char *type, char *body, size_t len,
                             const char *allow)
{
    struct MHD_Response *resp;
    enum MHD_Result      ret;

    resp = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (resp == NULL) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (allow != NULL) {
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
    }
    ret = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result reply_text(struct MHD_Connection *c, unsigned status,
                                  const char *text, const char *allow)
{
    char *body = smt_xstrdup(text);

    return reply(c, status, "text/plain; charset=utf-8", body, strlen(body),
                 allow);
}

static enum MHD_Result serve_metrics(struct px_admin *a,
                                     struct MHD_Connection *c)
{
    struct smt_buf b;

    smt_buf_init(&b);
    if (a->m != NULL) {
        px_metrics_render(a->m, &b);
    }
    smt_buf_addc(&b, '\0');
    return reply(c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8",
                 b.ptr, b.len - 1, NULL);
}

static enum MHD_Result serve_probe(struct px_admin *a,
                                   struct MHD_Connection *c, int ready)
{
    char reason[256], line[300];
    int  ok = 1;
    int (*fn)(void *, char *, size_t) = ready ? a->h.ready : a->h.healthy;

    reason[0] = '\0';
    if (fn != NULL) {
        ok = fn(a->h.opaque, reason, sizeof(reason));
    }
    if (ok) {
        return reply_text(c, MHD_HTTP_OK, "ok\n", NULL);
    }
    snprintf(line, sizeof(line), "%s\n", reason[0] ? reason : "not ready");
    return reply_text(c, MHD_HTTP_SERVICE_UNAVAILABLE, line, NULL);
}

static enum MHD_Result serve_config(struct px_admin *a,
                                    struct MHD_Connection *c)
{
    char *json = a->h.config != NULL ? a->h.config(a->h.opaque) : NULL;

    if (json == NULL) {
        return reply_text(c, MHD_HTTP_SERVICE_UNAVAILABLE,
                          "no configuration available\n", NULL);
    }
    return reply(c, MHD_HTTP_OK, "application/json", json, strlen(json),
                 NULL);
}

static enum MHD_Result serve_reload(struct px_admin *a,
                                    struct MHD_Connection *c)
{
    struct smt_diags      d;
    struct smt_buf        b;
    enum px_reload_result res;
    unsigned              status;
    uint64_t              gen = 0;
    uint32_t              i;

    smt_buf_init(&b);
    smt_diags_init(&d);
    if (a->h.reload == NULL) {
        status = MHD_HTTP_NOT_IMPLEMENTED;
        smt_buf_adds(&b, "{\"result\":\"error\",\"errors\":"
                         "[\"reload is not supported by this process\"]}\n");
    } else {
        res = a->h.reload(a->h.opaque, &d, &gen);
        status = res == PX_RELOAD_OK        ? MHD_HTTP_OK
                 : res == PX_RELOAD_CONFLICT ? MHD_HTTP_CONFLICT
                                             : MHD_HTTP_UNPROCESSABLE_CONTENT;
        smt_buf_printf(&b, "{\"result\":\"%s\",",
                       res == PX_RELOAD_OK ? "ok" : "error");
        if (gen > 0) {
            smt_buf_printf(&b, "\"generation\":%llu,",
                           (unsigned long long)gen);
        }
        smt_buf_adds(&b, "\"errors\":[");
        for (i = 0; i < d.n; i++) {
            if (i > 0) {
                smt_buf_addc(&b, ',');
            }
            smt_json_write_str(&b, d.msg[i], strlen(d.msg[i]));
        }
        smt_buf_adds(&b, "]}\n");
    }
    smt_diags_fini(&d);
    smt_buf_addc(&b, '\0');
    return reply(c, status, "application/json", b.ptr, b.len - 1, NULL);
}

/* MHD calls this several times per request: first with *con_cls NULL
 * (headers only), then with each piece of a request body, then once with
 * no data, when the response is due. Bodies are not used: read and
 * dropped. */
static enum MHD_Result handler(void *cls, struct MHD_Connection *c,
                               const char *url, const char *method,
                               const char *version, const char *upload_data,
                               size_t *upload_data_size, void **con_cls)
{
    static int       started;
    struct px_admin *a = cls;
    int              get = strcmp(method, MHD_HTTP_METHOD_GET) == 0 ||
              strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
    int              post = strcmp(method, MHD_HTTP_METHOD_POST) == 0;

    (void)version;
    (void)upload_data;
    if (*con_cls == NULL) {
        *con_cls = &started;
        return MHD_YES;
    }
    if (*upload_data_size != 0) {
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (strcmp(url, "/metrics") == 0) {
        return get ? serve_metrics(a, c)
                   : reply_text(c, MHD_HTTP_METHOD_NOT_ALLOWED,
                                "method not allowed\n", "GET, HEAD");
    }
    if (strcmp(url, "/healthz") == 0 || strcmp(url, "/readyz") == 0) {
        return get ? serve_probe(a, c, url[1] == 'r')
                   : reply_text(c, MHD_HTTP_METHOD_NOT_ALLOWED,
                                "method not allowed\n", "GET, HEAD");
    }
    if (strcmp(url, "/config") == 0) {
        return get ? serve_config(a, c)
                   : reply_text(c, MHD_HTTP_METHOD_NOT_ALLOWED,
                                "method not allowed\n", "GET, HEAD");
    }
    if (strcmp(url, "/reload") == 0) {
        return post ? serve_reload(a, c)
                    : reply_text(c, MHD_HTTP_METHOD_NOT_ALLOWED,
                                 "method not allowed\n", "POST");
    }
    return reply_text(c, MHD_HTTP_NOT_FOUND, "not found\n", NULL);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    size_t n;

    (void)cls;
    vsnprintf(msg, sizeof(msg), fmt, ap);
    n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r')) {
        msg[--n] = '\0';
    }
    PX_DBG("admin: %s", msg);
}

/* ---------------------------------------------------------------------- */
/* Start and stop */

/* Splits "host:port", "[v6]:port", ":port" into host (default loopback)
 * and port. Returns 0 or -1. */
static int split_listen(const char *spec, char *host, size_t hsize,
                        char *port, size_t psize)
{
    const char *colon;
    size_t      hl;

    if (spec[0] == '[') {
        const char *close = strchr(spec, ']');

        if (close == NULL || close[1] != ':') {
            return -1;
        }
        hl = (size_t)(close - spec - 1);
        if (hl >= hsize) {
            return -1;
        }
        memcpy(host, spec + 1, hl);
        host[hl] = '\0';
        colon = close + 1;
    } else {
        colon = strrchr(spec, ':');
        if (colon == NULL) {
            return -1;
        }
        hl = (size_t)(colon - spec);
        if (hl >= hsize) {
            return -1;
        }
        memcpy(host, spec, hl);
        host[hl] = '\0';
        if (hl == 0) {
            snprintf(host, hsize, "127.0.0.1");
        }
    }
    if (colon[1] == '\0' || strlen(colon + 1) >= psize ||
        strspn(colon + 1, "0123456789") != strlen(colon + 1) ||
        atol(colon + 1) > 65535) {
        return -1;
    }
    snprintf(port, psize, "%s", colon + 1);
    return 0;
}

static int bind_socket(const char *addr, unsigned *bound,
                       struct smt_err *err)
{
    char                    host[256], port[16];
    struct addrinfo         hints, *res = NULL, *ai;
    int                     fd = -1, one = 1, rc, e = 0;
    struct sockaddr_storage ss;
    socklen_t               sl = sizeof(ss);

    if (split_listen(addr, host, sizeof(host), port, sizeof(port)) != 0) {
        return smt_err_set(err, SMT_E_CONFIG,
                           "admin.listen '%s': expected host:port", addr);
    }
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0) {
        return smt_err_set(err, SMT_E_CONFIG, "admin.listen '%s': %s", addr,
                           gai_strerror(rc));
    }
    for (ai = res; ai != NULL; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
                    ai->ai_protocol);
        if (fd < 0) {
            e = errno;
            continue;
        }
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 64) == 0) {
            break;
        }
        e = errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0) {
        return smt_err_set(err, SMT_E_CONFIG, "admin.listen '%s': %s", addr,
                           strerror(e ? e : EADDRNOTAVAIL));
    }
    *bound = 0;
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
        *bound = ss.ss_family == AF_INET6
                     ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                     : ntohs(((struct sockaddr_in *)&ss)->sin_port);
    }
    return fd;
}

struct px_admin *px_admin_start(const char *addr, uint32_t max_conns,
                                struct px_metrics *m,
                                const struct px_admin_hooks *hooks,
                                struct smt_err *err)
{
    struct px_admin *a;
    int              fd;
    unsigned         port;

    fd = bind_socket(addr, &port, err);
    if (fd < 0) {
        return NULL;
    }
    a = smt_xcalloc(1, sizeof(*a));
    a->m = m;
    if (hooks != NULL) {
        a->h = *hooks;
    }
    a->port = port;
    a->d = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL,
        handler, a, MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)2,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)(max_conns < 4 ? 4 : max_conns),
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)64 * 1024,
        MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL, MHD_OPTION_END);
    if (a->d == NULL) {
        close(fd);
        free(a);
        smt_err_set(err, SMT_E_CONFIG,
                    "admin.listen '%s': the HTTP server did not start", addr);
        return NULL;
    }
    return a;
}

unsigned px_admin_port(const struct px_admin *a)
{
    return a->port;
}

void px_admin_stop(struct px_admin *a)
{
    if (a == NULL) {
        return;
    }
    /* also closes the listening socket */
    MHD_stop_daemon(a->d);
    free(a);
}

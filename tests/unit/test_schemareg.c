/*
 * test_schemareg.c - the schema registry client against a tiny registry
 * served from a thread of this test (plain sockets, one connection at a
 * time, Connection: close), so that every answer a real registry can give -
 * 404, 500, 401, an answer that never comes - can be produced on demand and
 * every request the client makes can be counted and inspected.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "schemareg.h"
#include "t.h"

struct srv {
    int         fd;
    int         port;
    pthread_t   th;
    const char *auth;          /* required Authorization value, or NULL */
    atomic_int  nreq;
    char        method[8];     /* of the last request */
    char        path[256];
    char        ctype[128];
    char        authz[256];
    char        body[4096];
};

/* Reads one request head and body from c into s. Returns 0 or -1. */
static int srv_read(struct srv *s, int c)
{
    char buf[8192], *eoh, *p, *line;
    size_t got = 0, clen = 0, hlen;
    ssize_t n;

    for (;;) {
        n = read(c, buf + got, sizeof(buf) - 1 - got);
        if (n <= 0) {
            return -1;
        }
        got += (size_t)n;
        buf[got] = '\0';
        eoh = strstr(buf, "\r\n\r\n");
        if (eoh != NULL) {
            break;
        }
        if (got == sizeof(buf) - 1) {
            return -1;
        }
    }
    hlen = (size_t)(eoh + 4 - buf);
    *eoh = '\0';
    s->ctype[0] = s->authz[0] = '\0';
    sscanf(buf, "%7s %255s", s->method, s->path);
    for (line = strstr(buf, "\r\n"); line != NULL;
         line = strstr(line + 2, "\r\n")) {
        p = line + 2;
        if (strncasecmp(p, "Content-Length:", 15) == 0) {
            clen = (size_t)strtoul(p + 15, NULL, 10);
        } else if (strncasecmp(p, "Content-Type: ", 14) == 0) {
            snprintf(s->ctype, sizeof(s->ctype), "%.*s",
                     (int)strcspn(p + 14, "\r"), p + 14);
        } else if (strncasecmp(p, "Authorization: ", 15) == 0) {
            snprintf(s->authz, sizeof(s->authz), "%.*s",
                     (int)strcspn(p + 15, "\r"), p + 15);
        }
    }
    if (clen >= sizeof(s->body)) {
        return -1;
    }
    got -= hlen;
    memmove(s->body, buf + hlen, got);
    while (got < clen) {
        n = read(c, s->body + got, clen - got);
        if (n <= 0) {
            return -1;
        }
        got += (size_t)n;
    }
    s->body[clen] = '\0';
    return 0;
}

static void srv_answer(int c, int status, const char *body)
{
    char head[256];
    int n = snprintf(head, sizeof(head),
                     "HTTP/1.1 %d X\r\nContent-Type: application/"
                     "vnd.schemaregistry.v1+json\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n\r\n", status, strlen(body));
    if (write(c, head, (size_t)n) < 0 || write(c, body, strlen(body)) < 0) {
        return;
    }
}

/* The registry's behaviour, by path. */
static void srv_route(struct srv *s, int c)
{
    char body[512];
    int id;

    if (s->auth != NULL && strcmp(s->authz, s->auth) != 0) {
        srv_answer(c, 401, "{\"error_code\":401,\"message\":\"Unauthorized\"}");
        return;
    }
    if (sscanf(s->path, "/schemas/ids/%d", &id) == 1) {
        if (id == 1) {
            srv_answer(c, 200, "{\"schema\":\"{\\\"type\\\":\\\"string\\\"}\"}");
        } else if (id == 2) {
            srv_answer(c, 200, "{\"schemaType\":\"AVRO\",\"schema\":"
                       "\"{\\\"type\\\":\\\"enum\\\",\\\"name\\\":"
                       "\\\"caf\\u00e9\\\",\\\"symbols\\\":[\\\"A\\\"]}\"}");
        } else if (id == 7) {
            srv_answer(c, 500, "{\"error_code\":50001,\"message\":\"boom\"}");
        } else if (id == 8) {
            /* never answers: waits for the client to give up */
            while (read(c, body, sizeof(body)) > 0) {
            }
        } else if (id == 9) {
            srv_answer(c, 200, "{\"id\":9}");
        } else if (id >= 100 && id < 200) {
            snprintf(body, sizeof(body), "{\"schema\":\"\\\"s%d\\\"\"}", id);
            srv_answer(c, 200, body);
        } else {
            snprintf(body, sizeof(body), "{\"error_code\":40403,\"message\":"
                     "\"Schema %d not found\"}", id);
            srv_answer(c, 404, body);
        }
    } else if (strcmp(s->method, "POST") == 0 &&
               strcmp(s->path, "/subjects/t-value/versions") == 0) {
        if (strstr(s->body, "bad") != NULL) {
            srv_answer(c, 422, "{\"error_code\":42201,\"message\":"
                       "\"Invalid schema\"}");
        } else if (strstr(s->body, "other") != NULL) {
            srv_answer(c, 200, "{\"id\":43}");
        } else {
            srv_answer(c, 200, "{\"id\":42}");
        }
    } else if (strcmp(s->path, "/subjects/t-value/versions/latest") == 0 ||
               strcmp(s->path, "/subjects/a%20b%2Fc/versions/latest") == 0) {
        srv_answer(c, 200, "{\"subject\":\"t-value\",\"version\":3,\"id\":42,"
                   "\"schema\":\"\\\"long\\\"\"}");
    } else {
        srv_answer(c, 404, "{\"error_code\":40401,\"message\":"
                   "\"Subject not found\"}");
    }
}

static void *srv_main(void *ud)
{
    struct srv *s = ud;
    int c;

    for (;;) {
        c = accept(s->fd, NULL, NULL);
        if (c < 0) {
            break; /* shutdown() by srv_stop */
        }
        if (srv_read(s, c) == 0) {
            atomic_fetch_add(&s->nreq, 1);
            srv_route(s, c);
        }
        close(c);
    }
    return NULL;
}

/* Binds a loopback socket on a free port; listens when listen_too. */
static int bind_free(int *port, int listen_too)
{
    struct sockaddr_in sa;
    socklen_t sl = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        (listen_too && listen(fd, 64) < 0) ||
        getsockname(fd, (struct sockaddr *)&sa, &sl) < 0) {
        close(fd);
        return -1;
    }
    *port = ntohs(sa.sin_port);
    return fd;
}

static int srv_start(struct srv *s, const char *auth)
{
    memset(s, 0, sizeof(*s));
    s->auth = auth;
    s->fd = bind_free(&s->port, 1);
    if (s->fd < 0) {
        return -1;
    }
    return pthread_create(&s->th, NULL, srv_main, s) == 0 ? 0 : -1;
}

static void srv_stop(struct srv *s)
{
    shutdown(s->fd, SHUT_RDWR);
    pthread_join(s->th, NULL);
    close(s->fd);
}

/* A port nothing listens on (bound, then closed). */
static int dead_port(void)
{
    int port = 0, fd = bind_free(&port, 0);
    close(fd);
    return port;
}

static struct smt_schemareg *client(const char *url, const char *auth,
                                    int64_t timeout_ms)
{
    struct smt_schemareg_conf c = {0};
    struct smt_err err = {0};
    struct smt_schemareg *r;

    c.url = url;
    c.basic_auth_user_info = auth;
    c.ssl_verify = 1;
    c.timeout_ms = timeout_ms;
    r = smt_schemareg_new(&c, &err);
    T_OKM(r != NULL, "%s", err.msg);
    return r;
}

static void test_conf(void)
{
    struct smt_schemareg_conf c = {0};
    struct smt_err err = {0};

    T_OK(smt_schemareg_new(&c, &err) == NULL);
    T_EQI(err.code, SMT_E_CONFIG);
    c.url = " , ";
    T_OK(smt_schemareg_new(&c, &err) == NULL);
    T_EQI(err.code, SMT_E_CONFIG);
    c.url = "ftp://u:sekret@host";
    T_OK(smt_schemareg_new(&c, &err) == NULL);
    T_EQI(err.code, SMT_E_CONFIG);
    T_OKM(strstr(err.msg, "sekret") == NULL, "%s", err.msg);
    T_OK(strstr(err.msg, "ftp://host") != NULL);
    smt_schemareg_free(NULL);
}

static void test_by_id(struct srv *s, const char *url)
{
    struct smt_schemareg *r = client(url, NULL, 0);
    struct smt_err err = {0};
    const char *text = NULL, *text2 = NULL;
    size_t len = 0, len2 = 0;
    int n0;

    if (r == NULL) {
        return;
    }
    n0 = atomic_load(&s->nreq);
    T_EQI(smt_schemareg_by_id(r, 1, &text, &len, &err), 0);
    T_EQB(text, len, "{\"type\":\"string\"}");
    T_EQI(text[len], '\0');
    T_EQS(s->method, "GET");
    T_EQS(s->path, "/schemas/ids/1");
    T_EQS(s->authz, "");
    T_EQI(atomic_load(&s->nreq), n0 + 1);
    /* cached: no second request, the same text */
    T_EQI(smt_schemareg_by_id(r, 1, &text2, &len2, &err), 0);
    T_OK(text2 == text && len2 == len);
    T_EQI(atomic_load(&s->nreq), n0 + 1);
    T_EQI(smt_schemareg_requests(r), 1);

    /* escapes in the JSON answer are undone */
    T_EQI(smt_schemareg_by_id(r, 2, &text, &len, &err), 0);
    T_EQB(text, len, "{\"type\":\"enum\",\"name\":\"caf\xc3\xa9\","
          "\"symbols\":[\"A\"]}");

    /* 404: unknown id, a data error; remembered for a while */
    T_EQI(smt_schemareg_by_id(r, 99, &text, &len, &err), -1);
    T_EQI(err.code, SMT_E_DATA);
    T_OKM(strstr(err.msg, "99") != NULL, "%s", err.msg);
    n0 = atomic_load(&s->nreq);
    T_EQI(smt_schemareg_by_id(r, 99, &text, &len, &err), -1);
    T_EQI(err.code, SMT_E_DATA);
    T_EQI(atomic_load(&s->nreq), n0);

    /* 500: retriable, not cached */
    T_EQI(smt_schemareg_by_id(r, 7, &text, &len, &err), -1);
    T_EQI(err.code, SMT_E_RETRIABLE);
    T_OKM(strstr(err.msg, "500") != NULL, "%s", err.msg);
    n0 = atomic_load(&s->nreq);
    T_EQI(smt_schemareg_by_id(r, 7, &text, &len, &err), -1);
    T_EQI(err.code, SMT_E_RETRIABLE);
    T_EQI(atomic_load(&s->nreq), n0 + 1);

    /* 200 without a schema */
    T_EQI(smt_schemareg_by_id(r, 9, &text, &len, &err), -1);
    T_EQI(err.code, SMT_E_DATA);
    smt_schemareg_free(r);
}

static void test_unreachable(struct srv *s)
{
    struct smt_schemareg *r;
    struct smt_err err = {0};
    const char *text;
    size_t len;
    char *url;
    int dead = dead_port();

    url = smt_xasprintf("http://u:sekret@127.0.0.1:%d", dead);
    r = client(url, NULL, 2000);
    free(url);
    if (r == NULL) {
        return;
    }
    T_EQI(smt_schemareg_by_id(r, 1, &text, &len, &err), -1);
    T_EQI(err.code, SMT_E_RETRIABLE);
    T_OKM(strstr(err.msg, "sekret") == NULL, "%s", err.msg);
    T_OKM(strstr(err.msg, "unreachable") != NULL, "%s", err.msg);
    smt_schemareg_free(r);

    /* a comma list: the first that answers */
    url = smt_xasprintf("http://127.0.0.1:%d/, http://127.0.0.1:%d", dead,
                        s->port);
    r = client(url, NULL, 2000);
    free(url);
    if (r == NULL) {
        return;
    }
    T_EQI(smt_schemareg_by_id(r, 1, &text, &len, &err), 0);
    T_EQB(text, len, "{\"type\":\"string\"}");
    T_EQI(smt_schemareg_by_id(r, 2, &text, &len, &err), 0);
    /* the second request went straight to the one that answered */
    T_EQI(smt_schemareg_requests(r), 3);
    smt_schemareg_free(r);
}

static void test_timeout(const char *url)
{
    struct smt_schemareg *r = client(url, NULL, 300);
    struct smt_err err = {0};
    const char *text;
    size_t len;

    if (r == NULL) {
        return;
    }
    T_EQI(smt_schemareg_by_id(r, 8, &text, &len, &err), -1);
    T_EQI(err.code, SMT_E_RETRIABLE);
    smt_schemareg_free(r);
}

static void test_auth(void)
{
    struct srv s;
    struct smt_schemareg *r;
    struct smt_err err = {0};
    const char *text;
    size_t len;
    int32_t id;
    char *url;

    /* base64("user:sekret") */
    if (srv_start(&s, "Basic dXNlcjpzZWtyZXQ=") < 0) {
        T_OK(0);
        return;
    }
    url = smt_xasprintf("http://127.0.0.1:%d", s.port);
    r = client(url, "user:sekret", 0);
    if (r != NULL) {
        T_EQI(smt_schemareg_by_id(r, 1, &text, &len, &err), 0);
        T_EQS(s.authz, "Basic dXNlcjpzZWtyZXQ=");
        smt_schemareg_free(r);
    }
    r = client(url, "user:wrong", 0);
    if (r != NULL) {
        T_EQI(smt_schemareg_by_id(r, 1, &text, &len, &err), -1);
        T_EQI(err.code, SMT_E_CONNECT);
        T_OKM(strstr(err.msg, "401") != NULL, "%s", err.msg);
        T_OKM(strstr(err.msg, "wrong") == NULL, "%s", err.msg);
        smt_schemareg_free(r);
    }
    r = client(url, NULL, 0);
    if (r != NULL) {
        T_EQI(smt_schemareg_latest(r, "t-value", &id, &text, &len, &err),
              -1);
        T_EQI(err.code, SMT_E_CONNECT);
        T_EQS(s.authz, "");
        smt_schemareg_free(r);
    }
    free(url);
    srv_stop(&s);
}

static void test_register(struct srv *s, const char *url)
{
    struct smt_schemareg *r = client(url, NULL, 0);
    struct smt_err err = {0};
    const char *schema = "{\"type\":\"record\",\"name\":\"x\"}";
    int32_t id = 0;
    int n0;

    if (r == NULL) {
        return;
    }
    n0 = atomic_load(&s->nreq);
    T_EQI(smt_schemareg_register(r, "t-value", schema, strlen(schema), &id,
                                 &err), 0);
    T_EQI(id, 42);
    T_EQS(s->method, "POST");
    T_EQS(s->path, "/subjects/t-value/versions");
    T_EQS(s->ctype, "application/vnd.schemaregistry.v1+json");
    T_EQS(s->body, "{\"schema\":\"{\\\"type\\\":\\\"record\\\",\\\"name\\\":"
          "\\\"x\\\"}\"}");
    /* cached by (subject, text); text need not be NUL-terminated */
    id = 0;
    T_EQI(smt_schemareg_register(r, "t-value", "{\"type\":\"record\","
                                 "\"name\":\"x\"}XXX", strlen(schema), &id,
                                 &err), 0);
    T_EQI(id, 42);
    T_EQI(atomic_load(&s->nreq), n0 + 1);
    /* another text asks again */
    T_EQI(smt_schemareg_register(r, "t-value", "\"other\"", 7, &id, &err), 0);
    T_EQI(id, 43);
    T_EQI(atomic_load(&s->nreq), n0 + 2);
    /* rejected schema: a data error carrying the registry's message */
    T_EQI(smt_schemareg_register(r, "t-value", "\"bad\"", 5, &id, &err), -1);
    T_EQI(err.code, SMT_E_DATA);
    T_OKM(strstr(err.msg, "Invalid schema") != NULL, "%s", err.msg);
    smt_schemareg_free(r);
}

static void test_latest(struct srv *s, const char *url)
{
    struct smt_schemareg *r = client(url, NULL, 0);
    struct smt_err err = {0};
    const char *text = NULL, *text2 = NULL;
    size_t len = 0, len2 = 0;
    int32_t id = 0;
    int n0;

    if (r == NULL) {
        return;
    }
    n0 = atomic_load(&s->nreq);
    T_EQI(smt_schemareg_latest(r, "t-value", &id, &text, &len, &err), 0);
    T_EQI(id, 42);
    T_EQB(text, len, "\"long\"");
    T_EQS(s->path, "/subjects/t-value/versions/latest");
    id = 0;
    T_EQI(smt_schemareg_latest(r, "t-value", &id, &text2, &len2, &err), 0);
    T_EQI(id, 42);
    T_OK(text2 == text && len2 == len);
    T_EQI(atomic_load(&s->nreq), n0 + 1);
    /* its text went into the by-id cache */
    T_EQI(smt_schemareg_by_id(r, 42, &text2, &len2, &err), 0);
    T_OK(text2 == text);
    T_EQI(atomic_load(&s->nreq), n0 + 1);
    /* subjects are escaped in the path */
    T_EQI(smt_schemareg_latest(r, "a b/c", &id, &text, &len, &err), 0);
    T_EQS(s->path, "/subjects/a%20b%2Fc/versions/latest");
    /* unknown subject */
    T_EQI(smt_schemareg_latest(r, "none", &id, &text, &len, &err), -1);
    T_EQI(err.code, SMT_E_DATA);
    T_OKM(strstr(err.msg, "none") != NULL, "%s", err.msg);
    smt_schemareg_free(r);
}

struct worker {
    struct smt_schemareg *r;
    int                   bad;
};

static void *worker_main(void *ud)
{
    struct worker *w = ud;
    struct smt_err err = {0};
    const char *text;
    char want[16];
    size_t len;
    int i, id;

    for (i = 0; i < 400; i++) {
        id = 100 + (i * 7) % 32;
        snprintf(want, sizeof(want), "\"s%d\"", id);
        if (smt_schemareg_by_id(w->r, id, &text, &len, &err) < 0 ||
            len != strlen(want) || memcmp(text, want, len) != 0) {
            w->bad++;
        }
    }
    return NULL;
}

static void test_threads(struct srv *s, const char *url)
{
    struct worker w[8];
    pthread_t th[8];
    struct smt_schemareg *r = client(url, NULL, 0);
    int i, n0, bad = 0;

    if (r == NULL) {
        return;
    }
    n0 = atomic_load(&s->nreq);
    for (i = 0; i < 8; i++) {
        w[i].r = r;
        w[i].bad = 0;
        pthread_create(&th[i], NULL, worker_main, &w[i]);
    }
    for (i = 0; i < 8; i++) {
        pthread_join(th[i], NULL);
        bad += w[i].bad;
    }
    T_EQI(bad, 0);
    /* each id asked at least once, and at most once per thread */
    T_OK(atomic_load(&s->nreq) - n0 >= 32);
    T_OK(atomic_load(&s->nreq) - n0 <= 32 * 8);
    smt_schemareg_free(r);
}

int main(void)
{
    struct srv s;
    char *url;

    test_conf();
    if (srv_start(&s, NULL) < 0) {
        T_OK(0);
        return t_done("test_schemareg");
    }
    url = smt_xasprintf("http://127.0.0.1:%d", s.port);
    test_by_id(&s, url);
    test_unreachable(&s);
    test_timeout(url);
    test_register(&s, url);
    test_latest(&s, url);
    test_threads(&s, url);
    test_auth();
    free(url);
    srv_stop(&s);
    return t_done("test_schemareg");
}

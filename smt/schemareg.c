/*
 * schemareg.c - Confluent-compatible schema registry client over libcurl.
 *
 * One easy handle per request: requests happen once per schema id or per
 * changed output schema, so reusing connections is not worth a handle pool
 * and its locking. Requests run outside the cache lock; when two threads
 * miss the same key at once both ask and the first answer inserted wins
 * (the answers are the same). The cache is one chained hash table of three
 * kinds of entry (by id, by subject+text, latest of a subject) under a
 * read-write lock, because after warm-up every call is a read.
 *
 * Texts handed out are owned by by-id entries, which are never removed or
 * changed before smt_schemareg_free(); a latest entry that expires is
 * updated in place but points at a by-id text, so an old pointer stays
 * valid. Unknown ids are remembered for a few seconds so that a stream of
 * records with a bogus id does not become a stream of requests.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "json.h"
#include "schemareg.h"

#define SR_MAX_BODY (64u << 20) /* larger answers are refused */
#define SR_MISS_TTL_MS 5000     /* how long an unknown id stays unknown */
#define SR_ACCEPT                                                         \
    "Accept: application/vnd.schemaregistry.v1+json, "                    \
    "application/vnd.schemaregistry+json; qs=0.9, application/json; qs=0.5"
#define SR_CTYPE "Content-Type: application/vnd.schemaregistry.v1+json"

enum { SR_BYID = 1, SR_REG, SR_LATEST, SR_MISS };

struct sr_entry {
    struct sr_entry *next;
    uint64_t         hash;
    int              kind;
    int32_t          id;
    char            *subject; /* REG, LATEST */
    char            *text;    /* BYID: owned; REG: owned key; LATEST: borrowed */
    size_t           len;
    int64_t          expires; /* LATEST, MISS: monotonic ms */
};

struct smt_schemareg {
    char           **urls;   /* without trailing '/' */
    char           **shown;  /* the same with any user:pass@ removed */
    size_t           nurls;
    _Atomic size_t   prefer; /* the url that answered last */
    char            *userpwd;
    char            *ca, *cert, *key;
    int              verify;
    long             timeout_ms;
    pthread_rwlock_t lock;
    struct sr_entry **tab;
    size_t           ntab, n;
    _Atomic uint64_t nreq;
};

/* An answer: status (0 = no registry answered) and body. */
struct sr_resp {
    long          status;
    struct smt_buf body;
    int           too_big;
};

static pthread_once_t sr_once = PTHREAD_ONCE_INIT;
static CURLcode sr_global_rc;

static void sr_global_init(void)
{
    sr_global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static int64_t sr_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* FNV-1a, continued from h. */
static uint64_t sr_hash(uint64_t h, const void *p, size_t len)
{
    const unsigned char *s = p;
    size_t i;
    for (i = 0; i < len; i++) {
        h = (h ^ s[i]) * 1099511628211ull;
    }
    return h;
}

/* Hash of a BYID or MISS key. */
static uint64_t sr_key_id(int kind, int32_t id)
{
    uint64_t h = 14695981039346656037ull;
    h = sr_hash(h, &kind, sizeof(kind));
    return sr_hash(h, &id, sizeof(id));
}

/* Hash of a REG (text set) or LATEST (text NULL) key. */
static uint64_t sr_key_subj(int kind, const char *subject, const char *text,
                            size_t len)
{
    uint64_t h = 14695981039346656037ull;
    h = sr_hash(h, &kind, sizeof(kind));
    h = sr_hash(h, subject, strlen(subject) + 1);
    if (text != NULL) {
        h = sr_hash(h, text, len);
    }
    return h;
}

/* Caller holds the lock (read or write). */
static struct sr_entry *sr_find(struct smt_schemareg *r, uint64_t h, int kind,
                                int32_t id, const char *subject,
                                const char *text, size_t len)
{
    struct sr_entry *e;
    for (e = r->tab[h & (r->ntab - 1)]; e != NULL; e = e->next) {
        if (e->hash != h || e->kind != kind) {
            continue;
        }
        if (kind == SR_BYID || kind == SR_MISS) {
            if (e->id == id) {
                return e;
            }
        } else if (strcmp(e->subject, subject) == 0 &&
                   (kind != SR_REG ||
                    (e->len == len && memcmp(e->text, text, len) == 0))) {
            return e;
        }
    }
    return NULL;
}

/* Caller holds the write lock; e is not in the table. */
static void sr_insert(struct smt_schemareg *r, struct sr_entry *e)
{
    size_t i, slot;
    struct sr_entry **tab, *next;

    if (r->n >= r->ntab) {
        tab = smt_xcalloc(r->ntab * 2, sizeof(*tab));
        for (i = 0; i < r->ntab; i++) {
            for (; r->tab[i] != NULL; r->tab[i] = next) {
                next = r->tab[i]->next;
                slot = r->tab[i]->hash & (r->ntab * 2 - 1);
                r->tab[i]->next = tab[slot];
                tab[slot] = r->tab[i];
            }
        }
        free(r->tab);
        r->tab = tab;
        r->ntab *= 2;
    }
    slot = e->hash & (r->ntab - 1);
    e->next = r->tab[slot];
    r->tab[slot] = e;
    r->n++;
}

static void sr_entry_free(struct sr_entry *e)
{
    free(e->subject);
    if (e->kind == SR_BYID || e->kind == SR_REG) {
        free(e->text);
    }
    free(e);
}

/* ---------------------------------------------------------------- HTTP */

static size_t sr_write_cb(char *p, size_t size, size_t n, void *ud)
{
    struct sr_resp *resp = ud;
    size_t len = size * n;
    if (resp->body.len + len > SR_MAX_BODY) {
        resp->too_big = 1;
        return 0; /* makes curl fail the transfer */
    }
    smt_buf_add(&resp->body, p, len);
    return len;
}

/* Strips "user:pass@" from a url, for messages. */
static char *sr_shown_url(const char *url)
{
    const char *auth = strstr(url, "://");
    const char *at, *slash;
    if (auth == NULL) {
        return smt_xstrdup(url);
    }
    auth += 3;
    at = strchr(auth, '@');
    slash = strchr(auth, '/');
    if (at == NULL || (slash != NULL && slash < at)) {
        return smt_xstrdup(url);
    }
    return smt_xasprintf("%.*s%s", (int)(auth - url), url, at + 1);
}

/*
 * One request: method GET (body NULL) or POST, path starting with '/'. Tries
 * every url from the preferred one until one answers with a status below
 * 500. Returns 0 with resp->status set (any status), or -1 with err
 * (SMT_E_RETRIABLE) when none answered or all answered 5xx.
 */
static int sr_request(struct smt_schemareg *r, const char *path,
                      const char *body, size_t body_len, struct sr_resp *resp,
                      struct smt_err *err)
{
    char ebuf[CURL_ERROR_SIZE];
    size_t first = atomic_load(&r->prefer), k, u;
    struct curl_slist *hdrs = NULL;
    CURL *h;
    CURLcode rc;
    char *url;
    int ret = -1;

    hdrs = curl_slist_append(hdrs, SR_ACCEPT);
    if (body != NULL) {
        hdrs = curl_slist_append(hdrs, SR_CTYPE);
    }
    if (hdrs == NULL) {
        return smt_err_set(err, SMT_E_RETRIABLE, "schema registry: out of "
                           "memory building a request");
    }
    smt_err_set(err, SMT_E_RETRIABLE, "schema registry: no url");
    for (k = 0; k < r->nurls; k++) {
        u = (first + k) % r->nurls;
        h = curl_easy_init();
        if (h == NULL) {
            smt_err_set(err, SMT_E_RETRIABLE,
                        "schema registry: curl_easy_init failed");
            break;
        }
        url = smt_xasprintf("%s%s", r->urls[u], path);
        smt_buf_fini(&resp->body);
        smt_buf_init(&resp->body);
        resp->status = 0;
        resp->too_big = 0;
        ebuf[0] = '\0';
        curl_easy_setopt(h, CURLOPT_URL, url);
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, r->timeout_ms);
        curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, r->timeout_ms);
        curl_easy_setopt(h, CURLOPT_ERRORBUFFER, ebuf);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sr_write_cb);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, resp);
        curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
        /* A proxy from the environment must not see loopback traffic. */
        curl_easy_setopt(h, CURLOPT_NOPROXY, "localhost,127.0.0.1,::1");
        curl_easy_setopt(h, CURLOPT_USERAGENT, "smtproxy");
        if (body != NULL) {
            curl_easy_setopt(h, CURLOPT_POST, 1L);
            curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
            curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
                             (curl_off_t)body_len);
        }
        if (r->userpwd != NULL) {
            curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
            curl_easy_setopt(h, CURLOPT_USERPWD, r->userpwd);
        }
        if (r->ca != NULL) {
            curl_easy_setopt(h, CURLOPT_CAINFO, r->ca);
        }
        if (r->cert != NULL) {
            curl_easy_setopt(h, CURLOPT_SSLCERT, r->cert);
        }
        if (r->key != NULL) {
            curl_easy_setopt(h, CURLOPT_SSLKEY, r->key);
        }
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, r->verify ? 1L : 0L);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, r->verify ? 2L : 0L);

        atomic_fetch_add(&r->nreq, 1);
        rc = curl_easy_perform(h);
        if (rc == CURLE_OK) {
            curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
        }
        curl_easy_cleanup(h);
        free(url);

        if (rc != CURLE_OK) {
            smt_err_set(err, SMT_E_RETRIABLE,
                        "schema registry '%s' unreachable: %s", r->shown[u],
                        resp->too_big ? "answer too large"
                        : ebuf[0] != '\0' ? ebuf : curl_easy_strerror(rc));
            continue;
        }
        if (resp->status >= 500) {
            smt_err_set(err, SMT_E_RETRIABLE,
                        "schema registry '%s' answered %ld", r->shown[u],
                        resp->status);
            continue;
        }
        atomic_store(&r->prefer, u);
        smt_err_clear(err);
        ret = 0;
        break;
    }
    curl_slist_free_all(hdrs);
    return ret;
}

/* A path segment: everything but RFC 3986 unreserved characters
 * percent-encoded. Returns a new string; free with free(). */
static char *sr_escape(const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = strlen(s), i, o = 0;
    char *out = smt_xmalloc(n * 3 + 1);
    unsigned char c;

    for (i = 0; i < n; i++) {
        c = (unsigned char)s[i];
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
            (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
            c == '~') {
            out[o++] = (char)c;
        } else {
            out[o++] = '%';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        }
    }
    out[o] = '\0';
    return out;
}

/* Parses resp's body as a JSON object in a (NULL if it is not one). */
static struct smt_val *sr_parse(struct smt_arena *a, struct sr_resp *resp)
{
    struct smt_err jerr;
    struct smt_val *v;
    v = smt_json_parse(a, resp->body.ptr != NULL ? resp->body.ptr : "",
                       resp->body.len, &jerr);
    return v != NULL && v->type == SMT_OBJECT ? v : NULL;
}

/* Sets err for a non-200 answer: code by status, the registry's own
 * message (it never contains our credentials) added when there is one. */
static int sr_refused(struct smt_schemareg *r, struct smt_arena *a,
                      struct sr_resp *resp, int code, const char *what,
                      struct smt_err *err)
{
    struct smt_val *root = sr_parse(a, resp), *msg = NULL, *ecode = NULL;
    size_t u = atomic_load(&r->prefer);

    if (root != NULL) {
        msg = smt_obj_get(root, "message", 7);
        ecode = smt_obj_get(root, "error_code", 10);
    }
    if (msg != NULL && msg->type == SMT_STRING) {
        return smt_err_set(err, code, "%s: registry '%s' answered %ld (%lld): "
                           "%.*s", what, r->shown[u], resp->status,
                           ecode != NULL && smt_type_is_int(ecode->type)
                           ? (long long)ecode->u.i : 0LL,
                           (int)msg->u.s.len, msg->u.s.ptr);
    }
    return smt_err_set(err, code, "%s: registry '%s' answered %ld", what,
                       r->shown[u], resp->status);
}

/* The error code for a refusal that is not the expected "unknown". */
static int sr_status_code(long status)
{
    if (status == 408 || status == 429) {
        return SMT_E_RETRIABLE;
    }
    return SMT_E_CONNECT;
}

/* Copies a STRING member into a new heap string. */
static char *sr_member_str(struct smt_val *root, const char *name,
                           size_t *len)
{
    struct smt_val *v = smt_obj_get(root, name, strlen(name));
    if (v == NULL || v->type != SMT_STRING) {
        return NULL;
    }
    *len = v->u.s.len;
    return smt_xstrndup(v->u.s.ptr, v->u.s.len);
}

static int sr_member_id(struct smt_val *root, int32_t *id)
{
    struct smt_val *v = smt_obj_get(root, "id", 2);
    if (v == NULL || !smt_type_is_int(v->type) || v->u.i < 0 ||
        v->u.i > INT32_MAX) {
        return -1;
    }
    *id = (int32_t)v->u.i;
    return 0;
}

/* Adds text for id (taking ownership of text) unless it is there already;
 * returns the entry's text. Caller holds the write lock. */
static struct sr_entry *sr_put_id(struct smt_schemareg *r, int32_t id,
                                  char *text, size_t len)
{
    uint64_t h = sr_key_id(SR_BYID, id);
    struct sr_entry *e = sr_find(r, h, SR_BYID, id, NULL, NULL, 0);
    if (e != NULL) {
        free(text);
        return e;
    }
    e = smt_xcalloc(1, sizeof(*e));
    e->hash = h;
    e->kind = SR_BYID;
    e->id = id;
    e->text = text;
    e->len = len;
    sr_insert(r, e);
    return e;
}

/* ---------------------------------------------------------------- API */

struct smt_schemareg *smt_schemareg_new(const struct smt_schemareg_conf *c,
                                        struct smt_err *err)
{
    struct smt_schemareg *r;
    const char *p, *end;
    size_t n;
    char *u;

    if (c == NULL || c->url == NULL) {
        smt_err_set(err, SMT_E_CONFIG, "schema registry url is missing");
        return NULL;
    }
    pthread_once(&sr_once, sr_global_init);
    if (sr_global_rc != CURLE_OK) {
        smt_err_set(err, SMT_E_CONFIG, "curl_global_init failed: %s",
                    curl_easy_strerror(sr_global_rc));
        return NULL;
    }
    r = smt_xcalloc(1, sizeof(*r));
    for (p = c->url; *p != '\0'; p = *end != '\0' ? end + 1 : end) {
        end = strchr(p, ',');
        if (end == NULL) {
            end = p + strlen(p);
        }
        while (p < end && (*p == ' ' || *p == '\t')) {
            p++;
        }
        n = (size_t)(end - p);
        while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t' ||
                         p[n - 1] == '/')) {
            n--;
        }
        if (n == 0) {
            continue;
        }
        u = smt_xstrndup(p, n);
        if (strncmp(u, "http://", 7) != 0 && strncmp(u, "https://", 8) != 0) {
            char *shown = sr_shown_url(u);
            smt_err_set(err, SMT_E_CONFIG, "schema registry url '%s' must "
                        "start with http:// or https://", shown);
            free(shown);
            free(u);
            smt_schemareg_free(r);
            return NULL;
        }
        r->urls = smt_xrealloc(r->urls, (r->nurls + 1) * sizeof(*r->urls));
        r->shown = smt_xrealloc(r->shown, (r->nurls + 1) * sizeof(*r->shown));
        r->urls[r->nurls] = u;
        r->shown[r->nurls] = sr_shown_url(u);
        r->nurls++;
    }
    if (r->nurls == 0) {
        smt_schemareg_free(r);
        smt_err_set(err, SMT_E_CONFIG, "schema registry url is empty");
        return NULL;
    }
    if (c->basic_auth_user_info != NULL && c->basic_auth_user_info[0] != '\0') {
        r->userpwd = smt_xstrdup(c->basic_auth_user_info);
    }
    r->ca = c->ssl_ca_location ? smt_xstrdup(c->ssl_ca_location) : NULL;
    r->cert = c->ssl_cert_location ? smt_xstrdup(c->ssl_cert_location) : NULL;
    r->key = c->ssl_key_location ? smt_xstrdup(c->ssl_key_location) : NULL;
    r->verify = c->ssl_verify;
    r->timeout_ms = c->timeout_ms > 0 ? (long)c->timeout_ms : 10000;
    r->ntab = 64;
    r->tab = smt_xcalloc(r->ntab, sizeof(*r->tab));
    pthread_rwlock_init(&r->lock, NULL);
    return r;
}

void smt_schemareg_free(struct smt_schemareg *r)
{
    struct sr_entry *e, *next;
    size_t i;

    if (r == NULL) {
        return;
    }
    if (r->tab != NULL) {
        for (i = 0; i < r->ntab; i++) {
            for (e = r->tab[i]; e != NULL; e = next) {
                next = e->next;
                sr_entry_free(e);
            }
        }
        free(r->tab);
        pthread_rwlock_destroy(&r->lock);
    }
    for (i = 0; i < r->nurls; i++) {
        free(r->urls[i]);
        free(r->shown[i]);
    }
    free(r->urls);
    free(r->shown);
    if (r->userpwd != NULL) {
        memset(r->userpwd, 0, strlen(r->userpwd));
        free(r->userpwd);
    }
    free(r->ca);
    free(r->cert);
    free(r->key);
    free(r);
}

uint64_t smt_schemareg_requests(const struct smt_schemareg *r)
{
    return atomic_load(&((struct smt_schemareg *)r)->nreq);
}

int smt_schemareg_by_id(struct smt_schemareg *r, int32_t id,
                        const char **text, size_t *len, struct smt_err *err)
{
    uint64_t h = sr_key_id(SR_BYID, id);
    uint64_t hm = sr_key_id(SR_MISS, id);
    struct sr_resp resp = {0};
    struct smt_arena a;
    struct sr_entry *e;
    struct smt_val *root;
    char path[48], *t;
    size_t tlen;
    int64_t now = sr_now_ms();
    int ret = -1;

    pthread_rwlock_rdlock(&r->lock);
    e = sr_find(r, h, SR_BYID, id, NULL, NULL, 0);
    if (e != NULL) {
        *text = e->text;
        *len = e->len;
        pthread_rwlock_unlock(&r->lock);
        return 0;
    }
    e = sr_find(r, hm, SR_MISS, id, NULL, NULL, 0);
    if (e != NULL && e->expires > now) {
        pthread_rwlock_unlock(&r->lock);
        return smt_err_set(err, SMT_E_DATA, "schema id %ld not found in the "
                           "schema registry", (long)id);
    }
    pthread_rwlock_unlock(&r->lock);

    smt_arena_init(&a, 4096);
    snprintf(path, sizeof(path), "/schemas/ids/%ld", (long)id);
    if (sr_request(r, path, NULL, 0, &resp, err) < 0) {
        smt_err_prefix(err, "schema id %ld: ", (long)id);
        goto out;
    }
    if (resp.status == 404) {
        pthread_rwlock_wrlock(&r->lock);
        e = sr_find(r, hm, SR_MISS, id, NULL, NULL, 0);
        if (e == NULL) {
            e = smt_xcalloc(1, sizeof(*e));
            e->hash = hm;
            e->kind = SR_MISS;
            e->id = id;
            sr_insert(r, e);
        }
        e->expires = now + SR_MISS_TTL_MS;
        pthread_rwlock_unlock(&r->lock);
        smt_err_set(err, SMT_E_DATA, "schema id %ld not found in the schema "
                    "registry", (long)id);
        goto out;
    }
    if (resp.status != 200) {
        snprintf(path, sizeof(path), "schema id %ld", (long)id);
        sr_refused(r, &a, &resp, sr_status_code(resp.status), path, err);
        goto out;
    }
    root = sr_parse(&a, &resp);
    t = root != NULL ? sr_member_str(root, "schema", &tlen) : NULL;
    if (t == NULL) {
        smt_err_set(err, SMT_E_DATA, "schema id %ld: the registry's answer "
                    "has no \"schema\" string", (long)id);
        goto out;
    }
    pthread_rwlock_wrlock(&r->lock);
    e = sr_put_id(r, id, t, tlen);
    *text = e->text;
    *len = e->len;
    pthread_rwlock_unlock(&r->lock);
    ret = 0;
out:
    smt_buf_fini(&resp.body);
    smt_arena_fini(&a);
    return ret;
}

int smt_schemareg_register(struct smt_schemareg *r, const char *subject,
                           const char *text, size_t len, int32_t *id,
                           struct smt_err *err)
{
    uint64_t h = sr_key_subj(SR_REG, subject, text, len);
    struct sr_resp resp = {0};
    struct smt_buf body;
    struct smt_arena a;
    struct sr_entry *e;
    struct smt_val *root;
    char *esc = NULL, *path;
    int32_t got;
    int ret = -1;

    pthread_rwlock_rdlock(&r->lock);
    e = sr_find(r, h, SR_REG, 0, subject, text, len);
    if (e != NULL) {
        *id = e->id;
        pthread_rwlock_unlock(&r->lock);
        return 0;
    }
    pthread_rwlock_unlock(&r->lock);

    smt_arena_init(&a, 4096);
    smt_buf_init(&body);
    smt_buf_adds(&body, "{\"schema\":");
    smt_json_write_str(&body, text, len);
    smt_buf_addc(&body, '}');
    esc = sr_escape(subject);
    path = smt_xasprintf("/subjects/%s/versions", esc);
    ret = sr_request(r, path, body.ptr, body.len, &resp, err);
    free(path);
    if (ret < 0) {
        smt_err_prefix(err, "registering under subject '%s': ", subject);
        goto out;
    }
    ret = -1;
    if (resp.status != 200) {
        sr_refused(r, &a, &resp,
                   resp.status == 409 || resp.status == 422
                   ? SMT_E_DATA : sr_status_code(resp.status),
                   "registering a schema", err);
        smt_err_prefix(err, "subject '%s': ", subject);
        goto out;
    }
    root = sr_parse(&a, &resp);
    if (root == NULL || sr_member_id(root, &got) < 0) {
        smt_err_set(err, SMT_E_DATA, "subject '%s': the registry's answer "
                    "to a registration has no \"id\"", subject);
        goto out;
    }
    pthread_rwlock_wrlock(&r->lock);
    if (sr_find(r, h, SR_REG, 0, subject, text, len) == NULL) {
        e = smt_xcalloc(1, sizeof(*e));
        e->hash = h;
        e->kind = SR_REG;
        e->id = got;
        e->subject = smt_xstrdup(subject);
        e->text = smt_xstrndup(text, len);
        e->len = len;
        sr_insert(r, e);
    }
    pthread_rwlock_unlock(&r->lock);
    *id = got;
    ret = 0;
out:
    free(esc);
    smt_buf_fini(&body);
    smt_buf_fini(&resp.body);
    smt_arena_fini(&a);
    return ret;
}

int smt_schemareg_latest(struct smt_schemareg *r, const char *subject,
                         int32_t *id, const char **text, size_t *len,
                         struct smt_err *err)
{
    uint64_t h = sr_key_subj(SR_LATEST, subject, NULL, 0);
    struct sr_resp resp = {0};
    struct smt_arena a;
    struct sr_entry *e, *byid;
    struct smt_val *root;
    char *esc = NULL, *path, *t;
    size_t tlen;
    int32_t got;
    int64_t now = sr_now_ms();
    int ret = -1;

    pthread_rwlock_rdlock(&r->lock);
    e = sr_find(r, h, SR_LATEST, 0, subject, NULL, 0);
    if (e != NULL && e->expires > now) {
        *id = e->id;
        *text = e->text;
        *len = e->len;
        pthread_rwlock_unlock(&r->lock);
        return 0;
    }
    pthread_rwlock_unlock(&r->lock);

    smt_arena_init(&a, 4096);
    esc = sr_escape(subject);
    path = smt_xasprintf("/subjects/%s/versions/latest", esc);
    ret = sr_request(r, path, NULL, 0, &resp, err);
    free(path);
    if (ret < 0) {
        smt_err_prefix(err, "latest schema of subject '%s': ", subject);
        goto out;
    }
    ret = -1;
    if (resp.status == 404) {
        sr_refused(r, &a, &resp, SMT_E_DATA, "latest schema", err);
        smt_err_prefix(err, "subject '%s': ", subject);
        goto out;
    }
    if (resp.status != 200) {
        sr_refused(r, &a, &resp, sr_status_code(resp.status),
                   "latest schema", err);
        smt_err_prefix(err, "subject '%s': ", subject);
        goto out;
    }
    root = sr_parse(&a, &resp);
    t = NULL;
    if (root == NULL || sr_member_id(root, &got) < 0 ||
        (t = sr_member_str(root, "schema", &tlen)) == NULL) {
        smt_err_set(err, SMT_E_DATA, "subject '%s': the registry's latest "
                    "version has no \"id\" or no \"schema\"", subject);
        goto out;
    }
    pthread_rwlock_wrlock(&r->lock);
    byid = sr_put_id(r, got, t, tlen);
    e = sr_find(r, h, SR_LATEST, 0, subject, NULL, 0);
    if (e == NULL) {
        e = smt_xcalloc(1, sizeof(*e));
        e->hash = h;
        e->kind = SR_LATEST;
        e->subject = smt_xstrdup(subject);
        sr_insert(r, e);
    }
    e->id = got;
    e->text = byid->text;
    e->len = byid->len;
    e->expires = now + SMT_SCHEMAREG_LATEST_TTL_MS;
    *id = got;
    *text = byid->text;
    *len = byid->len;
    pthread_rwlock_unlock(&r->lock);
    ret = 0;
out:
    free(esc);
    smt_buf_fini(&resp.body);
    smt_arena_fini(&a);
    return ret;
}

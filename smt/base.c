/*
 * base.c - error object, aborting allocators, the arena and byte buffers.
 *
 * The arena hands out memory from chunks; reset keeps only the first chunk
 * so a worker that processes records one after another reaches a steady
 * state with no malloc at all per record. Requests larger than a chunk get
 * a chunk of their own.
 */
#include "base.h"

#include <stdio.h>
#include <stdlib.h>

/* ---------------------------------------------------------------------- */
/* Errors */

int smt_err_set(struct smt_err *err, int code, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL) {
        return -1;
    }
    err->code = code;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    return -1;
}

int smt_err_prefix(struct smt_err *err, const char *fmt, ...)
{
    char    pre[sizeof(err->msg)];
    char    old[sizeof(err->msg)];
    va_list ap;

    if (err == NULL) {
        return -1;
    }
    va_start(ap, fmt);
    vsnprintf(pre, sizeof(pre), fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof(old));
    {
        size_t pl = strlen(pre), ol = strlen(old);

        if (pl >= sizeof(err->msg)) {
            pl = sizeof(err->msg) - 1;
        }
        if (ol > sizeof(err->msg) - 1 - pl) {
            ol = sizeof(err->msg) - 1 - pl;
        }
        memcpy(err->msg, pre, pl);
        memcpy(err->msg + pl, old, ol);
        err->msg[pl + ol] = '\0';
    }
    return -1;
}

void smt_err_clear(struct smt_err *err)
{
    if (err != NULL) {
        err->code = SMT_E_NONE;
        err->stage = SMT_STAGE_NONE;
        err->msg[0] = '\0';
    }
}

const char *smt_err_class(int code)
{
    switch (code) {
    case SMT_E_CONFIG:
        return "org.apache.kafka.common.config.ConfigException";
    case SMT_E_RETRIABLE:
        return "org.apache.kafka.connect.errors.RetriableException";
    case SMT_E_INDEX:
        return "java.lang.IndexOutOfBoundsException";
    case SMT_E_ARG:
        return "java.lang.IllegalArgumentException";
    case SMT_E_CONNECT:
        return "org.apache.kafka.connect.errors.ConnectException";
    case SMT_E_DATA:
    case SMT_E_LIMIT:
    case SMT_E_IO:
    default:
        return "org.apache.kafka.connect.errors.DataException";
    }
}

const char *smt_stage_name(int stage)
{
    static const char *const names[] = {
        "",
        "KEY_CONVERTER",
        "VALUE_CONVERTER",
        "HEADER_CONVERTER",
        "TRANSFORMATION",
        "KAFKA_PRODUCE",
        "KAFKA_CONSUME",
    };

    if (stage < 0 || (size_t)stage >= sizeof(names) / sizeof(names[0])) {
        return "";
    }
    return names[stage];
}

/* ---------------------------------------------------------------------- */
/* Allocation */

static void oom(size_t n)
{
    fprintf(stderr, "smtproxy: out of memory allocating %zu bytes\n", n);
    abort();
}

void *smt_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);

    if (p == NULL) {
        oom(n);
    }
    return p;
}

void *smt_xcalloc(size_t n, size_t sz)
{
    void *p = calloc(n ? n : 1, sz ? sz : 1);

    if (p == NULL) {
        oom(n * sz);
    }
    return p;
}

void *smt_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);

    if (q == NULL) {
        oom(n);
    }
    return q;
}

char *smt_xstrdup(const char *s)
{
    return smt_xstrndup(s, strlen(s));
}

char *smt_xstrndup(const char *s, size_t n)
{
    char *p = smt_xmalloc(n + 1);

    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *smt_xasprintf(const char *fmt, ...)
{
    va_list ap;
    int     n;
    char   *p;
    char    probe[1];

    va_start(ap, fmt);
    n = vsnprintf(probe, sizeof(probe), fmt, ap);
    va_end(ap);
    if (n < 0) {
        n = 0;
    }
    p = smt_xmalloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

/* ---------------------------------------------------------------------- */
/* Arena */

struct smt_arena_chunk {
    struct smt_arena_chunk *next;
    size_t                  size; /* usable bytes after the header */
    /* data follows, 8-aligned because the header is 16 bytes */
};

#define CHUNK_DATA(c) ((char *)(c) + sizeof(struct smt_arena_chunk))

void smt_arena_init(struct smt_arena *a, size_t chunk_size)
{
    memset(a, 0, sizeof(*a));
    a->chunk_size = chunk_size < 1024 ? 1024 : chunk_size;
}

void smt_arena_fini(struct smt_arena *a)
{
    struct smt_arena_chunk *c = a->chunks, *next;

    while (c != NULL) {
        next = c->next;
        free(c);
        c = next;
    }
    a->chunks = NULL;
    a->cur = a->end = NULL;
    a->used = 0;
}

struct smt_arena *smt_arena_new(size_t chunk_size)
{
    struct smt_arena *a = smt_xmalloc(sizeof(*a));

    smt_arena_init(a, chunk_size);
    return a;
}

void smt_arena_free(struct smt_arena *a)
{
    if (a != NULL) {
        smt_arena_fini(a);
        free(a);
    }
}

void smt_arena_reset(struct smt_arena *a)
{
    struct smt_arena_chunk *c = a->chunks, *next;

    if (a->used > a->peak) {
        a->peak = a->used;
    }
    a->used = 0;
    if (c == NULL) {
        return;
    }
    /* Free every chunk but the oldest (the last in the list): it has the
     * regular size and is what a steady state needs. */
    while (c->next != NULL) {
        next = c->next;
        free(c);
        c = next;
    }
    a->chunks = c;
    if (c->size != a->chunk_size) {
        /* The only chunk is an oversized one: drop it too. */
        free(c);
        a->chunks = NULL;
        a->cur = a->end = NULL;
        return;
    }
    a->cur = CHUNK_DATA(c);
    a->end = a->cur + c->size;
}

void *smt_arena_alloc_slow(struct smt_arena *a, size_t n)
{
    struct smt_arena_chunk *c;
    size_t                  size = n > a->chunk_size ? n : a->chunk_size;

    if (a->chunk_size == 0) {
        a->chunk_size = 4096;
        size = n > a->chunk_size ? n : a->chunk_size;
    }
    c = smt_xmalloc(sizeof(*c) + size);
    c->size = size;
    if (size > a->chunk_size && a->chunks != NULL) {
        /* An oversized block: keep the current chunk current, insert the
         * big one behind it so its free space is not lost. */
        c->next = a->chunks->next;
        a->chunks->next = c;
        a->used += n;
        return CHUNK_DATA(c);
    }
    c->next = a->chunks;
    a->chunks = c;
    a->cur = CHUNK_DATA(c) + n;
    a->end = CHUNK_DATA(c) + size;
    a->used += n;
    return CHUNK_DATA(c);
}

void *smt_arena_calloc(struct smt_arena *a, size_t n)
{
    void *p = smt_arena_alloc(a, n);

    memset(p, 0, n);
    return p;
}

char *smt_arena_memdup(struct smt_arena *a, const void *p, size_t len)
{
    char *q = smt_arena_alloc(a, len + 1);

    if (len > 0) {
        memcpy(q, p, len);
    }
    q[len] = '\0';
    return q;
}

struct smt_bytes smt_arena_printf(struct smt_arena *a, const char *fmt, ...)
{
    va_list          ap;
    int              n;
    char             small[128];
    struct smt_bytes b;
    char            *p;

    va_start(ap, fmt);
    n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0) {
        n = 0;
    }
    p = smt_arena_alloc(a, (size_t)n + 1);
    if ((size_t)n < sizeof(small)) {
        memcpy(p, small, (size_t)n + 1);
    } else {
        va_start(ap, fmt);
        vsnprintf(p, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    b.ptr = p;
    b.len = (size_t)n;
    return b;
}

void *smt_arena_grow(struct smt_arena *a, void *old, size_t oldcap,
                     size_t newcap, size_t sz)
{
    void *p = smt_arena_alloc(a, newcap * sz);

    if (old != NULL && oldcap > 0) {
        memcpy(p, old, (oldcap < newcap ? oldcap : newcap) * sz);
    }
    return p;
}

/* ---------------------------------------------------------------------- */
/* Buffers */

void smt_buf_init(struct smt_buf *b)
{
    b->ptr = NULL;
    b->len = b->cap = 0;
}

void smt_buf_fini(struct smt_buf *b)
{
    free(b->ptr);
    smt_buf_init(b);
}

void smt_buf_reserve(struct smt_buf *b, size_t extra)
{
    size_t need = b->len + extra + 1;
    size_t cap;

    if (need <= b->cap) {
        return;
    }
    cap = b->cap ? b->cap : 256;
    while (cap < need) {
        cap *= 2;
    }
    b->ptr = smt_xrealloc(b->ptr, cap);
    b->cap = cap;
}

void smt_buf_add(struct smt_buf *b, const void *p, size_t n)
{
    smt_buf_reserve(b, n);
    if (n > 0) {
        memcpy(b->ptr + b->len, p, n);
    }
    b->len += n;
    b->ptr[b->len] = '\0';
}

void smt_buf_addc(struct smt_buf *b, char c)
{
    smt_buf_reserve(b, 1);
    b->ptr[b->len++] = c;
    b->ptr[b->len] = '\0';
}

void smt_buf_adds(struct smt_buf *b, const char *s)
{
    smt_buf_add(b, s, strlen(s));
}

void smt_buf_printf(struct smt_buf *b, const char *fmt, ...)
{
    va_list ap;
    int     n;
    char    probe[1];

    va_start(ap, fmt);
    n = vsnprintf(probe, sizeof(probe), fmt, ap);
    va_end(ap);
    if (n <= 0) {
        return;
    }
    smt_buf_reserve(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(b->ptr + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

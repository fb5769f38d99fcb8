/*
 * base.h - the few things every part of smt/ and proxy/ uses: byte views,
 * the error object, aborting allocators and the per-record arena.
 *
 * Ownership rule (stated once, used everywhere): a struct smt_bytes is a
 * borrowed view and is never freed; anything returned by an smt_x*()
 * allocator is freed with free(); anything from an arena lives until the
 * arena is reset or freed.
 */
#ifndef SMT_BASE_H
#define SMT_BASE_H

#include <stddef.h>
#include <stdint.h>
#include <stdarg.h>
#include <string.h>

#if defined(__GNUC__)
#define SMT_PRINTF(a, b) __attribute__((format(printf, a, b)))
#define SMT_LIKELY(x) __builtin_expect(!!(x), 1)
#define SMT_UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define SMT_PRINTF(a, b)
#define SMT_LIKELY(x) (x)
#define SMT_UNLIKELY(x) (x)
#endif

/** A borrowed view of bytes. ptr == NULL means "null" (a tombstone value,
 *  a null key or a header without value); ptr != NULL, len == 0 is empty. */
struct smt_bytes {
    const char *ptr;
    size_t      len;
};

#define SMT_BYTES_NULL ((struct smt_bytes){NULL, 0})
#define SMT_BYTES_LIT(s) ((struct smt_bytes){(s), sizeof(s) - 1})

static inline struct smt_bytes smt_bytes_str(const char *s)
{
    struct smt_bytes b = {s, s ? strlen(s) : 0};
    return b;
}

static inline int smt_bytes_eq(struct smt_bytes a, struct smt_bytes b)
{
    if (a.ptr == NULL || b.ptr == NULL) {
        return a.ptr == b.ptr;
    }
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

static inline int smt_bytes_eqs(struct smt_bytes a, const char *s)
{
    size_t n = strlen(s);
    return a.ptr != NULL && a.len == n && memcmp(a.ptr, s, n) == 0;
}

/* ---------------------------------------------------------------------- */
/* Errors                                                                   */

/** Kafka Connect's stages (the exact names go into DLQ headers). */
enum smt_stage {
    SMT_STAGE_NONE = 0,
    SMT_STAGE_KEY_CONVERTER,
    SMT_STAGE_VALUE_CONVERTER,
    SMT_STAGE_HEADER_CONVERTER,
    SMT_STAGE_TRANSFORMATION,
    SMT_STAGE_KAFKA_PRODUCE,
    SMT_STAGE_KAFKA_CONSUME,
};

/** Error codes; each maps to the Java exception class Connect would report
 *  (smt_err_class()). */
enum smt_errcode {
    SMT_E_NONE = 0,
    SMT_E_DATA,        /* org.apache.kafka.connect.errors.DataException */
    SMT_E_CONFIG,      /* org.apache.kafka.common.config.ConfigException */
    SMT_E_RETRIABLE,   /* org.apache.kafka.connect.errors.RetriableException */
    SMT_E_INDEX,       /* java.lang.IndexOutOfBoundsException */
    SMT_E_ARG,         /* java.lang.IllegalArgumentException */
    SMT_E_CONNECT,     /* org.apache.kafka.connect.errors.ConnectException */
    SMT_E_LIMIT,       /* a resource limit (depth, size, budget); DataException */
    SMT_E_IO,          /* a file could not be read */
};

/** Caller-provided error detail. Never allocates, so it works on OOM paths.
 *  msg is lower case, no trailing period, values quoted: the callee says
 *  what went wrong, the caller adds where. Connect-compatible messages keep
 *  Connect's own wording (capitals and all) where the reference gives it. */
struct smt_err {
    int  code;      /* enum smt_errcode */
    int  stage;     /* enum smt_stage, set by the layer that knows it */
    char msg[256];
};

/** Sets code and a formatted message; always returns -1 so that
 *  `return smt_err_set(err, ...)` reads naturally. err may be NULL. */
int smt_err_set(struct smt_err *err, int code, const char *fmt, ...)
    SMT_PRINTF(3, 4);

/** Prefixes the existing message with formatted context ("field 'a': ").
 *  Returns -1. */
int smt_err_prefix(struct smt_err *err, const char *fmt, ...) SMT_PRINTF(2, 3);

/** Clears err (code 0, empty message, no stage). */
void smt_err_clear(struct smt_err *err);

/** The fully-qualified Java exception class Connect would name for code. */
const char *smt_err_class(int code);

/** The Connect stage name ("TRANSFORMATION" ...), or "" for NONE. */
const char *smt_stage_name(int stage);

/* ---------------------------------------------------------------------- */
/* Allocation: these abort on OOM (Redis zmalloc, librdkafka rd_malloc).    */

void *smt_xmalloc(size_t n);
void *smt_xcalloc(size_t n, size_t sz);
void *smt_xrealloc(void *p, size_t n);
char *smt_xstrdup(const char *s);
char *smt_xstrndup(const char *s, size_t n);
/** Returns a new string formatted with printf rules; free with free(). */
char *smt_xasprintf(const char *fmt, ...) SMT_PRINTF(1, 2);

/* ---------------------------------------------------------------------- */
/* Arena: per-record bump allocator (Varnish workspace). Everything a
 * record needs while it is processed comes from here and is released in one
 * step by smt_arena_reset(). Not thread-safe: one arena per worker/record. */

struct smt_arena_chunk;

struct smt_arena {
    char                   *cur;    /* next free byte in the current chunk */
    char                   *end;    /* end of the current chunk */
    struct smt_arena_chunk *chunks; /* current chunk first, first chunk last */
    size_t                  chunk_size;
    size_t                  used;   /* bytes handed out since the last reset */
    size_t                  peak;   /* largest `used` ever seen */
};

/** Initialises an embedded arena whose chunks are chunk_size bytes (at
 *  least 1 KiB). No memory is allocated until the first allocation. */
void smt_arena_init(struct smt_arena *a, size_t chunk_size);

/** Releases all memory of an embedded arena. */
void smt_arena_fini(struct smt_arena *a);

/** Returns a new heap arena; free with smt_arena_free(). */
struct smt_arena *smt_arena_new(size_t chunk_size);

/** Frees a heap arena and everything in it. NULL is a no-op. */
void smt_arena_free(struct smt_arena *a);

/** Forgets every allocation; keeps the first chunk for reuse. */
void smt_arena_reset(struct smt_arena *a);

void *smt_arena_alloc_slow(struct smt_arena *a, size_t n);

/** Returns n bytes aligned to 8 from the arena; aborts on OOM. */
static inline void *smt_arena_alloc(struct smt_arena *a, size_t n)
{
    char *p;
    n = (n + 7u) & ~(size_t)7u;
    if (SMT_LIKELY((size_t)(a->end - a->cur) >= n && a->cur != NULL)) {
        p = a->cur;
        a->cur += n;
        a->used += n;
        return p;
    }
    return smt_arena_alloc_slow(a, n);
}

/** Like smt_arena_alloc() but zeroed. */
void *smt_arena_calloc(struct smt_arena *a, size_t n);

/** Copies len bytes into the arena, adding a NUL after them. */
char *smt_arena_memdup(struct smt_arena *a, const void *p, size_t len);

/** Formats into the arena; returns the view (NUL-terminated). */
struct smt_bytes smt_arena_printf(struct smt_arena *a, const char *fmt, ...)
    SMT_PRINTF(2, 3);

/** Grows an arena array (old contents copied; old block abandoned).
 *  Returns the new block holding newcap elements of size sz. */
void *smt_arena_grow(struct smt_arena *a, void *old, size_t oldcap,
                     size_t newcap, size_t sz);

/* ---------------------------------------------------------------------- */
/* Growable byte buffer on the heap (serializers, CLI output). */

struct smt_buf {
    char  *ptr;
    size_t len, cap;
};

void smt_buf_init(struct smt_buf *b);
void smt_buf_fini(struct smt_buf *b);
void smt_buf_reserve(struct smt_buf *b, size_t extra);
void smt_buf_add(struct smt_buf *b, const void *p, size_t n);
void smt_buf_addc(struct smt_buf *b, char c);
void smt_buf_adds(struct smt_buf *b, const char *s);
void smt_buf_printf(struct smt_buf *b, const char *fmt, ...) SMT_PRINTF(2, 3);

#endif /* SMT_BASE_H */

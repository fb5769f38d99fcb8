/*
 * json.c - the record-value JSON parser and serializer, Java number
 * formatting, base64 and Connect's JSON envelope.
 *
 * Every record whose value is JSON goes through this file twice (parse on
 * the way in, write on the way out when something changed), so both
 * directions are written for speed: the parser is iterative (no recursion,
 * so a deep document cannot overflow the C stack), collects the children of
 * an open container on one scratch stack and allocates each finished
 * container's array once, at its exact size; strings without escapes stay
 * views into the input and are scanned eight bytes at a time. The writer
 * copies a node's `raw` source text whenever the node is unchanged, which is
 * both the fast path and what keeps untouched values byte-identical.
 *
 * The accepted language is RFC 8259 exactly; the choices the RFC leaves to
 * implementations (lone surrogates, invalid UTF-8, huge numbers, BOM, depth,
 * duplicate keys) are listed in docs/json.md and checked against
 * JSONTestSuite by tests/unit/test_json.c.
 */
#include "json.h"

#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#if defined(__SSE2__) && defined(__GNUC__)
#include <emmintrin.h>
#endif

/* ---------------------------------------------------------------------- */
/* Character classes                                                        */

/* 1 for bytes that end the fast string scan: controls, '"', '\\', non-ASCII */
static const uint8_t str_stop[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x00 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x10 */
    0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x20 '"' */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x30 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x40 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, /* 0x50 '\\' */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x60 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x70 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x80.. */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
};

#define ONES 0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL

/* Nonzero when one of the eight bytes in x would stop the string scan.
 * Each term is the classic "has a byte less than n" test, exact as to
 * whether such a byte exists; which byte it is does not matter here. */
static inline uint64_t swar_stop(uint64_t x)
{
    uint64_t q = x ^ (ONES * '"');
    uint64_t s = x ^ (ONES * '\\');

    return (((x - ONES * 0x20) & ~x) | ((q - ONES) & ~q) |
            ((s - ONES) & ~s) | x) & HIGHS;
}

static inline int is_ws(unsigned char c)
{
    return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

/* Skips JSON whitespace. Compact JSON has none between tokens, so one
 * compare (every whitespace byte is <= ' ', no token starts there) usually
 * settles it. */
static inline const char *skip_ws(const char *p, const char *end)
{
    if (SMT_LIKELY(p < end && (unsigned char)*p > ' ')) {
        return p;
    }
    while (p < end && is_ws((unsigned char)*p)) {
        p++;
    }
    return p;
}

/* Length of the valid UTF-8 sequence starting at p (lead byte >= 0x80), or
 * 0 when it is invalid: overlong forms, surrogates (ED A0..BF) and code
 * points above U+10FFFF are rejected, as RFC 3629 requires. */
static inline size_t utf8_len(const unsigned char *p, const unsigned char *end)
{
    unsigned c = p[0];
    size_t   left = (size_t)(end - p);

    if (c >= 0xC2 && c <= 0xDF) {
        return (left >= 2 && (p[1] & 0xC0) == 0x80) ? 2 : 0;
    }
    if (c >= 0xE0 && c <= 0xEF) {
        unsigned lo = 0x80, hi = 0xBF;
        if (c == 0xE0) {
            lo = 0xA0;
        } else if (c == 0xED) {
            hi = 0x9F;
        }
        return (left >= 3 && p[1] >= lo && p[1] <= hi &&
                (p[2] & 0xC0) == 0x80) ? 3 : 0;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        unsigned lo = 0x80, hi = 0xBF;
        if (c == 0xF0) {
            lo = 0x90;
        } else if (c == 0xF4) {
            hi = 0x8F;
        }
        return (left >= 4 && p[1] >= lo && p[1] <= hi &&
                (p[2] & 0xC0) == 0x80 && (p[3] & 0xC0) == 0x80) ? 4 : 0;
    }
    return 0;
}

/* ---------------------------------------------------------------------- */
/* Parser                                                                   */

struct jp {
    const char       *start; /* input, for offsets in messages */
    const char       *end;
    struct smt_arena *a;
    struct smt_err   *err;
};

static int jp_fail(struct jp *jp, const char *at, const char *what)
{
    return smt_err_set(jp->err, SMT_E_DATA, "invalid JSON at offset %zu: %s",
                       (size_t)(at - jp->start), what);
}

/* "unexpected character 'x'" or, for bytes that would garble the message,
 * "unexpected byte 0xNN"; "unexpected end of input" at the end. */
static int jp_unexpected(struct jp *jp, const char *at)
{
    char          what[40];
    unsigned char c;

    if (at >= jp->end) {
        return jp_fail(jp, jp->end, "unexpected end of input");
    }
    c = (unsigned char)*at;
    if (c >= 0x20 && c < 0x7F) {
        snprintf(what, sizeof(what), "unexpected character '%c'", c);
    } else {
        snprintf(what, sizeof(what), "unexpected byte 0x%02x", c);
    }
    return jp_fail(jp, at, what);
}

static inline struct smt_val *jp_node(struct smt_arena *a, int type,
                                      const char *raw, size_t rawlen)
{
    struct smt_val *v = smt_arena_alloc(a, sizeof(*v));

    v->type = (uint8_t)type;
    v->flags = 0;
    v->n = 0;
    v->cap = 0;
    v->raw = raw;
    v->rawlen = rawlen;
    return v;
}

static int hex4(const char *p, unsigned *out)
{
    unsigned v = 0;
    int      i;

    for (i = 0; i < 4; i++) {
        unsigned char c = (unsigned char)p[i];
        v <<= 4;
        if (c >= '0' && c <= '9') {
            v |= c - '0';
        } else if (c >= 'a' && c <= 'f') {
            v |= c - 'a' + 10;
        } else if (c >= 'A' && c <= 'F') {
            v |= c - 'A' + 10;
        } else {
            return -1;
        }
    }
    *out = v;
    return 0;
}

static char *put_utf8(char *o, unsigned cp)
{
    if (cp < 0x80) {
        *o++ = (char)cp;
    } else if (cp < 0x800) {
        *o++ = (char)(0xC0 | (cp >> 6));
        *o++ = (char)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        *o++ = (char)(0xE0 | (cp >> 12));
        *o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
        *o++ = (char)(0x80 | (cp & 0x3F));
    } else {
        *o++ = (char)(0xF0 | (cp >> 18));
        *o++ = (char)(0x80 | ((cp >> 12) & 0x3F));
        *o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
        *o++ = (char)(0x80 | (cp & 0x3F));
    }
    return o;
}

/* Decodes the string body s..q (q at the closing quote), which contains at
 * least one backslash at or after esc, into the arena. Everything before
 * esc was already validated by the scan. Unescaping only ever shrinks the
 * text, so q - s bytes are enough. */
static int jp_unescape(struct jp *jp, const char *s, const char *esc,
                       const char *q, struct smt_bytes *out)
{
    char       *buf = smt_arena_alloc(jp->a, (size_t)(q - s) + 1);
    char       *o = buf + (esc - s);
    const char *p = esc;

    memcpy(buf, s, (size_t)(esc - s));
    while (p < q) {
        unsigned char c = (unsigned char)*p;
        if (c == '\\') {
            unsigned cp, lo;
            switch (p[1]) {
            case '"': *o++ = '"'; p += 2; continue;
            case '\\': *o++ = '\\'; p += 2; continue;
            case '/': *o++ = '/'; p += 2; continue;
            case 'b': *o++ = '\b'; p += 2; continue;
            case 'f': *o++ = '\f'; p += 2; continue;
            case 'n': *o++ = '\n'; p += 2; continue;
            case 'r': *o++ = '\r'; p += 2; continue;
            case 't': *o++ = '\t'; p += 2; continue;
            case 'u': break;
            default: return jp_fail(jp, p, "invalid escape sequence");
            }
            if (q - p < 6 || hex4(p + 2, &cp) < 0) {
                return jp_fail(jp, p, "invalid \\u escape");
            }
            if (cp >= 0xDC00 && cp <= 0xDFFF) {
                return jp_fail(jp, p, "lone surrogate in \\u escape");
            }
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (q - p < 12 || p[6] != '\\' || p[7] != 'u' ||
                    hex4(p + 8, &lo) < 0 || lo < 0xDC00 || lo > 0xDFFF) {
                    return jp_fail(jp, p, "lone surrogate in \\u escape");
                }
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                p += 6;
            }
            o = put_utf8(o, cp);
            p += 6;
        } else if (c < 0x20) {
            return jp_fail(jp, p, "control character in string");
        } else if (c < 0x80) {
            *o++ = (char)c;
            p++;
        } else {
            size_t n = utf8_len((const unsigned char *)p,
                                (const unsigned char *)q);
            if (n == 0) {
                return jp_fail(jp, p, "invalid UTF-8");
            }
            memcpy(o, p, n);
            o += n;
            p += n;
        }
    }
    *o = '\0';
    out->ptr = buf;
    out->len = (size_t)(o - buf);
    return 0;
}

/* Parses a string whose opening quote is at *pp; on success *pp is past the
 * closing quote. Strings without escapes are views into the input. */
#if defined(__GNUC__)
#define JP_INLINE inline __attribute__((always_inline))
#else
#define JP_INLINE inline
#endif

static JP_INLINE int jp_string(struct jp *jp, const char **pp,
                               struct smt_bytes *out)
{
    const char *s = *pp + 1;
    const char *p = s;
    const char *end = jp->end;
    const char *esc;

    for (;;) {
        unsigned char c;
#if defined(__SSE2__) && defined(__GNUC__) && defined(__BYTE_ORDER__) &&     \
    __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        /* sixteen bytes at a time: the signed compare with 0x20 flags
         * controls and non-ASCII bytes (negative) at once */
        while (end - p >= 16) {
            __m128i x = _mm_loadu_si128((const __m128i *)(const void *)p);
            __m128i t = _mm_or_si128(
                _mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('"')),
                             _mm_cmpeq_epi8(x, _mm_set1_epi8('\\'))),
                _mm_cmplt_epi8(x, _mm_set1_epi8(0x20)));
            int m = _mm_movemask_epi8(t);
            if (m != 0) {
                p += __builtin_ctz((unsigned)m);
                goto stop;
            }
            p += 16;
        }
#endif
        while (end - p >= 8) {
            uint64_t x, m;
            memcpy(&x, p, 8);
            if ((m = swar_stop(x)) != 0) {
#if defined(__GNUC__) && defined(__BYTE_ORDER__) &&                            \
    __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
                /* the lowest flagged byte is always a real stop byte */
                p += __builtin_ctzll(m) >> 3;
                goto stop;
#else
                break;
#endif
            }
            p += 8;
        }
        while (p < end && !str_stop[(unsigned char)*p]) {
            p++;
        }
#if defined(__GNUC__) && defined(__BYTE_ORDER__) &&                            \
    __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    stop:
#endif
        if (p >= end) {
            return jp_fail(jp, end, "unterminated string");
        }
        c = (unsigned char)*p;
        if (c == '"') {
            out->ptr = s;
            out->len = (size_t)(p - s);
            *pp = p + 1;
            return 0;
        }
        if (c == '\\') {
            break;
        }
        if (c < 0x20) {
            return jp_fail(jp, p, "control character in string");
        }
        {
            size_t n = utf8_len((const unsigned char *)p,
                                (const unsigned char *)end);
            if (n == 0) {
                return jp_fail(jp, p, "invalid UTF-8");
            }
            p += n;
        }
    }
    /* escapes: find the closing quote, then decode and validate the rest */
    esc = p;
    while (p < end && *p != '"') {
        p += (*p == '\\') ? 2 : 1;
    }
    if (p >= end) {
        return jp_fail(jp, end, "unterminated string");
    }
    if (jp_unescape(jp, s, esc, p, out) < 0) {
        return -1;
    }
    *pp = p + 1;
    return 0;
}

static const double pow10_tab[23] = {
    1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

int smt_parse_double_fast(const char *p, size_t len, int is_float,
                          double *out)
{
    const char *e = p + len;
    uint64_t    m = 0;
    int         neg = 0, nsig = 0, digits = 0;
    long        exp10 = 0;
    double      d;

    if (p < e && (*p == '+' || *p == '-')) {
        neg = *p == '-';
        p++;
    }
    for (; p < e && (unsigned)(*p - '0') <= 9; p++) {
        digits++;
        if (m == 0 && *p == '0') {
            continue;
        }
        if (++nsig > 19) {
            return 0;
        }
        m = m * 10 + (unsigned)(*p - '0');
    }
    if (p < e && *p == '.') {
        for (p++; p < e && (unsigned)(*p - '0') <= 9; p++) {
            digits++;
            exp10--;
            if (m == 0 && *p == '0') {
                continue;
            }
            if (++nsig > 19) {
                return 0;
            }
            m = m * 10 + (unsigned)(*p - '0');
        }
    }
    if (digits == 0) {
        return 0;
    }
    if (p < e && (*p == 'e' || *p == 'E')) {
        long x = 0;
        int  xneg = 0, xdigits = 0;

        p++;
        if (p < e && (*p == '+' || *p == '-')) {
            xneg = *p == '-';
            p++;
        }
        for (; p < e && (unsigned)(*p - '0') <= 9; p++) {
            xdigits++;
            if (x < 100000) {
                x = x * 10 + (*p - '0');
            }
        }
        if (xdigits == 0) {
            return 0;
        }
        exp10 += xneg ? -x : x;
    }
    if (p != e) {
        return 0;
    }
    if (m == 0) {
        d = 0.0;
    } else if (is_float) {
#if FLT_EVAL_METHOD == 0
        /* the same argument in single precision: 10^10 is the largest
         * power of ten a float holds exactly */
        float f;

        if (m >= (1ULL << 24) || exp10 < -10 || exp10 > 10) {
            return 0;
        }
        f = (float)m;
        f = exp10 >= 0 ? f * (float)pow10_tab[exp10]
                       : f / (float)pow10_tab[-exp10];
        d = f;
#else
        return 0;
#endif
    } else {
        if (m >= (1ULL << 53) || exp10 < -22 || exp10 > 22) {
            return 0;
        }
        d = (double)m;
        d = exp10 >= 0 ? d * pow10_tab[exp10] : d / pow10_tab[-exp10];
    }
    *out = neg ? -d : d;
    return 1;
}

/* strtod on s..e, which is not NUL-terminated in the input. strtod is
 * locale-dependent for the decimal point; we never call setlocale(), so
 * the C locale (and '.') is in force. */
static double jp_strtod(const char *s, const char *e)
{
    char   small[64];
    char  *buf = small;
    size_t n = (size_t)(e - s);
    double d;

    if (n >= sizeof(small)) {
        buf = smt_xmalloc(n + 1);
    }
    memcpy(buf, s, n);
    buf[n] = '\0';
    d = strtod(buf, NULL);
    if (buf != small) {
        free(buf);
    }
    return d;
}

/* Parses a number at *pp (grammar of RFC 8259 section 6). */
static struct smt_val *jp_number(struct jp *jp, const char **pp)
{
    const char     *s = *pp, *p = s, *end = jp->end;
    uint64_t        m = 0;
    int             neg = 0, nsig = 0, trunc = 0, is_float = 0;
    long            exp10 = 0;
    struct smt_val *v;
    double          d;

    if (*p == '-') {
        neg = 1;
        p++;
    }
    if (p >= end || (unsigned)(*p - '0') > 9) {
        jp_unexpected(jp, p);
        return NULL;
    }
    if (*p == '0') {
        p++;
    } else {
        while (p < end && (unsigned)(*p - '0') <= 9) {
            if (nsig < 19) {
                m = m * 10 + (unsigned)(*p - '0');
                nsig++;
            } else {
                exp10++;
                trunc = 1;
            }
            p++;
        }
    }
    if (p < end && *p == '.') {
        is_float = 1;
        p++;
        if (p >= end || (unsigned)(*p - '0') > 9) {
            jp_unexpected(jp, p);
            return NULL;
        }
        while (p < end && (unsigned)(*p - '0') <= 9) {
            if (m == 0 && *p == '0') {
                exp10--;
            } else if (nsig < 19) {
                m = m * 10 + (unsigned)(*p - '0');
                nsig++;
                exp10--;
            } else {
                trunc = 1;
            }
            p++;
        }
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        long e = 0;
        int  eneg = 0;
        is_float = 1;
        p++;
        if (p < end && (*p == '+' || *p == '-')) {
            eneg = *p == '-';
            p++;
        }
        if (p >= end || (unsigned)(*p - '0') > 9) {
            jp_unexpected(jp, p);
            return NULL;
        }
        while (p < end && (unsigned)(*p - '0') <= 9) {
            if (e < 100000000) {
                e = e * 10 + (*p - '0');
            }
            p++;
        }
        exp10 += eneg ? -e : e;
    }
    *pp = p;
    v = jp_node(jp->a, SMT_INT64, s, (size_t)(p - s));
    if (!is_float && !trunc) {
        if (!neg && m <= (uint64_t)INT64_MAX) {
            v->u.i = (int64_t)m;
            return v;
        }
        if (neg && m <= (uint64_t)INT64_MAX + 1) {
            v->u.i = (m == (uint64_t)INT64_MAX + 1) ? INT64_MIN
                                                    : -(int64_t)m;
            return v;
        }
    }
    v->type = SMT_FLOAT64;
    if (!is_float) {
        v->flags = SMT_VF_BIGINT;
    }
    if (m == 0) {
        d = 0.0;
    } else if (!trunc && m < (1ULL << 53) && exp10 >= -22 && exp10 <= 22) {
        /* both operands exact, so one correctly rounded operation gives
         * the correctly rounded result (Clinger's fast path) */
        d = (double)m;
        d = exp10 >= 0 ? d * pow10_tab[exp10] : d / pow10_tab[-exp10];
    } else {
        d = jp_strtod(neg ? s + 1 : s, p);
        if (isinf(d)) {
            jp_fail(jp, s, "number out of range");
            return NULL;
        }
    }
    v->u.d = neg ? -d : d;
    return v;
}

/* One open container. */
struct jp_frame {
    struct smt_val *v;
    uint32_t        base;  /* first scratch slot of its children */
    uint32_t        plain; /* no key so far had an escape */
};

#define JP_LOCAL_SLOTS 64

/* Doubles the scratch stack, moving it to the heap the first time. */
static struct smt_member *jp_grow(struct smt_member *slots,
                                  const struct smt_member *local,
                                  size_t *cap)
{
    size_t ncap = *cap * 2;

    if (slots == local) {
        slots = smt_xmalloc(ncap * sizeof(*slots));
        memcpy(slots, local, *cap * sizeof(*slots));
    } else {
        slots = smt_xrealloc(slots, ncap * sizeof(*slots));
    }
    *cap = ncap;
    return slots;
}

struct smt_val *smt_json_parse(struct smt_arena *a, const char *in,
                               size_t len, struct smt_err *err)
{
    struct jp         jp;
    struct jp_frame   frames[SMT_JSON_MAX_DEPTH];
    struct smt_member local[JP_LOCAL_SLOTS];
    struct smt_member *slots = local;
    size_t            nslots = 0, capslots = JP_LOCAL_SLOTS;
    int               depth = 0;
    const char       *p = in, *end = in + len;
    struct smt_val   *v = NULL, *root = NULL;
    struct jp_frame  *f;
    int               in_obj = 0; /* the innermost open container is {} */

    jp.start = in;
    jp.end = end;
    jp.a = a;
    jp.err = err;

value:
    if (p >= end) {
        jp_unexpected(&jp, p);
        goto fail;
    }
    switch (*p) {
    case ' ':
    case '\t':
    case '\n':
    case '\r':
        p = skip_ws(p, end);
        goto value;
    case '"':
        v = jp_node(a, SMT_STRING, p, 0);
        if (jp_string(&jp, &p, &v->u.s) < 0) {
            goto fail;
        }
        v->rawlen = (size_t)(p - v->raw);
        break;
    case '{':
    case '[':
        if (depth >= SMT_JSON_MAX_DEPTH) {
            smt_err_set(err, SMT_E_LIMIT,
                        "invalid JSON at offset %zu: nesting deeper than %d "
                        "levels", (size_t)(p - in), SMT_JSON_MAX_DEPTH);
            goto fail;
        }
        f = &frames[depth++];
        in_obj = *p == '{';
        f->v = jp_node(a, in_obj ? SMT_OBJECT : SMT_ARRAY, p, 0);
        f->base = (uint32_t)nslots;
        f->plain = 1;
        p++;
        p = skip_ws(p, end);
        if (p < end && *p == (in_obj ? '}' : ']')) {
            p++;
            goto close;
        }
        if (in_obj) {
            goto key;
        }
        goto value;
    case 't':
        if (end - p < 4 || memcmp(p, "true", 4) != 0) {
            jp_unexpected(&jp, p);
            goto fail;
        }
        v = jp_node(a, SMT_BOOL, p, 4);
        v->u.b = 1;
        p += 4;
        break;
    case 'f':
        if (end - p < 5 || memcmp(p, "false", 5) != 0) {
            jp_unexpected(&jp, p);
            goto fail;
        }
        v = jp_node(a, SMT_BOOL, p, 5);
        v->u.b = 0;
        p += 5;
        break;
    case 'n':
        if (end - p < 4 || memcmp(p, "null", 4) != 0) {
            jp_unexpected(&jp, p);
            goto fail;
        }
        v = jp_node(a, SMT_NULL, p, 4);
        v->u.i = 0;
        p += 4;
        break;
    default:
        if (*p == '-' || (unsigned)(*p - '0') <= 9) {
            v = jp_number(&jp, &p);
            if (v == NULL) {
                goto fail;
            }
            break;
        }
        jp_unexpected(&jp, p);
        goto fail;
    }

have_value:
    if (depth == 0) {
        root = v;
        p = skip_ws(p, end);
        if (p < end) {
            jp_unexpected(&jp, p);
            goto fail;
        }
        goto done;
    }
    if (in_obj) {
        slots[nslots - 1].val = v; /* the slot was pushed with its key */
    } else {
        if (nslots == capslots) {
            slots = jp_grow(slots, local, &capslots);
        }
        slots[nslots].key.ptr = NULL;
        slots[nslots].key.len = 0;
        slots[nslots++].val = v;
    }
    p = skip_ws(p, end);
    if (p >= end) {
        jp_unexpected(&jp, p);
        goto fail;
    }
    if (*p == ',') {
        p++;
        if (in_obj) {
            goto key;
        }
        goto value;
    }
    if (*p != (in_obj ? '}' : ']')) {
        jp_unexpected(&jp, p);
        goto fail;
    }
    p++;

close:
    f = &frames[depth - 1];
    {
        uint32_t        n = (uint32_t)(nslots - f->base);
        uint32_t        i;
        struct smt_val *c = f->v;

        c->rawlen = (size_t)(p - c->raw);
        if (c->type == SMT_OBJECT) {
            c->flags = f->plain ? SMT_VF_PLAINKEYS : 0;
            /* two spare slots: adding a field or two is the most common
             * change a transform makes */
            c->cap = n + 2;
            c->u.members = smt_arena_alloc(a, c->cap * sizeof(struct smt_member));
            memcpy(c->u.members, slots + f->base, n * sizeof(struct smt_member));
        } else {
            c->cap = n;
            c->u.items = n ? smt_arena_alloc(a, n * sizeof(struct smt_val *))
                           : NULL;
            for (i = 0; i < n; i++) {
                c->u.items[i] = slots[f->base + i].val;
            }
        }
        c->n = n;
        nslots = f->base;
        depth--;
        in_obj = depth > 0 && frames[depth - 1].v->type == SMT_OBJECT;
        v = c;
    }
    goto have_value;

key:
    if (SMT_UNLIKELY(p >= end || *p != '"')) {
        p = skip_ws(p, end);
        if (p >= end || *p != '"') {
            jp_unexpected(&jp, p);
            goto fail;
        }
    }
    if (nslots == capslots) {
        slots = jp_grow(slots, local, &capslots);
    }
    if (jp_string(&jp, &p, &slots[nslots].key) < 0) {
        goto fail;
    }
    if (slots[nslots].key.ptr[slots[nslots].key.len] != '"') {
        /* unescaped into the arena (a view ends at its closing quote):
         * the writer has to look at this object's keys */
        frames[depth - 1].plain = 0;
    }
    slots[nslots++].val = NULL;
    if (SMT_UNLIKELY(p >= end || *p != ':')) {
        p = skip_ws(p, end);
        if (p >= end || *p != ':') {
            jp_unexpected(&jp, p);
            goto fail;
        }
    }
    p++;
    goto value;

done:
    if (slots != local) {
        free(slots);
    }
    return root;

fail:
    if (slots != local) {
        free(slots);
    }
    return NULL;
}

/* ---------------------------------------------------------------------- */
/* Java number formatting                                                   */

/* Shortest decimal digits of |d| (as a float when is_float) that read back
 * to the same value: digits into dig (no dot, no trailing zeros), returns
 * their count, *e10 = exponent of the first digit (d = 0.dig * 10^(e10+1)).
 *
 * Integers below 2^53 (2^24 for floats) are their own shortest form: a
 * decimal with fewer significant digits differs from them by at least one,
 * more than half their spacing. Otherwise printf rounds correctly to a given
 * precision, so trying precisions upwards and keeping the first one that
 * reads back gives the shortest digits, nearest to d among those. For
 * normal numbers a decimal of 15 (float: 6) digits or fewer that reads back
 * is always what "%.15e" yields, so the search starts there. */
/* A power of two has a neighbour below it only half as far as the one
 * above, so the interval of decimals that read back to it is lopsided: the
 * nearest decimal of a length can lie just outside it on the narrow side
 * while the next one up, on the wide side, is inside. buf holds the nearest
 * ("d.ddde+x" with prec digits); tries the next one up and, if it reads
 * back, leaves it in buf as "dddde<exponent of the first digit>". */
static int next_up_digits(char *buf, int prec, double ax, float fx,
                          int is_float)
{
    uint64_t    n = 0;
    const char *q;
    int         e, nd = 0;
    char        up[40];

    for (q = buf; *q != 'e'; q++) {
        if (*q != '.') {
            n = n * 10 + (uint64_t)(*q - '0');
        }
    }
    e = atoi(q + 1) - (prec - 1); /* buf = n * 10^e */
    n++;
    snprintf(up, sizeof(up), "%" PRIu64 "e%d", n, e);
    if (is_float ? strtof(up, NULL) != fx : strtod(up, NULL) != ax) {
        return 0;
    }
    for (q = up; *q != 'e'; q++) {
        nd++;
    }
    snprintf(buf, 40, "%" PRIu64 "e%d", n, e + nd - 1);
    return 1;
}

static int shortest_digits(double d, int is_float, char *dig, int *e10)
{
    char   buf[40];
    double ax = fabs(d);
    float  fx = (float)ax;
    int    prec, maxp, nd, i;
    char  *q;

    if (ax < (is_float ? 16777216.0 : 9007199254740992.0) && ax == floor(ax)) {
        uint64_t u = (uint64_t)ax;
        char     tmp[24];
        int      n = 0;
        do {
            tmp[n++] = (char)('0' + u % 10);
            u /= 10;
        } while (u > 0);
        *e10 = n - 1;
        for (i = 0; i < n; i++) {
            dig[i] = tmp[n - 1 - i];
        }
        nd = n;
        goto strip;
    }
    /* Numbers with few decimals (most data): the smallest k for which
     * round(d * 10^k) / 10^k gives d back yields the shortest digits, and
     * the nearest ones for that k. While r stays far below 2^53 (2^24) and
     * 10^k is exact, the product is close enough to r for round() to find
     * it, and the division back is one correctly rounded operation. */
    if (ax >= 1e-7) {
        int k;
        for (k = 0; k <= (is_float ? 10 : 22); k++) {
            double t = ax * pow10_tab[k];
            double r;
            if (t >= (is_float ? 8388608.0 : 1125899906842624.0)) {
                break;
            }
            r = floor(t + 0.5);
            if (is_float ? (float)r / (float)pow10_tab[k] == fx
                         : r / pow10_tab[k] == ax) {
                uint64_t u = (uint64_t)r;
                char     tmp[24];
                int      n = 0;
                do {
                    tmp[n++] = (char)('0' + u % 10);
                    u /= 10;
                } while (u > 0);
                *e10 = n - 1 - k;
                for (i = 0; i < n; i++) {
                    dig[i] = tmp[n - 1 - i];
                }
                nd = n;
                goto strip;
            }
        }
    }
    if (is_float) {
        prec = fx >= FLT_MIN ? 6 : 1;
        maxp = 9;
    } else {
        prec = ax >= DBL_MIN ? 15 : 1;
        maxp = 17;
    }
    for (;; prec++) {
        snprintf(buf, sizeof(buf), "%.*e", prec - 1, ax);
        if (prec >= maxp) {
            break;
        }
        if (is_float ? strtof(buf, NULL) == fx : strtod(buf, NULL) == ax) {
            break;
        }
        if (frexp(ax, &i) == 0.5 && next_up_digits(buf, prec, ax, fx,
                                                    is_float)) {
            break;
        }
    }
    /* Java takes the closest of the one- and two-digit forms when one digit
     * suffices; only subnormals can have a closer two-digit form */
    if (prec == 1) {
        char two[40];
        snprintf(two, sizeof(two), "%.1e", ax);
        if (is_float ? strtof(two, NULL) == fx : strtod(two, NULL) == ax) {
            memcpy(buf, two, sizeof(two));
        }
    }
    nd = 0;
    for (q = buf; *q != 'e'; q++) {
        if (*q != '.') {
            dig[nd++] = *q;
        }
    }
    *e10 = atoi(q + 1);
strip:
    while (nd > 1 && dig[nd - 1] == '0') {
        nd--;
    }
    return nd;
}

/* The fast path of smt_fmt_java_double for a double in the plain-notation
 * range 1e-3 <= |d| < 1e7 with few decimals (most data): the same search
 * as in shortest_digits - the smallest k for which m = round(|d| * 10^k)
 * reads back as m / 10^k == |d| - writing m's digits straight into out
 * around the point. Returns the length, or 0 when it does not apply. */
static size_t fmt_plain_fast(char *out, double d)
{
    double   ax = fabs(d), t, r;
    uint64_t m, ip, fp, p10;
    int      k, nf;
    char     tmp[24], *o = out, *q;

    if (!(ax >= 1e-3 && ax < 1e7)) {
        return 0;
    }
    for (k = 0;; k++) {
        if (k > 17) {
            return 0;
        }
        t = ax * pow10_tab[k];
        if (t >= 1125899906842624.0) {
            return 0;
        }
        r = (double)(uint64_t)(t + 0.5); /* floor: t + 0.5 > 0 */
        if (r / pow10_tab[k] == ax) {
            break;
        }
    }
    m = (uint64_t)r;
    p10 = (uint64_t)pow10_tab[k];
    ip = m / p10;
    fp = m % p10;
    if (ip == 0 && fp < p10 / 1000) {
        return 0; /* below 1e-3 in digits: scientific notation */
    }
    if (signbit(d)) {
        *o++ = '-';
    }
    q = tmp + sizeof(tmp);
    do {
        *--q = (char)('0' + ip % 10);
        ip /= 10;
    } while (ip > 0);
    if (tmp + sizeof(tmp) - q > 7) {
        return 0; /* 1e7 or more in digits: scientific notation */
    }
    memcpy(o, q, (size_t)(tmp + sizeof(tmp) - q));
    o += tmp + sizeof(tmp) - q;
    *o++ = '.';
    if (fp == 0) {
        *o++ = '0';
    } else {
        nf = k;
        while (fp % 10 == 0) {
            fp /= 10;
            nf--;
        }
        for (q = o + nf; q > o;) {
            *--q = (char)('0' + fp % 10);
            fp /= 10;
        }
        o += nf;
    }
    *o = '\0';
    return (size_t)(o - out);
}

size_t smt_fmt_java_double(char *out, double d, int is_float)
{
    size_t n;

    if (!is_float && (n = fmt_plain_fast(out, d)) > 0) {
        return n;
    }
    return smt_fmt_java_double_ref(out, d, is_float);
}

size_t smt_fmt_java_double_ref(char *out, double d, int is_float)
{
    char  dig[24];
    int   nd, e10, i;
    char *o = out;

    if (is_float) {
        d = (float)d;
    }
    if (isnan(d)) {
        memcpy(out, "NaN", 4);
        return 3;
    }
    if (isinf(d)) {
        if (d < 0) {
            memcpy(out, "-Infinity", 10);
            return 9;
        }
        memcpy(out, "Infinity", 9);
        return 8;
    }
    dig[0] = '0'; /* always set below; this only quiets -Wmaybe-uninitialized */
    if (signbit(d)) {
        *o++ = '-';
    }
    if (d == 0) {
        memcpy(o, "0.0", 4);
        return (size_t)(o - out) + 3;
    }
    nd = shortest_digits(d, is_float, dig, &e10);
    if (e10 >= -3 && e10 < 7) {
        if (e10 >= 0) {
            for (i = 0; i <= e10; i++) {
                *o++ = i < nd ? dig[i] : '0';
            }
            *o++ = '.';
            if (nd > e10 + 1) {
                memcpy(o, dig + e10 + 1, (size_t)(nd - e10 - 1));
                o += nd - e10 - 1;
            } else {
                *o++ = '0';
            }
        } else {
            *o++ = '0';
            *o++ = '.';
            for (i = -1; i > e10; i--) {
                *o++ = '0';
            }
            memcpy(o, dig, (size_t)nd);
            o += nd;
        }
    } else {
        *o++ = dig[0];
        *o++ = '.';
        if (nd > 1) {
            memcpy(o, dig + 1, (size_t)(nd - 1));
            o += nd - 1;
        } else {
            *o++ = '0';
        }
        *o++ = 'E';
        o += sprintf(o, "%d", e10);
    }
    *o = '\0';
    return (size_t)(o - out);
}

/* ---------------------------------------------------------------------- */
/* Writer                                                                   */

/* Output cursor over either an smt_buf or a block in an arena. Room is
 * reserved before each write, so the inner loops store bytes directly. */
struct jw {
    char             *p, *end;
    char             *base; /* arena mode: start of the block */
    struct smt_buf   *b;    /* buffer mode, else NULL */
    struct smt_arena *a;
    struct smt_err   *err;
};

static void jw_grow(struct jw *w, size_t need)
{
    if (w->b != NULL) {
        w->b->len = (size_t)(w->p - w->b->ptr);
        smt_buf_reserve(w->b, need + 64);
        w->p = w->b->ptr + w->b->len;
        w->end = w->b->ptr + w->b->cap - 1; /* keep room for the NUL */
    } else {
        size_t used = (size_t)(w->p - w->base);
        size_t cap = (size_t)(w->end - w->base) * 2;
        char  *nb;
        if (cap < used + need + 64) {
            cap = used + need + 64;
        }
        if (w->base == w->a->cur) {
            /* writing in the free tail of the current chunk (see
             * smt_json_write_arena): claim all of it before asking the
             * arena for more, so the new block cannot overlap it */
            size_t tail = (size_t)(w->a->end - w->a->cur);
            w->a->cur = w->a->end;
            w->a->used += tail;
        }
        nb = smt_arena_alloc(w->a, cap);
        memcpy(nb, w->base, used);
        w->base = nb;
        w->p = nb + used;
        w->end = nb + cap - 1;
    }
}

static inline void jw_reserve(struct jw *w, size_t n)
{
    if (SMT_UNLIKELY((size_t)(w->end - w->p) < n)) {
        jw_grow(w, n);
    }
}

/* memcpy for the short runs JSON is made of (keys, numbers, small raw
 * values): fixed-size copies compile to plain moves, overlapping ones cover
 * every length up to 16 without reading outside src[0..n). */
static inline void small_copy(char *d, const char *s, size_t n)
{
    if (n >= 8 && n <= 16) {
        memcpy(d, s, 8);
        memcpy(d + n - 8, s + n - 8, 8);
    } else if (n >= 4 && n < 8) {
        memcpy(d, s, 4);
        memcpy(d + n - 4, s + n - 4, 4);
    } else if (n < 4) {
        if (n > 0) {
            d[0] = s[0];
            d[n / 2] = s[n / 2];
            d[n - 1] = s[n - 1];
        }
    } else {
        memcpy(d, s, n);
    }
}

static inline void jw_mem(struct jw *w, const void *s, size_t n)
{
    jw_reserve(w, n);
    small_copy(w->p, s, n);
    w->p += n;
}

static inline void jw_c(struct jw *w, char c)
{
    jw_reserve(w, 1);
    *w->p++ = c;
}

static void jw_int(struct jw *w, int64_t i)
{
    char     tmp[24];
    char    *t = tmp + sizeof(tmp);
    uint64_t u = i < 0 ? (uint64_t)0 - (uint64_t)i : (uint64_t)i;

    do {
        *--t = (char)('0' + u % 10);
        u /= 10;
    } while (u > 0);
    if (i < 0) {
        *--t = '-';
    }
    jw_mem(w, t, (size_t)(tmp + sizeof(tmp) - t));
}

/* 1 for bytes that must be escaped in a JSON string */
/* The writer stops at the same bytes the parser's string scan does
 * (str_stop, swar_stop): control characters, '"', '\\' and every non-ASCII
 * byte, whose UTF-8 is checked so the writer never emits invalid UTF-8. */

/* True when s[0..len), len <= 16, needs no escape: keys and short values,
 * most of what a changed object holds, checked with one or two loads. */
static inline int short_plain(const char *s, size_t len)
{
    uint64_t x, y;
    uint32_t u, v;

    if (len >= 8) {
        memcpy(&x, s, 8);
        memcpy(&y, s + len - 8, 8);
        return (swar_stop(x) | swar_stop(y)) == 0;
    }
    if (len >= 4) {
        memcpy(&u, s, 4);
        memcpy(&v, s + len - 4, 4);
        return swar_stop((uint64_t)u | ((uint64_t)v << 32)) == 0;
    }
    return (len < 1 || !str_stop[(unsigned char)s[0]]) &&
           (len < 2 || !str_stop[(unsigned char)s[1]]) &&
           (len < 3 || !str_stop[(unsigned char)s[2]]);
}

/* The general case of jw_str: long strings and strings with escapes. */
#if defined(__GNUC__)
__attribute__((noinline))
#endif
static void jw_str_slow(struct jw *w, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    const char       *e = s + len;

    jw_reserve(w, len + 2);
    *w->p++ = '"';
    while (s < e) {
        const char   *r = s;
        unsigned char c;
        while (e - r >= 8) {
            uint64_t x;
            memcpy(&x, r, 8);
            if (swar_stop(x)) {
                break;
            }
            r += 8;
        }
        while (r < e && !str_stop[(unsigned char)*r]) {
            r++;
        }
        if (r > s) {
            small_copy(w->p, s, (size_t)(r - s));
            w->p += r - s;
            s = r;
            if (s == e) {
                break;
            }
        }
        c = (unsigned char)*s;
        if (c >= 0x80) {
            /* Valid UTF-8 goes out as it is; an invalid byte becomes
             * U+FFFD, as Java's decoder would make it: output must parse. */
            size_t n = utf8_len((const unsigned char *)s,
                                (const unsigned char *)e);

            jw_reserve(w, 6 + (size_t)(e - s) + 1);
            if (n > 0) {
                memcpy(w->p, s, n);
                w->p += n;
                s += n;
            } else {
                memcpy(w->p, "\\ufffd", 6);
                w->p += 6;
                s++;
            }
            continue;
        }
        s++;
        jw_reserve(w, 6 + (size_t)(e - s) + 1);
        *w->p++ = '\\';
        switch (c) {
        case '"': *w->p++ = '"'; break;
        case '\\': *w->p++ = '\\'; break;
        case '\b': *w->p++ = 'b'; break;
        case '\f': *w->p++ = 'f'; break;
        case '\n': *w->p++ = 'n'; break;
        case '\r': *w->p++ = 'r'; break;
        case '\t': *w->p++ = 't'; break;
        default:
            *w->p++ = 'u';
            *w->p++ = '0';
            *w->p++ = '0';
            *w->p++ = hex[c >> 4];
            *w->p++ = hex[c & 15];
            break;
        }
    }
    *w->p++ = '"';
}

/* Appends s as a JSON string: short plain strings (keys, most values)
 * inline, the rest in jw_str_slow. */
static JP_INLINE void jw_str(struct jw *w, const char *s, size_t len)
{
    if (len <= 16 && short_plain(s, len)) {
        jw_reserve(w, len + 2);
        *w->p = '"';
        small_copy(w->p + 1, s, len);
        w->p[len + 1] = '"';
        w->p += len + 2;
        return;
    }
    jw_str_slow(w, s, len);
}

static const char b64_alpha[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* base64 of p[0..len) into exactly (len + 2) / 3 * 4 bytes at o */
static char *b64_put(char *o, const unsigned char *p, size_t len)
{
    size_t i;

    for (i = 0; i + 3 <= len; i += 3) {
        uint32_t v = ((uint32_t)p[i] << 16) | ((uint32_t)p[i + 1] << 8) |
                     p[i + 2];
        *o++ = b64_alpha[v >> 18];
        *o++ = b64_alpha[(v >> 12) & 63];
        *o++ = b64_alpha[(v >> 6) & 63];
        *o++ = b64_alpha[v & 63];
    }
    if (len - i == 1) {
        uint32_t v = (uint32_t)p[i] << 16;
        *o++ = b64_alpha[v >> 18];
        *o++ = b64_alpha[(v >> 12) & 63];
        *o++ = '=';
        *o++ = '=';
    } else if (len - i == 2) {
        uint32_t v = ((uint32_t)p[i] << 16) | ((uint32_t)p[i + 1] << 8);
        *o++ = b64_alpha[v >> 18];
        *o++ = b64_alpha[(v >> 12) & 63];
        *o++ = b64_alpha[(v >> 6) & 63];
        *o++ = '=';
    }
    return o;
}

static void jw_b64str(struct jw *w, const unsigned char *p, size_t len)
{
    jw_reserve(w, (len + 2) / 3 * 4 + 2);
    *w->p++ = '"';
    w->p = b64_put(w->p, p, len);
    *w->p++ = '"';
}

static int jw_float(struct jw *w, double d, int is_float)
{
    char tmp[40];

    if (!isfinite(d)) {
        return smt_err_set(w->err, SMT_E_DATA,
                           "cannot write %s as a JSON number",
                           isnan(d) ? "NaN" : "Infinity");
    }
    jw_mem(w, tmp, smt_fmt_java_double(tmp, d, is_float));
    return 0;
}

#define JW_MAX_DEPTH (2 * SMT_JSON_MAX_DEPTH)

static int jw_value(struct jw *w, const struct smt_val *v, int depth)
{
    uint32_t i;

    if (v == NULL) {
        jw_mem(w, "null", 4);
        return 0;
    }
    if (v->raw != NULL) {
        jw_mem(w, v->raw, v->rawlen);
        return 0;
    }
    switch (v->type) {
    case SMT_NULL:
        jw_mem(w, "null", 4);
        return 0;
    case SMT_BOOL:
        if (v->u.b) {
            jw_mem(w, "true", 4);
        } else {
            jw_mem(w, "false", 5);
        }
        return 0;
    case SMT_INT8:
    case SMT_INT16:
    case SMT_INT32:
    case SMT_INT64:
    case SMT_DATE:
        jw_int(w, v->u.i);
        return 0;
    case SMT_FLOAT32:
        return jw_float(w, v->u.d, 1);
    case SMT_FLOAT64:
        if ((v->flags & SMT_VF_BIGINT) && isfinite(v->u.d)) {
            char tmp[400];
            int  n = snprintf(tmp, sizeof(tmp), "%.0f", v->u.d);
            jw_mem(w, tmp, (size_t)n);
            return 0;
        }
        return jw_float(w, v->u.d, 0);
    case SMT_STRING:
        jw_str(w, v->u.s.ptr, v->u.s.len);
        return 0;
    case SMT_BYTES:
        jw_b64str(w, (const unsigned char *)v->u.s.ptr, v->u.s.len);
        return 0;
    case SMT_DECIMAL:
        jw_mem(w, v->u.s.ptr, v->u.s.len);
        return 0;
    case SMT_ARRAY:
    case SMT_OBJECT:
        if (depth >= JW_MAX_DEPTH) {
            return smt_err_set(w->err, SMT_E_LIMIT,
                               "value nested deeper than %d levels",
                               JW_MAX_DEPTH);
        }
        if (v->type == SMT_OBJECT) {
            jw_c(w, '{');
            for (i = 0; i < v->n; i++) {
                const struct smt_member *m = &v->u.members[i];

                if ((v->flags & SMT_VF_PLAINKEYS) && m->val != NULL &&
                    m->val->raw != NULL) {
                    /* the most common member of all: a plain key and an
                     * unchanged value, written through a local cursor (the
                     * compiler must assume a store through w->p may change
                     * w itself) */
                    size_t kl = m->key.len, rl = m->val->rawlen;
                    char  *o;

                    jw_reserve(w, kl + rl + 4);
                    o = w->p;
                    if (i > 0) {
                        *o++ = ',';
                    }
                    *o = '"';
                    small_copy(o + 1, m->key.ptr, kl);
                    o[kl + 1] = '"';
                    o[kl + 2] = ':';
                    o += kl + 3;
                    small_copy(o, m->val->raw, rl);
                    w->p = o + rl;
                    continue;
                }
                if (i > 0) {
                    jw_c(w, ',');
                }
                if (v->flags & SMT_VF_PLAINKEYS) {
                    /* known to need no escape (val.h) */
                    jw_reserve(w, m->key.len + 2);
                    *w->p = '"';
                    small_copy(w->p + 1, m->key.ptr, m->key.len);
                    w->p[m->key.len + 1] = '"';
                    w->p += m->key.len + 2;
                } else {
                    jw_str(w, m->key.ptr, m->key.len);
                }
                if (m->val != NULL && m->val->raw != NULL) {
                    /* the common case: an unchanged member */
                    jw_reserve(w, m->val->rawlen + 1);
                    *w->p++ = ':';
                    small_copy(w->p, m->val->raw, m->val->rawlen);
                    w->p += m->val->rawlen;
                    continue;
                }
                jw_c(w, ':');
                if (jw_value(w, m->val, depth + 1) < 0) {
                    return -1;
                }
            }
            jw_c(w, '}');
            return 0;
        }
        jw_c(w, '[');
        for (i = 0; i < v->n; i++) {
            if (i > 0) {
                jw_c(w, ',');
            }
            if (jw_value(w, v->u.items[i], depth + 1) < 0) {
                return -1;
            }
        }
        jw_c(w, ']');
        return 0;
    default:
        return smt_err_set(w->err, SMT_E_DATA, "cannot write value of type %d",
                           v->type);
    }
}

/* Output size of v, exact for unchanged parts and a close guess for the
 * rest, so that writing into the arena needs one block. */
static size_t jw_estimate(const struct smt_val *v, int depth)
{
    size_t   n;
    uint32_t i;

    if (v == NULL || v->raw != NULL) {
        return v ? v->rawlen : 4;
    }
    switch (v->type) {
    case SMT_STRING:
        return v->u.s.len + v->u.s.len / 8 + 8;
    case SMT_BYTES:
        return (v->u.s.len + 2) / 3 * 4 + 2;
    case SMT_DECIMAL:
        return v->u.s.len;
    case SMT_ARRAY:
    case SMT_OBJECT:
        if (depth > 16) {
            return 64;
        }
        n = 2 + v->n;
        for (i = 0; i < v->n; i++) {
            if (v->type == SMT_OBJECT) {
                n += v->u.members[i].key.len + 3 +
                     jw_estimate(v->u.members[i].val, depth + 1);
            } else {
                n += jw_estimate(v->u.items[i], depth + 1);
            }
        }
        return n;
    default:
        return 24;
    }
}

int smt_json_write(struct smt_buf *b, const struct smt_val *v,
                   struct smt_err *err)
{
    struct jw w;
    size_t    len0 = b->len;
    int       rc;

    smt_buf_reserve(b, v && v->raw ? v->rawlen : 256);
    w.b = b;
    w.a = NULL;
    w.base = NULL;
    w.err = err;
    w.p = b->ptr + b->len;
    w.end = b->ptr + b->cap - 1;
    rc = jw_value(&w, v, 0);
    b->len = rc < 0 ? len0 : (size_t)(w.p - b->ptr);
    b->ptr[b->len] = '\0';
    return rc;
}

int smt_json_write_arena(struct smt_arena *a, const struct smt_val *v,
                         struct smt_bytes *out, struct smt_err *err)
{
    struct jw w;
    size_t    cap;

    if (v != NULL && v->raw != NULL) {
        /* unchanged: the source text itself, which outlives the arena */
        out->ptr = v->raw;
        out->len = v->rawlen;
        return 0;
    }
    w.b = NULL;
    w.a = a;
    w.err = err;
    if (a->cur != NULL && (size_t)(a->end - a->cur) >= 512) {
        /* Write straight into the free tail of the arena's current chunk
         * and claim only what was used afterwards: no size estimate, no
         * copy. Nothing else allocates from the arena meanwhile. */
        w.base = w.p = a->cur;
        w.end = a->end - 1;
    } else {
        cap = jw_estimate(v, 0) + 64;
        w.base = w.p = smt_arena_alloc(a, cap);
        w.end = w.base + cap - 1;
    }
    if (jw_value(&w, v, 0) < 0) {
        return -1;
    }
    *w.p = '\0';
    out->ptr = w.base;
    out->len = (size_t)(w.p - w.base);
    if (w.base == a->cur) {
        size_t n = (out->len + 1 + 7u) & ~(size_t)7u;
        a->cur += n;
        a->used += n;
    }
    return 0;
}

void smt_json_write_str(struct smt_buf *b, const char *s, size_t len)
{
    struct jw w;

    smt_buf_reserve(b, len + 2);
    w.b = b;
    w.a = NULL;
    w.base = NULL;
    w.err = NULL;
    w.p = b->ptr + b->len;
    w.end = b->ptr + b->cap - 1;
    jw_str(&w, s, len);
    b->len = (size_t)(w.p - b->ptr);
    b->ptr[b->len] = '\0';
}

/* ---------------------------------------------------------------------- */
/* base64                                                                   */

void smt_base64_encode(struct smt_buf *b, const unsigned char *p, size_t len)
{
    size_t n = (len + 2) / 3 * 4;

    smt_buf_reserve(b, n);
    b64_put(b->ptr + b->len, p, len);
    b->len += n;
    b->ptr[b->len] = '\0';
}

static int b64_val(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }
    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    }
    if (c >= '0' && c <= '9') {
        return c - '0' + 52;
    }
    if (c == '+') {
        return 62;
    }
    if (c == '/') {
        return 63;
    }
    return -1;
}

int smt_base64_decode(struct smt_arena *a, const char *p, size_t len,
                      struct smt_bytes *out, struct smt_err *err)
{
    char  *buf, *o;
    size_t i, pad = 0;

    if (len % 4 != 0) {
        return smt_err_set(err, SMT_E_DATA,
                           "invalid base64: length %zu is not a multiple of 4",
                           len);
    }
    if (len > 0 && p[len - 1] == '=') {
        pad = (len > 1 && p[len - 2] == '=') ? 2 : 1;
    }
    buf = o = smt_arena_alloc(a, len / 4 * 3 + 1);
    for (i = 0; i < len; i += 4) {
        int      k, d[4];
        uint32_t v;
        int      last = i + 4 == len;
        for (k = 0; k < 4; k++) {
            if (last && k >= 4 - (int)pad) {
                d[k] = 0;
                continue;
            }
            d[k] = b64_val((unsigned char)p[i + (size_t)k]);
            if (d[k] < 0) {
                return smt_err_set(err, SMT_E_DATA,
                                   "invalid base64: bad character at offset %zu",
                                   i + (size_t)k);
            }
        }
        v = ((uint32_t)d[0] << 18) | ((uint32_t)d[1] << 12) |
            ((uint32_t)d[2] << 6) | (uint32_t)d[3];
        *o++ = (char)(v >> 16);
        if (!last || pad < 2) {
            *o++ = (char)((v >> 8) & 0xFF);
        }
        if (!last || pad < 1) {
            *o++ = (char)(v & 0xFF);
        }
    }
    *o = '\0';
    out->ptr = buf;
    out->len = (size_t)(o - buf);
    return 0;
}

/* ---------------------------------------------------------------------- */
/* Connect's JSON envelope                                                  */

enum { LK_NONE, LK_DECIMAL, LK_DATE, LK_TIME, LK_TIMESTAMP };

#define MS_PER_DAY 86400000LL

/* Connect picks the logical converter by schema name alone. */
static int logical_kind(const struct smt_schema *s)
{
    if (s->name == NULL) {
        return LK_NONE;
    }
    if (strcmp(s->name, SMT_LOGICAL_DECIMAL) == 0) {
        return LK_DECIMAL;
    }
    if (strcmp(s->name, SMT_LOGICAL_DATE) == 0) {
        return LK_DATE;
    }
    if (strcmp(s->name, SMT_LOGICAL_TIME) == 0) {
        return LK_TIME;
    }
    if (strcmp(s->name, SMT_LOGICAL_TIMESTAMP) == 0) {
        return LK_TIMESTAMP;
    }
    return LK_NONE;
}

/* Connect's Schema.Type name of s ("INT32", "STRUCT"). */
static const char *schema_type_name(const struct smt_schema *s)
{
    switch (s->type) {
    case SMT_BOOL: return "BOOLEAN";
    case SMT_INT8: return "INT8";
    case SMT_INT16: return "INT16";
    case SMT_INT32: return "INT32";
    case SMT_INT64: return "INT64";
    case SMT_FLOAT32: return "FLOAT32";
    case SMT_FLOAT64: return "FLOAT64";
    case SMT_STRING: return "STRING";
    case SMT_BYTES: return "BYTES";
    case SMT_ARRAY: return "ARRAY";
    case SMT_OBJECT: return s->is_map ? "MAP" : "STRUCT";
    default: return "UNKNOWN";
    }
}

/* Jackson's JsonNodeType name of a parsed node, used in Connect messages. */
static const char *node_type_name(const struct smt_val *v)
{
    if (v == NULL) {
        return "MISSING";
    }
    switch (v->type) {
    case SMT_NULL: return "NULL";
    case SMT_BOOL: return "BOOLEAN";
    case SMT_STRING: return "STRING";
    case SMT_BYTES: return "BINARY";
    case SMT_ARRAY: return "ARRAY";
    case SMT_OBJECT: return "OBJECT";
    default: return "NUMBER";
    }
}

static const struct {
    const char *name;
    uint8_t     type;
} schema_types[] = {
    {"boolean", SMT_BOOL},   {"int8", SMT_INT8},      {"int16", SMT_INT16},
    {"int32", SMT_INT32},    {"int64", SMT_INT64},    {"float", SMT_FLOAT32},
    {"double", SMT_FLOAT64}, {"bytes", SMT_BYTES},    {"string", SMT_STRING},
    {"array", SMT_ARRAY},    {"map", SMT_OBJECT},     {"struct", SMT_OBJECT},
};

static const char *schema_json_type(const struct smt_schema *s)
{
    size_t i;

    if (s->type == SMT_OBJECT) {
        return s->is_map ? "map" : "struct";
    }
    for (i = 0; i < sizeof(schema_types) / sizeof(schema_types[0]); i++) {
        if (schema_types[i].type == s->type) {
            return schema_types[i].name;
        }
    }
    return "unknown";
}

static struct smt_val *member(const struct smt_val *obj, const char *name)
{
    if (obj == NULL || obj->type != SMT_OBJECT) {
        return NULL;
    }
    return smt_obj_get(obj, name, strlen(name));
}

static const char *bytes_dup(struct smt_arena *a, struct smt_bytes b)
{
    return smt_arena_memdup(a, b.ptr, b.len);
}

static struct smt_val *env_convert(struct smt_arena *a,
                                   const struct smt_schema *s,
                                   const struct smt_val *v,
                                   struct smt_err *err);

struct smt_schema *smt_schema_from_json(struct smt_arena *a,
                                        const struct smt_val *node,
                                        struct smt_err *err)
{
    struct smt_schema *s;
    struct smt_val    *t, *x;
    size_t             i;
    uint32_t           k;

    t = member(node, "type");
    if (t == NULL || t->type != SMT_STRING) {
        smt_err_set(err, SMT_E_DATA, "Schema must contain 'type' field");
        return NULL;
    }
    s = smt_arena_calloc(a, sizeof(*s));
    for (i = 0; i < sizeof(schema_types) / sizeof(schema_types[0]); i++) {
        if (smt_bytes_eqs(t->u.s, schema_types[i].name)) {
            s->type = schema_types[i].type;
            s->is_map = smt_bytes_eqs(t->u.s, "map");
            break;
        }
    }
    if (i == sizeof(schema_types) / sizeof(schema_types[0])) {
        smt_err_set(err, SMT_E_DATA, "Unknown schema type: %.*s",
                    (int)(t->u.s.len > 100 ? 100 : t->u.s.len), t->u.s.ptr);
        return NULL;
    }
    if (s->type == SMT_ARRAY) {
        x = member(node, "items");
        if (x == NULL || x->type == SMT_NULL) {
            smt_err_set(err, SMT_E_DATA,
                        "Array schema did not specify the element type");
            return NULL;
        }
        if ((s->items = smt_schema_from_json(a, x, err)) == NULL) {
            return NULL;
        }
    } else if (s->type == SMT_OBJECT && s->is_map) {
        x = member(node, "keys");
        if (x == NULL || x->type == SMT_NULL) {
            smt_err_set(err, SMT_E_DATA,
                        "Map schema did not specify the key type");
            return NULL;
        }
        if ((s->keys = smt_schema_from_json(a, x, err)) == NULL) {
            return NULL;
        }
        x = member(node, "values");
        if (x == NULL || x->type == SMT_NULL) {
            smt_err_set(err, SMT_E_DATA,
                        "Map schema did not specify the value type");
            return NULL;
        }
        if ((s->values = smt_schema_from_json(a, x, err)) == NULL) {
            return NULL;
        }
    } else if (s->type == SMT_OBJECT) {
        x = member(node, "fields");
        if (x == NULL || x->type != SMT_ARRAY) {
            smt_err_set(err, SMT_E_DATA,
                        "Struct schema's \"fields\" argument is not an array.");
            return NULL;
        }
        s->nfields = x->n;
        s->fields = smt_arena_calloc(a, (x->n ? x->n : 1) * sizeof(*s->fields));
        for (k = 0; k < x->n; k++) {
            struct smt_val *fn = member(x->u.items[k], "field");
            if (fn == NULL || fn->type != SMT_STRING) {
                smt_err_set(err, SMT_E_DATA, "Struct schema's field name not "
                            "specified properly");
                return NULL;
            }
            s->fields[k].name.ptr = bytes_dup(a, fn->u.s);
            s->fields[k].name.len = fn->u.s.len;
            s->fields[k].schema = smt_schema_from_json(a, x->u.items[k], err);
            if (s->fields[k].schema == NULL) {
                return NULL;
            }
        }
    }
    x = member(node, "optional");
    s->optional = x != NULL && x->type == SMT_BOOL && x->u.b;
    x = member(node, "name");
    if (x != NULL && x->type == SMT_STRING) {
        s->name = bytes_dup(a, x->u.s);
    }
    x = member(node, "version");
    if (x != NULL && x->type == SMT_INT64) {
        s->version = (int32_t)x->u.i;
    }
    x = member(node, "doc");
    if (x != NULL && x->type == SMT_STRING) {
        s->doc = bytes_dup(a, x->u.s);
    }
    x = member(node, "parameters");
    if (x != NULL && x->type == SMT_OBJECT) {
        for (k = 0; k < x->n; k++) {
            if (x->u.members[k].val->type != SMT_STRING) {
                smt_err_set(err, SMT_E_DATA,
                            "Schema parameters must have string values.");
                return NULL;
            }
        }
        s->params = x;
    }
    x = member(node, "default");
    if (x != NULL) {
        s->def = env_convert(a, s, x, err);
        if (s->def == NULL) {
            return NULL;
        }
        if (s->def->type == SMT_NULL) {
            s->def = NULL; /* an optional schema's null default: none */
        }
    }
    return s;
}

static int decimal_scale(const struct smt_schema *s, int *scale,
                         struct smt_err *err)
{
    struct smt_val *p = s->params ? member(s->params, "scale") : NULL;
    char            buf[16];
    char           *end;
    long            l;

    if (p == NULL || p->type != SMT_STRING) {
        return smt_err_set(err, SMT_E_DATA,
                           "Invalid Decimal schema: scale parameter not found.");
    }
    if (p->u.s.len == 0 || p->u.s.len >= sizeof(buf)) {
        goto bad;
    }
    memcpy(buf, p->u.s.ptr, p->u.s.len);
    buf[p->u.s.len] = '\0';
    l = strtol(buf, &end, 10);
    if (*end != '\0' || buf[0] == ' ' || l < INT32_MIN || l > INT32_MAX) {
        goto bad;
    }
    *scale = (int)l;
    return 0;
bad:
    return smt_err_set(err, SMT_E_DATA,
                       "Invalid scale parameter found in Decimal schema: ");
}


/* True when a converted child still has the source child's text, so the
 * container around it may keep its own. */
static int kept_raw(const struct smt_val *res, const struct smt_val *src)
{
    return res != NULL && src != NULL && res->raw != NULL &&
           res->raw == src->raw;
}

static struct smt_val *env_mismatch(const struct smt_schema *s,
                                    const struct smt_val *v,
                                    struct smt_err *err)
{
    smt_err_set(err, SMT_E_DATA, "Invalid value for %s schema: JSON %s",
                schema_type_name(s), node_type_name(v));
    return NULL;
}

/* Connect's convertToConnect: the JSON node v (NULL = absent) as a value of
 * schema s. Scalars that keep their JSON form keep `raw`. */
static struct smt_val *env_convert(struct smt_arena *a,
                                   const struct smt_schema *s,
                                   const struct smt_val *v,
                                   struct smt_err *err)
{
    struct smt_val  *r;
    struct smt_bytes bin;
    uint32_t         i;
    int              keep, scale;

    if (v == NULL || v->type == SMT_NULL) {
        if (s->def != NULL) {
            return smt_val_clone(a, s->def);
        }
        if (s->optional) {
            return smt_val_null(a);
        }
        smt_err_set(err, SMT_E_DATA, "Invalid null value for required %s field",
                    schema_type_name(s));
        return NULL;
    }
    switch (logical_kind(s)) {
    case LK_DECIMAL:
        if (v->type == SMT_INT64 || v->type == SMT_FLOAT64) {
            return smt_val_str(a, SMT_DECIMAL, v->raw, v->rawlen);
        }
        if (v->type != SMT_STRING) {
            smt_err_set(err, SMT_E_DATA, "Invalid type for Decimal, underlying "
                        "representation should be numeric or bytes but was %s",
                        node_type_name(v));
            return NULL;
        }
        if (decimal_scale(s, &scale, err) < 0) {
            return NULL;
        }
        if (smt_base64_decode(a, v->u.s.ptr, v->u.s.len, &bin, NULL) < 0 ||
            bin.len == 0) {
            smt_err_set(err, SMT_E_DATA, "Invalid bytes for Decimal field");
            return NULL;
        }
        return smt_decimal_from_unscaled(a, (const unsigned char *)bin.ptr,
                                         bin.len, scale);
    case LK_DATE:
    case LK_TIME:
        if (v->type != SMT_INT64 || v->u.i < INT32_MIN || v->u.i > INT32_MAX) {
            smt_err_set(err, SMT_E_DATA, "Invalid type for %s, underlying "
                        "representation should be integer but was %s",
                        logical_kind(s) == LK_DATE ? "Date" : "Time",
                        node_type_name(v));
            return NULL;
        }
        return smt_val_int(a, SMT_DATE, logical_kind(s) == LK_DATE
                                            ? v->u.i * MS_PER_DAY
                                            : v->u.i);
    case LK_TIMESTAMP:
        if (v->type != SMT_INT64) {
            smt_err_set(err, SMT_E_DATA, "Invalid type for Timestamp, "
                        "underlying representation should be integral but "
                        "was %s", node_type_name(v));
            return NULL;
        }
        return smt_val_int(a, SMT_DATE, v->u.i);
    default:
        break;
    }
    switch (s->type) {
    case SMT_BOOL:
        if (v->type != SMT_BOOL) {
            return env_mismatch(s, v, err);
        }
        r = smt_val_bool(a, v->u.b);
        break;
    case SMT_INT8:
    case SMT_INT16:
    case SMT_INT32:
    case SMT_INT64:
        if (v->type != SMT_INT64) {
            return env_mismatch(s, v, err);
        }
        /* Java's narrowing casts wrap */
        r = smt_val_int(a, s->type,
                        s->type == SMT_INT8    ? (int64_t)(int8_t)v->u.i
                        : s->type == SMT_INT16 ? (int64_t)(int16_t)v->u.i
                        : s->type == SMT_INT32 ? (int64_t)(int32_t)v->u.i
                                               : v->u.i);
        if (r->u.i != v->u.i) {
            return r; /* the text no longer says what the value is */
        }
        break;
    case SMT_FLOAT32:
    case SMT_FLOAT64:
        if (v->type != SMT_INT64 && v->type != SMT_FLOAT64) {
            return env_mismatch(s, v, err);
        }
        r = smt_val_float(a, s->type, v->type == SMT_INT64 ? (double)v->u.i
                                                           : v->u.d);
        break;
    case SMT_STRING:
        if (v->type != SMT_STRING) {
            return env_mismatch(s, v, err);
        }
        r = smt_val_str(a, SMT_STRING, v->u.s.ptr, v->u.s.len);
        break;
    case SMT_BYTES:
        if (v->type != SMT_STRING ||
            smt_base64_decode(a, v->u.s.ptr, v->u.s.len, &bin, NULL) < 0) {
            smt_err_set(err, SMT_E_DATA, "Invalid bytes field");
            return NULL;
        }
        r = smt_val_str(a, SMT_BYTES, bin.ptr, bin.len);
        break;
    case SMT_ARRAY:
        if (v->type != SMT_ARRAY) {
            return env_mismatch(s, v, err);
        }
        r = smt_val_array(a, v->n);
        keep = 1;
        for (i = 0; i < v->n; i++) {
            struct smt_val *e = env_convert(a, s->items, v->u.items[i], err);
            if (e == NULL) {
                return NULL;
            }
            keep &= kept_raw(e, v->u.items[i]);
            r->u.items[r->n++] = e;
        }
        if (!keep) {
            return r;
        }
        break;
    case SMT_OBJECT:
        if (s->is_map && s->keys->type == SMT_STRING && s->keys->name == NULL) {
            if (v->type != SMT_OBJECT) {
                smt_err_set(err, SMT_E_DATA, "Maps with string fields should be "
                            "encoded as JSON objects, but found %s",
                            node_type_name(v));
                return NULL;
            }
            r = smt_val_object(a, v->n);
            keep = 1;
            for (i = 0; i < v->n; i++) {
                struct smt_val *e = env_convert(a, s->values,
                                                v->u.members[i].val, err);
                if (e == NULL) {
                    return NULL;
                }
                keep &= kept_raw(e, v->u.members[i].val);
                r->u.members[r->n].key = v->u.members[i].key;
                r->u.members[r->n++].val = e;
            }
        } else if (s->is_map) {
            /* non-string keys: an array of [key, value] pairs; the key is
             * kept as its JSON text so the map stays a string-keyed object */
            if (v->type != SMT_ARRAY) {
                smt_err_set(err, SMT_E_DATA, "Maps with non-string fields "
                            "should be encoded as JSON array of tuples, but "
                            "found %s", node_type_name(v));
                return NULL;
            }
            r = smt_val_object(a, v->n);
            keep = 0;
            for (i = 0; i < v->n; i++) {
                const struct smt_val *t = v->u.items[i];
                struct smt_val       *k, *e;
                if (t->type != SMT_ARRAY) {
                    smt_err_set(err, SMT_E_DATA, "Found invalid map entry "
                                "instead of array tuple: %s", node_type_name(t));
                    return NULL;
                }
                if (t->n != 2) {
                    smt_err_set(err, SMT_E_DATA, "Found invalid map entry, "
                                "expected length 2 but found :%u", t->n);
                    return NULL;
                }
                k = env_convert(a, s->keys, t->u.items[0], err);
                e = k ? env_convert(a, s->values, t->u.items[1], err) : NULL;
                if (e == NULL) {
                    return NULL;
                }
                r->u.members[r->n].key.ptr = t->u.items[0]->raw;
                r->u.members[r->n].key.len = t->u.items[0]->rawlen;
                r->u.members[r->n++].val = e;
            }
        } else {
            if (v->type != SMT_OBJECT) {
                smt_err_set(err, SMT_E_DATA, "Structs should be encoded as "
                            "JSON objects, but found %s", node_type_name(v));
                return NULL;
            }
            r = smt_val_object(a, s->nfields);
            keep = v->n == s->nfields;
            for (i = 0; i < s->nfields; i++) {
                const struct smt_field *f = &s->fields[i];
                struct smt_val *src = smt_obj_get(v, f->name.ptr, f->name.len);
                struct smt_val *e = env_convert(a, f->schema, src, err);
                if (e == NULL) {
                    return NULL;
                }
                keep = keep && kept_raw(e, src) &&
                       smt_bytes_eq(v->u.members[i].key, f->name);
                r->u.members[r->n].key = f->name;
                r->u.members[r->n++].val = e;
            }
        }
        if (!keep) {
            return r;
        }
        break;
    default:
        return env_mismatch(s, v, err);
    }
    r->raw = v->raw;
    r->rawlen = v->rawlen;
    return r;
}

struct smt_val *smt_envelope_decode(struct smt_arena *a, struct smt_val *root,
                                    const struct smt_schema **schema,
                                    struct smt_err *err)
{
    struct smt_val    *sn, *pn;
    struct smt_schema *s;

    if (schema != NULL) {
        *schema = NULL;
    }
    sn = member(root, "schema");
    pn = member(root, "payload");
    if (root == NULL || root->type != SMT_OBJECT || root->n != 2 ||
        sn == NULL || pn == NULL) {
        smt_err_set(err, SMT_E_DATA,
                    "JsonConverter with schemas.enable requires \"schema\" and "
                    "\"payload\" fields and may not contain additional fields. "
                    "If you are trying to deserialize plain JSON data, set "
                    "schemas.enable=false in your converter configuration.");
        return NULL;
    }
    if (sn->type == SMT_NULL) {
        return pn; /* schemaless payload: the parsed tree as it is */
    }
    if ((s = smt_schema_from_json(a, sn, err)) == NULL) {
        return NULL;
    }
    if (schema != NULL) {
        *schema = s;
    }
    return env_convert(a, s, pn, err);
}

/* A Decimal in the envelope: its unscaled bytes, base64 in a string. */
static int decimal_write(struct jw *w, const struct smt_schema *s,
                         const struct smt_val *v)
{
    size_t         cap = SMT_DECIMAL_UNSCALED_CAP(v->u.s.len);
    unsigned char *mag;
    long           n;
    int            scale;

    if (decimal_scale(s, &scale, w->err) < 0) {
        return -1;
    }
    mag = smt_xmalloc(cap);
    n = smt_decimal_to_unscaled(v->u.s, scale, mag, cap, w->err);
    if (n >= 0) {
        jw_b64str(w, mag, (size_t)n);
    }
    free(mag);
    return n < 0 ? -1 : 0;
}

static int env_write(struct jw *w, const struct smt_schema *s,
                     const struct smt_val *v, int depth);

static void schema_write(struct jw *w, const struct smt_schema *s, int depth)
{
    uint32_t i;

    jw_mem(w, "{\"type\":\"", 9);
    jw_mem(w, schema_json_type(s), strlen(schema_json_type(s)));
    jw_c(w, '"');
    if (s->type == SMT_ARRAY && s->items != NULL) {
        jw_mem(w, ",\"items\":", 9);
        schema_write(w, s->items, depth + 1);
    } else if (s->type == SMT_OBJECT && s->is_map) {
        if (s->keys != NULL) {
            jw_mem(w, ",\"keys\":", 8);
            schema_write(w, s->keys, depth + 1);
        }
        if (s->values != NULL) {
            jw_mem(w, ",\"values\":", 10);
            schema_write(w, s->values, depth + 1);
        }
    } else if (s->type == SMT_OBJECT) {
        jw_mem(w, ",\"fields\":[", 11);
        for (i = 0; i < s->nfields; i++) {
            if (i > 0) {
                jw_c(w, ',');
            }
            /* a field is its schema node with "field" appended */
            schema_write(w, s->fields[i].schema, depth + 1);
            w->p--; /* reopen the object */
            jw_mem(w, ",\"field\":", 9);
            jw_str(w, s->fields[i].name.ptr, s->fields[i].name.len);
            jw_c(w, '}');
        }
        jw_c(w, ']');
    }
    if (s->optional) {
        jw_mem(w, ",\"optional\":true", 16);
    } else {
        jw_mem(w, ",\"optional\":false", 17);
    }
    if (s->name != NULL) {
        jw_mem(w, ",\"name\":", 8);
        jw_str(w, s->name, strlen(s->name));
    }
    if (s->version != 0) {
        jw_mem(w, ",\"version\":", 11);
        jw_int(w, s->version);
    }
    if (s->doc != NULL) {
        jw_mem(w, ",\"doc\":", 7);
        jw_str(w, s->doc, strlen(s->doc));
    }
    if (s->params != NULL && s->params->type == SMT_OBJECT) {
        jw_mem(w, ",\"parameters\":{", 15);
        for (i = 0; i < s->params->n; i++) {
            const struct smt_member *m = &s->params->u.members[i];
            if (i > 0) {
                jw_c(w, ',');
            }
            jw_str(w, m->key.ptr, m->key.len);
            jw_c(w, ':');
            if (m->val != NULL && m->val->type == SMT_STRING) {
                jw_str(w, m->val->u.s.ptr, m->val->u.s.len);
            } else {
                jw_mem(w, "null", 4);
            }
        }
        jw_c(w, '}');
    }
    if (s->def != NULL) {
        size_t at = (size_t)(w->p - (w->b ? w->b->ptr : w->base));
        jw_mem(w, ",\"default\":", 11);
        if (env_write(w, s, s->def, depth + 1) < 0) {
            /* an unwritable default is left out rather than failing the
             * schema (the header's void signature has no error path) */
            w->p = (w->b ? w->b->ptr : w->base) + at;
        }
    }
    jw_c(w, '}');
}

/* The node type a value of schema s must have. */
static int env_value_type(const struct smt_schema *s)
{
    switch (logical_kind(s)) {
    case LK_DECIMAL:
        return SMT_DECIMAL;
    case LK_DATE:
    case LK_TIME:
    case LK_TIMESTAMP:
        return SMT_DATE;
    default:
        return s->type;
    }
}

/* Connect's convertToJson. */
static int env_write(struct jw *w, const struct smt_schema *s,
                     const struct smt_val *v, int depth)
{
    uint32_t i;
    int      lk;

    if (s == NULL) {
        return jw_value(w, v, depth);
    }
    if (v == NULL || v->type == SMT_NULL) {
        if (s->def != NULL && s->def != v) {
            return env_write(w, s, s->def, depth);
        }
        if (s->optional) {
            jw_mem(w, "null", 4);
            return 0;
        }
        return smt_err_set(w->err, SMT_E_DATA, "Conversion error: null value "
                           "for field that is required and has no default "
                           "value");
    }
    if (v->type != env_value_type(s)) {
        return smt_err_set(w->err, SMT_E_DATA, "Invalid type for %s: class %s",
                           schema_type_name(s), smt_val_java_class(v));
    }
    if (depth >= JW_MAX_DEPTH) {
        return smt_err_set(w->err, SMT_E_LIMIT,
                           "value nested deeper than %d levels", JW_MAX_DEPTH);
    }
    lk = logical_kind(s);
    if (lk == LK_DECIMAL) {
        return decimal_write(w, s, v);
    }
    if (lk == LK_DATE) {
        if (v->u.i % MS_PER_DAY != 0) {
            return smt_err_set(w->err, SMT_E_DATA, "Kafka Connect Date type "
                               "should not have any time fields set to "
                               "non-zero values.");
        }
        jw_int(w, v->u.i / MS_PER_DAY);
        return 0;
    }
    if (lk == LK_TIME) {
        if (v->u.i < 0 || v->u.i >= MS_PER_DAY) {
            return smt_err_set(w->err, SMT_E_DATA, "Kafka Connect Time type "
                               "should not have any date fields set to "
                               "non-zero values.");
        }
        jw_int(w, v->u.i);
        return 0;
    }
    if (lk == LK_TIMESTAMP || v->raw != NULL) {
        /* unchanged since decoding: the payload text as it came */
        return jw_value(w, v, depth);
    }
    switch (s->type) {
    case SMT_ARRAY:
        jw_c(w, '[');
        for (i = 0; i < v->n; i++) {
            if (i > 0) {
                jw_c(w, ',');
            }
            if (env_write(w, s->items, v->u.items[i], depth + 1) < 0) {
                return -1;
            }
        }
        jw_c(w, ']');
        return 0;
    case SMT_OBJECT:
        if (s->is_map) {
            int str_keys = s->keys->type == SMT_STRING && s->keys->name == NULL;
            jw_c(w, str_keys ? '{' : '[');
            for (i = 0; i < v->n; i++) {
                const struct smt_member *m = &v->u.members[i];
                if (i > 0) {
                    jw_c(w, ',');
                }
                if (str_keys) {
                    jw_str(w, m->key.ptr, m->key.len);
                    jw_c(w, ':');
                } else {
                    /* the key is held as its JSON text (see env_convert) */
                    jw_c(w, '[');
                    jw_mem(w, m->key.ptr, m->key.len);
                    jw_c(w, ',');
                }
                if (env_write(w, s->values, m->val, depth + 1) < 0) {
                    return -1;
                }
                if (!str_keys) {
                    jw_c(w, ']');
                }
            }
            jw_c(w, str_keys ? '}' : ']');
            return 0;
        }
        jw_c(w, '{');
        for (i = 0; i < s->nfields; i++) {
            const struct smt_field *f = &s->fields[i];
            if (i > 0) {
                jw_c(w, ',');
            }
            jw_str(w, f->name.ptr, f->name.len);
            jw_c(w, ':');
            if (env_write(w, f->schema, smt_obj_get(v, f->name.ptr, f->name.len),
                          depth + 1) < 0) {
                return -1;
            }
        }
        jw_c(w, '}');
        return 0;
    default:
        return jw_value(w, v, depth);
    }
}

static void jw_buf_begin(struct jw *w, struct smt_buf *b, struct smt_err *err)
{
    smt_buf_reserve(b, 256);
    w->b = b;
    w->a = NULL;
    w->base = NULL;
    w->err = err;
    w->p = b->ptr + b->len;
    w->end = b->ptr + b->cap - 1;
}

int smt_envelope_write(struct smt_buf *b, const struct smt_val *val,
                       const struct smt_schema *schema, struct smt_err *err)
{
    struct jw w;
    size_t    len0 = b->len;
    int       rc;

    jw_buf_begin(&w, b, err);
    jw_mem(&w, "{\"schema\":", 10);
    if (schema != NULL) {
        schema_write(&w, schema, 0);
    } else {
        jw_mem(&w, "null", 4);
    }
    jw_mem(&w, ",\"payload\":", 11);
    rc = env_write(&w, schema, val, 0);
    jw_c(&w, '}');
    b->len = rc < 0 ? len0 : (size_t)(w.p - b->ptr);
    b->ptr[b->len] = '\0';
    return rc;
}

void smt_schema_write_json(struct smt_buf *b, const struct smt_schema *s)
{
    struct jw w;

    jw_buf_begin(&w, b, NULL);
    if (s == NULL) {
        jw_mem(&w, "null", 4);
    } else {
        schema_write(&w, s, 0);
    }
    b->len = (size_t)(w.p - b->ptr);
    b->ptr[b->len] = '\0';
}

/*
 * values.c - Connect's Values.parseString and Values.convertToString, the
 * pair behind InsertHeader's literal and SimpleHeaderConverter.
 *
 * The text is cut into tokens at the delimiters : , { } [ ] " (a backslash
 * escapes the next one); whitespace is not a delimiter, so "true false" is
 * one token and stays a string. A value is tried as null, boolean, array,
 * map (a failed container rewinds and the text is read again as a plain
 * token), temporal literal, number, and otherwise it is the whole original
 * text as a string. Inside a container only quoted strings are strings; a
 * bare word there fails the container, which then falls back to a string.
 *
 * Decisions where Connect's rules were not pinned down by the reference:
 * container elements must share one type (integer widths and float widths
 * merge; all-null is allowed; "[1, null]" and "[1, \"a\"]" stay strings);
 * at top level, a value followed by more tokens ("1,2") is a string; dates
 * are written by magnitude, as Values.dateFormatFor does.
 */
#include "values.h"

#include "datefmt.h"
#include "json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

struct vp {
    const char *s;
    size_t      len, pos;
};

static int vp_delim(char c)
{
    return c == ':' || c == ',' || c == '{' || c == '}' || c == '[' ||
           c == ']' || c == '"';
}

static int vp_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
           c == '\v';
}

/* Next token (delimiter alone, or a run up to the next unescaped one).
 * Returns 0 at the end. */
static int vp_next(struct vp *p, struct smt_bytes *tok)
{
    size_t start = p->pos;
    int    escaped = 0;

    if (p->pos >= p->len) {
        return 0;
    }
    while (p->pos < p->len) {
        char c = p->s[p->pos];

        if (c == '\\') {
            escaped = !escaped;
        } else if (vp_delim(c) && !escaped) {
            if (start < p->pos) {
                break;
            }
            p->pos++;
            break;
        } else {
            escaped = 0;
        }
        p->pos++;
    }
    tok->ptr = p->s + start;
    tok->len = p->pos - start;
    return 1;
}

static int vp_blank(struct smt_bytes t)
{
    size_t i;

    for (i = 0; i < t.len; i++) {
        if (!vp_space(t.ptr[i])) {
            return 0;
        }
    }
    return 1;
}

static struct smt_bytes vp_trim(struct smt_bytes t)
{
    while (t.len > 0 && vp_space(t.ptr[0])) {
        t.ptr++;
        t.len--;
    }
    while (t.len > 0 && vp_space(t.ptr[t.len - 1])) {
        t.len--;
    }
    return t;
}

/* Consumes the next token if it equals want (blank tokens skipped and the
 * token trimmed when ws is set); otherwise consumes nothing. */
static int vp_eat(struct vp *p, const char *want, int ws)
{
    size_t           save = p->pos;
    struct smt_bytes t;

    if (!vp_next(p, &t)) {
        return 0;
    }
    if (ws) {
        while (vp_blank(t) && p->pos < p->len) {
            if (!vp_next(p, &t)) {
                break;
            }
        }
        t = vp_trim(t);
    }
    if (smt_bytes_eqs(t, want)) {
        return 1;
    }
    p->pos = save;
    return 0;
}

/* True when only blank tokens are left. */
static int vp_at_end(const struct vp *p)
{
    size_t i;

    for (i = p->pos; i < p->len; i++) {
        if (!vp_space(p->s[i])) {
            return 0;
        }
    }
    return 1;
}

/* "d" = digit, anything else literal. */
static int vp_shape(struct smt_bytes t, const char *shape)
{
    size_t i, n = strlen(shape);

    if (t.len != n) {
        return 0;
    }
    for (i = 0; i < n; i++) {
        if (shape[i] == 'd' ? (t.ptr[i] < '0' || t.ptr[i] > '9')
                            : t.ptr[i] != shape[i]) {
            return 0;
        }
    }
    return 1;
}

static int64_t vp_num(const char *p, size_t n)
{
    int64_t v = 0;
    size_t  i;

    for (i = 0; i < n; i++) {
        v = v * 10 + (p[i] - '0');
    }
    return v;
}

/* Time of day of "HH:mm:ss.SSSZ" at p (lenient, like SimpleDateFormat). */
static int64_t vp_tod(const char *p)
{
    return vp_num(p, 2) * 3600000 + vp_num(p + 3, 2) * 60000 +
           vp_num(p + 6, 2) * 1000 + vp_num(p + 9, 3);
}

/* Date, Time and Timestamp literals. The colons are delimiters, so a time
 * arrives as up to five tokens; they are joined back here. */
static struct smt_val *vp_temporal(struct vp *p, struct smt_arena *a,
                                   struct smt_bytes tok)
{
    size_t           save = p->pos;
    struct smt_bytes t1, t2, t3, t4;
    char             buf[40];

    if (vp_shape(tok, "dddd-dd-dd")) {
        return smt_val_int(a, SMT_DATE,
                           smt_days_from_civil(vp_num(tok.ptr, 4),
                                               vp_num(tok.ptr + 5, 2),
                                               vp_num(tok.ptr + 8, 2)) *
                               SMT_MS_PER_DAY);
    }
    if (tok.len > 13 || !vp_next(p, &t1) || !vp_next(p, &t2) ||
        !vp_next(p, &t3) || !vp_next(p, &t4) || !smt_bytes_eqs(t1, ":") ||
        !smt_bytes_eqs(t3, ":")) {
        p->pos = save;
        return NULL;
    }
    t4 = vp_trim(t4);
    if (t2.len + t4.len > 20) {
        p->pos = save;
        return NULL;
    }
    snprintf(buf, sizeof(buf), "%.*s:%.*s:%.*s", (int)tok.len, tok.ptr,
             (int)t2.len, t2.ptr, (int)t4.len, t4.ptr);
    if (vp_shape(smt_bytes_str(buf), "dd:dd:dd.dddZ")) {
        return smt_val_int(a, SMT_DATE, vp_tod(buf));
    }
    if (vp_shape(smt_bytes_str(buf), "dddd-dd-ddTdd:dd:dd.dddZ")) {
        return smt_val_int(a, SMT_DATE,
                           smt_days_from_civil(vp_num(buf, 4),
                                               vp_num(buf + 5, 2),
                                               vp_num(buf + 8, 2)) *
                                   SMT_MS_PER_DAY +
                               vp_tod(buf + 11));
    }
    p->pos = save;
    return NULL;
}

/* java.math.BigDecimal(String) then Values' narrowing. NULL when tok is
 * not a number. */
static struct smt_val *vp_number(struct smt_arena *a, struct smt_bytes tok)
{
    char        buf[512], digits[512];
    size_t      i = 0, nd = 0, k;
    int         neg = 0, sawdig = 0;
    long        exp = 0, frac = 0, e = 0;
    const char *s;

    if (tok.len == 0 || tok.len >= sizeof(buf)) {
        return NULL;
    }
    memcpy(buf, tok.ptr, tok.len);
    buf[tok.len] = '\0';
    s = buf;
    if (s[i] == '+' || s[i] == '-') {
        neg = s[i] == '-';
        i++;
    }
    for (; s[i] >= '0' && s[i] <= '9'; i++) {
        sawdig = 1;
        if (nd > 0 || s[i] != '0') {
            digits[nd++] = s[i];
        }
    }
    if (s[i] == '.') {
        for (i++; s[i] >= '0' && s[i] <= '9'; i++) {
            sawdig = 1;
            frac++;
            if (nd > 0 || s[i] != '0') {
                digits[nd++] = s[i];
            }
        }
    }
    if (!sawdig) {
        return NULL;
    }
    if (s[i] == 'e' || s[i] == 'E') {
        int eneg = 0, edig = 0;

        i++;
        if (s[i] == '+' || s[i] == '-') {
            eneg = s[i] == '-';
            i++;
        }
        for (; s[i] >= '0' && s[i] <= '9'; i++) {
            edig = 1;
            if (e < 100000000) {
                e = e * 10 + (s[i] - '0');
            }
        }
        if (!edig) {
            return NULL;
        }
        if (eneg) {
            e = -e;
        }
    }
    if (s[i] != '\0') {
        return NULL;
    }
    /* value = digits * 10^exp */
    exp = e - frac;
    while (nd > 0 && exp < 0 && digits[nd - 1] == '0') {
        nd--;
        exp++;
    }
    if (nd == 0 || exp >= 0) { /* integral */
        if (nd == 0) {
            return smt_val_int(a, SMT_INT8, 0);
        }
        if (nd + (size_t)exp <= 19) {
            uint64_t u = 0;
            int      over = 0;

            for (k = 0; k < nd + (size_t)exp; k++) {
                int dg = k < nd ? digits[k] - '0' : 0;

                if (u > (UINT64_MAX - (uint64_t)dg) / 10) {
                    over = 1;
                    break;
                }
                u = u * 10 + (uint64_t)dg;
            }
            if (!over && (u <= (uint64_t)INT64_MAX ||
                          (neg && u == (uint64_t)INT64_MAX + 1))) {
                int64_t v = neg ? (int64_t)(0 - u) : (int64_t)u;
                int     type = SMT_INT64;

                if (v >= -128 && v <= 127) {
                    type = SMT_INT8;
                } else if (v >= -32768 && v <= 32767) {
                    type = SMT_INT16;
                } else if (v >= INT32_MIN && v <= INT32_MAX) {
                    type = SMT_INT32;
                }
                return smt_val_int(a, type, v);
            }
        }
        if (nd + (size_t)exp < 400) { /* Decimal, scale 0: plain digits */
            char *t = smt_arena_alloc(a, nd + (size_t)exp + 2);
            char *o = t;

            if (neg) {
                *o++ = '-';
            }
            memcpy(o, digits, nd);
            memset(o + nd, '0', (size_t)exp);
            o += nd + (size_t)exp;
            return smt_val_str(a, SMT_DECIMAL, t, (size_t)(o - t));
        }
        return smt_val_str(a, SMT_DECIMAL, smt_arena_memdup(a, buf, tok.len),
                           tok.len);
    }
    {
        float  f = strtof(buf, NULL);
        double d;

        if (isfinite(f)) {
            return smt_val_float(a, SMT_FLOAT32, (double)f);
        }
        d = strtod(buf, NULL);
        if (isfinite(d)) {
            return smt_val_float(a, SMT_FLOAT64, d);
        }
    }
    return smt_val_str(a, SMT_DECIMAL, smt_arena_memdup(a, buf, tok.len),
                       tok.len);
}

/* Merges element type t into the container's common type *c (-1 = none
 * yet). Returns -1 when they have none. */
static int vp_common(int *c, int t)
{
    if (*c < 0 || *c == t) {
        *c = t;
        return 0;
    }
    if (smt_type_is_int(*c) && smt_type_is_int(t)) {
        *c = *c > t ? *c : t;
        return 0;
    }
    if ((*c == SMT_FLOAT32 || *c == SMT_FLOAT64) &&
        (t == SMT_FLOAT32 || t == SMT_FLOAT64)) {
        *c = SMT_FLOAT64;
        return 0;
    }
    return -1;
}

static int vp_parse(struct vp *p, int embedded, struct smt_arena *a,
                    struct smt_val **out);
static void vw(struct smt_buf *b, const struct smt_val *v, int embedded);

static int vp_array(struct vp *p, struct smt_arena *a, struct smt_val **out)
{
    struct smt_val *arr = smt_val_array(a, 4), *el;
    int             common = -1;

    while (p->pos < p->len) {
        if (vp_eat(p, "]", 1)) {
            *out = arr;
            return 0;
        }
        if (vp_eat(p, ",", 1)) {
            return -1; /* empty element */
        }
        if (vp_parse(p, 1, a, &el) < 0 || el == NULL) {
            return -1;
        }
        if (vp_common(&common, el->type) < 0) {
            return -1;
        }
        smt_arr_push(a, arr, el);
        if (!vp_eat(p, "]", 1)) {
            if (!vp_eat(p, ",", 1)) {
                return -1;
            }
        } else {
            *out = arr;
            return 0;
        }
    }
    return -1; /* missing ']' */
}

static int vp_map(struct vp *p, struct smt_arena *a, struct smt_val **out)
{
    struct smt_val *map = smt_val_object(a, 4), *k, *v;
    int             kc = -1, vc = -1;

    while (p->pos < p->len) {
        struct smt_buf   kb;
        struct smt_bytes kt;

        if (vp_eat(p, "}", 1)) {
            *out = map;
            return 0;
        }
        if (vp_parse(p, 1, a, &k) < 0 || k == NULL ||
            vp_common(&kc, k->type) < 0 || !vp_eat(p, ":", 1) ||
            vp_parse(p, 1, a, &v) < 0 || v == NULL ||
            vp_common(&vc, v->type) < 0) {
            return -1;
        }
        /* keys are kept as the text they will be written as */
        smt_buf_init(&kb);
        vw(&kb, k, 1);
        kt.ptr = smt_arena_memdup(a, kb.ptr, kb.len);
        kt.len = kb.len;
        smt_buf_fini(&kb);
        smt_obj_set(a, map, kt.ptr, kt.len, v);
        if (!vp_eat(p, "}", 1)) {
            if (!vp_eat(p, ",", 1)) {
                return -1;
            }
        } else {
            *out = map;
            return 0;
        }
    }
    return -1;
}

/* A quoted string inside a container: tokens up to the closing quote,
 * backslash escapes removed. */
static int vp_quoted(struct vp *p, struct smt_arena *a, struct smt_val **out)
{
    size_t           start = p->pos, i, n;
    struct smt_bytes t;
    char            *o;

    for (;;) {
        size_t before = p->pos;

        if (!vp_next(p, &t)) {
            return -1;
        }
        if (smt_bytes_eqs(t, "\"")) {
            n = before - start;
            break;
        }
    }
    o = smt_arena_alloc(a, n + 1);
    for (i = 0, t.len = 0; i < n; i++) {
        char c = p->s[start + i];

        if (c == '\\' && i + 1 < n) {
            c = p->s[start + ++i];
        }
        o[t.len++] = c;
    }
    o[t.len] = '\0';
    *out = smt_val_str(a, SMT_STRING, o, t.len);
    return 0;
}

/* Values' parse(parser, embedded). *out NULL when no token is left;
 * -1 is Connect's DataException (caught by the enclosing container). */
static int vp_parse(struct vp *p, int embedded, struct smt_arena *a,
                    struct smt_val **out)
{
    size_t           mark;
    struct smt_bytes tok;
    struct smt_val  *v;
    char             c;

    *out = NULL;
    if (p->pos >= p->len) {
        return 0;
    }
    if (embedded && vp_eat(p, "\"", 1)) {
        return vp_quoted(p, a, out);
    }
    if (vp_eat(p, "null", 1)) {
        *out = smt_val_null(a);
        return 0;
    }
    if (vp_eat(p, "true", 1)) {
        *out = smt_val_bool(a, 1);
        return 0;
    }
    if (vp_eat(p, "false", 1)) {
        *out = smt_val_bool(a, 0);
        return 0;
    }
    mark = p->pos;
    if (vp_eat(p, "[", 1)) {
        if (vp_array(p, a, out) == 0) {
            return 0;
        }
        p->pos = mark;
    } else if (vp_eat(p, "{", 1)) {
        if (vp_map(p, a, out) == 0) {
            return 0;
        }
        p->pos = mark;
    }
    *out = NULL;
    if (!vp_next(p, &tok)) {
        return 0;
    }
    if (vp_blank(tok)) {
        *out = smt_val_str(a, SMT_STRING, tok.ptr, tok.len);
        return 0;
    }
    tok = vp_trim(tok);
    c = tok.ptr[0];
    if (c >= '0' && c <= '9') {
        v = vp_temporal(p, a, tok);
        if (v != NULL) {
            *out = v;
            return 0;
        }
    }
    if ((c >= '0' && c <= '9') || c == '+' || c == '-') {
        v = vp_number(a, tok);
        if (v != NULL) {
            *out = v;
            return 0;
        }
    }
    if (embedded) {
        return -1;
    }
    *out = smt_val_str(a, SMT_STRING, p->s, p->len);
    return 0;
}

struct smt_val *smt_values_parse(struct smt_arena *a, const char *s,
                                 size_t len)
{
    struct vp       p = {s, len, 0};
    struct smt_val *v;

    if (s == NULL) {
        return smt_val_null(a);
    }
    if (len == 0) {
        return smt_val_str(a, SMT_STRING, s, 0);
    }
    if (vp_parse(&p, 0, a, &v) < 0 || v == NULL || !vp_at_end(&p)) {
        return smt_val_str(a, SMT_STRING, s, len);
    }
    return v;
}

/* ---------------------------------------------------------------------- */
/* Writing */

static void vw_date(struct smt_buf *b, int64_t ms)
{
    int64_t days = smt_floordiv(ms, SMT_MS_PER_DAY), tod, y;
    int     m, d;

    tod = ms - days * SMT_MS_PER_DAY;
    smt_civil_from_days(days, &y, &m, &d);
    if (ms < SMT_MS_PER_DAY) {
        smt_buf_printf(b, "%02d:%02d:%02d.%03dZ", (int)(tod / 3600000),
                       (int)(tod / 60000 % 60), (int)(tod / 1000 % 60),
                       (int)(tod % 1000));
    } else if (tod == 0) {
        smt_buf_printf(b, "%04lld-%02d-%02d", (long long)y, m, d);
    } else {
        smt_buf_printf(b, "%04lld-%02d-%02dT%02d:%02d:%02d.%03dZ",
                       (long long)y, m, d, (int)(tod / 3600000),
                       (int)(tod / 60000 % 60), (int)(tod / 1000 % 60),
                       (int)(tod % 1000));
    }
}

static void vw(struct smt_buf *b, const struct smt_val *v, int embedded)
{
    char     num[40];
    uint32_t i;

    if (v == NULL) {
        smt_buf_adds(b, "null");
        return;
    }
    switch (v->type) {
    case SMT_NULL:
        smt_buf_adds(b, "null");
        break;
    case SMT_BOOL:
        smt_buf_adds(b, v->u.b ? "true" : "false");
        break;
    case SMT_INT8:
    case SMT_INT16:
    case SMT_INT32:
    case SMT_INT64:
        smt_buf_printf(b, "%lld", (long long)v->u.i);
        break;
    case SMT_FLOAT32:
    case SMT_FLOAT64:
        smt_fmt_java_double(num, v->u.d, v->type == SMT_FLOAT32);
        smt_buf_adds(b, num);
        break;
    case SMT_DECIMAL:
        smt_buf_add(b, v->u.s.ptr, v->u.s.len);
        break;
    case SMT_DATE:
        vw_date(b, v->u.i);
        break;
    case SMT_STRING:
    case SMT_BYTES:
        if (!embedded) {
            smt_buf_add(b, v->u.s.ptr, v->u.s.len);
            break;
        }
        smt_buf_addc(b, '"');
        for (i = 0; i < v->u.s.len; i++) {
            char c = v->u.s.ptr[i];

            if (c == '"' || c == '\\') {
                smt_buf_addc(b, '\\');
            }
            smt_buf_addc(b, c);
        }
        smt_buf_addc(b, '"');
        break;
    case SMT_ARRAY:
        smt_buf_addc(b, '[');
        for (i = 0; i < v->n; i++) {
            if (i > 0) {
                smt_buf_addc(b, ',');
            }
            vw(b, v->u.items[i], 1);
        }
        smt_buf_addc(b, ']');
        break;
    case SMT_OBJECT:
        smt_buf_addc(b, '{');
        for (i = 0; i < v->n; i++) {
            if (i > 0) {
                smt_buf_addc(b, ',');
            }
            smt_buf_add(b, v->u.members[i].key.ptr, v->u.members[i].key.len);
            smt_buf_addc(b, ':');
            vw(b, v->u.members[i].val, 1);
        }
        smt_buf_addc(b, '}');
        break;
    default:
        break;
    }
}

void smt_values_write(struct smt_buf *b, const struct smt_val *v)
{
    vw(b, v, 0);
}

void smt_values_normalize(struct smt_arena *a, struct smt_bytes in,
                          struct smt_bytes *out)
{
    struct smt_val *v;
    struct smt_buf  b;

    if (in.ptr == NULL) {
        *out = in;
        return;
    }
    v = smt_values_parse(a, in.ptr, in.len);
    if (v->type == SMT_NULL) {
        *out = SMT_BYTES_NULL;
        return;
    }
    if (v->type == SMT_STRING) {
        *out = v->u.s;
        return;
    }
    smt_buf_init(&b);
    smt_values_write(&b, v);
    out->ptr = smt_arena_memdup(a, b.ptr != NULL ? b.ptr : "", b.len);
    out->len = b.len;
    smt_buf_fini(&b);
}

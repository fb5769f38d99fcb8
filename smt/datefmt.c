/*
 * datefmt.c - the java.text.SimpleDateFormat subset Kafka Connect's
 * timestamp transforms use, always in UTC.
 *
 * Compiling follows Java's constructor: runs of one ASCII letter are
 * fields, quoted text ('...', '' for a quote) and every other character are
 * literals, and a letter Java does not know is an error. Formatting and
 * parsing then walk the compiled items.
 *
 * Letters: G era, y year, Y week year, M/L month, w week of year, W week of
 * month, D day of year, d day of month, F day of week in month, E day name,
 * u ISO day number, a AM/PM, H 0-23, k 1-24, K 0-11, h 1-12, m, s, S
 * milliseconds, z/Z/X zone (always UTC when formatting; parsed offsets are
 * applied). Week fields follow the en_US rules Java defaults to: weeks
 * start on Sunday and week 1 is the one holding January 1, which is why
 * "YYYY" on 2017-12-31 gives 2018.
 *
 * Parsing is SimpleDateFormat's lenient mode: numbers may have any width
 * unless the next item is an abutting numeric field (then the field takes
 * exactly its count of characters, "yyyyMMdd"), spaces and tabs before a
 * field are skipped, out-of-range values roll over, text after the pattern
 * is ignored.
 *
 * Differences from Java: the calendar is proleptic Gregorian (Java switches
 * to Julian before 1582-10-15); a parsed day name (E), week fields (w, W,
 * F, u) and week year (Y, read as year) do not move the date; two-digit
 * years resolve against the current year - 80 rather than the current
 * instant - 80 years; zone names other than UTC/GMT/UT are not known.
 */
#include "datefmt.h"

#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <time.h>

enum { DF_LIT = 0, DF_FIELD };

struct df_item {
    uint8_t     kind;
    char        ch;    /* DF_FIELD: the pattern letter */
    uint32_t    count; /* DF_FIELD: repeat count */
    const char *lit;   /* DF_LIT: text in `buf` */
    size_t      len;
};

struct smt_datefmt {
    char           *pattern;
    char           *buf; /* literal texts */
    struct df_item *items;
    uint32_t        n;
};

static const char *const df_months[] = {
    "January", "February", "March",     "April",   "May",      "June",
    "July",    "August",   "September", "October", "November", "December"};
static const char *const df_days[] = {"Sunday",   "Monday", "Tuesday",
                                      "Wednesday", "Thursday", "Friday",
                                      "Saturday"};

/* Java's SimpleDateFormat pattern letters. */
#define DF_LETTERS "GyMdkHmsSEDFwWahKzZYuXL"

int64_t smt_days_from_civil(int64_t y, int64_t m, int64_t d)
{
    int64_t era, yoe, doy, doe, mp;

    /* Roll the month into 1..12 first (lenient calendars do). */
    y += smt_floordiv(m - 1, 12);
    m = smt_floormod(m - 1, 12) + 1;
    y -= m <= 2;
    era = smt_floordiv(y, 400);
    yoe = y - era * 400;
    mp = (m + 9) % 12;
    doy = (153 * mp + 2) / 5;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468 + (d - 1);
}

void smt_civil_from_days(int64_t days, int64_t *y, int *m, int *d)
{
    int64_t z = days + 719468, era, doe, yoe, doy, mp;

    era = smt_floordiv(z, 146097);
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

/* Sunday = 0. 1970-01-01 was a Thursday. */
static int df_dow(int64_t days)
{
    return (int)smt_floormod(days + 4, 7);
}

static void df_add_lit(struct smt_datefmt *f, size_t *cap, char *lit,
                       size_t len)
{
    if (f->n == *cap) {
        *cap = *cap ? *cap * 2 : 8;
        f->items = smt_xrealloc(f->items, *cap * sizeof(*f->items));
    }
    f->items[f->n].kind = DF_LIT;
    f->items[f->n].lit = lit;
    f->items[f->n].len = len;
    f->n++;
}

struct smt_datefmt *smt_datefmt_new(const char *pattern, struct smt_err *err)
{
    struct smt_datefmt *f;
    size_t              plen, cap = 0, i = 0;
    char               *o;

    if (pattern == NULL) {
        smt_err_set(err, SMT_E_ARG, "no pattern");
        return NULL;
    }
    plen = strlen(pattern);
    f = smt_xcalloc(1, sizeof(*f));
    f->pattern = smt_xstrdup(pattern);
    f->buf = smt_xmalloc(plen + 1);
    o = f->buf;
    while (i < plen) {
        char c = pattern[i];

        if (c == '\'') {
            char *start = o;

            if (i + 1 < plen && pattern[i + 1] == '\'') {
                *o++ = '\'';
                i += 2;
                df_add_lit(f, &cap, start, 1);
                continue;
            }
            i++;
            for (;;) {
                if (i >= plen) {
                    smt_err_set(err, SMT_E_ARG, "Unterminated quote");
                    goto fail;
                }
                if (pattern[i] == '\'') {
                    if (i + 1 < plen && pattern[i + 1] == '\'') {
                        *o++ = '\'';
                        i += 2;
                        continue;
                    }
                    i++;
                    break;
                }
                *o++ = pattern[i++];
            }
            if (o > start) {
                df_add_lit(f, &cap, start, (size_t)(o - start));
            }
        } else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
            uint32_t count = 0;

            if (strchr(DF_LETTERS, c) == NULL) {
                smt_err_set(err, SMT_E_ARG, "Illegal pattern character '%c'",
                            c);
                goto fail;
            }
            while (i < plen && pattern[i] == c) {
                count++;
                i++;
            }
            if (c == 'X' && count > 3) {
                smt_err_set(err, SMT_E_ARG,
                            "invalid ISO 8601 format: length=%u", count);
                goto fail;
            }
            df_add_lit(f, &cap, NULL, 0);
            f->items[f->n - 1].kind = DF_FIELD;
            f->items[f->n - 1].ch = c;
            f->items[f->n - 1].count = count;
        } else {
            char *start = o;

            /* a run of plain characters is one literal */
            while (i < plen && pattern[i] != '\'' &&
                   !((pattern[i] >= 'a' && pattern[i] <= 'z') ||
                     (pattern[i] >= 'A' && pattern[i] <= 'Z'))) {
                *o++ = pattern[i++];
            }
            df_add_lit(f, &cap, start, (size_t)(o - start));
        }
    }
    return f;
fail:
    smt_datefmt_free(f);
    return NULL;
}

void smt_datefmt_free(struct smt_datefmt *f)
{
    if (f == NULL) {
        return;
    }
    free(f->pattern);
    free(f->buf);
    free(f->items);
    free(f);
}

const char *smt_datefmt_pattern(const struct smt_datefmt *f)
{
    return f->pattern;
}

/* ---------------------------------------------------------------------- */
/* Formatting */

struct df_out {
    char  *p;
    size_t size, len;
};

static void out_add(struct df_out *o, const char *s, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (o->len + 1 < o->size) {
            o->p[o->len] = s[i];
        }
        o->len++;
    }
}

static void out_num(struct df_out *o, int64_t v, uint32_t width)
{
    char buf[48];
    int  n;

    if (width > 20) {
        width = 20;
    }
    if (v < 0) {
        n = snprintf(buf, sizeof(buf), "-%0*lld", (int)width,
                     (long long)-v);
    } else {
        n = snprintf(buf, sizeof(buf), "%0*lld", (int)width, (long long)v);
    }
    out_add(o, buf, (size_t)n);
}

static void out_text(struct df_out *o, const char *full, uint32_t count)
{
    out_add(o, full, count >= 4 ? strlen(full) : 3);
}

/* The broken-down UTC time of an instant. */
struct df_tm {
    int64_t days, year;
    int     month, day, hour, min, sec, ms, doy, dow;
};

static void df_breakdown(int64_t ms, struct df_tm *t)
{
    int64_t tod;

    t->days = smt_floordiv(ms, SMT_MS_PER_DAY);
    tod = ms - t->days * SMT_MS_PER_DAY;
    smt_civil_from_days(t->days, &t->year, &t->month, &t->day);
    t->hour = (int)(tod / 3600000);
    t->min = (int)(tod / 60000 % 60);
    t->sec = (int)(tod / 1000 % 60);
    t->ms = (int)(tod % 1000);
    t->doy = (int)(t->days - smt_days_from_civil(t->year, 1, 1)) + 1;
    t->dow = df_dow(t->days);
}

/* Week year and week of year under the en_US rules (weeks from Sunday,
 * week 1 holds January 1). */
static void df_week(const struct df_tm *t, int64_t *wy, int *woy)
{
    int64_t next = smt_days_from_civil(t->year + 1, 1, 1);
    int     jan1dow;

    if (t->dow + (next - t->days) <= 6) {
        *wy = t->year + 1;
        *woy = 1;
        return;
    }
    jan1dow = df_dow(smt_days_from_civil(t->year, 1, 1));
    *wy = t->year;
    *woy = (t->doy - 1 + jan1dow) / 7 + 1;
}

static void df_year(struct df_out *o, int64_t y, uint32_t count)
{
    if (y <= 0) {
        y = 1 - y; /* era BC */
    }
    if (count == 2) {
        out_num(o, y % 100, 2);
    } else {
        out_num(o, y, count);
    }
}

static void df_field(struct df_out *o, const struct df_item *it,
                     const struct df_tm *t)
{
    uint32_t c = it->count;
    int64_t  wy;
    int      woy;

    switch (it->ch) {
    case 'G':
        out_add(o, t->year > 0 ? "AD" : "BC", 2);
        break;
    case 'y':
        df_year(o, t->year, c);
        break;
    case 'Y':
        df_week(t, &wy, &woy);
        df_year(o, wy, c);
        break;
    case 'M':
    case 'L':
        if (c >= 3) {
            out_text(o, df_months[t->month - 1], c);
        } else {
            out_num(o, t->month, c);
        }
        break;
    case 'w':
        df_week(t, &wy, &woy);
        out_num(o, woy, c);
        break;
    case 'W':
        out_num(o, (t->day - 1 + df_dow(t->days - (t->day - 1))) / 7 + 1, c);
        break;
    case 'D':
        out_num(o, t->doy, c);
        break;
    case 'd':
        out_num(o, t->day, c);
        break;
    case 'F':
        out_num(o, (t->day - 1) / 7 + 1, c);
        break;
    case 'E':
        out_text(o, df_days[t->dow], c);
        break;
    case 'u':
        out_num(o, t->dow == 0 ? 7 : t->dow, c);
        break;
    case 'a':
        out_add(o, t->hour < 12 ? "AM" : "PM", 2);
        break;
    case 'H':
        out_num(o, t->hour, c);
        break;
    case 'k':
        out_num(o, t->hour == 0 ? 24 : t->hour, c);
        break;
    case 'K':
        out_num(o, t->hour % 12, c);
        break;
    case 'h':
        out_num(o, t->hour % 12 == 0 ? 12 : t->hour % 12, c);
        break;
    case 'm':
        out_num(o, t->min, c);
        break;
    case 's':
        out_num(o, t->sec, c);
        break;
    case 'S':
        out_num(o, t->ms, c);
        break;
    case 'z':
        if (c >= 4) {
            out_add(o, "Coordinated Universal Time", 26);
        } else {
            out_add(o, "UTC", 3);
        }
        break;
    case 'Z':
        out_add(o, "+0000", 5);
        break;
    case 'X':
        out_add(o, "Z", 1);
        break;
    default:
        break;
    }
}

size_t smt_datefmt_format(const struct smt_datefmt *f, int64_t ms, char *out,
                          size_t size)
{
    struct df_out o = {out, size, 0};
    struct df_tm  t;
    uint32_t      i;

    df_breakdown(ms, &t);
    for (i = 0; i < f->n; i++) {
        if (f->items[i].kind == DF_LIT) {
            out_add(&o, f->items[i].lit, f->items[i].len);
        } else {
            df_field(&o, &f->items[i], &t);
        }
    }
    if (size > 0) {
        out[o.len < size ? o.len : size - 1] = '\0';
    }
    return o.len;
}

struct smt_bytes smt_datefmt_format_arena(const struct smt_datefmt *f,
                                          int64_t ms, struct smt_arena *a)
{
    char             tmp[128];
    size_t           n = smt_datefmt_format(f, ms, tmp, sizeof(tmp));
    struct smt_bytes b;

    if (n < sizeof(tmp)) {
        b.ptr = smt_arena_memdup(a, tmp, n);
    } else {
        char *p = smt_arena_alloc(a, n + 1);

        smt_datefmt_format(f, ms, p, n + 1);
        b.ptr = p;
    }
    b.len = n;
    return b;
}

/* ---------------------------------------------------------------------- */
/* Parsing */

/* Java's shouldObeyCount: numeric fields that, when the previous field
 * abuts them, make that field take exactly its count of characters. */
static int df_numeric(const struct df_item *it)
{
    if (it->kind != DF_FIELD) {
        return 0;
    }
    if (it->ch == 'M' || it->ch == 'L') {
        return it->count <= 2;
    }
    return strchr("ydkHmsSDFwWhKYu", it->ch) != NULL;
}

/* Parses an integer at *pos (after spaces/tabs), at most up to limit.
 * Returns 0 with *v, or -1. *ndig gets the digits' count. */
static int df_number(const char *s, size_t limit, size_t *pos, int64_t *v,
                     size_t *ndig)
{
    size_t  p = *pos;
    int     neg = 0;
    int64_t x = 0;
    size_t  d0;

    while (p < limit && (s[p] == ' ' || s[p] == '\t')) {
        p++;
    }
    if (p < limit && s[p] == '-') {
        neg = 1;
        p++;
    }
    d0 = p;
    while (p < limit && s[p] >= '0' && s[p] <= '9') {
        if (x < 100000000000000000LL) {
            x = x * 10 + (s[p] - '0');
        }
        p++;
    }
    if (p == d0) {
        return -1;
    }
    *ndig = p - d0;
    *v = neg ? -x : x;
    *pos = p;
    return 0;
}

/* Case-insensitive longest match among names (full names, then 3-letter
 * forms). Returns the index or -1. */
static int df_text(const char *s, size_t len, size_t *pos,
                   const char *const *names, int n)
{
    size_t p = *pos, best = 0;
    int    i, hit = -1, form;

    while (p < len && (s[p] == ' ' || s[p] == '\t')) {
        p++;
    }
    for (form = 0; form < 2; form++) {
        for (i = 0; i < n; i++) {
            size_t l = form == 0 ? strlen(names[i]) : 3;

            if (l > best && l <= len - p && strncasecmp(s + p, names[i], l) == 0) {
                best = l;
                hit = i;
            }
        }
    }
    if (hit >= 0) {
        *pos = p + best;
    }
    return hit;
}

/* Optional sign, hh, then [:]mm; returns minutes or sets *ok = 0. */
static int df_offset(const char *s, size_t len, size_t *pos, int colon_ok,
                     int *mins)
{
    size_t p = *pos;
    int    sign, h, m = 0;

    if (p >= len || (s[p] != '+' && s[p] != '-')) {
        return -1;
    }
    sign = s[p] == '-' ? -1 : 1;
    p++;
    if (p + 2 > len || s[p] < '0' || s[p] > '9' || s[p + 1] < '0' ||
        s[p + 1] > '9') {
        /* GMT+h is allowed by Java too */
        if (p < len && s[p] >= '0' && s[p] <= '9') {
            h = s[p] - '0';
            p++;
            goto minutes;
        }
        return -1;
    }
    h = (s[p] - '0') * 10 + (s[p + 1] - '0');
    p += 2;
minutes:
    if (colon_ok && p < len && s[p] == ':') {
        p++;
    }
    if (p + 2 <= len && s[p] >= '0' && s[p] <= '9' && s[p + 1] >= '0' &&
        s[p + 1] <= '9') {
        m = (s[p] - '0') * 10 + (s[p + 1] - '0');
        p += 2;
    }
    if (h > 23 || m > 59) {
        return -1;
    }
    *mins = sign * (h * 60 + m);
    *pos = p;
    return 0;
}

/* A zone at *pos: UTC/GMT/UT (+offset), long names, an offset, or Z. */
static int df_zone(const char *s, size_t len, size_t *pos, int *mins)
{
    static const char *const names[] = {"Coordinated Universal Time",
                                        "Greenwich Mean Time", "UTC", "GMT",
                                        "UT"};
    size_t p = *pos;
    size_t i;

    while (p < len && (s[p] == ' ' || s[p] == '\t')) {
        p++;
    }
    *mins = 0;
    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        size_t l = strlen(names[i]);

        if (l <= len - p && strncasecmp(s + p, names[i], l) == 0) {
            p += l;
            if (i >= 2) {
                (void)df_offset(s, len, &p, 1, mins);
            }
            *pos = p;
            return 0;
        }
    }
    if (p < len && s[p] == 'Z') {
        *pos = p + 1;
        return 0;
    }
    if (df_offset(s, len, &p, 1, mins) == 0) {
        *pos = p;
        return 0;
    }
    return -1;
}

struct df_parsed {
    int64_t year, month, day, doy, hour24, hour12, min, sec, ms;
    int     has_month, has_day, has_doy, has_hour24, has_hour12, pm, bc;
    int     zone_mins;
};

/* Two-digit years fall into the 100 years starting 80 years ago. */
static int64_t df_two_digit_year(int64_t yy)
{
    time_t    now = time(NULL);
    struct tm tm;
    int64_t   start, y;

    gmtime_r(&now, &tm);
    start = (int64_t)tm.tm_year + 1900 - 80;
    y = start / 100 * 100 + yy;
    if (y < start) {
        y += 100;
    }
    return y;
}

int smt_datefmt_parse(const struct smt_datefmt *f, const char *s, size_t len,
                      int64_t *ms)
{
    struct df_parsed p;
    size_t           pos = 0;
    uint32_t         i;
    int64_t          days;

    memset(&p, 0, sizeof(p));
    p.year = 1970;
    p.month = 1;
    p.day = 1;
    if (s == NULL) {
        return -1;
    }
    for (i = 0; i < f->n; i++) {
        const struct df_item *it = &f->items[i];
        size_t                limit = len, start = pos, nd;
        int64_t               v = 0;
        int                   k;

        if (it->kind == DF_LIT) {
            if (it->len > len - pos || memcmp(s + pos, it->lit, it->len) != 0) {
                return -1;
            }
            pos += it->len;
            continue;
        }
        if (i + 1 < f->n && df_numeric(&f->items[i + 1]) &&
            start + it->count < len) {
            limit = start + it->count; /* abutting fields: "yyyyMMdd" */
        }
        switch (it->ch) {
        case 'G':
            k = df_text(s, len, &pos, (const char *const[]){"BC", "AD"}, 2);
            if (k < 0) {
                return -1;
            }
            p.bc = k == 0;
            continue;
        case 'M':
        case 'L':
            if (it->count >= 3) {
                k = df_text(s, len, &pos, df_months, 12);
                if (k < 0) {
                    return -1;
                }
                p.month = k + 1;
                p.has_month = 1;
                continue;
            }
            break;
        case 'E':
            if (df_text(s, len, &pos, df_days, 7) < 0) {
                return -1;
            }
            continue;
        case 'a':
            k = df_text(s, len, &pos, (const char *const[]){"AM", "PM"}, 2);
            if (k < 0) {
                return -1;
            }
            p.pm = k == 1;
            continue;
        case 'z':
        case 'Z':
        case 'X':
            if (df_zone(s, len, &pos, &p.zone_mins) < 0) {
                return -1;
            }
            continue;
        default:
            break;
        }
        if (df_number(s, limit, &pos, &v, &nd) < 0) {
            return -1;
        }
        switch (it->ch) {
        case 'y':
        case 'Y':
            if (it->count <= 2 && nd == 2 && pos - start == 2) {
                v = df_two_digit_year(v);
            }
            p.year = v;
            break;
        case 'M':
        case 'L':
            p.month = v;
            p.has_month = 1;
            break;
        case 'd':
            p.day = v;
            p.has_day = 1;
            break;
        case 'D':
            p.doy = v;
            p.has_doy = 1;
            break;
        case 'H':
            p.hour24 = v;
            p.has_hour24 = 1;
            break;
        case 'k':
            p.hour24 = v == 24 ? 0 : v;
            p.has_hour24 = 1;
            break;
        case 'h':
            p.hour12 = v == 12 ? 0 : v;
            p.has_hour12 = 1;
            break;
        case 'K':
            p.hour12 = v;
            p.has_hour12 = 1;
            break;
        case 'm':
            p.min = v;
            break;
        case 's':
            p.sec = v;
            break;
        case 'S':
            p.ms = v;
            break;
        default: /* w W F u: read, not applied */
            break;
        }
    }
    if (p.bc) {
        p.year = 1 - p.year;
    }
    if (p.has_doy && !p.has_month && !p.has_day) {
        days = smt_days_from_civil(p.year, 1, 1) + p.doy - 1;
    } else {
        days = smt_days_from_civil(p.year, p.month, p.day);
    }
    if (!p.has_hour24 && (p.has_hour12 || p.pm)) {
        p.hour24 = p.hour12 + (p.pm ? 12 : 0);
    }
    *ms = days * SMT_MS_PER_DAY + p.hour24 * 3600000 + p.min * 60000 +
          p.sec * 1000 + p.ms - (int64_t)p.zone_mins * 60000;
    return 0;
}

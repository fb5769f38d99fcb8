/*
 * regex.c - PCRE2 with java.util.regex's matching rules.
 *
 * Kafka Connect compiles its patterns with java.util.regex and uses three
 * operations: Matcher.matches() (the whole input), Matcher.find() and
 * Matcher.replaceFirst() with Java's replacement syntax. PCRE2 accepts
 * nearly all of Java's pattern syntax; what differs is the replacement
 * language, so that is implemented here by hand, with Java's error texts.
 *
 * Each pattern is compiled twice: once plain (find, replaceFirst) and once
 * with PCRE2_ANCHORED|PCRE2_ENDANCHORED (matches). Giving those options at
 * compile time rather than at match time keeps both codes eligible for the
 * JIT, which ignores match-time anchoring options. A compiled regex is
 * never written after smt_regex_new(), so threads share it; the match data
 * (ovector and PCRE2's backtracking frames) lives in a thread-local block
 * that grows to the largest group count this thread has seen.
 *
 * Differences from Java: PCRE2 has no character-class intersection
 * ([a-z&&[^e]]); line terminators are PCRE2's "any newline" set, which adds
 * VT and FF to Java's; invalid UTF-8 in a subject never matches instead of
 * being decoded as U+FFFD.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "regex.h"

#include <pcre2.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

struct smt_regex {
    char       *pattern;
    pcre2_code *find;  /* unanchored */
    pcre2_code *whole; /* ANCHORED | ENDANCHORED */
    uint32_t    ngroups;
};

/* Per-thread match data. It is reused for every match the thread does, so
 * a worker reaches a steady state with no allocation; a thread-specific key
 * frees it when the thread exits. */
static _Thread_local pcre2_match_data *tl_md;
static _Thread_local uint32_t tl_pairs;
static pthread_key_t  md_key;
static pthread_once_t md_once = PTHREAD_ONCE_INIT;

static void md_free(void *md)
{
    pcre2_match_data_free(md);
}

static void md_key_init(void)
{
    if (pthread_key_create(&md_key, md_free) != 0) {
        abort();
    }
}

static pcre2_match_data *regex_md(const struct smt_regex *re)
{
    uint32_t want = re->ngroups + 1 > 64 ? re->ngroups + 1 : 64;

    if (tl_md == NULL || tl_pairs < want) {
        pthread_once(&md_once, md_key_init);
        pcre2_match_data_free(tl_md);
        tl_md = pcre2_match_data_create(want, NULL);
        if (tl_md == NULL) {
            abort(); /* OOM: same policy as smt_xmalloc */
        }
        tl_pairs = want;
        pthread_setspecific(md_key, tl_md);
    }
    return tl_md;
}

static pcre2_code *regex_compile(const char *pattern, uint32_t opts,
                                 pcre2_compile_context *cc,
                                 struct smt_err *err)
{
    int         code;
    PCRE2_SIZE  off;
    pcre2_code *c;
    PCRE2_UCHAR buf[160];

    /* Not PCRE2_MATCH_INVALID_UTF: with the JIT (PCRE2 10.42) it makes
     * negated class escapes miss non-ASCII characters (^\D$ fails on
     * U+07C0). pcre2_match checks the subject instead, and an invalid one
     * reads as no match (regex_run). */
    c = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED,
                      opts | PCRE2_UTF, &code, &off, cc);
    if (c == NULL) {
        pcre2_get_error_message(code, buf, sizeof(buf));
        smt_err_set(err, SMT_E_CONFIG, "Invalid regex: %s at offset %zu",
                    (const char *)buf, (size_t)off);
        return NULL;
    }
    /* JIT is an optimisation only: without it PCRE2 interprets. */
    (void)pcre2_jit_compile(c, PCRE2_JIT_COMPLETE);
    return c;
}

struct smt_regex *smt_regex_new(const char *pattern, struct smt_err *err)
{
    struct smt_regex      *re;
    pcre2_compile_context *cc;

    if (pattern == NULL) {
        smt_err_set(err, SMT_E_CONFIG, "Invalid regex: no pattern");
        return NULL;
    }
    cc = pcre2_compile_context_create(NULL);
    if (cc == NULL) {
        abort();
    }
    /* Java treats \n, \r, \r\n, U+0085, U+2028 and U+2029 as line ends. */
    pcre2_set_newline(cc, PCRE2_NEWLINE_ANY);
    re = smt_xcalloc(1, sizeof(*re));
    re->find = regex_compile(pattern, 0, cc, err);
    if (re->find != NULL) {
        re->whole = regex_compile(pattern, PCRE2_ANCHORED | PCRE2_ENDANCHORED,
                                  cc, err);
    }
    pcre2_compile_context_free(cc);
    if (re->whole == NULL) {
        smt_regex_free(re);
        return NULL;
    }
    pcre2_pattern_info(re->find, PCRE2_INFO_CAPTURECOUNT, &re->ngroups);
    re->pattern = smt_xstrdup(pattern);
    return re;
}

void smt_regex_free(struct smt_regex *re)
{
    if (re == NULL) {
        return;
    }
    pcre2_code_free(re->find);
    pcre2_code_free(re->whole);
    free(re->pattern);
    free(re);
}

const char *smt_regex_pattern(const struct smt_regex *re)
{
    return re->pattern;
}

/* Runs code on s; 1 match, 0 none, -1 error. */
static int regex_run(const pcre2_code *code, pcre2_match_data *md,
                     const char *s, size_t len)
{
    int rc;

    rc = pcre2_match(code, (PCRE2_SPTR)(s != NULL ? s : ""), len, 0, 0, md,
                     NULL);
    if (rc >= 0) {
        return 1;
    }
    if (rc == PCRE2_ERROR_NOMATCH ||
        (rc <= PCRE2_ERROR_UTF8_ERR1 && rc >= PCRE2_ERROR_UTF8_ERR21)) {
        return 0; /* invalid UTF-8 never matches */
    }
    return -1;
}

int smt_regex_matches(const struct smt_regex *re, const char *s, size_t len)
{
    return regex_run(re->whole, regex_md(re), s, len);
}

int smt_regex_find(const struct smt_regex *re, const char *s, size_t len)
{
    return regex_run(re->find, regex_md(re), s, len);
}

/* Java's ASCII.isLower/isUpper/isDigit, the characters of a group name. */
static int regex_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9');
}

/* Output of an expansion: counts only while dst is NULL, so the result can
 * be sized exactly and written straight into the record arena. */
struct regex_sink {
    char  *dst;
    size_t n;
};

static void sink_add(struct regex_sink *k, const char *p, size_t n)
{
    if (k->dst != NULL && n > 0) {
        memcpy(k->dst + k->n, p, n);
    }
    k->n += n;
}

/* Appends group g of the current match (nothing if it did not take part). */
static void regex_add_group(struct regex_sink *b, const PCRE2_SIZE *ov,
                            const char *s, uint32_t g)
{
    if (ov[2 * g] != PCRE2_UNSET && ov[2 * g + 1] != PCRE2_UNSET) {
        sink_add(b, s + ov[2 * g], ov[2 * g + 1] - ov[2 * g]);
    }
}

/* Matcher.appendExpandedReplacement: expands rep for the match in ov. */
static int regex_expand(const struct smt_regex *re, const PCRE2_SIZE *ov,
                        const char *s, const char *rep, struct regex_sink *b,
                        struct smt_err *err)
{
    const char *p = rep;

    while (*p != '\0') {
        if (*p == '\\') {
            p++;
            if (*p == '\0') {
                return smt_err_set(err, SMT_E_ARG,
                                   "character to be escaped is missing");
            }
            sink_add(b, p++, 1);
        } else if (*p == '$') {
            uint32_t ref;

            p++;
            if (*p == '\0') {
                return smt_err_set(
                    err, SMT_E_ARG,
                    "Illegal group reference: group index is missing");
            }
            if (*p == '{') {
                const char *name = ++p;
                char        tmp[128];
                size_t      n;
                int         num;

                while (regex_name_char(*p)) {
                    p++;
                }
                n = (size_t)(p - name);
                if (n == 0) {
                    return smt_err_set(
                        err, SMT_E_ARG,
                        "named capturing group has 0 length name");
                }
                if (*p != '}') {
                    return smt_err_set(
                        err, SMT_E_ARG,
                        "named capturing group is missing trailing '}'");
                }
                p++;
                if (name[0] >= '0' && name[0] <= '9') {
                    return smt_err_set(err, SMT_E_ARG,
                                       "capturing group name {%.*s} starts "
                                       "with digit character",
                                       (int)n, name);
                }
                num = -1;
                if (n < sizeof(tmp)) {
                    memcpy(tmp, name, n);
                    tmp[n] = '\0';
                    num = pcre2_substring_number_from_name(
                        re->find, (PCRE2_SPTR)tmp);
                }
                if (num < 0) {
                    return smt_err_set(err, SMT_E_ARG,
                                       "No group with name {%.*s}", (int)n,
                                       name);
                }
                ref = (uint32_t)num;
            } else {
                if (*p < '0' || *p > '9') {
                    return smt_err_set(err, SMT_E_ARG,
                                       "Illegal group reference");
                }
                ref = (uint32_t)(*p++ - '0');
                /* Further digits are taken while the number stays a group. */
                while (*p >= '0' && *p <= '9') {
                    uint64_t next = (uint64_t)ref * 10 + (uint64_t)(*p - '0');

                    if (next > re->ngroups) {
                        break;
                    }
                    ref = (uint32_t)next;
                    p++;
                }
                if (ref > re->ngroups) {
                    return smt_err_set(err, SMT_E_INDEX, "No group %u", ref);
                }
            }
            regex_add_group(b, ov, s, ref);
        } else {
            const char *lit = p;

            while (*p != '\0' && *p != '\\' && *p != '$') {
                p++;
            }
            sink_add(b, lit, (size_t)(p - lit));
        }
    }
    return 0;
}

int smt_regex_replace_first(const struct smt_regex *re, struct smt_arena *a,
                            struct smt_bytes s, const char *replacement,
                            struct smt_bytes *out, struct smt_err *err)
{
    pcre2_match_data *md = regex_md(re);
    const PCRE2_SIZE *ov;
    struct regex_sink k = {NULL, 0};
    const char       *subj = s.ptr != NULL ? s.ptr : "";
    int               rc;

    rc = regex_run(re->find, md, subj, s.len);
    if (rc < 0) {
        return smt_err_set(err, SMT_E_DATA, "regex match failed on '%.*s'",
                           (int)(s.len > 100 ? 100 : s.len), subj);
    }
    if (rc == 0) {
        *out = s;
        return 0;
    }
    ov = pcre2_get_ovector_pointer(md);
    /* Pass one sizes (and validates) the expansion, pass two writes it. */
    if (regex_expand(re, ov, subj, replacement, &k, err) < 0) {
        return -1;
    }
    k.dst = smt_arena_alloc(a, ov[0] + k.n + (s.len - ov[1]) + 1);
    k.n = 0;
    sink_add(&k, subj, ov[0]);
    (void)regex_expand(re, ov, subj, replacement, &k, err);
    sink_add(&k, subj + ov[1], s.len - ov[1]);
    k.dst[k.n] = '\0';
    out->ptr = k.dst;
    out->len = k.n;
    return 0;
}

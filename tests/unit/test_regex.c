/*
 * test_regex.c - Java matching rules on top of PCRE2: whole-string match,
 * find, replaceFirst with Java's replacement syntax and error texts.
 */
#include "regex.h"
#include "t.h"

#include <pthread.h>
#include <stdlib.h>

/* replaceFirst of pattern over s with rep; returns the result in a static
 * buffer, or "ERR:<code>:<msg>" when it fails. */
static const char *rf(const char *pattern, const char *s, const char *rep)
{
    static char       out[512];
    struct smt_err    err = {0};
    struct smt_arena  a;
    struct smt_regex *re = smt_regex_new(pattern, &err);
    struct smt_bytes  r;

    if (re == NULL) {
        snprintf(out, sizeof(out), "COMPILE:%s", err.msg);
        return out;
    }
    smt_arena_init(&a, 1024);
    if (smt_regex_replace_first(re, &a, smt_bytes_str(s), rep, &r, &err) < 0) {
        snprintf(out, sizeof(out), "ERR:%d:%s", err.code, err.msg);
    } else {
        snprintf(out, sizeof(out), "%.*s", (int)r.len, r.ptr);
    }
    smt_arena_fini(&a);
    smt_regex_free(re);
    return out;
}

static int m(const char *pattern, const char *s)
{
    struct smt_err    err = {0};
    struct smt_regex *re = smt_regex_new(pattern, &err);
    int               rc;

    if (re == NULL) {
        return -2;
    }
    rc = smt_regex_matches(re, s, strlen(s));
    smt_regex_free(re);
    return rc;
}

static int f(const char *pattern, const char *s)
{
    struct smt_err    err = {0};
    struct smt_regex *re = smt_regex_new(pattern, &err);
    int               rc;

    if (re == NULL) {
        return -2;
    }
    rc = smt_regex_find(re, s, strlen(s));
    smt_regex_free(re);
    return rc;
}

static void test_compile(void)
{
    struct smt_err    err = {0};
    struct smt_regex *re;

    re = smt_regex_new("[", &err);
    T_OK(re == NULL);
    T_EQI(err.code, SMT_E_CONFIG);
    T_OK(strncmp(err.msg, "Invalid regex: ", 15) == 0);
    re = smt_regex_new("*", &err);
    T_OK(re == NULL);
    re = smt_regex_new("a(b)(?<n>c)", &err);
    T_OK(re != NULL);
    T_EQS(smt_regex_pattern(re), "a(b)(?<n>c)");
    smt_regex_free(re);
    smt_regex_free(NULL);
}

static void test_match(void)
{
    T_EQI(m("foo", "foo"), 1);
    T_EQI(m("foo", "foobar"), 0);
    T_EQI(m("foo", "xfoo"), 0);
    T_EQI(m("a|ab", "ab"), 1); /* needs backtracking into the alternative */
    T_EQI(m("sensors\\..*", "sensors.temp"), 1);
    T_EQI(m("sensors\\..*", "sensorsXtemp"), 0);
    T_EQI(m(".*", ""), 1);
    T_EQI(m("a.c", "a\xc3\xa9" "c"), 1); /* one code point, not two bytes */
    T_EQI(m("a.c", "a\xff" "c"), 0);     /* invalid UTF-8: no match, no error */
    T_EQI(f("a", "\xc3"), 0);            /* truncated sequence, find too */
    /* negated class escapes on non-ASCII characters (a PCRE2 10.42 JIT
     * quirk with PCRE2_MATCH_INVALID_UTF made these miss) */
    T_EQI(m("\\D", "\xdf\x80"), 1);       /* U+07C0 NKO DIGIT ZERO */
    T_EQI(m("\\W", "\xc3\xa9"), 1);       /* e-acute is not a word char */
    T_EQI(m("\\S", "\xc3\xa9"), 1);
    T_EQI(m("(?i)ABC", "abc"), 1);
    T_EQI(m("\\Qa.b\\E", "a.b"), 1);
    T_EQI(m("\\Qa.b\\E", "axb"), 0);
    T_EQI(f("o", "foo"), 1);
    T_EQI(f("^o", "foo"), 0);
    T_EQI(f("x", "foo"), 0);
}

static void test_replace(void)
{
    T_EQS(rf("(.*)", "orig", "$1"), "orig");
    T_EQS(rf("(.*)", "orig", "prefix-$1"), "prefix-orig");
    T_EQS(rf("(.*)", "orig", "$1-suffix"), "orig-suffix");
    T_EQS(rf("a|ab", "ab", "X"), "Xb");
    T_EQS(rf("o", "foo", "0"), "f0o");
    T_EQS(rf("x", "foo", "$9"), "foo"); /* no match: no expansion, no error */
    T_EQS(rf("(.*)", "t", "$2"), "ERR:4:No group 2");
    /* $12 with one group: "1" is a group, "12" is not, so $1 then '2' */
    T_EQS(rf("(a)", "a", "$12"), "a2");
    T_EQS(rf("(a)(b)(c)(d)(e)(f)(g)(h)(i)(j)(k)(l)", "abcdefghijkl", "$12$1"),
          "la");
    T_EQS(rf("(?<word>[a-z]+)", "hello", "<${word}>"), "<hello>");
    T_EQS(rf("(?<word>[a-z]+)", "hello", "${nope}"),
          "ERR:5:No group with name {nope}");
    T_EQS(rf("(a)", "a", "${}"),
          "ERR:5:named capturing group has 0 length name");
    T_EQS(rf("(a)", "a", "${x"),
          "ERR:5:named capturing group is missing trailing '}'");
    T_EQS(rf("(a)", "a", "${1x}"),
          "ERR:5:capturing group name {1x} starts with digit character");
    T_EQS(rf("(a)", "a", "$x"), "ERR:5:Illegal group reference");
    T_EQS(rf("(a)", "a", "x$"),
          "ERR:5:Illegal group reference: group index is missing");
    T_EQS(rf("(a)", "a", "x\\"), "ERR:5:character to be escaped is missing");
    T_EQS(rf("(a)", "a", "\\$1\\\\"), "$1\\");
    T_EQS(rf("(a)|(b)", "b", "[$1][$2]"), "[][b]"); /* unset group: empty */
    T_EQS(rf("(.*)", "t", "$0$0"), "tt");
    T_EQS(rf("", "ab", "-"), "-ab");
}

/* More groups than the thread's first match data holds. */
static void test_many_groups(void)
{
    char  pat[1024] = "", subj[128] = "";
    char *p = pat;
    int   i;

    for (i = 0; i < 70; i++) {
        p += sprintf(p, "(x)");
        subj[i] = 'x';
    }
    T_EQS(rf(pat, subj, "$70"), "x");
    T_EQS(rf(pat, subj, "$71"), "x1");
}

/* A regex shared by threads; each thread's match data is freed when the
 * thread ends (LeakSanitizer checks that). */
static void *thread_main(void *arg)
{
    const struct smt_regex *re = arg;
    long                    ok = 0;
    int                     i;

    for (i = 0; i < 1000; i++) {
        ok += smt_regex_matches(re, "sensors.temp", 12) == 1;
        ok += smt_regex_matches(re, "other", 5) == 0;
    }
    return (void *)ok;
}

static void test_threads(void)
{
    struct smt_err    err = {0};
    struct smt_regex *re = smt_regex_new("sensors\\..*", &err);
    pthread_t         th[4];
    void             *res;
    int               i;

    for (i = 0; i < 4; i++) {
        pthread_create(&th[i], NULL, thread_main, re);
    }
    for (i = 0; i < 4; i++) {
        pthread_join(th[i], &res);
        T_EQI((long)res, 2000);
    }
    smt_regex_free(re);
}

int main(void)
{
    test_compile();
    test_match();
    test_replace();
    test_many_groups();
    test_threads();
    return t_done("test_regex");
}

/*
 * test_datefmt.c - SimpleDateFormat patterns in UTC: compile errors,
 * formatting (including week years), lenient parsing, calendar helpers.
 */
#include "datefmt.h"
#include "t.h"

static const char *fmt(const char *pattern, int64_t ms)
{
    static char         out[300];
    struct smt_err      err = {0};
    struct smt_datefmt *f = smt_datefmt_new(pattern, &err);

    if (f == NULL) {
        snprintf(out, sizeof(out), "ERR:%s", err.msg);
        return out;
    }
    smt_datefmt_format(f, ms, out, sizeof(out));
    smt_datefmt_free(f);
    return out;
}

/* Parses s; returns the epoch ms, or INT64_MIN when it does not parse. */
static int64_t prs(const char *pattern, const char *s)
{
    struct smt_err      err = {0};
    struct smt_datefmt *f = smt_datefmt_new(pattern, &err);
    int64_t             ms;
    int                 rc;

    if (f == NULL) {
        return INT64_MIN + 1;
    }
    rc = smt_datefmt_parse(f, s, strlen(s), &ms);
    smt_datefmt_free(f);
    return rc == 0 ? ms : INT64_MIN;
}

static void test_civil(void)
{
    int64_t y;
    int     m, d;

    T_EQI(smt_days_from_civil(1970, 1, 1), 0);
    T_EQI(smt_days_from_civil(2017, 1, 3), 17169);
    T_EQI(smt_days_from_civil(1969, 12, 31), -1);
    T_EQI(smt_days_from_civil(2016, 13, 1), smt_days_from_civil(2017, 1, 1));
    T_EQI(smt_days_from_civil(2017, 0, 1), smt_days_from_civil(2016, 12, 1));
    smt_civil_from_days(-1, &y, &m, &d);
    T_OK(y == 1969 && m == 12 && d == 31);
    smt_civil_from_days(11016, &y, &m, &d); /* 2000-02-29 */
    T_OK(y == 2000 && m == 2 && d == 29);
    T_EQI(smt_floordiv(-1, 1000), -1);
    T_EQI(smt_floormod(-1, 1000), 999);
}

static void test_compile(void)
{
    T_EQS(fmt("bad-format", 0), "ERR:Illegal pattern character 'b'");
    T_EQS(fmt("yyyy'", 0), "ERR:Unterminated quote");
    T_EQS(fmt("XXXX", 0), "ERR:invalid ISO 8601 format: length=4");
    T_EQS(fmt("", 0), "");
}

static void test_format(void)
{
    T_EQS(fmt("yyyyMMdd", 1483425001864LL), "20170103");
    T_EQS(fmt("yyyy-MM", 1483425001864LL), "2017-01");
    T_EQS(fmt("yyyy MM dd HH mm ss SSS z", 86401234), "1970 01 02 00 00 01 234 UTC");
    T_EQS(fmt("yyyy-MM-dd'T'HH:mm:ss.SSSXXX", 86401234),
          "1970-01-02T00:00:01.234Z");
    T_EQS(fmt("yy M d H m s S", 86401234), "70 1 2 0 0 1 234");
    T_EQS(fmt("EEE, d MMM yyyy hh:mm a Z", 1483425001864LL),
          "Tue, 3 Jan 2017 06:30 AM +0000");
    T_EQS(fmt("EEEE MMMM zzzz", 1483425001864LL),
          "Tuesday January Coordinated Universal Time");
    T_EQS(fmt("'at' HH 'o''clock' ''", 13 * 3600000LL), "at 13 o'clock '");
    T_EQS(fmt("h a k K", 0), "12 AM 24 0");
    T_EQS(fmt("D", 1483425001864LL), "3");
    T_EQS(fmt("DDD", 1483425001864LL), "003");
    /* week year: 2017-12-31 is a Sunday, in the week holding 2018-01-01 */
    T_EQS(fmt("YYYY-ww yyyy", smt_days_from_civil(2017, 12, 31) * SMT_MS_PER_DAY),
          "2018-01 2017");
    T_EQS(fmt("YYYY-ww", smt_days_from_civil(2017, 12, 30) * SMT_MS_PER_DAY),
          "2017-52");
    T_EQS(fmt("YYYY w u F W", 0), "1970 1 4 1 1");
    T_EQS(fmt("yyyy-MM-dd HH:mm:ss.SSS", -1), "1969-12-31 23:59:59.999");
    T_EQS(fmt("G y", smt_days_from_civil(0, 6, 1) * SMT_MS_PER_DAY), "BC 1");
}

static void test_parse(void)
{
    T_EQI(prs("yyyy MM dd HH mm ss SSS z", "1970 01 02 00 00 01 234 UTC"),
          86401234);
    T_EQI(prs("yyyyMMdd", "20170103"), 17169 * SMT_MS_PER_DAY);
    T_EQI(prs("yyyy-MM-dd", "2017-1-3"), 17169 * SMT_MS_PER_DAY);
    T_EQI(prs("yyyy-MM-dd", "2017-01-03 trailing"), 17169 * SMT_MS_PER_DAY);
    T_EQI(prs("yyyy-MM-dd", "2016-13-03"), 17169 * SMT_MS_PER_DAY); /* lenient */
    T_EQI(prs("yyyy-MM-dd", "x2017-01-03"), INT64_MIN);
    T_EQI(prs("yyyy-MM-dd", "2017/01/03"), INT64_MIN);
    T_EQI(prs("yyyy-MM-dd", ""), INT64_MIN);
    T_EQI(prs("HH:mm", "01:30"), 5400000);
    T_EQI(prs("hh:mm a", "01:30 PM"), 13 * 3600000LL + 1800000);
    T_EQI(prs("hh:mm a", "12:30 am"), 1800000);
    T_EQI(prs("dd MMM yyyy", "03 jan 2017"), 17169 * SMT_MS_PER_DAY);
    T_EQI(prs("dd MMMM yyyy", "03 January 2017"), 17169 * SMT_MS_PER_DAY);
    T_EQI(prs("EEE dd MMM yyyy", "Tue 03 Jan 2017"), 17169 * SMT_MS_PER_DAY);
    T_EQI(prs("HH:mm Z", "01:00 +0100"), 0);
    T_EQI(prs("HH:mm z", "01:00 GMT+01:00"), 0);
    T_EQI(prs("HH:mm XXX", "00:00 Z"), 0);
    T_EQI(prs("HH:mm XXX", "00:00 -01:30"), 5400000);
    T_EQI(prs("yy-MM-dd", "70-01-01"), 0);
    T_EQI(prs("yyyy 'T' D", "1970 T 32"), 31 * SMT_MS_PER_DAY);
    T_EQI(prs("yyyy-MM-dd HH", "1970-01-01  5"), 5 * 3600000LL);
    T_EQI(prs("SSS", "1234"), 1234);
}

int main(void)
{
    test_civil();
    test_compile();
    test_format();
    test_parse();
    return t_done("test_datefmt");
}

/*
 * datefmt.h - java.text.SimpleDateFormat patterns, formatted and parsed in
 * UTC, and the civil-calendar arithmetic they rest on.
 *
 * TimestampRouter and TimestampConverter configure their formats with Java
 * SimpleDateFormat patterns; Values (InsertHeader) uses three fixed ones.
 * A pattern is compiled once (unknown letters are rejected like Java's
 * constructor does) into an immutable, shareable object.
 */
#ifndef SMT_DATEFMT_H
#define SMT_DATEFMT_H

#include "base.h"

struct smt_datefmt;

#define SMT_MS_PER_DAY 86400000LL

/** Compiles a SimpleDateFormat pattern. Returns a new format (free with
 *  smt_datefmt_free()), or NULL with err (SMT_E_ARG, Java's text:
 *  "Illegal pattern character 'b'", "Unterminated quote"). */
struct smt_datefmt *smt_datefmt_new(const char *pattern, struct smt_err *err);
void smt_datefmt_free(struct smt_datefmt *f);

/** The pattern as given. */
const char *smt_datefmt_pattern(const struct smt_datefmt *f);

/** Formats epoch milliseconds ms in UTC into out (size bytes, NUL
 *  terminated, truncated if short). Returns the full length, like
 *  snprintf. */
size_t smt_datefmt_format(const struct smt_datefmt *f, int64_t ms, char *out,
                          size_t size);

/** Formats into the arena; returns the NUL-terminated view. */
struct smt_bytes smt_datefmt_format_arena(const struct smt_datefmt *f,
                                          int64_t ms, struct smt_arena *a);

/** Parses s[0..len) like SimpleDateFormat.parse(String) in lenient mode:
 *  fields absent from the pattern default to 1970-01-01T00:00:00.000,
 *  out-of-range values roll over, text after the pattern's end is ignored,
 *  a zone (z, Z, X) shifts the result. Returns 0 with *ms, or -1 when the
 *  start of s does not match (no err: callers word their own message). */
int smt_datefmt_parse(const struct smt_datefmt *f, const char *s, size_t len,
                      int64_t *ms);

/** Days since 1970-01-01 of a proleptic Gregorian date; month may be out of
 *  1..12 and day out of range (they roll over). */
int64_t smt_days_from_civil(int64_t y, int64_t m, int64_t d);
/** The date of a day number. */
void smt_civil_from_days(int64_t days, int64_t *y, int *m, int *d);

/** Floor division and modulo (for negative epoch values). */
static inline int64_t smt_floordiv(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}
static inline int64_t smt_floormod(int64_t a, int64_t b)
{
    return a - smt_floordiv(a, b) * b;
}

#endif /* SMT_DATEFMT_H */

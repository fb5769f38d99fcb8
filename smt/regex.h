/*
 * regex.h - PCRE2 behind a small interface with Java's matching rules:
 * whole-string match (Matcher.matches), first find, and replaceFirst with
 * Java replacement syntax ($n, ${name}, \x). A compiled regex is immutable
 * and may be shared by threads; match data is per thread.
 */
#ifndef SMT_REGEX_H
#define SMT_REGEX_H

#include "base.h"

struct smt_regex;

/** Compiles pattern (UTF-8, Java-like syntax). Returns a new regex (free
 *  with smt_regex_free()), or NULL with err (SMT_E_CONFIG, "Invalid regex:
 *  <pcre2 message> at offset N"). */
struct smt_regex *smt_regex_new(const char *pattern, struct smt_err *err);
void smt_regex_free(struct smt_regex *re);

/** The pattern text as configured. */
const char *smt_regex_pattern(const struct smt_regex *re);

/** 1 when the regex matches the whole of s (Java Matcher.matches()), 0 when
 *  not, -1 on a matching error (resource limits). */
int smt_regex_matches(const struct smt_regex *re, const char *s, size_t len);

/** 1 when the regex is found anywhere in s (Java Matcher.find()). */
int smt_regex_find(const struct smt_regex *re, const char *s, size_t len);

/** Java Matcher.replaceFirst(replacement): the first match (leftmost find)
 *  replaced, the rest kept; no match leaves s. Replacement errors are per
 *  record: "No group 2" (SMT_E_INDEX), "Illegal group reference"
 *  (SMT_E_ARG), "No group with name {x}" (SMT_E_ARG), "character to be
 *  escaped is missing" (SMT_E_ARG). Result in the arena. */
int smt_regex_replace_first(const struct smt_regex *re, struct smt_arena *a,
                            struct smt_bytes s, const char *replacement,
                            struct smt_bytes *out, struct smt_err *err);

#endif /* SMT_REGEX_H */

/*
 * values.h - Kafka Connect's Values.parseString type inference and the
 * text SimpleHeaderConverter writes back (Values.convertToString).
 *
 * InsertHeader parses its literal this way once at configure time, and a
 * Connect worker does the same to every header it reads, so header text
 * can change on the way through Connect: "1.0" becomes "1", "[1, 2]"
 * becomes "[1,2]", "null" becomes a header without value.
 */
#ifndef SMT_VALUES_H
#define SMT_VALUES_H

#include "val.h"

/** Infers a typed value from text like Values.parseString: NULL node for
 *  "null", BOOL, the smallest of INT8..INT64 for integral numbers (also
 *  "1.0"), DECIMAL beyond int64, FLOAT32 (FLOAT64 if the float overflows)
 *  for fractions, SMT_DATE for yyyy-MM-dd / HH:mm:ss.SSS'Z' /
 *  yyyy-MM-dd'T'HH:mm:ss.SSS'Z', ARRAY of one common element type, OBJECT
 *  for maps, else STRING (the whole text). Map keys of any type are kept as
 *  the text smt_values_write() gives them (quoted for strings). Everything
 *  is allocated in a; strings may point into s. Never fails. */
struct smt_val *smt_values_parse(struct smt_arena *a, const char *s,
                                 size_t len);

/** Appends Values.convertToString(v): top-level strings verbatim, strings
 *  inside containers quoted, no spaces after separators, floats in Java's
 *  notation, dates by magnitude (time of day below one day, date at exact
 *  midnights, else timestamp). A NULL node or v NULL writes "null". */
void smt_values_write(struct smt_buf *b, const struct smt_val *v);

/** The bytes SimpleHeaderConverter writes for header text in (parse then
 *  write); out->ptr NULL for a null result. Result in the arena (or in
 *  itself when unchanged). */
void smt_values_normalize(struct smt_arena *a, struct smt_bytes in,
                          struct smt_bytes *out);

#endif /* SMT_VALUES_H */

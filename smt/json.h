/*
 * json.h - our own JSON parser and serializer for record values.
 *
 * The parser accepts exactly RFC 8259 JSON text (see docs/json.md for the
 * implementation-defined cases), builds an arena tree that keeps object key
 * order and each node's source text (val.h `raw`), and never recurses
 * deeper than SMT_JSON_MAX_DEPTH. The serializer copies `raw` for
 * unchanged nodes and writes changed ones compactly.
 */
#ifndef SMT_JSON_H
#define SMT_JSON_H

#include "val.h"

#define SMT_JSON_MAX_DEPTH 512

/** Parses exactly one JSON text (surrounding whitespace allowed) from
 *  p[0..len). Strings without escapes are views into p (which must outlive
 *  the arena's use of them); others are unescaped into the arena. Integers
 *  that fit int64 are INT64, other numbers FLOAT64 (integers beyond int64
 *  are FLOAT64 with SMT_VF_BIGINT). Returns the root, or NULL with err
 *  (SMT_E_DATA, message with byte offset) on invalid text. */
struct smt_val *smt_json_parse(struct smt_arena *a, const char *p, size_t len,
                               struct smt_err *err);

/** Appends the JSON text of v to b. NULL v is written as null. SMT_DATE is
 *  written as its epoch-millisecond integer, BYTES as a base64 string,
 *  DECIMAL as its number text. Returns -1 with err (SMT_E_DATA) for
 *  NaN/Infinity, which JSON cannot hold. */
int smt_json_write(struct smt_buf *b, const struct smt_val *v,
                   struct smt_err *err);

/** Same as smt_json_write but into the arena; sets *out (NUL-terminated
 *  when written). An unchanged root (raw set) yields its source text itself,
 *  without a copy. */
int smt_json_write_arena(struct smt_arena *a, const struct smt_val *v,
                         struct smt_bytes *out, struct smt_err *err);

/** Appends s as a JSON string literal (quotes and escapes). */
void smt_json_write_str(struct smt_buf *b, const char *s, size_t len);

/** Exact fast path for a plain decimal number in p[0..len):
 *  [+-]digits[.digits][(e|E)[+-]digits], where either side of the '.' may
 *  be empty but not both (Java's Double.parseDouble allows "1." and ".5").
 *  When the significand has at most 19 significant digits and fits 2^53
 *  (is_float: 2^24) and the power of ten is exact (|exp| <= 22, is_float:
 *  10), one correctly rounded multiplication or division gives the
 *  correctly rounded value (Clinger), as strtod (strtof) would. Returns 1
 *  with *out (as a float when is_float), or 0 - for any other text or when
 *  the fast path does not apply - and the caller uses strtod/strtof. */
int smt_parse_double_fast(const char *p, size_t len, int is_float,
                          double *out);

/** Formats d the way Java's Double.toString (is_float = 0) or
 *  Float.toString (is_float = 1) does on a modern JDK: shortest round-trip
 *  digits, plain notation with at least one fractional digit for
 *  1e-3 <= |d| < 1e7, otherwise d.dddE[-]n; "NaN", "Infinity",
 *  "-Infinity". Writes a NUL-terminated string to out (at least 32 bytes);
 *  returns its length. */
size_t smt_fmt_java_double(char *out, double d, int is_float);
/** smt_fmt_java_double without its fast path for plain-notation doubles
 *  with few decimals: the reference the fast path is tested against. */
size_t smt_fmt_java_double_ref(char *out, double d, int is_float);

/** Standard base64 with padding of p[0..len) appended to b. */
void smt_base64_encode(struct smt_buf *b, const unsigned char *p, size_t len);
/** Decodes standard base64 (padding required) into the arena. Returns 0, or
 *  -1 with err on bad input. */
int smt_base64_decode(struct smt_arena *a, const char *p, size_t len,
                      struct smt_bytes *out, struct smt_err *err);

/* Connect's JSON envelope (JsonConverter with schemas.enable=true). */

/* In schemas built here a logical type keeps its physical Connect type
 * (Decimal: BYTES, Date/Time: INT32, Timestamp: INT64) and is told apart by
 * `name`; its values are SMT_DECIMAL (text, scale = digits after '.') and
 * SMT_DATE (epoch ms; Date = days * 86400000). Maps with non-string keys are
 * OBJECTs keyed by each key's JSON text. See docs/json.md. */

/** Decodes an envelope {"schema":..,"payload":..} already parsed into
 *  root: builds the schema and converts the payload to typed values
 *  (int32, bytes, Decimal ...). "schema": null gives the payload tree as it
 *  is and *schema = NULL. Converted scalars keep `raw` where their JSON
 *  form is unchanged (so untouched payload parts leave byte for byte).
 *  Everything is allocated in a. Returns the payload, or NULL with err
 *  (SMT_E_DATA) carrying Connect's message. */
struct smt_val *smt_envelope_decode(struct smt_arena *a, struct smt_val *root,
                                    const struct smt_schema **schema,
                                    struct smt_err *err);

/** Appends {"schema":..,"payload":..} for val with schema (schema NULL:
 *  "schema":null and val written schemaless) to b, Connect's member order.
 *  Returns 0, or -1 with err (SMT_E_DATA, Connect's message: a null for a
 *  required field, a value of the wrong type, a Decimal of another scale,
 *  a Date with a time part) leaving b as it was. */
int smt_envelope_write(struct smt_buf *b, const struct smt_val *val,
                       const struct smt_schema *schema, struct smt_err *err);

/** Parses a Connect schema node (JSON tree, not JSON null) into a schema
 *  allocated in a (names copied). Returns NULL with err (SMT_E_DATA,
 *  Connect's message) on an invalid schema. */
struct smt_schema *smt_schema_from_json(struct smt_arena *a,
                                        const struct smt_val *node,
                                        struct smt_err *err);
/** Appends s as Connect's JSON schema node (JsonConverter.asJsonSchema
 *  order: type, items/keys/values/fields, optional, name, version, doc,
 *  parameters, default); NULL is written as null. A default that cannot
 *  be written is left out. */
void smt_schema_write_json(struct smt_buf *b, const struct smt_schema *s);

#endif /* SMT_JSON_H */

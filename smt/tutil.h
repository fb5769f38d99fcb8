/*
 * tutil.h - helpers shared by the transform files: Connect's structured-
 * input checks with their exact messages, and the common option handling
 * for $Key/$Value transforms (the operand, field paths).
 */
#ifndef SMT_TUTIL_H
#define SMT_TUTIL_H

#include "transform.h"

/** Connect's requireMap/requireStruct: when v is not an OBJECT, sets err
 *  (SMT_E_DATA) to "Only Map objects supported in absence of schema for
 *  [<purpose>], found: <java class>" (schemaless) or "Only Struct objects
 *  supported for [<purpose>], found: <java class>" (schema != NULL) and
 *  returns -1; else 0. v NULL reads as null. */
int smt_require_map(const struct smt_val *v, const struct smt_schema *schema,
                    const char *purpose, struct smt_err *err);

/** The operand of a $Key/$Value instance for reading (decoded on demand). */
const struct smt_val *smt_operand(struct smt_inst *inst, struct smt_record *rec,
                                  const struct smt_schema **schema,
                                  struct smt_err *err);

/** The operand for a change (the record's own copy, marked dirty). */
struct smt_val *smt_operand_mut(struct smt_inst *inst, struct smt_record *rec,
                                const struct smt_schema **schema,
                                struct smt_err *err);

/** Parses every item of list into paths (version SMT_PATH_V1/V2). Returns a
 *  new array of n paths (free with smt_paths_free()), or NULL with err. */
struct smt_path *smt_paths_parse(const struct smt_strlist *list, int version,
                                 struct smt_err *err);
void smt_paths_free(struct smt_path *paths, uint32_t n);

/** Option-table choices for field.syntax.version: {"V1", "V2", NULL};
 *  parse case-insensitively with smt_syntax_version(). */
extern const char *const smt_syntax_choices[];
/** 1 for "V1", 2 for "V2" (case-insensitive), 0 otherwise. */
int smt_syntax_version(const char *s);


/* ---------------------------------------------------------------------- */
/* Additions used by several transforms.                                   */

/** The Java class name Connect's runtime would hold for v, schema-aware:
 *  an OBJECT under a struct schema is "org.apache.kafka.connect.data.Struct",
 *  otherwise as smt_val_java_class(). "null" for NULL or a NULL node. */
const char *smt_java_class(const struct smt_val *v,
                           const struct smt_schema *schema);

/** Checks a field.syntax.version text with Connect's rule (V1/V2, case-
 *  insensitive). Returns the version, or -1 with err (SMT_E_CONFIG) carrying
 *  Connect's ConfigException message. NULL reads as V1. */
int smt_syntax_check(const char *text, struct smt_err *err);

/** Sets err to Connect's NonEmptyListValidator message for option name
 *  ("Invalid value [] for configuration <name>: Empty list"); returns -1. */
int smt_err_empty_list(struct smt_err *err, const char *name);

/** Index of field name in struct schema s, or -1. */
long smt_schema_index(const struct smt_schema *s, const char *name,
                      size_t len);

/** The field schema at path p under struct schema root, or NULL when a step
 *  is not a field of a struct. */
const struct smt_schema *smt_schema_at(const struct smt_schema *root,
                                       const struct smt_path *p);

/** For a schema change at path p: copies *root and every struct schema
 *  walked through (into a), so the returned parent of the last segment has a
 *  private fields array the caller may change. *root is replaced by its copy.
 *  Returns NULL (and leaves *root alone) when a step is not a struct field. */
struct smt_schema *smt_schema_parent_mut(struct smt_arena *a,
                                         const struct smt_schema **root,
                                         const struct smt_path *p);

/** A new primitive schema of type (arena). */
struct smt_schema *smt_schema_prim(struct smt_arena *a, int type, int optional);

/** Connect's Struct.get with replace.null.with.default: every member of
 *  struct obj (described by schema) that is null and whose field schema has
 *  a default gets (a copy of) the default. Changes obj (clears its raw) only
 *  when something is replaced. */
void smt_struct_defaults(struct smt_arena *a, struct smt_val *obj,
                         const struct smt_schema *schema);

/** Java's String.split(":") on s: pieces (views into s, trailing empty pieces
 *  removed, "" gives one empty piece) into out[0..max); returns the count
 *  (may exceed max, then only max are stored). When backticks is set, ':'
 *  inside `quoted` text does not split (V2 paths). */
size_t smt_split_colon(const char *s, struct smt_bytes *out, size_t max,
                       int backticks);

/** Trimmed copy (Java String.trim) of b, NUL-terminated, from the heap. */
char *smt_xstrtrim(struct smt_bytes b);

/** Java's List.toString of a string list ("[a, b]"), into buf (truncated). */
const char *smt_strlist_java(const struct smt_strlist *l, char *buf,
                             size_t size);

/** Java's new BigDecimal(text) syntax check plus longValue(): the integral
 *  part (truncated toward zero) modulo 2^64 into *out (may be NULL).
 *  Returns 0, or -1 when text is not a BigDecimal literal. */
int smt_decimal_long(const char *p, size_t len, int64_t *out);

/** Replaces the schema of the instance's operand side (after a change that
 *  rebuilt it; the schema must live in the record arena or longer). */
void smt_operand_set_schema(struct smt_inst *inst, struct smt_record *rec,
                            const struct smt_schema *schema);

/** The record side ($Key/$Value) the instance works on. */
int smt_operand_side(const struct smt_inst *inst);

/** Formats epoch milliseconds the way Connect's Values.dateFormatFor picks
 *  (UTC, proleptic Gregorian): below one day "HH:mm:ss.SSS'Z'", a whole day
 *  "yyyy-MM-dd", else "yyyy-MM-dd'T'HH:mm:ss.SSS'Z'". out holds >= 40
 *  bytes; returns the length. */
size_t smt_fmt_java_date(char *out, int64_t ms);

/** Standard base64 (with padding) of p[0..len) into the arena. */
struct smt_bytes smt_arena_base64(struct smt_arena *a, const void *p,
                                  size_t len);

#endif /* SMT_TUTIL_H */

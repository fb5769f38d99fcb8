/*
 * jsonschema.h - a JSON Schema validator (drafts 2020-12 and 07) over our
 * value tree (val.h).
 *
 * A schema document is compiled once into an immutable validator tree:
 * keywords become fields of a node, patterns become compiled regexes,
 * every $ref is resolved to the node it names (within the document: JSON
 * pointers, $defs/definitions, $id and $anchor). Validating a record then
 * walks that tree without parsing anything and without allocating (only
 * BYTES values, which JSON renders as base64, are encoded into the arena
 * when a string keyword needs their text). The supported and unsupported
 * keywords are listed in docs/json-schema.md.
 */
#ifndef SMT_JSONSCHEMA_H
#define SMT_JSONSCHEMA_H

#include "val.h"

/* Drafts; SMT_JS_DRAFT_AUTO reads $schema (absent: 2020-12). */
enum { SMT_JS_DRAFT_AUTO = 0, SMT_JS_DRAFT7 = 7, SMT_JS_DRAFT2020 = 2020 };

struct smt_jsonschema;

/**
 * @brief Compiles the schema document text[0..len).
 * @param draft SMT_JS_DRAFT_AUTO, SMT_JS_DRAFT7 or SMT_JS_DRAFT2020.
 * @param formats 1: `format` asserts the formats we implement (others are
 *        ignored); 0: `format` is an annotation only.
 * @returns a new validator (free with smt_jsonschema_free()), or NULL with
 *          err (SMT_E_CONFIG): invalid JSON, a keyword with a value of the
 *          wrong shape, an invalid pattern, an unsupported $schema or
 *          keyword ($dynamicRef, unevaluatedItems/Properties), a $ref that
 *          does not resolve within the document (remote references are not
 *          fetched). The message names the schema location.
 * @remark text is copied; the validator is immutable and may be shared by
 *         threads.
 */
struct smt_jsonschema *smt_jsonschema_new(const char *text, size_t len,
                                          int draft, int formats,
                                          struct smt_err *err);

/** Frees a validator. NULL is a no-op. */
void smt_jsonschema_free(struct smt_jsonschema *js);

/** The draft the validator applies (SMT_JS_DRAFT7 or SMT_JS_DRAFT2020). */
int smt_jsonschema_draft(const struct smt_jsonschema *js);

/**
 * @brief Validates v against the schema.
 * @param a arena for the rare temporary (base64 text of a BYTES value); may
 *        be NULL when v holds no BYTES.
 * @returns 0 when valid; -1 with err (SMT_E_DATA) naming the instance
 *          location as a JSON pointer, the keyword and the schema location:
 *          "schema validation failed at /reading/temp_c: type: expected
 *          number, got string (schema #/properties/reading/...)". The first
 *          failure found is reported. SMT_E_LIMIT when the schema recurses
 *          deeper than 256 levels without consuming the instance.
 */
int smt_jsonschema_validate(const struct smt_jsonschema *js,
                            const struct smt_val *v, struct smt_arena *a,
                            struct smt_err *err);

#endif /* SMT_JSONSCHEMA_H */

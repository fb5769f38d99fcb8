/*
 * avro.h - the Avro codec: Avro schemas (JSON text) compiled into a form
 * the binary decoder and encoder walk, Confluent's AvroConverter mapping of
 * Avro onto Connect's data model, Connect schema -> Avro schema generation,
 * and the Confluent wire format (magic 0, 4-byte big-endian schema id, Avro
 * binary) with schemas from a registry (schemareg.h) or from local files.
 *
 * Mapping (as AvroConverter): record -> struct (field order kept), enum ->
 * STRING (enum parameters), array, map, ["null", T] -> optional T, a union
 * of two or more non-null types -> a struct named io.confluent.connect.avro
 * .Union with one optional field per branch (named by type: "int",
 * "string", or a named type's simple name; exactly one is set), int ->
 * INT32 (INT8/INT16 with connect.type), long -> INT64, float -> FLOAT32,
 * double -> FLOAT64, bytes/fixed -> BYTES, decimal -> Decimal, date -> Date,
 * time-millis -> Time, timestamp-millis -> Timestamp, micros -> INT64.
 * Recursive named types are rejected (Connect cannot express them).
 *
 * Decoding is bounded by the input: every length is checked against the
 * bytes left before anything is allocated for it, and elements that take
 * no bytes (null, empty records) are capped per datum.
 */
#ifndef SMT_AVRO_H
#define SMT_AVRO_H

#include "val.h"
#include "schemareg.h"

/** Deepest schema nesting accepted (records, arrays, maps, unions). */
#define SMT_AVRO_MAX_DEPTH 64
/** Most elements of zero-byte encoding (null, empty record) per datum. */
#define SMT_AVRO_MAX_EMPTY_ITEMS (1u << 16)

/* ---------------------------------------------------------------------- */
/* Schemas and datums (no wire format, no registry).                        */

struct smt_avro_schema;

/**
 * @brief Compiles Avro schema JSON text.
 * @returns a new schema (free with smt_avro_schema_free()), or NULL with
 *          err (SMT_E_DATA, message naming the problem and where).
 */
struct smt_avro_schema *smt_avro_schema_new(const char *text, size_t len,
                                            struct smt_err *err);
void smt_avro_schema_free(struct smt_avro_schema *s);

/** The Connect schema of s (borrowed, lives as long as s). */
const struct smt_schema *smt_avro_schema_connect(
    const struct smt_avro_schema *s);

/** Parsing Canonical Form of s (Avro spec), NUL-terminated, borrowed. */
const char *smt_avro_schema_pcf(const struct smt_avro_schema *s);

/**
 * @brief Decodes exactly one datum of schema s from p[0..len) into arena a.
 *
 * Strings, bytes and map keys are views into p (which must outlive the
 * arena's use of them, as for the JSON parser); record field names are
 * views into s. Returns the value, or NULL with err: SMT_E_DATA for a
 * truncated or invalid datum or trailing bytes, SMT_E_LIMIT for too many
 * zero-byte elements; the message names the byte offset and the field.
 */
struct smt_val *smt_avro_datum_decode(const struct smt_avro_schema *s,
                                      struct smt_arena *a, const char *p,
                                      size_t len, struct smt_err *err);

/**
 * @brief Appends the Avro binary encoding of v under schema s to b.
 *
 * Record fields are matched by name; a missing field takes its default (or
 * null in a union with null). Returns 0, or -1 with err (SMT_E_DATA,
 * "field 'a.b': ...") when v does not fit s; b is then left as it was.
 */
int smt_avro_datum_encode(const struct smt_avro_schema *s,
                          const struct smt_val *v, struct smt_buf *b,
                          struct smt_err *err);

/**
 * @brief Appends the Avro schema JSON that AvroConverter would generate
 *        for Connect schema cs to b (optional -> ["null",T] with default
 *        null, connect.name/version/doc/parameters, connect.type for
 *        INT8/INT16, logical types, enums and fixed kept from their
 *        parameters, unnamed structs named io.confluent.connect.avro.
 *        ConnectDefault, ConnectDefault2, ...).
 * @returns 0, or -1 with err (SMT_E_DATA) for what Avro cannot express (a
 *          map with non-string keys).
 */
int smt_avro_from_connect(const struct smt_schema *cs, struct smt_buf *b,
                          struct smt_err *err);

/* ---------------------------------------------------------------------- */
/* The codec: wire format, schema sources and caches for one pipeline.      */

struct smt_codec;

/** Codec settings (Confluent's serializer keys). */
struct smt_codec_conf {
    int auto_register; /* auto.register.schemas (default 1) */
    int use_latest;    /* use.latest.version (default 0) */
};

/**
 * @brief Returns a new codec; free with smt_codec_free().
 *
 * reg (may be NULL: local schemas only) is taken over on success and freed
 * with the codec. Thread-safe after setup: worker threads share one codec;
 * compiled schemas are cached by id and never change once inserted.
 */
struct smt_codec *smt_codec_new(struct smt_schemareg     *reg,
                                const struct smt_codec_conf *conf);
void smt_codec_free(struct smt_codec *c);

/** The codec's registry client, or NULL (local schemas only). */
struct smt_schemareg *smt_codec_registry(const struct smt_codec *c);

/**
 * @brief Adds a local schema under id (and, optionally, subject: the
 *        subject's latest schema is the one added last).
 *
 * Call before the codec is shared. Returns 0, or -1 with err (SMT_E_DATA:
 * the schema does not compile; SMT_E_CONFIG: the id is taken).
 */
int smt_codec_add_local(struct smt_codec *c, int32_t id, const char *subject,
                        const char *text, size_t len, struct smt_err *err);

/**
 * @brief Decodes a Confluent wire-format message.
 *
 * *schema is set to the Connect schema of the writer's schema (owned by
 * the codec). Returns the value in a, or NULL with err: SMT_E_DATA for a
 * bad magic byte, a short header, an unknown id (local schemas), a
 * truncated datum or trailing bytes; the registry's code (retriable or
 * not) when the registry cannot answer.
 */
struct smt_val *smt_avro_decode(struct smt_codec *c, struct smt_arena *a,
                                struct smt_bytes raw,
                                const struct smt_schema **schema,
                                struct smt_err *err);

/**
 * @brief Encodes val with Connect schema in the wire format into a.
 *
 * schema the very one a decode returned: the input's id and schema.
 * Otherwise the Avro schema generated from it, registered under the
 * subject "<topic>-key"/"<topic>-value" (auto.register.schemas; with local
 * schemas only: a local schema of the same canonical form), or with
 * use.latest.version the subject's latest schema. Returns 0, or -1 with
 * err (SMT_E_DATA when val does not fit, or no schema can be had).
 */
int smt_avro_encode(struct smt_codec *c, struct smt_arena *a,
                    struct smt_bytes topic, int is_key,
                    const struct smt_val *val,
                    const struct smt_schema *schema, struct smt_bytes *out,
                    struct smt_err *err);

#endif /* SMT_AVRO_H */

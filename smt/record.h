/*
 * record.h - the record a pipeline works on.
 *
 * A record is views into the consumed message plus an arena. The key and
 * the value are decoded only when a step asks for them (smt_record_doc()),
 * at most once per input record however many routes read them: a route's
 * record is a fork of the input record and shares its decoded tree
 * read-only; a route that changes the tree takes a private copy first
 * (smt_record_doc_mut()). Encoding happens once, at the end of a route's
 * chain, and only for a side that was changed; an unchanged side leaves with
 * exactly the bytes it came with.
 */
#ifndef SMT_RECORD_H
#define SMT_RECORD_H

#include "val.h"

struct smt_codec; /* avro.h: schema sources and caches of a pipeline */

enum smt_side { SMT_KEY = 0, SMT_VALUE = 1 };

/** Wire formats of a key or value. */
enum smt_format {
    SMT_FMT_JSON = 0,      /* schemaless JSON (JsonConverter, schemas.enable=false) */
    SMT_FMT_JSON_ENVELOPE, /* {"schema":..,"payload":..} (schemas.enable=true) */
    SMT_FMT_STRING,        /* UTF-8 text: decoded as one STRING */
    SMT_FMT_BYTES,         /* opaque: decoded as one BYTES */
    SMT_FMT_AVRO,          /* Confluent wire format (avro.h); needs a codec */
};

/** Decoding state of one side. */
enum smt_dstate {
    SMT_DS_RAW = 0, /* only the bytes; doc not decoded yet */
    SMT_DS_SHARED,  /* doc decoded, read-only, may be shared with other routes */
    SMT_DS_DIRTY,   /* doc is this record's own and was changed: raw is stale */
};

struct smt_data {
    struct smt_bytes         raw;    /* wire bytes; ptr NULL = null */
    struct smt_val          *doc;    /* decoded tree, NULL until decoded */
    const struct smt_schema *schema; /* NULL = schemaless */
    struct smt_data         *origin; /* input record's side (fork), or NULL */
    uint8_t                  fmt;    /* enum smt_format */
    uint8_t                  state;  /* enum smt_dstate */
};

struct smt_header {
    struct smt_bytes name;
    struct smt_bytes value; /* ptr NULL = null header value */
};

#define SMT_TS_NONE INT64_MIN /* record has no timestamp */

struct smt_record {
    struct smt_bytes   topic;
    int32_t            partition; /* -1 = unknown / let the producer choose */
    int64_t            offset;    /* -1 = unknown */
    int64_t            ts_ms;     /* SMT_TS_NONE = none */
    struct smt_data    key, value;
    struct smt_header *hdrs;      /* arena array */
    uint32_t           nhdrs, hcap;
    struct smt_arena  *arena;     /* everything per-record lives here */
    /* 1->N (transform.h, "Splitting"): the further records a step made of
     * this one, an arena array; NULL/0 except right after such a step and
     * in the result of smt_chain_apply(). */
    struct smt_record *split;
    uint32_t           nsplit;
    /* Avro's schema sources and caches (the pipeline's, shared by every
     * worker); NULL unless a format is SMT_FMT_AVRO. Set by the pipeline
     * on each route's record; forks and splits copy it. */
    struct smt_codec  *codec;
    /* Set by the pipeline on the record of the last route to read the
     * input's trees (and one that is never retried): a change then takes
     * the origin's decoded tree instead of copying it. */
    uint8_t            take_origin;
};

/** Initialises rec with null key/value, no headers, the given formats and
 *  arena (borrowed; must outlive the record). */
void smt_record_init(struct smt_record *rec, struct smt_arena *arena,
                     int key_fmt, int value_fmt);

/** Makes out a fork of in for one route: same views, its own header array
 *  (in the same arena), key/value shared with in until changed. in must
 *  outlive out. */
void smt_record_fork(struct smt_record *out, struct smt_record *in);

/** Decoded key or value, read-only. Decodes on first use (into the origin
 *  record when forked, so other routes reuse it). A null side decodes to a
 *  NULL node. Returns NULL with err (stage KEY_/VALUE_CONVERTER, code
 *  SMT_E_DATA) when the bytes do not decode. */
const struct smt_val *smt_record_doc(struct smt_record *rec, int side,
                                     struct smt_err *err);

/** Decoded key or value for a change: makes it this record's own copy
 *  (or, with take_origin set, takes the origin's tree itself) and marks the
 *  side dirty. Same errors as smt_record_doc(). */
struct smt_val *smt_record_doc_mut(struct smt_record *rec, int side,
                                   struct smt_err *err);

/** Replaces a whole side with val (schema may be NULL); marks it dirty. */
void smt_record_set_doc(struct smt_record *rec, int side, struct smt_val *val,
                        const struct smt_schema *schema);

/** Encodes every dirty side into the arena (raw updated, state SHARED).
 *  Returns 0, or -1 with err (stage KEY_/VALUE_CONVERTER) when a value
 *  cannot be written in its format. */
int smt_record_encode(struct smt_record *rec, struct smt_err *err);

/** Sets the topic (bytes borrowed: arena or config lifetime). */
void smt_record_set_topic(struct smt_record *rec, struct smt_bytes topic);

/** Appends a header (views borrowed). */
void smt_record_header_add(struct smt_record *rec, struct smt_bytes name,
                           struct smt_bytes value);
/** Removes every header named name; returns how many were removed. */
uint32_t smt_record_header_del(struct smt_record *rec, struct smt_bytes name);
/** The last header named name, or NULL. */
const struct smt_header *smt_record_header_last(const struct smt_record *rec,
                                                struct smt_bytes name);

/** Decodes raw bytes in format fmt into a tree in the arena (used by
 *  smt_record_doc and by tools). Returns NULL with err on failure. Avro
 *  needs the codec, which this function does not have: it fails. */
struct smt_val *smt_decode(struct smt_arena *a, int fmt, struct smt_bytes raw,
                           const struct smt_schema **schema,
                           struct smt_err *err);

/** Encodes val (with schema for the envelope) in format fmt into the arena.
 *  NULL val or a NULL node gives a null result (tombstone). */
int smt_encode(struct smt_arena *a, int fmt, const struct smt_val *val,
               const struct smt_schema *schema, struct smt_bytes *out,
               struct smt_err *err);

#endif /* SMT_RECORD_H */

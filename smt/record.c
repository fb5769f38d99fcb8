/*
 * record.c - records, lazy decoding shared across routes, and encoding.
 *
 * Decoding state lives in struct smt_data. A route's record is a fork of
 * the input record: its sides point at the input's (`origin`), so the first
 * route that needs the value decodes it into the input record and every
 * later route reuses that tree. A route that changes a side clones the tree
 * into the shared arena first (copying is far cheaper than parsing, and raw
 * spans of untouched subtrees survive the copy, so they are still written
 * by memcpy), except the last route when it is never retried
 * (`take_origin`): nothing reads the input's tree after it, so it changes
 * that tree in place. Encoding runs once per changed side at the end of a
 * route.
 */
#include "record.h"
#include "avro.h"
#include "json.h"

void smt_record_init(struct smt_record *rec, struct smt_arena *arena,
                     int key_fmt, int value_fmt)
{
    memset(rec, 0, sizeof(*rec));
    rec->partition = -1;
    rec->offset = -1;
    rec->ts_ms = SMT_TS_NONE;
    rec->key.fmt = (uint8_t)key_fmt;
    rec->value.fmt = (uint8_t)value_fmt;
    rec->arena = arena;
}

void smt_record_fork(struct smt_record *out, struct smt_record *in)
{
    *out = *in;
    out->key.origin = in->key.origin ? in->key.origin : &in->key;
    out->value.origin = in->value.origin ? in->value.origin : &in->value;
    out->take_origin = 0;
    if (in->nhdrs > 0) {
        /* two spare slots: routes commonly add a header or two */
        out->hcap = in->nhdrs + 2;
        out->hdrs = smt_arena_alloc(in->arena, out->hcap * sizeof(*out->hdrs));
        memcpy(out->hdrs, in->hdrs, in->nhdrs * sizeof(*out->hdrs));
    } else {
        out->hdrs = NULL;
        out->hcap = 0;
    }
}

struct smt_val *smt_decode(struct smt_arena *a, int fmt, struct smt_bytes raw,
                           const struct smt_schema **schema,
                           struct smt_err *err)
{
    struct smt_val *root;

    if (schema != NULL) {
        *schema = NULL;
    }
    if (raw.ptr == NULL) {
        return smt_val_null(a);
    }
    switch (fmt) {
    case SMT_FMT_STRING:
        return smt_val_str(a, SMT_STRING, raw.ptr, raw.len);
    case SMT_FMT_BYTES:
        return smt_val_str(a, SMT_BYTES, raw.ptr, raw.len);
    case SMT_FMT_JSON_ENVELOPE:
        root = smt_json_parse(a, raw.ptr, raw.len, err);
        if (root == NULL) {
            return NULL;
        }
        return smt_envelope_decode(a, root, schema, err);
    case SMT_FMT_JSON:
        return smt_json_parse(a, raw.ptr, raw.len, err);
    case SMT_FMT_AVRO:
        return smt_avro_decode(NULL, a, raw, schema, err);
    default:
        smt_err_set(err, SMT_E_DATA, "format %d is not supported", fmt);
        return NULL;
    }
}

int smt_encode(struct smt_arena *a, int fmt, const struct smt_val *val,
               const struct smt_schema *schema, struct smt_bytes *out,
               struct smt_err *err)
{
    struct smt_buf b;
    int            rc;

    if (val == NULL || val->type == SMT_NULL) {
        *out = SMT_BYTES_NULL;
        return 0;
    }
    switch (fmt) {
    case SMT_FMT_STRING:
    case SMT_FMT_BYTES:
        /* Text and bytes go out as they are; anything structured that a
         * chain made (ValueToKey on a string key, say) is written as JSON. */
        if (val->type == SMT_STRING || val->type == SMT_BYTES) {
            out->ptr = val->u.s.ptr;
            out->len = val->u.s.len;
            return 0;
        }
        return smt_json_write_arena(a, val, out, err);
    case SMT_FMT_AVRO:
        return smt_avro_encode(NULL, a, SMT_BYTES_NULL, 0, val, schema, out,
                               err);
    case SMT_FMT_JSON_ENVELOPE:
        smt_buf_init(&b);
        rc = smt_envelope_write(&b, val, schema, err);
        if (rc == 0) {
            out->ptr = smt_arena_memdup(a, b.ptr, b.len);
            out->len = b.len;
        }
        smt_buf_fini(&b);
        return rc;
    case SMT_FMT_JSON:
    default:
        if (val->raw != NULL) {
            out->ptr = val->raw;
            out->len = val->rawlen;
            return 0;
        }
        return smt_json_write_arena(a, val, out, err);
    }
}

static int side_stage(int side)
{
    return side == SMT_KEY ? SMT_STAGE_KEY_CONVERTER
                           : SMT_STAGE_VALUE_CONVERTER;
}

/* Decodes d (in place) if it has not been decoded yet. */
static int data_decode(struct smt_data *d, struct smt_record *rec, int side,
                       struct smt_err *err)
{
    const struct smt_schema *schema = NULL;

    if (d->state != SMT_DS_RAW) {
        return 0;
    }
    if (d->fmt == SMT_FMT_AVRO) {
        d->doc = smt_avro_decode(rec->codec, rec->arena, d->raw, &schema,
                                 err);
    } else {
        d->doc = smt_decode(rec->arena, d->fmt, d->raw, &schema, err);
    }
    if (d->doc == NULL) {
        if (err != NULL) {
            err->stage = side_stage(side);
        }
        return -1;
    }
    d->schema = schema;
    d->state = SMT_DS_SHARED;
    return 0;
}

const struct smt_val *smt_record_doc(struct smt_record *rec, int side,
                                     struct smt_err *err)
{
    struct smt_data *d = side == SMT_KEY ? &rec->key : &rec->value;

    if (d->state == SMT_DS_RAW) {
        if (d->origin != NULL && d->origin->raw.ptr == d->raw.ptr &&
            d->origin->raw.len == d->raw.len) {
            /* Still the input's bytes: decode once there, share it. */
            if (data_decode(d->origin, rec, side, err) != 0) {
                return NULL;
            }
            d->doc = d->origin->doc;
            d->schema = d->origin->schema;
            d->state = SMT_DS_SHARED;
        } else if (data_decode(d, rec, side, err) != 0) {
            return NULL;
        }
    }
    return d->doc;
}

struct smt_val *smt_record_doc_mut(struct smt_record *rec, int side,
                                   struct smt_err *err)
{
    struct smt_data *d = side == SMT_KEY ? &rec->key : &rec->value;

    if (d->state == SMT_DS_DIRTY) {
        return d->doc;
    }
    if (smt_record_doc(rec, side, err) == NULL) {
        return NULL;
    }
    /* The tree may be the input's, read by other routes: take a copy (of
     * its containers; scalar nodes are never changed in place), unless no
     * one reads the input's tree after this record. */
    if (!rec->take_origin || d->origin == NULL || d->doc != d->origin->doc) {
        d->doc = smt_val_fork(rec->arena, d->doc);
    }
    d->state = SMT_DS_DIRTY;
    return d->doc;
}

void smt_record_set_doc(struct smt_record *rec, int side, struct smt_val *val,
                        const struct smt_schema *schema)
{
    struct smt_data *d = side == SMT_KEY ? &rec->key : &rec->value;

    d->doc = val != NULL ? val : smt_val_null(rec->arena);
    d->schema = schema;
    d->state = SMT_DS_DIRTY;
}

int smt_record_encode(struct smt_record *rec, struct smt_err *err)
{
    int              side;
    struct smt_data *d;

    for (side = SMT_KEY; side <= SMT_VALUE; side++) {
        d = side == SMT_KEY ? &rec->key : &rec->value;
        if (d->state != SMT_DS_DIRTY) {
            continue;
        }
        if (d->fmt == SMT_FMT_AVRO
                ? smt_avro_encode(rec->codec, rec->arena, rec->topic,
                                  side == SMT_KEY, d->doc, d->schema, &d->raw,
                                  err) != 0
                : smt_encode(rec->arena, d->fmt, d->doc, d->schema, &d->raw,
                             err) != 0) {
            if (err != NULL) {
                err->stage = side_stage(side);
            }
            return -1;
        }
        d->state = SMT_DS_SHARED;
        d->origin = NULL;
    }
    return 0;
}

void smt_record_set_topic(struct smt_record *rec, struct smt_bytes topic)
{
    rec->topic = topic;
}

void smt_record_header_add(struct smt_record *rec, struct smt_bytes name,
                           struct smt_bytes value)
{
    if (rec->nhdrs == rec->hcap) {
        uint32_t cap = rec->hcap ? rec->hcap * 2 : 4;

        if (rec->hcap == 0) {
            /* the first header of a record: nothing to copy */
            rec->hdrs = smt_arena_alloc(rec->arena, cap * sizeof(*rec->hdrs));
        } else {
            rec->hdrs = smt_arena_grow(rec->arena, rec->hdrs, rec->nhdrs, cap,
                                       sizeof(*rec->hdrs));
        }
        rec->hcap = cap;
    }
    rec->hdrs[rec->nhdrs].name = name;
    rec->hdrs[rec->nhdrs].value = value;
    rec->nhdrs++;
}

uint32_t smt_record_header_del(struct smt_record *rec, struct smt_bytes name)
{
    uint32_t i, j = 0, removed;

    for (i = 0; i < rec->nhdrs; i++) {
        if (!smt_bytes_eq(rec->hdrs[i].name, name)) {
            rec->hdrs[j++] = rec->hdrs[i];
        }
    }
    removed = rec->nhdrs - j;
    rec->nhdrs = j;
    return removed;
}

const struct smt_header *smt_record_header_last(const struct smt_record *rec,
                                                struct smt_bytes name)
{
    uint32_t i = rec->nhdrs;

    while (i-- > 0) {
        if (smt_bytes_eq(rec->hdrs[i].name, name)) {
            return &rec->hdrs[i];
        }
    }
    return NULL;
}

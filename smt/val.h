/*
 * val.h - the value tree records are decoded into, Connect schemas, and
 * nested field paths.
 *
 * The tree is jq's jv shape without reference counts: every node lives in
 * the record's arena and is released with it. Connect's type system is kept
 * exact (int8..int64, float32/float64, bytes apart from strings) so that
 * Cast, MaskField and Avro all see the types Connect would.
 *
 * A node decoded from JSON keeps `raw`, the exact source text of the value.
 * As long as a node (and everything below it) is unchanged the serializer
 * copies `raw` instead of re-encoding, so untouched parts of a value leave
 * byte for byte as they came. Every function below that changes a node
 * clears `raw` on that node; code that changes a node found through a path
 * must use smt_path_parent_mut(), which clears `raw` on the way down.
 */
#ifndef SMT_VAL_H
#define SMT_VAL_H

#include "base.h"

enum smt_type {
    SMT_NULL = 0,
    SMT_BOOL,
    SMT_INT8,
    SMT_INT16,
    SMT_INT32,
    SMT_INT64,
    SMT_FLOAT32,
    SMT_FLOAT64,
    SMT_STRING,
    SMT_BYTES,
    SMT_ARRAY,
    SMT_OBJECT,  /* schemaless map or Connect struct; member order kept */
    SMT_DECIMAL, /* u.s holds the decimal text ("123.0"); scale = digits after '.' */
    SMT_DATE,    /* java.util.Date: u.i = epoch milliseconds (Date/Time/Timestamp) */
    SMT_TYPE_COUNT
};

struct smt_val;

struct smt_member {
    struct smt_bytes key; /* unescaped UTF-8 */
    struct smt_val  *val;
};

struct smt_val {
    uint8_t     type;  /* enum smt_type */
    uint8_t     flags; /* SMT_VF_* */
    uint32_t    n;     /* ARRAY/OBJECT: element count */
    uint32_t    cap;   /* ARRAY/OBJECT: allocated slots */
    const char *raw;   /* exact source text while unchanged, else NULL */
    size_t      rawlen;
    union {
        int                b;       /* BOOL */
        int64_t            i;       /* INT8..INT64, DATE */
        double             d;       /* FLOAT32 (rounded to float), FLOAT64 */
        struct smt_bytes   s;       /* STRING, BYTES, DECIMAL */
        struct smt_val   **items;   /* ARRAY */
        struct smt_member *members; /* OBJECT */
    } u;
};

/* flags */
#define SMT_VF_BIGINT 0x01 /* a JSON integer beyond int64, kept as FLOAT64 */
/* OBJECT: no member key needs escaping in JSON, so the writer copies the
 * keys as they are. Set by the JSON parser on objects whose keys had no
 * escapes; smt_obj_set clears it when it adds a key. Code that writes a
 * member's key directly must clear it too. */
#define SMT_VF_PLAINKEYS 0x02

/** Name of a type as Connect spells it in messages ("INT32", "STRING"). */
const char *smt_type_name(int type);

/** The Java class Connect's schemaless runtime would hold for v
 *  ("java.lang.Integer", "java.util.HashMap", "null" for NULL/absent). */
const char *smt_val_java_class(const struct smt_val *v);

/* Constructors: all allocate from the arena and never fail. */
struct smt_val *smt_val_null(struct smt_arena *a);
struct smt_val *smt_val_bool(struct smt_arena *a, int b);
struct smt_val *smt_val_int(struct smt_arena *a, int type, int64_t i);
struct smt_val *smt_val_float(struct smt_arena *a, int type, double d);
/** A STRING (or BYTES/DECIMAL with type) viewing p; the bytes are borrowed
 *  and must outlive the arena (copy with smt_arena_memdup first if not). */
struct smt_val *smt_val_str(struct smt_arena *a, int type, const char *p,
                            size_t len);
struct smt_val *smt_val_array(struct smt_arena *a, uint32_t cap);
struct smt_val *smt_val_object(struct smt_arena *a, uint32_t cap);

/** Deep copy of v into arena a; keeps raw views (they stay valid because
 *  they point into the same consumed message). */
struct smt_val *smt_val_clone(struct smt_arena *a, const struct smt_val *v);

/** A copy of v to change (what smt_record_doc_mut() takes of a shared
 *  tree): v itself and every object and array below it are copied, the
 *  scalar nodes below the root are shared with v. This is enough because a
 *  scalar node is never changed in place once it is in a tree: a change
 *  puts a new node in the container (smt_obj_set, members[i].val = ...).
 *  Code that changes the tree must keep it that way. */
struct smt_val *smt_val_fork(struct smt_arena *a, const struct smt_val *v);

/** Deep equality with Connect's rules (types must match; float compare by
 *  value; object member order ignored). */
int smt_val_equal(const struct smt_val *a, const struct smt_val *b);

/** True for INT8..INT64. */
static inline int smt_type_is_int(int t)
{
    return t >= SMT_INT8 && t <= SMT_INT64;
}
/** True for INT8..FLOAT64. */
static inline int smt_type_is_num(int t)
{
    return t >= SMT_INT8 && t <= SMT_FLOAT64;
}

/** Numeric value as double (ints converted, bool 0/1). 0 for others. */
double smt_val_as_double(const struct smt_val *v);

/* Objects. Lookups are linear: records have tens of fields, and a scan of a
 * contiguous member array beats hashing at that size. */

/** Member value by name, or NULL if absent. */
struct smt_val *smt_obj_get(const struct smt_val *obj, const char *name,
                            size_t len);
/** Index of member name, or -1. */
long smt_obj_index(const struct smt_val *obj, const char *name, size_t len);
/** Sets name to val (replacing in place, or appending). Clears obj->raw.
 *  The name bytes are borrowed (arena or config lifetime). */
void smt_obj_set(struct smt_arena *a, struct smt_val *obj, const char *name,
                 size_t len, struct smt_val *val);
/** Removes name; returns the removed value or NULL. Clears obj->raw. */
struct smt_val *smt_obj_del(struct smt_val *obj, const char *name, size_t len);

/** Appends v to an array. Clears arr->raw. */
void smt_arr_push(struct smt_arena *a, struct smt_val *arr, struct smt_val *v);

/* ---------------------------------------------------------------------- */
/* Connect schemas (the JSON envelope now, Avro later).                     */

struct smt_field;

struct smt_schema {
    uint8_t            type;     /* enum smt_type; OBJECT = struct or map */
    uint8_t            optional;
    uint8_t            is_map;   /* OBJECT: 1 = map (keys/values), 0 = struct */
    const char        *name;     /* logical type or record name, or NULL */
    int32_t            version;  /* 0 = unset */
    const char        *doc;
    struct smt_val    *params;   /* OBJECT of string -> string, or NULL */
    struct smt_val    *def;      /* default value, or NULL for none */
    struct smt_field  *fields;   /* struct */
    uint32_t           nfields;
    struct smt_schema *items;    /* array */
    struct smt_schema *keys;     /* map */
    struct smt_schema *values;   /* map */
};

struct smt_field {
    struct smt_bytes   name;
    struct smt_schema *schema;
};

#define SMT_LOGICAL_DECIMAL "org.apache.kafka.connect.data.Decimal"

/* A Decimal travels as its unscaled value, BigInteger.toByteArray(): the
 * minimal big-endian two's complement bytes (the JSON envelope base64s
 * them, Avro writes them as bytes or fixed). */

/** The DECIMAL node of the unscaled integer p[0..n) and scale, in plain
 *  notation ("-1.50"; a negative scale appends zeros; n 0 reads as 0). */
struct smt_val *smt_decimal_from_unscaled(struct smt_arena *a,
                                          const unsigned char *p, size_t n,
                                          int scale);

/** Room smt_decimal_to_unscaled() may need for decimal text of len bytes. */
#define SMT_DECIMAL_UNSCALED_CAP(len) ((len) / 2 + 3)

/** The unscaled bytes of decimal text t, which must have exactly scale
 *  digits after its point (Connect: "BigDecimal has mismatching scale
 *  value for given Decimal schema"), into out (cap bytes). Returns their
 *  count, or -1 with err (SMT_E_DATA; SMT_E_LIMIT when cap is too small). */
long smt_decimal_to_unscaled(struct smt_bytes t, int scale, unsigned char *out,
                             size_t cap, struct smt_err *err);
#define SMT_LOGICAL_DATE "org.apache.kafka.connect.data.Date"
#define SMT_LOGICAL_TIME "org.apache.kafka.connect.data.Time"
#define SMT_LOGICAL_TIMESTAMP "org.apache.kafka.connect.data.Timestamp"

/** Field schema by name, or NULL. */
struct smt_schema *smt_schema_field(const struct smt_schema *s,
                                    const char *name, size_t len);
/** Shallow copy into the arena (fields array copied, field schemas shared). */
struct smt_schema *smt_schema_copy(struct smt_arena *a,
                                   const struct smt_schema *s);

/* ---------------------------------------------------------------------- */
/* Field paths: KIP-821. V1 = the whole text is one field name. V2 = dotted
 * path; a segment in backticks may contain dots, and a doubled backtick
 * inside backticks stands for one backtick. */

struct smt_path {
    char            *text;  /* the configured text (owned) */
    uint32_t         n;     /* segments */
    struct smt_bytes *seg;  /* owned, each pointing into `buf` */
    char            *buf;   /* owned storage for unescaped segments */
};

enum { SMT_PATH_V1 = 1, SMT_PATH_V2 = 2 };

/** Parses text into p with the given syntax version. Returns 0, or -1 with
 *  err (SMT_E_CONFIG) for an empty segment or unbalanced backtick. Free
 *  with smt_path_fini(). */
int smt_path_parse(struct smt_path *p, const char *text, int version,
                   struct smt_err *err);
void smt_path_fini(struct smt_path *p);

/** The value at path p under root, or NULL when any step is absent or not an
 *  object. Does not change anything. */
struct smt_val *smt_path_get(const struct smt_val *root,
                             const struct smt_path *p);

/** The object holding the last segment of p, for a change: clears raw on
 *  root and every object walked through. Returns NULL (nothing changed) if
 *  an intermediate step is absent or not an object, unless create is set,
 *  in which case absent intermediates are created as empty objects (a
 *  present non-object still yields NULL). */
struct smt_val *smt_path_parent_mut(struct smt_arena *a, struct smt_val *root,
                                    const struct smt_path *p, int create);

/** The last segment of p. */
static inline struct smt_bytes smt_path_leaf(const struct smt_path *p)
{
    return p->seg[p->n - 1];
}

#endif /* SMT_VAL_H */

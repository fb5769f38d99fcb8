/*
 * transform.h - transforms, predicates, conditions and chains.
 *
 * A transform type is one const descriptor (struct smt_transform) with an
 * option table; a configured step is an instance (struct smt_inst) made per
 * worker from an immutable step configuration. init() compiles everything,
 * apply() never parses configuration, never blocks, and allocates only from
 * the record's arena. Routing is data (the record's topic), not a verdict.
 *
 * Connect's predicates and our value conditions are one mechanism: a
 * compiled condition tree (struct smt_cond) whose leaves are comparisons on
 * a record part or a Connect predicate instance. A step's `predicate` +
 * `negate` and a route's `condition` are both conditions, compiled once at
 * load, immutable afterwards and safe to share between worker threads.
 */
#ifndef SMT_TRANSFORM_H
#define SMT_TRANSFORM_H

#include "conf.h"
#include "record.h"

enum smt_verdict { SMT_PASS = 0, SMT_DROP = 1, SMT_FAIL = -1 };

struct smt_inst;

/* descriptor flags */
#define SMT_F_KEYVALUE 0x01  /* comes as $Key and $Value variants */
#define SMT_F_PREDICATE 0x02 /* a Connect predicate: test() instead of apply() */
#define SMT_F_NEEDS_DOC 0x04 /* reads the decoded key/value */
#define SMT_F_OURS 0x08      /* not part of Kafka Connect */

struct smt_transform {
    const char           *name;    /* snake_case: "mask_field" */
    const char           *connect; /* Connect simple class name: "MaskField", or NULL */
    const char           *pkg;     /* Java package of the Connect class, or NULL */
    const char           *doc;     /* one line */
    const struct smt_opt *opts;    /* {0}-terminated */
    size_t                conf_size;
    unsigned              flags;   /* SMT_F_* */
    /** Per-instance set-up: cross-field checks, compile regexes, paths.
     *  Returns 0, or -1 with err (SMT_E_CONFIG, Connect's message). Also run
     *  once at load to validate. */
    int (*init)(struct smt_inst *inst, struct smt_err *err);
    /** Transforms: changes rec; SMT_FAIL with err (stage left NONE unless a
     *  converter failed: the chain sets TRANSFORMATION). */
    enum smt_verdict (*apply)(struct smt_inst *inst, struct smt_record *rec,
                              struct smt_err *err);
    /** Predicates: 1 true, 0 false, -1 with err. */
    int (*test)(const struct smt_inst *inst, struct smt_record *rec,
                struct smt_err *err);
    void (*destroy)(struct smt_inst *inst); /* NULL-safe on state */
};

struct smt_counters {
    uint64_t in, passed, dropped, failed;
};

struct smt_cond;

struct smt_inst {
    const struct smt_transform *t;
    const char                 *id;    /* step name, or "<type>#<index>" */
    int                         side;  /* SMT_KEY / SMT_VALUE (KEYVALUE only) */
    const void                 *conf;  /* filled from t->opts; read-only */
    void                       *state; /* owned by t: set in init, freed in destroy */
    const struct smt_cond      *gate;  /* apply only when true; NULL = always */
    struct smt_counters         n;
};

/** The Java class Connect would name for this instance, e.g.
 *  "org.apache.kafka.connect.transforms.MaskField$Value", or
 *  "smtproxy.<name>" for our own. Returns a pointer into buf (>= 160). */
const char *smt_inst_class(const struct smt_inst *inst, char *buf,
                           size_t size);

/* ---------------------------------------------------------------------- */
/* Registry: an explicit list (smt/registry.c), no constructor magic.       */

/** NULL-terminated list of every transform and predicate. */
extern const struct smt_transform *const smt_registry[];

/** Resolves a type name: snake name ("mask_field"), Connect simple name
 *  ("MaskField", "Filter"), or fully-qualified class, each optionally with
 *  "$Key"/"$Value". *side gets SMT_KEY/SMT_VALUE (value when no suffix).
 *  Returns NULL if unknown or if the suffix does not fit the type. */
const struct smt_transform *smt_registry_find(const char *type, int *side);

/* ---------------------------------------------------------------------- */
/* Conditions                                                               */

enum smt_cond_kind {
    SMT_COND_ALL = 1, /* and: every child true (empty: true) */
    SMT_COND_ANY,     /* or: some child true (empty: false) */
    SMT_COND_NOT,
    SMT_COND_CMP,  /* a comparison on a record part */
    SMT_COND_PRED, /* a Connect predicate instance */
};

/** Compiles a condition from a config node (the YAML `condition:` syntax,
 *  docs/config.md). `preds` is the pipeline's `predicates:` map node (may be
 *  NULL), used to resolve `predicate: name` leaves. Errors go to d with
 *  positions. Returns a new condition (free with smt_cond_free()), or NULL. */
struct smt_cond *smt_cond_compile(const struct smt_cnode *node,
                                  const struct smt_cnode *preds,
                                  struct smt_arena *a, struct smt_diags *d);

/** Compiles the named predicate from the `predicates:` map (Connect
 *  predicate with type and options, or a `condition`), with negate. */
struct smt_cond *smt_cond_predicate(const char *name,
                                    const struct smt_cnode *at,
                                    const struct smt_cnode *preds, int negate,
                                    struct smt_arena *a, struct smt_diags *d);

/** Evaluates cond on rec: 1 true, 0 false, -1 with err (e.g. the value does
 *  not decode). */
int smt_cond_eval(const struct smt_cond *cond, struct smt_record *rec,
                  struct smt_err *err);

void smt_cond_free(struct smt_cond *cond);

/* ---------------------------------------------------------------------- */
/* Steps and chains                                                         */

/** One configured step, immutable after load, shared by all workers. */
struct smt_step_conf {
    const struct smt_transform *t;
    char                       *id;
    int                         side;
    void                       *conf; /* t->conf_size bytes, filled by the loader */
    struct smt_cond            *gate; /* predicate/negate or `if:` condition */
};

struct smt_chain_conf {
    uint32_t              n;
    struct smt_step_conf *steps;
};

/** Loads a YAML `transforms:` sequence (each item: type, optional name,
 *  predicate, negate, if, and the transform's options) into cc. Runs every
 *  step's init once to validate. Errors go to d. Returns 0 or -1. */
int smt_chain_conf_load(struct smt_chain_conf *cc, const struct smt_cnode *seq,
                        const struct smt_cnode *preds, struct smt_arena *a,
                        struct smt_diags *d);
void smt_chain_conf_fini(struct smt_chain_conf *cc);

struct smt_chain {
    uint32_t         n;
    struct smt_inst *steps;
};

/** Instantiates a chain for one worker (init on every step). Returns a new
 *  chain (free with smt_chain_free()), or NULL with err. */
struct smt_chain *smt_chain_new(const struct smt_chain_conf *cc,
                                struct smt_err *err);
void smt_chain_free(struct smt_chain *chain);

/* Splitting (1->N). A step may turn one record into several (the Lua
 * step returning a list of records): it returns SMT_PASS with the first
 * record in rec itself and the others in rec->split[0..rec->nsplit), an
 * array in rec->arena. Each of those records must own its header array
 * (never share one with another record: DropHeaders compacts in place)
 * and must not share a DIRTY key/value tree with another record (fork it
 * with smt_val_fork(); SHARED trees may be shared, they are copied before
 * a change). A step that splits must leave split/nsplit of every record it
 * makes at NULL/0.
 *
 * smt_chain_apply() then runs the remaining steps on each record on its
 * own, in order: a later drop (Filter) drops only that record, a later
 * split splits it again. A failure of any of them fails the whole input
 * (SMT_FAIL, one error, no partial output), so the DLQ gets the input
 * once. What survives comes back the same way: rec is the first record,
 * rec->split the others in order; SMT_DROP when none survives. A chain
 * whose steps never split pays one predictable branch per step. */

/** Runs rec through the chain in order. A step whose gate is false passes
 *  the record on unchanged. SMT_DROP stops the chain (not an error).
 *  SMT_FAIL stops it with err (stage TRANSFORMATION unless a converter
 *  failed) and *failed = index of the step. On SMT_PASS, rec->split and
 *  rec->nsplit hold the further records of a split (see above). */
enum smt_verdict smt_chain_apply(struct smt_chain *chain,
                                 struct smt_record *rec, struct smt_err *err,
                                 uint32_t *failed);

#endif /* SMT_TRANSFORM_H */

/*
 * conf.h - configuration trees with source positions, diagnostics, and
 * option tables.
 *
 * Every configuration source (a YAML pipeline file, a Kafka Connect
 * .properties file, a Connect REST JSON body) is first read into one
 * generic tree of smt_cnode, each node carrying its 1-based line and
 * column. Everything after that (option tables, routes, conditions) walks
 * that tree, so there is one validation path and every error can name
 * file:line:col whatever the source format was.
 */
#ifndef SMT_CONF_H
#define SMT_CONF_H

#include "base.h"

enum smt_cnode_kind { SMT_CN_NULL = 0, SMT_CN_SCALAR, SMT_CN_SEQ, SMT_CN_MAP };

struct smt_cnode {
    uint8_t            kind;   /* enum smt_cnode_kind */
    uint8_t            quoted; /* scalar was quoted in the source */
    uint8_t            secret; /* from ${ENV} or a secret-looking key: never print */
    uint32_t           line;   /* 1-based */
    uint32_t           col;    /* 1-based */
    const char        *file;   /* borrowed from the tree */
    char              *s;      /* SCALAR: NUL-terminated text */
    size_t             len;
    uint32_t           n;      /* SEQ items / MAP pairs */
    struct smt_cnode **v;      /* SEQ items, MAP values */
    struct smt_cnode **k;      /* MAP keys (SCALAR nodes, with their marks) */
};

/** A whole configuration document; owns every node and string. */
struct smt_ctree {
    struct smt_arena  arena;
    char             *file; /* path as given */
    struct smt_cnode *root;
};

/** One diagnostic: "file:line:col: message" already formatted. */
struct smt_diags {
    uint32_t n, cap;
    char   **msg; /* owned */
};

void smt_diags_init(struct smt_diags *d);
void smt_diags_fini(struct smt_diags *d);
/** Adds "file:line:col: <fmt>" for node at (at may be NULL: no position).
 *  Returns -1. */
int smt_diag(struct smt_diags *d, const struct smt_cnode *at, const char *fmt,
             ...) SMT_PRINTF(3, 4);

/** Adds "file:line:col: <fmt>" for a position that has no node (parser
 *  errors). line 0: "file: <fmt>". Returns -1. */
int smt_diag_pos(struct smt_diags *d, const char *file, uint32_t line,
                 uint32_t col, const char *fmt, ...) SMT_PRINTF(5, 6);

/** 1 when a config key names a secret (password, secret, sasl.jaas.config,
 *  ssl.key, token, credentials; case-insensitive): its value is never
 *  printed. */
int smt_key_is_secret(const char *key);

/** Map lookup: the value node for key, or NULL. */
struct smt_cnode *smt_cnode_get(const struct smt_cnode *map, const char *key);
/** New nodes in a tree (for synthesising defaults or adapters). */
struct smt_cnode *smt_cnode_new(struct smt_ctree *t, int kind,
                                const struct smt_cnode *pos);
struct smt_cnode *smt_cnode_scalar(struct smt_ctree *t, const char *s,
                                   const struct smt_cnode *pos);
void smt_cnode_map_add(struct smt_ctree *t, struct smt_cnode *map,
                       struct smt_cnode *key, struct smt_cnode *val);
void smt_cnode_seq_add(struct smt_ctree *t, struct smt_cnode *seq,
                       struct smt_cnode *item);

/** Reads a YAML file into a tree (libyaml document API). ${ENV} in scalar
 *  values (not keys) is replaced from the environment (an unset variable is
 *  an error; ${ENV:-default} supplies a default when unset or empty; $${
 *  is a literal "${"); values that came from the environment, and values
 *  under secret-looking keys (smt_key_is_secret()), are marked secret.
 *  Plain null, ~ and empty scalars become SMT_CN_NULL nodes (s keeps the
 *  text). Aliases are expanded by copying; a recursive alias, more than
 *  200000 nodes after expansion, nesting deeper than 64, a duplicate key
 *  in a mapping, a non-scalar key and a second document are errors. An
 *  empty document gives a SMT_CN_NULL root. Returns a new tree (free with
 *  smt_ctree_free()), or NULL with diagnostics added. */
struct smt_ctree *smt_ctree_yaml_file(const char *path, struct smt_diags *d);
/** Same, from a buffer; name is used in positions. */
struct smt_ctree *smt_ctree_yaml_buf(const char *name, const char *buf,
                                     size_t len, struct smt_diags *d);
/** Reads a Kafka Connect connector config: a .properties file, or the JSON
 *  of the Connect REST API ({"name":..,"config":{..}} or the bare config
 *  object; JSON when the first non-space byte is '{'). The root is a flat
 *  MAP of string scalars ("transforms.mask.fields" -> "ssn"), in file
 *  order, each key and value with its own line:col.
 *  Properties follow java.util.Properties.load(): '#'/'!' comments,
 *  key=value, key:value or key value, backslash continuation, \t \n \r
 *  \f \uXXXX escapes (malformed \u is an error), leading blanks of a
 *  value dropped and trailing ones kept (options trim them); a repeated
 *  key replaces the earlier one. Bytes are taken as UTF-8 (Java reads
 *  ISO-8859-1). JSON: numbers and booleans become their text, null a
 *  SMT_CN_NULL node, arrays and objects are errors, duplicate keys are
 *  errors; a REST body's "name" becomes the key "name" (it must match a
 *  "name" inside "config"); "tasks" and "type" of a GET response are
 *  ignored. Returns a new tree, or NULL with diagnostics. */
struct smt_ctree *smt_ctree_connect_file(const char *path,
                                         struct smt_diags *d);
struct smt_ctree *smt_ctree_connect_buf(const char *name, const char *buf,
                                        size_t len, struct smt_diags *d);
void smt_ctree_free(struct smt_ctree *t);

/* ---------------------------------------------------------------------- */
/* Option tables (librdkafka rdkafka_conf.c idea): one row per option,
 * carrying type, default, range and the one-line doc that `smtproxy
 * transforms` and docs/transforms.md print. */

enum smt_opt_type {
    SMT_OPT_STR = 1, /* char * (NULL when optional and absent) */
    SMT_OPT_STRLIST, /* struct smt_strlist: YAML sequence or comma list */
    SMT_OPT_INT,     /* int64_t */
    SMT_OPT_BOOL,    /* int: true/false, case-insensitive */
    SMT_OPT_DOUBLE,  /* double */
    SMT_OPT_ENUM,    /* int: index into choices (case-sensitive) */
    SMT_OPT_SIZE,    /* int64_t bytes: 1048576, 1MiB, 512KiB */
    SMT_OPT_MSEC,    /* int64_t milliseconds: 1500, 2s, 100ms, 1m */
    SMT_OPT_REGEX,   /* char *: must compile (PCRE2, Java-like) */
    SMT_OPT_PATH,    /* char *: a file path, relative to the config file */
};

/* flags */
#define SMT_OPT_OPTIONAL 0x01 /* def NULL means "absent", not "required" */
#define SMT_OPT_NONEMPTY 0x02 /* strings/lists must not be empty */
#define SMT_OPT_NOTRIM 0x04   /* keep surrounding spaces (not Connect) */

struct smt_strlist {
    uint32_t n;
    char   **v;
};

struct smt_opt {
    const char        *name;    /* Connect's key: "replace.null.with.default" */
    int                type;    /* enum smt_opt_type */
    const char        *def;     /* default as config text; NULL = none */
    size_t             off;     /* offsetof in the conf struct */
    int64_t            min;     /* INT/SIZE/MSEC range when min < max */
    int64_t            max;
    const char *const *choices; /* ENUM: NULL-terminated */
    unsigned           flags;   /* SMT_OPT_* */
    const char        *doc;     /* one sentence, mandatory */
};

/** Fills conf (zeroed, opts' conf struct) from map node m: every key must
 *  be in opts (or in `extra`, a NULL-terminated list of keys the caller
 *  handles, may be NULL); '_' in a key matches '.' in an option name.
 *  Unknown keys get "unknown option 'x' (did you mean 'y'?)". Strings are
 *  trimmed (Connect) and allocated from arena a. Every error is added to d
 *  with the node's position. Returns 0, or -1 if any error was added. */
int smt_opts_load(const struct smt_opt *opts, void *conf,
                  const struct smt_cnode *m, const char *const *extra,
                  struct smt_arena *a, struct smt_diags *d);

/** Parses one value text as an option would (used for defaults too).
 *  Returns 0, or -1 with a short static phrase in *why. */
int smt_opt_parse(const struct smt_opt *o, void *conf, const char *text,
                  struct smt_arena *a, const char **why);

/** The closest name among candidates to s (edit distance <= 3), or NULL. */
const char *smt_suggest(const char *s, const char *const *candidates,
                        size_t n);

/** Adds "unknown <what> 'key' (did you mean 'x'?)" at `at`, or, when no
 *  name is close, "unknown <what> 'key' (valid: a, b, c)". names may
 *  contain NULL entries (skipped). */
void smt_diag_unknown(struct smt_diags *d, const struct smt_cnode *at,
                      const char *what, const char *key,
                      const char *const *names, size_t n);

/** Type name of an option for docs ("string", "list", "int" ...). */
const char *smt_opt_type_name(int type);

#endif /* SMT_CONF_H */

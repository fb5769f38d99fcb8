/*
 * opts.c - filling a transform's conf struct from a config map through its
 * option table (librdkafka's property-table idea).
 *
 * Values are parsed with Kafka Connect's ConfigDef rules (reference §0.2):
 * strings are trimmed, lists are a YAML sequence or a comma-separated
 * string (items trimmed, "" = empty list), booleans are true/false in any
 * case, enums are case-sensitive. Defaults are config text parsed by the
 * same code as user input, so a table cannot hold a default its own parser
 * would reject. A YAML null (`~`, `null`, empty) reads as absent, like a
 * Connect null, so a required option given null is missing.
 *
 * smt_opt_parse() gives short static phrases; smt_opts_load() adds the
 * context (option name, file:line:col) and, for ranges, enums and regexes,
 * the detail a static phrase cannot carry.
 */
#include "conf.h"
#include "regex.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>


static const char why_range[] = "out of range";
static const char why_enum[] = "must be one of the allowed values";
static const char why_regex[] = "must be a valid regular expression";

/* Java String.trim(): everything <= ' ' at both ends. */
static const char *trim(const char *s, size_t *len)
{
    size_t n = strlen(s);

    while (n > 0 && (unsigned char)*s <= ' ') {
        s++;
        n--;
    }
    while (n > 0 && (unsigned char)s[n - 1] <= ' ') {
        n--;
    }
    *len = n;
    return s;
}

static int parse_i64(const char *s, size_t len, int64_t *out)
{
    char      tmp[32];
    char     *end;
    long long v;

    if (len == 0 || len >= sizeof(tmp)) {
        return -1;
    }
    memcpy(tmp, s, len);
    tmp[len] = '\0';
    if (!(tmp[0] == '-' || tmp[0] == '+' || (tmp[0] >= '0' && tmp[0] <= '9'))) {
        return -1;
    }
    errno = 0;
    v = strtoll(tmp, &end, 10);
    if (errno != 0 || *end != '\0' || end == tmp) {
        return -1;
    }
    *out = (int64_t)v;
    return 0;
}

/* "<number><unit>" where unit is looked up in units (case-insensitive);
 * a bare number uses factor 1. */
struct unit {
    const char *name;
    int64_t     mul;
};

static const struct unit size_units[] = {
    {"b", 1},
    {"k", 1024},
    {"kib", 1024},
    {"kb", 1000},
    {"m", 1024 * 1024},
    {"mib", 1024 * 1024},
    {"mb", 1000 * 1000},
    {"g", 1024LL * 1024 * 1024},
    {"gib", 1024LL * 1024 * 1024},
    {"gb", 1000LL * 1000 * 1000},
    {NULL, 0},
};

static const struct unit msec_units[] = {
    {"ms", 1},       {"s", 1000},         {"m", 60 * 1000},
    {"min", 60000},  {"h", 3600 * 1000},  {"d", 86400LL * 1000},
    {NULL, 0},
};

static int parse_units(const char *s, size_t len, const struct unit *units,
                       int64_t *out)
{
    size_t  i = 0, j;
    int64_t v;

    if (i < len && (s[i] == '-' || s[i] == '+')) {
        i++;
    }
    while (i < len && s[i] >= '0' && s[i] <= '9') {
        i++;
    }
    if (parse_i64(s, i, &v) < 0) {
        return -1;
    }
    j = i;
    while (j < len && s[j] == ' ') {
        j++;
    }
    if (j == len) {
        *out = v;
        return 0;
    }
    if (v < 0) {
        return -1; /* -1 means "forever"; "-2s" means nothing */
    }
    for (; units->name != NULL; units++) {
        size_t ul = strlen(units->name);

        if (ul == len - j && strncasecmp(s + j, units->name, ul) == 0) {
            if (v > INT64_MAX / units->mul) {
                return -1;
            }
            *out = v * units->mul;
            return 0;
        }
    }
    return -1;
}

/* Compiles pattern with the same rules the transforms use; msg gets
 * "Invalid regex: ..." when it does not compile. */
static int regex_check(const char *pattern, char *msg, size_t size)
{
    struct smt_err    err;
    struct smt_regex *re;

    smt_err_clear(&err);
    re = smt_regex_new(pattern, &err);
    if (re == NULL) {
        if (msg != NULL) {
            snprintf(msg, size, "%s", err.msg);
        }
        return -1;
    }
    smt_regex_free(re);
    return 0;
}

static char **strlist_split(const char *s, size_t len, struct smt_arena *a,
                            uint32_t *n)
{
    uint32_t    cnt = 1, i = 0;
    size_t      k;
    char      **v;
    const char *p = s, *end = s + len;

    if (len == 0) {
        *n = 0;
        return NULL;
    }
    for (k = 0; k < len; k++) {
        cnt += s[k] == ',';
    }
    v = smt_arena_alloc(a, cnt * sizeof(*v));
    while (i < cnt) {
        const char *c = memchr(p, ',', (size_t)(end - p));
        const char *e = c ? c : end;
        char       *item = smt_arena_memdup(a, p, (size_t)(e - p));
        size_t      il;
        const char *t = trim(item, &il);

        v[i++] = smt_arena_memdup(a, t, il);
        p = e + 1;
    }
    *n = cnt;
    return v;
}

int smt_opt_parse(const struct smt_opt *o, void *conf, const char *text,
                  struct smt_arena *a, const char **why)
{
    char       *field = (char *)conf + o->off;
    size_t      len;
    const char *t = trim(text, &len);
    int64_t     i64 = 0;
    int         range = o->min < o->max;

    switch (o->type) {
    case SMT_OPT_STR:
    case SMT_OPT_PATH:
    case SMT_OPT_REGEX: {
        char *s;

        if (o->flags & SMT_OPT_NOTRIM) {
            t = text;
            len = strlen(text);
        }
        if ((o->flags & SMT_OPT_NONEMPTY) && len == 0) {
            *why = "must not be empty";
            return -1;
        }
        s = smt_arena_memdup(a, t, len);
        if (o->type == SMT_OPT_REGEX && regex_check(s, NULL, 0) < 0) {
            *why = why_regex;
            return -1;
        }
        *(char **)field = s;
        return 0;
    }
    case SMT_OPT_STRLIST: {
        struct smt_strlist *l = (struct smt_strlist *)field;

        l->v = strlist_split(t, len, a, &l->n);
        if ((o->flags & SMT_OPT_NONEMPTY) && l->n == 0) {
            *why = "must not be empty";
            return -1;
        }
        return 0;
    }
    case SMT_OPT_BOOL:
        if (len == 4 && strncasecmp(t, "true", 4) == 0) {
            *(int *)field = 1;
        } else if (len == 5 && strncasecmp(t, "false", 5) == 0) {
            *(int *)field = 0;
        } else {
            *why = "must be true or false";
            return -1;
        }
        return 0;
    case SMT_OPT_ENUM: {
        int k;

        for (k = 0; o->choices != NULL && o->choices[k] != NULL; k++) {
            if (strlen(o->choices[k]) == len &&
                memcmp(o->choices[k], t, len) == 0) {
                *(int *)field = k;
                return 0;
            }
        }
        *why = why_enum;
        return -1;
    }
    case SMT_OPT_INT:
        if (parse_i64(t, len, &i64) < 0) {
            *why = "must be an integer";
            return -1;
        }
        break;
    case SMT_OPT_SIZE:
        if (parse_units(t, len, size_units, &i64) < 0) {
            *why = "must be a size (bytes, or with a unit: KiB, MiB, GiB)";
            return -1;
        }
        break;
    case SMT_OPT_MSEC:
        if (parse_units(t, len, msec_units, &i64) < 0) {
            *why = "must be a duration (milliseconds, or with a unit: ms, s, "
                   "m, h, d)";
            return -1;
        }
        break;
    case SMT_OPT_DOUBLE: {
        char  *tmp = smt_arena_memdup(a, t, len);
        char  *end;
        double d;

        errno = 0;
        d = strtod(tmp, &end);
        if (len == 0 || *end != '\0' || errno == ERANGE || !isfinite(d)) {
            *why = "must be a number";
            return -1;
        }
        if (range && (d < (double)o->min || d > (double)o->max)) {
            *why = why_range;
            return -1;
        }
        *(double *)field = d;
        return 0;
    }
    default:
        *why = "has an unknown option type";
        return -1;
    }
    if (range && (i64 < o->min || i64 > o->max)) {
        *why = why_range;
        return -1;
    }
    *(int64_t *)field = i64;
    return 0;
}

/* ---------------------------------------------------------------------- */

static size_t levenshtein(const char *a, const char *b)
{
    size_t  la = strlen(a), lb = strlen(b), i, j;
    size_t *row, best;

    if (la > 64 || lb > 64) {
        return (size_t)-1;
    }
    row = smt_xmalloc((lb + 1) * sizeof(*row));
    for (j = 0; j <= lb; j++) {
        row[j] = j;
    }
    for (i = 1; i <= la; i++) {
        size_t diag = row[0];

        row[0] = i;
        for (j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            size_t v = diag + cost;

            if (row[j] + 1 < v) {
                v = row[j] + 1;
            }
            if (row[j - 1] + 1 < v) {
                v = row[j - 1] + 1;
            }
            row[j] = v;
            diag = up;
        }
    }
    best = row[lb];
    free(row);
    return best;
}

const char *smt_suggest(const char *s, const char *const *candidates, size_t n)
{
    const char *best = NULL;
    size_t      bestd = 4, i;

    for (i = 0; i < n; i++) {
        size_t dist;

        if (candidates[i] == NULL) {
            continue;
        }
        dist = levenshtein(s, candidates[i]);
        if (dist < bestd) {
            bestd = dist;
            best = candidates[i];
        }
    }
    return best;
}

const char *smt_opt_type_name(int type)
{
    switch (type) {
    case SMT_OPT_STR:
        return "string";
    case SMT_OPT_STRLIST:
        return "list";
    case SMT_OPT_INT:
        return "int";
    case SMT_OPT_BOOL:
        return "boolean";
    case SMT_OPT_DOUBLE:
        return "double";
    case SMT_OPT_ENUM:
        return "enum";
    case SMT_OPT_SIZE:
        return "size";
    case SMT_OPT_MSEC:
        return "duration";
    case SMT_OPT_REGEX:
        return "regex";
    case SMT_OPT_PATH:
        return "path";
    default:
        return "unknown";
    }
}

/* ---------------------------------------------------------------------- */

/* key equals name, where '_' in key also matches '.' in name. */
static int key_matches(const char *key, const char *name)
{
    for (; *key != '\0' && *name != '\0'; key++, name++) {
        if (*key != *name && !(*key == '_' && *name == '.')) {
            return 0;
        }
    }
    return *key == '\0' && *name == '\0';
}

/* Unknown-key message: a suggestion, or the list of valid keys. */
void smt_diag_unknown(struct smt_diags *d, const struct smt_cnode *at,
                      const char *what, const char *key,
                      const char *const *names, size_t n)
{
    const char    *best;
    struct smt_buf b;
    size_t         i;
    char          *norm = smt_xstrdup(key);
    char          *p;

    for (p = norm; *p != '\0'; p++) {
        if (*p == '_') {
            *p = '.';
        }
    }
    best = smt_suggest(key, names, n);
    if (best == NULL) {
        best = smt_suggest(norm, names, n);
    }
    free(norm);
    if (best != NULL) {
        smt_diag(d, at, "unknown %s '%s' (did you mean '%s'?)", what, key,
                 best);
        return;
    }
    smt_buf_init(&b);
    for (i = 0; i < n; i++) {
        if (names[i] == NULL) {
            continue;
        }
        if (b.len > 0) {
            smt_buf_adds(&b, ", ");
        }
        smt_buf_adds(&b, names[i]);
    }
    if (b.len == 0) {
        smt_diag(d, at, "unknown %s '%s' (none are accepted here)", what, key);
    } else {
        smt_buf_addc(&b, '\0');
        smt_diag(d, at, "unknown %s '%s' (valid: %s)", what, key, b.ptr);
    }
    smt_buf_fini(&b);
}

/* Detailed message for a failed parse (the static phrase plus what it
 * cannot carry). */
static void opt_error(const struct smt_opt *o, const char *text,
                      const char *why, const struct smt_cnode *at,
                      struct smt_diags *d)
{
    if (why == why_range) {
        smt_diag(d, at, "option '%s': must be between %lld and %lld", o->name,
                 (long long)o->min, (long long)o->max);
    } else if (why == why_enum) {
        struct smt_buf b;
        int            k;

        smt_buf_init(&b);
        for (k = 0; o->choices != NULL && o->choices[k] != NULL; k++) {
            if (k > 0) {
                smt_buf_adds(&b, ", ");
            }
            smt_buf_adds(&b, o->choices[k]);
        }
        smt_buf_addc(&b, '\0');
        smt_diag(d, at, "option '%s': must be one of: %s", o->name, b.ptr);
        smt_buf_fini(&b);
    } else if (why == why_regex && text != NULL) {
        char   msg[256];
        size_t len;
        char  *pat = smt_xstrdup(trim(text, &len));

        pat[len] = '\0';
        regex_check(pat, msg, sizeof(msg));
        free(pat);
        smt_diag(d, at, "option '%s': %s", o->name, msg);
    } else {
        smt_diag(d, at, "option '%s': %s", o->name, why);
    }
}

/* Relative PATH values are taken relative to the config file's directory. */
static void path_fixup(const struct smt_opt *o, void *conf,
                       const struct smt_cnode *m, struct smt_arena *a)
{
    char      **field = (char **)((char *)conf + o->off);
    const char *slash;

    if (*field == NULL || (*field)[0] == '\0' || (*field)[0] == '/' ||
        m == NULL || m->file == NULL) {
        return;
    }
    slash = strrchr(m->file, '/');
    if (slash == NULL) {
        return;
    }
    *field = (char *)smt_arena_printf(a, "%.*s/%s", (int)(slash - m->file), m->file,
                              *field)
                 .ptr;
}

static int load_list(const struct smt_opt *o, void *conf,
                     const struct smt_cnode *v, struct smt_arena *a,
                     struct smt_diags *d)
{
    struct smt_strlist *l = (struct smt_strlist *)((char *)conf + o->off);
    uint32_t            i;

    l->n = 0;
    l->v = v->n ? smt_arena_alloc(a, v->n * sizeof(*l->v)) : NULL;
    for (i = 0; i < v->n; i++) {
        const struct smt_cnode *it = v->v[i];
        size_t                  len;
        const char             *t;

        if (it->kind != SMT_CN_SCALAR) {
            return smt_diag(d, it, "option '%s': list items must be strings",
                            o->name);
        }
        t = trim(it->s, &len);
        l->v[l->n++] = smt_arena_memdup(a, t, len);
    }
    if ((o->flags & SMT_OPT_NONEMPTY) && l->n == 0) {
        return smt_diag(d, v, "option '%s': must not be empty", o->name);
    }
    return 0;
}

int smt_opts_load(const struct smt_opt *opts, void *conf,
                  const struct smt_cnode *m, const char *const *extra,
                  struct smt_arena *a, struct smt_diags *d)
{
    size_t                   nopts = 0, nextra = 0, i;
    const struct smt_cnode **seen;
    const char             **names;
    uint32_t                 j;
    int                      rc = 0;

    while (opts != NULL && opts[nopts].name != NULL) {
        nopts++;
    }
    while (extra != NULL && extra[nextra] != NULL) {
        nextra++;
    }
    if (m != NULL && m->kind != SMT_CN_MAP && m->kind != SMT_CN_NULL) {
        return smt_diag(d, m, "expected a mapping of options");
    }
    seen = smt_xcalloc(nopts + nextra + 1, sizeof(*seen));
    names = smt_xcalloc(nopts + nextra + 1, sizeof(*names));
    for (i = 0; i < nopts; i++) {
        names[i] = opts[i].name;
    }
    for (i = 0; i < nextra; i++) {
        names[nopts + i] = extra[i];
    }
    for (j = 0; m != NULL && m->kind == SMT_CN_MAP && j < m->n; j++) {
        const struct smt_cnode *k = m->k[j], *v = m->v[j];
        const struct smt_opt   *o;
        const char             *why = NULL;

        for (i = 0; i < nopts + nextra; i++) {
            if (key_matches(k->s, names[i])) {
                break;
            }
        }
        if (i == nopts + nextra) {
            smt_diag_unknown(d, k, "option", k->s, names, nopts + nextra);
            rc = -1;
            continue;
        }
        if (seen[i] != NULL) {
            rc = smt_diag(d, k, "duplicate key '%s'", k->s);
            continue;
        }
        seen[i] = k;
        if (i >= nopts || v->kind == SMT_CN_NULL) {
            continue; /* the caller's key, or null = absent */
        }
        o = &opts[i];
        if (v->kind == SMT_CN_SEQ && o->type == SMT_OPT_STRLIST) {
            if (load_list(o, conf, v, a, d) < 0) {
                rc = -1;
            }
            continue;
        }
        if (v->kind != SMT_CN_SCALAR) {
            rc = smt_diag(d, v, "option '%s': expected a %s, got a %s",
                          o->name,
                          o->type == SMT_OPT_STRLIST ? "list or string"
                                                     : "scalar value",
                          v->kind == SMT_CN_MAP ? "mapping" : "sequence");
            continue;
        }
        if (smt_opt_parse(o, conf, v->s, a, &why) < 0) {
            opt_error(o, v->secret ? NULL : v->s, why, v, d);
            rc = -1;
            continue;
        }
        if (o->type == SMT_OPT_PATH) {
            path_fixup(o, conf, v, a);
        }
    }
    /* Absent options: defaults, or required. */
    for (i = 0; i < nopts; i++) {
        const struct smt_opt *o = &opts[i];
        const char           *why = NULL;

        if (seen[i] != NULL) {
            const struct smt_cnode *v = smt_cnode_get(m, seen[i]->s);

            if (v != NULL && v->kind != SMT_CN_NULL) {
                continue;
            }
        }
        if (o->def != NULL) {
            if (smt_opt_parse(o, conf, o->def, a, &why) < 0) {
                /* A table bug, but say so rather than abort. */
                rc = smt_diag(d, m, "option '%s': default '%s' %s", o->name,
                              o->def, why);
            } else if (o->type == SMT_OPT_PATH) {
                path_fixup(o, conf, m, a);
            }
        } else if (!(o->flags & SMT_OPT_OPTIONAL)) {
            rc = smt_diag(d, m, "missing required option '%s'", o->name);
        }
    }
    free(seen);
    free(names);
    return rc;
}

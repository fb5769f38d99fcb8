/*
 * registry.c - the explicit list of every transform and predicate, and
 * type-name resolution (snake names, Connect simple names, fully-qualified
 * Connect class names, each with an optional $Key/$Value suffix).
 */
#include "transform.h"

#include <stdio.h>
#include <strings.h>

extern const struct smt_transform smt_mask_field, smt_cast, smt_replace_field,
    smt_insert_field, smt_extract_field, smt_hoist_field, smt_value_to_key,
    smt_flatten, smt_header_from, smt_insert_header, smt_regex_router,
    smt_timestamp_router, smt_timestamp_converter, smt_drop_headers,
    smt_filter, smt_topic_name_matches, smt_has_header_key,
    smt_record_is_tombstone, smt_lua;
extern const struct smt_transform smt_validate;

const struct smt_transform *const smt_registry[] = {
    &smt_mask_field,
    &smt_cast,
    &smt_replace_field,
    &smt_insert_field,
    &smt_extract_field,
    &smt_hoist_field,
    &smt_value_to_key,
    &smt_flatten,
    &smt_header_from,
    &smt_insert_header,
    &smt_drop_headers,
    &smt_regex_router,
    &smt_timestamp_router,
    &smt_timestamp_converter,
    &smt_filter,
    &smt_validate,
    &smt_lua,
    &smt_topic_name_matches,
    &smt_has_header_key,
    &smt_record_is_tombstone,
    NULL,
};

/* Compares the base of a type name (up to `$` or end) with a candidate. */
static int base_eq(const char *base, size_t len, const char *cand)
{
    return cand != NULL && strlen(cand) == len && memcmp(base, cand, len) == 0;
}

const struct smt_transform *smt_registry_find(const char *type, int *side)
{
    const char                 *base = type, *dollar;
    size_t                      len;
    int                         sfx = -1; /* -1 none, SMT_KEY, SMT_VALUE */
    const struct smt_transform *t;
    size_t                      i;

    if (type == NULL) {
        return NULL;
    }
    dollar = strchr(type, '$');
    len = dollar ? (size_t)(dollar - type) : strlen(type);
    if (dollar != NULL) {
        if (strcasecmp(dollar + 1, "Key") == 0) {
            sfx = SMT_KEY;
        } else if (strcasecmp(dollar + 1, "Value") == 0) {
            sfx = SMT_VALUE;
        } else {
            return NULL;
        }
    }
    for (i = 0; (t = smt_registry[i]) != NULL; i++) {
        int hit = base_eq(base, len, t->name) || base_eq(base, len, t->connect);

        if (!hit && t->pkg != NULL && t->connect != NULL) {
            size_t pl = strlen(t->pkg);

            hit = len == pl + 1 + strlen(t->connect) &&
                  memcmp(base, t->pkg, pl) == 0 && base[pl] == '.' &&
                  base_eq(base + pl + 1, len - pl - 1, t->connect);
        }
        if (!hit) {
            continue;
        }
        if (sfx >= 0 && !(t->flags & SMT_F_KEYVALUE)) {
            return NULL;
        }
        if (side != NULL) {
            *side = sfx >= 0 ? sfx : SMT_VALUE;
        }
        return t;
    }
    return NULL;
}

const char *smt_inst_class(const struct smt_inst *inst, char *buf, size_t size)
{
    const struct smt_transform *t = inst->t;

    if (t->connect != NULL && t->pkg != NULL) {
        snprintf(buf, size, "%s.%s%s", t->pkg, t->connect,
                 (t->flags & SMT_F_KEYVALUE)
                     ? (inst->side == SMT_KEY ? "$Key" : "$Value")
                     : "");
    } else {
        snprintf(buf, size, "smtproxy.%s", t->name);
    }
    return buf;
}

/*
 * smt.h - the public API of the transform library (no Kafka inside).
 * Include this one header; the parts are split by area:
 *   base.h      byte views, errors, allocators, arena, buffers
 *   val.h       value tree, Connect schemas, field paths
 *   record.h    the record, lazy decoding and encoding
 *   json.h      JSON parser/serializer, Connect envelope, Java number text
 *   regex.h     PCRE2 with Java matching rules
 *   conf.h      configuration trees with positions, diagnostics, options
 *   transform.h transforms, predicates, conditions, chains, registry
 *   pipeline.h  routes and the per-record pipeline
 */
#ifndef SMT_H
#define SMT_H

#define SMT_VERSION "0.1.0"

#include "base.h"
#include "val.h"
#include "record.h"
#include "json.h"
#include "regex.h"
#include "conf.h"
#include "transform.h"
#include "pipeline.h"

#endif /* SMT_H */

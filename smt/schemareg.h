/*
 * schemareg.h - a client for a Confluent-compatible schema registry (the
 * REST API that Confluent Schema Registry, Karapace and Apicurio's ccompat
 * layer serve), used by the Avro codec to turn the 4-byte schema id of the
 * Confluent wire format into schema text and to register the schemas of
 * values a chain changed.
 *
 * Answers are cached: schema text by id for the client's life (an id never
 * changes its schema), ids by (subject, text) likewise, and the latest
 * version of a subject for a short TTL. All functions are thread-safe;
 * worker threads share one client. Requests use libcurl, one easy handle per
 * request, made outside the cache lock so a slow registry never blocks a
 * cache hit. The password of basic auth is never logged or put into error
 * messages.
 */
#ifndef SMT_SCHEMAREG_H
#define SMT_SCHEMAREG_H

#include <stddef.h>
#include <stdint.h>

#include "base.h"

/** Milliseconds a smt_schemareg_latest() answer is reused. */
#define SMT_SCHEMAREG_LATEST_TTL_MS 30000

/** Client configuration. Strings are borrowed for smt_schemareg_new() only
 *  (the client copies them). */
struct smt_schemareg_conf {
    const char *url;                  /* "http://host:port[/prefix]"; a comma
                                         list: the first that answers */
    const char *basic_auth_user_info; /* "user:pass" or NULL */
    const char *ssl_ca_location;      /* PEM CA file or NULL */
    const char *ssl_cert_location;    /* client certificate (PEM) or NULL */
    const char *ssl_key_location;     /* client key (PEM) or NULL */
    int         ssl_verify;           /* 1 = verify peer and host (default) */
    int64_t     timeout_ms;           /* per request; <= 0 means 10000 */
};

struct smt_schemareg;

/**
 * @brief Returns a new registry client; free with smt_schemareg_free().
 *
 * Makes no request (the registry may come up later). Returns NULL with err
 * (SMT_E_CONFIG) for an empty url list or a url that is not http(s)://.
 * ssl_verify is taken as given (0 turns verification off), so callers
 * wanting the default set it to 1, as the pipeline loader does.
 */
struct smt_schemareg *smt_schemareg_new(const struct smt_schemareg_conf *c,
                                        struct smt_err *err);

/** Frees the client and every cached text. NULL is a no-op. */
void smt_schemareg_free(struct smt_schemareg *r);

/**
 * @brief Schema text for id (GET /schemas/ids/{id}).
 *
 * Cached for the client's life. *text (NUL-terminated, *len bytes) is
 * borrowed and stays valid until smt_schemareg_free().
 * @returns 0, or -1 with err: SMT_E_DATA for an id the registry does not
 *          know (404, error_code 40403) or an answer that is not a schema;
 *          SMT_E_RETRIABLE when no registry answers, times out or answers
 *          5xx; SMT_E_CONNECT for other refusals (401/403, 4xx).
 */
int smt_schemareg_by_id(struct smt_schemareg *r, int32_t id,
                        const char **text, size_t *len, struct smt_err *err);

/**
 * @brief Registers schema text under subject, or finds it if it is
 *        already there (POST /subjects/{subject}/versions), and returns
 *        its id.
 *
 * Cached by (subject, text) for the client's life. The by-id cache is not
 * filled from it: the registry may hold an equivalent but different text
 * under that id. text need not be NUL-terminated.
 * @returns 0, or -1 with err: SMT_E_RETRIABLE as above; SMT_E_DATA when the
 *          registry rejects the schema (409 incompatible, 422 invalid);
 *          SMT_E_CONNECT for other refusals.
 */
int smt_schemareg_register(struct smt_schemareg *r, const char *subject,
                           const char *text, size_t len, int32_t *id,
                           struct smt_err *err);

/**
 * @brief Latest version of subject (GET /subjects/{subject}/versions/latest):
 *        its id and text.
 *
 * Reused for SMT_SCHEMAREG_LATEST_TTL_MS. *text is borrowed and stays valid
 * until smt_schemareg_free() (texts are kept, never replaced in place).
 * @returns 0, or -1 with err: SMT_E_DATA for an unknown subject (404);
 *          SMT_E_RETRIABLE and SMT_E_CONNECT as above.
 */
int smt_schemareg_latest(struct smt_schemareg *r, const char *subject,
                         int32_t *id, const char **text, size_t *len,
                         struct smt_err *err);

/** Number of HTTP requests this client has made (for tests and stats). */
uint64_t smt_schemareg_requests(const struct smt_schemareg *r);

#endif /* SMT_SCHEMAREG_H */

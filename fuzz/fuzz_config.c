/*
 * fuzz_config.c - the configuration loaders on arbitrary bytes.
 *
 * Each input is loaded as a YAML pipeline and, the same bytes, as a Kafka
 * Connect connector config (properties, or JSON when it starts with '{'),
 * so the YAML reader, ${ENV} expansion, the properties and JSON readers,
 * option tables, chains, conditions and the connector adapter all see
 * malformed input. A pipeline that loads is also instantiated once (every
 * step's init). Everything must be freed on every path (ASan's leak check).
 *
 * With -DWITH_MAIN it is a corpus replayer for `make check`:
 * fuzz_config DIR loads every file of DIR once.
 */
#include "smt.h"

#include <stdio.h>
#include <stdlib.h>

#define FUZZ_CONFIG_MAX 16384

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void run(struct smt_pipeline_conf *pc)
{
    struct smt_pipeline *pl;
    struct smt_err       err;

    if (pc == NULL) {
        return;
    }
    smt_err_clear(&err);
    pl = smt_pipeline_new(pc, &err);
    smt_pipeline_free(pl);
    smt_pipeline_conf_free(pc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct smt_diags d;

    if (size > FUZZ_CONFIG_MAX) {
        size = FUZZ_CONFIG_MAX;
    }
    smt_diags_init(&d);
    run(smt_pipeline_conf_load_yaml("fuzz.yaml", (const char *)data, size,
                                    &d));
    smt_diags_fini(&d);
    smt_diags_init(&d);
    run(smt_pipeline_conf_load_connect("fuzz.properties", (const char *)data,
                                       size, &d));
    smt_diags_fini(&d);
    return 0;
}

#ifdef WITH_MAIN
#include "replay.h"

int main(int argc, char **argv)
{
    return fuzz_replay("fuzz_config", argc, argv, FUZZ_CONFIG_MAX);
}
#endif

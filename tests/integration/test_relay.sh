#!/bin/sh
# tests/integration/test_relay.sh - the relay (`smtproxy run`) end to end,
# checked by independent clients only: the pytest suite in
# tests/integration/relay/ produces sensor records with Python
# confluent-kafka, runs smtproxy, and reads back every route, the DLQ and
# the group's committed offsets (see the files there for what is checked).
#
# Two tiers: "embedded" (librdkafka's mock cluster inside smtproxy) and
# "real" (an Apache Kafka broker: started here with scripts/kafka in a
# temporary state dir, or $KAFKA_BOOTSTRAP when set - then the test that
# restarts the broker is skipped). Uses $SMTPROXY (make exports it) or
# build/smtproxy.
#
# Environment: RELAY_TIERS (default "embedded,real"), RELAY_PYTEST_ARGS
# (more pytest arguments, e.g. "-k kill9 -x"), RELAY_TEST_DEADLINE (seconds
# any one wait may take, default 90).
#
# Ends with "test_relay: N passed, N failed" (counted per test and tier; a
# skipped test counts as neither) and exits non-zero on any failure.
set -u
name=test_relay
. "$(dirname "$0")/lib.sh"

need_python 'import confluent_kafka, pytest' "confluent_kafka and pytest"

tiers=${RELAY_TIERS:-embedded,real}
case ",$tiers," in
*,real,*)
    if [ -n "${KAFKA_BOOTSTRAP:-}" ]; then
        echo "$name: using the broker at $KAFKA_BOOTSTRAP (the broker restart test is skipped)"
        unset RELAY_KAFKA_DIR
    else
        kafka_up "$tmp/kafka"
        KAFKA_BOOTSTRAP=$bs
        RELAY_KAFKA_DIR=$tmp/kafka
        export KAFKA_BOOTSTRAP RELAY_KAFKA_DIR
    fi
    ;;
esac

RELAY_RESULTS=$tmp/results
export RELAY_RESULTS
cd "$root/tests/integration/relay" || finish 0 1
# RELAY_PYTEST_ARGS is split as the shell would (quotes kept: -k "a and
# b" works); with no file or directory in it pytest collects this one.
eval "set -- ${RELAY_PYTEST_ARGS:-}"
"$py" -m pytest -p no:cacheprovider --basetemp "$tmp/pytest" -o console_output_style=classic \
    -rfE --durations=0 --durations-min=5 --tiers "$tiers" "$@"
rc=$?
if [ ! -s "$RELAY_RESULTS" ]; then
    echo "$name: pytest (exit status $rc) reported no results"
    finish 0 1
fi
set -- $(cat "$RELAY_RESULTS")
echo "$name: $3 skipped"
finish_run "$rc" pytest "$1" "$2"

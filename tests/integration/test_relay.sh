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
root=$(cd "$(dirname "$0")/../.." && pwd)
name=test_relay
tmp=$(mktemp -d "${TMPDIR:-/tmp}/test_relay.XXXXXX")
state=$tmp/kafka
started=0
cleanup() {
    if [ "$started" = 1 ]; then
        "$root/scripts/kafka" down --dir "$state" >/dev/null 2>&1
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

finish() { # finish PASSED FAILED
    echo "$name: $1 passed, $2 failed"
    [ "$2" = 0 ] && [ "$1" -gt 0 ]
    exit $?
}

t0=$(date +%s)
SMTPROXY=${SMTPROXY:-$root/build/smtproxy}
export SMTPROXY
if [ ! -x "$SMTPROXY" ]; then
    echo "$name: $SMTPROXY not built (run make)"
    finish 0 1
fi

py=$("$root/scripts/pydeps" | tail -n 1)
if [ -z "$py" ] || ! "$py" -c 'import confluent_kafka, pytest' 2>/dev/null; then
    echo "$name: scripts/pydeps gave no python with confluent_kafka and pytest"
    finish 0 1
fi

tiers=${RELAY_TIERS:-embedded,real}
case ",$tiers," in
*,real,*)
    if [ -n "${KAFKA_BOOTSTRAP:-}" ]; then
        echo "$name: using the broker at $KAFKA_BOOTSTRAP (the broker restart test is skipped)"
        unset RELAY_KAFKA_DIR
    else
        started=1
        bs=$("$root/scripts/kafka" up --dir "$state" 2>"$tmp/up.err" | tail -n 1)
        case $bs in
        127.0.0.1:[0-9]*) ;;
        *)
            cat "$tmp/up.err"
            echo "$name: could not start a broker"
            finish 0 1
            ;;
        esac
        KAFKA_BOOTSTRAP=$bs
        RELAY_KAFKA_DIR=$state
        export KAFKA_BOOTSTRAP RELAY_KAFKA_DIR
        echo "$name: broker $bs up after $(($(date +%s) - t0)) s"
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
pass=$1
fail=$2
skip=$3
if [ "$rc" != 0 ] && [ "$fail" = 0 ]; then
    echo "$name: pytest exited with status $rc"
    fail=1
fi
echo "$name: $skip skipped, $(($(date +%s) - t0)) s in all"
finish "$pass" "$fail"

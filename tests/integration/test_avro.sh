#!/bin/sh
# tests/integration/test_avro.sh - Avro in the Confluent wire format end to
# end: a real Apache Kafka broker (scripts/kafka) and a real
# Confluent-compatible schema registry on it (scripts/registry), an
# independent producer and consumer (Python confluent-kafka's
# AvroSerializer/AvroDeserializer), and `smtproxy run` with value.format
# avro in between. What is checked: tests/integration/avro/avro_e2e.py.
#
# Uses $SMTPROXY (make exports it) or build/smtproxy, $KAFKA_BOOTSTRAP when
# set (else a broker of its own in a temporary state dir), and
# $SCHEMA_REGISTRY_URL when set (else a registry of its own on that broker).
# RELAY_TEST_DEADLINE: seconds any one wait may take (default 90).
#
# Ends with "test_avro: N passed, N failed" and exits non-zero on any
# failure.
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
name=test_avro
tmp=$(mktemp -d "${TMPDIR:-/tmp}/test_avro.XXXXXX")
kafka_started=0
registry_started=0
cleanup() {
    if [ "$registry_started" = 1 ]; then
        "$root/scripts/registry" down --dir "$tmp/registry" >/dev/null 2>&1
    fi
    if [ "$kafka_started" = 1 ]; then
        "$root/scripts/kafka" down --dir "$tmp/kafka" >/dev/null 2>&1
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
if [ -z "$py" ] || ! "$py" -c 'from confluent_kafka.schema_registry.avro import AvroSerializer' 2>/dev/null; then
    echo "$name: scripts/pydeps gave no python with confluent_kafka's Avro serializer"
    finish 0 1
fi

if [ -n "${KAFKA_BOOTSTRAP:-}" ]; then
    bs=$KAFKA_BOOTSTRAP
    echo "$name: using the broker at $bs"
else
    kafka_started=1
    bs=$("$root/scripts/kafka" up --dir "$tmp/kafka" 2>"$tmp/kafka.err" | tail -n 1)
    case $bs in
    127.0.0.1:[0-9]*) ;;
    *)
        cat "$tmp/kafka.err"
        echo "$name: could not start a broker"
        finish 0 1
        ;;
    esac
    echo "$name: broker $bs up after $(($(date +%s) - t0)) s"
fi

if [ -n "${SCHEMA_REGISTRY_URL:-}" ]; then
    url=$SCHEMA_REGISTRY_URL
    echo "$name: using the registry at $url"
else
    registry_started=1
    url=$("$root/scripts/registry" up --dir "$tmp/registry" --bootstrap "$bs" \
        2>"$tmp/registry.err" | tail -n 1)
    case $url in
    http://*) ;;
    *)
        cat "$tmp/registry.err"
        echo "$name: could not start a schema registry"
        finish 0 1
        ;;
    esac
    echo "$name: registry $url up after $(($(date +%s) - t0)) s"
fi

"$py" "$root/tests/integration/avro/avro_e2e.py" "$bs" "$url" "$tmp" \
    >"$tmp/out.txt" 2>&1
rc=$?
cat "$tmp/out.txt"
set -- $(tail -n 1 "$tmp/out.txt")
case "${1:-x}${2:-x}" in
*[!0-9]*)
    echo "$name: avro_e2e.py (exit status $rc) reported no results"
    finish 0 1
    ;;
esac
pass=$1
fail=$2
if [ "$rc" != 0 ] && [ "$fail" = 0 ]; then
    echo "$name: avro_e2e.py exited with status $rc"
    fail=1
fi
echo "$name: $(($(date +%s) - t0)) s in all"
finish "$pass" "$fail"

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
name=test_avro
. "$(dirname "$0")/lib.sh"

need_python 'from confluent_kafka.schema_registry.avro import AvroSerializer' \
    "confluent_kafka's Avro serializer"

if [ -n "${KAFKA_BOOTSTRAP:-}" ]; then
    bs=$KAFKA_BOOTSTRAP
    echo "$name: using the broker at $bs"
else
    kafka_up "$tmp/kafka"
fi

if [ -n "${SCHEMA_REGISTRY_URL:-}" ]; then
    url=$SCHEMA_REGISTRY_URL
    echo "$name: using the registry at $url"
else
    registry_up "$tmp/registry" "$bs"
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
finish_run "$rc" avro_e2e.py "$1" "$2"

#!/bin/sh
# tests/integration/test_configs.sh - every configuration shipped in
# config/ (YAML pipelines, Kafka Connect .properties and .json connector
# configs) must pass `smtproxy check`; NAME.test.yaml files are pipeline
# tests (test_pipelines.sh), not pipelines. Ends with "test_configs: N passed,
# N failed".
set -u
bin=${SMTPROXY:-build/smtproxy}
pass=0
fail=0
list=$(mktemp "${TMPDIR:-/tmp}/test_configs.XXXXXX")
trap 'rm -f "$list"' EXIT INT TERM
find config -type f \( -name '*.yaml' -o -name '*.yml' -o -name '*.properties' \
    -o -name '*.json' \) ! -name '*.test.yaml' | sort >"$list"
while read -r f; do
    if out=$("$bin" check -c "$f" 2>&1); then
        pass=$((pass + 1))
    else
        fail=$((fail + 1))
        echo "FAIL: $bin check -c $f"
        echo "$out" | sed 's/^/    /'
    fi
done <"$list"
if [ $((pass + fail)) = 0 ]; then
    echo "test_configs: no configurations found under config/"
    fail=1
fi
echo "test_configs: $pass passed, $fail failed"
[ $fail = 0 ]

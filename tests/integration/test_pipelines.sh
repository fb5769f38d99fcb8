#!/bin/sh
# tests/integration/test_pipelines.sh - `smtproxy test` on every pipeline in
# config/ and on itself.
#
#   1. Every configuration in config/ (as test_configs.sh finds them) has a
#      test file next to it, NAME.test.yaml, and all its cases pass; each
#      case counts as one test here.
#   2. tests/ptest/pipeline.yaml passes its own cases (every outcome kind).
#   3. tests/ptest/wrong.test.yaml: every case must FAIL (exit 1, "0 passed,
#      N failed") and print each diff line of wrong.expected.
#   4. tests/ptest/broken.test.yaml, a missing test file and a broken
#      pipeline: exit 2 with file:line:col messages.
# Ends with "test_pipelines: N passed, N failed".
set -u
bin=${SMTPROXY_SAN:-${SMTPROXY:-build/smtproxy}}
[ -x "$bin" ] || bin=${SMTPROXY:-build/smtproxy}
pass=0
fail=0
tmp=$(mktemp -d "${TMPDIR:-/tmp}/test_pipelines.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

# counts "N passed, N failed" of the last run into pass/fail
count() {
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$1" | tail -n 1)
    p=${line%% passed*}
    f=${line#*passed, }
    f=${f%% failed*}
    if [ -z "$line" ]; then
        bad "$2: no 'N passed, N failed' line"
        return
    fi
    pass=$((pass + p))
    fail=$((fail + f))
}

# 1. every shipped configuration
find config -type f \( -name '*.yaml' -o -name '*.yml' -o -name '*.properties' \
    -o -name '*.json' \) ! -name '*.test.yaml' | sort >"$tmp/list"
while read -r cfg; do
    t="${cfg%.*}.test.yaml"
    if [ ! -f "$t" ]; then
        bad "$cfg has no test file $t"
        continue
    fi
    "$bin" test -c "$cfg" >"$tmp/out" 2>&1
    rc=$?
    count "$tmp/out" "$cfg"
    if [ $rc != 0 ]; then
        bad "$bin test -c $cfg exited $rc"
        sed 's/^/    /' "$tmp/out"
    fi
done <"$tmp/list"

# 2. the self-test pipeline's own cases
"$bin" test -c tests/ptest/pipeline.yaml >"$tmp/out" 2>&1
rc=$?
count "$tmp/out" tests/ptest/pipeline.yaml
[ $rc = 0 ] || { bad "tests/ptest/pipeline.yaml exited $rc"; sed 's/^/    /' "$tmp/out"; }

# 3. wrong expectations fail, with the diff
"$bin" test -c tests/ptest/pipeline.yaml tests/ptest/wrong.test.yaml \
    >"$tmp/out" 2>&1
rc=$?
n=$(grep -c '^  - name:' tests/ptest/wrong.test.yaml)
if [ $rc = 1 ]; then ok; else bad "wrong.test.yaml exited $rc, not 1"; fi
if grep -qx "0 passed, $n failed" "$tmp/out"; then
    ok
else
    bad "wrong.test.yaml: expected '0 passed, $n failed'"
fi
while IFS= read -r want; do
    if grep -qF -- "$want" "$tmp/out"; then
        ok
    else
        bad "wrong.test.yaml: no line with: $want"
    fi
done <tests/ptest/wrong.expected
if [ "$fail" != 0 ]; then
    sed 's/^/    /' "$tmp/out"
fi

# 4. broken inputs: exit 2 and the position of each problem
expect2() {
    what=$1
    shift
    "$@" >"$tmp/out" 2>"$tmp/err"
    rc=$?
    if [ $rc = 2 ]; then ok; else bad "$what exited $rc, not 2"; fi
    if grep -q 'passed,' "$tmp/out"; then
        bad "$what ran cases"
    else
        ok
    fi
}
expect2 broken.test.yaml "$bin" test -c tests/ptest/pipeline.yaml \
    tests/ptest/broken.test.yaml
for want in \
    "broken.test.yaml:6:5: unknown case key 'ouputs' (did you mean 'outputs'?)" \
    "broken.test.yaml:9:23: the pipeline has no route 'kept'" \
    "broken.test.yaml:11:25: 'value_json': invalid JSON"; do
    if grep -qF -- "$want" "$tmp/err"; then
        ok
    else
        bad "broken.test.yaml: no message: $want"
        sed 's/^/    /' "$tmp/err"
    fi
done
expect2 "a missing test file" "$bin" test -c tests/ptest/pipeline.yaml \
    "$tmp/nosuch.test.yaml"
printf 'name: x\ninput: {topics: [a]}\nroutes: [{name: r, transforms: [{type: Nope}]}]\n' \
    >"$tmp/bad.yaml"
expect2 "a broken pipeline" "$bin" test -c "$tmp/bad.yaml" \
    tests/ptest/pipeline.test.yaml
if grep -q 'bad.yaml:3:' "$tmp/err"; then ok; else bad "broken pipeline: no position"; fi

echo "test_pipelines: $pass passed, $fail failed"
[ $fail = 0 ]

#!/bin/sh
# tests/integration/test_apply.sh - `smtproxy apply`, `check`, `transforms`
# and `run` end to end through the binary (the sanitizer build by
# default): output lines, error lines with the original record, bad input
# lines, errors.tolerance none vs all, exit statuses. Ends with
# "test_apply: N passed, N failed".
set -u
bin=${SMTPROXY_SAN:-build/san/smtproxy}
pass=0
fail=0
tmp=$(mktemp -d "${TMPDIR:-/tmp}/test_apply.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

check() { # check NAME COMMAND... : the command must succeed
    name=$1
    shift
    if "$@"; then
        pass=$((pass + 1))
    else
        fail=$((fail + 1))
        echo "FAIL: $name"
    fi
}
has() { grep -q -- "$2" "$1"; }
lines() { [ "$(wc -l <"$1" | tr -d ' ')" = "$2" ]; }

cat >"$tmp/p.yaml" <<'YAML'
input: {topics: [in]}
errors: {tolerance: all, deadletterqueue.topic.name: dlq}
routes:
  - name: mask
    condition: {field: kind, equals: user}
    topic: users
    transforms:
      - {name: m, type: MaskField$Value, fields: [email]}
  - name: num
    condition: {field: kind, equals: reading}
    topic: readings
    transforms:
      - {name: c, type: Cast$Value, spec: [v:float64]}
      - {name: f, type: Filter, if: {field: v, lt: 0}}
unrouted: dlq
YAML
sed 's/tolerance: all/tolerance: none/' "$tmp/p.yaml" >"$tmp/none.yaml"

cat >"$tmp/in.jsonl" <<'JSONL'
{"key":"u1","value":{"kind":"user","email":"a@b.c"},"timestamp":1700000000000,"headers":[["h","1"],["n",null]]}
{"topic":"in","partition":2,"offset":40,"value":{"kind":"reading","v":"2.5"}}
{"value":{"kind":"reading","v":"n/a"}}
not json at all
{"value_base64":"eyJraW5kIjoi"}
{"value":{"kind":"reading","v":"-1"}}
{"value":{"kind":"other"}}
[1]
{"value":{"kind":"user"},"bogus":true}
JSONL

# tolerance all: every good line processed, bad lines reported, exit 3
"$bin" apply -c "$tmp/p.yaml" <"$tmp/in.jsonl" >"$tmp/out" 2>"$tmp/err"
rc=$?
check "exit 3 with bad lines" [ $rc = 3 ]
check "user masked" has "$tmp/out" '"route":"mask","topic":"users","partition":0,"offset":0,"timestamp":1700000000000,"key":"u1","value":{"kind":"user","email":""},"headers":\[\["h","1"\],\["n",null\]\]'
check "reading cast" has "$tmp/out" '"route":"num","topic":"readings","partition":2,"offset":40,"timestamp":null,"key":null,"value":{"kind":"reading","v":2.5}'
check "cast failure keeps original" has "$tmp/out" '"route":"num","error":{"stage":"TRANSFORMATION","class":"org.apache.kafka.connect.transforms.Cast$Value","exception":"org.apache.kafka.connect.errors.DataException",.*"step":"c"},"dlq":"dlq","topic":"in","partition":0,"offset":2,.*"value":{"kind":"reading","v":"n/a"}'
check "undecodable value stays base64" has "$tmp/out" '"stage":"VALUE_CONVERTER","class":"org.apache.kafka.connect.json.JsonConverter".*"value_base64":"eyJraW5kIjoi"'
check "filtered record gives no line" sh -c "! grep -q '\"offset\":5,' '$tmp/out'"
check "unrouted to dlq" has "$tmp/out" '"route":null,"error":{"stage":"NONE","class":"smtproxy.router","exception":null,"message":"no route took the record","step":null},"dlq":"dlq","topic":"in","partition":0,"offset":6'
check "bad line: not json" has "$tmp/err" '^stdin:4: invalid JSON'
check "bad line: not an object" has "$tmp/err" '^stdin:8: expected a JSON object, got array'
check "bad line: unknown member" has "$tmp/err" "^stdin:9: unknown member 'bogus'"
check "summary" has "$tmp/err" '^apply: 6 records in .*out: mask 1, num 1; dropped 1, failed 2, unrouted 1 (to the dlq); dlq 3, bad lines 3'
# the undecodable value is one failure, though both conditions read it
check "output line count" lines "$tmp/out" 5

# apply's output can be fed back in: route/error/dlq members are ignored
grep '"route":"mask"' "$tmp/out" | "$bin" apply -c "$tmp/p.yaml" >"$tmp/out2" 2>"$tmp/err2"
check "feed back: exit 0" [ $? = 0 ]
check "feed back: same record" has "$tmp/out2" '"route":"mask","topic":"users".*"value":{"kind":"user","email":""}'

# tolerance none: the first failure is written, then apply stops, exit 1
head -n 3 "$tmp/in.jsonl" >"$tmp/in3"
echo '{"value":{"kind":"user","email":"x"}}' >>"$tmp/in3"
"$bin" apply -c "$tmp/none.yaml" <"$tmp/in3" >"$tmp/out" 2>"$tmp/err"
rc=$?
check "tolerance none: exit 1" [ $rc = 1 ]
check "tolerance none: failure written" has "$tmp/out" '"error":{"stage":"TRANSFORMATION"'
check "tolerance none: stopped" lines "$tmp/out" 3
check "tolerance none: message names the record" has "$tmp/err" "stopped at record in/0/2 (stdin:3): route 'num', step 'c'"

# --max-errors gives up early
printf 'x\ny\nz\n' | "$bin" apply -c "$tmp/p.yaml" --max-errors 2 >/dev/null 2>"$tmp/err"
check "--max-errors: exit 3" [ $? = 3 ]
check "--max-errors: gave up" has "$tmp/err" 'giving up after 2 bad input lines'
check "--max-errors: third line not read" sh -c "! grep -q '^stdin:3' '$tmp/err'"

# check
"$bin" check -c "$tmp/p.yaml" >"$tmp/out" 2>&1
check "check ok" has "$tmp/out" "p.yaml: ok (2 routes, 3 steps)"
printf 'routes:\n  - name: a\n    transforms:\n      - type: NoSuchThing\n' >"$tmp/bad.yaml"
"$bin" check -c "$tmp/bad.yaml" >"$tmp/out" 2>&1
check "check error: exit 1" [ $? = 1 ]
check "check error: position" has "$tmp/out" 'bad.yaml:4:[0-9]*: '

# usage, transforms, run, version
"$bin" apply >/dev/null 2>&1
check "apply without -c: exit 2" [ $? = 2 ]
"$bin" frobnicate >/dev/null 2>&1
check "unknown command: exit 2" [ $? = 2 ]
# run refuses a broken config before touching Kafka (the relay itself is
# tested against the embedded and a real broker in test_relay_*)
printf 'input: {topics: [a]}\nkafka: {bootstrap.servers: embedded, no.such.property: 1}\nroutes: [{name: r}]\n' >"$tmp/badkafka.yaml"
"$bin" run -c "$tmp/badkafka.yaml" 2>"$tmp/err"
check "run: bad kafka property: exit 2" [ $? = 2 ]
check "run: bad kafka property: position" has "$tmp/err" 'badkafka.yaml:2:[0-9]*: kafka: .*no.such.property'
"$bin" check -c "$tmp/badkafka.yaml" >"$tmp/out" 2>&1
check "check: bad kafka property: exit 1" [ $? = 1 ]
"$bin" run -c "$tmp/missing.yaml" 2>"$tmp/err"
check "run: missing file: exit 2" [ $? = 2 ]
"$bin" --version >"$tmp/out"
check "version" has "$tmp/out" '^smtproxy [0-9]'
"$bin" apply --help >"$tmp/out"
check "apply --help" has "$tmp/out" 'exit status'
"$bin" transforms --markdown >"$tmp/md1"
"$bin" transforms --markdown >"$tmp/md2"
check "markdown deterministic" cmp -s "$tmp/md1" "$tmp/md2"
check "markdown lists mask_field" has "$tmp/md1" '^### `mask_field`'
"$bin" transforms >"$tmp/out"
check "transforms text" has "$tmp/out" 'org.apache.kafka.connect.transforms.MaskField\$Value'

echo "test_apply: $pass passed, $fail failed"
[ $fail = 0 ]

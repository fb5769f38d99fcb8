#!/bin/sh
# tests/integration/test_admin_http.sh - the admin endpoint of `smtproxy run`
# against the embedded cluster (bootstrap.servers: embedded, no broker):
# /healthz, /readyz turning ready, /metrics scraped with curl while records
# flow (every scrape must parse as Prometheus text 0.0.4 and the counters
# must only grow), the final counts per route/step/stage, /config with
# secrets redacted, POST /reload, 404/405, log.format json, and a second
# instance on a port already taken exiting with status 2.
#
# Records are produced with kcat. Every wait has a deadline
# (ADMIN_TEST_DEADLINE seconds, default 60); nothing sleeps a fixed time to
# "let things happen". Uses $SMTPROXY (make exports it) or build/smtproxy.
# Ends with "test_admin_http: N passed, N failed".
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
name=test_admin_http
SMTPROXY=${SMTPROXY:-$root/build/smtproxy}
deadline=${ADMIN_TEST_DEADLINE:-60}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/test_admin.XXXXXX")
pid=
pid2=
pass=0
fail=0

cleanup() {
    for p in $pid $pid2; do
        kill -KILL "$p" 2>/dev/null
    done
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

ok() { pass=$((pass + 1)); }
bad() {
    fail=$((fail + 1))
    echo "$name: FAIL: $*"
}
check() { # check DESCRIPTION COMMAND...
    d=$1
    shift
    if "$@"; then ok; else bad "$d"; fi
}
finish() {
    echo "$name: $pass passed, $fail failed"
    [ "$fail" = 0 ] && [ "$pass" -gt 0 ]
    exit $?
}
# wait_for DESCRIPTION COMMAND...: retry until true or the deadline
wait_for() {
    d=$1
    shift
    end=$(($(date +%s) + deadline))
    while ! "$@"; do
        if [ "$(date +%s)" -ge "$end" ]; then
            bad "timed out waiting for $d"
            return 1
        fi
        sleep 0.05
    done
    return 0
}

for tool in curl kcat python3; do
    if ! command -v $tool >/dev/null 2>&1; then
        echo "$name: $tool is needed"
        finish
    fi
done
if [ ! -x "$SMTPROXY" ]; then
    echo "$name: $SMTPROXY not built (run make)"
    bad "no binary"
    finish
fi

cat >"$tmp/p.yaml" <<'EOF'
name: admin-it
kafka: {bootstrap.servers: embedded, sasl.password: hunter2}
consumer: {ssl.key.password: keypass}
input: {topics: [in]}
errors: {tolerance: all, deadletterqueue.topic.name: dlq}
admin: {enable: true, listen: '127.0.0.1:0'}
log: {format: json}
workers: 2
routes:
  - name: pass
    transforms:
      - {type: Filter, name: drop_it, if: {field: kind, equals: drop}}
    topic: out
  - name: casted
    condition: {field: kind, equals: bad}
    transforms:
      - {type: Cast$Value, name: to_int, spec: 'n:int32'}
    topic: out.bad
  - name: renamed
    transforms:
      - {type: RegexRouter, regex: 'in', replacement: 'renamed'}
EOF

# The exposition checker: every sample `name{labels} value`, HELP and TYPE
# before a family's samples, histogram buckets monotonic with +Inf ==
# _count. Prints "name{labels} value" lines normalised (labels sorted) so
# the shell can grep them; exits 1 with a message when anything is off.
cat >"$tmp/expo.py" <<'EOF'
import re, sys
text = open(sys.argv[1]).read()
if text and not text.endswith("\n"):
    sys.exit("no final newline")
help_, type_, out, hist = {}, {}, [], {}
sample = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
label = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)')
for line in text.splitlines():
    if line.startswith("# HELP "):
        help_[line.split()[2]] = 1
        continue
    if line.startswith("# TYPE "):
        type_[line.split()[2]] = line.split()[3]
        continue
    m = sample.match(line)
    if not m:
        sys.exit("bad line: %r" % line)
    name, labels, value = m.group(1), m.group(3) or "", float(m.group(4))
    pos, kv = 0, []
    while pos < len(labels):
        lm = label.match(labels, pos)
        if not lm:
            sys.exit("bad labels: %r" % line)
        kv.append((lm.group(1), lm.group(2)))
        pos = lm.end()
    fam = name
    for sfx in ("_bucket", "_sum", "_count"):
        if name.endswith(sfx) and type_.get(name[:-len(sfx)]) == "histogram":
            fam = name[:-len(sfx)]
    if fam not in help_ or fam not in type_:
        sys.exit("no HELP/TYPE for %s" % name)
    rest = tuple(sorted(x for x in kv if x[0] != "le"))
    if name.endswith("_bucket") and fam != name:
        le = dict(kv)["le"]
        b = hist.setdefault((fam, rest), [])
        b.append((float("inf") if le == "+Inf" else float(le), value))
    if name.endswith("_count") and fam != name:
        hist.setdefault((fam, rest), []).append(("count", value))
    out.append("%s{%s} %s" % (name, ",".join("%s=%s" % x for x in sorted(kv)),
                              repr(value) if value != int(value) else int(value)))
for key, items in hist.items():
    buckets = [x for x in items if x[0] != "count"]
    count = [x[1] for x in items if x[0] == "count"]
    for a, b in zip(buckets, buckets[1:]):
        if not (b[0] > a[0] and b[1] >= a[1]):
            sys.exit("%s: buckets not monotonic" % (key,))
    if not buckets or buckets[-1][0] != float("inf") or count != [buckets[-1][1]]:
        sys.exit("%s: +Inf != count" % (key,))
print("\n".join(out))
EOF

"$SMTPROXY" run -c "$tmp/p.yaml" --bootstrap-file "$tmp/bs" \
    >"$tmp/out.log" 2>"$tmp/err.log" &
pid=$!

port=
get_port() {
    port=$(sed -n 's/.*admin endpoint on [^ ]* (port \([0-9]*\)).*/\1/p' \
        "$tmp/err.log" | head -n 1)
    [ -n "$port" ] && [ -s "$tmp/bs" ]
}
if ! wait_for "the admin endpoint" get_port; then
    cat "$tmp/err.log"
    finish
fi
url=http://127.0.0.1:$port
bs=$(cat "$tmp/bs")

status() { # status METHOD PATH -> prints the HTTP status
    curl -s -o "$tmp/body" -w '%{http_code}' -X "$1" "$url$2"
}
check "/healthz is 200" [ "$(status GET /healthz)" = 200 ]
ready() { [ "$(status GET /readyz)" = 200 ]; }
wait_for "/readyz 200 (partitions assigned)" ready && ok

# 20000 records in four batches, plus one the Filter drops and one the
# Cast step fails on. Produced batch by batch, scraping until each batch is
# in: the relay is live between batches, so scrapes see counters midway.
n=20000
python3 - "$tmp" "$n" <<'EOF'
import sys
d, n = sys.argv[1], int(sys.argv[2])
for b in range(4):
    with open("%s/batch%d" % (d, b), "w") as f:
        for i in range(b * n // 4, (b + 1) * n // 4):
            f.write('{"kind":"ok","n":%d}\n' % i)
with open("%s/batch4" % d, "w") as f:
    f.write('{"kind":"drop"}\n{"kind":"bad","n":"abc"}\n')
EOF

total=$((n + 2))
scrapes=0
scrape_fail=0
prev_in=0
non_monotonic=0
midway=0
want_in=0
want_out=0
# scrape; true once records in / out of route 'pass' reach want_in/want_out
scraped() {
    if [ "$(status GET /metrics)" != 200 ]; then
        scrape_fail=$((scrape_fail + 1))
        return 1
    fi
    scrapes=$((scrapes + 1))
    if ! python3 "$tmp/expo.py" "$tmp/body" >"$tmp/samples" 2>"$tmp/expo.err"; then
        scrape_fail=$((scrape_fail + 1))
        cat "$tmp/expo.err"
        return 1
    fi
    cur=$(sed -n 's/^smtproxy_records_in_total{topic=in} //p' "$tmp/samples")
    cur=${cur:-0}
    [ "$cur" -ge "$prev_in" ] || non_monotonic=$((non_monotonic + 1))
    prev_in=$cur
    if [ "$cur" -gt 0 ] && [ "$cur" -lt "$total" ]; then
        midway=$((midway + 1))
    fi
    out=$(sed -n 's/^smtproxy_records_out_total{route=pass,topic=out} //p' "$tmp/samples")
    [ "$cur" -ge "$want_in" ] && [ "${out:-0}" -ge "$want_out" ]
}
for b in 0 1 2 3 4; do
    if ! kcat -P -b "$bs" -t in -l "$tmp/batch$b" 2>"$tmp/kcat.err"; then
        bad "kcat: $(cat "$tmp/kcat.err")"
        finish
    fi
    if [ $b -lt 4 ]; then
        want_in=$(((b + 1) * n / 4))
        want_out=$want_in
    else
        want_in=$total
        want_out=$((n + 1))
    fi
    wait_for "records in reaching $want_in" scraped || finish
done
check "scraped while records flowed ($midway scrapes midway)" [ "$midway" -ge 3 ]
check "every scrape parsed ($scrapes scrapes)" [ "$scrape_fail" = 0 ]
check "records in only grew" [ "$non_monotonic" = 0 ]

# The final numbers (the last scrape saw everything in and out of 'pass';
# wait for the rest, which deliver independently).
sample() { sed -n "s/^$1 //p" "$tmp/samples"; }
settled() {
    scraped >/dev/null 2>&1 &&
        [ "$(sample 'smtproxy_records_out_total{route=renamed,topic=renamed}')" = "$total" ] &&
        [ "$(sample 'smtproxy_dlq_records_total{route=casted,topic=dlq}')" = 1 ] &&
        [ "$(sample 'smtproxy_inflight_records{}')" = 0 ]
}
wait_for "the renamed route and the DLQ record" settled
check "filtered per route and step" \
    [ "$(sample 'smtproxy_records_filtered_total{route=pass,step=drop_it}')" = 1 ]
check "errors per stage, route and step" \
    [ "$(sample 'smtproxy_errors_total{route=casted,stage=TRANSFORMATION,step=to_int}')" = 1 ]
check "latency count = deliveries" \
    [ "$(sample 'smtproxy_processing_latency_seconds_count{}')" = $((n + 1 + total + 1)) ]
check "a lag gauge per partition" grep -q '^smtproxy_consumer_lag_records{partition=0,topic=in} ' "$tmp/samples"
check "producer queue depth" grep -q '^smtproxy_producer_queue_messages{} ' "$tmp/samples"
check "fetch kicks counter" grep -q '^smtproxy_fetch_kicks_total{} ' "$tmp/samples"
check "flow pauses counter" grep -q '^smtproxy_flow_pauses_total{} ' "$tmp/samples"
check "unrouted counter" [ "$(sample 'smtproxy_unrouted_records_total{}')" = 0 ]
check "reloads by result" [ "$(sample 'smtproxy_reloads_total{result=ok}')" = 0 ]

check "/config is 200" [ "$(status GET /config)" = 200 ]
check "/config redacts sasl.password" grep -q '"sasl.password":"\[redacted\]"' "$tmp/body"
check "/config shows no secret" sh -c "! grep -q -e hunter2 -e keypass '$tmp/body'"
check "/config is JSON" python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$tmp/body"
check "POST /reload (the same file) is 200" [ "$(status POST /reload)" = 200 ]
check "POST /reload names generation 2" grep -q '"result":"ok","generation":2,' "$tmp/body"
check "the reload is counted" sh -c "curl -s '$url/metrics' | grep -q '^smtproxy_reloads_total{result=\"ok\"} 1\$'"
check "GET /reload is 405" [ "$(status GET /reload)" = 405 ]
check "POST /metrics is 405" [ "$(status POST /metrics)" = 405 ]
check "unknown path is 404" [ "$(status GET /nope)" = 404 ]

# A second instance cannot bind the same port: exit status 2, said why.
sed "s/listen: '127.0.0.1:0'/listen: '127.0.0.1:$port'/" "$tmp/p.yaml" >"$tmp/p2.yaml"
"$SMTPROXY" run -c "$tmp/p2.yaml" >/dev/null 2>"$tmp/err2.log" &
pid2=$!
wait "$pid2"
rc2=$?
pid2=
check "a taken port exits 2 (got $rc2)" [ "$rc2" = 2 ]
check "a taken port is explained" grep -q "admin.listen '127.0.0.1:$port'" "$tmp/err2.log"

kill -TERM "$pid"
wait "$pid"
rc=$?
pid=
check "SIGTERM exits 0 (got $rc)" [ "$rc" = 0 ]
check "the endpoint is gone after exit" [ "$(status GET /healthz)" = 000 ]
check "log lines are JSON" python3 -c '
import json, sys
for line in open(sys.argv[1]):
    o = json.loads(line)
    assert set(o) == {"ts", "level", "msg"}, o
' "$tmp/err.log"
finish

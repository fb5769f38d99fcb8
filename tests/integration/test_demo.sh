#!/bin/sh
# tests/integration/test_demo.sh - `make run`, small: scripts/run-demo with
# DEMO_COUNT=3000 on the embedded cluster. Checks that it exits 0, that
# its summary table's counts per topic are exactly what the generator's
# manifest (its own count of each kind of record it produced) implies for
# config/sensors.yaml - audit = commands, trend = good status readings,
# alert = critical ones (also those whose trend cast fails), DLQ = the
# poison, and every input in exactly one of audit/trend/DLQ - that every
# record was read back, and that a sample is printed for each topic (PII
# masked in audit, stage keys and numbers in trend, __connect.errors.*
# headers in the DLQ). Then: the relay's ERROR lines stay in its log, Ctrl-C
# (SIGINT to the script) mid-run exits 130 leaving no process behind, and
# a relay that cannot start makes run-demo fail with the reason.
# Ends with "test_demo: N passed, N failed".
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${SMTPROXY:-$root/build/smtproxy}
demo=$root/scripts/run-demo
pass=0
fail=0
tmp=$(mktemp -d "${TMPDIR:-/tmp}/test_demo.XXXXXX")
bgpid=""
cleanup() {
    # Only what this test started: the background run-demo, and a relay
    # whose pid its run left in a pid file.
    if [ -n "$bgpid" ] && kill -0 "$bgpid" 2>/dev/null; then
        kill -TERM "$bgpid" 2>/dev/null
    fi
    for f in "$tmp"/*/smtproxy.pid; do
        [ -f "$f" ] || continue
        p=$(cat "$f")
        if kill -0 "$p" 2>/dev/null; then
            kill -TERM "$p" 2>/dev/null
        fi
    done
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
unset KAFKA_BOOTSTRAP

ok() { # ok NAME STATUS
    if [ "$2" = 0 ]; then
        pass=$((pass + 1))
    else
        fail=$((fail + 1))
        echo "FAIL: $1"
    fi
}
eq() { # eq NAME GOT WANT
    if [ "$2" = "$3" ]; then
        pass=$((pass + 1))
    else
        fail=$((fail + 1))
        echo "FAIL: $1: got '$2', want '$3'"
    fi
}
done_() {
    echo "test_demo: $pass passed, $fail failed"
    [ "$fail" = 0 ]
    exit $?
}
# wait_until SECONDS CMD... - polls CMD until it succeeds; 1 on timeout
wait_until() {
    n=$(($1 * 20))
    shift
    while ! "$@"; do
        n=$((n - 1))
        [ $n -gt 0 ] || return 1
        sleep 0.05
    done
}
alive() { kill -0 "$1" 2>/dev/null; }
dead() { ! kill -0 "$1" 2>/dev/null; }

[ -x "$bin" ] || {
    echo "test_demo: no $bin (make first)"
    fail=1
    done_
}

# ------------------------------------------------------------ a full run
d=$tmp/run
out=$tmp/run.out
t0=$(date +%s)
DEMO_COUNT=3000 DEMO_OUT=$d DEMO_VERIFY=1 "$demo" "$bin" >"$out" 2>&1 </dev/null
st=$?
echo "test_demo: run-demo with 3000 records took $(($(date +%s) - t0)) s"
cat "$out"
eq "run-demo exit status" $st 0
[ -f "$d/manifest.json" ]
ok "the generator wrote its manifest" $?
[ -f "$d/manifest.json" ] || done_

# The manifest, as shell variables: what was produced, kind by kind.
eval "$(python3 - "$d/manifest.json" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
k, c = m["kinds"], m["critical"]
print("m_count=%d m_produced=%d m_command=%d m_status=%d m_truncated=%d "
      "m_badnum=%d m_unknown=%d m_notobj=%d m_crit=%d m_crit_bad=%d"
      % (m["count"], m["produced"], k["command"], k["status"],
         k["truncated"], k["bad-number"], k["unknown-type"],
         k["not-object"], c["status"], c["bad-number"]))
PY
)"
eq "manifest: records generated" "$m_count" 3000
eq "manifest: records acknowledged" "$m_produced" 3000
eq "manifest: kinds add up" \
    $((m_command + m_status + m_truncated + m_badnum + m_unknown + m_notobj)) 3000
for v in m_truncated m_badnum m_unknown m_notobj m_crit m_command; do
    eval "n=\$$v"
    [ "$n" -gt 0 ]
    ok "the generator produced some of $v (got $n)" $?
done

# The summary table: "topic   records  note".
count() { # count TOPIC - its number in the table, or "missing"
    c=$(awk -v t="$1" '$1 == t && $2 ~ /^[0-9]+$/ { print $2; exit }' "$out")
    echo "${c:-missing}"
}
raw=$(count sensors.raw)
audit=$(count sensors.audit)
trend=$(count sensors.trend)
alert=$(count sensors.alert)
dlq=$(count sensors.dlq)
eq "table: sensors.raw" "$raw" 3000
eq "table: sensors.audit = commands" "$audit" "$m_command"
eq "table: sensors.trend = good status readings" "$trend" "$m_status"
eq "table: sensors.alert = critical readings (with or without a good cast)" \
    "$alert" $((m_crit + m_crit_bad))
eq "table: sensors.dlq = truncated + bad number + unknown type + not object" \
    "$dlq" $((m_truncated + m_badnum + m_unknown + m_notobj))
case "$audit$trend$alert$dlq" in
*missing*) done_ ;;
esac
eq "every input is in exactly one of audit, trend, dlq" \
    $((audit + trend + dlq)) 3000
[ "$alert" -le $((trend + m_badnum)) ] && [ "$alert" -gt 0 ]
ok "alerts are critical status readings" $?
grep -q "dead letters: $((m_truncated + m_badnum)) failed, $((m_unknown + m_notobj)) unrouted" "$out"
ok "table: the DLQ note splits failed and unrouted" $?
grep -q "^relay counters: in 3000, out audit $audit, trend $trend, alert $alert, dlq $dlq, dropped 0" "$out"
ok "relay counters agree with the topics" $?
for t in sensors.raw sensors.audit sensors.trend sensors.alert sensors.dlq; do
    n=$(count $t)
    grep -q "^read back every record of $t: $n of $n\$" "$out"
    ok "every record of $t read back" $?
done
grep -q MISMATCH "$out"
ok "no read-back mismatch" $((!$?))

# The samples.
sample() { # sample TOPIC - its block of lines
    awk -v t="$1" 'index($0, "sample from " t " ") == 1 { on = 1 }
                   on && $0 == "" { exit }
                   on { print }' "$out"
}
for t in sensors.audit sensors.trend sensors.alert sensors.dlq; do
    sample $t | grep -q '^  key  ' && sample $t | grep -q '^  value  ' &&
        sample $t | grep -q '^  headers  '
    ok "a sample from $t with key, value and headers" $?
done
s=$(sample sensors.audit)
echo "$s" | grep -q '"operator":{"name":"","email":"","ip":""},"source_ip":""'
ok "audit sample: operator's name, e-mail, IP and the source IP masked" $?
echo "$s" | grep -q '@'
ok "audit sample: no e-mail address" $((!$?))
echo "$s" | grep -q 'smtproxy.route: audit'
ok "audit sample: route header" $?
s=$(sample sensors.trend)
echo "$s" | grep -Eq '^  key      "(intake|press|weld|paint|assembly|inspection|packing)"$'
ok "trend sample: keyed by stage" $?
echo "$s" | grep -Eq '"temp_c":[0-9.-]+,"pressure_kpa":[0-9.-]+,'
ok "trend sample: readings cast to numbers" $?
s=$(sample sensors.alert)
echo "$s" | grep -q '"status":"critical"' &&
    echo "$s" | grep -Eq '^  key      "[a-z]+"$'
ok "alert sample: critical, keyed by stage" $?
s=$(sample sensors.dlq)
echo "$s" | grep -q '__connect.errors.topic: sensors.raw' &&
    echo "$s" | grep -q '__connect.errors.exception.class.name: ' &&
    echo "$s" | grep -q '__connect.errors.stage: '
ok "dlq sample: __connect.errors.* headers" $?

# Output hygiene: progress shown, the relay's ERROR lines only in its log.
grep -Eq '^in [0-9]+ \([0-9]+/s\) \| audit [0-9]+ \([0-9]+/s\) \| trend .*\| dlq [0-9]+ \([0-9]+/s\)' "$out"
ok "a progress line with records/s per route and the DLQ" $?
grep -Eq 'Z ERROR |Error encountered' "$out"
ok "no ERROR lines on the terminal" $((!$?))
eq "one ERROR line per failed record in the log" \
    "$(grep -c ' ERROR ' "$d/smtproxy.log")" $((m_truncated + m_badnum))
grep -q "the relay's log: .*smtproxy.log" "$out"
ok "the user is told where the log is" $?
p=$(cat "$d/smtproxy.pid" 2>/dev/null)
[ -n "$p" ] && dead "$p"
ok "smtproxy is gone after the run" $?

# ------------------------------------------------------------ Ctrl-C
d=$tmp/int
out=$tmp/int.out
DEMO_COUNT=200000 DEMO_OUT=$d "$demo" "$bin" >"$out" 2>&1 </dev/null &
bgpid=$!
started() { grep -q '"in":[1-9]' "$d/stats.json" 2>/dev/null; }
wait_until 60 started
ok "interrupt run: records flowing" $?
p=$(cat "$d/smtproxy.pid" 2>/dev/null)
kill -INT $bgpid
wait_until 60 dead $bgpid
ok "run-demo ends after SIGINT" $?
wait $bgpid
st=$?
bgpid=""
cat "$out"
eq "run-demo exit status after SIGINT" $st 130
grep -q 'interrupted; .*smtproxy exit status 0' "$out"
ok "interrupt reported, relay stopped cleanly" $?
[ -n "$p" ] && dead "$p"
ok "no smtproxy left after SIGINT" $?
left=$(pgrep -f "$d/" 2>/dev/null)
eq "no process of the run left after SIGINT" "$left" ""
grep -q '^sample from' "$out"
ok "no summary after an interrupt" $((!$?))

# ------------------------------------------------------------ failure
d=$tmp/bad
out=$tmp/bad.out
sed 's/^name: sensors$/name: sensors\nworkers: lots/' \
    "$root/config/sensors.yaml" >"$tmp/bad.yaml"
DEMO_COUNT=10 DEMO_OUT=$d DEMO_CONFIG=$tmp/bad.yaml "$demo" "$bin" \
    >"$out" 2>&1 </dev/null
st=$?
cat "$out"
eq "run-demo exit status when smtproxy cannot start" $st 1
grep -q 'FAILED: smtproxy exited (status 2)' "$out" &&
    grep -q 'workers: must be a number' "$out"
ok "the failure and the relay's own message are shown" $?

done_

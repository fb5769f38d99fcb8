#!/bin/sh
# tests/integration/test_kafka_broker.sh - the test broker itself: that
# scripts/kafka brings up a broker that really works before any smtproxy
# test relies on it. Starts a broker in a temporary state dir (or uses
# $KAFKA_BOOTSTRAP), creates a 3-partition topic, produces 1000 records
# with kcat (key, value and two headers each), and reads them back with a
# second, independent client - Python confluent-kafka, in a consumer group -
# checking the count, the order within every partition, that a key always
# lands in one partition, and the exact key, value and header bytes. Also
# checks "up" on a running broker, "status", and that "down" stops the
# process and removes the state dir. Ends with
# "test_kafka_broker: N passed, N failed".
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
kafka=$root/scripts/kafka
pass=0
fail=0
tmp=$(mktemp -d "${TMPDIR:-/tmp}/test_kafka_broker.XXXXXX")
state=$tmp/kafka
started=0
cleanup() {
    if [ "$started" = 1 ]; then
        "$kafka" down --dir "$state" >/dev/null 2>&1
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

ok() { # ok NAME STATUS
    if [ "$2" = 0 ]; then
        pass=$((pass + 1))
    else
        fail=$((fail + 1))
        echo "FAIL: $1"
    fi
}
done_() {
    echo "test_kafka_broker: $pass passed, $fail failed"
    [ "$fail" = 0 ]
    exit $?
}

# -------------------------------------------------------------- broker
if [ -n "${KAFKA_BOOTSTRAP:-}" ]; then
    bs=$KAFKA_BOOTSTRAP
    echo "test_kafka_broker: using the broker at $bs"
else
    t0=$(date +%s)
    started=1
    bs=$("$kafka" up --dir "$state" 2>"$tmp/up.err")
    st=$?
    bs=$(echo "$bs" | tail -n 1)
    case $bs in
    127.0.0.1:[0-9]*) ;;
    *) st=1 ;;
    esac
    cat "$tmp/up.err"
    ok "scripts/kafka up prints 127.0.0.1:PORT (got '$bs')" $st
    [ $st = 0 ] || done_
    echo "test_kafka_broker: broker $bs up in $(($(date +%s) - t0)) s"
    again=$("$kafka" up --dir "$state" 2>/dev/null | tail -n 1)
    [ "$again" = "$bs" ]
    ok "up on a running broker prints the same address" $?
    "$kafka" status --dir "$state" | grep -q "^running $bs "
    ok "status says running $bs" $?
fi

py=$("$root/scripts/pydeps")
st=$?
py=$(echo "$py" | tail -n 1)
ok "scripts/pydeps gives a python with confluent_kafka" $st

# -------------------------------------------------------------- produce
topic=test_kafka_broker_$$_$(date +%s)
"$kafka" topic create "$topic" --partitions 3 --bootstrap "$bs" >/dev/null 2>"$tmp/topic.err"
st=$?
ok "topic create $topic" $st
[ $st = 0 ] || cat "$tmp/topic.err"

# Record i: key "key-(i mod 37)" (so keys repeat), value with a sequence
# number, spaces, '=', a tab-free separator and multi-byte UTF-8.
n=1000
awk -v n=$n 'BEGIN { for (i = 0; i < n; i++)
    printf "key-%d\tseq=%d value with spaces, caf\303\251 \342\202\254 #%d\n", i % 37, i, i }' \
    >"$tmp/in.txt"
kcat -P -b "$bs" -t "$topic" -K '\t' -H "src=kcat" -H "note=h=1 caf$(printf '\303\251')" \
    -X acks=all -X linger.ms=5 <"$tmp/in.txt" 2>"$tmp/kcat.err"
st=$?
if [ -s "$tmp/kcat.err" ]; then
    st=1
    cat "$tmp/kcat.err"
fi
ok "kcat produced $n records" $st

# -------------------------------------------------------------- consume
cat >"$tmp/consume.py" <<'EOF'
import sys, time
from confluent_kafka import Consumer, TopicPartition

bs, topic, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
results = []
def check(name, cond, detail=""):
    results.append(cond)
    if not cond:
        print("FAIL: %s %s" % (name, detail))

c = Consumer({"bootstrap.servers": bs, "group.id": "g-" + topic,
              "auto.offset.reset": "earliest", "enable.auto.commit": False,
              "enable.partition.eof": False})
c.subscribe([topic])
got = []
deadline = time.monotonic() + 60
while len(got) < n and time.monotonic() < deadline:
    for m in c.consume(num_messages=500, timeout=1.0):
        if m.error():
            check("consume error", False, str(m.error()))
            continue
        got.append(m)
extra = c.consume(num_messages=10, timeout=0.5)
check("no more than %d records" % n, len(extra) == 0, "got %d extra" % len(extra))
check("consumed %d records" % n, len(got) == n, "got %d" % len(got))

seqs, parts_of_key, last = set(), {}, {}
in_order, bytes_ok = True, True
for m in got:
    k, v = m.key(), m.value()
    seq = int(v.split(b" ")[0][4:])
    want_v = ("seq=%d value with spaces, caf\u00e9 \u20ac #%d" % (seq, seq)).encode()
    want_k = ("key-%d" % (seq % 37)).encode()
    want_h = [("src", b"kcat"), ("note", "h=1 caf\u00e9".encode())]
    if k != want_k or v != want_v or m.headers() != want_h:
        if bytes_ok:
            print("FAIL: record %d: %r %r %r" % (seq, k, v, m.headers()))
        bytes_ok = False
    p = m.partition()
    if seq <= last.get(p, -1) or m.offset() <= last.get(("o", p), -1):
        in_order = False
    last[p], last[("o", p)] = seq, m.offset()
    parts_of_key.setdefault(k, set()).add(p)
    seqs.add(seq)
check("every sequence number once", seqs == set(range(n)), "%d distinct" % len(seqs))
check("key, value and header bytes", bytes_ok)
check("order within each partition", in_order)
check("a key stays in one partition", all(len(s) == 1 for s in parts_of_key.values()))
check("records spread over 3 partitions", len({m.partition() for m in got}) == 3)

# Committing exercises the group coordinator (__consumer_offsets).
offs = c.commit(asynchronous=False)
committed = c.committed([TopicPartition(topic, p) for p in range(3)], timeout=10)
ends = [c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in range(3)]
check("committed offsets are the end offsets",
      [tp.offset for tp in committed] == ends and sum(ends) == n,
      "%r vs %r" % ([tp.offset for tp in committed], ends))
c.close()
print("consume: %d passed, %d failed" % (results.count(True), results.count(False)))
EOF
"$py" "$tmp/consume.py" "$bs" "$topic" $n >"$tmp/consume.out" 2>&1
st=$?
cat "$tmp/consume.out"
p=$(sed -n 's/^consume: \([0-9]*\) passed, \([0-9]*\) failed$/\1/p' "$tmp/consume.out")
f=$(sed -n 's/^consume: \([0-9]*\) passed, \([0-9]*\) failed$/\2/p' "$tmp/consume.out")
if [ -z "$p" ]; then
    ok "the python consumer ran (exit status $st)" 1
else
    pass=$((pass + p))
    fail=$((fail + f))
fi

# Our own broker goes away with its state dir; on someone else's, clean up.
if [ "$started" = 0 ]; then
    "$kafka" topic delete "$topic" --bootstrap "$bs" >/dev/null 2>&1
    ok "topic delete" $?
fi

# -------------------------------------------------------------- down
if [ "$started" = 1 ]; then
    pid=$(cat "$state/pid")
    "$kafka" down --dir "$state" >/dev/null
    ok "down" $?
    started=0
    ! kill -0 "$pid" 2>/dev/null || grep -q '^State:.*Z' "/proc/$pid/status" 2>/dev/null
    ok "down stopped the broker process" $?
    [ ! -e "$state" ]
    ok "down removed the state dir" $?
    ! "$kafka" status --dir "$state" >/dev/null
    ok "status after down says not running" $?
fi
done_

"""avro_e2e.py - smtproxy relaying Avro records (Confluent wire format)
through a real schema registry, checked by independent clients only.

Run by tests/integration/test_avro.sh, which starts the broker and the
registry and passes their addresses: avro_e2e.py BOOTSTRAP REGISTRY_URL
WORKDIR. Prints one line per check ("ok ..." / "FAIL ...") and, last,
"PASSED FAILED".

The producer writes with confluent-kafka's AvroSerializer (schema
registered under <input>-value by the serializer itself): a record with a
nested record, optional fields, a decimal, a timestamp-millis, an enum and
a map; then three bad values (a wrong magic byte, an id the registry does
not know, a truncated datum). smtproxy runs a pipeline with
value.format: avro and two routes:

  main  MaskField(ssn) -> Cast(count:string) -> InsertField(static origin)
        -> RegexRouter(<base>.in -> <base>.out)
  copy  no transforms, to <base>.copy (never decodes the value)

and the consumer checks with AvroDeserializer (schemas fetched by id from
the registry): every field of every main output against the test's own
prediction, that <base>.out-value got the changed schema and the outputs
carry its id, that copy outputs are the input bytes, and that each bad
value is in the DLQ byte for byte with __connect.errors.stage
VALUE_CONVERTER (and, as the copy route never decodes, also on the copy
topic as they are).
"""

import datetime
import decimal
import json
import os
import struct
import sys

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "relay"))
import helpers  # noqa: E402  (Relay, wait_until, uid)

SCHEMA = {
    "type": "record", "name": "Reading", "namespace": "smtproxy.test",
    "fields": [
        {"name": "id", "type": "long"},
        {"name": "ssn", "type": "string"},
        {"name": "count", "type": "int"},
        {"name": "note", "type": ["null", "string"], "default": None},
        {"name": "ts", "type": {"type": "long",
                                "logicalType": "timestamp-millis"}},
        {"name": "amount", "type": {"type": "bytes", "logicalType": "decimal",
                                    "precision": 10, "scale": 2}},
        {"name": "level", "type": {"type": "enum", "name": "Level",
                                   "symbols": ["LOW", "MID", "HIGH"]}},
        {"name": "tags", "type": {"type": "map", "values": "string"}},
        {"name": "loc", "type": {
            "type": "record", "name": "Loc", "fields": [
                {"name": "lat", "type": "double"},
                {"name": "lon", "type": "double"},
                {"name": "alt", "type": ["null", "float"], "default": None}]}},
    ]}

NGOOD = 40
UTC = datetime.timezone.utc
BASE_TS = 1732150000000

PIPELINE = """\
name: {group}
kafka:
  bootstrap.servers: "{bootstrap}"
consumer:
  session.timeout.ms: 6000
  heartbeat.interval.ms: 500
input:
  topics: [{input}]
  key.format: string
  value.format: avro
schema.registry:
  url: "{registry}"
errors:
  tolerance: all
  deadletterqueue.topic.name: {dlq}
  deadletterqueue.context.headers.enable: true
  log.enable: false
delivery:
  commit.interval: 200ms
routes:
  - name: main
    transforms:
      - name: mask
        type: MaskField$Value
        fields: [ssn]
      - name: cast
        type: Cast$Value
        spec: [count:string]
      - name: origin
        type: InsertField$Value
        static.field: origin
        static.value: smtproxy
      - name: rename
        type: RegexRouter
        regex: '(.*)\\.in'
        replacement: '$1.out'
  - name: copy
    topic: {base}.copy
"""

results = [0, 0]


def check(cond, what, detail=""):
    if cond:
        results[0] += 1
        print("ok   %s" % what)
    else:
        results[1] += 1
        print("FAIL %s%s" % (what, (": " + str(detail)) if detail else ""))
    sys.stdout.flush()
    return cond


def record(i):
    """The i-th good input value (as the producer's dict)."""
    return {
        "id": 1000 + i,
        "ssn": "%03d-%02d-%04d" % (i % 900, i % 90, i * 37 % 10000),
        "count": i * 3 - 50,
        "note": None if i % 3 == 0 else "note \u00e9 %d" % i,
        "ts": datetime.datetime.fromtimestamp((BASE_TS + i * 1001) / 1000.0,
                                              tz=UTC),
        "amount": decimal.Decimal(i * 125 - 2000).scaleb(-2),
        "level": ["LOW", "MID", "HIGH"][i % 3],
        "tags": {} if i % 4 == 0 else {"k%d" % j: "v%d" % (i * j)
                                       for j in range(i % 4)},
        "loc": {"lat": 48.1 + i / 100.0, "lon": -11.5 + i / 7.0,
                "alt": None if i % 2 else float(i) + 0.5},
    }


def predict(i):
    """What the main route must make of record(i): Connect's MaskField of a
    string is "", Cast int32 -> string is the decimal text, InsertField
    static adds a string field at the end."""
    v = record(i)
    v["ssn"] = ""
    v["count"] = str(v["count"])
    v["origin"] = "smtproxy"
    return v


def consume_all(bootstrap, topics, want, deadline):
    """Reads topics from the beginning until `want` messages (total) are in
    and every partition is at its end; returns {topic: [Message]}."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": helpers.uid(),
                  "enable.auto.commit": False, "auto.offset.reset": "earliest",
                  "enable.partition.eof": True})
    c.subscribe(topics)
    got = {t: [] for t in topics}

    def step():
        for m in c.consume(100, 0.2):
            if m.error() is None:
                got[m.topic()].append(m)
        return sum(len(v) for v in got.values()) >= want

    try:
        helpers.wait_until(step, lambda: "%d messages on %s (have %s)" % (
            want, topics, {t: len(v) for t, v in got.items()}),
            timeout=deadline)
        # A few more polls to catch anything beyond the expected count.
        for _ in range(5):
            for m in c.consume(100, 0.1):
                if m.error() is None:
                    got[m.topic()].append(m)
    finally:
        c.close()
    return got


def main():
    bootstrap, registry, workdir = sys.argv[1:4]
    base = "avro-" + helpers.uid()
    t_in, t_out, t_copy, t_dlq = (base + ".in", base + ".out", base + ".copy",
                                  base + ".dlq")
    deadline = helpers.DEADLINE

    admin = AdminClient({"bootstrap.servers": bootstrap})
    fs = admin.create_topics([NewTopic(t, num_partitions=1,
                                       replication_factor=1)
                              for t in (t_in, t_out, t_copy, t_dlq)])
    for f in fs.values():
        f.result(deadline)

    src = SchemaRegistryClient({"url": registry})
    ser = AvroSerializer(src, json.dumps(SCHEMA))
    des = AvroDeserializer(src)
    ctx_in = SerializationContext(t_in, MessageField.VALUE)

    inputs = []  # (key, value bytes, good index or None)
    for i in range(NGOOD):
        inputs.append(("k%d" % i, ser(record(i), ctx_in), i))
    in_id = struct.unpack(">I", inputs[0][1][1:5])[0]
    check(inputs[0][1][0] == 0, "the serializer writes magic byte 0")
    latest = src.get_latest_version(t_in + "-value")
    check(latest.schema_id == in_id,
          "the serializer registered under %s-value" % t_in,
          (latest.schema_id, in_id))
    good = inputs[1][1]
    bad = [
        ("bad-magic", b"\x01" + good[1:]),
        ("bad-id", b"\x00" + struct.pack(">I", 0x7ffffff0) + good[5:]),
        ("bad-trunc", good[:len(good) // 2]),
    ]
    # bad ones in between good ones
    for j, (k, v) in enumerate(bad):
        inputs.insert(10 + j * 10, (k, v, None))

    p = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True})
    for k, v, _ in inputs:
        p.produce(t_in, key=k.encode(), value=v)
    check(p.flush(deadline) == 0, "produced %d records" % len(inputs))

    cfg = PIPELINE.format(group=base, bootstrap=bootstrap, input=t_in,
                          registry=registry, dlq=t_dlq, base=base)
    relay = helpers.Relay(workdir, "relay", cfg).start()
    try:
        got = consume_all(bootstrap, [t_out, t_copy, t_dlq],
                          2 * NGOOD + 2 * len(bad), deadline)
    except AssertionError as e:
        check(False, "relay outputs", e)
        print(relay.log_tail())
        relay.stop()
        return
    status = relay.stop()
    check(status == 0, "smtproxy exits 0 on SIGTERM", status)
    if results[1]:
        print(relay.log_tail())

    # main route
    outs = got[t_out]
    check(len(outs) == NGOOD, "main: %d outputs on %s" % (NGOOD, t_out),
          len(outs))
    ctx_out = SerializationContext(t_out, MessageField.VALUE)
    ok = 0
    ids = set()
    wrong = []
    for m in outs:
        k = m.key().decode()
        i = int(k[1:])
        ids.add(struct.unpack(">I", m.value()[1:5])[0])
        try:
            v = des(m.value(), ctx_out)
        except Exception as e:  # noqa: BLE001 - any decode error fails
            wrong.append((k, "does not decode: %s" % e))
            continue
        want = predict(i)
        if v == want:
            ok += 1
        else:
            wrong.append((k, {f: (v.get(f), want.get(f))
                              for f in set(v) | set(want)
                              if v.get(f) != want.get(f)}))
    check(ok == NGOOD, "main: every field of every output as predicted",
          "%d of %d; first differences (got, want): %s"
          % (ok, NGOOD, wrong[:3]))
    check([int(m.key().decode()[1:]) for m in outs] == list(range(NGOOD)),
          "main: keys in input order")

    # the changed schema under the output topic's subject
    try:
        out_latest = src.get_latest_version(t_out + "-value")
    except Exception as e:  # noqa: BLE001
        check(False, "subject %s-value registered" % t_out, e)
        out_latest = None
    if out_latest is not None:
        s = json.loads(out_latest.schema.schema_str)
        fields = {f["name"]: f["type"] for f in s.get("fields", [])}
        check(list(fields) == [f["name"] for f in SCHEMA["fields"]]
              + ["origin"], "out schema: the input's fields, then origin",
              list(fields))
        ct = fields.get("count")
        check(ct == "string" or (isinstance(ct, dict)
                                 and ct.get("type") == "string"),
              "out schema: count is a string", ct)
        check(isinstance(fields.get("ts"), dict) and
              fields["ts"].get("logicalType") == "timestamp-millis",
              "out schema: ts stays a timestamp-millis", fields.get("ts"))
        at = fields.get("amount")
        check(isinstance(at, dict) and at.get("logicalType") == "decimal"
              and at.get("scale") == 2 and at.get("precision") == 10,
              "out schema: amount stays a decimal(10, 2)", at)
        ot = fields.get("origin")
        check("string" in json.dumps(ot), "out schema: origin is a string",
              ot)
        check(ids == {out_latest.schema_id},
              "main outputs carry the id of %s-value" % t_out,
              (ids, out_latest.schema_id))
        check(out_latest.schema_id != in_id,
              "the changed schema has an id of its own")

    # copy route: unchanged values leave byte for byte. A route that never
    # needs the value does not decode it (docs/config.md: a value that does
    # not decode fails "the first route that needed it"), so the bad values
    # are copied too, as the bytes they are.
    copies = got[t_copy]
    want_copy = [v for _, v, _ in inputs]
    check([m.value() for m in copies] == want_copy,
          "copy: all %d values byte for byte, in order" % len(inputs),
          len(copies))

    # DLQ
    dl = got[t_dlq]
    check(len(dl) == len(bad), "dlq: %d records" % len(bad), len(dl))
    by_key = {m.key().decode(): m for m in dl}
    for k, v in bad:
        m = by_key.get(k)
        if not check(m is not None, "dlq: %s present" % k):
            continue
        check(m.value() == v, "dlq: %s byte for byte" % k)
        h = {}
        for hk, hv in m.headers() or []:
            h[hk] = hv
        check(h.get("__connect.errors.stage") == b"VALUE_CONVERTER",
              "dlq: %s at stage VALUE_CONVERTER" % k,
              h.get("__connect.errors.stage"))
        check(h.get("__connect.errors.topic") == t_in.encode(),
              "dlq: %s names its input topic" % k,
              h.get("__connect.errors.topic"))


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # noqa: BLE001 - report, never crash uncounted
        import traceback
        traceback.print_exc()
        check(False, "the test ran to its end", e)
    print("%d %d" % (results[0], results[1]))

"""test_errors.py - the relay's error model (issue 4) against a broker:
Kafka Connect's errors.tolerance / dead letter queue rules on every stage,
checked with an independent client (Python confluent-kafka) only.

The pipeline (ERRORS below) has two routes that see every record: "keep"
passes it on unchanged, "strict" runs steps that fail on purpose for some
records (Cast$Value of "abc" to int32, MaskField$Value on a tombstone, a
RegexRouter whose replacement names a group its regex lacks). Both routes'
conditions read the key and the value, so a key or value that is not JSON
fails before any route takes the record: one DLQ record per input.

What is expected is written here from Kafka Connect's semantics (the
reference notes' sections 3-4 on stages and error handling) and issue 4,
not from smtproxy's code:

- a DLQ record is the input's key, value and timestamp byte for byte, the
  input's headers first and in order, then Connect's __connect.errors.*
  headers in Connect's order, then __smtproxy.errors.route (absent for a
  record that failed to decode) and __smtproxy.errors.step (absent when no
  step failed);
- one test per stage (poison records), fan-out partial failure,
  tolerance none (stop, exit 1, commit exactly up to the record, restart
  re-reads it), an unwritable DLQ, the failure breaker, 1% poison in a
  large stream, and Connect's errors.log layout without secrets (also
  when a kafka: block with a sasl.password is rejected).

Most checks share one relay run per tier (the `stages` fixture); the
rest start their own. Every wait has a deadline; there are no sleeps.
"""

import json
import os
import re
import signal
import subprocess
import time
import types

import pytest
from confluent_kafka.admin import (AdminClient, AlterConfigOpType,
                                   ConfigEntry, ConfigResource)

import conftest
import helpers as h

JSON_CONV = "org.apache.kafka.connect.json.JsonConverter"
DATA_EXC = "org.apache.kafka.connect.errors.DataException"
CAST = "org.apache.kafka.connect.transforms.Cast$Value"
MASK = "org.apache.kafka.connect.transforms.MaskField$Value"
REGEX_ROUTER = "org.apache.kafka.connect.transforms.RegexRouter"
# Java's Matcher.appendReplacement on "$2" with one group, as RegexRouter
# (Matcher.replaceFirst) throws it in Connect
NO_GROUP_EXC = "java.lang.IndexOutOfBoundsException"
PRODUCER = "org.apache.kafka.clients.producer.KafkaProducer"
TOO_LARGE_EXC = "org.apache.kafka.common.errors.RecordTooLargeException"

CONNECT_HEADERS = [
    "__connect.errors.topic", "__connect.errors.partition",
    "__connect.errors.offset", "__connect.errors.connector.name",
    "__connect.errors.task.id", "__connect.errors.stage",
    "__connect.errors.class.name", "__connect.errors.exception.class.name",
    "__connect.errors.exception.message",
    "__connect.errors.exception.stacktrace"]
ROUTE_HDR = "__smtproxy.errors.route"
STEP_HDR = "__smtproxy.errors.step"

WORKERS = 2
SECRET = "pw-Zq9xT4-never-print-me"

# The steps of the "strict" route. The MaskField step has no name: its id
# is chain.c's default, <transform's snake name>#<1-based position>.
STRICT_STEPS = """\
      - name: cast-n
        type: Cast$Value
        spec: [n:int32]
        predicate: tomb
        negate: true
      - type: MaskField$Value
        fields: [n]
        predicate: tomb
      - name: reroute
        type: RegexRouter
        regex: "(.*)"
        replacement: "$2-x"
        if: {field: kind, equals: regex}
"""
MASK_STEP_ID = "mask_field#2"

ERRORS = """\
name: {group}
kafka:
  bootstrap.servers: "{bootstrap}"
{kafka_extra}consumer:
  session.timeout.ms: 6000
  heartbeat.interval.ms: 500
input:
  topics: [{input}]
  key.format: json
  value.format: json
predicates:
  tomb: {{type: RecordIsTombstone}}
x-reads-key-and-value: &both
  all:
    - any: [{{key: id, exists: true}}, {{key: id, exists: false}}]
    - any: [{{field: kind, exists: true}}, {{field: kind, exists: false}}]
errors:
  tolerance: {tolerance}
  deadletterqueue.topic.name: {dlq}
  deadletterqueue.context.headers.enable: true
  log.enable: {log}
  log.include.messages: {log}
{errors_extra}workers: {workers}
delivery:
  commit.interval: 200ms
  shutdown.timeout: 30s
{delivery_extra}routes:
  - name: keep
    condition: *both
    topic: {keep}
  - name: strict
    condition: *both
    topic: {strict}
    transforms:
{steps}"""


def errors_yaml(t, bs, tolerance="all", log=False, errors_extra="",
                kafka_extra="", steps=STRICT_STEPS, workers=WORKERS,
                delivery_extra=""):
    return ERRORS.format(
        group=t.group, bootstrap=bs, kafka_extra=kafka_extra, input=t.input,
        tolerance=tolerance, dlq=t.dlq, log="true" if log else "false",
        errors_extra=errors_extra, workers=workers, keep=t.keep,
        delivery_extra=delivery_extra,
        strict=t.strict, steps=steps if steps.strip() else "      []\n")


class ETopics:
    """Topic and group names of one test (see helpers.Topics)."""

    def __init__(self, tag):
        u = h.uid()
        self.group = "err-%s-%s" % (tag, u)
        self.input = "in-%s-%s" % (tag, u)
        self.keep = "keep-%s-%s" % (tag, u)
        self.strict = "strict-%s-%s" % (tag, u)
        self.dlq = "dlq-%s-%s" % (tag, u)

    def partitioned(self):
        return [self.input, self.keep, self.strict]


# ---------------------------------------------------------------- inputs

BASE_TS = 1732150000000

# kind -> what must become of it: (routes it reaches, DLQ expectation as
# (stage, executing class, exception class, route header, step header))
MODEL = {
    "good": (("keep", "strict"), None),
    "cast": (("keep",), ("TRANSFORMATION", CAST, DATA_EXC, "strict",
                         "cast-n")),
    "tomb": (("keep",), ("TRANSFORMATION", MASK, DATA_EXC, "strict",
                         MASK_STEP_ID)),
    "regex": (("keep",), ("TRANSFORMATION", REGEX_ROUTER, NO_GROUP_EXC,
                          "strict", "reroute")),
    "badvalue": ((), ("VALUE_CONVERTER", JSON_CONV, DATA_EXC, None, None)),
    "badkey": ((), ("KEY_CONVERTER", JSON_CONV, DATA_EXC, None, None)),
    # an output too large for the strict topic (real broker only)
    "big": (("keep",), ("KAFKA_PRODUCE", PRODUCER, TOO_LARGE_EXC, "strict",
                        None)),
}


def _j(v):
    return json.dumps(v, separators=(",", ":")).encode()


def mk(seq, kind, key_id=None, pad=0):
    """One input of `kind` (see MODEL). Values are {"seq", "kind", "n"}
    objects, keys {"id"} objects; headers include a repeated name and a
    null value, so their order and nulls are checked too."""
    if key_id is None:
        # poison records get keys of their own, so they spread over every
        # input partition (and so over every worker)
        key_id = "k%d" % (seq % 7) if kind == "good" else "p%d" % seq
    key = _j({"id": key_id})
    v = {"seq": seq, "kind": kind, "n": "abc" if kind == "cast" else
         str(seq % 1000)}
    if pad:
        v["pad"] = "p" * pad
    value = _j(v)
    if kind == "tomb":
        key, value = _j({"id": "tomb-%d" % seq}), None
    elif kind == "badvalue":
        value = value[:len(value) // 2]
    elif kind == "badkey":
        key = b'{"id":"k%d' % seq
    headers = [("trace", b"t-%d" % seq), ("origin", b"gw-%d" % (seq % 3)),
               ("trace", b"t-%d-b" % seq)]
    if seq % 2:
        headers.append(("nullable", None))
    return h.Input(seq, kind, key, value, headers, BASE_TS + seq * 11,
                   key_id)


def stage_inputs(start=0, ngood=150, npoison=6, kinds=("cast", "tomb",
                                                       "regex", "badvalue",
                                                       "badkey")):
    """ngood good inputs with npoison of each poison kind spread among
    them."""
    kinds = list(kinds)
    out = []
    seq = start
    total = ngood + npoison * len(kinds)
    poison_every = total // (npoison * len(kinds) + 1)
    pk = 0
    for i in range(total):
        if (i + 1) % poison_every == 0 and pk < npoison * len(kinds):
            kind = kinds[pk % len(kinds)]
            pk += 1
        else:
            kind = "good"
        out.append(mk(seq, kind))
        seq += 1
    return out


# ------------------------------------------------------------- reading

def dlq_where(m):
    """(partition, offset) the DLQ record's last context headers point at,
    or None."""
    hd = {}
    for k, v in m.headers:
        hd[k] = v
    try:
        return (int(hd["__connect.errors.partition"]),
                int(hd["__connect.errors.offset"]))
    except (KeyError, TypeError, ValueError):
        return None


class Seen:
    """What the relay wrote for t: the keep and strict topics and the DLQ,
    each record tied to its input."""

    def __init__(self, bs, t, inputs):
        self.t = t
        self.by_seq = {i.seq: i for i in inputs}
        self.by_pos = {(i.partition, i.offset): i for i in inputs}
        self.by_key = {i.key: i for i in inputs if i.kind == "tomb"}
        self.raw = {"keep": h.read_topic(bs, t.keep),
                    "strict": h.read_topic(bs, t.strict),
                    "dlq": h.read_topic(bs, t.dlq)}
        self.problems = []
        self.got = {"keep": {}, "strict": {}, "dlq": {}}
        for r in ("keep", "strict"):
            for m in self.raw[r]:
                i = self._route_input(r, m)
                if i is not None:
                    self.got[r].setdefault(i.seq, []).append(m)
        for m in self.raw["dlq"]:
            i = self.by_pos.get(dlq_where(m))
            if i is None:
                self.problems.append("DLQ record %s points at no input "
                                     "(headers %r)" % (m.where(), m.headers))
            else:
                self.got["dlq"].setdefault(i.seq, []).append(m)

    def _route_input(self, r, m):
        if m.value is None:
            i = self.by_key.get(m.key)
        else:
            try:
                i = self.by_seq.get(json.loads(m.value)["seq"])
            except (ValueError, KeyError, TypeError):
                i = None
        if i is None:
            self.problems.append("%s record %s names no input: %r / %r"
                                 % (r, m.where(), m.key, (m.value or b"")[:80]))
        return i


def expected_route_value(route, inp):
    if inp.value is None:
        return None
    v = json.loads(inp.value)
    if route == "strict":
        v["n"] = int(v["n"])
    return v


def route_problems(seen, inp, route):
    """inp's outputs on route: exactly one when the model says so (key,
    value, headers, timestamp as predicted), none otherwise."""
    routes, _ = MODEL[inp.kind]
    ms = seen.got[route].get(inp.seq, [])
    if route not in routes:
        return ["%s: %d output(s) on route %s, expected none"
                % (inp.where(), len(ms), route)] if ms else []
    if len(ms) != 1:
        return ["%s: %d output(s) on route %s, expected one"
                % (inp.where(), len(ms), route)]
    m = ms[0]
    p = []
    what = "%s record %s for %s" % (route, m.where(), inp.where())
    try:
        k = json.loads(m.key)
        v = json.loads(m.value) if m.value is not None else None
    except (TypeError, ValueError) as e:
        return ["%s: not JSON (%s)" % (what, e)]
    if k != json.loads(inp.key):
        p.append("%s: key %r, expected %r" % (what, m.key, inp.key))
    if v != expected_route_value(route, inp):
        p.append("%s: value %r, expected %r" % (
            what, v, expected_route_value(route, inp)))
    if m.headers != inp.headers:
        p.append("%s: headers %r, expected %r" % (what, m.headers,
                                                  inp.headers))
    if m.ts != inp.ts or m.ts_type != 1:
        p.append("%s: timestamp %r (type %d), expected %r (create time)"
                 % (what, m.ts, m.ts_type, inp.ts))
    return p


def dlq_record_problems(m, inp, t, want, workers=WORKERS):
    """The DLQ record format (issue 4): input bytes, headers, context
    headers in Connect's order with Connect's values, then ours."""
    stage, klass, exc, route, step = want
    what = "DLQ record %s for %s" % (m.where(), inp.where())
    p = []
    if m.key != inp.key or m.value != inp.value:
        p.append("%s: key/value %r / %r, expected the input's bytes %r / %r"
                 % (what, m.key, (m.value or b"")[:120], inp.key,
                    (inp.value or b"")[:120]))
    if m.ts != inp.ts or m.ts_type != 1:
        p.append("%s: timestamp %r (type %d), expected %r (create time)"
                 % (what, m.ts, m.ts_type, inp.ts))
    n = len(inp.headers)
    if m.headers[:n] != inp.headers:
        p.append("%s: does not start with the input's headers %r: %r"
                 % (what, inp.headers, m.headers[:n + 1]))
    ctx = m.headers[n:]
    names = [k for k, _ in ctx]
    want_names = CONNECT_HEADERS + ([ROUTE_HDR] if route else []) + (
        [STEP_HDR] if step else [])
    if names != want_names:
        p.append("%s: context headers %r, expected exactly %r"
                 % (what, names, want_names))
    hd = dict(ctx)
    want_vals = {
        "__connect.errors.topic": t.input.encode(),
        "__connect.errors.partition": str(inp.partition).encode(),
        "__connect.errors.offset": str(inp.offset).encode(),
        "__connect.errors.connector.name": t.group.encode(),
        "__connect.errors.stage": stage.encode(),
        "__connect.errors.class.name": klass.encode(),
        "__connect.errors.exception.class.name": exc.encode(),
    }
    if route:
        want_vals[ROUTE_HDR] = route.encode()
    if step:
        want_vals[STEP_HDR] = step.encode()
    for k, v in want_vals.items():
        if hd.get(k) != v:
            p.append("%s: header %s = %r, expected %r" % (what, k, hd.get(k),
                                                          v))
    task = hd.get("__connect.errors.task.id")
    if task not in [str(i).encode() for i in range(workers)]:
        p.append("%s: task.id %r, expected a worker index 0..%d"
                 % (what, task, workers - 1))
    msg = hd.get("__connect.errors.exception.message")
    if not msg:
        p.append("%s: exception.message missing or empty" % what)
    st = hd.get("__connect.errors.exception.stacktrace") or b""
    first = st.split(b"\n")[0]
    if first != exc.encode() + b": " + (msg or b""):
        p.append("%s: stacktrace's first line %r, expected '%s: <message>'"
                 " (message %r)" % (what, first, exc, msg))
    return p


def kind_problems(seen, inputs, kinds):
    """For every input of kinds: its route outputs and its DLQ record
    (exactly one, however many routes met it)."""
    p = []
    for inp in inputs:
        if inp.kind not in kinds:
            continue
        for r in ("keep", "strict"):
            p += route_problems(seen, inp, r)
        _, want = MODEL[inp.kind]
        ms = seen.got["dlq"].get(inp.seq, [])
        if want is None:
            if ms:
                p.append("%s: %d DLQ record(s), expected none"
                         % (inp.where(), len(ms)))
            continue
        if len(ms) != 1:
            p.append("%s: %d DLQ record(s), expected exactly one"
                     % (inp.where(), len(ms)))
        for m in ms[:1]:
            p += dlq_record_problems(m, inp, seen.t, want)
    return p


def committed_at_ends(bs, t, relays, what):
    """Waits until the group's committed offsets are the input's end
    offsets; a partition that never had a record may have none
    (OFFSET_INVALID): there is nothing to commit there."""
    ends = h.end_offsets(bs, t.input)
    last = {}

    def check():
        for r in relays:
            assert r.alive(), "%s exited early (status %s); log:\n%s" % (
                r.name, r.proc.returncode, r.log_tail())
        last.update(h.committed(bs, t.group, t.input, list(ends)))
        return all(last[p] == e or (e == 0 and last[p] < 0)
                   for p, e in ends.items())

    h.wait_until(check, lambda: "%s: committed offsets of %s to reach the "
                 "end offsets %r (last seen %r)" % (what, t.group, ends,
                                                    last),
                 interval=0.2)


def wait_ends(bs, t, relays, what):
    """committed_at_ends, but returns the failure text instead of raising,
    so the outputs can still be checked."""
    try:
        committed_at_ends(bs, t, relays, what)
        return None
    except AssertionError as e:
        return str(e)


def make_topics(tier, procs, t, extra=None):
    """The topics of t (DLQ with 1 partition) on the tier; returns the
    bootstrap address. Real: created here (and deleted by the caller);
    embedded: a host process keeps a mock cluster with them."""
    if tier == "real":
        bs = conftest.real_bootstrap()
        topics = {n: (h.INPUT_PARTITIONS, {}) for n in t.partitioned()}
        topics[t.dlq] = (1, {})
        topics.update(extra or {})
        conftest.create_real_topics(bs, topics)
        return bs
    host = procs.relay("host", h.host_config(t.partitioned(), [t.dlq]))
    host.start()
    return host.bootstrap()


def fmt(p):
    return h.fmt_problems(p, n=20)


# ------------------------------------------------ the shared stage run

STAGE_PARTITIONS = 16


@pytest.fixture(scope="module")
def stages(tier, tmp_path_factory):
    """One relay, tolerance all, two workers, errors.log with messages, a
    sasl.password in its kafka: block; inputs: good ones with every poison
    kind spread among them, on an input topic of STAGE_PARTITIONS
    partitions. Waits until the committed offsets are the end offsets (or
    the deadline) and reads everything back. On the embedded tier the relay
    is its own cluster (as in test_accounting.py)."""
    t = ETopics("stages")
    procs = conftest.Procs(str(tmp_path_factory.mktemp("errors-" + tier)))
    bs = None
    try:
        secret = "  sasl.username: relay\n  sasl.password: \"%s\"\n" % SECRET
        if tier == "embedded":
            relay = procs.relay("relay", errors_yaml(
                t, "embedded", log=True, kafka_extra=secret,
                delivery_extra="  embedded.partitions: %d\n"
                % STAGE_PARTITIONS)).start()
            bs = relay.bootstrap()
        else:
            bs = make_topics(tier, procs, t, extra={
                t.input: (STAGE_PARTITIONS, {})})
            relay = procs.relay("relay", errors_yaml(
                t, bs, log=True, kafka_extra=secret)).start()
        inputs = h.produce(bs, t.input, stage_inputs())
        ends_problem = wait_ends(bs, t, [relay], "the stage run")
        seen = Seen(bs, t, inputs)
        if relay.alive():
            relay.stop()  # (the embedded cluster goes with it: read first)
        log = relay.log_text()
        yield types.SimpleNamespace(t=t, bs=bs, inputs=inputs, seen=seen,
                                    log=log, ends_problem=ends_problem,
                                    relay=relay)
    finally:
        procs.cleanup()
        if tier == "real" and bs is not None:
            conftest.delete_real_topics(bs, t.partitioned() + [t.dlq])


def _stage_test(run, kinds):
    p = kind_problems(run.seen, run.inputs, ("good",) + tuple(kinds))
    p += run.seen.problems
    n = sum(1 for i in run.inputs if i.kind in kinds)
    assert n > 0, "no inputs of kinds %r" % (kinds,)
    if run.ends_problem:
        p.append("committed offsets: " + run.ends_problem)
    assert not p, fmt(p)


def test_poison_malformed_value(stages):
    """A value that is not JSON: VALUE_CONVERTER, JsonConverter,
    DataException; one DLQ record per input (not one per route), no route
    or step header, no output on either route."""
    _stage_test(stages, ["badvalue"])


def test_poison_malformed_key(stages):
    """key.format json and a key that is not JSON: KEY_CONVERTER."""
    _stage_test(stages, ["badkey"])


def test_poison_cast(stages):
    """Cast$Value of "abc" to int32: TRANSFORMATION, Cast$Value,
    DataException, route and step headers; keep still has the record."""
    _stage_test(stages, ["cast"])


def test_poison_mask_tombstone(stages):
    """MaskField$Value on a tombstone: TRANSFORMATION, MaskField$Value;
    the step has no name, so its id is the default <type>#<n>."""
    _stage_test(stages, ["tomb"])


def test_poison_regex_router(stages):
    """RegexRouter replacing with $2 when the regex has one group:
    TRANSFORMATION, RegexRouter (Java's IndexOutOfBoundsException)."""
    _stage_test(stages, ["regex"])


def test_fanout_partial_failure(stages):
    """keep passes every decodable input, in input order per key; strict
    has exactly the good ones; the DLQ exactly the bad ones (route header
    strict for the route failures); nothing twice; committed = end."""
    run = stages
    seen = run.seen
    p = list(seen.problems)
    for r in ("keep", "strict", "dlq"):
        want = set()
        for i in run.inputs:
            routes, d = MODEL[i.kind]
            if (r == "dlq" and d is not None) or r in routes:
                want.add(i.seq)
        have = set(seen.got[r])
        if want - have:
            p.append("%s: missing %s" % (r, h.describe_seqs(
                want - have, seen.by_seq)))
        if have - want:
            p.append("%s: unexpected %s" % (r, h.describe_seqs(
                have - want, seen.by_seq)))
        dups = {q for q, ms in seen.got[r].items() if len(ms) > 1}
        if dups:
            p.append("%s: duplicated %s" % (r, h.describe_seqs(
                dups, seen.by_seq)))
    for q, ms in seen.got["dlq"].items():
        i = seen.by_seq[q]
        _, d = MODEL[i.kind]
        for m in ms:
            route = dict(m.headers).get(ROUTE_HDR)
            want = d[3].encode() if d and d[3] else None
            if route != want:
                p.append("DLQ record for %s: route header %r, expected %r"
                         % (i.where(), route, want))
    # per key, keep's outputs in input order (one output partition)
    streams = {}
    for m in seen.raw["keep"]:
        i = seen._route_input("keep", m)
        if i is not None:
            streams.setdefault(i.key, []).append((m, i))
    for key, ms in streams.items():
        if len({m.partition for m, _ in ms}) != 1:
            p.append("keep, key %r: outputs on several partitions" % key)
            continue
        ms.sort(key=lambda x: x[0].offset)
        seqs = [i.seq for _, i in ms]
        if seqs != sorted(seqs):
            p.append("keep, key %r: outputs out of input order: %r"
                     % (key, seqs[:20]))
    if run.ends_problem:
        p.append("committed offsets: " + run.ends_problem)
    assert not p, fmt(p)


def test_dlq_task_id_is_the_partitions_worker(stages):
    """task.id is the index of the worker that handled the record: one
    input partition is always handled by the same worker, so its DLQ
    records share one task id; with two workers and poison records on
    (nearly) all of 16 input partitions, both workers' ids appear."""
    by_part = {}
    for ms in stages.seen.got["dlq"].values():
        for m in ms:
            hd = dict(m.headers)
            by_part.setdefault(hd.get("__connect.errors.partition"),
                               set()).add(hd.get("__connect.errors.task.id"))
    assert len(by_part) >= STAGE_PARTITIONS // 2, (
        "DLQ records on only %d input partitions" % len(by_part))
    bad = {p: sorted(ids) for p, ids in by_part.items() if len(ids) != 1}
    assert not bad, "input partitions with several task ids: %r" % bad
    ids = set().union(*by_part.values())
    want = {str(i).encode() for i in range(WORKERS)}
    assert ids == want, (
        "task ids %r over %d input partitions, expected the worker indexes "
        "%r" % (sorted(ids), len(by_part), sorted(want)))


LOG_LINE = re.compile(
    r"Error encountered in task (?P<name>\S+)-(?P<task>\d+)\. Executing "
    r"stage '(?P<stage>[A-Z_]+)' with class '(?P<cls>[^']+)', where "
    r"consumed record is \{topic='(?P<topic>[^']*)', partition=(?P<p>\d+), "
    r"offset=(?P<o>\d+), timestamp=(?P<ts>-?\d+), "
    r"timestampType=CreateTime\}\.")


def test_error_log_layout_and_no_secret(stages):
    """errors.log.enable + include.messages: one line per failure in
    Connect's layout with the record's coordinates and timestamp; the
    sasl.password of the kafka: block never appears."""
    run = stages
    p = []
    if SECRET in run.log:
        p.append("the sasl.password value appears in the log: %r" % [
            ln for ln in run.log.splitlines() if SECRET in ln][:3])
    lines = {}
    for ln in run.log.splitlines():
        mt = LOG_LINE.search(ln)
        if mt:
            lines.setdefault((int(mt.group("p")), int(mt.group("o"))),
                             []).append(mt)
    for i in run.inputs:
        _, d = MODEL[i.kind]
        got = lines.pop((i.partition, i.offset), [])
        if d is None:
            continue
        if len(got) != 1:
            p.append("%s: %d log line(s) in Connect's layout, expected one"
                     % (i.where(), len(got)))
            continue
        mt = got[0]
        want = {"name": run.t.group, "stage": d[0], "cls": d[1],
                "topic": run.t.input, "ts": str(i.ts)}
        for k, v in want.items():
            if mt.group(k) != v:
                p.append("%s: log line %s = %r, expected %r: %s"
                         % (i.where(), k, mt.group(k), v, mt.group(0)))
        dlq = run.seen.got["dlq"].get(i.seq, [])
        task = dict(dlq[0].headers).get(
            "__connect.errors.task.id") if dlq else None
        if task is not None and mt.group("task").encode() != task:
            p.append("%s: log line's task %s, the DLQ record's task.id %r"
                     % (i.where(), mt.group("task"), task))
    for pos, ms in lines.items():
        p.append("log line for %r, which did not fail: %s"
                 % (pos, ms[0].group(0)))
    if not any(LOG_LINE.search(ln) for ln in run.log.splitlines()):
        p.append("no line in Connect's layout; lines with 'Error "
                 "encountered': %r" % [ln for ln in run.log.splitlines()
                                       if "Error encountered" in ln][:3])
    assert not p, fmt(p)


# ------------------------------------------ KAFKA_PRODUCE (real broker)

@pytest.mark.real_only
def test_poison_record_too_large(tier, procs):
    """An output larger than the strict topic's max.message.bytes (2048):
    KAFKA_PRODUCE, KafkaProducer, RecordTooLargeException, route header,
    no step header; keep has the record; the later records pass."""
    t = ETopics("large")
    bs = make_topics(tier, procs, t, extra={
        t.strict: (h.INPUT_PARTITIONS, {"max.message.bytes": "2048"})})
    procs.on_cleanup(lambda: conftest.delete_real_topics(
        bs, t.partitioned() + [t.dlq]))
    relay = procs.relay("relay", errors_yaml(t, bs)).start()
    big = mk(0, "big", pad=8000)
    inputs = h.produce(bs, t.input, [big])
    # alone first: a batch with the big record fails as a whole

    def in_dlq():
        assert relay.alive(), "relay exited (status %s); log:\n%s" % (
            relay.proc.returncode, relay.log_tail())
        return h.end_offsets(bs, t.dlq).get(0, 0) >= 1
    h.wait_until(in_dlq, "the big record's DLQ record", interval=0.2)
    inputs += h.produce(bs, t.input, [mk(s, "good") for s in range(1, 21)])
    ends_problem = wait_ends(bs, t, [relay], "the too-large run")
    seen = Seen(bs, t, inputs)
    p = kind_problems(seen, inputs, ("good", "big")) + seen.problems
    if ends_problem:
        p.append("committed offsets: " + ends_problem)
    assert not p, fmt(p)


# -------------------------------------------------- tolerance none

def _stop_line(relay, t, inp):
    """The relay's final message naming inp as topic/partition/offset."""
    where = "%s/%d/%d" % (t.input, inp.partition, inp.offset)
    for ln in reversed(relay.log_text().splitlines()):
        if re.search(r"%s\b" % re.escape(where), ln) and \
                "Error encountered" not in ln:
            return ln
    raise AssertionError("no message naming %s; log:\n%s"
                         % (where, relay.log_tail()))


def test_tolerance_none_stops_dlqs_and_rereads(tier, cluster, procs):
    """errors.tolerance none with a DLQ: the Cast failure stops the relay
    (exit 1, a message naming the record and the cause), the record is in
    the DLQ, the committed offset of its partition is exactly its offset
    with the earlier records delivered; a restart fails on it again (a
    second DLQ copy); a config whose chain accepts it then delivers it and
    everything after it."""
    t = ETopics("none")
    bs = cluster(t)
    relay = procs.relay("strict", errors_yaml(t, bs, tolerance="none"))
    relay.start()
    inputs = [mk(s, "good") for s in range(10)] + [mk(10, "cast")] + [
        mk(s, "good") for s in range(11, 20)]
    bad = inputs[10]
    h.produce(bs, t.input, inputs, partition=1)
    rc = relay.wait()
    assert rc == 1, "exit status %r, expected 1; log:\n%s" % (
        rc, relay.log_tail())
    line = _stop_line(relay, t, bad)
    got = h.committed(bs, t.group, t.input)
    assert got.get(1) == bad.offset, (
        "committed offsets %r, expected partition 1 at the failing record's "
        "offset %d" % (got, bad.offset))
    seen = Seen(bs, t, inputs)
    p = list(seen.problems)
    for i in inputs[:10]:
        p += route_problems(seen, i, "keep") + route_problems(
            seen, i, "strict")
    ms = seen.got["dlq"].get(bad.seq, [])
    if len(ms) != 1 or len(seen.raw["dlq"]) != 1:
        p.append("DLQ holds %d records, %d for the failing record; expected "
                 "exactly it, once" % (len(seen.raw["dlq"]), len(ms)))
    for m in ms:
        p += dlq_record_problems(m, bad, t, MODEL["cast"][1])
        msg = dict(m.headers).get("__connect.errors.exception.message")
        if msg and msg.decode() not in line:
            p.append("the stop message does not give the cause %r: %s"
                     % (msg.decode(), line))
    assert not p, fmt(p)

    # the same config again: the same record fails again
    relay.start()
    rc = relay.wait()
    assert rc == 1, "restart: exit status %r, expected 1; log:\n%s" % (
        rc, relay.log_tail())
    _stop_line(relay, t, bad)
    got = h.committed(bs, t.group, t.input)
    assert got.get(1) == bad.offset, (
        "restart: committed offsets %r, expected partition 1 at %d"
        % (got, bad.offset))
    dlq = Seen(bs, t, inputs).got["dlq"]
    assert list(dlq) == [bad.seq] and len(dlq[bad.seq]) == 2, (
        "restart: DLQ holds %r, expected two copies of seq %d" % (
            {q: len(ms) for q, ms in dlq.items()}, bad.seq))

    # a chain that accepts it (no Cast): everything after it delivered
    fixed = procs.relay("fixed", errors_yaml(t, bs, tolerance="none",
                                             steps="")).start()
    committed_at_ends(bs, t, [fixed], "after the fix")
    assert fixed.stop() == 0
    seen = Seen(bs, t, inputs)
    p = list(seen.problems)
    for r in ("keep", "strict"):
        for i in inputs:
            n = len(seen.got[r].get(i.seq, []))
            if n == 0:
                p.append("%s: %s lost" % (r, i.where()))
            elif n > 1 and i.offset < bad.offset:
                p.append("%s: %s (before the committed offset) %d times"
                         % (r, i.where(), n))
    if len(seen.raw["dlq"]) != 2:
        p.append("DLQ holds %d records after the fix, expected the two "
                 "copies" % len(seen.raw["dlq"]))
    assert not p, fmt(p)


# ------------------------------------------------ DLQ unavailable

@pytest.mark.real_only
def test_dlq_unwritable_stops_then_delivers(tier, cluster, procs):
    """A DLQ topic with max.message.bytes=512 and a poison record larger
    than that: the relay cannot write the DLQ record and stops (exit 1)
    without committing past it; once the topic takes 1 MB a restart
    delivers the DLQ record and everything after it."""
    t = ETopics("dlqdown")
    bs = cluster(t, {t.dlq: (1, {"max.message.bytes": "512"})})
    relay = procs.relay("relay", errors_yaml(t, bs)).start()
    inputs = [mk(s, "good") for s in range(5)]
    bad = mk(5, "badvalue")
    bad.value = bad.value + b"x" * 2000  # still not JSON, now 2 KB
    inputs += [bad] + [mk(s, "good") for s in range(6, 12)]
    h.produce(bs, t.input, inputs, partition=1)
    rc = relay.wait()
    assert rc == 1, "exit status %r, expected 1; log:\n%s" % (
        rc, relay.log_tail())
    _stop_line(relay, t, bad)
    got = h.committed(bs, t.group, t.input)
    assert got.get(1) == bad.offset, (
        "committed offsets %r, expected partition 1 at the record whose DLQ "
        "record failed (offset %d)" % (got, bad.offset))
    assert h.end_offsets(bs, t.dlq) == {0: 0}, "the DLQ took something"

    a = AdminClient({"bootstrap.servers": bs})
    res = ConfigResource(ConfigResource.Type.TOPIC, t.dlq,
                         incremental_configs=[ConfigEntry(
                             "max.message.bytes", "1048576",
                             incremental_operation=AlterConfigOpType.SET)])
    for f in a.incremental_alter_configs([res]).values():
        f.result(30)

    def raised():
        r = ConfigResource(ConfigResource.Type.TOPIC, t.dlq)
        cfg = list(a.describe_configs([r]).values())[0].result(10)
        return cfg["max.message.bytes"].value == "1048576"
    h.wait_until(raised, "the DLQ topic's max.message.bytes to be raised",
                 interval=0.2)

    relay.start()
    committed_at_ends(bs, t, [relay], "after raising the limit")
    assert relay.stop() == 0
    seen = Seen(bs, t, inputs)
    p = list(seen.problems)
    for i in inputs:
        if i is bad:
            continue
        for r in ("keep", "strict"):
            if not seen.got[r].get(i.seq):
                p.append("%s: %s lost" % (r, i.where()))
    ms = seen.got["dlq"].get(bad.seq, [])
    if len(ms) != 1 or len(seen.raw["dlq"]) != 1:
        p.append("DLQ holds %d records, %d for the poison record; expected "
                 "it once" % (len(seen.raw["dlq"]), len(ms)))
    for m in ms:
        p += dlq_record_problems(m, bad, t, MODEL["badvalue"][1])
    assert not p, fmt(p)


# ------------------------------------------------------ the breaker

BREAKER = "  breaker.max.failures: 5\n  breaker.window: 1m\n"


def test_breaker_trips_after_max_failures(tier, cluster, procs):
    """tolerance all, breaker.max.failures 5 in 1m: the 6th failure stops
    the relay (exit 1, a message naming the breaker) with nothing
    committed past the 6th failing record; without the breaker (the
    default 0) the same records pass with their failures in the DLQ."""
    t = ETopics("breaker")
    bs = cluster(t)
    relay = procs.relay("breaker", errors_yaml(
        t, bs, errors_extra=BREAKER)).start()
    inputs = [mk(s, "good") for s in range(10)]
    for k in range(8):  # 8 failures, a good record after each
        inputs += [mk(10 + 2 * k, "cast"), mk(11 + 2 * k, "good")]
    inputs += [mk(s, "good") for s in range(26, 30)]
    h.produce(bs, t.input, inputs, partition=1)
    bads = [i for i in inputs if i.kind == "cast"]
    end = h.end_offsets(bs, t.input)[1]

    def stopped_or_through():
        # exited, or (no breaker) committed through every record
        return not relay.alive() or h.committed(
            bs, t.group, t.input, [1]).get(1) == end
    h.wait_until(stopped_or_through, "the relay to stop (or to commit "
                 "through every record)", interval=0.2)
    assert not relay.alive(), (
        "the relay committed every record and runs on: the breaker did not "
        "trip after %d failures; log:\n%s" % (len(bads), relay.log_tail()))
    rc = relay.wait()
    assert rc == 1, "exit status %r, expected 1 (breaker); log:\n%s" % (
        rc, relay.log_tail())
    log = relay.log_text()
    assert re.search(r"breaker", log, re.I), (
        "no message naming the breaker; log:\n%s" % relay.log_tail())
    got = h.committed(bs, t.group, t.input)
    assert got.get(1, -1) <= bads[5].offset, (
        "committed offsets %r: partition 1 past the record that tripped the "
        "breaker (the 6th failure, offset %d)" % (got, bads[5].offset))

    # the default: no breaker
    plain = procs.relay("plain", errors_yaml(t, bs)).start()
    committed_at_ends(bs, t, [plain], "without the breaker")
    assert plain.stop() == 0
    seen = Seen(bs, t, inputs)
    p = list(seen.problems)
    for i in inputs:
        if not seen.got["keep"].get(i.seq):
            p.append("keep: %s lost" % i.where())
        if i.kind == "cast" and not seen.got["dlq"].get(i.seq):
            p.append("DLQ: %s lost" % i.where())
        if i.kind == "good" and not seen.got["strict"].get(i.seq):
            p.append("strict: %s lost" % i.where())
    assert not p, fmt(p)


# ------------------------------------- a stop interrupts a retry wait

RETRY_FOREVER = """\
name: {group}
kafka:
  bootstrap.servers: "{bootstrap}"
input:
  topics: [{input}]
  value.format: avro
schema.registry: {{url: "http://127.0.0.1:1", timeout: 200ms}}
errors:
  tolerance: all
  retry.timeout: -1
  deadletterqueue.topic.name: {dlq}
workers: 2
delivery:
  commit.interval: 200ms
routes:
  - name: keep
    topic: {keep}
    transforms:
      - {{type: InsertField$Value, static.field: x, static.value: y}}
"""


def test_stop_interrupts_retry_wait(tier, cluster, procs):
    """Avro values whose schema registry does not answer fail retriably;
    with errors.retry.timeout -1 the route retries forever. SIGTERM must
    still stop the relay promptly, and the records whose retries it cut
    short are neither reported (no DLQ record) nor committed past."""
    t = ETopics("retrystop")
    bs = cluster(t)
    relay = procs.relay("retrystop", RETRY_FOREVER.format(
        group=t.group, bootstrap=bs, input=t.input, dlq=t.dlq,
        keep=t.keep)).start()
    inputs = [mk(s, "good") for s in range(3)]
    for i in inputs:  # the Confluent wire header of schema id 1, then junk
        i.value = b"\x00\x00\x00\x00\x01" + i.value
    h.produce(bs, t.input, inputs, partition=1)
    relay.wait_stats(lambda s: s["in"] >= len(inputs),
                     "the relay to consume the records")
    t0 = time.monotonic()
    relay.signal(signal.SIGTERM)
    rc = relay.wait(60)
    took = time.monotonic() - t0
    assert rc in (0, 1), "exit status %r; log:\n%s" % (rc, relay.log_tail())
    log = relay.log_text()
    assert "still retrying at shutdown" in log, (
        "no record was cut short while retrying (%.1f s to stop); log:\n%s"
        % (took, relay.log_tail()))
    got = h.committed(bs, t.group, t.input, [1]).get(1, -1001)
    assert got <= inputs[0].offset, (
        "committed offset %r of partition 1 is past the first record still "
        "retrying (offset %d)" % (got, inputs[0].offset))
    seen = Seen(bs, t, inputs)
    assert not seen.raw["dlq"], "the DLQ holds %d record(s); expected none " \
        "(a stop is not a failure)" % len(seen.raw["dlq"])


# ------------------------------------------- 1% poison, large stream

NBIG = int(os.environ.get("RELAY_ERRORS_RECORDS", "50000"))


def test_one_percent_poison_large_stream(tier, cluster, procs):
    """NBIG records on 4 partitions, every 100th not JSON: both routes
    have exactly the good ones, the DLQ exactly the bad ones, nothing
    twice, committed = end, and the --stats-file counters agree."""
    t = ETopics("mass")
    bs = cluster(t)
    relay = procs.relay("relay", errors_yaml(t, bs, steps="""\
      - name: cast-n
        type: Cast$Value
        spec: [n:int32]
""")).start()
    inputs = []
    for s in range(NBIG):
        i = mk(s, "badvalue" if s % 100 == 99 else "good",
               key_id="k%d" % (s % 61))
        inputs.append(i)
    h.produce(bs, t.input, inputs)
    ends_problem = wait_ends(bs, t, [relay], "the large run")
    nbad = sum(1 for i in inputs if i.kind == "badvalue")
    ngood = NBIG - nbad

    def settled(s):
        return s["retired"] == NBIG and s["inflight"] == 0
    stats = None
    if ends_problem is None:
        stats = relay.wait_stats(settled, "all %d retired" % NBIG)
    seen = Seen(bs, t, inputs)
    p = list(seen.problems)
    if ends_problem:
        p.append("committed offsets: " + ends_problem)
    for r, kind in (("keep", "good"), ("strict", "good"),
                    ("dlq", "badvalue")):
        want = {i.seq for i in inputs if i.kind == kind}
        have = set(seen.got[r])
        if want != have:
            p.append("%s: missing %s; unexpected %s" % (
                r, h.describe_seqs(want - have, seen.by_seq),
                h.describe_seqs(have - want, seen.by_seq)))
        dups = sum(len(ms) - 1 for ms in seen.got[r].values())
        if dups:
            p.append("%s: %d duplicates" % (r, dups))
    for q, ms in seen.got["dlq"].items():
        for m in ms:
            p += dlq_record_problems(m, seen.by_seq[q], t,
                                     MODEL["badvalue"][1])
    if stats is not None:
        want = {"in": NBIG, "dlq": nbad, "failed": nbad, "dropped": 0,
                "unrouted": 0,
                "out": {"keep": ngood, "strict": ngood}}
        got = {k: stats.get(k) for k in want}
        if got != want:
            p.append("stats %r, expected %r" % (got, want))
    assert not p, fmt(p)


# ------------------------------------------- secrets and config errors

SECRET_CONFIGS = {
    # librdkafka rejects the SASL mechanism
    "mechanism": '  sasl.mechanism: NOPE\n  sasl.password: "{s}"\n',
    # the password is not a string
    "not-a-string": '  sasl.mechanism: PLAIN\n  sasl.password: {{v: "{s}"}}\n',
    # given twice
    "duplicate": ('  sasl.mechanism: PLAIN\n  sasl.password: "{s}"\n'
                  '  sasl.password: "{s}"\n'),
}


@pytest.mark.parametrize("variant", sorted(SECRET_CONFIGS))
def test_config_error_never_prints_the_secret(tmp_path, variant):
    """A kafka: block whose SASL settings are wrong: `smtproxy check` and
    `smtproxy run` fail and say why, without the password's value."""
    cfg = tmp_path / "secretive.yaml"
    cfg.write_text(
        "name: secretive\nkafka:\n  bootstrap.servers: \"127.0.0.1:1\"\n"
        "  security.protocol: SASL_PLAINTEXT\n  sasl.username: relay\n"
        + SECRET_CONFIGS[variant].format(s=SECRET)
        + "input:\n  topics: [in-x]\nroutes:\n  - name: keep\n"
        "    topic: out-x\n")
    for cmd in (["check"], ["run"]):
        p = subprocess.run([h.SMTPROXY] + cmd + ["-c", str(cfg)],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           stdin=subprocess.DEVNULL, timeout=h.DEADLINE)
        out = p.stdout.decode(errors="replace")
        assert SECRET not in out, "smtproxy %s printed the password: %s" % (
            cmd[0], out[-2000:])
        if variant != "mechanism" or cmd == ["run"]:
            assert p.returncode != 0 and out.strip(), (
                "smtproxy %s: exit status %d with output %r, expected a "
                "failure that says why" % (cmd[0], p.returncode, out[-500:]))

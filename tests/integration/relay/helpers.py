"""helpers.py - the independent side of the relay tests: generates sensor
records, predicts what smtproxy must make of them (the test's own model of
the pipeline in PIPELINE below, written from the Connect semantics, not
from smtproxy's code), produces and reads Kafka topics with Python
confluent-kafka, runs `smtproxy run` processes, and compares.

Nothing here uses smtproxy to check smtproxy: its only inputs are what the
relay wrote to Kafka (outputs, DLQ, committed offsets), its exit status,
its log text and its --stats-file (used only to decide *when* to act, e.g.
"kill it once it has consumed 5000 records", never as evidence).

Every wait has a deadline (wait_until); there are no fixed sleeps.
"""

import ctypes
import json
import os
import random
import signal
import subprocess
import time
import uuid

from confluent_kafka import (Consumer, KafkaError, KafkaException, Producer,
                             TopicPartition)
from confluent_kafka import OFFSET_BEGINNING

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
SMTPROXY = os.environ.get("SMTPROXY") or os.path.join(ROOT, "build", "smtproxy")

# How long a test waits for anything (a start, a drain, a rebalance).
DEADLINE = float(os.environ.get("RELAY_TEST_DEADLINE", "90"))

STAGES = ["intake", "press", "weld", "paint", "assembly", "inspection",
          "packing"]
OPERATORS = [("Ana Lima", "ana.lima@example.com"),
             ("Jonas Becker", "j.becker@example.com"),
             ("Mei Tanaka", "mei.tanaka@example.org"),
             ("Ines Duarte", "ines.duarte@example.com")]
BASE_TS = 1732150000000
NSENSORS = 97

DATA_EXC = "org.apache.kafka.connect.errors.DataException"
JSON_CONV = "org.apache.kafka.connect.json.JsonConverter"
CAST = "org.apache.kafka.connect.transforms.Cast$Value"
ROUTES = ("audit", "trend", "alert")


def uid():
    """A short unique suffix for topic and group names."""
    return uuid.uuid4().hex[:10]


def wait_until(cond, what, timeout=DEADLINE, interval=0.05):
    """Polls cond() until it returns something truthy and returns that;
    fails with `what` (a string or a function giving one) at the deadline."""
    end = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() >= end:
            raise AssertionError("timed out after %.0f s waiting for %s"
                                 % (timeout, what() if callable(what) else what))
        time.sleep(interval)


# ---------------------------------------------------------------- records

class Input:
    """One input record as produced, with where it landed."""
    __slots__ = ("seq", "kind", "key", "value", "headers", "ts", "sensor",
                 "partition", "offset", "predicted")

    def __init__(self, seq, kind, key, value, headers, ts, sensor):
        self.seq, self.kind, self.key, self.value = seq, kind, key, value
        self.headers, self.ts, self.sensor = headers, ts, sensor
        self.partition = self.offset = self.predicted = None

    def where(self):
        return "input seq %d (%s) at partition %s offset %s" % (
            self.seq, self.kind, self.partition, self.offset)


def _dumps(v):
    return json.dumps(v, separators=(",", ":"))


def gen_inputs(n, seed=1, poison=0.01, start_seq=0):
    """n sensor records: ~10% management commands (personal data), the rest
    status readings (~3% critical), and `poison` of them bad: truncated
    JSON, "temp_c":"n/a", an unknown type, a value that is not an object.
    Every JSON object carries "seq" (its index), so outputs name their
    input. Keys are the sensor id as a JSON string; a sensor always has the
    same stage."""
    rng = random.Random(seed)
    out = []
    for i in range(start_seq, start_seq + n):
        s = rng.randrange(NSENSORS)
        sid = "s-%04d" % s
        stage = STAGES[s % len(STAGES)]
        ts = BASE_TS + i * 7
        headers = [("gateway", ("gw-%02d" % (s % 4)).encode()),
                   ("trace_id", ("%016x" % rng.getrandbits(64)).encode())]
        r = rng.random()
        status = "critical" if rng.random() < 0.03 else (
            "warn" if rng.random() < 0.1 else "ok")
        reading = {"temp_c": "%.1f" % (20 + rng.random() * 60),
                   "pressure_kpa": "%.1f" % (95 + rng.random() * 10),
                   "status": status}
        status_v = {"type": "status", "seq": i, "sensor_id": sid,
                    "stage": stage, "ts": ts, "reading": reading,
                    "firmware": "2.4.1"}
        if r < poison:
            k = rng.randrange(4)
            if k == 0:
                kind = "truncated"
                text = _dumps(status_v)
                value = text[:rng.randrange(10, len(text) - 5)].encode()
            elif k == 1:
                kind = "bad-number"
                reading["temp_c"] = "n/a"
                value = _dumps(status_v).encode()
            elif k == 2:
                kind = "unknown-type"
                value = _dumps({"type": "heartbeat", "seq": i,
                                "sensor_id": sid, "uptime_s": 5}).encode()
            else:
                kind = "not-object"
                value = _dumps([sid, i]).encode()
        elif r < poison + 0.10:
            kind = "command"
            name, email = rng.choice(OPERATORS)
            value = _dumps({"type": "command", "seq": i,
                            "action": "recalibrate", "sensor_id": sid,
                            "operator": {"name": name, "email": email,
                                         "ip": "10.1.2.%d" % rng.randrange(250)},
                            "source_ip": "203.0.113.%d" % rng.randrange(250),
                            "ts": ts}).encode()
        else:
            kind = "status"
            value = _dumps(status_v).encode()
        out.append(Input(i, kind, _dumps(sid).encode(), value, headers, ts,
                         sid))
    return out


# ------------------------------------------------------ the pipeline model

PIPELINE = """\
name: {group}
kafka:
  bootstrap.servers: "{bootstrap}"
{kafka_extra}consumer:
  session.timeout.ms: 6000
  heartbeat.interval.ms: 500
{consumer_extra}input:
  topics: [{input}]
  key.format: json
  value.format: json
errors:
  tolerance: {tolerance}
{dlq}  log.enable: false
delivery:
  commit.interval: {commit_interval}
  shutdown.timeout: 30s
  revoke.timeout: 30s
{extra}routes:
  - name: audit
    condition: {{field: type, equals: command}}
    topic: {audit}
    transforms:
      - name: mask-pii
        type: MaskField$Value
        field.syntax.version: V2
        fields: [operator.name, operator.email, operator.ip, source_ip]
      - name: mark
        type: InsertHeader
        header: smtproxy.route
        value.literal: audit
  - name: trend
    condition: {{field: type, equals: status}}
    topic: {trend}
    transforms:
      - name: numbers
        type: Cast$Value
        field.syntax.version: V2
        spec: [reading.temp_c:float64, reading.pressure_kpa:float64]
      - name: stage-key
        type: ValueToKey
        fields: [stage]
      - name: key-is-stage
        type: ExtractField$Key
        field: stage
      - name: mark
        type: InsertHeader
        header: smtproxy.route
        value.literal: trend
  - name: alert
    condition:
      all:
        - {{field: type, equals: status}}
        - {{field: reading.status, equals: critical}}
    topic: {alert}
    transforms:
      - name: stage-key
        type: ValueToKey
        fields: [stage]
      - name: key-is-stage
        type: ExtractField$Key
        field: stage
{more_routes}unrouted: {unrouted}
"""


class Topics:
    """The topic and group names of one test, unique per test."""

    def __init__(self, tag):
        u = uid()
        self.group = "relay-%s-%s" % (tag, u)
        self.input = "in-%s-%s" % (tag, u)
        self.audit = "audit-%s-%s" % (tag, u)
        self.trend = "trend-%s-%s" % (tag, u)
        self.alert = "alert-%s-%s" % (tag, u)
        self.dlq = "dlq-%s-%s" % (tag, u)

    def route_topic(self, route):
        return getattr(self, route)

    def partitioned(self):
        """Topics with INPUT_PARTITIONS partitions (the DLQ has 1)."""
        return [self.input, self.audit, self.trend, self.alert]


INPUT_PARTITIONS = 4


def pipeline_yaml(t, bootstrap, tolerance="all", dlq=True, extra="",
                  more_routes="", unrouted=None, commit_interval="200ms",
                  kafka_extra="", consumer_extra=""):
    """The sensor pipeline (as config/sensors.yaml) on t's topics. extra:
    more top-level sections (YAML text), more_routes: more routes,
    kafka_extra / consumer_extra: more client properties for both clients /
    the consumer ("  key: value" lines)."""
    return PIPELINE.format(
        commit_interval=commit_interval, kafka_extra=kafka_extra,
        consumer_extra=consumer_extra,
        group=t.group, bootstrap=bootstrap, input=t.input, audit=t.audit,
        trend=t.trend, alert=t.alert, tolerance=tolerance,
        dlq=("  deadletterqueue.topic.name: %s\n"
             "  deadletterqueue.context.headers.enable: true\n" % t.dlq)
        if dlq else "",
        extra=extra, more_routes=more_routes,
        unrouted=unrouted or ("dlq" if dlq else "drop"))


def _mask(v):
    v = json.loads(json.dumps(v))
    for f in ("name", "email", "ip"):
        v["operator"][f] = ""
    v["source_ip"] = ""
    return v


def expect(inp):
    """The test's own prediction for one input: {route: (key, value,
    extra headers)} for the routes it must reach, and the DLQ record it
    must cause as (stage, class, exception class), or None."""
    if inp.predicted is None:
        inp.predicted = _predict(inp)
    return inp.predicted


def _predict(inp):
    routes = {}
    try:
        v = json.loads(inp.value)
    except ValueError:
        return routes, ("VALUE_CONVERTER", JSON_CONV, DATA_EXC)
    if not isinstance(v, dict):
        return routes, ("TRANSFORMATION", "smtproxy.router", DATA_EXC)
    dlq = None
    matched = False
    if v.get("type") == "command":
        matched = True
        routes["audit"] = (json.loads(inp.key), _mask(v),
                           [("smtproxy.route", b"audit")])
    if v.get("type") == "status":
        matched = True
        try:
            t = json.loads(json.dumps(v))
            t["reading"]["temp_c"] = float(t["reading"]["temp_c"])
            t["reading"]["pressure_kpa"] = float(t["reading"]["pressure_kpa"])
            routes["trend"] = (v["stage"], t, [("smtproxy.route", b"trend")])
        except ValueError:
            dlq = ("TRANSFORMATION", CAST, DATA_EXC)
        if v["reading"].get("status") == "critical":
            routes["alert"] = (v["stage"], v, [])
    if not matched:
        return routes, ("TRANSFORMATION", "smtproxy.router", DATA_EXC)
    return routes, dlq


# ---------------------------------------------------------------- Kafka I/O

_producers = {}


def close_producers():
    for p in _producers.values():
        p.flush(1)
    _producers.clear()


def produce(bootstrap, topic, inputs, partition=None):
    """Produces inputs (in order, idempotently) and records where each
    landed. Returns inputs. The producer of a bootstrap address is kept
    until close_producers() (the end of the test)."""
    p = _producers.get(bootstrap)
    if p is None:
        p = _producers[bootstrap] = Producer({
            "bootstrap.servers": bootstrap, "enable.idempotence": True,
            "linger.ms": 5, "batch.num.messages": 2000,
            "message.max.bytes": 2000000})
    errors = []

    def dr(err, msg, inp):
        if err is not None:
            errors.append("%s: %s" % (inp.where(), err))
        else:
            inp.partition, inp.offset = msg.partition(), msg.offset()

    for inp in inputs:
        while True:
            try:
                kw = {}
                if partition is not None:
                    kw["partition"] = partition
                p.produce(topic, key=inp.key, value=inp.value,
                          headers=inp.headers, timestamp=inp.ts,
                          on_delivery=lambda e, m, i=inp: dr(e, m, i), **kw)
                break
            except BufferError:
                p.poll(0.1)
        p.poll(0)
    left = p.flush(DEADLINE)
    assert left == 0 and not errors, (
        "producing %d inputs to %s: %d not delivered, errors: %s"
        % (len(inputs), topic, left, errors[:5]))
    return inputs


class Msg:
    __slots__ = ("topic", "partition", "offset", "key", "value", "headers",
                 "ts", "ts_type")

    def __init__(self, m):
        self.topic, self.partition, self.offset = m.topic(), m.partition(), m.offset()
        self.key, self.value = m.key(), m.value()
        self.headers = m.headers() or []
        self.ts_type, self.ts = m.timestamp()

    def where(self):
        return "%s/%d/%d" % (self.topic, self.partition, self.offset)


def _consumer(bootstrap, group=None):
    return Consumer({"bootstrap.servers": bootstrap,
                     "group.id": group or "reader-" + uid(),
                     "enable.auto.commit": False,
                     "enable.partition.eof": False,
                     "auto.offset.reset": "earliest"})


def partitions_of(bootstrap, topic):
    c = _consumer(bootstrap)
    try:
        md = c.list_topics(topic, timeout=10)
        t = md.topics.get(topic)
        assert t is not None and t.error is None, (
            "topic %s: %s" % (topic, t.error if t else "missing"))
        return sorted(t.partitions)
    finally:
        c.close()


# errors of a topic whose partitions have no leader yet
_NOT_YET = (KafkaError.NOT_LEADER_FOR_PARTITION,
            KafkaError.LEADER_NOT_AVAILABLE,
            KafkaError.UNKNOWN_TOPIC_OR_PART, KafkaError._UNKNOWN_PARTITION,
            KafkaError._TIMED_OUT, KafkaError._TRANSPORT)


def end_offsets(bootstrap, topic):
    """{partition: high watermark}. A topic made moments ago may not have
    its leaders yet: a retriable error is asked again (within DEADLINE)."""
    c = _consumer(bootstrap)
    end = time.monotonic() + DEADLINE
    try:
        while True:
            try:
                md = c.list_topics(topic, timeout=10)
                return {p: c.get_watermark_offsets(TopicPartition(topic, p),
                                                   timeout=10)[1]
                        for p in md.topics[topic].partitions}
            except KafkaException as e:
                err = e.args[0]
                if not (err.retriable() or err.code() in _NOT_YET) or \
                        time.monotonic() > end:
                    raise
                time.sleep(0.1)  # a poll interval: the condition is retried
    finally:
        c.close()


def read_topic(bootstrap, topic):
    """Every record of topic, up to the high watermarks seen at the start,
    in offset order per partition."""
    c = _consumer(bootstrap)
    try:
        md = c.list_topics(topic, timeout=10)
        ends = {p: c.get_watermark_offsets(TopicPartition(topic, p),
                                           timeout=10)[1]
                for p in md.topics[topic].partitions}
        want = {p: e for p, e in ends.items() if e > 0}
        got = []
        if not want:
            return got
        c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in want])
        pos = {p: -1 for p in want}
        end = time.monotonic() + DEADLINE
        while any(pos[p] + 1 < want[p] for p in want):
            assert time.monotonic() < end, (
                "reading %s: timed out at positions %r, ends %r"
                % (topic, pos, want))
            for m in c.consume(num_messages=5000, timeout=0.5):
                if m.error():
                    raise KafkaException(m.error())
                if m.offset() < want[m.partition()]:
                    got.append(Msg(m))
                    pos[m.partition()] = m.offset()
        return got
    finally:
        c.close()


def committed(bootstrap, group, topic, parts=None):
    """{partition: committed offset of group} (OFFSET_INVALID = none)."""
    if parts is None:
        parts = partitions_of(bootstrap, topic)
    c = _consumer(bootstrap, group)
    try:
        tps = c.committed([TopicPartition(topic, p) for p in parts],
                          timeout=10)
        return {tp.partition: tp.offset for tp in tps}
    finally:
        c.close()


def wait_committed_ends(bootstrap, group, topic, what="", timeout=DEADLINE,
                        relays=()):
    """Waits until group's committed offsets equal topic's end offsets
    (every input retired and committed). Returns them."""
    ends = end_offsets(bootstrap, topic)
    last = {}

    def check():
        for r in relays:
            assert r.alive(), "%s exited early (status %s); log:\n%s" % (
                r.name, r.proc.returncode, r.log_tail())
        last.update(committed(bootstrap, group, topic, list(ends)))
        return last == ends

    wait_until(check, lambda: "%s: committed offsets of %s to reach the end "
               "offsets %r (last seen %r)" % (what, group, ends, last),
               timeout=timeout, interval=0.2)
    return ends


def feed(bootstrap, topic, inputs, progress, chunk=2000, act_at=None,
         action=None):
    """Produces inputs chunk by chunk while the relay runs, each chunk once
    progress() (records the relay(s) consumed) is within one chunk of what
    was produced, so the relay is busy but never far behind. Once act_at
    records are produced, calls action() (a kill, a stop...) with the
    relay in mid-stream, and produces the rest without waiting."""
    done = 0
    acted = action is None
    for k in range(0, len(inputs), chunk):
        if not acted and done > 0:
            wait_until(lambda: progress() >= done - chunk,
                       lambda: "the relay to consume %d of the %d records "
                       "produced (it has %d)" % (done - chunk, done,
                                                 progress()))
        produce(bootstrap, topic, inputs[k:k + chunk])
        done += len(inputs[k:k + chunk])
        if not acted and done >= act_at:
            # act once the relay is into the last chunk
            wait_until(lambda: progress() > done - len(inputs[k:k + chunk]),
                       lambda: "the relay to start on records %d.." % (
                           done - len(inputs[k:k + chunk])))
            action()
            acted = True
    if not acted:
        action()


# ---------------------------------------------------------------- smtproxy

def _die_with_parent():
    """In the child before exec: SIGKILL when the test process dies, so an
    interrupted run leaves no relay (or embedded cluster) behind."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class Relay:
    """One `smtproxy run` process with its config, log and stats files."""

    def __init__(self, workdir, name, config, args=()):
        self.name = name
        self.dir = os.path.join(workdir, name)
        os.makedirs(self.dir, exist_ok=True)
        self.config = os.path.join(self.dir, "pipeline.yaml")
        self.log = os.path.join(self.dir, "log")
        self.stats_path = os.path.join(self.dir, "stats.json")
        self.bootstrap_file = os.path.join(self.dir, "bootstrap")
        with open(self.config, "w") as f:
            f.write(config)
        self.args = list(args)
        self.proc = None
        self.starts = 0

    def start(self):
        for p in (self.stats_path, self.bootstrap_file):
            if os.path.exists(p):
                os.unlink(p)
        self.starts += 1
        logf = open(self.log, "a")
        logf.write("=== start %d\n" % self.starts)
        logf.flush()
        self.proc = subprocess.Popen(
            [SMTPROXY, "run", "-c", self.config, "--stats-file",
             self.stats_path, "--bootstrap-file", self.bootstrap_file]
            + self.args, stdout=logf, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent)
        logf.close()
        return self

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stats(self):
        try:
            with open(self.stats_path) as f:
                return json.load(f)
        except (OSError, ValueError):
            return None

    def wait_stats(self, pred, what, timeout=DEADLINE):
        def check():
            assert self.alive(), "%s exited (status %s) while waiting for " \
                "%s; log:\n%s" % (self.name, self.proc.returncode, what,
                                  self.log_tail())
            s = self.stats()
            return s if s is not None and pred(s) else None
        return wait_until(check, lambda: "%s: %s (stats %r)" % (
            self.name, what, self.stats()), timeout=timeout)

    def consumed(self):
        """Records consumed so far (from the stats file; 0 before it)."""
        s = self.stats()
        return s["in"] if s else 0

    def bootstrap(self):
        def read():
            assert self.alive(), "%s exited (status %s); log:\n%s" % (
                self.name, self.proc.returncode, self.log_tail())
            try:
                with open(self.bootstrap_file) as f:
                    return f.read().strip()
            except OSError:
                return None
        return wait_until(read, "%s to write its bootstrap file" % self.name)

    def signal(self, sig):
        if self.alive():
            self.proc.send_signal(sig)

    def kill9(self):
        self.proc.kill()
        self.proc.wait(10)

    def wait(self, timeout=DEADLINE):
        """Exit status; fails when the process is still running."""
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError("%s did not exit within %.0f s; log:\n%s"
                                 % (self.name, timeout, self.log_tail()))

    def stop(self, timeout=DEADLINE):
        """SIGTERM and wait; returns the exit status."""
        self.signal(signal.SIGTERM)
        return self.wait(timeout)

    def log_text(self):
        try:
            with open(self.log, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def log_tail(self, n=40):
        return "".join(self.log_text().splitlines(True)[-n:])

    def cleanup(self):
        if self.alive():
            self.proc.kill()
            self.proc.wait(10)


HOST = """\
# the embedded cluster of one test: smtproxy's mock cluster, kept alive by
# this process, with the test's topics declared as routes that never match
name: host-{u}
kafka:
  bootstrap.servers: embedded
input:
  topics: [host-idle-{u}]
errors:
  tolerance: all
{dlq}delivery:
  embedded.partitions: {np}
routes:
{routes}"""


def host_config(topics, dlq_topics=()):
    """A pipeline whose embedded cluster has `topics` (INPUT_PARTITIONS
    partitions each) and `dlq_topics` (1 partition: the relay's DLQ
    topics get one, as in Connect). Its routes never match anything and
    its own input topic stays empty, so it never writes a record."""
    u = uid()
    routes = "".join(
        "  - name: r%d\n    condition: {field: never.set.%s, equals: x}\n"
        "    topic: %s\n" % (i, u, t) for i, t in enumerate(topics))
    dlq = ""
    for i, t in enumerate(dlq_topics):
        routes += ("  - name: d%d\n    condition: {field: never.set.%s, "
                   "equals: x}\n    topic: host-unused-%d-%s\n"
                   "    errors:\n      tolerance: all\n"
                   "      deadletterqueue.topic.name: %s\n" % (i, u, i, u, t))
    return HOST.format(u=u, dlq=dlq, np=INPUT_PARTITIONS, routes=routes)


# ---------------------------------------------------------------- checking

class Outputs:
    """What the relay wrote: every record of the three route topics and
    the DLQ, each tied back to its input (by "seq" in the value, or by the
    DLQ's __connect.errors.* headers)."""

    def __init__(self, bootstrap, t, inputs, dlq=True):
        self.t = t
        self.by_seq = {i.seq: i for i in inputs}
        self.by_pos = {(i.partition, i.offset): i for i in inputs}
        self.routes = {r: read_topic(bootstrap, t.route_topic(r))
                       for r in ROUTES}
        self.dlq = read_topic(bootstrap, t.dlq) if dlq else []
        self.problems = []
        self._grouped = None

    def input_of_route_msg(self, route, m):
        try:
            seq = json.loads(m.value)["seq"]
            return self.by_seq[seq]
        except (ValueError, KeyError, TypeError):
            self.problems.append("%s record %s does not name an input: %r"
                                 % (route, m.where(), m.value[:200]))
            return None

    def input_of_dlq_msg(self, m):
        h = {}
        for k, v in m.headers:
            h[k] = v  # the last one wins, as Connect's readers do
        try:
            assert h["__connect.errors.topic"].decode() == self.t.input
            pos = (int(h["__connect.errors.partition"]),
                   int(h["__connect.errors.offset"]))
            return self.by_pos[pos]
        except (KeyError, ValueError, AssertionError, AttributeError):
            self.problems.append("DLQ record %s does not point at an input "
                                 "(headers %r)" % (m.where(), m.headers))
            return None

    def grouped(self):
        """{route or 'dlq': {seq: [messages]}}."""
        if self._grouped is None:
            self._grouped = self._group()
        return self._grouped

    def _group(self):
        g = {r: {} for r in ROUTES + ("dlq",)}
        for r in ROUTES:
            for m in self.routes[r]:
                i = self.input_of_route_msg(r, m)
                if i is not None:
                    g[r].setdefault(i.seq, []).append(m)
        for m in self.dlq:
            i = self.input_of_dlq_msg(m)
            if i is not None:
                g["dlq"].setdefault(i.seq, []).append(m)
        return g


def expected_sets(inputs, dlq=True):
    """{route or 'dlq': set of seqs} the test's model predicts."""
    want = {r: set() for r in ROUTES + ("dlq",)}
    for i in inputs:
        routes, d = expect(i)
        for r in routes:
            want[r].add(i.seq)
        if d is not None and dlq:
            want["dlq"].add(i.seq)
    return want


def describe_seqs(s, inputs_by_seq, n=5):
    s = sorted(s)
    return "%d: %s%s" % (len(s), ", ".join(
        inputs_by_seq[q].where() for q in s[:n]), " ..." if len(s) > n else "")


def check_accounting(out, inputs, exact=True, allow_dup_from=None):
    """Every predicted (route, input) pair is there, nothing unpredicted is.
    exact: no duplicates at all. allow_dup_from: {partition: offset} -
    duplicates are allowed only for inputs at or after that offset.
    Returns a list of problems (empty = fine)."""
    problems = list(out.problems)
    want = expected_sets(inputs)
    got = out.grouped()
    by_seq = out.by_seq
    for r in ROUTES + ("dlq",):
        have = set(got[r])
        missing = want[r] - have
        extra = have - want[r]
        if missing:
            problems.append("route %s: missing outputs for %s" % (
                r, describe_seqs(missing, by_seq)))
        if extra:
            problems.append("route %s: outputs nobody predicted for %s" % (
                r, describe_seqs(extra, by_seq)))
        dups = {q for q, ms in got[r].items() if len(ms) > 1}
        if dups and exact:
            problems.append("route %s: duplicated outputs (expected none) "
                            "for %s" % (r, describe_seqs(dups, by_seq)))
        elif dups and allow_dup_from is not None:
            bad = {q for q in dups if by_seq[q].offset <
                   allow_dup_from.get(by_seq[q].partition, 0)}
            if bad:
                problems.append(
                    "route %s: duplicates of inputs below the committed "
                    "offsets %r (only the uncommitted tail may repeat): %s"
                    % (r, allow_dup_from, describe_seqs(bad, by_seq)))
    return problems


def dup_count(out):
    return sum(len(ms) - 1 for g in out.grouped().values()
               for ms in g.values() if len(ms) > 1)


def check_contents(out, inputs):
    """Every output's key, value, headers and timestamp as predicted; every
    DLQ record the input's exact bytes plus right context headers."""
    problems = []
    got = out.grouped()
    for r in ROUTES:
        for seq, ms in got[r].items():
            inp = out.by_seq[seq]
            routes, _ = expect(inp)
            if r not in routes:
                continue  # reported by check_accounting
            key, value, extra = routes[r]
            for m in ms:
                what = "%s record %s for %s" % (r, m.where(), inp.where())
                try:
                    k = json.loads(m.key) if m.key is not None else None
                    v = json.loads(m.value)
                except ValueError as e:
                    problems.append("%s: not JSON (%s): %r / %r" % (
                        what, e, m.key, m.value[:200]))
                    continue
                if k != key:
                    problems.append("%s: key %r, expected %r" % (what, k, key))
                if v != value:
                    problems.append("%s: value %r, expected %r" % (
                        what, v, value))
                if m.headers != inp.headers + extra:
                    problems.append("%s: headers %r, expected %r" % (
                        what, m.headers, inp.headers + extra))
                if m.ts != inp.ts or m.ts_type != 1:
                    problems.append("%s: timestamp %r (type %d), expected "
                                    "%r (create time)" % (what, m.ts,
                                                          m.ts_type, inp.ts))
    for seq, ms in got["dlq"].items():
        inp = out.by_seq[seq]
        _, d = expect(inp)
        if d is None:
            continue
        stage, klass, exc = d
        for m in ms:
            what = "DLQ record %s for %s" % (m.where(), inp.where())
            if m.key != inp.key or m.value != inp.value:
                problems.append("%s: bytes %r / %r, expected the input's "
                                "%r / %r" % (what, m.key, m.value[:200],
                                             inp.key, inp.value[:200]))
            if m.ts != inp.ts or m.ts_type != 1:
                problems.append("%s: timestamp %r, expected %r" % (
                    what, m.ts, inp.ts))
            n = len(inp.headers)
            if m.headers[:n] != inp.headers:
                problems.append("%s: does not start with the input's "
                                "headers %r: %r" % (what, inp.headers,
                                                    m.headers))
            h = {}
            for k, v in m.headers[n:]:
                h.setdefault(k, v)
            want = {
                "__connect.errors.topic": out.t.input.encode(),
                "__connect.errors.partition": str(inp.partition).encode(),
                "__connect.errors.offset": str(inp.offset).encode(),
                "__connect.errors.connector.name": out.t.group.encode(),
                "__connect.errors.stage": stage.encode(),
                "__connect.errors.class.name": klass.encode(),
                "__connect.errors.exception.class.name": exc.encode(),
            }
            for k, v in want.items():
                if h.get(k) != v:
                    problems.append("%s: header %s = %r, expected %r" % (
                        what, k, h.get(k), v))
            # the task id is the index of the worker that handled the
            # record: a decimal within 0..workers-1
            task = h.get("__connect.errors.task.id") or b""
            if not (task.isdigit() and int(task) < 64):
                problems.append("%s: header __connect.errors.task.id = %r, "
                                "expected a worker index" % (what, task))
            for k in ("__connect.errors.exception.message",
                      "__connect.errors.exception.stacktrace"):
                if not h.get(k):
                    problems.append("%s: header %s missing or empty" % (
                        what, k))
            st = h.get("__connect.errors.exception.stacktrace") or b""
            if not st.startswith(exc.encode() + b": "):
                problems.append("%s: stacktrace %r does not start with "
                                "'%s: '" % (what, st, exc))
    return problems


def check_order(out):
    """Per input key, each route's outputs appear in input order: a key's
    outputs of one route share one output partition, and their seqs rise
    with the output offset."""
    problems = []
    streams = {}
    for r in ROUTES:
        for m in out.routes[r]:
            i = out.input_of_route_msg(r, m)
            if i is not None:
                streams.setdefault((r, i.key), []).append((m, i))
    for m in out.dlq:
        i = out.input_of_dlq_msg(m)
        if i is not None:
            streams.setdefault(("dlq", i.key), []).append((m, i))
    for (r, key), ms in streams.items():
        parts = {m.partition for m, _ in ms}
        if len(parts) != 1:
            problems.append("route %s, key %s: outputs in partitions %r, "
                            "expected one" % (r, key, sorted(parts)))
            continue
        ms.sort(key=lambda x: x[0].offset)
        seqs = [i.seq for _, i in ms]
        if seqs != sorted(seqs):
            bad = next(j for j in range(1, len(seqs)) if seqs[j] < seqs[j - 1])
            problems.append(
                "route %s, key %s: input seq %d (%s) after seq %d (%s)"
                % (r, key, seqs[bad], ms[bad][0].where(), seqs[bad - 1],
                   ms[bad - 1][0].where()))
    return problems


def fmt_problems(problems, n=15):
    if not problems:
        return ""
    return "%d problem(s):\n  %s%s" % (
        len(problems), "\n  ".join(problems[:n]),
        "\n  ..." if len(problems) > n else "")


def java_murmur2(data):
    """Kafka's Utils.murmur2 (the Java client's default partitioner hash)
    over key bytes, as an unsigned 32-bit value; written from the algorithm
    (MurmurHash2, seed 0x9747b28c), independent of librdkafka."""
    m, r = 0x5bd1e995, 24
    length = len(data)
    h = (0x9747b28c ^ length) & 0xffffffff
    for i in range(length // 4):
        k = int.from_bytes(data[4 * i:4 * i + 4], "little")
        k = (k * m) & 0xffffffff
        k ^= k >> r
        k = (k * m) & 0xffffffff
        h = ((h * m) & 0xffffffff) ^ k
    tail = length & ~3
    rem = length % 4
    if rem == 3:
        h ^= data[tail + 2] << 16
    if rem >= 2:
        h ^= data[tail + 1] << 8
    if rem >= 1:
        h ^= data[tail]
        h = (h * m) & 0xffffffff
    h ^= h >> 13
    h = (h * m) & 0xffffffff
    h ^= h >> 15
    return h


def java_partition(key, partitions):
    """The partition a Java producer picks for a non-null key."""
    return (java_murmur2(key) & 0x7fffffff) % partitions

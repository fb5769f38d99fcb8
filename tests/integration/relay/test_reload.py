"""test_reload.py - hot reload while a stream flows (issue 6).

One relay consumes a 4-partition input (a million records on the real
tier) while the test reloads its pipeline 100 times, alternating between
two configurations A and B that differ in their chains:

  route   A                              B
  all     every record                   every record
  users   kind == user                   kind == user, user.email masked
  hot     n < 20                         n >= 90
  orders  (no such route)                kind == order

Every route of both ends with two InsertHeader steps: `cfg` (A or B) and
`rev`, the number of the file revision the test wrote (each write gets a
new one). The outputs therefore say which generation processed them, and
the test checks, from the outputs alone (read back with confluent-kafka):

  - every input reaches `all` exactly once, and every other route it
    belongs to under the configuration its `rev` names exactly once (no
    duplicates, nothing missing, nothing unpredicted); all outputs of one
    input carry the same `rev` (a record runs under one generation);
  - per input partition, `rev` never decreases with the offset: each
    reload switches a partition at one offset, old below, new from it;
  - only revisions the relay accepted appear, never a broken one, and
    every accepted revision carried records;
  - values: untouched routes pass the input bytes; `users` is masked
    exactly under B.

The triggers are mixed: most reloads rewrite the file (an editor's
write-and-rename, some in-place writes: the inotify watcher), some are
SIGHUP, some POST /reload on the admin endpoint (its answer gives the new
generation). For SIGHUP and POST the new text is written through a hard
link in another directory: the watcher watches the file's own directory,
so it does not see that write and the signal or request is the only
trigger. Two broken files in the middle (a YAML syntax error, through the
watcher; an unknown transform, through POST /reload, answered 422) must
change nothing: `reload rejected` in the log with file:line:col, the error
counter up, the generation and the outputs' `rev` unchanged.

From the relay's --stats-file: generation up by exactly 100, reloads_ok ==
100, reloads_failed == 2, and `rebalances` (assign/revoke callbacks)
unchanged after the first assignment. At the end the committed offsets
equal the end offsets. A /metrics scrape taken halfway through the
reloads is saved as reload-metrics.txt (real tier; in
$RELOAD_METRICS_DIR, default build/) and its smtproxy_reloads_total lines
are printed.

The input is produced by a background thread that keeps at most about two
reload intervals ahead of the reloads, so the stream spans all of them;
the next reload waits until the relay has consumed some records produced
after the last one, so every generation carries records. Waits poll
/metrics (cheap, and immediate, unlike the stats file's 0.5 s cadence).

Records: RELOAD_TEST_RECORDS (default 1000000 real, 100000 embedded).
"""

import array
import json
import os
import re
import signal
import threading
import time
import urllib.error
import urllib.request

import pytest
from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka import OFFSET_BEGINNING

import helpers as h

RELOADS = 100
PARTS = h.INPUT_PARTITIONS
BROKEN_SYNTAX_AFTER = 40   # the syntax error comes after this many reloads
BROKEN_UNKNOWN_AFTER = 60  # the unknown transform after this many


def records(tier):
    v = os.environ.get("RELOAD_TEST_RECORDS")
    if v:
        return int(v)
    return 1000000 if tier == "real" else 100000


# ---------------------------------------------------------------- inputs

KINDS = ("click",) * 12 + ("user",) * 5 + ("order",) * 3


def kind_of(seq):
    return KINDS[((seq * 2654435761) >> 7) % len(KINDS)]


def n_of(seq):
    return (seq * 7919) % 100


def value_of(seq):
    """The input value of record seq (bytes); "seq" comes first so that a
    reader finds it without parsing."""
    return ('{"seq":%d,"kind":"%s","n":%d,"user":{"name":"u%d",'
            '"email":"u%d@example.com"}}' % (seq, kind_of(seq), n_of(seq),
                                             seq % 5000, seq % 5000)).encode()


def position(seq):
    """(partition, offset) of record seq: the producer writes seq to
    partition seq % PARTS in order, idempotently, into a new topic (the
    end offsets are checked to be exactly that)."""
    return seq % PARTS, seq // PARTS


def routes_of(seq, cfg):
    """The routes record seq must reach under configuration cfg."""
    k, n = kind_of(seq), n_of(seq)
    r = ["all"]
    if k == "user":
        r.append("users")
    if (cfg == "A" and n < 20) or (cfg == "B" and n >= 90):
        r.append("hot")
    if cfg == "B" and k == "order":
        r.append("orders")
    return r


# ---------------------------------------------------------------- configs

class Topics:
    """Topic and group names of one run; partitioned()/dlq as the cluster
    fixture wants them (the DLQ topic stays unused)."""

    def __init__(self):
        u = h.uid()
        self.group = "relay-reload-%s" % u
        self.input = "in-reload-%s" % u
        self.out = {r: "%s-reload-%s" % (r, u)
                    for r in ("all", "users", "hot", "orders")}
        self.dlq = "dlq-reload-%s" % u

    def partitioned(self):
        return [self.input] + list(self.out.values())


HEAD = """\
# {what}
name: {group}
kafka:
  bootstrap.servers: "{bootstrap}"
consumer:
  session.timeout.ms: 6000
  heartbeat.interval.ms: 500
  fetch.wait.max.ms: 100      # the embedded cluster waits this long per fetch
input:
  topics: [{input}]
  key.format: string
  value.format: json
errors:
  tolerance: none
delivery:
  commit.interval: 200ms
  shutdown.timeout: 30s
admin:
  enable: true
  listen: 127.0.0.1:0
reload:
  debounce: 100ms
unrouted: drop
routes:
"""


def marks(cfg, rev):
    return ("      - {{type: InsertHeader, header: cfg, value.literal: {c}}}\n"
            "      - {{type: InsertHeader, header: rev, value.literal: "
            "'{r}'}}\n".format(c=cfg, r=rev))


def config_text(t, bootstrap, cfg, rev):
    """Configuration A or B, revision rev."""
    s = HEAD.format(what="configuration %s, revision %d" % (cfg, rev),
                    group=t.group, bootstrap=bootstrap, input=t.input)
    s += ("  - name: all\n    topic: %s\n    transforms:\n" % t.out["all"]
          + marks(cfg, rev))
    s += ("  - name: users\n    condition: {field: kind, equals: user}\n"
          "    topic: %s\n    transforms:\n" % t.out["users"])
    if cfg == "B":
        s += ("      - {type: MaskField$Value, field.syntax.version: V2, "
              "fields: [user.email]}\n")
    s += marks(cfg, rev)
    s += "  - name: hot\n    condition: {field: n, %s}\n" % (
        "lt: 20" if cfg == "A" else "ge: 90")
    s += "    topic: %s\n    transforms:\n" % t.out["hot"] + marks(cfg, rev)
    if cfg == "B":
        s += ("  - name: orders\n    condition: {field: kind, equals: order}"
              "\n    topic: %s\n    transforms:\n" % t.out["orders"]
              + marks(cfg, rev))
    return s


def broken_syntax(t, bootstrap, rev):
    """A YAML syntax error (an unclosed flow sequence) at the end."""
    return (config_text(t, bootstrap, "A", rev)
            + "  - name: broken\n    topic: [never-closed\n")


def broken_unknown(t, bootstrap, rev):
    """Valid YAML, an unknown transform; returns (text, its 1-based line)."""
    s = config_text(t, bootstrap, "B", rev)
    s += "  - name: broken\n    topic: broken\n    transforms:\n"
    line = s.count("\n") + 1
    s += "      - {type: NoSuchTransform$Value, field: x}\n"
    return s, line


# ---------------------------------------------------------------- the relay

class Admin:
    def __init__(self, relay):
        def port():
            m = re.search(r"admin endpoint on \S+ \(port (\d+)\)",
                          relay.log_text())
            assert relay.alive(), "relay exited (status %s); log:\n%s" % (
                relay.proc.returncode, relay.log_tail())
            return m and int(m.group(1))
        self.base = "http://127.0.0.1:%d" % h.wait_until(
            port, "the admin endpoint's port in the log")

    def get(self, path):
        with urllib.request.urlopen(self.base + path, timeout=10) as r:
            return r.status, r.read().decode()

    def post(self, path):
        req = urllib.request.Request(self.base + path, data=b"",
                                     method="POST")
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def metrics(self):
        return self.get("/metrics")[1]


def metric(text, name, labels=""):
    """The value of one series of a /metrics text (0 when absent)."""
    m = re.search(r"^%s%s (\S+)$" % (re.escape(name), re.escape(
        "{%s}" % labels if labels else "")), text, re.M)
    return float(m.group(1)) if m else 0.0


class Scrape:
    """The counters one /metrics scrape gives the test."""

    def __init__(self, admin, topic):
        self.text = admin.metrics()
        self.ok = int(metric(self.text, "smtproxy_reloads_total",
                             'result="ok"'))
        self.error = int(metric(self.text, "smtproxy_reloads_total",
                                'result="error"'))
        self.consumed = int(metric(self.text, "smtproxy_records_in_total",
                                   'topic="%s"' % topic))


# ---------------------------------------------------------------- producing

class Feeder(threading.Thread):
    """Produces records 0..n-1 (record seq to partition seq % PARTS) in the
    background, never more than allowance() allows; allowance() is raised
    by the test as reloads happen (wake() after changing it)."""

    def __init__(self, bootstrap, topic, n, allowance):
        super().__init__(daemon=True)
        self.bootstrap, self.topic, self.n = bootstrap, topic, n
        self.allowance = allowance
        self.cv = threading.Condition()
        self.produced = 0
        self.errors = []
        self.failure = None
        self.stopping = False

    def wake(self):
        with self.cv:
            self.cv.notify_all()

    def stop(self):
        self.stopping = True
        self.wake()

    def _dr(self, err, msg):
        if err is not None and len(self.errors) < 10:
            self.errors.append(str(err))

    def run(self):
        try:
            self._run()
        except Exception as e:  # reported by the test thread
            self.failure = e

    def _run(self):
        p = Producer({"bootstrap.servers": self.bootstrap,
                      "enable.idempotence": True, "linger.ms": 10,
                      "batch.num.messages": 10000,
                      "queue.buffering.max.messages": 200000,
                      "delivery.report.only.error": True,
                      "on_delivery": self._dr})
        seq = 0
        while seq < self.n and not self.stopping:
            with self.cv:
                self.cv.wait_for(lambda: self.stopping or
                                 self.allowance() > seq, timeout=1)
            lim = min(self.n, self.allowance())
            while seq < lim and not self.stopping:
                try:
                    p.produce(self.topic, value=value_of(seq),
                              key=b"k%d" % (seq % 1000),
                              partition=seq % PARTS)
                except BufferError:
                    p.poll(0.05)
                    continue
                seq += 1
                if seq % 5000 == 0:
                    p.poll(0)
                    self.produced = seq
            p.poll(0)
            self.produced = seq
        left = p.flush(h.DEADLINE)
        if left or self.errors:
            raise AssertionError("producing: %d not delivered, errors %r"
                                 % (left, self.errors))
        self.produced = seq


# ---------------------------------------------------------------- reading

class RouteOutputs:
    """What one output topic holds, compactly (a million inputs): per
    input seq, how many outputs and the `rev` of the last one, plus the
    problems seen in single records (a value or a header that is wrong)."""

    def __init__(self, n):
        self.count = bytearray(n)
        self.rev = array.array("i", [-1]) * n
        self.problems = []
        self.total = 0

    def problem(self, s):
        if len(self.problems) < 20:
            self.problems.append(s)


def read_route(bootstrap, route, topic, n, rev_cfg):
    """Reads topic up to its end offsets. Each record must name its input
    ("seq"), carry `cfg` and `rev` headers that agree with each other (the
    configuration the test wrote as that revision), and have the value
    that configuration makes: the input's bytes, except `users` under B
    (user.email masked)."""
    ro = RouteOutputs(n)
    c = Consumer({"bootstrap.servers": bootstrap,
                  "group.id": "reader-" + h.uid(),
                  "enable.auto.commit": False,
                  "enable.partition.eof": False,
                  "auto.offset.reset": "earliest",
                  "fetch.max.bytes": 52428800})
    try:
        md = c.list_topics(topic, timeout=10)
        ends = {p: c.get_watermark_offsets(TopicPartition(topic, p),
                                           timeout=10)[1]
                for p in md.topics[topic].partitions}
        want = {p: e for p, e in ends.items() if e > 0}
        if not want:
            return ro
        c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in want])
        pos = {p: -1 for p in want}
        deadline = time.monotonic() + 5 * h.DEADLINE
        while any(pos[p] + 1 < want[p] for p in want):
            assert time.monotonic() < deadline, (
                "reading %s: timed out at %r, ends %r" % (topic, pos, want))
            for m in c.consume(num_messages=10000, timeout=0.5):
                if m.error():
                    raise KafkaException(m.error())
                p, o = m.partition(), m.offset()
                if o >= want[p]:
                    continue
                pos[p] = o
                ro.total += 1
                v = m.value()
                try:
                    seq = int(v[7:v.index(b",")]) if v.startswith(
                        b'{"seq":') else json.loads(v)["seq"]
                    if not 0 <= seq < n:
                        raise ValueError(seq)
                except (ValueError, KeyError, TypeError):
                    ro.problem("%s/%d/%d names no input: %r" % (
                        route, p, o, v[:100]))
                    continue
                cfg = rev = None
                for k, hv in m.headers() or ():
                    if k == "cfg":
                        cfg = hv
                    elif k == "rev":
                        rev = hv
                try:
                    r = int(rev)
                    ok = rev_cfg.get(r) == cfg.decode()
                except (TypeError, ValueError, AttributeError):
                    r, ok = -1, False
                if not ok:
                    ro.problem("%s/%d/%d (input %d): cfg %r rev %r is no "
                               "revision the relay accepted (%r)" % (
                                   route, p, o, seq, cfg, rev,
                                   rev_cfg.get(r, "never written or broken")))
                if ro.count[seq] < 255:
                    ro.count[seq] += 1
                ro.rev[seq] = r
                if route == "users" and cfg == b"B":
                    good = json.loads(value_of(seq))
                    good["user"]["email"] = ""
                    try:
                        good = json.loads(v) == good
                    except ValueError:
                        good = False
                else:
                    good = v == value_of(seq)
                if not good:
                    ro.problem("%s/%d/%d (input %d, cfg %r): value %r, "
                               "expected %s" % (
                                   route, p, o, seq, cfg, v[:160],
                                   "user.email masked" if route == "users"
                                   and cfg == b"B" else "the input's bytes"))
        return ro
    finally:
        c.close()


# ---------------------------------------------------------------- the test

def test_hundred_reloads_while_streaming(tier, cluster, procs, capsys):
    n = records(tier)
    t = Topics()
    bs = cluster(t)
    chunk = max(1, n // (RELOADS + 3))

    work = os.path.join(procs.workdir, "reload")
    side = os.path.join(procs.workdir, "reload-side")
    os.makedirs(side, exist_ok=True)
    # the relay's file is <work>/pipeline.yaml (helpers.Relay writes it)
    relay = procs.relay("reload", config_text(t, bs, "A", 0))
    path = relay.config
    assert os.path.dirname(path) == work
    link = os.path.join(side, "pipeline.yaml")

    rev_cfg = {0: "A"}   # accepted revision -> configuration
    broken_revs = set()
    state = {"rev": 0, "reloads": 0}

    def write_rename(text):
        tmp = os.path.join(work, ".pipeline.yaml.new")
        with open(tmp, "w") as f:
            f.write(text)
        os.rename(tmp, path)

    def write_in_place(text):
        with open(path, "w") as f:
            f.write(text)

    def write_unseen(text):
        """Through a hard link in another directory: the file changes, the
        watcher on its directory does not hear of it."""
        if os.path.exists(link):
            os.unlink(link)
        os.link(path, link)
        with open(link, "w") as f:
            f.write(text)

    relay.start()
    admin = Admin(relay)
    s0 = relay.wait_stats(lambda s: "generation" in s and "rebalances" in s
                          and s["rebalances"] >= 1,
                          "stats with generation and rebalances, after the "
                          "first assignment")
    gen0 = s0["generation"]

    feeder = Feeder(bs, t.input, n,
                    lambda: min(n, (state["reloads"] + 2) * chunk))
    feeder.start()

    def scrape():
        assert relay.alive(), "relay exited (status %s); log:\n%s" % (
            relay.proc.returncode, relay.log_tail())
        assert feeder.failure is None, "producer: %s" % feeder.failure
        return Scrape(admin, t.input)

    # the first assignment is complete once records flow
    h.wait_until(lambda: scrape().consumed > 0, "the relay to consume")
    s1 = relay.wait_stats(lambda s: s["in"] > 0, "stats after consuming")
    rebalances0 = s1["rebalances"]
    assert s1["generation"] == gen0, s1

    metrics_sample = None
    answers = []  # POST /reload answers that were not as specified
    flowing = 0   # reloads triggered with produced records not consumed yet
    triggers = {"rename": 0, "in-place": 0, "SIGHUP": 0, "POST": 0}

    def wait_consumed(k):
        # Records past (k + 1) * chunk were produced only after reload k
        # was counted: once the relay has consumed some of them, the
        # running generation k has records of its own, and the rest of
        # the allowance is still flowing when reload k + 1 comes.
        want = min(n, (k + 1) * chunk + chunk // 8)
        h.wait_until(lambda: scrape().consumed >= want,
                     lambda: "the relay to consume %d records before reload "
                     "%d (it has %d)" % (want, k + 1, scrape().consumed))

    def broken(k):
        """A broken file: through the watcher (syntax) or POST (unknown
        transform). Nothing may change."""
        before = scrape()
        log_before = len(relay.log_text())
        state["rev"] += 1
        rev = state["rev"]
        broken_revs.add(rev)
        if k == BROKEN_SYNTAX_AFTER:
            write_rename(broken_syntax(t, bs, rev))
            want_line = None
        else:
            text, want_line = broken_unknown(t, bs, rev)
            write_unseen(text)
            code, body = admin.post("/reload")
            assert code == 422, "POST /reload of a broken file: %d %s" % (
                code, body)
            ans = json.loads(body)
            assert ans.get("result") == "error" and ans.get("errors"), ans
            assert any(re.match(r".*pipeline\.yaml:%d:\d+: " % want_line, e)
                       for e in ans["errors"]), (
                "no error at pipeline.yaml:%d:COL in %r" % (want_line,
                                                            ans["errors"]))
        after = h.wait_until(
            lambda: (lambda s: s if s.error > before.error else None)(
                scrape()),
            "the broken revision %d to be rejected" % rev)
        assert after.error == before.error + 1 and after.ok == before.ok, (
            "a broken file: reloads ok %d -> %d, error %d -> %d"
            % (before.ok, after.ok, before.error, after.error))
        log = relay.log_text()[log_before:]
        assert "reload rejected" in log, (
            "no 'reload rejected' in the log after broken revision %d:\n%s"
            % (rev, log[-3000:]))
        pat = r"pipeline\.yaml:%s:\d+: " % (want_line or r"\d+")
        assert re.search(pat, log), (
            "the rejection does not give file:line:col (%s):\n%s"
            % (pat, log[-3000:]))
        # The file stays broken until the next reload rewrites it; the
        # running generation is untouched (checked in the outputs: no
        # record carries this rev).

    for k in range(RELOADS):
        if k in (BROKEN_SYNTAX_AFTER, BROKEN_UNKNOWN_AFTER):
            wait_consumed(k)
            broken(k)
        wait_consumed(k)
        before = scrape()
        assert before.ok == k, (
            "before reload %d the relay counts %d successful reloads; "
            "expected %d (a trigger fired twice or not at all?)"
            % (k + 1, before.ok, k))
        if feeder.produced > before.consumed:
            flowing += 1
        state["rev"] += 1
        rev = state["rev"]
        cfg = "B" if k % 2 == 0 else "A"
        text = config_text(t, bs, cfg, rev)
        how = ("SIGHUP" if k % 10 == 3 else "POST" if k % 10 == 7 else
               "in-place" if k % 10 == 5 else "rename")
        triggers[how] += 1
        rev_cfg[rev] = cfg
        if how == "rename":
            write_rename(text)
        elif how == "in-place":
            write_in_place(text)
        else:
            write_unseen(text)
            if how == "SIGHUP":
                relay.signal(signal.SIGHUP)
            else:
                code, body = admin.post("/reload")
                assert code == 200, "POST /reload: %d %s" % (code, body)
                ans = json.loads(body)
                assert ans.get("result") == "ok", ans
                if ans.get("generation") != gen0 + k + 1:
                    # checked at the end: the stream checks matter more
                    answers.append("POST /reload answered %s, expected "
                                   "generation %d" % (body.strip(),
                                                      gen0 + k + 1))
        h.wait_until(lambda: scrape().ok >= k + 1,
                     lambda: "reload %d (%s, revision %d) to be counted; "
                     "log:\n%s" % (k + 1, how, rev, relay.log_tail(10)))
        state["reloads"] = k + 1
        feeder.wake()
        if k + 1 == RELOADS // 2:
            metrics_sample = scrape().text

    state["reloads"] = RELOADS + 10  # let the feeder finish
    feeder.wake()
    feeder.join(5 * h.DEADLINE)
    assert not feeder.is_alive(), "the producer did not finish"
    assert feeder.failure is None, "producer: %s" % feeder.failure

    ends = h.end_offsets(bs, t.input)
    want_ends = {p: len(range(p, n, PARTS)) for p in range(PARTS)}
    assert ends == want_ends, (
        "input end offsets %r, expected %r (seq -> partition/offset "
        "mapping broken)" % (ends, want_ends))
    h.wait_committed_ends(bs, t.group, t.input,
                          "every input after the reloads",
                          timeout=3 * h.DEADLINE, relays=[relay])
    final = relay.wait_stats(
        lambda s: s["in"] >= n and s["generation"] == gen0 + RELOADS,
        "the final stats")

    # the /metrics sample from the middle of the reloads
    out_dir = os.environ.get("RELOAD_METRICS_DIR") or os.path.join(
        h.ROOT, "build")
    os.makedirs(out_dir, exist_ok=True)
    sample_path = os.path.join(out_dir, "reload-metrics.txt")
    if tier == "real":
        with open(sample_path, "w") as f:
            f.write(metrics_sample or "")
    else:
        sample_path = "(saved by the real tier only)"
    lines = [ln for ln in (metrics_sample or "").splitlines()
             if ln.startswith("smtproxy_reloads_total")]
    with capsys.disabled():
        print("\n%s: /metrics after %d of %d reloads -> %s\n  %s"
              % (tier, RELOADS // 2, RELOADS, sample_path,
                 "\n  ".join(lines)))
    assert lines, "no smtproxy_reloads_total in the /metrics sample"

    assert final["reloads_ok"] == RELOADS, final
    assert final["reloads_failed"] == len(broken_revs), final
    assert final["rebalances"] == rebalances0, (
        "rebalances went from %d to %d during the reloads (expected none)"
        % (rebalances0, final["rebalances"]))
    last = Scrape(admin, t.input)
    assert (last.ok, last.error) == (RELOADS, len(broken_revs)), (
        "smtproxy_reloads_total ok %d error %d, expected %d and %d"
        % (last.ok, last.error, RELOADS, len(broken_revs)))

    rc = relay.stop()
    assert rc == 0, "exit status %r; log:\n%s" % (rc, relay.log_tail())

    # ---- the outputs
    got = {r: read_route(bs, r, topic, n, rev_cfg)
           for r, topic in t.out.items()}
    problems = []
    for ro in got.values():
        problems += ro.problems
    everything = got["all"]
    bad = {}  # (route, what) -> [seq]
    for seq in range(n):
        c = everything.count[seq]
        r = everything.rev[seq]
        if c != 1:
            bad.setdefault(("all", "missing" if c == 0 else "duplicated"),
                           []).append(seq)
            if c == 0:
                continue
        cfg = rev_cfg.get(r)
        if cfg is None:
            continue  # reported by read_route
        want = routes_of(seq, cfg)
        for route in ("users", "hot", "orders"):
            ro = got[route]
            c = ro.count[seq]
            if route in want:
                if c == 0:
                    bad.setdefault((route, "missing"), []).append(seq)
                    continue
                if c > 1:
                    bad.setdefault((route, "duplicated"), []).append(seq)
                if ro.rev[seq] != r:
                    bad.setdefault((route, "under another revision than "
                                    "route all"), []).append(seq)
            elif c:
                bad.setdefault((route, "not predicted"), []).append(seq)
    for (route, what), seqs in sorted(bad.items()):
        problems.append("route %s: %d input(s) %s, e.g. %s" % (
            route, len(seqs), what, ", ".join(
                "%d (p%d o%d, rev %d)" % ((q,) + position(q) + (
                    everything.rev[q],)) for q in seqs[:5])))

    # per input partition, the revision never goes back
    for p in range(PARTS):
        prev = -1
        for seq in range(p, n, PARTS):
            r = everything.rev[seq]
            if r < 0:
                continue
            if r < prev:
                problems.append(
                    "partition %d offset %d: revision %d after revision %d "
                    "(a reload switched this partition at more than one "
                    "offset)" % (p, position(seq)[1], r, prev))
                break
            prev = r

    seen_revs = set(everything.rev) - {-1}
    accepted = set(rev_cfg)
    print("%s: %d records, %d reloads (%r), %d broken, %d triggered with "
          "records still to consume; %d of %d revisions carried records; "
          "outputs %r" % (
              tier, n, RELOADS, triggers, len(broken_revs), flowing,
              len(seen_revs), len(accepted),
              {r: ro.total for r, ro in got.items()}))
    assert not problems, h.fmt_problems(problems)
    assert not answers, h.fmt_problems(answers)
    assert seen_revs == accepted, (
        "accepted revisions that carried no record: %r (each generation "
        "consumed records produced after it started)"
        % sorted(accepted - seen_revs)[:10])

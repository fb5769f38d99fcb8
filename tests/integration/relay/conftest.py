"""conftest.py - the two tiers the relay tests run on, and the plumbing.

Tiers (option --tiers, default "embedded,real"):
  embedded  librdkafka's mock cluster inside smtproxy (bootstrap.servers:
            embedded). The cluster lives as long as its process, so a test
            that stops or kills the relay runs a separate "host" smtproxy
            that only keeps the cluster (helpers.host_config) and points
            the relays under test at its address.
  real      the Apache Kafka broker at $KAFKA_BOOTSTRAP (test_relay.sh
            starts one with scripts/kafka). $RELAY_KAFKA_DIR, when set, is
            that broker's state dir: the broker-restart test needs it.

A test marked @pytest.mark.real_only runs on the real tier only.

At the end, $RELAY_RESULTS (if set) gets "PASSED FAILED" counted per test
(a test with an error in set-up or teardown counts as failed), from which
the wrapper prints its "test_relay: N passed, N failed" line.
"""

import os
import subprocess
import time

import pytest
from confluent_kafka.admin import AdminClient, NewTopic

import helpers


def pytest_addoption(parser):
    parser.addoption("--tiers", default="embedded,real",
                     help="comma-separated tiers: embedded, real")


def pytest_configure(config):
    config.addinivalue_line("markers", "real_only: needs a real broker")
    config._relay_outcomes = {}


def pytest_generate_tests(metafunc):
    if "tier" not in metafunc.fixturenames:
        return
    tiers = [t for t in metafunc.config.getoption("tiers").split(",") if t]
    if metafunc.definition.get_closest_marker("real_only"):
        tiers = [t for t in tiers if t == "real"]
    metafunc.parametrize("tier", tiers, scope="module")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    o = item.config._relay_outcomes
    prev = o.get(item.nodeid)
    if rep.failed:
        o[item.nodeid] = "failed"
    elif rep.skipped and prev is None:
        o[item.nodeid] = "skipped"
    elif rep.when == "call" and rep.passed and prev is None:
        o[item.nodeid] = "passed"


def pytest_sessionfinish(session, exitstatus):
    o = session.config._relay_outcomes
    path = os.environ.get("RELAY_RESULTS")
    if path:
        with open(path, "w") as f:
            f.write("%d %d %d\n" % (
                sum(1 for v in o.values() if v == "passed"),
                sum(1 for v in o.values() if v == "failed"),
                sum(1 for v in o.values() if v == "skipped")))


# ---------------------------------------------------------------- clusters

def real_bootstrap():
    bs = os.environ.get("KAFKA_BOOTSTRAP")
    if not bs:
        pytest.fail("the real tier needs KAFKA_BOOTSTRAP (test_relay.sh "
                    "sets it)")
    return bs


def create_real_topics(bootstrap, topics):
    """topics: {name: (partitions, {config})}; waits until each exists
    with a leader for every partition."""
    a = AdminClient({"bootstrap.servers": bootstrap})
    fs = a.create_topics([NewTopic(n, p, 1, config=c or {})
                          for n, (p, c) in topics.items()],
                         operation_timeout=30)
    for n, f in fs.items():
        f.result(60)

    def ready():
        md = a.list_topics(timeout=10)
        for n, (p, _) in topics.items():
            t = md.topics.get(n)
            if t is None or t.error is not None or len(t.partitions) != p:
                return False
            if any(pm.leader < 0 for pm in t.partitions.values()):
                return False
        return True
    helpers.wait_until(ready, "topics %s to have leaders" % sorted(topics))


class Procs:
    """Every smtproxy process a test starts; killed at teardown, their
    logs printed (pytest shows them when the test fails)."""

    def __init__(self, workdir):
        self.workdir = workdir
        self.all = []
        self.hooks = []

    def on_cleanup(self, fn):
        self.hooks.append(fn)

    def relay(self, name, config, args=()):
        r = helpers.Relay(self.workdir, name, config, args)
        self.all.append(r)
        return r

    def cleanup(self):
        helpers.close_producers()
        for r in self.all:
            r.cleanup()
        for r in self.all:
            print("---- %s: %s (last lines)\n%s" % (r.name, r.log,
                                                    r.log_tail(25)))
        for fn in self.hooks:
            fn()


@pytest.fixture
def procs(tmp_path):
    p = Procs(str(tmp_path))
    yield p
    p.cleanup()


@pytest.fixture
def cluster(tier, procs):
    """cluster(t, extra={name: (partitions, {config})}) makes the topics of
    helpers.Topics t (and extra) and returns the bootstrap address."""

    made = []

    def make(t, extra=None, dlq_partitions=1):
        extra = dict(extra or {})
        if tier == "real":
            bs = real_bootstrap()
            topics = {n: (helpers.INPUT_PARTITIONS, {})
                      for n in t.partitioned()}
            topics[t.dlq] = (dlq_partitions, {})
            topics.update(extra)
            made.extend(topics)
            create_real_topics(bs, topics)
            return bs
        assert all(p == helpers.INPUT_PARTITIONS and not c
                   for p, c in extra.values()), \
            "the embedded cluster makes topics of one partition count only"
        host = procs.relay("host", helpers.host_config(
            t.partitioned() + list(extra), [t.dlq]))
        host.start()
        return host.bootstrap()

    yield make
    if made:
        # keep the broker small (a restart loads every partition) and an
        # external broker clean; deletion finishes in the background
        delete_real_topics(real_bootstrap(), made)


def delete_real_topics(bootstrap, names):
    a = AdminClient({"bootstrap.servers": bootstrap})
    for f in a.delete_topics(list(names), operation_timeout=10).values():
        try:
            f.result(30)
        except Exception as e:  # a failed clean-up is no test failure
            print("deleting topics: %s" % e)


class Broker:
    """The real broker's controls (scripts/kafka stop/start)."""

    def __init__(self, state_dir):
        self.dir = state_dir
        self.script = os.path.join(helpers.ROOT, "scripts", "kafka")

    def _run(self, cmd):
        t0 = time.monotonic()
        p = subprocess.run([self.script, cmd, "--dir", self.dir],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=180)
        assert p.returncode == 0, "scripts/kafka %s failed (%d): %s" % (
            cmd, p.returncode, p.stderr.decode(errors="replace")[-2000:])
        return p.stdout.decode().strip().splitlines()[-1:] or [""], \
            time.monotonic() - t0

    def stop(self):
        return self._run("stop")[1]

    def start(self):
        (addr,), dt = self._run("start")
        return addr, dt


@pytest.fixture
def broker():
    d = os.environ.get("RELAY_KAFKA_DIR")
    if not d:
        pytest.skip("needs a broker this run started (RELAY_KAFKA_DIR); "
                    "not with an external KAFKA_BOOTSTRAP")
    b = Broker(d)
    yield b
    # whatever the test did, leave the broker running for the next test
    if subprocess.run([b.script, "status", "--dir", d],
                      stdout=subprocess.DEVNULL,
                      stderr=subprocess.DEVNULL).returncode != 0:
        b.start()

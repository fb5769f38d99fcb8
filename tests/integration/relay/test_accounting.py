"""test_accounting.py - one long run of the sensor pipeline per tier:
20000 records (commands, statuses, ~1% poison) through `smtproxy run`,
then every route and the DLQ read back and compared with the test's own
prediction (helpers.expect): exact counts per route, contents, DLQ bytes
and context headers, headers and timestamps carried, per-key order, and a
clean SIGTERM stop with the committed offsets at the end of the input.

On the embedded tier this is smtproxy's own `bootstrap.servers: embedded`
(no host process): the relay under test is the cluster, found through
--bootstrap-file, and the inputs are produced into it from Python.
"""

import os
import time
import types

import pytest

import conftest
import helpers as h

N = int(os.environ.get("RELAY_TEST_RECORDS", "20000"))


@pytest.fixture(scope="module")
def run(tier, tmp_path_factory):
    t = h.Topics("acct")
    procs = conftest.Procs(str(tmp_path_factory.mktemp("accounting-" + tier)))
    bs = None
    try:
        if tier == "embedded":
            relay = procs.relay("relay", h.pipeline_yaml(t, "embedded"))
            relay.start()
            bs = relay.bootstrap()
        else:
            bs = conftest.real_bootstrap()
            topics = {n: (h.INPUT_PARTITIONS, {}) for n in t.partitioned()}
            topics[t.dlq] = (1, {})
            conftest.create_real_topics(bs, topics)
            relay = procs.relay("relay", h.pipeline_yaml(t, bs)).start()
        t0 = time.monotonic()
        inputs = h.produce(bs, t.input, h.gen_inputs(N, seed=11))
        t1 = time.monotonic()
        ends = h.wait_committed_ends(bs, t.group, t.input, "all inputs",
                                     relays=[relay])
        t2 = time.monotonic()
        out = h.Outputs(bs, t, inputs)
        print("%s: produced %d in %.1f s, relayed and committed %.1f s later"
              % (tier, N, t1 - t0, t2 - t1))
        rc = relay.stop()
        after = None
        if tier == "real":
            after = h.committed(bs, t.group, t.input)
        yield types.SimpleNamespace(t=t, inputs=inputs, out=out, rc=rc,
                                    ends=ends, after=after, relay=relay)
    finally:
        procs.cleanup()
        if tier == "real" and bs is not None:
            conftest.delete_real_topics(bs, t.partitioned() + [t.dlq])


def test_every_input_in_every_route(run):
    """Exact per-route counts: every predicted output once, nothing else."""
    want = h.expected_sets(run.inputs)
    got = {r: len(run.out.routes[r]) for r in h.ROUTES}
    got["dlq"] = len(run.out.dlq)
    problems = h.check_accounting(run.out, run.inputs, exact=True)
    assert not problems, "expected counts %r, saw %r; %s" % (
        {r: len(s) for r, s in want.items()}, got, h.fmt_problems(problems))
    # the inputs really exercise every path
    kinds = {i.kind for i in run.inputs}
    assert kinds >= {"command", "status", "truncated", "bad-number",
                     "unknown-type", "not-object"}, kinds
    assert all(len(want[r]) > 0 for r in want), want


def test_output_contents(run):
    """Masked fields empty, casts numeric, keys = stage, input headers and
    timestamps carried; DLQ records are the input bytes with Connect's
    context headers pointing at the input."""
    problems = h.check_contents(run.out, run.inputs)
    assert not problems, h.fmt_problems(problems)


def test_per_key_order(run):
    """For each key, each route's outputs are in input order."""
    problems = h.check_order(run.out)
    assert not problems, h.fmt_problems(problems)


def test_clean_stop(run):
    """SIGTERM after the run: exit 0; (real) the committed offsets are the
    end offsets of every input partition."""
    assert run.rc == 0, "exit status %r, expected 0; log:\n%s" % (
        run.rc, run.relay.log_tail())
    if run.after is not None:
        assert run.after == run.ends, (
            "committed offsets after the stop %r, expected the end offsets "
            "%r" % (run.after, run.ends))


def test_keys_on_java_partitions(run):
    """Keyed outputs land on the partition a Java producer would choose:
    murmur2 of the key bytes, as Kafka's default partitioner computes it."""
    # known answers of Kafka's Utils.murmur2 (signed Java ints)
    for key, java in [(b"21", -973932308), (b"foobar", -790332482),
                      (b"a-little-bit-long-string", -985981536),
                      (b"a-little-bit-longer-string", -1486304829),
                      (b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8",
                       -58897971), (b"abc", 479470107)]:
        assert h.java_murmur2(key) == java & 0xffffffff, key
    wrong = []
    for route in h.ROUTES:
        for m in run.out.routes[route]:
            if m.key is None:
                continue
            want = h.java_partition(m.key, h.INPUT_PARTITIONS)
            if m.partition != want:
                wrong.append("%s key %r on partition %d, Java picks %d"
                             % (route, m.key, m.partition, want))
    assert not wrong, "%d misplaced, e.g. %s" % (len(wrong), wrong[:5])

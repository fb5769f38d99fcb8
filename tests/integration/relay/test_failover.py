"""test_failover.py - nothing is lost when things stop mid-stream: the
relay killed with SIGKILL and restarted, one of two instances of a group
killed, a SIGTERM with records in flight, the broker restarted.

The inputs are fed in chunks while the relay runs (helpers.feed), so the
interruption always lands with records consumed but not yet committed.
After it, every input must reach every route it belongs to (checked
against the test's own model), and a duplicate is allowed only for an
input at or after the offset the group had committed when the relay
died - the uncommitted tail that at-least-once must replay.
"""

import signal

import pytest

import helpers as h

N = 12000
CHUNK = 3000


def _check_all_arrived(bs, t, inputs, allow_dup_from, exact=False):
    out = h.Outputs(bs, t, inputs)
    problems = h.check_accounting(out, inputs, exact=exact,
                                  allow_dup_from=allow_dup_from)
    problems += h.check_contents(out, inputs)
    assert not problems, h.fmt_problems(problems)
    return out


def test_kill9_and_restart(tier, cluster, procs):
    """SIGKILL mid-stream, committed offsets read right after the kill,
    restart: every input in every route, duplicates only at or after
    those offsets."""
    t = h.Topics("kill")
    bs = cluster(t)
    relay = procs.relay("relay", h.pipeline_yaml(t, bs)).start()
    inputs = h.gen_inputs(N, seed=21)
    at_kill = {}

    def kill():
        relay.kill9()
        at_kill.update(h.committed(bs, t.group, t.input))

    h.feed(bs, t.input, inputs, relay.consumed, chunk=CHUNK,
           act_at=N // 3, action=kill)
    consumed = sum(o for o in at_kill.values() if o > 0)
    assert consumed < N, "the kill was not mid-stream: committed %r" % at_kill
    relay.start()
    h.wait_committed_ends(bs, t.group, t.input, "all inputs after the restart",
                          relays=[relay])
    out = _check_all_arrived(bs, t, inputs, at_kill)
    print("%s: committed at the kill %r, %d duplicate(s) after the restart"
          % (tier, at_kill, h.dup_count(out)))
    assert relay.stop() == 0


def test_two_instances_one_killed(tier, cluster, procs):
    """Two instances share the group; once both have consumed, one is
    killed with SIGKILL; the survivor takes its partitions over and
    nothing is lost; duplicates only from the uncommitted tail."""
    t = h.Topics("pair")
    bs = cluster(t)
    cfg = h.pipeline_yaml(t, bs)
    a = procs.relay("a", cfg).start()
    b = procs.relay("b", cfg).start()
    # Feed only once the group has settled with partitions on both: if b
    # joined after a had consumed everything fed so far, b would own
    # partitions with nothing new to read, and the wait below would be
    # about the test's timing, not the relay.
    h.wait_until(lambda: "assigned" in a.log_text() and
                 "assigned" in b.log_text(),
                 "both instances to be assigned partitions")
    inputs = h.gen_inputs(N, seed=22)
    at_kill = {}
    seen = {}

    def progress():
        return a.consumed() + b.consumed()

    def kill_b():
        # both must have had partitions: wait (while feeding continues to
        # be possible) until each consumed something
        h.wait_until(lambda: a.consumed() > 0 and b.consumed() > 0,
                     lambda: "both instances to consume (a %d, b %d)" % (
                         a.consumed(), b.consumed()))
        seen["a"], seen["b"] = a.consumed(), b.consumed()
        b.kill9()
        at_kill.update(h.committed(bs, t.group, t.input))

    h.feed(bs, t.input, inputs, progress, chunk=CHUNK, act_at=N // 2,
           action=kill_b)
    h.wait_committed_ends(bs, t.group, t.input,
                          "the survivor to finish every partition",
                          relays=[a])
    out = _check_all_arrived(bs, t, inputs, at_kill)
    print("%s: consumed before the kill %r, committed %r, %d duplicate(s)"
          % (tier, seen, at_kill, h.dup_count(out)))
    assert a.stop() == 0


def test_sigterm_drains(tier, cluster, procs):
    """SIGTERM with records in flight: exit 0 within the bound; every
    input below the committed offsets is fully delivered, none at or above
    them was delivered (what was consumed was committed: the committed
    offsets add up to the records the relay consumed); a restart then
    delivers the rest without a single duplicate."""
    t = h.Topics("drain")
    bs = cluster(t)
    relay = procs.relay("relay", h.pipeline_yaml(
        t, bs, extra="limits:\n  max.inflight.records: 3000\n")).start()
    inputs = h.gen_inputs(N, seed=23)
    state = {}

    def term():
        relay.signal(signal.SIGTERM)
        state["rc"] = relay.wait(30)
        state["stats"] = relay.stats()
        state["committed"] = h.committed(bs, t.group, t.input)

    h.feed(bs, t.input, inputs, relay.consumed, chunk=CHUNK, act_at=N // 2,
           action=term)
    assert state["rc"] == 0, "exit status %r after SIGTERM, expected 0; " \
        "log:\n%s" % (state["rc"], relay.log_tail())
    c = state["committed"]
    consumed = state["stats"]["in"]
    assert sum(max(o, 0) for o in c.values()) == consumed, (
        "committed offsets %r add up to %d, but the relay consumed %d "
        "before it stopped" % (c, sum(max(o, 0) for o in c.values()),
                               consumed))
    assert 0 < consumed < N, "not mid-stream: consumed %d of %d" % (
        consumed, N)
    # exactly the committed prefix was delivered, each output once
    done = [i for i in inputs if i.offset < c.get(i.partition, 0)]
    out = h.Outputs(bs, t, inputs)
    problems = h.check_accounting(out, done, exact=True)
    assert not problems, "after SIGTERM: " + h.fmt_problems(problems)

    relay.start()
    h.wait_committed_ends(bs, t.group, t.input, "all inputs after the restart",
                          relays=[relay])
    _check_all_arrived(bs, t, inputs, None, exact=True)
    assert relay.stop() == 0


@pytest.mark.real_only
def test_broker_restart(tier, broker, cluster, procs):
    """The broker stops (SIGTERM) and starts again on the same address and
    data while the relay runs mid-stream: everything arrives."""
    t = h.Topics("bounce")
    bs = cluster(t)
    relay = procs.relay("relay", h.pipeline_yaml(t, bs)).start()
    inputs = h.gen_inputs(N, seed=24)
    state = {}

    def bounce():
        state["committed"] = h.committed(bs, t.group, t.input)
        state["stop_s"] = broker.stop()
        addr, state["start_s"] = broker.start()
        assert addr == bs, "the broker came back on %s, not %s" % (addr, bs)

    h.feed(bs, t.input, inputs, relay.consumed, chunk=CHUNK, act_at=N // 3,
           action=bounce)
    h.wait_committed_ends(bs, t.group, t.input,
                          "all inputs after the broker restart",
                          relays=[relay])
    out = _check_all_arrived(bs, t, inputs, state["committed"])
    print("broker stopped in %.1f s, started in %.1f s; %d duplicate(s)"
          % (state["stop_s"], state["start_s"], h.dup_count(out)))
    assert relay.stop() == 0

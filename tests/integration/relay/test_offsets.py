"""test_offsets.py - what the relay commits: the end of the input after a
clean stop; never past a record that could not be delivered; and under
errors.tolerance=none, a poison record stops the relay (exit 1, a message
naming topic/partition/offset) with the committed offset at that record,
so a restart reads it again.

Read with an independent consumer: committed() of the relay's group.
"""

import json
import re

import pytest

import conftest
import helpers as h

SMALL = 2000  # inputs before the interesting record


def _all_delivered_and_committed(bs, t, inputs):
    """The group's committed offsets are the input's end offsets (every
    input, nothing more), and every input reached each of its routes
    exactly once, as the test predicts it."""
    ends = h.end_offsets(bs, t.input)
    got = h.committed(bs, t.group, t.input)
    assert got == ends and sum(ends.values()) == len(inputs), (
        "committed offsets %r, expected the end offsets %r (%d inputs)"
        % (got, ends, len(inputs)))
    out = h.Outputs(bs, t, inputs)
    problems = h.check_accounting(out, inputs, exact=True)
    assert not problems, h.fmt_problems(problems)


def _read_backlog(cluster, procs, name, n, seed, **pipeline):
    """n inputs produced first, then a relay (h.pipeline_yaml(**pipeline))
    reads them to the end and stops cleanly. Returns (bootstrap, topics,
    inputs, the last stats snapshot with everything retired)."""
    t = h.Topics(name)
    bs = cluster(t)
    inputs = h.produce(bs, t.input, h.gen_inputs(n, seed=seed))
    relay = procs.relay("relay", h.pipeline_yaml(t, bs, **pipeline)).start()
    s = relay.wait_stats(lambda s: s["retired"] == n and s["inflight"] == 0,
                         "all %d inputs retired" % n)
    assert relay.stop() == 0, relay.log_tail()
    return bs, t, inputs, s


def test_clean_stop_commits_end_offsets(tier, cluster, procs):
    """With auto-commits far apart (1 h), only the shutdown commit can move
    the group's offsets: after SIGTERM they are the input's end offsets."""
    t = h.Topics("stop")
    bs = cluster(t)
    relay = procs.relay("relay", h.pipeline_yaml(
        t, bs, commit_interval="1h")).start()
    inputs = h.produce(bs, t.input, h.gen_inputs(SMALL, seed=3))
    relay.wait_stats(lambda s: s["retired"] == SMALL and s["inflight"] == 0,
                     "all %d inputs retired" % SMALL)
    rc = relay.stop()
    assert rc == 0, "exit status %r, expected 0; log:\n%s" % (
        rc, relay.log_tail())
    _all_delivered_and_committed(bs, t, inputs)


@pytest.mark.real_only
def test_backlog_with_a_small_prefetch_queue(tier, cluster, procs):
    """A backlog read through a prefetch queue smaller than one fetch
    (queued.max.messages.kbytes 256, a fetch brings up to 1 MiB per
    partition): librdkafka 2.0 stops fetching every time the queue fills,
    and the relay's fetch kick (a seek to the next offset it would consume,
    proxy/relay.c fetch_kick()) starts it again. The kicks happen, and they
    neither skip nor repeat a record: every input reaches its routes exactly
    once and the end offsets are committed."""
    n = 20000
    bs, t, inputs, s = _read_backlog(
        cluster, procs, "backlog", n, seed=5,
        consumer_extra="  queued.max.messages.kbytes: 256\n")
    assert s["in"] == n, "consumed %d records of %d" % (s["in"], n)
    assert s["fetch_kicks"] > 0, (
        "no fetch kick while reading %d records through a 256 KiB prefetch "
        "queue: the case it exists for did not happen (stats %r)" % (n, s))
    _all_delivered_and_committed(bs, t, inputs)


def test_inflight_cap_pauses_and_resumes(tier, cluster, procs):
    """limits.max.inflight.records bounds what the relay holds: reading a
    backlog with a cap of 300 records, it pauses (many times), never holds
    more than the cap plus the one batch the consumer takes before it looks
    again (256), resumes when the workers' releases bring the count below
    half (the release wakes the paused consumer thread: resume_wakes), and
    loses, repeats or skips nothing."""
    n, cap, batch = 20000, 300, 256
    bs, t, inputs, s = _read_backlog(
        cluster, procs, "cap", n, seed=11,
        extra="limits:\n  max.inflight.records: %d\n" % cap)
    assert s["pauses"] > 0, (
        "never paused reading %d records with a cap of %d in flight "
        "(stats %r)" % (n, cap, s))
    assert s["inflight_peak"] < cap + batch, (
        "%d records in flight at the peak, the cap is %d (+ one batch of "
        "%d)" % (s["inflight_peak"], cap, batch))
    assert s["resume_wakes"] > 0, (
        "%d pauses, and no release woke the paused consumer (stats %r)"
        % (s["pauses"], s))
    _all_delivered_and_committed(bs, t, inputs)


def test_partitions_spread_over_workers(tier, cluster, procs):
    """Each assigned partition goes to the worker with the fewest: 4
    partitions on 3 workers are 2, 1 and 1, never 4 on one (a hash of the
    partition's name did that for some topic names, and a single worker
    then did all the work). Everything is still delivered exactly once."""
    n = h.INPUT_PARTITIONS * 500
    bs, t, inputs, s = _read_backlog(cluster, procs, "spread", n, seed=13,
                                     extra="workers: 3\n")
    assert sorted(s["worker_partitions"]) == [1, 1, 2], (
        "%d partitions over 3 workers as %r, expected [1, 1, 2]"
        % (h.INPUT_PARTITIONS, s["worker_partitions"]))
    _all_delivered_and_committed(bs, t, inputs)


BLOB_ROUTE = """\
  - name: blob
    condition: {{field: type, equals: blob}}
    topic: {topic}
"""


def _blob(seq, size=6000):
    """An input whose output is larger than the blob topic (or the
    producer) accepts."""
    v = json.dumps({"type": "blob", "seq": seq, "data": "x" * size})
    return h.Input(seq, "blob", b'"s-blob"', v.encode(),
                   [("gateway", b"gw-00")], h.BASE_TS + seq * 7, "s-blob")


def _stopped_at(relay, t, partition, offset):
    """The relay exits 1 and says which record stopped it."""
    rc = relay.wait()
    where = "%s/%d/%d" % (t.input, partition, offset)
    log = relay.log_text()
    assert rc == 1, "exit status %r, expected 1; log:\n%s" % (
        rc, relay.log_tail())
    assert re.search(r"smtproxy: .*%s\b" % re.escape(where), log), (
        "no final 'smtproxy: ...' message naming %s; log:\n%s"
        % (where, relay.log_tail()))


@pytest.mark.parametrize("variant", ["tolerance-none", "dlq-too-small"])
def test_undeliverable_record_blocks_its_partition(tier, cluster, procs,
                                                  variant):
    """One output can never be delivered: larger than its topic's
    max.message.bytes (real broker) or the producer's message.max.bytes
    (embedded). tolerance-none: no DLQ, errors.tolerance none.
    dlq-too-small: tolerance all, but the DLQ cannot take the record
    either. Either way the relay stops with exit 1, the failing record's
    partition is committed exactly up to it - also with records after it
    in the same partition already processed - and the other partitions up
    to their ends."""
    t = h.Topics("blob")
    blob_topic = "blob-" + t.group
    extra = {blob_topic: (h.INPUT_PARTITIONS,
                          {"max.message.bytes": "2048"} if tier == "real"
                          else {})}
    bs = cluster(t, extra)
    if tier == "real":
        producer = ""
        if variant == "dlq-too-small":
            # a DLQ that takes at most 2048 bytes too: the blob's DLQ record
            # fails (no other input goes to the DLQ: no poison here)
            t.dlq = "dlq2-" + t.group
            conftest.create_real_topics(bs, {t.dlq: (
                1, {"max.message.bytes": "2048"})})
            procs.on_cleanup(lambda: conftest.delete_real_topics(bs, [t.dlq]))
    else:
        # the mock cluster has no topic configs: the producer refuses
        # outputs (and DLQ records) over 4096 bytes instead
        producer = "producer:\n  message.max.bytes: 4096\n"
    cfg = h.pipeline_yaml(
        t, bs, tolerance="none" if variant == "tolerance-none" else "all",
        dlq=variant == "dlq-too-small", extra=producer,
        more_routes=BLOB_ROUTE.format(topic=blob_topic))
    relay = procs.relay("relay", cfg).start()
    h.produce(bs, t.input, h.gen_inputs(SMALL, seed=5, poison=0))
    before = h.wait_committed_ends(bs, t.group, t.input, "the first inputs",
                                   relays=[relay])
    # the blob, then more records, all into partition 1
    tail = [_blob(SMALL)] + h.gen_inputs(5, seed=6, poison=0,
                                         start_seq=SMALL + 1)
    h.produce(bs, t.input, tail, partition=1)
    blob = tail[0]
    _stopped_at(relay, t, 1, blob.offset)
    got = h.committed(bs, t.group, t.input)
    want = dict(before)
    want[1] = blob.offset
    assert got == want, (
        "committed offsets %r, expected %r: partition 1 at the undeliverable "
        "record (offset %d), the others at their ends"
        % (got, want, blob.offset))


def test_tolerance_none_poison_stops_and_is_reread(tier, cluster, procs):
    """errors.tolerance none: a record that fails to decode stops the relay
    with exit 1 and a message naming topic/partition/offset; the committed
    offset is that record's; a restart reads it again (and stops again);
    with tolerance all and a DLQ it then goes to the DLQ and everything
    else reaches its routes."""
    t = h.Topics("poison")
    bs = cluster(t)
    strict = procs.relay("strict", h.pipeline_yaml(
        t, bs, tolerance="none", dlq=False)).start()
    inputs = h.produce(bs, t.input, h.gen_inputs(SMALL, seed=8, poison=0))
    before = h.wait_committed_ends(bs, t.group, t.input, "the first inputs",
                                   relays=[strict])
    bad = h.Input(SMALL + 3, "truncated", b'"s-0001"',
                  b'{"type":"status","seq":%d,"sens' % (SMALL + 3),
                  [("gateway", b"gw-01")], h.BASE_TS, "s-0001")
    tail = (h.gen_inputs(3, seed=9, poison=0, start_seq=SMALL) + [bad]
            + h.gen_inputs(3, seed=10, poison=0, start_seq=SMALL + 4))
    h.produce(bs, t.input, tail, partition=2)
    inputs += tail
    _stopped_at(strict, t, 2, bad.offset)
    want = dict(before)
    want[2] = bad.offset
    got = h.committed(bs, t.group, t.input)
    assert got == want, (
        "committed offsets %r after the poison stop, expected %r (partition "
        "2 at the poison record, offset %d)" % (got, want, bad.offset))

    # a restart reads the poison record again: same stop, same offsets
    strict.start()
    _stopped_at(strict, t, 2, bad.offset)
    got = h.committed(bs, t.group, t.input)
    assert got == want, (
        "committed offsets %r after the restart, expected %r" % (got, want))

    # tolerance all with a DLQ: it passes, to the DLQ, once
    lenient = procs.relay("lenient", h.pipeline_yaml(t, bs)).start()
    h.wait_committed_ends(bs, t.group, t.input, "all inputs after the fix",
                          relays=[lenient])
    assert lenient.stop() == 0
    out = h.Outputs(bs, t, inputs)
    problems = h.check_accounting(out, inputs, exact=False,
                                  allow_dup_from=want)
    problems += h.check_contents(out, inputs)
    dlq = out.grouped()["dlq"]
    if list(dlq) != [bad.seq] or len(dlq[bad.seq]) != 1:
        problems.append("DLQ holds %r, expected the poison record (seq %d) "
                        "once" % ({k: len(v) for k, v in dlq.items()},
                                  bad.seq))
    assert not problems, h.fmt_problems(problems)

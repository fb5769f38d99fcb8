"""A reload that changes Kafka settings (real broker).

Routes and chains change in place (test_reload.py); a change to what the
Kafka clients were made from (here a `consumer:` property) cannot: the
relay drains, commits, leaves the group and starts again with new clients,
in the same process. Checked: the relay says so and keeps running, the
records before and after the change all arrive exactly once (a clean
drain and commit leaves no uncommitted tail to read twice), and everything
is committed at the end.
"""

import pytest

import helpers as h
from test_errors import ETopics, Seen, committed_at_ends, mk

CONFIG = """\
name: {group}
kafka:
  bootstrap.servers: "{bootstrap}"
consumer:
  fetch.wait.max.ms: {wait}
  session.timeout.ms: 6000
  heartbeat.interval.ms: 500
input:
  topics: [{input}]
errors:
  deadletterqueue.topic.name: {dlq}
  deadletterqueue.topic.replication.factor: 1
delivery:
  commit.interval: 200ms
routes:
  - name: keep
    topic: {keep}
"""


@pytest.mark.real_only
def test_kafka_settings_change_restarts_clients(tier, cluster, procs):
    t = ETopics("restart")
    bs = cluster(t)

    def config(wait):
        return CONFIG.format(group=t.group, bootstrap=bs, input=t.input,
                             dlq=t.dlq, keep=t.keep, wait=wait)

    relay = procs.relay("restart", config(100)).start()
    first = [mk(s, "good") for s in range(200)]
    h.produce(bs, t.input, first)
    committed_at_ends(bs, t, [relay], "before the change")

    with open(relay.config, "w") as f:  # the file watcher reloads it
        f.write(config(50))
    h.wait_until(lambda: relay.log_text().count("running: 1 route(s)") >= 2,
                 lambda: "the relay to start again with new clients; log:\n"
                 + relay.log_tail(), interval=0.2)
    log = relay.log_text()
    assert "'consumer' changed: draining, committing and starting again" \
        in log, "no message naming the changed section; log:\n" + \
        relay.log_tail()
    assert relay.alive(), "the relay exited; log:\n" + relay.log_tail()

    second = [mk(s, "good") for s in range(200, 400)]
    h.produce(bs, t.input, second)
    committed_at_ends(bs, t, [relay], "after the change")
    assert relay.stop() == 0, relay.log_tail()

    inputs = first + second
    seen = Seen(bs, t, inputs)
    p = list(seen.problems)
    for i in inputs:
        n = len(seen.got["keep"].get(i.seq, []))
        if n != 1:
            p.append("keep: %s arrived %d times, expected once"
                     % (i.where(), n))
    assert not p, "\n".join(p[:20])

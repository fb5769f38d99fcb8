#!/usr/bin/env python3
"""e2e.py - the end-to-end part of `make bench`: smtproxy with the reference
chain against a plain librdkafka passthrough, on one real broker, with the
same data, in the same run.

What it does:
  1. starts a broker (scripts/kafka up in a temporary state dir), or uses
     $KAFKA_BOOTSTRAP;
  2. creates an input topic (BENCH_PARTITIONS partitions, default 4) and
     loads BENCH_RECORDS records (default 500000) into it once with
     build/bench/e2e_client: the ~250-byte sensor commands of
     bench/bench_chain.c, each with a key and two headers;
  3. throughput: bench/passthrough (build/bench/passthrough), smtproxy
     with no transforms (bench/relay-bare.yaml: what the relay costs
     without the chain) and smtproxy with the reference chain
     (bench/relay.yaml, one output per input) each read the whole topic
     from offset 0 in their own consumer group into their own output topic,
     one program at a time. All write the
     same stats file every 500 ms; the rate is the records retired
     (consumed, produced and acknowledged, offset stored) between the first
     and the last snapshot taken while records were moving, over the time
     between them (file mtimes), so group join and the tail are left out.
     BENCH_ROUNDS (default 2) alternates the three that many times; the best
     round of each counts. Before the first round, one passthrough pass
     that is not counted warms the broker up (its JVM, the fetch path and
     the page cache: the first pass used to be the slowest of every
     program); BENCH_WARMUP=0 skips it. Peak RSS is VmHWM from /proc, CPU the process's
     utime+stime, both read just before it is stopped with SIGTERM;
  4. latency: at half the relay's measured rate, e2e_client produces into
     a fresh topic and consumes the program's output topic, for
     BENCH_LAT_SECONDS (default 10; 0 skips this step) after BENCH_LAT_WARMUP seconds (default
     3); the same for both programs, one at a time. The relay goes first:
     the load client and the broker's share of its traffic run on the same
     cores, so half the rate measured without them can be more than the
     machine sustains with them. A relay that falls behind (the median of
     the last two seconds of the window 100 ms above that of the first two,
     or either above 200 ms: a backlog, not a latency; or the client could
     not send 95% of the rate) is measured again at
     3/4 of the rate, at most BENCH_LAT_STEPS times (default 3); the rejected
     rates are printed, and the passthrough and the client-only floor are
     measured at the rate the relay kept up with;
  5. checks that nothing broke: exit codes, no failed deliveries, every
     output topic holds exactly BENCH_RECORDS records, every input offset
     committed;
  6. prints the table, and with BENCH_PERF=1 a profile of one extra relay
     pass (perf record; not part of the figures).

BENCH_RELAY_CONFIG names another pipeline file for smtproxy (to try client
or limits settings; it must read ${BENCH_IN}, ${BENCH_OUT}, ${BENCH_GROUP}
and ${KAFKA_BOOTSTRAP} as bench/relay.yaml does). BENCH_E2E=0 (in make)
skips this part. BENCH_PERF_ARGS replaces perf record's "-g" (e.g.
"--call-graph dwarf"); BENCH_PERF_DATA=FILE keeps the profile. BENCH_PASSTHROUGH_ARGS adds options to the passthrough
(e.g. "-C queued.max.messages.kbytes=16384" to give it the same client
settings).

It is a measurement, not a test: it never fails on a ratio or a target,
only when something broke (exit 1). Everything runs on this machine: the
broker (a JVM), the program under test and the load client share its
cores, which the header of the output says.

usage: e2e.py [--build DIR]   (binaries from DIR, default build/)
"""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TICK = os.sysconf("SC_CLK_TCK")


class Broken(Exception):
    """Something did not work: the bench exits 1."""


def falling_behind(x):
    """A latency run with a backlog: the median of the last two seconds of
    the window 100 ms above that of the first two (growing), or either of
    them above 200 ms (on loopback a program that keeps up stays within
    tens of milliseconds of the client-only floor: this is a backlog from
    the warm-up, still there or still draining), or the client sent less
    than 95% of the records the rate asks for (the machine could not even
    carry the load)."""
    return (x["p50_last_ms"] - x["p50_first_ms"] > 100 or
            max(x["p50_first_ms"], x["p50_last_ms"]) > 200 or
            x["sent"] < 0.95 * x["rate"] * x["seconds"])


def env_int(name, default):
    v = os.environ.get(name, "")
    try:
        return int(v) if v else default
    except ValueError:
        raise Broken("%s must be a number, not %r" % (name, v))


def cpu_seconds(pid):
    """utime + stime of pid (all threads), or None when it is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK
    except (OSError, IndexError, ValueError):
        return None


def busy_seconds():
    """CPU seconds the whole machine has been busy (all CPUs)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return (sum(v[:8]) - v[3] - v[4]) / TICK


def vm_hwm_kib(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return None


def tail(path, n=15):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-n:])
    except OSError:
        return ""


class Bench:
    def __init__(self, args):
        self.build = os.path.abspath(args.build)
        self.smtproxy = os.path.join(self.build, "smtproxy")
        self.passthrough = os.path.join(self.build, "bench", "passthrough")
        self.client = os.path.join(self.build, "bench", "e2e_client")
        for p in (self.smtproxy, self.passthrough, self.client):
            if not os.access(p, os.X_OK):
                raise Broken("%s not built" % p)
        self.records = env_int("BENCH_RECORDS", 500000)
        self.partitions = env_int("BENCH_PARTITIONS", 4)
        self.rounds = max(1, env_int("BENCH_ROUNDS", 2))
        self.warmup = env_int("BENCH_WARMUP", 1) > 0
        self.lat_seconds = env_int("BENCH_LAT_SECONDS", 10)
        self.lat_warmup = env_int("BENCH_LAT_WARMUP", 3)
        self.lat_steps = env_int("BENCH_LAT_STEPS", 3)
        self.behind = []
        self.relay_rate = None
        self.perf = os.environ.get("BENCH_PERF", "") not in ("", "0")
        if self.perf and shutil.which("perf") is None:
            raise Broken("BENCH_PERF=1 needs perf (Debian: linux-perf)")
        self.bare_config = os.path.join(ROOT, "bench", "relay-bare.yaml")
        self.relay_config = os.path.abspath(os.environ.get(
            "BENCH_RELAY_CONFIG", os.path.join(ROOT, "bench", "relay.yaml")))
        self.tmp = tempfile.mkdtemp(prefix="smtproxy-e2e.")
        self.state = os.path.join(self.tmp, "kafka")
        self.started_broker = False
        self.procs = []  # processes we started, stopped at exit
        self.prefix = "bench-e2e-%d" % os.getpid()
        self.bootstrap = None
        self.admin = None
        self.profile = None
        self.broker_pid = None
        self.bytes = 0

    # ------------------------------------------------------------ plumbing
    def log(self, msg):
        print("e2e: " + msg, file=sys.stderr, flush=True)

    def spawn(self, name, argv, env=None):
        out = open(os.path.join(self.tmp, name + ".log"), "wb")
        p = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT,
                             env=env, cwd=ROOT)
        out.close()
        p.bench_name = name
        p.bench_log = os.path.join(self.tmp, name + ".log")
        self.procs.append(p)
        return p

    def stop(self, p, timeout=60):
        """SIGTERM and wait; returns the exit code."""
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
        try:
            rc = p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            raise Broken("%s did not stop within %d s after SIGTERM:\n%s"
                         % (p.bench_name, timeout, tail(p.bench_log)))
        self.procs.remove(p)
        return rc

    def cleanup(self):
        self.admin = None  # its connections close before the broker goes
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        if self.started_broker:
            subprocess.run([os.path.join(ROOT, "scripts", "kafka"), "down",
                            "--dir", self.state], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
        shutil.rmtree(self.tmp, ignore_errors=True)

    # ------------------------------------------------------------ broker
    def broker_up(self):
        self.bootstrap = os.environ.get("KAFKA_BOOTSTRAP", "")
        if self.bootstrap:
            self.log("using the broker at %s" % self.bootstrap)
        else:
            self.started_broker = True
            r = subprocess.run([os.path.join(ROOT, "scripts", "kafka"), "up",
                                "--dir", self.state], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
            lines = r.stdout.strip().splitlines()
            if r.returncode != 0 or not lines:
                raise Broken("scripts/kafka up failed:\n" + r.stderr)
            self.bootstrap = lines[-1]
            try:
                with open(os.path.join(self.state, "pid")) as f:
                    self.broker_pid = int(f.read().split()[0])
            except (OSError, ValueError, IndexError):
                self.broker_pid = None
            self.log("broker up at %s" % self.bootstrap)
        self.admin = AdminClient({"bootstrap.servers": self.bootstrap})

    def create_topics(self, names):
        fs = self.admin.create_topics(
            [NewTopic(n, self.partitions, 1) for n in names],
            operation_timeout=30)
        for n, f in fs.items():
            try:
                f.result(60)
            except Exception as e:  # KafkaException; one message is enough
                raise Broken("creating topic %s: %s" % (n, e))

    def delete_topics(self, names):
        fs = self.admin.delete_topics(names, operation_timeout=30)
        for f in fs.values():
            try:
                f.result(60)
            except Exception:
                pass

    def topic(self, name):
        return "%s.%s" % (self.prefix, name)

    def watermarks(self, topic, group=None):
        """(sum of high watermarks, sum of committed offsets of group)."""
        c = Consumer({"bootstrap.servers": self.bootstrap,
                      "group.id": group or (self.prefix + "-probe"),
                      "enable.auto.commit": False})
        try:
            tps = [TopicPartition(topic, p) for p in range(self.partitions)]
            high = sum(c.get_watermark_offsets(tp, 30)[1] for tp in tps)
            committed = None
            if group is not None:
                committed = sum(max(tp.offset, 0)
                                for tp in c.committed(tps, 30))
            return high, committed
        finally:
            c.close()

    # ------------------------------------------------------------ programs
    def start_program(self, kind, name, src, dst, group, stats):
        if kind == "passthrough":
            argv = [self.passthrough, "-b", self.bootstrap, "-g", group,
                    "-i", src, "-o", dst, "-s", stats]
            argv += os.environ.get("BENCH_PASSTHROUGH_ARGS", "").split()
            env = None
        else:
            argv = [self.smtproxy, "run", "-c",
                    self.bare_config if kind == "bare" else self.relay_config,
                    "--stats-file", stats]
            env = dict(os.environ, KAFKA_BOOTSTRAP=self.bootstrap,
                       BENCH_IN=src, BENCH_OUT=dst, BENCH_GROUP=group)
        return self.spawn(name, argv, env)

    def check_stats(self, kind, stats, name):
        with open(stats) as f:
            s = json.load(f)
        bad = [k for k in ("dlq", "failed", "unrouted", "dropped",
                           "delivery_failed") if s.get(k, 0)]
        if bad:
            raise Broken("%s: %s in %s" % (name, ", ".join(
                "%s=%s" % (k, s[k]) for k in bad), stats))
        return s

    def throughput(self, kind, rnd, perf=False):
        """One pass over the input topic. Returns a dict of figures."""
        name = "%s-%d%s" % (kind, rnd, "-perf" if perf else "")
        group = "%s-%s" % (self.prefix, name)
        dst = self.topic(name + ".out")
        stats = os.path.join(self.tmp, name + ".stats")
        self.create_topics([dst])
        b0 = cpu_seconds(self.broker_pid) if self.broker_pid else None
        m0 = busy_seconds()
        t_start = time.time()
        p = self.start_program(kind, name, self.topic("in"), dst, group,
                               stats)
        perf_p = None
        if perf:
            data = os.path.join(self.tmp, "perf.data")
            perf_p = self.spawn("perf", ["perf", "record", "-F", "999"] +
                                os.environ.get("BENCH_PERF_ARGS", "-g").split() +
                                ["-o", data, "-p", str(p.pid)])
        samples = []  # (mtime s, retired)
        seen = None
        deadline = time.time() + 60 + self.records / 2000.0
        hwm = cpu = None
        while True:
            if p.poll() is not None:
                raise Broken("%s exited with %s before it was done:\n%s"
                             % (name, p.returncode, tail(p.bench_log)))
            try:
                st = os.stat(stats)
                if st.st_mtime_ns != seen:
                    with open(stats) as f:
                        s = json.load(f)
                    seen = st.st_mtime_ns
                    samples.append((st.st_mtime_ns / 1e9, s["retired"]))
            except (OSError, ValueError, KeyError):
                pass  # not written yet, or between write and rename
            hwm = vm_hwm_kib(p.pid) or hwm
            cpu = cpu_seconds(p.pid) or cpu
            if samples and samples[-1][1] >= self.records:
                break
            if time.time() > deadline:
                raise Broken("%s: not done after %.0f s (retired %s of %d)"
                             % (name, time.time() - t_start,
                                samples[-1][1] if samples else 0,
                                self.records))
            time.sleep(0.02)
        t_done = samples[-1][0]
        b1 = cpu_seconds(self.broker_pid) if self.broker_pid else None
        m1 = busy_seconds()
        if perf_p is not None:
            perf_p.send_signal(signal.SIGINT)
            perf_p.wait(120)
            self.procs.remove(perf_p)
        rc = self.stop(p)
        if rc != 0:
            raise Broken("%s exited %d:\n%s" % (name, rc, tail(p.bench_log)))
        self.check_stats(kind, stats, name)
        out_n, _ = self.watermarks(dst)
        _, committed = self.watermarks(self.topic("in"), group)
        if out_n != self.records:
            raise Broken("%s: output topic %s holds %d records, expected %d"
                         % (name, dst, out_n, self.records))
        if committed != self.records:
            raise Broken("%s: group %s committed %s of %d offsets"
                         % (name, group, committed, self.records))
        moving = [s for s in samples if 0 < s[1] < self.records]
        if len(moving) >= 2 and moving[-1][0] > moving[0][0]:
            rate = (moving[-1][1] - moving[0][1]) / (moving[-1][0] -
                                                     moving[0][0])
            how = "%d snapshots" % len(moving)
        else:
            rate = self.records / max(t_done - t_start, 1e-3)
            how = "whole run (too few snapshots: raise BENCH_RECORDS)"
        if perf:
            self.perf_report()
        self.delete_topics([dst])
        broker = (b1 - b0) if b0 is not None and b1 else None
        return {"rate": rate, "how": how, "wall": t_done - t_start,
                "rss_kib": hwm, "cpu": cpu, "broker_cpu": broker,
                "other_cpu": max(0.0, m1 - m0 - (cpu or 0) - (broker or 0))}

    def latency(self, kind, rate):
        """kind "broker": no program, the client reads its own input - the
        floor (two clients and the broker), and how disturbed it is."""
        name = "%s-lat" % kind
        src, dst = self.topic(name + ".in"), self.topic(name + ".out")
        if kind == "broker":
            dst = src
        stats = os.path.join(self.tmp, name + ".stats")
        self.create_topics(sorted({src, dst}))
        p = None
        if kind != "broker":
            p = self.start_program(kind, name, src, dst,
                                   "%s-%s" % (self.prefix, name), stats)
        c0 = time.time()
        m0 = busy_seconds()
        r = subprocess.run([self.client, "latency", "-b", self.bootstrap,
                            "-i", src, "-o", dst, "-r", "%.0f" % rate,
                            "-d", str(self.lat_seconds),
                            "-w", str(self.lat_warmup),
                            "-g", "%s-%s-reader" % (self.prefix, name)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True)
        wall = time.time() - c0
        busy = busy_seconds() - m0
        cpu = hwm = None
        prc = 0
        if p is not None:
            cpu = cpu_seconds(p.pid)
            hwm = vm_hwm_kib(p.pid)
            prc = self.stop(p)
        try:
            res = json.loads(r.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            res = None
        if r.returncode != 0 or res is None or prc != 0:
            raise Broken("latency through %s failed (client exit %d, program"
                         " exit %d): %s %s\n%s" % (
                             kind, r.returncode, prc, r.stdout, r.stderr,
                             tail(p.bench_log) if p is not None else ""))
        if p is not None:
            self.check_stats(kind, stats, name)
        res["rss_kib"] = hwm
        res["cpu_pct"] = 100.0 * cpu / wall if cpu is not None else None
        res["machine_pct"] = 100.0 * busy / wall
        self.delete_topics(sorted({src, dst}))
        return res

    def log_latency(self, kind, rate, x):
        self.log("latency %s at %.0f/s: p50 %.2f ms (first 2 s %.2f, last 2 s"
                 " %.2f), p99 %.2f ms%s"
                 % (kind, rate, x["p50_ms"], x["p50_first_ms"],
                    x["p50_last_ms"], x["p99_ms"],
                    ": falling behind" if falling_behind(x) else ""))

    def perf_report(self):
        data = os.path.join(self.tmp, "perf.data")
        r = subprocess.run(["perf", "report", "-i", data, "--stdio",
                            "--no-children", "--sort", "dso,sym",
                            "--percent-limit", "1", "-g", "none"],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                           text=True)
        lines = [ln for ln in r.stdout.splitlines()
                 if ln.strip() and not ln.startswith("#")]
        self.profile = lines[:40]
        keep = os.environ.get("BENCH_PERF_DATA", "")
        if keep:
            shutil.copyfile(data, keep)

    # ------------------------------------------------------------ main
    def run(self):
        self.broker_up()
        self.create_topics([self.topic("in")])
        r = subprocess.run([self.client, "load", "-b", self.bootstrap, "-t",
                            self.topic("in"), "-n", str(self.records)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True)
        if r.returncode != 0:
            raise Broken("loading failed: %s" % r.stderr)
        load = json.loads(r.stdout.strip().splitlines()[-1])
        self.bytes = load["bytes"]
        self.log("loaded %d records (%.1f MB key+value) in %.1f s"
                 % (self.records, self.bytes / 1e6, load["seconds"]))

        if self.warmup:
            t = self.throughput("passthrough", 0)
            self.log("warm-up pass (not counted): passthrough %.0f records/s"
                     % t["rate"])
        runs = {"passthrough": [], "bare": [], "relay": []}
        for rnd in range(1, self.rounds + 1):
            for kind in ("passthrough", "bare", "relay"):
                t = self.throughput(kind, rnd)
                self.log("round %d %s: %.0f records/s, %.2f us CPU/record, "
                         "peak RSS %.0f MiB"
                         % (rnd, kind, t["rate"],
                            (t["cpu"] or 0) * 1e6 / self.records,
                            (t["rss_kib"] or 0) / 1024))
                runs[kind].append(t)
        best = {}
        for kind, ts in runs.items():
            best[kind] = dict(max(ts, key=lambda t: t["rate"]))
            best[kind]["all"] = [t["rate"] for t in ts]
        self.relay_rate = best["relay"]["rate"]
        rate = self.relay_rate / 2
        lat = {}
        if self.lat_seconds > 0:
            for step in range(self.lat_steps + 1):
                lat["relay"] = self.latency("relay", rate)
                self.log_latency("relay", rate, lat["relay"])
                if not falling_behind(lat["relay"]) or step == self.lat_steps:
                    break
                self.behind.append((rate, lat["relay"]))
                rate *= 0.75
            for kind in ("broker", "passthrough"):
                lat[kind] = self.latency(kind, rate)
                self.log_latency(kind, rate, lat[kind])
        self.profile = None
        if self.perf:
            self.throughput("relay", 0, perf=True)
        self.print_table(best, lat, rate)

    def print_table(self, best, lat, rate):
        n = self.records
        per = self.bytes / n
        pt, bare, rl = best["passthrough"], best["bare"], best["relay"]
        ncpu = os.cpu_count()
        print()
        print("e2e: %d records (%.0f B key+value each, 2 headers) on a %d-"
              "partition topic; broker %s%s; %d CPU(s) shared by broker, "
              "program and clients"
              % (n, per, self.partitions, self.bootstrap,
                 " (started here)" if self.started_broker else "", ncpu))
        print("throughput: best of %d round(s)%s, rate between the first "
              "and last stats snapshot while records moved"
              % (self.rounds, " after an uncounted warm-up pass"
                 if self.warmup else ""))
        print()
        hdr = "%-28s %10s %6s %6s %9s %7s %8s %8s %8s %7s" % (
            "program", "records/s", "MB/s", "ratio", "peak RSS", "CPU s",
            "us/rec", "broker s", "others s", "wall s")
        print(hdr)
        print("-" * len(hdr))
        for label, t in (("passthrough (librdkafka)", pt),
                         ("smtproxy (no transforms)", bare),
                         ("smtproxy (reference chain)", rl)):
            print("%-28s %10.0f %6.1f %5.2fx %5.0f MiB %7.2f %8.2f %8s %8.2f"
                  " %7.2f" % (
                      label, t["rate"], t["rate"] * per / 1e6,
                      t["rate"] / pt["rate"], (t["rss_kib"] or 0) / 1024,
                      t["cpu"] or 0, (t["cpu"] or 0) * 1e6 / n,
                      "%.2f" % t["broker_cpu"] if t["broker_cpu"] is not None
                      else "-", t["other_cpu"], t["wall"]))
        print("  rounds (records/s): passthrough %s; no transforms %s; "
              "reference chain %s" % (
                  ", ".join("%.0f" % x for x in pt["all"]),
                  ", ".join("%.0f" % x for x in bare["all"]),
                  ", ".join("%.0f" % x for x in rl["all"])))
        per_round = sorted(r / p for r, p in zip(rl["all"], pt["all"]))
        print("  smtproxy (reference chain) / passthrough in the same round: "
              "%s (median %.2fx; the two run back to back, so this pairs "
              "them under the most similar conditions)" % (
                  ", ".join("%.2fx" % (r / p)
                            for r, p in zip(rl["all"], pt["all"])),
                  per_round[len(per_round) // 2] if len(per_round) % 2 else
                  (per_round[len(per_round) // 2 - 1] +
                   per_round[len(per_round) // 2]) / 2))
        print("  no transforms: smtproxy forwarding every record unchanged "
              "(bench/relay-bare.yaml): what the relay costs without the "
              "chain; the reference chain's rows add the transforms "
              "(parsing and writing JSON included)")
        print("  MB/s: input key+value bytes. CPU s: the program's user+sys "
              "for the whole pass (us/rec per input record); broker s: the "
              "broker's; others s: every other process on the machine in the "
              "same time (high = the figures are disturbed)")
        print("  wall s: process start until the stats file showed every "
              "record retired (includes start-up, group join, up to 0.5 s "
              "of stats interval)")
        if lat:
            self.print_latency(lat, rate)
        ratio = rl["rate"] / pt["rate"]
        rss = (rl["rss_kib"] or 0) / 1024
        print("target: smtproxy >= 0.9x passthrough: %.2fx %s; RSS < 100 MB:"
              " %.0f MiB %s" % (ratio, "ok" if ratio >= 0.9 else
                                "BELOW TARGET", rss,
                                "ok" if rss * 1.048576 < 100 else
                                "ABOVE TARGET"))
        if self.profile:
            print()
            print("profile of one more smtproxy pass (perf record -g, "
                  "self time by dso,symbol, >= 1%):")
            for ln in self.profile:
                print("  " + ln)

    def print_latency(self, lat, rate):
        ncpu = os.cpu_count()
        print()
        for r, x in self.behind:
            print("latency at %.0f records/s: smtproxy fell behind (median "
                  "%.0f ms in the first 2 s, %.0f ms in the last 2 s of the "
                  "window; %d of %.0f records sent), so the rate was lowered "
                  "by a quarter"
                  % (r, x["p50_first_ms"], x["p50_last_ms"], x["sent"],
                     x["rate"] * x["seconds"]))
        print("latency at %.0f records/s (%s), %d s "
              "measured after %d s warm-up:"
              % (rate, "half the relay's rate" if not self.behind else
                 "%.2f of the relay's rate" % (rate / self.relay_rate),
                 self.lat_seconds, self.lat_warmup))
        hdr = "%-28s %7s %7s %7s %8s %7s %8s %5s %9s %8s" % (
            "program", "p50 ms", "p90 ms", "p99 ms", "p99.9 ms", "max ms",
            "records", "CPU%", "peak RSS", "machine")
        print(hdr)
        print("-" * len(hdr))
        for label, kind in (("none (client -> client)", "broker"),
                            ("passthrough (librdkafka)", "passthrough"),
                            ("smtproxy (reference chain)", "relay")):
            x = lat[kind]
            if falling_behind(x):
                label += " *"
            print("%-28s %7.2f %7.2f %7.2f %8.2f %7.2f %8d %5s %9s %7.0f%%"
                  % (label, x["p50_ms"], x["p90_ms"], x["p99_ms"],
                     x["p999_ms"], x["max_ms"], x["received"],
                     "%.0f%%" % x["cpu_pct"] if x["cpu_pct"] is not None
                     else "-",
                     "%.0f MiB" % (x["rss_kib"] / 1024) if x["rss_kib"]
                     else "-", x["machine_pct"]))
        print("%-28s %+7.2f %7s %+7.2f" % (
            "smtproxy added", lat["relay"]["p50_ms"] -
            lat["passthrough"]["p50_ms"], "",
            lat["relay"]["p99_ms"] - lat["passthrough"]["p99_ms"]))
        print("  latency: output consumed minus produce() of the input, one "
              "clock; includes two produce round trips (client -> broker, "
              "program -> broker, linger 1 ms / 20 ms) and two fetches; 'none'"
              " is the client reading its own input (one of each). machine: "
              "CPU busy of the whole machine (%d%% = all cores)"
              % (100 * ncpu))
        if any(falling_behind(lat[k]) for k in lat):
            print("  * fell behind at this rate: its figures include a "
                  "growing backlog")
        print()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    args = ap.parse_args()
    b = None
    rc = 0
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    try:
        b = Bench(args)
        b.run()
    except Broken as e:
        print("e2e: BROKEN: %s" % e, file=sys.stderr)
        rc = 1
    except KeyboardInterrupt:
        rc = 1
    finally:
        if b is not None:
            b.cleanup()
    return rc


if __name__ == "__main__":
    sys.exit(main())

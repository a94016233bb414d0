"""One fault scenario: a topic, the workload, a nemesis applied in cycles for a bounded time, a
full heal, convergence, the final read of the log and of every replica, and the checker.

A nemesis is a function nemesis(ctx) doing ONE fault cycle (inject, hold, heal, let it settle)
within ctx.remaining() seconds; the runner calls it until the fault window is over. After the
window the runner heals everything regardless (network, paused and stopped nodes), so a nemesis
may leave a fault in place when time runs out."""

import os
import random
import time

from fault_checker import Final, check
from fault_cluster import ELECTION_MS, ClusterError, core_backtrace, pick
from fault_net import wait_tcp
from fault_workload import Workload, end_offset, read_all

SUMMARIES = []          # (scenario name, summary text), printed at the end of the pytest session


class Ctx:
    def __init__(self, cluster, topic, partitions, rnd, t_end, workload):
        self.cluster = cluster
        self.net = cluster.net
        self.topic = topic
        self.partitions = partitions
        self.rnd = rnd
        self.t_end = t_end
        self.wl = workload
        self.t0 = time.monotonic()
        self.stopped = set()        # nodes the nemesis killed and has not restarted
        self.crashes = []           # (node, exit status, log path) of nodes that died by themselves

    def remaining(self):
        return self.t_end - time.monotonic()

    def log(self, text):
        t = time.monotonic() - self.t0
        self.wl.h.nemesis.append((round(t, 2), text))

    def sleep(self, s):
        time.sleep(max(0.0, min(s, self.remaining())))

    def busy_partition_leader(self):
        """The leader of the partition with the most acknowledged events (a busy one)."""
        with self.wl.lock:
            counts = {}
            for p, _o in self.wl.h.acked.values():
                counts[p] = counts.get(p, 0) + 1
        order = sorted(range(self.partitions), key=lambda p: -counts.get(p, 0))
        table = self.cluster.partition_table(self.topic)
        for p in order:
            leader = table.get(p, {}).get("leader")
            if leader is not None and leader in self.cluster.live():
                return p, leader
        return None, None

    def check_crash(self, n):
        """Records node n as crashed if its process exited although nobody stopped it."""
        node = self.cluster.node(n)
        st = node.exit_status()
        if st is not None and n not in self.stopped:
            self.crashes.append((n, st, node.log_paths[-1] if node.log_paths else None,
                                 core_backtrace(node.core_dir)))
            self.log("n%d had exited by itself with status %s" % (n, st))
            node.proc = None
            return True
        return False

    def kill(self, n):
        self.check_crash(n)
        self.cluster.node(n).kill9()
        self.stopped.add(n)
        self.log("kill -9 n%d" % n)

    def restart(self, n, what="restarted"):
        """Starts n again; a node that dies during start-up is recorded as a crash (the run goes
        on without it; the final heal tries once more)."""
        node = self.cluster.node(n)
        try:
            node.start(wait=True)
        except ClusterError as e:
            self.crashes.append((n, "died during start-up", node.log_paths[-1] if node.log_paths else None,
                                 core_backtrace(node.core_dir)))
            self.log("n%d failed to %s: %s" % (n, "restart" if what == "restarted" else "start",
                                                str(e).splitlines()[0]))
            node.proc = None
            self.stopped.add(n)
            return False
        self.stopped.discard(n)
        self.log("%s n%d" % (what, n))
        return True


# --- nemeses ----------------------------------------------------------------------------------------

def nemesis_none(ctx):
    ctx.sleep(ctx.remaining())


def nemesis_kill_random(ctx):
    n = pick(ctx.rnd, ctx.cluster.live())
    ctx.sleep(ctx.rnd.uniform(1.0, 3.0))
    if n is None or ctx.remaining() < 2:
        return
    ctx.kill(n)
    ctx.sleep(ctx.rnd.uniform(0.5, 3.0))
    ctx.restart(n)
    ctx.sleep(ctx.rnd.uniform(2.0, 4.0))


def nemesis_kill_leader(ctx):
    ctx.sleep(ctx.rnd.uniform(1.0, 3.0))
    if ctx.remaining() < 2:
        return
    p, n = ctx.busy_partition_leader()
    if n is None:
        ctx.log("no partition leader found; skipping a cycle")
        ctx.sleep(1.0)
        return
    ctx.log("p%d leader is n%d" % (p, n))
    ctx.kill(n)
    ctx.sleep(ctx.rnd.uniform(0.5, 3.0))
    ctx.restart(n)
    ctx.sleep(ctx.rnd.uniform(2.0, 4.0))


def nemesis_pause_leader(ctx):
    ctx.sleep(ctx.rnd.uniform(1.0, 3.0))
    if ctx.remaining() < 2:
        return
    p, n = ctx.busy_partition_leader()
    if n is None:
        ctx.log("no partition leader found; skipping a cycle")
        ctx.sleep(1.0)
        return
    hold = ELECTION_MS / 1000.0 * ctx.rnd.uniform(2.5, 5.0)
    ctx.cluster.node(n).pause()
    ctx.log("SIGSTOP n%d (leader of p%d) for %.1fs" % (n, p, hold))
    time.sleep(hold)                 # always resume: a paused node is not healed by kill/restart
    ctx.cluster.node(n).resume()
    ctx.log("SIGCONT n%d" % n)
    ctx.sleep(ctx.rnd.uniform(2.0, 4.0))


def nemesis_isolate_one(ctx):
    ctx.sleep(ctx.rnd.uniform(1.0, 2.0))
    if ctx.remaining() < 2:
        return
    p, n = ctx.busy_partition_leader()
    if n is None or ctx.rnd.random() < 0.3:
        n = pick(ctx.rnd, ctx.cluster.ids)
    ctx.net.isolate(n)
    ctx.log("isolated n%d (%s mode)" % (n, ctx.net.mode))
    ctx.sleep(ctx.rnd.uniform(3.0, 6.0))
    ctx.net.heal()
    ctx.log("healed")
    ctx.sleep(ctx.rnd.uniform(2.0, 4.0))


def nemesis_split(groups):
    def nemesis(ctx):
        ctx.sleep(ctx.rnd.uniform(1.0, 2.0))
        if ctx.remaining() < 2:
            return
        ctx.net.partition(*groups)
        ctx.log("partitioned %s" % " | ".join(str(sorted(g)) for g in groups))
        ctx.sleep(ctx.rnd.uniform(4.0, 7.0))
        ctx.net.heal()
        ctx.log("healed")
        ctx.sleep(ctx.rnd.uniform(2.0, 4.0))
    nemesis.__name__ = "nemesis_split"
    return nemesis


def nemesis_bridge(ctx):
    """5 nodes: a random node sees both halves; the two halves do not see each other."""
    ids = list(ctx.cluster.ids)
    ctx.rnd.shuffle(ids)
    b, left, right = ids[0], ids[1:3], ids[3:]
    ctx.sleep(ctx.rnd.uniform(1.0, 2.0))
    if ctx.remaining() < 2:
        return
    ctx.net.partition(left, right)
    ctx.log("bridge: %s | n%d | %s" % (sorted(left), b, sorted(right)))
    ctx.sleep(ctx.rnd.uniform(4.0, 7.0))
    ctx.net.heal()
    ctx.log("healed")
    ctx.sleep(ctx.rnd.uniform(2.0, 4.0))


def nemesis_mix(ctx):
    """One of every applicable nemesis at random (for the soak)."""
    choices = [nemesis_kill_random, nemesis_kill_leader, nemesis_pause_leader, nemesis_isolate_one]
    if len(ctx.cluster.ids) >= 5:
        choices += [nemesis_split([ctx.cluster.ids[:2], ctx.cluster.ids[2:]]), nemesis_bridge]
    f = ctx.rnd.choice(choices)
    ctx.log("mix: %s" % f.__name__)
    f(ctx)


# --- the run -------------------------------------------------------------------------------------------

def heal_everything(ctx):
    ctx.net.heal()
    for n in ctx.cluster.ids:
        node = ctx.cluster.node(n)
        if node.paused:
            node.resume()
            ctx.log("SIGCONT n%d (final heal)" % n)
    for n in ctx.cluster.ids:
        node = ctx.cluster.node(n)
        ctx.check_crash(n)
        if node.proc is None:
            ctx.restart(n, what="started (final heal)")


def wait_converged(cluster, topic, partitions, deadline):
    """Waits until, for every partition, the leader's committed end and every replica's end are
    equal and stay so for a moment. Returns (ends, converged) for the Final."""
    end = time.monotonic() + deadline
    ends, converged = {}, {}
    stable = 0
    while True:
        ends, converged = {}, {}
        for p in range(partitions):
            reps = cluster.replicas_of(topic, p)
            e = {}
            for n in reps:
                if not cluster.node(n).running:
                    e[n] = "down"
                    continue
                try:
                    e[n] = end_offset(cluster.node(n).base, topic, p, replica=cluster.cluster)
                except Exception as ex:                      # noqa: BLE001 - recorded as not converged
                    e[n] = "error: %s" % str(ex)[:120]
            for n in cluster.live() or cluster.ids:
                try:
                    e["leader"] = end_offset(cluster.node(n).base, topic, p, replica=False)
                    break
                except Exception as ex:                      # noqa: BLE001
                    e["leader"] = "error: %s" % str(ex)[:120]
            ends[p] = e
            converged[p] = len(set(e.values())) == 1 and all(isinstance(v, int) for v in e.values())
        if all(converged.values()):
            stable += 1
            if stable >= 3:
                return ends, converged
        else:
            stable = 0
        if time.monotonic() > end:
            return ends, converged
        time.sleep(0.3)


def read_final(cluster, topic, partitions, ends, converged):
    log, replicas = {}, {}
    errors = []
    unreadable = set()
    for p in range(partitions):
        errs = []
        for n in cluster.live() or cluster.ids:
            try:
                log[p] = read_all(cluster.node(n).base, topic, p, replica=False)
                break
            except Exception as e:                           # noqa: BLE001
                errs.append("via n%d: %s" % (n, e))
        else:
            unreadable.add(p)
            errors.append("could not read the final log of p%d: %s" % (p, "; ".join(errs)))
        if cluster.cluster:
            for n in cluster.replicas_of(topic, p):
                try:
                    replicas.setdefault(n, {})[p] = read_all(cluster.node(n).base, topic, p, replica=True)
                except Exception as e:                       # noqa: BLE001
                    errors.append("replica read of p%d on n%d: %s" % (p, n, e))
    return Final(log=log, replicas=replicas, ends=ends, converged=converged, unreadable=unreadable), errors


def server_dedupe_hits(cluster):
    """Sum of sluice_cluster_dedupe_hits_total over the nodes (each counts since its last start)."""
    total = 0
    for n in cluster.live():
        try:
            text = cluster.node(n).get("/metrics", timeout=3.0).text
        except Exception:                                    # noqa: BLE001
            continue
        for line in text.splitlines():
            if line.startswith("sluice_cluster_dedupe_hits_total"):
                try:
                    total += int(float(line.split()[-1]))
                except ValueError:
                    pass
    return total


def run_scenario(name, cluster, nemesis, duration=30.0, partitions=4, rf=3, producers=4, idempotent=True,
                 seed=None, min_acked=200, converge_s=40.0, drain_s=30.0, expect_anomalies=False):
    """Runs the workload under nemesis for `duration` seconds, heals, checks. Returns
    (report, failures) where failures is a list of strings (empty = pass)."""
    seed = int(os.environ.get("SLUICE_FAULT_SEED") or seed or time.time() * 1000) % (1 << 31)
    rnd = random.Random(seed)
    topic = "fault-%s" % "".join(c if c.isalnum() else "-" for c in name)[:60]
    print("scenario %s seed %d (rerun with SLUICE_FAULT_SEED=%d)" % (name, seed, seed))
    cluster.create_topic(topic, partitions, rf=rf if cluster.cluster else None)
    wl = Workload(cluster.urls(), topic, partitions, producers=producers, idempotent=idempotent, seed=seed,
                  replica_param=cluster.cluster)
    wl.start()
    failures = []
    if not wl.wait_acked(20, 20.0):
        failures.append("workload could not get 20 events acknowledged in 20 s before the faults")
    ctx = Ctx(cluster, topic, partitions, rnd, time.monotonic() + duration, wl)
    try:
        while ctx.remaining() > 0.5:
            nemesis(ctx)
            for n in cluster.ids:
                if ctx.check_crash(n):
                    ctx.restart(n, what="restarted after its crash")
    finally:
        heal_everything(ctx)
        ctx.log("final heal done")
    # load keeps running a little after the heal: the cluster must serve again
    acked_before = wl.acked_count()
    recovered = wl.wait_acked(acked_before + 20, 20.0)
    ctx.log("recovered after heal" if recovered else "NOT recovered 20 s after heal")
    if not recovered or ctx.crashes:
        drain_s = min(drain_s, 10.0)              # already failing: do not spend the suite's time budget
    stuck = wl.stop(drain_s=drain_s)
    if stuck:
        failures.append("client threads did not stop: %s" % stuck)
    if not recovered:
        failures.append("no produce succeeded within 20 s after the final heal")
    if any(not cluster.node(n).running for n in cluster.ids):
        converge_s = min(converge_s, 10.0)        # a dead node cannot converge: do not wait long
    ends, converged = wait_converged(cluster, topic, partitions, converge_s)
    final, read_errors = read_final(cluster, topic, partitions, ends, converged)
    failures.extend(read_errors)
    report = check(wl.h, final, expect_partitions=partitions)
    if cluster.cluster:
        report.stats["server_dedupe_hits"] = server_dedupe_hits(cluster)
    failures.extend(report.failures())
    for n in cluster.ids:
        ctx.check_crash(n)
    for n, st, path, bt in ctx.crashes:
        tail = ""
        if path:
            with open(path, "rb") as f:
                tail = f.read()[-2500:].decode("utf-8", "replace")
        failures.append("node n%d crashed (exit status %s); end of %s:\n%s%s" % (n, st, path, tail,
                                                                             "\n" + bt if bt else ""))
    if len(wl.h.acked) < min_acked:
        failures.append("only %d events acknowledged (< %d): the run proves little" % (len(wl.h.acked), min_acked))
    summary = "%s [seed %d]: %s" % (name, seed, report.summary())
    timeline = ", ".join("%.1fs %s" % (t, txt) for t, txt in wl.h.nemesis)
    notes = ["%.1fs %s" % (t - wl.t_start, txt) for t, txt in wl.h.notes[:5]]
    verdict = "  (anomalies expected: negative control)" if expect_anomalies else ("" if not failures else "  => FAILED")
    SUMMARIES.append((name, summary + verdict))
    print(summary)
    print("nemesis: " + timeline)
    if notes:
        print("notes (%d): %s" % (len(wl.h.notes), "; ".join(notes)))
    outcomes = {}
    for op in wl.h.ops:
        outcomes[op["outcome"]] = outcomes.get(op["outcome"], 0) + 1
    print("attempt outcomes: %s" % outcomes)
    if failures:
        failures.append("nemesis timeline: " + timeline)
        failures.append("attempt outcomes: %s" % outcomes)
        failures.append("final ends: %s" % ends)
        lines = cluster.log_lines()
        if lines:
            failures.append("node log lines:\n" + "\n".join(lines))
    return report, failures


__all__ = ["run_scenario", "SUMMARIES", "ClusterError", "wait_tcp"]

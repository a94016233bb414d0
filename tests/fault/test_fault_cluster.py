"""Jepsen-style scenarios against real sluice clusters (docs/CLUSTER.md), each node in its own
network namespace. Every scenario runs the idempotent workload under one nemesis for a bounded
time, heals, waits for convergence and runs the checker (fault_checker.py). Skipped, with the
missing server feature named, while SLUICE_BIN has no cluster mode."""

import os
import re
import subprocess
import time

import pytest

from fault_cluster import SLUICE_BIN, cluster_mode_missing, membership_missing
from fault_scenario import (nemesis_bridge, nemesis_isolate_one, nemesis_kill_leader, nemesis_kill_random,
                            nemesis_pause_leader, nemesis_split, run_scenario)

DURATION3 = float(os.environ.get("SLUICE_FAULT_SECONDS", "25"))
DURATION5 = float(os.environ.get("SLUICE_FAULT_SECONDS", "30"))

pytestmark = pytest.mark.skipif(cluster_mode_missing() is not None, reason=cluster_mode_missing() or "")


def run(name, cluster, nemesis, duration, rf, **kw):
    _report, failures = run_scenario(name, cluster, nemesis, duration=duration, partitions=4, rf=rf,
                                     producers=4, idempotent=True, **kw)
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("nemesis", [nemesis_kill_random, nemesis_kill_leader, nemesis_pause_leader],
                         ids=["kill9-random", "kill9-leader", "sigstop-leader"])
def test_three_nodes_process_faults(make_cluster, nemesis):
    c = make_cluster(3)
    run("3n-" + nemesis.__name__.replace("nemesis_", ""), c, nemesis, DURATION3, rf=3)


@pytest.mark.parametrize("mode", ["blackhole", "drop"])
def test_three_nodes_isolate_one(make_cluster, mode):
    c = make_cluster(3, mode=mode)
    run("3n-isolate-one-%s" % mode, c, nemesis_isolate_one, DURATION3, rf=3)


def test_five_nodes_split_2_3(make_cluster):
    c = make_cluster(5)
    run("5n-split-12|345", c, nemesis_split([[1, 2], [3, 4, 5]]), DURATION5, rf=5)


def test_five_nodes_bridge(make_cluster):
    c = make_cluster(5)
    run("5n-bridge", c, nemesis_bridge, DURATION5, rf=5)


# --- disk damage on a stopped follower ---------------------------------------------------------------

def newest_file(root, suffixes):
    best = None
    for dirpath, _dirs, files in os.walk(root):
        for f in files:
            if (suffixes and not f.endswith(suffixes)) or f.startswith("corrupt"):
                continue                  # raft renames a segment it refused to corrupt-...: not the live log
            path = os.path.join(dirpath, f)
            st = os.stat(path)
            if st.st_size > 0 and (best is None or st.st_mtime > best[0]):
                best = (st.st_mtime, path)
    return best[1] if best else None


def damage(path, how, rnd):
    size = os.path.getsize(path)
    if how == "truncate":
        cut = rnd.randint(1, min(size, 4096))
        os.truncate(path, size - cut)
        return "truncated %s by %d of %d bytes" % (path, cut, size)
    pos = size - 1 - rnd.randrange(min(size, 512))
    with open(path, "r+b") as f:
        f.seek(pos)
        b = f.read(1)[0]
        f.seek(pos)
        f.write(bytes([b ^ (1 << rnd.randrange(8))]))
    return "flipped a bit at byte %d of %s (%d bytes)" % (pos, path, size)


@pytest.mark.parametrize("how", ["truncate", "bitflip"])
def test_damaged_follower_disk(make_cluster, how):
    """Stop a follower of a busy partition, truncate or bit-flip the tail of its newest segment file
    of that partition (<data>/topics/<topic>/<p>/*.log) and of the newest Raft log file of that
    partition's group (<data>/raft/t/<topic>.<id>/<p>/), restart it under load: it must not serve or spread the damaged tail, and must
    catch up from the leader (the checker compares every replica offset by offset)."""
    c = make_cluster(3)
    missing = []

    def nemesis(ctx):
        ctx.sleep(3.0)
        if ctx.remaining() < 5 or missing:
            ctx.sleep(ctx.remaining())
            return
        p, leader = ctx.busy_partition_leader()
        if leader is None:
            ctx.sleep(1.0)
            return
        n = ctx.rnd.choice([m for m in ctx.cluster.ids if m != leader])
        node = ctx.cluster.node(n)
        node.stop()
        ctx.stopped.add(n)
        ctx.log("stopped n%d, a follower of p%d (SIGTERM)" % (n, p))
        seg = newest_file(os.path.join(node.data_dir, "topics", ctx.topic, str(p)), (".log",))
        # the Raft log of that partition's group (<data>/raft/t/<topic>.<id>/<p>/), else the newest of any
        groups = [os.path.join(node.data_dir, "raft", "t", d, str(p))
                  for d in (os.listdir(os.path.join(node.data_dir, "raft", "t"))
                            if os.path.isdir(os.path.join(node.data_dir, "raft", "t")) else [])
                  if d.startswith(ctx.topic + ".")]
        raft = newest_file(groups[0], ()) if groups and os.path.isdir(groups[0]) else None
        raft = raft or newest_file(os.path.join(node.data_dir, "raft"), ())
        if seg is None or raft is None:
            missing.append("server layout missing: segment of p%d under %s/topics/%s/%d: %s; Raft log under %s/raft: %s"
                           % (p, node.data_dir, ctx.topic, p, seg, node.data_dir, raft))
            ctx.log(missing[-1])
        else:
            ctx.log(damage(seg, how, ctx.rnd))
            ctx.log(damage(raft, how, ctx.rnd))
        ctx.restart(n)
        ctx.sleep(ctx.rnd.uniform(4.0, 6.0))

    _report, failures = run_scenario("3n-damaged-follower-%s" % how, c, nemesis, DURATION3, partitions=4, rf=3,
                                     producers=4, idempotent=True)
    if missing and not [f for f in failures if not f.startswith(("nemesis timeline", "attempt outcomes", "final ends",
                                                                 "node log lines"))]:
        pytest.skip(missing[0])
    assert not failures, "\n".join(failures)


# --- membership changes ---------------------------------------------------------------------------------

DURATION_MEMBERSHIP = float(os.environ.get("SLUICE_FAULT_SECONDS", "40"))
CLI_TIMEOUT_S = 60          # --timeout of `sluice cluster add/remove`


def sluice_cli(*args):
    """Runs the CLI from the root namespace (it reaches every node over the bridge): (exit status,
    stdout, stderr)."""
    p = subprocess.run([SLUICE_BIN] + [str(a) for a in args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=CLI_TIMEOUT_S + 30)
    return p.returncode, p.stdout.decode("utf-8", "replace").strip(), p.stderr.decode("utf-8", "replace").strip()


def metadata_members(cluster):
    """{node: (metadata voters, ids listed, nodes marked removed)} as each running node sees it."""
    out = {}
    for n in cluster.live():
        try:
            info = cluster.node(n).cluster_info()
        except Exception as e:                               # noqa: BLE001 - reported by the caller
            out[n] = "error: %s" % str(e)[:200]
            continue
        out[n] = (sorted(info.get("metadata", {}).get("voters", [])), sorted(x["id"] for x in info["nodes"]),
                  sorted(x["id"] for x in info["nodes"] if x.get("removed")))
    return out


@pytest.mark.skipif(membership_missing() is not None, reason=membership_missing() or "")
def test_remove_and_add_node_under_load(make_cluster):
    """Under the idempotent workload (topic replicated twice, so 2 nodes can hold it): `sluice
    cluster remove 3` through the survivors, which returns once every replica on node 3 has been
    replaced and node 3 is out of the metadata group; node 3 stopped, its data directory wiped,
    started again with --join; `sluice cluster add 3@...`, which returns once it is a voter. Then
    the same with node 2 if the fault window leaves 15 s for it. The checker must pass (no
    acknowledged event lost or duplicated, replicas identical), and afterwards every node sees
    nodes 1-3 as the voters of the metadata group, none of them removed."""
    c = make_cluster(3)
    plan, done, problems = [3, 2], [], []

    def cycle(ctx, n):
        node = ctx.cluster.node(n)
        others = ",".join(ctx.cluster.node(m).base for m in ctx.cluster.ids if m != n)
        t = time.monotonic()
        rc, out, err = sluice_cli("cluster", "remove", n, "--server", others, "--timeout", CLI_TIMEOUT_S)
        ctx.log("sluice cluster remove %d: exit %d in %.1fs: %s" % (n, rc, time.monotonic() - t, out or err))
        if rc != 0 or not re.match(r"^node %d removed \(\d+ partition replicas? moved\)$" % n, out):
            problems.append("sluice cluster remove %d: exit %d\nstdout: %s\nstderr: %s" % (n, rc, out, err))
            return False
        node.stop()
        ctx.stopped.add(n)
        node.wipe()
        node.join = True
        ctx.log("stopped n%d, wiped its data directory" % n)
        if not ctx.restart(n, what="started with --join"):
            problems.append("node %d did not start with --join on an empty data directory" % n)
            return False
        t = time.monotonic()
        rc, out, err = sluice_cli("cluster", "add", "%d@%s" % (n, node.internal_address), "--server", others,
                                  "--timeout", CLI_TIMEOUT_S)
        ctx.log("sluice cluster add %d: exit %d in %.1fs: %s" % (n, rc, time.monotonic() - t, out or err))
        if rc != 0 or out != "node %d added (voter)" % n:
            problems.append("sluice cluster add %d@%s: exit %d\nstdout: %s\nstderr: %s"
                            % (n, node.internal_address, rc, out, err))
            return False
        return True

    def nemesis(ctx):
        if not plan or problems or (done and ctx.remaining() < 15):
            ctx.sleep(ctx.remaining())
            return
        ctx.sleep(ctx.rnd.uniform(1.0, 3.0))
        n = plan.pop(0)
        if cycle(ctx, n):               # always carried to its end: a half-done change is not healed
            done.append(n)
        ctx.sleep(ctx.rnd.uniform(2.0, 4.0))

    _report, failures = run_scenario("3n-remove-add", c, nemesis, DURATION_MEMBERSHIP, partitions=4, rf=2,
                                     producers=4, idempotent=True)
    assert not problems, "\n".join(problems + failures[-4:] + ["\n".join(c.log_lines())])
    assert not failures, "\n".join(failures)
    assert done[:1] == [3], done

    want = {n: ([1, 2, 3], [1, 2, 3], []) for n in c.ids}
    end = time.monotonic() + 20
    while metadata_members(c) != want:
        assert time.monotonic() < end, "metadata membership after the run: %r (want %r)\n%s" % (
            metadata_members(c), want, c.log_tails())
        time.sleep(0.2)

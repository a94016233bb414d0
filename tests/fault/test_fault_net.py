"""The network harness itself: namespaces and bridge come up, every node reaches every other
node and the test process, cuts (blackhole routes, or neighbour entries to an unused MAC for
silent drops) block exactly the pairs asked for in both directions, heal restores everything,
teardown leaves nothing behind, and leftovers of a crashed session are purged."""

import os
import subprocess
import sys
import time

import pytest

import fault_net

PORT = 9000
SERVER = r"""
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], %d)); s.listen(64)
print("ready", flush=True)
while True:
    c, _ = s.accept()
    c.sendall(sys.argv[2].encode()); c.close()
""" % PORT

CLIENT = r"""
import socket, sys, threading
out = ["x"] * (len(sys.argv) - 1)
def probe(i, host):
    try:
        with socket.create_connection((host, %d), timeout=0.7) as c:
            c.settimeout(0.7)
            out[i] = c.recv(16).decode() or "?"
    except OSError:
        pass
ts = [threading.Thread(target=probe, args=(i, h)) for i, h in enumerate(sys.argv[1:])]
[t.start() for t in ts]; [t.join() for t in ts]
print(" ".join(out))
""" % PORT


def start_servers(net):
    procs = []
    for n in net.node_ids:
        p = subprocess.Popen(net.exec_argv(n, [sys.executable, "-c", SERVER, net.ip(n), "n%d" % n]),
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        assert p.stdout.readline().strip() == b"ready", "test server in %s did not start" % net.ns(n)
        procs.append(p)
    return procs


def reach(net, a):
    """What node a reaches: {b: True/False} over the other nodes (TCP connect + read inside a's netns)."""
    others = [b for b in net.node_ids if b != a]
    out = subprocess.run(net.exec_argv(a, [sys.executable, "-c", CLIENT] + [net.ip(b) for b in others]),
                         stdout=subprocess.PIPE, timeout=30).stdout.decode().split()
    return {b: (r == "n%d" % b) for b, r in zip(others, out)}


def matrix(net):
    return {a: reach(net, a) for a in net.node_ids}


def expect_matrix(net, cut_pairs):
    m = matrix(net)
    for a in net.node_ids:
        for b in net.node_ids:
            if a != b:
                want = (a, b) not in cut_pairs and (b, a) not in cut_pairs
                assert m[a][b] == want, "n%d -> n%d: reachable=%s, expected %s (cuts %s)" % (a, b, m[a][b], want, sorted(cut_pairs))


def host_reaches(net, n):
    with __import__("socket").create_connection((net.ip(n), PORT), timeout=1.0) as c:
        return c.recv(16).decode() == "n%d" % n


@pytest.mark.parametrize("mode", fault_net.MODES)
def test_partitions_cut_exactly_the_links_asked_for(make_net, mode):
    net = make_net(range(1, 6), mode=mode)
    procs = start_servers(net)
    try:
        expect_matrix(net, set())
        for n in net.node_ids:
            assert host_reaches(net, n)

        net.isolate(3)
        expect_matrix(net, {(3, b) for b in (1, 2, 4, 5)})
        assert all(host_reaches(net, n) for n in net.node_ids), "the test process must reach isolated nodes"
        net.heal()
        assert all(not net.installed_rules(n) for n in net.node_ids)
        expect_matrix(net, set())

        net.partition([1, 2], [3, 4, 5])
        expect_matrix(net, {(a, b) for a in (1, 2) for b in (3, 4, 5)})
        net.heal()
        expect_matrix(net, set())

        # bridge: 3 sees both halves, {1,2} and {4,5} do not see each other
        net.partition([1, 2], [4, 5])
        expect_matrix(net, {(a, b) for a in (1, 2) for b in (4, 5)})
        net.heal()
        expect_matrix(net, set())

        # one-way cut: 1 cannot send to 2, so no TCP connection works either way
        net.cut_one_way(1, 2)
        m = matrix(net)
        assert not m[1][2] and not m[2][1] and m[1][3] and m[2][3]
        net.heal()

        # the host link: node 4's answers to the test process are lost
        net.cut_host(4)
        with pytest.raises(OSError):
            host_reaches(net, 4)
        assert host_reaches(net, 5)
        net.heal()
        assert host_reaches(net, 4)
    finally:
        for p in procs:
            p.kill()
            p.wait()


def test_drop_mode_is_silent_and_blackhole_fails_fast(make_net):
    """blackhole: connect() fails at once; drop: connect() hangs until the client's timeout."""
    net = make_net([1, 2])
    procs = start_servers(net)
    probe = ("import socket,sys,time\nt=time.monotonic()\ntry:\n socket.create_connection((sys.argv[1], %d), timeout=2.0)\n"
             " print('ok', 0)\nexcept OSError as e:\n print(type(e).__name__, round(time.monotonic()-t,2))" % PORT)
    try:
        net.cut(1, 2)
        out = subprocess.run(net.exec_argv(1, [sys.executable, "-c", probe, net.ip(2)]), stdout=subprocess.PIPE,
                             timeout=20).stdout.decode().split()
        assert out[0] != "ok" and float(out[1]) < 0.5, out
        net.heal()
        net.mode = "drop"
        net.cut(1, 2)
        out = subprocess.run(net.exec_argv(1, [sys.executable, "-c", probe, net.ip(2)]), stdout=subprocess.PIPE,
                             timeout=20).stdout.decode().split()
        assert out[0] != "ok" and float(out[1]) >= 1.9, out
        net.heal()
        assert reach(net, 1) == {2: True}
    finally:
        for p in procs:
            p.kill()
            p.wait()


def test_teardown_removes_everything_and_kills_processes(make_net):
    net = make_net([1, 2])
    slot, names, bridge = net.slot, [net.ns(1), net.ns(2)], net.bridge
    p = subprocess.Popen(net.exec_argv(1, ["sleep", "300"]))
    net.teardown()
    assert p.wait(timeout=10) != 0
    assert not set(names) & set(fault_net.list_netns())
    links = fault_net.list_links()
    assert bridge not in links and not [l for l in links if l.startswith("sl%dv" % slot)]
    net.teardown()          # idempotent


def test_stale_leftovers_of_a_crashed_session_are_purged(tmp_path):
    """A child process takes a slot, sets up, starts a process in a namespace and dies with
    SIGKILL; the next session taking that slot must come up cleanly and kill the orphan."""
    helper = tmp_path / "crash.py"
    helper.write_text(
        "import sys, os, subprocess, signal\n"
        "sys.path.insert(0, %r)\n"
        "import fault_net\n"
        "n = fault_net.Net([1, 2]); n.setup()\n"
        "p = subprocess.Popen(n.exec_argv(1, ['sleep', '300']), stdout=subprocess.DEVNULL)\n"
        "print(n.slot, p.pid, flush=True)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n" % os.path.dirname(os.path.abspath(fault_net.__file__)))
    out = subprocess.run([sys.executable, str(helper)], stdout=subprocess.PIPE, timeout=60).stdout.decode().split()
    slot, orphan = int(out[0]), int(out[1])
    assert "sl%d-n1" % slot in fault_net.list_netns(), "the crashed session should have left its namespaces"
    net = fault_net.Net([1, 2, 3])
    try:
        net.setup()
        assert net.slot == slot, "the dead session's slot should be free again"
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and os.path.exists("/proc/%d" % orphan) and \
                open("/proc/%d/stat" % orphan).read().split()[2] != "Z":
            time.sleep(0.05)
        assert not os.path.exists("/proc/%d" % orphan) or open("/proc/%d/stat" % orphan).read().split()[2] == "Z", \
            "the orphan in the stale namespace was not killed"
        assert len([n for n in fault_net.list_netns() if n.startswith("sl%d-" % slot)]) == 3
    finally:
        net.teardown()
    assert not [n for n in fault_net.list_netns() if n.startswith("sl%d-" % slot)]


def test_two_sessions_get_different_slots(make_net):
    a = make_net([1])
    b = make_net([1])
    assert a.slot != b.slot and a.ip(1) != b.ip(1) and a.ns(1) != b.ns(1)

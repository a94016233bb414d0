"""Membership changes of a cluster (docs/CLUSTER.md): `sluice cluster add ID@HOST:PORT` and
`sluice cluster remove ID`, POST /v1/cluster/nodes and DELETE /v1/cluster/nodes/ID, and the
roles and voters GET /v1/cluster reports.

The first half needs no cluster: mock nodes (a small threaded HTTP server each) answer the
membership routes and GET /v1/cluster from a script, so the CLI's requests, retries, polling
and completion rules are checked exactly; and its usage errors.

The second half runs one real cluster for the whole module, on loopback, whose membership the
tests change in order: the 3 initial nodes refuse bad changes; node 4, started with --join, is
added with the CLI and serves a topic replicated 4 times; node 2 is removed with the CLI while
events are produced (every acknowledged event stays readable exactly once, in order, and the
replicas of node 2 move to node 4); node 4 is removed again; node 2's id is added back on a
fresh data directory and catches up. Every wait has a deadline; the module's finalizer stops
every node."""

import json
import os
import random
import re
import subprocess
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from sluice_testlib import (SLUICE_BIN, Cluster, Server, cluster_info, err_code, expect, free_port, lines,
                            read_all, retrying, wait_until)

CMD_TIMEOUT = 120            # seconds a CLI run may take before the test gives up on it
CLI_WAIT = 90                # --timeout given to `sluice cluster add/remove` against the real cluster
MAX_REQUEST_BYTES = 262144   # the real cluster's --max-request-bytes (body limit tests)


def sluice(*args, timeout=CMD_TIMEOUT):
    env = dict(os.environ)
    env.pop("SLUICE_URL", None)
    return subprocess.run([SLUICE_BIN] + [str(a) for a in args], capture_output=True, timeout=timeout, env=env)


def ok(r):
    assert r.returncode == 0, "exit %d\nstdout: %s\nstderr: %s" % (r.returncode, r.stdout[-3000:], r.stderr[-3000:])
    return r


def dead_url():
    return "http://127.0.0.1:%d" % free_port()     # nobody listens there


# ==== without a cluster: mock nodes ===========================================================

class Mock:
    """A threaded HTTP server whose answers come from script(method, path, body, n) (n: the
    number of requests it had before this one) -> (status, JSON-able body[, headers]). It
    records (monotonic time, method, path, body) of every request."""

    def __init__(self, script):
        self.script = script
        self.requests = []
        self.lock = threading.Lock()
        mock = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def answer(self, method):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0) or 0))
                with mock.lock:
                    n = len(mock.requests)
                    mock.requests.append((time.monotonic(), method, self.path, body))
                res = mock.script(method, self.path, body, n)
                status, payload = res[0], res[1]
                headers = res[2] if len(res) > 2 else {}
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                self.answer("GET")

            def do_POST(self):
                self.answer("POST")

            def do_DELETE(self):
                self.answer("DELETE")

        class Quiet(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):
                pass

        self.httpd = Quiet(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.url = "http://127.0.0.1:%d" % self.port
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def of(self, method, path=None):
        with self.lock:
            return [r for r in self.requests if r[1] == method and (path is None or r[2] == path)]

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def mocks():
    made = []

    def factory(script):
        m = Mock(script)
        made.append(m)
        return m
    yield factory
    for m in made:
        m.close()


def error(status, code, headers=None):
    return (status, {"error": {"code": code, "message": "mock: %s" % code}}, headers or {})


def unavailable(code="no_leader", status=503):
    return error(status, code, {"Retry-After": "1"})


def view(node_id, nodes, partitions=(), leader=1):
    """A GET /v1/cluster answer: nodes is [(id, http port or None, role, removed)]."""
    return {"node_id": node_id,
            "nodes": [{"id": i, "address": "127.0.0.1:%d" % (7000 + i),
                       "http": "127.0.0.1:%d" % port if port else None, "voter": role == "voter",
                       "reachable": True, "role": role, "removed": removed} for i, port, role, removed in nodes],
            "metadata": {"leader": leader, "term": 2, "commit_index": 10, "applied_index": 10,
                         "voters": [i for i, _, role, _ in nodes if role == "voter"],
                         "standbys": [i for i, _, role, _ in nodes if role == "standby"]},
            "partitions": list(partitions)}


def part(topic, p, leader, replicas, voters):
    return {"topic": topic, "partition": p, "leader": leader, "replicas": replicas, "voters": voters, "term": 2,
            "commit_index": 5, "applied_index": 5, "end_offset": 0, "catching_up": False, "lag": None}


# ---- sluice cluster add ----------------------------------------------------------------------

def test_add_posts_then_waits_for_a_role(mocks):
    gets = []

    def script(method, path, body, n):
        if method == "POST":
            return 200, {"id": 4, "address": "10.0.0.4:7000", "status": "added"}
        gets.append(n)
        role = [None, "spare", "spare", "voter"][min(len(gets) - 1, 3)]
        nodes = [(1, None, "voter", False), (2, None, "voter", False), (3, None, "voter", False)]
        if role:
            nodes.append((4, None, role, False))
        return 200, view(1, nodes)
    m = mocks(script)
    t0 = time.monotonic()
    r = ok(sluice("cluster", "add", "4@10.0.0.4:7000", "--server", m.url))
    assert time.monotonic() - t0 < 10
    assert r.stdout.decode() == "node 4 added (voter)\n"
    assert r.stderr == b""
    (post,) = m.of("POST")
    assert post[2] == "/v1/cluster/nodes"
    assert json.loads(post[3]) == {"id": 4, "address": "10.0.0.4:7000"}
    polls = m.of("GET", "/v1/cluster")
    assert len(polls) == 4
    gaps = [b[0] - a[0] for a, b in zip(polls, polls[1:])]
    assert all(0.15 < g < 2.0 for g in gaps), gaps          # every 200 ms


def test_add_standby_counts_as_added(mocks):
    def script(method, path, body, n):
        if method == "POST":
            return 200, {"id": 9, "address": "10.0.0.9:7000", "status": "added"}
        return 200, view(2, [(i, None, "voter", False) for i in range(1, 6)] + [(9, None, "standby", False)])
    m = mocks(script)
    r = ok(sluice("cluster", "add", "9@10.0.0.9:7000", "--server", m.url))
    assert r.stdout.decode() == "node 9 added (standby)\n"


def test_add_no_wait_does_not_poll(mocks):
    m = mocks(lambda method, path, body, n: (200, {"id": 4, "address": "10.0.0.4:7000", "status": "added"}))
    r = ok(sluice("cluster", "add", "--no-wait", "4@10.0.0.4:7000", "--server", m.url))
    assert r.stdout.decode() == "node 4 accepted (added)\n"
    assert len(m.of("POST")) == 1 and m.of("GET") == []


def test_add_retries_503_on_the_next_server_after_retry_after(mocks):
    a = mocks(lambda method, path, body, n: unavailable("no_leader"))

    def script(method, path, body, n):
        if method == "POST":
            return 200, {"id": 4, "address": "10.0.0.4:7000", "status": "added"}
        return 200, view(2, [(1, None, "voter", False), (4, None, "voter", False)])
    b = mocks(script)
    t0 = time.monotonic()
    r = ok(sluice("cluster", "add", "4@10.0.0.4:7000", "--server", "%s,%s" % (a.url, b.url)))
    took = time.monotonic() - t0
    assert r.stdout.decode() == "node 4 added (voter)\n"
    (pa,), (pb,) = a.of("POST"), b.of("POST")
    assert pa[3] == pb[3]
    assert pb[0] - pa[0] >= 0.9, "Retry-After: 1 was not honoured"
    assert took < 10
    err = r.stderr.decode()
    assert "no_leader" in err and "retrying" in err and b.url in err, err


def test_add_504_then_retried_on_the_same_single_server(mocks):
    def script(method, path, body, n):
        if method == "POST":
            return unavailable("timeout", 504) if n == 0 else (200, {"id": 4, "status": "added"})
        return 200, view(1, [(1, None, "voter", False), (4, None, "voter", False)])
    m = mocks(script)
    r = ok(sluice("cluster", "add", "4@10.0.0.4:7000", "--server", m.url))
    assert len(m.of("POST")) == 2
    assert r.stdout.decode() == "node 4 added (voter)\n"


@pytest.mark.parametrize("status,code", [(400, "invalid_node"), (409, "conflict"), (500, "internal")])
def test_add_refused_is_not_retried(mocks, status, code):
    m = mocks(lambda method, path, body, n: error(status, code))
    other = mocks(lambda method, path, body, n: (200, {"status": "added"}))
    r = sluice("cluster", "add", "4@10.0.0.4:7000", "--server", "%s,%s" % (m.url, other.url))
    assert r.returncode == 1, r
    assert r.stdout == b""
    assert len(m.of("POST")) == 1 and other.requests == []
    err = r.stderr.decode()
    assert "mock: %s" % code in err and "HTTP %d" % status in err, err


def test_add_times_out_saying_what_it_saw(mocks):
    def script(method, path, body, n):
        if method == "POST":
            return 200, {"id": 4, "address": "10.0.0.4:7000", "status": "added"}
        return 200, view(3, [(1, None, "voter", False), (4, None, "spare", False)])
    m = mocks(script)
    t0 = time.monotonic()
    r = sluice("cluster", "add", "4@10.0.0.4:7000", "--server", m.url, "--timeout", 1)
    took = time.monotonic() - t0
    assert r.returncode == 1, r
    assert 0.8 < took < 5, took
    err = r.stderr.decode()
    assert "not complete after 1 s" in err and "spare" in err and "node 3" in err, err
    assert r.stdout == b""


def test_add_gives_up_on_503_after_the_timeout(mocks):
    m = mocks(lambda method, path, body, n: unavailable("no_leader"))
    t0 = time.monotonic()
    r = sluice("cluster", "add", "4@10.0.0.4:7000", "--server", m.url, "--timeout", 2)
    assert r.returncode == 1
    assert time.monotonic() - t0 < 6
    assert 2 <= len(m.of("POST")) <= 3, m.requests       # Retry-After: 1 within 2 s
    err = r.stderr.decode()
    assert "still failing" in err and "no_leader" in err, err


def test_add_unreachable_fails_at_once():
    t0 = time.monotonic()
    r = sluice("cluster", "add", "4@10.0.0.4:7000", "--server", dead_url())
    assert r.returncode == 1 and b"cannot reach the server" in r.stderr, r.stderr
    r = sluice("cluster", "remove", "4", "--server", "%s,%s" % (dead_url(), dead_url()))
    assert r.returncode == 1 and b"cannot reach any of the 2 servers" in r.stderr, r.stderr
    assert time.monotonic() - t0 < 10


# ---- sluice cluster remove -------------------------------------------------------------------

def test_remove_waits_for_every_leader(mocks):
    """Node 1 is asked; its view drops node 4 from the metadata group after 2 polls. Node 2
    leads t/0, whose voters still hold 4 for 4 polls, then hold its replacement before 4
    leaves; node 3 leads t/1 (already done) and reports t/0 with a stale leader."""
    state = {"polls": 0}
    ports = {}

    def one(method, path, body, n):
        if method == "DELETE":
            return 200, {"id": 4, "status": "removing", "moved": 2}
        state["polls"] += 1
        role = "voter" if state["polls"] <= 2 else "none"
        return 200, view(1, [(1, ports[1], "voter", False), (2, ports[2], "voter", False),
                             (3, ports[3], "voter", False), (4, None, role, role == "none")])

    def two(method, path, body, n):
        k = len(m2.of("GET"))
        voters = [2, 3, 4] if k <= 2 else [1, 2, 3, 4] if k <= 4 else [1, 2, 3]
        return 200, view(2, [], [part("t", 0, 2, [2, 3, 1], voters)])

    def three(method, path, body, n):
        return 200, view(3, [], [part("t", 0, 4, [2, 3, 1], [2, 3, 4]), part("t", 1, 3, [3, 1, 2], [1, 2, 3])])
    m1, m2, m3 = mocks(one), mocks(two), mocks(three)
    ports.update({1: m1.port, 2: m2.port, 3: m3.port})
    r = ok(sluice("cluster", "remove", "4", "--server", m1.url))
    assert r.stdout.decode() == "node 4 removed (2 partition replicas moved)\n"
    assert [x[2] for x in m1.of("DELETE")] == ["/v1/cluster/nodes/4"]
    assert len(m2.of("GET")) >= 5, "finished before node 2's partition had its final voters"
    assert m3.of("GET"), "node 3 was not asked"


def test_remove_through_the_node_removed(mocks):
    """--server names only the node being removed: its answer lists the others, which are
    asked from then on (its own view does not count)."""
    ports = {}

    def four(method, path, body, n):
        if method == "DELETE":
            return 200, {"id": 4, "status": "removing", "moved": 0}
        return 200, view(4, [(1, ports[1], "voter", False), (4, ports[4], "voter", False)])

    def one(method, path, body, n):
        return 200, view(1, [(1, ports[1], "voter", False), (4, ports[4], "none", True)])
    m4, m1 = mocks(four), mocks(one)
    ports.update({1: m1.port, 4: m4.port})
    r = ok(sluice("cluster", "remove", "4", "--server", m4.url))
    assert r.stdout.decode() == "node 4 removed (0 partition replicas moved)\n"
    assert m1.of("GET", "/v1/cluster")


def test_remove_skips_unreachable_nodes(mocks):
    """Node 3 does not answer: the partition it is said to lead is not checked."""
    ports = {}

    def one(method, path, body, n):
        if method == "DELETE":
            return 200, {"id": 4, "status": "removing", "moved": 1}
        return 200, view(1, [(1, ports[1], "voter", False), (3, free_port(), "voter", False), (4, None, "none", True)],
                         [part("t", 0, 3, [3, 1], [3, 1, 4]), part("t", 1, 1, [1, 3], [1, 3])])
    m1 = mocks(one)
    ports[1] = m1.port
    r = ok(sluice("cluster", "remove", "4", "--server", m1.url))
    assert r.stdout.decode() == "node 4 removed (1 partition replica moved)\n"


def test_remove_times_out_naming_the_partition(mocks):
    ports = {}

    def one(method, path, body, n):
        if method == "DELETE":
            return 200, {"id": 4, "status": "removing", "moved": 1}
        return 200, view(1, [(1, ports[1], "voter", False), (4, None, "none", False)],
                         [part("clicks", 3, 1, [1, 2], [1, 4])])
    m1 = mocks(one)
    ports[1] = m1.port
    r = sluice("cluster", "remove", "4", "--server", m1.url, "--timeout", 1)
    assert r.returncode == 1
    err = r.stderr.decode()
    assert "not complete after 1 s" in err and "partition 3 of clicks" in err and "voters 1,4" in err, err


def test_remove_waits_for_a_partition_without_leader(mocks):
    ports = {}

    def one(method, path, body, n):
        if method == "DELETE":
            return 200, {"id": 4, "status": "removing", "moved": 1}
        return 200, view(1, [(1, ports[1], "voter", False), (4, None, "none", True)],
                         [part("t", 0, None, [1], [1])])
    m1 = mocks(one)
    ports[1] = m1.port
    r = sluice("cluster", "remove", "4", "--server", m1.url, "--timeout", 1)
    assert r.returncode == 1
    assert b"partition 0 of t has no leader" in r.stderr, r.stderr


def test_remove_whose_answer_was_lost(mocks):
    """The node asked to remove itself can miss its own removal and answer 504; the retry on
    the next server then gets 404 (no such node any more): the removal happened, and the CLI
    waits for it to complete like any other."""
    ports = {}

    def four(method, path, body, n):
        return unavailable("timeout", 504)

    def one(method, path, body, n):
        if method == "DELETE":
            return error(404, "not_found")
        return 200, view(1, [(1, ports[1], "voter", False)], [part("t", 0, 1, [1], [1])])
    m4, m1 = mocks(four), mocks(one)
    ports[1] = m1.port
    r = ok(sluice("cluster", "remove", "4", "--server", "%s,%s" % (m4.url, m1.url)))
    assert r.stdout.decode() == "node 4 removed (partition replicas moved: not known, the answer was lost)\n"
    assert b"the attempt whose answer was lost removed it" in r.stderr, r.stderr
    assert len(m4.of("DELETE")) == 1 and len(m1.of("DELETE")) == 1
    # without a lost answer first, 404 is a refusal
    r = sluice("cluster", "remove", "4", "--server", m1.url)
    assert r.returncode == 1 and b"not_found" in r.stderr


@pytest.mark.parametrize("status,code", [(404, "not_found"), (409, "conflict")])
def test_remove_refused(mocks, status, code):
    m = mocks(lambda method, path, body, n: error(status, code))
    r = sluice("cluster", "remove", "7", "--server", m.url)
    assert r.returncode == 1 and r.stdout == b""
    assert [x[2] for x in m.requests] == ["/v1/cluster/nodes/7"]
    assert ("mock: %s" % code).encode() in r.stderr


def test_remove_no_wait(mocks):
    m = mocks(lambda method, path, body, n: (200, {"id": 3, "status": "removing", "moved": 5}))
    r = ok(sluice("cluster", "remove", "3", "--no-wait", "--server", m.url))
    assert r.stdout.decode() == "node 3 accepted (removing, 5 partition replicas to move)\n"
    assert [x[1] for x in m.requests] == ["DELETE"]


# ---- usage and help ---------------------------------------------------------------------------

@pytest.mark.parametrize("args", [
    ["cluster", "add"], ["cluster", "add", "4"], ["cluster", "add", "@127.0.0.1:7004"],
    ["cluster", "add", "x@127.0.0.1:7004"], ["cluster", "add", "0@127.0.0.1:7004"],
    ["cluster", "add", "2147483648@127.0.0.1:7004"], ["cluster", "add", "-1@127.0.0.1:7004"],
    ["cluster", "add", "4@127.0.0.1"], ["cluster", "add", "4@:7004"], ["cluster", "add", "4@127.0.0.1:"],
    ["cluster", "add", "4@127.0.0.1:0"], ["cluster", "add", "4@127.0.0.1:65536"],
    ["cluster", "add", "4@127.0.0.1:x"], ["cluster", "add", "4@127.0.0.1:7004", "5@127.0.0.1:7005"],
    ["cluster", "add", "4@127.0.0.1:7004", "--timeout", "0"],
    ["cluster", "add", "4@127.0.0.1:7004", "--timeout", "soon"],
    ["cluster", "add", "4@127.0.0.1:7004", "--bogus"],
    ["cluster", "add", "4@127.0.0.1:7004", "--server", "http://a,"],
    ["cluster", "remove"], ["cluster", "remove", "x"], ["cluster", "remove", "0"], ["cluster", "remove", "-3"],
    ["cluster", "remove", "2147483648"], ["cluster", "remove", "3", "4"], ["cluster", "remove", "3@127.0.0.1:7003"],
    ["cluster", "remove", "3", "--timeout", "-1"], ["cluster", "remove", "3", "--server", ",http://a"],
])
def test_usage_errors_exit_2(args):
    r = sluice(*args, timeout=10)
    assert r.returncode == 2, r
    assert r.stdout == b""
    err = r.stderr.decode()
    assert "Try 'sluice cluster %s --help'." % args[1] in err, err


def test_usage_messages_name_the_problem():
    r = sluice("cluster", "add", timeout=10)
    assert b"missing ID@HOST:PORT" in r.stderr
    r = sluice("cluster", "add", "4", timeout=10)
    assert b"expected ID@HOST:PORT" in r.stderr
    r = sluice("cluster", "add", "4@127.0.0.1", timeout=10)
    assert b"HOST:PORT" in r.stderr and b"4@127.0.0.1" in r.stderr
    r = sluice("cluster", "remove", "x", timeout=10)
    assert b"node id" in r.stderr and b"'x'" in r.stderr


def test_help_lists_add_and_remove():
    for args in (["cluster", "--help"], ["help", "cluster"]):
        out = ok(sluice(*args, timeout=10)).stdout.decode()
        assert re.search(r"\badd ID@HOST:PORT\b", out) and re.search(r"\bremove ID\b", out), out
    out = ok(sluice("cluster", "add", "--help", timeout=10)).stdout.decode()
    for word in ("--join", "--timeout", "--no-wait", "--server", "voter", "standby"):
        assert word in out, (word, out)
    out = ok(sluice("cluster", "remove", "-h", timeout=10)).stdout.decode()
    for word in ("--timeout", "--no-wait", "voters", "replication factor"):
        assert word in out, (word, out)
    assert b"cluster status|add|remove" in ok(sluice("--help", timeout=10)).stdout


def test_status_table_shows_roles_and_voters(mocks):
    v = view(1, [(1, 8081, "voter", False), (2, 8082, "standby", False), (3, 8083, "none", True)],
             [part("t", 0, 1, [1, 2], [1, 2, 3])])
    del v["nodes"][2]["http"]
    m = mocks(lambda method, path, body, n: (200, v))
    lines = ok(sluice("cluster", "status", "--server", m.url, "--format", "table")).stdout.decode().splitlines()
    at = lines.index(next(ln for ln in lines if ln.startswith("NODE")))
    assert re.split(r"\s{2,}", lines[at].strip()) == ["NODE", "ADDRESS", "HTTP", "VOTER", "ROLE", "METADATA"]
    rows = [re.split(r"\s{2,}", ln.strip()) for ln in lines[at + 1:at + 4]]
    assert rows == [["1", "127.0.0.1:7001", "127.0.0.1:8081", "yes", "voter", "leader"],
                    ["2", "127.0.0.1:7002", "127.0.0.1:8082", "no", "standby", "-"],
                    ["3", "127.0.0.1:7003", "-", "no", "none, removed", "-"]]
    at = lines.index(next(ln for ln in lines if ln.startswith("TOPIC")))
    assert re.split(r"\s{2,}", lines[at].strip())[3:5] == ["REPLICAS", "VOTERS"]
    assert re.split(r"\s{2,}", lines[at + 1].strip())[3:5] == ["1,2", "1,2,3"]


# ==== a real cluster whose membership changes ===================================================

def membership_built():
    r = subprocess.run([SLUICE_BIN, "serve", "--help"], capture_output=True, timeout=10)
    return b"--join" in r.stdout + r.stderr


def new_pid():
    return random.randrange(1, 2 ** 63)


def ndjson(events):
    return "".join(json.dumps(e) + "\n" for e in events).encode()


def post_events(srv, topic, events, pid=None, seq=0):
    headers = {"Content-Type": "application/x-ndjson", "Sluice-Producer-Id": str(pid or new_pid()),
               "Sluice-Sequence": str(seq)}
    r = retrying(lambda: srv.post("/v1/topics/%s/events" % topic, data=ndjson(events), headers=headers),
                 "produce to %s via port %d" % (topic, srv.port))
    expect(r, 200)
    return [(o["partition"], o["offset"]) for o in r.json()["offsets"]]




class Members:
    """The module's cluster: the 3 nodes of a sluice_testlib.Cluster, then nodes started with
    --join, each a Server, by node id (a re-added id gets a new Server on a fresh data dir)."""

    def __init__(self, base_dir, flags):
        self.base_dir = str(base_dir)
        self.flags = list(flags)
        self.cluster = Cluster(base_dir, 3, flags=flags)
        self.internal = dict(self.cluster.internal)
        self.by_id = {i: self.cluster.node(i) for i in (1, 2, 3)}
        self.every = list(self.cluster.nodes)       # every Server ever made, to stop at the end
        self.joins = 0

    def start(self):
        self.cluster.start()
        return self

    def joiner(self, node_id):
        """A Server for node_id, started with --join on a fresh data dir; its internal port is
        the one node_id had before, else a new one."""
        self.joins += 1
        port = self.internal.setdefault(node_id, free_port())
        srv = Server(os.path.join(self.base_dir, "join%d-n%d" % (self.joins, node_id)),
                     flags=["--node-id", str(node_id), "--cluster", "%d@127.0.0.1:%d" % (node_id, port), "--join"]
                     + self.flags, log_dir=os.path.join(self.base_dir, "logs-join%d-n%d" % (self.joins, node_id)))
        self.every.append(srv)
        self.by_id[node_id] = srv
        return srv.start()

    def node(self, node_id):
        return self.by_id[node_id]

    def address(self, node_id):
        return "127.0.0.1:%d" % self.internal[node_id]

    def running(self):
        return {i: s for i, s in sorted(self.by_id.items()) if s.running}

    def urls(self, *ids):
        return ",".join(self.by_id[i].base for i in ids)

    def stop(self):
        problems = []
        for srv in self.every:
            if srv.proc is not None and srv.proc.poll() is not None:
                problems.append("node on port %d died with status %s\n%s" % (srv.port, srv.proc.returncode, srv.logs()))
            if srv.running:
                srv.stop()
            else:
                srv.kill9()
            problems.extend(srv.sanitizer_reports())
        return problems

    def logs(self):
        return "\n".join("=== node %d (port %d) ===\n%s" % (i, s.port, s.logs(2500)) for i, s in sorted(self.by_id.items()))


@pytest.fixture(scope="module")
def members(tmp_path_factory):
    assert membership_built(), "%s serve --help has no --join: membership changes are not built" % SLUICE_BIN
    m = Members(tmp_path_factory.mktemp("membership"), ["--max-request-bytes", str(MAX_REQUEST_BYTES)])
    try:
        m.start()
        wait_until(lambda: metadata_agreed(m, (1, 2, 3)), 20.0, "a metadata leader known on nodes 1-3", interval=0.1)
        yield m
    finally:
        problems = m.stop()
        if problems:
            pytest.fail("\n".join(problems))


def metadata_agreed(m, ids):
    """The metadata leader every node of ids names, once each lists every node of ids with its
    HTTP address; else None."""
    leaders = set()
    for i in ids:
        info = cluster_info(m.node(i))
        if info is None or info["metadata"].get("leader") is None:
            return None
        listed = {n["id"]: n for n in info["nodes"]}
        if any(j not in listed or listed[j].get("http") is None for j in ids):
            return None
        leaders.add(info["metadata"]["leader"])
    return leaders.pop() if len(leaders) == 1 else None


def node_entry(info, node_id):
    return next((n for n in info["nodes"] if n["id"] == node_id), None)


def is_out(info, node_id):
    """node_id is out of the metadata group in this view (not listed, or role none and removed)."""
    n = node_entry(info, node_id)
    return n is None or (n.get("role") == "none" and n.get("removed") is True)


def leader_views(m, topic, ids):
    """{partition: that partition's entry in its leader's GET /v1/cluster}, from the nodes ids."""
    out = {}
    for i in ids:
        info = cluster_info(m.node(i)) or {}
        for p in info.get("partitions", []):
            if p["topic"] == topic and p["leader"] == info.get("node_id"):
                out[p["partition"]] = p
    return out


def settled(m, topic, partitions, ids, want=None):
    """The leader views of every partition of topic once each has voters == replicas (as sets),
    of the size wanted, within ids; else None."""
    views = leader_views(m, topic, ids)
    if sorted(views) != list(range(partitions)):
        return None
    for p in views.values():
        if "voters" not in p or sorted(p["voters"]) != sorted(p["replicas"]) or not set(p["replicas"]) <= set(ids):
            return None
        if want is not None and len(p["replicas"]) != want:
            return None
    return views


def create_topic(srv, name, partitions, rf, key="/k"):
    r = retrying(lambda: srv.post("/v1/topics", json={"name": name, "partitions": partitions, "key": key,
                                                       "replication_factor": rf}),
                 "create %s via port %d" % (name, srv.port))
    expect(r, 201)


def drop_topics(srv):
    """Deletes every topic (a removal is refused while a topic's replication factor needs the node)."""
    for t in srv.get("/v1/topics").json()["topics"]:
        expect(retrying(lambda: srv.delete("/v1/topics/%s" % t["name"]), "delete %s" % t["name"]), 204)


def snapshot(m, node_id, topic=None):
    """What must not change when a change is refused: node_id's view of the nodes, metadata
    voters and standbys, and the replicas of topic's partitions."""
    info = cluster_info(m.node(node_id))
    return ({n["id"]: (n["address"], n.get("role"), n.get("removed")) for n in info["nodes"]},
            sorted(info["metadata"].get("voters", [])), sorted(info["metadata"].get("standbys", [])),
            sorted((p["partition"], sorted(p["replicas"])) for p in info["partitions"] if p["topic"] == topic))


# ---- the 3 initial nodes: refusals -------------------------------------------------------------

@pytest.mark.parametrize("body", [
    {"id": 4, "address": "not-an-address"}, {"id": 4, "address": "127.0.0.1"}, {"id": 4, "address": "127.0.0.1:"},
    {"id": 4, "address": "127.0.0.1:0"}, {"id": 4, "address": "127.0.0.1:65536"}, {"id": 4, "address": ":7004"},
    {"id": 4, "address": ""}, {"id": 4, "address": 7004}, {"id": 4}, {"address": "127.0.0.1:7004"},
    {"id": 0, "address": "127.0.0.1:7004"}, {"id": -1, "address": "127.0.0.1:7004"},
    {"id": 2 ** 31, "address": "127.0.0.1:7004"}, {"id": "4", "address": "127.0.0.1:7004"},
    {"id": 4.5, "address": "127.0.0.1:7004"}, {"id": 4, "address": "127.0.0.1:7004", "voter": True}, [4],
])
def test_add_invalid_node_400(members, body):
    m = members
    before = snapshot(m, 1)
    r = m.node(2).post("/v1/cluster/nodes", json=body)
    expect(r, 400, "invalid_node")
    assert snapshot(m, 1) == before


def test_add_body_limits(members):
    m = members
    expect(m.node(1).post("/v1/cluster/nodes", data=b"{nope", headers={"Content-Type": "application/json"}), 400,
           "invalid_json")
    expect(m.node(1).post("/v1/cluster/nodes", data=b"", headers={"Content-Type": "application/json"}), 400)
    big = b'{"id":4,"address":"127.0.0.1:7004","pad":"' + b"x" * MAX_REQUEST_BYTES + b'"}'
    r = requests.post(m.node(3).url("/v1/cluster/nodes"), data=big, headers={"Content-Type": "application/json"},
                      timeout=15)
    expect(r, 413, "request_too_large")
    assert node_entry(cluster_info(m.node(1)), 4) is None


def test_methods_of_the_membership_routes(members):
    m = members
    expect(m.node(1).get("/v1/cluster/nodes"), 405)
    expect(m.node(1).request("PUT", "/v1/cluster/nodes/2"), 405)
    expect(m.node(1).post("/v1/cluster/nodes/2", json={}), 405)


def test_add_known_id_with_another_address_409(members):
    m = members
    before = snapshot(m, 1)
    r = m.node(3).post("/v1/cluster/nodes", json={"id": 2, "address": "127.0.0.1:%d" % free_port()})
    expect(r, 409, "conflict")
    assert snapshot(m, 1) == before


@pytest.mark.parametrize("node_id", ["99", "4", "2147483647"])
def test_remove_unknown_404(members, node_id):
    m = members
    expect(m.node(1).delete("/v1/cluster/nodes/%s" % node_id), 404, "not_found")
    r = sluice("cluster", "remove", node_id, "--server", m.node(2).base, "--timeout", 10)
    assert r.returncode == 1 and b"not_found" in r.stderr and b"HTTP 404" in r.stderr, r


@pytest.mark.parametrize("node_id", ["0", "abc", "-1", "2147483648"])
def test_remove_bad_id_refused(members, node_id):
    r = members.node(1).delete("/v1/cluster/nodes/%s" % node_id)
    assert r.status_code in (400, 404), r.text
    assert err_code(r) in ("invalid_node", "not_found"), r.text


def test_remove_below_replication_factor_409_changes_nothing(members):
    """3 nodes and a topic replicated 3 times: removing any node would leave it short."""
    m = members
    name = "rf3-%s" % uuid.uuid4().hex[:8]
    create_topic(m.node(1), name, 2, 3)
    wait_until(lambda: settled(m, name, 2, (1, 2, 3), want=3), 20.0, "%s placed on 3 voters" % name, interval=0.1)
    before = {i: snapshot(m, i, name) for i in (1, 2, 3)}
    expect(m.node(1).delete("/v1/cluster/nodes/2"), 409, "conflict")
    r = sluice("cluster", "remove", "3", "--server", m.node(2).base, "--timeout", 10)
    assert r.returncode == 1 and b"conflict" in r.stderr and b"HTTP 409" in r.stderr, r
    # a later metadata command applied everywhere: a removal accepted before it would show
    barrier = "barrier-%s" % uuid.uuid4().hex[:8]
    create_topic(m.node(3), barrier, 1, 1)
    for i in (1, 2, 3):
        wait_until(lambda: m.node(i).get("/v1/topics/%s" % barrier).status_code == 200, 10.0,
                   "%s known on node %d" % (barrier, i))
        assert snapshot(m, i, name) == before[i]
    drop_topics(m.node(1))


# ---- node 4 joins -----------------------------------------------------------------------------

def test_add_a_fourth_node_with_the_cli(members):
    m = members
    before = wait_until(lambda: metadata_agreed(m, (1, 2, 3)), 20.0, "metadata leader on nodes 1-3")
    assert before
    n4 = m.joiner(4)
    # not a member yet: it answers /healthz (started) but not cluster operations
    r = n4.post("/v1/topics", json={"name": "early", "partitions": 1})
    expect(r, 503, "no_leader")
    assert r.headers.get("Retry-After") is not None

    r = ok(sluice("cluster", "add", "4@%s" % m.address(4), "--server", m.urls(1, 2), "--timeout", CLI_WAIT))
    assert r.stdout.decode() == "node 4 added (voter)\n", r.stdout

    def member_everywhere():
        for i in (1, 2, 3, 4):
            info = cluster_info(m.node(i))
            if info is None or len(info["nodes"]) != 4:
                return None
            n = node_entry(info, 4)
            if n is None or n.get("role") != "voter" or n.get("removed") is not False or n.get("http") is None:
                return None
            if sorted(info["metadata"].get("voters", [])) != [1, 2, 3, 4] or info["metadata"].get("leader") is None:
                return None
        return True
    wait_until(member_everywhere, 20.0, "node 4 a voter of the metadata group on every node", interval=0.1)
    info = cluster_info(n4)
    assert info["node_id"] == 4
    assert sorted(n["id"] for n in info["nodes"]) == [1, 2, 3, 4]
    assert node_entry(info, 4)["address"] == m.address(4)
    assert node_entry(info, 4)["http"] == "127.0.0.1:%d" % n4.port
    assert info["metadata"].get("standbys") == []

    # a topic replicated 4 times, created through node 4, has a replica on it
    name = "rf4-%s" % uuid.uuid4().hex[:8]
    create_topic(n4, name, 2, 4)
    views = wait_until(lambda: settled(m, name, 2, (1, 2, 3, 4), want=4), 30.0, "%s on 4 voters" % name,
                       interval=0.1)
    for p in views.values():
        assert sorted(p["replicas"]) == [1, 2, 3, 4], p
    mine = [p for p in cluster_info(n4)["partitions"] if p["topic"] == name]
    assert sorted(p["partition"] for p in mine) == [0, 1]

    events = [{"k": "k%d" % i, "i": i} for i in range(40)]
    offs = post_events(n4, name, events)
    assert len(offs) == 40
    by_part = {}
    for (p, o), e in zip(offs, events):
        by_part.setdefault(p, []).append((o, e))
    for p in (0, 1):
        got = read_all(n4, name, p)
        assert [(r["offset"], r["value"]) for r in got] == sorted(by_part.get(p, [])), p
        assert lines(read_all(m.node(1), name, p)) == lines(got)
        wait_until(lambda: lines(read_all(n4, name, p, replica="any")) == lines(got), 15.0,
                   "node 4's own replica of partition %d" % p)

    # removing any node now would leave 3 nodes for a topic replicated 4 times
    before = snapshot(m, 4, name)
    expect(m.node(4).delete("/v1/cluster/nodes/1"), 409, "conflict")
    assert snapshot(m, 4, name) == before
    m.rf4_topic = name


# ---- node 2 leaves under load -----------------------------------------------------------------

class Load:
    """Producer threads, each an idempotent producer (its own id, one request at a time, a
    sequence one higher per request) sending 1-4 keyed events per request to the nodes in
    turn; a 503 (no_leader, unavailable, removed), a 504 or a connection failure is retried with
    the same body and sequence on the next node. Records where each event was acknowledged."""

    def __init__(self, servers, topic, producers=2):
        self.servers = list(servers)
        self.topic = topic
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.acked = {}           # event id -> (partition, offset)
        self.order = {}           # producer -> [event id] in the order acknowledged
        self.failures = []
        self.attempts = {}        # outcome -> count
        self.threads = [threading.Thread(target=self.run, args=(k,), daemon=True) for k in range(producers)]

    def start(self):
        for t in self.threads:
            t.start()
        return self

    def count(self):
        with self.lock:
            return len(self.acked)

    def note(self, what):
        with self.lock:
            self.attempts[what] = self.attempts.get(what, 0) + 1

    def run(self, k):
        pid, seq, n = new_pid(), 0, 0
        rnd = random.Random(pid)
        sess = requests.Session()
        node = k
        while not self.stop.is_set():
            events = []
            for _ in range(rnd.randint(1, 4)):
                events.append({"id": "p%d-%05d" % (k, n), "k": "k%d" % rnd.randrange(16)})
                n += 1
            headers = {"Content-Type": "application/x-ndjson", "Sluice-Producer-Id": str(pid),
                       "Sluice-Sequence": str(seq)}
            end = time.monotonic() + 60
            while True:
                srv = self.servers[node % len(self.servers)]
                try:
                    r = sess.post(srv.url("/v1/topics/%s/events" % self.topic), data=ndjson(events), headers=headers,
                                  timeout=10)
                except requests.RequestException as e:
                    self.note("exception")
                    r, why = None, str(e)[:200]
                if r is not None and r.status_code == 200:
                    offs = [(o["partition"], o["offset"]) for o in r.json()["offsets"]]
                    with self.lock:
                        for e, po in zip(events, offs):
                            self.acked[e["id"]] = po
                            self.order.setdefault(k, []).append(e["id"])
                    self.note("200")
                    break
                if r is not None:
                    code = err_code(r)
                    self.note("%d %s" % (r.status_code, code))
                    why = "%d %s" % (r.status_code, r.text[:200])
                    if (r.status_code, code) not in ((503, "no_leader"), (503, "unavailable"), (503, "removed"),
                                                     (504, "timeout")):
                        with self.lock:
                            self.failures.append("producer %d seq %d via port %d: %s" % (k, seq, srv.port, why))
                        return
                if time.monotonic() > end:
                    with self.lock:
                        self.failures.append("producer %d seq %d not acknowledged in 60 s: %s" % (k, seq, why))
                    return
                sess.close()
                sess = requests.Session()
                node += 1
                time.sleep(0.05)
            seq += 1
            node += 1
            time.sleep(0.01)

    def finish(self):
        self.stop.set()
        for t in self.threads:
            t.join(timeout=90)
        assert not any(t.is_alive() for t in self.threads), "producer threads did not stop"


def check_log(m, topic, partitions, load, readers, replicas_of):
    """Every event load acknowledged is in topic exactly once, at the offset it was acknowledged
    with, each producer's events in the order they were acknowledged; every node of readers
    serves the same log, and every replica (replicas_of[p]) holds it (replica=any)."""
    logs = {}
    for p in range(partitions):
        recs = read_all(m.node(readers[0]), topic, p)
        assert [r["offset"] for r in recs] == list(range(len(recs))), "gap in partition %d" % p
        logs[p] = recs
        for i in readers[1:]:
            assert lines(read_all(m.node(i), topic, p)) == lines(recs), "node %d serves another log of %d" % (i, p)
        for i in replicas_of[p]:
            wait_until(lambda: lines(read_all(m.node(i), topic, p, replica="any")) == lines(recs), 30.0,
                       "node %d's replica of partition %d to match its leader" % (i, p))
    where = {}
    for p, recs in logs.items():
        for r in recs:
            eid = r["value"]["id"]
            assert eid not in where, "event %s at %s and %s" % (eid, where[eid], (p, r["offset"]))
            where[eid] = (p, r["offset"])
    for eid, po in load.acked.items():
        assert where.get(eid) == po, "event %s acknowledged at %s, found at %s" % (eid, po, where.get(eid))
    for k, ids in load.order.items():
        last = {}
        for eid in ids:
            p, o = where[eid]
            assert o > last.get(p, -1), "producer %d's events out of order in partition %d" % (k, p)
            last[p] = o
    return logs


def test_remove_a_node_under_load(members):
    m = members
    assert sorted(m.running()) == [1, 2, 3, 4], "needs test_add_a_fourth_node_with_the_cli"
    drop_topics(m.node(1))
    name = "load-%s" % uuid.uuid4().hex[:8]
    create_topic(m.node(3), name, 4, 3)
    before = wait_until(lambda: settled(m, name, 4, (1, 2, 3, 4), want=3), 30.0, "%s on 3 voters each" % name,
                        interval=0.1)
    had2 = {p: sorted(v["replicas"]) for p, v in before.items() if 2 in v["replicas"]}
    assert had2, "no replica on node 2 to move: %r" % before
    # node 2 leads a partition (its preferred one, once leaders are balanced): it must hand it over
    wait_until(lambda: 2 in [v["leader"] for v in leader_views(m, name, (1, 2, 3, 4)).values()], 20.0,
               "node 2 to lead a partition of %s" % name, interval=0.1)

    load = Load([m.node(i) for i in (1, 2, 3, 4)], name).start()
    try:
        wait_until(lambda: load.count() >= 50 or load.failures, 20.0, "50 events acknowledged before the removal")
        t0 = time.monotonic()
        r = ok(sluice("cluster", "remove", "2", "--server", m.urls(1, 3), "--timeout", CLI_WAIT))
        took = time.monotonic() - t0
        out = r.stdout.decode()
        got = re.match(r"^node 2 removed \((\d+) partition replicas? moved\)\n$", out)
        assert got, out
        assert int(got.group(1)) == len(had2), (out, had2)
        acked_at_removal = load.count()
        wait_until(lambda: load.count() >= acked_at_removal + 50 or load.failures, 20.0,
                   "50 more events acknowledged after the removal")
    finally:
        load.finish()
    assert not load.failures, "%s\n%s\n%s" % (load.failures, load.attempts, m.logs())
    print("removal took %.1fs under load; attempts: %s" % (took, load.attempts))

    # what the CLI waited for: every partition's voters, on its leader, are its replicas, without 2
    views = wait_until(lambda: settled(m, name, 4, (1, 3, 4), want=3), 10.0, "%s settled on 1, 3, 4" % name,
                       interval=0.1)
    for p, v in views.items():
        assert 2 not in v["voters"] and 2 not in v["replicas"], v
        assert sorted(v["replicas"]) == [1, 3, 4], v
        if p in had2:
            replacement = ({1, 3, 4} - set(had2[p])).pop()
            assert replacement in v["replicas"], (p, had2[p], v)
        else:
            assert sorted(v["replicas"]) == sorted(before[p]["replicas"]), (p, before[p], v)
    for i in (1, 3, 4):
        info = wait_until(lambda: (lambda x: x if x and is_out(x, 2) else None)(cluster_info(m.node(i))), 10.0,
                          "node 2 out of the metadata on node %d" % i, interval=0.1)
        assert 2 not in info["metadata"].get("voters", []) and 2 not in info["metadata"].get("standbys", [])
        assert all(2 not in p["replicas"] for p in info["partitions"]), info["partitions"]

    # the removed node, still running, refuses cluster operations once it has learnt of its
    # removal (it may forward a request or two before: those are acknowledged events too)
    probe, pid, t0 = {"id": "via-removed-node", "k": "k0"}, new_pid(), time.monotonic()

    def refused():
        r = m.node(2).post("/v1/topics/%s/events" % name, data=ndjson([probe]),
                           headers={"Content-Type": "application/x-ndjson", "Sluice-Producer-Id": str(pid),
                                    "Sluice-Sequence": "0"})
        if r.status_code == 200:
            (o,) = r.json()["offsets"]
            load.acked[probe["id"]] = (o["partition"], o["offset"])
            return None
        if (r.status_code, err_code(r)) in ((503, "no_leader"), (503, "unavailable"), (504, "timeout")):
            return None
        expect(r, 503, "removed")
        return True
    wait_until(refused, 15.0, "node 2 to answer 503 removed", interval=0.1)
    print("node 2 answered 503 removed %.1fs after the CLI returned" % (time.monotonic() - t0))

    logs = check_log(m, name, 4, load, [1, 3, 4], {p: [1, 3, 4] for p in range(4)})
    assert sum(len(v) for v in logs.values()) >= len(load.acked) >= 100
    rc, clean = m.node(2).stop()
    assert clean, "node 2 did not stop on SIGTERM"
    r = post_events(m.node(1), name, [{"id": "after-stop", "k": "k1"}])
    assert len(r) == 1


# ---- node 4 leaves again, node 2's id comes back -------------------------------------------------

def test_remove_the_added_node_and_add_a_removed_id_back(members):
    m = members
    assert sorted(m.running()) == [1, 3, 4], "needs test_remove_a_node_under_load"
    drop_topics(m.node(1))
    name = "rf2-%s" % uuid.uuid4().hex[:8]
    create_topic(m.node(1), name, 3, 2)
    wait_until(lambda: settled(m, name, 3, (1, 3, 4), want=2), 30.0, "%s on 2 voters each" % name, interval=0.1)
    events = [{"id": "e%03d" % i, "k": "k%d" % (i % 7)} for i in range(60)]
    offs = dict(zip((e["id"] for e in events), post_events(m.node(4), name, events)))
    wait_until(lambda: 4 in [v["leader"] for v in leader_views(m, name, (1, 3, 4)).values()], 20.0,
               "node 4 to lead a partition of %s" % name, interval=0.1)

    r = ok(sluice("cluster", "remove", "4", "--server", m.urls(4, 1), "--timeout", CLI_WAIT))     # asks node 4 first
    assert re.match(r"^node 4 removed \(\d+ partition replicas? moved\)\n$", r.stdout.decode()), (
        "node 4 did not answer the DELETE of itself (the CLI got its answer from node 1): %r %r"
        % (r.stdout, r.stderr))
    views = wait_until(lambda: settled(m, name, 3, (1, 3), want=2), 10.0, "%s on nodes 1 and 3" % name, interval=0.1)
    assert all(sorted(v["replicas"]) == [1, 3] for v in views.values()), views
    for p in range(3):
        recs = read_all(m.node(3), name, p)
        assert all(offs[r["value"]["id"]] == (p, r["offset"]) for r in recs)
        for i in (1, 3):
            wait_until(lambda: lines(read_all(m.node(i), name, p, replica="any")) == lines(recs), 20.0,
                       "node %d's replica of partition %d" % (i, p))
    assert sum(len(read_all(m.node(1), name, p)) for p in range(3)) == 60
    wait_until(lambda: m.node(4).post("/v1/topics", json={"name": "nope", "partitions": 1}).status_code == 503 and
               err_code(m.node(4).post("/v1/topics", json={"name": "nope", "partitions": 1})) == "removed", 15.0,
               "node 4 to answer 503 removed", interval=0.1)
    m.node(4).stop()

    # node 2's id again, on a fresh data directory, at its old internal address
    n2 = m.joiner(2)
    r = ok(sluice("cluster", "add", "2@%s" % m.address(2), "--server", m.urls(3), "--timeout", CLI_WAIT))
    assert r.stdout.decode() == "node 2 added (voter)\n", r.stdout

    def caught_up():
        lead = cluster_info(m.node(1))
        mine = cluster_info(n2)
        if not lead or not mine or node_entry(mine, 2) is None or node_entry(mine, 2).get("role") != "voter":
            return None
        if mine["metadata"]["applied_index"] < lead["metadata"]["commit_index"]:
            return None
        return mine if n2.get("/v1/topics/%s" % name).status_code == 200 else None
    info = wait_until(caught_up, 20.0, "node 2's metadata caught up", interval=0.1)
    assert node_entry(info, 2)["removed"] is False
    assert sorted(info["metadata"]["voters"]) == [1, 2, 3], info["metadata"]
    assert sum(len(read_all(n2, name, p)) for p in range(3)) == 60      # served through node 2

    fresh = "back-%s" % uuid.uuid4().hex[:8]
    create_topic(n2, fresh, 2, 3)
    wait_until(lambda: settled(m, fresh, 2, (1, 2, 3), want=3), 30.0, "%s on 1, 2, 3" % fresh, interval=0.1)
    post_events(n2, fresh, [{"id": "f%d" % i, "k": "k%d" % i} for i in range(20)])
    for p in (0, 1):
        recs = read_all(m.node(1), fresh, p)
        wait_until(lambda: lines(read_all(n2, fresh, p, replica="any")) == lines(recs), 20.0,
                   "node 2's replica of %s/%d" % (fresh, p))

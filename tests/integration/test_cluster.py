"""Cluster mode (docs/CLUSTER.md) and its two CLI parts, `sluice cluster status` and the
idempotent, failing-over `sluice produce --server URL,URL...`.

The first half needs no cluster: mock nodes (a small threaded HTTP server) answer GET
/v1/cluster with a canned view, and POST /v1/topics/T/events the way a cluster does (503, 504,
slow or dropped answers on demand; a retry with the same producer id and sequence answered with
the offsets of the original append), so the CLI's formatting, headers, retries, backoff and
give-up rules are checked exactly, request by request.

The second half starts a real 3-node cluster on loopback (module scope: one cluster for all its
tests, each test on its own topic) and checks the contract: topics replicated to every node,
any node accepting produce and serving reads (from the leader, or with &replica=any from its own
replica), idempotent produce and its 409, replication_factor validation, GET /v1/cluster's
shape, the CLI against it, and kill -9 of a partition leader while the CLI produces through the
survivors: every acknowledged event present exactly once on every replica after the restart.
Every wait has a deadline; the nodes are stopped by the module's finalizer."""

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

from sluice_testlib import (SLUICE_BIN, Cluster, cluster_info, create_topic, expect, free_port, kafka_partition,
                            lines, partition_leaders, read_all, retrying, wait_cluster_leaders, wait_until)

CMD_TIMEOUT = 60
NODES = 3


def sluice(*args, input=None, timeout=CMD_TIMEOUT):
    env = dict(os.environ)
    env.pop("SLUICE_URL", None)
    return subprocess.run([SLUICE_BIN] + [str(a) for a in args], input=input, capture_output=True,
                          timeout=timeout, env=env)


def ok(r):
    assert r.returncode == 0, "exit %d\nstdout: %s\nstderr: %s" % (r.returncode, r.stdout[-3000:],
                                                                  r.stderr[-3000:])
    return r


def dead_url():
    return "http://127.0.0.1:%d" % free_port()     # nobody listens there


def ndjson(events):
    return "".join(json.dumps(e) + "\n" for e in events).encode()


# ==== without a cluster: mock nodes ===========================================================

class Store:
    """What a cluster remembers between the mock nodes that share it: appended events (one
    partition) and, per producer id, the last sequence and the offsets it was answered with."""

    def __init__(self):
        self.lock = threading.Lock()
        self.events = []
        self.last = {}

    def append(self, pid, seq, lines):
        with self.lock:
            if pid is not None and pid in self.last:
                last_seq, offsets = self.last[pid]
                if seq == last_seq:
                    return 200, {"offsets": offsets}
                if seq < last_seq:
                    return 409, {"error": {"code": "sequence_out_of_order", "message": "mock"}}
            base = len(self.events)
            self.events.extend(lines)
            offsets = [{"partition": 0, "offset": base + i} for i in range(len(lines))]
            if pid is not None:
                self.last[pid] = (seq, offsets)
            return 200, {"offsets": offsets}


class MockNode:
    """A threaded HTTP server speaking the produce and /v1/cluster contract. plan(n) says how to
    answer the n-th produce request (0-based): None (append to the store), ("status", code,
    body), ("sleep", seconds) (then append) or ("drop",) (close without answering)."""

    def __init__(self, store=None, plan=None, cluster=None):
        self.store = store or Store()
        self.plan = plan or (lambda n: None)
        self.cluster = cluster          # (status, body bytes) for GET /v1/cluster
        self.requests = []              # (method, path, headers with lower-case names, body)
        mock = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def reply(self, status, body):
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                mock.requests.append(("GET", self.path, {k.lower(): v for k, v in self.headers.items()}, b""))
                if self.path == "/v1/cluster" and mock.cluster:
                    return self.reply(*mock.cluster)
                self.reply(404, {"error": {"code": "not_found", "message": "no such route"}})

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                headers = {k.lower(): v for k, v in self.headers.items()}
                n = len(mock.requests)
                mock.requests.append(("POST", self.path, headers, body))
                action = mock.plan(n)
                if action and action[0] == "status":
                    return self.reply(action[1], action[2])
                if action and action[0] == "drop":
                    self.close_connection = True
                    return
                if action and action[0] == "sleep":
                    time.sleep(action[1])
                pid = headers.get("sluice-producer-id")
                seq = headers.get("sluice-sequence")
                lines = [ln for ln in body.split(b"\n") if ln.strip()]
                self.reply(*mock.store.append(int(pid) if pid else None, int(seq) if seq else None, lines))

        class Quiet(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):
                pass                    # a client that timed out and went away: expected here

        self.httpd = Quiet(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d" % self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def posts(self):
        return [r for r in self.requests if r[0] == "POST"]

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def mocks():
    made = []

    def factory(**kw):
        m = MockNode(**kw)
        made.append(m)
        return m
    yield factory
    for m in made:
        m.close()


def unavailable(code="no_leader", status=503):
    return ("status", status, {"error": {"code": code, "message": "mock: %s" % code}})


# ---- sluice cluster status -------------------------------------------------------------------

CANNED = {
    "node_id": 2,
    "nodes": [{"id": 1, "address": "127.0.0.1:7001", "http": "127.0.0.1:8081", "voter": True},
              {"id": 2, "address": "127.0.0.1:7002", "http": "127.0.0.1:8082", "voter": True},
              {"id": 3, "address": "127.0.0.1:7003", "http": "127.0.0.1:8083", "voter": False}],
    "metadata": {"leader": 1, "term": 3, "commit_index": 42, "applied_index": 41},
    "partitions": [
        {"topic": "clicks", "partition": 0, "leader": 2, "replicas": [1, 2, 3], "term": 2,
         "commit_index": 100, "applied_index": 100, "lag": {"1": 0, "3": 7}},
        {"topic": "clicks", "partition": 1, "leader": None, "replicas": [1, 2, 3], "term": 5,
         "commit_index": 12, "applied_index": 11, "lag": None},
        {"topic": "orders-with-a-longer-name", "partition": 10, "leader": 3, "replicas": [2, 3],
         "term": 1, "commit_index": 0, "applied_index": 0, "lag": None}],
    "extra": {"empty_list": [], "empty_object": {}, "text": "a \"quoted\", [bracketed]: {x}"},
}


def table_rows(lines, header):
    """The rows of the table whose header line starts with header, split on 2+ spaces, and
    the header line itself."""
    start = next(i for i, ln in enumerate(lines) if ln.startswith(header))
    rows = []
    for ln in lines[start + 1:]:
        if not ln.strip():
            break
        rows.append(ln)
    return lines[start], rows


def test_status_table(mocks):
    m = mocks(cluster=(200, json.dumps(CANNED).encode()))
    r = ok(sluice("cluster", "status", "--server", m.url, "--format", "table"))
    lines = r.stdout.decode().splitlines()
    assert lines[0] == "node 2 answered; metadata leader 1, term 3, commit index 42, applied 41"

    head, rows = table_rows(lines, "NODE")
    assert re.split(r"\s{2,}", head.strip()) == ["NODE", "ADDRESS", "HTTP", "VOTER", "ROLE", "METADATA"]
    cells = [re.split(r"\s{2,}", row.strip()) for row in rows]
    assert cells == [["1", "127.0.0.1:7001", "127.0.0.1:8081", "yes", "-", "leader"],     # no role given
                     ["2", "127.0.0.1:7002", "127.0.0.1:8082", "yes", "-", "-"],
                     ["3", "127.0.0.1:7003", "127.0.0.1:8083", "no", "-", "-"]]
    for col in ("ADDRESS", "HTTP", "VOTER", "ROLE", "METADATA"):     # aligned under the header
        at = head.index(col)
        assert all(row[at - 2:at] == "  " and row[at] != " " for row in rows), (col, rows)

    head, rows = table_rows(lines, "TOPIC")
    assert re.split(r"\s{2,}", head.strip()) == ["TOPIC", "PARTITION", "LEADER", "REPLICAS", "VOTERS", "TERM",
                                                 "COMMIT", "APPLIED", "LAG"]
    cells = [re.split(r"\s{2,}", row.strip()) for row in rows]
    assert cells == [["clicks", "0", "2", "1,2,3", "-", "2", "100", "100", "1:0 3:7"],     # no voters given
                     ["clicks", "1", "-", "1,2,3", "-", "5", "12", "11", "-"],
                     ["orders-with-a-longer-name", "10", "3", "2,3", "-", "1", "0", "0", "-"]]
    for col in ("PARTITION", "LEADER", "TERM", "COMMIT", "APPLIED"):   # numbers: right-aligned
        end = head.index(col) + len(col)
        assert all(row[end - 1] != " " and (len(row) == end or row[end] == " ") for row in rows), (col, rows)
    assert r.stderr == b""


def test_status_json_is_the_answer_indented(mocks):
    m = mocks(cluster=(200, json.dumps(CANNED, separators=(",", ":")).encode()))
    want = json.dumps(CANNED, indent=2) + "\n"
    r = ok(sluice("cluster", "status", "--server", m.url, "--format", "json"))
    assert r.stdout.decode() == want
    r = ok(sluice("--server", m.url, "cluster", "status"))     # not a terminal: JSON
    assert r.stdout.decode() == want


def test_status_without_partitions(mocks):
    view = dict(CANNED, partitions=[], metadata={"leader": None, "term": 0, "commit_index": 0,
                                                 "applied_index": 0})
    m = mocks(cluster=(200, json.dumps(view).encode()))
    r = ok(sluice("cluster", "status", "--server", m.url, "--format", "table"))
    out = r.stdout.decode()
    assert out.startswith("node 2 answered; metadata leader none,")
    assert "no partition replicas on node 2" in out
    assert "TOPIC" not in out and "leader" not in out.split("\n", 1)[1]


@pytest.mark.parametrize("status,code", [(503, "no_leader"), (500, "internal"), (404, "not_found")])
def test_status_refused_exits_1_with_the_message(mocks, status, code):
    m = mocks(cluster=(status, json.dumps({"error": {"code": code, "message": "mock says %s" % code}}).encode()))
    if status == 404:
        m.cluster = None                # the route itself is missing: a server without cluster mode
    r = sluice("cluster", "status", "--server", m.url)
    assert r.returncode == 1, r
    assert r.stdout == b""
    err = r.stderr.decode()
    assert code in err and "HTTP %d" % status in err, err
    if status == 404:
        assert "no such route" in err and "--cluster" in err, err
    else:
        assert "mock says %s" % code in err, err


def test_status_unreachable_and_server_lists(mocks):
    dead = dead_url()
    r = sluice("cluster", "status", "--server", dead)
    assert r.returncode == 1 and b"cannot reach the server" in r.stderr and dead.encode() in r.stderr
    m = mocks(cluster=(200, json.dumps(CANNED).encode()))
    r = ok(sluice("cluster", "status", "--server", "%s,%s" % (dead, m.url), "--format", "json"))
    assert json.loads(r.stdout) == CANNED
    r = sluice("cluster", "status", "--server", m.url, "--format", "table")
    ok(r)
    bad = mocks(cluster=(200, b"this is not json"))
    r = sluice("cluster", "status", "--server", bad.url)
    assert r.returncode == 1 and b"not JSON" in r.stderr


@pytest.mark.parametrize("args", [["cluster"], ["cluster", "bogus"], ["cluster", "status", "extra"],
                                  ["cluster", "status", "--format", "xml"],
                                  ["cluster", "status", "--server", "http://a,,http://b"],
                                  ["produce", "t", "--server", "http://a,"],
                                  ["produce", "t", "--producer-id", "0"],
                                  ["produce", "t", "--retry-ms", "-1"],
                                  ["produce", "t", "--timeout-ms", "0"]])
def test_usage_errors_exit_2(args):
    r = sluice(*args)
    assert r.returncode == 2, r
    assert r.stdout == b""


def test_help():
    for args in (["cluster", "--help"], ["cluster", "status", "--help"], ["help", "cluster"]):
        r = ok(sluice(*args))
        assert b"status" in r.stdout
    r = ok(sluice("--help"))
    assert b"cluster status" in r.stdout
    r = ok(sluice("produce", "--help"))
    for flag in (b"--producer-id", b"--retry-ms", b"--timeout-ms", b"URL[,URL...]"):
        assert flag in r.stdout


# ---- sluice produce: headers, retries, fail-over ---------------------------------------------

def headers_of(posts):
    return [(int(h["sluice-producer-id"]), int(h["sluice-sequence"])) for _, _, h, _ in posts]


def test_produce_headers_one_producer_per_slot(mocks, tmp_path):
    m = mocks()
    f = tmp_path / "in.ndjson"
    f.write_bytes(ndjson({"id": i} for i in range(10)))
    ok(sluice("produce", "t", f, "--server", m.url, "--batch", 2, "--in-flight", 1))
    ids = headers_of(m.posts())
    assert len(ids) == 5
    pid = ids[0][0]
    assert 1 <= pid < 2 ** 63
    assert ids == [(pid, s) for s in range(5)]

    m2 = mocks()
    ok(sluice("produce", "t", f, "--server", m2.url, "--batch", 1, "--in-flight", 1))
    assert headers_of(m2.posts())[0][0] != pid, "the producer id is random"

    m3 = mocks()
    r = ok(sluice("produce", "t", f, "--server", m3.url, "--batch", 1, "--in-flight", 3,
                  "--producer-id", 2 ** 63 - 2))
    assert r.stdout.decode().splitlines()[0].startswith("produced 10 events")
    per = {}
    for pid, seq in headers_of(m3.posts()):
        per.setdefault(pid, []).append(seq)
    assert set(per) <= {2 ** 63 - 2, 2 ** 63 - 1, 1}, per       # N, N+1, wrapped to 1
    assert 2 ** 63 - 2 in per
    for pid, seqs in per.items():
        assert seqs == list(range(len(seqs))), (pid, seqs)      # one request at a time, +1 each
    assert sum(len(s) for s in per.values()) == 10


def test_produce_retries_503_on_the_next_server_with_the_same_request(mocks, tmp_path):
    store = Store()
    a = mocks(store=store, plan=lambda n: unavailable("no_leader"))
    b = mocks(store=store)
    f = tmp_path / "in.ndjson"
    f.write_bytes(ndjson({"id": i} for i in range(5)))
    t0 = time.monotonic()
    r = ok(sluice("produce", "t", f, "--server", "%s,%s" % (a.url, b.url), "--producer-id", 7))
    assert time.monotonic() - t0 < 10
    assert r.stdout.decode().splitlines()[1:] == ["partition 0: offsets 0-4"]
    (pa,), (pb,) = a.posts(), b.posts()
    assert pa[3] == pb[3] and pa[1] == pb[1] == "/v1/topics/t/events"
    assert headers_of([pa]) == headers_of([pb]) == [(7, 0)]
    assert len(store.events) == 5
    err = r.stderr.decode()
    assert "no_leader" in err and "retrying" in err and b.url in err, err


def test_produce_504_retried_and_deduplicated(mocks, tmp_path):
    """A 504 after the events were appended (the append happened, the answer did not): the
    retry with the same sequence gets the original offsets and the events are stored once."""
    store = Store()

    def plan(n):
        if n != 1:
            return None
        _, _, headers, body = a.requests[n]         # the second request: append, answer 504
        store.append(int(headers["sluice-producer-id"]), int(headers["sluice-sequence"]),
                     [ln for ln in body.split(b"\n") if ln.strip()])
        return ("status", 504, {"error": {"code": "timeout", "message": "mock: no commit"}})
    a = mocks(store=store, plan=plan)
    f = tmp_path / "in.ndjson"
    f.write_bytes(ndjson({"id": i} for i in range(6)))
    r = ok(sluice("produce", "t", f, "--server", a.url, "--batch", 2, "--in-flight", 1))
    assert r.stdout.decode().splitlines()[1:] == ["partition 0: offsets 0-5"]
    assert [json.loads(e)["id"] for e in store.events] == list(range(6))
    seqs = [s for _, s in headers_of(a.posts())]
    assert seqs == [0, 1, 1, 2], seqs
    assert a.posts()[1][3] == a.posts()[2][3]


def test_produce_gives_up_after_retry_ms(mocks, tmp_path):
    a = mocks(plan=lambda n: unavailable("unavailable"))
    f = tmp_path / "in.ndjson"
    f.write_bytes(ndjson({"id": i} for i in range(3)))
    t0 = time.monotonic()
    r = sluice("produce", "t", f, "--server", a.url, "--retry-ms", 500)
    took = time.monotonic() - t0
    assert r.returncode == 1, r
    assert 0.3 < took < 5, took
    posts = a.posts()
    # 50 + 100 + 200 ms of backoff fit in 500 ms, the next 400 ms would not: 4 attempts
    assert len(posts) == 4, len(posts)
    assert len({p[3] for p in posts}) == 1 and len(set(headers_of(posts))) == 1
    err = r.stderr.decode()
    assert "still failing after 4 attempts" in err and "mock: unavailable" in err, err
    assert r.stdout == b""


def test_produce_retry_ms_0_does_not_retry(mocks, tmp_path):
    a = mocks(plan=lambda n: unavailable("no_leader"))
    f = tmp_path / "in.ndjson"
    f.write_bytes(ndjson([{"id": 1}]))
    r = sluice("produce", "t", f, "--server", a.url, "--retry-ms", 0)
    assert r.returncode == 1 and len(a.posts()) == 1
    assert b"no_leader" in r.stderr


@pytest.mark.parametrize("status,code", [(400, "invalid_json"), (404, "topic_not_found"),
                                         (409, "sequence_out_of_order"), (500, "internal"),
                                         (507, "disk_full")])
def test_produce_other_errors_not_retried(mocks, tmp_path, status, code):
    a = mocks(plan=lambda n: ("status", status, {"error": {"code": code, "message": "mock %s" % code}}))
    b = mocks()
    f = tmp_path / "in.ndjson"
    f.write_bytes(ndjson([{"id": 1}, {"id": 2}]))
    r = sluice("produce", "t", f, "--server", "%s,%s" % (a.url, b.url))
    assert r.returncode == 1
    assert len(a.posts()) == 1 and b.posts() == []
    assert ("mock %s" % code).encode() in r.stderr


def test_produce_timeout_and_dropped_connection_are_retried(mocks, tmp_path):
    store = Store()
    slow = mocks(store=store, plan=lambda n: ("sleep", 3.0) if n == 0 else None)
    drop = mocks(store=store, plan=lambda n: ("drop",) if n == 0 else None)
    f = tmp_path / "in.ndjson"
    f.write_bytes(ndjson({"id": i} for i in range(4)))
    t0 = time.monotonic()
    r = ok(sluice("produce", "t", f, "--server", "%s,%s" % (slow.url, drop.url), "--timeout-ms", 300,
                  "--batch", 2, "--in-flight", 1))
    assert time.monotonic() - t0 < 10
    assert r.stdout.decode().startswith("produced 4 events")
    # seq 0 went to slow (no answer within 300 ms), to drop (connection closed without an
    # answer), to slow again (appended); then seq 1 to slow
    slow_posts, drop_posts = slow.posts(), drop.posts()
    assert [s for _, s in headers_of(slow_posts)] == [0, 0, 1]
    assert [s for _, s in headers_of(drop_posts)] == [0]
    assert slow_posts[0][3] == drop_posts[0][3] == slow_posts[1][3]
    assert len(set(headers_of(slow_posts + drop_posts))) == 2
    time.sleep(3.2)                 # the first, slow attempt appends late: deduplicated too
    assert sorted(json.loads(e)["id"] for e in store.events) == [0, 1, 2, 3], store.events


def test_produce_dead_first_server(mocks, tmp_path):
    b = mocks()
    f = tmp_path / "in.ndjson"
    f.write_bytes(ndjson({"id": i} for i in range(50)))
    r = ok(sluice("produce", "t", f, "--server", "%s,%s" % (dead_url(), b.url), "--batch", 10))
    assert r.stdout.decode().splitlines()[0].startswith("produced 50 events")
    assert len(b.store.events) == 50


def test_produce_no_server_reachable_fails_at_once(tmp_path):
    f = tmp_path / "in.ndjson"
    f.write_bytes(ndjson([{"id": 1}]))
    t0 = time.monotonic()
    r = sluice("produce", "t", f, "--server", "%s,%s" % (dead_url(), dead_url()))
    assert r.returncode == 1 and time.monotonic() - t0 < 5
    assert b"cannot reach any of the 2 servers" in r.stderr, r.stderr
    r = sluice("produce", "t", f, "--server", dead_url())
    assert r.returncode == 1 and time.monotonic() - t0 < 10
    assert b"cannot reach the server" in r.stderr, r.stderr


# ==== a real 3-node cluster ===================================================================

def serve_has_cluster_mode():
    r = subprocess.run([SLUICE_BIN, "serve", "--help"], capture_output=True, timeout=10)
    return b"--node-id" in r.stdout + r.stderr


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    assert serve_has_cluster_mode(), "%s serve --help has no --node-id: cluster mode is not built" % SLUICE_BIN
    c = Cluster(tmp_path_factory.mktemp("cluster"), NODES)
    try:
        c.start()
        wait_until(lambda: metadata_leader(c), 20.0, "a metadata leader known on every node", interval=0.1)
        wait_until(lambda: all_http_known(c), 10.0, "every node's HTTP address known on every node",
                   interval=0.1)
        yield c
    finally:
        problems = c.stop()
        if problems:
            pytest.fail("\n".join(problems))


def all_http_known(c):
    for srv in c.nodes:
        info = cluster_info(srv)
        if info is None or len(info["nodes"]) != NODES or any(n["http"] is None for n in info["nodes"]):
            return False
    return True


def metadata_leader(c, nodes=None):
    """The metadata leader every (running) node agrees on, or None."""
    leaders = set()
    for srv in nodes or c.nodes:
        info = cluster_info(srv)
        if info is None or info.get("metadata", {}).get("leader") is None:
            return None
        leaders.add(info["metadata"]["leader"])
    return leaders.pop() if len(leaders) == 1 else None


def new_topic(c, partitions=3, node=1, **settings):
    name = "c-%s" % uuid.uuid4().hex[:10]
    settings.setdefault("replication_factor", NODES)
    create_topic(c.node(node), name, partitions=partitions, **settings)
    wait_cluster_leaders(c.nodes, name, partitions)
    return name


def post_events(srv, topic, body, pid=None, seq=None, ctype="application/x-ndjson", retry=True):
    """POSTs events to srv with a producer id and sequence (a new producer's first request
    when pid is None); with retry, the same request again on a retryable error."""
    if pid is None:
        pid, seq = new_pid(), 0
    headers = {"Content-Type": ctype, "Sluice-Producer-Id": str(pid), "Sluice-Sequence": str(seq)}
    send = lambda: srv.post("/v1/topics/%s/events" % topic, data=body, headers=headers)  # noqa: E731
    return retrying(send, "produce to %s via port %d" % (topic, srv.port)) if retry else send()


def offsets_of(r):
    expect(r, 200)
    return [(o["partition"], o["offset"]) for o in r.json()["offsets"]]


def new_pid():
    return random.randrange(1, 2 ** 63)


def test_cluster_view_shape(cluster):
    c = cluster
    leader = metadata_leader(c)
    assert leader in (1, 2, 3)
    for i, srv in enumerate(c.nodes, 1):
        info = cluster_info(srv)
        assert info["node_id"] == i
        assert sorted(n["id"] for n in info["nodes"]) == [1, 2, 3]
        for n in info["nodes"]:
            assert n["address"] == "127.0.0.1:%d" % c.internal[n["id"]], n
            assert n["http"] == "127.0.0.1:%d" % c.node(n["id"]).port, n
            assert n["voter"] is True, n
        meta = info["metadata"]
        assert meta["leader"] == leader
        assert meta["term"] >= 1 and 0 <= meta["applied_index"] <= meta["commit_index"], meta
        assert isinstance(info["partitions"], list)


def test_topic_created_on_one_node_is_visible_everywhere(cluster):
    c = cluster
    name = "c-%s" % uuid.uuid4().hex[:10]
    topic = create_topic(c.node(1), name, partitions=3, key="/k", replication_factor=3)
    assert topic["name"] == name and topic["partitions"] == 3 and topic["key"] == "/k"
    for srv in c.nodes[1:]:
        d = wait_until(lambda: srv.get("/v1/topics/%s" % name).status_code == 200 and
                       srv.get("/v1/topics/%s" % name).json(), 5.0, "topic on node %s" % srv.port)
        assert d["name"] == name and d["partitions"] == 3 and d["key"] == "/k"
        assert name in [t["name"] for t in srv.get("/v1/topics").json()["topics"]]
    r = c.node(2).post("/v1/topics", json={"name": name, "partitions": 1})
    expect(r, 409, "topic_exists")
    wait_cluster_leaders(c.nodes, name, 3)


def test_cluster_view_partitions_after_convergence(cluster):
    c = cluster
    name = new_topic(c, partitions=4)
    leaders = wait_cluster_leaders(c.nodes, name, 4, settle=1.5)
    for i, srv in enumerate(c.nodes, 1):
        info = cluster_info(srv)
        parts = [p for p in info["partitions"] if p["topic"] == name]
        assert sorted(p["partition"] for p in parts) == [0, 1, 2, 3]
        for p in parts:
            assert sorted(p["replicas"]) == [1, 2, 3], p
            assert p["leader"] == leaders[p["partition"]] and p["leader"] in p["replicas"], p
            assert p["term"] >= 1 and 0 <= p["applied_index"] <= p["commit_index"], p
            if p["leader"] == i:
                assert isinstance(p["lag"], dict), p
                assert sorted(p["lag"]) == sorted(str(r) for r in p["replicas"] if r != i), p
                assert all(isinstance(v, int) and v >= 0 for v in p["lag"].values()), p
            else:
                assert p["lag"] is None, p


def test_produce_anywhere_read_everywhere(cluster):
    c = cluster
    name = new_topic(c, partitions=3, key="/k")
    acked = {}                                      # (partition, offset) -> event
    for n, srv in enumerate(c.nodes):
        events = [{"k": "key-%d" % i, "node": n + 1, "i": i} for i in range(12)]
        offs = offsets_of(post_events(srv, name, ndjson(events)))
        assert len(offs) == len(events)
        for (p, o), e in zip(offs, events):
            assert p == kafka_partition(e["k"].encode(), 3), (p, e)
            assert (p, o) not in acked
            acked[(p, o)] = e
    assert len(acked) == 36
    by_partition = {}
    for p in range(3):
        want = sorted((o, e) for (q, o), e in acked.items() if q == p)
        assert [o for o, _ in want] == list(range(len(want))), want     # dense from 0
        by_partition[p] = [e for _, e in want]

    leader_lines = {}
    for p in range(3):
        for srv in c.nodes:                         # default read: served by the leader
            recs = read_all(srv, name, p)
            assert [r["value"] for r in recs] == by_partition[p], (srv.port, p)
            assert [r["offset"] for r in recs] == list(range(len(recs)))
            leader_lines.setdefault(p, lines(recs))
            assert lines(recs) == leader_lines[p], "node %d serves other bytes than node 1" % srv.port
    for p in range(3):                              # each node's own replica, once applied
        for srv in c.nodes:
            wait_until(lambda: lines(read_all(srv, name, p, replica="any")) == leader_lines[p], 10.0,
                       "replica=any on port %d, partition %d, to match the leader" % (srv.port, p))


def test_idempotent_produce_explicit_partition(cluster):
    c = cluster
    name = new_topic(c, partitions=2)
    pid = new_pid()

    def rec(v):
        return json.dumps({"records": [{"value": v, "partition": 0}]}).encode()
    kafka = "application/vnd.kafka.json.v2+json"
    first = offsets_of(post_events(c.node(1), name, rec({"n": 5}), pid, 5, kafka))
    for srv in (c.node(1), c.node(2), c.node(3)):   # the same request again, anywhere
        assert offsets_of(post_events(srv, name, rec({"n": 5}), pid, 5, kafka)) == first
    gap = offsets_of(post_events(c.node(2), name, rec({"n": 9}), pid, 9, kafka))   # gaps allowed
    assert gap == [(0, first[0][1] + 1)]
    for seq in (7, 5, 0):
        r = post_events(c.node(3), name, rec({"n": seq}), pid, seq, kafka)
        expect(r, 409, "sequence_out_of_order")
    assert offsets_of(post_events(c.node(1), name, rec({"n": 9}), pid, 9, kafka)) == gap
    other = offsets_of(post_events(c.node(1), name, rec({"n": 1}), new_pid(), 1, kafka))
    assert other == [(0, gap[0][1] + 1)], "another producer has its own sequence"
    assert [r["value"] for r in read_all(c.node(2), name, 0)] == [{"n": 5}, {"n": 9}, {"n": 1}]
    assert read_all(c.node(2), name, 1) == []


def test_idempotent_produce_spanning_partitions(cluster):
    c = cluster
    name = new_topic(c, partitions=3, key="/k")
    pid = new_pid()
    body = ndjson({"k": "k%d" % i, "i": i} for i in range(20))
    first = offsets_of(post_events(c.node(1), name, body, pid, 0))
    assert len({p for p, _ in first}) == 3
    for srv in (c.node(2), c.node(3), c.node(1)):
        assert offsets_of(post_events(srv, name, body, pid, 0)) == first
    total = sum(len(read_all(c.node(1), name, p)) for p in range(3))
    assert total == 20


def test_produce_while_leaders_move_to_their_preferred_nodes(cluster):
    """A fresh topic's partitions elect whichever replica wins; within 2 s the leaders hand over
    to their preferred replicas. A request that arrives during such a transfer is held until it
    ends and must then be proposed, or sent to the new leader: it must never wait forever (it
    did: CI run of e2132d2, a read timeout). Each request is answered (the client's timeout is
    15 s) and every event is stored once."""
    c = cluster
    for _ in range(6):
        name = "c-%s" % uuid.uuid4().hex[:10]
        create_topic(c.node(1), name, partitions=3, key="/k", replication_factor=NODES)
        end = time.monotonic() + 3.0                # spans the first balancing round
        sent = 0
        while time.monotonic() < end:
            body = ndjson({"k": "k%d" % i, "i": sent + i} for i in range(10))
            expect(post_events(c.node(1 + sent // 10 % 3), name, body), 200)
            sent += 10
        got = sorted(r["value"]["i"]
                     for p in range(3) for r in read_all(c.node(1), name, p))
        assert got == list(range(sent))


def test_idempotent_retry_of_keyless_events_on_other_nodes(cluster):
    """Keyless events go to a partition the receiving node picks (sticky, rotating per
    request). A retry with the same producer id and sequence, sent to another node as
    `sluice produce` does, must still find the original append and store nothing."""
    c = cluster
    name = new_topic(c, partitions=3)
    pid = new_pid()
    body = ndjson({"i": i} for i in range(3))
    first = offsets_of(post_events(c.node(1), name, body, pid, 0))
    assert len({p for p, _ in first}) == 1
    for srv in (c.node(2), c.node(3), c.node(1), c.node(2)):
        for _ in range(2):                          # move the node's sticky partition along
            offsets_of(post_events(srv, name, ndjson([{"other": 1}]), new_pid(), 0))
        assert offsets_of(post_events(srv, name, body, pid, 0)) == first, "retry on port %d" % srv.port
    values = [r["value"] for p in range(3) for r in read_all(c.node(1), name, p)]
    assert sum(1 for v in values if "i" in v) == 3, values


@pytest.fixture(scope="module")
def one_partition_topic(cluster):
    return new_topic(cluster, partitions=1)


@pytest.mark.parametrize("pid,seq", [("0", "0"), ("abc", "0"), (str(2 ** 63), "0"), ("-1", "0"),
                                     ("1", "-1"), ("1", "x")])
def test_bad_producer_headers_are_refused(cluster, one_partition_topic, pid, seq):
    c, name = cluster, one_partition_topic
    r = c.node(1).post("/v1/topics/%s/events" % name, data=b'{"a":1}\n',
                       headers={"Content-Type": "application/x-ndjson", "Sluice-Producer-Id": pid,
                                "Sluice-Sequence": seq})
    expect(r, 400)
    assert read_all(c.node(1), name, 0) == []


@pytest.mark.parametrize("rf", [0, 6, 4, -1, "3", 2.5])
def test_replication_factor_validation(cluster, rf):
    c = cluster
    name = "c-%s" % uuid.uuid4().hex[:10]
    r = c.node(2).post("/v1/topics", json={"name": name, "partitions": 1, "replication_factor": rf})
    expect(r, 400)
    msg = r.json()["error"]["message"]
    assert "replication" in msg.lower(), msg
    expect(c.node(1).get("/v1/topics/%s" % name), 404)


@pytest.mark.parametrize("rf", [1, 2, 3, "default"])
def test_replication_factor_places_replicas(cluster, rf):
    c = cluster
    name = "c-%s" % uuid.uuid4().hex[:10]
    body = {"name": name, "partitions": 2}
    if rf != "default":
        body["replication_factor"] = rf
    expect(c.node(3).post("/v1/topics", json=body), 201)
    want = 3 if rf == "default" else rf

    def placed():
        holders = {}
        for i, srv in enumerate(c.nodes, 1):
            info = cluster_info(srv)
            for p in (info or {}).get("partitions", []):
                if p["topic"] == name:
                    holders.setdefault(p["partition"], []).append((i, p))
        if sorted(holders) != [0, 1]:
            return None
        for part, held in holders.items():
            replicas = sorted(held[0][1]["replicas"])
            if len(held) != want or sorted(i for i, _ in held) != replicas:
                return None
            if any(p["leader"] is None or sorted(p["replicas"]) != replicas for _, p in held):
                return None
        return holders
    holders = wait_until(placed, 15.0, "partitions of %s placed on %s nodes with a leader" % (name, want),
                         interval=0.1)
    for part, held in holders.items():
        assert len(held[0][1]["replicas"]) == want
    # The create answered once node 3 applied it (docs/CLUSTER.md: read-your-writes on the node
    # that answered); a node holding no replica may apply it a moment later (slow under ASan).
    for srv in c.nodes:
        wait_until(lambda: srv.get("/v1/topics/%s" % name).status_code == 200, 15.0,
                   "node on port %d knows topic %s" % (srv.port, name), interval=0.05)
    for srv in c.nodes:                                 # every node serves it, replica or not
        offs = offsets_of(post_events(srv, name, ndjson([{"via": srv.port}])))
        assert len(offs) == 1
    got = sorted(r["value"]["via"] for p in range(2) for r in read_all(c.node(1), name, p))
    assert got == sorted(s.port for s in c.nodes)


def test_cli_cluster_status(cluster):
    c = cluster
    name = new_topic(c, partitions=2)
    leaders = wait_cluster_leaders(c.nodes, name, 2, settle=1.5)
    meta = metadata_leader(c)
    r = ok(sluice("cluster", "status", "--server", c.node(1).base, "--format", "json"))
    view = json.loads(r.stdout)
    assert view["node_id"] == 1
    assert view["nodes"] == cluster_info(c.node(1))["nodes"]
    assert partition_leaders(view, name) == leaders

    r = ok(sluice("cluster", "status", "--server", "%s,%s" % (dead_url(), c.node(2).base),
                  "--format", "table"))
    out = r.stdout.decode().splitlines()
    assert out[0].startswith("node 2 answered; metadata leader %d, term " % meta), out[0]
    head, rows = table_rows(out, "NODE")
    cells = [re.split(r"\s{2,}", row.strip()) for row in rows]
    assert cells == [[str(i), "127.0.0.1:%d" % c.internal[i], "127.0.0.1:%d" % c.node(i).port, "yes", "voter",
                      "leader" if i == meta else "-"] for i in (1, 2, 3)]
    head, rows = table_rows(out, "TOPIC")
    mine = [re.split(r"\s{2,}", row.strip()) for row in rows if row.startswith(name + " ")]
    replicas = {p["partition"]: ",".join(map(str, p["replicas"]))      # in the server's order
                for p in cluster_info(c.node(2))["partitions"] if p["topic"] == name}
    assert [(int(x[1]), int(x[2]), x[3]) for x in mine] == [(0, leaders[0], replicas[0]),
                                                            (1, leaders[1], replicas[1])]
    assert all(sorted(r.split(",")) == ["1", "2", "3"] for r in replicas.values())


def test_cli_produce_with_a_dead_first_server(cluster, tmp_path):
    c = cluster
    name = new_topic(c, partitions=3, key="/id")
    f = tmp_path / "in.ndjson"
    f.write_bytes(ndjson({"id": i} for i in range(300)))
    r = ok(sluice("produce", name, f, "--server", "%s,%s" % (dead_url(), c.node(2).base), "--batch", 25))
    assert r.stdout.decode().splitlines()[0].startswith("produced 300 events")
    ids = sorted(rec["value"]["id"] for p in range(3) for rec in read_all(c.node(3), name, p))
    assert ids == list(range(300))


def parse_summary(stdout):
    """{partition: set of offsets} from `sluice produce`'s summary lines."""
    acked = {}
    for ln in stdout.decode().splitlines()[1:]:
        m = re.match(r"^partition (\d+): offsets? (.*)$", ln)
        assert m, ln
        s = acked.setdefault(int(m.group(1)), set())
        for part in m.group(2).split(", "):
            lo, _, hi = part.partition("-")
            s.update(range(int(lo), int(hi or lo) + 1))
    return acked


def test_kill9_partition_leader_while_producing(cluster, tmp_path):
    """Events go in through the CLI (to the two future survivors) and through single requests
    (with producer id and sequence, retried on 503/504) while the leader of partition 0 is
    killed with SIGKILL. Every event acknowledged is stored exactly once, and after the node
    comes back every replica holds the same log."""
    c = cluster
    name = new_topic(c, partitions=3, key="/id")
    victim = wait_cluster_leaders(c.nodes, name, 3, settle=1.5)[0]
    survivors = [i for i in (1, 2, 3) if i != victim]
    before = [{"id": i} for i in range(30)]
    offsets_of(post_events(c.node(victim), name, ndjson(before)))

    cli_events = [{"id": 1000 + i, "pad": "x" * 50} for i in range(600)]
    out_path, err_path = tmp_path / "produce.out", tmp_path / "produce.err"
    with open(out_path, "wb") as out_f, open(err_path, "wb") as err_f:
        proc = subprocess.Popen([SLUICE_BIN, "produce", name, "--server", c.urls(*survivors), "--batch", "20"],
                                stdin=subprocess.PIPE, stdout=out_f, stderr=err_f)

    def feed():
        try:
            for k in range(0, len(cli_events), 20):
                proc.stdin.write(ndjson(cli_events[k:k + 20]))
                proc.stdin.flush()
                time.sleep(0.1)
        finally:
            proc.stdin.close()
    feeder = threading.Thread(target=feed)
    feeder.start()
    try:
        time.sleep(0.8)
        c.node(victim).kill9()

        # single events through the survivors, each retried with its sequence until acknowledged
        pid, refusals, direct = new_pid(), [], {}
        for seq in range(40):
            e = {"id": 5000 + seq}
            end = time.monotonic() + 30
            n = 0
            while True:
                srv = c.node(survivors[n % 2])
                n += 1
                try:
                    r = post_events(srv, name, ndjson([e]), pid, seq, retry=False)
                except requests.RequestException as ex:
                    refusals.append(("exception", str(ex)))
                    r = None
                if r is not None and r.status_code == 200:
                    direct[e["id"]] = offsets_of(r)[0]
                    break
                if r is not None:
                    refusals.append((r.status_code, r.text[:300]))
                    assert r.status_code in (503, 504), refusals[-1]
                    code = r.json()["error"]["code"]
                    assert code in ("no_leader", "unavailable", "timeout"), refusals[-1]
                assert time.monotonic() < end, "event %d not acknowledged within 30 s: %r" % (e["id"], refusals[-5:])
                time.sleep(0.05)
    finally:
        feeder.join(timeout=30)
        try:
            proc.wait(timeout=CMD_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    out, err = out_path.read_bytes(), err_path.read_bytes()
    assert proc.returncode == 0, "sluice produce exit %d\nstdout: %s\nstderr: %s\n%s" % (
        proc.returncode, out[-2000:], err[-3000:], c.logs())
    assert out.decode().splitlines()[0].startswith("produced 600 events"), out
    cli_acked = parse_summary(out)
    assert sum(len(s) for s in cli_acked.values()) == 600

    c.node(victim).start()
    wait_cluster_leaders(c.nodes, name, 3, deadline=30.0)

    want_ids = sorted([e["id"] for e in before] + [e["id"] for e in cli_events] + list(direct))
    logs = {}
    for p in range(3):
        recs = read_all(c.node(survivors[0]), name, p)
        logs[p] = lines(recs)
        assert [r["offset"] for r in recs] == list(range(len(recs)))
        for r in recs:
            assert kafka_partition(str(r["value"]["id"]).encode(), 3) == p
        got_offsets = {r["offset"]: r["value"]["id"] for r in recs}
        for o in cli_acked.get(p, ()):
            assert 1000 <= got_offsets.get(o, -1) < 2000, "CLI-acknowledged %d/%d holds %r" % (p, o, got_offsets.get(o))
    for eid, (p, o) in direct.items():
        assert json.loads(logs[p][o])["value"]["id"] == eid
    all_ids = sorted(json.loads(ln)["value"]["id"] for p in range(3) for ln in logs[p])
    assert all_ids == want_ids, "duplicates: %r, missing: %r" % (
        sorted({i for i in all_ids if all_ids.count(i) > 1}), sorted(set(want_ids) - set(all_ids)))
    for p in range(3):                              # every replica, the restarted one included
        for srv in c.nodes:
            wait_until(lambda: lines(read_all(srv, name, p, replica="any")) == logs[p], 20.0,
                       "replica=any on port %d, partition %d, to match the leader" % (srv.port, p))
            assert lines(read_all(srv, name, p)) == logs[p]

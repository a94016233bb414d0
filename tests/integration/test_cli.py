"""The `sluice` client subcommands (topic, produce, consume) against a real `sluice serve`.

Usage and exit-status cases need no server; the rest share one server started here (module
scope, its own fixture so this file does not depend on conftest.py): exit status 0 ok, 1 refused
or unreachable, 2 usage; JSON output carrying API.md's fields; 100,000 events produced and
consumed back whole and in offset order; refusals reported with the server's message and the
input line; consumer groups resuming from their commits; --follow picking up new events."""

import json
import os
import queue
import re
import signal
import socket
import subprocess
import threading
import time
import uuid

import pytest
import requests

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SLUICE_BIN = os.environ.get("SLUICE_BIN", os.path.join(ROOT, "build", "sluice"))
START_DEADLINE = 15.0
CMD_TIMEOUT = 120


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def cli_server(tmp_path_factory):
    """A `sluice serve` for this module; yields its base URL."""
    if not os.path.exists(SLUICE_BIN):
        pytest.fail("SLUICE_BIN %s does not exist (build first)" % SLUICE_BIN)
    base = tmp_path_factory.mktemp("cli")
    data = base / "data"
    data.mkdir()
    port = free_port()
    log_path = base / "server.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [SLUICE_BIN, "serve", "--listen", "127.0.0.1:%d" % port, "--data-dir", str(data),
             "--fsync", "always"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    url = "http://127.0.0.1:%d" % port
    deadline = time.monotonic() + START_DEADLINE
    try:
        while True:
            if proc.poll() is not None:
                pytest.fail("sluice serve exited with %s:\n%s" % (proc.returncode, log_path.read_text()))
            try:
                if requests.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                pytest.fail("sluice serve did not answer /healthz within %.0f s:\n%s"
                            % (START_DEADLINE, log_path.read_text()))
            time.sleep(0.05)
        yield url
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def sluice(*args, url=None, input=None, timeout=CMD_TIMEOUT, env_url=False):
    """Runs the CLI; the server is given by --server, or by SLUICE_URL when env_url."""
    env = dict(os.environ)
    env.pop("SLUICE_URL", None)
    argv = [SLUICE_BIN]
    if url is not None:
        if env_url:
            env["SLUICE_URL"] = url
        else:
            argv += ["--server", url]
    return subprocess.run(argv + [str(a) for a in args], input=input, capture_output=True,
                          timeout=timeout, env=env)


def ok(result):
    assert result.returncode == 0, "exit %d\nstdout: %s\nstderr: %s" % (
        result.returncode, result.stdout[-2000:], result.stderr[-2000:])
    return result


def new_topic(url, partitions=1, *extra):
    name = "cli-%s" % uuid.uuid4().hex[:12]
    ok(sluice("topic", "create", name, "--partitions", partitions, *extra, url=url))
    return name


def write_events(path, ids, blank_every=0):
    with open(path, "w") as f:
        for n, i in enumerate(ids):
            if blank_every and n % blank_every == 0:
                f.write("\n")
            f.write(json.dumps({"id": i, "text": "event number %d" % i}) + "\n")


def parse_lines(stdout):
    return [json.loads(line) for line in stdout.decode().splitlines()]


def describe(url, topic):
    return json.loads(ok(sluice("topic", "describe", topic, "--json", url=url)).stdout)


TOPIC_FIELDS = {"name", "partitions", "key", "timestamp", "retention_ms", "retention_bytes",
                "segment_bytes", "segment_ms", "created_ms"}
STAT_FIELDS = {"partition", "earliest_offset", "latest_offset", "bytes", "segments"}
EVENT_FIELDS = {"topic", "partition", "offset", "timestamp", "key", "value"}


# ---- without a server --------------------------------------------------------------------

@pytest.mark.parametrize("args", [
    ["--help"], ["-h"], ["help"], ["help", "consume"],
    ["topic", "--help"], ["topic", "create", "--help"], ["topic", "list", "--help"],
    ["topic", "describe", "--help"], ["topic", "delete", "-h"],
    ["produce", "--help"], ["consume", "--help"], ["consume", "some-topic", "-h"],
    ["serve", "--help"],
])
def test_help_exits_0(args):
    r = sluice(*args, timeout=30)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip(), "help goes to stdout"
    if args[0] != "serve":
        assert b"Usage" in r.stdout


def test_version():
    r = ok(sluice("--version"))
    assert re.match(rb"^sluice \d+\.\d+\.\d+", r.stdout)


@pytest.mark.parametrize("args", [
    [], ["bogus"], ["--bogus"], ["--server"], ["topic"], ["topic", "frob"],
    ["topic", "create"], ["topic", "create", "a", "b"], ["topic", "create", "x", "--partitions", "zero"],
    ["topic", "create", "x", "--partitions", "0"], ["topic", "create", "x", "--nope"],
    ["topic", "list", "extra"], ["topic", "list", "--json", "--table"], ["topic", "describe"],
    ["topic", "delete"], ["produce"], ["produce", "t", "a", "b"], ["produce", "t", "--batch", "0"],
    ["produce", "t", "--partition", "-1"], ["consume"], ["consume", "t", "u"],
    ["consume", "t", "--limit", "0"], ["consume", "t", "--offset", "sometime"],
    ["consume", "t", "--group", "g", "--partition", "0"], ["consume", "t", "--group", "g", "--offset", "5"],
])
def test_bad_usage_exits_2(args):
    r = sluice(*args, url="http://127.0.0.1:9")
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert r.stderr.strip()
    assert r.stdout == b""


@pytest.mark.parametrize("args", [
    ["topic", "list"], ["topic", "create", "x"], ["topic", "describe", "x"], ["topic", "delete", "x"],
    ["consume", "x"], ["consume", "x", "--group", "g"],
])
def test_unreachable_server_exits_1(args):
    url = "http://127.0.0.1:%d" % free_port()   # nobody listens there
    for env_url in (False, True):
        r = sluice(*args, url=url, env_url=env_url, timeout=30)
        assert r.returncode == 1, (r.returncode, r.stderr)
        assert b"cannot reach the server" in r.stderr
        assert url.encode() in r.stderr


def test_produce_unreachable_server_exits_1(tmp_path):
    f = tmp_path / "in.ndjson"
    write_events(f, range(10))
    r = sluice("produce", "x", f, url="http://127.0.0.1:%d" % free_port(), timeout=30)
    assert r.returncode == 1
    assert b"cannot reach the server" in r.stderr


# ---- topics ------------------------------------------------------------------------------

def test_topic_round_trip(cli_server):
    url = cli_server
    name = "cli-rt-%s" % uuid.uuid4().hex[:8]
    r = ok(sluice("topic", "create", name, "--partitions", 3, "--key", "/user", "--timestamp", "/ts",
                  "--retention-ms", 3600000, "--retention-bytes", 1 << 30,
                  "--segment-bytes", 1 << 20, url=url))
    created = json.loads(r.stdout)
    assert TOPIC_FIELDS <= set(created)
    assert created["name"] == name and created["partitions"] == 3
    assert created["key"] == "/user" and created["timestamp"] == "/ts"
    assert created["retention_ms"] == 3600000 and created["retention_bytes"] == 1 << 30
    assert created["segment_bytes"] == 1 << 20

    again = sluice("topic", "create", name, url=url)
    assert again.returncode == 1
    assert b"topic_exists" in again.stderr

    # Not a terminal: JSON without asking, the same with --json; SLUICE_URL works as --server.
    for args in (["topic", "list"], ["topic", "list", "--json"]):
        listed = json.loads(ok(sluice(*args, url=url, env_url=True)).stdout)
        mine = [t for t in listed["topics"] if t["name"] == name]
        assert len(mine) == 1 and TOPIC_FIELDS <= set(mine[0])
        assert mine[0]["partitions"] == 3
    names = [t["name"] for t in listed["topics"]]
    assert names == sorted(names)

    table = ok(sluice("topic", "list", "--table", url=url)).stdout.decode()
    header = table.splitlines()[0].split()
    assert header == ["NAME", "PARTITIONS", "KEY", "TIMESTAMP", "RETENTION"]
    row = [line.split() for line in table.splitlines() if line.split()[0] == name]
    assert row and row[0][1:4] == ["3", "/user", "/ts"]

    d = describe(url, name)
    assert TOPIC_FIELDS <= set(d)
    assert [s["partition"] for s in d["partition_stats"]] == [0, 1, 2]
    for s in d["partition_stats"]:
        assert STAT_FIELDS <= set(s)
        assert s["latest_offset"] == s["earliest_offset"] == 0

    dt = ok(sluice("topic", "describe", name, "--table", url=url)).stdout.decode()
    assert "PARTITION" in dt and "EARLIEST" in dt and "LATEST" in dt and "BYTES" in dt
    assert "/user" in dt and "1 GiB" in dt

    ok(sluice("topic", "delete", name, url=url))
    gone = sluice("topic", "describe", name, url=url)
    assert gone.returncode == 1 and b"topic_not_found" in gone.stderr
    listed = json.loads(ok(sluice("topic", "list", url=url)).stdout)
    assert name not in [t["name"] for t in listed["topics"]]
    again = sluice("topic", "delete", name, url=url)
    assert again.returncode == 1 and b"topic_not_found" in again.stderr


def test_topic_create_refused_shows_server_message(cli_server):
    r = sluice("topic", "create", "bad/name", url=cli_server)
    assert r.returncode == 1
    assert b"invalid_topic" in r.stderr or b"not_found" in r.stderr or b"bad_request" in r.stderr


# ---- produce and consume -----------------------------------------------------------------

def check_per_partition_order(events):
    by_part = {}
    for e in events:
        by_part.setdefault(e["partition"], []).append(e["offset"])
    for p, offsets in by_part.items():
        assert offsets == sorted(offsets), "partition %d out of order" % p
        assert len(set(offsets)) == len(offsets), "partition %d repeats an offset" % p
    return by_part


def test_produce_consume_100k(cli_server, tmp_path):
    url = cli_server
    n = 100_000
    topic = new_topic(url, 4)
    f = tmp_path / "in.ndjson"
    write_events(f, range(n), blank_every=9973)

    t0 = time.monotonic()
    r = ok(sluice("produce", topic, f, url=url))
    produce_s = time.monotonic() - t0
    lines = r.stdout.decode().splitlines()
    assert re.match(r"^produced 100000 events in \d+\.\d+ s \(\d+ events/s\)$", lines[0]), lines[0]
    total = 0
    for line in lines[1:]:
        m = re.match(r"^partition (\d+): offsets? ([\d, -]+)$", line)
        assert m, line
        for rng in m.group(2).split(", "):
            lo, _, hi = rng.partition("-")
            total += int(hi or lo) - int(lo) + 1
    assert total == n
    stats = describe(url, topic)["partition_stats"]
    assert sum(s["latest_offset"] - s["earliest_offset"] for s in stats) == n

    t0 = time.monotonic()
    r = ok(sluice("consume", topic, "--limit", n, url=url))
    consume_s = time.monotonic() - t0
    events = parse_lines(r.stdout)
    assert len(events) == n
    assert EVENT_FIELDS <= set(events[0])
    ids = [e["value"]["id"] for e in events]
    assert len(set(ids)) == n and set(ids) == set(range(n))
    by_part = check_per_partition_order(events)
    for s in stats:
        assert by_part.get(s["partition"], []) == list(range(s["earliest_offset"], s["latest_offset"]))
    assert all(e["topic"] == topic for e in events)
    # "A few seconds" on a 2-core machine with fsync=always; generous bound against flakiness.
    assert produce_s < 60 and consume_s < 60, (produce_s, consume_s)

    # Without --limit and --follow it stops by itself at the end of every partition.
    r = ok(sluice("consume", topic, url=url))
    assert r.stdout.count(b"\n") == n

    # One partition from an offset.
    p = max(stats, key=lambda s: s["latest_offset"])["partition"]
    r = ok(sluice("consume", topic, "--partition", p, "--offset", 5, "--limit", 3, url=url))
    got = parse_lines(r.stdout)
    assert [(e["partition"], e["offset"]) for e in got] == [(p, 5), (p, 6), (p, 7)]
    r = ok(sluice("consume", topic, "--partition", p, "--offset", "latest", url=url))
    assert r.stdout == b""


def test_produce_stdin_and_partition(cli_server):
    url = cli_server
    topic = new_topic(url, 3)
    body = "".join(json.dumps({"id": i, "s": "a,b:c]"}) + "\n" for i in range(50)).encode()
    r = ok(sluice("produce", topic, "-", "--partition", 2, "--batch", 7, url=url, input=body))
    assert r.stdout.decode().splitlines()[1:] == ["partition 2: offsets 0-49"]
    r = ok(sluice("produce", topic, "--batch", 10, url=url, input=body))   # FILE absent: stdin
    assert r.stdout.startswith(b"produced 50 events")
    stats = describe(url, topic)["partition_stats"]
    assert sum(s["latest_offset"] for s in stats) == 100
    assert stats[2]["latest_offset"] >= 50


def test_produce_unknown_topic_exits_1(cli_server, tmp_path):
    url = cli_server
    topic = "cli-missing-%s" % uuid.uuid4().hex[:8]
    f = tmp_path / "in.ndjson"
    write_events(f, range(5))
    r = sluice("produce", topic, f, url=url)
    assert r.returncode == 1
    assert r.stdout == b""
    expected = requests.post(url + "/v1/topics/%s/events" % topic, data=b'{"id":1}\n',
                             headers={"Content-Type": "application/x-ndjson"}).json()["error"]
    assert expected["code"].encode() in r.stderr
    assert expected["message"].encode() in r.stderr
    assert b"lines 1-5" in r.stderr


def test_produce_invalid_line_stores_nothing(cli_server, tmp_path):
    url = cli_server
    topic = new_topic(url, 2)
    f = tmp_path / "bad.ndjson"
    lines = [json.dumps({"id": i}) for i in range(10)]
    lines[5] = '{"id": 5,'
    f.write_text("\n".join(lines[:3]) + "\n\n" + "\n".join(lines[3:]) + "\n")   # bad one on line 7
    r = sluice("produce", topic, f, url=url)
    assert r.returncode == 1
    assert b"invalid_json" in r.stderr
    assert b"line 7" in r.stderr, r.stderr
    assert r.stdout == b""
    for s in describe(url, topic)["partition_stats"]:
        assert s["latest_offset"] == 0


def test_consume_group_resumes_from_commits(cli_server, tmp_path):
    url = cli_server
    n = 1000
    topic = new_topic(url, 3)
    f = tmp_path / "in.ndjson"
    write_events(f, range(n))
    ok(sluice("produce", topic, f, "--batch", 100, url=url))
    group = "g-%s" % uuid.uuid4().hex[:8]

    seen = []
    for limit in (300, 250):
        events = parse_lines(ok(sluice("consume", topic, "--group", group, "--limit", limit, url=url)).stdout)
        assert len(events) == limit
        seen += events
    t0 = time.monotonic()
    rest = parse_lines(ok(sluice("consume", topic, "--group", group, url=url)).stdout)
    assert time.monotonic() - t0 < 30
    seen += rest
    ids = [e["value"]["id"] for e in seen]
    assert len(ids) == len(set(ids)), "duplicates"
    assert set(ids) == set(range(n)), "gaps"
    check_per_partition_order(seen)

    # Everything committed, nobody left in the group.
    r = ok(sluice("consume", topic, "--group", group, url=url))
    assert r.stdout == b""
    g = requests.get(url + "/v1/groups/%s" % group).json()
    assert g["members"] == []
    assert sum(o["lag"] for o in g["offsets"]) == 0


class LineReader:
    """Reads a process's stdout lines on a thread, so the test can wait with a timeout."""

    def __init__(self, stream):
        self.q = queue.Queue()
        self.t = threading.Thread(target=self._run, args=(stream,), daemon=True)
        self.t.start()

    def _run(self, stream):
        for line in stream:
            self.q.put(line)
        self.q.put(None)

    def take(self, count, timeout=20):
        out, deadline = [], time.monotonic() + timeout
        while len(out) < count:
            line = self.q.get(timeout=max(0.01, deadline - time.monotonic()))
            assert line is not None, "consumer exited early"
            out.append(json.loads(line))
        return out


def follow(url, *args):
    env = dict(os.environ, SLUICE_URL=url)
    return subprocess.Popen([SLUICE_BIN, "consume", *[str(a) for a in args], "--follow"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        pytest.fail("consume --follow did not stop within 15 s of SIGTERM")
    return proc.returncode, proc.stderr.read()


@pytest.mark.parametrize("group", [False, True])
def test_consume_follow_sees_new_events(cli_server, tmp_path, group):
    url = cli_server
    topic = new_topic(url, 2)
    f1, f2 = tmp_path / "a.ndjson", tmp_path / "b.ndjson"
    write_events(f1, range(0, 10))
    write_events(f2, range(10, 30))
    ok(sluice("produce", topic, f1, url=url))
    gname = "gf-%s" % uuid.uuid4().hex[:8]
    proc = follow(url, topic, *(["--group", gname] if group else []))
    try:
        reader = LineReader(proc.stdout)
        first = reader.take(10)
        time.sleep(0.5)
        ok(sluice("produce", topic, f2, url=url))
        second = reader.take(20)
    finally:
        rc, err = stop(proc)
    assert rc == 0, err
    ids = [e["value"]["id"] for e in first + second]
    assert sorted(ids) == list(range(30))
    check_per_partition_order(first + second)
    if group:
        g = requests.get(url + "/v1/groups/%s" % gname).json()
        assert g["members"] == [], "SIGTERM leaves the group"
        assert sum(o["lag"] for o in g["offsets"]) == 0, "and commits what was printed"


def test_consume_into_closed_pipe_is_quiet(cli_server, tmp_path):
    url = cli_server
    topic = new_topic(url, 1)
    f = tmp_path / "in.ndjson"
    write_events(f, range(20000))
    ok(sluice("produce", topic, f, url=url))
    env = dict(os.environ, SLUICE_URL=url)
    r = subprocess.run(["sh", "-c", '"$0" consume "$1" | head -n 3', SLUICE_BIN, topic],
                       capture_output=True, env=env, timeout=CMD_TIMEOUT)
    assert r.stdout.count(b"\n") == 3
    assert r.stderr == b"", r.stderr
    proc = subprocess.Popen([SLUICE_BIN, "consume", topic, "--follow"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env)
    proc.stdout.readline()
    proc.stdout.close()
    rc = proc.wait(timeout=30)
    assert rc == 0 and proc.stderr.read() == b""


def test_consume_unknown_topic_exits_1(cli_server):
    r = sluice("consume", "cli-nope-%s" % uuid.uuid4().hex[:8], url=cli_server)
    assert r.returncode == 1
    assert b"topic_not_found" in r.stderr

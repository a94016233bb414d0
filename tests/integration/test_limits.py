"""Limits and operations: connection cap, idle and slow clients, header size, health, metrics,
unknown routes and methods, and disk full (507) on a small tmpfs."""

import json
import os
import re
import subprocess
import time

import pytest

from sluice_testlib import (SSEClient, connect, create_topic, describe_topic, expect, fetch, fetch_all,
                            latest_offsets, produce, produce_ok, read_response,
                            read_until_closed)

NDJSON = "application/x-ndjson"
HEALTH_REQ = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"


# --- connections ------------------------------------------------------------------------------

def test_max_connections_503(make_server):
    srv = make_server("--max-connections", "4", "--idle-timeout-ms", "30000")
    socks = []
    try:
        time.sleep(0.3)     # let the server see the start-up probe's connection close
        end = time.monotonic() + 5
        while len(socks) < 4:
            s = connect(srv)
            s.sendall(HEALTH_REQ)
            try:
                r = read_response(s)
            except (OSError, TimeoutError, ConnectionError):
                r = None
            if r is not None and r.status == 200:
                socks.append(s)
                continue
            s.close()
            assert time.monotonic() < end, "could not open 4 connections under a cap of 4"
            time.sleep(0.1)
        extra = connect(srv)
        # the server may answer 503 at accept time, before any request
        data, closed = read_until_closed(extra, 1.0)
        if not data:
            try:
                extra.sendall(HEALTH_REQ)
            except OSError:
                pass
            more, closed = read_until_closed(extra, 5.0)
            data += more
        extra.close()
        assert data.startswith(b"HTTP/1.1 503"), "connection over the cap got %r" % data[:300]
        body = data.split(b"\r\n\r\n", 1)[1]
        assert b"too_many_connections" in body
        assert closed, "the rejected connection must be closed"
        # the admitted connections still work
        for s in socks:
            s.sendall(HEALTH_REQ)
            assert read_response(s).status == 200
        # freeing one slot admits a new connection
        socks.pop().close()
        end = time.monotonic() + 5
        while True:
            s = connect(srv)
            try:
                s.sendall(HEALTH_REQ)
                r = read_response(s, deadline=2)
                if r.status == 200:
                    socks.append(s)
                    break
            except (OSError, TimeoutError, ConnectionError):
                pass
            s.close()
            assert time.monotonic() < end, "a freed connection slot was never reused"
            time.sleep(0.1)
    finally:
        for s in socks:
            s.close()


def test_idle_connection_closed(make_server):
    srv = make_server("--idle-timeout-ms", "500")
    s = connect(srv)
    t0 = time.monotonic()
    data, closed = read_until_closed(s, 5.0)
    el = time.monotonic() - t0
    s.close()
    assert closed, "idle connection still open after 5 s (idle timeout 500 ms)"
    assert el >= 0.3, "closed after %.2fs, before the idle timeout" % el
    # a keep-alive connection that goes idle after a request is closed as well
    s = connect(srv)
    s.sendall(HEALTH_REQ)
    assert read_response(s).status == 200
    data, closed = read_until_closed(s, 5.0)
    s.close()
    assert closed and data == b"", data


def test_peer_that_stops_reading_is_closed(make_server):
    """A client that asks for a large response and never reads it must not pin that memory for
    ever: once its output waits longer than the idle timeout without progress, it is closed,
    and the server keeps serving others."""
    import socket
    srv = make_server("--idle-timeout-ms", "800")
    create_topic(srv, "t")
    pad = "x" * 1000
    for _ in range(8):
        produce_ok(srv, "t", [{"pad": pad, "i": i} for i in range(2000)], NDJSON)
    s = connect(srv)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.sendall(b"GET /v1/topics/t/partitions/0/events?offset=0&limit=100000&max_bytes=67108864 "
              b"HTTP/1.1\r\nHost: x\r\n\r\n")
    time.sleep(0.3)
    m0 = srv.get("/metrics").text
    deadline = time.monotonic() + 10
    closed = False
    while time.monotonic() < deadline and not closed:
        time.sleep(0.3)
        closed = "peer stopped reading" in srv.logs()
    s.close()
    assert closed, "a peer that never reads kept its connection (and queued response) open"
    assert srv.get("/healthz").status_code == 200
    assert "sluice_http_timeouts_total" in m0


def test_busy_keepalive_connection_not_closed(make_server):
    srv = make_server("--idle-timeout-ms", "600")
    s = connect(srv)
    try:
        end = time.monotonic() + 1.8
        n = 0
        while time.monotonic() < end:
            s.sendall(HEALTH_REQ)
            assert read_response(s).status == 200
            n += 1
            time.sleep(0.25)
        assert n >= 5
    finally:
        s.close()


def test_slow_headers_408(make_server):
    srv = make_server("--request-timeout-ms", "500", "--idle-timeout-ms", "10000")
    s = connect(srv)
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")   # headers never finished
    t0 = time.monotonic()
    data, closed = read_until_closed(s, 5.0)
    el = time.monotonic() - t0
    s.close()
    assert data.startswith(b"HTTP/1.1 408"), "slow request got %r after %.2fs" % (data[:300], el)
    assert b"request_timeout" in data
    assert closed and el >= 0.3


def test_slow_body_408(make_server):
    srv = make_server("--request-timeout-ms", "500", "--idle-timeout-ms", "10000")
    create_topic(srv, "t")
    s = connect(srv)
    s.sendall(b"POST /v1/topics/t/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-ndjson\r\n"
              b"Content-Length: 100\r\n\r\n{\"a\":")
    data, closed = read_until_closed(s, 5.0)
    s.close()
    assert data.startswith(b"HTTP/1.1 408"), data[:300]
    assert closed
    assert latest_offsets(srv, "t") == {0: 0}


def test_long_poll_and_sse_outlive_request_and_idle_timeouts(make_server):
    srv = make_server("--request-timeout-ms", "400", "--idle-timeout-ms", "400")
    create_topic(srv, "t")
    t0 = time.monotonic()
    r = fetch(srv, "t", 0, offset=0, timeout_ms=1500)
    expect(r, 200)
    assert r.content.strip() == b"" and time.monotonic() - t0 >= 1.4
    sse = SSEClient(srv, "/v1/topics/t/stream?from=earliest")
    try:
        time.sleep(1.2)
        produce_ok(srv, "t", [{"late": 1}], NDJSON)
        ev = sse.events(1, deadline=5)[0]
        assert json.loads(ev["data"])["value"] == {"late": 1}
    finally:
        sse.close()


def test_headers_too_large_431(server):
    s = connect(server)
    big = b"X-Big: " + b"h" * (256 * 1024) + b"\r\n"
    try:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + big + b"\r\n")
    except OSError:
        pass
    data, _ = read_until_closed(s, 5.0)
    s.close()
    assert data.startswith(b"HTTP/1.1 431"), data[:300]
    assert b"headers_too_large" in data
    assert server.get("/healthz").status_code == 200


def test_garbage_request_does_not_crash(server):
    s = connect(server)
    s.sendall(b"\x16\x03\x01\x02\x00garbage not http\r\n\r\n")
    data, closed = read_until_closed(s, 5.0)
    s.close()
    assert closed
    assert data == b"" or data.startswith(b"HTTP/1.1 400"), data[:200]
    assert server.get("/healthz").status_code == 200


# --- operations --------------------------------------------------------------------------------

def test_healthz(server):
    r = server.get("/healthz")
    expect(r, 200)
    assert r.json() == {"status": "ok"}


METRIC_LINE = re.compile(r'^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})? (-?[0-9.]+([eE][-+]?[0-9]+)?|NaN|[+-]Inf)( -?[0-9]+)?$')


def test_metrics_prometheus_text(server):
    create_topic(server, "t")
    produce_ok(server, "t", [{"a": i} for i in range(10)], NDJSON)
    fetch_all(server, "t", 0)
    r = server.get("/metrics")
    expect(r, 200)
    assert r.headers["Content-Type"].startswith("text/plain")
    lines = [ln for ln in r.text.split("\n") if ln]
    samples = [ln for ln in lines if not ln.startswith("#")]
    for ln in lines:
        if ln.startswith("#"):
            assert re.match(r"^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* ", ln), ln
        else:
            assert METRIC_LINE.match(ln), "not Prometheus text format: %r" % ln
    sluice = [ln for ln in samples if ln.startswith("sluice_")]
    assert len(sluice) >= 3, r.text[:2000]
    assert any("_bucket{" in ln and 'le="+Inf"' in ln for ln in sluice), "no latency histogram"
    # some events counter reflects the 10 events produced
    ev = [ln for ln in sluice if "event" in ln.split("{")[0].split(" ")[0]]
    assert any(float(ln.split(" ")[1]) >= 10 for ln in ev), "no events counter >= 10: %s" % ev


def test_unknown_routes_404(server):
    create_topic(server, "t")
    create_topic(server, "a")
    for path in ["/", "/nope", "/v1", "/v1/topics/t/bogus", "/v2/topics", "/v1/topics/a/partitions/0/nope"]:
        r = server.get(path)
        expect(r, 404, "not_found")


@pytest.mark.parametrize("method,path", [("PUT", "/v1/topics"), ("DELETE", "/v1/topics"), ("POST", "/healthz"),
                                         ("GET", "/v1/topics/t/events"), ("PATCH", "/v1/topics/t"),
                                         ("PUT", "/v1/groups/g/members")])
def test_wrong_method_405(server, method, path):
    create_topic(server, "t")
    r = server.request(method, path)
    expect(r, 405, "method_not_allowed")


def test_pipelined_requests_answered_in_order(server):
    create_topic(server, "t")
    s = connect(server)
    s.sendall(HEALTH_REQ + b"GET /v1/topics/t HTTP/1.1\r\nHost: x\r\n\r\n" + b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n")
    r1, r2, r3 = read_response(s), read_response(s), read_response(s)
    s.close()
    assert (r1.status, r2.status, r3.status) == (200, 200, 404)
    assert r2.json()["name"] == "t"


# --- disk full ---------------------------------------------------------------------------------

@pytest.fixture
def small_tmpfs(tmp_path):
    mnt = tmp_path / "fs"
    mnt.mkdir()
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mnt)],
                       capture_output=True, text=True)
    if p.returncode != 0:
        pytest.skip("cannot mount a tmpfs for the disk-full test (needs root): %s" % p.stderr.strip())
    yield mnt
    r = subprocess.run(["umount", str(mnt)], capture_output=True, text=True)
    if r.returncode != 0:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def test_disk_full_507_and_recovery(make_server, small_tmpfs):
    filler = small_tmpfs / "filler"
    with open(filler, "wb") as f:
        f.write(os.urandom(3 * 1024 * 1024))
    srv = make_server("--segment-bytes", "1048576", data_dir=small_tmpfs / "data")
    try:
        create_topic(srv, "t", partitions=2)
        acked = {0: [], 1: []}
        batch_no = 0
        failing_body = None
        end = time.monotonic() + 60
        while True:
            assert time.monotonic() < end, "no 507 within 60 s"
            assert batch_no < 400, "wrote far more than the 8 MB tmpfs holds without a 507"
            evs = [{"b": batch_no, "i": i, "pad": "d" * 400} for i in range(100)]
            body = "".join(json.dumps(e) + "\n" for e in evs)
            before = latest_offsets(srv, "t")
            r = produce(srv, "t", None, NDJSON, raw=body)
            if r.status_code == 200:
                offs = r.json()["offsets"]
                for e, o in zip(evs, offs):
                    assert o["offset"] == len(acked[o["partition"]])
                    acked[o["partition"]].append(e)
                batch_no += 1
                continue
            expect(r, 507, "disk_full")
            failing_body = body
            break
        assert batch_no >= 5, "disk full after only %d batches" % batch_no
        # nothing of the failing request is stored
        after = latest_offsets(srv, "t")
        assert after == before == {p: len(v) for p, v in acked.items()}, (before, after)
        # reads keep working and return exactly what was acknowledged
        for p in (0, 1):
            recs = fetch_all(srv, "t", p)
            assert [x["value"] for x in recs] == acked[p]
        assert srv.get("/healthz").status_code == 200
        # another attempt while still full fails cleanly again, or (keyless events rotate to the
        # other partition, whose file may have space reserved already) is stored whole
        r = produce(srv, "t", None, NDJSON, raw=failing_body)
        if r.status_code == 200:
            for line, o in zip(failing_body.splitlines(), r.json()["offsets"]):
                assert o["offset"] == len(acked[o["partition"]])
                acked[o["partition"]].append(json.loads(line))
        else:
            expect(r, 507, "disk_full")
        assert latest_offsets(srv, "t") == {p: len(v) for p, v in acked.items()}
        # space returns: writes resume
        os.unlink(filler)
        end = time.monotonic() + 10
        while True:
            r = produce(srv, "t", None, NDJSON, raw=failing_body)
            if r.status_code == 200:
                break
            assert r.status_code == 507, r.text
            assert time.monotonic() < end, "writes did not resume within 10 s after space was freed"
            time.sleep(0.2)
        evs = [json.loads(ln) for ln in failing_body.splitlines()]
        for e, o in zip(evs, r.json()["offsets"]):
            assert o["offset"] == len(acked[o["partition"]])
            acked[o["partition"]].append(e)
        # everything reads back after a restart too: no partial batch was left on disk
        srv.restart()
        for p in (0, 1):
            recs = fetch_all(srv, "t", p)
            assert [x["offset"] for x in recs] == list(range(len(acked[p])))
            assert [x["value"] for x in recs] == acked[p]
        assert latest_offsets(srv, "t") == {p: len(v) for p, v in acked.items()}
    finally:
        srv.stop()


def test_disk_full_on_topic_create_is_clean(make_server, small_tmpfs):
    filler = small_tmpfs / "filler"
    srv = make_server(data_dir=small_tmpfs / "data")
    try:
        create_topic(srv, "before")
        # fill the filesystem completely
        fd = os.open(str(filler), os.O_WRONLY | os.O_CREAT, 0o644)
        try:
            while True:
                os.write(fd, b"\1" * 65536)
        except OSError:
            pass
        try:
            while True:
                os.write(fd, b"\1" * 512)
        except OSError:
            pass
        os.close(fd)
        r = srv.post("/v1/topics", json={"name": "x", "partitions": 64})
        assert r.status_code in (201, 507), r.text
        if r.status_code == 507:
            assert r.json()["error"]["code"] == "disk_full"
        r2 = produce(srv, "before", [{"a": 1}], NDJSON)
        assert r2.status_code in (200, 507), r2.text
        assert srv.get("/healthz").status_code == 200
        assert srv.get("/v1/topics/before").status_code == 200
        os.unlink(filler)
        end = time.monotonic() + 10
        while True:
            r3 = produce(srv, "before", [{"a": 2}], NDJSON)
            if r3.status_code == 200:
                break
            assert time.monotonic() < end, r3.text
            time.sleep(0.2)
        srv.restart()
        names = [t["name"] for t in srv.get("/v1/topics").json()["topics"]]
        assert "before" in names
        assert ("x" in names) == (r.status_code == 201)
        n = describe_topic(srv, "before")["partition_stats"][0]["latest_offset"]
        assert n == (2 if r2.status_code == 200 else 1)
    finally:
        srv.stop()

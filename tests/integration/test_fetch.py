"""Fetching by partition and offset: offset/limit/max_bytes, earliest/latest, 416, the
Sluice-Next-Offset header, long-poll, malformed parameters; and the SSE tail."""

import json
import threading
import time

import pytest

from sluice_testlib import (SSEClient, create_topic, expect, fetch, fetch_all, parse_ndjson,
                            produce_ok)

NDJSON = "application/x-ndjson"
KAFKA = "application/vnd.kafka.json.v2+json"


@pytest.fixture
def ten(server):
    create_topic(server, "t")
    produce_ok(server, "t", [{"i": i, "pad": "x" * 100} for i in range(10)], NDJSON)
    return server


def offsets_of(r):
    return [rec["offset"] for rec in parse_ndjson(r.content)]


def test_fetch_line_format(ten):
    r = fetch(ten, "t", 0, offset=0, limit=1)
    expect(r, 200)
    assert r.headers["Content-Type"].startswith("application/x-ndjson")
    assert r.content.endswith(b"\n")
    rec = parse_ndjson(r.content)[0]
    assert set(rec) - {"_line", "_raw_value"} == {"topic", "partition", "offset", "timestamp", "key", "value"}
    assert rec["topic"] == "t" and rec["partition"] == 0 and rec["offset"] == 0
    assert isinstance(rec["timestamp"], int) and rec["key"] is None
    assert rec["value"] == {"i": 0, "pad": "x" * 100}


def test_offset_and_limit(ten):
    r = fetch(ten, "t", 0, offset=3, limit=4)
    expect(r, 200)
    assert offsets_of(r) == [3, 4, 5, 6]
    assert [x["value"]["i"] for x in parse_ndjson(r.content)] == [3, 4, 5, 6]
    assert r.headers["Sluice-Next-Offset"] == "7"
    r = fetch(ten, "t", 0, offset=7)
    assert offsets_of(r) == [7, 8, 9] and r.headers["Sluice-Next-Offset"] == "10"


def test_default_offset_is_earliest_and_limit_1000(server):
    create_topic(server, "t")
    produce_ok(server, "t", [{"i": i} for i in range(1500)], NDJSON)
    r = server.get("/v1/topics/t/partitions/0/events")
    expect(r, 200)
    assert offsets_of(r) == list(range(1000))
    assert r.headers["Sluice-Next-Offset"] == "1000"
    r = fetch(server, "t", 0, offset=1000, limit=100000)
    assert offsets_of(r) == list(range(1000, 1500))


def test_max_bytes(ten):
    r = fetch(ten, "t", 0, offset=0, max_bytes=1)
    expect(r, 200)
    assert offsets_of(r) == [0], "max_bytes smaller than one event still returns exactly one event"
    assert r.headers["Sluice-Next-Offset"] == "1"
    r = fetch(ten, "t", 0, offset=2, max_bytes=350)
    got = offsets_of(r)
    assert 1 <= len(got) <= 3 and got == list(range(2, 2 + len(got))), got
    assert int(r.headers["Sluice-Next-Offset"]) == 2 + len(got)
    r = fetch(ten, "t", 0, offset=0, max_bytes=64 * 1024 * 1024)
    assert offsets_of(r) == list(range(10))


def test_earliest_and_latest(ten):
    r = fetch(ten, "t", 0, offset="earliest", limit=2)
    assert offsets_of(r) == [0, 1]
    r = fetch(ten, "t", 0, offset="latest")
    expect(r, 200)
    assert r.content.strip() == b""
    assert r.headers["Sluice-Next-Offset"] == "10"


def test_offset_equal_to_latest_is_empty_not_416(ten):
    r = fetch(ten, "t", 0, offset=10)
    expect(r, 200)
    assert r.content.strip() == b"" and r.headers["Sluice-Next-Offset"] == "10"


def test_offset_above_latest_416(ten):
    r = fetch(ten, "t", 0, offset=11)
    expect(r, 416, "offset_out_of_range")
    err = r.json()["error"]
    assert err["earliest"] == 0 and err["latest"] == 10, err
    r = fetch(ten, "t", 0, offset=10 ** 15)
    expect(r, 416, "offset_out_of_range")


def test_offset_below_earliest_416(make_server):
    srv = make_server()
    create_topic(srv, "t", segment_bytes=4096, retention_bytes=4096)
    for i in range(60):
        produce_ok(srv, "t", [{"i": i, "pad": "q" * 200}], NDJSON)
    end = time.monotonic() + 10
    while True:
        ps = srv.get("/v1/topics/t").json()["partition_stats"][0]
        if ps["earliest_offset"] > 0:
            break
        assert time.monotonic() < end, "retention never moved earliest_offset: %s" % ps
        time.sleep(0.2)
    earliest = ps["earliest_offset"]
    r = fetch(srv, "t", 0, offset=earliest - 1)
    expect(r, 416, "offset_out_of_range")
    err = r.json()["error"]
    assert err["latest"] == 60 and err["earliest"] >= earliest, err
    r = fetch(srv, "t", 0, offset="earliest", limit=1)
    first = parse_ndjson(r.content)[0]
    assert first["offset"] >= earliest and first["value"]["i"] == first["offset"]


@pytest.mark.parametrize("params", [
    {"offset": "abc"}, {"offset": "-1x"}, {"offset": "1.5"}, {"offset": "0x10"},
    {"limit": "abc"}, {"limit": "-1"}, {"limit": "1e3"},
    {"max_bytes": "lots"}, {"max_bytes": "-5"},
    {"timeout_ms": "soon"}, {"timeout_ms": "-1"},
    {"offset": "99999999999999999999999"},
])
def test_malformed_query_params_400(ten, params):
    r = fetch(ten, "t", 0, **params)
    expect(r, 400, "bad_request")


def test_long_poll_wakes_on_new_data(server):
    create_topic(server, "t")
    result = {}

    def poll():
        t0 = time.monotonic()
        try:
            r = fetch(server, "t", 0, offset=0, timeout_ms=10000)
            result["status"] = r.status_code
            result["body"] = r.content
        except Exception as e:  # reported below
            result["exc"] = e
        result["elapsed"] = time.monotonic() - t0

    th = threading.Thread(target=poll, daemon=True)
    th.start()
    time.sleep(0.5)
    assert th.is_alive(), "the long-poll returned before any data: %r" % result
    t_produce = time.monotonic()
    produce_ok(server, "t", [{"hello": "world"}], NDJSON)
    th.join(timeout=15)
    assert not th.is_alive(), "long-poll did not return"
    assert "exc" not in result, result
    assert result["status"] == 200
    recs = parse_ndjson(result["body"])
    assert [r["value"] for r in recs] == [{"hello": "world"}]
    woke_after = time.monotonic() - t_produce
    assert woke_after < 2.0 and result["elapsed"] < 5.0, result


def test_long_poll_on_latest_wakes(ten):
    result = {}

    def poll():
        r = fetch(ten, "t", 0, offset="latest", timeout_ms=10000)
        result["r"] = r

    th = threading.Thread(target=poll, daemon=True)
    t0 = time.monotonic()
    th.start()
    time.sleep(0.5)
    produce_ok(ten, "t", [{"late": 1}], NDJSON)
    th.join(timeout=15)
    assert not th.is_alive()
    assert time.monotonic() - t0 < 5
    assert offsets_of(result["r"]) == [10]


def test_long_poll_times_out_with_empty_200(ten):
    t0 = time.monotonic()
    r = fetch(ten, "t", 0, offset=10, timeout_ms=700)
    el = time.monotonic() - t0
    expect(r, 200)
    assert r.content.strip() == b""
    assert r.headers["Sluice-Next-Offset"] == "10"
    assert 0.6 <= el < 5.0, el


def test_fetch_with_data_does_not_wait(ten):
    t0 = time.monotonic()
    r = fetch(ten, "t", 0, offset=5, timeout_ms=10000)
    assert offsets_of(r) == [5, 6, 7, 8, 9]
    assert time.monotonic() - t0 < 2.0


def test_many_concurrent_long_polls_all_wake(server):
    create_topic(server, "t")
    out = []
    lock = threading.Lock()

    def poll():
        r = fetch(server, "t", 0, offset=0, timeout_ms=10000)
        with lock:
            out.append(offsets_of(r))

    ths = [threading.Thread(target=poll, daemon=True) for _ in range(8)]
    for th in ths:
        th.start()
    time.sleep(0.5)
    produce_ok(server, "t", [{"x": 1}], NDJSON)
    for th in ths:
        th.join(timeout=10)
    assert out == [[0]] * 8


# --- SSE -----------------------------------------------------------------------------------

def check_sse_event(ev, topic):
    p, o = ev["id"].split(":")
    data = json.loads(ev["data"])
    assert data["topic"] == topic and data["partition"] == int(p) and data["offset"] == int(o), ev
    return data


def test_sse_from_earliest_then_live(server):
    create_topic(server, "t", partitions=2)
    produce_ok(server, "t", None, KAFKA, raw=json.dumps(
        {"records": [{"value": {"n": 0}, "partition": 0}, {"value": {"n": 1}, "partition": 1},
                     {"value": {"n": 2}, "partition": 0}]}))
    sse = SSEClient(server, "/v1/topics/t/stream?from=earliest")
    try:
        assert sse.status == 200
        assert sse.headers.get("content-type", "").startswith("text/event-stream")
        evs = sse.events(3, deadline=5)
        datas = [check_sse_event(e, "t") for e in evs]
        assert sorted(d["value"]["n"] for d in datas) == [0, 1, 2]
        p0 = [d["value"]["n"] for d in datas if d["partition"] == 0]
        assert p0 == [0, 2], "order within a partition"
        t0 = time.monotonic()
        produce_ok(server, "t", None, KAFKA, raw=json.dumps(
            {"records": [{"value": {"n": 3}, "partition": 1}, {"value": {"n": 4}, "partition": 0}]}))
        evs = sse.events(2, deadline=5)
        assert time.monotonic() - t0 < 3
        datas = [check_sse_event(e, "t") for e in evs]
        assert sorted(d["value"]["n"] for d in datas) == [3, 4]
        assert {(d["partition"], d["offset"]) for d in datas} == {(1, 1), (0, 2)}
    finally:
        sse.close()


def test_sse_default_from_latest_only_new(server):
    create_topic(server, "t")
    produce_ok(server, "t", [{"old": i} for i in range(3)], NDJSON)
    sse = SSEClient(server, "/v1/topics/t/stream")
    try:
        assert sse.status == 200
        time.sleep(0.3)
        produce_ok(server, "t", [{"new": 1}], NDJSON)
        ev = sse.events(1, deadline=5)[0]
        assert ev["id"] == "0:3"
        assert check_sse_event(ev, "t")["value"] == {"new": 1}
    finally:
        sse.close()


def test_sse_unknown_topic_404(server):
    r = server.get("/v1/topics/nope/stream?from=earliest")
    expect(r, 404, "topic_not_found")


def test_sse_bad_from_400(server):
    create_topic(server, "t")
    r = server.get("/v1/topics/t/stream?from=yesterday")
    expect(r, 400, "bad_request")


def test_sse_client_disconnect_does_not_hurt_server(server):
    create_topic(server, "t")
    for _ in range(5):
        sse = SSEClient(server, "/v1/topics/t/stream?from=earliest")
        assert sse.status == 200
        sse.close()
    produce_ok(server, "t", [{"a": i} for i in range(100)], NDJSON)
    assert len(fetch_all(server, "t", 0)) == 100
    assert server.get("/healthz").status_code == 200


def test_topic_deleted_during_long_poll_and_stream(server):
    create_topic(server, "t")
    out = {}

    def poll():
        t0 = time.monotonic()
        try:
            out["r"] = fetch(server, "t", 0, offset=0, timeout_ms=10000)
        except Exception as e:
            out["exc"] = e
        out["el"] = time.monotonic() - t0

    th = threading.Thread(target=poll, daemon=True)
    th.start()
    sse = SSEClient(server, "/v1/topics/t/stream?from=earliest")
    try:
        time.sleep(0.5)
        assert server.delete("/v1/topics/t").status_code == 204
        th.join(timeout=15)
        assert not th.is_alive()
        assert "exc" not in out, out
        assert out["r"].status_code in (200, 404), out["r"].text
        if out["r"].status_code == 200:
            assert out["r"].content.strip() == b""
        assert out["el"] < 9.5, "a long-poll on a deleted topic should end early, took %.1fs" % out["el"]
        # the stream ends (or at least the server stays healthy)
        assert server.get("/healthz").status_code == 200
    finally:
        sse.close()
    create_topic(server, "t")
    assert produce_ok(server, "t", [{"x": 1}], NDJSON) == [(0, 0)]


def test_sigterm_with_open_long_polls_and_streams(server):
    create_topic(server, "t")
    results = []

    def poll():
        try:
            r = fetch(server, "t", 0, offset=0, timeout_ms=30000)
            results.append(r.status_code)
        except Exception as e:
            results.append(type(e).__name__)

    ths = [threading.Thread(target=poll, daemon=True) for _ in range(3)]
    for th in ths:
        th.start()
    streams = [SSEClient(server, "/v1/topics/t/stream") for _ in range(2)]
    time.sleep(0.5)
    t0 = time.monotonic()
    rc, clean = server.stop()
    assert clean, "SIGTERM with open long-polls/streams did not exit within 5 s"
    assert rc == 0, rc
    assert time.monotonic() - t0 < 5
    for th in ths:
        th.join(timeout=10)
    assert len(results) == 3
    for s in streams:
        s.close()
    server.start()
    assert produce_ok(server, "t", [{"x": 1}], NDJSON) == [(0, 0)]

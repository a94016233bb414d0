"""Topics: create, list, describe, delete, validation; persistence across SIGTERM and kill -9
restarts; segment roll; retention by bytes and by time."""

import json
import signal
import time

import pytest

from sluice_testlib import (connect, create_topic, describe_topic, expect, fetch, fetch_all,
                            latest_offsets, parse_ndjson, produce, produce_ok, read_response)

NDJSON = "application/x-ndjson"
KAFKA = "application/vnd.kafka.json.v2+json"
TOPIC_FIELDS = {"name", "partitions", "key", "timestamp", "retention_ms", "retention_bytes",
                "segment_bytes", "segment_ms", "created_ms"}


def test_create_echoes_all_fields(server):
    body = {"name": "clicks", "partitions": 8, "key": "/user_id", "timestamp": "/ts",
            "retention_ms": 604800000, "retention_bytes": 10000000, "segment_bytes": 1048576,
            "segment_ms": 3600000}
    now = int(time.time() * 1000)
    r = server.post("/v1/topics", json=body)
    expect(r, 201)
    t = r.json()
    assert TOPIC_FIELDS <= set(t), t
    for k, v in body.items():
        assert t[k] == v, (k, t)
    assert abs(t["created_ms"] - now) < 60000


def test_create_defaults(server):
    t = create_topic(server, "plain")
    assert t["partitions"] == 1 and t["key"] is None and t["timestamp"] is None
    assert t["retention_ms"] == -1 and t["retention_bytes"] == -1
    assert t["segment_bytes"] == 134217728 and t["segment_ms"] == 604800000


def test_duplicate_409(server):
    create_topic(server, "t")
    r = server.post("/v1/topics", json={"name": "t", "partitions": 3})
    expect(r, 409, "topic_exists")
    assert describe_topic(server, "t")["partitions"] == 1


@pytest.mark.parametrize("name", ["", "a" * 250, "bad name", "bad/name", "bad\\name", "caf\u00e9", ".", "..",
                                  "a:b", "a*b", "t\n"])
def test_invalid_names_400(server, name):
    r = server.post("/v1/topics", json={"name": name})
    expect(r, 400, "invalid_topic")
    listing = server.get("/v1/topics").json()["topics"]
    assert listing == []


def test_valid_edge_names(server):
    for name in ["a" * 249, "A.b_c-9", "...", ".a", "_"]:
        t = create_topic(server, name)
        assert t["name"] == name
        assert describe_topic(server, name)["name"] == name


@pytest.mark.parametrize("body", [
    {"name": "t", "partitions": 0}, {"name": "t", "partitions": 4097}, {"name": "t", "partitions": -1},
    {"name": "t", "partitions": "3"}, {"name": "t", "partitions": 1.5}, {"name": "t", "key": "user_id"},
    {"name": "t", "timestamp": "ts"}, {"name": "t", "retention_ms": -2}, {"name": "t", "segment_bytes": 0},
    {"name": 5}, {"partitions": 2}, {"name": "t", "key": 7},
])
def test_invalid_settings_400(server, body):
    r = server.post("/v1/topics", json=body)
    assert r.status_code == 400, (body, r.status_code, r.text)
    assert r.json()["error"]["code"] in ("invalid_topic", "bad_request"), r.text
    assert server.get("/v1/topics").json()["topics"] == []


def test_create_body_not_json_400(server):
    r = server.post("/v1/topics", data=b"{nope", headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["error"]["code"] in ("invalid_json", "bad_request"), r.text


def test_partitions_4096_ok(server):
    t0 = time.monotonic()
    r = server.post("/v1/topics", json={"name": "wide", "partitions": 4096}, timeout=120)
    expect(r, 201)
    print("creating 4096 partitions took %.1fs" % (time.monotonic() - t0))
    t = r.json()
    assert t["partitions"] == 4096
    d = describe_topic(server, "wide")
    assert len(d["partition_stats"]) == 4096
    offs = produce_ok(server, "wide", None, KAFKA, raw='{"records":[{"value":1,"partition":4095}]}')
    assert offs == [(4095, 0)]


def test_list_sorted(server):
    for n in ["b", "a", "c", "B", "a.1"]:
        create_topic(server, n)
    r = server.get("/v1/topics")
    expect(r, 200)
    topics = r.json()["topics"]
    names = [t["name"] for t in topics]
    assert names == sorted(["b", "a", "c", "B", "a.1"])
    assert all(TOPIC_FIELDS <= set(t) for t in topics)


def test_describe_stats(server):
    create_topic(server, "t", partitions=3)
    produce_ok(server, "t", None, KAFKA, raw=json.dumps(
        {"records": [{"value": {"i": i}, "partition": 0} for i in range(5)] +
                    [{"value": {"i": 9}, "partition": 2}]}))
    d = describe_topic(server, "t")
    assert TOPIC_FIELDS <= set(d)
    stats = sorted(d["partition_stats"], key=lambda s: s["partition"])
    assert [s["partition"] for s in stats] == [0, 1, 2]
    assert [(s["earliest_offset"], s["latest_offset"]) for s in stats] == [(0, 5), (0, 0), (0, 1)]
    assert stats[0]["bytes"] > stats[2]["bytes"] > 0
    assert all(s["segments"] >= 1 for s in stats)


def test_describe_unknown_404(server):
    expect(server.get("/v1/topics/nope"), 404, "topic_not_found")
    expect(server.delete("/v1/topics/nope"), 404, "topic_not_found")


def test_delete(server):
    create_topic(server, "t")
    create_topic(server, "keep")
    produce_ok(server, "t", [{"a": 1}, {"a": 2}], NDJSON)
    r = server.delete("/v1/topics/t")
    assert r.status_code == 204, r.text
    expect(server.get("/v1/topics/t"), 404, "topic_not_found")
    expect(produce(server, "t", [{"a": 3}], NDJSON), 404, "topic_not_found")
    expect(fetch(server, "t", 0), 404, "topic_not_found")
    assert [t["name"] for t in server.get("/v1/topics").json()["topics"]] == ["keep"]
    # recreated with the same name: empty
    create_topic(server, "t", partitions=2)
    assert latest_offsets(server, "t") == {0: 0, 1: 0}
    assert fetch_all(server, "t", 0) == []


def test_delete_survives_restart(server):
    create_topic(server, "t")
    produce_ok(server, "t", [{"a": 1}], NDJSON)
    assert server.delete("/v1/topics/t").status_code == 204
    server.restart()
    expect(server.get("/v1/topics/t"), 404, "topic_not_found")
    assert server.get("/v1/topics").json()["topics"] == []


def populate(srv):
    create_topic(srv, "a", partitions=3, key="/k", timestamp="/ts", retention_ms=86400000)
    create_topic(srv, "b")
    sent = {}
    for i in range(20):
        evs = [{"k": "key%d" % j, "ts": 1700000000000 + i * 100 + j, "i": i, "j": j} for j in range(7)]
        for ev, (p, o) in zip(evs, produce_ok(srv, "a", evs, NDJSON)):
            sent[(p, o)] = ev
    produce_ok(srv, "b", None, NDJSON, raw='{"x": 1.0e3, "s":"\\u00e9"}\n')
    r = srv.post("/v1/groups/g/members", json={"topics": ["b"], "session_timeout_ms": 60000})
    expect(r, 200)
    m = r.json()
    r = srv.post("/v1/groups/g/members/%s/commit" % m["member_id"],
                 json={"generation": m["generation"], "offsets": [{"topic": "b", "partition": 0, "offset": 1}]})
    expect(r, 200)
    assert srv.delete("/v1/groups/g/members/%s" % m["member_id"]).status_code == 204
    return sent, describe_topic(srv, "a"), describe_topic(srv, "b")


def check_population(srv, sent, desc_a, desc_b):
    da, db = describe_topic(srv, "a"), describe_topic(srv, "b")
    for d0, d1 in ((desc_a, da), (desc_b, db)):
        for f in TOPIC_FIELDS:
            assert d0[f] == d1[f], (f, d0[f], d1[f])
        s0 = [(s["partition"], s["earliest_offset"], s["latest_offset"]) for s in d0["partition_stats"]]
        s1 = [(s["partition"], s["earliest_offset"], s["latest_offset"]) for s in d1["partition_stats"]]
        assert s0 == s1
    got = {}
    for p in range(3):
        recs = fetch_all(srv, "a", p)
        assert [r["offset"] for r in recs] == list(range(len(recs)))
        for r in recs:
            got[(p, r["offset"])] = r["value"]
            assert r["timestamp"] == r["value"]["ts"]
            assert r["key"] == r["value"]["k"]
    assert got == sent
    recs = fetch_all(srv, "b", 0)
    assert [r["_raw_value"] for r in recs] == ['{"x": 1.0e3, "s":"\\u00e9"}']
    r = srv.get("/v1/groups/g")
    expect(r, 200)
    offs = {(o["topic"], o["partition"]): o for o in r.json()["offsets"]}
    assert offs[("b", 0)]["committed"] == 1 and offs[("b", 0)]["lag"] == 0


def test_survives_sigterm_restart(server):
    state = populate(server)
    rc, clean = server.stop(signal.SIGTERM)
    assert clean, "sluice did not exit within 5 s of SIGTERM"
    assert rc == 0, "exit status after SIGTERM: %s\n%s" % (rc, server.logs())
    server.start()
    check_population(server, *state)
    # and it keeps working: appends continue at the right offsets
    offs = produce_ok(server, "b", [{"after": 1}], NDJSON)
    assert offs == [(0, 1)]


def test_survives_kill9_restart(server):
    state = populate(server)
    server.restart(signal.SIGKILL)
    check_population(server, *state)
    server.restart(signal.SIGKILL)
    check_population(server, *state)
    offs = produce_ok(server, "b", [{"after": 1}], NDJSON)
    assert offs == [(0, 1)]


def test_listening_line_on_stdout(server):
    end = time.monotonic() + 5
    want = "listening on http://127.0.0.1:%d" % server.port
    while True:
        with open(server.stdout_path, "rb") as f:
            out = f.read().decode("utf-8", "replace")
        if want in out:
            break
        assert time.monotonic() < end, "stdout lacks %r (is it flushed?): %r" % (want, out)
        time.sleep(0.1)


def produce_many_small(srv, topic, n, pad=150):
    sent = []
    for i in range(n):
        ev = {"i": i, "pad": "s" * pad}
        produce_ok(srv, topic, [ev], NDJSON)
        sent.append(ev)
    return sent


def test_segment_roll_with_flag_and_restart(make_server):
    srv = make_server("--segment-bytes", "4096")
    create_topic(srv, "t")
    sent = produce_many_small(srv, "t", 150)
    st = describe_topic(srv, "t")["partition_stats"][0]
    assert st["segments"] > 1, st
    assert st["latest_offset"] == 150
    recs = fetch_all(srv, "t", 0)
    assert [r["value"] for r in recs] == sent
    srv.restart()
    st2 = describe_topic(srv, "t")["partition_stats"][0]
    assert st2["segments"] == st["segments"] and st2["latest_offset"] == 150
    recs = fetch_all(srv, "t", 0)
    assert [r["value"] for r in recs] == sent
    assert [r["offset"] for r in recs] == list(range(150))
    # reads starting in the middle of a later segment
    r = fetch(srv, "t", 0, offset=97, limit=5)
    assert [x["offset"] for x in fetch_all_lines(r)] == [97, 98, 99, 100, 101]
    srv.restart(signal.SIGKILL)
    assert [r["value"] for r in fetch_all(srv, "t", 0)] == sent
    offs = produce_ok(srv, "t", [{"i": 150}], NDJSON)
    assert offs == [(0, 150)]


def fetch_all_lines(r):
    expect(r, 200)
    return parse_ndjson(r.content)


def test_segment_roll_with_topic_setting(server):
    t = create_topic(server, "t", segment_bytes=8192)
    assert t["segment_bytes"] == 8192
    sent = produce_many_small(server, "t", 150)
    st = describe_topic(server, "t")["partition_stats"][0]
    assert st["segments"] > 1, st
    assert [r["value"] for r in fetch_all(server, "t", 0)] == sent


def test_retention_bytes_deletes_whole_old_segments(server):
    create_topic(server, "t", segment_bytes=4096, retention_bytes=8192)
    sent = produce_many_small(server, "t", 200)
    # retention runs periodically (and may have run during the produce loop): wait until the
    # log is down to about retention_bytes: never more than retention + one segment (+ overhead)
    end = time.monotonic() + 10
    while True:
        st = describe_topic(server, "t")["partition_stats"][0]
        if st["earliest_offset"] > 0 and st["bytes"] <= 8192 + 4096 + 1024:
            break
        assert time.monotonic() < end, "retention did not bring the log near retention_bytes: %s" % st
        time.sleep(0.2)
    assert st["latest_offset"] == 200
    assert st["segments"] >= 2, "the kept bytes are whole segments, the active one included: %s" % st
    # the rest of the log is intact and contiguous from its first offset
    recs = fetch_all(server, "t", 0)
    first = recs[0]["offset"]
    assert first >= st["earliest_offset"]
    assert [r["offset"] for r in recs] == list(range(first, 200))
    assert [r["value"] for r in recs] == sent[first:]
    expect(fetch(server, "t", 0, offset=0), 416, "offset_out_of_range")
    # and retention survives a restart
    server.restart()
    st2 = describe_topic(server, "t")["partition_stats"][0]
    assert st2["earliest_offset"] >= st["earliest_offset"] and st2["latest_offset"] == 200
    recs = fetch_all(server, "t", 0)
    assert [r["value"] for r in recs] == sent[recs[0]["offset"]:]


@pytest.mark.parametrize("fsync", ["never", "interval:200"])
def test_retention_without_fsync_always(make_server, fsync):
    """With fsync=never nothing is ever synced: retention must still delete old segments (it
    deletes what readers can see, not only what an fsync covered)."""
    srv = make_server("--fsync", fsync)
    create_topic(srv, "t", segment_bytes=4096, retention_bytes=8192)
    sent = produce_many_small(srv, "t", 200)
    end = time.monotonic() + 10
    while True:
        st = describe_topic(srv, "t")["partition_stats"][0]
        if st["earliest_offset"] > 0 and st["bytes"] <= 8192 + 4096 + 1024:
            break
        assert time.monotonic() < end, "retention never ran with fsync=%s: %s" % (fsync, st)
        time.sleep(0.2)
    recs = fetch_all(srv, "t", 0)
    assert [r["value"] for r in recs] == sent[recs[0]["offset"]:]
    assert recs[-1]["offset"] == 199


def test_retention_ms_deletes_old_segments(server):
    create_topic(server, "t", segment_ms=300, retention_ms=1000)
    produce_many_small(server, "t", 5)
    time.sleep(1.2)
    # segment_ms has passed: the next append goes to a new segment, the old one can expire
    sent = produce_many_small(server, "t", 3)
    end = time.monotonic() + 10
    while True:
        st = describe_topic(server, "t")["partition_stats"][0]
        if st["earliest_offset"] >= 5:
            break
        assert time.monotonic() < end, "retention_ms never deleted the old segment: %s" % st
        # keep the new segment fresh so that only the old one qualifies
        time.sleep(0.2)
    assert st["latest_offset"] == 8
    recs = fetch_all(server, "t", 0)
    first = recs[0]["offset"] if recs else 8     # the newer events may expire meanwhile too
    assert first >= st["earliest_offset"]
    assert [r["offset"] for r in recs] == list(range(first, 8))
    assert [r["value"] for r in recs] == sent[first - 5:]


def test_names_starting_with_dot_survive_restart(server):
    """Names are [a-zA-Z0-9._-]{1,249} except "." and "..": a leading dot is legal, so such
    topics (even ones that look like the server's own temporary names) must persist."""
    names = [".a", "...", ".creating-x", ".deleted-y-1", "-dash"]
    for n in names:
        create_topic(server, n)
        produce_ok(server, n, [{"n": n}], NDJSON)
    server.restart()
    listed = [t["name"] for t in server.get("/v1/topics").json()["topics"]]
    assert listed == sorted(names)
    for n in names:
        assert [r["value"] for r in fetch_all(server, n, 0)] == [{"n": n}]
    for n in names:
        assert server.delete("/v1/topics/%s" % n).status_code == 204
    server.restart()
    assert server.get("/v1/topics").json()["topics"] == []


def test_path_traversal_names_do_not_escape(server):
    create_topic(server, "t")
    produce_ok(server, "t", [{"a": 1}], NDJSON)
    for path in ["/v1/topics/..", "/v1/topics/%2e%2e", "/v1/topics/%2E", "/v1/topics/t%2F..%2F..",
                 "/v1/topics/%2e%2e%2f%2e%2e", "/v1/topics/..%2ftopics"]:
        s = connect(server)
        s.sendall(("DELETE %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % path).encode())
        r = read_response(s)
        s.close()
        assert r.status in (400, 404), (path, r.status, r.body)
    assert [t["name"] for t in server.get("/v1/topics").json()["topics"]] == ["t"]
    assert [r["value"] for r in fetch_all(server, "t", 0)] == [{"a": 1}]
    server.restart()
    assert [r["value"] for r in fetch_all(server, "t", 0)] == [{"a": 1}]

"""Producing: the four body shapes, byte-exact values, offsets, partitioning (Kafka murmur2),
atomic validation, limits, chunked bodies and event timestamps."""

import json
import threading
import time
from datetime import datetime, timezone

import pytest

import requests

from sluice_testlib import (connect, create_topic, expect, fetch, fetch_all, kafka_partition,
                            latest_offsets, murmur2, parse_ndjson, produce, produce_ok, read_response)

NDJSON = "application/x-ndjson"
JSON = "application/json"
KAFKA = "application/vnd.kafka.json.v2+json"


def read_at(srv, topic, partition, offset):
    r = fetch(srv, topic, partition, offset=offset, limit=1)
    expect(r, 200)
    lines = [ln for ln in r.content.split(b"\n") if ln.strip()]
    assert len(lines) == 1, r.content
    rec = parse_ndjson(lines[0])[0]
    assert rec["offset"] == offset and rec["partition"] == partition, rec
    return rec


# --- body shapes -----------------------------------------------------------------------------

def test_single_json_value(server):
    create_topic(server, "t")
    text = '{"a": 1, "b":"\\u00e9", "c" : [1.0e3, -0, 2E-2, true, null]}'
    offs = produce_ok(server, "t", None, JSON, raw=text)
    assert offs == [(0, 0)]
    recs = fetch_all(server, "t", 0)
    assert len(recs) == 1
    assert recs[0]["_raw_value"] == text, "value must come back as its original JSON text"
    assert recs[0]["topic"] == "t" and recs[0]["partition"] == 0 and recs[0]["offset"] == 0
    assert recs[0]["key"] is None
    assert recs[0]["value"] == json.loads(text)


@pytest.mark.parametrize("text", ['1.0e3', '"\\u00e9\\n\\/x"', '-12.50', 'true', 'null', '"plain"',
                                  '{ }', '{"nested" : {"x":[ 1 ,2 ]}}', '"\u00e9 raw utf8 \U0001F600"'])
def test_scalar_and_odd_values_round_trip_exactly(server, text):
    create_topic(server, "t")
    produce_ok(server, "t", None, JSON, raw=text.encode("utf-8"))
    produce_ok(server, "t", None, NDJSON, raw=(text + "\n").encode("utf-8"))
    recs = fetch_all(server, "t", 0)
    assert [r["_raw_value"] for r in recs] == [text, text]


def test_json_array_is_one_event_per_element(server):
    create_topic(server, "t")
    elems = ['{"a": 1}', '[1, 2]', '"s"', '3.14E+1', '{"b":"\\u00e9"}']
    offs = produce_ok(server, "t", None, JSON, raw="[" + " , ".join(elems) + "]")
    assert offs == [(0, i) for i in range(5)]
    recs = fetch_all(server, "t", 0)
    assert [r["_raw_value"] for r in recs] == elems
    assert [r["offset"] for r in recs] == list(range(5))


def test_wrapped_array_is_a_single_array_event(server):
    create_topic(server, "t")
    offs = produce_ok(server, "t", None, JSON, raw="[[1,2]]")
    assert offs == [(0, 0)]
    recs = fetch_all(server, "t", 0)
    assert len(recs) == 1 and recs[0]["_raw_value"] == "[1,2]"


def test_ndjson_lines_and_empty_lines(server):
    create_topic(server, "t")
    lines = ['{"n": 0}', '{"n":1, "s":"\\u00e9"}', '', '  ', '{"n":2}']
    offs = produce_ok(server, "t", None, NDJSON, raw="\n".join(lines) + "\n")
    assert offs == [(0, 0), (0, 1), (0, 2)]
    recs = fetch_all(server, "t", 0)
    assert [r["_raw_value"] for r in recs] == ['{"n": 0}', '{"n":1, "s":"\\u00e9"}', '{"n":2}']


def test_ndjson_without_trailing_newline_and_crlf(server):
    create_topic(server, "t")
    offs = produce_ok(server, "t", None, NDJSON, raw='{"n":0}\r\n{"n":1}')
    assert offs == [(0, 0), (0, 1)]
    recs = fetch_all(server, "t", 0)
    assert [r["value"] for r in recs] == [{"n": 0}, {"n": 1}]


def test_content_type_with_charset_parameter(server):
    create_topic(server, "t")
    r = produce(server, "t", None, "application/json; charset=utf-8", raw='{"x":1}')
    expect(r, 200)
    assert r.json()["offsets"] == [{"partition": 0, "offset": 0}]


def test_records_shape_with_key_and_partition(server):
    create_topic(server, "t", partitions=4)
    body = ('{"records":[{"key":"k1","value":{"a": 1}},'
            '{"value":[1, 2],"partition":3},'
            '{"key":"k2","value":"str","partition":1},'
            '{"value":{"b":"\\u00e9"}}]}')
    r = produce(server, "t", None, KAFKA, raw=body)
    expect(r, 200)
    offs = [(o["partition"], o["offset"]) for o in r.json()["offsets"]]
    assert len(offs) == 4
    assert offs[0][0] == kafka_partition(b"k1", 4)
    assert offs[1][0] == 3
    assert offs[2][0] == 1, "explicit partition wins over the key"
    rec0 = read_at(server, "t", *offs[0])
    assert rec0["key"] == "k1" and rec0["_raw_value"] == '{"a": 1}'
    rec1 = read_at(server, "t", *offs[1])
    assert rec1["key"] is None and rec1["_raw_value"] == '[1, 2]'
    rec2 = read_at(server, "t", *offs[2])
    assert rec2["key"] == "k2" and rec2["_raw_value"] == '"str"'
    rec3 = read_at(server, "t", *offs[3])
    assert rec3["_raw_value"] == '{"b":"\\u00e9"}'


def test_records_shape_bad_partition(server):
    create_topic(server, "t", partitions=2)
    r = produce(server, "t", None, KAFKA, raw='{"records":[{"value":1,"partition":2}]}')
    assert r.status_code in (400, 404), r.text
    assert r.json()["error"]["code"] in ("partition_not_found", "bad_request"), r.text
    assert latest_offsets(server, "t") == {0: 0, 1: 0}


def test_records_shape_missing_records_is_400(server):
    create_topic(server, "t")
    for body in ['{"value":1}', '{"records":{}}', '{"records":[1]}', '[1]', '{"records":[{"value":1}]']:
        r = produce(server, "t", None, KAFKA, raw=body)
        assert r.status_code == 400, (body, r.status_code, r.text)
    assert latest_offsets(server, "t") == {0: 0}


# --- offsets and ordering --------------------------------------------------------------------

def test_offsets_in_request_order_across_partitions(server):
    create_topic(server, "t", partitions=5, key="/k")
    events = [{"k": "key-%d" % (i % 7), "i": i} for i in range(60)]
    offs = produce_ok(server, "t", events, NDJSON)
    assert len(offs) == 60
    for ev, (p, o) in zip(events, offs):
        assert p == kafka_partition(ev["k"].encode(), 5)
        assert read_at(server, "t", p, o)["value"] == ev
    # within each partition the offsets are consecutive and follow the request order
    per = {}
    for p, o in offs:
        per.setdefault(p, []).append(o)
    for p, os_ in per.items():
        assert os_ == list(range(os_[0], os_[0] + len(os_))), (p, os_)


def test_order_within_partition(server):
    create_topic(server, "t", partitions=3, key="/k")
    sent = []
    for b in range(30):
        evs = [{"k": "same", "seq": b * 3 + j} for j in range(3)]
        offs = produce_ok(server, "t", evs, NDJSON)
        sent.extend(zip(evs, offs))
    p = kafka_partition(b"same", 3)
    assert {po[0] for _, po in sent} == {p}
    recs = fetch_all(server, "t", p)
    assert [r["value"]["seq"] for r in recs] == list(range(90))
    assert [r["offset"] for r in recs] == list(range(90))
    assert [o for _, (_, o) in sent] == list(range(90))


def test_same_key_same_partition_and_key_in_output(server):
    create_topic(server, "t", partitions=8, key="/user")
    parts = {}
    for i in range(5):
        offs = produce_ok(server, "t", [{"user": "u%d" % j, "i": i} for j in range(10)], JSON)
        for j, (p, _) in enumerate(offs):
            parts.setdefault(j, set()).add(p)
    for j, ps in parts.items():
        assert len(ps) == 1, "key u%d went to partitions %s" % (j, ps)
    p = kafka_partition(b"u3", 8)
    recs = [r for r in fetch_all(server, "t", p) if r["value"]["user"] == "u3"]
    assert len(recs) == 5 and all(r["key"] == "u3" for r in recs)


# --- murmur2 partitioner ---------------------------------------------------------------------

KAFKA_MURMUR2 = [(b"21", -973932308), (b"foobar", -790332482),
                 (b"a-little-bit-long-string", -985981536),
                 (b"a-little-bit-longer-string", -1486304829),
                 (b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971),
                 (b"abc", 479470107)]


@pytest.mark.parametrize("data,want", KAFKA_MURMUR2)
def test_reference_murmur2_matches_kafka(data, want):
    assert murmur2(data) == want


def test_key_partition_equals_kafka_partitioner(server):
    n = 7
    create_topic(server, "t", partitions=n, key="/user")
    keys = [k.decode() for k, _ in KAFKA_MURMUR2] + ["user-%d" % i for i in range(40)] + ["\u00e9t\u00e9", "\u4e2d\u6587"]
    events = [{"user": k} for k in keys]
    offs = produce_ok(server, "t", events, NDJSON)
    for k, (p, _) in zip(keys, offs):
        assert p == kafka_partition(k.encode("utf-8"), n), "key %r" % k


def test_key_string_escapes_use_decoded_utf8_content(server):
    n = 16
    create_topic(server, "t", partitions=n, key="/user")
    raw = '{"user":"\\u00e9x\\n"}\n{"user":"a\\/b"}\n'
    offs = produce_ok(server, "t", None, NDJSON, raw=raw)
    assert offs[0][0] == kafka_partition("\u00e9x\n".encode("utf-8"), n)
    assert offs[1][0] == kafka_partition(b"a/b", n)


def test_non_string_key_uses_json_text(server):
    n = 16
    create_topic(server, "t", partitions=n, key="/user")
    cases = [("12345", b"12345"), ("true", b"true"), ("-7.5", b"-7.5"), ('{"a":1}', b'{"a":1}'),
             ("[1,2]", b"[1,2]")]
    raw = "".join('{"user":%s,"x":1}\n' % t for t, _ in cases)
    offs = produce_ok(server, "t", None, NDJSON, raw=raw)
    for (t, kb), (p, _) in zip(cases, offs):
        assert p == kafka_partition(kb, n), "key %s" % t


def test_nested_key_pointer(server):
    create_topic(server, "t", partitions=9, key="/user/id")
    offs = produce_ok(server, "t", [{"user": {"id": "abc"}}, {"user": {"id": "21"}}], NDJSON)
    assert offs[0][0] == kafka_partition(b"abc", 9)
    assert offs[1][0] == kafka_partition(b"21", 9)


def test_record_key_wins_over_pointer_and_explicit_partition_wins(server):
    n = 6
    create_topic(server, "t", partitions=n, key="/user")
    body = {"records": [{"key": "kk", "value": {"user": "other"}},
                        {"value": {"user": "other"}},
                        {"key": "kk", "value": {"user": "other"}, "partition": (kafka_partition(b"kk", n) + 1) % n}]}
    r = produce(server, "t", None, KAFKA, raw=json.dumps(body))
    expect(r, 200)
    offs = [(o["partition"], o["offset"]) for o in r.json()["offsets"]]
    assert offs[0][0] == kafka_partition(b"kk", n)
    assert offs[1][0] == kafka_partition(b"other", n), "without a record key, the topic's pointer applies"
    assert offs[2][0] == (kafka_partition(b"kk", n) + 1) % n


def test_keyless_events_sticky_per_request(server):
    create_topic(server, "t", partitions=4)
    used = set()
    for _ in range(8):
        offs = produce_ok(server, "t", [{"i": i} for i in range(20)], NDJSON)
        ps = {p for p, _ in offs}
        assert len(ps) == 1, "keyless events of one request go to one partition: %s" % offs
        p = ps.pop()
        used.add(p)
        os_ = [o for _, o in offs]
        assert os_ == list(range(os_[0], os_[0] + 20))
    assert len(used) >= 2, "keyless requests should rotate between partitions, all went to %s" % used


# --- atomic validation -----------------------------------------------------------------------

def test_mixed_good_bad_batch_is_rejected_atomically(server):
    create_topic(server, "t", partitions=3, key="/k")
    produce_ok(server, "t", [{"k": "a"}, {"k": "b"}, {"k": "c"}], NDJSON)
    before = latest_offsets(server, "t")
    lines = ['{"k":"a","n":0}', '{"k":"b","n":1}', '{"k":"c","n":2}', '{"k":"d", "n":}', '{"k":"e","n":4}']
    body = "\n".join(lines) + "\n"
    r = produce(server, "t", None, NDJSON, raw=body)
    expect(r, 400, "invalid_json")
    err = r.json()["error"]
    assert err["index"] == 3, err
    start = body.index(lines[3])
    assert start <= err["offset"] <= start + len(lines[3]), "byte offset %d outside event 3 [%d,%d]" % (
        err["offset"], start, start + len(lines[3]))
    assert latest_offsets(server, "t") == before, "nothing of a rejected request may be stored"


def test_mixed_batch_json_array_rejected(server):
    create_topic(server, "t")
    body = '[{"a":1}, {"a":2}, {"a" 3}]'
    r = produce(server, "t", None, JSON, raw=body)
    expect(r, 400, "invalid_json")
    err = r.json()["error"]
    assert err["index"] == 2
    assert body.index('{"a" 3}') <= err["offset"] <= len(body), err
    assert latest_offsets(server, "t") == {0: 0}
    assert fetch_all(server, "t", 0) == []


def test_records_shape_bad_value_rejected(server):
    create_topic(server, "t")
    body = '{"records":[{"value":1},{"value":tru}]}'
    r = produce(server, "t", None, KAFKA, raw=body)
    assert r.status_code == 400, r.text
    assert r.json()["error"]["code"] == "invalid_json"
    assert latest_offsets(server, "t") == {0: 0}


@pytest.mark.parametrize("bad", ['{"a":1', '{"a":1}}', "{'a':1}", '[1,]', '01', 'NaN', '"\\x"', '{"a":1} 2'])
def test_invalid_json_single_event(server, bad):
    create_topic(server, "t")
    r = produce(server, "t", None, NDJSON, raw='{"ok":1}\n' + bad + "\n")
    expect(r, 400, "invalid_json")
    assert r.json()["error"]["index"] == 1
    assert isinstance(r.json()["error"]["offset"], int) and r.json()["error"]["offset"] >= len('{"ok":1}\n')
    assert latest_offsets(server, "t") == {0: 0}


def test_invalid_utf8(server):
    create_topic(server, "t")
    body = b'{"a":"ok"}\n{"a":"ok"}\n{"a":"bad \xff\xfe here"}\n'
    r = produce(server, "t", None, NDJSON, raw=body)
    expect(r, 400, "invalid_utf8")
    err = r.json()["error"]
    assert err["index"] == 2
    start = body.index(b'{"a":"bad')
    assert start <= err["offset"] <= body.index(b"}\n", start), err
    assert latest_offsets(server, "t") == {0: 0}


@pytest.mark.parametrize("bad", [b'"\xc0\xaf"', b'"\xed\xa0\x80"', b'"\xf4\x90\x80\x80"', b'"\xe2\x82"'])
def test_invalid_utf8_forms(server, bad):
    """overlong, surrogate, above U+10FFFF, truncated sequence"""
    create_topic(server, "t")
    r = produce(server, "t", None, JSON, raw=bad)
    expect(r, 400, "invalid_utf8")
    assert r.json()["error"]["index"] == 0
    assert latest_offsets(server, "t") == {0: 0}


def nested(depth):
    s = "1"
    for _ in range(depth):
        s = '{"a":' + s + "}"
    return s


def test_nesting_64_ok_65_too_deep(server):
    create_topic(server, "t")
    ok_obj, ok_arr = nested(64), "[" * 64 + "]" * 64
    produce_ok(server, "t", None, NDJSON, raw=ok_obj + "\n" + ok_arr + "\n")
    produce_ok(server, "t", None, JSON, raw=ok_obj)
    recs = fetch_all(server, "t", 0)
    assert [r["_raw_value"] for r in recs] == [ok_obj, ok_arr, ok_obj]

    body = '{"x":1}\n' + nested(65) + "\n"
    r = produce(server, "t", None, NDJSON, raw=body)
    expect(r, 400, "too_deep")
    err = r.json()["error"]
    assert err["index"] == 1 and err["limit"] == 64, err
    assert len('{"x":1}\n') <= err["offset"] <= len(body), err

    r = produce(server, "t", None, NDJSON, raw="[" * 65 + "]" * 65 + "\n")
    expect(r, 400, "too_deep")
    r = produce(server, "t", None, NDJSON, raw="[" * 100000 + "\n")
    assert r.status_code == 400 and r.json()["error"]["code"] in ("too_deep", "invalid_json"), r.text
    assert latest_offsets(server, "t") == {0: 3}


def test_event_over_max_event_bytes(make_server):
    srv = make_server("--max-event-bytes", "1000")
    create_topic(srv, "t")
    small = '{"p":"%s"}' % ("x" * 900)
    big = '{"p":"%s"}' % ("x" * 1200)
    body = small + "\n" + small + "\n" + big + "\n" + small + "\n"
    r = produce(srv, "t", None, NDJSON, raw=body)
    expect(r, 413, "event_too_large")
    err = r.json()["error"]
    assert err["index"] == 2 and err["limit"] == 1000, err
    assert isinstance(err["offset"], int)
    assert latest_offsets(srv, "t") == {0: 0}
    # the same in a JSON array and the records shape
    r = produce(srv, "t", None, JSON, raw="[" + small + "," + big + "]")
    expect(r, 413, "event_too_large")
    assert r.json()["error"]["index"] == 1
    r = produce(srv, "t", None, KAFKA, raw='{"records":[{"value":%s}]}' % big)
    expect(r, 413, "event_too_large")
    assert r.json()["error"]["index"] == 0
    assert latest_offsets(srv, "t") == {0: 0}
    # an event of exactly the limit is accepted
    exact = '{"p":"%s"}' % ("x" * (1000 - 8))
    assert len(exact) == 1000
    produce_ok(srv, "t", None, NDJSON, raw=exact + "\n")
    assert latest_offsets(srv, "t") == {0: 1}


def test_default_max_event_bytes_is_1mib(server):
    create_topic(server, "t")
    big = '"%s"' % ("y" * (1024 * 1024))
    r = produce(server, "t", None, NDJSON, raw='{"a":1}\n' + big + "\n")
    expect(r, 413, "event_too_large")
    assert r.json()["error"]["index"] == 1 and r.json()["error"]["limit"] == 1048576
    assert latest_offsets(server, "t") == {0: 0}


def test_body_over_max_request_bytes(make_server):
    srv = make_server("--max-request-bytes", "100000")
    create_topic(srv, "t")
    ev = '{"p":"%s"}' % ("z" * 90)
    under = "\n".join([ev] * 900) + "\n"           # ~90 KB
    assert len(under) < 100000
    produce_ok(srv, "t", None, NDJSON, raw=under)
    over = "\n".join([ev] * 1200) + "\n"            # ~120 KB
    try:
        r = produce(srv, "t", None, NDJSON, raw=over)
    except requests.ConnectionError as e:
        pytest.fail("server dropped the connection instead of answering 413: %s" % e)
    expect(r, 413, "request_too_large")
    assert r.json()["error"]["limit"] == 100000
    assert latest_offsets(srv, "t") == {0: 900}


def test_chunked_body_over_max_request_bytes(make_server):
    srv = make_server("--max-request-bytes", "100000")
    create_topic(srv, "t")
    s = connect(srv)
    s.sendall(b"POST /v1/topics/t/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-ndjson\r\n"
              b"Transfer-Encoding: chunked\r\n\r\n")
    line = b'{"p":"' + b"z" * 990 + b'"}\n'
    sent = 0
    try:
        for _ in range(150):
            s.sendall(b"%x\r\n%s\r\n" % (len(line), line))
            sent += len(line)
        s.sendall(b"0\r\n\r\n")
    except (BrokenPipeError, ConnectionResetError):
        pass
    resp = read_response(s, deadline=10)
    s.close()
    assert resp.status == 413, (resp.status, resp.body)
    assert resp.json()["error"]["code"] == "request_too_large"
    assert latest_offsets(srv, "t") == {0: 0}


# --- 404s and empty bodies ---------------------------------------------------------------------

def test_unknown_topic_404(server):
    r = produce(server, "nope", [{"a": 1}], NDJSON)
    expect(r, 404, "topic_not_found")


def test_unknown_partition(server):
    create_topic(server, "t", partitions=2)
    r = fetch(server, "t", 2)
    expect(r, 404, "partition_not_found")
    r = server.get("/v1/topics/t/partitions/x/events")
    assert r.status_code in (400, 404), r.text


@pytest.mark.parametrize("ctype,body", [(NDJSON, b""), (JSON, b""), (KAFKA, b""), (NDJSON, b"\n\n  \n"),
                                        (JSON, b"[]"), (KAFKA, b'{"records":[]}')])
def test_empty_body_400(server, ctype, body):
    create_topic(server, "t")
    r = produce(server, "t", None, ctype, raw=body)
    expect(r, 400, "empty_request")
    assert latest_offsets(server, "t") == {0: 0}


def test_chunked_request_body(server):
    create_topic(server, "t")
    events = [{"i": i, "pad": "p" * 50} for i in range(500)]

    def gen():
        # deliberately split in the middle of events
        data = "".join(json.dumps(e) + "\n" for e in events).encode()
        for k in range(0, len(data), 777):
            yield data[k:k + 777]

    r = server.post("/v1/topics/t/events", data=gen(), headers={"Content-Type": NDJSON})
    expect(r, 200)
    assert r.request.headers.get("Transfer-Encoding") == "chunked"
    assert [o["offset"] for o in r.json()["offsets"]] == list(range(500))
    assert [x["value"] for x in fetch_all(server, "t", 0)] == events


def test_keep_alive_and_pipelined_produce(server):
    """Two produce requests pipelined on one connection both get answers, in order."""
    create_topic(server, "t")
    s = connect(server)
    reqs = b""
    for i in range(2):
        body = b'{"i":%d}\n' % i
        reqs += (b"POST /v1/topics/t/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-ndjson\r\n"
                 b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
    s.sendall(reqs)
    r1 = read_response(s)
    r2 = read_response(s)
    s.close()
    assert r1.status == 200 and r2.status == 200
    assert r1.json()["offsets"] == [{"partition": 0, "offset": 0}]
    assert r2.json()["offsets"] == [{"partition": 0, "offset": 1}]


# --- timestamps ------------------------------------------------------------------------------

def ms(dt_text):
    return int(datetime.fromisoformat(dt_text.replace("Z", "+00:00")).timestamp() * 1000)


def test_timestamp_pointer(server):
    create_topic(server, "t", timestamp="/ts")
    events = [{"ts": 1700000000123},
              {"ts": "2023-11-14T22:13:20.123Z"},
              {"ts": "2023-11-14T23:13:20.456+01:00"},
              {"ts": "2023-11-14T22:13:20Z"},
              {"no_ts": 1},
              {"ts": "yesterday"}]
    before = int(time.time() * 1000)
    produce_ok(server, "t", events, NDJSON)
    after = int(time.time() * 1000)
    recs = fetch_all(server, "t", 0)
    ts = [r["timestamp"] for r in recs]
    assert ts[0] == 1700000000123
    assert ts[1] == 1700000000123
    assert ts[2] == 1700000000456
    assert ts[3] == 1700000000000
    for t in ts[4:]:
        assert before - 2000 <= t <= after + 2000, "absent/unparsable timestamp must be ingest time: %d" % t


def test_ingest_time_without_pointer(server):
    create_topic(server, "t")
    before = int(time.time() * 1000)
    produce_ok(server, "t", [{"ts": 5}], NDJSON)
    after = int(time.time() * 1000)
    t = fetch_all(server, "t", 0)[0]["timestamp"]
    assert before - 2000 <= t <= after + 2000
    assert datetime.fromtimestamp(t / 1000, timezone.utc).year >= 2024


def test_expect_100_continue(server):
    create_topic(server, "t")
    body = b'{"e":1}\n{"e":2}\n'
    s = connect(server)
    try:
        s.sendall(b"POST /v1/topics/t/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-ndjson\r\n"
                  b"Content-Length: %d\r\nExpect: 100-continue\r\n\r\n" % len(body))
        interim = read_response(s, deadline=5)
        assert interim.status == 100, interim.status
        s.sendall(body)
        r = read_response(s, deadline=5)
    finally:
        s.close()
    assert r.status == 200
    assert r.json()["offsets"] == [{"partition": 0, "offset": 0}, {"partition": 0, "offset": 1}]


@pytest.mark.parametrize("mode", ["never", "interval:100", "always"])
def test_fsync_modes_produce_fetch_restart(make_server, mode):
    srv = make_server("--fsync", mode)
    create_topic(srv, "t", partitions=2, key="/k")
    sent = [{"k": "k%d" % (i % 5), "i": i} for i in range(50)]
    offs = produce_ok(srv, "t", sent, NDJSON)
    want = {0: [], 1: []}
    for ev, (p, o) in zip(sent, offs):
        assert o == len(want[p])
        want[p].append(ev)
    # events are served once durable (per the mode): wait for them with a long-poll
    for p in (0, 1):
        got = []
        end = time.monotonic() + 5
        while len(got) < len(want[p]):
            assert time.monotonic() < end, "mode %s: only %d of %d events became readable" % (mode, len(got), len(want[p]))
            r = fetch(srv, "t", p, offset=len(got), timeout_ms=1000)
            expect(r, 200)
            got.extend(parse_ndjson(r.content))
        assert [x["value"] for x in got] == want[p]
    srv.restart()
    for p in (0, 1):
        assert [x["value"] for x in fetch_all(srv, "t", p)] == want[p]


@pytest.mark.parametrize("pointer,event,key", [
    ("/a~1b", '{"a/b":"x1"}', b"x1"),
    ("/m~0n", '{"m~n":"x2"}', b"x2"),
    ("/items/1", '{"items":["z","x3"]}', b"x3"),
    ("/u", '{"u": {"a": 1,  "b" : [1, 2]}}', b'{"a": 1,  "b" : [1, 2]}'),
    ("/u", '{"u": 1.0e3}', b"1.0e3"),
])
def test_key_pointer_forms_and_original_json_text(server, pointer, event, key):
    """RFC 6901 escapes and array indexes; a non-string key's bytes are its original JSON text."""
    n = 16
    create_topic(server, "t", partitions=n, key=pointer)
    offs = produce_ok(server, "t", None, NDJSON, raw=event + "\n")
    assert offs[0][0] == kafka_partition(key, n)


def test_concurrent_producers_one_partition(server):
    """Group commit: concurrent requests to one partition get distinct, contiguous offsets, each
    request's own offsets consecutive, and the log holds every event in offset order."""
    create_topic(server, "t")
    results, errors = [], []
    lock = threading.Lock()

    def worker(w):
        sess = requests.Session()
        for j in range(40):
            evs = [{"w": w, "j": j, "e": e} for e in range(1 + (w + j) % 7)]
            try:
                r = sess.post(server.url("/v1/topics/t/events"), data="".join(json.dumps(x) + "\n" for x in evs),
                              headers={"Content-Type": NDJSON}, timeout=15)
            except requests.RequestException as e:
                with lock:
                    errors.append(repr(e))
                continue
            with lock:
                if r.status_code != 200:
                    errors.append(r.text)
                else:
                    results.append((evs, [o["offset"] for o in r.json()["offsets"]]))

    ths = [threading.Thread(target=worker, args=(w,)) for w in range(8)]
    for th in ths:
        th.start()
    for th in ths:
        th.join(timeout=60)
    assert not errors, errors[:3]
    at = {}
    for evs, offs in results:
        assert offs == list(range(offs[0], offs[0] + len(evs))), offs
        for ev, o in zip(evs, offs):
            assert o not in at
            at[o] = ev
    assert sorted(at) == list(range(len(at)))
    recs = fetch_all(server, "t", 0)
    assert [r["value"] for r in recs] == [at[o] for o in range(len(at))]

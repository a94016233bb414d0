"""Continuous SQL driven by the clock rather than by events: idle partitions leaving the
watermark (the stream's idle_timeout), and processing-time windows over PROCTIME() that close
as wall time passes with no further events. Real servers; every wait is a deadline poll."""

import calendar
import time

from sluice_testlib import create_topic, describe_query, expect, produce_ok, sql_result, wait_until


def view_rows(srv, view):
    r = srv.get("/v1/views/%s" % view)
    expect(r, 200)
    return r.json()["rows"]


def explicit(events):
    """REST-proxy body placing each (partition, value) where it says."""
    return {"records": [{"value": v, "partition": p} for p, v in events]}


def produce_to(srv, topic, events):
    r = srv.post("/v1/topics/%s/events" % topic, json=explicit(events),
                 headers={"Content-Type": "application/vnd.kafka.json.v2+json"})
    expect(r, 200)


def test_an_idle_partition_stops_holding_the_watermark(server):
    create_topic(server, "t", partitions=2)
    sql_result(server, "CREATE STREAM busy (k VARCHAR, ts TIMESTAMP(3), WATERMARK FOR ts AS ts) "
                       "WITH (topic = 't', idle_timeout = '500 ms')")
    sql_result(server, "CREATE STREAM strict (k VARCHAR, ts TIMESTAMP(3), WATERMARK FOR ts AS ts) "
                       "WITH (topic = 't')")
    for s in ("busy", "strict"):
        sql_result(server, "CREATE MATERIALIZED VIEW w_%s AS SELECT window_start, COUNT(*) AS n FROM "
                           "TABLE(TUMBLE(TABLE %s, DESCRIPTOR(ts), INTERVAL '1' SECOND)) "
                           "GROUP BY window_start, window_end" % (s, s))
    # partition 1 never gets an event; partition 0 moves far past the first window
    produce_to(server, "t", [(0, {"k": "a", "ts": 100}), (0, {"k": "b", "ts": 900}), (0, {"k": "c", "ts": 5000})])
    # with idle_timeout the silent partition is left out once it has been idle for 500 ms
    rows = wait_until(lambda: view_rows(server, "w_busy") or None, 15.0, "the idle partition to be left out")
    assert rows[0] == {"window_start": "1970-01-01T00:00:00.000Z", "n": 2}, rows
    # the watermark is partition 0's alone: 5000 - 0 - 1 ms
    assert describe_query(server, "w_busy")["stats"]["watermark"] == "1970-01-01T00:00:04.999Z"
    # without it, the partition that has seen nothing holds the watermark back: nothing closes
    time.sleep(1.5)
    assert view_rows(server, "w_strict") == []
    assert describe_query(server, "w_strict")["stats"]["events_in"] == 3
    # once partition 1 has an event too, the strict view catches up
    produce_to(server, "t", [(1, {"k": "d", "ts": 6000})])
    rows = wait_until(lambda: view_rows(server, "w_strict") or None, 15.0, "the strict view to close a window")
    assert {"window_start": "1970-01-01T00:00:00.000Z", "n": 2} in rows, rows


def test_processing_time_windows_close_on_the_clock(server):
    create_topic(server, "p", partitions=1)
    sql_result(server, "CREATE STREAM ps (k VARCHAR) WITH (topic = 'p')")
    sql_result(server, "CREATE MATERIALIZED VIEW per_second AS SELECT k, COUNT(*) AS n, "
                       "TUMBLE_START(pt, INTERVAL '1' SECOND) AS ws, TUMBLE_END(pt, INTERVAL '1' SECOND) AS we "
                       "FROM (SELECT k, PROCTIME() AS pt FROM ps) x GROUP BY k, TUMBLE(pt, INTERVAL '1' SECOND)")
    produce_ok(server, "p", [{"k": "a"}, {"k": "a"}, {"k": "b"}])
    # no further events: the windows close because wall time passes their end
    rows = wait_until(lambda: (lambda r: r if sum(x["n"] for x in r) == 3 else None)(view_rows(server, "per_second")),
                      15.0, "processing-time windows to close")
    assert sorted((r["k"], r["n"]) for r in rows) in ([("a", 2), ("b", 1)], [("a", 1), ("a", 1), ("b", 1)]), rows
    for r in rows:
        assert r["ws"] < r["we"], r
    # the windows are around now, not in 1970: PROCTIME is the wall clock
    now = time.time()
    for r in rows:
        start = calendar.timegm(time.strptime(r["ws"][:19], "%Y-%m-%dT%H:%M:%S"))
        assert abs(start - now) < 120, (r, now)

"""Continuous SQL over HTTP against a real `sluice serve`: POST /v1/sql (body shapes, content
types, result and error shapes, error locations), the catalog statements (CREATE / DROP /
DESCRIBE / SHOW, conflicts), statement lists that stop at their first failure, materialized
views read whole (GET /v1/views/{v}) and as a change stream (Server-Sent Events), sinks into
topics (INSERT INTO and CREATE SINK), per-stream on_error, per-view memory_limit, survival of a
clean restart and of kill -9, the query metrics and the `sluice sql` client.

Every test starts its own server (conftest.py's `server` / `make_server`); every wait is a
deadline poll."""

import collections
import json
import os
import re
import signal
import subprocess
import time

import pytest
import requests

from sluice_testlib import (SLUICE_BIN, Server, create_topic, describe_query, describe_topic, expect, kafka_partition,
                            produce_ok, run_sql, sql_result, topic_values, ts_text, wait_until)

WAIT = 15.0                 # seconds for a query to catch up / a sink to show its records
JSON = {"Content-Type": "application/json"}

CLICKS = ("CREATE STREAM clicks (user VARCHAR, n BIGINT, ts TIMESTAMP(3), "
          "WATERMARK FOR ts AS ts - INTERVAL '1' SECOND) WITH ('topic' = 'clicks')")


def setup_clicks(srv, partitions=2):
    create_topic(srv, "clicks", partitions=partitions, key="/user")
    res = sql_result(srv, CLICKS)
    assert res == {"statement": "CREATE STREAM", "message": res["message"]}, res
    return res


def wait_events_in(srv, name, n, deadline=WAIT):
    """Waits until the query `name` has read n events; returns its DESCRIBE result."""
    return wait_until(lambda: (lambda d: d if d["stats"]["events_in"] >= n else None)(describe_query(srv, name)),
                      deadline, "query %s to read %d events" % (name, n))


def view_rows(srv, view):
    r = srv.get("/v1/views/%s" % view)
    expect(r, 200)
    return r.json()["rows"]


def names(result):
    return sorted(row["name"] for row in result["rows"])


def locate(marked):
    """A statement with its offending part between « and »: (text, offset of the part's first
    character, offset of its last)."""
    start = marked.index("\u00ab")
    end = marked.index("\u00bb") - 2
    return marked.replace("\u00ab", "").replace("\u00bb", ""), start, end


def offset_of(text, line, column):
    lines = text.split("\n")
    assert 1 <= line <= len(lines), (line, text)
    assert 1 <= column <= len(lines[line - 1]) + 1, (line, column, text)
    return sum(len(ln) + 1 for ln in lines[:line - 1]) + column - 1


# ---- the endpoint: content types, methods, body shapes -------------------------------------------


def test_sql_body_shapes_and_content_types(server):
    create_topic(server, "clicks", partitions=2, key="/user")
    # {"sql": ...} as application/json
    r = server.post("/v1/sql", json={"sql": CLICKS})
    expect(r, 200)
    assert r.headers["Content-Type"].startswith("application/json")
    assert r.json() == {"results": [{"statement": "CREATE STREAM",
                                     "message": r.json()["results"][0]["message"]}]}
    assert "clicks" in r.json()["results"][0]["message"]
    # the raw text, as application/sql and as text/plain (with and without parameters)
    for ctype in ("application/sql", "text/plain", "application/sql; charset=utf-8", "text/plain; charset=utf-8"):
        r = server.post("/v1/sql", data="SHOW STREAMS", headers={"Content-Type": ctype})
        expect(r, 200)
        assert names(r.json()["results"][0]) == ["clicks"], (ctype, r.text)
    r = server.post("/v1/sql", data='{"sql": "SHOW STREAMS"}',
                    headers={"Content-Type": "application/json; charset=utf-8"})
    expect(r, 200)
    assert names(r.json()["results"][0]) == ["clicks"]
    # other content types: 415
    for ctype in ("application/xml", "application/x-ndjson", "image/png"):
        r = server.post("/v1/sql", data="SHOW STREAMS", headers={"Content-Type": ctype})
        expect(r, 415, "unsupported_media_type")
    # other methods: 405 naming POST
    for method in ("GET", "PUT", "DELETE"):
        r = server.request(method, "/v1/sql")
        expect(r, 405, "method_not_allowed")
        assert "POST" in r.headers.get("Allow", ""), r.headers
    # a JSON body that is not {"sql": string}: 400
    for body in ('{"sql": 3}', '{"sql": null}', '{"sql": ["SHOW STREAMS"]}', '{"query": "SHOW STREAMS"}',
                 '["SHOW STREAMS"]', '"SHOW STREAMS"', "{}", ""):
        r = server.post("/v1/sql", data=body, headers=JSON)
        assert r.status_code == 400, (body, r.status_code, r.text)
        assert r.json()["error"]["code"] in ("bad_request", "invalid_json"), (body, r.text)
    r = server.post("/v1/sql", data='{"sql": "SHOW STREAMS"', headers=JSON)
    expect(r, 400, "invalid_json")
    # nothing was created by the refused requests
    assert names(sql_result(server, "SHOW STREAMS")) == ["clicks"]


def test_result_shapes_create_select_explain_show(server):
    create_topic(server, "clicks", partitions=2, key="/user")
    body = run_sql(server, CLICKS + ";\n"
                   "CREATE MATERIALIZED VIEW per_user AS SELECT user, COUNT(*) AS c, SUM(n) AS total "
                   "FROM clicks GROUP BY user;\n"
                   "EXPLAIN SELECT user, n FROM clicks WHERE n > 10;\n"
                   "SELECT 1 + 2 AS three, 'a' || 'b' AS ab;\n"
                   "SHOW STREAMS")
    assert set(body) == {"results"}, body
    res = body["results"]
    assert [r["statement"] for r in res] == ["CREATE STREAM", "CREATE MATERIALIZED VIEW", "EXPLAIN", "SELECT", "SHOW"]
    assert set(res[0]) == {"statement", "message"} and "clicks" in res[0]["message"]
    assert set(res[1]) == {"statement", "message"} and "per_user" in res[1]["message"]
    assert set(res[2]) == {"statement", "plan"}
    plan = res[2]["plan"]
    assert isinstance(plan, str) and "clicks" in plan and "Filter" in plan and "10" in plan, plan
    assert res[3]["columns"] == [{"name": "three", "type": "BIGINT"}, {"name": "ab", "type": "VARCHAR"}]
    assert res[3]["rows"] == [{"three": 3, "ab": "ab"}]
    assert res[4]["columns"][0] == {"name": "name", "type": "VARCHAR"}
    assert [row["name"] for row in res[4]["rows"]] == ["clicks"]
    assert res[4]["rows"][0]["topic"] == "clicks"

    produce_ok(server, "clicks", [{"user": "ann", "n": 5, "ts": 1000}, {"user": "bob", "n": 7, "ts": 1000},
                                  {"user": "ann", "n": 11, "ts": 1000}])
    wait_events_in(server, "per_user", 3)
    sel = sql_result(server, "SELECT user, c, total FROM per_user ORDER BY user")
    assert sel["statement"] == "SELECT"
    assert sel["columns"] == [{"name": "user", "type": "VARCHAR"}, {"name": "c", "type": "BIGINT"},
                              {"name": "total", "type": "BIGINT"}]
    assert sel["rows"] == [{"user": "ann", "c": 2, "total": 16}, {"user": "bob", "c": 1, "total": 7}]
    sel = sql_result(server, "SELECT user FROM per_user WHERE total > 10 ORDER BY user DESC LIMIT 1")
    assert sel["rows"] == [{"user": "ann"}]


# ---- errors: shapes and locations ------------------------------------------------------------------


def test_syntax_error_names_line_column_and_token(server):
    setup_clicks(server)
    text = "CREATE MATERIALIZED VIEW v AS\nSELECT user,\n       COUNT(*) AS c FROM FROM clicks\nGROUP BY user"
    body = run_sql(server, text, 400, "sql_syntax_error")
    err = body["error"]
    assert err["line"] == 3, err
    assert err["column"] == text.split("\n")[2].index("FROM FROM") + 6, err   # the second FROM
    assert "unexpected FROM" in err["message"] and "line 3" in err["message"], err
    assert body["results"] == []
    # a syntax error anywhere refuses the whole text: the statement before it did not run
    text = "CREATE MATERIALIZED VIEW v AS SELECT user FROM clicks;\nSHOW STREAMS;\n  SELEC 1"
    body = run_sql(server, text, 400, "sql_syntax_error")
    assert (body["error"]["line"], body["error"]["column"]) == (3, 3), body
    assert "SELEC" in body["error"]["message"], body
    assert body["results"] == []
    assert names(sql_result(server, "SHOW VIEWS")) == []
    # an empty text
    run_sql(server, "  ", 400, "sql_syntax_error")


def test_syntax_error_names_its_statement(server):
    body = run_sql(server, "SHOW STREAMS;\nSHOW VIEWS;\n  SELEC 1", 400, "sql_syntax_error")
    assert (body["error"]["line"], body["error"]["column"]) == (3, 3), body
    assert body["error"].get("statement") == 3, body


def test_sql_text_limits(server):
    # 1 MiB of SQL text at most, named in the error
    body = run_sql(server, "SELECT 1 AS x /*" + "x" * (1 << 20) + "*/", 400, "sql_syntax_error")
    assert "1048576" in body["error"]["message"], body
    # 1,000 statements at most
    assert len(run_sql(server, ";".join(["SELECT 1"] * 1000))["results"]) == 1000
    body = run_sql(server, ";".join(["SELECT 1"] * 1001), 400, "sql_syntax_error")
    assert "1000" in body["error"]["message"] and body["results"] == [], body
    # expressions nest 200 deep at most
    assert sql_result(server, "SELECT " + "(" * 200 + "1" + ")" * 200 + " AS x")["rows"] == [{"x": 1}]
    body = run_sql(server, "SELECT " + "(" * 201 + "1" + ")" * 201, 400, "sql_syntax_error")
    assert "200" in body["error"]["message"] and body["error"]["line"] == 1, body


BINDER_ERRORS = {
    "unknown_column": ("CREATE MATERIALIZED VIEW v AS\nSELECT user,\n       \u00abnope\u00bb\nFROM clicks",
                       ["nope"]),
    "unknown_stream": ("CREATE MATERIALIZED VIEW v AS\nSELECT user\nFROM \u00abnosuch\u00bb", ["nosuch"]),
    "unknown_view_adhoc": ("SELECT user\n  FROM \u00abnosuch\u00bb", ["nosuch"]),
    "type_mismatch": ("CREATE MATERIALIZED VIEW v AS\nSELECT user,\n       \u00ab'a' + 1\u00bb AS x\nFROM clicks",
                      ["+"]),
    "aggregate_in_where": ("CREATE MATERIALIZED VIEW v AS\nSELECT user\nFROM clicks\nWHERE \u00abCOUNT(*)\u00bb > 1",
                           ["WHERE", "aggregate"]),
    "non_grouped_column": ("CREATE MATERIALIZED VIEW v AS\nSELECT user,\n       \u00abn\u00bb,\n       COUNT(*) AS c\n"
                           "FROM clicks\nGROUP BY user", ["n", "GROUP BY"]),
    # the error is about the query as a whole: anywhere from its SELECT to its GROUP BY list
    "window_tvf_without_window_group_by": (
        "CREATE MATERIALIZED VIEW v AS\n\u00abSELECT user, COUNT(*) AS c\n"
        "FROM TABLE(TUMBLE(TABLE clicks, DESCRIPTOR(ts), INTERVAL '1' SECOND))\nGROUP BY user\u00bb",
        ["window_start", "window_end"]),
    "watermark_not_timestamp": ("CREATE STREAM bad (\n  a BIGINT,\n"
                                "  \u00abWATERMARK FOR a AS a - INTERVAL '1' SECOND\u00bb\n"
                                ") WITH ('topic' = 'clicks')", ["TIMESTAMP"]),
}


@pytest.mark.parametrize("case", sorted(BINDER_ERRORS))
def test_binder_error_names_line_and_column(server, case):
    setup_clicks(server)
    marked, needles = BINDER_ERRORS[case]
    text, start, end = locate(marked)
    body = run_sql(server, "SHOW STREAMS;\n" + text, 400, "sql_error")
    err = body["error"]
    assert err["statement"] == 2, err
    # lines and columns count in the whole text sent
    off = offset_of("SHOW STREAMS;\n" + text, err["line"], err["column"]) - len("SHOW STREAMS;\n")
    assert start <= off <= end, "%s: error at line %d column %d (%r) is not on %r: %s" % (
        case, err["line"], err["column"], text[off:off + 20], text[start:end + 1], err["message"])
    for needle in needles:
        assert needle in err["message"], (needle, err)
    assert [r["statement"] for r in body["results"]] == ["SHOW"]
    assert names(sql_result(server, "SHOW VIEWS")) == []
    assert names(sql_result(server, "SHOW STREAMS")) == ["clicks"]


def test_statement_list_stops_at_the_failing_statement(server):
    setup_clicks(server)
    text = ("CREATE MATERIALIZED VIEW first_v AS SELECT user, n FROM clicks;\n"
            "CREATE MATERIALIZED VIEW second_v AS SELECT user, bogus FROM clicks;\n"
            "CREATE MATERIALIZED VIEW third_v AS SELECT user FROM clicks")
    body = run_sql(server, text, 400, "sql_error")
    err = body["error"]
    assert err["statement"] == 2, err
    assert (err["line"], err["column"]) == (2, text.split("\n")[1].index("bogus") + 1), err
    assert body["results"] == [{"statement": "CREATE MATERIALIZED VIEW", "message": body["results"][0]["message"]}]
    assert names(sql_result(server, "SHOW VIEWS")) == ["first_v"]
    # the same with a conflict (409) as the failing statement
    text = ("CREATE STREAM s1 (a BIGINT) WITH ('topic' = 'clicks');\n"
            "CREATE STREAM clicks (a BIGINT) WITH ('topic' = 'clicks');\n"
            "CREATE STREAM s3 (a BIGINT) WITH ('topic' = 'clicks')")
    body = run_sql(server, text, 409, "already_exists")
    assert body["error"]["statement"] == 2 and body["error"]["line"] == 2, body
    assert len(body["results"]) == 1 and body["results"][0]["statement"] == "CREATE STREAM"
    assert names(sql_result(server, "SHOW STREAMS")) == ["clicks", "s1"]


# ---- the catalog ----------------------------------------------------------------------------------


def test_create_stream_over_missing_topic_is_404(server):
    body = run_sql(server, "CREATE STREAM s (a BIGINT) WITH ('topic' = 'missing')", 404, "topic_not_found")
    assert body["error"]["statement"] == 1 and body["error"]["line"] == 1
    assert "missing" in body["error"]["message"]
    assert names(sql_result(server, "SHOW STREAMS")) == []


def test_duplicate_names_conflict_and_if_not_exists(server):
    setup_clicks(server)
    sql_result(server, "CREATE MATERIALIZED VIEW v AS SELECT user FROM clicks")
    sql_result(server, "CREATE SINK k INTO TOPIC 'k_out' AS SELECT user FROM clicks")
    run_sql(server, "CREATE STREAM clicks (a BIGINT) WITH ('topic' = 'clicks')", 409, "already_exists")
    run_sql(server, "CREATE MATERIALIZED VIEW v AS SELECT n FROM clicks", 409, "already_exists")
    run_sql(server, "CREATE SINK k INTO TOPIC 'k_out' AS SELECT n FROM clicks", 409, "already_exists")
    # one namespace for streams, views and sinks
    run_sql(server, "CREATE MATERIALIZED VIEW clicks AS SELECT user FROM clicks", 409, "already_exists")
    run_sql(server, "CREATE SINK v INTO TOPIC 'x' AS SELECT user FROM clicks", 409, "already_exists")
    run_sql(server, "CREATE STREAM k (a BIGINT) WITH ('topic' = 'clicks')", 409, "already_exists")
    # IF NOT EXISTS: 200, and the existing definition stays
    for stmt in ("CREATE STREAM IF NOT EXISTS clicks (a BIGINT) WITH ('topic' = 'clicks')",
                 "CREATE MATERIALIZED VIEW IF NOT EXISTS v AS SELECT n FROM clicks",
                 "CREATE SINK IF NOT EXISTS k INTO TOPIC 'k_out' AS SELECT n FROM clicks"):
        res = sql_result(server, stmt)
        assert res["statement"].startswith("CREATE"), res
    assert [r["column"] for r in sql_result(server, "DESCRIBE clicks")["rows"]] == ["user", "n", "ts"]
    assert [r["column"] for r in describe_query(server, "v")["rows"]] == ["user"]
    assert names(sql_result(server, "SHOW STREAMS")) == ["clicks"]
    assert names(sql_result(server, "SHOW VIEWS")) == ["v"]
    assert names(sql_result(server, "SHOW SINKS")) == ["k"]


def test_drop_in_use_order_and_if_exists(server):
    setup_clicks(server)
    sql_result(server, "CREATE MATERIALIZED VIEW v AS SELECT user, n FROM clicks")
    body = run_sql(server, "DROP STREAM clicks", 409, "in_use")
    assert "v" in body["error"]["message"], body
    sql_result(server, "DROP VIEW v")
    expect(server.get("/v1/views/v"), 404)
    sql_result(server, "CREATE SINK k INTO TOPIC 'k_out' AS SELECT user FROM clicks")
    run_sql(server, "DROP STREAM clicks", 409, "in_use")
    sql_result(server, "DROP SINK k")
    assert sql_result(server, "DROP STREAM clicks")["statement"] == "DROP"
    for stmt in ("SHOW STREAMS", "SHOW VIEWS", "SHOW SINKS", "SHOW QUERIES"):
        assert sql_result(server, stmt)["rows"] == [], stmt
    # the topics stay: a stream is only a schema over its topic, a sink's topic is ordinary
    assert describe_topic(server, "clicks")["name"] == "clicks"
    assert describe_topic(server, "k_out")["name"] == "k_out"
    # missing objects: IF EXISTS -> 200, without -> 404 not_found
    body = run_sql(server, "DROP VIEW IF EXISTS nope; DROP STREAM IF EXISTS nope; DROP SINK IF EXISTS nope;"
                           "DROP MATERIALIZED VIEW IF EXISTS nope")
    assert [r["statement"] for r in body["results"]] == ["DROP"] * 4
    for stmt in ("DROP VIEW nope", "DROP STREAM nope", "DROP SINK nope"):
        run_sql(server, stmt, 404, "not_found")
    # the names are free again (the view also keeps a query alive at shutdown: with none left,
    # test_no_leak_after_dropping_every_query's leak would fail this test under ASan)
    sql_result(server, "CREATE STREAM clicks (user VARCHAR) WITH ('topic' = 'clicks')")
    sql_result(server, "CREATE MATERIALIZED VIEW v AS SELECT user FROM clicks")


def test_drop_then_recreate_starts_over_and_stays_dropped(make_server):
    srv = make_server()
    setup_clicks(srv)
    # one query stays throughout (see test_no_leak_after_dropping_every_query)
    sql_result(srv, "CREATE MATERIALIZED VIEW keep AS SELECT user FROM clicks WHERE n < 0")
    sql_result(srv, "CREATE MATERIALIZED VIEW v AS SELECT user, COUNT(*) AS c FROM clicks GROUP BY user")
    produce_ok(srv, "clicks", [{"user": "u%d" % (i % 3), "n": i, "ts": i} for i in range(30)])
    wait_events_in(srv, "v", 30)
    time.sleep(1.3)     # let it checkpoint
    sql_result(srv, "DROP VIEW v")
    # the same name with another query: computed from the start of the stream, not from v's checkpoint
    sql_result(srv, "CREATE MATERIALIZED VIEW v AS SELECT user, SUM(n) AS s FROM clicks GROUP BY user")
    wait_events_in(srv, "v", 30)
    want = {"u%d" % u: sum(i for i in range(30) if i % 3 == u) for u in range(3)}
    assert {r["user"]: r["s"] for r in view_rows(srv, "v")} == want
    time.sleep(1.3)
    sql_result(srv, "DROP VIEW v")
    sql_result(srv, "CREATE MATERIALIZED VIEW w AS SELECT user, n FROM clicks WHERE n < 5")
    sql_result(srv, "DROP VIEW w")
    for sig in (signal.SIGTERM, signal.SIGKILL):
        srv.restart(sig)
        assert names(sql_result(srv, "SHOW VIEWS")) == ["keep"]
        assert sql_result(srv, "SHOW SINKS")["rows"] == []
        assert names(sql_result(srv, "SHOW STREAMS")) == ["clicks"]
        expect(srv.get("/v1/views/v"), 404)
    create_topic(srv, "other")
    sql_result(srv, "CREATE STREAM other (x BIGINT) WITH ('topic' = 'other')")
    sql_result(srv, "DROP STREAM other")
    srv.restart(signal.SIGKILL)
    assert names(sql_result(srv, "SHOW STREAMS")) == ["clicks"]


def test_no_leak_after_dropping_every_query(tmp_path):
    # A clean exit after every query was dropped; against the ASan build (the second pass of make
    # test) LeakSanitizer would turn a leak into a non-zero exit and a report in the log.
    # its own Server, not the fixture: the fixture would turn the report into a teardown error
    srv = Server(tmp_path / "data", log_dir=tmp_path / "logs")
    try:
        srv.start()
        create_topic(srv, "t")
        run_sql(srv, "CREATE STREAM s (a BIGINT) WITH ('topic' = 't');"
                     "CREATE MATERIALIZED VIEW v AS SELECT a FROM s; DROP VIEW v")
        rc, clean = srv.stop()
    finally:
        srv.kill9()
    assert srv.sanitizer_reports() == [] and rc == 0 and clean, (rc, srv.sanitizer_reports())


def test_describe_and_show(server):
    setup_clicks(server)
    sql_result(server, "CREATE MATERIALIZED VIEW totals AS SELECT user, COUNT(*) AS c, SUM(n) AS s "
                       "FROM clicks GROUP BY user")
    sql_result(server, "CREATE SINK big INTO TOPIC 'big' AS SELECT user, n FROM clicks WHERE n >= 10")
    d = sql_result(server, "DESCRIBE clicks")
    assert d["statement"] == "DESCRIBE"
    assert [(r["column"], r["type"]) for r in d["rows"]] == [("user", "VARCHAR"), ("n", "BIGINT"),
                                                            ("ts", "TIMESTAMP(3)")]
    assert d["topic"] == "clicks" and d["kind"] == "stream"
    assert d["watermark"] == {"column": "ts", "delay_ms": 1000}, d
    produce_ok(server, "clicks", [{"user": "u%d" % (i % 3), "n": i, "ts": 1000 + i} for i in range(20)])
    d = wait_events_in(server, "totals", 20)
    assert [(r["column"], r["type"]) for r in d["rows"]] == [("user", "VARCHAR"), ("c", "BIGINT"), ("s", "BIGINT")]
    assert d["kind"] == "view" and d["status"] == "running" and d["error"] is None, d
    assert d["stream"] == "clicks" and "GROUP BY user" in d["definition"]
    st = d["stats"]
    assert st["events_in"] == 20 and st["rows"] == 3 and st["bad_fields"] == 0 and st["late_events"] == 0, st
    assert sum(max(p, 0) for p in st["positions"]) == 20 and len(st["positions"]) == 2, st
    k = wait_events_in(server, "big", 20)
    assert k["kind"] == "sink" and k["topic"] == "big" and k["status"] == "running", k
    shows = run_sql(server, "SHOW STREAMS; SHOW VIEWS; SHOW SINKS; SHOW QUERIES; SHOW TABLES; SHOW MATERIALIZED VIEWS")
    streams, views, sinks, queries, tables, mviews = shows["results"]
    assert names(streams) == names(tables) == ["clicks"]
    assert names(views) == names(mviews) == ["totals"]
    assert names(sinks) == ["big"]
    assert names(queries) == ["big", "totals"]
    q = {row["name"]: row for row in queries["rows"]}
    assert q["totals"]["kind"] == "view" and q["big"]["kind"] == "sink" and q["big"]["target"] == "big", q
    assert q["totals"]["events_in"] == 20 and q["totals"]["status"] == "running", q
    run_sql(server, "DESCRIBE nope", 404, "not_found")


# ---- views: read and changes ----------------------------------------------------------------------


def test_view_read_json_ndjson_and_errors(server):
    setup_clicks(server)
    sql_result(server, "CREATE MATERIALIZED VIEW totals AS SELECT user, COUNT(*) AS c FROM clicks GROUP BY user")
    produce_ok(server, "clicks", [{"user": "ann", "n": 1, "ts": 1}, {"user": "bob", "n": 1, "ts": 1},
                                  {"user": "ann", "n": 1, "ts": 1}])
    wait_events_in(server, "totals", 3)
    r = server.get("/v1/views/totals")
    expect(r, 200)
    assert r.headers["Content-Type"].startswith("application/json")
    body = r.json()
    assert body["columns"] == [{"name": "user", "type": "VARCHAR"}, {"name": "c", "type": "BIGINT"}]
    assert sorted(body["rows"], key=lambda x: x["user"]) == [{"user": "ann", "c": 2}, {"user": "bob", "c": 1}]
    r = server.get("/v1/views/totals", params={"format": "json"})
    assert r.json() == body
    r = server.get("/v1/views/totals", params={"format": "ndjson"})
    expect(r, 200)
    assert r.headers["Content-Type"].startswith("application/x-ndjson")
    lines = [json.loads(ln) for ln in r.text.split("\n") if ln.strip()]
    assert sorted(lines, key=lambda x: x["user"]) == [{"user": "ann", "c": 2}, {"user": "bob", "c": 1}]
    expect(server.get("/v1/views/nope"), 404)
    expect(server.get("/v1/views/nope", params={"format": "ndjson"}), 404)
    expect(server.get("/v1/views/nope/changes"), 404)
    for fmt in ("xml", "csv", ""):
        expect(server.get("/v1/views/totals", params={"format": fmt}), 400, "bad_request")
    r = server.post("/v1/views/totals", data="x")
    assert r.status_code == 405, r.text
    # a stream is not a view
    expect(server.get("/v1/views/clicks"), 404)


class SSEReader:
    """Reads Server-Sent Events from a requests response opened with stream=True. Each read
    waits at most the response's read timeout (the deadline of the open_changes call)."""

    def __init__(self, resp):
        self.resp = resp
        self.lines = resp.iter_lines(chunk_size=1)

    def next(self):
        ev = {}
        try:
            for line in self.lines:
                line = line.decode("utf-8")
                if not line:
                    if "data" in ev or "event" in ev:
                        return ev
                    ev = {}
                    continue
                if line.startswith(":"):
                    continue
                k, _, v = line.partition(":")
                ev[k] = v[1:] if v.startswith(" ") else v
        except requests.RequestException as e:
            raise AssertionError("no complete SSE event in time (%r); partial event %r" % (e, ev))
        raise AssertionError("the SSE stream ended; partial event %r" % ev)

    def close(self):
        self.resp.close()


def open_changes(srv, view, deadline=WAIT, **params):
    r = srv.session.get(srv.url("/v1/views/%s/changes" % view), params=params, stream=True,
                        timeout=(5, deadline), headers={"Accept": "text/event-stream"})
    expect(r, 200)
    assert r.headers["Content-Type"].startswith("text/event-stream"), r.headers
    return SSEReader(r)


def test_view_changes_server_sent_events(make_server):
    srv = make_server()
    setup_clicks(srv)
    sql_result(srv, "CREATE MATERIALIZED VIEW totals AS SELECT user, COUNT(*) AS c, SUM(n) AS s "
                    "FROM clicks GROUP BY user")
    sse = open_changes(srv, "totals")
    try:
        expected = [("insert", {"user": "ann", "c": 1, "s": 5}),
                    ("update", {"user": "ann", "c": 2, "s": 12}),
                    ("insert", {"user": "bob", "c": 1, "s": 1}),
                    ("update", {"user": "ann", "c": 3, "s": 112})]
        events = [{"user": "ann", "n": 5, "ts": 1}, {"user": "ann", "n": 7, "ts": 2},
                  {"user": "bob", "n": 1, "ts": 3}, {"user": "ann", "n": 100, "ts": 4}]
        for seq, (ev, (op, row)) in enumerate(zip(events, expected), start=1):
            # one event at a time, so that each is its own change (a batch coalesces a key's changes)
            produce_ok(srv, "clicks", [ev])
            got = sse.next()
            assert got["id"] == str(seq), got
            assert json.loads(got["data"]) == {"seq": seq, "op": op, "row": row}, got
    finally:
        sse.close()
    # ?after=N resumes after change N
    sse = open_changes(srv, "totals", after=2)
    try:
        got = [sse.next() for _ in range(2)]
        assert [g["id"] for g in got] == ["3", "4"]
        assert [json.loads(g["data"])["row"] for g in got] == [expected[2][1], expected[3][1]]
    finally:
        sse.close()
    expect(srv.get("/v1/views/totals/changes", params={"after": "x"}), 400)
    # a clean shutdown does not wait for change-stream readers; they see the stream end
    sse = open_changes(srv, "totals")
    try:
        rc, clean = srv.stop()
        assert rc == 0 and clean, (rc, clean, srv.logs())
        with pytest.raises(AssertionError, match="ended|in time"):
            sse.next()
    finally:
        sse.close()


def test_view_changes_delete_and_end_events(server):
    setup_clicks(server, partitions=1)
    sql_result(server, "CREATE MATERIALIZED VIEW few AS SELECT user, COUNT(*) AS c FROM clicks "
                       "GROUP BY user HAVING COUNT(*) < 3")
    sse = open_changes(server, "few")
    try:
        want = [("insert", {"user": "ann", "c": 1}), ("update", {"user": "ann", "c": 2}),
                ("delete", {"user": "ann"})]
        for seq, (op, row) in enumerate(want, start=1):
            produce_ok(server, "clicks", [{"user": "ann", "n": 1, "ts": seq}])
            got = json.loads(sse.next()["data"])
            assert got["seq"] == seq and got["op"] == op, got
            for k, v in row.items():      # a delete names the row's key (it may carry more)
                assert got["row"][k] == v, got
        assert view_rows(server, "few") == []
        # every reader of a dropped view gets `event: end`, then the stream ends
        sql_result(server, "DROP VIEW few")
        end = sse.next()
        assert end.get("event") == "end" and "dropped" in json.loads(end["data"])["reason"], end
        with pytest.raises(AssertionError, match="ended"):
            sse.next()
    finally:
        sse.close()
    # a reader more than 4,096 changes behind gets `event: end` and should re-read the view
    sql_result(server, "CREATE MATERIALIZED VIEW many AS SELECT user, COUNT(*) AS c FROM clicks GROUP BY user")
    produce_ok(server, "clicks", [{"user": "u%d" % i, "n": 1, "ts": 10} for i in range(5000)])
    wait_events_in(server, "many", 5003)
    sse = open_changes(server, "many", after=0)
    try:
        end = sse.next()
        assert end.get("event") == "end" and "behind" in json.loads(end["data"])["reason"], end
    finally:
        sse.close()
    sse = open_changes(server, "many", after=4000)
    try:
        got = sse.next()
        assert got["id"] == "4001" and json.loads(got["data"])["op"] == "insert", got
    finally:
        sse.close()


# ---- sinks ----------------------------------------------------------------------------------------


def test_sink_creates_its_topic_and_writes_rows(server):
    setup_clicks(server)
    assert server.get("/v1/topics/out").status_code == 404
    res = sql_result(server, "CREATE SINK big INTO TOPIC 'out' WITH ('partitions' = '3') AS "
                             "SELECT user, n, n * 2 AS twice FROM clicks WHERE n >= 10")
    assert res["statement"] == "CREATE SINK" and "out" in res["message"], res
    assert describe_topic(server, "out")["partitions"] == 3
    res = sql_result(server, "INSERT INTO out2 SELECT UPPER(user) AS who, n FROM clicks")
    assert res["statement"] == "INSERT", res
    assert describe_topic(server, "out2")["partitions"] == 1
    # a sink that is refused creates no topic
    run_sql(server, "CREATE SINK bad INTO TOPIC 'never' AS SELECT nope FROM clicks", 400, "sql_error")
    run_sql(server, "CREATE SINK loop INTO TOPIC 'clicks' AS SELECT user, n FROM clicks", 400, "sql_error")
    assert server.get("/v1/topics/never").status_code == 404
    # a sink into an existing topic keeps its partitions
    create_topic(server, "out3", partitions=2)
    sql_result(server, "CREATE SINK small INTO TOPIC 'out3' WITH ('partitions' = '5') AS "
                       "SELECT user, n FROM clicks WHERE n < 10")
    assert describe_topic(server, "out3")["partitions"] == 2
    events = [{"user": "u%d" % (i % 5), "n": i, "ts": 1000 + i} for i in range(40)]
    produce_ok(server, "clicks", events[:25])
    produce_ok(server, "clicks", events[25:])

    def multiset(rows):
        return collections.Counter(json.dumps(r, sort_keys=True) for r in rows)

    want = {"out": multiset({"user": e["user"], "n": e["n"], "twice": 2 * e["n"]} for e in events if e["n"] >= 10),
            "out2": multiset({"who": e["user"].upper(), "n": e["n"]} for e in events),
            "out3": multiset({"user": e["user"], "n": e["n"]} for e in events if e["n"] < 10)}
    for topic, w in want.items():
        wait_until(lambda: multiset(topic_values(server, topic)) == w, WAIT,
                   "the records of sink topic %s" % topic, interval=0.2)
    # the records were spread over the 3 partitions of out
    per_part = [d["latest_offset"] for d in describe_topic(server, "out")["partition_stats"]]
    assert sum(per_part) == 30 and all(per_part), per_part
    # and no more arrive later (each row once)
    time.sleep(2.5)
    for topic, w in want.items():
        assert multiset(topic_values(server, topic)) == w, topic
    names_ = names(sql_result(server, "SHOW SINKS"))
    assert "big" in names_ and "small" in names_ and len(names_) == 3, names_


def test_updating_sink_writes_a_changelog(server):
    setup_clicks(server, partitions=1)
    sql_result(server, "CREATE SINK counts INTO TOPIC 'counts' AS SELECT user, COUNT(*) AS c FROM clicks GROUP BY user")
    for i in range(6):
        produce_ok(server, "clicks", [{"user": "ann", "n": i, "ts": i}])
        if i % 2:
            produce_ok(server, "clicks", [{"user": "bob", "n": i, "ts": i}])
    wait_events_in(server, "counts", 9)

    def final_counts():
        recs = topic_values(server, "counts")
        last = {r["user"]: r["c"] for r in recs}
        return recs if last == {"ann": 6, "bob": 3} else None

    recs = wait_until(final_counts, WAIT, "the final counts in the sink topic", interval=0.2)
    for user in ("ann", "bob"):
        ops = [r["op"] for r in recs if r["user"] == user]
        cs = [r["c"] for r in recs if r["user"] == user]
        assert ops[0] == "+I" and set(ops[1:]) <= {"+U"}, (user, ops)
        assert cs == sorted(cs) and len(set(cs)) == len(cs), (user, cs)


# ---- per-query options ----------------------------------------------------------------------------


def test_on_error_fail_stops_the_query_naming_the_event(server):
    create_topic(server, "ev", partitions=2)
    sql_result(server, "CREATE STREAM strict (k VARCHAR, n BIGINT) WITH ('topic' = 'ev', 'on_error' = 'fail')")
    sql_result(server, "CREATE MATERIALIZED VIEW sv AS SELECT k, SUM(n) AS s FROM strict GROUP BY k")
    produce_ok(server, "ev", [{"k": "a", "n": 1}, {"k": "a", "n": 2}])
    wait_events_in(server, "sv", 2)
    (part, off), = produce_ok(server, "ev", [{"k": "a", "n": "three"}])
    d = wait_until(lambda: (lambda d: d if d["status"] == "failed" else None)(describe_query(server, "sv")), WAIT,
                   "the query to fail")
    err = d["error"]
    assert isinstance(err, str), d
    assert re.search(r"\bpartition %d\b" % part, err) and re.search(r"\boffset %d\b" % off, err), err
    assert re.search(r"\bn\b", err) and "BIGINT" in err, err
    # it stopped: later events are not read, the view keeps what it had
    produce_ok(server, "ev", [{"k": "b", "n": 10}])
    time.sleep(0.5)
    d = describe_query(server, "sv")
    assert d["status"] == "failed" and d["stats"]["events_in"] == 2, d
    assert view_rows(server, "sv") == [{"k": "a", "s": 3}]
    q = {row["name"]: row for row in sql_result(server, "SHOW VIEWS")["rows"]}
    assert q["sv"]["status"] == "failed"
    metrics = server.get("/metrics").text
    assert 'sluice_query_failed{query="sv"} 1' in metrics
    # a restart does not revive it past the bad event: it fails again on the same event
    for sig in (signal.SIGTERM, signal.SIGKILL):
        server.restart(sig)
        d = wait_until(lambda: (lambda d: d if d["status"] == "failed" else None)(describe_query(server, "sv")),
                       WAIT, "the query to fail again after a restart")
        assert re.search(r"\bpartition %d\b" % part, d["error"]) and re.search(r"\boffset %d\b" % off, d["error"]), d


def test_on_error_default_reads_null_and_counts_bad_fields(server):
    create_topic(server, "ev", partitions=1)
    sql_result(server, "CREATE STREAM lax (k VARCHAR, n BIGINT) WITH ('topic' = 'ev')")
    sql_result(server, "CREATE MATERIALIZED VIEW lv AS SELECT k, n FROM lax")
    produce_ok(server, "ev", [{"k": "a", "n": 1}, {"k": "b", "n": "two"}, {"k": "c", "n": 3}])
    d = wait_events_in(server, "lv", 3)
    assert d["status"] == "running" and d["error"] is None
    assert d["stats"]["bad_fields"] == 1, d
    assert sorted(view_rows(server, "lv"), key=lambda r: r["k"]) == [{"k": "a", "n": 1}, {"k": "b", "n": None},
                                                                     {"k": "c", "n": 3}]
    run_sql(server, "CREATE STREAM s2 (k VARCHAR) WITH ('topic' = 'ev', 'on_error' = 'maybe')", 400, "sql_error")


def test_memory_limit_fails_the_query(server):
    create_topic(server, "ev", partitions=1)
    sql_result(server, "CREATE STREAM s (k VARCHAR, n BIGINT) WITH ('topic' = 'ev')")
    sql_result(server, "CREATE MATERIALIZED VIEW small WITH ('memory_limit' = '1 KB') AS "
                       "SELECT k, COUNT(*) AS c FROM s GROUP BY k")
    sql_result(server, "CREATE MATERIALIZED VIEW roomy AS SELECT k, COUNT(*) AS c FROM s GROUP BY k")
    produce_ok(server, "ev", [{"k": "key-%04d" % i, "n": i} for i in range(500)])
    d = wait_until(lambda: (lambda d: d if d["status"] == "failed" else None)(describe_query(server, "small")), WAIT,
                   "the query over its memory_limit to fail")
    assert "memory_limit" in d["error"], d
    r = wait_events_in(server, "roomy", 500)
    assert r["status"] == "running" and r["stats"]["rows"] == 500, r
    run_sql(server, "CREATE MATERIALIZED VIEW bad WITH ('memory_limit' = 'lots') AS SELECT k FROM s", 400, "sql_error")


def test_deleting_the_source_topic_fails_its_queries(server):
    setup_clicks(server)
    sql_result(server, "CREATE MATERIALIZED VIEW v AS SELECT user, COUNT(*) AS c FROM clicks GROUP BY user")
    produce_ok(server, "clicks", [{"user": "ann", "n": 1, "ts": 1}])
    wait_events_in(server, "v", 1)
    expect(server.delete("/v1/topics/clicks"), 204)
    d = wait_until(lambda: (lambda d: d if d["status"] == "failed" else None)(describe_query(server, "v")), WAIT,
                   "the query to fail")
    assert "clicks" in d["error"], d
    assert view_rows(server, "v") == [{"user": "ann", "c": 1}]


# ---- restarts ---------------------------------------------------------------------------------------


def test_streams_views_and_sinks_survive_restart_and_kill9(make_server):
    srv = make_server("--fsync", "always")
    create_topic(srv, "orders", partitions=3, key="/user")
    run_sql(srv, "CREATE STREAM orders (user VARCHAR, amount BIGINT, ts TIMESTAMP(3), "
                 "WATERMARK FOR ts AS ts - INTERVAL '1' SECOND) WITH ('topic' = 'orders');\n"
                 "CREATE MATERIALIZED VIEW totals AS SELECT user, COUNT(*) AS c, SUM(amount) AS s "
                 "FROM orders GROUP BY user;\n"
                 "CREATE MATERIALIZED VIEW per_second AS SELECT user, window_start, COUNT(*) AS c "
                 "FROM TABLE(TUMBLE(TABLE orders, DESCRIPTOR(ts), INTERVAL '1' SECOND)) "
                 "GROUP BY user, window_start, window_end;\n"
                 "CREATE SINK big INTO TOPIC 'big' WITH ('partitions' = '2') AS "
                 "SELECT user, amount FROM orders WHERE amount >= 50")
    users = ["u%d" % i for i in range(12)]
    sent = []
    seq = [0]

    def produce_round(n):
        evs = []
        for _ in range(n):
            i = seq[0]
            seq[0] += 1
            # event time advances 10 ms per event in every partition (users cycle), windows of 1 s
            evs.append({"user": users[i % len(users)], "amount": (i * 7) % 100, "ts": 1_000_005 + 10 * i})
        for k in range(0, n, 500):
            produce_ok(srv, "orders", evs[k:k + 500])
        sent.extend(evs)

    def expected():
        tot = {}
        for e in sent:
            c, s = tot.get(e["user"], (0, 0))
            tot[e["user"]] = (c + 1, s + e["amount"])
        big = collections.Counter(json.dumps({"user": e["user"], "amount": e["amount"]}, sort_keys=True)
                                  for e in sent if e["amount"] >= 50)
        return {u: {"user": u, "c": c, "s": s} for u, (c, s) in tot.items()}, big

    def closed_windows():
        # per partition the watermark is its latest ts - 1 s; the query's is the least of them
        last = {}
        for e in sent:
            p = kafka_partition(e["user"].encode(), 3)
            last[p] = max(last.get(p, 0), e["ts"])
        assert len(last) == 3, last
        wm = min(last.values()) - 1000
        win = collections.Counter()
        for e in sent:
            start = e["ts"] - e["ts"] % 1000
            if start + 1000 <= wm:
                win[(e["user"], ts_text(start))] += 1
        return {k: v for k, v in win.items()}

    def check(what):
        tot, big = expected()
        for q in ("totals", "per_second", "big"):
            d = wait_events_in(srv, q, len(sent))
            assert d["stats"]["events_in"] == len(sent), (what, q, d["stats"])
            assert d["status"] == "running", (what, q, d)
        rows = {r["user"]: r for r in view_rows(srv, "totals")}
        assert rows == tot, what
        win = {(r["user"], r["window_start"]): r["c"] for r in view_rows(srv, "per_second")}
        assert win == closed_windows(), what
        got = wait_until(lambda: (lambda m: m if sum(m.values()) >= sum(big.values()) else None)(
            collections.Counter(json.dumps(v, sort_keys=True) for v in topic_values(srv, "big"))),
            WAIT, "the sink records (%s)" % what, interval=0.2)
        assert got == big, "%s: sink topic differs: missing %s, extra %s" % (
            what, list((big - got).items())[:5], list((got - big).items())[:5])

    produce_round(3000)
    check("before any restart")
    # a clean restart
    rc, clean = srv.stop(signal.SIGTERM)
    assert clean and rc == 0, (rc, clean, srv.logs())
    srv.start()
    assert names(sql_result(srv, "SHOW STREAMS")) == ["orders"]
    assert names(sql_result(srv, "SHOW VIEWS")) == ["per_second", "totals"]
    assert names(sql_result(srv, "SHOW SINKS")) == ["big"]
    check("after SIGTERM")
    produce_round(3000)
    check("after SIGTERM and more events")
    # kill -9 right after events were read (probably before their checkpoint) ...
    produce_round(2000)
    wait_events_in(srv, "totals", len(sent))
    srv.kill9()
    srv.start()
    check("after kill -9")
    # ... and right after producing, before the queries read everything
    produce_round(2000)
    srv.kill9()
    srv.start()
    check("after a second kill -9")
    produce_round(1000)
    check("after a second kill -9 and more events")
    time.sleep(1.5)   # one more checkpoint interval: nothing is appended twice
    check("at the end")
    d = describe_query(srv, "totals")
    assert d["status"] == "running" and d["stats"]["late_events"] == 0, d


# ---- metrics and the CLI ----------------------------------------------------------------------------


def metric(text, name, query):
    m = re.search(r'^%s\{query="%s"\} (\S+)$' % (re.escape(name), re.escape(query)), text, re.M)
    return float(m.group(1)) if m else None


def test_query_metrics(server):
    setup_clicks(server, partitions=1)
    sql_result(server, "CREATE MATERIALIZED VIEW v AS SELECT user, COUNT(*) AS c, SUM(n) AS s "
                       "FROM clicks GROUP BY user")
    sql_result(server, "CREATE MATERIALIZED VIEW late_v AS SELECT user, window_start, COUNT(*) AS c "
                       "FROM TABLE(TUMBLE(TABLE clicks, DESCRIPTOR(ts), INTERVAL '1' SECOND)) "
                       "GROUP BY user, window_start, window_end")
    produce_ok(server, "clicks", [{"user": "u%d" % (i % 4), "n": i, "ts": 10_000 + i} for i in range(100)])
    produce_ok(server, "clicks", [{"user": "x", "n": 0, "ts": 20_000}])
    # an event whose window closed long ago: late
    produce_ok(server, "clicks", [{"user": "y", "n": 0, "ts": 1_000}, {"user": "z", "n": "bad", "ts": 20_000}])
    wait_events_in(server, "v", 103)
    wait_events_in(server, "late_v", 103)

    def scrape():
        text = server.get("/metrics").text
        return text if (metric(text, "sluice_query_checkpoints_total", "v") or 0) >= 1 else None

    text = wait_until(scrape, WAIT, "a checkpoint of v", interval=0.2)
    assert "# TYPE sluice_query_events_in_total counter" in text
    assert metric(text, "sluice_query_events_in_total", "v") == 103
    assert metric(text, "sluice_query_events_in_total", "late_v") == 103
    assert metric(text, "sluice_query_rows_out_total", "v") >= 7
    assert metric(text, "sluice_query_rows_out_total", "late_v") >= 1
    assert metric(text, "sluice_query_late_events_total", "late_v") == 1
    assert metric(text, "sluice_query_late_events_total", "v") == 0
    assert metric(text, "sluice_query_bad_fields_total", "v") == 1
    assert metric(text, "sluice_query_state_bytes", "v") > 0
    assert metric(text, "sluice_query_failed", "v") == 0
    assert metric(text, "sluice_query_checkpoint_seconds", "v") is not None
    assert metric(text, "sluice_query_watermark_lag_ms", "late_v") is not None


def run_cli(*args, env=None):
    e = dict(os.environ)
    e.pop("SLUICE_URL", None)
    e.update(env or {})
    return subprocess.run([SLUICE_BIN] + list(args), capture_output=True, text=True, timeout=30, env=e,
                          stdin=subprocess.DEVNULL)


def test_cli_sql_table_and_errors(server):
    setup_clicks(server)
    create_topic(server, "notes")
    sql_result(server, "CREATE STREAM notes (id BIGINT, body VARCHAR) WITH ('topic' = 'notes')")
    for args, env in ((["sql", "--format", "table", "-e", "SHOW STREAMS"], {"SLUICE_URL": server.base}),
                      (["sql", "--server", server.base, "--format", "table", "-e", "SHOW STREAMS"], None),
                      (["--server", server.base, "sql", "--format", "table", "-e", "SHOW STREAMS"], None)):
        p = run_cli(*args, env=env)
        assert p.returncode == 0, (args, p.returncode, p.stdout, p.stderr)
        lines = p.stdout.rstrip("\n").split("\n")
        header, rule, rows, footer = lines[0], lines[1], lines[2:-1], lines[-1]
        assert header.split() == ["name", "topic", "columns", "watermark"], p.stdout
        assert set(rule) <= {"-", " "}, p.stdout
        assert footer == "(2 rows)", p.stdout
        assert [r.split()[0] for r in rows] == ["clicks", "notes"], p.stdout
        # aligned: every column starts where its rule segment starts
        starts = [m.start() for m in re.finditer(r"-+", rule)]
        assert [m.start() for m in re.finditer(r"\S+", header)] == starts, p.stdout
        for r in rows:
            cells = [m.start() for m in re.finditer(r"\S+", r)]
            assert cells[0] == starts[0] and cells[1] == starts[1], p.stdout
        widths = [m.end() for m in re.finditer(r"-+", rule)]
        assert all(len(r) <= widths[-1] for r in rows), p.stdout
        assert "ts - 1000 ms" in p.stdout and "NULL" in p.stdout
    # the default output when stdout is not a terminal: one JSON result per line
    p = run_cli("sql", "--server", server.base, "-e", "SHOW VIEWS")
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout.strip().split("\n")[0])["statement"] == "SHOW"
    # a refused statement: exit 1, the error (with its location) on stderr
    p = run_cli("sql", "--server", server.base, "-e", "SELECT FROM clicks")
    assert p.returncode == 1, (p.returncode, p.stdout, p.stderr)
    assert "unexpected FROM" in p.stderr and "line 1" in p.stderr and "column 8" in p.stderr, p.stderr
    assert p.stdout.strip() == "", p.stdout
    p = run_cli("sql", "--server", server.base, "-e", "DROP VIEW nope")
    assert p.returncode == 1 and "nope" in p.stderr, (p.returncode, p.stderr)
    # unreachable server: exit 1
    p = run_cli("sql", "--server", "http://127.0.0.1:1", "-e", "SHOW STREAMS")
    assert p.returncode == 1, (p.returncode, p.stderr)


def test_a_query_that_cannot_restore_keeps_its_definition(server):
    """A corrupt checkpoint keeps its query from starting (logged), but the definition stays in
    the catalog through later DDL; once the damage is gone the query starts again."""
    setup_clicks(server)
    sql_result(server, "CREATE MATERIALIZED VIEW per_user AS SELECT user, COUNT(*) AS c FROM clicks GROUP BY user")
    produce_ok(server, "clicks", [{"user": "u%d" % (i % 3), "n": i, "ts": 1000 + i} for i in range(30)])
    wait_events_in(server, "per_user", 30)
    server.stop()
    ckpt = os.path.join(server.data_dir, "sql", "checkpoints", "per_user.ckpt")
    with open(ckpt, "r+b") as f:
        f.seek(20)
        b = f.read(1)
        f.seek(20)
        f.write(bytes([b[0] ^ 0xFF]))
    server.start()
    assert names(sql_result(server, "SHOW VIEWS")) == []
    assert "per_user" in server.logs() and "corrupt" in server.logs()
    # other DDL rewrites the catalog; the unrestored definition must survive it
    sql_result(server, "CREATE MATERIALIZED VIEW other AS SELECT n FROM clicks")
    server.stop()
    os.unlink(ckpt)                     # the operator removes the damaged checkpoint
    server.start()
    assert sorted(names(sql_result(server, "SHOW VIEWS"))) == ["other", "per_user"]
    d = wait_events_in(server, "per_user", 30)  # rebuilt from the start of the stream
    assert sorted((r["user"], r["c"]) for r in view_rows(server, "per_user")) == [("u0", 10), ("u1", 10), ("u2", 10)], d

"""`sluice sql`, the SQL client: scripts from -e, -f FILE, -f - and a piped stdin; the table,
json, ndjson and csv outputs; refusals (exit 1), usage errors (exit 2); and the interactive shell
driven through a pseudo-terminal.

The server here is MockSQLServer, which speaks the POST /v1/sql contract the way the real server
does: it splits the body's "sql" into statements (';' outside quotes and comments), answers each
from SCENARIO (what the engine returns for it), and refuses a statement listed in ERRORS with
HTTP 400, its error located by line and column in the whole text: a syntax error before anything
runs, any other error after the results of the statements before it. It also records each
request, which the mock-only assertions look at.

The same tests run against the real server with SLUICE_SQL_REAL=1 (a `sluice serve` started
here and loaded with the scenario: topics, SETUP_SQL, BID_EVENTS and NOTE_EVENTS), or with
SLUICE_SQL_URL=URL (a server already loaded so). The output assertions stay as they are; the
request-recording ones and the tests that need a misbehaving server are skipped."""

import csv
import io
import json
import os
import re
import select
import socket
import subprocess
import sys
import termios
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SLUICE_BIN = os.environ.get("SLUICE_BIN", os.path.join(ROOT, "build", "sluice"))
REAL_URL = os.environ.get("SLUICE_SQL_URL")
REAL_SERVE = os.environ.get("SLUICE_SQL_REAL") == "1"
CMD_TIMEOUT = 30
PTY_TIMEOUT = 10.0

# ---- the scenario --------------------------------------------------------------------------

CREATE_BID = ("CREATE STREAM bid (auction BIGINT, bidder VARCHAR, price DOUBLE, ts TIMESTAMP(3), "
              "WATERMARK FOR ts AS ts - INTERVAL '1' SECOND) WITH ('topic' = 'bids')")
CREATE_NOTES = "CREATE STREAM notes (id BIGINT, note VARCHAR, active BOOLEAN) WITH ('topic' = 'notes')"
CREATE_LAST_BIDS = "CREATE MATERIALIZED VIEW last_bids AS SELECT auction, bidder, price, ts FROM bid"
CREATE_ALL_NOTES = "CREATE MATERIALIZED VIEW all_notes AS SELECT id, note, active FROM notes"
SETUP_SQL = ";\n".join([CREATE_BID, CREATE_NOTES, CREATE_LAST_BIDS, CREATE_ALL_NOTES]) + ";\n"

SELECT_BIDS = "SELECT auction, bidder, price, ts FROM last_bids ORDER BY auction DESC LIMIT 2"
SELECT_NOTES = "SELECT id, note, active FROM all_notes ORDER BY id"
EXPLAIN_BIDS = "EXPLAIN SELECT auction, price FROM bid WHERE price > 10"
SHOW_STREAMS = "SHOW STREAMS"
GREETING = "SELECT 'Gr\u00fc\u00dfe, \u674e' AS greeting"

LONG_NOTE = "x" * 57 + "\u00fc" * 5          # 62 characters: cut to 59 + "…" in a table

BID_COLUMNS = [{"name": "auction", "type": "BIGINT"}, {"name": "bidder", "type": "VARCHAR"},
               {"name": "price", "type": "DOUBLE"}, {"name": "ts", "type": "TIMESTAMP(3)"}]
# Row keys deliberately in another order than "columns": the client must follow "columns".
BID_ROWS = [{"ts": "2024-05-01T12:00:00.000Z", "price": 12.5, "bidder": "Zo\u00eb M\u00fcller", "auction": 1001},
            {"ts": "2024-05-01T12:00:01.250Z", "price": None, "bidder": "\u674e\u5c0f\u9f99", "auction": 7}]
BID_EVENTS = BID_ROWS
NOTE_COLUMNS = [{"name": "id", "type": "BIGINT"}, {"name": "note", "type": "VARCHAR"},
                {"name": "active", "type": "BOOLEAN"}]
NOTE_ROWS = [{"id": 1, "note": 'he said "hi", then left', "active": True},
             {"id": 2, "note": "", "active": None},
             {"id": 3, "note": "two\nlines\tand a tab", "active": False},
             {"id": 4, "note": LONG_NOTE, "active": True}]
NOTE_EVENTS = NOTE_ROWS
PLAN = ("Project auction AS auction, price AS price\n"
        "  Filter (price > CAST(10 AS DOUBLE))\n"
        "    Scan stream=bid topic=bids columns=[auction BIGINT, bidder VARCHAR, price DOUBLE, "
        "ts TIMESTAMP(3)] watermark=ts - 1000 ms\n")

SCENARIO = {
    CREATE_BID: {"statement": "CREATE STREAM", "message": "created stream bid (4 columns) over topic bids"},
    CREATE_NOTES: {"statement": "CREATE STREAM",
                   "message": "created stream notes (3 columns) over topic notes"},
    CREATE_LAST_BIDS: {"statement": "CREATE MATERIALIZED VIEW", "message": "created materialized view last_bids"},
    CREATE_ALL_NOTES: {"statement": "CREATE MATERIALIZED VIEW", "message": "created materialized view all_notes"},
    SELECT_BIDS: {"statement": "SELECT", "columns": BID_COLUMNS, "rows": BID_ROWS},
    SELECT_NOTES: {"statement": "SELECT", "columns": NOTE_COLUMNS, "rows": NOTE_ROWS},
    EXPLAIN_BIDS: {"statement": "EXPLAIN", "plan": PLAN},
    GREETING: {"statement": "SELECT", "columns": [{"name": "greeting", "type": "VARCHAR"}],
               "rows": [{"greeting": "Gr\u00fc\u00dfe, \u674e"}]},
    SHOW_STREAMS: {"statement": "SHOW",
                   "columns": [{"name": "name", "type": "VARCHAR"}, {"name": "topic", "type": "VARCHAR"},
                               {"name": "columns", "type": "BIGINT"}, {"name": "watermark", "type": "VARCHAR"}],
                   "rows": [{"name": "bid", "topic": "bids", "columns": 4, "watermark": "ts - 1000 ms"},
                            {"name": "notes", "topic": "notes", "columns": 3, "watermark": None}]},
}
SHOW_STREAMS_TABLE = (
    "name   topic  columns  watermark\n"
    "-----  -----  -------  ------------\n"
    "bid    bids         4  ts - 1000 ms\n"
    "notes  notes        3  NULL\n"
    "(2 rows)\n")
# Statements the server refuses: (code, offset of the offending token in the statement, message
# with {line} and {col}). As in the real server, a syntax error refuses the whole text before
# anything runs; other errors come when the statement runs, after the results of those before.
STREAM_NOT_VIEW = "SELECT auction FROM bid"
ERRORS = {
    "SELECT FROM bid": ("sql_syntax_error", 7, "syntax error at line {line}, column {col}: unexpected FROM"),
    STREAM_NOT_VIEW: ("sql_error", 20, "bid is a stream; an ad-hoc SELECT reads a materialized view "
                      "(CREATE MATERIALIZED VIEW v AS SELECT ... FROM bid) (line {line}, column {col})"),
}
# Statements the mock answers only after this many seconds.
SLOW = "SELECT * FROM slow_view"
DELAYS = {SLOW: 5.0}

BIDS_TABLE = (
    "auction  bidder      price  ts\n"
    "-------  ----------  -----  ------------------------\n"
    "   1001  Zo\u00eb M\u00fcller   12.5  2024-05-01T12:00:00.000Z\n"
    "      7  \u674e\u5c0f\u9f99          NULL  2024-05-01T12:00:01.250Z\n"
    "(2 rows)\n")

# ---- the mock server -----------------------------------------------------------------------


def split_statements(text):
    """[(offset of the statement's first token, its text without comments)] as the server
    splits them: on ';' outside '...', "...", `...` and -- / block comments."""
    out, cur, start, quote, i = [], [], None, None, 0
    while i < len(text):
        c, nxt = text[i], text[i + 1:i + 2]
        if quote:
            cur.append(c)
            if c == quote and nxt == quote:
                cur.append(nxt)
                i += 1
            elif c == quote:
                quote = None
        elif c == "-" and nxt == "-":
            end = text.find("\n", i)
            i = len(text) if end < 0 else end
            cur.append(" ")
            continue
        elif c == "/" and nxt == "*":
            end = text.find("*/", i + 2)
            i = len(text) if end < 0 else end + 2
            cur.append(" ")
            continue
        elif c == ";":
            if start is not None:
                out.append((start, "".join(cur)))
            cur, start = [], None
        else:
            if not c.isspace() and start is None:
                start = i
            if c in "'\"`":
                quote = c
            cur.append(c)
        i += 1
    if start is not None:
        out.append((start, "".join(cur)))
    return out


def normalize(stmt):
    return " ".join(stmt.split())


def position(text, offset):
    """1-based (line, column) of text[offset], columns in characters."""
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


class MockSQLServer:
    recording = True

    def __init__(self):
        self.requests = []            # (method, path, content type, body bytes)
        self.raw_reply = None         # (status, content type, body) sent instead of an answer
        mock = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def reply(self, status, body, ctype="application/json"):
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                ctype = self.headers.get("Content-Type", "")
                mock.requests.append(("POST", self.path, ctype, body))
                if mock.raw_reply:
                    status, rtype, rbody = mock.raw_reply
                    return self.reply(status, rbody, rtype)
                if self.path != "/v1/sql":
                    return self.reply(404, {"error": {"code": "not_found", "message": "no such endpoint"}})
                if ctype.split(";")[0].strip() != "application/json":
                    return self.reply(415, {"error": {"code": "unsupported_media_type",
                                                      "message": "send application/json"}})
                try:
                    text = json.loads(body)["sql"]
                except (ValueError, KeyError, TypeError) as e:
                    return self.reply(400, {"error": {"code": "invalid_json", "message": str(e)}})
                self.answer(text)

            def answer(self, text):
                statements = split_statements(text)
                keys = [normalize(stmt) for _, stmt in statements]
                syntax = [n for n, key in enumerate(keys) if ERRORS.get(key, ("",))[0] == "sql_syntax_error"]
                results = []
                for n, ((start, stmt), key) in enumerate(zip(statements, keys)):
                    if syntax and n < syntax[0]:
                        continue
                    time.sleep(DELAYS.get(key, 0))
                    if key in SCENARIO:
                        results.append(SCENARIO[key])
                        continue
                    code, off, msg = ERRORS.get(key, ("mock_unknown_statement", 0,
                                                      "mock: no answer for %r" % key))
                    line, col = position(text, start + off)
                    return self.reply(400, {"error": {
                        "code": code, "message": msg.format(line=line, col=col),
                        "line": line, "column": col, "statement": n + 1}, "results": results})
                self.reply(200, {"results": results})

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = "http://127.0.0.1:%d" % self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def bodies(self):
        return [json.loads(r[3]) for r in self.requests]

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class RealServer:
    """A real server: the one at url, or (url None) a `sluice serve` started and loaded here."""
    recording = False

    def __init__(self, url=None, tmp=None):
        self.proc = None
        self.url = url
        if url:
            return
        port = free_port()
        self.url = "http://127.0.0.1:%d" % port
        self.log_path = tmp / "serve.log"
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [SLUICE_BIN, "serve", "--listen", "127.0.0.1:%d" % port, "--data-dir", str(tmp / "data")],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        try:
            self.wait_for(lambda: urllib.request.urlopen(self.url + "/healthz", timeout=1).status == 200)
            self.load()
        except BaseException:
            self.close()
            raise

    def wait_for(self, ready, what="the server to start"):
        deadline = time.monotonic() + 15
        while True:
            if self.proc.poll() is not None:
                raise AssertionError("sluice serve exited with %s:\n%s"
                                     % (self.proc.returncode, self.log_path.read_text()))
            try:
                if ready():
                    return
            except OSError:           # urllib's errors included
                pass
            if time.monotonic() > deadline:
                raise AssertionError("timed out waiting for %s:\n%s" % (what, self.log_path.read_text()))
            time.sleep(0.05)

    def run(self, *args, input=None):
        p = subprocess.run([SLUICE_BIN, "--server", self.url] + list(args), input=input,
                           capture_output=True, timeout=CMD_TIMEOUT)
        assert p.returncode == 0, (args, p.stderr.decode())

    def rows(self, sql):
        req = urllib.request.Request(self.url + "/v1/sql", data=json.dumps({"sql": sql}).encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=CMD_TIMEOUT) as r:
            return json.loads(r.read())["results"][0]["rows"]

    def load(self):
        """The scenario: streams and views over two topics, and the events behind the rows."""
        for topic in ("bids", "notes"):
            self.run("topic", "create", topic)
        self.run("sql", "-e", SETUP_SQL)
        for topic, events in (("bids", BID_EVENTS), ("notes", NOTE_EVENTS)):
            self.run("produce", topic, input="".join(json.dumps(e) + "\n" for e in events).encode())
        self.wait_for(lambda: len(self.rows(SELECT_BIDS)) == len(BID_ROWS)
                      and len(self.rows(SELECT_NOTES)) == len(NOTE_ROWS), "the views to fill")

    def close(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server_instance(tmp_path_factory):
    if not os.path.exists(SLUICE_BIN):
        pytest.fail("SLUICE_BIN %s does not exist (build first)" % SLUICE_BIN)
    if REAL_URL or REAL_SERVE:
        srv = RealServer(REAL_URL, None if REAL_URL else tmp_path_factory.mktemp("sql-real"))
    else:
        srv = MockSQLServer()
    yield srv
    srv.close()


@pytest.fixture
def mock(server_instance):
    if server_instance.recording:
        server_instance.requests.clear()
        server_instance.raw_reply = None
    return server_instance


@pytest.fixture
def only_mock(mock):
    if not mock.recording:
        pytest.skip("needs the mock server")
    return mock


def sluice_sql(*args, url=None, input=None, env=None, prefix=()):
    """Runs `sluice [prefix] sql [--server url] args`; returns (status, stdout, stderr) as text."""
    argv = [SLUICE_BIN] + list(prefix) + ["sql"] + (["--server", url] if url else []) + list(args)
    e = dict(os.environ)
    e.pop("SLUICE_URL", None)
    e.update(env or {})
    p = subprocess.run(argv, input=input.encode() if isinstance(input, str) else input,
                       stdin=subprocess.DEVNULL if input is None else None,
                       capture_output=True, timeout=CMD_TIMEOUT, env=e)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


# ---- help and usage ------------------------------------------------------------------------


def test_help_exits_0():
    rc, out, err = sluice_sql("--help")
    assert rc == 0 and err == ""
    assert out.startswith("Usage: sluice sql [--server URL] [-e SQL]... [-f FILE]... "
                          "[--format table|json|ndjson|csv]\n")
    rc, out2, _ = sluice_sql("-h")
    assert rc == 0 and out2 == out
    p = subprocess.run([SLUICE_BIN, "help", "sql"], capture_output=True, timeout=CMD_TIMEOUT)
    assert p.returncode == 0 and p.stdout.decode() == out
    p = subprocess.run([SLUICE_BIN, "--help"], capture_output=True, timeout=CMD_TIMEOUT)
    assert p.returncode == 0 and re.search(r"^  sql .*SQL", p.stdout.decode(), re.M)


@pytest.mark.parametrize("args,needle", [
    (["--bogus"], "unrecognized option"),
    (["--format", "xml"], "--format is table, json, ndjson or csv, not 'xml'"),
    (["-e"], "requires an argument"),
    (["SELECT 1"], "unexpected argument 'SELECT 1'"),
])
def test_usage_errors_exit_2(args, needle):
    rc, out, err = sluice_sql(*args, url="http://127.0.0.1:9")
    assert rc == 2, err
    assert out == ""
    assert needle in err and "Try 'sluice sql --help'." in err


# ---- requests ------------------------------------------------------------------------------


def test_execute_sends_the_text_as_json(only_mock):
    text = "SELECT 'it''s \"quoted\" \\ back\tslash', 'Gr\u00fc\u00dfe \u2603' -- note\n  ;\n"
    rc, out, err = sluice_sql("--format", "json", "-e", text, url=only_mock.url)
    assert rc == 1  # the mock knows no such statement; the request is what matters here
    assert len(only_mock.requests) == 1
    method, path, ctype, body = only_mock.requests[0]
    assert (method, path, ctype) == ("POST", "/v1/sql", "application/json")
    assert json.loads(body) == {"sql": text}


def test_script_is_one_request_and_statements_stay_in_it(only_mock):
    script = SETUP_SQL + "-- a comment; with a semicolon\n" + SHOW_STREAMS + ";\n"
    rc, out, err = sluice_sql("--format", "table", "-e", script, url=only_mock.url)
    assert rc == 0, err
    assert only_mock.bodies() == [{"sql": script}]
    assert out == ("created stream bid (4 columns) over topic bids\n"
                   "created stream notes (3 columns) over topic notes\n"
                   "created materialized view last_bids\n"
                   "created materialized view all_notes\n"
                   "\n" + SHOW_STREAMS_TABLE)


def test_each_e_is_its_own_script_in_order(only_mock):
    rc, out, err = sluice_sql("--format", "json", "-e", CREATE_BID, "-e", SHOW_STREAMS + ";",
                              url=only_mock.url)
    assert rc == 0, err
    assert only_mock.bodies() == [{"sql": CREATE_BID}, {"sql": SHOW_STREAMS + ";"}]


def test_blank_script_sends_nothing(only_mock):
    rc, out, err = sluice_sql("-e", "  -- nothing here\n ; /* or here */\n", url=only_mock.url)
    assert (rc, out, err) == (0, "", "")
    assert only_mock.requests == []


def test_file_stdin_and_piped_stdin_are_scripts(mock, tmp_path):
    script = SELECT_BIDS + ";\n"
    path = tmp_path / "q.sql"
    path.write_text(script)
    for args, stdin in [(["-f", str(path)], None), (["-f", "-"], script), ([], script)]:
        if mock.recording:
            mock.requests.clear()
        rc, out, err = sluice_sql("--format", "table", *args, url=mock.url, input=stdin)
        assert (rc, err) == (0, ""), args
        assert out == BIDS_TABLE, args
        if mock.recording:
            assert mock.bodies() == [{"sql": script}], args


def test_server_from_env_and_flags(only_mock):
    sql = SHOW_STREAMS + ";"
    rc, out, err = sluice_sql("--format", "json", "-e", sql, env={"SLUICE_URL": only_mock.url})
    assert rc == 0, err
    rc, out, err = sluice_sql("--format", "json", "-e", sql, prefix=["--server", only_mock.url],
                              env={"SLUICE_URL": "http://127.0.0.1:9"})
    assert rc == 0, err
    rc, out, err = sluice_sql("--format", "json", "-e", sql, url=only_mock.url + "/",
                              env={"SLUICE_URL": "http://127.0.0.1:9"})
    assert rc == 0, err
    assert [r[1] for r in only_mock.requests] == ["/v1/sql"] * 3


# ---- output formats ------------------------------------------------------------------------


def test_table_output(mock):
    rc, out, err = sluice_sql("--format", "table", "-e", SELECT_BIDS, url=mock.url)
    assert (rc, err) == (0, "")
    assert out == BIDS_TABLE


def test_table_cuts_long_cells_and_escapes_control_characters(mock):
    rc, out, err = sluice_sql("--format", "table", "-e", SELECT_NOTES, url=mock.url)
    assert (rc, err) == (0, "")
    cut = "x" * 57 + "\u00fc\u00fc\u2026"
    assert len(cut) == 60
    w = 60
    assert out == (
        "id  " + "note".ljust(w) + "  active\n"
        "--  " + "-" * w + "  ------\n"
        " 1  " + 'he said "hi", then left'.ljust(w) + "  true\n"
        " 2  " + "".ljust(w) + "  NULL\n"
        " 3  " + "two\\nlines\\tand a tab".ljust(w) + "  false\n"
        " 4  " + cut + "  true\n"
        "(4 rows)\n")


def test_messages_and_plans(mock):
    rc, out, err = sluice_sql("--format", "table", "-e", EXPLAIN_BIDS + ";", url=mock.url)
    assert (rc, out, err) == (0, PLAN, "")
    if mock.recording:  # creating again would fail on a server that has the scenario loaded
        rc, out, err = sluice_sql("--format", "table", "-e", CREATE_BID + "; " + EXPLAIN_BIDS,
                                  url=mock.url)
        assert (rc, out, err) == (0, "created stream bid (4 columns) over topic bids\n\n" + PLAN, "")


def test_json_format_prints_result_objects(mock):
    rc, out, err = sluice_sql("--format", "json", "-e", SELECT_BIDS + "; " + EXPLAIN_BIDS,
                              url=mock.url)
    assert (rc, err) == (0, "")
    lines = out.split("\n")
    assert lines[-1] == "" and len(lines) == 3
    assert [json.loads(line) for line in lines[:2]] == [SCENARIO[SELECT_BIDS], SCENARIO[EXPLAIN_BIDS]]


def test_json_is_the_default_when_stdout_is_not_a_terminal(mock):
    rc, out, err = sluice_sql("-e", SELECT_BIDS, url=mock.url)
    assert (rc, err) == (0, "")
    assert json.loads(out) == SCENARIO[SELECT_BIDS]


def test_ndjson_format_prints_rows_in_column_order(mock):
    rc, out, err = sluice_sql("--format", "ndjson", "-e", SELECT_BIDS, url=mock.url)
    assert (rc, err) == (0, "")
    lines = out.splitlines()
    assert [json.loads(line) for line in lines] == BID_ROWS
    assert [list(json.loads(line)) for line in lines] == [["auction", "bidder", "price", "ts"]] * 2
    assert lines[1] == ('{"auction":7,"bidder":"\u674e\u5c0f\u9f99","price":null,'
                        '"ts":"2024-05-01T12:00:01.250Z"}')


def test_ndjson_and_csv_send_messages_to_stderr(only_mock):
    for fmt in ("ndjson", "csv"):
        rc, out, err = sluice_sql("--format", fmt, "-e", CREATE_BID, url=only_mock.url)
        assert (rc, out, err) == (0, "", "created stream bid (4 columns) over topic bids\n"), fmt


def test_csv_format(mock):
    rc, out, err = sluice_sql("--format", "csv", "-e", SELECT_NOTES, url=mock.url)
    assert (rc, err) == (0, "")
    assert out == ('id,note,active\r\n'
                   '1,"he said ""hi"", then left",true\r\n'
                   '2,"",\r\n'
                   '3,"two\nlines\tand a tab",false\r\n'
                   '4,' + LONG_NOTE + ',true\r\n')
    rows = list(csv.reader(io.StringIO(out, newline="")))
    assert rows[0] == ["id", "note", "active"]
    assert [r[1] for r in rows[1:]] == [r["note"] for r in NOTE_ROWS]


# ---- failures ------------------------------------------------------------------------------


def test_refused_statement_prints_earlier_results_and_the_error(mock, tmp_path):
    path = tmp_path / "bad.sql"
    path.write_text(SHOW_STREAMS + ";\n-- the next one is wrong\n  " + STREAM_NOT_VIEW + ";\n"
                    + SELECT_BIDS + ";\n")
    rc, out, err = sluice_sql("--format", "table", "-f", str(path), url=mock.url)
    assert rc == 1
    assert out == SHOW_STREAMS_TABLE
    # The message ends with the position already: it is not repeated.
    assert err == ("error: bid is a stream; an ad-hoc SELECT reads a materialized view "
                   "(CREATE MATERIALIZED VIEW v AS SELECT ... FROM bid) (line 3, column 23)\n")
    if mock.recording:
        assert len(mock.requests) == 1


def test_syntax_error_refuses_the_whole_script(mock):
    rc, out, err = sluice_sql("--format", "table", "-e", SHOW_STREAMS + ";\nSELECT FROM bid;",
                              url=mock.url)
    assert (rc, out) == (1, "")
    assert err == "error: syntax error at line 2, column 8: unexpected FROM (line 2, column 8)\n"


def test_a_failing_e_stops_the_run(only_mock):
    rc, out, err = sluice_sql("--format", "json", "-e", SHOW_STREAMS, "-e", "SELECT FROM bid",
                              "-e", SELECT_BIDS, url=only_mock.url)
    assert rc == 1
    assert err == "error: syntax error at line 1, column 8: unexpected FROM (line 1, column 8)\n"
    assert [b["sql"] for b in only_mock.bodies()] == [SHOW_STREAMS, "SELECT FROM bid"]
    assert json.loads(out) == SCENARIO[SHOW_STREAMS]


def test_answer_that_is_not_sluice_json(only_mock):
    only_mock.raw_reply = (502, "text/html", b"<html>Bad Gateway</html>")
    rc, out, err = sluice_sql("-e", SHOW_STREAMS, url=only_mock.url)
    assert rc == 1 and out == ""
    assert err == "sluice sql: the server answered HTTP 502: <html>Bad Gateway</html>\n"
    only_mock.raw_reply = (200, "application/json", b'{"rows": []}')
    rc, out, err = sluice_sql("-e", SHOW_STREAMS, url=only_mock.url)
    assert rc == 1 and "no \"results\" array" in err


def test_unreachable_server_exits_1():
    rc, out, err = sluice_sql("-e", SHOW_STREAMS, url="http://127.0.0.1:9")
    assert rc == 1 and out == ""
    assert "cannot reach the server at http://127.0.0.1:9" in err


def test_unreadable_or_non_utf8_input_exits_1_before_sending(only_mock, tmp_path):
    rc, out, err = sluice_sql("-e", SHOW_STREAMS, "-f", str(tmp_path / "missing.sql"), url=only_mock.url)
    assert rc == 1 and "cannot open" in err and "missing.sql" in err
    bad = tmp_path / "latin1.sql"
    bad.write_bytes(b"SHOW STREAMS;\nSELECT 'caf\xe9';\n")
    rc, out, err = sluice_sql("-f", str(bad), url=only_mock.url)
    assert rc == 1 and "latin1.sql: line 2 is not UTF-8 text" in err
    assert only_mock.requests == []


# ---- the interactive shell -----------------------------------------------------------------

# Runs argv[2:] with the terminal argv[1] as its controlling terminal and stdin/out/err.
LOGIN_TTY = "import os, sys; os.login_tty(os.open(sys.argv[1], os.O_RDWR)); os.execv(sys.argv[2], sys.argv[2:])"
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Z0-9]|\r")


class Terminal:
    """A process on a pseudo-terminal, read with deadlines."""

    def __init__(self, argv, env):
        import pty
        self.master, slave = pty.openpty()
        self.proc = subprocess.Popen([sys.executable, "-c", LOGIN_TTY, os.ttyname(slave)] + argv,
                                     env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        os.close(slave)
        self.raw = b""
        self.seen = 0                 # len(self.text()) already matched by expect()

    def text(self):
        return ANSI.sub("", self.raw.decode("utf-8", "replace"))

    def read_some(self, timeout):
        r, _, _ = select.select([self.master], [], [], timeout)
        if not r:
            return False
        try:
            data = os.read(self.master, 65536)
        except OSError:               # EIO: the other side is closed
            data = b""
        self.raw += data
        return bool(data)

    def expect(self, needle):
        """Waits for needle after what earlier expects matched; returns the text up to it."""
        deadline = time.monotonic() + PTY_TIMEOUT
        while True:
            text = self.text()
            at = text.find(needle, self.seen)
            if at >= 0:
                before = text[self.seen:at]
                self.seen = at + len(needle)
                return before
            left = deadline - time.monotonic()
            if left <= 0 or (not self.read_some(left) and self.proc.poll() is not None):
                raise AssertionError("no %r in the terminal output:\n%s" % (needle, text))

    def send(self, data):
        """Types data once the line editor reads: libedit prints its prompt before it turns
        off canonical mode, and what arrives in between is echoed twice or, for ^D, lost."""
        deadline = time.monotonic() + PTY_TIMEOUT
        while termios.tcgetattr(self.master)[3] & termios.ICANON:
            if time.monotonic() > deadline:
                raise AssertionError("the shell is not reading:\n" + self.text())
            self.read_some(0.01)
        os.write(self.master, data.encode())

    def wait(self):
        deadline = time.monotonic() + PTY_TIMEOUT
        while self.proc.poll() is None and time.monotonic() < deadline:
            self.read_some(0.05)
        if self.proc.poll() is None:
            self.proc.kill()
            raise AssertionError("the shell did not exit:\n" + self.text())
        while self.read_some(0.05):
            pass
        return self.proc.returncode

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        os.close(self.master)


@pytest.fixture
def shell(mock, tmp_path):
    env = dict(os.environ, HOME=str(tmp_path), TERM="dumb")
    for name in ("SLUICE_URL", "LANG", "LC_ALL", "LC_CTYPE"):
        env.pop(name, None)
    terms = []

    def start(*args):
        t = Terminal([SLUICE_BIN, "sql", "--server", mock.url] + list(args), env)
        terms.append(t)
        return t

    yield start
    for t in terms:
        t.close()


def test_shell_statement_over_two_lines(shell, mock, tmp_path):
    t = shell()
    banner = t.expect("sluice> ")
    assert "SQL shell on " + mock.url in banner and "\\h for help" in banner
    t.send("SELECT auction, bidder, price, ts\r")
    t.expect("   ...> ")
    t.send("FROM last_bids ORDER BY auction DESC LIMIT 2;\r")
    out = t.expect("sluice> ")
    assert out == "FROM last_bids ORDER BY auction DESC LIMIT 2;\n" + BIDS_TABLE
    if mock.recording:
        assert mock.bodies() == [{"sql": "SELECT auction, bidder, price, ts\n"
                                         "FROM last_bids ORDER BY auction DESC LIMIT 2;"}]
    t.send("\\q\r")
    assert t.wait() == 0
    history = (tmp_path / ".sluice_history").read_text()
    assert "FROM\\040last_bids" in history or "FROM last_bids" in history


def test_shell_help_errors_several_statements_and_ctrl_c(shell, mock):
    t = shell()
    t.expect("sluice> ")
    t.send("\\h\r")
    assert "\\q, quit, exit, Ctrl-D" in t.expect("sluice> ")
    # Two statements on one line: one request each; an error does not end the shell.
    t.send("SELECT FROM bid; " + EXPLAIN_BIDS + ";\r")
    out = t.expect("sluice> ")
    assert "error: syntax error at line 1, column 8: unexpected FROM (line 1, column 8)\n" in out
    assert out.endswith(PLAN)
    if mock.recording:
        assert [b["sql"] for b in mock.bodies()] == ["SELECT FROM bid;", EXPLAIN_BIDS + ";"]
    # A ';' inside a string or a comment does not end the statement.
    t.send("SELECT ';' -- ; \r")
    t.expect("   ...> ")
    # Ctrl-C drops the unfinished statement.
    t.send("\x03")
    t.expect("sluice> ")
    t.send(SHOW_STREAMS + ";\r")
    assert t.expect("sluice> ").endswith(SHOW_STREAMS_TABLE)
    if mock.recording:
        assert mock.bodies()[-1] == {"sql": SHOW_STREAMS + ";"}
    # Text typed in UTF-8 goes out as such, whatever the locale (LANG is unset here).
    t.send(GREETING + ";\r")
    assert t.expect("sluice> ").endswith("greeting\n--------\nGr\u00fc\u00dfe, \u674e\n(1 row)\n")
    if mock.recording:
        assert mock.bodies()[-1] == {"sql": GREETING + ";"}
    # Ctrl-D leaves.
    t.send("\x04")
    assert t.wait() == 0


def test_shell_ctrl_c_stops_waiting_for_an_answer(shell, only_mock):
    t = shell()
    t.expect("sluice> ")
    t.send(SLOW + ";\r")
    deadline = time.monotonic() + PTY_TIMEOUT
    while not only_mock.requests and time.monotonic() < deadline:
        time.sleep(0.01)
    assert only_mock.requests, "the statement was not sent"
    started = time.monotonic()
    os.write(t.master, b"\x03")
    assert "interrupted" in t.expect("sluice> ")
    assert time.monotonic() - started < DELAYS[SLOW] - 1
    t.send(SHOW_STREAMS + ";\r")
    assert t.expect("sluice> ").endswith(SHOW_STREAMS_TABLE)
    t.send("\\q\r")
    assert t.wait() == 0


@pytest.mark.parametrize("leave", ["quit", "exit;", "\\q"])
def test_shell_leaves_on_quit_and_exit(shell, leave):
    t = shell()
    t.expect("sluice> ")
    t.send(leave + "\r")
    assert t.wait() == 0

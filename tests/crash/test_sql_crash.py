"""Exactly-once continuous SQL under kill -9: a windowed query over 1,000,000 events is killed
(SIGKILL) and restarted several times at random moments; afterwards the materialized view and
the sink topic must equal those of an uninterrupted run.

Input. A 4-partition topic keyed by /k (4 keys per partition); each event has a unique id, a
key, a value and an event time. One producer thread sends NDJSON requests of BATCH events and
re-sends a request until it is acknowledged (an unacknowledged request may or may not have been
stored, so a whole request can be in the log twice, back to back). The event time of request b
runs over [b * SPAN, (b + 1) * SPAN) ms, each event up to JITTER ms earlier: SPAN + JITTER is
less than the 1 s watermark delay, so no event is ever late - not even the second copy of a
re-sent request - whatever the interleaving of partitions, and the result depends only on which
events are in the log (the test checks this premise on the log it reads back). The expected
result is computed from the log itself: after the run the source topic is read back whole and
the windows are computed in Python from exactly those events.

Queries: a view and a sink with the same TUMBLE(1 s) GROUP BY k aggregation (COUNT, SUM, MIN,
MAX), and an updating view (GROUP BY k) whose totals must count every event of the log once.

Three scenarios, each on its own data directories:
- live: the queries run while the events are produced (paced over PRODUCE_SECONDS); four kills
  land at random moments during production (one right after a restart, while the queries
  recover), and a fifth right after the flush events, while the last windows are emitted,
  checkpointed and appended to the sink;
- backlog: the 1,000,000 events (and the flush events) are in the topic first, then the queries
  are created and the server is killed four times while they work through the backlog;
- the same with checkpoints every 100 ms (--sql-checkpoint-ms 100) and six kills, so that kills
  often fall between a checkpoint and the sink append of its rows.
The end: one flush event with a far-future event time per partition closes every window; once
the queries have read the whole log, the view must equal the model, the sink topic's records
must equal the model as a multiset (none missing, none twice), and a control run - a fresh
server fed the same events, never killed - must produce the same view, totals and sink.

SLUICE_CRASH_SEED=<n> replays a run's choices (event values, kill moments); SLUICE_SQL_CRASH_EVENTS
changes the event count (default 1,000,000)."""

import collections
import json
import os
import random
import re
import threading
import time

import pytest
import requests

from sluice_testlib import (create_topic, describe_query, describe_topic, expect, fetch, kafka_partition,
                            produce_ok, run_sql, topic_values, ts_text, wait_until)

PARTITIONS = 4
KEYS_PER_PARTITION = 4
N = int(os.environ.get("SLUICE_SQL_CRASH_EVENTS") or 1_000_000)
BATCH = 5000
PRODUCE_SECONDS = 8.0        # live: the producer is paced so that the kills land while it runs
SPAN = 400                   # ms of event time per request
JITTER = 255                 # ms of event-time disorder (SPAN + JITTER < the 1 s watermark delay)
T0 = 1_700_000_000_000       # event time of request 0
FLUSH_TS = T0 + (N // BATCH + 1) * SPAN + 10_000_000
NDJSON = {"Content-Type": "application/x-ndjson"}
CATCH_UP = 120.0             # seconds for the queries to read the whole log
SINK_WAIT = 30.0             # seconds for the sink records to be appended

WINDOWED = ("SELECT k, window_start, window_end, COUNT(*) AS c, SUM(v) AS s, MIN(v) AS lo, MAX(v) AS hi "
            "FROM TABLE(TUMBLE(TABLE ev, DESCRIPTOR(ts), INTERVAL '1' SECOND)) "
            "GROUP BY k, window_start, window_end")
STREAM = ("CREATE STREAM ev (id BIGINT, k VARCHAR, v BIGINT, ts TIMESTAMP(3), "
          "WATERMARK FOR ts AS ts - INTERVAL '1' SECOND) WITH ('topic' = 'ev')")
QUERIES_SQL = ("CREATE MATERIALIZED VIEW win AS " + WINDOWED + ";\n"
               "CREATE SINK win_sink INTO TOPIC 'win_out' WITH ('partitions' = '4') AS " + WINDOWED + ";\n"
               "CREATE MATERIALIZED VIEW totals AS SELECT k, COUNT(*) AS c, SUM(v) AS s FROM ev GROUP BY k")
QUERIES = ("win", "win_sink", "totals")
# a fetched line ends with the value exactly as it was produced
VALUE = re.compile(rb'"value":(\{"id":(-?\d+),"k":"([^"]*)","v":(\d+),"ts":(\d+)\})\}\n')


def pick_keys():
    """KEYS_PER_PARTITION keys for each partition (Kafka's partitioner), and one flush key each."""
    keys, flush_keys = [], {}
    per = collections.Counter()
    i = 0
    while len(keys) < PARTITIONS * KEYS_PER_PARTITION or len(flush_keys) < PARTITIONS:
        k = "k%d" % i
        p = kafka_partition(k.encode(), PARTITIONS)
        if per[p] < KEYS_PER_PARTITION:
            per[p] += 1
            keys.append(k)
        elif p not in flush_keys:
            flush_keys[p] = k
        i += 1
    return keys, flush_keys


def make_bodies(rnd, keys):
    bits = rnd.getrandbits
    nk = len(keys)
    bodies = []
    for b in range(0, N, BATCH):
        base = T0 + (b // BATCH) * SPAN
        lines = ['{"id":%d,"k":"%s","v":%d,"ts":%d}' % (i, keys[i % nk], bits(10),
                                                         base + (i - b) * SPAN // BATCH - bits(8))
                 for i in range(b, min(N, b + BATCH))]
        bodies.append(("\n".join(lines) + "\n").encode())
    return bodies


class Producer(threading.Thread):
    """Sends the bodies in order, each until a 200; paced over `seconds` (0: as fast as it can)."""

    def __init__(self, srv, bodies, seconds):
        super().__init__(daemon=True)
        self.srv, self.bodies, self.seconds = srv, bodies, seconds
        self.retries = 0
        self.outcomes = collections.Counter()
        self.bad = []
        self.acked = 0
        self.stop = threading.Event()

    def run(self):
        sess = requests.Session()
        url = self.srv.url("/v1/topics/ev/events")
        t0 = time.monotonic()
        for n, body in enumerate(self.bodies):
            delay = t0 + self.seconds * n / len(self.bodies) - time.monotonic()
            if delay > 0:
                self.stop.wait(delay)
            while not self.stop.is_set():
                try:
                    r = sess.post(url, data=body, headers=NDJSON, timeout=15)
                except requests.RequestException as e:
                    self.outcomes[type(e).__name__] += 1
                    sess.close()
                    sess = requests.Session()
                else:
                    if r.status_code == 200:
                        got = len(r.json()["offsets"])
                        if got != body.count(b"\n"):
                            self.bad.append("200 with %d offsets for %d events" % (got, body.count(b"\n")))
                        self.acked += 1
                        break
                    self.outcomes[r.status_code] += 1
                    if 400 <= r.status_code < 500:
                        self.bad.append("%d: %s" % (r.status_code, r.text[:300]))
                self.retries += 1
                time.sleep(0.02)
            if self.stop.is_set():
                return


def flush_events(flush_keys):
    return ['{"id":%d,"k":"%s","v":0,"ts":%d}' % (-1 - p, k, FLUSH_TS) for p, k in sorted(flush_keys.items())]


def log_ends(srv):
    ends = {s["partition"]: s["latest_offset"] for s in describe_topic(srv, "ev")["partition_stats"]}
    return [ends[p] for p in range(PARTITIONS)]


def wait_caught_up(srv):
    """Waits until every query has read the whole source log; returns (log size, DESCRIBEs)."""
    want = log_ends(srv)

    def done():
        ds = {q: describe_query(srv, q) for q in QUERIES}
        for q, d in ds.items():
            assert d["status"] == "running", "query %s failed: %s" % (q, d.get("error"))
        return ds if all(d["stats"]["positions"] == want for d in ds.values()) else None

    ds = wait_until(done, CATCH_UP, "the queries to read the whole log (%s)" % want, interval=0.2)
    return sum(want), ds


def read_log(srv):
    """The events in the source topic as (id, k, v, ts, raw JSON text), partition by partition.
    Checks the input's premise: in every partition each event's time is within the watermark
    delay (1 s) of the largest event time before it, so that no event can be late."""
    out = []
    for p in range(PARTITIONS):
        nxt, top, n = 0, None, 0
        while True:
            r = fetch(srv, "ev", p, offset=nxt, limit=100000, max_bytes=16 << 20)
            expect(r, 200)
            evs = [(int(m.group(2)), m.group(3).decode(), int(m.group(4)), int(m.group(5)), m.group(1))
                   for m in VALUE.finditer(r.content)]
            assert len(evs) == r.content.count(b"\n"), "a record of %s/%d is not as produced" % ("ev", p)
            if not evs:
                break
            for e in evs:
                if top is not None:
                    assert e[3] > top - 1000, (
                        "test premise: event at ev/%d offset %d would be late: %r (max before %d)" % (p, n, e, top))
                top = e[3] if top is None else max(top, e[3])
                n += 1
            out.extend(evs)
            nxt = int(r.headers["Sluice-Next-Offset"])
    return out


def model(events):
    """The windowed rows that the log's data events (id >= 0) produce (the flush events' windows
    stay open), and the per-key totals of all of the log's events."""
    win = {}
    tot = {}
    for eid, k, v, ts, _ in events:
        t = tot.get(k)
        if t is None:
            tot[k] = [1, v]
        else:
            t[0] += 1
            t[1] += v
        if eid < 0:
            continue
        key = (k, ts - ts % 1000)
        a = win.get(key)
        if a is None:
            win[key] = [1, v, v, v]
        else:
            a[0] += 1
            a[1] += v
            if v < a[2]:
                a[2] = v
            if v > a[3]:
                a[3] = v
    rows = {}
    for (k, ws), (c, s, lo, hi) in win.items():
        rows[(k, ts_text(ws))] = {"k": k, "window_start": ts_text(ws), "window_end": ts_text(ws + 1000),
                                  "c": c, "s": s, "lo": lo, "hi": hi}
    totals = {k: {"k": k, "c": c, "s": s} for k, (c, s) in tot.items()}
    return rows, totals


def canon(row):
    return json.dumps(row, sort_keys=True)


def outcome(srv, n_rows):
    """The view rows (by key and window), the totals and the sink records (a multiset)."""
    r = srv.get("/v1/views/win")
    expect(r, 200)
    rows = r.json()["rows"]
    view = {(x["k"], x["window_start"]): x for x in rows}
    assert len(view) == len(rows), "the view holds a (key, window) twice"
    r = srv.get("/v1/views/totals")
    expect(r, 200)
    totals = {x["k"]: x for x in r.json()["rows"]}
    # sink records become visible at checkpoints (~1 s): wait for all of them, then for two more
    # checkpoint intervals, so that a record appended twice would show
    wait_until(lambda: sum(d["latest_offset"] for d in describe_topic(srv, "win_out")["partition_stats"]) >= n_rows,
               SINK_WAIT, "%d records in the sink topic" % n_rows, interval=0.2)
    time.sleep(2.5)
    sink = collections.Counter(canon(v) for v in topic_values(srv, "win_out"))
    return view, totals, sink


def diff(want, got, what):
    missing = [k for k in want if k not in got]
    extra = [k for k in got if k not in want]
    wrong = [(want[k], got[k]) for k in want if k in got and want[k] != got[k]]
    return "%s: %d missing (e.g. %s), %d extra (e.g. %s), %d different (want, got) (e.g. %s)" % (
        what, len(missing), missing[:3], len(extra), extra[:3], len(wrong), wrong[:3])


def check_against_model(srv, events, ds, label):
    rows, totals = model(events)
    view, got_totals, sink = outcome(srv, len(rows))
    for q, d in ds.items():
        assert d["stats"]["late_events"] == 0, (label, q, d["stats"])
        assert d["stats"]["bad_fields"] == 0, (label, q, d["stats"])
    assert view == rows, diff(rows, view, "%s: view win vs the model" % label)
    assert got_totals == totals, diff(totals, got_totals, "%s: view totals vs the model" % label)
    want_sink = collections.Counter(canon(r) for r in rows.values())
    if sink != want_sink:
        raise AssertionError("%s: sink topic vs the model: %d records, want %d; missing %s; extra (or twice) %s" % (
            label, sum(sink.values()), sum(want_sink.values()), list((want_sink - sink).items())[:3],
            list((sink - want_sink).items())[:3]))
    for q, d in ds.items():
        assert d["stats"]["events_in"] == len(events), "%s: query %s counts %d events read, the log has %d" % (
            label, q, d["stats"]["events_in"], len(events))
    return view, got_totals, sink


@pytest.mark.parametrize("mode,flags,kills_n", [
    ("live", [], 4),
    ("backlog", [], 4),
    # checkpoints (and so sink appends) every 100 ms: kills often land between a checkpoint and
    # the append of its rows, or during the append that recovery makes
    ("backlog", ["--sql-checkpoint-ms", "100"], 6),
], ids=["live", "backlog", "backlog-100ms-checkpoints"])
def test_kill9_during_windowed_query_is_exactly_once(make_server, mode, flags, kills_n):
    seed = int(os.environ.get("SLUICE_CRASH_SEED") or time.time())
    print("\nsql crash test (%s %s) seed %d (rerun with SLUICE_CRASH_SEED=%d)" % (mode, flags, seed, seed))
    rnd = random.Random(seed)
    keys, flush_keys = pick_keys()
    t = [time.monotonic()]
    bodies = make_bodies(rnd, keys)
    timings = []

    def lap(what):
        now = time.monotonic()
        timings.append("%s %.1fs" % (what, now - t[0]))
        t[0] = now

    lap("generate")
    # ---- the run with kills ----------------------------------------------------------------
    srv = make_server("--fsync", "always", *flags)
    create_topic(srv, "ev", partitions=PARTITIONS, key="/k")
    run_sql(srv, STREAM)
    kills = 0
    if mode == "live":
        run_sql(srv, QUERIES_SQL)
        prod = Producer(srv, bodies, PRODUCE_SECONDS)
        prod.start()
        try:
            for i in range(kills_n):
                # one kill very soon after a restart (while the queries recover from checkpoints)
                time.sleep(rnd.uniform(0.05, 0.3) if i == 2 else rnd.uniform(0.5, 2.2))
                srv.kill9()
                kills += 1
                time.sleep(rnd.uniform(0.0, 0.2))
                srv.start()
            prod.join(timeout=180)
            assert not prod.is_alive(), "the producer did not finish (%d of %d requests)" % (prod.acked, len(bodies))
        finally:
            prod.stop.set()
        lap("produce with kills")
        produce_ok(srv, "ev", flush_events(flush_keys))
        # the last kill: while the final windows are emitted, checkpointed and appended to the sink
        time.sleep(rnd.uniform(0.1, 1.5))
        srv.kill9()
        kills += 1
        srv.start()
    else:
        prod = Producer(srv, bodies, 0)
        prod.run()
        produce_ok(srv, "ev", flush_events(flush_keys))
        lap("produce")
        run_sql(srv, QUERIES_SQL)
        fast = bool(flags)
        for i in range(kills_n):
            time.sleep(rnd.uniform(0.05, 0.3) if i == 2 else rnd.uniform(0.2, 0.8) if fast else rnd.uniform(0.3, 1.5))
            d = describe_query(srv, "win")["stats"]
            print("  kill %d after %d events read" % (i + 1, d["events_in"]))
            srv.kill9()
            kills += 1
            time.sleep(rnd.uniform(0.0, 0.2))
            srv.start()
    assert not prod.bad, prod.bad[:5]
    size, ds = wait_caught_up(srv)
    lap("catch up")
    events = read_log(srv)
    assert len(events) == size
    ids = collections.Counter(e[0] for e in events)
    missing = [i for i in range(N) if i not in ids]
    assert not missing, "acknowledged events missing from the log: %s" % missing[:10]
    assert all(ids[-1 - p] == 1 for p in range(PARTITIONS)), "flush events"
    twice = sum(1 for c in ids.values() if c > 1)
    print("  kills %d, producer retries %d (%s), ids in the log more than once: %d, log size %d" % (
        kills, prod.retries, dict(prod.outcomes), twice, size))
    for q, d in ds.items():
        print("  %s: %s" % (q, d["stats"]))
    lap("read back")
    view, totals, sink = check_against_model(srv, events, ds, "%s run with kill -9" % mode)
    lap("check")
    srv.stop()

    # ---- the control: the same events, never killed ------------------------------------------
    ctl = make_server("--fsync", "always")
    create_topic(ctl, "ev", partitions=PARTITIONS, key="/k")
    run_sql(ctl, STREAM + ";\n" + QUERIES_SQL)
    data = sorted((e for e in events if e[0] >= 0), key=lambda e: e[0])
    for b in range(0, len(data), BATCH):
        r = ctl.post("/v1/topics/ev/events", data=b"\n".join(e[4] for e in data[b:b + BATCH]) + b"\n",
                     headers=NDJSON)
        expect(r, 200)
    produce_ok(ctl, "ev", flush_events(flush_keys))
    csize, cds = wait_caught_up(ctl)
    assert csize == size
    cview, ctotals, csink = check_against_model(ctl, events, cds, "%s control run" % mode)
    assert cview == view and ctotals == totals and csink == sink
    lap("control")
    print("  timings: " + ", ".join(timings))

"""The correctness oracle for continuous SQL: for generated event sets, the final results of every
supported query shape must equal what SQLite (python3's sqlite3) computes in batch over the same
events.

How a case runs. One `sluice serve` (module scope) holds every case; each case has its own topic,
stream and view or sink. A dataset is a deterministic list of events (seeded random.Random) in
produce order, cut into chunks: one produce request per chunk. With the query created first
("view first"), each chunk is produced only after the query has consumed the previous one
(DESCRIBE events_in), so every chunk is exactly one batch of the query. With "produce first",
everything is produced and the query, created afterwards, reads it from the beginning in one
batch. A final flush event (k = '__flush', far later in event time; one per partition) closes the
windows; every query excludes it with WHERE, so it opens no window of its own.

What is compared. At the end: the view's rows (GET /v1/views/v), or a sink topic's records (an
updating sink's +I/+U/-D changelog replayed per group, each change checked against the table so
far), DESCRIBE's late_events and watermark, and for some views ad-hoc SELECTs over the view
against the same SELECT in SQLite over the oracle's rows. View first, also after every chunk: the
view must hold the state after the events so far (windows: those closed by the watermark then,
since an emitted window is final; GROUP BY: the aggregates so far, HAVING applied), with the
late_events and watermark of that moment.

The model. sluice's watermark (query.c) is per source partition the largest event time seen minus
the bound minus 1 ms, the query's is the minimum over partitions, and it advances at the end of
each batch, when the windows it passed (watermark >= end - 1) are emitted. So an event is late
for a window when the watermark left by the batches before its own has reached end - 1. The test
simulates that watermark in Python over the chunks and stores it with each event (column wm);
SQLite then assigns windows by arithmetic on ts (TUMBLE with offset, HOP and CUMULATE through a
numbers table) and keeps the (event, window) pairs with end - 1 > wm, and only windows that closed
(end - 1 <= the final watermark). SESSION windows come from LAG over the key ordered by ts when no
event is late (they are then independent of arrival order); with late events, from a Python
simulation of sluice's merge rule in processing order (touching sessions merge; a session fires
when watermark >= end - 1; an event is dropped when ts + gap - 1 <= watermark); SQLite aggregates
over the sessions assigned. Both ways are checked against each other on the in-order datasets.
Late events expected = those passing WHERE with a time whose every window had closed; DESCRIBE's
late_events must equal it, and its watermark the simulated final one.

Datasets with events beyond the bound use one partition (the processing order is the produce
order). Multi-partition datasets keep every event within the bound of the ones produced before
it, so no interleaving of partitions can make an event late; each partition gets a flush event.

Values: keys include NULL, missing fields and a non-ASCII key; v (BIGINT) and d (DOUBLE) have
NULLs, missing fields and wrong JSON types (read as NULL); ts is epoch ms or RFC 3339 text (with
Z or an offset), sometimes missing. Rows are compared as multisets; DOUBLEs with a relative
tolerance of 1e-9 (absolute near 0). AVG of BIGINT is a BIGINT truncated toward zero (SQLite:
SUM(v) / COUNT(v)); LIKE is case-sensitive (PRAGMA case_sensitive_like = ON)."""

import calendar
import json
import math
import os
import random
import re
import sqlite3
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from sluice_testlib import Server, create_topic, describe_topic, expect, fetch_all, produce  # noqa: E402

BASE = 1436918400000            # 2015-07-15T00:00:00.000Z
BOUND = 2000                    # every stream: WATERMARK FOR ts AS ts - INTERVAL '2' SECOND
NEG = -(2 ** 62)                # "no watermark yet" in the model
FLUSH = "__flush"
NF = "(k IS NULL OR k <> '__flush')"     # the flush filter, same text in sluice and SQLite
WAIT = 60.0                     # seconds: deadline of every poll

KEYS = ["a", "b", "c", "Bb", "\u00e4"]
STRS = ["Alice", "alice", "bob", "BOB", "carol", " dave ", "e_f%g", "x", "", "\u00fcber", "na\u00efve",
        "ab_cd", "abcd", "100%", "Zed", "b b", "cab", "bb"]


# ---- events ---------------------------------------------------------------------------------

def ts_text(ms, rnd):
    """RFC 3339 text for ms: UTC with Z, or local time with a +01:00 / -03:30 offset."""
    off = rnd.choice([0, 0, 3600000, -12600000])
    secs, frac = divmod(ms + off, 1000)
    t = time.gmtime(secs)
    base = "%04d-%02d-%02dT%02d:%02d:%02d" % (t.tm_year, t.tm_mon, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec)
    if frac or rnd.random() < 0.5:
        base += ".%03d" % frac
    if off == 0:
        return base + "Z"
    sign = "+" if off > 0 else "-"
    m = abs(off) // 60000
    return base + "%s%02d:%02d" % (sign, m // 60, m % 60)


def make_event(rnd, eid, ts, keys=KEYS, null_ts=0.0):
    """One event: the values sluice must read ('k', 'v', 'd', 's', 'ts'; None = NULL) and 'raw',
    the JSON object produced (with missing fields and wrong JSON types where the value is NULL)."""
    raw = {"id": eid}
    ev = {"id": eid}
    r = rnd.random()
    if r < 0.07:
        ev["k"] = None
    elif r < 0.11:
        ev["k"] = raw["k"] = None
    else:
        ev["k"] = raw["k"] = rnd.choice(keys)
    r = rnd.random()
    if r < 0.06:
        ev["v"] = None
    elif r < 0.10:
        ev["v"] = raw["v"] = None
    elif r < 0.13:
        ev["v"] = None
        raw["v"] = rnd.choice(["12", True, [1], {"x": 1}])          # wrong type: NULL
    else:
        ev["v"] = raw["v"] = rnd.randint(-20, 60)
    r = rnd.random()
    if r < 0.06:
        ev["d"] = None
    elif r < 0.10:
        ev["d"] = raw["d"] = None
    elif r < 0.12:
        ev["d"] = None
        raw["d"] = "3.5"                                             # a string: NULL
    elif r < 0.22:
        n = rnd.randint(-3, 20)
        ev["d"] = float(n)
        raw["d"] = n                                                 # a JSON integer: a DOUBLE
    else:
        ev["d"] = raw["d"] = round(rnd.uniform(-5.0, 45.0), 2)
    r = rnd.random()
    if r < 0.05:
        ev["s"] = None
    elif r < 0.09:
        ev["s"] = raw["s"] = None
    else:
        ev["s"] = raw["s"] = rnd.choice(STRS)
    r = rnd.random()
    if ts is None or r < null_ts:
        ev["ts"] = None
        q = rnd.random()
        if q < 0.4:
            pass                                                     # missing
        elif q < 0.7:
            raw["ts"] = None
        elif q < 0.85:
            raw["ts"] = True                                         # wrong type: NULL
        else:
            raw["ts"] = "not a time"                                 # unparsable: NULL
    else:
        ev["ts"] = ts
        q = rnd.random()
        if q < 0.25:
            raw["ts"] = ts_text(ts, rnd)
        elif q < 0.30:
            raw["ts"] = float(ts)                                    # 1436918401234.0: integral
        else:
            raw["ts"] = ts
    ev["raw"] = raw
    return ev


def flush_event(eid, ts, part):
    return {"id": eid, "k": FLUSH, "v": None, "d": None, "s": None, "ts": ts, "part": part,
            "raw": {"id": eid, "k": FLUSH, "ts": ts}}


class Dataset:
    """Events in produce order, cut into chunks (lists of events); parts partitions;
    view_first: the query exists before the first chunk is produced; has_late: events beyond the
    bound; bridging: some on-time event joins two open sessions of a key (3 s gap)."""

    def __init__(self, name, chunks, parts=1, view_first=True, has_late=False, bridging=False):
        self.name = name
        self.chunks = chunks
        self.parts = parts
        self.view_first = view_first
        self.has_late = has_late
        self.bridging = bridging
        self.events = [e for c in chunks for e in c]
        for i, e in enumerate(self.events):
            e["seq"] = i
            e.setdefault("part", 0)
        if not view_first:
            self.chunks = [self.events]


def cut(rnd, events, lo, hi):
    chunks, i = [], 0
    while i < len(events):
        n = rnd.randint(lo, hi)
        chunks.append(events[i:i + n])
        i += n
    return chunks


def by_delay(rnd, timed, max_delay=BOUND - 1):
    """Produce order for (ts, payload) pairs: by ts plus a delay in [0, max_delay]. An event then
    follows only events with ts < its ts + BOUND: within the bound of everything before it."""
    keyed = [(t + rnd.randint(0, max_delay) if t is not None else None, i, t, p) for i, (t, p) in enumerate(timed)]
    last = BASE
    out = []
    for k, i, t, p in keyed:                  # a NULL time keeps the arrival slot of its neighbour
        if k is None:
            k = last
        last = k
        out.append((k, i, t, p))
    out.sort(key=lambda x: (x[0], x[1]))
    return [(t, p) for _, _, t, p in out]


def assert_in_bound(events, parts):
    hi = {}
    for e in events:
        t = e["ts"]
        if t is None:
            continue
        p = e["part"]
        assert p not in hi or t >= hi[p] - BOUND + 1, "generator: event %r beyond the bound" % e["id"]
        hi[p] = max(hi.get(p, t), t)


def gen_inbound(name, seed, n, parts=1, keys=KEYS, max_step=700, gap_prob=0.03, gap=(20000, 45000),
                null_ts=0.02, chunk=(8, 40), view_first=True):
    rnd = random.Random(seed)
    clock = BASE + rnd.randint(0, 4000)
    times = []
    for _ in range(n):
        clock += rnd.randint(0, max_step)
        if rnd.random() < gap_prob:
            clock += rnd.randint(*gap)
        t = clock
        if rnd.random() < 0.12:               # exactly on a window boundary (all sizes are whole seconds)
            t -= t % rnd.choice([1000, 2000, 5000, 10000])
        times.append(t)
    order = by_delay(rnd, [(t, None) for t in times])
    events = []
    for i, (t, _) in enumerate(order):
        e = make_event(rnd, i + 1, t, keys, null_ts)
        e["part"] = rnd.randrange(parts)
        events.append(e)
    assert_in_bound(events, parts)
    top = max(times) + 600000
    chunks = cut(rnd, events, *chunk)
    chunks.append([flush_event(-1 - p, top, p) for p in range(parts)])
    return Dataset(name, chunks, parts, view_first)


def gen_sessions(name, seed, n_per_key, keys=("a", "b", "c", None), view_first=True):
    """Per-key trains with spacings around the 3 s gap (2999, 3000 merge; 3001 does not)."""
    rnd = random.Random(seed)
    timed = []
    for key in keys:
        t = BASE + rnd.randint(0, 3000)
        for _ in range(n_per_key):
            t += rnd.choice([0, 200, 1000, 1999, 2999, 3000, 3000, 3001, 4500, 9000])
            timed.append((t, key))
    timed.sort(key=lambda x: x[0])
    order = by_delay(rnd, timed)
    events = []
    for i, (t, key) in enumerate(order):
        e = make_event(rnd, i + 1, t, null_ts=0.0)
        e["k"], e["part"] = key, 0
        if key is None:
            e["raw"].pop("k", None)
        else:
            e["raw"]["k"] = key
        events.append(e)
    assert_in_bound(events, 1)
    top = max(t for t, _ in timed) + 600000
    chunks = cut(rnd, events, 5, 30)
    chunks.append([flush_event(-1, top, 0)])
    return Dataset(name, chunks, 1, view_first)


def gen_late(name, seed, nchunks, chunk=(3, 14), keys=("a", "b", "c"), max_step=800, probe=0.25,
             gap_ms=3000, bridging=False):
    """One partition, produced chunk by chunk; besides in-bound events, probes placed relative to
    the watermark the previous chunks left (W): far behind it, at W - gap + 1 / + 2 (a session's
    last late / first on-time start), at W, W + 1, W + 2, and at aligned window ends e - 1 / e;
    and now and then a chunk ends with an event putting W + 1 exactly on a 10 s boundary."""
    rnd = random.Random(seed)
    clock = BASE + 1000
    maxts, W = None, None
    chunks, eid = [], 0
    for _ in range(nchunks):
        c = []
        for _ in range(rnd.randint(*chunk)):
            eid += 1
            if W is not None and rnd.random() < probe:
                e10 = (W + 1) // 10000 * 10000
                e5 = (W + 1) // 5000 * 5000
                ts = rnd.choice([W - rnd.randint(1, 20000), W - rnd.randint(0, gap_ms), W, W + 1, W + 2,
                                 W - gap_ms + 1, W - gap_ms + 2, e10 - 1, e10, e10 + 1, e5 - 1, e5])
            else:
                clock += rnd.randint(0, max_step)
                ts = clock - rnd.randint(0, BOUND - 1)
            e = make_event(rnd, eid, ts, list(keys) + [None], null_ts=0.03)
            c.append(e)
        if rnd.random() < 0.35:
            top = max([clock] + [e["ts"] for e in c if e["ts"] is not None] + ([maxts] if maxts else []))
            edge = (top // 10000 + 1) * 10000
            clock = edge + BOUND
            eid += 1
            c.append(make_event(rnd, eid, clock, list(keys) + [None]))
        for e in c:
            if e["ts"] is not None and (maxts is None or e["ts"] > maxts):
                maxts = e["ts"]
        if maxts is not None:
            W = maxts - BOUND - 1
        chunks.append(c)
    chunks.append([flush_event(-1, maxts + 600000, 0)])
    return Dataset(name, chunks, 1, True, has_late=True, bridging=bridging)


def gen_flip(name, seed):
    """Scripted sums that cross HAVING SUM(v) > 150 both ways (insert, delete, insert again)."""
    rnd = random.Random(seed)
    script = [("a", 100), ("b", 160), ("a", 100), ("c", 20), ("b", -20), ("a", -80), ("c", 140),
              ("a", 50), ("b", 30), ("c", -100), ("a", -200), ("b", 0), ("c", 200), ("a", 300)]
    events, t = [], BASE
    for i, (key, v) in enumerate(script):
        t += 500
        e = make_event(rnd, i + 1, t)
        e["k"], e["v"] = key, v
        e["raw"]["k"], e["raw"]["v"] = key, v
        events.append(e)
    chunks = [[e] for e in events]            # one batch each: every step is a visible change
    chunks.append([flush_event(-1, t + 600000, 0)])
    return Dataset(name, chunks, 1, True)


_DATASETS = {}


def dataset(name):
    if name not in _DATASETS:
        makers = {
            "basic": lambda: gen_inbound("basic", 11, 240),
            "basic@pf": lambda: gen_inbound("basic@pf", 11, 240, view_first=False),
            "multi3": lambda: gen_inbound("multi3", 23, 300, parts=3, chunk=(20, 60)),
            "sparse": lambda: gen_inbound("sparse", 37, 70, keys=["a", "b"], gap_prob=0.35,
                                          gap=(15000, 70000), chunk=(4, 12)),
            "sessiony": lambda: gen_sessions("sessiony", 41, 30),
            "late": lambda: gen_late("late", 53, 28),
            "late1": lambda: gen_late("late1", 59, 60, chunk=(1, 1), probe=0.3),
            "session_late": lambda: gen_late("session_late", 61, 40, keys=("a", "b"), max_step=1500,
                                             probe=0.35, bridging=True),
            "flip": lambda: gen_flip("flip", 71),
        }
        _DATASETS[name] = makers[name]()
    return _DATASETS[name]


# ---- the model ------------------------------------------------------------------------------

def simulate_watermark(ds):
    """Sets e['wm'] (the watermark when e is processed) per event. Returns the watermark after each
    chunk; the last is the final one. After a chunk is consumed whole it does not depend on how
    the partitions' records were interleaved: min over partitions of (largest time - bound - 1)."""
    W, hi, after = NEG, {}, []
    for c in ds.chunks:
        for e in c:
            e["wm"] = W
        for e in c:
            if e["ts"] is not None:
                hi[e["part"]] = max(hi.get(e["part"], e["ts"]), e["ts"])
        if len(hi) == ds.parts:
            W = max(W, min(hi.values()) - BOUND - 1)
        after.append(W)
    return after


def u8upper(s):
    return None if s is None else s.upper()


def u8lower(s):
    return None if s is None else s.lower()


def load_db(ds):
    db = sqlite3.connect(":memory:")
    db.execute("PRAGMA case_sensitive_like = ON")
    db.create_function("u8upper", 1, u8upper, deterministic=True)
    db.create_function("u8lower", 1, u8lower, deterministic=True)
    db.execute("CREATE TABLE ev (seq INTEGER, part INTEGER, id INTEGER, k TEXT, v INTEGER, d REAL, "
               "s TEXT, ts INTEGER, wm INTEGER)")
    db.executemany("INSERT INTO ev VALUES (?,?,?,?,?,?,?,?,?)",
                   [(e["seq"], e["part"], e["id"], e["k"], e["v"], e["d"], e["s"], e["ts"], e["wm"])
                    for e in ds.events])
    db.execute("CREATE TABLE nums (i INTEGER)")
    db.executemany("INSERT INTO nums VALUES (?)", [(i,) for i in range(200)])
    return db


def floor_start(col, size, off=0):
    """The start of the size-aligned (offset off) period holding col, for negative values too."""
    return "(%s - (((%s - %d) %% %d) + %d) %% %d)" % (col, col, off, size, size, size)


def sessions_lag(db, base, gap, key, wfinal):
    """Sessions by LAG: in ts order per key, a new session starts where the previous event is more
    than gap earlier (a distance of exactly gap touches, so it merges). Returns sorted
    (seq, start, end) of the events in closed sessions."""
    part = "PARTITION BY %s " % key if key else ""
    rows = db.execute(
        "SELECT seq, MIN(ts) OVER w, MAX(ts) OVER w + %d FROM ("
        " SELECT g.*, SUM(g.ns) OVER (%sORDER BY g.ts, g.seq ROWS UNBOUNDED PRECEDING) AS sid FROM ("
        "  SELECT b.*, CASE WHEN b.ts - LAG(b.ts) OVER (%sORDER BY b.ts, b.seq) <= %d THEN 0 ELSE 1 END AS ns"
        "  FROM (%s) b) g) "
        "WINDOW w AS (%s)" % (gap, part, part, gap, base, ("PARTITION BY %s, sid" % key) if key else "PARTITION BY sid")
    ).fetchall()
    return sorted((seq, ss, se) for seq, ss, se in rows if se - 1 <= wfinal)


def sessions_sim(db, base, gap, key, wfinal):
    """sluice's session rule, in processing order. Returns (assignments, late seqs, bridging merges)."""
    rows = db.execute("SELECT b.seq, b.ts, b.wm, %s FROM (%s) b ORDER BY b.seq" % (
        ("b.%s" % key) if key else "0", base)).fetchall()
    open_, out, late = {}, [], []
    bridges = 0
    cur = None

    def fire(w):
        for kv, lst in open_.items():
            keep = []
            for s in lst:
                if s[1] - 1 <= w:
                    out.extend((q, s[0], s[1]) for q in s[2])
                else:
                    keep.append(s)
            open_[kv] = keep

    for seq, ts, wm, kv in rows:
        if wm != cur:
            fire(wm)                  # what the previous batch's end emitted
            cur = wm
        if ts + gap - 1 <= wm:
            late.append(seq)
            continue
        new = [ts, ts + gap, [seq]]
        lst = open_.setdefault(kv, [])
        merged = 0
        again = True
        while again:
            again = False
            for s in lst:
                if s[0] <= new[1] and s[1] >= new[0]:
                    new = [min(s[0], new[0]), max(s[1], new[1]), s[2] + new[2]]
                    lst.remove(s)
                    merged += 1
                    again = True
                    break
        bridges += merged >= 2
        lst.append(new)
    fire(wfinal)
    return sorted(out), late, bridges


def build_win(db, ds, win, where, wfinal):
    """Creates TEMP TABLE win: the rows (ev columns + ws, we) of every on-time (event, window) pair
    of a closed window. Returns the seqs of the events expected to be late."""
    base = "SELECT * FROM ev WHERE %s AND ts IS NOT NULL AND (%s)" % (NF, where)
    kind = win[0]
    if kind == "tumble":
        size, off = win[1], win[2] if len(win) > 2 else 0
        sel = "SELECT b.*, %s AS ws FROM (%s) b" % (floor_start("b.ts", size, off), base)
        sql = ("SELECT x.*, x.ws + %d AS we FROM (%s) x WHERE x.ws + %d - 1 > x.wm AND x.ws + %d - 1 <= %d"
               % (size, sel, size, size, wfinal))
        late = "SELECT x.seq FROM (%s) x WHERE x.ws + %d - 1 <= x.wm" % (sel, size)
    elif kind == "hop":
        slide, size = win[1], win[2]
        last = floor_start("b.ts", slide)
        sel = "SELECT b.*, %s - n.i * %d AS ws FROM (%s) b JOIN nums n ON n.i < %d" % (last, slide, base, size // slide)
        sql = ("SELECT x.*, x.ws + %d AS we FROM (%s) x WHERE x.ws + %d - 1 > x.wm AND x.ws + %d - 1 <= %d"
               % (size, sel, size, size, wfinal))
        late = "SELECT b.seq FROM (%s) b WHERE %s + %d - 1 <= b.wm" % (base, last, size)
    elif kind == "cumulate":
        step, size = win[1], win[2]
        ps = floor_start("b.ts", size)
        sel = ("SELECT b.*, %s AS ws, %s + n.i * %d AS we FROM (%s) b JOIN nums n ON n.i BETWEEN 1 AND %d "
               "WHERE %s + n.i * %d > b.ts" % (ps, ps, step, base, size // step, ps, step))
        sql = "SELECT x.* FROM (%s) x WHERE x.we - 1 > x.wm AND x.we - 1 <= %d" % (sel, wfinal)
        late = "SELECT b.seq FROM (%s) b WHERE %s + %d - 1 <= b.wm" % (base, ps, size)
    elif kind == "session":
        gap, key = win[1], win[2]
        asg, late_seqs, bridges = sessions_sim(db, base, gap, key, wfinal)
        if not ds.has_late:
            # no late events: the incremental rule must give the batch answer (self-check)
            assert not late_seqs
            assert asg == sessions_lag(db, base, gap, key, wfinal), "session models disagree"
        assert bridges or not ds.bridging, "the dataset should join open sessions with one event"
        db.execute("CREATE TEMP TABLE sasg (seq INTEGER, ws INTEGER, we INTEGER)")
        db.executemany("INSERT INTO sasg VALUES (?,?,?)", asg)
        db.execute("CREATE TEMP TABLE win AS SELECT b.*, a.ws AS ws, a.we AS we FROM (%s) b "
                   "JOIN sasg a ON a.seq = b.seq" % base)
        return late_seqs
    else:
        raise AssertionError(kind)
    db.execute("CREATE TEMP TABLE win AS " + sql)
    return [r[0] for r in db.execute(late).fetchall()]


# ---- the queries ----------------------------------------------------------------------------
#
# sql: sluice's statement body ({s} = the stream); oracle: SQLite over `win` (windowed: ev columns
# plus ws, we) or `evf` (ev filtered by the flush filter and `where`). kind: view | sink |
# usink (an updating sink; keys = the columns identifying a group in its changelog).

TVF_TUMBLE10 = "TABLE(TUMBLE(TABLE {s}, DESCRIPTOR(ts), INTERVAL '10' SECOND))"

QUERIES = {
    # ---- windows: TVF form
    "tumble_key": dict(
        sql="SELECT k, window_start, window_end, COUNT(*) AS c, COUNT(v) AS cv, SUM(v) AS sv, MIN(v) AS mnv, "
            "MAX(v) AS mxv, AVG(v) AS av, SUM(d) AS sd, AVG(d) AS ad, MIN(s) AS mns, MAX(s) AS mxs "
            "FROM " + TVF_TUMBLE10 + " WHERE " + NF + " GROUP BY window_start, window_end, k",
        win=("tumble", 10000),
        oracle="SELECT k, ws, we, COUNT(*), COUNT(v), SUM(v), MIN(v), MAX(v), SUM(v) / COUNT(v), SUM(d), AVG(d), "
               "MIN(s), MAX(s) FROM win GROUP BY ws, we, k",
        adhoc=[("SELECT window_start, COUNT(*) AS n, SUM(c) AS total, MAX(mxv) AS top FROM {v} GROUP BY window_start",
                "SELECT window_start, COUNT(*), SUM(c), MAX(mxv) FROM res GROUP BY window_start", False),
               ("SELECT k, window_start, c FROM {v} WHERE k IS NOT NULL AND c >= 2 ORDER BY window_start DESC, k "
                "LIMIT 5",
                "SELECT k, window_start, c FROM res WHERE k IS NOT NULL AND c >= 2 ORDER BY window_start DESC, k "
                "LIMIT 5", True)]),
    "tumble_offset_global": dict(
        sql="SELECT window_start, window_end, COUNT(*) AS c, SUM(v) AS sv, MAX(d) AS mxd, COUNT(DISTINCT k) AS dk "
            "FROM TABLE(TUMBLE(TABLE {s}, DESCRIPTOR(ts), INTERVAL '10' SECOND, INTERVAL '3' SECOND)) WHERE " + NF +
            " GROUP BY window_start, window_end",
        win=("tumble", 10000, 3000),
        oracle="SELECT ws, we, COUNT(*), SUM(v), MAX(d), COUNT(DISTINCT k) FROM win GROUP BY ws, we"),
    "hop_key": dict(
        sql="SELECT k, window_start, window_end, COUNT(*) AS c, SUM(v) AS sv, MAX(d) AS mxd, MIN(s) AS mns, "
            "COUNT(d) AS cd FROM TABLE(HOP(TABLE {s}, DESCRIPTOR(ts), INTERVAL '5' SECOND, INTERVAL '15' SECOND)) "
            "WHERE " + NF + " GROUP BY window_start, window_end, k",
        win=("hop", 5000, 15000),
        oracle="SELECT k, ws, we, COUNT(*), SUM(v), MAX(d), MIN(s), COUNT(d) FROM win GROUP BY ws, we, k"),
    "hop_distinct": dict(
        sql="SELECT window_start, window_end, COUNT(DISTINCT k) AS dk, COUNT(DISTINCT v) AS dv, COUNT(*) AS c, "
            "SUM(DISTINCT v) AS sdv FROM TABLE(HOP(TABLE {s}, DESCRIPTOR(ts), INTERVAL '2' SECOND, "
            "INTERVAL '10' SECOND)) WHERE " + NF + " GROUP BY window_start, window_end",
        win=("hop", 2000, 10000),
        oracle="SELECT ws, we, COUNT(DISTINCT k), COUNT(DISTINCT v), COUNT(*), SUM(DISTINCT v) FROM win "
               "GROUP BY ws, we"),
    "cumulate_key": dict(
        sql="SELECT k, window_start, window_end, COUNT(*) AS c, SUM(v) AS sv, MIN(d) AS mnd, MAX(v) AS mxv, "
            "AVG(v) AS av FROM TABLE(CUMULATE(TABLE {s}, DESCRIPTOR(ts), INTERVAL '5' SECOND, INTERVAL '20' SECOND)) "
            "WHERE " + NF + " GROUP BY window_start, window_end, k",
        win=("cumulate", 5000, 20000),
        oracle="SELECT k, ws, we, COUNT(*), SUM(v), MIN(d), MAX(v), SUM(v) / COUNT(v) FROM win GROUP BY ws, we, k"),
    "cumulate_global": dict(
        sql="SELECT window_start, window_end, COUNT(*) AS c, COUNT(DISTINCT s) AS ds, MAX(s) AS mxs, MIN(k) AS mnk, "
            "SUM(d) AS sd FROM TABLE(CUMULATE(TABLE {s}, DESCRIPTOR(ts), INTERVAL '2' SECOND, INTERVAL '10' SECOND)) "
            "WHERE " + NF + " GROUP BY window_start, window_end",
        win=("cumulate", 2000, 10000),
        oracle="SELECT ws, we, COUNT(*), COUNT(DISTINCT s), MAX(s), MIN(k), SUM(d) FROM win GROUP BY ws, we"),
    "tumble_filter_agg": dict(
        sql="SELECT k, window_start, window_end, COUNT(*) FILTER (WHERE v > 10) AS c1, "
            "SUM(v) FILTER (WHERE k IN ('a', 'b')) AS s1, COUNT(DISTINCT v) FILTER (WHERE d IS NOT NULL) AS c2, "
            "AVG(d) FILTER (WHERE d BETWEEN 0 AND 20) AS a1, MAX(s) FILTER (WHERE s LIKE '%b%') AS m1, COUNT(*) AS c "
            "FROM " + TVF_TUMBLE10 + " WHERE " + NF + " GROUP BY window_start, window_end, k",
        win=("tumble", 10000),
        oracle="SELECT k, ws, we, COUNT(*) FILTER (WHERE v > 10), SUM(v) FILTER (WHERE k IN ('a', 'b')), "
               "COUNT(DISTINCT v) FILTER (WHERE d IS NOT NULL), AVG(d) FILTER (WHERE d BETWEEN 0 AND 20), "
               "MAX(s) FILTER (WHERE s LIKE '%b%'), COUNT(*) FROM win GROUP BY ws, we, k"),
    "tumble_having": dict(
        sql="SELECT k, window_start, window_end, COUNT(*) AS c, SUM(v) AS sv FROM " + TVF_TUMBLE10 +
            " WHERE " + NF + " GROUP BY window_start, window_end, k "
            "HAVING COUNT(*) >= 3 AND SUM(v) > 20 AND MAX(d) > 5",
        win=("tumble", 10000),
        oracle="SELECT k, ws, we, COUNT(*), SUM(v) FROM win GROUP BY ws, we, k "
               "HAVING COUNT(*) >= 3 AND SUM(v) > 20 AND MAX(d) > 5"),
    "tumble_expr": dict(
        sql="SELECT window_start, window_end, CASE WHEN v < 0 THEN 'neg' WHEN v < 20 THEN 'low' ELSE 'high' END "
            "AS band, SUM(v) * 2 + COUNT(*) AS x, MAX(v) - MIN(v) AS rng, COUNT(*) AS c FROM " + TVF_TUMBLE10 +
            " WHERE " + NF + " GROUP BY window_start, window_end, "
            "CASE WHEN v < 0 THEN 'neg' WHEN v < 20 THEN 'low' ELSE 'high' END",
        win=("tumble", 10000),
        oracle="SELECT ws, we, CASE WHEN v < 0 THEN 'neg' WHEN v < 20 THEN 'low' ELSE 'high' END AS band, "
               "SUM(v) * 2 + COUNT(*), MAX(v) - MIN(v), COUNT(*) FROM win GROUP BY ws, we, band"),
    "tumble_subquery": dict(
        sql="SELECT k, window_start, window_end, SUM(v2) AS s2, COUNT(*) AS c FROM TABLE(TUMBLE((SELECT k, "
            "v * 2 AS v2, ts FROM {s} WHERE " + NF + " AND v IS NOT NULL), DESCRIPTOR(ts), INTERVAL '5' SECOND)) "
            "GROUP BY window_start, window_end, k",
        win=("tumble", 5000), where="v IS NOT NULL",
        oracle="SELECT k, ws, we, SUM(v * 2), COUNT(*) FROM win GROUP BY ws, we, k"),
    "tumble_where": dict(
        sql="SELECT k, window_end, COUNT(*) AS c, MIN(v) AS mnv, MAX(s) AS mxs FROM " + TVF_TUMBLE10 +
            " WHERE " + NF + " AND v > 40 GROUP BY window_start, window_end, k",
        win=("tumble", 10000), where="v > 40",
        oracle="SELECT k, we, COUNT(*), MIN(v), MAX(s) FROM win GROUP BY ws, we, k"),
    "tumble_sink": dict(
        kind="sink",
        sql="SELECT k, window_start, window_end, COUNT(*) AS c, SUM(d) AS sd, MAX(ts) AS mt FROM " + TVF_TUMBLE10 +
            " WHERE " + NF + " GROUP BY window_start, window_end, k",
        win=("tumble", 10000),
        oracle="SELECT k, ws, we, COUNT(*), SUM(d), MAX(ts) FROM win GROUP BY ws, we, k"),
    "session_tvf": dict(
        sql="SELECT window_start, window_end, k, COUNT(*) AS c, COUNT(DISTINCT v) AS dv, AVG(v) AS av "
            "FROM TABLE(SESSION(TABLE {s}, DESCRIPTOR(ts), INTERVAL '3' SECOND)) WHERE " + NF +
            " GROUP BY window_start, window_end, k",
        win=("session", 3000, "k"),
        oracle="SELECT ws, we, k, COUNT(*), COUNT(DISTINCT v), SUM(v) / COUNT(v) FROM win GROUP BY ws, we, k"),
    # ---- windows: GROUP BY TUMBLE/HOP/SESSION(...) form
    "legacy_tumble": dict(
        sql="SELECT k, TUMBLE_START(ts, INTERVAL '10' SECOND) AS ws, TUMBLE_END(ts, INTERVAL '10' SECOND) AS we, "
            "TUMBLE_ROWTIME(ts, INTERVAL '10' SECOND) AS rt, COUNT(*) AS c, SUM(v) AS sv FROM {s} WHERE " + NF +
            " GROUP BY TUMBLE(ts, INTERVAL '10' SECOND), k",
        win=("tumble", 10000),
        oracle="SELECT k, ws, we, we - 1, COUNT(*), SUM(v) FROM win GROUP BY ws, we, k"),
    "legacy_hop": dict(
        sql="SELECT HOP_START(ts, INTERVAL '5' SECOND, INTERVAL '10' SECOND) AS ws, "
            "HOP_END(ts, INTERVAL '5' SECOND, INTERVAL '10' SECOND) AS we, k, COUNT(*) AS c, MAX(v) AS mx "
            "FROM {s} WHERE " + NF + " GROUP BY k, HOP(ts, INTERVAL '5' SECOND, INTERVAL '10' SECOND)",
        win=("hop", 5000, 10000),
        oracle="SELECT ws, we, k, COUNT(*), MAX(v) FROM win GROUP BY ws, we, k"),
    "legacy_session": dict(
        sql="SELECT k, SESSION_START(ts, INTERVAL '3' SECOND) AS ss, SESSION_END(ts, INTERVAL '3' SECOND) AS se, "
            "COUNT(*) AS c, SUM(v) AS sv, MIN(ts) AS t0, MAX(ts) AS t1, COUNT(DISTINCT s) AS ds FROM {s} WHERE " +
            NF + " GROUP BY k, SESSION(ts, INTERVAL '3' SECOND)",
        win=("session", 3000, "k"),
        oracle="SELECT k, ws, we, COUNT(*), SUM(v), MIN(ts), MAX(ts), COUNT(DISTINCT s) FROM win GROUP BY ws, we, k"),
    "session_global": dict(
        sql="SELECT SESSION_START(ts, INTERVAL '2' SECOND) AS ss, SESSION_END(ts, INTERVAL '2' SECOND) AS se, "
            "COUNT(*) AS c, MAX(v) AS mx, MIN(d) AS mnd FROM {s} WHERE " + NF +
            " GROUP BY SESSION(ts, INTERVAL '2' SECOND)",
        win=("session", 2000, None),
        oracle="SELECT ws, we, COUNT(*), MAX(v), MIN(d) FROM win GROUP BY ws, we"),
    # ---- non-windowed GROUP BY: a view updated in place
    "group_key": dict(
        sql="SELECT k, COUNT(*) AS c, COUNT(v) AS cv, SUM(v) AS sv, MIN(v) AS mnv, MAX(v) AS mxv, AVG(v) AS av, "
            "SUM(d) AS sd, AVG(d) AS ad, MIN(s) AS mns, MAX(s) AS mxs, MIN(ts) AS t0, MAX(ts) AS t1 FROM {s} "
            "WHERE " + NF + " GROUP BY k",
        oracle="SELECT k, COUNT(*), COUNT(v), SUM(v), MIN(v), MAX(v), SUM(v) / COUNT(v), SUM(d), AVG(d), MIN(s), "
               "MAX(s), MIN(ts), MAX(ts) FROM evf GROUP BY k",
        adhoc=[("SELECT k, c FROM {v} WHERE k IS NOT NULL ORDER BY c DESC, k LIMIT 3",
                "SELECT k, c FROM res WHERE k IS NOT NULL ORDER BY c DESC, k LIMIT 3", True),
               ("SELECT COUNT(*) AS n, SUM(c) AS total, MIN(mns) AS m FROM {v}",
                "SELECT COUNT(*), SUM(c), MIN(mns) FROM res", False)]),
    "group_having": dict(
        sql="SELECT k, SUM(v) AS sv, COUNT(*) AS c FROM {s} WHERE " + NF + " GROUP BY k HAVING SUM(v) > 150",
        oracle="SELECT k, SUM(v), COUNT(*) FROM evf GROUP BY k HAVING SUM(v) > 150"),
    "group_distinct": dict(
        sql="SELECT k, COUNT(DISTINCT v) AS dv, COUNT(DISTINCT s) AS ds, COUNT(DISTINCT d) AS dd, "
            "SUM(DISTINCT v) AS sdv, AVG(DISTINCT d) AS adv FROM {s} WHERE " + NF + " GROUP BY k",
        oracle="SELECT k, COUNT(DISTINCT v), COUNT(DISTINCT s), COUNT(DISTINCT d), SUM(DISTINCT v), AVG(DISTINCT d) "
               "FROM evf GROUP BY k"),
    "group_filter_agg": dict(
        sql="SELECT k, COUNT(*) FILTER (WHERE v IS NULL) AS nv, SUM(v) FILTER (WHERE v > 0) AS sp, "
            "MAX(s) FILTER (WHERE s LIKE 'a%') AS ms, AVG(d) FILTER (WHERE d < 10) AS ad, COUNT(*) AS c "
            "FROM {s} WHERE " + NF + " GROUP BY k",
        oracle="SELECT k, COUNT(*) FILTER (WHERE v IS NULL), SUM(v) FILTER (WHERE v > 0), "
               "MAX(s) FILTER (WHERE s LIKE 'a%'), AVG(d) FILTER (WHERE d < 10), COUNT(*) FROM evf GROUP BY k"),
    "group_expr": dict(
        sql="SELECT MOD(v, 3) AS m, COUNT(*) AS c, SUM(v) AS sv, MIN(k) AS mk FROM {s} WHERE " + NF +
            " GROUP BY MOD(v, 3)",
        oracle="SELECT v % 3, COUNT(*), SUM(v), MIN(k) FROM evf GROUP BY v % 3"),
    "group_two_keys": dict(
        sql="SELECT k, d > 10 AS big, COUNT(*) AS c, SUM(v) AS sv FROM {s} WHERE " + NF + " GROUP BY k, d > 10",
        oracle="SELECT k, d > 10, COUNT(*), SUM(v) FROM evf GROUP BY k, d > 10"),
    "group_global": dict(
        scalar=True,
        sql="SELECT COUNT(*) AS c, COUNT(k) AS ck, SUM(v) AS sv, AVG(d) AS ad, MIN(s) AS mns, MAX(ts) AS mt, "
            "COUNT(DISTINCT k) AS dk FROM {s} WHERE " + NF,
        oracle="SELECT COUNT(*), COUNT(k), SUM(v), AVG(d), MIN(s), MAX(ts), COUNT(DISTINCT k) FROM evf"),
    "group_hidden_key": dict(
        sql="SELECT COUNT(*) AS c, SUM(v) AS sv, MAX(id) AS mi FROM {s} WHERE " + NF + " GROUP BY k, s",
        oracle="SELECT COUNT(*), SUM(v), MAX(id) FROM evf GROUP BY k, s"),
    "global_having": dict(
        scalar=True,
        sql="SELECT COUNT(*) AS c, SUM(v) AS sv FROM {s} WHERE " + NF + " HAVING SUM(v) < 1500",
        oracle="SELECT COUNT(*), SUM(v) FROM evf HAVING SUM(v) < 1500"),
    "global_usink": dict(
        kind="usink", keys=[], scalar=True,
        sql="SELECT COUNT(*) AS c, MAX(v) AS mx, MIN(s) AS mns FROM {s} WHERE " + NF,
        oracle="SELECT COUNT(*), MAX(v), MIN(s) FROM evf"),
    "group_usink": dict(
        kind="usink", keys=["k"],
        sql="SELECT k, COUNT(*) AS c, SUM(v) AS sv FROM {s} WHERE " + NF + " GROUP BY k HAVING SUM(v) > 150",
        oracle="SELECT k, COUNT(*), SUM(v) FROM evf GROUP BY k HAVING SUM(v) > 150"),
    "select_distinct": dict(
        sql="SELECT DISTINCT k, v > 20 AS big FROM {s} WHERE " + NF,
        oracle="SELECT DISTINCT k, v > 20 FROM evf"),
    # ---- filters and projections
    "proj_arith": dict(
        sql="SELECT id, v * 2 + 1 AS a, v / 3 AS b, MOD(v, 7) AS m, v % 4 AS m2, v / (v - v) AS z, -v AS neg, "
            "ABS(v) AS ab, d * 1.5 AS dd, d / 4 AS dq, CAST(d AS BIGINT) AS di, v + d AS vd, FLOOR(d) AS fl, "
            "CEIL(d) AS ce, v / 2.0 AS h, d / (v - v) AS dz FROM {s} WHERE " + NF,
        oracle="SELECT id, v * 2 + 1, v / 3, v % 7, v % 4, v / (v - v), -v, abs(v), d * 1.5, d / 4.0, "
               "CAST(d AS INTEGER), v + d, floor(d), ceil(d), v / 2.0, d / (v - v) FROM evf"),
    "filter_between_in": dict(
        sql="SELECT id, k, v, d FROM {s} WHERE " + NF + " AND ((v BETWEEN 10 AND 40 AND k IN ('a', 'c', '\u00e4')) "
            "OR d NOT BETWEEN 0 AND 30)",
        oracle="SELECT id, k, v, d FROM evf WHERE (v BETWEEN 10 AND 40 AND k IN ('a', 'c', '\u00e4')) "
               "OR d NOT BETWEEN 0 AND 30"),
    "filter_3vl": dict(
        sql="SELECT id, k, v, d, s FROM {s} WHERE " + NF + " AND (v > 10 OR d < 5) AND NOT (k = 'b') "
            "AND s <> 'bob'",
        oracle="SELECT id, k, v, d, s FROM evf WHERE (v > 10 OR d < 5) AND NOT (k = 'b') AND s <> 'bob'"),
    "proj_bool": dict(
        sql="SELECT id, v > 10 OR d < 5 AS b1, NOT (k = 'b') AS b2, v IS NULL AS b3, (v > 10) IS TRUE AS b4, "
            "(d < 5) IS NOT FALSE AS b5, v > 10 AND d < 5 AS b6, (k = 'a') IS NOT TRUE AS b7, "
            "s >= 'b' AS b8 FROM {s} WHERE " + NF,
        oracle="SELECT id, v > 10 OR d < 5, NOT (k = 'b'), v IS NULL, (v > 10) IS TRUE, (d < 5) IS NOT FALSE, "
               "v > 10 AND d < 5, (k = 'a') IS NOT TRUE, s >= 'b' FROM evf"),
    "proj_case": dict(
        sql="SELECT id, CASE WHEN v IS NULL THEN 'none' WHEN v < 0 THEN 'neg' WHEN v < 20 THEN 'low' ELSE 'high' "
            "END AS band, CASE k WHEN 'a' THEN 1 WHEN 'b' THEN 2 ELSE 0 END AS kn, CASE WHEN d > 10 THEN d END AS "
            "dbig, COALESCE(k, 'nokey') AS kk, COALESCE(v, -1) AS vv, COALESCE(v, d) AS vd, NULLIF(v, 0) AS nz, "
            "COALESCE(s, k, 'none') AS sk FROM {s} WHERE " + NF,
        oracle="SELECT id, CASE WHEN v IS NULL THEN 'none' WHEN v < 0 THEN 'neg' WHEN v < 20 THEN 'low' ELSE "
               "'high' END, CASE k WHEN 'a' THEN 1 WHEN 'b' THEN 2 ELSE 0 END, CASE WHEN d > 10 THEN d END, "
               "COALESCE(k, 'nokey'), COALESCE(v, -1), COALESCE(v, d), NULLIF(v, 0), COALESCE(s, k, 'none') FROM evf"),
    "proj_like": dict(
        sql="SELECT id, s, s LIKE 'a%' AS l1, s LIKE '%b_' AS l2, s NOT LIKE '%e%' AS l3, "
            "s LIKE '%!%%' ESCAPE '!' AS l4, s LIKE '_____' AS l5, s LIKE '%#_%' ESCAPE '#' AS l6, "
            "k LIKE 'B%' AS l7 FROM {s} WHERE " + NF,
        oracle="SELECT id, s, s LIKE 'a%', s LIKE '%b_', s NOT LIKE '%e%', s LIKE '%!%%' ESCAPE '!', "
               "s LIKE '_____', s LIKE '%#_%' ESCAPE '#', k LIKE 'B%' FROM evf"),
    "proj_strings": dict(
        sql="SELECT id, UPPER(s) AS u, LOWER(s) AS l, CHAR_LENGTH(s) AS n, SUBSTRING(s, 2, 3) AS sub, "
            "SUBSTRING(s FROM 3) AS sub2, TRIM(s) AS tr, TRIM(LEADING ' ' FROM s) AS ltr, s || '-' || k AS cat, "
            "CONCAT(k, ':', s) AS cc, REPLACE(s, 'b', 'B') AS rep, POSITION('b' IN s) AS pos, "
            "TRIM(BOTH 'b' FROM s) AS trb, TRIM(TRAILING 'e' FROM s) AS tre, UPPER(k) AS uk, "
            "CAST(v AS VARCHAR) AS vs FROM {s} WHERE " + NF,
        oracle="SELECT id, u8upper(s), u8lower(s), length(s), substr(s, 2, 3), substr(s, 3), trim(s, ' '), "
               "ltrim(s, ' '), s || '-' || k, k || ':' || s, replace(s, 'b', 'B'), instr(s, 'b'), trim(s, 'b'), "
               "rtrim(s, 'e'), u8upper(k), CAST(v AS TEXT) FROM evf"),
    "proj_in": dict(
        sql="SELECT id, v IN (1, 2, 3, 40) AS i1, v NOT IN (1, 2, 3) AS i2, k IN ('a', NULL) AS i3, "
            "k NOT IN ('b', NULL) AS i4, s IN ('bob', 'x', '') AS i5 FROM {s} WHERE " + NF,
        oracle="SELECT id, v IN (1, 2, 3, 40), v NOT IN (1, 2, 3), k IN ('a', NULL), k NOT IN ('b', NULL), "
               "s IN ('bob', 'x', '') FROM evf"),
    "filter_not_in_null": dict(
        sql="SELECT id, k FROM {s} WHERE " + NF + " AND k NOT IN ('a', NULL)",
        oracle="SELECT id, k FROM evf WHERE k NOT IN ('a', NULL)"),
    "proj_time": dict(
        sql="SELECT id, ts, ts + INTERVAL '1' SECOND AS t1, ts - INTERVAL '1' MINUTE AS t2, "
            "ts >= TIMESTAMP '2015-07-15 00:01:00' AS later, HOUR(ts) AS h, MINUTE(ts) AS mi, SECOND(ts) AS sec "
            "FROM {s} WHERE " + NF,
        oracle="SELECT id, ts, ts + 1000, ts - 60000, ts >= %d, CAST(strftime('%%H', ts / 1000, 'unixepoch') AS "
               "INTEGER), CAST(strftime('%%M', ts / 1000, 'unixepoch') AS INTEGER), CAST(strftime('%%S', ts / 1000, "
               "'unixepoch') AS INTEGER) FROM evf" % (BASE + 60000)),
    "select_star": dict(
        sql="SELECT * FROM {s} WHERE " + NF + " AND v > 30",
        oracle="SELECT id, k, v, d, s, ts FROM evf WHERE v > 30"),
    "subquery": dict(
        sql="SELECT id, x FROM (SELECT id, v * 2 AS x, k FROM {s} WHERE " + NF + " AND v IS NOT NULL) WHERE x > 20",
        oracle="SELECT id, v * 2 FROM evf WHERE v IS NOT NULL AND v * 2 > 20"),
    "proj_sink": dict(
        kind="sink",
        sql="SELECT id, k, COALESCE(v, 0) + 1 AS v1, d, UPPER(s) AS us, ts FROM {s} WHERE " + NF +
            " AND (d IS NULL OR d > 3)",
        oracle="SELECT id, k, COALESCE(v, 0) + 1, d, u8upper(s), ts FROM evf WHERE d IS NULL OR d > 3"),
}

CASES = [
    ("tumble_key", "basic"), ("tumble_key", "basic@pf"), ("tumble_key", "multi3"), ("tumble_key", "late"),
    ("tumble_key", "late1"), ("tumble_key", "sparse"),
    ("tumble_offset_global", "basic"), ("tumble_offset_global", "late"),
    ("hop_key", "basic"), ("hop_key", "multi3"), ("hop_key", "late"), ("hop_key", "late1"), ("hop_key", "sparse"),
    ("hop_distinct", "basic"), ("hop_distinct", "late"),
    ("cumulate_key", "basic"), ("cumulate_key", "multi3"), ("cumulate_key", "late"), ("cumulate_key", "late1"),
    ("cumulate_global", "basic"), ("cumulate_global", "late"),
    ("tumble_filter_agg", "basic"), ("tumble_filter_agg", "multi3"),
    ("tumble_having", "basic"), ("tumble_having", "late"),
    ("tumble_expr", "basic"),
    ("tumble_subquery", "basic"), ("tumble_subquery", "late"),
    ("tumble_where", "basic"), ("tumble_where", "sparse"),
    ("tumble_sink", "basic"), ("tumble_sink", "late"),
    ("session_tvf", "sessiony"), ("session_tvf", "session_late"),
    ("legacy_tumble", "basic"), ("legacy_tumble", "late"),
    ("legacy_hop", "basic"), ("legacy_hop", "late"),
    ("legacy_session", "sessiony"), ("legacy_session", "basic"), ("legacy_session", "multi3"),
    ("legacy_session", "late"), ("legacy_session", "late1"), ("legacy_session", "session_late"),
    ("session_global", "sparse"), ("session_global", "sessiony"),
    ("group_key", "basic"), ("group_key", "basic@pf"), ("group_key", "multi3"), ("group_key", "late"),
    ("group_having", "basic"), ("group_having", "flip"),
    ("group_distinct", "basic"), ("group_distinct", "multi3"),
    ("group_filter_agg", "basic"), ("group_expr", "basic"), ("group_two_keys", "basic"),
    ("group_global", "basic"), ("group_global", "multi3"), ("group_hidden_key", "basic"),
    ("global_having", "basic"), ("global_usink", "basic"),
    ("group_usink", "basic"), ("group_usink", "flip"),
    ("select_distinct", "basic"),
    ("proj_arith", "basic"), ("proj_arith", "multi3"),
    ("filter_between_in", "basic"), ("filter_between_in", "basic@pf"),
    ("filter_3vl", "basic"), ("proj_bool", "basic"), ("proj_case", "basic"), ("proj_like", "basic"),
    ("proj_strings", "basic"), ("proj_in", "basic"), ("filter_not_in_null", "basic"), ("proj_time", "basic"),
    ("select_star", "basic"), ("subquery", "basic"),
    ("proj_sink", "basic"), ("proj_sink", "multi3"),
]



# ---- talking to sluice ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    base = tmp_path_factory.mktemp("sql_oracle")
    s = Server(base / "data", flags=["--sql-checkpoint-ms", "200"], log_dir=base / "logs")
    s.start()
    yield s
    problems = []
    if s.proc is not None and s.proc.poll() is not None:
        problems.append("server died during the module with status %s\n%s" % (s.proc.returncode, s.logs()))
    if s.running:
        s.stop()
    else:
        s.kill9()
    problems.extend(s.sanitizer_reports())
    if problems:
        pytest.fail("\n".join(problems))


def sql(srv, text, status=200):
    r = srv.post("/v1/sql", json={"sql": text})
    expect(r, status)
    return r.json()["results"]


def describe(srv, name):
    res = sql(srv, "DESCRIBE %s" % name)
    assert len(res) == 1, res
    return res[0]


def wait_consumed(srv, name, n):
    """Polls DESCRIBE until the query has consumed n events; returns the DESCRIBE result."""
    end = time.monotonic() + WAIT
    while True:
        d = describe(srv, name)
        assert d["status"] == "running" and d["error"] is None, d
        got = d["stats"]["events_in"]
        assert got <= n, "query %s consumed %d events of %d" % (name, got, n)
        if got == n:
            return d
        assert time.monotonic() < end, "query %s consumed %d of %d events within %ss" % (name, got, n, WAIT)
        time.sleep(0.003)


def produce_chunk(srv, topic, chunk, parts):
    if parts == 1:
        r = produce(srv, topic, [e["raw"] for e in chunk])
    else:
        r = produce(srv, topic, [{"value": e["raw"], "partition": e["part"]} for e in chunk],
                    content_type="application/vnd.kafka.json.v2+json")
    expect(r, 200)
    offs = r.json()["offsets"]
    assert len(offs) == len(chunk)
    assert [o["partition"] for o in offs] == [e["part"] for e in chunk]


def ts_ms(text):
    m = re.fullmatch(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)\.(\d{3})Z", text)
    assert m, "timestamp %r is not yyyy-MM-ddTHH:mm:ss.SSSZ" % text
    y, mo, d, h, mi, s, ms = (int(x) for x in m.groups())
    return calendar.timegm((y, mo, d, h, mi, s)) * 1000 + ms


def conv_actual(value, typ):
    if value is None:
        return None
    if typ.startswith("TIMESTAMP"):
        return ts_ms(value)
    if typ == "DOUBLE":
        assert isinstance(value, (int, float)) and not isinstance(value, bool), value
        return float(value)
    if typ == "BIGINT":
        assert isinstance(value, int) and not isinstance(value, bool), value
        return value
    if typ == "BOOLEAN":
        assert isinstance(value, bool), value
        return value
    assert typ == "VARCHAR" and isinstance(value, str), (typ, value)
    return value


def conv_expected(value, typ):
    if value is None:
        return None
    if typ == "DOUBLE":
        return float(value)
    if typ == "BOOLEAN":
        assert value in (0, 1), value
        return bool(value)
    if typ == "VARCHAR":
        assert isinstance(value, str), value
        return value
    assert isinstance(value, int) and not isinstance(value, bool), "oracle gave %r for %s" % (value, typ)
    return value


def rows_of(objs, cols):
    """JSON row objects -> tuples in column order (cols: [(name, type)])."""
    out = []
    for o in objs:
        assert set(o) == {c for c, _ in cols}, (o, cols)
        out.append(tuple(conv_actual(o[c], t) for c, t in cols))
    return out


def close(a, b):
    if a is None or b is None:
        return a is b
    if isinstance(a, float) or isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    return a == b


def rows_match(x, y):
    return len(x) == len(y) and all(close(a, b) for a, b in zip(x, y))


def skey(row, types):
    """A sort key that ignores DOUBLE columns (compared with a tolerance) and orders None first."""
    return tuple((v is not None, v) for v, t in zip(row, types) if t != "DOUBLE")


def assert_same_rows(actual, expected, cols, what, ordered=False):
    types = [t for _, t in cols]
    names = [c for c, _ in cols]
    if ordered:
        ok = len(actual) == len(expected) and all(rows_match(a, e) for a, e in zip(actual, expected))
        assert ok, "%s: ordered rows differ\ncolumns %s\nsluice: %r\noracle: %r" % (what, names, actual, expected)
        return
    left = sorted(actual, key=lambda r: skey(r, types))
    missing = []
    for e in sorted(expected, key=lambda r: skey(r, types)):
        for i, a in enumerate(left):
            if rows_match(a, e):
                del left[i]
                break
        else:
            missing.append(e)
    if missing or left:
        pytest.fail("%s: %d rows from sluice, %d from the oracle\ncolumns %s\nonly in the oracle (%d): %s\n"
                    "only in sluice (%d): %s" % (what, len(actual), len(expected), names, len(missing),
                                                 "\n  ".join([""] + [repr(r) for r in missing[:25]]), len(left),
                                                 "\n  ".join([""] + [repr(r) for r in left[:25]])))


def read_sink(srv, topic, n):
    """Waits until topic holds n records (the query's rows_out) and returns their values."""
    end = time.monotonic() + WAIT
    while True:
        parts = describe_topic(srv, topic)["partition_stats"]
        have = sum(p["latest_offset"] for p in parts)
        assert have <= n, "sink topic %s holds %d records, the query emitted %d" % (topic, have, n)
        if have == n:
            break
        assert time.monotonic() < end, "sink topic %s got %d of %d records within %ss" % (topic, have, n, WAIT)
        time.sleep(0.01)
    out = []
    for p in parts:
        out.extend(r["value"] for r in fetch_all(srv, topic, p["partition"]))
    return out


def replay_changelog(values, cols, keys):
    """Applies +I/+U/-D records (in order) to a table keyed by the group columns; every change
    must be consistent with the table so far. Returns the final rows (JSON objects)."""
    table = {}
    counts = {"+I": 0, "+U": 0, "-D": 0}
    for v in values:
        op = v.pop("op", None)
        assert op in counts, "updating sink record without a valid op: %r" % v
        counts[op] += 1
        key = tuple(json.dumps(v.get(k)) for k in keys)
        if op == "+I":
            assert key not in table, "+I for a key already present: %r" % v
            table[key] = v
        elif op == "+U":
            assert key in table, "+U for an absent key: %r" % v
            table[key] = v
        else:
            assert table.get(key) == v, "-D of %r, but the table holds %r" % (v, table.get(key))
            del table[key]
    return list(table.values()), counts


def view_rows(srv, obj, cols):
    r = srv.get("/v1/views/%s" % obj)
    expect(r, 200)
    body = r.json()
    assert [(c["name"], c["type"]) for c in body["columns"]] == cols
    return body["rows"]


def run_query(srv, ds, q, names, at_chunk):
    """Creates the case's objects and feeds the events. View first: after each chunk is consumed,
    at_chunk(i, DESCRIBE, columns) checks the state so far. Returns (DESCRIBE, columns, rows,
    extra) at the end."""
    topic, stream, obj, out_topic = names
    create_topic(srv, topic, partitions=ds.parts)
    sql(srv, "CREATE STREAM %s (id BIGINT, k VARCHAR, v BIGINT, d DOUBLE, s VARCHAR, ts TIMESTAMP(3), "
             "WATERMARK FOR ts AS ts - INTERVAL '2' SECOND) WITH (topic='%s', format='json')" % (stream, topic))
    kind = q.get("kind", "view")
    body = q["sql"].replace("{s}", stream)
    if kind == "view":
        create = "CREATE MATERIALIZED VIEW %s AS %s" % (obj, body)
    else:
        create = "CREATE SINK %s INTO TOPIC '%s' AS %s" % (obj, out_topic, body)
    total = 0
    if ds.view_first:
        sql(srv, create)
        cols = [(r["column"], r["type"]) for r in describe(srv, obj)["rows"]]
        for i, c in enumerate(ds.chunks):
            produce_chunk(srv, topic, c, ds.parts)
            total += len(c)
            at_chunk(i, wait_consumed(srv, obj, total), cols)
    else:
        for c in ds.chunks:
            produce_chunk(srv, topic, c, ds.parts)
            total += len(c)
        sql(srv, create)
    d = wait_consumed(srv, obj, total)
    cols = [(r["column"], r["type"]) for r in d["rows"]]
    extra = {}
    if kind == "view":
        objs = view_rows(srv, obj, cols)
        assert d["stats"]["rows"] == len(objs)
        if d["output"] == "append-only":       # every window / row emitted once
            assert d["stats"]["rows_out"] == len(objs), d["stats"]
    else:
        values = read_sink(srv, out_topic, d["stats"]["rows_out"])
        if kind == "usink":
            assert d["output"] == "updates"
            objs, extra["changes"] = replay_changelog(values, cols, q["keys"])
        else:
            assert d["output"] == "append-only"
            objs = values
            assert all("op" not in v for v in objs)
            assert d["stats"]["rows_out"] == len(objs)
    return d, cols, rows_of(objs, cols), extra


def check_adhoc(srv, obj, cols, expected, adhoc):
    """Ad-hoc SELECTs over the view against the same SELECT in SQLite over the oracle's rows."""
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE res (%s)" % ", ".join('"%s"' % c for c, _ in cols))
    db.executemany("INSERT INTO res VALUES (%s)" % ",".join("?" * len(cols)),
                   [tuple(int(v) if isinstance(v, bool) else v for v in r) for r in expected])
    for text, oracle, ordered in adhoc:
        res = sql(srv, text.replace("{v}", obj))
        assert len(res) == 1 and res[0]["statement"] == "SELECT", res
        acols = [(c["name"], c["type"]) for c in res[0]["columns"]]
        got = rows_of(res[0]["rows"], acols)
        want = [tuple(conv_expected(v, t) for v, (_, t) in zip(r, acols)) for r in db.execute(oracle).fetchall()]
        assert_same_rows(got, want, acols, "ad-hoc %r" % text, ordered=ordered)


def check_stats(d, what, late, wm):
    st = d["stats"]
    assert st["late_events"] == late, "%s: late_events %d, model %d" % (what, st["late_events"], late)
    got = st.get("watermark")
    if wm == NEG:
        assert got is None, "%s: watermark %s before every partition has seen an event" % (what, got)
    else:
        assert got is not None and ts_ms(got) == wm, "%s: watermark %s, model %d" % (what, got, wm)


def oracle_rows(db, q, cols, upto=None, closed=None):
    """The oracle's rows: all, or the state after the first `upto` events were consumed (windows:
    those closed by then, i.e. end - 1 <= closed; their contents are final once emitted)."""
    text = q["oracle"]
    if upto is not None:
        cond = "seq < %d" % upto + (" AND we - 1 <= %d" % closed if "win" in q else "")
        text = re.sub(r"\bFROM (win|evf)\b", lambda m: "FROM (SELECT * FROM %s WHERE %s)" % (m.group(1), cond), text)
        if q.get("scalar") and not db.execute("SELECT COUNT(*) FROM evf WHERE seq < %d" % upto).fetchone()[0]:
            return []                 # a global aggregate has no row until its first input
    raw = db.execute(text).fetchall()
    assert all(len(r) == len(cols) for r in raw), "oracle and query differ in columns"
    return [tuple(conv_expected(v, t) for v, (_, t) in zip(r, cols)) for r in raw]


@pytest.mark.parametrize("qname,dname", CASES, ids=["%s-%s" % c for c in CASES])
def test_oracle(srv, qname, dname):
    assert srv.running, "the server is gone:\n%s" % srv.logs()
    q, ds = QUERIES[qname], dataset(dname)
    idx = CASES.index((qname, dname))
    names = ("orc%d" % idx, "s%d" % idx, "q%d" % idx, "orc%d_out" % idx)
    wms = simulate_watermark(ds)
    db = load_db(ds)
    where = q.get("where", "1")
    if "win" in q:
        late = build_win(db, ds, q["win"], where, wms[-1])
    else:
        late = []
        db.execute("CREATE TEMP TABLE evf AS SELECT * FROM ev WHERE %s AND (%s)" % (NF, where))
    what = "%s over %s (%s)" % (qname, dname, names[2])
    cum = [0]
    for c in ds.chunks:
        cum.append(cum[-1] + len(c))

    def at_chunk(i, d, cols):
        n = cum[i + 1]
        step = "%s after chunk %d (%d events)" % (what, i, n)
        check_stats(d, step, sum(1 for x in late if x < n), wms[i])
        if q.get("kind", "view") == "view":
            actual = rows_of(view_rows(srv, names[2], cols), cols)
            assert_same_rows(actual, oracle_rows(db, q, cols, n, wms[i]), cols, step)

    d, cols, actual, extra = run_query(srv, ds, q, names, at_chunk)

    assert_same_rows(actual, oracle_rows(db, q, cols), cols, what)
    check_stats(d, what, len(late), wms[-1])
    if ds.has_late and "win" in q:
        assert late, "the dataset should make some events late for this query"
    if q.get("kind") == "usink" and dname == "flip":
        assert extra["changes"]["-D"] >= 2 and extra["changes"]["+U"] >= 1, extra
    if q.get("adhoc"):
        check_adhoc(srv, names[2], cols, oracle_rows(db, q, cols), q["adhoc"])


@pytest.mark.parametrize("body,message", [
    ("SELECT DISTINCT * FROM {s}", "SELECT DISTINCT * is not supported"),
    ("SELECT DISTINCT k, COUNT(*) AS c FROM {s} GROUP BY k", "SELECT DISTINCT cannot be combined"),
    ("SELECT window_start, window_end, COUNT(*) AS c FROM TABLE(SESSION(TABLE {s}, DESCRIPTOR(ts), "
     "INTERVAL '3' SECOND, INTERVAL '1' SECOND)) GROUP BY window_start, window_end",
     "window function takes 1 interval argument"),
], ids=["distinct-star", "distinct-grouped", "session-tvf-two-intervals"])
def test_refused_shapes(srv, body, message):
    """What the oracle's shapes border on is refused with a located error, not run with another
    meaning (SELECT DISTINCT used to be ignored; SESSION's TVF read a second interval as its gap's
    companion)."""
    name = "refused_%s" % re.sub(r"\W", "", message)[:20].lower()
    create_topic(srv, name, partitions=1)
    sql(srv, "CREATE STREAM %s (k VARCHAR, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '2' SECOND) "
             "WITH (topic='%s', format='json')" % (name, name))
    r = srv.post("/v1/sql", json={"sql": "CREATE MATERIALIZED VIEW %s_v AS %s" % (name, body.replace("{s}", name))})
    expect(r, 400, "sql_error")
    err = r.json()["error"]
    assert message in err["message"], err
    assert err["line"] == 1 and err["column"] >= 1, err

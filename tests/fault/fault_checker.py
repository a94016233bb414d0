"""The checker of the fault suite: given what the clients did and saw during a run (a History)
and what every replica holds after the run (a Final), it lists every anomaly. It is pure (no I/O),
so tests/fault/test_fault_checker.py feeds it synthetic histories, one per anomaly.

History
  sent:          {event id: exact JSON text sent}          every event put in any request
  acked:         {event id: (partition, offset)}           from 200 answers to produce
  indeterminate: set of event ids whose request never got a 200 (gave up or single-node
                 non-retried ambiguous failure): each may be present at most once, or absent
  reads:         {consumer name: [(partition, offset, event id), ...]} in the order received
  read_starts:   {consumer name: {partition: first offset asked for}}
  protocol:      [text]    answers that break the API contract (e.g. 409 sequence_out_of_order
                 on a retry, a 200 with the wrong number of offsets, an unexpected 4xx)
  ops:           [dict]    one per produce attempt: producer, seq, node, t0, t1, outcome
                 ("ok", "retryable:<why>", "ambiguous:<why>", "fatal:<why>"), retry (bool)
  first_seen:    {event id: monotonic time a consumer first saw it}  (for dedup statistics)

Final
  log:        {partition: [(offset, event id or None, raw text), ...]}  the authoritative log,
              read through the partition's leader after healing
  replicas:   {node: {partition: [(offset, event id or None, raw text), ...]}}  each node's own
              replica (`&replica=any`)
  ends:       {partition: {node: end offset}}  the last end offsets seen while waiting for
              convergence
  converged:  {partition: bool}

  unreadable: set of partitions whose final log no node could serve

Rules (each a key of Report.anomalies):
  unreadable     the final log of a partition could not be read at all (the rules that need it
                 are skipped for that partition rather than reporting every event lost)
  lost           an acknowledged event is not in the final log
  duplicate      an event is at more than one offset of the final log
  phantom        the log holds an event that was never sent (unknown id or no id)
  corrupt        the log holds a sent event whose bytes differ from what was sent
  ack_mismatch   an acknowledged event is not at the partition and offset its ack named
  divergent      two replicas hold different events at the same offset, or a replica differs
                 from the authoritative log
  not_converged  replicas of a partition did not reach the same end offset in time
  log_gap        the final log's offsets are not contiguous from 0
  read_backwards a consumer received an offset lower than or equal to one it had already
                 received on that partition
  read_gap       a consumer's offsets on a partition skipped ahead (events never delivered)
  read_vanished  a consumer read event X at offset o, but offset o of the final log is not X
                 (read something that later vanished or was replaced)
  protocol       an answer that breaks the API contract
"""

import collections

RULES = ("unreadable", "lost", "duplicate", "phantom", "corrupt", "ack_mismatch", "divergent", "not_converged", "log_gap",
         "read_backwards", "read_gap", "read_vanished", "protocol")


class History:
    def __init__(self):
        self.sent = {}
        self.acked = {}
        self.indeterminate = set()
        self.reads = collections.defaultdict(list)
        self.read_starts = {}    # consumer name -> {partition: offset it started reading from}
        self.protocol = []
        self.ops = []
        self.first_seen = {}
        self.notes = []          # informational observations (not failures)
        self.nemesis = []        # (t, text) timeline


class Final:
    def __init__(self, log=None, replicas=None, ends=None, converged=None, unreadable=()):
        self.log = log or {}
        self.unreadable = set(unreadable)     # partitions whose final log could not be read at all
        self.replicas = replicas or {}
        self.ends = ends or {}
        self.converged = converged or {}


class Report:
    def __init__(self):
        self.anomalies = {r: [] for r in RULES}
        self.stats = {}

    @property
    def ok(self):
        return not any(self.anomalies.values())

    def add(self, rule, text):
        self.anomalies[rule].append(text)

    def failures(self, per_rule=8):
        out = []
        for r in RULES:
            items = self.anomalies[r]
            if items:
                out.append("%s: %d, e.g. %s" % (r, len(items), "; ".join(str(x) for x in items[:per_rule])))
        return out

    def summary(self):
        s = self.stats
        keys = ("events_sent", "events_acked", "events_indeterminate", "events_in_log", "requests", "attempts",
                "retries", "dedup_hits", "server_dedupe_hits", "max_unavailability_s", "log_ends")
        parts = ["%s=%s" % (k, s[k]) for k in keys if k in s]
        bad = ["%s=%d" % (r, len(v)) for r, v in self.anomalies.items() if v]
        return "; ".join(parts) + ("; ANOMALIES " + ", ".join(bad) if bad else "; no anomalies")


def _index_log(entries):
    """[(offset, id, raw)] -> {offset: (id, raw)}"""
    return {o: (eid, raw) for o, eid, raw in entries}


def check(history, final, expect_partitions=None):
    rep = Report()
    sent = history.sent
    acked = history.acked

    # --- the authoritative log --------------------------------------------------------------
    where = collections.defaultdict(list)          # id -> [(p, o)]
    total = 0
    for p in sorted(final.log):
        entries = final.log[p]
        offsets = [o for o, _, _ in entries]
        if offsets != list(range(len(entries))):
            first_bad = next((i for i, o in enumerate(offsets) if o != i), None)
            rep.add("log_gap", "partition %d: offsets not contiguous from 0 (index %s holds offset %s)"
                    % (p, first_bad, offsets[first_bad] if first_bad is not None else None))
        for o, eid, raw in entries:
            total += 1
            if eid is None or eid not in sent:
                rep.add("phantom", "p%d@%d holds an event never sent: %r" % (p, o, (raw or "")[:120]))
                continue
            if raw is not None and raw != sent[eid]:
                rep.add("corrupt", "p%d@%d %s: %r != sent %r" % (p, o, eid, raw[:120], sent[eid][:120]))
            where[eid].append((p, o))
    for eid, locs in where.items():
        if len(locs) > 1:
            rep.add("duplicate", "%s at %s" % (eid, locs))

    # --- acknowledged events ------------------------------------------------------------------
    for p in sorted(final.unreadable):
        rep.add("unreadable", "p%d: the final log could not be read from any node" % p)
    for eid, (p, o) in sorted(acked.items()):
        if p in final.unreadable:
            continue
        locs = where.get(eid)
        if not locs:
            rep.add("lost", "%s acked at p%d@%d" % (eid, p, o))
        elif (p, o) not in locs:
            rep.add("ack_mismatch", "%s acked at p%d@%d but is at %s" % (eid, p, o, locs))

    # --- replicas -----------------------------------------------------------------------------
    parts = set(final.log)
    for reps in final.replicas.values():
        parts.update(reps)
    if expect_partitions is not None:
        parts.update(range(expect_partitions))
    for p in sorted(parts):
        auth = _index_log(final.log.get(p, []))
        holders = {n: _index_log(reps[p]) for n, reps in sorted(final.replicas.items()) if p in reps}
        nodes = sorted(holders)
        for i, a in enumerate(nodes):
            for b in nodes[i + 1:]:
                common = sorted(set(holders[a]) & set(holders[b]))
                diffs = [o for o in common if holders[a][o][0] != holders[b][o][0]
                         or (holders[a][o][1] is not None and holders[b][o][1] is not None
                             and holders[a][o][1] != holders[b][o][1])]
                if diffs:
                    o = diffs[0]
                    rep.add("divergent", "p%d: nodes %d and %d differ at %d offsets, first @%d: %s vs %s"
                            % (p, a, b, len(diffs), o, holders[a][o][0], holders[b][o][0]))
        for n in nodes:
            diffs = [o for o in holders[n] if o in auth and holders[n][o][0] != auth[o][0]]
            if diffs:
                o = diffs[0]
                rep.add("divergent", "p%d: node %d's replica differs from the log at %d offsets, first @%d: %s vs %s"
                        % (p, n, len(diffs), o, holders[n][o][0], auth[o][0]))
        conv = final.converged.get(p)
        ends = final.ends.get(p, {})
        if conv is False or (conv is None and len(set(ends.values())) > 1):
            rep.add("not_converged", "p%d: replica end offsets %s" % (p, dict(sorted(ends.items(), key=lambda kv: str(kv[0])))))
        elif nodes:
            lens = {n: (max(holders[n]) + 1 if holders[n] else 0) for n in nodes}
            if len(set(lens.values())) > 1 or (auth and set(lens.values()) != {max(auth) + 1}):
                rep.add("not_converged", "p%d: replica lengths read %s, log length %d"
                        % (p, lens, (max(auth) + 1) if auth else 0))

    # --- consumers ------------------------------------------------------------------------------
    auth_by_p = {p: _index_log(e) for p, e in final.log.items()}
    for name, seq in sorted(history.reads.items()):
        last = {}
        for p, o, eid in seq:
            if p in final.unreadable:
                continue
            prev = last.get(p)
            if prev is not None and o <= prev:
                rep.add("read_backwards", "%s on p%d: offset %d after %d" % (name, p, o, prev))
            elif prev is not None and o > prev + 1:
                rep.add("read_gap", "%s on p%d: offset %d after %d" % (name, p, o, prev))
            elif prev is None and p in history.read_starts.get(name, {}) and o != history.read_starts[name][p]:
                rep.add("read_gap", "%s on p%d: first offset %d, asked from %d"
                        % (name, p, o, history.read_starts[name][p]))
            last[p] = o if prev is None else max(prev, o)
            at = auth_by_p.get(p, {}).get(o)
            if at is None or at[0] != eid:
                rep.add("read_vanished", "%s read %s at p%d@%d; the final log has %s there"
                        % (name, eid, p, o, at[0] if at else "nothing"))
            if eid is None or eid not in sent:
                rep.add("phantom", "%s read p%d@%d holding an event never sent: %r" % (name, p, o, eid))

    for text in history.protocol:
        rep.add("protocol", text)

    # --- statistics -----------------------------------------------------------------------------
    ops = history.ops
    reqs = {(op["producer"], op["seq"]) for op in ops}
    rep.stats = {
        "events_sent": len(sent),
        "events_acked": len(acked),
        "events_indeterminate": len(history.indeterminate),
        "events_in_log": total,
        "requests": len(reqs),
        "attempts": len(ops),
        "retries": sum(1 for op in ops if op.get("retry")),
        "dedup_hits": dedup_hits(history, where),
        "max_unavailability_s": round(max_unavailability(ops), 2),
        "log_ends": {p: len(e) for p, e in sorted(final.log.items())},
    }
    return rep


def dedup_hits(history, where=None):
    """Lower bound of retries the server deduplicated: requests acknowledged by a retry although a
    consumer had already seen one of their events before that retry was sent (so an earlier attempt
    had appended them, and the retry appended nothing new - else `duplicate` would fire)."""
    by_req = collections.defaultdict(list)
    for op in history.ops:
        by_req[(op["producer"], op["seq"])].append(op)
    hits = 0
    for attempts in by_req.values():
        ok = [op for op in attempts if op["outcome"] == "ok"]
        if not ok or not ok[0].get("retry"):
            continue
        t_sent = ok[0]["t0"]
        ids = ok[0].get("ids", ())
        if where is not None and any(len(where.get(eid, ())) > 1 for eid in ids):
            continue                      # not deduplicated: the checker reports it as a duplicate
        if any(history.first_seen.get(eid, float("inf")) < t_sent for eid in ids):
            hits += 1
    return hits


def max_unavailability(ops):
    """Longest stretch of time in which no produce attempt succeeded while some were being tried."""
    if not ops:
        return 0.0
    oks = sorted(op["t1"] for op in ops if op["outcome"] == "ok")
    start = min(op["t0"] for op in ops)
    end = max(op["t1"] for op in ops)
    marks = [start] + oks + [end]
    return max((b - a for a, b in zip(marks, marks[1:])), default=0.0)

"""The checker against synthetic histories: a clean history passes, and each anomaly the fault
suite hunts for is caught by its rule (and only by the rules it should trip)."""

import copy

import pytest

from fault_checker import RULES, Final, History, check, max_unavailability


def ev(eid):
    return '{"id":"%s","k":"k1","pad":""}' % eid


def clean():
    """Two partitions, three replicas, two consumers, 3 + 2 acked events, one indeterminate
    event that made it in (allowed) and one that did not (allowed)."""
    h = History()
    log = {0: ["a0", "a1", "a2", "u1"], 1: ["b0", "b1"]}
    for ids in log.values():
        for eid in ids:
            h.sent[eid] = ev(eid)
    h.sent["u2"] = ev("u2")
    for p, ids in log.items():
        for o, eid in enumerate(ids):
            if not eid.startswith("u"):
                h.acked[eid] = (p, o)
    h.indeterminate = {"u1", "u2"}
    h.reads["c0"] = [(0, 0, "a0"), (0, 1, "a1"), (0, 2, "a2")]
    h.reads["c1"] = [(1, 0, "b0"), (1, 1, "b1")]
    h.read_starts = {"c0": {0: 0}, "c1": {1: 0}}
    entries = {p: [(o, eid, ev(eid)) for o, eid in enumerate(ids)] for p, ids in log.items()}
    f = Final(log=entries, replicas={n: copy.deepcopy(entries) for n in (1, 2, 3)},
              ends={p: {1: len(ids), 2: len(ids), 3: len(ids), "leader": len(ids)} for p, ids in log.items()},
              converged={0: True, 1: True})
    t = 100.0
    for i, eid in enumerate(["a0", "a1", "a2", "b0", "b1"]):
        h.ops.append({"producer": 0, "seq": i, "node": 0, "t0": t + i, "t1": t + i + 0.1, "outcome": "ok",
                      "retry": False, "ids": [eid]})
    return h, f


def tripped(h, f):
    rep = check(h, f)
    return {r for r in RULES if rep.anomalies[r]}, rep


def test_clean_history_passes():
    h, f = clean()
    rules, rep = tripped(h, f)
    assert rules == set(), rep.failures()
    assert rep.stats["events_acked"] == 5 and rep.stats["events_in_log"] == 6
    assert "no anomalies" in rep.summary()


def test_lost_acknowledged_event():
    h, f = clean()
    for log in [f.log] + list(f.replicas.values()):
        log[1] = log[1][:1]                    # b1 acked at p1@1 is gone everywhere
    for e in f.ends[1]:
        f.ends[1][e] = 1
    h.reads["c1"] = h.reads["c1"][:1]
    rules, rep = tripped(h, f)
    assert rules == {"lost"}, rep.failures()
    assert "b1" in rep.anomalies["lost"][0]


def test_duplicate_event():
    h, f = clean()
    for log in [f.log] + list(f.replicas.values()):
        log[1].append((2, "a1", ev("a1")))     # a1 appended twice (a retry not deduplicated)
    for e in f.ends[1]:
        f.ends[1][e] = 3
    rules, rep = tripped(h, f)
    assert rules == {"duplicate"}, rep.failures()
    assert "a1" in rep.anomalies["duplicate"][0]


def test_duplicate_within_one_partition():
    h, f = clean()
    for log in [f.log] + list(f.replicas.values()):
        log[0].append((4, "a2", ev("a2")))
    for e in f.ends[0]:
        f.ends[0][e] = 5
    rules, _ = tripped(h, f)
    assert rules == {"duplicate"}


def test_divergent_replicas():
    h, f = clean()
    f.replicas[3][0][2] = (2, "u1", ev("u1"))     # node 3 holds another event at p0@2
    rules, rep = tripped(h, f)
    assert rules == {"divergent"}, rep.failures()
    assert any("nodes 1 and 3" in x or "nodes 2 and 3" in x for x in rep.anomalies["divergent"])
    assert any("node 3's replica differs" in x for x in rep.anomalies["divergent"])


def test_divergent_bytes_same_id():
    h, f = clean()
    f.replicas[2][1][0] = (0, "b0", ev("b0").replace('"k1"', '"k2"'))
    rules, _ = tripped(h, f)
    assert rules == {"divergent"}


def test_phantom_event_never_sent():
    h, f = clean()
    for log in [f.log] + list(f.replicas.values()):
        log[1].append((2, "zz", ev("zz")))
    for e in f.ends[1]:
        f.ends[1][e] = 3
    rules, rep = tripped(h, f)
    assert rules == {"phantom"}, rep.failures()


def test_phantom_event_without_id():
    h, f = clean()
    for log in [f.log] + list(f.replicas.values()):
        log[1].append((2, None, "[1,2]"))
    for e in f.ends[1]:
        f.ends[1][e] = 3
    rules, _ = tripped(h, f)
    assert rules == {"phantom"}


def test_corrupt_event_bytes():
    h, f = clean()
    bad = ev("a1").replace("pad", "pax")
    for log in [f.log] + list(f.replicas.values()):
        log[0][1] = (1, "a1", bad)
    rules, _ = tripped(h, f)
    assert rules == {"corrupt"}


def test_ack_names_the_wrong_offset():
    h, f = clean()
    h.acked["a2"] = (0, 1)
    rules, rep = tripped(h, f)
    assert rules == {"ack_mismatch"}, rep.failures()
    h.acked["a2"] = (1, 2)                      # wrong partition
    rules, _ = tripped(h, f)
    assert rules == {"ack_mismatch"}


def test_replicas_never_converge():
    h, f = clean()
    f.replicas[2][0] = f.replicas[2][0][:2]     # node 2 stays behind on p0
    f.ends[0][2] = 2
    f.converged[0] = False
    rules, rep = tripped(h, f)
    assert rules == {"not_converged"}, rep.failures()
    assert "p0" in rep.anomalies["not_converged"][0]


def test_short_replica_caught_even_if_ends_agreed():
    h, f = clean()
    f.replicas[1][1] = f.replicas[1][1][:1]
    rules, _ = tripped(h, f)
    assert rules == {"not_converged"}


def test_log_gap():
    h, f = clean()
    for log in [f.log] + list(f.replicas.values()):
        log[0] = [(0, "a0", ev("a0")), (1, "a1", ev("a1")), (3, "u1", ev("u1"))]
    h.acked.pop("a2")
    h.reads["c0"] = h.reads["c0"][:2]
    rules, rep = tripped(h, f)
    assert "log_gap" in rules, rep.failures()
    assert rules <= {"log_gap", "not_converged"}


def test_consumer_offset_goes_backwards():
    h, f = clean()
    h.reads["c0"] = [(0, 0, "a0"), (0, 1, "a1"), (0, 2, "a2"), (0, 1, "a1")]
    rules, rep = tripped(h, f)
    assert rules == {"read_backwards"}, rep.failures()


def test_consumer_skips_offsets():
    h, f = clean()
    h.reads["c0"] = [(0, 0, "a0"), (0, 2, "a2")]
    rules, _ = tripped(h, f)
    assert rules == {"read_gap"}
    h.reads["c0"] = [(0, 1, "a1"), (0, 2, "a2")]     # did not start where it asked
    rules, _ = tripped(h, f)
    assert rules == {"read_gap"}


def test_consumer_read_an_event_that_later_vanished():
    """A consumer saw x at p0@3 (e.g. served by a leader before it was committed); the final log
    has u1 there: the read vanished."""
    h, f = clean()
    h.sent["x"] = ev("x")
    h.indeterminate.add("x")
    h.reads["c0"].append((0, 3, "x"))
    rules, rep = tripped(h, f)
    assert rules == {"read_vanished"}, rep.failures()


def test_consumer_read_beyond_the_final_end():
    h, f = clean()
    h.sent["y"] = ev("y")
    h.reads["c1"].append((1, 2, "y"))
    rules, _ = tripped(h, f)
    assert rules == {"read_vanished"}


def test_consumer_read_a_phantom():
    h, f = clean()
    h.reads["c1"].append((1, 2, "nope"))
    rules, _ = tripped(h, f)
    assert rules == {"read_vanished", "phantom"}


def test_protocol_violation():
    h, f = clean()
    h.protocol.append("producer 1 seq 7: 409 sequence_out_of_order on a retry")
    rules, _ = tripped(h, f)
    assert rules == {"protocol"}


def test_indeterminate_events_may_be_absent_but_not_twice():
    h, f = clean()
    rules, _ = tripped(h, f)
    assert not rules                               # u2 absent, u1 present once: fine
    for log in [f.log] + list(f.replicas.values()):
        log[1].append((2, "u2", ev("u2")))
        log[1].append((3, "u2", ev("u2")))
    for e in f.ends[1]:
        f.ends[1][e] = 4
    rules, _ = tripped(h, f)
    assert rules == {"duplicate"}


def test_unreadable_partition_is_reported_once_not_as_lost_events():
    h, f = clean()
    f.log.pop(1)
    f.unreadable = {1}
    rules, rep = tripped(h, f)
    assert rules == {"unreadable"}, rep.failures()


def test_every_rule_has_a_test():
    covered = {"unreadable", "lost", "duplicate", "phantom", "corrupt", "ack_mismatch", "divergent", "not_converged", "log_gap",
               "read_backwards", "read_gap", "read_vanished", "protocol"}
    assert covered == set(RULES)


def test_statistics():
    h, f = clean()
    # a request retried after an ambiguous failure; a consumer had already seen its event
    h.ops.append({"producer": 1, "seq": 1, "node": 0, "t0": 200.0, "t1": 206.0, "outcome": "ambiguous:read timeout",
                  "retry": False, "ids": ["u1"]})
    h.ops.append({"producer": 1, "seq": 1, "node": 1, "t0": 207.0, "t1": 207.5, "outcome": "ok",
                  "retry": True, "ids": ["u1"]})
    h.first_seen["u1"] = 203.0
    rep = check(h, f)
    assert rep.stats["attempts"] == 7 and rep.stats["retries"] == 1 and rep.stats["dedup_hits"] == 1
    assert rep.stats["requests"] == 6
    assert rep.stats["max_unavailability_s"] == pytest.approx(207.5 - 104.1, abs=0.01)


def test_max_unavailability():
    ops = [{"t0": 0.0, "t1": 0.1, "outcome": "ok"}, {"t0": 0.2, "t1": 5.0, "outcome": "ambiguous:504"},
           {"t0": 5.1, "t1": 6.1, "outcome": "ok"}, {"t0": 6.2, "t1": 6.3, "outcome": "ok"}]
    assert max_unavailability(ops) == pytest.approx(6.0)

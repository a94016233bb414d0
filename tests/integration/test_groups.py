"""Consumer groups: join/leave/timeout rebalancing with no partition ever owned twice, sticky
assignment, stale-generation commits, committed offsets across restarts, lag."""

import json
import signal
import threading
import time

import pytest

from sluice_testlib import create_topic, describe_topic, expect, parse_ndjson, produce_ok

NDJSON = "application/x-ndjson"
KAFKA = "application/vnd.kafka.json.v2+json"


def parts(assignment):
    out = set()
    for a in assignment:
        tp = (a["topic"], a["partition"])
        assert tp not in out, "partition listed twice in one assignment: %s" % assignment
        out.add(tp)
    return out


class Member:
    def __init__(self, srv, group, topics, session_timeout_ms=30000, **extra):
        self.srv = srv
        self.group = group
        body = {"topics": topics, "session_timeout_ms": session_timeout_ms}
        body.update(extra)
        r = srv.post("/v1/groups/%s/members" % group, json=body)
        expect(r, 200)
        j = r.json()
        assert isinstance(j["member_id"], str) and j["member_id"], j
        self.id = j["member_id"]
        self.generation = j["generation"]
        self.assignment = parts(j["assignment"])
        self.history = [(self.generation, set(self.assignment))]

    def poll(self, limit=None, timeout_ms=0, http_timeout=15):
        """Returns ('events', records) or ('rebalance', None) (updating the assignment);
        raises on anything else."""
        params = {"timeout_ms": timeout_ms}
        if limit is not None:
            params["limit"] = limit
        r = self.srv.get("/v1/groups/%s/members/%s/events" % (self.group, self.id), params=params,
                         timeout=http_timeout)
        if r.status_code == 409:
            body = r.json()
            err = body.get("error", {})
            assert err.get("code") == "rebalance", r.text
            gen = err.get("generation", body.get("generation"))
            asg = err.get("assignment", body.get("assignment"))
            assert isinstance(gen, int) and asg is not None, "409 rebalance lacks generation/assignment: %s" % r.text
            assert gen > self.generation, "rebalance to generation %d from %d" % (gen, self.generation)
            self.generation = gen
            self.assignment = parts(asg)
            self.history.append((gen, set(self.assignment)))
            return "rebalance", None
        expect(r, 200)
        return "events", parse_ndjson(r.content)

    def poll_expect_rebalance(self):
        kind, _ = self.poll()
        assert kind == "rebalance", "member %s expected a 409 rebalance" % self.id
        return self.assignment

    def commit(self, offsets, generation="current"):
        body = {"offsets": [{"topic": t, "partition": p, "offset": o} for (t, p), o in offsets.items()]}
        if generation == "current":
            body["generation"] = self.generation
        elif generation is not None:
            body["generation"] = generation
        return self.srv.post("/v1/groups/%s/members/%s/commit" % (self.group, self.id), json=body)

    def leave(self):
        r = self.srv.delete("/v1/groups/%s/members/%s" % (self.group, self.id))
        assert r.status_code == 204, r.text


def group_view(srv, g):
    r = srv.get("/v1/groups/%s" % g)
    expect(r, 200)
    j = r.json()
    assert j["group"] == g
    return j


def server_assignments(srv, g):
    j = group_view(srv, g)
    out = {}
    for m in j["members"]:
        for f in ("member_id", "topics", "assignment", "session_timeout_ms", "idle_ms"):
            assert f in m, (f, m)
        out[m["member_id"]] = parts(m["assignment"])
    return j["generation"], out


def check_exclusive_cover(assignments, everything):
    seen = {}
    for mid, ps in assignments.items():
        for tp in ps:
            assert tp not in seen, "partition %s owned by both %s and %s" % (tp, seen[tp], mid)
            seen[tp] = mid
    assert set(seen) == everything, "assignment covers %s, not %s" % (sorted(seen), sorted(everything))
    sizes = [len(p) for p in assignments.values()]
    assert max(sizes) - min(sizes) <= 1, "unbalanced assignment: %s" % assignments


ALL6 = {("t", p) for p in range(6)}


def test_three_members_join_leave_sticky(server):
    create_topic(server, "t", partitions=6)
    a = Member(server, "g", ["t"])
    assert a.assignment == ALL6
    gen, asg = server_assignments(server, "g")
    assert gen == a.generation and asg == {a.id: ALL6}

    b = Member(server, "g", ["t"])
    assert b.generation > a.generation
    a_old = set(a.assignment)
    a.poll_expect_rebalance()
    assert a.generation == b.generation
    check_exclusive_cover({a.id: a.assignment, b.id: b.assignment}, ALL6)
    assert a.assignment <= a_old, "sticky: A keeps only partitions it had"
    gen, asg = server_assignments(server, "g")
    assert gen == b.generation and asg == {a.id: a.assignment, b.id: b.assignment}
    assert b.poll()[0] == "events" and a.poll()[0] == "events", "no further rebalance after catching up"

    c = Member(server, "g", ["t"])
    a_old, b_old = set(a.assignment), set(b.assignment)
    a.poll_expect_rebalance()
    b.poll_expect_rebalance()
    assert a.generation == b.generation == c.generation
    check_exclusive_cover({a.id: a.assignment, b.id: b.assignment, c.id: c.assignment}, ALL6)
    assert a.assignment <= a_old and b.assignment <= b_old, "sticky on join"
    assert len(a.assignment) == len(b.assignment) == len(c.assignment) == 2
    gen, asg = server_assignments(server, "g")
    assert gen == c.generation
    assert asg == {a.id: a.assignment, b.id: b.assignment, c.id: c.assignment}

    # leave
    a_old, b_old = set(a.assignment), set(b.assignment)
    c.leave()
    a.poll_expect_rebalance()
    b.poll_expect_rebalance()
    check_exclusive_cover({a.id: a.assignment, b.id: b.assignment}, ALL6)
    assert a.assignment >= a_old and b.assignment >= b_old, "sticky on leave"
    gen, asg = server_assignments(server, "g")
    assert gen == a.generation == b.generation and set(asg) == {a.id, b.id}
    r = server.get("/v1/groups/g/members/%s/events" % c.id)
    expect(r, 404, "member_not_found")
    r = server.delete("/v1/groups/g/members/%s" % c.id)
    expect(r, 404, "member_not_found")


def test_member_timeout_reassigns(make_server):
    srv = make_server("--session-check-ms", "100")
    create_topic(srv, "t", partitions=6)
    a = Member(srv, "g", ["t"], session_timeout_ms=1000)
    b = Member(srv, "g", ["t"], session_timeout_ms=1000)
    c = Member(srv, "g", ["t"], session_timeout_ms=1000)
    t_c_last = time.monotonic()
    # a and b keep polling; c goes silent
    end = time.monotonic() + 10
    gone_at = None
    while True:
        for m in (a, b):
            m.poll()
        gen, asg = server_assignments(srv, "g")
        if c.id not in asg:
            gone_at = time.monotonic()
            break
        assert time.monotonic() < end, "silent member never removed: %s" % asg
        assert set(asg) == {a.id, b.id, c.id}, "a polling member was removed: %s" % asg
        time.sleep(0.1)
    assert gone_at - t_c_last >= 0.9, "member removed after %.2fs, before its 1000 ms session timeout" % (
        gone_at - t_c_last)
    assert set(asg) == {a.id, b.id}
    a_prev, b_prev = set(a.assignment), set(b.assignment)
    # both catch up to the group's generation (each gets one 409 with its new assignment)
    end = time.monotonic() + 10
    while a.generation != gen or b.generation != gen:
        assert time.monotonic() < end, "members never caught up with generation %d" % gen
        for m in (a, b):
            if m.generation != gen:
                m.poll()
    check_exclusive_cover({a.id: a.assignment, b.id: b.assignment}, ALL6)
    assert asg == {a.id: a.assignment, b.id: b.assignment}
    assert a.assignment >= a_prev and b.assignment >= b_prev, "sticky after a timeout"
    r = srv.get("/v1/groups/g/members/%s/events" % c.id)
    expect(r, 404, "member_not_found")


def test_no_partition_ever_owned_twice_under_churn(make_server):
    """Members join, leave and time out while a watcher samples GET /v1/groups/g."""
    srv = make_server("--session-check-ms", "100")
    create_topic(srv, "t", partitions=6)
    stop = threading.Event()
    problems = []
    samples = [0]

    def watch():
        while not stop.is_set():
            try:
                _, asg = server_assignments(srv, "g")
            except AssertionError as e:
                problems.append(str(e))
                continue
            except Exception:
                continue
            samples[0] += 1
            seen = {}
            for mid, ps in asg.items():
                for tp in ps:
                    if tp in seen:
                        problems.append("%s owned by %s and %s" % (tp, seen[tp], mid))
                    seen[tp] = mid
            if asg and set(seen) != ALL6:
                problems.append("not all partitions assigned: %s" % asg)

    members = [Member(srv, "g", ["t"], session_timeout_ms=1000)]
    th = threading.Thread(target=watch, daemon=True)
    th.start()
    try:
        for i in range(6):
            members.append(Member(srv, "g", ["t"], session_timeout_ms=1000))
            for m in members[:-1]:
                try:
                    m.poll()
                except AssertionError:
                    pass
            if i % 2 == 1:
                members.pop(0).leave()
        end = time.monotonic() + 10     # the rest time out
        while group_view(srv, "g")["members"]:
            assert time.monotonic() < end, "silent members never timed out"
            time.sleep(0.1)
    finally:
        stop.set()
        th.join(timeout=10)
    assert samples[0] > 5
    assert not problems, problems[:5]


def test_commit_stale_generation_and_not_assigned(server):
    create_topic(server, "t", partitions=2)
    a = Member(server, "g", ["t"])
    g1 = a.generation
    r = a.commit({("t", 0): 0, ("t", 1): 0})
    expect(r, 200)
    b = Member(server, "g", ["t"])
    r = a.commit({("t", 0): 0}, generation=g1)
    expect(r, 409, "stale_generation")
    _, asg = server_assignments(server, "g")
    mine = sorted(asg[a.id])[0]
    theirs = sorted(asg[b.id])[0]
    r = a.commit({theirs: 0}, generation=b.generation)
    expect(r, 409, "not_assigned")
    r = a.commit({mine: 0}, generation=b.generation)
    expect(r, 200)
    assert r.json()["offsets"] == [{"topic": mine[0], "partition": mine[1], "offset": 0}]
    r = a.commit({mine: 0}, generation=None)
    expect(r, 200)


def test_commit_validation(server):
    create_topic(server, "t")
    a = Member(server, "g", ["t"])
    r = server.post("/v1/groups/g/members/%s/commit" % a.id, data=b"{bad", headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    r = server.post("/v1/groups/g/members/%s/commit" % a.id, json={"offsets": [{"topic": "t", "partition": 0,
                                                                                "offset": "x"}]})
    assert r.status_code == 400
    r = server.post("/v1/groups/g/members/nobody/commit", json={"offsets": [{"topic": "t", "partition": 0,
                                                                            "offset": 0}]})
    expect(r, 404, "member_not_found")


def poll_until(m, want, deadline=10.0, limit=None):
    """Polls m until it has `want` records; returns them."""
    got = []
    end = time.monotonic() + deadline
    while len(got) < want:
        assert time.monotonic() < end, "got %d of %d records: %s" % (len(got), want,
                                                                     [(r["partition"], r["offset"]) for r in got])
        kind, recs = m.poll(limit=limit, timeout_ms=200)
        if kind == "events":
            got.extend(recs)
    return got


def produce_to(srv, topic, partition, n, tag):
    body = {"records": [{"value": {"tag": tag, "i": i}, "partition": partition} for i in range(n)]}
    return produce_ok(srv, topic, None, KAFKA, raw=json.dumps(body))


def test_poll_continues_where_previous_stopped(server):
    create_topic(server, "t")
    produce_to(server, "t", 0, 10, "x")
    m = Member(server, "g", ["t"])
    seen = []
    for want in ([0, 1, 2], [3, 4, 5], [6, 7, 8], [9]):
        kind, recs = m.poll(limit=3)
        assert kind == "events"
        seen.append([r["offset"] for r in recs])
        assert all(r["topic"] == "t" and r["partition"] == 0 for r in recs)
    assert seen == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]
    kind, recs = m.poll()
    assert kind == "events" and recs == []


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "kill9"])
def test_resume_from_commits_after_restart(server, sig):
    create_topic(server, "t", partitions=2)
    produce_to(server, "t", 0, 20, "p0")
    produce_to(server, "t", 1, 20, "p1")
    m1 = Member(server, "g", ["t"])
    got = poll_until(m1, 40, limit=7)
    assert sorted((r["partition"], r["offset"]) for r in got) == sorted(
        [(0, i) for i in range(20)] + [(1, i) for i in range(20)])
    r = m1.commit({("t", 0): 7, ("t", 1): 12})
    expect(r, 200)
    m1.leave()
    v = group_view(server, "g")
    offs = {(o["topic"], o["partition"]): o for o in v["offsets"]}
    assert offs[("t", 0)]["committed"] == 7 and offs[("t", 1)]["committed"] == 12

    server.restart(sig)

    v = group_view(server, "g")
    offs = {(o["topic"], o["partition"]): o for o in v["offsets"]}
    assert offs[("t", 0)]["committed"] == 7 and offs[("t", 1)]["committed"] == 12, v
    assert offs[("t", 0)]["lag"] == 13 and offs[("t", 1)]["lag"] == 8, v
    m2 = Member(server, "g", ["t"])
    assert m2.assignment == {("t", 0), ("t", 1)}
    got = poll_until(m2, 21)
    keys = [(r["partition"], r["offset"]) for r in got]
    assert len(set(keys)) == len(keys), "duplicates after resume"
    assert sorted(keys) == sorted([(0, i) for i in range(7, 20)] + [(1, i) for i in range(12, 20)])
    for p in (0, 1):
        ps = [r["offset"] for r in got if r["partition"] == p]
        assert ps == sorted(ps), "out of order in partition %d" % p
    for r in got:
        assert r["value"] == {"tag": "p%d" % r["partition"], "i": r["offset"]}
    kind, recs = m2.poll(timeout_ms=300)
    assert kind == "events" and recs == []


def test_lag_equals_latest_minus_committed(server):
    create_topic(server, "t", partitions=3)
    for p, n in ((0, 10), (1, 4), (2, 0)):
        if n:
            produce_to(server, "t", p, n, "x")
    m = Member(server, "g", ["t"])
    expect(m.commit({("t", 0): 6, ("t", 1): 4}), 200)
    v = group_view(server, "g")
    offs = {(o["topic"], o["partition"]): o for o in v["offsets"]}
    latest = {s["partition"]: s["latest_offset"] for s in describe_topic(server, "t")["partition_stats"]}
    for p, c in ((0, 6), (1, 4)):
        o = offs[("t", p)]
        assert o["committed"] == c and o["latest"] == latest[p] and o["lag"] == latest[p] - c, o
    produce_to(server, "t", 1, 5, "y")
    offs = {(o["topic"], o["partition"]): o for o in group_view(server, "g")["offsets"]}
    assert offs[("t", 1)]["latest"] == 9 and offs[("t", 1)]["lag"] == 5
    for o in offs.values():
        if o.get("committed") is not None:
            assert o["lag"] == o["latest"] - o["committed"], o


def test_auto_offset_reset_latest(server):
    create_topic(server, "t")
    produce_to(server, "t", 0, 5, "old")
    m = Member(server, "g", ["t"], auto_offset_reset="latest")
    kind, recs = m.poll()
    assert kind == "events" and recs == []
    produce_to(server, "t", 0, 1, "new")
    got = poll_until(m, 1)
    assert [(r["offset"], r["value"]["tag"]) for r in got] == [(5, "new")]


def test_group_long_poll_wakes(server):
    create_topic(server, "t")
    m = Member(server, "g", ["t"])
    out = {}

    def run():
        t0 = time.monotonic()
        out["res"] = m.poll(timeout_ms=10000)
        out["el"] = time.monotonic() - t0

    th = threading.Thread(target=run, daemon=True)
    th.start()
    time.sleep(0.5)
    produce_to(server, "t", 0, 1, "wake")
    th.join(timeout=15)
    assert not th.is_alive()
    kind, recs = out["res"]
    assert kind == "events" and [r["value"]["tag"] for r in recs] == ["wake"]
    assert out["el"] < 5


def test_group_errors(server):
    create_topic(server, "t")
    expect(server.get("/v1/groups/nope"), 404, "group_not_found")
    r = server.post("/v1/groups/g/members", json={"topics": ["t"], "session_timeout_ms": 50})
    expect(r, 400)
    r = server.post("/v1/groups/g/members", json={"topics": ["t"], "session_timeout_ms": 3600001})
    expect(r, 400)
    r = server.post("/v1/groups/g/members", json={"session_timeout_ms": 1000})
    expect(r, 400)
    r = server.post("/v1/groups/g/members", json={"topics": ["t"], "auto_offset_reset": "middle"})
    expect(r, 400)
    m = Member(server, "g", ["t"])
    expect(server.get("/v1/groups/g/members/nobody/events"), 404, "member_not_found")
    r = server.get("/v1/groups/g/members/%s/events" % m.id, params={"limit": "abc"})
    expect(r, 400, "bad_request")
    r = server.get("/v1/groups")
    expect(r, 200)
    assert "g" in r.json()["groups"]


def test_recreated_topic_partitions_get_assigned(server):
    """A member subscribed to a topic that is deleted and created again gets the new topic's
    partitions (the subscribed topics' partitions are spread over the members)."""
    create_topic(server, "t", partitions=3)
    m = Member(server, "g", ["t"])
    assert m.assignment == {("t", p) for p in range(3)}
    assert server.delete("/v1/topics/t").status_code == 204
    create_topic(server, "t", partitions=2)
    produce_to(server, "t", 1, 1, "new")
    end = time.monotonic() + 10
    got = []
    while not got:
        assert time.monotonic() < end, "member never got the recreated topic's partitions: %s" % (
            group_view(server, "g")["members"],)
        kind, recs = m.poll(timeout_ms=200)
        if kind == "events":
            got = recs
    assert m.assignment == {("t", 0), ("t", 1)}
    assert [(r["partition"], r["offset"], r["value"]["tag"]) for r in got] == [(1, 0, "new")]

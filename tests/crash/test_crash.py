"""kill -9 during writes: a producer without retries streams events with unique ids from several
threads to a server with --fsync always, while the server is killed (SIGKILL) and restarted at
random at least 5 times. Afterwards every acknowledged id must be present exactly once at its
acknowledged partition and offset; offsets are contiguous; nothing unsent or corrupt is served;
unacknowledged ids appear at most once."""

import json
import os
import random
import threading
import time

import pytest
import requests

from sluice_testlib import create_topic, describe_topic, fetch_all, kafka_partition

PARTITIONS = 4
THREADS = 4
KILLS = 6
NDJSON = "application/x-ndjson"


@pytest.mark.parametrize("extra", [[], ["--segment-bytes", "65536"]], ids=["default-segments", "small-segments"])
def test_kill9_loses_no_acknowledged_event(make_server, extra):
    seed = int(os.environ.get("SLUICE_CRASH_SEED") or time.time())
    print("crash test seed", seed, "(rerun with SLUICE_CRASH_SEED=%d)" % seed)
    rnd = random.Random(seed)
    srv = make_server("--fsync", "always", *extra)
    create_topic(srv, "crash", partitions=PARTITIONS, key="/k")
    url = srv.url("/v1/topics/crash/events")

    lock = threading.Lock()
    sent = {}          # id -> the exact JSON text sent
    acked = {}         # id -> (partition, offset)
    unacked = set()    # ids whose request got no 200
    statuses = {}      # non-200 statuses and exception names -> count
    bad = []           # protocol violations seen by producers
    stop = threading.Event()

    def producer(tid):
        prnd = random.Random(seed * 100 + tid)
        sess = requests.Session()       # no retries: requests' default adapter has max_retries=0
        seq = 0
        while not stop.is_set():
            n = prnd.randint(1, 200)
            ids, texts = [], []
            for _ in range(n):
                eid = "t%d-%d" % (tid, seq)
                seq += 1
                text = json.dumps({"id": eid, "k": "key-%d" % prnd.randint(0, 63), "pad": "p" * prnd.randint(0, 120)},
                                  separators=(",", ":"))
                ids.append(eid)
                texts.append(text)
            with lock:
                for eid, text in zip(ids, texts):
                    sent[eid] = text
            body = ("\n".join(texts) + "\n").encode()
            try:
                r = sess.post(url, data=body, headers={"Content-Type": NDJSON}, timeout=10)
            except requests.RequestException as e:
                with lock:
                    unacked.update(ids)
                    statuses[type(e).__name__] = statuses.get(type(e).__name__, 0) + 1
                sess.close()
                sess = requests.Session()
                time.sleep(0.05)
                continue
            with lock:
                if r.status_code == 200:
                    try:
                        offs = r.json()["offsets"]
                    except ValueError:
                        bad.append("200 with a body that is not JSON: %r" % r.text[:200])
                        unacked.update(ids)
                        continue
                    if len(offs) != n:
                        bad.append("200 with %d offsets for %d events" % (len(offs), n))
                        unacked.update(ids)
                        continue
                    for eid, o in zip(ids, offs):
                        acked[eid] = (o["partition"], o["offset"])
                else:
                    unacked.update(ids)
                    statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
                    if 400 <= r.status_code < 500:
                        bad.append("%d: %s" % (r.status_code, r.text[:300]))
            time.sleep(prnd.uniform(0.005, 0.03))

    threads = [threading.Thread(target=producer, args=(i,), daemon=True) for i in range(THREADS)]
    t0 = time.monotonic()
    for th in threads:
        th.start()
    kills = 0
    try:
        for i in range(KILLS):
            # one kill very soon after a restart, the others at random moments
            time.sleep(rnd.uniform(0.05, 0.3) if i == 2 else rnd.uniform(0.8, 4.0))
            srv.kill9()
            kills += 1
            time.sleep(rnd.uniform(0.0, 0.3))
            srv.start()
            assert time.monotonic() - t0 < 50, "crash loop is taking too long"
        time.sleep(1.0)
    finally:
        stop.set()
        for th in threads:
            th.join(timeout=15)
    assert not any(th.is_alive() for th in threads), "producer threads did not stop"
    # one last kill with no writes in flight, then read everything back
    srv.kill9()
    srv.start()
    assert kills >= 5
    if extra:
        segs = sum(s["segments"] for s in describe_topic(srv, "crash")["partition_stats"])
        assert segs > PARTITIONS, "expected segment rolls with --segment-bytes 65536"

    print("sent %d, acked %d, unacked %d, other outcomes %s" % (len(sent), len(acked), len(unacked), statuses))
    assert not bad, bad[:5]
    assert len(acked) > 1000, "too few acknowledged events to mean anything: %d (%s)" % (len(acked), statuses)

    seen = {}                       # id -> (partition, offset)
    stats = {s["partition"]: s for s in describe_topic(srv, "crash")["partition_stats"]}
    for p in range(PARTITIONS):
        recs = fetch_all(srv, "crash", p, limit=10000, deadline=120)
        offsets = [r["offset"] for r in recs]
        assert offsets == list(range(len(recs))), "offsets of partition %d are not contiguous from 0" % p
        assert stats[p]["earliest_offset"] == 0 and stats[p]["latest_offset"] == len(recs), (p, stats[p], len(recs))
        for r in recs:
            eid = r["value"].get("id") if isinstance(r["value"], dict) else None
            assert eid in sent, "served an event that was never sent: %r" % r["_line"][:300]
            assert r["_raw_value"] == sent[eid], "event %s corrupted: %r != %r" % (eid, r["_raw_value"], sent[eid])
            assert eid not in seen, "id %s served twice: at %s and %s" % (eid, seen[eid], (p, r["offset"]))
            seen[eid] = (p, r["offset"])
            k = r["value"]["k"]
            assert r["key"] == k and p == kafka_partition(k.encode(), PARTITIONS), r["_line"][:300]

    lost = [eid for eid in acked if eid not in seen]
    assert not lost, "%d acknowledged events lost, e.g. %s at %s" % (len(lost), lost[:5], [acked[e] for e in lost[:5]])
    moved = [(eid, acked[eid], seen[eid]) for eid in acked if seen[eid] != acked[eid]]
    assert not moved, "%d acknowledged events not at their acknowledged offset, e.g. %s" % (len(moved), moved[:5])
    extra = [eid for eid in seen if eid not in acked]
    assert all(eid in unacked for eid in extra)
    print("present though unacknowledged: %d" % len(extra))

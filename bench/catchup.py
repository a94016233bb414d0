#!/usr/bin/env python3
"""How fast a replica catches up: a 3-node cluster on loopback, one partition with replication
factor 3; node 3 is killed, --mb megabytes of 200-byte events are produced to the other two,
node 3 is restarted and we time until its replica holds everything (GET /v1/cluster shows its
end offset equal to the leader's). The node's log says how many bytes it copied from peers as
segments (snapshot install) and how long that took; the rest came as Raft entries.

usage: bench/catchup.py [--bin build/sluice] [--mb 200]"""
import argparse, json, os, re, shutil, signal, subprocess, sys, tempfile, time, urllib.request

ap = argparse.ArgumentParser()
ap.add_argument("--bin", default=os.path.join(os.path.dirname(__file__), "..", "build", "sluice"))
ap.add_argument("--mb", type=int, default=200)
a = ap.parse_args()

def free_port():
    import socket
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p

tmp = tempfile.mkdtemp(prefix="sluice-catchup.")
ports = {i: (free_port(), free_port()) for i in (1, 2, 3)}
members = ",".join(f"{i}@127.0.0.1:{ports[i][0]}" for i in (1, 2, 3))
procs = {}
def start(i):
    log = open(f"{tmp}/n{i}.log", "a")
    procs[i] = subprocess.Popen([a.bin, "serve", "--node-id", str(i), "--cluster", members, "--listen",
                                 f"127.0.0.1:{ports[i][1]}", "--data-dir", f"{tmp}/d{i}"], stdout=log, stderr=log)
def http(i, path, body=None, ctype="application/json"):
    req = urllib.request.Request(f"http://127.0.0.1:{ports[i][1]}{path}", data=body, headers={"Content-Type": ctype})
    with urllib.request.urlopen(req, timeout=30) as r: return json.loads(r.read() or b"null")
def cluster(i):
    return http(i, "/v1/cluster")
try:
    for i in (1, 2, 3): start(i)
    for _ in range(100):
        try:
            if cluster(1)["metadata"]["leader"]: break
        except Exception: pass
        time.sleep(0.1)
    http(1, "/v1/topics", json.dumps({"name": "c", "partitions": 1, "replication_factor": 3}).encode())
    time.sleep(2)
    procs[3].send_signal(signal.SIGKILL); procs[3].wait()
    ev = json.dumps({"id": "x" * 170, "n": 0}).encode()
    batch = b"\n".join([ev] * 2000)
    total = 0; t0 = time.time()
    while total < a.mb << 20:
        for _ in range(10):
            try: http(1, "/v1/topics/c/events", batch, "application/x-ndjson"); break
            except Exception: time.sleep(0.2)
        total += len(batch)
    t_prod = time.time() - t0
    lead_end = max(p["end_offset"] for i in (1, 2) for p in cluster(i)["partitions"])
    t1 = time.time(); start(3)
    while True:
        try:
            ps = cluster(3)["partitions"]
            if ps and ps[0]["end_offset"] >= lead_end: break
        except Exception: pass
        time.sleep(0.05)
    t_catch = time.time() - t1
    copied = re.findall(r"copied (\d+) bytes from peers in ([0-9.]+) s", open(f"{tmp}/n3.log").read())
    cb = sum(int(b) for b, _ in copied); cs = sum(float(s) for _, s in copied)
    print(f"produced {total/1e6:.0f} MB ({lead_end} events) in {t_prod:.1f} s while node 3 was down")
    print(f"node 3 caught up in {t_catch:.2f} s from restart (process start, Raft election of its groups, copy, replay): "
          f"{total/1e6/t_catch:.0f} MB/s of events")
    print(f"of which segment copy: {cb/1e6:.0f} MB in {cs:.2f} s = {cb/1e6/cs if cs else 0:.0f} MB/s")
finally:
    for p in procs.values():
        if p.poll() is None: p.send_signal(signal.SIGTERM)
    for p in procs.values():
        try: p.wait(timeout=20)
        except Exception: p.kill()
    if not os.environ.get("BENCH_KEEP"): shutil.rmtree(tmp, ignore_errors=True)

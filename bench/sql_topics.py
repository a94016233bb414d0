#!/usr/bin/env python3
"""Nexmark over durable JSON topics: the second mode of the SQL benchmark.

Fills topic `bid` with N Nexmark bids (bench/nexmark/build/nexmark-gen, produced through the
HTTP API with fsync=always), then runs each query of bench/nexmark/queries/ alone as a
materialized view reading the topic from the start, and times it until it has consumed all N
events. A query without aggregation is wrapped as SELECT COUNT(*) FROM (<query>) so that its
every row is computed but the view stays one row (Flink's blackhole sink, in effect).

Prints per query: events/s of wall time, the server's CPU seconds over the run (user+system
from /proc, all threads) and events per CPU-second — the per-core figure.

usage: bench/sql_topics.py [--events N] [--partitions P] [--bin build/sluice]"""

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import requests

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
QDIR = os.path.join(ROOT, "bench", "nexmark", "queries")
GEN = os.path.join(ROOT, "bench", "nexmark", "build", "nexmark-gen")
ORDER = ["q0", "q1", "q2", "q11", "q14", "q15", "q16", "q17", "q21", "q22"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        parts = f.read().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return (int(parts[11]) + int(parts[12])) / tick


def strip_sql(text):
    text = re.sub(r"--[^\n]*", "", text)
    return text.strip().rstrip(";").strip()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=2_000_000, help="event numbers to generate (bids are 46/50 of them)")
    ap.add_argument("--partitions", type=int, default=1)
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "sluice"))
    ap.add_argument("--threads", default="1,2", help="comma-separated --sql-scan-threads values to run")
    args = ap.parse_args()
    if not os.path.exists(GEN):
        subprocess.check_call(["make", "-s", "-C", os.path.join(ROOT, "bench", "nexmark")])
    tmp = tempfile.mkdtemp(prefix="sluice-sqlbench-")
    for threads in [int(t) for t in args.threads.split(",")]:
        run(args, tmp + "/t%d" % threads, threads)
    shutil.rmtree(tmp, ignore_errors=True)


def run(args, tmp, threads):
    os.makedirs(tmp)
    port = free_port()
    url = "http://127.0.0.1:%d" % port
    srv = subprocess.Popen([args.bin, "serve", "--listen", "127.0.0.1:%d" % port, "--data-dir", tmp + "/data",
                            "--sql-scan-threads", str(threads)],
                           stdout=subprocess.DEVNULL, stderr=open(tmp + "/server.log", "w"))
    try:
        for _ in range(100):
            try:
                requests.get(url + "/healthz", timeout=1)
                break
            except Exception:
                time.sleep(0.1)
        s = requests.Session()
        s.post(url + "/v1/topics", json={"name": "bid", "partitions": args.partitions}).raise_for_status()
        gen = subprocess.run([GEN, "--events", str(args.events), "--kind", "bid"], check=True,
                             stdout=subprocess.PIPE).stdout
        lines = gen.split(b"\n")
        lines = [l for l in lines if l]
        n = len(lines)
        t0 = time.time()
        for i in range(0, n, 5000):
            r = s.post(url + "/v1/topics/bid/events", data=b"\n".join(lines[i:i + 5000]) + b"\n",
                       headers={"Content-Type": "application/x-ndjson"})
            r.raise_for_status()
        print("produced %d bids (%.0f MB) in %.1f s" % (n, len(gen) / 1e6, time.time() - t0))
        ddl = strip_sql(open(os.path.join(QDIR, "ddl.sql")).read())
        r = s.post(url + "/v1/sql", json={"sql": ddl})
        r.raise_for_status()
        print("--sql-scan-threads %d" % threads)
        print("%-5s %12s %10s %10s %14s %12s" % ("query", "events", "wall s", "cpu s", "events/cpu-s", "events/s"))
        for q in ORDER:
            path = os.path.join(QDIR, q + ".sql")
            if not os.path.exists(path):
                continue
            sel = strip_sql(open(path).read())
            sel = re.sub(r"(?is)^\s*INSERT\s+INTO\s+\S+\s+", "", sel)
            aggregated = re.search(r"(?i)\bGROUP\s+BY\b", sel) is not None
            body = sel if aggregated else "SELECT COUNT(*) AS n FROM (%s) x" % sel
            name = "bench_" + q
            c0 = cpu_seconds(srv.pid)
            w0 = time.time()
            r = s.post(url + "/v1/sql", json={"sql": "CREATE MATERIALIZED VIEW %s AS %s" % (name, body)})
            if r.status_code != 200:
                print("%-5s failed: %s" % (q, r.text.strip()))
                continue
            while True:
                d = s.post(url + "/v1/sql", json={"sql": "DESCRIBE " + name}).json()
                st = d["results"][0]
                if st.get("status") == "failed":
                    print("%-5s failed: %s" % (q, st.get("error")))
                    break
                if st["stats"]["events_in"] >= n:
                    break
                time.sleep(0.02)
            w = time.time() - w0
            c = cpu_seconds(srv.pid) - c0
            print("%-5s %12d %10.2f %10.2f %14.0f %12.0f" % (q, n, w, c, n / c if c else 0, n / w), flush=True)
            s.post(url + "/v1/sql", json={"sql": "DROP VIEW " + name})
    finally:
        srv.send_signal(signal.SIGTERM)
        try:
            srv.wait(20)
        except subprocess.TimeoutExpired:
            srv.kill()


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Replicated ingest beside single-node ingest and a NATS JetStream cluster, in one run.

    bench/cluster.py [--quick] [--json FILE]

Measures, on this machine (docs/BENCHMARKS.md, "Cluster" has the method; run order 1, 2, 4, 3):
  1. sluice, one node, --fsync always: batched durable ingest (1,000 x 200-byte events per request,
     16 clients), then the same load open-loop at half of that peak, then one client sending one
     event per request (sequential acknowledgement latency).
  2. sluice, 3 nodes on loopback, topic with replication_factor 3: the same three shapes with the
     connections spread over the three nodes' HTTP ports (half load = half of the cluster's peak).
  3. NATS 2.9.10 JetStream, 3 servers, stream with replicas 3 and file storage: async publish
     throughput, then sync publish latency.
  4. failover: the 3-node cluster under steady load; kill -9 the leader of a partition, time from
     the kill to the next acknowledged write to that partition, restart, wait for catch-up; N times.
Then one table with every figure, the ratios and each server's peak RSS (VmHWM).

Every server gets free ports and its own temp data dir and is stopped by PID at the end, also on
failure. Knobs (environment): BENCH_SECONDS (10; --quick 4), BENCH_WARMUP (2; --quick 1),
BENCH_PARTITIONS (4), BENCH_CLIENTS (16), BENCH_BATCH (1000), BENCH_FAILOVERS (20; --quick 5),
BENCH_FAILOVER_LOAD (0.25: steady load during failovers, fraction of the cluster's batched peak),
BENCH_FAILOVER_TIMEOUT_S (30), BENCH_PROBE_INTERVAL_MS (5: a new probe write every 5 ms),
BENCH_PROBE_TIMEOUT_S (2.0: client timeout of one probe write),
BENCH_NATS_COUNT (async messages; 50,000 x BENCH_SECONDS; --quick 20,000 x), BENCH_NATS_SYNC
(20,000; --quick 5,000), BENCH_TMP (/tmp), BENCH_KEEP=1 (keep logs and data), SLUICE_BIN (default
build/sluice, or $BUILD/sluice), BENCH_SKIP (comma list of single,cluster,nats,failover), BENCH_STRACE=0
(skip the short passes under `strace -f -c` that count fsync-family calls per acknowledged write).
"""

import argparse
import asyncio
import atexit
import hashlib
import http.client
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

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SERVERS = []  # every Popen started; stopped by PID at exit


def env_num(name, default, cast=float):
    v = os.environ.get(name)
    return cast(v) if v not in (None, "") else default


def log(*a):
    print(*a, flush=True)


# ---- processes ---------------------------------------------------------------------------------

def stop_proc(p, sig=signal.SIGTERM, wait_s=10.0):
    """TERM (or sig), wait up to wait_s, then KILL; by PID only."""
    if p.poll() is not None:
        return
    try:
        os.kill(p.pid, sig)
    except ProcessLookupError:
        return
    try:
        p.wait(wait_s)
    except subprocess.TimeoutExpired:
        try:
            os.kill(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        p.wait()


def stop_all():
    for p in reversed(SERVERS):
        stop_proc(p)


def start_server(argv, logpath, env=None):
    f = open(logpath, "ab")
    p = subprocess.Popen(argv, stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
    f.close()
    SERVERS.append(p)
    return p


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def free_ports(n):
    """n distinct ports that were free a moment ago (held open together so they differ)."""
    socks, ports = [], []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


def wait_port(port, seconds=10.0, proc=None):
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return True
        except OSError:
            time.sleep(0.02)
    return False


def kib(pid, key):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


# ---- HTTP ----------------------------------------------------------------------------------------

def req(port, method, path, body=None, headers=None, timeout=5.0):
    """(status, parsed JSON or text); raises OSError on connection problems."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        data = body if body is None or isinstance(body, bytes) else json.dumps(body).encode()
        h = {"Content-Type": "application/json"}
        h.update(headers or {})
        c.request(method, path, body=data, headers=h)
        r = c.getresponse()
        raw = r.read()
        try:
            return r.status, json.loads(raw)
        except ValueError:
            return r.status, raw.decode(errors="replace")
    finally:
        c.close()


# ---- load generators -----------------------------------------------------------------------------

def parse_result(out):
    for line in out.splitlines():
        if line.startswith("RESULT "):
            return {k: v for k, v in (kv.split("=", 1) for kv in line.split()[1:] if "=" in kv)}
    return None


def run_lg(lg, args, what, timeout=None):
    log(f"  $ {os.path.basename(lg)} {' '.join(args)}")
    p = subprocess.run([lg] + args, capture_output=True, text=True, timeout=timeout)
    res = parse_result(p.stdout)
    for line in p.stderr.strip().splitlines()[-8:]:
        log(f"    {line[:600]}")
    if p.returncode != 0 or res is None:
        raise RuntimeError(f"loadgen {what} failed (rc {p.returncode}): {p.stderr.strip()[-500:]}")
    log("    RESULT " + " ".join(f"{k}={res[k]}" for k in ("events_per_s", "p50_ms", "p99_ms", "errors") if k in res))
    return res


# ---- durability evidence: fsync-family syscalls per acknowledged write, under strace ---------------

SYNC_CALLS = "fsync,fdatasync,sync_file_range,syncfs,msync"


def strace_pass(pids, fn):
    """Runs fn() with `strace -f -c` attached to every pid; returns (fn's result, {pid: sync calls})."""
    if not shutil.which("strace") or os.environ.get("BENCH_STRACE", "1") == "0":
        return fn(), None
    tmpd = tempfile.mkdtemp(prefix="strace.")
    sts = []
    for pid in pids:
        sts.append(subprocess.Popen(["strace", "-f", "-c", "-e", "trace=" + SYNC_CALLS, "-o",
                                     os.path.join(tmpd, str(pid)), "-p", str(pid)],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        SERVERS.append(sts[-1])
    time.sleep(1.0)  # strace attaches to every thread
    try:
        res = fn()
    finally:
        time.sleep(0.3)
        for st in sts:
            stop_proc(st, signal.SIGINT)
    counts = {}
    for pid in pids:
        n = 0
        try:
            for line in open(os.path.join(tmpd, str(pid))):
                f = line.split()
                if len(f) >= 5 and f[-1] in SYNC_CALLS.split(",") and f[3].isdigit():
                    n += int(f[3])
        except OSError:
            n = -1
        counts[pid] = n
    shutil.rmtree(tmpd, ignore_errors=True)
    return res, counts


def strace_note(R, label, counts, acks):
    if counts is None:
        return
    per = ", ".join(f"{c / acks:.2f}" if acks else "n/a" for c in counts.values())
    line = f"{label}: {acks} acknowledged writes; fsync-family calls per ack on each server: {per}"
    log("    strace: " + line)
    R.setdefault("strace", []).append(line)


# ---- sluice ----------------------------------------------------------------------------------------

class Sluice:
    """One sluice process (single node, or one node of a cluster), restartable with the same args."""

    def __init__(self, binary, d, name, node_id=None, cluster=None, http_port=None):
        self.binary, self.dir, self.name = binary, d, name
        self.node_id, self.cluster, self.http_port = node_id, cluster, http_port
        self.proc = None
        self.starts = 0
        os.makedirs(d, exist_ok=True)

    def argv(self):
        a = [self.binary, "serve", "--data-dir", os.path.join(self.dir, "data"), "--fsync", "always",
             "--listen", f"127.0.0.1:{self.http_port or 0}"]
        if self.node_id is not None:
            a += ["--node-id", str(self.node_id), "--cluster", self.cluster]
        return a

    def start(self, wait=True):
        self.starts += 1
        logpath = os.path.join(self.dir, "log")
        with open(logpath, "a") as f:
            f.write(f"=== start {self.starts}: {' '.join(self.argv())}\n")
        self.proc = start_server(self.argv(), logpath)
        if not wait:
            return
        if self.http_port:
            if not wait_port(self.http_port, 20, self.proc):
                raise RuntimeError(f"{self.name} did not start:\n{self.log_tail()}")
            return
        until = time.monotonic() + 20
        while time.monotonic() < until:
            m = re.search(r"listening on http://127\.0\.0\.1:(\d+)", open(logpath).read())
            if m:
                self.http_port = int(m.group(1))
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError(f"{self.name} did not start:\n{self.log_tail()}")

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, n=20):
        try:
            return "".join(open(os.path.join(self.dir, "log"), errors="replace").readlines()[-n:])
        except OSError:
            return ""

    def stop(self):
        if self.proc is not None:
            stop_proc(self.proc)

    def hwm_kib(self):
        return kib(self.proc.pid, "VmHWM") if self.alive() else 0


def create_topic(port, parts, rf=None, seconds=30):
    body = {"name": "bench", "partitions": parts, "key": "/key"}
    if rf:
        body["replication_factor"] = rf
    until = time.monotonic() + seconds
    last = None
    while time.monotonic() < until:
        try:
            st, b = req(port, "POST", "/v1/topics", body, timeout=10)
            if st in (200, 201):
                return b
            last = (st, b)
            if st not in (503, 504):
                break
        except OSError as e:
            last = e
        time.sleep(0.2)
    raise RuntimeError(f"topic creation failed: {last}")


def cluster_view(port, timeout=2.0):
    try:
        st, b = req(port, "GET", "/v1/cluster", timeout=timeout)
        return b if st == 200 and isinstance(b, dict) else None
    except (OSError, http.client.HTTPException):
        return None


def partition_leaders(nodes, topic="bench"):
    """{partition: (leader id, term)} from the nodes' own claims (a node that says it leads), the
    highest term winning; falls back to any node's view."""
    claims, seen = {}, {}
    for n in nodes:
        if not n.alive():
            continue
        v = cluster_view(n.http_port)
        if not v:
            continue
        for p in v.get("partitions") or []:
            if p.get("topic") != topic or p.get("leader") is None:
                continue
            key, val = p["partition"], (p["leader"], p.get("term", 0))
            if p["leader"] == v.get("node_id"):
                if key not in claims or val[1] > claims[key][1]:
                    claims[key] = val
            elif key not in seen or val[1] > seen[key][1]:
                seen[key] = val
    out = dict(seen)
    out.update(claims)
    return out


def wait_cluster_ready(nodes, parts, seconds=60):
    """Every partition has a leader that claims it, and that leader is alive."""
    until = time.monotonic() + seconds
    alive_ids = {n.node_id for n in nodes if n.alive()}
    while time.monotonic() < until:
        lead = partition_leaders(nodes)
        if len(lead) >= parts and all(lead.get(p, (None,))[0] in alive_ids for p in range(parts)):
            return lead
        time.sleep(0.05)
    raise RuntimeError(f"cluster not ready after {seconds}s: leaders {partition_leaders(nodes)}")


# ---- failover probe ------------------------------------------------------------------------------

EVENT_PAD = "x" * 154  # {"key":"k00000000","id":100000000000,"pad":"..."} = 200 bytes, as loadgen


async def _attempt(port, body, timeout):
    """One write on a fresh connection: (HTTP status or None, error kind or error code)."""
    head = ("POST /v1/topics/bench/events HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            "Content-Type: application/vnd.kafka.json.v2+json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()
    w = None
    try:
        r, w = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), timeout)
        w.write(head + body)
        raw = await asyncio.wait_for(r.read(), timeout)
        m = re.match(rb"HTTP/1\.\d (\d+)", raw)
        if not m:
            return None, "no response"
        st = int(m.group(1))
        code = re.search(rb'"code":"([a-z_]+)"', raw)
        return st, (code.group(1).decode() if code else "")
    except asyncio.TimeoutError:
        return None, "timeout"
    except OSError as e:
        return None, type(e).__name__
    finally:
        if w is not None:
            w.close()


async def _probe_kill(ports, partition, kill, interval, attempt_timeout, fail_timeout):
    """Open-loop probe of one partition: a new single-event write every `interval` s, each on a fresh
    connection to the next node in turn (the client retrying through the other nodes), and kill()
    once writes are acknowledged. Returns (seconds from the kill to the first acknowledged write whose
    attempt started after the kill, or None; port that acknowledged it; {error kind: count})."""
    loop = asyncio.get_running_loop()
    acks, errs, tasks = [], {}, set()
    seq = [0]

    async def one(port):
        t0 = loop.time()
        seq[0] += 1
        ev = '{"key":"k%08d","id":%d,"pad":"%s"}' % (seq[0] % 100000000, 100000000000 + seq[0], EVENT_PAD)
        body = ('{"records":[{"value":%s,"partition":%d}]}' % (ev, partition)).encode()
        st, why = await _attempt(port, body, attempt_timeout)
        if st == 200:
            acks.append((t0, loop.time(), port))
        else:
            k = f"{st} {why}".strip() if st else why
            errs[k] = errs.get(k, 0) + 1

    i = 0
    t_kill = None
    t_start = loop.time()
    while True:
        now = loop.time()
        if t_kill is None and len(acks) >= 10 and now - t_start > 0.3:
            kill()
            t_kill = loop.time()
            errs = {}
        if t_kill is None and now - t_start > 10:
            raise RuntimeError(f"probe of partition {partition} not acknowledged before the kill: {errs}")
        if t_kill is not None:
            after = [a for a in acks if a[0] >= t_kill]
            if after:
                first = min(after, key=lambda a: a[1])
                break
            if now - t_kill > fail_timeout:
                first = None
                break
        t = asyncio.ensure_future(one(ports[i % len(ports)]))
        tasks.add(t)
        t.add_done_callback(tasks.discard)
        i += 1
        await asyncio.sleep(interval)
    for t in list(tasks):
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    if first is None:
        return None, None, errs
    return first[1] - t_kill, first[2], errs


# ---- the run -------------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    ap.add_argument("--quick", action="store_true", help="short shapes and 5 failovers (~2 minutes)")
    ap.add_argument("--json", help="also write every figure to this file")
    args = ap.parse_args()
    q = args.quick
    secs = env_num("BENCH_SECONDS", 4 if q else 10)
    warm = env_num("BENCH_WARMUP", 1 if q else 2)
    parts = env_num("BENCH_PARTITIONS", 4, int)
    clients = env_num("BENCH_CLIENTS", 16, int)
    batch = env_num("BENCH_BATCH", 1000, int)
    n_fail = env_num("BENCH_FAILOVERS", 5 if q else 20, int)
    fail_load = env_num("BENCH_FAILOVER_LOAD", 0.25)
    fail_timeout = env_num("BENCH_FAILOVER_TIMEOUT_S", 30.0)
    probe_timeout = env_num("BENCH_PROBE_TIMEOUT_S", 2.0)
    probe_interval = env_num("BENCH_PROBE_INTERVAL_MS", 5.0) / 1000
    nats_count = env_num("BENCH_NATS_COUNT", int((20000 if q else 50000) * secs), int)
    nats_sync = env_num("BENCH_NATS_SYNC", 5000 if q else 20000, int)
    skip = set(filter(None, os.environ.get("BENCH_SKIP", "").split(",")))
    build = os.path.join(ROOT, os.environ.get("BUILD", "build"))  # as bench/run.sh: relative to the repo
    src_bin = os.environ.get("SLUICE_BIN", os.path.join(build, "sluice"))
    if not os.access(src_bin, os.X_OK):
        sys.exit(f"bench/cluster.py: {src_bin} missing; run 'make build' first (or set SLUICE_BIN)")

    tmp = tempfile.mkdtemp(prefix="sluice-cluster-bench.", dir=os.environ.get("BENCH_TMP", "/tmp"))
    ok = False

    def cleanup():
        stop_all()
        if os.environ.get("BENCH_KEEP") == "1" or not ok:
            print(f"bench/cluster.py: logs and data kept in {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    atexit.register(cleanup)
    for s in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, lambda *_: sys.exit(130))

    # one binary for the whole run, even if build/ is rebuilt meanwhile
    sluice = os.path.join(tmp, "sluice")
    shutil.copy2(src_bin, sluice)
    lg1 = os.path.join(tmp, "loadgen")          # bench/loadgen, as bench/run.sh builds it
    lgc = lg1                                   # the same program: --ports spreads over the nodes
    subprocess.run(["make", "-s", "-C", os.path.join(ROOT, "bench/loadgen"), f"OUT={lg1}"], check=True)
    helptext = subprocess.run([sluice, "serve", "--help"], capture_output=True, text=True).stdout + \
        subprocess.run([sluice, "serve", "--help"], capture_output=True, text=True).stderr
    has_cluster = "--node-id" in helptext
    rev = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True).stdout.strip()
    rev = (rev or "unknown") + ("+dirty" if dirty else "")
    with open(sluice, "rb") as f:  # the binary may predate HEAD (SLUICE_BIN): name it by content too
        rev += f", binary {hashlib.sha256(f.read()).hexdigest()[:12]} built {time.strftime('%H:%MZ', time.gmtime(os.path.getmtime(src_bin)))}"
    started = time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime())
    log(f"cluster bench: commit {rev}, {os.cpu_count()} cpus, {secs:g}s per shape after {warm:g}s warm-up, "
        f"{parts} partitions, {clients} clients x {batch} events, temp {tmp}")
    if not has_cluster:
        log("  NOTE: this sluice has no cluster mode (`serve --help` lacks --node-id): cluster and failover skipped")

    R = {"meta": {"loadavg_start": loadavg(), "commit": rev, "started": started, "seconds": secs, "warmup": warm, "partitions": parts,
                  "clients": clients, "batch": batch, "quick": q,
                  "probe_interval_ms": probe_interval * 1000}}
    rows = []  # (system, shape, result dict, rss text, note)
    rss = []   # (server, KiB)

    probe = subprocess.run([lg1 + "-fsync-probe", tmp, "2000"], capture_output=True, text=True).stdout
    probe = " ".join(l for l in probe.splitlines() if l.startswith("RESULT"))
    log(f"disk: {probe}")
    R["fsync_probe"] = probe

    batch_args = ["--clients", str(clients), "--batch", str(batch), "--seconds", str(secs), "--warmup", str(warm)]

    failures = R["failures"] = []
    st = {"nodes": [], "others": [], "cl_peak": None, "fo": None}

    def phase(name, fn):
        """Runs one part; a failure is reported (with every node's exit status) and the run goes on."""
        try:
            fn()
        except (RuntimeError, OSError, subprocess.SubprocessError, KeyError, ValueError) as e:
            time.sleep(0.5)  # a server that just died: let it become reapable
            dead = [f"{n.name} exit status {n.proc.returncode}" for n in st["nodes"] + st["others"]
                    if n.proc is not None and n.proc.poll() is not None]
            msg = f"{name}: {e}" + (f" [{'; '.join(dead)}]" if dead else "")
            log(f"  PART FAILED: {msg}")
            failures.append(msg)

    try:
        # ---- 1. single node ------------------------------------------------------------------
        def ph_single():
            log("== sluice single node (--fsync always)")
            s1 = Sluice(sluice, os.path.join(tmp, "single"), "single")
            st["others"].append(s1)
            s1.start()
            create_topic(s1.http_port, parts)
            time.sleep(0.5)
            r = run_lg(lg1, ["sluice-batch", "--port", str(s1.http_port)] + batch_args, "single batched")
            rows.append(("sluice-1", "batched", r, ""))
            half = float(r["events_per_s"]) / 2
            r = run_lg(lg1, ["sluice-rate", "--port", str(s1.http_port), "--rate", f"{half / batch:.3f}"] + batch_args,
                       "single half")
            rows.append(("sluice-1", "batched@half", r, ""))
            r = run_lg(lg1, ["sluice-single", "--port", str(s1.http_port), "--clients", "1", "--threads", "1",
                             "--seconds", str(secs), "--warmup", str(warm)], "single sync")
            rows.append(("sluice-1", "sync-1client", r, ""))
            r, cnt = strace_pass([s1.proc.pid], lambda: run_lg(lg1, [
                "sluice-single", "--port", str(s1.http_port), "--clients", "1", "--threads", "1",
                "--seconds", "2", "--warmup", "0"], "single sync under strace"))
            strace_note(R, "sluice single, 1-client sync", cnt, int(r["events"]))
            rss.append(("sluice single node", s1.hwm_kib()))
            if not s1.alive():
                raise RuntimeError(f"sluice single died (exit status {s1.proc.returncode}):\n" + s1.log_tail())
            s1.stop()

        if "single" not in skip:
            phase("single node", ph_single)

        # ---- 2. 3-node cluster -----------------------------------------------------------------
        def ph_cluster():
            log("== sluice 3-node cluster, replication_factor 3")
            iports, hports = free_ports(3), None
            hports = free_ports(6)[3:]
            spec = ",".join(f"{i + 1}@127.0.0.1:{p}" for i, p in enumerate(iports))
            nodes = st["nodes"] = [Sluice(sluice, os.path.join(tmp, f"node{i + 1}"), f"node{i + 1}", i + 1, spec,
                                          hports[i]) for i in range(3)]
            for n in nodes:
                n.start(wait=False)
            for n in nodes:
                if not wait_port(n.http_port, 20, n.proc):
                    raise RuntimeError(f"{n.name} did not start (exit status {n.proc.poll()}):\n{n.log_tail()}")
            t0 = time.monotonic()
            until = t0 + 30
            while time.monotonic() < until:
                v = cluster_view(hports[0])
                if v and (v.get("metadata") or {}).get("leader") is not None:
                    break
                time.sleep(0.05)
            else:
                raise RuntimeError(f"no metadata leader after 30 s: {cluster_view(hports[0])}")
            log(f"  metadata leader after {time.monotonic() - t0:.2f}s: node {v['metadata']['leader']}")
            create_topic(hports[0], parts, rf=3)
            lead = wait_cluster_ready(nodes, parts)
            log(f"  partition leaders: {dict(sorted((p, l[0]) for p, l in lead.items()))} "
                f"({time.monotonic() - t0:.2f}s after start)")
            ports_arg = ",".join(map(str, hports))
            r = run_lg(lgc, ["sluice-batch", "--ports", ports_arg] + batch_args, "cluster batched")
            rows.append(("sluice-R3", "batched", r, ""))
            cl_peak = st["cl_peak"] = float(r["events_per_s"])
            half = cl_peak / 2
            r = run_lg(lgc, ["sluice-rate", "--ports", ports_arg, "--rate", f"{half / batch:.3f}"] + batch_args,
                       "cluster half")
            rows.append(("sluice-R3", "batched@half", r, ""))
            r = run_lg(lgc, ["sluice-single", "--ports", str(hports[0]), "--clients", "1", "--threads", "1",
                             "--seconds", str(secs), "--warmup", str(warm)], "cluster sync")
            rows.append(("sluice-R3", "sync-1client", r, ""))
            r, cnt = strace_pass([n.proc.pid for n in nodes], lambda: run_lg(lgc, [
                "sluice-single", "--ports", str(hports[0]), "--clients", "1", "--threads", "1",
                "--seconds", "2", "--warmup", "0"], "cluster sync under strace"))
            strace_note(R, "sluice R3, 1-client sync", cnt, int(r["events"]))
            for n in nodes:
                if not n.alive():
                    raise RuntimeError(f"{n.name} died (exit status {n.proc.returncode}):\n{n.log_tail()}")
                rss.append((f"sluice cluster {n.name}", n.hwm_kib()))
            R["cluster_view_after_load"] = cluster_view(hports[0])

        if has_cluster and "cluster" not in skip:
            phase("3-node cluster", ph_cluster)

        # ---- 4. failover (on the same cluster) ---------------------------------------------------
        def ph_failover():
            nodes = st["nodes"]
            for n in nodes:
                if not n.alive():
                    n.start()
            fo = st["fo"] = failover(nodes, parts, lgc, batch, clients, st["cl_peak"] * fail_load, n_fail,
                                     fail_timeout, probe_timeout, probe_interval, R)
            rows.append(("sluice-R3", "steady@failover", fo["load"], ""))
            for n in nodes:
                rss.append((f"sluice cluster {n.name} (after failovers, since its last start)", n.hwm_kib()))
            if fo["aborted"]:
                failures.append("failover: " + fo["aborted"].splitlines()[0])

        if st["nodes"] and st["cl_peak"] and "failover" not in skip:
            phase("failover", ph_failover)
        for n in st["nodes"]:
            n.stop()

        # ---- 3. NATS JetStream cluster -----------------------------------------------------------
        def ph_nats():
            log("== NATS JetStream 3-server cluster, stream replicas=3, file storage")
            nats = start_nats(tmp)
            urls = ",".join(f"nats://127.0.0.1:{p}" for p in nats["client_ports"])
            r = run_lg(lgc, ["nats-async", "--urls", urls, "--replicas", "3", "--count", str(nats_count)],
                       "nats async", timeout=600)
            rows.append(("nats-R3", "async", r, ""))
            r = run_lg(lgc, ["nats-sync", "--urls", urls, "--replicas", "3", "--count", str(nats_sync)],
                       "nats sync", timeout=600)
            rows.append(("nats-R3", "sync-1client", r, ""))
            r, cnt = strace_pass([p.pid for p in nats["procs"]], lambda: run_lg(lgc, [
                "nats-sync", "--urls", urls, "--replicas", "3", "--count", "1000"], "nats sync under strace"))
            strace_note(R, "NATS R3, sync publish", cnt, int(r["events"]))
            for i, p in enumerate(nats["procs"]):
                if p.poll() is not None:
                    raise RuntimeError(f"nats-server {i + 1} died")
                rss.append((f"nats-server n{i + 1}", kib(p.pid, "VmHWM")))
            for p in nats["procs"]:
                stop_proc(p)
            churn = {}
            for i in range(3):
                for line in open(os.path.join(tmp, f"nats{i + 1}", "log"), errors="replace"):
                    for k in ("new stream leader", "no metadata leader", "new metadata leader"):
                        if k in line:
                            churn[k] = churn.get(k, 0) + 1
            R["nats_log_events"] = churn
            log(f"  NATS leadership events in the servers' logs (all three, whole run): {churn}")

        if "nats" not in skip:
            phase("NATS cluster", ph_nats)

        report(R, rows, rss, st["fo"], fail_load, has_cluster)
        if args.json:
            with open(args.json, "w") as f:
                json.dump(R, f, indent=1)
        ok = not failures
    finally:
        stop_all()
    if failures:
        sys.exit(1)


def failover(nodes, parts, lgc, batch, clients, load_eps, n_fail, fail_timeout, probe_timeout, probe_interval, R):
    log(f"== failover x{n_fail}: steady load {load_eps:.0f} events/s open loop over the 3 nodes, "
        f"kill -9 a partition leader, time to the next acknowledged write to that partition")
    hports = [n.http_port for n in nodes]
    by_id = {n.node_id: n for n in nodes}
    load_log = open(os.path.join(os.path.dirname(nodes[0].dir), "failover-load.log"), "w")
    load = subprocess.Popen([lgc, "sluice-rate", "--ports", ",".join(map(str, hports)), "--tolerant", "1",
                             "--clients", str(clients), "--batch", str(batch), "--rate", f"{load_eps / batch:.3f}",
                             "--seconds", "100000", "--warmup", "0"],
                            stdout=subprocess.PIPE, stderr=load_log, text=True)
    SERVERS.append(load)
    times, catchups, attempts = [], [], []
    aborted = None

    def one(it):
        p = it % parts
        lead = wait_cluster_ready(nodes, parts)
        victim = by_id[lead[p][0]]
        a = {"partition": p, "killed": victim.node_id}
        attempts.append(a)
        dt, via, errs = asyncio.run(_probe_kill(
            hports, p, lambda: os.kill(victim.proc.pid, signal.SIGKILL), probe_interval, probe_timeout, fail_timeout))
        victim.proc.wait()
        a["new_leader"] = partition_leaders(nodes).get(p, (None,))[0]
        a["probe_errors"] = errs
        a["via"] = next((n.node_id for n in nodes if n.http_port == via), None)
        a["failover_s"] = dt if dt is not None else float("inf")
        times.append(a["failover_s"])
        if dt is None:
            log(f"  #{it + 1:2d} partition {p}: leader node {victim.node_id} killed; NO acknowledged write "
                f"within {fail_timeout:g}s; probe errors {errs}")
        t_r = time.monotonic()
        victim.start()
        a["restart_s"] = time.monotonic() - t_r
        a["catchup_s"] = wait_caught_up(nodes, victim, parts, 120)
        catchups.append(a["restart_s"] + a["catchup_s"])
        log(f"  #{it + 1:2d} partition {p}: killed leader node {victim.node_id}; next ack after "
            f"{a['failover_s'] * 1000:.0f} ms (via node {a['via']}; new leader node {a['new_leader']}); "
            f"restarted in {a['restart_s']:.2f}s, caught up {a['catchup_s']:.2f}s later; probe errors after "
            f"the kill {errs}")

    try:
        time.sleep(1.0)
        for it in range(n_fail):
            try:
                one(it)
            except RuntimeError as e:
                aborted = f"failover {it + 1}: {e}"
                log(f"  FAILOVER PHASE ENDED EARLY: {aborted}")
                break
    finally:
        load.send_signal(signal.SIGTERM)
        try:
            out, _ = load.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            stop_proc(load, signal.SIGKILL)
            out = ""
        load_log.close()
    res = parse_result(out) or {}
    log(f"  steady load during the failovers: {res}")
    R["failover"] = {"attempts": attempts, "load": res, "load_events_per_s_target": load_eps, "aborted": aborted}
    return {"times": times, "catchups": catchups, "load": res, "aborted": aborted, "planned": n_fail}


def wait_caught_up(nodes, victim, parts, seconds):
    """Seconds from now until, for every partition, the leader reports victim's lag <= 1 at least once
    (every partition has a leader by then). Under steady load the lag is rarely 0 on all at once."""
    t0 = time.monotonic()
    done = set()
    until = t0 + seconds
    vid = str(victim.node_id)
    while time.monotonic() < until:
        if not victim.alive():
            raise RuntimeError(f"node {victim.node_id} exited (status {victim.proc.returncode}) after its restart; "
                               f"log tail:\n{victim.log_tail(12)}")
        for n in nodes:
            if not n.alive():
                continue
            v = cluster_view(n.http_port)
            if not v:
                continue
            for p in v.get("partitions") or []:
                if p.get("topic") != "bench" or p.get("leader") != v.get("node_id"):
                    continue
                lag = (p.get("lag") or {}).get(vid)
                if p.get("leader") == victim.node_id or (lag is not None and lag <= 1):
                    done.add(p["partition"])
        if len(done) >= parts:
            return time.monotonic() - t0
        time.sleep(0.02)
    raise RuntimeError(f"node {victim.node_id} did not catch up in {seconds}s (done: {sorted(done)})")


def start_nats(tmp):
    cports, rports = free_ports(3), None
    rports = free_ports(6)[3:]
    procs = []
    for i in range(3):
        d = os.path.join(tmp, f"nats{i + 1}")
        os.makedirs(d)
        routes = ", ".join(f"nats-route://127.0.0.1:{p}" for j, p in enumerate(rports) if j != i)
        conf = os.path.join(d, "nats.conf")
        with open(conf, "w") as f:
            f.write(f"""server_name: n{i + 1}
listen: 127.0.0.1:{cports[i]}
jetstream {{ store_dir: "{d}/js" }}
cluster {{
  name: bench
  listen: 127.0.0.1:{rports[i]}
  routes: [ {routes} ]
}}
""")
        procs.append(start_server(["nats-server", "-c", conf], os.path.join(d, "log")))
    for i, p in enumerate(procs):
        if not wait_port(cports[i], 10, p):
            raise RuntimeError(f"nats-server {i + 1} did not start: " +
                               open(os.path.join(tmp, f"nats{i + 1}", "log")).read()[-1000:])
    return {"procs": procs, "client_ports": cports, "route_ports": rports}


# ---- the table -----------------------------------------------------------------------------------

def pct(xs, q):
    xs = sorted(xs)
    if not xs:
        return float("nan")
    i = min(len(xs) - 1, int(q * len(xs)))
    return xs[i]


def loadavg():
    try:
        return " ".join(open("/proc/loadavg").read().split()[:3])
    except OSError:
        return "?"


def report(R, rows, rss, fo, fail_load, has_cluster):
    m = R["meta"]
    m["loadavg_end"] = loadavg()
    log("")
    log(f"Results ({m['started']}, commit {m['commit']}, {os.cpu_count()} cpus; {m['seconds']:g}s per shape after "
        f"{m['warmup']:g}s warm-up; {m['partitions']} partitions; batched = {m['clients']} clients x {m['batch']} "
        f"events of 200 B per request)")
    log(f"  disk floor, same run: {R.get('fsync_probe', '')}")
    log(f"  load average (1/5/15 min) at the start: {m['loadavg_start']}, at the end: {m['loadavg_end']} "
        f"(other work on the machine shows here)")
    hdr = f"{'system':<10} {'shape':<16} {'events/s':>10} {'MB/s':>7} {'p50 ms':>9} {'p99 ms':>9} {'max ms':>9} {'errors':>7}"
    log(hdr)
    log("-" * len(hdr))
    get = {}
    for sysn, shape, r, _ in rows:
        get[(sysn, shape)] = r
        p50, p99, mx = r.get("p50_ms", "-"), r.get("p99_ms", "-"), r.get("max_ms", "-")
        if p50 == "-1.000":
            p50 = p99 = mx = "-"
        log(f"{sysn:<10} {shape:<16} {r.get('events_per_s', '-'):>10} {r.get('mb_per_s', '-'):>7} {p50:>9} {p99:>9} "
            f"{mx:>9} {r.get('errors', '-'):>7}")
    if fo:
        def ms(xs, q):
            return f"{pct(xs, q) * 1000:.1f}" if xs else "-"
        t, c = fo["times"], fo["catchups"]
        fin = [x for x in t if x != float("inf")]
        log(f"{'sluice-R3':<10} {'failover':<16} {'n=' + str(len(t)):>10} {'':>7} {ms(t, .5):>9} "
            f"{ms(t, .99):>9} {ms(t, 1):>9} {len(t) - len(fin):>7}")
        log(f"{'sluice-R3':<10} {'restart+catchup':<16} {'n=' + str(len(c)):>10} {'':>7} {ms(c, .5):>9} "
            f"{ms(c, .99):>9} {ms(c, 1):>9} {'':>7}")
        if fo["aborted"]:
            log(f"  FAILOVER PHASE ENDED EARLY after {len(c)} of {fo['planned']} complete kill/restart cycles: "
                f"{fo['aborted'].splitlines()[0]}")
    log("  batched/@half latencies: per request of the batch; sync-1client: one client, one 200-byte event per request,")
    log("  sequential (NATS: js_Publish); nats async: js_PublishAsync, MaxPending 4096, no per-message latency;")
    if fo:
        log(f"  failover: kill -9 of a partition leader -> first acknowledged write to that partition among writes sent")
        log(f"  after the kill (open loop: a 1-event write every {R['meta']['probe_interval_ms']:g} ms, each on a new "
            f"connection to the next node in turn); errors column = no ack within the timeout;")
        log(f"  steady load {fail_load:g} x the cluster's batched peak; restart+catchup: from the restart of the killed node")
        log(f"  until every partition's leader reports its lag <= 1 (p50/p99/max)")
    log("")
    log("Peak RSS (VmHWM)")
    for name, k in rss:
        log(f"  {name:<62} {k / 1024:7.1f} MiB")
    R["rss_kib"] = rss
    R["rows"] = [{"system": a, "shape": b, **r} for a, b, r, _ in rows]

    def f(sysn, shape, key):
        r = get.get((sysn, shape))
        try:
            v = float(r[key])
            return v if v >= 0 else None
        except (TypeError, KeyError, ValueError):
            return None

    def ratio(a, b):
        return f"{a / b:.2f}" if a is not None and b else "n/a"

    log("")
    log("Ratios")
    lines = [
        ("cluster/single  batched events/s", f("sluice-R3", "batched", "events_per_s"), f("sluice-1", "batched", "events_per_s")),
        ("cluster/single  batched p50", f("sluice-R3", "batched", "p50_ms"), f("sluice-1", "batched", "p50_ms")),
        ("cluster/single  batched p99", f("sluice-R3", "batched", "p99_ms"), f("sluice-1", "batched", "p99_ms")),
        ("cluster/single  p99 at half of own peak", f("sluice-R3", "batched@half", "p99_ms"), f("sluice-1", "batched@half", "p99_ms")),
        ("cluster/single  1-client sync p50", f("sluice-R3", "sync-1client", "p50_ms"), f("sluice-1", "sync-1client", "p50_ms")),
        ("cluster/single  1-client sync p99", f("sluice-R3", "sync-1client", "p99_ms"), f("sluice-1", "sync-1client", "p99_ms")),
        ("sluice R3/NATS R3  batched events/s vs async publish msg/s", f("sluice-R3", "batched", "events_per_s"), f("nats-R3", "async", "events_per_s")),
        ("sluice R3/NATS R3  1-client sync p50", f("sluice-R3", "sync-1client", "p50_ms"), f("nats-R3", "sync-1client", "p50_ms")),
        ("sluice R3/NATS R3  1-client sync p99", f("sluice-R3", "sync-1client", "p99_ms"), f("nats-R3", "sync-1client", "p99_ms")),
    ]
    R["ratios"] = {}
    for name, a, b in lines:
        log(f"  {name:<62} {ratio(a, b):>6}")
        R["ratios"][name] = ratio(a, b)
    for line in R.get("strace", []):
        log("  strace -f -c (separate short pass, not the timed one): " + line)
    log("  durability: sluice single acks after an fdatasync covers the event (--fsync always). sluice R3: every node")
    log("  issues about one fdatasync per acknowledged 1-client write (strace line above), i.e. followers sync too;")
    log("  that the ack waits for a quorum of synced logs is Raft's commit rule as docs/CLUSTER.md implies, not")
    log("  observed directly here. NATS 2.9.10 R3 (file storage, the strongest this version offers) acks once a")
    log("  quorum of the stream's Raft group has stored the message: written (pwrite) to the page cache, never")
    log("  fsynced on the ack path (0 fsync-family calls above); this version rejects `sync_interval`.")
    if not has_cluster:
        log("  (no cluster mode in this sluice build: cluster and failover rows missing)")
    for f in R.get("failures", []):
        log("  FAILED: " + f.splitlines()[0])


if __name__ == "__main__":
    main()

"""sluice nodes running in their own network namespaces (see fault_net.py).

Node N listens for HTTP on 10.77.k.N:8080 and, in cluster mode, for internal traffic on
10.77.k.N:7000. The process is started with `ip netns exec sl<k>-nN $SLUICE_BIN serve ...`;
`ip netns exec` execs the command in place, so the Popen pid is sluice's own pid and SIGKILL,
SIGSTOP and SIGCONT reach it directly."""

import os
import random
import re
import shutil
import signal
import subprocess
import time

import requests

SLUICE_BIN = os.environ.get("SLUICE_BIN", "/work/main/build/sluice")
HTTP_PORT = 8080
RAFT_PORT = 7000
ELECTION_MS = int(os.environ.get("SLUICE_FAULT_ELECTION_MS", "1000"))
HEARTBEAT_MS = int(os.environ.get("SLUICE_FAULT_HEARTBEAT_MS", "100"))


class ClusterError(Exception):
    pass


# Core dumps of crashed nodes (kernel.core_pattern "core": written in the process's cwd, which is
# <workdir>/logs/core-nN); a crash report then carries gdb's backtrace. SLUICE_FAULT_CORES=0 disables.
CORES = os.environ.get("SLUICE_FAULT_CORES", "1") != "0"


def _enable_cores():
    import resource
    try:
        resource.setrlimit(resource.RLIMIT_CORE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
    except (ValueError, OSError):
        pass


def core_backtrace(core_dir, timeout=60):
    """gdb's backtrace of the newest core file in core_dir, or None."""
    try:
        cores = [os.path.join(core_dir, f) for f in os.listdir(core_dir) if f.startswith("core")]
    except OSError:
        return None
    if not cores:
        return None
    core = max(cores, key=os.path.getmtime)
    try:
        p = subprocess.run(["gdb", "-q", "-batch", "-ex", "bt 40", SLUICE_BIN, core], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as e:
        return "gdb on %s failed: %s" % (core, e)
    lines = [l for l in p.stdout.decode("utf-8", "replace").splitlines() if l.startswith("#") or "signal" in l]
    return "backtrace from %s:\n%s" % (core, "\n".join(lines[:45]))


def _help_text(argv):
    try:
        p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=10)
        return p.stdout.decode("utf-8", "replace")
    except (OSError, subprocess.TimeoutExpired) as e:
        return "cannot run %s: %s" % (argv[0], e)


def cluster_mode_missing():
    """None if SLUICE_BIN has cluster mode, otherwise the reason (for pytest.skip)."""
    if not os.path.exists(SLUICE_BIN):
        return "SLUICE_BIN %s does not exist (build first)" % SLUICE_BIN
    if "--node-id" not in _help_text([SLUICE_BIN, "serve", "--help"]):
        return "server feature missing: `%s serve --help` has no --node-id (cluster mode not built yet)" % SLUICE_BIN
    return None


def membership_missing():
    """None if the CLI can add/remove cluster members, otherwise the reason."""
    text = _help_text([SLUICE_BIN, "cluster", "--help"])
    if not re.search(r"\badd\b", text) or not re.search(r"\bremove\b", text):
        return ("server feature missing: `sluice cluster add`/`sluice cluster remove` "
                "(membership changes, docs/CLUSTER.md) not implemented; `sluice cluster --help` says: %s"
                % text.strip().splitlines()[:3])
    return None


class Node:
    def __init__(self, net, n, workdir, cluster_spec=None, extra_flags=()):
        self.net = net
        self.id = n
        self.data_dir = os.path.join(workdir, "n%d" % n)
        self.log_dir = os.path.join(workdir, "logs")
        self.cluster_spec = cluster_spec
        self.extra_flags = list(extra_flags)
        self.join = False           # start with --join: a new member of a running cluster (cluster add)
        self.proc = None
        self.paused = False
        self.starts = 0
        self.log_paths = []
        os.makedirs(self.data_dir, exist_ok=True)
        os.makedirs(self.log_dir, exist_ok=True)

    @property
    def host(self):
        return self.net.ip(self.id)

    @property
    def base(self):
        return "http://%s:%d" % (self.host, HTTP_PORT)

    def url(self, path):
        return self.base + path

    def cmdline(self):
        argv = [SLUICE_BIN, "serve", "--listen", "%s:%d" % (self.host, HTTP_PORT), "--data-dir", self.data_dir]
        if self.cluster_spec:
            argv += ["--node-id", str(self.id), "--cluster", self.cluster_spec,
                     "--election-timeout-ms", str(ELECTION_MS), "--heartbeat-timeout-ms", str(HEARTBEAT_MS)]
            if self.join:
                argv.append("--join")
        return self.net.exec_argv(self.id, argv + self.extra_flags)

    @property
    def internal_address(self):
        return "%s:%d" % (self.host, RAFT_PORT)

    def wipe(self):
        """Deletes the data directory of the stopped node: it starts again as a new machine would
        (with join set, as a node waiting for `sluice cluster add`)."""
        if self.proc is not None:
            raise ClusterError("node %d is running: stop it before wiping its data" % self.id)
        shutil.rmtree(self.data_dir, ignore_errors=True)
        os.makedirs(self.data_dir, exist_ok=True)

    def start(self, wait=True, deadline=20.0):
        if self.proc is not None:
            raise ClusterError("node %d already running" % self.id)
        self.starts += 1
        path = os.path.join(self.log_dir, "n%d.%d.log" % (self.id, self.starts))
        self.log_paths.append(path)
        with open(path, "wb") as log:
            log.write(("$ %s\n" % " ".join(self.cmdline())).encode())
            log.flush()
            core_dir = os.path.join(self.log_dir, "core-n%d" % self.id)
            os.makedirs(core_dir, exist_ok=True)
            for old in os.listdir(core_dir):
                os.unlink(os.path.join(core_dir, old))
            self.proc = subprocess.Popen(self.cmdline(), stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True, cwd=core_dir,
                                         preexec_fn=_enable_cores if CORES else None)
        self.paused = False
        if wait:
            self.wait_healthy(deadline)
        return self

    def wait_healthy(self, deadline=20.0):
        end = time.monotonic() + deadline
        while True:
            rc = self.proc.poll() if self.proc else "not started"
            if rc is not None:
                self.proc = None
                raise ClusterError("node %d exited with %s during start-up\n%s" % (self.id, rc, self.log_tail()))
            try:
                if requests.get(self.url("/healthz"), timeout=1.0).status_code == 200:
                    return
            except requests.RequestException:
                pass
            if time.monotonic() > end:
                raise ClusterError("node %d did not answer /healthz within %.0fs\n%s"
                                   % (self.id, deadline, self.log_tail()))
            time.sleep(0.05)

    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def exit_status(self):
        """The exit status if the process died by itself, else None."""
        if self.proc is None:
            return None
        return self.proc.poll()

    def kill9(self):
        if self.proc is None:
            return
        if self.paused:
            self.resume()
        try:
            self.proc.kill()
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=10)
        self.proc = None

    def stop(self, grace=10.0):
        if self.proc is None:
            return None
        if self.paused:
            self.resume()
        try:
            self.proc.send_signal(signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            rc = self.proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait(timeout=10)
        self.proc = None
        return rc

    def pause(self):
        if self.proc is not None and not self.paused:
            os.kill(self.proc.pid, signal.SIGSTOP)
            self.paused = True

    def resume(self):
        if self.proc is not None and self.paused:
            os.kill(self.proc.pid, signal.SIGCONT)
            self.paused = False

    @property
    def core_dir(self):
        return os.path.join(self.log_dir, "core-n%d" % self.id)

    def log_tail(self, nbytes=3000):
        out = []
        for p in self.log_paths[-2:]:
            try:
                with open(p, "rb") as f:
                    f.seek(0, 2)
                    size = f.tell()
                    f.seek(max(0, size - nbytes))
                    out.append("--- %s ---\n%s" % (p, f.read().decode("utf-8", "replace")))
            except OSError:
                pass
        return "\n".join(out)

    def log_lines(self, pattern=r"(?i)error|warn|fatal|panic|assert|abort|corrupt|diverg|truncat|double free|sanitizer|runtime error|fail|signal"):
        """Lines of every log of this node matching pattern (for failure reports)."""
        rx = re.compile(pattern)
        out = []
        for p in self.log_paths:
            try:
                with open(p, "rb") as f:
                    for line in f.read().decode("utf-8", "replace").splitlines():
                        if rx.search(line):
                            out.append("n%d %s: %s" % (self.id, os.path.basename(p), line))
            except OSError:
                pass
        return out

    # --- HTTP ---------------------------------------------------------------------------
    def get(self, path, timeout=5.0, **kw):
        return requests.get(self.url(path), timeout=timeout, **kw)

    def post(self, path, timeout=10.0, **kw):
        return requests.post(self.url(path), timeout=timeout, **kw)

    def cluster_info(self, timeout=3.0):
        r = self.get("/v1/cluster", timeout=timeout)
        if r.status_code != 200:
            raise ClusterError("GET /v1/cluster on node %d: %d %s" % (self.id, r.status_code, r.text[:300]))
        return r.json()


class Cluster:
    """A set of sluice nodes; with cluster=False a single node in plain single-node mode."""

    def __init__(self, net, workdir, node_ids, cluster=True, extra_flags=()):
        self.net = net
        self.workdir = str(workdir)
        self.cluster = cluster
        spec = ",".join("%d@%s:%d" % (n, net.ip(n), RAFT_PORT) for n in node_ids) if cluster else None
        self.nodes = {n: Node(net, n, self.workdir, spec, extra_flags) for n in node_ids}

    @property
    def ids(self):
        return sorted(self.nodes)

    def node(self, n):
        return self.nodes[n]

    def urls(self):
        return [self.nodes[n].base for n in self.ids]

    def start(self, deadline=30.0):
        for n in self.ids:
            self.nodes[n].start(wait=False)
        for n in self.ids:
            self.nodes[n].wait_healthy(deadline)
        if self.cluster:
            self.wait_metadata_leader(deadline)
        return self

    def shutdown(self):
        for node in self.nodes.values():
            try:
                node.kill9()
            except Exception:
                pass

    def dead_nodes(self):
        """Nodes whose process exited without the harness killing it."""
        return [(n, node.exit_status()) for n, node in sorted(self.nodes.items()) if node.exit_status() is not None]

    def live(self):
        return [n for n in self.ids if self.nodes[n].running and not self.nodes[n].paused]

    def wait_metadata_leader(self, deadline=30.0):
        end = time.monotonic() + deadline
        last = None
        while time.monotonic() < end:
            ok = True
            for n in self.live():
                try:
                    info = self.nodes[n].cluster_info()
                    if info.get("metadata", {}).get("leader") is None:
                        ok = False
                        last = "node %d: metadata has no leader (%s)" % (n, info.get("metadata"))
                except (requests.RequestException, ClusterError, ValueError) as e:
                    ok = False
                    last = "node %d: %s" % (n, e)
            if ok:
                return
            time.sleep(0.1)
        raise ClusterError("metadata group has no leader after %.0fs: %s\n%s" % (deadline, last, self.log_tails()))

    def partition_table(self, topic):
        """{partition: {"leader": id or None, "replicas": [...], "term": t}} merged over the live
        nodes (each node lists only the partitions it holds a replica of); the leader reported
        with the highest term wins."""
        table = {}
        for n in self.live():
            try:
                info = self.nodes[n].cluster_info(timeout=2.0)
            except (requests.RequestException, ClusterError, ValueError):
                continue
            for p in info.get("partitions", []):
                if p.get("topic") != topic:
                    continue
                cur = table.setdefault(p["partition"], {"leader": None, "replicas": p.get("replicas", []), "term": -1})
                term = p.get("term") or 0
                if p.get("leader") is not None and term >= cur["term"]:
                    cur["leader"], cur["term"] = p["leader"], term
                cur["replicas"] = p.get("replicas", cur["replicas"])
        return table

    def leader_of(self, topic, partition):
        return self.partition_table(topic).get(partition, {}).get("leader")

    def create_topic(self, name, partitions, rf=None, key="/k", deadline=30.0):
        body = {"name": name, "partitions": partitions, "key": key}
        if self.cluster and rf is not None:
            body["replication_factor"] = rf
        end = time.monotonic() + deadline
        last = None
        while time.monotonic() < end:
            for n in self.live():
                try:
                    r = self.nodes[n].post("/v1/topics", json=body, timeout=10.0)
                except requests.RequestException as e:
                    last = "node %d: %s" % (n, e)
                    continue
                if r.status_code in (200, 201, 409):
                    if self.cluster:
                        self.wait_partition_leaders(name, partitions, max(1.0, end - time.monotonic()))
                    return
                last = "node %d: %d %s" % (n, r.status_code, r.text[:300])
            time.sleep(0.2)
        raise ClusterError("could not create topic %s: %s\ndead nodes (id, exit status): %s\n%s"
                           % (name, last, self.dead_nodes(), "\n".join(self.log_lines())))

    def wait_partition_leaders(self, topic, partitions, deadline=30.0):
        end = time.monotonic() + deadline
        table = {}
        while time.monotonic() < end:
            table = self.partition_table(topic)
            if all(table.get(p, {}).get("leader") is not None for p in range(partitions)):
                return table
            time.sleep(0.1)
        raise ClusterError("partitions of %s without a leader after %.0fs: %s\n%s"
                           % (topic, deadline, table, self.log_tails()))

    def replicas_of(self, topic, partition):
        if not self.cluster:
            return [self.ids[0]]
        reps = self.partition_table(topic).get(partition, {}).get("replicas")
        return sorted(reps) if reps else self.ids

    def log_tails(self, nbytes=1500):
        return "\n".join(self.nodes[n].log_tail(nbytes) for n in self.ids)

    def log_lines(self, pattern=None, limit=80):
        out = []
        for n in self.ids:
            out.extend(self.nodes[n].log_lines(pattern) if pattern else self.nodes[n].log_lines())
        if len(out) > limit:
            out = out[:limit // 2] + ["... %d lines ..." % (len(out) - limit)] + out[-limit // 2:]
        return out


def pick(rnd, seq):
    seq = list(seq)
    return seq[rnd.randrange(len(seq))] if seq else None


__all__ = ["Cluster", "ClusterError", "Node", "SLUICE_BIN", "cluster_mode_missing", "membership_missing", "core_backtrace",
           "ELECTION_MS", "HEARTBEAT_MS", "pick", "random"]

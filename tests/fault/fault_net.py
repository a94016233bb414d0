"""Network namespaces for the fault suite: one Linux network namespace per sluice node, joined by
a bridge in the root namespace, so that the network between two nodes can be cut while the test
process (in the root namespace) still reaches every node over the bridge.

Layout for slot k (k = 0 normally; a second concurrent session takes slot 1, and so on):

    root netns:  bridge slbr<k>, 10.77.<k>.254/24; host ends of the veth pairs sl<k>v<N>
    netns sl<k>-n<N>:  eth0 = 10.77.<k>.<N>/24 (other end of sl<k>v<N>), lo up

A slot is owned through an flock on /run/sluice-fault/slot<k>.lock, held for the life of the
process: the kernel drops it when the process dies, however it dies. A session that takes a
slot first deletes whatever a crashed earlier owner left behind in it (its processes, netns and
links), and every Net is torn down by its owner's fixture finalizer and, as a last resort, at
exit.

Cutting links uses nothing but iproute2 (no iptables/nftables on the test machines):

- "blackhole" (default): `ip route add blackhole 10.77.k.B/32` inside A's namespace. A's packets
  to B are discarded by A's routing; a connect() from A to B fails at once with EINVAL and
  packets of established connections are dropped.
- "drop": a permanent neighbour entry for B with an unused MAC address inside A's namespace
  (`ip neigh replace 10.77.k.B lladdr 02:00:00:00:00:01 nud permanent`). A's frames to B go to a
  MAC nobody owns and are silently lost on the bridge: connect() hangs until its timeout, as
  with a real network partition or an iptables DROP rule.

A cut is always made in both directions (cut(a, b) installs the rule in a's and in b's
namespace). The node <-> test-process link is never cut by the partition helpers (clients keep
reaching both sides of a partition, as in Jepsen), but cut_host(n) exists for single-node tests.
"""

import atexit
import errno
import fcntl
import os
import signal
import subprocess
import time

LOCK_DIR = "/run/sluice-fault"
MAX_SLOTS = 16
BOGUS_MAC = "02:00:00:00:00:01"
MODES = ("blackhole", "drop")

_LIVE = set()


def _teardown_all_at_exit():
    for net in list(_LIVE):
        try:
            net.teardown()
        except Exception:
            pass


atexit.register(_teardown_all_at_exit)


class NetError(Exception):
    pass


def run(argv, check=True, timeout=20):
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    if check and p.returncode != 0:
        raise NetError("%s -> %d: %s" % (" ".join(argv), p.returncode,
                                         (p.stderr or p.stdout).decode("utf-8", "replace").strip()))
    return p


def netns_supported():
    """None if this machine can run the suite, otherwise the reason why not."""
    if os.geteuid() != 0:
        return "the fault suite needs root (network namespaces, veth, bridge)"
    try:
        run(["ip", "netns", "list"])
    except (OSError, NetError) as e:
        return "`ip netns` does not work here: %s" % e
    return None


def list_netns():
    out = run(["ip", "netns", "list"]).stdout.decode()
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def list_links():
    out = run(["ip", "-o", "link", "show"]).stdout.decode()
    names = []
    for line in out.splitlines():
        # "12: sl0v1@if2: <...>"
        parts = line.split(": ", 2)
        if len(parts) >= 2:
            names.append(parts[1].split("@")[0])
    return names


class Net:
    """The namespaces, bridge and veth pairs of one test session (or one scenario)."""

    def __init__(self, node_ids, mode=None):
        self.node_ids = sorted(node_ids)
        self.mode = mode or os.environ.get("SLUICE_FAULT_CUT", "blackhole")
        if self.mode not in MODES:
            raise NetError("cut mode %r: expected one of %s" % (self.mode, MODES))
        self.slot = None
        self._lock_fd = None
        self.cuts = set()            # (a, b) with a != b: a cannot send to b
        self.host_cuts = set()       # nodes that cannot send to the test process
        self.up = False

    # --- names -------------------------------------------------------------------------
    @property
    def bridge(self):
        return "slbr%d" % self.slot

    def ns(self, n):
        return "sl%d-n%d" % (self.slot, n)

    def veth(self, n):
        return "sl%dv%d" % (self.slot, n)

    def ip(self, n):
        return "10.77.%d.%d" % (self.slot, n)

    @property
    def host_ip(self):
        return "10.77.%d.254" % self.slot

    def exec_argv(self, n, argv):
        return ["ip", "netns", "exec", self.ns(n)] + list(argv)

    def nsrun(self, n, argv, check=True):
        return run(self.exec_argv(n, argv), check=check)

    # --- set-up and tear-down --------------------------------------------------------------
    def _take_slot(self):
        os.makedirs(LOCK_DIR, exist_ok=True)
        for k in range(MAX_SLOTS):
            fd = os.open(os.path.join(LOCK_DIR, "slot%d.lock" % k), os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as e:
                os.close(fd)
                if e.errno in (errno.EAGAIN, errno.EACCES):
                    continue
                raise
            os.ftruncate(fd, 0)
            os.write(fd, b"%d\n" % os.getpid())
            self.slot, self._lock_fd = k, fd
            return
        raise NetError("all %d network slots are in use by live test sessions" % MAX_SLOTS)

    def _purge_slot(self):
        """Deletes what a crashed owner of this slot left: processes in its namespaces, the
        namespaces, the bridge and the host ends of the veth pairs."""
        prefix = "sl%d-n" % self.slot
        for name in list_netns():
            if not name.startswith(prefix):
                continue
            pids = run(["ip", "netns", "pids", name], check=False).stdout.decode().split()
            for pid in pids:
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (ProcessLookupError, ValueError):
                    pass
            run(["ip", "netns", "del", name], check=False)
        vprefix = "sl%dv" % self.slot
        for link in list_links():
            if link == self.bridge or link.startswith(vprefix):
                run(["ip", "link", "del", link], check=False)

    def setup(self):
        if self.up:
            return self
        self._take_slot()
        _LIVE.add(self)
        try:
            self._purge_slot()
            run(["ip", "link", "add", self.bridge, "type", "bridge"])
            run(["ip", "addr", "add", self.host_ip + "/24", "dev", self.bridge])
            run(["ip", "link", "set", self.bridge, "up"])
            for n in self.node_ids:
                self._add_node(n)
            self.up = True
        except Exception:
            self.teardown()
            raise
        return self

    def _add_node(self, n):
        if not 1 <= n <= 253:
            raise NetError("node id %d: must be 1..253 to be an address in 10.77.k.0/24" % n)
        run(["ip", "netns", "add", self.ns(n)])
        run(["ip", "link", "add", self.veth(n), "type", "veth", "peer", "name", "eth0", "netns", self.ns(n)])
        run(["ip", "link", "set", self.veth(n), "master", self.bridge, "up"])
        run(["ip", "-n", self.ns(n), "addr", "add", self.ip(n) + "/24", "dev", "eth0"])
        run(["ip", "-n", self.ns(n), "link", "set", "eth0", "up"])
        run(["ip", "-n", self.ns(n), "link", "set", "lo", "up"])

    def pids(self, n):
        if self.slot is None:
            return []
        out = run(["ip", "netns", "pids", self.ns(n)], check=False).stdout.decode().split()
        return [int(p) for p in out if p.isdigit()]

    def teardown(self):
        """Kills every process still in our namespaces and deletes namespaces, links and the
        slot lock. Safe to call more than once and after a partial set-up."""
        if self.slot is None:
            return
        try:
            self._purge_slot()
        finally:
            self.up = False
            self.cuts.clear()
            self.host_cuts.clear()
            _LIVE.discard(self)
            if self._lock_fd is not None:
                try:
                    fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
                    os.close(self._lock_fd)
                except OSError:
                    pass
                self._lock_fd = None
            self.slot = None

    # --- cutting links ---------------------------------------------------------------------
    def _rule(self, a, dst_ip, add):
        ns = self.ns(a)
        if self.mode == "blackhole":
            if add:
                run(["ip", "-n", ns, "route", "replace", "blackhole", dst_ip + "/32"])
            else:
                run(["ip", "-n", ns, "route", "del", "blackhole", dst_ip + "/32"], check=False)
        else:
            if add:
                run(["ip", "-n", ns, "neigh", "replace", dst_ip, "lladdr", BOGUS_MAC, "dev", "eth0",
                     "nud", "permanent"])
            else:
                run(["ip", "-n", ns, "neigh", "del", dst_ip, "dev", "eth0"], check=False)

    def cut_one_way(self, a, b):
        """a can no longer send to b."""
        if (a, b) not in self.cuts:
            self._rule(a, self.ip(b), True)
            self.cuts.add((a, b))

    def cut(self, a, b):
        self.cut_one_way(a, b)
        self.cut_one_way(b, a)

    def isolate(self, n):
        for m in self.node_ids:
            if m != n:
                self.cut(n, m)

    def partition(self, *groups):
        """Cuts every link between nodes of different groups; nodes in no group are left alone
        (they keep seeing everyone: a "bridge" node)."""
        where = {}
        for i, g in enumerate(groups):
            for n in g:
                where[n] = i
        for a in where:
            for b in where:
                if a < b and where[a] != where[b]:
                    self.cut(a, b)

    def cut_host(self, n):
        """n can no longer send to the test process (its answers are lost; requests still arrive)."""
        if n not in self.host_cuts:
            self._rule(n, self.host_ip, True)
            self.host_cuts.add(n)

    def heal(self):
        for a, b in sorted(self.cuts):
            self._rule(a, self.ip(b), False)
        for n in sorted(self.host_cuts):
            self._rule(n, self.host_ip, False)
        self.cuts.clear()
        self.host_cuts.clear()
        if self.mode == "drop":
            # let the kernel learn the real addresses again at once
            for n in self.node_ids:
                run(["ip", "-n", self.ns(n), "neigh", "flush", "dev", "eth0"], check=False)

    def describe_cuts(self):
        return sorted(self.cuts)

    def installed_rules(self, n):
        """What the kernel holds in n's namespace (to verify a heal really removed everything)."""
        if self.mode == "blackhole":
            out = run(["ip", "-n", self.ns(n), "route", "show", "type", "blackhole"]).stdout.decode()
        else:
            out = run(["ip", "-n", self.ns(n), "neigh", "show", "nud", "permanent"]).stdout.decode()
        return [line.strip() for line in out.splitlines() if line.strip()]


def wait_tcp(host, port, deadline):
    import socket
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False

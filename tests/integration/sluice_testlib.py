"""Shared harness for sluice's integration and crash tests: a Server that runs a real
`sluice serve` process on loopback, small HTTP helpers, Kafka's murmur2 partitioner, a raw
JSON span reader (to compare values byte for byte) and a minimal SSE/raw-socket client.

Every wait is bounded by a deadline; every process started is registered so that a
finalizer (and, as a last resort, atexit) stops it with SIGTERM and then SIGKILL."""

import atexit
import json
import os
import signal
import socket
import subprocess
import time
import weakref

import requests

SLUICE_BIN = os.environ.get("SLUICE_BIN", "/work/main/build/sluice")
HTTP_TIMEOUT = 15.0          # seconds, for every ordinary HTTP call made by the helpers
START_DEADLINE = 15.0        # seconds for a server to answer /healthz after spawn
STOP_GRACE = 5.0             # seconds between SIGTERM and SIGKILL

_LIVE = set()                # every Server with a running process


def _kill_all_at_exit():
    for s in list(_LIVE):
        try:
            s.kill9()
        except Exception:
            pass


atexit.register(_kill_all_at_exit)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerError(Exception):
    pass


class Server:
    """One `sluice serve` process. The data directory and the port survive restarts."""

    def __init__(self, data_dir, flags=None, port=None, log_dir=None):
        self.data_dir = str(data_dir)
        self.flags = list(flags or [])
        self.port = port or free_port()
        self.port_chosen = port is None     # free_port() races: a first start may pick again
        self.log_dir = str(log_dir or os.path.join(os.path.dirname(self.data_dir.rstrip("/")) or "/tmp",
                                                     "logs-%d" % self.port))
        os.makedirs(self.log_dir, exist_ok=True)
        self.proc = None
        self.starts = 0
        self.session = requests.Session()
        self.stdout_path = None
        self.stderr_path = None

    # --- lifecycle -------------------------------------------------------------------
    def cmdline(self):
        return [SLUICE_BIN, "serve", "--listen", "127.0.0.1:%d" % self.port,
                "--data-dir", self.data_dir] + self.flags

    def start(self, deadline=START_DEADLINE):
        assert self.proc is None, "server already running"
        if not os.path.exists(SLUICE_BIN):
            raise ServerError("SLUICE_BIN %s does not exist (build first)" % SLUICE_BIN)
        os.makedirs(self.data_dir, exist_ok=True)
        self.starts += 1
        self.stdout_path = os.path.join(self.log_dir, "stdout.%d" % self.starts)
        self.stderr_path = os.path.join(self.log_dir, "stderr.%d" % self.starts)
        out = open(self.stdout_path, "wb")
        err = open(self.stderr_path, "wb")
        try:
            self.proc = subprocess.Popen(self.cmdline(), stdout=out, stderr=err,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
        finally:
            out.close()
            err.close()
        _LIVE.add(self)
        end = time.monotonic() + deadline
        while True:
            rc = self.proc.poll()
            if rc is not None:
                self.proc = None
                _LIVE.discard(self)
                taken = "cannot listen on 127.0.0.1:%d: address already in use" % self.port
                if self.starts == 1 and self.port_chosen and taken in self.logs():
                    # another process took the port free_port() found between its check and our
                    # bind: a harness race, not a server failure; a fresh port, a first start again
                    self.port, self.starts = free_port(), 0
                    return self.start(deadline)
                raise ServerError("sluice exited with %s during start-up\n%s" % (rc, self.logs()))
            try:
                r = requests.get(self.url("/healthz"), timeout=1.0)
                if r.status_code == 200:
                    return self
            except requests.RequestException:
                pass
            if time.monotonic() > end:
                self.kill9()
                raise ServerError("sluice did not answer /healthz within %.0fs\n%s" % (deadline, self.logs()))
            time.sleep(0.02)

    def stop(self, sig=signal.SIGTERM, grace=STOP_GRACE):
        """Sends sig; waits up to grace seconds; SIGKILLs if still alive. Returns
        (exit code, clean) where clean is False if SIGKILL was needed."""
        if self.proc is None:
            return None, True
        clean = True
        try:
            self.proc.send_signal(sig)
        except ProcessLookupError:
            pass
        try:
            rc = self.proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            clean = False
            self.proc.kill()
            rc = self.proc.wait(timeout=grace)
        self.proc = None
        _LIVE.discard(self)
        self.session.close()
        self.session = requests.Session()
        return rc, clean

    def kill9(self):
        if self.proc is None:
            return
        try:
            self.proc.kill()
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=STOP_GRACE)
        self.proc = None
        _LIVE.discard(self)
        self.session.close()
        self.session = requests.Session()

    def restart(self, sig=signal.SIGTERM, flags=None):
        """Stops (by sig; SIGKILL for kill -9) and starts again on the same data dir and port."""
        if sig == signal.SIGKILL:
            self.kill9()
        else:
            self.stop(sig)
        if flags is not None:
            self.flags = list(flags)
        return self.start()

    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def logs(self, tail=4000):
        parts = []
        for p in (self.stdout_path, self.stderr_path):
            if p and os.path.exists(p):
                with open(p, "rb") as f:
                    data = f.read()
                parts.append("--- %s ---\n%s" % (p, data[-tail:].decode("utf-8", "replace")))
        return "\n".join(parts)

    SANITIZER_MARKERS = (b"ERROR: AddressSanitizer", b"ERROR: LeakSanitizer", b"runtime error:",
                         b"WARNING: ThreadSanitizer")

    def sanitizer_reports(self):
        """Sanitizer findings in this server's stderr logs (when SLUICE_BIN is an ASan/UBSan build)."""
        out = []
        for n in range(1, self.starts + 1):
            path = os.path.join(self.log_dir, "stderr.%d" % n)
            if not os.path.exists(path):
                continue
            with open(path, "rb") as f:
                data = f.read()
            if any(m in data for m in self.SANITIZER_MARKERS):
                out.append("%s:\n%s" % (path, data[-6000:].decode("utf-8", "replace")))
        return out

    # --- HTTP ------------------------------------------------------------------------
    @property
    def base(self):
        return "http://127.0.0.1:%d" % self.port

    def url(self, path):
        return self.base + path

    def request(self, method, path, **kw):
        kw.setdefault("timeout", HTTP_TIMEOUT)
        return self.session.request(method, self.url(path), **kw)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, **kw):
        return self.request("POST", path, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)


# --- API helpers -------------------------------------------------------------------------

def err_code(resp):
    """The error code of an error response, or None."""
    try:
        return resp.json()["error"]["code"]
    except Exception:
        return None


def expect(resp, status, code=None):
    """Asserts the status (and error code) of a response, with the body in the message."""
    assert resp.status_code == status, "%s %s -> %d (want %d): %r" % (
        resp.request.method, resp.request.url, resp.status_code, status, resp.text[:2000])
    if code is not None:
        body = resp.json()
        assert "error" in body, body
        assert body["error"].get("code") == code, "want error code %s, got %r" % (code, body)
        assert isinstance(body["error"].get("message"), str) and body["error"]["message"], body
    return resp


def create_topic(srv, name, **settings):
    body = {"name": name}
    body.update(settings)
    r = srv.post("/v1/topics", json=body)
    expect(r, 201)
    return r.json()


def describe_topic(srv, name):
    r = srv.get("/v1/topics/%s" % name)
    expect(r, 200)
    return r.json()


def latest_offsets(srv, name):
    d = describe_topic(srv, name)
    return {ps["partition"]: ps["latest_offset"] for ps in d["partition_stats"]}


def encode_body(events, content_type):
    """events: a list of Python values (json.dumps'ed) or of raw JSON texts (str)."""
    texts = [e if isinstance(e, str) else json.dumps(e) for e in events]
    if content_type.startswith("application/x-ndjson"):
        return ("\n".join(texts) + "\n").encode()
    if content_type.startswith("application/vnd.kafka.json.v2+json"):
        # events are record objects here
        return ('{"records":[' + ",".join(texts) + "]}").encode()
    return ("[" + ",".join(texts) + "]").encode()


def produce(srv, topic, events, content_type="application/x-ndjson", raw=None, **kw):
    """POSTs events to a topic. raw (bytes/str) is sent as is when given. Returns the response."""
    body = raw if raw is not None else encode_body(events, content_type)
    if isinstance(body, str):
        body = body.encode()
    return srv.post("/v1/topics/%s/events" % topic, data=body,
                    headers={"Content-Type": content_type}, **kw)


def produce_ok(srv, topic, events, content_type="application/x-ndjson", raw=None):
    r = produce(srv, topic, events, content_type, raw)
    expect(r, 200)
    offs = r.json()["offsets"]
    return [(o["partition"], o["offset"]) for o in offs]


_DEC = json.JSONDecoder()


def _ws(s, i):
    while i < len(s) and s[i] in " \t\r\n":
        i += 1
    return i


def raw_members(text):
    """The raw JSON text of each member of a top-level JSON object (a fetch line)."""
    i = _ws(text, 0)
    assert text[i] == "{", text
    i = _ws(text, i + 1)
    out = {}
    if text[i] == "}":
        return out
    while True:
        i = _ws(text, i)
        name, i = _DEC.raw_decode(text, i)
        i = _ws(text, i)
        assert text[i] == ":", text
        i = _ws(text, i + 1)
        _, j = _DEC.raw_decode(text, i)
        out[name] = text[i:j]
        i = _ws(text, j)
        if text[i] == ",":
            i += 1
            continue
        assert text[i] == "}", text
        return out


def parse_ndjson(data):
    """Parses a fetch body into records (dicts) with '_line' and '_raw_value' added."""
    out = []
    for line in data.split(b"\n"):
        if not line.strip():
            continue
        text = line.decode("utf-8")
        rec = json.loads(text)
        rec["_line"] = text
        rec["_raw_value"] = raw_members(text).get("value")
        out.append(rec)
    return out


def fetch(srv, topic, partition, **params):
    return srv.get("/v1/topics/%s/partitions/%d/events" % (topic, partition), params=params)


def fetch_all(srv, topic, partition, offset="earliest", limit=1000, deadline=60.0):
    """Reads a partition from offset until a fetch returns nothing. Returns the records."""
    out = []
    nxt = offset
    end = time.monotonic() + deadline
    while True:
        assert time.monotonic() < end, "fetch_all of %s/%d did not finish in %ss" % (topic, partition, deadline)
        r = fetch(srv, topic, partition, offset=nxt, limit=limit)
        expect(r, 200)
        recs = parse_ndjson(r.content)
        if not recs:
            return out
        out.extend(recs)
        hdr = r.headers.get("Sluice-Next-Offset")
        new = int(hdr) if hdr is not None else recs[-1]["offset"] + 1
        assert new == recs[-1]["offset"] + 1, "Sluice-Next-Offset %s after offset %d" % (hdr, recs[-1]["offset"])
        nxt = new


# --- Kafka's murmur2 (org.apache.kafka.common.utils.Utils.murmur2) ------------------------

def murmur2(data):
    length = len(data)
    seed = 0x9747B28C
    m = 0x5BD1E995
    r = 24
    h = (seed ^ length) & 0xFFFFFFFF
    for i in range(length // 4):
        i4 = i * 4
        k = data[i4] | (data[i4 + 1] << 8) | (data[i4 + 2] << 16) | (data[i4 + 3] << 24)
        k = (k * m) & 0xFFFFFFFF
        k ^= k >> r
        k = (k * m) & 0xFFFFFFFF
        h = (h * m) & 0xFFFFFFFF
        h ^= k
    rest = length % 4
    tail = length & ~3
    if rest >= 3:
        h ^= data[tail + 2] << 16
    if rest >= 2:
        h ^= data[tail + 1] << 8
    if rest >= 1:
        h ^= data[tail]
        h = (h * m) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * m) & 0xFFFFFFFF
    h ^= h >> 15
    return h - (1 << 32) if h & 0x80000000 else h


def kafka_partition(key_bytes, n):
    return (murmur2(key_bytes) & 0x7FFFFFFF) % n


# --- raw sockets ---------------------------------------------------------------------------

def connect(srv, timeout=5.0):
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def read_until_closed(sock, deadline):
    """Reads until EOF or deadline. Returns (data, closed)."""
    data = b""
    end = time.monotonic() + deadline
    while True:
        left = end - time.monotonic()
        if left <= 0:
            return data, False
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            return data, False
        except (ConnectionResetError, BrokenPipeError):
            return data, True
        if not chunk:
            return data, True
        data += chunk


class RawResponse:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def json(self):
        return json.loads(self.body)


_LEFTOVER = weakref.WeakKeyDictionary()     # socket -> bytes read past the previous response


def read_response(sock, deadline=5.0):
    """Reads one HTTP/1.1 response (Content-Length or chunked) from a raw socket. Bytes read
    past its end (pipelined responses) are kept for the next call on the same socket."""
    buf = _LEFTOVER.pop(sock, b"")
    end = time.monotonic() + deadline

    def more():
        nonlocal buf
        left = end - time.monotonic()
        if left <= 0:
            raise TimeoutError("no complete response within %ss; got %r" % (deadline, buf[:500]))
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            raise TimeoutError("no complete response within %ss; got %r" % (deadline, buf[:500]))
        if not chunk:
            raise ConnectionError("connection closed; got %r" % buf[:500])
        buf += chunk

    while b"\r\n\r\n" not in buf:
        more()
    head, buf = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for ln in lines[1:]:
        k, _, v = ln.partition(":")
        headers[k.strip().lower()] = v.strip()
    if 100 <= status < 200 or status in (204, 304):
        _LEFTOVER[sock] = buf
        return RawResponse(status, headers, b"")
    if "content-length" in headers:
        n = int(headers["content-length"])
        while len(buf) < n:
            more()
        _LEFTOVER[sock] = buf[n:]
        return RawResponse(status, headers, buf[:n])
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = b""
        while True:
            while b"\r\n" not in buf:
                more()
            size_line, buf = buf.split(b"\r\n", 1)
            size = int(size_line.split(b";")[0], 16)
            while len(buf) < size + 2:
                more()
            body += buf[:size]
            buf = buf[size + 2:]
            if size == 0:
                _LEFTOVER[sock] = buf
                return RawResponse(status, headers, body)
    # no length: read to EOF
    try:
        while True:
            more()
    except ConnectionError:
        pass
    return RawResponse(status, headers, buf)


class SSEClient:
    """A minimal Server-Sent Events reader on a raw socket (handles chunked encoding), so that
    every read has a deadline and events are seen as soon as they arrive."""

    def __init__(self, srv, path, deadline=5.0):
        self.sock = connect(srv)
        self.sock.sendall(("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n"
                           % path).encode())
        self.raw = b""          # bytes from the socket not yet de-chunked
        self.text = b""         # de-chunked body bytes not yet parsed into events
        self.chunked = False
        self.status = None
        self.headers = {}
        self._read_head(deadline)

    def _recv(self, end):
        left = end - time.monotonic()
        if left <= 0:
            return False
        self.sock.settimeout(min(left, 0.5))
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            return True
        if not chunk:
            raise ConnectionError("SSE stream closed by the server")
        self.raw += chunk
        return True

    def _read_head(self, deadline):
        end = time.monotonic() + deadline
        while b"\r\n\r\n" not in self.raw:
            if not self._recv(end):
                raise TimeoutError("no SSE response head within %ss" % deadline)
        head, self.raw = self.raw.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        self.status = int(lines[0].split()[1])
        for ln in lines[1:]:
            k, _, v = ln.partition(":")
            self.headers[k.strip().lower()] = v.strip()
        self.chunked = self.headers.get("transfer-encoding", "").lower() == "chunked"

    def _dechunk(self):
        if not self.chunked:
            self.text += self.raw
            self.raw = b""
            return
        while True:
            if b"\r\n" not in self.raw:
                return
            size_line, rest = self.raw.split(b"\r\n", 1)
            size = int(size_line.split(b";")[0], 16)
            if len(rest) < size + 2:
                return
            self.text += rest[:size]
            self.raw = rest[size + 2:]
            if size == 0:
                return

    def events(self, n, deadline=10.0):
        """Returns the next n events as dicts {'id':..., 'data':...} (comments are skipped)."""
        out = []
        end = time.monotonic() + deadline
        while len(out) < n:
            self._dechunk()
            norm = self.text.replace(b"\r\n", b"\n")
            if b"\n\n" in norm:
                block, rest = norm.split(b"\n\n", 1)
                self.text = rest
                ev = {}
                for ln in block.decode("utf-8").split("\n"):
                    if not ln or ln.startswith(":"):
                        continue
                    k, _, v = ln.partition(":")
                    if v.startswith(" "):
                        v = v[1:]
                    ev[k] = ev[k] + "\n" + v if k in ev and k == "data" else v
                if "data" in ev or "id" in ev:
                    out.append(ev)
                continue
            self.text = norm
            if not self._recv(end):
                raise TimeoutError("got %d of %d SSE events within %ss: %r" % (len(out), n, deadline, out))
        return out

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


# --- continuous SQL and generic polling helpers (appended; used by test_sql_api.py and
# tests/crash/test_sql_crash.py) -------------------------------------------------------------

def run_sql(srv, text, status=200, code=None):
    """POSTs {"sql": text} to /v1/sql, asserts the status (and error code), returns the body."""
    r = srv.post("/v1/sql", json={"sql": text})
    expect(r, status, code)
    return r.json()


def sql_result(srv, text):
    """The single result object of a one-statement text that must succeed."""
    res = run_sql(srv, text)["results"]
    assert len(res) == 1, res
    return res[0]


def describe_query(srv, name):
    """DESCRIBE of a view or sink: the result object (columns, rows, status, error, stats...)."""
    return sql_result(srv, "DESCRIBE %s" % name)


def wait_until(fn, deadline, what, interval=0.05):
    """Calls fn() until it returns something truthy (returned) or deadline seconds pass (fails,
    naming what and the last value)."""
    end = time.monotonic() + deadline
    last = None
    while True:
        last = fn()
        if last:
            return last
        if time.monotonic() > end:
            raise AssertionError("timed out after %.1fs waiting for %s; last value: %r" % (deadline, what, last))
        time.sleep(interval)


def fetch_values(srv, topic, partition, limit=100000, deadline=120.0):
    """Every value of a partition from its earliest offset, in offset order, as parsed JSON
    (a faster read than fetch_all for large partitions: no raw-span bookkeeping)."""
    out = []
    nxt = "earliest"
    end = time.monotonic() + deadline
    while True:
        assert time.monotonic() < end, "fetch_values of %s/%d did not finish in %ss" % (topic, partition, deadline)
        r = fetch(srv, topic, partition, offset=nxt, limit=limit, max_bytes=16 << 20)
        expect(r, 200)
        lines = [ln for ln in r.content.split(b"\n") if ln.strip()]
        if not lines:
            return out
        for ln in lines:
            out.append(json.loads(ln)["value"])
        nxt = int(r.headers["Sluice-Next-Offset"])


def topic_values(srv, topic, deadline=120.0):
    """The values of every partition of a topic, concatenated partition by partition."""
    out = []
    for p in range(describe_topic(srv, topic)["partitions"]):
        out.extend(fetch_values(srv, topic, p, deadline=deadline))
    return out


def ts_text(ms):
    """Epoch milliseconds as sluice renders a TIMESTAMP(3): 2024-05-01T12:00:00.000Z."""
    secs, frac = divmod(int(ms), 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + ".%03dZ" % frac


# --- clusters (docs/CLUSTER.md; appended, used by test_cluster.py) ---------------------------

class Cluster:
    """n `sluice serve --node-id N --cluster ...` processes on loopback, each a Server with its
    own HTTP port, internal port and data dir under base_dir (nodes[0] is node 1). The ports
    and data dirs survive restarts of a node."""

    def __init__(self, base_dir, n=3, flags=None):
        self.internal = {i: free_port() for i in range(1, n + 1)}
        members = ",".join("%d@127.0.0.1:%d" % (i, p) for i, p in self.internal.items())
        self.nodes = []
        for i in range(1, n + 1):
            d = os.path.join(str(base_dir), "n%d" % i)
            self.nodes.append(Server(d, flags=["--node-id", str(i), "--cluster", members] + list(flags or []),
                                     log_dir=os.path.join(str(base_dir), "logs%d" % i)))

    def node(self, node_id):
        return self.nodes[node_id - 1]

    def start(self, deadline=START_DEADLINE):
        """Starts every node at once (a node may wait for a quorum before it answers /healthz)."""
        import threading
        errors = []

        def run(srv):
            try:
                srv.start(deadline)
            except Exception as e:          # reported below, after every thread is done
                errors.append(e)

        threads = [threading.Thread(target=run, args=(s,)) for s in self.nodes]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            raise errors[0]
        return self

    def stop(self):
        """Stops every node (SIGTERM, then SIGKILL); returns the problems found: nodes that died
        during the test, sanitizer reports."""
        problems = []
        for srv in self.nodes:
            if srv.proc is not None and srv.proc.poll() is not None:
                problems.append("node on port %d died with status %s\n%s"
                                % (srv.port, srv.proc.returncode, srv.logs()))
            if srv.running:
                srv.stop()
            else:
                srv.kill9()
            problems.extend(srv.sanitizer_reports())
        return problems

    def urls(self, *node_ids):
        return ",".join(self.node(i).base for i in (node_ids or range(1, len(self.nodes) + 1)))

    def logs(self):
        return "\n".join("=== node %d ===\n%s" % (i + 1, s.logs()) for i, s in enumerate(self.nodes))


def cluster_info(srv, timeout=5.0):
    """GET /v1/cluster of one node as JSON, or None when it does not answer 200."""
    try:
        r = srv.get("/v1/cluster", timeout=timeout)
    except requests.RequestException:
        return None
    return r.json() if r.status_code == 200 else None


def partition_leaders(info, topic):
    """{partition: leader} of a topic in one node's /v1/cluster answer."""
    return {p["partition"]: p["leader"] for p in info.get("partitions", []) if p["topic"] == topic}


def wait_cluster_leaders(servers, topic, partitions, deadline=20.0, settle=0.0):
    """Waits until every server in servers holds a replica of each partition of topic and they
    all name the same, non-null leader for it, and (settle > 0) go on naming the same leaders
    for settle seconds: a new leader that is not a partition's preferred one hands leadership
    over soon after its election. Returns {partition: leader}."""
    if settle > 0:
        end = time.monotonic() + deadline
        while True:
            first = wait_cluster_leaders(servers, topic, partitions, max(0.1, end - time.monotonic()))
            stable_until = time.monotonic() + settle
            while time.monotonic() < stable_until:
                time.sleep(0.1)
                if wait_cluster_leaders(servers, topic, partitions, max(0.1, end - time.monotonic())) != first:
                    break
            else:
                return first
            if time.monotonic() > end:
                raise AssertionError("leaders of %s did not stay the same for %.1fs within %.0fs"
                                     % (topic, settle, deadline))

    def agreed():
        seen = None
        for srv in servers:
            info = cluster_info(srv)
            if info is None:
                return None
            leaders = partition_leaders(info, topic)
            if sorted(leaders) != list(range(partitions)) or None in leaders.values():
                return None
            if seen is not None and leaders != seen:
                return None
            seen = leaders
        return seen
    return wait_until(agreed, deadline, "leaders of %s known on every node" % topic, interval=0.1)


# ---- cluster requests: retries of docs/CLUSTER.md's retryable errors ----------------------------

RETRYABLE = {503: ("no_leader", "unavailable", "removed"), 504: ("timeout",)}
RETRY_DEADLINE = 20.0


def retrying(send, what, deadline=RETRY_DEADLINE):
    """send() until its answer is not one of docs/CLUSTER.md's retryable errors (a partition's
    leadership moving: after an election, a preferred leader taking over), for up to deadline
    seconds. Returns the last answer."""
    end = time.monotonic() + deadline
    while True:
        r = send()
        if r.status_code not in RETRYABLE:
            return r
        assert err_code(r) in RETRYABLE[r.status_code], "%s: %d %s" % (what, r.status_code, r.text)
        assert time.monotonic() < end, "%s: still %d after %.0fs: %s" % (what, r.status_code, deadline, r.text)
        time.sleep(0.05)


def read_all(srv, topic, partition, **params):
    """Every record of a partition from the earliest offset, as parsed by parse_ndjson (retrying
    the cluster's retryable errors)."""
    out, nxt = [], "earliest"
    end = time.monotonic() + 30
    while True:
        assert time.monotonic() < end, "read of %s/%d did not finish" % (topic, partition)
        r = retrying(lambda: fetch(srv, topic, partition, offset=nxt, limit=1000, **params),
                     "read of %s/%d at %s from port %d" % (topic, partition, nxt, srv.port))
        expect(r, 200)
        recs = parse_ndjson(r.content)
        if not recs:
            return out
        out.extend(recs)
        nxt = recs[-1]["offset"] + 1


def lines(records):
    return [rec["_line"] for rec in records]

"""The workload run during every fault: producer threads with idempotent produce and consumer
threads reading every partition, all recording into one fault_checker.History; then the final
read of the log and of every replica once the faults are healed.

Producers (idempotent=True, for clusters)
  Each producer has its own Sluice-Producer-Id and sends one request at a time: 1..8 NDJSON events
  {"id":"p3-000123","k":"k17","pad":"..."} (keyed by /k, so a request may span partitions),
  with Sluice-Sequence increasing per request (sometimes by 2: gaps are allowed). On a
  connection error, a timeout, 500, 503 or 504 it retries the SAME body with the SAME sequence on
  the next node, until it gets a 200 or, once the run is over, the drain deadline passes (then
  the request's events are indeterminate). Anything else (409 sequence_out_of_order, other 4xx,
  a 200 without one offset per event) is a protocol violation.

Producers (idempotent=False, for a single node that ignores the Sluice-* headers)
  A failure that proves nothing was stored (connection refused, connect timeout, 503
  shutting_down/no_leader) is retried with the same body; an ambiguous one (read timeout,
  reset after sending, 500, 504) gives up on the request, whose events become indeterminate:
  a retry could legitimately duplicate them.

Consumers
  One thread per partition: GET /v1/topics/{t}/partitions/{p}/events?offset=&limit=&timeout_ms=
  from offset 0 on, continuing at the last offset + 1, rotating nodes on errors, recording every
  (partition, offset, id) in the order received.
"""

import json
import random
import threading
import time

import requests

from fault_checker import History

NDJSON = "application/x-ndjson"
PRODUCE_TIMEOUT = (1.0, 8.0)          # connect, read
FETCH_TIMEOUT = (1.0, 6.0)
FETCH_LIMIT = 2000
KEYS = 64


def parse_line(line):
    """A fetched NDJSON line -> (offset, id or None, raw value text)."""
    rec = json.loads(line)
    i = line.rfind(',"value":')
    raw = line[i + 9:-1] if i >= 0 and line.endswith("}") else json.dumps(rec.get("value"), separators=(",", ":"))
    val = rec.get("value")
    eid = val.get("id") if isinstance(val, dict) else None
    return rec["partition"], rec["offset"], eid, raw


class Workload:
    def __init__(self, urls, topic, partitions, producers=4, idempotent=True, seed=0, batch_max=8,
                 replica_param=True, pause_s=(0.0, 0.02)):
        self.urls = list(urls)
        self.topic = topic
        self.partitions = partitions
        self.n_producers = producers
        self.idempotent = idempotent
        self.seed = seed
        self.batch_max = batch_max
        self.replica_param = replica_param
        self.pause_s = pause_s
        self.h = History()
        self.lock = threading.Lock()
        self.stop_producing = threading.Event()
        self.stop_consuming = threading.Event()
        self.giveup_at = None            # monotonic deadline for retries once stop_producing is set
        self.threads = []
        self.t_start = None
        self.producer_base = random.Random(seed).randrange(1, 1 << 40) * 1000

    # --- producers -------------------------------------------------------------------------------
    def _producer(self, idx):
        rnd = random.Random(self.seed * 7919 + idx)
        pid = self.producer_base + idx + 1
        sess = requests.Session()
        node_i = idx % len(self.urls)
        seq = rnd.randrange(0, 5)
        n = 0
        while not self.stop_producing.is_set():
            k = rnd.randint(1, self.batch_max)
            ids, texts = [], []
            for _ in range(k):
                eid = "p%d-%06d" % (idx, n)
                n += 1
                text = json.dumps({"id": eid, "k": "k%d" % rnd.randrange(KEYS), "pad": "x" * rnd.randrange(0, 60)},
                                  separators=(",", ":"))
                ids.append(eid)
                texts.append(text)
            seq += 1 if rnd.random() < 0.9 else 2
            with self.lock:
                for eid, text in zip(ids, texts):
                    self.h.sent[eid] = text
            body = ("\n".join(texts) + "\n").encode()
            headers = {"Content-Type": NDJSON}
            if self.idempotent:
                headers["Sluice-Producer-Id"] = str(pid)
                headers["Sluice-Sequence"] = str(seq)
            attempt = 0
            while True:
                if self.stop_producing.is_set() and self.giveup_at is not None and time.monotonic() > self.giveup_at:
                    with self.lock:
                        self.h.indeterminate.update(ids)
                    break
                url = self.urls[node_i] + "/v1/topics/%s/events" % self.topic
                t0 = time.monotonic()
                outcome, answer, retry_after = self._post(sess, url, body, headers)
                t1 = time.monotonic()
                op = {"producer": idx, "pid": pid, "seq": seq, "node": node_i, "t0": t0, "t1": t1,
                      "outcome": outcome, "retry": attempt > 0, "ids": ids}
                attempt += 1
                done = False
                with self.lock:
                    self.h.ops.append(op)
                    if outcome == "ok":
                        offs = answer.get("offsets") if isinstance(answer, dict) else None
                        if not isinstance(offs, list) or len(offs) != k:
                            self.h.protocol.append("producer %d seq %d: 200 with %r offsets for %d events"
                                                   % (idx, seq, offs, k))
                            self.h.indeterminate.update(ids)
                        else:
                            for eid, o in zip(ids, offs):
                                self.h.acked[eid] = (o["partition"], o["offset"])
                        done = True
                    elif outcome.startswith("fatal"):
                        self.h.protocol.append("producer %d (id %d) seq %d attempt %d on %s: %s"
                                               % (idx, pid, seq, attempt, self.urls[node_i], outcome[6:]))
                        self.h.indeterminate.update(ids)
                        done = True
                    elif outcome.startswith("ambiguous") and not self.idempotent:
                        self.h.indeterminate.update(ids)
                        done = True
                if done:
                    break
                sess.close()
                sess = requests.Session()
                node_i = (node_i + 1) % len(self.urls)
                time.sleep(min(1.0, retry_after if retry_after is not None else 0.05 * min(attempt, 6)))
            if self.pause_s[1] > 0:
                time.sleep(rnd.uniform(*self.pause_s))
        sess.close()

    def _post(self, sess, url, body, headers):
        """-> (outcome, parsed JSON answer or None, Retry-After seconds or None)"""
        try:
            r = sess.post(url, data=body, headers=headers, timeout=PRODUCE_TIMEOUT)
        except requests.exceptions.ConnectTimeout:
            return "retryable:connect timeout", None, None
        except requests.exceptions.ReadTimeout:
            return "ambiguous:read timeout", None, None
        except requests.exceptions.ConnectionError as e:
            text = str(e)
            if "refused" in text or "Invalid argument" in text or "unreachable" in text.lower():
                return "retryable:connection refused", None, None
            return "ambiguous:connection error", None, None
        try:
            answer = r.json()
        except ValueError:
            answer = None
        code = answer.get("error", {}).get("code") if isinstance(answer, dict) and isinstance(answer.get("error"), dict) else None
        ra = r.headers.get("Retry-After")
        try:
            ra = float(ra) if ra is not None else None
        except ValueError:
            ra = None
        if r.status_code == 200:
            return "ok", answer, None
        if r.status_code == 503 and code in ("no_leader", "unavailable", "shutting_down", "too_many_connections"):
            # no_leader/shutting_down: nothing stored; unavailable: the leader could not be reached
            return ("retryable:503 %s" % code if code != "unavailable" else "ambiguous:503 unavailable"), answer, ra
        if r.status_code in (500, 502, 503, 504):
            return "ambiguous:%d %s" % (r.status_code, code), answer, ra
        return "fatal:%d %s" % (r.status_code, r.text[:300]), answer, None

    # --- consumers -------------------------------------------------------------------------------
    def _consumer(self, p):
        name = "c%d" % p
        with self.lock:
            self.h.read_starts[name] = {p: 0}
        sess = requests.Session()
        node_i = p % len(self.urls)
        pos = 0
        while not self.stop_consuming.is_set():
            url = "%s/v1/topics/%s/partitions/%d/events" % (self.urls[node_i], self.topic, p)
            try:
                r = sess.get(url, params={"offset": pos, "limit": FETCH_LIMIT, "timeout_ms": 500}, timeout=FETCH_TIMEOUT)
            except requests.RequestException:
                sess.close()
                sess = requests.Session()
                node_i = (node_i + 1) % len(self.urls)
                time.sleep(0.05)
                continue
            if r.status_code == 200:
                now = time.monotonic()
                recs = []
                for line in r.text.splitlines():
                    if line.strip():
                        try:
                            recs.append(parse_line(line))
                        except (ValueError, KeyError) as e:
                            with self.lock:
                                self.h.protocol.append("consumer %s: unparsable line %r (%s)" % (name, line[:200], e))
                with self.lock:
                    for rp, o, eid, _raw in recs:
                        self.h.reads[name].append((rp, o, eid))
                        if eid is not None and eid not in self.h.first_seen:
                            self.h.first_seen[eid] = now
                if recs:
                    pos = max(pos, recs[-1][1] + 1)
                continue
            if r.status_code == 416:
                try:
                    latest = r.json()["error"].get("latest")
                except (ValueError, KeyError, AttributeError):
                    latest = None
                if latest is not None and latest < pos:
                    with self.lock:
                        self.h.notes.append((time.monotonic(), "p%d: node %s answered latest=%s below consumer position %d"
                                             % (p, self.urls[node_i], latest, pos)))
            node_i = (node_i + 1) % len(self.urls)
            time.sleep(0.1)
        sess.close()

    # --- control ---------------------------------------------------------------------------------
    def start(self):
        self.t_start = time.monotonic()
        for i in range(self.n_producers):
            self.threads.append(threading.Thread(target=self._producer, args=(i,), daemon=True, name="producer-%d" % i))
        for p in range(self.partitions):
            self.threads.append(threading.Thread(target=self._consumer, args=(p,), daemon=True, name="consumer-%d" % p))
        for th in self.threads:
            th.start()

    def stop(self, drain_s=30.0, catchup_s=3.0):
        """Stops producing (pending requests keep retrying up to drain_s), lets consumers catch up
        for catchup_s, then stops them. Returns the threads still alive (should be none)."""
        self.giveup_at = time.monotonic() + drain_s
        self.stop_producing.set()
        for th in self.threads:
            if th.name.startswith("producer"):
                th.join(timeout=drain_s + PRODUCE_TIMEOUT[1] + 5)
        time.sleep(catchup_s)
        self.stop_consuming.set()
        for th in self.threads:
            th.join(timeout=FETCH_TIMEOUT[1] + 5)
        return [th.name for th in self.threads if th.is_alive()]

    def wait_acked(self, n, deadline):
        end = time.monotonic() + deadline
        while time.monotonic() < end:
            with self.lock:
                if len(self.h.acked) >= n:
                    return True
            time.sleep(0.05)
        return False

    def acked_count(self):
        with self.lock:
            return len(self.h.acked)


# --- reading the final state ----------------------------------------------------------------------

def end_offset(url, topic, p, replica, timeout=3.0):
    """The end offset (next offset to be written) of partition p as served by url: the leader's
    committed end, or with replica=True the receiving node's own replica."""
    params = {"offset": "latest", "limit": 1}
    if replica:
        params["replica"] = "any"
    r = requests.get("%s/v1/topics/%s/partitions/%d/events" % (url, topic, p), params=params, timeout=timeout)
    if r.status_code == 200 and r.headers.get("Sluice-Next-Offset") is not None:
        return int(r.headers["Sluice-Next-Offset"])
    raise RuntimeError("end offset of p%d from %s%s: %d %s" % (p, url, " (replica)" if replica else "",
                                                               r.status_code, r.text[:200]))


def read_all(url, topic, p, replica, deadline=60.0):
    """[(offset, id, raw)] of the whole partition as served by url."""
    out = []
    pos = 0
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        params = {"offset": pos, "limit": 10000}
        if replica:
            params["replica"] = "any"
        r = requests.get("%s/v1/topics/%s/partitions/%d/events" % (url, topic, p), params=params, timeout=10.0)
        if r.status_code == 416:
            break
        if r.status_code != 200:
            raise RuntimeError("read p%d@%d from %s%s: %d %s" % (p, pos, url, " (replica)" if replica else "",
                                                                r.status_code, r.text[:200]))
        recs = [parse_line(line) for line in r.text.splitlines() if line.strip()]
        if not recs:
            break
        out.extend((o, eid, raw) for _rp, o, eid, raw in recs)
        pos = recs[-1][1] + 1
    else:
        raise RuntimeError("reading p%d from %s took longer than %.0fs" % (p, url, deadline))
    return out

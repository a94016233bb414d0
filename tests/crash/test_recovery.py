"""Recovery from damaged segment tails (what a crash mid-write or a bad disk leaves): a torn
tail is cut and never served, a batch whose CRC fails is never served, and the log keeps
working at the right offsets."""

import glob
import json
import os
import re
import signal

from sluice_testlib import describe_topic, create_topic, fetch_all, produce_ok

NDJSON = "application/x-ndjson"


def segment_files(srv):
    files = [f for f in glob.glob(os.path.join(srv.data_dir, "**", "*.log"), recursive=True)
             if re.fullmatch(r"\d{20}\.log", os.path.basename(f))
             and (os.sep + "t" + os.sep) in f[len(srv.data_dir):]]   # topic t's segments only
    assert files, "no <20 digits>.log segment under %s" % srv.data_dir
    return sorted(files, key=os.path.basename)


def data_end(seg):
    """Where the segment's batches end: sluice may have written zeros ahead of them (small
    syncs). Walks the RecordBatch v2 headers: length at byte 8, magic 2 at byte 16."""
    with open(seg, "rb") as f:
        b = f.read()
    pos = 0
    while pos + 61 <= len(b) and b[pos + 16] == 2:
        pos += 12 + int.from_bytes(b[pos + 8:pos + 12], "big")
    assert pos <= len(b)
    return pos


def fill(srv, batches=10, per=10):
    create_topic(srv, "t")
    sent = []
    for b in range(batches):
        evs = ['{"b":%d,"e":%d,"pad":"%s"}' % (b, e, "r" * 50) for e in range(per)]
        offs = produce_ok(srv, "t", None, NDJSON, raw="\n".join(evs) + "\n")
        assert [o for _, o in offs] == list(range(len(sent), len(sent) + per))
        sent.extend(evs)
    return sent


def check_prefix(srv, sent):
    recs = fetch_all(srv, "t", 0)
    assert [r["offset"] for r in recs] == list(range(len(recs)))
    assert [r["_raw_value"] for r in recs] == sent[:len(recs)], "served events differ from what was sent"
    st = describe_topic(srv, "t")["partition_stats"][0]
    assert st["latest_offset"] == len(recs)
    return len(recs)


def test_torn_tail_is_cut(make_server):
    srv = make_server()
    sent = fill(srv)
    srv.kill9()
    seg = segment_files(srv)[-1]
    size = data_end(seg)
    with open(seg, "r+b") as f:
        f.seek(size)
        f.write(b"\x01" + os.urandom(36))  # half a batch header of garbage right after the data
    srv.start()
    n = check_prefix(srv, sent)
    assert n == len(sent), "a torn tail after the last batch must not cost acknowledged events"
    offs = produce_ok(srv, "t", None, NDJSON, raw='{"after":1}\n')
    assert offs == [(0, len(sent))]
    srv.restart(signal.SIGKILL)
    recs = fetch_all(srv, "t", 0)
    assert [r["_raw_value"] for r in recs] == sent + ['{"after":1}']
    assert os.path.getsize(seg) >= size


def test_truncated_last_batch_is_not_served(make_server):
    srv = make_server()
    sent = fill(srv)
    srv.kill9()
    seg = segment_files(srv)[-1]
    end = data_end(seg)
    with open(seg, "r+b") as f:
        f.truncate(end - 25)              # cut into the last batch
    srv.start()
    n = check_prefix(srv, sent)
    assert n == len(sent) - 10, "exactly the cut batch is dropped, got %d events" % n
    offs = produce_ok(srv, "t", None, NDJSON, raw='{"after":1}\n')
    assert offs == [(0, n)]
    srv.restart()
    recs = fetch_all(srv, "t", 0)
    assert [r["_raw_value"] for r in recs] == sent[:n] + ['{"after":1}']


def test_bit_flip_in_last_batch_is_never_served(make_server):
    srv = make_server()
    sent = fill(srv)
    srv.kill9()
    seg = segment_files(srv)[-1]
    size = data_end(seg)
    with open(seg, "r+b") as f:
        f.seek(size - 30)                  # inside the last batch's records
        b = f.read(1)
        f.seek(size - 30)
        f.write(bytes([b[0] ^ 0x10]))
    srv.start()
    n = check_prefix(srv, sent)
    assert n == len(sent) - 10, "the batch whose CRC fails must be dropped, got %d events" % n
    offs = produce_ok(srv, "t", None, NDJSON, raw=json.dumps({"after": 1}) + "\n")
    assert offs == [(0, n)]

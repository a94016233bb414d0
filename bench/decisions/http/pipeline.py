#!/usr/bin/env python3
"""Pipelining check: send three POSTs in one write (bodies of 10, 20 and 30 bytes; in the
second case the middle one chunked) and expect three 200 responses whose "received" fields
read 10, 20, 30 in that order. Usage: pipeline.py PORT  -> prints one line per case, exit 1 on failure."""
import json, socket, sys

def post(body, chunked=False):
    if chunked:
        half = len(body) // 2
        enc = b"%x\r\n%s\r\n%x\r\n%s\r\n0\r\n\r\n" % (half, body[:half], len(body) - half, body[half:])
        return b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n" + enc
    return b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)

def read_responses(sock, n):
    buf, out = b"", []
    sock.settimeout(3)
    while len(out) < n:
        while b"\r\n\r\n" not in buf:
            d = sock.recv(65536)
            if not d:
                return out
            buf += d
        head, buf = buf.split(b"\r\n\r\n", 1)
        lines = head.split(b"\r\n")
        status = int(lines[0].split()[1])
        hdr = {l.split(b":", 1)[0].strip().lower(): l.split(b":", 1)[1].strip() for l in lines[1:]}
        clen = int(hdr.get(b"content-length", b"0"))
        while len(buf) < clen:
            d = sock.recv(65536)
            if not d:
                return out
            buf += d
        body, buf = buf[:clen], buf[clen:]
        out.append((status, json.loads(body).get("received")))
    return out

def case(port, chunked_middle):
    bodies = [b'{"k":"%s"}' % (b"x" * (n - 8)) for n in (10, 20, 30)]
    reqs = post(bodies[0]) + post(bodies[1], chunked_middle) + post(bodies[2])
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(reqs)
        try:
            got = read_responses(s, 3)
        except (socket.timeout, ValueError) as e:
            got = "error: %s" % e
    ok = got == [(200, 10), (200, 20), (200, 30)]
    print("%s pipelining (%s): %s" % ("ok  " if ok else "FAIL", "middle chunked" if chunked_middle else "content-length", got))
    return ok

port = int(sys.argv[1])
ok = case(port, False) & case(port, True)
sys.exit(0 if ok else 1)

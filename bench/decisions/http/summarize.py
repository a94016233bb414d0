#!/usr/bin/env python3
"""Reads the wrk outputs run.sh left in OUT and prints a Markdown table: medians over the
rounds, the min–max range, and each server's req/s as a ratio to nginx-w1 in the same round
(the machine is shared, so the same-round ratio is steadier than the absolute figure)."""
import glob, re, statistics, sys

UNIT = {"us": 1e-3, "ms": 1.0, "s": 1e3}

def parse(path):
    t = open(path).read()
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1))
    lat = {}
    for p in ("50", "99"):
        m = re.search(r"^\s+%s%%\s+([\d.]+)(us|ms|s)\s*$" % p, t, re.M)
        lat[p] = float(m.group(1)) * UNIT[m.group(2)]
    errs = re.findall(r"Non-2xx or 3xx responses: \d+|Socket errors: .*", t)
    nreq = int(re.search(r"(\d+) requests in", t).group(1))
    m = re.search(r"server_cpu_ticks (\d+) clk_tck (\d+)", t)
    cpu_us = int(m.group(1)) * 1e6 / int(m.group(2)) / nreq if m and nreq else float("nan")
    return rps, lat["50"], lat["99"], "; ".join(errs), cpu_us

def runs(out, c, size):
    found = {}
    for f in glob.glob("%s/%s-%s-r*.txt" % (out, c, size)):
        found[int(re.search(r"-r(\d+)\.txt$", f).group(1))] = parse(f)
    return found

out, cands = sys.argv[1], sys.argv[2:]
ref = "nginx-w1" if "nginx-w1" in cands else None
notes = []
for size, title in (("200b", "POST 200 B, wrk -t1 -c64"), ("1m", "POST 1 MiB, wrk -t1 -c16")):
    print("\n%s\n" % title)
    print("| server | req/s median | min–max | × nginx-w1 (median of same-round ratios) | p50 ms | p99 ms | server CPU µs/req |%s" % (" MiB/s |" if size == "1m" else ""))
    print("|---|---|---|---|---|---|---|%s" % ("---|" if size == "1m" else ""))
    base = runs(out, ref, size) if ref else {}
    for c in cands:
        rs = runs(out, c, size)
        if not rs:
            continue
        rps = [r[0] for r in rs.values()]
        ratios = [rs[k][0] / base[k][0] for k in rs if k in base]
        med = statistics.median(rps)
        print("| %s | %.0f | %.0f–%.0f | %s | %.2f | %.2f | %.1f |%s" % (
            c, med, min(rps), max(rps), "%.2f" % statistics.median(ratios) if ratios else "—",
            statistics.median(r[1] for r in rs.values()), statistics.median(r[2] for r in rs.values()),
            statistics.median(r[4] for r in rs.values()), " %.0f |" % med if size == "1m" else ""))
        notes += ["%s %s round %d: %s" % (c, size, k, r[3]) for k, r in sorted(rs.items()) if r[3]]
for n in notes:
    print("\n" + n)

#!/usr/bin/env python3
"""Reads the wrk outputs run.sh left in OUT and prints a Markdown table of medians and ranges."""
import glob, re, statistics, sys

UNIT = {"us": 1e-3, "ms": 1.0, "s": 1e3}

def parse(path):
    t = open(path).read()
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1))
    lat = {}
    for p in ("50", "99"):
        m = re.search(r"^\s+%s%%\s+([\d.]+)(us|ms|s)\s*$" % p, t, re.M)
        lat[p] = float(m.group(1)) * UNIT[m.group(2)]
    errs = re.search(r"Non-2xx or 3xx responses: (\d+)|Socket errors: .*", t)
    return rps, lat["50"], lat["99"], errs.group(0) if errs else ""

out, cands = sys.argv[1], sys.argv[2:]
print("| server | 200 B req/s (median, min–max) | p50 ms | p99 ms | 1 MiB req/s (median, min–max) | MiB/s | p50 ms | p99 ms |")
print("|---|---|---|---|---|---|---|---|")
notes = []
for c in cands:
    row = [c]
    for size in ("200b", "1m"):
        runs = [parse(f) for f in sorted(glob.glob("%s/%s-%s-r*.txt" % (out, c, size)))]
        if not runs:
            row += ["—"] * (3 if size == "200b" else 4)
            continue
        rps = [r[0] for r in runs]
        med = statistics.median(rps)
        row.append("%.0f (%.0f–%.0f)" % (med, min(rps), max(rps)))
        if size == "1m":
            row.append("%.0f" % med)
        row.append("%.2f" % statistics.median(r[1] for r in runs))
        row.append("%.2f" % statistics.median(r[2] for r in runs))
        notes += ["%s %s: %s" % (c, size, r[3]) for r in runs if r[3]]
    print("| " + " | ".join(row) + " |")
for n in notes:
    print("\n" + n)

#!/usr/bin/env python3
"""Best-of-rounds table (by thread CPU time) from the json_bench outputs run.sh left in OUT."""
import collections, glob, os, sys

out = sys.argv[1]
best = collections.OrderedDict()   # (variant, mode) -> dict
headers = []
files = sorted(glob.glob(out + "/*-r*.txt"), key=lambda p: (["main", "jsonc", "baseline"].index(os.path.basename(p).split("-r")[0]), p))
for path in files:
    for line in open(path):
        if line.startswith("# ") and "events," in line:
            if line not in headers:
                headers.append(line)
            continue
        if line.startswith("#") or not line.strip():
            continue
        v, mode, wall, cpu, mbs, evs, csum, errs = line.split()
        row = best.setdefault((v, mode), {"cpu": float("inf"), "wall": float("inf"), "rounds": []})
        row["rounds"].append(float(mbs))
        row["wall"] = min(row["wall"], float(wall))
        if float(cpu) < row["cpu"]:
            row.update(cpu=float(cpu), mbs=float(mbs), evs=float(evs), csum=csum, errs=errs)
for h in headers:
    print(h.rstrip())
print()
print("| variant | validate MB/s | validate events/s | extract MB/s | extract events/s | validate MB/s per round | best wall s (validate / extract) | errors |")
print("|---|---|---|---|---|---|---|---|")
ref = next((r["csum"] for (v, m), r in best.items() if m == "extract"), None)
for v in dict.fromkeys(k[0] for k in best):
    va, ex = best[(v, "validate")], best[(v, "extract")]
    bad = "" if ex["csum"] == ref else " (checksum differs!)"
    print("| %s | %.0f | %.2f M | %.0f | %.2f M | %s | %.2f / %.2f | %s%s |" % (
        v, va["mbs"], va["evs"] / 1e6, ex["mbs"], ex["evs"] / 1e6, " / ".join("%.0f" % x for x in va["rounds"]),
        va["wall"], ex["wall"], va["errs"] if va["errs"] == ex["errs"] else va["errs"] + "/" + ex["errs"], bad))

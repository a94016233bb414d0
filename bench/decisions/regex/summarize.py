#!/usr/bin/env python3
"""Merge several regex_bench (and JavaRef) outputs: per engine, the median over every round of
every run for the q21 table, and per cell the median of the runs for the backtracking table.

    summarize.py build/run-1.md build/run-2.md ... [build/java-1.md ...]
"""
import re
import statistics
import sys

ROUND = re.compile(r"^round (\d+)  (.{38}) +([\d.]+) / +([\d.]+)  matches (\d+)(?:  errors (\d+))?  sum (\w+)", re.M)
TABLE = re.compile(r"^\| (.+?) \| (\d+) \| (\w+) \| \d+ \(\d+–\d+\) \| \d+ \| ([\d.]+) \|$", re.M)
HEAD = re.compile(r"^glibc .*?; (\d+) urls, .*?([\d.]+) bytes average", re.M)
UNITS = {"ns": 1, "µs": 1e3, "ms": 1e6, "s": 1e9}


def cell_ns(c):
    m = re.match(r"([\d.]+) (ns|µs|ms|s)", c)
    return float(m.group(1)) * UNITS[m.group(2)] if m else None


def fmt_ns(ns):
    if ns < 1e4:
        return f"{ns:.0f} ns"
    if ns < 1e7:
        return f"{ns / 1e3:.1f} µs"
    if ns < 1e10:
        return f"{ns / 1e6:.1f} ms"
    return f"{ns / 1e9:.1f} s"


def main(paths):
    rounds, results, compile_us, bt, order, bt_order = {}, {}, {}, {}, [], []
    nurls = avg = None
    header = None
    runs = 0
    for p in paths:
        text = open(p, encoding="utf-8").read()
        h = HEAD.search(text)
        if h:
            runs += 1
            header = header or h.group(0)
            nurls, avg = int(h.group(1)), float(h.group(2))
        for m in ROUND.finditer(text):
            name = m.group(2).strip()
            if name not in rounds:
                order.append(name)
            rounds.setdefault(name, []).append(float(m.group(3)))
            results.setdefault(name, set()).add((int(m.group(5)), int(m.group(6) or 0), m.group(7)))
        for m in TABLE.finditer(text):
            name = m.group(1).replace(" (reference)", "")
            compile_us.setdefault(name, []).append(float(m.group(4)))
        in_bt = False
        for line in text.splitlines():
            if line.startswith("### Backtracking"):
                in_bt = True
                bt_head = line
                continue
            if not line.startswith("| ") or line.startswith("| engine") or line.startswith("| pattern"):
                continue
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if len(cells) == 14 and (in_bt or "reference" in cells[0]) and not re.match(r"\d+$", cells[1]):
                name = cells[0]
                if name not in bt:
                    bt_order.append(name)
                bt.setdefault(name, []).append(cells[1:])
    total_bytes = nurls * avg
    print(f"# regex_bench summary ({runs} runs)\n\n{header}\n")
    print(f"Nexmark q21 `(&|^)channel_id=([^&]*)`, group 2: median over every round of every run "
          f"(thread CPU time); compile time: median of the runs' medians\n")
    print("| engine | rounds | matches | checksum | ns per call, median (min–max) | MB/s | compile µs |")
    print("|---|---|---|---|---|---|---|")
    sums = set()
    for name in order:
        ns = rounds[name]
        res = results[name]
        sums |= {(mt, s) for mt, _, s in res}
        errs = sum(e for _, e, _ in res)
        (mt, _, s) = sorted(res)[0]
        med = statistics.median(ns)
        comp = compile_us.get(name)
        print(f"| {name} | {len(ns)} | {mt}{' (differs between rounds!)' if len(res) > 1 else ''}"
              f"{f', {errs} errors' if errs else ''} | {s} | {med:.0f} ({min(ns):.0f}–{max(ns):.0f}) | "
              f"{total_bytes / med / 1e3:.0f} | {statistics.median(comp):.1f} |" if comp else " – |")
    print(f"\nevery engine, round and run extracted the same groups (count and checksum): "
          f"{'yes' if len(sums) == 1 else '**NO**'}\n")
    print(bt_head.replace("per call,", f"per call, median of {runs} runs,") + "\n")
    print("| engine | " + " | ".join(f"n={n}" for n in (10, 14, 18, 20, 22, 24, 26, 28, 30, 100, 1000, 10000))
          + " | verdict (first run) |")
    print("|---|" + "---|" * 13)
    for name in bt_order:
        rows = bt[name]
        out = []
        for k in range(12):
            cells = [r[k] for r in rows]
            if any("killed" in c or "stopped" in c for c in cells):
                out.append(next(c for c in cells if "killed" in c or "stopped" in c))
            elif all(cell_ns(c) is not None for c in cells):
                v = fmt_ns(statistics.median(cell_ns(c) for c in cells))
                out.append(v + (", error" if any("error" in c for c in cells) else ""))
            else:
                out.append("–")
        verdicts = {r[12].split(":")[0].split(",")[0] for r in rows}
        v = rows[0][12] + ("" if len(verdicts) == 1 else f" (runs disagree: {', '.join(sorted(verdicts))})")
        print(f"| {name} | " + " | ".join(out) + f" | {v} |")


if __name__ == "__main__":
    main(sys.argv[1:])

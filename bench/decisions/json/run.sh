#!/bin/bash
# Runs the JSON comparison: the error/span checks once, then ROUNDS rounds (one process per
# binary per round, interleaved) of validate + extract over N NDJSON events, and prints the
# best round per variant.  Usage: run.sh BIN_DIR OUT_DIR   (env: ROUNDS=3 EVENTS=1000000)
set -eu
BIN=$1; OUT=$2
HERE=$(cd "$(dirname "$0")" && pwd)
ROUNDS=${ROUNDS:-3}; EVENTS=${EVENTS:-1000000}
mkdir -p "$OUT"; rm -f "$OUT"/*.txt
{ "$BIN/json_bench" --checks; "$BIN/json_bench_jsonc" --checks; } > "$OUT/checks.md"
echo "checks written to $OUT/checks.md"
for r in $(seq "$ROUNDS"); do
    "$BIN/json_bench" -n "$EVENTS" | tee "$OUT/main-r$r.txt"
    "$BIN/json_bench_jsonc" -n "$EVENTS" | tee "$OUT/jsonc-r$r.txt"
    "$BIN/json_bench_baseline" -n "$EVENTS" simdjson-dom simdjson-ondemand simdjson-dom-parse_many |
        sed -e 's/^simdjson/baseline-build:simdjson/' | tee "$OUT/baseline-r$r.txt"
done
python3 "$HERE/summarize.py" "$OUT" | tee "$OUT/summary.md"

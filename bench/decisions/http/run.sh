#!/bin/bash
# Runs the HTTP comparison: functional checks (pipelining, chunked request bodies), then
# ROUNDS rounds of every candidate interleaved (A,B,C,... per round), each answering
#   wrk -t1 -c64 -d${SECS}s -s post.lua    (200-byte POST)
#   wrk -t1 -c16 -d${SECS}s -s post1m.lua  (1 MiB POST)
# and prints medians, same-round ratios to nginx-w1, and the server's CPU time per request. Every server is started on 127.0.0.1 and a free port and stopped by its PID.
# Usage: run.sh BIN_DIR OUT_DIR      (env: ROUNDS=3 SECS=5 CANDIDATES="h2o mhd-thread ...")
set -u
BIN=$(cd "$1" && pwd); OUT=$2
HERE=$(cd "$(dirname "$0")" && pwd)
ROUNDS=${ROUNDS:-3}; SECS=${SECS:-5}
CANDIDATES=${CANDIDATES:-"h2o h2o-evloop mhd-thread mhd-uv uv-httpparser nginx-w1 nginx-w2"}
mkdir -p "$OUT"; rm -f "$OUT"/*.txt
PID=""; NGX=""

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

start() {  # start NAME PORT -> sets PID
    case $1 in
    h2o) "$BIN/h2o_srv" "$2" & PID=$! ;;
    h2o-evloop) "$BIN/h2o_evloop_srv" "$2" & PID=$! ;;
    mhd-thread) "$BIN/mhd_srv" "$2" thread & PID=$! ;;
    mhd-uv) "$BIN/mhd_srv" "$2" uv & PID=$! ;;
    uv-httpparser) "$BIN/uvhp_srv" "$2" & PID=$! ;;
    nginx-w*)
        NGX=$(mktemp -d /tmp/sluice-nginx.XXXXXX)
        sed -e "s|@WORKERS@|${1#nginx-w}|" -e "s|@PREFIX@|$NGX|g" -e "s|@PORT@|$2|" \
            "$HERE/nginx.conf.in" > "$NGX/nginx.conf"
        /usr/sbin/nginx -p "$NGX" -c "$NGX/nginx.conf" -e "$NGX/error.log" & PID=$! ;;
    esac
    for _ in $(seq 50); do
        (exec 3<>/dev/tcp/127.0.0.1/"$2") 2>/dev/null && return 0
        sleep 0.1
    done
    echo "$1 did not start" >&2; return 1
}

# CPU time (clock ticks) used so far by the server and its child processes (nginx workers):
# less disturbed by the other work on the machine than req/s is.
cpu_ticks() {
    local t=0 p
    for p in $PID $(pgrep -P "$PID"); do
        t=$((t + $(awk '{print $14 + $15}' /proc/"$p"/stat 2>/dev/null || echo 0)))
    done
    echo "$t"
}

load() {  # load NAME SIZE ROUND CONNS SCRIPT PORT
    local t0 t1
    t0=$(cpu_ticks)
    wrk -t1 -c"$4" -d"${SECS}s" --latency -s "$HERE/$5" "http://127.0.0.1:$6/" > "$OUT/$1-$2-r$3.txt" 2>&1
    t1=$(cpu_ticks)
    echo "server_cpu_ticks $((t1 - t0)) clk_tck $(getconf CLK_TCK)" >> "$OUT/$1-$2-r$3.txt"
}

stop() {
    kill "$PID" 2>/dev/null; wait "$PID" 2>/dev/null; PID=""
    if [ -n "$NGX" ]; then rm -rf "$NGX"; NGX=""; fi
}
trap stop EXIT

head -c 100000 /dev/urandom | base64 -w0 > "$OUT/chunk-133k.bin"
head -c 786432 /dev/urandom | base64 -w0 > "$OUT/chunk-1m.bin"
echo "== functional checks" | tee "$OUT/checks.log"
for c in $CANDIDATES; do
    case $c in nginx-w2) continue ;; esac
    port=$(free_port); start "$c" "$port" || exit 1
    {
        echo "-- $c"
        if [ "${c#nginx}" = "$c" ]; then python3 "$HERE/pipeline.py" "$port"; fi
        for f in chunk-133k.bin chunk-1m.bin; do
            size=$(stat -c %s "$OUT/$f")
            got=$(curl -s -m 5 -H 'Expect:' -H 'Transfer-Encoding: chunked' -H 'Content-Type: application/json' \
                  --data-binary @"$OUT/$f" -w ' status=%{http_code}' "http://127.0.0.1:$port/" | tr -d '\n')
            echo "chunked $size bytes -> $got"
        done
    } 2>&1 | tee -a "$OUT/checks.log"
    stop
done

echo "== load: $ROUNDS rounds x {$CANDIDATES}, ${SECS}s per run"
for r in $(seq "$ROUNDS"); do
    for c in $CANDIDATES; do
        port=$(free_port); start "$c" "$port" || exit 1
        load "$c" 200b "$r" 64 post.lua "$port"
        load "$c" 1m "$r" 16 post1m.lua "$port"
        stop
        printf '%s round %s: %s req/s (200 B), %s req/s (1 MiB)\n' "$c" "$r" \
            "$(awk '/Requests\/sec/{print $2}' "$OUT/$c-200b-r$r.txt")" "$(awk '/Requests\/sec/{print $2}' "$OUT/$c-1m-r$r.txt")"
    done
done
python3 "$HERE/summarize.py" "$OUT" $CANDIDATES | tee "$OUT/summary.md"

#!/usr/bin/env bash
# `make bench`: measures sluice (fsync=always) beside its peers in one run — Redis Streams
# (appendfsync always), NATS JetStream (file storage) and nginx answering the same POST with a
# fixed 200 — with the same 200-byte JSON events from bench/loadgen, and prints one table plus the
# sluice/peer ratios. Every server runs on 127.0.0.1, on a free port, with its own temp data dir,
# and is stopped by its PID at the end, also on failure.
#
# Environment: BENCH_SECONDS (measured seconds per shape, default 10), BENCH_WARMUP (2),
# BENCH_FETCH_EVENTS (events produced then read back, 10000000), BENCH_PARTITIONS (4),
# BENCH_TMP (where the temp dirs go, default /tmp), BENCH_KEEP=1 (keep temp dirs and logs),
# BUILD (build dir holding sluice, default build), BENCH_PROFILE=1 (attach `perf record -g` to
# sluice during the batched and single-event shapes and print the top functions by self time).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
SECS=${BENCH_SECONDS:-10}
WARM=${BENCH_WARMUP:-2}
FETCH_EVENTS=${BENCH_FETCH_EVENTS:-10000000}
PARTS=${BENCH_PARTITIONS:-4}
LG=$BUILD/loadgen
NATS_COUNT=$((50000 * SECS))
NATS_SYNC=20000

[ -x "$BUILD/sluice" ] || { echo "bench: $BUILD/sluice missing; run 'make build' first" >&2; exit 1; }
make -s -C "$ROOT/bench/loadgen" OUT="$LG"

TMP=$(mktemp -d "${BENCH_TMP:-/tmp}/sluice-bench.XXXXXX")
# one binary for the whole run, even if build/ is rebuilt meanwhile (and perf can resolve it)
SLUICE=$TMP/sluice
cp "$BUILD/sluice" "$SLUICE"
REV=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
[ -n "$(git -C "$ROOT" status --porcelain --untracked-files=no 2>/dev/null)" ] && REV="$REV+dirty"
RES=$TMP/results
: >"$RES"
PIDS=()

stop_pid() { # stop_pid PID: TERM, wait up to 10 s, then KILL
    local pid=$1 i
    kill -TERM "$pid" 2>/dev/null || return 0
    for i in $(seq 100); do
        kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

cleanup() {
    local rc=$? p
    for p in "${PIDS[@]}"; do stop_pid "$p"; done
    if [ "${BENCH_KEEP:-0}" = 1 ] || [ $rc -ne 0 ]; then
        echo "bench: logs and data kept in $TMP" >&2
    else
        rm -rf "$TMP"
    fi
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP PIPE

forget() { # forget PID: drop it from the list cleanup stops
    local keep=() p
    for p in "${PIDS[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
    PIDS=("${keep[@]}")
}

kib() { awk -v k="$2" '$1 == k":" {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

# Sum of VmHWM over a process and its children (nginx: master + workers).
tree_hwm() {
    local pid=$1 sum c
    sum=$(kib "$pid" VmHWM)
    for c in $(pgrep -P "$pid"); do sum=$((sum + $(kib "$c" VmHWM))); done
    echo "$sum"
}

PERF_PID=0
profile_start() { # profile_start NAME: perf record -g attached to the running sluice
    [ "${BENCH_PROFILE:-0}" = 1 ] || return 0
    perf record -g -e cpu-clock -F 999 -p "$SL_PID" -o "$TMP/perf-$1.data" >"$TMP/perf-$1.log" 2>&1 &
    PERF_PID=$!
    PIDS+=("$PERF_PID")
    sleep 0.5
}
profile_report() { # profile_report NAME: top 10 functions by self time
    [ "${BENCH_PROFILE:-0}" = 1 ] || return 0
    kill -INT "$PERF_PID" 2>/dev/null || true
    wait "$PERF_PID" || true
    forget "$PERF_PID"
    echo "  profile ($1): perf report --no-children --sort dso,symbol; top 10 by self time"
    perf report -i "$TMP/perf-$1.data" --no-children --sort dso,symbol --stdio -g none 2>/dev/null \
        >"$TMP/perf-$1.txt" || true
    awk '/^ +[0-9.]+%/ && n++ < 10 { sub(/ +$/, ""); print "    " $0 }' "$TMP/perf-$1.txt" |
        tee "$BUILD/bench-profile-$1.txt"
    echo "    by shared object:"
    perf report -i "$TMP/perf-$1.data" --no-children --sort dso --stdio -g none 2>/dev/null |
        awk '/^ +[0-9.]+%/ && n++ < 6 { sub(/ +$/, ""); print "      " $0 }' | tee -a "$BUILD/bench-profile-$1.txt"
}

record() { # record EXTRA...: runs the load generator, appends its RESULT line plus EXTRA
    local line
    line=$("$LG" "${@:2}" | grep '^RESULT') || { echo "bench: loadgen $2 failed" >&2; exit 1; }
    echo "  $line"
    echo "$line $1" >>"$RES"
}

SL_PID=0 SL_PORT=0 SL_DIR=
sluice_start() { # sluice_start NAME: a fresh sluice with a fresh data dir and the topic `bench`
    SL_DIR=$TMP/sluice-$1
    mkdir -p "$SL_DIR"
    "$SLUICE" serve --listen 127.0.0.1:0 --data-dir "$SL_DIR/data" --fsync always \
        >"$SL_DIR/log" 2>&1 &
    SL_PID=$!
    PIDS+=("$SL_PID")
    local i
    for i in $(seq 200); do
        SL_PORT=$(sed -n 's#.*listening on http://127\.0\.0\.1:\([0-9]*\).*#\1#p' "$SL_DIR/log" | head -1)
        [ -n "$SL_PORT" ] && break
        kill -0 "$SL_PID" 2>/dev/null || { cat "$SL_DIR/log" >&2; exit 1; }
        sleep 0.05
    done
    [ -n "$SL_PORT" ] || { echo "bench: sluice did not start" >&2; cat "$SL_DIR/log" >&2; exit 1; }
    "$LG" request POST /v1/topics "{\"name\":\"bench\",\"partitions\":$PARTS,\"key\":\"/key\"}" \
        --port "$SL_PORT" >/dev/null
}

sluice_stop() {
    if ! kill -0 "$SL_PID" 2>/dev/null; then
        echo "bench: sluice ($1) died; log tail:" >&2
        tail -20 "$SL_DIR/log" >&2
        exit 1
    fi
    stop_pid "$SL_PID"
    forget "$SL_PID"
}

stored_events() { # events the running sluice holds in topic bench (sum of latest offsets)
    "$LG" request GET /v1/topics/bench --port "$SL_PORT" |
        grep -o '"latest_offset":[0-9]*' | awk -F: '{s += $2} END {print s + 0}'
}

echo "sluice bench: commit $REV, $(nproc) cpus, ${SECS}s per shape after ${WARM}s warm-up, $PARTS partitions, temp $TMP"

# --- the disk: sequential write into new space with fdatasync --------------------------------
DD=$(dd if=/dev/zero of="$TMP/ddtest" bs=1M count=1024 conv=fdatasync 2>&1 | tail -1)
rm -f "$TMP/ddtest"
DISK_MBS=$(echo "$DD" | awk '{for (i = 2; i <= NF; i++) if ($i ~ /^[kMG]B\/s$/) {
    v = $(i - 1); sub(",", ".", v); print ($i == "GB/s") ? v * 1000 : ($i == "kB/s") ? v / 1000 : v}}')
echo "disk: $DD"
# the floor of one durable acknowledgement on this disk: 4 KiB write + fdatasync
FSYNC_PROBE=$("$LG-fsync-probe" "$TMP" 2000 | grep '^RESULT' || true)
echo "$FSYNC_PROBE" | sed 's/^/  /'

# --- batched: 1,000 events per request, 16 clients ------------------------------------------
echo "== batched"
sluice_start batched
sleep 1
IDLE_RSS=$(kib "$SL_PID" VmRSS)
profile_start batched
record "rss_kib=\$HWM" sluice-batch --port "$SL_PORT" --seconds "$SECS" --warmup "$WARM"
profile_report batched
HWM=$(kib "$SL_PID" VmHWM)
sed -i "\$s/\\\$HWM/$HWM/" "$RES"
STORED=$(stored_events)
DISK_BYTES=$(du -sb "$SL_DIR/data" | cut -f1)
sluice_stop batched

REDIS_PID=0
redis_start() {
    local d=$TMP/redis-$1
    mkdir -p "$d"
    REDIS_PORT=$("$LG" free-port)
    redis-server --appendonly yes --appendfsync always --save "" --port "$REDIS_PORT" \
        --bind 127.0.0.1 --dir "$d" --daemonize no >"$d/log" 2>&1 &
    REDIS_PID=$!
    PIDS+=("$REDIS_PID")
    "$LG" wait-port --port "$REDIS_PORT" --seconds 10 || { cat "$d/log" >&2; exit 1; }
}
redis_stop() { stop_pid "$REDIS_PID"; forget "$REDIS_PID"; }

redis_start batched
record "rss_kib=\$HWM" redis-batch --port "$REDIS_PORT" --seconds "$SECS" --warmup "$WARM" \
    --clients 16 --pipeline 1000
sed -i "\$s/\\\$HWM/$(kib "$REDIS_PID" VmHWM)/" "$RES"
record "rss_kib=\$HWM" redis-xrange --port "$REDIS_PORT"
sed -i "\$s/\\\$HWM/$(kib "$REDIS_PID" VmHWM)/" "$RES"
redis_stop
# the shape redis-benchmark favours (50 connections, pipeline 64), so Redis gets its best case
redis_start batched-c50p64
record "rss_kib=\$HWM variant=c50p64" redis-batch --port "$REDIS_PORT" --seconds "$SECS" \
    --warmup "$WARM" --clients 50 --pipeline 64
sed -i "\$s/\\\$HWM/$(kib "$REDIS_PID" VmHWM)/" "$RES"
redis_stop

NATS_PID=0
nats_start() {
    local d=$TMP/nats-$1
    mkdir -p "$d"
    NATS_PORT=$("$LG" free-port)
    nats-server -js -sd "$d" -a 127.0.0.1 -p "$NATS_PORT" >"$d/log" 2>&1 &
    NATS_PID=$!
    PIDS+=("$NATS_PID")
    "$LG" wait-port --port "$NATS_PORT" --seconds 10 || { cat "$d/log" >&2; exit 1; }
}
nats_start async
record "rss_kib=\$HWM" nats-async --port "$NATS_PORT" --count "$NATS_COUNT"
sed -i "\$s/\\\$HWM/$(kib "$NATS_PID" VmHWM)/" "$RES"
stop_pid "$NATS_PID"
forget "$NATS_PID"

# --- one event per request, 64 clients -------------------------------------------------------
echo "== single"
sluice_start single
profile_start single
record "rss_kib=\$HWM" sluice-single --port "$SL_PORT" --seconds "$SECS" --warmup "$WARM"
profile_report single
sed -i "\$s/\\\$HWM/$(kib "$SL_PID" VmHWM)/" "$RES"
sluice_stop single

NG=$TMP/nginx
mkdir -p "$NG"
NGINX_PORT=$("$LG" free-port)
cat >"$NG/nginx.conf" <<EOF
worker_processes auto;
pid $NG/nginx.pid;
error_log $NG/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $NG/body;
  proxy_temp_path $NG/proxy;
  fastcgi_temp_path $NG/fastcgi;
  uwsgi_temp_path $NG/uwsgi;
  scgi_temp_path $NG/scgi;
  keepalive_requests 1000000000;
  keepalive_timeout 120s;
  server {
    listen 127.0.0.1:$NGINX_PORT;
    location / {
      default_type application/json;
      return 200 '{"offsets":[{"partition":0,"offset":0}]}';
    }
  }
}
EOF
nginx -p "$NG" -c "$NG/nginx.conf" -e "$NG/error.log" -g 'daemon off;' >"$NG/log" 2>&1 &
NGINX_PID=$!
PIDS+=("$NGINX_PID")
"$LG" wait-port --port "$NGINX_PORT" --seconds 10 || { cat "$NG/log" "$NG/error.log" >&2; exit 1; }
record "rss_kib=\$HWM" nginx --port "$NGINX_PORT" --seconds "$SECS" --warmup "$WARM"
sed -i "\$s/\\\$HWM/$(tree_hwm "$NGINX_PID")/" "$RES"
# cross-check of the load generator's HTTP client: wrk with a Lua POST of the same event
cat >"$NG/post.lua" <<'EOF'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-ndjson"
wrk.body = '{"key":"k00000001","id":100000000001,"pad":"' .. string.rep("x", 154) .. '"}\n'
EOF
WRK_RPS=$(wrk -t2 -c64 -d"${SECS}s" -s "$NG/post.lua" "http://127.0.0.1:$NGINX_PORT/v1/topics/bench/events" |
    awk '/^Requests\/sec:/ {printf "%.0f", $2}')
echo "  wrk -t2 -c64 against nginx: $WRK_RPS req/s"
stop_pid "$NGINX_PID"
forget "$NGINX_PID"

redis_start single
record "rss_kib=\$HWM" redis-single --port "$REDIS_PORT" --seconds "$SECS" --warmup "$WARM"
sed -i "\$s/\\\$HWM/$(kib "$REDIS_PID" VmHWM)/" "$RES"
redis_stop

nats_start sync
record "rss_kib=\$HWM" nats-sync --port "$NATS_PORT" --count "$NATS_SYNC"
sed -i "\$s/\\\$HWM/$(kib "$NATS_PID" VmHWM)/" "$RES"
stop_pid "$NATS_PID"
forget "$NATS_PID"

# --- open loop at half of the single-event peak ----------------------------------------------
SINGLE_PEAK=$(awk '/system=sluice shape=single / {for (i = 1; i <= NF; i++) if ($i ~ /^events_per_s=/) {sub(/.*=/, "", $i); print $i}}' "$RES")
HALF=$((SINGLE_PEAK / 2))
echo "== single at half of peak ($HALF events/s, open loop)"
sluice_start rate
record "rss_kib=\$HWM" sluice-rate --port "$SL_PORT" --seconds "$SECS" --warmup "$WARM" --rate "$HALF"
sed -i "\$s/\\\$HWM/$(kib "$SL_PID" VmHWM)/" "$RES"
sluice_stop rate

# --- read back ---------------------------------------------------------------------------------
echo "== read back $FETCH_EVENTS events"
sluice_start fetch
record "rss_kib=\$HWM" sluice-batch --port "$SL_PORT" --count "$FETCH_EVENTS"
sed -i "\$s/\\\$HWM/$(kib "$SL_PID" VmHWM)/; \$s/shape=batched/shape=batched-fill/" "$RES"
sync
profile_start fetch
record "rss_kib=\$HWM" sluice-fetch --port "$SL_PORT" --partitions "$PARTS"
profile_report fetch
sed -i "\$s/\\\$HWM/$(kib "$SL_PID" VmHWM)/" "$RES"
sluice_stop fetch

# --- the table -----------------------------------------------------------------------------------
echo
echo "Results ($(date -u +%Y-%m-%dT%H:%MZ), commit $REV, $(nproc) cpus; disk: $DD)"
awk '
function v(k,   i) { for (i = 1; i <= NF; i++) if (index($i, k "=") == 1) return substr($i, length(k) + 2); return "" }
BEGIN { printf "%-7s %-15s %12s %9s %9s %9s %10s %7s\n", "system", "shape", "events/s", "MB/s", "p50 ms", "p99 ms", "peak RSS", "errors"
        printf "%-7s %-15s %12s %9s %9s %9s %10s %7s\n", "-------", "---------------", "------------", "---------", "---------", "---------", "----------", "-------" }
{ shape = v("shape"); if (v("variant") != "") shape = shape "-" v("variant")
  mb = v("mb_per_s"); p50 = v("p50_ms"); p99 = v("p99_ms")
  if (p50 == "-1.000") { p50 = "-"; p99 = "-" }
  printf "%-7s %-15s %12s %9s %9s %9s %8.1f Mi %7s\n", v("system"), shape, v("events_per_s"), mb, p50, p99, v("rss_kib") / 1024, v("errors") }
' "$RES"
echo "  (fetch MB/s = response bytes; MB/s elsewhere = 200-byte event payloads; nats batched = async publish, no per-message latency)"

get() { # get SYSTEM SHAPE KEY [VARIANT]
    awk -v s="$1" -v sh="$2" -v k="$3" -v var="${4:-}" '
    { sys = ""; shp = ""; vv = ""; val = ""
      for (i = 1; i <= NF; i++) { split($i, kv, "="); if (kv[1] == "system") sys = kv[2]; if (kv[1] == "shape") shp = kv[2];
        if (kv[1] == "variant") vv = kv[2]; if (kv[1] == k) val = kv[2] }
      if (sys == s && shp == sh && vv == var) print val }' "$RES"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

SB=$(get sluice batched events_per_s)
SS=$(get sluice single events_per_s)
R16=$(get redis batched events_per_s)
R50=$(get redis batched events_per_s c50p64)
RBEST=$(awk -v a="$R16" -v b="$R50" 'BEGIN { print (a > b) ? a : b }')
NA=$(get nats batched events_per_s)
NG_RPS=$(get nginx single req_per_s)
SB_MB=$(get sluice batched mb_per_s)
ON_DISK_MBS=$(awk -v e="$SB" -v b="$DISK_BYTES" -v n="$STORED" 'BEGIN { if (n > 0) printf "%.1f", e * b / n / 1e6; else print 0 }')

echo
echo "Ratios (targets from issue 2 in brackets)"
echo "  sluice batched / Redis XADD appendfsync always, same shape (16 x pipeline 1000): $(ratio "$SB" "$R16")  [>= 3]"
echo "  sluice batched / Redis best of 16x1000 and 50x64:                            $(ratio "$SB" "$RBEST")  [>= 3]"
echo "      durability: both durable — sluice fdatasyncs before each ack; Redis fsyncs the AOF once per event-loop pass before replying (its own group commit)"
echo "  sluice batched / NATS JetStream async publish, file storage:                 $(ratio "$SB" "$NA")  [>= 10]"
echo "      durability: sluice acks after fdatasync; NATS 2.9.10 acks after writing to the page cache, not durable"
echo "  sluice single req/s / nginx fixed-200 req/s (same client):                    $(ratio "$SS" "$NG_RPS")  [>= 0.80]  (wrk on nginx: $WRK_RPS req/s)"
echo "      durability: sluice fdatasyncs before every ack; nginx stores nothing"
echo "  sluice batched events/s: $SB  [>= 1,000,000]"
echo "  sluice batched payload MB/s / disk fdatasync MB/s: $SB_MB / $DISK_MBS = $(ratio "$SB_MB" "$DISK_MBS")  (on-disk bytes incl. record framing: $ON_DISK_MBS MB/s = $(ratio "$ON_DISK_MBS" "$DISK_MBS"))"
echo "  sluice single at half load ($HALF/s): p50 $(get sluice single-rate p50_ms) ms, p99 $(get sluice single-rate p99_ms) ms  [p99 <= 5 ms]"
echo "  the disk itself, same run (4 KiB write + fdatasync, the floor of one durable ack): $(echo $FSYNC_PROBE | tr "\n" " ")"
echo "  sluice read-back: $(get sluice fetch events_per_s) events/s, $(get sluice fetch resp_mb_per_s) MB/s of response, $(get sluice fetch event_mb_per_s) MB/s of event payload  [>= 1 GB/s]; Redis XRANGE: $(get redis xrange events_per_s) entries/s"
echo "  sluice idle RSS: $(awk -v k="$IDLE_RSS" 'BEGIN { printf "%.1f", k / 1024 }') MiB [<= 16]; peak under batched load: $(awk -v k="$(get sluice batched rss_kib)" 'BEGIN { printf "%.1f", k / 1024 }') MiB [<= 256]"
echo "RESULTS_FILE $RES"
cp "$RES" "$BUILD/bench-results.txt"

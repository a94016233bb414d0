#!/bin/sh
# Installs, with apt-get, whatever Debian packages sluice needs and are missing.
# Usage: scripts/deps.sh [build|test|bench|all]   (default: build)
set -e
build="build-essential cmake pkg-config libuv1-dev libhttp-parser-dev libyajl-dev libcurl4-openssl-dev libedit-dev lemon re2c libpcre2-dev"
test="$build libcmocka-dev clang-14 libclang-rt-14-dev llvm-14 python3-pytest python3-requests curl sqlite3"
bench="$build redis-server redis-tools nats-server libnats-dev libhiredis-dev wrk nginx-light procps"
decisions="libh2o-dev libh2o-evloop-dev libmicrohttpd-dev libjansson-dev libjson-c-dev libcjson-dev libsimdjson-dev"
case "${1:-build}" in
  build) want="$build" ;;
  test) want="$test" ;;
  bench) want="$bench $decisions" ;;
  all) want="$test $bench $decisions" ;;
  *) echo "usage: $0 [build|test|bench|all]" >&2; exit 2 ;;
esac
missing=""
for p in $want; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "installing:$missing"
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends $missing

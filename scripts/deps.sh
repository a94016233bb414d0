#!/bin/sh
# Installs, with apt-get, whatever Debian packages sluice needs and are missing.
# Usage: scripts/deps.sh [build|test|bench|all]   (default: build)
set -e
build="build-essential cmake pkg-config libuv1-dev libhttp-parser-dev libyajl-dev libcurl4-openssl-dev libedit-dev lemon re2c libpcre2-dev libraft-dev"
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
# libraft-dev must be cowsql/raft 0.22.1 from bookworm-backports: Debian 12's own 0.15.0 has a
# commit-safety bug (canonical/raft issue 220). The backports suite is added as a deb822 source.
BPO=/etc/apt/sources.list.d/bookworm-backports.sources
raft_ok() {
  v=$(dpkg-query -W -f='${Status} ${Version}' libraft-dev 2>/dev/null) || return 1
  case "$v" in *"ok installed 0.22."*|*"ok installed 0.23."*|*"ok installed 0.24."*) return 0 ;; esac
  return 1
}
missing=""
for p in $want; do
  if [ "$p" = libraft-dev ]; then raft_ok || missing="$missing $p"; continue; fi
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "installing:$missing"
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
case " $missing " in *" libraft-dev "*)
  if [ ! -f "$BPO" ]; then
    printf 'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' | $SUDO tee "$BPO" >/dev/null
  fi ;;
esac
$SUDO apt-get update -qq
rest=$(echo "$missing" | tr ' ' '\n' | grep -vx 'libraft-dev' | tr '\n' ' ')
[ -n "$(echo $rest)" ] && $SUDO apt-get install -y -qq --no-install-recommends $rest
case " $missing " in *" libraft-dev "*)
  $SUDO apt-get install -y -qq --no-install-recommends -t bookworm-backports libraft-dev libraft0 ;;
esac

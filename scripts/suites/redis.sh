#!/usr/bin/env bash
# Redis suite (feature `redis`): installs redis-server from Debian's packages when it is
# missing, then runs the tests against real servers (each test starts its own on a free
# loopback port and kills it) and the fleet example (three processes sharing a breaker).
# Then the bindings: one redis-server on a free loopback port (stopped on exit), its URL
# in BW_REDIS_URL, and the shared-policy tests of C (ffi-tests/c/test_redis.c, also under
# valgrind), Python (ffi-tests/python/test_shared.py) and Go (ffi-tests/go, -run Shared),
# against the library built with the redis feature, as shipped.
#
# `redis.sh --install-only` only makes sure redis-server is there (test-all.sh calls it
# before `cargo test --all-features`, which runs these tests too).
# Under CI=true a failed install fails the suite; elsewhere the suite is skipped.
set -euo pipefail
cd "$(dirname "$0")/../.."

source scripts/need.sh

install_redis() {
  command -v redis-server >/dev/null 2>&1 && return 0
  echo "-- installing redis-server (apt-get)"
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = "0" ]; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server) \
      >/dev/null 2>&1 || true
  fi
  need redis-server "the Redis suite"
}

if [ "${1:-}" = "--install-only" ]; then
  install_redis || true
  exit 0
fi

echo "== Redis: shared breaker and rate limiter against a real redis-server"
install_redis || exit 0
cargo test --features redis --test 'redis_*'
echo "-- the fleet example (three processes share the authors breaker)"
cargo run --quiet --features redis --example fleet

echo "-- the bindings' shared policies against one redis-server"
dir=$(mktemp -d "${TMPDIR:-/tmp}/bw-redis-suite.XXXXXX")
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$dir"
}
trap cleanup EXIT
for _ in 1 2 3 4 5 6 7 8 9 10; do
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --dir "$dir" \
    --logfile "$dir/redis.log" &
  server_pid=$!
  for _ in $(seq 100); do
    redis-cli -p "$port" ping >/dev/null 2>&1 && break
    sleep 0.05
  done
  redis-cli -p "$port" ping >/dev/null 2>&1 && break
  kill "$server_pid" 2>/dev/null || true
  server_pid=""
done
[ -n "$server_pid" ] || { echo "error: could not start redis-server" >&2; exit 1; }
export BW_REDIS_URL="redis://127.0.0.1:$port/"
echo "   redis-server on $BW_REDIS_URL"

# The shipped library: the Makefile's build (with FEATURES=redis) installed into
# target/prefix, and the same target/release/libbreakwater.so Python loads.
source scripts/dev-prefix.sh

if command -v cc >/dev/null 2>&1; then
  echo "-- C: ffi-tests/c/test_redis.c"
  out="$PWD/target/ffi-tests/c"
  mkdir -p "$out"
  cc -std=c11 -Wall -Wextra -Werror -pedantic -g -O1 -Iinclude -Iffi-tests/c \
    ffi-tests/c/test_redis.c -o "$out/test_redis.shared" \
    -L"$PWD/target/release" -lbreakwater -Wl,-rpath,"$PWD/target/release" -lpthread
  "$out/test_redis.shared"
  if command -v valgrind >/dev/null 2>&1; then
    echo "-- C: test_redis under valgrind memcheck"
    valgrind --quiet --tool=memcheck --leak-check=full \
      --errors-for-leak-kinds=definite,possible --error-exitcode=1 \
      --suppressions=ffi-tests/c/test_redis.supp "$out/test_redis.shared"
  fi
else
  need cc "the C shared-policy tests" || true
fi

if command -v python3 >/dev/null 2>&1 && python3 -c "import pytest" >/dev/null 2>&1; then
  echo "-- Python: ffi-tests/python/test_shared.py"
  env -u BREAKWATER_LIB PYTHONPATH="$PWD/bindings/python" PYTHONDONTWRITEBYTECODE=1 \
    python3 -m pytest -p no:cacheprovider -q --rootdir="$PWD" --doctest-modules \
    ffi-tests/python/test_shared.py bindings/python/breakwater/shared.py
else
  need pytest "the Python shared-policy tests" || true
fi

if command -v go >/dev/null 2>&1; then
  echo "-- Go: ffi-tests/go -run Shared"
  (cd ffi-tests/go && CGO_ENABLED=1 GOPROXY=off go test -count=1 -run 'Shared' ./...)
  (cd ffi-tests/go && CGO_ENABLED=1 GOPROXY=off go test -count=1 -race -run 'Shared' ./...)
else
  need go "the Go shared-policy tests" || true
fi
echo "Redis suite passed"

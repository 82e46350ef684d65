#!/usr/bin/env bash
# Redis suite (feature `redis`): installs redis-server from Debian's packages when it is
# missing, then runs the tests against real servers (each test starts its own on a free
# loopback port and kills it) and the fleet example (three processes sharing a breaker).
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
echo "Redis suite passed"

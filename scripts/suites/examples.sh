#!/usr/bin/env bash
# Examples suite: builds the library (release profile), then runs the outage examples in
# C (examples/c), Python (examples/python) and Go (examples/go), and checks that each
# one printed the whole outage: the breaker opened, and closed again after the trial.
# The Go metrics example (examples/go/metrics) and the Python /metrics + /health server
# (--once, self-checking) run a scripted outage too: /health, /metrics and the
# transitions in their logs.
# Then the Rust /metrics + /health server (examples/metrics_server.rs) asks itself once
# for each and must log the transition and answer both.
#
# Under CI=true a missing toolchain fails the suite instead of skipping that example.
set -euo pipefail
cd "$(dirname "$0")/../.."

have() {
  if ! command -v "$1" >/dev/null 2>&1; then
    if [ "${CI:-}" = "true" ]; then
      echo "error: $1 is required (CI=true) but not installed" >&2
      exit 1
    fi
    echo "warning: $1 not installed, skipping: $2" >&2
    return 1
  fi
}

expect_outage() {
  local label=$1 output=$2
  echo "$output"
  for line in "closed -> open" "half-open -> open" "half-open -> closed" "price: 42"; do
    if ! grep -q -- "$line" <<<"$output"; then
      echo "error: the $label example did not print \"$line\"" >&2
      exit 1
    fi
  done
}

echo "== Examples: examples/c, examples/python, examples/go"
cargo build --release --lib --features redis  # the library as shipped (Makefile, wheel)
out="$PWD/target/examples"
mkdir -p "$out"

if have cc "the C example"; then
  echo "-- examples/c"
  cc -std=c11 -Wall -Wextra -Werror -Iinclude examples/c/outage.c -o "$out/outage" \
    -Ltarget/release -lbreakwater -Wl,-rpath,"$PWD/target/release"
  expect_outage C "$("$out/outage")"
fi

if have python3 "the Python example"; then
  echo "-- examples/python"
  expect_outage Python "$(env -u BREAKWATER_LIB PYTHONPATH="$PWD/bindings/python" \
    PYTHONDONTWRITEBYTECODE=1 python3 examples/python/outage.py)"
  echo "-- examples/python/metrics_server.py --once"
  # It checks its own /health and /metrics answers (non-zero exit otherwise); here: the
  # transitions reached its log through logging.basicConfig.
  output=$(env -u BREAKWATER_LIB PYTHONPATH="$PWD/bindings/python" PYTHONDONTWRITEBYTECODE=1 \
    python3 examples/python/metrics_server.py --once)
  echo "$output"
  for line in "WARNING breakwater.breaker: breaker authors: closed -> open" \
    "INFO breakwater.breaker: breaker authors: half-open -> closed" \
    "GET /health -> 503 DOWN" "breakwater_breaker_state{"; do
    if ! grep -qF -- "$line" <<<"$output"; then
      echo "error: the Python metrics server example did not print \"$line\"" >&2
      exit 1
    fi
  done
fi

if have go "the Go example"; then
  echo "-- examples/go"
  source scripts/dev-prefix.sh
  unformatted=$(cd examples/go && gofmt -l .)
  if [ -n "$unformatted" ]; then
    echo "error: gofmt needed on: $unformatted" >&2
    exit 1
  fi
  (cd examples/go && CGO_ENABLED=1 GOPROXY=off go vet ./...)
  expect_outage Go "$(cd examples/go && CGO_ENABLED=1 GOPROXY=off go run .)"

  # /metrics (client_golang) and /health with slog: its own module, whose modules come
  # from the Go module proxy on first use (pinned by its go.sum).
  echo "-- examples/go/metrics"
  unformatted=$(cd examples/go/metrics && gofmt -l .)
  if [ -n "$unformatted" ]; then
    echo "error: gofmt needed on: $unformatted" >&2
    exit 1
  fi
  proxy=${GOPROXY:-$(go env GOPROXY)}
  (cd examples/go/metrics && CGO_ENABLED=1 GOPROXY=$proxy go vet ./...)
  output=$(cd examples/go/metrics && CGO_ENABLED=1 GOPROXY=$proxy go run . -once 2>&1)
  echo "$output"
  for line in "closed -> open (3 consecutive failures)" "GET /health -> 503" '"status":"DOWN"' \
    'breakwater_breaker_state{breaker="authors"' 'breakwater_rate_limiter_permitted_total' \
    "half-open -> closed" "GET /health -> 200" '"status":"UP"'; do
    if ! grep -qF -- "$line" <<<"$output"; then
      echo "error: the Go metrics example did not print \"$line\"" >&2
      exit 1
    fi
  done
fi
echo "-- examples/metrics_server.rs"
output=$(cargo run --quiet --example metrics_server -- --once)
echo "$output"
for line in "breaker authors: closed -> open (3 consecutive failures)" \
  "Content-Type: application/openmetrics-text; version=1.0.0; charset=utf-8" \
  'breakwater_breaker_state{breaker="authors",service="",instance=""} 1' "# EOF" \
  "HTTP/1.0 503" '{"status":"DOWN","components":{"authors":{"status":"DOWN","details":{"state":"open"}}}}'; do
  if ! grep -qF -- "$line" <<<"$output"; then
    echo "error: the metrics_server example did not print \"$line\"" >&2
    exit 1
  fi
done
echo "Examples suite passed"
